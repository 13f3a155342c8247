#define _GNU_SOURCE
/* test_runner_started.c: backend start on the local target (docs/runner.md, "Backend started by
 * the runner"), end to end with real redis-server, rbench-agent, nutcracker and rbench-action:
 * the run succeeds against what it started, the "started" section has each process with its
 * CPU, the agent really got layer_args; whatever happens (normal end, a failed start of the
 * layer, SIGINT mid-run) no process it started is left and its temp dir (TMPDIR here) is
 * removed; with the env's Redis nothing is started; redis_cpu puts Redis in a cgroup with the
 * quota (root with a CPU controller) or refuses the run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "runner_common.h"

static char emptyenv[160], tmpenv[200], tdir[160];

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  snprintf(emptyenv, sizeof emptyenv, "%s/empty.env", tmpdir);
  write_text(emptyenv, "# nothing: every endpoint is started\n");
  snprintf(tdir, sizeof tdir, "%s/t", tmpdir);
  mkdir(tdir, 0700);
  snprintf(tmpenv, sizeof tmpenv, "TMPDIR=%s", tdir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tmpdir_remove();
  return 0;
}

static int rbench_env(char **argv, int timeout_ms, char **log) {
  struct rbt_proc p = {.port = rbench_serial++};
  argv[0] = (char *)rbt_bin("rbench");
  char *env[] = {tmpenv, NULL};
  if (!rbt_proc_start(&p, argv, env)) return -999;
  int rc = rbt_proc_wait(&p, timeout_ms);
  char *l = rbt_proc_log(&p);
  unlink(p.log);
  if (log) *log = l;
  else free(l);
  return rc;
}

static bool tdir_empty(void) {
  DIR *d = opendir(tdir);
  struct dirent *e;
  bool empty = true;
  while (d && (e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      print_message("left behind: %s/%s\n", tdir, e->d_name);
      empty = false;
    }
  if (d) closedir(d);
  return empty;
}

/* A cgroup file (its size reads as 0: read to the end). */
static char *read_sys(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *t = rbt_slurp(f);
  fclose(f);
  return t;
}

static bool alive_as(pid_t pid, const char *name) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", (int)pid);
  return pid > 0 && access(path, F_OK) == 0 && cmdline_has(pid, name);
}

/* Processes whose parent is pid and whose command line has name. */
static int children_named(pid_t pid, const char *name, pid_t *out, int max) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)) != NULL) {
    pid_t c = (pid_t)atoi(e->d_name);
    if (c > 0 && n < max && parent_of(c) == pid && cmdline_has(c, name)) out[n++] = c;
  }
  if (d) closedir(d);
  return n;
}

static const cJSON *started_proc(const cJSON *d, const char *role) {
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItem(cJSON_GetObjectItem(d, "started"), "processes")) {
    const cJSON *r = cJSON_GetObjectItem(p, "role");
    if (cJSON_IsString(r) && !strcmp(r->valuestring, role)) return p;
  }
  return NULL;
}

static const char *sval(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* Checks a started process's figures and that it is gone. */
static void check_proc(const cJSON *p, const char *name) {
  assert_non_null(p);
  assert_string_equal(sval(p, "name"), name);
  assert_true(num(p, "cpu_s") >= 0);
  assert_true(num(p, "cpu_us_per_op") >= 0);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "note")));
  pid_t pid = (pid_t)num(p, "pid");
  assert_true(pid > 0);
  if (alive_as(pid, name)) fail_msg("%s (pid %d) still runs after the run", name, (int)pid);
}

static cJSON *run_ok(const char *name, char **extra) {
  char out[200];
  snprintf(out, sizeof out, "%s/%s.json", tmpdir, name);
  char *argv[40] = {NULL,       "run", "--env",      emptyenv, "--backend", "start",
                    "--output", out,   "--progress", "off",    NULL};
  int n = 10;
  for (int i = 0; extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  char *log = NULL;
  int rc = rbench_env(argv, 120000, &log);
  if (rc != 0) fail_msg("rbench exited %d: %s", rc, log);
  free(log);
  assert_true(tdir_empty());
  cJSON *d = read_json(out);
  assert_non_null(d);
  return d;
}

static void test_direct(void **state) {
  (void)state;
  char *extra[] = {"--rate", "40", "--invocations", "30", "--ops", "20", NULL};
  cJSON *d = run_ok("direct", extra);
  assert_true(num(d, "invocations.succeeded") == 30);
  const cJSON *r = started_proc(d, "redis");
  check_proc(r, "redis-server");
  assert_null(started_proc(d, "layer"));
  assert_non_null(strstr(sval(r, "args"), "--save '' --appendonly no"));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "cpu_quota")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "throttled_s")));
  /* the run's Redis is the started one, sampled by INFO as ever */
  assert_string_equal(sval(cJSON_GetObjectItem(d, "redis"), "endpoint"), sval(r, "endpoint"));
  assert_true(num(d, "redis.calls.set") == 30 * 20);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "redis"), "shared")));
  assert_true(num(d, "backend_cpu_us_per_op") == num(d, "redis.cpu_us_per_op"));
  assert_true(num(d, "action_cpu.processes") >= 1 && num(d, "action_cpu.cpu_s") >= 0);
  cJSON_Delete(d);
}

