/* job_cmd_merge.c: `rbench merge`: the shards of a scale-out run into one exact document. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_cli.h"
#include "job_cmd.h"
#include "job_merge.h"
#include "job_output.h"
#include "job_results.h"
#include "rb_json.h"

static void usage_merge(FILE *out) {
  fprintf(out,
          "Usage: rbench merge INPUTS... -o OUT\n"
          "\n"
          "Combines the shards of a scale-out run (rbench run --shard I/N) into one results\n"
          "document, as one runner sending the whole schedule would have written it: counts\n"
          "summed, percentiles over the union of the raw samples (from the merged histograms when\n"
          "a shard is summary only), rates over the union of sends, Redis and agent figures once\n"
          "per server. INPUTS are results files or directories (searched recursively). With\n"
          "shards of several runs or repetitions OUT is a directory: OUT/RUN.json, or\n"
          "OUT/RUN/rK.json with repetitions, as rbench run writes them.\n");
}

/* One group of shards (one run and repetition). */
struct merge_group {
  char key[600];
  const cJSON **docs;
  const char **paths;
  size_t n;
};

static bool group_add(struct merge_group **groups, size_t *ng, const cJSON *doc, const char *path) {
  char key[600];
  job_merge_group_key(doc, key, sizeof key);
  size_t g = 0;
  while (g < *ng && strcmp((*groups)[g].key, key)) g++;
  if (g == *ng) {
    struct merge_group *gs = realloc(*groups, (*ng + 1) * sizeof *gs);
    if (!gs) return false;
    *groups = gs;
    memset(&gs[g], 0, sizeof gs[g]);
    snprintf(gs[g].key, sizeof gs[g].key, "%s", key);
    (*ng)++;
  }
  struct merge_group *x = &(*groups)[g];
  const cJSON **d = realloc(x->docs, (x->n + 1) * sizeof *d);
  if (d) x->docs = d;
  const char **p = realloc(x->paths, (x->n + 1) * sizeof *p);
  if (p) x->paths = p;
  if (!d || !p) return false;
  x->docs[x->n] = doc;
  x->paths[x->n++] = path;
  return true;
}

/* The merged document's path: OUT itself for one group written to a file, else the runner's
 * layout below OUT (directories are created when it is claimed). */
static bool merge_out_path(const char *out, bool dir, const cJSON *doc, char *path, size_t len) {
  if (!dir) {
    snprintf(path, len, "%s", out);
    return true;
  }
  char base[PATH_MAX];
  snprintf(base, sizeof base, "%s", out);
  size_t n = strlen(base);
  while (n > 1 && base[n - 1] == '/') base[--n] = '\0';
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "scenario");
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(sc, "run");
  const cJSON *rep = cJSON_GetObjectItemCaseSensitive(sc, "repetition");
  const cJSON *reps = cJSON_GetObjectItemCaseSensitive(sc, "repetitions");
  const char *name = cJSON_IsString(run) && run->valuestring[0] && !strchr(run->valuestring, '/')
                         ? run->valuestring
                         : "run";
  if (!cJSON_IsNumber(reps) || reps->valuedouble <= 1) {
    snprintf(path, len, "%s/%s.json", base, name);
    return true;
  }
  char sub[PATH_MAX + 100];
  snprintf(sub, sizeof sub, "%s/%s", base, name);
  snprintf(path, len, "%s/r%.0f.json", sub, cJSON_IsNumber(rep) ? rep->valuedouble : 1);
  return true;
}

/* Loads the inputs: a file named must be a shard; in a directory, JSON files that are not
 * results documents (sweep summaries, merged documents) are skipped with a note. */
