#!/usr/bin/env bash
# bench-placements.sh: where batching lives, end to end on the local target, every placement in
# the same run (the successor of bench-e2e.sh, which compares direct and the agent only).
# Six groups, each run starting its own backend (`backend: start`: a fresh redis-server and,
# for the agent placements, the layer in front of it, stopped after the run):
#   direct          each operation straight to Redis (the baseline)
#   runtime-c1      runtime-level batching in the action process, 1 activation per process
#   runtime-c8      the same with 8 concurrent activations per process (action_concurrency 8)
#   agent           rbench-agent, default flags
#   agent-coalesce  rbench-agent --coalesce
#   nutcracker      nutcracker (twemproxy) as the layer: pipelining, no batching policy
# For each N of CONCURRENCY, a closed loop (`concurrency: N`, pool_size N) of every group,
# interleaved, REPS repetitions, SECONDS_PER_RUN each; then the same closed loop at the largest
# N and one capacity sweep per group against Redis under a CPU quota (`redis_cpu`, REDIS_CPU of
# one core: the runner puts the redis-server it starts in a cgroup), an open-loop ramp under one
# SLO with the capacity search. Prints markdown tables: each group's value and its ratio to
# direct, with the significance mark of `rbench compare` (Holm-corrected over the 5 comparisons),
# and each group's max sustainable rate.
#
# Usage: tools/bench/bench-placements.sh [OUT.md]   (default build/bench-placements/results.md)
#   env: REPS=3 CONCURRENCY="8 32 128" OPS=10 PARALLEL=5 SECONDS_PER_RUN=3
#        REDIS_CPU=0.1 (fraction of one core for Redis in the capacity part; needs root and a
#          cgroup CPU controller, else the runner refuses and this script says so)
#        SWEEP_FROM=200 SWEEP_FACTOR=1.5 SWEEP_MAX=20000 SLO_P99_MS=50 SWEEP_REPS=2 SWEEP_POOL=32
#        PARTS="closed sweep" (closed: the closed loops; sweep: the capacity sweeps)
#        PLACEMENTS="direct runtime-c1 runtime-c8 agent agent-coalesce nutcracker" BUILD=build/release
# Everything listens on 127.0.0.1 only; what the runner starts it stops whatever happens.
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-placements 1 "$@"
cd "$(dirname "$0")/../.."
OUT="${1:-build/bench-placements/results.md}"
REPS="${REPS:-3}"
CONCURRENCY="${CONCURRENCY:-8 32 128}"
OPS="${OPS:-10}"
PARALLEL="${PARALLEL:-5}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-3}"
REDIS_CPU="${REDIS_CPU:-0.1}"
SWEEP_FROM="${SWEEP_FROM:-200}"
SWEEP_FACTOR="${SWEEP_FACTOR:-1.5}"
SWEEP_MAX="${SWEEP_MAX:-20000}"
SLO_P99_MS="${SLO_P99_MS:-50}"
SWEEP_REPS="${SWEEP_REPS:-2}"
export SWEEP_POOL="${SWEEP_POOL:-32}"
PARTS="${PARTS:-closed sweep}"
GROUPS_LIST="${PLACEMENTS:-direct runtime-c1 runtime-c8 agent agent-coalesce nutcracker}"
BUILD="${BUILD:-build/release}"
mkdir -p "$(dirname "$OUT")"

if [ ! -f "$BUILD/CMakeCache.txt" ]; then cmake --preset "$(basename "$BUILD")" >/dev/null; fi
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
rbench="$BUILD/job/rbench"
for t in redis-server nutcracker python3; do
  command -v "$t" >/dev/null || { echo "bench-placements: $t is missing (tools/install-deps.sh)" >&2; exit 1; }
done
ulimit -n 20000 2>/dev/null || ulimit -n 4096 2>/dev/null || true
work=$(mktemp -d "${TMPDIR:-/tmp}/rbench-bench-placements.XXXXXX")
trap 'rm -rf "$work"' EXIT
: >"$work/empty.env" # no addresses: the runner starts the backend of every run

