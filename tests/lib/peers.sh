# peers.sh - start the real programs the tests talk to (source after common.sh).
# Each function writes its config under $T/<name>/, starts the program in the
# foreground under spawn (pid recorded), and waits until it listens.

# start_squid NAME open|secure|strict ADDR [PORT]
#   secure: Debian's port rules (CONNECT only to 443, other methods to 80,
#           443 and 1025-65535) for every client
#   strict: every method only to ports 80 and 443
start_squid() {
	local name=$1 mode=$2 addr=$3 port=${4:-3128} d=$T/$1
	require_loopback "$addr"
	must_be_free "$addr" "$port" || return 1
	mkdir -p "$d"
	{
		echo "http_port $addr:$port"
		echo "visible_hostname $name.test.invalid"
		echo "cache_effective_user proxy"
		echo "pid_filename none"
		echo "cache_log $d/cache.log"
		echo "access_log stdio:$d/access.log"
		echo "cache_store_log none"
		echo "logfile_rotate 0"
		echo "coredump_dir $d"
		echo "cache deny all"
		echo "cache_mem 8 MB"
		echo "netdb_filename none"
		echo "pinger_enable off"
		echo "dns_nameservers 127.0.0.1"
		echo "shutdown_lifetime 0 seconds"
		echo "tcp_outgoing_address $addr"
		echo "udp_incoming_address $addr"
		echo "udp_outgoing_address $addr"
		if [ "$mode" = open ]; then
			echo "http_access allow all"
		else
			echo "acl SSL_ports port 443"
			if [ "$mode" = strict ]; then
				echo "acl Safe_ports port 80 443"
			else
				echo "acl Safe_ports port 80 443 1025-65535"
			fi
			echo "acl CONNECT method CONNECT"
			echo "http_access deny !Safe_ports"
			echo "http_access deny CONNECT !SSL_ports"
			echo "http_access allow all"
		fi
	} >"$d/squid.conf"
	chown -R proxy:proxy "$d"
	squid -k parse -f "$d/squid.conf" >"$d/parse.log" 2>&1 || { cat "$d/parse.log"; return 1; }
	spawn "$name" "$d/stderr.log" "$NS_EXEC" "$name.test.invalid" "$d/ns" squid -N -f "$d/squid.conf"
	wait_listen "$addr" "$port" 20
}

# start_tinyproxy NAME open|secure ADDR [PORT]
start_tinyproxy() {
	local name=$1 mode=$2 addr=$3 port=${4:-8080} d=$T/$1
	require_loopback "$addr"
	must_be_free "$addr" "$port" || return 1
	mkdir -p "$d"
	{
		echo "User tinyproxy"
		echo "Group tinyproxy"
		echo "Listen $addr"
		echo "Port $port"
		echo "Bind $addr"
		echo "Timeout 30"
		echo "MaxClients 100"
		echo "LogFile \"$d/tinyproxy.log\""
		echo "LogLevel Info"
		[ "$mode" = secure ] && echo "ConnectPort 443"
	} >"$d/tinyproxy.conf"
	touch "$d/tinyproxy.log"
	chown tinyproxy:tinyproxy "$d/tinyproxy.log"
	spawn "$name" "$d/stderr.log" "$NS_EXEC" "$name.test.invalid" "$d/ns" tinyproxy -d -c "$d/tinyproxy.conf"
	wait_listen "$addr" "$port" 10
}

# start_dante NAME open|secure ADDR [PORT]
start_dante() {
	local name=$1 mode=$2 addr=$3 port=${4:-1080} d=$T/$1
	require_loopback "$addr"
	must_be_free "$addr" "$port" || return 1
	mkdir -p "$d"
	{
		echo "logoutput: $d/danted.log"
		echo "internal: $addr port = $port"
		echo "external: $addr"
		echo "clientmethod: none"
		echo "socksmethod: none"
		echo "user.privileged: root"
		echo "user.unprivileged: nobody"
		echo "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }"
		echo "client pass { from: ::1/128 to: ::/0 }"
		if [ "$mode" = open ]; then
			echo "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 protocol: tcp }"
			echo "socks pass { from: ::1/128 to: ::/0 protocol: tcp }"
		else
			echo "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 port = 443 }"
			echo "socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 }"
		fi
	} >"$d/danted.conf"
	touch "$d/danted.log"
	chown nobody "$d/danted.log"
	spawn "$name" "$d/stderr.log" "$NS_EXEC" "$name.test.invalid" "$d/ns" danted -f "$d/danted.conf" -N 1
	wait_listen "$addr" "$port" 10
}

