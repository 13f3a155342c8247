/* job_compare.c: comparison of two sets of results (see job_compare.h). */
#define _GNU_SOURCE
#include "job_compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void job_side_init(struct job_side *s, const char *label) {
  memset(s, 0, sizeof *s);
  snprintf(s->label, sizeof s->label, "%s", label);
  s->batching = -1;
}

void job_side_free(struct job_side *s) {
  free(s->exec);
  free(s->medians);
  s->exec = s->medians = NULL;
  for (int m = 0; m < JOB_DM_COUNT; m++) {
    free(s->per_doc[m].v);
    s->per_doc[m].v = NULL;
    s->per_doc[m].n = 0;
  }
  for (int i = 0; i < RB_OP_COUNT; i++) {
    job_hist_destroy(s->op_hist[i]);
    s->op_hist[i] = NULL;
    free(s->op_p50[i].v);
    free(s->op_p99[i].v);
    s->op_p50[i].v = s->op_p99[i].v = NULL;
    s->op_p50[i].n = s->op_p99[i].n = 0;
  }
}

/* A closed loop with its concurrency N -> N; an open loop (or an older document) -> 0. */
static long long doc_concurrency(const struct job_doc *d) {
  if (!d->closed) return 0;
  return job_doc_param_present(d, "concurrency") && d->params.concurrency >= 1
             ? d->params.concurrency
             : -1;
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

static void add_p50(const struct job_doc_summary *m, double *sum, size_t *n) {
  if (m->count > 0 && !isnan(m->p50)) {
    *sum += m->p50;
    (*n)++;
  }
}

/* scenario.parameters.batching: 1, 0, or -1 when the document does not say. */
static int doc_batching(const struct job_doc *d) {
  return job_doc_param_present(d, "batching") ? d->params.batching : -1;
}

/* The figure behind m, its section (NULL: top level) and its name for messages. */
static const struct job_doc_figure *metric_figure(const struct job_doc *d, enum job_doc_metric m,
                                                  const struct job_doc_backend **sec,
                                                  const char **name) {
  *sec = NULL;
  switch (m) {
    case JOB_DM_THROUGHPUT: *name = "throughput"; return &d->throughput_fig;
    case JOB_DM_REDIS_CPU:
      *sec = &d->redis;
      *name = "redis.cpu_us_per_op";
      return &d->redis.cpu_us_per_op;
    case JOB_DM_REDIS_COMMANDS:
      *sec = &d->redis;
      *name = "redis.commands_per_op";
      return &d->redis.commands_per_op;
    case JOB_DM_REDIS_READS:
      *sec = &d->redis;
      *name = "redis.reads_per_op";
      return &d->redis.reads_per_op;
    case JOB_DM_REDIS_BYTES:
      *sec = &d->redis;
      *name = "redis.bytes_per_op";
      return &d->redis.bytes_per_op;
    case JOB_DM_AGENT_CPU:
      *sec = &d->agent;
      *name = "agent.cpu_us_per_op";
      return &d->agent.cpu_us_per_op;
    case JOB_DM_PER_BATCH:
      *sec = &d->agent;
      *name = "agent.commands_per_batch.mean";
      return &d->agent.per_batch_mean;
    case JOB_DM_BACKEND_CPU: break;
    case JOB_DM_ACTION_CPU: break; /* not a typed figure yet: action_cpu_metric */
    case JOB_DM_COUNT: break;
  }
  *name = "backend_cpu_us_per_op";
  return &d->backend_cpu_us_per_op;
}

/* True (with the reason) when the document has no usable section: absent, or unavailable. */
static bool section_missing(const struct job_doc *d, const struct job_doc_backend *b, char *why,
                            size_t len) {
  const char *section = b == &d->agent ? "agent" : "redis";
  if (!b->present) {
    bool runtime = job_doc_param_present(d, "placement") && !strcmp(d->params.placement, "runtime");
    if (b == &d->agent && runtime) snprintf(why, len, "runtime batching: no agent");
    else if (b == &d->agent && doc_batching(d) == 0) snprintf(why, len, "direct run: no agent");
    else snprintf(why, len, "no %s section in the document", section);
    return true;
  }
  if (b->unavailable) {
    snprintf(why, len, "%s unavailable: %s", section, b->unavailable);
    return true;
  }
  return false;
}

/* action_cpu.cpu_us_per_op (the local target's action processes, job_doc.h); NAN with the
 * reason when the document lacks it. */
static double action_cpu_metric(const struct job_doc *d, char *why, size_t len) {
  const struct job_doc_action_cpu *a = &d->action_cpu;
  if (a->present && a->cpu_us_per_op.has == JOB_DOC_SET) return a->cpu_us_per_op.v;
  if (!a->present)
    snprintf(why, len, "no action_cpu section (measured on the local target only%s%s)",
             d->target_kind ? "; target " : "", d->target_kind ? d->target_kind : "");
  else
    snprintf(why, len, "action_cpu.cpu_us_per_op is %s",
             a->cpu_us_per_op.has == JOB_DOC_NULL ? "null" : "missing");
  return (double)NAN;
}

double job_doc_metric(const struct job_doc *d, enum job_doc_metric m, char *why, size_t whylen) {
  if (m == JOB_DM_ACTION_CPU) {
    why[0] = '\0';
    return action_cpu_metric(d, why, whylen);
  }
  const struct job_doc_backend *sec;
  const char *name;
  const struct job_doc_figure *f = metric_figure(d, m, &sec, &name);
  why[0] = '\0';
  if (sec && section_missing(d, sec, why, whylen)) return (double)NAN;
  if (f->has == JOB_DOC_SET) return f->v;
  /* backend_cpu_us_per_op is null because a part is missing: name that part. */
  if (m == JOB_DM_BACKEND_CPU &&
      (section_missing(d, &d->redis, why, whylen) ||
       (doc_batching(d) != 0 && section_missing(d, &d->agent, why, whylen))))
    return (double)NAN;
  const char *note = sec ? sec->note : NULL;
  snprintf(why, whylen, "%s is %s%s%s%s", name, f->has == JOB_DOC_ABSENT ? "missing" : "null",
           note ? " (" : "", note ? note : "", note ? ")" : "");
  return (double)NAN;
}

/* ---- where batching lived ------------------------------------------------------------ */

struct placement_knobs {
  const char *placement, *backend, *layer, *layer_args;
  long long concurrency, connections, wait_us;
  bool coalesce;
};

static void describe(const struct placement_knobs *k, char *buf, size_t len) {
  char extra[200] = "";
  size_t n = 0;
#define ADD(...)                                                                                   \
  do {                                                                                             \
    if (n < sizeof extra) n += (size_t)snprintf(extra + n, sizeof extra - n, "%s", n ? ", " : ""); \
    if (n < sizeof extra) n += (size_t)snprintf(extra + n, sizeof extra - n, __VA_ARGS__);         \
  } while (0)
  bool runtime = !strcmp(k->placement, "runtime"), agent = !strcmp(k->placement, "agent");
  bool started = k->backend && !strcmp(k->backend, "start");
  if (k->concurrency > 1) ADD("C=%lld", k->concurrency);
  if (runtime && k->connections > 1) ADD("%lld connections", k->connections);
  if (runtime && k->wait_us > 0) ADD("wait %lld us", k->wait_us);
  if (runtime && k->coalesce) ADD("coalescing");
  if (agent && started && k->layer_args && k->layer_args[0] && k->layer &&
      strcmp(k->layer, "nutcracker"))
    ADD("%.120s", k->layer_args);
#undef ADD
  const char *what =
      runtime ? "runtime batching"
      : agent
          ? (started && k->layer && !strcmp(k->layer, "nutcracker") ? "nutcracker" : "the agent")
          : k->placement;
  if (extra[0]) snprintf(buf, len, "%s (%s)", what, extra);
  else snprintf(buf, len, "%s", what);
}

void job_compare_describe(const struct job_doc *d, char *buf, size_t len) {
  const struct job_params *p = &d->params;
  struct placement_knobs k = {NULL,
                              p->backend,
                              p->layer,
                              p->layer_args,
                              p->action_concurrency,
                              p->batch_connections,
                              p->batch_wait_us,
                              p->batch_coalesce};
  if (job_doc_param_present(d, "placement")) k.placement = p->placement;
  else if (job_doc_param_present(d, "batching")) k.placement = p->batching ? "agent" : "direct";
  if (!k.placement) {
    if (len) buf[0] = '\0';
    return;
  }
  describe(&k, buf, len);
}

static const char *jstr(const cJSON *o, const char *key, const char *dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : dflt;
}

static long long jint(const cJSON *o, const char *key, long long dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? (long long)v->valuedouble : dflt;
}

void job_compare_describe_json(const cJSON *params, char *buf, size_t len) {
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(params, "batching");
  struct placement_knobs k = {
      jstr(params, "placement", cJSON_IsBool(b) ? (cJSON_IsTrue(b) ? "agent" : "direct") : NULL),
      jstr(params, "backend", "env"),
      jstr(params, "layer", "rbench-agent"),
      jstr(params, "layer_args", ""),
      jint(params, "action_concurrency", 1),
      jint(params, "batch_connections", 1),
      jint(params, "batch_wait_us", 0),
      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "batch_coalesce"))};
  if (!k.placement) {
    if (len) buf[0] = '\0';
    return;
  }
  describe(&k, buf, len);
}

