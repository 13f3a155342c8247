/* test_job_report.c: the comparison table (significance marks, repetitions mode) and the
 * SVG/HTML renderer (log 1/(1-p) axis, one curve per run, escaping). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "job_cmd.h"
#include "job_compare.h"
#include "job_report.h"
#include "job_results.h"

/* A minimal results document: n successful invocations with execution time base + i*step. */
static cJSON *doc(const char *run, int rep, int reps, int n, double base, double step) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddNumberToObject(d, "schema_version", 1);
  cJSON *sc = cJSON_AddObjectToObject(d, "scenario");
  cJSON_AddStringToObject(sc, "run", run);
  cJSON_AddNumberToObject(sc, "repetition", rep);
  cJSON_AddNumberToObject(sc, "repetitions", reps);
  cJSON *params = cJSON_AddObjectToObject(sc, "parameters");
  cJSON_AddBoolToObject(params, "batching", strstr(run, "batch") != NULL);
  cJSON_AddNumberToObject(params, "rate", 10);
  cJSON *inv = cJSON_AddObjectToObject(d, "invocations");
  cJSON_AddNumberToObject(inv, "measured", n);
  int ok = 0; /* as the raw records say: the reader refuses counts that contradict them */
  for (int i = 0; i < n; i++) ok += i % 10 != 9 || reps > 1;
  cJSON_AddNumberToObject(inv, "succeeded", ok);
  cJSON_AddNumberToObject(d, "achieved_rate", 10);
  cJSON_AddNumberToObject(d, "requested_rate", 10);
  cJSON_AddNumberToObject(d, "success_rate", 1);
  cJSON *et = cJSON_AddObjectToObject(d, "execution_time_ms");
  cJSON_AddNumberToObject(et, "p50", base);
  cJSON *raw = cJSON_AddArrayToObject(d, "raw_results");
  for (int i = 0; i < n; i++) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "intended_ms", i * 100.0);
    cJSON_AddNumberToObject(r, "end_ms", i * 100.0 + base);
    cJSON_AddNumberToObject(r, "execution_time_ms", base + (i * 7 % n) * step);
    cJSON_AddBoolToObject(r, "success", i % 10 != 9 || reps > 1);
    cJSON_AddItemToArray(raw, r);
  }
  return d;
}

/* The backend sections (docs/results.md) of a results document: Redis figures per operation
 * and, when per_batch > 0, the agent's; backend_cpu_us_per_op is their sum. */
static void add_backend(cJSON *d, double redis_cpu, double cmds, double reads, double agent_cpu,
                        double per_batch) {
  cJSON *r = cJSON_AddObjectToObject(d, "redis");
  cJSON_AddStringToObject(r, "endpoint", "127.0.0.1:6379");
  cJSON_AddNumberToObject(r, "cpu_us_per_op", redis_cpu);
  cJSON_AddNumberToObject(r, "commands_per_op", cmds);
  cJSON_AddNumberToObject(r, "reads_per_op", reads);
  cJSON_AddNumberToObject(r, "writes_per_op", reads);
  cJSON_AddNumberToObject(r, "bytes_per_op", 85);
  cJSON_AddBoolToObject(r, "shared", false);
  if (per_batch > 0) {
    cJSON *a = cJSON_AddObjectToObject(d, "agent");
    cJSON_AddStringToObject(a, "endpoint", "http://127.0.0.1:9121/metrics");
    cJSON_AddNumberToObject(a, "cpu_us_per_op", agent_cpu);
    cJSON *cpb = cJSON_AddObjectToObject(a, "commands_per_batch");
    cJSON_AddNumberToObject(cpb, "mean", per_batch);
    cJSON_AddNumberToObject(cpb, "p50", per_batch);
    cJSON_AddNumberToObject(cpb, "p99", per_batch * 2);
  }
  cJSON_AddNumberToObject(d, "backend_cpu_us_per_op", redis_cpu + (per_batch > 0 ? agent_cpu : 0));
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

/* The printed table with every run of spaces squeezed to one, so tests read like the rows. */
static char *print_comparison(const struct job_side *a, const struct job_side *b,
                              const struct job_comparison *c) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_compare_print(f, a, b, c);
  fclose(f);
  if (getenv("DEBUG_PRINT")) fputs(out, stderr);
  char *w = out;
  for (const char *r = out; *r; r++)
    if (!(*r == ' ' && w > out && w[-1] == ' ')) *w++ = *r;
  *w = '\0';
  return out;
}

static const cJSON *json_row(const cJSON *j, const char *key) {
  const cJSON *r;
  cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "rows")) {
    if (!strcmp(cJSON_GetObjectItem(r, "key")->valuestring, key)) return r;
  }
  return NULL;
}

/* Loads reps documents per side: direct with Redis CPU per op dcpu + r, batched bcpu + r and
 * agent CPU per op acpu + r. */
static void load_sides_agent(struct job_side *a, struct job_side *b, int reps, int n, double dcpu,
                             double bcpu, double acpu, bool backend) {
  char err[200];
  job_side_init(a, "direct");
  job_side_init(b, "batched");
  for (int r = 1; r <= reps; r++) {
    cJSON *x = doc("direct", r, reps, n, 10 + r * 0.1, 0.01),
          *y = doc("batched", r, reps, n, 11 + r * 0.1, 0.01);
    if (backend) {
      add_backend(x, dcpu + r, 1.0, 1.0, 0, 0);
      add_backend(y, bcpu + r, 1.0, 0.2, acpu + r, 5.5);
    }
    assert_int_equal(job_side_add(a, x, err, sizeof err), RB_OK);
    assert_int_equal(job_side_add(b, y, err, sizeof err), RB_OK);
    cJSON_Delete(x);
    cJSON_Delete(y);
  }
}

static void load_sides(struct job_side *a, struct job_side *b, int reps, int n, double dcpu,
                       double bcpu, bool backend) {
  load_sides_agent(a, b, reps, n, dcpu, bcpu, 5, backend);
}

/* Issue 12 item 6: a p99 over fewer than 100 invocations is the maximum; it is marked, not
 * tested, and pooling the repetitions gives a real one. */
