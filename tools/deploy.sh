#!/usr/bin/env bash
# deploy.sh: after `helm install` (or kubectl apply -k manifests/), waits until every node's
# image build has pushed the images to its localhost:5000, then creates or updates the
# redis_benchmark package and the redis_benchmark/redis_benchmark docker action with default
# parameters for the cluster's Redis and agent. Run where kubectl and wsk both work.
#
#   tools/deploy.sh [--namespace rbench] [--release rbench] [--env local.env] [--tag TAG]
#                   [--concurrency N]
#
# The Redis password travels to wsk in a --param-file (mode 600, removed afterwards), never on
# a command line and never printed. See docs/cluster-scripts.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CL_PROG=deploy
# shellcheck source=tools/lib/cluster-lib.sh
. "$HERE/lib/cluster-lib.sh"
# shellcheck source=tools/lib/args.sh
. "$HERE/lib/args.sh"

NS=rbench
RELEASE=rbench
ENV_FILE=""
TAG=""
REGISTRY="localhost:5000"
TIMEOUT=900
DOMAIN="cluster.local"
WAIT=1
CONCURRENCY=""
WSK_FLAGS=()
PACKAGE=redis_benchmark
ACTION=redis_benchmark/redis_benchmark

usage() {
  cat <<'USAGE'
Usage: tools/deploy.sh [options]

  --namespace NS        namespace of the release (default rbench)
  --release NAME        Helm release name (default rbench)
  --env FILE            env file (local.env format): REDIS_HOST, REDIS_PORT, REDIS_PASSWORD,
                        BATCHING_AGENT_HOST, BATCHING_AGENT_PORT, BATCHING_AGENT_PASSWORD
                        override what is read from the cluster; OPENWHISK_APIHOST and
                        OPENWHISK_AUTH (or OPENWHISK_AUTH_FILE) are handed to wsk
  --tag TAG             image tag (default: the --tag of the image-builder DaemonSet)
  --registry HOST:PORT  registry in the action's image name (default localhost:5000)
  --timeout SECONDS     how long to wait for the image builds (default 900)
  --cluster-domain D    Service DNS domain (default cluster.local)
  --no-wait             do not wait for or check the image builds
  --concurrency N       the action's concurrency limit (limits.concurrency, 1 to 1000):
                        activations one action container serves at once; above 1 only
                        when OpenWhisk's maximum allows it (default: not changed, 1 for
                        a new action)
  -i, --insecure        pass -i to wsk (self-signed API host certificate)
  -h, --help            this text
USAGE
}

need_value() { [ "$2" -ge 2 ] || rb_usage_error "$CL_PROG" "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace | -n) need_value "$1" $#; NS="$2"; shift ;;
    --release) need_value "$1" $#; RELEASE="$2"; shift ;;
    --env) need_value "$1" $#; ENV_FILE="$2"; shift ;;
    --tag) need_value "$1" $#; TAG="$2"; shift ;;
    --registry) need_value "$1" $#; REGISTRY="$2"; shift ;;
    --timeout) need_value "$1" $#; TIMEOUT="$2"; shift ;;
    --cluster-domain) need_value "$1" $#; DOMAIN="$2"; shift ;;
    --no-wait) WAIT=0 ;;
    --concurrency) need_value "$1" $#; CONCURRENCY="$2"; shift ;;
    -i | --insecure) WSK_FLAGS=(-i) ;;
    -h | --help) usage; exit 0 ;;
    *) rb_usage_error "$CL_PROG" "unknown argument '$1'" ;;
  esac
  shift
done

cl_check_name namespace "$NS"
cl_check_name release "$RELEASE"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || cl_die "--timeout takes whole seconds, not '$TIMEOUT'"
if [ -n "$CONCURRENCY" ]; then
  [[ "$CONCURRENCY" =~ ^[1-9][0-9]*$ ]] && [ "${#CONCURRENCY}" -le 4 ] && [ "$CONCURRENCY" -le 1000 ] ||
    rb_usage_error "$CL_PROG" "--concurrency takes a whole number from 1 to 1000, not '$CONCURRENCY'"
