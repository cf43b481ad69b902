#!/bin/bash
# Fleet: two MX hosts (two Postfix instances, each with its own proxymilter)
# sharing verdicts through a real redis-server.
#
#   MX1: Postfix 127.0.0.1:13425 -> milter A (13426, canary 13428)
#   MX2: Postfix 127.0.0.1:13435 -> milter B (13436, canary 13438)
#   both deliver to one smtp-sink on 127.0.0.1:13427; Redis on 127.0.0.1:13479
#
#   127.0.0.5:1080  microsocks (open)  made on MX1, served on MX2 unprobed
#   127.0.0.2:3128  squid (open)       made on MX2, served on MX1
#   127.0.0.3:3128  a slow open proxy  both MX hosts at once: one probe set
#   127.0.0.7       nothing            clean on MX1, clean from Redis on MX2
#   127.0.0.8/.11   nothing            Redis stopped / slow: mail flows
#   127.0.0.6:1080  microsocks (open)  Redis back: made on MX2, served on MX1
#   127.0.0.9       nothing            a value in Redis that is not ours
#   127.0.0.10      nothing            a peer's claim; its verdict published
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

PF_PORT=13425
SINK_PORT=13427
PF2_PORT=13435
RPORT=13479
RCPT=user@remote.test.invalid
RC="redis-cli -h 127.0.0.1 -p $RPORT"

for p in redis-server redis-cli microsocks squid swaks postfix smtp-sink; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { fail "prerequisite $p installed"; summary; exit 1; }
done

FLEET="fleet: { redis = \"127.0.0.1:$RPORT\"; key_prefix = \"pmt:\"; timeout = 0.2; };"
milter_conf "$T/a.conf" 13426 13428 "$FLEET
control: { socket = \"$T/a.sock\"; };" 'scan = [ "3128", "1080/socks5" ];'
milter_conf "$T/b.conf" 13436 13438 "$FLEET" 'scan = [ "3128", "1080/socks5" ];'
start_redis redis $RPORT --enable-debug-command yes || { fail "redis starts"; summary; exit 1; }
start_milter ma "$T/a.conf" && start_milter mb "$T/b.conf" || { fail "milters start"; summary; exit 1; }
start_postfix "inet:127.0.0.1:13426" || { fail "postfix 1 starts"; summary; exit 1; }
postfix_instance "$T/postfix2" mx2.test.invalid "127.0.0.1:$PF2_PORT" \
	"relayhost = [127.0.0.1]:$SINK_PORT
syslog_name = postfix-pmtest2
smtpd_milters = inet:127.0.0.1:13436
non_smtpd_milters ="
echo "$T/postfix2" >>"$T/postfix-instances"
postfix -c "$T/postfix2/etc" start >"$T/postfix2.start" 2>&1 && wait_listen 127.0.0.1 $PF2_PORT 20 ||
	{ fail "postfix 2 starts" "$(cat "$T/postfix2.start")"; summary; exit 1; }
start_microsocks socks5 127.0.0.5 && start_microsocks socks6 127.0.0.6 &&
start_squid squid open 127.0.0.2 &&
start_fake slow slow-connect 127.0.0.3 3128 || { fail "proxies start"; summary; exit 1; }
LA=$T/ma/milter.log
LB=$T/mb/milter.log
wait_for "$LA" 'fleet redis=.* state=up' && wait_for "$LB" 'fleet redis=.* state=up' &&
	pass "both milters connected to Redis" || fail "both milters connected to Redis"

mx1() { PF_PORT=13425 send_mail "$@"; }
mx2() { PF_PORT=$PF2_PORT send_mail "$@"; }
probes() { grep -cE "probe-start sess=[0-9a-f]+ client=\[$2\]" "$1"; }
rejected() { echo "$1" | grep -qE "<\*\* *550 5\.7\.1 Client host \[$2\] is an open proxy"; }
accepted() { echo "$1" | grep -qE '<- *250 2\.0\.0 Ok: queued'; }

# --- a verdict made on one MX is served on the other without probing -------
out=$(mx1 127.0.0.5 $RCPT)
rejected "$out" 127.0.0.5 && pass "MX1 rejects the open SOCKS5 proxy" ||
	fail "MX1 rejects the open SOCKS5 proxy" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -2 | tr '\n' ' ')"
