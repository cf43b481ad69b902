#!/bin/bash
# connect_back: proxymilter talks SMTP to each client's own port 25 (opt-in).
# Our MTA: a private Postfix on 127.0.0.1:12525 with proxymilter; mail is sent
# from each client address with swaks.  The clients' own servers, on :25:
#   127.0.0.70  real Postfix, an open relay (mynetworks 127/8)   -> relay-rcpt: open-relay, reject
#   127.0.0.71  real Postfix, a closed relay                      -> banner=ok, accept
#   127.0.0.72  rblsmtpd (ucspi-tcp) in front of a server         -> banner=rblsmtpd, accept
#   127.0.0.73  an ISP interceptor (fake: 554 "use your ISP's...")-> banner=intercepted, accept
#   127.0.0.74  socat forwarding :25 back to our own MTA          -> banner=ours (its greeting
#                                                                    names our MTA), no relay test
#   127.0.0.79  a forwarder to our MTA that rewrites the greeting -> banner=ours (our MTA saw
#               (fake: an appliance in front)                        the EHLO's nonce), no relay test
#   127.0.0.76  a server whose greeting names our own host (fake) -> banner=ours, no EHLO
#   127.0.0.75  nothing listening                                  -> refused, no finding
#   127.0.0.77  "220-" for ever; 127.0.0.78 a 1 MB line            -> banner=none, bounded
#   127.4.0.1 .. 127.6.0.1: three /16s whose port 25 is one Postfix (the open relay): one greeting
#               host for four networks with 127.0.0.70 (uniformity = 4) -> the last quarantined
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

MPORT=18890
CPORT=12526
RCPT=user@remote.test.invalid
OURS=probe.test.invalid

for p in swaks postfix socat tcpserver rblsmtpd; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { fail "prerequisite $p installed"; summary; exit 1; }
done

start_client_postfix openrelay 127.0.0.70 &&
start_client_postfix closed 127.0.0.71 "mynetworks = 127.0.0.250/32" &&
start_client_postfix v6 ::1 "mynetworks = 127.0.0.250/32" ||
	{ fail "the clients' Postfix servers start"; summary; exit 1; }
mkdir -p "$T/rbl"
spawn rblsmtpd "$T/rbl/log" env RBLSMTPD="-Your address is listed" \
	tcpserver -HRl0 127.0.0.72 25 rblsmtpd -b true
wait_listen 127.0.0.72 25 10 || { fail "rblsmtpd starts"; summary; exit 1; }
start_fake interceptor interceptor 127.0.0.73 25 &&
start_fake named smtp-named-$OURS 127.0.0.76 25 &&
start_fake endless smtp-endless 127.0.0.77 25 &&
start_fake hugeline smtp-hugeline 127.0.0.78 25 &&
start_fake rewrite "rewrite-$PF_PORT" 127.0.0.79 25 || { fail "fakes start"; summary; exit 1; }
spawn forward "$T/forward.log" socat TCP-LISTEN:25,bind=127.0.0.74,fork,reuseaddr TCP:127.0.0.1:$PF_PORT
wait_listen 127.0.0.74 25 10 || { fail "socat starts"; summary; exit 1; }

for n in 4 5 6; do
	spawn "fwd$n" "$T/fwd$n.log" socat TCP-LISTEN:25,bind=127.$n.0.1,fork,reuseaddr TCP:127.0.0.70:25
	wait_listen "127.$n.0.1" 25 10 || { fail "socat on 127.$n.0.1:25"; summary; exit 1; }
done
milter_conf "$T/cb.conf" $MPORT $CPORT "connect_back: { enable = true; timeout = 4.0;
  helo_name = \"$OURS\"; relay_test = \"rcpt\"; relay_address = \"probe@ours.test.invalid\"; };
