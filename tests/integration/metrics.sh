#!/bin/bash
# Metrics: a real Postfix -> proxymilter with metrics.listen -> a real
# SOCKS5 proxy; the scrape is checked with promtool and against the stats
# line of the same moment; then bad requests, a trickling client and a
# flood of connections.
#
#   Postfix 127.0.0.1:13125 -> milter 13126 (canary 13128, metrics 13190),
#   smtp-sink 127.0.0.1:13127
#   127.0.0.2:13180  microsocks (open)  -> reject at RCPT, twice (a cache hit)
#   127.0.0.7        nothing listening  -> clean, delivered
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

PF_PORT=13125
SINK_PORT=13127
MPORT=13126
CPORT=13128
METRICS=13190
SOCKS=13180
URL=http://127.0.0.1:$METRICS
RCPT=user@remote.test.invalid

for p in microsocks swaks postfix smtp-sink curl promtool python3; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { fail "prerequisite $p installed"; summary; exit 1; }
done
must_be_free 127.0.0.1 $METRICS || { fail "metrics port $METRICS free"; summary; exit 1; }

milter_conf "$T/pm.conf" $MPORT $CPORT "metrics: { listen = \"127.0.0.1:$METRICS\"; };" \
	"scan = [ \"$SOCKS/socks5\" ];"
start_milter milter "$T/pm.conf" || { fail "milter starts"; summary; exit 1; }
start_postfix "inet:127.0.0.1:$MPORT" || { fail "postfix starts"; summary; exit 1; }
start_microsocks socks 127.0.0.2 $SOCKS || { fail "microsocks starts"; summary; exit 1; }
MLOG=$T/milter/milter.log
PID=$(awk '$1 == "milter" {print $2}' "$PIDS_FILE")
wait_listen 127.0.0.1 $METRICS 5 && grep -qE "metrics listen=127\.0\.0\.1:$METRICS path=/metrics" "$MLOG" &&
	pass "milter listens for scrapes on 127.0.0.1:$METRICS and says so" || fail "metrics listener"

# a client that sends its request a byte every 2 s: shut down at 15 s
# (runs while the mail goes through)
cat >"$T/trickle.py" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(2)
t0 = time.time()
for c in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 40:
    try:
        s.send(bytes([c]))
        if s.recv(100) == b"":
            break
    except socket.timeout:
        continue
    except OSError:
        break
print("trickle closed after %.0f s" % (time.time() - t0))
PY
# (16 s of waiting: not again in the sanitizer runs, SAN_RUN)
[ -z "${SAN_RUN:-}" ] && { python3 "$T/trickle.py" $METRICS >"$T/trickle.out" 2>&1 & TRICKLE=$!; }

# ---- traffic: an open proxy rejected twice, a clean client delivered --------
out=$(send_mail 127.0.0.2 "$RCPT")
echo "$out" | grep -qE "<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.2\] is an open proxy \(socks5:$SOCKS\)" &&
	pass "open proxy rejected at RCPT" || fail "open proxy rejected" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -2)"
before=$(sink_count)
out=$(send_mail 127.0.0.7 "$RCPT")
echo "$out" | grep -qE '<- *250 2\.0\.0 Ok: queued' && wait_sink $((before + 1)) &&
	pass "clean client delivered" || fail "clean client delivered"
out=$(send_mail 127.0.0.2 "$RCPT")
echo "$out" | grep -qE '<\*\* *550 5\.7\.1' && pass "open proxy rejected again (from the table)" ||
	fail "open proxy rejected again"
wait_for "$MLOG" 'verdict sess=.* client=\[127\.0\.0\.7\] verdict=clean' 10 ||
	fail "clean verdict logged"