static void test_percentile_marking(void **state) {
  (void)state;
  struct job_side a, b;
  struct job_comparison c;
  load_sides(&a, &b, 1, 80, 0, 0, false);
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  const struct job_cmp_row *p99 = job_compare_row(&c, "execution_p99_ms");
  const struct job_cmp_row *p90 = job_compare_row(&c, "execution_p90_ms");
  const struct job_cmp_row *max = job_compare_row(&c, "execution_max_ms");
  assert_int_equal(p99->na, 72); /* 80 invocations, every tenth failed */
  assert_false(p99->reliable_a);
  assert_true(p99->a == max->a); /* what the row would have presented as a p99 */
  assert_int_equal(p99->test, JOB_TEST_NONE);
  assert_true(p90->reliable_a && p90->reliable_b);
  char *out = print_comparison(&a, &b, &c);
  char *line = strstr(out, "execution p99 (ms) ");
  assert_non_null(line);
  *strchr(line, '\n') = '\0';
  assert_int_equal(count(line, "*"), 2); /* both sides marked */
  assert_non_null(strstr(line, "% (no test, 72+72 invocations)"));
  line[strlen(line)] = '\n';
  assert_non_null(strstr(out, "the value is the sample"));
  assert_null(strstr(out, "p99 difference")); /* an interval of maxima is not shown */
  free(out);
  cJSON *j = job_compare_json(&a, &b, &c);
  const cJSON *jr = json_row(j, "execution_p99_ms");
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(jr, "reliable")));
  assert_int_equal(cJSON_GetObjectItem(jr, "samples_a")->valueint, 72);
  assert_int_equal(cJSON_GetObjectItem(jr, "min_samples")->valueint, 100);
  assert_null(cJSON_GetObjectItem(j, "p99_difference_ms"));
  cJSON_Delete(j);
  job_side_free(&a);
  job_side_free(&b);
  /* Five repetitions of 80 pool to 400 invocations: a p99 that is not the maximum. */
  load_sides(&a, &b, 5, 80, 0, 0, false);
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  p99 = job_compare_row(&c, "execution_p99_ms");
  max = job_compare_row(&c, "execution_max_ms");
  assert_int_equal(p99->na, 400);
  assert_true(p99->reliable_a && p99->reliable_b);
  assert_true(p99->a < max->a);
  assert_int_equal(p99->test, JOB_TEST_P99_CI);
  out = print_comparison(&a, &b, &c);
  assert_null(strstr(out, "* "));
  assert_non_null(strstr(out, "p99 difference"));
  free(out);
  job_side_free(&a);
  job_side_free(&b);
  assert_int_equal(job_quantile_min_samples(99), 100);
  assert_int_equal(job_quantile_min_samples(90), 10);
  assert_int_equal(job_quantile_min_samples(50), 2);
}

/* Issue 11: the backend rows, tested on the repetitions' values. */
static void test_compare_backend_rows(void **state) {
  (void)state;
  struct job_side a, b;
  struct job_comparison c;
  load_sides(&a, &b, 5, 50, 40, 8, true);
  assert_int_equal(a.batching, 0);
  assert_int_equal(b.batching, 1);
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  const struct job_cmp_row *cpu = job_compare_row(&c, "redis_cpu_us_per_op");
  assert_true(cpu->a == 43 && cpu->b == 11); /* medians of 41..45 and 9..13 */
  assert_int_equal(cpu->test, JOB_TEST_PER_DOC_MWU);
  assert_true(fabs(cpu->p - 2.0 / 252.0) < 1e-12); /* complete separation, 5 + 5 */
  assert_true(cpu->significant);
  const struct job_cmp_row *cmds = job_compare_row(&c, "redis_commands_per_op");
  assert_false(cmds->significant); /* equal on both sides */
  const struct job_cmp_row *agent = job_compare_row(&c, "agent_cpu_us_per_op");
  assert_true(isnan(agent->a));
  assert_string_equal(agent->why_a, "direct run: no agent");
  assert_true(agent->b == 8);
  assert_int_equal(agent->test, JOB_TEST_NONE);
  const struct job_cmp_row *per_batch = job_compare_row(&c, "commands_per_batch");
  assert_true(per_batch->b == 5.5);
  const struct job_cmp_row *backend = job_compare_row(&c, "backend_cpu_us_per_op");
  assert_true(backend->a == 43 && backend->b == 19);
  assert_non_null(job_compare_row(&c, "redis_reads_per_op"));
  assert_non_null(job_compare_row(&c, "redis_bytes_per_op"));
  char *out = print_comparison(&a, &b, &c);
  assert_non_null(strstr(out, "Redis CPU/op (us) 43 11 -74.4% (U test on 5+5 repetitions)"));
  assert_non_null(strstr(out, "Redis commands/op 1 1 ~ (U test on 5+5 repetitions)"));
  assert_non_null(strstr(out, "agent CPU/op (us) n/a 8 -\n"));
  assert_non_null(
      strstr(out, "n/a in A (agent CPU/op (us), commands per batch): direct run: no agent"));
  free(out);
  cJSON *j = job_compare_json(&a, &b, &c);
  const cJSON *jr = json_row(j, "redis_cpu_us_per_op");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(jr, "significant")));
  assert_int_equal(cJSON_GetObjectItem(jr, "samples_a")->valueint, 5);
  jr = json_row(j, "agent_cpu_us_per_op");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(jr, "a")));
  assert_string_equal(cJSON_GetObjectItem(jr, "a_unavailable")->valuestring,
                      "direct run: no agent");
  assert_non_null(strstr(cJSON_GetObjectItem(j, "headline")->valuestring,
                         "cut Redis CPU per operation 3.91x (p=0.0079)"));
  cJSON_Delete(j);
  job_side_free(&a);
  job_side_free(&b);
}

/* issue 20: the operations section of a document (get latencies of base_us + 0..99 us) and
 * its workload parameters. */
static void add_ops(cJSON *d, const char *mix, int base_us) {
  struct job_hist *h = job_hist_create();
  for (int i = 0; i < 100; i++) job_hist_record(h, (uint64_t)(base_us + i));
  cJSON *ops = cJSON_AddObjectToObject(d, "operations");
  cJSON *g = cJSON_AddObjectToObject(ops, "get");
  cJSON_AddNumberToObject(g, "succeeded", 100);
  cJSON_AddNumberToObject(g, "failed", 0);
  cJSON_AddItemToObject(g, "latency_ms", job_results_hist_summary(h));
  cJSON_AddItemToObject(g, "histogram", job_hist_to_json(h));
  job_hist_destroy(h);
  cJSON *params = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "scenario"), "parameters");
  cJSON_AddStringToObject(params, "mix", mix);
  cJSON_AddStringToObject(params, "key_distribution", "zipfian");
  cJSON_AddNumberToObject(params, "key_space", 1000);
}

/* Rows per operation type: p50 and p99 of the pooled histograms; with repetitions on both
 * sides tested on the per-repetition values, with one a side descriptive only (said so); the
 * workload printed beside the table, once when both sides ran the same. */
