/* test_job_arrival.c: the arrival processes (job_arrival.h) checked statistically with fixed
 * seeds (a Kolmogorov-Smirnov test of poisson's gaps against the exponential, which a constant
 * or uniform process fails; mean and CV), bursts' counts per period, the Azure and timestamps
 * readers (totals, minutes, speedup, every refusal with FILE:LINE), determinism, sharding
 * through job_sched, the knobs' validation, and the document's arrival section (written by
 * job_results, read back by job_doc, which refuses a malformed one). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job_arrival.h"
#include "job_doc.h"
#include "job_params.h"
#include "job_results.h"
#include "job_sched.h"
#include "rb_rng.h"

#define SEC 1000000000ull

static struct job_params params(const char *arrival) {
  struct job_params p;
  job_params_defaults(&p);
  snprintf(p.arrival, sizeof p.arrival, "%s", arrival);
  return p;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Kolmogorov-Smirnov distance between the sample and the exponential of the given rate. */
static double ks_exponential(double *x, size_t n, double rate) {
  qsort(x, n, sizeof *x, cmp_d);
  double d = 0;
  for (size_t i = 0; i < n; i++) {
    double f = 1 - exp(-rate * x[i]);
    double lo = f - (double)i / (double)n, hi = (double)(i + 1) / (double)n - f;
    if (lo > d) d = lo;
    if (hi > d) d = hi;
  }
  return d;
}

/* The gaps of offsets (the first one from 0), in seconds. */
static double *gaps_of(const struct job_arrival *a) {
  double *g = malloc(a->count * sizeof *g);
  uint64_t prev = 0;
  for (uint64_t k = 0; k < a->count; k++) {
    uint64_t t = job_arrival_offset(a, k);
    assert_true(t >= prev);
    g[k] = (double)(t - prev) / 1e9;
    prev = t;
  }
  return g;
}

/* KS critical value at alpha = 0.001: 1.95 / sqrt(n). */
static double ks_critical(size_t n) { return 1.95 / sqrt((double)n); }

static void test_poisson_ks_mean_cv(void **state) {
  (void)state;
  struct job_params p = params("poisson");
  p.rate = 250;
  p.invocations = 20000;
  p.seed = 7;
  struct job_arrival a;
  char err[400];
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  assert_int_equal(a.kind, JOB_ARRIVAL_POISSON);
  assert_true(a.count == 20000);
  double *g = gaps_of(&a);
  struct job_gaps st = {0};
  for (uint64_t k = 0; k < a.count; k++) job_gaps_add(&st, job_arrival_offset(&a, k));
  double d = ks_exponential(g, a.count, p.rate);
  assert_true(d < ks_critical(a.count));
  /* mean gap within 3% of 1/rate, CV within 5% of 1 (the exponential's) */
  assert_true(fabs(job_gaps_rate(&st) / p.rate - 1) < 0.03);
  assert_true(fabs(job_gaps_cv(&st) - 1) < 0.05);
  free(g);
  /* the same test fails a wrong process at the same mean: constant gaps, then uniform ones */
  double *c = malloc(a.count * sizeof *c), *u = malloc(a.count * sizeof *u);
  struct rb_rng r;
  rb_rng_init(&r, 7, RB_RNG_ARRIVAL, 0, 0);
  for (uint64_t k = 0; k < a.count; k++) {
    c[k] = 1 / p.rate;
    u[k] = rb_rng_double(&r) * 2 / p.rate;
  }
  assert_true(ks_exponential(c, a.count, p.rate) > ks_critical(a.count));
  assert_true(ks_exponential(u, a.count, p.rate) > ks_critical(a.count));
  free(c);
  free(u);
  /* the constant process itself: CV 0, exact rate */
  struct job_params cp = params("constant");
  cp.rate = 250;
  cp.invocations = 1000;
  struct job_arrival ca;
  assert_int_equal(job_arrival_build(&cp, NULL, &ca, err, sizeof err), RB_OK);
  assert_null(ca.offsets);
  struct job_gaps cs = {0};
  for (uint64_t k = 0; k < ca.count; k++) job_gaps_add(&cs, job_arrival_offset(&ca, k));
  assert_true(fabs(job_gaps_rate(&cs) - 250) < 1e-6);
  assert_true(job_gaps_cv(&cs) < 1e-6);
  job_arrival_free(&a);
}

