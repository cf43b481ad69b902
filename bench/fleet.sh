#!/bin/bash
# bench/fleet.sh [ROUNDS] - what Redis (fleet.redis) adds to an SMTP
# session, as a ratio against the local table in the same run (a benchmark,
# not a test: it prints figures; the machines are shared and noisy).
#
# One private Postfix on 127.0.0.1 (tests/lib/peers.sh), 100 clients
# 127.0.0.100-199 where nothing listens (each probe set: one refused
# connect), bench/smtp-latency.py for whole transactions; round 1 = every
# client new, later rounds = table hits.  In turn:
#   alone    Postfix without a milter (the anchor)
#   local    + proxymilter, its own table only
#   redis    + proxymilter with a real redis-server: each new client is a
#            GET + SET NX before its probe, each verdict a SET, DEL, PUBLISH
#   peer     + a second proxymilter on the same Redis, empty table: every
#            client's verdict is in Redis (made by "redis"): no probe
# Loopback only; ports 13525-13579.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-3}
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT
PF_PORT=13525
SINK_PORT=13527

start_redis redis 13579 >/dev/null || { echo "redis did not start"; exit 1; }
for m in local:13526 redis:13536 peer:13546; do
	n=${m%%:*} p=${m#*:}
	top='log_level = "info";'
	[ "$n" = local ] || top="$top fleet: { redis = \"127.0.0.1:13579\"; };"
	milter_conf "$T/$n.conf" "$p" $((p + 2)) "$top" 'scan = [ "3128" ]; rate_limit = 0;'
	sed -i 's/log_level = "debug";//' "$T/$n.conf"
	start_milter "$n" "$T/$n.conf" || exit 1
done
start_postfix "" >/dev/null || exit 1
run() { # run NAME: a whole series of rounds
	echo "== $1"
	python3 "$TOP/bench/smtp-latency.py" $PF_PORT 100 199 "$ROUNDS" | tee "$T/$1.out"
}
run alone
set_postfix_milter "inet:127.0.0.1:13526"; run local
set_postfix_milter "inet:127.0.0.1:13536"; run redis
set_postfix_milter "inet:127.0.0.1:13546"; run peer
med() { sed -n "s/^round=$2 .*median_ms=\([0-9.]*\).*/\1/p" "$T/$1.out"; }
p90() { sed -n "s/^round=$2 .*p90_ms=\([0-9.]*\).*/\1/p" "$T/$1.out"; }
echo "== medians (p90), ratio to local"
for r in $(seq 1 "$ROUNDS"); do
	l=$(med local "$r")
	printf 'round %d: alone %s ms, local %s (%s), redis %s (%s) = %s x, peer %s (%s) = %s x\n' "$r" \
		"$(med alone "$r")" "$l" "$(p90 local "$r")" "$(med redis "$r")" "$(p90 redis "$r")" \
		"$(echo "scale=2; $(med redis "$r") / $l" | bc)" "$(med peer "$r")" "$(p90 peer "$r")" \
		"$(echo "scale=2; $(med peer "$r") / $l" | bc)"
done
for n in local redis peer; do kill -USR2 "$(cat "$T/$n.pid")"; done
sleep 0.5
for n in local redis peer; do
	echo "$n: $(grep ' stats ' "$T/$n/milter.log" | tail -1 | grep -oE ' (probed|cache_hits|fleet_hits|fleet_learnt|fleet_shared|fleet_fallbacks|fleet_errors)=[0-9]+' | tr -d '\n')"
done
