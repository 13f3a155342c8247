/* rb_stats.c: nearest-rank percentiles, mean, min and max over raw samples. */
#include "rb_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

void rb_sort_u64(uint64_t *values, size_t n) {
  if (n > 1) qsort(values, n, sizeof *values, cmp_u64);
}

uint64_t rb_percentile_sorted(const uint64_t *sorted, size_t n, double p) {
  if (p <= 0.0) return sorted[0];
  if (p >= 100.0) return sorted[n - 1];
  /* The 1e-9 guards against p/100*n landing a hair above an integer (e.g. 0.29*100). */
  double rank = ceil(p / 100.0 * (double)n - 1e-9);
  size_t idx = rank < 1.0 ? 0 : (size_t)rank - 1;
  if (idx >= n) idx = n - 1;
  return sorted[idx];
}

void rb_summary_compute(uint64_t *values, size_t n, struct rb_summary *out) {
  memset(out, 0, sizeof *out);
  if (n == 0) return;
  rb_sort_u64(values, n);
  long double sum = 0;
  for (size_t i = 0; i < n; i++) sum += values[i];
  out->count = n;
  out->min = values[0];
  out->max = values[n - 1];
  out->mean = (double)(sum / (long double)n);
  out->p50 = rb_percentile_sorted(values, n, 50);
  out->p90 = rb_percentile_sorted(values, n, 90);
  out->p99 = rb_percentile_sorted(values, n, 99);
}
