/* test_job_sweep_search.c: the capacity search on known verdict sequences (a failed first
 * step goes down, a bracket is bisected, the search stops at its precision, its step budget
 * and its floor, a marginal verdict is repeated once), the marginal rule, the attribution of
 * failed steps on known figures, the evidence read from step documents, the search keys of a
 * scenario, and the max sustainable rate over steps in search order. Pure: no sockets. */
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
#include "job_sweep.h"

static struct job_rate_sweep ramp(double from, double factor, double max) {
  struct job_rate_sweep sw = {
      .form = JOB_RATE_RAMP, .from = from, .factor = factor, .max = max, .until_slo = true};
  job_slo_defaults(&sw.slo);
  job_sweep_search_defaults(&sw.search);
  return sw;
}

/* A step at rate judged met or not (no marginal figures unless asked). */
static void put(struct job_sweep_step *st, struct job_sweep_verdict *v, double rate, bool met,
                enum job_sweep_kind kind) {
  memset(st, 0, sizeof *st);
  memset(v, 0, sizeof *v);
  st->rate = rate;
  st->kind = kind;
  st->rounds = 1;
  v->met = met;
  if (!met) snprintf(v->why, sizeof v->why, "p99 too high");
}

/* Drives job_sweep_decide against a system whose true capacity is cap (a rate passes iff
 * <= cap); returns the steps run, their rates in *rates. */
static size_t simulate(const struct job_rate_sweep *sw, double cap, double *rates,
                       struct job_sweep_decision *last, struct job_sweep_step *st,
                       struct job_sweep_verdict *v) {
  size_t n = 0;
  struct job_sweep_decision d;
  job_sweep_first(sw, &d);
  while (d.move == JOB_SWEEP_STEP && n < JOB_SWEEP_STATE_STEPS) {
    put(&st[n], &v[n], d.rate, d.rate <= cap, d.kind);
    rates[n] = d.rate;
    n++;
    job_sweep_decide(sw, st, v, n, &d);
  }
  assert_int_equal(d.move, JOB_SWEEP_STOP);
  *last = d;
  return n;
}

static struct job_sweep_step S[JOB_SWEEP_STATE_STEPS];
static struct job_sweep_verdict V[JOB_SWEEP_STATE_STEPS];

static void test_first_step_fails_goes_down_then_bisects(void **state) {
  (void)state;
  /* the case: the ramp's first step (200/s) fails; the capacity is 70/s */
  struct job_rate_sweep sw = ramp(200, 2, 3200);
  double r[JOB_SWEEP_STATE_STEPS];
  struct job_sweep_decision d;
  size_t n = simulate(&sw, 70, r, &d, S, V);
  assert_true(r[0] == 200);
  assert_true(r[1] == 100 && S[1].kind == JOB_STEP_DOWN);
  assert_true(r[2] == 50 && S[2].kind == JOB_STEP_DOWN); /* passes: bracket [50, 100] */
  assert_true(S[3].kind == JOB_STEP_BISECT);
  assert_true(fabs(r[3] - 70.711) < 1e-9); /* the geometric middle, rounded to 0.001/s */
  struct job_sweep_max m;
  job_sweep_max_sustainable(S, V, n, &m);
  assert_true(m.found);
  assert_true(m.rate <= 70 && m.failed_at > 70);
  assert_true((m.failed_at - m.rate) / m.rate <= 0.10); /* within the default precision */
  assert_false(m.at_least);
  assert_non_null(strstr(d.why, "bracketed within the precision"));
}

static void test_ramp_brackets_then_bisects_to_precision(void **state) {
  (void)state;
  struct job_rate_sweep sw = ramp(50, 2, 3200);
  sw.search.precision = 0.02;
  sw.search.max_steps = 32;
  double r[JOB_SWEEP_STATE_STEPS];
  struct job_sweep_decision d;
  size_t n = simulate(&sw, 1013, r, &d, S, V);
  /* planned 50..1600 (1600 fails), then only bisect steps */
  assert_true(r[5] == 1600 && S[5].kind == JOB_STEP_PLANNED);
  for (size_t i = 6; i < n; i++) {
    assert_int_equal(S[i].kind, JOB_STEP_BISECT);
    assert_true(r[i] > 800 && r[i] < 1600);
  }
  struct job_sweep_max m;
  job_sweep_max_sustainable(S, V, n, &m);
  assert_true(m.found && m.rate <= 1013 && m.failed_at > 1013);
  assert_true((m.failed_at - m.rate) / m.rate <= 0.02);
  /* a wider precision stops sooner: the bracket [800, 1600] needs fewer bisections */
  sw.search.precision = 0.25;
  size_t n2 = simulate(&sw, 1013, r, &d, S, V);
  assert_true(n2 < n);
  job_sweep_max_sustainable(S, V, n2, &m);
  assert_true((m.failed_at - m.rate) / m.rate <= 0.25);
}

