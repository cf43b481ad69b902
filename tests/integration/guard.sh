#!/bin/bash
# Never again BOPM (design section 8): our own path must not lie to us.
#   self-test  selftest.address = 127.0.0.90, where a real squid answers on
#              3128 (an interceptor in our path would look like this):
#              on_fail = stop: the daemon refuses to start (exit 69);
#              on_fail = observe: it starts, logs the alarm and acts on
#              nothing until a later self-test passes (squid gone): an open
#              proxy found meanwhile is quarantined (its verdict was made on
#              a lying path); one found after is rejected.
#   uniformity clients in 127.1/16 .. 127.3/16 whose port 3128 is forwarded
#              (socat) to one open squid: one egress for three networks
#              (selftest.uniformity = 3): the first two are rejected, the
#              third's verdict is quarantined (accepted), with an alarm.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

MPORT=18890
CPORT=12526
RCPT=user@remote.test.invalid

start_squid intercept open 127.0.0.90 && start_squid squid open 127.0.0.2 &&
start_squid squid2 open 127.0.0.3 &&
start_postfix "inet:127.0.0.1:$MPORT" || { fail "squid and postfix start"; summary; exit 1; }

# ---- the self-test fails: stop ----
milter_conf "$T/stop.conf" $MPORT $CPORT 'selftest: { address = "127.0.0.90"; on_fail = "stop"; };' \
	'scan = [ "3128" ];'
out=$(timeout 60 "$PM_BIN" -f -c "$T/stop.conf" 2>&1); rc=$?
[ $rc -eq 69 ] && echo "$out" | grep -q 'alarm selftest=127.0.0.90 answer=http-connect:3128' &&
	echo "$out" | grep -q 'self-test: 127.0.0.90 answered: our outbound traffic is intercepted' &&
	pass "self-test answered, on_fail = stop: no start, exit 69, the reason logged" ||
	fail "self-test stop" "rc=$rc $(echo "$out" | tail -3 | tr '\n' '|')"

# ---- the self-test fails: observe until it passes ----
milter_conf "$T/obs.conf" $MPORT $CPORT 'selftest: { address = "127.0.0.90"; on_fail = "observe"; interval = 2; };' \
	'scan = [ "3128" ];'
start_milter milter "$T/obs.conf" || { fail "milter starts (observe)"; summary; exit 1; }
MLOG=$T/milter/milter.log
wait_for "$MLOG" 'alarm selftest=127.0.0.90 answer=http-connect:3128 .* on_fail=observe' 15 &&
	pass "self-test answered, on_fail = observe: started, alarm logged" || fail "observe alarm" "$(grep alarm "$MLOG")"
out=$(send_mail 127.0.0.2 "$RCPT")
echo "$out" | grep -qE '<- *250 2\.0\.0 Ok: queued' &&
	grep -qE 'verdict sess=[0-9a-f]+ client=\[127\.0\.0\.2\] verdict=open-proxy quarantined=selftest' "$MLOG" &&
	pass "while the alarm lasts, an open proxy is not acted on: quarantined, accepted" ||
	fail "observe: no action" "$(grep -E 'client=\[127.0.0.2\] verdict' "$MLOG" | tail -1)"
stop_name intercept
wait_for "$MLOG" "selftest selftest=127\.0\.0\.90 result=pass acting=again" 15 &&
	pass "a later self-test passes: acting again" || fail "self-test pass" "$(grep selftest "$MLOG" | tail -2)"
out=$(send_mail 127.0.0.3 "$RCPT")
echo "$out" | grep -qE '<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.3\] is an open proxy' &&
	pass "then an open proxy found is rejected" || fail "acting again" "$(echo "$out" | grep -E '^ *<' | tail -2 | tr '\n' ' ')"

# ---- uniformity: one egress for three networks ----
stop_name milter
for n in 1 2 3; do
	spawn "fwd$n" "$T/fwd$n.log" socat TCP-LISTEN:3128,bind=127.$n.0.1,fork,reuseaddr TCP:127.0.0.2:3128
	wait_listen "127.$n.0.1" 3128 10 || fail "socat on 127.$n.0.1"
done
milter_conf "$T/uni.conf" $MPORT $CPORT 'selftest: { address = "127.0.0.253"; uniformity = 3; uniformity_window = 300; };' \
	'scan = [ "3128" ];'
start_milter milter-uni "$T/uni.conf" || { fail "milter starts (uniformity)"; summary; exit 1; }
MLOG=$T/milter-uni/milter.log
for n in 1 2; do
	out=$(send_mail "127.$n.0.1" "$RCPT")
	echo "$out" | grep -qE "<\*\* *550 5\.7\.1 Client host \[127\.$n\.0\.1\] is an open proxy" &&
		pass "127.$n.0.1: open proxy, rejected (network $n of 3)" || fail "127.$n.0.1 rejected"
done
out=$(send_mail 127.3.0.1 "$RCPT")
echo "$out" | grep -qE '<- *250 2\.0\.0 Ok: queued' && pass "127.3.0.1: the third network with that egress: accepted" ||
	fail "127.3.0.1 accepted" "$(echo "$out" | grep -E '^ *<' | tail -2 | tr '\n' ' ')"
egress=$(grep -oE 'client=\[127\.1\.0\.1\] verdict=open-proxy evidence=[^ ]+ egress=[0-9.]+' "$MLOG" | head -1 | sed 's/.*egress=//')
grep -qE "alarm uniformity=\"egress $egress\" networks=3 window=300s .* quarantine=300s" "$MLOG" &&
	pass "uniformity alarm: egress $egress for 3 networks" || fail "uniformity alarm" "$(grep alarm "$MLOG")"
grep -qE "verdict sess=[0-9a-f]+ client=\[127\.3\.0\.1\] verdict=open-proxy quarantined=\"egress $egress\"" "$MLOG" &&
	pass "127.3.0.1: its verdict logged as open-proxy, quarantined, not acted on" ||
	fail "quarantined verdict" "$(grep 'client=\[127.3.0.1\]' "$MLOG" | grep verdict)"
summary
