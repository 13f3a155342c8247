#define _GNU_SOURCE
/* test_runner_local.c: rbench run with the local target end to end: real redis-server, real
 * rbench-action processes, the results document, SIGTERM mid-run, exit codes, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>

#include "runner_common.h"

#define PASSWORD "rb-redis-pw-6d1f"

static struct rbt_proc redis;
static char envfile[128];

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  if (!rbt_redis_start(&redis, PASSWORD)) return -1;
  snprintf(envfile, sizeof envfile, "%s/local.env", tmpdir);
  char text[256];
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nREDIS_PASSWORD=%s\n",
           redis.port, PASSWORD);
  write_text(envfile, text);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&redis, SIGTERM);
  unlink(redis.log);
  tmpdir_remove();
  return 0;
}

static void test_direct_run_end_to_end(void **state) {
  (void)state;
  char out[160];
  snprintf(out, sizeof out, "%s/direct.json", tmpdir);
  char *argv[] = {NULL,
                  "run",
                  "--env",
                  envfile,
                  "--rate",
                  "40",
                  "--invocations",
                  "60",
                  "--ops",
                  "7",
                  "--operation",
                  "set",
                  "--key-prefix",
                  "e2e",
                  "--max-in-flight",
                  "3",
                  "--output",
                  out,
                  "--progress",
                  "plain",
                  NULL};
  char *log = NULL;
  int rc = run_rbench(argv, NULL, 60000, &log);
  assert_int_equal(rc, 0);
  assert_null(strstr(log, PASSWORD));
  cJSON *d = read_json(out);
  assert_non_null(d);
  char *text = read_text(out);
  assert_null(strstr(text, PASSWORD)); /* never in results */
  free(text);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "complete")));
  assert_string_equal(cJSON_GetObjectItem(d, "target")->valuestring, "local");
  assert_true(num(d, "invocations.completed") == 60);
  assert_true(num(d, "success_rate") == 1.0);
  assert_true(num(d, "error_rate") == 0.0);
  /* A pool of at most 3 processes: at least one cold start, at most 3, each with initTime. */
  double cold = num(d, "cold_starts");
  assert_true(cold >= 1 && cold <= 3);
  assert_true(num(d, "server.init_time_ms.count") == cold);
  assert_true(num(d, "execution_time_ms.p50") > 0);
  assert_true(num(d, "execution_time_ms.p99") >= num(d, "execution_time_ms.p50"));
  assert_true(num(d, "execution_time_ms.p50") >= num(d, "service_time_ms.p50"));
  assert_true(fabs(num(d, "achieved_rate") - 40) < 4);
  cJSON *raw = cJSON_GetObjectItem(d, "raw_results");
  assert_int_equal(cJSON_GetArraySize(raw), 60);
  int cold_seen = 0;
  cJSON *r;
  cJSON_ArrayForEach(r, raw) {
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "success")));
    assert_int_equal(strlen(cJSON_GetObjectItem(r, "activation_id")->valuestring), 32);
    assert_true(num(r, "action.succeeded") == 7);
    if (cJSON_IsTrue(cJSON_GetObjectItem(r, "cold_start"))) {
      cold_seen++;
      assert_true(num(r, "init_time_ms") > 0);
      assert_true(num(r, "duration_ms") >= num(r, "init_time_ms"));
    }
    /* intended times are k/rate apart whatever the replies did */
    assert_true(fabs(num(r, "intended_ms") - num(r, "index") * 25.0) < 0.01);
  }
  assert_int_equal(cold_seen, (int)cold);
  cJSON_Delete(d);
  /* The action really wrote the keys: e2e:0 .. e2e:6 (key_space = ops). */
  redisContext *c = rbt_redis_connect(redis.port, PASSWORD);
  assert_non_null(c);
  redisReply *rep = redisCommand(c, "EXISTS e2e:0 e2e:6");
  assert_int_equal(rep->integer, 2);
  freeReplyObject(rep);
  redisFree(c);
  free(log);
}

