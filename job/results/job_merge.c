/* job_merge.c: the shards of one run into one results document (see job_merge.h). */
#define _GNU_SOURCE
#include "job_merge.h"

#include <math.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_backend.h"
#include "job_doc.h"
#include "job_hist.h"
#include "job_results.h"

/* Sets o[name] to a number, or null when v is NaN (replacing what was there). */
static void set_num(cJSON *o, const char *name, double v) {
  cJSON *old = cJSON_GetObjectItemCaseSensitive(o, name);
  if (cJSON_IsNumber(old) && !isnan(v)) { /* in place: callers may be iterating over o */
    cJSON_SetNumberValue(old, v);
    return;
  }
  cJSON *n = isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
  if (old) cJSON_ReplaceItemInObjectCaseSensitive(o, name, n);
  else cJSON_AddItemToObject(o, name, n);
}

static void set_item(cJSON *o, const char *name, cJSON *v) {
  if (!v) v = cJSON_CreateNull();
  if (cJSON_GetObjectItemCaseSensitive(o, name)) cJSON_ReplaceItemInObjectCaseSensitive(o, name, v);
  else cJSON_AddItemToObject(o, name, v);
}

static const char *or_empty(const char *s) { return s ? s : ""; }

const char *job_merge_doc_not_a_shard(const struct job_doc *d) {
  if (!d->has_invocations || !d->has_scenario) return "not an rbench results document";
  if (d->merged && !d->sharded) return "already a merged document, not a shard";
  if (!d->sharded)
    return "an unsharded results document (no \"shard\" field: written without --shard)";
  if (isnan(d->shard_index) || isnan(d->shard_count) || isnan(d->shard_start_at_ms) ||
      !d->shard_run_key)
    return "its \"shard\" field lacks index, count, start_at_ms or run_key";
  double i = d->shard_index, n = d->shard_count;
  if (!(n >= 1 && n <= 100000 && i < n))
    return "its \"shard\" index and count are not 0 <= index < count";
  return NULL;
}

const char *job_merge_not_a_shard(const cJSON *doc) {
  struct job_doc d;
  char err[300];
  if (job_doc_read(doc, NULL, &d, err, sizeof err) != RB_OK)
    return "not a valid rbench results document";
  const char *why = job_merge_doc_not_a_shard(&d);
  job_doc_free(&d);
  return why;
}

void job_merge_doc_group_key(const struct job_doc *d, char *out, size_t len) {
  snprintf(out, len, "%s\x1f%s\x1f%.0f", or_empty(d->scenario_name), or_empty(d->run_name),
           d->repetition);
}

void job_merge_group_key(const cJSON *doc, char *out, size_t len) {
  struct job_doc d;
  char err[300];
  if (job_doc_read(doc, NULL, &d, err, sizeof err) != RB_OK) {
    snprintf(out, len, "\x1f\x1f(invalid)");
    return;
  }
  job_merge_doc_group_key(&d, out, len);
  job_doc_free(&d);
}

/* ---- checks ------------------------------------------------------------------------ */

/* Orders the shards by index into order[count]; false with err when they are not one run. */
static bool check_shards(const struct job_doc *docs, const char *const *paths, size_t n,
                         size_t *order, size_t count, char *err, size_t errlen) {
  for (size_t k = 0; k < count; k++) order[k] = SIZE_MAX;
  char g0[600], g[600];
  job_merge_doc_group_key(&docs[0], g0, sizeof g0);
  for (size_t i = 0; i < n; i++) {
    const struct job_doc *s = &docs[i];
    job_merge_doc_group_key(s, g, sizeof g);
    const char *why = NULL;
    if (strcmp(g, g0)) why = "different scenario, run or repetition";
    else if ((size_t)s->shard_count != count) why = "different shard counts";
    else if (s->shard_start_at_ms != docs[0].shard_start_at_ms) why = "different start instants";
    else if (strcmp(s->shard_run_key, docs[0].shard_run_key))
      why = "different run keys (the runs' parameters differ)";
    if (why) {
      rb_errorf(RB_ERR_INVALID, err, errlen, "%s and %s are not shards of one run: %s", paths[0],
                paths[i], why);
      return false;
    }
    size_t idx = (size_t)s->shard_index;
    if (order[idx] != SIZE_MAX) {
      rb_errorf(RB_ERR_INVALID, err, errlen, "%s and %s are both shard %zu of %zu",
                paths[order[idx]], paths[i], idx, count);
      return false;
    }
    order[idx] = i;
  }
  char missing[300] = "";
  size_t nm = 0, len = 0;
  for (size_t k = 0; k < count; k++) {
    if (order[k] != SIZE_MAX) continue;
    if (nm++ < 20 && len < sizeof missing - 16)
      len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%zu", nm > 1 ? ", " : "", k);
  }
  if (nm) {
    rb_errorf(RB_ERR_INVALID, err, errlen,
              "run %s (repetition %.0f, run key %s): shard%s %s%s of %zu "
              "missing (given %zu, e.g. %s)",
              or_empty(docs[0].run_name), docs[0].repetition, docs[0].shard_run_key,
              nm > 1 ? "s" : "", missing, nm > 20 ? ", ..." : "", count, n, paths[0]);
    return false;
  }
  return true;
}

