#define _GNU_SOURCE
/* test_job_merge.c: rbench merge's core on synthetic shards: exact percentiles over the pooled
 * raw samples, histogram-only merges within their bound, rates over the union of sends, errors
 * merged by message (capped), complete/interrupted, the backend taken once (the covering
 * window, else the widest) with per-operation figures over every shard's operations, and the
 * refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_hist.h"
#include "job_merge.h"

static double num(const cJSON *o, const char *path) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", path);
  const cJSON *cur = o;
  for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
       tok = strtok_r(NULL, ".", &save))
    cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
  return cJSON_IsNumber(cur) ? cur->valuedouble : (double)NAN;
}

static cJSON *summary(void) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "p50", 0);
  return o;
}

struct spec {
  int index, count;
  const char *run_key;
  int first_k, n; /* invocations first_k, first_k + count, ... (n of them) */
  bool raw;
  bool complete;
  double before_ms, after_ms; /* backend window */
  double redis_cpu_s, ops;
  const char *error_msgs[10];
};

/* execution time of invocation k (µs): spread over 1 ms .. 200 ms, so histogram buckets are
 * wider than 1 µs */
static uint64_t exec_us(int k) { return 1000 + (uint64_t)((k * 7919) % 199000); }

static cJSON *shard(const struct spec *s) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddNumberToObject(d, "schema_version", 1);
  cJSON_AddBoolToObject(d, "complete", s->complete);
  if (s->complete) cJSON_AddNullToObject(d, "interrupted_by");
  else cJSON_AddStringToObject(d, "interrupted_by", "SIGTERM");
  cJSON *h = cJSON_AddObjectToObject(d, "host");
  char host[32];
  snprintf(host, sizeof host, "node-%d", s->index);
  cJSON_AddStringToObject(h, "hostname", host);
  cJSON *sc = cJSON_AddObjectToObject(d, "scenario");
  cJSON_AddStringToObject(sc, "name", "s");
  cJSON_AddStringToObject(sc, "run", "direct");
  cJSON_AddNumberToObject(sc, "repetition", 1);
  cJSON_AddNumberToObject(sc, "repetitions", 1);
  cJSON *params = cJSON_AddObjectToObject(sc, "parameters");
  cJSON_AddTrueToObject(params, "batching");
  cJSON_AddStringToObject(params, "operation", "set");
  cJSON_AddNumberToObject(d, "start_time_ms", 1000000);
  cJSON_AddNumberToObject(d, "duration_s", 1 + s->index);
  cJSON_AddStringToObject(d, "mode", "open");
  cJSON_AddNumberToObject(d, "achieved_rate", 1);
  cJSON_AddNumberToObject(d, "throughput", (double)s->n / 2.0); /* replies over 2 s */
  cJSON *inv = cJSON_AddObjectToObject(d, "invocations");
  cJSON_AddNumberToObject(inv, "planned", s->n);
  cJSON_AddNumberToObject(inv, "sent", s->n);
  cJSON_AddNumberToObject(inv, "completed", s->n);
  cJSON_AddNumberToObject(inv, "measured", s->n);
  cJSON_AddNumberToObject(inv, "succeeded", s->n);
  cJSON_AddNumberToObject(inv, "failed", 0);
  cJSON_AddNumberToObject(d, "late_starts", s->index);
  cJSON_AddNumberToObject(d, "cold_starts", 1);
  cJSON_AddItemToObject(d, "execution_time_ms", summary());
  cJSON_AddItemToObject(d, "service_time_ms", summary());
  cJSON_AddItemToObject(d, "schedule_lag_ms", summary());
  cJSON *srv = cJSON_AddObjectToObject(d, "server");
  cJSON_AddItemToObject(srv, "duration_ms", summary());
  cJSON *errs = cJSON_AddObjectToObject(d, "errors_by_kind");
  int nmsg = 0;
  while (s->error_msgs[nmsg]) nmsg++;
  if (nmsg) {
    cJSON *t = cJSON_AddObjectToObject(errs, "timeout");
    cJSON_AddNumberToObject(t, "count", nmsg * 2);
    cJSON *msgs = cJSON_AddArrayToObject(t, "messages");
    for (int i = 0; i < nmsg; i++) {
      cJSON *m = cJSON_CreateObject();
      cJSON_AddStringToObject(m, "message", s->error_msgs[i]);
      cJSON_AddNumberToObject(m, "count", 2);
      cJSON_AddItemToArray(msgs, m);
    }
  }
  cJSON *redis = cJSON_AddObjectToObject(d, "redis");
  cJSON_AddStringToObject(redis, "endpoint", "r:6379");
  cJSON_AddItemToObject(cJSON_AddObjectToObject(redis, "cpu_s"), "total",
                        cJSON_CreateNumber(s->redis_cpu_s));
  cJSON_AddNumberToObject(redis, "commands", s->ops * 2);
  cJSON_AddNumberToObject(redis, "ops", s->ops);
  cJSON_AddNumberToObject(redis, "cpu_us_per_op", s->redis_cpu_s * 1e6 / s->ops);
  cJSON_AddStringToObject(redis, "note",
                          "3000 set commands, more than the 1000 operations the actions performed");
  cJSON_AddTrueToObject(redis, "shared"); /* from this shard's view: the others' traffic */
  cJSON *calls = cJSON_AddObjectToObject(redis, "calls");
  cJSON_AddNumberToObject(calls, "set", 3000);
  cJSON_AddNumberToObject(calls, "info", 5);
  cJSON_AddNumberToObject(calls, "auth", 3);
  cJSON *agent = cJSON_AddObjectToObject(d, "agent");
  cJSON_AddNumberToObject(agent, "cpu_s", s->redis_cpu_s / 2);
  cJSON_AddNumberToObject(agent, "cpu_us_per_op", 0);
  cJSON_AddNumberToObject(d, "backend_cpu_us_per_op", 0);
  cJSON *tl = cJSON_AddObjectToObject(d, "timeline");
  int last_k = s->first_k + (s->n - 1) * s->count;
  cJSON_AddNumberToObject(tl, "first_send_ms", s->first_k * 10.0);
  cJSON_AddNumberToObject(tl, "last_send_ms", last_k * 10.0);
  cJSON_AddNumberToObject(tl, "last_end_ms", s->first_k * 10.0 + 2000);
  cJSON_AddNumberToObject(tl, "backend_before_ms", s->before_ms);
  cJSON_AddNumberToObject(tl, "backend_after_ms", s->after_ms);
  struct job_hist *e = job_hist_create(), *z = job_hist_create();
  cJSON *raw = cJSON_CreateArray();
  for (int i = 0; i < s->n; i++) {
    int k = s->first_k + i * s->count;
    job_hist_record(e, exec_us(k));
    job_hist_record(z, 3000);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "index", k);
    cJSON_AddNumberToObject(r, "intended_ms", k * 10.0);
    cJSON_AddNumberToObject(r, "end_ms", k * 10.0 + (double)exec_us(k) / 1000);
    cJSON_AddNumberToObject(r, "execution_time_ms", (double)exec_us(k) / 1000);
    cJSON_AddNumberToObject(r, "service_time_ms", (double)exec_us(k) / 1000);
    cJSON_AddTrueToObject(r, "success");
    cJSON_AddNumberToObject(r, "duration_ms", 3);
    cJSON_AddItemToArray(raw, r);
  }
  cJSON *hs = cJSON_AddObjectToObject(d, "histograms");
  const char *zero_names[] = {"schedule_lag_ms", "wait_time_ms", "init_time_ms",
                              "action_elapsed_ms"};
  cJSON_AddItemToObject(hs, "execution_time_ms", job_hist_to_json(e));
  cJSON_AddItemToObject(hs, "service_time_ms", job_hist_to_json(e));
  cJSON_AddItemToObject(hs, "duration_ms", job_hist_to_json(z));
  struct job_hist *empty = job_hist_create();
  for (int i = 0; i < 4; i++) cJSON_AddItemToObject(hs, zero_names[i], job_hist_to_json(empty));
  job_hist_destroy(empty);
  job_hist_destroy(e);
  job_hist_destroy(z);
  cJSON *sh = cJSON_AddObjectToObject(d, "shard");
  cJSON_AddNumberToObject(sh, "index", s->index);
  cJSON_AddNumberToObject(sh, "count", s->count);
  cJSON_AddNumberToObject(sh, "start_at_ms", 1000000);
  cJSON_AddStringToObject(sh, "run_key", s->run_key);
  if (s->raw) cJSON_AddItemToObject(d, "raw_results", raw);
  else cJSON_Delete(raw);
  return d;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

