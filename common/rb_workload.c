/* rb_workload.c: operations, key distributions and value sizes of a run (rb_workload.h). */
#include "rb_workload.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rb_rng.h"

static const char *const op_names[] = {
#define RB_OP_NAME(id, name) name,
    RB_OPS(RB_OP_NAME)
#undef RB_OP_NAME
};

const char *rb_op_name(enum rb_op op) {
  return (unsigned)op < RB_OP_COUNT ? op_names[op] : "unknown";
}

bool rb_op_from_name(const char *name, size_t len, enum rb_op *op) {
  for (int i = 0; i < RB_OP_COUNT; i++) {
    if (strlen(op_names[i]) == len && strncasecmp(op_names[i], name, len) == 0) {
      *op = (enum rb_op)i;
      return true;
    }
  }
  return false;
}

const char *rb_op_list(void) {
  return "set, get, del, exists, incr, mget, mset, hset, hget, hgetall, lpush, lrange, sadd, "
         "smembers, zadd, zrangebyscore, eval";
}

enum rb_ns rb_op_ns(enum rb_op op) {
  switch (op) {
    case RB_OP_INCR: return RB_NS_COUNTER;
    case RB_OP_HSET:
    case RB_OP_HGET:
    case RB_OP_HGETALL: return RB_NS_HASH;
    case RB_OP_LPUSH:
    case RB_OP_LRANGE: return RB_NS_LIST;
    case RB_OP_SADD:
    case RB_OP_SMEMBERS: return RB_NS_SET;
    case RB_OP_ZADD:
    case RB_OP_ZRANGEBYSCORE: return RB_NS_ZSET;
    default: return RB_NS_STRING;
  }
}

const char *rb_ns_tag(enum rb_ns ns) {
  static const char *const tags[RB_NS_COUNT] = {"", "n:", "h:", "l:", "s:", "z:"};
  return (unsigned)ns < RB_NS_COUNT ? tags[ns] : "";
}

bool rb_op_multi_key(enum rb_op op) { return op == RB_OP_MGET || op == RB_OP_MSET; }

bool rb_op_writes(enum rb_op op) {
  switch (op) {
    case RB_OP_SET:
    case RB_OP_DEL:
    case RB_OP_INCR:
    case RB_OP_MSET:
    case RB_OP_HSET:
    case RB_OP_LPUSH:
    case RB_OP_SADD:
    case RB_OP_ZADD: return true;
    default: return false;
  }
}

static const char *const keydist_names[RB_KEYDIST_COUNT] = {"sequential", "uniform", "zipfian",
                                                            "hotspot", "gaussian"};

const char *rb_keydist_name(enum rb_keydist d) {
  return (unsigned)d < RB_KEYDIST_COUNT ? keydist_names[d] : "unknown";
}

bool rb_keydist_from_name(const char *name, enum rb_keydist *d) {
  for (int i = 0; i < RB_KEYDIST_COUNT; i++) {
    if (strcmp(name, keydist_names[i]) == 0) {
      *d = (enum rb_keydist)i;
      return true;
    }
  }
  return false;
}

void rb_workload_defaults(struct rb_workload *w) {
  memset(w, 0, sizeof *w);
  w->weight[RB_OP_SET] = 1;
  w->ops = 1;
  w->key_space = 1;
  w->keydist = RB_KEYS_SEQUENTIAL;
  w->zipf_exponent = 0.99;
  w->hotspot_keys = 0.2;
  w->hotspot_ops = 0.8;
  w->gaussian_stddev = 1.0 / 6.0;
  w->sizes.kind = RB_SIZES_FIXED;
  w->sizes.min = w->sizes.max = 64;
  w->keys_per_command = 10;
  w->structure_size = 100;
  w->range_span = 10;
  w->script_work = 1000;
  w->seed = 1;
}

/* ---- zipfian: rejection-inversion (Hoermann and Derflinger, "Rejection-inversion to generate
 * variates from monotone discrete distributions", 1996), over ranks 1..n ------------------ */

