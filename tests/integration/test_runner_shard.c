#define _GNU_SOURCE
/* test_runner_shard.c: scale-out runs against fakewhisk (the OpenWhisk double).
 *
 * One schedule (200/s, 60 invocations) run unsharded and as 1, 2, 3 and 7 shards, every
 * process given the same --start-at and all running at once: each merge has the unsharded
 * run's invocation set and intended times, counts that are the shards' sums and percentiles
 * equal to the nearest-rank percentiles of the pooled raw samples (computed here from the
 * shards' raw_results); merged from histograms only, within their stated error. Then merge's
 * refusals, the --shard / --start-at command line and environment, the clock check against a
 * controller whose Date is off, and a sharded scenario of several repetitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runner_common.h"

#define AUTH "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:TestKeyZ0123456789"

static struct rbt_proc fake, fake_skewed;
static char envfile[200], env_skewed[200];
static const int shard_counts[] = {1, 2, 3, 7};
#define NCOUNTS (sizeof shard_counts / sizeof shard_counts[0])

static bool start_fake(struct rbt_proc *p, const char *skew) {
  for (int attempt = 0; attempt < 5; attempt++) {
    p->port = rbt_free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    char *argv[] = {(char *)rbt_bin("fakewhisk"),   "--port",     port, "--auth", AUTH,
                    skew ? "--date-skew-ms" : NULL, (char *)skew, NULL};
    if (!rbt_proc_start(p, argv, NULL)) return false;
    if (rbt_wait_port(p->port, 5000)) return true;
    rbt_proc_stop(p, SIGKILL);
  }
  return false;
}

static void write_env(char *path, size_t len, const char *name, int port) {
  char text[300];
  snprintf(path, len, "%s/%s", tmpdir, name);
  snprintf(text, sizeof text, "OPENWHISK_APIHOST=http://127.0.0.1:%d\nOPENWHISK_AUTH=%s\n", port,
           AUTH);
  write_text(path, text);
}

static double now_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void path_of(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_of(char *out, size_t len, const char *fmt, ...) {
  char rel[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rel, sizeof rel, fmt, ap);
  va_end(ap);
  snprintf(out, len, "%s/%s", tmpdir, rel);
}

/* argv for `rbench run` of the schedule against env, to out; shard "I/N" or NULL. */
static int base_argv(char **argv, const char *env, const char *out, const char *shard,
                     const char *start) {
  int i = 0;
  const char *a[] = {NULL,       "run", "--target",   "openwhisk", "--action",      "pkg/ok",
                     "--env",    env,   "--rate",     "200",       "--invocations", "60",
                     "--output", out,   "--progress", "off"};
  for (size_t k = 0; k < sizeof a / sizeof a[0]; k++) argv[i++] = (char *)a[k];
  if (shard) argv[i++] = "--shard", argv[i++] = (char *)shard;
  if (start) argv[i++] = "--start-at", argv[i++] = (char *)start;
  argv[i] = NULL;
  return i;
}

static int rbench_merge(const char *in, const char *in2, const char *out, char **log) {
  char *argv[] = {NULL,
                  "merge",
                  (char *)in,
                  (char *)(in2 ? in2 : "-o"),
                  (char *)(in2 ? "-o" : out),
                  in2 ? (char *)out : NULL,
                  NULL};
  return run_rbench(argv, NULL, 60000, log);
}

