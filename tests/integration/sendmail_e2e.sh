#!/bin/bash
# End to end with Sendmail 8.17 (INPUT_MAIL_FILTER, F=T): an open proxy is
# rejected at RCPT with our reply, a closed host's mail is queued, an IPv6-free
# secure proxy too; tag mode adds the header to the queued message.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT
[ -x "$SENDMAIL_PREFIX/usr/libexec/sendmail/sendmail" ] || { fail "sendmail unpacked (bootstrap.sh --test)"; summary; exit 1; }

MPORT=18890
milter_conf "$T/enforce.conf" $MPORT 12526 "" "" 'pending_wait = 5.0;'
sed -i 's/pending_wait = 8.0;//' "$T/enforce.conf"
start_milter milter "$T/enforce.conf" || { fail "milter starts"; summary; exit 1; }
start_sendmail "inet:$MPORT@127.0.0.1" || { fail "sendmail starts"; summary; exit 1; }
start_squid squid-open open 127.0.0.2 && start_dante dante-secure secure 127.0.0.14 &&
	start_microsocks microsocks 127.0.0.5 || { fail "proxies start"; summary; exit 1; }
pass "sendmail, milter and proxies started"
MLOG=$T/milter/milter.log

sm_send() { # sm_send SRC [swaks args]: one message to Sendmail from SRC
	local src=$1; shift
	swaks --server 127.0.0.1 --port $SM_PORT --local-interface "$src" --ehlo client.test.invalid \
		--from sender@test.invalid --to user@remote.test.invalid --timeout 30 "$@" 2>&1
}

for spec in "127.0.0.2 http-connect:3128 squid" "127.0.0.5 socks5:1080 microsocks"; do
	set -- $spec
	before=$(sm_queue_count)
	out=$(sm_send "$1")
	echo "$out" | grep -qE "<\*\* *550 5\.7\.1 (<[^>]*>\.\.\. )?Client host \[$1\] is an open proxy \($2\)" &&
		pass "sendmail: $3 rejected at RCPT with our reply" ||
		fail "sendmail: $3 rejected" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -3 | tr '\n' ' ')"
	[ "$(sm_queue_count)" -eq "$before" ] && pass "sendmail: $3: nothing queued" || fail "sendmail: $3: nothing queued"
done
for spec in "127.0.0.14 dante-secure" "127.0.0.7 nothing-listening"; do
	set -- $spec
	before=$(sm_queue_count)
	out=$(sm_send "$1")
	echo "$out" | grep -qE '<- *250 2\.0\.0 .* Message accepted for delivery' &&
		[ "$(sm_queue_count)" -eq $((before + 1)) ] && pass "sendmail: $2 accepted and queued" ||
		fail "sendmail: $2 accepted" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -3 | tr '\n' ' ')"
done
grep -qE 'connect sess=[0-9a-f]{8} client=.*\[127\.0\.0\.2\]:[0-9]+ daemon=MTA-pmtest' "$MLOG" &&
	pass "sendmail's {daemon_name} reaches the milter" || fail "daemon_name from sendmail"
grep -qE '^.*: [A-Za-z0-9]+: reject sess=.* to=<user@remote\.test\.invalid>' "$MLOG" &&
	pass "sendmail gives the queue id at MAIL: reject lines carry it" || fail "queue id in reject line" "$(grep ' reject ' "$MLOG" | head -1)"

# tag mode: the header reaches the queued message (qf file holds headers)
stop_name milter
milter_conf "$T/tag.conf" $MPORT 12526 "" "" 'on_open = "tag"; on_clean = "tag";'
start_milter milter-tag "$T/tag.conf" || fail "milter restarts (tag)"
before=$(sm_queue_count)
sm_send 127.0.0.5 --add-header "X-Proxy-Check: clean; host=forged" >/dev/null
[ "$(sm_queue_count)" -eq $((before + 1)) ] && pass "sendmail tag mode: open proxy queued" || fail "tag mode queued"
qf=$(ls -t "$T"/sendmail/mqueue/qf* | head -1)
grep -qE "X-Proxy-Check: open-proxy socks5:1080 egress=127\.0\.0\.5; host=" "$qf" &&
	pass "sendmail tag mode: header in the queued message" || fail "tag header queued" "$(grep -i proxy-check "$qf")"
grep -q 'host=forged' "$qf" && fail "forged header removed with sendmail" || pass "forged header removed with sendmail"
summary
