/* test_job_results.c: activation records into job_record, the raw_results line, the
 * results document's shape and names (the seed's), redaction and atomic writes. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job_config.h"
#include "job_k8s.h"
#include "job_record.h"
#include "job_results.h"

static const char cold_record[] =
    "{\"namespace\":\"guest\",\"name\":\"redis_benchmark\",\"activationId\":\"abc123\","
    "\"start\":1,\"end\":46,\"duration\":45,\"response\":{\"status\":\"success\",\"success\":true,"
    "\"result\":{\"succeeded\":10,\"failed\":0,\"elapsed_us\":2100,\"latency_us\":{\"p50\":200},"
    "\"secret_field\":\"not kept\"}},\"logs\":[],\"annotations\":[{\"key\":\"path\",\"value\":\"guest/p/a\"},"
    "{\"key\":\"waitTime\",\"value\":7},{\"key\":\"kind\",\"value\":\"blackbox\"},"
    "{\"key\":\"initTime\",\"value\":31}]}";

static void test_activation_record(void **state) {
  (void)state;
  struct job_record r;
  job_record_init(&r, 3);
  assert_true(job_record_from_activation(&r, cold_record, strlen(cold_record)));
  assert_int_equal(r.outcome, JOB_OK);
  assert_string_equal(r.activation_id, "abc123");
  assert_string_equal(r.status, "success");
  assert_true(r.duration_ms == 45 && r.wait_ms == 7 && r.init_ms == 31);
  assert_true(r.cold_start);
  assert_non_null(cJSON_GetObjectItem(r.action, "elapsed_us"));
  assert_null(cJSON_GetObjectItem(r.action, "secret_field")); /* only timing fields are kept */
  job_record_deinit(&r);

  const char app[] = "{\"activationId\":\"e1\",\"duration\":3,\"response\":{\"status\":\"application error\","
                     "\"result\":{\"error\":\"boom\"}},\"annotations\":[{\"key\":\"waitTime\",\"value\":2}]}";
  job_record_init(&r, 4);
  assert_true(job_record_from_activation(&r, app, strlen(app)));
  assert_int_equal(r.outcome, JOB_ERR_APPLICATION);
  assert_string_equal(r.error, "boom");
  assert_false(r.cold_start);
  assert_true(r.init_ms < 0);
  job_record_deinit(&r);

  job_record_init(&r, 5);
  assert_false(job_record_from_activation(&r, "<html>502</html>", 16));
  assert_false(job_record_from_activation(&r, "{\"activationId\":\"x\"}", 20));
  job_record_deinit(&r);
}

static void test_action_result(void **state) {
  (void)state;
  struct job_record r;
  job_record_init(&r, 0);
  const char ok[] = "{\"succeeded\":5,\"failed\":0,\"elapsed_us\":900,\"activation_id\":\"id1\"}";
  assert_true(job_record_from_action_result(&r, ok, strlen(ok)));
  assert_int_equal(r.outcome, JOB_OK);
  assert_string_equal(r.activation_id, "id1");
  job_record_deinit(&r);
  const char bad[] = "{\"succeeded\":1,\"failed\":4,\"error\":\"4 of 5 operations failed\"}";
  job_record_init(&r, 0);
  assert_true(job_record_from_action_result(&r, bad, strlen(bad)));
  assert_int_equal(r.outcome, JOB_ERR_APPLICATION);
  assert_string_equal(r.status, "application error");
  assert_string_equal(r.error, "4 of 5 operations failed");
  job_record_deinit(&r);
  job_record_init(&r, 0);
  assert_false(job_record_from_action_result(&r, "[1,2]", 5));
  assert_int_equal(r.outcome, JOB_ERR_DEVELOPER);
  job_record_deinit(&r);
}