/* log1p(x) / x, continuous at 0 */
static double log1p_over(double x) {
  return fabs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x / 3.0);
}
/* expm1(x) / x, continuous at 0 */
static double expm1_over(double x) {
  return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * (0.5 + x / 6.0);
}
/* H(x), an integral of h(x) = x^-s */
static double zipf_H(double s, double x) {
  double lx = log(x);
  return expm1_over((1.0 - s) * lx) * lx;
}
static double zipf_H_inv(double s, double y) {
  double t = y * (1.0 - s);
  if (t < -1.0) t = -1.0;
  return exp(log1p_over(t) * y);
}
static double zipf_h(double s, double x) { return exp(-s * log(x)); }

static void zipf_setup(struct rb_workload *w) {
  double s = w->zipf_exponent;
  w->zipf_h_x1 = zipf_H(s, 1.5) - 1.0;
  w->zipf_h_n = zipf_H(s, (double)w->key_space + 0.5);
  w->zipf_s = 2.0 - zipf_H_inv(s, zipf_H(s, 2.5) - zipf_h(s, 2.0));
}

/* A rank in [1, n] with P(k) proportional to k^-s. */
static uint64_t zipf_draw(const struct rb_workload *w, struct rb_rng *r) {
  double s = w->zipf_exponent, n = (double)w->key_space;
  for (;;) {
    double u = w->zipf_h_n + rb_rng_double(r) * (w->zipf_h_x1 - w->zipf_h_n);
    double x = zipf_H_inv(s, u);
    double k = floor(x + 0.5);
    if (k < 1) k = 1;
    if (k > n) k = n;
    if (k - x <= w->zipf_s || u >= zipf_H(s, k + 0.5) - zipf_h(s, k)) return (uint64_t)k;
  }
}

/* ---- checks -------------------------------------------------------------------------- */

static bool mix_has(const struct rb_workload *w, enum rb_op op) { return w->weight[op] > 0; }

