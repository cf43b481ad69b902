#!/bin/bash
# bench/hostile-load.sh [RATE] [SECONDS] - hostile load benchmark (a benchmark,
# not a test: it prints figures and fails only when it cannot run).
#
# Runs proxymilter in a network namespace of its own (pmload-PID, only "lo")
# and lets bench/milter-load.py play an MTA that opens RATE new milter
# sessions a second for SECONDS (default 200/s for 60 s), each from a new
# client address in one of three classes, as shares of all clients:
#   dropped 127.64.0.0/10   nftables drops every SYN: probes hit connect_timeout
#   tarpit  127.128.0.0/10  nftables redirects all TCP to bench/tarpit.py,
#                           which accepts and never says a word: probe.timeout
#   closed  127.192.0.0/10  nothing listens: RST at once
# Every client has a /24 of its own (127.A.B.x), so the per-/24 rate limit
# (probe.rate_limit, left at its default 60) never applies; the report shows
# rate_limited=0.  Then a drain (no new clients) until the engine is idle or
# DRAIN seconds, and a report, one "== section" per measurement.  A second,
# short scenario runs proxymilter under `ulimit -n 64` at ULIMIT_RATE/s for
# ULIMIT_SECONDS.
#
# Environment: BUILD (default build-bench/), SHARES="40 20 40" (dropped tarpit
# closed), DRAIN=90, ULIMIT_RATE=50, ULIMIT_SECONDS=20, SCENARIOS="main ulimit",
# SCAN (probe.scan, default "basic", "8000", "8888": 13 tests), REPEAT=0 (share of sessions that reconnect from an earlier client's
# address, >= 30 s old), DATA=1 (DATA/EOM too), OUT (default /tmp/pmload-PID),
# REVISIT=200 (main scenario: after the new clients, at REVISIT_AT=120 s into
# the run, REVISIT_RATE=20/s sessions reconnect from addresses first seen
# REVISIT_WINDOW=15:25 s into the run: clients still queued for probing when
# their pending claim (pending_ttl, 91 s) runs out; a second probe-start for
# one address is a duplicate probe set; REVISIT=0 turns it off).
# Needs root, nftables, python3.  Nothing leaves the namespace; everything it
# starts is stopped by pid and the namespace removed on exit, Ctrl-C included.
set -u
{ # the whole script is one block: bash parses it before running it, so
  # editing this file during a run cannot derail the run
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$TOP/build-bench}
PM=$B/milter/proxymilter
RATE=${1:-200}
SECS=${2:-60}
read -r SH_DROP SH_TARPIT SH_CLOSED <<<"${SHARES:-40 20 40}"
DRAIN=${DRAIN:-90}
ULIMIT_RATE=${ULIMIT_RATE:-50}
ULIMIT_SECONDS=${ULIMIT_SECONDS:-20}
SCENARIOS=${SCENARIOS:-main ulimit}
REPEAT=${REPEAT:-0}
DATA=${DATA:-1}
DRIVER_NICE=${DRIVER_NICE:--10}
WITNESS_RATE=${WITNESS_RATE:-2}   # sessions/s of the separate witness driver (0: none)   # the measuring side must not starve (2 shared cores)
REVISIT=${REVISIT:-200} REVISIT_AT=${REVISIT_AT:-120} REVISIT_WINDOW=${REVISIT_WINDOW:-15:25} REVISIT_RATE=${REVISIT_RATE:-20}
OUT=${OUT:-/tmp/pmload-$$}
NS=pmload-$$

