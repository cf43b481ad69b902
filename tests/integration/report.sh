#!/bin/bash
# proxymilter-report on a fixed log (syslog prefixes, quoted values, other
# programs' lines, a broken line, a provisional verdict) and on a real one.
. "$(dirname "$0")/../lib/common.sh"
R=${R:-$TOP/build/tools/proxymilter-report}
[ -x "$R" ] || { fail "proxymilter-report built"; summary; exit 1; }
cat >"$T/mail.log" <<'LOG'
Nov 21 10:00:00 mx proxymilter[812]: start version=0.1.0 config=/etc/proxymilter.conf socket=inet:8890@127.0.0.1
Nov 21 10:00:01 mx postfix/smtpd[4411]: connect from unknown[203.0.113.9]
Nov 21 10:00:01 mx proxymilter[812]: NOQUEUE: connect sess=5f3a1c0e client=unknown[203.0.113.9]:51234 daemon=mx
Nov 21 10:00:01 mx proxymilter[812]: NOQUEUE: probe-start sess=5f3a1c0e client=[203.0.113.9] tests=11 timeout=15.0s
Nov 21 10:00:01 mx proxymilter[812]: NOQUEUE: probe sess=5f3a1c0e client=[203.0.113.9] test=socks5:1080 result=open reason=proved egress=203.0.113.9 elapsed=0.400s
Nov 21 10:00:01 mx proxymilter[812]: NOQUEUE: probe sess=5f3a1c0e client=[203.0.113.9] test=http-connect:3128 result=closed reason=refused elapsed=0.100s
Nov 21 10:00:01 mx proxymilter[812]: NOQUEUE: verdict sess=5f3a1c0e client=[203.0.113.9] verdict=open-proxy evidence=socks5:1080 egress=203.0.113.9 ttl=86400 tests=11 open=1 closed=10 inconclusive=0 elapsed=0.412s
Nov 21 10:00:02 mx proxymilter[812]: NOQUEUE: reject sess=5f3a1c0e stage=rcpt client=unknown[203.0.113.9]:51234 verdict=open-proxy evidence=socks5:1080 reply="550 5.7.1 Client host [203.0.113.9] is an open proxy (socks5:1080)" from=<a@b.example> to=<c@d.example> helo="<\"quoted helo\">"
Nov 21 10:00:02 mx proxymilter[812]: NOQUEUE: reject sess=5f3a1c0e stage=rcpt client=unknown[203.0.113.9]:51234 verdict=open-proxy evidence=socks5:1080 reply="550 5.7.1 x" to=<e@d.example>
Nov 21 10:00:03 mx proxymilter[812]: NOQUEUE: connect sess=1be0f0aa client=x[192.0.2.80]:5500
Nov 21 10:00:03 mx proxymilter[812]: NOQUEUE: probe-start sess=1be0f0aa client=[192.0.2.80] tests=11 timeout=15.0s
Nov 21 10:00:04 mx proxymilter[812]: NOQUEUE: verdict sess=1be0f0aa client=[192.0.2.80] verdict=error reason=inconclusive final=no ttl=300 elapsed=4.000s
Nov 21 10:00:09 mx proxymilter[812]: NOQUEUE: verdict sess=1be0f0aa client=[192.0.2.80] verdict=clean late=yes ttl=3600 elapsed=9.000s
Nov 21 10:00:09 mx proxymilter[812]: 4Bf2kN1xyzz: tag sess=1be0f0aa client=x[192.0.2.80]:5500 verdict=pending header=X-Proxy-Check value="pending; host=mx"
Nov 21 10:00:10 mx proxymilter[812]: NOQUEUE: connect sess=77ab0912 client=pc9[192.0.2.44]:61000
Nov 21 10:00:10 mx proxymilter[812]: NOQUEUE: skip sess=77ab0912 client=pc9[192.0.2.44]:61000 reason=authenticated user=alice stage=mail
Nov 21 10:00:11 mx proxymilter[812]: NOQUEUE: cache sess=9c01d2aa client=[203.0.113.9] hit=yes verdict=open-proxy age=10s
Nov 21 10:00:12 mx proxymilter[812]: garbage without = signs here
Nov 21 10:00:13 mx proxymilter[812]: NOQUEUE: verdict sess=2c0ffee0 client=[192.0.2.81] verdict=error reason=inconclusive final=no ttl=300 tests=1 open=0 closed=0 inconclusive=1 elapsed=4.000s
Nov 21 10:00:19 mx proxymilter[812]: NOQUEUE: verdict sess=2c0ffee0 client=[192.0.2.81] verdict=error reason=inconclusive late=yes ttl=300 tests=1 open=0 closed=0 inconclusive=1 elapsed=9.000s
Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: would-reject sess=44e9a001 stage=rcpt client=[203.0.113.50]:4242 verdict=open-proxy mode=observe
LOG
out=$("$R" "$T/mail.log"); rc=$?
[ $rc -eq 0 ] && pass "report runs" || fail "report runs" "rc=$rc"
echo "$out" | grep -qE '^proxymilter-report: 21 lines read, 20 from proxymilter, 1 unparsable$' && pass "counts lines, skips others and broken ones" || fail "line counts" "$(echo "$out" | head -1)"
echo "$out" | grep -qE '^connections 3, probed 2, cache hits 1, joined 0$' && pass "connections, probes, cache hits" || fail "totals" "$(echo "$out" | sed -n 3p)"
echo "$out" | grep -qE '^ +1  clean$' && echo "$out" | grep -qE '^ +1  open-proxy$' && echo "$out" | grep -qE '^ +1  error$' &&
	pass "provisional verdicts are not counted, the final one is (also when retries changed nothing)" || fail "verdict counts" "$out"
