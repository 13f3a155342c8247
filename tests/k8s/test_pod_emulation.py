#!/usr/bin/env python3
"""test_pod_emulation.py: the chart's wiring run for real on this machine. The rendered Redis
and agent Deployments, runner Job and helm-test Pod are run as their containers would be:
each container's command, args and env (value, fieldRef, secretKeyRef, $(VAR) expansion),
its ConfigMap and Secret volumes materialised at their mountPaths under a temporary root,
Service names resolved to local servers: real redis-server, the built rbench-agent and
rbench, fakewhisk as OpenWhisk and as the Kubernetes API server, which authorizes every
ConfigMap request with the rendered Role and RoleBinding (403 Forbidden otherwise). The
3-shard runner (runner.shards=3) runs as its Indexed Job's three pods at once, with what the
Job controller adds (JOB_COMPLETION_INDEX, the completion-index label and annotation), and
tools/fetch-results.sh fetches (stand-in kubectl) and merges what they wrote. With
agent.placement=node the rendered DaemonSet's agent pod runs in place of the Deployment's
(this machine is its node), and that render's runner Job and helm-test Pod run against it.

The runner Job starts, as after helm install, before the action exists (fakewhisk's new-*
actions are 404 until created with the PUT `wsk action create` sends, which this test makes
in tools/deploy.sh's place a few seconds later): it waits, then runs. Every results ConfigMap
it creates must carry rbench.io/job=<the Job's name> and the app.kubernetes.io labels, and
tools/fetch-results.sh (with the stand-in kubectl of tests/scripts, which filters by label as
kubectl does) must find exactly those and lay them out for rbench compare.

What is rewritten, and why (a pod has its own filesystem and network, this machine does not):
- absolute mountPaths (and the service-account directory the kubelet mounts) become
  ROOT/mountPath in args and env values; the service-account directory reaches rbench
  through RBENCH_SERVICEACCOUNT_DIR, the API server through KUBERNETES_SERVICE_HOST/PORT
  (which the kubelet sets in every pod);
- a Service FQDN (and OpenWhisk's API host) becomes 127.0.0.1, its port the local server's,
  in args, env values and URLs; listen addresses 0.0.0.0:PORT become 127.0.0.1:LOCALPORT;
- an image's entrypoint is the binary built in build/debug; redis-server gets --port and
  --bind on its command line from a wrapper on PATH (the container listens on 6379, which
  this shared machine may be using); the containers run as their runAsUser when the test
  runs as root.

Container mode (--images REGISTRY --tag TAG, root and runc/skopeo/umoci: exit 77 with one line
otherwise): the chart is rendered with image.registry=REGISTRY and image.tag=TAG, the agent and
runner images are pulled from that registry (skopeo, umoci: tests/support/ocirun.py) and every
rbench pod (the agent Deployment's, the node-local agent DaemonSet's, the runner Job's
including the three pods of the Indexed Job and the late shard, the helm-test doctor's) runs
from its image under runc as a kubelet would run it: Kubernetes' command/args rule against the
image's entrypoint, the env (value, fieldRef, secretKeyRef, $(VAR), KUBERNETES_SERVICE_* and
the Services' link variables unless enableServiceLinks is false), the pod's and container's
securityContext (runAsUser/runAsGroup/fsGroup, runAsNonRoot refused for uid 0,
readOnlyRootFilesystem, capabilities, allowPrivilegeEscalation), resources.limits as cgroup
limits, the volumes bind-mounted at their mountPaths (ConfigMap, Secret and the service
account's directory read-only, emptyDir writable). The containers share the host's network
namespace, so only the network rewrites above apply (no path rewriting: mounts are at their
real paths). Redis (docker.io/library/redis, not pulled here) stays a host redis-server, and
fakewhisk stays a host process as OpenWhisk and the API server. Besides every check of the host
mode, each container is inspected while it runs (runc state running, its root the image's
rootfs, argv[0] the image's entrypoint, uid/gid/groups, no capabilities, no_new_privs, / read
only, its memory limit), and at the end no container, process, cgroup or directory of the run
is left."""
import argparse
import base64
import glob
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from k8stest import ROOT, SKIP, Checks, find, render, rewrite_paths, tools, write_configmap  # noqa: E402

ap = argparse.ArgumentParser(description="The chart's pods run on this machine (host binaries, or "
                                         "with --images the images under runc).")
ap.add_argument("--images", metavar="REGISTRY",
                help="run the rbench pods from REGISTRY/rbench-agent:TAG and REGISTRY/rbench:TAG under runc "
                     "(e.g. 127.0.0.1:5000; plain HTTP for loopback registries)")
ap.add_argument("--tag", help="the images' tag (with --images)")
ap.add_argument("--images-from-build", action="store_true",
                help="container mode on images made here in seconds from the build's binaries, laid out as "
                     "the Dockerfiles lay them out (tools/lib/stage-image-root.sh, umoci): no registry needed")
opts = ap.parse_args()
if opts.images_from_build and (opts.images or opts.tag):
    ap.error("--images-from-build takes no --images or --tag")
if bool(opts.images) != bool(opts.tag):
    ap.error("--images and --tag go together (e.g. --images 127.0.0.1:5000 --tag dev)")
if opts.images_from_build:
    opts.images, opts.tag = "localhost:5000", "emu-build"  # the chart's default registry
IMAGES = opts.images
if IMAGES:
    import ocirun  # noqa: E402
    ok, why = ocirun.usable()
    if not ok:
        print(f"SKIP: {why}")
        sys.exit(SKIP)

BIN = os.environ.get("RBENCH_BUILD_DIR", os.path.join(ROOT, "build", "debug"))
ENTRYPOINTS = {"rbench": os.path.join(BIN, "job", "rbench"),
               "rbench-agent": os.path.join(BIN, "agent", "rbench-agent")}
NS = "perf"
OW_HOST = "owdev-nginx.openwhisk.svc.cluster.local"
REDIS_PW = "emu-Redis-pw-\"q\\x"   # a quote and a backslash: the Redis container's quoting
OW_AUTH = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:emulation-key-5e1f"
SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.emulated-runner-token"
ACTION = "new-emu"                  # fakewhisk: 404 until created (PUT), then answers as "ok"
SCENARIO = """name: emu
target:
  kind: openwhisk
  action: redis_benchmark/redis_benchmark
defaults:
  rate: 20
  invocations: 4
  ops: 10
runs:
  - name: direct
    batching: false
  - name: batched
    batching: true
"""

for b in list(ENTRYPOINTS.values()) + [os.path.join(BIN, "tests", "fakewhisk")]:
    if not os.access(b, os.X_OK):
        print(f"FAIL: {b} is not built (cmake --build --preset debug)")
        sys.exit(1)
