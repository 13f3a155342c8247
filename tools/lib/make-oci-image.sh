#!/bin/sh
# make-oci-image.sh: an OCI image of binaries built here, in seconds and without buildah, laid
# out as the Dockerfiles' last stage lays out theirs: the root staged by
# tools/lib/stage-image-root.sh (the stripped binaries, exactly the libraries ldd lists, the
# /etc files for nobody and name resolution) as its one layer, ENTRYPOINT the given path, USER
# 65534, no Cmd. The image is tagged TAG in the OCI layout LAYOUT (made when missing), which
# runc, umoci and skopeo take as oci:LAYOUT:TAG (e.g. rbench run --action-image).
#
# Usage: tools/lib/make-oci-image.sh [--ca-certificates] LAYOUT TAG ENTRYPOINT BINARY...
#        tools/lib/make-oci-image.sh --root DIR LAYOUT TAG ENTRYPOINT
#
# --ca-certificates  also the CA bundle (stage-image-root.sh's option; the runner image has it)
# --root DIR         DIR as the image's root, as it is (no staging): e.g. a staged root changed
#                    on purpose by a test
# Needs umoci (tools/install-deps.sh) and, to stage, ldd and strip. The tests and
# tools/bench/bench-containers.sh use it; the images pushed to a registry come from
# tools/build-image.sh.
set -eu

case "${1:-}" in
  -h | --help) sed -n '2,/^set -eu$/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
esac
ca=""
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ca-certificates) ca="--ca-certificates"; shift ;;
    --root)
      [ $# -ge 2 ] || { echo "make-oci-image: error: --root needs a directory" >&2; exit 2; }
      root="$2"
      shift 2
      ;;
    -*) echo "make-oci-image: error: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ -n "$root" ]; then
  [ $# -eq 3 ] || { echo "usage: make-oci-image.sh --root DIR LAYOUT TAG ENTRYPOINT" >&2; exit 2; }
  [ -d "$root" ] || { echo "make-oci-image: error: --root $root is not a directory" >&2; exit 2; }
else
  [ $# -ge 4 ] || { echo "usage: make-oci-image.sh [--ca-certificates] LAYOUT TAG ENTRYPOINT BINARY..." >&2; exit 2; }
fi
layout="$1"
tag="$2"
entry="$3"
shift 3
command -v umoci >/dev/null 2>&1 || { echo "make-oci-image: error: umoci is not installed (tools/install-deps.sh)" >&2; exit 1; }

staged=""
cleanup() { [ -z "$staged" ] || rm -rf "$staged"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ -z "$root" ]; then
  staged="$(mktemp -d "${TMPDIR:-/tmp}/rbench-oci-root.XXXXXX")"
  root="$staged/root"
  # shellcheck disable=SC2086 # $ca: empty or one word
  sh "$(dirname "$0")/stage-image-root.sh" $ca "$root" "$@" >/dev/null
fi
[ -f "$layout/index.json" ] || umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci insert --image "$layout:$tag" "$root" / >/dev/null
umoci config --image "$layout:$tag" --config.entrypoint "$entry" --config.user 65534
