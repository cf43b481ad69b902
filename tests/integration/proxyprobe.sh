#!/bin/bash
# proxyprobe, the one-shot prober, against real proxies and small emulators.
#   127.0.0.2:3128 squid open        127.0.0.12:3128 squid secure  .22 strict
#   127.0.0.3:8080 tinyproxy open    127.0.0.13:8080 tinyproxy secure
#   127.0.0.4:1080 dante open        [::1]:1080 dante open (IPv6)
#   127.0.0.5:1080 microsocks        127.0.0.20:443  TLS (socat) in front of squid
#   127.0.0.30:23 WinGate   .31:23 telnet gateway   .32:23 Cisco (factory password)
#   .33:23 Cisco (changed password)   .34:23 silent   .35:8080 needs the split CRLF
#   127.0.0.7: nothing listening
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/peers.sh"
trap stop_all EXIT
PP=${PP:-$TOP/build/tools/proxyprobe}
[ -x "$PP" ] || { fail "proxyprobe built"; summary; exit 1; }

start_squid squid-open open 127.0.0.2 && start_squid squid-secure secure 127.0.0.12 &&
start_squid squid-strict strict 127.0.0.22 &&
start_tinyproxy tiny-open open 127.0.0.3 && start_tinyproxy tiny-secure secure 127.0.0.13 &&
start_dante dante-open open 127.0.0.4 && start_dante dante-v6 open ::1 &&
start_microsocks microsocks 127.0.0.5 &&
start_tls_front tls-squid 127.0.0.20 443 127.0.0.2 3128 &&
start_fake wingate wingate 127.0.0.30 23 && start_fake telnetgw telnetgw 127.0.0.31 23 &&
start_fake cisco cisco 127.0.0.32 23 && start_fake cisco2 cisco-changed 127.0.0.33 23 &&
start_fake silent silent 127.0.0.34 23 && start_fake mikrotik mikrotik 127.0.0.35 8080 ||
	{ fail "peers start"; summary; exit 1; }
pass "squid, tinyproxy, dante (v4, v6), microsocks, socat TLS and the emulators started"

# pp NAME WANT_RC WANT_LINE_RE ARGS...: run proxyprobe, check exit code and output
pp() {
	local name=$1 rc=$2 re=$3; shift 3
	local out t0 t1 got
	t0=$(date +%s.%N)
	out=$("$PP" "$@" 2>&1); got=$?
	t1=$(date +%s.%N)
	if [ $got -eq "$rc" ] && echo "$out" | grep -qE -- "$re"; then
		pass "$name"
	else
		fail "$name" "exit $got (want $rc): $(echo "$out" | tail -4 | tr '\n' '|')"
	fi
	printf 'INFO: %-44s %6.3fs  %s\n' "$*" "$(echo "$t1 - $t0" | bc)" "$(echo "$out" | tail -1)" >>"$T/timing"
}

