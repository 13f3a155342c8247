#define _GNU_SOURCE
/* test_runner_groups.c: `rbench compare` and `rbench report` with N groups (issue 21 item 5),
 * end to end through the real binary on small results documents written here with known
 * figures (no servers: the statistics are what is tested, the runs elsewhere): the N-way table
 * and headline, --baseline by index and by name, an unknown --baseline, --objective, --json,
 * a group mixing placements refused, the two-group form unchanged, the report with three
 * groups and N sweeps' max rates against the baseline's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "runner_common.h"

/* One group: its placement params, backend CPU per op of repetitions 1..5, execution time. */
struct group {
  const char *dir, *placement, *layer;
  long long concurrency;
  double cpu0; /* repetition r: cpu0 + r */
  double exec; /* repetition r: exec + r * 0.1 ms */
};

static const struct group groups[] = {
    {"direct", "direct", NULL, 0, 20, 10},
    {"runtime", "runtime", NULL, 8, 6, 11},
    {"agent", "agent", NULL, 0, 15, 10.05},
    {"nutcracker", "agent", "nutcracker", 0, 20.5, 10},
};

static void write_doc(const char *path, const struct group *g, int rep) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddNumberToObject(d, "schema_version", 1);
  cJSON *sc = cJSON_AddObjectToObject(d, "scenario");
  cJSON_AddStringToObject(sc, "run", g->dir);
  cJSON_AddNumberToObject(sc, "repetition", rep);
  cJSON_AddNumberToObject(sc, "repetitions", 5);
  cJSON *p = cJSON_AddObjectToObject(sc, "parameters");
  cJSON_AddNumberToObject(p, "rate", 10);
  cJSON_AddStringToObject(p, "placement", g->placement);
  cJSON_AddBoolToObject(p, "batching", !strcmp(g->placement, "agent"));
  if (g->concurrency) cJSON_AddNumberToObject(p, "action_concurrency", (double)g->concurrency);
  if (g->layer) {
    cJSON_AddStringToObject(p, "backend", "start");
    cJSON_AddStringToObject(p, "layer", g->layer);
  }
  int n = 40;
  cJSON *inv = cJSON_AddObjectToObject(d, "invocations");
  cJSON_AddNumberToObject(inv, "measured", n);
  cJSON_AddNumberToObject(inv, "succeeded", n);
  cJSON_AddNumberToObject(d, "achieved_rate", 10);
  cJSON_AddNumberToObject(d, "requested_rate", 10);
  cJSON_AddNumberToObject(d, "success_rate", 1);
  cJSON *r = cJSON_AddObjectToObject(d, "redis");
  cJSON_AddStringToObject(r, "endpoint", "127.0.0.1:6379");
  cJSON_AddNumberToObject(r, "cpu_us_per_op", g->cpu0 + rep);
  cJSON_AddNumberToObject(r, "commands_per_op", 1);
  cJSON_AddBoolToObject(r, "shared", false);
  cJSON_AddNumberToObject(d, "backend_cpu_us_per_op", g->cpu0 + rep);
  cJSON *raw = cJSON_AddArrayToObject(d, "raw_results");
  for (int i = 0; i < n; i++) {
    cJSON *x = cJSON_CreateObject();
    double e = g->exec + rep * 0.1 + (i - 20) * 0.001;
    cJSON_AddNumberToObject(x, "intended_ms", i * 100.0);
    cJSON_AddNumberToObject(x, "end_ms", i * 100.0 + e);
    cJSON_AddNumberToObject(x, "execution_time_ms", e);
    cJSON_AddBoolToObject(x, "success", true);
    cJSON_AddItemToArray(raw, x);
  }
  char *t = cJSON_Print(d);
  write_text(path, t);
  free(t);
  cJSON_Delete(d);
}

static void write_sweep(const char *dir, const char *run, const char *placement, double max,
                        bool at_least) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", tmpdir, dir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/%s/sweep.json", tmpdir, dir);
  char text[1024];
  snprintf(text, sizeof text,
           "{\"kind\": \"sweep\", \"run\": \"%s\", \"complete\": true,\n"
           " \"scenario\": {\"parameters\": {\"placement\": \"%s\"}},\n"
           " \"slo\": {\"p99_ms\": 50, \"max_error_rate\": 0.01, \"min_achieved_ratio\": 0.95},\n"
           " \"max_sustainable_rate\": %g, \"max_sustainable_rate_at_least\": %s,\n"
           " \"steps\": [{\"rate\": %g, \"achieved_rate\": %g, \"p50_ms\": 2, \"p99_ms\": 9,\n"
           "   \"error_rate\": 0, \"met_slo\": true, \"runner_limited\": false}]}\n",
           run, placement, max, at_least ? "true" : "false", max, max);
  write_text(path, text);
}