# start_microsocks NAME ADDR [PORT]  (SOCKS5 only, no ACLs: open)
start_microsocks() {
	local name=$1 addr=$2 port=${3:-1080} d=$T/$1
	require_loopback "$addr"
	must_be_free "$addr" "$port" || return 1
	mkdir -p "$d"
	spawn "$name" "$d/stderr.log" "$NS_EXEC" "$name.test.invalid" "$d/ns" \
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		microsocks -i "$addr" -p "$port" -b "$addr"
	wait_listen "$addr" "$port" 10
}

# start_fake NAME KIND ADDR PORT: one of tests/fakes/fakepeer.py's emulations
start_fake() {
	local name=$1 kind=$2 addr=$3 port=$4 d=$T/$1
	require_loopback "$addr"
	must_be_free "$addr" "$port" || return 1
	mkdir -p "$d"
	spawn "$name" "$d/stderr.log" python3 "$TOP/tests/fakes/fakepeer.py" "$kind" "$addr" "$port"
	wait_listen "$addr" "$port" 10
}

# start_tls_front NAME ADDR PORT BACKEND_ADDR BACKEND_PORT: socat speaking TLS
# on ADDR:PORT in front of a plain proxy (an HTTPS CONNECT proxy)
start_tls_front() {
	local name=$1 addr=$2 port=$3 baddr=$4 bport=$5 d=$T/$1
	require_loopback "$addr" "$baddr"
	must_be_free "$addr" "$port" || return 1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$name.test.invalid" \
		-keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1 || return 1
	cat "$d/key.pem" "$d/cert.pem" >"$d/both.pem"
	spawn "$name" "$d/stderr.log" socat \
		"OPENSSL-LISTEN:$port,bind=$addr,reuseaddr,fork,verify=0,cert=$d/both.pem" "TCP:$baddr:$bport"
	wait_listen "$addr" "$port" 10
}

# start_milter NAME CONFIG: proxymilter in the foreground, log in $T/NAME/milter.log
start_milter() {
	local name=$1 conf=$2 d=$T/$1 sock
	mkdir -p "$d"
	"$PM_BIN" -t -c "$conf" >"$d/check.log" 2>&1 || { cat "$d/check.log"; return 1; }
	sock=$(sed -n 's/^socket *= *"inet6\{0,1\}:\([0-9]*\)@\([^"]*\)".*/\2 \1/p' "$conf")
	must_be_free $sock || return 1
	spawn "$name" "$d/milter.log" "$PM_BIN" -f -c "$conf"
	wait_listen $sock 10
}

# milter_conf FILE PORT CANARY_PORT [extra top-level lines] [probe lines] [action lines]
milter_conf() {
	local f=$1 port=$2 cport=$3 top=${4:-} probe=${5:-} action=${6:-}
	cat >"$f" <<CONF
socket = "inet:$port@127.0.0.1";
user = "";
pid_file = "";
log_stderr = true;
log_level = "debug";
$(case "$top" in *allow*) ;; *) echo 'allow = [ ];' ;; esac)
$top
$(case "$top" in *dns:*) ;; *) echo 'dns: { resolver = "127.0.0.1:9"; fcrdns = false; };' ;; esac)
$(case "$top" in *selftest:*) ;; *) echo 'selftest: { address = "127.0.0.253"; };' ;; esac)
probe: {
  $(case "$probe" in *scan*) ;; *) echo 'scan = [ "3128", "8080", "1080/socks4", "1080/socks5" ];' ;; esac)
  canary_listen = "127.0.0.1:$cport";
  allow_private = [ "127.0.0.0/8", "::1/128" ];
  connect_timeout = 2.0;
  timeout = 5.0;
  $probe
};
action: {
  pending_wait = 8.0;
  $action
};
CONF
}