MILTER_HOST=127.0.0.1 MILTER_PORT=8891
CANARY_HOST=127.0.0.1 CANARY_PORT=2526
TARPIT_HOST=127.0.0.1 TARPIT_PORT=9999
NET_DROP=127.64.0.0/10 NET_TARPIT=127.128.0.0/10 NET_CLOSED=127.192.0.0/10
NET_WITNESS=127.32.0.0/11     # closed too (no rule): the witness driver's clients
# probe.* and action.* as run (the defaults, spelt out)
CONNECT_TIMEOUT=5.0 TIMEOUT=15.0 RETRIES=1 MAX_INFLIGHT=1024 MAX_QUEUE=4096
PENDING_WAIT=5.0
# 13 tests a client: "basic" names 13 specs but 23/telnet, 23/cisco and
# 23/wingate are one test (one adaptive probe), so it is 11; two ports more
SCAN=${SCAN:-'"basic", "8000", "8888"'}

die() { echo "hostile-load: $*" >&2; exit 2; }
num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "not a number: $1"; }
for v in "$RATE" "$SECS" "$SH_DROP" "$SH_TARPIT" "$SH_CLOSED" "$DRAIN" "$ULIMIT_RATE" \
	"$ULIMIT_SECONDS" "$REPEAT" "$REVISIT_AT" "$REVISIT_RATE"; do num "$v"; done
[[ $REVISIT =~ ^[0-9]+$ ]] || die "REVISIT: a whole number"
[ "$(id -u)" = 0 ] || die "needs root (ip netns, nft)"
for c in ip nft python3 ss unshare; do command -v $c >/dev/null || die "missing $c (apt-get install nftables iproute2)"; done
[ -x "$PM" ] || die "no $PM: mkdir -p build-bench && cd build-bench && ../configure && make"

# loopback only: every address this script points anything at
python3 - "$MILTER_HOST" "$CANARY_HOST" "$TARPIT_HOST" "$NET_DROP" "$NET_TARPIT" "$NET_CLOSED" "$NET_WITNESS" <<'PY' || die "refusing a target outside 127.0.0.0/8 and ::1"
import ipaddress, sys
lo4, lo6 = ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")
for a in sys.argv[1:]:
    n = ipaddress.ip_network(a, strict=False)
    if not (n.version == 4 and n.subnet_of(lo4) or n.version == 6 and n.subnet_of(lo6)):
        print("not loopback:", a, file=sys.stderr); sys.exit(1)
PY

mkdir -p "$OUT" || die "cannot create $OUT"
PIDS=$OUT/pids
: >"$PIDS"

. "$TOP/tests/lib/proc.sh"
cleanup() {
	local pid
	trap - EXIT INT TERM
	for pid in $(awk '{print $2}' "$PIDS" 2>/dev/null | tac); do stop_pid "$pid" 5; done
	if ip netns list 2>/dev/null | grep -qw "$NS"; then
		ip netns exec "$NS" nft delete table ip pmload 2>/dev/null
		ip netns del "$NS" && echo "hostile-load: namespace $NS removed" >&2
	fi
}
trap cleanup EXIT
trap 'echo "hostile-load: interrupted" >&2; exit 130' INT TERM

# spawn NAME LOG CMD...: CMD runs inside the namespace; its pid is recorded
spawn() {
	local name=$1 log=$2; shift 2
	local pf=$OUT/$name.pid
	rm -f "$pf"
	setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pf" ip netns exec "$NS" "$@" </dev/null >>"$log" 2>&1 &
	local i=0
	while [ ! -s "$pf" ] && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$pf" ] || die "$name did not start"
	echo "$name $(cat "$pf")" >>"$PIDS"
	cat "$pf"
}
nsx() { ip netns exec "$NS" "$@"; }
listening() { nsx ss -Hltn 2>/dev/null | awk '{print $4}' | grep -qxF -- "$1:$2"; }
wait_listen() {
	local i=0
	while [ $i -lt 100 ]; do listening "$1" "$2" && return 0; sleep 0.1; i=$((i + 1)); done
	return 1
}

# ---- the namespace --------------------------------------------------------
ip netns add "$NS" || die "ip netns add $NS failed"
nsx ip link set lo up
nsx sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1 \
	net.unix.max_dgram_qlen=65536 net.core.somaxconn=4096
