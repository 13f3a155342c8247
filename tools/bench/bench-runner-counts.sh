#!/usr/bin/env bash
# bench-runner-counts.sh: what one invocation of `rbench run` costs in counts that do not
# depend on the machine's load: user-space instructions, system calls, context switches
# and heap allocations, against fakewhisk (the test double of the OpenWhisk controller,
# action "ok": a fixed activation record, no work), the same setup as tools/bench/bench-runner.sh.
#
# Every count is per invocation with start-up taken out: (count of a run of N invocations
# - count of a run of 1) / (N - 1). Tools (root, or perf_event_paranoid <= 1 and uprobes):
#   instructions   valgrind --tool=callgrind (Ir), N=401 at 200/s; "of which libcurl" is
#                  the inclusive cost of curl_multi_socket_action (callgrind_annotate)
#   system calls   perf trace -s, N=5001 at 1,000/s, each call by name
#   wake-ups       voluntary context switches (getrusage ru_nvcsw, the same counter as
#                  voluntary_ctxt_switches in /proc/PID/status), N=5001 at 1,000/s, no tracer
#   allocations    uprobes on libc's malloc, calloc and realloc (perf probe, removed at
#                  the end) counted by perf stat, N=2001 at 1,000/s
# Prints a Markdown table. BASELINE=/path/to/other/rbench adds a column for another build
# (e.g. main's), measured in the same run against the same fakewhisk.
#
# Usage: tools/bench/bench-runner-counts.sh                 (build/release, built when missing)
#   CG_N=101 SYS_N=1001 ALLOC_N=501 tools/bench/bench-runner-counts.sh   (shorter runs)
#   BASELINE=build/main/job/rbench tools/bench/bench-runner-counts.sh
# Run it under the shared benchmark lock: flock /tmp/rbench-bench.lock tools/bench/bench-runner-counts.sh
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-runner-counts 0 "$@"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$here/build/release}
baseline=${BASELINE:-}
if [ ! -x "$build/job/rbench" ] || [ ! -x "$build/tests/fakewhisk" ]; then
  cmake --preset release >/dev/null && cmake --build "$build" -j2 >/dev/null
fi
for tool in perf valgrind callgrind_annotate python3; do
  command -v "$tool" >/dev/null || { echo "bench-runner-counts: $tool is missing (tools/install-deps.sh)" >&2; exit 2; }
done
libc=$(ldd "$build/job/rbench" | awk '$1 ~ /^libc\.so/ {print $3}')
[ -n "$libc" ] || { echo "bench-runner-counts: cannot find rbench's libc" >&2; exit 2; }

# shellcheck source=tools/lib/lib.sh
. "$here/tools/lib/lib.sh"
probes=()
cleanup() {
  local p
  for p in "${probes[@]}"; do perf probe -q -d "probe_libc:$p" 2>/dev/null || true; done
  rb_cleanup
}
trap cleanup EXIT INT TERM
rb_tmp=$(mktemp -d /tmp/rbench-counts-XXXXXX)
work=$rb_tmp
rb_start_fakewhisk "$build" "$work"

# Our own probe names, so that nobody else's probes are touched.
tag=rbcnt$$
for fn in malloc calloc realloc; do
  perf probe -q -x "$libc" --add "${tag}_$fn=$fn" >/dev/null
  probes+=("${tag}_$fn")
done

# args EXE RATE N: the rbench command line (the same flags as tools/bench/bench-runner.sh)
args() {
  echo "$1" run --target openwhisk --action pkg/ok --env "$work/bench.env" --rate "$2" \
    --invocations "$3" --max-in-flight 500 --output "$work/r.json" --progress off --log-level error
}

# Each measure prints "name value" lines for one run.
m_callgrind() { # EXE RATE N
  # shellcheck disable=SC2046
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" $(args "$@") 2>/dev/null
  callgrind_annotate --inclusive=yes --threshold=100 "$work/cg.out" 2>/dev/null |
    python3 -c '
import re, sys
total = libcurl = 0
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+) .*PROGRAM TOTALS", line)
    if m: total = int(m.group(1).replace(",", ""))
    m = re.match(r"\s*([\d,]+) .*\bcurl_multi_socket_action\b", line)
    if m and not libcurl: libcurl = int(m.group(1).replace(",", ""))
print("instructions", total)
print("instructions_libcurl", libcurl)'
}

m_syscalls() { # EXE RATE N
  # shellcheck disable=SC2046
  perf trace -s -o "$work/trace.txt" -- $(args "$@") >/dev/null 2>&1
  python3 - "$work/trace.txt" <<'PY'
import re, sys
counts = {}
table = False
for line in open(sys.argv[1]):
    if re.match(r"\s*-{5,}", line):
        table = True
        continue
    m = re.match(r"\s+([a-z_0-9]+)\s+(\d+)\s+\d+\s+[\d.]+", line)
    if table and m:
        counts[m.group(1)] = counts.get(m.group(1), 0) + int(m.group(2))
    elif not line.strip():
        table = False
print("syscalls", sum(counts.values()))
for k, v in counts.items():
    print("sys_" + k, v)
PY
}