static void test_redact(void **state) {
  (void)state;
  char s[64] = "AUTH hunter2 failed for hunter2@x";
  const char *secrets[] = {"hunter2", "", NULL};
  job_redact(s, sizeof s, secrets);
  assert_string_equal(s, "AUTH *** failed for ***@x");
  char t[16] = "ab*ab*ab";
  const char *short_secret[] = {"ab", NULL};
  job_redact(t, sizeof t, short_secret); /* the mask is longer than the secret */
  assert_string_equal(t, "***" "*" "***" "*" "***");
}

static char *slurp(const char *path) {
  size_t n;
  return job_read_file(path, &n);
}

static void test_document_shape(void **state) {
  (void)state;
  char dir[] = "/tmp/rbench-test-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char out[256];
  snprintf(out, sizeof out, "%s/results.json", dir);
  const char *secrets[] = {"pa55word", NULL};
  char err[300];
  struct job_results *res = job_results_create(out, 4, secrets, err, sizeof err);
  assert_non_null(res);
  /* Four invocations: warm-up, two successes (exec 10 and 30 ms), one 429. */
  for (int i = 0; i < 4; i++) {
    struct job_record r;
    job_record_init(&r, (uint64_t)i);
    r.warmup = i == 0;
    r.intended_us = i * 100000;
    r.sent_us = r.intended_us + 200;
    r.end_us = r.intended_us + (i == 2 ? 30000 : 10000);
    r.http_status = 200;
    r.duration_ms = 5;
    r.wait_ms = 1;
    snprintf(r.activation_id, sizeof r.activation_id, "id%d", i);
    if (i == 3) {
      r.http_status = 429;
      job_record_set_error(&r, JOB_ERR_THROTTLED, "HTTP 429: Too many requests (pa55word)");
    }
    assert_int_equal(job_results_add(res, &r), RB_OK);
    job_record_deinit(&r);
  }
  struct job_params p;
  job_params_defaults(&p);
  struct job_target_conf t;
  job_target_conf_defaults(&t);
  struct job_run_info in = {.scenario = "unit", .params = &p, .target = &t, .action = "/guest/p/a",
                            .repetition = 1, .repetitions = 1, .planned = 5, .sent = 4,
                            .unsent = 1, .warmup = 1, .late = 0, .held = 0,
                            .late_threshold_us = 1000, .first_sent_s = 0.0002,
                            .last_sent_s = 0.3002, .complete = false, .interrupted_by = "SIGTERM"};
  assert_int_equal(job_results_write(res, &in, err, sizeof err), RB_OK);
  job_results_destroy(res);
  char *text = slurp(out);
  assert_non_null(text);
  assert_null(strstr(text, "pa55word"));
  cJSON *d = cJSON_Parse(text);
  assert_non_null(d);
  assert_int_equal(cJSON_GetObjectItem(d, "schema_version")->valueint, 1);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "complete")));
  assert_string_equal(cJSON_GetObjectItem(d, "interrupted_by")->valuestring, "SIGTERM");
  cJSON *et = cJSON_GetObjectItem(d, "execution_time_ms");
  const char *names[] = {"p50", "p90", "p99", "min", "max", "mean"};
  for (int i = 0; i < 6; i++) assert_non_null(cJSON_GetObjectItem(et, names[i]));
  assert_true(cJSON_GetObjectItem(et, "p50")->valuedouble == 10);  /* nearest rank of {10, 30} */
  assert_true(cJSON_GetObjectItem(et, "max")->valuedouble == 30);
  assert_true(cJSON_GetObjectItem(et, "mean")->valuedouble == 20);
  /* Three measured (warm-up excluded): two succeeded, one failed. */
  assert_true(fabs(cJSON_GetObjectItem(d, "success_rate")->valuedouble - 2.0 / 3.0) < 1e-12);
  assert_true(fabs(cJSON_GetObjectItem(d, "error_rate")->valuedouble - 1.0 / 3.0) < 1e-12);
  assert_true(cJSON_GetObjectItem(d, "requested_rate")->valuedouble == 10);
  assert_true(fabs(cJSON_GetObjectItem(d, "achieved_rate")->valuedouble - 10.0) < 1e-9);
  cJSON *inv = cJSON_GetObjectItem(d, "invocations");
  assert_int_equal(cJSON_GetObjectItem(inv, "unsent")->valueint, 1);
  assert_int_equal(cJSON_GetObjectItem(inv, "warmup")->valueint, 1);
  cJSON *errs = cJSON_GetObjectItem(d, "errors_by_kind");
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(errs, "http_429"), "count")->valueint, 1);
  assert_non_null(cJSON_GetObjectItem(d, "server"));
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "server"), "wait_time_ms"));
  assert_non_null(cJSON_GetObjectItem(d, "schedule_lag_ms"));
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "rbench"), "name")->valuestring, "rbench");
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "rbench"), "git_commit"));
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "host"), "hostname"));
  cJSON *raw = cJSON_GetObjectItem(d, "raw_results");
  assert_int_equal(cJSON_GetArraySize(raw), 4);
  cJSON *r3 = cJSON_GetArrayItem(raw, 3);
  assert_string_equal(cJSON_GetObjectItem(r3, "outcome")->valuestring, "http_429");
  assert_string_equal(cJSON_GetObjectItem(r3, "error")->valuestring, "HTTP 429: Too many requests (***)");
  assert_true(cJSON_GetObjectItem(r3, "intended_ms")->valuedouble == 300);
  assert_true(cJSON_GetObjectItem(r3, "sent_ms")->valuedouble == 300.2);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(r3, "init_time_ms")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(raw, 0), "warmup")));
  cJSON_Delete(d);
  free(text);
  /* Nothing but the results file is left (spool and temporary file removed). */
  DIR *dd = opendir(dir);
  struct dirent *e;
  int files = 0;
  while ((e = readdir(dd)) != NULL)
    if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))) files++;
  closedir(dd);
  assert_int_equal(files, 1);
  unlink(out);
  rmdir(dir);
}

