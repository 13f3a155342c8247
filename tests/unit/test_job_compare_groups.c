/* test_job_compare_groups.c: the N-way compare (issue 21 item 5) on known inputs: ratios to
 * the baseline, significance marks, the Holm-Bonferroni correction, baseline selection by index
 * and name, the headline naming the best placement and its cost, the placement descriptions,
 * the refusal to pool documents of different placements, and the report with three groups. */
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

#include "job_compare.h"
#include "job_compare_groups.h"
#include "job_report.h"

/* Smallest two-sided exact Mann-Whitney p with 5 + 5 values (complete separation), and the
 * p of U = 2 (4 of the 252 arrangements at or below it, both tails). */
#define P_SEPARATED (2.0 / 252.0)
#define P_U2 (8.0 / 252.0)

struct spec {
  const char *run;
  const char *placement; /* NULL: not in params */
  long long concurrency; /* action_concurrency, 0: not given */
  const char *layer, *layer_args;
  double exec_base;  /* execution time of repetition r: exec_base + r * 0.1 (+ i * 0.001) */
  double cpu[5];     /* backend_cpu_us_per_op of each repetition */
  double action_cpu; /* action_cpu.cpu_us_per_op (+ r); < 0: no section */
};

/* A results document: 50 successful invocations around the repetition's execution time. */
static cJSON *doc(const struct spec *s, int rep) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddNumberToObject(d, "schema_version", 1);
  cJSON *sc = cJSON_AddObjectToObject(d, "scenario");
  cJSON_AddStringToObject(sc, "run", s->run);
  cJSON_AddNumberToObject(sc, "repetition", rep);
  cJSON_AddNumberToObject(sc, "repetitions", 5);
  cJSON *params = cJSON_AddObjectToObject(sc, "parameters");
  cJSON_AddNumberToObject(params, "rate", 10);
  if (s->placement) {
    cJSON_AddStringToObject(params, "placement", s->placement);
    cJSON_AddBoolToObject(params, "batching", !strcmp(s->placement, "agent"));
  }
  if (s->concurrency) cJSON_AddNumberToObject(params, "action_concurrency", (double)s->concurrency);
  if (s->layer || s->layer_args) cJSON_AddStringToObject(params, "backend", "start");
  if (s->layer) cJSON_AddStringToObject(params, "layer", s->layer);
  if (s->layer_args) cJSON_AddStringToObject(params, "layer_args", s->layer_args);
  int n = 50;
  cJSON *inv = cJSON_AddObjectToObject(d, "invocations");
  cJSON_AddNumberToObject(inv, "measured", n);
  cJSON_AddNumberToObject(inv, "succeeded", n);
  cJSON_AddNumberToObject(d, "achieved_rate", 10);
  cJSON_AddNumberToObject(d, "requested_rate", 10);
  cJSON_AddNumberToObject(d, "success_rate", 1);
  cJSON *r = cJSON_AddObjectToObject(d, "redis");
  cJSON_AddStringToObject(r, "endpoint", "127.0.0.1:6379");
  cJSON_AddNumberToObject(r, "cpu_us_per_op", s->cpu[rep - 1]);
  cJSON_AddNumberToObject(r, "commands_per_op", 1);
  cJSON_AddNumberToObject(r, "reads_per_op", 1);
  cJSON_AddNumberToObject(r, "writes_per_op", 1);
  cJSON_AddNumberToObject(r, "bytes_per_op", 85);
  cJSON_AddBoolToObject(r, "shared", false);
  cJSON_AddNumberToObject(d, "backend_cpu_us_per_op", s->cpu[rep - 1]);
  if (s->action_cpu >= 0) {
    cJSON *a = cJSON_AddObjectToObject(d, "action_cpu");
    cJSON_AddNumberToObject(a, "cpu_s", 1);
    cJSON_AddNumberToObject(a, "cpu_us_per_op", s->action_cpu + rep);
    cJSON_AddNumberToObject(a, "processes", 4);
  }
  cJSON *raw = cJSON_AddArrayToObject(d, "raw_results");
  for (int i = 0; i < n; i++) {
    cJSON *x = cJSON_CreateObject();
    double e = s->exec_base + rep * 0.1 + (i - 25) * 0.001;
    cJSON_AddNumberToObject(x, "intended_ms", i * 100.0);
    cJSON_AddNumberToObject(x, "end_ms", i * 100.0 + e);
    cJSON_AddNumberToObject(x, "execution_time_ms", e);
    cJSON_AddBoolToObject(x, "success", true);
    cJSON_AddItemToArray(raw, x);
  }
  return d;
}

