#!/usr/bin/env bash
# bench-workloads.sh: what batching and coalescing buy under the workloads of issue 20, on the
# local target. One redis-server and two rbench-agents on loopback, both with --metrics, the
# second with --coalesce. Every scenario of tools/bench/workloads/ names each variant's runs
# VARIANT-direct, VARIANT-batched and VARIANT-coalesce; one repetition runs the direct and
# batched runs (env file: the plain agent), then the coalesce runs (env file: the coalescing
# agent), and the repetitions follow each other (interleaved: every mode and variant once per
# repetition, so a slow minute of this machine hits them alike).
#   skew      tools/bench/workloads/skew.yaml: get:80,set:20 over 10000 keys, uniform vs
#             zipfian: commands per batch, GET/SET folded into MGET/MSET, Redis CPU per op
#   arrivals  tools/bench/workloads/arrivals.yaml: the same mix at one mean rate (400/s) as a
#             constant rate, a Poisson process and on/off bursts: batch sizes and p99
#   heavy     tools/bench/workloads/heavy.yaml: eval:30,get:50,set:20 (the Lua loop of
#             script_work iterations): whether batching pays when Redis's own work dominates
# Prints a markdown table per part (p50/p99 pooled over the repetitions with the change against
# direct and its significance from `rbench compare`; the repetitions' own p99s, median and
# range, since one stalled repetition on a shared machine can make the pooled p99; throughput, Redis CPU µs/op, backend CPU
# µs/op (Redis + agent), Redis commands/op, MGET+MSET calls/op, commands per batch (mean and
# p99), the share of commands folded by --coalesce, key reuse within 16 operations (the
# coalescing opportunity the keys offer), the realised coefficient of variation of the
# arrivals, per-operation p99) and writes it to OUT.md; the compare outputs and every results
# document are kept beside it.
#
# Usage: tools/bench/bench-workloads.sh [OUT.md]    (default build/bench-workloads/results.md)
#   env: REPS=5 (repetitions: 5 + 5 make p=0.008 possible, 3 + 3 only 0.1) PARTS="skew
#        arrivals heavy" DURATION= WARMUP= (seconds per run and of its warm-up, for every part;
#        default each scenario's: 10 and 1, arrivals 15 and 5: for the bursts keep both
#        multiples of their 5 s period) SCENARIOS=tools/bench/workloads (a directory with
#        PART.yaml files named as above) AGENT_ARGS="" (extra flags for both agents)
#        BUILD=build/release
# Everything listens on 127.0.0.1 only; every server started here is stopped on exit.
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-workloads 1 "$@"
cd "$(dirname "$0")/../.."
OUT="${1:-build/bench-workloads/results.md}"
REPS="${REPS:-5}"
PARTS="${PARTS:-skew arrivals heavy}"
DURATION="${DURATION:-}"
WARMUP="${WARMUP:-}"
SCENARIOS="${SCENARIOS:-tools/bench/workloads}"
AGENT_ARGS="${AGENT_ARGS:-}"
BUILD="${BUILD:-build/release}"

case "$REPS" in '' | *[!0-9]* | 0) echo "bench-workloads: REPS must be a positive integer, got '$REPS'" >&2; exit 2 ;; esac
for p in $PARTS; do
  [ -f "$SCENARIOS/$p.yaml" ] || { echo "bench-workloads: no scenario $SCENARIOS/$p.yaml for part '$p'" >&2; exit 2; }
done
for t in redis-server redis-cli python3; do
  command -v "$t" >/dev/null || { echo "bench-workloads: $t is missing (tools/install-deps.sh)" >&2; exit 1; }
done
mkdir -p "$(dirname "$OUT")"
keep="$(dirname "$OUT")"

if [ ! -f "$BUILD/CMakeCache.txt" ]; then cmake --preset "$(basename "$BUILD")" >/dev/null; fi
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
rbench="$BUILD/job/rbench"
agent="$BUILD/agent/rbench-agent"
ulimit -n 20000 2>/dev/null || ulimit -n 4096 2>/dev/null || true

# shellcheck source=tools/lib/lib.sh
. tools/lib/lib.sh
trap rb_cleanup EXIT
trap 'exit 130' INT TERM
rb_tmp=$(mktemp -d /tmp/rbench-bench-workloads.XXXXXX)
work=$rb_tmp
rb_start_redis

