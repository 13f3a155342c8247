#!/usr/bin/env bash
# build-image.sh: build the rbench-action image (action/Dockerfile) with buildah, no daemon,
# print its size, and optionally push it to a registry.
#
#   tools/build-image.sh                                  # builds localhost/rbench-action:<commit>
#   tools/build-image.sh --tag 1 --push 127.0.0.1:5000    # ... and pushes 127.0.0.1:5000/rbench-action:1
#
# The builder base (debian:bookworm) never comes from a registry: tools/make-base-image.sh
# makes it with debootstrap when it is missing, and the build runs with --pull-never.
# Runs as root with buildah's vfs storage driver and chroot isolation (no OCI runtime,
# no fuse-overlayfs needed). See docs/image.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

NAME="rbench-action"
TAG=""
PUSH=""
TLS_VERIFY=""
BASE_IMAGE="debian:bookworm"
QUIET=0
NO_CACHE=0
PRUNE=0
STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"
ISOLATION="${BUILDAH_ISOLATION:-chroot}"

usage() {
  cat <<'EOF'
Usage: tools/build-image.sh [--tag TAG] [--push REGISTRY] [options]

Builds action/Dockerfile with buildah into localhost/rbench-action:TAG and prints its size.

  --tag TAG          image tag (default: the git commit, short; "dev" outside git)
  --push REGISTRY    also push to REGISTRY/rbench-action:TAG, e.g. 127.0.0.1:5000
  --tls-verify BOOL  true|false for the push (default: false for localhost/127.x/[::1]
                     registries, which serve plain HTTP; true otherwise)
  --base IMAGE       builder base image (default debian:bookworm; must be in local storage,
                     the default one is made by tools/make-base-image.sh when missing)
  --no-cache         rebuild every step instead of reusing cached layers
  --prune            after the build, remove the unnamed (cache) images of earlier builds,
                     keeping this build's cached steps; named images are never touched
  -q, --quiet        write the build output to a log file and show it only on failure
  -h, --help         this text

Environment: STORAGE_DRIVER (default vfs), BUILDAH_ISOLATION (default chroot).
Prints, as its last lines, "image: NAME", "size: BYTES bytes (...)" and, after a push,
"pushed: REF" and "digest: DIGEST".
EOF
}

die() {
  echo "build-image: error: $*" >&2
  exit 1
}

need_value() {
  [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --tag)
      need_value "$1" $#
      TAG="$2"
      shift
      ;;
    --push)
      need_value "$1" $#
      PUSH="$2"
      shift
      ;;
    --tls-verify)
      need_value "$1" $#
      TLS_VERIFY="$2"
      shift
      ;;
    --base)
      need_value "$1" $#
      BASE_IMAGE="$2"
      shift
      ;;
    --no-cache) NO_CACHE=1 ;;
    --prune) PRUNE=1 ;;
    -q | --quiet) QUIET=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

if [ -z "$TAG" ]; then
  TAG="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || true)"
  [ -n "$TAG" ] || TAG="dev"
fi
# Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid tag '$TAG'"
case "$TLS_VERIFY" in
  "" | true | false) ;;
  *) die "--tls-verify must be true or false, not '$TLS_VERIFY'" ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root (buildah with the $STORAGE_DRIVER driver and chroot isolation)"
command -v buildah >/dev/null 2>&1 || die "buildah is not installed (run tools/install-deps.sh)"
command -v python3 >/dev/null 2>&1 || die "python3 is not installed (run tools/install-deps.sh)"
[ -f "$ROOT/action/Dockerfile" ] || die "$ROOT/action/Dockerfile not found"

BUILDAH=(buildah --storage-driver "$STORAGE_DRIVER")
LOCAL_REF="localhost/$NAME:$TAG"
start=$(date +%s)

# The builder base must already be local: this machine reaches no container registry.
if [ "$BASE_IMAGE" = "debian:bookworm" ] || [ "$BASE_IMAGE" = "docker.io/library/debian:bookworm" ]; then
  STORAGE_DRIVER="$STORAGE_DRIVER" "$HERE/make-base-image.sh"
elif ! "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  die "base image '$BASE_IMAGE' is not in local storage (buildah images); only debian:bookworm is made automatically"
fi

bud=("${BUILDAH[@]}" bud --isolation "$ISOLATION" --layers --force-rm --pull-never
  --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "GIT_COMMIT=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" -f "$ROOT/action/Dockerfile" -t "$LOCAL_REF")
