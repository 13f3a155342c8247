#define _GNU_SOURCE
/* test_runner_openwhisk.c: the openwhisk target against fakewhisk, a test double of the
 * controller's REST API on loopback: 200 records with waitTime/initTime, 202 then polling,
 * 429, 502 (record and gateway), 500, slow replies, refused connections, wrong key, unknown
 * action, self-signed TLS with and without --insecure, no secret in results or logs, and
 * --wait-for-action (an action that appears later, one that never does, a wrong key, no
 * controller, SIGTERM while waiting), and --action-concurrency setting the action's
 * limits.concurrency (updated, unchanged, above the controller's maximum, unknown action). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "runner_common.h"

#define AUTH "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:TestKeyZ0123456789"
#define REDIS_PW "ow-redis-pw-91ab"

static struct rbt_proc fake, fake_tls;
static char envfile[160], env_tls[160], fake_log[160];

static bool start_fake(struct rbt_proc *p, const char *cert, const char *key, const char *log) {
  for (int attempt = 0; attempt < 5; attempt++) {
    p->port = rbt_free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    char *argv[12] = {(char *)rbt_bin("fakewhisk"), "--port", port, "--auth", AUTH, NULL};
    int i = 5;
    if (log) argv[i++] = "--log", argv[i++] = (char *)log;
    if (cert) argv[i++] = "--tls", argv[i++] = (char *)cert, argv[i++] = (char *)key;
    argv[i] = NULL;
    if (!rbt_proc_start(p, argv, NULL)) return false;
    if (rbt_wait_port(p->port, 5000)) return true;
    rbt_proc_stop(p, SIGKILL);
  }
  return false;
}

/* Writes TMPDIR/NAME: an env file naming the controller on 127.0.0.1:port and the key. */
static void write_ow_env(char *path, size_t len, const char *name, int port, const char *auth) {
  char text[300];
  snprintf(path, len, "%s/%s", tmpdir, name);
  snprintf(text, sizeof text, "OPENWHISK_APIHOST=http://127.0.0.1:%d\nOPENWHISK_AUTH=%s\n", port,
           auth);
  write_text(path, text);
}

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  snprintf(fake_log, sizeof fake_log, "%s/fake.log", tmpdir);
  if (!start_fake(&fake, NULL, NULL, fake_log)) return -1;
  char cmd[600], cert[160], key[160], text[400];
  snprintf(cert, sizeof cert, "%s/cert.pem", tmpdir);
  snprintf(key, sizeof key, "%s/key.pem", tmpdir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
           "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
           key, cert);
  if (system(cmd) != 0 || !start_fake(&fake_tls, cert, key, NULL)) return -1;
  snprintf(envfile, sizeof envfile, "%s/local.env", tmpdir);
  snprintf(text, sizeof text,
           "OPENWHISK_APIHOST=http://127.0.0.1:%d\nOPENWHISK_AUTH=%s\n"
           "REDIS_HOST=127.0.0.9\nREDIS_PORT=6379\nREDIS_PASSWORD=%s\n",
           fake.port, AUTH, REDIS_PW);
  write_text(envfile, text);
  snprintf(env_tls, sizeof env_tls, "%s/tls.env", tmpdir);
  snprintf(text, sizeof text, "OPENWHISK_APIHOST=127.0.0.1:%d\nOPENWHISK_AUTH=%s\n", fake_tls.port,
           AUTH);
  write_text(env_tls, text); /* no scheme: https, as wsk */
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&fake, SIGTERM);
  rbt_proc_stop(&fake_tls, SIGTERM);
  unlink(fake.log);
  unlink(fake_tls.log);
  tmpdir_remove();
  return 0;
}

/* Runs `rbench run --target openwhisk --action pkg/NAME` with extra flags; returns the
 * document (NULL if none) and the exit status in *rc. */
static cJSON *invoke(const char *env, const char *action, const char *invocations,
                     const char *extra1, const char *extra2, int *rc, char **log) {
  char out[200];
  snprintf(out, sizeof out, "%s/%s.json", tmpdir, action);
  unlink(out);
  char act[64];
  snprintf(act, sizeof act, "pkg/%s", action);
  char *argv[24] = {
      NULL,       "run", "--target",   "openwhisk", "--env",          (char *)env,
      "--action", act,   "--rate",     "50",        "--invocations",  (char *)invocations,
      "--output", out,   "--progress", "off",       "--poll-timeout", "5"};
  int i = 18;
  if (extra1) argv[i++] = (char *)extra1;
  if (extra2) argv[i++] = (char *)extra2;
  argv[i] = NULL;
  *rc = run_rbench(argv, NULL, 60000, log);
  if (log) assert_null(strstr(*log, REDIS_PW));
  if (log) assert_null(strstr(*log, "TestKeyZ0123456789"));
  char *text = read_text(out);
  if (text) {
    assert_null(strstr(text, REDIS_PW));
    assert_null(strstr(text, "TestKeyZ0123456789"));
  }
  free(text);
  return read_json(out);
}

static const cJSON *kind(const cJSON *d, const char *k) {
  return cJSON_GetObjectItem(cJSON_GetObjectItem(d, "errors_by_kind"), k);
}

static void test_success_with_cold_start(void **state) {
  (void)state;
  int rc;
  cJSON *d = invoke(envfile, "ok", "20", NULL, NULL, &rc, NULL);
  assert_int_equal(rc, 0);
  assert_non_null(d);
  assert_true(num(d, "success_rate") == 1);
  assert_true(num(d, "cold_starts") == 1); /* initTime only on the first record */
  assert_true(num(d, "server.init_time_ms.count") == 1);
  assert_true(num(d, "server.init_time_ms.p50") == 31);
  assert_true(num(d, "server.wait_time_ms.p50") == 7);
  assert_true(num(d, "server.duration_ms.max") == 45);
  assert_true(num(d, "server.action_elapsed_ms.p50") == 2.1);
  assert_string_equal(cJSON_GetObjectItem(d, "action")->valuestring, "/_/pkg/ok");
  cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "raw_results"), 0);
  assert_int_equal(strlen(cJSON_GetObjectItem(r, "activation_id")->valuestring), 32);
  assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "success");
  assert_true(num(r, "http_status") == 200);
  cJSON_Delete(d);
  /* What the controller saw: Basic auth, POST ...?blocking=true, the seed's parameters. */
  char *log = read_text(fake_log);
  assert_non_null(strstr(log, "GET /api/v1/namespaces/_/actions/pkg/ok auth=ok"));
  assert_non_null(
      strstr(log, "POST /api/v1/namespaces/_/actions/pkg/ok auth=ok ctype=application/json {"));
  assert_non_null(strstr(log,
                         "\"num_ops\":10,\"operation_type\":\"set\",\"use_batching\":false,"
                         "\"parallel_calls\":5,\"key_prefix\":\"benchmark\""));
  assert_non_null(strstr(log, "\"redis_host\":\"127.0.0.9\""));
  free(log);
}