v=$($RC GET pmt:v:127.0.0.5)
case "$v" in "pm1 127.0.0.5 open-proxy "*socks5:1080*) pass "the verdict is in Redis: $v" ;;
	*) fail "the verdict is in Redis" "$v" ;; esac
ttl=$($RC TTL pmt:v:127.0.0.5)
[ "$ttl" -gt 3000 ] 2>/dev/null && pass "its key expires with the verdict (TTL $ttl s)" || fail "key TTL" "$ttl"
[ "$($RC EXISTS pmt:c:127.0.0.5)" = 0 ] && pass "the claim is released" || fail "the claim is released"
wait_for "$LB" 'fleet sess=.*client=\[127\.0\.0\.5\]|fleet client=\[127\.0\.0\.5\] from=peer verdict=open-proxy' 5 &&
	pass "MX2 learnt the published verdict" || fail "MX2 learnt the published verdict"
out=$(mx2 127.0.0.5 $RCPT)
rejected "$out" 127.0.0.5 && pass "MX2 rejects it too" || fail "MX2 rejects it too"
[ "$(probes "$LB" 127.0.0.5)" = 0 ] && pass "MX2 did not probe it" || fail "MX2 did not probe it"

# --- a flush on one MX host (proxymilter-ctl) reaches Redis and the other
CTL=${PM_CTL:-$(dirname "$PM_BIN")/../tools/proxymilter-ctl}
"$CTL" -s "$T/a.sock" flush 127.0.0.5 | grep -qx 'flushed=1' && pass "MX1: proxymilter-ctl flush" || fail "MX1: ctl flush"
wait_for "$LB" 'flush client=\[127\.0\.0\.5\] by=peer' 5 && pass "MX2 drops it too (by=peer)" || fail "MX2 drops the flushed verdict"
grep -q 'by=peer' "$LA" && fail "MX1 skips its own published flush" || pass "MX1 skips its own published flush"
[ "$($RC EXISTS pmt:v:127.0.0.5)" = 0 ] && pass "... and so does Redis" || fail "flushed from Redis"
out=$(mx2 127.0.0.5 $RCPT)
rejected "$out" 127.0.0.5 && [ "$(probes "$LB" 127.0.0.5)" = 1 ] && pass "MX2 probes the flushed client again" ||
	fail "MX2 probes the flushed client again"

# --- a clean verdict: kept in Redis, not pushed into every table ------------
out=$(mx1 127.0.0.7 $RCPT)
accepted "$out" && pass "MX1 accepts a clean client" || fail "MX1 accepts a clean client"
out=$(mx2 127.0.0.7 $RCPT)
accepted "$out" && pass "MX2 accepts it" || fail "MX2 accepts it"
[ "$(probes "$LB" 127.0.0.7)" = 0 ] && grep -qE 'fleet sess=[0-9a-f]+ client=\[127\.0\.0\.7\] from=redis verdict=clean' "$LB" &&
	pass "MX2 took the clean verdict from Redis, no probe" ||
	fail "MX2 took the clean verdict from Redis" "$(grep '127\.0\.0\.7' "$LB" | head -3)"

# --- simultaneous connections at both: one probe set -------------------------
mx1 127.0.0.3 $RCPT >"$T/s1.out" &
p1=$!
mx2 127.0.0.3 $RCPT >"$T/s2.out" &
p2=$!
wait $p1 $p2
rejected "$(cat "$T/s1.out")" 127.0.0.3 && rejected "$(cat "$T/s2.out")" 127.0.0.3 &&
	pass "simultaneous: both MX hosts reject the slow open proxy" ||
	fail "simultaneous: both reject" "$(grep -hE '^ *<\*\*' "$T/s1.out" "$T/s2.out" | tr '\n' ' ')"
