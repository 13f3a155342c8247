/* job_reuse.c: key reuse over the drawn operations (see job_reuse.h). */
#include "job_reuse.h"

#include <stdlib.h>
#include <string.h>

const unsigned job_reuse_window_ops[JOB_REUSE_WINDOWS] = {16, 128, 1024};

/* Open addressing: key (namespace << 40 | number) + 1 (0 is empty) -> the last operation that
 * used it. */
struct table {
  uint64_t *key;
  uint64_t *last;
  size_t mask;
};

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

static size_t slot_of(const struct table *t, uint64_t key) {
  size_t i = (size_t)mix64(key) & t->mask;
  while (t->key[i] && t->key[i] != key) i = (i + 1) & t->mask;
  return i;
}

enum rb_err job_key_reuse_compute(const struct rb_workload *w, uint64_t first, uint64_t count,
                                  struct job_key_reuse *out) {
  memset(out, 0, sizeof *out);
  out->first_invocation = first;
  uint64_t ops = w->ops > 0 ? (uint64_t)w->ops : 1;
  /* distinct keys at most: the references sampled, and the namespaces' key spaces */
  uint64_t total_ops = count > JOB_REUSE_MAX_OPS / ops ? JOB_REUSE_MAX_OPS : count * ops;
  uint64_t width = w->keys_per_command > 1 ? (uint64_t)w->keys_per_command : 1;
  uint64_t refs = total_ops * width < JOB_REUSE_MAX_KEYS ? total_ops * width : JOB_REUSE_MAX_KEYS;
  uint64_t space = (uint64_t)w->key_space * RB_NS_COUNT;
  uint64_t distinct = refs < space ? refs : space;
  size_t cap = 16;
  while (cap < distinct * 2 + 1) cap *= 2;
  struct table t = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(uint64_t)), cap - 1};
  if (!t.key || !t.last) {
    free(t.key);
    free(t.last);
    return RB_ERR_NOMEM;
  }
  uint64_t hits[JOB_REUSE_WINDOWS] = {0}, n = 0; /* n: operations drawn */
  struct rb_op_draw d;
  for (uint64_t k = first; k < first + count && !out->truncated; k++) {
    for (uint64_t j = 0; j < ops; j++) {
      rb_workload_draw(w, k, j, &d);
      if (n >= JOB_REUSE_MAX_OPS || out->keys + (uint64_t)d.nkeys > JOB_REUSE_MAX_KEYS) {
        out->truncated = true;
        break;
      }
      uint64_t ns = (uint64_t)rb_op_ns(d.op);
      for (int i = 0; i < d.nkeys; i++) {
        size_t s = slot_of(&t, ((ns << 40) | d.key[i]) + 1);
        if (t.key[s] && t.last[s] < n) { /* used by an earlier operation */
          uint64_t gap = n - t.last[s];
          for (int x = 0; x < JOB_REUSE_WINDOWS; x++) hits[x] += gap <= job_reuse_window_ops[x];
        }
      }
      for (int i = 0; i < d.nkeys; i++) {
        size_t s = slot_of(&t, ((ns << 40) | d.key[i]) + 1);
        t.key[s] = ((ns << 40) | d.key[i]) + 1;
        t.last[s] = n;
      }
      out->keys += (uint64_t)d.nkeys;
      n++;
    }
    if (!out->truncated) out->invocations++;
  }
  out->operations = n;
  for (int x = 0; x < JOB_REUSE_WINDOWS; x++)
    out->repeated[x] = out->keys ? (double)hits[x] / (double)out->keys : 0;
  free(t.key);
  free(t.last);
  return RB_OK;
}
