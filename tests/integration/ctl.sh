#!/bin/bash
# proxymilter-ctl against a real milter: verdicts made for real (a real
# Postfix, a real open SOCKS5 proxy), then show / show ADDR / stats / flush
# ADDR / flush all through control.socket; garbage written raw to the
# socket; the socket's life (mode, stale file, a live one, not a socket).
#
# Hosts: 127.0.0.2 runs microsocks (open) on 13330 -> open-proxy
#        127.0.0.3 nothing listening               -> clean
# Ports (this test's own): Postfix 13325, sink 13327, milter 13326 (and
# 13329 for a second milter), canary 13328 (13331).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

PF_PORT=13325
SINK_PORT=13327
MPORT=13326
CPORT=13328
MPORT2=13329
CPORT2=13331
SOCKS=13330
RCPT=user@remote.test.invalid
CTL=${CTL:-$(dirname "$PM_BIN")/../tools/proxymilter-ctl}
SOCK=$T/ctl/control.sock

for p in microsocks swaks postfix smtp-sink python3; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { fail "prerequisite $p installed"; summary; exit 1; }
done
[ -x "$CTL" ] || { fail "proxymilter-ctl built ($CTL)"; summary; exit 1; }

mkdir -p "$T/ctl"
milter_conf "$T/m.conf" $MPORT $CPORT "control: { socket = \"$SOCK\"; };" "scan = [ \"$SOCKS/socks5\" ];"
start_milter milter "$T/m.conf" || { fail "milter starts"; summary; exit 1; }
MLOG=$T/milter/milter.log
start_postfix "inet:127.0.0.1:$MPORT" || { fail "postfix starts"; summary; exit 1; }
start_microsocks socks 127.0.0.2 $SOCKS || { fail "microsocks starts"; summary; exit 1; }
[ -S "$SOCK" ] && pass "control socket made" || fail "control socket made" "$(ls -la "$T/ctl")"
[ "$(stat -c %a "$SOCK")" = 660 ] && pass "control socket mode 0660" || fail "mode 0660" "$(stat -c %a "$SOCK")"
grep -qE "control-start socket=$SOCK mode=0660" "$MLOG" && pass "control-start logged" || fail "control-start logged"

# ctl ARGS...: run the client; its stdout in $out, stderr in $err, status in $rc
ctl() {
	out=$("$CTL" "$@" 2>"$T/ctl.err"); rc=$?
	err=$(cat "$T/ctl.err")
}

# ---- verdicts made for real ---------------------------------------------------
o=$(send_mail 127.0.0.2 "$RCPT")
echo "$o" | grep -qE '<\*\* *550 5\.7\.1 Client host \[127\.0\.0\.2\] is an open proxy' &&
	pass "open proxy rejected" || fail "open proxy rejected" "$(echo "$o" | grep -E '^ *<[*~-]' | tail -2)"
before=$(sink_count)
send_mail 127.0.0.3 "$RCPT" >/dev/null
wait_sink $((before + 1)) && pass "clean client delivered" || fail "clean client delivered"
wait_for "$MLOG" 'verdict sess=.* client=\[127\.0\.0\.3\] verdict=clean' 5 || fail "clean verdict logged"

ctl -s "$SOCK" show
[ $rc -eq 0 ] && [ -z "$err" ] && pass "show: exit 0" || fail "show: exit 0" "rc=$rc $err"
echo "$out" | grep -qxE "client=\[127\.0\.0\.2\] verdict=open-proxy score=0 age=[0-9]+s ttl=8[0-9]{4}s egress=127\.0\.0\.2 evidence=socks5:$SOCKS" &&
	pass "show: the open proxy with class, egress and evidence" || fail "show: open proxy line" "$out"
echo "$out" | grep -qxE "client=\[127\.0\.0\.3\] verdict=clean score=0 age=[0-9]+s ttl=3[0-9]{3}s" &&
	pass "show: the clean client" || fail "show: clean line" "$out"
[ "$(echo "$out" | grep -c .)" -eq 2 ] && pass "show: two verdicts, no ok line" || fail "show: two lines" "$out"
# the log said the same
ev=$(sed -n 's/.*verdict sess=.* client=\[127\.0\.0\.2\] verdict=open-proxy evidence=\([^ ]*\) .*/\1/p' "$MLOG" | head -1)
echo "$out" | grep -q "client=\[127\.0\.0\.2\] .* evidence=$ev\$" && [ -n "$ev" ] &&
	pass "show: evidence as logged ($ev)" || fail "show: evidence as logged" "log: $ev"