static void load(struct job_side *side, const char *label, const struct spec *s) {
  char err[300];
  job_side_init(side, label);
  for (int rep = 1; rep <= 5; rep++) {
    cJSON *d = doc(s, rep);
    if (job_side_add(side, d, err, sizeof err) != RB_OK) fail_msg("%s", err);
    cJSON_Delete(d);
  }
}

/* direct 21..25 us/op, runtime 7..11 (separated: p = 2/252), the agent 16..20 (separated), and
 * nutcracker interleaved with direct (not significant). Runtime adds exactly 1 ms everywhere;
 * the agent 0.05 ms, inside the repetitions' spread. */
static const struct spec direct = {"direct", "direct", 0, NULL, NULL, 10, {21, 22, 23, 24, 25}, -1};
static const struct spec runtime = {"runtime-c8", "runtime",         8, NULL, NULL,
                                    11,           {7, 8, 9, 10, 11}, 30};
static const struct spec agent = {"agent", "agent", 0, NULL, NULL, 10.05, {16, 17, 18, 19, 20}, -1};
static const struct spec nut = {
    "nutcracker", "agent", 0, "nutcracker", NULL, 10, {21.5, 22.5, 23.5, 24.5, 25.5}, -1};

static void load4(struct job_side *s) {
  load(&s[0], "out/direct", &direct);
  load(&s[1], "out/runtime-c8", &runtime);
  load(&s[2], "out/agent", &agent);
  load(&s[3], "out/nutcracker", &nut);
}

static void free_sides(struct job_side *s, size_t n) {
  for (size_t i = 0; i < n; i++) job_side_free(&s[i]);
}

static void test_holm(void **state) {
  (void)state;
  const double p[] = {0.01, 0.04, 0.03, 0.005};
  double adj[4];
  job_holm(p, 4, adj);
  /* sorted 0.005 0.01 0.03 0.04 -> 4x, 3x, 2x, 1x, made monotone */
  assert_true(fabs(adj[3] - 0.02) < 1e-12);
  assert_true(fabs(adj[0] - 0.03) < 1e-12);
  assert_true(fabs(adj[2] - 0.06) < 1e-12);
  assert_true(fabs(adj[1] - 0.06) < 1e-12); /* 0.04 alone would be 0.04: monotone */
  const double q[] = {0.01, (double)NAN, 0.02, 0.9};
  job_holm(q, 4, adj);
  assert_true(fabs(adj[0] - 0.03) < 1e-12); /* a family of 3: NAN is no test */
  assert_true(isnan(adj[1]));
  assert_true(fabs(adj[2] - 0.04) < 1e-12);
  assert_true(fabs(adj[3] - 0.9) < 1e-12);
  const double big[] = {0.5, 0.6};
  job_holm(big, 2, adj);
  assert_true(adj[0] == 1.0 && adj[1] == 1.0); /* capped at 1 */
}

