/* test_job_sweep.c: capacity sweeps: the rate list / ramp / slo keys of a scenario (and every
 * error with its location), layering (--rate over a sweep), a ramp's rates and stop, SLO
 * verdicts, runner-limited steps, the max sustainable rate with gaps, pooling documents, the
 * summary and the comparison of two sweeps. */
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

#include "job_scenario.h"
#include "job_compare_sweep.h"
#include "job_sweep.h"

static enum rb_err parse(const char *text, struct job_scenario *s, char *err, size_t errlen) {
  return job_scenario_parse(text, strlen(text), "s.yaml", s, err, errlen);
}

/* ---- scenario keys ------------------------------------------------------------------ */

static void test_parse_list_ramp_slo(void **state) {
  (void)state;
  const char *y =
      "name: cap\n"
      "defaults:\n"
      "  invocations: 50\n"
      "  slo: {p99_ms: 50, max_error_rate: 0.02}\n"
      "runs:\n"
      "  - name: direct\n"
      "    rate: [50, 100, 200.5]\n"
      "  - name: batched\n"
      "    rate: {from: 50, factor: 2, until_slo: true, max: 400}\n"
      "  - name: fixed\n"
      "    rate: 30\n"
      "  - name: own\n"
      "    rate: {from: 10}\n"
      "    slo: {p99_ms: 5}\n";
  struct job_scenario s;
  char err[400] = "";
  assert_int_equal(parse(y, &s, err, sizeof err), RB_OK);
  const struct job_rate_sweep *a = &s.runs[0].sweep, *b = &s.runs[1].sweep;
  assert_int_equal(a->form, JOB_RATE_LIST);
  assert_int_equal(job_sweep_step_count(a), 3);
  double r = 0;
  assert_true(job_sweep_step_rate(a, 2, &r) && r == 200.5);
  assert_false(job_sweep_step_rate(a, 3, &r));
  assert_int_equal(b->form, JOB_RATE_RAMP);
  assert_true(b->until_slo);
  assert_int_equal(job_sweep_step_count(b), 4); /* 50 100 200 400 */
  assert_true(job_sweep_step_rate(b, 3, &r) && r == 400);
  /* slo from defaults on every run; a run's own slo replaces it */
  assert_true(a->slo.p99_ms == 50 && a->slo.max_error_rate == 0.02);
  assert_true(a->slo.min_achieved_ratio == 0.95);
  assert_int_equal(s.runs[2].sweep.form, JOB_RATE_FIXED);
  assert_true(s.runs[2].rate == 30);
  const struct job_rate_sweep *own = &s.runs[3].sweep;
  assert_true(own->slo.p99_ms == 5 && own->slo.max_error_rate == 0.01); /* default error bound */
  assert_int_equal(job_sweep_step_count(own), JOB_SWEEP_DEFAULT_STEPS); /* no max: ten steps */
  assert_true(job_sweep_step_rate(own, 9, &r) && r == 5120);
  job_scenario_free(&s);
}

static void test_defaults_sweep_and_plain_rate_layers(void **state) {
  (void)state;
  const char *y =
      "name: cap\n"
      "defaults:\n  rate: [10, 20]\n"
      "runs:\n  - name: a\n  - name: b\n    rate: 5\n";
  struct job_scenario s;
  char err[400] = "";
  assert_int_equal(parse(y, &s, err, sizeof err), RB_OK);
  assert_int_equal(s.runs[0].sweep.form, JOB_RATE_LIST);  /* inherited */
  assert_int_equal(s.runs[1].sweep.form, JOB_RATE_FIXED); /* a plain rate replaces it */
  assert_true(s.runs[1].rate == 5);
  /* the command line's --rate N: one rate, no sweep */
  struct job_params cli;
  memset(&cli, 0, sizeof cli);
  assert_int_equal(
      job_params_set_text(&cli, job_params_field("rate"), "70", false, err, sizeof err), RB_OK);
  job_params_overlay(&s.runs[0], &cli);
  assert_int_equal(s.runs[0].sweep.form, JOB_RATE_FIXED);
  assert_true(s.runs[0].rate == 70);
  job_scenario_free(&s);
}