static void test_poisson_count_from_duration_and_warmup(void **state) {
  (void)state;
  struct job_params p = params("poisson");
  p.rate = 100;
  p.duration = 30;
  struct job_arrival a;
  char err[400];
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  assert_true(a.count == 3000); /* rate x duration, as the constant process */
  uint64_t w = job_arrival_due_before(&a, 2.5);
  assert_true(job_arrival_offset(&a, w - 1) < 2500000000ull);
  assert_true(job_arrival_offset(&a, w) >= 2500000000ull);
  assert_true(w > 200 && w < 300); /* about 250 */
  assert_true(job_arrival_due_before(&a, 0) == 0);
  assert_true(job_arrival_due_before(&a, 1e6) == a.count);
  job_arrival_free(&a);
}

static void test_bursts_counts_per_period(void **state) {
  (void)state;
  struct job_params p = params("bursts");
  p.rate = 10;
  p.burst_rate = 100;
  p.burst_seconds = 1;
  p.base_seconds = 4;
  p.invocations = 700; /* 5 periods of 100 + 40 */
  struct job_arrival a;
  char err[400];
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  assert_true(a.count == 700);
  for (uint64_t per = 0; per < 5; per++) {
    uint64_t in_burst = 0, in_base = 0;
    for (uint64_t k = 0; k < a.count; k++) {
      uint64_t t = job_arrival_offset(&a, k);
      if (t >= per * 5 * SEC && t < (per * 5 + 1) * SEC) in_burst++;
      if (t >= (per * 5 + 1) * SEC && t < (per + 1) * 5 * SEC) in_base++;
    }
    assert_true(in_burst == 100);
    assert_true(in_base == 40);
  }
  /* evenly spaced inside a phase */
  assert_true(job_arrival_offset(&a, 1) == SEC / 100);
  assert_true(job_arrival_offset(&a, 101) == SEC + SEC / 10);
  job_arrival_free(&a);
  /* a duration: the invocations due before it (2 periods + 1 s burst + 1 s base = 390) */
  p.duration = 12;
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  assert_true(a.count == 390);
  assert_true(job_arrival_offset(&a, a.count - 1) < 12 * SEC);
  /* the mean rate over whole periods is the process's: 140 per 5 s */
  assert_true(fabs(job_arrival_rate_between(&a, 0, 280) - 28) < 1e-6);
  job_arrival_free(&a);
}

/* An Azure CSV: header, then rows of counts given as minute:count pairs (0 elsewhere). */
static char *azure_text(int rows, const int (*cells)[3], size_t ncells) {
  size_t cap = (size_t)(rows + 1) * 8000 + 100;
  char *s = malloc(cap);
  size_t n = (size_t)snprintf(s, cap, "HashOwner,HashApp,HashFunction,Trigger");
  for (int m = 1; m <= 1440; m++) n += (size_t)snprintf(s + n, cap - n, ",%d", m);
  n += (size_t)snprintf(s + n, cap - n, "\r\n"); /* CRLF is accepted */
  for (int r = 1; r <= rows; r++) {
    n += (size_t)snprintf(s + n, cap - n, "o%d,a%d,f%d,http", r, r, r);
    for (int m = 1; m <= 1440; m++) {
      int c = 0;
      for (size_t i = 0; i < ncells; i++)
        if (cells[i][0] == r && cells[i][1] == m) c = cells[i][2];
      n += (size_t)snprintf(s + n, cap - n, ",%d", c);
    }
    n += (size_t)snprintf(s + n, cap - n, "\n");
  }
  return s;
}

static enum rb_err build_text(const struct job_params *p, const char *text, struct job_arrival *a,
                              char *err, size_t errlen) {
  FILE *f = fmemopen((void *)(uintptr_t)text, strlen(text), "r");
  assert_non_null(f);
  enum rb_err rc = job_arrival_build_from(p, f, "t.csv", a, err, errlen);
  fclose(f);
  return rc;
}

static const int cells[][3] = {{1, 1, 5},  {1, 2, 7},  {1, 3, 2},    {2, 2, 100}, {2, 4, 9},
                               {3, 2, 11}, {3, 3, 13}, {3, 1440, 4}, {1, 1440, 1}};

