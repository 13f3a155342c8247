#define _GNU_SOURCE
/* test_runner_sweep.c: capacity sweeps end to end on the local target with a real
 * redis-server and rbench-action: a list runs every step, a ramp stops at its first failed
 * step, step documents and their sweep field, sweep.json, --rate overriding a sweep, and
 * rbench compare of two sweeps; the capacity search on a pool of one worker whose capacity
 * is far below the ramp's first rate: it goes down, finds a nonzero rate, and attributes the
 * failed steps to the pool's queueing (or the machine), never to the runner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>

#include "runner_common.h"

static struct rbt_proc redis;
static char envfile[128], scen[160], outdir[160];

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  if (!rbt_redis_start(&redis, NULL)) return -1;
  snprintf(envfile, sizeof envfile, "%s/local.env", tmpdir);
  char text[256];
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\n", redis.port);
  write_text(envfile, text);
  snprintf(scen, sizeof scen, "%s/sweep.yaml", tmpdir);
  /* ok: an SLO every step meets; strict: one no step can meet (p99 of 1 µs), as a list and
   * as a ramp, so the stop policies show. */
  write_text(scen,
             "name: sweep-it\n"
             "target: {pool_size: 2}\n"
             "defaults:\n  invocations: 8\n  ops: 2\n  max_in_flight: 8\n"
             "  slo: {p99_ms: 60000, max_error_rate: 0}\n"
             "repetitions: 2\n"
             "runs:\n"
             "  - name: ok\n    rate: [20, 40]\n"
             "  - name: strict-list\n    rate: [20, 40]\n    slo: {p99_ms: 0.001}\n"
             "  - name: strict-ramp\n    rate: {from: 20, factor: 2, max: 80}\n    slo: {p99_ms: "
             "0.001}\n    search: {enabled: false}\n");
  snprintf(outdir, sizeof outdir, "%s/out", tmpdir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&redis, SIGTERM);
  unlink(redis.log);
  tmpdir_remove();
  return 0;
}

static bool exists(const char *rel) {
  char p[300];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", outdir, rel);
  return stat(p, &st) == 0;
}

static cJSON *summary(const char *run) {
  char p[300];
  snprintf(p, sizeof p, "%s/%s/sweep.json", outdir, run);
  cJSON *s = read_json(p);
  assert_non_null(s);
  return s;
}

static const cJSON *step_n(const cJSON *s, int i) {
  return cJSON_GetArrayItem(cJSON_GetObjectItem(s, "steps"), i);
}

static void test_sweep_runs_steps_and_writes_summaries(void **state) {
  (void)state;
  char *argv[] = {NULL,       "run",  "-f",         scen,  "--env", envfile,
                  "--output", outdir, "--progress", "off", NULL};
  char *log = NULL;
  int rc = run_rbench(argv, NULL, 120000, &log);
  if (rc != 0) print_error("%s\n", log);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(log, "sweep strict-ramp at 20/s (planned): FAILED the SLO: p99"));
  free(log);
  /* every listed step runs, whatever the verdicts; the ramp stops at its first failure */
  assert_true(exists("ok/rate-20/r1.json") && exists("ok/rate-40/r2.json"));
  assert_true(exists("strict-list/rate-20/r2.json") && exists("strict-list/rate-40/r2.json"));
  assert_true(exists("strict-ramp/rate-20/r1.json") && exists("strict-ramp/rate-20/r2.json"));
  assert_false(exists("strict-ramp/rate-40"));

  char p[300];
  snprintf(p, sizeof p, "%s/ok/rate-40/r2.json", outdir);
  cJSON *d = read_json(p);
  assert_non_null(d);
  assert_true(num(d, "sweep.step") == 1);
  assert_true(num(d, "sweep.steps") == 2);
  assert_true(num(d, "sweep.rate") == 40);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "sweep"), "summary")->valuestring,
                      "../sweep.json");
  assert_true(num(d, "scenario.parameters.rate") == 40);
  assert_true(num(d, "requested_rate") == 40);
  assert_true(num(d, "scenario.repetition") == 2);
  assert_true(num(d, "invocations.completed") == 8);
  cJSON_Delete(d);
  snprintf(p, sizeof p, "%s/strict-ramp/rate-20/r1.json", outdir);
  d = read_json(p);
  assert_true(cJSON_IsNull(
      cJSON_GetObjectItem(cJSON_GetObjectItem(d, "sweep"), "steps"))); /* ramp: unknown */
  cJSON_Delete(d);

  cJSON *ok = summary("ok");
  assert_string_equal(cJSON_GetObjectItem(ok, "kind")->valuestring, "sweep");
  assert_true(num(ok, "schema_version") == 1);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ok, "complete")));
  assert_string_equal(cJSON_GetObjectItem(ok, "run")->valuestring, "ok");
  assert_string_equal(cJSON_GetObjectItem(ok, "policy")->valuestring,
                      "run every listed step (list)");
  assert_true(num(ok, "slo.min_achieved_ratio") == 0.95);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ok, "steps")), 2);
  const cJSON *s0 = step_n(ok, 0);
  assert_true(num(s0, "rate") == 20);
  assert_true(num(s0, "repetitions") == 2);
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(s0, "documents"), 1)->valuestring,
                      "rate-20/r2.json");
  assert_true(num(s0, "measured") == 16); /* pooled over both repetitions */
  assert_true(num(s0, "p99_ms") >= num(s0, "p50_ms") && num(s0, "p50_ms") > 0);
  assert_true(num(s0, "error_rate") == 0);
  bool met = cJSON_IsTrue(cJSON_GetObjectItem(step_n(ok, 1), "met_slo")) &&
             cJSON_IsTrue(cJSON_GetObjectItem(s0, "met_slo"));
  /* on a loaded machine the runner may fall behind: then the verdict may fail on the
   * achieved rate, which the step must say */
  if (met) {
    assert_true(num(ok, "max_sustainable_rate") == 40);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ok, "max_sustainable_rate_at_least")));
  } else {
    const cJSON *f = cJSON_IsTrue(cJSON_GetObjectItem(s0, "met_slo")) ? step_n(ok, 1) : s0;
    assert_true(cJSON_IsString(cJSON_GetObjectItem(f, "why")));
  }
  cJSON_Delete(ok);

  cJSON *sl = summary("strict-list");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(sl, "steps")), 2);
  for (int i = 0; i < 2; i++) {
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(step_n(sl, i), "met_slo")));
    assert_string_equal(
        cJSON_GetArrayItem(cJSON_GetObjectItem(step_n(sl, i), "failed"), 0)->valuestring, "p99_ms");
  }
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(sl, "max_sustainable_rate")));
  cJSON_Delete(sl);
  cJSON *sr = summary("strict-ramp");
  assert_string_equal(cJSON_GetObjectItem(sr, "policy")->valuestring,
                      "stop at the first failed step (ramp)");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(sr, "steps")), 1);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(sr, "complete")));
  assert_non_null(strstr(cJSON_GetObjectItem(step_n(sr, 0), "why")->valuestring, "> 0.001 ms"));
  cJSON_Delete(sr);
}