/* ---- the property: one schedule, unsharded and sharded ----------------------------------- */

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  if (!start_fake(&fake, NULL) || !start_fake(&fake_skewed, "7000")) return -1;
  write_env(envfile, sizeof envfile, "local.env", fake.port);
  write_env(env_skewed, sizeof env_skewed, "skewed.env", fake_skewed.port);
  /* Every process at once, all given the same instant. */
  char start[40], out[300], shard[32];
  snprintf(start, sizeof start, "%.3f",
           now_s() + 10); /* 14 processes start and check their clocks */
  struct rbt_proc procs[1 + 1 + 2 + 3 + 7];
  size_t np = 0;
  char *argv[32];
  path_of(out, sizeof out, "one.json");
  base_argv(argv, envfile, out, NULL, start);
  argv[0] = (char *)rbt_bin("rbench");
  procs[np].port = rbench_serial++;
  if (!rbt_proc_start(&procs[np++], argv, NULL)) return -1;
  for (size_t c = 0; c < NCOUNTS; c++) {
    for (int i = 0; i < shard_counts[c]; i++) {
      char outp[300];
      path_of(outp, sizeof outp, "n%d/", shard_counts[c]);
      snprintf(shard, sizeof shard, "%d/%d", i, shard_counts[c]);
      base_argv(argv, envfile, outp, shard, start);
      argv[0] = (char *)rbt_bin("rbench");
      procs[np].port = rbench_serial++;
      if (!rbt_proc_start(&procs[np++], argv, NULL)) return -1;
    }
  }
  int failed = 0;
  for (size_t i = 0; i < np; i++) {
    int rc = rbt_proc_wait(&procs[i], 120000);
    char *log = rbt_proc_log(&procs[i]);
    if (rc != 0) {
      fprintf(stderr, "shard process %zu exited %d:\n%s\n", i, rc, log ? log : "");
      failed++;
    }
    free(log);
    unlink(procs[i].log);
  }
  return failed ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&fake, SIGTERM);
  rbt_proc_stop(&fake_skewed, SIGTERM);
  unlink(fake.log);
  unlink(fake_skewed.log);
  tmpdir_remove();
  return 0;
}

static cJSON *shard_doc(int n, int i) {
  char p[300];
  path_of(p, sizeof p, "n%d/run.shard-%d-of-%d.json", n, i, n);
  cJSON *d = read_json(p);
  assert_non_null(d);
  return d;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The summary a single runner would write for these µs samples: nearest rank. */
static void expect_summary(const cJSON *got, uint64_t *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_u64);
  assert_true(num(got, "count") == (double)n);
  assert_true(n > 0);
  double ps[] = {50, 90, 99};
  const char *names[] = {"p50", "p90", "p99"};
  for (int i = 0; i < 3; i++) {
    size_t rank = (size_t)ceil(ps[i] / 100 * (double)n - 1e-9);
    if (fabs(num(got, names[i]) - (double)v[rank - 1] / 1000) > 1e-9)
      fail_msg("%s: %g, pooled raw samples give %g", names[i], num(got, names[i]),
               (double)v[rank - 1] / 1000);
  }
  assert_true(fabs(num(got, "min") - (double)v[0] / 1000) < 1e-9);
  assert_true(fabs(num(got, "max") - (double)v[n - 1] / 1000) < 1e-9);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)v[i];
  assert_true(fabs(num(got, "mean") - sum / (double)n / 1000) < 1e-6);
}

/* Pools metric (a raw record field, ms) of the successful measured invocations of n shards. */
static size_t pool(int n, const char *field, uint64_t *v) {
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    cJSON *d = shard_doc(n, i);
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(d, "raw_results")) {
      if (!cJSON_IsTrue(cJSON_GetObjectItem(r, "success")) ||
          cJSON_IsTrue(cJSON_GetObjectItem(r, "warmup")))
        continue;
      v[k++] = (uint64_t)llround(num(r, field) * 1000);
    }
    cJSON_Delete(d);
  }
  return k;
}

