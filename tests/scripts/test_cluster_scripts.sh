#!/usr/bin/env bash
# test_cluster_scripts.sh: tools/deploy.sh, tools/smoke.sh and tools/fetch-results.sh against
# the stand-in kubectl and wsk of tests/scripts/fakes (first on PATH; they record every
# argument and answer as the real CLIs do). Asserts the exact commands, that no secret is in
# any recorded argument or in the output, the failure cases (ImagePullBackOff, a node without
# a builder pod, a failed build, an action error, a wrong operation count), and that what
# fetch-results.sh writes is taken by the real `rbench compare` and `rbench report` as is
# (documents made by the real runner, rbench-action and rbench-agent against redis-server).
#
# Usage: tests/scripts/test_cluster_scripts.sh SOURCE_ROOT BUILD_DIR
set -uo pipefail

SRC="$(cd "${1:?source root}" && pwd)"
BUILD="$(cd "${2:?build dir}" && pwd)"
WORK="$(mktemp -d /tmp/rbench-scripts-test.XXXXXX)"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { local w="$1"; shift; if "$@"; then ok "$w"; else not_ok "$w"; fi; }

export PATH="$SRC/tests/scripts/fakes:$PATH"
PASSWORD="s3cret-Redis-pw-91xq"
AUTHKEY="23bc46b1-71f6-4ed5-8c54-816aa4f8c502:OWkeySecretZ7"

# new_fake: an empty fixture directory with a healthy two-node cluster (one worker, one
# tainted control-plane node the DaemonSet does not tolerate).
new_fake() {
  export FAKE_DIR="$WORK/fake.$1"
  rm -rf "$FAKE_DIR"
  mkdir -p "$FAKE_DIR/logs"
  printf '%s' "$(printf '%s' "$PASSWORD" | base64)" >"$FAKE_DIR/secret.b64"
  cat >"$FAKE_DIR/ds.json" <<'J'
{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"rbench-image-builder"},
 "spec":{"template":{"spec":{"initContainers":[{"name":"build","image":"docker.io/library/debian:bookworm",
 "command":["/bin/bash","-ec","mkdir -p /workspace/src\ntar -xzf /rbench-src/rbench-src.tar.gz -C /workspace/src\ncd /workspace/src\nexec tools/build.sh --install-tools --wait-registry 300 --tag 0.1.0 --push localhost:5000\n"]}],
 "containers":[{"name":"ready","image":"docker.io/library/debian:bookworm"}]}}}}
J
  cat >"$FAKE_DIR/nodes.json" <<'J'
{"apiVersion":"v1","kind":"List","items":[
 {"metadata":{"name":"cp-1","labels":{"node-role.kubernetes.io/control-plane":""}},
  "spec":{"taints":[{"key":"node-role.kubernetes.io/control-plane","effect":"NoSchedule"}]}},
 {"metadata":{"name":"worker-1","labels":{}},"spec":{}},
 {"metadata":{"name":"worker-2","labels":{}},"spec":{}}]}
J
  pods_json ok ok
}
# pods_json STATE1 STATE2: builder pods for worker-1 and worker-2 in the given state
# (ok, pullbackoff, failed, crashloop, missing, running)
pods_json() {
  python3 - "$1" "$2" >"$FAKE_DIR/pods.json" <<'PY'
import json, sys
def pod(node, state, i):
    name = "rbench-image-builder-%s" % ("abcde", "fghij")[i]
    st = {"name": "build", "image": "docker.io/library/debian:bookworm", "restartCount": 0}
    phase = "Running"
    if state == "ok":
        st["state"] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    elif state == "failed":
        st["state"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
        phase = "Pending"
    elif state == "crashloop":
        st["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=build"}}
        st["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
        st["restartCount"] = 3
        phase = "Pending"
    elif state == "pullbackoff":
        st["state"] = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"docker.io/library/debian:bookworm\""}}
        phase = "Pending"
    elif state == "running":
        st["state"] = {"running": {"startedAt": "2026-12-03T07:00:00Z"}}
        phase = "Pending"
    return {"metadata": {"name": name, "creationTimestamp": "2026-12-03T06:5%d:00Z" % i,
                         "labels": {"app.kubernetes.io/component": "image-builder", "app.kubernetes.io/instance": "rbench"}},
            "spec": {"nodeName": node}, "status": {"phase": phase, "initContainerStatuses": [st]}}