double job_doc_metric_value(const cJSON *doc, enum job_doc_metric m, char *why, size_t whylen) {
  struct job_doc d;
  if (job_doc_read(doc, NULL, &d, why, whylen) != RB_OK) return (double)NAN;
  double v = job_doc_metric(&d, m, why, whylen);
  job_doc_free(&d);
  return v;
}

static bool series_add(struct job_doc_series *s, double v, const char *why) {
  if (isnan(v)) {
    if (!s->why[0]) snprintf(s->why, sizeof s->why, "%s", why);
    return true;
  }
  double *n = realloc(s->v, (s->n + 1) * sizeof *n);
  if (!n) return false;
  s->v = n;
  s->v[s->n++] = v;
  return true;
}

static bool add_doc_metrics(struct job_side *s, const struct job_doc *d) {
  char why[sizeof s->per_doc[0].why];
  for (int m = 0; m < JOB_DM_COUNT; m++) {
    double v = job_doc_metric(d, (enum job_doc_metric)m, why, sizeof why);
    if (!series_add(&s->per_doc[m], v, why)) return false;
  }
  int b = doc_batching(d);
  s->batching = s->docs == 0 ? b : (s->batching == b ? b : -1);
  char desc[sizeof s->placement];
  job_compare_describe(d, desc, sizeof desc);
  if (s->docs == 0) {
    snprintf(s->placement, sizeof s->placement, "%s", desc);
    snprintf(s->run, sizeof s->run, "%s", d->run_name ? d->run_name : "");
  } else if (strcmp(s->placement, desc)) {
    snprintf(s->placement, sizeof s->placement, "mixed");
  }
  long long n = doc_concurrency(d);
  s->concurrency = s->docs == 0 ? n : (s->concurrency == n ? n : -1);
  return true;
}

/* The document's "operations": each type's histogram pooled into the side, its p50 and p99
 * kept per document. */
static bool add_doc_ops(struct job_side *s, const struct job_doc *d) {
  for (size_t i = 0; i < d->nops; i++) {
    const struct job_doc_op *o = &d->ops[i];
    enum rb_op op;
    if (!rb_op_from_name(o->name, strlen(o->name), &op)) continue;
    if (!series_add(&s->op_p50[op], o->latency.p50, "no latency_ms.p50") ||
        !series_add(&s->op_p99[op], o->latency.p99, "no latency_ms.p99"))
      return false;
    if (!o->histogram) continue;
    struct job_hist *h = job_hist_from_json(o->histogram, NULL, 0);
    if (!h) continue; /* validated by job_doc_read */
    if (!s->op_hist[op]) s->op_hist[op] = h;
    else {
      job_hist_merge(s->op_hist[op], h);
      job_hist_destroy(h);
    }
  }
  return true;
}

enum rb_err job_side_add_doc(struct job_side *s, const struct job_doc *d, char *err,
                             size_t errlen) {
  if (!d->has_raw)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s%sa summary without raw_results: compare needs the full results "
                     "file",
                     d->path ? d->path : "", d->path ? ": " : "");
  size_t first = s->n;
  for (size_t i = 0; i < d->nraw; i++) {
    const struct job_doc_record *r = &d->raw[i];
    if (r->warmup || !r->success || isnan(r->execution_ms)) continue;
    if (!push(s, r->execution_ms)) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  }
  double *m = realloc(s->medians, (s->docs + 1) * sizeof *m);
  if (!m) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  s->medians = m;
  size_t cnt = s->n - first;
  double *tmp = cnt ? malloc(cnt * sizeof *tmp) : NULL;
  if (cnt && !tmp) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  if (cnt) memcpy(tmp, s->exec + first, cnt * sizeof *tmp);
  job_sort_doubles(tmp, cnt);
  s->medians[s->docs] = cnt ? job_quantile_sorted(tmp, cnt, 50) : (double)NAN;
  free(tmp);
  if (!add_doc_metrics(s, d) || !add_doc_ops(s, d))
    return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  if (!s->docs) job_doc_workload_text(d, s->workload, sizeof s->workload);
  s->docs++;
  /* aborted invocations (stopped by a signal) count in neither rate */
  s->measured += d->measured - (isnan(d->aborted) ? 0 : d->aborted);
  s->succeeded += d->succeeded;
  s->cold_starts += d->cold_starts;
  s->achieved_rate_sum += d->achieved_rate;
  s->requested_rate_sum += d->requested_rate;
  s->throughput_sum += d->throughput;
  if (d->arrival.present && !isnan(d->arrival.intended_cv))
    s->arrival_cv_intended_sum += d->arrival.intended_cv, s->arrival_cv_intended_n++;
  if (d->arrival.present && !isnan(d->arrival.realised_cv))
    s->arrival_cv_realised_sum += d->arrival.realised_cv, s->arrival_cv_realised_n++;
  add_p50(&d->srv_duration, &s->srv_duration_sum, &s->srv_duration_n);
  add_p50(&d->srv_wait, &s->srv_wait_sum, &s->srv_wait_n);
  add_p50(&d->srv_init, &s->srv_init_sum, &s->srv_init_n);
  return RB_OK;
}