HELM, _, _ = tools()
c = Checks()
procs = []
tmp = tempfile.mkdtemp(prefix="rbench-pods-")
os.chmod(tmp, 0o755)
AS_ROOT = os.getuid() == 0
# ctest's timeout and Ctrl-C end the test through its finally (everything it started goes).
for _sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_sig, lambda sig, _f: sys.exit(128 + sig))
rt = None     # container mode: the ocirun Runtime
pulled = {}   # container mode: image reference -> ocirun.Image
observed = []  # container mode: (what, container, what was seen while it ran)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, secs=10):
    end = time.time() + secs
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def values(*extra):
    imgs = ["--set", f"image.registry={IMAGES}", "--set", f"image.tag={opts.tag}"] if IMAGES else []
    return [*imgs, "--set", f"openwhisk.apiHost=https://{OW_HOST}", "--set", "openwhisk.authSecret=ow-auth",
            "--set", f"openwhisk.action=redis_benchmark/{ACTION}", "-f", password_file,
            "--set-file", f"runner.scenarios.emu\\.yaml={scenario_file}", "--set", "runner.scenario=emu.yaml",
            *extra]


password_file = os.path.join(tmp, "password-values.json")  # --set would eat the backslash
open(password_file, "w").write(json.dumps({"redis": {"password": REDIS_PW}}))
scenario_file = os.path.join(tmp, "emu.yaml")
open(scenario_file, "w").write(SCENARIO)


class Pod:
    """One pod's filesystem under ROOT, from the rendered pod spec and the rendered objects."""

    def __init__(self, name, spec, objs, secrets, labels, annotations=None):
        self.root = os.path.join(tmp, name)
        self.spec, self.labels, self.annotations, self.objs = spec, labels, annotations or {}, objs
        self.name = name
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.user = spec.get("securityContext", {}).get("runAsUser")
        self.group = spec.get("securityContext", {}).get("fsGroup", self.user)
        self.vols, self.readonly_vols = {}, set()
        for v in spec.get("volumes", []):
            d = os.path.join(self.root, "volumes", v["name"])
            os.makedirs(d)
            if "configMap" in v:
                write_configmap(find(objs, "ConfigMap", v["configMap"]["name"]), d,
                                v["configMap"].get("items"))
                for dp, ds, fs in os.walk(d):  # the kubelet's defaultMode 0644, directories 0755
                    for x in ds:
                        os.chmod(os.path.join(dp, x), 0o755)
                    for x in fs:
                        os.chmod(os.path.join(dp, x), v["configMap"].get("defaultMode", 0o644))
                self.readonly_vols.add(v["name"])
            elif "secret" in v:
                data = secrets[v["secret"]["secretName"]]
                mode = v["secret"].get("defaultMode", 0o644)
                for it in v["secret"].get("items") or [{"key": k, "path": k} for k in data]:
                    f = os.path.join(d, it["path"])
                    open(f, "wb").write(data[it["key"]])
                    os.chmod(f, mode)
                    if AS_ROOT and self.group is not None:
                        os.chown(f, 0, self.group)
                self.readonly_vols.add(v["name"])
            elif "emptyDir" in v or "persistentVolumeClaim" in v:
                os.chmod(d, 0o777 if AS_ROOT else 0o755)
            self.vols[v["name"]] = d

    def mount(self, ct):
        """mountPath -> where it is here (a symlink tree under ROOT)."""
        paths = {}
        for m in ct.get("volumeMounts", []):
            here = os.path.join(self.root, m["mountPath"].lstrip("/"))
            os.makedirs(os.path.dirname(here), exist_ok=True)
            if not os.path.lexists(here):
                os.symlink(self.vols[m["name"]], here)
            paths[m["mountPath"]] = here
        return paths

    def mounts(self, ct, extra=()):
        """The container's volumeMounts as bind mounts at their mountPaths (container mode):
        ConfigMap and Secret volumes read-only whatever the mount says, as the kubelet mounts
        them, the others as readOnly says."""
        return [ocirun.Mount(self.vols[m["name"]], m["mountPath"],
                             readonly=bool(m.get("readOnly")) or m["name"] in self.readonly_vols)
                for m in ct.get("volumeMounts", [])] + list(extra)


def rewrite(s, paths, services):
    s = rewrite_paths(s, paths)
    for host, ports in services.items():
        for port, local in ports.items():
            s = s.replace(f"{host}:{port}", f"127.0.0.1:{local}")
        if "" in ports:  # a URL without a port
            s = re.sub(r"(https?://)" + re.escape(host) + r"(?=/|$)", rf"\g<1>127.0.0.1:{ports['']}", s)
        s = s.replace(host, "127.0.0.1") if s == host else s
    return s


def kubelet_env(pod, services):
    """What the kubelet adds to every container's environment before the container's own env:
    the API server's address (KUBERNETES_SERVICE_*, here fakewhisk's port) and, unless the pod
    spec sets enableServiceLinks: false, the link variables of each Service of the namespace
    (NAME_SERVICE_HOST, NAME_SERVICE_PORT[_PORTNAME], NAME_PORT[_P_TCP[_PROTO|_PORT|_ADDR]]),
    the cluster IP and port being where this machine serves the Service."""
    env = {}
    api_port = services[OW_HOST][""]
    links = [("KUBERNETES", [{"name": "https", "port": 443, "local": api_port}])]
    if pod.spec.get("enableServiceLinks", True):
        for svc in pod.objs:
            if svc["kind"] != "Service" or svc["spec"].get("clusterIP") == "None":
                continue
            host = f"{svc['metadata']['name']}.{NS}.svc.cluster.local"
            local = services.get(host, {})
            links.append((svc["metadata"]["name"].upper().replace("-", "_"),
                          [{**pt, "local": local.get(str(pt["port"]), pt["port"])} for pt in svc["spec"]["ports"]]))
    for name, ports in links:
        env[f"{name}_SERVICE_HOST"] = "127.0.0.1"
        env[f"{name}_SERVICE_PORT"] = str(ports[0]["local"])
        for pt in ports:
            proto = pt.get("protocol", "TCP")
            if pt.get("name"):
                env[f"{name}_SERVICE_PORT_{pt['name'].upper().replace('-', '_')}"] = str(pt["local"])
            pre = f"{name}_PORT_{pt['port']}_{proto}"
            env[pre] = f"{proto.lower()}://127.0.0.1:{pt['local']}"
            env[pre + "_PROTO"], env[pre + "_PORT"], env[pre + "_ADDR"] = proto.lower(), str(pt["local"]), "127.0.0.1"
        env[f"{name}_PORT"] = f"{ports[0].get('protocol', 'TCP').lower()}://127.0.0.1:{ports[0]['local']}"
    return env


def container_env(ct, pod, secrets, paths, services, host=True):
    env = {"PATH": os.environ["PATH"], "HOME": pod.root} if host else {}  # a container has its image's
    env.update(kubelet_env(pod, services))
    for e in ct.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "fieldRef" in e["valueFrom"]:
            fp = e["valueFrom"]["fieldRef"]["fieldPath"]
            m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", fp)
            env[e["name"]] = getattr(pod, m.group(1)).get(m.group(2), "") if m else ""
        elif "secretKeyRef" in e["valueFrom"]:
            r = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secrets[r["name"]][r["key"]].decode()
    # Ports paired with a Service host: NAME_HOST=svc -> NAME_PORT=local port of that Service.
    for k, v in list(env.items()):
        if k.endswith("_HOST") and v in services:
            pk = k[:-5] + "_PORT"
            if pk in env and env[pk] in services[v]:
                env[pk] = str(services[v][env[pk]])
            env[k] = "127.0.0.1"
    return {k: rewrite(v, paths, services) for k, v in env.items()}


