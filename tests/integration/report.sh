#!/bin/bash
# proxymilter-report: fixed logs (every event kind, broken lines, hostile
# strings in HELO, addresses and evidence; JSON checked with python3's
# json, CSV with its csv module), rotated gzip'ed and plain files in
# reverse order, stdin, --since/--until/-d, RFC 3339 and RFC 3164 logs, a
# year rollover, exit codes; then a real run (Postfix, the milter, squid
# and microsocks as open proxies, clean clients, an observe-mode reload):
# after SIGUSR2 the report's totals equal the stats line's, field by field.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
R=${R:-$TOP/build/tools/proxymilter-report}
[ -x "$R" ] || { fail "proxymilter-report built"; summary; exit 1; }
export TZ=UTC
trap stop_all EXIT

# jtest NAME FILE EXPR: EXPR (Python, j = the JSON) is true
jtest() {
	local name=$1 file=$2 expr=$3 out
	out=$(python3 - "$file" "$expr" <<'PY' 2>&1
import json, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))
r = eval(sys.argv[2])
print("ok" if r is True else "got: %r" % (r,))
PY
)
	[ "$out" = ok ] && pass "$name" || fail "$name" "$(echo "$out" | tail -1 | cut -c1-300)"
}

# ---- a fixed log with every event kind ------------------------------------------
L=$T/mail.log
P='mx proxymilter[812]:'
cat >"$L" <<LOG
Nov 21 10:00:00 $P start version=0.1.0 config=/etc/proxymilter.conf socket=inet:8890@127.0.0.1
Nov 21 10:00:00 $P control-start socket=/run/proxymilter/ctl.sock mode=0600
Nov 21 10:00:00 $P metrics listen=127.0.0.1:9100 path=/metrics
Nov 21 10:00:00 $P selftest selftest=127.0.0.253 result=pass
Nov 21 10:00:00 $P fleet redis=127.0.0.1:6379 state=up
Nov 21 10:00:01 mx postfix/smtpd[4411]: connect from unknown[203.0.113.9]
Nov 21 10:00:01 $P NOQUEUE: connect sess=5f3a1c0e client=unknown[203.0.113.9]:51234 daemon=mx
Nov 21 10:00:01 $P NOQUEUE: probe-start sess=5f3a1c0e client=[203.0.113.9] tests=11 timeout=15.0s deadline=40.0s
Nov 21 10:00:01 $P NOQUEUE: probe sess=5f3a1c0e client=[203.0.113.9] test=socks5:1080 result=open reason=proved egress=203.0.113.9 elapsed=0.400s
Nov 21 10:00:01 $P NOQUEUE: probe sess=5f3a1c0e client=[203.0.113.9] test=http-connect:3128 result=closed reason=refused elapsed=0.100s
Nov 21 10:00:01 $P NOQUEUE: probe sess=5f3a1c0e client=[203.0.113.9] test=http-connect:3128 result=inconclusive reason=timeout elapsed=0.300s
Nov 21 10:00:01 $P NOQUEUE: verdict sess=5f3a1c0e client=[203.0.113.9] verdict=open-proxy evidence=socks5:1080 egress=203.0.113.9 country=NL ttl=86400 tests=11 open=1 closed=10 inconclusive=0 elapsed=0.412s
Nov 21 10:00:02 $P NOQUEUE: reject sess=5f3a1c0e stage=rcpt client=unknown[203.0.113.9]:51234 verdict=open-proxy evidence=socks5:1080 reply="550 5.7.1 Client host [203.0.113.9] is an open proxy (socks5:1080)" from=<a@b.example> to=<c@d.example> helo="<\"quoted helo\">"
Nov 21 10:00:02 $P NOQUEUE: reject sess=5f3a1c0e stage=rcpt client=unknown[203.0.113.9]:51234 verdict=open-proxy evidence=socks5:1080 reply="550 5.7.1 x" to=<e@d.example>
Nov 21 10:00:02 $P NOQUEUE: close sess=5f3a1c0e client=unknown[203.0.113.9]:51234 msgs=0 rcpts=0 rejected=2 duration=1.000s
Nov 21 10:00:03 $P NOQUEUE: connect sess=1be0f0aa client=x[192.0.2.80]:5500
Nov 21 10:00:03 $P NOQUEUE: probe-start sess=1be0f0aa client=[192.0.2.80] tests=11 timeout=15.0s
Nov 21 10:00:04 $P NOQUEUE: verdict sess=1be0f0aa client=[192.0.2.80] verdict=error reason=inconclusive final=no ttl=300 elapsed=4.000s
Nov 21 10:00:09 $P NOQUEUE: verdict sess=1be0f0aa client=[192.0.2.80] verdict=clean late=yes ttl=3600 elapsed=9.000s
Nov 21 10:00:09 $P 4Bf2kN1xyzz: tag sess=1be0f0aa client=x[192.0.2.80]:5500 verdict=clean header=X-Proxy-Check value="clean; host=mx"
Nov 21 10:00:09 $P 4Bf2kN1xyzz: strip sess=1be0f0aa header=X-Proxy-Check count=1
Nov 21 10:00:10 $P NOQUEUE: connect sess=77ab0912 client=pc9[192.0.2.44]:61000
Nov 21 10:00:10 $P NOQUEUE: probe-start sess=77ab0912 client=[192.0.2.44] tests=11 timeout=15.0s
Nov 21 10:00:10 $P NOQUEUE: verdict sess=77ab0912 client=[192.0.2.44] verdict=clean ttl=3600 elapsed=1.000s
Nov 21 10:00:11 $P NOQUEUE: skip sess=77ab0912 client=pc9[192.0.2.44]:61000 reason=authenticated user=alice stage=mail
Nov 21 10:00:12 $P garbage without = signs here
Nov 21 10:00:12 $P NOQUEUE: verdict sess=2c0ffee0 client=[192.0.2.81] verdict="error reason=unterminated
Nov 21 10:00:12 $P NOQUEUE: reject sess=2c0ffee0 stage=banana client=x[192.0.2.81]:1 verdict=open-proxy
Nov 21 10:00:12 $P NOQUEUE: verdict sess=2c0ffee0 client=[192.0.2.81] verdict=purple elapsed=1.000s
Nov 31 10:00:12 $P NOQUEUE: connect sess=2c0ffee0 client=x[192.0.2.81]:1
Nov 21 10:00:13 $P NOQUEUE: probe-confirm sess=2c0ffee1 client=x[192.0.2.82]:1 helo=pxm-abc result=unknown-nonce
Nov 21 10:00:14 $P error msg="cannot add header for sess=2c0ffee1"
Nov 22 09:00:00 $P NOQUEUE: connect sess=9c01d2aa client=unknown[203.0.113.9]:40000
Nov 22 09:00:00 $P NOQUEUE: cache sess=9c01d2aa client=[203.0.113.9] hit=yes verdict=open-proxy evidence=socks5:1080 age=82800s
Nov 22 09:00:00 $P NOQUEUE: reject sess=9c01d2aa stage=connect client=unknown[203.0.113.9]:40000 verdict=open-proxy evidence=socks5:1080 reply="554 5.7.1 x" mta=own-banner
Nov 22 09:00:01 $P NOQUEUE: connect sess=aa000001 client=a[198.51.100.7]:1
Nov 22 09:00:01 $P NOQUEUE: cache sess=aa000001 client=[198.51.100.7] hit=inflight
Nov 22 09:00:02 $P NOQUEUE: connect sess=aa000002 client=b[198.51.100.8]:2
Nov 22 09:00:02 $P NOQUEUE: skip sess=aa000002 client=b[198.51.100.8]:2 reason=rate-limit limit=per-24
Nov 22 09:00:03 $P NOQUEUE: tempfail sess=aa000002 stage=rcpt client=b[198.51.100.8]:2 verdict=error reply="451 4.7.1 Client host [198.51.100.8] is being checked, try again later"
Nov 22 09:10:00 $P NOQUEUE: connect sess=aa000003 client=c[198.51.100.9]:3
Nov 22 09:10:00 $P NOQUEUE: probe-start sess=aa000003 client=[198.51.100.9] tests=11 timeout=15.0s
Nov 22 09:10:01 $P NOQUEUE: probe sess=aa000003 client=[198.51.100.9] test=dnsbl:0 result=closed reason=listed findings=dnsbl=zen(5) elapsed=0.050s
Nov 22 09:10:01 $P NOQUEUE: verdict sess=aa000003 client=[198.51.100.9] verdict=listed evidence=zen.example score=5 country=DE ttl=600 elapsed=0.200s
Nov 22 09:10:02 $P NOQUEUE: reject sess=aa000003 stage=mail client=c[198.51.100.9]:3 verdict=listed evidence=zen.example reply="550 5.7.1 x"
Nov 22 09:20:00 $P NOQUEUE: connect sess=aa000004 client=d[198.51.100.10]:4
Nov 22 09:20:00 $P NOQUEUE: probe-start sess=aa000004 client=[198.51.100.10] tests=11 timeout=15.0s
Nov 22 09:20:01 $P NOQUEUE: verdict sess=aa000004 client=[198.51.100.10] verdict=suspect score=2 findings="fcrdns=fail(1) helo=mismatch(1)" country=DE ttl=600 elapsed=0.300s
Nov 22 09:20:02 $P 5Cq3mP2abcd: tag sess=aa000004 client=d[198.51.100.10]:4 verdict=suspect header=X-Proxy-Check value="suspect score=2"
Nov 22 09:30:00 $P NOQUEUE: connect sess=aa000005 client=e[198.51.100.11]:5
Nov 22 09:30:00 $P NOQUEUE: probe-start sess=aa000005 client=[198.51.100.11] tests=12 timeout=15.0s
Nov 22 09:30:05 $P NOQUEUE: verdict sess=aa000005 client=[198.51.100.11] verdict=open-relay evidence=connect-back:25 country=US ttl=86400 elapsed=5.000s
Nov 22 09:30:06 $P 6Dr4nQ3bcde: reject sess=aa000005 stage=eom client=e[198.51.100.11]:5 verdict=open-relay evidence=connect-back:25 reply="550 5.7.1 x"
Nov 22 09:40:00 $P NOQUEUE: connect sess=aa000006 client=f[198.51.100.12]:6
Nov 22 09:40:00 $P NOQUEUE: probe-start sess=aa000006 client=[198.51.100.12] tests=11 timeout=15.0s
Nov 22 09:40:01 $P NOQUEUE: verdict sess=aa000006 client=[198.51.100.12] verdict=open-proxy quarantined=uniformity evidence=http-connect:8080 ttl=60 elapsed=1.000s
Nov 22 09:50:00 $P NOQUEUE: would-reject sess=aa000007 stage=rcpt client=g[203.0.113.50]:4242 verdict=open-proxy evidence=socks4:1080 mode=observe
Nov 22 09:50:01 $P NOQUEUE: would-tempfail sess=aa000008 stage=helo client=h[198.51.100.13]:5 verdict=error mode=observe
Nov 22 09:50:02 $P NOQUEUE: would-tag sess=aa000009 stage=eom client=i[198.51.100.14]:6 verdict=suspect mode=observe
Nov 22 09:50:03 $P NOQUEUE: fleet sess=aa00000a client=[198.51.100.15] from=redis verdict=clean age=5s
Nov 22 09:50:04 $P flush client=[203.0.113.9] by=control uid=0 flushed=1
Nov 22 09:50:05 $P alarm uniformity=egress networks=12 window=600 quarantine=egress:192.0.2.1
Nov 22 09:59:00 $P stats connections=99 probed=99
Nov 22 09:59:59 $P stop
LOG
# hostile strings: markup, quotes, commas, control bytes, bytes that are not UTF-8
printf '%s\n' "Nov 21 10:00:20 $P NOQUEUE: connect sess=e0000008 client=\"<script>alert(1)</script>[203.0.113.66]:666\"" >>"$L"
printf '%s\n' "Nov 21 10:00:20 $P NOQUEUE: probe-start sess=e0000008 client=[203.0.113.66] tests=11" >>"$L"
printf 'Nov 21 10:00:21 %s NOQUEUE: verdict sess=e0000008 client=[203.0.113.66] verdict=open-proxy evidence="<img src=x onerror=alert(1)>,\\"q\\"\\\\ \001\033[31m\377\376\303\251" country="<b>" elapsed=1.000s\n' "$P" >>"$L"
printf '%s\n' "Nov 21 10:00:22 $P NOQUEUE: reject sess=e0000008 stage=rcpt client=\"<script>alert(1)</script>[203.0.113.66]:666\" verdict=open-proxy reply=\"550 x\" from=\"<\\\"a,b\\\"@x.example>\" helo=\"<script>alert('helo')</script>\"" >>"$L"
# a line of 20000 bytes, one with a NUL byte, a proxymilter line without a time
{ printf 'Nov 21 10:00:23 %s NOQUEUE: connect sess=e0000009 client=x[192.0.2.9]:1 pad=' "$P"; head -c 20000 /dev/zero | tr '\0' a; echo; } >>"$L"
printf 'Nov 21 10:00:24 %s NOQUEUE: connect sess=e000000a client=x[192.0.2.10]:1 a=\000b\n' "$P" >>"$L"
printf '%s\n' "$P NOQUEUE: connect sess=e000000b client=x[192.0.2.11]:1" >>"$L"
touch -d "2026-11-23 12:00:00" "$L"
NL=$(wc -l <"$L")

