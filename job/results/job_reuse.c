/* job_reuse.c: key reuse over the drawn operations (see job_reuse.h). */
#include "job_reuse.h"

#include <stdlib.h>
#include <string.h>

const unsigned job_reuse_window_ops[JOB_REUSE_WINDOWS] = {16, 128, 1024};

/* Open addressing: key (namespace << 40 | number) + 1 (0 is empty) -> the last operation that
 * used it. Only keys used within the largest window matter, so the table is sized for those
 * (at most window x keys per operation) and rebuilt without the older ones when half full:
 * memory stays small whatever the key space. */
struct table {
  uint64_t *key;
  uint32_t *last;
  size_t mask, used;
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

static bool table_init(struct table *t, size_t cap) {
  t->key = calloc(cap, sizeof *t->key);
  t->last = calloc(cap, sizeof *t->last);
  t->mask = cap - 1;
  t->used = 0;
  return t->key && t->last;
}

static void table_free(struct table *t) {
  free(t->key);
  free(t->last);
}

/* Keeps the keys used within the largest window before operation n. */
static bool table_rebuild(struct table *t, uint64_t n) {
  struct table u;
  if (!table_init(&u, t->mask + 1)) {
    table_free(&u);
    return false;
  }
  uint64_t wmax = job_reuse_window_ops[JOB_REUSE_WINDOWS - 1];
  for (size_t i = 0; i <= t->mask; i++) {
    if (!t->key[i] || n - t->last[i] > wmax) continue;
    size_t s = slot_of(&u, t->key[i]);
    u.key[s] = t->key[i];
    u.last[s] = t->last[i];
    u.used++;
  }
  table_free(t);
  *t = u;
  return true;
}

enum rb_err job_key_reuse_compute(const struct rb_workload *w, uint64_t first, uint64_t count,
                                  struct job_key_reuse *out) {
  memset(out, 0, sizeof *out);
  out->first_invocation = first;
  uint64_t ops = w->ops > 0 ? (uint64_t)w->ops : 1;
  uint64_t width = w->keys_per_command > 1 ? (uint64_t)w->keys_per_command : 1;
  size_t cap = 1024;
  while (cap < 4 * (job_reuse_window_ops[JOB_REUSE_WINDOWS - 1] + 1) * width) cap *= 2;
  struct table t;
  if (!table_init(&t, cap)) {
    table_free(&t);
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
      if (t.used + (size_t)d.nkeys > (t.mask + 1) / 2 && !table_rebuild(&t, n)) {
        table_free(&t);
        return RB_ERR_NOMEM;
      }
      for (int i = 0; i < d.nkeys; i++) {
        uint64_t key = ((ns << 40) | d.key[i]) + 1;
        size_t s = slot_of(&t, key);
        t.used += !t.key[s];
        t.key[s] = key;
        t.last[s] = (uint32_t)n;
      }
      out->keys += (uint64_t)d.nkeys;
      n++;
    }
    if (!out->truncated) out->invocations++;
  }
  out->operations = n;
  for (int x = 0; x < JOB_REUSE_WINDOWS; x++)
    out->repeated[x] = out->keys ? (double)hits[x] / (double)out->keys : 0;
  table_free(&t);
  return RB_OK;
}
