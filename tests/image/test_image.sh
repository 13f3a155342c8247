#!/usr/bin/env bash
# test_image.sh: builds the rbench-action image, pushes it to a real registry and runs it.
#
#   1. starts docker-registry (CNCF distribution) on 127.0.0.1:<free port>, temp config+storage
#   2. tools/build-image.sh --tag <unique> --push 127.0.0.1:<port>
#   3. checks over the registry's HTTP API: manifest, layer sizes (< 10 MB), config
#      (User 65534, Entrypoint /rbench-action, port 8080), and pulls it back with buildah
#   4. mounts the image root (buildah from + mount): only the expected files, no shell, no
#      package manager, every ELF file's libraries present inside the root
#   5. runs the image pulled from the registry with runc, as OpenWhisk's invoker runs an action
#      container (tests/image/run_images.py --only action: skopeo + umoci, the image's
#      entrypoint and user 65534, no args, read-only root, no capabilities, no new privileges,
#      a network namespace of its own with a real redis-server started inside it):
#      --version names the commit; /init -> 200 {"ok":true}; /run num_ops=5 -> succeeded 5, by
#      a name resolved inside the image (its nsswitch.conf and libc); Redis holds the 5 keys
# Everything it starts (registry, buildah containers, images, the container, its network
# namespace, redis, temp dirs) is removed on exit, pass or fail. Only loopback and the test's
# own network namespace are used, except the Debian mirror during the build (debootstrap/apt)
# when the base image or the builder layer is not cached yet.
#
# Usage: tests/image/test_image.sh [SOURCE_ROOT]   (run as root; needs buildah, runc, skopeo,
#        umoci, docker-registry, redis-server, curl, python3: tools/install-deps.sh). Not root
#        or no usable runtime: one line "SKIP: ...", exit 77.
set -euo pipefail

SRC="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SRC="$(cd "$SRC" && pwd)"
STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"
export STORAGE_DRIVER
BUILDAH=(buildah --storage-driver "$STORAGE_DRIVER")
MAX_BYTES=10000000 # 10 MB
NAME="rbench-action"
TAG="imagetest-$$-$(date +%s)"
LOCAL_REF="localhost/$NAME:$TAG"

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
  echo "test_image: error: $*" >&2
  exit 1
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: test_image must run as root (buildah, runc)"
  exit 77
fi
if ! why="$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import ocirun
ok, why = ocirun.usable(); print(why); sys.exit(0 if ok else 1)' "$HERE/../support")"; then
  echo "SKIP: $why"
  exit 77
fi
for tool in buildah docker-registry redis-server redis-cli curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (run tools/install-deps.sh)"
done

WORK="$(mktemp -d /tmp/rbench-image-test.XXXXXX)"
REG_PID=""
CTRS=()
IMAGES=()

