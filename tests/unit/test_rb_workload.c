/* test_rb_workload.c: the workload's draws (common/rb_workload.h) checked statistically with
 * fixed seeds: chi-square bounds for discrete distributions (keys, mixes, sizes) and a
 * Kolmogorov-Smirnov bound for the Gaussian keys, each at a 0.1 % significance level, with a
 * negative control that a wrong distribution fails the same bound. Plus determinism and the
 * parsers' errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_rng.h"
#include "rb_workload.h"

#define DRAWS 200000

static void setup(struct rb_workload *w, enum rb_keydist d, long long key_space) {
  rb_workload_defaults(w);
  w->keydist = d;
  w->key_space = key_space;
  w->ops = 10;
  w->seed = 42;
}

static void check_ok(struct rb_workload *w) {
  char err[300] = "";
  if (rb_workload_check(w, err, sizeof err) != RB_OK) fail_msg("check: %s", err);
}

/* Counts of each key over DRAWS draws (invocation k = i / ops, op j = i % ops). */
static void key_counts(const struct rb_workload *w, double *counts, size_t n) {
  memset(counts, 0, n * sizeof *counts);
  for (uint64_t i = 0; i < DRAWS; i++) {
    uint64_t key = rb_workload_key(w, i / (uint64_t)w->ops, i % (uint64_t)w->ops);
    assert_true(key < n);
    counts[key]++;
  }
}

static double chi_square(const double *observed, const double *p, size_t n, double total) {
  double x2 = 0;
  for (size_t i = 0; i < n; i++) {
    double e = p[i] * total;
    x2 += (observed[i] - e) * (observed[i] - e) / e;
  }
  return x2;
}

/* Upper 0.1 % point of chi-square with df degrees of freedom (Wilson-Hilferty). */
static double chi_square_critical(double df) {
  const double z = 3.0902; /* upper 0.1 % of the standard normal */
  double a = 2.0 / (9.0 * df);
  return df * pow(1.0 - a + z * sqrt(a), 3);
}

static void test_uniform_keys(void **state) {
  (void)state;
  struct rb_workload w;
  double counts[50], p[50];
  setup(&w, RB_KEYS_UNIFORM, 50);
  check_ok(&w);
  key_counts(&w, counts, 50);
  for (int i = 0; i < 50; i++) p[i] = 1.0 / 50;
  double x2 = chi_square(counts, p, 50, DRAWS);
  assert_true(x2 < chi_square_critical(49));
  /* negative control: zipfian draws are far from uniform */
  setup(&w, RB_KEYS_ZIPFIAN, 50);
  check_ok(&w);
  key_counts(&w, counts, 50);
  assert_true(chi_square(counts, p, 50, DRAWS) > 10 * chi_square_critical(49));
}

static void zipf_probabilities(double s, double *p, size_t n) {
  double total = 0;
  for (size_t i = 0; i < n; i++) total += p[i] = pow((double)(i + 1), -s);
  for (size_t i = 0; i < n; i++) p[i] /= total;
}

static void test_zipfian_keys(void **state) {
  (void)state;
  static const double exponents[] = {0.5, 0.99, 1.0, 1.5, 3.0};
  struct rb_workload w;
  double counts[64], p[64];
  for (size_t e = 0; e < sizeof exponents / sizeof exponents[0]; e++) {
    setup(&w, RB_KEYS_ZIPFIAN, 64);
    w.zipf_exponent = exponents[e];
    check_ok(&w);
    key_counts(&w, counts, 64);
    zipf_probabilities(exponents[e], p, 64);
    /* merge the tail into one cell so every expected count is at least 5 */
    size_t cells = 64;
    while (cells > 2 && p[cells - 1] * DRAWS < 5) {
      p[cells - 2] += p[cells - 1];
      counts[cells - 2] += counts[cells - 1];
      cells--;
    }
    double x2 = chi_square(counts, p, cells, DRAWS);
    if (x2 >= chi_square_critical((double)cells - 1))
      fail_msg("zipf s=%g: chi-square %g over %zu cells", exponents[e], x2, cells);
  }
  /* a wrong exponent fails the same bound (0.99 drawn, 0.8 expected) */
  setup(&w, RB_KEYS_ZIPFIAN, 64);
  check_ok(&w);
  key_counts(&w, counts, 64);
  zipf_probabilities(0.8, p, 64);
  assert_true(chi_square(counts, p, 64, DRAWS) > chi_square_critical(63));
  /* a huge key space: key 0's share is 1 / H(n, s), H by Euler-Maclaurin */
  setup(&w, RB_KEYS_ZIPFIAN, 2000000000LL);
  w.zipf_exponent = 1.2;
  check_ok(&w);
  double n = 2e9, s = 1.2;
  double h =
      (pow(n, 1 - s) - 1) / (1 - s) + 0.5 * (1 + pow(n, -s)) + s / 12.0 * (1 - pow(n, -s - 1));
  double hits = 0;
  for (uint64_t i = 0; i < DRAWS; i++) hits += rb_workload_key(&w, i, 0) == 0;
  double expect = DRAWS / h, sd = sqrt(expect * (1 - 1 / h));
  if (fabs(hits - expect) > 4 * sd) fail_msg("key 0: %g hits, expected %g", hits, expect);
}

