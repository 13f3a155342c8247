#!/usr/bin/env bash
# try-action.sh: build rbench-action, start a throwaway redis-server on a free loopback port,
# run one activation through the action's HTTP protocol (POST /init, POST /run) and print the
# result. Everything it starts is stopped when it exits.
#
# Usage: tools/try-action.sh [JSON-PARAMS]   (default {"num_ops":1000,"parallel_calls":8})
#   BUILD=build/debug tools/try-action.sh ... (default: build/release; always brought up to date)
#   -h, --help                                this text
#
# Exit status: 0 when the activation succeeded; 1 when the action answered an error (a result
# with "error": bad parameters or failed operations, e.g. Redis unreachable), answered a status
# other than 2xx, or could not be reached; 2 for a usage error; 3 when redis-server or the
# action did not start.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/lib/args.sh
. tools/lib/args.sh
rb_args_positional try-action 1 "$@"
params=${1:-'{"num_ops":1000,"parallel_calls":8}'}
build=${BUILD:-build/release}

if [ ! -f "$build/CMakeCache.txt" ]; then cmake --preset "$(basename "$build")" >/dev/null; fi
cmake --build "$build" -j "$(nproc)" --target rbench-action >/dev/null

# shellcheck source=tools/lib/lib.sh
. tools/lib/lib.sh
trap rb_cleanup EXIT INT TERM
rb_start_redis || exit 3
rb_start_action "$build/action/rbench-action" || exit 3
echo "redis-server on 127.0.0.1:$rb_redis_port, rbench-action on 127.0.0.1:$rb_action_port"

# post PATH BODY: POSTs BODY, prints the answer; returns 1 (saying why on stderr) when the
# action could not be reached, answered a status other than 2xx, or answered {"error": ...}.
post() {
  local out="$rb_tmp/answer" code
  if ! code=$(curl -sS -o "$out" -w '%{http_code}' -X POST --data-binary "$2" \
    "http://127.0.0.1:$rb_action_port$1"); then
    echo "try-action: POST $1: the action could not be reached (curl failed)" >&2
    return 1
  fi
  python3 - "$out" "$code" "$1" <<'PY'
import json, sys
body, code, path = open(sys.argv[1], encoding="utf-8", errors="replace").read(), int(sys.argv[2]), sys.argv[3]
try:
    doc = json.loads(body)
    print(json.dumps(doc, indent=4))
except ValueError:
    doc = None
    print(body)
if not 200 <= code < 300:
    sys.exit(f"try-action: POST {path}: HTTP {code}")
if not isinstance(doc, dict):
    sys.exit(f"try-action: POST {path}: the answer is not a JSON object")
if "error" in doc:
    sys.exit(f"try-action: POST {path}: the action answered an error: {doc['error']}")
PY
}

echo "POST /init ->"
post /init '{"value":{}}' || exit 1
echo "POST /run  {\"value\":$params} ->"
post /run "{\"value\":$params}" || exit 1