n=$(( $(probes "$LA" 127.0.0.3) + $(probes "$LB" 127.0.0.3) ))
[ "$n" = 1 ] && pass "simultaneous: one probe set between the two" || fail "simultaneous: one probe set" "$n"
grep -qE 'client=\[127\.0\.0\.3\] wait=peer' "$LA" "$LB" && pass "the other waited for its peer's verdict" ||
	fail "the other waited for its peer"

# --- made on MX2, served on MX1 -------------------------------------------
out=$(mx2 127.0.0.2 $RCPT)
rejected "$out" 127.0.0.2 && pass "MX2 rejects the open squid" || fail "MX2 rejects the open squid"
out=$(mx1 127.0.0.2 $RCPT)
rejected "$out" 127.0.0.2 && [ "$(probes "$LA" 127.0.0.2)" = 0 ] &&
	pass "MX1 rejects it unprobed" || fail "MX1 rejects squid unprobed"

# --- a peer's claim, its verdict published while we wait ------------------
$RC SET pmt:c:127.0.0.10 "mx9.test.invalid 4242" PX 30000 >/dev/null
mx1 127.0.0.10 $RCPT >"$T/w.out" &
pw=$!
wait_for "$LA" 'client=\[127\.0\.0\.10\] wait=peer' 5 && pass "a claim held elsewhere: MX1 waits" || fail "MX1 waits on a foreign claim"
now=$(date +%s)
$RC PUBLISH pmt:verdicts "mx9.test.invalid:4242 pm1 127.0.0.10 open-proxy 0 $now $((now + 600)) - http-connect:3128" >/dev/null
wait $pw
rejected "$(cat "$T/w.out")" 127.0.0.10 && [ "$(probes "$LA" 127.0.0.10)" = 0 ] &&
	pass "the peer's published verdict decides, no probe" ||
	fail "the peer's published verdict decides" "$(grep '127\.0\.0\.10' "$LA" | tail -3 | tr '\n' ' ')"

# --- values that are not ours ---------------------------------------------
$RC SET pmt:v:127.0.0.9 "hello world" >/dev/null
out=$(mx1 127.0.0.9 $RCPT)
accepted "$out" && [ "$(probes "$LA" 127.0.0.9)" = 1 ] && pass "a foreign value is ignored: probed, accepted" ||
	fail "a foreign value is ignored"
grep -qE 'fleet ignored=value client=\[127\.0\.0\.9\] reason=' "$LA" && pass "... and logged" || fail "foreign value logged"
sleep 1.1	# one such line a second
$RC PUBLISH pmt:verdicts "mx9.test.invalid:4242 pm1 127.0.0.12 open-proxy 0 17" >/dev/null
$RC PUBLISH pmt:verdicts "$(head -c 300 /dev/urandom | tr -d '\0')" >/dev/null
wait_for "$LA" 'fleet ignored=message reason=' 5 && pass "a truncated message is ignored and logged" ||
	fail "a truncated message is logged"
$RC GET pmt:v:127.0.0.12 >/dev/null
grep -qE 'client=\[127\.0\.0\.12\]' "$LA" "$LB" && fail "no verdict from a truncated message" ||
	pass "no verdict from a truncated message"