# ---- the scrape and the stats line of the same moment ------------------------
# (no traffic between them: SIGUSR2, wait for the line, scrape)
n0=$(grep -c ' stats connections=' "$MLOG")
kill -USR2 "$PID"
i=0; while [ "$(grep -c ' stats connections=' "$MLOG")" -le "$n0" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
STATS=$(grep ' stats connections=' "$MLOG" | tail -1)
curl -s -m 5 -o "$T/scrape.txt" -w '%{http_code} %{content_type}\n' "$URL/metrics" >"$T/scrape.code"
read -r code ctype <"$T/scrape.code"
[ "$code" = 200 ] && [ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] &&
	pass "GET /metrics: 200, text/plain version=0.0.4" || fail "GET /metrics" "$code $ctype"
promtool check metrics <"$T/scrape.txt" >"$T/promtool.out" 2>&1
prc=$?
[ $prc -eq 0 ] && [ ! -s "$T/promtool.out" ] && pass "promtool check metrics: no error, no lint problem" ||
	fail "promtool check metrics" "rc=$prc $(head -3 "$T/promtool.out" | tr '\n' ' ')"
echo "INFO: scrape $(wc -c <"$T/scrape.txt") bytes, $(grep -vc '^#' "$T/scrape.txt") series"

st() { echo "$STATS" | tr ' ' '\n' | sed -n "s/^$1=//p"; }	# a stats field
sc() { awk -v k="$1" '$1 == k {print $2}' "$T/scrape.txt"; }	# a series' value
same() { # same NAME SERIES STATS_FIELD [EXPECTED]
	local a b; a=$(sc "$2"); b=$(st "$3")
	if [ -n "$a" ] && [ "$a" = "$b" ] && { [ -z "${4:-}" ] || [ "$a" = "$4" ]; }; then
		pass "$1: scrape = stats line ($a)"
	else
		fail "$1" "scrape '$a', stats $3='$b'${4:+, expected $4}"
	fi
}
same "connections" proxymilter_connections_total connections 3
same "probe sets" proxymilter_probe_sets_total probed 2
same "cache hits" proxymilter_cache_hits_total cache_hits 1
same "open-proxy verdicts" 'proxymilter_verdicts_total{class="open-proxy"}' open 1
same "clean verdicts" 'proxymilter_verdicts_total{class="clean"}' clean 1
same "error verdicts" 'proxymilter_verdicts_total{class="error"}' error 0
same "table entries" proxymilter_table_entries table_entries 2
same "engine tests" proxymilter_engine_tests_total tests
same "log dropped" proxymilter_log_dropped_total log_dropped
rej=$(awk '$1 ~ /^proxymilter_actions_total\{.*action="reject"\}$/ {s += $2} END {print s + 0}' "$T/scrape.txt")
[ "$rej" = "$(st rejected)" ] && [ "$rej" = 2 ] &&
	[ "$(sc 'proxymilter_actions_total{stage="rcpt",action="reject"}')" = 2 ] &&
	pass "actions: 2 rejects, all at stage rcpt; their sum = stats rejected" ||
	fail "actions by stage" "sum $rej, stats $(st rejected), $(grep 'action="reject"' "$T/scrape.txt" | grep -v ' 0$')"
[ "$(sc "proxymilter_tests_total{protocol=\"socks5\",result=\"open\"}")" = 1 ] &&
	[ "$(sc "proxymilter_tests_total{protocol=\"socks5\",result=\"closed\"}")" -ge 1 ] &&
	pass "tests by protocol: socks5 open 1 (the proxy), closed >= 1 (the clean client)" ||
	fail "tests by protocol" "$(grep '^proxymilter_tests_total' "$T/scrape.txt" | tr '\n' ' ')"
logged=$(grep -cE 'probe sess=.* test=socks5:[0-9]+ result=' "$MLOG")
sum=$(awk '$1 ~ /^proxymilter_tests_total\{protocol="socks5"/ {s += $2} END {print s + 0}' "$T/scrape.txt")
[ "$sum" = "$logged" ] && pass "tests by protocol: as many socks5 results as probe lines logged ($sum)" ||
	fail "socks5 results vs log" "scrape $sum, log $logged"
finals=$(($(st open) + $(st relay) + $(st listed) + $(st suspect) + $(st clean) + $(st error)))
[ "$(sc proxymilter_verdict_seconds_count)" = "$finals" ] &&
	[ "$(sc 'proxymilter_verdict_seconds_bucket{le="+Inf"}')" = "$finals" ] && [ "$finals" = 2 ] &&
	pass "histogram: count = +Inf bucket = final verdicts of probed clients ($finals)" ||
	fail "histogram count" "count $(sc proxymilter_verdict_seconds_count), finals $finals"
awk '$1 ~ /^proxymilter_verdict_seconds_bucket/ { if ($2 < prev) bad = 1; prev = $2 } END { exit bad }' "$T/scrape.txt" &&
	awk '$1 == "proxymilter_verdict_seconds_sum" { exit !($2 > 0 && $2 < 60) }' "$T/scrape.txt" &&
	pass "histogram: buckets cumulative, sum of seconds plausible" || fail "histogram shape"

# ---- requests that are not a scrape -------------------------------------------
hc() { curl -s -m 5 -o /dev/null -w '%{http_code}' "$@"; }
[ "$(hc "$URL/other")" = 404 ] && [ "$(hc "$URL/")" = 404 ] && [ "$(hc "$URL/metricsx")" = 404 ] &&
	pass "another path: 404" || fail "another path: 404"
c=$(hc -X POST "$URL/metrics"); [ "$c" != 200 ] && [ "$c" != 000 ] &&
	pass "POST /metrics refused ($c)" || fail "POST /metrics" "$c"
c=$(hc -X POST --data-binary 'x=1' "$URL/metrics"); [ "$c" != 200 ] && [ "$c" != 000 ] &&
	pass "POST with a body refused ($c)" || fail "POST with a body" "$c"
c=$(hc -H "X-Big: $(head -c 6000 /dev/zero | tr '\0' a)" "$URL/metrics"); [ "$c" != 200 ] &&
	pass "6 KB of headers refused ($c)" || fail "big headers" "$c"
[ "$(hc -I "$URL/metrics")" = 200 ] && [ "$(hc "$URL/metrics?x=1")" = 200 ] &&
	pass "HEAD and a query string: 200" || fail "HEAD / query"
grep -qE '^proxymilter_metrics_requests_total\{code="404"\} [3-9]' <(curl -s -m 5 "$URL/metrics") &&
	pass "the 404s are counted" || fail "404s counted"

# ---- the trickling client --------------------------------------------------------
if [ -z "${SAN_RUN:-}" ]; then
	wait "$TRICKLE"
	t=$(sed -n 's/^trickle closed after \([0-9]*\) s$/\1/p' "$T/trickle.out")
	[ -n "$t" ] && [ "$t" -ge 14 ] && [ "$t" -le 19 ] &&
		pass "a client trickling its headers is cut off at about 15 s ($t s)" ||
		fail "trickling client cut off" "$(cat "$T/trickle.out")"
fi

# ---- a flood: 2000 connections, most left idle ------------------------------------
cat >"$T/flood.py" <<'PY'
import resource, socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 64)), hard))
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    socks.append(s)
    if i % 10 == 0:		# some start a request and never end it
        try:
            s.send(b"GET /metrics HTTP/1.1\r\n")
        except OSError:
            pass
