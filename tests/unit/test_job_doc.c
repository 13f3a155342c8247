#define _GNU_SOURCE
/* test_job_doc.c: the typed reader of the results document: a document written by the writer
 * (job_results) reads back with the figures it was written with; every kind of corruption is
 * refused with the file and the field named; a newer schema_version is named as such; a
 * summary-only document is accepted; job_doc_settings_diff names the first differing setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job_config.h"
#include "job_doc.h"
#include "job_results.h"
#include "job_reuse.h"

static char *doc_text; /* a document written by job_results_write */

/* Writes a document with four invocations: a warm-up, two successes (10 and 30 ms), a 429. */
static int setup(void **state) {
  (void)state;
  char dir[] = "/tmp/rbench-doc-XXXXXX", out[256], err[300];
  if (!mkdtemp(dir)) return -1;
  snprintf(out, sizeof out, "%s/r3.json", dir);
  const char *secrets[] = {NULL};
  struct job_results *res = NULL;
  if (job_results_create(&res, out, NULL, 4, secrets, err, sizeof err) != RB_OK) return -1;
  for (int i = 0; i < 4; i++) {
    struct job_record r;
    job_record_init(&r, (uint64_t)i);
    r.warmup = i == 0;
    r.intended_us = i * 100000;
    r.sent_us = r.intended_us + 200;
    r.end_us = r.intended_us + (i == 2 ? 30000 : 10000);
    r.http_status = 200;
    r.duration_ms = 5;
    r.cold_start = i == 1;
    if (i == 3) job_record_set_error(&r, JOB_ERR_THROTTLED, "HTTP 429: Too many requests");
    /* the action's op_stats (issue 20): a get of 100 us and a set of 300 us each, the warm-up's
       not counted; the 429 had no action */
    if (i < 3)
      r.action = strdup(
          "{\"op_stats\":{\"get\":{\"succeeded\":3,\"failed\":1,\"found\":2,\"latency_us\":"
          "{\"count\":1,\"min\":100,\"max\":100,\"sum\":100,\"buckets\":[100,1]}},"
          "\"set\":{\"succeeded\":1,\"failed\":0,\"latency_us\":{\"count\":1,\"min\":300,"
          "\"max\":300,\"sum\":300,\"buckets\":[300,1]}}},\"invocation\":1}");
    job_results_add(res, &r);
    job_record_deinit(&r);
  }
  struct job_params p;
  job_params_defaults(&p);
  snprintf(p.mix, sizeof p.mix, "get:3,set:1");
  p.key_space = 100;
  snprintf(p.key_distribution, sizeof p.key_distribution, "zipfian");
  struct job_key_reuse reuse;
  struct rb_workload w;
  if (job_params_workload(&p, &w, err, sizeof err) != RB_OK ||
      job_key_reuse_compute(&w, 1, 3, &reuse) != RB_OK)
    return -1;
  struct job_target_conf t;
  job_target_conf_defaults(&t);
  struct job_run_info in = {.scenario = "unit",
                            .run_id = "0123456789abcdef",
                            .params = &p,
                            .target = &t,
                            .action = "/guest/p/a",
                            .repetition = 3,
                            .repetitions = 4,
                            .planned = 4,
                            .sent = 4,
                            .warmup = 1,
                            .late_threshold_us = 1000,
                            .first_sent_s = 0.0002,
                            .last_sent_s = 0.3002,
                            .key_reuse = &reuse,
                            .complete = true};
  enum rb_err rc = job_results_write(res, &in, err, sizeof err);
  job_results_destroy(res);
  size_t n = 0;
  doc_text = rc == RB_OK ? job_read_file(out, &n) : NULL;
  unlink(out);
  rmdir(dir);
  return doc_text ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  free(doc_text);
  return 0;
}