fi
cl_need kubectl wsk python3 base64
F="$(cl_fullname "$RELEASE")"
if [ -n "$ENV_FILE" ]; then cl_env_load "$ENV_FILE"; fi

TMP="$(mktemp -d /tmp/rbench-deploy.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
K=(kubectl -n "$NS")

# --- 1. the image builds --------------------------------------------------------------------
DS="$F-image-builder"
if ! "${K[@]}" get daemonset "$DS" -o json >"$TMP/ds.json" 2>"$TMP/err"; then
  cl_die "daemonset $DS not found in namespace $NS ($(head -n 1 "$TMP/err")); install the chart first, or check --release/--namespace"
fi
if [ -z "$TAG" ]; then
  TAG="$(python3 - "$TMP/ds.json" <<'PY'
import json, re, sys
ds = json.load(open(sys.argv[1]))
for c in ds["spec"]["template"]["spec"].get("initContainers") or []:
    if c.get("name") == "build":
        m = re.search(r"--tag[ =]([A-Za-z0-9_][A-Za-z0-9_.-]*)", " ".join((c.get("command") or []) + (c.get("args") or [])))
        if m:
            print(m.group(1))
PY
)"
  [ -n "$TAG" ] || cl_die "cannot tell the image tag from daemonset $DS (no --tag in its build container): pass --tag"
fi
[ "$TAG" != latest ] || cl_die "tag 'latest' is refused: Kubernetes would pull it for every new action pod"
IMAGE="$REGISTRY/rbench-action:$TAG"

if [ "$WAIT" -eq 1 ]; then
  echo "deploy: waiting up to ${TIMEOUT} s for daemonset/$DS"
  rollout_ok=1
  "${K[@]}" rollout status "daemonset/$DS" --timeout "${TIMEOUT}s" >"$TMP/rollout" 2>&1 || rollout_ok=0
  kubectl get nodes -o json >"$TMP/nodes.json" || cl_die "kubectl get nodes failed"
  "${K[@]}" get pods -l "app.kubernetes.io/component=image-builder,app.kubernetes.io/instance=$RELEASE" \
    -o json >"$TMP/pods.json" || cl_die "kubectl get pods failed"
  # One line per node: "ok NODE POD", "skip NODE why", "bad NODE why" or
  # "logs NODE POD previous|current why" (a failed build: its log follows).
  python3 - "$TMP/nodes.json" "$TMP/pods.json" "$TMP/ds.json" >"$TMP/verdicts" <<'PY'
import json, sys
nodes = json.load(open(sys.argv[1]))["items"]
pods = json.load(open(sys.argv[2]))["items"]
spec = json.load(open(sys.argv[3]))["spec"]["template"]["spec"]
tols = spec.get("tolerations") or []
selector = spec.get("nodeSelector") or {}

def tolerated(t):
    for o in tols:
        if o.get("effect") and o["effect"] != t.get("effect"):
            continue
        if o.get("operator") == "Exists":
            if not o.get("key") or o["key"] == t.get("key"):
                return True
        elif o.get("key") == t.get("key") and (o.get("value") or "") == (t.get("value") or ""):
            return True
    return False

by_node = {}
for p in pods:
    n = p.get("spec", {}).get("nodeName") or ""
    if p.get("metadata", {}).get("deletionTimestamp"):
        continue
    by_node.setdefault(n, []).append(p)
unscheduled = by_node.get("", [])