static void test_merge_equals_unsharded_schedule(void **state) {
  (void)state;
  char one_path[300];
  path_of(one_path, sizeof one_path, "one.json");
  cJSON *one = read_json(one_path);
  assert_non_null(one);
  assert_null(cJSON_GetObjectItem(one, "shard")); /* unsharded: no shard field */
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(one, "histograms"), "execution_time_ms"));
  for (size_t c = 0; c < NCOUNTS; c++) {
    int n = shard_counts[c];
    char in[300], out[300];
    path_of(in, sizeof in, "n%d", n);
    path_of(out, sizeof out, "merged-%d.json", n);
    char *log = NULL;
    int rc = rbench_merge(in, NULL, out, &log);
    if (rc != 0) fail_msg("merge of %d shards: exit %d: %s", n, rc, log);
    free(log);
    cJSON *m = read_json(out);
    assert_non_null(m);
    assert_null(cJSON_GetObjectItem(m, "shard"));
    assert_true(num(m, "merged_from.count") == n);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(m, "merged_from"), "percentiles")->valuestring,
        "raw_results");
    /* one instant: the merged start is the unsharded start */
    assert_true(num(m, "start_time_ms") == num(one, "start_time_ms"));
    /* the same invocation set, each at the same intended time */
    double intended_one[60], intended_m[60];
    bool seen[60] = {false};
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(one, "raw_results"))
        intended_one[(int)num(r, "index")] = num(r, "intended_ms");
    int count = 0;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(m, "raw_results")) {
      int k = (int)num(r, "index");
      assert_true(k >= 0 && k < 60);
      assert_false(seen[k]);
      seen[k] = true;
      intended_m[k] = num(r, "intended_ms");
      count++;
    }
    assert_int_equal(count, 60);
    for (int k = 0; k < 60; k++) assert_true(fabs(intended_m[k] - intended_one[k]) < 1e-9);
    /* counts are the shards' sums, and the schedule's */
    const char *fields[] = {"planned",  "sent",      "completed", "warmup",
                            "measured", "succeeded", "failed",    "unsent"};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
      char key[64];
      snprintf(key, sizeof key, "invocations.%s", fields[f]);
      double sum = 0;
      for (int i = 0; i < n; i++) {
        cJSON *d = shard_doc(n, i);
        sum += num(d, key);
        cJSON_Delete(d);
      }
      assert_true(num(m, key) == sum);
      assert_true(num(m, key) == num(one, key));
    }
    assert_true(num(m, "invocations.planned") == 60);
    /* percentiles: nearest rank over the pooled raw samples */
    uint64_t v[60];
    size_t k = pool(n, "execution_time_ms", v);
    expect_summary(cJSON_GetObjectItem(m, "execution_time_ms"), v, k);
    k = pool(n, "service_time_ms", v);
    expect_summary(cJSON_GetObjectItem(m, "service_time_ms"), v, k);
    assert_true(num(m, "histograms.execution_time_ms.count") == 60);
    assert_true(num(m, "achieved_rate") > 100); /* 200/s asked, over the union of sends */
    cJSON_Delete(m);
  }
  cJSON_Delete(one);
}

/* Shards without raw_results (as a ConfigMap's summary): merged from the histograms, within
 * their stated error of the exact values, and said so. */
static void test_histogram_only_merge(void **state) {
  (void)state;
  const int n = 3;
  char dir[300], out[300], exact_path[300];
  path_of(dir, sizeof dir, "summary3");
  mkdir(dir, 0755);
  for (int i = 0; i < n; i++) {
    cJSON *d = shard_doc(n, i);
    cJSON_DeleteItemFromObject(d, "raw_results");
    cJSON_AddTrueToObject(d, "raw_results_omitted");
    char p[400], *text = cJSON_Print(d);
    snprintf(p, sizeof p, "%s/s%d.json", dir, i);
    write_text(p, text);
    free(text);
    cJSON_Delete(d);
  }
  path_of(out, sizeof out, "merged-hist.json");
  char *log = NULL;
  int rc = rbench_merge(dir, NULL, out, &log);
  if (rc != 0) fail_msg("exit %d: %s", rc, log);
  free(log);
  path_of(exact_path, sizeof exact_path, "merged-%d.json", n);
  cJSON *m = read_json(out), *exact = read_json(exact_path);
  assert_non_null(m);
  assert_non_null(exact);
  const cJSON *mf = cJSON_GetObjectItem(m, "merged_from");
  assert_string_equal(cJSON_GetObjectItem(mf, "percentiles")->valuestring, "histograms");
  double bound = num(mf, "max_relative_error");
  assert_true(bound > 0 && bound <= 0.001);
  assert_null(cJSON_GetObjectItem(m, "raw_results"));
  const char *metrics[] = {"execution_time_ms", "service_time_ms", "server.duration_ms"};
  const char *stats[] = {"p50", "p90", "p99", "min", "max", "count"};
  for (size_t i = 0; i < 3; i++) {
    for (size_t s = 0; s < 6; s++) {
      char key[80];
      snprintf(key, sizeof key, "%s.%s", metrics[i], stats[s]);
      double e = num(exact, key), h = num(m, key);
      if (!(h >= e - 1e-9 && h <= e * (1 + bound) + 1e-9))
        fail_msg("%s: %g from histograms, %g exact (bound %g)", key, h, e, bound);
    }
  }
  assert_true(num(m, "invocations.sent") == 60);
  cJSON_Delete(m);
  cJSON_Delete(exact);
}