# start_agent NAME [FLAGS...]: an rbench-agent in front of the Redis, with its env file
# $work/NAME.env for rbench (the agent's port and metrics URL).
start_agent() {
  local name=$1 port metrics
  shift
  port=$(rb_free_port)
  metrics=$(rb_free_port)
  # shellcheck disable=SC2086 # AGENT_ARGS is a list of flags
  "$agent" --listen "127.0.0.1:$port" --redis "127.0.0.1:$rb_redis_port" \
    --metrics "127.0.0.1:$metrics" "$@" $AGENT_ARGS >"$work/agent-$name.log" 2>&1 &
  rb_pids+=($!)
  local _
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  redis-cli -p "$port" ping >/dev/null 2>&1 || {
    echo "bench-workloads: rbench-agent ($name) did not start; its log:" >&2
    cat "$work/agent-$name.log" >&2
    exit 1
  }
  cat >"$work/$name.env" <<ENV
REDIS_HOST=127.0.0.1
REDIS_PORT=$rb_redis_port
BATCHING_AGENT_HOST=127.0.0.1
BATCHING_AGENT_PORT=$port
BATCHING_AGENT_METRICS_URL=http://127.0.0.1:$metrics/metrics
ENV
}
start_agent plain
start_agent coalesce --coalesce

# runs_of PART MODES: the scenario's run names ending in one of MODES (-direct -batched ...),
# comma-separated, in the file's order.
runs_of() {
  python3 - "$SCENARIOS/$1.yaml" "$2" <<'PY'
import re, sys
path, modes = sys.argv[1], sys.argv[2].split()
names = re.findall(r"^\s*-\s*\{?\s*name:\s*([A-Za-z0-9_.-]+)", open(path).read(), re.M)
print(",".join(n for n in names if any(n.endswith("-" + m) for m in modes)))
PY
}

flags=(--progress off)
[ -z "$DURATION" ] || flags+=(--duration "$DURATION")
[ -z "$WARMUP" ] || flags+=(--warmup "$WARMUP")
for r in $(seq "$REPS"); do
  for p in $PARTS; do
    for side in plain coalesce; do
      if [ "$side" = plain ]; then runs=$(runs_of "$p" "direct batched"); else runs=$(runs_of "$p" coalesce); fi
      [ -n "$runs" ] || continue
      echo "bench-workloads: repetition $r of $REPS, $p: $runs"
      "$rbench" run -f "$SCENARIOS/$p.yaml" --runs "$runs" --env "$work/$side.env" "${flags[@]}" \
        --output "$work/docs/$p/r$r/" 2>>"$work/run.log" || {
        echo "bench-workloads: rbench run failed ($p, repetition $r); the end of its log:" >&2
        tail -20 "$work/run.log" >&2
        exit 1
      }
    done
  done
done

# One comparison per variant and mode against direct: every repetition's document pooled.
for p in $PARTS; do
  for run in $(runs_of "$p" "batched coalesce" | tr , ' '); do
    variant=${run%-*}
    a=$(for r in $(seq "$REPS"); do printf '%s,' "$work/docs/$p/r$r/$variant-direct.json"; done)
    b=$(for r in $(seq "$REPS"); do printf '%s,' "$work/docs/$p/r$r/$run.json"; done)
    "$rbench" compare "${a%,}" "${b%,}" --json >"$work/compare-$p-$run.json"
    "$rbench" compare "${a%,}" "${b%,}" >"$work/compare-$p-$run.txt"
  done
done

python3 - "$work" "$REPS" "$PARTS" "$SCENARIOS" >"$OUT" <<'PY'
import glob, json, os, re, statistics, sys
work, reps, parts, scenarios = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
def fmt(v, unit=""):
    if v is None: return "n/a"
    return (f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}") + unit
def get(d, *path):
    for k in path:
        if not isinstance(d, dict) or d.get(k) is None: return None
        d = d[k]
    return d
def med(docs, *path):
    vals = [v for v in (get(d, *path) for d in docs) if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None
def docs_of(part, run):
    return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(work, "docs", part, "r*", run + ".json")))]
def sig(row):
    if not row or row.get("a") in (None, 0) or row.get("b") is None: return ""
    p = row.get("p")
    return (f" ({row['b'] / row['a']:.2f}x" + ("" if row.get("significant", True) else " ~")
            + ("" if p is None else (", p<0.001" if p < 0.001 else f", p={p:.2g}")) + ")")
def rows_of(part, run):
    path = os.path.join(work, f"compare-{part}-{run}.json")
    if not os.path.exists(path): return {}
    return {r.get("key"): r for r in json.load(open(path)).get("rows", [])}
def folded(docs):
    v = [get(d, "agent", "coalesced") / get(d, "agent", "commands") for d in docs
         if get(d, "agent", "coalesced") is not None and get(d, "agent", "commands")]
    return statistics.median(v) if v else None
def mgetmset_per_op(docs):
    v = []
    for d in docs:
        calls, ops = get(d, "redis", "calls"), get(d, "redis", "ops")
        if isinstance(calls, dict) and ops:
            v.append((calls.get("mget", 0) + calls.get("mset", 0)) / ops)
    return statistics.median(v) if v else None
