#!/bin/bash
# The state file across restarts, and the rbldnsd export served by a real
# rbldnsd: real Postfix -> proxymilter -> a real open proxy (microsocks).
#
# Hosts: 127.0.0.2 runs microsocks (open) on 13230 -> open-proxy;
#        127.0.0.7 has nothing listening -> clean.
# Ports (this test's own): Postfix 13225, sink 13227, milter 13226, canary
# 13228, microsocks 13230, rbldnsd 13253.
#   1. first milter: 127.0.0.2 is probed and rejected; SIGTERM: the state
#      file holds its verdict (and 127.0.0.7's)
#   2. second milter, same state file: loaded; 127.0.0.2 rejected from the
#      table, no probe; the export, served by rbldnsd, answers 127.0.0.2 with
#      A 127.0.0.2 and the evidence as TXT, NXDOMAIN for the clean and the
#      unknown addresses
#   3. a garbage state file, then one of another version: the milter starts
#      anyway, says so in one warning, and probes again
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

PF_PORT=13225
SINK_PORT=13227
MPORT=13226
CPORT=13228
SOCKS=13230
RBL_PORT=13253
ZONE=pm.test.invalid
RCPT=user@remote.test.invalid

for p in microsocks swaks postfix smtp-sink rbldnsd dig; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { fail "prerequisite $p installed"; summary; exit 1; }
done

mkdir -p "$T/var"
chmod 755 "$T/var"
STATE=$T/var/pm.state
EXPORT=$T/var/pm.zone
CONF=$T/state.conf
milter_conf "$CONF" $MPORT $CPORT \
	"state: { file = \"$STATE\"; save_interval = 300; };
