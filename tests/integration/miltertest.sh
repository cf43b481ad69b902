#!/bin/bash
# The milter protocol, driven by miltertest against the real binary over inet
# sockets.  Nine proxymilter instances run side by side, one per
# configuration; microsocks on 127.0.0.5 and on [::1] are the open proxies,
# 127.0.0.7 has nothing listening (clean).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT
command -v miltertest >/dev/null || { fail "miltertest installed"; summary; exit 1; }

start_microsocks ms4 127.0.0.5 1080 && start_microsocks ms6 ::1 1080 &&
	start_fake flaky flaky 127.0.0.36 3128 && start_fake busy busy 127.0.0.37 3128 ||
	{ fail "peers start"; summary; exit 1; }

# instance: name port canary-port top-level probe action
declare -A PORT
n=0
inst() {
	local name=$1 top=$2 action=$3
	local port=$((18891 + n)) cport=$((12531 + n))
	n=$((n + 1))
	PORT[$name]=$port
	milter_conf "$T/$name.conf" $port $cport "$top" 'scan = [ "1080/socks5", "3128" ];' "$action"
	start_milter "$name" "$T/$name.conf" || fail "milter $name starts"
}
inst connect "" 'stage = "connect";'
inst helo "" 'stage = "helo";'
inst mail "" 'stage = "mail";'
inst rcpt "" 'stage = "rcpt";'
inst eom "" 'stage = "eom";'
inst tempfail "" 'on_open = "tempfail";'
inst tag "" 'on_open = "tag"; on_clean = "tag";'
inst observe 'mode = "observe";' ''
inst allow 'allow = [ "127.0.0.0/8" ]; skip_daemon_names = [ "ORIGINATING" ];' ''
inst tagsess "" 'stage = "helo"; on_open = "tag"; on_clean = "tag";'
n=$((n + 1)); PORT[rl]=$((18891 + n))
milter_conf "$T/rl.conf" ${PORT[rl]} $((12531 + n)) "" 'scan = [ "3128" ]; rate_limit = 2;' ''
start_milter rl "$T/rl.conf" || fail "milter rl starts"

mt() { # mt NAME INSTANCE key=value...
	local name=$1 i=$2; shift 2
	local args=() kv
	for kv in "$@"; do args+=(-D "$kv"); done
	miltertest -D "name=$name" -D "sock=inet:${PORT[$i]}@127.0.0.1" "${args[@]}" -s "$TOP/tests/lua/txn.lua" 2>&1 |
		while read -r line; do
			case "$line" in PASS:*|FAIL:*) echo "$line" ;; *) echo "  $line" ;; esac
		done
}
run() { # collect PASS/FAIL lines into the counters
	local out; out=$(mt "$@")
	echo "$out"
	NPASS=$((NPASS + $(echo "$out" | grep -c '^PASS:')))
	NFAIL=$((NFAIL + $(echo "$out" | grep -c '^FAIL:')))
	echo "$out" | grep -qE '^(PASS|FAIL):' || fail "$1" "miltertest printed no result"
}
H=mta.test.invalid	# the MTA's name, macro j (not this machine's hostname)

run "stage connect: open proxy rejected at connect" connect ip=127.0.0.5 "expect=connect REPLYCODE"
grep -qE 'NOQUEUE: reject sess=.* stage=connect .* reply="554 5\.7\.1 Client host \[127\.0\.0\.5\] is an open proxy' "$T/connect/milter.log" &&
	pass "stage connect: the reply logged is the 554 the client gets" || fail "connect reply 554" "$(grep 'reject sess' "$T/connect/milter.log")"
run "stage helo: open proxy rejected at HELO" helo ip=127.0.0.5 "expect=helo REPLYCODE"
run "stage mail: open proxy rejected at MAIL" mail ip=127.0.0.5 "expect=mail REPLYCODE"
run "stage rcpt: open proxy rejected at RCPT" rcpt ip=127.0.0.5 "expect=rcpt REPLYCODE"
run "stage eom: open proxy rejected at end of message" eom ip=127.0.0.5 "expect=eom REPLYCODE"
run "stage rcpt: IPv6 open proxy (::1) rejected" rcpt ip=::1 "expect=rcpt REPLYCODE"
run "IPv4 clean client runs through" rcpt ip=127.0.0.7 "expect=eom CONTINUE" nohdr=1
run "v4-mapped client is the IPv4 client" rcpt ip=::ffff:127.0.0.5 "expect=rcpt REPLYCODE"
run "tempfail action" tempfail ip=127.0.0.5 "expect=rcpt REPLYCODE"
run "tag: open proxy tagged at eom" tag ip=127.0.0.5 "expect=eom CONTINUE" \
	"hdr=open-proxy socks5:1080 egress=127.0.0.5; host=$H"
