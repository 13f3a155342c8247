#!/usr/bin/env python3
"""test_chart.py: the Helm chart and manifests/ without a cluster: helm lint --strict, renders
with default and non-default values, every rendered object and manifests/ file validated
strictly (tests/k8s/validate.mjs), the values schema rejecting typos and the tag latest, no
secret in any rendered object but its Secret, manifests/ in sync with the chart, and the
scale-out runner (runner.shards: an Indexed Job, its start instant, anti-affinity)."""
import base64
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from k8stest import CHART, REQUIRED, ROOT, Checks, find, helm, render, tools  # noqa: E402

HELM, NODE, MODULES = tools()
VALIDATE = os.path.join(ROOT, "tests", "k8s", "validate.mjs")
c = Checks()


def validate(*files):
    return subprocess.run([NODE, VALIDATE, MODULES, *files], capture_output=True, text=True)


def validate_text(text, label):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    p = validate(f.name)
    os.unlink(f.name)
    c.check(p.returncode == 0, f"{label}: every object valid (strict)" +
            ("" if p.returncode == 0 else "\n" + "\n".join(l for l in p.stdout.splitlines() if l.startswith("FAIL"))))


def container(obj, name):
    spec = obj["spec"]["template"]["spec"] if obj["kind"] != "Pod" else obj["spec"]
    for k in ("containers", "initContainers"):
        for ct in spec.get(k, []):
            if ct["name"] == name:
                return ct
    return None


def env_of(ct):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in ct.get("env", [])}


# The chart's version is the project's.
cmake = open(os.path.join(ROOT, "CMakeLists.txt")).read()
version = re.search(r"project\(rbench VERSION ([0-9.]+)", cmake).group(1)
chart = open(os.path.join(CHART, "Chart.yaml")).read()
c.check(f'appVersion: "{version}"' in chart, f"Chart.yaml appVersion is the project version {version}")

# helm lint --strict, with the required values and with the non-default sets below.
SETS = {
    "defaults": [],
    "registry off": ["--set", "registry.enabled=false", "--set", "builder.enabled=false"],
    "redis off": ["--set", "redis.enabled=false", "--set", "redis.host=redis.example.internal",
                  "--set", "redis.port=6390"],
    "pvc results": ["--set", "results.pvc.enabled=true", "--set", "results.pvc.storageClass=fast"],
    "several scenarios": ["--set-string", "runner.scenarios.mine\\.yaml=name: mine",
                          "--set-string", "runner.scenarios.other\\.yaml=name: other",
                          "--set", "runner.scenario=mine.yaml", "--set", "image.tag=1.2.3",
                          "--set", "runner.resultsConfigMapNames={rbench-results-a,rbench-results-b}"],
    "other release": ["--set", "runner.jobName=bench-7", "--set", "agent.extraArgs={--coalesce}",
                      "--set", "runner.suspend=true", "--set", "runner.waitForActionSeconds=0"],
    "3 shards": ["--set", "runner.shards=3"],
    "node-local agent": ["--set", "agent.placement=node"],
    "node-local agent, own selector": ["--set", "agent.placement=node", "--set", "agent.node.nodeSelector.pool=faas",
                                       "--set", "agent.node.tolerations[0].key=dedicated",
                                       "--set", "agent.node.tolerations[0].operator=Exists"],
    "3 shards, required anti-affinity, start given": [
        "--set", "runner.shards=3", "--set", "runner.antiAffinity=required", "--set", "runner.jobName=bench-s3",
        "--set-string", "runner.startAt=" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))],
    "3 shards, no anti-affinity, PVC RWX": ["--set", "runner.shards=3", "--set", "runner.antiAffinity=none",
                                            "--set", "results.pvc.enabled=true",
                                            "--set", "results.pvc.accessModes={ReadWriteMany}"],
}
rendered = {}
for label, vals in SETS.items():
    p = helm(HELM, "lint", "--strict", CHART, *REQUIRED, *vals, check=False)
    c.check(p.returncode == 0 and "[WARNING]" not in p.stdout, f"helm lint --strict ({label})" +
            ("" if p.returncode == 0 else "\n" + p.stdout + p.stderr))
    release = "bench" if label == "other release" else "rbench"
    rendered_at = time.time()
    text, objs = render(HELM, *REQUIRED, *vals, release=release, namespace="perf")
    rendered[label] = (text, objs)
    if label == "3 shards":
        t0 = rendered_at
    validate_text(text, f"helm template ({label})")
    for o in objs:
        labels = o["metadata"].get("labels", {})
        ok = all(k in labels for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                 "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart",
                 "app.kubernetes.io/component"))
        if not ok:
            c.check(False, f"{label}: {o['kind']}/{o['metadata']['name']} has the recommended labels")

