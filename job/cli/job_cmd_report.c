/* job_cmd_report.c: `rbench report`: documents and sweep summaries into one HTML page or an SVG
 * plot. */
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
#include "job_report.h"
#include "job_output.h"
#include "job_results.h"
#include "job_settings.h"
#include "job_sweep.h"
#include "rb_json.h"

static void usage_report(FILE *out) {
  fprintf(
      out,
      "Usage: rbench report RESULTS... [-o report.html] [--svg PLOT] [--min-change [METRIC=]PCT]\n"
      "                     [--baseline NAME|INDEX] [--objective OBJECTIVE]\n"
      "                     [--allow-mixed] [--include-incomplete]\n"
      "\n"
      "Writes one self-contained HTML file (inline SVG, no scripts): a headline comparing two\n"
      "sides (latency, throughput, Redis and backend CPU per operation, commands per batch,\n"
      "with significance), the settings, the latency-vs-load curve of any\n"
      "sweep summaries (sweep.json), execution-time percentiles on a log 1/(1-p) axis, latency,\n"
      "throughput and errors over time, and the per-repetition table. RESULTS are files,\n"
      "directories (searched recursively for *.json) or comma-separated lists. Prints the\n"
      "headline as one 'headline: ...' line on standard output.\n"
      "\n"
      "Sides: with two or more arguments (or one file), each argument is one side, in order,\n"
      "the first the baseline: the headline compares the second with the first. With one\n"
      "directory, its documents are grouped by what was run (run name and settings) and the\n"
      "headline compares the first direct group with the first batched one. A side pools\n"
      "documents only when they were run with the same settings (else refused, naming the\n"
      "files and the setting; --allow-mixed pools them with a note); incomplete documents are\n"
      "left out with a note (--include-incomplete keeps them, flagged). --min-change as for\n"
      "rbench compare.\n"
      "\n"
      "N groups: with three sides or more (or --baseline or --objective), or a directory whose\n"
      "groups ran three placements or more, every group is compared with the baseline (the\n"
      "first side, a directory's first direct group, or --baseline) as 'rbench compare G1 G2\n"
      "G3 ...' does: one column per group (its colour), each value with its ratio to the\n"
      "baseline and its significance, and the headline naming the best group for --objective\n"
      "(backend_cpu, p50, p99 or throughput; default backend_cpu) and what it cost.\n"
      "--svg percentiles|latency|throughput|errors writes that single plot as SVG instead.\n"
      "-o - writes to standard output.\n");
}

/* The documents of a report: results documents become runs, sweep summaries are kept apart. */
struct report_docs {
  cJSON **docs;
  size_t ndocs;
  struct job_report_run *runs;
  size_t nruns;
  const cJSON **sweeps;
  size_t nsweeps;
  char **inputs; /* every file read, NULL-terminated: the output must be none of them */
  size_t ninputs;
  bool by_side;     /* the user named the sides: one per argument */
  char notes[2048]; /* for the page: documents left out or flagged, groups split */
};

/* Loads one file: a sweep summary is kept apart, anything else is a candidate results
 * document (*cand), read and validated by the caller. */
static int report_load(struct report_docs *d, const char *path, cJSON **cand) {
  char err[600];
  *cand = NULL;
  cJSON *doc = job_cli_load_doc(path, err, sizeof err);
  if (!doc) {
    fprintf(stderr, "rbench report: %s\n", err);
    return JOB_EXIT_FAILURE;
  }
  d->docs[d->ndocs++] = doc;
  job_cli_doc_warnings("report", path, doc);
  if (job_report_is_sweep(doc)) {
    d->sweeps[d->nsweeps++] = doc;
    return JOB_EXIT_OK;
  }
  *cand = doc;
  return JOB_EXIT_OK;
}

/* The files of one argument (files, directories searched recursively, comma-separated);
 * named[k]: the file was named itself, not found in a directory. */
static int side_files(const char *arg, char ***files, bool **named, size_t *nf) {
  char *copy = strdup(arg), *save = NULL;
  int rc = copy ? JOB_EXIT_OK : JOB_EXIT_FAILURE;
  for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && rc == 0;
       tok = strtok_r(NULL, ",", &save)) {
    struct stat st;
    size_t before = *nf;
    bool is_dir = stat(tok, &st) == 0 && S_ISDIR(st.st_mode);
    if (is_dir) job_cli_collect_tree(tok, files, nf, 0);
    else job_cli_push_path(files, nf, strdup(tok));
    if (is_dir && *nf == before) { /* as compare: a directory given must hold results */
      fprintf(stderr, "rbench report: %s: a directory without results files (*.json)\n", tok);
      rc = JOB_EXIT_FAILURE;
    }
    bool *nm = realloc(*named, (*nf + 1) * sizeof *nm);
    if (nm) *named = nm;
    else rc = JOB_EXIT_FAILURE;
    for (size_t k = before; nm && k < *nf; k++) (*named)[k] = !is_dir;
  }
  free(copy);
  return rc;
}

