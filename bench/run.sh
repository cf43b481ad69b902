#!/bin/bash
# bench/run.sh - benchmarks (not part of the tests; loopback only).
#  1. the engine: 2000 clients x the 11 tests of "basic", nothing listening
#  2. the verdict table: 1,000,000 entries (memory, lookups/s on 1 and 2
#     threads with inserts going on)
#  3. SMTP transaction time through a private Postfix, without the milter and
#     with it (first connection from each address = probing; then cached)
#  4. connect-to-verdict for each real proxy (squid, tinyproxy, dante, microsocks)
# Needs root and the test packages (sh tests/ci.sh installs them).
# Hostile load (200 new clients/s, filtered/tarpit/closed, in a private netns):
# bench/hostile-load.sh [RATE] [SECONDS]; figures in bench/RESULTS-hostile-load.md.
# proxyprobe -i (1000 closed hosts x "basic") and -a 1-65535/all against proxycheck and
# the one-process connect limit, interleaved: BUILD=... bench/vs-proxycheck.sh.
# Figures of both and of the table: bench/RESULTS-engine.md.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$TOP/build}
make -C "$B" bench/pmbench tools/proxyprobe >/dev/null || exit 1
ulimit -n 4096
echo "== engine"; "$B/bench/pmbench" engine 2000
echo "== table";  "$B/bench/pmbench" table 1000000

. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT
milter_conf "$T/bench.conf" 18890 12526 'log_level = "info";' 'scan = [ "basic" ];'
sed -i 's/log_level = "debug";//' "$T/bench.conf"
start_postfix "" >/dev/null || exit 1
echo "== SMTP without milter (40 clients, 3 rounds)"
python3 "$TOP/bench/smtp-latency.py" $PF_PORT 20 59 3
start_milter milter "$T/bench.conf" || exit 1
set_postfix_milter "inet:127.0.0.1:18890"
echo "== SMTP with proxymilter, scan=basic (40 new clients, 3 rounds)"
python3 "$TOP/bench/smtp-latency.py" $PF_PORT 60 99 3
echo "== connect-to-verdict per real proxy (scan=basic; first connection from each)"
start_squid squid-open open 127.0.0.2 >/dev/null && start_tinyproxy tiny-open open 127.0.0.3 >/dev/null &&
start_dante dante-open open 127.0.0.4 >/dev/null && start_microsocks microsocks 127.0.0.5 >/dev/null || exit 1
for src in 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5; do
	python3 "$TOP/bench/smtp-latency.py" $PF_PORT "${src##*.}" "${src##*.}" 1 >/dev/null 2>&1
done
for src in 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5; do
	grep -E "verdict sess=.* client=\[$src\] verdict=open-proxy" "$T/milter/milter.log" |
		sed -n 's/.*evidence=\([^ ]*\).*elapsed=\([0-9.]*\)s.*/\1 \2/p' | head -1 |
		while read -r ev el; do echo "$src $ev connect-to-verdict=${el}s"; done
done
echo "== proxyprobe -a full against 127.0.0.7 (nothing listening), 5 runs"
for i in 1 2 3 4 5; do
	/usr/bin/time -f "%e s wall, %M KB max RSS" "$B/tools/proxyprobe" -a -v 0 127.0.0.7 full
done 2>&1
echo "== proxyprobe -a 1-65535/socks5 against 127.0.0.7 (65535 tests)"
/usr/bin/time -f "%e s wall, %M KB max RSS" "$B/tools/proxyprobe" -a -v 0 127.0.0.7 1-65535/socks5 2>&1
