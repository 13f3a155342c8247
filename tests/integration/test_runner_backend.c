#define _GNU_SOURCE
/* test_runner_backend.c: both sides of the trade in the results, end to end: real
 * redis-server (with a password), real rbench-agent --metrics (plain and --coalesce), real
 * rbench-action processes on the local target. Also Redis unreachable for its statistics and
 * the agent's metrics endpoint absent: the run completes and the document says why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "rbt_agent.h"
#include "runner_common.h"

#define PASSWORD "rb-backend-pw-41c7"

static struct rbt_proc redis, agent, agent_co;
static int metrics_port, metrics_co_port;
static char envfile[160];

/* rbench-agent in front of redis with --metrics on a free port (and extra flags). */
static bool start_agent(struct rbt_proc *p, int *mport, const char *extra_flag) {
  static char *const env[] = {"REDIS_PASSWORD=" PASSWORD, NULL};
  for (int attempt = 0; attempt < 5; attempt++) {
    *mport = rbt_free_port();
    char m[64];
    snprintf(m, sizeof m, "127.0.0.1:%d", *mport);
    const char *extra[] = {"--metrics", m, "--log-level", "warn", extra_flag, NULL};
    if (!rbt_agent_start(p, redis.port, extra, env)) return false;
    if (rbt_wait_port(*mport, 5000)) return true;
    rbt_proc_stop(p, SIGKILL);
  }
  return false;
}

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  if (!rbt_redis_start(&redis, PASSWORD)) return -1;
  if (!start_agent(&agent, &metrics_port, NULL)) return -1;
  if (!start_agent(&agent_co, &metrics_co_port, "--coalesce")) return -1;
  snprintf(envfile, sizeof envfile, "%s/local.env", tmpdir);
  char text[512];
  snprintf(text, sizeof text,
           "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nREDIS_PASSWORD=%s\nBATCHING_AGENT_HOST=127.0.0.1\n"
           "BATCHING_AGENT_PORT=%d\nBATCHING_AGENT_METRICS_URL=http://127.0.0.1:%d/metrics\n",
           redis.port, PASSWORD, agent.port, metrics_port);
  write_text(envfile, text);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&agent, SIGTERM);
  rbt_proc_stop(&agent_co, SIGTERM);
  rbt_proc_stop(&redis, SIGTERM);
  unlink(agent.log);
  unlink(agent_co.log);
  unlink(redis.log);
  tmpdir_remove();
  return 0;
}

/* Runs one run (40 invocations of 10 SETs, 5 parallel calls, up to 8 actions in flight);
 * extra: more flags (NULL-terminated, may be NULL). Returns the document. */
static cJSON *run(const char *name, bool batching, const char *env, const char *const *extra) {
  char out[200];
  snprintf(out, sizeof out, "%s/%s.json", tmpdir, name);
  char *argv[40] = {
      NULL,       "run", "--env",      (char *)env, "--rate",      "200", "--invocations",   "40",
      "--ops",    "10",  "--parallel", "5",         "--pool-size", "8",   "--max-in-flight", "8",
      "--output", out,   "--progress", "off"};
  int n = 20;
  if (batching) argv[n++] = "--batching";
  for (int i = 0; extra && extra[i]; i++) argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  char *log = NULL;
  int rc = run_rbench(argv, NULL, 120000, &log);
  if (rc != 0) fprintf(stderr, "rbench exited %d:\n%s\n", rc, log);
  assert_int_equal(rc, 0);
  assert_null(strstr(log, PASSWORD));
  free(log);
  char *text = read_text(out);
  assert_non_null(text);
  assert_null(strstr(text, PASSWORD));
  cJSON *d = cJSON_Parse(text);
  free(text);
  assert_non_null(d);
  assert_true(num(d, "invocations.completed") == 40);
  assert_true(num(d, "success_rate") == 1.0);
  return d;
}

static const cJSON *section(const cJSON *d, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(d, name);
}

static void assert_redis_plausible(const cJSON *d) {
  const cJSON *r = section(d, "redis");
  assert_non_null(r);
  assert_null(cJSON_GetObjectItemCaseSensitive(r, "unavailable"));
  char want[64];
  snprintf(want, sizeof want, "127.0.0.1:%d", redis.port);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "endpoint")->valuestring, want);
  assert_true(num(r, "ops") == 400); /* every invocation's own succeeded + failed */
  assert_true(num(r, "cpu_s.total") > 0);
  assert_true(num(r, "cpu_us_per_op") > 0);
  assert_true(num(r, "reads_per_op") > 0 && num(r, "reads") >= num(r, "reads_per_op"));
  assert_true(num(r, "bytes_per_op") > 10); /* a 64-byte value per SET goes in */
  /* Nobody else uses this Redis: rbench accounts for every command and connection. */
  assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "shared")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "note")));
}

