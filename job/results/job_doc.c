/* job_doc.c: reading and validating a results document into struct job_doc (see job_doc.h). */
#define _GNU_SOURCE
#include "job_doc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_hist.h"
#include "job_reuse.h"

/* What a number is, hence its bounds. */
enum numk {
  N_MS,        /* a duration or a time since the start: [0, JOB_DOC_MAX_MS] */
  N_MS_SIGNED, /* a time since the start that may lie before it: |x| <= JOB_DOC_MAX_MS */
  N_EPOCH_MS,  /* wall-clock ms since the epoch */
  N_RATE,      /* per second: [0, JOB_DOC_MAX_RATE] */
  N_COUNT,     /* a whole number in [0, 2^53] */
  N_FRACTION,  /* [0, 1] */
  N_FIGURE,    /* a server-side figure: [0, JOB_DOC_MAX_FIGURE] */
  N_SECONDS    /* a duration in seconds: [0, JOB_DOC_MAX_MS / 1000] */
};

struct rd {
  const char *path;
  char *err;
  size_t errlen;
  bool failed;
};

static const char *type_name(const cJSON *v) {
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "something else";
}

static void fail(struct rd *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct rd *r, const char *field, const char *fmt, ...) {
  if (r->failed) return;
  r->failed = true;
  char why[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  rb_errorf(RB_ERR_INVALID, r->err, r->errlen, "%s%s%s%s%s", r->path ? r->path : "",
            r->path ? ": " : "", field ? field : "", field ? ": " : "", why);
}

/* "prefix.key" (or "key") into buf. */
static const char *field(char *buf, size_t len, const char *prefix, const char *key) {
  snprintf(buf, len, "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "", key);
  return buf;
}

static const cJSON *item(const cJSON *o, const char *k) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static bool in_bounds(struct rd *r, const char *f, double v, enum numk k) {
  if (!isfinite(v)) {
    fail(r, f, "expected a finite number, got %g", v);
    return false;
  }
  double lo = 0, hi = JOB_DOC_MAX_MS;
  const char *what = "a duration in ms";
  switch (k) {
    case N_MS: break;
    case N_MS_SIGNED:
      lo = -JOB_DOC_MAX_MS;
      what = "a time in ms";
      break;
    case N_EPOCH_MS:
      hi = 1e14;
      what = "an epoch time in ms";
      break;
    case N_RATE:
      hi = JOB_DOC_MAX_RATE;
      what = "a rate per second";
      break;
    case N_COUNT:
      hi = JOB_DOC_MAX_COUNT;
      what = "a count";
      break;
    case N_FRACTION:
      hi = 1;
      what = "a fraction";
      break;
    case N_FIGURE:
      hi = JOB_DOC_MAX_FIGURE;
      what = "a server-side figure";
      break;
    case N_SECONDS:
      hi = JOB_DOC_MAX_MS / 1000;
      what = "a duration in seconds";
      break;
  }
  if (k == N_COUNT && v != floor(v)) {
    fail(r, f, "expected an integer, got %g", v);
    return false;
  }
  if (v < lo) {
    fail(r, f, "%g is negative: expected %s from %g", v, what, lo);
    return false;
  }
  if (v > hi) {
    fail(r, f, "%g is out of range: expected %s of at most %g", v, what, hi);
    return false;
  }
  return true;
}

/* o[key] as a number of kind k; NAN when absent or (nullable) null. */
static double num(struct rd *r, const cJSON *o, const char *prefix, const char *key, enum numk k,
                  bool nullable, enum job_doc_has *has) {
  char f[200];
  const cJSON *v = item(o, key);
  if (has) *has = !v ? JOB_DOC_ABSENT : cJSON_IsNull(v) ? JOB_DOC_NULL : JOB_DOC_SET;
  if (!v || (nullable && cJSON_IsNull(v))) return (double)NAN;
  if (!cJSON_IsNumber(v)) {
    fail(r, field(f, sizeof f, prefix, key), "expected %s, got %s",
         k == N_COUNT ? "an integer" : "a number", type_name(v));
    return (double)NAN;
  }
  return in_bounds(r, field(f, sizeof f, prefix, key), v->valuedouble, k) ? v->valuedouble
                                                                          : (double)NAN;
}

static void figure(struct rd *r, const cJSON *o, const char *prefix, const char *key, enum numk k,
                   struct job_doc_figure *out) {
  out->v = num(r, o, prefix, key, k, true, &out->has);
}

/* o[key] as a string (borrowed); NULL when absent or null. */
static const char *str(struct rd *r, const cJSON *o, const char *prefix, const char *key) {
  char f[200];
  const cJSON *v = item(o, key);
  if (!v || cJSON_IsNull(v)) return NULL;
  if (!cJSON_IsString(v))
    fail(r, field(f, sizeof f, prefix, key), "expected a string, got %s", type_name(v));
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool boolean(struct rd *r, const cJSON *o, const char *prefix, const char *key, bool dflt) {
  char f[200];
  const cJSON *v = item(o, key);
  if (!v || cJSON_IsNull(v)) return dflt;
  if (!cJSON_IsBool(v))
    fail(r, field(f, sizeof f, prefix, key), "expected true or false, got %s", type_name(v));
  return cJSON_IsTrue(v);
}

/* o[key] when an object; NULL when absent or null; wrong types refused. */
static const cJSON *obj(struct rd *r, const cJSON *o, const char *prefix, const char *key) {
  char f[200];
  const cJSON *v = item(o, key);
  if (!v || cJSON_IsNull(v)) return NULL;
  if (!cJSON_IsObject(v)) {
    fail(r, field(f, sizeof f, prefix, key), "expected an object, got %s", type_name(v));
    return NULL;
  }
  return v;
}

/* ---- sections ------------------------------------------------------------------------- */

static void read_schema(struct rd *r, const cJSON *doc, struct job_doc *d) {
  const cJSON *v = item(doc, JOB_K_SCHEMA_VERSION);
  if (!v) {
    fail(r, NULL, "not an rbench results document (no schema_version)");
    return;
  }
  if (!cJSON_IsNumber(v)) {
    fail(r, JOB_K_SCHEMA_VERSION, "expected an integer, got %s", type_name(v));
    return;
  }
  double s = v->valuedouble;
  if (isfinite(s) && s == floor(s) && s > JOB_DOC_SCHEMA_VERSION)
    fail(r, JOB_K_SCHEMA_VERSION,
         "schema_version %.0f is newer than this rbench reads (%d): use a newer rbench", s,
         JOB_DOC_SCHEMA_VERSION);
  else if (s != JOB_DOC_SCHEMA_VERSION)
    fail(r, JOB_K_SCHEMA_VERSION, "schema_version %g is not one rbench writes (%d)", s,
         JOB_DOC_SCHEMA_VERSION);
  d->schema_version = JOB_DOC_SCHEMA_VERSION;
}

static void read_summary(struct rd *r, const cJSON *o, const char *prefix, const char *key,
                         struct job_doc_summary *s) {
  char f[200];
  const cJSON *m = obj(r, o, prefix, key);
  field(f, sizeof f, prefix, key);
  s->present = m != NULL;
  s->p50 = num(r, m, f, JOB_K_P50, N_MS, true, NULL);
  s->p90 = num(r, m, f, JOB_K_P90, N_MS, true, NULL);
  s->p99 = num(r, m, f, JOB_K_P99, N_MS, true, NULL);
  s->min = num(r, m, f, JOB_K_MIN, N_MS, true, NULL);
  s->max = num(r, m, f, JOB_K_MAX, N_MS, true, NULL);
  s->mean = num(r, m, f, JOB_K_MEAN, N_MS, true, NULL);
  s->count = num(r, m, f, JOB_K_COUNT, N_COUNT, true, NULL);
  if (s->count > 0 && s->min > s->max) fail(r, f, "min %g exceeds max %g", s->min, s->max);
}

static void read_params(struct rd *r, const cJSON *p, struct job_doc *d) {
  const char *pre = "scenario.parameters";
  char f[200];
  job_params_defaults(&d->params);
  d->params_present_any = p != NULL;
  const char *name = str(r, p, pre, JOB_K_NAME);
  if (name) snprintf(d->params.name, sizeof d->params.name, "%s", name);
  d->planned_invocations = num(r, p, pre, JOB_K_PLANNED_INVOCATIONS, N_COUNT, true, NULL);
  for (size_t i = 0; p && i < job_params_field_count && !r->failed; i++) {
    const struct job_param_field *pf = &job_params_fields[i];
    const cJSON *v = item(p, pf->name);
    if (!v || cJSON_IsNull(v)) continue;
    field(f, sizeof f, pre, pf->name);
    char *base = (char *)&d->params + pf->offset;
    if (pf->type == JOB_P_BOOL) {
      if (!cJSON_IsBool(v)) fail(r, f, "expected true or false, got %s", type_name(v));
      else *(bool *)(void *)base = cJSON_IsTrue(v);
    } else if (pf->type == JOB_P_STRING || pf->type == JOB_P_OPERATION) {
      if (!cJSON_IsString(v)) fail(r, f, "expected a string, got %s", type_name(v));
      else if (strlen(v->valuestring) >= pf->size)
        fail(r, f, "longer than %zu characters", pf->size - 1);
      else snprintf(base, pf->size, "%s", v->valuestring);
    } else {
      if (!cJSON_IsNumber(v)) {
        fail(r, f, "expected %s, got %s", pf->type == JOB_P_INT ? "an integer" : "a number",
             type_name(v));
        continue;
      }
      double x = v->valuedouble;
      /* the default stands for "not set" (duration 0: the run was planned by invocations) */
      double dflt =
          pf->type == JOB_P_INT ? (double)*(long long *)(void *)base : *(double *)(void *)base;
      bool ok = x == dflt ||
                (isfinite(x) && (pf->min_exclusive ? x > pf->min : x >= pf->min) && x <= pf->max);
      if (!ok || (pf->type == JOB_P_INT && x != floor(x)))
        fail(r, f, "%g is not %s", x, pf->expect);
      else if (pf->type == JOB_P_INT) *(long long *)(void *)base = (long long)x;
      else *(double *)(void *)base = x;
    }
    if (!r->failed) d->params_present |= (uint64_t)1 << i;
  }
}

static void read_identity(struct rd *r, const cJSON *doc, struct job_doc *d) {
  const cJSON *tool = obj(r, doc, NULL, JOB_K_RBENCH), *host = obj(r, doc, NULL, JOB_K_HOST);
  d->rbench_version = str(r, tool, JOB_K_RBENCH, JOB_K_VERSION);
  d->rbench_commit = str(r, tool, JOB_K_RBENCH, JOB_K_GIT_COMMIT);
  d->hostname = str(r, host, JOB_K_HOST, JOB_K_HOSTNAME);
  d->host_os = str(r, host, JOB_K_HOST, JOB_K_OS);
  d->host_cpus = num(r, host, JOB_K_HOST, JOB_K_CPUS, N_COUNT, true, NULL);
  d->run_id = str(r, doc, NULL, JOB_K_RUN_ID);
  d->complete = boolean(r, doc, NULL, JOB_K_COMPLETE, false);
  d->interrupted_by = str(r, doc, NULL, JOB_K_INTERRUPTED_BY);
  d->target = str(r, doc, NULL, JOB_K_TARGET);
  d->action = str(r, doc, NULL, JOB_K_ACTION);
  const char *mode = str(r, doc, NULL, JOB_K_MODE);
  if (mode && strcmp(mode, "open") && strcmp(mode, "closed"))
    fail(r, JOB_K_MODE, "expected \"open\" or \"closed\", got \"%.40s\"", mode);
  d->closed = mode && !strcmp(mode, "closed");
  const cJSON *sc = obj(r, doc, NULL, JOB_K_SCENARIO);
  d->has_scenario = sc != NULL;
  d->scenario_name = str(r, sc, JOB_K_SCENARIO, JOB_K_NAME);
  d->description = str(r, sc, JOB_K_SCENARIO, JOB_K_DESCRIPTION);
  d->run_name = str(r, sc, JOB_K_SCENARIO, JOB_K_RUN);
  d->repetition = num(r, sc, JOB_K_SCENARIO, JOB_K_REPETITION, N_COUNT, true, NULL);
  d->repetitions = num(r, sc, JOB_K_SCENARIO, JOB_K_REPETITIONS, N_COUNT, true, NULL);
  const cJSON *tg = obj(r, sc, JOB_K_SCENARIO, JOB_K_TARGET);
  d->target_kind = str(r, tg, "scenario.target", JOB_K_KIND);
  d->target_action = str(r, tg, "scenario.target", JOB_K_ACTION);
  d->target_pool_size = num(r, tg, "scenario.target", JOB_K_POOL_SIZE, N_COUNT, true, NULL);
  d->config = obj(r, sc, JOB_K_SCENARIO, JOB_K_CONFIG);
  read_params(r, obj(r, sc, JOB_K_SCENARIO, JOB_K_PARAMETERS), d);
  const cJSON *sh = obj(r, doc, NULL, JOB_K_SHARD);
  d->sharded = sh != NULL;
  d->shard_index = num(r, sh, JOB_K_SHARD, JOB_K_INDEX, N_COUNT, false, NULL);
  d->shard_count = num(r, sh, JOB_K_SHARD, JOB_K_COUNT, N_COUNT, false, NULL);
  d->shard_start_at_ms = num(r, sh, JOB_K_SHARD, JOB_K_START_AT_MS, N_EPOCH_MS, false, NULL);
  d->shard_run_key = str(r, sh, JOB_K_SHARD, JOB_K_RUN_KEY);
  d->merged = item(doc, JOB_K_MERGED_FROM) != NULL;
  const cJSON *sw = obj(r, doc, NULL, JOB_K_SWEEP);
  d->sweep_step = sw != NULL;
  d->sweep_index = num(r, sw, JOB_K_SWEEP, JOB_K_STEP, N_COUNT, true, NULL);
  d->sweep_steps = num(r, sw, JOB_K_SWEEP, JOB_K_STEPS, N_COUNT, true, NULL);
  d->sweep_rate = num(r, sw, JOB_K_SWEEP, JOB_K_RATE, N_RATE, true, NULL);
  d->sweep_summary = str(r, sw, JOB_K_SWEEP, JOB_K_SUMMARY);
}

static void read_counts(struct rd *r, const cJSON *doc, struct job_doc *d) {
  d->start_time_ms = num(r, doc, NULL, JOB_K_START_TIME_MS, N_EPOCH_MS, true, NULL);
  d->duration_s = num(r, doc, NULL, JOB_K_DURATION_S, N_SECONDS, true, NULL);
  d->requested_rate = num(r, doc, NULL, JOB_K_REQUESTED_RATE, N_RATE, true, NULL);
  d->achieved_rate = num(r, doc, NULL, JOB_K_ACHIEVED_RATE, N_RATE, true, NULL);
  figure(r, doc, NULL, JOB_K_THROUGHPUT, N_RATE, &d->throughput_fig);
  d->throughput = d->throughput_fig.v;
  const cJSON *inv = obj(r, doc, NULL, JOB_K_INVOCATIONS);
  const char *p = JOB_K_INVOCATIONS;
  d->has_invocations = inv != NULL;
  d->polled_after_202 = num(r, inv, p, JOB_K_POLLED_AFTER_202, N_COUNT, true, NULL);
  const cJSON *c = obj(r, doc, NULL, JOB_K_CONNECTIONS);
  d->conn_ahead = num(r, c, JOB_K_CONNECTIONS, JOB_K_AHEAD, N_COUNT, true, NULL);
  d->conn_limit = num(r, c, JOB_K_CONNECTIONS, JOB_K_LIMIT, N_COUNT, true, NULL);
  d->conn_before = num(r, c, JOB_K_CONNECTIONS, JOB_K_OPENED_BEFORE_START, N_COUNT, true, NULL);
  d->conn_during = num(r, c, JOB_K_CONNECTIONS, JOB_K_OPENED_DURING_RUN, N_COUNT, true, NULL);
  d->planned = num(r, inv, p, JOB_K_PLANNED, N_COUNT, true, NULL);
  d->sent = num(r, inv, p, JOB_K_SENT, N_COUNT, true, NULL);
  d->completed = num(r, inv, p, JOB_K_COMPLETED, N_COUNT, true, NULL);
  d->warmup_count = num(r, inv, p, JOB_K_WARMUP, N_COUNT, true, NULL);
  d->measured = num(r, inv, p, JOB_K_MEASURED, N_COUNT, true, NULL);
  d->succeeded = num(r, inv, p, JOB_K_SUCCEEDED, N_COUNT, true, NULL);
  d->failed = num(r, inv, p, JOB_K_FAILED, N_COUNT, true, NULL);
  d->aborted = num(r, inv, p, JOB_K_ABORTED, N_COUNT, true, NULL);
  d->unsent = num(r, inv, p, JOB_K_UNSENT, N_COUNT, true, NULL);
  if (d->succeeded > d->measured)
    fail(r, "invocations.succeeded", "%g exceeds measured (%g)", d->succeeded, d->measured);
  if (d->failed > d->measured)
    fail(r, "invocations.failed", "%g exceeds measured (%g)", d->failed, d->measured);
  if (d->aborted > d->measured)
    fail(r, "invocations.aborted", "%g exceeds measured (%g)", d->aborted, d->measured);
  d->late_starts = num(r, doc, NULL, JOB_K_LATE_STARTS, N_COUNT, true, NULL);
  d->held_by_max_in_flight = num(r, doc, NULL, JOB_K_HELD_BY_MAX_IN_FLIGHT, N_COUNT, true, NULL);
  d->cold_starts = num(r, doc, NULL, JOB_K_COLD_STARTS, N_COUNT, true, NULL);
  d->success_rate = num(r, doc, NULL, JOB_K_SUCCESS_RATE, N_FRACTION, true, NULL);
  d->error_rate = num(r, doc, NULL, JOB_K_ERROR_RATE, N_FRACTION, true, NULL);
  read_summary(r, doc, NULL, JOB_K_EXECUTION_TIME_MS, &d->execution);
  read_summary(r, doc, NULL, JOB_K_SERVICE_TIME_MS, &d->service);
  read_summary(r, doc, NULL, JOB_K_SCHEDULE_LAG_MS, &d->schedule_lag);
  const cJSON *srv = obj(r, doc, NULL, JOB_K_SERVER);
  read_summary(r, srv, JOB_K_SERVER, JOB_K_DURATION_MS, &d->srv_duration);
  read_summary(r, srv, JOB_K_SERVER, JOB_K_WAIT_TIME_MS, &d->srv_wait);
  read_summary(r, srv, JOB_K_SERVER, JOB_K_INIT_TIME_MS, &d->srv_init);
  read_summary(r, srv, JOB_K_SERVER, JOB_K_ACTION_ELAPSED_MS, &d->srv_action);
  const cJSON *t = obj(r, doc, NULL, JOB_K_TIMELINE);
  d->first_send_ms = num(r, t, JOB_K_TIMELINE, JOB_K_FIRST_SEND_MS, N_MS, true, NULL);
  d->last_send_ms = num(r, t, JOB_K_TIMELINE, JOB_K_LAST_SEND_MS, N_MS, true, NULL);
  d->last_end_ms = num(r, t, JOB_K_TIMELINE, JOB_K_LAST_END_MS, N_MS, true, NULL);
  d->backend_before_ms =
      num(r, t, JOB_K_TIMELINE, JOB_K_BACKEND_BEFORE_MS, N_MS_SIGNED, true, NULL);
  d->backend_after_ms = num(r, t, JOB_K_TIMELINE, JOB_K_BACKEND_AFTER_MS, N_MS_SIGNED, true, NULL);
}

static void read_backend(struct rd *r, const cJSON *doc, const char *key,
                         struct job_doc_backend *b) {
  const cJSON *s = obj(r, doc, NULL, key);
  char f[200];
  b->present = s != NULL;
  b->json = s;
  b->unavailable = str(r, s, key, JOB_K_UNAVAILABLE);
  b->endpoint = str(r, s, key, JOB_K_ENDPOINT);
  b->note = str(r, s, key, JOB_K_NOTE);
  b->warning = str(r, s, key, JOB_K_WARNING);
  b->shared = boolean(r, s, key, JOB_K_SHARED, false);
  figure(r, s, key, JOB_K_CPU_US_PER_OP, N_FIGURE, &b->cpu_us_per_op);
  figure(r, s, key, JOB_K_COMMANDS_PER_OP, N_FIGURE, &b->commands_per_op);
  figure(r, s, key, JOB_K_READS_PER_OP, N_FIGURE, &b->reads_per_op);
  figure(r, s, key, JOB_K_WRITES_PER_OP, N_FIGURE, &b->writes_per_op);
  figure(r, s, key, JOB_K_BYTES_PER_OP, N_FIGURE, &b->bytes_per_op);
  figure(r, s, key, JOB_K_OPS, N_FIGURE, &b->ops);
  figure(r, s, key, JOB_K_COMMANDS, N_FIGURE, &b->commands);
  figure(r, s, key, JOB_K_READS, N_FIGURE, &b->reads);
  figure(r, s, key, JOB_K_WRITES, N_FIGURE, &b->writes);
  figure(r, s, key, JOB_K_NET_INPUT_BYTES, N_FIGURE, &b->net_input_bytes);
  figure(r, s, key, JOB_K_NET_OUTPUT_BYTES, N_FIGURE, &b->net_output_bytes);
  const cJSON *cpu = item(s, JOB_K_CPU_S);
  if (cJSON_IsObject(cpu))
    figure(r, cpu, field(f, sizeof f, key, JOB_K_CPU_S), JOB_K_TOTAL, N_FIGURE, &b->cpu_total_s);
  else figure(r, s, key, JOB_K_CPU_S, N_FIGURE, &b->cpu_total_s);
  const cJSON *pb = obj(r, s, key, JOB_K_COMMANDS_PER_BATCH);
  field(f, sizeof f, key, JOB_K_COMMANDS_PER_BATCH);
  figure(r, pb, f, JOB_K_MEAN, N_FIGURE, &b->per_batch_mean);
  figure(r, pb, f, JOB_K_P50, N_FIGURE, &b->per_batch_p50);
  figure(r, pb, f, JOB_K_P99, N_FIGURE, &b->per_batch_p99);
  b->calls = obj(r, s, key, JOB_K_CALLS);
  b->settings = obj(r, s, key, JOB_K_SETTINGS);
}

static void read_arrival(struct rd *r, const cJSON *doc, struct job_doc_arrival *a) {
  const char *k = JOB_K_ARRIVAL;
  const cJSON *s = obj(r, doc, NULL, k);
  char f[200];
  a->present = s != NULL;
  a->process = str(r, s, k, JOB_K_PROCESS);
  static const char *const kinds[] = {"constant", "poisson", "bursts", "trace"};
  bool known = !a->process;
  for (size_t i = 0; i < 4 && !known; i++) known = !strcmp(a->process, kinds[i]);
  if (!known)
    fail(r, field(f, sizeof f, k, JOB_K_PROCESS),
         "expected constant, poisson, bursts or trace, got '%.40s'", a->process);
  a->planned = num(r, s, k, JOB_K_PLANNED, N_COUNT, true, NULL);
  a->span_s = num(r, s, k, JOB_K_SPAN_S, N_SECONDS, true, NULL);
  a->measured_sends = num(r, s, k, JOB_K_MEASURED_SENDS, N_COUNT, true, NULL);
  a->intended_rate = num(r, s, k, JOB_K_INTENDED_RATE, N_RATE, true, NULL);
  a->intended_cv = num(r, s, k, JOB_K_INTENDED_CV, N_FIGURE, true, NULL);
  a->realised_rate = num(r, s, k, JOB_K_REALISED_RATE, N_RATE, true, NULL);
  a->realised_cv = num(r, s, k, JOB_K_REALISED_CV, N_FIGURE, true, NULL);
}

static void read_errors(struct rd *r, const cJSON *doc, struct job_doc *d) {
  const cJSON *e = obj(r, doc, NULL, JOB_K_ERRORS_BY_KIND), *k;
  size_t n = (size_t)cJSON_GetArraySize(e);
  if (!n) return;
  d->errors = calloc(n, sizeof *d->errors);
  if (!d->errors) {
    fail(r, JOB_K_ERRORS_BY_KIND, "out of memory");
    return;
  }
  char f[300];
  cJSON_ArrayForEach(k, e) {
    snprintf(f, sizeof f, "errors_by_kind.%.200s", k->string);
    if (!cJSON_IsObject(k)) {
      fail(r, f, "expected an object, got %s", type_name(k));
      return;
    }
    struct job_doc_error_kind *x = &d->errors[d->error_kinds++];
    x->kind = k->string;
    x->count = num(r, k, f, JOB_K_COUNT, N_COUNT, false, NULL);
    x->other_messages = num(r, k, f, JOB_K_OTHER_MESSAGES, N_COUNT, false, NULL);
    const cJSON *msgs = item(k, JOB_K_MESSAGES), *m;
    if (msgs && !cJSON_IsArray(msgs)) {
      fail(r, f, "messages: expected an array, got %s", type_name(msgs));
      return;
    }
    size_t nm = (size_t)cJSON_GetArraySize(msgs);
    x->messages = nm ? calloc(nm, sizeof *x->messages) : NULL;
    if (nm && !x->messages) {
      fail(r, f, "out of memory");
      return;
    }
    cJSON_ArrayForEach(m, msgs) {
      char g[340];
      snprintf(g, sizeof g, "%s.messages[%zu]", f, x->nmessages);
      if (!cJSON_IsObject(m)) {
        fail(r, g, "expected an object, got %s", type_name(m));
        return;
      }
      struct job_doc_message *y = &x->messages[x->nmessages++];
      y->message = str(r, m, g, JOB_K_MESSAGE);
      y->count = num(r, m, g, JOB_K_COUNT, N_COUNT, false, NULL);
      if (!y->message) y->message = "";
      if (isnan(y->count)) y->count = 0;
    }
  }
}

static void read_record(struct rd *r, const cJSON *x, size_t i, struct job_doc_record *rec) {
  char p[64];
  snprintf(p, sizeof p, "raw_results[%zu]", i);
  if (!cJSON_IsObject(x)) {
    fail(r, p, "expected an object, got %s", type_name(x));
    return;
  }
  rec->json = x;
  rec->index = num(r, x, p, JOB_K_INDEX, N_COUNT, false, NULL);
  rec->warmup = boolean(r, x, p, JOB_K_WARMUP, false);
  rec->success = boolean(r, x, p, JOB_K_SUCCESS, false);
  rec->cold_start = boolean(r, x, p, JOB_K_COLD_START, false);
  rec->outcome = str(r, x, p, JOB_K_OUTCOME);
  rec->intended_ms = num(r, x, p, JOB_K_INTENDED_MS, N_MS, true, NULL);
  rec->sent_ms = num(r, x, p, JOB_K_SENT_MS, N_MS, true, NULL);
  rec->end_ms = num(r, x, p, JOB_K_END_MS, N_MS, true, NULL);
  /* a failed invocation (aborted, say) may end before it was due: only successes are latencies */
  enum numk lat = rec->success ? N_MS : N_MS_SIGNED;
  rec->execution_ms = num(r, x, p, JOB_K_EXECUTION_TIME_MS, lat, true, NULL);
  rec->service_ms = num(r, x, p, JOB_K_SERVICE_TIME_MS, lat, true, NULL);
  rec->wait_ms = num(r, x, p, JOB_K_WAIT_TIME_MS, N_MS, true, NULL);
  rec->init_ms = num(r, x, p, JOB_K_INIT_TIME_MS, N_MS, true, NULL);
  rec->duration_ms = num(r, x, p, JOB_K_DURATION_MS, N_MS, true, NULL);
  char a[80];
  const cJSON *act = obj(r, x, p, JOB_K_ACTION);
  rec->action_elapsed_us =
      num(r, act, field(a, sizeof a, p, JOB_K_ACTION), JOB_K_ELAPSED_US, N_FIGURE, true, NULL);
}

/* The counts must say what raw_results holds. Aborted invocations (outcome "aborted", stopped by
 * rbench) are neither succeeded nor failed where the document counts them (invocations.aborted);
 * documents written before that field counted them as failed. */
static void check_consistency(struct rd *r, struct job_doc *d) {
  double measured = 0, ok = 0, aborted = 0;
  for (size_t i = 0; i < d->nraw; i++) {
    if (d->raw[i].warmup) continue;
    measured++;
    ok += d->raw[i].success;
    aborted += !d->raw[i].success && d->raw[i].outcome && !strcmp(d->raw[i].outcome, "aborted");
  }
  double failed = measured - ok - (isnan(d->aborted) ? 0 : aborted);
  if (!isnan(d->completed) && d->completed != (double)d->nraw)
    fail(r, "invocations.completed", "%g contradicts raw_results, which holds %zu records",
         d->completed, d->nraw);
  else if (!isnan(d->measured) && d->measured != measured)
    fail(r, "invocations.measured",
         "%g contradicts raw_results, which holds %g records after the warm-up", d->measured,
         measured);
  else if (!isnan(d->succeeded) && !isnan(d->measured) && d->succeeded != ok)
    fail(r, "invocations.succeeded",
         "%g contradicts raw_results, where %g measured records have success true", d->succeeded,
         ok);
  else if (!isnan(d->aborted) && !isnan(d->measured) && d->aborted != aborted)
    fail(r, "invocations.aborted",
         "%g contradicts raw_results, where %g measured records have outcome aborted", d->aborted,
         aborted);
  else if (!isnan(d->failed) && !isnan(d->measured) && d->failed != failed)
    fail(r, "invocations.failed",
         "%g contradicts raw_results, where %g measured records failed (not aborted)", d->failed,
         failed);
}

static void read_raw(struct rd *r, const cJSON *doc, struct job_doc *d) {
  const cJSON *raw = item(doc, JOB_K_RAW_RESULTS);
  d->raw_omitted = boolean(r, doc, NULL, JOB_K_RAW_RESULTS_OMITTED, false);
  if (!raw) return;
  if (!cJSON_IsArray(raw)) {
    fail(r, JOB_K_RAW_RESULTS, "expected an array, got %s", type_name(raw));
    return;
  }
  d->has_raw = true;
  size_t n = (size_t)cJSON_GetArraySize(raw);
  d->raw = calloc(n ? n : 1, sizeof *d->raw);
  if (!d->raw) {
    fail(r, JOB_K_RAW_RESULTS, "out of memory");
    return;
  }
  const cJSON *x;
  cJSON_ArrayForEach(x, raw) {
    if (r->failed) return;
    read_record(r, x, d->nraw, &d->raw[d->nraw]);
    d->nraw++;
  }
  check_consistency(r, d);
}

static void read_histograms(struct rd *r, const cJSON *doc, struct job_doc *d) {
  d->histograms = obj(r, doc, NULL, JOB_K_HISTOGRAMS);
  const cJSON *h;
  cJSON_ArrayForEach(h, d->histograms) {
    if (r->failed || !cJSON_IsObject(h)) continue;
    char why[300], f[200];
    struct job_hist *x = job_hist_from_json(h, why, sizeof why);
    if (!x) fail(r, NULL, "%s (%s)", why, field(f, sizeof f, JOB_K_HISTOGRAMS, h->string));
    job_hist_destroy(x);
  }
}

/* {"get": 0.8, ...}: known operation names, fractions. */
static void read_shares(struct rd *r, const cJSON *o, const char *key, double out[RB_OP_COUNT],
                        bool *has) {
  char f[200];
  const cJSON *m = obj(r, o, JOB_K_WORKLOAD, key), *e;
  *has = m != NULL;
  field(f, sizeof f, JOB_K_WORKLOAD, key);
  cJSON_ArrayForEach(e, m) {
    enum rb_op op;
    if (!rb_op_from_name(e->string, strlen(e->string), &op)) {
      fail(r, f, "unknown operation '%.40s' (expected one of %s)", e->string, rb_op_list());
      return;
    }
    out[op] = num(r, m, f, e->string, N_FRACTION, false, NULL);
  }
}

/* "started" (job_started.c): processes, each with its role, program and CPU figures. */
static void read_started(struct rd *r, const cJSON *doc, struct job_doc_started *st) {
  const cJSON *o = obj(r, doc, NULL, JOB_K_STARTED);
  st->present = o != NULL;
  if (!o) return;
  const cJSON *arr = item(o, JOB_K_PROCESSES), *e;
  if (!cJSON_IsArray(arr)) {
    fail(r, "started.processes", "expected an array, got %s", arr ? type_name(arr) : "nothing");
    return;
  }
  if (cJSON_GetArraySize(arr) > JOB_DOC_STARTED_MAX) {
    fail(r, "started.processes", "%d processes, more than the %d a run starts",
         cJSON_GetArraySize(arr), JOB_DOC_STARTED_MAX);
    return;
  }
  cJSON_ArrayForEach(e, arr) {
    char f[64];
    snprintf(f, sizeof f, "started.processes[%zu]", st->n);
    if (!cJSON_IsObject(e)) {
      fail(r, f, "expected an object, got %s", type_name(e));
      return;
    }
    struct job_doc_started_proc *x = &st->procs[st->n++];
    x->role = str(r, e, f, JOB_K_ROLE);
    if (!r->failed && (!x->role || (strcmp(x->role, "redis") && strcmp(x->role, "layer")))) {
      char g[80];
      fail(r, field(g, sizeof g, f, JOB_K_ROLE), "expected \"redis\" or \"layer\", got %s",
           x->role ? "another string" : "nothing");
      return;
    }
    x->name = str(r, e, f, JOB_K_NAME);
    if (!r->failed && !x->name) {
      char g[80];
      fail(r, field(g, sizeof g, f, JOB_K_NAME), "expected the program's name, got nothing");
      return;
    }
    x->args = str(r, e, f, JOB_K_ARGS);
    x->endpoint = str(r, e, f, JOB_K_ENDPOINT);
    x->note = str(r, e, f, JOB_K_NOTE);
    x->pid = num(r, e, f, JOB_K_PID, N_COUNT, false, NULL);
    figure(r, e, f, JOB_K_CPU_QUOTA, N_FIGURE, &x->cpu_quota);
    if (!r->failed && x->cpu_quota.has == JOB_DOC_SET &&
        (x->cpu_quota.v <= 0 || x->cpu_quota.v > 64)) {
      char g[80];
      fail(r, field(g, sizeof g, f, JOB_K_CPU_QUOTA),
           "%g is out of range: expected a fraction of a core above 0 and at most 64",
           x->cpu_quota.v);
    }
    figure(r, e, f, JOB_K_CPU_S, N_SECONDS, &x->cpu_s);
    figure(r, e, f, JOB_K_CPU_US_PER_OP, N_FIGURE, &x->cpu_us_per_op);
    figure(r, e, f, JOB_K_THROTTLED_S, N_SECONDS, &x->throttled_s);
    figure(r, e, f, JOB_K_THROTTLED_PERIODS, N_COUNT, &x->throttled_periods);
    if (r->failed) return;
  }
}

static void read_action_cpu(struct rd *r, const cJSON *doc, struct job_doc_action_cpu *a) {
  const char *p = JOB_K_ACTION_CPU;
  const cJSON *o = obj(r, doc, NULL, p);
  a->present = o != NULL;
  a->processes = (double)NAN;
  a->cpu_s.v = a->cpu_us_per_op.v = (double)NAN;
  if (!o) return;
  figure(r, o, p, JOB_K_CPU_S, N_SECONDS, &a->cpu_s);
  figure(r, o, p, JOB_K_CPU_US_PER_OP, N_FIGURE, &a->cpu_us_per_op);
  a->processes = num(r, o, p, JOB_K_PROCESSES, N_COUNT, true, NULL);
}

static void read_workload(struct rd *r, const cJSON *doc, struct job_doc *d) {
  struct job_doc_workload *w = &d->workload;
  const char *p = JOB_K_WORKLOAD;
  const cJSON *o = obj(r, doc, NULL, p);
  w->present = o != NULL;
  bool has = false;
  read_shares(r, o, JOB_K_MIX, w->mix, &has);
  read_shares(r, o, JOB_K_REALISED_MIX, w->realised, &w->has_realised);
  w->key_distribution = str(r, o, p, JOB_K_KEY_DISTRIBUTION);
  enum rb_keydist kd;
  if (w->key_distribution && !rb_keydist_from_name(w->key_distribution, &kd))
    fail(r, "workload.key_distribution", "unknown distribution '%.40s'", w->key_distribution);
  w->value_sizes = str(r, o, p, JOB_K_VALUE_SIZES);
  w->zipf_exponent = num(r, o, p, JOB_K_ZIPF_EXPONENT, N_FIGURE, false, NULL);
  w->hotspot_keys = num(r, o, p, JOB_K_HOTSPOT_KEYS, N_FRACTION, false, NULL);
  w->hotspot_ops = num(r, o, p, JOB_K_HOTSPOT_OPS, N_FRACTION, false, NULL);
  w->gaussian_stddev = num(r, o, p, JOB_K_GAUSSIAN_STDDEV, N_FIGURE, false, NULL);
  w->key_space = num(r, o, p, JOB_K_KEY_SPACE, N_COUNT, false, NULL);
  w->keys_per_command = num(r, o, p, JOB_K_KEYS_PER_COMMAND, N_COUNT, false, NULL);
  w->structure_size = num(r, o, p, JOB_K_STRUCTURE_SIZE, N_COUNT, false, NULL);
  w->range_span = num(r, o, p, JOB_K_RANGE_SPAN, N_COUNT, false, NULL);
  w->script_work = num(r, o, p, JOB_K_SCRIPT_WORK, N_COUNT, false, NULL);
  w->seed = num(r, o, p, JOB_K_SEED, N_COUNT, false, NULL);
  w->prepare = boolean(r, o, p, JOB_K_PREPARE, false);
  for (int i = 0; i < 3; i++) w->key_reuse[i] = (double)NAN;
  w->reuse_operations = (double)NAN;
  const cJSON *kr = item(o, JOB_K_KEY_REUSE), *x;
  if (kr && !cJSON_IsNull(kr) && !cJSON_IsArray(kr))
    fail(r, "workload.key_reuse", "expected an array, got %s", type_name(kr));
  if (!cJSON_IsArray(kr)) return;
  w->has_key_reuse = true;
  size_t i = 0;
  cJSON_ArrayForEach(x, kr) {
    char f[64];
    snprintf(f, sizeof f, "workload.key_reuse[%zu]", i++);
    if (!cJSON_IsObject(x)) {
      fail(r, f, "expected an object, got %s", type_name(x));
      return;
    }
    double win = num(r, x, f, JOB_K_WINDOW_OPS, N_COUNT, false, NULL);
    double rep = num(r, x, f, JOB_K_REPEATED, N_FRACTION, false, NULL);
    for (int k = 0; k < 3; k++)
      if (win == (double)job_reuse_window_ops[k]) w->key_reuse[k] = rep;
  }
  const cJSON *smp = obj(r, o, p, JOB_K_KEY_REUSE_SAMPLE);
  w->reuse_operations =
      num(r, smp, "workload.key_reuse_sample", JOB_K_OPERATIONS, N_COUNT, false, NULL);
}

static void read_operations(struct rd *r, const cJSON *doc, struct job_doc *d) {
  const cJSON *o = obj(r, doc, NULL, JOB_K_OPERATIONS), *e;
  size_t n = (size_t)cJSON_GetArraySize(o);
  if (!n) return;
  d->ops = calloc(n, sizeof *d->ops);
  if (!d->ops) {
    fail(r, JOB_K_OPERATIONS, "out of memory");
    return;
  }
  cJSON_ArrayForEach(e, o) {
    char f[200];
    snprintf(f, sizeof f, "operations.%.60s", e->string);
    enum rb_op op;
    if (!rb_op_from_name(e->string, strlen(e->string), &op)) {
      fail(r, f, "unknown operation (expected one of %s)", rb_op_list());
      return;
    }
    if (!cJSON_IsObject(e)) {
      fail(r, f, "expected an object, got %s", type_name(e));
      return;
    }
    struct job_doc_op *x = &d->ops[d->nops++];
    x->name = e->string;
    x->succeeded = num(r, e, f, JOB_K_SUCCEEDED, N_COUNT, false, NULL);
    x->failed = num(r, e, f, JOB_K_FAILED, N_COUNT, false, NULL);
    x->found = num(r, e, f, JOB_K_FOUND, N_COUNT, false, NULL);
    read_summary(r, e, f, JOB_K_LATENCY_MS, &x->latency);
    x->histogram = obj(r, e, f, JOB_K_HISTOGRAM);
    if (x->histogram && !r->failed) {
      char why[300];
      struct job_hist *h = job_hist_from_json(x->histogram, why, sizeof why);
      if (!h) fail(r, f, "%s", why);
      job_hist_destroy(h);
    }
  }
}

enum rb_err job_doc_read(const cJSON *doc, const char *path, struct job_doc *d, char *err,
                         size_t errlen) {
  memset(d, 0, sizeof *d);
  d->path = path;
  d->json = doc;
  struct rd r = {.path = path, .err = err, .errlen = errlen};
  if (!cJSON_IsObject(doc)) {
    fail(&r, NULL, "not an rbench results document (expected a JSON object, got %s)",
         type_name(doc));
    return RB_ERR_INVALID;
  }
  read_schema(&r, doc, d);
  if (!r.failed) read_identity(&r, doc, d);
  if (!r.failed) read_counts(&r, doc, d);
  if (!r.failed) read_backend(&r, doc, JOB_K_REDIS, &d->redis);
  if (!r.failed) read_backend(&r, doc, JOB_K_AGENT, &d->agent);
  if (!r.failed)
    figure(&r, doc, NULL, JOB_K_BACKEND_CPU_US_PER_OP, N_FIGURE, &d->backend_cpu_us_per_op);
  if (!r.failed) read_started(&r, doc, &d->started);
  if (!r.failed) read_action_cpu(&r, doc, &d->action_cpu);
  if (!r.failed) read_arrival(&r, doc, &d->arrival);
  if (!r.failed) read_errors(&r, doc, d);
  if (!r.failed) read_histograms(&r, doc, d);
  if (!r.failed) read_workload(&r, doc, d);
  if (!r.failed) read_operations(&r, doc, d);
  if (!r.failed) read_raw(&r, doc, d);
  if (r.failed) {
    job_doc_free(d);
    return RB_ERR_INVALID;
  }
  return RB_OK;
}

enum rb_err job_doc_read_text(const char *text, size_t len, const char *path, struct job_doc *d,
                              char *err, size_t errlen) {
  memset(d, 0, sizeof *d);
  cJSON *doc = cJSON_ParseWithLength(text, len);
  if (!doc)
    return rb_errorf(RB_ERR_PARSE, err, errlen, "%s%snot valid JSON", path ? path : "",
                     path ? ": " : "");
  enum rb_err rc = job_doc_read(doc, path, d, err, errlen);
  if (rc != RB_OK) {
    cJSON_Delete(doc);
    return rc;
  }
  d->owned = doc;
  return RB_OK;
}

void job_doc_free(struct job_doc *d) {
  for (size_t i = 0; d->errors && i < d->error_kinds; i++) free(d->errors[i].messages);
  free(d->raw);
  free(d->errors);
  free(d->ops);
  d->ops = NULL;
  d->nops = 0;
  cJSON_Delete(d->owned);
  d->raw = NULL;
  d->errors = NULL;
  d->owned = NULL;
  d->nraw = d->error_kinds = 0;
}

bool job_doc_param_present(const struct job_doc *d, const char *name) {
  const struct job_param_field *f = job_params_field(name);
  return f && (d->params_present >> job_params_field_index(f)) & 1;
}

/* ---- settings ------------------------------------------------------------------------------ */

static void param_text(const struct job_doc *d, const struct job_param_field *f, char *buf,
                       size_t len) {
  const char *base = (const char *)&d->params + f->offset;
  if (!job_doc_param_present(d, f->name)) snprintf(buf, len, "(not given)");
  else if (f->type == JOB_P_DOUBLE) snprintf(buf, len, "%g", *(const double *)(const void *)base);
  else if (f->type == JOB_P_INT) snprintf(buf, len, "%lld", *(const long long *)(const void *)base);
  else if (f->type == JOB_P_BOOL)
    snprintf(buf, len, "%s", *(const bool *)(const void *)base ? "true" : "false");
  else snprintf(buf, len, "%s", base);
}

/* A knob's value as it ran: given or the default (param_text says "(not given)"). */
static void param_value(const struct job_doc *d, const struct job_param_field *f, char *buf,
                        size_t len) {
  const char *base = (const char *)&d->params + f->offset;
  if (f->type == JOB_P_DOUBLE) snprintf(buf, len, "%g", *(const double *)(const void *)base);
  else if (f->type == JOB_P_INT) snprintf(buf, len, "%lld", *(const long long *)(const void *)base);
  else if (f->type == JOB_P_BOOL)
    snprintf(buf, len, "%s", *(const bool *)(const void *)base ? "true" : "false");
  else snprintf(buf, len, "%s", base);
}

static bool differs(const char *name, const char *a, const char *b, char *what, size_t len) {
  if (!strcmp(a, b)) return false;
  snprintf(what, len, "%s: %s vs %s", name, a, b);
  return true;
}

static bool uses_structures(const struct rb_workload *w) {
  for (int i = 0; i < RB_OP_COUNT; i++) {
    enum rb_ns ns = rb_op_ns((enum rb_op)i);
    if (w->weight[i] && ns != RB_NS_STRING && ns != RB_NS_COUNTER) return true;
  }
  return false;
}

/* The workload both documents ran, compared as it was drawn: the mix (canonical text), the
 * value sizes, the key distribution and the parameters it uses, the knobs the mix's commands
 * use, the arrival process and its parameters. A document without a knob ran its default
 * (documents from before issue 20: one operation, sequential keys, constant arrivals). The
 * seed is not compared: repetitions with other seeds pool. */
static bool workload_diff(const struct job_doc *a, const struct job_doc *b, char *what,
                          size_t len) {
  struct rb_workload wa, wb;
  char ea[300], eb[300], va[300], vb[300];
  bool oka = job_params_workload(&a->params, &wa, ea, sizeof ea) == RB_OK;
  bool okb = job_params_workload(&b->params, &wb, eb, sizeof eb) == RB_OK;
  if (!oka || !okb) {
    snprintf(va, sizeof va, "%s", oka ? "valid" : ea);
    snprintf(vb, sizeof vb, "%s", okb ? "valid" : eb);
    return differs("workload", va, vb, what, len);
  }
  rb_workload_mix_text(wa.weight, va, sizeof va);
  rb_workload_mix_text(wb.weight, vb, sizeof vb);
  if (differs(a->params.mix[0] || b->params.mix[0] ? "mix" : "operation", va, vb, what, len))
    return true;
  rb_workload_sizes_text(&wa.sizes, va, sizeof va);
  rb_workload_sizes_text(&wb.sizes, vb, sizeof vb);
  if (differs("value_sizes", va, vb, what, len)) return true;
  if (differs("key_distribution", rb_keydist_name(wa.keydist), rb_keydist_name(wb.keydist), what,
              len))
    return true;
  struct {
    const char *name;
    bool used;
  } knobs[] = {
      {"zipf_exponent", wa.keydist == RB_KEYS_ZIPFIAN},
      {"hotspot_keys", wa.keydist == RB_KEYS_HOTSPOT},
      {"hotspot_ops", wa.keydist == RB_KEYS_HOTSPOT},
      {"gaussian_stddev", wa.keydist == RB_KEYS_GAUSSIAN},
      {"keys_per_command", wa.weight[RB_OP_MGET] || wa.weight[RB_OP_MSET]},
      {"structure_size", uses_structures(&wa)},
      {"range_span", wa.weight[RB_OP_LRANGE] || wa.weight[RB_OP_ZRANGEBYSCORE]},
      {"script_work", wa.weight[RB_OP_EVAL] != 0},
      {"arrival", true},
      {"burst_rate", !strcmp(a->params.arrival, "bursts")},
      {"burst_seconds", !strcmp(a->params.arrival, "bursts")},
      {"base_seconds", !strcmp(a->params.arrival, "bursts")},
      {"trace_file", !strcmp(a->params.arrival, "trace")},
      {"trace_format", !strcmp(a->params.arrival, "trace")},
      {"trace_rows", !strcmp(a->params.arrival, "trace")},
      {"trace_minutes", !strcmp(a->params.arrival, "trace")},
      {"trace_spread", !strcmp(a->params.arrival, "trace")},
      {"trace_speedup", !strcmp(a->params.arrival, "trace")},
  };
  for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
    if (!knobs[i].used) continue;
    const struct job_param_field *f = job_params_field(knobs[i].name);
    if (!f) continue;
    param_value(a, f, va, sizeof va);
    param_value(b, f, vb, sizeof vb);
    if (differs(knobs[i].name, va, vb, what, len)) return true;
  }
  return false;
}

/* Where batching lived: the placement given, else agent for a document that only says
 * batching true (written before placements), else direct. */
static const char *placement_as_run(const struct job_doc *d) {
  if (job_doc_param_present(d, "placement")) return d->params.placement;
  return job_doc_param_present(d, "batching") && d->params.batching ? "agent" : "direct";
}

/* The placement and the knobs of its layers (issue 21), as they ran: a document without a knob
 * ran its default, so documents of different placements, action concurrencies, runtime batching
 * settings, backends or layers never pool silently. */
static bool placement_diff(const struct job_doc *a, const struct job_doc *b, char *what,
                           size_t len) {
  if (differs("placement", placement_as_run(a), placement_as_run(b), what, len)) return true;
  static const char *const knobs[] = {"action_concurrency", "batch_connections", "batch_wait_us",
                                      "batch_coalesce",     "backend",           "layer",
                                      "layer_args",         "redis_cpu",         "action_runtime",
                                      "action_image",       "action_memory",     "action_cpu"};
  for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
    const struct job_param_field *f = job_params_field(knobs[i]);
    if (!f) continue;
    char va[300], vb[300];
    param_value(a, f, va, sizeof va);
    param_value(b, f, vb, sizeof vb);
    if (differs(knobs[i], va, vb, what, len)) return true;
  }
  return false;
}

bool job_doc_settings_diff(const struct job_doc *a, const struct job_doc *b, char *what,
                           size_t len) {
  if (len) what[0] = '\0';
  if (differs("mode", a->closed ? "closed" : "open", b->closed ? "closed" : "open", what, len))
    return true;
  const char *ta = a->target_kind ? a->target_kind : a->target ? a->target : "(unknown)";
  const char *tb = b->target_kind ? b->target_kind : b->target ? b->target : "(unknown)";
  if (differs("target", ta, tb, what, len)) return true;
  if (differs("action", a->target_action ? a->target_action : "(unknown)",
              b->target_action ? b->target_action : "(unknown)", what, len))
    return true;
  /* the rate defines an open loop, the concurrency a closed one; a duration replaces the
   * invocations count */
  static const char *const names[] = {"ops",        "operation",  "batching", "parallel",
                                      "value_size", "key_space",  "rate",     "concurrency",
                                      "duration",   "invocations"};
  bool mixes = a->params.mix[0] || b->params.mix[0];
  bool sizes = a->params.value_size_range[0] || a->params.value_size_list[0] ||
               b->params.value_size_range[0] || b->params.value_size_list[0];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    /* with a mix (or value sizes) on either side, the workload's own comparison decides */
    if (!strcmp(names[i], "operation") && mixes) continue;
    if (!strcmp(names[i], "value_size") && sizes) continue;
    if (!strcmp(names[i], "rate") && a->closed) continue;
    if (!strcmp(names[i], "concurrency") && !a->closed) continue;
    if (!strcmp(names[i], "invocations") && a->params.duration > 0) continue;
    /* a trace says how many and when: rate, duration and invocations do not apply (the
     * arrival's own comparison, below, decides) */
    if (!strcmp(a->params.arrival, "trace") && !strcmp(b->params.arrival, "trace") &&
        (!strcmp(names[i], "rate") || !strcmp(names[i], "duration") ||
         !strcmp(names[i], "invocations")))
      continue;
    const struct job_param_field *f = job_params_field(names[i]);
    char va[160], vb[160];
    param_text(a, f, va, sizeof va);
    param_text(b, f, vb, sizeof vb);
    if (differs(names[i], va, vb, what, len)) return true;
  }
  if (placement_diff(a, b, what, len)) return true;
  return workload_diff(a, b, what, len);
}