static void test_compare_operation_rows(void **state) {
  (void)state;
  char err[200];
  for (int reps = 1; reps <= 5; reps += 4) {
    struct job_side a, b;
    job_side_init(&a, "direct");
    job_side_init(&b, "batched");
    for (int r = 1; r <= reps; r++) {
      cJSON *x = doc("direct", r, reps, 50, 10, 0.01), *y = doc("batched", r, reps, 50, 11, 0.01);
      add_ops(x, "get:80,set:20", 1000 + r);
      add_ops(y, "get:80,set:20", 3000 + r);
      assert_int_equal(job_side_add(&a, x, err, sizeof err), RB_OK);
      assert_int_equal(job_side_add(&b, y, err, sizeof err), RB_OK);
      cJSON_Delete(x);
      cJSON_Delete(y);
    }
    struct job_comparison c;
    assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
    const struct job_cmp_row *p50 = job_compare_row(&c, "op_get_p50_ms");
    const struct job_cmp_row *p99 = job_compare_row(&c, "op_get_p99_ms");
    assert_non_null(p50);
    assert_non_null(p99);
    assert_null(job_compare_row(&c, "op_set_p50_ms")); /* no section for set */
    assert_true(c.op_rows);
    /* pooled: reps x 100 values from 1001 (+ r) */
    assert_true(fabs(p50->a - (1049 + (reps + 1) / 2) / 1000.0) < 0.0015);
    assert_true(p50->b > 3.0 && p50->b < 3.2);
    assert_int_equal(p50->na, reps);
    if (reps == 1) {
      assert_int_equal(p50->test, JOB_TEST_NONE);
      assert_true(c.op_descriptive);
    } else {
      assert_int_equal(p50->test, JOB_TEST_PER_DOC_MWU);
      assert_true(p50->significant && p99->significant);
      assert_false(c.op_descriptive);
    }
    char *out = print_comparison(&a, &b, &c);
    assert_non_null(
        strstr(out,
               "workload: mix set:20,get:80; keys zipfian (s 0.99) over 1000; values 64 B; arrival "
               "constant\n"));
    assert_non_null(strstr(out, "get p50 (ms)"));
    assert_non_null(strstr(out, reps == 1 ? "descriptive only" : "tested on the per-repetition"));
    free(out);
    job_side_free(&a);
    job_side_free(&b);
  }
  /* different workloads: both printed */
  struct job_side a, b;
  job_side_init(&a, "a");
  job_side_init(&b, "b");
  cJSON *x = doc("direct", 1, 1, 50, 10, 0.01), *y = doc("batched", 1, 1, 50, 11, 0.01);
  add_ops(x, "get:80,set:20", 1000);
  add_ops(y, "get:1", 1000);
  assert_int_equal(job_side_add(&a, x, err, sizeof err), RB_OK);
  assert_int_equal(job_side_add(&b, y, err, sizeof err), RB_OK);
  struct job_comparison c;
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  char *out = print_comparison(&a, &b, &c);
  assert_non_null(strstr(out, "workload A: mix set:20,get:80;"));
  assert_non_null(strstr(out, "workload B: mix get:1;"));
  free(out);
  cJSON *j = job_compare_json(&a, &b, &c);
  assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "b"), "workload")->valuestring,
                         "mix get:1;"));
  assert_non_null(json_row(j, "op_get_p99_ms"));
  cJSON_Delete(j);
  /* the report: the workload beside the headline, the operation rows in its table */
  struct job_report_run runs[2];
  assert_int_equal(job_report_run_init(&runs[0], x, err, sizeof err), RB_OK);
  assert_int_equal(job_report_run_init(&runs[1], y, err, sizeof err), RB_OK);
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  struct job_report_headline h;
  assert_int_equal(job_report_headline_compute(runs, 2, NULL, &h), RB_OK);
  job_report_html(f, runs, 2, NULL, 0, &h);
  fclose(f);
  assert_non_null(strstr(out, "<p class=\"note\">Workload: A: mix set:20,get:80;"));
  assert_non_null(strstr(out, "<td>get p50 (ms)</td>"));
  assert_non_null(strstr(out, "Per-operation rows"));
  assert_non_null(strstr(out,
                         "<tr><th>workload</th><td class=\"l\">mix set:20,get:80; keys "
                         "zipfian (s 0.99) over 1000"));
  free(out);
  job_report_headline_free(&h);
  job_report_run_free(&runs[0]);
  job_report_run_free(&runs[1]);
  cJSON_Delete(x);
  cJSON_Delete(y);
  job_side_free(&a);
  job_side_free(&b);
}

/* Unavailable or missing sections give n/a and the reason, never 0. */
/* Issue 20: how bursty the arrivals were asked to be and were sent, per side, when the
 * documents carry an arrival section; no such rows without one. */
static void test_compare_arrival_rows(void **state) {
  (void)state;
  char err[200];
  struct job_side a, b;
  job_side_init(&a, "constant");
  job_side_init(&b, "poisson");
  cJSON *x = doc("constant", 1, 1, 50, 10, 0.01), *y = doc("poisson", 1, 1, 50, 10, 0.01);
  cJSON *ax = cJSON_AddObjectToObject(x, "arrival"), *ay = cJSON_AddObjectToObject(y, "arrival");
  cJSON_AddStringToObject(ax, "process", "constant");
  cJSON_AddNumberToObject(ax, "intended_cv", 0);
  cJSON_AddNumberToObject(ax, "realised_cv", 0.05);
  cJSON_AddStringToObject(ay, "process", "poisson");
  cJSON_AddNumberToObject(ay, "intended_cv", 0.98);
  cJSON_AddNumberToObject(ay, "realised_cv", 0.97);
  assert_int_equal(job_side_add(&a, x, err, sizeof err), RB_OK);
  assert_int_equal(job_side_add(&b, y, err, sizeof err), RB_OK);
  struct job_comparison c;
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  const struct job_cmp_row *ri = job_compare_row(&c, "arrival_intended_cv");
  const struct job_cmp_row *rr = job_compare_row(&c, "arrival_realised_cv");
  assert_non_null(ri);
  assert_non_null(rr);
  assert_true(ri->a == 0 && ri->b == 0.98);
  assert_true(rr->a == 0.05 && rr->b == 0.97);
  job_side_free(&a);
  job_side_free(&b);
  cJSON_Delete(x);
  cJSON_Delete(y);
  /* documents without the section: no rows */
  load_sides(&a, &b, 1, 20, 10, 5, false);
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  assert_null(job_compare_row(&c, "arrival_intended_cv"));
  job_side_free(&a);
  job_side_free(&b);
}

static void test_compare_unavailable(void **state) {
  (void)state;
  char err[200], why[200];
  struct job_side a, b;
  job_side_init(&a, "old");
  job_side_init(&b, "unreachable");
  cJSON *x = doc("direct", 1, 1, 50, 10, 0.01), *y = doc("batched", 1, 1, 50, 10, 0.01);
  cJSON *r = cJSON_AddObjectToObject(y, "redis");
  cJSON_AddStringToObject(r, "endpoint", "10.0.0.1:6379");
  cJSON_AddStringToObject(r, "unavailable", "connect: connection refused");
  cJSON *ag = cJSON_AddObjectToObject(y, "agent");
  cJSON_AddNullToObject(ag, "endpoint");
  cJSON_AddStringToObject(ag, "unavailable", "BATCHING_AGENT_METRICS_URL is not set");
  cJSON_AddNullToObject(y, "backend_cpu_us_per_op");
  assert_true(isnan(job_doc_metric_value(y, JOB_DM_REDIS_CPU, why, sizeof why)));
  assert_string_equal(why, "redis unavailable: connect: connection refused");
  assert_true(isnan(job_doc_metric_value(y, JOB_DM_BACKEND_CPU, why, sizeof why)));
  assert_string_equal(why, "redis unavailable: connect: connection refused");
  assert_true(isnan(job_doc_metric_value(x, JOB_DM_REDIS_CPU, why, sizeof why)));
  assert_string_equal(why, "no redis section in the document");
  /* A counter that went backwards: null with the sampler's note. */
  cJSON *z = doc("direct", 1, 1, 10, 10, 0.01);
  add_backend(z, 1, 1, 1, 0, 0);
  cJSON *zr = cJSON_GetObjectItem(z, "redis");
  cJSON_ReplaceItemInObject(zr, "cpu_us_per_op", cJSON_CreateNull());
  cJSON_AddStringToObject(zr, "note", "used_cpu_sys went backwards: Redis restarted");
  assert_true(isnan(job_doc_metric_value(z, JOB_DM_REDIS_CPU, why, sizeof why)));
  assert_string_equal(why,
                      "redis.cpu_us_per_op is null (used_cpu_sys went backwards: Redis restarted)");
  assert_true(job_doc_metric_value(z, JOB_DM_REDIS_COMMANDS, why, sizeof why) == 1);
  cJSON_Delete(z);
  assert_int_equal(job_side_add(&a, x, err, sizeof err), RB_OK);
  assert_int_equal(job_side_add(&b, y, err, sizeof err), RB_OK);
  struct job_comparison c;
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  char *out = print_comparison(&a, &b, &c);
  assert_non_null(strstr(out, "Redis CPU/op (us) n/a n/a -\n"));
  assert_non_null(strstr(out, "redis unavailable: connect: connection refused"));
  assert_non_null(strstr(out, "agent unavailable: BATCHING_AGENT_METRICS_URL is not set"));
  assert_non_null(strstr(out, "no redis section in the document"));
  free(out);
  cJSON *j = job_compare_json(&a, &b, &c);
  const cJSON *jr = json_row(j, "redis_cpu_us_per_op");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(jr, "b")));
  assert_null(cJSON_GetObjectItem(jr, "significant"));
  assert_non_null(strstr(cJSON_GetObjectItem(j, "headline")->valuestring,
                         "Redis CPU per operation was not measured"));
  cJSON_Delete(j);
  job_side_free(&a);
  job_side_free(&b);
  cJSON_Delete(x);
  cJSON_Delete(y);
}