"$R" --format json "$L" >"$T/r.json"; rc=$?
[ $rc -eq 0 ] && pass "fixed log: JSON report runs" || fail "fixed log: JSON report" "rc=$rc"
python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$T/r.json" &&
	pass "JSON is valid (python3 json, strict UTF-8)" || fail "JSON valid"
jtest "schema version 1" "$T/r.json" 'j["schema"] == 1'
jtest "lines read: all $NL" "$T/r.json" "j['input']['lines'] == $NL"
jtest "ours and bad: 5 unparsable (garbage, open quote, bad stage, bad class, Nov 31) + 20000-byte line + NUL line + no time" \
	"$T/r.json" '(j["input"]["ours"], j["input"]["bad"]) == ('"$((NL - 1))"', 8)'
jtest "totals" "$T/r.json" 'j["totals"] == {"connections": 11, "probed": 8, "cache_hits": 1, "joined": 1,
	"skipped": 2, "rate_limited": 1, "provisional": 1, "open": 2, "relay": 1, "listed": 1, "suspect": 1,
	"clean": 2, "error": 1, "rejected": 6, "tempfailed": 1, "tagged": 2, "would": 3}'
jtest "a quarantined verdict counts as error" "$T/r.json" '[v["count"] for v in j["verdicts"]] == [2, 1, 1, 1, 2, 1]'
jtest "mean time to verdict" "$T/r.json" 'j["verdicts"][0]["mean_elapsed"] == 0.706 and j["verdicts"][4]["mean_elapsed"] == 5.0'
jtest "actions by stage" "$T/r.json" '[(a["action"], a["total"], a["stages"]) for a in j["actions"] if a["total"]] == [
	("reject", 6, {"connect": 1, "helo": 0, "mail": 1, "rcpt": 3, "eom": 1}),
	("tempfail", 1, {"connect": 0, "helo": 0, "mail": 0, "rcpt": 1, "eom": 0}),
	("tag", 2, {"connect": 0, "helo": 0, "mail": 0, "rcpt": 0, "eom": 2}),
	("would-reject", 1, {"connect": 0, "helo": 0, "mail": 0, "rcpt": 1, "eom": 0}),
	("would-tempfail", 1, {"connect": 0, "helo": 1, "mail": 0, "rcpt": 0, "eom": 0}),
	("would-tag", 1, {"connect": 0, "helo": 0, "mail": 0, "rcpt": 0, "eom": 1})]'
