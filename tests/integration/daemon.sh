#!/bin/bash
# The daemon's command line, config checking, reload and stats signals.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT

# -t on the shipped sample config and on broken ones
out=$("$PM_BIN" -t -c "$TOP/etc/proxymilter.conf" 2>&1); rc=$?
[ $rc -eq 0 ] && pass "-t accepts etc/proxymilter.conf" || fail "-t accepts etc/proxymilter.conf" "rc=$rc $out"
printf 'socket = "inet:8890@127.0.0.1";\nprobe: {\n  scan = [ "3128/gopher" ];\n};\n' >"$T/bad.conf"
out=$("$PM_BIN" -t -c "$T/bad.conf" 2>&1); rc=$?
[ $rc -eq 78 ] && pass "-t on a bad config exits EX_CONFIG (78)" || fail "-t exit code" "rc=$rc"
echo "$out" | grep -qF "$T/bad.conf:3: probe.scan: unknown proxy type \"gopher\"" &&
	pass "-t names file:line and the problem" || fail "-t message" "$out"
out=$("$PM_BIN" -t -c "$T/missing.conf" 2>&1); rc=$?
[ $rc -eq 78 ] && echo "$out" | grep -q "cannot open: No such file" && pass "missing config file" || fail "missing config file" "rc=$rc $out"
"$PM_BIN" -V | grep -qE '^proxymilter [0-9.]+ \(libmilter [0-9.]+, libevent [0-9.]+' && pass "-V prints versions" || fail "-V"
"$PM_BIN" -h | grep -q '^usage: proxymilter' && pass "-h prints usage" || fail "-h"
"$PM_BIN" -x >/dev/null 2>&1; [ $? -eq 64 ] && pass "unknown option exits EX_USAGE (64)" || fail "unknown option"
"$PM_BIN" -t -c "$T/bad.conf" -p inet:1@127.0.0.1 >/dev/null 2>&1; [ $? -eq 78 ] && pass "-p does not hide config errors" || fail "-p with bad config"
out=$("$PM_BIN" -t -p "inet:9@127.0.0.1" 2>&1) && pass "-t with built-in defaults" || fail "-t with built-in defaults" "$out"

# -p is checked exactly like the socket key: Postfix's spelling is refused
out=$("$PM_BIN" -t -p "inet:127.0.0.1:8891" 2>&1); rc=$?
[ $rc -eq 64 ] && echo "$out" | grep -q "libmilter writes inet:PORT@HOST" &&
	pass "-t -p inet:HOST:PORT (Postfix's order) is refused" || fail "-t -p Postfix order" "rc=$rc $out"
out=$(timeout 5 "$PM_BIN" -f -p "inet:127.0.0.1:18891" 2>&1); rc=$?
[ $rc -eq 64 ] && pass "-p inet:HOST:PORT does not start a daemon" || fail "-p Postfix order starts" "rc=$rc $out"
out=$("$PM_BIN" -t -p "unix:relative.sock" 2>&1); rc=$?
[ $rc -eq 64 ] && pass "-p with a relative unix path is refused" || fail "-p unix relative" "rc=$rc $out"

# bad files: a directory, an oversized file, numbers libconfig would truncate
out=$("$PM_BIN" -t -c "$T" 2>&1); rc=$?
[ $rc -eq 78 ] && echo "$out" | grep -q "$T: not a regular file" && pass "-c DIR: not a regular file" ||
	fail "-c DIR" "rc=$rc $out"
{ printf 'socket = "'; head -c 2000000 /dev/zero | tr '\0' a; printf '";\n'; } >"$T/huge.conf"
out=$(timeout 10 "$PM_BIN" -t -c "$T/huge.conf" 2>&1); rc=$?
[ $rc -eq 78 ] && echo "$out" | grep -q "too large" && pass "a 2 MB config is refused at once" || fail "huge config" "rc=$rc $out"
for n in 99999999999999999999 9999999999; do
	printf 'probe: {\n  max_inflight = %s;\n};\n' "$n" >"$T/num.conf"
	out=$("$PM_BIN" -t -c "$T/num.conf" 2>&1); rc=$?
	[ $rc -eq 78 ] && echo "$out" | grep -qF "$T/num.conf:2: max_inflight: the number is out of range (1 to 65536)" &&
		pass "max_inflight = $n is out of range (not truncated)" || fail "max_inflight = $n" "rc=$rc $out"
