/* test_job_report.c: the comparison table (significance marks, repetitions mode) and the
 * SVG/HTML renderer (log 1/(1-p) axis, one curve per run, escaping). */
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

#include "job_compare.h"
#include "job_report.h"

/* A minimal results document: n successful invocations with execution time base + i*step. */
static cJSON *doc(const char *run, int rep, int reps, int n, double base, double step) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddNumberToObject(d, "schema_version", 1);
  cJSON *sc = cJSON_AddObjectToObject(d, "scenario");
  cJSON_AddStringToObject(sc, "run", run);
  cJSON_AddNumberToObject(sc, "repetition", rep);
  cJSON_AddNumberToObject(sc, "repetitions", reps);
  cJSON *inv = cJSON_AddObjectToObject(d, "invocations");
  cJSON_AddNumberToObject(inv, "measured", n);
  cJSON_AddNumberToObject(inv, "succeeded", n);
  cJSON_AddNumberToObject(d, "achieved_rate", 10);
  cJSON_AddNumberToObject(d, "requested_rate", 10);
  cJSON_AddNumberToObject(d, "success_rate", 1);
  cJSON *et = cJSON_AddObjectToObject(d, "execution_time_ms");
  cJSON_AddNumberToObject(et, "p50", base);
  cJSON *raw = cJSON_AddArrayToObject(d, "raw_results");
  for (int i = 0; i < n; i++) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "intended_ms", i * 100.0);
    cJSON_AddNumberToObject(r, "end_ms", i * 100.0 + base);
    cJSON_AddNumberToObject(r, "execution_time_ms", base + (i * 7 % n) * step);
    cJSON_AddBoolToObject(r, "success", i % 10 != 9 || reps > 1);
    cJSON_AddItemToArray(raw, r);
  }
  return d;
}

static void test_compare_single_documents(void **state) {
  (void)state;
  struct job_side a, b;
  char err[200];
  job_side_init(&a, "direct");
  job_side_init(&b, "batched");
  cJSON *da = doc("direct", 1, 1, 200, 10, 0.05), *db = doc("batched", 1, 1, 200, 6, 0.05);
  assert_int_equal(job_side_add(&a, da, err, sizeof err), RB_OK);
  assert_int_equal(job_side_add(&b, db, err, sizeof err), RB_OK);
  assert_int_equal(a.n, 180); /* failures are left out of latency samples */
  struct job_comparison c;
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  assert_false(c.mwu_on_medians);
  assert_true(c.mwu.p < 0.001);
  assert_true(c.rows[0].significant);
  assert_true(c.rows[0].b < c.rows[0].a);
  assert_true(c.median_diff.hi < 0); /* B is faster: the whole interval is negative */
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_compare_print(f, &a, &b, &c);
  fclose(f);
  assert_non_null(strstr(out, "execution p50 (ms)"));
  assert_non_null(strstr(out, "significant at alpha 0.05"));
  assert_non_null(strstr(out, "%"));
  free(out);
  /* The same data on both sides: nothing is significant, "~" is printed. */
  struct job_side a2;
  job_side_init(&a2, "again");
  job_side_add(&a2, da, err, sizeof err);
  assert_int_equal(job_compare_compute(&a, &a2, 0.05, 1, &c), RB_OK);
  assert_false(c.rows[0].significant);
  f = open_memstream(&out, &len);
  job_compare_print(f, &a, &a2, &c);
  fclose(f);
  assert_non_null(strstr(out, "~  (U test)"));
  free(out);
  cJSON *j = job_compare_json(&a, &a2, &c);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "mann_whitney"), "significant")));
  cJSON_Delete(j);
  job_side_free(&a2);
  job_side_free(&a);
  job_side_free(&b);
  cJSON_Delete(da);
  cJSON_Delete(db);
  /* Not a results document. */
  cJSON *junk = cJSON_CreateObject();
  job_side_init(&a, "x");
  assert_int_equal(job_side_add(&a, junk, err, sizeof err), RB_ERR_INVALID);
  job_side_free(&a);
  cJSON_Delete(junk);
}