static void test_hotspot_keys(void **state) {
  (void)state;
  struct rb_workload w;
  double counts[100], p[100];
  setup(&w, RB_KEYS_HOTSPOT, 100);
  w.hotspot_keys = 0.2;
  w.hotspot_ops = 0.9;
  check_ok(&w);
  key_counts(&w, counts, 100);
  for (int i = 0; i < 100; i++) p[i] = i < 20 ? 0.9 / 20 : 0.1 / 80;
  assert_true(chi_square(counts, p, 100, DRAWS) < chi_square_critical(99));
  /* negative control: the same draws against 80/20 fail */
  for (int i = 0; i < 100; i++) p[i] = i < 20 ? 0.8 / 20 : 0.2 / 80;
  assert_true(chi_square(counts, p, 100, DRAWS) > chi_square_critical(99));
}

static double normal_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* The largest distance between the empirical CDF of the keys and the truncated normal's at
 * every key boundary (the keys are floor(mean + z sd), so the comparison is exact there). */
static double gaussian_ks(const double *counts, size_t n, double sd_fraction) {
  double mean = (double)n / 2, sd = sd_fraction * (double)n;
  double lo = normal_cdf((0 - mean) / sd), hi = normal_cdf(((double)n - mean) / sd);
  double cum = 0, d = 0;
  for (size_t k = 0; k < n; k++) {
    cum += counts[k] / DRAWS;
    double f = (normal_cdf(((double)k + 1 - mean) / sd) - lo) / (hi - lo);
    if (fabs(cum - f) > d) d = fabs(cum - f);
  }
  return d;
}

static void test_gaussian_keys(void **state) {
  (void)state;
  struct rb_workload w;
  static double counts[1000];
  double critical = 1.95 / sqrt(DRAWS); /* Kolmogorov-Smirnov, 0.1 % */
  setup(&w, RB_KEYS_GAUSSIAN, 1000);
  check_ok(&w);
  key_counts(&w, counts, 1000);
  assert_true(gaussian_ks(counts, 1000, 1.0 / 6.0) < critical);
  /* a wide deviation (truncation redraws matter) */
  setup(&w, RB_KEYS_GAUSSIAN, 1000);
  w.gaussian_stddev = 0.5;
  check_ok(&w);
  key_counts(&w, counts, 1000);
  assert_true(gaussian_ks(counts, 1000, 0.5) < critical);
  /* negative controls: uniform keys, and a Gaussian of another width, fail */
  setup(&w, RB_KEYS_UNIFORM, 1000);
  check_ok(&w);
  key_counts(&w, counts, 1000);
  assert_true(gaussian_ks(counts, 1000, 1.0 / 6.0) > critical);
  setup(&w, RB_KEYS_GAUSSIAN, 1000);
  w.gaussian_stddev = 0.15;
  check_ok(&w);
  key_counts(&w, counts, 1000);
  assert_true(gaussian_ks(counts, 1000, 1.0 / 6.0) > critical);
}

static void test_sequential_keys(void **state) {
  (void)state;
  struct rb_workload w;
  setup(&w, RB_KEYS_SEQUENTIAL, 7);
  w.ops = 5;
  w.weight[RB_OP_SET] = 0;
  w.weight[RB_OP_GET] = 1;
  w.weight[RB_OP_MGET] = 1;
  w.keys_per_command = 3;
  check_ok(&w);
  for (uint64_t k = 0; k < 20; k++) {
    for (uint64_t j = 0; j < 5; j++) {
      struct rb_op_draw d;
      rb_workload_draw(&w, k, j, &d);
      uint64_t n = k * 5 + j;
      if (d.op == RB_OP_GET) {
        assert_int_equal(d.nkeys, 1);
        assert_int_equal(d.key[0], n % 7);
      } else {
        assert_int_equal(d.op, RB_OP_MGET);
        assert_int_equal(d.nkeys, 3);
        for (int i = 0; i < 3; i++) assert_int_equal(d.key[i], (n * 3 + (uint64_t)i) % 7);
      }
    }
  }
  /* the seed's behaviour: key_space = ops, operation j uses key j in every invocation */
  setup(&w, RB_KEYS_SEQUENTIAL, 10);
  check_ok(&w);
  for (uint64_t k = 0; k < 5; k++)
    for (uint64_t j = 0; j < 10; j++) assert_int_equal(rb_workload_key(&w, k, j), j);
}

