#!/bin/bash
# bench/dns.sh [ROUNDS] - what the DNS checks add to an SMTP transaction.
# A private Postfix on loopback, a private DNS (dnsmasq answering PTR/A/MX/
# TXT for every client, forwarding three DNSBL zones to rbldnsd), and the
# same 100 clients (127.0.0.100-199: each with a PTR that leads back, its
# domain's MX and SPF, one in ten listed) sent through:
#   1. Postfix alone (the anchor);
#   2. Postfix + proxymilter with only the DNS checks (3 lists, fcrdns,
#      guess_domain; no proxy test): round 1 uncached, later rounds cached.
# Prints smtp-latency.py's rounds, the ratios of the medians to the anchor's
# (same run: these machines are shared and noisy), and the DNS queries per
# new client from the milter's stats line.  Loopback only; needs root and
# the test packages (sh tests/ci.sh installs them).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-3}
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

: >"$T/records"; : >"$T/bl.zone"
for n in $(seq 100 199); do
	echo "ptr-record=$n.0.0.127.in-addr.arpa,mx$n.d$n.example"
	echo "host-record=mx$n.d$n.example,127.0.0.$n"
	echo "mx-host=d$n.example,mx$n.d$n.example,10"
	echo "txt-record=d$n.example,\"v=spf1 mx a ip4:192.0.2.0/24 -all\""
	[ $((n % 10)) -eq 0 ] && echo "127.0.0.$n :127.0.0.2:bench listing" >>"$T/bl.zone"
done >>"$T/records"
printf 'local=/example/\nlocal=/in-addr.arpa/\n' >>"$T/records"
printf '127.0.0.250 :127.0.0.2:nobody\n' >"$T/empty.zone"
start_dns dns 15300 15301 "$T/records" \
	"bl.lab.invalid:ip4set:$T/bl.zone bl2.lab.invalid:ip4set:$T/empty.zone wl.lab.invalid:ip4set:$T/empty.zone" "" ||
	{ echo "dns did not start"; exit 1; }
milter_conf "$T/bench.conf" 18890 12526 'log_level = "info";
dns: { resolver = "127.0.0.1:15300"; dnsbl_sites = [ "bl.lab.invalid*2", "bl2.lab.invalid", "wl.lab.invalid*-2" ]; };' \
	'scan = [ ]; rate_limit = 0;' 'on_listed = "tag";'
sed -i 's/log_level = "debug";//' "$T/bench.conf"
start_postfix "" >/dev/null || exit 1
echo "== Postfix alone (100 clients, $ROUNDS rounds)"
python3 "$TOP/bench/smtp-latency.py" $PF_PORT 100 199 "$ROUNDS" | tee "$T/alone"
start_milter milter "$T/bench.conf" || exit 1
set_postfix_milter "inet:127.0.0.1:18890"
echo "== Postfix + proxymilter, DNS checks only (round 1: new clients)"
python3 "$TOP/bench/smtp-latency.py" $PF_PORT 100 199 "$ROUNDS" | tee "$T/with-dns"
kill -USR2 "$(cat "$T/milter.pid")"; sleep 0.5
med() { sed -n "s/^round=$2 .*median_ms=\([0-9.]*\).*/\1/p" "$1"; }
a=$(med "$T/alone" 1)
for r in $(seq 1 "$ROUNDS"); do
	echo "round $r: median $(med "$T/with-dns" "$r") ms = $(echo "scale=2; $(med "$T/with-dns" "$r") / $a" | bc) x Postfix alone ($a ms)"
done
st=$(grep ' stats ' "$T/milter/milter.log" | tail -1)
q=$(echo "$st" | grep -oE 'dns_queries=[0-9]+' | cut -d= -f2)
p=$(echo "$st" | grep -oE ' probed=[0-9]+' | cut -d= -f2)
echo "DNS queries: $q for $p new clients ($(echo "scale=1; $q / $p" | bc) each: 3 lists, PTR, A, MX, TXT, the MX host, the domain's A)"
grep -c 'verdict=listed' "$T/milter/milter.log" | sed 's/^/listed verdict lines: /'