PF_PORT=12525
SINK_PORT=12527
# postfix_instance DIR HOSTNAME "LISTENER ..." MAIN_EXTRA: the main.cf and
# master.cf of a private Postfix in DIR (own queue, data, log), smtpd on
# each LISTENER (master.cf's "host:port"), chroot nowhere; MAIN_EXTRA:
# "name = value" lines that replace main.cf's in place (postconf -e: a
# parameter set twice makes Postfix warn, and postlogd can deadlock on its
# own warnings)
postfix_instance() {
	local d=$1 name=$2 listeners=$3 extra=$4 l
	mkdir -p "$d/etc" "$d/queue" "$d/data"
	chown root:root "$d/etc" "$d/queue"
	chown postfix:postfix "$d/data"
	chmod 700 "$d/data"
	cat >"$d/etc/main.cf" <<CF
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-pmtest
maillog_file = $d/maillog
maillog_file_prefixes = $d
myhostname = $name
mydomain = test.invalid
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1, [::1]
inet_protocols = all
mynetworks = 127.0.0.0/8 [::1]/128
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
milter_default_action = tempfail
milter_protocol = 6
milter_command_timeout = 30s
smtputf8_enable = no
biff = no
smtpd_banner = \$myhostname ESMTP pmtest
CF
	while IFS= read -r l; do
		[ -n "$l" ] && postconf -c "$d/etc" -e "$l"
	done <<<"$extra"
	{
		for l in $listeners; do echo "$l inet n - n - - smtpd"; done
		cat <<CF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
	} >"$d/etc/master.cf"
}

# start_postfix MILTER_SPEC: our MTA, a private Postfix on 127.0.0.1:12525
# and [::1]:12525 relaying every message to an smtp-sink on 127.0.0.1:12527
# that dumps it into $T/postfix/sink/
start_postfix() {
	local milter=$1 d=$T/postfix
	postfix_instance "$d" mta.test.invalid "127.0.0.1:$PF_PORT [::1]:$PF_PORT" \
		"relayhost = [127.0.0.1]:$SINK_PORT
smtpd_milters = $milter
non_smtpd_milters ="
	mkdir -p "$d/sink"
	chown postfix:postfix "$d/sink"
	must_be_free 127.0.0.1 $PF_PORT && must_be_free ::1 $PF_PORT && must_be_free 127.0.0.1 $SINK_PORT || return 1
	spawn smtp-sink "$d/sink.log" /usr/sbin/smtp-sink -u postfix -c -d "$d/sink/%Y%m%d%H%M%S." 127.0.0.1:$SINK_PORT 256
	wait_listen 127.0.0.1 $SINK_PORT 10 || return 1
	postfix -c "$d/etc" start >"$d/start.log" 2>&1 || { cat "$d/start.log"; return 1; }
	wait_listen 127.0.0.1 $PF_PORT 20
}

# start_client_postfix NAME ADDR [MAIN_EXTRA]: a client's own mail server, a
# private Postfix named mx.NAME.invalid (its own domain: NAME.invalid) on
# ADDR:25 (bound through its
# master.cf name: ADDR need not be an interface's), every message
# discarded unless MAIN_EXTRA says otherwise (e.g. mynetworks for a closed
# relay, relayhost for one that delivers to our MTA); stopped by stop_all
start_client_postfix() {
	local name=$1 addr=$2 extra=${3:-} d=$T/$1 l=$2
	require_loopback "$addr"
	must_be_free "$addr" 25 || return 1
	case "$addr" in *:*) l="[$addr]" ;; esac
	postfix_instance "$d" "mx.$name.invalid" "$l:25" "inet_interfaces = loopback-only
syslog_name = postfix-client-$name
default_transport = discard:client discard
relay_transport = discard:client discard
$extra"
	echo "$d" >>"$T/postfix-instances"
	postfix -c "$d/etc" start >"$d/start.log" 2>&1 || { cat "$d/start.log"; return 1; }
	wait_listen "$addr" 25 20
}

set_postfix_milter() { # switch smtpd_milters and reload
	postconf -c "$T/postfix/etc" -e "smtpd_milters = $1" && postfix -c "$T/postfix/etc" reload >/dev/null 2>&1
	sleep 0.5
}

sink_count() { find "$T/postfix/sink" -type f | wc -l; }

# wait until the sink holds N messages (delivery is asynchronous)
wait_sink() {
	local n=$1 i=0
	while [ $i -lt 200 ]; do
		[ "$(sink_count)" -ge "$n" ] && return 0
		sleep 0.05; i=$((i + 1))
	done
	return 1
}

