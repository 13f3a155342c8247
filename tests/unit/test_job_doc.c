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
    job_results_add(res, &r);
    job_record_deinit(&r);
  }
  struct job_params p;
  job_params_defaults(&p);
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
      {"scenario.parameters.operation", "\"get\"", "operation: set vs get"},
      {"scenario.parameters.batching", "true", "batching: false vs true"},
      {"scenario.parameters.parallel", "8", "parallel: 5 vs 8"},
      {"scenario.parameters.value_size", "1024", "value_size: 64 vs 1024"},
      {"scenario.parameters.key_space", "1000", "key_space: 0 vs 1000"},
      {"scenario.parameters.rate", "20", "rate: 10 vs 20"},
      {"scenario.parameters.invocations", "500", "invocations: 100 vs 500"},
      {"scenario.parameters.duration", "30", "duration: 0 vs 30"},
      {"mode", "\"closed\"", "mode: open vs closed"},
      {"scenario.target.kind", "\"openwhisk\"", "target: local vs openwhisk"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    doc = mutated(cases[i].path, cases[i].value);
    assert_int_equal(job_doc_read(doc, "b.json", &b, err, sizeof err), RB_OK);
    assert_true(job_doc_settings_diff(&a, &b, what, sizeof what));
    assert_string_equal(what, cases[i].what);
    job_doc_free(&b);
    cJSON_Delete(doc);
  }
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
      cmocka_unit_test(test_settings_diff),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