static void test_compare_repetitions_use_medians(void **state) {
  (void)state;
  struct job_side a, b;
  char err[200];
  job_side_init(&a, "A");
  job_side_init(&b, "B");
  for (int r = 1; r <= 4; r++) {
    cJSON *x = doc("A", r, 4, 50, 10 + r, 0.01), *y = doc("B", r, 4, 50, 20 + r, 0.01);
    job_side_add(&a, x, err, sizeof err);
    job_side_add(&b, y, err, sizeof err);
    cJSON_Delete(x);
    cJSON_Delete(y);
  }
  struct job_comparison c;
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  assert_true(c.mwu_on_medians);
  assert_int_equal(c.mwu.n1, 4);
  assert_true(c.mwu.exact);
  assert_true(fabs(c.mwu.p - 2.0 / 70.0) < 1e-12); /* complete separation, n = 4 + 4 */
  job_side_free(&a);
  job_side_free(&b);
}

static void test_percentile_axis(void **state) {
  (void)state;
  assert_true(job_report_pct_x(0) == 0);
  assert_true(fabs(job_report_pct_x(90) - 1) < 1e-12);
  assert_true(fabs(job_report_pct_x(99) - 2) < 1e-12);
  assert_true(fabs(job_report_pct_x(99.9) - 3) < 1e-9);
  assert_true(isinf(job_report_pct_x(100)));
  assert_int_equal(job_plot_parse("latency"), JOB_PLOT_LATENCY);
  assert_int_equal(job_plot_parse("pie"), -1);
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

static void test_run_colors_by_group(void **state) {
  (void)state;
  /* Interleaved repetitions: every repetition of a run shares its colour, runs differ, and
   * the colour does not depend on how many repetitions came before. */
  static const char *const groups[] = {"direct", "batched", "direct", "batched", "direct",
                                       "batched", "direct", "batched", "direct", "batched",
                                       "coalesced"};
  struct job_report_run runs[11];
  memset(runs, 0, sizeof runs);
  for (size_t i = 0; i < 11; i++) snprintf(runs[i].group, sizeof runs[i].group, "%s", groups[i]);
  const char *direct = job_report_run_color(runs, 0);
  const char *batched = job_report_run_color(runs, 1);
  const char *coalesced = job_report_run_color(runs, 10);
  assert_string_not_equal(direct, batched);
  assert_string_not_equal(direct, coalesced);
  assert_string_not_equal(batched, coalesced);
  for (size_t i = 0; i < 10; i++)
    assert_string_equal(job_report_run_color(runs, i), i % 2 ? batched : direct);
}

static void test_svg_and_html(void **state) {
  (void)state;
  cJSON *d1 = doc("direct <&>", 1, 1, 1000, 5, 0.01), *d2 = doc("batched", 1, 1, 1000, 3, 0.01);
  struct job_report_run runs[2];
  char err[200];
  assert_int_equal(job_report_run_init(&runs[0], d1, err, sizeof err), RB_OK);
  assert_int_equal(job_report_run_init(&runs[1], d2, err, sizeof err), RB_OK);
  assert_int_equal(runs[0].n, 900);
  assert_int_equal(runs[0].seconds, 100);
  assert_true(runs[0].sec_err[9] == 1); /* the failure at i = 99 ended in second 9 */
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_report_svg(f, JOB_PLOT_PERCENTILES, runs, 2);
  fclose(f);
  assert_int_equal(count(out, "<svg"), 1);
  assert_int_equal(count(out, "<polyline"), 2); /* one curve per run */
  assert_non_null(strstr(out, ">99.9%<"));      /* 1000 samples reach the 99.9% tick */
  assert_non_null(strstr(out, "direct &lt;&amp;&gt;"));
  assert_null(strstr(out, "direct <&>"));
  free(out);
  f = open_memstream(&out, &len);
  job_report_html(f, runs, 2);
  fclose(f);
  assert_true(strncmp(out, "<!DOCTYPE html>", 15) == 0);
  assert_int_equal(count(out, "<svg"), 4);
  assert_int_equal(count(out, "<polyline"), 2 + 4 + 2 + 2); /* latency has p50 and p99 */
  assert_null(strstr(out, "<script"));
  assert_null(strstr(out, "http://") == NULL ? NULL : strstr(out, "src=\"http"));
  free(out);
  job_report_run_free(&runs[0]);
  job_report_run_free(&runs[1]);
  cJSON_Delete(d1);
  cJSON_Delete(d2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compare_single_documents),
      cmocka_unit_test(test_compare_repetitions_use_medians),
      cmocka_unit_test(test_percentile_axis),
      cmocka_unit_test(test_run_colors_by_group),
      cmocka_unit_test(test_svg_and_html),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