static void test_mix_and_sizes(void **state) {
  (void)state;
  struct rb_workload w;
  size_t at;
  char err[200];
  setup(&w, RB_KEYS_UNIFORM, 1000);
  assert_int_equal(
      rb_workload_parse_mix("get:70, set:20,hgetall:10", w.weight, &at, err, sizeof err), RB_OK);
  w.sizes.kind = RB_SIZES_RANGE;
  w.sizes.min = 10;
  w.sizes.max = 19;
  check_ok(&w);
  double ops[RB_OP_COUNT] = {0}, sizes[10] = {0};
  for (uint64_t i = 0; i < DRAWS; i++) {
    struct rb_op_draw d;
    rb_workload_draw(&w, i, 3, &d);
    ops[d.op]++;
    assert_true(d.value_size >= 10 && d.value_size <= 19);
    sizes[d.value_size - 10]++;
  }
  double obs[3] = {ops[RB_OP_GET], ops[RB_OP_SET], ops[RB_OP_HGETALL]}, p[3] = {0.7, 0.2, 0.1};
  assert_true(ops[RB_OP_GET] + ops[RB_OP_SET] + ops[RB_OP_HGETALL] == DRAWS);
  assert_true(chi_square(obs, p, 3, DRAWS) < chi_square_critical(2));
  double q[3] = {0.6, 0.3, 0.1}; /* negative control */
  assert_true(chi_square(obs, q, 3, DRAWS) > chi_square_critical(2));
  double pu[10];
  for (int i = 0; i < 10; i++) pu[i] = 0.1;
  assert_true(chi_square(sizes, pu, 10, DRAWS) < chi_square_critical(9));
  /* a weighted size list */
  assert_int_equal(
      rb_workload_parse_size_list("64:80, 4096:15,0:5", &w.sizes, &at, err, sizeof err), RB_OK);
  check_ok(&w);
  double s3[3] = {0};
  for (uint64_t i = 0; i < DRAWS; i++) {
    struct rb_op_draw d;
    rb_workload_draw(&w, 7, i, &d);
    s3[d.value_size == 64 ? 0 : d.value_size == 4096 ? 1 : 2]++;
    assert_true(d.value_size == 64 || d.value_size == 4096 || d.value_size == 0);
  }
  double p3[3] = {0.8, 0.15, 0.05};
  assert_true(chi_square(s3, p3, 3, DRAWS) < chi_square_critical(2));
  char text[100];
  rb_workload_sizes_text(&w.sizes, text, sizeof text);
  assert_string_equal(text, "64:80,4096:15,0:5");
  rb_workload_mix_text(w.weight, text, sizeof text);
  assert_string_equal(text, "set:20,get:70,hgetall:10"); /* table order: one text per mix */
}

static void test_members_and_ranges(void **state) {
  (void)state;
  struct rb_workload w;
  size_t at;
  char err[200];
  setup(&w, RB_KEYS_UNIFORM, 100);
  assert_int_equal(rb_workload_parse_mix("zrangebyscore:1,lrange:1,hget:1,sadd:1", w.weight, &at,
                                         err, sizeof err),
                   RB_OK);
  w.structure_size = 20;
  w.range_span = 5;
  check_ok(&w);
  for (uint64_t i = 0; i < 20000; i++) {
    struct rb_op_draw d;
    rb_workload_draw(&w, i, 0, &d);
    if (d.op == RB_OP_HGET) assert_true(d.member < 20);
    if (d.op == RB_OP_SADD) assert_true(d.member < 40);
    if (d.op == RB_OP_LRANGE || d.op == RB_OP_ZRANGEBYSCORE) assert_true(d.member + 5 <= 20);
  }
  assert_int_equal(rb_workload_prepare_needs(&w),
                   (1u << RB_NS_ZSET) | (1u << RB_NS_LIST) | (1u << RB_NS_HASH));
  assert_int_equal(rb_workload_prepare_elements(&w), 3 * 100 * 20);
}