# --- Redis slow (asleep 6 s, dropped after 3-4 s of silence): bounded -------
# (not again under TSan, SAN_RUN=tsan: 7 s of waiting; ASan runs it)
ND=1 NU=2	# state=down and state=up lines MX1 will have logged at the end
if [ "${SAN_RUN:-}" != tsan ]; then
	ND=2 NU=3
	$RC DEBUG SLEEP 6 >"$T/sleep.out" 2>&1 &
	ps=$!
	sleep 0.3
	out=$(mx1 127.0.0.11 $RCPT)
	accepted "$out" && pass "Redis asleep: clean mail still flows" || fail "Redis asleep: mail flows"
	grep -qE "fleet sess=[0-9a-f]+ client=\[127\.0\.0\.11\] redis=timeout" "$LA" &&
		grep -qE "probe-start sess=[0-9a-f]+ client=\[127\.0\.0\.11\]" "$LA" &&
		pass "... Redis' silence timed out and the client was probed locally" ||
		fail "probed locally after a timeout" "$(grep '127\.0\.0\.11\]' "$LA" | head -3 | tr '\n' ' ')"
	wait_for "$LA" 'fleet redis=.* state=down reason="no answer for 3 s"' 5 &&
		pass "a Redis that does not answer is dropped" || fail "a silent Redis is dropped"
	wait $ps
	grep -q OK "$T/sleep.out" || fail "DEBUG SLEEP ran" "$(cat "$T/sleep.out")"
	i=0; while [ "$(grep -c 'state=up' "$LA")" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(grep -c 'state=up' "$LA")" -ge 2 ] && pass "... and reconnected when it answers again" || fail "reconnected after the sleep"
fi

# --- Redis down: the local table serves ------------------------------------
stop_name redis
wait_for "$LA" 'fleet redis=.* state=down' 5 && pass "Redis stopped: the loss is logged" || fail "the loss is logged"
out=$(mx1 127.0.0.8 $RCPT)
accepted "$out" && pass "Redis down: clean mail still flows" || fail "Redis down: mail flows"
out=$(mx1 127.0.0.5 $RCPT)
rejected "$out" 127.0.0.5 && pass "Redis down: the local table still rejects the proxy" || fail "local table serves"
kill -0 "$(cat "$T/ma.pid")" && kill -0 "$(cat "$T/mb.pid")" && pass "both milters survive" || fail "both milters survive"
n=$(grep -c 'state=down' "$LA")
[ "$n" = "$ND" ] && pass "down logged once per change ($ND: the silence, the stop)" ||
	fail "down logged once per change" "$n, not $ND"

# --- a Redis that refuses the set-up: one line, no flapping ---------------------
milter_conf "$T/c.conf" 13446 13448 "fleet: { redis = \"127.0.0.1:$RPORT\"; database = 20; };"
start_redis redis $RPORT --enable-debug-command yes || fail "redis restarts"
start_milter mc "$T/c.conf" || fail "milter C starts"
sleep 2.5
n=$(grep -c 'fleet redis=' "$T/mc/milter.log")
grep -qE 'fleet redis=.* state=down reason="SELECT: ERR DB index is out of range"' "$T/mc/milter.log" &&
	[ "$n" = 1 ] && pass "a bad fleet.database: one clear line, no up/down flapping" ||
	fail "a bad fleet.database is one line" "$(grep 'fleet redis' "$T/mc/milter.log" | head -4 | tr '\n' ' ')"
stop_name mc

# --- Redis back: sharing resumes -------------------------------------------
i=0; while [ "$(grep -c 'state=up' "$LA")" -lt "$NU" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c 'state=up' "$LA")" -ge "$NU" ] && [ "$(grep -c 'state=up' "$LB")" -ge 2 ] &&
	pass "both reconnect by themselves" || fail "both reconnect" "$(grep -h 'fleet redis' "$LA" "$LB" | tail -4)"
out=$(mx2 127.0.0.6 $RCPT)
rejected "$out" 127.0.0.6 && pass "MX2 rejects another open proxy" || fail "MX2 rejects 127.0.0.6"
out=$(mx1 127.0.0.6 $RCPT)
rejected "$out" 127.0.0.6 && [ "$(probes "$LA" 127.0.0.6)" = 0 ] &&
	pass "sharing resumed: MX1 rejects it unprobed" || fail "sharing resumed"
summary