selftest: { address = \"127.0.0.253\"; uniformity = 4; };" \
	'scan = [ "3128" ];' 'on_relay = "reject";'
start_milter milter "$T/cb.conf" || { fail "milter starts"; summary; exit 1; }
start_postfix "inet:127.0.0.1:$MPORT" || { fail "postfix starts"; summary; exit 1; }
pass "two client Postfix servers, rblsmtpd, socat, the fakes, milter and our Postfix started"
MLOG=$T/milter/milter.log

mail_from() { # mail_from SRC: swaks' transcript; its run time in $T/took
	local t0 t1 server=127.0.0.1
	case "$1" in *:*) server=::1 ;; esac
	t0=$(date +%s.%N)
	swaks --server "$server" --port $PF_PORT --local-interface "$1" --ehlo client.test.invalid \
		--from sender@test.invalid --to "$RCPT" --timeout 40 2>&1
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc >"$T/took"
}
verdict_line() { grep -E "verdict sess=[0-9a-f]+ client=\[$1\] " "$MLOG" | tail -1; }
cb_line() { grep -E "probe sess=[0-9a-f]+ client=\[$1\] test=connect-back:25 " "$MLOG" | tail -1; }
info() {
	echo "INFO: $1: $(verdict_line "$2" | grep -oE ' (verdict|score|ttl|elapsed)=[^ ]*| findings="[^"]*"| findings=[^ ]*' | tr -d '\n') took=$(cat "$T/took")s"
}
expect() { # expect SRC REGEX NAME
	local out
	out=$(mail_from "$1")
	if echo "$out" | grep -qE "$2"; then pass "$3"; else
		fail "$3" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -3 | tr '\n' ' ')"; fi
}
ACCEPT='<- *250 2\.0\.0 Ok: queued'

expect 127.0.0.70 '<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.70\] is an open relay' \
	"127.0.0.70 (open relay): rejected, is an open relay"
verdict_line 127.0.0.70 | grep -E 'verdict=open-relay ' | grep 'relay-rcpt=25' | grep -q 'banner=ok' &&
	pass "127.0.0.70: verdict open-relay with relay-rcpt=25 and banner=ok" ||
	fail "127.0.0.70: verdict" "$(verdict_line 127.0.0.70)"
grep -q 'banner-host=mx\.openrelay\.invalid' "$MLOG" && pass "127.0.0.70: the banner's host recorded" ||
	fail "127.0.0.70: banner-host"
cb_line 127.0.0.70 | grep -qE "detail=\".*RCPT TO:<probe\+pxm-[0-9a-f]{32}@ours\.test\.invalid> 250 2\.1\.5 Ok" &&
	pass "127.0.0.70: RCPT TO:<probe+pxm-NONCE@ours.test.invalid> accepted (250), in the detail" ||
	fail "127.0.0.70: the nonce in the RCPT" "$(cb_line 127.0.0.70)"
grep -q 'disconnect from .* ehlo=1 mail=1 rcpt=1 rset=1 quit=1 commands=5' "$T/openrelay/maillog" &&
	pass "127.0.0.70: EHLO, MAIL, RCPT, RSET, QUIT: never DATA" ||
	fail "127.0.0.70: the session's commands" "$(grep disconnect "$T/openrelay/maillog" | tail -1)"
info "open relay" 127.0.0.70

expect 127.0.0.71 "$ACCEPT" "127.0.0.71 (closed relay): accepted"
verdict_line 127.0.0.71 | grep -E 'verdict=clean ' | grep 'banner=ok' | grep -vq 'relay-rcpt' &&
	pass "127.0.0.71: clean, banner=ok, no relay finding" || fail "127.0.0.71: verdict" "$(verdict_line 127.0.0.71)"
grep -q 'disconnect from .* rcpt=0/1' "$T/closed/maillog" && pass "127.0.0.71: its Postfix refused our RCPT" ||
	fail "127.0.0.71: RCPT refused" "$(grep disconnect "$T/closed/maillog" | tail -1)"
info "closed relay" 127.0.0.71

expect 127.0.0.72 "$ACCEPT" "127.0.0.72 (rblsmtpd): accepted"
verdict_line 127.0.0.72 | grep -q 'banner=rblsmtpd' && pass "127.0.0.72: banner=rblsmtpd" ||
	fail "127.0.0.72: rblsmtpd" "$(verdict_line 127.0.0.72) $(cb_line 127.0.0.72)"