/* One argument: its results documents, read and validated, pooled as job_cli_pool allows,
 * become runs. */
static int report_side(struct report_docs *d, const char *arg, int side,
                       const struct job_cli_pool_opts *o) {
  char **files = NULL, err[600];
  bool *named = NULL;
  size_t nf = 0, nc = 0;
  int rc = side_files(arg, &files, &named, &nf);
  cJSON **docs = realloc(d->docs, (d->ndocs + nf + 1) * sizeof *docs);
  if (docs) d->docs = docs;
  const cJSON **sweeps = realloc(d->sweeps, (d->nsweeps + nf + 1) * sizeof *sweeps);
  if (sweeps) d->sweeps = sweeps;
  struct job_report_run *runs = realloc(d->runs, (d->nruns + nf + 1) * sizeof *runs);
  if (runs) d->runs = runs;
  struct job_report_run *cand = calloc(nf + 1, sizeof *cand);
  const struct job_doc **ptrs = calloc(nf + 1, sizeof *ptrs);
  bool *keep = calloc(nf + 1, sizeof *keep);
  if (!docs || !sweeps || !runs || !cand || !ptrs || !keep) rc = JOB_EXIT_FAILURE;
  for (size_t i = 0; i < nf && rc == 0; i++) {
    cJSON *doc = NULL;
    rc = report_load(d, files[i], &doc);
    if (rc || !doc) continue;
    /* a file found in a directory that is not a results document is skipped with a note; one
     * named on the command line is an error */
    if (job_report_run_init_path(&cand[nc], doc, files[i], err, sizeof err) != RB_OK) {
      fprintf(stderr, "rbench report: %s%s\n", err, named[i] ? "" : " (skipped)");
      rc = named[i] ? JOB_EXIT_FAILURE : JOB_EXIT_OK;
      continue;
    }
    ptrs[nc] = &cand[nc].doc;
    nc++;
  }
  if (rc == 0 && nc)
    rc = job_cli_pool("report", arg, ptrs, nc, true, o, keep, d->notes, sizeof d->notes);
  for (size_t i = 0; i < nc; i++) {
    if (rc == 0 && keep[i]) {
      cand[i].side = side;
      d->runs[d->nruns++] = cand[i];
    } else {
      job_report_run_free(&cand[i]);
    }
  }
  free(cand);
  free(ptrs);
  free(keep);
  free(named);
  /* the files become d->inputs (owned there): the output must be none of them */
  char **in = realloc(d->inputs, (d->ninputs + nf + 1) * sizeof *in);
  if (in) {
    d->inputs = in;
    for (size_t i = 0; i < nf; i++) in[d->ninputs++] = files[i];
    in[d->ninputs] = NULL;
    free(files);
  } else {
    job_cli_free_list(files, nf);
    rc = JOB_EXIT_FAILURE;
  }
  return rc;
}

/* A run kept though incomplete says so in its label, wherever it is listed. */
static void flag_incomplete(struct report_docs *d) {
  char why[200];
  for (size_t i = 0; i < d->nruns; i++) {
    if (!job_settings_incomplete(&d->runs[i].doc, why, sizeof why)) continue;
    size_t n = strlen(d->runs[i].label);
    snprintf(d->runs[i].label + n, sizeof d->runs[i].label - n, " (INCOMPLETE)");
  }
}

static int report_collect(struct report_docs *d, char **args, int nargs,
                          const struct job_cli_pool_opts *pool) {
  struct stat st;
  /* One directory tree: grouped by what was run. Anything else names the sides. */
  d->by_side =
      nargs > 1 || strchr(args[0], ',') || !(stat(args[0], &st) == 0 && S_ISDIR(st.st_mode));
  struct job_cli_pool_opts o = *pool;
  o.by_settings = !d->by_side;
  int rc = JOB_EXIT_OK;
  for (int i = 0; i < nargs && rc == 0; i++) rc = report_side(d, args[i], d->by_side ? i : -1, &o);
  if (rc == 0 && d->nruns == 0 && d->nsweeps == 0) {
    fprintf(stderr, "rbench report: no results documents in");
    for (int i = 0; i < nargs; i++) fprintf(stderr, " %s", args[i]);
    fprintf(stderr, "\n");
    rc = JOB_EXIT_FAILURE;
  }
  if (rc == 0 && d->by_side) job_report_group_by_side(d->runs, d->nruns, (const char *const *)args);
  else if (rc == 0) job_report_group_by_settings(d->runs, d->nruns, d->notes, sizeof d->notes);
  if (rc == 0) flag_incomplete(d);
  return rc;
}