pp "squid: HTTP CONNECT open" 2 '^Test complete - identified open proxy 127\.0\.0\.2:3128/http-connect$' 127.0.0.2 3128
pp "squid: HTTP POST open" 2 'identified open proxy 127\.0\.0\.2:3128/http-post' 127.0.0.2 3128/http-post
pp "tinyproxy: HTTP CONNECT open" 2 'identified open proxy 127\.0\.0\.3:8080/http-connect' 127.0.0.3 8080
pp "tinyproxy: POST open although it answers 503" 2 'identified open proxy 127\.0\.0\.3:8080/http-post' 127.0.0.3 8080/http-post
pp "squid secure: CONNECT closed (403)" 0 '^Test complete - no proxies found$' -v 2 127.0.0.12 3128
pp "squid secure relays POST to the canary's high port: open" 2 'identified open proxy 127\.0\.0\.12:3128/http-post' 127.0.0.12 3128/http-post
pp "squid strict (ports 80, 443): POST closed (403)" 0 'closed \(http-403\)' -v 2 127.0.0.22 3128/http-post
pp "tinyproxy secure: CONNECT closed" 0 'no proxies found' 127.0.0.13 8080
pp "dante: SOCKS4 and SOCKS5 with -a" 2 'identified 2 open proxies' -a 127.0.0.4 socks
pp "dante on ::1: SOCKS5 to an IPv6 canary" 2 'identified open proxy \[::1\]:1080/socks5' ::1 1080/socks5
pp "dante on ::1: SOCKS4 cannot reach an IPv6 target" 0 'closed \(no-ipv4-target\)' -v 2 ::1 1080/socks4
pp "microsocks: SOCKS5 open" 2 'identified open proxy 127\.0\.0\.5:1080/socks5' 127.0.0.5 1080/socks5
pp "microsocks: not SOCKS4" 0 'closed \(socks5-only\)' -v 2 127.0.0.5 1080/socks4
pp "HTTPS CONNECT through TLS in front of squid" 2 'identified open proxy 127\.0\.0\.20:443/https-connect' 127.0.0.20 443/https-connect
pp "HTTPS CONNECT to a plain port: closed" 0 'closed \(tls-failed\)' -v 2 127.0.0.2 3128/https-connect
pp "WinGate emulator" 2 'identified open proxy 127\.0\.0\.30:23/wingate' -v 2 127.0.0.30 23/wingate
pp "the prompt, not the name asked for, names the result" 2 'identified open proxy 127\.0\.0\.30:23/wingate' 127.0.0.30 23/telnet
pp "telnet gateway emulator" 2 'identified open proxy 127\.0\.0\.31:23/telnet' 127.0.0.31 23/telnet
pp "Cisco with the factory password" 2 'identified open proxy 127\.0\.0\.32:23/cisco' 127.0.0.32 23/cisco
pp "Cisco with a changed password: closed" 0 'closed \(cisco-bad-password\)' -v 2 127.0.0.33 23/cisco
pp "silent port 23: closed before the deadline" 0 'closed \(silent\)' -v 2 127.0.0.34 23/telnet
pp "proxy that needs the split CRLF" 2 'identified open proxy 127\.0\.0\.35:8080/http-connect' 127.0.0.35 8080
pp "nothing listening, full tag, -a" 0 '^Test complete - no proxies found$' -a 127.0.0.7 full
pp "stops at the first open proxy" 2 'identified open proxy 127\.0\.0\.4:1080/socks' 127.0.0.4 socks
pp "-t 1 runs the tests one at a time" 2 'identified open proxy' -t 1 127.0.0.2 8080 8081 3128
pp "-v 0: only the final line" 2 '^Test complete - identified open proxy 127\.0\.0\.2:3128/http-connect$' -v 0 127.0.0.2 3128
out=$("$PP" -v 0 127.0.0.2 3128 2>&1); [ "$(echo "$out" | wc -l)" -eq 1 ] && pass "-v 0 prints one line" || fail "-v 0 prints one line" "$out"
pp "-v 3 shows the reply" 0 'closed \(http-403\) HTTP/1\.1 403 Forbidden' -v 3 127.0.0.12 3128
pp "-h lists the tags" 0 '^  full   basic 81 85 1182' -h

# errors, with pxytest's wording
pp "bad port specification" 64 '^proxyprobe: bad port specification "99999"' 127.0.0.7 99999
pp "unknown proxy type" 64 '^proxyprobe: unknown proxy type "gopher"' 127.0.0.7 80/gopher
pp "-m without -M" 68 '^proxyprobe: cannot locate mailserver' -m a@b.invalid 127.0.0.7
pp "unusable -M" 68 '^proxyprobe: cannot locate mailserver "127\.0\.0\.1:99999"' -M 127.0.0.1:99999 127.0.0.7
pp "bad option" 64 '^usage: proxyprobe' -q 127.0.0.7
# a name, looked up with the resolver pointed at loopback (no DNS leaves the host)
out=$("$NS_EXEC" pp.test.invalid "$T/ns-pp" "$PP" no-such-host.invalid 2>&1); rc=$?
[ $rc -eq 68 ] && echo "$out" | grep -q '^proxyprobe: unknown host "no-such-host.invalid"' &&
	pass "unknown host" || fail "unknown host" "rc=$rc $out"
for a in 0.0.0.0 :: 255.255.255.255 224.0.0.1 ::ffff:0.0.0.0; do
	out=$("$PP" "$a" 2>&1); rc=$?
	[ $rc -eq 68 ] && echo "$out" | grep -q "is not a host's address" &&
		pass "$a is refused (it would probe this host or nobody)" || fail "$a refused" "rc=$rc $out"
done
pp "[::1] in brackets, as -M takes it" 0 '\[::1\]:9/socks5: closed \(refused\)' -v 2 '[::1]' 9/socks5

# -i FILE: host lists, one engine for every host, one result line per host
# lst NAME WANT_RC ARGS...: run proxyprobe, stdout in $T/lst.out, stderr in $T/lst.err
lst() {
	local name=$1 rc=$2 got t0 t1; shift 2
	t0=$(date +%s.%N)
	"$PP" "$@" >"$T/lst.out" 2>"$T/lst.err"; got=$?
	t1=$(date +%s.%N)
	printf 'INFO: %-44s %6.3fs  %s\n' "$*" "$(echo "$t1 - $t0" | bc)" "$(tail -1 "$T/lst.err")" >>"$T/timing"
	[ $got -eq "$rc" ] && return 0
	fail "$name" "exit $got (want $rc): $(tail -3 "$T/lst.out" "$T/lst.err" | tr '\n' '|')"
	return 1
}
# out_is NAME LINE...: stdout is exactly these lines (ERE, in any order)
out_is() {
	local name=$1 re n=0; shift
	for re in "$@"; do
		grep -qxE -- "$re" "$T/lst.out" || { fail "$name" "no line /$re/: $(tr '\n' '|' <"$T/lst.out")"; return; }
		n=$((n + 1))
	done
	[ "$(wc -l <"$T/lst.out")" -eq $n ] && pass "$name" || fail "$name" "$(wc -l <"$T/lst.out") lines, want $n: $(tr '\n' '|' <"$T/lst.out")"
}
err_has() { grep -qE -- "$2" "$T/lst.err" && pass "$1" || fail "$1" "stderr: $(tr '\n' '|' <"$T/lst.err")"; }

