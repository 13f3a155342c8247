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
#include "job_hist.h"
#include "job_prepare.h"
#include "job_results.h"
#include "job_reuse.h"
#include "rb_hist.h"

static const char cold_record[] =
    "{\"namespace\":\"guest\",\"name\":\"redis_benchmark\",\"activationId\":\"abc123\","
    "\"start\":1,\"end\":46,\"duration\":45,\"response\":{\"status\":\"success\",\"success\":true,"
    "\"result\":{\"succeeded\":10,\"failed\":0,\"elapsed_us\":2100,\"latency_us\":{\"p50\":200},"
    "\"secret_field\":\"not "
    "kept\"}},\"logs\":[],\"annotations\":[{\"key\":\"path\",\"value\":\"guest/p/a\"},"
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
  assert_string_equal(r.action,
                      "{\"succeeded\":10,\"failed\":0,\"elapsed_us\":2100,"
                      "\"latency_us\":{\"p50\":200}}"); /* only timing fields */
  assert_true(r.action_elapsed_us == 2100);
  job_record_deinit(&r);

  const char app[] =
      "{\"activationId\":\"e1\",\"duration\":3,\"response\":{\"status\":\"application error\","
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
  assert_string_equal(t,
                      "***"
                      "*"
                      "***"
                      "*"
                      "***");
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
  struct job_results *res = NULL;
  assert_int_equal(job_results_create(&res, out, NULL, 4, secrets, err, sizeof err), RB_OK);
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
  struct job_run_info in = {.scenario = "unit",
                            .params = &p,
                            .target = &t,
                            .action = "/guest/p/a",
                            .repetition = 1,
                            .repetitions = 1,
                            .planned = 5,
                            .sent = 4,
                            .unsent = 1,
                            .warmup = 1,
                            .late = 0,
                            .held = 0,
                            .late_threshold_us = 1000,
                            .first_sent_s = 0.0002,
                            .last_sent_s = 0.3002,
                            .complete = false,
                            .interrupted_by = "SIGTERM"};
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
  assert_true(cJSON_GetObjectItem(et, "p50")->valuedouble == 10); /* nearest rank of {10, 30} */
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
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(errs, "http_429"), "count")->valueint,
                   1);
  assert_non_null(cJSON_GetObjectItem(d, "server"));
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "server"), "wait_time_ms"));
  assert_non_null(cJSON_GetObjectItem(d, "schedule_lag_ms"));
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "rbench"), "name")->valuestring,
                      "rbench");
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "rbench"), "git_commit"));
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "host"), "hostname"));
  cJSON *raw = cJSON_GetObjectItem(d, "raw_results");
  assert_int_equal(cJSON_GetArraySize(raw), 4);
  cJSON *r3 = cJSON_GetArrayItem(raw, 3);
  assert_string_equal(cJSON_GetObjectItem(r3, "outcome")->valuestring, "http_429");
  assert_string_equal(cJSON_GetObjectItem(r3, "error")->valuestring,
                      "HTTP 429: Too many requests (***)");
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
  const char doc[] =
      "{\"schema_version\":1,\"complete\":true,\"raw_results\":[{\"index\":0},"
      "{\"index\":1},{\"index\":2},{\"index\":3},{\"index\":4},{\"index\":5}]}";
  char *b = job_k8s_configmap_body("rbench-results", NULL, doc, strlen(doc), 1000, &summarized);
  assert_false(summarized);
  cJSON *cm = cJSON_Parse(b);
  assert_null(cJSON_GetObjectItem(
      cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "metadata"), "labels"), "rbench.io/job"));
  assert_string_equal(cJSON_GetObjectItem(cm, "kind")->valuestring, "ConfigMap");
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "metadata"), "name")->valuestring,
                      "rbench-results");
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "results.json")->valuestring, doc);
  cJSON_Delete(cm);
  free(b);
  b = job_k8s_configmap_body("r", NULL, doc, strlen(doc), 80, &summarized); /* over the limit */
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

