/* job_cmd_compare.c: `rbench compare G1 G2 [G3 ...]`: the groups from files and directories, the
 * two-group table or the N-way one (job_compare_groups.h), --json. */
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
#include "job_compare_groups.h"
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
          "Usage: rbench compare G1 G2 [G3 ...] [--baseline NAME|INDEX]\n"
          "                      [--objective backend_cpu|p50|p99|throughput|max_rate] [--json]\n"
          "                      [--alpha A] [--seed N] [--min-change [METRIC=]PCT]\n"
          "                      [--allow-mixed] [--include-incomplete]\n"
          "\n"
          "Each group is a results file, a directory of results (repetitions), or a\n"
          "comma-separated list. With two groups A B (and neither --baseline nor --objective):\n"
          "prints p50/p90/p99/mean/min/max execution time (pooled, with sample counts; '*'\n"
          "marks a percentile that is only the maximum), success and error rates, achieved rate,\n"
          "throughput, server-side times and the backend's cost (Redis CPU, commands, reads and\n"
          "bytes per operation, agent and backend CPU per operation, commands per batch, action\n"
          "CPU per operation when measured; 'n/a' with the reason when a side lacks them) with\n"
          "the change from A to B; '~' marks a change that is not significant (Mann-Whitney U at\n"
          "--alpha, default 0.05; p99 by a 95%% bootstrap interval). A significant change smaller\n"
          "than what matters for its metric (default 5%%, execution p99 10%%; --min-change PCT\n"
          "for all, METRIC=PCT for one, e.g. throughput=2) is 'detectable but negligible'.\n"
          "--json prints the same as JSON.\n"
          "\n"
          "With three groups or more (or --baseline or --objective): one column per group, each\n"
          "value with its ratio to the baseline (the first group, or --baseline: its index from\n"
          "1, its argument, run name or placement) and its significance ('!' significant, '~'\n"
          "not, '=' detectable but negligible), corrected for the N-1 comparisons of each metric\n"
          "(Holm-Bonferroni; p99 by a Bonferroni-widened interval), and a headline naming the\n"
          "group that did best for --objective (default backend_cpu: backend CPU per operation)\n"
          "and what it cost (docs/runner.md, \"Comparing more than two groups\").\n"
          "\n"
          "A group pools its documents as repetitions only when they were run with the same\n"
          "settings (loop, target, action, ops, operation, batching, placement and its knobs,\n"
          "parallel, value size, key space, rate or concurrency, duration or invocations, shard);\n"
          "otherwise compare refuses, naming the files and the\n"
          "setting (--allow-mixed pools them anyway, with a note). Incomplete documents\n"
          "(interrupted runs, \"complete\": false) are left out with a note naming them\n"
          "(--include-incomplete keeps them, flagged).\n"
          "\n"
          "When the groups are capacity sweeps (a sweep.json, or a directory holding one), prints\n"
          "the latency-vs-load curves of two side by side, the max sustainable rate of each and\n"
          "their ratio B/A; with three or more, each one's max sustainable rate and its ratio to\n"
          "the baseline's (docs/runner.md, \"Comparing sweeps\").\n");
}