# Defaults: every object of the contract, wired as the contract says.
_, objs = rendered["defaults"]
names = {(o["kind"], o["metadata"]["name"]) for o in objs}
for want in [("DaemonSet", "rbench-registry"), ("DaemonSet", "rbench-image-builder"),
             ("ConfigMap", "rbench-source"), ("ConfigMap", "rbench-scenarios"),
             ("Secret", "rbench-redis"), ("Deployment", "rbench-redis"), ("Service", "rbench-redis"),
             ("Deployment", "rbench-agent"), ("Service", "rbench-agent"), ("Job", "rbench-run"),
             ("ServiceAccount", "rbench-runner"), ("Role", "rbench-runner"),
             ("RoleBinding", "rbench-runner"), ("Pod", "rbench-test")]:
    c.check(want in names, f"defaults render {want[0]}/{want[1]}")
job = find(objs, "Job", "rbench-run")
js = job["spec"]
c.check(js["backoffLimit"] == 0 and js["template"]["spec"]["restartPolicy"] == "Never"
        and js["activeDeadlineSeconds"] > 0 and js["ttlSecondsAfterFinished"] > 0,
        "runner Job: backoffLimit 0, restartPolicy Never, activeDeadlineSeconds, ttlSecondsAfterFinished")
rb = container(job, "rbench")
c.check(rb["args"][:6] == ["run", "-f", "/scenarios/openwhisk-direct-vs-batched.yaml", "--target", "openwhisk", "--action"]
        and "--results-configmap" in rb["args"], "runner args: run -f /scenarios/SCENARIO --target openwhisk ... --results-configmap")
wait = rb["args"].index("--wait-for-action") if "--wait-for-action" in rb["args"] else -1
c.check(wait > 0 and rb["args"][wait + 1] == "600",
        "runner args: --wait-for-action 600 (runner.waitForActionSeconds: the Job waits for tools/deploy.sh)")
env = env_of(rb)
c.check(env.get("REDIS_HOST") == "rbench-redis.perf.svc.cluster.local" and env.get("REDIS_PORT") == "6379"
        and env.get("BATCHING_AGENT_HOST") == "rbench-agent.perf.svc.cluster.local"
        and env.get("BATCHING_AGENT_PORT") == "6380"
        and env.get("BATCHING_AGENT_METRICS_URL") == "http://rbench-agent.perf.svc.cluster.local:9121/metrics",
        "runner env: Service FQDNs and ports of Redis and the agent")