static char dirs[6][200];

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  char path[300];
  for (size_t g = 0; g < 4; g++) {
    snprintf(dirs[g], sizeof dirs[g], "%s/%s", tmpdir, groups[g].dir);
    mkdir(dirs[g], 0755);
    for (int r = 1; r <= 5; r++) {
      snprintf(path, sizeof path, "%.200s/r%d.json", dirs[g], r);
      write_doc(path, &groups[g], r);
    }
  }
  /* a directory whose documents ran two placements */
  snprintf(dirs[4], sizeof dirs[4], "%s/mixed", tmpdir);
  mkdir(dirs[4], 0755);
  snprintf(path, sizeof path, "%.200s/r1.json", dirs[4]);
  write_doc(path, &groups[0], 1);
  snprintf(path, sizeof path, "%.200s/r2.json", dirs[4]);
  write_doc(path, &groups[1], 2);
  write_sweep("sweep-direct", "direct", "direct", 1000, false);
  write_sweep("sweep-agent", "agent", "agent", 5060, false);
  write_sweep("sweep-runtime", "runtime", "runtime", 6000, true);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tmpdir_remove();
  return 0;
}

static int rbench(char **log, ...) {
  char *argv[48] = {NULL};
  int n = 1;
  va_list ap;
  va_start(ap, log);
  for (const char *a; n < 47 && (a = va_arg(ap, const char *)) != NULL;) argv[n++] = (char *)a;
  va_end(ap);
  char *l = NULL;
  int rc = run_rbench(argv, NULL, 60000, &l);
  if (getenv("DEBUG_PRINT")) fprintf(stderr, "rbench %s -> %d:\n%s\n", argv[1], rc, l);
  *log = l;
  return rc;
}

static void test_compare_four_groups(void **state) {
  (void)state;
  char *log = NULL;
  assert_int_equal(rbench(&log, "compare", dirs[0], dirs[1], dirs[2], dirs[3], NULL), 0);
  assert_non_null(strstr(log, "groups: 4, baseline [1]; alpha 0.05, Holm-Bonferroni over the 3"));
  char want[400];
  snprintf(want, sizeof want, "[2] %s: runtime batching (C=8) (5 documents", dirs[1]);
  assert_non_null(strstr(log, want));
  assert_non_null(strstr(log, "9 0.391x!")); /* backend CPU/op 9 against 23 */
  assert_non_null(strstr(log, "23.5 1.02x~"));
  assert_non_null(strstr(log,
                         "headline (backend_cpu): runtime batching (C=8) cut backend CPU/op "
                         "2.6x (p=0.024) at +1 ms p50; the agent 1.3x (p=0.024) with no "
                         "significant p50 change (against direct; Holm-corrected over 3 "
                         "comparisons); no significant backend CPU/op difference: "
                         "nutcracker"));
  free(log);
  /* the baseline by index and by name give the same comparison */
  char *by_name = NULL;
  assert_int_equal(rbench(&log, "compare", dirs[0], dirs[1], dirs[2], "--baseline", "3", NULL), 0);
  assert_int_equal(
      rbench(&by_name, "compare", dirs[0], dirs[1], dirs[2], "--baseline", "the agent", NULL), 0);
  assert_non_null(strstr(log, "groups: 3, baseline [3]"));
  assert_non_null(strstr(log, "(against the agent; Holm-corrected over 2 comparisons)"));
  assert_string_equal(log, by_name);
  free(log);
  free(by_name);
  assert_int_equal(rbench(&log, "compare", dirs[0], dirs[1], "--baseline", "nope", NULL), 2);
  assert_non_null(strstr(log, "rbench compare: --baseline 'nope' names no group"));
  free(log);
  assert_int_equal(rbench(&log, "compare", dirs[0], dirs[1], "--objective", "latency", NULL), 2);
  assert_non_null(strstr(log, "--objective expects backend_cpu, p50, p99, throughput or "));
  free(log);
  /* objective p50: nothing beat direct */
  assert_int_equal(rbench(&log, "compare", dirs[0], dirs[1], dirs[2], "--objective", "p50", NULL),
                   0);
  assert_non_null(strstr(log,
                         "headline (p50): no group did significantly better than direct on "
                         "p50"));
  free(log);
}

static void test_compare_json(void **state) {
  (void)state;
  char *log = NULL;
  assert_int_equal(rbench(&log, "compare", dirs[0], dirs[1], dirs[2], "--json", NULL), 0);
  cJSON *j = cJSON_Parse(log);
  assert_non_null(j);
  assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "group_comparison");
  assert_string_equal(cJSON_GetObjectItem(j, "correction")->valuestring, "holm");
  assert_string_equal(cJSON_GetObjectItem(j, "objective")->valuestring, "backend_cpu");
  const cJSON *groups_j = cJSON_GetObjectItem(j, "groups");
  assert_int_equal(cJSON_GetArraySize(groups_j), 3);
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(groups_j, 1), "placement")->valuestring,
      "runtime batching (C=8)");
  assert_non_null(strstr(cJSON_GetObjectItem(j, "headline")->valuestring,
                         "runtime batching (C=8) cut backend CPU/op 2.6x (p=0.016)"));
  cJSON_Delete(j);
  free(log);
}

