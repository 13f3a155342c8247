/* job_cmd_report.c: `rbench report`: documents and sweep summaries into one HTML page or an SVG plot. */
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
#include "job_results.h"
#include "job_sweep.h"
#include "rb_json.h"

static void usage_report(FILE *out) {
  fprintf(out,
          "Usage: rbench report RESULTS... [-o report.html] [--svg PLOT]\n"
          "\n"
          "Writes one self-contained HTML file (inline SVG, no scripts): a headline comparing the\n"
          "direct and the batched run (latency, throughput, Redis and backend CPU per operation,\n"
          "commands per batch, with significance), the settings, the latency-vs-load curve of any\n"
          "sweep summaries (sweep.json), execution-time percentiles on a log 1/(1-p) axis, latency,\n"
          "throughput and errors over time, and the per-repetition table. RESULTS are files,\n"
          "directories (searched recursively for *.json) or comma-separated lists. Prints the\n"
          "headline as one 'headline: ...' line on standard output.\n"
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
};

static int report_load(struct report_docs *d, const char *path, bool named) {
  char err[600];
  cJSON *doc = job_cli_load_doc(path, err, sizeof err);
  if (!doc) {
    fprintf(stderr, "rbench report: %s\n", err);
    return JOB_EXIT_FAILURE;
  }
  d->docs[d->ndocs++] = doc;
  if (job_report_is_sweep(doc)) {
    d->sweeps[d->nsweeps++] = doc;
    return JOB_EXIT_OK;
  }
  if (job_report_run_init(&d->runs[d->nruns], doc, err, sizeof err) == RB_OK) {
    d->nruns++;
    return JOB_EXIT_OK;
  }
  fprintf(stderr, "rbench report: %s: %s%s\n", path, err, named ? "" : " (skipped)");
  return named ? JOB_EXIT_FAILURE : JOB_EXIT_OK;
}

static int report_collect(struct report_docs *d, char **args, int nargs) {
  char **files = NULL;
  bool *named = NULL;
  size_t nf = 0;
  for (int i = 0; i < nargs; i++) {
    char *copy = strdup(args[i]), *save = NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
      struct stat st;
      size_t before = nf;
      bool is_dir = stat(tok, &st) == 0 && S_ISDIR(st.st_mode);
      if (is_dir) job_cli_collect_tree(tok, &files, &nf, 0);
      else job_cli_push_path(&files, &nf, strdup(tok));
      if (is_dir && nf == before) { /* as compare: a directory given must hold results */
        fprintf(stderr, "rbench report: %s: a directory without results files (*.json)\n", tok);
        free(copy);
        free(named);
        job_cli_free_list(files, nf);
        return JOB_EXIT_FAILURE;
      }
      bool *nm = realloc(named, (nf + 1) * sizeof *nm);
      if (nm) named = nm;
      for (size_t k = before; nm && k < nf; k++) named[k] = !(stat(tok, &st) == 0 && S_ISDIR(st.st_mode));
    }
    free(copy);
  }
  int rc = JOB_EXIT_OK;
  d->docs = calloc(nf + 1, sizeof *d->docs);
  d->runs = calloc(nf + 1, sizeof *d->runs);
  d->sweeps = calloc(nf + 1, sizeof *d->sweeps);
  if (!d->docs || !d->runs || !d->sweeps || (nf && !named)) rc = JOB_EXIT_FAILURE;
  for (size_t i = 0; i < nf && rc == 0; i++) rc = report_load(d, files[i], named[i]);
  if (rc == 0 && d->nruns == 0 && d->nsweeps == 0) {
    fprintf(stderr, "rbench report: no results documents in");
    for (int i = 0; i < nargs; i++) fprintf(stderr, " %s", args[i]);
    fprintf(stderr, "\n");
    rc = JOB_EXIT_FAILURE;
  }
  free(named);
  job_cli_free_list(files, nf);
  return rc;
}

static void report_docs_free(struct report_docs *d) {
  for (size_t i = 0; i < d->nruns; i++) job_report_run_free(&d->runs[i]);
  for (size_t i = 0; i < d->ndocs; i++) cJSON_Delete(d->docs[i]);
  free(d->runs);
  free(d->docs);
  free(d->sweeps);
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
  char err[400];
  if (!strcmp(out_path, "-")) fwrite(buf, 1, len, stdout);
  else if (job_write_atomic(out_path, buf, len, err, sizeof err) != RB_OK) {
    fprintf(stderr, "rbench report: %s\n", err);
    rc = JOB_EXIT_FAILURE;
  }
  free(buf);
  return rc;
}

int job_cmd_report(int argc, char **argv) {
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'}, {"svg", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *out = NULL;
  int plot = -1, ch;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
    if (ch == 'h') {
      usage_report(stdout);
      return 0;
    } else if (ch == 'o') {
      out = optarg;
    } else if (ch == 's') {
      if ((plot = job_plot_parse(optarg)) < 0) {
        fprintf(stderr, "rbench report: --svg expects percentiles, latency, throughput or errors, got '%s'\n", optarg);
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
  int rc = report_collect(&d, argv + optind, argc - optind);
  if (rc == 0 && job_report_headline_compute(d.runs, d.nruns, &h) != RB_OK) rc = JOB_EXIT_FAILURE;
  if (rc == 0) rc = write_report(out, plot, &d, &h);
  if (rc == 0 && strcmp(out, "-")) {
    fprintf(stderr, "rbench report: wrote %s\n", out);
    printf("headline: %s\n", h.sentence);
  }
  job_report_headline_free(&h);
  report_docs_free(&d);
  return rc;
}