static void test_ratios_marks_and_headline(void **state) {
  (void)state;
  struct job_side s[4];
  load4(s);
  assert_string_equal(s[1].placement, "runtime batching (C=8)");
  assert_string_equal(s[2].placement, "the agent");
  assert_string_equal(s[3].placement, "nutcracker");
  struct job_groups g;
  assert_int_equal(job_groups_compute(s, 4, 0, 0.05, 1, NULL, JOB_OBJ_BACKEND_CPU, &g), RB_OK);
  assert_int_equal(g.comparisons, 3);
  const struct job_cmp_row *rt = job_groups_row(&g, 1, "backend_cpu_us_per_op");
  const struct job_cmp_row *ag = job_groups_row(&g, 2, "backend_cpu_us_per_op");
  const struct job_cmp_row *nu = job_groups_row(&g, 3, "backend_cpu_us_per_op");
  assert_null(job_groups_row(&g, 0, "backend_cpu_us_per_op")); /* the baseline has no pair */
  assert_true(rt->a == 23 && rt->b == 9 && ag->b == 18 && nu->b == 23.5);
  assert_true(fabs(rt->p - P_SEPARATED) < 1e-9);
  assert_true(fabs(ag->p - P_SEPARATED) < 1e-9);
  /* Holm over 3: the two smallest 3x and 2x, made monotone: both 3 * 2/252 */
  assert_true(fabs(rt->p_adjusted - 3 * P_SEPARATED) < 1e-9);
  assert_true(fabs(ag->p_adjusted - 3 * P_SEPARATED) < 1e-9);
  assert_true(rt->significant && ag->significant && !nu->significant);
  assert_true(nu->p_adjusted >= nu->p);
  /* latency: runtime +1 ms (separated medians), the agent +0.05 ms (not significant) */
  const struct job_cmp_row *p50 = job_groups_row(&g, 1, "execution_p50_ms");
  assert_true(fabs(p50->b - p50->a - 1.0) < 1e-9 && p50->significant);
  assert_false(job_groups_row(&g, 2, "execution_p50_ms")->significant);
  /* the action CPU row: runtime has it, the others say why not */
  const struct job_cmp_row *act = job_groups_row(&g, 1, "action_cpu_us_per_op");
  assert_non_null(act);
  assert_true(act->b == 33 && isnan(act->a));
  assert_non_null(strstr(act->why_a, "no action_cpu section"));
  char h[2048];
  job_groups_headline(&g, h, sizeof h);
  assert_string_equal(h,
                      "runtime batching (C=8) cut backend CPU/op 2.6x (p=0.024) at +1 ms p50; "
                      "the agent 1.3x (p=0.024) with no significant p50 change (against direct; "
                      "Holm-corrected over 3 comparisons); no significant backend CPU/op "
                      "difference: nutcracker");
  /* the table: one column per group, ratio and mark after each value */
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_groups_print(f, &g);
  fclose(f);
  if (getenv("DEBUG_PRINT")) fputs(out, stderr);
  assert_non_null(strstr(out,
                         "[1] out/direct: direct (5 documents, 250 successful invocations) "
                         "(baseline)"));
  assert_non_null(strstr(out, "[2] out/runtime-c8: runtime batching (C=8)"));
  assert_non_null(strstr(out, "[1] baseline"));
  assert_non_null(strstr(out, "9 0.391x!")); /* runtime backend CPU/op: 9/23 significant */
  assert_non_null(strstr(out, "18 0.783x!"));
  assert_non_null(strstr(out, "23.5 1.02x~"));
  assert_non_null(strstr(out, "Holm-Bonferroni over the 3 comparisons of each metric"));
  assert_non_null(strstr(out, "n/a in [1] (action CPU/op (us)): no action_cpu section"));
  assert_non_null(strstr(out, "headline (backend_cpu): runtime batching (C=8) cut"));
  free(out);
  /* JSON: the same, per group */
  cJSON *j = job_groups_json(&g);
  assert_string_equal(cJSON_GetObjectItem(j, "correction")->valuestring, "holm");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "groups")), 4);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "pairs")), 3);
  const cJSON *row;
  bool found = false;
  cJSON_ArrayForEach(row, cJSON_GetObjectItem(j, "rows")) {
    if (strcmp(cJSON_GetObjectItem(row, "key")->valuestring, "backend_cpu_us_per_op")) continue;
    found = true;
    const cJSON *cells = cJSON_GetObjectItem(row, "groups");
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(cells, 0), "value")->valuedouble == 23);
    const cJSON *c1 = cJSON_GetArrayItem(cells, 1);
    assert_true(fabs(cJSON_GetObjectItem(c1, "ratio")->valuedouble - 9.0 / 23) < 1e-12);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c1, "significant")));
    assert_true(fabs(cJSON_GetObjectItem(c1, "p_adjusted")->valuedouble - 3 * P_SEPARATED) < 1e-9);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(cells, 3), "significant")));
  }
  assert_true(found);
  assert_non_null(strstr(cJSON_GetObjectItem(j, "headline")->valuestring, "runtime batching"));
  cJSON_Delete(j);
  job_groups_free(&g);
  /* objective p50: nothing is better than direct (runtime is slower, the agent not different) */
  assert_int_equal(job_groups_compute(s, 4, 0, 0.05, 1, NULL, JOB_OBJ_P50, &g), RB_OK);
  job_groups_headline(&g, h, sizeof h);
  assert_non_null(strstr(h, "no group did significantly better than direct on p50"));
  assert_non_null(strstr(h, "significantly worse p50: runtime batching (C=8)"));
  job_groups_free(&g);
  /* objective p99: runtime's +1 ms is under the 10% that matters for p99 */
  assert_int_equal(job_groups_compute(s, 4, 0, 0.05, 1, NULL, JOB_OBJ_P99, &g), RB_OK);
  job_groups_headline(&g, h, sizeof h);
  assert_non_null(strstr(h, "no group did significantly better than direct on p99"));
  assert_non_null(strstr(h, "a detectable but negligible p99 difference: runtime batching (C=8)"));
  job_groups_free(&g);
  /* with --min-change execution_p99_ms=5 the same +9.5% is worse, claimed as such */
  struct job_min_change mc;
  job_min_change_init(&mc);
  char err[200];
  assert_int_equal(job_min_change_parse(&mc, "execution_p99_ms=5", err, sizeof err), RB_OK);
  assert_int_equal(job_groups_compute(s, 4, 0, 0.05, 1, &mc, JOB_OBJ_P99, &g), RB_OK);
  job_groups_headline(&g, h, sizeof h);
  assert_non_null(strstr(h, "significantly worse p99: runtime batching (C=8)"));
  job_groups_free(&g);
  free_sides(s, 4);
}