#define N 3
static cJSON *docs[N];
static const char *paths[N] = {"a.json", "b.json", "c.json"};

static void make(bool raw, bool covering) {
  for (int i = 0; i < N; i++) {
    struct spec s = {.index = i,
                     .count = N,
                     .run_key = "k1",
                     .first_k = i,
                     .n = 40,
                     .raw = raw,
                     .complete = true,
                     .before_ms = -100.0 + i,
                     .after_ms = 500.0 + 3 * i,
                     .redis_cpu_s = 1.0 + i,
                     .ops = 1000};
    if (covering && i == 1) s.before_ms = -200, s.after_ms = 600; /* shard 1 covers the others */
    docs[i] = shard(&s);
  }
}

static void drop(void) {
  for (int i = 0; i < N; i++) cJSON_Delete(docs[i]);
}

static void test_exact_and_histogram_percentiles(void **state) {
  (void)state;
  char err[600];
  uint64_t v[N * 40];
  for (int k = 0; k < N * 40; k++) v[k] = exec_us(k);
  qsort(v, N * 40, sizeof *v, cmp_u64);
  const double ps[] = {50, 90, 99};
  const char *names[] = {"execution_time_ms.p50", "execution_time_ms.p90", "execution_time_ms.p99"};
  make(true, true);
  cJSON *m = job_merge_shards((const cJSON *const *)docs, paths, N, err, sizeof err);
  assert_non_null(m);
  for (int i = 0; i < 3; i++) {
    size_t rank = (size_t)ceil(ps[i] / 100 * N * 40 - 1e-9);
    assert_true(fabs(num(m, names[i]) - (double)v[rank - 1] / 1000) < 1e-9);
  }
  assert_true(num(m, "execution_time_ms.count") == N * 40);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "raw_results")), N * 40);
  assert_null(cJSON_GetObjectItem(m, "shard"));
  assert_true(num(m, "merged_from.count") == N);
  cJSON_Delete(m);
  drop();
  /* the same shards without raw_results: the histograms, within their bound */
  make(false, true);
  m = job_merge_shards((const cJSON *const *)docs, paths, N, err, sizeof err);
  assert_non_null(m);
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetObjectItem(m, "merged_from"), "percentiles")->valuestring,
      "histograms");
  bool any_inexact = false;
  for (int i = 0; i < 3; i++) {
    size_t rank = (size_t)ceil(ps[i] / 100 * N * 40 - 1e-9);
    double exact = (double)v[rank - 1] / 1000, got = num(m, names[i]);
    assert_true(got >= exact && got <= exact * (1 + JOB_HIST_MAX_RELATIVE_ERROR));
    any_inexact = any_inexact || got != exact;
  }
  assert_true(any_inexact); /* these values are above the exact range: the bound is used */
  assert_true(num(m, "execution_time_ms.min") == (double)v[0] / 1000);
  assert_true(num(m, "execution_time_ms.max") == (double)v[N * 40 - 1] / 1000);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(m, "raw_results_omitted")));
  cJSON_Delete(m);
  drop();
}