c.check(env.get("RBENCH_JOB_NAME") == {"fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}},
        "runner env: RBENCH_JOB_NAME from the downward API")
c.check(env.get("OPENWHISK_AUTH_FILE") == "/var/run/secrets/rbench/openwhisk/auth"
        and env.get("REDIS_PASSWORD_FILE") == "/var/run/secrets/rbench/redis/password",
        "runner env: secrets as files")
for kind, name, cname in [("Deployment", "rbench-agent", "agent"), ("Job", "rbench-run", "rbench"),
                          ("Pod", "rbench-test", "doctor"), ("Deployment", "rbench-redis", "redis")]:
    o = find(objs, kind, name)
    ct = container(o, cname)
    pod = o["spec"] if kind == "Pod" else o["spec"]["template"]["spec"]
    sc = ct.get("securityContext", {})
    c.check(pod["securityContext"].get("runAsNonRoot") is True and sc.get("readOnlyRootFilesystem") is True
            and sc.get("allowPrivilegeEscalation") is False and "resources" in ct and ct["resources"].get("limits"),
            f"{kind}/{name}: non-root, read-only root, no privilege escalation, resources")
agent = container(find(objs, "Deployment", "rbench-agent"), "agent")
c.check(agent["args"][:6] == ["--listen", "0.0.0.0:6380", "--redis", "rbench-redis.perf.svc.cluster.local:6379", "--metrics", "0.0.0.0:9121"]
        and agent["readinessProbe"]["httpGet"]["path"] == "/healthz", "agent: args and /healthz probes")
c.check(find(objs, "Service", "rbench-agent")["spec"].get("internalTrafficPolicy") is None
        and find(objs, "DaemonSet", "rbench-agent") is None,
        "agent.placement=central (default): a Deployment, its Service without internalTrafficPolicy")

# agent.placement=node: a DaemonSet on the invoker nodes, the Service answering only from the
# client's own node, the action's (and the helm test's) agent address that Service.
_, nobjs = rendered["node-local agent"]
ds = find(nobjs, "DaemonSet", "rbench-agent")
svc = find(nobjs, "Service", "rbench-agent")
c.check(ds is not None and find(nobjs, "Deployment", "rbench-agent") is None,
        "node-local agent: DaemonSet rbench-agent, no agent Deployment")
if ds:
    pod = ds["spec"]["template"]
    sel = ds["spec"]["selector"]["matchLabels"]
    c.check(all(pod["metadata"]["labels"].get(k) == v for k, v in sel.items())
            and all(pod["metadata"]["labels"].get(k) == v for k, v in svc["spec"]["selector"].items())
            and svc["spec"]["selector"] == sel,
            "node-local agent: the DaemonSet's and the Service's selectors match the agent pods' labels")
    c.check(pod["spec"].get("nodeSelector") == {"openwhisk-role": "invoker"} and "replicas" not in ds["spec"],
            "node-local agent: on the nodes labelled openwhisk-role=invoker (where OpenWhisk runs action pods)")
    nct = container(ds, "agent")
    c.check(nct["args"] == agent["args"] and nct["readinessProbe"] == agent["readinessProbe"]
            and nct["ports"] == agent["ports"] and nct["securityContext"] == agent["securityContext"]
            and nct["resources"] == agent["resources"] and pod["spec"]["securityContext"]["runAsNonRoot"] is True,
            "node-local agent: the same container as the central agent's (args, probes, ports, security, resources)")
c.check(svc["spec"].get("internalTrafficPolicy") == "Local" and svc["spec"]["type"] == "ClusterIP"
        and [p["port"] for p in svc["spec"]["ports"]] == [6380, 9121],
        "node-local agent: Service rbench-agent with internalTrafficPolicy Local, ports 6380 and 9121")
nenv = env_of(container(find(nobjs, "Job", "rbench-run"), "rbench"))
c.check(nenv.get("BATCHING_AGENT_HOST") == "rbench-agent.perf.svc.cluster.local" and nenv.get("BATCHING_AGENT_PORT") == "6380"
        and "BATCHING_AGENT_METRICS_URL" not in nenv,
        "node-local agent: the runner hands the actions the node-local Service (BATCHING_AGENT_HOST), "
        "and samples no single agent (no BATCHING_AGENT_METRICS_URL)")
ntest = find(nobjs, "Pod", "rbench-test")
c.check(ntest["spec"].get("nodeSelector") == {"openwhisk-role": "invoker"}
        and env_of(container(ntest, "doctor")).get("BATCHING_AGENT_HOST") == "rbench-agent.perf.svc.cluster.local",
        "node-local agent: the helm test Pod runs on an agent's node (the Service answers only there)")
_, oobjs = rendered["node-local agent, own selector"]
ods = find(oobjs, "DaemonSet", "rbench-agent")["spec"]["template"]["spec"]
c.check(ods.get("nodeSelector") == {"openwhisk-role": "invoker", "pool": "faas"}
        and ods.get("tolerations") == [{"key": "dedicated", "operator": "Exists"}]
        and find(oobjs, "Pod", "rbench-test")["spec"].get("tolerations") == ods["tolerations"],
        "node-local agent: agent.node.nodeSelector and .tolerations reach the DaemonSet and the helm test Pod")
p = helm(HELM, "template", "r", CHART, *REQUIRED, "--set", "agent.placement=node", "--set", "agent.node.nodeSelector=null",
         check=False)
c.check(p.returncode == 0 and "nodeSelector" not in yaml.safe_load(
    [d for d in p.stdout.split("---") if "kind: DaemonSet" in d and "r-rbench-agent" in d][0])["spec"]["template"]["spec"],
    "node-local agent: agent.node.nodeSelector=null puts an agent on every node")

role = find(objs, "Role", "rbench-runner")
c.check(role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "update"]}],
        "Role: get, create, update on configmaps, nothing else")