static void expect_error(const char *yaml, const char *where, const char *what) {
  struct job_scenario s;
  char err[1600] = "";
  assert_int_not_equal(parse(yaml, &s, err, sizeof err), RB_OK);
  if (!strstr(err, where) || !strstr(err, what)) {
    print_error("got: %s\nexpected %s ... %s\n", err, where, what);
    fail();
  }
}

static void test_parse_errors(void **state) {
  (void)state;
#define RUN(body) "name: x\nruns:\n  - name: a\n" body
  expect_error(RUN("    rate: []\n"), "s.yaml:4:11:", "at least one rate");
  expect_error(RUN("    rate: [10, -2]\n"), "s.yaml:4:16:", "rate[1]: expected a number");
  expect_error(RUN("    rate: [10, \"20\"]\n"), "s.yaml:4:16:", "rate[1]: expected a number");
  expect_error(RUN("    rate: [20, 10]\n"), "s.yaml:4:16:", "strictly increasing, got 10 after 20");
  expect_error(RUN("    rate: [20, 20]\n"), "s.yaml:4:16:", "strictly increasing");
  expect_error(RUN("    rate: [10, [1]]\n"), "s.yaml:4:16:", "rate[1]");
  expect_error(RUN("    rate: {factor: 2}\n"), "s.yaml:4:11:", "a ramp needs 'from'");
  expect_error(RUN("    rate: {from: 0}\n"), "s.yaml:4:18:", "rate: from: expected");
  expect_error(RUN("    rate: {from: 10, factor: 1}\n"),
               "s.yaml:4:30:", "factor: expected a number above 1");
  expect_error(RUN("    rate: {from: 10, max: 5}\n"), "s.yaml:4:11:", "max (5) is below from (10)");
  expect_error(RUN("    rate: {from: 1, factor: 1.01, max: 100000}\n"),
               "s.yaml:4:11:", "more than 64 steps");
  expect_error(RUN("    rate: {from: 10, until_slo: yes}\n"),
               "s.yaml:4:33:", "until_slo: expected true or false");
  expect_error(
      RUN("    rate: {from: 10, step: 2}\n"), "s.yaml:4:22:",
      "unknown key 'step' in rate (a ramp); expected one of: from, factor, until_slo, max");
  expect_error(RUN("    rate: {from: 10, from: 20}\n"), "s.yaml:4:22:", "duplicate key 'from'");
  expect_error(RUN("    slo: {p99_ms: -1}\n"),
               "s.yaml:4:19:", "slo: p99_ms: expected a number of milliseconds");
  expect_error(RUN("    slo: {max_error_rate: 2}\n"),
               "s.yaml:4:27:", "max_error_rate: expected a fraction");
  expect_error(
      RUN("    slo: {p90_ms: 3}\n"), "s.yaml:4:11:",
      "unknown key 'p90_ms' in slo; did you mean 'p99_ms'? (every key: p99_ms, max_error_rate)");
  expect_error(RUN("    slo: 50\n"), "s.yaml:4:10:", "slo: expected a mapping");
  expect_error(RUN("    ratee: 1\n"), "s.yaml:4:5:", ", slo, search"); /* listed among the keys */
  /* checked at every step's rate: warm-up covering all invocations at the highest one */
  expect_error(RUN("    invocations: 100\n    warmup: 1\n    rate: [10, 200]\n"),
               "s.yaml:3:5:", "at the sweep's rate 200: warmup");
#undef RUN
}

static void test_rate_names_and_rounding(void **state) {
  (void)state;
  char b[32];
  job_sweep_rate_name(50, b, sizeof b);
  assert_string_equal(b, "50");
  job_sweep_rate_name(168.75, b, sizeof b);
  assert_string_equal(b, "168.75");
  job_sweep_rate_name(0.1 * 3, b, sizeof b);
  assert_string_equal(b, "0.3");
  struct job_rate_sweep r = {.form = JOB_RATE_RAMP, .from = 50, .factor = 1.5, .max = 200};
  double x = 0;
  assert_int_equal(job_sweep_step_count(&r), 4); /* 50 75 112.5 168.75 */
  assert_true(job_sweep_step_rate(&r, 3, &x) && x == 168.75);
}