/* Loads the groups, then compares them: the two-group table, or the N-way one. */
static int compare_groups(char **args, size_t n, const char *baseline, int objective, bool json,
                          double alpha, long long seed, const struct job_cli_pool_opts *pool,
                          const struct job_min_change *minc) {
  struct job_side *sides = calloc(n, sizeof *sides);
  if (!sides) return JOB_EXIT_FAILURE;
  int rc = JOB_EXIT_OK;
  size_t loaded = 0;
  for (; loaded < n && rc == 0; loaded++) rc = load_side(&sides[loaded], args[loaded], pool);
  bool nway = n > 2 || baseline || objective >= 0;
  size_t base = 0;
  char err[1600];
  if (rc == 0 && baseline && job_groups_baseline(sides, n, baseline, &base, err, sizeof err)) {
    fprintf(stderr, "rbench compare: %s\n", err);
    rc = JOB_EXIT_CONFIG;
  }
  if (rc == 0 && objective == JOB_OBJ_MAX_RATE) {
    fprintf(stderr,
            "rbench compare: --objective max_rate needs capacity sweeps (sweep.json or its "
            "directory); these are results documents\n");
    rc = JOB_EXIT_CONFIG;
  }
  if (rc == 0 && !nway) {
    struct job_comparison c;
    if (job_compare_compute(&sides[0], &sides[1], alpha, (uint64_t)seed, &c) != RB_OK)
      rc = JOB_EXIT_FAILURE;
    if (rc == 0) job_compare_apply_min_change(&c, minc);
    if (rc == 0 && json) {
      cJSON *o = job_compare_json(&sides[0], &sides[1], &c);
      char *t = cJSON_Print(o);
      if (t) printf("%s\n", t);
      cJSON_free(t);
      cJSON_Delete(o);
    } else if (rc == 0) {
      job_compare_print(stdout, &sides[0], &sides[1], &c);
    }
  } else if (rc == 0) {
    struct job_groups g;
    enum rb_err e = job_groups_compute(
        sides, n, base, alpha, (uint64_t)seed, minc,
        objective >= 0 ? (enum job_objective)objective : JOB_OBJ_BACKEND_CPU, &g);
    if (e != RB_OK) rc = JOB_EXIT_FAILURE;
    if (rc == 0 && json) {
      cJSON *o = job_groups_json(&g);
      char *t = cJSON_Print(o);
      if (t) printf("%s\n", t);
      cJSON_free(t);
      cJSON_Delete(o);
    } else if (rc == 0) {
      job_groups_print(stdout, &g);
    }
    job_groups_free(&g);
  }
  for (size_t i = 0; i < loaded; i++) job_side_free(&sides[i]);
  free(sides);
  return rc;
}

int job_cmd_compare(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"alpha", required_argument, NULL, 'a'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"baseline", required_argument, NULL, 'b'},
                                       {"objective", required_argument, NULL, 'O'},
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
  const char *baseline = NULL;
  int objective = -1;
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
    } else if (ch == 'b') {
      if (!*optarg) {
        fprintf(stderr, "rbench compare: --baseline expects a group's index or name\n");
        return JOB_EXIT_CONFIG;
      }
      baseline = optarg;
    } else if (ch == 'O') {
      if ((objective = job_objective_parse(optarg)) < 0) {
        fprintf(stderr,
                "rbench compare: --objective expects backend_cpu, p50, p99, throughput or "
                "max_rate, got '%s'\n",
                optarg);
        return JOB_EXIT_CONFIG;
      }
    } else {
      job_cli_option_error("compare", ch, argv);
      return JOB_EXIT_CONFIG;
    }
  }
  int n = argc - optind;
  if (n < 2 || n > JOB_GROUPS_MAX) {
    fprintf(stderr, "rbench compare: expected two to %d groups (G1 G2 ...), got %d\n\n",
            JOB_GROUPS_MAX, n);
    usage_compare(stderr);
    return JOB_EXIT_CONFIG;
  }
  int rc;
  if (n == 2 && !baseline && objective < 0)
    rc = job_compare_sweep_main(argv[optind], argv[optind + 1], json); /* two sweeps */
  else rc = job_compare_sweeps_main(argv + optind, (size_t)n, baseline, json);
  if (rc >= 0) return rc;
  if (objective == JOB_OBJ_MAX_RATE) {
    fprintf(stderr,
            "rbench compare: --objective max_rate needs capacity sweeps (sweep.json or its "
            "directory); these are results documents\n");
    return JOB_EXIT_CONFIG;
  }
  return compare_groups(argv + optind, (size_t)n, baseline, objective, json, alpha, seed, &pool,
                        &minc);
}
