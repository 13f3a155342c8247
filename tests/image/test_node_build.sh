#!/usr/bin/env bash
# test_node_build.sh: the chart's node build, run for real on loopback, as the image-builder
# DaemonSet's init container runs it: the source tarball (tools/source-configmap.sh) is
# extracted into a work directory and tools/build.sh builds the three images there with
# Debian's buildah (vfs, chroot) and pushes them to Debian's docker-registry without auth.
# Then, from the registry only (its HTTP API, not the build tree or buildah's storage):
#   - every image's manifest, config (User 65534, Entrypoint) and layer blobs (digests checked);
#   - the layers are unpacked into one root per image and the binaries run from there
#     (chroot as 65534:65534, empty environment) against a real redis-server:
#     rbench-agent serves PING (RESP) and /healthz; rbench-action answers /init and /run
#     straight to Redis and through that agent; rbench --version, and rbench doctor against
#     that Redis and agent (its CA bundle and rbench-action are in the image).
# Whatever happens the registry, Redis, the agent, the action, the test images and the temp
# directory are removed.
#
# Usage: tests/image/test_node_build.sh [SOURCE_ROOT]   (root; buildah, docker-registry,
#        redis-server, redis-cli, curl, python3, git: tools/install-deps.sh)
set -euo pipefail

SRC="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SRC="$(cd "$SRC" && pwd)"
STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"
export STORAGE_DRIVER
BUILDAH=(buildah --storage-driver "$STORAGE_DRIVER")
TAG="nodetest-$$-$(date +%s)"
IMAGES=(rbench-action rbench-agent rbench)