static void headline_for(int reps, double dcpu, double bcpu, char *buf, size_t len) {
  struct job_side a, b;
  struct job_comparison c;
  load_sides(&a, &b, reps, 50, dcpu, bcpu, true);
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  job_compare_headline(&c, buf, len);
  job_side_free(&a);
  job_side_free(&b);
}

/* The sentence stays true whichever way the figures go. */
static void test_headline_sentence(void **state) {
  (void)state;
  char h[512];
  headline_for(5, 40, 8, h, sizeof h); /* batching better on CPU, 0.1 ms slower everywhere */
  assert_string_equal(
      h, "batching cut Redis CPU per operation 3.91x (p=0.0079) and added 1 ms at p50 (p=0.0079)");
  headline_for(5, 8, 40, h, sizeof h); /* batching worse */
  assert_string_equal(
      h,
      "batching raised Redis CPU per operation 3.91x (p=0.0079) and added 1 ms at p50 (p=0.0079)");
  headline_for(5, 40, 32.5, h, sizeof h); /* overlapping: 41..45 against 33.5..37.5 + agent... */
  assert_non_null(strstr(h, "batching cut Redis CPU per operation"));
  headline_for(5, 10, 9.5, h,
               sizeof h); /* 11..15 against 10.5..14.5: interleaved, not significant */
  assert_non_null(strstr(
      h, "batching made no significant difference to Redis CPU per operation (1.04x lower, p="));
  headline_for(1, 40, 8, h, sizeof h); /* one repetition a side cannot be tested */
  assert_non_null(strstr(
      h, "batching lowered Redis CPU per operation 4.56x on too few repetitions to test (1+1)"));
}

/* A closed loop at N in flight: "mode": "closed", parameters.concurrency N, a throughput. */
static void make_closed(cJSON *d, int n, double throughput) {
  cJSON_AddStringToObject(d, "mode", "closed");
  cJSON_AddNumberToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "scenario"), "parameters"),
                          "concurrency", n);
  cJSON_AddNumberToObject(d, "throughput", throughput);
}

/* Closed-loop sides: the mode is detected, and the sentence says what throughput did at that
 * concurrency; an open side against a closed one is "mixed" and gets no throughput clause. */
static void test_headline_closed_loop(void **state) {
  (void)state;
  char err[200], h[512];
  struct job_side a, b;
  struct job_comparison c;
  job_side_init(&a, "direct");
  job_side_init(&b, "batched");
  for (int r = 1; r <= 5; r++) {
    cJSON *x = doc("direct", r, 5, 50, 10 + r * 0.1, 0.01),
          *y = doc("batched", r, 5, 50, 11 + r * 0.1, 0.01);
    add_backend(x, 40 + r, 1.0, 1.0, 0, 0);
    add_backend(y, 8 + r, 1.0, 0.2, 5 + r, 5.5);
    make_closed(x, 32, 1000 + r);
    make_closed(y, 32, 3000 + r);
    assert_int_equal(job_side_add(&a, x, err, sizeof err), RB_OK);
    assert_int_equal(job_side_add(&b, y, err, sizeof err), RB_OK);
    cJSON_Delete(x);
    cJSON_Delete(y);
  }
  assert_int_equal(a.concurrency, 32);
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  assert_int_equal(c.concurrency, 32);
  job_compare_headline(&c, h, sizeof h);
  assert_string_equal(
      h,
      "batching cut Redis CPU per operation 3.91x (p=0.0079) and added 1 ms at p50 (p=0.0079); "
      "with 32 invocations in flight (closed loop) it raised throughput 2.99x (p=0.0079)");
  cJSON *j = job_compare_json(&a, &b, &c);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "a"), "mode")->valuestring,
                      "closed");
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "b"), "concurrency")->valueint, 32);
  cJSON_Delete(j);
  /* Open-loop documents (no "mode") added to A: mixed, no throughput clause. */
  cJSON *x = doc("direct", 6, 6, 50, 10, 0.01);
  add_backend(x, 41, 1.0, 1.0, 0, 0);
  assert_int_equal(job_side_add(&a, x, err, sizeof err), RB_OK);
  cJSON_Delete(x);
  assert_int_equal(a.concurrency, -1);
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  job_compare_headline(&c, h, sizeof h);
  assert_null(strstr(h, "closed loop"));
  job_side_free(&a);
  job_side_free(&b);
}

static void test_compare_single_documents(void **state) {
  (void)state;
  struct job_side a, b;
  char err[200];
  job_side_init(&a, "direct");
  job_side_init(&b, "batched");
  cJSON *da = doc("direct", 1, 1, 200, 10, 0.05), *db = doc("batched", 1, 1, 200, 6, 0.05);
  assert_int_equal(job_side_add(&a, da, err, sizeof err), RB_OK);
  assert_int_equal(job_side_add(&b, db, err, sizeof err), RB_OK);
  assert_int_equal(a.n, 180); /* failures are left out of latency samples */
  struct job_comparison c;
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  assert_false(c.mwu_on_medians);
  assert_true(c.mwu.p < 0.001);
  assert_true(c.rows[0].significant);
  assert_true(c.rows[0].b < c.rows[0].a);
  assert_true(c.median_diff.hi < 0); /* B is faster: the whole interval is negative */
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_compare_print(f, &a, &b, &c);
  fclose(f);
  assert_non_null(strstr(out, "execution p50 (ms)"));
  assert_non_null(strstr(out, "significant at alpha 0.05"));
  assert_non_null(strstr(out, "%"));
  free(out);
  /* The same data on both sides: nothing is significant, "~" is printed. */
  struct job_side a2;
  job_side_init(&a2, "again");
  job_side_add(&a2, da, err, sizeof err);
  assert_int_equal(job_compare_compute(&a, &a2, 0.05, 1, &c), RB_OK);
  assert_false(c.rows[0].significant);
  f = open_memstream(&out, &len);
  job_compare_print(f, &a, &a2, &c);
  fclose(f);
  assert_non_null(strstr(out, "~  (U test on 180+180 invocations)"));
  free(out);
  cJSON *j = job_compare_json(&a, &a2, &c);
  assert_true(
      cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "mann_whitney"), "significant")));
  cJSON_Delete(j);
  job_side_free(&a2);
  job_side_free(&a);
  job_side_free(&b);
  cJSON_Delete(da);
  cJSON_Delete(db);
  /* Not a results document. */
  cJSON *junk = cJSON_CreateObject();
  job_side_init(&a, "x");
  assert_int_equal(job_side_add(&a, junk, err, sizeof err), RB_ERR_INVALID);
  job_side_free(&a);
  cJSON_Delete(junk);
}