items = [pod(n, s, i) for i, (n, s) in enumerate((("worker-1", sys.argv[1]), ("worker-2", sys.argv[2]))) if s != "missing"]
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
PY
}
# calls: the recorded commands, one a line, arguments separated by single spaces
calls() { python3 -c 'import json,sys; [print(" ".join(json.loads(l))) for l in open(sys.argv[1])]' "$FAKE_DIR/calls.jsonl" 2>/dev/null; }
no_secret_in() { ! grep -qF -e "$PASSWORD" -e "OWkeySecretZ7" -e "$(printf '%s' "$PASSWORD" | base64)" "$@"; }

# --- deploy.sh: the healthy cluster ---------------------------------------------------------
new_fake deploy-ok
"$SRC/tools/deploy.sh" --timeout 60 >"$WORK/out" 2>&1
rc=$?
check "deploy: healthy cluster exits 0" test "$rc" -eq 0
cat >"$WORK/want" <<'W'
kubectl -n rbench get daemonset rbench-image-builder -o json
kubectl -n rbench rollout status daemonset/rbench-image-builder --timeout 60s
kubectl get nodes -o json
kubectl -n rbench get pods -l app.kubernetes.io/component=image-builder,app.kubernetes.io/instance=rbench -o json
kubectl -n rbench get secret rbench-redis -o jsonpath={.data.password}
wsk package update redis_benchmark
wsk action update redis_benchmark/redis_benchmark --docker localhost:5000/rbench-action:0.1.0 --param-file PARAMFILE
W
calls | sed "s|--param-file [^ ]*|--param-file PARAMFILE|" >"$WORK/got"
check "deploy: the exact kubectl and wsk commands, in order" diff -u "$WORK/want" "$WORK/got"
check "deploy: the tainted control-plane node is skipped, both workers ok" \
  grep -q 'node cp-1: skipped: taint node-role.kubernetes.io/control-plane:NoSchedule' "$WORK/out"
check "deploy: param file has the Service FQDNs, ports and the Secret's password" python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
sys.exit(p != {"redis_host": "rbench-redis.rbench.svc.cluster.local", "redis_port": 6379,
               "redis_password": sys.argv[2], "agent_host": "rbench-agent.rbench.svc.cluster.local", "agent_port": 6380})' \
  "$FAKE_DIR/paramfile.json" "$PASSWORD"
check "deploy: param file was mode 600" test "$(cat "$FAKE_DIR/paramfile.mode")" = 600
check "deploy: param file removed afterwards" test ! -e "$(cat "$FAKE_DIR/paramfile.path")"
check "deploy: no secret in any recorded argument" no_secret_in "$FAKE_DIR/calls.jsonl"
check "deploy: no secret in its output" no_secret_in "$WORK/out"

# --- deploy.sh: another release, env file with the OpenWhisk key and the Redis password ----
new_fake deploy-env
sed -i 's/rbench-image-builder/bench1-rbench-image-builder/' "$FAKE_DIR/ds.json"
rm "$FAKE_DIR/secret.b64"
cat >"$WORK/cluster.env" <<E
# cluster settings
OPENWHISK_APIHOST=https://ow.example:31001
OPENWHISK_AUTH="$AUTHKEY"
REDIS_PASSWORD='$PASSWORD'
E
"$SRC/tools/deploy.sh" --release bench1 --namespace bench --env "$WORK/cluster.env" --tag 7 -i >"$WORK/out" 2>&1
check "deploy --release bench1 --env: exits 0" test $? -eq 0
check "deploy --release bench1: names F=bench1-rbench, no Secret read (password from the env file)" \
  test "$(calls | grep -c 'bench1-rbench-image-builder')" -eq 2 -a "$(calls | grep -c 'get secret')" -eq 0
check "deploy --release bench1: hosts bench1-rbench-redis.bench.svc.cluster.local, tag 7, wsk -i" \
  bash -c 'grep -q "\"redis_host\": \"bench1-rbench-redis.bench.svc.cluster.local\"" "$1/paramfile.json" &&
           grep -qx "wsk -i action update redis_benchmark/redis_benchmark --docker localhost:5000/rbench-action:7 --param-file .*" <(python3 -c "import json,sys; [print(\" \".join(json.loads(l))) for l in open(sys.argv[1])]" "$1/calls.jsonl")' _ "$FAKE_DIR"