/* Holm is what makes a raw p of 8/252 (< 0.05) not significant among four comparisons. */
static void test_holm_removes_a_marginal_group(void **state) {
  (void)state;
  struct spec marginal = direct;
  marginal.run = "agent-coalesce";
  marginal.placement = "agent";
  marginal.layer_args = "--coalesce";
  /* 16 17 18 21.5 22.5 against 21..25: U = 2 + 1 ... pairs with x > y: 21.5>21, 22.5>21,22 */
  double v[5] = {16, 17, 18, 21.5, 21.2};
  memcpy(marginal.cpu, v, sizeof v);
  struct job_side s[5];
  load(&s[0], "d", &direct);
  load(&s[1], "r", &runtime);
  load(&s[2], "c", &marginal);
  load(&s[3], "n", &nut);
  load(&s[4], "n2", &nut);
  struct job_groups g;
  assert_int_equal(job_groups_compute(s, 3, 0, 0.05, 1, NULL, JOB_OBJ_BACKEND_CPU, &g), RB_OK);
  const struct job_cmp_row *c = job_groups_row(&g, 2, "backend_cpu_us_per_op");
  assert_true(fabs(c->p - P_U2) < 1e-9);
  /* two comparisons: 2 x 2/252 and 1 x 8/252, both under 0.05 */
  assert_true(fabs(c->p_adjusted - P_U2) < 1e-9 && c->significant);
  job_groups_free(&g);
  assert_int_equal(job_groups_compute(s, 5, 0, 0.05, 1, NULL, JOB_OBJ_BACKEND_CPU, &g), RB_OK);
  c = job_groups_row(&g, 2, "backend_cpu_us_per_op");
  assert_true(fabs(c->p - P_U2) < 1e-9);
  assert_true(fabs(c->p_adjusted - 3 * P_U2) < 1e-9); /* second smallest of 4: 3x */
  assert_false(c->significant);
  char h[2048];
  job_groups_headline(&g, h, sizeof h);
  assert_non_null(strstr(h, "no significant backend CPU/op difference: the agent (--coalesce)"));
  assert_null(strstr(h, "(--coalesce) 1."));
  /* the names: "nutcracker" twice, so those two go by their labels */
  assert_string_equal(g.names[3], "n");
  assert_string_equal(g.names[4], "n2");
  job_groups_free(&g);
  free_sides(s, 5);
}