echo "$out" | grep -qE '^ +2  reject at rcpt$' && echo "$out" | grep -qE '^ +1  would-reject at rcpt$' && pass "actions by stage" || fail "actions by stage"
echo "$out" | grep -qE '^ +1 +2  \[203\.0\.113\.9\] +socks5:1080 egress=203\.0\.113\.9$' && pass "open proxy with its rejects and evidence" || fail "open proxy row" "$out"
echo "$out" | grep -qE '^ +1 +1 +0 +0 +0\.400s  socks5:1080$' && pass "tests with results and mean time" || fail "test rows"
echo "$out" | grep -qE '^ +1  authenticated$' && pass "skips by reason" || fail "skips by reason"
out=$("$R" -c "[192.0.2.80]" "$T/mail.log")
echo "$out" | grep -qE '^connections 1, probed 1' && ! echo "$out" | grep -q '203.0.113.9' && pass "-c filters by client" || fail "-c filter" "$out"
out=$(cat "$T/mail.log" | "$R" -n 0) && echo "$out" | grep -q 'socks5:1080' && pass "reads stdin" || fail "reads stdin"
"$R" "$T/missing.log" >/dev/null 2>&1; [ $? -eq 66 ] && pass "missing file: EX_NOINPUT" || fail "missing file"
"$R" -n x >/dev/null 2>&1; [ $? -eq 64 ] && pass "bad option value: EX_USAGE" || fail "bad -n"
head -c 200000 /dev/urandom >"$T/noise.log"
"$R" "$T/noise.log" >/dev/null 2>&1; [ $? -eq 0 ] && pass "binary noise does not crash it" || fail "binary noise"
python3 -c 'import sys
for i in range(3000):
    sys.stdout.write("x proxymilter[1]: NOQUEUE: ev%d k=%s\n" % (i, "v" * 20000))' >"$T/long.log"
out=$("$R" "$T/long.log" 2>&1); [ $? -eq 0 ] && echo "$out" | grep -q '^proxymilter-report: 3000 lines read, 3000 from proxymilter, 3000 unparsable$' &&
	pass "overlong lines are skipped whole" || fail "overlong lines" "$(echo "$out" | head -1)"
summary
