#!/usr/bin/env python3
"""run_images.py: pulls the three images from a registry (skopeo) and runs them with runc as a
kubelet runs the chart's pods (tests/image/imagepods.py says what each check does), each pod in
a network namespace of its own; then checks that nothing of it is left.

Usage: run_images.py REGISTRY TAG [--version 'rbench X.Y.Z (commit)']
       run_images.py REGISTRY TAG --only action [--action-version 'rbench-action X.Y.Z (commit)']
--only action: the action image alone (tests/image/test_image.sh), no chart: /init and /run
against a Redis without a password in the pod's namespace.
Prints one "ok - ..." / "not ok - ..." line per check and "N passed, M failed" last; exit 0
when all passed, 1 otherwise, 77 (one line "SKIP: why") when containers cannot run here.
Used by tests/image/test_node_build.sh on the images it built and pushed."""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imagepods  # noqa: E402
import ocirun  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("registry")
    ap.add_argument("tag")
    ap.add_argument("--version", help="what `rbench --version` must print")
    ap.add_argument("--action-version", help="what `rbench-action --version` must print")
    ap.add_argument("--only", choices=["action"], help="the action image alone, without the chart")
    a = ap.parse_args()
    ok, why = ocirun.usable()
    missing = [t for t in ("redis-server", "redis-cli", "curl") if not shutil.which(t)]
    if ok and missing:
        ok, why = False, f"{', '.join(missing)} not installed (tools/install-deps.sh)"
    if not ok:
        print(f"SKIP: {why}")
        return 77
    objs = None if a.only else imagepods.render_chart()
    r = imagepods.Report()
    rt = ocirun.Runtime(prefix="rbench-run-images-")
    ocirun.install_signal_cleanup(rt)
    try:
        images = {}
        want = (("action", "rbench-action"),) if a.only else (("action", "rbench-action"), ("agent", "rbench-agent"),
                                                               ("runner", "rbench"))
        for key, name in want:
            ref = f"{a.registry}/{name}:{a.tag}"
            try:
                images[key] = rt.pull(ref, key)
                cfg = images[key].config.get("config", {})
                r.check(True, f"{name}: pulled {ref} (skopeo) and unpacked (umoci): entrypoint {cfg.get('Entrypoint')}, "
                        f"user {cfg.get('User')}, workdir {cfg.get('WorkingDir') or '/'}")
            except RuntimeError as e:
                r.check(False, f"{name}: pulled {ref} and unpacked", e)
        work = os.path.join(rt.work, "pods-root")
        if a.only and images:
            imagepods.check_action(r, rt, images["action"], None, work, None, version=a.action_version)
        elif len(images) == 3:
            imagepods.run_all(r, rt, objs, work, images, version=a.version, action_version=a.action_version)
    except Exception as e:  # noqa: BLE001 -- a crash of the test is a failed check, then cleanup
        r.check(False, f"the image checks ran to the end ({type(e).__name__})", e)
    finally:
        imagepods.check_leftovers(r, rt, "run_images")
    print(r.summary())
    return 0 if not r.failed else 1


if __name__ == "__main__":
    sys.exit(main())
