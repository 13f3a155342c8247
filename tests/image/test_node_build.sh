#!/usr/bin/env bash
# test_node_build.sh: the chart's node build, run for real on loopback: the init container of
# the *rendered* image-builder DaemonSet (helm template of helm/rbench), its command and args
# run as its pod runs them (tests/image/builder_pod.py lays the pod out; what differs and why
# is listed at step 2): the source ConfigMap's tarball extracted into the work directory,
# tools/build.sh building the three images with Debian's buildah (vfs, chroot) and pushing
# them to localhost:5000, where Debian's docker-registry listens without auth.
# Then, from the registry only (its HTTP API, not the build tree or buildah's storage):
#   - every image's manifest, config (User 65534, Entrypoint) and layer blobs (digests checked);
#   - the layers are unpacked into one root per image and the binaries run from there
#     (chroot as 65534:65534, empty environment) against a real redis-server:
#     rbench-agent serves PING (RESP) and /healthz; rbench-action answers /init and /run
#     straight to Redis and through that agent; rbench --version, and rbench doctor against
#     that Redis and agent (its CA bundle and rbench-action are in the image).
# Whatever happens the registry, Redis, the agent, the action and the temp directory (with the
# build's buildah storage) are removed. 127.0.0.1:5000 is waited for while another test holds
# it. Needs the Debian mirror for the builder steps' apt-get, as a new node does.
#
# Usage: tests/image/test_node_build.sh [SOURCE_ROOT]   (root; buildah, docker-registry,
#        redis-server, redis-cli, curl, python3, debootstrap, helm: tools/install-deps.sh)
set -euo pipefail

SRC="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SRC="$(cd "$SRC" && pwd)"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
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
# buildah, python3, curl, debootstrap and the keyring are what build.sh --install-tools checks
# for: all present, the rendered command installs nothing on this machine.
for tool in buildah docker-registry redis-server redis-cli curl python3 chroot tar debootstrap ss; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (run tools/install-deps.sh)"
done
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || die "debian-archive-keyring is not installed (run tools/install-deps.sh)"
# shellcheck source=tests/image/registry.sh
. "$HERE/registry.sh"

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

# --- 1. the registry at 127.0.0.1:5000, where the rendered command pushes -----------------
# The init container pushes to localhost:5000 on the node's network (hostNetwork): here, this
# machine's loopback. Another test run may hold the port for a while: wait for it (up to
# 10 minutes), and again when someone else takes it between the check and the start.
REG="127.0.0.1:5000"
deadline=$(($(date +%s) + 600))
said=0
until port_free 5000 && registry_start "$REG" "$WORK"; do
  if [ -n "${REGISTRY_PID:-}" ]; then
    kill -TERM "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
    REGISTRY_PID=""
  fi
  [ "$(date +%s)" -lt "$deadline" ] || die "127.0.0.1:5000 stayed in use for 10 minutes: $(ss -Hltnp 'sport = :5000' 2>/dev/null | head -n 2)"
  [ "$said" -eq 1 ] || echo "# 127.0.0.1:5000 is in use (another test's registry?): waiting for it to be free"
  said=1
  sleep 5
done
PIDS+=("$REGISTRY_PID")
ok "registry listening on $REG"

