#!/bin/bash
# run-all.sh - every test: unit tests (also under ASan+UBSan when
# build-asan/ exists), then the integration tests, which start real peers
# on loopback and need root.  Ends with "N passed, N failed[, N skipped]";
# exits non-zero on any failure.
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
done

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: integration tests need root (they start Postfix, squid, dante ...)"
	skip=$((skip + 1))
else
	for t in tests/integration/*.sh; do
		run "integration/$(basename "$t" .sh)" bash "$t"
	done
	# the same against the ASan+UBSan builds of proxymilter and proxyprobe
	# (leak checking stays with the unit tests: the daemon keeps its table
	# until exit on purpose)
	if [ -x build-asan/milter/proxymilter ] && [ -x build-asan/probes/proxyprobe ]; then
		for t in tests/integration/*.sh; do
			PM_BIN=$TOP/build-asan/milter/proxymilter PP=$TOP/build-asan/probes/proxyprobe \
			R=$TOP/build-asan/milter/proxymilter-report \
			ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
				run "asan-integration/$(basename "$t" .sh)" bash "$t"
		done
	fi
fi
grep -h '^INFO: ' "$LOGDIR"/*.log 2>/dev/null
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