info "rblsmtpd" 127.0.0.72

expect 127.0.0.73 "$ACCEPT" "127.0.0.73 (ISP interceptor): accepted"
verdict_line 127.0.0.73 | grep -q 'banner=intercepted' && pass "127.0.0.73: banner=intercepted" ||
	fail "127.0.0.73: interceptor" "$(verdict_line 127.0.0.73) $(cb_line 127.0.0.73)"
cb_line 127.0.0.73 | grep -q "reason=intercepted .*detail=\"5\.7\.1 Port 25 blocked: please use your ISP's SMTP server" &&
	pass "127.0.0.73: its words in the detail" || fail "127.0.0.73: detail" "$(cb_line 127.0.0.73)"
info "interceptor" 127.0.0.73

expect 127.0.0.74 "$ACCEPT" "127.0.0.74 (its port 25 leads back to us): accepted"
verdict_line 127.0.0.74 | grep 'banner=ours' | grep -vq 'banner-host' &&
	cb_line 127.0.0.74 | grep -q 'reason=ours .*detail="mta\.test\.invalid ESMTP' &&
	pass "127.0.0.74: banner=ours: the greeting names our MTA (macro j)" ||
	fail "127.0.0.74: ours" "$(verdict_line 127.0.0.74) $(cb_line 127.0.0.74)"
info "forwards to us" 127.0.0.74
expect 127.0.0.79 "$ACCEPT" "127.0.0.79 (leads back to us, greeting rewritten): accepted"
grep -qE "probe-confirm sess=[0-9a-f]+ client=unknown\[127\.0\.0\.1\]:[0-9]+ helo=pxm-[0-9a-f]{32}\.$OURS result=confirmed" "$MLOG" &&
	pass "127.0.0.79: our milter saw the connect-back's EHLO nonce arrive at our MTA" ||
	fail "127.0.0.79: probe-confirm" "$(grep probe-confirm "$MLOG" | tail -1)"
verdict_line 127.0.0.79 | grep 'banner=ours' | grep -vq 'relay-rcpt' && pass "127.0.0.79: banner=ours, no relay finding" ||
	fail "127.0.0.79: ours" "$(verdict_line 127.0.0.79) $(cb_line 127.0.0.79)"
! grep -q 'pxm-.*@ours\.test\.invalid' "$T/postfix/maillog" &&
	pass "127.0.0.74, .79: no relay test against our own MTA" || fail "a relay test ran against us"
info "forwards to us, greeting rewritten" 127.0.0.79

expect 127.0.0.76 "$ACCEPT" "127.0.0.76 (greeting names our host): accepted"
verdict_line 127.0.0.76 | grep -q 'banner=ours' && pass "127.0.0.76: banner=ours from the greeting" ||
	fail "127.0.0.76: ours" "$(verdict_line 127.0.0.76) $(cb_line 127.0.0.76)"
info "greeting names us" 127.0.0.76

mail_from ::1 >/dev/null 2>&1 || true
grep -qE "probe sess=[0-9a-f]+ client=\[::1\] test=connect-back:25 result=closed reason=ok findings=\"banner=ok banner-host=mx\.v6\.invalid\"" "$MLOG" &&
	pass "::1: connect-back over IPv6 to a real Postfix on [::1]:25" ||
	fail "::1: connect-back" "$(grep 'client=\[::1\] test=connect-back' "$MLOG")"
expect 127.0.0.75 "$ACCEPT" "127.0.0.75 (nothing on 25): accepted"
cb_line 127.0.0.75 | grep -q 'result=closed reason=refused' && pass "127.0.0.75: refused, no finding" ||
	fail "127.0.0.75: refused" "$(cb_line 127.0.0.75)"
info "nothing on 25" 127.0.0.75

expect 127.0.0.77 "$ACCEPT" "127.0.0.77 (220- for ever): accepted"
cb_line 127.0.0.77 | grep -q 'reason=not-smtp findings="\?banner=none' && pass "127.0.0.77: banner=none, cut at the line cap" ||
	fail "127.0.0.77: endless banner" "$(cb_line 127.0.0.77)"