static void test_scenario_direct_and_repetitions(void **state) {
  (void)state;
  char scen[160], outdir[160], path[200];
  snprintf(scen, sizeof scen, "%s/s.yaml", tmpdir);
  snprintf(outdir, sizeof outdir, "%s/out", tmpdir);
  write_text(scen,
             "name: two-runs\n"
             "defaults:\n  rate: 50\n  invocations: 10\n  ops: 3\n  max_in_flight: 2\n"
             "repetitions: 2\n"
             "runs:\n  - name: small\n    value_size: 8\n  - name: big\n    value_size: 4096\n");
  char *argv[] = {NULL,       "run",  "-f",         scen,  "--env", envfile,
                  "--output", outdir, "--progress", "off", NULL};
  assert_int_equal(run_rbench(argv, NULL, 60000, NULL), 0);
  const char *names[] = {"small/r1.json", "small/r2.json", "big/r1.json", "big/r2.json"};
  char ids[4][32];
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/%s", outdir, names[i]);
    cJSON *d = read_json(path);
    assert_non_null(d);
    /* run_id: 16 hex digits, one per run name of this rbench run, shared by its repetitions */
    const cJSON *id = cJSON_GetObjectItem(d, "run_id");
    assert_true(cJSON_IsString(id) && strlen(id->valuestring) == 16 &&
                strspn(id->valuestring, "0123456789abcdef") == 16);
    snprintf(ids[i], sizeof ids[i], "%s", id->valuestring);
    assert_true(num(d, "invocations.completed") == 10);
    assert_true(num(d, "scenario.parameters.value_size") == (i < 2 ? 8 : 4096));
    assert_true(num(d, "scenario.repetition") == (i % 2) + 1);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(d, "scenario"), "name")->valuestring, "two-runs");
    cJSON_Delete(d);
  }
  assert_string_equal(ids[0], ids[1]);
  assert_string_equal(ids[2], ids[3]);
  assert_string_not_equal(ids[0], ids[2]);
  /* another rbench run of the same scenario: another id */
  snprintf(outdir, sizeof outdir, "%s/out2", tmpdir);
  char *again[] = {NULL,       "run",  "-f",         scen,  "--env",         envfile,
                   "--output", outdir, "--progress", "off", "--repetitions", "1",
                   NULL};
  assert_int_equal(run_rbench(again, NULL, 60000, NULL), 0);
  snprintf(path, sizeof path, "%s/small.json", outdir);
  cJSON *d = read_json(path);
  assert_non_null(d);
  assert_string_not_equal(cJSON_GetObjectItem(d, "run_id")->valuestring, ids[0]);
  cJSON_Delete(d);
}

