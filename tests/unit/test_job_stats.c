/* test_job_stats.c: Mann-Whitney U against textbook values, the exact U distribution, the
 * bootstrap interval, and the histogram's error bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "job_hist.h"
#include "job_stats.h"
#include "rb_stats.h"

static void test_mwu_exact_counts(void **state) {
  (void)state;
  /* m = n = 3: the 20 arrangements spread as 1 1 2 3 3 3 3 2 1 1 over U = 0..9. */
  double c[10];
  job_mwu_exact_counts(3, 3, c);
  const double want[10] = {1, 1, 2, 3, 3, 3, 3, 2, 1, 1};
  for (int i = 0; i < 10; i++) assert_true(c[i] == want[i]);
  /* m = n = 5: C(10,5) = 252 in total, P(U <= 2) = 4/252 (the 5% table value U = 2). */
  double d[26], total = 0;
  job_mwu_exact_counts(5, 5, d);
  for (int i = 0; i <= 25; i++) total += d[i];
  assert_true(total == 252);
  assert_true(d[0] + d[1] + d[2] == 4);
  assert_true(d[3] == 3);
}

static void test_mwu_textbook_exact(void **state) {
  (void)state;
  struct job_mwu r;
  const double x1[] = {1, 2, 3, 4, 5}, y1[] = {6, 7, 8, 9, 10};
  assert_int_equal(job_mwu_test(x1, 5, y1, 5, &r), RB_OK);
  assert_true(r.exact);
  assert_true(r.u == 0 && r.u1 == 0);
  assert_true(fabs(r.p - 2.0 / 252.0) < 1e-12);
  assert_true(r.a12 == 0);
  /* U = 2 for n = 5, 5: p = 8/252 = 0.0317 (significant at 5%). */
  const double x2[] = {1, 2, 3, 4, 7}, y2[] = {5, 6, 8, 9, 10};
  assert_int_equal(job_mwu_test(x2, 5, y2, 5, &r), RB_OK);
  assert_true(r.u1 == 2);
  assert_true(fabs(r.p - 8.0 / 252.0) < 1e-12);
  /* U = 3: p = 14/252 = 0.0556 (not significant). */
  const double x3[] = {1, 2, 3, 4, 8}, y3[] = {5, 6, 7, 9, 10};
  assert_int_equal(job_mwu_test(x3, 5, y3, 5, &r), RB_OK);
  assert_true(r.u == 3);
  assert_true(fabs(r.p - 14.0 / 252.0) < 1e-12);
  /* Swapping the samples gives the same U and p, and U1 = n1 n2 - U1. */
  assert_int_equal(job_mwu_test(y3, 5, x3, 5, &r), RB_OK);
  assert_true(r.u1 == 22 && r.u == 3);
  assert_true(fabs(r.p - 14.0 / 252.0) < 1e-12);
}

static void test_mwu_ties_normal(void **state) {
  (void)state;
  /* Hand-computed: ranks 1, 3, 3, 5.5 for x -> R1 = 12.5, U1 = 2.5; tie term 24 + 6;
   * var = 16/12 (9 - 30/56) = 11.2857; z = (5.5 - 0.5)/sqrt(var) = 1.48835; p = 0.136658. */
  struct job_mwu r;
  const double x[] = {1, 2, 2, 3}, y[] = {2, 3, 4, 5};
  assert_int_equal(job_mwu_test(x, 4, y, 4, &r), RB_OK);
  assert_false(r.exact);
  assert_true(r.u1 == 2.5);
  assert_true(fabs(r.z - 1.4883513944689681) < 1e-9);
  assert_true(fabs(r.p - 0.13665824773814753) < 1e-9);
  /* Identical samples: p = 1. */
  const double same[] = {4, 4, 4};
  assert_int_equal(job_mwu_test(same, 3, same, 3, &r), RB_OK);
  assert_true(r.p == 1.0);
  assert_int_equal(job_mwu_test(same, 0, same, 3, &r), RB_ERR_INVALID);
}

static void test_mwu_large_shift_is_significant(void **state) {
  (void)state;
  enum { N = 2000 };
  double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  for (int i = 0; i < N; i++) {
    a[i] = 10 + (i % 97) * 0.1;
    b[i] = 12 + (i % 89) * 0.1;
  }
  struct job_mwu r;
  assert_int_equal(job_mwu_test(a, N, b, N, &r), RB_OK);
  assert_true(r.p < 1e-6);
  assert_true(r.a12 < 0.5);
  free(a);
  free(b);
}