for node in nodes:
    name = node["metadata"]["name"]
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        print("skip", name, "not selected by the DaemonSet's nodeSelector")
        continue
    taints = [t for t in node.get("spec", {}).get("taints") or []
              if t.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(t)]
    if taints:
        t = taints[0]
        print("skip", name, "taint %s%s:%s (no builder pod, and no action pod unless it tolerates it)"
              % (t.get("key"), "=" + t["value"] if t.get("value") else "", t.get("effect")))
        continue
    mine = sorted(by_node.get(name, []), key=lambda p: p["metadata"].get("creationTimestamp", ""))
    if not mine:
        why = "no image-builder pod on this node"
        if unscheduled:
            conds = [c for c in unscheduled[0].get("status", {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
            if conds and conds[0].get("message"):
                why += " (pod %s is pending: %s)" % (unscheduled[0]["metadata"]["name"], conds[0]["message"])
        print("bad", name, why)
        continue
    pod = mine[-1]
    pname = pod["metadata"]["name"]
    st = pod.get("status", {})
    build = [s for s in st.get("initContainerStatuses") or [] if s.get("name") == "build"]
    if not build:
        conds = [c for c in st.get("conditions") or [] if c.get("status") == "False" and c.get("message")]
        print("bad", name, "pod %s is %s%s" % (pname, st.get("phase", "Pending").lower(),
              ": " + conds[0]["message"] if conds else " (the build has not started)"))
        continue
    b = build[0]
    state, last = b.get("state") or {}, b.get("lastState") or {}
    if "terminated" in state:
        code = state["terminated"].get("exitCode")
        if code == 0:
            print("ok", name, pname)
        else:
            print("logs", name, pname, "current", "build failed (exit %s)" % code)
    elif "running" in state:
        print("bad", name, "pod %s: the build is still running (since %s)" % (pname, state["running"].get("startedAt", "?")))
    elif "waiting" in state:
        w = state["waiting"]
        reason, msg = w.get("reason", "Waiting"), w.get("message", "")
        if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"):
            print("bad", name, "pod %s cannot pull the builder image %s: %s%s" % (pname, b.get("image", "?"), reason, ": " + msg if msg else ""))
        elif "terminated" in last and last["terminated"].get("exitCode") not in (None, 0):
            print("logs", name, pname, "previous", "build failed (exit %s, %s after %s restart(s))"
                  % (last["terminated"]["exitCode"], reason, b.get("restartCount", 0)))
        else:
            print("bad", name, "pod %s: build container %s%s" % (pname, reason, ": " + msg if msg else ""))
    else:
        print("bad", name, "pod %s: no state for the build container yet" % pname)
PY
  nbad=0
  nok=0
  while read -r kind node rest; do
    case "$kind" in
      ok) nok=$((nok + 1)); echo "deploy: node $node: images built and pushed (pod $rest)" ;;
      skip) echo "deploy: node $node: skipped: $rest" ;;
      bad) nbad=$((nbad + 1)); echo "deploy: node $node: $rest" >&2 ;;
      logs)
        nbad=$((nbad + 1))
        read -r pod which why <<<"$rest"
        echo "deploy: node $node: pod $pod: $why; last lines of its log:" >&2
        largs=(logs "$pod" -c build --tail 20)
        if [ "$which" = previous ]; then largs+=(--previous); fi
        "${K[@]}" "${largs[@]}" 2>&1 | sed 's/^/    /' >&2 || true
        ;;
    esac
  done <"$TMP/verdicts"
  if [ "$nbad" -gt 0 ]; then
    [ "$rollout_ok" -eq 1 ] || sed 's/^/    /' "$TMP/rollout" >&2
    cl_die "$nbad node(s) do not have the images (see above; docs/cluster-scripts.md: troubleshooting)"
  fi
  [ "$nok" -gt 0 ] || cl_die "no node has an image-builder pod that finished its build"
  if [ "$rollout_ok" -eq 0 ]; then
    echo "deploy: warning: daemonset/$DS is not fully rolled out, but every node's build finished:" >&2
    sed 's/^/    /' "$TMP/rollout" >&2
  fi
fi

# --- 2. the action's default parameters -----------------------------------------------------
REDIS_HOST="${CL_ENV[REDIS_HOST]:-$F-redis.$NS.svc.$DOMAIN}"
REDIS_PORT="${CL_ENV[REDIS_PORT]:-6379}"
AGENT_HOST="${CL_ENV[BATCHING_AGENT_HOST]:-$F-agent.$NS.svc.$DOMAIN}"
AGENT_PORT="${CL_ENV[BATCHING_AGENT_PORT]:-6380}"
for h in "$REDIS_HOST" "$AGENT_HOST"; do
  case "$h" in
    127.* | localhost | ::1 | "[::1]")
      cl_die "$h (from $ENV_FILE) is the action pod's own loopback: use the Service names, or leave REDIS_HOST/BATCHING_AGENT_HOST out of the env file" ;;
  esac