info "endless banner" 127.0.0.77
expect 127.0.0.78 "$ACCEPT" "127.0.0.78 (a 1 MB line): accepted"
cb_line 127.0.0.78 | grep -q 'reason=not-smtp findings="\?banner=none' && pass "127.0.0.78: banner=none, the line capped" ||
	fail "127.0.0.78: huge line" "$(cb_line 127.0.0.78)"
info "1 MB line" 127.0.0.78

# one greeting host for four networks: an interceptor's mark (uniformity)
for n in 4 5; do
	expect "127.$n.0.1" '<\*\* *550 5\.7\.1 .* is an open relay' "127.$n.0.1 (port 25: the open relay): rejected"
done
expect 127.6.0.1 "$ACCEPT" "127.6.0.1 (the same greeting host, a fourth /16): accepted"
grep -q 'alarm uniformity="banner mx.openrelay.invalid" networks=4' "$MLOG" &&
	pass "uniformity alarm: one greeting host for four networks" || fail "banner uniformity alarm" "$(grep alarm "$MLOG")"
verdict_line 127.6.0.1 | grep -q 'verdict=open-relay quarantined="banner mx.openrelay.invalid"' &&
	pass "127.6.0.1: open-relay quarantined, not acted on" || fail "banner quarantine" "$(verdict_line 127.6.0.1)"

# ---- relay_test confirm and backscatter_test: messages that come back ----
#   127.0.0.80  real Postfix, an open relay that delivers to our MTA (and
#               discards mail for its own domain)                           -> relay-confirmed
#   127.0.0.81  real Postfix, a closed relay that accepts mail for a user of
#               its own domain it lacks, then bounces it to the sender (our
#               nonce-bounce address, through our MTA)                      -> backscatter
#   127.0.0.82  a fake that says 250 to everything, even to DATA            -> relay-rcpt only
start_client_postfix deliverer 127.0.0.80 "default_transport = smtp
relay_transport = relay
relayhost = [127.0.0.1]:$PF_PORT
mydestination = deliverer.invalid
local_transport = discard:its own users" &&
start_client_postfix bouncer 127.0.0.81 "mydestination = bouncer.invalid
mynetworks = 127.0.0.250/32
smtpd_reject_unlisted_recipient = no
local_transport = error:5.1.1 user unknown
default_transport = smtp
relay_transport = relay
relayhost = [127.0.0.1]:$PF_PORT" || fail "the relaying and bouncing Postfix servers start"
stop_name milter
milter_conf "$T/cb2.conf" $MPORT $CPORT "connect_back: { enable = true; timeout = 8.0;
  helo_name = \"$OURS\"; relay_test = \"confirm\"; relay_address = \"probe@ours.test.invalid\";
  backscatter_test = true; };" 'scan = [ "3128" ];' 'on_relay = "reject";'
start_fake yes250 smtp-named-mx.yes.invalid 127.0.0.82 25 || fail "the 250-to-everything fake starts"
start_milter milter2 "$T/cb2.conf" || { fail "milter restarts (confirm, backscatter)"; summary; exit 1; }
MLOG=$T/milter2/milter.log
sink0=$(sink_count)

expect 127.0.0.80 '<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.80\] is an open relay' \
	"127.0.0.80 (relays to us): rejected once its probe came back"
verdict_line 127.0.0.80 | grep 'verdict=open-relay ' | grep -q 'relay-confirmed=25' &&
	pass "127.0.0.80: open-relay by relay-confirmed=25" || fail "127.0.0.80: verdict" "$(verdict_line 127.0.0.80)"
grep -qE "probe-confirm sess=[0-9a-f]+ client=unknown\[127\.0\.0\.1\]:[0-9]+ to=<probe\+pxm-[0-9a-f]{32}@ours\.test\.invalid> from=<> result=confirmed" "$MLOG" &&
	pass "127.0.0.80: our milter knew its probe at RCPT (null sender)" || fail "127.0.0.80: probe-confirm" "$(grep probe-confirm "$MLOG" | tail -2)"