# send FROM_ADDR TO [swaks args...]: one message through Postfix from a
# given loopback source address; swaks' transcript goes to stdout
send_mail() {
	local src=$1 to=$2; shift 2
	local server=127.0.0.1
	case "$src" in *:*) server=::1 ;; esac
	require_loopback "$src"
	swaks --server "$server" --port $PF_PORT --local-interface "$src" \
		--ehlo "client.test.invalid" --from sender@test.invalid --to "$to" \
		--timeout 40 "$@" 2>&1
}

# start_sendmail MILTER_SPEC: Sendmail 8.17 (unpacked by bootstrap.sh --test
# into $SENDMAIL_PREFIX) on 127.0.0.1:$SM_PORT, queue only, calling the milter
# (libmilter syntax inet:PORT@HOST) with F=T; in its own UTS/mount namespace
# so that it never waits for or asks the machine's resolver
SENDMAIL_PREFIX=${SENDMAIL_PREFIX:-/opt/pmtest-sendmail}
SM_PORT=12528
start_sendmail() {
	local milter=$1 d=$T/sendmail cf=$SENDMAIL_PREFIX/usr/share/sendmail/cf
	local bin=$SENDMAIL_PREFIX/usr/libexec/sendmail/sendmail
	[ -x "$bin" ] || { echo "sendmail not unpacked (bootstrap.sh --test)" >&2; return 1; }
	must_be_free 127.0.0.1 $SM_PORT || return 1
	mkdir -p "$d/mqueue"
	chmod 700 "$d/mqueue"
	touch "$d/statistics"
	printf '127.0.0.1\tmta-sm.test.invalid localhost\n' >"$d/hosts"
	printf 'hosts\t\tfiles\naliases\t\tfiles\npasswd\t\tfiles\n' >"$d/service.switch"
	cat >"$d/test.mc" <<MC
divert(0)dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`mta-sm.test.invalid')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confSERVICE_SWITCH_FILE', \`$d/service.switch')dnl
define(\`confHOSTS_FILE', \`$d/hosts')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`QUEUE_DIR', \`$d/mqueue')dnl
define(\`confPID_FILE', \`$d/sendmail.daemon.pid')dnl
define(\`STATUS_FILE', \`$d/statistics')dnl
define(\`ALIAS_FILE', \`')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`confCW_FILE', \`')dnl
define(\`confDEAD_LETTER_DROP', \`')dnl
define(\`confDEF_USER_ID', \`nobody:nogroup')dnl
define(\`confDELIVERY_MODE', \`queueonly')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confAUTH_MECHANISMS', \`')dnl
define(\`confSMTP_LOGIN_MSG', \`\$j pmtest-sendmail ready')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`promiscuous_relay')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA-pmtest, Port=$SM_PORT, Addr=127.0.0.1')dnl
INPUT_MAIL_FILTER(\`proxymilter', \`S=$milter, F=T, T=C:10s;S:10s;R:10s;E:5m')dnl
MAILER(\`smtp')dnl
MC
	m4 -D_CF_DIR_="$cf/" "$cf/m4/cf.m4" "$d/test.mc" >"$d/sendmail.cf" 2>"$d/m4.err" || { cat "$d/m4.err"; return 1; }
	spawn sendmail "$d/stderr.log" "$NS_EXEC" mta-sm.test.invalid "$d/ns" "$bin" -C "$d/sendmail.cf" -bD
	wait_listen 127.0.0.1 $SM_PORT 20
}

sm_queue_count() { find "$T/sendmail/mqueue" -name 'qf*' -type f | wc -l; }

# start_smbd NAME ADDR [PORTS]: Samba's smbd in the foreground, with a private
# config and state under $T/NAME/, on ADDR's ports (default "445 139"; smbd
# binds only addresses of an interface: 127.0.0.1, lo's own); NetBIOS name
# service off (no nmbd), no printers, no shares
start_smbd() {
	local name=$1 addr=$2 ports=${3:-"445 139"} d=$T/$1 p
	require_loopback "$addr"
	command -v smbd >/dev/null || { echo "smbd not installed (samba)" >&2; return 1; }
	for p in $ports; do must_be_free "$addr" "$p" && must_be_free 0.0.0.0 "$p" || return 1; done
	mkdir -p "$d"/private "$d"/lock "$d"/state "$d"/cache "$d"/log "$d"/run
	cat >"$d/smb.conf" <<CONF
[global]
  interfaces = $addr
  bind interfaces only = yes
  smb ports = $ports
  disable netbios = yes
  private dir = $d/private
  lock directory = $d/lock
  state directory = $d/state
  cache directory = $d/cache
  pid directory = $d/run
  ncalrpc dir = $d/run/ncalrpc
  log file = $d/log/smbd.log
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  server role = standalone server
  workgroup = PMTEST
  netbios name = $name
CONF
	testparm -s "$d/smb.conf" >"$d/parse.log" 2>&1 || { cat "$d/parse.log"; return 1; }
	spawn "$name" "$d/stderr.log" "$NS_EXEC" "$name.test.invalid" "$d/ns" \
		smbd --foreground --no-process-group -s "$d/smb.conf"
	for p in $ports; do wait_listen "$addr" "$p" 20 || { tail -n 20 "$d/log/smbd.log"; return 1; }; done
}

# start_dns NAME PORT RBL_PORT RECORDS "ZONE:TYPE:FILE ..." "DEADZONE ...": a
# private DNS on 127.0.0.1: dnsmasq on PORT answers PTR/A/AAAA/MX/TXT from
# RECORDS (dnsmasq lines: ptr-record=, host-record=, mx-host=, txt-record=)
# and forwards each ZONE to rbldnsd on RBL_PORT (rbldnsd(8) data files:
# ip4set, ip6trie), each DEADZONE to a port where nothing answers (a DNSBL
# that is down); no-resolv: nothing is ever asked of another server
start_dns() {
	local name=$1 port=$2 rport=$3 records=$4 zones=$5 dead=$6 d=$T/$1 z f specs=()
	for f in dnsmasq rbldnsd dig; do
		command -v $f >/dev/null || { echo "$f not installed" >&2; return 1; }
	done
	must_be_free 127.0.0.1 "$port" || return 1
	mkdir -p "$d/zones"
	chmod 755 "$d" "$d/zones"
	{
		echo "port=$port"; echo "listen-address=127.0.0.1"; echo "bind-interfaces"
		echo "no-resolv"; echo "no-hosts"; echo "no-poll"; echo "cache-size=0"
		echo "log-queries"; echo "log-facility=$d/queries.log"
		for z in $zones; do echo "server=/${z%%:*}/127.0.0.1#$rport"; done
		for z in $dead; do echo "server=/$z/127.0.0.1#9"; done
		cat "$records"
	} >"$d/dnsmasq.conf"
	for z in $zones; do
		f=${z##*:}
		cp "$f" "$d/zones/" && chmod 644 "$d/zones/$(basename "$f")"
		specs+=("${z%:*}:$(basename "$f")")
	done
	if [ ${#specs[@]} -gt 0 ]; then
		spawn "$name-rbldnsd" "$d/rbldnsd.log" rbldnsd -n -u nobody -r "$d/zones" \
			-b "127.0.0.1/$rport" -t 60 "${specs[@]}"
	fi
	touch "$d/queries.log" && chmod 666 "$d/queries.log"
	spawn "$name" "$d/dnsmasq.log" dnsmasq --keep-in-foreground --conf-file="$d/dnsmasq.conf" \
		--user=nobody --pid-file=
	wait_listen 127.0.0.1 "$port" 10 || { cat "$d/dnsmasq.log"; return 1; }
	# rbldnsd has no TCP socket: ask it through dnsmasq until it answers
	local i=0 zz=${zones%% *}
	[ -z "$zz" ] && return 0
	while [ $i -lt 50 ]; do
		dig +time=1 +tries=1 -p "$port" @127.0.0.1 "${zz%%:*}" SOA 2>/dev/null |
			grep -qE 'status: (NOERROR|NXDOMAIN|REFUSED)' && return 0
		sleep 0.1; i=$((i + 1))
	done
	cat "$d/rbldnsd.log"
	return 1
}

# start_redis NAME PORT [ARGS...]: a private redis-server on 127.0.0.1:PORT,
# no persistence, its files in $T/NAME
start_redis() {
	local name=$1 port=$2 d=$T/$1; shift 2
	mkdir -p "$d"
	must_be_free 127.0.0.1 "$port" || return 1
	spawn "$name" "$d/redis.log" redis-server --bind 127.0.0.1 --port "$port" --dir "$d" \
		--save "" --appendonly no --daemonize no --unixsocket "" "$@"
	wait_listen 127.0.0.1 "$port" 10
}