ctl -s "$SOCK" show 127.0.0.2
[ $rc -eq 0 ] && [ "$(echo "$out" | grep -c .)" -eq 1 ] &&
	echo "$out" | grep -qE "^client=\[127\.0\.0\.2\] verdict=open-proxy .*evidence=socks5:$SOCKS\$" &&
	pass "show ADDR: one line" || fail "show ADDR" "rc=$rc $out $err"
ctl -s "$SOCK" show "[::ffff:127.0.0.2]"
echo "$out" | grep -qE '^client=\[127\.0\.0\.2\] verdict=open-proxy' && pass "show [v4-mapped]: the IPv4 verdict" ||
	fail "show v4-mapped" "$out $err"
ctl -s "$SOCK" show 127.0.0.9
[ $rc -eq 0 ] && [ "$out" = "client=[127.0.0.9] verdict=none" ] && pass "show ADDR without a verdict: verdict=none" ||
	fail "show none" "rc=$rc $out $err"

# ---- stats: what SIGUSR2 logs ---------------------------------------------------
ctl -s "$SOCK" stats
n_ctl=$(echo "$out" | sed -n 's/^stats .*connections=\([0-9]*\) .*/\1/p')
kill -USR2 "$(cat "$T/milter.pid")"
wait_for "$MLOG" ': stats connections=' 5
n_log=$(grep ': stats connections=' "$MLOG" | tail -1 | sed -n 's/.* connections=\([0-9]*\) .*/\1/p')
[ $rc -eq 0 ] && [ -n "$n_ctl" ] && [ "$n_ctl" = "$n_log" ] && [ "$n_ctl" -ge 2 ] &&
	pass "stats: connections=$n_ctl as the stats log line" || fail "stats" "ctl=$n_ctl log=$n_log rc=$rc $out"
o_ctl=$(echo "$out" | sed -n 's/.* open=\([0-9]*\) .*/\1/p')
[ "$o_ctl" = 1 ] && pass "stats: open=1" || fail "stats: open=1" "$out"

# ---- flush ADDR: gone, and probed again ---------------------------------------
ctl -s "$SOCK" flush 127.0.0.2
[ $rc -eq 0 ] && [ "$out" = "flushed=1" ] && pass "flush ADDR: flushed=1" || fail "flush ADDR" "rc=$rc $out $err"
wait_for "$MLOG" 'flush client=\[127\.0\.0\.2\] by=control uid=0 flushed=1' 3 &&
	pass "flush logged (client, by=control, uid)" || fail "flush logged" "$(grep flush "$MLOG" | tail -2)"
ctl -s "$SOCK" show 127.0.0.2
[ "$out" = "client=[127.0.0.2] verdict=none" ] && pass "after flush: verdict=none" || fail "after flush: none" "$out"
ctl -s "$SOCK" show
[ "$(echo "$out" | grep -c .)" -eq 1 ] && echo "$out" | grep -q '^client=\[127\.0\.0\.3\] verdict=clean' &&
	pass "after flush: show lists the clean one only" || fail "after flush: show" "$out"
ctl -s "$SOCK" flush 127.0.0.2
[ $rc -eq 0 ] && [ "$out" = "flushed=0" ] && pass "flush again: flushed=0" || fail "flush again" "rc=$rc $out"
n_probe=$(grep -c 'probe-start .*client=\[127\.0\.0\.2\]' "$MLOG")
o=$(send_mail 127.0.0.2 "$RCPT")
[ "$(grep -c 'probe-start .*client=\[127\.0\.0\.2\]' "$MLOG")" -eq $((n_probe + 1)) ] &&
	pass "next mail after flush: probed again (a new probe-start)" || fail "probed again" "$n_probe before"
echo "$o" | grep -qE '<\*\* *550 5\.7\.1' && pass "... and rejected again" || fail "rejected again"

# ---- flush all --------------------------------------------------------------------
ctl -s "$SOCK" flush all
[ $rc -eq 0 ] && [ "$out" = "flushed=2" ] && pass "flush all: flushed=2" || fail "flush all" "rc=$rc $out $err"
wait_for "$MLOG" 'flush client=all by=control uid=0 flushed=2' 3 && pass "flush all logged" || fail "flush all logged"
ctl -s "$SOCK" show
[ $rc -eq 0 ] && [ -z "$out" ] && pass "after flush all: show is empty, exit 0" || fail "empty show" "rc=$rc $out"

# ---- bad commands: the client refuses them itself -----------------------------
ctl -s "$SOCK" frob
[ $rc -eq 64 ] && echo "$err" | grep -q 'unknown command "frob" (show \[ADDR\] | flush ADDR|all | stats)' &&
	pass "client: unknown command -> 64 and the reason" || fail "client frob" "rc=$rc $err"
ctl -s "$SOCK" show 1.2.3.999
[ $rc -eq 64 ] && echo "$err" | grep -q '"1.2.3.999" is not an address' && pass "client: bad address -> 64" ||
	fail "client bad address" "rc=$rc $err"