# --- 2. the rendered init container, run as its pod runs it --------------------------------
# builder_pod.py renders the chart with image.tag=$TAG, materialises the init container's
# volumes under $POD (the source ConfigMap's binaryData as $POD/rbench-src/rbench-src.tar.gz)
# and writes its command and args with every mountPath rewritten. What differs from the pod,
# and why (this machine's / is not the pod's):
#   - /rbench-src and /workspace are $POD/rbench-src and $POD/workspace, in the command text;
#   - /var/lib/containers (the node's hostPath, buildah's storage: the command does not name
#     it, buildah uses it by default) is $POD/var/lib/containers, through a storage.conf
#     (CONTAINERS_STORAGE_CONF) whose graphroot and runroot are there. It starts with the
#     Debian base image copied from this machine's buildah storage, as a node's cache holds it
#     after its first build (when this machine has none, make-base-image.sh makes it, as on a
#     new node: debootstrap from the Debian mirror). The builder steps run in it as on a new
#     node (apt-get from the Debian mirror inside the build);
#   - the environment is the debian image's (PATH, HOME=/root) plus CONTAINERS_STORAGE_CONF;
#     buildah runs with build-image.sh's defaults, as in the pod: vfs, chroot isolation;
#   - --install-tools finds every tool present (checked above) and installs nothing here.
POD="$WORK/pod"
render_rc=0
python3 "$HERE/builder_pod.py" "$POD" "$WORK/builder.argv" "$TAG" >"$WORK/mounts.txt" 2>"$WORK/render.err" || render_rc=$?
if [ "$render_rc" -eq 77 ]; then
  cat "$WORK/render.err"
  echo "test_node_build: skipped: no helm (tools/lib/install-k8s-tools.sh)"
  exit 77
fi
[ "$render_rc" -eq 0 ] || die "rendering the chart's image builder failed: $(tail -n 5 "$WORK/render.err")"
mapfile -d '' -t CMD <"$WORK/builder.argv"
sed 's/^/# mount: /' "$WORK/mounts.txt"
printf '%s\n' "${CMD[@]}" | sed 's/^/# rendered command: /'
script="${CMD[*]}"
check "the rendered init container extracts the source ConfigMap's tarball and runs tools/build.sh, pushing to localhost:5000" \
  test -n "$(grep -F -- "tar -xzf $POD/rbench-src/rbench-src.tar.gz -C $POD/workspace/src" <<<"$script")" \
  -a -n "$(grep -E -- "tools/build.sh --install-tools --wait-registry [0-9]+ --tag $TAG --push localhost:5000" <<<"$script")"
mkdir -p "$POD/var/lib/containers/storage" "$POD/run/containers/storage"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' \
  "$POD/var/lib/containers/storage" "$POD/run/containers/storage" >"$WORK/storage.conf"
BASE=docker.io/library/debian:bookworm
if buildah --storage-driver vfs inspect --type image "$BASE" >/dev/null 2>&1; then
  buildah --storage-driver vfs push --quiet "$BASE" \
    "containers-storage:[vfs@$POD/var/lib/containers/storage+$POD/run/containers/storage]$BASE" >/dev/null ||
    die "cannot copy $BASE into the pod's buildah storage"
  echo "# $BASE copied from this machine's buildah storage into the pod's"
fi
t0=$(date +%s)
if ! (cd / && exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  CONTAINERS_STORAGE_CONF="$WORK/storage.conf" "${CMD[@]}") >"$WORK/build.log" 2>&1; then
  tail -n 80 "$WORK/build.log" >&2
  die "the rendered init container's command failed"
fi
echo "# node build (3 images, the rendered command) took $(($(date +%s) - t0)) s"
grep -E '^(size|pushed|digest|build):' "$WORK/build.log" | sed 's/^/# /'
check "the tarball holds no .git, tests/ or docs/" \
  test -d "$POD/workspace/src/tools" -a ! -e "$POD/workspace/src/.git" -a ! -e "$POD/workspace/src/tests" -a ! -e "$POD/workspace/src/docs"
check "the images were built in the pod's buildah storage" \
  test -n "$(ls -A "$POD/var/lib/containers/storage/vfs-images" 2>/dev/null)"
check "build.sh's last line is 'build: ok'" test "$(tail -n 1 "$WORK/build.log")" = "build: ok"
# the machine-readable tail: pushed/digest per image, in order, then build: ok
tail -n 7 "$WORK/build.log" | head -n 6 >"$WORK/tail.txt"
check "build.sh ends with pushed:/digest: for the three images" python3 - "$WORK/tail.txt" localhost:5000 "$TAG" <<'PY'
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
  want_digest="$(grep -A1 -x "pushed: localhost:5000/$name:$TAG" "$WORK/build.log" | sed -n 's/^digest: //p' | head -n 1)"
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