check "deploy --env: wsk got the key through WSK_CONFIG_FILE" grep -qx "AUTH=$AUTHKEY" "$FAKE_DIR/wskprops.seen"
check "deploy --env: no secret in any recorded argument or the output" no_secret_in "$FAKE_DIR/calls.jsonl" "$WORK/out"

# --- deploy.sh --concurrency: the action's limits.concurrency (wsk action update --concurrency) --
new_fake deploy-concurrency
echo 8 >"$FAKE_DIR/wsk.maxconc"
"$SRC/tools/deploy.sh" --no-wait --concurrency 8 >"$WORK/out" 2>&1
check "deploy --concurrency 8: exits 0 and says so" \
  bash -c '[ "$1" -eq 0 ] && grep -q "deploy: concurrency limit 8" "$2"' _ $? "$WORK/out"
check "deploy --concurrency 8: wsk action update ... --concurrency 8" \
  grep -qx "wsk action update redis_benchmark/redis_benchmark --docker localhost:5000/rbench-action:0.1.0 --param-file [^ ]* --concurrency 8" <(calls)
new_fake deploy-concurrency-max
"$SRC/tools/deploy.sh" --no-wait --concurrency 8 >"$WORK/out" 2>&1
check "deploy --concurrency 8 above OpenWhisk's maximum (1): exits 1 with wsk's error and the setting to raise" \
  bash -c '[ "$1" -eq 1 ] && grep -qF "Concurrency 8 exceeds allowed threshold of 1." "$2" &&
           grep -q "raise whisk.limits.actions.concurrency.max" "$2"' _ $? "$WORK/out"
for bad in 0 1001 two; do
  new_fake "deploy-concurrency-$bad"
  "$SRC/tools/deploy.sh" --no-wait --concurrency "$bad" >"$WORK/out" 2>&1
  check "deploy --concurrency $bad: usage error 2 naming the option, nothing run" \
    bash -c '[ "$1" -eq 2 ] && grep -q "\-\-concurrency takes a whole number from 1 to 1000, not .$3." "$2" && [ ! -s "$4" ]' \
    _ $? "$WORK/out" "$bad" "$FAKE_DIR/calls.jsonl"
done

# --- deploy.sh: failures --------------------------------------------------------------------
deploy_fails() { # deploy_fails LABEL STATE1 STATE2 EXPECTED_TEXT [ROLLOUT_RC]
  new_fake "deploy-$1"
  pods_json "$2" "$3"
  echo "${5:-1}" >"$FAKE_DIR/rollout.rc"
  printf 'step 1\nE: Unable to locate package buildah\nbuild: error: apt-get install buildah failed\n' >"$FAKE_DIR/logs/rbench-image-builder-fghij.txt"
  cp "$FAKE_DIR/logs/rbench-image-builder-fghij.txt" "$FAKE_DIR/logs/rbench-image-builder-fghij.previous.txt"
  "$SRC/tools/deploy.sh" --timeout 5 >"$WORK/out" 2>&1
  local rc=$?
  check "deploy: $1: exits 1 naming the node ($4)" bash -c '[ "$1" -eq 1 ] && grep -qF -- "$2" "$3"' _ "$rc" "$4" "$WORK/out"
  check "deploy: $1: wsk not run" bash -c '! grep -q "^\[\"wsk\"" "$1"' _ "$FAKE_DIR/calls.jsonl"
}
deploy_fails pullbackoff ok pullbackoff "node worker-2: pod rbench-image-builder-fghij cannot pull the builder image docker.io/library/debian:bookworm: ImagePullBackOff"
deploy_fails no-pod ok missing "node worker-2: no image-builder pod on this node"
deploy_fails build-failed ok failed "node worker-2: pod rbench-image-builder-fghij: build failed (exit 1); last lines of its log:"
check "deploy: build-failed: shows the build log's last lines" grep -q '    build: error: apt-get install buildah failed' "$WORK/out"
check "deploy: build-failed: ran kubectl logs POD -c build --tail 20" \
  bash -c 'calls() { python3 -c "import json,sys; [print(\" \".join(json.loads(l))) for l in open(sys.argv[1])]" "$1/calls.jsonl"; }; calls "$1" | grep -qx "kubectl -n rbench logs rbench-image-builder-fghij -c build --tail 20"' _ "$FAKE_DIR"
