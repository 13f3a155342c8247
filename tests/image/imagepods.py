"""imagepods.py: the three images run as a kubelet runs the chart's pods, and the checks made on
them (tests/image/run_images.py on the registry's images, tests/image/test_image_checks.py on
images of the build tree's binaries, good and broken).

A "pod" here is a network namespace of the test's own (ocirun's Runtime.netns: loopback only,
nothing routed anywhere) holding what the pod sees: the chart's Services of its namespace
(rbench-redis: the host's redis-server started inside the namespace with the chart's password
Secret; rbench-agent: a container of the agent image run from the chart's Deployment) on their
chart ports on 127.0.0.1, and the container under test. Every container gets what the kubelet
would give it from the rendered chart (helm template, as tests/k8s does): command/args
(Kubernetes' rule against the image's entrypoint; `$(VAR)` expanded from its env), env (value,
fieldRef, secretKeyRef), the pod's and the container's securityContext (runAsUser,
runAsGroup, fsGroup, runAsNonRoot refused for uid 0, readOnlyRootFilesystem,
allowPrivilegeEscalation, capabilities), the volumes at their mountPaths (ConfigMap and Secret
items with their modes, Secret files root:fsGroup, emptyDir 0777), resources.limits as cgroup
limits, and a kubelet-style /etc/hosts in which the Services' cluster names
(rbench-redis.rbench.svc.cluster.local, ...) are 127.0.0.1: the chart's env and args are used
as rendered. The host reaches a pod with `ip netns exec NS curl|redis-cli`; secrets go through
files and stdin, never argv or the log.

Each check_* function reports through a Report (one "ok - ..." / "not ok - ..." line per
check) and returns whether all its checks held, so the same functions prove a good image and
catch a broken one.
"""
import base64
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "k8s"))
import ocirun  # noqa: E402

NAMESPACE = "rbench"
REDIS_SVC = f"rbench-redis.{NAMESPACE}.svc.cluster.local"
AGENT_SVC = f"rbench-agent.{NAMESPACE}.svc.cluster.local"
# containerd's default capability set (what a container keeps unless it drops them)
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
# the chart's openwhisk.authSecret is made by the user (tools/deploy.sh), not by the chart: a
# stand-in with the key the runner's pod mounts (no OpenWhisk is reached here)
OPENWHISK_SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "rbench-openwhisk"},
                    "data": {"auth": base64.b64encode(b"00000000-0000-0000-0000-000000000000:notused").decode()}}


class Report:
    """ok/not ok lines and the counts; prefix marks a broken image's expected failures."""

    def __init__(self, prefix="", out=None):
        self.prefix, self.out = prefix, out or sys.stdout
        self.passed, self.failed = 0, []

    def check(self, cond, what, detail=""):
        cond = bool(cond)
        if cond:
            self.passed += 1
        else:
            self.failed.append(what)
        print(f"{self.prefix}{'ok' if cond else 'not ok'} - {what}", file=self.out, flush=True)
        if not cond and detail:
            for line in str(detail).strip().splitlines()[-12:]:
                print(f"{self.prefix}#   {line}", file=self.out, flush=True)
        return cond

    def note(self, text):
        for line in str(text).splitlines():
            print(f"{self.prefix}# {line}", file=self.out, flush=True)

    def summary(self):
        return f"{self.passed} passed, {len(self.failed)} failed"


# --- the chart ------------------------------------------------------------------------------
def render_chart():
    """The rendered chart's objects (the helm-test Pod included). Exits 77 without helm."""
    import k8stest  # noqa: E402 -- needs PyYAML, as the chart tests do
    helm, _, _ = k8stest.tools()
    _, objs = k8stest.render(helm, *k8stest.REQUIRED)
    return objs + [OPENWHISK_SECRET]


def find(objs, kind, name):
    for o in objs:
        if o.get("kind") == kind and o["metadata"]["name"] == name:
            return o
    raise KeyError(f"the rendered chart has no {kind} {name}")


def workload(objs, kind, name, container):
    """(pod metadata, pod spec, container spec) of a Deployment/Job (template) or a Pod."""
    o = find(objs, kind, name)
    if kind == "Pod":
        meta, spec = dict(o["metadata"]), o["spec"]
    else:
        meta, spec = dict(o["spec"]["template"]["metadata"]), o["spec"]["template"]["spec"]
        meta.setdefault("name", f"{name}-pod")
        if kind == "Job":  # the labels the Job controller adds to its pods
            meta["labels"] = dict(meta.get("labels") or {}, **{"batch.kubernetes.io/job-name": name,
                                                                "job-name": name})
    meta.setdefault("namespace", NAMESPACE)
    for c in spec["containers"]:
        if c["name"] == container:
            return meta, spec, c
    raise KeyError(f"{kind} {name} has no container {container}")