void job_doc_workload_text(const struct job_doc *d, char *buf, size_t len) {
  struct rb_workload w;
  char why[300], mix[300], sizes[300], keys[120] = "";
  if (job_params_workload(&d->params, &w, why, sizeof why) != RB_OK) {
    snprintf(buf, len, "workload unknown (%s)", why);
    return;
  }
  rb_workload_mix_text(w.weight, mix, sizeof mix);
  rb_workload_sizes_text(&w.sizes, sizes, sizeof sizes);
  if (w.keydist == RB_KEYS_ZIPFIAN) snprintf(keys, sizeof keys, " (s %g)", w.zipf_exponent);
  else if (w.keydist == RB_KEYS_HOTSPOT)
    snprintf(keys, sizeof keys, " (%g of the ops on %g of the keys)", w.hotspot_ops,
             w.hotspot_keys);
  else if (w.keydist == RB_KEYS_GAUSSIAN)
    snprintf(keys, sizeof keys, " (stddev %g of the keys)", w.gaussian_stddev);
  char arrival[200];
  const struct job_params *p = &d->params;
  if (!strcmp(p->arrival, "bursts"))
    snprintf(arrival, sizeof arrival, "bursts (%g/s for %g s, then %g s at the base rate)",
             p->burst_rate, p->burst_seconds, p->base_seconds);
  else if (!strcmp(p->arrival, "trace"))
    snprintf(arrival, sizeof arrival, "trace %.120s (x%g)", p->trace_file, p->trace_speedup);
  else snprintf(arrival, sizeof arrival, "%s", d->closed ? "closed loop" : p->arrival);
  snprintf(buf, len, "mix %s; keys %s%s over %lld; values %s B; arrival %s", mix,
           rb_keydist_name(w.keydist), keys, w.key_space, sizes, arrival);
}