/* ---- distributions ------------------------------------------------------------------- */

enum { D_EXEC, D_SERVICE, D_DURATION, D_WAIT, D_INIT, D_ACTION, D_LAG, D_COUNT };
static const char *const dist_names[D_COUNT] = {
    JOB_K_EXECUTION_TIME_MS, JOB_K_SERVICE_TIME_MS,   JOB_K_DURATION_MS,    JOB_K_WAIT_TIME_MS,
    JOB_K_INIT_TIME_MS,      JOB_K_ACTION_ELAPSED_MS, JOB_K_SCHEDULE_LAG_MS};

struct u64s {
  uint64_t *v;
  size_t n, cap;
};

static bool u64_push(struct u64s *a, double us) {
  if (isnan(us) || us < 0) return true;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 256;
    uint64_t *v = realloc(a->v, cap * sizeof *v);
    if (!v) return false;
    a->v = v;
    a->cap = cap;
  }
  /* As the runner stores samples: whole microseconds. */
  a->v[a->n++] = us > 4294967295.0 ? UINT32_MAX : (uint64_t)(us + 0.5);
  return true;
}

static double us_of_ms(double ms) { return isnan(ms) ? ms : ms * 1000; }

/* The samples of the successful measured invocations of every shard, per metric (not lag). */
static bool pool_raw(const struct job_doc *docs, size_t n, struct u64s *d, uint64_t *successes) {
  bool ok = true;
  for (size_t i = 0; i < n && ok; i++) {
    for (size_t k = 0; k < docs[i].nraw && ok; k++) {
      const struct job_doc_record *r = &docs[i].raw[k];
      if (r->success) (*successes)++;
      if (!r->success || r->warmup) continue;
      ok = u64_push(&d[D_EXEC], us_of_ms(r->execution_ms)) &&
           u64_push(&d[D_SERVICE], us_of_ms(r->service_ms)) &&
           u64_push(&d[D_DURATION], us_of_ms(r->duration_ms)) &&
           u64_push(&d[D_WAIT], us_of_ms(r->wait_ms)) &&
           u64_push(&d[D_INIT], us_of_ms(r->init_ms)) &&
           u64_push(&d[D_ACTION], r->action_elapsed_us);
    }
  }
  return ok;
}

/* Merges every shard's histogram of each metric into h[]; false with err naming the file. */
static bool merge_hists(const struct job_doc *docs, const char *const *paths, size_t n, bool closed,
                        struct job_hist **h, char *err, size_t errlen) {
  for (int m = 0; m < D_COUNT; m++) {
    if (m == D_LAG && closed) continue;
    for (size_t i = 0; i < n; i++) {
      const cJSON *o = cJSON_GetObjectItemCaseSensitive(docs[i].histograms, dist_names[m]);
      char why[200];
      struct job_hist *x = o ? job_hist_from_json(o, why, sizeof why) : NULL;
      if (!o) snprintf(why, sizeof why, "no histograms.%s", dist_names[m]);
      if (!x) {
        rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s", paths[i], why);
        return false;
      }
      job_hist_merge(h[m], x);
      job_hist_destroy(x);
    }
  }
  return true;
}

static cJSON *hists_json(struct job_hist **h, bool closed) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, JOB_K_ENCODING, JOB_HIST_ENCODING);
  cJSON_AddStringToObject(o, JOB_K_UNIT, "us");
  cJSON_AddNumberToObject(o, JOB_K_MAX_RELATIVE_ERROR, JOB_HIST_MAX_RELATIVE_ERROR);
  static const int order[] = {D_EXEC, D_SERVICE, D_LAG, D_DURATION, D_WAIT, D_INIT, D_ACTION};
  for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
    if (!(order[k] == D_LAG && closed))
      cJSON_AddItemToObject(o, dist_names[order[k]], job_hist_to_json(h[order[k]]));
  return o;
}

/* ---- errors ----------------------------------------------------------------------------- */

struct kind_sum {
  const char *kind;
  double count, other;
  const char *msg[JOB_RESULTS_MESSAGES_PER_KIND];
  double msg_count[JOB_RESULTS_MESSAGES_PER_KIND];
  size_t msgs;
};

static void add_kind(struct kind_sum *k, const struct job_doc_error_kind *e) {
  k->count += isnan(e->count) ? 0 : e->count;
  if (!isnan(e->other_messages)) k->other += e->other_messages;
  for (size_t i = 0; i < e->nmessages; i++) {
    const struct job_doc_message *m = &e->messages[i];
    size_t same = 0;
    while (same < k->msgs && strcmp(k->msg[same], m->message)) same++;
    if (same < k->msgs) {
      k->msg_count[same] += m->count;
    } else if (k->msgs < JOB_RESULTS_MESSAGES_PER_KIND) {
      k->msg[k->msgs] = m->message;
      k->msg_count[k->msgs++] = m->count;
    } else {
      k->other += m->count;
    }
  }
}

