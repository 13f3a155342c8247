#define _GNU_SOURCE
/* test_runner_sides.c: what compare and report pool and compare (issue 18 items 1-2), end to
 * end with real redis-server, real rbench-agent and real rbench-action processes (local
 * target): the README's flow gives one verdict in compare and in the report's headline; two
 * documents named on the command line are two sides, whatever their run names; a side whose
 * documents were run with different settings is refused (a rerun into a directory holding an
 * older r3.json; a merge written into the directory of its own shards); an interrupted
 * document is left out with a note naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "rbt_agent.h"
#include "runner_common.h"

#define PASSWORD "rb-sides-pw-93ab"

static struct rbt_proc redis, agent;
static char envfile[160];

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  if (!rbt_redis_start(&redis, PASSWORD)) return -1;
  static char *const env[] = {"REDIS_PASSWORD=" PASSWORD, NULL};
  const char *extra[] = {"--log-level", "warn", NULL};
  if (!rbt_agent_start(&agent, redis.port, extra, env)) return -1;
  snprintf(envfile, sizeof envfile, "%s/local.env", tmpdir);
  char text[512];
  snprintf(text, sizeof text,
           "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\nREDIS_PASSWORD=%s\nBATCHING_AGENT_HOST=127.0.0.1\n"
           "BATCHING_AGENT_PORT=%d\n",
           redis.port, PASSWORD, agent.port);
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

/* Runs rbench with the given arguments (NULL-terminated after argv[1]); returns the exit
 * status, *log its output (caller frees). */
static int rbench(char **log, int timeout_ms, ...) {
  char *argv[48] = {NULL};
  int n = 1;
  va_list ap;
  va_start(ap, timeout_ms);
  for (const char *a; n < 47 && (a = va_arg(ap, const char *)) != NULL;) argv[n++] = (char *)a;
  va_end(ap);
  argv[n] = NULL;
  char *l = NULL;
  int rc = run_rbench(argv, NULL, timeout_ms, &l);
  if (getenv("DEBUG_PRINT")) fprintf(stderr, "rbench %s -> %d:\n%s\n", argv[1], rc, l);
  if (log) *log = l;
  else free(l);
  return rc;
}

/* The "headline: ..." line of an output, without the prefix (static buffer). */
static const char *headline_of(const char *log) {
  static char line[1200];
  const char *h = strstr(log, "headline: ");
  if (!h) return NULL;
  h += 10;
  size_t n = strcspn(h, "\n");
  snprintf(line, sizeof line, "%.*s", (int)n, h);
  return line;
}

/* README.md, "Running a benchmark": two runs to two files, compare them, report them. The
 * report's headline is compare's: the report does not pool the two documents (both named
 * "run") into one group compared with itself. */
static void test_readme_flow(void **state) {
  (void)state;
  char direct[200], batched[200], html[200];
  snprintf(direct, sizeof direct, "%s/direct_results.json", tmpdir);
  snprintf(batched, sizeof batched, "%s/batched_results.json", tmpdir);
  snprintf(html, sizeof html, "%s/report.html", tmpdir);
  assert_int_equal(rbench(NULL, 120000, "run", "--env", envfile, "--rate", "10", "--invocations",
                          "100", "--ops", "100", "--operation", "set", "--output", direct,
                          "--progress", "off", NULL),
                   0);
  assert_int_equal(rbench(NULL, 120000, "run", "--env", envfile, "--rate", "10", "--invocations",
                          "100", "--ops", "100", "--operation", "set", "--batching", "--output",
                          batched, "--progress", "off", NULL),
                   0);
  char *cmp = NULL, *rep = NULL;
  assert_int_equal(rbench(&cmp, 30000, "compare", direct, batched, NULL), 0);
  assert_int_equal(rbench(&rep, 30000, "report", direct, batched, "-o", html, NULL), 0);
  const char *hc = headline_of(cmp);
  assert_non_null(hc);
  char compare_headline[1200];
  snprintf(compare_headline, sizeof compare_headline, "%s", hc);
  const char *hr = headline_of(rep);
  assert_non_null(hr);
  assert_string_equal(compare_headline, hr);
  assert_true(strncmp(hr, "batching ", 9) == 0);
  assert_null(strstr(hr, "unchanged (p=1)"));
  /* the report's sides are the two files, in order */
  char *page = read_text(html);
  assert_non_null(page);
  assert_non_null(strstr(page, "direct_results.json"));
  assert_non_null(strstr(page, "batched_results.json"));
  free(page);
  free(cmp);
  free(rep);
}

/* Two direct documents of different workloads, named on the command line: two sides, the
 * second compared with the first, not "no direct and batched runs". */