enum rb_err job_side_add(struct job_side *s, const cJSON *doc, char *err, size_t errlen) {
  struct job_doc d;
  enum rb_err rc = job_doc_read(doc, NULL, &d, err, errlen);
  if (rc != RB_OK) return rc;
  rc = job_side_add_doc(s, &d, err, errlen);
  job_doc_free(&d);
  return rc;
}

static double ratio(double x, double n) { return n > 0 ? x / n : (double)NAN; }

size_t job_quantile_min_samples(double q) {
  if (q <= 0 || q >= 100) return 1;
  return (size_t)ceil(100.0 / (100.0 - q) - 1e-9);
}

static struct job_cmp_row *row(struct job_comparison *c, const char *metric, const char *key,
                               double a, double b, enum job_cmp_test test) {
  struct job_cmp_row *r = &c->rows[c->nrows++];
  memset(r, 0, sizeof *r);
  r->metric = metric;
  r->key = key;
  r->a = a;
  r->b = b;
  r->change = (a != 0 && !isnan(a) && !isnan(b)) ? (b - a) / a : (double)NAN;
  r->test = test;
  r->p = (double)NAN;
  r->p_adjusted = (double)NAN;
  r->reliable_a = r->reliable_b = true;
  return r;
}

static double q(const double *sorted, size_t n, double p) {
  return n ? job_quantile_sorted(sorted, n, p) : (double)NAN;
}

static double mean(const double *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += v[i];
  return n ? s / (double)n : (double)NAN;
}

static void pct_row(struct job_comparison *c, const char *metric, const char *key, const double *sa,
                    size_t na, const double *sb, size_t nb, double quantile,
                    enum job_cmp_test test) {
  struct job_cmp_row *r = row(c, metric, key, q(sa, na, quantile), q(sb, nb, quantile), test);
  size_t need = job_quantile_min_samples(quantile);
  r->quantile = quantile;
  r->na = na;
  r->nb = nb;
  r->reliable_a = na >= need;
  r->reliable_b = nb >= need;
  /* Comparing two maxima is not comparing p99s: such a row gets no test. */
  if (test == JOB_TEST_P99_CI && !(r->reliable_a && r->reliable_b)) r->test = JOB_TEST_NONE;
}

static void latency_rows(struct job_comparison *c, const struct job_side *a,
                         const struct job_side *b, double *sa, double *sb) {
  pct_row(c, "execution p50 (ms)", "execution_p50_ms", sa, a->n, sb, b->n, 50,
          JOB_TEST_LATENCY_MWU);
  pct_row(c, "execution p90 (ms)", "execution_p90_ms", sa, a->n, sb, b->n, 90, JOB_TEST_NONE);
  pct_row(c, "execution p99 (ms)", "execution_p99_ms", sa, a->n, sb, b->n, 99, JOB_TEST_P99_CI);
  row(c, "execution mean (ms)", "execution_mean_ms", mean(sa, a->n), mean(sb, b->n),
      JOB_TEST_LATENCY_MWU);
  row(c, "execution min (ms)", "execution_min_ms", q(sa, a->n, 0), q(sb, b->n, 0), JOB_TEST_NONE);
  row(c, "execution max (ms)", "execution_max_ms", q(sa, a->n, 100), q(sb, b->n, 100),
      JOB_TEST_NONE);
}

static double series_median(const struct job_doc_series *s) {
  if (!s->n) return (double)NAN;
  double *t = malloc(s->n * sizeof *t);
  if (!t) return (double)NAN;
  memcpy(t, s->v, s->n * sizeof *t);
  job_sort_doubles(t, s->n);
  double m = s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
  free(t);
  return m;
}

static const char *series_why(const struct job_side *s, const struct job_doc_series *x) {
  if (x->n) return NULL;
  return s->docs ? x->why : "no documents";
}

/* A row of per-document figures: the median of the repetitions' values, tested with
 * Mann-Whitney U on those values. */
static void doc_row(struct job_comparison *c, const char *metric, const char *key,
                    const struct job_side *a, const struct job_side *b, enum job_doc_metric m) {
  const struct job_doc_series *x = &a->per_doc[m], *y = &b->per_doc[m];
  struct job_cmp_row *r =
      row(c, metric, key, series_median(x), series_median(y), JOB_TEST_PER_DOC_MWU);
  r->na = x->n;
  r->nb = y->n;
  r->why_a = series_why(a, x);
  r->why_b = series_why(b, y);
  struct job_mwu t;
  if (x->n && y->n && job_mwu_test(x->v, x->n, y->v, y->n, &t) == RB_OK) r->p = t.p;
  else r->test = JOB_TEST_NONE;
}

