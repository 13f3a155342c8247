#!/usr/bin/env bash
# bench-agent.sh: redis-benchmark against redis-server directly, through rbench-agent (with
# and without --coalesce) and through nutcracker (twemproxy), interleaved, REPS repetitions,
# all in one run. Reports req/s, p50, p99, Redis CPU us/request (INFO cpu deltas) and proxy
# CPU us/request (/proc/<pid>/stat) as a markdown table.
#
# Usage: tools/bench/bench-agent.sh [OUT.md]        (default: build/bench-agent/results.md)
#   env: REPS=3 N=200000 AGENT=build/release/agent/rbench-agent CONFIGS="c50_P1 c200_P1 c500_P1 c50_P16"
#        TARGETS="direct agent agent_coalesce nutcracker" AGENT_ARGS="" (extra agent flags)
#        BASELINE=path/to/an/older/rbench-agent: adds target "baseline" (that binary, default
#        flags) to compare two agent versions in one run
#        VARIANT_ARGS="--nap-us 0": adds target "variant" (the same agent binary with these flags
#        instead of AGENT_ARGS) to compare two settings in one run
#        CLIENT_ARGS="--threads 2": extra redis-benchmark flags (default none: one client thread)
#        CLIENT_CPUS=0 SERVER_CPUS=1: pin redis-benchmark, and every server (Redis, the agents,
#        nutcracker), to these CPUs with taskset (default: no pinning, the scheduler decides)
# The benchmark client's own CPU per request and its utilisation (CPU time / elapsed time; 1.00
# is one core kept busy) are reported too: a client near 1.00 is the limit of the throughput.
# So are the agents' commands per batch written to Redis (from their --metrics endpoint).
# Everything listens on 127.0.0.1 only; every server started here is stopped on exit.
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/../lib/args.sh"
rb_args_positional bench-agent 1 "$@"
cd "$(dirname "$0")/../.."
OUT="${1:-build/bench-agent/results.md}"
REPS="${REPS:-3}"
N="${N:-200000}"
CONFIGS="${CONFIGS:-c50_P1 c200_P1 c500_P1 c50_P16}"
TARGETS="${TARGETS:-direct agent agent_coalesce nutcracker}"
AGENT="${AGENT:-build/release/agent/rbench-agent}"
AGENT_ARGS="${AGENT_ARGS:-}"
BASELINE="${BASELINE:-}"
VARIANT_ARGS="${VARIANT_ARGS:-}"
CLIENT_ARGS="${CLIENT_ARGS:-}"
SRV=(); CLI=()
if [ -n "${SERVER_CPUS:-}" ]; then SRV=(taskset -c "$SERVER_CPUS"); fi
if [ -n "${CLIENT_CPUS:-}" ]; then CLI=(taskset -c "$CLIENT_CPUS"); fi
if [ -n "$BASELINE" ] && [[ " $TARGETS " != *" baseline "* ]]; then TARGETS="$TARGETS baseline"; fi
if [ -n "$VARIANT_ARGS" ] && [[ " $TARGETS " != *" variant "* ]]; then TARGETS="$TARGETS variant"; fi
WORK="$(mktemp -d /tmp/rbench-bench-agent.XXXXXX)"
RAW="$WORK/raw.tsv"
mkdir -p "$(dirname "$OUT")"

if [ ! -x "$AGENT" ]; then
  cmake --preset release >/dev/null
  cmake --build build/release -j2 --target rbench-agent >/dev/null
fi
for t in redis-server redis-cli redis-benchmark nutcracker python3 taskset; do
  command -v "$t" >/dev/null || { echo "bench-agent: $t is missing (tools/install-deps.sh)" >&2; exit 1; }
done
ulimit -n 20000 2>/dev/null || ulimit -n 4096 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 500); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.01; done; return 1; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

RP=$(free_port); AP=$(free_port); CP=$(free_port); NP=$(free_port); NS=$(free_port); BP=$(free_port)
VP=$(free_port)
AM=$(free_port); CM=$(free_port); BM=$(free_port); VM=$(free_port)
"${SRV[@]}" redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --maxclients 10000 --logfile "$WORK/redis.log" &
RPID=$!; PIDS+=("$RPID"); wait_port "$RP"
# shellcheck disable=SC2086
"${SRV[@]}" "$AGENT" --listen 127.0.0.1:"$AP" --redis 127.0.0.1:"$RP" --metrics 127.0.0.1:"$AM" --log-level warn $AGENT_ARGS &
APID=$!; PIDS+=("$APID")
# shellcheck disable=SC2086
"${SRV[@]}" "$AGENT" --listen 127.0.0.1:"$CP" --redis 127.0.0.1:"$RP" --metrics 127.0.0.1:"$CM" --log-level warn --coalesce $AGENT_ARGS &
CPID=$!; PIDS+=("$CPID")
VPID=""
if [ -n "$VARIANT_ARGS" ]; then
  # shellcheck disable=SC2086
  "${SRV[@]}" "$AGENT" --listen 127.0.0.1:"$VP" --redis 127.0.0.1:"$RP" --metrics 127.0.0.1:"$VM" --log-level warn $VARIANT_ARGS &
  VPID=$!; PIDS+=("$VPID")