static void test_counts_rates_and_backend(void **state) {
  (void)state;
  char err[600];
  make(true, true);
  cJSON *m = job_merge_shards((const cJSON *const *)docs, paths, N, err, sizeof err);
  assert_non_null(m);
  assert_true(num(m, "invocations.sent") == 120);
  assert_true(num(m, "late_starts") == 0 + 1 + 2);
  assert_true(num(m, "cold_starts") == 3);
  assert_true(num(m, "duration_s") == 3);
  /* sends k = 0 .. 119 every 10 ms: (120 - 1) / 1.19 s */
  assert_true(fabs(num(m, "achieved_rate") - 100) < 1e-9);
  /* 120 successes over 0 .. 2.02 s */
  assert_true(fabs(num(m, "throughput") - 120 / 2.02) < 1e-9);
  /* the backend once: shard 1's figures (its window covers the others), per op over 3000 ops */
  assert_true(num(m, "redis.cpu_s.total") == 2);
  assert_true(num(m, "redis.ops") == 3000);
  assert_true(fabs(num(m, "redis.cpu_us_per_op") - 2e6 / 3000) < 1e-5);
  assert_true(fabs(num(m, "redis.commands_per_op") - 2000.0 / 3000) < 1e-5);
  assert_true(fabs(num(m, "agent.cpu_us_per_op") - 1e6 / 3000) < 1e-5);
  assert_true(fabs(num(m, "backend_cpu_us_per_op") - 3e6 / 3000) < 1e-5);
  const char *note =
      cJSON_GetObjectItem(cJSON_GetObjectItem(m, "merged_from"), "note")->valuestring;
  assert_non_null(strstr(note, "the figures of shard 1, whose sampling window"));
  assert_true(num(m, "timeline.backend_before_ms") == -200);
  /* shared judged again over the whole run: 3000 sets for 3000 operations, 5 INFOs for 3 samplers
   */
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "redis"), "shared")));
  assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "redis"), "note")->valuestring,
                         "shared judged again over the merged run"));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(m, "complete")));
  cJSON_Delete(m);
  drop();
  /* no covering window (-100 .. 500, -99 .. 503, -98 .. 506): the widest, shard 2's, said so */
  make(true, false);
  m = job_merge_shards((const cJSON *const *)docs, paths, N, err, sizeof err);
  assert_non_null(m);
  assert_true(num(m, "redis.cpu_s.total") == 3);
  note = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "merged_from"), "note")->valuestring;
  assert_non_null(
      strstr(note, "no shard's sampling window covers every other's; the figures of shard 2"));
  cJSON_Delete(m);
  drop();
  /* another client's commands: shared, and why */
  make(true, true);
  cJSON *calls = cJSON_GetObjectItem(cJSON_GetObjectItem(docs[1], "redis"), "calls");
  cJSON_AddNumberToObject(calls, "flushall", 1);
  m = job_merge_shards((const cJSON *const *)docs, paths, N, err, sizeof err);
  assert_non_null(m);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "redis"), "shared")));
  assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "redis"), "note")->valuestring,
                         "1 calls of commands rbench never sends (e.g. flushall)"));
  cJSON_Delete(m);
  drop();
}