/* compare and report take a merged document like any other. */
static void test_compare_and_report_take_merged(void **state) {
  (void)state;
  char one[300], merged[300], html[300];
  path_of(one, sizeof one, "one.json");
  path_of(merged, sizeof merged, "merged-3.json");
  path_of(html, sizeof html, "report.html");
  char *log = NULL;
  char *cmp[] = {NULL, "compare", one, merged, "--json", NULL};
  int rc = run_rbench(cmp, NULL, 60000, &log);
  if (rc != 0) fail_msg("compare: exit %d: %s", rc, log);
  assert_non_null(strstr(log, "execution_p50_ms"));
  free(log);
  char *rep[] = {NULL, "report", one, merged, "-o", html, NULL};
  rc = run_rbench(rep, NULL, 60000, &log);
  if (rc != 0) fail_msg("report: exit %d: %s", rc, log);
  free(log);
  struct stat st;
  assert_int_equal(stat(html, &st), 0);
}

/* ---- merge's refusals -------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to) {
  char *t = read_text(from);
  assert_non_null(t);
  write_text(to, t);
  free(t);
}

static void expect_refusal(const char *a, const char *b, const char *want) {
  char out[300];
  path_of(out, sizeof out, "refused.json");
  unlink(out);
  char *log = NULL;
  int rc = rbench_merge(a, b, out, &log);
  if (rc == 0 || !log || !strstr(log, want))
    fail_msg("merge %s %s: exit %d, want '%s' in: %s", a, b ? b : "", rc, want, log);
  assert_null(strstr(log, "Sanitizer"));
  free(log);
  struct stat st;
  assert_int_not_equal(stat(out, &st), 0); /* nothing written */
}

