/* job_hist.h: an HDR-style log-linear histogram of non-negative integers (pure).
 *
 * Values below 2048 are counted exactly; above, each power-of-two range is split into 1024
 * equal sub-buckets, so a reported percentile is within 1/1024 (< 0.1 %) of a recorded value
 * (3 significant digits, as HdrHistogram with 3 digits). min, max, count and mean are exact.
 * Memory is fixed (about 370 KB) and recording never allocates. Values of 2^53 and more are
 * counted in the top bucket. Used where raw samples are not kept (schedule lag). */
#ifndef JOB_HIST_H
#define JOB_HIST_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct job_hist;

/* Returns NULL on allocation failure. */
struct job_hist *job_hist_create(void);
void job_hist_destroy(struct job_hist *h); /* NULL-safe */

void job_hist_record(struct job_hist *h, uint64_t value);
uint64_t job_hist_count(const struct job_hist *h);
uint64_t job_hist_min(const struct job_hist *h); /* 0 when empty */
uint64_t job_hist_max(const struct job_hist *h);
double job_hist_mean(const struct job_hist *h);
/* Nearest-rank percentile (p in [0,100]): the highest value equivalent to the bucket holding
 * the sample of rank ceil(p/100 n), never above max. 0 when empty. */
uint64_t job_hist_percentile(const struct job_hist *h, double p);

/* ---- the document's sparse encoding (docs/results.md, "Histograms") ----
 * {"count": n, "min": v, "max": v, "sum": s, "buckets": [i0, c0, d1, c1, ...]}: the non-empty
 * buckets in ascending order, each as (index gap from the previous non-empty bucket, or the
 * index itself for the first; count). Values in the unit the caller recorded (µs). */
#define JOB_HIST_ENCODING "rbench-log-linear-1024"
#define JOB_HIST_MAX_RELATIVE_ERROR (1.0 / 1024.0)

/* The encoding of h (owned by the caller); NULL on allocation failure. */
cJSON *job_hist_to_json(const struct job_hist *h);
/* Decodes and validates (indices in range and ascending, counts adding up, min <= max); NULL
 * with err saying what is wrong. */
struct job_hist *job_hist_from_json(const cJSON *o, char *err, size_t errlen);
/* Adds every value of from to into (as if recorded there). */
void job_hist_merge(struct job_hist *into, const struct job_hist *from);
double job_hist_sum(const struct job_hist *h);

/* Adds the histogram encoded in o to into, as job_hist_merge of job_hist_from_json's result
 * would, without a histogram of its own (no allocation: for one small histogram per
 * invocation). Validated as job_hist_from_json does; on error into is unchanged and err says
 * what is wrong. */
bool job_hist_merge_json(struct job_hist *into, const cJSON *o, char *err, size_t errlen);

/* Bucket index of v and the range [lo, hi] of values that share it (exposed for tests): the
 * arithmetic is common/rb_hist.h's, shared with the action's per-operation histograms. */
uint32_t job_hist_index(uint64_t v);
void job_hist_bucket_range(uint32_t index, uint64_t *lo, uint64_t *hi);

#endif
