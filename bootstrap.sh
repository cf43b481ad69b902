#!/bin/sh
# bootstrap.sh [--test] - install what proxymilter needs on Debian 12 (as
# root), create its system user, and build it in build/.
#   (no option)  build dependencies only
#   --test       also the programs the tests start: Postfix, squid,
#                clang + libFuzzer (tests/fuzz), nftables (bench),
#                tinyproxy, dante-server, microsocks, miltertest, swaks ...
# Services are installed but never started by apt (policy-rc.d says no);
# the tests start their own private instances on loopback.
set -eu
cd "$(dirname "$0")"
want_tests=no
[ "${1:-}" = "--test" ] && want_tests=yes

need_root() { [ "$(id -u)" -eq 0 ] || { echo "bootstrap.sh: run as root to install packages" >&2; exit 1; }; }

pkgs="build-essential autoconf automake pkg-config libmilter-dev libevent-dev libconfig-dev libssl-dev libc-ares-dev libpsl-dev publicsuffix libmaxminddb-dev libhiredis-dev zlib1g-dev"
tpkgs="postfix swaks libio-socket-inet6-perl miltertest squid tinyproxy dante-server microsocks socat openssl time python3 iproute2 util-linux procps clang libclang-rt-14-dev systemd nftables samba rbldnsd dnsmasq-base dnsutils libmaxmind-db-writer-perl mmdb-bin ucspi-tcp redis-server prometheus chromium"

missing=""
for p in $pkgs $( [ $want_tests = yes ] && echo "$tpkgs" ); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	need_root
	# never let package scripts start daemons (squid on *:3128, postfix ...)
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
	fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	echo "postfix postfix/mailname string localhost.invalid" | debconf-set-selections
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
# Sendmail for the tests: installing sendmail-bin would remove Postfix (both
# provide mail-transport-agent), so its packages are unpacked privately
SENDMAIL_PREFIX=${SENDMAIL_PREFIX:-/opt/pmtest-sendmail}
if [ $want_tests = yes ] && [ ! -x "$SENDMAIL_PREFIX/usr/libexec/sendmail/sendmail" ]; then
	need_root
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		m4 libmilter1.0.1 libdb5.3 libldap-2.5-0 liblockfile1 libnsl2 libsasl2-2 libssl3 libwrap0
	tmp=$(mktemp -d)
	chmod 777 "$tmp"
	(cd "$tmp" && apt-get download -qq sendmail-bin sendmail-base sendmail-cf)
	mkdir -p "$SENDMAIL_PREFIX"
	for f in "$tmp"/sendmail-*.deb; do dpkg -x "$f" "$SENDMAIL_PREFIX"; done
	rm -rf "$tmp"
fi
if ! id proxymilter >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin proxymilter
fi
# out-of-tree builds: build/ (what you run) and, for the tests, build-asan/
if [ -f config.status ]; then
	echo "bootstrap.sh: the source tree is configured in place; run 'make distclean' first" >&2
	exit 1
fi
[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure ${CONFIGURE_FLAGS:-}
make -j"$(nproc)"
echo "bootstrap.sh: built build/milter/proxymilter"