def spread(docs, *path):
    v = sorted(x for x in (get(d, *path) for d in docs) if isinstance(x, (int, float)))
    if not v: return "n/a"
    return f"{fmt(statistics.median(v))} ({fmt(v[0])}–{fmt(v[-1])})"
def reuse(docs, window=16):
    v = [e.get("repeated") for d in docs for e in (get(d, "workload", "key_reuse") or [])
         if e.get("window_ops") == window and isinstance(e.get("repeated"), (int, float))]
    return statistics.median(v) if v else None
def op_p99(docs):
    ops = {}
    for d in docs:
        for name, o in (get(d, "operations") or {}).items():
            p = get(o, "latency_ms", "p99")
            if isinstance(p, (int, float)): ops.setdefault(name, []).append(p)
    return ", ".join(f"{n} {statistics.median(v):.3g}" for n, v in sorted(ops.items())) or "n/a"
first = None
for part in parts:
    text = open(os.path.join(scenarios, part + ".yaml")).read()
    names = [n for n in re.findall(r"^\s*-\s*\{?\s*name:\s*([A-Za-z0-9_.-]+)", text, re.M)
             if n.rsplit("-", 1)[-1] in ("direct", "batched", "coalesce")]
    variants = []
    for n in names:
        v = n.rsplit("-", 1)[0]
        if v not in variants: variants.append(v)
    d0 = docs_of(part, names[0]) if names else []
    if d0 and first is None: first = d0[0]
    params = get(d0[0], "scenario", "parameters") if d0 else {}
    print(f"### {part}\n")
    if params:
        print(f"{reps} interleaved repetitions; per run ({names[0]}): rate {params.get('rate')}/s, "
              f"duration {params.get('duration')} s (warm-up {params.get('warmup')} s), ops "
              f"{params.get('ops')}, parallel {params.get('parallel')}, mix {params.get('mix')}, "
              f"key_space {params.get('key_space')}. Each cell is the median over the repetitions, "
              "except p50/p99: pooled, with batched/direct and its significance (`~`: not "
              "significant at 0.05) from `rbench compare`, and p99 by repetition: the median "
              "(lowest-highest) of the repetitions' own p99s (a pooled p99 can be one stalled "
              "repetition's).\n")
    print("| variant | mode | intended rate /s | p50 ms | p99 ms | p99 ms by repetition | throughput /s | Redis CPU µs/op | backend CPU µs/op "
          "| Redis commands/op "
          "| MGET+MSET calls/op | commands/batch mean | commands/batch p99 | folded by --coalesce "
          "| key reuse in 16 ops | arrival CV (realised) | p99 ms per operation |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for v in variants:
        for mode in ("direct", "batched", "coalesce"):
            run = f"{v}-{mode}"
            if run not in names: continue
            docs = docs_of(part, run)
            rows = rows_of(part, run) if mode != "direct" else rows_of(part, f"{v}-batched")
            side = "a" if mode == "direct" else "b"
            def pooled(key):
                r = rows.get(key)
                if not r: return "n/a"
                return fmt(r.get(side)) + ("" if mode == "direct" else sig(r))
            cv = med(docs, "arrival", "realised_cv")
            rate = med(docs, "arrival", "intended_rate") or med(docs, "requested_rate")
            print(f"| {v} | {mode} | {fmt(rate)} | {pooled('execution_p50_ms')} "
                  f"| {pooled('execution_p99_ms')} | {spread(docs, 'execution_time_ms', 'p99')} "
                  f"| {fmt(med(docs, 'throughput'))} | {fmt(med(docs, 'redis', 'cpu_us_per_op'))} "
                  f"| {fmt(med(docs, 'backend_cpu_us_per_op'))} "
                  f"| {fmt(med(docs, 'redis', 'commands_per_op'))} | {fmt(mgetmset_per_op(docs))} "
                  f"| {fmt(med(docs, 'agent', 'commands_per_batch', 'mean'))} "
                  f"| {fmt(med(docs, 'agent', 'commands_per_batch', 'p99'))} "
                  f"| {'-' if mode != 'coalesce' else fmt(folded(docs))} "
                  f"| {fmt(reuse(docs))} | {fmt(cv)} | {op_p99(docs)} |")
    print()
if first:
    print(f"rbench {get(first, 'rbench', 'version')} ({get(first, 'rbench', 'git_commit')}), "
          f"host {get(first, 'host', 'hostname')}, {get(first, 'host', 'cpus')} CPUs; Redis, both "
          "agents, the runner and the actions on this one machine.")
PY
cat "$OUT"
mkdir -p "$keep/compare" "$keep/docs"
cp "$work"/compare-*.txt "$work"/compare-*.json "$keep/compare/"
cp -r "$work/docs/." "$keep/docs/"
