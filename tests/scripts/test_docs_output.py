#!/usr/bin/env python3
"""test_docs_output.py: every command output quoted in README.md and docs/*.md under a marker is
what the built binaries print now.

A marker is an HTML comment on the line before a fenced block:

  <!-- output: SETUP -->                      the block is "$ COMMAND" lines, each followed by
                                             exactly what that command prints
  <!-- output: SETUP: `COMMAND` -->          the block is exactly what COMMAND prints
  <!-- output: SETUP: excerpt of `COMMAND` --> the block's lines appear, consecutively, in
                                             what COMMAND prints

COMMAND runs with bash in a fresh directory holding the SETUP's local.env and a link
build/release to the build under test, with rbench, rbench-agent and rbench-action first on
PATH, HOME empty and no REDIS_*, BATCHING_* or OPENWHISK_* variables inherited. Setups (real
redis-server and rbench-agent on free loopback ports, fakewhisk as the OpenWhisk controller):

  none                     no local.env
  local                    Redis with a password, an agent in front of it (local.env:
                           REDIS_PORT, REDIS_PASSWORD, BATCHING_AGENT_PORT)
  openwhisk                local, plus OPENWHISK_APIHOST (line 4) and OPENWHISK_AUTH (line 5)
  redis-down               local, REDIS_PORT a closed port
  redis-wrong-password     local, a wrong REDIS_PASSWORD
  redis-no-password        local without REDIS_PASSWORD
  agent-down               local, BATCHING_AGENT_PORT a closed port
  agent-wrong-password     an agent that requires a client password; a wrong one given
  agent-no-password        the same agent; no password given
  agent-no-redis-password  an agent started without Redis's password
  compare                  local, plus direct_results.json and batched_results.json from two
                           short runs (100 invocations each, direct and --batching)

Only what genuinely varies is normalised, on both sides: loopback ports, timestamps, "after N
ms", the OpenSSL version, the build directory (printed as /home/me/rbench/build/release) and the
working directory (/home/me/rbench). Each block is also checked to fail when drifted (one
line changed), so the comparison cannot pass vacuously.

Usage: tests/scripts/test_docs_output.py SOURCE_ROOT BUILD_DIR
"""
import difflib
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tap import Tap  # noqa: E402
import time

SRC = os.path.abspath(sys.argv[1])
BUILD = os.path.realpath(sys.argv[2])
DOC_BUILD = "/home/me/rbench/build/release"
DOC_CWD = "/home/me/rbench"
MARKER = re.compile(r"^<!-- output: ([a-z-]+)(?:: (excerpt of )?`([^`]+)`)? -->$")
REDIS_PASSWORD = "doc-redis-secret"
AGENT_PASSWORD = "doc-agent-secret"

TAP = Tap()
procs = []



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port}")


def start(argv, port, what, env=None, log=None):
    p = subprocess.Popen(argv, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                         env=dict(os.environ, **(env or {})))
    procs.append(p)
    wait_port(port, what)
    return port


def blocks(path):
    """(line number, setup, excerpt, command or None, block lines) for each marker in path."""
    lines = open(path, encoding="utf-8").read().split("\n")
    found = []
    for i, line in enumerate(lines):
        m = MARKER.match(line.strip())
        if not m:
            continue
        j = i + 1
        if j >= len(lines) or not lines[j].startswith("```"):
            found.append((i + 1, m.group(1), False, None, None))  # reported as malformed
            continue
        k = j + 1
        while k < len(lines) and not lines[k].startswith("```"):
            k += 1
        found.append((i + 1, m.group(1), bool(m.group(2)), m.group(3), lines[j + 1:k]))
    return found


