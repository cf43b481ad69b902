#!/bin/sh
# ci.sh - README's second command: install everything the tests need, build
# with -Wall -Wextra -Werror, build everything again under ASan+UBSan and
# under ThreadSanitizer, and run every test.  .ci/run calls this.
set -eu
cd "$(dirname "$0")/.."
CONFIGURE_FLAGS="--enable-werror" ./bootstrap.sh --test
make -C build -j"$(nproc)" check TESTS= >/dev/null
# the same under ASan+UBSan and under ThreadSanitizer
for san in asan:--enable-sanitizers tsan:--enable-tsan; do
	d=build-${san%%:*}
	mkdir -p "$d"
	( cd "$d" && { [ -f Makefile ] || ../configure --enable-werror "${san#*:}" >/dev/null; } &&
	  make -j"$(nproc)" all >/dev/null && make -j"$(nproc)" check TESTS= >/dev/null )
done
exec tests/run-all.sh
