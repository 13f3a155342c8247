/* job_compare.c: comparison of two sets of results (see job_compare.h). */
#define _GNU_SOURCE
#include "job_compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void job_side_init(struct job_side *s, const char *label) {
  memset(s, 0, sizeof *s);
  snprintf(s->label, sizeof s->label, "%s", label);
}

void job_side_free(struct job_side *s) {
  free(s->exec);
  free(s->medians);
  s->exec = s->medians = NULL;
}

static bool push(struct job_side *s, double v) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    double *e = realloc(s->exec, cap * sizeof *e);
    if (!e) return false;
    s->exec = e;
    s->cap = cap;
  }
  s->exec[s->n++] = v;
  return true;
}

static double get(const cJSON *o, const char *a, const char *b) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
  return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

static void add_p50(const cJSON *server, const char *name, double *sum, size_t *n) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(server, name);
  double count = get(m, "count", NULL), p50 = get(m, "p50", NULL);
  if (count > 0 && !isnan(p50)) {
    *sum += p50;
    (*n)++;
  }
}

enum rb_err job_side_add(struct job_side *s, const cJSON *doc, char *err, size_t errlen) {
  const cJSON *raw = cJSON_GetObjectItemCaseSensitive(doc, "raw_results");
  if (isnan(get(doc, "schema_version", NULL)) || !cJSON_IsArray(raw))
    return rb_errorf(RB_ERR_INVALID, err, errlen, "not an rbench results document (no schema_version or raw_results)");
  size_t first = s->n;
  const cJSON *r;
  cJSON_ArrayForEach(r, raw) {
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "warmup"))) continue;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "success"))) continue;
    double v = get(r, "execution_time_ms", NULL);
    if (!isnan(v) && !push(s, v)) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  }
  double *m = realloc(s->medians, (s->docs + 1) * sizeof *m);
  if (!m) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  s->medians = m;
  size_t cnt = s->n - first;
  double *tmp = cnt ? malloc(cnt * sizeof *tmp) : NULL;
  if (cnt && !tmp) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  if (cnt) memcpy(tmp, s->exec + first, cnt * sizeof *tmp);
  job_sort_doubles(tmp, cnt);
  s->medians[s->docs++] = cnt ? job_quantile_sorted(tmp, cnt, 50) : (double)NAN;
  free(tmp);
  s->measured += get(doc, "invocations", "measured");
  s->succeeded += get(doc, "invocations", "succeeded");
  s->cold_starts += get(doc, "cold_starts", NULL);
  s->achieved_rate_sum += get(doc, "achieved_rate", NULL);
  s->requested_rate_sum += get(doc, "requested_rate", NULL);
  s->throughput_sum += get(doc, "throughput", NULL);
  const cJSON *srv = cJSON_GetObjectItemCaseSensitive(doc, "server");
  add_p50(srv, "duration_ms", &s->srv_duration_sum, &s->srv_duration_n);
  add_p50(srv, "wait_time_ms", &s->srv_wait_sum, &s->srv_wait_n);
  add_p50(srv, "init_time_ms", &s->srv_init_sum, &s->srv_init_n);
  return RB_OK;
}

static double ratio(double x, double n) { return n > 0 ? x / n : (double)NAN; }

static void row(struct job_comparison *c, const char *metric, double a, double b, int test) {
  struct job_cmp_row *r = &c->rows[c->nrows++];
  r->metric = metric;
  r->a = a;
  r->b = b;
  r->change = (a != 0 && !isnan(a) && !isnan(b)) ? (b - a) / a : (double)NAN;
  r->test = test;
}

static double q(const double *sorted, size_t n, double p) {
  return n ? job_quantile_sorted(sorted, n, p) : (double)NAN;
}

static double mean(const double *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += v[i];
  return n ? s / (double)n : (double)NAN;
}

static void latency_rows(struct job_comparison *c, const struct job_side *a, const struct job_side *b,
                         double *sa, double *sb) {
  row(c, "execution p50 (ms)", q(sa, a->n, 50), q(sb, b->n, 50), 1);
  row(c, "execution p90 (ms)", q(sa, a->n, 90), q(sb, b->n, 90), 0);
  row(c, "execution p99 (ms)", q(sa, a->n, 99), q(sb, b->n, 99), 2);
  row(c, "execution mean (ms)", mean(sa, a->n), mean(sb, b->n), 1);
  row(c, "execution min (ms)", q(sa, a->n, 0), q(sb, b->n, 0), 0);
  row(c, "execution max (ms)", q(sa, a->n, 100), q(sb, b->n, 100), 0);
}