grep -q 'discard sess=.* reason=probe-message' "$MLOG" && pass "127.0.0.80: the probe message was discarded" ||
	fail "127.0.0.80: discard"
grep -q 'disconnect from .* ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5' "$T/deliverer/maillog" &&
	pass "127.0.0.80: one message, then QUIT (an open relay without a verified rDNS name gets no backscatter probe)" ||
	fail "127.0.0.80: its commands" "$(grep disconnect "$T/deliverer/maillog" | tail -1)"
info "open relay, confirmed" 127.0.0.80
nonce=$(grep -oE 'to=<probe\+pxm-[0-9a-f]{32}@ours\.test\.invalid> from=<> result=confirmed' "$MLOG" | head -1 | grep -oE 'pxm-[0-9a-f]{32}')

expect 127.0.0.81 '<- *250 2\.0\.0 Ok: queued' "127.0.0.81 (bounces): accepted"
wait_for "$MLOG" "verdict sess=[0-9a-f]+ client=\[127\.0\.0\.81\] .*backscatter=bouncer\.invalid\(2\)" 15 &&
	pass "127.0.0.81: backscatter=bouncer.invalid(2): its bounce reached us" ||
	fail "127.0.0.81: backscatter" "$(verdict_line 127.0.0.81) $(cb_line 127.0.0.81)"
grep -qE "probe-confirm sess=.* to=<probe\+pxm-[0-9a-f]{32}-bounce@ours\.test\.invalid> from=<> result=confirmed" "$MLOG" &&
	pass "127.0.0.81: the bounce (null sender, to our -bounce address) known and discarded" ||
	fail "127.0.0.81: bounce confirm" "$(grep probe-confirm "$MLOG" | tail -2)"
info "backscatter" 127.0.0.81

expect 127.0.0.82 "$ACCEPT" "127.0.0.82 (250 to everything, even DATA): accepted"
verdict_line 127.0.0.82 | grep 'verdict=clean' | grep 'relay-rcpt=25' | grep -vq 'relay-confirmed' &&
	pass "127.0.0.82: RCPT accepted but nothing came back: relay-rcpt (a sign), clean" ||
	fail "127.0.0.82: 250 server" "$(verdict_line 127.0.0.82) $(cb_line 127.0.0.82)"

# a probe address again (a second delivery: discarded, proves nothing), and
# a forged nonce-shaped address (just an address: delivered)
if [ -n "$nonce" ]; then
	before=$(sink_count)
	out=$(swaks --server 127.0.0.1 --port $PF_PORT --local-interface 127.0.0.7 --from x@test.invalid \
		--to "probe+$nonce@ours.test.invalid" --timeout 20 2>&1)
	grep -qE "to=<probe\+$nonce@ours\.test\.invalid> from=<x@test\.invalid> result=again" "$MLOG" &&
		sleep 1 && [ "$(sink_count)" -eq "$before" ] &&
		pass "a second delivery of a probe: known (result=again), discarded" || fail "second delivery"
fi
before=$(sink_count)
swaks --server 127.0.0.1 --port $PF_PORT --local-interface 127.0.0.7 --from x@test.invalid \
	--to "probe+pxm-0123456789abcdef0123456789abcdef@ours.test.invalid" --timeout 20 >/dev/null 2>&1
wait_sink $((before + 1)) && ! grep -q 'pxm-0123456789abcdef0123456789abcdef.*result=' "$MLOG" &&
	pass "a forged nonce-shaped address is just an address: delivered" || fail "forged nonce"
! grep -lE '^Subject: (relay|bounce) test pxm-' "$T"/postfix/sink/* 2>/dev/null | grep -q . &&
	[ "$(sink_count)" -gt "$sink0" ] &&
	pass "no probe message and no bounce of one reached a mailbox (the sink)" ||
	fail "probes in the sink" "$(grep -lE '^Subject: (relay|bounce) test pxm-' "$T"/postfix/sink/* | head -3)"
summary
