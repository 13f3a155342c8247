/* job_results.c: statistics, spool and the atomic results document (see job_results.h). */
#define _GNU_SOURCE
#include "job_results.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "job_hist.h"
#include "job_output.h"
#include "rb_stats.h"
#include "rb_version.h"

/* Samples in microseconds, 4 bytes each (clamped at ~71 minutes). */
struct samples {
  uint32_t *v;
  size_t n, cap;
};

enum metric { M_EXEC, M_SERVICE, M_DURATION, M_WAIT, M_INIT, M_ACTION, M_COUNT };
static const char *const metric_names[M_COUNT] = {JOB_K_EXECUTION_TIME_MS, JOB_K_SERVICE_TIME_MS,
                                                  JOB_K_DURATION_MS,       JOB_K_WAIT_TIME_MS,
                                                  JOB_K_INIT_TIME_MS,      JOB_K_ACTION_ELAPSED_MS};

#define MESSAGES_PER_KIND JOB_RESULTS_MESSAGES_PER_KIND
#define SPOOL_BUFFER (1u << 20)      /* raw records buffered before a forced write */
#define SPOOL_IDLE_FLUSH (32u << 10) /* written when the runner has time, from this much */

struct kind_stats {
  uint64_t count;
  char msg[MESSAGES_PER_KIND][JOB_ERROR_MAX];
  uint64_t msg_count[MESSAGES_PER_KIND];
  int msgs;
  uint64_t other;
};

/* One operation type, merged from the actions' op_stats (latency in µs). */
struct op_acc {
  uint64_t succeeded, failed;
  uint64_t found; /* reads that found their key (the action's "found"), when reported */
  bool has_found;
  struct job_hist *h; /* created at the first record that has the operation */
};

struct job_results {
  struct job_output out; /* claimed (and locked) from creation to destruction */
  char spool_path[PATH_MAX + 32];
  FILE *spool;
  char *spool_buf; /* the spool's stdio buffer */
  size_t pending;  /* bytes in it not yet written */
  uint64_t lines;
  const char *const *secrets;
  struct samples m[M_COUNT];
  struct job_hist *h[M_COUNT]; /* the same samples, mergeable (the document's "histograms") */
  struct job_hist *lag;
  struct kind_stats kinds[JOB_OUTCOME_COUNT];
  uint64_t done, failed, aborted, measured, measured_ok, measured_aborted, cold_starts, polled;
  int64_t first_end_us, last_end_us;
  struct op_acc ops[RB_OP_COUNT];               /* the actions' op_stats of measured invocations */
  uint64_t op_stats_records, op_stats_rejected; /* measured records with op_stats, bad ones */
  double action_ops, action_conns;              /* summed over every invocation, warm-up included */
  uint64_t ops_unknown, conns_unknown;          /* invocations that did not report them */
};

static bool samples_reserve(struct samples *s, size_t n) {
  s->v = malloc((n ? n : 1) * sizeof *s->v);
  s->cap = n ? n : 1;
  return s->v != NULL;
}

/* One sample of metric m (µs; negative: unknown, not recorded), into its array and its
 * histogram alike. */
static void record(struct job_results *r, int m, double us) {
  struct samples *s = &r->m[m];
  if (us < 0) return;
  if (s->n == s->cap) {
    size_t cap = s->cap * 2;
    uint32_t *v = realloc(s->v, cap * sizeof *v);
    if (!v) return;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n] = us > 4294967295.0 ? UINT32_MAX : (uint32_t)(us + 0.5);
  job_hist_record(r->h[m], s->v[s->n++]);
}

enum rb_err job_results_create(struct job_results **out, const char *out_path,
                               const char *const *inputs, uint64_t planned,
                               const char *const *secrets, char *err, size_t errlen) {
  struct job_results *r = calloc(1, sizeof *r);
  *out = NULL;
  if (!r) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  r->out.lock_fd = -1;
  enum rb_err rc = job_output_claim(&r->out, out_path, inputs, err, errlen);
  if (rc != RB_OK) {
    free(r);
    return rc;
  }
  r->secrets = secrets;
  r->lag = job_hist_create();
  bool ok = r->lag != NULL;
  for (int i = 0; i < M_COUNT && ok; i++) ok = (r->h[i] = job_hist_create()) != NULL;
  /* Reserve for the planned run (no doubling waste), but at most 4M samples up front: a
   * long --duration grows the arrays as it goes. */
  size_t reserve = planned > (4u << 20) ? (4u << 20) : (size_t)planned;
  for (int i = 0; i < M_COUNT && ok; i++)
    ok = samples_reserve(&r->m[i], i == M_INIT ? 64 : reserve);
  char dir[PATH_MAX];
  job_output_scratch_dir(&r->out, dir, sizeof dir);
  snprintf(r->spool_path, sizeof r->spool_path, "%s/.rbench-raw-XXXXXX", dir);
  int fd = ok ? mkostemp(r->spool_path, O_CLOEXEC) : -1;
  if (fd >= 0) r->spool = fdopen(fd, "w+");
  /* Raw records go out in large writes when the runner is idle (job_results_idle), not one
   * system call per few records at whatever moment a buffer fills. */
  if (r->spool && (r->spool_buf = malloc(SPOOL_BUFFER)) != NULL)
    setvbuf(r->spool, r->spool_buf, _IOFBF, SPOOL_BUFFER);
  if (!r->spool) {
    if (fd >= 0) close(fd);
    rc = rb_errorf(RB_ERR_IO, err, errlen, "cannot create a spool file in %s for %s: %s", dir,
                   out_path, ok ? strerror(errno) : "out of memory");
    if (fd < 0) r->spool_path[0] = '\0';
    job_results_destroy(r);
    return rc;
  }
  *out = r;
  return RB_OK;
}

