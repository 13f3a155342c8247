/* job_merge.c: the shards of one run into one results document (see job_merge.h). */
#define _GNU_SOURCE
#include "job_merge.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_backend.h"
#include "job_hist.h"
#include "job_results.h"

static const cJSON *at(const cJSON *o, const char *a, const char *b) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
  return b ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

static double numv(const cJSON *o, const char *a, const char *b) {
  const cJSON *v = at(o, a, b);
  return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

static const char *strv(const cJSON *o, const char *a, const char *b) {
  const cJSON *v = at(o, a, b);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* Sets o[name] to a number, or null when v is NaN (replacing what was there). */
static void set_num(cJSON *o, const char *name, double v) {
  cJSON *old = cJSON_GetObjectItemCaseSensitive(o, name);
  if (cJSON_IsNumber(old) && !isnan(v)) { /* in place: callers may be iterating over o */
    cJSON_SetNumberValue(old, v);
    return;
  }
  cJSON *n = isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
  if (cJSON_GetObjectItemCaseSensitive(o, name)) cJSON_ReplaceItemInObjectCaseSensitive(o, name, n);
  else cJSON_AddItemToObject(o, name, n);
}

static void set_item(cJSON *o, const char *name, cJSON *v) {
  if (!v) v = cJSON_CreateNull();
  if (cJSON_GetObjectItemCaseSensitive(o, name)) cJSON_ReplaceItemInObjectCaseSensitive(o, name, v);
  else cJSON_AddItemToObject(o, name, v);
}

const char *job_merge_not_a_shard(const cJSON *doc) {
  if (!cJSON_IsObject(doc) || !cJSON_IsNumber(at(doc, "schema_version", NULL)) ||
      !cJSON_IsObject(at(doc, "invocations", NULL)) || !cJSON_IsObject(at(doc, "scenario", NULL)))
    return "not an rbench results document";
  const cJSON *s = at(doc, "shard", NULL);
  if (at(doc, "merged_from", NULL) && !cJSON_IsObject(s))
    return "already a merged document, not a shard";
  if (!s || cJSON_IsNull(s))
    return "an unsharded results document (no \"shard\" field: written without --shard)";
  if (!cJSON_IsNumber(at(s, "index", NULL)) || !cJSON_IsNumber(at(s, "count", NULL)) ||
      !cJSON_IsNumber(at(s, "start_at_ms", NULL)) || !cJSON_IsString(at(s, "run_key", NULL)))
    return "its \"shard\" field lacks index, count, start_at_ms or run_key";
  double i = at(s, "index", NULL)->valuedouble, n = at(s, "count", NULL)->valuedouble;
  if (!(n >= 1 && n <= 100000 && n == floor(n) && i >= 0 && i < n && i == floor(i)))
    return "its \"shard\" index and count are not 0 <= index < count";
  return NULL;
}

void job_merge_group_key(const cJSON *doc, char *out, size_t len) {
  snprintf(out, len, "%s\x1f%s\x1f%.0f", strv(doc, "scenario", "name"), strv(doc, "scenario", "run"),
           numv(doc, "scenario", "repetition"));
}

/* ---- checks ------------------------------------------------------------------------ */

/* Orders the shards by index into order[count]; false with err when they are not one run. */
static bool check_shards(const cJSON *const *docs, const char *const *paths, size_t n, size_t *order,
                         size_t count, char *err, size_t errlen) {
  for (size_t k = 0; k < count; k++) order[k] = SIZE_MAX;
  char g0[600], g[600];
  job_merge_group_key(docs[0], g0, sizeof g0);
  for (size_t i = 0; i < n; i++) {
    const cJSON *s = at(docs[i], "shard", NULL);
    job_merge_group_key(docs[i], g, sizeof g);
    const char *why = NULL;
    if (strcmp(g, g0)) why = "different scenario, run or repetition";
    else if ((size_t)numv(s, "count", NULL) != count) why = "different shard counts";
    else if (numv(s, "start_at_ms", NULL) != numv(docs[0], "shard", "start_at_ms")) why = "different start instants";
    else if (strcmp(strv(s, "run_key", NULL), strv(docs[0], "shard", "run_key")))
      why = "different run keys (the runs' parameters differ)";
    if (why) {
      rb_errorf(RB_ERR_INVALID, err, errlen, "%s and %s are not shards of one run: %s", paths[0],
                paths[i], why);
      return false;
    }
    size_t idx = (size_t)numv(s, "index", NULL);
    if (order[idx] != SIZE_MAX) {
      rb_errorf(RB_ERR_INVALID, err, errlen, "%s and %s are both shard %zu of %zu", paths[order[idx]],
                paths[i], idx, count);
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
    rb_errorf(RB_ERR_INVALID, err, errlen, "run %s (repetition %.0f, run key %s): shard%s %s%s of %zu "
              "missing (given %zu, e.g. %s)", strv(docs[0], "scenario", "run"),
              numv(docs[0], "scenario", "repetition"), strv(docs[0], "shard", "run_key"), nm > 1 ? "s" : "",
              missing, nm > 20 ? ", ..." : "", count, n, paths[0]);
    return false;
  }
  return true;
}

/* ---- distributions ------------------------------------------------------------------- */

enum { D_EXEC, D_SERVICE, D_DURATION, D_WAIT, D_INIT, D_ACTION, D_LAG, D_COUNT };
static const char *const dist_names[D_COUNT] = {"execution_time_ms", "service_time_ms", "duration_ms",
                                                "wait_time_ms", "init_time_ms", "action_elapsed_ms",
                                                "schedule_lag_ms"};

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

/* A raw record's field in µs (from ms), NaN when absent or null. */
static double us_of(const cJSON *r, const char *a, const char *b, double scale) {
  double v = numv(r, a, b);
  return isnan(v) ? v : v * scale;
}

/* The samples of the successful measured invocations of every shard, per metric (not lag). */
static bool pool_raw(const cJSON *const *docs, size_t n, struct u64s *d, uint64_t *successes) {
  bool ok = true;
  for (size_t i = 0; i < n && ok; i++) {
    const cJSON *r;
    cJSON_ArrayForEach(r, at(docs[i], "raw_results", NULL)) {
      bool success = cJSON_IsTrue(at(r, "success", NULL));
      if (success) (*successes)++;
      if (!success || cJSON_IsTrue(at(r, "warmup", NULL))) continue;
      ok = u64_push(&d[D_EXEC], us_of(r, "execution_time_ms", NULL, 1000)) &&
           u64_push(&d[D_SERVICE], us_of(r, "service_time_ms", NULL, 1000)) &&
           u64_push(&d[D_DURATION], us_of(r, "duration_ms", NULL, 1000)) &&
           u64_push(&d[D_WAIT], us_of(r, "wait_time_ms", NULL, 1000)) &&
           u64_push(&d[D_INIT], us_of(r, "init_time_ms", NULL, 1000)) &&
           u64_push(&d[D_ACTION], us_of(r, "action", "elapsed_us", 1));
      if (!ok) break;
    }
  }
  return ok;
}

/* Merges every shard's histogram of each metric into h[]; false with err naming the file. */
static bool merge_hists(const cJSON *const *docs, const char *const *paths, size_t n, bool closed,
                        struct job_hist **h, char *err, size_t errlen) {
  for (int m = 0; m < D_COUNT; m++) {
    if (m == D_LAG && closed) continue;
    for (size_t i = 0; i < n; i++) {
      const cJSON *o = at(at(docs[i], "histograms", NULL), dist_names[m], NULL);
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
  cJSON_AddStringToObject(o, "encoding", JOB_HIST_ENCODING);
  cJSON_AddStringToObject(o, "unit", "us");
  cJSON_AddNumberToObject(o, "max_relative_error", JOB_HIST_MAX_RELATIVE_ERROR);
  static const int order[] = {D_EXEC, D_SERVICE, D_LAG, D_DURATION, D_WAIT, D_INIT, D_ACTION};
  for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
    if (!(order[k] == D_LAG && closed)) cJSON_AddItemToObject(o, dist_names[order[k]], job_hist_to_json(h[order[k]]));
  return o;
}

/* ---- errors ----------------------------------------------------------------------------- */

static cJSON *merge_errors(const cJSON *const *docs, const size_t *order, size_t n) {
  cJSON *out = cJSON_CreateObject();
  for (size_t k = 0; k < n; k++) {
    const cJSON *kind;
    cJSON_ArrayForEach(kind, at(docs[order[k]], "errors_by_kind", NULL)) {
      if (!kind->string || !cJSON_IsObject(kind)) continue;
      cJSON *e = cJSON_GetObjectItemCaseSensitive(out, kind->string);
      if (!e) {
        e = cJSON_AddObjectToObject(out, kind->string);
        cJSON_AddNumberToObject(e, "count", 0);
        cJSON_AddArrayToObject(e, "messages");
        cJSON_AddNumberToObject(e, "other_messages", 0);
      }
      cJSON *msgs = cJSON_GetObjectItemCaseSensitive(e, "messages");
      set_num(e, "count", numv(e, "count", NULL) + numv(kind, "count", NULL));
      double other = numv(e, "other_messages", NULL), add = numv(kind, "other_messages", NULL);
      if (!isnan(add)) other += add;
      const cJSON *m;
      cJSON_ArrayForEach(m, at(kind, "messages", NULL)) {
        const char *text = strv(m, "message", NULL);
        double c = numv(m, "count", NULL);
        cJSON *same = NULL, *x;
        cJSON_ArrayForEach(x, msgs) if (!strcmp(strv(x, "message", NULL), text)) same = x;
        if (same) {
          set_num(same, "count", numv(same, "count", NULL) + c);
        } else if (cJSON_GetArraySize(msgs) < JOB_RESULTS_MESSAGES_PER_KIND) {
          cJSON *nm = cJSON_CreateObject();
          cJSON_AddStringToObject(nm, "message", text);
          cJSON_AddNumberToObject(nm, "count", c);
          cJSON_AddItemToArray(msgs, nm);
        } else {
          other += c;
        }
      }
      set_num(e, "other_messages", other);
    }
  }
  /* as the runner writes them: other_messages only when some were left out */
  cJSON *e;
  cJSON_ArrayForEach(e, out) if (numv(e, "other_messages", NULL) == 0) cJSON_DeleteItemFromObjectCaseSensitive(e, "other_messages");
  return out;
}

/* ---- the backend: once per server --------------------------------------------------------- */

static bool available(const cJSON *sec) {
  return cJSON_IsObject(sec) && !at(sec, "unavailable", NULL);
}

/* The shard whose Redis/agent figures stand for the run; *how says why. */
static size_t backend_choice(const cJSON *const *docs, const size_t *order, size_t n, char *how, size_t len) {
  size_t best = SIZE_MAX;
  double lo = (double)INFINITY, hi = -(double)INFINITY;
  for (size_t k = 0; k < n; k++) {
    const cJSON *d = docs[order[k]];
    double b = numv(d, "timeline", "backend_before_ms"), a = numv(d, "timeline", "backend_after_ms");
    if (isnan(b) || isnan(a) || !available(at(d, "redis", NULL))) continue;
    if (b < lo) lo = b;
    if (a > hi) hi = a;
  }
  for (size_t k = 0; k < n && best == SIZE_MAX; k++) {
    const cJSON *d = docs[order[k]];
    if (numv(d, "timeline", "backend_before_ms") == lo && numv(d, "timeline", "backend_after_ms") == hi &&
        available(at(d, "redis", NULL)))
      best = k;
  }
  if (best != SIZE_MAX) {
    snprintf(how, len, "redis and agent: the figures of shard %zu, whose sampling window (%.0f to %.0f ms "
             "from the start) covers every shard's; the shards sampled the same servers, so their figures "
             "are not summed; per-operation figures are over every shard's operations", best, lo, hi);
    return best;
  }
  double widest = -1;
  for (size_t k = 0; k < n; k++) {
    const cJSON *d = docs[order[k]];
    double w = numv(d, "timeline", "backend_after_ms") - numv(d, "timeline", "backend_before_ms");
    if (available(at(d, "redis", NULL)) && !isnan(w) && w > widest) widest = w, best = k;
  }
  if (best == SIZE_MAX) {
    snprintf(how, len, "redis and agent: shard 0's sections (no shard has Redis figures with a sampling window)");
    return 0;
  }
  snprintf(how, len, "redis and agent: no shard's sampling window covers every other's; the figures of "
           "shard %zu, the widest (%.0f ms), which may miss other shards' work outside it; per-operation "
           "figures are over every shard's operations", best, widest);
  return best;
}

static double per_op(double v, double ops) {
  return isnan(v) || isnan(ops) || ops <= 0 ? (double)NAN : round(v / ops * 1e6) / 1e6;
}

/* The chosen sections, with per-operation figures over the merged operations. */
static void merge_backend(cJSON *out, const cJSON *const *docs, const size_t *order, size_t n, char *how,
                          size_t len) {
  size_t c = backend_choice(docs, order, n, how, len);
  const cJSON *src = docs[order[c]];
  double ops = 0;
  for (size_t k = 0; k < n; k++) ops += numv(docs[order[k]], "redis", "ops");
  cJSON *redis = cJSON_Duplicate(at(src, "redis", NULL), true);
  cJSON *agent = at(src, "agent", NULL) ? cJSON_Duplicate(at(src, "agent", NULL), true) : NULL;
  if (available(redis)) {
    set_num(redis, "ops", ops);
    set_num(redis, "cpu_us_per_op", per_op(numv(redis, "cpu_s", "total") * 1e6, ops));
    set_num(redis, "commands_per_op", per_op(numv(redis, "commands", NULL), ops));
    set_num(redis, "reads_per_op", per_op(numv(redis, "reads", NULL), ops));
    set_num(redis, "writes_per_op", per_op(numv(redis, "writes", NULL), ops));
    set_num(redis, "bytes_per_op",
            per_op(numv(redis, "net_input_bytes", NULL) + numv(redis, "net_output_bytes", NULL), ops));
    const cJSON *params = at(at(src, "scenario", NULL), "parameters", NULL);
    const cJSON *calls = at(redis, "calls", NULL);
    if (n > 1 && cJSON_IsObject(calls)) {
      /* Judged again over the whole run: every shard's operations, and every shard's sampler
       * (two INFOs each, the chosen one's first not in its window). */
      char why[600], note[1600];
      bool shared = job_backend_shared_from_calls(calls, strv(params, "operation", NULL),
                                                  cJSON_IsTrue(at(params, "batching", NULL)), isnan(ops) ? -1 : ops,
                                                  2.0 * (double)n - 1, why, sizeof why);
      const char *old = cJSON_IsString(at(redis, "note", NULL)) ? strv(redis, "note", NULL) : NULL;
      snprintf(note, sizeof note, "shared judged again over the merged run (every shard's operations and "
               "samplers; connection counts not judged)%s%s%s%s", shared ? ": " : "", shared ? why : "",
               old ? "; shard's own note: " : "", old ? old : "");
      set_item(redis, "shared", cJSON_CreateBool(shared));
      set_item(redis, "note", cJSON_CreateString(note));
    } else if (n > 1) {
      const char *old = cJSON_IsString(at(redis, "note", NULL)) ? strv(redis, "note", NULL) : NULL;
      char note[1200];
      snprintf(note, sizeof note, "%s%sshared was judged by shard %zu against its own invocations only "
               "(the other shards' traffic counts there as other clients')", old ? old : "", old ? "; " : "", c);
      set_item(redis, "note", cJSON_CreateString(note));
    }
  }
  if (available(agent)) set_num(agent, "cpu_us_per_op", per_op(numv(agent, "cpu_s", NULL) * 1e6, ops));
  if (redis) set_item(out, "redis", redis);
  if (agent) set_item(out, "agent", agent);
  double b = 0;
  bool batching = cJSON_IsTrue(at(at(src, "scenario", NULL), "parameters", NULL) ?
                               at(at(at(src, "scenario", NULL), "parameters", NULL), "batching", NULL) : NULL);
  if (at(src, "backend_cpu_us_per_op", NULL))
    set_num(out, "backend_cpu_us_per_op", job_backend_cpu_per_op(redis, agent, batching, &b) ? b : (double)NAN);
  cJSON *t = cJSON_GetObjectItemCaseSensitive(out, "timeline");
  if (t) {
    set_num(t, "backend_before_ms", numv(src, "timeline", "backend_before_ms"));
    set_num(t, "backend_after_ms", numv(src, "timeline", "backend_after_ms"));
  }
}

/* ---- raw records --------------------------------------------------------------------------- */

/* A record's sort key; a missing one sorts first (a consistent order whatever the input). */
static double key_of(const cJSON *r, const char *name) {
  double v = numv(r, name, NULL);
  return isnan(v) ? -(double)INFINITY : v;
}

static int cmp_end(const void *a, const void *b) {
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  double ex = key_of(x, "end_ms"), ey = key_of(y, "end_ms");
  if (ex != ey) return ex < ey ? -1 : 1;
  double ix = key_of(x, "index"), iy = key_of(y, "index");
  return (ix > iy) - (ix < iy);
}

/* Every shard's raw records, in completion order. */
static cJSON *merge_raw(const cJSON *const *docs, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += (size_t)cJSON_GetArraySize(at(docs[i], "raw_results", NULL));
  const cJSON **all = malloc((total ? total : 1) * sizeof *all);
  cJSON *arr = cJSON_CreateArray();
  if (!all || !arr) {
    free(all);
    cJSON_Delete(arr);
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const cJSON *r;
    cJSON_ArrayForEach(r, at(docs[i], "raw_results", NULL)) all[k++] = r;
  }
  qsort(all, k, sizeof *all, cmp_end);
  for (size_t i = 0; i < k; i++) cJSON_AddItemToArray(arr, cJSON_Duplicate(all[i], true));
  free(all);
  return arr;
}

/* ---- the merge ---------------------------------------------------------------------------- */

static void sum_children(cJSON *into, const cJSON *const *docs, const size_t *order, size_t n, const char *name) {
  cJSON *o = cJSON_GetObjectItemCaseSensitive(into, name);
  /* set_num replaces f when the sum is null (a shard lacks the field): step on first */
  for (cJSON *f = o ? o->child : NULL, *next = NULL; f; f = next) {
    next = f->next;
    if (!cJSON_IsNumber(f)) continue;
    double s = 0;
    for (size_t k = 0; k < n; k++) {
      double v = numv(docs[order[k]], name, f->string);
      /* invocations.aborted: a document written before it existed aborted none */
      s += isnan(v) && !strcmp(f->string, "aborted") ? 0 : v;
    }
    set_num(o, f->string, s);
  }
}

static double sum_field(const cJSON *const *docs, const size_t *order, size_t n, const char *name) {
  double s = 0;
  for (size_t k = 0; k < n; k++) s += numv(docs[order[k]], name, NULL);
  return s;
}

/* Rates, times and counts over the union of the shards. */
static void merge_counts(cJSON *out, const cJSON *const *docs, const size_t *order, size_t n,
                         double successes) {
  bool complete = true;
  double dur = 0, first = (double)INFINITY, last = -(double)INFINITY, last_end = -(double)INFINITY;
  const char *intr = NULL;
  for (size_t k = 0; k < n; k++) {
    const cJSON *d = docs[order[k]];
    complete = complete && cJSON_IsTrue(at(d, "complete", NULL));
    if (!intr && cJSON_IsString(at(d, "interrupted_by", NULL))) intr = strv(d, "interrupted_by", NULL);
    dur = fmax(dur, numv(d, "duration_s", NULL));
    double f = numv(d, "timeline", "first_send_ms"), l = numv(d, "timeline", "last_send_ms");
    double e = numv(d, "timeline", "last_end_ms");
    if (!isnan(f)) first = fmin(first, f);
    if (!isnan(l)) last = fmax(last, l);
    if (!isnan(e)) last_end = fmax(last_end, e);
  }
  set_item(out, "complete", cJSON_CreateBool(complete));
  set_item(out, "interrupted_by", intr ? cJSON_CreateString(intr) : NULL);
  set_num(out, "duration_s", dur);
  sum_children(out, docs, order, n, "invocations");
  sum_children(out, docs, order, n, "connections");
  const char *per_doc[] = {"late_starts", "held_by_max_in_flight", "cold_starts"};
  for (size_t i = 0; i < 3; i++)
    if (cJSON_IsNumber(at(out, per_doc[i], NULL))) set_num(out, per_doc[i], sum_field(docs, order, n, per_doc[i]));
  double sent = numv(out, "invocations", "sent"), measured = numv(out, "invocations", "measured");
  double ok = numv(out, "invocations", "succeeded"), aborted = numv(out, "invocations", "aborted");
  measured -= isnan(aborted) ? 0 : aborted; /* aborted ones count in neither rate */
  double span = (last - first) / 1000.0, out_span = (last_end - first) / 1000.0;
  set_num(out, "achieved_rate", sent >= 2 && span > 0 ? (sent - 1) / span : 0);
  set_num(out, "throughput", out_span > 0 ? successes / out_span : 0);
  set_num(out, "success_rate", measured > 0 ? ok / measured : 0);
  set_num(out, "error_rate", measured > 0 ? (measured - ok) / measured : 0);
  cJSON *t = cJSON_GetObjectItemCaseSensitive(out, "timeline");
  if (t) {
    set_num(t, "first_send_ms", isfinite(first) ? first : (double)NAN);
    set_num(t, "last_send_ms", isfinite(last) ? last : (double)NAN);
    set_num(t, "last_end_ms", isfinite(last_end) ? last_end : (double)NAN);
  }
}

/* The successful completions of a summary-only shard: throughput × its reply span. */
static double successes_of(const cJSON *d) {
  double span = (numv(d, "timeline", "last_end_ms") - numv(d, "timeline", "first_send_ms")) / 1000.0;
  double t = numv(d, "throughput", NULL);
  return isnan(span) || isnan(t) ? 0 : round(t * span);
}

static cJSON *merged_from(const cJSON *const *docs, const char *const *paths, const size_t *order, size_t n,
                          bool raw, const char *backend_note) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddNumberToObject(m, "count", (double)n);
  cJSON_AddStringToObject(m, "run_key", strv(docs[order[0]], "shard", "run_key"));
  cJSON_AddNumberToObject(m, "start_at_ms", numv(docs[order[0]], "shard", "start_at_ms"));
  cJSON *files = cJSON_AddArrayToObject(m, "files");
  cJSON *hosts = cJSON_AddArrayToObject(m, "hosts");
  for (size_t k = 0; k < n; k++) {
    cJSON_AddItemToArray(files, cJSON_CreateString(paths[order[k]]));
    cJSON_AddItemToArray(hosts, cJSON_CreateString(strv(docs[order[k]], "host", "hostname")));
  }
  cJSON_AddStringToObject(m, "percentiles", raw ? "raw_results" : "histograms");
  if (raw) cJSON_AddNumberToObject(m, "max_relative_error", 0);
  else cJSON_AddNumberToObject(m, "max_relative_error", JOB_HIST_MAX_RELATIVE_ERROR);
  char note[1600];
  snprintf(note, sizeof note, "%s; schedule_lag_ms is histogram-based as in every document%s%s",
           raw ? "percentiles are exact: nearest rank over the union of the shards' raw samples"
               : "percentiles from the merged histograms (a shard is summary only): each within "
                 "0.098% above the exact value; min, max, count and mean are exact",
           backend_note ? "; " : "", backend_note ? backend_note : "");
  cJSON_AddStringToObject(m, "note", note);
  return m;
}

cJSON *job_merge_shards(const cJSON *const *docs, const char *const *paths, size_t n, char *err,
                        size_t errlen) {
  if (n == 0) {
    rb_errorf(RB_ERR_INVALID, err, errlen, "no shards to merge");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    const char *why = job_merge_not_a_shard(docs[i]);
    if (why) {
      rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s", paths[i], why);
      return NULL;
    }
  }
  size_t count = (size_t)numv(docs[0], "shard", "count");
  size_t *order = malloc(count * sizeof *order);
  struct job_hist *h[D_COUNT] = {NULL};
  struct u64s d[D_COUNT];
  memset(d, 0, sizeof d);
  cJSON *out = NULL;
  bool raw = true, closed = !strcmp(strv(docs[0], "mode", NULL), "closed"), ok = order != NULL;
  for (int m = 0; m < D_COUNT && ok; m++) ok = (h[m] = job_hist_create()) != NULL;
  if (!ok) rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  ok = ok && check_shards(docs, paths, n, order, count, err, errlen);
  for (size_t i = 0; i < n && ok; i++) {
    if (cJSON_IsArray(at(docs[i], "raw_results", NULL))) continue;
    raw = false;
    if (!cJSON_IsObject(at(docs[i], "histograms", NULL))) {
      rb_errorf(RB_ERR_INVALID, err, errlen, "%s is summary only (no raw_results) and has no histograms: "
                "it cannot be merged; use the shard's full results file", paths[i]);
      ok = false;
    }
  }
  ok = ok && merge_hists(docs, paths, n, closed, h, err, errlen);
  uint64_t successes = 0;
  if (ok && raw && !pool_raw(docs, n, d, &successes)) {
    rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
    ok = false;
  }
  if (ok) out = cJSON_Duplicate(docs[order[0]], true);
  if (out) {
    cJSON_DeleteItemFromObjectCaseSensitive(out, "shard");
    cJSON_DeleteItemFromObjectCaseSensitive(out, "raw_results");
    cJSON_DeleteItemFromObjectCaseSensitive(out, "raw_results_omitted");
    double succ = (double)successes;
    if (!raw) {
      succ = 0;
      for (size_t k = 0; k < n; k++) succ += successes_of(docs[order[k]]);
    }
    merge_counts(out, docs, order, n, succ);
    cJSON *srv = cJSON_GetObjectItemCaseSensitive(out, "server");
    for (int m = 0; m < D_LAG; m++) {
      cJSON *target = m < D_DURATION ? out : srv;
      if (!target) continue;
      set_item(target, dist_names[m], raw ? job_results_samples_summary(d[m].v, d[m].n) : job_results_hist_summary(h[m]));
    }
    if (!closed) set_item(out, "schedule_lag_ms", job_results_hist_summary(h[D_LAG]));
    set_item(out, "errors_by_kind", merge_errors(docs, order, n));
    char how[700] = "";
    if (at(out, "redis", NULL)) merge_backend(out, docs, order, n, how, sizeof how);
    set_item(out, "histograms", hists_json(h, closed));
    set_item(out, "merged_from", merged_from(docs, paths, order, n, raw, how[0] ? how : NULL));
    if (raw) set_item(out, "raw_results", merge_raw(docs, n));
    else set_item(out, "raw_results_omitted", cJSON_CreateTrue());
  }
  for (int m = 0; m < D_COUNT; m++) {
    job_hist_destroy(h[m]);
    free(d[m].v);
  }
  free(order);
  return out;
}
