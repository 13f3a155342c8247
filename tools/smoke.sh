#!/usr/bin/env bash
# smoke.sh: the original benchmark's two invocations of the deployed action, each checked:
#   direct:  wsk action invoke redis_benchmark/redis_benchmark -r -p num_ops 1 -p operation_type set -p use_batching false
#   batched: wsk action invoke redis_benchmark/redis_benchmark -r -p num_ops 10 -p operation_type set -p use_batching true -p parallel_calls 5
# Each must succeed with no error, report succeeded == num_ops and failed == 0, and have used
# Redis (direct) or the agent (batched). Exits 1 with the reason otherwise.
#
#   tools/smoke.sh [--env local.env] [-i] [--action redis_benchmark/redis_benchmark]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CL_PROG=smoke
# shellcheck source=tools/lib/cluster-lib.sh
. "$HERE/lib/cluster-lib.sh"
# shellcheck source=tools/lib/args.sh
. "$HERE/lib/args.sh"

ENV_FILE=""
ACTION=redis_benchmark/redis_benchmark
WSK_FLAGS=()

usage() {
  cat <<'USAGE'
Usage: tools/smoke.sh [--env FILE] [-i] [--action NAME]

  --env FILE       OPENWHISK_APIHOST and OPENWHISK_AUTH (or OPENWHISK_AUTH_FILE) for wsk;
                   default: wsk's own configuration
  --action NAME    the action (default redis_benchmark/redis_benchmark)
  -i, --insecure   pass -i to wsk
  --namespace, --release  accepted for symmetry with deploy.sh (unused: the Redis and
                   agent addresses are the action's defaults set by deploy.sh)
USAGE
}
need_value() { [ "$2" -ge 2 ] || rb_usage_error "$CL_PROG" "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --env) need_value "$1" $#; ENV_FILE="$2"; shift ;;
    --action) need_value "$1" $#; ACTION="$2"; shift ;;
    --namespace | -n | --release) need_value "$1" $#; shift ;;
    -i | --insecure) WSK_FLAGS=(-i) ;;
    -h | --help) usage; exit 0 ;;
    *) rb_usage_error "$CL_PROG" "unknown argument '$1'" ;;
  esac
  shift
done
cl_need wsk python3
if [ -n "$ENV_FILE" ]; then cl_env_load "$ENV_FILE"; fi
TMP="$(mktemp -d /tmp/rbench-smoke.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
cl_wsk_setup "$TMP"

failed=0
# smoke LABEL NUM_OPS TARGET PARAMS...
smoke() {
  local label="$1" num="$2" target="$3" rc=0 verdict
  shift 3
  wsk "${WSK_FLAGS[@]}" action invoke "$ACTION" -r "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  if [ "$rc" -ne 0 ]; then
    # wsk prints an application error's result on stderr and exits non-zero.
    echo "smoke: $label: FAIL: wsk exited $rc:" >&2
    sed 's/^/    /' "$TMP/err" "$TMP/out" >&2
    failed=$((failed + 1))
    return 0
  fi
  verdict="$(python3 - "$TMP/out" "$num" "$target" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except ValueError as e:
    print("FAIL: the result is not JSON (%s)" % e)
    sys.exit()
num, target = int(sys.argv[2]), sys.argv[3]
if not isinstance(r, dict):
    print("FAIL: the result is not a JSON object")
elif "error" in r:
    print("FAIL: the action reported an error: %s" % r["error"])
elif r.get("succeeded") != num or r.get("failed") != 0:
    print("FAIL: asked for %d operations, the action reports succeeded %s, failed %s"
          % (num, r.get("succeeded"), r.get("failed")))
elif r.get("target") != target:
    print("FAIL: expected the %s target, the action used %s (%s)" % (target, r.get("target"), r.get("target_address")))
else:
    print("ok: %d operations via %s %s, %s ops/s" % (num, target, r.get("target_address"), r.get("ops_per_sec")))
PY
)"
  case "$verdict" in
    ok:*) echo "smoke: $label: $verdict" ;;
    *)
      echo "smoke: $label: $verdict" >&2
      failed=$((failed + 1))
      ;;
  esac
}

smoke direct 1 redis -p num_ops 1 -p operation_type set -p use_batching false
smoke batched 10 agent -p num_ops 10 -p operation_type set -p use_batching true -p parallel_calls 5

if [ "$failed" -gt 0 ]; then
  cl_die "$failed of 2 invocations failed (tools/deploy.sh sets the Redis and agent defaults; rbench doctor checks them)"
fi
echo "smoke: ok"