void job_results_destroy(struct job_results *r) {
  if (!r) return;
  if (r->spool) fclose(r->spool);
  free(r->spool_buf); /* after fclose: it is the spool's buffer */
  if (r->spool_path[0]) unlink(r->spool_path);
  job_output_release(&r->out);
  for (int i = 0; i < M_COUNT; i++) {
    free(r->m[i].v);
    job_hist_destroy(r->h[i]);
  }
  job_hist_destroy(r->lag);
  for (int i = 0; i < RB_OP_COUNT; i++) job_hist_destroy(r->ops[i].h);
  free(r);
}

static void count_kind(struct kind_stats *k, const char *msg) {
  k->count++;
  for (int i = 0; i < k->msgs; i++) {
    if (strcmp(k->msg[i], msg) == 0) {
      k->msg_count[i]++;
      return;
    }
  }
  if (k->msgs == MESSAGES_PER_KIND) {
    k->other++;
    return;
  }
  snprintf(k->msg[k->msgs], JOB_ERROR_MAX, "%s", msg);
  k->msg_count[k->msgs++] = 1;
}

/* A count from op_stats: a whole number in [0, 2^53]. */
static bool op_count(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9007199254740992.0 ||
      v->valuedouble != floor(v->valuedouble))
    return false;
  *out = (uint64_t)v->valuedouble;
  return true;
}

/* The action's op_stats ({"get": {"succeeded", "failed", "latency_us": <histogram>}, ...}),
 * read from the record's action text, into the per-operation accumulators. A malformed entry
 * is counted (op_stats_rejected) and left out, whole: the others of the record still count. */
static void add_op_stats(struct job_results *r, const char *action) {
  const char *at = strstr(action, "\"" JOB_K_OP_STATS "\":");
  if (!at) return;
  cJSON *o = cJSON_ParseWithOpts(at + sizeof JOB_K_OP_STATS + 2, NULL, false);
  if (!cJSON_IsObject(o)) {
    r->op_stats_rejected++;
    cJSON_Delete(o);
    return;
  }
  r->op_stats_records++;
  const cJSON *e;
  cJSON_ArrayForEach(e, o) {
    enum rb_op op;
    uint64_t ok = 0, failed = 0;
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(e, JOB_K_LATENCY_US);
    if (!e->string || !rb_op_from_name(e->string, strlen(e->string), &op) ||
        !op_count(cJSON_GetObjectItemCaseSensitive(e, JOB_K_SUCCEEDED), &ok) ||
        !op_count(cJSON_GetObjectItemCaseSensitive(e, JOB_K_FAILED), &failed)) {
      r->op_stats_rejected++;
      continue;
    }
    struct op_acc *a = &r->ops[op];
    if (!a->h && !(a->h = job_hist_create())) continue;
    char why[200];
    if (lat && !job_hist_merge_json(a->h, lat, why, sizeof why)) {
      r->op_stats_rejected++;
      continue;
    }
    a->succeeded += ok;
    a->failed += failed;
    uint64_t found = 0;
    if (op_count(cJSON_GetObjectItemCaseSensitive(e, JOB_K_FOUND), &found)) {
      a->found += found;
      a->has_found = true;
    }
  }
  cJSON_Delete(o);
}

enum rb_err job_results_add(struct job_results *r, struct job_record *rec) {
  job_redact(rec->error, sizeof rec->error, r->secrets);
  if (r->lines++) {
    fputs(",\n", r->spool);
    r->pending += 2;
  }
  r->pending += job_record_write(r->spool, rec);
  r->done++;
  bool aborted =
      rec->outcome == JOB_ERR_ABORTED; /* stopped by rbench: neither success nor failure */
  if (aborted) r->aborted++;
  else if (rec->outcome != JOB_OK) r->failed++;
  if (r->done == 1 || rec->end_us < r->first_end_us) r->first_end_us = rec->end_us;
  if (rec->end_us > r->last_end_us) r->last_end_us = rec->end_us;
  if (rec->polls) r->polled++;
  if (rec->action_ops >= 0) r->action_ops += rec->action_ops;
  else r->ops_unknown++;
  if (rec->action_conns_new >= 0) r->action_conns += rec->action_conns_new;
  else r->conns_unknown++;
  if (rec->warmup) return ferror(r->spool) ? RB_ERR_IO : RB_OK;
  r->measured++;
  if (aborted) r->measured_aborted++;
  if (rec->outcome != JOB_OK) count_kind(&r->kinds[rec->outcome], rec->error);
  if (!aborted) job_hist_record(r->lag, (uint64_t)(rec->sent_us - rec->intended_us));
  if (rec->cold_start) r->cold_starts++;
  if (rec->action) add_op_stats(r, rec->action);
  if (rec->outcome == JOB_OK) {
    r->measured_ok++;
    record(r, M_EXEC, (double)(rec->end_us - rec->intended_us));
    record(r, M_SERVICE, (double)(rec->end_us - rec->sent_us));
    record(r, M_DURATION, rec->duration_ms * 1000.0);
    record(r, M_WAIT, rec->wait_ms * 1000.0);
    record(r, M_INIT, rec->init_ms * 1000.0);
    record(r, M_ACTION, rec->action_elapsed_us);
  }
  return ferror(r->spool) ? RB_ERR_IO : RB_OK;
}