static int merge_load(char **args, int nargs, char ***files, size_t *nf, cJSON ***docs,
                      const char ***dpaths, size_t *nd) {
  for (int i = 0; i < nargs; i++) {
    struct stat st;
    size_t before = *nf;
    if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      job_cli_collect_tree(args[i], files, nf, 0);
      if (*nf == before) {
        fprintf(stderr, "rbench merge: %s: a directory without results files (*.json)\n", args[i]);
        return JOB_EXIT_FAILURE;
      }
    } else if (!job_cli_push_path(files, nf, strdup(args[i]))) {
      return JOB_EXIT_FAILURE;
    }
    for (size_t k = before; k < *nf; k++) {
      char err[600];
      bool named = !(stat(args[i], &st) == 0 && S_ISDIR(st.st_mode));
      cJSON *doc = job_cli_load_doc((*files)[k], err, sizeof err);
      if (!doc) {
        fprintf(stderr, "rbench merge: %s\n", err);
        return JOB_EXIT_FAILURE;
      }
      /* a file that is no results document (a sweep summary, a compare output) or an
       * already merged one is skipped in a directory; a results document that fails
       * validation is refused with the field named */
      struct job_doc jd;
      char verr[600];
      bool valid = job_doc_read(doc, NULL, &jd, verr, sizeof verr) == RB_OK;
      const char *why = valid ? job_merge_doc_not_a_shard(&jd) : verr;
      bool skip = why && !named &&
                  (!cJSON_GetObjectItemCaseSensitive(doc, JOB_K_SCHEMA_VERSION) ||
                   (valid && (!jd.has_invocations || jd.merged)));
      if (valid) job_doc_free(&jd);
      if (why && !skip) {
        fprintf(stderr, "rbench merge: %s: %s%s\n", (*files)[k], why,
                valid ? ": only the shards of a run (rbench run --shard I/N) can be merged" : "");
        cJSON_Delete(doc);
        return JOB_EXIT_FAILURE;
      }
      if (skip) {
        fprintf(stderr, "rbench merge: %s: %s (skipped)\n", (*files)[k], why);
        cJSON_Delete(doc);
        continue;
      }
      cJSON **d = realloc(*docs, (*nd + 1) * sizeof *d);
      if (d) *docs = d;
      const char **dp = d ? realloc(*dpaths, (*nd + 1) * sizeof *dp) : NULL;
      if (dp) *dpaths = dp;
      if (!d || !dp) {
        cJSON_Delete(doc);
        return JOB_EXIT_FAILURE;
      }
      (*dpaths)[*nd] = (*files)[k];
      (*docs)[(*nd)++] = doc;
    }
  }
  if (*nd == 0) {
    fprintf(stderr, "rbench merge: no shards among the inputs\n");
    return JOB_EXIT_FAILURE;
  }
  return JOB_EXIT_OK;
}

/* Claims every output first (none may be an input, a directory, a device, or being written
 * by another rbench), so that a refusal leaves no output; then writes them. */
static int merge_write(cJSON **merged, const struct merge_group *groups,
                       char (*opaths)[PATH_MAX + 200], size_t ng, char **files, size_t nf) {
  char err[PATH_MAX * 2 + 200];
  const char **inputs = calloc(nf + 1, sizeof *inputs);
  struct job_output *o = calloc(ng ? ng : 1, sizeof *o);
  int rc = inputs && o ? JOB_EXIT_OK : JOB_EXIT_FAILURE;
  for (size_t i = 0; inputs && i < nf; i++) inputs[i] = files[i];
  size_t claimed = 0;
  for (; claimed < ng && rc == 0; claimed++) {
    enum rb_err e = job_output_claim(&o[claimed], opaths[claimed], inputs, err, sizeof err);
    if (e == RB_OK) continue;
    fprintf(stderr, "rbench merge: %s\n", err);
    rc = e == RB_ERR_INVALID ? JOB_EXIT_CONFIG : JOB_EXIT_FAILURE;
    break;
  }
  for (size_t g = 0; g < ng && rc == 0; g++) {
    char *text = cJSON_Print(merged[g]);
    if (!text || job_output_put(&o[g], text, strlen(text), err, sizeof err) != RB_OK) {
      fprintf(stderr, "rbench merge: %s\n", text ? err : "out of memory");
      rc = JOB_EXIT_FAILURE;
    } else {
      fprintf(stderr, "rbench merge: wrote %s (%zu shards)\n", opaths[g], groups[g].n);
    }
    cJSON_free(text);
  }
  for (size_t g = 0; g < claimed && o; g++) job_output_release(&o[g]);
  free(o);
  free(inputs);
  return rc;
}