if [ "$NO_CACHE" -eq 1 ]; then bud+=(--no-cache); fi
bud+=("$ROOT")

echo "build-image: building $LOCAL_REF (base $BASE_IMAGE, storage $STORAGE_DRIVER, isolation $ISOLATION)"
log="$(mktemp /tmp/rbench-build-image.XXXXXX.log)"
if [ "$QUIET" -eq 1 ]; then
  if ! "${bud[@]}" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    die "buildah bud failed (full log: $log)"
  fi
else
  if ! "${bud[@]}" 2>&1 | tee "$log"; then
    die "buildah bud failed (see the output above; full log: $log)"
  fi
fi
build_s=$(($(date +%s) - start))

if [ "$PRUNE" -eq 1 ]; then
  # Every step of this build printed its image id ("--> ID" or "--> Using cache ID"); the
  # unnamed images that are not among them are cached steps of earlier builds. With vfs each
  # one is a full copy of the builder's root (~450 MB), so they add up quickly.
  keep="$(grep -oE -- '^--> (Using cache )?[0-9a-f]{11,64}' "$log" | grep -oE '[0-9a-f]{11,64}$' || true)"
  pruned=0
  for pass in 1 2 3; do
    while read -r id; do
      [ -n "$id" ] || continue
      mine=0
      while read -r k; do
        if [ -n "$k" ] && [ "${id#"$k"}" != "$id" ]; then mine=1; break; fi
      done <<<"$keep"
      [ "$mine" -eq 0 ] || continue
      if "${BUILDAH[@]}" rmi "$id" >/dev/null 2>&1; then pruned=$((pruned + 1)); fi
    done < <("${BUILDAH[@]}" images -a --no-trunc --json 2>/dev/null | python3 -c '
import json, sys
for i in json.load(sys.stdin) or []:
    if not i.get("names"):
        print(i["id"].removeprefix("sha256:"))')
    [ "$pass" -lt 3 ] || break
  done
  echo "build-image: pruned $pruned cached image(s) of earlier builds"
fi
rm -f "$log"

# Exact size: the sum of the image's layers as stored locally (uncompressed tar bytes).
size_bytes="$("${BUILDAH[@]}" inspect --type image --format '{{.Manifest}}' "$LOCAL_REF" |
  python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')"
layers="$("${BUILDAH[@]}" inspect --type image --format '{{.Manifest}}' "$LOCAL_REF" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["layers"]))')"
human="$(python3 -c "import sys; b=int(sys.argv[1]); print(f'{b/1e6:.2f} MB, {b/1048576:.2f} MiB')" "$size_bytes")"

if [ -n "$PUSH" ]; then
  PUSH="${PUSH%/}"
  PUSH="${PUSH#docker://}"
  case "$PUSH" in
    http://* | https://*) die "--push takes a registry name like 127.0.0.1:5000, not a URL" ;;
  esac
  REMOTE_REF="$PUSH/$NAME:$TAG"
  if [ -z "$TLS_VERIFY" ]; then
    host="${PUSH%%/*}"
    case "$host" in
      localhost | localhost:* | 127.* | "[::1]" | "[::1]:"*) TLS_VERIFY=false ;;
      *) TLS_VERIFY=true ;;
    esac
  fi
  digestfile="$(mktemp /tmp/rbench-push-digest.XXXXXX)"
  echo "build-image: pushing $REMOTE_REF (tls-verify=$TLS_VERIFY)"
  # v2s2 (Docker schema 2) is understood by every Docker, containerd and CRI-O version.
  if ! "${BUILDAH[@]}" push --quiet --format v2s2 --retry 1 --tls-verify="$TLS_VERIFY" \
    --digestfile "$digestfile" "$LOCAL_REF" "docker://$REMOTE_REF"; then
    rm -f "$digestfile"
    die "push to $REMOTE_REF failed (is a registry listening on $PUSH? plain HTTP needs --tls-verify false)"
  fi
  digest="$(cat "$digestfile")"
  rm -f "$digestfile"
fi

echo "build-image: built in ${build_s} s, total $(($(date +%s) - start)) s"
echo "image: $LOCAL_REF"
echo "size: $size_bytes bytes ($human; $layers layer(s), uncompressed)"
if [ -n "$PUSH" ]; then
  echo "pushed: $REMOTE_REF"
  echo "digest: $digest"
fi