done
for p in "$REDIS_PORT" "$AGENT_PORT"; do
  [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || cl_die "port '$p' is not a number from 1 to 65535"
done
if cl_env_has REDIS_PASSWORD; then
  REDIS_PASSWORD="${CL_ENV[REDIS_PASSWORD]}"
elif "${K[@]}" get secret "$F-redis" -o 'jsonpath={.data.password}' >"$TMP/pw.b64" 2>"$TMP/err"; then
  REDIS_PASSWORD="$(base64 -d <"$TMP/pw.b64")" || cl_die "secret $F-redis: key password is not base64"
  [ -n "$REDIS_PASSWORD" ] || cl_die "secret $F-redis has no key 'password'"
else
  cl_die "cannot read secret $F-redis ($(head -n 1 "$TMP/err")); with an external Redis set REDIS_PASSWORD (empty for none) in an --env file"
fi
rm -f "$TMP/pw.b64"

# The parameter file: JSON, written with a private umask; python3 reads the values from its
# environment so none is on a command line.
(umask 077 && REDIS_HOST="$REDIS_HOST" REDIS_PORT="$REDIS_PORT" RP="$REDIS_PASSWORD" \
  AGENT_HOST="$AGENT_HOST" AGENT_PORT="$AGENT_PORT" AP="${CL_ENV[BATCHING_AGENT_PASSWORD]:-}" \
  python3 -c '
import json, os
e = os.environ
p = {"redis_host": e["REDIS_HOST"], "redis_port": int(e["REDIS_PORT"]),
     "agent_host": e["AGENT_HOST"], "agent_port": int(e["AGENT_PORT"])}
if e["RP"]:
    p["redis_password"] = e["RP"]
if e["AP"]:
    p["agent_password"] = e["AP"]
print(json.dumps(p, indent=2))' >"$TMP/params.json")
unset REDIS_PASSWORD

# --- 3. wsk ---------------------------------------------------------------------------------
cl_wsk_setup "$TMP"
wsk "${WSK_FLAGS[@]}" package update "$PACKAGE" >"$TMP/wsk.out" 2>&1 || {
  cat "$TMP/wsk.out" >&2
  cl_die "wsk package update $PACKAGE failed (is wsk configured? wsk property get)"
}
LIMITS=()
if [ -n "$CONCURRENCY" ]; then LIMITS=(--concurrency "$CONCURRENCY"); fi
wsk "${WSK_FLAGS[@]}" action update "$ACTION" --docker "$IMAGE" --param-file "$TMP/params.json" "${LIMITS[@]}" >"$TMP/wsk.out" 2>&1 || {
  cat "$TMP/wsk.out" >&2
  if [ -n "$CONCURRENCY" ] && grep -q "exceeds allowed threshold" "$TMP/wsk.out"; then
    cl_die "wsk action update $ACTION --concurrency $CONCURRENCY failed: OpenWhisk's maximum concurrency limit is lower (raise whisk.limits.actions.concurrency.max in openwhisk-deploy-kube's values, or give a smaller --concurrency)"
  fi
  cl_die "wsk action update $ACTION failed"
}
rm -f "$TMP/params.json"
echo "deploy: $ACTION uses $IMAGE"
if [ -n "$CONCURRENCY" ]; then echo "deploy: concurrency limit $CONCURRENCY (activations per action container)"; fi
echo "deploy: defaults: redis $REDIS_HOST:$REDIS_PORT, agent $AGENT_HOST:$AGENT_PORT (password set from ${ENV_FILE:-secret $F-redis}, not shown)"
echo "deploy: ok (next: tools/smoke.sh)"