void job_results_idle(struct job_results *r) {
  if (r->pending < SPOOL_IDLE_FLUSH) return;
  fflush(r->spool); /* an error shows in ferror, checked by job_results_add and at the end */
  r->pending = 0;
}

bool job_results_writes_through(const struct job_results *r) {
  return r->out.kind == JOB_OUTPUT_THROUGH;
}

uint64_t job_results_done(const struct job_results *r) { return r->done; }
uint64_t job_results_failed(const struct job_results *r) { return r->failed; }

void job_results_action_totals(const struct job_results *r, double *ops, uint64_t *ops_unknown,
                               double *conns, uint64_t *conns_unknown) {
  *ops = r->action_ops;
  *ops_unknown = r->ops_unknown;
  *conns = r->action_conns;
  *conns_unknown = r->conns_unknown;
}

static cJSON *summary_ms(uint64_t count, uint64_t p50, uint64_t p90, uint64_t p99, uint64_t min,
                         uint64_t max, double mean) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, JOB_K_P50, (double)p50 / 1000.0);
  cJSON_AddNumberToObject(o, JOB_K_P90, (double)p90 / 1000.0);
  cJSON_AddNumberToObject(o, JOB_K_P99, (double)p99 / 1000.0);
  cJSON_AddNumberToObject(o, JOB_K_MIN, (double)min / 1000.0);
  cJSON_AddNumberToObject(o, JOB_K_MAX, (double)max / 1000.0);
  cJSON_AddNumberToObject(o, JOB_K_MEAN, mean / 1000.0);
  cJSON_AddNumberToObject(o, JOB_K_COUNT, (double)count);
  return o;
}

cJSON *job_results_samples_summary(uint64_t *values, size_t n) {
  struct rb_summary sum;
  rb_summary_compute(values, n, &sum);
  return summary_ms(sum.count, sum.p50, sum.p90, sum.p99, sum.min, sum.max, sum.mean);
}

/* Exact nearest-rank summary of a sample array (converted one metric at a time). */
static cJSON *samples_json(const struct samples *s) {
  uint64_t *v = malloc((s->n ? s->n : 1) * sizeof *v);
  if (!v) return NULL;
  for (size_t i = 0; i < s->n; i++) v[i] = s->v[i];
  cJSON *o = job_results_samples_summary(v, s->n);
  free(v);
  return o;
}

cJSON *job_results_hist_summary(const struct job_hist *h) {
  return summary_ms(job_hist_count(h), job_hist_percentile(h, 50), job_hist_percentile(h, 90),
                    job_hist_percentile(h, 99), job_hist_min(h), job_hist_max(h), job_hist_mean(h));
}

static cJSON *errors_json(const struct job_results *r) {
  cJSON *o = cJSON_CreateObject();
  for (int k = 1; o && k < JOB_OUTCOME_COUNT; k++) {
    const struct kind_stats *ks = &r->kinds[k];
    if (!ks->count) continue;
    cJSON *e = cJSON_AddObjectToObject(o, job_outcome_name((enum job_outcome)k));
    cJSON_AddNumberToObject(e, JOB_K_COUNT, (double)ks->count);
    cJSON *msgs = cJSON_AddArrayToObject(e, JOB_K_MESSAGES);
    for (int i = 0; i < ks->msgs; i++) {
      cJSON *m = cJSON_CreateObject();
      cJSON_AddStringToObject(m, JOB_K_MESSAGE, ks->msg[i]);
      cJSON_AddNumberToObject(m, JOB_K_COUNT, (double)ks->msg_count[i]);
      cJSON_AddItemToArray(msgs, m);
    }
    if (ks->other) cJSON_AddNumberToObject(e, JOB_K_OTHER_MESSAGES, (double)ks->other);
  }
  return o;
}

static cJSON *host_json(void) {
  cJSON *o = cJSON_CreateObject();
  char name[256] = "";
  struct utsname u;
  gethostname(name, sizeof name - 1);
  cJSON_AddStringToObject(o, JOB_K_HOSTNAME, name);
  if (uname(&u) == 0) {
    char os[300];
    snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
    cJSON_AddStringToObject(o, JOB_K_OS, os);
  }
  cJSON_AddNumberToObject(o, JOB_K_CPUS, (double)sysconf(_SC_NPROCESSORS_ONLN));
  return o;
}

static cJSON *tool_json(void) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, JOB_K_NAME, "rbench");
  cJSON_AddStringToObject(o, JOB_K_VERSION, RBENCH_VERSION);
  cJSON_AddStringToObject(o, JOB_K_GIT_COMMIT, RBENCH_GIT_COMMIT);
  return o;
}

