"""ocirun.py: real OCI containers for the tests, run as a kubelet runs a pod's containers.

An image is copied out of a registry with skopeo (or taken from an OCI layout) and unpacked
with umoci into a root filesystem and the runtime configuration its image config implies
(entrypoint and cmd, user, working directory, environment). Each container then gets a
bundle of its own whose root is that (shared, read-only) filesystem, with what a pod spec
adds: command and args (Kubernetes' rule: command replaces the entrypoint, args the cmd),
env, the securityContext (runAsUser/runAsGroup/fsGroup, readOnlyRootFilesystem,
allowPrivilegeEscalation, capabilities), volume mounts (bind mounts, read-only for ConfigMap
and Secret volumes, as the kubelet mounts them), the network namespace (the host's, a new
one, or a named one the test made with `ip netns add`) and cgroup limits (memory, CPU).
Debian's runc runs it in the foreground (`runc run`), its state under a directory of this
Runtime's own, so that everything started can be found and removed: close() kills and deletes
every container, removes the network namespaces it made and the work directory, whatever
happened, and is also registered with atexit.

    rt = Runtime()                       # needs root, runc, skopeo, umoci (usable() says why not)
    img = rt.pull("127.0.0.1:5000/rbench-action:1", "action")
    c = rt.run(img, "action", args=["--listen", "127.0.0.1:8080"], net="host")
    ...
    c.stop(); rt.close()
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

TOOLS = ("runc", "skopeo", "umoci", "ip")


def usable():
    """(True, "") when containers can run here, else (False, the reason in one line)."""
    if os.geteuid() != 0:
        return False, "containers need root (runc creates namespaces and cgroups)"
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        return False, f"{', '.join(missing)} not installed (tools/install-deps.sh installs runc, skopeo, umoci)"
    if not os.path.isdir("/sys/fs/cgroup") or not os.listdir("/sys/fs/cgroup"):
        return False, "no cgroup filesystem at /sys/fs/cgroup"
    p = subprocess.run(["runc", "--version"], capture_output=True, text=True)
    if p.returncode:
        return False, f"runc --version failed: {p.stderr.strip()[:200]}"
    return True, ""


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make_image(layout, tag, entrypoint, binaries=(), ca=False, root=None):
    """Tags TAG in the OCI layout LAYOUT: an image of BINARIES laid out as the Dockerfiles lay
    theirs out (tools/lib/make-oci-image.sh: stage-image-root.sh, ENTRYPOINT, USER 65534), or of
    ROOT as it is. Raises RuntimeError quoting the script's error."""
    argv = [os.path.join(ROOT, "tools", "lib", "make-oci-image.sh")]
    argv += ["--root", root] if root else (["--ca-certificates"] if ca else [])
    argv += [layout, tag, entrypoint] + ([] if root else list(binaries))
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"make-oci-image.sh {tag} failed (exit {p.returncode}): "
                           f"{(p.stderr or p.stdout).strip()[-600:]}")


def runc_version():
    p = subprocess.run(["runc", "--version"], capture_output=True, text=True)
    return p.stdout.splitlines()[0] if p.returncode == 0 and p.stdout else "runc"


class Mount:
    """A bind mount of SOURCE (a host path) at DEST inside the container."""

    def __init__(self, source, dest, readonly=False):
        self.source, self.dest, self.readonly = source, dest, readonly


class Image:
    """An unpacked image: rootfs (shared by its containers, never written) and the runtime
    config umoci derived from the image config (base for each container's)."""

    def __init__(self, name, bundle, image_config):
        self.name = name
        self.bundle = bundle
        self.rootfs = os.path.join(bundle, "rootfs")
        with open(os.path.join(bundle, "config.json")) as f:
            self.spec = json.load(f)
        self.config = image_config  # the OCI image config ("config": Entrypoint, Cmd, User, ...)

    @property
    def entrypoint(self):
        return list(self.config.get("config", {}).get("Entrypoint") or [])

    @property
    def cmd(self):
        return list(self.config.get("config", {}).get("Cmd") or [])


class Container:
    def __init__(self, rt, cid, proc, log_path, spec):
        self.rt, self.id, self.proc, self.log_path, self.spec = rt, cid, proc, log_path, spec
        self.argv = spec["process"]["args"]
        self.env = dict(e.split("=", 1) for e in spec["process"].get("env", []))

    @property
    def returncode(self):
        return self.proc.returncode

    def poll(self):
        return self.proc.poll()

    def wait(self, timeout=None):
        """The container's exit status (runc run returns it); kills it on timeout and raises."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(grace=0)
            raise

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def state(self):
        p = subprocess.run(self.rt.runc + ["state", self.id], capture_output=True, text=True)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def pid(self):
        """The container's init process (host pid), or None once it is gone."""
        s = self.state()
        return s.get("pid") if s and s.get("status") == "running" else None

    def stop(self, grace=5.0):
        """SIGTERM (as the kubelet), SIGKILL after grace seconds, then runc delete."""
        if self.proc.poll() is None and grace > 0:
            subprocess.run(self.rt.runc + ["kill", self.id, "TERM"], capture_output=True)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            subprocess.run(self.rt.runc + ["kill", "--all", self.id, "KILL"], capture_output=True)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        subprocess.run(self.rt.runc + ["delete", "--force", self.id], capture_output=True)
        return self.proc.returncode