/* action_runtime.starts: each shard started its own workers; counts summed, min/max over all,
 * the mean weighted by count, percentiles null (not mergeable from summaries); the runtime's
 * other fields kept. */
static void test_action_runtime_starts(void **state) {
  (void)state;
  char err[600];
  make(true, true);
  static const double counts[] = {2, 0, 6}, means[] = {100, 0, 60}, mins[] = {90, 0, 50},
                      maxs[] = {110, 0, 75};
  for (int i = 0; i < N; i++) {
    cJSON *rt = cJSON_AddObjectToObject(docs[i], "action_runtime");
    cJSON_AddStringToObject(rt, "kind", "container");
    cJSON *st = cJSON_AddObjectToObject(rt, "starts");
    cJSON_AddNumberToObject(st, "count", counts[i]);
    if (counts[i] > 0) {
      cJSON_AddNumberToObject(st, "p50_ms", means[i]);
      cJSON_AddNumberToObject(st, "p90_ms", maxs[i]);
      cJSON_AddNumberToObject(st, "min_ms", mins[i]);
      cJSON_AddNumberToObject(st, "max_ms", maxs[i]);
      cJSON_AddNumberToObject(st, "mean_ms", means[i]);
    }
  }
  cJSON *m = job_merge_shards((const cJSON *const *)docs, paths, N, err, sizeof err);
  assert_non_null(m);
  assert_true(num(m, "action_runtime.starts.count") == 8);
  assert_true(num(m, "action_runtime.starts.min_ms") == 50);
  assert_true(num(m, "action_runtime.starts.max_ms") == 110);
  assert_true(fabs(num(m, "action_runtime.starts.mean_ms") - (2 * 100 + 6 * 60) / 8.0) < 1e-9);
  const cJSON *st = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "action_runtime"), "starts");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(st, "p50_ms")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(st, "p90_ms")));
  assert_non_null(strstr(cJSON_GetObjectItem(st, "note")->valuestring, "merged from the shards"));
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetObjectItem(m, "action_runtime"), "kind")->valuestring,
      "container");
  cJSON_Delete(m);
  drop();
}

static void test_errors_and_complete(void **state) {
  (void)state;
  char err[600];
  struct spec a = {.index = 0,
                   .count = 2,
                   .run_key = "k",
                   .first_k = 0,
                   .n = 5,
                   .raw = true,
                   .complete = true,
                   .before_ms = -1,
                   .after_ms = 1,
                   .redis_cpu_s = 1,
                   .ops = 10,
                   .error_msgs = {"m1", "m2", "m3", "m4", "m5"}};
  struct spec b = {.index = 1,
                   .count = 2,
                   .run_key = "k",
                   .first_k = 1,
                   .n = 5,
                   .raw = true,
                   .complete = false,
                   .before_ms = -1,
                   .after_ms = 1,
                   .redis_cpu_s = 1,
                   .ops = 10,
                   .error_msgs = {"m5", "m6", "m7", "m8", "m9", "m10"}};
  cJSON *d[2] = {shard(&b), shard(&a)}; /* any order */
  const char *p[2] = {"b.json", "a.json"};
  cJSON *m = job_merge_shards((const cJSON *const *)d, p, 2, err, sizeof err);
  assert_non_null(m);
  const cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "errors_by_kind"), "timeout");
  assert_true(num(t, "count") == 22);
  const cJSON *msgs = cJSON_GetObjectItem(t, "messages");
  assert_int_equal(cJSON_GetArraySize(msgs), 8);               /* capped as the runner caps them */
  assert_true(num(cJSON_GetArrayItem(msgs, 4), "count") == 4); /* m5 from both */
  assert_true(num(t, "other_messages") == 4);                  /* m9, m10 */
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(m, "complete")));
  assert_string_equal(cJSON_GetObjectItem(m, "interrupted_by")->valuestring, "SIGTERM");
  /* shard order in merged_from */
  assert_string_equal(
      cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "merged_from"), "files"), 0)
          ->valuestring,
      "a.json");
  cJSON_Delete(m);
  cJSON_Delete(d[0]);
  cJSON_Delete(d[1]);
}

