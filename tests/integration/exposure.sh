#!/bin/bash
# NETBIOS/SMB exposure checks (139/netbios, 445/smb) against real Samba.
#   127.0.0.1:139, :445  smbd (Samba, private config; smbd binds only an
#                        interface's own address, so 127.0.0.1)
#   127.0.0.1:4450       answers the request with "HTTP/1.0 400 Bad" (no SMB)
#   127.0.0.1:4451       an ssh-like banner first (no SMB)
#   127.0.0.1:4452       nothing listening
# A session or an SMB2 reply is a finding netbios=PORT (weight score.netbios,
# 2 by default); a port that speaks something else, or nothing, is not.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT
PP=${PP:-$TOP/build/tools/proxyprobe}
[ -x "$PP" ] || { fail "proxyprobe built"; summary; exit 1; }
command -v smbd >/dev/null || { fail "smbd installed" "samba: bootstrap.sh --test"; summary; exit 1; }

# reply_peer NAME PORT answer|banner TEXT: a listener on 127.0.0.1:PORT that
# sends TEXT (printf escapes) after the client's first bytes (answer: an
# HTTP server refusing a request it cannot parse) or at once (banner: an
# ssh-like server), then reads until the client hangs up: an early close with
# the request unread would reset the connection and lose the reply
reply_peer() {
	local name=$1 port=$2 mode=$3 text=$4 d=$T/$1
	require_loopback 127.0.0.1
	must_be_free 127.0.0.1 "$port" || return 1
	mkdir -p "$d"
	printf "$text" >"$d/reply"
	cat >"$d/peer.py" <<'PY'
import socket, sys, threading
port, mode, reply = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
def serve(c):
    c.settimeout(10)
    try:
        if mode == "answer":
            c.recv(4096)
        c.sendall(reply)
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
	spawn "$name" "$d/stderr.log" python3 "$d/peer.py" "$port" "$mode" "$d/reply"
	wait_listen 127.0.0.1 "$port" 10
}

must_be_free 127.0.0.1 4452 || fail "127.0.0.1:4452 is free"
start_smbd smbd 127.0.0.1 &&
reply_peer http400 4450 answer 'HTTP/1.0 400 Bad\r\n\r\n' &&
reply_peer sshlike 4451 banner 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n' ||
	{ fail "peers start"; summary; exit 1; }
pass "smbd on 139 and 445, the listeners on 4450 and 4451 started"

# pp NAME WANT_RC ARGS...: run proxyprobe, output in $T/pp.out, check the exit code
pp() {
	local name=$1 rc=$2 got; shift 2
	"$PP" "$@" >"$T/pp.out" 2>&1; got=$?
	[ $got -eq "$rc" ] && return 0
	fail "$name" "exit $got (want $rc): $(tail -4 "$T/pp.out" | tr '\n' '|')"
	return 1
}
# has NAME RE: a line of $T/pp.out matches RE exactly
has() {
	grep -qxE -- "$2" "$T/pp.out" && pass "$1" || fail "$1" "no line /$2/: $(tr '\n' '|' <"$T/pp.out")"
}
# hasnt NAME RE: no line of $T/pp.out matches RE
hasnt() {
	grep -qE -- "$2" "$T/pp.out" && fail "$1" "a line /$2/: $(tr '\n' '|' <"$T/pp.out")" || pass "$1"
}

if pp "exposure: 139/netbios 445/smb" 0 -v 2 127.0.0.1 139/netbios 445/smb; then
	has "139/netbios: a NetBIOS session, a finding netbios=139(2)" \
		'127\.0\.0\.1:139/netbios: closed \(netbios-session\) finding netbios=139\(2\)'
	has "445/smb: an SMB2 reply, a finding netbios=445(2)" \
		'127\.0\.0\.1:445/smb: closed \(smb2\) finding netbios=445\(2\)'
	has "no proxy is claimed" 'Test complete - no proxies found'
	has "the verdict: suspect by the score (2 + 2 >= 3)" \
		'^verdict suspect score=4 netbios=(139|445)\(2\) netbios=(139|445)\(2\)$'
fi
# every check at once: the ports that do not speak the protocol
if pp "exposure: all the ports" 0 -v 2 127.0.0.1 139/netbios 445/smb 4450/smb 4450/netbios 4451/smb 4451/netbios 4452/smb 4452/netbios; then
	has "with the others: 139/netbios found" '127\.0\.0\.1:139/netbios: closed \(netbios-session\) finding netbios=139\(2\)'
	has "with the others: 445/smb found" '127\.0\.0\.1:445/smb: closed \(smb2\) finding netbios=445\(2\)'
	has "an HTTP server on 4450 is not SMB, no finding" '127\.0\.0\.1:4450/smb: closed \(not-smb\)'
	has "an HTTP server on 4450 is not NetBIOS, no finding" '127\.0\.0\.1:4450/netbios: closed \(not-netbios\)'
	has "an ssh-like banner on 4451 is not SMB, no finding" '127\.0\.0\.1:4451/smb: closed \(not-smb\)'
	has "an ssh-like banner on 4451 is not NetBIOS, no finding" '127\.0\.0\.1:4451/netbios: closed \(not-netbios\)'
	has "nothing on 4452: smb refused" '127\.0\.0\.1:4452/smb: closed \(refused\)'
	has "nothing on 4452: netbios refused" '127\.0\.0\.1:4452/netbios: closed \(refused\)'
	[ "$(grep -c 'finding' "$T/pp.out")" -eq 2 ] &&
		! grep 'finding' "$T/pp.out" | grep -qvE '^127\.0\.0\.1:(139/netbios|445/smb): ' &&
		pass "no finding but Samba's two" || fail "no finding but Samba's two" "$(tr '\n' '|' <"$T/pp.out")"
fi
if pp "exposure: -v 3 excerpts" 0 -v 3 127.0.0.1 4450/smb 4451/smb; then
	has "-v 3: the HTTP reply's excerpt" '127\.0\.0\.1:4450/smb: closed \(not-smb\) HTTP/1\.0 400 Bad.*'
	has "-v 3: the banner's excerpt" '127\.0\.0\.1:4451/smb: closed \(not-smb\) SSH-2\.0-OpenSSH.*'
fi
# the checks are opt-in: no tag names them
if pp "exposure: basic tag" 0 -h; then
	hasnt "the basic tag has no netbios or smb check" '^  (basic|full|socks) .*(netbios|smb)'
fi
listening 127.0.0.1 139 && listening 127.0.0.1 445 && pass "smbd still listens after the probes" ||
	fail "smbd still listens after the probes" "$(tail -5 "$T/smbd/log/smbd.log" | tr '\n' '|')"

summary