static cJSON *scenario_json(const struct job_run_info *in) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, JOB_K_NAME, in->scenario ? in->scenario : "");
  if (in->description && *in->description)
    cJSON_AddStringToObject(o, JOB_K_DESCRIPTION, in->description);
  cJSON_AddStringToObject(o, JOB_K_RUN, in->params->name);
  cJSON_AddNumberToObject(o, JOB_K_REPETITION, (double)in->repetition);
  cJSON_AddNumberToObject(o, JOB_K_REPETITIONS, (double)in->repetitions);
  cJSON *t = cJSON_AddObjectToObject(o, JOB_K_TARGET);
  cJSON_AddStringToObject(t, JOB_K_KIND, job_target_kind_name(in->target->kind));
  cJSON_AddStringToObject(t, JOB_K_ACTION, in->target->action);
  cJSON_AddBoolToObject(t, JOB_K_INSECURE, in->target->insecure);
  cJSON_AddNumberToObject(t, JOB_K_REQUEST_TIMEOUT, in->target->request_timeout);
  cJSON_AddNumberToObject(t, JOB_K_POLL_TIMEOUT, in->target->poll_timeout);
  cJSON_AddNumberToObject(t, JOB_K_DRAIN_TIMEOUT, in->target->drain_timeout);
  if (in->target->kind == JOB_TARGET_LOCAL)
    cJSON_AddNumberToObject(t, JOB_K_POOL_SIZE, (double)in->target->pool_size);
  else cJSON_AddNumberToObject(t, JOB_K_WAIT_FOR_ACTION, in->target->wait_for_action);
  cJSON *params = job_params_to_json(in->params);
  if (params && in->arrival && in->arrival->offsets) /* the process's count, not rate x duration */
    cJSON_ReplaceItemInObjectCaseSensitive(params, JOB_K_PLANNED_INVOCATIONS,
                                           cJSON_CreateNumber((double)in->arrival->count));
  cJSON_AddItemToObject(o, JOB_K_PARAMETERS, params);
  if (in->config) cJSON_AddItemToObject(o, JOB_K_CONFIG, cJSON_Duplicate(in->config, true));
  return o;
}

/* What achieved_rate is judged against: the constant rate, or another arrival process's mean
 * rate between the first and the last invocation sent (over the same span as achieved), or over
 * its whole schedule when fewer than two were sent. */
static double requested_rate(const struct job_run_info *in) {
  const struct job_arrival *a = in->arrival;
  if (!a || !a->offsets) return in->params->rate;
  if (in->sent >= 2 && in->intended_rate_sent > 0) return in->intended_rate_sent;
  double whole = a->count >= 2 ? job_arrival_rate_between(a, 0, a->count - 1) : 0;
  return whole > 0 ? whole : in->params->rate;
}

/* Open loop: achieved is the send rate against the requested one. The closed loop requests no
 * rate (null) and sends when invocations finish, so its achieved rate is the completion rate. */
static void add_rates(cJSON *o, const struct job_results *r, const struct job_run_info *in) {
  double span = in->last_sent_s - in->first_sent_s;
  double achieved = in->sent >= 2 && span > 0 ? (double)(in->sent - 1) / span : 0;
  double out_span = (double)(r->last_end_us - (int64_t)(in->first_sent_s * 1e6)) / 1e6;
  if (in->closed) achieved = out_span > 0 ? (double)r->done / out_span : 0;
  cJSON_AddStringToObject(o, JOB_K_MODE, in->closed ? "closed" : "open");
  if (in->closed) cJSON_AddNullToObject(o, JOB_K_REQUESTED_RATE);
  else cJSON_AddNumberToObject(o, JOB_K_REQUESTED_RATE, requested_rate(in));
  if (!in->sent) { /* stopped before the first send: no time span to rate over */
    cJSON_AddNullToObject(o, JOB_K_ACHIEVED_RATE);
    cJSON_AddNullToObject(o, JOB_K_THROUGHPUT);
    return;
  }
  cJSON_AddNumberToObject(o, JOB_K_ACHIEVED_RATE, achieved);
  cJSON_AddNumberToObject(o, JOB_K_THROUGHPUT,
                          out_span > 0 ? (double)(r->done - r->failed - r->aborted) / out_span : 0);
}