static void other_rows(struct job_comparison *c, const struct job_side *a,
                       const struct job_side *b) {
  row(c, "success rate", "success_rate", ratio(a->succeeded, a->measured),
      ratio(b->succeeded, b->measured), JOB_TEST_NONE);
  row(c, "error rate", "error_rate", 1 - ratio(a->succeeded, a->measured),
      1 - ratio(b->succeeded, b->measured), JOB_TEST_NONE);
  row(c, "requested rate (/s)", "requested_rate", ratio(a->requested_rate_sum, (double)a->docs),
      ratio(b->requested_rate_sum, (double)b->docs), JOB_TEST_NONE);
  row(c, "achieved rate (/s)", "achieved_rate", ratio(a->achieved_rate_sum, (double)a->docs),
      ratio(b->achieved_rate_sum, (double)b->docs), JOB_TEST_NONE);
  if (a->arrival_cv_intended_n + b->arrival_cv_intended_n) {
    /* the gaps' coefficient of variation: how bursty the arrivals were asked to be (0 constant,
     * 1 Poisson) and how bursty the runner's sends were */
    row(c, "arrival gap CV intended", "arrival_intended_cv",
        ratio(a->arrival_cv_intended_sum, (double)a->arrival_cv_intended_n),
        ratio(b->arrival_cv_intended_sum, (double)b->arrival_cv_intended_n), JOB_TEST_NONE);
    row(c, "arrival gap CV realised", "arrival_realised_cv",
        ratio(a->arrival_cv_realised_sum, (double)a->arrival_cv_realised_n),
        ratio(b->arrival_cv_realised_sum, (double)b->arrival_cv_realised_n), JOB_TEST_NONE);
  }
  doc_row(c, "throughput (/s)", "throughput", a, b, JOB_DM_THROUGHPUT);
  row(c, "server duration p50 (ms)", "server_duration_p50_ms",
      ratio(a->srv_duration_sum, (double)a->srv_duration_n),
      ratio(b->srv_duration_sum, (double)b->srv_duration_n), JOB_TEST_NONE);
  row(c, "server waitTime p50 (ms)", "server_wait_time_p50_ms",
      ratio(a->srv_wait_sum, (double)a->srv_wait_n), ratio(b->srv_wait_sum, (double)b->srv_wait_n),
      JOB_TEST_NONE);
  row(c, "server initTime p50 (ms)", "server_init_time_p50_ms",
      ratio(a->srv_init_sum, (double)a->srv_init_n), ratio(b->srv_init_sum, (double)b->srv_init_n),
      JOB_TEST_NONE);
  row(c, "cold starts", "cold_starts", a->cold_starts, b->cold_starts, JOB_TEST_NONE);
}

static void backend_rows(struct job_comparison *c, const struct job_side *a,
                         const struct job_side *b) {
  doc_row(c, "Redis CPU/op (us)", "redis_cpu_us_per_op", a, b, JOB_DM_REDIS_CPU);
  doc_row(c, "Redis commands/op", "redis_commands_per_op", a, b, JOB_DM_REDIS_COMMANDS);
  doc_row(c, "Redis reads/op", "redis_reads_per_op", a, b, JOB_DM_REDIS_READS);
  doc_row(c, "Redis bytes/op", "redis_bytes_per_op", a, b, JOB_DM_REDIS_BYTES);
  doc_row(c, "agent CPU/op (us)", "agent_cpu_us_per_op", a, b, JOB_DM_AGENT_CPU);
  doc_row(c, "backend CPU/op (us)", "backend_cpu_us_per_op", a, b, JOB_DM_BACKEND_CPU);
  doc_row(c, "commands per batch", "commands_per_batch", a, b, JOB_DM_PER_BATCH);
  /* the action processes' CPU (runtime batching's cost lives there): when a side has it */
  if (a->per_doc[JOB_DM_ACTION_CPU].n || b->per_doc[JOB_DM_ACTION_CPU].n)
    doc_row(c, "action CPU/op (us)", "action_cpu_us_per_op", a, b, JOB_DM_ACTION_CPU);
}

/* Row names per operation type ("get p50 (ms)", "op_get_p50_ms"): static, built once. */
static char op_metric[RB_OP_COUNT][2][48], op_key[RB_OP_COUNT][2][48];

static double hist_ms(const struct job_hist *h, double q) {
  return h && job_hist_count(h) ? (double)job_hist_percentile(h, q) / 1000.0 : (double)NAN;
}

/* p50 and p99 per operation type that either side's documents report: the pooled
 * histograms' percentiles; tested (Mann-Whitney U on the per-repetition values, as the other
 * per-document rows) when both sides have two repetitions or more, descriptive otherwise. */
static void op_rows(struct job_comparison *c, const struct job_side *a, const struct job_side *b) {
  for (int i = 0; i < RB_OP_COUNT; i++) {
    if (!a->op_p50[i].n && !b->op_p50[i].n && !a->op_hist[i] && !b->op_hist[i]) continue;
    if (c->nrows + 2 > JOB_CMP_ROWS) return;
    c->op_rows = true;
    for (int k = 0; k < 2; k++) {
      double quant = k ? 99 : 50;
      const struct job_doc_series *x = k ? &a->op_p99[i] : &a->op_p50[i];
      const struct job_doc_series *y = k ? &b->op_p99[i] : &b->op_p50[i];
      if (!op_metric[i][k][0]) {
        snprintf(op_metric[i][k], sizeof op_metric[i][k], "%s p%d (ms)", rb_op_name((enum rb_op)i),
                 k ? 99 : 50);
        snprintf(op_key[i][k], sizeof op_key[i][k], "op_%s_p%d_ms", rb_op_name((enum rb_op)i),
                 k ? 99 : 50);
      }
      bool tested = x->n >= 2 && y->n >= 2;
      if (!tested) c->op_descriptive = true;
      struct job_cmp_row *r =
          row(c, op_metric[i][k], op_key[i][k], hist_ms(a->op_hist[i], quant),
              hist_ms(b->op_hist[i], quant), tested ? JOB_TEST_PER_DOC_MWU : JOB_TEST_NONE);
      r->na = x->n;
      r->nb = y->n;
      r->why_a = a->op_hist[i] ? NULL : "no operations section for this type";
      r->why_b = b->op_hist[i] ? NULL : "no operations section for this type";
      struct job_mwu t;
      if (tested && job_mwu_test(x->v, x->n, y->v, y->n, &t) == RB_OK) r->p = t.p;
      else r->test = JOB_TEST_NONE;
    }
  }
}

/* ---- practical thresholds ------------------------------------------------------------- */

static const struct {
  const char *key;
  double v;
} min_change_defaults[] = {
    {"execution_p50_ms", JOB_MIN_CHANGE_DEFAULT},
    {"execution_p99_ms", JOB_MIN_CHANGE_P99},
    {"execution_mean_ms", JOB_MIN_CHANGE_DEFAULT},
    {"throughput", JOB_MIN_CHANGE_DEFAULT},
    {"redis_cpu_us_per_op", JOB_MIN_CHANGE_DEFAULT},
    {"redis_commands_per_op", JOB_MIN_CHANGE_DEFAULT},
    {"redis_reads_per_op", JOB_MIN_CHANGE_DEFAULT},
    {"redis_bytes_per_op", JOB_MIN_CHANGE_DEFAULT},
    {"agent_cpu_us_per_op", JOB_MIN_CHANGE_DEFAULT},
    {"backend_cpu_us_per_op", JOB_MIN_CHANGE_DEFAULT},
    {"commands_per_batch", JOB_MIN_CHANGE_DEFAULT},
    {"action_cpu_us_per_op", JOB_MIN_CHANGE_DEFAULT},
};