static void test_configmap_body(void **state) {
  (void)state;
  bool summarized;
  const char doc[] = "{\"schema_version\":1,\"complete\":true,\"raw_results\":[{\"index\":0},"
                     "{\"index\":1},{\"index\":2},{\"index\":3},{\"index\":4},{\"index\":5}]}";
  char *b = job_k8s_configmap_body("rbench-results", doc, strlen(doc), 1000, &summarized);
  assert_false(summarized);
  cJSON *cm = cJSON_Parse(b);
  assert_string_equal(cJSON_GetObjectItem(cm, "kind")->valuestring, "ConfigMap");
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "metadata"), "name")->valuestring, "rbench-results");
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "results.json")->valuestring, doc);
  cJSON_Delete(cm);
  free(b);
  b = job_k8s_configmap_body("r", doc, strlen(doc), 80, &summarized); /* over the limit */
  assert_non_null(b);
  assert_true(summarized);
  cm = cJSON_Parse(b);
  cJSON *data = cJSON_GetObjectItem(cm, "data");
  assert_non_null(strstr(cJSON_GetObjectItem(data, "note")->valuestring, "summary only"));
  cJSON *inner = cJSON_Parse(cJSON_GetObjectItem(data, "results.json")->valuestring);
  assert_null(cJSON_GetObjectItem(inner, "raw_results"));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(inner, "raw_results_omitted")));
  cJSON_Delete(inner);
  cJSON_Delete(cm);
  free(b);
  char name[] = "Rbench_Results-Direct r1";
  job_k8s_sanitize_name(name);
  assert_string_equal(name, "rbench-results-direct-r1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_activation_record),
      cmocka_unit_test(test_action_result),
      cmocka_unit_test(test_redact),
      cmocka_unit_test(test_document_shape),
      cmocka_unit_test(test_configmap_body),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
