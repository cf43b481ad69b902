#!/bin/bash
# bench/vs-proxycheck.sh - proxyprobe's engine against proxycheck (Debian
# package proxycheck, installed with apt-get when missing) and against the
# connect limit of one process, in one interleaved run (a benchmark, not a
# test: it prints figures and fails only when it cannot run).  Loopback only.
#
# Mode "list": N hosts (default 1000) where nothing listens, 127.1.x.y, and
# the tests of pxytest's tag "basic" (read from `proxyprobe -h`):
#   proxycheck       proxycheck -d 127.0.0.1:9 -c chat::pxm -p hc:... -i HOSTS
#                    (its defaults: as many connects at once as the
#                    descriptor limit allows; it sizes itself from it)
#   proxycheck-m1024 the same with -m 1024 (proxyprobe -i's default budget)
#   proxyprobe       proxyprobe -a -v 0 -i HOSTS basic (one engine; -a: every
#                    test of every host, a line for each host)
#   proxyprobe-tT    the same with -t T (PP_T, default 64; "" = none)
#   connlimit-nK     bench/connlimit.c, built here with cc: a non-blocking
#                    connect to every host:port of the same tests, epoll, at
#                    most K at once (64 and 1024), nothing else: the ceiling
# proxycheck has no cisco/telnet-gateway probe and no HTTPS CONNECT: port 23
# (telnet/cisco/wingate, one adaptive probe here) maps to its wg, an
# https-connect test to nothing (said so when "basic" has one).
# Mode "ports": one closed host (127.0.0.9), every port, every protocol:
# proxyprobe -a 127.0.0.9 1-65535/all against proxycheck with every port
# for each of its protocols (hc ho s4 s5 wg) and connlimit -r 6.  Ports
# where something listens on a wildcard or on the hosts' addresses are left
# out of every program's list (nothing here talks to a real service).
#
# Each round runs every program once, the order rotated from round to round;
# per round the wall times, then the medians, max RSS (/usr/bin/time -f %M)
# and the ratios: speed against proxycheck (t_proxycheck / t) and share of
# the connect limit (t_limit / t, the limit being the fastest connlimit).
# Wall time is measured around /usr/bin/time (about 1 ms of fork and exec,
# the same for every program).
#
# Environment: BUILD (default build/; uses BUILD/tools/proxyprobe, build it
# first), R=5 rounds of "list", N=1000 hosts, PORTS_R=3 rounds of "ports"
# (proxycheck takes some 40 s there), MODES="list ports", PP_T=64.
# The descriptor limit is raised to the hard limit.  Run it alone: the
# machine's other load shows in the figures (the load average is printed).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
PP=$BUILD/tools/proxyprobe
R=${R:-5}
N=${N:-1000}
PORTS_R=${PORTS_R:-3}
MODES=${MODES:-list ports}
PP_T=${PP_T-64}
CANARY=127.0.0.1:9	# proxycheck's -d: no proxy answers, so never reached

die() { echo "vs-proxycheck.sh: $*" >&2; exit 1; }
[ -x "$PP" ] || die "no $PP (build it: make -C $BUILD tools/proxyprobe)"
"$PP" -h 2>/dev/null | grep -q -- '-i file' || die "$PP has no -i"
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null 2>&1 || die "needs /usr/bin/time"
if ! command -v proxycheck >/dev/null 2>&1; then
	apt-get install -y -qq proxycheck >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq proxycheck >/dev/null 2>&1; } ||
		die "cannot install proxycheck"
fi
[ "$N" -ge 1 ] && [ "$N" -le 64000 ] || die "N must be 1 to 64000"
W=$(mktemp -d /tmp/vs-proxycheck.XXXXXX)
trap 'rm -rf "$W"' EXIT
cc -O2 -Wall -Wextra -o "$W/connlimit" "$TOP/bench/connlimit.c" || die "cc bench/connlimit.c failed"
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] ||
	echo "warning: descriptor limit $(ulimit -n): the programs run with fewer connects at once" >&2

# ports where something listens on a wildcard, 127.1.0.0/16 or 127.0.0.9
busy=$(ss -Hltn 2>/dev/null | awk '{print $4}' |
	sed -n 's/^\(0\.0\.0\.0\|\[::\]\|\*\|127\.1\.[0-9]*\.[0-9]*\|127\.0\.0\.9\):\([0-9]*\)$/\2/p' | sort -nu)
is_busy() { grep -qx -- "$1" <<<"$busy"; }

# ---- the tests of "basic", from proxyprobe -h ------------------------------
declare -A PC_OF=([http-connect]=hc [http]=hc [http-post]=ho [socks4]=s4 [socks5]=s5
	[telnet]=wg [cisco]=wg [wingate]=wg [https-connect]=)