double job_min_change_default(const char *key) {
  for (size_t i = 0; i < sizeof min_change_defaults / sizeof min_change_defaults[0]; i++)
    if (!strcmp(min_change_defaults[i].key, key)) return min_change_defaults[i].v;
  return (double)NAN;
}

void job_min_change_init(struct job_min_change *m) {
  memset(m, 0, sizeof *m);
  m->all = (double)NAN;
}

enum rb_err job_min_change_parse(struct job_min_change *m, const char *spec, char *err,
                                 size_t errlen) {
  const char *eq = strchr(spec, '='), *num = eq ? eq + 1 : spec;
  char key[40] = "", *end = NULL;
  if (eq) snprintf(key, sizeof key, "%.*s", (int)(eq - spec < 39 ? eq - spec : 39), spec);
  double pct = strtod(num, &end);
  if (end && *end == '%') end++;
  if (!*num || !end || *end || !(pct >= 0 && pct <= 1000))
    return rb_errorf(
        RB_ERR_INVALID, err, errlen,
        "--min-change expects PCT or METRIC=PCT with PCT a percentage from 0 to 1000, got '%s'",
        spec);
  if (eq && isnan(job_min_change_default(key))) {
    int k = snprintf(err, errlen, "--min-change: '%s' is not a tested metric (one of", key);
    for (size_t i = 0; i < sizeof min_change_defaults / sizeof min_change_defaults[0] && k >= 0 &&
                       (size_t)k < errlen;
         i++)
      k += snprintf(err + k, errlen - (size_t)k, "%s %s", i ? "," : "", min_change_defaults[i].key);
    if (k >= 0 && (size_t)k < errlen) snprintf(err + k, errlen - (size_t)k, ")");
    return RB_ERR_INVALID;
  }
  if (!eq) {
    m->all = pct / 100;
    return RB_OK;
  }
  size_t i = 0;
  while (i < m->n && strcmp(m->one[i].key, key)) i++;
  if (i == m->n) m->n++;
  snprintf(m->one[i].key, sizeof m->one[i].key, "%s", key);
  m->one[i].v = pct / 100;
  return RB_OK;
}

static double min_change_for(const struct job_min_change *m, const char *key) {
  for (size_t i = 0; m && i < m->n; i++)
    if (!strcmp(m->one[i].key, key)) return m->one[i].v;
  double d = job_min_change_default(key);
  return m && !isnan(m->all) && !isnan(d) ? m->all : d;
}

void job_compare_apply_min_change(struct job_comparison *c, const struct job_min_change *m) {
  for (size_t i = 0; i < c->nrows; i++) {
    struct job_cmp_row *r = &c->rows[i];
    r->min_change = r->test ? min_change_for(m, r->key) : (double)NAN;
    r->negligible = r->significant && !isnan(r->min_change) && !isnan(r->change) &&
                    fabs(r->change) < r->min_change;
  }
}

enum rb_err job_compare_compute(const struct job_side *a, const struct job_side *b, double alpha,
                                uint64_t seed, struct job_comparison *out) {
  memset(out, 0, sizeof *out);
  out->alpha = alpha;
  out->concurrency = a->concurrency == b->concurrency ? a->concurrency : -1;
  double *sa = a->n ? malloc(a->n * sizeof *sa) : NULL,
         *sb = b->n ? malloc(b->n * sizeof *sb) : NULL;
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
  backend_rows(out, a, b);
  op_rows(out, a, b);
  enum rb_err rc = RB_OK;
  out->mwu_on_medians = a->docs > 1 || b->docs > 1;
  if (out->mwu_on_medians) rc = job_mwu_test(a->medians, a->docs, b->medians, b->docs, &out->mwu);
  else if (a->n && b->n) rc = job_mwu_test(a->exec, a->n, b->exec, b->n, &out->mwu);
  else rc = RB_ERR_INVALID;
  out->have_test = rc == RB_OK;
  if (a->n && b->n) {
    out->have_ci = job_bootstrap_quantile_diff(a->exec, a->n, b->exec, b->n, 50, 1000, seed, 0.95,
                                               &out->median_diff) == RB_OK &&
                   job_bootstrap_quantile_diff(a->exec, a->n, b->exec, b->n, 99, 1000, seed + 1,
                                               0.95, &out->p99_diff) == RB_OK;
  }
  for (size_t i = 0; i < out->nrows; i++) {
    struct job_cmp_row *r = &out->rows[i];
    if (r->test == JOB_TEST_LATENCY_MWU) {
      r->p = out->have_test ? out->mwu.p : (double)NAN;
      r->significant = out->have_test && out->mwu.p < alpha;
    }
    if (r->test == JOB_TEST_P99_CI)
      r->significant = out->have_ci && (out->p99_diff.lo > 0 || out->p99_diff.hi < 0);
    if (r->test == JOB_TEST_PER_DOC_MWU) r->significant = r->p < alpha;
  }
  job_compare_apply_min_change(out, NULL);
  free(sa);
  free(sb);
  return rc == RB_ERR_NOMEM ? rc : RB_OK;
}

const struct job_cmp_row *job_compare_row(const struct job_comparison *c, const char *key) {
  for (size_t i = 0; i < c->nrows; i++)
    if (!strcmp(c->rows[i].key, key)) return &c->rows[i];
  return NULL;
}

static void cell(char *buf, size_t len, double v, const char *why, bool reliable) {
  if (isnan(v)) snprintf(buf, len, "%s", why ? "n/a" : "-");
  else snprintf(buf, len, "%.4g%s", v, reliable ? "" : "*");
}

static void change_cell(char *buf, size_t len, const struct job_cmp_row *r) {
  if (r->test && !r->significant) snprintf(buf, len, "~");
  else if (isnan(r->change)) snprintf(buf, len, "-");
  else snprintf(buf, len, "%+.1f%%", r->change * 100);
}

/* What the row's test ran on, and for a percentile row the invocations its values pool: a
 * p50 tested on 5+5 repetition medians must not read as a test on 2000+2000 invocations. */