def normalise(text):
    text = re.sub(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b", "TIME", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"127\.0\.0\.1 port \d+", "127.0.0.1 port PORT", text)
    text = re.sub(r"after \d+ ms", "after N ms", text)
    text = re.sub(r"OpenSSL/[0-9][0-9a-z.]*", "OpenSSL/VERSION", text)
    return [l.rstrip() for l in text.rstrip("\n").split("\n")]


class Setups:
    def __init__(self, work):
        self.work = work
        self.closed = free_port()
        log = open(os.path.join(work, "servers.log"), "w")
        rp = free_port()
        start(["redis-server", "--port", str(rp), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--requirepass", REDIS_PASSWORD], rp, "redis-server", log=log)
        self.redis = rp
        agent = os.path.join(BUILD, "agent", "rbench-agent")
        self.agent = free_port()
        start([agent, "--listen", f"127.0.0.1:{self.agent}", "--redis", f"127.0.0.1:{rp}"],
              self.agent, "rbench-agent", {"REDIS_PASSWORD": REDIS_PASSWORD}, log)
        self.agent_client_pw = free_port()
        start([agent, "--listen", f"127.0.0.1:{self.agent_client_pw}", "--redis", f"127.0.0.1:{rp}"],
              self.agent_client_pw, "rbench-agent (client password)",
              {"REDIS_PASSWORD": REDIS_PASSWORD, "BATCHING_AGENT_PASSWORD": AGENT_PASSWORD}, log)
        self.agent_no_redis_pw = free_port()
        start([agent, "--listen", f"127.0.0.1:{self.agent_no_redis_pw}", "--redis", f"127.0.0.1:{rp}"],
              self.agent_no_redis_pw, "rbench-agent (no Redis password)", {}, log)
        self.whisk = free_port()
        start([os.path.join(BUILD, "tests", "fakewhisk"), "--port", str(self.whisk), "--auth", "u:k"],
              self.whisk, "fakewhisk", log=log)
        self.made = {}

    def env_lines(self, name):
        local = [f"REDIS_PORT={self.redis}", f"REDIS_PASSWORD={REDIS_PASSWORD}",
                 f"BATCHING_AGENT_PORT={self.agent}"]
        return {
            "none": None,
            "local": local,
            "compare": local,
            "openwhisk": local + [f"OPENWHISK_APIHOST=http://127.0.0.1:{self.whisk}", "OPENWHISK_AUTH=u:k"],
            "redis-down": [f"REDIS_PORT={self.closed}", local[2]],
            "redis-wrong-password": [local[0], "REDIS_PASSWORD=not-the-password", local[2]],
            "redis-no-password": [local[0], local[2]],
            "agent-down": local[:2] + [f"BATCHING_AGENT_PORT={self.closed}"],
            "agent-wrong-password": local[:2] + [f"BATCHING_AGENT_PORT={self.agent_client_pw}",
                                                  "BATCHING_AGENT_PASSWORD=not-the-password"],
            "agent-no-password": local[:2] + [f"BATCHING_AGENT_PORT={self.agent_client_pw}"],
            "agent-no-redis-password": local[:2] + [f"BATCHING_AGENT_PORT={self.agent_no_redis_pw}"],
        }[name]

    def directory(self, name, n):
        """A fresh directory for one block of setup name."""
        d = os.path.join(self.work, f"{n}-{name}")
        os.makedirs(os.path.join(d, "build"))
        os.symlink(BUILD, os.path.join(d, "build", "release"))
        lines = self.env_lines(name)
        if lines is not None:
            with open(os.path.join(d, "local.env"), "w") as f:
                f.write("\n".join(lines) + "\n")
        if name == "compare":
            for out, extra in (("direct_results.json", ""), ("batched_results.json", " --batching")):
                r = run(d, f"rbench run --invocations 100 --rate 200 --progress off --output {out}{extra}")
                if not os.path.exists(os.path.join(d, out)):
                    raise RuntimeError(f"setup compare: {out} not written:\n{r}")
        return d


def run(cwd, command):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REDIS_", "BATCHING_", "OPENWHISK_", "RBENCH_"))}
    home = os.path.join(cwd, ".home")
    os.makedirs(home, exist_ok=True)
    env["HOME"] = home
    env["PATH"] = ":".join(os.path.join(BUILD, d) for d in ("job", "agent", "action")) + ":" + env["PATH"]
    p = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    return p.stdout.replace(BUILD, DOC_BUILD).replace(os.path.realpath(cwd), DOC_CWD)


def compare(expected, actual, excerpt):
    """None when expected matches actual (normalised), else a description of the difference."""
    want, got = normalise("\n".join(expected)), normalise(actual)
    if excerpt:
        for i in range(len(got) - len(want) + 1):
            if got[i:i + len(want)] == want:
                return None
        return "    expected these lines, consecutively:\n      " + "\n      ".join(want) + \
               "\n    in:\n      " + "\n      ".join(got)
    if want == got:
        return None
    return "\n".join("    " + l for l in difflib.unified_diff(want, got, "docs", "binary", lineterm=""))


def segments(block):
    """[(command, expected lines)] of a block of "$ COMMAND" lines and their output."""
    segs = []
    for line in block:
        if line.startswith("$ "):
            segs.append((line[2:], []))
        elif segs:
            segs[-1][1].append(line)
        else:
            return None
    return segs


def drifted(expected):
    """expected with one line changed: its last non-empty line gains a word."""
    out = list(expected)
    for i in range(len(out) - 1, -1, -1):
        if out[i].strip():
            out[i] += " drifted"
            break
    return out


def main():
    for tool in ("redis-server",):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (tools/install-deps.sh)")
            return 1
    work = tempfile.mkdtemp(prefix="rbench-docs-output.")
    try:
        setups = Setups(work)
        docs = [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
        n = 0
        counted = {}
        for doc in docs:
            rel = os.path.relpath(doc, SRC)
            for line_no, setup, excerpt, command, block in blocks(doc):
                n += 1
                where = f"{rel}:{line_no}"
                if block is None:
                    TAP.check(f"{where}: the marker is followed by a fenced block", False)
                    continue
                try:
                    cwd = setups.directory(setup, n)
                except KeyError:
                    TAP.check(f"{where}: setup '{setup}' exists", False)
                    continue
                if command is not None:
                    segs = [(command, block)]
                else:
                    segs = segments(block)
                    if not segs:
                        TAP.check(f"{where}: a block without a command in its marker starts with '$ '", False)
                        continue
                for cmd, expected in segs:
                    diff = compare(expected, run(cwd, cmd), excerpt)
                    TAP.check(f"{where} ({setup}): `{cmd}` prints what the docs quote", diff is None, diff or "")
                    if diff is None and any(l.strip() for l in expected):
                        again = compare(drifted(expected), run(cwd, cmd), excerpt)
                        TAP.check(f"{where}: a drifted quote of `{cmd}` is caught", again is not None)
                counted[rel] = counted.get(rel, 0) + 1
        for must in ("docs/troubleshooting.md", "docs/runner.md"):
            TAP.check(f"{must} has checked outputs", counted.get(must, 0) > 0, str(counted))
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    return TAP.finish()


if __name__ == "__main__":
    sys.exit(main())