fi
BPID=""
if [ -n "$BASELINE" ]; then
  "${SRV[@]}" "$BASELINE" --listen 127.0.0.1:"$BP" --redis 127.0.0.1:"$RP" --metrics 127.0.0.1:"$BM" --log-level warn &
  BPID=$!; PIDS+=("$BPID")
fi
cat > "$WORK/nutcracker.yml" <<YML
alpha:
  listen: 127.0.0.1:$NP
  hash: fnv1a_64
  distribution: ketama
  redis: true
  preconnect: true
  auto_eject_hosts: false
  server_connections: 1
  timeout: 5000
  servers:
   - 127.0.0.1:$RP:1
YML
"${SRV[@]}" nutcracker -c "$WORK/nutcracker.yml" -s "$NS" -a 127.0.0.1 -o "$WORK/nut.log" -v 4 &
NPID=$!; PIDS+=("$NPID")
wait_port "$AP"; wait_port "$CP"; wait_port "$NP"; [ -z "$BASELINE" ] || wait_port "$BP"
[ -z "$VARIANT_ARGS" ] || wait_port "$VP"

redis_cpu() { redis-cli -p "$RP" INFO cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'; }
proc_cpu() { # seconds of utime+stime of a pid
  awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.6f", ($12 + $13) / hz}' "/proc/$1/stat"; }
port_of() { case "$1" in direct) echo "$RP";; agent) echo "$AP";; agent_coalesce) echo "$CP";; nutcracker) echo "$NP";; baseline) echo "$BP";; variant) echo "$VP";; esac; }
metrics_port_of() { case "$1" in agent) echo "$AM";; agent_coalesce) echo "$CM";; baseline) echo "$BM";; variant) echo "$VM";; *) echo "";; esac; }
# "sum count" of an agent's batch-size histogram (commands and batches written so far), or "0 0".
batch_stats() {
  [ -n "$1" ] || { echo "0 0"; return; }
  python3 -c 'import sys, urllib.request
t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
v = dict(l.split()[:2] for l in t.splitlines() if l.startswith("rbench_agent_batch_size_s") or l.startswith("rbench_agent_batch_size_c"))
print(v["rbench_agent_batch_size_sum"], v["rbench_agent_batch_size_count"])' "$1"
}
pid_of() { case "$1" in direct) echo "";; agent) echo "$APID";; agent_coalesce) echo "$CPID";; nutcracker) echo "$NPID";; baseline) echo "$BPID";; variant) echo "$VPID";; esac; }