deploy_fails crashloop ok crashloop "build failed (exit 1, CrashLoopBackOff after 3 restart(s))"
check "deploy: crashloop: logs of the previous attempt (--previous)" grep -q 'logs rbench-image-builder-fghij -c build --tail 20 --previous' <(calls)
deploy_fails still-running ok running "node worker-2: pod rbench-image-builder-fghij: the build is still running"
new_fake deploy-nods
rm "$FAKE_DIR/ds.json"
"$SRC/tools/deploy.sh" >"$WORK/out" 2>&1
check "deploy: no DaemonSet: exits 1 and says install the chart first" \
  bash -c '[ "$1" -eq 1 ] && grep -q "daemonset rbench-image-builder not found in namespace rbench" "$2"' _ $? "$WORK/out"
new_fake deploy-loopback
printf 'REDIS_HOST=127.0.0.1\n' >"$WORK/bad.env"
"$SRC/tools/deploy.sh" --env "$WORK/bad.env" >"$WORK/out" 2>&1
check "deploy: REDIS_HOST=127.0.0.1 in the env file is refused (the action pod's loopback)" \
  bash -c '[ "$1" -eq 1 ] && grep -q "127.0.0.1 (from .*) is the action pod.s own loopback" "$2"' _ $? "$WORK/out"
printf 'REDIS_HOST=ok\nthis is not a setting\n' >"$WORK/bad.env"
"$SRC/tools/deploy.sh" --env "$WORK/bad.env" >"$WORK/out" 2>&1
check "deploy: a malformed env file line is reported as FILE:LINE" grep -q "bad.env:2: not a KEY=VALUE line" "$WORK/out"

# --- smoke.sh -------------------------------------------------------------------------------
new_fake smoke-ok
"$SRC/tools/smoke.sh" >"$WORK/out" 2>&1
check "smoke: exits 0 when both invocations report their operations" test $? -eq 0
cat >"$WORK/want" <<'W'
wsk action invoke redis_benchmark/redis_benchmark -r -p num_ops 1 -p operation_type set -p use_batching false
wsk action invoke redis_benchmark/redis_benchmark -r -p num_ops 10 -p operation_type set -p use_batching true -p parallel_calls 5
W
calls >"$WORK/got"
check "smoke: the seed's two invocations, exactly" diff -u "$WORK/want" "$WORK/got"
check "smoke: says ok for direct (redis) and batched (agent)" \
  bash -c 'grep -q "smoke: direct: ok: 1 operations via redis" "$1" && grep -q "smoke: batched: ok: 10 operations via agent" "$1"' _ "$WORK/out"
for mode in apperror wrongcount notfound; do
  new_fake "smoke-$mode"
  echo "$mode" >"$FAKE_DIR/wsk.mode"
  "$SRC/tools/smoke.sh" >"$WORK/out" 2>&1
  echo "$?" >"$WORK/rc"
  cp "$WORK/out" "$WORK/smoke-$mode.out"
  case "$mode" in
    apperror) want="smoke: direct: FAIL: wsk exited 1:" ;;
    wrongcount) want="smoke: batched: FAIL: asked for 10 operations, the action reports succeeded 1, failed 0" ;;
    notfound) want="The requested resource does not exist" ;;
  esac
  check "smoke: $mode: exits 1 with the reason ($want)" \
    bash -c '[ "$(cat "$1")" -eq 1 ] && grep -qF -- "$2" "$3" && grep -q "of 2 invocations failed" "$3"' _ "$WORK/rc" "$want" "$WORK/out"
done
check "smoke: apperror: the action's error message is shown" grep -q '"error": "1 of 1 operations failed' "$WORK/smoke-apperror.out"

# --- fetch-results.sh: documents made by the real runner -----------------------------------
for t in redis-server redis-cli; do command -v "$t" >/dev/null || { echo "test_cluster_scripts: $t missing"; exit 1; }; done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
RP="$(free_port)"
redis-server --bind 127.0.0.1 --port "$RP" --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
AP="$(free_port)"
"$BUILD/agent/rbench-agent" --listen "127.0.0.1:$AP" --redis "127.0.0.1:$RP" >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && redis-cli -p "$AP" ping >/dev/null 2>&1 && break; sleep 0.1; done
printf 'REDIS_PORT=%s\nBATCHING_AGENT_PORT=%s\n' "$RP" "$AP" >"$WORK/local.env"
cat >"$WORK/s.yaml" <<'Y'
name: fetchtest
target:
  kind: local
  pool_size: 2