/* Aborted invocations (stopped by a signal) are neither successes nor failures: the merged
 * rates are over measured - aborted, as the runner's. */
static void test_aborted_in_neither_rate(void **state) {
  (void)state;
  char err[600];
  make(false, false);
  cJSON *inv = cJSON_GetObjectItem(docs[0], "invocations");
  cJSON_SetNumberValue(cJSON_GetObjectItem(inv, "succeeded"), 30);
  cJSON_SetNumberValue(cJSON_GetObjectItem(inv, "failed"), 5);
  cJSON_AddNumberToObject(inv, "aborted", 5);
  cJSON *m = job_merge_shards((const cJSON *const *)docs, paths, N, err, sizeof err);
  assert_non_null(m);
  assert_true(num(m, "invocations.aborted") == 5);
  assert_true(fabs(num(m, "success_rate") - 110.0 / 115.0) < 1e-12);
  assert_true(fabs(num(m, "error_rate") - 5.0 / 115.0) < 1e-12);
  cJSON_Delete(m);
  drop();
}

static void test_refusals(void **state) {
  (void)state;
  char err[600];
  make(true, true);
  /* missing */
  assert_null(job_merge_shards((const cJSON *const *)docs, paths, 2, err, sizeof err));
  assert_non_null(strstr(err, "shard 2 of 3 missing"));
  /* duplicate */
  const cJSON *dup[3] = {docs[0], docs[1], docs[1]};
  assert_null(job_merge_shards(dup, paths, 3, err, sizeof err));
  assert_non_null(strstr(err, "b.json and c.json are both shard 1 of 3"));
  /* different run keys */
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(docs[2], "shard"), "run_key",
                            cJSON_CreateString("k2"));
  assert_null(job_merge_shards((const cJSON *const *)docs, paths, 3, err, sizeof err));
  assert_non_null(strstr(err, "a.json and c.json are not shards of one run: different run keys"));
  /* unsharded */
  cJSON_DeleteItemFromObject(docs[2], "shard");
  assert_null(job_merge_shards((const cJSON *const *)docs, paths, 3, err, sizeof err));
  assert_non_null(strstr(err, "c.json: an unsharded results document"));
  drop();
  /* summary only without histograms */
  make(true, true);
  cJSON_DeleteItemFromObject(docs[1], "raw_results");
  cJSON_DeleteItemFromObject(docs[1], "histograms");
  assert_null(job_merge_shards((const cJSON *const *)docs, paths, 3, err, sizeof err));
  assert_non_null(strstr(err, "b.json is summary only (no raw_results) and has no histograms"));
  drop();
  /* a broken histogram */
  make(false, true);
  cJSON *h = cJSON_GetObjectItem(cJSON_GetObjectItem(docs[0], "histograms"), "execution_time_ms");
  cJSON_ReplaceItemInObject(h, "count", cJSON_CreateNumber(7));
  assert_null(job_merge_shards((const cJSON *const *)docs, paths, 3, err, sizeof err));
  assert_non_null(strstr(err, "a.json: histogram: the bucket counts do not add up to count"));
  drop();
  cJSON *junk = cJSON_Parse("{\"a\":1}");
  assert_non_null(job_merge_not_a_shard(junk));
  cJSON_Delete(junk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_and_histogram_percentiles),
      cmocka_unit_test(test_counts_rates_and_backend),
      cmocka_unit_test(test_action_runtime_starts),
      cmocka_unit_test(test_errors_and_complete),
      cmocka_unit_test(test_aborted_in_neither_rate),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