static void test_search_budget_and_off(void **state) {
  (void)state;
  struct job_rate_sweep sw = ramp(50, 2, 3200);
  sw.search.precision = 0.001;
  sw.search.max_steps = 2;
  double r[JOB_SWEEP_STATE_STEPS];
  struct job_sweep_decision d;
  size_t n = simulate(&sw, 1013, r, &d, S, V);
  assert_int_equal(n, 6 + 2); /* six planned, two search steps */
  assert_non_null(strstr(d.why, "search.max_steps"));
  /* search off: the ramp stops at its first failure, as before */
  sw.search.enabled = 0;
  n = simulate(&sw, 1013, r, &d, S, V);
  assert_int_equal(n, 6);
  assert_non_null(strstr(d.why, "search off"));
  /* every step passes: nothing to search */
  sw = ramp(50, 2, 400);
  n = simulate(&sw, 1e6, r, &d, S, V);
  assert_int_equal(n, 4);
  assert_non_null(strstr(d.why, "every step met the SLO"));
}

static void test_down_to_the_floor(void **state) {
  (void)state;
  struct job_rate_sweep sw = ramp(200, 2, 3200);
  sw.search.floor = 30;
  double r[JOB_SWEEP_STATE_STEPS];
  struct job_sweep_decision d;
  size_t n = simulate(&sw, 10, r, &d, S, V); /* nothing passes above 10/s */
  assert_int_equal(n, 4);
  assert_true(r[1] == 100 && r[2] == 50 && r[3] == 30); /* 25 is below the floor: the floor */
  assert_non_null(strstr(d.why, "below 30/s"));
  struct job_sweep_max m;
  job_sweep_max_sustainable(S, V, n, &m);
  assert_false(m.found);
  assert_true(m.below == 30);
  /* the default floor is the first rate / 100 */
  sw.search.floor = 0;
  assert_true(job_sweep_floor(&sw) == 2);
}

static void test_list_keeps_its_steps_unless_asked(void **state) {
  (void)state;
  struct job_rate_sweep sw = {.form = JOB_RATE_LIST, .list = {10, 20, 40, 80}, .list_count = 4};
  job_slo_defaults(&sw.slo);
  job_sweep_search_defaults(&sw.search);
  double r[JOB_SWEEP_STATE_STEPS];
  struct job_sweep_decision d;
  size_t n = simulate(&sw, 30, r, &d, S, V);
  assert_int_equal(n, 4); /* every listed step, no search */
  sw.search.enabled = 1;
  n = simulate(&sw, 30, r, &d, S, V);
  assert_true(n > 4);
  assert_true(S[4].kind == JOB_STEP_BISECT && r[4] > 20 && r[4] < 40);
  /* a list whose first step fails goes down by 2 */
  n = simulate(&sw, 3, r, &d, S, V);
  assert_true(S[4].kind == JOB_STEP_DOWN && r[4] == 5);
}

static void test_marginal_step_is_repeated_once(void **state) {
  (void)state;
  struct job_rate_sweep sw = ramp(50, 2, 400);
  struct job_sweep_decision d;
  put(&S[0], &V[0], 50, true, JOB_STEP_PLANNED);
  put(&S[1], &V[1], 100, true, JOB_STEP_PLANNED);
  V[1].marginal = true;
  snprintf(V[1].marginal_note, sizeof V[1].marginal_note, "p99 49 ms within 5%% of 50 ms");
  job_sweep_decide(&sw, S, V, 2, &d);
  assert_int_equal(d.move, JOB_SWEEP_REPEAT);
  assert_int_equal(d.repeat, 1);
  assert_true(d.rate == 100);
  assert_non_null(strstr(d.why, "marginal"));
  S[1].rounds = 2; /* repeated: judged pooled, never a third time */
  job_sweep_decide(&sw, S, V, 2, &d);
  assert_int_equal(d.move, JOB_SWEEP_STEP);
  assert_true(d.rate == 200);
  /* no repeat with repeat_marginal off, or without the search */
  S[1].rounds = 1;
  sw.search.repeat_marginal = false;
  job_sweep_decide(&sw, S, V, 2, &d);
  assert_int_equal(d.move, JOB_SWEEP_STEP);
}

