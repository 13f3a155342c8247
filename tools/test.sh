#!/usr/bin/env bash
# test.sh: the whole test suite. Installs what is missing, builds with warnings as errors,
# runs every unit and integration test with ctest.
#   tools/test.sh          debug build (build/debug), all tests
#   tools/test.sh --asan   AddressSanitizer + UndefinedBehaviorSanitizer build (build/asan);
#                          the image build test is skipped there (it builds no C of ours)
set -euo pipefail
cd "$(dirname "$0")/.."

preset=debug
ctest_args=()
case "${1:-}" in
  "") ;;
  --asan) preset=asan; ctest_args+=(-LE image) ;;
  *) echo "usage: tools/test.sh [--asan]" >&2; exit 2 ;;
esac

tools/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
# Tests run one at a time: several start servers and some check timings.
ctest --preset "$preset" "${ctest_args[@]}"