static cJSON *kind_json(const struct kind_sum *k) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddNumberToObject(e, JOB_K_COUNT, k->count);
  cJSON *msgs = cJSON_AddArrayToObject(e, JOB_K_MESSAGES);
  for (size_t i = 0; i < k->msgs; i++) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, JOB_K_MESSAGE, k->msg[i]);
    cJSON_AddNumberToObject(m, JOB_K_COUNT, k->msg_count[i]);
    cJSON_AddItemToArray(msgs, m);
  }
  /* as the runner writes them: other_messages only when some were left out */
  if (k->other != 0) cJSON_AddNumberToObject(e, JOB_K_OTHER_MESSAGES, k->other);
  return e;
}

static cJSON *merge_errors(const struct job_doc *docs, const size_t *order, size_t n) {
  size_t cap = 0;
  for (size_t k = 0; k < n; k++) cap += docs[order[k]].error_kinds;
  struct kind_sum *ks = calloc(cap ? cap : 1, sizeof *ks);
  cJSON *out = cJSON_CreateObject();
  size_t nk = 0;
  for (size_t k = 0; ks && k < n; k++) {
    const struct job_doc *d = &docs[order[k]];
    for (size_t e = 0; e < d->error_kinds; e++) {
      size_t i = 0;
      while (i < nk && strcmp(ks[i].kind, d->errors[e].kind)) i++;
      if (i == nk) ks[nk++].kind = d->errors[e].kind;
      add_kind(&ks[i], &d->errors[e]);
    }
  }
  for (size_t i = 0; out && i < nk; i++) cJSON_AddItemToObject(out, ks[i].kind, kind_json(&ks[i]));
  free(ks);
  return out;
}

/* ---- the backend: once per server --------------------------------------------------------- */

static bool available(const struct job_doc_backend *b) { return b->present && !b->unavailable; }

/* The shard whose Redis/agent figures stand for the run; *how says why. */
static size_t backend_choice(const struct job_doc *docs, const size_t *order, size_t n, char *how,
                             size_t len) {
  size_t best = SIZE_MAX;
  double lo = (double)INFINITY, hi = -(double)INFINITY;
  for (size_t k = 0; k < n; k++) {
    const struct job_doc *d = &docs[order[k]];
    double b = d->backend_before_ms, a = d->backend_after_ms;
    if (isnan(b) || isnan(a) || !available(&d->redis)) continue;
    if (b < lo) lo = b;
    if (a > hi) hi = a;
  }
  for (size_t k = 0; k < n && best == SIZE_MAX; k++) {
    const struct job_doc *d = &docs[order[k]];
    if (d->backend_before_ms == lo && d->backend_after_ms == hi && available(&d->redis)) best = k;
  }
  if (best != SIZE_MAX) {
    snprintf(how, len,
             "redis and agent: the figures of shard %zu, whose sampling window (%.0f to %.0f ms "
             "from the start) covers every shard's; the shards sampled the same servers, so their "
             "figures "
             "are not summed; per-operation figures are over every shard's operations",
             best, lo, hi);
    return best;
  }
  double widest = -1;
  for (size_t k = 0; k < n; k++) {
    const struct job_doc *d = &docs[order[k]];
    double w = d->backend_after_ms - d->backend_before_ms;
    if (available(&d->redis) && !isnan(w) && w > widest) widest = w, best = k;
  }
  if (best == SIZE_MAX) {
    snprintf(
        how, len,
        "redis and agent: shard 0's sections (no shard has Redis figures with a sampling window)");
    return 0;
  }
  snprintf(how, len,
           "redis and agent: no shard's sampling window covers every other's; the figures of "
           "shard %zu, the widest (%.0f ms), which may miss other shards' work outside it; "
           "per-operation "
           "figures are over every shard's operations",
           best, widest);
  return best;
}

static double per_op(double v, double ops) {
  return isnan(v) || isnan(ops) || ops <= 0 ? (double)NAN : round(v / ops * 1e6) / 1e6;
}