run "tag: IPv6 open proxy tagged" tag ip=::1 "expect=eom CONTINUE" "hdr=open-proxy socks5:1080 egress=127.0.0.1; host=$H"
run "tag: clean client tagged clean" tag ip=127.0.0.7 "expect=eom CONTINUE" "hdr=clean; host=$H"
run "forged header deleted, ours inserted" tag ip=127.0.0.7 "expect=eom CONTINUE" "forged=clean; host=evil" "hdr=clean; host=$H"
run "forged header deleted without tagging" rcpt ip=127.0.0.7 "expect=eom CONTINUE" "forged=clean" nohdr=1
run "observe: open proxy runs through" observe ip=127.0.0.5 "expect=eom CONTINUE" nohdr=1
grep -qE '^.*QID1: would-reject sess=[0-9a-f]{8} stage=rcpt ' "$T/observe/milter.log" &&
	pass "observe: the would-reject line carries the queue id" || fail "would-reject queue id" "$(grep would- "$T/observe/milter.log")"
grep -qE '^.*QID1: close sess=' "$T/observe/milter.log" &&
	pass "the close line carries the last message's queue id" || fail "close queue id" "$(grep close "$T/observe/milter.log")"
# a tag decided at helo holds for every message of the session
run "tag at helo: both messages of a session tagged" tagsess ip=127.0.0.5 wait=1 msgs=2 "expect=eom CONTINUE" \
	"hdr=open-proxy socks5:1080 egress=127.0.0.5; host=$H"
[ "$(grep -cE 'QID[12]: tag sess=' "$T/tagsess/milter.log")" -eq 2 ] &&
	pass "tag at helo: two tag lines, one per queue id" || fail "tag lines" "$(grep ' tag ' "$T/tagsess/milter.log")"
run "postmaster@ exempt at rcpt" rcpt ip=127.0.0.5 "rcpt=<postmaster@test.invalid>" "expect=eom CONTINUE"
run "exempt recipient at eom stage needs all recipients exempt" eom ip=127.0.0.5 "rcpt=<abuse@test.invalid>" "expect=eom CONTINUE"
run "authenticated sender skipped" rcpt ip=127.0.0.5 auth=alice "expect=eom CONTINUE"
run "allowlisted client accepted at connect" allow ip=127.0.0.5 "expect=connect ACCEPT"
run "unknown address family: never probed" rcpt ip=unspec "expect=eom CONTINUE"
run "skip_daemon_names: submission not probed" observe ip=127.0.0.9 daemon=ORIGINATING "expect=eom CONTINUE"

# rate limit: 2 new probe sets a minute for 127.0.0.0/24, the third waits
run "rate limit: 1st new client probed" rl ip=127.0.0.50 "expect=eom CONTINUE"
run "rate limit: 2nd new client probed" rl ip=127.0.0.51 "expect=eom CONTINUE"
run "rate limit: 3rd new client not probed, still served" rl ip=127.0.0.52 "expect=eom CONTINUE"
[ "$(grep -c 'probe-start' "$T/rl/milter.log")" -eq 2 ] &&
	grep -qE 'skip sess=.* client=client\.test\.invalid\[127\.0\.0\.52\]:[0-9]+ reason=rate-limit limit=per-24' "$T/rl/milter.log" &&
	pass "rate limit: two probe sets, then a logged skip" || fail "rate limit logged" "$(grep -E 'probe-start|skip' "$T/rl/milter.log")"

# hostile macros and arguments: no crash, the next session still works
# (miltertest itself overflows on arguments over ~1 KB: hostile-mta.py below
#  sends the big and broken ones)
long=$(head -c 900 /dev/zero | tr '\0' 'A')
run "900-byte HELO survives" rcpt ip=127.0.0.7 "helo=$long" "expect=eom CONTINUE"
run "control bytes in HELO and RCPT survive" rcpt ip=127.0.0.5 "helo=$(printf 'a\tb\033[31m')" "rcpt=<$(printf 'x\001y')@z>" "expect=rcpt REPLYCODE"
run "empty RCPT survives" rcpt ip=127.0.0.7 "rcpt=" "expect=eom CONTINUE"
out=$(python3 "$TOP/tests/fakes/hostile-mta.py" 127.0.0.1 "${PORT[rcpt]}" 2>&1)
[ "$(echo "$out" | grep -c '^sent:')" -ge 15 ] && pass "hostile MTA: 15 broken sessions sent" || fail "hostile MTA ran" "$out"
run "still serving after hostile input" rcpt ip=127.0.0.5 "expect=rcpt REPLYCODE"