enum rb_err rb_workload_check(struct rb_workload *w, char *err, size_t errlen) {
  w->weight_total = 0;
  for (int i = 0; i < RB_OP_COUNT; i++) w->weight_total += w->weight[i];
  if (w->weight_total == 0)
    return rb_errorf(RB_ERR_INVALID, err, errlen, "mix: the weights sum to 0: nothing to run");
  if (w->ops < 1) return rb_errorf(RB_ERR_RANGE, err, errlen, "ops: must be at least 1");
  if (w->key_space < 1 || w->key_space > RB_KEY_SPACE_MAX)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "key_space: expected 1 to %lld, got %lld",
                     RB_KEY_SPACE_MAX, w->key_space);
  if (w->keys_per_command < 1 || w->keys_per_command > RB_KEYS_PER_COMMAND_MAX)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "keys_per_command: expected 1 to %d, got %d",
                     RB_KEYS_PER_COMMAND_MAX, w->keys_per_command);
  if ((mix_has(w, RB_OP_MGET) || mix_has(w, RB_OP_MSET)) && w->keys_per_command > w->key_space)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "key_space (%lld) is smaller than keys_per_command (%d), the width of mget "
                     "and mset: raise key_space or lower keys_per_command",
                     w->key_space, w->keys_per_command);
  if (w->structure_size < 1 || w->structure_size > RB_STRUCTURE_SIZE_MAX)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "structure_size: expected 1 to %d, got %d",
                     RB_STRUCTURE_SIZE_MAX, w->structure_size);
  if (w->range_span < 1 || w->range_span > RB_STRUCTURE_SIZE_MAX)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "range_span: expected 1 to %d, got %d",
                     RB_STRUCTURE_SIZE_MAX, w->range_span);
  if ((mix_has(w, RB_OP_LRANGE) || mix_has(w, RB_OP_ZRANGEBYSCORE)) &&
      w->range_span > w->structure_size)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "range_span (%d) is larger than structure_size (%d): lrange and "
                     "zrangebyscore read within a prepared structure",
                     w->range_span, w->structure_size);
  if (w->script_work < 0 || w->script_work > RB_SCRIPT_WORK_MAX)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "script_work: expected 0 to %lld, got %lld",
                     RB_SCRIPT_WORK_MAX, w->script_work);
  if (w->seed > (uint64_t)RB_SEED_MAX)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "seed: expected 0 to %lld", RB_SEED_MAX);
  if ((unsigned)w->keydist >= RB_KEYDIST_COUNT)
    return rb_errorf(RB_ERR_INVALID, err, errlen, "key_distribution: unknown");
  if (!(w->zipf_exponent > 0 && w->zipf_exponent <= 5))
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "zipf_exponent: expected a number above 0 and at most 5, got %g",
                     w->zipf_exponent);
  if (!(w->hotspot_keys > 0 && w->hotspot_keys <= 1))
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "hotspot_keys: expected a fraction above 0 and at most 1, got %g",
                     w->hotspot_keys);
  if (!(w->hotspot_ops >= 0 && w->hotspot_ops <= 1))
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "hotspot_ops: expected a fraction from 0 to 1, got %g", w->hotspot_ops);
  if (!(w->gaussian_stddev > 0 && w->gaussian_stddev <= 10))
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "gaussian_stddev: expected a number above 0 and at most 10, got %g",
                     w->gaussian_stddev);
  const struct rb_sizes *z = &w->sizes;
  if (z->kind == RB_SIZES_LIST) {
    uint64_t tw = 0;
    if (z->n < 1 || z->n > RB_SIZES_MAX)
      return rb_errorf(RB_ERR_INVALID, err, errlen, "value_size_list: 1 to %d sizes", RB_SIZES_MAX);
    for (uint32_t i = 0; i < z->n; i++) {
      if (z->size[i] > RB_VALUE_SIZE_MAX)
        return rb_errorf(RB_ERR_RANGE, err, errlen, "value_size_list: %u is above %u bytes",
                         z->size[i], RB_VALUE_SIZE_MAX);
      tw += z->weight[i];
    }
    if (tw == 0)
      return rb_errorf(RB_ERR_INVALID, err, errlen, "value_size_list: the weights sum to 0");
  } else if (z->min > z->max || z->max > RB_VALUE_SIZE_MAX) {
    return rb_errorf(RB_ERR_RANGE, err, errlen, "value sizes: %u-%u is not a range within 0-%u",
                     z->min, z->max, RB_VALUE_SIZE_MAX);
  }
  long long elements = rb_workload_prepare_elements(w);
  if (elements > RB_PREPARE_ELEMENTS_MAX)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "the preparation would write %lld elements (key_space %lld x structure_size "
                     "%d per prepared type); at most %lld: lower key_space or structure_size",
                     elements, w->key_space, w->structure_size, RB_PREPARE_ELEMENTS_MAX);
  zipf_setup(w);
  return RB_OK;
}

/* ---- text forms ----------------------------------------------------------------------- */

static const char *skip_space(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  return s;
}

/* An unsigned decimal integer of at most max; advances *s. */
static bool parse_uint(const char **s, unsigned long long max, unsigned long long *out) {
  const char *p = *s;
  if (!isdigit((unsigned char)*p)) return false;
  unsigned long long v = 0;
  while (isdigit((unsigned char)*p)) {
    v = v * 10 + (unsigned long long)(*p - '0');
    if (v > max) return false;
    p++;
  }
  *s = p;
  *out = v;
  return true;
}

