"""k8stest.py: what the chart tests share: finding helm and the validator, rendering the chart,
reading rendered objects, laying out a pod's ConfigMap volumes and rewriting its mountPaths to
where they are on this machine."""
import base64
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "helm", "rbench")
SKIP = 77  # ctest's SKIP_RETURN_CODE

# What every install of the runner needs (the chart fails without them).
REQUIRED = ["--set", "openwhisk.apiHost=https://owdev-nginx.openwhisk.svc.cluster.local",
            "--set", "openwhisk.authSecret=rbench-openwhisk"]


def tools():
    """(helm, node, node_modules), installing them when missing; exit 77 when they cannot be."""
    for t in ("node", "npm"):
        if subprocess.run(["sh", "-c", f"command -v {t}"], capture_output=True).returncode:
            print(f"SKIP: {t} is not installed (tools/install-deps.sh installs it)")
            sys.exit(SKIP)
    p = subprocess.run([os.path.join(ROOT, "tools", "lib", "install-k8s-tools.sh"), "--dir"],
                       capture_output=True, text=True)
    if p.returncode:
        print("SKIP: helm is not installed and tools/lib/install-k8s-tools.sh failed:\n" + p.stderr)
        sys.exit(SKIP)
    d = p.stdout.strip().splitlines()[-1]
    return os.path.join(d, "bin", "helm"), "node", os.path.join(d, "node", "node_modules")


def helm(helm_bin, *args, check=True):
    p = subprocess.run([helm_bin, *args], capture_output=True, text=True)
    if check and p.returncode:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{p.stderr}")
    return p


def render(helm_bin, *values, release="rbench", namespace="rbench", skip_tests=False):
    """The rendered text and its objects (list of dicts)."""
    args = ["template", release, CHART, "--namespace", namespace, *values]
    if skip_tests:
        args.append("--skip-tests")
    text = helm(helm_bin, *args).stdout
    return text, [d for d in yaml.safe_load_all(text) if d]


def find(objs, kind, name):
    for o in objs:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    return None


def write_configmap(cm, d, items=None):
    """A ConfigMap volume's files in directory d: each data and binaryData key a file, or, when
    the volume lists items, exactly those keys at their paths (subdirectories made), as the
    kubelet projects them; an item naming a missing key fails, as the pod would not start."""
    data = dict(cm.get("data") or {})
    data.update({k: base64.b64decode(b) for k, b in (cm.get("binaryData") or {}).items()})
    for it in items if items is not None else [{"key": k, "path": k} for k in data]:
        if it["key"] not in data:
            raise KeyError(f"ConfigMap {cm['metadata']['name']} has no key {it['key']!r}")
        path = os.path.join(d, it["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        v = data[it["key"]]
        with open(path, "wb" if isinstance(v, bytes) else "w") as f:
            f.write(v)


def rewrite_paths(s, paths):
    """Every mountPath in s (a word of its own or the start of a path: after a blank, quote,
    '=' or ':') replaced by where it is here (paths: mountPath -> local path), in one pass, so
    a rewritten path is never rewritten again."""
    if not paths:
        return s
    alt = "|".join(re.escape(mp) for mp in sorted(paths, key=len, reverse=True))
    return re.sub(r"(?:^|(?<=[\s\"'=:]))(" + alt + r")(?=[/\s\"'\\]|$)", lambda m: paths[m.group(1)], s, flags=re.M)


class Checks:
    """Collects failures so one run reports all of them."""

    def __init__(self):
        self.failed = 0

    def check(self, cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            self.failed += 1
        return cond

    def done(self):
        print(f"{self.failed} failure(s)")
        sys.exit(1 if self.failed else 0)