static void test_both_sides_of_the_trade(void **state) {
  (void)state;
  cJSON *direct = run("direct", false, envfile, NULL);
  cJSON *batched = run("batched", true, envfile, NULL);
  char co_url[80];
  snprintf(co_url, sizeof co_url, "http://127.0.0.1:%d/metrics", metrics_co_port);
  char env_co[200];
  snprintf(env_co, sizeof env_co, "%s/co.env", tmpdir);
  char text[512];
  snprintf(text, sizeof text, "REDIS_PORT=%d\nREDIS_PASSWORD=%s\nBATCHING_AGENT_PORT=%d\n",
           redis.port, PASSWORD, agent_co.port);
  write_text(env_co, text);
  const char *co_flags[] = {"--agent-metrics", co_url, NULL};
  cJSON *coalesced = run("coalesced", true, env_co, co_flags);

  assert_redis_plausible(direct);
  assert_redis_plausible(batched);
  assert_redis_plausible(coalesced);
  /* Direct: every SET reached Redis as itself, and there is no agent section. */
  assert_true(num(section(direct, "redis"), "calls.set") == 400);
  assert_null(section(direct, "agent"));
  assert_true(num(direct, "backend_cpu_us_per_op") ==
              num(section(direct, "redis"), "cpu_us_per_op"));

  /* Batched: the agent gathered several commands per batch, so Redis read fewer times per
   * operation; without coalescing the commands stay one per operation. */
  const cJSON *ag = section(batched, "agent");
  assert_non_null(ag);
  assert_null(cJSON_GetObjectItemCaseSensitive(ag, "unavailable"));
  assert_true(num(ag, "commands") == 400);
  assert_true(num(ag, "batches") > 0 && num(ag, "batches") < 400);
  assert_true(num(ag, "commands_per_batch.mean") > 1);
  assert_true(num(ag, "commands_per_batch.p99") >= num(ag, "commands_per_batch.p50"));
  assert_true(num(ag, "upstream_writes") >= 1);
  assert_true(num(ag, "cpu_s") > 0 && num(ag, "cpu_us_per_op") > 0);
  assert_true(num(ag, "rss_bytes") > 1e5);
  assert_true(num(section(batched, "redis"), "reads_per_op") <
              num(section(direct, "redis"), "reads_per_op"));
  assert_true(num(section(batched, "redis"), "calls.set") == 400);
  assert_true(fabs(num(batched, "backend_cpu_us_per_op") -
                   (num(section(batched, "redis"), "cpu_us_per_op") + num(ag, "cpu_us_per_op"))) <
              1e-3);

  /* --coalesce folds SETs into MSETs: fewer Redis commands per operation than direct. */
  const cJSON *co = section(coalesced, "agent");
  assert_true(num(co, "coalesced") > 0);
  assert_true(num(section(coalesced, "redis"), "calls.mset") > 0);
  assert_true(num(section(coalesced, "redis"), "commands_per_op") <
              num(section(direct, "redis"), "commands_per_op"));
  char url[80];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", metrics_co_port);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(co, "endpoint")->valuestring, url);

  /* compare and report take these documents. */
  char cmd[700], *out = NULL;
  snprintf(cmd, sizeof cmd, "%s compare %s/direct.json %s/batched.json", rbt_bin("rbench"), tmpdir,
           tmpdir);
  assert_int_equal(rbt_run(cmd, &out), 0);
  free(out);
  snprintf(cmd, sizeof cmd, "%s report %s/direct.json %s/batched.json -o %s/report.html",
           rbt_bin("rbench"), tmpdir, tmpdir, tmpdir);
  assert_int_equal(rbt_run(cmd, &out), 0);
  free(out);
  cJSON_Delete(direct);
  cJSON_Delete(batched);
  cJSON_Delete(coalesced);
}

/* REDIS_PORT points at a closed port, while the batched run's agent reaches the real Redis:
 * the run is fine, only its Redis statistics are missing, and the document says why. */