/* Judges shared again over the whole run, or notes that it was judged by one shard. */
static void redis_shared_note(cJSON *redis, const struct job_doc *src, size_t chosen, size_t n,
                              double ops) {
  const char *old = src->redis.note;
  if (n > 1 && src->redis.calls) {
    /* Judged again over the whole run: every shard's operations, and every shard's sampler
     * (two INFOs each, the chosen one's first not in its window). */
    char why[600], note[1600];
    bool shared =
        job_backend_shared_from_calls(src->redis.calls, src->params.operation, src->params.batching,
                                      isnan(ops) ? -1 : ops, 2.0 * (double)n - 1, why, sizeof why);
    snprintf(note, sizeof note,
             "shared judged again over the merged run (every shard's operations and "
             "samplers; connection counts not judged)%s%s%s%s",
             shared ? ": " : "", shared ? why : "", old ? "; shard's own note: " : "",
             old ? old : "");
    set_item(redis, JOB_K_SHARED, cJSON_CreateBool(shared));
    set_item(redis, JOB_K_NOTE, cJSON_CreateString(note));
  } else if (n > 1) {
    char note[1200];
    snprintf(note, sizeof note,
             "%s%sshared was judged by shard %zu against its own invocations only "
             "(the other shards' traffic counts there as other clients')",
             old ? old : "", old ? "; " : "", chosen);
    set_item(redis, JOB_K_NOTE, cJSON_CreateString(note));
  }
}

/* The chosen sections, with per-operation figures over the merged operations. */
static void merge_backend(cJSON *out, const struct job_doc *docs, const size_t *order, size_t n,
                          char *how, size_t len) {
  size_t c = backend_choice(docs, order, n, how, len);
  const struct job_doc *src = &docs[order[c]];
  double ops = 0;
  for (size_t k = 0; k < n; k++) ops += docs[order[k]].redis.ops.v;
  cJSON *redis = src->redis.json ? cJSON_Duplicate(src->redis.json, true) : NULL;
  cJSON *agent = src->agent.json ? cJSON_Duplicate(src->agent.json, true) : NULL;
  if (available(&src->redis)) {
    const struct job_doc_backend *r = &src->redis;
    set_num(redis, JOB_K_OPS, ops);
    set_num(redis, JOB_K_CPU_US_PER_OP, per_op(r->cpu_total_s.v * 1e6, ops));
    set_num(redis, JOB_K_COMMANDS_PER_OP, per_op(r->commands.v, ops));
    set_num(redis, JOB_K_READS_PER_OP, per_op(r->reads.v, ops));
    set_num(redis, JOB_K_WRITES_PER_OP, per_op(r->writes.v, ops));
    set_num(redis, JOB_K_BYTES_PER_OP, per_op(r->net_input_bytes.v + r->net_output_bytes.v, ops));
    redis_shared_note(redis, src, c, n, ops);
  }
  if (available(&src->agent))
    set_num(agent, JOB_K_CPU_US_PER_OP, per_op(src->agent.cpu_total_s.v * 1e6, ops));
  if (redis) set_item(out, JOB_K_REDIS, redis);
  if (agent) set_item(out, JOB_K_AGENT, agent);
  double b = 0;
  if (src->backend_cpu_us_per_op.has != JOB_DOC_ABSENT)
    set_num(out, JOB_K_BACKEND_CPU_US_PER_OP,
            job_backend_cpu_per_op(redis, agent, src->params.batching, &b) ? b : (double)NAN);
  cJSON *t = cJSON_GetObjectItemCaseSensitive(out, JOB_K_TIMELINE);
  if (t) {
    set_num(t, JOB_K_BACKEND_BEFORE_MS, src->backend_before_ms);
    set_num(t, JOB_K_BACKEND_AFTER_MS, src->backend_after_ms);
  }
}

/* ---- raw records --------------------------------------------------------------------------- */

/* A record's sort key; a missing one sorts first (a consistent order whatever the input). */
static double key_of(double v) { return isnan(v) ? -(double)INFINITY : v; }

static int cmp_end(const void *a, const void *b) {
  const struct job_doc_record *x = *(const struct job_doc_record *const *)a;
  const struct job_doc_record *y = *(const struct job_doc_record *const *)b;
  double ex = key_of(x->end_ms), ey = key_of(y->end_ms);
  if (ex != ey) return ex < ey ? -1 : 1;
  double ix = key_of(x->index), iy = key_of(y->index);
  return (ix > iy) - (ix < iy);
}

/* Every shard's raw records, in completion order, as written. */
static cJSON *merge_raw(const struct job_doc *docs, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += docs[i].nraw;
  const struct job_doc_record **all = malloc((total ? total : 1) * sizeof *all);
  cJSON *arr = cJSON_CreateArray();
  if (!all || !arr) {
    free(all);
    cJSON_Delete(arr);
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < docs[i].nraw; j++) all[k++] = &docs[i].raw[j];
  qsort(all, k, sizeof *all, cmp_end);
  for (size_t i = 0; i < k; i++) cJSON_AddItemToArray(arr, cJSON_Duplicate(all[i]->json, true));
  free(all);
  return arr;
}

/* ---- the merge ---------------------------------------------------------------------------- */

struct count_field {
  const char *key;
  size_t offset; /* of a double in struct job_doc */
};

#define CF(k, f) \
  { k, offsetof(struct job_doc, f) }