# output hook only: every probe is a locally generated connection on lo
nsx nft -f - <<NFT || die "nft rules refused"
table ip pmload {
	chain raw_out {
		type filter hook output priority raw; policy accept;
		ip daddr { $NET_DROP, $NET_CLOSED, $NET_WITNESS } notrack
		ip saddr { $NET_CLOSED, $NET_WITNESS } notrack
		tcp dport { $MILTER_PORT, $CANARY_PORT } notrack
		tcp sport { $MILTER_PORT, $CANARY_PORT } notrack
	}
	chain filter_out {
		type filter hook output priority filter; policy accept;
		ip daddr $NET_DROP tcp flags & (syn | ack) == syn drop
	}
	chain nat_out {
		type nat hook output priority -100; policy accept;
		ip daddr $NET_TARPIT meta l4proto tcp redirect to :$TARPIT_PORT
	}
}
NFT

BUILD_TIME=$(date -r "$PM" '+%Y-%m-%d %H:%M:%S')
TREE="now $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null) + $(git -C "$TOP" status --porcelain -- milter probes 2>/dev/null | wc -l) changed files in milter/ probes/; sources newer than the binary: $(find "$TOP/milter" "$TOP/probes" -name '*.[ch]' -newer "$PM" | wc -l)"

echo "== machine"
echo "$(nproc) cores; $(free -h | awk '/^Mem:/{print $2" RAM, "$7" available"}'); kernel $(uname -r); $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "proxymilter: $PM (built $BUILD_TIME; tree $TREE)"
echo "output: $OUT"

write_conf() { # write_conf FILE
	cat >"$1" <<CONF
socket = "inet:$MILTER_PORT@$MILTER_HOST";
user = "";
pid_file = "";
log_level = "info";
log_stderr = true;
allow = [ ];
probe: {
  scan = [ $SCAN ];
  canary_listen = "$CANARY_HOST:$CANARY_PORT";
  allow_private = [ "127.0.0.0/8" ];
  connect_timeout = $CONNECT_TIMEOUT;
  timeout = $TIMEOUT;
  retries = $RETRIES;
  max_inflight = $MAX_INFLIGHT;
  max_queue = $MAX_QUEUE;
  rate_limit = 60;
};
action: {
  stage = "rcpt";
  pending_wait = $PENDING_WAIT;
};
CONF
}

# the nft rules do what they should (the tarpit must be up)
check_rules() {
	nsx python3 - <<PY
import socket, sys
def probe(a):
    s = socket.socket(); s.settimeout(1.0)
    try:
        s.connect((a, 80))
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    s.settimeout(0.3)
    try:
        return "talks" if s.recv(1) else "closed"
    except socket.timeout:
        return "silent"
got = [probe("${NET_DROP%/*}".rsplit(".", 2)[0] + ".1.1"), probe("${NET_TARPIT%/*}".rsplit(".", 2)[0] + ".1.1"),
       probe("${NET_CLOSED%/*}".rsplit(".", 2)[0] + ".1.1")]
print("rules check (dropped, tarpit, closed):", " ".join(got))
sys.exit(0 if got == ["timeout", "silent", "refused"] else 1)
PY
}