group_yaml() { # NAME: the run keys of one group
  case "$1" in
    direct) echo "    placement: direct" ;;
    runtime-c1) printf '    placement: runtime\n    action_concurrency: 1\n' ;;
    runtime-c8) printf '    placement: runtime\n    action_concurrency: 8\n' ;;
    agent) echo "    placement: agent" ;;
    agent-coalesce) printf '    placement: agent\n    layer_args: "--coalesce"\n' ;;
    nutcracker) printf '    placement: agent\n    layer: nutcracker\n' ;;
    *) echo "bench-placements: unknown group '$1'" >&2; exit 2 ;;
  esac
}

scenario() { # NAME POOL REPS DEFAULTS-YAML
  printf 'name: %s\ndescription: tools/bench/bench-placements.sh\ntarget:\n  kind: local\n  pool_size: %s\n' "$1" "$2"
  printf 'defaults:\n%s\n  ops: %s\n  parallel: %s\n  operation: set\n  key_prefix: place\n  backend: start\n' "$4" "$OPS" "$PARALLEL"
  printf 'repetitions: %s\norder: interleaved\nruns:\n' "$3"
  for g in $GROUPS_LIST; do
    echo "  - name: $g"
    group_yaml "$g"
  done
}

res() { if [ -d "$1" ]; then echo "$1"; else echo "$1.json"; fi; }

compare_groups() { # NAME [extra compare flags]: N-way compare of $work/NAME/*
  local name=$1 args=()
  shift
  for g in $GROUPS_LIST; do args+=("$(res "$work/$name/$g")"); done
  "$rbench" compare "${args[@]}" "$@" --json >"$work/$name.json"
  "$rbench" compare "${args[@]}" "$@" >"$work/$name.txt"
}

closed_run() { # NAME N [REDIS-CPU-YAML]
  scenario "place-$1" "$2" "$REPS" "  concurrency: $2
  duration: $SECONDS_PER_RUN
  warmup: $(python3 -c "print(round($SECONDS_PER_RUN / 10, 4))")${3:-}" >"$work/$1.yaml"
  "$rbench" run -f "$work/$1.yaml" --env "$work/empty.env" --progress off \
    --output "$work/$1/" 2>>"$work/run.log" || { tail -20 "$work/run.log" >&2; exit 1; }
  compare_groups "$1"
}

nmax=${CONCURRENCY##* }
case " $PARTS " in
  *" closed "*)
    for n in $CONCURRENCY; do
      echo "bench-placements: closed loop, $n in flight, $REPS repetitions per group"
      closed_run "c$n" "$n"
    done
    echo "bench-placements: closed loop, $nmax in flight, Redis at $REDIS_CPU of a core"
    closed_run "q$nmax" "$nmax" "
  redis_cpu: $REDIS_CPU"
    ;;
esac

# One capacity sweep per group: the same ramp and search under the same SLO (open loop, pool
# SWEEP_POOL; a high max_in_flight lets a backlog in Redis show as latency rather than as sends
# held).
case " $PARTS " in *" sweep "*) ;; *) SKIP_SWEEP=1 ;; esac
if [ -z "${SKIP_SWEEP:-}" ]; then
scenario "place-sweep" "$SWEEP_POOL" "$SWEEP_REPS" "  rate: {from: $SWEEP_FROM, factor: $SWEEP_FACTOR, until_slo: true, max: $SWEEP_MAX}
  slo: {p99_ms: $SLO_P99_MS, max_error_rate: 0.01}
  duration: 2
  max_in_flight: 2000
  warmup: 0.2
  redis_cpu: $REDIS_CPU" >"$work/sweep.yaml"
echo "bench-placements: capacity sweeps from $SWEEP_FROM/s (x$SWEEP_FACTOR, then the search), SLO p99 <= $SLO_P99_MS ms, Redis at $REDIS_CPU of a core"
"$rbench" run -f "$work/sweep.yaml" --env "$work/empty.env" --progress off \
  --output "$work/sweep/" 2>>"$work/run.log" || { tail -20 "$work/run.log" >&2; exit 1; }
compare_groups sweep --objective max_rate
fi

python3 - "$work" "$CONCURRENCY" "$REPS" "$OPS" "$PARALLEL" "$SLO_P99_MS" "$REDIS_CPU" "$SECONDS_PER_RUN" "$SWEEP_REPS" "$GROUPS_LIST" >"$OUT" <<'PY'
import json, os, sys
work, conc, reps, ops, par, slo, rcpu, secs, sweep_reps, groups = sys.argv[1:]
groups = groups.split()
nmax = conc.split()[-1]
cols = [("execution_p50_ms", "p50 ms"), ("execution_p99_ms", "p99 ms"), ("throughput", "throughput /s"),
        ("redis_cpu_us_per_op", "Redis CPU µs/op"), ("backend_cpu_us_per_op", "backend CPU µs/op"),
        ("action_cpu_us_per_op", "action CPU µs/op"), ("commands_per_batch", "commands/batch")]