tests=()	# "port/proto", one per test of the engine (aliases merged)
left_out=0
for spec in $("$PP" -h | sed -n 's/^  basic  *//p'); do
	port=${spec%%/*}
	proto=http-connect
	[ "$spec" != "$port" ] && proto=${spec#*/}
	case $proto in http) proto=http-connect ;; cisco|wingate) proto=telnet ;; esac
	t="$port/$proto"
	printf '%s\n' "${tests[@]}" | grep -qx -- "$t" && continue
	if is_busy "$port"; then
		echo "note: port $port is in use here: $t left out" >&2
		left_out=1
		continue
	fi
	tests+=("$t")
done
[ ${#tests[@]} -gt 0 ] || die "no tests from \"basic\" (proxyprobe -h)"
declare -A pc_ports=()
cl_ports=()
pp_specs=()
for t in "${tests[@]}"; do
	port=${t%%/*} proto=${t#*/}
	cl_ports+=("$port")
	pp_specs+=("$t")
	pc=${PC_OF[$proto]-}
	if [ -z "$pc" ]; then
		echo "note: proxycheck has no $proto: $t is not in its list" >&2
		continue
	fi
	pc_ports[$pc]="${pc_ports[$pc]:+${pc_ports[$pc]},}$port"
done
pc_args=()
pc_n=0	# proxycheck's connects a host
for pc in hc ho s4 s5 wg; do
	[ -n "${pc_ports[$pc]-}" ] || continue
	pc_args+=(-p "$pc:${pc_ports[$pc]}")
	pc_n=$(( pc_n + $(tr ',' '\n' <<<"${pc_ports[$pc]}" | wc -l) ))
done
[ "$left_out" = 0 ] && pp_basic=(basic) || pp_basic=("${pp_specs[@]}")

median() { sort -n | awk '{a[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# run_one KEY CMD...: one run; microseconds, max RSS (KB) and exit code
# appended to $W/KEY.t, output in $W/KEY.out and .err
run_one() {
	local key=$1 t0 t1 rc; shift
	t0=$(date +%s%N)
	/usr/bin/time -f %M -o "$W/rss" "$@" >"$W/$key.out" 2>"$W/$key.err"
	rc=$?
	t1=$(date +%s%N)
	echo "$(( (t1 - t0) / 1000 )) $(tail -1 "$W/rss") $rc" >>"$W/$key.t"
	LAST_US=$(( (t1 - t0) / 1000 ))
	LAST_RC=$rc
}

# check KEY: what a run of KEY printed is what it should (else a warning)
check() {
	local key=$1 want=$2 got
	case $key in
	proxycheck*)
		[ "$LAST_RC" -eq 0 ] || echo "warning: $key exited $LAST_RC: $(grep -v 'as root' "$W/$key.err" | head -2)" >&2 ;;
	proxyprobe*)
		got=$(grep -c ' clean$' "$W/$key.out")
		[ "$LAST_RC" -eq 0 ] && [ "$got" -eq "$want" ] ||
			echo "warning: $key exited $LAST_RC with $got clean lines (want $want): $(head -2 "$W/$key.err")" >&2 ;;
	pp1*)
		[ "$LAST_RC" -eq 0 ] || echo "warning: $key exited $LAST_RC: $(tail -2 "$W/$key.out" "$W/$key.err")" >&2 ;;
	connlimit*)
		got=$(sed -n 's/.*connects=\([0-9]*\) refused=\([0-9]*\).*/\1 \2/p' "$W/$key.out")
		[ "$LAST_RC" -eq 0 ] && [ "${got% *}" = "${got#* }" ] ||
			echo "warning: $key: $(cat "$W/$key.out" "$W/$key.err")" >&2 ;;
	esac
}

# rounds MODE ROUNDS WANT KEY...: interleaved rounds of the commands in
# CMD[KEY], the order rotated each round; then the summary
rounds() {
	local mode=$1 nr=$2 want=$3 r i k n line; shift 3
	local keys=("$@")
	n=${#keys[@]}
	for k in "${keys[@]}"; do rm -f "$W/$k.t"; done
	for ((r = 1; r <= nr; r++)); do
		line=$(printf 'round %d' "$r")
		for ((i = 0; i < n; i++)); do
			k=${keys[$(( (i + r - 1) % n ))]}
			eval "run_one $k ${CMD[$k]}"
			check "$k" "$want"
			line+=$(printf '  %s %.3f' "$k" "$(echo "$LAST_US / 1000000" | bc -l)")
		done
		echo "$line"
	done
	summary "$mode" "${keys[@]}"
}

summary() {
	local mode=$1 k med rss limit=0 pc=0; shift
	declare -A MED=()
	echo "-- $mode: medians of $(wc -l <"$W/$1.t") rounds"
	for k in "$@"; do
		med=$(awk '{print $1}' "$W/$k.t" | median)
		rss=$(awk '{print $2}' "$W/$k.t" | median)
		MED[$k]=$med
		printf '  %-18s %8.3f s  max RSS %7d KB\n' "$k" "$(echo "$med / 1000000" | bc -l)" "${rss%.*}"
		case $k in
		connlimit*) [ "$limit" = 0 ] || [ "$(echo "$med < $limit" | bc)" = 1 ] && limit=$med ;;
		proxycheck) pc=$med ;;
		esac
	done
	for k in "$@"; do
		case $k in connlimit*) continue ;; esac
		printf '  %-18s' "$k"
		[ "$pc" != 0 ] && printf '  speed vs proxycheck %5.2fx' "$(echo "$pc / ${MED[$k]}" | bc -l)"
		[ "$limit" != 0 ] && printf '  share of the connect limit %5.2f' "$(echo "$limit / ${MED[$k]}" | bc -l)"
		echo
	done
}