static void test_compare_report_doctor(void **state) {
  (void)state;
  char scen[160], outdir[160], a[200], b[200], html[200], svg[200];
  snprintf(scen, sizeof scen, "%s/cmp.yaml", tmpdir);
  snprintf(outdir, sizeof outdir, "%s/cmp", tmpdir);
  write_text(scen,
             "name: cmp\ndefaults:\n  rate: 50\n  invocations: 15\n  max_in_flight: 2\n"
             "repetitions: 2\nruns:\n  - name: few\n    ops: 1\n  - name: many\n    ops: 200\n");
  char *run[] = {NULL,       "run",  "-f",         scen,  "--env", envfile,
                 "--output", outdir, "--progress", "off", NULL};
  assert_int_equal(run_rbench(run, NULL, 60000, NULL), 0);
  snprintf(a, sizeof a, "%s/few", outdir);
  snprintf(b, sizeof b, "%s/many", outdir);
  char *log = NULL;
  char *cmp[] = {NULL, "compare", a, b, NULL};
  assert_int_equal(run_rbench(cmp, NULL, 20000, &log), 0);
  assert_non_null(strstr(log, "execution p50 (ms)"));
  assert_non_null(strstr(log, "Mann-Whitney U on per-repetition medians"));
  assert_non_null(strstr(log, "(2 documents, 30 successful invocations)"));
  free(log);
  char *cmpj[] = {NULL, "compare", "--json", a, b, NULL};
  assert_int_equal(run_rbench(cmpj, NULL, 20000, &log), 0);
  cJSON *j = cJSON_Parse(strchr(log, '{'));
  assert_non_null(j);
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "mann_whitney"), "on")->valuestring,
      "per_repetition_medians");
  cJSON_Delete(j);
  free(log);
  char *bad[] = {NULL, "compare", a, NULL};
  assert_int_equal(run_rbench(bad, NULL, 20000, NULL), 2);
  snprintf(html, sizeof html, "%s/report.html", tmpdir);
  char *rep[] = {NULL, "report", a, b, "-o", html, NULL};
  assert_int_equal(run_rbench(rep, NULL, 20000, NULL), 0);
  char *text = read_text(html);
  assert_non_null(strstr(text, "<!DOCTYPE html>"));
  assert_non_null(strstr(text, "many r2"));
  free(text);
  /* The output directory itself: report finds OUT/RUN/rK.json below it (issue 12 item 5)
   * and prints the headline line (two direct runs here: no pair, and it says so). */
  char *rep3[] = {NULL, "report", outdir, "-o", html, NULL};
  assert_int_equal(run_rbench(rep3, NULL, 20000, &log), 0);
  assert_non_null(
      strstr(log, "headline: no direct and batched runs to compare (4 direct, 0 batched"));
  free(log);
  text = read_text(html);
  assert_non_null(strstr(text, "few r1"));
  assert_non_null(strstr(text, "many r2"));
  free(text);
  snprintf(svg, sizeof svg, "%s/p.svg", tmpdir);
  char *rep2[] = {NULL, "report", a, "--svg", "percentiles", "-o", svg, NULL};
  assert_int_equal(run_rbench(rep2, NULL, 20000, NULL), 0);
  text = read_text(svg);
  assert_true(strncmp(text, "<svg", 4) == 0);
  free(text);
  /* doctor: Redis answers (with AUTH), the agent does not; exit 1; no password printed. */
  char env2[160], t2[300];
  snprintf(env2, sizeof env2, "%s/doctor.env", tmpdir);
  snprintf(t2, sizeof t2, "REDIS_PORT=%d\nREDIS_PASSWORD=%s\nBATCHING_AGENT_PORT=%d\n", redis.port,
           PASSWORD, rbt_free_port());
  write_text(env2, t2);
  char *doc[] = {NULL, "doctor", "--env", env2, NULL};
  char *nowsk[] = {"WSK_CONFIG_FILE=", NULL};
  assert_int_equal(run_rbench(doc, nowsk, 20000, &log), 1);
  assert_non_null(strstr(log, "ok    Redis (PING, AUTH)"));
  assert_non_null(strstr(log, "FAIL  batching agent (PING)"));
  assert_non_null(strstr(log, "fix: batched runs (--batching) need rbench-agent running"));
  assert_non_null(strstr(log, "ok    rbench-action"));
  assert_null(strstr(log, PASSWORD));
  free(log);
  /* a hand-edited document is refused with the file and the field named */
  char edited_path[200], few1[220], want[300];
  snprintf(few1, sizeof few1, "%s/r1.json", a);
  snprintf(edited_path, sizeof edited_path, "%s/bad.json", tmpdir);
  cJSON *edited = read_json(few1);
  assert_non_null(edited);
  cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(edited, "raw_results"), 3),
                            "index", cJSON_CreateString("3"));
  char *etext = cJSON_Print(edited);
  write_text(edited_path, etext);
  free(etext);
  cJSON_Delete(edited);
  log = NULL;
  char *cmpbad[] = {NULL, "compare", edited_path, b, NULL};
  assert_int_equal(run_rbench(cmpbad, NULL, 20000, &log), 1);
  snprintf(want, sizeof want, "%s: raw_results[3].index: expected an integer, got a string",
           edited_path);
  assert_non_null(strstr(log, want));
  free(log);
}

