#!/usr/bin/env bash
# source-configmap.sh: the sources the image build needs, as a deterministic tarball for the
# chart (helm/rbench/files/rbench-src.tar.gz) or as a ConfigMap for kubectl.
#
#   tools/lib/source-configmap.sh                        # writes helm/rbench/files/rbench-src.tar.gz
#   tools/lib/source-configmap.sh --output FILE          # writes FILE instead
#   tools/lib/source-configmap.sh --configmap [NAME]     # prints a ConfigMap (default rbench-source)
#   tools/lib/source-configmap.sh --list                 # prints the file list
#
# The tarball holds the git-tracked files of SOURCE_PATHS below (what tools/build.sh and the
# three Dockerfiles need), read from the work tree, in byte order of their names, with mtime
# 0, owner and group 0, modes 0644/0755, GNU tar format, gzip -n -9: the same tree always
# gives the same bytes. See docs/image.md.
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "${BASH_SOURCE[0]}")/args.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

# Everything the top-level CMakeLists.txt configures with RBENCH_TESTS=OFF, the Dockerfiles
# and the build scripts. Not tests/, docs/, scenarios/, helm/, manifests/.
SOURCE_PATHS=(CMakeLists.txt CMakePresets.json cmake common action agent job tools .dockerignore)
# A ConfigMap (all of it: data, metadata, the API server's own fields) must stay below 1 MiB.
LIMIT=1048576

OUTPUT="$ROOT/helm/rbench/files/rbench-src.tar.gz"
MODE=tarball
CM_NAME="rbench-source"
NAMESPACE=""

usage() {
  cat <<'USAGE'
Usage: tools/lib/source-configmap.sh [--output FILE | --configmap [NAME] | --list] [--namespace NS]

  (no option)        write helm/rbench/files/rbench-src.tar.gz (the chart's copy)
  --output FILE      write the tarball to FILE ("-" for standard output)
  --configmap [NAME] print a ConfigMap YAML (default name rbench-source) whose binaryData
                     key rbench-src.tar.gz holds the tarball, for
                     "kubectl apply --server-side -f -"
  --namespace NS     metadata.namespace of the ConfigMap (default: none, kubectl's -n)
  --list             print the files the tarball holds, one a line
  -h, --help         this text
USAGE
}

die() {
  echo "source-configmap: error: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --output)
      [ $# -ge 2 ] || rb_usage_error source-configmap "--output needs a value"
      OUTPUT="$2"
      shift
      ;;
    --configmap)
      MODE=configmap
      if [ $# -ge 2 ] && [ "${2#-}" = "$2" ]; then
        CM_NAME="$2"
        shift
      fi
      ;;
    --namespace)
      [ $# -ge 2 ] || rb_usage_error source-configmap "--namespace needs a value"
      NAMESPACE="$2"
      shift
      ;;
    --list) MODE=list ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) rb_usage_error source-configmap "unknown argument '$1'" ;;
  esac
  shift
done

# Kubernetes object names: a DNS-1123 subdomain.
name_re='^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$'
[[ "$CM_NAME" =~ $name_re ]] || die "'$CM_NAME' is not a valid ConfigMap name (lower case, digits, '-', '.')"
[ -z "$NAMESPACE" ] || [[ "$NAMESPACE" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || die "'$NAMESPACE' is not a valid namespace"

git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 || die "$ROOT is not a git work tree (the file list comes from git ls-files)"

files="$(cd "$ROOT" && git ls-files -z -- "${SOURCE_PATHS[@]}" | LC_ALL=C sort -z | tr '\0' '\n')"
[ -n "$files" ] || die "git ls-files found none of: ${SOURCE_PATHS[*]}"
while IFS= read -r f; do
  [ -f "$ROOT/$f" ] || die "$f is tracked by git but missing from the work tree"
done <<<"$files"

if [ "$MODE" = list ]; then
  printf '%s\n' "$files"
  exit 0
fi

make_tarball() { # make_tarball OUT
  # --mode normalises the work tree's umask away: only git's 0644/0755 distinction stays.
  printf '%s\n' "$files" | (cd "$ROOT" && LC_ALL=C tar --format=gnu --no-recursion \
    --mtime=@0 --owner=0 --group=0 --numeric-owner --mode='u=rwX,go=rX' \
    -cf - --verbatim-files-from -T -) | gzip -n -9 >"$1"
}

tmp="$(mktemp /tmp/rbench-src.XXXXXX)"
trap 'rm -f "$tmp"' EXIT
make_tarball "$tmp"

if [ "$MODE" = configmap ]; then
  size=$(stat -c %s "$tmp")
  b64=$(((size + 2) / 3 * 4))
  # base64 plus the YAML and metadata around it; the API server adds a few hundred bytes.
  [ $((b64 + 4096)) -lt "$LIMIT" ] || die "the tarball ($size bytes, $b64 in base64) does not fit in a ConfigMap (1 MiB)"
  echo "apiVersion: v1"
  echo "kind: ConfigMap"
  echo "metadata:"
  echo "  name: $CM_NAME"
  if [ -n "$NAMESPACE" ]; then echo "  namespace: $NAMESPACE"; fi
  echo "  labels:"
  echo "    app.kubernetes.io/name: rbench"
  echo "    app.kubernetes.io/component: source"
  echo "binaryData:"
  printf '  rbench-src.tar.gz: %s\n' "$(base64 -w0 "$tmp")"
  exit 0
fi

if [ "$OUTPUT" = "-" ]; then
  cat "$tmp"
else
  mkdir -p "$(dirname "$OUTPUT")"
  mv "$tmp" "$OUTPUT"
  chmod 0644 "$OUTPUT"
  echo "source-configmap: wrote $OUTPUT ($(stat -c %s "$OUTPUT") bytes, $(printf '%s\n' "$files" | wc -l) files)"
fi
