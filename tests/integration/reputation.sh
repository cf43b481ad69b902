#!/bin/bash
# Reputation from DNS and exposure, end to end: real Postfix (IPv4 and IPv6
# listeners) -> proxymilter -> its DNS checks against a private DNS (dnsmasq
# answering PTR/A/MX/TXT, forwarding the DNSBL zones to rbldnsd, one zone to
# a port where nothing answers), a GeoIP file written here, and real Samba.
#
# Clients (mail is sent from each address with swaks --local-interface):
#   127.0.0.60  bl.lab.invalid says 127.0.0.2 (+ a tarpit on :3128)  -> listed, reject
#   127.0.0.61  bl.lab.invalid says 127.0.0.20 (outside the filter)  -> clean
#   127.0.0.62  listed in bl (*2) and in the allowlist wl (*-4)      -> clean, score -4+2
#   127.0.0.63  PTR good.lab.invalid -> A 127.0.0.63; MX mx.lab.invalid = the
#               client; SPF ip4:127.0.0.63 -all                      -> clean, tagged
#               ... and with HELO spam.example.invalid               -> suspect (helo), reject
#   127.0.0.64  PTR bad.lab.invalid -> A 127.0.0.99                  -> fcrdns=fail
#   127.0.0.66  listed in secret.lab.invalid (a private list)        -> listed; the reply
#               names it "private-list", the log its own name
#   127.0.0.1   smbd on 139 and 445                                  -> suspect, reject
#   ::1         bl6.lab.invalid (ip6trie) lists ::1                  -> listed, reject
# Every client is also looked up in dead.lab.invalid, which never answers:
# a finding dnsbl=dead.lab.invalid:temperror after dns.timeout, never a stall.
# Then a resolver where nothing answers at all: mail still flows.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

MPORT=18890
CPORT=12526
DPORT=15300
RPORT=15301
RCPT=user@remote.test.invalid

for p in swaks postfix smtp-sink dnsmasq rbldnsd dig smbd perl; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { fail "prerequisite $p installed"; summary; exit 1; }
done

# ---- the DNS, the GeoIP file, the peers ----
cat >"$T/bl.zone" <<'Z'
127.0.0.60 :127.0.0.2:listed for test; see https://bl.lab.invalid/?127.0.0.60
127.0.0.61 :127.0.0.20:outside the filter
127.0.0.62 :127.0.0.2:listed but allowlisted
Z
printf '127.0.0.62 :127.0.0.2:allowlisted\n' >"$T/wl.zone"
printf '127.0.0.66 :127.0.0.2:a private list\n' >"$T/secret.zone"
printf '0::1/128 :127.0.0.3:listed over IPv6\n' >"$T/bl6.zone"
cat >"$T/records" <<'R'
local=/lab.invalid/
local=/in-addr.arpa/
local=/ip6.arpa/
ptr-record=63.0.0.127.in-addr.arpa,good.lab.invalid
host-record=good.lab.invalid,127.0.0.63
mx-host=lab.invalid,mx.lab.invalid,10
host-record=mx.lab.invalid,127.0.0.63
txt-record=lab.invalid,"v=spf1 ip4:127.0.0.63 -all"
ptr-record=64.0.0.127.in-addr.arpa,bad.lab.invalid
host-record=bad.lab.invalid,127.0.0.99
R
start_dns dns $DPORT $RPORT "$T/records" \
	"bl.lab.invalid:ip4set:$T/bl.zone wl.lab.invalid:ip4set:$T/wl.zone secret.lab.invalid:ip4set:$T/secret.zone bl6.lab.invalid:ip6trie:$T/bl6.zone" \
	"dead.lab.invalid" || { fail "dnsmasq and rbldnsd start"; summary; exit 1; }
[ "$(dig +short -p $DPORT @127.0.0.1 60.0.0.127.bl.lab.invalid)" = "127.0.0.2" ] &&
	pass "dnsmasq forwards the DNSBL zone to rbldnsd" || fail "DNSBL answer through dnsmasq"
perl "$TOP/tests/lib/mkmmdb.pl" "$T/geo.mmdb" 127.0.0.0/24=DE 127.0.0.63/32=FR ::1/128=NL &&
	pass "a GeoIP file written with MaxMind::DB::Writer" || fail "GeoIP file written"
start_smbd smbd 127.0.0.1 || { fail "smbd starts"; summary; exit 1; }
start_fake tarpit silent 127.0.0.60 3128 || { fail "tarpit starts"; summary; exit 1; }