static void test_trace_azure_totals_minutes_speedup(void **state) {
  (void)state;
  char *text = azure_text(3, cells, sizeof cells / sizeof cells[0]);
  struct job_params p = params("trace");
  snprintf(p.trace_file, sizeof p.trace_file, "t.csv");
  snprintf(p.trace_rows, sizeof p.trace_rows, "1,3");
  snprintf(p.trace_minutes, sizeof p.trace_minutes, "2-3");
  p.trace_speedup = 60; /* a minute becomes a second */
  p.invocations = 5;    /* ignored */
  p.duration = 1;       /* ignored */
  struct job_arrival a;
  char err[400];
  assert_int_equal(build_text(&p, text, &a, err, sizeof err), RB_OK);
  /* rows 1 and 3, minutes 2 and 3: 7 + 11, then 2 + 13 */
  assert_true(a.count == 33);
  assert_true(a.trace_rows_read == 3 && a.trace_rows_used == 2);
  uint64_t in[2] = {0, 0};
  for (uint64_t k = 0; k < a.count; k++) {
    uint64_t t = job_arrival_offset(&a, k);
    assert_true(t < 2 * SEC);
    in[t / SEC]++;
  }
  assert_true(in[0] == 18);
  assert_true(in[1] == 15);
  job_arrival_free(&a);
  /* every row and minute: the sum of all counts; constant spread: evenly inside the minute */
  snprintf(p.trace_rows, sizeof p.trace_rows, "all");
  p.trace_minutes[0] = '\0';
  snprintf(p.trace_spread, sizeof p.trace_spread, "constant");
  p.trace_speedup = 1;
  assert_int_equal(build_text(&p, text, &a, err, sizeof err), RB_OK);
  assert_true(a.count == 5 + 7 + 2 + 100 + 9 + 11 + 13 + 4 + 1);
  assert_true(a.minute_first == 1 && a.minute_last == 1440);
  assert_true(job_arrival_offset(&a, 0) == 0);
  assert_true(job_arrival_offset(&a, 1) == 12 * SEC); /* 5 in minute 1: every 12 s */
  assert_true(job_arrival_offset(&a, 5) == 60 * SEC); /* minute 2's first */
  assert_true(job_arrival_offset(&a, a.count - 1) >= 1439 * 60 * SEC);
  job_arrival_free(&a);
  free(text);
}

static void test_trace_shipped_files(void **state) {
  (void)state;
  struct job_params p = params("trace");
  snprintf(p.trace_file, sizeof p.trace_file, "traces/synthetic-azure-5x1440.csv");
  struct job_arrival a;
  char err[600];
  /* relative to the scenario directory */
  assert_int_equal(job_arrival_build(&p, RBENCH_SOURCE_DIR "/scenarios", &a, err, sizeof err),
                   RB_OK);
  assert_true(a.count == 14400 + 1440 + 17280 + 2127 + 14); /* the README's row totals */
  assert_true(a.trace_rows_read == 5);
  job_arrival_free(&a);
  snprintf(p.trace_rows, sizeof p.trace_rows, "3");
  snprintf(p.trace_minutes, sizeof p.trace_minutes, "1-30");
  assert_int_equal(job_arrival_build(&p, RBENCH_SOURCE_DIR "/scenarios", &a, err, sizeof err),
                   RB_OK);
  assert_true(a.count == 360); /* one queue burst: 3 minutes x 120 */
  job_arrival_free(&a);
  snprintf(p.trace_format, sizeof p.trace_format, "timestamps");
  snprintf(p.trace_file, sizeof p.trace_file, "traces/example-timestamps.txt");
  p.trace_speedup = 2;
  assert_int_equal(job_arrival_build(&p, RBENCH_SOURCE_DIR "/scenarios", &a, err, sizeof err),
                   RB_OK);
  assert_true(a.count == 110);
  assert_true(job_arrival_offset(&a, 1) == SEC / 40); /* 0.05 s / 2 */
  assert_true(llabs((long long)job_arrival_offset(&a, a.count - 1) - 2550000000ll) <= 1);
  job_arrival_free(&a);
  /* a missing file is named */
  snprintf(p.trace_file, sizeof p.trace_file, "traces/nope.txt");
  assert_int_not_equal(job_arrival_build(&p, "/nonexistent", &a, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "trace_file: cannot open /nonexistent/traces/nope.txt"));
}