# an overloaded proxy: 503 first (inconclusive), relayed on the retry 2 s later;
# the provisional verdict (error) is replaced by the late open one
run "late open after a background retry" rcpt ip=127.0.0.36 wait=4 "expect=rcpt REPLYCODE"
grep -qE 'verdict sess=.* client=\[127\.0\.0\.36\] verdict=error reason=inconclusive final=no' "$T/rcpt/milter.log" &&
	grep -qE 'verdict sess=.* client=\[127\.0\.0\.36\] verdict=open-proxy evidence=http-connect:3128 egress=127\.0\.0\.1 late=yes' "$T/rcpt/milter.log" &&
	pass "provisional error, then the late open verdict, both logged" || fail "late verdict logged" "$(grep '127.0.0.36' "$T/rcpt/milter.log" | grep verdict)"

# always overloaded: the retry changes nothing, and the final line is still
# written (the report counts finals only); the provisional one counts the
# test being retried as inconclusive
run "a proxy that stays overloaded" rcpt ip=127.0.0.37 "expect=eom CONTINUE"
wait_for "$T/rcpt/milter.log" 'verdict sess=.* client=\[127\.0\.0\.37\] verdict=error reason=inconclusive late=yes' 10 &&
	grep -qE 'verdict sess=.* client=\[127\.0\.0\.37\] verdict=error reason=inconclusive final=no .*inconclusive=1 ' "$T/rcpt/milter.log" &&
	pass "retries that change nothing: provisional (inconclusive=1) and final lines" ||
	fail "final line after unchanged retries" "$(grep '127.0.0.37' "$T/rcpt/milter.log" | grep verdict)"
L=$T/rcpt/milter.log
grep -qE 'connect sess=[0-9a-f]{8} client=client\.test\.invalid\[::1\]:[0-9]+' "$L" && pass "IPv6 client logged in canonical form" || fail "IPv6 connect logged"
grep -qE 'connect sess=[0-9a-f]{8} client=client\.test\.invalid\[127\.0\.0\.5\]' "$L" && pass "v4-mapped logged as IPv4" || fail "v4-mapped logged as IPv4"
grep -q $'\033' "$L" && fail "no raw control bytes in the log" || pass "no raw control bytes in the log"
grep -qE 'helo=<a\?b\?\[31m>' "$L" && grep -qE 'to=<x\?y@z>' "$L" && pass "control bytes logged as ?" || fail "control bytes logged as ?"
grep -qE 'skip sess=.* reason=authenticated user=alice stage=mail' "$T/rcpt/milter.log" || grep -qE 'skip sess=.* reason=authenticated user=alice' "$L" &&
	pass "authenticated skip logged" || fail "authenticated skip logged"
grep -qE 'skip sess=.* reason=allowlist rule=127\.0\.0\.0/8' "$T/allow/milter.log" && pass "allowlist skip logged with its rule" || fail "allowlist skip logged"
grep -qE 'skip sess=.* reason=daemon-name daemon=ORIGINATING' "$T/observe/milter.log" && pass "daemon-name skip logged" || fail "daemon-name skip logged"
grep -qE 'would-reject sess=.* mode=observe' "$T/observe/milter.log" && pass "observe logs would-reject" || fail "observe logs would-reject"
grep -qE 'tempfail sess=.* reply="451 4\.7\.1 Client host \[127\.0\.0\.5\] is being checked, try again later"' "$T/tempfail/milter.log" &&
	pass "tempfail reply logged" || fail "tempfail reply logged"
dead=""
for i in connect helo mail rcpt eom tempfail tag observe allow rl tagsess; do
	alive "$(cat "$T/$i.pid" 2>/dev/null)" || dead="$dead $i"
done
[ -z "$dead" ] && pass "all eleven milters survived" || fail "all eleven milters survived" "dead:$dead"
summary