/* rbench-agent with layer_args: --coalesce folds the concurrent SETs (agent.coalesced grows),
 * without it none are. */
static void test_agent_layer_args(void **state) {
  (void)state;
  double coalesced[2];
  for (int k = 0; k < 2; k++) {
    char *extra[] = {"--placement",
                     "agent",
                     "--concurrency",
                     "8",
                     "--invocations",
                     "64",
                     "--ops",
                     "40",
                     "--parallel",
                     "8",
                     "--operation",
                     "set",
                     k ? "--layer-args" : NULL,
                     "--coalesce",
                     NULL};
    cJSON *d = run_ok(k ? "coalesce" : "agent", extra);
    assert_true(num(d, "invocations.succeeded") == 64);
    check_proc(started_proc(d, "redis"), "redis-server");
    const cJSON *l = started_proc(d, "layer");
    check_proc(l, "rbench-agent");
    assert_true((strstr(sval(l, "args"), "--coalesce") != NULL) == (k == 1));
    /* the agent section's metrics are the started agent's */
    char metrics[64];
    snprintf(metrics, sizeof metrics, "--metrics %s",
             sval(cJSON_GetObjectItem(d, "agent"), "endpoint") + 7);
    *strchr(metrics, '/') = '\0';
    assert_non_null(strstr(sval(l, "args"), metrics));
    coalesced[k] = num(d, "agent.coalesced");
    assert_true(num(d, "agent.commands") >= 64 * 40);
    assert_true(fabs(num(d, "backend_cpu_us_per_op") - num(d, "redis.cpu_us_per_op") -
                     num(d, "agent.cpu_us_per_op")) < 1e-3);
    cJSON_Delete(d);
  }
  assert_true(coalesced[0] == 0);
  assert_true(coalesced[1] > 0);
}

static void test_nutcracker(void **state) {
  (void)state;
  char *extra[] = {"--placement", "agent",         "--layer", "nutcracker", "--concurrency",
                   "4",           "--invocations", "40",      "--ops",      "20",
                   NULL};
  cJSON *d = run_ok("nutcracker", extra);
  assert_true(num(d, "invocations.succeeded") == 40);
  const cJSON *r = started_proc(d, "redis"), *l = started_proc(d, "layer");
  check_proc(r, "redis-server");
  check_proc(l, "nutcracker");
  assert_true(num(d, "redis.calls.set") == 40 * 20); /* through nutcracker to the started Redis */
  assert_non_null(strstr(sval(cJSON_GetObjectItem(d, "agent"), "unavailable"), "nutcracker"));
  /* Redis's INFO figure plus nutcracker's /proc figure */
  assert_true(fabs(num(d, "backend_cpu_us_per_op") - num(d, "redis.cpu_us_per_op") -
                   num(l, "cpu_us_per_op")) < 1e-3);
  cJSON_Delete(d);
}

/* The endpoints given in the env: nothing is started. */
static void test_env_given(void **state) {
  (void)state;
  struct rbt_proc redis;
  assert_true(rbt_redis_start(&redis, NULL));
  char env[200], text[100], out[200];
  snprintf(env, sizeof env, "%s/given.env", tmpdir);
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\n", redis.port);
  write_text(env, text);
  snprintf(out, sizeof out, "%s/given.json", tmpdir);
  char *argv[] = {NULL, "run",           "--env", env,        "--backend", "start",      "--rate",
                  "20", "--invocations", "10",    "--output", out,         "--progress", "off",
                  NULL};
  char *log = NULL;
  int rc = rbench_env(argv, 60000, &log);
  rbt_proc_stop(&redis, SIGTERM);
  unlink(redis.log);
  if (rc != 0) fail_msg("rbench exited %d: %s", rc, log);
  assert_non_null(strstr(log, "nothing started"));
  free(log);
  cJSON *d = read_json(out);
  assert_non_null(d);
  assert_null(cJSON_GetObjectItem(d, "started"));
  assert_true(num(d, "invocations.succeeded") == 10);
  char ep[32];
  snprintf(ep, sizeof ep, "127.0.0.1:%d", redis.port);
  assert_string_equal(sval(cJSON_GetObjectItem(d, "redis"), "endpoint"), ep);
  cJSON_Delete(d);
  assert_true(tdir_empty());
}

