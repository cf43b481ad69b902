#!/bin/bash
# proxymilter-report --format html, rendered by headless Chromium: a log
# over several days (a day without lines among them) with every class,
# tests on several protocols and ports, countries, rejects, skips, and
# hostile strings in HELO names, client names, addresses, evidence, test
# names, countries and skip reasons.  The page must be self-contained,
# render, hold the five charts and tables with one bar per value, and
# show every hostile string as text only (no <script>, no element or
# attribute from the log, in the file or in the rendered DOM).  Two
# screenshots (desktop 1280 wide, phone 390 wide) are kept in
# $ARTIFACTS/report-html/ (default build/test-artifacts).
. "$(dirname "$0")/../lib/common.sh"
R=${R:-$TOP/build/tools/proxymilter-report}
CHROMIUM=${CHROMIUM:-chromium}
ART=${ARTIFACTS:-$TOP/build/test-artifacts}/report-html
export TZ=UTC
[ -x "$R" ] || { fail "proxymilter-report built"; summary; exit 1; }
command -v "$CHROMIUM" >/dev/null || { fail "chromium installed (bootstrap.sh --test)"; summary; exit 1; }
mkdir -p "$ART" "$T/home" || { fail "artifact directory $ART"; summary; exit 1; }

# the log, and what the page must show of it (expect.json)
python3 - "$T/mail.log" "$T/expect.json" <<'PY'
import json, sys
out, exp = open(sys.argv[1], "w"), {}
days = ["2026-11-17", "2026-11-18", "2026-11-20", "2026-11-21"]	# no line on the 19th
tests = ["socks5:1080", "socks4:1080", "http-connect:3128", "http-connect:8080",
         "https-connect:443", "http-post:80", "wingate:23", "dnsbl:0", "fcrdns:0", "geoip:0"]
