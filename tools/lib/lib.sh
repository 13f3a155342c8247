# lib.sh: shell helpers shared by the tools/ scripts (source it; it defines functions only).
# Servers started here run on free loopback ports and are stopped by rb_cleanup, which the
# caller installs with: trap rb_cleanup EXIT INT TERM

rb_pids=()
rb_tmp=""

rb_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

rb_cleanup() {
  local p
  for p in "${rb_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$rb_tmp" ]; then rm -rf "$rb_tmp"; fi
}

# rb_start_redis: starts a throwaway redis-server; sets rb_redis_port.
rb_start_redis() {
  [ -n "$rb_tmp" ] || rb_tmp=$(mktemp -d)
  rb_redis_port=$(rb_free_port)
  redis-server --port "$rb_redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$rb_tmp/redis.log" 2>&1 &
  rb_pids+=($!)
  local _
  for _ in $(seq 200); do
    redis-cli -p "$rb_redis_port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server did not start; its log:" >&2
  cat "$rb_tmp/redis.log" >&2
  return 1
}

# rb_start_action BIN [ARGS...]: starts rbench-action against rb_redis_port; sets rb_action_port.
rb_start_action() {
  local bin=$1
  shift
  [ -n "$rb_tmp" ] || rb_tmp=$(mktemp -d)
  rb_action_port=$(rb_free_port)
  REDIS_PORT=$rb_redis_port "$bin" --listen "127.0.0.1:$rb_action_port" "$@" \
    >"$rb_tmp/action.log" 2>&1 &
  rb_pids+=($!)
  local _
  for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$rb_action_port/" && return 0
    sleep 0.05
  done
  echo "rbench-action did not start; its log:" >&2
  cat "$rb_tmp/action.log" >&2
  return 1
}

# rb_start_fakewhisk BUILD DIR: starts BUILD's fakewhisk (the OpenWhisk controller test double)
# with the key bench:key on a free port, waits for it, writes DIR/bench.env pointing rbench at
# it; sets rb_fakewhisk_port.
rb_start_fakewhisk() {
  rb_fakewhisk_port=$(rb_free_port)
  "$1/tests/fakewhisk" --port "$rb_fakewhisk_port" --auth bench:key >/dev/null 2>&1 &
  rb_pids+=($!)
  local _
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$rb_fakewhisk_port") 2>/dev/null && break
    sleep 0.05
  done
  printf 'OPENWHISK_APIHOST=http://127.0.0.1:%s\nOPENWHISK_AUTH=bench:key\n' \
    "$rb_fakewhisk_port" >"$2/bench.env"
}