static void test_baseline_selection(void **state) {
  (void)state;
  struct job_side s[4];
  load4(s);
  size_t b = 99;
  char err[1600];
  assert_int_equal(job_groups_baseline(s, 4, "3", &b, err, sizeof err), RB_OK);
  assert_int_equal(b, 2);
  assert_int_equal(job_groups_baseline(s, 4, "out/runtime-c8", &b, err, sizeof err), RB_OK);
  assert_int_equal(b, 1);
  assert_int_equal(job_groups_baseline(s, 4, "nutcracker", &b, err, sizeof err), RB_OK); /* run */
  assert_int_equal(b, 3);
  assert_int_equal(job_groups_baseline(s, 4, "the agent", &b, err, sizeof err), RB_OK);
  assert_int_equal(b, 2);
  assert_int_equal(job_groups_baseline(s, 4, "nope", &b, err, sizeof err), RB_ERR_INVALID);
  assert_non_null(strstr(err, "--baseline 'nope' names no group"));
  assert_non_null(strstr(err, "[2] out/runtime-c8 (run runtime-c8, runtime batching (C=8))"));
  assert_int_equal(job_groups_baseline(s, 4, "5", &b, err, sizeof err), RB_ERR_INVALID);
  assert_non_null(strstr(err, "--baseline 5: no such group (give an index from 1 to 4"));
  assert_int_equal(job_groups_baseline(s, 4, "0", &b, err, sizeof err), RB_ERR_INVALID);
  /* the baseline named: ratios against the agent */
  struct job_groups g;
  assert_int_equal(job_groups_compute(s, 4, 2, 0.05, 1, NULL, JOB_OBJ_BACKEND_CPU, &g), RB_OK);
  const struct job_cmp_row *d = job_groups_row(&g, 0, "backend_cpu_us_per_op");
  assert_true(d->a == 18 && d->b == 23);
  assert_null(job_groups_row(&g, 2, "backend_cpu_us_per_op"));
  char h[2048];
  job_groups_headline(&g, h, sizeof h);
  assert_non_null(strstr(h, "runtime batching (C=8) cut backend CPU/op 2x"));
  assert_non_null(strstr(h, "(against the agent;"));
  assert_non_null(strstr(h, "significantly worse backend CPU/op: direct, nutcracker"));
  job_groups_free(&g);
  free_sides(s, 4);
}

static void test_nothing_significant(void **state) {
  (void)state;
  struct job_side s[3];
  load(&s[0], "a", &direct);
  load(&s[1], "b", &nut);
  struct spec one = nut;
  one.run = "one";
  one.placement = "runtime";
  load(&s[2], "c", &one);
  struct job_groups g;
  assert_int_equal(job_groups_compute(s, 3, 0, 0.05, 1, NULL, JOB_OBJ_BACKEND_CPU, &g), RB_OK);
  char h[2048];
  job_groups_headline(&g, h, sizeof h);
  assert_string_equal(h,
                      "no group did significantly better than direct on backend CPU/op (alpha "
                      "0.05; Holm-corrected over 2 comparisons); no significant backend CPU/op "
                      "difference: nutcracker, runtime batching");
  job_groups_free(&g);
  free_sides(s, 3);
}

static void test_describe(void **state) {
  (void)state;
  char buf[200];
  cJSON *p = cJSON_Parse(
      "{\"placement\":\"runtime\",\"action_concurrency\":8,"
      "\"batch_connections\":2,\"batch_wait_us\":100,\"batch_coalesce\":true}");
  job_compare_describe_json(p, buf, sizeof buf);
  assert_string_equal(buf, "runtime batching (C=8, 2 connections, wait 100 us, coalescing)");
  cJSON_Delete(p);
  p = cJSON_Parse("{\"batching\":true}");
  job_compare_describe_json(p, buf, sizeof buf);
  assert_string_equal(buf, "the agent");
  cJSON_Delete(p);
  p = cJSON_Parse("{\"placement\":\"agent\",\"backend\":\"start\",\"layer_args\":\"--coalesce\"}");
  job_compare_describe_json(p, buf, sizeof buf);
  assert_string_equal(buf, "the agent (--coalesce)");
  cJSON_Delete(p);
  p = cJSON_Parse("{\"placement\":\"agent\",\"backend\":\"start\",\"layer\":\"nutcracker\"}");
  job_compare_describe_json(p, buf, sizeof buf);
  assert_string_equal(buf, "nutcracker");
  cJSON_Delete(p);
  p = cJSON_Parse("{\"rate\":3}");
  job_compare_describe_json(p, buf, sizeof buf);
  assert_string_equal(buf, ""); /* says neither placement nor batching */
  cJSON_Delete(p);
}