defaults:
  rate: 20
  invocations: 6
  ops: 5
repetitions: 2
runs:
  - name: direct
    batching: false
  - name: batched
    batching: true
Y
"$BUILD/job/rbench" run -f "$WORK/s.yaml" --env "$WORK/local.env" --output "$WORK/runner-out/" --progress off >"$WORK/run.log" 2>&1
check "the real runner wrote 4 documents" test "$(find "$WORK/runner-out" -name '*.json' | wc -l)" -eq 4 || cat "$WORK/run.log"
# ConfigMaps as the runner publishes them (names F-results-RUNID-RUN-rN, label rbench.io/job,
# the batched r2 one summary-only: raw_results dropped, annotated, note key).
python3 - "$WORK/runner-out" >"$WORK/cms.json" <<'PY'
import json, os, sys
out = sys.argv[1]
items = []
for run in ("direct", "batched"):
    for rep in (1, 2):
        text = open(os.path.join(out, run, "r%d.json" % rep)).read()
        meta = {"name": "rbench-results-x7k2-%s-r%d" % (run, rep),
                "labels": {"app.kubernetes.io/name": "rbench", "app.kubernetes.io/component": "results",
                           "rbench.io/job": "rbench-run-x7k2"}}
        data = {"results.json": text}
        if (run, rep) == ("batched", 2):
            d = json.loads(text)
            del d["raw_results"]
            d["raw_results_omitted"] = True
            data = {"results.json": json.dumps(d), "note": "summary only: ..."}
            meta["annotations"] = {"rbench.io/summary-only": "true"}
        items.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
items.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "labels": {"rbench.io/job": "another-job"}},
              "data": {"results.json": "{}"}})
print(json.dumps({"items": items}))
PY
new_fake fetch
cp "$WORK/cms.json" "$FAKE_DIR/cms.json"
"$SRC/tools/fetch-results.sh" rbench-run-x7k2 "$WORK/fetched" >"$WORK/out" 2>&1
check "fetch: exits 0" test $? -eq 0
check "fetch: exact kubectl command" test "$(calls)" = "kubectl -n rbench get configmaps -l rbench.io/job=rbench-run-x7k2 -o json"
check "fetch: the runner's layout (RUN/rN.json), only this Job's, the summary-only one set aside" \
  test "$(cd "$WORK/fetched" && find . -type f | sort | tr '\n' ' ')" = "./batched/r1.json ./direct/r1.json ./direct/r2.json ./summary-only/batched/r2.json "
check "fetch: full documents byte-identical to the runner's" cmp -s "$WORK/runner-out/direct/r1.json" "$WORK/fetched/direct/r1.json"
check "fetch: says which document was summary-only" grep -q "summary only: $WORK/fetched/summary-only/batched/r2.json has no raw_results" "$WORK/out"
"$BUILD/job/rbench" compare "$WORK/fetched/direct" "$WORK/fetched/batched" >"$WORK/compare.out" 2>&1
check "rbench compare takes the fetched directories as is" test $? -eq 0 || cat "$WORK/compare.out"
"$BUILD/job/rbench" report "$WORK/fetched/direct" "$WORK/fetched/batched" -o "$WORK/report.html" >"$WORK/report.out" 2>&1
check "rbench report takes them as is" bash -c '[ "$1" -eq 0 ] && grep -q "<svg" "$2"' _ $? "$WORK/report.html" || cat "$WORK/report.out"
"$SRC/tools/fetch-results.sh" rbench-run-x7k2 "$WORK/fetched" >"$WORK/out" 2>&1
check "fetch: refuses a non-empty directory" bash -c '[ "$1" -eq 1 ] && grep -q "exists and is not empty" "$2"' _ $? "$WORK/out"
mkfifo "$WORK/fetch-fifo"
"$SRC/tools/fetch-results.sh" rbench-run-x7k2 "$WORK/fetch-fifo" >"$WORK/out" 2>&1
check "fetch: refuses a FIFO as DIR, naming what it is, and leaves it" bash -c '[ "$1" -eq 1 ] && grep -q "is not a directory (fifo)" "$2" && [ -p "$3" ]' _ $? "$WORK/out" "$WORK/fetch-fifo"
"$SRC/tools/fetch-results.sh" no-such-job "$WORK/none" >"$WORK/out" 2>&1
check "fetch: a Job with no documents is an error" bash -c '[ "$1" -eq 1 ] && grep -q "no results documents in ConfigMaps labelled rbench.io/job=no-such-job" "$2"' _ $? "$WORK/out"