class Runtime:
    def __init__(self, prefix="rbench-oci-"):
        ok, why = usable()
        if not ok:
            raise RuntimeError(why)
        self.work = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.work, 0o755)
        # runc's state (one directory per container) lives here, not in /run/runc: `runc list`
        # on it is exactly what this Runtime started.
        self.state_root = os.path.join("/run", "rbench-runc-" + os.path.basename(self.work))
        os.makedirs(self.state_root, mode=0o700)
        self.runc = ["runc", "--root", self.state_root]
        self.tag = f"rbt{os.getpid() % 100000}{os.path.basename(self.work)[-4:]}"
        self.containers = []
        self.netnss = []
        self.procs = []  # host processes started with popen() (e.g. redis-server in a netns)
        self.closed = False
        self.closing = False  # close() under way (a signal then lets it finish)
        atexit.register(self.close)

    # --- images -------------------------------------------------------------------------
    def pull(self, ref, name, tls_verify=False):
        """Copies docker://REF out of the registry into an OCI layout (skopeo) and unpacks it
        (umoci). Raises RuntimeError naming the step and quoting the tool's error."""
        layout = os.path.join(self.work, "images", name)
        os.makedirs(os.path.dirname(layout), exist_ok=True)
        self._tool(["skopeo", "copy", "--quiet", f"--src-tls-verify={'true' if tls_verify else 'false'}",
                    f"docker://{ref}", f"oci:{layout}:img"], f"skopeo copy of {ref}")
        return self.unpack(layout, "img", name)

    def unpack(self, layout, tag, name):
        bundle = os.path.join(self.work, "unpacked", name)
        os.makedirs(os.path.dirname(bundle), exist_ok=True)
        self._tool(["umoci", "unpack", "--image", f"{layout}:{tag}", bundle], f"umoci unpack of {name}")
        os.chmod(bundle, 0o755)
        return Image(name, bundle, self._image_config(layout, tag))

    @staticmethod
    def _image_config(layout, tag):
        def blob(digest):
            algo, hexd = digest.split(":", 1)
            with open(os.path.join(layout, "blobs", algo, hexd)) as f:
                return json.load(f)
        with open(os.path.join(layout, "index.json")) as f:
            index = json.load(f)
        for m in index.get("manifests", []):
            if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag:
                return blob(blob(m["digest"])["config"]["digest"])
        raise RuntimeError(f"{layout}: no image tagged {tag}")

    def _tool(self, argv, what):
        p = subprocess.run(argv, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"{what} failed (exit {p.returncode}): {(p.stderr or p.stdout).strip()[-600:]}")
        return p.stdout

    # --- network namespaces -------------------------------------------------------------
    def netns(self, name):
        """A network namespace of the test's own (`ip netns add`), loopback up; its path."""
        ns = f"{self.tag}-{name}"
        self._tool(["ip", "netns", "add", ns], f"ip netns add {ns}")
        self.netnss.append(ns)
        self._tool(["ip", "-n", ns, "link", "set", "lo", "up"], f"lo up in {ns}")
        return ns

    @staticmethod
    def in_netns(ns, argv):
        """argv run inside network namespace ns (for host programs: redis-server, curl)."""
        return ["ip", "netns", "exec", ns, *argv]

    def popen(self, argv, **kw):
        """A host process (subprocess.Popen(argv, **kw), a session of its own) that close()
        stops: SIGTERM, SIGKILL after 5 s. For servers in a test netns (in_netns(ns, argv))."""
        kw.setdefault("start_new_session", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    # --- containers ---------------------------------------------------------------------
    def run(self, image, name, command=None, args=None, env=None, user=None, group=None, fs_group=None,
            readonly_root=True, no_new_privileges=True, capabilities=(), mounts=(), net="new",
            memory_bytes=None, cpu=None, cwd=None, wait=False, timeout=None, log=None):
        """Starts a container of IMAGE (see the module's text). net: "host", "new" (a
        namespace of its own, loopback only) or the name of a namespace made by netns().
        user/group: numeric ids overriding the image's USER (runAsUser/runAsGroup); fs_group:
        a supplementary group (fsGroup). env: added to (and overriding) the image's Env.
        memory_bytes, cpu (cores): cgroup limits. wait: wait for it to exit (timeout: kill it
        then) and return it with returncode set."""
        cid = f"{self.tag}-{name}-{len(self.containers)}"
        bundle = os.path.join(self.work, "ctr", cid)
        os.makedirs(bundle)
        spec = json.loads(json.dumps(image.spec))
        proc = spec["process"]
        # Kubernetes: command replaces ENTRYPOINT (and drops CMD), args replaces CMD.
        if command is not None:
            argv = list(command) + list(args or [])
        else:
            argv = image.entrypoint + (list(args) if args is not None else image.cmd)
        if not argv:
            raise RuntimeError(f"{name}: the image has no entrypoint or cmd and no command was given")
        proc["args"] = argv
        proc["terminal"] = False
        base_env = dict(e.split("=", 1) for e in proc.get("env", []) if "=" in e)
        base_env.update(env or {})
        proc["env"] = [f"{k}={v}" for k, v in base_env.items()]
        if user is not None:
            proc["user"]["uid"] = int(user)
            proc["user"]["gid"] = int(group if group is not None else proc["user"].get("gid", user))
        elif group is not None:
            proc["user"]["gid"] = int(group)
        if fs_group is not None:
            proc["user"]["additionalGids"] = [int(fs_group)]
        if cwd is not None:
            proc["cwd"] = cwd
        proc.setdefault("cwd", "/")
        caps = sorted(capabilities)
        proc["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
        proc["noNewPrivileges"] = bool(no_new_privileges)
        proc.pop("rlimits", None)
        spec["root"] = {"path": image.rootfs, "readonly": bool(readonly_root)}
        spec["hostname"] = name[:63]
        for m in mounts:
            opts = ["rbind", "nosuid", "nodev"] + (["ro"] if m.readonly else ["rw"])
            spec["mounts"].append({"destination": m.dest, "type": "bind", "source": m.source, "options": opts})
        linux = spec.setdefault("linux", {})
        nss = [n for n in linux.get("namespaces", []) if n["type"] != "network"]
        if net == "new":
            nss.append({"type": "network"})
        elif net != "host":
            nss.append({"type": "network", "path": f"/var/run/netns/{net}"})
        linux["namespaces"] = nss
        res = linux.setdefault("resources", {})
        if memory_bytes:
            res["memory"] = {"limit": int(memory_bytes), "swap": int(memory_bytes)}
        if cpu:
            period = 100000
            res["cpu"] = {"quota": int(cpu * period), "period": period}
        linux["cgroupsPath"] = f"/rbench-test/{cid}"
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f, indent=1)
        log_path = log or os.path.join(self.work, f"{cid}.log")
        with open(log_path, "ab") as out:
            p = subprocess.Popen(self.runc + ["run", "--bundle", bundle, cid], stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        c = Container(self, cid, p, log_path, spec)
        self.containers.append(c)
        if wait:
            try:
                c.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        return c

    def leftovers(self):
        """Containers runc still knows under this Runtime's state directory (ids)."""
        p = subprocess.run(self.runc + ["list", "--quiet"], capture_output=True, text=True)
        return [x for x in p.stdout.split() if x]

    def close(self):
        if self.closed:
            return
        self.closed = self.closing = True
        for c in self.containers:
            try:
                c.stop(grace=2)
            except Exception:  # noqa: BLE001 -- go on removing the others
                pass
        for cid in self.leftovers():
            subprocess.run(self.runc + ["delete", "--force", cid], capture_output=True)
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in self.netnss:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(self.state_root, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)
        # the cgroups runc made are removed with each container; the parent is ours
        for ctl in os.listdir("/sys/fs/cgroup") if os.path.isdir("/sys/fs/cgroup") else []:
            d = os.path.join("/sys/fs/cgroup", ctl, "rbench-test")
            try:
                os.rmdir(d)
            except OSError:
                pass  # in use by another test's containers, or not there
        self.closing = False


def _children():
    """Pids of this process's children (from /proc/PID/stat)."""
    me, out = os.getpid(), []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me:
            out.append(int(p))
    return out


def install_signal_cleanup(rt):
    """SIGTERM/SIGINT (ctest's timeout, Ctrl-C): stop the tools this process is running (skopeo,
    umoci, curl, ...: they would go on writing into the work directory), close the runtime,
    then exit 128+signal. A signal while close() is under way lets it finish (the caller exits
    after it)."""
    def handler(sig, _frame):
        if rt.closing:
            return
        ours = {c.proc.pid for c in rt.containers} | {p.pid for p in rt.procs}
        tools = [pid for pid in _children() if pid not in ours]
        for pid in tools:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        def running(pid):
            try:
                return os.waitpid(pid, os.WNOHANG) == (0, 0)
            except ChildProcessError:
                return False
        end = time.time() + 3
        while tools and time.time() < end:
            tools = [pid for pid in tools if running(pid)]
            time.sleep(0.05)
        for pid in tools:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        rt.close()
        os._exit(128 + sig)
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, handler)


def wait_until(pred, secs=10.0, step=0.05):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return False