static void test_round_trip(void **state) {
  (void)state;
  struct job_doc d;
  char err[400];
  assert_int_equal(job_doc_read_text(doc_text, strlen(doc_text), "r3.json", &d, err, sizeof err),
                   RB_OK);
  assert_int_equal(d.schema_version, JOB_DOC_SCHEMA_VERSION);
  assert_string_equal(d.run_id, "0123456789abcdef");
  assert_string_equal(d.scenario_name, "unit");
  assert_string_equal(d.run_name, "run");
  assert_true(d.repetition == 3 && d.repetitions == 4);
  assert_true(d.complete);
  assert_false(d.closed);
  assert_null(d.interrupted_by);
  assert_string_equal(d.target, "local");
  assert_string_equal(d.action, "/guest/p/a");
  assert_true(job_doc_param_present(&d, "ops"));
  assert_int_equal(d.params.ops, 10);
  assert_string_equal(d.params.operation, "set");
  assert_true(d.requested_rate == 10);
  assert_true(fabs(d.achieved_rate - 10) < 1e-9);
  assert_true(d.planned == 4 && d.sent == 4 && d.completed == 4 && d.warmup_count == 1);
  assert_true(d.measured == 3 && d.succeeded == 2 && d.failed == 1);
  assert_true(d.execution.present && d.execution.p50 == 10 && d.execution.max == 30 &&
              d.execution.count == 2);
  assert_true(d.srv_duration.p50 == 5);
  assert_true(d.cold_starts == 1);
  assert_int_equal(d.error_kinds, 1);
  assert_string_equal(d.errors[0].kind, "http_429");
  assert_true(d.errors[0].count == 1);
  assert_int_equal(d.errors[0].nmessages, 1);
  assert_string_equal(d.errors[0].messages[0].message, "HTTP 429: Too many requests");
  assert_true(d.has_raw);
  assert_int_equal(d.nraw, 4);
  assert_true(d.raw[0].warmup && d.raw[0].index == 0);
  assert_true(d.raw[1].success && d.raw[1].cold_start && d.raw[1].execution_ms == 10);
  assert_true(d.raw[2].execution_ms == 30 && d.raw[2].sent_ms == 200.2 &&
              d.raw[2].service_ms == 29.8);
  assert_false(d.raw[3].success);
  assert_string_equal(d.raw[3].outcome, "http_429");
  assert_non_null(d.histograms);
  assert_true(d.first_send_ms == 0.2 && d.last_send_ms == 300.2);
  /* issue 20: the workload and per-operation sections */
  assert_true(d.workload.present);
  assert_true(d.workload.mix[RB_OP_GET] == 0.75 && d.workload.mix[RB_OP_SET] == 0.25);
  assert_true(d.workload.has_realised);
  /* two measured records: gets 2 x 4, sets 2 x 1 */
  assert_true(d.workload.realised[RB_OP_GET] == 0.8 && d.workload.realised[RB_OP_SET] == 0.2);
  assert_string_equal(d.workload.key_distribution, "zipfian");
  assert_true(d.workload.zipf_exponent == 0.99 && d.workload.key_space == 100);
  assert_string_equal(d.workload.value_sizes, "64");
  assert_true(d.workload.seed == 1 && d.workload.prepare);
  assert_true(isnan(d.workload.keys_per_command)); /* no mget or mset in the mix */
  assert_true(d.workload.has_key_reuse && d.workload.reuse_operations == 30);
  for (int k = 0; k < 3; k++) assert_true(d.workload.key_reuse[k] >= 0);
  assert_int_equal(d.nops, 2);
  const struct job_doc_op *get = strcmp(d.ops[0].name, "get") ? &d.ops[1] : &d.ops[0];
  const struct job_doc_op *set = get == d.ops ? &d.ops[1] : &d.ops[0];
  assert_string_equal(get->name, "get");
  assert_true(get->succeeded == 6 && get->failed == 2 && get->found == 4);
  assert_true(get->latency.p50 == 0.1 && get->latency.count == 2);
  assert_true(set->succeeded == 2 && isnan(set->found) && set->latency.p99 == 0.3);
  assert_non_null(get->histogram);
  char wl[400];
  job_doc_workload_text(&d, wl, sizeof wl);
  assert_string_equal(
      wl, "mix set:1,get:3; keys zipfian (s 0.99) over 100; values 64 B; arrival constant");
  job_doc_free(&d);
}