static void test_configmap_job_label(void **state) {
  (void)state;
  bool summarized;
  const char doc[] = "{\"schema_version\":1}";
  char *b = job_k8s_configmap_body("rbench-results-x", "rbench-run-7", doc, strlen(doc), 1000,
                                   &summarized);
  cJSON *cm = cJSON_Parse(b);
  cJSON *labels = cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "metadata"), "labels");
  assert_string_equal(cJSON_GetObjectItem(labels, "rbench.io/job")->valuestring, "rbench-run-7");
  assert_string_equal(cJSON_GetObjectItem(labels, "app.kubernetes.io/component")->valuestring,
                      "results");
  cJSON_Delete(cm);
  free(b);
  /* A value the API server would refuse is left out rather than failing the whole object. */
  b = job_k8s_configmap_body("r", "bad value/", doc, strlen(doc), 1000, &summarized);
  cm = cJSON_Parse(b);
  assert_null(cJSON_GetObjectItem(
      cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "metadata"), "labels"), "rbench.io/job"));
  cJSON_Delete(cm);
  free(b);
  assert_true(job_k8s_label_value_ok("a"));
  assert_true(job_k8s_label_value_ok("rbench-run_1.x"));
  assert_false(job_k8s_label_value_ok(""));
  assert_false(job_k8s_label_value_ok("-a"));
  assert_false(job_k8s_label_value_ok("a."));
  assert_false(job_k8s_label_value_ok("a b"));
  char long_v[65];
  memset(long_v, 'a', 64);
  long_v[64] = '\0';
  assert_false(job_k8s_label_value_ok(long_v));
  long_v[63] = '\0';
  assert_true(job_k8s_label_value_ok(long_v));
}

/* Compares two readings of the same record field by field (the action text as JSON). */
static void assert_same_record(const struct job_record *a, const struct job_record *b) {
  assert_int_equal(a->outcome, b->outcome);
  assert_string_equal(a->activation_id, b->activation_id);
  assert_string_equal(a->status, b->status);
  assert_string_equal(a->error, b->error);
  assert_true(a->duration_ms == b->duration_ms);
  assert_true(a->wait_ms == b->wait_ms);
  assert_true(a->init_ms == b->init_ms);
  assert_int_equal(a->cold_start, b->cold_start);
  assert_true(a->action_elapsed_us == b->action_elapsed_us);
  assert_int_equal(a->action == NULL, b->action == NULL);
  if (a->action) {
    cJSON *ja = cJSON_Parse(a->action), *jb = cJSON_Parse(b->action);
    assert_non_null(ja);
    assert_true(cJSON_Compare(ja, jb, true));
    cJSON_Delete(ja);
    cJSON_Delete(jb);
  }
}

/* The in-place reading and the full parse agree: same answer, same fields. */
static void check_both_readings(const char *body, size_t len) {
  struct job_record fast, tree;
  job_record_init(&fast, 1);
  job_record_init(&tree, 1);
  bool f = job_record_from_activation(&fast, body, len);
  bool t = job_record_from_activation_tree(&tree, body, len);
  assert_int_equal(f, t);
  if (f) assert_same_record(&fast, &tree);
  job_record_deinit(&fast);
  job_record_deinit(&tree);
}