enum rb_err rb_workload_parse_mix(const char *text, uint32_t weight[RB_OP_COUNT], size_t *at,
                                  char *err, size_t errlen) {
  uint32_t w[RB_OP_COUNT] = {0};
  bool seen[RB_OP_COUNT] = {false};
  const char *p = skip_space(text);
  *at = 0;
  if (!*p) return rb_errorf(RB_ERR_INVALID, err, errlen, "empty: expected operation:weight pairs");
  /* a single name stands for weight 1 */
  size_t n = strcspn(p, ":, \t");
  enum rb_op op;
  if (p[n] == '\0' || (strspn(p + n, " \t") == strlen(p + n))) {
    if (!rb_op_from_name(p, n, &op)) {
      *at = (size_t)(p - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen, "unknown operation '%.*s'; expected one of %s",
                       (int)(n > 40 ? 40 : n), p, rb_op_list());
    }
    memset(weight, 0, RB_OP_COUNT * sizeof *weight);
    weight[op] = 1;
    return RB_OK;
  }
  uint64_t total = 0;
  for (;;) {
    p = skip_space(p);
    const char *item = p;
    n = strcspn(p, ":, \t");
    if (n == 0 || !rb_op_from_name(p, n, &op)) {
      *at = (size_t)(item - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen, "unknown operation '%.*s'; expected one of %s",
                       (int)(n > 40 ? 40 : n), p, rb_op_list());
    }
    if (seen[op]) {
      *at = (size_t)(item - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen, "'%s' is given twice", rb_op_name(op));
    }
    seen[op] = true;
    p = skip_space(p + n);
    if (*p != ':') {
      *at = (size_t)(p - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "expected ':' and a weight after '%s' (operation:weight, e.g. get:80)",
                       rb_op_name(op));
    }
    p = skip_space(p + 1);
    unsigned long long v;
    const char *num = p;
    if (!parse_uint(&p, 1000000, &v)) {
      *at = (size_t)(num - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "the weight of '%s' must be an integer from 0 to 1000000", rb_op_name(op));
    }
    w[op] = (uint32_t)v;
    total += v;
    p = skip_space(p);
    if (*p == '\0') break;
    if (*p != ',') {
      *at = (size_t)(p - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen, "expected ',' between pairs, got '%c'", *p);
    }
    p++;
  }
  if (total == 0) {
    *at = 0;
    return rb_errorf(RB_ERR_INVALID, err, errlen, "the weights sum to 0: nothing to run");
  }
  memcpy(weight, w, sizeof w);
  return RB_OK;
}

void rb_workload_mix_text(const uint32_t weight[RB_OP_COUNT], char *out, size_t len) {
  size_t n = 0;
  if (len) out[0] = '\0';
  for (int i = 0; i < RB_OP_COUNT && n < len; i++) {
    if (!weight[i]) continue;
    n += (size_t)snprintf(out + n, len - n, "%s%s:%u", n ? "," : "", op_names[i], weight[i]);
  }
}

enum rb_err rb_workload_parse_size_range(const char *text, struct rb_sizes *s, size_t *at,
                                         char *err, size_t errlen) {
  const char *p = skip_space(text);
  unsigned long long lo, hi;
  *at = (size_t)(p - text);
  if (!parse_uint(&p, RB_VALUE_SIZE_MAX, &lo))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "expected MIN-MAX, two sizes in bytes from 0 to %u, such as 64-4096",
                     RB_VALUE_SIZE_MAX);
  p = skip_space(p);
  if (*p != '-') {
    *at = (size_t)(p - text);
    return rb_errorf(RB_ERR_INVALID, err, errlen, "expected '-' between MIN and MAX (MIN-MAX)");
  }
  p = skip_space(p + 1);
  *at = (size_t)(p - text);
  if (!parse_uint(&p, RB_VALUE_SIZE_MAX, &hi))
    return rb_errorf(RB_ERR_INVALID, err, errlen, "MAX must be a size in bytes from 0 to %u",
                     RB_VALUE_SIZE_MAX);
  p = skip_space(p);
  if (*p) {
    *at = (size_t)(p - text);
    return rb_errorf(RB_ERR_INVALID, err, errlen, "unexpected '%.20s' after MIN-MAX", p);
  }
  if (lo > hi) {
    *at = 0;
    return rb_errorf(RB_ERR_RANGE, err, errlen, "MIN (%llu) is above MAX (%llu)", lo, hi);
  }
  memset(s, 0, sizeof *s);
  s->kind = lo == hi ? RB_SIZES_FIXED : RB_SIZES_RANGE;
  s->min = (uint32_t)lo;
  s->max = (uint32_t)hi;
  return RB_OK;
}

