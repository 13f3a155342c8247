#!/usr/bin/env bash
# fetch-results.sh: collects a finished runner Job's results documents into a local directory
# laid out as `rbench run --output DIR/` lays it out (DIR/RUN.json, or DIR/RUN/rN.json with
# repetitions), so `rbench compare DIR/direct DIR/batched` and `rbench report` take it as is.
#
#   tools/fetch-results.sh JOB [DIR]                  # from the ConfigMaps labelled rbench.io/job=JOB
#   tools/fetch-results.sh --pvc JOB [DIR]            # from the results PVC, via a helper pod
#
# DIR defaults to ./results-JOB and must not exist or be an empty directory (missing parents
# are created; a file, device or FIFO of that name is refused, never replaced). Documents stored summary-only
# (annotation rbench.io/summary-only: the full one was over the ConfigMap limit) have no
# raw_results, which compare and report need: they go to DIR/summary-only/ (same layout) and
# are named in the output, so DIR/RUN holds only documents compare and report take.
#
# A scale-out run's documents (runner.shards > 1: each carries "shard") are kept under
# DIR/shards/ (DIR/shards/RUN/rK.shard-I-of-N.json), and `rbench merge` merges each
# document's shards into DIR/RUN/rK.json (or DIR/RUN.json), the layout above. rbench is
# $RBENCH, else the first of rbench on PATH, build/release, build/debug of this repository
# that has `merge`. A merge refused (a missing shard: a failed index) is named, the shards
# stay, and the exit status is 1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CL_PROG=fetch-results
# shellcheck source=tools/lib/cluster-lib.sh
. "$HERE/lib/cluster-lib.sh"
# shellcheck source=tools/lib/args.sh
. "$HERE/lib/args.sh"

NS=rbench
RELEASE=rbench
PVC=0
CLAIM=""
PVC_PATH=""
HELPER_IMAGE="docker.io/library/debian:bookworm"
JOB=""
DIR=""

usage() {
  cat <<'USAGE'
Usage: tools/fetch-results.sh [options] JOB [DIR]

  --namespace NS       namespace of the release (default rbench)
  --release NAME       Helm release name (default rbench)
  --pvc                read the results PersistentVolumeClaim (results.pvc.enabled) instead
                       of ConfigMaps: a short-lived pod mounts it read-only, kubectl cp copies
  --claim NAME         the claim (default FULLNAME-results)
  --path SUBDIR        directory inside the volume (default: its root)
  --helper-image IMG   image of that pod; it needs tar (default docker.io/library/debian:bookworm)
  --env FILE           accepted for symmetry with deploy.sh (nothing is read from it)
  -h, --help           this text

The documents of a scale-out run (runner.shards > 1) are kept in DIR/shards/ and merged by
`rbench merge` into DIR in the same layout; rbench is $RBENCH, else rbench on PATH, else
build/release or build/debug of this repository.
USAGE
}
need_value() { [ "$2" -ge 2 ] || rb_usage_error "$CL_PROG" "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace | -n) need_value "$1" $#; NS="$2"; shift ;;
    --release) need_value "$1" $#; RELEASE="$2"; shift ;;
    --pvc) PVC=1 ;;
    --claim) need_value "$1" $#; CLAIM="$2"; PVC=1; shift ;;
    --path) need_value "$1" $#; PVC_PATH="$2"; shift ;;
    --helper-image) need_value "$1" $#; HELPER_IMAGE="$2"; shift ;;
    --env) need_value "$1" $#; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) rb_usage_error "$CL_PROG" "unknown option '$1'" ;;
    *)
      if [ -z "$JOB" ]; then JOB="$1"
      elif [ -z "$DIR" ]; then DIR="$1"
      else rb_usage_error "$CL_PROG" "unexpected argument '$1'"
      fi
      ;;
  esac
  shift