/* The written document with one change (a JSON fragment replacing the value at a path). */
static cJSON *mutated(const char *path, const char *value) {
  cJSON *doc = cJSON_Parse(doc_text);
  char buf[200];
  snprintf(buf, sizeof buf, "%s", path);
  cJSON *parent = doc;
  char *save = NULL, *tok = strtok_r(buf, ".", &save), *next;
  while ((next = strtok_r(NULL, ".", &save))) {
    char *br = strchr(tok, '[');
    if (br) {
      *br = '\0';
      parent = cJSON_GetArrayItem(cJSON_GetObjectItem(parent, tok), atoi(br + 1));
    } else {
      parent = cJSON_GetObjectItem(parent, tok);
    }
    tok = next;
  }
  if (value) {
    cJSON *v = cJSON_Parse(value);
    if (cJSON_GetObjectItem(parent, tok)) cJSON_ReplaceItemInObject(parent, tok, v);
    else cJSON_AddItemToObject(parent, tok, v);
  } else {
    cJSON_DeleteItemFromObject(parent, tok);
  }
  return doc;
}

/* Reads the document with path changed to value (NULL: removed); returns the error. */
static const char *refusal(const char *path, const char *value) {
  static char err[600];
  cJSON *doc = mutated(path, value);
  struct job_doc d;
  enum rb_err rc = job_doc_read(doc, "r3.json", &d, err, sizeof err);
  if (rc == RB_OK) {
    job_doc_free(&d);
    snprintf(err, sizeof err, "(accepted)");
  }
  cJSON_Delete(doc);
  return err;
}

static void test_validation_names_file_and_field(void **state) {
  (void)state;
  assert_string_equal(refusal("raw_results[2].index", "\"17\""),
                      "r3.json: raw_results[2].index: expected an integer, got a string");
  assert_string_equal(refusal("raw_results[1].index", "1.5"),
                      "r3.json: raw_results[1].index: expected an integer, got 1.5");
  assert_non_null(strstr(refusal("raw_results[1].execution_time_ms", "-5"),
                         "r3.json: raw_results[1].execution_time_ms: -5 is negative"));
  assert_non_null(strstr(refusal("execution_time_ms.p99", "1e308"),
                         "r3.json: execution_time_ms.p99: 1e+308 is out of range"));
  assert_non_null(strstr(refusal("execution_time_ms.max", "1e999"),
                         "r3.json: execution_time_ms.max: expected a finite number"));
  assert_non_null(
      strstr(refusal("achieved_rate", "5e12"), "r3.json: achieved_rate: 5e+12 is out of range"));
  assert_non_null(
      strstr(refusal("success_rate", "1.5"), "r3.json: success_rate: 1.5 is out of range"));
  assert_string_equal(refusal("success_rate", "\"high\""),
                      "r3.json: success_rate: expected a number, got a string");
  assert_string_equal(refusal("redis", "[]"), "r3.json: redis: expected an object, got an array");
  assert_string_equal(refusal("raw_results[0].success", "1"),
                      "r3.json: raw_results[0].success: expected true or false, got a number");
  assert_non_null(strstr(refusal("scenario.parameters.ops", "0"),
                         "r3.json: scenario.parameters.ops: 0 is not an integer from 1"));
  assert_non_null(
      strstr(refusal("mode", "\"half\""), "r3.json: mode: expected \"open\" or \"closed\""));
  assert_non_null(strstr(
      refusal("invocations.succeeded", "3"),
      "r3.json: invocations.succeeded: 3 contradicts raw_results, where 2 measured records"));
  assert_non_null(strstr(refusal("invocations.measured", "2"),
                         "r3.json: invocations.measured: 2 contradicts raw_results"));
  assert_non_null(strstr(refusal("invocations.completed", "9"),
                         "r3.json: invocations.completed: 9 contradicts raw_results"));
  assert_non_null(strstr(refusal("raw_results[3].success", "true"),
                         "r3.json: invocations.succeeded: 2 contradicts"));
  assert_non_null(strstr(refusal("histograms.execution_time_ms.count", "7"),
                         "r3.json: histogram: the bucket counts do not add up to count "
                         "(histograms.execution_time_ms)"));
  assert_string_equal(refusal("run_id", "7"), "r3.json: run_id: expected a string, got a number");
  /* issue 20 */
  assert_string_equal(refusal("workload.mix.get", "1.5"),
                      "r3.json: workload.mix.get: 1.5 is out of range: expected a fraction of at "
                      "most 1");
  assert_non_null(strstr(refusal("workload.realised_mix.flushall", "0.1"),
                         "r3.json: workload.realised_mix: unknown operation 'flushall'"));
  assert_string_equal(refusal("workload.key_distribution", "\"pareto\""),
                      "r3.json: workload.key_distribution: unknown distribution 'pareto'");
  assert_string_equal(refusal("workload.key_reuse", "{}"),
                      "r3.json: workload.key_reuse: expected an array, got an object");
  assert_non_null(strstr(refusal("workload.key_reuse[0].repeated", "2"),
                         "r3.json: workload.key_reuse[0].repeated: 2 is out of range"));
  assert_non_null(strstr(refusal("operations.get.succeeded", "-1"),
                         "r3.json: operations.get.succeeded: -1 is negative"));
  assert_non_null(strstr(refusal("operations.flushall", "{}"),
                         "r3.json: operations.flushall: unknown operation"));
  assert_non_null(strstr(refusal("operations.set.histogram.count", "5"),
                         "r3.json: operations.set: histogram: the bucket counts do not add up"));
  assert_non_null(strstr(refusal("operations.get.latency_ms.p50", "\"fast\""),
                         "r3.json: operations.get.latency_ms.p50: expected a number"));
}