static void test_compare_repetitions_use_medians(void **state) {
  (void)state;
  struct job_side a, b;
  char err[200];
  job_side_init(&a, "A");
  job_side_init(&b, "B");
  for (int r = 1; r <= 4; r++) {
    cJSON *x = doc("A", r, 4, 50, 10 + r, 0.01), *y = doc("B", r, 4, 50, 20 + r, 0.01);
    job_side_add(&a, x, err, sizeof err);
    job_side_add(&b, y, err, sizeof err);
    cJSON_Delete(x);
    cJSON_Delete(y);
  }
  struct job_comparison c;
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  assert_true(c.mwu_on_medians);
  assert_int_equal(c.mwu.n1, 4);
  assert_true(c.mwu.exact);
  assert_true(fabs(c.mwu.p - 2.0 / 70.0) < 1e-12); /* complete separation, n = 4 + 4 */
  job_side_free(&a);
  job_side_free(&b);
}

static void test_percentile_axis(void **state) {
  (void)state;
  assert_true(job_report_pct_x(0) == 0);
  assert_true(fabs(job_report_pct_x(90) - 1) < 1e-12);
  assert_true(fabs(job_report_pct_x(99) - 2) < 1e-12);
  assert_true(fabs(job_report_pct_x(99.9) - 3) < 1e-9);
  assert_true(isinf(job_report_pct_x(100)));
  assert_int_equal(job_plot_parse("latency"), JOB_PLOT_LATENCY);
  assert_int_equal(job_plot_parse("pie"), -1);
}

static void test_run_colors_by_group(void **state) {
  (void)state;
  /* Interleaved repetitions: every repetition of a run shares its colour, runs differ, and
   * the colour does not depend on how many repetitions came before. */
  static const char *const groups[] = {"direct", "batched", "direct",   "batched",
                                       "direct", "batched", "direct",   "batched",
                                       "direct", "batched", "coalesced"};
  struct job_report_run runs[11];
  memset(runs, 0, sizeof runs);
  for (size_t i = 0; i < 11; i++) snprintf(runs[i].group, sizeof runs[i].group, "%s", groups[i]);
  const char *direct = job_report_run_color(runs, 0);
  const char *batched = job_report_run_color(runs, 1);
  const char *coalesced = job_report_run_color(runs, 10);
  assert_string_not_equal(direct, batched);
  assert_string_not_equal(direct, coalesced);
  assert_string_not_equal(batched, coalesced);
  for (size_t i = 0; i < 10; i++)
    assert_string_equal(job_report_run_color(runs, i), i % 2 ? batched : direct);
}

/* Completions per second: the last reply's second is covered only in part, so it is a rate
 * over that part (a count would draw a drop to near zero at every run's end), or left out
 * when under a quarter of a second. One invocation every 100 ms, replies 5 ms later. */
static void test_last_second_is_a_rate(void **state) {
  (void)state;
  struct job_report_run r;
  char err[200];
  cJSON *d = doc("direct", 1, 1, 25, 5, 0.01); /* last reply at 2.405 s: second 2, 0.405 s of it */
  assert_int_equal(job_report_run_init(&r, d, err, sizeof err), RB_OK);
  assert_int_equal(r.rate_seconds, 3);
  assert_true(r.sec_ok[1] == 9 && r.sec_err[1] == 1); /* whole second: a count */
  assert_true(fabs(r.sec_ok[2] - 5 / 0.405) < 1e-9);  /* 5 replies in 0.405 s */
  job_report_run_free(&r);
  cJSON_Delete(d);
  d = doc("direct", 1, 1, 21, 5, 0.01); /* last reply at 2.005 s: 5 ms of second 2 */
  assert_int_equal(job_report_run_init(&r, d, err, sizeof err), RB_OK);
  assert_int_equal(r.rate_seconds, 2);
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_report_svg(f, JOB_PLOT_THROUGHPUT, &r, 1);
  fclose(f);
  assert_int_equal(count(out, "<polyline"), 1);
  free(out);
  job_report_run_free(&r);
  cJSON_Delete(d);
}

static void test_svg_and_html(void **state) {
  (void)state;
  cJSON *d1 = doc("direct <&>", 1, 1, 1000, 5, 0.01), *d2 = doc("batched", 1, 1, 1000, 3, 0.01);
  struct job_report_run runs[2];
  char err[200];
  assert_int_equal(job_report_run_init(&runs[0], d1, err, sizeof err), RB_OK);
  assert_int_equal(job_report_run_init(&runs[1], d2, err, sizeof err), RB_OK);
  assert_int_equal(runs[0].n, 900);
  assert_int_equal(runs[0].seconds, 100);
  assert_true(runs[0].sec_err[9] == 1); /* the failure at i = 99 ended in second 9 */
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_report_svg(f, JOB_PLOT_PERCENTILES, runs, 2);
  fclose(f);
  assert_int_equal(count(out, "<svg"), 1);
  assert_int_equal(count(out, "<polyline"), 2); /* one curve per run */
  assert_non_null(strstr(out, ">99.9%<"));      /* 1000 samples reach the 99.9% tick */
  assert_non_null(strstr(out, "direct &lt;&amp;&gt;"));
  assert_null(strstr(out, "direct <&>"));
  free(out);
  f = open_memstream(&out, &len);
  struct job_report_headline h;
  assert_int_equal(job_report_headline_compute(runs, 2, NULL, &h), RB_OK);
  job_report_html(f, runs, 2, NULL, 0, &h);
  job_report_headline_free(&h);
  fclose(f);
  assert_true(strncmp(out, "<!DOCTYPE html>", 15) == 0);
  assert_int_equal(count(out, "<svg"), 4);
  assert_int_equal(count(out, "<polyline"), 2 + 4 + 2 + 2); /* latency has p50 and p99 */
  assert_null(strstr(out, "<script"));
  assert_null(strstr(out, "http://") == NULL ? NULL : strstr(out, "src=\"http"));
  free(out);
  job_report_run_free(&runs[0]);
  job_report_run_free(&runs[1]);
  cJSON_Delete(d1);
  cJSON_Delete(d2);
}

static void write_json(const char *path, const cJSON *d) {
  char *t = cJSON_PrintUnformatted(d);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(t, f);
  fclose(f);
  cJSON_free(t);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

/* A sweep summary as the contract gives it (i11-contract.md). */
static cJSON *sweep_doc(const char *run, double max_rate) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddNumberToObject(d, "schema_version", 1);
  cJSON_AddStringToObject(d, "kind", "sweep");
  cJSON_AddStringToObject(d, "run", run);
  cJSON *slo = cJSON_AddObjectToObject(d, "slo");
  cJSON_AddNumberToObject(slo, "p99_ms", 50);
  cJSON *steps = cJSON_AddArrayToObject(d, "steps");
  for (double rate = 50; rate <= max_rate * 2; rate *= 2) {
    cJSON *st = cJSON_CreateObject();
    cJSON_AddNumberToObject(st, "rate", rate);
    cJSON_AddNumberToObject(st, "achieved_rate", rate * 0.99);
    cJSON_AddNumberToObject(st, "p50_ms", 2);
    cJSON_AddNumberToObject(st, "p99_ms", rate <= max_rate ? 10 : 80);
    cJSON_AddBoolToObject(st, "met_slo", rate <= max_rate);
    cJSON_AddItemToArray(steps, st);
  }
  cJSON_AddNumberToObject(d, "max_sustainable_rate", max_rate);
  return d;
}