void job_compare_test_basis(const struct job_comparison *c, const struct job_cmp_row *r, char *buf,
                            size_t len) {
  size_t n1 = c->mwu.n1, n2 = c->mwu.n2;
  if (r->test == JOB_TEST_LATENCY_MWU && c->mwu_on_medians)
    snprintf(buf, len, "U test on %zu+%zu repetition medians", n1, n2);
  else if (r->test == JOB_TEST_LATENCY_MWU)
    snprintf(buf, len, "U test on %zu+%zu invocations", n1, n2);
  else if (r->test == JOB_TEST_P99_CI)
    snprintf(buf, len, "bootstrap CI on %zu+%zu invocations", r->na, r->nb);
  else if (r->test == JOB_TEST_PER_DOC_MWU)
    snprintf(buf, len, "U test on %zu+%zu repetitions", r->na, r->nb);
  else if (r->quantile > 0) snprintf(buf, len, "no test, %zu+%zu invocations", r->na, r->nb);
  else buf[0] = '\0';
  size_t k = strlen(buf);
  if (r->test == JOB_TEST_LATENCY_MWU && c->mwu_on_medians && r->quantile > 0 && k < len)
    snprintf(buf + k, len - k, "; values over %zu+%zu invocations pooled", r->na, r->nb);
}

static void note_cell(char *buf, size_t len, const struct job_comparison *c,
                      const struct job_cmp_row *r) {
  char basis[160];
  job_compare_test_basis(c, r, basis, sizeof basis);
  int k = basis[0] ? snprintf(buf, len, "  (%s)", basis) : 0;
  if (k < 0 || (size_t)k >= len) return;
  buf[k] = '\0';
  if (r->negligible)
    snprintf(buf + k, len - (size_t)k, "  detectable but negligible (|change| < %.3g%%)",
             r->min_change * 100);
}

static bool any_unreliable(const struct job_comparison *c) {
  for (size_t i = 0; i < c->nrows; i++) {
    const struct job_cmp_row *r = &c->rows[i];
    if ((!r->reliable_a && r->na) || (!r->reliable_b && r->nb)) return true;
  }
  return false;
}

/* One line per distinct reason a side's figures are missing, naming the rows it empties. */
static void print_unavailable(FILE *f, const struct job_comparison *c, bool side_b) {
  for (size_t i = 0; i < c->nrows; i++) {
    const char *why = side_b ? c->rows[i].why_b : c->rows[i].why_a;
    bool seen = false;
    for (size_t k = 0; why && k < i && !seen; k++) {
      const char *w = side_b ? c->rows[k].why_b : c->rows[k].why_a;
      seen = w && !strcmp(w, why);
    }
    if (!why || seen) continue;
    fprintf(f, "n/a in %c (%s", side_b ? 'B' : 'A', c->rows[i].metric);
    for (size_t k = i + 1; k < c->nrows; k++) {
      const char *w = side_b ? c->rows[k].why_b : c->rows[k].why_a;
      if (w && !strcmp(w, why)) fprintf(f, ", %s", c->rows[k].metric);
    }
    fprintf(f, "): %s\n", why);
  }
}

static bool any_row(const struct job_comparison *c, bool (*pred)(const struct job_cmp_row *)) {
  for (size_t i = 0; i < c->nrows; i++)
    if (pred(&c->rows[i])) return true;
  return false;
}

static bool row_per_doc(const struct job_cmp_row *r) { return r->test == JOB_TEST_PER_DOC_MWU; }
static bool row_tilde(const struct job_cmp_row *r) { return r->test && !r->significant; }
static bool row_negligible(const struct job_cmp_row *r) { return r->negligible; }

/* Only the footnotes whose mark some row carries. */
static void print_footnotes(FILE *f, const struct job_comparison *c) {
  if (any_row(c, row_per_doc))
    fprintf(f,
            "(U test on N+M repetitions): the median of the repetitions' values, Mann-Whitney U on "
            "those values\n");
  if (any_row(c, row_tilde))
    fprintf(f, "~ : the difference is not significant at alpha %.2g\n", c->alpha);
  if (any_row(c, row_negligible))
    fprintf(f,
            "detectable but negligible: significant, but smaller than the change that matters for "
            "that metric\n"
            "  (--min-change; default %.3g%%, execution p99 %.3g%%)\n",
            JOB_MIN_CHANGE_DEFAULT * 100, JOB_MIN_CHANGE_P99 * 100);
}

/* The p99 interval compares maxima when a side has fewer than 100 invocations. */
static bool p99_reliable(const struct job_comparison *c) {
  const struct job_cmp_row *r = job_compare_row(c, "execution_p99_ms");
  return r && r->reliable_a && r->reliable_b;
}

static void mode_text(char *buf, size_t len, long long concurrency) {
  if (concurrency > 0) snprintf(buf, len, ", closed loop: %lld in flight", concurrency);
  else if (concurrency < 0) snprintf(buf, len, ", open and closed loops mixed");
  else buf[0] = '\0';
}

static void print_notes(FILE *f, char side, const char *notes) {
  for (const char *p = notes; *p;) {
    const char *nl = strchr(p, '\n');
    int n = nl ? (int)(nl - p) : (int)strlen(p);
    fprintf(f, "note (%c): %.*s\n", side, n, p);
    p += n + (nl ? 1 : 0);
  }
}

void job_compare_print(FILE *f, const struct job_side *a, const struct job_side *b,
                       const struct job_comparison *c) {
  char ma[64], mb[64];
  mode_text(ma, sizeof ma, a->concurrency);
  mode_text(mb, sizeof mb, b->concurrency);
  fprintf(f, "A: %s (%zu document%s, %zu successful invocations%s)\n", a->label, a->docs,
          a->docs == 1 ? "" : "s", a->n, ma);
  fprintf(f, "B: %s (%zu document%s, %zu successful invocations%s)\n", b->label, b->docs,
          b->docs == 1 ? "" : "s", b->n, mb);
  print_notes(f, 'A', a->notes);
  print_notes(f, 'B', b->notes);
  if (a->workload[0] && !strcmp(a->workload, b->workload))
    fprintf(f, "workload: %s\n", a->workload);
  else if (a->workload[0] || b->workload[0])
    fprintf(f, "workload A: %s\nworkload B: %s\n", a->workload[0] ? a->workload : "unknown",
            b->workload[0] ? b->workload : "unknown");
  if (c->concurrency < 0)
    fprintf(
        f,
        "note: the sides were not run the same way (open loop, or a different concurrency): their\n"
        "      latency and throughput answer different questions\n");
  fputc('\n', f);
  fprintf(f, "%-26s %12s %12s %10s\n", "metric", "A", "B", "change");
  for (size_t i = 0; i < c->nrows; i++) {
    const struct job_cmp_row *r = &c->rows[i];
    char av[32], bv[32], ch[32], note[300];
    cell(av, sizeof av, r->a, r->why_a, r->reliable_a);
    cell(bv, sizeof bv, r->b, r->why_b, r->reliable_b);
    change_cell(ch, sizeof ch, r);
    note_cell(note, sizeof note, c, r);
    fprintf(f, "%-26s %12s %12s %10s%s\n", r->metric, av, bv, ch, note);
  }
  fputc('\n', f);
  if (any_unreliable(c))
    fprintf(
        f,
        "* fewer samples (n) than the percentile needs (p90: %zu, p99: %zu): the value is the "
        "sample\n"
        "  maximum, not that percentile, and gets no test; run more invocations or repetitions\n",
        job_quantile_min_samples(90), job_quantile_min_samples(99));
  print_unavailable(f, c, false);
  print_unavailable(f, c, true);
  if (c->have_test)
    fprintf(f,
            "Mann-Whitney U on %s: U=%.1f n=%zu+%zu p=%.4g%s (%s at alpha %.2g); P(A > B)=%.3f\n",
            c->mwu_on_medians ? "per-repetition medians" : "invocation execution times", c->mwu.u,
            c->mwu.n1, c->mwu.n2, c->mwu.p, c->mwu.exact ? " exact" : "",
            c->mwu.p < c->alpha ? "significant" : "not significant", c->alpha, c->mwu.a12);
  else fprintf(f, "Mann-Whitney U: not enough successful invocations to test\n");
  if (c->have_ci) {
    fprintf(f, "median difference B-A: %+.4g ms, 95%% CI [%+.4g, %+.4g]\n", c->median_diff.estimate,
            c->median_diff.lo, c->median_diff.hi);
    if (p99_reliable(c))
      fprintf(f, "p99 difference B-A:    %+.4g ms, 95%% CI [%+.4g, %+.4g]\n", c->p99_diff.estimate,
              c->p99_diff.lo, c->p99_diff.hi);
  }
  print_footnotes(f, c);
  if (c->op_rows)
    fprintf(f,
            "per-operation rows: the actions' own timings of each command (op_stats), pooled over "
            "the\n  repetitions' histograms%s\n",
            c->op_descriptive ? ";\n  descriptive only where a side has a single repetition "
                                "(no test: the actions report\n  histograms, not samples)"
                              : ";\n  tested on the per-repetition values");
  if (a->batching == 0 && b->batching == 1) {
    char h[1024];
    job_compare_headline(c, h, sizeof h);
    fprintf(f, "headline: %s\n", h);
  }
}