jtest "offenders sorted by rejects, with verdicts, rejects, class" "$T/r.json" '[(o["address"], o["class"], o["verdicts"], o["rejects"]) for o in j["offenders"]] == [
	("203.0.113.9", "open-proxy", 1, 3), ("198.51.100.11", "open-relay", 1, 1), ("198.51.100.9", "listed", 1, 1),
	("203.0.113.66", "open-proxy", 1, 1), ("198.51.100.10", "suspect", 1, 0), ("198.51.100.14", "suspect", 0, 0),
	("203.0.113.50", "open-proxy", 0, 0)]'
jtest "offender first/last seen across days, evidence, country" "$T/r.json" '([(o["first"], o["last_unix"], o["evidence"], o["country"]) for o in j["offenders"]][0] ==
	("2026-11-21T10:00:01+00:00", 1795338000, "socks5:1080", "NL"))'
jtest "hostile evidence comes back byte for byte (invalid UTF-8 as Latin-1)" "$T/r.json" \
	'j["offenders"][3]["evidence"] == "<img src=x onerror=alert(1)>,\"q\"\\ \x01\x1b[31m\xff\xfe\xe9" and j["offenders"][3]["country"] == "<b>"'
grep -q '<img\|<script\|<b>' "$T/r.json" && fail "no raw markup in the JSON" "$(grep -o '.<img.\{20\}' "$T/r.json")" ||
	pass "no raw markup in the JSON (< > & escaped)"