done
printf 'socket_mode = "0999";\n' >"$T/mode.conf"
out=$("$PM_BIN" -t -c "$T/mode.conf" 2>&1); rc=$?
[ $rc -eq 78 ] && echo "$out" | grep -q "socket_mode" && pass "socket_mode must be octal" || fail "socket_mode check" "$out"
printf 'socket_group = "no-such-group-pm";\n' >"$T/grp.conf"
out=$("$PM_BIN" -t -c "$T/grp.conf" 2>&1); rc=$?
[ $rc -eq 78 ] && echo "$out" | grep -q 'no group "no-such-group-pm"' && pass "socket_group must exist" || fail "socket_group check" "$out"

# a running milter: SIGUSR2 stats, SIGUSR1 reload (good, then bad), SIGTERM stop
milter_conf "$T/run.conf" 18890 12526
start_milter milter "$T/run.conf" || { fail "milter starts"; summary; exit 1; }
L=$T/milter/milter.log
P=$(cat "$T/milter.pid")
wait_for "$L" 'start version=' 5 && pass "start line logged" || fail "start line"
kill -USR2 "$P"
wait_for "$L" '^.* stats connections=0 probed=0 ' 5 && pass "SIGUSR2 logs a stats line" || fail "SIGUSR2 stats"
sed -i 's/pending_wait = 8.0;/pending_wait = 3.0;/' "$T/run.conf"
kill -USR1 "$P"
wait_for "$L" 'reload file=.* result=ok' 5 && pass "SIGUSR1 reloads a good config" || fail "reload ok"
grep -q 'reload msg="socket changed' "$L" && fail "reload warns about an unchanged socket" || pass "reload: no false 'socket changed'"
echo 'bogus_key = 1;' >>"$T/run.conf"
kill -USR1 "$P"
wait_for "$L" "reload file=.* result=failed error=\"$T/run.conf:[0-9]+: unknown key \\\\\"bogus_key\\\\\"\"" 5 &&
	pass "a bad config is refused on reload, with file:line" || fail "reload failed logged" "$(grep reload "$L")"
alive "$P" && pass "milter keeps running on the old config" || fail "milter keeps running"
kill -TERM "$P"
i=0; while alive "$P" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
alive "$P" && fail "SIGTERM stops the milter" || pass "SIGTERM stops the milter"
grep -q 'stop msg="normal shutdown"' "$L" && pass "stop logged" || fail "stop logged"

