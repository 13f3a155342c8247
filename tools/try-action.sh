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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
pids+=($!)
action_port=$(free_port)
REDIS_PORT=$redis_port build/release/action/rbench-action --listen "127.0.0.1:$action_port" >"$tmp/action.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && curl -s -o /dev/null "http://127.0.0.1:$action_port/" && break
  sleep 0.05
done

echo "redis-server on 127.0.0.1:$redis_port, rbench-action on 127.0.0.1:$action_port"
echo "POST /init -> $(curl -s -X POST --data '{"value":{}}' "http://127.0.0.1:$action_port/init")"
echo "POST /run  {\"value\":$params} ->"
curl -s -X POST --data "{\"value\":$params}" "http://127.0.0.1:$action_port/run" | python3 -m json.tool
