#!/bin/bash
# End to end: real Postfix -> proxymilter -> real proxies on loopback.
#
# Hosts (each 127.0.0.x is a separate "client host"; mail is sent from it
# with swaks --local-interface, and the proxy listens on the same address):
#   127.0.0.2:3128  squid, open          -> reject (http-connect:3128)
#   127.0.0.3:8080  tinyproxy, open      -> reject (http-connect:8080)
#   127.0.0.4:1080  dante, open          -> reject (socks4/socks5:1080)
#   127.0.0.5:1080  microsocks (open)    -> reject (socks5:1080)
#   127.0.0.12:3128 squid, secure        -> delivered
#   127.0.0.13:8080 tinyproxy, secure    -> delivered
#   127.0.0.14:1080 dante, secure        -> delivered
#   127.0.0.7       nothing listening    -> delivered
#   127.0.0.8:3128  decoy (fake 200+220) -> delivered, never "open"
#   ::1             nothing listening    -> delivered (IPv6 client)
# Then: SOCKS4 alone against dante, observe mode, tag mode.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

MPORT=18890
CPORT=12526
RCPT=user@remote.test.invalid

for p in squid tinyproxy danted microsocks swaks postfix smtp-sink; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { fail "prerequisite $p installed"; summary; exit 1; }
done

milter_conf "$T/enforce.conf" $MPORT $CPORT
start_milter milter "$T/enforce.conf" || { fail "milter starts"; summary; exit 1; }
start_postfix "inet:127.0.0.1:$MPORT" || { fail "postfix starts"; summary; exit 1; }
start_squid squid-open open 127.0.0.2 &&
start_squid squid-secure secure 127.0.0.12 &&
start_tinyproxy tiny-open open 127.0.0.3 &&
start_tinyproxy tiny-secure secure 127.0.0.13 &&
start_dante dante-open open 127.0.0.4 &&
start_dante dante-secure secure 127.0.0.14 &&
start_microsocks microsocks 127.0.0.5 &&
start_fake decoy decoy 127.0.0.8 3128 || { fail "peers start"; summary; exit 1; }
pass "postfix, milter, squid, tinyproxy, dante, microsocks, decoy started"
MLOG=$T/milter/milter.log

expect_reject() { # expect_reject SRC EVIDENCE_RE NAME
	local src=$1 ev=$2 name=$3 before out
	before=$(sink_count)
	out=$(send_mail "$src" "$RCPT")
	if echo "$out" | grep -qE "<\*\* *550 5\.7\.1 Client host \[$src\] is an open proxy \($ev\)"; then
		pass "$name: rejected at RCPT with the configured reply"
	else
		fail "$name: rejected at RCPT" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -3 | tr '\n' ' ')"
	fi
	sleep 0.3
	[ "$(sink_count)" -eq "$before" ] && pass "$name: nothing delivered" || fail "$name: nothing delivered"
	grep -qE "verdict sess=[0-9a-f]{8} client=\[$src\] verdict=open-proxy evidence=$ev egress=$src " "$MLOG" &&
		pass "$name: verdict open-proxy with egress $src logged" ||
		fail "$name: verdict logged" "$(grep "client=\[$src\]" "$MLOG" | tail -2)"
}

expect_deliver() { # expect_deliver SRC NAME
	local src=$1 name=$2 before out
	before=$(sink_count)
	out=$(send_mail "$src" "$RCPT")
	if echo "$out" | grep -qE '<- *250 2\.0\.0 Ok: queued'; then
		pass "$name: accepted"
	else
		fail "$name: accepted" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -3 | tr '\n' ' ')"
	fi
	wait_sink $((before + 1)) && pass "$name: delivered to the sink" || fail "$name: delivered to the sink"
}

expect_reject 127.0.0.2 'http-connect:3128' "squid open (HTTP CONNECT)"
expect_reject 127.0.0.3 'http-connect:8080' "tinyproxy open (HTTP CONNECT)"
expect_reject 127.0.0.4 'socks[45]:1080' "dante open (SOCKS)"
expect_reject 127.0.0.5 'socks5:1080' "microsocks (SOCKS5)"
expect_deliver 127.0.0.12 "squid secure"
grep -qE 'probe sess=.* client=\[127\.0\.0\.12\] test=http-connect:3128 result=closed reason=http-403' "$MLOG" &&
	pass "squid secure: probe closed by its 403" || fail "squid secure: 403 logged"
expect_deliver 127.0.0.13 "tinyproxy secure"
expect_deliver 127.0.0.14 "dante secure"
grep -qE 'client=\[127\.0\.0\.14\] test=socks5:1080 result=closed reason=socks5-rep-02' "$MLOG" &&
	pass "dante secure: SOCKS5 ruleset refusal logged" || fail "dante secure: SOCKS5 refusal logged"
