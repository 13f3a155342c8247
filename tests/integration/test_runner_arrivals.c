#define _GNU_SOURCE
/* test_runner_arrivals.c: rbench run with the local target and a real redis-server (and the
 * openwhisk target against fakewhisk), open loop with a Poisson process, on/off bursts and with an
 * Azure-format trace (a relative trace_file beside the scenario): every invocation's intended time
 * is the process's (computed here with job_arrival from the same knobs), the warm-up is the
 * invocations due before `warmup`, and the document's arrival section and requested rate follow the
 * process. Two shards of a Poisson run (k mod 2), merged, take exactly the unsharded process's
 * times. A bad trace and a closed loop with a non-constant process are refused as configuration
 * errors naming the cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "job_arrival.h"
#include "runner_common.h"

#define AUTH "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:TestKeyZ0123456789"

static struct rbt_proc redis, fake;
static char envfile[128], owenv[200];

/* fakewhisk, the OpenWhisk controller double, for the openwhisk target */
static bool start_fake(struct rbt_proc *p) {
  for (int attempt = 0; attempt < 5; attempt++) {
    p->port = rbt_free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    char *argv[] = {(char *)rbt_bin("fakewhisk"), "--port", port, "--auth", AUTH, NULL};
    if (!rbt_proc_start(p, argv, NULL)) return false;
    if (rbt_wait_port(p->port, 5000)) return true;
    rbt_proc_stop(p, SIGKILL);
  }
  return false;
}

static int setup(void **state) {
  (void)state;
  if (!fixture_start(&redis, envfile, sizeof envfile) || !start_fake(&fake)) return -1;
  char text[300];
  snprintf(owenv, sizeof owenv, "%s/ow.env", tmpdir);
  snprintf(text, sizeof text, "OPENWHISK_APIHOST=http://127.0.0.1:%d\nOPENWHISK_AUTH=%s\n",
           fake.port, AUTH);
  write_text(owenv, text);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&fake, SIGTERM);
  unlink(fake.log);
  fixture_stop(&redis);
  return 0;
}

static const char *str_at(const cJSON *o, const char *a, const char *b) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* The run's scenario, run; returns the document (caller deletes). */
static cJSON *run_scenario(const char *name, const char *yaml, char **log) {
  char scen[200], out[200];
  snprintf(scen, sizeof scen, "%s/%s.yaml", tmpdir, name);
  snprintf(out, sizeof out, "%s/%s.json", tmpdir, name);
  write_text(scen, yaml);
  char *argv[] = {NULL,       "run", "-f",         scen,  "--env", envfile,
                  "--output", out,   "--progress", "off", NULL};
  int rc = run_rbench(argv, NULL, 120000, log);
  if (rc != 0) fail_msg("rbench exited %d: %s", rc, log && *log ? *log : "");
  return read_json(out);
}

/* Every raw record's intended_ms is the process's time of its index. */
static void intended_times_follow(const cJSON *d, const struct job_arrival *a) {
  const cJSON *r;
  int n = 0;
  cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(d, "raw_results")) {
    uint64_t k = (uint64_t)num(r, "index");
    double want = (double)job_arrival_offset(a, k) / 1e6;
    if (fabs(num(r, "intended_ms") - want) > 0.002)
      fail_msg("invocation %llu: intended_ms %g, the process says %g", (unsigned long long)k,
               num(r, "intended_ms"), want);
    n++;
  }
  assert_true((uint64_t)n == a->count);
}

