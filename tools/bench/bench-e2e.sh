#!/usr/bin/env bash
# bench-e2e.sh: the headline benchmark of what batching buys, end to end on the local target.
# One redis-server, one rbench-agent (--metrics) on loopback; for each concurrency N the same
# scenario runs direct and batched, interleaved, REPS repetitions, as a closed loop
# (`concurrency: N`, pool_size N): exactly N actions in flight, the next invocation sent when
# one finishes, for SECONDS_PER_RUN seconds. Then Redis is put under a CPU quota (a cgroup v1
# CPU controller, REDIS_CPU_QUOTA of one core: a small shared Redis), so that Redis, not the
# actions or the runner, is what saturates, and against it: the closed loop at the largest N
# once more (completions per second = capacity at that concurrency), and one capacity sweep per
# mode (an open-loop ramp under one SLO).
# Prints a markdown table (p50/p99 pooled over the repetitions, throughput, Redis CPU/op, backend
# CPU/op, reads/op, commands per batch, each B/A with its significance) and the sweeps' max
# sustainable rates.
#
# Usage: tools/bench/bench-e2e.sh [OUT.md]          (default build/bench-e2e/results.md)
#   env: REPS=5 CONCURRENCY="8 32 128" OPS=10 PARALLEL=5 SECONDS_PER_RUN=3
#        REDIS_CPU_QUOTA=0.1 (fraction of one core for redis-server during the capacity part;
#          0 = no quota; needs root and /sys/fs/cgroup/cpu, else it says so and runs without)
#        REDIS_CPU_PERIOD_US=10000 (the quota's period: short, so a throttled Redis stalls for
#          milliseconds, not a tenth of a second)
#        SWEEP_FROM=200 SWEEP_FACTOR=1.5 SWEEP_MAX=12000 SLO_P99_MS=50 SWEEP_REPS=3 (repetitions
#          per step, interleaved, p99 pooled: one stall of this shared machine does not end a ramp)
#        AGENT_ARGS="" (extra rbench-agent flags) BUILD=build/release
# Everything listens on 127.0.0.1 only; every server started here is stopped on exit, and the
# cgroup is removed whatever happens.
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-e2e 1 "$@"
cd "$(dirname "$0")/../.."
OUT="${1:-build/bench-e2e/results.md}"
REPS="${REPS:-5}"
CONCURRENCY="${CONCURRENCY:-8 32 128}"
OPS="${OPS:-10}"
PARALLEL="${PARALLEL:-5}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-3}"
REDIS_CPU_QUOTA="${REDIS_CPU_QUOTA:-0.1}"
REDIS_CPU_PERIOD_US="${REDIS_CPU_PERIOD_US:-10000}"
SWEEP_FROM="${SWEEP_FROM:-200}"
SWEEP_FACTOR="${SWEEP_FACTOR:-1.5}"
SWEEP_MAX="${SWEEP_MAX:-12000}"
SLO_P99_MS="${SLO_P99_MS:-50}"
SWEEP_REPS="${SWEEP_REPS:-3}"
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

