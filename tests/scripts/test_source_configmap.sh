#!/usr/bin/env bash
# test_source_configmap.sh: the source tarball the chart ships (helm/rbench/files/
# rbench-src.tar.gz) and the ConfigMap tools/lib/source-configmap.sh prints:
#   - the chart's copy is byte-identical to a fresh generation (regenerate it after changing
#     any file it holds: tools/lib/source-configmap.sh);
#   - two generations are byte-identical (deterministic);
#   - the ConfigMap, base64 and YAML included, stays below the 1 MiB object limit, and
#     decodes back to the same tarball;
#   - it holds what the build needs and nothing of tests/, docs/, helm/, local.env.
# Usage: tests/scripts/test_source_configmap.sh SOURCE_ROOT
set -uo pipefail
SRC="$(cd "${1:?source root}" && pwd)"
WORK="$(mktemp -d /tmp/rbench-srccm-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
PASS=0
FAIL=0
check() { local w="$1"; shift; if "$@"; then PASS=$((PASS + 1)); echo "ok - $w"; else FAIL=$((FAIL + 1)); echo "not ok - $w"; fi; }
LIMIT=1048576

"$SRC/tools/lib/source-configmap.sh" --output "$WORK/a.tar.gz" >/dev/null
"$SRC/tools/lib/source-configmap.sh" --output "$WORK/b.tar.gz" >/dev/null
check "two generations are byte-identical" cmp -s "$WORK/a.tar.gz" "$WORK/b.tar.gz"
check "helm/rbench/files/rbench-src.tar.gz is byte-identical to a fresh generation (else run tools/lib/source-configmap.sh)" \
  cmp -s "$WORK/a.tar.gz" "$SRC/helm/rbench/files/rbench-src.tar.gz"
"$SRC/tools/lib/source-configmap.sh" --configmap >"$WORK/cm.yaml"
size=$(stat -c %s "$WORK/cm.yaml")
echo "# tarball $(stat -c %s "$WORK/a.tar.gz") bytes, ConfigMap YAML $size bytes (limit $LIMIT)"
# the API server stores it as JSON with its own metadata: keep 16 KiB of room for that
check "the ConfigMap ($size bytes) stays below 1 MiB with room for the server's metadata" test $((size + 16384)) -lt "$LIMIT"
python3 - "$WORK/cm.yaml" "$WORK/a.tar.gz" <<'PY'
import base64, sys
lines = open(sys.argv[1]).read().splitlines()
ok = lines[:4] == ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: rbench-source"] and "binaryData:" in lines
b64 = [l.split(": ", 1)[1] for l in lines if l.startswith("  rbench-src.tar.gz: ")]
ok = ok and len(b64) == 1 and base64.b64decode(b64[0]) == open(sys.argv[2], "rb").read()
sys.exit(not ok)
PY
check "the ConfigMap is named rbench-source and its binaryData decodes to the tarball" test $? -eq 0
"$SRC/tools/lib/source-configmap.sh" --configmap my-src --namespace bench | head -n 5 >"$WORK/head"
check "--configmap NAME --namespace NS" bash -c 'grep -qx "  name: my-src" "$1" && grep -qx "  namespace: bench" "$1"' _ "$WORK/head"
"$SRC/tools/lib/source-configmap.sh" --configmap Bad_Name >/dev/null 2>"$WORK/err"
check "an invalid ConfigMap name is refused with the reason" bash -c '[ "$1" -ne 0 ] && grep -q "is not a valid ConfigMap name" "$2"' _ $? "$WORK/err"
tar -tzf "$WORK/a.tar.gz" | sort >"$WORK/list"
check "it holds the build's files (CMakeLists.txt, the three Dockerfiles, tools/build.sh)" bash -c '
  for f in CMakeLists.txt action/Dockerfile agent/Dockerfile job/Dockerfile tools/build.sh tools/build-image.sh .dockerignore; do grep -qx "$f" "$2" || exit 1; done' _ x "$WORK/list"
check "nothing of tests/, docs/, helm/, manifests/, scenarios/ or env files" \
  bash -c '! grep -E "^(tests|docs|helm|manifests|scenarios)/|(^|/)local\.env$|\.git/" "$1"' _ "$WORK/list"
check "owners 0:0 and mtime 0" bash -c '! tar -tvzf "$1" | grep -v " 0/0 .* 1970-01-01 00:00 "' _ "$WORK/a.tar.gz"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
