#!/bin/bash
# run.sh [OUTDIR] - build the fuzz harnesses (build.sh) and run each one for
# a short, fixed number of inputs, starting from its corpus
# tests/fuzz/corpus/NAME (read only: new inputs go to OUTDIR/run/NAME).
# Prints "PASS: fuzz/NAME" or "FAIL: fuzz/NAME" per harness (what
# tests/run-all.sh counts); exits non-zero on any failure.  A harness's
# output is in OUTDIR/logs/NAME.log, a crashing input in OUTDIR/artifacts/.
# Without clang and libFuzzer: "FAIL: fuzz: clang with libFuzzer not
# installed" (not a silent skip).
# FUZZ_RUNS_SCALE=N multiplies the runs; FUZZ_MAX_TIME caps each harness
# (seconds, default 10).
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$TOP/build-fuzz}
FZ=$TOP/tests/fuzz

# runs per harness: together well under a minute on 2 cores
declare -A RUNS=(
	[fuzz_proto]=60000 [fuzz_tunnel]=100000 [fuzz_canary]=30000
	[fuzz_portspec]=20000 [fuzz_cidr]=30000 [fuzz_log]=100000
	[fuzz_config]=6000 [fuzz_report]=30000 [fuzz_hostline]=50000
	[fuzz_dns]=10000 [fuzz_smtp]=150000
	[fuzz_state]=20000
	[fuzz_ctl]=30000
)
scale=${FUZZ_RUNS_SCALE:-1}
maxtime=${FUZZ_MAX_TIME:-10}

mkdir -p "$OUT"
blog=$(mktemp)
"$FZ/build.sh" "$OUT" >"$blog" 2>&1
rc=$?
if [ $rc -eq 3 ]; then
	echo "FAIL: fuzz: clang with libFuzzer not installed"
	sed 's/^/  /' "$blog"
	rm -f "$blog"
	exit 1
elif [ $rc -ne 0 ]; then
	echo "FAIL: fuzz: build (tests/fuzz/build.sh) failed"
	sed 's/^/  /' "$blog" | tail -40
	rm -f "$blog"
	exit 1
fi
rm -f "$blog"

# stack traces with function names: llvm-symbolizer (package llvm-14)
if ! command -v llvm-symbolizer >/dev/null 2>&1; then
	for s in /usr/lib/llvm-*/bin/llvm-symbolizer; do
		[ -x "$s" ] && export ASAN_SYMBOLIZER_PATH=$s
	done
fi
export LSAN_OPTIONS="suppressions=$FZ/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p "$OUT/logs" "$OUT/artifacts"
fail=0
for src in "$FZ"/fuzz_*.c; do
	name=$(basename "$src" .c)
	short=${name#fuzz_}
	runs=$(( ${RUNS[$name]:-20000} * scale ))
	scratch=$OUT/run/$short
	rm -rf "$scratch"
	mkdir -p "$scratch"
	t0=$(date +%s)
	"$OUT/$name" -runs="$runs" -max_total_time="$maxtime" -timeout=10 -rss_limit_mb=2048 \
		-seed=1 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$short-" \
		"$scratch" "$FZ/corpus/$short" >"$OUT/logs/$short.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/logs/$short.log")
	if [ $rc -eq 0 ]; then
		echo "PASS: fuzz/$short (${execs:-?} inputs, $(( $(date +%s) - t0 ))s)"
	else
		echo "FAIL: fuzz/$short exited $rc; log $OUT/logs/$short.log"
		grep -E 'ERROR|SUMMARY|check failed|runtime error|Test unit written' "$OUT/logs/$short.log" |
			head -8 | sed 's/^/  /'
		fail=1
	fi
done
exit $fail