static void other_rows(struct job_comparison *c, const struct job_side *a, const struct job_side *b) {
  row(c, "success rate", ratio(a->succeeded, a->measured), ratio(b->succeeded, b->measured), 0);
  row(c, "error rate", 1 - ratio(a->succeeded, a->measured), 1 - ratio(b->succeeded, b->measured), 0);
  row(c, "requested rate (/s)", ratio(a->requested_rate_sum, (double)a->docs), ratio(b->requested_rate_sum, (double)b->docs), 0);
  row(c, "achieved rate (/s)", ratio(a->achieved_rate_sum, (double)a->docs), ratio(b->achieved_rate_sum, (double)b->docs), 0);
  row(c, "server duration p50 (ms)", ratio(a->srv_duration_sum, (double)a->srv_duration_n), ratio(b->srv_duration_sum, (double)b->srv_duration_n), 0);
  row(c, "server waitTime p50 (ms)", ratio(a->srv_wait_sum, (double)a->srv_wait_n), ratio(b->srv_wait_sum, (double)b->srv_wait_n), 0);
  row(c, "server initTime p50 (ms)", ratio(a->srv_init_sum, (double)a->srv_init_n), ratio(b->srv_init_sum, (double)b->srv_init_n), 0);
  row(c, "cold starts", a->cold_starts, b->cold_starts, 0);
}

enum rb_err job_compare_compute(const struct job_side *a, const struct job_side *b, double alpha,
                                uint64_t seed, struct job_comparison *out) {
  memset(out, 0, sizeof *out);
  out->alpha = alpha;
  double *sa = a->n ? malloc(a->n * sizeof *sa) : NULL, *sb = b->n ? malloc(b->n * sizeof *sb) : NULL;
  if ((a->n && !sa) || (b->n && !sb)) {
    free(sa);
    free(sb);
    return RB_ERR_NOMEM;
  }
  if (a->n) memcpy(sa, a->exec, a->n * sizeof *sa);
  if (b->n) memcpy(sb, b->exec, b->n * sizeof *sb);
  job_sort_doubles(sa, a->n);
  job_sort_doubles(sb, b->n);
  latency_rows(out, a, b, sa, sb);
  other_rows(out, a, b);
  enum rb_err rc = RB_OK;
  out->mwu_on_medians = a->docs > 1 || b->docs > 1;
  if (out->mwu_on_medians)
    rc = job_mwu_test(a->medians, a->docs, b->medians, b->docs, &out->mwu);
  else if (a->n && b->n)
    rc = job_mwu_test(a->exec, a->n, b->exec, b->n, &out->mwu);
  else
    rc = RB_ERR_INVALID;
  out->have_test = rc == RB_OK;
  if (a->n && b->n) {
    out->have_ci = job_bootstrap_quantile_diff(a->exec, a->n, b->exec, b->n, 50, 1000, seed, 0.95, &out->median_diff) == RB_OK &&
                   job_bootstrap_quantile_diff(a->exec, a->n, b->exec, b->n, 99, 1000, seed + 1, 0.95, &out->p99_diff) == RB_OK;
  }
  for (size_t i = 0; i < out->nrows; i++) {
    struct job_cmp_row *r = &out->rows[i];
    if (r->test == 1) r->significant = out->have_test && out->mwu.p < alpha;
    if (r->test == 2) r->significant = out->have_ci && (out->p99_diff.lo > 0 || out->p99_diff.hi < 0);
  }
  free(sa);
  free(sb);
  return rc == RB_ERR_NOMEM ? rc : RB_OK;
}

static void cell(char *buf, size_t len, double v) {
  if (isnan(v)) snprintf(buf, len, "-");
  else snprintf(buf, len, "%.4g", v);
}

static void change_cell(char *buf, size_t len, const struct job_cmp_row *r) {
  if (r->test && !r->significant) snprintf(buf, len, "~");
  else if (isnan(r->change)) snprintf(buf, len, "-");
  else snprintf(buf, len, "%+.1f%%", r->change * 100);
}