grep -qE 'client=\[127\.0\.0\.14\] test=socks4:1080 result=closed reason=socks4-rejected' "$MLOG" &&
	pass "dante secure: SOCKS4 refusal logged" || fail "dante secure: SOCKS4 refusal logged"
expect_deliver 127.0.0.7 "nothing listening"
grep -qE 'verdict sess=.* client=\[127\.0\.0\.7\] verdict=clean' "$MLOG" &&
	pass "nothing listening: verdict clean" || fail "nothing listening: verdict clean"
expect_deliver 127.0.0.8 "decoy (fake 200 + fake 220)"
grep -qE 'client=\[127\.0\.0\.8\] test=http-connect:3128 result=closed reason=foreign-peer .*detail="220 mail.decoy.example' "$MLOG" &&
	pass "decoy: its fake banner is recognised as a foreign peer" || fail "decoy: foreign-peer logged"
grep -qE 'client=\[127\.0\.0\.8\] verdict=open-proxy' "$MLOG" && fail "decoy never open" || pass "decoy never open"
expect_deliver ::1 "IPv6 client ::1"
grep -qE 'verdict sess=.* client=\[::1\] verdict=clean' "$MLOG" &&
	pass "IPv6 client probed, verdict clean" || fail "IPv6 client verdict"

# second message from an open proxy: cache hit, reject again, no new probes
n_probe=$(grep -c 'probe-start .*client=\[127\.0\.0\.5\]' "$MLOG")
out=$(send_mail 127.0.0.5 "$RCPT")
echo "$out" | grep -q '<\*\* *550 5.7.1' && pass "cached verdict rejects again" || fail "cached verdict rejects again"
[ "$(grep -c 'probe-start .*client=\[127\.0\.0\.5\]' "$MLOG")" -eq "$n_probe" ] &&
	grep -qE 'cache sess=.* client=\[127\.0\.0\.5\] hit=yes verdict=open-proxy' "$MLOG" &&
	pass "second connection served from the table" || fail "second connection served from the table"

# postmaster@ is exempt even for an open proxy
before=$(sink_count)
out=$(send_mail 127.0.0.5 postmaster@test.invalid)
echo "$out" | grep -qE '<- *250 2\.0\.0 Ok: queued' && wait_sink $((before + 1)) &&
	pass "postmaster@ exempt for an open proxy" || fail "postmaster@ exempt"
grep -qE 'skip sess=.* reason=exempt-recipient to=postmaster@test.invalid stage=rcpt' "$MLOG" &&
	pass "exemption logged with its reason" || fail "exemption logged"

# Postfix's own log shows the milter's reply
grep -qE 'milter-reject: RCPT from unknown\[127\.0\.0\.2\]: 550 5\.7\.1 Client host \[127\.0\.0\.2\] is an open proxy' "$T/postfix/maillog" &&
	pass "Postfix logs the milter-reject" || fail "Postfix logs the milter-reject"