ctl -s "$SOCK" flush
[ $rc -eq 64 ] && echo "$err" | grep -q 'flush takes one address or "all"' && pass "client: flush alone -> 64" ||
	fail "client flush alone" "rc=$rc $err"
ctl -s "$SOCK" show a b
[ $rc -eq 64 ] && pass "client: show a b -> 64" || fail "client show a b" "rc=$rc $err"
ctl -s "$T/ctl/missing.sock" stats
[ $rc -eq 69 ] && echo "$err" | grep -q "cannot connect to $T/ctl/missing.sock" && pass "missing socket -> 69, names it" ||
	fail "missing socket" "rc=$rc $err"

# ---- garbage written raw to the socket ------------------------------------------
# raw MODE: what the server answers to a hand-made request
raw() {
	python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
m = sys.argv[2]
if m == "word": s.sendall(b"frob\n")
elif m == "big": s.sendall(b"x" * 10240)
elif m == "nul": s.sendall(b"sh\0ow\0\0\n")
elif m == "eof": s.sendall(b"stats"); s.shutdown(socket.SHUT_WR)
elif m == "ctrl": s.sendall(b"\x1b[2Jshow\r\n")
elif m == "two": s.sendall(b"stats\nflush all\n")
elif m == "silent": pass
data = b""
while True:
    try:
        b = s.recv(65536)
    except OSError:
        break
    if not b: break
    data += b
sys.stdout.write(data.decode("ascii", "replace"))
PY
}
a=$(raw word)
[ "$a" = 'error: unknown command "frob" (show [ADDR] | flush ADDR|all | stats)' ] &&
	pass "raw garbage word: a clear error line" || fail "raw word" "$a"
a=$(raw big)
[ "$a" = "error: command longer than 512 bytes" ] && pass "raw 10 KB without a newline: too long" || fail "raw big" "$a"
a=$(raw nul)
[ "$a" = "error: NUL byte in the command" ] && pass "raw NUL bytes: error" || fail "raw nul" "$a"
a=$(raw eof)
[ "$a" = "error: command not ended by a newline" ] && pass "raw unterminated (EOF): error" || fail "raw eof" "$a"
a=$(raw ctrl)
[ "$a" = "error: control byte 0x1b in the command" ] && pass "raw escape sequence: error" || fail "raw ctrl" "$a"
nf=$(grep -c 'flush client=all by=control' "$MLOG")
a=$(raw two)
echo "$a" | head -1 | grep -q '^stats connections=' && [ "$(echo "$a" | tail -1)" = ok ] &&
	[ "$(echo "$a" | wc -l)" -eq 2 ] && pass "raw two lines: the first is served" || fail "raw two" "$a"
sleep 0.3
[ "$(grep -c 'flush client=all by=control' "$MLOG")" -eq "$nf" ] &&
	pass "... the second (flush all) is not read, not run" || fail "second line run"
# a silent client holds the socket for 5 s; the next one waits, then is
# served (5 s of waiting: not again in the sanitizer runs, SAN_RUN)
if [ -z "${SAN_RUN:-}" ]; then
	raw silent >"$T/silent.out" &
	sp=$!
	sleep 0.5
	t0=$(date +%s.%N)
	ctl -s "$SOCK" stats
	t1=$(date +%s.%N)
	wait $sp
	[ "$(cat "$T/silent.out")" = "error: no command within 5 s" ] && pass "silent client: error after the timeout" ||
		fail "silent client" "$(cat "$T/silent.out")"
	waited=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	[ $rc -eq 0 ] && awk -v w="$waited" 'BEGIN { exit !(w < 6.5) }' &&
		pass "the next client waited ${waited}s at most the timeout, then was served" || fail "next client" "rc=$rc waited=$waited"
	grep -qE 'control-error reason="no command within 5 s"' "$MLOG" && pass "bad requests logged" || fail "bad requests logged"
fi
# a fake server: the client's side of an error answer and of a cut one
python3 - "$T/ctl/fake.sock" <<'PY' &
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
for answer in (b"x=1\nerror: boom\n", b"x=1\nx=2\n", b"x=1\nok"):
    c, _ = s.accept()
    c.recv(600)
    c.sendall(answer)
    c.close()