# sampler PID DIR: VmRSS/threads/fds/CPU ticks (and the machine's context
# switches) every second, stats (SIGUSR2) and socket
# counts every 5 s, until the file DIR/stop-sampler appears or PID ends
sampler() {
	local pid=$1 d=$2 n=0 now rss thr fds cpu ctxt
	while alive "$pid" && [ ! -e "$d/stop-sampler" ]; do
		now=$(date +%s.%N)
		read -r rss thr < <(awk '/^VmRSS:/{r=$2} /^Threads:/{t=$2} END{print r+0, t+0}' "/proc/$pid/status" 2>/dev/null)
		fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
		cpu=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}')
		ctxt=$(awk '$1 == "ctxt" {print $2}' /proc/stat)
		echo "$now ${rss:-0} ${thr:-0} $fds ${cpu:-0} ${ctxt:-0}" >>"$d/rss.txt"
		if [ $((n % 5)) -eq 0 ]; then
			kill -USR2 "$pid" 2>/dev/null
			nsx ss -Htan 2>/dev/null | awk -v tp=":$TARPIT_PORT" -v mp=":$MILTER_PORT" -v now="$now" '
				$1 == "SYN-SENT" { syn++ }
				$1 == "ESTAB" && substr($4, length($4) - length(tp) + 1) == tp { pit++ }
				$1 == "ESTAB" && substr($4, length($4) - length(mp) + 1) == mp { ses++ }
				{ all++ }
				END { print now, syn + 0, pit + 0, ses + 0, all + 0 }' >>"$d/ss.txt"
		fi
		n=$((n + 1))
		sleep 1
	done
}

# last "stats" value of KEY in the milter log
last_stat() { grep ' stats ' "$1" | tail -1 | grep -o " $2=[0-9]*" | cut -d= -f2; }

