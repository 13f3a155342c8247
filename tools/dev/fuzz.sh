#!/usr/bin/env bash
# fuzz.sh: build the libFuzzer targets (agent parser, agent reply routing, action protocol,
# action HTTP request assembly, the runner's activation record reader, rbench merge's input,
# the workload knobs' parsers, the arrival trace readers) with clang in build/fuzz and run each
# one briefly on its corpus (tests/fuzz/corpus/<target>/; new inputs go to the build directory).
# Usage: tools/dev/fuzz.sh [SECONDS]     default 20 seconds per target
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional fuzz 1 "$@"
cd "$(dirname "$0")/../.."
secs="${1:-20}"
cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DRBENCH_FUZZ=ON -DRBENCH_WERROR=ON -DRBENCH_FUZZ_SECONDS="$secs" >/dev/null
cmake --build build/fuzz -j2 --target fuzz_agent_req fuzz_agent_reply fuzz_action_protocol \
  fuzz_action_httpreq fuzz_job_activation fuzz_job_merge fuzz_workload fuzz_job_trace
ctest --test-dir build/fuzz -L fuzz --output-on-failure