start_fake busy busy 127.0.0.37 8080 || fail "busy emulator starts"
L=$T/hosts
{
	echo '# suspicious clients, from the logs'
	echo '127.0.0.4'
	echo ''
	echo '127.0.0.7	# nothing listens'
	printf '127.0.0.22\r\n'
	echo 'not/a/host!'
	echo '0.0.0.0'
	echo '[::1]'
	printf 'bad\033[31m\001\n'
	head -c 3000 /dev/zero | tr '\0' x; echo
	echo '   127.0.0.8   '
	echo '224.0.0.1'
	echo '127.0.0.9 127.0.0.10'
} >"$L"
lst "-i: exit 2 with an open proxy in the list" 2 -i "$L" &&
	out_is "-i: one line, for the open host only" '127\.0\.0\.4 open socks[45]:1080 egress=127\.0\.0\.4'
err_has "-i: a bad line is FILE:LINE: and the others go on" "^proxyprobe: $L:6: not a host name or address: \"not/a/host!\"$"
err_has "-i: 0.0.0.0 refused per line" "^proxyprobe: $L:7: \"0\.0\.0\.0\" is not a host's address"
err_has "-i: multicast refused per line" "^proxyprobe: $L:12: \"224\.0\.0\.1\" is not a host's address"
err_has "-i: control characters shown as ?" "^proxyprobe: $L:9: not a host name or address: \"bad\?\[31m\?\"$"
err_has "-i: a long line is refused, not split" "^proxyprobe: $L:10: line longer than 1024 bytes$"
err_has "-i: one host a line" "^proxyprobe: $L:13: one host a line"
err_has "-i: summary on stderr" '^Test complete - 5 hosts: 1 open, [0-9]+ clean, [0-9]+ errors?; 6 bad lines$'
! grep -q "$(printf '\033')" "$T/lst.err" && pass "-i: no raw escape byte in messages" || fail "-i: raw escape byte in messages"
lst "-i -a: every host" 2 -a -i "$L" &&
	out_is "-i -a: a line for each host, the open one with every open test" \
		'127\.0\.0\.4 open socks[45]:1080,socks[45]:1080 egress=127\.0\.0\.4' '127\.0\.0\.7 clean' \
		'127\.0\.0\.22 clean' '::1 (clean|error [a-z-]+)' '127\.0\.0\.8 clean'
lst "-i -v 2: the tests' lines too" 2 -v 2 -i "$L" 1080/socks5 &&
	grep -q '^127\.0\.0\.4:1080/socks5: open proxy (proved, egress 127\.0\.0\.4)$' "$T/lst.out" &&
	grep -q '^127\.0\.0\.7:1080/socks5: closed (refused)$' "$T/lst.out" &&
	grep -q '^127\.0\.0\.4 open socks5:1080 egress=127\.0\.0\.4$' "$T/lst.out" &&
	pass "-i -v 2: test lines and host lines" || fail "-i -v 2" "$(tr '\n' '|' <"$T/lst.out")"
lst "-i -v 0" 2 -v 0 -i "$L" && [ "$(wc -l <"$T/lst.out")" -eq 1 ] && ! grep -q 'Test complete' "$T/lst.err" &&
	pass "-i -v 0: the host line, no summary" || fail "-i -v 0" "$(cat "$T/lst.out" "$T/lst.err" | tr '\n' '|')"
# stdin; the first host is IPv6, so the canary is on ::1 and dante's IPv6 side reaches it
lst "-i -: stdin" 2 -a -i - 1080/socks5 < <(printf '[::1]\n127.0.0.7\n') &&
	out_is "-i -: IPv6 host first: canary on ::1, open; the other clean" '::1 open socks5:1080 egress=::1' '127\.0\.0\.7 clean'