static void test_redis_unreachable_for_stats(void **state) {
  (void)state;
  char env[200], text[512];
  snprintf(env, sizeof env, "%s/closed-redis.env", tmpdir);
  snprintf(text, sizeof text,
           "REDIS_PORT=%d\nREDIS_PASSWORD=%s\nBATCHING_AGENT_PORT=%d\n"
           "BATCHING_AGENT_METRICS_URL=http://127.0.0.1:%d/metrics\n",
           rbt_free_port(), PASSWORD, agent.port, metrics_port);
  write_text(env, text);
  cJSON *d = run("no-redis-stats", true, env, NULL);
  const cJSON *r = section(d, "redis");
  assert_non_null(r);
  const cJSON *why = cJSON_GetObjectItemCaseSensitive(r, "unavailable");
  assert_true(cJSON_IsString(why));
  assert_non_null(strstr(why->valuestring, "cannot connect"));
  assert_true(num(section(d, "agent"), "commands") == 400); /* the agent side is still there */
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "backend_cpu_us_per_op")));
  cJSON_Delete(d);
}

/* The agent's metrics URL points at a closed port, or none is configured. */
static void test_agent_metrics_absent(void **state) {
  (void)state;
  char url[80];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", rbt_free_port());
  const char *flags[] = {"--agent-metrics", url, NULL};
  cJSON *d = run("closed-metrics", true, envfile, flags);
  const cJSON *a = section(d, "agent");
  assert_non_null(a);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(a, "endpoint")->valuestring, url);
  assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "unavailable")));
  assert_true(num(section(d, "redis"), "ops") == 400);
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "backend_cpu_us_per_op")));
  cJSON_Delete(d);

  char env[200], text[512];
  snprintf(env, sizeof env, "%s/no-url.env", tmpdir);
  snprintf(text, sizeof text, "REDIS_PORT=%d\nREDIS_PASSWORD=%s\nBATCHING_AGENT_PORT=%d\n",
           redis.port, PASSWORD, agent.port);
  write_text(env, text);
  d = run("no-url", true, env, NULL);
  a = section(d, "agent");
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "endpoint")));
  assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(a, "unavailable")->valuestring,
                         "BATCHING_AGENT_METRICS_URL"));
  cJSON_Delete(d);
}

/* Another client working the same Redis during the run shows as shared, with a note. */
static void test_shared_server(void **state) {
  (void)state;
  char out[200];
  snprintf(out, sizeof out, "%s/shared.json", tmpdir);
  /* A background client: an INCR every 0.1 s for about 4 s, while the run (1.5 s) goes on. */
  char script[600];
  snprintf(script, sizeof script,
           "(for i in $(seq 40); do REDISCLI_AUTH=%s timeout 5 redis-cli -p %d INCR other; "
           "sleep 0.1; done) >/dev/null 2>&1 &",
           PASSWORD, redis.port);
  char *o = NULL;
  assert_int_equal(rbt_run(script, &o), 0);
  free(o);
  char *argv[] = {NULL, "run",   "--env", envfile,    "--rate", "20",         "--invocations",
                  "30", "--ops", "5",     "--output", out,      "--progress", "off",
                  NULL};
  assert_int_equal(run_rbench(argv, NULL, 120000, NULL), 0);
  cJSON *d = read_json(out);
  assert_non_null(d);
  const cJSON *r = section(d, "redis");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "shared")));
  assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(r, "note")->valuestring, "incr"));
  cJSON_Delete(d);
}

/* doctor: the agent answers PING itself, so a forwarded command must show whether it reaches
 * Redis. An agent without Redis's password passes PING and fails the forwarded check. */