/* --realtime: a real-time rbench where permitted, a warning and a normal run where not;
 * either way the run completes, and each invocation is recorded once. */
static void test_realtime_option(void **state) {
  (void)state;
  int rc;
  char *log = NULL;
  cJSON *d = invoke(envfile, "ok", "30", "--realtime", NULL, &rc, &log);
  assert_int_equal(rc, 0);
  assert_non_null(d);
  assert_true(strstr(log, "running as a real-time process") || strstr(log, "--realtime: cannot"));
  assert_true(num(d, "invocations.completed") == 30);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "raw_results")), 30);
  assert_true(num(d, "success_rate") == 1);
  cJSON_Delete(d);
  free(log);
}

/* What the controller's log shows of a run against a fakewhisk of its own: the connections it
 * accepted before the first invoke, in all, and the GETs of the action before the first invoke. */
struct conn_count {
  int before_invoke, total, gets_before_invoke, posts;
};

static struct conn_count count_connections(const char *log_path, int skip) {
  struct conn_count c = {0};
  char *log = read_text(log_path);
  assert_non_null(log);
  for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strncmp(line, "CONNECTION ", 11)) {
      if (skip > 0) {
        skip--;
        continue;
      }
      c.total++;
      if (!c.posts) c.before_invoke++;
    } else if (!strncmp(line, "POST /api/v1/namespaces/_/actions/pkg/ok", 40)) {
      c.posts++;
    } else if (!strncmp(line, "GET /api/v1/namespaces/_/actions/pkg/ok", 39) && !c.posts) {
      c.gets_before_invoke++;
    }
  }
  free(log);
  return c;
}

/* Runs pkg/ok at RATE/s for N invocations against a new fakewhisk; returns the document and
 * what the fakewhisk saw. */
static cJSON *run_counting(const char *rate, const char *n, const char *const extra[],
                           struct conn_count *seen) {
  struct rbt_proc f2 = {0};
  char log_path[200], env2[160], out[200];
  snprintf(log_path, sizeof log_path, "%s/conn.log", tmpdir);
  unlink(log_path);
  assert_true(start_fake(&f2, NULL, NULL, log_path));
  /* start_fake's readiness probe is a connection too: wait until it is logged, skip it */
  int probes = 0;
  for (int t = 0; t < 200 && !probes; t++) {
    char *log = read_text(log_path);
    for (const char *p = log; p && (p = strstr(p, "CONNECTION ")) != NULL; p++) probes++;
    free(log);
    if (!probes) usleep(10000);
  }
  assert_true(probes >= 1);
  write_ow_env(env2, sizeof env2, "conn.env", f2.port, AUTH);
  snprintf(out, sizeof out, "%s/conn.json", tmpdir);
  char *argv[24] = {NULL,       "run",    "--target",   "openwhisk",  "--env",         env2,
                    "--action", "pkg/ok", "--rate",     (char *)rate, "--invocations", (char *)n,
                    "--output", out,      "--progress", "off"};
  int i = 16;
  for (size_t k = 0; extra && extra[k] && i < 23; k++) argv[i++] = (char *)extra[k];
  argv[i] = NULL;
  assert_int_equal(run_rbench(argv, NULL, 60000, NULL), 0);
  rbt_proc_stop(&f2, SIGTERM);
  unlink(f2.log);
  *seen = count_connections(log_path, probes);
  cJSON *d = read_json(out);
  assert_non_null(d);
  return d;
}

/* --connections N (wrk's -c): N keep-alive connections are opened before the first invoke,
 * through N concurrent GETs of the action (no extra invocation), and never more: at most N
 * invocations are in flight. By default: rate x 10 ms opened ahead, more when needed up to
 * max_in_flight. */
static void test_connections_opened_ahead(void **state) {
  (void)state;
  struct conn_count c;
  const char *const four[] = {"--connections", "4", NULL};
  cJSON *d = run_counting("50", "25", four, &c);
  assert_int_equal(c.before_invoke, 4);
  assert_int_equal(c.gets_before_invoke, 4);
  assert_int_equal(c.total, 4);
  assert_int_equal(c.posts, 25); /* the GETs are not invocations */
  assert_true(num(d, "invocations.completed") == 25);
  assert_true(num(d, "success_rate") == 1);
  assert_true(num(d, "scenario.parameters.connections") == 4);
  assert_true(num(d, "connections.ahead") == 4);
  assert_true(num(d, "connections.limit") == 4);
  assert_true(num(d, "connections.opened_before_start") == 4);
  assert_true(num(d, "connections.opened_during_run") == 0);
  cJSON_Delete(d);
  /* The default at 50/s: one connection ahead (the preflight's), up to max_in_flight. */
  d = run_counting("50", "10", NULL, &c);
  assert_int_equal(c.before_invoke, 1);
  assert_int_equal(c.total, 1);
  assert_true(num(d, "scenario.parameters.connections") == 0);
  assert_true(num(d, "connections.ahead") == 1);
  assert_true(num(d, "connections.limit") == 100);
  assert_true(num(d, "connections.opened_during_run") == 0);
  cJSON_Delete(d);
  /* At most max_in_flight: more could never be used. */
  const char *const capped[] = {"--connections", "9", "--max-in-flight", "2", NULL};
  d = run_counting("50", "3", capped, &c);
  assert_int_equal(c.before_invoke, 2);
  assert_true(num(d, "connections.ahead") == 2);
  assert_true(num(d, "connections.opened_before_start") == 2);
  cJSON_Delete(d);
}

