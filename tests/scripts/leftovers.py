#!/usr/bin/env python3
"""leftovers.py: the test suite ends with nothing of its own alive.

  leftovers.py --mark FILE    (ctest fixture setup, first): records the instant the suite
                              starts (clock ticks since boot, as /proc/PID/stat counts them)
  leftovers.py --check FILE   (ctest fixture cleanup, last): fails, naming each one, if any of
                              these was left behind by the tests run since the mark:
    - a process of the suite's programs (rbench, rbench-action, rbench-agent, redis-server,
      nutcracker, fakewhisk, docker-registry, runc, buildah, chromium) started after the
      mark with no ctest among its ancestors: the test that started it has exited (a test's
      servers are its children while it runs); its root or working directory is shown (a
      deleted temporary directory says which test it was);
    - a container runc still lists, in its default state directory or in one of the tests'
      own (/run/rbench-runc-*);
    - a network namespace a test made (tests/support/ocirun.py names them rbt*);
    - a change to the host's network: a network interface (bridge, veth) that was not there at
      the mark, IP forwarding turned on, an iptables chain or rule added (the tests use
      loopback and network namespaces of their own only);
    - a cgroup the tests or the runner make (rbench-test/* of the tests' containers, rbench-started-* of backend start,
      rbench-PID-N of the local target's containers) that still exists.
  Orphaned processes (parent init) it finds it then kills, so one leak does not spread to
  the next run; it still fails. Processes under another ctest run (a shared machine) are not
  counted.
Exit 0 when nothing was left; 1 otherwise."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

PROGRAMS = {"rbench", "rbench-action", "rbench-agent", "redis-server", "nutcracker", "fakewhisk",
            "docker-registry", "registry", "runc", "buildah", "chromium", "umoci", "skopeo"}


def boot_ticks():
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * os.sysconf("SC_CLK_TCK"))


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return comm, int(rest[1]), int(rest[19])  # name, ppid, starttime (ticks since boot)


def exe_name(pid, comm):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")).replace(" (deleted)", "")
    except OSError:
        return comm


def where(pid):
    out = []
    for what in ("root", "cwd"):
        try:
            out.append(f"{what} {os.readlink(f'/proc/{pid}/{what}')}")
        except OSError:
            pass
    return ", ".join(out)


def under_ctest(pid):
    seen = 0
    while pid > 1 and seen < 64:
        try:
            comm, ppid, _ = stat(pid)
        except (OSError, ValueError, IndexError):
            return False
        if comm == "ctest":
            return True
        pid, seen = ppid, seen + 1
    return False


def leftover_processes(since):
    found = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        pid = int(d)
        try:
            comm, ppid, start = stat(pid)
            name = exe_name(pid, comm)
        except (OSError, ValueError, IndexError):
            continue
        if start < since or (name not in PROGRAMS and comm not in PROGRAMS) or under_ctest(pid):
            continue
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue
        found.append((pid, comm if comm in PROGRAMS else name, uid, where(pid), ppid))
    return found


def leftover_containers():
    found = []
    for root in ["/run/runc"] + glob.glob("/run/rbench-runc-*"):
        if not os.path.isdir(root):
            continue
        p = subprocess.run(["runc", "--root", root, "list", "--quiet"], capture_output=True, text=True)
        found += [(root, c) for c in p.stdout.split() if c]
    return found


def leftover_netns():
    p = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [line.split()[0] for line in p.stdout.splitlines() if line.startswith("rbt")]


def leftover_cgroups():
    """Cgroups the tests' containers (rbench-test/*), backend start (rbench-started-*) and the
    local target's containers (rbench-PID-N) make: each is removed when its run ends."""
    found = []
    for pat in ("/sys/fs/cgroup/*/rbench-test/*", "/sys/fs/cgroup/rbench-test/*", "/sys/fs/cgroup/*/rbench-started-*",
                "/sys/fs/cgroup/rbench-started-*", "/sys/fs/cgroup/*/rbench-[0-9]*", "/sys/fs/cgroup/rbench-[0-9]*"):
        found += [d for d in glob.glob(pat) if os.path.isdir(d)]
    return sorted(set(found))


def network_state():
    """What the mark keeps of the host's network: interface names, ip_forward, iptables rules."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = sorted(line.split(": ")[1].split("@")[0] for line in links.splitlines() if ": " in line)
    try:
        forward = open("/proc/sys/net/ipv4/ip_forward").read().strip()
    except OSError:
        forward = "?"
    rules = []
    if os.geteuid() == 0 and shutil.which("iptables"):
        for table in ("filter", "nat"):
            p = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True)
            rules += [f"{table}: {r}" for r in p.stdout.splitlines()] if p.returncode == 0 else []
    return {"links": names, "ip_forward": forward, "iptables": rules}


def network_changes(before):
    now = network_state()
    out = [f"network interface {n} (not there at the start)" for n in now["links"] if n not in before.get("links", [])]
    if before.get("ip_forward") == "0" and now["ip_forward"] != "0":
        out.append("IP forwarding turned on (net.ipv4.ip_forward was 0 at the start)")
    out += [f"iptables rule {r}" for r in now["iptables"] if r not in before.get("iptables", [])]
    return out


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("--mark", "--check"):
        print("usage: leftovers.py --mark|--check FILE", file=sys.stderr)
        return 2
    path = sys.argv[2]
    if sys.argv[1] == "--mark":
        with open(path, "w") as f:
            json.dump({"since": boot_ticks(), "network": network_state()}, f)
        print(f"suite start recorded in {path}")
        return 0
    try:
        mark = json.load(open(path))
        since, net = int(mark["since"]), mark["network"]
    except (OSError, ValueError, KeyError, TypeError):
        print(f"leftovers: no suite start in {path} (the --mark step did not run): checking every process")
        since, net = 0, network_state()
    time.sleep(1)  # what a test's cleanup stopped last has a moment to exit
    procs = leftover_processes(since)
    ctrs = leftover_containers() if os.geteuid() == 0 else []
    nss = leftover_netns() if os.geteuid() == 0 else []
    cgs = leftover_cgroups()
    nets = network_changes(net)
    for pid, name, uid, loc, _ in procs:
        print(f"LEFT RUNNING: pid {pid} {name} (uid {uid}) {loc}")
    for root, c in ctrs:
        print(f"LEFT CONTAINER: {c} (runc --root {root})")
    for ns in nss:
        print(f"LEFT NETWORK NAMESPACE: {ns}")
    for cg in cgs:
        print(f"LEFT CGROUP: {cg}")
    for n in nets:
        print(f"LEFT IN THE HOST'S NETWORK: {n}")
    for pid, _, _, _, ppid in procs:  # orphans: nobody else will stop them
        if ppid == 1:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    n = len(procs) + len(ctrs) + len(nss) + len(cgs) + len(nets)
    if n:
        print(f"leftovers: {n} thing(s) the tests started were still there at the end")
        return 1
    print("leftovers: no process, container, network namespace, cgroup or host network change of the tests is left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