LC_ALL=C grep -q "$(printf '[\001-\010\013-\037]')" "$T/r.json" && fail "no raw control byte in the JSON" || pass "no raw control byte in the JSON"
jtest "tests by protocol and port" "$T/r.json" '[(t["test"], t["protocol"], t["port"], t["run"], t["open"], t["closed"], t["inconclusive"], t["mean_elapsed"]) for t in j["tests"]] == [
	("http-connect:3128", "http-connect", 3128, 2, 0, 1, 1, 0.2), ("dnsbl:0", "dnsbl", 0, 1, 0, 1, 0, 0.05),
	("socks5:1080", "socks5", 1080, 1, 1, 0, 0, 0.4)]'
jtest "per day" "$T/r.json" 'j["days"] == [{"date": "2026-11-21", "connections": 4, "probed": 4, "detections": 2, "rejects": 3},
	{"date": "2026-11-22", "connections": 7, "probed": 4, "detections": 2, "rejects": 3}]'
jtest "per hour" "$T/r.json" 'j["hours"][10] == 4 and j["hours"][9] == 7 and sum(j["hours"]) == 11'
jtest "skips by reason" "$T/r.json" 'j["skips"] == [{"reason": "authenticated", "count": 1}, {"reason": "rate-limit", "count": 1}]'
jtest "countries of final verdicts" "$T/r.json" 'j["countries"] == [{"country": "DE", "count": 2}, {"country": "<b>", "count": 1},
	{"country": "NL", "count": 1}, {"country": "US", "count": 1}]'
