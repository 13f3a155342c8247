#!/usr/bin/env python3
"""test_image_checks.py: the container checks of the image tests prove good images and catch
broken ones, in seconds, without the buildah build: images are made with umoci from the build
tree's binaries (tools/lib/stage-image-root.sh, as the Dockerfiles stage them: rbench-action;
rbench-agent; rbench with rbench-action beside it and the CA bundle; user 65534), run with runc
as the chart's pods (tests/image/imagepods.py: each pod in a network namespace of its own, the
rendered chart's args, env, securityContext and mounts), and must pass every check. Then each
broken variant must fail the same check functions:
  - a wrong entrypoint (/usr/bin/rbench-action, not in the image);
  - a library removed from the image (rbench-action's libcjson);
  - a file the non-root user cannot read (that library mode 0600, owner root);
  - a write to the read-only root (the runner's --output on the root filesystem, not the
    results volume).
Finally nothing may be left: no container, network namespace, cgroup, process or directory.

Usage: test_image_checks.py BUILD_DIR    (root; runc, skopeo, umoci, redis-server, curl, helm)
Exit 0 pass, 1 fail, 77 with one line "SKIP: why" when containers cannot run here."""
import glob
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import imagepods  # noqa: E402
import ocirun  # noqa: E402


def sh(argv, what):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{what} failed (exit {p.returncode}): {(p.stderr or p.stdout).strip()[-600:]}")
    return p.stdout


def make_image(layout, tag, root, entrypoint):
    """Tag TAG in the OCI layout: ROOT as its one layer, entrypoint, user 65534 (as the Dockerfiles)."""
    ocirun.make_image(layout, tag, entrypoint, root=root)


def stage(root, binaries, ca=False):
    sh(["sh", os.path.join(SRC, "tools", "lib", "stage-image-root.sh"), *(["--ca-certificates"] if ca else []),
        root, *binaries], f"stage-image-root.sh {root}")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    build = os.path.abspath(sys.argv[1])
    ok, why = ocirun.usable()
    missing = [t for t in ("redis-server", "redis-cli", "curl", "ldd") if not shutil.which(t)]
    if ok and missing:
        ok, why = False, f"{', '.join(missing)} not installed (tools/install-deps.sh)"
    if not ok:
        print(f"SKIP: {why}")
        return 77
    bins = {n: os.path.join(build, d, n) for n, d in (("rbench-action", "action"), ("rbench-agent", "agent"),
                                                         ("rbench", "job"))}
    for n, p in bins.items():
        if not os.access(p, os.X_OK):
            print(f"test_image_checks: error: {p} is not built (cmake --build the build directory first)")
            return 1
    objs = imagepods.render_chart()
    r = imagepods.Report()
    rt = ocirun.Runtime(prefix="rbench-image-checks-")
    ocirun.install_signal_cleanup(rt)
    try:
        layout = os.path.join(rt.work, "layout")
        roots = {k: os.path.join(rt.work, "stage", k) for k in ("action", "agent", "runner", "nolib", "unreadable")}
        stage(roots["action"], [bins["rbench-action"]])
        stage(roots["agent"], [bins["rbench-agent"]])
        stage(roots["runner"], [bins["rbench"], bins["rbench-action"]], ca=True)
        make_image(layout, "action", roots["action"], "/rbench-action")
        make_image(layout, "agent", roots["agent"], "/rbench-agent")
        make_image(layout, "runner", roots["runner"], "/rbench")
        # the broken variants of the action image
        make_image(layout, "entrypoint", roots["action"], "/usr/bin/rbench-action")
        # a library of the project's own choice (not libc): libcjson, which rbench-action links
        libs = sorted(glob.glob(os.path.join(roots["action"], "**", "libcjson.so*"), recursive=True))
        if not libs:
            raise RuntimeError(f"no libcjson in the staged action root {roots['action']}")
        lib = os.path.relpath(libs[0], roots["action"])
        for k in ("nolib", "unreadable"):
            shutil.copytree(roots["action"], roots[k], symlinks=True)
        os.unlink(os.path.join(roots["nolib"], lib))
        os.chown(os.path.join(roots["unreadable"], lib), 0, 0)
        os.chmod(os.path.join(roots["unreadable"], lib), 0o600)
        make_image(layout, "nolib", roots["nolib"], "/rbench-action")
        make_image(layout, "unreadable", roots["unreadable"], "/rbench-action")
        r.check(True, f"images made with umoci from {build}: action, agent, runner and three broken action images "
                f"(entrypoint /usr/bin/rbench-action; /{lib} removed; /{lib} mode 0600 root)")
        images = {k: rt.unpack(layout, k, k) for k in ("action", "agent", "runner")}
        work = os.path.join(rt.work, "pods-root")

        r.note("--- the good images: every check must pass")
        good = imagepods.Report(prefix="  ")
        imagepods.run_all(good, rt, objs, work, images)
        r.check(not good.failed, f"good images: every check passes ({good.summary()})", "\n".join(good.failed))

        def broken(label, run, want):
            r.note(f"--- broken: {label}: must fail '{want}'")
            b = imagepods.Report(prefix="  [broken] ")
            try:
                run(b)
            except Exception as e:  # noqa: BLE001 -- a crash is not a check failing
                b.note(f"crashed: {type(e).__name__}: {e}")
                b.failed.append(f"crash: {e}")
            r.check(any(f.startswith(want) for f in b.failed) and not any(f.startswith("crash") for f in b.failed),
                    f"{label}: the check '{want}...' fails", "failed: " + "; ".join(b.failed))
        serve = "action: the container (image entrypoint, user, no args) serves on :8080"
        for tag, label in (("entrypoint", "wrong entrypoint /usr/bin/rbench-action"),
                           ("nolib", f"library /{lib} missing from the image"),
                           ("unreadable", f"/{lib} unreadable for 65534 (mode 0600, owner root)")):
            img = rt.unpack(layout, tag, tag)
            broken(label, lambda b, img=img: imagepods.check_action(b, rt, img, objs, work, None), serve)
        broken("the runner writes its results to the read-only root (--output /results-on-root/)",
               lambda b: imagepods.check_runner(b, rt, images["runner"], objs, work, images["agent"],
                                                output="/results-on-root/"),
               "runner: `rbench run")
    except Exception as e:  # noqa: BLE001 -- a crash of the test is a failed check, then cleanup
        r.check(False, f"the test ran to the end ({type(e).__name__})", e)
    finally:
        imagepods.check_leftovers(r, rt, "test_image_checks")
    print(r.summary())
    return 0 if not r.failed else 1


if __name__ == "__main__":
    sys.exit(main())