stop_pid() { # stop_pid PID: TERM, wait up to 5 s, then KILL
  local pid="$1" i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? c i
  set +e
  stop_pid "$REG_PID"
  for c in "${CTRS[@]}"; do
    "${BUILDAH[@]}" umount "$c" >/dev/null 2>&1
    "${BUILDAH[@]}" rm "$c" >/dev/null 2>&1
  done
  for i in "${IMAGES[@]}"; do
    "${BUILDAH[@]}" rmi "$i" >/dev/null 2>&1
  done
  rm -rf --one-file-system "$WORK"
  if [ "$rc" -ne 0 ] && [ "$FAIL" -eq 0 ]; then
    echo "test_image: aborted (exit $rc)" >&2
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

# --- 1. registry --------------------------------------------------------------------------
# shellcheck source=tests/image/registry.sh
. "$(dirname "${BASH_SOURCE[0]}")/registry.sh"
REG_PORT="$(free_port)"
REG="127.0.0.1:$REG_PORT"
registry_start "$REG" "$WORK" && reg_ok=1 || reg_ok=0
REG_PID="$REGISTRY_PID"
if [ "$reg_ok" -eq 0 ]; then
  cat "$WORK/registry.log" >&2
  die "docker-registry did not start on $REG"
fi
ok "registry listening on $REG"

# --- 2. build and push --------------------------------------------------------------------
# the commit the build names (taken now: a commit made while the build runs must not count)
want_commit="$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
IMAGES+=("$LOCAL_REF" "$REG/$NAME:$TAG")
t0=$(date +%s)
# --prune: drop cached steps of earlier builds (vfs keeps ~450 MB per step), keep this one's
if ! "$SRC/tools/build-image.sh" --tag "$TAG" --push "$REG" --prune -q >"$WORK/build.log" 2>&1; then
  tail -n 80 "$WORK/build.log" >&2
  die "tools/build-image.sh failed"
fi
echo "# build and push took $(($(date +%s) - t0)) s"
grep -E '^(image|size|pushed|digest):|^build-image: (built|pruned)' "$WORK/build.log" | sed 's/^/# /'
ok "image built and pushed"

local_size="$(sed -n 's/^size: \([0-9]*\) bytes.*/\1/p' "$WORK/build.log")"
check "local image size ${local_size:-?} bytes < $MAX_BYTES" test "${local_size:-999999999}" -lt "$MAX_BYTES"

# --- 3. registry HTTP API -----------------------------------------------------------------
ACCEPT="application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json"
curl -fsS "http://$REG/v2/_catalog" >"$WORK/catalog.json"
check "catalog lists $NAME" python3 -c 'import json,sys; sys.exit(sys.argv[2] not in json.load(open(sys.argv[1]))["repositories"])' "$WORK/catalog.json" "$NAME"
curl -fsS "http://$REG/v2/$NAME/tags/list" >"$WORK/tags.json"
check "tags list has $TAG" python3 -c 'import json,sys; sys.exit(sys.argv[2] not in json.load(open(sys.argv[1]))["tags"])' "$WORK/tags.json" "$TAG"
curl -fsS -H "Accept: $ACCEPT" "http://$REG/v2/$NAME/manifests/$TAG" >"$WORK/manifest.json"
read -r pushed_bytes nlayers config_digest < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(sum(l["size"] for l in m["layers"]), len(m["layers"]), m["config"]["digest"])' "$WORK/manifest.json")
echo "# pushed image: $nlayers layer(s), $pushed_bytes bytes compressed (manifest layer sizes)"
check "pushed layers total $pushed_bytes bytes < $MAX_BYTES" test "$pushed_bytes" -lt "$MAX_BYTES"
check "pushed image has a single layer" test "$nlayers" -eq 1
# every layer blob is really there with the size the manifest claims
blobs_ok=1
while read -r digest size; do
  got="$(curl -fsS -o /dev/null -w '%{size_download}' "http://$REG/v2/$NAME/blobs/$digest")" || got=-1
  if [ "$got" != "$size" ]; then
    echo "# blob $digest: manifest says $size bytes, registry served $got" >&2
    blobs_ok=0
  fi
done < <(python3 -c 'import json,sys; [print(l["digest"], l["size"]) for l in json.load(open(sys.argv[1]))["layers"]]' "$WORK/manifest.json")
check "layer blobs downloadable with the manifest's sizes" test "$blobs_ok" -eq 1
curl -fsS "http://$REG/v2/$NAME/blobs/$config_digest" >"$WORK/config.json"
check "config: User 65534, Entrypoint [/rbench-action], exposes 8080/tcp, no Cmd" python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["config"]
sys.exit(not (c.get("User") == "65534" and c.get("Entrypoint") == ["/rbench-action"]
              and "8080/tcp" in (c.get("ExposedPorts") or {}) and not c.get("Cmd")))' "$WORK/config.json"

# pull it back: drop the pushed-name tag locally first so the pull really fetches
"${BUILDAH[@]}" rmi "$REG/$NAME:$TAG" >/dev/null 2>&1 || true
check "buildah pull from the registry" \
  "${BUILDAH[@]}" pull --quiet --tls-verify=false "docker://$REG/$NAME:$TAG" >/dev/null
check "pulled image inspects with Entrypoint /rbench-action" test \
  "$("${BUILDAH[@]}" inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$REG/$NAME:$TAG" 2>/dev/null)" = '[/rbench-action]'

