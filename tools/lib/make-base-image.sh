#!/usr/bin/env bash
# make-base-image.sh: make sure buildah's local storage holds the builder base image
# (docker.io/library/debian:bookworm) without pulling it from a container registry.
#
# When the image is already there this only checks and returns (well under a second).
# Otherwise it builds a Debian 12 minbase root filesystem with debootstrap from the Debian
# mirror, copies it into an empty (scratch) buildah container and commits that under the
# official image's name, so `FROM debian:bookworm` in action/Dockerfile resolves locally.
#
# Usage: tools/lib/make-base-image.sh [--force] [--image NAME] [--mirror URL]
# Environment: STORAGE_DRIVER (default vfs) is passed to every buildah command.
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

IMAGE="docker.io/library/debian:bookworm"
SUITE="bookworm"
MIRROR="http://deb.debian.org/debian"
SECURITY_MIRROR="http://deb.debian.org/debian-security"
KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"
FORCE=0
STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"

usage() {
  cat <<'EOF'
Usage: tools/lib/make-base-image.sh [--force] [--image NAME] [--mirror URL]

Puts a Debian 12 (bookworm) base image into buildah's local storage, made with
debootstrap --variant=minbase from the Debian mirror (no container registry needed).

  --force        rebuild even when the image is already present
  --image NAME   name to commit (default docker.io/library/debian:bookworm)
  --mirror URL   Debian mirror for debootstrap (default http://deb.debian.org/debian)

Environment: STORAGE_DRIVER (default vfs). Must run as root.
EOF
}

die() {
  echo "make-base-image: error: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --image)
      [ $# -ge 2 ] || rb_usage_error make-base-image "--image needs a value"
      IMAGE="$2"
      shift
      ;;
    --mirror)
      [ $# -ge 2 ] || rb_usage_error make-base-image "--mirror needs a value"
      MIRROR="$2"
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) rb_usage_error make-base-image "unknown argument '$1'" ;;
  esac
  shift
done

BUILDAH=(buildah --storage-driver "$STORAGE_DRIVER")

command -v buildah >/dev/null 2>&1 || die "buildah is not installed (run tools/install-deps.sh)"

if [ "$FORCE" -eq 0 ] && "${BUILDAH[@]}" inspect --type image "$IMAGE" >/dev/null 2>&1; then
  echo "make-base-image: $IMAGE already in local storage"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and buildah mount need it)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (run tools/install-deps.sh)"
[ -r "$KEYRING" ] || die "$KEYRING missing (install debian-archive-keyring)"

WORK=""
CTR=""
cleanup() {
  local rc=$?
  if [ -n "$CTR" ]; then
    "${BUILDAH[@]}" umount "$CTR" >/dev/null 2>&1 || true
    "${BUILDAH[@]}" rm "$CTR" >/dev/null 2>&1 || true
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    # debootstrap may leave /proc or /sys mounted inside the root after a failure.
    for m in proc sys dev/pts dev; do
      if mountpoint -q "$WORK/rootfs/$m" 2>/dev/null; then umount -l "$WORK/rootfs/$m" || true; fi
    done
    rm -rf --one-file-system "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORK="$(mktemp -d /var/tmp/rbench-base.XXXXXX)"
ROOT="$WORK/rootfs"
start=$(date +%s)

echo "make-base-image: debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes)"
if ! debootstrap --variant=minbase --keyring="$KEYRING" "$SUITE" "$ROOT" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1; then
  tail -n 30 "$WORK/debootstrap.log" >&2
  if [ -f "$ROOT/debootstrap/debootstrap.log" ]; then
    tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
  fi
  die "debootstrap failed (is $MIRROR reachable?)"
fi

# Make the root look like the official image: the same apt sources, no cached package
# lists or .debs, no machine-specific files.
rm -f "$ROOT/etc/apt/sources.list"
cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat >"$ROOT/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/log/*.log
: >"$ROOT/etc/hostname"
: >"$ROOT/etc/resolv.conf"
rm -f "$ROOT/etc/machine-id"

echo "make-base-image: committing $IMAGE"
CTR="$("${BUILDAH[@]}" from scratch)"
MNT="$("${BUILDAH[@]}" mount "$CTR")"
# tar keeps owners, modes, hard links, device nodes and extended attributes.
tar -C "$ROOT" --numeric-owner --xattrs -cf - . | tar -C "$MNT" --numeric-owner --xattrs -xpf -
"${BUILDAH[@]}" umount "$CTR" >/dev/null
"${BUILDAH[@]}" config --os linux --arch "$(dpkg --print-architecture)" --cmd '["bash"]' \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --label org.opencontainers.image.description="Debian $SUITE minbase made by rbench tools/lib/make-base-image.sh" \
  "$CTR"
"${BUILDAH[@]}" commit --quiet --rm "$CTR" "$IMAGE" >/dev/null
CTR=""

echo "make-base-image: $IMAGE ready in $(($(date +%s) - start)) s"