static void add_num(cJSON *o, const char *k, double v) {
  if (isnan(v)) cJSON_AddNullToObject(o, k);
  else cJSON_AddNumberToObject(o, k, v);
}

cJSON *job_side_json(const struct job_side *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "label", s->label);
  if (s->workload[0]) cJSON_AddStringToObject(o, "workload", s->workload);
  if (s->run[0]) cJSON_AddStringToObject(o, "run", s->run);
  if (s->placement[0]) cJSON_AddStringToObject(o, "placement", s->placement);
  cJSON_AddNumberToObject(o, "documents", (double)s->docs);
  cJSON_AddNumberToObject(o, "successful_invocations", (double)s->n);
  if (s->batching >= 0) cJSON_AddBoolToObject(o, "batching", s->batching);
  if (s->concurrency >= 0)
    cJSON_AddStringToObject(o, "mode", s->concurrency > 0 ? "closed" : "open");
  else cJSON_AddStringToObject(o, "mode", "mixed");
  if (s->concurrency > 0) cJSON_AddNumberToObject(o, "concurrency", (double)s->concurrency);
  cJSON *notes = cJSON_AddArrayToObject(o, "notes");
  for (const char *p = s->notes; *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char *line = strndup(p, n);
    if (line) cJSON_AddItemToArray(notes, cJSON_CreateString(line));
    free(line);
    p += n + (nl ? 1 : 0);
  }
  return o;
}

static cJSON *ci_json(const struct job_ci *ci) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "estimate", ci->estimate);
  cJSON_AddNumberToObject(o, "ci95_low", ci->lo);
  cJSON_AddNumberToObject(o, "ci95_high", ci->hi);
  return o;
}

static const char *test_name(enum job_cmp_test t) {
  switch (t) {
    case JOB_TEST_LATENCY_MWU: return "mann_whitney";
    case JOB_TEST_P99_CI: return "bootstrap_ci95";
    case JOB_TEST_PER_DOC_MWU: return "mann_whitney_per_repetition";
    case JOB_TEST_NONE: break;
  }
  return NULL;
}

static cJSON *row_json(const struct job_cmp_row *r) {
  cJSON *x = cJSON_CreateObject();
  cJSON_AddStringToObject(x, "metric", r->metric);
  cJSON_AddStringToObject(x, "key", r->key);
  add_num(x, "a", r->a);
  add_num(x, "b", r->b);
  add_num(x, "change", r->change);
  if (r->test) {
    cJSON_AddStringToObject(x, "test", test_name(r->test));
    cJSON_AddBoolToObject(x, "significant", r->significant);
    if (!isnan(r->p)) cJSON_AddNumberToObject(x, "p", r->p);
    add_num(x, "min_change", r->min_change);
    cJSON_AddBoolToObject(x, "negligible", r->negligible);
  }
  if (r->quantile > 0 || r->test == JOB_TEST_PER_DOC_MWU || r->why_a || r->why_b) {
    cJSON_AddNumberToObject(x, "samples_a", (double)r->na);
    cJSON_AddNumberToObject(x, "samples_b", (double)r->nb);
  }
  if (r->quantile > 0) {
    cJSON_AddNumberToObject(x, "min_samples", (double)job_quantile_min_samples(r->quantile));
    cJSON_AddBoolToObject(x, "reliable", r->reliable_a && r->reliable_b);
  }
  if (r->why_a) cJSON_AddStringToObject(x, "a_unavailable", r->why_a);
  if (r->why_b) cJSON_AddStringToObject(x, "b_unavailable", r->why_b);
  return x;
}

cJSON *job_compare_json(const struct job_side *a, const struct job_side *b,
                        const struct job_comparison *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "a", job_side_json(a));
  cJSON_AddItemToObject(o, "b", job_side_json(b));
  cJSON *rows = cJSON_AddArrayToObject(o, "rows");
  for (size_t i = 0; i < c->nrows; i++) cJSON_AddItemToArray(rows, row_json(&c->rows[i]));
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
    if (p99_reliable(c)) cJSON_AddItemToObject(o, "p99_difference_ms", ci_json(&c->p99_diff));
  }
  if (a->batching == 0 && b->batching == 1) {
    char h[1024];
    job_compare_headline(c, h, sizeof h);
    cJSON_AddStringToObject(o, "headline", h);
  }
  return o;
}

/* ---- the headline sentence ------------------------------------------------------------ */

static void p_text(char *buf, size_t len, double p) {
  if (p < 0.001) snprintf(buf, len, "p<0.001");
  else snprintf(buf, len, "p=%.2g", p);
}

/* Smallest two-sided p the exact Mann-Whitney test can give with n1 + n2 values. */
static double min_p(size_t n1, size_t n2) {
  double comb = 1;
  for (size_t i = 1; i <= n2; i++) comb = comb * (double)(n1 + i) / (double)i;
  return 2.0 / comb;
}