static const struct count_field invocation_fields[] = {
    CF(JOB_K_PLANNED, planned),
    CF(JOB_K_SENT, sent),
    CF(JOB_K_COMPLETED, completed),
    CF(JOB_K_WARMUP, warmup_count),
    CF(JOB_K_MEASURED, measured),
    CF(JOB_K_SUCCEEDED, succeeded),
    CF(JOB_K_FAILED, failed),
    CF(JOB_K_UNSENT, unsent),
    CF(JOB_K_POLLED_AFTER_202, polled_after_202)};
static const struct count_field connection_fields[] = {
    CF(JOB_K_AHEAD, conn_ahead), CF(JOB_K_LIMIT, conn_limit),
    CF(JOB_K_OPENED_BEFORE_START, conn_before), CF(JOB_K_OPENED_DURING_RUN, conn_during)};
static const struct count_field per_doc_fields[] = {
    CF(JOB_K_LATE_STARTS, late_starts), CF(JOB_K_HELD_BY_MAX_IN_FLIGHT, held_by_max_in_flight),
    CF(JOB_K_COLD_STARTS, cold_starts)};
#undef CF

static double sum_of(const struct job_doc *docs, const size_t *order, size_t n, size_t offset) {
  double s = 0;
  for (size_t k = 0; k < n; k++)
    s += *(const double *)(const void *)((const char *)&docs[order[k]] + offset);
  return s;
}

/* Each numeric field of o that the table names becomes the shards' sum. */
static void sum_fields(cJSON *o, const struct count_field *f, size_t nf, const struct job_doc *docs,
                       const size_t *order, size_t n) {
  for (size_t i = 0; o && i < nf; i++)
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, f[i].key)))
      set_num(o, f[i].key, sum_of(docs, order, n, f[i].offset));
}

#define COUNT_OF(a) (sizeof a / sizeof a[0])

/* Rates, times and counts over the union of the shards. */
static void merge_counts(cJSON *out, const struct job_doc *docs, const size_t *order, size_t n,
                         double successes) {
  bool complete = true;
  double dur = 0, first = (double)INFINITY, last = -(double)INFINITY, last_end = -(double)INFINITY;
  const char *intr = NULL;
  for (size_t k = 0; k < n; k++) {
    const struct job_doc *d = &docs[order[k]];
    complete = complete && d->complete;
    if (!intr && d->interrupted_by) intr = d->interrupted_by;
    if (!isnan(d->duration_s)) dur = fmax(dur, d->duration_s);
    if (!isnan(d->first_send_ms)) first = fmin(first, d->first_send_ms);
    if (!isnan(d->last_send_ms)) last = fmax(last, d->last_send_ms);
    if (!isnan(d->last_end_ms)) last_end = fmax(last_end, d->last_end_ms);
  }
  set_item(out, JOB_K_COMPLETE, cJSON_CreateBool(complete));
  set_item(out, JOB_K_INTERRUPTED_BY, intr ? cJSON_CreateString(intr) : NULL);
  set_num(out, JOB_K_DURATION_S, dur);
  sum_fields(cJSON_GetObjectItemCaseSensitive(out, JOB_K_INVOCATIONS), invocation_fields,
             COUNT_OF(invocation_fields), docs, order, n);
  sum_fields(cJSON_GetObjectItemCaseSensitive(out, JOB_K_CONNECTIONS), connection_fields,
             COUNT_OF(connection_fields), docs, order, n);
  sum_fields(out, per_doc_fields, COUNT_OF(per_doc_fields), docs, order, n);
  double sent = sum_of(docs, order, n, offsetof(struct job_doc, sent));
  double measured = sum_of(docs, order, n, offsetof(struct job_doc, measured));
  double ok = sum_of(docs, order, n, offsetof(struct job_doc, succeeded));
  /* invocations.aborted: a shard written before it existed aborted none; aborted invocations
   * count in neither rate */
  double aborted = 0;
  for (size_t k = 0; k < n; k++)
    aborted += isnan(docs[order[k]].aborted) ? 0 : docs[order[k]].aborted;
  cJSON *inv = cJSON_GetObjectItemCaseSensitive(out, JOB_K_INVOCATIONS);
  if (inv && cJSON_GetObjectItemCaseSensitive(inv, JOB_K_ABORTED))
    set_num(inv, JOB_K_ABORTED, aborted);
  measured -= aborted;
  double span = (last - first) / 1000.0, out_span = (last_end - first) / 1000.0;
  set_num(out, JOB_K_ACHIEVED_RATE, sent >= 2 && span > 0 ? (sent - 1) / span : 0);
  set_num(out, JOB_K_THROUGHPUT, out_span > 0 ? successes / out_span : 0);
  set_num(out, JOB_K_SUCCESS_RATE, measured > 0 ? ok / measured : 0);
  set_num(out, JOB_K_ERROR_RATE, measured > 0 ? (measured - ok) / measured : 0);
  cJSON *t = cJSON_GetObjectItemCaseSensitive(out, JOB_K_TIMELINE);
  if (t) {
    set_num(t, JOB_K_FIRST_SEND_MS, isfinite(first) ? first : (double)NAN);
    set_num(t, JOB_K_LAST_SEND_MS, isfinite(last) ? last : (double)NAN);
    set_num(t, JOB_K_LAST_END_MS, isfinite(last_end) ? last_end : (double)NAN);
  }
}

