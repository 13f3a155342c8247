#define _GNU_SOURCE
/* test_runner_closed.c: the closed loop (--concurrency N / scenario `concurrency: N`) end to
 * end on the local target: real redis-server, real rbench-agent --metrics, real rbench-action
 * processes. Exactly N in flight, the next sent as one finishes, for a number of invocations
 * or a duration; the document's closed-loop fields; compare and report on closed-loop sides;
 * the combinations that are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>

#include "rbt_agent.h"
#include "runner_common.h"

static struct rbt_proc redis, agent;
static int metrics_port;
static char envfile[160];

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  if (!rbt_redis_start(&redis, NULL)) return -1;
  for (int attempt = 0; attempt < 5; attempt++) {
    metrics_port = rbt_free_port();
    char m[64];
    snprintf(m, sizeof m, "127.0.0.1:%d", metrics_port);
    const char *extra[] = {"--metrics", m, "--log-level", "warn", NULL};
    if (!rbt_agent_start(&agent, redis.port, extra, NULL)) return -1;
    if (rbt_wait_port(metrics_port, 5000)) break;
    rbt_proc_stop(&agent, SIGKILL);
    if (attempt == 4) return -1;
  }
  snprintf(envfile, sizeof envfile, "%s/local.env", tmpdir);
  char text[400];
  snprintf(
      text, sizeof text,
      "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nBATCHING_AGENT_HOST=127.0.0.1\nBATCHING_AGENT_PORT=%d\n"
      "BATCHING_AGENT_METRICS_URL=http://127.0.0.1:%d/metrics\n",
      redis.port, agent.port, metrics_port);
  write_text(envfile, text);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&agent, SIGTERM);
  rbt_proc_stop(&redis, SIGTERM);
  unlink(agent.log);
  unlink(redis.log);
  tmpdir_remove();
  return 0;
}

/* rbench run --env ENV with the given flags (NULL-terminated); returns the exit status and the
 * output in *log. */
static int run_with(const char *const *flags, char **log) {
  char *argv[48] = {NULL, "run", "--env", envfile, "--progress", "off"};
  int n = 6;
  for (int i = 0; flags[i] && n < 46; i++) argv[n++] = (char *)flags[i];
  argv[n] = NULL;
  return run_rbench(argv, NULL, 120000, log);
}

static cJSON *run_doc(const char *name, const char *const *flags) {
  char out[200];
  snprintf(out, sizeof out, "%s/%s.json", tmpdir, name);
  const char *all[40];
  int n = 0;
  for (int i = 0; flags[i] && n < 36; i++) all[n++] = flags[i];
  all[n++] = "--output";
  all[n++] = out;
  all[n] = NULL;
  char *log = NULL;
  int rc = run_with(all, &log);
  if (rc != 0) fprintf(stderr, "rbench exited %d:\n%s\n", rc, log);
  assert_int_equal(rc, 0);
  free(log);
  cJSON *d = read_json(out);
  assert_non_null(d);
  return d;
}

static bool is_null(const cJSON *d, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, k);
  return v && cJSON_IsNull(v);
}

/* The most invocations in flight at once, from the raw records' send and end times, and how
 * many sends found all N slots busy (a closed loop never sends into a full loop). */
static void in_flight_profile(const cJSON *d, int n_slots, int *max_seen, int *full_sends) {
  const cJSON *raw = cJSON_GetObjectItemCaseSensitive(d, "raw_results");
  *max_seen = 0;
  *full_sends = 0;
  const cJSON *a, *b;
  cJSON_ArrayForEach(a, raw) {
    double t = num(a, "sent_ms");
    int busy = 0; /* sent before a (or with it) and not yet finished when a was sent */
    cJSON_ArrayForEach(b, raw) {
      if (b == a) continue;
      if (num(b, "sent_ms") <= t && num(b, "end_ms") > t) busy++;
    }
    if (busy + 1 > *max_seen) *max_seen = busy + 1;
    if (busy >= n_slots) (*full_sends)++;
  }
}