/* Issue 12 item 5: `rbench report DIR` finds DIR/RUN/rK.json (what `rbench run` writes with
 * repetitions) and sweep summaries below it; a stray JSON file found there is skipped. */
static void test_report_recurses(void **state) {
  (void)state;
  char dir[] = "/tmp/rbench-report-XXXXXX", path[300], out[300];
  assert_non_null(mkdtemp(dir));
  const char *const runs[] = {"direct", "batched"};
  for (int m = 0; m < 2; m++) {
    snprintf(path, sizeof path, "%s/%s", dir, runs[m]);
    assert_int_equal(mkdir(path, 0700), 0);
    for (int r = 1; r <= 5; r++) {
      cJSON *d = doc(runs[m], r, 5, 40, 10 + m + r * 0.1, 0.01);
      add_backend(d, m ? 10 + r : 40 + r, 1, m ? 0.2 : 1, 5, m ? 4 : 0);
      snprintf(path, sizeof path, "%s/%s/r%d.json", dir, runs[m], r);
      write_json(path, d);
      cJSON_Delete(d);
    }
    snprintf(path, sizeof path, "%s/sweep-%s", dir, runs[m]);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sweep-%s/sweep.json", dir, runs[m]);
    cJSON *sw = sweep_doc(runs[m], m ? 400 : 200);
    write_json(path, sw);
    cJSON_Delete(sw);
  }
  snprintf(path, sizeof path, "%s/direct/compare.json", dir);
  cJSON *junk = cJSON_CreateObject();
  write_json(path, junk);
  cJSON_Delete(junk);
  snprintf(out, sizeof out, "%s/report.html", dir);
  char name[] = "report", o[] = "-o";
  char *argv[] = {name, dir, o, out, NULL};
  assert_int_equal(job_cmd_report(4, argv), 0);
  const char *html = slurp(out);
  assert_non_null(strstr(html, "batched r5"));
  assert_non_null(strstr(html, "direct r1"));
  assert_non_null(strstr(html, "Batching cut Redis CPU per operation"));
  assert_non_null(strstr(html, "Latency against load"));
  assert_non_null(strstr(html, "<td>400</td>")); /* batched's max sustainable rate */
  assert_null(strstr(html, "<script"));
  /* The same report from the run directories named one by one. */
  char d1[300], d2[300];
  snprintf(d1, sizeof d1, "%s/direct", dir);
  snprintf(d2, sizeof d2, "%s/batched", dir);
  char *argv2[] = {name, d1, d2, o, out, NULL};
  assert_int_equal(job_cmd_report(5, argv2), 0);
  /* A directory without results is an error naming it. */
  snprintf(path, sizeof path, "%s/empty", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  char *argv3[] = {name, path, o, out, NULL};
  assert_int_not_equal(job_cmd_report(4, argv3), 0);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* The report's page: headline first, then settings, distributions, repetitions last. */
static void test_report_page_order(void **state) {
  (void)state;
  cJSON *docs[4];
  struct job_report_run runs[4];
  char err[200];
  for (int i = 0; i < 4; i++) {
    docs[i] = doc(i % 2 ? "batched" : "direct", i / 2 + 1, 2, 120, 10 + i % 2, 0.01);
    if (i % 2) add_backend(docs[i], 10, 1, 0.2, 5, 4);
    assert_int_equal(job_report_run_init(&runs[i], docs[i], err, sizeof err), RB_OK);
  }
  struct job_report_headline h;
  assert_int_equal(job_report_headline_compute(runs, 4, NULL, &h), RB_OK);
  assert_true(h.have);
  assert_string_equal(h.direct, "direct");
  assert_string_equal(h.batched, "batched");
  assert_int_equal(h.a.docs, 2);
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_report_html(f, runs, 4, NULL, 0, &h);
  fclose(f);
  const char *head = strstr(out, "class=\"headline\"");
  const char *settings = strstr(out, "<h2>Settings");
  const char *dist = strstr(out, "<h2>Distributions");
  const char *reps = strstr(out, "<h2>Repetitions");
  assert_non_null(head);
  assert_true(head < settings && settings < dist && dist < reps);
  assert_null(strstr(out, "Latency against load")); /* no sweep, no curve */
  assert_non_null(
      strstr(out, "Redis CPU per operation was not measured (no redis section in the document)"));
  assert_non_null(strstr(out, "title=\"direct run: no agent\">n/a"));
  free(out);
  job_report_headline_free(&h);
  /* Which side is direct comes from the batching parameter, not the order. */
  struct job_report_run swapped[2] = {runs[1], runs[0]};
  assert_int_equal(job_report_headline_compute(swapped, 2, NULL, &h), RB_OK);
  assert_string_equal(h.direct, "direct");
  job_report_headline_free(&h);
  /* Only batched runs: no headline, and it says why. */
  struct job_report_run only[2] = {runs[1], runs[3]};
  assert_int_equal(job_report_headline_compute(only, 2, NULL, &h), RB_OK);
  assert_false(h.have);
  assert_non_null(strstr(h.sentence, "no direct and batched runs to compare (0 direct, 2 batched"));
  job_report_headline_free(&h);
  for (int i = 0; i < 4; i++) {
    job_report_run_free(&runs[i]);
    cJSON_Delete(docs[i]);
  }
}

/* ---- issue 18 item 4: what the headline and tables say ------------------------------------ */

/* The HTML page of runs made from docs (borrowed), with the headline; caller frees. */
static char *page_of(cJSON **docs, size_t n, const cJSON *const *sweeps, size_t nsweeps) {
  struct job_report_run runs[16];
  char err[200];
  for (size_t i = 0; i < n; i++)
    assert_int_equal(job_report_run_init(&runs[i], docs[i], err, sizeof err), RB_OK);
  struct job_report_headline h;
  assert_int_equal(job_report_headline_compute(runs, n, NULL, &h), RB_OK);
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_report_html(f, runs, n, sweeps, nsweeps, &h);
  fclose(f);
  job_report_headline_free(&h);
  for (size_t i = 0; i < n; i++) job_report_run_free(&runs[i]);
  if (getenv("DEBUG_PRINT")) fputs(out, stderr);
  return out;
}

/* Redis CPU/op falls 2.5x while the agent's CPU makes backend CPU/op (Redis + agent) rise
 * 1.63x: the sentence states both sides of the trade, then latency. */
static void test_headline_both_sides_of_the_trade(void **state) {
  (void)state;
  char h[1024];
  struct job_side a, b;
  struct job_comparison c;
  load_sides_agent(&a, &b, 5, 50, 40, 14, 50, true);
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  job_compare_headline(&c, h, sizeof h);
  assert_string_equal(
      h,
      "batching cut Redis CPU per operation 2.53x (p=0.0079) but raised backend CPU per operation "
      "(Redis + agent) 1.63x (p=0.0079), and added 1 ms at p50 (p=0.0079)");
  /* compare's text output ends with the same sentence */
  char *out = print_comparison(&a, &b, &c);
  assert_non_null(strstr(
      out, "headline: batching cut Redis CPU per operation 2.53x (p=0.0079) but raised backend"));
  free(out);
  job_side_free(&a);
  job_side_free(&b);
}

/* A difference the test detects but too small to matter: 0.15% more throughput in a closed
 * loop is "detectable but negligible", in the table, the JSON, the sentence and the report;
 * --min-change sets the threshold per metric or for all. */
static void test_detectable_but_negligible(void **state) {
  (void)state;
  char err[300], h[1024];
  struct job_side a, b;
  struct job_comparison c;
  cJSON *docs[10];
  job_side_init(&a, "direct");
  job_side_init(&b, "batched");
  for (int r = 1; r <= 5; r++) {
    cJSON *x = doc("direct", r, 5, 50, 10 + r * 0.1, 0.01),
          *y = doc("batched", r, 5, 50, 11 + r * 0.1, 0.01);
    add_backend(x, 40 + r, 1.0, 1.0, 0, 0);
    add_backend(y, 8 + r, 1.0, 0.2, 5 + r, 5.5);
    make_closed(x, 32, 1000 + r * 0.01);
    make_closed(y, 32, 1001.5 + r * 0.01);
    assert_int_equal(job_side_add(&a, x, err, sizeof err), RB_OK);
    assert_int_equal(job_side_add(&b, y, err, sizeof err), RB_OK);
    docs[2 * (r - 1)] = x;
    docs[2 * (r - 1) + 1] = y;
  }
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  const struct job_cmp_row *t = job_compare_row(&c, "throughput");
  assert_true(t->significant);
  assert_true(t->negligible);
  assert_true(t->min_change == 0.05);
  assert_false(job_compare_row(&c, "redis_cpu_us_per_op")->negligible);
  char *out = print_comparison(&a, &b, &c);
  assert_non_null(strstr(out,
                         "throughput (/s) 1000 1002 +0.1% (U test on 5+5 repetitions) detectable "
                         "but negligible (|change| < 5%)"));
  assert_non_null(strstr(
      out, "detectable but negligible: significant, but smaller than the change that matters"));
  free(out);
  job_compare_headline(&c, h, sizeof h);
  assert_non_null(
      strstr(h,
             "; with 32 invocations in flight (closed loop) it changed throughput by only +0.15% "
             "(p=0.0079; detectable but negligible, under the 5% that matters)"));
  cJSON *j = job_compare_json(&a, &b, &c);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(json_row(j, "throughput"), "negligible")));
  assert_true(cJSON_GetObjectItem(json_row(j, "throughput"), "min_change")->valuedouble == 0.05);
  cJSON_Delete(j);
  /* Thresholds: one metric, then all; bad specifications name the problem. */
  struct job_min_change m;
  job_min_change_init(&m);
  assert_int_equal(job_min_change_parse(&m, "throughput=0.1%", err, sizeof err), RB_OK);
  job_compare_apply_min_change(&c, &m);
  assert_false(job_compare_row(&c, "throughput")->negligible);
  assert_int_equal(job_min_change_parse(&m, "90", err, sizeof err), RB_OK);
  job_compare_apply_min_change(&c, &m);
  assert_false(job_compare_row(&c, "throughput")->negligible); /* the metric's own still wins */
  assert_true(job_compare_row(&c, "redis_cpu_us_per_op")->negligible); /* 74% < 90% */
  assert_int_equal(job_min_change_parse(&m, "latency=5", err, sizeof err), RB_ERR_INVALID);
  assert_non_null(strstr(err, "'latency' is not a tested metric (one of execution_p50_ms,"));
  assert_int_equal(job_min_change_parse(&m, "5x", err, sizeof err), RB_ERR_INVALID);
  assert_non_null(strstr(err, "got '5x'"));
  /* the commands refuse a bad --min-change before reading anything */
  char cmd_c[] = "compare", cmd_r[] = "report", opt[] = "--min-change", bad[] = "latency=5",
       x[] = "x.json", y[] = "y.json";
  char *cargv[] = {cmd_c, opt, bad, x, y, NULL};
  assert_int_equal(job_cmd_compare(5, cargv), 2);
  char *rargv[] = {cmd_r, opt, bad, x, NULL};
  assert_int_equal(job_cmd_report(4, rargv), 2);
  job_side_free(&a);
  job_side_free(&b);
  /* The report says it in the headline's table. */
  char *html = page_of(docs, 10, NULL, 0);
  assert_non_null(strstr(
      html, "<b>detectable but negligible</b> (+0.15%, under the 5% that matters), p=0.0079"));
  free(html);
  for (int i = 0; i < 10; i++) cJSON_Delete(docs[i]);
}