static void test_named_sides_of_one_mode(void **state) {
  (void)state;
  char a[200], b[200], html[200];
  snprintf(a, sizeof a, "%s/small.json", tmpdir);
  snprintf(b, sizeof b, "%s/large.json", tmpdir);
  snprintf(html, sizeof html, "%s/two.html", tmpdir);
  assert_int_equal(rbench(NULL, 60000, "run", "--env", envfile, "--rate", "50", "--invocations",
                          "40", "--ops", "5", "--output", a, "--progress", "off", NULL),
                   0);
  assert_int_equal(rbench(NULL, 60000, "run", "--env", envfile, "--rate", "50", "--invocations",
                          "40", "--ops", "200", "--output", b, "--progress", "off", NULL),
                   0);
  char *rep = NULL;
  assert_int_equal(rbench(&rep, 30000, "report", a, b, "-o", html, NULL), 0);
  const char *h = headline_of(rep);
  assert_non_null(h);
  char want[500];
  snprintf(want, sizeof want, "compared with A (%s), B (%s) ", a, b);
  assert_true(strncmp(h, want, strlen(want)) == 0);
  free(rep);
}

/* A rerun into a directory that still holds r3.json of an earlier run with other settings:
 * compare refuses, naming the files and the setting; --allow-mixed pools them with a note;
 * report of the tree shows them as separate groups and says so. */
static void test_mixed_settings_refused(void **state) {
  (void)state;
  char scen[200], out[200], other[200], html[200];
  snprintf(scen, sizeof scen, "%s/reps.yaml", tmpdir);
  snprintf(out, sizeof out, "%s/reps", tmpdir);
  snprintf(other, sizeof other, "%s/other.json", tmpdir);
  snprintf(html, sizeof html, "%s/reps.html", tmpdir);
  write_text(scen,
             "name: reps\ndefaults:\n  rate: 50\n  invocations: 20\n  ops: 10\nrepetitions: 3\n"
             "runs:\n  - name: direct\n");
  assert_int_equal(rbench(NULL, 60000, "run", "-f", scen, "--env", envfile, "--output", out,
                          "--progress", "off", NULL),
                   0);
  write_text(scen,
             "name: reps\ndefaults:\n  rate: 50\n  invocations: 20\n  ops: 20\nrepetitions: 2\n"
             "runs:\n  - name: direct\n");
  assert_int_equal(rbench(NULL, 60000, "run", "-f", scen, "--env", envfile, "--output", out,
                          "--progress", "off", NULL),
                   0);
  assert_int_equal(rbench(NULL, 60000, "run", "--env", envfile, "--rate", "50", "--invocations",
                          "20", "--ops", "20", "--batching", "--output", other, "--progress", "off",
                          NULL),
                   0);
  char side[220], *log = NULL;
  snprintf(side, sizeof side, "%s/direct", out);
  assert_int_equal(rbench(&log, 30000, "compare", side, other, NULL), 2);
  char want[600];
  snprintf(want, sizeof want,
           "%s/r1.json and %s/r3.json were run with different settings: ops: 20 vs 10", side, side);
  assert_non_null(strstr(log, want));
  assert_non_null(strstr(log, "--allow-mixed"));
  assert_null(strstr(log, "execution p50"));
  free(log);
  assert_int_equal(rbench(&log, 30000, "compare", "--allow-mixed", side, other, NULL), 0);
  assert_non_null(strstr(log, "note (A): MIXED settings pooled (--allow-mixed)"));
  assert_non_null(strstr(log, "(3 documents,"));
  assert_non_null(strstr(log, "pools documents of 2 runs (run ids ")); /* run_id */
  free(log);
  /* report of the side named: refused the same way */
  assert_int_equal(rbench(&log, 30000, "report", side, other, "-o", html, NULL), 2);
  assert_non_null(strstr(log, want));
  free(log);
  /* report of the tree: grouped by settings, the split said */
  assert_int_equal(rbench(&log, 30000, "report", out, "-o", html, NULL), 0);
  assert_non_null(
      strstr(log, "documents of run 'direct' were run with different settings (ops: 20 vs 10)"));
  char *page = read_text(html);
  assert_non_null(strstr(page, "direct (ops=20)"));
  assert_non_null(strstr(page, "direct (ops=10)"));
  free(page);
  free(log);
}

/* `rbench merge DIR -o DIR`: the merged document lands beside its own shards. A side made of
 * that directory would count every invocation twice: refused on the shard setting. */
