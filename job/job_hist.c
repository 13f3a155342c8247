/* job_hist.c: log-linear bucket arithmetic (see job_hist.h). */
#include "job_hist.h"

#include <math.h>
#include <stdlib.h>

#define SUB_BITS 10u                       /* 1024 sub-buckets per power of two */
#define LINEAR (2u << SUB_BITS)            /* 2048 values counted exactly */
#define MAX_SHIFT 43u                      /* top range: [2^52, 2^53) */
#define BUCKETS (LINEAR + MAX_SHIFT * (1u << SUB_BITS))

struct job_hist {
  uint64_t count, min, max;
  long double sum;
  uint64_t counts[BUCKETS];
};

struct job_hist *job_hist_create(void) { return calloc(1, sizeof(struct job_hist)); }
void job_hist_destroy(struct job_hist *h) { free(h); }

static unsigned msb(uint64_t v) { return 63u - (unsigned)__builtin_clzll(v); }

uint32_t job_hist_index(uint64_t v) {
  if (v < LINEAR) return (uint32_t)v;
  unsigned shift = msb(v) - SUB_BITS; /* >= 1 */
  if (shift > MAX_SHIFT) return BUCKETS - 1;
  uint64_t sub = v >> shift; /* in [1024, 2047] */
  return LINEAR + (shift - 1) * (1u << SUB_BITS) + (uint32_t)(sub - (1u << SUB_BITS));
}

void job_hist_bucket_range(uint32_t index, uint64_t *lo, uint64_t *hi) {
  if (index < LINEAR) {
    *lo = *hi = index;
    return;
  }
  uint32_t rel = index - LINEAR;
  unsigned shift = rel / (1u << SUB_BITS) + 1;
  uint64_t sub = (rel % (1u << SUB_BITS)) + (1u << SUB_BITS);
  *lo = sub << shift;
  *hi = ((sub + 1) << shift) - 1;
}

void job_hist_record(struct job_hist *h, uint64_t value) {
  if (h->count == 0 || value < h->min) h->min = value;
  if (value > h->max) h->max = value;
  h->count++;
  h->sum += value;
  h->counts[job_hist_index(value)]++;
}

uint64_t job_hist_count(const struct job_hist *h) { return h->count; }
uint64_t job_hist_min(const struct job_hist *h) { return h->count ? h->min : 0; }
uint64_t job_hist_max(const struct job_hist *h) { return h->max; }
double job_hist_mean(const struct job_hist *h) {
  return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}

uint64_t job_hist_percentile(const struct job_hist *h, double p) {
  if (h->count == 0) return 0;
  if (p <= 0.0) return h->min;
  double r = ceil(p / 100.0 * (double)h->count - 1e-9);
  uint64_t rank = r < 1.0 ? 1 : (uint64_t)r;
  if (rank > h->count) rank = h->count;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t lo, hi;
      job_hist_bucket_range(i, &lo, &hi);
      if (hi > h->max) hi = h->max;
      if (hi < h->min) hi = h->min;
      return hi;
    }
  }
  return h->max;
}