err_has "-i -: the other family is warned about once" '^proxyprobe: stdin:2: warning: proxies on 127\.0\.0\.7 must reach the canary over IPv6'
lst "-i: exit 0, nothing found" 0 -i - < <(printf '127.0.0.7\n127.0.0.22\n# end\n') && out_is "-i: no line for clean hosts without -a"
lst "-i: a bad line, nothing found: exit 68" 68 -i - < <(printf '127.0.0.7\nnope!\n') && pass "-i: exit 68 for a bad line"
lst "-i: a host not tested to the end: exit 1" 1 -i - 8080 < <(printf '127.0.0.37\n127.0.0.7\n') &&
	err_has "-i: the untested host is named on stderr" '^proxyprobe: 127\.0\.0\.37: not tested to the end \(inconclusive\)$'
lst "-i -a: error line" 1 -a -i - 8080 < <(printf '127.0.0.37\n127.0.0.7\n') &&
	out_is "-i -a: error and clean lines" '127\.0\.0\.37 error inconclusive' '127\.0\.0\.7 clean'
lst "-i: open beats error: exit 2" 2 -i - 8080 1080/socks5 < <(printf '127.0.0.37\n127.0.0.4\n') && pass "-i: exit 2 before 1"
lst "-i: a missing file" 66 -i "$T/no-such-file" && err_has "-i: a missing file is named" "cannot open $T/no-such-file"
lst "-i: bad port spec" 64 -i "$L" 99999 && err_has "-i: port specs only" 'bad port specification "99999"'
# names: looked up with the resolver on loopback (nothing leaves the host)
printf 'localhost\nno-such-host.invalid\n127.0.0.7\n' >"$T/names"
"$NS_EXEC" pp.test.invalid "$T/ns-pp" "$PP" -a -i "$T/names" >"$T/lst.out" 2>"$T/lst.err"; rc=$?
[ $rc -eq 68 ] && grep -qx '127\.0\.0\.1 clean' "$T/lst.out" && grep -qx '127\.0\.0\.7 clean' "$T/lst.out" &&
	grep -q "^proxyprobe: $T/names:2: unknown host \"no-such-host.invalid\"" "$T/lst.err" &&
	pass "-i: names resolved, an unknown one is a bad line" || fail "-i: names" "rc=$rc $(cat "$T/lst.out" "$T/lst.err" | tr '\n' '|')"
# 1000 hosts where nothing listens: one line each, all clean
for i in $(seq 0 999); do echo "127.3.$((i / 250)).$((i % 250 + 1))"; done >"$T/h1000"
lst "-i: 1000 hosts, nothing listening" 0 -a -i "$T/h1000" &&
	[ "$(wc -l <"$T/lst.out")" -eq 1000 ] && [ "$(grep -c '^127\.3\.[0-3]\.[0-9]* clean$' "$T/lst.out")" -eq 1000 ] &&
	[ "$(cut -d' ' -f1 "$T/lst.out" | sort -u | cmp - <(sort -u "$T/h1000") && echo same)" = same ] &&
	pass "-i: 1000 hosts, one clean line each" || fail "-i: 1000 hosts" "$(wc -l <"$T/lst.out") lines; $(tail -2 "$T/lst.err")"

# -M/-S: pxytest's external target and banner, through real Postfix; -m relays a mail
start_postfix "" >/dev/null || fail "postfix starts"
pp "-M/-S: banner through squid" 2 'identified open proxy 127\.0\.0\.2:3128/http-connect' -M 127.0.0.1:$PF_PORT -S "220 mta.test.invalid" 127.0.0.2 3128
pp "-M/-S: a banner that does not match is not success" 0 'no proxies found' -M 127.0.0.1:$PF_PORT -S "220 other.example" 127.0.0.2 3128
pp "-M: dante SOCKS5 reaches the MTA" 2 'socks5' -M 127.0.0.1:$PF_PORT 127.0.0.4 1080/socks5
before=$(sink_count)
pp "-m relays a probe mail through the proxy" 2 'open proxy \(mail-sent' -M 127.0.0.1:$PF_PORT -m probe@remote.test.invalid -T lab-tag 127.0.0.4 1080/socks5
wait_sink $((before + 1)) && pass "-m mail delivered to the sink" || fail "-m mail delivered to the sink"
f=$(ls -t "$T"/postfix/sink/* 2>/dev/null | head -1)
grep -q '^Subject: open proxy test' "$f" && grep -qE '^X-Mailer: proxyprobe [0-9.]+' "$f" &&
	grep -q '^X-Proxy-Spec: 127.0.0.4:1080/socks5 lab-tag' "$f" &&
	pass "-m mail carries Subject, X-Mailer and X-Proxy-Spec" || fail "-m headers" "$(grep -E '^(Subject|X-)' "$f" | tr '\n' '|')"
grep -qE 'client=unknown\[127\.0\.0\.4\]' "$T/postfix/maillog" && pass "the mail came from the proxy's address" || fail "mail from the proxy"

cat "$T/timing"
summary
