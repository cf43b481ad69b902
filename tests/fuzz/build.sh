#!/bin/bash
# build.sh [OUTDIR] - build the libFuzzer harnesses tests/fuzz/fuzz_*.c with
# clang (-fsanitize=fuzzer,address,undefined) against the sources directly,
# into OUTDIR (default build-fuzz/ at the top of the tree), with a config.h
# of its own.  Objects are rebuilt only when a source or header is newer.
# Exit 3: clang or its libFuzzer runtime is missing (Debian 12:
# apt-get install clang-14 libclang-rt-14-dev).
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$TOP/build-fuzz}
CC=${FUZZ_CC:-}
if [ -z "$CC" ]; then
	for c in clang clang-14 clang-15 clang-16; do
		command -v "$c" >/dev/null 2>&1 && { CC=$c; break; }
	done
fi
mkdir -p "$OUT/obj"
OUT=$(cd "$OUT" && pwd)

# clang with libFuzzer?
probe=$OUT/obj/probe
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe.c"
if [ -z "$CC" ] || ! "$CC" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" >"$probe.log" 2>&1; then
	echo "build.sh: clang with libFuzzer not installed (Debian 12: apt-get install clang-14 libclang-rt-14-dev)" >&2
	[ -f "$probe.log" ] && sed 's/^/  /' "$probe.log" | head -5 >&2
	exit 3
fi

PKGS=(libevent libevent_pthreads libevent_openssl libssl libcrypto libconfig libcares libpsl libmaxminddb)
if ! PKG_CFLAGS=$(pkg-config --cflags "${PKGS[@]}") || ! PKG_LIBS=$(pkg-config --libs "${PKGS[@]}"); then
	echo "build.sh: pkg-config does not find ${PKGS[*]} (apt-get install libevent-dev libssl-dev libconfig-dev libc-ares-dev libpsl-dev libmaxminddb-dev)" >&2
	exit 1
fi

# what configure would define
cat >"$OUT/config.h.new" <<'EOF'
/* config.h for the fuzz harnesses (tests/fuzz/build.sh) */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE 1
#endif
#define HAVE_LIBEVENT_OPENSSL 1
#define HAVE_MAXMINDDB 1
#define HAVE_SYS_RANDOM_H 1
#define HAVE_GETRANDOM 1
#define HAVE_SYSEXITS_H 1
#define PACKAGE "proxymilter"
#define PACKAGE_VERSION "fuzz"
#define SYSCONFDIR "/usr/local/etc"
EOF
if cmp -s "$OUT/config.h.new" "$OUT/config.h"; then
	rm -f "$OUT/config.h.new"
else
	mv "$OUT/config.h.new" "$OUT/config.h"
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 -Wall -Wextra $SAN -pthread -I$OUT -I$TOP -I$TOP/probes -I$TOP/milter $PKG_CFLAGS ${FUZZ_CFLAGS:-}"
# the engine library, and what milter/config.c needs
SRCS=("$TOP"/probes/*.c)
SRCS+=("$TOP/milter/cidr.c" "$TOP/milter/log.c" "$TOP/milter/config.c" "$TOP/milter/confget.c"
	"$TOP/milter/confrep.c")
# config.c's fleet groups; the control socket's language (fuzz_ctl) and
# the table that its show lines name the classes of
SRCS+=("$TOP/milter/conffleet.c" "$TOP/milter/ctlcmd.c" "$TOP/milter/ctlshow.c" "$TOP/milter/verdict.c")
# the state file and the rbldnsd export (fuzz_state), and their verdict lines
SRCS+=("$TOP/milter/vrec.c" "$TOP/milter/state.c" "$TOP/milter/export.c")
HDRS=("$OUT/config.h" "$TOP"/probes/*.h "$TOP"/milter/*.h "$TOP"/tests/fuzz/*.h)

# newer TARGET FILE... : is any FILE newer than TARGET (or TARGET missing)?
newer() {
	local t=$1 f
	shift
	[ -e "$t" ] || return 0
	for f in "$@"; do
		[ "$f" -nt "$t" ] && return 0
	done
	return 1
}

jobs=$(nproc 2>/dev/null || echo 2)
running=0
spawn() {
	"$@" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || fail=1
		running=$((running - 1))
	fi
}
fail=0
# wait_all: wait for every spawned job; non-zero when one failed
wait_all() {
	while [ "$running" -gt 0 ]; do
		wait -n || fail=1
		running=$((running - 1))
	done
	[ "$fail" -eq 0 ]
}

# the project's sources: instrumented for coverage (fuzzer-no-link)
OBJS=()
for s in "${SRCS[@]}"; do
	o=$OUT/obj/$(basename "$(dirname "$s")")_$(basename "$s" .c).o
	OBJS+=("$o")
	if newer "$o" "$s" "${HDRS[@]}"; then
		echo "  CC $s"
		# shellcheck disable=SC2086
		spawn "$CC" $CFLAGS -fsanitize=fuzzer-no-link -c "$s" -o "$o"
	fi
done
wait_all || { echo "build.sh: compiling the sources failed" >&2; exit 1; }

# the harnesses; fuzz_report links proxymilter-report's modules (not its
# main) with hmap and random; fuzz_dns links the unit
# tests' scripted DNS server
for h in "$TOP"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$h" .c)
	bin=$OUT/$name
	extra=()
	if [ "$name" = fuzz_report ]; then
		deps=("$TOP"/tools/rlog.c "$TOP"/tools/ragg.c "$TOP"/tools/rtext.c "$TOP"/tools/rhtml.c
			"$TOP"/tools/report.h "$OUT/obj/probes_hmap.o" "$OUT/obj/probes_random.o")
		objs=("$TOP"/tools/rlog.c "$TOP"/tools/ragg.c "$TOP"/tools/rtext.c "$TOP"/tools/rhtml.c
			"$OUT/obj/probes_hmap.o" "$OUT/obj/probes_random.o")
	elif [ "$name" = fuzz_hostline ]; then
		# includes tools/proxyprobe.c and hostlist.c, a client of the
		# whole engine
		deps=("$TOP"/tools/proxyprobe.[ch] "$TOP/tools/hostlist.c" "${OBJS[@]}")
		objs=("${OBJS[@]}")
	elif [ "$name" = fuzz_dns ]; then
		deps=("$TOP"/tests/unit/dnsfake.[ch] "${OBJS[@]}")
		objs=("$TOP/tests/unit/dnsfake.c" "${OBJS[@]}")
		extra=(-I"$TOP/tests/unit")
	else
		deps=("${OBJS[@]}")
		objs=("${OBJS[@]}")
	fi
	if newer "$bin" "$h" "${deps[@]}" "${HDRS[@]}"; then
		echo "  CCLD $bin"
		# shellcheck disable=SC2086
		spawn "$CC" $CFLAGS ${extra[@]+"${extra[@]}"} -fsanitize=fuzzer "$h" "${objs[@]}" $PKG_LIBS -o "$bin"
	fi
done
wait_all || { echo "build.sh: linking the harnesses failed" >&2; exit 1; }
echo "build.sh: harnesses in $OUT"