m_rusage() { # EXE RATE N
  # shellcheck disable=SC2046
  python3 - $(args "$@") <<'PY'
import resource, subprocess, sys
before = resource.getrusage(resource.RUSAGE_CHILDREN)
subprocess.run(sys.argv[1:], check=True)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
print("wakeups", after.ru_nvcsw - before.ru_nvcsw)
print("preempted", after.ru_nivcsw - before.ru_nivcsw)
PY
}

m_allocs() { # EXE RATE N
  local ev
  ev=$(printf 'probe_libc:%s,' "${probes[@]}")
  # shellcheck disable=SC2046
  perf stat -x, -e "${ev%,}" -o "$work/stat.txt" -- $(args "$@") >/dev/null 2>&1
  python3 - "$work/stat.txt" <<'PY'
import sys
total = 0
for line in open(sys.argv[1]):
    f = line.strip().split(",")
    if len(f) > 2 and f[2].startswith("probe_libc:"):
        name = f[2].split("_")[-1]
        print("alloc_" + name, int(f[0]))
        total += int(f[0])
print("allocs", total)
PY
}

# per_invocation MEASURE EXE RATE N: prints "name per-invocation" lines
per_invocation() {
  local m=$1 exe=$2 rate=$3 n=$4
  "$m" "$exe" "$rate" 1 >"$work/one.txt"
  "$m" "$exe" "$rate" "$n" >"$work/many.txt"
  python3 - "$work/one.txt" "$work/many.txt" "$n" <<'PY'
import sys
def load(p):
    return {l.split()[0]: float(l.split()[1]) for l in open(p) if l.strip()}
one, many, n = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
for k in many:
    print(k, (many[k] - one.get(k, 0)) / (n - 1))
PY
}

measure_all() { # EXE OUT
  {
    per_invocation m_callgrind "$1" 200 "${CG_N:-401}"
    per_invocation m_syscalls "$1" 1000 "${SYS_N:-5001}"
    per_invocation m_rusage "$1" 1000 "${SYS_N:-5001}"
    per_invocation m_allocs "$1" 1000 "${ALLOC_N:-2001}"
  } >"$2"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git -C "$here" rev-parse --short HEAD)"
measure_all "$build/job/rbench" "$work/this.txt"
cols=("this build ($(git -C "$here" rev-parse --short HEAD))")
files=("$work/this.txt")
if [ -n "$baseline" ]; then
  measure_all "$baseline" "$work/base.txt"
  cols=("baseline ($baseline)" "${cols[@]}")
  files=("$work/base.txt" "${files[@]}")
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "${#cols[@]}" "${cols[@]}" "${files[@]}" <<'PY'
import os, sys
cg, sy, al = (int(os.environ.get(v, d)) for v, d in (("CG_N", 401), ("SYS_N", 5001), ("ALLOC_N", 2001)))
k = int(sys.argv[1])
cols, files = sys.argv[2:2 + k], sys.argv[2 + k:]
data = [{l.split()[0]: float(l.split()[1]) for l in open(f) if l.strip()} for f in files]
def get(d, *keys):
    return sum(d.get(x, 0.0) for x in keys)
rows = [
    ("user-space instructions (callgrind, %d - 1 invocations at 200/s)" % cg, ("instructions",), "{:,.0f}", 1000),
    ("of which libcurl (`curl_multi_socket_action` and below)", ("instructions_libcurl",), "{:,.0f}", 1000),
    ("system calls (`perf trace -s`, %d - 1 invocations at 1,000/s)" % sy, ("syscalls",), "{:.2f}", None),
]
syscalls = sorted({x[4:] for d in data for x in d if x.startswith("sys_")},
                  key=lambda s: -max(d.get("sys_" + s, 0) for d in data))
for s in syscalls:
    if max(d.get("sys_" + s, 0) for d in data) >= 0.005:
        rows.append(("- " + s, ("sys_" + s,), "{:.2f}", None))
rows += [
    ("voluntary context switches (wake-ups; %d - 1 at 1,000/s, no tracer)" % sy, ("wakeups",), "{:.2f}", None),
    ("involuntary context switches (preempted)", ("preempted",), "{:.2f}", None),
    ("malloc + calloc + realloc calls (uprobes, %d - 1 at 1,000/s)" % al, ("allocs",), "{:.1f}", None),
    ("- malloc / calloc / realloc", None, None, None),
]
print("| per invocation | " + " | ".join(cols) + " |")
print("|---|" + "---:|" * len(cols))
for name, keys, fmt, rnd in rows:
    cells = []
    for d in data:
        if keys is None:
            cells.append(" / ".join("%.1f" % d.get("alloc_" + a, 0) for a in ("malloc", "calloc", "realloc")))
            continue
        v = get(d, *keys)
        if rnd: v = round(v / rnd) * rnd
        cells.append(fmt.format(v))
    print("| " + name + " | " + " | ".join(cells) + " |")
PY