/* ---- the ramp's next step and stop --------------------------------------------------- */

static void test_next_ramp_and_list(void **state) {
  (void)state;
  struct job_rate_sweep ramp = {
      .form = JOB_RATE_RAMP, .from = 50, .factor = 2, .max = 400, .until_slo = true};
  struct job_sweep_verdict met = {.met = true}, failed = {.met = false};
  double next = 0;
  assert_true(job_sweep_next(&ramp, 0, &met, &next) && next == 100);
  assert_false(job_sweep_next(&ramp, 1, &failed, &next)); /* stops at the first failure */
  assert_false(job_sweep_next(&ramp, 3, &met, &next));    /* 400 was the last */
  ramp.until_slo = false;
  assert_true(job_sweep_next(&ramp, 1, &failed, &next) && next == 200);
  struct job_rate_sweep list = {.form = JOB_RATE_LIST, .list = {10, 20, 40}, .list_count = 3};
  assert_true(job_sweep_next(&list, 0, &failed, &next) && next == 20); /* a list runs every step */
  assert_false(job_sweep_next(&list, 2, &met, &next));
}

/* ---- verdicts ------------------------------------------------------------------------ */

static struct job_sweep_step step(double rate, double achieved, double p99, uint64_t measured,
                                  uint64_t failed) {
  struct job_sweep_step s = {.rate = rate,
                             .documents = 1,
                             .achieved_rate = achieved,
                             .p50_ms = p99 / 2,
                             .p99_ms = p99,
                             .measured = measured,
                             .failed = failed,
                             .sent = measured,
                             .complete = true,
                             .redis_cpu_us_per_op = NAN,
                             .backend_cpu_us_per_op = NAN};
  s.error_rate = measured ? (double)failed / (double)measured : 1;
  return s;
}

static void test_judge_reasons(void **state) {
  (void)state;
  struct job_slo slo = {.p99_ms = 50, .max_error_rate = 0.01, .min_achieved_ratio = 0.95};
  struct job_sweep_verdict v;
  struct job_sweep_step s = step(100, 99, 40, 1000, 10); /* 1% errors is within the bound */
  job_sweep_judge(&slo, &s, &v);
  assert_true(v.met);
  assert_int_equal(v.failed, 0);
  assert_string_equal(v.why, "");
  assert_false(v.runner_limited);
  s = step(100, 94.9, 60, 1000, 11);
  job_sweep_judge(&slo, &s, &v);
  assert_false(v.met);
  assert_int_equal(v.failed, JOB_SLO_FAIL_P99 | JOB_SLO_FAIL_ERRORS | JOB_SLO_FAIL_ACHIEVED);
  assert_non_null(strstr(v.why, "p99 60 ms > 50 ms"));
  assert_non_null(strstr(v.why, "error rate 0.011 > 0.01 (11 of 1000 measured failed)"));
  assert_non_null(strstr(v.why, "achieved 94.9/s < 95% of 100/s"));
  /* no latency bound: only errors and the achieved rate count */
  slo.p99_ms = 0;
  s = step(100, 100, 5000, 1000, 0);
  job_sweep_judge(&slo, &s, &v);
  assert_true(v.met);
  /* nothing succeeded: no p99 to judge, and every measured invocation failed */
  slo.p99_ms = 50;
  s = step(100, 100, -1, 20, 20);
  job_sweep_judge(&slo, &s, &v);
  assert_int_equal(v.failed, JOB_SLO_FAIL_P99 | JOB_SLO_FAIL_ERRORS);
  assert_non_null(strstr(v.why, "no successful invocation"));
}

