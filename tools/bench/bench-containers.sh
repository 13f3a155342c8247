#!/usr/bin/env bash
# bench-containers.sh: the local target's action instances as processes (action_runtime
# process) against runc containers of the same rbench-action (action_runtime container), in
# one run: the cold start (rbench's action_runtime.starts: spawn or container create until the
# first /init is answered; and init_time_ms, the /init alone) and the warm /run round trip
# (duration_ms of the warm activations, num_ops=1 SET). Prints a markdown report with medians
# and container/process ratios; docs/benchmarks.md quotes it.
# Usage: tools/bench/bench-containers.sh [REPETITIONS]   (default 10)
# Needs root, runc, skopeo and umoci. Each repetition runs both modes, alternating which goes
# first: one run each of 500 invocations at 100/s with one worker (its first activation is the
# cold start, the other 499 are warm). The image is built from the release rbench-action with
# tools/lib/make-oci-image.sh (an OCI layout, as the tests make theirs), so both modes run
# the same binary. Everything runs on loopback; what it starts is stopped when it exits.
# Run it under flock /tmp/rbench-bench.lock on a shared machine.
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-containers 1 "$@"
cd "$(dirname "$0")/../.."
reps=${1:-10}
case "$reps" in '' | *[!0-9]* | 0) rb_usage_error bench-containers "REPETITIONS must be a positive integer, not '$reps'" ;; esac
[ "$(id -u)" = 0 ] || { echo "bench-containers: needs root (runc)" >&2; exit 2; }
for t in runc skopeo umoci redis-server python3; do
  command -v "$t" >/dev/null || { echo "bench-containers: $t not installed (tools/install-deps.sh)" >&2; exit 2; }
done

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target rbench rbench-action >/dev/null
rbench=build/release/job/rbench
action=build/release/action/rbench-action

# shellcheck source=tools/lib/lib.sh
. tools/lib/lib.sh
trap rb_cleanup EXIT INT TERM
rb_start_redis
tmp=$rb_tmp
chmod 755 "$tmp"
mkdir -m 1777 "$tmp/t"
tools/lib/make-oci-image.sh "$tmp/layout" bench /rbench-action "$action"
printf 'REDIS_HOST=127.0.0.1\nREDIS_PORT=%s\n' "$rb_redis_port" >"$tmp/local.env"

one() { # MODE REP: one run; its document in $tmp/MODE.REP.json
  local extra=()
  if [ "$1" = container ]; then extra=(--action-runtime container --action-image "oci:$tmp/layout:bench"); fi
  TMPDIR="$tmp/t" "$rbench" run --target local --env "$tmp/local.env" --progress off \
    --rate 100 --invocations 500 --ops 1 --operation set --pool-size 1 "${extra[@]}" \
    --output "$tmp/$1.$2.json" 2>"$tmp/$1.$2.log" || { cat "$tmp/$1.$2.log" >&2; exit 1; }
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$reps"); do
  if [ $((r % 2)) = 1 ]; then one process "$r"; one container "$r"; else one container "$r"; one process "$r"; fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "### Containers on the local target"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $load_before before, $load_after after, rbench $(git rev-parse --short HEAD), $(runc --version | head -1)"
echo
echo "Command: \`tools/bench/bench-containers.sh $reps\`"
echo
python3 - "$tmp" "$reps" <<'EOF'
import json, statistics, sys
tmp, reps = sys.argv[1], int(sys.argv[2])
fig = {m: {"start": [], "init": [], "warm": [], "failed": 0} for m in ("process", "container")}
for m in fig:
    for r in range(1, reps + 1):
        d = json.load(open(f"{tmp}/{m}.{r}.json"))
        st = d["action_runtime"]["starts"]
        fig[m]["start"].append(st["p50_ms"])
        recs = d["raw_results"]
        fig[m]["init"] += [x["init_time_ms"] for x in recs if x.get("cold_start") and x.get("init_time_ms") is not None]
        # per run: the median warm /run round trip (an activation on an already initialised worker)
        fig[m]["warm"].append(statistics.median(x["duration_ms"] for x in recs if x.get("success") and not x.get("cold_start")))
        fig[m]["failed"] += d["invocations"]["failed"]
med = lambda v: statistics.median(v) if v else float("nan")
p, c = fig["process"], fig["container"]
print(f"{reps} interleaved repetitions; each a run of 500 activations (num_ops=1 SET, 100/s, one worker) per mode; failed activations: process {p['failed']}, container {c['failed']}.")
print()
print("| figure (median over the repetitions) | process | container | container / process |")
print("|---|---:|---:|---:|")
rows = [
    ("cold start: spawn / container create until the first `/init` is answered (`action_runtime.starts`)", "start", 1, "ms"),
    ("of which the `/init` request itself (`init_time_ms`)", "init", 1, "ms"),
    ("warm `/run` round trip (`duration_ms`, per-run median)", "warm", 1000, "µs"),
]
for name, k, scale, unit in rows:
    a, b = med(p[k]) * scale, med(c[k]) * scale
    fmt = (lambda v: f"{v:.2f} {unit}") if unit == "ms" else (lambda v: f"{v:.0f} {unit}")
    print(f"| {name} | {fmt(a)} | {fmt(b)} | **{b / a:.2f}x** |")
print()
print("Cold starts, every repetition (ms): process " + ", ".join(f"{v:.1f}" for v in p["start"]) +
      "; container " + ", ".join(f"{v:.1f}" for v in c["start"]))
EOF