jtest "period from the lines" "$T/r.json" 'j["period"]["first"] == "2026-11-21T10:00:00+00:00" and j["period"]["last"] == "2026-11-22T09:59:59+00:00" and j["period"]["since"] is None'

# text
out=$("$R" "$L"); rc=$?
[ $rc -eq 0 ] && pass "text report runs" || fail "text report runs" "rc=$rc"
echo "$out" | grep -qE "^proxymilter-report: $NL lines read, $((NL - 1)) from proxymilter, 8 unparsable$" &&
	pass "text: line counts" || fail "text: line counts" "$(echo "$out" | head -1)"
echo "$out" | grep -qE '^connections 11, probed 8, cache hits 1, joined 1$' && pass "text: totals" || fail "text: totals"
echo "$out" | grep -qE '^  reject +1 +0 +1 +3 +1 +6$' && echo "$out" | grep -qE '^  would-tag +0 +0 +0 +0 +1 +1$' &&
	pass "text: actions by stage" || fail "text: actions by stage" "$(echo "$out" | grep -A7 '^Actions')"
echo "$out" | grep -qE '^  203\.0\.113\.9 +open-proxy +1 +3 2026-11-21 10:00:01 2026-11-22 09:00:00 NL  socks5:1080$' &&
	pass "text: offender row" || fail "text: offender row" "$(echo "$out" | grep -A3 '^Offenders')"
echo "$out" | grep -qE '^  http-connect:3128 +2 +0 +1 +1 +0\.200s$' && pass "text: test row" || fail "text: test row"
echo "$out" | grep -qE '^  2026-11-22 +7 +4 +2 +3$' && pass "text: per day" || fail "text: per day"
echo "$out" | LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177-\377]')" && fail "text output is printable ASCII" ||
	pass "text output is printable ASCII (no escape sequence reaches a terminal)"

# CSV: every table parses, header first, CRLF, hostile values round-trip
for t in offenders verdicts actions tests days hours skips countries; do
	"$R" --format csv --table "$t" "$L" >"$T/$t.csv" || fail "csv $t written"
done
"$R" --format csv "$L" | cmp -s - "$T/offenders.csv" && pass "csv: offenders is the default table" || fail "csv default table"
out=$(python3 - "$T" <<'PY'
import csv, sys
t = sys.argv[1]
def rows(name):
    raw = open("%s/%s.csv" % (t, name), "rb").read()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b""), name + ": CRLF only"
    return list(csv.reader(open("%s/%s.csv" % (t, name), newline="", encoding="utf-8")))
h = {"offenders": ["address", "class", "evidence", "country", "first", "first_unix", "last", "last_unix", "verdicts", "rejects"],
     "verdicts": ["class", "count", "timed", "mean_elapsed"], "actions": ["action", "stage", "count"],
     "tests": ["test", "protocol", "port", "run", "open", "closed", "inconclusive", "mean_elapsed"],
     "days": ["date", "connections", "probed", "detections", "rejects"], "hours": ["hour", "connections"],
     "skips": ["reason", "count"], "countries": ["country", "count"]}
n = {"offenders": 7, "verdicts": 6, "actions": 30, "tests": 3, "days": 2, "hours": 24, "skips": 2, "countries": 4}
for name in h:
    r = rows(name)
    assert r[0] == h[name], (name, r[0])
    assert len(r) == n[name] + 1, (name, len(r))
    assert all(len(x) == len(h[name]) for x in r), name + ": field counts"
o = rows("offenders")
hostile = [x for x in o if x[0] == "203.0.113.66"][0]
assert hostile[2] == '<img src=x onerror=alert(1)>,"q"\\ ??[31m\xff\xfe\xe9', repr(hostile[2])
assert o[1][:4] == ["203.0.113.9", "open-proxy", "socks5:1080", "NL"] and o[1][8:] == ["1", "3"], o[1]
a = rows("actions")
assert ["reject", "rcpt", "3"] in a and ["would-tempfail", "helo", "1"] in a
print("ok")
PY
)
[ "$out" = ok ] && pass "csv: every table parses (python3 csv), header, CRLF, field counts, hostile evidence quoted" ||
	fail "csv tables" "$out"