/* The latency test ran on 5+5 repetition medians, not on the 2000+2000 pooled invocations:
 * the row says so, in compare's table and in the report. */
static void test_rows_say_what_the_test_ran_on(void **state) {
  (void)state;
  struct job_side a, b;
  struct job_comparison c;
  cJSON *docs[10];
  char err[200];
  job_side_init(&a, "direct");
  job_side_init(&b, "batched");
  for (int r = 1; r <= 5; r++) {
    docs[2 * (r - 1)] = doc("direct", r, 5, 400, 10 + r * 0.1, 0.01);
    docs[2 * (r - 1) + 1] = doc("batched", r, 5, 400, 11 + r * 0.1, 0.01);
    assert_int_equal(job_side_add(&a, docs[2 * (r - 1)], err, sizeof err), RB_OK);
    assert_int_equal(job_side_add(&b, docs[2 * (r - 1) + 1], err, sizeof err), RB_OK);
  }
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  char *out = print_comparison(&a, &b, &c);
  assert_non_null(
      strstr(out, "(U test on 5+5 repetition medians; values over 2000+2000 invocations pooled)"));
  assert_null(strstr(out, " n=2000+2000"));
  assert_non_null(strstr(out, "execution p99 (ms)"));
  assert_non_null(strstr(out, "(bootstrap CI on 2000+2000 invocations)"));
  free(out);
  job_side_free(&a);
  job_side_free(&b);
  char *html = page_of(docs, 10, NULL, 0);
  assert_non_null(
      strstr(html, "(U test on 5+5 repetition medians; values over 2000+2000 invocations pooled)"));
  assert_null(strstr(html, "(2000+2000 invocations)</td>"));
  free(html);
  for (int i = 0; i < 10; i++) cJSON_Delete(docs[i]);
}

/* The settings count invocations as the tables do (measured vs warm-up), and an unset value
 * is "not set", never 0. */