/* A flag rbench-agent refuses: the run fails (exit 2) naming rbench-agent and its message, and
 * the redis-server already started is stopped. */
static void test_failed_start(void **state) {
  (void)state;
  char out[200];
  snprintf(out, sizeof out, "%s/failed.json", tmpdir);
  char *argv[] = {NULL,
                  "run",
                  "--env",
                  emptyenv,
                  "--backend",
                  "start",
                  "--placement",
                  "agent",
                  "--layer-args",
                  "--flush=bogus",
                  "--rate",
                  "10",
                  "--invocations",
                  "5",
                  "--output",
                  out,
                  "--progress",
                  "off",
                  NULL};
  char *log = NULL;
  int rc = rbench_env(argv, 60000, &log);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(log, "rbench-agent exited with status"));
  assert_non_null(strstr(log, "--flush must be")); /* its own message */
  const char *at = strstr(log, "redis-server on 127.0.0.1:"), *pid = at ? strstr(at, "(pid ") : 0;
  assert_non_null(pid); /* Redis had started */
  pid_t redis = (pid_t)atoi(pid + 5);
  assert_true(redis > 0);
  if (alive_as(redis, "redis-server")) fail_msg("redis-server %d left running", (int)redis);
  free(log);
  assert_true(tdir_empty()); /* its log and the temp dir removed */
  assert_int_equal(access(out, F_OK), -1);
}

/* SIGINT mid-run (to the whole group, as a terminal does): the partial document as ever, and
 * redis-server and rbench-agent stopped. */
static void test_sigint(void **state) {
  (void)state;
  char out[200];
  snprintf(out, sizeof out, "%s/sigint.json", tmpdir);
  char *argv[] = {"setsid", (char *)rbt_bin("rbench"),
                  "run",    "--env",
                  emptyenv, "--backend",
                  "start",  "--placement",
                  "agent",  "--rate",
                  "20",     "--invocations",
                  "100000", "--ops",
                  "500",    "--drain-timeout",
                  "20",     "--output",
                  out,      "--progress",
                  "off",    NULL};
  char *env[] = {tmpenv, NULL};
  struct rbt_proc p = {.port = rbench_serial++};
  assert_true(rbt_proc_start(&p, argv, env));
  for (int i = 0; i < 200 && getpgid(p.pid) != p.pid; i++) usleep(5000);
  pid_t redis[4], agent[4];
  int nr = 0, na = 0;
  for (int i = 0; i < 100 && (nr < 1 || na < 1); i++) {
    usleep(50000);
    nr = children_named(p.pid, "redis-server", redis, 4);
    na = children_named(p.pid, "rbench-agent", agent, 4);
  }
  assert_int_equal(nr, 1);
  assert_int_equal(na, 1);
  sleep(1);
  assert_int_equal(kill(-p.pid, SIGINT), 0);
  usleep(20000);
  assert_true(alive_as(redis[0], "redis-server")); /* its own group: the run drains first */
  int rc = rbt_proc_wait(&p, 60000);
  char *log = rbt_proc_log(&p);
  unlink(p.log);
  if (rc != 4) fail_msg("rbench exited %d: %s", rc, log);
  free(log);
  if (alive_as(redis[0], "redis-server")) fail_msg("redis-server %d left running", (int)redis[0]);
  if (alive_as(agent[0], "rbench-agent")) fail_msg("rbench-agent %d left running", (int)agent[0]);
  cJSON *d = read_json(out);
  assert_non_null(d);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "complete")));
  assert_non_null(started_proc(d, "redis"));
  assert_non_null(started_proc(d, "layer"));
  cJSON_Delete(d);
  assert_true(tdir_empty());
}

/* redis_cpu: as root with a CPU controller, Redis runs in a cgroup with the quota (read while
 * the run goes on) and the throttling is reported; otherwise the run is refused. */