enum rb_err rb_workload_parse_size_list(const char *text, struct rb_sizes *s, size_t *at, char *err,
                                        size_t errlen) {
  struct rb_sizes z = {.kind = RB_SIZES_LIST};
  const char *p = text;
  uint64_t total = 0;
  for (;;) {
    p = skip_space(p);
    unsigned long long size, weight;
    *at = (size_t)(p - text);
    if (z.n == RB_SIZES_MAX)
      return rb_errorf(RB_ERR_RANGE, err, errlen, "at most %d sizes", RB_SIZES_MAX);
    if (!parse_uint(&p, RB_VALUE_SIZE_MAX, &size))
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "expected SIZE:WEIGHT with a size in bytes from 0 to %u, such as 64:80",
                       RB_VALUE_SIZE_MAX);
    p = skip_space(p);
    if (*p != ':') {
      *at = (size_t)(p - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen, "expected ':' and a weight after %llu", size);
    }
    p = skip_space(p + 1);
    *at = (size_t)(p - text);
    if (!parse_uint(&p, 1000000, &weight))
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "the weight of size %llu must be an integer from 0 to 1000000", size);
    z.size[z.n] = (uint32_t)size;
    z.weight[z.n] = (uint32_t)weight;
    z.n++;
    total += weight;
    p = skip_space(p);
    if (*p == '\0') break;
    if (*p != ',') {
      *at = (size_t)(p - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen, "expected ',' between pairs, got '%c'", *p);
    }
    p++;
  }
  if (total == 0) {
    *at = 0;
    return rb_errorf(RB_ERR_INVALID, err, errlen, "the weights sum to 0");
  }
  uint32_t lo = UINT32_MAX, hi = 0;
  for (uint32_t i = 0; i < z.n; i++) {
    if (z.size[i] < lo) lo = z.size[i];
    if (z.size[i] > hi) hi = z.size[i];
  }
  z.min = lo;
  z.max = hi;
  *s = z;
  return RB_OK;
}

void rb_workload_sizes_text(const struct rb_sizes *s, char *out, size_t len) {
  if (s->kind == RB_SIZES_FIXED) {
    snprintf(out, len, "%u", s->min);
  } else if (s->kind == RB_SIZES_RANGE) {
    snprintf(out, len, "%u-%u", s->min, s->max);
  } else {
    size_t n = 0;
    if (len) out[0] = '\0';
    for (uint32_t i = 0; i < s->n && n < len; i++)
      n += (size_t)snprintf(out + n, len - n, "%s%u:%u", i ? "," : "", s->size[i], s->weight[i]);
  }
}

/* ---- draws ---------------------------------------------------------------------------- */

static uint64_t draw_key(const struct rb_workload *w, struct rb_rng *r, uint64_t seq) {
  uint64_t n = (uint64_t)w->key_space;
  switch (w->keydist) {
    case RB_KEYS_SEQUENTIAL: return seq % n;
    case RB_KEYS_UNIFORM: return rb_rng_below(r, n);
    case RB_KEYS_ZIPFIAN: return zipf_draw(w, r) - 1;
    case RB_KEYS_HOTSPOT: {
      uint64_t hot = (uint64_t)floor(w->hotspot_keys * (double)n);
      if (hot < 1) hot = 1;
      if (hot >= n) return rb_rng_below(r, n);
      if (rb_rng_double(r) < w->hotspot_ops) return rb_rng_below(r, hot);
      return hot + rb_rng_below(r, n - hot);
    }
    case RB_KEYS_GAUSSIAN: {
      double mean = (double)n / 2.0, sd = w->gaussian_stddev * (double)n;
      for (int tries = 0; tries < 64; tries++) {
        /* Box-Muller */
        double u1 = rb_rng_double_open0(r), u2 = rb_rng_double(r);
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        double x = floor(mean + z * sd);
        if (x >= 0 && x < (double)n) return (uint64_t)x;
      }
      return n / 2; /* practically unreachable: a sd far wider than the key space */
    }
    default: return 0;
  }
}

static enum rb_op draw_op(const struct rb_workload *w, struct rb_rng *r) {
  uint64_t x = rb_rng_below(r, w->weight_total);
  for (int i = 0; i < RB_OP_COUNT; i++) {
    if (x < w->weight[i]) return (enum rb_op)i;
    x -= w->weight[i];
  }
  return RB_OP_SET; /* unreachable when weight_total is the sum */
}