static void test_activation_scan_matches_tree(void **state) {
  (void)state;
  static const char *const records[] = {
      cold_record,
      /* whitespace everywhere, numbers in all forms, duplicate keys (the first counts) */
      " { \"activationId\" : \"a1\" , \"activationId\":\"a2\", \"duration\" : 1.5e1 ,\n"
      "\"response\":{\"status\":\"success\",\"result\":{ \"elapsed_us\" : -0.25E+2 ,"
      "\"latency_us\" : { \"p50\" : [ 1 , 2 , {\"x\" : \"a b\"} ] } , \"elapsed_us\":7,"
      "\"cold\" : true , \"warm\":false,\"start_ms\":null}},"
      "\"annotations\":[1,\"s\",[],{\"key\":\"waitTime\",\"value\":\"7\"},"
      "{\"value\":3,\"key\":\"initTime\"},{\"key\":\"waitTime\",\"value\":0}]} \r\n",
      /* escapes: in the id, in a kept string, in the error, in an annotation key */
      "{\"activationId\":\"a\\\"b\",\"response\":{\"status\":\"success\",\"result\":{}}}",
      "{\"activationId\":\"a\",\"response\":{\"status\":\"success\",\"result\":{\"cold\":"
      "\"x\\u0041\\n\"}}}",
      "{\"activationId\":\"a\",\"response\":{\"status\":\"application error\",\"result\":"
      "{\"error\":\"line\\nbreak\"}}}",
      "{\"activationId\":\"a\",\"response\":{\"status\":\"success\",\"result\":{}},"
      "\"annotations\":[{\"key\":\"wait\\u0054ime\",\"value\":4}]}",
      /* error kinds and statuses */
      "{\"activationId\":\"a\",\"response\":{\"status\":\"action developer error\",\"result\":"
      "{\"error\":{\"code\":3,\"why\":[\"x\"]}}}}",
      "{\"activationId\":\"a\",\"response\":{\"status\":\"whisk internal error\",\"result\":[1]}}",
      "{\"activationId\":\"a\",\"response\":{\"status\":\"application "
      "error\",\"result\":\"text\"}}",
      "{\"activationId\":\"a\",\"response\":{\"status\":\"a status longer than thirty-one "
      "bytes\"}}",
      /* not records, or unusual shapes */
      "{\"activationId\":\"a\"}",
      "{\"activationId\":7,\"response\":{\"status\":\"success\"}}",
      "{\"activationId\":\"a\",\"response\":[{\"status\":\"success\"}]}",
      "{\"activationId\":\"a\",\"response\":{\"status\":\"success\"},\"annotations\":"
      "{\"w\":{\"key\":\"waitTime\",\"value\":3}}}",
      "[{\"activationId\":\"a\"}]",
      "{\"activationId\":\"a\",\"response\":{\"status\":\"success\"}} x",
      "{\"activationId\":\"a\",\"response\":{\"status\":\"success\"},}",
      "{\"activationId\":\"a\",\"duration\":01,\"response\":{\"status\":\"success\"}}",
      "{\"activationId\":\"a\",\"duration\":1.,\"response\":{\"status\":\"success\"}}",
      "{\"activationId\":\"a\",\"duration\":tru,\"response\":{\"status\":\"success\"}}",
      "",
      "   ",
  };
  for (size_t i = 0; i < sizeof records / sizeof records[0]; i++) {
    size_t len = strlen(records[i]);
    check_both_readings(records[i], len);
    for (size_t cut = 0; cut < len; cut++) check_both_readings(records[i], cut); /* truncated */
  }
  /* Single-byte changes of a real record. */
  char buf[sizeof cold_record];
  static const char repl[] = "{}[]\":,\\ 0-.eatfnu\n";
  for (size_t at = 0; at + 1 < sizeof cold_record; at++) {
    for (size_t k = 0; k < sizeof repl - 1; k++) {
      memcpy(buf, cold_record, sizeof cold_record);
      buf[at] = repl[k];
      check_both_readings(buf, sizeof cold_record - 1);
    }
  }
  /* Nesting around the depth limit goes to the full parse and gets its answer. */
  char deep[400];
  for (int depth = 50; depth <= 70; depth += 5) {
    int n = snprintf(deep, sizeof deep,
                     "{\"activationId\":\"a\",\"response\":{\"status\":\"success\","
                     "\"result\":{\"latency_us\":");
    for (int d = 0; d < depth; d++) deep[n++] = '[';
    for (int d = 0; d < depth; d++) deep[n++] = ']';
    n += snprintf(deep + n, sizeof deep - (size_t)n, "}}}");
    check_both_readings(deep, (size_t)n);
  }
}