# without -f: it forks into the background and writes its pid file
milter_conf "$T/bg.conf" 18890 12526
sed -i "s|^pid_file = \"\";|pid_file = \"$T/bg/pm.pid\";|; s|^log_stderr = true;|log_stderr = false;|" "$T/bg.conf"
"$PM_BIN" -c "$T/bg.conf"; rc=$?
i=0; while [ ! -s "$T/bg/pm.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
BG=$(cat "$T/bg/pm.pid" 2>/dev/null)
[ $rc -eq 0 ] && [ -n "$BG" ] && alive "$BG" && pass "daemon mode: parent exits 0, pid file names the running daemon" ||
	fail "daemon mode" "rc=$rc pid=$BG"
[ -n "$BG" ] && echo "bg $BG" >>"$PIDS_FILE"
wait_listen 127.0.0.1 18890 5 && pass "daemon mode: listening" || fail "daemon mode: listening"
[ -n "$BG" ] && stop_pid "$BG" 10
[ -n "$BG" ] && ! alive "$BG" && [ ! -e "$T/bg/pm.pid" ] && pass "daemon mode: SIGTERM stops it and removes the pid file" ||
	fail "daemon mode: stop" "pid file: $(ls "$T/bg" 2>&1)"

# started as root with user = "proxymilter": runs as that user
if id proxymilter >/dev/null 2>&1; then
	milter_conf "$T/user.conf" 18890 12526
	sed -i 's|^user = "";|user = "proxymilter";|' "$T/user.conf"
	start_milter muser "$T/user.conf" || fail "milter starts with user = proxymilter"
	P=$(cat "$T/muser.pid")
	uid=$(awk '/^Uid:/ {print $2}' "/proc/$P/status" 2>/dev/null)
	[ "$uid" = "$(id -u proxymilter)" ] && pass "privileges dropped to user proxymilter (uid $uid)" ||
		fail "privileges dropped" "uid=$uid"
	out=$(miltertest -D name=x -D sock=inet:18890@127.0.0.1 -D ip=127.0.0.7 -s "$TOP/tests/lua/txn.lua" 2>&1)
	echo "$out" | grep -q '^PASS' && grep -q 'verdict sess=.* client=\[127\.0\.0\.7\] verdict=clean' "$T/muser/milter.log" &&
		pass "after dropping privileges it still probes and answers" || fail "works unprivileged" "$out"
	stop_name muser
else
	fail "user proxymilter exists (bootstrap.sh creates it)"
fi

# -p survives a reload: no "socket changed" warning either
milter_conf "$T/p.conf" 18895 12526
sed -i 's|^socket = .*|socket = "inet:1@127.0.0.1";|' "$T/p.conf"
spawn mp "$T/mp.log" "$PM_BIN" -f -p inet:18895@127.0.0.1 -c "$T/p.conf"
wait_listen 127.0.0.1 18895 10 && pass "-p overrides the socket key" || fail "-p overrides"
kill -USR1 "$(cat "$T/mp.pid")"
wait_for "$T/mp.log" 'reload file=.* result=ok' 5
grep -q 'socket changed' "$T/mp.log" && fail "reload with -p warns 'socket changed'" "$(grep reload "$T/mp.log")" ||
	pass "reload with -p: no 'socket changed' warning"
stop_name mp

# pid file: a second instance with the same file refuses to start and
# leaves the first one's file alone
milter_conf "$T/pid1.conf" 18896 12528
sed -i "s|^pid_file = \"\";|pid_file = \"$T/pid/pm.pid\";|" "$T/pid1.conf"
milter_conf "$T/pid2.conf" 18897 12529
sed -i "s|^pid_file = \"\";|pid_file = \"$T/pid/pm.pid\";|" "$T/pid2.conf"
start_milter pid1 "$T/pid1.conf" || fail "first instance starts"
P1=$(cat "$T/pid1.pid")
out=$(timeout 10 "$PM_BIN" -f -c "$T/pid2.conf" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "pid file $T/pid/pm.pid is locked: proxymilter is already running (pid $P1)" &&
	pass "second instance with the same pid_file refuses to start" || fail "pid file lock" "rc=$rc $out"
[ "$(cat "$T/pid/pm.pid" 2>/dev/null)" = "$P1" ] && pass "the first instance's pid file is intact" ||
	fail "pid file intact" "$(cat "$T/pid/pm.pid" 2>&1)"
out=$(timeout 10 "$PM_BIN" -c "$T/pid2.conf" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "is locked" && pass "daemon mode: the locked pid file is reported by the parent" ||
	fail "daemon mode pid lock" "rc=$rc $out"
stop_name pid1
[ ! -e "$T/pid/pm.pid" ] && pass "the owner removes its pid file at stop" || fail "pid file removed"

# unix socket: socket_mode and socket_group, so that the MTA's user can connect
if getent group postfix >/dev/null; then
	milter_conf "$T/unix.conf" 18898 12530
	sed -i "s|^socket = .*|socket = \"unix:$T/sock/pm.sock\";\nsocket_group = \"postfix\";|; s|^user = \"\";|user = \"proxymilter\";|" "$T/unix.conf"
	mkdir -p "$T/sock"; chmod 755 "$T/sock"
	spawn munix "$T/munix.log" "$PM_BIN" -f -c "$T/unix.conf"
	i=0; while [ ! -S "$T/sock/pm.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	perm=$(stat -c '%a %U %G' "$T/sock/pm.sock" 2>&1)
	[ "$perm" = "660 proxymilter postfix" ] && pass "unix socket is 0660 proxymilter:postfix" || fail "unix socket perms" "$perm"
	out=$(runuser -u postfix -- python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("ok")' "$T/sock/pm.sock" 2>&1)
	[ "$out" = ok ] && pass "the postfix user can connect to the socket" || fail "postfix connects" "$out"
	out=$(runuser -u nobody -- python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("ok")' "$T/sock/pm.sock" 2>&1)
	[ "$out" != ok ] && pass "other users cannot" || fail "nobody connects"
	stop_name munix
else
	fail "group postfix exists (bootstrap.sh --test installs postfix)"
fi

# the systemd unit: installed by make install, valid, and in the foreground
# (-f, stderr not a terminal, log_stderr false) nothing is written twice
B=$(dirname "$(dirname "$PM_BIN")")
if make -C "$B" install DESTDIR="$T/inst" >"$T/install.log" 2>&1; then
	unit=$(find "$T/inst" -name proxymilter.service | head -1)
	[ -n "$unit" ] && grep -q '^ExecStart=.*/proxymilter -f -c ' "$unit" && grep -q '^NoNewPrivileges=yes' "$unit" &&
		grep -q '^ProtectSystem=strict' "$unit" && pass "make install installs the systemd unit (-f, hardened)" ||
		fail "systemd unit installed" "$(ls -R "$T/inst" | head -20)"
	if command -v systemd-analyze >/dev/null && [ -n "$unit" ]; then
		sbin=$(sed -n 's/^ExecStart=\(.*\)\/proxymilter .*/\1/p' "$unit")
		sed "s|$sbin/proxymilter|$T/inst$sbin/proxymilter|g" "$unit" >"$T/proxymilter.service"
		out=$(systemd-analyze verify "$T/proxymilter.service" 2>&1 | grep -v "Command 'man ")
		[ -z "$out" ] && pass "systemd-analyze verify: the unit is valid" || fail "systemd-analyze verify" "$out"
	fi
else
	fail "make install" "$(tail -5 "$T/install.log")"
fi
milter_conf "$T/fg.conf" 18899 12531
sed -i 's|^log_stderr = true;|log_stderr = false;|' "$T/fg.conf"
spawn mfg "$T/mfg.stderr" "$PM_BIN" -f -c "$T/fg.conf"
wait_listen 127.0.0.1 18899 10 && miltertest -D name=x -D sock=inet:18899@127.0.0.1 -D ip=127.0.0.7 -s "$TOP/tests/lua/txn.lua" >/dev/null 2>&1
stop_name mfg
[ ! -s "$T/mfg.stderr" ] && pass "-f under a service manager: no copy of the log on stderr" ||
	fail "-f writes lines to stderr too" "$(head -3 "$T/mfg.stderr")"

# a port in use is a clear start-up error, not a hang
python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 18900)); s.listen(); time.sleep(5)' &
BUSY=$!
wait_listen 127.0.0.1 18900 10
milter_conf "$T/busy.conf" 18900 12526
timeout 10 "$PM_BIN" -f -c "$T/busy.conf" >"$T/busy.log" 2>&1; rc=$?
kill $BUSY 2>/dev/null
[ $rc -eq 69 ] && grep -q 'cannot open milter socket' "$T/busy.log" && pass "busy socket: EX_UNAVAILABLE and a message" ||
	fail "busy socket" "rc=$rc $(cat "$T/busy.log")"
# ... and in daemon mode the parent waits, says why on stderr, and fails
python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 18900)); s.listen(); time.sleep(5)' &
BUSY=$!
wait_listen 127.0.0.1 18900 10
sed -i "s|^log_stderr = true;|log_stderr = false;|; s|^pid_file = \"\";|pid_file = \"$T/busy/pm.pid\";|" "$T/busy.conf"
out=$(timeout 10 "$PM_BIN" -c "$T/busy.conf" 2>&1); rc=$?
kill $BUSY 2>/dev/null
[ $rc -eq 69 ] && echo "$out" | grep -q 'cannot open milter socket inet:18900@127.0.0.1' &&
	pass "daemon mode, busy socket: the parent exits 69 with the error on stderr" || fail "daemon busy socket" "rc=$rc $out"
[ ! -e "$T/busy/pm.pid" ] && pass "a failed start leaves no pid file behind" || fail "pid file left after a failed start"
summary
