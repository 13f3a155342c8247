#!/usr/bin/env bash
# bench-e2e.sh: the headline benchmark of what batching buys, end to end on the local target.
# One redis-server, one rbench-agent (--metrics) on loopback; for each concurrency N the same
# scenario runs direct and batched, interleaved, REPS repetitions: N rbench-action processes
# (pool_size N) kept busy by max_in_flight N and a rate above what this machine sustains, so N
# actions are in flight at once. Then one capacity sweep per mode (a ramp under one SLO).
# Prints a markdown table (service-time p50/p99 pooled over the repetitions, throughput, Redis CPU/op, backend CPU/op, reads/op,
# commands per batch, each B/A with its significance) and the sweeps' max sustainable rates.
#
#   tools/bench-e2e.sh [OUT.md]          (default build/bench-e2e/results.md)
#   env: REPS=3 CONCURRENCY="8 32 128" OPS=10 PARALLEL=5 SECONDS_PER_RUN=3 RATE=20000
#        SWEEP_FROM=200 SWEEP_MAX=6400 SLO_P99_MS=50 AGENT_ARGS="" (extra rbench-agent flags)
#        BUILD=build/release
# Everything listens on 127.0.0.1 only; every server started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-build/bench-e2e/results.md}"
REPS="${REPS:-3}"
CONCURRENCY="${CONCURRENCY:-8 32 128}"
OPS="${OPS:-10}"
PARALLEL="${PARALLEL:-5}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-3}"
RATE="${RATE:-20000}"
SWEEP_FROM="${SWEEP_FROM:-200}"
SWEEP_MAX="${SWEEP_MAX:-6400}"
SLO_P99_MS="${SLO_P99_MS:-50}"
AGENT_ARGS="${AGENT_ARGS:-}"
BUILD="${BUILD:-build/release}"
mkdir -p "$(dirname "$OUT")"

if [ ! -f "$BUILD/CMakeCache.txt" ]; then cmake --preset "$(basename "$BUILD")" >/dev/null; fi
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
rbench="$BUILD/job/rbench"
agent="$BUILD/agent/rbench-agent"
for t in redis-server redis-cli python3; do
  command -v "$t" >/dev/null || { echo "bench-e2e: $t is missing (tools/install-deps.sh)" >&2; exit 1; }
done
ulimit -n 20000 2>/dev/null || ulimit -n 4096 2>/dev/null || true

# shellcheck source=tools/lib.sh
. tools/lib.sh
trap rb_cleanup EXIT INT TERM
rb_tmp=$(mktemp -d /tmp/rbench-bench-e2e.XXXXXX)
work=$rb_tmp
rb_start_redis
agent_port=$(rb_free_port)
metrics_port=$(rb_free_port)
# shellcheck disable=SC2086 # AGENT_ARGS is a list of flags
"$agent" --listen "127.0.0.1:$agent_port" --redis "127.0.0.1:$rb_redis_port" \
  --metrics "127.0.0.1:$metrics_port" $AGENT_ARGS >"$work/agent.log" 2>&1 &
rb_pids+=($!)
for _ in $(seq 200); do redis-cli -p "$agent_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
cat >"$work/local.env" <<ENV
REDIS_HOST=127.0.0.1
REDIS_PORT=$rb_redis_port
BATCHING_AGENT_HOST=127.0.0.1
BATCHING_AGENT_PORT=$agent_port
BATCHING_AGENT_METRICS_URL=http://127.0.0.1:$metrics_port/metrics
ENV

scenario() { # NAME POOL DEFAULTS-YAML
  cat <<YAML
name: $1
description: tools/bench-e2e.sh
target:
  kind: local
  pool_size: $2
defaults:
$3
  ops: $OPS
  parallel: $PARALLEL
  operation: set
  key_prefix: e2e
repetitions: $REPS
order: interleaved
runs:
  - name: direct
    batching: false
  - name: batched
    batching: true
YAML
}

res() { # the documents of one run: a directory with repetitions, else one file
  if [ -d "$1" ]; then echo "$1"; else echo "$1.json"; fi
}

for n in $CONCURRENCY; do
  invocations=$((RATE * SECONDS_PER_RUN))
  # the schedule is far ahead of what N processes serve, so N are always in flight; the run's
  # length is bounded by its invocations (at most N x 400); the first tenth of them (their due
  # times) is the warm-up: cold starts and connections
  [ "$invocations" -le $((n * 400)) ] || invocations=$((n * 400))
  scenario "e2e-c$n" "$n" "  rate: $RATE
  invocations: $invocations
  max_in_flight: $n
  warmup: $(python3 -c "print(round($invocations / $RATE / 10, 4))")" >"$work/c$n.yaml"
  echo "bench-e2e: $n actions in flight, $REPS repetitions per mode"
  "$rbench" run -f "$work/c$n.yaml" --env "$work/local.env" --progress off \
    --output "$work/c$n/" 2>>"$work/run.log" || { tail -20 "$work/run.log" >&2; exit 1; }
  "$rbench" compare "$(res "$work/c$n/direct")" "$(res "$work/c$n/batched")" --json >"$work/c$n.json"
  "$rbench" compare "$(res "$work/c$n/direct")" "$(res "$work/c$n/batched")" >"$work/c$n.txt"