static void test_merge_refusals(void **state) {
  (void)state;
  char a[300], b[300], dir[300], p[400];
  /* mixed runs: shards of the 2-way and the 3-way run */
  path_of(a, sizeof a, "n2/run.shard-0-of-2.json");
  path_of(b, sizeof b, "n3/run.shard-1-of-3.json");
  expect_refusal(a, b, "are not shards of one run");
  /* a duplicate shard */
  path_of(dir, sizeof dir, "dup");
  mkdir(dir, 0755);
  for (int i = 0; i < 3; i++) {
    path_of(a, sizeof a, "n3/run.shard-%d-of-3.json", i);
    snprintf(p, sizeof p, "%s/s%d.json", dir, i);
    copy_file(a, p);
  }
  path_of(a, sizeof a, "n3/run.shard-1-of-3.json");
  snprintf(p, sizeof p, "%s/again.json", dir);
  copy_file(a, p);
  expect_refusal(dir, NULL, "are both shard 1 of 3");
  /* a missing shard */
  path_of(a, sizeof a, "n3/run.shard-0-of-3.json");
  path_of(b, sizeof b, "n3/run.shard-2-of-3.json");
  expect_refusal(a, b, "shard 1 of 3 missing");
  path_of(a, sizeof a, "n7/run.shard-3-of-7.json");
  expect_refusal(a, NULL, "shards 0, 1, 2, 4, 5, 6 of 7 missing");
  /* an unsharded document among them, named or found in a directory */
  path_of(a, sizeof a, "n2");
  path_of(b, sizeof b, "one.json");
  expect_refusal(a, b, "one.json: an unsharded results document");
  path_of(dir, sizeof dir, "withone");
  mkdir(dir, 0755);
  snprintf(p, sizeof p, "%s/one.json", dir);
  copy_file(b, p);
  path_of(a, sizeof a, "n1/run.shard-0-of-1.json");
  snprintf(p, sizeof p, "%s/s.json", dir);
  copy_file(a, p);
  expect_refusal(dir, NULL, "an unsharded results document");
  /* a summary-only shard without histograms */
  cJSON *d = shard_doc(2, 1);
  cJSON_DeleteItemFromObject(d, "raw_results");
  cJSON_DeleteItemFromObject(d, "histograms");
  char *text = cJSON_Print(d);
  path_of(b, sizeof b, "nohist.json");
  write_text(b, text);
  free(text);
  cJSON_Delete(d);
  path_of(a, sizeof a, "n2/run.shard-0-of-2.json");
  expect_refusal(a, b, "nohist.json is summary only (no raw_results) and has no histograms");
  /* unreadable and non-results files */
  path_of(b, sizeof b, "absent.json");
  expect_refusal(a, b, "absent.json");
  path_of(b, sizeof b, "garbage.json");
  write_text(b, "not json\n");
  expect_refusal(a, b, "garbage.json: not a results document");
  path_of(b, sizeof b, "other.json");
  write_text(b, "{\"a\": 1}\n");
  expect_refusal(a, b, "other.json: not an rbench results document");
  /* two scenarios with one run name would be written to one path: refused */
  path_of(dir, sizeof dir, "twoscen");
  mkdir(dir, 0755);
  cJSON *o = shard_doc(1, 0);
  snprintf(p, sizeof p, "%s/a.json", dir);
  text = cJSON_Print(o);
  write_text(p, text);
  free(text);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(o, "scenario"), "name",
                            cJSON_CreateString("other"));
  snprintf(p, sizeof p, "%s/b.json", dir);
  text = cJSON_Print(o);
  write_text(p, text);
  free(text);
  cJSON_Delete(o);
  path_of(b, sizeof b, "twoscen-out");
  char *l2 = NULL;
  char *av[] = {NULL, "merge", dir, "-o", b, NULL};
  assert_int_equal(run_rbench(av, NULL, 30000, &l2), 2);
  assert_non_null(strstr(l2, "would both be written to"));
  free(l2);
  /* -o is required */
  char *log = NULL;
  char *argv[] = {NULL, "merge", a, NULL};
  assert_int_equal(run_rbench(argv, NULL, 30000, &log), 2);
  assert_non_null(strstr(log, "-o OUT is required"));
  free(log);
}

/* ---- the command line ----------------------------------------------------------------------- */

/* Runs a short sharded schedule with extra flags and env; returns the exit status and log. */
static int run_short(const char *env, const char *out, char *const extra[], char *const envv[],
                     char **log) {
  char *argv[40] = {NULL,       "run",       "--target",   "openwhisk", "--action",      "pkg/ok",
                    "--env",    (char *)env, "--rate",     "100",       "--invocations", "6",
                    "--output", (char *)out, "--progress", "off"};
  int i = 16;
  for (int k = 0; extra && extra[k]; k++) argv[i++] = extra[k];
  argv[i] = NULL;
  return run_rbench(argv, envv, 60000, log);
}

static void expect_run(char *const extra[], char *const envv[], int want_rc, const char *want) {
  char out[300];
  path_of(out, sizeof out, "cli/");
  char *log = NULL;
  int rc = run_short(envfile, out, extra, envv, &log);
  if (rc != want_rc || !log || !strstr(log, want))
    fail_msg("exit %d (want %d), want '%s' in: %s", rc, want_rc, want, log);
  assert_null(strstr(log, "Sanitizer"));
  free(log);
}