static void test_settings_warmup_and_unset(void **state) {
  (void)state;
  cJSON *docs[2];
  for (int i = 0; i < 2; i++) {
    docs[i] = doc(i ? "batched" : "direct", 1, 1, 400, 10 + i, 0.01);
    cJSON *params = cJSON_GetObjectItem(cJSON_GetObjectItem(docs[i], "scenario"), "parameters");
    cJSON_AddNumberToObject(params, "invocations", 600);
    cJSON_AddNumberToObject(params, "duration", 0);
    cJSON_AddNumberToObject(params, "warmup", 1);
    cJSON_AddNumberToObject(params, "key_space", 0);
    cJSON *inv = cJSON_GetObjectItem(docs[i], "invocations");
    cJSON_AddNumberToObject(inv, "planned", 600);
    cJSON_AddNumberToObject(inv, "warmup", 200);
    cJSON *sc = cJSON_GetObjectItem(docs[i], "scenario");
    cJSON *cfg = cJSON_AddObjectToObject(sc, "config");
    cJSON_AddStringToObject(cfg, "apihost", "");
    cJSON_AddNumberToObject(cfg, "redis_port", 0);
  }
  char *html = page_of(docs, 2, NULL, 0);
  assert_non_null(strstr(html, "<td>600: 200 warm-up + 400 measured</td>"));
  assert_non_null(strstr(html, "<td class=\"na\">not set (invocations)</td>"));
  assert_non_null(strstr(html, "<td class=\"na\">not set (= ops)</td>"));
  assert_non_null(strstr(html, "apihost not set, redis_port not set"));
  assert_null(strstr(html, "<td>600</td>"));
  assert_null(strstr(html, "<td>0</td>"));
  free(html);
  for (int i = 0; i < 2; i++) cJSON_Delete(docs[i]);
}

/* A footnote is printed only when its mark is: 1000 invocations a run carry no "*", and
 * rows without a per-repetition test need no "(U test on N+M repetitions)" note. */
static void test_footnotes_only_when_marked(void **state) {
  (void)state;
  cJSON *docs[2] = {doc("direct", 1, 1, 1000, 10, 0.01), doc("batched", 1, 1, 1000, 3, 0.01)};
  char *html = page_of(docs, 2, NULL, 0);
  assert_null(strstr(html, "* fewer invocations"));
  free(html);
  struct job_side a, b;
  struct job_comparison c;
  char err[200];
  job_side_init(&a, "direct");
  job_side_init(&b, "batched");
  assert_int_equal(job_side_add(&a, docs[0], err, sizeof err), RB_OK);
  assert_int_equal(job_side_add(&b, docs[1], err, sizeof err), RB_OK);
  assert_int_equal(job_compare_compute(&a, &b, 0.05, 1, &c), RB_OK);
  char *out = print_comparison(&a, &b, &c);
  assert_null(strstr(out, "N+M"));
  assert_null(strstr(out, "* fewer"));
  free(out);
  job_side_free(&a);
  job_side_free(&b);
  /* 50 invocations: the p99 is the maximum, and the page explains the star */
  cJSON *few[2] = {doc("direct", 1, 1, 50, 10, 0.01), doc("batched", 1, 1, 50, 3, 0.01)};
  html = page_of(few, 2, NULL, 0);
  assert_non_null(strstr(html, "* fewer invocations than the percentile needs"));
  free(html);
  for (int i = 0; i < 2; i++) {
    cJSON_Delete(docs[i]);
    cJSON_Delete(few[i]);
  }
}

/* The sweep section says what compare says: a max sustainable rate that is only a lower
 * bound, and runner-limited steps. */
static void test_sweep_section_caveats(void **state) {
  (void)state;
  cJSON *d = sweep_doc("direct", 200), *b = sweep_doc("batched", 400);
  cJSON_AddBoolToObject(
      cJSON_AddObjectToObject(cJSON_AddObjectToObject(d, "scenario"), "parameters"), "batching",
      false);
  cJSON_AddBoolToObject(
      cJSON_AddObjectToObject(cJSON_AddObjectToObject(b, "scenario"), "parameters"), "batching",
      true);
  cJSON_AddBoolToObject(b, "max_sustainable_rate_at_least", true);
  cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "steps"),
                                   cJSON_GetArraySize(cJSON_GetObjectItem(b, "steps")) - 1);
  cJSON_AddBoolToObject(last, "runner_limited", true);
  cJSON_AddStringToObject(last, "runner_note", "schedule lag p99 40 ms above 10 ms");
  const cJSON *sweeps[2] = {d, b};
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  struct job_report_headline h;
  memset(&h, 0, sizeof h);
  job_report_html(f, NULL, 0, sweeps, 2, &h);
  fclose(f);
  assert_non_null(strstr(out, "<td>at least 400</td>"));
  assert_non_null(
      strstr(out, "batched at 800/s: <b>runner-limited</b>: schedule lag p99 40 ms above 10 ms"));
  assert_non_null(strstr(out, "batched: the max sustainable rate is a <b>lower bound</b>"));
  assert_non_null(strstr(out, "sustained at least 400/s"));
  assert_non_null(strstr(out, "<b>at least 2x</b>"));
  /* colours by mode: the direct sweep is blue, the batched one red, whatever the order */
  assert_non_null(
      strstr(out, "stroke=\"#1f77b4\" stroke-width=\"3\"/><text x=\"628.0\" y=\"54.0\">direct"));
  free(out);
  cJSON_Delete(d);
  cJSON_Delete(b);
}

/* A mode keeps its colour from report to report: direct blue and batched red whichever comes
 * first; a second group of a mode takes the mode's next shade. */
static void test_colors_stable_across_reports(void **state) {
  (void)state;
  struct job_report_run one[2], two[3];
  memset(one, 0, sizeof one);
  memset(two, 0, sizeof two);
  snprintf(one[0].group, sizeof one[0].group, "direct");
  snprintf(one[1].group, sizeof one[1].group, "batched");
  one[0].batching = 0;
  one[1].batching = 1;
  snprintf(two[0].group, sizeof two[0].group, "batched");
  snprintf(two[1].group, sizeof two[1].group, "coalesced");
  snprintf(two[2].group, sizeof two[2].group, "direct");
  two[0].batching = two[1].batching = 1;
  two[2].batching = 0;
  assert_string_equal(job_report_run_color(one, 0), job_report_run_color(two, 2));
  assert_string_equal(job_report_run_color(one, 1), job_report_run_color(two, 0));
  assert_string_equal(job_report_run_color(one, 0), "#1f77b4");
  assert_string_equal(job_report_run_color(one, 1), "#d62728");
  assert_string_not_equal(job_report_run_color(two, 1), job_report_run_color(two, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compare_single_documents),
      cmocka_unit_test(test_compare_repetitions_use_medians),
      cmocka_unit_test(test_percentile_marking),
      cmocka_unit_test(test_compare_backend_rows),
      cmocka_unit_test(test_compare_arrival_rows),
      cmocka_unit_test(test_compare_unavailable),
      cmocka_unit_test(test_headline_sentence),
      cmocka_unit_test(test_headline_closed_loop),
      cmocka_unit_test(test_report_recurses),
      cmocka_unit_test(test_report_page_order),
      cmocka_unit_test(test_percentile_axis),
      cmocka_unit_test(test_run_colors_by_group),
      cmocka_unit_test(test_last_second_is_a_rate),
      cmocka_unit_test(test_svg_and_html),
      cmocka_unit_test(test_headline_both_sides_of_the_trade),
      cmocka_unit_test(test_detectable_but_negligible),
      cmocka_unit_test(test_rows_say_what_the_test_ran_on),
      cmocka_unit_test(test_settings_warmup_and_unset),
      cmocka_unit_test(test_footnotes_only_when_marked),
      cmocka_unit_test(test_sweep_section_caveats),
      cmocka_unit_test(test_colors_stable_across_reports),
      cmocka_unit_test(test_compare_operation_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
