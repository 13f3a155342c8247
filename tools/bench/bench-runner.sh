#!/usr/bin/env bash
# bench-runner.sh: how well rbench itself keeps an open-loop schedule.
#
# Against a trivially fast loopback endpoint (fakewhisk, the test double of the OpenWhisk
# controller, action "ok": a fixed activation record, no work) it measures, for each rate:
#   achieved vs requested rate, schedule lag p50/p99 (send time - intended time),
#   runner CPU per invocation (user+system time of the rbench process / invocations),
# each run REPS times (median quoted), then peak RSS of one run of 1,000,000 invocations
# with raw records streamed to disk. Prints a Markdown table for docs/benchmarks.md.
#
# Two references make the CPU figure readable on a given machine:
#   start-up: the CPU of a run of 1 invocation (process start, library loading, preflight,
#     results document), taken out of the per-invocation figure in its own column;
#   floor: bench_http_floor's CPU per invocation at the same rate (the same request and
#     wake-ups over a raw socket, nothing else: what the kernel and the machine cost), run
#     for FLOOR_DURATION seconds after each rbench run; "blocking": its leanest variant
#     (clock_nanosleep, blocking send and recv, no epoll), run right after it.
# The lag p99 of every run is listed too: a median of 3 hides a run that went wrong.
#
# Usage: tools/bench/bench-runner.sh                  (build/release, built when missing)
#   RBENCH_ARGS="--realtime" tools/bench/bench-runner.sh   (extra rbench run flags)
#   BUILD=/path/to/other/build tools/bench/bench-runner.sh  (another build's rbench, fakewhisk, floor)
#   RATES="100 1000 5000" DURATION=10 REPS=3 MILLION=1 tools/bench/bench-runner.sh
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-runner 0 "$@"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$here/build/release}
rates=${RATES:-100 1000 2000 5000}
duration=${DURATION:-10}
reps=${REPS:-3}
million=${MILLION:-1}
floor_duration=${FLOOR_DURATION:-3}
if [ ! -x "$build/job/rbench" ] || [ ! -x "$build/tests/fakewhisk" ] ||
   [ ! -x "$build/tools/bench/bench_http_floor" ]; then
  cmake --preset release >/dev/null && cmake --build "$build" -j2 >/dev/null
fi
# shellcheck source=tools/lib/lib.sh
. "$here/tools/lib/lib.sh"
trap rb_cleanup EXIT INT TERM
rb_tmp=$(mktemp -d /tmp/rbench-bench-XXXXXX)
work=$rb_tmp
rb_start_fakewhisk "$build" "$work"
port=$rb_fakewhisk_port

# one_run RATE INVOCATIONS OUT: runs rbench, prints "cpu_s maxrss_kb" (user + system time
# and peak RSS of the rbench process, from getrusage: microsecond resolution)
one_run() {
  python3 - "$build/job/rbench" "$work/bench.env" "$1" "$2" "$3" <<'PY'
import resource, subprocess, sys
import os, shlex
exe, env, rate, n, out = sys.argv[1:]
extra = shlex.split(os.environ.get("RBENCH_ARGS", ""))
before = resource.getrusage(resource.RUSAGE_CHILDREN)
subprocess.run([exe, "run", "--target", "openwhisk", "--action", "pkg/ok", "--env", env,
                "--rate", rate, "--invocations", n, "--max-in-flight", "500", "--output", out,
                "--progress", "off"] + extra, stderr=subprocess.DEVNULL, check=True)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print("%.6f %d" % (cpu, after.ru_maxrss))
PY
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git -C "$here" rev-parse --short HEAD)${RBENCH_ARGS:+; rbench flags: $RBENCH_ARGS}"
startups=()
for _ in 1 2 3; do
  read -r cpu _ < <(one_run 100 1 "$work/one.json")
  startups+=("$cpu")
done
startup=$(printf '%s\n' "${startups[@]}" | python3 -c "
import sys, statistics as s
print(s.median(float(l) for l in sys.stdin if l.strip()))")
echo "start-up (a run of 1 invocation, median of 3): $(python3 -c "print('%.1f' % ($startup * 1000))") ms CPU"
echo
echo "| requested /s | achieved /s | lag p50 (µs) | lag p99 (µs) | lag p99 of each run (µs) | CPU µs / invocation | without start-up | floor µs / invocation | floor, blocking | late starts | held | connections opened during the run | runs |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for rate in $rates; do
  n=$(python3 -c "print(int($rate * $duration))")
  nf=$(python3 -c "print(int($rate * $floor_duration))")
  rows=()
  for _ in $(seq 1 "$reps"); do
    read -r cpu _ < <(one_run "$rate" "$n" "$work/r.json")
    read -r _ _ floor < <("$build/tools/bench/bench_http_floor" "$port" "$rate" "$nf" bench:key)
    lean=-1
    if "$build/tools/bench/bench_http_floor" --blocking "$port" "$rate" 1 bench:key >/dev/null 2>&1; then
      read -r _ _ lean < <("$build/tools/bench/bench_http_floor" --blocking "$port" "$rate" "$nf" bench:key)
    fi
    rows+=("$(python3 - "$work/r.json" "$cpu" "$n" "$startup" "$floor" "$lean" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
lag = d["schedule_lag_ms"]
cpu, n, startup = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
print(d["achieved_rate"], lag["p50"] * 1000, lag["p99"] * 1000, cpu * 1e6 / n,
      max(cpu - startup, 0) * 1e6 / n, sys.argv[5], sys.argv[6], d["late_starts"],
      d["held_by_max_in_flight"],
      d.get("connections", {}).get("opened_during_run", -1))  # -1: a build that does not count them
PY
)")
  done
  printf '%s\n' "${rows[@]}" | python3 -c "
import sys, statistics as s
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = [s.median(c) for c in zip(*rows)]
each = ' / '.join('%.0f' % r[2] for r in rows)
lean = '%.1f' % med[6] if med[6] >= 0 else '—'
conn = '%.0f' % med[9] if med[9] >= 0 else '—'
print('| $rate | %.1f | %.0f | %.0f | ' % tuple(med[:3]) + each + ' | %.1f | %.1f | %.1f | ' % tuple(med[3:6]) +
      lean + ' | %.0f | %.0f | ' % tuple(med[7:9]) + conn + ' | %d (median) |' % len(rows))"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$million" = 1 ]; then
  read -r cpu rss < <(one_run 20000 1000000 "$work/million.json")
  size=$(stat -c %s "$work/million.json")
  echo
  echo "1,000,000 invocations requested at 20000/s: peak RSS $((rss / 1024)) MB," \
       "CPU $(python3 -c "print('%.1f' % ($cpu * 1e6 / 1e6))") µs per invocation," \
       "results file $((size / 1024 / 1024)) MB, achieved" \
       "$(python3 -c "import json; print('%.0f' % json.load(open('$work/million.json'))['achieved_rate'])")/s"
fi
