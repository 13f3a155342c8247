#!/usr/bin/env bash
# build.sh: the per-node build: builds the rbench-action, rbench-agent and rbench (runner)
# images with tools/build-image.sh and pushes them to a registry (default localhost:5000).
# The same script runs on a workstation and in the chart's image-builder init container.
#
#   tools/build.sh --tag 1                                # buildah (or docker), push to localhost:5000
#   tools/build.sh --install-tools --wait-registry 300 --tag 1 --push localhost:5000   # in-cluster
#
# Its last lines are machine-readable: "pushed: REF" and "digest: DIGEST" per image, then
# "build: ok". See docs/image.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=tools/lib/args.sh
. "$HERE/lib/args.sh"

TAG=""
PUSH="localhost:5000"
IMAGES="action,agent,runner"
INSTALL_TOOLS=0
WAIT_REGISTRY=0
BUILDER=""
PRUNE=1
QUIET=0

usage() {
  cat <<'USAGE'
Usage: tools/build.sh [--tag TAG] [--push REGISTRY | --no-push] [options]

Builds the images and pushes them to REGISTRY:
  action  -> REGISTRY/rbench-action:TAG   (action/Dockerfile)
  agent   -> REGISTRY/rbench-agent:TAG    (agent/Dockerfile)
  runner  -> REGISTRY/rbench:TAG          (job/Dockerfile)

  --tag TAG              image tag (default: the git commit, short; "dev" outside git);
                         "latest" is refused (OpenWhisk's action pods would pull it every time)
  --push REGISTRY        registry to push to (default localhost:5000)
  --no-push              build only (localhost/NAME:TAG in local storage)
  --images LIST          comma-separated subset of action,agent,runner (default all three)
  --builder WHICH        buildah or docker (default: buildah when installed, else docker)
  --install-tools        apt-get install buildah and what tools/build-image.sh needs when
                         missing (Debian; nothing is installed when all are present)
  --wait-registry SECS   wait up to SECS seconds for http://REGISTRY/v2/ to answer first
  --no-prune             keep the cached steps of earlier builds (default: remove them once
                         all images are built; named images are never touched)
  -q, --quiet            keep each build's output in a log, show it only on failure
  -h, --help             this text
USAGE
}

die() {
  echo "build: error: $*" >&2
  exit 1
}

need_value() {
  [ "$2" -ge 2 ] || rb_usage_error build "$1 needs a value"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) need_value "$1" $#; TAG="$2"; shift ;;
    --push) need_value "$1" $#; PUSH="$2"; shift ;;
    --no-push) PUSH="" ;;
    --images) need_value "$1" $#; IMAGES="$2"; shift ;;
    --builder) need_value "$1" $#; BUILDER="$2"; shift ;;
    --install-tools) INSTALL_TOOLS=1 ;;
    --wait-registry) need_value "$1" $#; WAIT_REGISTRY="$2"; shift ;;
    --no-prune) PRUNE=0 ;;
    -q | --quiet) QUIET=1 ;;
    -h | --help) usage; exit 0 ;;
    *) rb_usage_error build "unknown argument '$1'" ;;
  esac
  shift
done

[[ "$WAIT_REGISTRY" =~ ^[0-9]+$ ]] || die "--wait-registry takes whole seconds, not '$WAIT_REGISTRY'"
if [ -z "$TAG" ]; then
  TAG="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || true)"
  [ -n "$TAG" ] || TAG="dev"
fi
[ "$TAG" != "latest" ] || die "tag 'latest' is refused: Kubernetes pulls a :latest image for every new action pod"
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid tag '$TAG'"
PUSH="${PUSH%/}"
case "$PUSH" in
  http://* | https://*) die "--push takes a registry name like localhost:5000, not a URL" ;;
esac

list=()
IFS=',' read -r -a wanted <<<"$IMAGES"
for i in "${wanted[@]}"; do
  case "$i" in
    action | agent | runner) list+=("$i") ;;
    "") ;;
    *) die "--images: unknown image '$i' (action, agent, runner)" ;;
  esac
done
[ "${#list[@]}" -gt 0 ] || die "--images names no image"

# --- tools ---------------------------------------------------------------------------------
# What tools/build-image.sh and tools/lib/make-base-image.sh run, by Debian package.
install_tools() {
  local pkgs=() p
  command -v buildah >/dev/null 2>&1 || pkgs+=(buildah)
  command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
  command -v curl >/dev/null 2>&1 || pkgs+=(curl ca-certificates)
  command -v debootstrap >/dev/null 2>&1 || pkgs+=(debootstrap)
  [ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || pkgs+=(debian-archive-keyring)
  if [ "${#pkgs[@]}" -eq 0 ]; then
    echo "build: tools present"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "--install-tools needs apt-get (Debian); missing: ${pkgs[*]}"
  [ "$(id -u)" -eq 0 ] || die "--install-tools must run as root (missing: ${pkgs[*]})"
  echo "build: installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed (is the Debian mirror reachable?)"
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null || die "apt-get install ${pkgs[*]} failed"
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || die "package $p did not install"
  done
}
if [ "$INSTALL_TOOLS" -eq 1 ]; then install_tools; fi

# --- registry ------------------------------------------------------------------------------
if [ -n "$PUSH" ] && [ "$WAIT_REGISTRY" -gt 0 ]; then
  command -v curl >/dev/null 2>&1 || die "--wait-registry needs curl"
  scheme=https
  case "${PUSH%%/*}" in
    localhost | localhost:* | 127.* | "[::1]" | "[::1]:"*) scheme=http ;;
  esac
  url="$scheme://${PUSH%%/*}/v2/"
  echo "build: waiting up to ${WAIT_REGISTRY} s for $url"
  deadline=$(($(date +%s) + WAIT_REGISTRY))
  # Any HTTP answer counts (200, or 401 from a registry with auth): the registry is up.
  until code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" 2>/dev/null)" && [ "$code" != "000" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "no registry answered at $url within ${WAIT_REGISTRY} s"
    sleep 2
  done
  echo "build: registry at $url answers (HTTP $code)"
fi

# --- images --------------------------------------------------------------------------------
work="$(mktemp -d /tmp/rbench-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
summary=()
n=0
for img in "${list[@]}"; do
  n=$((n + 1))
  args=(--image "$img" --tag "$TAG" --steps-file "$work/steps")
  if [ -n "$PUSH" ]; then args+=(--push "$PUSH"); fi
  if [ -n "$BUILDER" ]; then args+=(--builder "$BUILDER"); fi
  if [ "$QUIET" -eq 1 ]; then args+=(-q); fi
  # Prune once, after the last image, keeping the steps of all of them.
  if [ "$PRUNE" -eq 1 ] && [ "$n" -eq "${#list[@]}" ]; then args+=(--prune); fi
  echo "build: [$n/${#list[@]}] $img"
  if ! "$HERE/build-image.sh" "${args[@]}" 2>&1 | tee "$work/$img.log"; then
    die "building the $img image failed (see above)"
  fi
  while IFS= read -r line; do summary+=("$line"); done < <(grep -E '^(pushed|digest|image): ' "$work/$img.log")
done

for line in "${summary[@]}"; do
  case "$line" in
    image:*) if [ -z "$PUSH" ]; then echo "$line"; fi ;;
    *) echo "$line" ;;
  esac
done
echo "build: ok"