done
[ -n "$JOB" ] || cl_die "name the Job (kubectl get jobs -n $NS)"
cl_check_name namespace "$NS"
cl_check_name release "$RELEASE"
[[ "$JOB" =~ ^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$ ]] || cl_die "'$JOB' is not a valid Job name"
case "$PVC_PATH" in *..*) cl_die "--path must not contain '..'" ;; esac
cl_need kubectl python3
F="$(cl_fullname "$RELEASE")"
DIR="${DIR:-results-$JOB}"
if [ -e "$DIR" ] && [ ! -d "$DIR" ]; then
  cl_die "$DIR exists and is not a directory ($(stat -c %F -- "$DIR")): name a new directory"
fi
if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  cl_die "$DIR exists and is not empty: name a new directory"
fi
K=(kubectl -n "$NS")
TMP="$(mktemp -d /tmp/rbench-fetch.XXXXXX)"
HELPER=""
cleanup() {
  if [ -n "$HELPER" ]; then "${K[@]}" delete pod "$HELPER" --wait=false >/dev/null 2>&1 || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ "$PVC" -eq 1 ]; then
  CLAIM="${CLAIM:-$F-results}"
  HELPER="$(printf '%s' "$F-fetch-$JOB" | cut -c1-57)-$$"
  HELPER="${HELPER:0:63}"
  python3 - "$HELPER" "$CLAIM" "$HELPER_IMAGE" "$RELEASE" >"$TMP/pod.json" <<'PY'
import json, sys
name, claim, image, release = sys.argv[1:5]
print(json.dumps({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "rbench",
               "app.kubernetes.io/instance": release, "app.kubernetes.io/component": "fetch"}},
  "spec": {"restartPolicy": "Never", "activeDeadlineSeconds": 900,
           "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534},
           "containers": [{"name": "fetch", "image": image, "command": ["sleep", "600"],
                           "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                               "capabilities": {"drop": ["ALL"]}},
                           "volumeMounts": [{"name": "results", "mountPath": "/results", "readOnly": True}]}],
           "volumes": [{"name": "results", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}]}}))
PY
  echo "fetch-results: starting pod $HELPER with claim $CLAIM"
  "${K[@]}" apply -f "$TMP/pod.json" >/dev/null || cl_die "cannot create the helper pod (kubectl apply failed)"
  "${K[@]}" wait --for=condition=Ready "pod/$HELPER" --timeout 180s >/dev/null ||
    cl_die "helper pod $HELPER did not become ready (kubectl describe pod $HELPER -n $NS)"
  "${K[@]}" cp "$HELPER:/results/${PVC_PATH#/}" "$TMP/pvc" >/dev/null || cl_die "kubectl cp from the claim failed"
  SRC_KIND=pvc
else
  "${K[@]}" get configmaps -l "rbench.io/job=$JOB" -o json >"$TMP/cms.json" 2>"$TMP/err" ||
    cl_die "kubectl get configmaps failed: $(head -n 1 "$TMP/err")"
  SRC_KIND=configmaps
fi

# Lays the documents out under DIR (written to a temporary name, then renamed: no half-written
# file), and prints one line per document, "summary" lines for summary-only ones. Shards go
# to DIR/shards/; TMP/groups.json lists, per merged document, its place and its shards.
mkdir -p "$DIR"
python3 - "$SRC_KIND" "$TMP" "$DIR" "$JOB" <<'PY'
import json, os, re, sys
kind, tmp, out, job = sys.argv[1:5]
SHARD_SUFFIX = re.compile(r"\.shard-[0-9]+-of-[0-9]+(?=\.json$)")

def safe(part):
    return re.sub(r"[^A-Za-z0-9_.-]", "-", str(part)).lstrip(".") or "run"

def place(doc, fallback):
    s = doc.get("scenario") if isinstance(doc.get("scenario"), dict) else {}
    run = s.get("run")
    if not run:
        return safe(fallback) + ".json"
    if int(s.get("repetitions") or 1) > 1:
        return os.path.join(safe(run), "r%d.json" % int(s.get("repetition") or 1))
    return safe(run) + ".json"

