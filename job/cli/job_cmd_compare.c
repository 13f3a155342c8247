/* job_cmd_compare.c: `rbench compare A B`: the sides from files and directories, the table, --json.
 */
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
#include "job_compare.h"
#include "job_results.h"
#include "job_compare_sweep.h"
#include "job_sweep.h"
#include "rb_json.h"
#include "rb_str.h"

/* Initialises *s first, whatever happens, so the caller can always job_side_free it. The
 * side's documents are read and validated (job_doc_read) and pooled only when job_cli_pool
 * allows it. */
static int load_side(struct job_side *s, const char *arg, const struct job_cli_pool_opts *o) {
  char **files = NULL, err[600];
  size_t n = 0;
  job_side_init(s, arg);
  if (!job_cli_expand_arg("compare", arg, &files, &n)) {
    job_cli_free_list(files, n);
    return JOB_EXIT_FAILURE;
  }
  qsort(files, n, sizeof *files, job_cli_cmp_str);
  cJSON **json = calloc(n + 1, sizeof *json);
  struct job_doc *docs = calloc(n + 1, sizeof *docs);
  const struct job_doc **ptrs = calloc(n + 1, sizeof *ptrs);
  bool *keep = calloc(n + 1, sizeof *keep);
  int rc = json && docs && ptrs && keep ? JOB_EXIT_OK : JOB_EXIT_FAILURE;
  size_t read = 0;
  for (size_t i = 0; i < n && rc == JOB_EXIT_OK; i++, read++) {
    json[i] = job_cli_load_doc(files[i], err, sizeof err);
    if (json[i]) job_cli_doc_warnings("compare", files[i], json[i]);
    if (!json[i] || job_doc_read(json[i], files[i], &docs[i], err, sizeof err) != RB_OK) {
      fprintf(stderr, "rbench compare: %s\n", err);
      rc = JOB_EXIT_FAILURE;
      break;
    }
    ptrs[i] = &docs[i];
  }
  if (rc == JOB_EXIT_OK)
    rc = job_cli_pool("compare", arg, ptrs, n, false, o, keep, s->notes, sizeof s->notes);
  for (size_t i = 0; i < n && rc == JOB_EXIT_OK; i++) {
    if (keep[i] && job_side_add_doc(s, &docs[i], err, sizeof err) != RB_OK) {
      fprintf(stderr, "rbench compare: %s: %s\n", files[i], err);
      rc = JOB_EXIT_FAILURE;
    }
  }
  for (size_t i = 0; docs && i < read; i++) job_doc_free(&docs[i]);
  for (size_t i = 0; json && i < n; i++) cJSON_Delete(json[i]);
  free(json);
  free(docs);
  free(ptrs);
  free(keep);
  job_cli_free_list(files, n);
  return rc;
}

static void usage_compare(FILE *out) {
  fprintf(out,
          "Usage: rbench compare A B [--json] [--alpha A] [--seed N] [--min-change [METRIC=]PCT]\n"
          "                          [--allow-mixed] [--include-incomplete]\n"
          "\n"
          "A and B are results files, directories of results (repetitions), or comma-separated\n"
          "lists. Prints p50/p90/p99/mean/min/max execution time (pooled, with sample counts; '*'\n"
          "marks a percentile that is only the maximum), success and error rates, achieved rate,\n"
          "throughput, server-side times and the backend's cost (Redis CPU, commands, reads and\n"
          "bytes per operation, agent and backend CPU per operation, commands per batch; 'n/a'\n"
          "with the reason when a side lacks them) with the change from A to B; '~' marks a\n"
          "change that is not significant (Mann-Whitney U at --alpha, default 0.05; p99 by a 95%%\n"
          "bootstrap interval). A significant change smaller than what matters for its metric\n"
          "(default 5%%, execution p99 10%%; --min-change PCT for all, METRIC=PCT for one, e.g.\n"
          "throughput=2) is 'detectable but negligible'. --json prints the same as JSON.\n"
          "\n"
          "A side pools its documents as repetitions only when they were run with the same\n"
          "settings (loop, target, action, ops, operation, batching, parallel, value size, key\n"
          "space, rate or concurrency, duration or invocations, shard); otherwise compare\n"
          "refuses, naming the files and the\n"
          "setting (--allow-mixed pools them anyway, with a note). Incomplete documents\n"
          "(interrupted runs, \"complete\": false) are left out with a note naming them\n"
          "(--include-incomplete keeps them, flagged).\n"
          "\n"
          "When A and B are capacity sweeps (a sweep.json, or a directory holding one), prints\n"
          "the two latency-vs-load curves side by side, the max sustainable rate of each and\n"
          "their ratio B/A (docs/runner.md, \"Comparing sweeps\").\n");
}

int job_cmd_compare(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"alpha", required_argument, NULL, 'a'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       JOB_CLI_ANALYSIS_OPTIONS,
                                       {NULL, 0, NULL, 0}};
  struct job_cli_pool_opts pool = {false, false, false};
  struct job_min_change minc;
  job_min_change_init(&minc);
  int orc = JOB_EXIT_OK;
  bool json = false;
  double alpha = 0.05;
  long long seed = 1;
  int ch;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    char *end = NULL;
    if (ch == 'h') {
      usage_compare(stdout);
      return 0;
    } else if (ch == 'j') {
      json = true;
    } else if (job_cli_analysis_option("compare", ch, optarg, &pool, &minc, &orc)) {
      if (orc) return orc;
    } else if (ch == 'a') {
      alpha = strtod(optarg, &end);
      if (!*optarg || *end || !(alpha > 0 && alpha < 1)) {
        fprintf(stderr, "rbench compare: --alpha expects a number above 0 and below 1, got '%s'\n",
                optarg);
        return JOB_EXIT_CONFIG;
      }
    } else if (ch == 's') {
      if (!rb_parse_ll(optarg, 0, (long long)1e18, &seed)) {
        fprintf(stderr, "rbench compare: --seed expects a non-negative integer, got '%s'\n",
                optarg);
        return JOB_EXIT_CONFIG;
      }
    } else {
      job_cli_option_error("compare", ch, argv);
      return JOB_EXIT_CONFIG;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "rbench compare: expected two results (A B), got %d\n\n", argc - optind);
    usage_compare(stderr);
    return JOB_EXIT_CONFIG;
  }
  int rc = job_compare_sweep_main(argv[optind], argv[optind + 1], json); /* two sweeps */
  if (rc >= 0) return rc;
  struct job_side a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  rc = load_side(&a, argv[optind], &pool);
  if (rc == 0) rc = load_side(&b, argv[optind + 1], &pool);
  struct job_comparison c;
  if (rc == 0 && job_compare_compute(&a, &b, alpha, (uint64_t)seed, &c) != RB_OK)
    rc = JOB_EXIT_FAILURE;
  if (rc == 0) job_compare_apply_min_change(&c, &minc);
  if (rc == 0 && json) {
    cJSON *o = job_compare_json(&a, &b, &c);
    char *t = cJSON_Print(o);
    if (t) printf("%s\n", t);
    cJSON_free(t);
    cJSON_Delete(o);
  } else if (rc == 0) {
    job_compare_print(stdout, &a, &b, &c);
  }
  job_side_free(&a);
  job_side_free(&b);
  return rc;
}