def quantity(q, cpu=False):
    """Kubernetes quantity -> bytes (memory) or cores (cpu)."""
    q = str(q)
    if cpu:
        return int(q[:-1]) / 1000 if q.endswith("m") else float(q)
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 10**3, "M": 10**6, "G": 10**9}
    for u, f in units.items():
        if q.endswith(u):
            return int(float(q[:-len(u)]) * f)
    return int(q)


def expand(s, env):
    """Kubernetes' $(VAR) expansion in command/args ($$ escapes; unknown names stay)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), s)


# --- pods -----------------------------------------------------------------------------------
class Pod:
    """A network namespace with the pod's Services on loopback, and its volumes on the host."""

    def __init__(self, rt, objs, name, work):
        base, n = name, 1
        while os.path.exists(os.path.join(work, "pods", name)):  # a second pod of the kind
            n += 1
            name = f"{base}{n}"
        self.rt, self.objs, self.name = rt, objs, name
        self.ns = rt.netns(name)
        self.dir = os.path.join(work, "pods", name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.hosts = os.path.join(self.dir, "etc-hosts")
        with open(self.hosts, "w") as f:  # what the kubelet writes, plus the Services' names
            f.write(f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                    f"127.0.0.1\t{name}\n127.0.0.1\t{REDIS_SVC}\n127.0.0.1\t{AGENT_SVC}\n")
        os.chmod(self.hosts, 0o644)
        # the chart's Redis password (no chart: a Redis without one, for the action alone)
        self.password = (base64.b64decode(find(objs, "Secret", "rbench-redis")["data"]["password"]).decode()
                         if objs else None)

    def run(self, argv, input=None, timeout=30, env=None):
        """A host program inside the pod's namespace; (exit code, stdout + stderr)."""
        try:
            p = subprocess.run(self.rt.in_netns(self.ns, argv), input=input, capture_output=True, text=True,
                               timeout=timeout, env=env)
            return p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired:
            return 124, f"{argv[0]} timed out after {timeout} s"

    def redis_cli(self, port, *args, password=None):
        env = dict(os.environ)
        env.pop("REDISCLI_AUTH", None)
        if password:
            env["REDISCLI_AUTH"] = password  # not in argv
        rc, out = self.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args], env=env, timeout=10)
        return out.strip() if rc == 0 else f"(redis-cli exit {rc}) {out.strip()}"

    def http(self, method, url, body=None, timeout=20):
        """(status, body text) of METHOD url, the body through stdin."""
        argv = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", str(timeout), "-X", method, url]
        if body is not None:
            argv[1:1] = ["-H", "Content-Type: application/json", "--data-binary", "@-"]
        rc, out = self.run(argv, input=body, timeout=timeout + 5)
        text, _, code = out.rpartition("\n")
        return (int(code) if code.isdigit() else 0), (text if rc == 0 else out)

    def start_redis(self):
        """The chart's rbench-redis Service: the host's redis-server, the Secret's password (from a
        0600 config file), on 127.0.0.1:6379 inside the namespace."""
        conf = os.path.join(self.dir, "redis.conf")
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"bind 127.0.0.1\nport 6379\nsave \"\"\nappendonly no\ndir {self.dir}\n"
                    f"logfile {self.dir}/redis.log\n" + (f"requirepass {self.password}\n" if self.password else ""))
        p = self.rt.popen(self.rt.in_netns(self.ns, ["redis-server", conf]), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
        if not ocirun.wait_until(lambda: p.poll() is not None or
                                 self.redis_cli(6379, "PING", password=self.password) == "PONG", 10):
            raise RuntimeError(f"redis-server did not start in {self.ns}")
        if p.poll() is not None:
            raise RuntimeError(f"redis-server exited in {self.ns}: {tail(os.path.join(self.dir, 'redis.log'))}")

    def volume(self, spec, vol_name, fs_group):
        """The pod's volume VOL_NAME laid out on the host as the kubelet projects it."""
        d = os.path.join(self.dir, "volumes", vol_name)
        if os.path.isdir(d):
            return d
        os.makedirs(d)
        v = next(x for x in spec.get("volumes", []) if x["name"] == vol_name)
        if "emptyDir" in v:
            os.chmod(d, 0o777)
        elif "configMap" in v or "secret" in v:
            src = v.get("configMap") or v["secret"]
            obj = (find(self.objs, "ConfigMap", src["name"]) if "configMap" in v
                   else find(self.objs, "Secret", src["secretName"]))
            data = {k: base64.b64decode(b) for k, b in (obj.get("binaryData") or {}).items()}
            data.update({k: (base64.b64decode(x) if "secret" in v else x.encode())
                         for k, x in (obj.get("data") or {}).items()})
            items = src.get("items") or [{"key": k, "path": k} for k in data]
            for it in items:
                if it["key"] not in data:
                    raise KeyError(f"volume {vol_name}: no key {it['key']!r}")
                path = os.path.join(d, it["path"])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data[it["key"]])
                os.chmod(path, it.get("mode", src.get("defaultMode", 0o644)))
                if "secret" in v and fs_group is not None:
                    os.chown(path, 0, int(fs_group))
            for dp, dirs, _ in os.walk(d):
                for x in dirs:
                    os.chmod(os.path.join(dp, x), 0o755)
            os.chmod(d, 0o755)
        else:
            raise RuntimeError(f"volume {vol_name}: only emptyDir, configMap and secret are emulated")
        return d

    def start(self, image, meta, spec, ctr, name, args=None, env_drop=(), mounts=(), wait=False, timeout=None):
        """Container CTR of the pod spec SPEC run from IMAGE as the kubelet would; args replaces the
        chart's args when given (the runner's short scenario)."""
        psc, csc = spec.get("securityContext") or {}, ctr.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        gid = csc.get("runAsGroup", psc.get("runAsGroup"))
        image_uid = image.spec["process"]["user"].get("uid", 0)
        if csc.get("runAsNonRoot", psc.get("runAsNonRoot")) and (uid if uid is not None else image_uid) == 0:
            raise RuntimeError(f"{name}: runAsNonRoot and the container would run as root")
        caps = list(DEFAULT_CAPS)
        capsc = csc.get("capabilities") or {}
        drop = [("CAP_" + c).upper() if not c.upper().startswith("CAP_") else c.upper() for c in capsc.get("drop", [])]
        caps = [] if "CAP_ALL" in drop else [c for c in caps if c not in drop]
        caps += [("CAP_" + c).upper() for c in capsc.get("add", [])]
        env = {}
        for e in ctr.get("env") or []:
            if e["name"] in env_drop:
                continue
            if "value" in e:
                env[e["name"]] = expand(str(e["value"]), env)
            elif "fieldRef" in e["valueFrom"]:
                fp = e["valueFrom"]["fieldRef"]["fieldPath"]
                m = re.fullmatch(r"metadata\.labels\['([^']+)'\]", fp)
                env[e["name"]] = (meta["labels"][m.group(1)] if m else
                                  {"metadata.name": meta["name"], "metadata.namespace": meta["namespace"]}[fp])
            elif "secretKeyRef" in e["valueFrom"]:
                ref = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = base64.b64decode(find(self.objs, "Secret", ref["name"])["data"][ref["key"]]).decode()
            else:
                raise RuntimeError(f"{name}: env {e['name']}: valueFrom {list(e['valueFrom'])} is not emulated")
        all_mounts = [ocirun.Mount(self.hosts, "/etc/hosts", readonly=True)]
        for vm in ctr.get("volumeMounts") or []:
            src = self.volume(spec, vm["name"], psc.get("fsGroup"))
            if vm.get("subPath"):
                src = os.path.join(src, vm["subPath"])
            all_mounts.append(ocirun.Mount(src, vm["mountPath"], readonly=bool(vm.get("readOnly"))))
        all_mounts += list(mounts)
        limits = (ctr.get("resources") or {}).get("limits") or {}
        command = [expand(a, env) for a in ctr["command"]] if ctr.get("command") else None
        cargs = args if args is not None else ctr.get("args")
        cargs = [expand(str(a), env) for a in cargs] if cargs is not None else None
        return self.rt.run(image, f"{self.name}-{name}", command=command, args=cargs, env=env, user=uid, group=gid,
                           fs_group=psc.get("fsGroup"), readonly_root=bool(csc.get("readOnlyRootFilesystem")),
                           no_new_privileges=csc.get("allowPrivilegeEscalation") is False, capabilities=caps,
                           mounts=all_mounts, net=self.ns, cwd=ctr.get("workingDir"),
                           memory_bytes=quantity(limits["memory"]) if "memory" in limits else None,
                           cpu=quantity(limits["cpu"], cpu=True) if "cpu" in limits else None,
                           wait=wait, timeout=timeout)