static void test_sigterm_gives_partial_document(void **state) {
  (void)state;
  char out[160];
  snprintf(out, sizeof out, "%s/partial.json", tmpdir);
  char *argv[] = {NULL,
                  "run",
                  "--env",
                  envfile,
                  "--rate",
                  "50",
                  "--invocations",
                  "100000",
                  "--max-in-flight",
                  "4",
                  "--output",
                  out,
                  "--progress",
                  "off",
                  NULL};
  struct rbt_proc p = {.port = rbench_serial++};
  argv[0] = (char *)rbt_bin("rbench");
  assert_true(rbt_proc_start(&p, argv, NULL));
  sleep(1);
  /* While it runs: no process but our own redis-server has the password on its command line
   * (rbench-action gets it through /init, never argv). */
  DIR *d = opendir("/proc");
  struct dirent *e;
  int actions = 0;
  pid_t children[16];
  while ((e = readdir(d)) != NULL) {
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid <= 0 || pid == redis.pid) continue;
    assert_false(cmdline_has(pid, PASSWORD));
    if (parent_of(pid) == p.pid && cmdline_has(pid, "rbench-action") && actions < 16)
      children[actions++] = pid;
  }
  closedir(d);
  assert_true(actions >= 1 && actions <= 4);
  /* rbench-action inherits none of rbench's descriptors (its spool file, its sockets). */
  for (int i = 0; i < actions; i++) {
    char fddir[64];
    snprintf(fddir, sizeof fddir, "/proc/%d/fd", (int)children[i]);
    DIR *fdd = opendir(fddir);
    struct dirent *fe;
    while (fdd && (fe = readdir(fdd)) != NULL) {
      char link[400], target[300] = "";
      snprintf(link, sizeof link, "%s/%s", fddir, fe->d_name);
      ssize_t n = readlink(link, target, sizeof target - 1);
      if (n > 0) target[n] = '\0';
      if (strstr(target, ".rbench-raw-"))
        fail_msg("rbench-action %d holds %s", (int)children[i], target);
    }
    if (fdd) closedir(fdd);
  }
  int rc = rbt_proc_stop(&p, SIGTERM);
  assert_int_equal(rc, 4); /* interrupted */
  char *log = rbt_proc_log(&p);
  unlink(p.log);
  assert_non_null(strstr(log, "SIGTERM"));
  free(log);
  cJSON *doc = read_json(out);
  assert_non_null(doc); /* valid JSON */
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(doc, "complete")));
  assert_string_equal(cJSON_GetObjectItem(doc, "interrupted_by")->valuestring, "SIGTERM");
  double sent = num(doc, "invocations.sent");
  assert_true(sent >= 20 && sent < 200);
  assert_true(num(doc, "invocations.unsent") == 100000 - sent);
  assert_true(num(doc, "invocations.completed") == sent); /* nothing dropped */
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "raw_results")), (int)sent);
  cJSON_Delete(doc);
  /* No rbench-action is left behind: rbench stopped and reaped every one it started. */
  for (int i = 0; i < actions; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)children[i]);
    if (access(path, F_OK) == 0 && cmdline_has(children[i], "rbench-action"))
      fail_msg("rbench-action %d left running", (int)children[i]);
  }
}

