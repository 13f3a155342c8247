#!/usr/bin/env bash
# bench-runner-capacity.sh: the highest rate one runner core sustains with schedule lag p99
# under 1 ms, and what rbench costs per invocation there against the floor, in the same run.
#
# rbench is pinned to one core (taskset, RUNNER_CPU, default the last one), fakewhisk (the
# OpenWhisk controller double, action "ok": a fixed activation record, no work) to another
# (SERVER_CPU, default 0), as tools/bench/bench-runner.sh sets them up otherwise. For each rate of a
# ladder, REPS rounds over the whole ladder (interleaved, so that a busy minute of the shared
# machine hits every rate alike; medians quoted):
#   rbench run for DURATION s at that rate: achieved rate, lag p50/p99 (schedule_lag_ms),
#     sends held by --max-in-flight, runner CPU per invocation with start-up taken out
#     (getrusage of the process minus a run of 1 invocation) and the share of the core it
#     used (CPU time / wall time of the run);
#   bench_http_floor pinned to the same core at the same rate for FLOOR_DURATION s: the same
#     request and the same two wake-ups per invocation over a raw socket, nothing else.
# A rate is held when the median achieved rate is at least 99% of the requested one and the
# median lag p99 is under 1 ms. Prints a Markdown table, the highest rate held and the shards
# a few total rates need at that rate per shard (one core each). BASELINE=/path/to/other/rbench
# runs another build too, right after this one's run at each rate, against the same fakewhisk
# and pinned the same way, and adds its lag p99 and CPU per invocation as columns.
#
# Usage: tools/bench/bench-runner-capacity.sh                        (build/release, built when missing)
#   RATES="2000 4000 8000" DURATION=5 REPS=3 FLOOR_DURATION=2 tools/bench/bench-runner-capacity.sh
#   RBENCH_ARGS="--realtime" tools/bench/bench-runner-capacity.sh     (extra rbench run flags)
#   BUILD=/path/to/other/build tools/bench/bench-runner-capacity.sh
#   BASELINE=build/main/job/rbench tools/bench/bench-runner-capacity.sh   (main's build alongside)
# Run it under the shared benchmark lock: flock /tmp/rbench-bench.lock tools/bench/bench-runner-capacity.sh
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-runner-capacity 0 "$@"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$here/build/release}
rates=${RATES:-2000 4000 6000 8000 10000 12000 14000 16000 20000}
duration=${DURATION:-5}
reps=${REPS:-3}
floor_duration=${FLOOR_DURATION:-2}
ncpu=$(nproc)
runner_cpu=${RUNNER_CPU:-$((ncpu - 1))}
server_cpu=${SERVER_CPU:-0}
baseline=${BASELINE:-}
if [ ! -x "$build/job/rbench" ] || [ ! -x "$build/tests/fakewhisk" ] ||
   [ ! -x "$build/tools/bench/bench_http_floor" ]; then
  cmake --preset release >/dev/null && cmake --build "$build" -j2 >/dev/null
fi
command -v taskset >/dev/null || { echo "bench-runner-capacity: taskset is missing (util-linux)" >&2; exit 2; }
# shellcheck source=tools/lib/lib.sh
. "$here/tools/lib/lib.sh"
trap rb_cleanup EXIT INT TERM
rb_tmp=$(mktemp -d /tmp/rbench-capacity-XXXXXX)
work=$rb_tmp
rb_start_fakewhisk "$build" "$work"
port=$rb_fakewhisk_port
taskset -a -p -c "$server_cpu" "${rb_pids[-1]}" >/dev/null

# one_run RATE INVOCATIONS OUT [EXE]: rbench (this build's, or EXE) pinned to the runner core;
# prints "cpu_s wall_s"
one_run() {
  python3 - "${4:-$build/job/rbench}" "$work/bench.env" "$1" "$2" "$3" "$runner_cpu" <<'PY'
import os, resource, shlex, subprocess, sys, time
exe, env, rate, n, out, cpu = sys.argv[1:]
extra = shlex.split(os.environ.get("RBENCH_ARGS", ""))
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.monotonic()
subprocess.run(["taskset", "-c", cpu, exe, "run", "--target", "openwhisk", "--action", "pkg/ok",
                "--env", env, "--rate", rate, "--invocations", n, "--max-in-flight", "500",
                "--output", out, "--progress", "off"] + extra, stderr=subprocess.DEVNULL, check=True)
wall = time.monotonic() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.6f %.6f" % ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall))
PY
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git -C "$here" rev-parse --short HEAD);" \
     "rbench on CPU $runner_cpu, fakewhisk on CPU $server_cpu${RBENCH_ARGS:+; rbench flags: $RBENCH_ARGS}"