def tail(path, n=2000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError as e:
        return str(e)


def wait_serving(c, probe, secs=15):
    """Until probe() holds (True) or the container exits or secs pass (False)."""
    return ocirun.wait_until(lambda: c.poll() is not None or probe(), secs, 0.1) and c.poll() is None


# --- the checks -----------------------------------------------------------------------------
def start_agent(r, pod, image, objs, label):
    """The chart's agent Deployment's container in POD (the rbench-agent Service there); True
    when it serves RESP on 6380 and /healthz on 9121."""
    meta, spec, ctr = workload(objs, "Deployment", "rbench-agent", "agent")
    c = pod.start(image, meta, spec, ctr, "agent")
    up = wait_serving(c, lambda: pod.redis_cli(6380, "PING") == "PONG"
                      and pod.http("GET", "http://127.0.0.1:9121/healthz", timeout=2)[0] == 200)
    r.check(up, f"{label}: the agent container (chart args, securityContext, Secret mount) serves "
            "RESP on :6380 and /healthz on :9121 in the pod's network namespace",
            f"exit {c.poll()}; output:\n{c.output()}")
    return c if up else None


def check_agent(r, rt, image, objs, work):
    """The agent Deployment's pod: RESP (PING; SET through the agent lands in Redis), /healthz,
    /metrics; it runs as 65534 with no capabilities, read-only root, no new privileges."""
    pod = Pod(rt, objs, "agent", work)
    pod.start_redis()
    c = start_agent(r, pod, image, objs, "agent")
    if not c:
        return False
    ok = True
    ok &= r.check(pod.redis_cli(6380, "SET", "imagetest:agent", "via-agent") == "OK"
                  and pod.redis_cli(6379, "GET", "imagetest:agent", password=pod.password) == "via-agent",
                  "agent: SET through the agent (authenticated with the Secret's password file) lands in Redis")
    st, body = pod.http("GET", "http://127.0.0.1:9121/metrics")
    ok &= r.check(st == 200 and "rbench_agent_" in body,
                  f"agent: GET /metrics answers 200 with rbench_agent_* metrics (got {st})",
                  body[:400])
    st, _ = pod.http("GET", "http://127.0.0.1:9121/healthz")
    ok &= r.check(st == 200, f"agent: GET /healthz answers 200 (got {st})")
    ok &= check_process(r, c, "agent", want_entry="/rbench-agent")
    return ok


def check_process(r, c, label, want_entry):
    """What the kernel says about the container's process: its uid/gid, no capabilities, no new
    privileges, its root is the image's rootfs, mounted read-only, argv[0] the entrypoint."""
    pid = c.pid()
    if not pid:
        return r.check(False, f"{label}: the container is running (runc state)", c.output())
    try:
        status = dict(line.split(":\t", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":\t" in line)
        argv0 = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode()
        mounts = open(f"/proc/{pid}/mounts").read().splitlines()
    except OSError as e:
        return r.check(False, f"{label}: /proc of the container's process readable", e)
    root_ro = any(m.split()[1] == "/" and "ro" in m.split()[3].split(",") for m in mounts)
    uids, gids = status["Uid"].split(), status["Gid"].split()
    good = (uids[0] == "65534" and gids[0] == "65534" and int(status["CapEff"], 16) == 0
            and int(status["CapBnd"], 16) == 0 and status.get("NoNewPrivs", "").strip() == "1"
            and root_ro and argv0 == want_entry)
    return r.check(good, f"{label}: its process runs {want_entry} as 65534:65534, no capabilities (CapEff/CapBnd 0), "
                   "NoNewPrivs 1, / mounted read-only",
                   f"argv0 {argv0} uid {status['Uid']} gid {status['Gid']} CapEff {status['CapEff']} "
                   f"CapBnd {status['CapBnd']} NoNewPrivs {status.get('NoNewPrivs')} root ro {root_ro}")


def check_action(r, rt, image, objs, work, agent_image, version=None):
    """The action as OpenWhisk's invoker runs it (the image's entrypoint and user, no args: it
    listens on 0.0.0.0:8080; read-only root, no capabilities, 256 MB): /init, and /run straight
    to Redis and through the agent container beside it (when AGENT_IMAGE), by the Services'
    cluster names. OBJS None: no chart, a Redis without a password. VERSION: what
    `rbench-action --version` must print."""
    pod = Pod(rt, objs, "action", work)
    pod.start_redis()
    agent = start_agent(r, pod, agent_image, objs, "action pod") if agent_image else None
    c = rt.run(image, f"{pod.name}-action", mounts=[ocirun.Mount(pod.hosts, "/etc/hosts", readonly=True)],
               net=pod.ns, readonly_root=True, capabilities=(), memory_bytes=256 << 20)
    up = wait_serving(c, lambda: pod.http("GET", "http://127.0.0.1:8080/", timeout=2)[0] > 0)
    if not r.check(up, "action: the container (image entrypoint, user, no args) serves on :8080",
                   f"exit {c.poll()}; output:\n{c.output()}"):
        return False
    ok = check_process(r, c, "action", want_entry="/rbench-action")
    if version is not None:
        v = rt.run(image, f"{pod.name}-version", args=["--version"], net=pod.ns, wait=True, timeout=30)
        got = v.output().strip()
        ok &= r.check(v.returncode == 0 and got == version, f"action image: rbench-action --version is '{version}' (got '{got}')")
    st, body = pod.http("POST", "http://127.0.0.1:8080/init", "{}")
    ok &= r.check(st == 200 and body.strip() == '{"ok":true}',
                  f"action: POST /init answers 200 {{\"ok\":true}} (got {st} {body[:200]})")

    def run(label, value, target, prefix):
        value = dict(value, num_ops=5, key_prefix=prefix)
        st, body = pod.http("POST", "http://127.0.0.1:8080/run", json.dumps({"value": value}))
        try:
            res = json.loads(body)
        except ValueError:
            res = {}
        r.note(f"/run {label} -> {st} {json.dumps({k: res.get(k) for k in ('succeeded', 'failed', 'target', 'error')})}")
        return r.check(st == 200 and "error" not in res and res.get("succeeded") == 5 and res.get("failed") == 0
                       and res.get("target") == target, f"action: /run {label}: 200, succeeded 5, failed 0, target {target}",
                       body[:400])
    direct = {"redis_host": REDIS_SVC, "redis_port": 6379}
    if pod.password:
        direct["redis_password"] = pod.password
    ok &= run(f"straight to Redis ({REDIS_SVC}:6379{', with its password' if pod.password else ''})",
              direct, "redis", "direct")
    if agent:
        ok &= run(f"batched through the agent container ({AGENT_SVC}:6380)",
                  {"use_batching": True, "agent_host": AGENT_SVC, "agent_port": 6380}, "agent", "batched")
    want = 10 if agent else 5
    n = pod.redis_cli(6379, "DBSIZE", password=pod.password)
    ok &= r.check(n == str(want), f"action: Redis holds the {want} keys written (DBSIZE {n})")
    return ok


def check_runner(r, rt, image, objs, work, agent_image, output="/results/"):
    """The runner Job's container (chart env, securityContext, mounts: scenarios ConfigMap,
    results and tmp emptyDirs, Secrets) running a short local scenario from the mounted
    ConfigMap, /rbench-action beside it, both runs (direct and batched through the agent
    container), its results written to OUTPUT (the results volume) and read back."""
    pod = Pod(rt, objs, "runner", work)
    pod.start_redis()
    if not start_agent(r, pod, agent_image, objs, "runner pod"):
        return False
    meta, spec, ctr = workload(objs, "Job", "rbench-run", "rbench")
    args = ["run", "-f", "/scenarios/quickstart.yaml", "--invocations", "20", "--rate", "40", "--repetitions", "1",
            "--warmup", "0", "--pool-size", "2", "--progress", "off", "--output", output]
    c = pod.start(image, meta, spec, ctr, "rbench", args=args, env_drop=("OPENWHISK_APIHOST",), wait=True, timeout=180)
    out = c.output()
    ok = r.check(c.returncode == 0, f"runner: `rbench {' '.join(args)}` in the Job's container exits 0 (got {c.returncode})", out)
    results = os.path.join(pod.dir, "volumes", "results")
    docs = []
    for dp, _, fs in os.walk(results):
        for fn in sorted(fs):
            if fn.endswith(".json"):
                try:
                    with open(os.path.join(dp, fn)) as f:
                        docs.append((os.path.relpath(os.path.join(dp, fn), results), json.load(f)))
                except (OSError, ValueError) as e:
                    docs.append((fn, {"error": str(e)}))
    r.note("results volume: " + (", ".join(n for n, _ in docs) or "empty"))
    runs = {d.get("scenario", {}).get("run"): d for _, d in docs if "invocations" in d}
    good = lambda d: (d.get("target") == "local" and d["invocations"].get("succeeded") == 20  # noqa: E731
                      and d["invocations"].get("failed") == 0 and d.get("action") == "/rbench-action")
    ok &= r.check(set(runs) == {"direct", "batched"} and all(good(d) for d in runs.values()),
                  "runner: the results volume holds the direct and batched documents: target local, "
                  "action /rbench-action, 20 succeeded, 0 failed",
                  json.dumps({k: {"target": d.get("target"), "action": d.get("action"),
                                  "invocations": d.get("invocations")} for k, d in runs.items()})[:600])
    if "batched" in runs:
        ag = runs["batched"].get("agent") or {}
        ok &= r.check(bool(ag) and not ag.get("warning"), "runner: the batched run's agent section (from the agent "
                      "container's /metrics, BATCHING_AGENT_METRICS_URL) has no warning", json.dumps(ag)[:400])
    return ok


def check_doctor(r, rt, image, objs, work, agent_image, version=None):
    """The helm-test Pod's doctor container (its env, args, securityContext and Secret mounts)
    against the pod's Redis and agent; without OPENWHISK_APIHOST (no OpenWhisk here). Also
    `rbench --version` from the image when VERSION is given."""
    pod = Pod(rt, objs, "doctor", work)
    pod.start_redis()
    if not start_agent(r, pod, agent_image, objs, "doctor pod"):
        return False
    meta, spec, ctr = workload(objs, "Pod", "rbench-test", "doctor")
    ok = True
    if version is not None:
        c = pod.start(image, meta, spec, ctr, "version", args=["--version"], wait=True, timeout=30)
        got = c.output().strip()
        ok &= r.check(c.returncode == 0 and got == version, f"runner image: rbench --version is '{version}' (got '{got}')")
    c = pod.start(image, meta, spec, ctr, "doctor", env_drop=("OPENWHISK_APIHOST",), wait=True, timeout=60)
    out = c.output()
    r.note("doctor: " + out.strip().replace("\n", "\n doctor: "))
    ok &= r.check(c.returncode == 0, f"doctor: the helm-test Pod's `rbench {' '.join(ctr.get('args', []))}` "
                  f"exits 0 (got {c.returncode})", out)
    ok &= r.check(re.search(r"^ok\s+rbench-action\s+/+rbench-action", out, re.M),
                  "doctor: it found /rbench-action inside the image", out)
    return ok


def check_leftovers(r, rt, label="runtime"):
    """After rt.close(): nothing of the Runtime is left (no container runc knows, no network
    namespace, no process rooted in or working under its directory, no cgroup)."""
    work, tag, state = rt.work, rt.tag, rt.state_root
    rt.close()
    left = [f"{p.pid} ({p.args[-2] if len(p.args) > 1 else p.args[0]})" for p in rt.procs if p.poll() is None]
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        for link in ("root", "cwd"):
            try:
                t = os.readlink(f"/proc/{p}/{link}")
            except OSError:
                continue
            if t.startswith(work) or t.startswith(state):
                left.append(f"{p} ({link} {t})")
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    nss = [line.split()[0] for line in ns.splitlines() if line.startswith(tag + "-")]
    cg = [os.path.join(d, x) for d in (os.path.join("/sys/fs/cgroup", c, "rbench-test") for c in
                                       (os.listdir("/sys/fs/cgroup") if os.path.isdir("/sys/fs/cgroup") else []))
          if os.path.isdir(d) for x in os.listdir(d) if x.startswith(tag)]
    runc_left = os.path.exists(state) and subprocess.run(["runc", "--root", state, "list", "-q"],
                                                         capture_output=True, text=True).stdout.strip()
    return r.check(not left and not nss and not cg and not runc_left and not os.path.exists(work),
                   f"{label}: nothing left: no process rooted or working in its directories, runc list empty, "
                   "no network namespace, no cgroup, work directory gone",
                   f"processes {left} netns {nss} cgroups {cg} runc {runc_left or []} work exists {os.path.exists(work)}")


def run_all(r, rt, objs, work, images, version=None, action_version=None):
    """Every check on images {"action", "agent", "runner"} (ocirun Images); True when all held."""
    ok = check_agent(r, rt, images["agent"], objs, work)
    ok &= check_action(r, rt, images["action"], objs, work, images["agent"], version=action_version)
    ok &= check_runner(r, rt, images["runner"], objs, work, images["agent"])
    ok &= check_doctor(r, rt, images["runner"], objs, work, images["agent"], version=version)
    return ok