printf 'rep\tconfig\ttarget\top\trps\tp50\tp99\tredis_cpu_s\tproxy_cpu_s\tn\tclient_cpu_s\tclient_wall_s\tbatch_cmds\tbatches\n' > "$RAW"
# CPU (user + system) of a subshell's children, from the output of `times` on stdin: seconds.
children_cpu() { awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }; printf "%.6f", t }'; }
echo "bench-agent: $REPS reps of [$CONFIGS] x [$TARGETS], n=$N per op (SET and GET)" >&2
for rep in $(seq 1 "$REPS"); do
  for cfg in $CONFIGS; do
    c="${cfg#c}"; c="${c%%_*}"; p="${cfg##*_P}"
    # Rotate the order of targets each repetition, so none always runs first.
    read -r -a tl <<< "$TARGETS"
    k=$(( (rep - 1) % ${#tl[@]} ))
    order=("${tl[@]:$k}" "${tl[@]:0:$k}")
    for t in "${order[@]}"; do
      port=$(port_of "$t"); pid=$(pid_of "$t")
      mp=$(metrics_port_of "$t")
      read -r bs0 bc0 <<< "$(batch_stats "$mp")"
      r0=$(redis_cpu); p0=0; [ -n "$pid" ] && p0=$(proc_cpu "$pid")
      # In a subshell of its own, so `times` (written to a file: a builtin in a pipeline runs in
      # a fork, which sees no children) counts redis-benchmark alone.
      # shellcheck disable=SC2086
      out=$(w0=$EPOCHREALTIME
            "${CLI[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -n "$N" -c "$c" -P "$p" --csv \
              $CLIENT_ARGS 2>/dev/null
            w1=$EPOCHREALTIME
            times > "$WORK/times"
            echo "CLIENT $(children_cpu < "$WORK/times") $(awk -v a="$w0" -v b="$w1" 'BEGIN {printf "%.6f", b - a}')")
      csv=$(echo "$out" | grep -v '^CLIENT ')
      read -r cc cw <<< "$(echo "$out" | awk '/^CLIENT / {print $2, $3}')"
      r1=$(redis_cpu); p1=0; [ -n "$pid" ] && p1=$(proc_cpu "$pid")
      rc=$(python3 -c "print($r1-$r0)"); pc=$(python3 -c "print($p1-$p0)")
      read -r bs1 bc1 <<< "$(batch_stats "$mp")"
      echo "$csv" | python3 -c '
import csv, sys
rep, cfg, t, rc, pc, n, cc, cw, bsum, bcnt = sys.argv[1:]
for row in csv.reader(sys.stdin):
    if not row or row[0] == "test": continue
    print("\t".join([rep, cfg, t, row[0], row[1], row[4], row[6], rc, pc, n, cc, cw, bsum, bcnt]))
' "$rep" "$cfg" "$t" "$rc" "$pc" "$N" "$cc" "$cw" "$((bs1 - bs0))" "$((bc1 - bc0))" >> "$RAW"
      echo "  rep $rep $cfg $t: $(echo "$csv" | awk -F, 'NR>1 {gsub(/"/,""); printf "%s %s req/s  ", $1, $2}')" >&2
      sleep 1
    done
  done
done

python3 - "$RAW" "$OUT" "$REPS" "$N" "$CONFIGS" "$TARGETS" <<'PY'
import csv, statistics, sys
raw, out, reps, n, configs, targets = sys.argv[1:]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
configs, targets = configs.split(), targets.split()
med = statistics.median
def sel(cfg, t, op=None):
    return [r for r in rows if r["config"] == cfg and r["target"] == t and (op is None or r["op"] == op)]
def cpu(cfg, t, key):
    # each invocation ran SET then GET: 2n requests share one CPU delta
    vals = {}
    for r in sel(cfg, t):
        vals[r["rep"]] = float(r[key]) * 1e6 / (2 * int(r["n"]))
    return med(vals.values()) if vals else float("nan")
L = []
L.append("| config | op | target | req/s (runs) | median req/s | vs direct | vs nutcracker | p50 ms | p99 ms |")
L.append("|---|---|---|---|---|---|---|---|---|")
for cfg in configs:
    for op in ("SET", "GET"):
        base = {t: med([float(r["rps"]) for r in sel(cfg, t, op)]) for t in targets if sel(cfg, t, op)}
        for t in targets:
            rs = sel(cfg, t, op)
            if not rs: continue
            rps = [float(r["rps"]) for r in rs]
            m = med(rps)
            vd = f"{m / base['direct']:.2f}x" if "direct" in base else "-"
            vn = f"{m / base['nutcracker']:.2f}x" if "nutcracker" in base else "-"
            L.append(f"| {cfg} | {op} | {t} | {' / '.join(f'{x/1000:.0f}k' for x in rps)} | {m/1000:.1f}k | {vd} | {vn} | "
                     f"{med([float(r['p50']) for r in rs]):.3f} | {med([float(r['p99']) for r in rs]):.3f} |")
L.append("")
L.append("CPU time per request (SET+GET of each invocation together, median over repetitions, microseconds); "
         "client: redis-benchmark's own, and its CPU time / elapsed time (1.00 = one core busy):")
L.append("")
L.append("| config | target | Redis us/req | proxy us/req | total server-side us/req | client us/req | client utilisation | commands per batch |")
L.append("|---|---|---|---|---|---|---|---|")
def util(cfg, t):
    vals = {r["rep"]: float(r["client_cpu_s"]) / float(r["client_wall_s"]) for r in sel(cfg, t)}
    return med(vals.values()) if vals else float("nan")
def per_batch(cfg, t):
    # the agent's commands per batch over each invocation (SET and GET), median over repetitions
    vals = {r["rep"]: int(r["batch_cmds"]) / int(r["batches"]) for r in sel(cfg, t) if int(r["batches"]) > 0}
    return f"{med(vals.values()):.1f}" if vals else "-"
for cfg in configs:
    for t in targets:
        if not sel(cfg, t): continue
        rc, pc = cpu(cfg, t, "redis_cpu_s"), cpu(cfg, t, "proxy_cpu_s")
        L.append(f"| {cfg} | {t} | {rc:.2f} | {pc:.2f} | {rc + pc:.2f} | "
                 f"{cpu(cfg, t, 'client_cpu_s'):.2f} | {util(cfg, t):.2f} | {per_batch(cfg, t)} |")
text = "\n".join(L) + "\n"
open(out, "w").write(text)
open(out + ".tsv", "w").write(open(raw).read())
print(text)
PY
echo "bench-agent: table in $OUT, raw rows in $OUT.tsv" >&2