static void add_counts(cJSON *o, const struct job_results *r, const struct job_run_info *in) {
  cJSON *c = cJSON_AddObjectToObject(o, JOB_K_INVOCATIONS);
  cJSON_AddNumberToObject(c, JOB_K_PLANNED, (double)in->planned);
  cJSON_AddNumberToObject(c, JOB_K_SENT, (double)in->sent);
  cJSON_AddNumberToObject(c, JOB_K_COMPLETED, (double)r->done);
  cJSON_AddNumberToObject(c, JOB_K_WARMUP, (double)in->warmup);
  cJSON_AddNumberToObject(c, JOB_K_MEASURED, (double)r->measured);
  cJSON_AddNumberToObject(c, JOB_K_SUCCEEDED, (double)r->measured_ok);
  cJSON_AddNumberToObject(c, JOB_K_FAILED,
                          (double)(r->measured - r->measured_ok - r->measured_aborted));
  cJSON_AddNumberToObject(c, JOB_K_ABORTED, (double)r->measured_aborted);
  cJSON_AddNumberToObject(c, JOB_K_UNSENT, (double)in->unsent);
  cJSON_AddNumberToObject(c, JOB_K_POLLED_AFTER_202, (double)r->polled);
  /* Not applicable to the closed loop: it has no schedule to fall behind. */
  if (in->closed) {
    cJSON_AddNullToObject(o, JOB_K_LATE_STARTS);
    cJSON_AddNullToObject(o, JOB_K_LATE_THRESHOLD_MS);
    cJSON_AddNullToObject(o, JOB_K_HELD_BY_MAX_IN_FLIGHT);
  } else {
    cJSON_AddNumberToObject(o, JOB_K_LATE_STARTS, (double)in->late);
    cJSON_AddNumberToObject(o, JOB_K_LATE_THRESHOLD_MS, (double)in->late_threshold_us / 1000.0);
    cJSON_AddNumberToObject(o, JOB_K_HELD_BY_MAX_IN_FLIGHT, (double)in->held);
  }
  cJSON *conn = cJSON_AddObjectToObject(o, JOB_K_CONNECTIONS);
  cJSON_AddNumberToObject(conn, JOB_K_AHEAD, (double)in->connections_ahead);
  cJSON_AddNumberToObject(conn, JOB_K_LIMIT, (double)in->connections_limit);
  cJSON_AddNumberToObject(conn, JOB_K_OPENED_BEFORE_START, (double)in->connections_before);
  cJSON_AddNumberToObject(conn, JOB_K_OPENED_DURING_RUN, (double)in->connections_during);
  /* Over the invocations that ran to an outcome: aborted ones (stopped by a signal) are in
   * neither rate. */
  double m = (double)(r->measured - r->measured_aborted);
  cJSON_AddNumberToObject(o, JOB_K_SUCCESS_RATE, m > 0 ? (double)r->measured_ok / m : 0);
  cJSON_AddNumberToObject(o, JOB_K_ERROR_RATE,
                          m > 0 ? (double)(r->measured - r->measured_ok - r->measured_aborted) / m
                                : 0);
  cJSON_AddNumberToObject(o, JOB_K_COLD_STARTS, (double)r->cold_starts);
}

/* When the sends and replies happened, in ms from start_time_ms: what `rbench merge` needs to
 * compute rates over the union of several shards' sends. */
static void add_timeline(cJSON *o, const struct job_results *r, const struct job_run_info *in) {
  cJSON *t = cJSON_AddObjectToObject(o, JOB_K_TIMELINE);
  if (in->sent) {
    cJSON_AddNumberToObject(t, JOB_K_FIRST_SEND_MS, round(in->first_sent_s * 1e6) / 1e3);
    cJSON_AddNumberToObject(t, JOB_K_LAST_SEND_MS, round(in->last_sent_s * 1e6) / 1e3);
  } else {
    cJSON_AddNullToObject(t, JOB_K_FIRST_SEND_MS);
    cJSON_AddNullToObject(t, JOB_K_LAST_SEND_MS);
  }
  if (r->done) cJSON_AddNumberToObject(t, JOB_K_LAST_END_MS, (double)r->last_end_us / 1e3);
  else cJSON_AddNullToObject(t, JOB_K_LAST_END_MS);
  if (in->sent) {
    cJSON_AddNumberToObject(t, JOB_K_BACKEND_BEFORE_MS, round(in->backend_before_ms * 1e3) / 1e3);
    cJSON_AddNumberToObject(t, JOB_K_BACKEND_AFTER_MS, round(in->backend_after_ms * 1e3) / 1e3);
  } else { /* relative to a start that never came */
    cJSON_AddNullToObject(t, JOB_K_BACKEND_BEFORE_MS);
    cJSON_AddNullToObject(t, JOB_K_BACKEND_AFTER_MS);
  }
}

/* Every latency distribution as a mergeable histogram (docs/results.md, "Histograms"). */
static cJSON *histograms_json(const struct job_results *r, const struct job_run_info *in) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, JOB_K_ENCODING, JOB_HIST_ENCODING);
  cJSON_AddStringToObject(o, JOB_K_UNIT, "us");
  cJSON_AddNumberToObject(o, JOB_K_MAX_RELATIVE_ERROR, JOB_HIST_MAX_RELATIVE_ERROR);
  cJSON_AddItemToObject(o, metric_names[M_EXEC], job_hist_to_json(r->h[M_EXEC]));
  cJSON_AddItemToObject(o, metric_names[M_SERVICE], job_hist_to_json(r->h[M_SERVICE]));
  if (!in->closed) cJSON_AddItemToObject(o, JOB_K_SCHEDULE_LAG_MS, job_hist_to_json(r->lag));
  for (int i = M_DURATION; i < M_COUNT; i++)
    cJSON_AddItemToObject(o, metric_names[i], job_hist_to_json(r->h[i]));
  return o;
}

/* A figure, or null when there is none (fewer sends than it needs). */
static void add_figure(cJSON *o, const char *key, bool has, double v) {
  if (has && isfinite(v)) cJSON_AddNumberToObject(o, key, v);
  else cJSON_AddNullToObject(o, key);
}