/* A rate two connections cannot always keep up with: still two connections, the sends that
 * found both busy are held (and counted), none is lost. */
static void test_connections_are_a_limit(void **state) {
  (void)state;
  struct conn_count c;
  const char *const two[] = {"--connections", "2", NULL};
  cJSON *d = run_counting("4000", "400", two, &c);
  assert_int_equal(c.total, 2);
  assert_int_equal(c.posts, 400);
  assert_true(num(d, "invocations.completed") == 400);
  assert_true(num(d, "success_rate") == 1);
  assert_true(num(d, "connections.limit") == 2);
  assert_true(num(d, "connections.opened_during_run") == 0);
  cJSON_Delete(d);
}

/* The closed loop on openwhisk: N keep-alive connections opened before the first invoke and
 * never more, one invocation in flight on each, the next sent as one finishes (--rate 1 would
 * take 30 s; the closed loop does not use it). */
static void test_closed_loop_connections(void **state) {
  (void)state;
  struct conn_count c;
  const char *const three[] = {"--concurrency", "3", NULL};
  cJSON *d = run_counting("1", "30", three, &c);
  assert_int_equal(c.before_invoke, 3);
  assert_int_equal(c.total, 3);
  assert_int_equal(c.posts, 30);
  assert_string_equal(cJSON_GetObjectItem(d, "mode")->valuestring, "closed");
  assert_true(num(d, "invocations.completed") == 30);
  assert_true(num(d, "connections.ahead") == 3);
  assert_true(num(d, "connections.limit") == 3);
  assert_true(num(d, "connections.opened_during_run") == 0);
  assert_true(num(d, "duration_s") < 10);
  cJSON_Delete(d);
}

static void test_202_then_polling(void **state) {
  (void)state;
  int rc;
  cJSON *d = invoke(envfile, "accepted", "3", NULL, NULL, &rc, NULL);
  assert_int_equal(rc, 0);
  assert_true(num(d, "success_rate") == 1);
  assert_true(num(d, "invocations.polled_after_202") == 3);
  cJSON *r;
  cJSON_ArrayForEach(r, cJSON_GetObjectItem(d, "raw_results")) {
    assert_true(num(r, "polls") == 3); /* 404, 404, then the record */
    assert_true(num(r, "http_status") == 202);
    assert_true(num(r, "service_time_ms") >= 100);
  }
  cJSON_Delete(d);
  char *log = read_text(fake_log);
  assert_non_null(strstr(log, "GET /api/v1/namespaces/_/activations/"));
  free(log);
}

static void test_error_kinds(void **state) {
  (void)state;
  int rc;
  cJSON *d = invoke(envfile, "throttled", "5", NULL, NULL, &rc, NULL);
  assert_int_equal(rc, 0); /* the run completed; the errors are data */
  assert_true(num(d, "error_rate") == 1);
  assert_true(num(kind(d, "http_429"), "count") == 5);
  const cJSON *msg = cJSON_GetArrayItem(cJSON_GetObjectItem(kind(d, "http_429"), "messages"), 0);
  assert_non_null(strstr(cJSON_GetObjectItem(msg, "message")->valuestring,
                         "HTTP 429: Too many requests in the last minute"));
  cJSON_Delete(d);
  d = invoke(envfile, "apperror", "4", NULL, NULL, &rc, NULL);
  assert_true(num(kind(d, "application_error"), "count") == 4);
  cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "raw_results"), 0);
  assert_true(num(r, "http_status") == 502);
  assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "application error");
  assert_non_null(
      strstr(cJSON_GetObjectItem(r, "error")->valuestring, "3 of 10 operations failed"));
  cJSON_Delete(d);
  d = invoke(envfile, "gateway", "2", NULL, NULL, &rc, NULL);
  assert_true(num(kind(d, "http_502"), "count") == 2);
  cJSON_Delete(d);
  d = invoke(envfile, "internal", "2", NULL, NULL, &rc, NULL);
  assert_true(num(kind(d, "http_5xx"), "count") == 2);
  cJSON_Delete(d);
}

static void test_slow_replies_time_out(void **state) {
  (void)state;
  int rc;
  cJSON *d = invoke(envfile, "slow", "3", "--request-timeout", "1", &rc, NULL);
  assert_int_equal(rc, 0);
  assert_true(num(kind(d, "timeout"), "count") == 3);
  cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "raw_results"), 0);
  assert_true(num(r, "service_time_ms") >= 1000 && num(r, "service_time_ms") < 2500);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "http_status")));
  cJSON_Delete(d);
}

static void test_preflight_failures(void **state) {
  (void)state;
  int rc;
  char *log = NULL;
  /* Unknown action: configuration error 2 with what to fix. */
  cJSON *d = invoke(envfile, "missing", "2", NULL, NULL, &rc, &log);
  assert_int_equal(rc, 2);
  assert_null(d);
  assert_non_null(strstr(log, "the action does not exist (HTTP 404"));
  free(log);
  /* Wrong key: 2, and neither key is printed. */
  char bad[160], text[300];
  snprintf(bad, sizeof bad, "%s/badkey.env", tmpdir);
  snprintf(text, sizeof text,
           "OPENWHISK_APIHOST=http://127.0.0.1:%d\nOPENWHISK_AUTH=someone:wrongsecret99\n",
           fake.port);
  write_text(bad, text);
  d = invoke(bad, "ok", "2", NULL, NULL, &rc, &log);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(log, "key was rejected (HTTP 401)"));
  assert_null(strstr(log, "wrongsecret99"));
  free(log);
  /* Refused connection: target unreachable, 3. */
  snprintf(text, sizeof text, "OPENWHISK_APIHOST=http://127.0.0.1:%d\nOPENWHISK_AUTH=%s\n",
           rbt_free_port(), AUTH);
  write_text(bad, text);
  d = invoke(bad, "ok", "2", NULL, NULL, &rc, &log);
  assert_int_equal(rc, 3);
  assert_non_null(strstr(log, "unreachable (connect"));
  free(log);
  /* No key at all: 2 with where to put it. */
  snprintf(text, sizeof text, "OPENWHISK_APIHOST=http://127.0.0.1:%d\n", fake.port);
  write_text(bad, text);
  char *env[] = {"WSK_CONFIG_FILE=", NULL}; /* no ~/.wskprops either */
  char out[200];
  snprintf(out, sizeof out, "%s/nokey.json", tmpdir);
  char *argv[] = {NULL, "run", "--target", "openwhisk", "--env", bad, "--output", out, NULL};
  assert_int_equal(run_rbench(argv, env, 10000, &log), 2);
  assert_non_null(strstr(log, "OPENWHISK_AUTH"));
  free(log);
}