static void test_exit_codes(void **state) {
  (void)state;
  char out[160], env2[160], scen[160];
  snprintf(out, sizeof out, "%s/x.json", tmpdir);
  /* Unknown flag: configuration error. */
  char *a1[] = {NULL, "run", "--rates", "5", NULL};
  assert_int_equal(run_rbench(a1, NULL, 10000, NULL), 2);
  /* Bad value. */
  char *a2[] = {NULL, "run", "--operation", "flushall", "--env", envfile, NULL};
  char *log = NULL;
  assert_int_equal(run_rbench(a2, NULL, 10000, &log), 2);
  assert_non_null(strstr(log, "operation: expected one of set, get, del, exists"));
  free(log);
  /* A scenario error names file:line:column. */
  snprintf(scen, sizeof scen, "%s/bad.yaml", tmpdir);
  write_text(scen, "name: bad\nruns:\n  - name: a\n    rate: -3\n");
  char *a3[] = {NULL, "run", "-f", scen, "--env", envfile, NULL};
  assert_int_equal(run_rbench(a3, NULL, 10000, &log), 2);
  char where[200];
  snprintf(where, sizeof where, "%s:4:11: rate: expected", scen);
  assert_non_null(strstr(log, where));
  free(log);
  /* A missing --env file is a configuration error. */
  char *a4[] = {NULL, "run", "--env", "/nonexistent/local.env", NULL};
  assert_int_equal(run_rbench(a4, NULL, 10000, NULL), 2);
  /* Redis not listening: target unreachable (3). */
  snprintf(env2, sizeof env2, "%s/down.env", tmpdir);
  char text[128];
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\n", rbt_free_port());
  write_text(env2, text);
  char *a5[] = {NULL, "run", "--env", env2, "--invocations", "3", "--output", out, NULL};
  assert_int_equal(run_rbench(a5, NULL, 20000, &log), 3);
  assert_non_null(strstr(log, "cannot connect"));
  free(log);
  /* Wrong Redis password: configuration error, and the wrong password is not echoed. */
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nREDIS_PASSWORD=wrong-pw-77\n",
           redis.port);
  write_text(env2, text);
  assert_int_equal(run_rbench(a5, NULL, 20000, &log), 2);
  assert_null(strstr(log, "wrong-pw-77"));
  free(log);
  /* --action-bin that does not exist: configuration error. */
  char *a6[] = {NULL, "run", "--env", envfile, "--action-bin", "/nonexistent/rbench-action", NULL};
  assert_int_equal(run_rbench(a6, NULL, 10000, NULL), 2);
}

static void test_action_that_cannot_start(void **state) {
  (void)state;
  /* An "action" that exits at once: every invocation is a developer error (after retries),
   * the run still completes and says why. */
  char out[160];
  snprintf(out, sizeof out, "%s/false.json", tmpdir);
  char *argv[] = {NULL,
                  "run",
                  "--env",
                  envfile,
                  "--action-bin",
                  "/bin/false",
                  "--invocations",
                  "3",
                  "--rate",
                  "20",
                  "--output",
                  out,
                  "--progress",
                  "off",
                  NULL};
  assert_int_equal(run_rbench(argv, NULL, 30000, NULL), 0);
  cJSON *d = read_json(out);
  assert_non_null(d);
  const cJSON *dev =
      cJSON_GetObjectItem(cJSON_GetObjectItem(d, "errors_by_kind"), "developer_error");
  assert_true(num(dev, "count") == 3);
  const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(dev, "messages"), 0);
  assert_string_equal(
      cJSON_GetObjectItem(m, "message")->valuestring,
      "The action did not initialize and exited unexpectedly: exited with status 1");
  cJSON_Delete(d);
}