test = find(objs, "Pod", "rbench-test")
c.check(test["metadata"]["annotations"].get("helm.sh/hook") == "test" and container(test, "doctor")["args"][0] == "doctor",
        "helm test Pod runs rbench doctor")
reg = find(objs, "DaemonSet", "rbench-registry")["spec"]["template"]["spec"]
c.check(reg["hostNetwork"] is True and {"name": "REGISTRY_HTTP_ADDR", "value": "127.0.0.1:5000"} in reg["containers"][0]["env"],
        "registry: host network, bound to 127.0.0.1:5000")
build = container(find(objs, "DaemonSet", "rbench-image-builder"), "build")
c.check("exec tools/build.sh --install-tools --wait-registry 300 --tag 0.1.0 --push localhost:5000" in build["command"][2]
        and build["securityContext"].get("privileged") is True, "image builder: init container build runs tools/build.sh")
src = find(objs, "ConfigMap", "rbench-source")
size = len(src["binaryData"]["rbench-src.tar.gz"])
c.check(size < 1024 * 1024 - 4096, f"source ConfigMap below the 1 MiB object limit ({size} bytes of base64)")
scen = find(objs, "ConfigMap", "rbench-scenarios")["data"]
traces = sorted(glob.glob(os.path.join(ROOT, "scenarios", "traces", "*.csv")) +
                glob.glob(os.path.join(ROOT, "scenarios", "traces", "*.txt")))
c.check(sorted(scen) == sorted([os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "scenarios", "*.yaml"))] +
                               ["traces." + os.path.basename(p) for p in traces]),
        "scenarios ConfigMap: one key per scenarios/*.yaml and per trace (traces.NAME)")
c.check(all(scen["traces." + os.path.basename(p)] == open(p).read() for p in traces),
        "scenarios ConfigMap: the traces as shipped")
# The runner Job projects every key, the traces under traces/, so a scenario's trace_file
# (relative to /scenarios) is there in the pod.
job = find(objs, "Job", "rbench-run")
vol = [v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "scenarios"][0]
projected = {it["path"]: it["key"] for it in vol["configMap"]["items"]}
c.check(set(projected.values()) == set(scen) and all(("/" in p) == k.startswith("traces.") for p, k in projected.items()),
        "runner Job: every scenarios key projected, traces.NAME at traces/NAME")
wanted = set()
for p in glob.glob(os.path.join(ROOT, "scenarios", "*.yaml")):
    sc = yaml.safe_load(open(p))
    for r in [sc.get("defaults") or {}] + (sc.get("runs") or []):
        if r.get("trace_file"):
            wanted.add(r["trace_file"])
c.check(bool(wanted) and wanted <= set(projected),
        f"runner Job: every shipped scenario's trace_file is in the pod (missing: {sorted(wanted - set(projected))})")

# Non-default sets.
_, objs = rendered["registry off"]
c.check(not [o for o in objs if o["kind"] == "DaemonSet"], "registry.enabled=false, builder.enabled=false: no DaemonSet")
_, objs = rendered["redis off"]
c.check(find(objs, "Deployment", "rbench-redis") is None and find(objs, "Secret", "rbench-redis") is None,
        "redis.enabled=false: no Redis Deployment or Secret")
agent = container(find(objs, "Deployment", "rbench-agent"), "agent")
c.check("redis.example.internal:6390" in agent["args"] and "--redis-password-file" not in agent["args"],
        "redis.enabled=false: the agent uses redis.host:redis.port, no password")
_, objs = rendered["pvc results"]
job = find(objs, "Job", "rbench-run")
rb = container(job, "rbench")
pvc = find(objs, "PersistentVolumeClaim", "rbench-results")
c.check(pvc is not None and pvc["spec"]["storageClassName"] == "fast", "results.pvc.enabled: PVC rbench-results")
c.check("/results/$(RBENCH_JOB_NAME)/" in rb["args"] and "--results-configmap" not in rb["args"]
        and find(objs, "Role", "rbench-runner") is None and job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False,
        "results.pvc.enabled: a directory per Job, no ConfigMaps, no Role, no token")
_, objs = rendered["several scenarios"]
scen = find(objs, "ConfigMap", "rbench-scenarios")["data"]
c.check(scen.get("mine.yaml") == "name: mine" and "other.yaml" in scen and "quickstart.yaml" in scen,
        "runner.scenarios adds files beside the shipped ones")