# ---- rotated files: gzip'ed and plain, in reverse order; stdin --------------------
head -33 "$L" | gzip >"$T/mail.log.1.gz"
touch -d "2026-11-22 00:00:00" "$T/mail.log.1.gz"
tail -n +34 "$L" >"$T/mail.log.0"
touch -d "2026-11-23 12:00:00" "$T/mail.log.0"
"$R" --format json "$T/mail.log.0" "$T/mail.log.1.gz" >"$T/rot.json"
python3 - "$T/r.json" "$T/rot.json" <<'PY' && pass "a gzip'ed rotated log and a plain one in reverse order: the same report" || fail "rotated files in reverse order"
import json, sys
a, b = (json.load(open(f, encoding="utf-8")) for f in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY

# ---- since / until / -d ------------------------------------------------------------------
"$R" --format json --since 2026-11-22 "$L" >"$T/s.json"
jtest "--since a day" "$T/s.json" 'j["totals"]["connections"] == 7 and j["input"]["outside"] == 32 and j["days"][0]["date"] == "2026-11-22"'
"$R" --format json --until 2026-11-21 "$L" >"$T/u.json"
jtest "--until a day: to its end" "$T/u.json" 'j["totals"]["connections"] == 4 and j["period"]["until"] == "2026-11-22T00:00:00+00:00"'
"$R" --format json --since "2026-11-21 10:00:02" --until "2026-11-21T10:00:09Z" "$L" >"$T/su.json"
jtest "--since inclusive, --until exclusive, to the second" "$T/su.json" \
	'(j["totals"]["rejected"], j["totals"]["clean"], j["totals"]["provisional"]) == (2, 0, 1) and j["period"]["first"] == "2026-11-21T10:00:02+00:00"'
"$R" --format json --since "2026-11-22T10:00:00+01:00" --until "2026-11-22 09:10" "$L" >"$T/off.json"
jtest "RFC 3339 DATE with an offset" "$T/off.json" 'j["totals"]["connections"] == 3 and j["totals"]["cache_hits"] == 1'
today=$(LC_ALL=C date +%b' '%e); yday=$(LC_ALL=C date -d yesterday +%b' '%e); old=$(LC_ALL=C date -d '3 days ago' +%b' '%e)
{
	echo "$old 12:00:00 $P NOQUEUE: connect sess=1 client=x[192.0.2.1]:1"
	echo "$yday 12:00:00 $P NOQUEUE: connect sess=2 client=x[192.0.2.2]:1"
	echo "$yday 13:00:00 $P NOQUEUE: connect sess=3 client=x[192.0.2.3]:1"
	echo "$today 00:00:00 $P NOQUEUE: connect sess=4 client=x[192.0.2.4]:1"
} >"$T/days.log"
"$R" --format json -d yesterday "$T/days.log" >"$T/y.json"
jtest "-d yesterday" "$T/y.json" 'j["totals"]["connections"] == 2 and j["input"]["outside"] == 2'
"$R" --format json -d today "$T/days.log" >"$T/t.json"
jtest "-d today" "$T/t.json" 'j["totals"]["connections"] == 1'

# ---- RFC 3339, the milter's stderr and RFC 3164 give the same report; year rollover -----
sed -E 's/^Nov 21 ([0-9:]+) mx /2026-11-21T\1.123456+00:00 mx /; s/^Nov 22 ([0-9:]+) mx /2026-11-22T\1Z mx /' "$L" >"$T/iso.log"
"$R" --format json "$T/iso.log" >"$T/iso.json"
python3 - "$T/r.json" "$T/iso.json" <<'PY' && pass "RFC 3339 log: the same report as RFC 3164" || fail "RFC 3339 log"
import json, sys
a, b = (json.load(open(f, encoding="utf-8")) for f in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
# stdin has no mtime for an RFC 3164 year: the RFC 3339 log
gzip -c "$T/iso.log" | "$R" --format json >"$T/stdin.json" && cmp -s "$T/stdin.json" "$T/r.json" &&
	pass "gzip'ed stdin" || fail "gzip'ed stdin" "$(diff "$T/stdin.json" "$T/r.json" | head -3)"
"$R" --format json - <"$T/iso.log" >"$T/stdin2.json" && cmp -s "$T/stdin2.json" "$T/r.json" && pass "stdin as -" || fail "stdin as -"
sed -E 's/^Nov 21 ([0-9:]+) mx /2026-11-21T\1.123 /; s/^Nov 22 ([0-9:]+) mx /2026-11-22T\1.999 /' "$L" >"$T/stderr.log"
"$R" --format json "$T/stderr.log" | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j["totals"]["connections"] == 11 and j["days"][1]["date"] == "2026-11-22" else 1)' &&
	pass "the milter's stderr format (local, milliseconds)" || fail "stderr format"
cat >"$T/rollover.log" <<LOG
Dec 31 23:59:58 $P NOQUEUE: connect sess=1 client=x[192.0.2.1]:1
Dec 31 23:59:59 $P NOQUEUE: connect sess=2 client=x[192.0.2.2]:1
Jan  1 00:00:00 $P NOQUEUE: connect sess=3 client=x[192.0.2.3]:1
Dec 31 23:59:59 $P NOQUEUE: connect sess=4 client=x[192.0.2.4]:1
Jan  1 00:00:01 $P NOQUEUE: connect sess=5 client=x[192.0.2.5]:1
LOG
touch -d "2027-01-01 06:00:00" "$T/rollover.log"
"$R" --format json "$T/rollover.log" >"$T/ro.json"
jtest "year rollover Dec 31 -> Jan 1 in one file (and a late Dec line)" "$T/ro.json" \
	'[(d["date"], d["connections"]) for d in j["days"]] == [("2026-12-31", 3), ("2027-01-01", 2)] and j["period"]["last"] == "2027-01-01T00:00:01+00:00"'
touch -d "2027-06-01 06:00:00" "$T/rollover.log"
"$R" --format json "$T/rollover.log" >"$T/ro2.json"
jtest "a file written months later: its December is last year's" "$T/ro2.json" '[d["date"] for d in j["days"]] == ["2026-12-31", "2027-01-01"]'

# ---- -o, errors, exit codes --------------------------------------------------------------
echo old >"$T/out.json"
"$R" --format json -o "$T/out.json" "$L" && cmp -s "$T/out.json" "$T/r.json" && [ -z "$(ls "$T"/out.json.* 2>/dev/null)" ] &&
	pass "-o replaces the file (no temporary left)" || fail "-o"
"$R" --format json -o "$T/out.json" "$L" "$T/missing.log" >/dev/null 2>&1; rc=$?
[ $rc -eq 66 ] && cmp -s "$T/out.json" "$T/r.json" && pass "a missing file: EX_NOINPUT, -o's file untouched" || fail "missing file" "rc=$rc"
"$R" "$T" >/dev/null 2>&1; [ $? -eq 66 ] && pass "a directory: EX_NOINPUT" || fail "directory"
"$R" -o "$T/nodir/x.json" "$L" >/dev/null 2>&1; [ $? -eq 73 ] && pass "-o in a missing directory: EX_CANTCREAT" || fail "-o nodir"
"$R" "$L" >/dev/full 2>/dev/null; [ $? -eq 74 ] && pass "write error: EX_IOERR" || fail "write error"
for args in "-n x" "--format xml" "--since 2026-13-01" "--until yesterday" "-d tomorrow" "-d today --since 2026-11-21" \
	"--table bogus --format csv" "--table days" "--since 2026-11-22 --until 2026-11-21" "--bogus"; do
	# shellcheck disable=SC2086
	"$R" $args "$L" >/dev/null 2>&1; rc=$?
	[ $rc -eq 64 ] && pass "usage error: $args" || fail "usage error: $args" "rc=$rc"
done
"$R" -h | grep -q -- '--since DATE' && pass "-h" || fail "-h"
head -c $(($(stat -c %s "$T/mail.log.1.gz") / 2)) "$T/mail.log.1.gz" >"$T/cut.gz"
"$R" --format json "$T/cut.gz" >"$T/cut.json" 2>"$T/cut.err"; rc=$?
[ $rc -eq 65 ] && grep -q 'cut.gz' "$T/cut.err" && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/cut.json" &&
	pass "truncated gzip: EX_DATAERR, named, the report still written" || fail "truncated gzip" "rc=$rc $(cat "$T/cut.err")"
out=$("$R" -c "[192.0.2.80]" "$L")
echo "$out" | grep -qE '^connections 1, probed 1' && ! echo "$out" | grep -q '203.0.113.9' && pass "-c filters by client" || fail "-c filter"
head -c 300000 /dev/urandom >"$T/noise.log"
"$R" --format json "$T/noise.log" >"$T/noise.json" 2>&1 && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/noise.json" &&
	pass "binary noise: no crash, valid JSON" || fail "binary noise"
python3 -c 'import sys
for i in range(3000):
    sys.stdout.write("Nov 21 10:00:00 x proxymilter[1]: NOQUEUE: ev%d k=%s\n" % (i, "v" * 20000))' >"$T/long.log"
out=$("$R" "$T/long.log" 2>&1); [ $? -eq 0 ] && echo "$out" | grep -q '^proxymilter-report: 3000 lines read, 3000 from proxymilter, 3000 unparsable$' &&
	pass "overlong lines are skipped whole and counted" || fail "overlong lines" "$(echo "$out" | head -1)"

# ---- a real run: Postfix, the milter, open proxies, clean clients ----------------------
# (with the plain build only: the sanitizer runs, SAN_RUN, have the milter
# in every other test, and this part is their slowest here)
if [ -n "${SAN_RUN:-}" ]; then summary; exit; fi
for p in squid microsocks swaks postfix smtp-sink; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { fail "prerequisite $p installed"; summary; exit 1; }
done
[ -x "$PM_BIN" ] || { fail "proxymilter built ($PM_BIN)"; summary; exit 1; }
PF_PORT=13625
SINK_PORT=13627
MPORT=13626
CPORT=13628
RCPT=user@remote.test.invalid
milter_conf "$T/real.conf" $MPORT $CPORT 'mode = "enforce";' \
	'scan = [ "13630", "13631/socks5" ]; rate_limit = 5;' 'on_clean = "tag"; on_error = "tempfail";'
start_milter milter "$T/real.conf" || { fail "milter starts"; summary; exit 1; }
start_postfix "inet:127.0.0.1:$MPORT" || { fail "postfix starts"; summary; exit 1; }
start_squid squid-r open 127.0.0.211 13630 && start_microsocks socks-r 127.0.0.212 13631 ||
	{ fail "squid and microsocks start"; summary; exit 1; }
pass "real run: postfix, milter, squid, microsocks started"
MLOG=$T/milter/milter.log
MPID=$(cat "$T/milter.pid")
sent() { # sent SRC EXPECT-RE NAME
	local out
	out=$(send_mail "$1" "$RCPT")
	echo "$out" | grep -qE "$2" && pass "real run: $3" || fail "real run: $3" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -2 | tr '\n' ' ')"
}
sent 127.0.0.211 '<\*\* *550 5\.7\.1' "squid (open) rejected"
sent 127.0.0.212 '<\*\* *550 5\.7\.1' "microsocks (open) rejected"
sent 127.0.0.212 '<\*\* *550 5\.7\.1' "microsocks again: rejected from the cache"
sent 127.0.0.213 '<- *250 2\.0\.0 Ok: queued' "clean client 1 delivered (tagged)"
sent 127.0.0.214 '<- *250 2\.0\.0 Ok: queued' "clean client 2 delivered (tagged)"
sent 127.0.0.215 '<- *250 2\.0\.0 Ok: queued' "clean client 3 delivered (tagged)"
sent 127.0.0.216 '<\*\* *451 4\.7\.1' "a sixth new client in the /24 is rate-limited and tempfailed"
# observe mode from now on (the verdicts stay in the table)
sed -i 's/^mode = "enforce";/mode = "observe";/' "$T/real.conf"
kill -USR1 "$MPID"
wait_for "$MLOG" ' reload file=.* result=ok' 10 && pass "real run: reloaded in observe mode" || fail "real run: reload"
sent 127.0.0.211 '<- *250 2\.0\.0 Ok: queued' "observe: the open proxy passes (would-reject)"
sent 127.0.0.213 '<- *250 2\.0\.0 Ok: queued' "observe: a clean client passes (would-tag)"
# every probe set has its final verdict line before the stats are asked for
i=0
while [ $i -lt 100 ]; do
	ns=$(grep -c ' probe-start ' "$MLOG"); nv=$(grep ' verdict sess=' "$MLOG" | grep -vc 'final=no')
	[ "$ns" -gt 0 ] && [ "$ns" -eq "$nv" ] && break
	sleep 0.1; i=$((i + 1))
