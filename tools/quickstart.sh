#!/usr/bin/env bash
# quickstart.sh: the README's first Quick start command. On this machine, with nothing but
# redis-server installed: starts a redis-server (and rbench-agent when it is built) on free
# loopback ports, runs scenarios/quickstart.yaml (direct vs batched on the local target),
# prints the `rbench compare` table, writes the HTML report, and stops what it started.
#
# Usage: tools/quickstart.sh [OUTPUT_DIR]   (default: quickstart-results)
#   BUILD=build/debug tools/quickstart.sh   (default: build/release; always brought up to date)
#   QUICK=1 tools/quickstart.sh             (one repetition of 60 invocations: a smoke run)
#   -h, --help                              this text
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/lib/args.sh
. "$here/tools/lib/args.sh"
rb_args_positional quickstart 1 "$@"
build=${BUILD:-$here/build/release}
out=${1:-quickstart-results}
rbench=$build/job/rbench
agent=$build/agent/rbench-agent

# Always (re)build: incremental, so a stale build never runs old code.
echo "quickstart: building in $build"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake --preset "$(basename "$build")" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" >/dev/null
command -v redis-server >/dev/null || { echo "quickstart: redis-server is not installed (tools/install-deps.sh)" >&2; exit 2; }

# shellcheck source=tools/lib/lib.sh
. "$here/tools/lib/lib.sh"
trap rb_cleanup EXIT INT TERM
wait_port() {
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# The output directory (missing parents created); anything else of that name is refused, and
# files written here by redirection (local.env, agent.log) must be regular files or new.
if [ -e "$out" ] && [ ! -d "$out" ]; then
  echo "quickstart: $out exists and is not a directory ($(stat -c %F -- "$out")): name another OUTPUT_DIR" >&2
  exit 2
fi
mkdir -p "$out"
for f in local.env agent.log; do
  if [ -e "$out/$f" ] || [ -L "$out/$f" ]; then
    [ -f "$out/$f" ] && [ ! -L "$out/$f" ] ||
      { echo "quickstart: $out/$f is not a regular file ($(stat -c %F -- "$out/$f")): remove it or name another OUTPUT_DIR" >&2; exit 2; }
  fi
done
rb_start_redis || exit 3
redis_port=$rb_redis_port
echo "quickstart: redis-server on 127.0.0.1:$redis_port"

runs=direct,batched
agent_port=$(rb_free_port)
if [ -x "$agent" ]; then
  metrics_port=$(rb_free_port)
  "$agent" --listen "127.0.0.1:$agent_port" --redis "127.0.0.1:$redis_port" \
    --metrics "127.0.0.1:$metrics_port" >"$out/agent.log" 2>&1 &
  rb_pids+=($!)
  wait_port "$agent_port" || { echo "quickstart: rbench-agent did not start (see $out/agent.log)" >&2; exit 3; }
  echo "quickstart: rbench-agent on 127.0.0.1:$agent_port"
else
  runs=direct
  echo "quickstart: $agent is not built yet: running the direct run only (no batched comparison)"
fi

cat >"$out/local.env" <<ENV
REDIS_HOST=127.0.0.1
REDIS_PORT=$redis_port
BATCHING_AGENT_HOST=127.0.0.1
BATCHING_AGENT_PORT=$agent_port
BATCHING_AGENT_METRICS_URL=http://127.0.0.1:${metrics_port:-0}/metrics
ENV

extra=()
if [ "${QUICK:-0}" = 1 ]; then extra=(--repetitions 1 --invocations 60 --warmup 0.5); fi
"$rbench" run -f "$here/scenarios/quickstart.yaml" --runs "$runs" --env "$out/local.env" \
  --output "$out/results/" "${extra[@]}"

results() { # the files of one run (a directory with repetitions, else one file)
  if [ -d "$out/results/$1" ]; then echo "$out/results/$1"; else echo "$out/results/$1.json"; fi
}
echo
if [ "$runs" = direct,batched ]; then
  "$rbench" compare "$(results direct)" "$(results batched)"
  "$rbench" report "$(results direct)" "$(results batched)" -o "$out/report.html"
else
  "$rbench" report "$(results direct)" -o "$out/report.html"
fi
echo "quickstart: results in $out/results, report in $out/report.html"