/* Documents of different placements (or knobs) are not repetitions of one run. */
static void test_placements_never_pool(void **state) {
  (void)state;
  char err[300], what[300];
  struct job_doc a, b;
  cJSON *x = doc(&direct, 1), *y = doc(&runtime, 1);
  assert_int_equal(job_doc_read(x, "x.json", &a, err, sizeof err), RB_OK);
  assert_int_equal(job_doc_read(y, "y.json", &b, err, sizeof err), RB_OK);
  assert_true(job_doc_settings_diff(&a, &b, what, sizeof what));
  assert_string_equal(what, "placement: direct vs runtime");
  job_doc_free(&b);
  cJSON_Delete(y);
  /* the same placement, another action concurrency */
  struct spec c1 = runtime;
  c1.concurrency = 1;
  y = doc(&c1, 1);
  cJSON *z = doc(&runtime, 2);
  struct job_doc c;
  assert_int_equal(job_doc_read(y, "y.json", &b, err, sizeof err), RB_OK);
  assert_int_equal(job_doc_read(z, "z.json", &c, err, sizeof err), RB_OK);
  assert_true(job_doc_settings_diff(&b, &c, what, sizeof what));
  assert_string_equal(what, "action_concurrency: 1 vs 8");
  job_doc_free(&c);
  cJSON_Delete(z);
  /* the agent: its flags, its layer */
  struct spec co = agent;
  co.layer_args = "--coalesce";
  struct spec plain = agent;
  plain.layer_args = "";
  z = doc(&co, 1);
  cJSON *w = doc(&plain, 1);
  struct job_doc e;
  assert_int_equal(job_doc_read(z, "z.json", &c, err, sizeof err), RB_OK);
  assert_int_equal(job_doc_read(w, "w.json", &e, err, sizeof err), RB_OK);
  assert_true(job_doc_settings_diff(&c, &e, what, sizeof what));
  assert_string_equal(what, "layer_args: --coalesce vs ");
  job_doc_free(&e);
  cJSON_Delete(w);
  w = doc(&nut, 1);
  assert_int_equal(job_doc_read(w, "w.json", &e, err, sizeof err), RB_OK);
  assert_true(job_doc_settings_diff(&c, &e, what, sizeof what));
  assert_string_equal(what, "layer: rbench-agent vs nutcracker");
  job_doc_free(&e);
  cJSON_Delete(w);
  /* a document from before placements: batching true is placement agent, and pools with one */
  cJSON *old = doc(&agent, 1);
  cJSON *op = cJSON_GetObjectItem(cJSON_GetObjectItem(old, "scenario"), "parameters");
  cJSON_DeleteItemFromObject(op, "placement");
  struct job_doc o, n;
  cJSON *nw = doc(&agent, 2);
  assert_int_equal(job_doc_read(old, "old.json", &o, err, sizeof err), RB_OK);
  assert_int_equal(job_doc_read(nw, "new.json", &n, err, sizeof err), RB_OK);
  assert_false(job_doc_settings_diff(&o, &n, what, sizeof what));
  assert_true(job_doc_settings_diff(&o, &a, what, sizeof what)); /* but not with direct */
  job_doc_free(&o);
  job_doc_free(&n);
  cJSON_Delete(old);
  cJSON_Delete(nw);
  job_doc_free(&a);
  job_doc_free(&b);
  job_doc_free(&c);
  cJSON_Delete(x);
  cJSON_Delete(y);
  cJSON_Delete(z);
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

static char *render(const struct job_report_run *runs, size_t n,
                    const struct job_report_headline *h) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  job_report_html(f, runs, n, NULL, 0, h);
  fclose(f);
  return out;
}

/* rbench report with three groups: a column per group in its own colour, ratios to the
 * baseline with their marks, the N-way headline; by argument and from one directory tree. */