static void test_determinism(void **state) {
  (void)state;
  struct rb_workload a, b;
  setup(&a, RB_KEYS_ZIPFIAN, 100000);
  a.weight[RB_OP_GET] = 3;
  a.weight[RB_OP_MSET] = 1;
  check_ok(&a);
  b = a;
  /* the same (seed, k, j) gives the same draw in any order */
  for (int pass = 0; pass < 2; pass++) {
    for (uint64_t i = 0; i < 1000; i++) {
      uint64_t k = pass ? 999 - i : i;
      struct rb_op_draw x, y;
      rb_workload_draw(&a, k, k % 7, &x);
      rb_workload_draw(&b, k, k % 7, &y);
      assert_int_equal(x.op, y.op);
      assert_int_equal(x.nkeys, y.nkeys);
      assert_memory_equal(x.key, y.key, (size_t)x.nkeys * sizeof x.key[0]);
      assert_int_equal(x.value_size, y.value_size);
    }
  }
  /* another seed draws other keys */
  b.seed = 43;
  int same = 0;
  for (uint64_t i = 0; i < 1000; i++)
    same += rb_workload_key(&a, i, 0) == rb_workload_key(&b, i, 0);
  assert_true(same < 200); /* zipf 0.99 over 1e5 keys repeats key 0 about 8 % of the time */
  /* the streams are independent of each other's tags */
  struct rb_rng r1, r2;
  rb_rng_init(&r1, 1, RB_RNG_OPS, 0, 0);
  rb_rng_init(&r2, 1, RB_RNG_ARRIVAL, 0, 0);
  assert_true(rb_rng_next(&r1) != rb_rng_next(&r2));
}

static void test_parse_errors(void **state) {
  (void)state;
  uint32_t w[RB_OP_COUNT];
  size_t at = 99;
  char err[300];
  struct {
    const char *text;
    size_t at;
    const char *msg;
  } cases[] = {
      {"get:80,flush:20", 7, "unknown operation 'flush'"},
      {"get:80,get:20", 7, "'get' is given twice"},
      {"get:0,set:0", 0, "the weights sum to 0"},
      {"get 80", 4, "expected ':' and a weight after 'get'"},
      {"get:-1", 4, "the weight of 'get' must be an integer from 0 to 1000000"},
      {"get:80;set:20", 6, "expected ',' between pairs"},
      {"", 0, "empty"},
      {"blah", 0, "unknown operation 'blah'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    err[0] = '\0';
    assert_int_not_equal(rb_workload_parse_mix(cases[i].text, w, &at, err, sizeof err), RB_OK);
    if (!strstr(err, cases[i].msg) || at != cases[i].at)
      fail_msg("'%s': got '%s' at %zu, wanted '%s' at %zu", cases[i].text, err, at, cases[i].msg,
               cases[i].at);
  }
  assert_int_equal(rb_workload_parse_mix(" GET ", w, &at, err, sizeof err), RB_OK);
  assert_int_equal(w[RB_OP_GET], 1);
  struct rb_sizes s;
  assert_int_not_equal(rb_workload_parse_size_range("100-10", &s, &at, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "MIN (100) is above MAX (10)"));
  assert_int_not_equal(rb_workload_parse_size_range("10-2000000", &s, &at, err, sizeof err), RB_OK);
  assert_int_equal(at, 3);
  assert_int_not_equal(rb_workload_parse_size_list("64:1,x:2", &s, &at, err, sizeof err), RB_OK);
  assert_int_equal(at, 5);
  assert_int_not_equal(rb_workload_parse_size_list("64:0", &s, &at, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "weights sum to 0"));
}

static void test_check_errors(void **state) {
  (void)state;
  struct rb_workload w;
  char err[300];
  setup(&w, RB_KEYS_UNIFORM, 5);
  w.weight[RB_OP_MGET] = 1;
  assert_int_not_equal(rb_workload_check(&w, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "key_space (5) is smaller than keys_per_command (10)"));
  setup(&w, RB_KEYS_UNIFORM, 5);
  w.weight[RB_OP_LRANGE] = 1;
  w.structure_size = 4;
  assert_int_not_equal(rb_workload_check(&w, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "range_span (10) is larger than structure_size (4)"));
  setup(&w, RB_KEYS_ZIPFIAN, 5);
  w.zipf_exponent = 0;
  assert_int_not_equal(rb_workload_check(&w, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "zipf_exponent"));
  setup(&w, RB_KEYS_UNIFORM, 1000000);
  w.weight[RB_OP_HGET] = 1;
  w.structure_size = 100;
  assert_int_not_equal(rb_workload_check(&w, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "the preparation would write 100000000 elements"));
  setup(&w, RB_KEYS_UNIFORM, 10);
  memset(w.weight, 0, sizeof w.weight);
  assert_int_not_equal(rb_workload_check(&w, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "sum to 0"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uniform_keys),       cmocka_unit_test(test_zipfian_keys),
      cmocka_unit_test(test_hotspot_keys),       cmocka_unit_test(test_gaussian_keys),
      cmocka_unit_test(test_sequential_keys),    cmocka_unit_test(test_mix_and_sizes),
      cmocka_unit_test(test_members_and_ranges), cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_parse_errors),       cmocka_unit_test(test_check_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