int job_cmd_merge(int argc, char **argv) {
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = NULL;
  int ch;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
    if (ch == 'h') {
      usage_merge(stdout);
      return 0;
    } else if (ch == 'o') {
      out = optarg;
    } else {
      job_cli_option_error("merge", ch, argv);
      return JOB_EXIT_CONFIG;
    }
  }
  if (optind >= argc || !out) {
    fprintf(stderr, "rbench merge: %s\n\n",
            !out ? "-o OUT is required" : "expected at least one results file or directory");
    usage_merge(stderr);
    return JOB_EXIT_CONFIG;
  }
  char **files = NULL;
  const char **dpaths = NULL;
  cJSON **docs = NULL, **merged = NULL;
  size_t nf = 0, nd = 0, ng = 0;
  struct merge_group *groups = NULL;
  int rc = merge_load(argv + optind, argc - optind, &files, &nf, &docs, &dpaths, &nd);
  for (size_t i = 0; i < nd && rc == 0; i++)
    if (!group_add(&groups, &ng, docs[i], dpaths[i])) rc = JOB_EXIT_FAILURE;
  size_t n = strlen(out);
  struct stat st;
  bool dir = ng > 1 || (n && out[n - 1] == '/') || (stat(out, &st) == 0 && S_ISDIR(st.st_mode));
  if (rc == 0 && ng > 1 &&
      ((n > 5 && !strcmp(out + n - 5, ".json")) || (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)))) {
    fprintf(
        stderr,
        "rbench merge: the inputs hold %zu runs or repetitions (e.g. %s and %s): -o %s must be a "
        "directory\n",
        ng, groups[0].paths[0], groups[1].paths[0], out);
    rc = JOB_EXIT_CONFIG;
  }
  /* Every group is merged before anything is written: a refusal leaves no output. */
  merged = rc == 0 ? calloc(ng, sizeof *merged) : NULL;
  if (rc == 0 && !merged) rc = JOB_EXIT_FAILURE;
  for (size_t g = 0; g < ng && rc == 0; g++) {
    char err[1200];
    merged[g] = job_merge_shards(groups[g].docs, groups[g].paths, groups[g].n, err, sizeof err);
    if (!merged[g]) {
      fprintf(stderr, "rbench merge: %s\n", err);
      rc = JOB_EXIT_FAILURE;
    }
  }
  char(*opaths)[PATH_MAX + 200] = rc == 0 ? calloc(ng, sizeof *opaths) : NULL;
  if (rc == 0 && !opaths) rc = JOB_EXIT_FAILURE;
  for (size_t g = 0; g < ng && rc == 0; g++) {
    merge_out_path(out, dir, merged[g], opaths[g], sizeof opaths[g]);
    for (size_t h = 0; h < g && rc == 0; h++) {
      if (strcmp(opaths[h], opaths[g])) continue;
      fprintf(stderr,
              "rbench merge: %s and %s (runs of different scenarios with one name) would both be "
              "written to %s: merge them separately\n",
              groups[h].paths[0], groups[g].paths[0], opaths[g]);
      rc = JOB_EXIT_CONFIG;
    }
  }
  rc = rc == 0 ? merge_write(merged, groups, opaths, ng, files, nf) : rc;
  free(opaths);
  for (size_t g = 0; g < ng; g++) {
    cJSON_Delete(merged ? merged[g] : NULL);
    free(groups[g].docs);
    free(groups[g].paths);
  }
  free(merged);
  free(groups);
  for (size_t i = 0; i < nd; i++) cJSON_Delete(docs[i]);
  free(docs);
  free(dpaths);
  job_cli_free_list(files, nf);
  return rc;
}