rb = container(find(objs, "Job", "rbench-run"), "rbench")
c.check("/scenarios/mine.yaml" in rb["args"] and rb["image"] == "localhost:5000/rbench:1.2.3", "runner.scenario and image.tag")
role = find(objs, "Role", "rbench-runner")
c.check(role["rules"][0]["verbs"] == ["create"] and "resourceNames" not in role["rules"][0]
        and role["rules"][1]["resourceNames"] == ["rbench-results-a", "rbench-results-b"],
        "resultsConfigMapNames narrows get/update, create stays unnamed")
_, objs = rendered["other release"]
rb7 = container(find(objs, "Job", "bench-7"), "rbench")
c.check(rb7["args"][rb7["args"].index("--wait-for-action") + 1] == "0", "runner.waitForActionSeconds=0 is passed as is (no waiting)")
c.check(find(objs, "Job", "bench-7")["spec"].get("suspend") is True and "suspend" not in js,
        "runner.suspend=true creates the Job suspended (and only then)")
c.check(find(objs, "Job", "bench-7") is not None and find(objs, "Deployment", "bench-rbench-agent") is not None,
        "release 'bench': objects named bench-rbench-*, runner.jobName")

# runner.shards: 1 is today's plain Job; more is an Indexed Job of that many pods.
SHARD_KEYS = ("completionMode", "completions", "parallelism", "backoffLimitPerIndex", "maxFailedIndexes")
_, objs = rendered["defaults"]
job1 = find(objs, "Job", "rbench-run")
c.check(job1["spec"]["backoffLimit"] == 0 and not any(k in job1["spec"] for k in SHARD_KEYS)
        and "affinity" not in job1["spec"]["template"]["spec"]
        and "annotations" not in job1["spec"]["template"]["metadata"]
        and not {"RBENCH_SHARDS", "RBENCH_START_AT"} & set(env_of(container(job1, "rbench"))),
        "runner.shards=1 (default): a plain Job, backoffLimit 0, no index, affinity, start instant or shard env")
_, objs = rendered["3 shards"]
job3 = find(objs, "Job", "rbench-run")
js3 = job3["spec"]
c.check(js3.get("completionMode") == "Indexed" and js3.get("completions") == 3 and js3.get("parallelism") == 3
        and js3.get("backoffLimitPerIndex") == 0,
        "runner.shards=3: Indexed Job, completions = parallelism = 3, backoffLimitPerIndex 0")
c.check("backoffLimit" not in js3 and "maxFailedIndexes" not in js3,
        "runner.shards=3: backoffLimit left to its default (0 would stop every shard at the first failure), "
        "no maxFailedIndexes (the other shards run to their end)")
c.check(js3["template"]["spec"]["restartPolicy"] == "Never" and js3["activeDeadlineSeconds"] == js["activeDeadlineSeconds"],
        "runner.shards=3: restartPolicy Never, the same deadline")
rb3 = container(job3, "rbench")
env3 = env_of(rb3)
c.check(env3.get("RBENCH_SHARDS") == "3"
        and env3.get("RBENCH_START_AT") == {"fieldRef": {"fieldPath": "metadata.annotations['rbench.io/start-at']"}},
        "runner.shards=3: env RBENCH_SHARDS=3, RBENCH_START_AT from the pod's annotation rbench.io/start-at")
c.check(rb3["args"] == container(job1, "rbench")["args"] and "JOB_COMPLETION_INDEX" not in env3,
        "runner.shards=3: the same args as one runner (JOB_COMPLETION_INDEX comes from the Job controller)")
start = js3["template"]["metadata"]["annotations"]["rbench.io/start-at"]
try:
    ahead = datetime.strptime(start, "%Y-%m-%dT%H:%M:%S%z").timestamp() - t0
except ValueError:
    ahead = None
c.check(ahead is not None and 100 <= ahead <= 121,
        f"runner.startAt empty: the render's time + startDelaySeconds (120), RFC 3339 UTC ({start!r}, {ahead} s ahead)")
aff = js3["template"]["spec"].get("affinity", {}).get("podAntiAffinity", {})
c.check(aff == {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "labelSelector": {"matchLabels": {"batch.kubernetes.io/job-name": "rbench-run"}},
            "topologyKey": "kubernetes.io/hostname"}}]},
        "runner.antiAffinity=preferred (default): this Job's pods preferably on different nodes")