def expand(arg, env):
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), arg)


def quantity(q, cpu=False):
    """A resource quantity ("500m", "1", "256Mi", "1Gi", "128M") as cores or bytes."""
    m = re.fullmatch(r"([0-9.]+)(m|[KMGT]i?)?", str(q))
    if not m:
        raise ValueError(f"resource quantity {q!r} not understood")
    n, unit = float(m.group(1)), m.group(2) or ""
    if cpu:
        return n / 1000 if unit == "m" else n
    mult = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
    return int(n * mult[unit])


class CtrProc:
    """A container of a pod (container mode), with what the test asks of a host process."""

    def __init__(self, ctr, image, argv, env, what, want):
        self.ctr, self.image, self.argv, self.env, self.what, self.want = ctr, image, argv, env, what, want

    @property
    def returncode(self):
        return self.ctr.returncode

    def poll(self):
        return self.ctr.poll()

    def wait(self, timeout=None):
        return self.ctr.wait(timeout=timeout)

    def kill(self):
        self.ctr.stop(grace=0)

    def send_signal(self, sig):
        subprocess.run(self.ctr.rt.runc + ["kill", self.ctr.id, str(int(sig))], capture_output=True)

    def text(self):
        return self.ctr.output()


def proc_status(pid):
    st = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.strip()
    return st


def observe(cp, secs=30.0):
    """What the container is while it runs, seen from the host: runc's state, its init process's
    argv, root, ids, capabilities, no_new_privs, the mount options of / and its memory cgroup's
    limit. Polls until runc says running and the process is no longer runc's own init (then it
    has exec'ed the container's program); None when it ended first."""
    end = time.time() + secs
    while time.time() < end and cp.poll() is None:
        try:
            with open(os.path.join(rt.state_root, cp.ctr.id, "state.json")) as f:
                pid = json.load(f).get("init_process_pid")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
            if not argv or argv[:2] == ["runc", "init"] or argv[0].endswith("/runc"):
                time.sleep(0.002)
                continue
            st = proc_status(pid)
            root = os.stat(f"/proc/{pid}/root")
            rootfs = os.stat(cp.image.rootfs)
            with open(f"/proc/{pid}/mountinfo") as f:
                mnt = {ln.split()[4]: ln.split()[5].split(",") for ln in f}
            with open(f"/proc/{pid}/cgroup") as f:
                mem = [ln.strip().split(":", 2)[2] for ln in f if ln.split(":")[1] == "memory"]
            limit = None
            if mem:
                with open(f"/sys/fs/cgroup/memory{mem[0]}/memory.limit_in_bytes") as f:
                    limit = int(f.read())
            state = cp.ctr.state() or {}
            return {"pid": pid, "argv": argv, "status": state.get("status"),
                    "same_root": (root.st_dev, root.st_ino) == (rootfs.st_dev, rootfs.st_ino),
                    "uid": st["Uid"].split()[0], "gid": st["Gid"].split()[0], "groups": st["Groups"].split(),
                    "cap_eff": int(st["CapEff"], 16), "cap_bnd": int(st["CapBnd"], 16),
                    "nnp": st.get("NoNewPrivs"), "root_ro": "ro" in mnt.get("/", []),
                    "mounts": {mp: ("ro" if "ro" in o else "rw") for mp, o in mnt.items()}, "mem_limit": limit}
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            time.sleep(0.002)
    return None


# containerd's and CRI-O's default set, what a container gets without a capabilities section
DEFAULT_CAPS = {"CAP_" + x for x in ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                                     "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE")}


def image_from_build(ref, name):
    """REF's image made from the build's binaries as its Dockerfile makes it: the root laid out by
    tools/lib/make-oci-image.sh (stage-image-root.sh, ENTRYPOINT the program, USER 65534, an OCI
    layout)."""
    repo = ref.rsplit("/", 1)[1].split(":")[0]
    bins = {"rbench-agent": ["agent/rbench-agent"], "rbench": ["job/rbench", "action/rbench-action"]}[repo]
    layout = os.path.join(rt.work, "layouts", name)
    os.makedirs(os.path.dirname(layout), exist_ok=True)
    ocirun.make_image(layout, "t", "/" + repo, [os.path.join(BIN, b) for b in bins], ca=repo == "rbench")
    return rt.unpack(layout, "t", name)


def start_container(pod, ct, secrets, services, extra_env=None, extra_mounts=(), listen=None, wait=True, timeout=120):
    """The container ct of pod from its image under runc (see the module's text)."""
    env = container_env(ct, pod, secrets, {}, services, host=False)
    env.update(extra_env or {})
    image = pulled[ct["image"]]
    psc, csc = pod.spec.get("securityContext") or {}, ct.get("securityContext") or {}
    user = csc.get("runAsUser", psc.get("runAsUser"))
    group = csc.get("runAsGroup", psc.get("runAsGroup"))
    img_user = image.spec["process"]["user"]["uid"]
    if csc.get("runAsNonRoot", psc.get("runAsNonRoot")) and (user if user is not None else img_user) == 0:
        raise AssertionError(f"{pod.name}/{ct['name']}: runAsNonRoot and the container would run as root "
                             "(the kubelet refuses to start it: CreateContainerConfigError)")
    capsc = csc.get("capabilities") or {}
    drop = {"CAP_" + x for x in capsc.get("drop") or []}
    caps = set() if "CAP_ALL" in drop else DEFAULT_CAPS - drop
    caps |= {"CAP_" + x for x in capsc.get("add") or []}
    limits = (ct.get("resources") or {}).get("limits") or {}
    # $(VAR) expands the container's env (not the image's), as in Kubernetes.
    command = [expand(rewrite(a, {}, services), env) for a in ct["command"]] if ct.get("command") else None
    args = [expand(rewrite(a, {}, services), env) for a in ct.get("args", [])]
    for a, b in (listen or {}).items():
        args = [b if x == a else x for x in args]
    if command is None and not ct.get("args"):
        args = None  # the image's CMD
    ctr = rt.run(image, f"{pod.name}-{ct['name']}", command=command, args=args, env=env, user=user, group=group,
                 fs_group=psc.get("fsGroup"), readonly_root=bool(csc.get("readOnlyRootFilesystem")),
                 no_new_privileges=csc.get("allowPrivilegeEscalation", True) is False, capabilities=sorted(caps),
                 mounts=pod.mounts(ct, extra_mounts), net="host",
                 memory_bytes=quantity(limits["memory"]) if "memory" in limits else None,
                 cpu=quantity(limits["cpu"], cpu=True) if "cpu" in limits else None,
                 log=os.path.join(pod.root, f"{ct['name']}.log"))
    want = {"argv0": ctr.argv[0], "uid": str(user if user is not None else img_user),
            "gid": str(group if group is not None else image.spec["process"]["user"]["gid"]),
            "fs_group": psc.get("fsGroup"), "root_ro": bool(csc.get("readOnlyRootFilesystem")),
            "mem_limit": quantity(limits["memory"]) if "memory" in limits else None,
            "mounts": {m.dest: "ro" if m.readonly else "rw" for m in pod.mounts(ct, extra_mounts)}}
    cp = CtrProc(ctr, image, ctr.argv, ctr.env, f"{pod.name}/{ct['name']}", want)
    procs.append(cp)
    cp.seen = observe(cp)
    observed.append(cp)
    if wait:
        try:
            cp.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    return cp