static struct job_sweep_step fig(double rate, double achieved, double p99, uint64_t measured,
                                 uint64_t failed) {
  struct job_sweep_step s = {.rate = rate,
                             .documents = 1,
                             .rounds = 1,
                             .achieved_rate = achieved,
                             .p50_ms = p99 / 2,
                             .p99_ms = p99,
                             .measured = measured,
                             .failed = failed,
                             .sent = measured,
                             .wait_p99_ms = -1,
                             .complete = true};
  s.error_rate = measured ? (double)failed / (double)measured : 1;
  return s;
}

static void test_marginal_rule(void **state) {
  (void)state;
  struct job_slo slo = {.p99_ms = 50, .max_error_rate = 0.01, .min_achieved_ratio = 0.95};
  struct job_sweep_verdict v;
  struct job_sweep_step s = fig(100, 100, 48, 1000, 0); /* met, p99 within 5% */
  job_sweep_judge(&slo, &s, &v);
  assert_true(v.met && v.marginal);
  assert_non_null(strstr(v.marginal_note, "p99 48 ms within 5% of 50 ms"));
  s = fig(100, 100, 47, 1000, 0); /* 6% below: clear */
  job_sweep_judge(&slo, &s, &v);
  assert_false(v.marginal);
  s = fig(100, 100, 52, 1000, 0); /* failed by 4%: marginal */
  job_sweep_judge(&slo, &s, &v);
  assert_true(!v.met && v.marginal);
  s = fig(100, 100, 52, 1000, 40); /* also 4% errors against 1%: a clear failure */
  job_sweep_judge(&slo, &s, &v);
  assert_true(!v.met && !v.marginal);
  s = fig(100, 100, 10, 1000, 11); /* 11 failed, 10 allowed, band 2: marginal */
  job_sweep_judge(&slo, &s, &v);
  assert_true(!v.met && v.marginal);
  s = fig(100, 100, 10, 1000, 0); /* no failure: not near an error bound */
  slo.max_error_rate = 0;
  job_sweep_judge(&slo, &s, &v);
  assert_false(v.marginal);
  s.failed = 1, s.error_rate = 0.001; /* one failure where none is allowed: marginal */
  job_sweep_judge(&slo, &s, &v);
  assert_true(!v.met && v.marginal);
  slo.max_error_rate = 0.01;
  s = fig(100, 95.5, 10, 1000, 0); /* achieved 0.955 within 0.01 of 0.95 */
  job_sweep_judge(&slo, &s, &v);
  assert_true(v.met && v.marginal);
  assert_non_null(strstr(v.marginal_note, "achieved ratio"));
}

static void test_attribution(void **state) {
  (void)state;
  struct job_slo slo = {.p99_ms = 50, .max_error_rate = 0.01, .min_achieved_ratio = 0.95};
  struct job_sweep_verdict v;
  /* nothing explains it: slo */
  struct job_sweep_step s = fig(200, 200, 274, 1200, 0);
  s.has_send_delays = true;
  job_sweep_judge(&slo, &s, &v);
  assert_string_equal(v.limited_by, "slo");
  assert_int_equal(v.causes, 0);
  /* the pool full: invocations waited for a worker, and the late sends were queueing */
  s.waited = 900, s.wait_p99_ms = 250;
  s.late = 166, s.late_pool = 160, s.late_runner = 6;
  job_sweep_judge(&slo, &s, &v);
  assert_string_equal(v.limited_by, "action_pool");
  assert_false(v.runner_limited); /* 6 of 1200 late with a worker free: the runner kept up */
  assert_non_null(strstr(v.attribution, "900 of 1200 measured waited > 1 ms"));
  assert_non_null(strstr(v.attribution, "160 late and 0 held sends while every worker was busy"));
  /* the same late sends unclassified (an older document): the runner */
  struct job_sweep_step old = fig(200, 200, 274, 1200, 0);
  old.late = 166;
  job_sweep_judge(&slo, &old, &v);
  assert_true(v.runner_limited);
  assert_string_equal(v.limited_by, "runner");
  /* Redis throttled comes first: the pool filled because Redis was slow */
  s.has_redis_throttle = true, s.redis_throttled_s = 3, s.redis_throttled_periods = 60;
  s.has_redis_cpu = true, s.redis_cpu_s = 0.6, s.redis_window_s = 6, s.redis_quota = 0.1;
  job_sweep_judge(&slo, &s, &v);
  assert_string_equal(v.limited_by, "redis");
  assert_true(v.causes == (JOB_CAUSE_REDIS | JOB_CAUSE_POOL));
  assert_non_null(strstr(v.attribution, "redis: throttled 3 s of 6 s (60 periods)"));
  assert_non_null(strstr(v.attribution, "CPU 0.1 of a quota of 0.1 core"));
  assert_non_null(strstr(v.attribution, "action_pool:"));
  /* Redis's CPU near its quota without throttling figures (INFO's CPU) */
  s.has_redis_throttle = false, s.redis_cpu_s = 0.5; /* 0.083 of 0.1: below 90% */
  job_sweep_judge(&slo, &s, &v);
  assert_string_equal(v.limited_by, "action_pool");
  s.redis_cpu_s = 0.56; /* 0.093 of 0.1 */
  job_sweep_judge(&slo, &s, &v);
  assert_string_equal(v.limited_by, "redis");
  /* the machine saturated: every core above 90% */
  s.has_redis_cpu = false;
  s.has_machine = true, s.machine_busy = 0.97, s.machine_min_core_busy = 0.95;
  job_sweep_judge(&slo, &s, &v);
  assert_string_equal(v.limited_by, "machine");
  assert_non_null(strstr(v.attribution, "least busy 95%"));
  s.machine_min_core_busy = 0.6; /* one core idle enough: not the machine */
  job_sweep_judge(&slo, &s, &v);
  assert_string_equal(v.limited_by, "action_pool");
  /* a step that met the SLO names no limit */
  s = fig(100, 100, 10, 1000, 0);
  job_sweep_judge(&slo, &s, &v);
  assert_string_equal(v.limited_by, "");
  assert_string_equal(v.attribution, "");
  /* the pool by its sends alone (held while every worker was busy) */
  s = fig(100, 90, 10, 1000, 0);
  s.has_send_delays = true, s.held = 300, s.held_pool = 300;
  job_sweep_judge(&slo, &s, &v);
  assert_string_equal(v.limited_by, "action_pool");
  assert_false(v.runner_limited);
}