/* The arrival process (docs/workloads.md): its knobs, and the intended and realised mean rate
 * and coefficient of variation of the gaps, both over this document's measured invocations
 * that were sent (intended: their due times; realised: their send times). null for the closed
 * loop, which has no arrival process. */
static cJSON *arrival_json(const struct job_run_info *in) {
  const struct job_arrival *a = in->arrival;
  const struct job_params *p = in->params;
  if (!a) return cJSON_CreateNull();
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, JOB_K_PROCESS, job_arrival_kind_name(a->kind));
  if (a->kind != JOB_ARRIVAL_TRACE) cJSON_AddNumberToObject(o, JOB_K_RATE, p->rate);
  if (a->kind == JOB_ARRIVAL_BURSTS) {
    cJSON_AddNumberToObject(o, JOB_K_BURST_RATE, p->burst_rate);
    cJSON_AddNumberToObject(o, JOB_K_BURST_SECONDS, p->burst_seconds);
    cJSON_AddNumberToObject(o, JOB_K_BASE_SECONDS, p->base_seconds);
  }
  if (a->kind == JOB_ARRIVAL_TRACE) {
    cJSON_AddStringToObject(o, JOB_K_TRACE_FILE, p->trace_file);
    cJSON_AddStringToObject(o, JOB_K_TRACE_FORMAT, p->trace_format);
    if (strcmp(p->trace_format, "azure") == 0) {
      cJSON_AddStringToObject(o, JOB_K_TRACE_ROWS, p->trace_rows);
      char minutes[32];
      snprintf(minutes, sizeof minutes, "%d-%d", a->minute_first, a->minute_last);
      cJSON_AddStringToObject(o, JOB_K_TRACE_MINUTES, minutes);
      cJSON_AddStringToObject(o, JOB_K_TRACE_SPREAD, p->trace_spread);
    }
    cJSON_AddNumberToObject(o, JOB_K_TRACE_SPEEDUP, p->trace_speedup);
  }
  if (a->kind == JOB_ARRIVAL_POISSON ||
      (a->kind == JOB_ARRIVAL_TRACE && strcmp(p->trace_format, "azure") == 0 &&
       strcmp(p->trace_spread, "poisson") == 0))
    cJSON_AddNumberToObject(o, JOB_K_SEED, (double)p->seed);
  cJSON_AddNumberToObject(o, JOB_K_PLANNED, (double)a->count);
  cJSON_AddNumberToObject(o, JOB_K_SPAN_S,
                          a->count ? (double)job_arrival_offset(a, a->count - 1) / 1e9 : 0);
  const struct job_gaps *ig = &in->intended_gaps, *rg = &in->realised_gaps;
  cJSON_AddNumberToObject(o, JOB_K_MEASURED_SENDS, (double)rg->n);
  add_figure(o, JOB_K_INTENDED_RATE, ig->n >= 2 && ig->last_ns > ig->first_ns, job_gaps_rate(ig));
  add_figure(o, JOB_K_INTENDED_CV, ig->n >= 3 && ig->mean > 0, job_gaps_cv(ig));
  add_figure(o, JOB_K_REALISED_RATE, rg->n >= 2 && rg->last_ns > rg->first_ns, job_gaps_rate(rg));
  add_figure(o, JOB_K_REALISED_CV, rg->n >= 3 && rg->mean > 0, job_gaps_cv(rg));
  return o;
}

static cJSON *shard_json(const struct job_run_info *in) {
  cJSON *o = cJSON_CreateObject();
  int64_t start_ms = in->start_epoch_us / 1000;
  char key[17];
  job_shard_run_key(in->scenario, in->params, in->repetition, start_ms, in->shard->count, key);
  cJSON_AddNumberToObject(o, JOB_K_INDEX, in->shard->index);
  cJSON_AddNumberToObject(o, JOB_K_COUNT, in->shard->count);
  cJSON_AddNumberToObject(o, JOB_K_START_AT_MS, (double)start_ms);
  cJSON_AddStringToObject(o, JOB_K_RUN_KEY, key);
  return o;
}

/* Shares of a mix (weights, or counts) by operation name; NULL when they sum to 0. */
static cJSON *shares_json(const double v[RB_OP_COUNT]) {
  double total = 0;
  for (int i = 0; i < RB_OP_COUNT; i++) total += v[i];
  if (!(total > 0)) return NULL;
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; o && i < RB_OP_COUNT; i++)
    if (v[i] > 0) cJSON_AddNumberToObject(o, rb_op_name((enum rb_op)i), v[i] / total);
  return o;
}

static bool mix_has(const struct rb_workload *w, enum rb_op a, enum rb_op b) {
  return w->weight[a] > 0 || w->weight[b] > 0;
}

/* The "workload" section (docs/results.md, "Workload"): the settings that make the operations
 * (mix, key distribution and its parameters, value sizes, the knobs the mix's commands use,
 * seed), the mix the actions reported (realised_mix, from op_stats) and key reuse. NULL when
 * the run's parameters do not make a workload (not after validation). */
