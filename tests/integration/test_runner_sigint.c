#define _GNU_SOURCE
/* test_runner_sigint.c: Ctrl-C as a terminal sends it: SIGINT to the whole process group of
 * an rbench started in a group of its own (setsid), mid-run, with invocations both running in
 * rbench-action processes and queued for one. Real redis-server and rbench-action processes.
 * Expected (docs/runner.md, "Stopping, exit status"): exit 4, complete false; the running
 * invocations finish (the actions, in groups of their own, never see the SIGINT), the queued
 * ones are aborted, and aborted is neither success nor failure; no action starts work after
 * the stop, no process is started after it, none is left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runner_common.h"

static struct rbt_proc redis;
static char envfile[160];

static int setup(void **state) {
  (void)state;
  if (!fixture_start(&redis, envfile, sizeof envfile)) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fixture_stop(&redis);
  return 0;
}

static double wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

/* rbench-action processes whose parent is pid. */
static int action_children(pid_t pid, pid_t *out, int max) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)) != NULL) {
    pid_t c = (pid_t)atoi(e->d_name);
    if (c > 0 && n < max && parent_of(c) == pid && cmdline_has(c, "rbench-action")) out[n++] = c;
  }
  if (d) closedir(d);
  return n;
}

static bool alive_action(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", (int)pid);
  return access(path, F_OK) == 0 && cmdline_has(pid, "rbench-action");
}

/* Starts `setsid rbench ARGS...`: rbench leads a process group of its own, as a shell job. */
static void start_in_group(struct rbt_proc *p, char **args) {
  char *argv[40] = {"setsid", (char *)rbt_bin("rbench")};
  int n = 2;
  for (int i = 0; args[i] && n < 39; i++) argv[n++] = args[i];
  argv[n] = NULL;
  *p = (struct rbt_proc){.port = rbench_serial++};
  assert_true(rbt_proc_start(p, argv, NULL));
  for (int i = 0; i < 200 && getpgid(p->pid) != p->pid; i++) usleep(5000);
  assert_int_equal(getpgid(p->pid), p->pid);
}

static void test_ctrl_c_drains_and_aborts(void **state) {
  (void)state;
  char out[200];
  snprintf(out, sizeof out, "%s/ctrlc.json", tmpdir);
  /* 2 workers, each invocation ~0.1 s of sequential SETs, 40/s: invocations queue for a
   * worker (up to 16 in flight) */
  char *args[] = {"run",    "--env",
                  envfile,  "--rate",
                  "40",     "--invocations",
                  "100000", "--pool-size",
                  "2",      "--max-in-flight",
                  "16",     "--ops",
                  "3000",   "--parallel",
                  "1",      "--drain-timeout",
                  "30",     "--output",
                  out,      "--progress",
                  "off",    NULL};
  struct rbt_proc p;
  start_in_group(&p, args);
  sleep(2);
  pid_t workers[8];
  int nworkers = action_children(p.pid, workers, 8);
  assert_true(nworkers >= 1 && nworkers <= 2);
  double stop_ms = wall_ms();
  assert_int_equal(kill(-p.pid, SIGINT), 0); /* the whole group, as a terminal does */
  usleep(20000);
  for (int i = 0; i < nworkers; i++)
    assert_true(alive_action(workers[i])); /* draining, not killed */
  int rc = rbt_proc_wait(&p, 60000);
  char *log = rbt_proc_log(&p);
  unlink(p.log);
  assert_int_equal(rc, 4);
  assert_non_null(strstr(log, "SIGINT"));
  assert_null(strstr(log, "exited unexpectedly"));
  free(log);
  cJSON *d = read_json(out);
  assert_non_null(d);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "complete")));
  assert_string_equal(cJSON_GetObjectItem(d, "interrupted_by")->valuestring, "SIGINT");
  double measured = num(d, "invocations.measured"), aborted = num(d, "invocations.aborted");
  double ok = num(d, "invocations.succeeded");
  assert_true(aborted >= 1);                      /* the queued ones */
  assert_true(ok >= 1);                           /* the running ones finished */
  assert_true(num(d, "invocations.failed") == 0); /* aborted is not a failure */
  assert_true(ok + aborted == measured);
  assert_true(num(d, "error_rate") == 0);
  assert_true(num(d, "success_rate") == 1);
  const cJSON *kinds = cJSON_GetObjectItem(d, "errors_by_kind");
  assert_null(cJSON_GetObjectItem(kinds, "developer_error"));
  assert_true(num(d, "errors_by_kind.aborted.count") == aborted);
  /* No action began work after the stop, and no process was started for it: at most the
   * pool's 2 cold starts in the whole run. */
  double start = num(d, "start_time_ms");
  int cold = 0;
  const cJSON *rec;
  cJSON_ArrayForEach(rec, cJSON_GetObjectItem(d, "raw_results")) {
    if (cJSON_IsTrue(cJSON_GetObjectItem(rec, "cold_start"))) cold++;
    double began = num(rec, "action.start_ms");
    if (!isnan(began) && began > stop_ms + 50)
      fail_msg("invocation %.0f started in the action %.0f ms after the stop", num(rec, "index"),
               began - stop_ms);
    assert_true(num(rec, "sent_ms") + start <= stop_ms + 50);
  }
  assert_true(cold <= 2);
  cJSON_Delete(d);
  for (int i = 0; i < nworkers; i++)
    if (alive_action(workers[i])) fail_msg("rbench-action %d left running", (int)workers[i]);
}

/* Stopped before the first send (waiting for the start instant): the times are null. */
static void test_stopped_before_any_send(void **state) {
  (void)state;
  char out[200], at[32];
  snprintf(out, sizeof out, "%s/early.json", tmpdir);
  snprintf(at, sizeof at, "%lld", (long long)time(NULL) + 20);
  char *args[] = {"run",        "--env", envfile,    "--rate", "10",         "--invocations", "5",
                  "--start-at", at,      "--output", out,      "--progress", "off",           NULL};
  struct rbt_proc p;
  start_in_group(&p, args);
  sleep(1);
  assert_int_equal(kill(-p.pid, SIGINT), 0);
  int rc = rbt_proc_wait(&p, 30000);
  unlink(p.log);
  assert_int_equal(rc, 4);
  cJSON *d = read_json(out);
  assert_non_null(d);
  assert_true(num(d, "invocations.sent") == 0);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "start_time_ms")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "duration_s")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "achieved_rate")));
  const cJSON *t = cJSON_GetObjectItem(d, "timeline");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "first_send_ms")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "backend_before_ms")));
  cJSON_Delete(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ctrl_c_drains_and_aborts),
      cmocka_unit_test(test_stopped_before_any_send),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