countries = ["DE", "US", "CN", "RU", "BR"]
classes = ["open-proxy", "open-relay", "listed", "suspect", "clean", "error"]
sess = 0
def line(day, sec, text):
    out.write("%sT%02d:%02d:%02d+00:00 mx proxymilter[812]: %s\n" %
              (day, 8 + sec // 3600 % 12, sec // 60 % 60, sec % 60, text))
for di, day in enumerate(days):
    for k in range(6 + 3 * di):
        sess += 1
        ip = "203.0.113.%d" % (k + 10 * di)
        s = "%08x" % sess
        cls = classes[(k + di) % len(classes)]
        cc = countries[(k * 7 + di) % len(countries)]
        t0 = k * 400
        line(day, t0, "NOQUEUE: connect sess=%s client=host%d[%s]:%d daemon=mx" % (s, k, ip, 40000 + k))
        line(day, t0, "NOQUEUE: probe-start sess=%s client=[%s] tests=%d timeout=15.0s" % (s, ip, len(tests)))
        for ti, t in enumerate(tests):
            res = "open" if (cls == "open-proxy" and ti == k % 3) else ("closed" if (ti + k) % 4 else "inconclusive")
            line(day, t0 + 1, "NOQUEUE: probe sess=%s client=[%s] test=%s result=%s reason=x elapsed=0.%03ds"
                 % (s, ip, t, res, 100 + ti * 37))
        ev = {"open-proxy": "socks5:1080", "open-relay": "relay-rcpt", "listed": "dnsbl=zen(5)",
              "suspect": "fcrdns=fail(1)", "clean": "", "error": ""}[cls]
        extra = (" evidence=%s" % ev) if ev else ""
        line(day, t0 + 2, "NOQUEUE: verdict sess=%s client=[%s] verdict=%s%s country=%s ttl=3600 elapsed=1.%03ds"
             % (s, ip, cls, extra, cc, k))
        if cls in ("open-proxy", "open-relay", "listed"):
            line(day, t0 + 3, "NOQUEUE: reject sess=%s stage=rcpt client=host%d[%s]:%d verdict=%s reply=\"550 5.7.1 no\" helo=host%d"
                 % (s, k, ip, 40000 + k, cls, k))
# hostile: a client name, HELO, sender, evidence, test name, country, skip reason
h = "2026-11-21"
line(h, 30000, "NOQUEUE: connect sess=deadbeef client=\"<script>alert(1)</script>[198.51.100.7]:4444\" daemon=mx")
line(h, 30000, "NOQUEUE: probe-start sess=deadbeef client=[198.51.100.7] tests=1 timeout=15.0s")
line(h, 30001, "NOQUEUE: probe sess=deadbeef client=[198.51.100.7] test=\"<svg onload=alert(3)>:80\" result=open reason=proved elapsed=0.500s")
line(h, 30002, "NOQUEUE: verdict sess=deadbeef client=[198.51.100.7] verdict=open-proxy "
     "evidence=\"<script>alert(2)</script>\\\"><img src=x onerror=alert(4)> it's &amp;\" country=\"<i>\" ttl=3600 elapsed=2.000s")
line(h, 30003, "NOQUEUE: reject sess=deadbeef stage=rcpt client=\"<script>alert(1)</script>[198.51.100.7]:4444\" "
     "verdict=open-proxy reply=\"550 5.7.1 no\" from=\"<\\\"><img src=x onerror=alert(5)>@x.example>\" "
     "helo=\"<script>alert(6)</script>\"")
line(h, 30004, "NOQUEUE: skip sess=0badf00d client=x[192.0.2.44]:1 reason=\"<script>alert(7)</script>\" stage=mail")
line(h, 30005, "NOQUEUE: skip sess=0badf00e client=x[192.0.2.45]:1 reason=authenticated user=alice stage=mail")
out.close()
exp["days"] = 5
exp["tests"] = len(tests) + 1
exp["countries"] = len(countries) + 1
exp["hostile_text"] = ["<script>alert(2)</script>\"><img src=x onerror=alert(4)> it's &amp;",
                       "<svg onload=alert(3)>:80", "<script>alert(7)</script>", "<i>"]
json.dump(exp, open(sys.argv[2], "w"))
PY
[ -s "$T/mail.log" ] || { fail "test log written"; summary; exit 1; }

H=$T/report.html
"$R" --format html -o "$H" "$T/mail.log" 2>"$T/report.err"; rc=$?
[ $rc -eq 0 ] && [ -s "$H" ] && pass "--format html -o FILE writes the page" ||
	fail "--format html -o FILE" "rc=$rc $(head -3 "$T/report.err")"
cp "$H" "$ART/report.html" 2>/dev/null

# the file itself: one document, self-contained, each <svg> well-formed XML
python3 - "$H" "$T/expect.json" >"$T/file.out" 2>&1 <<'PY'
import json, re, sys
import xml.etree.ElementTree as ET
s = open(sys.argv[1], encoding="utf-8", errors="strict").read()
exp = json.load(open(sys.argv[2]))
def check(ok, name, why=""):
    print(("PASS: html file: %s" if ok else "FAIL: html file: %s (" + why + ")") % name)
low = s.lower()
check(low.count("<html") == 1 and low.count("</html>") == 1 and s.startswith("<!DOCTYPE html>"), "one HTML document")
# text from the log has no '<' left: every '<' opens one of the page's own tags
tags = re.findall(r"<[^>]*>", low)
style = re.findall(r"<style>(.*?)</style>", low, re.S)
bad = [w for w in ("http:", "https:", "ftp:") if w in low]
bad += [w for w in ("src=", "href=", "url(", "javascript:", "xlink", "<script", "<link", "<img", "<iframe",
                    "<object", "<embed", "<base", "<form") if any(w in t for t in tags)]
bad += [w for w in ("@import", "url(", "@font-face") if any(w in x for x in style)]
check(len(style) == 1 and not bad, "self-contained: no script, no URL, no external reference", " ".join(bad))
check(not any(re.search(r"\son[a-z]+=", t) for t in tags), "no event handler attribute")
svgs = re.findall(r"<svg\b.*?</svg>", s, re.S)
ok = True
for x in svgs:
    try:
        e = ET.fromstring(x)
        ok = ok and e.get("role") == "img" and e[0].tag == "title"
    except ET.ParseError as err:
        print("# %s" % err)
        ok = False
check(len(svgs) == 5 and ok, "5 SVG charts, each well-formed XML with role=img and a title", "%d svgs" % len(svgs))
for t in exp["hostile_text"]:
    esc = t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#39;")
    check(esc in s, "hostile string escaped in the file: %r" % t[:30], "not found escaped")
PY
cat "$T/file.out"
NPASS=$((NPASS + $(grep -c '^PASS: ' "$T/file.out"))); NFAIL=$((NFAIL + $(grep -c '^FAIL: ' "$T/file.out")))
grep -q '^PASS: ' "$T/file.out" || fail "html file checks ran"

# Chromium: the rendered DOM, then the screenshots
chrome() {
	HOME=$T/home timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-extensions --disable-background-networking --disable-component-update \
		--disable-sync --metrics-recording-only --hide-scrollbars \
		--user-data-dir="$T/chrome" "$@" "file://$H" 2>>"$T/chrome.err"
}
chrome --dump-dom >"$T/dom.html"; rc=$?
[ $rc -eq 0 ] && grep -q '<section id="chart-days">' "$T/dom.html" && pass "chromium renders the page (--dump-dom)" ||
	fail "chromium --dump-dom" "rc=$rc $(grep -v -i 'warning\|dbus\|fontconfig' "$T/chrome.err" | tail -2)"
python3 - "$T/dom.html" "$T/expect.json" >"$T/dom.out" 2>&1 <<'PY'
import json, sys
from html.parser import HTMLParser
exp = json.load(open(sys.argv[2]))
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.text, self.handlers = [], [], [], []
        self.sections, self.cur = {}, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self.handlers += [k for k, v in attrs if k.startswith("on") or (v and "javascript:" in v.lower())]
        if tag == "section":
            self.cur = a.get("id")
            self.sections[self.cur] = {"svg": 0, "bars": 0, "rows": 0, "nodata": False}
        elif self.cur is not None:
            sec = self.sections[self.cur]
            if tag == "svg":
                sec["svg"] += 1
            elif tag == "rect" and a.get("class") == "bar":
                sec["bars"] += 1
            elif tag == "tr":
                sec["rows"] += 1
    def handle_endtag(self, tag):
        if tag == "section":
            self.cur = None
    def handle_data(self, d):
        self.text.append(d)
        if self.cur is not None and "no data" in d:
            self.sections[self.cur]["nodata"] = True
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
text = "".join(p.text)
def check(ok, name, why=""):
    print(("PASS: dom: %s" if ok else "FAIL: dom: %s (" + why + ")") % name)
S = p.sections
check(all(i in S for i in ("chart-days", "chart-verdicts", "chart-tests", "table-offenders", "chart-countries")),
      "the five sections", " ".join(S))
check("script" not in p.tags, "no <script> element in the rendered DOM")
check(not any(t in p.tags for t in ("img", "iframe", "object", "embed", "link", "b", "i", "base")),
      "no element from the log", " ".join(sorted(set(p.tags))))
check(not p.handlers, "no event handler attribute in the DOM", " ".join(p.handlers))
for sid, n in (("chart-days", exp["days"]), ("chart-verdicts", 6), ("chart-tests", 3 * exp["tests"]),
               ("chart-countries", exp["countries"]), ("chart-hours", 24)):
    got = S.get(sid, {})
    check(got.get("svg") == 1 and got.get("bars") == n, "%s: one <svg>, %d <rect> bars" % (sid, n),
          "svg=%s bars=%s" % (got.get("svg"), got.get("bars")))
check(S.get("table-offenders", {}).get("rows", 0) >= 2, "table-offenders: rows", str(S.get("table-offenders")))
for t in exp["hostile_text"]:
    check(t in text, "hostile string shown as text: %r" % t[:30], "not in the DOM text")
check("<script>alert(1)</script>" not in text and "alert(6)" not in text and "alert(5)" not in text,
      "HELO, client name and sender are not on the page")
PY
cat "$T/dom.out"
NPASS=$((NPASS + $(grep -c '^PASS: ' "$T/dom.out"))); NFAIL=$((NFAIL + $(grep -c '^FAIL: ' "$T/dom.out")))
grep -q '^PASS: ' "$T/dom.out" || fail "dom checks ran"

# png SIZE FILE: a PNG of that width and height, not tiny
png() {
	python3 - "$2" "$1" <<'PY'
import struct, sys, os
b = open(sys.argv[1], "rb").read(32)
w, h = struct.unpack(">II", b[16:24])
ww, wh = map(int, sys.argv[2].split(","))
sys.exit(0 if b[:8] == b"\x89PNG\r\n\x1a\n" and (w, h) == (ww, wh) and os.path.getsize(sys.argv[1]) > 20000 else 1)
PY
}
for shot in desktop:1280,2000 phone:390,2000; do
	name=${shot%%:*} size=${shot#*:}
	rm -f "$ART/report-$name.png"
	chrome --screenshot="$ART/report-$name.png" --window-size="$size" >/dev/null
	if [ -s "$ART/report-$name.png" ] && png "$size" "$ART/report-$name.png"; then
		pass "screenshot $name ($size): $ART/report-$name.png"
	else
		fail "screenshot $name ($size)" "$(ls -l "$ART/report-$name.png" 2>&1)"
	fi
done

# printed: a PDF of several pages (each section starts one)
rm -f "$ART/report.pdf"
chrome --print-to-pdf="$ART/report.pdf" --no-pdf-header-footer >/dev/null
pages=$(python3 -c 'import re,sys; print(len(re.findall(rb"/Type\s*/Page\b", open(sys.argv[1],"rb").read())))' \
	"$ART/report.pdf" 2>/dev/null)
[ "${pages:-0}" -ge 8 ] && pass "printed: $ART/report.pdf, $pages pages" || fail "print to PDF" "pages=${pages:-none}"

# an empty log: a valid page that says so, every chart "no data"
: >"$T/empty.log"
"$R" --format html -o "$T/empty.html" "$T/empty.log" && grep -q 'The input was empty' "$T/empty.html" &&
	[ "$(grep -c '<p class="nodata">' "$T/empty.html")" -eq 8 ] && ! grep -q '<svg' "$T/empty.html" &&
	pass "an empty log: a page that says so, no empty chart" || fail "empty log page"
H=$T/empty.html
chrome --dump-dom >"$T/empty.dom" && grep -q 'The input was empty' "$T/empty.dom" &&
	pass "chromium renders the empty page" || fail "chromium renders the empty page"
rm -rf "$T/chrome" "$T/home"	# Chromium's profile: megabytes, and not for summary's scan
summary