static void test_bootstrap_interval(void **state) {
  (void)state;
  enum { N = 500 };
  double a[N], b[N];
  for (int i = 0; i < N; i++) {
    a[i] = 100 + (i * 37 % N) * 0.1; /* 100 .. 149.9 */
    b[i] = a[i] + 20;                /* shifted by exactly 20 */
  }
  struct job_ci ci, again;
  assert_int_equal(job_bootstrap_quantile_diff(a, N, b, N, 50, 1000, 42, 0.95, &ci), RB_OK);
  assert_true(fabs(ci.estimate - 20) < 1e-9);
  assert_true(ci.lo <= 20 && ci.hi >= 20);
  assert_true(ci.lo > 10 && ci.hi < 30);
  /* Seeded: the same inputs give the same interval. */
  assert_int_equal(job_bootstrap_quantile_diff(a, N, b, N, 50, 1000, 42, 0.95, &again), RB_OK);
  assert_true(ci.lo == again.lo && ci.hi == again.hi);
  /* Same distribution: the interval covers 0. */
  assert_int_equal(job_bootstrap_quantile_diff(a, N, a, N, 99, 500, 7, 0.95, &ci), RB_OK);
  assert_true(ci.lo <= 0 && ci.hi >= 0);
}

static void test_quantile_nearest_rank(void **state) {
  (void)state;
  double v[] = {15, 20, 35, 40, 50};
  /* Textbook nearest-rank: p30 -> rank 2 (20), p40 -> rank 2 (20), p50 -> rank 3 (35). */
  assert_true(job_quantile_sorted(v, 5, 30) == 20);
  assert_true(job_quantile_sorted(v, 5, 40) == 20);
  assert_true(job_quantile_sorted(v, 5, 50) == 35);
  assert_true(job_quantile_sorted(v, 5, 100) == 50);
  assert_true(job_quantile_sorted(v, 5, 0) == 15);
}

static void test_hist_buckets(void **state) {
  (void)state;
  uint64_t lo, hi;
  for (uint64_t v = 0; v < 2048; v += 7) {
    job_hist_bucket_range(job_hist_index(v), &lo, &hi);
    assert_true(lo == v && hi == v); /* exact below 2048 */
  }
  const uint64_t probes[] = {2048,    2049,      4095,       4096,
                             1000000, 123456789, 1ull << 40, (1ull << 52) + 5};
  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
    job_hist_bucket_range(job_hist_index(probes[i]), &lo, &hi);
    assert_true(lo <= probes[i] && probes[i] <= hi);
    assert_true((double)(hi - lo) <= (double)lo / 1024.0); /* 3 significant digits */
  }
}

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 11;
}

static void test_hist_error_bound(void **state) {
  (void)state;
  enum { N = 100000 };
  struct job_hist *h = job_hist_create();
  uint64_t *v = malloc(N * sizeof *v), seed = 1;
  for (int i = 0; i < N; i++) {
    /* log-uniform over 1 .. 1e10 (1 ns .. 10 s), the shape of latencies */
    double e = (double)(lcg(&seed) % 1000000) / 100000.0;
    v[i] = (uint64_t)pow(10.0, e) + 1;
    job_hist_record(h, v[i]);
  }
  rb_sort_u64(v, N);
  const double ps[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
    uint64_t exact = rb_percentile_sorted(v, N, ps[i]);
    uint64_t got = job_hist_percentile(h, ps[i]);
    assert_true(got >= exact);
    assert_true((double)(got - exact) <= (double)exact / 1024.0);
  }
  assert_int_equal(job_hist_count(h), N);
  assert_int_equal(job_hist_min(h), v[0]);
  assert_int_equal(job_hist_max(h), v[N - 1]);
  free(v);
  job_hist_destroy(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mwu_exact_counts),
      cmocka_unit_test(test_mwu_textbook_exact),
      cmocka_unit_test(test_mwu_ties_normal),
      cmocka_unit_test(test_mwu_large_shift_is_significant),
      cmocka_unit_test(test_bootstrap_interval),
      cmocka_unit_test(test_quantile_nearest_rank),
      cmocka_unit_test(test_hist_buckets),
      cmocka_unit_test(test_hist_error_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