c.check(find(objs, "Role", "rbench-runner")["rules"] == find(rendered["defaults"][1], "Role", "rbench-runner")["rules"],
        "runner.shards=3: the Role is the same (each shard creates its own ConfigMaps)")
_, objs = rendered["3 shards, required anti-affinity, start given"]
jr = find(objs, "Job", "bench-s3")
c.check(jr["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"] == {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"batch.kubernetes.io/job-name": "bench-s3"}},
             "topologyKey": "kubernetes.io/hostname"}]},
        "runner.antiAffinity=required: one node per shard, selecting this Job's pods by name")
c.check(jr["spec"]["template"]["metadata"]["annotations"]["rbench.io/start-at"] == SETS["3 shards, required anti-affinity, start given"][-1].split("=", 1)[1],
        "runner.startAt given: the annotation is that instant as given")
_, objs = rendered["3 shards, no anti-affinity, PVC RWX"]
jn = find(objs, "Job", "rbench-run")
c.check("affinity" not in jn["spec"]["template"]["spec"] and jn["spec"]["completionMode"] == "Indexed"
        and "/results/$(RBENCH_JOB_NAME)/" in container(jn, "rbench")["args"],
        "runner.antiAffinity=none: no affinity; with a ReadWriteMany claim every shard writes to /results/JOB/")
now = int(time.time())
plus2 = time.strftime("%Y-%m-%dT%H:%M:%S+02:00", time.gmtime(now + 2 * 3600 + 300))  # now + 300 s
for vals, want in [
        (["--set", f"runner.startAt={now + 300}"], f"{now + 300}"),  # an integer with --set
        (["--set-string", f"runner.startAt={now + 300}.25"], f"{now + 300}.25"),
        (["--set-string", f"runner.startAt={plus2}"], plus2),
        (["--set", "runner.suspend=true", "--set-string", "runner.startAt=2000-01-01T00:00:00Z"], "2000-01-01T00:00:00Z")]:
    p = helm(HELM, "template", "r", CHART, *REQUIRED, "--set", "runner.shards=3", *vals,
             "--show-only", "templates/runner-job.yaml", check=False)
    got = yaml.safe_load(p.stdout)["spec"]["template"]["metadata"]["annotations"]["rbench.io/start-at"] if p.returncode == 0 else None
    c.check(got == want, f"runner.startAt accepted as given: {' '.join(vals)} -> {got!r}" +
            ("" if p.returncode == 0 else "\n" + p.stderr))
# NOTES.txt: how to resume a suspended sharded Job with a new instant, and how to fetch and merge.
p = helm(HELM, "install", "--dry-run=client", "rbench", CHART, *REQUIRED, "--set", "runner.shards=3",
         "--set", "runner.suspend=true", check=False)
resume = re.search(r"kubectl -n default patch job rbench-run --type merge -p '(.*)'$", p.stdout, re.M)
c.check(p.returncode == 0 and resume is not None and "shards/" in p.stdout and "rbench merge" in p.stdout,
        "NOTES (3 shards, suspended): the resume command and the fetch/merge step" + ("" if p.returncode == 0 else p.stderr))
if resume:  # the shell expands $(( ... )) between the single-quoted halves: the JSON it gives
    sh = subprocess.run(["sh", "-c", "printf %s '" + resume.group(1) + "'"], capture_output=True, text=True)
    patch = json.loads(sh.stdout) if sh.returncode == 0 else {}
    at = patch.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {}).get("rbench.io/start-at", "")
    c.check(patch.get("spec", {}).get("suspend") is False and at.isdigit() and 110 <= int(at) - time.time() <= 121,
            f"NOTES: the resume patch unsuspends and sets rbench.io/start-at to now + 120 s ({sh.stdout})")

p = helm(HELM, "install", "--dry-run=client", "rbench", CHART, *REQUIRED, "--set", "agent.placement=node", check=False)
c.check(p.returncode == 0 and "get pods -o wide -l app.kubernetes.io/instance=rbench,app.kubernetes.io/component=agent" in p.stdout,
        "NOTES (node-local agent): how to see which nodes have an agent")

# The validator knows the recent Job fields (backoffLimitPerIndex is GA in 1.33): a typo of one is caught.
text3, _ = rendered["3 shards"]
bad = text3.replace("backoffLimitPerIndex: 0", "backofLimitPerIndex: 0")
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    f.write(bad)
p = validate(f.name)
os.unlink(f.name)
c.check(p.returncode == 1 and "unknown field spec.backofLimitPerIndex" in p.stdout,
        "validate.mjs knows backoffLimitPerIndex (a misspelling of it is an unknown field)")