def start(pod, ct, secrets, services, extra_env=None, listen=None, path_prefix=None, wait=True, timeout=120,
          host=False, extra_mounts=()):
    if IMAGES and not host:
        return start_container(pod, ct, secrets, services, extra_env=extra_env, extra_mounts=extra_mounts,
                               listen=listen, wait=wait, timeout=timeout)
    paths = pod.mount(ct)
    env = container_env(ct, pod, secrets, paths, services)
    env.update(extra_env or {})
    if path_prefix:
        env["PATH"] = path_prefix + ":" + env["PATH"]
    if ct.get("command"):
        argv = [expand(rewrite(a, paths, services), env) for a in ct["command"] + ct.get("args", [])]
    else:
        image = ct["image"].rsplit("/", 1)[1].split(":")[0]
        argv = [ENTRYPOINTS[image]] + [expand(rewrite(a, paths, services), env) for a in ct.get("args", [])]
    for a, b in (listen or {}).items():
        argv = [b if x == a else x for x in argv]
    user = (ct.get("securityContext") or {}).get("runAsUser", pod.user)
    pre = None
    if AS_ROOT and user:
        grp = pod.group or user

        def pre():
            os.setgroups([grp])
            os.setgid(grp)
            os.setuid(user)
    log = open(os.path.join(pod.root, f"{ct['name']}.log"), "w+")
    p = subprocess.Popen(argv, env=env, cwd=pod.root, stdout=log, stderr=subprocess.STDOUT, preexec_fn=pre)
    p.argv, p.logf, p.env = argv, log, env
    procs.append(p)
    if wait:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p


def output(p):
    if isinstance(p, CtrProc):
        return p.text()
    p.logf.flush()
    p.logf.seek(0)
    return p.logf.read()


def api(port, path, token=SA_TOKEN):
    ctx = ssl.create_default_context(cafile=os.path.join(tmp, "api.crt"))
    rq = urllib.request.Request(f"https://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(rq, context=ctx, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def run_fakewhisk(objs, sa):
    rbac = [o for o in objs if o["kind"] in ("Role", "RoleBinding")]
    rbac_file = os.path.join(tmp, f"rbac-{len(procs)}.json")
    json.dump(rbac, open(rbac_file, "w"))
    port = free_port()
    p = subprocess.Popen([os.path.join(BIN, "tests", "fakewhisk"), "--port", str(port), "--auth", OW_AUTH,
                          "--bearer", SA_TOKEN, "--rbac", rbac_file, "--identity", f"{NS}:{sa}",
                          "--tls", os.path.join(tmp, "api.crt"), os.path.join(tmp, "api.key"),
                          "--log", os.path.join(tmp, "api.log")])
    procs.append(p)
    assert wait_port(port), "fakewhisk did not start"
    return p, port


def create_action(port, name):
    """What tools/deploy.sh's `wsk action create` sends: PUT the action (Basic auth)."""
    body = json.dumps({"exec": {"kind": "blackbox", "image": "localhost:5000/rbench-action:0.1.0"}}).encode()
    rq = urllib.request.Request(f"https://127.0.0.1:{port}/api/v1/namespaces/_/actions/redis_benchmark/{name}",
                                data=body, method="PUT",
                                headers={"Authorization": "Basic " + base64.b64encode(OW_AUTH.encode()).decode(),
                                         "Content-Type": "application/json"})
    ctx = ssl.create_default_context(cafile=os.path.join(tmp, "api.crt"))
    with urllib.request.urlopen(rq, context=ctx, timeout=10) as r:
        return r.status


def runner_pod(objs, secrets, services, api_port, job_name, index=None, wait=True):
    """One pod of the runner Job; index: an Indexed Job's pod, as the Job controller makes it
    (completion-index label and annotation, env JOB_COMPLETION_INDEX in every container)."""
    job = find(objs, "Job", job_name)
    spec = job["spec"]["template"]["spec"]
    labels = {**job["spec"]["template"]["metadata"]["labels"], "batch.kubernetes.io/job-name": job_name}
    annotations = dict(job["spec"]["template"]["metadata"].get("annotations") or {})
    if index is not None:
        labels["batch.kubernetes.io/job-completion-index"] = annotations["batch.kubernetes.io/job-completion-index"] = str(index)
    pod = Pod(f"job-{job_name}-{len(procs)}", spec, objs, secrets, labels, annotations)
    extra, mounts = ({} if index is None else {"JOB_COMPLETION_INDEX": str(index)}), []
    if spec.get("automountServiceAccountToken", True):
        sa_path = "/var/run/secrets/kubernetes.io/serviceaccount"
        sa = os.path.join(pod.root, sa_path.lstrip("/"))
        os.makedirs(sa)
        open(os.path.join(sa, "token"), "w").write(SA_TOKEN)
        open(os.path.join(sa, "namespace"), "w").write(NS)
        shutil.copy(os.path.join(tmp, "api.crt"), os.path.join(sa, "ca.crt"))
        for f in os.listdir(sa):
            os.chmod(os.path.join(sa, f), 0o644)
        extra.update({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api_port)})
        if IMAGES:  # at its real path: rbench reads its default directory
            mounts.append(ocirun.Mount(sa, sa_path, readonly=True))
        else:
            extra["RBENCH_SERVICEACCOUNT_DIR"] = sa
    return start(pod, spec["containers"][0], secrets, services, extra_env=extra, extra_mounts=mounts, wait=wait,
                 timeout=120)


try:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(tmp, "api.key"),
                    "-out", os.path.join(tmp, "api.crt"), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    text, objs = render(HELM, *values(), namespace=NS)
    c.check(REDIS_PW not in text and OW_AUTH not in text, "no secret in the rendered objects")
    if IMAGES:
        # The rbench pods' images as rendered (image.registry, image.tag), pulled once as a
        # node's kubelet would (IfNotPresent); Redis's third-party image is not.
        rt = ocirun.Runtime(prefix="rbench-pods-oci-")
        refs = sorted({ct["image"] for o in objs if o["kind"] in ("Deployment", "Job", "Pod", "DaemonSet")
                       for ct in (o["spec"].get("template", o)["spec"]["containers"]) if ct["image"].startswith(IMAGES + "/")})
        c.check(refs == [f"{IMAGES}/rbench-agent:{opts.tag}", f"{IMAGES}/rbench:{opts.tag}"],
                f"container mode: the rendered agent, runner and test pods name the images {refs}")
        for ref in refs:
            t0 = time.time()
            try:
                name = ref.rsplit("/", 1)[1].replace(":", "-")
                pulled[ref] = image_from_build(ref, name) if opts.images_from_build else rt.pull(ref, name)
            except (RuntimeError, subprocess.CalledProcessError) as e:
                c.check(False, f"container mode: pull {ref}: {e}")
                c.done()
            print(f"     {'made from the build' if opts.images_from_build else 'pulled'} and unpacked {ref} in {time.time() - t0:.1f} s (entrypoint {pulled[ref].entrypoint}, "
                  f"user {pulled[ref].config.get('config', {}).get('User')})")
    # The Secrets: the chart's (Redis), and the OpenWhisk key the user creates (kubectl create secret).
    secrets = {o["metadata"]["name"]: {k: base64.b64decode(v) for k, v in o["data"].items()}
               for o in objs if o["kind"] == "Secret"}
    secrets["ow-auth"] = {"auth": OW_AUTH.encode()}

    # Local servers behind the Service names.
    redis_port, agent_port, metrics_port = free_port(), free_port(), free_port()
    fw, api_port = run_fakewhisk(objs, find(objs, "Job", "rbench-run")["spec"]["template"]["spec"]["serviceAccountName"])
    services = {f"rbench-redis.{NS}.svc.cluster.local": {"6379": redis_port},
                f"rbench-agent.{NS}.svc.cluster.local": {"6380": agent_port, "9121": metrics_port},
                OW_HOST: {"443": api_port, "": api_port}}
    c.check(find(objs, "Service", "rbench-redis")["spec"]["ports"][0]["port"] == 6379
            and [p["port"] for p in find(objs, "Service", "rbench-agent")["spec"]["ports"]] == [6380, 9121],
            "Services: redis 6379, agent 6380 and 9121")

    # Redis: the rendered container's own script, redis-server wrapped for a free port.
    wrap = os.path.join(tmp, "bin")
    os.makedirs(wrap)
    redis_bin = shutil.which("redis-server")
    open(os.path.join(wrap, "redis-server"), "w").write(
        f"#!/bin/sh\nexec {redis_bin} \"$@\" --port {redis_port} --bind 127.0.0.1\n")
    os.chmod(os.path.join(wrap, "redis-server"), 0o755)
    os.chmod(wrap, 0o755)
    rd = find(objs, "Deployment", "rbench-redis")["spec"]["template"]
    rpod = Pod("redis", rd["spec"], objs, secrets, rd["metadata"]["labels"])
    redis = start(rpod, rd["spec"]["containers"][0], secrets, services, path_prefix=wrap, wait=False, host=True)
    c.check(wait_port(redis_port), "Redis container: redis-server listening")
    ping = subprocess.run(["redis-cli", "-p", str(redis_port), "--no-auth-warning", "-a", REDIS_PW, "ping"],
                          capture_output=True, text=True)
    noauth = subprocess.run(["redis-cli", "-p", str(redis_port), "set", "k", "v"], capture_output=True, text=True)
    c.check(ping.stdout.strip() == "PONG" and "NOAUTH" in noauth.stdout + noauth.stderr,
            "Redis container: requirepass is the Secret's password (quotes and backslashes kept)")

    # The agent Deployment.
    ad = find(objs, "Deployment", "rbench-agent")["spec"]["template"]
    apod = Pod("agent", ad["spec"], objs, secrets, ad["metadata"]["labels"])
    act = ad["spec"]["containers"][0]
    agent = start(apod, act, secrets, services, wait=False,
                  listen={"0.0.0.0:6380": f"127.0.0.1:{agent_port}", "0.0.0.0:9121": f"127.0.0.1:{metrics_port}"})
    probe = act["readinessProbe"]["httpGet"]
    probe_port = {p["name"]: p["containerPort"] for p in act["ports"]}[probe["port"]]
    ready = False
    for _ in range(100):
        try:
            ready = urllib.request.urlopen(f"http://127.0.0.1:{services[f'rbench-agent.{NS}.svc.cluster.local'][str(probe_port)]}{probe['path']}", timeout=2).status == 200
            break
        except OSError:
            time.sleep(0.1)
    c.check(ready, f"agent: readiness probe GET {probe['path']} on port {probe['port']} answers 200")
    through = subprocess.run(["redis-cli", "-p", str(agent_port), "set", "emu", "1"], capture_output=True, text=True)
    c.check(through.stdout.strip() == "OK", "agent: a SET through the agent reaches Redis with the Secret's password" +
            ("" if through.stdout.strip() == "OK" else f"\n{through.stdout}{through.stderr}\n{output(agent)}"))

    # The runner Job, started (as by helm install) before tools/deploy.sh created the action:
    # it waits, then runs once the action exists. Documents in ConfigMaps through the API
    # double, authorized by the Role.
    run = runner_pod(objs, secrets, services, api_port, "rbench-run", wait=False)
    time.sleep(5)
    waiting = output(run)
    c.check(run.poll() is None and "waiting up to 600 s for OpenWhisk action /_/redis_benchmark/new-emu to exist" in waiting
            and "run direct" not in waiting,
            "runner Job started before the action exists: still waiting after 5 s, nothing run" +
            ("" if run.poll() is None else f"\nexited {run.returncode}\n{waiting[-2000:]}"))
    c.check(create_action(api_port, ACTION) == 200, "the action is created (PUT, as wsk action create)")
    try:
        run.wait(timeout=120)
    except subprocess.TimeoutExpired:
        run.kill()
        run.wait()
    out = output(run)
    c.check(run.returncode == 0, "runner Job: rbench run exits 0 once the action exists" +
            ("" if run.returncode == 0 else "\n" + out[-3000:]))
    c.check(out.count("waiting up to") == 1 and "OpenWhisk action /_/redis_benchmark/new-emu exists (after" in out,
            "runner: one line when it starts waiting, one when the action appears")
    st, lst = api(api_port, f"/api/v1/namespaces/{NS}/configmaps")
    c.check(st == 403 and lst.get("reason") == "Forbidden" and lst.get("kind") == "Status",
            "the API double refuses list, which the Role does not grant (403 Forbidden Status)")
    docs = {}
    for run_name in ("direct", "batched"):
        name = f"rbench-results-rbench-run-{run_name}-r1"
        st, cm = api(api_port, f"/api/v1/namespaces/{NS}/configmaps/{name}")
        ok = st == 200 and "results.json" in cm.get("data", {})
        docs[run_name] = json.loads(cm["data"]["results.json"]) if ok else None
        c.check(ok, f"ConfigMap {name} holds the {run_name} run's results.json")
    c.check(docs["direct"] is not None and docs["batched"] is not None
            and docs["direct"].get("schema_version") == 1,
            "the documents are results documents (schema_version 1)")
    c.check(docs["direct"] is not None and docs["direct"]["invocations"]["completed"] == 4
            and docs["direct"]["success_rate"] == 1, "the direct document: 4 invocations, all succeeded")

    # Every ConfigMap the runner created (its POSTs to the API double) carries the Job's label.
    created = []
    for line in open(os.path.join(tmp, "api.log")):
        if line.startswith(f"POST /api/v1/namespaces/{NS}/configmaps "):
            created.append(json.loads(line.split(" ", 4)[4])["metadata"]["name"])
    want_labels = {"app.kubernetes.io/name": "rbench", "app.kubernetes.io/component": "results",
                   "rbench.io/job": "rbench-run"}
    stored = []
    for name in created:
        st, cm = api(api_port, f"/api/v1/namespaces/{NS}/configmaps/{name}")
        stored.append(cm)
        c.check(st == 200 and cm["metadata"].get("labels") == want_labels,
                f"ConfigMap {name} is labelled rbench.io/job=rbench-run, app.kubernetes.io/name=rbench, "
                f"app.kubernetes.io/component=results" + ("" if st == 200 else f" (HTTP {st})") +
                ("" if st != 200 or cm["metadata"].get("labels") == want_labels else f"\n{cm['metadata'].get('labels')}"))
    c.check(sorted(created) == ["rbench-results-rbench-run-batched-r1", "rbench-results-rbench-run-direct-r1"],
            f"the runner created one ConfigMap per document ({created})")

    # tools/fetch-results.sh selects them by that label (kubectl get configmaps -l
    # rbench.io/job=JOB; the stand-in kubectl filters as kubectl does), a decoy of another Job
    # beside them.
    fake_dir = os.path.join(tmp, "kubectl-fake")
    os.makedirs(fake_dir)
    decoy = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "rbench-results-other", "labels": {**want_labels, "rbench.io/job": "other"}},
             "data": {"results.json": "{}"}}
    json.dump({"items": stored + [decoy]}, open(os.path.join(fake_dir, "cms.json"), "w"))
    fetched = os.path.join(tmp, "fetched")
    env = {**os.environ, "FAKE_DIR": fake_dir,
           "PATH": os.path.join(ROOT, "tests", "scripts", "fakes") + ":" + os.environ["PATH"]}
    f = subprocess.run([os.path.join(ROOT, "tools", "fetch-results.sh"), "--namespace", NS, "rbench-run", fetched],
                       env=env, capture_output=True, text=True)
    calls = [json.loads(x) for x in open(os.path.join(fake_dir, "calls.jsonl"))]
    files = sorted(os.path.relpath(os.path.join(d, x), fetched) for d, _, fs in os.walk(fetched) for x in fs)
    c.check(f.returncode == 0 and calls == [["kubectl", "-n", NS, "get", "configmaps", "-l", "rbench.io/job=rbench-run", "-o", "json"]]
            and files == ["batched.json", "direct.json"]
            and json.load(open(os.path.join(fetched, "direct.json"))) == docs["direct"],
            "tools/fetch-results.sh rbench-run selects the runner's ConfigMaps by rbench.io/job and writes "
            "direct.json and batched.json" + ("" if f.returncode == 0 else "\n" + f.stdout + f.stderr) +
            f"\n{calls} {files}" * (files != ["batched.json", "direct.json"]))
    cmp = subprocess.run([ENTRYPOINTS["rbench"], "compare", os.path.join(fetched, "direct.json"),
                          os.path.join(fetched, "batched.json")], capture_output=True, text=True)
    c.check(cmp.returncode == 0, "rbench compare takes what fetch-results.sh wrote" + ("" if cmp.returncode == 0 else "\n" + cmp.stderr))

    # The helm test Pod: rbench doctor against all three (the action exists now).
    tp = find(objs, "Pod", "rbench-test")
    tpod = Pod("test", tp["spec"], objs, secrets, tp["metadata"]["labels"])
    doc = start(tpod, tp["spec"]["containers"][0], secrets, services, timeout=60)
    dout = output(doc)
    c.check(doc.returncode == 0, "helm test Pod: rbench doctor passes" + ("" if doc.returncode == 0 else "\n" + dout))
    logs = out + open(os.path.join(tmp, "api.log")).read()
    c.check(REDIS_PW not in logs and OW_AUTH.split(":")[1] not in logs and SA_TOKEN not in out,
            "no secret in the runner's output or in what reached the API")
    c.check(not any(REDIS_PW in a or OW_AUTH in a for p in procs if hasattr(p, "argv") for a in p.argv),
            "no secret in any container's arguments")

    # A Role narrowed to other names: the rerun's replace (PUT after 409) is forbidden.
    _, objs2 = render(HELM, *values("--set", "runner.resultsConfigMapNames={rbench-results-other}"), namespace=NS)
    fw.send_signal(signal.SIGTERM)
    fw.wait()
    fw2, api_port2 = run_fakewhisk(objs2, "rbench-runner")
    services[OW_HOST] = {"443": api_port2, "": api_port2}
    create_action(api_port2, ACTION)
    first = runner_pod(objs2, secrets, services, api_port2, "rbench-run")
    again = runner_pod(objs2, secrets, services, api_port2, "rbench-run")
    out2 = output(again)
    c.check(first.returncode == 0 and again.returncode == 1 and "403" in out2 and "forbidden" in out2,
            "with resourceNames that do not match, the replace is refused (403) and rbench exits 1" +
            ("" if again.returncode == 1 else f"\nfirst={first.returncode} again={again.returncode}\n{out2[-2000:]}"))

    # The scale-out runner (runner.shards=3): the Indexed Job's three pods run at once, as the
    # Job controller runs them, each its own shard, all due at the rendered start instant.
    start_at = int(time.time()) + 12
    _, objs3 = render(HELM, *values("--set", "runner.shards=3", "--set", f"runner.startAt={start_at}"), namespace=NS)
    job3 = find(objs3, "Job", "rbench-run")
    c.check(job3["spec"].get("completionMode") == "Indexed" and job3["spec"]["completions"] == 3,
            "3 shards: the rendered runner Job is Indexed, 3 completions")
    fw2.send_signal(signal.SIGTERM)
    fw2.wait()
    fw3, api_port3 = run_fakewhisk(objs3, job3["spec"]["template"]["spec"]["serviceAccountName"])
    services[OW_HOST] = {"443": api_port3, "": api_port3}
    create_action(api_port3, ACTION)  # deployed: the shards' wait for the action ends at once
    shards = [runner_pod(objs3, secrets, services, api_port3, "rbench-run", index=i, wait=False) for i in range(3)]
    for p in shards:
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    outs = [output(p) for p in shards]
    c.check(all(p.returncode == 0 for p in shards),
            "3 shards: each pod's rbench run exits 0 under the rendered Role" +
            "".join(f"\n--- shard {i} exit {p.returncode}:\n{o[-1500:]}" for i, (p, o) in enumerate(zip(shards, outs)) if p.returncode))
    c.check(all(p.env.get("RBENCH_SHARDS") == "3" and p.env.get("RBENCH_START_AT") == str(start_at)
                and p.env.get("JOB_COMPLETION_INDEX") == str(i) for i, p in enumerate(shards)),
            "3 shards: env RBENCH_SHARDS=3 and RBENCH_START_AT (from the pod's annotation) beside JOB_COMPLETION_INDEX")
    cms, sharddocs = [], {}
    for run_name in ("direct", "batched"):
        for i in range(3):
            name = f"rbench-results-rbench-run-{run_name}-r1-shard-{i}"
            st, cm = api(api_port3, f"/api/v1/namespaces/{NS}/configmaps/{name}")
            doc = json.loads(cm["data"]["results.json"]) if st == 200 and "results.json" in cm.get("data", {}) else {}
            sh = doc.get("shard") or {}
            own = sorted(r["index"] for r in doc.get("raw_results", []))
            c.check(st == 200 and sh.get("index") == i and sh.get("count") == 3
                    and (cm["metadata"].get("labels") or {}).get("rbench.io/job") == "rbench-run"
                    and own == [k for k in range(4) if k % 3 == i],
                    f"ConfigMap {name}: shard {i} of 3 of run {run_name}, its invocations k mod 3 == {i} ({own}), "
                    "labelled rbench.io/job=rbench-run")
            if st == 200:
                cms.append(cm)
            sharddocs.setdefault(run_name, []).append(doc)
    st, unsharded = api(api_port3, f"/api/v1/namespaces/{NS}/configmaps/rbench-results-rbench-run-direct-r1")
    c.check(st == 404, "3 shards: no shard wrote the unsharded name (no write race on one ConfigMap)")
    keys = {run: {d.get("shard", {}).get("run_key") for d in docs} for run, docs in sharddocs.items()}
    starts = sorted({d.get("shard", {}).get("start_at_ms") for docs in sharddocs.values() for d in docs})
    c.check(all(len(k) == 1 and None not in k for k in keys.values()) and len(starts) == 2 and starts[0] == start_at * 1000,
            f"3 shards: one run key per run, the first run due at the rendered start instant ({starts})")
    logs3 = "".join(outs) + open(os.path.join(tmp, "api.log")).read()
    c.check(REDIS_PW not in logs3 and OW_AUTH.split(":")[1] not in logs3 and SA_TOKEN not in "".join(outs),
            "3 shards: no secret in the shards' output or in what reached the API")

    # tools/fetch-results.sh on those ConfigMaps (the stand-in kubectl answers with them, as
    # tests/scripts does), merging with this build's rbench: one document per run, every
    # planned invocation once, taken by compare and report.
    fake = os.path.join(tmp, "fake-kubectl")
    os.makedirs(os.path.join(fake, "logs"))
    json.dump({"items": cms}, open(os.path.join(fake, "cms.json"), "w"))
    fenv = {**os.environ, "FAKE_DIR": fake, "RBENCH": ENTRYPOINTS["rbench"],
            "PATH": os.path.join(ROOT, "tests", "scripts", "fakes") + ":" + os.environ["PATH"]}
    fetched = os.path.join(tmp, "fetched-shards")
    fr = subprocess.run([os.path.join(ROOT, "tools", "fetch-results.sh"), "--namespace", NS, "rbench-run", fetched],
                        env=fenv, capture_output=True, text=True)
    c.check(fr.returncode == 0, "fetch-results.sh: exits 0" + ("" if fr.returncode == 0 else "\n" + fr.stdout + fr.stderr))
    merged = {}
    for run_name in ("direct", "batched"):
        f = os.path.join(fetched, f"{run_name}.json")
        merged[run_name] = d = json.load(open(f)) if os.path.isfile(f) else {}
        inv = d.get("invocations") or {}
        idx = sorted(r["index"] for r in d.get("raw_results", []))
        planned = (d.get("scenario") or {}).get("parameters", {}).get("planned_invocations")
        c.check(planned == 4 and inv.get("planned") == inv.get("sent") == inv.get("completed") == inv.get("succeeded") == 4
                and idx == [0, 1, 2, 3] and "shard" not in d and d.get("merged_from", {}).get("files") is not None
                and len(d["merged_from"]["files"]) == 3,
                f"fetch-results.sh: {run_name}.json merged from the 3 shards: the scenario's 4 planned invocations, "
                f"each once ({inv}, {idx})")
    kept = sorted(os.path.relpath(os.path.join(dp, f), fetched) for dp, _, fs in os.walk(os.path.join(fetched, "shards")) for f in fs)
    c.check(kept == sorted(f"shards/{r}.shard-{i}-of-3.json" for r in ("direct", "batched") for i in range(3)),
            f"fetch-results.sh: the 6 shard documents kept under shards/ ({kept})")
    cmp_ = subprocess.run([ENTRYPOINTS["rbench"], "compare", os.path.join(fetched, "direct.json"),
                           os.path.join(fetched, "batched.json")], capture_output=True, text=True)
    rep = subprocess.run([ENTRYPOINTS["rbench"], "report", fetched, "-o", os.path.join(tmp, "report.html")],
                         capture_output=True, text=True)
    c.check(cmp_.returncode == 0 and rep.returncode == 0 and "<svg" in open(os.path.join(tmp, "report.html")).read(),
            "rbench compare and report take the merged documents as is" +
            ("" if cmp_.returncode == 0 and rep.returncode == 0 else "\n" + cmp_.stderr + rep.stderr))

    # A shard whose pod starts too late (a slow pull, a Pending pod): it refuses to send its
    # share late, the index fails (backoffLimitPerIndex 0: not retried), the others complete,
    # and fetch-results.sh names the missing shard, keeps the others and exits 1.
    start_at = int(time.time()) + 4
    _, objs4 = render(HELM, *values("--set", "runner.shards=3", "--set", "runner.jobName=rbench-run-late",
                                    "--set", f"runner.startAt={start_at}"), namespace=NS)
    early = [runner_pod(objs4, secrets, services, api_port3, "rbench-run-late", index=i, wait=False) for i in (0, 1)]
    time.sleep(max(0.0, start_at + 2.5 - time.time()))
    late = runner_pod(objs4, secrets, services, api_port3, "rbench-run-late", index=2)
    for p in early:
        p.wait(timeout=120)
    lout = output(late)
    c.check(all(p.returncode == 0 for p in early) and late.returncode == 2 and "start instant" in lout and "ago" in lout,
            f"a shard started 2.5 s after the instant refuses (exit {late.returncode}), the other two complete" +
            ("" if late.returncode == 2 else "\n" + lout[-1500:]))
    cms4 = []
    for run_name in ("direct", "batched"):
        for i in (0, 1):
            st, cm = api(api_port3, f"/api/v1/namespaces/{NS}/configmaps/rbench-results-rbench-run-late-{run_name}-r1-shard-{i}")
            if st == 200:
                cms4.append(cm)
    json.dump({"items": cms4}, open(os.path.join(fake, "cms.json"), "w"))
    fetched4 = os.path.join(tmp, "fetched-late")
    fr = subprocess.run([os.path.join(ROOT, "tools", "fetch-results.sh"), "--namespace", NS, "rbench-run-late", fetched4],
                        env=fenv, capture_output=True, text=True)
    kept = sorted(f for _, _, fs in os.walk(os.path.join(fetched4, "shards")) for f in fs)
    c.check(len(cms4) == 4 and fr.returncode == 1 and "shard 2 of 3 missing" in fr.stderr
            and f"kubectl -n {NS} get job rbench-run-late -o jsonpath={{.status.failedIndexes}}" in fr.stderr
            and len(kept) == 4 and not os.path.exists(os.path.join(fetched4, "direct.json")),
            "fetch-results.sh with shard 2 missing: exits 1 naming it and the failed index's lookup, "
            "the 4 shard documents kept, nothing merged" + ("" if fr.returncode == 1 else "\n" + fr.stdout + fr.stderr))

    # agent.placement=node: the rendered DaemonSet's agent pod runs here (this machine is its
    # node, so Service rbench-agent, internalTrafficPolicy Local, leads to it), the runner Job
    # of that render hands the actions that Service and samples no single agent, and the helm
    # test Pod's rbench doctor passes through the node-local agent.
    _, objsn = render(HELM, *values("--set", "agent.placement=node", "--set", "runner.jobName=rbench-run-node"),
                      namespace=NS)
    dsn = find(objsn, "DaemonSet", "rbench-agent")
    svcn = find(objsn, "Service", "rbench-agent")
    c.check(dsn is not None and find(objsn, "Deployment", "rbench-agent") is None
            and svcn["spec"].get("internalTrafficPolicy") == "Local"
            and all(dsn["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in svcn["spec"]["selector"].items()),
            "node-local agent: a DaemonSet whose pods the Local Service selects")
    nagent_port, nmetrics_port = free_port(), free_port()
    services[f"rbench-agent.{NS}.svc.cluster.local"] = {"6380": nagent_port, "9121": nmetrics_port}
    npod_t = dsn["spec"]["template"]
    npod = Pod("agent-node", npod_t["spec"], objsn, secrets, npod_t["metadata"]["labels"])
    nct = npod_t["spec"]["containers"][0]
    nagent = start(npod, nct, secrets, services, wait=False,
                   listen={"0.0.0.0:6380": f"127.0.0.1:{nagent_port}", "0.0.0.0:9121": f"127.0.0.1:{nmetrics_port}"})
    nprobe = nct["readinessProbe"]["httpGet"]
    nready = False
    for _ in range(100):
        try:
            nready = urllib.request.urlopen(f"http://127.0.0.1:{nmetrics_port}{nprobe['path']}", timeout=2).status == 200
            break
        except OSError:
            time.sleep(0.1)
    nset = subprocess.run(["redis-cli", "-p", str(nagent_port), "set", "emu-node", "1"], capture_output=True, text=True)
    c.check(nready and nset.stdout.strip() == "OK",
            "node-local agent pod: readiness probe answers 200, a SET through it reaches Redis with the Secret's password" +
            ("" if nready and nset.stdout.strip() == "OK" else f"\n{nset.stdout}{nset.stderr}\n{output(nagent)}"))
    before = sum(1 for _ in open(os.path.join(tmp, "api.log")))
    nrun = runner_pod(objsn, secrets, services, api_port3, "rbench-run-node")
    nout = output(nrun)
    c.check(nrun.returncode == 0, "node-local agent: the runner Job's rbench run exits 0" +
            ("" if nrun.returncode == 0 else "\n" + nout[-2000:]))
    c.check("BATCHING_AGENT_METRICS_URL" not in nrun.env and nrun.env.get("BATCHING_AGENT_HOST") == "127.0.0.1"
            and nrun.env.get("BATCHING_AGENT_PORT") == str(nagent_port),
            "node-local agent: the runner's agent address is the node-local Service, no metrics URL")
    posts = [json.loads(l.split(" ", 4)[4]) for l in list(open(os.path.join(tmp, "api.log")))[before:]
             if l.startswith(f"POST /api/v1/namespaces/_/actions/redis_benchmark/{ACTION}")]
    batched = [b for b in posts if b.get("use_batching") is True and "prepare" not in b]
    c.check(len(batched) == 4 and all(b.get("agent_host") == "127.0.0.1" and b.get("agent_port") == nagent_port for b in batched),
            f"node-local agent: each batched invocation names the node-local Service as its agent ({len(batched)} of 4)")
    st, cm = api(api_port3, f"/api/v1/namespaces/{NS}/configmaps/rbench-results-rbench-run-node-batched-r1")
    ndoc = json.loads(cm["data"]["results.json"]) if st == 200 else {}
    c.check(st == 200 and "no agent metrics endpoint configured" in (ndoc.get("agent") or {}).get("unavailable", "")
            and ndoc.get("backend_cpu_us_per_op", 0) is None and (ndoc.get("redis") or {}).get("unavailable") is None,
            "node-local agent: the batched document says why the agent was not sampled, backend_cpu_us_per_op null, "
            f"Redis measured ({st}, agent={ndoc.get('agent')}, backend={ndoc.get('backend_cpu_us_per_op', 'absent')})")
    ntp = find(objsn, "Pod", "rbench-test")
    ntpod = Pod("test-node", ntp["spec"], objsn, secrets, ntp["metadata"]["labels"])
    services[OW_HOST] = {"443": api_port3, "": api_port3}
    ndoctor = start(ntpod, ntp["spec"]["containers"][0], secrets, services, timeout=60)
    c.check(ndoctor.returncode == 0 and ntp["spec"].get("nodeSelector") == {"openwhisk-role": "invoker"},
            "node-local agent: the helm test Pod (on an agent's node) passes rbench doctor through the node-local agent" +
            ("" if ndoctor.returncode == 0 else "\n" + output(ndoctor)))

    # Container mode: each pod's container as seen while it ran.
    for cp in observed:
        seen, want = cp.seen or {}, cp.want
        got = {k: seen.get(k) for k in ("status", "same_root", "uid", "gid", "cap_eff", "cap_bnd", "nnp", "root_ro",
                                        "mem_limit")}
        exp = {"status": "running", "same_root": True, "uid": want["uid"], "gid": want["gid"], "cap_eff": 0,
               "cap_bnd": 0, "nnp": "1", "root_ro": want["root_ro"], "mem_limit": want["mem_limit"]}
        mounts = {d: (seen.get("mounts") or {}).get(d) for d in want["mounts"]}
        ok = (bool(seen) and got == exp and seen["argv"][:1] == [want["argv0"]] and mounts == want["mounts"]
              and (want["fs_group"] is None or str(want["fs_group"]) in seen["groups"]))
        c.check(ok, f"container {cp.what}: ran from {cp.image.name} (runc state running, its root the image's rootfs, "
                    f"argv[0] {want['argv0']}), uid {want['uid']} gid {want['gid']} + fsGroup {want['fs_group']}, "
                    f"no capabilities, no_new_privs, / {'read-only' if want['root_ro'] else 'writable'}, "
                    f"memory limit {want['mem_limit']}, mounts {want['mounts']}" +
                    ("" if ok else f"\n  seen {seen and {**got, 'argv': seen['argv'], 'groups': seen['groups'], 'mounts': mounts}}"
                                   f"\n  want {exp}\n  output: {output(cp)[-1500:]}"))
    if IMAGES:
        kinds = [cp.what for cp in observed]
        c.check(all(cp.seen for cp in observed) and len(observed) >= 14,
                f"container mode: every rbench pod ran from its image ({len(observed)} containers: {kinds})")
finally:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
    if rt is not None:
        ours = f"/rbench-test/{rt.tag}-"
        left = rt.leftovers()
        state_root, work = rt.state_root, rt.work
        rt.close()

        def in_our_cgroups():
            pids = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if ours in open(f"/proc/{pid}/cgroup").read():
                        pids.append(pid)
                except OSError:
                    pass
            return pids

        cgs = glob.glob(f"/sys/fs/cgroup/*{ours}*")
        c.check(not left and not in_our_cgroups() and not cgs and not os.path.exists(state_root)
                and not os.path.exists(work),
                f"container mode: nothing left (runc list under {state_root}: {left}, processes in the containers' "
                f"cgroups: {in_our_cgroups()}, cgroups: {cgs}, the unpacked images and bundles removed)")
    if os.environ.get("RBENCH_KEEP_TMP"):
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
c.done()