static void test_refused_mid_run(void **state) {
  (void)state;
  struct rbt_proc f2 = {0};
  assert_true(start_fake(&f2, NULL, NULL, NULL));
  char env2[160], out[200];
  write_ow_env(env2, sizeof env2, "dies.env", f2.port, AUTH);
  snprintf(out, sizeof out, "%s/dies.json", tmpdir);
  char *argv[] = {
      NULL,         "run",    "--target", "openwhisk",     "--env", env2,       "--action",
      "pkg/ok",     "--rate", "50",       "--invocations", "100",   "--output", out,
      "--progress", "off",    NULL};
  struct rbt_proc p = {.port = rbench_serial++};
  argv[0] = (char *)rbt_bin("rbench");
  assert_true(rbt_proc_start(&p, argv, NULL));
  usleep(800000);
  rbt_proc_stop(&f2, SIGKILL); /* the controller goes away mid-run */
  unlink(f2.log);
  assert_int_equal(rbt_proc_wait(&p, 30000), 0);
  unlink(p.log);
  cJSON *d = read_json(out);
  assert_non_null(d);
  assert_true(num(d, "invocations.completed") == 100);
  assert_true(num(kind(d, "connect"), "count") > 20);
  assert_true(num(d, "success_rate") > 0.2 && num(d, "success_rate") < 0.8);
  cJSON_Delete(d);
}

static void test_sigterm_while_polling(void **state) {
  (void)state;
  /* Every invocation is a 202 that needs ~0.3 s of polling; SIGTERM with a short drain leaves
   * some waiting on a poll timer: they are recorded as aborted, nothing is lost. */
  char out[200];
  snprintf(out, sizeof out, "%s/term.json", tmpdir);
  char *argv[] = {NULL,
                  "run",
                  "--target",
                  "openwhisk",
                  "--env",
                  envfile,
                  "--action",
                  "pkg/accepted",
                  "--rate",
                  "40",
                  "--invocations",
                  "1000",
                  "--drain-timeout",
                  "0.1",
                  "--output",
                  out,
                  "--progress",
                  "off",
                  NULL};
  struct rbt_proc p = {.port = rbench_serial++};
  argv[0] = (char *)rbt_bin("rbench");
  assert_true(rbt_proc_start(&p, argv, NULL));
  usleep(1000000);
  assert_int_equal(rbt_proc_stop(&p, SIGTERM), 4);
  unlink(p.log);
  cJSON *d = read_json(out);
  assert_non_null(d);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "complete")));
  double sent = num(d, "invocations.sent");
  assert_true(num(d, "invocations.completed") == sent);
  assert_true(num(kind(d, "aborted"), "count") >= 1);
  assert_true(num(d, "invocations.succeeded") >= 1);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "raw_results")), (int)sent);
  cJSON_Delete(d);
}

static void test_doctor_checks_openwhisk(void **state) {
  (void)state;
  char env2[160], text[400], *log = NULL;
  struct rbt_proc redis = {0}, nut = {0};
  char conf[128];
  assert_true(rbt_redis_start(&redis, NULL));
  assert_true(rbt_nutcracker_start(&nut, redis.port, conf, sizeof conf));
  snprintf(env2, sizeof env2, "%s/doctor.env", tmpdir);
  snprintf(text, sizeof text,
           "OPENWHISK_APIHOST=http://127.0.0.1:%d\nOPENWHISK_AUTH=%s\nREDIS_PORT=%d\n"
           "BATCHING_AGENT_PORT=%d\n",
           fake.port, AUTH, redis.port, nut.port);
  write_text(env2, text); /* nutcracker stands in for the agent: a proxy in front of Redis too */
  char *env[] = {"WSK_CONFIG_FILE=", NULL};
  char *ok[] = {NULL, "doctor", "--env", env2, "--action", "pkg/ok", NULL};
  assert_int_equal(run_rbench(ok, env, 20000, &log), 0);
  assert_non_null(strstr(log, "ok    OpenWhisk action"));
  assert_non_null(strstr(log, "action /_/pkg/ok exists"));
  assert_non_null(strstr(log, "ok    agent is a proxy"));
  assert_non_null(strstr(log, "refused CLIENT ID (closed the connection)"));
  assert_non_null(strstr(log, "all checks passed"));
  assert_null(strstr(log, "TestKeyZ0123456789"));
  free(log);
  char *missing[] = {NULL, "doctor", "--env", env2, "--action", "pkg/missing", NULL};
  assert_int_equal(run_rbench(missing, env, 20000, &log), 1);
  assert_non_null(strstr(log, "FAIL  OpenWhisk action"));
  assert_non_null(strstr(log, "fix: deploy the action"));
  free(log);
  /* An invalid name is said as such, before any request (not "API host unreachable"). */
  char *spaced[] = {NULL, "doctor", "--env", env2, "--action", "pkg/trailing ", NULL};
  assert_int_equal(run_rbench(spaced, env, 20000, &log), 1);
  assert_non_null(
      strstr(log,
             "FAIL  OpenWhisk action       action 'pkg/trailing ': 'trailing ' is not an "
             "OpenWhisk name"));
  free(log);
  rbt_proc_stop(&nut, SIGTERM);
  unlink(conf);
  rbt_proc_stop(&redis, SIGTERM);
  unlink(redis.log);
}

/* OpenWhisk names may hold spaces (not first or last): such an action is invoked (its name
 * escaped in the URL); one against the naming rules is refused before any request, not
 * reported as an unreachable API host. */