docs = []  # (source name, text, summary_only)
if kind == "configmaps":
    items = json.load(open(os.path.join(tmp, "cms.json"))).get("items") or []
    for cm in items:
        meta = cm.get("metadata") or {}
        text = (cm.get("data") or {}).get("results.json")
        if text is None:
            sys.exit("fetch-results: error: ConfigMap %s has no results.json key" % meta.get("name"))
        summary = (meta.get("annotations") or {}).get("rbench.io/summary-only") == "true"
        docs.append((meta.get("name", "?"), text, summary))
else:
    root = os.path.join(tmp, "pvc")
    for dp, _, fs in os.walk(root):
        for f in sorted(fs):
            if f.endswith(".json"):
                p = os.path.join(dp, f)
                docs.append((os.path.relpath(p, root), open(p).read(), False))
if not docs:
    where = "ConfigMaps labelled rbench.io/job=%s" % job if kind == "configmaps" else "the volume"
    sys.exit("fetch-results: error: no results documents in %s (has the Job finished? "
             "kubectl logs job/%s)" % (where, job))
seen = {}
summaries = []
groups = {}  # merged document's rel -> {"inputs": [shard files], "summary": [...], "names": [...]}
for name, text, summary in sorted(docs):
    try:
        doc = json.loads(text)
    except ValueError as e:
        sys.exit("fetch-results: error: %s: not a JSON document (%s)" % (name, e))
    if not isinstance(doc, dict):
        sys.exit("fetch-results: error: %s: not a results document" % name)
    summary = summary or doc.get("raw_results_omitted") is True
    shard = doc.get("shard")
    if shard is not None:
        try:
            si, sn = int(shard["index"]), int(shard["count"])
        except (TypeError, KeyError, ValueError):
            sys.exit("fetch-results: error: %s: its \"shard\" is not {index, count, ...}" % name)
        # the ConfigMap's name carries -shard-I, the file's .shard-I-of-N: the merged place has neither
        fallback = re.sub(r"-shard-[0-9]+$", "", os.path.splitext(os.path.basename(name))[0])
        base = place(doc, fallback) if kind == "configmaps" else SHARD_SUFFIX.sub("", name)
        rel = os.path.join("shards", base[:-len(".json")] + ".shard-%d-of-%d.json" % (si, sn))
        g = groups.setdefault(base, {"inputs": [], "summary": [], "names": []})
    else:
        rel = place(doc, os.path.splitext(os.path.basename(name))[0]) if kind == "configmaps" else name
        base, g = rel, None
    if rel in seen:
        sys.exit("fetch-results: error: %s and %s both map to %s" % (seen[rel], name, rel))
    seen[rel] = name
    dest = os.path.join(out, "summary-only", rel) if summary and g is None else os.path.join(out, rel)
    if g is not None:
        g["inputs"].append(dest)
        g["names"].append(name)
        if summary:
            g["summary"].append(dest)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest + ".part", "w") as f:
        f.write(text)
    os.replace(dest + ".part", dest)
    print("fetch-results: %s -> %s%s" % (name, dest, " (SUMMARY ONLY)" if summary else ""))
    if summary and g is None:
        summaries.append(dest)
both = sorted(set(groups) & set(seen))
if both:
    sys.exit("fetch-results: error: %s: a whole document (%s) and shards of one (%s) of the same run: "
             "the Job's documents are not of one run" % (both[0], seen[both[0]], ", ".join(groups[both[0]]["names"])))
print("fetch-results: %d document(s) in %s" % (len(docs), out))
for d in summaries:
    print("fetch-results: summary only: %s has no raw_results (the full document was over the "
          "ConfigMap limit of 1 MiB): set aside, rbench compare and report cannot use it; "
          "results.pvc.enabled keeps whole documents of runs this large" % d)