print("opened", len(socks), flush=True)
time.sleep(hold)
for s in socks:
    s.close()
print("closed", flush=True)
PY
fd0=$(ls /proc/"$PID"/fd | wc -l)
python3 "$T/flood.py" $METRICS 2000 4 >"$T/flood.out" 2>&1 &
FLOOD=$!
maxfd=$fd0
for i in $(seq 1 16); do
	sleep 0.25
	n=$(ls /proc/"$PID"/fd 2>/dev/null | wc -l)
	[ "$n" -gt "$maxfd" ] && maxfd=$n
done
wait "$FLOOD"
grep -q '^opened 2000' "$T/flood.out" && pass "flood: 2000 connections opened" ||
	fail "flood opened" "$(cat "$T/flood.out")"
alive "$PID" && pass "flood: the milter is alive" || fail "flood: the milter is alive"
[ "$maxfd" -le $((fd0 + 16 + 2)) ] && [ "$maxfd" -gt "$fd0" ] &&
	pass "flood: descriptors bounded ($fd0 before, at most $maxfd during: <= 16 connections)" ||
	fail "flood: descriptors bounded" "$fd0 before, $maxfd during"
ok=0
for i in $(seq 1 20); do
	if [ "$(curl -s -m 3 -o "$T/scrape2.txt" -w '%{http_code}' "$URL/metrics")" = 200 ]; then ok=1; break; fi
	sleep 0.25
done
[ $ok = 1 ] && promtool check metrics <"$T/scrape2.txt" >/dev/null 2>&1 &&
	pass "after the flood: a scrape works and is valid" || fail "scrape after the flood"
awk '$1 == "proxymilter_metrics_throttled_total" { exit !($2 > 0) }' "$T/scrape2.txt" &&
	grep -qE "metrics listen=127\.0\.0\.1:$METRICS paused=(connections|rate) " "$MLOG" &&
	pass "flood: the pauses are counted and logged" || fail "pauses counted and logged"
[ "$(ls /proc/"$PID"/fd | wc -l)" -le $((fd0 + 2)) ] && pass "flood over: descriptors back to $fd0" ||
	fail "descriptors after the flood" "$(ls /proc/"$PID"/fd | wc -l), $fd0 before"
# and mail still flows
out=$(send_mail 127.0.0.2 "$RCPT")
echo "$out" | grep -qE '<\*\* *550 5\.7\.1' && pass "after the flood: mail still checked" ||
	fail "mail after the flood"

summary