/* The successful completions of a summary-only shard: throughput × its reply span. */
static double successes_of(const struct job_doc *d) {
  double span = (d->last_end_ms - d->first_send_ms) / 1000.0;
  return isnan(span) || isnan(d->throughput) ? 0 : round(d->throughput * span);
}

static cJSON *merged_from(const struct job_doc *docs, const char *const *paths, const size_t *order,
                          size_t n, bool raw, const char *backend_note) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddNumberToObject(m, JOB_K_COUNT, (double)n);
  cJSON_AddStringToObject(m, JOB_K_RUN_KEY, docs[order[0]].shard_run_key);
  cJSON_AddNumberToObject(m, JOB_K_START_AT_MS, docs[order[0]].shard_start_at_ms);
  cJSON *files = cJSON_AddArrayToObject(m, JOB_K_FILES);
  cJSON *hosts = cJSON_AddArrayToObject(m, JOB_K_HOSTS);
  for (size_t k = 0; k < n; k++) {
    cJSON_AddItemToArray(files, cJSON_CreateString(paths[order[k]]));
    cJSON_AddItemToArray(hosts, cJSON_CreateString(or_empty(docs[order[k]].hostname)));
  }
  cJSON_AddStringToObject(m, JOB_K_PERCENTILES, raw ? "raw_results" : "histograms");
  if (raw) cJSON_AddNumberToObject(m, JOB_K_MAX_RELATIVE_ERROR, 0);
  else cJSON_AddNumberToObject(m, JOB_K_MAX_RELATIVE_ERROR, JOB_HIST_MAX_RELATIVE_ERROR);
  char note[1600];
  snprintf(note, sizeof note, "%s; schedule_lag_ms is histogram-based as in every document%s%s",
           raw ? "percentiles are exact: nearest rank over the union of the shards' raw samples"
               : "percentiles from the merged histograms (a shard is summary only): each within "
                 "0.098% above the exact value; min, max, count and mean are exact",
           backend_note ? "; " : "", backend_note ? backend_note : "");
  cJSON_AddStringToObject(m, JOB_K_NOTE, note);
  return m;
}

/* Reads every shard (validation names the file and field) and checks it is one. */
static struct job_doc *read_shards(const cJSON *const *docs, const char *const *paths, size_t n,
                                   char *err, size_t errlen) {
  struct job_doc *d = calloc(n, sizeof *d);
  if (!d) {
    rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    const char *why = NULL;
    if (job_doc_read(docs[i], paths[i], &d[i], err, errlen) == RB_OK &&
        !(why = job_merge_doc_not_a_shard(&d[i])))
      continue;
    if (why) rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s", paths[i], why);
    for (size_t k = 0; k <= i; k++) job_doc_free(&d[k]);
    free(d);
    return NULL;
  }
  return d;
}

static int cmp_ms(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The arrival section over the union of the shards' measured sends (the same figures the
 * runner writes: job_gaps over the intended and the send times, each in time order); null
 * figures when a shard is summary only. planned and the knobs are the process's: shard 0's. */
static void merge_arrival(cJSON *out, const struct job_doc *d, size_t n, bool raw) {
  cJSON *a = cJSON_GetObjectItemCaseSensitive(out, JOB_K_ARRIVAL);
  if (!cJSON_IsObject(a)) return;
  size_t total = 0, m = 0;
  for (size_t i = 0; raw && i < n; i++) total += d[i].nraw;
  double *it = malloc((total ? total : 1) * sizeof *it);
  double *st = malloc((total ? total : 1) * sizeof *st);
  struct job_gaps gi = {0}, gs = {0};
  for (size_t i = 0; raw && it && st && i < n; i++)
    for (size_t j = 0; j < d[i].nraw; j++) {
      const struct job_doc_record *x = &d[i].raw[j];
      if (x->warmup || isnan(x->intended_ms) || isnan(x->sent_ms)) continue;
      it[m] = x->intended_ms, st[m++] = x->sent_ms;
    }
  qsort(it, m, sizeof *it, cmp_ms);
  qsort(st, m, sizeof *st, cmp_ms);
  for (size_t i = 0; i < m; i++) {
    job_gaps_add(&gi, (uint64_t)llround(fmax(it[i], 0) * 1e6));
    job_gaps_add(&gs, (uint64_t)llround(fmax(st[i], 0) * 1e6));
  }
  bool ok = raw && it && st;
  free(it);
  free(st);
  set_num(a, JOB_K_MEASURED_SENDS, ok ? (double)m : (double)NAN);
  set_num(a, JOB_K_INTENDED_RATE, ok && m >= 2 ? job_gaps_rate(&gi) : (double)NAN);
  set_num(a, JOB_K_INTENDED_CV, ok && m >= 3 ? job_gaps_cv(&gi) : (double)NAN);
  set_num(a, JOB_K_REALISED_RATE, ok && m >= 2 ? job_gaps_rate(&gs) : (double)NAN);
  set_num(a, JOB_K_REALISED_CV, ok && m >= 3 ? job_gaps_cv(&gs) : (double)NAN);
}

