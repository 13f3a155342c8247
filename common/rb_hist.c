/* rb_hist.c: log-linear bucket arithmetic and the sparse encoding (rb_hist.h). */
#include "rb_hist.h"

#include <stdbool.h>

static unsigned msb(uint64_t v) { return 63u - (unsigned)__builtin_clzll(v); }

uint32_t rb_hist_index(uint64_t v) {
  if (v < RB_HIST_LINEAR) return (uint32_t)v;
  unsigned shift = msb(v) - RB_HIST_SUB_BITS; /* >= 1 */
  if (shift > RB_HIST_MAX_SHIFT) return RB_HIST_BUCKETS - 1;
  uint64_t sub = v >> shift; /* in [1024, 2047] */
  return RB_HIST_LINEAR + (shift - 1) * (1u << RB_HIST_SUB_BITS) +
         (uint32_t)(sub - (1u << RB_HIST_SUB_BITS));
}

void rb_hist_bucket_range(uint32_t index, uint64_t *lo, uint64_t *hi) {
  if (index < RB_HIST_LINEAR) {
    *lo = *hi = index;
    return;
  }
  uint32_t rel = index - RB_HIST_LINEAR;
  unsigned shift = rel / (1u << RB_HIST_SUB_BITS) + 1;
  uint64_t sub = (rel % (1u << RB_HIST_SUB_BITS)) + (1u << RB_HIST_SUB_BITS);
  *lo = sub << shift;
  *hi = ((sub + 1) << shift) - 1;
}

cJSON *rb_hist_encode_sorted(const uint64_t *v, size_t n) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  long double sum = 0;
  for (size_t i = 0; i < n; i++) sum += v[i];
  cJSON_AddNumberToObject(o, "count", (double)n);
  cJSON_AddNumberToObject(o, "min", n ? (double)v[0] : 0.0);
  cJSON_AddNumberToObject(o, "max", n ? (double)v[n - 1] : 0.0);
  cJSON_AddNumberToObject(o, "sum", (double)sum);
  cJSON *b = cJSON_AddArrayToObject(o, "buckets");
  if (!b) {
    cJSON_Delete(o);
    return NULL;
  }
  uint32_t prev = 0;
  bool first = true;
  for (size_t i = 0; i < n;) {
    uint32_t idx = rb_hist_index(v[i]);
    size_t c = 0;
    while (i < n && rb_hist_index(v[i]) == idx) {
      c++;
      i++;
    }
    cJSON *d = cJSON_CreateNumber((double)(first ? idx : idx - prev));
    cJSON *cn = cJSON_CreateNumber((double)c);
    if (!d || !cn) {
      cJSON_Delete(d);
      cJSON_Delete(cn);
      cJSON_Delete(o);
      return NULL;
    }
    cJSON_AddItemToArray(b, d);
    cJSON_AddItemToArray(b, cn);
    prev = idx;
    first = false;
  }
  return o;
}
