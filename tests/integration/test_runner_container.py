#!/usr/bin/env python3
"""test_runner_container.py: the local target's action_runtime container (docs/runner.md,
"Containers"), end to end: a tiny OCI image of the build's rbench-action (umoci, seconds) run
by rbench under runc against a real redis-server on loopback.

- a run succeeds; its cold starts are counted; action_runtime says what ran (runc, the image,
  its digest, the limits, host network, the starts' times); while it runs, each container's
  cgroup has the memory limit (swap equal), the cpu shares and the CPU quota asked for, and
  the action inside runs as the image's user (65534) with no capabilities, noNewPrivileges,
  the host's network namespace and the image's rootfs as its root;
- a container killed by its memory limit fails its activations saying so (OOM, the limit in MB);
- SIGINT mid-run: exit 4, partial results, and nothing left (containers, runc's state, the
  pulled image, the cgroups, processes);
- a bad image reference, an unreachable registry, missing tools, no root, container knobs
  without action_runtime container or with the openwhisk target: exit 2 with a clear error;
- the default (process) runs as before and says action_runtime kind process.

Skipped (77, one line) without root or without runc, skopeo and umoci."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import ocirun  # noqa: E402

BUILD = os.environ.get("RBENCH_BUILD_DIR", os.path.join(ROOT, "build", "debug"))
RBENCH = os.path.join(BUILD, "job", "rbench")
ACTION = os.path.join(BUILD, "action", "rbench-action")
CG = "/sys/fs/cgroup"

failures = []
started = []  # processes this test started (killed at the end whatever happens)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rbench-ctr-test-")
        os.chmod(self.dir, 0o755)
        self.tmp = os.path.join(self.dir, "tmp")  # rbench's TMPDIR: its work dirs land here
        os.makedirs(self.tmp)
        os.chmod(self.tmp, 0o1777)
        self.redis_port = free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        started.append(self.redis)
        self.envfile = os.path.join(self.dir, "local.env")
        with open(self.envfile, "w") as f:
            f.write(f"REDIS_HOST=127.0.0.1\nREDIS_PORT={self.redis_port}\n")
        os.chmod(self.envfile, 0o644)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.redis_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.layout = self.image()

    def image(self):
        """A tiny OCI image of the build's rbench-action, as tools/build-image.sh lays it out."""
        layout = os.path.join(self.dir, "layout")
        ocirun.make_image(layout, "t", "/rbench-action", [ACTION])
        return layout

    def argv(self, out, *extra):
        return [RBENCH, "run", "--target", "local", "--env", self.envfile, "--output", out,
                "--progress", "off", *extra]

    def environ(self, **more):
        e = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "TMPDIR": self.tmp}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                e[k] = os.environ[k]
        e.update(more)
        return e

    def close(self):
        for p in started:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def rbench_cgroups(pid):
    """The cgroup directories an rbench process made (rbench-PID-N), in any controller."""
    found = []
    for ctl in os.listdir(CG):
        d = os.path.join(CG, ctl)
        if os.path.isdir(d) and not os.path.islink(d):
            found += [os.path.join(d, x) for x in os.listdir(d) if x.startswith(f"rbench-{pid}-")]
    return found


def procs_under(path):
    """Processes whose root or cwd is under path."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for link in ("root", "cwd"):
            try:
                if os.readlink(f"/proc/{pid}/{link}").startswith(path):
                    out.append(int(pid))
                    break
            except OSError:
                pass
    return out


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def nothing_left(env, pid, what):
    check(not rbench_cgroups(pid), f"{what}: no cgroup of rbench {pid} left ({rbench_cgroups(pid)})")
    left = os.listdir(env.tmp)
    check(not left, f"{what}: rbench's work directory removed (left: {left})")
    check(not procs_under(env.tmp), f"{what}: no process rooted in rbench's work directory")
    inside = [x for x in filter(str.isdigit, os.listdir("/proc")) if in_rbench_cgroup(x, pid)]
    check(not inside, f"{what}: no process left in rbench's container cgroups ({inside})")
    runc_left = [x for x in run(["pgrep", "-f", f"{env.tmp}/"]).stdout.split() if x]
    check(not runc_left, f"{what}: no runc of this run left ({runc_left})")


def doc(path):
    with open(path) as f:
        return json.load(f)


def in_rbench_cgroup(pid, rbench_pid):
    return f"/rbench-{rbench_pid}-" in (read(f"/proc/{pid}/cgroup") or "")


def container_procs(rbench_pid):
    """rbench-action processes in the cgroups of rbench rbench_pid's containers."""
    return [int(pid) for pid in filter(str.isdigit, os.listdir("/proc"))
            if in_rbench_cgroup(pid, rbench_pid) and read(f"/proc/{pid}/comm") == "rbench-action"]


def same_file(a, b):
    try:
        sa, sb = os.stat(a), os.stat(b)
        return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
    except OSError:
        return False