/* issue 20: "operations" from every shard (counts summed, histograms merged) and the
 * workload's realised_mix from the merged counts; key_reuse is the whole run's in every shard
 * (shard 0's stays). A shard without operations (an older action): no merged section. */
static void merge_operations(cJSON *out, const struct job_doc *docs, const size_t *order,
                             size_t n) {
  struct job_hist *h[RB_OP_COUNT] = {0};
  double ok[RB_OP_COUNT] = {0}, failed[RB_OP_COUNT] = {0}, found[RB_OP_COUNT] = {0};
  bool has_found[RB_OP_COUNT] = {false}, all = true;
  for (size_t k = 0; k < n && all; k++) {
    const struct job_doc *d = &docs[order[k]];
    all = d->nops > 0;
    for (size_t i = 0; i < d->nops; i++) {
      enum rb_op op;
      const struct job_doc_op *o = &d->ops[i];
      if (!rb_op_from_name(o->name, strlen(o->name), &op) || !o->histogram) continue;
      if (!h[op] && !(h[op] = job_hist_create())) continue;
      job_hist_merge_json(h[op], o->histogram, NULL, 0); /* validated by job_doc_read */
      ok[op] += o->succeeded;
      failed[op] += o->failed;
      if (!isnan(o->found)) found[op] += o->found, has_found[op] = true;
    }
  }
  cJSON_DeleteItemFromObjectCaseSensitive(out, JOB_K_OPERATIONS);
  cJSON *ops = all ? cJSON_AddObjectToObject(out, JOB_K_OPERATIONS) : NULL;
  double total = 0;
  for (int i = 0; i < RB_OP_COUNT; i++) total += ok[i] + failed[i];
  cJSON *wl = cJSON_GetObjectItemCaseSensitive(out, JOB_K_WORKLOAD);
  cJSON *real = wl && ops && total > 0 ? cJSON_CreateObject() : NULL;
  for (int i = 0; ops && i < RB_OP_COUNT; i++) {
    if (!h[i]) continue;
    cJSON *x = cJSON_AddObjectToObject(ops, rb_op_name((enum rb_op)i));
    cJSON_AddNumberToObject(x, JOB_K_SUCCEEDED, ok[i]);
    cJSON_AddNumberToObject(x, JOB_K_FAILED, failed[i]);
    if (has_found[i]) cJSON_AddNumberToObject(x, JOB_K_FOUND, found[i]);
    cJSON_AddItemToObject(x, JOB_K_LATENCY_MS, job_results_hist_summary(h[i]));
    cJSON_AddItemToObject(x, JOB_K_HISTOGRAM, job_hist_to_json(h[i]));
    if (real && ok[i] + failed[i] > 0)
      cJSON_AddNumberToObject(real, rb_op_name((enum rb_op)i), (ok[i] + failed[i]) / total);
  }
  if (wl) set_item(wl, JOB_K_REALISED_MIX, real ? real : cJSON_CreateNull());
  for (int i = 0; i < RB_OP_COUNT; i++) job_hist_destroy(h[i]);
}

/* action_runtime.starts over the shards (each started its own action instances): counts
 * summed, min and max of theirs, the mean weighted by count; the percentiles are not
 * mergeable from the shards' summaries and become null (raw values are not kept). */
static void merge_starts(cJSON *out, const struct job_doc *docs, const size_t *order, size_t n) {
  cJSON *st = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(out, JOB_K_ACTION_RUNTIME), JOB_K_STARTS);
  if (!cJSON_IsObject(st)) return;
  double count = 0, sum = 0, lo = (double)INFINITY, hi = -(double)INFINITY;
  for (size_t k = 0; k < n; k++) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(docs[order[k]].json, JOB_K_ACTION_RUNTIME), JOB_K_STARTS);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(s, JOB_K_COUNT);
    double ck = cJSON_IsNumber(c) ? c->valuedouble : 0;
    if (ck <= 0) continue;
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(s, JOB_K_MEAN_MS);
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(s, JOB_K_MIN_MS);
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(s, JOB_K_MAX_MS);
    count += ck;
    if (cJSON_IsNumber(mean)) sum += mean->valuedouble * ck;
    if (cJSON_IsNumber(mn) && mn->valuedouble < lo) lo = mn->valuedouble;
    if (cJSON_IsNumber(mx) && mx->valuedouble > hi) hi = mx->valuedouble;
  }
  cJSON *m = cJSON_CreateObject();
  if (!m) return;
  cJSON_AddNumberToObject(m, JOB_K_COUNT, count);
  if (count > 0) {
    cJSON_AddNullToObject(m, JOB_K_P50_MS);
    cJSON_AddNullToObject(m, JOB_K_P90_MS);
    cJSON_AddNumberToObject(m, JOB_K_MIN_MS, lo);
    cJSON_AddNumberToObject(m, JOB_K_MAX_MS, hi);
    cJSON_AddNumberToObject(m, JOB_K_MEAN_MS, sum / count);
    cJSON_AddStringToObject(m, JOB_K_NOTE,
                            "merged from the shards: count summed, min, max and the mean over "
                            "all starts; percentiles are not mergeable from the shards' summaries");
  }
  set_item(cJSON_GetObjectItemCaseSensitive(out, JOB_K_ACTION_RUNTIME), JOB_K_STARTS, m);
}