with open(os.path.join(tmp, "groups.json"), "w") as f:
    json.dump([dict(g, rel=k) for k, g in sorted(groups.items())], f)
PY

# rbench with `merge`: $RBENCH, else the first of PATH, build/release, build/debug that has it.
find_rbench() {
  local c tried=()
  if [ -n "${RBENCH:-}" ]; then
    [ -x "$RBENCH" ] || cl_die "RBENCH=$RBENCH is not an executable file"
    "$RBENCH" merge --help >/dev/null 2>&1 ||
      cl_die "RBENCH=$RBENCH has no 'merge' command (an rbench older than scale-out runs): rebuild it; the shards are in $DIR/shards/"
    printf '%s\n' "$RBENCH"
    return
  fi
  for c in "$(command -v rbench 2>/dev/null || true)" "$HERE/../build/release/job/rbench" "$HERE/../build/debug/job/rbench"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if "$c" merge --help >/dev/null 2>&1; then
      printf '%s\n' "$c"
      return
    fi
    tried+=("$c (no 'merge' command)")
  done
  cl_die "these documents are the shards of a scale-out run, and merging them needs rbench merge: set RBENCH=/path/to/rbench, put rbench on PATH or build it (cmake --preset release && cmake --build --preset release)${tried:+; tried: ${tried[*]}}; the shards are in $DIR/shards/"
}

# Merges each document's shards: rbench merge SHARDS... -o FILE (it writes FILE atomically,
# and nothing when it refuses). With a summary-only shard the merged document has no
# raw_results either (percentiles from the shards' histograms): it goes to DIR/summary-only/.
# A refusal (a missing or duplicate shard, shards of different runs) is reported with
# rbench's reason; the shards stay in DIR/shards/ and the exit status is 1.
if [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/groups.json")" -gt 0 ]; then
  RB="$(find_rbench)" || exit 1
  echo "fetch-results: merging the shards with $RB merge"
  python3 - "$TMP/groups.json" "$RB" "$DIR" "$JOB" "$NS" <<'PY'
import json, os, subprocess, sys
groups, rb, out, job, ns = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
failed, summaries = [], []
for g in groups:
    rel = g["rel"]
    dest = os.path.join(out, "summary-only", rel) if g["summary"] else os.path.join(out, rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    p = subprocess.run([rb, "merge", *g["inputs"], "-o", dest], capture_output=True, text=True)
    if p.returncode != 0 or not os.path.isfile(dest):
        failed.append(rel)
        why = "\n".join("    " + l for l in (p.stderr or p.stdout).strip().splitlines()[-10:])
        print("fetch-results: error: %s not merged from %d shard document(s): rbench merge exited %d:\n%s"
              % (rel, len(g["inputs"]), p.returncode, why), file=sys.stderr)
        continue
    print("fetch-results: merged %d shard(s) -> %s%s" % (len(g["inputs"]), dest, " (SUMMARY ONLY)" if g["summary"] else ""))
    if g["summary"]:
        summaries.append((dest, g["summary"]))
for dest, shards in summaries:
    print("fetch-results: summary only: %s has no raw_results: shard(s) %s were over the ConfigMap limit "
          "of 1 MiB and hold only their summary, so its percentiles come from the shards' histograms "
          "(merged_from says how close); set aside, rbench compare and report cannot use it; "
          "results.pvc.enabled keeps whole documents of runs this large" % (dest, ", ".join(shards)))
if failed:
    print("fetch-results: error: %d of %d document(s) not merged (%s): a missing shard is usually a "
          "failed index of the Job (kubectl -n %s get job %s -o jsonpath={.status.failedIndexes}, then "
          "the logs of that index's pod); the shards fetched are kept in %s"
          % (len(failed), len(groups), ", ".join(failed), ns, job, os.path.join(out, "shards")), file=sys.stderr)
    sys.exit(1)
print("fetch-results: %d merged document(s) in %s, their shards in %s" % (len(groups), out, os.path.join(out, "shards")))
PY
fi
