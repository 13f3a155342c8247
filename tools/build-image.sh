#!/usr/bin/env bash
# build-image.sh: build one rbench image (action/, agent/ or job/Dockerfile) with buildah, no
# daemon (or docker where only docker is present), print its size, and optionally push it.
#
#   tools/build-image.sh                                  # builds localhost/rbench-action:<commit>
#   tools/build-image.sh --tag 1 --push 127.0.0.1:5000    # ... and pushes 127.0.0.1:5000/rbench-action:1
#   tools/build-image.sh --image agent --tag 1            # localhost/rbench-agent:1 (runner: rbench)
#
# The builder base (debian:bookworm) never comes from a registry: tools/lib/make-base-image.sh
# makes it with debootstrap when it is missing, and the build runs with --pull-never.
# Runs as root with buildah's vfs storage driver and chroot isolation (no OCI runtime,
# no fuse-overlayfs needed). See docs/image.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=tools/lib/args.sh
. "$HERE/lib/args.sh"

IMAGE="action"
BUILDER="${RBENCH_BUILDER:-}"
STEPS_FILE=""
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
Usage: tools/build-image.sh [--image action|agent|runner] [--tag TAG] [--push REGISTRY] [options]

Builds one image with buildah into localhost/NAME:TAG and prints its size:
  action  action/Dockerfile -> rbench-action (default)
  agent   agent/Dockerfile  -> rbench-agent
  runner  job/Dockerfile    -> rbench

  --image WHICH      action, agent or runner (default action)
  --tag TAG          image tag (default: the git commit, short; "dev" outside git)
  --push REGISTRY    also push to REGISTRY/NAME:TAG, e.g. 127.0.0.1:5000
  --tls-verify BOOL  true|false for the push (default: false for localhost/127.x/[::1]
                     registries, which serve plain HTTP; true otherwise)
  --base IMAGE       builder base image (default debian:bookworm; must be in local storage,
                     the default one is made by tools/lib/make-base-image.sh when missing)
  --no-cache         rebuild every step instead of reusing cached layers
  --prune            after the build, remove the unnamed (cache) images of earlier builds,
                     keeping this build's cached steps; named images are never touched
  --builder WHICH    buildah or docker (default: buildah when installed, else docker);
                     docker builds with the daemon's own storage and pulls debian:bookworm
  --steps-file FILE  append this build's cached step ids to FILE, and with --prune keep
                     the ids already listed there too (tools/build.sh builds three images)
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
  [ "$2" -ge 2 ] || rb_usage_error build-image "$1 needs a value"
}

# The docker path: the daemon has its own layer cache and can pull the base image, so it is
# a plain build, tag and push. It prints the same machine-readable lines as the buildah path.
build_with_docker() {
  local local_ref="localhost/$NAME:$TAG" remote_ref="" size digest=""
  echo "build-image: building $local_ref with docker (base $BASE_IMAGE)"
  local bud=(docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "GIT_COMMIT=$GIT_COMMIT"
    -f "$ROOT/$DOCKERFILE" -t "$local_ref")
  if [ "$NO_CACHE" -eq 1 ]; then bud+=(--no-cache); fi
  if [ "$QUIET" -eq 1 ]; then bud+=(--quiet); fi
  "${bud[@]}" "$ROOT" || die "docker build failed"
  size="$(docker image inspect --format '{{.Size}}' "$local_ref")" || die "docker image inspect $local_ref failed"
  if [ -n "$PUSH" ]; then
    PUSH="${PUSH%/}"
    PUSH="${PUSH#docker://}"
    remote_ref="$PUSH/$NAME:$TAG"
    # Docker treats 127.0.0.0/8 registries as insecure (plain HTTP) by itself; any other
    # plain-HTTP registry must be listed in the daemon's insecure-registries.
    docker tag "$local_ref" "$remote_ref" || die "docker tag failed"
    docker push "$remote_ref" || die "push to $remote_ref failed (is a registry listening on $PUSH?)"
    digest="$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$remote_ref" |
      sed -n "s|^$PUSH/$NAME@||p" | head -n 1)"
    [ -n "$digest" ] || die "docker did not report a digest for $remote_ref"
  fi
  echo "image: $local_ref"
  echo "size: $size bytes (docker image size)"
  if [ -n "$PUSH" ]; then
    echo "pushed: $remote_ref"
    echo "digest: $digest"
  fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --tag)
      need_value "$1" $#
      TAG="$2"
      shift
      ;;
    --image)
      need_value "$1" $#
      IMAGE="$2"
      shift
      ;;
    --builder)
      need_value "$1" $#
      BUILDER="$2"
      shift
      ;;
    --steps-file)
      need_value "$1" $#
      STEPS_FILE="$2"
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
    *) rb_usage_error build-image "unknown argument '$1'" ;;
  esac
  shift