static void test_doctor_agent_reaches_redis(void **state) {
  (void)state;
  struct rbt_proc noauth;
  static char *const env[] = {NULL};
  const char *extra[] = {"--log-level", "error", NULL};
  assert_true(rbt_agent_start(&noauth, redis.port, extra, env));
  char bad[200], text[512];
  snprintf(bad, sizeof bad, "%s/noauth.env", tmpdir);
  snprintf(text, sizeof text,
           "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nREDIS_PASSWORD=%s\nBATCHING_AGENT_HOST=127.0.0.1\n"
           "BATCHING_AGENT_PORT=%d\n",
           redis.port, PASSWORD, noauth.port);
  write_text(bad, text);
  char *good_argv[] = {NULL, "doctor", "--env", envfile, NULL};
  char *log = NULL;
  int rc = run_rbench(good_argv, NULL, 60000, &log);
  if (rc != 0) fprintf(stderr, "%s\n", log);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(log, "answered EXISTS rbench:doctor"));
  assert_non_null(strstr(log, "ok    agent is a proxy"));
  assert_non_null(strstr(log, "refused CLIENT ID (ERR "));
  assert_non_null(strstr(log, "ok    agent metrics"));
  free(log);
  char *bad_argv[] = {NULL, "doctor", "--env", bad, NULL};
  rc = run_rbench(bad_argv, NULL, 60000, &log);
  rbt_proc_stop(&noauth, SIGTERM);
  unlink(noauth.log);
  assert_int_equal(rc, 1);
  assert_non_null(strstr(log, "ok    batching agent (PING)"));
  assert_non_null(strstr(log, "FAIL  agent -> Redis "));
  assert_null(strstr(log, PASSWORD));
  free(log);
}

/* Writes tmpdir/NAME.env: this Redis with its password, the agent at agent_port (with
 * Redis's password when that is Redis itself: the agents here take none), and the metrics
 * URL (NULL: none). Returns the path (static). */
static const char *env_with(const char *name, int agent_port, const char *metrics_url) {
  static char path[200];
  char text[600];
  snprintf(path, sizeof path, "%s/%s.env", tmpdir, name);
  int n = snprintf(
      text, sizeof text,
      "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nREDIS_PASSWORD=%s\nBATCHING_AGENT_HOST=127.0.0.1\n"
      "BATCHING_AGENT_PORT=%d\nBATCHING_AGENT_PASSWORD=%s\n",
      redis.port, PASSWORD, agent_port, agent_port == redis.port ? PASSWORD : "");
  if (metrics_url)
    snprintf(text + n, sizeof text - (size_t)n, "BATCHING_AGENT_METRICS_URL=%s\n", metrics_url);
  write_text(path, text);
  return path;
}

/* BATCHING_AGENT_PORT set to Redis's own port: Redis answers PING and EXISTS too, so only a
 * proxy check tells; doctor fails it and a batched run is refused before it starts. */
static void test_agent_address_is_redis(void **state) {
  (void)state;
  char url[80], *log = NULL;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", metrics_port);
  const char *env = env_with("agent-is-redis", redis.port, url);
  char *doctor[] = {NULL, "doctor", "--env", (char *)env, NULL};
  int rc = run_rbench(doctor, NULL, 60000, &log);
  if (rc != 1) fail_msg("doctor exit %d: %s", rc, log);
  assert_non_null(strstr(log, "ok    batching agent (PING)"));
  assert_non_null(strstr(log, "FAIL  agent is a proxy"));
  assert_non_null(strstr(log, "answered CLIENT ID with this connection's id"));
  assert_non_null(strstr(log, "it is REDIS_HOST:REDIS_PORT itself, not a proxy in front of Redis"));
  assert_non_null(strstr(log, "some checks failed"));
  assert_null(strstr(log, PASSWORD));
  free(log);
  char out[200];
  snprintf(out, sizeof out, "%s/agent-is-redis.json", tmpdir);
  char *argv[] = {NULL, "run",      "--env", (char *)env,  "--batching", "--invocations",
                  "4",  "--output", out,     "--progress", "off",        NULL};
  rc = run_rbench(argv, NULL, 60000, &log);
  if (rc != 2) fail_msg("run exit %d: %s", rc, log);
  assert_non_null(strstr(log, "batching agent 127.0.0.1:"));
  assert_non_null(strstr(log, "answered CLIENT ID"));
  assert_int_equal(access(out, F_OK), -1);
  free(log);
}

/* A BATCHING_AGENT_METRICS_URL nothing answers fails doctor. */
static void test_doctor_metrics_unreachable(void **state) {
  (void)state;
  char url[80], *log = NULL;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", rbt_free_port());
  const char *env = env_with("metrics-closed", agent.port, url);
  char *doctor[] = {NULL, "doctor", "--env", (char *)env, NULL};
  int rc = run_rbench(doctor, NULL, 60000, &log);
  if (rc != 1) fail_msg("doctor exit %d: %s", rc, log);
  assert_non_null(strstr(log, "ok    agent is a proxy"));
  char want[200];
  snprintf(want, sizeof want,
           "FAIL  agent metrics          %s: cannot read the agent's metrics: ", url);
  if (!strstr(log, want)) fail_msg("%s", log);
  free(log);
}