static void test_judge_runner_limited(void **state) {
  (void)state;
  struct job_slo slo = {.p99_ms = 50, .max_error_rate = 0.01, .min_achieved_ratio = 0.95};
  struct job_sweep_verdict v;
  struct job_sweep_step s = step(100, 100, 10, 1000, 0);
  s.lag_p99_ms = JOB_SWEEP_RUNNER_LAG_P99_MS; /* at the threshold: fine */
  s.late = 100;                               /* 10%: fine */
  s.held = 10;                                /* 1%: fine */
  job_sweep_judge(&slo, &s, &v);
  assert_false(v.runner_limited);
  assert_string_equal(v.runner_note, "");
  s.lag_p99_ms = 12.5;
  job_sweep_judge(&slo, &s, &v);
  assert_true(v.runner_limited);
  assert_true(v.met); /* a verdict either way; the note says what it describes */
  assert_non_null(strstr(v.runner_note, "schedule lag p99 12.5 ms > 10 ms"));
  assert_non_null(strstr(v.runner_note, "the verdict describes the runner, not the system"));
  s.lag_p99_ms = 0;
  s.late = 101;
  job_sweep_judge(&slo, &s, &v);
  assert_true(v.runner_limited);
  assert_non_null(strstr(v.runner_note, "101 of 1000 sends late"));
  s.late = 0;
  s.held = 11;
  job_sweep_judge(&slo, &s, &v);
  assert_true(v.runner_limited);
  assert_non_null(strstr(v.runner_note, "11 of 1000 sends held by max_in_flight"));
}

/* ---- the max sustainable rate -------------------------------------------------------- */

static void verdicts_of(const bool *met, const bool *limited, size_t n, struct job_sweep_step *st,
                        struct job_sweep_verdict *v) {
  for (size_t i = 0; i < n; i++) {
    st[i] = step(50.0 * (double)(1u << i), 0, 0, 1, 0);
    memset(&v[i], 0, sizeof v[i]);
    v[i].met = met[i];
    v[i].runner_limited = limited ? limited[i] : false;
    if (!met[i]) snprintf(v[i].why, sizeof v[i].why, "p99 too high");
  }
}

static void test_max_sustainable(void **state) {
  (void)state;
  struct job_sweep_step st[5];
  struct job_sweep_verdict v[5];
  struct job_sweep_max m;
  /* 50 met, 100 met, 200 failed on the system: exactly 100 */
  bool a[] = {true, true, false};
  verdicts_of(a, NULL, 3, st, v);
  job_sweep_max_sustainable(st, v, 3, &m);
  assert_true(m.found && m.rate == 100 && !m.at_least);
  /* a gap: 400 met above the failed 200; not counted, named */
  bool b[] = {true, true, false, true};
  verdicts_of(b, NULL, 4, st, v);
  job_sweep_max_sustainable(st, v, 4, &m);
  assert_true(m.found && m.rate == 100 && !m.at_least);
  assert_non_null(strstr(m.note, "400/s met the SLO above the failed step at 200/s"));
  /* every step met: at least the highest */
  bool c[] = {true, true, true};
  verdicts_of(c, NULL, 3, st, v);
  job_sweep_max_sustainable(st, v, 3, &m);
  assert_true(m.found && m.rate == 200 && m.at_least);
  /* the first failure was the runner's: at least */
  bool d[] = {true, false}, dl[] = {false, true};
  verdicts_of(d, dl, 2, st, v);
  job_sweep_max_sustainable(st, v, 2, &m);
  assert_true(m.found && m.rate == 50 && m.at_least);
  assert_non_null(strstr(m.note, "limited by the runner"));
  /* the lowest failed: none */
  bool e[] = {false, true};
  verdicts_of(e, NULL, 2, st, v);
  job_sweep_max_sustainable(st, v, 2, &m);
  assert_false(m.found);
  assert_false(m.at_least);
  assert_non_null(
      strstr(m.note, "no step met the SLO: the lowest rate, 50/s, failed (p99 too high)"));
  job_sweep_max_sustainable(st, v, 0, &m);
  assert_false(m.found);
}

/* ---- pooling documents --------------------------------------------------------------- */

static cJSON *doc(const char *text) {
  cJSON *d = cJSON_Parse(text);
  assert_non_null(d);
  return d;
}

