#!/usr/bin/env bash
# try-action.sh: build rbench-action, start a throwaway redis-server on a free loopback port,
# run one activation through the action's HTTP protocol (POST /init, POST /run) and print the
# result. Everything it starts is stopped when it exits.
#   tools/try-action.sh [JSON-PARAMS]   default {"num_ops":1000,"parallel_calls":8}
set -euo pipefail
cd "$(dirname "$0")/.."
params=${1:-'{"num_ops":1000,"parallel_calls":8}'}

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target rbench-action >/dev/null

# shellcheck source=tools/lib/lib.sh
. tools/lib/lib.sh
trap rb_cleanup EXIT INT TERM
rb_start_redis
rb_start_action build/release/action/rbench-action
redis_port=$rb_redis_port
action_port=$rb_action_port

echo "redis-server on 127.0.0.1:$redis_port, rbench-action on 127.0.0.1:$action_port"
echo "POST /init -> $(curl -s -X POST --data '{"value":{}}' "http://127.0.0.1:$action_port/init")"
echo "POST /run  {\"value\":$params} ->"
curl -s -X POST --data "{\"value\":$params}" "http://127.0.0.1:$action_port/run" | python3 -m json.tool
