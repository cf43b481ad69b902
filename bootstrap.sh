#!/bin/sh
# bootstrap.sh [--test] - install what proxymilter needs on Debian 12 (as
# root), create its system user, and build it in build/.
#   (no option)  build dependencies only
#   --test       also the programs the tests start: Postfix, squid,
#                tinyproxy, dante-server, microsocks, miltertest, swaks ...
# Services are installed but never started by apt (policy-rc.d says no);
# the tests start their own private instances on loopback.
set -eu
cd "$(dirname "$0")"
want_tests=no
[ "${1:-}" = "--test" ] && want_tests=yes

need_root() { [ "$(id -u)" -eq 0 ] || { echo "bootstrap.sh: run as root to install packages" >&2; exit 1; }; }

pkgs="build-essential autoconf automake pkg-config libmilter-dev libevent-dev libconfig-dev libssl-dev"
tpkgs="postfix swaks libio-socket-inet6-perl miltertest squid tinyproxy dante-server microsocks socat openssl python3 iproute2 util-linux procps"

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