echo "== vs-proxycheck $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "proxycheck $(dpkg-query -W -f '${Version}' proxycheck 2>/dev/null); proxyprobe $PP" \
	"($(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)$( [ -n "$(git -C "$TOP" status --porcelain 2>/dev/null | grep -v '^??')" ] && echo ', tree modified'))"
echo "descriptor limit $(ulimit -n); ports left out (in use here): ${busy:-none}" | tr '\n' ' '; echo

declare -A CMD=()
for mode in $MODES; do
	case $mode in
	list)
		for ((i = 0; i < N; i++)); do echo "127.1.$((i / 250)).$((i % 250 + 1))"; done >"$W/hosts"
		clp=$(IFS=,; echo "${cl_ports[*]}")
		CMD[proxycheck]="proxycheck -d $CANARY -c chat::pxm ${pc_args[*]} -i $W/hosts"
		CMD[proxycheck-m1024]="proxycheck -m 1024 -d $CANARY -c chat::pxm ${pc_args[*]} -i $W/hosts"
		CMD[proxyprobe]="$PP -a -v 0 -i $W/hosts ${pp_basic[*]}"
		CMD[connlimit-n64]="$W/connlimit -n 64 -p $clp $W/hosts"
		CMD[connlimit-n1024]="$W/connlimit -n 1024 -p $clp $W/hosts"
		keys=(proxycheck proxycheck-m1024 proxyprobe)
		if [ -n "$PP_T" ]; then
			CMD[proxyprobe-t$PP_T]="$PP -a -v 0 -t $PP_T -i $W/hosts ${pp_basic[*]}"
			keys+=("proxyprobe-t$PP_T")
		fi
		keys+=(connlimit-n64 connlimit-n1024)
		echo
		echo "== list: $N hosts 127.1.x.y, nothing listening; tests: ${tests[*]}"
		echo "   $(( N * ${#cl_ports[@]} )) connects for proxyprobe and connlimit," \
			"$(( N * pc_n )) for proxycheck"
		for k in "${keys[@]}"; do echo "   $k: ${CMD[$k]}"; done
		rounds list "$R" "$N" "${keys[@]}"
		;;
	ports)
		echo 127.0.0.9 >"$W/one"
		# every port but the busy ones, as ranges (proxyprobe, connlimit)
		# and as lists of at most 15000 (proxycheck: 128 KiB per argument)
		seq 1 65535 | grep -vxF -f <(echo "${busy:-0}") >"$W/ports"
		ranges=$(awk 'NR == 1 {lo = $1} NR > 1 && $1 != prev + 1 {print lo "-" prev; lo = $1} {prev = $1} END {print lo "-" prev}' "$W/ports")
		pp_r=$(for x in $ranges; do printf '%s/all ' "$x"; done)
		xargs -n 15000 <"$W/ports" | tr ' ' ',' >"$W/chunks"
		pca=""
		for pc in hc ho s4 s5 wg; do
			while read -r c; do pca+=" -p $pc:$c"; done <"$W/chunks"
		done
		echo "$pca" >"$W/pc-args"
		nproto=$("$PP" -h | sed -n 's/^port_spec:.*http-connect): //p' | wc -w)
		nproto=$(( nproto - 4 ))	# less the aliases http cisco wingate and "all"
		CMD[pp1-all]="$PP -a -v 0 127.0.0.9 $pp_r"
		CMD[proxycheck]="proxycheck -d $CANARY -c chat::pxm \$(cat $W/pc-args) 127.0.0.9"
		CMD[connlimit-n1024]="$W/connlimit -n 1024 -p $(echo $ranges | tr ' ' ,) -r $nproto $W/one"
		echo
		echo "== ports: one closed host 127.0.0.9, ports $(echo $ranges | tr ' ' ,);" \
			"proxyprobe and connlimit: $nproto protocols a port, proxycheck: hc ho s4 s5 wg"
		echo "   pp1-all: ${CMD[pp1-all]}"
		echo "   proxycheck: proxycheck -d $CANARY -c chat::pxm -p hc:1,2,...,15000 -p hc:15001,..." \
			"($(wc -l <"$W/chunks") -p options a protocol, 5 protocols) 127.0.0.9"
		echo "   connlimit-n1024: ${CMD[connlimit-n1024]}"
		# proxycheck's arguments together exceed the default ARG_MAX
		ulimit -s 65536 2>/dev/null || ulimit -s unlimited 2>/dev/null
		rounds ports "$PORTS_R" 0 pp1-all proxycheck connlimit-n1024
		;;
	*) die "unknown mode $mode (list, ports)" ;;
	esac
done
echo
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