static void test_cli_errors(void **state) {
  (void)state;
  char past[40], soon[40];
  snprintf(past, sizeof past, "%.3f", now_s() - 10);
  snprintf(soon, sizeof soon, "%.3f", now_s() + 3);
  expect_run((char *[]){"--shard", "3/3", NULL}, NULL, 2, "shard index 3 is not below the count 3");
  expect_run((char *[]){"--shard", "0/0", NULL}, NULL, 2, "must be at least 1");
  expect_run((char *[]){"--shard", "one", NULL}, NULL, 2, "--shard expects I/N");
  expect_run((char *[]){"--shard", "0/2", NULL}, NULL, 2,
             "must agree on its start: give every shard the same --start-at");
  expect_run((char *[]){"--start-at", "tomorrow", NULL}, NULL, 2, "--start-at expects an instant");
  expect_run((char *[]){"--start-at", past, NULL}, NULL, 2, "s ago, more than the 1 s allowed");
  expect_run((char *[]){"--start-at", "1796407200000", NULL}, NULL, 2,
             "more than a day: is it in seconds?");
  expect_run(NULL, (char *[]){"RBENCH_SHARDS=3", NULL}, 2,
             "RBENCH_SHARDS=3 is set but JOB_COMPLETION_INDEX is not");
  expect_run(NULL, (char *[]){"RBENCH_SHARD=4/2", NULL}, 2, "RBENCH_SHARD 4/2");
  expect_run(NULL, (char *[]){"RBENCH_START_AT=noon", NULL}, 2,
             "RBENCH_START_AT expects an instant");
  expect_run(NULL, (char *[]){"JOB_COMPLETION_INDEX=5", "RBENCH_SHARDS=5", NULL}, 2,
             "JOB_COMPLETION_INDEX=5 is not below RBENCH_SHARDS=5");
  expect_run((char *[]){"--shard", "0/2", "--start-at", soon, "--concurrency", "4", NULL}, NULL, 2,
             "is a closed loop (concurrency 4)");
  char yaml[300];
  path_of(yaml, sizeof yaml, "sweep.yaml");
  write_text(yaml, "name: s\nruns:\n  - name: up\n    rate: [50, 100]\n    invocations: 5\n");
  char *log = NULL, out[300];
  path_of(out, sizeof out, "cli/");
  char *sweep[] = {
      NULL, "run",     "-f",  yaml,         "--env", envfile, "--output",
      out,  "--shard", "0/2", "--start-at", soon,    NULL}; /* no --rate: it would replace the
                                                               sweep's list */
  int rc = run_rbench(sweep, NULL, 30000, &log);
  if (rc != 2 || !strstr(log, "run up is a capacity sweep")) fail_msg("exit %d: %s", rc, log);
  free(log);
  path_of(yaml, sizeof yaml, "badstart.yaml");
  write_text(yaml, "name: s\nstart_at: soon\nruns:\n  - name: a\n");
  expect_run((char *[]){"-f", yaml, NULL}, NULL, 2, "start_at expects an instant");
}