static void test_determinism(void **state) {
  (void)state;
  char *text = azure_text(3, cells, sizeof cells / sizeof cells[0]);
  const char *kinds[] = {"poisson", "trace"};
  for (int i = 0; i < 2; i++) {
    struct job_params p = params(kinds[i]);
    p.invocations = 500;
    snprintf(p.trace_file, sizeof p.trace_file, "t.csv");
    struct job_arrival a, b, c;
    char err[400];
    assert_int_equal(build_text(&p, text, &a, err, sizeof err), RB_OK);
    assert_int_equal(build_text(&p, text, &b, err, sizeof err), RB_OK);
    p.seed = 2;
    assert_int_equal(build_text(&p, text, &c, err, sizeof err), RB_OK);
    assert_true(a.count == b.count && a.count == c.count);
    assert_memory_equal(a.offsets, b.offsets, a.count * sizeof *a.offsets);
    assert_memory_not_equal(a.offsets, c.offsets, a.count * sizeof *a.offsets);
    job_arrival_free(&a);
    job_arrival_free(&b);
    job_arrival_free(&c);
  }
  free(text);
}

/* Shard i of n, through job_sched with a fake clock, sends exactly the k with k mod n == i at
 * the unsharded process's times. */
static void test_shards_take_the_unsharded_times(void **state) {
  (void)state;
  struct job_params p = params("poisson");
  p.rate = 500;
  p.invocations = 300;
  struct job_arrival a;
  char err[400];
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  const uint64_t start = 7 * SEC;
  for (unsigned n = 1; n <= 4; n++) {
    bool seen[300] = {false};
    for (unsigned i = 0; i < n; i++) {
      struct job_sched s;
      job_sched_init(&s, start, p.rate, a.count, 1000, 1000000);
      job_sched_set_offsets(&s, a.offsets);
      job_sched_shard(&s, i, n);
      uint64_t k = 0, due = 0, wait = 0, now = 0;
      for (;;) {
        enum job_sched_action act = job_sched_next(&s, now, &k, &due, &wait);
        if (act == JOB_SCHED_DONE) break;
        if (act == JOB_SCHED_WAIT) {
          now += wait;
          continue;
        }
        assert_int_equal(act, JOB_SCHED_SEND);
        assert_true(k % n == i);
        assert_false(seen[k]);
        seen[k] = true;
        assert_true(due == start + a.offsets[k]);
        assert_true(job_sched_due(&s, k) == due);
        assert_true(now == due); /* the fake clock sends on time: never late */
        job_sched_sent(&s, now);
        job_sched_done(&s);
      }
      assert_true(s.late == 0);
    }
    for (int k = 0; k < 300; k++) assert_true(seen[k]);
  }
  job_arrival_free(&a);
}

static void expect_refused(const struct job_params *p, const char *text, const char *want) {
  struct job_arrival a;
  char err[600] = "";
  assert_int_not_equal(build_text(p, text, &a, err, sizeof err), RB_OK);
  if (!strstr(err, want)) fail_msg("expected '%s' in: %s", want, err);
  assert_null(a.offsets);
}