# --pvc: a helper pod mounts the claim, kubectl cp copies it
new_fake fetch-pvc
mkdir -p "$FAKE_DIR/pvc"
cp -r "$WORK/runner-out/." "$FAKE_DIR/pvc/"
"$SRC/tools/fetch-results.sh" --pvc rbench-run-x7k2 "$WORK/fetched-pvc" >"$WORK/out" 2>&1
check "fetch --pvc: exits 0" test $? -eq 0 || cat "$WORK/out"
check "fetch --pvc: apply, wait, cp, delete of the helper pod" bash -c '
  c="$(python3 -c "import json,sys; [print(\" \".join(json.loads(l))) for l in open(sys.argv[1])]" "$1/calls.jsonl" | sed "s/-[0-9]*\$//; s/-[0-9]* / /g")"
  echo "$c" | grep -q "^kubectl -n rbench apply -f " &&
  echo "$c" | grep -q "^kubectl -n rbench wait --for=condition=Ready pod/rbench-fetch-rbench-run-x7k2" &&
  echo "$c" | grep -q "^kubectl -n rbench cp rbench-fetch-rbench-run-x7k2.*:/results/ " &&
  echo "$c" | grep -q "^kubectl -n rbench delete pod rbench-fetch-rbench-run-x7k2"' _ "$FAKE_DIR"
check "fetch --pvc: the helper pod mounts claim rbench-results read-only" python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
v = p["spec"]["volumes"][0]["persistentVolumeClaim"]
sys.exit(not (v == {"claimName": "rbench-results", "readOnly": True} and p["spec"]["containers"][0]["volumeMounts"][0]["readOnly"]))' "$FAKE_DIR/applied.json"
"$BUILD/job/rbench" compare "$WORK/fetched-pvc/direct" "$WORK/fetched-pvc/batched" >/dev/null 2>&1
check "rbench compare takes the --pvc copy as is" test $? -eq 0

# --- fetch-results.sh: a scale-out run's shard documents, merged by rbench merge ------------
# The same scenario run as three shards by the real runner (--shard I/3, one start instant),
# published as a sharded Job publishes them (names F-results-JOB-RUN-rK-shard-I).
T0="$(python3 -c 'import time; print("%.3f" % (time.time() + 5))')"
SPIDS=()
for i in 0 1 2; do
  "$BUILD/job/rbench" run -f "$WORK/s.yaml" --env "$WORK/local.env" --shard "$i/3" --start-at "$T0" \
    --output "$WORK/shard-out/" --progress off >"$WORK/shard-$i.log" 2>&1 &
  SPIDS+=($!)
done
src=0
for p in "${SPIDS[@]}"; do wait "$p" || src=1; done
if ! check "the real runner, 3 shards at once: 12 shard documents (.shard-I-of-3)" \
  test "$src" -eq 0 -a "$(find "$WORK/shard-out" -name '*.shard-[012]-of-3.json' 2>/dev/null | wc -l)" -eq 12; then
  cat "$WORK"/shard-*.log
  echo "$PASS passed, $FAIL failed (the fetch of shard documents not run)"
  exit 1
fi
python3 - "$WORK/shard-out" >"$WORK/shard-cms.json" <<'PY'
import json, os, sys
out = sys.argv[1]
items = []
for run in ("direct", "batched"):
    for rep in (1, 2):
        for i in range(3):
            text = open(os.path.join(out, run, "r%d.shard-%d-of-3.json" % (rep, i))).read()
            items.append({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "rbench-results-s3-%s-r%d-shard-%d" % (run, rep, i),
                                       "labels": {"app.kubernetes.io/component": "results", "rbench.io/job": "rbench-run-s3"}},
                          "data": {"results.json": text}})