/* The hand-formatted raw_results line is the JSON the record says. */
static void test_record_line(void **state) {
  (void)state;
  struct job_record r;
  job_record_init(&r, 42);
  r.warmup = true;
  r.intended_us = 1500;
  r.sent_us = 1499; /* sends can be (a little) early: negative lag */
  r.end_us = -3;
  r.http_status = 502;
  r.outcome = JOB_ERR_BAD_GATEWAY;
  snprintf(r.status, sizeof r.status, "a\"b");
  snprintf(r.error, sizeof r.error, "tab\there \\ \x01");
  r.wait_ms = 0.0004;
  r.init_ms = 123456.789;
  r.duration_ms = 1e13;
  r.polls = 3;
  r.action = strdup("{\"elapsed_us\":5}");
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  job_record_write(f, &r);
  fclose(f);
  cJSON *j = cJSON_Parse(text);
  assert_non_null(j);
  assert_int_equal(cJSON_GetObjectItem(j, "index")->valueint, 42);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "warmup")));
  assert_non_null(strstr(text,
                         "\"intended_ms\":1.500,\"sent_ms\":1.499,\"end_ms\":-0.003,"
                         "\"execution_time_ms\":-1.503,\"service_time_ms\":-1.502,"));
  assert_non_null(strstr(text, "\"success\":false,\"outcome\":\"http_502\",\"http_status\":502"));
  assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "a\"b");
  assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, "tab\there \\ \x01");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "activation_id")));
  assert_non_null(strstr(text,
                         "\"wait_time_ms\":0.000,\"init_time_ms\":123456.789,"
                         "\"duration_ms\":10000000000000.000,\"polls\":3,"));
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "action"), "elapsed_us")->valueint,
                   5);
  cJSON_Delete(j);
  free(text);
  job_record_deinit(&r);
}

/* ---- issue 20: key reuse, op_stats, the per-invocation parameters ----------------------- */

static void workload(struct rb_workload *w, const char *mix, const char *dist, long long ops,
                     long long key_space) {
  struct job_params p;
  job_params_defaults(&p);
  snprintf(p.mix, sizeof p.mix, "%s", mix);
  snprintf(p.key_distribution, sizeof p.key_distribution, "%s", dist);
  p.ops = ops;
  p.key_space = key_space;
  p.keys_per_command = 2;
  char err[300];
  if (job_params_workload(&p, w, err, sizeof err) != RB_OK) fail_msg("%s", err);
}

static void test_key_reuse(void **state) {
  (void)state;
  struct rb_workload w;
  struct job_key_reuse k;
  /* sequential over 100 keys: key n comes back exactly 100 operations later, so within 128
     and 1024 but never within 16 operations; 1000 operations, the first 100 new */
  workload(&w, "get:1", "sequential", 10, 100);
  assert_int_equal(job_key_reuse_compute(&w, 0, 100, &k), RB_OK);
  assert_true(k.operations == 1000 && k.keys == 1000 && k.invocations == 100 && !k.truncated);
  assert_true(k.repeated[0] == 0);
  assert_true(k.repeated[1] == 0.9 && k.repeated[2] == 0.9);
  /* the namespace is part of the key: get (strings) and incr (counters) on the same numbers
     share nothing; alone each repeats as above */
  workload(&w, "get:1,incr:1", "sequential", 10, 100);
  assert_int_equal(job_key_reuse_compute(&w, 0, 100, &k), RB_OK);
  assert_true(k.repeated[1] < 0.9);
  /* every key of a multi-key command is a reference: mget of 2 keys, sequential (operation n
     reads keys 2n and 2n+1 mod 10): each key comes back 5 operations later; the first 10
     references are new */
  workload(&w, "mget:1", "sequential", 1, 10);
  assert_int_equal(job_key_reuse_compute(&w, 0, 500, &k), RB_OK);
  assert_true(k.operations == 500 && k.keys == 1000);
  assert_true(fabs(k.repeated[0] - 990.0 / 1000) < 1e-12);
  /* the invocations drawn start at first (after the warm-up) */
  struct job_key_reuse k2;
  assert_int_equal(job_key_reuse_compute(&w, 100, 400, &k2), RB_OK);
  assert_true(k2.first_invocation == 100 && k2.operations == 400);
  /* skew repeats keys: zipfian above uniform at every window */
  struct rb_workload u, z;
  struct job_key_reuse ku, kz;
  workload(&u, "get:1", "uniform", 10, 10000);
  workload(&z, "get:1", "zipfian", 10, 10000);
  assert_int_equal(job_key_reuse_compute(&u, 0, 2000, &ku), RB_OK);
  assert_int_equal(job_key_reuse_compute(&z, 0, 2000, &kz), RB_OK);
  for (int i = 0; i < JOB_REUSE_WINDOWS; i++) assert_true(kz.repeated[i] > 3 * ku.repeated[i]);
  assert_true(ku.repeated[0] < 0.01); /* about 16/10000 */
  /* bounded: at most JOB_REUSE_MAX_KEYS references */
  workload(&w, "mget:1", "uniform", 100, 1000);
  w.keys_per_command = 100;
  assert_int_equal(job_key_reuse_compute(&w, 0, 1000, &k), RB_OK);
  assert_true(k.truncated && k.keys <= JOB_REUSE_MAX_KEYS && k.operations == 20000);
}