static void test_azure_refusals(void **state) {
  (void)state;
  struct job_params p = params("trace");
  snprintf(p.trace_file, sizeof p.trace_file, "t.csv");
  char *good = azure_text(3, cells, sizeof cells / sizeof cells[0]);
  size_t n = strlen(good);
  char *bad = malloc(n + 64);
  /* the third data row (line 4) loses its last column */
  memcpy(bad, good, n + 1);
  char *last_nl = strrchr(bad, '\n');
  *last_nl = '\0';
  char *comma = strrchr(bad, ',');
  strcpy(comma, "\n");
  expect_refused(&p, bad, "t.csv:4: 1443 columns; expected 1444");
  /* one column too many */
  memcpy(bad, good, n + 1);
  strcpy(strrchr(bad, '\n'), ",7\n");
  expect_refused(&p, bad, "t.csv:4: 1445 columns");
  /* a negative count on line 2, minute 2 */
  memcpy(bad, good, n + 1);
  char *row1 = strstr(bad, "o1,a1,f1,http,5,7,");
  memcpy(row1 + strlen("o1,a1,f1,http,5,"), "-", 1);
  expect_refused(&p, bad,
                 "t.csv:2: minute 2 (column 6): expected a non-negative integer count, "
                 "got '-'");
  /* a non-integer count */
  row1 = strstr(good, "o1,a1,f1,http,5,7,") + strlen("o1,a1,f1,http,5,");
  snprintf(bad, n + 64, "%.*s1.5%s", (int)(row1 - good), good, row1 + 1);
  expect_refused(&p, bad,
                 "t.csv:2: minute 2 (column 6): expected a non-negative integer count, "
                 "got '1.5'");
  /* an empty row in the middle */
  memcpy(bad, good, n + 1);
  char *row2 = strstr(bad, "o2,");
  memmove(row2 + 1, row2, strlen(row2) + 1);
  row2[0] = '\n';
  expect_refused(&p, bad, "t.csv:3: empty row");
  /* a wrong header, an empty file, no data rows */
  expect_refused(&p, "HashOwner,HashApp\n", "t.csv:1: the header has 2 columns; expected 1444");
  memcpy(bad, good, n + 1);
  memcpy(bad, "Owner", 5);
  expect_refused(&p, bad, "t.csv:1: expected the Azure Functions 2019 header");
  expect_refused(&p, "", "t.csv:1: empty file");
  memcpy(bad, good, n + 1);
  *strchr(bad, '\n') = '\0';
  strcat(bad, "\n");
  expect_refused(&p, bad, "t.csv:2: no data rows");
  /* rows and minutes out of range, an empty selection */
  snprintf(p.trace_rows, sizeof p.trace_rows, "2,4-5");
  expect_refused(&p, good, "t.csv: trace_rows: row 5 is beyond the file's 3 data rows");
  snprintf(p.trace_rows, sizeof p.trace_rows, "0");
  expect_refused(&p, good, "trace_rows: expected \"all\" or data row numbers");
  snprintf(p.trace_rows, sizeof p.trace_rows, "3-1");
  expect_refused(&p, good, "trace_rows: a range FIRST-LAST needs LAST >= FIRST");
  snprintf(p.trace_rows, sizeof p.trace_rows, "2");
  snprintf(p.trace_minutes, sizeof p.trace_minutes, "5-1441");
  expect_refused(&p, good, "trace_minutes: expected 1 <= FIRST <= LAST <= 1440");
  snprintf(p.trace_minutes, sizeof p.trace_minutes, "1-x");
  expect_refused(&p, good, "trace_minutes: expected FIRST-LAST");
  snprintf(p.trace_minutes, sizeof p.trace_minutes, "5-100");
  expect_refused(&p, good,
                 "t.csv: the selected rows (trace_rows \"2\") and minutes 5-100 hold no "
                 "invocations");
  /* more than the cap */
  p.trace_minutes[0] = '\0';
  static const int huge[][3] = {{1, 1, 20000000}, {1, 2, 1}};
  char *big = azure_text(1, huge, 2);
  snprintf(p.trace_rows, sizeof p.trace_rows, "all");
  expect_refused(&p, big, "hold more than 20000000 invocations");
  free(big);
  free(bad);
  free(good);
}

static void test_timestamps_refusals(void **state) {
  (void)state;
  struct job_params p = params("trace");
  snprintf(p.trace_file, sizeof p.trace_file, "t.csv");
  snprintf(p.trace_format, sizeof p.trace_format, "timestamps");
  struct job_arrival a;
  char err[400];
  assert_int_equal(build_text(&p, "# c\n0\n\n0.5 # half\n  0.5\n2\n", &a, err, sizeof err), RB_OK);
  assert_true(a.count == 4);
  assert_true(a.offsets[1] == SEC / 2 && a.offsets[2] == SEC / 2 && a.offsets[3] == 2 * SEC);
  job_arrival_free(&a);
  expect_refused(&p, "0\n1\n# x\n0.5\n",
                 "t.csv:4: 0.5 is before the previous timestamp 1 (line 2)");
  expect_refused(&p, "0\n-1\n", "t.csv:2: expected a timestamp in seconds from 0");
  expect_refused(&p, "0\n1s\n", "t.csv:2: expected a timestamp in seconds from 0");
  expect_refused(&p, "nan\n", "t.csv:1: expected a timestamp");
  expect_refused(&p, "inf\n", "t.csv:1: expected a timestamp");
  expect_refused(&p, "# nothing\n\n", "t.csv: no timestamps");
  expect_refused(&p, "20000000\n",
                 "t.csv:1: 20000000 s (after trace_speedup 1) is beyond 10000000 s");
}