print(json.dumps({"items": items}))
PY
new_fake fetch-shards
cp "$WORK/shard-cms.json" "$FAKE_DIR/cms.json"
RBENCH="$BUILD/job/rbench" "$SRC/tools/fetch-results.sh" rbench-run-s3 "$WORK/fs" >"$WORK/out" 2>&1
check "fetch shards: exits 0" test $? -eq 0 || cat "$WORK/out"
check "fetch shards: the shards under shards/ (the runner's names), the merged documents in the runner's layout" \
  test "$(cd "$WORK/fs" && find . -type f | sort | tr '\n' ' ')" = "./batched/r1.json ./batched/r2.json ./direct/r1.json ./direct/r2.json $(
    for r in batched direct; do for k in 1 2; do for i in 0 1 2; do printf './shards/%s/r%d.shard-%d-of-3.json ' $r $k $i; done; done; done)"
check "fetch shards: shard documents byte-identical to the runner's" cmp -s "$WORK/shard-out/batched/r2.shard-1-of-3.json" "$WORK/fs/shards/batched/r2.shard-1-of-3.json"
check "fetch shards: says it merged, with which rbench" \
  bash -c 'grep -q "merging the shards with $2 merge" "$1" && grep -q "merged 3 shard(s) -> .*/fs/batched/r2.json" "$1" && grep -q "4 merged document(s)" "$1"' _ "$WORK/out" "$BUILD/job/rbench"
check "fetch shards: each merged document holds the schedule's 6 invocations, each once, merged from the 3 shards" python3 -c '
import json, sys
for f in sys.argv[1:]:
    d = json.load(open(f))
    inv = d["invocations"]
    idx = sorted(r["index"] for r in d["raw_results"])
    if not (inv["planned"] == inv["sent"] == inv["completed"] == inv["succeeded"] == 6 and idx == list(range(6))
            and d["scenario"]["parameters"]["planned_invocations"] == 6 and d.get("complete") is True
            and "shard" not in d and len(d["merged_from"]["files"]) == 3):
        sys.exit("%s: %s %s" % (f, inv, idx))' "$WORK/fs/direct/r1.json" "$WORK/fs/direct/r2.json" "$WORK/fs/batched/r1.json" "$WORK/fs/batched/r2.json"
"$BUILD/job/rbench" compare "$WORK/fs/direct" "$WORK/fs/batched" >"$WORK/compare.out" 2>&1
check "rbench compare takes the merged directories as is" test $? -eq 0 || cat "$WORK/compare.out"
"$BUILD/job/rbench" report "$WORK/fs" -o "$WORK/report-s.html" >"$WORK/report.out" 2>&1
check "rbench report takes the merged DIR as is" bash -c '[ "$1" -eq 0 ] && grep -q "<svg" "$2"' _ $? "$WORK/report-s.html" || cat "$WORK/report.out"

# A failed index: shard 1 of batched r2 missing. The other documents are merged, that one is
# named with rbench merge's reason, the shards stay, exit 1.
new_fake fetch-shard-missing
python3 - "$WORK/shard-cms.json" >"$FAKE_DIR/cms.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["items"] = [c for c in d["items"] if c["metadata"]["name"] != "rbench-results-s3-batched-r2-shard-1"]
print(json.dumps(d))
PY
RBENCH="$BUILD/job/rbench" "$SRC/tools/fetch-results.sh" rbench-run-s3 "$WORK/fm" >"$WORK/out" 2>&1
rc=$?
check "fetch, a shard missing: exits 1" test "$rc" -eq 1
check "fetch, a shard missing: names the document not merged and rbench merge's reason (shard 1 of 3)" \
  bash -c 'grep -q "batched/r2.json not merged from 2 shard document(s): rbench merge exited" "$1" && grep -qi "missing.*shard\|shard.*missing" "$1" && grep -q "failedIndexes" "$1"' _ "$WORK/out" || cat "$WORK/out"
check "fetch, a shard missing: the fetched shards kept, the complete documents merged, no half-merged file" \
  test "$(cd "$WORK/fm" && find shards -type f | wc -l) $(cd "$WORK/fm" && find . -path ./shards -prune -o -type f -print | sort | tr '\n' ' ')" = \
  "11 ./batched/r1.json ./direct/r1.json ./direct/r2.json "

cp "$WORK/out" "$WORK/missing.out"