static void test_compare_two_sweeps(void **state) {
  (void)state;
  char a[200], b[200], bfile[220];
  snprintf(a, sizeof a, "%s/ok", outdir);
  snprintf(b, sizeof b, "%s/strict-ramp", outdir);
  snprintf(bfile, sizeof bfile, "%s/sweep.json", b);
  char *log = NULL;
  char *cmp[] = {NULL, "compare", a, bfile, NULL};
  assert_int_equal(run_rbench(cmp, NULL, 20000, &log), 0);
  assert_non_null(strstr(log, "max sustainable rate: A "));
  assert_non_null(strstr(log, "B none (no step met the SLO)"));
  assert_non_null(strstr(log, "not run")); /* the ramp never reached 40/s */
  assert_non_null(strstr(log, "different SLOs"));
  free(log);
  char *cmpj[] = {NULL, "compare", "--json", a, b, NULL};
  assert_int_equal(run_rbench(cmpj, NULL, 20000, &log), 0);
  cJSON *j = cJSON_Parse(log);
  assert_non_null(j);
  assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "sweep_comparison");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "curve")), 2);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "ratio")));
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "b"), "run")->valuestring,
                      "strict-ramp");
  cJSON_Delete(j);
  free(log);
  /* a sweep against plain documents is refused with a reason */
  char plain[220];
  snprintf(plain, sizeof plain, "%s/ok/rate-20", outdir);
  char *mixed[] = {NULL, "compare", a, plain, NULL};
  assert_int_equal(run_rbench(mixed, NULL, 20000, &log), 2);
  assert_non_null(strstr(log, "is a sweep but"));
  free(log);
}

static void test_rate_flag_overrides_sweep(void **state) {
  (void)state;
  char out[200], p[260];
  snprintf(out, sizeof out, "%s/one", tmpdir);
  char *argv[] = {
      NULL, "run",           "-f", scen,     "--env", envfile,      "--output", out, "--rate",
      "25", "--repetitions", "1",  "--runs", "ok",    "--progress", "off",      NULL};
  assert_int_equal(run_rbench(argv, NULL, 60000, NULL), 0);
  cJSON *d = read_json(out); /* one run, one repetition, no sweep: a single file */
  assert_non_null(d);
  assert_true(num(d, "requested_rate") == 25);
  assert_null(cJSON_GetObjectItem(d, "sweep"));
  cJSON_Delete(d);
  snprintf(p, sizeof p, "%s/sweep.json", out);
  assert_null(read_json(p));
}

static const cJSON *obj(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k); }

