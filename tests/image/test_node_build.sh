#!/usr/bin/env bash
# test_node_build.sh: the chart's node build, run for real on loopback: the init container of
# the *rendered* image-builder DaemonSet (helm template of helm/rbench), its command and args
# run as its pod runs them (tests/image/builder_pod.py lays the pod out; what differs and why
# is listed at step 2): the source ConfigMap's tarball extracted into the work directory,
# tools/build.sh building the three images with Debian's buildah (vfs, chroot) and pushing
# them to localhost:5000, where Debian's docker-registry listens without auth.
# Then, from the registry only (its HTTP API, not the build tree or buildah's storage):
#   - every image's manifest, config (User 65534, Entrypoint) and layer blobs (digests checked,
#     unpacked only to list their files: no shell or package manager, the runner's CA bundle);
#   - each image pulled from the registry (skopeo) and run with runc as a kubelet runs the
#     chart's pods (tests/image/run_images.py, tests/image/imagepods.py): entrypoint, user and
#     working directory from the image config, the rendered chart's args, env, securityContext
#     and mounts, each pod in a network namespace of its own with the chart's Services on its
#     loopback (the host's redis-server started inside it; the agent a container of the agent
#     image): the agent serves RESP, /healthz and /metrics; the action answers /init and /run
#     straight to Redis and through the agent container; the runner's Job container runs a
#     short local scenario and writes its results to the mounted results volume; the helm-test
#     Pod's rbench doctor passes; nothing of it is left afterwards;
#   - the chart's pod emulation (tests/k8s/test_pod_emulation.py --images) on those images:
#     the agent, runner Job (plain, 3 shards, late shard), node-local agent and helm-test
#     Pods run from them under runc with what was rendered.
# Whatever happens the registry, the containers, the network namespaces, Redis and the temp
# directory (with the build's buildah storage) are removed, and the test checks that no process
# is rooted or working in its directory. 127.0.0.1:5000 is waited for while another test holds
# it. Needs the Debian mirror for the builder steps' apt-get, as a new node does.
#
# Usage: tests/image/test_node_build.sh [SOURCE_ROOT [BUILD_DIR]]   (root; buildah, docker-registry, runc,
#        skopeo, umoci, redis-server, redis-cli, curl, python3, debootstrap, helm:
#        tools/install-deps.sh). Not root or no usable runtime: one line "SKIP: ...", exit 77.
set -euo pipefail

SRC="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SRC="$(cd "$SRC" && pwd)"
BUILD="${2:-$SRC/build/debug}"
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
  echo "SKIP: test_node_build must run as root (buildah, runc)"
  exit 77
fi
if ! why="$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import ocirun
ok, why = ocirun.usable(); print(why); sys.exit(0 if ok else 1)' "$HERE/../support")"; then
  echo "SKIP: $why"
  exit 77
fi
# buildah, python3, curl, debootstrap and the keyring are what build.sh --install-tools checks
# for: all present, the rendered command installs nothing on this machine.
for tool in buildah docker-registry redis-server redis-cli curl python3 tar debootstrap ss; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (run tools/install-deps.sh)"
done
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || die "debian-archive-keyring is not installed (run tools/install-deps.sh)"
# shellcheck source=tests/image/registry.sh
. "$HERE/registry.sh"

WORK="$(mktemp -d /tmp/rbench-node-build.XXXXXX)"
PIDS=()
cleanup() {
  local rc=$? p
  set +e
  for p in "${PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf --one-file-system "$WORK"
  # whatever happened: no process of this test rooted or working in its (deleted) directory
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/root" 2>/dev/null) $(readlink "$p/cwd" 2>/dev/null)" in
      *"$WORK"*)
        echo "test_node_build: error: process ${p#/proc/} is still rooted or working in $WORK" >&2
        [ "$rc" -ne 0 ] || rc=1
        ;;
    esac
  done
  if [ "$rc" -ne 0 ] && [ "$FAIL" -eq 0 ]; then
    echo "test_node_build: aborted (exit $rc)" >&2
    echo "$PASS passed, 1 failed"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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

# --- 4. run them: pulled from the registry, under runc, as the chart's pods ---------------
# run_images.py prints one ok/not ok line per check and "N passed, M failed" last; its checks
# are those tests/image/test_image_checks.py proves to fail on broken images.
want_version="rbench $(sed -n 's/^project(rbench VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt") (unknown)"
run_images "$WORK/run_images.out" "$REG" "$TAG" --version "$want_version"

# --- 5. the chart's pods emulated on the built images --------------------------------------
# tests/k8s/test_pod_emulation.py --images: the agent, runner Job (plain, 3 shards, a late
# shard), node-local agent and helm-test Pods of the rendered chart run from the images just
# pushed, under runc, with what was rendered (Redis and the OpenWhisk/Kubernetes API double
# stay host processes; docs/kubernetes.md). It needs the build tree's fakewhisk and rbench
# (for compare, report and fetch-results.sh on the host): BUILD_DIR, the second argument.
if [ -n "$BUILD" ] && [ -x "$BUILD/tests/fakewhisk" ]; then
  RBENCH_BUILD_DIR="$BUILD" python3 "$SRC/tests/k8s/test_pod_emulation.py" --images "$REG" --tag "$TAG" \
    >"$WORK/pods.out" 2>&1 && pods_rc=0 || pods_rc=$?
  sed 's/^/# pods: /' "$WORK/pods.out"
  check "the chart's pods run from the pushed images pass the pod emulation (exit $pods_rc, $(grep -c '^FAIL' "$WORK/pods.out") failed checks)" \
    test "$pods_rc" -eq 0
else
  not_ok "the pod emulation on the built images needs the build tree (second argument; fakewhisk built)"
fi

# --- 6. nothing of this test is left -------------------------------------------------------
# No process rooted or working in $WORK (what the chroot'ed agent and action of earlier
# versions of this test left behind) and no runc container anywhere under /run/rbench-runc-*
# of this run (run_images.py checked its own state directory, network namespaces and cgroups).
leftover_procs() {
  local p t
  for p in /proc/[0-9]*; do
    for t in "$(readlink "$p/root" 2>/dev/null)" "$(readlink "$p/cwd" 2>/dev/null)"; do
      case "$t" in "$WORK"*) echo "${p#/proc/} ($t)" ;; esac
    done
  done
}
left="$(leftover_procs | sort -u | tr '\n' ' ')"
check "no process rooted or working in the test's directory (found: ${left:-none})" test -z "$left"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