static void test_poisson_end_to_end(void **state) {
  (void)state;
  char *log = NULL;
  cJSON *d = run_scenario("poisson",
                          "name: arrivals\n"
                          "target:\n  kind: local\n  pool_size: 4\n"
                          "defaults:\n  rate: 80\n  invocations: 160\n  warmup: 0.25\n"
                          "  ops: 2\n  key_prefix: arr\n  max_in_flight: 20\n  seed: 11\n"
                          "  arrival: poisson\n"
                          "runs:\n  - name: p\n",
                          &log);
  assert_non_null(d);
  struct job_params p;
  job_params_defaults(&p);
  p.rate = 80, p.invocations = 160, p.seed = 11;
  snprintf(p.arrival, sizeof p.arrival, "poisson");
  struct job_arrival a;
  char err[300];
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  assert_true(num(d, "invocations.completed") == 160);
  assert_true(num(d, "success_rate") == 1.0);
  /* warm-up: the invocations due before 0.25 s */
  assert_true(num(d, "invocations.warmup") == (double)job_arrival_due_before(&a, 0.25));
  intended_times_follow(d, &a);
  /* the arrival section */
  assert_string_equal(str_at(d, "arrival", "process"), "poisson");
  assert_true(num(d, "arrival.rate") == 80);
  assert_true(num(d, "arrival.seed") == 11);
  assert_true(num(d, "arrival.planned") == 160);
  double measured = num(d, "invocations.measured");
  assert_true(num(d, "arrival.measured_sends") == measured);
  double icv = num(d, "arrival.intended_cv"), rcv = num(d, "arrival.realised_cv");
  double irate = num(d, "arrival.intended_rate"), rrate = num(d, "arrival.realised_rate");
  assert_true(icv > 0.6 && icv < 1.4); /* exponential gaps: CV about 1 */
  assert_true(fabs(rcv - icv) < 0.25); /* the sends kept the process's shape */
  assert_true(irate > 50 && irate < 120);
  assert_true(fabs(rrate / irate - 1) < 0.15);
  /* achieved is judged against the process's rate over the same sends */
  double req = num(d, "requested_rate"), ach = num(d, "achieved_rate");
  double span = (double)(job_arrival_offset(&a, 159) - job_arrival_offset(&a, 0)) / 1e9;
  assert_true(fabs(req - 159 / span) < 1e-6 * req);
  assert_true(fabs(ach / req - 1) < 0.1);
  job_arrival_free(&a);
  cJSON_Delete(d);
  free(log);
}

/* minutes 1-3 of two rows (row 3 not selected), 60x faster: 25, 30 and 25 in seconds 0, 1, 2 */
static void write_trace(const char *path) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("HashOwner,HashApp,HashFunction,Trigger", f);
  for (int m = 1; m <= 1440; m++) fprintf(f, ",%d", m);
  fputs("\n", f);
  static const int counts[3][3] = {{20, 30, 10}, {5, 0, 15}, {500, 500, 500}};
  for (int r = 0; r < 3; r++) {
    fprintf(f, "owner%d,app%d,func%d,http", r, r, r);
    for (int m = 1; m <= 1440; m++) fprintf(f, ",%d", m <= 3 ? counts[r][m - 1] : 7);
    fputs("\n", f);
  }
  fclose(f);
}

static void test_trace_end_to_end(void **state) {
  (void)state;
  char dir[200], trace[240];
  snprintf(dir, sizeof dir, "%s/traces", tmpdir);
  mkdir(dir, 0700);
  snprintf(trace, sizeof trace, "%s/t.csv", dir);
  write_trace(trace);
  char *log = NULL;
  cJSON *d = run_scenario("trace",
                          "name: arrivals-trace\n"
                          "target:\n  kind: local\n  pool_size: 4\n"
                          "defaults:\n  ops: 1\n  key_prefix: tr\n  max_in_flight: 30\n"
                          "  invocations: 5\n" /* ignored by a trace */
                          "  arrival: trace\n  trace_file: traces/t.csv\n"
                          "  trace_rows: \"1,2\"\n  trace_minutes: 1-3\n  trace_speedup: 60\n"
                          "runs:\n  - name: t\n",
                          &log);
  assert_non_null(d);
  assert_true(num(d, "invocations.planned") == 80);
  assert_true(num(d, "invocations.completed") == 80);
  assert_true(num(d, "scenario.parameters.planned_invocations") == 80);
  assert_string_equal(str_at(d, "arrival", "process"), "trace");
  assert_string_equal(str_at(d, "arrival", "trace_format"), "azure");
  assert_string_equal(str_at(d, "arrival", "trace_rows"), "1,2");
  assert_string_equal(str_at(d, "arrival", "trace_minutes"), "1-3");
  assert_true(num(d, "arrival.trace_speedup") == 60);
  assert_true(num(d, "arrival.planned") == 80);
  assert_true(num(d, "arrival.span_s") < 3);
  int per_second[3] = {0, 0, 0};
  const cJSON *r;
  cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(d, "raw_results")) {
    double t = num(r, "intended_ms");
    assert_true(t >= 0 && t < 3000);
    per_second[(int)(t / 1000)]++;
  }
  assert_int_equal(per_second[0], 25);
  assert_int_equal(per_second[1], 30);
  assert_int_equal(per_second[2], 25);
  /* the same knobs here give the same times */
  struct job_params p;
  job_params_defaults(&p);
  snprintf(p.arrival, sizeof p.arrival, "trace");
  snprintf(p.trace_file, sizeof p.trace_file, "%s", trace);
  snprintf(p.trace_rows, sizeof p.trace_rows, "1,2");
  snprintf(p.trace_minutes, sizeof p.trace_minutes, "1-3");
  p.trace_speedup = 60;
  struct job_arrival a;
  char err[300];
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  intended_times_follow(d, &a);
  job_arrival_free(&a);
  cJSON_Delete(d);
  free(log);
}