# A summary-only shard (over the ConfigMap limit): merged from the histograms, set aside.
new_fake fetch-shard-summary
python3 - "$WORK/shard-cms.json" >"$FAKE_DIR/cms.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["items"]:
    if c["metadata"]["name"] == "rbench-results-s3-direct-r1-shard-2":
        doc = json.loads(c["data"]["results.json"])
        del doc["raw_results"]
        doc["raw_results_omitted"] = True
        c["data"]["results.json"] = json.dumps(doc)
        c["metadata"]["annotations"] = {"rbench.io/summary-only": "true"}
print(json.dumps(d))
PY
RBENCH="$BUILD/job/rbench" "$SRC/tools/fetch-results.sh" rbench-run-s3 "$WORK/fsum" >"$WORK/out" 2>&1
check "fetch, a summary-only shard: exits 0, its document merged from histograms into summary-only/, said so" \
  bash -c '[ "$1" -eq 0 ] && [ -f "$2/summary-only/direct/r1.json" ] && [ ! -e "$2/direct/r1.json" ] && [ -f "$2/direct/r2.json" ] &&
           grep -q "summary only: $2/summary-only/direct/r1.json has no raw_results" "$3" &&
           python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d.get(\"raw_results_omitted\") is True and d[\"invocations\"][\"sent\"] == 6))" "$2/summary-only/direct/r1.json"' \
  _ $? "$WORK/fsum" "$WORK/out" || cat "$WORK/out"

# No rbench with merge: a copy of the scripts outside the repository, no rbench on PATH.
mkdir -p "$WORK/norepo/tools/lib"
cp "$SRC/tools/fetch-results.sh" "$WORK/norepo/tools/"
cp "$SRC/tools/lib/cluster-lib.sh" "$SRC/tools/lib/args.sh" "$WORK/norepo/tools/lib/"
new_fake fetch-no-rbench
cp "$WORK/shard-cms.json" "$FAKE_DIR/cms.json"
if command -v rbench >/dev/null 2>&1; then
  ok "fetch, no rbench: skipped (an rbench is on PATH: $(command -v rbench))"
else
  "$WORK/norepo/tools/fetch-results.sh" rbench-run-s3 "$WORK/fn" >"$WORK/out" 2>&1
  check "fetch, no rbench: exits 1 saying how to provide it, the shards kept" \
    bash -c '[ "$1" -eq 1 ] && grep -q "merging them needs rbench merge: set RBENCH=" "$2" && [ "$(find "$3/shards" -type f | wc -l)" -eq 12 ]' _ $? "$WORK/out" "$WORK/fn"
fi
printf '#!/bin/sh\necho "rbench: unknown command $1" >&2\nexit 2\n' >"$WORK/old-rbench"
chmod +x "$WORK/old-rbench"
new_fake fetch-old-rbench
cp "$WORK/shard-cms.json" "$FAKE_DIR/cms.json"
RBENCH="$WORK/old-rbench" "$SRC/tools/fetch-results.sh" rbench-run-s3 "$WORK/fo" >"$WORK/out" 2>&1
check "fetch, RBENCH without merge: exits 1 naming it" \
  bash -c '[ "$1" -eq 1 ] && grep -q "RBENCH=.*old-rbench has no .merge. command" "$2"' _ $? "$WORK/out"

# --pvc: the shards' files as a sharded Job writes them to the claim (RUN/rK.shard-I-of-N.json).
new_fake fetch-pvc-shards
mkdir -p "$FAKE_DIR/pvc"
cp -r "$WORK/shard-out/." "$FAKE_DIR/pvc/"
RBENCH="$BUILD/job/rbench" "$SRC/tools/fetch-results.sh" --pvc rbench-run-s3 "$WORK/fp" >"$WORK/out" 2>&1
check "fetch --pvc, shards: exits 0, shards kept, merged in the runner's layout" \
  bash -c '[ "$1" -eq 0 ] && [ "$(find "$2/shards" -type f | wc -l)" -eq 12 ] && [ -f "$2/direct/r1.json" ] && [ -f "$2/batched/r2.json" ]' _ $? "$WORK/fp" ||
  cat "$WORK/out"
cmp -s <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sorted(r["index"] for r in d["raw_results"]))' "$WORK/fp/batched/r2.json") \
       <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sorted(r["index"] for r in d["raw_results"]))' "$WORK/fs/batched/r2.json")
check "fetch --pvc, shards: the same merged invocations as from ConfigMaps" test $? -eq 0

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ] || { [ -n "${KEEP:-}" ] && cp -r "$WORK" /tmp/i13/keep; false; }