static const char *op_result(int invocation) {
  static char buf[1200];
  snprintf(buf, sizeof buf,
           "{\"succeeded\":4,\"failed\":1,\"elapsed_us\":900,\"op_stats\":{"
           "\"get\":{\"succeeded\":3,\"failed\":0,\"found\":2,\"latency_us\":{\"count\":3,"
           "\"min\":100,\"max\":5000,\"sum\":5300,\"buckets\":[100,1,100,1,%d,1]}},"
           "\"set\":{\"succeeded\":1,\"failed\":1,\"latency_us\":{\"count\":2,\"min\":50,"
           "\"max\":50,\"sum\":100,\"buckets\":[50,2]}},"
           "\"flushall\":{\"succeeded\":1,\"failed\":0}},"
           "\"invocation\":%d,\"seed\":1,\"draw_digest\":\"00ff\",\"secret\":\"no\"}",
           rb_hist_index(5000) - 200, invocation);
  return buf;
}

/* op_stats in the action's answer become the record's action fields and, over the measured
 * invocations, the "operations" section and the realised mix; an unknown operation is left
 * out, the warm-up is not counted, a record without op_stats adds nothing. */
static void test_operations_section(void **state) {
  (void)state;
  char dir[] = "/tmp/rbench-ops-XXXXXX", out[256], err[300];
  assert_non_null(mkdtemp(dir));
  snprintf(out, sizeof out, "%s/r.json", dir);
  const char *secrets[] = {NULL};
  struct job_results *res = NULL;
  assert_int_equal(job_results_create(&res, out, NULL, 4, secrets, err, sizeof err), RB_OK);
  for (int i = 0; i < 4; i++) {
    struct job_record r;
    job_record_init(&r, (uint64_t)i);
    const char *body = i == 3 ? "{\"succeeded\":1,\"failed\":0}" : op_result(i);
    assert_true(job_record_from_action_result(&r, body, strlen(body)));
    r.warmup = i == 0;
    if (i == 1) {
      assert_non_null(strstr(r.action, "\"invocation\":1,\"seed\":1,\"draw_digest\":\"00ff\""));
      assert_non_null(strstr(r.action, "\"op_stats\":{\"get\":"));
      assert_null(strstr(r.action, "secret"));
    }
    assert_int_equal(job_results_add(res, &r), RB_OK);
    job_record_deinit(&r);
  }
  struct job_params p;
  job_params_defaults(&p);
  snprintf(p.mix, sizeof p.mix, "get:3,set:1");
  struct job_target_conf t;
  job_target_conf_defaults(&t);
  struct job_run_info in = {.scenario = "u",
                            .params = &p,
                            .target = &t,
                            .planned = 4,
                            .sent = 4,
                            .warmup = 1,
                            .complete = true};
  cJSON *ops = job_results_operations_json(res);
  assert_non_null(ops);
  const cJSON *get = cJSON_GetObjectItem(ops, "get"), *set = cJSON_GetObjectItem(ops, "set");
  assert_int_equal(cJSON_GetArraySize(ops), 2); /* flushall left out */
  assert_true(cJSON_GetObjectItem(get, "succeeded")->valuedouble == 6);
  assert_true(cJSON_GetObjectItem(get, "found")->valuedouble == 4);
  assert_null(cJSON_GetObjectItem(set, "found"));
  assert_true(cJSON_GetObjectItem(set, "failed")->valuedouble == 2);
  const cJSON *lat = cJSON_GetObjectItem(get, "latency_ms");
  assert_true(cJSON_GetObjectItem(lat, "count")->valuedouble == 6);
  assert_true(cJSON_GetObjectItem(lat, "p50")->valuedouble == 0.2);
  assert_true(cJSON_GetObjectItem(lat, "max")->valuedouble == 5);
  assert_true(cJSON_GetObjectItem(lat, "min")->valuedouble == 0.1);
  assert_true(fabs(cJSON_GetObjectItem(lat, "mean")->valuedouble - 5300.0 / 3 / 1000) < 1e-9);
  cJSON_Delete(ops);
  cJSON *wl = job_results_workload_json(res, &in);
  assert_non_null(wl);
  const cJSON *real = cJSON_GetObjectItem(wl, "realised_mix");
  assert_true(cJSON_GetObjectItem(real, "get")->valuedouble == 0.6); /* 6 of 10 */
  assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(wl, "mix"), "set")->valuedouble == 0.25);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(wl, "key_reuse"))); /* not given */
  assert_null(cJSON_GetObjectItem(wl, "keys_per_command"));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(wl, "prepare")));
  cJSON_Delete(wl);
  job_results_destroy(res);
  unlink(out);
  rmdir(dir);
}