static void test_report_three_groups(void **state) {
  (void)state;
  const struct spec *specs[3] = {&agent, &direct, &runtime};
  cJSON *docs[15];
  struct job_report_run runs[15];
  char err[300];
  for (int g = 0; g < 3; g++)
    for (int r = 1; r <= 5; r++) {
      size_t i = (size_t)(g * 5 + r - 1);
      docs[i] = doc(specs[g], r);
      if (job_report_run_init(&runs[i], docs[i], err, sizeof err) != RB_OK) fail_msg("%s", err);
      runs[i].side = g;
    }
  const char *labels[] = {"out/agent", "out/direct", "out/runtime-c8"};
  job_report_group_by_side(runs, 15, labels);
  struct job_report_headline h;
  assert_int_equal(job_report_headline_compute(runs, 15, NULL, &h), RB_OK);
  assert_true(h.have && h.nway);
  assert_int_equal(h.g.baseline, 0); /* sides named: the first */
  assert_non_null(strstr(h.sentence, "runtime batching (C=8) cut backend CPU/op 2x"));
  assert_non_null(strstr(h.sentence, "(against the agent; Holm-corrected over 2 comparisons)"));
  char *html = render(runs, 15, &h);
  if (getenv("DEBUG_PRINT")) fputs(html, stderr);
  const char *purple = job_report_run_color(runs, 10), *red = job_report_run_color(runs, 0),
             *blue = job_report_run_color(runs, 5);
  assert_string_equal(purple, "#6a3d9a"); /* runtime batching has its own colour */
  assert_string_not_equal(red, blue);
  char want[200];
  for (int g = 0; g < 3; g++) {
    snprintf(want, sizeof want, "<th><span style=\"color:%s\">&#9632;</span> %s",
             g == 0   ? red
             : g == 1 ? blue
                      : purple,
             g == 0   ? "the agent"
             : g == 1 ? "direct"
                      : "runtime batching (C=8)");
    assert_non_null(strstr(html, want));
  }
  assert_non_null(strstr(html, "<br><small>baseline</small>"));
  assert_non_null(strstr(html, "Runtime batching (C=8) cut backend CPU/op 2x")); /* headline */
  assert_non_null(strstr(html, ">9 <small>0.5x!</small></td>"));        /* backend CPU/op 9 vs 18 */
  assert_non_null(strstr(html, ">23 <small>1.28x!</small></td>"));      /* direct: 23 vs 18 */
  assert_non_null(strstr(html, "Holm-adjusted p=0.016"));               /* 2 x 2/252 on hover */
  assert_int_equal(count_of(html, "title=\"no action_cpu section"), 2); /* agent, direct */
  free(html);
  job_report_headline_free(&h);
  /* --baseline by name, then an unknown one */
  struct job_report_opts o = {NULL, "direct", -1};
  char herr[1600];
  assert_int_equal(job_report_headline_compute_opts(runs, 15, &o, &h, herr, sizeof herr), RB_OK);
  assert_int_equal(h.g.baseline, 1);
  job_report_headline_free(&h);
  o.baseline = "nope";
  assert_int_equal(job_report_headline_compute_opts(runs, 15, &o, &h, herr, sizeof herr),
                   RB_ERR_INVALID);
  assert_non_null(strstr(herr, "--baseline 'nope' names no group"));
  /* one directory tree: grouped by settings, three placements, direct the baseline */
  for (size_t i = 0; i < 15; i++) runs[i].side = -1;
  char notes[600] = "";
  job_report_group_by_settings(runs, 15, notes, sizeof notes);
  assert_int_equal(job_report_headline_compute(runs, 15, NULL, &h), RB_OK);
  assert_true(h.nway);
  assert_int_equal(h.g.n, 3);
  assert_string_equal(h.g.names[h.g.baseline], "direct");
  assert_non_null(strstr(h.sentence, "(against direct;"));
  job_report_headline_free(&h);
  /* two groups named: the two-sided form, as before */
  assert_int_equal(job_report_headline_compute(runs + 5, 10, NULL, &h), RB_OK);
  assert_false(h.nway);
  job_report_headline_free(&h);
  for (size_t i = 0; i < 15; i++) {
    job_report_run_free(&runs[i]);
    cJSON_Delete(docs[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_holm),
      cmocka_unit_test(test_ratios_marks_and_headline),
      cmocka_unit_test(test_holm_removes_a_marginal_group),
      cmocka_unit_test(test_baseline_selection),
      cmocka_unit_test(test_nothing_significant),
      cmocka_unit_test(test_describe),
      cmocka_unit_test(test_placements_never_pool),
      cmocka_unit_test(test_report_three_groups),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
