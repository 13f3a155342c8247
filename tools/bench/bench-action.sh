#!/usr/bin/env bash
# bench-action.sh: rbench-action's benchmark (issue: cold start, warm overhead, ops/s beside
# redis-benchmark). Prints a markdown report; docs/benchmarks.md quotes it.
# Usage: tools/bench/bench-action.sh [REPETITIONS]   (default 5)
# Everything runs on loopback; the redis-server it starts is stopped when it exits.
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-action 1 "$@"
cd "$(dirname "$0")/../.."
reps=${1:-5}

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target rbench-action bench_action >/dev/null
bin=build/release/action/rbench-action
tool=build/release/tools/bench/bench_action

# shellcheck source=tools/lib/lib.sh
. tools/lib/lib.sh
trap rb_cleanup EXIT INT TERM
rb_start_redis
rb_start_action "$bin" --log-level warn
redis_port=$rb_redis_port
action_port=$rb_action_port
tmp=$rb_tmp

field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "### rbench-action benchmark"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), rbench $(git rev-parse --short HEAD), redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
echo
echo "Command: \`tools/bench/bench-action.sh $reps\`"
echo
echo "#### Cold start and warm overhead"
echo
echo '```'
"$tool" spawn /bin/true 50
"$tool" cold "$bin" 50
"$tool" warm "$bin" "$redis_port" 3000
echo '```'
echo
echo "#### Throughput, num_ops=20000 (SET, 64-byte values, 20000 keys), $reps interleaved repetitions"
echo
echo "| parallel | rbench-action ops/s (median) | redis-benchmark -c N -P 1 req/s (median) | ratio |"
echo "|---:|---:|---:|---:|"
for p in 1 8 64; do
  : >"$tmp/a.$p"; : >"$tmp/r.$p"
  # warm the action's connections for this parallelism first
  curl -s -X POST --data "{\"value\":{\"num_ops\":$p,\"parallel_calls\":$p}}" "http://127.0.0.1:$action_port/run" >/dev/null
done
for _ in $(seq "$reps"); do
  for p in 1 8 64; do
    curl -s -X POST --data "{\"value\":{\"num_ops\":20000,\"parallel_calls\":$p}}" \
      "http://127.0.0.1:$action_port/run" | field ops_per_sec >>"$tmp/a.$p"
    redis-benchmark -p "$redis_port" -t set -n 20000 -c "$p" -P 1 -d 64 -r 20000 --csv 2>/dev/null |
      awk -F'"' '/^"SET"/ {print $4}' >>"$tmp/r.$p"
  done
done
for p in 1 8 64; do
  a=$(median <"$tmp/a.$p"); r=$(median <"$tmp/r.$p")
  printf '| %d | %.0f | %.0f | %.2f |\n' "$p" "$a" "$r" "$(echo "$a / $r" | bc -l)"
done