static void test_mixed_placements_refused(void **state) {
  (void)state;
  char *log = NULL;
  assert_int_equal(rbench(&log, "compare", dirs[4], dirs[1], dirs[2], NULL), 2);
  assert_non_null(strstr(log, "were run with different settings: placement: direct vs runtime"));
  free(log);
}

/* Two groups without --baseline or --objective: the two-sided table, as before. */
static void test_two_groups_unchanged(void **state) {
  (void)state;
  char *log = NULL;
  assert_int_equal(rbench(&log, "compare", dirs[0], dirs[2], NULL), 0);
  char want[300];
  snprintf(want, sizeof want, "A: %s (5 documents, 200 successful invocations)\n", dirs[0]);
  assert_non_null(strstr(log, want));
  assert_non_null(strstr(log, "metric                                A            B     change"));
  assert_non_null(strstr(log, "headline: batching cut Redis CPU per operation"));
  assert_null(strstr(log, "groups: "));
  free(log);
  /* with --objective, the N-way form for two */
  assert_int_equal(rbench(&log, "compare", dirs[0], dirs[2], "--objective", "backend_cpu", NULL),
                   0);
  assert_non_null(strstr(log, "groups: 2, baseline [1]; alpha 0.05\n"));
  assert_non_null(strstr(log,
                         "headline (backend_cpu): the agent cut backend CPU/op 1.3x "
                         "(p=0.0079)"));
  free(log);
}

static void test_report_three_groups(void **state) {
  (void)state;
  char *log = NULL, out[300];
  snprintf(out, sizeof out, "%s/report.html", tmpdir);
  assert_int_equal(rbench(&log, "report", dirs[0], dirs[1], dirs[2], "-o", out, NULL), 0);
  assert_non_null(strstr(log, "headline: runtime batching (C=8) cut backend CPU/op 2.6x"));
  free(log);
  char *html = read_text(out);
  assert_non_null(html);
  assert_non_null(strstr(html, "<span style=\"color:#1f77b4\">&#9632;</span> direct"));
  assert_non_null(strstr(html, "<span style=\"color:#6a3d9a\">&#9632;</span> runtime batching"));
  assert_non_null(strstr(html, "<span style=\"color:#d62728\">&#9632;</span> the agent"));
  assert_non_null(strstr(html, ">9 <small>0.391x!</small>"));
  assert_null(strstr(html, "<script")); /* self-contained */
  free(html);
  assert_int_equal(
      rbench(&log, "report", dirs[0], dirs[1], dirs[2], "--baseline", "x", "-o", out, NULL), 2);
  assert_non_null(strstr(log, "rbench report: --baseline 'x' names no group"));
  free(log);
}

static void test_sweeps(void **state) {
  (void)state;
  char *log = NULL, a[300], b[300], c[300];
  snprintf(a, sizeof a, "%s/sweep-direct", tmpdir);
  snprintf(b, sizeof b, "%s/sweep-agent", tmpdir);
  snprintf(c, sizeof c, "%s/sweep-runtime/sweep.json", tmpdir);
  assert_int_equal(rbench(&log, "compare", a, b, c, NULL), 0);
  assert_non_null(strstr(log, "sweeps: 3, baseline [1]"));
  assert_non_null(strstr(log, "5060/s"));
  assert_non_null(strstr(log, "5.06x"));
  assert_non_null(strstr(log, "at least 6.00x"));
  assert_non_null(strstr(log,
                         "headline (max_rate): runtime batching sustained at least 6.00x "
                         "direct's max rate (at least 6000/s); the agent 5.06x (5060/s)"));
  free(log);
  assert_int_equal(rbench(&log, "compare", a, b, c, "--baseline", "2", "--json", NULL), 0);
  cJSON *j = cJSON_Parse(log);
  assert_non_null(j);
  const cJSON *g0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "groups"), 0);
  assert_true(fabs(cJSON_GetObjectItem(g0, "ratio")->valuedouble - 1000.0 / 5060) < 1e-9);
  assert_string_equal(cJSON_GetObjectItem(g0, "ratio_bound")->valuestring, "exact");
  cJSON_Delete(j);
  free(log);
  /* a sweep among results documents */
  assert_int_equal(rbench(&log, "compare", a, b, dirs[0], NULL), 2);
  assert_non_null(strstr(log, "is not a sweep but"));
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compare_four_groups),      cmocka_unit_test(test_compare_json),
      cmocka_unit_test(test_mixed_placements_refused), cmocka_unit_test(test_two_groups_unchanged),
      cmocka_unit_test(test_report_three_groups),      cmocka_unit_test(test_sweeps),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