def status_field(pid, name):
    for line in (read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def test_run(env):
    out = os.path.join(env.dir, "ok.json")
    p = subprocess.Popen(env.argv(out, "--action-runtime", "container", "--action-image",
                                  f"oci:{env.layout}:t", "--action-memory", "64", "--action-cpu",
                                  "0.5", "--pool-size", "2", "--rate", "20", "--invocations", "80"),
                         env=env.environ(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    started.append(p)
    seen = {}
    deadline = time.time() + 60
    while p.poll() is None and time.time() < deadline and not seen.get("proc"):
        for d in rbench_cgroups(p.pid):
            for sub in os.listdir(d) if os.path.isdir(d) else []:
                c = os.path.join(d, sub)
                if not os.path.isdir(c):
                    continue
                if d.startswith(CG + "/memory/") and read(c + "/memory.limit_in_bytes"):
                    seen["mem"] = read(c + "/memory.limit_in_bytes")
                    seen["memsw"] = read(c + "/memory.memsw.limit_in_bytes")
                if d.startswith(CG + "/cpu/") and read(c + "/cpu.cfs_quota_us"):
                    seen["quota"] = read(c + "/cpu.cfs_quota_us")
                    seen["period"] = read(c + "/cpu.cfs_period_us")
                    seen["shares"] = read(c + "/cpu.shares")
        if "mem" in seen:
            for pid in container_procs(p.pid):
                rootfs = [os.path.join(env.tmp, w, "bundle", "rootfs") for w in os.listdir(env.tmp)]
                seen["proc"] = {
                    "uid": status_field(pid, "Uid"), "capeff": status_field(pid, "CapEff"),
                    "nnp": status_field(pid, "NoNewPrivs"),
                    "netns": os.readlink(f"/proc/{pid}/ns/net"),
                    "root": any(same_file(f"/proc/{pid}/root/rbench-action", r + "/rbench-action")
                                and same_file(f"/proc/{pid}/root/etc/passwd", r + "/etc/passwd")
                                for r in rootfs),
                    "rootfs_ro": any(l.split()[1] == "/" and "ro" in l.split()[3].split(",")
                                     for l in (read(f"/proc/{pid}/mounts") or "").splitlines()
                                     if len(l.split()) > 3)}
                break
        time.sleep(0.02)
    log, _ = p.communicate(timeout=120)
    check(p.returncode == 0, f"container run exits 0 (got {p.returncode}): {log[-600:]}")
    check(seen.get("mem") == str(64 << 20) and seen.get("memsw") == str(64 << 20),
          f"the container's cgroup: memory limit 64 MB, swap equal ({seen.get('mem')}, {seen.get('memsw')})")
    check(seen.get("quota") == "50000" and seen.get("period") == "100000",
          f"the container's cgroup: 0.5 core of quota ({seen.get('quota')}/{seen.get('period')})")
    check(seen.get("shares") == "512", f"cpu shares 1024 / pool_size 2 = 512 ({seen.get('shares')})")
    pr = seen.get("proc") or {}
    check(pr.get("uid", "").split()[:1] == ["65534"], f"the action runs as the image's user 65534 ({pr.get('uid')})")
    check(pr.get("capeff") == "0000000000000000", f"no capabilities ({pr.get('capeff')})")
    check(pr.get("nnp") == "1", f"noNewPrivileges ({pr.get('nnp')})")
    check(pr.get("netns") == os.readlink("/proc/self/ns/net"), "the host's network namespace")
    check(pr.get("root") is True, "its root is the unpacked image's rootfs (shared, in rbench's work dir)")
    check(pr.get("rootfs_ro") is True, "its root filesystem is read-only")
    d = doc(out)
    inv = d["invocations"]
    check(inv["succeeded"] == 80 and inv["failed"] == 0, f"all 80 succeed ({inv})")
    check(d["cold_starts"] >= 1, f"cold starts counted ({d['cold_starts']})")
    ar = d.get("action_runtime") or {}
    check(ar.get("kind") == "container" and str(ar.get("runtime", "")).startswith("runc "),
          f"action_runtime: container, runc ({ar.get('kind')}, {ar.get('runtime')})")
    check(ar.get("image") == f"oci:{env.layout}:t" and str(ar.get("digest", "")).startswith("sha256:"),
          f"action_runtime: the image and its digest ({ar.get('image')}, {ar.get('digest')})")
    check(ar.get("memory_mb") == 64 and ar.get("cpu") == 0.5 and ar.get("cpu_shares") == 512
          and ar.get("network") == "host", f"action_runtime: limits and network ({ar})")
    st = ar.get("starts") or {}
    check(st.get("count", 0) >= 1 and st.get("p50_ms", 0) > 0,
          f"action_runtime.starts: container start to /init answered ({st})")
    check((d.get("action_cpu") or {}).get("cpu_s", 0) > 0, f"action_cpu from the containers' cgroup ({d.get('action_cpu')})")
    check(d.get("action") == f"oci:{env.layout}:t", f"action names the image ({d.get('action')})")
    nothing_left(env, p.pid, "after a run")


def test_oom(env):
    out = os.path.join(env.dir, "oom.json")
    p = subprocess.Popen(env.argv(out, "--action-runtime", "container", "--action-image", f"oci:{env.layout}:t",
                                  "--action-memory", "24", "--pool-size", "2", "--rate", "5", "--invocations", "3",
                                  "--operation", "mset", "--keys-per-command", "50", "--value-size", "1048576",
                                  "--key-space", "200", "--ops", "4", "--parallel", "4"),
                         env=env.environ(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    started.append(p)
    log, _ = p.communicate(timeout=120)
    d = doc(out)
    msgs = [m["message"] for k in d["errors_by_kind"].values() for m in k["messages"]]
    check(d["invocations"]["failed"] == 3, f"OOM: the 3 activations fail ({d['invocations']}) {log[-300:]}")
    check(msgs and all("OOM" in m and "24 MB" in m for m in msgs), f"OOM: the message says so: {msgs}")
    nothing_left(env, p.pid, "after OOM kills")


def test_sigint(env):
    out = os.path.join(env.dir, "int.json")
    p = subprocess.Popen(env.argv(out, "--action-runtime", "container", "--action-image",
                                  f"oci:{env.layout}:t", "--pool-size", "3", "--rate", "30",
                                  "--duration", "60"),
                         env=env.environ(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    started.append(p)
    deadline = time.time() + 60
    while time.time() < deadline and p.poll() is None and len(container_procs(p.pid)) < 2:
        time.sleep(0.05)
    check(len(container_procs(p.pid)) >= 1, "SIGINT: containers were running")
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    log, _ = p.communicate(timeout=60)
    check(p.returncode == 4, f"SIGINT: exit 4 (got {p.returncode}): {log[-400:]}")
    d = doc(out)
    check(d.get("complete") is False and d.get("interrupted_by") == "SIGINT", "SIGINT: partial results written")
    nothing_left(env, p.pid, "after SIGINT")


def refused(env, what, extra, needle, environ=None, user=None):
    out = os.path.join(env.tmp, "refused.json")
    argv = env.argv(out, *extra)
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    p = run(argv, env=environ or env.environ(), timeout=120)
    check(p.returncode == 2 and needle in p.stderr,
          f"{what}: exit 2 naming it (rc {p.returncode}, wanted '{needle}'): {p.stderr.strip()[-400:]}")
    check(not os.path.exists(out), f"{what}: no results written")
    check(not [x for x in os.listdir(env.tmp) if x.startswith("rbench-ctr-")], f"{what}: nothing left in TMPDIR")


def test_refusals(env):
    img = ["--action-runtime", "container", "--invocations", "2"]
    refused(env, "a malformed image reference", img + ["--action-image", "rbench-action"],
            "action_image: expected a registry reference")
    port = free_port()  # nothing listens there
    refused(env, "an unreachable registry", img + ["--action-image", f"127.0.0.1:{port}/rbench-action:dev"],
            f"action_image 127.0.0.1:{port}/rbench-action:dev: skopeo copy failed")
    refused(env, "a missing OCI layout", img + ["--action-image", f"oci:{env.dir}/nope:t"],
            "skopeo copy failed")
    refused(env, "a missing tag", img + ["--action-image", f"oci:{env.layout}:nope"], "skopeo copy failed")
    refused(env, "container without action_image", img, "action_runtime container needs action_image")
    refused(env, "missing tools", img + ["--action-image", f"oci:{env.layout}:t"],
            "runc, skopeo, umoci not found in PATH", environ=env.environ(PATH="/nonexistent"))
    refused(env, "not root", img + ["--action-image", f"oci:{env.layout}:t"], "it needs root", user=65534)
    refused(env, "action_memory without container", ["--action-memory", "128"],
            "action_memory applies to action_runtime container only")
    refused(env, "action_cpu without container", ["--action-cpu", "1"],
            "action_cpu applies to action_runtime container only")
    refused(env, "container with openwhisk", ["--target", "openwhisk"] + img + ["--action-image", f"oci:{env.layout}:t"],
            "action_runtime container needs the local target")


def test_process(env):
    out = os.path.join(env.dir, "proc.json")
    p = run(env.argv(out, "--rate", "20", "--invocations", "20", "--action-bin", ACTION),
            env=env.environ(), timeout=120)
    check(p.returncode == 0, f"process mode: exit 0 ({p.returncode}) {p.stderr[-300:]}")
    d = doc(out)
    ar = d.get("action_runtime") or {}
    check(d["invocations"]["succeeded"] == 20, "process mode: all succeed")
    check(ar.get("kind") == "process" and ar.get("image") is None and ar.get("network") == "host"
          and (ar.get("starts") or {}).get("count", 0) >= 1, f"process mode: action_runtime kind process ({ar})")


def main():
    ok, why = ocirun.usable()
    if not ok:
        print(f"SKIP: {why}")
        return 77
    for tool in ("redis-server", "setpriv"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} not installed")
            return 77
    env = Env()

    def on_signal(sig, _frame):
        env.close()
        os._exit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for t in (test_run, test_oom, test_sigint, test_refusals, test_process):
            print(f"--- {t.__name__}", flush=True)
            t(env)
    finally:
        env.close()
    if failures:
        print(f"{len(failures)} check(s) failed:\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
