#!/bin/bash
# run-all.sh - every test: unit tests (also under ASan+UBSan and under
# ThreadSanitizer when build-asan/ and build-tsan/ exist), the fuzzers for a
# short fixed number of runs, then the integration tests, which start real
# peers on loopback and need root, against the plain build and again
# against the sanitizer builds: any sanitizer report fails.  Ends with
# "N passed, N failed[, N skipped]"; exits non-zero on any failure.
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
pass=0 fail=0 skip=0
LOGDIR=${LOGDIR:-$TOP/tests/logs}
mkdir -p "$LOGDIR"

count() { # count NAME LOGFILE RC
	local p f
	p=$(grep -c '^PASS: ' "$2")
	f=$(grep -c '^FAIL: ' "$2")
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $1 exited $3 without reporting a failure"
		f=1
	fi
	if [ $((p + f)) -eq 0 ]; then
		echo "FAIL: $1 ran no check"
		f=1
	fi
	grep '^FAIL: ' "$2"
	echo "== $1: $p passed, $f failed ($(($(date +%s) - t0))s)"
	pass=$((pass + p))
	fail=$((fail + f))
}

run() { # run NAME CMD...
	local name=$1 log=$LOGDIR/$(echo "$1" | tr '/ ' '__').log; shift
	t0=$(date +%s)
	"$@" >"$log" 2>&1
	count "$name" "$log" $?
}

BUILD=${BUILD:-build}
for t in tests/unit/test_*.c; do
	b=${t%.c}
	if [ ! -x "$BUILD/$b" ]; then
		echo "FAIL: $BUILD/$b is not built (make -C $BUILD check TESTS=)"
		fail=$((fail + 1))
		continue
	fi
	run "unit/$(basename "$b")" "$BUILD/$b"
	if [ -x "build-asan/$b" ]; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
			run "asan/$(basename "$b")" "build-asan/$b"
	fi
	if [ -x "build-tsan/$b" ]; then	# a report makes the test exit 66
		TSAN_OPTIONS=halt_on_error=0:exitcode=66:second_deadlock_stack=1 \
			run "tsan/$(basename "$b")" "build-tsan/$b"
	fi
done

if [ -x tests/fuzz/run.sh ]; then
	run fuzz tests/fuzz/run.sh "$TOP/build-fuzz"
fi

# san_integration KIND BUILDDIR: every integration test against that build
# (SAN_RUN=KIND: a test may leave out what only waits out a timer there);
# the daemons' sanitizer reports go to files (log_path), and any such file
# is a failure even when the test itself passed
san_integration() {
	local kind=$1 b=$TOP/$2 t name rep
	[ -x "$b/milter/proxymilter" ] && [ -x "$b/tools/proxyprobe" ] || return 0
	for t in tests/integration/*.sh; do
		name=$(basename "$t" .sh)
		rep=$LOGDIR/$kind-reports/$name
		rm -rf "$rep"
		mkdir -p "$rep"
		SAN_RUN=$kind PM_BIN=$b/milter/proxymilter PP=$b/tools/proxyprobe R=$b/tools/proxymilter-report \
		ASAN_OPTIONS=detect_leaks=0:log_path=$rep/asan UBSAN_OPTIONS=print_stacktrace=1:log_path=$rep/ubsan \
		TSAN_OPTIONS=halt_on_error=0:exitcode=66:log_path=$rep/tsan \
			run "$kind-integration/$name" bash "$t"
		# libmilter's own shutdown races are listed, ours fail
		if ls "$rep"/* >/dev/null 2>&1 &&
		    ! python3 tests/lib/san-reports.py "$rep"/* >"$rep.txt" 2>&1; then
			echo "FAIL: $kind-integration/$name: sanitizer reports in our code ($rep):"
			grep '^OURS' "$rep.txt" | head -5 | sed 's/^/    /'
			fail=$((fail + 1))
		elif [ -s "$rep.txt" ]; then
			echo "INFO: $kind-integration/$name: $(grep -c '^INFO' "$rep.txt") libmilter-internal reports ($rep.txt)"
		fi
	done
}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: integration tests need root (they start Postfix, squid, dante ...)"
	skip=$((skip + 1))
else
	for t in tests/integration/*.sh; do
		run "integration/$(basename "$t" .sh)" bash "$t"
	done
	# the same against the ASan+UBSan and TSan builds of proxymilter and
	# proxyprobe (leak checking stays with the unit tests: the daemon keeps
	# its table until exit on purpose)
	san_integration asan build-asan
	san_integration tsan build-tsan
fi
grep -h '^INFO: ' "$LOGDIR"/*.log 2>/dev/null
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