def fmt(v):
    return "n/a" if v is None else (f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}")
def cell(c, base):
    v = c.get("value")
    if base or v is None:
        return fmt(v)
    r = c.get("ratio")
    mark = "" if "significant" not in c else (" !" if c["significant"] and not c.get("negligible") else (" =" if c.get("negligible") else " ~"))
    return f"{fmt(v)} ({'-' if r is None else f'{r:.2f}x'}{mark})"
def table(name):
    d = json.load(open(os.path.join(work, f"{name}.json")))
    rows = {r["key"]: r for r in d["rows"]}
    out = ["| group | " + " | ".join(h for _, h in cols) + " |", "|---|" + "---|" * len(cols)]
    for i, g in enumerate(d["groups"]):
        cells = []
        for k, _ in cols:
            r = rows.get(k)
            cells.append("n/a" if r is None else cell(r["groups"][i], g.get("baseline")))
        out.append(f"| {groups[i]} | " + " | ".join(cells) + " |")
    return "\n".join(out) + f"\n\nheadline: {d.get('headline', '-')}"
print(f"local target, closed loop (`concurrency: N`, pool_size N, {secs} s per run, the first tenth "
      f"warm-up), ops {ops}, parallel {par}, {reps} interleaved repetitions per group, every run "
      "with its own redis-server (and layer) started by the runner. Each cell: the group's value "
      "(pooled latency; medians of the repetitions otherwise) and its ratio to direct; `!` "
      "significant, `~` not, `=` significant but negligible (Mann-Whitney U at 0.05, Holm-corrected "
      "over the comparisons; p99: bootstrap interval).\n")
for n in conc.split():
    if os.path.exists(os.path.join(work, f"c{n}.json")):
        print(f"### {n} in flight\n\n{table(f'c{n}')}\n")
if os.path.exists(os.path.join(work, f"q{nmax}.json")):
    print(f"### {nmax} in flight, Redis at {rcpu} of a core\n\n{table(f'q{nmax}')}\n")
if not os.path.exists(os.path.join(work, "sweep.json")):
    sys.exit(0)
s = json.load(open(os.path.join(work, "sweep.json")))
print(f"### Capacity against Redis at {rcpu} of a core\n\nopen loop, pool {os.environ.get('SWEEP_POOL', '32')}, {sweep_reps} interleaved "
      f"repetitions per step, SLO p99 ≤ {slo} ms, errors ≤ 1%, achieved ≥ 95%; the ramp, then the "
      "capacity search (bisection).\n")
print("| group | max sustainable rate /s | ratio to direct | steps (rate: verdict, what limited a failed step) |\n|---|---|---|---|")
for i, g in enumerate(s["groups"]):
    v = g.get("max_sustainable_rate")
    sw = json.load(open(os.path.join(work, "sweep", groups[i], "sweep.json")))
    steps = ", ".join(f"{st['rate']:g}: {'met' if st.get('met_slo') else 'failed'}"
                      f"{'' if st.get('met_slo') else ' (' + str(st.get('limited_by') or st.get('why') or '') + ')'}"
                      for st in sw.get("steps", []))
    rate = ("at least " if g.get("at_least") else "") + (f"{v:g}" if v is not None else "none")
    ratio = g.get("ratio")
    rtext = "-" if g.get("baseline") else ("n/a" if ratio is None else f"{ratio:.2f}x")
    if not g.get("baseline") and g.get("ratio_bound") not in (None, "exact"):
        rtext += f" ({g['ratio_bound']})"
    print(f"| {groups[i]} | {rate} | {rtext} | {steps} |")
print(f"\nheadline: {s.get('headline', '-')}")
PY
cat "$OUT"
for f in "$work"/*.txt; do cp "$f" "$(dirname "$OUT")/compare-$(basename "$f")"; done
for g in $GROUPS_LIST; do cp "$work/sweep/$g/sweep.json" "$(dirname "$OUT")/sweep-$g.json" 2>/dev/null || true; done
