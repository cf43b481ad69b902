#!/bin/bash
# bench/report.sh [MEGABYTES] - proxymilter-report on a large mail log (a
# benchmark, not a test: it prints figures and writes them to
# bench/RESULTS-report.md; the machines are shared and noisy, so the
# report's figures are given beside anchors run on the same file in the
# same run: wc -l and grep -c proxymilter).
#
# bench/report-gen.c (compiled here with cc -O2) writes MEGABYTES (default
# 1024) of real-looking syslog into a temporary directory under /tmp:
# proxymilter's sessions as the milter logs them (clean clients, open
# proxies, listed and suspect ones, cache hits, skips, provisional
# verdicts; ~16 million client addresses, 5000 open proxies), Postfix's
# lines around them and other programs' lines, over a month.  The file
# is read once to warm the page cache, then each program runs under
# /usr/bin/time -v: wall and CPU time, max RSS, lines/s.  The report's
# totals are checked against the generator's own counts.  The file is
# deleted at the end.  BUILD=dir picks the build (default build/).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
R=$BUILD/tools/proxymilter-report
MB=${1:-1024}
OUT=${RESULTS:-$TOP/bench/RESULTS-report.md}
[ -x "$R" ] || { echo "no $R (make tools/proxymilter-report)"; exit 1; }
D=$(mktemp -d /tmp/pmr-bench.XXXXXX)
trap 'rm -rf "$D"' EXIT

cc -O2 -o "$D/gen" "$TOP/bench/report-gen.c" || exit 1
t0=$(date +%s.%N)
"$D/gen" "$MB" >"$D/mail.log" 2>"$D/expected" || exit 1
t1=$(date +%s.%N)
size=$(stat -c %s "$D/mail.log")
echo "generated $size bytes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
cat "$D/mail.log" >/dev/null			# the page cache

# measure NAME CMD...: "wall user sys maxrss_kb" of one run into $D/NAME.t
measure() {
	local name=$1; shift
	/usr/bin/time -v -o "$D/$name.time" "$@" >"$D/$name.out" 2>"$D/$name.err"
	local rc=$?
	awk -F': ' '
		/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
		/User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { m = $2 }
		END { printf "%.2f %.2f %.2f %d\n", w, u, s, m }' "$D/$name.time" >"$D/$name.t"
	echo "$name: $(cat "$D/$name.t") (wall user sys maxrss_kb), rc=$rc"
	return $rc
}
measure wc wc -l "$D/mail.log"
measure grep grep -c proxymilter "$D/mail.log"
measure text "$R" "$D/mail.log"
measure json "$R" --format json "$D/mail.log"
measure wc2 wc -l "$D/mail.log"			# the anchors again: drift
measure grep2 grep -c proxymilter "$D/mail.log"

lines=$(awk '{print $1}' "$D/wc.out")
ours=$(cat "$D/grep.out")
check=$(python3 - "$D/json.out" "$D/expected" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
exp = dict(kv.split("=") for kv in open(sys.argv[2]).read().split())
bad = [k for k in exp if k != "bytes" and str(j["totals"][k]) != exp[k]]
print("totals equal the generator's counts" if not bad else "MISMATCH: " + ", ".join(
    "%s report %s generator %s" % (k, j["totals"][k], exp[k]) for k in bad))
print("%d lines, %d ours, %d bad, %d offenders, %d days, %d tests" % (j["input"]["lines"], j["input"]["ours"],
    j["input"]["bad"], len(j["offenders"]), len(j["days"]), len(j["tests"])))
PY
)
echo "$check"
row() { # row NAME LABEL: wall, CPU, RSS, lines/s, and the wall time over the anchors'
	awk -v label="$2" -v lines="$lines" -v wc="$(cat "$D/wc.t")" -v gr="$(cat "$D/grep.t")" '
		function ratio(a, b) { return b > 0 ? sprintf("%.1fx", a / b) : "-" }
		{ split(wc, w, " "); split(gr, g, " ")
		  printf "| %s | %.2f s | %.2f s | %.1f MB | %s | %s | %s |\n", label, $1, $2 + $3, $4 / 1024,
		      ($1 > 0 ? sprintf("%.2f M", lines / $1 / 1e6) : "-"), ratio($1, w[1]), ratio($1, g[1]) }' "$D/$1.t"
}
{
	echo "# proxymilter-report on a large log: figures ($(date +%Y-%m-%d))"
	echo
	echo "Machine: $(nproc) vCPUs, shared; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "\`bench/report.sh $MB\`: one file of $size bytes, $lines lines, $ours with"
	echo "\"proxymilter\" in them (RFC 3164, a month; bench/report-gen.c), in the page"
	echo "cache; one run each, anchors before and after."
	echo
	echo "| program | wall | CPU (user+sys) | max RSS | lines/s | vs wc -l | vs grep -c |"
	echo "|---|---|---|---|---|---|---|"
	row wc "wc -l"
	row grep "grep -c proxymilter"
	row text "proxymilter-report (text)"
	row json "proxymilter-report --format json"
	row wc2 "wc -l (again)"
	row grep2 "grep -c proxymilter (again)"
	echo
	echo "Check: $(echo "$check" | head -1); $(echo "$check" | tail -1)."
	echo
	echo "Memory does not grow with the file: the report streams it (a 256 KB"
	echo "block, lines cut at 8 KB) and keeps only the per-client table of"
	echo "offenders, the tests, days and countries."
} >"$OUT"
echo "wrote $OUT"
cat "$OUT"
