/* job_hist.c: log-linear bucket arithmetic (see job_hist.h). */
#include "job_hist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rb_hist.h"

#define BUCKETS RB_HIST_BUCKETS

struct job_hist {
  uint64_t count, min, max;
  long double sum;
  uint64_t counts[BUCKETS];
};

struct job_hist *job_hist_create(void) {
  return calloc(1, sizeof(struct job_hist));
}
void job_hist_destroy(struct job_hist *h) { free(h); }

/* The bucket arithmetic is shared with the action's per-operation histograms (rb_hist.h). */
uint32_t job_hist_index(uint64_t v) { return rb_hist_index(v); }

void job_hist_bucket_range(uint32_t index, uint64_t *lo, uint64_t *hi) {
  rb_hist_bucket_range(index, lo, hi);
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

double job_hist_sum(const struct job_hist *h) { return (double)h->sum; }

void job_hist_merge(struct job_hist *into, const struct job_hist *from) {
  if (!from->count) return;
  if (into->count == 0 || from->min < into->min) into->min = from->min;
  if (from->max > into->max) into->max = from->max;
  into->count += from->count;
  into->sum += from->sum;
  for (uint32_t i = 0; i < BUCKETS; i++) into->counts[i] += from->counts[i];
}

cJSON *job_hist_to_json(const struct job_hist *h) {
  cJSON *o = cJSON_CreateObject();
  cJSON *b = o ? cJSON_AddArrayToObject(o, "buckets") : NULL;
  if (!b) {
    cJSON_Delete(o);
    return NULL;
  }
  cJSON_AddNumberToObject(o, "count", (double)h->count);
  cJSON_AddNumberToObject(o, "min", (double)job_hist_min(h));
  cJSON_AddNumberToObject(o, "max", (double)h->max);
  cJSON_AddNumberToObject(o, "sum", (double)h->sum);
  uint32_t prev = 0;
  bool first = true;
  for (uint32_t i = 0; i < BUCKETS; i++) {
    if (!h->counts[i]) continue;
    cJSON_AddItemToArray(b, cJSON_CreateNumber((double)(first ? i : i - prev)));
    cJSON_AddItemToArray(b, cJSON_CreateNumber((double)h->counts[i]));
    prev = i;
    first = false;
  }
  /* cJSON_AddItemToObject puts "buckets" first; move it last, after the scalars. */
  cJSON_DetachItemViaPointer(o, b);
  cJSON_AddItemToObject(o, "buckets", b);
  return o;
}

/* A non-negative integer below 2^53 from a JSON number. */
static bool count_of(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= 0 && d < 9007199254740992.0) || d != floor(d)) return false;
  *out = (uint64_t)d;
  return true;
}

static struct job_hist *hist_fail(struct job_hist *h, char *err, size_t errlen, const char *why) {
  if (err && errlen) snprintf(err, errlen, "histogram: %s", why);
  job_hist_destroy(h);
  return NULL;
}

struct job_hist *job_hist_from_json(const cJSON *o, char *err, size_t errlen) {
  struct job_hist *h = job_hist_create();
  if (!h) return hist_fail(h, err, errlen, "out of memory");
  uint64_t count = 0, min = 0, max = 0;
  const cJSON *sum = cJSON_GetObjectItemCaseSensitive(o, "sum");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "buckets");
  if (!count_of(cJSON_GetObjectItemCaseSensitive(o, "count"), &count) ||
      !count_of(cJSON_GetObjectItemCaseSensitive(o, "min"), &min) ||
      !count_of(cJSON_GetObjectItemCaseSensitive(o, "max"), &max) || !cJSON_IsNumber(sum) ||
      !(sum->valuedouble >= 0) || !cJSON_IsArray(b))
    return hist_fail(h, err, errlen,
                     "needs count, min, max, sum (non-negative integers) and buckets");
  int n = cJSON_GetArraySize(b);
  if (n % 2) return hist_fail(h, err, errlen, "buckets must hold (index, count) pairs");
  uint64_t idx = 0, seen = 0;
  const cJSON *it = b->child;
  for (int i = 0; i < n; i += 2) {
    uint64_t d = 0, c = 0;
    if (!count_of(it, &d) || !count_of(it->next, &c) || c == 0 || (i > 0 && d == 0))
      return hist_fail(h, err, errlen, "a bucket is not an (index gap > 0, count > 0) pair");
    idx = i ? idx + d : d;
    if (idx >= BUCKETS) return hist_fail(h, err, errlen, "a bucket index is out of range");
    if (seen + c < seen) return hist_fail(h, err, errlen, "the counts overflow");
    h->counts[idx] = c;
    seen += c;
    it = it->next->next;
  }
  if (seen != count) return hist_fail(h, err, errlen, "the bucket counts do not add up to count");
  if (count && (min > max || job_hist_index(min) > job_hist_index(max)))
    return hist_fail(h, err, errlen, "min is above max");
  h->count = count;
  h->min = count ? min : 0;
  h->max = count ? max : 0;
  h->sum = (long double)sum->valuedouble;
  return h;
}

bool job_hist_merge_json(struct job_hist *into, const cJSON *o, char *err, size_t errlen) {
  uint64_t count = 0, min = 0, max = 0;
  const cJSON *sum = cJSON_GetObjectItemCaseSensitive(o, "sum");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "buckets");
  if (!count_of(cJSON_GetObjectItemCaseSensitive(o, "count"), &count) ||
      !count_of(cJSON_GetObjectItemCaseSensitive(o, "min"), &min) ||
      !count_of(cJSON_GetObjectItemCaseSensitive(o, "max"), &max) || !cJSON_IsNumber(sum) ||
      !(sum->valuedouble >= 0) || !cJSON_IsArray(b))
    return hist_fail(NULL, err, errlen,
                     "needs count, min, max, sum (non-negative integers) and buckets") != NULL;
  int n = cJSON_GetArraySize(b);
  if (n % 2) return hist_fail(NULL, err, errlen, "buckets must hold (index, count) pairs") != NULL;
  /* first pass: validate; second: add */
  for (int pass = 0; pass < 2; pass++) {
    uint64_t idx = 0, seen = 0;
    const cJSON *it = b->child;
    for (int i = 0; i < n; i += 2) {
      uint64_t d = 0, c = 0;
      if (!count_of(it, &d) || !count_of(it->next, &c) || c == 0 || (i > 0 && d == 0))
        return hist_fail(NULL, err, errlen, "a bucket is not an (index gap > 0, count > 0) pair") !=
               NULL;
      idx = i ? idx + d : d;
      if (idx >= BUCKETS)
        return hist_fail(NULL, err, errlen, "a bucket index is out of range") != NULL;
      if (seen + c < seen) return hist_fail(NULL, err, errlen, "the counts overflow") != NULL;
      if (pass) into->counts[idx] += c;
      seen += c;
      it = it->next->next;
    }
    if (pass) break;
    if (seen != count)
      return hist_fail(NULL, err, errlen, "the bucket counts do not add up to count") != NULL;
    if (count && (min > max || job_hist_index(min) > job_hist_index(max)))
      return hist_fail(NULL, err, errlen, "min is above max") != NULL;
    if (!count) return true;
  }
  if (into->count == 0 || min < into->min) into->min = min;
  if (max > into->max) into->max = max;
  into->count += count;
  into->sum += (long double)sum->valuedouble;
  return true;
}