# run_scenario NAME RATE SECONDS NOFILE
run_scenario() {
	local name=$1 rate=$2 secs=$3 nofile=$4
	local d=$OUT/$name
	[ -e "$d" ] && die "$d exists"
	mkdir -p "$d/dev"
	chmod 755 "$d"
	write_conf "$d/pm.conf"
	NTESTS=$("$PM" -t -c "$d/pm.conf" | sed -n 's/.*valid (\([0-9]*\) tests.*/\1/p')
	[ -n "$NTESTS" ] || die "config refused"
	echo
	echo "######## scenario $name: $rate clients/s for $secs s, proxymilter fd limit $nofile"

	local tpid lpid mpid spid
	tpid=$(spawn "tarpit-$name" "$d/tarpit.out" python3 "$TOP/bench/tarpit.py" "$TARPIT_HOST" "$TARPIT_PORT" \
		--max-seconds $((secs + DRAIN + 600)) --stats "$d/tarpit.json")
	lpid=$(spawn "devlog-$name" "$d/devlog.out" python3 "$TOP/bench/devlog.py" "$d/dev/log.sock" "$d/syslog.txt" \
		--max-seconds $((secs + DRAIN + 600)))
	[ -n "$tpid" ] && [ -n "$lpid" ] || die "cannot start the tarpit or the syslog catcher"
	wait_listen "$TARPIT_HOST" "$TARPIT_PORT" || die "tarpit does not listen"
	check_rules || die "the nft rules do not behave as expected"
	local i=0
	while [ ! -S "$d/dev/log.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

	# proxymilter in a private mount namespace whose /dev has a /dev/log of
	# ours (libmilter logs only through syslog), with the fd limit asked for
	mkdir -p "$d/olddev"
	mpid=$(spawn "proxymilter-$name" "$d/milter.log" unshare --mount sh -c '
		d=$1 nofile=$2; shift 2
		mount --rbind /dev "$d/olddev" &&
		mount -t tmpfs -o size=64k,mode=755 pmload-dev /dev || exit 71
		for n in null zero full random urandom tty; do
			[ -e "$d/olddev/$n" ] && : >"/dev/$n" && mount --bind "$d/olddev/$n" "/dev/$n"
		done
		ln -s /proc/self/fd /dev/fd; ln -s "$d/dev/log.sock" /dev/log
		ulimit -n "$nofile" || exit 71
		exec "$@"' sh "$d" "$nofile" "$PM" -f -c "$d/pm.conf")
	[ -n "$mpid" ] || die "cannot start proxymilter"
	wait_listen "$MILTER_HOST" "$MILTER_PORT" || { tail -5 "$d/milter.log"; die "proxymilter does not listen"; }
	echo "proxymilter pid $mpid (fd limit $(awk '/Max open files/{print $4}' /proc/$mpid/limits)), tarpit pid $tpid"

	rm -f "$d/stop-sampler"
	sampler "$mpid" "$d" &
	spid=$!
	echo "sampler-$name $spid" >>"$PIDS"

	local t0 classes load0
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	t0=$(date +%s.%N)
	classes="dropped=$NET_DROP:$SH_DROP tarpit=$NET_TARPIT:$SH_TARPIT closed=$NET_CLOSED:$SH_CLOSED"
	local cargs=() c
	for c in $classes; do cargs+=(--class "$c"); done
	[ "$DATA" = 1 ] && cargs+=(--data)
	local rev=()
	[ "$name" = main ] && [ "$REVISIT" -gt 0 ] && rev=(--revisit "$REVISIT" --revisit-at "$REVISIT_AT" \
		--revisit-window "$REVISIT_WINDOW" --revisit-rate "$REVISIT_RATE")
	echo "driver (nice $DRIVER_NICE): milter-load.py --rate $rate --seconds $secs ${cargs[*]} --repeat $REPEAT ${rev[*]}"
	ip netns exec "$NS" timeout -k 5 $((secs + 600)) nice -n "$DRIVER_NICE" python3 "$TOP/bench/milter-load.py" --milter "$MILTER_HOST:$MILTER_PORT" \
		--rate "$rate" --seconds "$secs" "${cargs[@]}" --repeat "$REPEAT" "${rev[@]}" \
		--out "$d/sessions.jsonl" --summary "$d/driver.json" >"$d/driver.log" 2>&1 &
	local dpid=$!		# ip execs timeout: TERM to it reaches the driver
	echo "driver-$name $dpid" >>"$PIDS"
	# a witness: a second, separate driver process with a few sessions a second,
	# so that the big driver's own delays can be told from the milter's
	local wpid=
	if [ "$WITNESS_RATE" != 0 ]; then
		ip netns exec "$NS" timeout -k 5 $((secs + 120)) nice -n "$DRIVER_NICE" python3 "$TOP/bench/milter-load.py" \
			--milter "$MILTER_HOST:$MILTER_PORT" --rate "$WITNESS_RATE" --seconds "$secs" \
			--class "witness=$NET_WITNESS:1" --data --seed 2 \
			--out "$d/witness.jsonl" --summary "$d/witness.json" >"$d/witness.log" 2>&1 &
		wpid=$!
		echo "witness-$name $wpid" >>"$PIDS"
	fi
	# progress while new clients arrive
	local shown=0 n
	while kill -0 "$dpid" 2>/dev/null && ! grep -q 'new-client phase done' "$d/driver.log"; do
		sleep 1
		n=$(wc -l <"$d/driver.log")
		[ "$n" -gt "$shown" ] && sed -n "$((shown + 1)),${n}p" "$d/driver.log" | sed 's/^/  /' && shown=$n
	done

	# drain: no new clients (revisits of old ones, if any, happen in it);
	# until the engine is idle or DRAIN seconds
	local drained="engine not idle after ${DRAIN}s without new clients" w=0
	while [ $w -lt "$DRAIN" ] && alive "$mpid"; do
		sleep 5; w=$((w + 5))
		local inf q
		inf=$(last_stat "$d/milter.log" probes_inflight)
		q=$(last_stat "$d/milter.log" queued)
		echo "  drain t+${w}s: probes_inflight=${inf:-?} queued=${q:-?}"
		if [ "${inf:-1}" = 0 ] && [ "${q:-1}" = 0 ] && ! kill -0 "$dpid" 2>/dev/null; then
			drained="engine idle ${w}s after the last new client's session"
			break
		fi
	done
	local t_drain_end; t_drain_end=$(date +%s.%N)
	wait "$dpid"
	[ -n "$wpid" ] && wait "$wpid"
	n=$(wc -l <"$d/driver.log")
	[ "$n" -gt "$shown" ] && sed -n "$((shown + 1)),${n}p" "$d/driver.log" | sed 's/^/  /'
	alive "$mpid" || drained="proxymilter is gone (exited during the run)"
	# CPU time of each of proxymilter's threads still alive, in order of creation
	for t in /proc/"$mpid"/task/*; do
		sed 's/^\([0-9]*\) (\([^)]*\)) /\1 \2 /' "$t/stat" 2>/dev/null | awk '{print $1, $2, $14 + $15, $22}'
	done | sort -n -k4 >"$d/threads.txt"	# tid comm utime+stime starttime, by start
	kill -USR2 "$mpid" 2>/dev/null
	sleep 1
	touch "$d/stop-sampler"
	wait "$spid" 2>/dev/null
	local exitinfo="" t_stop; t_stop=$(date +%s.%N)
	if alive "$mpid"; then
		stop_pid "$mpid" 15
	else
		exitinfo="exited before the end of the scenario: $(grep -E ' stop |libmilter' "$d/milter.log" | tail -2 | tr '\n' ' ')"
	fi
	stop_pid "$tpid" 5
	stop_pid "$lpid" 5
	sleep 0.5

	local summ="scan=[ $SCAN ] ($NTESTS tests a client) connect_timeout=$CONNECT_TIMEOUT timeout=$TIMEOUT retries=$RETRIES max_inflight=$MAX_INFLIGHT max_queue=$MAX_QUEUE rate_limit=60 stage=rcpt pending_wait=$PENDING_WAIT log_level=info"
	local load1; load1=$(cut -d' ' -f1-3 /proc/loadavg)
	python3 - "$d/meta.json" "$drained" "$exitinfo" "$summ" "$load0" "$load1" <<PY
import json, sys
ct, to, rt = $CONNECT_TIMEOUT, $TIMEOUT, $RETRIES
json.dump({
  "scenario": "$name", "rate": $rate, "seconds": $secs, "t0": $t0,
  "classes": "$classes".split(), "repeat": $REPEAT, "binary": "$PM",
  "build_time": "$BUILD_TIME", "tree": "$TREE", "nofile": "$nofile",
  "config_summary": sys.argv[4], "tests": $NTESTS,
  "ns": "$NS", "milter": "$MILTER_PORT@$MILTER_HOST", "canary": "$CANARY_HOST:$CANARY_PORT",
  "tarpit_port": $TARPIT_PORT, "pending_wait": $PENDING_WAIT,
  "max_inflight": $MAX_INFLIGHT, "max_queue": $MAX_QUEUE,
  "connect_timeout": ct, "timeout": to, "retries": rt,
  # milter/callbacks.c pending_ttl()
  "pending_ttl": to * (rt + 1) + rt * (rt + 1) / 2.0 + 60.0,
  # since 34ae25d: pe_pending_bound() + 60 (every wave of a full queue)
  "pending_bound_new": (1 + -(-$MAX_QUEUE // ($MAX_INFLIGHT // min($NTESTS, 32))))
                       * (-(-$NTESTS // min($NTESTS, 32)) * (rt + 1) * to
                          + sum(2.0 * (1 << a) for a in range(rt))) + 60.0,
  "drain": sys.argv[2], "exit": sys.argv[3], "t_drain_end": $t_drain_end, "t_stop": $t_stop, "pid": $mpid, "load_start": sys.argv[5], "load_end": sys.argv[6],
}, open(sys.argv[1], "w"), indent=1)
PY
	python3 "$TOP/bench/hostile-report.py" "$d" | tee "$d/report.txt"
}

for s in $SCENARIOS; do
	case $s in
	main) run_scenario main "$RATE" "$SECS" "$(ulimit -Hn)" ;;
	ulimit) run_scenario ulimit64 "$ULIMIT_RATE" "$ULIMIT_SECONDS" 64 ;;
	*) die "unknown scenario $s" ;;
	esac
done
echo
echo "reports: $(ls "$OUT"/*/report.txt | tr '\n' ' ')"
exit 0
}