/* The clock check: a controller whose Date is 7 s ahead makes every --start-at run refuse. */
static void test_clock_check_refuses_skewed_server(void **state) {
  (void)state;
  char out[300], soon[40];
  path_of(out, sizeof out, "skewed/");
  snprintf(soon, sizeof soon, "%.3f", now_s() + 5);
  char *log = NULL;
  int rc = run_short(env_skewed, out, (char *[]){"--shard", "0/2", "--start-at", soon, NULL}, NULL,
                     &log);
  if (rc != 2 || !strstr(log, "clock is behind the OpenWhisk API host") ||
      !strstr(log, "--clock-tolerance-ms 500"))
    fail_msg("exit %d: %s", rc, log);
  free(log);
  /* a tolerance wider than the skew lets it run */
  rc = run_short(env_skewed, out,
                 (char *[]){"--start-at", soon, "--clock-tolerance-ms", "20000", NULL}, NULL, &log);
  if (rc != 0) fail_msg("exit %d: %s", rc, log);
  free(log);
  /* the double in sync passes the check and says so */
  path_of(out, sizeof out, "synced.json");
  snprintf(soon, sizeof soon, "%.3f", now_s() + 4);
  rc = run_short(envfile, out, (char *[]){"--start-at", soon, NULL}, NULL, &log);
  if (rc != 0 || !strstr(log, "clock check against the OpenWhisk API host"))
    fail_msg("exit %d: %s", rc, log);
  free(log);
  cJSON *d = read_json(out);
  assert_null(cJSON_GetObjectItem(d, "shard")); /* --start-at alone: not a shard */
  assert_true(fabs(num(d, "start_time_ms") - floor(atof(soon) * 1000)) <= 1);
  cJSON_Delete(d);
}

/* Env fallbacks and names: an Indexed Job's pod, RBENCH_SHARD, the command line over both;
 * RFC 3339 start instants; file names with .shard-I-of-N. */
static void test_env_fallbacks_and_names(void **state) {
  (void)state;
  char start[80], startenv[120], out[300], path[300];
  time_t t = (time_t)now_s() + 5, shifted = t + 3600;
  struct tm tm;
  gmtime_r(&shifted, &tm); /* the same instant written with a +01:00 offset */
  strftime(start, sizeof start, "%Y-%m-%dT%H:%M:%S+01:00", &tm);
  snprintf(startenv, sizeof startenv, "RBENCH_START_AT=%s", start);
  path_of(out, sizeof out, "job.json");
  char *log = NULL;
  int rc = run_short(envfile, out, NULL,
                     (char *[]){"JOB_COMPLETION_INDEX=1", "RBENCH_SHARDS=2", startenv, NULL}, &log);
  if (rc != 0) fail_msg("exit %d: %s", rc, log);
  free(log);
  path_of(path, sizeof path, "job.shard-1-of-2.json");
  cJSON *d = read_json(path);
  assert_non_null(d);
  assert_true(num(d, "shard.index") == 1 && num(d, "shard.count") == 2);
  assert_true(num(d, "shard.start_at_ms") == (double)t * 1000);
  assert_true(num(d, "start_time_ms") == (double)t * 1000);
  assert_int_equal(
      strlen(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "shard"), "run_key")->valuestring), 16);
  assert_true(num(d, "invocations.planned") == 3); /* k = 1, 3, 5 of 6 */
  const cJSON *r;
  cJSON_ArrayForEach(r, cJSON_GetObjectItem(d, "raw_results"))
      assert_true((int)num(r, "index") % 2 == 1);
  cJSON_Delete(d);
  /* the command line wins over RBENCH_SHARD */
  char soon[40];
  snprintf(soon, sizeof soon, "%.3f", now_s() + 4);
  path_of(out, sizeof out, "cl.json");
  rc = run_short(envfile, out, (char *[]){"--shard", "0/2", "--start-at", soon, NULL},
                 (char *[]){"RBENCH_SHARD=1/3", NULL}, &log);
  if (rc != 0) fail_msg("exit %d: %s", rc, log);
  free(log);
  path_of(path, sizeof path, "cl.shard-0-of-2.json");
  d = read_json(path);
  assert_non_null(d);
  assert_true(num(d, "shard.index") == 0 && num(d, "shard.count") == 2);
  cJSON_Delete(d);
}

/* A sharded plan of two repetitions: each shard writes DIR/RUN/rK.shard-I-of-N.json, the
 * second repetition starts at the first's start + its schedule + --start-gap on every shard,
 * and merge puts each group in the runner's layout (a .json OUT is refused). */