static void test_closed_loop_by_invocations(void **state) {
  (void)state;
  const char *flags[] = {"--concurrency", "4",   "--pool-size", "4",
                         "--invocations", "120", "--ops",       "5",
                         "--rate",        "1",   NULL};
  cJSON *d = run_doc("closed-n", flags);
  assert_string_equal(cJSON_GetObjectItem(d, "mode")->valuestring, "closed");
  assert_true(num(d, "scenario.parameters.concurrency") == 4);
  assert_true(num(d, "invocations.planned") == 120);
  assert_true(num(d, "invocations.sent") == 120);
  assert_true(num(d, "invocations.completed") == 120);
  assert_true(num(d, "invocations.unsent") == 0);
  assert_true(num(d, "success_rate") == 1.0);
  /* --rate 1 would take two minutes open loop; the closed loop ignores it. */
  assert_true(num(d, "duration_s") < 30);
  assert_true(is_null(d, "requested_rate"));
  assert_true(is_null(d, "late_starts"));
  assert_true(is_null(d, "held_by_max_in_flight"));
  assert_true(is_null(d, "schedule_lag_ms"));
  /* achieved_rate is the completion rate: 120 completions over the run's span. */
  double achieved = num(d, "achieved_rate");
  assert_true(achieved > 1.5);
  assert_true(fabs(achieved - num(d, "throughput")) < 1e-6 * achieved); /* no failures */
  /* No intended time: latency runs from the actual send. */
  const cJSON *r;
  cJSON_ArrayForEach(r, cJSON_GetObjectItem(d, "raw_results")) {
    assert_true(num(r, "intended_ms") == num(r, "sent_ms"));
    assert_true(num(r, "execution_time_ms") == num(r, "service_time_ms"));
  }
  int max_seen = 0, full = 0;
  in_flight_profile(d, 4, &max_seen, &full);
  assert_int_equal(max_seen, 4); /* four at once, never five */
  assert_int_equal(full, 0);
  cJSON_Delete(d);
}

static void test_closed_loop_for_a_duration(void **state) {
  (void)state;
  const char *flags[] = {"--concurrency", "3",   "--pool-size", "3", "--duration", "1.5",
                         "--warmup",      "0.5", "--ops",       "5", NULL};
  cJSON *d = run_doc("closed-t", flags);
  assert_string_equal(cJSON_GetObjectItem(d, "mode")->valuestring, "closed");
  double sent = num(d, "invocations.sent"), warm = num(d, "invocations.warmup");
  assert_true(sent > 10);
  assert_true(num(d, "invocations.planned") == sent); /* a duration plans what it sends */
  assert_true(num(d, "invocations.unsent") == 0);
  assert_true(cJSON_IsNull(
      cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "scenario"), "parameters"),
                          "planned_invocations")));
  assert_true(warm > 0 && warm < sent);
  assert_true(num(d, "invocations.measured") == sent - warm);
  assert_true(num(d, "duration_s") >= 1.5);
  /* Sends stop at the duration; warm-up is what was sent in its first half second (times are
   * from the start, to the microsecond). */
  const cJSON *r;
  cJSON_ArrayForEach(r, cJSON_GetObjectItem(d, "raw_results")) {
    double t = num(r, "sent_ms");
    assert_true(t >= 0 && t < 1500);
    if (fabs(t - 500) > 0.01)
      assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "warmup")) == (t < 500));
  }
  int max_seen = 0, full = 0;
  in_flight_profile(d, 3, &max_seen, &full);
  assert_int_equal(max_seen, 3);
  assert_int_equal(full, 0);
  cJSON_Delete(d);
}