PASS=0
FAIL=0
ok() {
  PASS=$((PASS + 1))
  echo "ok - $*"
}
not_ok() {
  FAIL=$((FAIL + 1))
  echo "not ok - $*"
}
check() { # check DESCRIPTION COMMAND...
  local what="$1"
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
die() {
  echo "test_node_build: error: $*" >&2
  exit 1
}

if [ "$(id -u)" -ne 0 ]; then
  echo "test_node_build: skipped: must run as root (buildah, chroot)"
  exit 77
fi
for tool in buildah docker-registry redis-server redis-cli curl python3 chroot git tar; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (run tools/install-deps.sh)"
done

WORK="$(mktemp -d /tmp/rbench-node-build.XXXXXX)"
PIDS=()
PROC_MNT=""
cleanup() {
  local rc=$? p i
  set +e
  for p in "${PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [ -n "$PROC_MNT" ]; then umount -l "$PROC_MNT"; fi
  for i in "${IMAGES[@]}"; do "${BUILDAH[@]}" rmi "localhost/$i:$TAG" >/dev/null 2>&1; done
  rm -rf --one-file-system "$WORK"
  if [ "$rc" -ne 0 ] && [ "$FAIL" -eq 0 ]; then
    echo "test_node_build: aborted (exit $rc)" >&2
    echo "$PASS passed, 1 failed"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # wait_port PORT PID SECONDS
  local i
  for i in $(seq $(($3 * 10))); do
    kill -0 "$2" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}
in_root() { # in_root ROOT CMD...: as the images' USER, with only what a runtime would give
  local root="$1"
  shift
  env -i "$(command -v chroot)" --userspec=65534:65534 "$root" "$@"
}

# --- 1. registry --------------------------------------------------------------------------
REG_PORT="$(free_port)"
REG="127.0.0.1:$REG_PORT"
mkdir -p "$WORK/registry"
cat >"$WORK/registry.yml" <<YML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: $REG
  secret: rbench-node-test-$$
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
PIDS+=($!)

# --- 2. the DaemonSet's steps: tarball -> /workspace/src -> tools/build.sh ---------------
"$SRC/tools/source-configmap.sh" --output "$WORK/rbench-src.tar.gz" >/dev/null
mkdir -p "$WORK/workspace/src"
tar -xzf "$WORK/rbench-src.tar.gz" -C "$WORK/workspace/src"
check "the tarball holds no .git, tests/ or docs/" \
  test ! -e "$WORK/workspace/src/.git" -a ! -e "$WORK/workspace/src/tests" -a ! -e "$WORK/workspace/src/docs"
t0=$(date +%s)
# --wait-registry also covers a registry that starts after the builder, as on a fresh node.
if ! (cd "$WORK/workspace/src" && exec tools/build.sh --install-tools --wait-registry 60 --tag "$TAG" \
  --push "$REG" -q) >"$WORK/build.log" 2>&1; then
  tail -n 80 "$WORK/build.log" >&2
  die "tools/build.sh failed"
fi
echo "# node build (3 images, from the extracted tarball) took $(($(date +%s) - t0)) s"
grep -E '^(size|pushed|digest|build):' "$WORK/build.log" | sed 's/^/# /'
check "build.sh's last line is 'build: ok'" test "$(tail -n 1 "$WORK/build.log")" = "build: ok"
# the machine-readable tail: pushed/digest per image, in order, then build: ok
tail -n 7 "$WORK/build.log" | head -n 6 >"$WORK/tail.txt"
check "build.sh ends with pushed:/digest: for the three images" python3 - "$WORK/tail.txt" "$REG" "$TAG" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
reg, tag = sys.argv[2], sys.argv[3]
want = []
for n in ("rbench-action", "rbench-agent", "rbench"):
    want += [f"pushed: {reg}/{n}:{tag}", "digest"]
ok = len(lines) == 6 and all(
    (l == w) if w != "digest" else bool(re.fullmatch(r"digest: sha256:[0-9a-f]{64}", l))
    for l, w in zip(lines, want))
sys.exit(not ok)
PY

# --- 3. from the registry: manifest, config, layers -> one root per image -----------------
ACCEPT="application/vnd.docker.distribution.manifest.v2+json"
declare -A ENTRY=([rbench-action]=/rbench-action [rbench-agent]=/rbench-agent [rbench]=/rbench)
for name in "${IMAGES[@]}"; do
  want_digest="$(grep -A1 -x "pushed: $REG/$name:$TAG" "$WORK/build.log" | sed -n 's/^digest: //p' | head -n 1)"
  curl -fsS -D "$WORK/$name.hdr" -H "Accept: $ACCEPT" "http://$REG/v2/$name/manifests/$TAG" >"$WORK/$name.manifest"
  got_digest="$(sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *\([^[:space:]]*\).*/\1/p' "$WORK/$name.hdr")"
  check "$name: the registry serves the manifest with the digest build.sh printed" test -n "$got_digest" -a "$got_digest" = "$want_digest"
  mkdir -p "$WORK/root-$name"
  if python3 - "$WORK/$name.manifest" "http://$REG/v2/$name/blobs" "$WORK/root-$name" "$WORK/$name.config" <<'PY'; then
import hashlib, io, json, sys, tarfile, urllib.request
manifest, base, root, cfgout = sys.argv[1:5]
m = json.load(open(manifest))
def blob(d):
    data = urllib.request.urlopen(f"{base}/{d}", timeout=30).read()
    if "sha256:" + hashlib.sha256(data).hexdigest() != d:
        sys.exit(f"blob {d}: content does not match its digest")
    return data
open(cfgout, "wb").write(blob(m["config"]["digest"]))
for layer in m["layers"]:
    data = blob(layer["digest"])
    if len(data) != layer["size"]:
        sys.exit(f"blob {layer['digest']}: {len(data)} bytes, manifest says {layer['size']}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
        t.extractall(root, numeric_owner=True)
PY
    ok "$name: layers fetched from the registry (digests checked) and unpacked"
  else
    not_ok "$name: layers fetched from the registry and unpacked"
  fi
  check "$name: config has User 65534 and Entrypoint [${ENTRY[$name]}]" python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["config"]
sys.exit(not (c.get("User") == "65534" and c.get("Entrypoint") == [sys.argv[2]] and not c.get("Cmd")))' "$WORK/$name.config" "${ENTRY[$name]}"
  shells=""
  for s in bin/sh bin/bash usr/bin/sh usr/bin/bash bin/busybox usr/bin/apt-get usr/bin/dpkg; do
    if [ -e "$WORK/root-$name/$s" ]; then shells="$shells /$s"; fi
  done
  check "$name: no shell or package manager (found:${shells:- none})" test -z "$shells"
  (cd "$WORK/root-$name" && find . -mindepth 1 -type f -printf '%P %s\n' | sort) | sed "s|^|# $name: /|"
done
check "rbench image carries the CA bundle" test -s "$WORK/root-rbench/etc/ssl/certs/ca-certificates.crt"

# --- 4. run them from the unpacked roots --------------------------------------------------
REDIS_PORT="$(free_port)"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
  --dir "$WORK" --logfile "$WORK/redis.log" --daemonize no &
PIDS+=($!)
wait_port "$REDIS_PORT" "${PIDS[-1]}" 10 || die "redis-server did not start"

AGENT_PORT="$(free_port)"
METRICS_PORT="$(free_port)"
# the chart's agent args, on loopback
in_root "$WORK/root-rbench-agent" /rbench-agent --listen "127.0.0.1:$AGENT_PORT" \
  --redis "127.0.0.1:$REDIS_PORT" --metrics "127.0.0.1:$METRICS_PORT" >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
if wait_port "$AGENT_PORT" "${PIDS[-1]}" 10 && wait_port "$METRICS_PORT" "${PIDS[-1]}" 10; then
  ok "rbench-agent serving from its image root as 65534"
else
  cat "$WORK/agent.log" >&2
  not_ok "rbench-agent serving from its image root as 65534"
fi
pong="$(redis-cli -h 127.0.0.1 -p "$AGENT_PORT" PING 2>&1 || true)"
check "rbench-agent answers PING with PONG (got '$pong')" test "$pong" = PONG
hz="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$METRICS_PORT/healthz" || true)"
check "rbench-agent GET /healthz answers 200 (got $hz)" test "$hz" = 200

ACTION_PORT="$(free_port)"
in_root "$WORK/root-rbench-action" /rbench-action --listen "127.0.0.1:$ACTION_PORT" >"$WORK/action.log" 2>&1 &
PIDS+=($!)
wait_port "$ACTION_PORT" "${PIDS[-1]}" 10 || { cat "$WORK/action.log" >&2; die "rbench-action did not start in its image root"; }
post() { # post PATH BODY OUTFILE -> HTTP status
  curl -sS -o "$3" -w '%{http_code}' --max-time 20 -X POST -H 'Content-Type: application/json' \
    --data-binary "$2" "http://127.0.0.1:$ACTION_PORT$1"
}
st="$(post /init '{}' "$WORK/init.json")"
check "rbench-action POST /init answers 200 {\"ok\":true}" python3 -c '
import json, sys
sys.exit(not (sys.argv[1] == "200" and json.load(open(sys.argv[2])) == {"ok": True}))' "$st" "$WORK/init.json"
run_check() { # run_check LABEL BODY TARGET
  local st
  st="$(post /run "$2" "$WORK/run.json")"
  echo "# /run $2 -> $st $(head -c 300 "$WORK/run.json")"
  check "rbench-action /run $1: succeeded 5, failed 0, target $3" python3 -c '
import json, sys
r = json.load(open(sys.argv[2]))
sys.exit(not (sys.argv[1] == "200" and "error" not in r and r.get("succeeded") == 5
              and r.get("failed") == 0 and r.get("target") == sys.argv[3]))' "$st" "$WORK/run.json" "$3"
}
run_check "direct" "{\"value\":{\"num_ops\":5,\"redis_port\":$REDIS_PORT,\"key_prefix\":\"direct\"}}" redis
run_check "batched through the agent" "{\"value\":{\"num_ops\":5,\"use_batching\":true,\"agent_host\":\"localhost\",\"agent_port\":$AGENT_PORT,\"key_prefix\":\"batched\"}}" agent
dbsize="$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" dbsize 2>/dev/null || echo '?')"
check "Redis holds the 10 keys written directly and through the agent (dbsize $dbsize)" test "$dbsize" = 10

version="$(in_root "$WORK/root-rbench" /rbench --version 2>&1 || true)"
check "rbench --version from its image root ($version)" \
  test "$version" = "rbench $(sed -n 's/^project(rbench VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt") (unknown)"
# A container runtime mounts /proc; the runner finds rbench-action next to /proc/self/exe.
mkdir -p "$WORK/root-rbench/proc"
mount -t proc proc "$WORK/root-rbench/proc" && PROC_MNT="$WORK/root-rbench/proc"
env -i REDIS_HOST=127.0.0.1 REDIS_PORT="$REDIS_PORT" BATCHING_AGENT_HOST=localhost \
  BATCHING_AGENT_PORT="$AGENT_PORT" "$(command -v chroot)" --userspec=65534:65534 "$WORK/root-rbench" \
  /rbench doctor >"$WORK/doctor.out" 2>&1 && doctor_rc=0 || doctor_rc=$?
sed 's/^/# doctor: /' "$WORK/doctor.out"
check "rbench doctor from its image root passes against that Redis and agent (exit $doctor_rc)" \
  test "$doctor_rc" -eq 0
check "rbench doctor found /rbench-action inside the image" grep -q '^ok *rbench-action *//*rbench-action' "$WORK/doctor.out"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