static void test_batched_with_agent(void **state) {
  (void)state;
  struct stat st;
  if (stat(rbt_bin("rbench-agent"), &st) != 0) {
    fprintf(stderr, "rbench-agent not built: the batched end-to-end run is skipped\n");
    skip();
  }
  int aport = rbt_free_port();
  char listen[64], redis_addr[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", aport);
  snprintf(redis_addr, sizeof redis_addr, "127.0.0.1:%d", redis.port);
  char pw_env[128];
  snprintf(pw_env, sizeof pw_env, "REDIS_PASSWORD=%s", PASSWORD);
  char *env[] = {pw_env, NULL};
  char *aargv[] = {
      (char *)rbt_bin("rbench-agent"), "--listen", listen, "--redis", redis_addr, NULL};
  struct rbt_proc agent = {.port = aport};
  assert_true(rbt_proc_start(&agent, aargv, env));
  if (!rbt_wait_port(aport, 5000)) {
    rbt_proc_stop(&agent, SIGKILL);
    fprintf(stderr, "rbench-agent did not listen (its flags may differ): skipped\n");
    skip();
  }
  char envb[160], text[256], out[160];
  snprintf(envb, sizeof envb, "%s/agent.env", tmpdir);
  snprintf(text, sizeof text,
           "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nREDIS_PASSWORD=%s\n"
           "BATCHING_AGENT_HOST=127.0.0.1\nBATCHING_AGENT_PORT=%d\n",
           redis.port, PASSWORD, aport);
  write_text(envb, text);
  snprintf(out, sizeof out, "%s/batched.json", tmpdir);
  char *argv[] = {NULL,     "run",        "--env",         envb, "--batching",
                  "--rate", "40",         "--invocations", "20", "--output",
                  out,      "--progress", "off",           NULL};
  int rc = run_rbench(argv, NULL, 60000, NULL);
  rbt_proc_stop(&agent, SIGTERM);
  unlink(agent.log);
  assert_int_equal(rc, 0);
  cJSON *d = read_json(out);
  assert_true(num(d, "success_rate") == 1.0);
  cJSON_Delete(d);
}

/* action_concurrency C (OpenWhisk's limits.concurrency): invocations arriving together fill one
 * rbench-action up to C before another is started; at C = 1 each needs its own. Counted by
 * the cold starts and by action_cpu.processes (the worker processes that ran). */
static void test_action_concurrency(void **state) {
  (void)state;
  const char *cs[] = {"4", "1"};
  for (int k = 0; k < 2; k++) {
    char out[160];
    snprintf(out, sizeof out, "%s/conc%s.json", tmpdir, cs[k]);
    char *argv[] = {NULL,
                    "run",
                    "--env",
                    envfile,
                    "--concurrency",
                    "4",
                    "--invocations",
                    "24",
                    "--ops",
                    "100",
                    "--action-concurrency",
                    (char *)cs[k],
                    "--output",
                    out,
                    "--progress",
                    "off",
                    NULL};
    char *log = NULL;
    int rc = run_rbench(argv, NULL, 120000, &log);
    if (rc != 0) fail_msg("rbench exited %d: %s", rc, log);
    free(log);
    cJSON *d = read_json(out);
    assert_non_null(d);
    assert_true(num(d, "invocations.succeeded") == 24);
    assert_true(num(d, "scenario.parameters.action_concurrency") == atoi(cs[k]));
    double want = k == 0 ? 1 : 4; /* 4 arrive together: one worker holds them all at C = 4 */
    if (num(d, "cold_starts") != want || num(d, "action_cpu.processes") != want)
      fail_msg("C=%s: %g cold starts, %g processes; expected %g", cs[k], num(d, "cold_starts"),
               num(d, "action_cpu.processes"), want);
    assert_true(num(d, "action_cpu.cpu_s") >= 0);
    /* waitTime as ever: the three that waited for the first worker's /init were not cold */
    int cold = 0;
    const cJSON *rec;
    cJSON_ArrayForEach(rec, cJSON_GetObjectItem(d, "raw_results")) {
      if (cJSON_IsTrue(cJSON_GetObjectItem(rec, "cold_start"))) {
        cold++;
        assert_true(num(rec, "init_time_ms") > 0);
      }
    }
    assert_int_equal(cold, (int)want);
    cJSON_Delete(d);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_direct_run_end_to_end),
      cmocka_unit_test(test_action_concurrency),
      cmocka_unit_test(test_scenario_direct_and_repetitions),
      cmocka_unit_test(test_compare_report_doctor),
      cmocka_unit_test(test_sigterm_gives_partial_document),
      cmocka_unit_test(test_exit_codes),
      cmocka_unit_test(test_action_that_cannot_start),
      cmocka_unit_test(test_batched_with_agent),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