/* The merged document: shard 0's, with every merged figure replaced. */
static cJSON *build(const struct job_doc *d, const char *const *paths, size_t n,
                    const size_t *order, bool raw, bool closed, struct job_hist **h,
                    struct u64s *dist, uint64_t successes) {
  cJSON *out = cJSON_Duplicate(d[order[0]].json, true);
  if (!out) return NULL;
  cJSON_DeleteItemFromObjectCaseSensitive(out, JOB_K_SHARD);
  cJSON_DeleteItemFromObjectCaseSensitive(out, JOB_K_RAW_RESULTS);
  cJSON_DeleteItemFromObjectCaseSensitive(out, JOB_K_RAW_RESULTS_OMITTED);
  double succ = (double)successes;
  if (!raw) {
    succ = 0;
    for (size_t k = 0; k < n; k++) succ += successes_of(&d[order[k]]);
  }
  merge_counts(out, d, order, n, succ);
  cJSON *srv = cJSON_GetObjectItemCaseSensitive(out, JOB_K_SERVER);
  for (int m = 0; m < D_LAG; m++) {
    cJSON *target = m < D_DURATION ? out : srv;
    if (!target) continue;
    set_item(target, dist_names[m],
             raw ? job_results_samples_summary(dist[m].v, dist[m].n)
                 : job_results_hist_summary(h[m]));
  }
  if (!closed) set_item(out, JOB_K_SCHEDULE_LAG_MS, job_results_hist_summary(h[D_LAG]));
  set_item(out, JOB_K_ERRORS_BY_KIND, merge_errors(d, order, n));
  merge_arrival(out, d, n, raw);
  char how[700] = "";
  if (cJSON_GetObjectItemCaseSensitive(out, JOB_K_REDIS))
    merge_backend(out, d, order, n, how, sizeof how);
  merge_operations(out, d, order, n);
  merge_starts(out, d, order, n);
  set_item(out, JOB_K_HISTOGRAMS, hists_json(h, closed));
  set_item(out, JOB_K_MERGED_FROM, merged_from(d, paths, order, n, raw, how[0] ? how : NULL));
  if (raw) set_item(out, JOB_K_RAW_RESULTS, merge_raw(d, n));
  else set_item(out, JOB_K_RAW_RESULTS_OMITTED, cJSON_CreateTrue());
  return out;
}

cJSON *job_merge_shards(const cJSON *const *docs, const char *const *paths, size_t n, char *err,
                        size_t errlen) {
  if (n == 0) {
    rb_errorf(RB_ERR_INVALID, err, errlen, "no shards to merge");
    return NULL;
  }
  struct job_doc *d = read_shards(docs, paths, n, err, errlen);
  if (!d) return NULL;
  size_t count = (size_t)d[0].shard_count;
  size_t *order = malloc(count * sizeof *order);
  struct job_hist *h[D_COUNT] = {NULL};
  struct u64s dist[D_COUNT];
  memset(dist, 0, sizeof dist);
  cJSON *out = NULL;
  bool raw = true, closed = d[0].closed, ok = order != NULL;
  for (int m = 0; m < D_COUNT && ok; m++) ok = (h[m] = job_hist_create()) != NULL;
  if (!ok) rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  ok = ok && check_shards(d, paths, n, order, count, err, errlen);
  for (size_t i = 0; i < n && ok; i++) {
    if (d[i].has_raw) continue;
    raw = false;
    if (!d[i].histograms) {
      rb_errorf(RB_ERR_INVALID, err, errlen,
                "%s is summary only (no raw_results) and has no histograms: "
                "it cannot be merged; use the shard's full results file",
                paths[i]);
      ok = false;
    }
  }
  ok = ok && merge_hists(d, paths, n, closed, h, err, errlen);
  uint64_t successes = 0;
  if (ok && raw && !pool_raw(d, n, dist, &successes)) {
    rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
    ok = false;
  }
  if (ok) out = build(d, paths, n, order, raw, closed, h, dist, successes);
  for (int m = 0; m < D_COUNT; m++) {
    job_hist_destroy(h[m]);
    free(dist[m].v);
  }
  for (size_t i = 0; i < n; i++) job_doc_free(&d[i]);
  free(d);
  free(order);
  return out;
}
