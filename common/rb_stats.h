/* rb_stats.h: exact summary statistics over raw samples.
 *
 * Percentiles use the nearest-rank definition: the p-th percentile of n sorted samples is
 * the sample at 1-based rank ceil(p/100 * n) (rank 1 for p = 0). Every reported percentile
 * is therefore a value that was actually observed. */
#ifndef RB_STATS_H
#define RB_STATS_H

#include <stddef.h>
#include <stdint.h>

struct rb_summary {
  size_t count;
  uint64_t min;
  uint64_t max;
  double mean;
  uint64_t p50;
  uint64_t p90;
  uint64_t p99;
};

/* Sorts values in place (ascending) and fills out. n == 0 gives an all-zero summary. */
void rb_summary_compute(uint64_t *values, size_t n, struct rb_summary *out);

/* Nearest-rank percentile of an ascending array; p in [0, 100]. n must be > 0. */
uint64_t rb_percentile_sorted(const uint64_t *sorted, size_t n, double p);

/* Sorts ascending (radix-free, qsort based). */
void rb_sort_u64(uint64_t *values, size_t n);

#endif
