#!/bin/sh
# ci.sh - README's second command: install everything the tests need, build
# with -Wall -Wextra -Werror, build the unit tests again under ASan+UBSan,
# and run every test.  .ci/run calls this.
set -eu
cd "$(dirname "$0")/.."
CONFIGURE_FLAGS="--enable-werror" ./bootstrap.sh --test
make -C build -j"$(nproc)" check TESTS= >/dev/null
mkdir -p build-asan
( cd build-asan && { [ -f Makefile ] || ../configure --enable-werror --enable-sanitizers >/dev/null; } &&
  make -j"$(nproc)" all >/dev/null && make -j"$(nproc)" check TESTS= >/dev/null )
exec tests/run-all.sh
