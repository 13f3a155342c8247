#!/usr/bin/env bash
# bench-runner-shards.sh: N shards at rate R/N together hold rate R with the same lag as one
# runner at R (where one runner can), on this machine, against fakewhisk (the OpenWhisk
# controller double, action "ok": a fixed activation record, no work).
#
# For each round (REPS, interleaved so that a busy minute of the shared machine hits every N
# alike; medians quoted), one runner at RATE for DURATION s, then for each N of SHARDS the N
# processes `rbench run --shard I/N --start-at T` of the same schedule (same --rate and
# --invocations: shard I sends invocations k with k mod N == I at their unsharded intended
# times, i.e. RATE/N each), T a moment START_DELAY s (4) ahead that every shard is given. The
# shards' raw records are pooled: lag p50/p99 over every send (sent_ms - intended_ms, both
# counted from the agreed start_time_ms), the achieved rate over the union of sends
# ((sends - 1) / (last send - first send)), the invocation count against the schedule's, and
# each shard's runner CPU per invocation (getrusage; start-up included). Prints a Markdown table.
#
# Usage: tools/bench/bench-runner-shards.sh                 (build/release, built when missing)
#   RATE=10000 SHARDS="2 3 4" DURATION=5 REPS=3 tools/bench/bench-runner-shards.sh
#   RBENCH_ARGS="--realtime" tools/bench/bench-runner-shards.sh       (extra rbench run flags)
# Run it under the shared benchmark lock: flock /tmp/rbench-bench.lock tools/bench/bench-runner-shards.sh
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-runner-shards 0 "$@"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$here/build/release}
rate=${RATE:-10000}
shards=${SHARDS:-2 3 4}
duration=${DURATION:-5}
reps=${REPS:-3}
start_delay=${START_DELAY:-4}  # the runners check their clock (about 1 s) before they wait
if [ ! -x "$build/job/rbench" ] || [ ! -x "$build/tests/fakewhisk" ]; then
  cmake --preset release >/dev/null && cmake --build "$build" -j2 >/dev/null
fi
if ! "$build/job/rbench" run --help 2>&1 | grep -q -- '--shard'; then
  echo "bench-runner-shards: $build/job/rbench has no --shard (docs/runner.md)" >&2
  exit 2
fi
# shellcheck source=tools/lib/lib.sh
. "$here/tools/lib/lib.sh"
trap rb_cleanup EXIT INT TERM
rb_tmp=$(mktemp -d /tmp/rbench-shards-XXXXXX)
work=$rb_tmp
rb_start_fakewhisk "$build" "$work"
n=$(python3 -c "print(int($rate * $duration))")

# run_shards N TAG: N shard processes of one schedule (N = 1: one unsharded runner); writes
# $work/TAG-I.json and, per shard, "cpu_s" lines in $work/TAG.cpu
run_shards() {
  python3 - "$build/job/rbench" "$work/bench.env" "$rate" "$n" "$1" "$work/$2" "$start_delay" <<'PY'
import os, resource, shlex, subprocess, sys, time
exe, env, rate, n, count, out, delay = sys.argv[1:]
count, extra = int(count), shlex.split(os.environ.get("RBENCH_ARGS", ""))
base = [exe, "run", "--target", "openwhisk", "--action", "pkg/ok", "--env", env, "--rate", rate,
        "--invocations", n, "--max-in-flight", "500", "--progress", "off"] + extra
start = "%.3f" % (time.time() + float(delay))
procs = []
for i in range(count):
    shard = ["--shard", "%d/%d" % (i, count), "--start-at", start] if count > 1 else []
    procs.append(subprocess.Popen(base + shard + ["--output", "%s-%d.json" % (out, i)],
                                  stderr=subprocess.DEVNULL))
with open(out + ".cpu", "w") as f:
    for p in procs:
        _, status, ru = os.wait4(p.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit("bench-runner-shards: a shard failed (exit %d)" % os.waitstatus_to_exitcode(status))
        f.write("%.6f\n" % (ru.ru_utime + ru.ru_stime))
PY
}

# pool TAG N: one line "N achieved p50_us p99_us sent planned cpu_us_per_inv" for the run
pool() {
  python3 - "$work/$1" "$2" "$n" <<'PY'
import json, math, sys
out, count, planned = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lags, sends, seen = [], [], set()
for i in range(count):
    # a shard's --output x.json is written as x.shard-I-of-N.json (docs/runner.md)
    name = "%s-%d.shard-%d-of-%d.json" % (out, i, i, count) if count > 1 else "%s-%d.json" % (out, i)
    d = json.load(open(name))
    for r in d["raw_results"]:
        if r.get("sent_ms") is None:
            continue
        if r["index"] in seen:
            sys.exit("bench-runner-shards: invocation %d sent by two shards" % r["index"])
        seen.add(r["index"])
        lags.append(r["sent_ms"] - r["intended_ms"])
        sends.append(r["sent_ms"])
lags.sort()
def pct(p):  # nearest rank, as rbench's summaries
    return lags[max(0, math.ceil(p / 100 * len(lags)) - 1)]
span = (max(sends) - min(sends)) / 1000
cpu = sum(float(l) for l in open(out + ".cpu")) * 1e6 / planned
print(count, (len(sends) - 1) / span if span > 0 else 0, pct(50) * 1000, pct(99) * 1000,
      len(sends), planned, cpu)
PY
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git -C "$here" rev-parse --short HEAD);" \
     "rate $rate/s, $n invocations per run${RBENCH_ARGS:+; rbench flags: $RBENCH_ARGS}"
: >"$work/rows"
for rep in $(seq 1 "$reps"); do
  for count in 1 $shards; do
    run_shards "$count" "r$rep-n$count"
    pool "r$rep-n$count" "$count" >>"$work/rows"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$work/rows" "$rate" <<'PY'
import statistics as st, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(int(f[0]), []).append([float(x) for x in f[1:]])
rate = float(sys.argv[2])
print("| runners | rate each (/s) | achieved together (/s) | lag p50 (µs) | lag p99 (µs) "
      "| lag p99 of each run (µs) | sent / planned | runner CPU µs / invocation (all shards) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for count in sorted(rows):
    runs = rows[count]
    ach, p50, p99, sent, planned, cpu = (st.median(c) for c in zip(*runs))
    each = " / ".join("%.0f" % r[2] for r in runs)
    print("| %s | %.0f | %.0f | %.0f | %.0f | %s | %.0f / %.0f | %.1f |" %
          ("1 (unsharded)" if count == 1 else "%d shards" % count, rate / count, ach, p50, p99,
           each, sent, planned, cpu))
PY