static void test_search_finds_a_low_capacity(void **state) {
  (void)state;
  char y[200], out[200], p[300];
  snprintf(y, sizeof y, "%s/search.yaml", tmpdir);
  snprintf(out, sizeof out, "%s/search", tmpdir);
  /* one worker, 300 sequential GETs an invocation (~10 ms): a capacity near 100/s or less on
   * this machine, a fraction of the first step's 400/s, where 30 invocations queue behind one
   * worker for hundreds of ms */
  write_text(y,
             "name: search-it\n"
             "target: {pool_size: 1}\n"
             "defaults: {invocations: 30, ops: 300, parallel: 1, operation: get, "
             "max_in_flight: 1000}\n"
             "runs:\n"
             "  - name: tiny\n"
             "    rate: {from: 400, factor: 2, max: 800}\n"
             "    slo: {p99_ms: 150, max_error_rate: 0}\n"
             "    search: {precision: 0.25, max_steps: 7}\n");
  char *argv[] = {NULL,       "run", "-f",         y,     "--env", envfile,
                  "--output", out,   "--progress", "off", NULL};
  char *log = NULL;
  int rc = run_rbench(argv, NULL, 180000, &log);
  if (rc != 0) print_error("%s\n", log);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(log, "sweep tiny at 400/s (planned): FAILED the SLO"));
  assert_non_null(strstr(log, "max sustainable rate: "));
  free(log);
  snprintf(p, sizeof p, "%s/tiny/sweep.json", out);
  cJSON *sw = read_json(p);
  assert_non_null(sw);
  assert_true(cJSON_IsTrue(obj(sw, "complete")));
  assert_true(cJSON_IsTrue(obj(obj(sw, "search"), "enabled")));
  assert_true(cJSON_IsString(obj(sw, "stopped_because")));
  const cJSON *steps = obj(sw, "steps"), *st, *first = NULL;
  bool down = false;
  double prev = 0;
  cJSON_ArrayForEach(st, steps) {
    assert_true(num(st, "rate") > prev); /* by rate */
    prev = num(st, "rate");
    if (num(st, "order") == 0) first = st;
    if (!strcmp(obj(st, "kind")->valuestring, "down")) down = true;
    if (cJSON_IsTrue(obj(st, "met_slo"))) continue;
    /* every failed step says what limited it, with its evidence; never the runner here: its
     * late sends went out while the only worker was busy */
    const char *by = obj(st, "limited_by")->valuestring;
    assert_true(cJSON_IsString(obj(st, "attribution")));
    assert_true(cJSON_IsTrue(obj(obj(obj(st, "evidence"), "runner"), "classified")));
    assert_string_not_equal(by, "runner");
    assert_int_equal(cJSON_GetArraySize(obj(st, "failed_bounds")) > 0, 1);
  }
  assert_non_null(first);
  assert_true(num(first, "rate") == 400);
  assert_false(cJSON_IsTrue(obj(first, "met_slo")));
  assert_string_equal(obj(cJSON_GetArrayItem(obj(first, "failed_bounds"), 0), "bound")->valuestring,
                      "p99_ms");
  assert_true(num(cJSON_GetArrayItem(obj(first, "failed_bounds"), 0), "value") > 150);
  /* the pool: invocations waited for the worker; the machine only when every core was busy */
  const cJSON *ev = obj(first, "evidence");
  assert_true(cJSON_IsTrue(obj(obj(ev, "action_pool"), "limited")));
  assert_true(num(obj(ev, "action_pool"), "waited") > 0);
  const char *by = obj(first, "limited_by")->valuestring;
  const cJSON *low = obj(obj(ev, "machine"), "min_core_busy_fraction");
  if (cJSON_IsNumber(low) && low->valuedouble < 0.9) assert_string_equal(by, "action_pool");
  else assert_true(!strcmp(by, "action_pool") || !strcmp(by, "machine"));
  assert_true(down);
  const cJSON *max = obj(sw, "max_sustainable_rate");
  if (!cJSON_IsNumber(max)) print_error("%s\n", cJSON_Print(sw));
  assert_true(cJSON_IsNumber(max) && max->valuedouble > 0 && max->valuedouble < 400);
  cJSON_Delete(sw);
  /* the step document carries the runner's classification and the machine's CPU */
  snprintf(p, sizeof p, "%s/tiny/rate-400.json", out);
  cJSON *d = read_json(p);
  assert_non_null(d);
  assert_true(num(d, "send_delays.pool_slots") == 1);
  assert_true(num(d, "send_delays.late_runner") + num(d, "send_delays.late_pool_full") ==
              num(d, "late_starts"));
  assert_true(cJSON_IsNumber(obj(obj(d, "machine_cpu"), "busy_fraction")));
  cJSON_Delete(d);
}

static void test_bad_sweep_is_a_config_error(void **state) {
  (void)state;
  char bad[200];
  snprintf(bad, sizeof bad, "%s/bad.yaml", tmpdir);
  write_text(bad, "name: bad\nruns:\n  - name: a\n    rate: [40, 20]\n");
  char *log = NULL;
  char *argv[] = {NULL, "run", "-f", bad, "--env", envfile, "--output", outdir, NULL};
  assert_int_equal(run_rbench(argv, NULL, 20000, &log), 2);
  assert_non_null(
      strstr(log, "bad.yaml:4:16: rate[1]: the rates of a sweep must be strictly increasing"));
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sweep_runs_steps_and_writes_summaries),
      cmocka_unit_test(test_compare_two_sweeps),
      cmocka_unit_test(test_rate_flag_overrides_sweep),
      cmocka_unit_test(test_search_finds_a_low_capacity),
      cmocka_unit_test(test_bad_sweep_is_a_config_error),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