/* The run's commands go through one agent while the metrics are another's: the agent section
 * shows 0 commands, and the document, the run's log, compare and report all say so. */
static void test_agent_saw_nothing_warns(void **state) {
  (void)state;
  char url[80], *log = NULL, out[200], page[200];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", metrics_co_port);
  const char *env = env_with("other-metrics", agent.port, url);
  snprintf(out, sizeof out, "%s/saw-nothing.json", tmpdir);
  char *argv[] = {NULL,     "run",        "--env",         (char *)env, "--batching",
                  "--rate", "100",        "--invocations", "10",        "--output",
                  out,      "--progress", "off",           NULL};
  int rc = run_rbench(argv, NULL, 60000, &log);
  if (rc != 0) fail_msg("run exit %d: %s", rc, log);
  if (!strstr(log, "the agent received none of this batched run's commands")) fail_msg("%s", log);
  free(log);
  cJSON *d = read_json(out);
  assert_non_null(d);
  const cJSON *a = section(d, "agent");
  assert_true(num(a, "commands") == 0);
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(a, "warning");
  assert_true(cJSON_IsString(w));
  assert_non_null(strstr(w->valuestring, "performed 100 operations"));
  cJSON_Delete(d);
  char *cmp[] = {NULL, "compare", out, out, NULL};
  rc = run_rbench(cmp, NULL, 60000, &log);
  assert_int_equal(rc, 0);
  char want[300];
  snprintf(want, sizeof want, "rbench compare: warning: %s: agent: the agent received none", out);
  if (!strstr(log, want)) fail_msg("%s", log);
  free(log);
  snprintf(page, sizeof page, "%s/saw-nothing.html", tmpdir);
  char *rep[] = {NULL, "report", out, "--output", page, NULL};
  rc = run_rbench(rep, NULL, 60000, &log);
  if (rc != 0) fail_msg("report exit %d: %s", rc, log);
  snprintf(want, sizeof want, "rbench report: warning: %s: agent: the agent received none", out);
  if (!strstr(log, want)) fail_msg("%s", log);
  free(log);
  char *html = read_text(page);
  assert_non_null(html);
  assert_non_null(strstr(html, "<strong>warning: the agent received none"));
  free(html);
}

/* Killer thread: stops the metrics-only agent part-way through the run. */
static void *kill_later(void *arg) {
  usleep(1500 * 1000);
  rbt_proc_stop(arg, SIGKILL);
  return NULL;
}

/* The agent whose metrics are sampled dies mid-run: the "after" sample fails, and a warning
 * names the server and why (docs/results.md), besides the section's "unavailable". */
static void test_sample_failure_mid_run_logged(void **state) {
  (void)state;
  struct rbt_proc spare;
  int mport = 0;
  assert_true(start_agent(&spare, &mport, NULL));
  char url[80], *log = NULL, out[200];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", mport);
  const char *env = env_with("dies", agent.port, url);
  snprintf(out, sizeof out, "%s/dies.json", tmpdir);
  char *argv[] = {NULL,     "run",        "--env",         (char *)env, "--batching",
                  "--rate", "10",         "--invocations", "30",        "--output",
                  out,      "--progress", "off",           NULL};
  pthread_t t;
  pthread_create(&t, NULL, kill_later, &spare);
  int rc = run_rbench(argv, NULL, 60000, &log);
  pthread_join(t, NULL);
  unlink(spare.log);
  if (rc != 0) fail_msg("run exit %d: %s", rc, log);
  char want[200];
  snprintf(
      want, sizeof want,
      "agent metrics %s: the sample after the run failed: cannot read the agent's metrics: ", url);
  if (!strstr(log, want)) fail_msg("%s", log);
  free(log);
  cJSON *d = read_json(out);
  assert_non_null(d);
  assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(section(d, "agent"), "unavailable")));
  cJSON_Delete(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_both_sides_of_the_trade),
      cmocka_unit_test(test_redis_unreachable_for_stats),
      cmocka_unit_test(test_agent_metrics_absent),
      cmocka_unit_test(test_shared_server),
      cmocka_unit_test(test_doctor_agent_reaches_redis),
      cmocka_unit_test(test_agent_address_is_redis),
      cmocka_unit_test(test_doctor_metrics_unreachable),
      cmocka_unit_test(test_agent_saw_nothing_warns),
      cmocka_unit_test(test_sample_failure_mid_run_logged),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
