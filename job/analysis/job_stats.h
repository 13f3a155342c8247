/* job_stats.h: statistics for comparing two runs (pure).
 *
 * Mann-Whitney U (Wilcoxon rank-sum) asks whether one sample tends to be larger than the
 * other without assuming a distribution, which suits skewed latencies. Small samples without
 * ties get the exact distribution of U; otherwise the normal approximation with tie and
 * continuity corrections. Confidence intervals for a difference of quantiles come from a
 * seeded percentile bootstrap, so the same inputs always give the same interval. */
#ifndef JOB_STATS_H
#define JOB_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rb_error.h"

struct job_mwu {
  size_t n1, n2;
  double u1;  /* U of the first sample: pairs (x, y) with x > y, ties counting 1/2 */
  double u;   /* min(U1, U2), what tables list */
  double z;   /* normal score (0 when exact) */
  double p;   /* two-sided p-value */
  bool exact; /* p from the exact distribution */
  double a12; /* U1 / (n1 n2): probability that x > y (+ half the ties) */
};

/* Largest n1 * n2 for which the exact distribution is used (when there are no ties). */
#define JOB_MWU_EXACT_MAX 400

/* Runs the test on x[0..n1) and y[0..n2) (borrowed, not modified). Both must be non-empty.
 * RB_ERR_NOMEM on allocation failure, RB_ERR_INVALID for an empty sample. */
enum rb_err job_mwu_test(const double *x, size_t n1, const double *y, size_t n2,
                         struct job_mwu *out);

/* Number of arrangements giving each U value for sizes n1, n2 without ties: fills
 * counts[0..n1*n2] (caller allocates n1*n2+1 doubles). Exposed for tests. */
void job_mwu_exact_counts(size_t n1, size_t n2, double *counts);

/* Nearest-rank quantile (p in [0,100]) of an ascending array, n > 0. */
double job_quantile_sorted(const double *sorted, size_t n, double p);
/* Sorts doubles ascending in place. */
void job_sort_doubles(double *v, size_t n);

struct job_ci {
  double estimate; /* quantile(b) - quantile(a) on the full samples */
  double lo, hi;   /* the interval at the requested level */
};

/* Largest sample used by the bootstrap; bigger samples are subsampled at random first. */
#define JOB_BOOTSTRAP_MAX_N 10000

/* Percentile-bootstrap interval for quantile_p(b) - quantile_p(a), resamples draws, level
 * e.g. 0.95, seeded xorshift generator. Inputs are borrowed. */
enum rb_err job_bootstrap_quantile_diff(const double *a, size_t na, const double *b, size_t nb,
                                        double p, unsigned resamples, uint64_t seed, double level,
                                        struct job_ci *out);

#endif