done
kill -USR2 "$MPID"
wait_for "$MLOG" ' stats connections=' 10 || fail "real run: stats line"
sed -n '1,/ stats connections=/p' "$MLOG" >"$T/real.log"
gzip -c "$T/real.log" >"$T/real.log.gz"
"$R" --format json "$T/real.log.gz" >"$T/real.json" && pass "real run: report of the milter's log" || fail "real run: report"
stats=$(grep -m1 ' stats connections=' "$T/real.log")
for f in connections probed cache_hits joined open relay listed suspect clean error provisional rejected \
	tempfailed tagged would skipped rate_limited; do
	want=$(echo "$stats" | grep -oE " $f=[0-9]+" | cut -d= -f2)
	got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"][sys.argv[2]])' "$T/real.json" "$f")
	[ -n "$want" ] && [ "$got" = "$want" ] && pass "real run: $f = $want, as the stats line" ||
		fail "real run: $f as the stats line" "report $got, stats ${want:-missing}"
done
jtest "real run: the counts are not all zero" "$T/real.json" '(j["totals"]["rejected"], j["totals"]["open"], j["totals"]["cache_hits"], j["totals"]["tagged"],
	j["totals"]["rate_limited"], j["totals"]["tempfailed"], j["totals"]["would"]) == (3, 2, 3, 3, 1, 1, 2)'
jtest "real run: the proxies are the offenders, with their rejects" "$T/real.json" \
	'sorted((o["address"], o["rejects"]) for o in j["offenders"]) == [("127.0.0.211", 1), ("127.0.0.212", 2)]'
jtest "real run: no unparsable line of ours" "$T/real.json" 'j["input"]["bad"] == 0 and j["input"]["ours"] > 20'
summary