void job_compare_print(FILE *f, const struct job_side *a, const struct job_side *b,
                       const struct job_comparison *c) {
  fprintf(f, "A: %s (%zu document%s, %zu successful invocations)\n", a->label, a->docs, a->docs == 1 ? "" : "s", a->n);
  fprintf(f, "B: %s (%zu document%s, %zu successful invocations)\n\n", b->label, b->docs, b->docs == 1 ? "" : "s", b->n);
  fprintf(f, "%-26s %12s %12s %10s\n", "metric", "A", "B", "change");
  for (size_t i = 0; i < c->nrows; i++) {
    const struct job_cmp_row *r = &c->rows[i];
    char av[32], bv[32], ch[32];
    cell(av, sizeof av, r->a);
    cell(bv, sizeof bv, r->b);
    change_cell(ch, sizeof ch, r);
    fprintf(f, "%-26s %12s %12s %10s%s\n", r->metric, av, bv, ch, r->test ? (r->test == 1 ? "  (U test)" : "  (CI)") : "");
  }
  fputc('\n', f);
  if (c->have_test)
    fprintf(f, "Mann-Whitney U on %s: U=%.1f n=%zu+%zu p=%.4g%s (%s at alpha %.2g); P(A > B)=%.3f\n",
            c->mwu_on_medians ? "per-repetition medians" : "invocation execution times", c->mwu.u,
            c->mwu.n1, c->mwu.n2, c->mwu.p, c->mwu.exact ? " exact" : "",
            c->mwu.p < c->alpha ? "significant" : "not significant", c->alpha, c->mwu.a12);
  else
    fprintf(f, "Mann-Whitney U: not enough successful invocations to test\n");
  if (c->have_ci) {
    fprintf(f, "median difference B-A: %+.4g ms, 95%% CI [%+.4g, %+.4g]\n", c->median_diff.estimate, c->median_diff.lo, c->median_diff.hi);
    fprintf(f, "p99 difference B-A:    %+.4g ms, 95%% CI [%+.4g, %+.4g]\n", c->p99_diff.estimate, c->p99_diff.lo, c->p99_diff.hi);
  }
  fprintf(f, "~ : the difference is not significant\n");
}

static void add_num(cJSON *o, const char *k, double v) {
  if (isnan(v)) cJSON_AddNullToObject(o, k);
  else cJSON_AddNumberToObject(o, k, v);
}

static cJSON *side_json(const struct job_side *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "label", s->label);
  cJSON_AddNumberToObject(o, "documents", (double)s->docs);
  cJSON_AddNumberToObject(o, "successful_invocations", (double)s->n);
  return o;
}

static cJSON *ci_json(const struct job_ci *ci) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "estimate", ci->estimate);
  cJSON_AddNumberToObject(o, "ci95_low", ci->lo);
  cJSON_AddNumberToObject(o, "ci95_high", ci->hi);
  return o;
}

cJSON *job_compare_json(const struct job_side *a, const struct job_side *b,
                        const struct job_comparison *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "a", side_json(a));
  cJSON_AddItemToObject(o, "b", side_json(b));
  cJSON *rows = cJSON_AddArrayToObject(o, "rows");
  for (size_t i = 0; i < c->nrows; i++) {
    const struct job_cmp_row *r = &c->rows[i];
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "metric", r->metric);
    add_num(x, "a", r->a);
    add_num(x, "b", r->b);
    add_num(x, "change", r->change);
    if (r->test) cJSON_AddBoolToObject(x, "significant", r->significant);
    cJSON_AddItemToArray(rows, x);
  }
  if (c->have_test) {
    cJSON *m = cJSON_AddObjectToObject(o, "mann_whitney");
    cJSON_AddStringToObject(m, "on", c->mwu_on_medians ? "per_repetition_medians" : "invocations");
    cJSON_AddNumberToObject(m, "u", c->mwu.u);
    cJSON_AddNumberToObject(m, "n1", (double)c->mwu.n1);
    cJSON_AddNumberToObject(m, "n2", (double)c->mwu.n2);
    cJSON_AddNumberToObject(m, "p", c->mwu.p);
    cJSON_AddBoolToObject(m, "exact", c->mwu.exact);
    cJSON_AddNumberToObject(m, "alpha", c->alpha);
    cJSON_AddBoolToObject(m, "significant", c->mwu.p < c->alpha);
  }
  if (c->have_ci) {
    cJSON_AddItemToObject(o, "median_difference_ms", ci_json(&c->median_diff));
    cJSON_AddItemToObject(o, "p99_difference_ms", ci_json(&c->p99_diff));
  }
  return o;
}