static void test_redis_cpu(void **state) {
  (void)state;
  bool v1 = access("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", F_OK) == 0;
  char *ctl = read_text("/sys/fs/cgroup/cgroup.controllers");
  bool v2 = !v1 && ctl && strstr(ctl, "cpu");
  free(ctl);
  char out[200];
  snprintf(out, sizeof out, "%s/quota.json", tmpdir);
  char *argv[] = {
      "rbench",        "run", "--env",      emptyenv, "--backend", "start", "--redis-cpu", "0.05",
      "--concurrency", "8",   "--duration", "3",      "--ops",     "200",   "--parallel",  "8",
      "--output",      out,   "--progress", "off",    NULL};
  argv[0] = (char *)rbt_bin("rbench");
  char *env[] = {tmpenv, NULL};
  struct rbt_proc p = {.port = rbench_serial++};
  assert_true(rbt_proc_start(&p, argv, env));
  if (geteuid() != 0 || (!v1 && !v2)) {
    int rc = rbt_proc_wait(&p, 60000);
    char *log = rbt_proc_log(&p);
    unlink(p.log);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(log, "cannot put the started redis-server under a CPU quota"));
    free(log);
    return;
  }
  /* the cgroup while it runs: the quota, and redis-server in it */
  char dir[300] = "", root[] = "/sys/fs/cgroup/cpu";
  const char *base = v1 ? root : "/sys/fs/cgroup";
  char prefix[64];
  snprintf(prefix, sizeof prefix, "rbench-started-%d-", (int)p.pid);
  for (int i = 0; i < 200 && !dir[0]; i++) {
    DIR *d = opendir(base);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
      if (!strncmp(e->d_name, prefix, strlen(prefix)))
        snprintf(dir, sizeof dir, "%s/%s", base, e->d_name);
    if (d) closedir(d);
    if (!dir[0]) usleep(20000);
  }
  assert_true(dir[0]);
  char path[400];
  snprintf(path, sizeof path, v1 ? "%s/cpu.cfs_quota_us" : "%s/cpu.max", dir);
  char *quota = NULL;
  for (int i = 0; i < 100 && !quota; i++) quota = read_sys(path);
  assert_non_null(quota);
  /* 0.05 of a core: the 10 ms period would give 0.5 ms, under the kernel's 1 ms minimum, so the
   * period grows to 20 ms */
  assert_int_equal(atoi(quota), 1000);
  if (!v1) assert_non_null(strstr(quota, " 20000"));
  free(quota);
  if (v1) {
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
    char *period = read_sys(path);
    assert_non_null(period);
    assert_int_equal(atoi(period), 20000);
    free(period);
  }
  pid_t redis[2];
  int nr = 0;
  for (int i = 0; i < 100 && nr < 1; i++) {
    nr = children_named(p.pid, "redis-server", redis, 2);
    if (!nr) usleep(20000);
  }
  assert_int_equal(nr, 1);
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  char *procs = read_sys(path), want[32];
  snprintf(want, sizeof want, "%d\n", (int)redis[0]);
  assert_non_null(procs);
  assert_non_null(strstr(procs, want));
  free(procs);
  int rc = rbt_proc_wait(&p, 120000);
  char *log = rbt_proc_log(&p);
  unlink(p.log);
  if (rc != 0) fail_msg("rbench exited %d: %s", rc, log);
  free(log);
  assert_int_equal(access(dir, F_OK), -1); /* the cgroup is removed */
  cJSON *d = read_json(out);
  assert_non_null(d);
  const cJSON *r = started_proc(d, "redis");
  check_proc(r, "redis-server");
  assert_true(num(r, "cpu_quota") == 0.05);
  assert_true(num(r, "throttled_s") >= 0);
  assert_true(num(r, "throttled_periods") >= 0);
  /* under the quota: at most 0.05 s of CPU per second of the window, with a tick of slack */
  double window_s =
      (num(d, "timeline.backend_after_ms") - num(d, "timeline.backend_before_ms")) / 1e3;
  assert_true(window_s > 0);
  if (num(r, "cpu_s") > 0.05 * window_s + 0.03)
    fail_msg("redis-server used %.3f s of CPU in %.3f s under a 0.05 quota", num(r, "cpu_s"),
             window_s);
  cJSON_Delete(d);
  assert_true(tdir_empty());
}

/* The openwhisk target refuses backend start, naming both. */
static void test_openwhisk_refused(void **state) {
  (void)state;
  char env[200], out[200];
  snprintf(env, sizeof env, "%s/ow.env", tmpdir);
  write_text(env, "OPENWHISK_APIHOST=http://127.0.0.1:9\nOPENWHISK_AUTH=u:k\n");
  snprintf(out, sizeof out, "%s/ow.json", tmpdir);
  char *argv[] = {
      NULL,     "run", "--env",         env, "--target", "openwhisk", "--backend",  "start",
      "--rate", "10",  "--invocations", "5", "--output", out,         "--progress", "off",
      NULL};
  char *log = NULL;
  int rc = rbench_env(argv, 60000, &log);
  assert_int_equal(rc, 2);
  if (!strstr(log, "backend start needs the local target, but the target is openwhisk"))
    fail_msg("%s", log);
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_direct),       cmocka_unit_test(test_agent_layer_args),
      cmocka_unit_test(test_nutcracker),   cmocka_unit_test(test_env_given),
      cmocka_unit_test(test_failed_start), cmocka_unit_test(test_sigint),
      cmocka_unit_test(test_redis_cpu),    cmocka_unit_test(test_openwhisk_refused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
