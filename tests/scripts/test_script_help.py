#!/usr/bin/env python3
"""test_script_help.py: every script under tools/ answers --help and -h with its usage on stdout
and exit 0, and an unknown option with an error naming it on stderr and exit 2, and in each case
starts and writes nothing.

Each run is traced with strace -f: the only programs it may execute are the shell and the text
tools that print a usage (cat, sed, dirname, basename, env); no file may be created, opened for
writing, renamed or removed (apart from /dev/null); no socket may be made or connected (except glibc's lookup of the
user through nscd, which bash makes at start when SHELL is unset, as under CI); its current directory
(empty) and HOME (empty) must stay empty; and no process may outlive it (strace would wait for
it: a run that does not finish in time fails, and whatever it left is stopped by its process id,
found by a variable only this test sets).

Usage: tests/scripts/test_script_help.py SOURCE_ROOT
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tap import Tap  # noqa: E402

SRC = os.path.abspath(sys.argv[1])
ALLOWED_PROGRAMS = {"bash", "sh", "dash", "env", "cat", "sed", "dirname", "basename"}
TRACED = ("execve,open,openat,creat,mkdir,mkdirat,unlink,unlinkat,rename,renameat,renameat2,"
          "link,linkat,symlink,symlinkat,truncate,socket,connect,bind")
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
QUIET_PATHS = ("/dev/null", "/dev/tty")
MARK = "RBENCH_SCRIPT_HELP_TEST"
NSCD = '"/var/run/nscd/socket"'

TAP = Tap()



def scripts():
    """Every executable .sh under tools/ (entry points, bench/, dev/ and lib/'s executables)."""
    found = []
    for d, _, files in os.walk(os.path.join(SRC, "tools")):
        for f in files:
            p = os.path.join(d, f)
            if f.endswith(".sh") and os.access(p, os.X_OK):
                found.append(os.path.relpath(p, SRC))
    return sorted(found)


def offences(trace, script):
    """What the traced run did that a --help must not do, one line each."""
    bad = []
    for line in trace.splitlines():
        m = re.match(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)", line)
        if not m or int(m.group(3)) < 0:
            continue  # resumed/unfinished lines, signals, and calls that failed changed nothing
        call, args = m.group(1), m.group(2)
        if call == "execve":
            prog = os.path.basename(re.match(r'"([^"]*)"', args).group(1))
            if prog not in ALLOWED_PROGRAMS and prog != os.path.basename(script):
                bad.append(line)
        elif call in ("open", "openat", "creat"):
            path = re.search(r'"([^"]*)"', args).group(1)
            if (call == "creat" or any(f in args for f in WRITE_FLAGS)) and path not in QUIET_PATHS:
                bad.append(line)
        elif call == "socket" and args.startswith("AF_UNIX,"):
            continue  # glibc's user lookup (bash's getpwuid) opens one for nscd; connect decides
        elif call == "connect" and NSCD in args:
            continue  # the name service cache daemon: a lookup, not a server the script starts
        else:
            bad.append(line)  # mkdir, unlink, rename, link, truncate, socket, connect, bind
    return bad


def stop_leftovers(mark):
    """Stops, by process id, any process carrying this run's mark in its environment."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"{MARK}={mark}".encode() in env:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def run(work, script, arg, n):
    cwd = os.path.join(work, f"cwd{n}")
    home = os.path.join(work, f"home{n}")
    os.mkdir(cwd)
    os.mkdir(home)
    trace = os.path.join(work, f"trace{n}")
    env = dict(os.environ, HOME=home, TMPDIR=os.path.join(work, "tmp"))
    # Without SHELL (as under CI), bash looks its user up at start (getpwuid, which tries nscd
    # over a Unix socket): the run must be judged the same with or without it.
    env.pop("SHELL", None)
    env[MARK] = f"{work}/{n}"
    cmd = ["strace", "-f", "-qq", "-e", f"trace={TRACED}", "-o", trace,
           os.path.join(SRC, script), arg]
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
        rc, out, err, timed_out = p.returncode, p.stdout, p.stderr, False
    except subprocess.TimeoutExpired as e:
        rc, out, err, timed_out = None, str(e.stdout or ""), str(e.stderr or ""), True
    stop_leftovers(env[MARK])
    with open(trace) as f:
        bad = offences(f.read(), script)
    left = os.listdir(cwd) + os.listdir(home)
    return rc, out, err, timed_out, bad, left


def main():
    if shutil.which("strace") is None:
        print("strace is not installed (tools/install-deps.sh)")
        return 1
    probe = subprocess.run(["strace", "-qq", "-e", "trace=execve", "-o", "/dev/null", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"strace cannot trace here (is ptrace permitted?): {probe.stderr.strip()}")
        return 1
    work = tempfile.mkdtemp(prefix="rbench-script-help.")
    os.mkdir(os.path.join(work, "tmp"))
    n = 0
    try:
        found = scripts()
        TAP.check("tools/ holds the entry points, bench/ and dev/ scripts",
                  {"tools/quickstart.sh", "tools/try-action.sh", "tools/test.sh",
                   "tools/bench/bench-e2e.sh", "tools/dev/fuzz.sh"} <= set(found), "    " + str(found))
        for script in found:
            for arg in ("--help", "-h", "--no-such-option"):
                n += 1
                rc, out, err, timed_out, bad, left = run(work, script, arg, n)
                what = f"{script} {arg}"
                if arg == "--no-such-option":
                    TAP.check(f"{what}: exit 2, the option named on stderr, nothing on stdout",
                              rc == 2 and "'--no-such-option'" in err and out == "",
                              f"    exit {rc}, stdout {out[:200]!r}, stderr {err[:300]!r}")
                else:
                    TAP.check(f"{what}: exit 0, usage on stdout naming {script}",
                              rc == 0 and "Usage:" in out and script in out and err == "",
                              f"    exit {rc}, stdout {out[:200]!r}, stderr {err[:300]!r}")
                TAP.check(f"{what}: finished, nothing left running", not timed_out)
                TAP.check(f"{what}: ran nothing, wrote nothing, opened no socket", not bad,
                          "    " + "\n    ".join(bad[:8]))
                TAP.check(f"{what}: current directory and HOME still empty", not left, "    " + str(left))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TAP.finish()


if __name__ == "__main__":
    sys.exit(main())