static void test_action_names(void **state) {
  (void)state;
  int rc;
  char *log = NULL;
  cJSON *d = invoke(envfile, "ok with space", "2", NULL, NULL, &rc, &log);
  if (rc != 0) fail_msg("exit %d: %s", rc, log);
  free(log);
  assert_non_null(d);
  assert_string_equal(cJSON_GetObjectItem(d, "action")->valuestring, "/_/pkg/ok with space");
  assert_true(num(d, "invocations.completed") == 2);
  cJSON_Delete(d);
  char *api_log = read_text(fake_log);
  assert_non_null(api_log);
  assert_non_null(strstr(
      api_log, "/api/v1/namespaces/_/actions/pkg/ok with space")); /* decoded by the server */
  free(api_log);
  d = invoke(envfile, "bad#name", "2", NULL, NULL, &rc, &log);
  assert_null(d);
  if (rc != 2 ||
      !strstr(log, "--action: action 'pkg/bad#name': 'bad#name' is not an OpenWhisk name"))
    fail_msg("exit %d: %s", rc, log);
  free(log);
}

static void test_self_signed_tls(void **state) {
  (void)state;
  int rc;
  char *log = NULL;
  cJSON *d = invoke(env_tls, "ok", "3", NULL, NULL, &rc, &log);
  assert_int_equal(rc, 3); /* certificate not trusted: unreachable, with the hint */
  assert_null(d);
  assert_non_null(strstr(log, "tls"));
  assert_non_null(strstr(log, "--insecure"));
  free(log);
  d = invoke(env_tls, "ok", "3", "--insecure", NULL, &rc, NULL);
  assert_int_equal(rc, 0);
  assert_true(num(d, "success_rate") == 1);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(
      cJSON_GetObjectItem(cJSON_GetObjectItem(d, "scenario"), "target"), "insecure")));
  cJSON_Delete(d);
}

static void test_wskprops_fallback(void **state) {
  (void)state;
  char props[160], text[300], out[200];
  snprintf(props, sizeof props, "%s/wskprops", tmpdir);
  snprintf(text, sizeof text, "APIHOST=http://127.0.0.1:%d\nAUTH=%s\n", fake.port, AUTH);
  write_text(props, text);
  char cfg[200];
  snprintf(cfg, sizeof cfg, "WSK_CONFIG_FILE=%s", props);
  char *env[] = {cfg, NULL};
  snprintf(out, sizeof out, "%s/props.json", tmpdir);
  char *argv[] = {NULL,       "run",       "--target",      "openwhisk", "--action", "pkg/ok",
                  "--env",    "/dev/null", "--invocations", "2",         "--rate",   "20",
                  "--output", out,         "--progress",    "off",       NULL};
  assert_int_equal(run_rbench(argv, env, 20000, NULL), 0);
  cJSON *d = read_json(out);
  assert_true(num(d, "success_rate") == 1);
  cJSON_Delete(d);
}

/* The runner sends only the endpoints it was given: an invocation parameter overrides the
 * action's default one (wsk action create -p redis_host ...), so unset keys are left to the
 * action. Here only BATCHING_AGENT_PORT is set. */
static void test_only_configured_endpoints_sent(void **state) {
  (void)state;
  char env2[160], text[300], out[200];
  snprintf(env2, sizeof env2, "%s/agent-port.env", tmpdir);
  snprintf(text, sizeof text,
           "OPENWHISK_APIHOST=http://127.0.0.1:%d\nOPENWHISK_AUTH=%s\nBATCHING_AGENT_PORT=7000\n",
           fake.port, AUTH);
  write_text(env2, text);
  snprintf(out, sizeof out, "%s/dflt.json", tmpdir);
  char *argv[] = {NULL,         "run",   "--target",   "openwhisk",     "--action",
                  "dflt/ok",    "--env", env2,         "--invocations", "2",
                  "--rate",     "20",    "--batching", "--output",      out,
                  "--progress", "off",   NULL};
  assert_int_equal(run_rbench(argv, NULL, 20000, NULL), 0);
  char *log = read_text(fake_log);
  assert_non_null(log);
  int posts = 0;
  for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strstr(line, "POST /api/v1/namespaces/_/actions/dflt/ok")) continue;
    posts++;
    assert_non_null(strstr(line, "\"use_batching\":true"));
    assert_non_null(strstr(line, "\"agent_port\":7000"));
    assert_null(strstr(line, "\"agent_host\""));
    assert_null(strstr(line, "\"redis_host\""));
    assert_null(strstr(line, "\"redis_port\""));
  }
  free(log);
  assert_int_equal(posts, 2);
  /* Nor does it guess which Redis to sample: the action's default is not known here. */
  cJSON *d = read_json(out);
  assert_non_null(d);
  const cJSON *redis = cJSON_GetObjectItemCaseSensitive(d, "redis");
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(redis, "endpoint")));
  assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(redis, "unavailable")->valuestring,
                         "REDIS_HOST and REDIS_PORT are not set"));
  assert_true(num(d, "success_rate") == 1);
  cJSON_Delete(d);
}

/* ---- issue 20: the per-invocation parameter and the prepare step ----------------------- */

/* A mix with reads: three prepare calls first (450000 keys, at most 200000 per call), each
 * with "prepare": true and its range, none in raw_results; then every invocation carries its
 * index as "invocation" (echoed back by fakewhisk into the record). */
