/* job_compare_groups.h: `rbench compare G1 G2 [G3 ...] [--baseline NAME|INDEX]` (issue 21 item
 * 5): N groups against one baseline. Each group is a job_side (one or more documents pooled as
 * repetitions); every other group is compared with the baseline by job_compare_compute, the
 * pairwise machinery of the two-group form. With more than one comparison the family of
 * comparisons of one metric is corrected for multiple testing: Holm-Bonferroni on the
 * Mann-Whitney p-values of the tested rows (latency p50/mean, throughput, the backend rows),
 * and a Bonferroni-widened bootstrap interval (level 1 - 0.05/m) for the p99 rows; a row is
 * significant when its adjusted p is below alpha (its interval excludes 0). The headline names
 * the group that did best for an objective (backend CPU per operation by default) and what it
 * cost, claiming only significant, not negligible differences.
 *
 * The computation is pure; the sides are borrowed. job_compare_sweeps_main reads files. */
#ifndef JOB_COMPARE_GROUPS_H
#define JOB_COMPARE_GROUPS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "job_compare.h"

#define JOB_GROUPS_MAX 32 /* groups one comparison takes */

/* What the headline optimises (--objective). */
enum job_objective {
  JOB_OBJ_BACKEND_CPU, /* backend_cpu_us_per_op, lower is better (the default) */
  JOB_OBJ_P50,         /* execution_p50_ms, lower */
  JOB_OBJ_P99,         /* execution_p99_ms, lower */
  JOB_OBJ_THROUGHPUT,  /* throughput, higher */
  JOB_OBJ_MAX_RATE     /* sweeps: max sustainable rate, higher */
};

/* "backend_cpu", "p50", "p99", "throughput", "max_rate" -> the objective; -1 otherwise. */
int job_objective_parse(const char *name);
const char *job_objective_name(enum job_objective o);

struct job_groups {
  size_t n, baseline;           /* groups, and which one is the baseline */
  const struct job_side *sides; /* borrowed, n of them */
  struct job_comparison *pairs; /* n: pairs[i] is the baseline (a) against group i (b);
                                   pairs[baseline] is empty (nrows 0) */
  char (*names)[160];           /* n: the group for people: its placement when that tells it
                                   apart from the others, else its label */
  double alpha;
  size_t comparisons; /* n - 1: the size of each metric's family */
  double ci_level;    /* the p99 intervals' level: 0.95, or 1 - 0.05/comparisons (Bonferroni) */
  enum job_objective objective;
};

/* The Holm-Bonferroni step-down adjustment of m p-values: adjusted[i] is the smallest family-
 * wise alpha at which p[i] is rejected (monotone, at most 1). NAN p-values are left out of the
 * family and stay NAN (pure). */
void job_holm(const double *p, size_t m, double *adjusted);

/* --baseline SPEC: an index from 1 to n, else a group's label (the argument), run name or
 * placement description, which must name exactly one group. RB_ERR_INVALID naming the groups
 * otherwise (pure). */
enum rb_err job_groups_baseline(const struct job_side *sides, size_t n, const char *spec,
                                size_t *out, char *err, size_t errlen);

/* Compares every group with the baseline (pure). min_change NULL: the defaults. Free with
 * job_groups_free, also after an error. */
enum rb_err job_groups_compute(const struct job_side *sides, size_t n, size_t baseline,
                               double alpha, uint64_t seed, const struct job_min_change *min_change,
                               enum job_objective objective, struct job_groups *g);
void job_groups_free(struct job_groups *g);

/* Group i's row with this key (from its comparison with the baseline), or NULL (also for the
 * baseline itself). */
const struct job_cmp_row *job_groups_row(const struct job_groups *g, size_t i, const char *key);

/* Why group i has no row with this key though other comparisons have one (a figure only some
 * groups' documents carry: the action processes' CPU), or NULL. */
const char *job_groups_absent_why(const struct job_groups *g, size_t i, const char *key);

/* The sentence: "runtime batching (C=8) cut backend CPU/op 3.1x (p=0.016) at +0.1 ms p50; the
 * agent 1.3x (p=0.032) at +0.4 ms p50 (against direct; Holm-corrected over 5 comparisons)", or
 * that no group did significantly better, with what was not significant (pure). */
void job_groups_headline(const struct job_groups *g, char *buf, size_t len);

/* The table (one column per group, each value with its ratio to the baseline and a mark) and
 * the --json form (owned by the caller). */
void job_groups_print(FILE *f, const struct job_groups *g);
cJSON *job_groups_json(const struct job_groups *g);

/* Sweeps: N sweep summaries (sweep.json or a directory holding one), the max sustainable rate
 * of each and its ratio to the baseline's. Returns a job_exit code, or -1 when none of paths is
 * a sweep (an error when only some are). baseline: --baseline's SPEC or NULL (the first). */
int job_compare_sweeps_main(char *const *paths, size_t n, const char *baseline, bool json);

#endif
