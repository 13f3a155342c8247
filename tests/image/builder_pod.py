#!/usr/bin/env python3
"""builder_pod.py: the chart's image-builder init container as its pod would run it, for
tests/image/test_node_build.sh. Renders helm/rbench (helm template, as the tests in tests/k8s
do, with image.tag=TAG), takes the rendered DaemonSet's init container and lays out its
volumes under POD_ROOT/volumes: a ConfigMap volume's files (the source tarball from
binaryData), emptyDir and hostPath volumes as empty directories, each reached from
POD_ROOT/<mountPath>. Its command and args, with every mountPath rewritten to
POD_ROOT/<mountPath> (k8stest.rewrite_paths, as test_pod_emulation.py does), are written
NUL-separated to ARGV_FILE; one line "MOUNTPATH LOCALPATH" per mount goes to stdout.
Exits 77 when helm cannot be had (k8stest.tools).

Usage: builder_pod.py POD_ROOT ARGV_FILE TAG"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "k8s"))
from k8stest import REQUIRED, find, render, rewrite_paths, tools, write_configmap  # noqa: E402

root, argv_file, tag = sys.argv[1:4]
helm, _, _ = tools()
_, objs = render(helm, *REQUIRED, "--set", f"image.tag={tag}", skip_tests=True)
ds = find(objs, "DaemonSet", "rbench-image-builder")
spec = ds["spec"]["template"]["spec"]
inits = spec.get("initContainers") or []
if len(inits) != 1 or not spec.get("hostNetwork"):
    sys.exit(f"builder_pod: expected one init container and hostNetwork, got {len(inits)} and "
             f"{spec.get('hostNetwork')}")
ct = inits[0]
vols = {}
for v in spec["volumes"]:
    d = os.path.join(root, "volumes", v["name"])
    os.makedirs(d)
    if "configMap" in v:
        write_configmap(find(objs, "ConfigMap", v["configMap"]["name"]), d)
    elif not ("emptyDir" in v or "hostPath" in v):
        sys.exit(f"builder_pod: volume {v['name']} is neither a ConfigMap, an emptyDir nor a hostPath")
    vols[v["name"]] = d
paths = {}
for m in ct["volumeMounts"]:
    here = os.path.join(root, m["mountPath"].lstrip("/"))
    os.makedirs(os.path.dirname(here), exist_ok=True)
    os.symlink(vols[m["name"]], here)
    paths[m["mountPath"]] = here
    print(m["mountPath"], here)
argv = [rewrite_paths(a, paths) for a in ct["command"] + ct.get("args", [])]
with open(argv_file, "wb") as f:
    f.write(b"".join(a.encode() + b"\0" for a in argv))