static void test_invocation_and_prepare(void **state) {
  (void)state;
  char scen[200], out[200], text[600];
  snprintf(scen, sizeof scen, "%s/prep.yaml", tmpdir);
  snprintf(out, sizeof out, "%s/prep.json", tmpdir);
  snprintf(text, sizeof text,
           "name: prep\ntarget: {kind: openwhisk, action: prep/ok}\n"
           "defaults: {rate: 20, invocations: 4, key_space: 450000}\n"
           "runs:\n  - name: readheavy\n    mix: {get: 80, set: 20}\n");
  write_text(scen, text);
  char *argv[] = {NULL,       "run", "--scenario", scen,  "--env", envfile,
                  "--output", out,   "--progress", "off", NULL};
  char *rlog = NULL;
  assert_int_equal(run_rbench(argv, NULL, 30000, &rlog), 0);
  assert_non_null(strstr(rlog, "run readheavy: preparing 450000 keys"));
  free(rlog);
  char *log = read_text(fake_log);
  int prepares = 0, invokes = 0;
  bool seen[4] = {false};
  for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strstr(line, "POST /api/v1/namespaces/_/actions/prep/ok")) continue;
    if (strstr(line, "\"prepare\":true")) {
      const char *want[] = {"\"prepare_first\":0,\"prepare_count\":200000}",
                            "\"prepare_first\":200000,\"prepare_count\":200000}",
                            "\"prepare_first\":400000,\"prepare_count\":50000}"};
      assert_true(prepares < 3);
      assert_non_null(strstr(line, want[prepares])); /* in order, one after the other */
      assert_non_null(strstr(line, "\"mix\":\"set:20,get:80\"")); /* normalised */
      assert_int_equal(invokes, 0);                               /* all before the schedule */
      prepares++;
      continue;
    }
    const char *k = strstr(line, "\"invocation\":");
    assert_non_null(k);
    int idx = atoi(k + 13);
    assert_true(idx >= 0 && idx < 4 && !seen[idx]);
    seen[idx] = true;
    invokes++;
  }
  free(log);
  assert_int_equal(prepares, 3);
  assert_int_equal(invokes, 4);
  cJSON *d = read_json(out);
  assert_non_null(d);
  const cJSON *raw = cJSON_GetObjectItem(d, "raw_results"), *r;
  assert_int_equal(cJSON_GetArraySize(raw), 4);
  cJSON_ArrayForEach(r, raw) {
    assert_true(num(r, "action.invocation") == num(r, "index"));
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "action"), "prepared"));
  }
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "workload"), "prepare")));
  cJSON_Delete(d);
}

/* A prepare call the action fails stops the run before anything is measured: exit 2, the run
 * and the action's error named, no results file. */
static void test_prepare_failure_stops_the_run(void **state) {
  (void)state;
  char scen[200], out[200], text[600];
  snprintf(scen, sizeof scen, "%s/prepfail.yaml", tmpdir);
  snprintf(out, sizeof out, "%s/prepfail.json", tmpdir);
  snprintf(text, sizeof text,
           "name: prepfail\ntarget: {kind: openwhisk, action: pkg/apperror}\n"
           "defaults: {rate: 20, invocations: 4, key_space: 100}\n"
           "runs:\n  - name: reads\n    mix: \"get:1\"\n");
  write_text(scen, text);
  char *argv[] = {NULL,       "run", "--scenario", scen,  "--env", envfile,
                  "--output", out,   "--progress", "off", NULL};
  char *rlog = NULL;
  assert_int_equal(run_rbench(argv, NULL, 30000, &rlog), 2);
  assert_non_null(strstr(rlog,
                         "run reads: preparing keys 0 to 99 (prepare: true) failed: "
                         "application_error: 3 of 10 operations failed"));
  free(rlog);
  assert_int_not_equal(access(out, F_OK), 0);
}

static double mono_s(void);

/* SIGTERM during the prepare step: the call in flight is abandoned at once, exit 4, nothing
 * measured, no results file; an answer without "prepared" (an older action) is refused. */
static void test_prepare_interrupted_or_unanswered(void **state) {
  (void)state;
  char scen[200], out[200], text[600];
  snprintf(scen, sizeof scen, "%s/prepsig.yaml", tmpdir);
  snprintf(out, sizeof out, "%s/prepsig.json", tmpdir);
  snprintf(text, sizeof text,
           "name: prepsig\ntarget: {kind: openwhisk, action: pkg/slow}\n"
           "defaults: {rate: 20, invocations: 4, key_space: 100}\n"
           "runs:\n  - name: reads\n    mix: {hgetall: 1}\n");
  write_text(scen, text);
  char *argv[] = {NULL,       "run", "--scenario", scen,  "--env", envfile,
                  "--output", out,   "--progress", "off", NULL};
  struct rbt_proc p = {.port = rbench_serial++};
  argv[0] = (char *)rbt_bin("rbench");
  assert_true(rbt_proc_start(&p, argv, NULL));
  char *log = NULL;
  for (int i = 0; i < 100; i++) {
    free(log);
    log = rbt_proc_log(&p);
    if (strstr(log, "preparing 100 keys")) break;
    usleep(50000);
  }
  assert_non_null(strstr(log, "run reads: preparing 100 keys (10000 elements, 1 call"));
  free(log);
  double t0 = mono_s();
  assert_int_equal(rbt_proc_stop(&p, SIGTERM), 4);
  assert_true(mono_s() - t0 < 1.5); /* not the 3 s of the slow answer */
  log = rbt_proc_log(&p);
  unlink(p.log);
  assert_non_null(strstr(log,
                         "run reads: interrupted while preparing keys 0 to 99: nothing "
                         "measured, no results written"));
  assert_int_equal(access(out, F_OK), -1);
  free(log);
  /* the slow action answers like an action without the prepare step: refused */
  char *rlog = NULL;
  argv[0] = NULL;
  assert_int_equal(run_rbench(argv, NULL, 30000, &rlog), 2);
  assert_non_null(strstr(rlog, "without \"prepared\": an rbench-action older than the prepare"));
  free(rlog);
  assert_int_equal(access(out, F_OK), -1);
}

