#!/usr/bin/env bash
# test.sh: the whole test suite. Installs what is missing, builds with warnings as errors,
# runs every unit and integration test with ctest.
#
# Usage: tools/test.sh [--asan]
#   tools/test.sh          debug build (build/debug), all tests
#   tools/test.sh --asan   AddressSanitizer + UndefinedBehaviorSanitizer build (build/asan);
#                          the image build test is skipped there (it builds no C of ours)
#   -h, --help             this text
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/lib/args.sh
. tools/lib/args.sh

preset=debug
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --asan) preset=asan; ctest_args+=(-LE image) ;;
    -h | --help) rb_header_usage "$0"; exit 0 ;;
    -*) rb_usage_error test "unknown option '$1'" ;;
    *) rb_usage_error test "unexpected argument '$1'" ;;
  esac
  shift
done

tools/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
# Tests run one at a time: several start servers and some check timings.
ctest --preset "$preset" "${ctest_args[@]}"
