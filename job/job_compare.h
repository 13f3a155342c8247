/* job_compare.h: `rbench compare A B` (the seed's compare_results.py): a table of latency
 * percentiles, success and error rates, achieved rate and server-side times, with the change
 * from A to B and whether it is significant.
 *
 * Each side is one or more results documents (repetitions). With one document per side the
 * test is Mann-Whitney U on the invocations' execution times; with several it is Mann-Whitney
 * U on the per-repetition medians (repetitions, not invocations, are the independent units).
 * Confidence intervals for the median and p99 differences come from a seeded bootstrap over
 * the pooled invocations. "~" marks a difference that is not significant at alpha. */
#ifndef JOB_COMPARE_H
#define JOB_COMPARE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "job_stats.h"
#include "rb_error.h"

struct job_side {
  char label[128];
  size_t docs;
  double *exec;        /* pooled execution times (ms) of measured, successful invocations */
  size_t n, cap;
  double *medians;     /* per-document median execution time */
  double measured, succeeded, cold_starts;
  double achieved_rate_sum, requested_rate_sum, throughput_sum;
  double srv_duration_sum, srv_wait_sum, srv_init_sum; /* per-document p50s, summed */
  size_t srv_duration_n, srv_wait_n, srv_init_n;
};

void job_side_init(struct job_side *s, const char *label);
void job_side_free(struct job_side *s);
/* Adds a results document (borrowed). RB_ERR_INVALID when it is not an rbench document. */
enum rb_err job_side_add(struct job_side *s, const cJSON *doc, char *err, size_t errlen);

#define JOB_CMP_ROWS 14

struct job_cmp_row {
  const char *metric;
  double a, b;        /* NAN when unknown */
  double change;      /* (b - a) / a, NAN when undefined */
  int test;           /* 0 none, 1 Mann-Whitney, 2 p99 interval */
  bool significant;
};

struct job_comparison {
  struct job_cmp_row rows[JOB_CMP_ROWS];
  size_t nrows;
  struct job_mwu mwu;
  bool mwu_on_medians;
  bool have_test;
  struct job_ci median_diff, p99_diff;
  bool have_ci;
  double alpha;
};

/* Computes the comparison (pure). */
enum rb_err job_compare_compute(const struct job_side *a, const struct job_side *b, double alpha,
                                uint64_t seed, struct job_comparison *out);
/* The human table. */
void job_compare_print(FILE *f, const struct job_side *a, const struct job_side *b,
                       const struct job_comparison *c);
/* The --json form (owned by the caller). */
cJSON *job_compare_json(const struct job_side *a, const struct job_side *b,
                        const struct job_comparison *c);

#endif