/* ---- --wait-for-action ------------------------------------------------------------------ */

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_lines(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

static bool result_exists(const char *action) {
  char out[200];
  snprintf(out, sizeof out, "%s/%s.json", tmpdir, action);
  return access(out, F_OK) == 0;
}

/* The action appears 1.5 s after the first check: the run waits (one line when it starts
 * waiting, one when the action is there, GETs of the action's metadata 2 s apart), then runs
 * as usual. */
static void test_wait_for_action_appears(void **state) {
  (void)state;
  int rc;
  char *log = NULL;
  double t0 = mono_s();
  cJSON *d = invoke(envfile, "appears-after-1500", "5", "--wait-for-action", "10", &rc, &log);
  double took = mono_s() - t0;
  assert_int_equal(rc, 0);
  assert_non_null(d);
  assert_true(num(d, "invocations.completed") == 5);
  assert_true(num(d, "success_rate") == 1);
  assert_true(num(d, "scenario.target.wait_for_action") == 10);
  assert_string_equal(cJSON_GetObjectItem(d, "action")->valuestring, "/_/pkg/appears-after-1500");
  assert_int_equal(
      count_lines(log,
                  "waiting up to 10 s for OpenWhisk action /_/pkg/appears-after-1500 to exist"),
      1);
  assert_int_equal(count_lines(log, "OpenWhisk action /_/pkg/appears-after-1500 exists (after 2."),
                   1);
  assert_true(took >= 1.9 && took < 10);
  cJSON_Delete(d);
  free(log);
  /* What the controller saw: 404 at 0 s, the action at 2 s; then the preflight and invokes. */
  log = read_text(fake_log);
  assert_int_equal(
      count_lines(log,
                  "GET /api/v1/namespaces/_/actions/pkg/appears-after-1500?code=false auth=ok"),
      2);
  assert_int_equal(
      count_lines(log, "POST /api/v1/namespaces/_/actions/pkg/appears-after-1500 auth=ok"), 5);
  free(log);
}

/* Never there: exit 2 after the wait, naming the action, the seconds and the fix; no result. */
static void test_wait_for_action_gives_up(void **state) {
  (void)state;
  int rc;
  char *log = NULL;
  double t0 = mono_s();
  cJSON *d = invoke(envfile, "new-never", "5", "--wait-for-action", "2", &rc, &log);
  double took = mono_s() - t0;
  assert_int_equal(rc, 2);
  assert_null(d);
  assert_false(result_exists("new-never"));
  assert_non_null(strstr(log,
                         "OpenWhisk action /_/pkg/new-never does not exist after waiting 2 s "
                         "(--wait-for-action 2): create it with tools/deploy.sh"));
  assert_null(strstr(log, "did not answer"));
  assert_int_equal(count_lines(log, "waiting up to"), 1);
  assert_true(took >= 1.9 && took < 6);
  free(log);
}

/* A rejected key is not waited on: exit 2 at once, the key never printed, no result. */
static void test_wait_for_action_wrong_key(void **state) {
  (void)state;
  char bad[160], *log = NULL;
  write_ow_env(bad, sizeof bad, "waitkey.env", fake.port, "someone:wrongsecret99");
  int rc;
  double t0 = mono_s();
  cJSON *d = invoke(bad, "new-keyed", "2", "--wait-for-action", "30", &rc, &log);
  assert_true(mono_s() - t0 < 3);
  assert_int_equal(rc, 2);
  assert_null(d);
  assert_false(result_exists("new-keyed"));
  assert_non_null(strstr(log, "the OpenWhisk key was rejected (HTTP 401): check OPENWHISK_AUTH"));
  assert_null(strstr(log, "waiting up to"));
  assert_null(strstr(log, "wrongsecret99"));
  free(log);
}

/* Without --wait-for-action, an action that appears later is the old error at once. */
static void test_no_wait_is_the_old_error(void **state) {
  (void)state;
  int rc;
  char *log = NULL;
  double t0 = mono_s();
  cJSON *d = invoke(envfile, "appears-after-1000", "2", NULL, NULL, &rc, &log);
  assert_true(mono_s() - t0 < 1);
  assert_int_equal(rc, 2);
  assert_null(d);
  assert_non_null(strstr(log, "the action does not exist (HTTP 404"));
  assert_null(strstr(log, "waiting"));
  free(log);
}

/* No controller: checked again until the deadline, then exit 3 saying the host did not answer. */
static void test_wait_for_action_no_controller(void **state) {
  (void)state;
  char env2[160], *log = NULL;
  write_ow_env(env2, sizeof env2, "nohost.env", rbt_free_port(), AUTH);
  int rc;
  cJSON *d = invoke(env2, "ok", "2", "--wait-for-action", "2", &rc, &log);
  assert_int_equal(rc, 3);
  assert_null(d);
  assert_non_null(strstr(log, "OpenWhisk action /_/pkg/ok could not be checked after waiting 2 s"));
  assert_non_null(strstr(log, "did not answer 2 of 2 checks, the last one too (last: connect: "));
  assert_non_null(strstr(log, "check OPENWHISK_APIHOST"));
  free(log);
}

/* SIGTERM while waiting ends the wait at once: exit 4 (interrupted), no result written. */
static void test_wait_for_action_sigterm(void **state) {
  (void)state;
  char out[200];
  snprintf(out, sizeof out, "%s/waitsig.json", tmpdir);
  char *argv[] = {NULL,         "run",         "--target",
                  "openwhisk",  "--env",       envfile,
                  "--action",   "pkg/new-sig", "--wait-for-action",
                  "60",         "--output",    out,
                  "--progress", "off",         NULL};
  struct rbt_proc p = {.port = rbench_serial++};
  argv[0] = (char *)rbt_bin("rbench");
  assert_true(rbt_proc_start(&p, argv, NULL));
  char *log = NULL;
  for (int i = 0; i < 100; i++) { /* until it says it waits */
    free(log);
    log = rbt_proc_log(&p);
    if (strstr(log, "waiting up to 60 s")) break;
    usleep(50000);
  }
  assert_non_null(strstr(log, "waiting up to 60 s"));
  free(log);
  double t0 = mono_s();
  assert_int_equal(rbt_proc_stop(&p, SIGTERM), 4);
  assert_true(mono_s() - t0 < 1.5);
  log = rbt_proc_log(&p);
  unlink(p.log);
  assert_non_null(strstr(log, "interrupted while waiting for OpenWhisk action /_/pkg/new-sig"));
  assert_int_equal(access(out, F_OK), -1);
  free(log);
}

/* Counts the occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* --action-concurrency C: the action's limits.concurrency made C before the run (GET, then
 * PUT ?overwrite=true with its other limits and nothing else when it differs), recorded in
 * the document; unchanged (no PUT) when equal; the controller's refusal above its maximum
 * (400) and an unknown action stop the run with an error naming the action and the value.
 * Against a fakewhisk of its own whose concurrency-limit max is 8. */
static void test_action_concurrency_limit(void **state) {
  (void)state;
  struct rbt_proc fw = {0};
  char flog[200], env[200], port[16];
  snprintf(flog, sizeof flog, "%s/conc.log", tmpdir);
  fw.port = rbt_free_port();
  snprintf(port, sizeof port, "%d", fw.port);
  char *argv[] = {(char *)rbt_bin("fakewhisk"), "--port", port, "--auth", AUTH, "--log", flog,
                  "--max-concurrency",          "8",      NULL};
  assert_true(rbt_proc_start(&fw, argv, NULL));
  assert_true(rbt_wait_port(fw.port, 5000));
  write_ow_env(env, sizeof env, "conc.env", fw.port, AUTH);
  int rc;
  char *log = NULL;

  /* 1 -> 4: updated, the other limits sent as they were, no exec (the controller keeps it). */
  cJSON *d = invoke(env, "ok", "3", "--action-concurrency", "4", &rc, &log);
  assert_int_equal(rc, 0);
  assert_non_null(d);
  assert_true(num(d, "action_concurrency_limit.value") == 4);
  assert_true(num(d, "action_concurrency_limit.previous") == 1);
  assert_true(cJSON_IsTrue(
      cJSON_GetObjectItem(cJSON_GetObjectItem(d, "action_concurrency_limit"), "updated")));
  assert_true(num(d, "scenario.parameters.action_concurrency") == 4);
  assert_non_null(strstr(log, "concurrency limit set to 4 (was 1)"));
  cJSON_Delete(d);
  free(log);
  char *clog = read_text(flog);
  assert_int_equal(count_of(clog, "PUT "), 1);
  const char *put = strstr(clog,
                           "PUT /api/v1/namespaces/_/actions/pkg/ok?overwrite=true auth=ok "
                           "ctype=application/json {");
  assert_non_null(put);
  char line[400];
  snprintf(line, sizeof line, "%.*s", (int)strcspn(put, "\n"), put);
  assert_non_null(strstr(line, "\"limits\":{"));
  assert_non_null(strstr(line, "\"logs\":10"));
  assert_non_null(strstr(line, "\"memory\":256"));
  assert_non_null(strstr(line, "\"timeout\":60000"));
  assert_non_null(strstr(line, "\"concurrency\":4}"));
  assert_null(strstr(line, "exec"));
  assert_null(strstr(line, "parameters"));
  /* the PUT comes before the first invocation */
  assert_true(put < strstr(clog, "POST /api/v1/namespaces/_/actions/pkg/ok"));
  free(clog);

  /* 4 again: the controller says 4 now, nothing updated. */
  d = invoke(env, "ok", "2", "--action-concurrency", "4", &rc, NULL);
  assert_int_equal(rc, 0);
  assert_true(num(d, "action_concurrency_limit.previous") == 4);
  assert_true(cJSON_IsFalse(
      cJSON_GetObjectItem(cJSON_GetObjectItem(d, "action_concurrency_limit"), "updated")));
  cJSON_Delete(d);
  clog = read_text(flog);
  assert_int_equal(count_of(clog, "PUT "), 1);
  free(clog);
  /* Not given: the limit is left alone and the document has no such field. */
  d = invoke(env, "ok", "2", NULL, NULL, &rc, NULL);
  assert_int_equal(rc, 0);
  assert_null(cJSON_GetObjectItem(d, "action_concurrency_limit"));
  cJSON_Delete(d);

  /* Above the controller's maximum: its 400 answer, named with the action and the value;
   * nothing run, the limit unchanged. */
  d = invoke(env, "ok", "2", "--action-concurrency", "9", &rc, &log);
  assert_int_equal(rc, 2);
  assert_null(d);
  assert_non_null(
      strstr(log, "cannot set the concurrency limit of OpenWhisk action /_/pkg/ok to 9"));
  assert_non_null(strstr(log, "HTTP 400: Concurrency 9 exceeds allowed threshold of 8."));
  assert_non_null(strstr(log, "concurrency-limit.max"));
  free(log);
  clog = read_text(flog);
  assert_int_equal(count_of(clog, "PUT "), 2);
  assert_int_equal(count_of(clog, "POST "), 7); /* only the three runs above */
  free(clog);
  d = invoke(env, "ok", "1", "--action-concurrency", "4", &rc, NULL);
  assert_int_equal(rc, 0);
  assert_true(num(d, "action_concurrency_limit.previous") == 4); /* the refused 9 left 4 */
  cJSON_Delete(d);

  /* An unknown action: the check before the limit names it (404), no PUT is sent. */
  d = invoke(env, "missing", "1", "--action-concurrency", "4", &rc, &log);
  assert_int_equal(rc, 2);
  assert_null(d);
  assert_non_null(strstr(log, "actions/pkg/missing"));
  assert_non_null(strstr(log, "HTTP 404"));
  free(log);
  clog = read_text(flog);
  assert_int_equal(count_of(clog, "PUT "), 2);
  free(clog);
  rbt_proc_stop(&fw, SIGTERM);
  unlink(fw.log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_success_with_cold_start),
      cmocka_unit_test(test_connections_opened_ahead),
      cmocka_unit_test(test_connections_are_a_limit),
      cmocka_unit_test(test_closed_loop_connections),
      cmocka_unit_test(test_202_then_polling),
      cmocka_unit_test(test_realtime_option),
      cmocka_unit_test(test_error_kinds),
      cmocka_unit_test(test_slow_replies_time_out),
      cmocka_unit_test(test_preflight_failures),
      cmocka_unit_test(test_refused_mid_run),
      cmocka_unit_test(test_sigterm_while_polling),
      cmocka_unit_test(test_doctor_checks_openwhisk),
      cmocka_unit_test(test_action_names),
      cmocka_unit_test(test_self_signed_tls),
      cmocka_unit_test(test_wskprops_fallback),
      cmocka_unit_test(test_only_configured_endpoints_sent), /* after the cold start's test */
      cmocka_unit_test(test_invocation_and_prepare),
      cmocka_unit_test(test_prepare_failure_stops_the_run),
      cmocka_unit_test(test_prepare_interrupted_or_unanswered),
      cmocka_unit_test(test_wait_for_action_appears),
      cmocka_unit_test(test_wait_for_action_gives_up),
      cmocka_unit_test(test_wait_for_action_wrong_key),
      cmocka_unit_test(test_no_wait_is_the_old_error),
      cmocka_unit_test(test_wait_for_action_no_controller),
      cmocka_unit_test(test_wait_for_action_sigterm),
      cmocka_unit_test(test_action_concurrency_limit),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