static cJSON *doc(const char *text) {
  cJSON *d = cJSON_Parse(text);
  assert_non_null(d);
  return d;
}

static void test_evidence_from_documents(void **state) {
  (void)state;
  cJSON *d[2];
  d[0] =
      doc("{\"schema_version\":1,\"complete\":true,\"achieved_rate\":200,\"throughput\":190,"
          "\"invocations\":{\"sent\":3,\"measured\":3,\"failed\":0},\"late_starts\":2,"
          "\"held_by_max_in_flight\":1,\"schedule_lag_ms\":{\"p99\":40},"
          "\"params\":{\"redis_cpu\":0.1},"
          "\"timeline\":{\"backend_before_ms\":-5,\"backend_after_ms\":1995},"
          "\"started\":{\"processes\":[{\"role\":\"layer\",\"name\":\"rbench-agent\",\"cpu_s\":9,"
          "\"throttled_s\":9},"
          "{\"role\":\"redis\",\"name\":\"redis-server\",\"cpu_s\":0.19,\"cpu_quota\":0.1,"
          "\"throttled_s\":0.5,"
          "\"throttled_periods\":12}]},"
          "\"machine_cpu\":{\"busy_fraction\":0.5,\"min_core_busy_fraction\":0.4},"
          "\"send_delays\":{\"pool_slots\":8,\"late_pool_full\":2,\"held_pool_full\":1,"
          "\"late_runner\":0,\"held_runner\":0,\"runner_lag_p99_ms\":0.2},"
          "\"raw_results\":[{\"success\":true,\"execution_time_ms\":100,\"wait_time_ms\":80},"
          "{\"success\":true,\"execution_time_ms\":120,\"wait_time_ms\":90},"
          "{\"success\":true,\"execution_time_ms\":10,\"wait_time_ms\":0.1}]}");
  d[1] =
      doc("{\"schema_version\":1,\"complete\":true,\"achieved_rate\":200,\"throughput\":190,"
          "\"invocations\":{\"sent\":1,\"measured\":1,\"failed\":0},\"late_starts\":0,"
          "\"held_by_max_in_flight\":0,\"schedule_lag_ms\":{\"p99\":1},"
          "\"timeline\":{\"backend_before_ms\":0,\"backend_after_ms\":2000},"
          "\"redis\":{\"cpu_s\":{\"total\":0.2}},"
          "\"machine_cpu\":{\"busy_fraction\":0.7,\"min_core_busy_fraction\":0.6},"
          "\"send_delays\":{\"pool_slots\":8,\"late_pool_full\":0,\"held_pool_full\":0,"
          "\"late_runner\":0,\"held_runner\":0,\"runner_lag_p99_ms\":3},"
          "\"raw_results\":[{\"success\":true,\"execution_time_ms\":110,\"wait_time_ms\":85}]}");
  struct job_sweep_step st;
  char err[300];
  if (job_sweep_step_from_docs(200, d, 2, &st, err, sizeof err) != RB_OK) fail_msg("%s", err);
  assert_true(st.has_send_delays);
  assert_int_equal(st.late_pool, 2);
  assert_int_equal(st.held_pool, 1);
  assert_int_equal(st.late_runner, 0);
  assert_true(st.runner_lag_p99_ms == 3);
  assert_int_equal(st.waited, 3);
  assert_true(st.wait_p99_ms == 90);
  assert_true(st.has_machine && fabs(st.machine_busy - 0.6) < 1e-12 &&
              fabs(st.machine_min_core_busy - 0.5) < 1e-12);
  assert_true(st.has_redis_throttle && st.redis_throttled_s == 0.5);
  assert_true(st.redis_throttled_periods == 12);
  assert_true(st.has_redis_cpu && fabs(st.redis_cpu_s - 0.39) < 1e-12); /* started, then INFO */
  assert_true(fabs(st.redis_window_s - 4) < 1e-12);
  assert_true(st.redis_quota == 0.1);
  /* judged: p99 120 > 50; Redis at 0.0975 core of 0.1: redis, with the pool as well */
  struct job_slo slo = {.p99_ms = 50, .max_error_rate = 0.01, .min_achieved_ratio = 0.95};
  struct job_sweep_verdict v;
  job_sweep_judge(&slo, &st, &v);
  assert_string_equal(v.limited_by, "redis");
  assert_true(v.causes & JOB_CAUSE_POOL);
  assert_false(v.runner_limited); /* lag p99 40 ms in the document, but 3 ms with a worker free */
  cJSON_Delete(d[0]);
  cJSON_Delete(d[1]);
}