static void test_step_from_docs_pools(void **state) {
  (void)state;
  /* p99 is pooled over the repetitions' invocations (not a mean of per-document p99s);
   * warm-up and failed invocations are left out of it; errors are summed. */
  cJSON *d[2];
  d[0] =
      doc("{\"schema_version\":1,\"complete\":true,\"achieved_rate\":98,\"throughput\":97,"
          "\"invocations\":{\"sent\":4,\"measured\":3,\"failed\":1},\"late_starts\":1,"
          "\"held_by_max_in_flight\":0,\"schedule_lag_ms\":{\"p99\":2.5},"
          "\"redis\":{\"cpu_us_per_op\":40},\"backend_cpu_us_per_op\":70,"
          "\"raw_results\":[{\"warmup\":true,\"success\":true,\"execution_time_ms\":900},"
          "{\"success\":true,\"execution_time_ms\":1},{\"success\":true,\"execution_time_ms\":2},"
          "{\"success\":false,\"execution_time_ms\":800}]}");
  d[1] =
      doc("{\"schema_version\":1,\"complete\":true,\"achieved_rate\":100,\"throughput\":99,"
          "\"invocations\":{\"sent\":2,\"measured\":2,\"failed\":0},\"late_starts\":0,"
          "\"held_by_max_in_flight\":2,\"schedule_lag_ms\":{\"p99\":7},"
          "\"redis\":{\"cpu_us_per_op\":20},\"backend_cpu_us_per_op\":30,"
          "\"raw_results\":[{\"success\":true,\"execution_time_ms\":3},{\"success\":true,"
          "\"execution_time_ms\":40}]}");
  struct job_sweep_step st;
  char err[200];
  assert_int_equal(job_sweep_step_from_docs(100, d, 2, &st, err, sizeof err), RB_OK);
  assert_int_equal(st.documents, 2);
  assert_true(st.p99_ms == 40); /* nearest rank over {1, 2, 3, 40} */
  assert_true(st.p50_ms == 2);
  assert_int_equal(st.measured, 5);
  assert_int_equal(st.failed, 1);
  assert_true(fabs(st.error_rate - 0.2) < 1e-12);
  assert_true(st.achieved_rate == 99 && st.throughput == 98);
  assert_true(st.redis_cpu_us_per_op == 30 && st.backend_cpu_us_per_op == 50);
  assert_true(st.lag_p99_ms == 7);
  assert_int_equal(st.sent, 6);
  assert_int_equal(st.late, 1);
  assert_int_equal(st.held, 2);
  assert_true(st.complete);
  /* one document without a redis section: the step's Redis figure is unknown, not a mean of one */
  cJSON_DeleteItemFromObject(d[1], "redis");
  assert_int_equal(job_sweep_step_from_docs(100, d, 2, &st, err, sizeof err), RB_OK);
  assert_true(isnan(st.redis_cpu_us_per_op));
  cJSON_DeleteItemFromObject(d[1], "raw_results");
  assert_int_not_equal(job_sweep_step_from_docs(100, d, 2, &st, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "no raw_results"));
  cJSON_Delete(d[0]);
  cJSON_Delete(d[1]);
}

/* ---- summary and comparison ---------------------------------------------------------- */

static void fill_state(struct job_sweep_state *s, const struct job_scenario *sc,
                       const struct job_params *run, const double *p99, size_t n) {
  memset(s, 0, sizeof *s);
  s->scenario = sc;
  s->run = run;
  for (size_t i = 0; i < n; i++) {
    char rel[40];
    snprintf(rel, sizeof rel, "rate-%g.json", 50.0 * (double)(1u << i));
    job_sweep_add_document(s, rel);
    s->steps[i] = step(50.0 * (double)(1u << i), 50.0 * (double)(1u << i), p99[i], 100, 0);
    job_sweep_judge(&run->sweep.slo, &s->steps[i], &s->verdicts[i]);
    s->count++;
  }
  s->complete = true;
}