static void test_sharded_repetitions(void **state) {
  (void)state;
  char out[300], start[40], shard[16];
  path_of(out, sizeof out, "reps/");
  snprintf(start, sizeof start, "%.3f", now_s() + 6);
  struct rbt_proc p[2];
  for (int i = 0; i < 2; i++) {
    snprintf(shard, sizeof shard, "%d/2", i);
    char *argv[] = {(char *)rbt_bin("rbench"),
                    "run",
                    "--target",
                    "openwhisk",
                    "--action",
                    "pkg/ok",
                    "--env",
                    envfile,
                    "--rate",
                    "100",
                    "--invocations",
                    "10",
                    "--repetitions",
                    "2",
                    "--output",
                    out,
                    "--progress",
                    "off",
                    "--shard",
                    shard,
                    "--start-at",
                    start,
                    "--start-gap",
                    "0.5",
                    NULL};
    p[i].port = rbench_serial++;
    assert_true(rbt_proc_start(&p[i], argv, NULL));
  }
  for (int i = 0; i < 2; i++) {
    int rc = rbt_proc_wait(&p[i], 60000);
    char *log = rbt_proc_log(&p[i]);
    if (rc != 0) fail_msg("shard %d: exit %d: %s", i, rc, log);
    free(log);
    unlink(p[i].log);
  }
  char path[300];
  path_of(path, sizeof path, "reps/run/r2.shard-1-of-2.json");
  cJSON *d = read_json(path);
  assert_non_null(d);
  /* 10 invocations at 100/s: 0.1 s, then the 0.5 s gap */
  assert_true(num(d, "start_time_ms") == floor(atof(start) * 1000) + 600 ||
              num(d, "start_time_ms") == floor(atof(start) * 1000) + 599);
  cJSON_Delete(d);
  /* one run_id for the run: every shard process derives the same one, for every repetition */
  char id0[32] = "";
  const char *files[] = {"reps/run/r1.shard-0-of-2.json", "reps/run/r1.shard-1-of-2.json",
                         "reps/run/r2.shard-0-of-2.json", "reps/run/r2.shard-1-of-2.json"};
  for (int i = 0; i < 4; i++) {
    path_of(path, sizeof path, "%s", files[i]);
    d = read_json(path);
    assert_non_null(d);
    const cJSON *id = cJSON_GetObjectItem(d, "run_id");
    assert_true(cJSON_IsString(id) && strlen(id->valuestring) == 16);
    if (!i) snprintf(id0, sizeof id0, "%s", id->valuestring);
    else assert_string_equal(id->valuestring, id0);
    cJSON_Delete(d);
  }
  char in[300], mout[300];
  path_of(in, sizeof in, "reps");
  path_of(mout, sizeof mout, "reps-merged.json");
  char *log = NULL;
  char *bad[] = {NULL, "merge", in, "-o", mout, NULL};
  assert_int_equal(run_rbench(bad, NULL, 60000, &log), 2);
  assert_non_null(strstr(log, "must be a directory"));
  free(log);
  path_of(mout, sizeof mout, "reps-merged");
  char *good[] = {NULL, "merge", in, "-o", mout, NULL};
  int rc = run_rbench(good, NULL, 60000, &log);
  if (rc != 0) fail_msg("exit %d: %s", rc, log);
  free(log);
  for (int k = 1; k <= 2; k++) {
    path_of(path, sizeof path, "reps-merged/run/r%d.json", k);
    d = read_json(path);
    assert_non_null(d);
    assert_true(num(d, "invocations.sent") == 10);
    assert_true(num(d, "scenario.repetition") == k);
    cJSON_Delete(d);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_merge_equals_unsharded_schedule),
      cmocka_unit_test(test_histogram_only_merge),
      cmocka_unit_test(test_compare_and_report_take_merged),
      cmocka_unit_test(test_merge_refusals),
      cmocka_unit_test(test_cli_errors),
      cmocka_unit_test(test_clock_check_refuses_skewed_server),
      cmocka_unit_test(test_env_fallbacks_and_names),
      cmocka_unit_test(test_sharded_repetitions),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