static void test_sharded_poisson_merges_to_the_process(void **state) {
  (void)state;
  char scen[200], dir[200], start[40], merged[240];
  snprintf(scen, sizeof scen, "%s/sharded.yaml", tmpdir);
  snprintf(dir, sizeof dir, "%s/sharded/", tmpdir); /* a directory: DIR/RUN.shard-I-of-N.json */
  write_text(scen,
             "name: sharded\ntarget:\n  kind: local\n  pool_size: 4\n"
             "defaults:\n  rate: 100\n  invocations: 120\n  ops: 1\n  seed: 5\n"
             "  key_prefix: sh\n  arrival: poisson\nruns:\n  - name: s\n");
  struct timeval tv;
  gettimeofday(&tv, NULL);
  snprintf(start, sizeof start, "%.3f", (double)tv.tv_sec + (double)tv.tv_usec / 1e6 + 4);
  struct rbt_proc procs[2];
  for (int i = 0; i < 2; i++) {
    char shard[8];
    snprintf(shard, sizeof shard, "%d/2", i);
    char *argv[] = {(char *)rbt_bin("rbench"),
                    "run",
                    "-f",
                    scen,
                    "--env",
                    envfile,
                    "--output",
                    dir,
                    "--progress",
                    "off",
                    "--shard",
                    shard,
                    "--start-at",
                    start,
                    NULL};
    procs[i] = (struct rbt_proc){.port = rbench_serial++};
    assert_true(rbt_proc_start(&procs[i], argv, NULL));
  }
  for (int i = 0; i < 2; i++) {
    int rc = rbt_proc_wait(&procs[i], 120000);
    char *log = rbt_proc_log(&procs[i]);
    unlink(procs[i].log);
    if (rc != 0) fail_msg("shard %d exited %d: %s", i, rc, log ? log : "");
    free(log);
  }
  char in[2][300];
  for (int i = 0; i < 2; i++) snprintf(in[i], sizeof in[i], "%ss.shard-%d-of-2.json", dir, i);
  snprintf(merged, sizeof merged, "%s/merged.json", tmpdir);
  char *argv[] = {NULL, "merge", in[0], in[1], "-o", merged, NULL};
  char *log = NULL;
  if (run_rbench(argv, NULL, 60000, &log) != 0) fail_msg("merge: %s", log);
  free(log);
  cJSON *m = read_json(merged);
  assert_non_null(m);
  struct job_params p;
  job_params_defaults(&p);
  p.rate = 100, p.invocations = 120, p.seed = 5;
  snprintf(p.arrival, sizeof p.arrival, "poisson");
  struct job_arrival a;
  char err[300];
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  intended_times_follow(m, &a); /* every k once, at the unsharded time */
  struct job_gaps g = {0};
  for (uint64_t k = 0; k < a.count; k++) job_gaps_add(&g, job_arrival_offset(&a, k));
  assert_true(num(m, "arrival.measured_sends") == 120);
  assert_true(fabs(num(m, "arrival.intended_cv") - job_gaps_cv(&g)) < 1e-3);
  assert_true(fabs(num(m, "arrival.intended_rate") / job_gaps_rate(&g) - 1) < 1e-3);
  assert_true(fabs(num(m, "arrival.realised_rate") / job_gaps_rate(&g) - 1) < 0.15);
  /* each shard alone: its own sends, every other invocation */
  cJSON *s0 = read_json(in[0]);
  assert_true(num(s0, "arrival.measured_sends") == 60);
  assert_true(num(s0, "arrival.planned") == 120);
  cJSON_Delete(s0);
  job_arrival_free(&a);
  cJSON_Delete(m);
}

