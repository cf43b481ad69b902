#!/bin/sh
# ns-exec.sh HOSTNAME DIR CMD...: exec CMD in private UTS and mount
# namespaces where the hostname is HOSTNAME, /etc/hosts names only loopback
# and resolv.conf points at 127.0.0.1 (where nothing answers), so a daemon
# that resolves names never reaches the machine's resolver.  Without the
# privilege for unshare, CMD runs as it is, with a warning.
hn=$1 dir=$2
shift 2
mkdir -p "$dir"
printf '127.0.0.1\t%s localhost\n::1\tip6-localhost ip6-loopback\n' "$hn" >"$dir/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$dir/resolv.conf"
chmod 644 "$dir/hosts" "$dir/resolv.conf"
if unshare --uts --mount true 2>/dev/null; then
	exec unshare --uts --mount sh -c 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && hostname "$3" && shift 3 && exec "$@"' \
		sh "$dir/hosts" "$dir/resolv.conf" "$hn" "$@"
fi
echo "ns-exec.sh: warning: no unshare; $1 runs without DNS isolation" >&2
exec "$@"