cJSON *job_results_workload_json(const struct job_results *r, const struct job_run_info *in) {
  struct rb_workload w;
  char why[300];
  if (job_params_workload(in->params, &w, why, sizeof why) != RB_OK) return NULL;
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  double v[RB_OP_COUNT];
  for (int i = 0; i < RB_OP_COUNT; i++) v[i] = w.weight[i];
  cJSON_AddItemToObject(o, JOB_K_MIX, shares_json(v));
  for (int i = 0; i < RB_OP_COUNT; i++) v[i] = (double)(r->ops[i].succeeded + r->ops[i].failed);
  cJSON *real = r->op_stats_records ? shares_json(v) : NULL;
  if (real) cJSON_AddItemToObject(o, JOB_K_REALISED_MIX, real);
  else cJSON_AddNullToObject(o, JOB_K_REALISED_MIX); /* the actions reported no op_stats */
  cJSON_AddStringToObject(o, JOB_K_KEY_DISTRIBUTION, rb_keydist_name(w.keydist));
  if (w.keydist == RB_KEYS_ZIPFIAN)
    cJSON_AddNumberToObject(o, JOB_K_ZIPF_EXPONENT, w.zipf_exponent);
  if (w.keydist == RB_KEYS_HOTSPOT) {
    cJSON_AddNumberToObject(o, JOB_K_HOTSPOT_KEYS, w.hotspot_keys);
    cJSON_AddNumberToObject(o, JOB_K_HOTSPOT_OPS, w.hotspot_ops);
  }
  if (w.keydist == RB_KEYS_GAUSSIAN)
    cJSON_AddNumberToObject(o, JOB_K_GAUSSIAN_STDDEV, w.gaussian_stddev);
  cJSON_AddNumberToObject(o, JOB_K_KEY_SPACE, (double)w.key_space);
  char sizes[300];
  rb_workload_sizes_text(&w.sizes, sizes, sizeof sizes);
  cJSON_AddStringToObject(o, JOB_K_VALUE_SIZES, sizes);
  if (mix_has(&w, RB_OP_MGET, RB_OP_MSET))
    cJSON_AddNumberToObject(o, JOB_K_KEYS_PER_COMMAND, w.keys_per_command);
  bool structures = false;
  for (int i = 0; i < RB_OP_COUNT; i++) {
    enum rb_ns ns = rb_op_ns((enum rb_op)i);
    structures |= w.weight[i] > 0 && ns != RB_NS_STRING && ns != RB_NS_COUNTER;
  }
  if (structures) cJSON_AddNumberToObject(o, JOB_K_STRUCTURE_SIZE, w.structure_size);
  if (mix_has(&w, RB_OP_LRANGE, RB_OP_ZRANGEBYSCORE))
    cJSON_AddNumberToObject(o, JOB_K_RANGE_SPAN, w.range_span);
  if (w.weight[RB_OP_EVAL] > 0)
    cJSON_AddNumberToObject(o, JOB_K_SCRIPT_WORK, (double)w.script_work);
  cJSON_AddNumberToObject(o, JOB_K_SEED, (double)w.seed);
  cJSON_AddBoolToObject(o, JOB_K_PREPARE,
                        in->params->prepare && rb_workload_prepare_needs(&w) != 0);
  const struct job_key_reuse *k = in->key_reuse;
  if (!k) {
    cJSON_AddNullToObject(o, JOB_K_KEY_REUSE);
    return o;
  }
  cJSON *a = cJSON_AddArrayToObject(o, JOB_K_KEY_REUSE);
  for (int i = 0; a && i < JOB_REUSE_WINDOWS; i++) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, JOB_K_WINDOW_OPS, job_reuse_window_ops[i]);
    cJSON_AddNumberToObject(x, JOB_K_REPEATED, k->repeated[i]);
    cJSON_AddItemToArray(a, x);
  }
  cJSON *smp = cJSON_AddObjectToObject(o, JOB_K_KEY_REUSE_SAMPLE);
  cJSON_AddNumberToObject(smp, JOB_K_FIRST_INVOCATION, (double)k->first_invocation);
  cJSON_AddNumberToObject(smp, JOB_K_INVOCATIONS, (double)k->invocations);
  cJSON_AddNumberToObject(smp, JOB_K_OPERATIONS, (double)k->operations);
  cJSON_AddNumberToObject(smp, JOB_K_KEYS, (double)k->keys);
  cJSON_AddBoolToObject(smp, JOB_K_TRUNCATED, k->truncated);
  return o;
}

/* The "operations" section (docs/results.md, "Operations"): per operation type, merged from
 * the measured invocations' op_stats. NULL when none of them had op_stats (an older action). */
cJSON *job_results_operations_json(const struct job_results *r) {
  if (!r->op_stats_records) return NULL;
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; o && i < RB_OP_COUNT; i++) {
    const struct op_acc *a = &r->ops[i];
    if (!a->h) continue;
    cJSON *x = cJSON_AddObjectToObject(o, rb_op_name((enum rb_op)i));
    cJSON_AddNumberToObject(x, JOB_K_SUCCEEDED, (double)a->succeeded);
    cJSON_AddNumberToObject(x, JOB_K_FAILED, (double)a->failed);
    if (a->has_found) cJSON_AddNumberToObject(x, JOB_K_FOUND, (double)a->found);
    cJSON_AddItemToObject(x, JOB_K_LATENCY_MS, job_results_hist_summary(a->h));
    cJSON_AddItemToObject(x, JOB_K_HISTOGRAM, job_hist_to_json(a->h));
  }
  return o;
}