static uint32_t draw_size(const struct rb_sizes *s, struct rb_rng *r) {
  if (s->kind == RB_SIZES_FIXED) return s->min;
  if (s->kind == RB_SIZES_RANGE)
    return s->min + (uint32_t)rb_rng_below(r, (uint64_t)(s->max - s->min) + 1);
  uint64_t total = 0;
  for (uint32_t i = 0; i < s->n; i++) total += s->weight[i];
  uint64_t x = rb_rng_below(r, total);
  for (uint32_t i = 0; i < s->n; i++) {
    if (x < s->weight[i]) return s->size[i];
    x -= s->weight[i];
  }
  return s->size[0];
}

void rb_workload_draw(const struct rb_workload *w, uint64_t k, uint64_t j, struct rb_op_draw *d) {
  struct rb_rng r;
  rb_rng_init(&r, w->seed, RB_RNG_OPS, k, j);
  /* the same number of draws in the same order whatever the operation, so adding an
   * operation to a mix does not shift the keys of the others more than it must */
  d->op = draw_op(w, &r);
  uint64_t seq = k * (uint64_t)w->ops + j;
  d->nkeys = rb_op_multi_key(d->op) ? w->keys_per_command : 1;
  if (d->op == RB_OP_MGET || d->op == RB_OP_MSET) {
    for (int i = 0; i < d->nkeys; i++)
      d->key[i] = w->keydist == RB_KEYS_SEQUENTIAL
                      ? (seq * (uint64_t)w->keys_per_command + (uint64_t)i) % (uint64_t)w->key_space
                      : draw_key(w, &r, seq);
  } else {
    d->key[0] = draw_key(w, &r, seq);
  }
  d->value_size = draw_size(&w->sizes, &r);
  switch (d->op) {
    case RB_OP_HSET:
    case RB_OP_HGET: d->member = rb_rng_below(&r, (uint64_t)w->structure_size); break;
    case RB_OP_SADD:
    case RB_OP_ZADD: d->member = rb_rng_below(&r, 2 * (uint64_t)w->structure_size); break;
    case RB_OP_LRANGE:
    case RB_OP_ZRANGEBYSCORE:
      d->member = rb_rng_below(&r, (uint64_t)(w->structure_size - w->range_span) + 1);
      break;
    default: d->member = 0; break;
  }
}

uint64_t rb_workload_key(const struct rb_workload *w, uint64_t k, uint64_t j) {
  struct rb_op_draw d;
  rb_workload_draw(w, k, j, &d);
  return d.key[0];
}

unsigned rb_workload_prepare_needs(const struct rb_workload *w) {
  unsigned needs = 0;
  if (w->weight[RB_OP_GET] || w->weight[RB_OP_EXISTS] || w->weight[RB_OP_MGET])
    needs |= 1u << RB_NS_STRING;
  if (w->weight[RB_OP_HGET] || w->weight[RB_OP_HGETALL]) needs |= 1u << RB_NS_HASH;
  if (w->weight[RB_OP_LRANGE]) needs |= 1u << RB_NS_LIST;
  if (w->weight[RB_OP_SMEMBERS]) needs |= 1u << RB_NS_SET;
  if (w->weight[RB_OP_ZRANGEBYSCORE]) needs |= 1u << RB_NS_ZSET;
  return needs;
}

long long rb_workload_prepare_elements(const struct rb_workload *w) {
  unsigned needs = rb_workload_prepare_needs(w);
  long long n = 0;
  for (int ns = 0; ns < RB_NS_COUNT; ns++) {
    if (!(needs & (1u << ns))) continue;
    n += ns == RB_NS_STRING ? w->key_space : w->key_space * (long long)w->structure_size;
  }
  return n;
}

void rb_workload_fill_value(char *buf, size_t size, uint64_t i) {
  for (size_t b = 0; b < size; b++) buf[b] = (char)('a' + (int)((i + (uint64_t)b) % 26));
}
