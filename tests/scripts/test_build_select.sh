#!/usr/bin/env bash
# test_build_select.sh: tools/build.sh and tools/build-image.sh without buildah, where only
# docker is present (a stand-in docker, tests/scripts/fakes/docker, that records its
# arguments; no engine runs here): the docker path is chosen by itself, runs exactly the
# expected build/tag/push commands, and prints the same machine-readable tail. Also the
# refusals: tag latest, an unknown image, an unknown builder, a registry that never answers.
# Usage: tests/scripts/test_build_select.sh SOURCE_ROOT
set -uo pipefail
SRC="$(cd "${1:?source root}" && pwd)"
WORK="$(mktemp -d /tmp/rbench-build-select.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
PASS=0
FAIL=0
check() { local w="$1"; shift; if "$@"; then PASS=$((PASS + 1)); echo "ok - $w"; else FAIL=$((FAIL + 1)); echo "not ok - $w"; fi; }

# A PATH with everything of /usr/bin and /bin except buildah, plus the stand-in docker.
mkdir -p "$WORK/bin"
for f in /usr/local/bin/* /usr/bin/* /bin/*; do
  b="$(basename "$f")"
  case "$b" in buildah | docker) continue ;; esac
  [ -e "$WORK/bin/$b" ] || ln -s "$f" "$WORK/bin/$b"
done
ln -s "$SRC/tests/scripts/fakes/docker" "$WORK/bin/docker"
export FAKE_DIR="$WORK/fake"
mkdir -p "$FAKE_DIR"
calls() { python3 -c 'import json,sys; [print(" ".join(json.loads(l))) for l in open(sys.argv[1])]' "$FAKE_DIR/calls.jsonl"; }

PATH="$WORK/bin" "$SRC/tools/build.sh" --tag t1 --push 127.0.0.1:5000 --images action,runner >"$WORK/out" 2>&1
check "build.sh without buildah exits 0 with docker" test $? -eq 0
commit="$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
cat >"$WORK/want" <<W
docker build --build-arg BASE_IMAGE=debian:bookworm --build-arg GIT_COMMIT=$commit -f $SRC/action/Dockerfile -t localhost/rbench-action:t1 $SRC
docker image inspect --format {{.Size}} localhost/rbench-action:t1
docker tag localhost/rbench-action:t1 127.0.0.1:5000/rbench-action:t1
docker push 127.0.0.1:5000/rbench-action:t1
docker image inspect --format {{range .RepoDigests}}{{println .}}{{end}} 127.0.0.1:5000/rbench-action:t1
docker build --build-arg BASE_IMAGE=debian:bookworm --build-arg GIT_COMMIT=$commit -f $SRC/job/Dockerfile -t localhost/rbench:t1 $SRC
docker image inspect --format {{.Size}} localhost/rbench:t1
docker tag localhost/rbench:t1 127.0.0.1:5000/rbench:t1
docker push 127.0.0.1:5000/rbench:t1
docker image inspect --format {{range .RepoDigests}}{{println .}}{{end}} 127.0.0.1:5000/rbench:t1
W
calls >"$WORK/got"
check "docker path: exactly build, inspect, tag, push, inspect per image" diff -u "$WORK/want" "$WORK/got"
tail -n 5 "$WORK/out" >"$WORK/tail"
check "the machine-readable tail: pushed/digest per image, then build: ok" python3 - "$WORK/tail" <<'PY'
import re, sys
l = open(sys.argv[1]).read().splitlines()
sys.exit(not (len(l) == 5 and l[0] == "pushed: 127.0.0.1:5000/rbench-action:t1" and re.fullmatch(r"digest: sha256:[0-9a-f]{64}", l[1])
              and l[2] == "pushed: 127.0.0.1:5000/rbench:t1" and re.fullmatch(r"digest: sha256:[0-9a-f]{64}", l[3]) and l[4] == "build: ok"))
PY
: >"$FAKE_DIR/calls.jsonl"
PATH="$SRC/tests/scripts/fakes:$PATH" "$SRC/tools/build-image.sh" --builder docker --image agent --tag t2 >"$WORK/out" 2>&1
rc=$?
calls >"$WORK/got"
check "build-image.sh --builder docker --image agent (buildah present or not): agent/Dockerfile, no push" \
  bash -c '[ "$1" -eq 0 ] && [ "$(wc -l <"$2")" -eq 2 ] && grep -q "agent/Dockerfile -t localhost/rbench-agent:t2" "$2"' _ "$rc" "$WORK/got"
PATH="$WORK/bin" "$SRC/tools/build.sh" --tag latest >"$WORK/out" 2>&1
check "tag latest is refused" bash -c '[ "$1" -ne 0 ] && grep -q "tag .latest. is refused" "$2"' _ $? "$WORK/out"
PATH="$WORK/bin" "$SRC/tools/build.sh" --images action,web >"$WORK/out" 2>&1
check "an unknown image is refused" bash -c '[ "$1" -ne 0 ] && grep -q "unknown image .web." "$2"' _ $? "$WORK/out"
"$SRC/tools/build-image.sh" --builder podman >"$WORK/out" 2>&1
check "an unknown builder is refused" bash -c '[ "$1" -ne 0 ] && grep -q "builder must be buildah or docker" "$2"' _ $? "$WORK/out"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PATH="$WORK/bin" "$SRC/tools/build.sh" --tag t3 --push "127.0.0.1:$port" --wait-registry 2 >"$WORK/out" 2>&1
check "--wait-registry gives up with the registry's URL when none answers" \
  bash -c '[ "$1" -ne 0 ] && grep -q "no registry answered at http://127.0.0.1:$2/v2/ within 2 s" "$3"' _ $? "$port" "$WORK/out"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