static void test_merge_into_shard_directory_refused(void **state) {
  (void)state;
  char dir[200], s0[220], s1[220], other[200];
  snprintf(dir, sizeof dir, "%s/shards", tmpdir);
  snprintf(s0, sizeof s0, "%s/s0.json", dir);
  snprintf(s1, sizeof s1, "%s/s1.json", dir);
  snprintf(other, sizeof other, "%s/shard-other.json", tmpdir);
  assert_int_equal(mkdir(dir, 0700), 0);
  char start[40];
  snprintf(start, sizeof start, "%lld", (long long)time(NULL) + 2);
  struct rbt_proc p0 = {.port = rbench_serial++}, p1 = {.port = rbench_serial++};
  char *a0[] = {(char *)rbt_bin("rbench"),
                "run",
                "--env",
                envfile,
                "--rate",
                "50",
                "--invocations",
                "40",
                "--ops",
                "5",
                "--shard",
                "0/2",
                "--start-at",
                start,
                "--output",
                s0,
                "--progress",
                "off",
                NULL};
  char *a1[] = {(char *)rbt_bin("rbench"),
                "run",
                "--env",
                envfile,
                "--rate",
                "50",
                "--invocations",
                "40",
                "--ops",
                "5",
                "--shard",
                "1/2",
                "--start-at",
                start,
                "--output",
                s1,
                "--progress",
                "off",
                NULL};
  assert_true(rbt_proc_start(&p0, a0, NULL));
  assert_true(rbt_proc_start(&p1, a1, NULL));
  int r0 = rbt_proc_wait(&p0, 60000), r1 = rbt_proc_wait(&p1, 60000);
  if (r0 || r1) {
    char *l0 = rbt_proc_log(&p0), *l1 = rbt_proc_log(&p1);
    fprintf(stderr, "shards exited %d %d:\n%s\n%s\n", r0, r1, l0, l1);
    free(l0);
    free(l1);
  }
  unlink(p0.log);
  unlink(p1.log);
  assert_int_equal(r0, 0);
  assert_int_equal(r1, 0);
  assert_int_equal(rbench(NULL, 30000, "merge", dir, "-o", dir, NULL), 0);
  assert_int_equal(rbench(NULL, 60000, "run", "--env", envfile, "--rate", "50", "--invocations",
                          "40", "--ops", "5", "--batching", "--output", other, "--progress", "off",
                          NULL),
                   0);
  char *log = NULL;
  assert_int_equal(rbench(&log, 30000, "compare", dir, other, NULL), 2);
  assert_non_null(strstr(log, "were run with different settings: shard: "));
  free(log);
}

/* An interrupted run's document beside a whole one: left out with a note naming it, in
 * compare's table and the report; --include-incomplete keeps it, flagged. */
static void test_incomplete_left_out(void **state) {
  (void)state;
  char dir[200], whole[220], cut[220], other[200], html[200];
  snprintf(dir, sizeof dir, "%s/inc", tmpdir);
  snprintf(whole, sizeof whole, "%s/whole.json", dir);
  snprintf(cut, sizeof cut, "%s/cut.json", dir);
  snprintf(other, sizeof other, "%s/inc-other.json", tmpdir);
  snprintf(html, sizeof html, "%s/inc.html", tmpdir);
  assert_int_equal(mkdir(dir, 0700), 0);
  /* the same settings; the second run is stopped a quarter of the way through */
  assert_int_equal(rbench(NULL, 60000, "run", "--env", envfile, "--rate", "50", "--invocations",
                          "300", "--ops", "5", "--output", whole, "--progress", "off", NULL),
                   0);
  assert_int_equal(rbench(NULL, 60000, "run", "--env", envfile, "--rate", "50", "--invocations",
                          "40", "--ops", "5", "--batching", "--output", other, "--progress", "off",
                          NULL),
                   0);
  struct rbt_proc p = {.port = rbench_serial++};
  char *argv[] = {(char *)rbt_bin("rbench"),
                  "run",
                  "--env",
                  envfile,
                  "--rate",
                  "50",
                  "--invocations",
                  "300",
                  "--ops",
                  "5",
                  "--output",
                  cut,
                  "--progress",
                  "off",
                  NULL};
  assert_true(rbt_proc_start(&p, argv, NULL));
  usleep(1500 * 1000);
  assert_int_equal(rbt_proc_stop(&p, SIGTERM), 4);
  unlink(p.log);
  cJSON *d = read_json(cut);
  assert_non_null(d);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "complete")));
  cJSON_Delete(d);
  char *log = NULL, want[400];
  assert_int_equal(rbench(&log, 30000, "compare", dir, other, NULL), 0);
  snprintf(want, sizeof want,
           "note (A): left out %s: interrupted by SIGTERM, not a whole run (--include-incomplete",
           cut);
  assert_non_null(strstr(log, want));
  assert_non_null(strstr(log, "(1 document,"));
  free(log);
  assert_int_equal(rbench(&log, 30000, "compare", "--include-incomplete", dir, other, NULL), 0);
  snprintf(
      want, sizeof want,
      "note (A): INCOMPLETE document included (--include-incomplete): %s (interrupted by SIGTERM)",
      cut);
  assert_non_null(strstr(log, want));
  assert_non_null(strstr(log, "(2 documents,"));
  assert_non_null(strstr(log, "pools documents of 2 runs (run ids "));
  free(log);
  assert_int_equal(rbench(&log, 30000, "report", dir, other, "-o", html, NULL), 0);
  char *page = read_text(html);
  snprintf(want, sizeof want, "<li>left out %s: interrupted by SIGTERM", cut);
  assert_non_null(strstr(page, want));
  free(page);
  free(log);
  assert_int_equal(
      rbench(&log, 30000, "report", "--include-incomplete", dir, other, "-o", html, NULL), 0);
  page = read_text(html);
  assert_non_null(strstr(page, "(INCOMPLETE)"));
  free(page);
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_readme_flow),
      cmocka_unit_test(test_named_sides_of_one_mode),
      cmocka_unit_test(test_mixed_settings_refused),
      cmocka_unit_test(test_merge_into_shard_directory_refused),
      cmocka_unit_test(test_incomplete_left_out),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