cJSON *job_results_summary(struct job_results *r, const struct job_run_info *in) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, JOB_K_SCHEMA_VERSION, JOB_DOC_SCHEMA_VERSION);
  if (in->run_id && *in->run_id) cJSON_AddStringToObject(o, JOB_K_RUN_ID, in->run_id);
  cJSON_AddBoolToObject(o, JOB_K_COMPLETE, in->complete);
  if (in->interrupted_by) cJSON_AddStringToObject(o, JOB_K_INTERRUPTED_BY, in->interrupted_by);
  else cJSON_AddNullToObject(o, JOB_K_INTERRUPTED_BY);
  cJSON_AddItemToObject(o, JOB_K_RBENCH, tool_json());
  cJSON_AddItemToObject(o, JOB_K_HOST, host_json());
  cJSON_AddStringToObject(o, JOB_K_TARGET, job_target_kind_name(in->target->kind));
  cJSON_AddStringToObject(o, JOB_K_ACTION, in->action ? in->action : in->target->action);
  cJSON_AddItemToObject(o, JOB_K_SCENARIO, scenario_json(in));
  if (in->sent) {
    cJSON_AddNumberToObject(o, JOB_K_START_TIME_MS, (double)(in->start_epoch_us / 1000));
    cJSON_AddNumberToObject(o, JOB_K_DURATION_S, (double)in->elapsed_us / 1e6);
  } else { /* stopped before the first send: the run never started */
    cJSON_AddNullToObject(o, JOB_K_START_TIME_MS);
    cJSON_AddNullToObject(o, JOB_K_DURATION_S);
  }
  add_rates(o, r, in);
  add_counts(o, r, in);
  cJSON_AddItemToObject(o, JOB_K_ARRIVAL, arrival_json(in));
  cJSON_AddItemToObject(o, JOB_K_EXECUTION_TIME_MS, samples_json(&r->m[M_EXEC]));
  cJSON_AddItemToObject(o, JOB_K_SERVICE_TIME_MS, samples_json(&r->m[M_SERVICE]));
  if (in->closed) cJSON_AddNullToObject(o, JOB_K_SCHEDULE_LAG_MS);
  else cJSON_AddItemToObject(o, JOB_K_SCHEDULE_LAG_MS, job_results_hist_summary(r->lag));
  cJSON *srv = cJSON_AddObjectToObject(o, JOB_K_SERVER);
  for (int i = M_DURATION; i < M_COUNT; i++)
    cJSON_AddItemToObject(srv, metric_names[i], samples_json(&r->m[i]));
  cJSON_AddItemToObject(o, JOB_K_ERRORS_BY_KIND, errors_json(r));
  for (const cJSON *it = in->server_side ? in->server_side->child : NULL; it; it = it->next)
    cJSON_AddItemToObject(o, it->string, cJSON_Duplicate(it, true));
  if (in->sweep) cJSON_AddItemToObject(o, JOB_K_SWEEP, cJSON_Duplicate(in->sweep, true));
  cJSON *wl = job_results_workload_json(r, in);
  if (wl) cJSON_AddItemToObject(o, JOB_K_WORKLOAD, wl);
  cJSON *ops = job_results_operations_json(r);
  if (ops) cJSON_AddItemToObject(o, JOB_K_OPERATIONS, ops);
  add_timeline(o, r, in);
  cJSON_AddItemToObject(o, JOB_K_HISTOGRAMS, histograms_json(r, in));
  if (in->shard && in->shard->count) cJSON_AddItemToObject(o, JOB_K_SHARD, shard_json(in));
  return o;
}

/* Copies the spool (comma-separated record lines) to out. */
static bool copy_spool(struct job_results *r, FILE *out) {
  r->pending = 0;
  if (fflush(r->spool) != 0 || fseek(r->spool, 0, SEEK_SET) != 0) return false;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, r->spool)) > 0)
    if (fwrite(buf, 1, n, out) != n) return false;
  bool ok = !ferror(r->spool);
  fseek(r->spool, 0, SEEK_END);
  return ok;
}

enum rb_err job_results_write(struct job_results *r, const struct job_run_info *info, char *err,
                              size_t errlen) {
  cJSON *sum = job_results_summary(r, info);
  char *text = sum ? cJSON_Print(sum) : NULL;
  cJSON_Delete(sum);
  if (!text) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory building results");
  /* The summary ends with "\n}": drop the brace, append raw_results, close again. */
  size_t n = strlen(text);
  while (n > 0 && text[n - 1] != '}') n--;
  if (n > 0) n--;
  FILE *f = job_output_begin(&r->out, err, errlen);
  if (!f) {
    cJSON_free(text);
    return RB_ERR_IO;
  }
  bool ok = fwrite(text, 1, n, f) == n;
  cJSON_free(text);
  ok = ok && fputs(",\n\t\"raw_results\": [\n", f) >= 0 && copy_spool(r, f) &&
       fputs("\n\t]\n}\n", f) >= 0;
  return job_output_commit(&r->out, ok, err, errlen);
}