/* The openwhisk target (fakewhisk) keeps the process's times too: bursts from the command line. */
static void test_bursts_on_openwhisk(void **state) {
  (void)state;
  char out[200];
  snprintf(out, sizeof out, "%s/ow-bursts.json", tmpdir);
  char *argv[] = {NULL,
                  "run",
                  "--target",
                  "openwhisk",
                  "--action",
                  "pkg/ok",
                  "--env",
                  owenv,
                  "--arrival",
                  "bursts",
                  "--rate",
                  "20",
                  "--burst-rate",
                  "200",
                  "--burst-seconds",
                  "0.2",
                  "--base-seconds",
                  "0.8",
                  "--invocations",
                  "120",
                  "--warmup",
                  "0.1",
                  "--output",
                  out,
                  "--progress",
                  "off",
                  NULL};
  char *log = NULL;
  int rc = run_rbench(argv, NULL, 120000, &log);
  if (rc != 0) fail_msg("rbench exited %d: %s", rc, log ? log : "");
  free(log);
  cJSON *d = read_json(out);
  assert_non_null(d);
  struct job_params p;
  job_params_defaults(&p);
  p.rate = 20, p.burst_rate = 200, p.burst_seconds = 0.2, p.base_seconds = 0.8;
  p.invocations = 120;
  snprintf(p.arrival, sizeof p.arrival, "bursts");
  struct job_arrival a;
  char err[300];
  assert_int_equal(job_arrival_build(&p, NULL, &a, err, sizeof err), RB_OK);
  assert_true(num(d, "invocations.completed") == 120);
  assert_true(num(d, "invocations.warmup") == (double)job_arrival_due_before(&a, 0.1));
  intended_times_follow(d, &a);
  assert_string_equal(str_at(d, "arrival", "process"), "bursts");
  assert_true(num(d, "arrival.burst_rate") == 200);
  /* 56 per second: bursts of 40 in 0.2 s, then 16 in 0.8 s; gaps of 5 and 50 ms: CV above 1 */
  assert_true(num(d, "arrival.intended_cv") > 1);
  assert_true(fabs(num(d, "requested_rate") / job_arrival_rate_between(&a, 0, a.count - 1) - 1) <
              1e-9);
  job_arrival_free(&a);
  cJSON_Delete(d);
}

static void test_refusals(void **state) {
  (void)state;
  char scen[200], out[200], bad[200];
  snprintf(bad, sizeof bad, "%s/bad.txt", tmpdir);
  write_text(bad, "0\n0.5\n# a comment\n0.25\n");
  snprintf(scen, sizeof scen, "%s/bad.yaml", tmpdir);
  snprintf(out, sizeof out, "%s/bad.json", tmpdir);
  write_text(scen,
             "name: bad\ndefaults:\n  arrival: trace\n  trace_format: timestamps\n"
             "  trace_file: bad.txt\nruns:\n  - name: b\n");
  char *argv[] = {NULL,       "run", "-f",         scen,  "--env", envfile,
                  "--output", out,   "--progress", "off", NULL};
  char *log = NULL;
  assert_int_equal(run_rbench(argv, NULL, 60000, &log), 2);
  if (!strstr(log, "bad.txt:4: 0.25 is before the previous timestamp 0.5 (line 2)"))
    fail_msg("%s", log);
  assert_int_equal(access(out, F_OK), -1); /* nothing written */
  free(log);
  /* a closed loop takes no arrival process */
  write_text(scen,
             "name: bad\ndefaults:\n  arrival: poisson\n  concurrency: 2\n"
             "runs:\n  - name: b\n");
  assert_int_equal(run_rbench(argv, NULL, 60000, &log), 2);
  if (!strstr(log, "arrival poisson: concurrency 2 is a closed loop")) fail_msg("%s", log);
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_poisson_end_to_end),
      cmocka_unit_test(test_trace_end_to_end),
      cmocka_unit_test(test_sharded_poisson_merges_to_the_process),
      cmocka_unit_test(test_bursts_on_openwhisk),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