static void test_scenario_search_keys(void **state) {
  (void)state;
  const char *y =
      "name: s\n"
      "defaults:\n  search: {precision: 0.05, max_steps: 12, floor: 5}\n"
      "runs:\n"
      "  - name: a\n    rate: {from: 200, factor: 2, max: 800}\n"
      "  - name: b\n    rate: [10, 20]\n    search: {enabled: true, "
      "repeat_marginal: false}\n";
  struct job_scenario s;
  char err[600] = "";
  assert_int_equal(job_scenario_parse(y, strlen(y), "s.yaml", &s, err, sizeof err), RB_OK);
  const struct job_rate_sweep *a = &s.runs[0].sweep, *b = &s.runs[1].sweep;
  assert_true(job_sweep_searches(a));
  assert_true(a->search.precision == 0.05 && a->search.max_steps == 12);
  assert_true(job_sweep_floor(a) == 5);
  assert_true(job_sweep_searches(b)); /* asked for */
  assert_false(b->search.repeat_marginal);
  assert_true(b->search.precision == 0.10); /* a run's search replaces the defaults' whole */
  job_scenario_free(&s);
  const char *bad[][2] = {
      {"    search: {precision: 0}\n", "search: precision: expected a fraction"},
      {"    search: {max_steps: 99}\n", "search: max_steps: expected an integer from 0 to 32"},
      {"    search: {floor: -1}\n", "search: floor: expected"},
      {"    search: {enabled: yes}\n", "search: enabled: expected true or false"},
      {"    search: {precison: 0.1}\n", "did you mean 'precision'?"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[300];
    snprintf(text, sizeof text, "name: x\nruns:\n  - name: a\n    rate: [1, 2]\n%s", bad[i][0]);
    assert_int_not_equal(job_scenario_parse(text, strlen(text), "s.yaml", &s, err, sizeof err),
                         RB_OK);
    if (!strstr(err, bad[i][1])) {
      print_error("got: %s\nexpected: %s\n", err, bad[i][1]);
      fail();
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_step_fails_goes_down_then_bisects),
      cmocka_unit_test(test_ramp_brackets_then_bisects_to_precision),
      cmocka_unit_test(test_search_budget_and_off),
      cmocka_unit_test(test_down_to_the_floor),
      cmocka_unit_test(test_list_keeps_its_steps_unless_asked),
      cmocka_unit_test(test_marginal_step_is_repeated_once),
      cmocka_unit_test(test_marginal_rule),
      cmocka_unit_test(test_attribution),
      cmocka_unit_test(test_evidence_from_documents),
      cmocka_unit_test(test_scenario_search_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