# --- 4. the image root --------------------------------------------------------------------
CTR="$("${BUILDAH[@]}" from --pull-never --name "rbench-imagetest-$$" "$REG/$NAME:$TAG")"
CTRS+=("$CTR")
MNT="$("${BUILDAH[@]}" mount "$CTR")"
(cd "$MNT" && find . -mindepth 1 \( -type f -o -type l \) -printf '%P\n' | sort) >"$WORK/files.txt"
sed 's/^/# file: \//' "$WORK/files.txt"
shells=""
for s in bin/sh bin/bash bin/dash bin/ash bin/busybox usr/bin/sh usr/bin/bash usr/bin/dash \
  usr/bin/env bin/apt usr/bin/apt usr/bin/apt-get usr/bin/dpkg; do
  if [ -e "$MNT/$s" ] || [ -L "$MNT/$s" ]; then shells="$shells /$s"; fi
done
check "no shell or package manager in the image (found:${shells:- none})" test -z "$shells"
check "no bin/ or usr/ directories at all" test ! -e "$MNT/bin" -a ! -e "$MNT/usr" -a ! -e "$MNT/sbin"
unexpected="$(grep -Ev '^(rbench-action|etc/(passwd|group|hosts|nsswitch\.conf)|lib/[a-z0-9_-]+-linux-gnu/lib[A-Za-z0-9_.+-]+\.so[0-9.]*|lib64/ld-linux[A-Za-z0-9_.-]*\.so\.[0-9]+)$' "$WORK/files.txt" || true)"
check "only the binary, its libraries and 4 /etc files (unexpected: ${unexpected:-none})" test -z "$unexpected"
check "/rbench-action is executable" test -x "$MNT/rbench-action"
check "/etc/passwd has nobody as 65534" grep -q '^nobody:x:65534:65534:' "$MNT/etc/passwd"
# every DT_NEEDED of every ELF file resolves to a file inside the root (no host libraries)
missing_libs="$(python3 - "$MNT" <<'PY'
import os, struct, sys
root = sys.argv[1]
def needed(path):
    with open(path, "rb") as f:
        d = f.read()
    if d[:4] != b"\x7fELF" or d[4] != 2:
        return None
    shoff, = struct.unpack_from("<Q", d, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", d, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize) for i in range(shnum)]
    out = []
    for s in secs:
        if s[1] == 6:  # SHT_DYNAMIC
            strtab = secs[s[6]]
            for off in range(s[4], s[4] + s[5], 16):
                tag, val = struct.unpack_from("<qQ", d, off)
                if tag == 0:
                    break
                if tag == 1:  # DT_NEEDED
                    name = d[strtab[4] + val:d.index(b"\0", strtab[4] + val)].decode()
                    out.append(name)
    return out
libdirs = [os.path.join(root, p) for p in ("lib/x86_64-linux-gnu", "lib64", "lib/aarch64-linux-gnu")]
missing = set()
for dp, _, fs in os.walk(root):
    for fn in fs:
        p = os.path.join(dp, fn)
        if os.path.islink(p):
            continue
        for n in needed(p) or []:
            if not any(os.path.exists(os.path.join(ld, n)) for ld in libdirs):
                missing.add(n)
print(" ".join(sorted(missing)))
PY
)"
check "every ELF dependency is inside the image (missing: ${missing_libs:-none})" test -z "$missing_libs"

# --- 5. run it: pulled from the registry, under runc, as an invoker runs an action ---------
want_version="rbench-action $(sed -n 's/^project(rbench VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt") ($want_commit)"
run_images "$WORK/run_images.out" "$REG" "$TAG" --only action --action-version "$want_version"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