/* "; detectable but negligible, under the 5% that matters" for a significant change below the
 * row's practical threshold, "" otherwise. */
static void negligible_text(const struct job_cmp_row *r, char *buf, size_t len) {
  if (r->negligible)
    snprintf(buf, len, "; detectable but negligible, under the %.3g%% that matters",
             r->min_change * 100);
  else buf[0] = '\0';
}

/* "cut Redis CPU per operation 3.8x (p=0.008)" and its true variants. */
static void cost_phrase(const struct job_cmp_row *r, const char *what, double alpha, char *buf,
                        size_t len) {
  char p[32], neg[96];
  p_text(p, sizeof p, r->p);
  negligible_text(r, neg, sizeof neg);
  bool lower = r->b < r->a;
  double factor = lower ? r->a / r->b : r->b / r->a;
  char fx[32];
  if (isfinite(factor)) snprintf(fx, sizeof fx, "%.3gx", factor);
  else snprintf(fx, sizeof fx, "from %.3g to %.3g", r->a, r->b);
  if (r->a == r->b) snprintf(buf, len, "left %s unchanged (%.3g, %s)", what, r->a, p);
  else if (r->significant && r->negligible)
    snprintf(buf, len, "changed %s by only %+.2g%% (%s%s)", what, r->change * 100, p, neg);
  else if (r->significant)
    snprintf(buf, len, "%s %s %s (%s)", lower ? "cut" : "raised", what, fx, p);
  else if (min_p(r->na, r->nb) >= alpha)
    snprintf(buf, len, "%s %s %s on too few repetitions to test (%zu+%zu)",
             lower ? "lowered" : "raised", what, fx, r->na, r->nb);
  else
    snprintf(buf, len, "made no significant difference to %s (%s %s, %s)", what, fx,
             lower ? "lower" : "higher", p);
}

/* "added 0.8 ms at p50 (p=0.008)" and its true variants. */
static void latency_phrase(const struct job_cmp_row *r, char *buf, size_t len) {
  char p[32], neg[96];
  p_text(p, sizeof p, r->p);
  negligible_text(r, neg, sizeof neg);
  double d = r->b - r->a;
  if (isnan(d) || isnan(r->p)) snprintf(buf, len, "p50 latency could not be compared");
  else if (!r->significant)
    snprintf(buf, len, "made no significant difference to p50 latency (%+.2g ms, %s)", d, p);
  else snprintf(buf, len, "%s %.2g ms at p50 (%s%s)", d > 0 ? "added" : "saved", fabs(d), p, neg);
}

/* The other side of the trade: " but raised backend CPU per operation (Redis + agent) 1.63x
 * (p=0.008)" when the backend's CPU per operation moved against Redis's; "" otherwise. */
static void backend_phrase(const struct job_cmp_row *cpu, const struct job_cmp_row *backend,
                           double alpha, char *buf, size_t len) {
  buf[0] = '\0';
  if (!backend || isnan(backend->a) || isnan(backend->b) || backend->test != JOB_TEST_PER_DOC_MWU)
    return;
  double dc = cpu->b - cpu->a, db = backend->b - backend->a;
  if (!(dc * db < 0)) return;
  char how[300];
  cost_phrase(backend, "backend CPU per operation (Redis + agent)", alpha, how, sizeof how);
  snprintf(buf, len, " but %.290s", how);
}

/* Closed loop: "; with 32 invocations in flight (closed loop) throughput rose 1.3x (p=0.008)".
 * Empty for open-loop sides, whose throughput is the offered rate. */
static void closed_phrase(const struct job_comparison *c, char *buf, size_t len) {
  const struct job_cmp_row *t = job_compare_row(c, "throughput");
  if (c->concurrency <= 0 || !t || isnan(t->a) || isnan(t->b) || t->a <= 0 || t->b <= 0) return;
  char what[80], how[300];
  snprintf(what, sizeof what, "throughput");
  cost_phrase(t, what, c->alpha, how, sizeof how);
  /* cost_phrase speaks of costs ("cut"/"raised"); throughput goes down or up */
  const char *verb = strncmp(how, "cut ", 4) == 0      ? "lowered "
                     : strncmp(how, "raised ", 7) == 0 ? "raised "
                                                       : NULL;
  const char *rest = verb ? how + (how[0] == 'c' ? 4 : 7) : how;
  /* cost_phrase's sentences are far shorter than 200 characters; the bound keeps the
   * compiler's truncation analysis (release builds) quiet. */
  snprintf(buf, len, "; with %lld invocations in flight (closed loop) it %s%.200s", c->concurrency,
           verb ? verb : "", rest);
}

void job_compare_sentence(const struct job_comparison *c, const char *subject, char *buf,
                          size_t len) {
  const struct job_cmp_row *cpu = job_compare_row(c, "redis_cpu_us_per_op");
  const struct job_cmp_row *backend = job_compare_row(c, "backend_cpu_us_per_op");
  const struct job_cmp_row *p50 = job_compare_row(c, "execution_p50_ms");
  const char *what = "Redis CPU per operation";
  if (cpu && (isnan(cpu->a) || isnan(cpu->b)) && backend && !isnan(backend->a) &&
      !isnan(backend->b)) {
    cpu = backend;
    what = "backend CPU per operation";
  }
  char lat[200], cost[300];
  latency_phrase(p50, lat, sizeof lat);
  bool lat_verb = strncmp(lat, "p50", 3) != 0;
  if (!cpu || isnan(cpu->a) || isnan(cpu->b) || cpu->test != JOB_TEST_PER_DOC_MWU) {
    const char *why = cpu ? (cpu->why_b ? cpu->why_b : cpu->why_a) : NULL;
    snprintf(buf, len, "%s%s%s; Redis CPU per operation was not measured%s%s%s",
             lat_verb ? subject : "", lat_verb ? " " : "", lat, why ? " (" : "", why ? why : "",
             why ? ")" : "");
    return;
  }
  cost_phrase(cpu, what, c->alpha, cost, sizeof cost);
  char other[320] = "", load[300] = "";
  if (cpu != backend) backend_phrase(cpu, backend, c->alpha, other, sizeof other);
  closed_phrase(c, load, sizeof load);
  if (lat_verb)
    snprintf(buf, len, "%s %s%s%s and %s%s", subject, cost, other, other[0] ? "," : "", lat, load);
  else snprintf(buf, len, "%s %s%s; %s%s", subject, cost, other, lat, load);
}

void job_compare_headline(const struct job_comparison *c, char *buf, size_t len) {
  job_compare_sentence(c, "batching", buf, len);
}