done

case "$IMAGE" in
  action) NAME="rbench-action" DOCKERFILE="action/Dockerfile" ;;
  agent) NAME="rbench-agent" DOCKERFILE="agent/Dockerfile" ;;
  runner) NAME="rbench" DOCKERFILE="job/Dockerfile" ;;
  *) die "--image must be action, agent or runner, not '$IMAGE'" ;;
esac
if [ -z "$BUILDER" ]; then
  if command -v buildah >/dev/null 2>&1; then BUILDER=buildah
  elif command -v docker >/dev/null 2>&1; then BUILDER=docker
  else die "neither buildah nor docker is installed (tools/install-deps.sh installs buildah)"
  fi
fi
case "$BUILDER" in
  buildah | docker) ;;
  *) die "--builder must be buildah or docker, not '$BUILDER'" ;;
esac

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

[ -f "$ROOT/$DOCKERFILE" ] || die "$ROOT/$DOCKERFILE not found"
GIT_COMMIT="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo "${RBENCH_GIT_COMMIT:-unknown}")"
if [ "$BUILDER" = docker ]; then
  build_with_docker
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (buildah with the $STORAGE_DRIVER driver and chroot isolation)"
command -v buildah >/dev/null 2>&1 || die "buildah is not installed (run tools/install-deps.sh)"
command -v python3 >/dev/null 2>&1 || die "python3 is not installed (run tools/install-deps.sh)"

BUILDAH=(buildah --storage-driver "$STORAGE_DRIVER")
LOCAL_REF="localhost/$NAME:$TAG"
start=$(date +%s)

# The builder base must already be local: this machine reaches no container registry.
if [ "$BASE_IMAGE" = "debian:bookworm" ] || [ "$BASE_IMAGE" = "docker.io/library/debian:bookworm" ]; then
  STORAGE_DRIVER="$STORAGE_DRIVER" "$HERE/lib/make-base-image.sh"
elif ! "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  die "base image '$BASE_IMAGE' is not in local storage (buildah images); only debian:bookworm is made automatically"
fi

bud=("${BUILDAH[@]}" bud --isolation "$ISOLATION" --layers --force-rm --pull-never
  --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "GIT_COMMIT=$GIT_COMMIT" -f "$ROOT/$DOCKERFILE" -t "$LOCAL_REF")
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

# Every step of this build printed its image id ("--> ID" or "--> Using cache ID").
steps="$(grep -oE -- '^--> (Using cache )?[0-9a-f]{11,64}' "$log" | grep -oE '[0-9a-f]{11,64}$' || true)"
if [ -n "$STEPS_FILE" ]; then
  [ -z "$steps" ] || printf '%s\n' "$steps" >>"$STEPS_FILE"
fi
if [ "$PRUNE" -eq 1 ]; then
  # The unnamed images that are not steps of this build (or of the builds listed in
  # --steps-file) are cached steps of earlier builds. With vfs each one is a full copy of
  # the builder's root (~450 MB), so they add up quickly.
  keep="$steps"
  if [ -n "$STEPS_FILE" ] && [ -s "$STEPS_FILE" ]; then keep="$(cat "$STEPS_FILE")"; fi
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