startups=()
for _ in 1 2 3; do
  read -r cpu _ < <(one_run 100 1 "$work/one.json")
  startups+=("$cpu")
done
median() { python3 -c "
import sys, statistics as s
print(s.median(float(l) for l in sys.stdin if l.strip()))"; }
startup=$(printf '%s\n' "${startups[@]}" | median)
echo "start-up (a run of 1 invocation, median of 3): $(python3 -c "print('%.1f' % ($startup * 1000))") ms CPU"
base_startup=0
if [ -n "$baseline" ]; then
  startups=()
  for _ in 1 2 3; do
    read -r cpu _ < <(one_run 100 1 "$work/one.json" "$baseline")
    startups+=("$cpu")
  done
  base_startup=$(printf '%s\n' "${startups[@]}" | median)
  echo "baseline $baseline: start-up $(python3 -c "print('%.1f' % ($base_startup * 1000))") ms CPU"
fi

# Rounds over the whole ladder; one line per run in $work/rows: rate, then the figures.
: >"$work/rows"
for _ in $(seq 1 "$reps"); do
  for rate in $rates; do
    n=$(python3 -c "print(int($rate * $duration))")
    nf=$(python3 -c "print(int($rate * $floor_duration))")
    read -r cpu wall < <(one_run "$rate" "$n" "$work/r.json")
    read -r _ _ floor < <(taskset -c "$runner_cpu" "$build/tools/bench/bench_http_floor" "$port" "$rate" "$nf" bench:key)
    bcpu=-1
    if [ -n "$baseline" ]; then
      read -r bcpu _ < <(one_run "$rate" "$n" "$work/b.json" "$baseline")
    else
      cp "$work/r.json" "$work/b.json"
    fi
    python3 - "$work/r.json" "$work/b.json" "$rate" "$cpu" "$wall" "$n" "$startup" "$floor" \
      "$bcpu" "$base_startup" >>"$work/rows" <<'PY'
import json, sys
d, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
rate, cpu, wall, n, startup, floor, bcpu, bstartup = (float(x) for x in sys.argv[3:])
lag = d["schedule_lag_ms"]
print(int(rate), d["achieved_rate"], lag["p50"] * 1000, lag["p99"] * 1000,
      max(cpu - startup, 0) * 1e6 / n, 100 * cpu / wall, floor, d["held_by_max_in_flight"],
      b["schedule_lag_ms"]["p99"] * 1000 if bcpu >= 0 else -1,
      max(bcpu - bstartup, 0) * 1e6 / n if bcpu >= 0 else -1)
PY
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$work/rows" "$reps" <<'PY'
import math, statistics as st, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(int(f[0]), []).append([float(x) for x in f[1:]])
base = any(r[8] >= 0 for runs in rows.values() for r in runs)
print("| requested /s | achieved /s | lag p50 (µs) | lag p99 (µs) | lag p99 of each run (µs) "
      "| CPU µs / invocation (start-up out) | runner core busy | floor µs / invocation | against the floor "
      "| held | lag p99 < 1 ms |" + (" baseline lag p99 (µs) | baseline CPU µs / invocation | baseline against the floor |" if base else ""))
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|" + ("---:|---:|---:|" if base else ""))
best = None
for rate in sorted(rows):
    runs = rows[rate]
    med = [st.median(c) for c in zip(*runs)]
    ach, p50, p99, cpu, busy, floor, held, bp99, bcpu = med
    holds = ach >= 0.99 * rate and p99 < 1000
    if holds and (best is None or rate > best[0]):
        best = (rate, cpu, floor)
    each = " / ".join("%.0f" % r[2] for r in runs)
    extra = (" %.0f | %.1f | %.2fx |" % (bp99, bcpu, bcpu / floor if floor > 0 else 0)) if base else ""
    print("| %d | %.0f | %.0f | %.0f | %s | %.1f | %.0f%% | %.1f | %.2fx | %.0f | %s |" %
          (rate, ach, p50, p99, each, cpu, busy, floor, cpu / floor if floor > 0 else 0, held,
           "yes" if holds else "no") + extra)
print()
if best is None:
    print("no rate of the ladder held lag p99 < 1 ms on one core")
    sys.exit(0)
rate, cpu, floor = best
print("highest rate held on one runner core: %d/s (CPU %.1f µs per invocation there, "
      "%.2fx the floor's %.1f µs)" % (rate, cpu, cpu / floor, floor))
print()
print("| total rate R | shards needed (one core each, at most %d/s per shard) |" % rate)
print("|---:|---:|")
for r in (1000, 10000, 50000, 100000, 500000):
    print("| %d | %d |" % (r, math.ceil(r / rate)))
PY