static void test_summary_and_compare(void **state) {
  (void)state;
  const char *y =
      "name: cap\ndefaults:\n  slo: {p99_ms: 50}\n"
      "runs:\n  - name: direct\n    rate: {from: 50, factor: 2, max: 400}\n"
      "  - name: batched\n    rate: {from: 50, factor: 2, max: 400}\n";
  struct job_scenario sc;
  char err[400];
  assert_int_equal(parse(y, &sc, err, sizeof err), RB_OK);
  struct job_sweep_state a, b;
  double pa[] = {10, 80}, pb[] = {10, 20, 30, 40};
  fill_state(&a, &sc, &sc.runs[0], pa, 2);
  fill_state(&b, &sc, &sc.runs[1], pb, 4);
  cJSON *sa = job_sweep_summary_json(&a), *sb = job_sweep_summary_json(&b);
  assert_string_equal(cJSON_GetObjectItem(sa, "kind")->valuestring, "sweep");
  assert_string_equal(cJSON_GetObjectItem(sa, "run")->valuestring, "direct");
  assert_non_null(strstr(cJSON_GetObjectItem(sa, "policy")->valuestring,
                         "ramp until the SLO fails, then search"));
  cJSON *steps = cJSON_GetObjectItem(sa, "steps");
  assert_int_equal(cJSON_GetArraySize(steps), 2);
  cJSON *s1 = cJSON_GetArrayItem(steps, 1);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(s1, "met_slo")));
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(s1, "failed"), 0)->valuestring,
                      "p99_ms");
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(s1, "documents"), 0)->valuestring,
                      "rate-100.json");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(s1, "redis_cpu_us_per_op")));
  assert_true(cJSON_GetObjectItem(sa, "max_sustainable_rate")->valuedouble == 50);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(sa, "max_sustainable_rate_at_least")));
  assert_true(cJSON_GetObjectItem(sb, "max_sustainable_rate")->valuedouble == 400);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(sb, "max_sustainable_rate_at_least")));
  /* each step has its own rate: the run's parameters carry none */
  assert_null(cJSON_GetObjectItem(
      cJSON_GetObjectItem(cJSON_GetObjectItem(sa, "scenario"), "parameters"), "rate"));

  cJSON *cmp = job_compare_sweep_json(sa, "A/sweep.json", sb, "B/sweep.json");
  assert_true(cJSON_GetObjectItem(cmp, "ratio")->valuedouble == 8);
  assert_string_equal(cJSON_GetObjectItem(cmp, "ratio_bound")->valuestring, "at_least");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cmp, "same_slo")));
  cJSON *curve = cJSON_GetObjectItem(cmp, "curve");
  assert_int_equal(cJSON_GetArraySize(curve), 4);
  cJSON *last = cJSON_GetArrayItem(curve, 3);
  assert_true(cJSON_GetObjectItem(last, "rate")->valuedouble == 400);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(last, "a"))); /* direct stopped at 100 */
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  job_compare_sweep_print(m, cmp);
  fclose(m);
  assert_non_null(strstr(text, "max sustainable rate: A 50/s, B at least 400/s"));
  assert_non_null(strstr(text, "ratio B/A: at least 8.00x"));
  assert_non_null(strstr(text, "not run"));
  assert_null(strstr(text, "different SLOs"));
  free(text);
  cJSON_Delete(cmp);
  cJSON_Delete(sa);
  cJSON_Delete(sb);
  job_sweep_state_free(&a);
  job_sweep_state_free(&b);
  job_scenario_free(&sc);
}

static void test_doc_field(void **state) {
  (void)state;
  cJSON *f = job_sweep_doc_field(2, 0, 200, "../sweep.json");
  assert_true(cJSON_GetObjectItem(f, "step")->valuedouble == 2);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(f, "steps")));
  assert_true(cJSON_GetObjectItem(f, "rate")->valuedouble == 200);
  assert_string_equal(cJSON_GetObjectItem(f, "summary")->valuestring, "../sweep.json");
  cJSON_Delete(f);
  f = job_sweep_doc_field(0, 5, 50, "sweep.json");
  assert_true(cJSON_GetObjectItem(f, "steps")->valuedouble == 5);
  cJSON_Delete(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_list_ramp_slo),
      cmocka_unit_test(test_defaults_sweep_and_plain_rate_layers),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_rate_names_and_rounding),
      cmocka_unit_test(test_next_ramp_and_list),
      cmocka_unit_test(test_judge_reasons),
      cmocka_unit_test(test_judge_runner_limited),
      cmocka_unit_test(test_max_sustainable),
      cmocka_unit_test(test_step_from_docs_pools),
      cmocka_unit_test(test_summary_and_compare),
      cmocka_unit_test(test_doc_field),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