export: { rbldnsd_zone = \"$EXPORT\"; interval = 1; };" \
	"scan = [ \"$SOCKS/socks5\" ];"

start_milter milter1 "$CONF" || { fail "milter starts"; summary; exit 1; }
start_postfix "inet:127.0.0.1:$MPORT" || { fail "postfix starts"; summary; exit 1; }
start_microsocks socks 127.0.0.2 $SOCKS || { fail "microsocks starts"; summary; exit 1; }
pass "postfix, milter, microsocks started"

# ---- 1. probed, rejected, saved at stop ------------------------------------
L1=$T/milter1/milter.log
grep -qE ': state loaded=0 file=.* msg="no state file yet: an empty start"' "$L1" &&
	pass "no state file at first: one info line, empty start" ||
	fail "missing state file logged" "$(grep ': state ' "$L1")"

out=$(send_mail 127.0.0.2 "$RCPT")
echo "$out" | grep -qE "<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.2\] is an open proxy \(socks5:$SOCKS\)" &&
	pass "open proxy probed and rejected" ||
	fail "open proxy rejected" "$(echo "$out" | grep -E '^ *<[*~-]' | tail -2 | tr '\n' ' ')"
grep -qE "probe-start sess=.* client=\[127\.0\.0\.2\]" "$L1" && pass "first milter probed 127.0.0.2" ||
	fail "first milter probed 127.0.0.2"
before=$(sink_count)
out=$(send_mail 127.0.0.7 "$RCPT")
echo "$out" | grep -qE '<- *250 2\.0\.0 Ok: queued' && wait_sink $((before + 1)) &&
	pass "clean client delivered" || fail "clean client delivered"
wait_for "$L1" 'verdict sess=.* client=\[127\.0\.0\.7\] verdict=clean' 10

# the export follows the table (every export.interval = 1 s)
wait_for "$EXPORT" "^127\.0\.0\.2 :127\.0\.0\.2:open-proxy socks5:$SOCKS$" 10 &&
	pass "export file lists the open proxy" || fail "export file lists the open proxy" "$(cat "$EXPORT" 2>&1)"
grep -q '127\.0\.0\.7' "$EXPORT" && fail "clean client not exported" || pass "clean client not exported"

stop_name milter1
if [ -s "$STATE" ]; then
	pass "state file written at stop"
else
	fail "state file written at stop" "$(ls -l "$T/var")"
fi
head -1 "$STATE" | grep -qE '^proxymilter-state 1 [0-9]+ [^ ]+$' && pass "state file header" ||
	fail "state file header" "$(head -1 "$STATE")"
grep -qE "^pm1 127\.0\.0\.2 open-proxy 0 [0-9]+ [0-9]+ 127\.0\.0\.2 socks5:$SOCKS$" "$STATE" &&
	pass "state file has the open-proxy verdict with its egress" ||
	fail "state file has the verdict" "$(cat "$STATE")"
grep -qE '^pm1 127\.0\.0\.7 clean ' "$STATE" && pass "state file has the clean verdict" ||
	fail "state file has the clean verdict"
n=$(grep -c '^pm1 ' "$STATE")
[ "$(tail -1 "$STATE")" = "end $n" ] && pass "state file ends with end $n" ||
	fail "state file end line" "$(tail -1 "$STATE")"
grep -qE ": state saved=$n bytes=[0-9]+ file=$STATE elapsed=" "$L1" && pass "save logged" ||
	fail "save logged" "$(grep ': state ' "$L1")"
ls "$T/var" | grep -q '\.tmp\.' && fail "no temp file left" "$(ls "$T/var")" || pass "no temp file left"

# ---- 2. restart: the verdict from the file, no second probe ---------------
start_milter milter2 "$CONF" || fail "second milter starts"
L2=$T/milter2/milter.log
grep -qE ": state loaded=$n expired=0 file=$STATE host=[^ ]+ age=[0-9]+s bytes=[0-9]+ elapsed=" "$L2" &&
	pass "state file loaded at start ($n verdicts)" ||
	fail "state file loaded at start" "$(grep ': state ' "$L2")"
out=$(send_mail 127.0.0.2 "$RCPT")
echo "$out" | grep -qE "<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.2\] is an open proxy \(socks5:$SOCKS\)" &&
	pass "restarted milter rejects the open proxy" || fail "restarted milter rejects the open proxy"
grep -q 'probe-start' "$L2" && fail "no probe after the restart" "$(grep probe-start "$L2" | head -2)" ||
	pass "no probe after the restart"
grep -qE 'cache sess=.* client=\[127\.0\.0\.2\] hit=yes verdict=open-proxy' "$L2" &&
	pass "served from the loaded table (cache hit)" || fail "cache hit logged"

# ---- the export, served by a real rbldnsd ---------------------------------
wait_for "$L2" ': export entries=1 v4=1 v6=0 bytes=[0-9]+ file=' 10 &&
	pass "export written after the load" || fail "export logged" "$(grep ': export ' "$L2" | head -2)"
must_be_free 127.0.0.1 $RBL_PORT || fail "rbldnsd port free"
spawn rbldnsd "$T/rbldnsd.log" rbldnsd -n -u nobody -b 127.0.0.1/$RBL_PORT -t 60 "$ZONE:combined:$EXPORT"
q() { dig +time=1 +tries=2 -p $RBL_PORT @127.0.0.1 "$@" 2>&1; }
i=0
while [ $i -lt 50 ] && ! q "2.0.0.127.$ZONE" A | grep -q 'status: '; do sleep 0.1; i=$((i + 1)); done
a=$(q +short "2.0.0.127.$ZONE" A)
[ "$a" = "127.0.0.2" ] && pass "rbldnsd: 2.0.0.127.$ZONE A 127.0.0.2 (open-proxy)" ||
	fail "rbldnsd A answer" "got '$a'; $(tail -3 "$T/rbldnsd.log")"
txt=$(q +short "2.0.0.127.$ZONE" TXT)
[ "$txt" = "\"open-proxy socks5:$SOCKS\"" ] && pass "rbldnsd: TXT is the evidence" ||
	fail "rbldnsd TXT answer" "got '$txt'"
q "7.0.0.127.$ZONE" A | grep -q 'status: NXDOMAIN' && pass "rbldnsd: clean client NXDOMAIN" ||
	fail "rbldnsd: clean client NXDOMAIN"
q "9.0.0.127.$ZONE" A | grep -q 'status: NXDOMAIN' && pass "rbldnsd: unknown address NXDOMAIN" ||
	fail "rbldnsd: unknown address NXDOMAIN"
grep -qE 'ip4set:proxymilter: ' "$T/rbldnsd.log" && grep -qE 'ip6trie:proxymilter6: ' "$T/rbldnsd.log" &&
	pass "rbldnsd loaded both datasets" || fail "rbldnsd datasets" "$(cat "$T/rbldnsd.log")"
stop_name milter2

# ---- 3. a foreign state file, then another version ------------------------
bad_start() { # bad_start NAME CONTENT WHAT_RE
	local name=$1 content=$2 re=$3 l=$T/$1/milter.log out
	printf '%s' "$content" >"$STATE"
	start_milter "$name" "$CONF" || { fail "$name: milter starts with a bad state file"; return; }
	pass "$name: milter starts with a bad state file"
	grep -qE ": state loaded=0 file=$STATE error=\"$STATE: $re\" msg=\"state file ignored: an empty start\"" "$l" &&
		pass "$name: one clear warning" || fail "$name: warning" "$(grep ': state ' "$l")"
	out=$(send_mail 127.0.0.2 "$RCPT")
	echo "$out" | grep -qE '<\*\* *550 5\.7\.1' && grep -qE 'probe-start sess=.* client=\[127\.0\.0\.2\]' "$l" &&
		pass "$name: probed again and rejected" || fail "$name: probed again"
	stop_name "$name"
}
bad_start milter3 $'\x7fELF\x02\x01garbage\nmore garbage\n' 'not a proxymilter state file \(line 1: \\"\?ELF\?\?garbage\\"\)'
grep -qE ': state saved=1 ' "$T/milter3/milter.log" && head -1 "$STATE" | grep -q '^proxymilter-state 1 ' &&
	pass "the garbage was replaced by a good file at stop" || fail "garbage replaced at stop"
bad_start milter4 $'proxymilter-state 2 1700000000 mx9\npm2 127.0.0.2 open-proxy\nend 1\n' \
	'a state file of another version \(line 1: \\"proxymilter-state 2 1700000000 mx9\\"\); this proxymilter reads version 1'

summary