/* issue 21: "started" (backend start) and "action_cpu" read back, and are validated. */
static void test_started_sections(void **state) {
  (void)state;
  cJSON *doc =
      mutated("started",
              "{\"processes\":[{\"role\":\"redis\",\"name\":\"redis-server\",\"args\":\"--port 1\","
              "\"endpoint\":\"127.0.0.1:1\",\"pid\":42,\"cpu_quota\":0.1,\"cpu_s\":0.5,"
              "\"cpu_us_per_op\":12.5,\"throttled_s\":0.25,\"throttled_periods\":7,\"note\":null},"
              "{\"role\":\"layer\",\"name\":\"nutcracker\",\"cpu_quota\":null,\"cpu_s\":0.1,"
              "\"cpu_us_per_op\":null,\"throttled_s\":null,\"throttled_periods\":null}]}");
  cJSON_AddItemToObject(doc, "action_cpu",
                        cJSON_Parse("{\"cpu_s\":1.5,\"cpu_us_per_op\":30,\"processes\":2}"));
  struct job_doc d;
  char err[600];
  assert_int_equal(job_doc_read(doc, "r3.json", &d, err, sizeof err), RB_OK);
  assert_true(d.started.present && d.started.n == 2);
  const struct job_doc_started_proc *r = &d.started.procs[0], *l = &d.started.procs[1];
  assert_string_equal(r->role, "redis");
  assert_string_equal(r->name, "redis-server");
  assert_string_equal(r->endpoint, "127.0.0.1:1");
  assert_true(r->pid == 42 && r->cpu_quota.v == 0.1 && r->cpu_s.v == 0.5);
  assert_true(r->cpu_us_per_op.v == 12.5 && r->throttled_s.v == 0.25);
  assert_true(r->throttled_periods.v == 7);
  assert_string_equal(l->role, "layer");
  assert_int_equal(l->cpu_quota.has, JOB_DOC_NULL);
  assert_int_equal(l->cpu_us_per_op.has, JOB_DOC_NULL);
  assert_true(isnan(l->pid) && l->cpu_s.v == 0.1);
  assert_true(d.action_cpu.present && d.action_cpu.cpu_s.v == 1.5);
  assert_true(d.action_cpu.cpu_us_per_op.v == 30 && d.action_cpu.processes == 2);
  job_doc_free(&d);
  cJSON_Delete(doc);
  /* the writer's document here has neither */
  doc = cJSON_Parse(doc_text);
  assert_int_equal(job_doc_read(doc, "r3.json", &d, err, sizeof err), RB_OK);
  assert_false(d.started.present);
  assert_false(d.action_cpu.present);
  assert_true(isnan(d.action_cpu.processes));
  job_doc_free(&d);
  cJSON_Delete(doc);
  assert_string_equal(refusal("started", "[]"),
                      "r3.json: started: expected an object, got an array");
  assert_string_equal(refusal("started", "{\"processes\":{}}"),
                      "r3.json: started.processes: expected an array, got an object");
  assert_string_equal(
      refusal("started", "{\"processes\":[{\"role\":\"proxy\",\"name\":\"x\"}]}"),
      "r3.json: started.processes[0].role: expected \"redis\" or \"layer\", got another string");
  assert_string_equal(refusal("started", "{\"processes\":[{\"role\":\"layer\"}]}"),
                      "r3.json: started.processes[0].name: expected the program's name, got "
                      "nothing");
  assert_non_null(strstr(
      refusal("started", "{\"processes\":[{\"role\":\"redis\",\"name\":\"r\",\"cpu_s\":-1}]}"),
      "r3.json: started.processes[0].cpu_s: -1 is negative"));
  assert_non_null(strstr(
      refusal("started", "{\"processes\":[{\"role\":\"redis\",\"name\":\"r\",\"cpu_quota\":0}]}"),
      "r3.json: started.processes[0].cpu_quota: 0 is out of range"));
  assert_string_equal(
      refusal("started",
              "{\"processes\":[{\"role\":\"redis\",\"name\":\"r\",\"throttled_periods\":1.5}]}"),
      "r3.json: started.processes[0].throttled_periods: expected an integer, got 1.5");
  assert_string_equal(refusal("action_cpu", "{\"processes\":\"two\"}"),
                      "r3.json: action_cpu.processes: expected an integer, got a string");
  assert_non_null(strstr(refusal("action_cpu", "{\"cpu_us_per_op\":1e16}"),
                         "r3.json: action_cpu.cpu_us_per_op: 1e+16 is out of range"));
}

