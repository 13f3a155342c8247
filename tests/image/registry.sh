# registry.sh: sourced by the image tests: Debian's docker-registry (the CNCF distribution
# registry) without auth on a loopback address, its config, storage and log in a directory of
# the test's (Debian's default config has an htpasswd section; this one replaces it).
#
#   registry_start ADDR DIR   starts it on ADDR (127.0.0.1:PORT), config DIR/registry.yml,
#                             blobs DIR/registry, log DIR/registry.log; sets REGISTRY_PID
#                             (the caller stops it); returns 0 once http://ADDR/v2/ answers,
#                             1 if it exited or did not answer within 20 s
#   port_free PORT            true when nothing listens on PORT on 127.0.0.1, ::1 or the
#                             wildcard (a bind to 127.0.0.1 and to ::1 succeeds)
#   run_images OUT ARGS...    runs tests/image/run_images.py ARGS (its output to OUT, then
#                             shown) and adds its "N passed, M failed" to the caller's PASS and
#                             FAIL; one more failure (not_ok) when it did not reach its summary

registry_start() {
  local addr="$1" dir="$2" i
  mkdir -p "$dir/registry"
  cat >"$dir/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/registry
  delete:
    enabled: true
http:
  addr: $addr
  secret: rbench-image-test-$$
EOF
  docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
  REGISTRY_PID=$!
  for i in $(seq 200); do
    kill -0 "$REGISTRY_PID" 2>/dev/null || return 1
    if curl -s -o /dev/null --max-time 1 "http://$addr/v2/"; then return 0; fi
    sleep 0.1
  done
  return 1
}

port_free() {
  python3 - "$1" <<'PY'
import socket, sys
port = int(sys.argv[1])
for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    try:
        s = socket.socket(family)
    except OSError:
        continue  # no IPv6 here
    try:
        s.bind((host, port))
    except OSError as e:
        sys.exit(0 if family == socket.AF_INET6 and e.errno == 99 else 1)  # 99: no ::1
    finally:
        s.close()
PY
}

run_images() {
  local out="$1" rc=0 ri_pass ri_fail
  shift
  python3 "$(dirname "${BASH_SOURCE[0]}")/run_images.py" "$@" >"$out" 2>&1 || rc=$?
  cat "$out"
  read -r ri_pass ri_fail < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out" | tail -n 1)
  PASS=$((PASS + ${ri_pass:-0}))
  FAIL=$((FAIL + ${ri_fail:-0}))
  if [ -z "${ri_pass:-}" ] || { [ "$rc" -ne 0 ] && [ "${ri_fail:-0}" -eq 0 ]; }; then
    not_ok "run_images.py ran to its summary (exit $rc)"
  fi
}