static void report_docs_free(struct report_docs *d) {
  for (size_t i = 0; i < d->nruns; i++) job_report_run_free(&d->runs[i]);
  for (size_t i = 0; i < d->ndocs; i++) cJSON_Delete(d->docs[i]);
  free(d->runs);
  free(d->docs);
  free(d->sweeps);
  for (size_t i = 0; d->inputs && d->inputs[i]; i++) free(d->inputs[i]);
  free(d->inputs);
}

static int write_report(const char *out_path, int plot, const struct report_docs *d,
                        const struct job_report_headline *h) {
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (!m) return JOB_EXIT_FAILURE;
  if (plot >= 0) job_report_svg(m, (enum job_plot)plot, d->runs, d->nruns);
  else job_report_html(m, d->runs, d->nruns, d->sweeps, d->nsweeps, h);
  fclose(m);
  int rc = JOB_EXIT_OK;
  enum rb_err e;
  char err[PATH_MAX * 2 + 200];
  if (!strcmp(out_path, "-")) fwrite(buf, 1, len, stdout);
  else if ((e = job_output_write_file(out_path, buf, len, (const char *const *)d->inputs, err,
                                      sizeof err)) != RB_OK) {
    fprintf(stderr, "rbench report: %s\n", err);
    rc = e == RB_ERR_INVALID ? JOB_EXIT_CONFIG : JOB_EXIT_FAILURE;
  }
  free(buf);
  return rc;
}

int job_cmd_report(int argc, char **argv) {
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                       {"svg", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"baseline", required_argument, NULL, 'b'},
                                       {"objective", required_argument, NULL, 'O'},
                                       JOB_CLI_ANALYSIS_OPTIONS,
                                       {NULL, 0, NULL, 0}};
  struct job_cli_pool_opts pool = {false, false, false};
  struct job_min_change minc;
  job_min_change_init(&minc);
  int orc = JOB_EXIT_OK;
  const char *out = NULL, *baseline = NULL;
  int plot = -1, ch, objective = -1;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
    if (ch == 'h') {
      usage_report(stdout);
      return 0;
    } else if (ch == 'o') {
      out = optarg;
    } else if (ch == 'b') {
      baseline = optarg;
    } else if (ch == 'O') {
      objective = job_objective_parse(optarg);
      if (objective < 0 || objective == JOB_OBJ_MAX_RATE) {
        fprintf(stderr,
                "rbench report: --objective expects backend_cpu, p50, p99 or throughput, got "
                "'%s' (sweeps' max rates are compared in the sweep section)\n",
                optarg);
        return JOB_EXIT_CONFIG;
      }
    } else if (job_cli_analysis_option("report", ch, optarg, &pool, &minc, &orc)) {
      if (orc) return orc;
    } else if (ch == 's') {
      if ((plot = job_plot_parse(optarg)) < 0) {
        fprintf(
            stderr,
            "rbench report: --svg expects percentiles, latency, throughput or errors, got '%s'\n",
            optarg);
        return JOB_EXIT_CONFIG;
      }
    } else {
      job_cli_option_error("report", ch, argv);
      return JOB_EXIT_CONFIG;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "rbench report: expected at least one results file or directory\n\n");
    usage_report(stderr);
    return JOB_EXIT_CONFIG;
  }
  if (!out) out = plot >= 0 ? "report.svg" : "report.html";
  struct report_docs d;
  memset(&d, 0, sizeof d);
  struct job_report_headline h;
  memset(&h, 0, sizeof h);
  int rc = report_collect(&d, argv + optind, argc - optind, &pool);
  for (const char *p = d.notes; rc == 0 && *p;) { /* also where the user ran it */
    const char *nl = strchr(p, '\n');
    int n = nl ? (int)(nl - p) : (int)strlen(p);
    fprintf(stderr, "rbench report: note: %.*s\n", n, p);
    p += n + (nl ? 1 : 0);
  }
  struct job_report_opts ho = {&minc, baseline, objective};
  char herr[1600];
  enum rb_err he =
      rc == 0 ? job_report_headline_compute_opts(d.runs, d.nruns, &ho, &h, herr, sizeof herr)
              : RB_OK;
  if (he != RB_OK) {
    if (he == RB_ERR_INVALID) fprintf(stderr, "rbench report: %s\n", herr);
    rc = he == RB_ERR_INVALID ? JOB_EXIT_CONFIG : JOB_EXIT_FAILURE;
  }
  snprintf(h.notes, sizeof h.notes, "%s", d.notes);
  if (rc == 0) rc = write_report(out, plot, &d, &h);
  if (rc == 0 && strcmp(out, "-")) {
    fprintf(stderr, "rbench report: wrote %s\n", out);
    printf("headline: %s\n", h.sentence);
  }
  job_report_headline_free(&h);
  report_docs_free(&d);
  return rc;
}