/* The histogram merged from its encoding equals job_hist_from_json + job_hist_merge; a bad
 * one leaves the target as it was. */
static void test_hist_merge_json(void **state) {
  (void)state;
  struct job_hist *a = job_hist_create(), *b = job_hist_create();
  for (uint64_t v = 1; v < 100000; v = v * 3 + 1) job_hist_record(a, v);
  job_hist_record(b, 7);
  cJSON *enc = job_hist_to_json(a);
  struct job_hist *dec = job_hist_from_json(enc, NULL, 0), *ref = job_hist_create();
  job_hist_record(ref, 7);
  job_hist_merge(ref, dec);
  char err[200];
  assert_true(job_hist_merge_json(b, enc, err, sizeof err));
  assert_true(job_hist_count(b) == job_hist_count(ref) && job_hist_min(b) == job_hist_min(ref) &&
              job_hist_max(b) == job_hist_max(ref) && job_hist_sum(b) == job_hist_sum(ref));
  for (double q = 1; q <= 100; q += 7)
    assert_true(job_hist_percentile(b, q) == job_hist_percentile(ref, q));
  cJSON_ReplaceItemInObject(enc, "count", cJSON_CreateNumber(3));
  uint64_t before = job_hist_count(b);
  assert_false(job_hist_merge_json(b, enc, err, sizeof err));
  assert_non_null(strstr(err, "do not add up"));
  assert_true(job_hist_count(b) == before);
  cJSON_Delete(enc);
  job_hist_destroy(a);
  job_hist_destroy(b);
  job_hist_destroy(dec);
  job_hist_destroy(ref);
}

/* What each /run adds to the run's parameters, and the prepare step's chunks. */
static void test_invocation_tail(void **state) {
  (void)state;
  struct job_inv inv;
  memset(&inv, 0, sizeof inv);
  char tail[JOB_INV_TAIL_MAX];
  inv.rec.index = 123456789012ULL;
  job_inv_params_tail(&inv, tail, sizeof tail);
  assert_string_equal(tail, "\"invocation\":123456789012}");
  inv.prepare = true;
  inv.prepare_first = 200000;
  inv.prepare_count = 50000;
  job_inv_params_tail(&inv, tail, sizeof tail);
  assert_string_equal(tail, "\"prepare\":true,\"prepare_first\":200000,\"prepare_count\":50000}");
  struct rb_workload w;
  workload(&w, "get:1", "uniform", 10, 450000);
  assert_int_equal(job_prepare_keys_per_call(&w), 200000);
  workload(&w, "hget:1", "uniform", 10, 450000); /* 100 fields per hash */
  assert_int_equal(job_prepare_keys_per_call(&w), 2000);
  workload(&w, "set:1", "uniform", 10, 450000);
  assert_int_equal(rb_workload_prepare_needs(&w), 0); /* nothing to prepare: no call */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_activation_record),
      cmocka_unit_test(test_activation_scan_matches_tree),
      cmocka_unit_test(test_record_line),
      cmocka_unit_test(test_action_result),
      cmocka_unit_test(test_redact),
      cmocka_unit_test(test_document_shape),
      cmocka_unit_test(test_configmap_body),
      cmocka_unit_test(test_configmap_job_label),
      cmocka_unit_test(test_key_reuse),
      cmocka_unit_test(test_operations_section),
      cmocka_unit_test(test_hist_merge_json),
      cmocka_unit_test(test_invocation_tail),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