# No secret in any rendered object except, base64-encoded, in its Secret.
PW, KEY = "Redis-Secret-Pw-4711", "OWKEY-do-not-print-9f3e"
text, objs = render(HELM, *REQUIRED, "--set", f"redis.password={PW}", "--set", f"openwhisk.authSecretKey=auth")
c.check(PW not in text, "redis.password appears in no rendered object in clear")
b64 = base64.b64encode(PW.encode()).decode()
c.check(all(b64 not in str(o) for o in objs if o["kind"] != "Secret") and b64 in str(find(objs, "Secret", "rbench-redis")),
        "redis.password is only in Secret rbench-redis")
text3s, objs3s = render(HELM, *REQUIRED, "--set", f"redis.password={PW}", "--set", "runner.shards=3")
c.check(PW not in text3s and all(b64 not in str(o) for o in objs3s if o["kind"] != "Secret"),
        "runner.shards=3: redis.password only in Secret rbench-redis (not in the shards' env or args)")
p = helm(HELM, "template", "r", CHART, *REQUIRED, "--set", f"openwhisk.auth={KEY}", check=False)
c.check(p.returncode != 0 and KEY not in p.stdout, "there is no value for the OpenWhisk key itself (openwhisk.auth rejected)")

# The schema rejects typos and latest; the chart names what is missing.
for vals, want, label in [
        (["--set", "registy.enabled=false"], "registy", "a misspelt top-level value"),
        (["--set", "redis.pasword=x"], "pasword", "a misspelt nested value"),
        (["--set", "image.tag=latest"], "/image/tag", "image.tag=latest"),
        (["--set", "redis.image=docker.io/library/redis:latest"], "/redis/image", "an image with :latest"),
        (["--set", "runner.scenario=nope.yaml"], "nope.yaml", "an unknown scenario"),
        (["--set", "runner.waitForActionSeconds=-5"], "/runner/waitForActionSeconds", "a negative wait for the action"),
        (["--set", "runner.waitForActionSecond=5"], "waitForActionSecond", "a misspelt runner.waitForActionSeconds"),
        (["--set", "redis.enabled=false"], "redis.host is required", "an external Redis without redis.host"),
        (["--set", "runner.shards=0"], "/runner/shards", "runner.shards=0"),
        (["--set", "runner.shards=101"], "/runner/shards", "runner.shards=101"),
        (["--set", "runner.shard=3"], "shard", "a misspelt runner.shards"),
        (["--set", "runner.antiAffinity=soft"], "/runner/antiAffinity", "runner.antiAffinity=soft"),
        (["--set", "agent.placement=local"], "/agent/placement", "agent.placement=local"),
        (["--set", "agent.node.nodeSelectr.a=b"], "nodeSelectr", "a misspelt agent.node.nodeSelector"),
        (["--set", "runner.startDelaySeconds=1"], "/runner/startDelaySeconds", "runner.startDelaySeconds=1"),
        (["--set", "runner.shards=3", "--set-string", "runner.startAt=tomorrow"], "/runner/startAt", "runner.startAt=tomorrow"),
        (["--set", "runner.shards=3", "--set-string", "runner.startAt=2026-13-04T10:00:00Z"], "is not a date",
         "runner.startAt with month 13"),
        (["--set", "runner.shards=3", "--set-string", "runner.startAt=2020-01-01T00:00:00Z"], "is in the past",
         "runner.startAt in the past"),
        (["--set", "runner.shards=3", "--set", f"runner.startAt={int(time.time()) + 3 * 86400}"],
         "more than runner.activeDeadlineSeconds", "runner.startAt beyond the Job's deadline"),
        (["--set", "runner.shards=3", "--set", "runner.activeDeadlineSeconds=259200",
          "--set", f"runner.startAt={int(time.time()) + 2 * 86400}"], "more than a day ahead",
         "runner.startAt two days ahead (the runner refuses more than one)"),
        (["--set", "runner.shards=3", "--kube-version", "1.28.9"], "needs Kubernetes 1.29", "runner.shards=3 on Kubernetes 1.28"),
        (["--set", "runner.shards=3", "--set", "results.pvc.enabled=true"], "needs results.pvc.accessModes [ReadWriteMany]",
         "runner.shards=3 with a ReadWriteOnce results claim")]:
    p = helm(HELM, "template", "r", CHART, *REQUIRED, *vals, check=False)
    c.check(p.returncode != 0 and want in p.stderr, f"rejected: {label}" + ("" if p.returncode else " (rendered!)"))