static void test_compare_and_report_closed_sides(void **state) {
  (void)state;
  const char *base[] = {"--concurrency", "8",     "--pool-size", "8",          "--invocations",
                        "160",           "--ops", "10",          "--parallel", "5",
                        "--repetitions", "1",     NULL};
  cJSON *a = run_doc("cl-direct", base);
  const char *bat[] = {"--concurrency", "8",  "--pool-size", "8", "--invocations", "160",
                       "--ops",         "10", "--parallel",  "5", "--batching",    NULL};
  cJSON *b = run_doc("cl-batched", bat);
  /* Closed-loop batched runs are measured like open ones: the agent batched across actions. */
  assert_true(num(b, "agent.commands_per_batch.mean") > 1);
  assert_true(num(b, "redis.reads_per_op") < num(a, "redis.reads_per_op"));
  cJSON_Delete(a);
  cJSON_Delete(b);
  char cmd[800], *out = NULL;
  snprintf(cmd, sizeof cmd, "%s compare %s/cl-direct.json %s/cl-batched.json --json",
           rbt_bin("rbench"), tmpdir, tmpdir);
  assert_int_equal(rbt_run(cmd, &out), 0);
  cJSON *c = cJSON_Parse(out);
  free(out);
  assert_non_null(c);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "a"), "mode")->valuestring,
                      "closed");
  assert_true(num(c, "b.concurrency") == 8);
  const char *h = cJSON_GetObjectItem(c, "headline")->valuestring;
  assert_non_null(strstr(h, "with 8 invocations in flight (closed loop)"));
  assert_non_null(strstr(h, "throughput"));
  cJSON_Delete(c);
  snprintf(cmd, sizeof cmd, "%s compare %s/cl-direct.json %s/cl-batched.json", rbt_bin("rbench"),
           tmpdir, tmpdir);
  assert_int_equal(rbt_run(cmd, &out), 0);
  assert_non_null(strstr(out, "closed loop: 8 in flight"));
  free(out);
  /* An open-loop side against a closed one is named as such. */
  const char *open_flags[] = {"--rate", "100", "--invocations", "20", "--pool-size", "4", NULL};
  cJSON_Delete(run_doc("open", open_flags));
  snprintf(cmd, sizeof cmd, "%s compare %s/open.json %s/cl-batched.json", rbt_bin("rbench"), tmpdir,
           tmpdir);
  assert_int_equal(rbt_run(cmd, &out), 0);
  assert_non_null(strstr(out, "not run the same way"));
  free(out);
  snprintf(cmd, sizeof cmd, "%s report %s/cl-direct.json %s/cl-batched.json -o %s/closed.html",
           rbt_bin("rbench"), tmpdir, tmpdir, tmpdir);
  assert_int_equal(rbt_run(cmd, &out), 0);
  assert_non_null(strstr(out, "headline: "));
  assert_non_null(strstr(out, "(closed loop)"));
  free(out);
  char path[200];
  snprintf(path, sizeof path, "%s/closed.html", tmpdir);
  char *html = read_text(path);
  assert_non_null(html);
  assert_non_null(strstr(html, "closed loop"));
  assert_null(strstr(html, "nan"));
  free(html);
}

static void test_refused_combinations(void **state) {
  (void)state;
  char *log = NULL;
  const char *warm[] = {"--concurrency", "2", "--duration", "1", "--warmup", "1", NULL};
  assert_int_equal(run_with(warm, &log), 2);
  assert_non_null(strstr(log, "warmup (1 s) covers the whole duration (1 s)"));
  free(log);
  char yaml[200];
  snprintf(yaml, sizeof yaml, "%s/sweep.yaml", tmpdir);
  write_text(yaml,
             "name: s\ndefaults:\n  concurrency: 4\nruns:\n  - name: a\n    rate: [10, 20]\n");
  const char *sweep[] = {"-f", yaml, NULL};
  assert_int_equal(run_with(sweep, &log), 2);
  assert_non_null(strstr(log, "concurrency 4 (a closed loop) has no rate to sweep"));
  free(log);
  const char *bad[] = {"--concurrency", "-1", NULL};
  assert_int_equal(run_with(bad, &log), 2);
  assert_non_null(strstr(log, "concurrency: expected an integer from 0 (open loop) to 100000"));
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_closed_loop_by_invocations),
      cmocka_unit_test(test_closed_loop_for_a_duration),
      cmocka_unit_test(test_compare_and_report_closed_sides),
      cmocka_unit_test(test_refused_combinations),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