static void test_validation(void **state) {
  (void)state;
  char err[400];
  struct job_params p = params("bursts");
  assert_int_not_equal(job_params_validate(&p, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "burst_rate: arrival bursts needs burst_rate"));
  p.burst_rate = 50;
  assert_int_equal(job_params_validate(&p, err, sizeof err), RB_OK);
  p = params("trace");
  assert_int_not_equal(job_params_validate(&p, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "trace_file: arrival trace needs trace_file"));
  snprintf(p.trace_file, sizeof p.trace_file, "x.csv");
  snprintf(p.trace_rows, sizeof p.trace_rows, "1,,2");
  assert_int_not_equal(job_params_validate(&p, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "trace_rows:"));
  p = params("poisson");
  p.concurrency = 4;
  assert_int_not_equal(job_params_validate(&p, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "arrival poisson: concurrency 4 is a closed loop"));
  p = params("poisson");
  p.sweep.form = JOB_RATE_LIST;
  p.sweep.list[0] = 10, p.sweep.list[1] = 20, p.sweep.list_count = 2;
  assert_int_not_equal(job_params_validate(&p, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "arrival poisson: a rate sweep steps a constant rate"));
  p = params("poisson");
  p.invocations = 30000000;
  assert_int_not_equal(job_params_validate(&p, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "arrival poisson plans 30000000 invocations; at most 20000000"));
  p = params("constant"); /* the constant process keeps its own limit (10^9) */
  p.invocations = 30000000;
  assert_int_equal(job_params_validate(&p, err, sizeof err), RB_OK);
  /* the trace ignores invocations: a warm-up beyond rate x invocations is no error here */
  p = params("trace");
  snprintf(p.trace_file, sizeof p.trace_file, "x.csv");
  p.warmup = 100;
  assert_int_equal(job_params_validate(&p, err, sizeof err), RB_OK);
}

static void test_gaps(void **state) {
  (void)state;
  struct job_gaps g = {0};
  assert_true(job_gaps_rate(&g) == 0 && job_gaps_cv(&g) == 0);
  job_gaps_add(&g, 0);
  job_gaps_add(&g, SEC);
  assert_true(job_gaps_rate(&g) == 1 && job_gaps_cv(&g) == 0); /* 2 times: no CV yet */
  job_gaps_add(&g, 4 * SEC);                                   /* gaps 1 s and 3 s */
  assert_true(fabs(job_gaps_rate(&g) - 0.5) < 1e-12);
  assert_true(fabs(job_gaps_cv(&g) - 0.5) < 1e-12); /* sd 1 / mean 2 */
}

static cJSON *item_at(const cJSON *o, const char *a, const char *b) {
  return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
}