static void test_schema_version(void **state) {
  (void)state;
  assert_string_equal(refusal("schema_version", "2"),
                      "r3.json: schema_version: schema_version 2 is newer than this rbench reads "
                      "(1): use a newer rbench");
  assert_string_equal(refusal("schema_version", "0"),
                      "r3.json: schema_version: schema_version 0 is not one rbench writes (1)");
  assert_string_equal(refusal("schema_version", "\"1\""),
                      "r3.json: schema_version: expected an integer, got a string");
  assert_string_equal(refusal("schema_version", NULL),
                      "r3.json: not an rbench results document (no schema_version)");
  struct job_doc d;
  char err[200];
  cJSON *arr = cJSON_CreateArray();
  assert_int_equal(job_doc_read(arr, "x.json", &d, err, sizeof err), RB_ERR_INVALID);
  assert_string_equal(
      err, "x.json: not an rbench results document (expected a JSON object, got an array)");
  cJSON_Delete(arr);
  assert_int_equal(job_doc_read_text("{", 1, "y.json", &d, err, sizeof err), RB_ERR_PARSE);
  assert_string_equal(err, "y.json: not valid JSON");
}

static void test_summary_only_and_old_documents(void **state) {
  (void)state;
  /* a ConfigMap's summary: raw_results omitted, histograms kept */
  cJSON *doc = mutated("raw_results", NULL);
  cJSON_AddTrueToObject(doc, "raw_results_omitted");
  struct job_doc d;
  char err[400];
  assert_int_equal(job_doc_read(doc, "s.json", &d, err, sizeof err), RB_OK);
  assert_false(d.has_raw);
  assert_true(d.raw_omitted);
  assert_int_equal(d.nraw, 0);
  assert_non_null(d.histograms);
  assert_true(d.measured == 3);
  job_doc_free(&d);
  cJSON_Delete(doc);
  /* written before run ids and modes: run_id NULL, open loop */
  doc = mutated("run_id", NULL);
  cJSON_DeleteItemFromObject(doc, "mode");
  assert_int_equal(job_doc_read(doc, "old.json", &d, err, sizeof err), RB_OK);
  assert_null(d.run_id);
  assert_false(d.closed);
  job_doc_free(&d);
  cJSON_Delete(doc);
}