rep_conf() { # rep_conf FILE RESOLVER
	milter_conf "$1" $MPORT $CPORT "dns: { resolver = \"$2\"; timeout = 1.0;
  dnsbl_sites = [ \"bl.lab.invalid=127.0.0.[2..11]*2\", \"bl6.lab.invalid*2\", \"wl.lab.invalid*-4\",
                  \"secret.lab.invalid*2\", \"dead.lab.invalid\" ];
  dnsbl_reply_map = [ \"secret.lab.invalid=private-list\" ];
  dnsbl_threshold = 2; };
geoip: { database = \"$T/geo.mmdb\"; };
score: { helo_mismatch = 3; suspect_threshold = 3; };" \
	'scan = [ "139/netbios", "445/smb", "3128" ]; retries = 0;' \
	'on_listed = "reject"; on_suspect = "reject"; on_clean = "tag";'
}
rep_conf "$T/rep.conf" "127.0.0.1:$DPORT"
start_milter milter "$T/rep.conf" || { fail "milter starts"; summary; exit 1; }
start_postfix "inet:127.0.0.1:$MPORT" || { fail "postfix starts"; summary; exit 1; }
pass "dnsmasq, rbldnsd, smbd, tarpit, milter, postfix started"
MLOG=$T/milter/milter.log

mail_from() { # mail_from SRC HELO: swaks' transcript; its run time in $T/took
	local src=$1 helo=$2 server=127.0.0.1 t0 t1
	case "$src" in *:*) server=::1 ;; esac
	t0=$(date +%s.%N)
	swaks --server "$server" --port $PF_PORT --local-interface "$src" --ehlo "$helo" \
		--from sender@test.invalid --to "$RCPT" --timeout 40 2>&1
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc >"$T/took"
}
verdict_line() { grep -E "verdict sess=[0-9a-f]+ client=\[$1\] " "$MLOG" | head -1; }
# info CASE ADDR: the client's first verdict line, a row of the note's table
info() {
	echo "INFO: $1: $(verdict_line "$2" | grep -oE ' (verdict|score|final|ttl|elapsed)=[^ ]*| findings="[^"]*"| findings=[^ ]*' | tr -d '\n')"
}

expect_reply() { # expect_reply SRC HELO REGEX NAME
	local out
	out=$(mail_from "$1" "$2")
	if echo "$out" | grep -qE "$3"; then pass "$4"; else
		fail "$4" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -3 | tr '\n' ' ')"; fi
}

# ---- listed, decided before the tarpit ends ----
expect_reply 127.0.0.60 client.test.invalid \
	'<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.60\] is listed in DNS blocklists \(bl\.lab\.invalid\)' \
	"127.0.0.60: rejected at RCPT, the reply names the list"
took=$(cat "$T/took")
[ "$(echo "$took < 3.0" | bc)" = 1 ] && pass "127.0.0.60: the session did not wait for the 5 s tarpit (${took}s)" ||
	fail "127.0.0.60: decided before the tarpit ends" "${took}s"
verdict_line 127.0.0.60 | grep -E "verdict=listed score=2 findings=.*dnsbl=bl\.lab\.invalid\(2\)" |
	grep -qE ' final=no ttl=60 .* elapsed=0\.[0-4]' &&
	pass "127.0.0.60: a provisional listed verdict, ttl from the DNS answer (60 s)" ||
	fail "127.0.0.60: provisional verdict" "$(verdict_line 127.0.0.60)"
wait_for "$MLOG" "probe sess=[0-9a-f]+ client=\[127\.0\.0\.60\] test=dnsbl:0 result=closed reason=listed findings=\"dnsbl=bl\.lab\.invalid\(2\) dnsbl=dead\.lab\.invalid:temperror\" .*detail=\"bl\.lab\.invalid:listed for test; see https://bl\.lab\.invalid/\?127\.0\.0\.60\"" 5 &&
	pass "127.0.0.60: the TXT record in the dnsbl line, the dead list a temperror" ||
	fail "127.0.0.60: dnsbl line" "$(grep 'client=\[127.0.0.60\] test=dnsbl' "$MLOG")"
wait_for "$MLOG" "verdict sess=[0-9a-f]+ client=\[127\.0\.0\.60\] verdict=listed .*country=DE .*late=yes" 10 &&
	pass "127.0.0.60: the final verdict after the tarpit, with the country" ||
	fail "127.0.0.60: final verdict" "$(grep 'verdict sess.*127.0.0.60' "$MLOG" | tail -1)"
info "listed (bl, tarpit)" 127.0.0.60

# ---- not listed: the filter, the allowlist ----
expect_reply 127.0.0.61 client.test.invalid '<- *250 2\.0\.0 Ok: queued' "127.0.0.61: an answer outside the filter is no listing"
grep -qE "client=\[127\.0\.0\.61\] test=dnsbl:0 result=closed reason=temperror" "$MLOG" &&
	pass "127.0.0.61: no finding for bl (only the dead list's temperror)" || fail "127.0.0.61: filter" "$(grep 'client=\[127.0.0.61\] test=dnsbl' "$MLOG")"
info "filtered answer" 127.0.0.61
expect_reply 127.0.0.62 client.test.invalid '<- *250 2\.0\.0 Ok: queued' "127.0.0.62: the allowlist outweighs the list"
verdict_line 127.0.0.62 | grep -E 'verdict=clean score=-2 findings=' | grep 'dnsbl=bl\.lab\.invalid(2)' |
	grep -q 'dnsbl=wl\.lab\.invalid(-4)' &&
	pass "127.0.0.62: clean, score -2, both findings kept" || fail "127.0.0.62: score" "$(verdict_line 127.0.0.62)"
info "allowlisted" 127.0.0.62

# ---- FCrDNS, the domain, MX, SPF, HELO ----
before=$(sink_count)
expect_reply 127.0.0.63 good.lab.invalid '<- *250 2\.0\.0 Ok: queued' "127.0.0.63: a real mail server is accepted"
verdict_line 127.0.0.63 | grep -E 'verdict=clean findings=.*fcrdns=pass domain=lab\.invalid mx=self spf=pass' |
	grep -q 'country=FR' &&
	pass "127.0.0.63: fcrdns=pass domain=lab.invalid mx=self spf=pass country=FR" ||
	fail "127.0.0.63: findings" "$(verdict_line 127.0.0.63)"
grep -qE "client=\[127\.0\.0\.63\] test=fcrdns:0 result=closed reason=pass .*detail=\"?(good|mx)\.lab\.invalid" "$MLOG" &&
	pass "127.0.0.63: the verified name in the fcrdns line" || fail "127.0.0.63: fcrdns line"
if wait_sink $((before + 1)); then
	f=$(ls -t "$T/postfix/sink"/* | head -1)
	h=$(grep -E '^X-Proxy-Check: clean score=0 .*; host=mta\.test\.invalid' "$f")
	for w in fcrdns=pass domain=lab.invalid mx=self spf=pass country=FR; do
		case " $h" in *" $w"*) ;; *) h= ;; esac
	done
	[ -n "$h" ] &&
		pass "127.0.0.63: the tag header has the findings and the country" ||
		fail "127.0.0.63: header" "$(grep -i '^X-Proxy-Check' "$f")"
else
	fail "127.0.0.63: delivered"
fi
info "fcrdns pass, mx=self, spf=pass" 127.0.0.63
expect_reply 127.0.0.63 spam.example.invalid \
	'<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.63\] looks suspicious \(helo=mismatch\(3\)\)' \
	"127.0.0.63 with another HELO: suspect by helo=mismatch(3), rejected"
grep -qE "reject sess=[0-9a-f]+ stage=rcpt client=[a-z]*\[127\.0\.0\.63\].* verdict=suspect evidence=.*helo=mismatch\(3\)" "$MLOG" &&
	pass "127.0.0.63: the reject line has the session's helo finding" || fail "127.0.0.63: reject line" "$(grep 'reject sess.*127.0.0.63' "$MLOG")"
expect_reply 127.0.0.63 '[127.0.0.63]' '<- *250 2\.0\.0 Ok: queued' "127.0.0.63: its own address literal as HELO matches"
expect_reply 127.0.0.64 client.test.invalid '<- *250 2\.0\.0 Ok: queued' "127.0.0.64: accepted (score 1 < 3)"
verdict_line 127.0.0.64 | grep -qE 'verdict=clean score=1 findings=.*fcrdns=fail\(1\)' &&
	pass "127.0.0.64: fcrdns=fail(1): its name does not lead back" || fail "127.0.0.64: fcrdns fail" "$(verdict_line 127.0.0.64)"
info "fcrdns fail" 127.0.0.64

# ---- a private list ----
expect_reply 127.0.0.66 client.test.invalid \
	'<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.66\] is listed in DNS blocklists \(private-list\)' \
	"127.0.0.66: the reply names the private list by its public name"
verdict_line 127.0.0.66 | grep -q 'findings=.*dnsbl=secret\.lab\.invalid(2)' &&
	pass "127.0.0.66: the log names the list itself" || fail "127.0.0.66: log" "$(verdict_line 127.0.0.66)"
info "private list" 127.0.0.66

# ---- exposure: Samba ----
expect_reply 127.0.0.1 client.test.invalid \
	'<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.1\] looks suspicious \(netbios=(139|445)\(2\) netbios=(139|445)\(2\)\)' \
	"127.0.0.1 (smbd): suspect by NETBIOS and SMB exposure, rejected"
info "smbd exposed" 127.0.0.1

# ---- IPv6 ----
expect_reply ::1 client.test.invalid \
	'<\*\* *550 5\.7\.1 Client host \[::1\] is listed in DNS blocklists \(bl6\.lab\.invalid\)' \
	"::1: listed by the ip6trie zone (reversed nibbles), rejected"
wait_for "$MLOG" "verdict sess=[0-9a-f]+ client=\[::1\] verdict=listed .*country=NL.* late=yes" 5 &&
	pass "::1: country NL in the final verdict" || fail "::1: country" "$(grep 'client=\[::1\]' "$MLOG" | tail -1)"
info "IPv6 listed" ::1
grep -q '1\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.bl6\.lab\.invalid' "$T/dns/queries.log" &&
	pass "::1: the query name is its 32 reversed nibbles" || fail "::1: nibble query name"

# ---- a corrupt GeoIP file on reload: refused, the old database stays ----
printf 'not a MaxMind DB\n' >"$T/geo.new" && mv "$T/geo.new" "$T/geo.mmdb"
kill -USR1 "$(cat "$T/milter.pid")"
wait_for "$MLOG" "reload .*result=failed .*geo\.mmdb" 5 &&
	pass "GeoIP: a corrupt file on reload is refused with its name" ||
	fail "GeoIP: corrupt file on reload" "$(grep reload "$MLOG" | tail -1)"
expect_reply 127.0.0.67 client.test.invalid '<- *250 2\.0\.0 Ok: queued' "GeoIP: the milter goes on after the refused reload"
verdict_line 127.0.0.67 | grep -q 'country=DE' && pass "GeoIP: the old database still answers" ||
	fail "GeoIP: old database kept" "$(verdict_line 127.0.0.67)"
"${R:-$TOP/build/tools/proxymilter-report}" "$MLOG" | grep -A4 '^Countries' | grep -q ' FR$' &&
	pass "proxymilter-report counts the countries" || fail "report: countries"

# ---- no DNS at all: temperror, never a stall ----
stop_name milter
perl "$TOP/tests/lib/mkmmdb.pl" "$T/geo.mmdb" 127.0.0.0/24=DE
rep_conf "$T/dead.conf" "127.0.0.1:9"
start_milter milter-dead "$T/dead.conf" || fail "milter restarts with a dead resolver"
MLOG=$T/milter-dead/milter.log
expect_reply 127.0.0.65 client.test.invalid '<- *250 2\.0\.0 Ok: queued' "a dead resolver: mail still flows"
took=$(cat "$T/took")
[ "$(echo "$took < 4.0" | bc)" = 1 ] && pass "a dead resolver: the session took ${took}s (dns.timeout 1 s)" ||
	fail "a dead resolver: bounded" "${took}s"
verdict_line 127.0.0.65 | grep -E 'verdict=clean findings=.*dnsbl=bl\.lab\.invalid:temperror' |
	grep -E 'fcrdns=temperror' | grep -q ' ttl=60 ' &&
	pass "a dead resolver: temperror findings, the verdict kept 60 s only" || fail "dead resolver: findings" "$(verdict_line 127.0.0.65)"
info "dead resolver" 127.0.0.65

# what the DNS checks cost: the engine's own count, over the probe sets
stop_name milter-dead
for f in "$T/milter/milter.log"; do
	st=$(grep ' stats ' "$f" | tail -1)
	q=$(echo "$st" | grep -oE 'dns_queries=[0-9]+' | cut -d= -f2)
	p=$(echo "$st" | grep -oE ' probed=[0-9]+' | cut -d= -f2)
	[ -n "$q" ] && [ -n "$p" ] && [ "$p" -gt 0 ] &&
		echo "INFO: DNS queries: $q for $p new clients ($(echo "scale=1; $q / $p" | bc) each; 5 lists)"
done
summary