# shellcheck source=tools/lib/lib.sh
. tools/lib/lib.sh
cgroup_root=/sys/fs/cgroup/cpu
cgroup=""
cleanup() {
  rb_cleanup
  if [ -n "$cgroup" ] && [ -d "$cgroup" ]; then
    # anything still inside goes back to the root group, then the group is removed
    while read -r t; do echo "$t" >"$cgroup_root/cgroup.procs" 2>/dev/null || true; done <"$cgroup/cgroup.procs"
    rmdir "$cgroup" 2>/dev/null || echo "bench-e2e: could not remove $cgroup" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# cgroup_limit PID: puts PID (all its threads) under REDIS_CPU_QUOTA of one core; sets
# quota_note to what was done (or why not).
cgroup_limit() {
  quota_note="no CPU quota on Redis (REDIS_CPU_QUOTA=0)"
  python3 -c "import sys; sys.exit(0 if float('$REDIS_CPU_QUOTA') > 0 else 1)" || return 0
  if [ ! -w "$cgroup_root/cgroup.procs" ] || [ ! -e "$cgroup_root/cpu.cfs_quota_us" ]; then
    quota_note="no CPU quota on Redis: the cgroup v1 CPU controller is not available or writable at $cgroup_root (needs root)"
    echo "bench-e2e: $quota_note; the capacity part runs against an unconstrained Redis" >&2
    return 0
  fi
  cgroup="$cgroup_root/rbench-bench-e2e-$$"
  mkdir "$cgroup"
  local quota
  quota=$(python3 -c "print(max(1000, round($REDIS_CPU_QUOTA * $REDIS_CPU_PERIOD_US)))")
  echo "$REDIS_CPU_PERIOD_US" >"$cgroup/cpu.cfs_period_us"
  echo "$quota" >"$cgroup/cpu.cfs_quota_us"
  echo "$1" >"$cgroup/cgroup.procs"
  quota_note="redis-server under a CPU quota of $quota µs per $REDIS_CPU_PERIOD_US µs ($REDIS_CPU_QUOTA of one core, cgroup v1 cpu.cfs_quota_us)"
  echo "bench-e2e: $quota_note" >&2
}
rb_tmp=$(mktemp -d /tmp/rbench-bench-e2e.XXXXXX)
work=$rb_tmp
rb_start_redis
redis_pid=${rb_pids[-1]}
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
description: tools/bench/bench-e2e.sh
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

closed_run() { # NAME N: the closed loop at N in flight, direct and batched, into $work/NAME/
  scenario "e2e-$1" "$2" "  concurrency: $2
  duration: $SECONDS_PER_RUN
  warmup: $(python3 -c "print(round($SECONDS_PER_RUN / 10, 4))")" >"$work/$1.yaml"
  "$rbench" run -f "$work/$1.yaml" --env "$work/local.env" --progress off \
    --output "$work/$1/" 2>>"$work/run.log" || { tail -20 "$work/run.log" >&2; exit 1; }
  "$rbench" compare "$(res "$work/$1/direct")" "$(res "$work/$1/batched")" --json >"$work/$1.json"
  "$rbench" compare "$(res "$work/$1/direct")" "$(res "$work/$1/batched")" >"$work/$1.txt"
}

for n in $CONCURRENCY; do
  # the first tenth of each run (by send time) is the warm-up: cold starts and connections
  echo "bench-e2e: closed loop, $n actions in flight, $REPS repetitions per mode"
  closed_run "c$n" "$n"
done

# The capacity part: Redis under the CPU quota, so that it is the bottleneck.
cgroup_limit "$redis_pid"
nmax=${CONCURRENCY##* }
echo "bench-e2e: closed loop, $nmax in flight, against the limited Redis"
closed_run "q$nmax" "$nmax"

# One capacity sweep per mode: the same ramp under the same SLO (open loop, pool 32). A high
# max_in_flight lets a backlog in Redis show as latency (it queues for the 32 actions) rather
# than as sends held by the runner, which the sweep would read as the runner's own limit.
scenario "e2e-sweep" 32 "  rate: {from: $SWEEP_FROM, factor: $SWEEP_FACTOR, until_slo: true, max: $SWEEP_MAX}
  slo: {p99_ms: $SLO_P99_MS, max_error_rate: 0.01}
  duration: 2
  max_in_flight: 2000
  warmup: 0.2" | sed "s/^repetitions: .*/repetitions: $SWEEP_REPS/" >"$work/sweep.yaml"
echo "bench-e2e: capacity sweeps from $SWEEP_FROM/s (x$SWEEP_FACTOR) up to $SWEEP_MAX/s, SLO p99 <= $SLO_P99_MS ms"
"$rbench" run -f "$work/sweep.yaml" --env "$work/local.env" --progress off \
  --output "$work/sweep/" 2>>"$work/run.log" || { tail -20 "$work/run.log" >&2; exit 1; }
"$rbench" compare "$work/sweep/direct" "$work/sweep/batched" --json >"$work/sweep.json"
"$rbench" compare "$work/sweep/direct" "$work/sweep/batched" >"$work/sweep.txt"

python3 - "$work" "$CONCURRENCY" "$REPS" "$OPS" "$PARALLEL" "$SLO_P99_MS" "$quota_note" "$SECONDS_PER_RUN" "$SWEEP_REPS" >"$OUT" <<'PY'
import json, sys, os
work, conc, reps, ops, par, slo, quota_note, secs, sweep_reps = sys.argv[1:]
nmax = conc.split()[-1]
keys = [("throughput", "throughput /s"),
        ("redis_cpu_us_per_op", "Redis CPU µs/op"), ("backend_cpu_us_per_op", "backend CPU µs/op"),
        ("redis_reads_per_op", "Redis reads/op"), ("redis_commands_per_op", "Redis commands/op"),
        ("commands_per_batch", "commands/batch")]
def fmt(v):
    return "n/a" if v is None else (f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}")
def pfmt(p):
    return "" if p is None else (", p<0.001" if p < 0.001 else f", p={p:.2g}")
def cell(r, unit=""):
    a, b = r.get("a"), r.get("b")
    ratio = f"{b / a:.2f}x" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a else "-"
    sig = "" if r.get("significant", True) else " ~"
    return f"{fmt(a)} → {fmt(b)} ({ratio}{sig}{pfmt(r.get('p'))})"
def table(names):
    """One row per closed-loop comparison: latency is from the send (there is no intended time),
    pooled over the repetitions; the other columns are medians of the repetitions' values."""
    out = ["| in flight | p50 ms | p99 ms | " + " | ".join(k[1] for k in keys) + " |",
           "|---|---|---|" + "---|" * len(keys)]
    for label, name in names:
        d = json.load(open(os.path.join(work, f"{name}.json")))
        rows = {r.get("key"): r for r in d["rows"]}
        p50, p99 = rows["execution_p50_ms"], rows["execution_p99_ms"]
        cells = [cell(p50), f"{fmt(p99['a'])} → {fmt(p99['b'])} ({p99['b'] / p99['a']:.2f}x"
                 f"{'' if p99.get('significant', True) else ' ~'}; n={p99['samples_a']}+{p99['samples_b']})"]
        cells += [cell(rows.get(k, {})) for k, _ in keys]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)
print(f"local target, closed loop (`concurrency: N`, pool_size N, {secs} s per run, the first tenth "
      f"warm-up), ops {ops}, parallel {par}, {reps} interleaved repetitions per mode; each cell: "
      "direct → batched (B/A; `~` = not significant at 0.05; p from Mann-Whitney U, on the "
      "per-repetition medians for p50 and per-repetition values for the other rows; p99: bootstrap CI)\n")
print(table([(n, f"c{n}") for n in conc.split()]))
print(f"\nAgainst the limited Redis ({quota_note}):\n")
print(table([(f"{nmax}, Redis limited", f"q{nmax}")]))
def steps(mode):
    p = os.path.join(work, "sweep", mode, "sweep.json")
    d = json.load(open(p))
    return ", ".join(f"{st['rate']:g}/s p99 {fmt(st.get('p99_ms'))} ms "
                     f"{'met' if st['met_slo'] else 'failed (' + (st.get('why') or '') + ')'}"
                     f"{' [runner-limited: ' + (st.get('runner_note') or '') + ']' if st.get('runner_limited') else ''}"
                     for st in d["steps"])
s = json.load(open(os.path.join(work, "sweep.json")))
def side(x):
    v = x.get("max_sustainable_rate")
    return ("at least " if x.get("at_least") else "") + (f"{v:g}/s" if v is not None else "none")
print(f"\ncapacity sweep against the limited Redis (open loop, pool 32, {sweep_reps} interleaved repetitions per step, SLO p99 ≤ {slo} ms, errors ≤ 1%, "
      f"achieved ≥ 95%): direct {side(s['a'])}, batched {side(s['b'])}, ratio {s.get('ratio')} "
      f"({s.get('ratio_bound')})\n")
print(f"- direct steps: {steps('direct')}")
print(f"- batched steps: {steps('batched')}")
for n in conc.split():
    d = json.load(open(os.path.join(work, f"c{n}.json")))
    print(f"\nheadline at {n} in flight: {d.get('headline', '-')}")
d = json.load(open(os.path.join(work, f"q{nmax}.json")))
print(f"\nheadline at {nmax} in flight, Redis limited: {d.get('headline', '-')}")
PY
cat "$OUT"
for n in $CONCURRENCY; do cp "$work/c$n.txt" "$(dirname "$OUT")/compare-c$n.txt"; done
cp "$work/q$nmax.txt" "$(dirname "$OUT")/compare-q$nmax.txt"
cp "$work/sweep.txt" "$(dirname "$OUT")/compare-sweep.txt"
for m in direct batched; do cp "$work/sweep/$m/sweep.json" "$(dirname "$OUT")/sweep-$m.json"; done