done

# One capacity sweep per mode: the same ramp under the same SLO (open loop, pool 32).
scenario "e2e-sweep" 32 "  rate: {from: $SWEEP_FROM, factor: 2, until_slo: true, max: $SWEEP_MAX}
  slo: {p99_ms: $SLO_P99_MS, max_error_rate: 0.01}
  duration: 2
  max_in_flight: 200
  warmup: 0.2" | sed "s/^repetitions: .*/repetitions: 1/" >"$work/sweep.yaml"
echo "bench-e2e: capacity sweeps from $SWEEP_FROM/s (x2) up to $SWEEP_MAX/s, SLO p99 <= $SLO_P99_MS ms"
"$rbench" run -f "$work/sweep.yaml" --env "$work/local.env" --progress off \
  --output "$work/sweep/" 2>>"$work/run.log" || { tail -20 "$work/run.log" >&2; exit 1; }
"$rbench" compare "$work/sweep/direct" "$work/sweep/batched" --json >"$work/sweep.json"
"$rbench" compare "$work/sweep/direct" "$work/sweep/batched" >"$work/sweep.txt"

python3 - "$work" "$CONCURRENCY" "$REPS" "$OPS" "$PARALLEL" "$SLO_P99_MS" >"$OUT" <<'PY'
import json, sys, os
work, conc, reps, ops, par, slo = sys.argv[1:]
keys = [("throughput", "throughput /s"),
        ("redis_cpu_us_per_op", "Redis CPU µs/op"), ("backend_cpu_us_per_op", "backend CPU µs/op"),
        ("redis_reads_per_op", "Redis reads/op"), ("redis_commands_per_op", "Redis commands/op"),
        ("commands_per_batch", "commands/batch")]
def service(n, mode):
    """Pooled service times (reply end - send) of the measured successful invocations: with the
    schedule far ahead of N busy actions, time from the intended start is the backlog, not the
    cost of an invocation."""
    root = os.path.join(work, f"c{n}", mode)
    files = [os.path.join(root, f) for f in sorted(os.listdir(root))] if os.path.isdir(root) else [root + ".json"]
    v = sorted(r["service_time_ms"] for f in files for r in json.load(open(f))["raw_results"]
               if r.get("success") and not r.get("warmup"))
    q = lambda p: v[max(0, min(len(v) - 1, int(-(-p * len(v) // 1)) - 1))]
    return q(0.5), q(0.99), len(v)
def fmt(v):
    return "n/a" if v is None else (f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}")
print(f"local target, ops {ops}, parallel {par}, {reps} interleaved repetitions per mode; "
      "each cell: direct → batched (B/A; `~` = not significant at 0.05)\n")
print("| in flight | service p50 ms | service p99 ms | " + " | ".join(k[1] for k in keys) + " |")
print("|---|---|---|" + "---|" * len(keys))
for n in conc.split():
    d = json.load(open(os.path.join(work, f"c{n}.json")))
    rows = {r.get("key"): r for r in d["rows"]}
    (a50, a99, na), (b50, b99, nb) = service(n, "direct"), service(n, "batched")
    cells = [f"{fmt(a50)} → {fmt(b50)} ({b50 / a50:.2f}x)", f"{fmt(a99)} → {fmt(b99)} ({b99 / a99:.2f}x; n={na}+{nb})"]
    for k, _ in keys:
        r = rows.get(k, {})
        a, b = r.get("a"), r.get("b")
        ratio = f"{b / a:.2f}x" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a else "-"
        sig = "" if r.get("significant", True) else " ~"
        cells.append(f"{fmt(a)} → {fmt(b)} ({ratio}{sig})")
    print(f"| {n} | " + " | ".join(cells) + " |")
s = json.load(open(os.path.join(work, "sweep.json")))
def side(x):
    v = x.get("max_sustainable_rate")
    return ("at least " if x.get("at_least") else "") + (f"{v:g}/s" if v is not None else "none")
print(f"\ncapacity sweep (SLO p99 ≤ {slo} ms, errors ≤ 1%, achieved ≥ 95%): direct {side(s['a'])}, "
      f"batched {side(s['b'])}, ratio {s.get('ratio')} ({s.get('ratio_bound')})")
d = json.load(open(os.path.join(work, f"c{conc.split()[-1]}.json")))
print(f"\nheadline at {conc.split()[-1]} in flight: {d.get('headline', '-')}")
PY
cat "$OUT"
for n in $CONCURRENCY; do cp "$work/c$n.txt" "$(dirname "$OUT")/compare-c$n.txt"; done
cp "$work/sweep.txt" "$(dirname "$OUT")/compare-sweep.txt"