p = helm(HELM, "template", "r", CHART, check=False)
c.check(p.returncode != 0 and "openwhisk.apiHost is required" in p.stderr, "without openwhisk.apiHost: a clear error")
p = helm(HELM, "template", "r", CHART, "--set", "runner.enabled=false", check=False)
c.check(p.returncode == 0, "runner.enabled=false renders without OpenWhisk settings")

# The strict check catches what kubernetes-models lets through.
p = validate(os.path.join(ROOT, "tests", "k8s", "broken-job.yaml"))
c.check(p.returncode == 1 and "unknown field spec.backofLimit" in p.stdout
        and "unknown field spec.containers[0].imagPullPolicy" in p.stdout and "must be integer" in p.stdout,
        "validate.mjs rejects misspelt fields and wrong types" + ("" if p.returncode == 1 else "\n" + p.stdout))

# manifests/: valid, and what the chart renders today.
files = sorted(glob.glob(os.path.join(ROOT, "manifests", "rbench", "*.yaml"))) + [os.path.join(ROOT, "manifests", "kustomization.yaml")]
examples = sorted(glob.glob(os.path.join(ROOT, "manifests", "examples", "*.yaml")))
p = validate(*files[:-1], *examples)
c.check(p.returncode == 0 and examples, "every file in manifests/ and manifests/examples/ valid (strict)" +
        ("" if p.returncode == 0 else "\n" + p.stdout))
ex = [d for d in yaml.safe_load_all(open(os.path.join(ROOT, "manifests", "examples", "runner-job-3-shards.yaml"))) if d]
c.check(len(ex) == 1 and ex[0]["kind"] == "Job" and ex[0]["spec"].get("completionMode") == "Indexed"
        and ex[0]["spec"].get("suspend") is True and ex[0]["spec"]["completions"] == 3
        and ex[0]["spec"]["template"]["metadata"]["annotations"]["rbench.io/start-at"] == "2000-01-01T00:00:00Z",
        "manifests/examples/runner-job-3-shards.yaml: a suspended 3-shard Indexed Job (start set when resumed)")
p = subprocess.run([os.path.join(ROOT, "tools", "dev", "render-manifests.sh"), "--check"], capture_output=True, text=True,
                   env={**os.environ, "HELM": HELM})
c.check(p.returncode == 0, "manifests/ in sync with the chart (tools/dev/render-manifests.sh --check)" +
        ("" if p.returncode == 0 else "\n" + p.stderr[-3000:]))
an = [d for d in yaml.safe_load_all(open(os.path.join(ROOT, "manifests", "examples", "agent-node.yaml"))) if d]
an_kinds = {d["kind"]: d for d in an}
c.check(sorted(an_kinds) == ["DaemonSet", "Service"] and an_kinds["Service"]["spec"].get("internalTrafficPolicy") == "Local"
        and an_kinds["DaemonSet"]["spec"]["template"]["spec"].get("nodeSelector") == {"openwhisk-role": "invoker"}
        and an_kinds["DaemonSet"]["metadata"]["name"] == an_kinds["Service"]["metadata"]["name"] == "rbench-agent",
        "manifests/examples/agent-node.yaml: the node-local agent DaemonSet and its Local Service")
kust = open(files[-1]).read()
c.check(all(f"rbench/{os.path.basename(f)}" in kust for f in files[:-1]), "kustomization.yaml lists every manifest")
kubectl = os.path.join(os.path.dirname(HELM), "kubectl")
p = subprocess.run([kubectl, "kustomize", os.path.join(ROOT, "manifests")], capture_output=True, text=True)
n_files = sum(open(f).read().count("\nkind: ") + open(f).read().startswith("kind: ") for f in files[:-1])
c.check(p.returncode == 0 and p.stdout.count("\nkind: ") + p.stdout.startswith("kind: ") == n_files,
        f"kubectl kustomize manifests/ builds all {n_files} objects" + ("" if p.returncode == 0 else "\n" + p.stderr))
c.check(not re.search(r"^\s*password:\s", "".join(open(f).read() for f in files), re.M), "manifests/ holds no password")

c.done()