static void test_settings_diff(void **state) {
  (void)state;
  struct job_doc a, b;
  char err[400], what[200];
  assert_int_equal(job_doc_read_text(doc_text, strlen(doc_text), "a.json", &a, err, sizeof err),
                   RB_OK);
  assert_int_equal(job_doc_read_text(doc_text, strlen(doc_text), "b.json", &b, err, sizeof err),
                   RB_OK);
  assert_false(job_doc_settings_diff(&a, &b, what, sizeof what));
  assert_string_equal(what, "");
  job_doc_free(&b);
  /* what is not a setting (the repetition, the run id) does not count */
  cJSON *doc = mutated("scenario.repetition", "1");
  cJSON_ReplaceItemInObject(doc, "run_id", cJSON_CreateString("ffffffffffffffff"));
  assert_int_equal(job_doc_read(doc, "b.json", &b, err, sizeof err), RB_OK);
  assert_false(job_doc_settings_diff(&a, &b, what, sizeof what));
  job_doc_free(&b);
  cJSON_Delete(doc);
  static const struct {
    const char *path, *value, *what;
  } cases[] = {
      {"scenario.parameters.ops", "200", "ops: 10 vs 200"},
      {"scenario.parameters.batching", "true", "batching: false vs true"},
      {"scenario.parameters.parallel", "8", "parallel: 5 vs 8"},
      {"scenario.parameters.value_size", "1024", "value_size: 64 vs 1024"},
      {"scenario.parameters.key_space", "1000", "key_space: 100 vs 1000"},
      {"scenario.parameters.rate", "20", "rate: 10 vs 20"},
      {"scenario.parameters.invocations", "500", "invocations: 100 vs 500"},
      {"scenario.parameters.duration", "30", "duration: 0 vs 30"},
      {"mode", "\"closed\"", "mode: open vs closed"},
      {"scenario.target.kind", "\"openwhisk\"", "target: local vs openwhisk"},
      /* issue 20: the workload as drawn */
      {"scenario.parameters.mix", "\"get:1,set:1\"", "mix: set:1,get:3 vs set:1,get:1"},
      {"scenario.parameters.mix", "\"\"", "mix: set:1,get:3 vs set:1"},
      {"scenario.parameters.key_distribution", "\"uniform\"",
       "key_distribution: zipfian vs uniform"},
      {"scenario.parameters.zipf_exponent", "1.2", "zipf_exponent: 0.99 vs 1.2"},
      {"scenario.parameters.value_size_range", "\"64-128\"", "value_sizes: 64 vs 64-128"},
      {"scenario.parameters.value_size_list", "\"64:1,128:1\"", "value_sizes: 64 vs 64:1,128:1"},
      {"scenario.parameters.arrival", "\"poisson\"", "arrival: constant vs poisson"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    doc = mutated(cases[i].path, cases[i].value);
    assert_int_equal(job_doc_read(doc, "b.json", &b, err, sizeof err), RB_OK);
    if (!job_doc_settings_diff(&a, &b, what, sizeof what)) fail_msg("case %zu: no difference", i);
    assert_string_equal(what, cases[i].what);
    job_doc_free(&b);
    cJSON_Delete(doc);
  }
  /* a trace says how many and when: rate and invocations do not apply to two traces, the
   * trace's own knobs do */
  {
    struct job_doc ta, tb;
    cJSON *da = mutated("scenario.parameters.arrival", "\"trace\"");
    cJSON *db = mutated("scenario.parameters.arrival", "\"trace\"");
    cJSON *pb = cJSON_GetObjectItem(cJSON_GetObjectItem(db, "scenario"), "parameters");
    cJSON_ReplaceItemInObject(pb, "invocations", cJSON_CreateNumber(500));
    cJSON_ReplaceItemInObject(pb, "rate", cJSON_CreateNumber(20));
    assert_int_equal(job_doc_read(da, "a.json", &ta, err, sizeof err), RB_OK);
    assert_int_equal(job_doc_read(db, "b.json", &tb, err, sizeof err), RB_OK);
    assert_false(job_doc_settings_diff(&ta, &tb, what, sizeof what));
    job_doc_free(&tb);
    cJSON_DeleteItemFromObject(pb, "trace_speedup");
    cJSON_AddNumberToObject(pb, "trace_speedup", 60);
    assert_int_equal(job_doc_read(db, "b.json", &tb, err, sizeof err), RB_OK);
    assert_true(job_doc_settings_diff(&ta, &tb, what, sizeof what));
    assert_non_null(strstr(what, "trace_speedup"));
    job_doc_free(&ta);
    job_doc_free(&tb);
    cJSON_Delete(da);
    cJSON_Delete(db);
  }
  /* not the seed, nor the knobs the mix and distribution do not use */
  static const char *const same[][2] = {{"scenario.parameters.seed", "99"},
                                        {"scenario.parameters.operation", "\"get\""}, /* mix */
                                        {"scenario.parameters.hotspot_keys", "0.5"},
                                        {"scenario.parameters.keys_per_command", "3"},
                                        {"scenario.parameters.script_work", "7"},
                                        {"scenario.parameters.burst_rate", "50"}};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    doc = mutated(same[i][0], same[i][1]);
    assert_int_equal(job_doc_read(doc, "b.json", &b, err, sizeof err), RB_OK);
    if (job_doc_settings_diff(&a, &b, what, sizeof what)) fail_msg("%s: %s", same[i][0], what);
    job_doc_free(&b);
    cJSON_Delete(doc);
  }
  /* without a mix, the operation (the message as before issue 20) */
  cJSON *o1 = mutated("scenario.parameters.mix", "\"\""),
        *o2 = mutated("scenario.parameters.mix", "\"\"");
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(o2, "scenario"), "parameters"),
                            "operation", cJSON_CreateString("get"));
  struct job_doc oa;
  assert_int_equal(job_doc_read(o1, "a.json", &oa, err, sizeof err), RB_OK);
  assert_int_equal(job_doc_read(o2, "b.json", &b, err, sizeof err), RB_OK);
  assert_true(job_doc_settings_diff(&oa, &b, what, sizeof what));
  assert_string_equal(what, "operation: set vs get");
  job_doc_free(&oa);
  job_doc_free(&b);
  cJSON_Delete(o1);
  cJSON_Delete(o2);
  /* ... but those it uses */
  cJSON *m = mutated("scenario.parameters.mix", "\"mget:1,eval:1\"");
  cJSON *m2 = mutated("scenario.parameters.mix", "\"mget:1,eval:1\"");
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(m2, "scenario"), "parameters"),
                            "script_work", cJSON_CreateNumber(5));
  struct job_doc ma;
  assert_int_equal(job_doc_read(m, "a.json", &ma, err, sizeof err), RB_OK);
  assert_int_equal(job_doc_read(m2, "b.json", &b, err, sizeof err), RB_OK);
  assert_true(job_doc_settings_diff(&ma, &b, what, sizeof what));
  assert_string_equal(what, "script_work: 1000 vs 5");
  job_doc_free(&ma);
  job_doc_free(&b);
  cJSON_Delete(m);
  cJSON_Delete(m2);
  /* closed loops: the concurrency defines the load, not the rate */
  job_doc_free(&a);
  cJSON *ca = mutated("mode", "\"closed\""), *cb = mutated("mode", "\"closed\"");
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "scenario"), "parameters"),
                            "rate", cJSON_CreateNumber(99));
  assert_int_equal(job_doc_read(ca, "a.json", &a, err, sizeof err), RB_OK);
  assert_int_equal(job_doc_read(cb, "b.json", &b, err, sizeof err), RB_OK);
  assert_false(job_doc_settings_diff(&a, &b, what, sizeof what));
  job_doc_free(&b);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(cb, "scenario"), "parameters"),
                            "concurrency", cJSON_CreateNumber(32));
  assert_int_equal(job_doc_read(cb, "b.json", &b, err, sizeof err), RB_OK);
  assert_true(job_doc_settings_diff(&a, &b, what, sizeof what));
  assert_string_equal(what, "concurrency: 0 vs 32");
  job_doc_free(&a);
  job_doc_free(&b);
  cJSON_Delete(ca);
  cJSON_Delete(cb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_validation_names_file_and_field),
      cmocka_unit_test(test_schema_version), cmocka_unit_test(test_summary_only_and_old_documents),
      cmocka_unit_test(test_settings_diff),  cmocka_unit_test(test_started_sections),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
