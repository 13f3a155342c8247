/* rb_hist.h: the bucket arithmetic of rbench's log-linear histograms (pure), shared by the
 * runner's histograms (job/results/job_hist.h) and the action's per-operation latencies, so
 * both write the same sparse encoding (docs/results.md, "Histograms").
 *
 * Values below 2048 have a bucket each; above, each power-of-two range [2^m, 2^(m+1)) is split
 * into 1024 equal sub-buckets (a bucket's width is at most 1/1024 of its lower bound). Values
 * of 2^53 and more share the top bucket. */
#ifndef RB_HIST_H
#define RB_HIST_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define RB_HIST_SUB_BITS 10u                    /* 1024 sub-buckets per power of two */
#define RB_HIST_LINEAR (2u << RB_HIST_SUB_BITS) /* 2048 values counted exactly */
#define RB_HIST_MAX_SHIFT 43u                   /* top range: [2^52, 2^53) */
#define RB_HIST_BUCKETS (RB_HIST_LINEAR + RB_HIST_MAX_SHIFT * (1u << RB_HIST_SUB_BITS))
#define RB_HIST_ENCODING "rbench-log-linear-1024"

/* Bucket index of v, in [0, RB_HIST_BUCKETS). */
uint32_t rb_hist_index(uint64_t v);
/* The range [lo, hi] of values that share bucket index. */
void rb_hist_bucket_range(uint32_t index, uint64_t *lo, uint64_t *hi);

/* The sparse encoding of n values (sorted ascending, in the caller's unit):
 * {"count": n, "min": v, "max": v, "sum": s, "buckets": [i0, c0, d1, c1, ...]}, the non-empty
 * buckets in ascending order, each as (index gap from the previous non-empty bucket, or the
 * index itself for the first; count). NULL on allocation failure. */
cJSON *rb_hist_encode_sorted(const uint64_t *v, size_t n);

#endif