# forged copies of our header are removed from clean mail
before=$(sink_count)
send_mail 127.0.0.7 "$RCPT" --add-header "X-Proxy-Check: clean; host=forged" >/dev/null
wait_sink $((before + 1))
f=$(ls -t "$T"/postfix/sink/* | head -1)
grep -qi '^X-Proxy-Check:' "$f" && fail "client-supplied X-Proxy-Check removed" "$(grep -i '^X-Proxy-Check' "$f")" ||
	pass "client-supplied X-Proxy-Check removed"

# proxymilter-report on this log: the open proxies and their rejects
R=${R:-$TOP/build/tools/proxymilter-report}
rep=$("$R" --format json "$MLOG")
echo "$rep" | python3 -c '
import json, sys
r = json.load(sys.stdin)
o = {x["address"]: x for x in r["offenders"]}
rcpt = [a["stages"]["rcpt"] for a in r["actions"] if a["action"] == "reject"]
ok = (o["127.0.0.5"]["rejects"] == 2 and o["127.0.0.5"]["evidence"] == "socks5:1080" and
      o["127.0.0.2"]["rejects"] == 1 and o["127.0.0.2"]["evidence"] == "http-connect:3128" and
      rcpt == [5])
sys.exit(0 if ok else 1)' &&
	pass "proxymilter-report lists the open proxies and the 5 rejects" || fail "report on the real log" "$rep"

# timing figures for the closing note (informational)
for src in 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5; do
	e=$(grep -E "verdict sess=.* client=\[$src\] verdict=open-proxy" "$MLOG" | head -1 | sed -n 's/.*elapsed=\([0-9.]*s\).*/\1/p')
	echo "INFO: connect-to-verdict $src $e"
done

# ---- SOCKS4 alone against dante -------------------------------------------
stop_name milter
milter_conf "$T/socks4.conf" $MPORT $CPORT "" 'scan = [ "1080/socks4" ];'
start_milter milter-s4 "$T/socks4.conf" || fail "milter restarts (socks4 only)"
MLOG=$T/milter-s4/milter.log
expect_reject 127.0.0.4 'socks4:1080' "dante open via SOCKS4 only"
expect_deliver 127.0.0.5 "microsocks is not a SOCKS4 proxy"
grep -qE 'client=\[127\.0\.0\.5\] test=socks4:1080 result=closed reason=socks5-only' "$MLOG" &&
	pass "microsocks' SOCKS5 answer to SOCKS4 logged" || fail "microsocks socks5-only logged"

# ---- stage connect: what the client is told is what the log says ----------
stop_name milter-s4
for act in reject tempfail; do
	milter_conf "$T/conn-$act.conf" $MPORT $CPORT "" 'scan = [ "1080/socks5" ];' "stage = \"connect\"; on_open = \"$act\";"
	start_milter milter-c$act "$T/conn-$act.conf" || fail "milter restarts (connect, $act)"
	send_mail 127.0.0.5 "$RCPT" >/dev/null	# the first session starts the probes
	wait_for "$T/milter-c$act/milter.log" 'verdict sess=.* client=\[127\.0\.0\.5\] verdict=open-proxy' 5
	out=$(send_mail 127.0.0.5 "$RCPT")
	# Postfix greets a refused client with its own text ("554 HOST ESMTP
	# not accepting connections", "421 HOST Service unavailable") and logs
	# ours: the code is what the client sees, the text what Postfix logs
	seen=$(echo "$out" | sed -n 's/^ *<\*\* *\([45][0-9][0-9]\) .*/\1/p' | head -1)
	pflog=$(sed -n 's/.*milter-reject: CONNECT from [^ ]*: \(.*\); proto=SMTP$/\1/p' "$T/postfix/maillog" | tail -1)
	logged=$(sed -n 's/.* stage=connect .* reply="\([^"]*\)".* mta=own-banner.*/\1/p' "$T/milter-c$act/milter.log" | head -1)
	[ -n "$seen" ] && [ "${logged%% *}" = "$seen" ] && [ "$logged" = "$pflog" ] &&
		pass "stage connect, $act: logged code is what the client got ($seen), text what Postfix logged" ||
		fail "stage connect, $act: logged reply" "client saw '$seen', Postfix logged '$pflog', we logged '$logged'"
	stop_name milter-c$act
done

# ---- observe mode -----------------------------------------------------------
milter_conf "$T/observe.conf" $MPORT $CPORT 'mode = "observe";'
start_milter milter-obs "$T/observe.conf" || fail "milter restarts (observe)"
MLOG=$T/milter-obs/milter.log
expect_deliver 127.0.0.2 "observe mode: open proxy still delivered"
grep -qE 'would-reject sess=.* stage=rcpt client=unknown\[127\.0\.0\.2\]:[0-9]+ verdict=open-proxy evidence=http-connect:3128 reply="550 5\.7\.1 .*" .* mode=observe' "$MLOG" &&
	pass "observe mode logs would-reject" || fail "observe mode logs would-reject"
grep -qE ' reject sess=' "$MLOG" && fail "observe mode never rejects" || pass "observe mode never rejects"

# ---- tag mode -------------------------------------------------------------------
stop_name milter-obs
milter_conf "$T/tag.conf" $MPORT $CPORT "" "" 'on_open = "tag"; on_clean = "tag";'
start_milter milter-tag "$T/tag.conf" || fail "milter restarts (tag)"
MLOG=$T/milter-tag/milter.log
before=$(sink_count)
expect_deliver 127.0.0.5 "tag mode: open proxy delivered"
f=$(ls -t "$T"/postfix/sink/* | head -1)
grep -qE "^X-Proxy-Check: open-proxy socks5:1080 egress=127\.0\.0\.5; host=mta\.test\.invalid" "$f" &&
	pass "tag mode: header names the proxy, its egress and the MTA (macro j)" || fail "tag header (open)" "$(grep -i '^X-Proxy' "$f")"
expect_deliver 127.0.0.7 "tag mode: clean client delivered"
f=$(ls -t "$T"/postfix/sink/* | head -1)
grep -qE "^X-Proxy-Check: clean; host=" "$f" && pass "tag mode: clean header" || fail "tag header (clean)"
[ "$(grep -ci '^X-Proxy-Check:' "$f")" -eq 1 ] && pass "exactly one tag header" || fail "exactly one tag header"

# ---- target = "mta": proxies are asked to reach this Postfix -----------------
stop_name milter-tag
milter_conf "$T/mta.conf" $MPORT $CPORT "" "target = \"mta\"; mta_address = \"127.0.0.1:$PF_PORT\";"
start_milter milter-mta "$T/mta.conf" || fail "milter restarts (target mta)"
MLOG=$T/milter-mta/milter.log
expect_reject 127.0.0.2 'http-connect:3128' "target mta: squid reaches our MTA"
grep -qE 'probe-confirm sess=.* client=unknown\[127\.0\.0\.2\]:[0-9]+ helo=pxm-[0-9a-f]{32} result=confirmed egress=127\.0\.0\.2' "$MLOG" &&
	pass "target mta: the HELO callback confirmed the nonce" || fail "probe-confirm logged"
grep -qE 'probe sess=.* client=\[127\.0\.0\.2\] test=http-connect:3128 result=open reason=confirmed egress=127\.0\.0\.2' "$MLOG" &&
	pass "target mta: probe open, reason confirmed" || fail "probe confirmed"
expect_reject 127.0.0.5 'socks5:1080' "target mta: microsocks reaches our MTA"
wait_for "$T/postfix/maillog" 'disconnect from unknown\[127\.0\.0\.5\].* quit=1' 5 &&
	pass "target mta: the probe session ended with QUIT" || fail "probe session ended politely" "$(grep '127.0.0.5' "$T/postfix/maillog" | tail -3)"
expect_deliver 127.0.0.12 "target mta: squid secure cannot reach port $PF_PORT... delivered"
# a client that forges the shape of our nonce gets nothing for it: the open
# proxy at 127.0.0.2 is still rejected, and the forged header would go
before=$(sink_count)
out=$(send_mail 127.0.0.2 "$RCPT" --ehlo pxm-0123456789abcdef0123456789abcdef \
	--add-header "X-Proxy-Check: clean; host=forged")
echo "$out" | grep -qE '<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.2\] is an open proxy' &&
	pass "target mta: a forged pxm- EHLO does not accept the session" || fail "forged nonce EHLO" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -3 | tr '\n' ' ')"
sleep 0.3
[ "$(sink_count)" -eq "$before" ] && pass "target mta: nothing delivered for the forged nonce" || fail "forged nonce delivered"
grep -qE 'probe-confirm sess=.* client=unknown\[127\.0\.0\.2\]:[0-9]+ helo=pxm-0123456789abcdef0123456789abcdef result=unknown-nonce' "$MLOG" &&
	pass "target mta: the unknown nonce is logged as such" || fail "unknown nonce logged"
# ... and a clean client with a forged nonce keeps no forged header
before=$(sink_count)
send_mail 127.0.0.7 "$RCPT" --ehlo pxm-fedcba9876543210fedcba9876543210 \
	--add-header "X-Proxy-Check: clean; host=forged" >/dev/null
wait_sink $((before + 1))
f=$(ls -t "$T"/postfix/sink/* | head -1)
grep -qi '^X-Proxy-Check: clean; host=forged' "$f" && fail "forged header kept after a pxm- EHLO" ||
	pass "target mta: header removal is never skipped"
# the accepted mail's lines carry Postfix's queue id: the close line too
qid=$(sed -n 's/.* postfix-pmtest\/cleanup\[[0-9]*\]: \([0-9A-Za-z]*\): message-id=.*/\1/p' "$T/postfix/maillog" | tail -1)
[ -n "$qid" ] && grep -qE "$qid: close sess=[0-9a-f]{8} client=unknown\[127\.0\.0\.7\]" "$MLOG" &&
	pass "the close line of an accepted mail starts with Postfix's queue id ($qid)" ||
	fail "close line queue id" "qid=$qid $(grep 'close sess' "$MLOG" | tail -2)"

# ---- a unix socket, as the MTA's group: Postfix connects and rejects ------------
stop_name milter-mta
mkdir -p "$T/usock"
chown proxymilter "$T/usock"
milter_conf "$T/unix.conf" $MPORT $CPORT "socket_group = \"postfix\";"
sed -i "s|^socket = .*|socket = \"unix:$T/usock/pm.sock\";|; s|^user = \"\";|user = \"proxymilter\";|" "$T/unix.conf"
spawn milter-unix "$T/milter-unix.log" "$PM_BIN" -f -c "$T/unix.conf"
i=0; while [ ! -S "$T/usock/pm.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
set_postfix_milter "unix:$T/usock/pm.sock"
MLOG=$T/milter-unix.log
n0=$(wc -l <"$T/postfix/maillog")
expect_reject 127.0.0.5 'socks5:1080' "unix socket (0660, group postfix)"
tail -n +$((n0 + 1)) "$T/postfix/maillog" | grep -qi "milter.*\(can't connect\|connect.*fail\|Permission denied\)" &&
	fail "Postfix could not connect to the unix socket" || pass "Postfix connected to the unix socket"

summary