s.close(); os.unlink(sys.argv[1])
PY
fp=$!
i=0; while [ ! -S "$T/ctl/fake.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
ctl -s "$T/ctl/fake.sock" stats
[ $rc -eq 1 ] && [ "$out" = "x=1" ] && [ "$err" = "proxymilter-ctl: boom" ] &&
	pass "client: an error answer -> exit 1, its reason on stderr" || fail "client error answer" "rc=$rc $out / $err"
ctl -s "$T/ctl/fake.sock" stats
[ $rc -eq 1 ] && [ "$err" = "proxymilter-ctl: the answer did not end with ok: x=2" ] &&
	pass "client: an answer without ok -> exit 1" || fail "client answer without ok" "rc=$rc $out / $err"
ctl -s "$T/ctl/fake.sock" stats
[ $rc -eq 1 ] && echo "$err" | grep -q "cut short (a line without its newline)" &&
	pass "client: an answer cut in a line -> exit 1" || fail "client cut answer" "rc=$rc $out / $err"
wait $fp
alive "$(cat "$T/milter.pid")" && pass "milter alive after the garbage" || fail "milter alive"
ctl -s "$SOCK" stats
[ $rc -eq 0 ] && echo "$out" | grep -q '^stats connections=' && pass "milter still answers" || fail "still answers" "rc=$rc $err"

# ---- the socket's life ------------------------------------------------------------
# a second milter with the same control socket: refused, the first one's kept
milter_conf "$T/m2.conf" $MPORT2 $CPORT2 "control: { socket = \"$SOCK\"; };" "scan = [ \"$SOCKS/socks5\" ];"
timeout 20 "$PM_BIN" -f -c "$T/m2.conf" >"$T/m2.log" 2>&1; r=$?
[ $r -ne 0 ] && grep -q "control.socket $SOCK: another process answers on it" "$T/m2.log" &&
	pass "a live control socket stops a second milter" || fail "live socket refused" "rc=$r $(tail -2 "$T/m2.log")"
ctl -s "$SOCK" stats
[ $rc -eq 0 ] && pass "the first milter's socket still works" || fail "first socket kept" "rc=$rc $err"
stop_name milter
[ ! -e "$SOCK" ] && pass "stop removes the socket" || fail "stop removes the socket"
# a stale socket file (its server gone) is replaced
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)' "$SOCK"
[ -S "$SOCK" ] || fail "stale socket made"
start_milter milter-b "$T/m.conf" || fail "milter restarts over a stale socket"
i=0; while ! grep -q 'control-start' "$T/milter-b/milter.log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
grep -q "control-start socket=$SOCK mode=0660 stale=removed" "$T/milter-b/milter.log" &&
	pass "stale socket replaced, logged" ||
	fail "stale socket replaced" "$(grep -i control "$T/milter-b/milter.log")"
ctl -s "$SOCK" show
[ $rc -eq 0 ] && pass "the new socket answers" || fail "new socket answers" "rc=$rc $err"
stop_name milter-b
# anything else at the path: refused, left alone
echo "precious" >"$SOCK"
timeout 20 "$PM_BIN" -f -c "$T/m.conf" >"$T/m3.log" 2>&1; r=$?
[ $r -ne 0 ] && grep -q "control.socket $SOCK exists and is not a socket" "$T/m3.log" &&
	[ "$(cat "$SOCK")" = precious ] && pass "a file at the path: refused, left alone" || fail "not a socket" "rc=$r $(tail -2 "$T/m3.log")"
rm -f "$SOCK"
# as the milter's user: owner and group are its, others cannot connect
mkdir -p "$T/ctlu"
chown proxymilter "$T/ctlu"
milter_conf "$T/mu.conf" $MPORT2 $CPORT2 "control: { socket = \"$T/ctlu/c.sock\"; };" "scan = [ \"$SOCKS/socks5\" ];"
sed -i 's|^user = "";|user = "proxymilter";|' "$T/mu.conf"
start_milter milter-u "$T/mu.conf" || fail "milter starts as proxymilter"
i=0; while [ ! -S "$T/ctlu/c.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
g=$(id -gn proxymilter)
[ "$(stat -c '%U %G %a' "$T/ctlu/c.sock")" = "proxymilter $g 660" ] && pass "socket owned by proxymilter:$g, 0660" ||
	fail "socket owner" "$(stat -c '%U %G %a' "$T/ctlu/c.sock")"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" -s "$T/ctlu/c.sock" stats 2>&1); rc=$?
[ $rc -eq 69 ] && echo "$out" | grep -q 'Permission denied' && pass "others: permission denied -> 69" ||
	fail "others denied" "rc=$rc $out"
out=$(setpriv --reuid=proxymilter --regid="$g" --clear-groups "$CTL" -s "$T/ctlu/c.sock" stats 2>&1); rc=$?
[ $rc -eq 0 ] && pass "the milter's user may use it" || fail "user may use it" "rc=$rc $out"
ctl -s "$T/ctlu/c.sock" flush all
wait_for "$T/milter-u/milter.log" 'flush client=all by=control uid=0 flushed=0' 3 && pass "root may too (uid=0 logged)" ||
	fail "root flush" "rc=$rc $err"

summary