static void test_document_arrival_section(void **state) {
  (void)state;
  char dir[] = "/tmp/rbench-arrival-XXXXXX", out[200], err[400];
  assert_non_null(mkdtemp(dir));
  snprintf(out, sizeof out, "%s/r.json", dir);
  struct job_results *res = NULL;
  assert_int_equal(job_results_create(&res, out, NULL, 8, NULL, err, sizeof err), RB_OK);
  struct job_params p = params("poisson");
  p.rate = 50;
  p.invocations = 400;
  p.seed = 9;
  struct job_arrival a;
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  struct job_gaps ig = {0}, rg = {0};
  for (uint64_t k = 0; k < a.count; k++) {
    job_gaps_add(&ig, a.offsets[k]);
    job_gaps_add(&rg, a.offsets[k] + 50000 * (k % 3)); /* sends 0 to 100 µs late */
  }
  struct job_target_conf t;
  job_target_conf_defaults(&t);
  struct job_run_info in = {.scenario = "unit",
                            .params = &p,
                            .target = &t,
                            .planned = a.count,
                            .sent = a.count,
                            .first_sent_s = 0.1,
                            .last_sent_s = 8.0,
                            .arrival = &a,
                            .intended_gaps = ig,
                            .realised_gaps = rg,
                            .intended_rate_sent = job_arrival_rate_between(&a, 0, a.count - 1),
                            .complete = true};
  cJSON *d = job_results_summary(res, &in);
  assert_non_null(d);
  assert_string_equal(item_at(d, "arrival", "process")->valuestring, "poisson");
  assert_true(item_at(d, "arrival", "rate")->valuedouble == 50);
  assert_true(item_at(d, "arrival", "seed")->valuedouble == 9);
  assert_true(item_at(d, "arrival", "planned")->valuedouble == 400);
  assert_true(item_at(d, "arrival", "measured_sends")->valuedouble == 400);
  assert_true(fabs(item_at(d, "arrival", "intended_cv")->valuedouble - job_gaps_cv(&ig)) < 1e-12);
  assert_true(fabs(item_at(d, "arrival", "realised_rate")->valuedouble - job_gaps_rate(&rg)) <
              1e-9);
  /* requested_rate: the process's mean rate between the first and last send, not `rate` */
  assert_true(cJSON_GetObjectItem(d, "requested_rate")->valuedouble == in.intended_rate_sent);
  assert_true(in.intended_rate_sent != 50);
  /* the parameters' planned_invocations is the process's count */
  assert_true(
      cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "scenario"), "parameters"),
                          "planned_invocations")
          ->valuedouble == 400);
  /* read back, typed */
  struct job_doc doc;
  assert_int_equal(job_doc_read(d, "r.json", &doc, err, sizeof err), RB_OK);
  assert_true(doc.arrival.present);
  assert_string_equal(doc.arrival.process, "poisson");
  assert_true(doc.arrival.planned == 400 && doc.arrival.measured_sends == 400);
  assert_true(fabs(doc.arrival.intended_cv - job_gaps_cv(&ig)) < 1e-12);
  assert_true(fabs(doc.arrival.realised_cv - job_gaps_cv(&rg)) < 1e-12);
  job_doc_free(&doc);
  /* malformed sections are refused with the field named */
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(d, "arrival"), "process",
                            cJSON_CreateString("lumpy"));
  assert_int_not_equal(job_doc_read(d, "r.json", &doc, err, sizeof err), RB_OK);
  assert_non_null(strstr(err,
                         "r.json: arrival.process: expected constant, poisson, bursts or "
                         "trace, got 'lumpy'"));
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(d, "arrival"), "process",
                            cJSON_CreateString("trace"));
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(d, "arrival"), "intended_cv",
                            cJSON_CreateNumber(-1));
  assert_int_not_equal(job_doc_read(d, "r.json", &doc, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "r.json: arrival.intended_cv: -1 is negative"));
  cJSON_Delete(d);
  /* a closed loop has no arrival process: null; figures need enough sends: null */
  in.arrival = NULL;
  in.closed = true;
  d = job_results_summary(res, &in);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "arrival")));
  cJSON_Delete(d);
  in.arrival = &a, in.closed = false;
  in.intended_gaps = in.realised_gaps = (struct job_gaps){0};
  d = job_results_summary(res, &in);
  assert_true(cJSON_IsNull(item_at(d, "arrival", "intended_rate")));
  assert_true(cJSON_IsNull(item_at(d, "arrival", "realised_cv")));
  assert_int_equal(job_doc_read(d, "r.json", &doc, err, sizeof err), RB_OK);
  assert_true(isnan(doc.arrival.intended_rate));
  job_doc_free(&doc);
  cJSON_Delete(d);
  job_results_destroy(res);
  job_arrival_free(&a);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_poisson_ks_mean_cv),
      cmocka_unit_test(test_poisson_count_from_duration_and_warmup),
      cmocka_unit_test(test_bursts_counts_per_period),
      cmocka_unit_test(test_trace_azure_totals_minutes_speedup),
      cmocka_unit_test(test_trace_shipped_files),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_shards_take_the_unsharded_times),
      cmocka_unit_test(test_azure_refusals),
      cmocka_unit_test(test_timestamps_refusals),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_gaps),
      cmocka_unit_test(test_document_arrival_section),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
