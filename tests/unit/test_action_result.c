/* test_action_result.c: the JSON form of an activation's result and the error table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action_exec.h"
#include "action_result.h"
#include "job_hist.h"
#include "rb_hist.h"
#include "rb_json.h"

static struct action_params params(void) {
  struct action_params p;
  char err[128];
  cJSON *v = cJSON_Parse(
      "{\"num_ops\":4,\"operation_type\":\"get\",\"parallel_calls\":2,"
      "\"redis_password\":\"hunter2\",\"agent_password\":\"agentpw\"}");
  assert_int_equal(action_params_parse(v, NULL, &p, err, sizeof err), RB_OK);
  cJSON_Delete(v);
  return p;
}

static double num(const cJSON *o, const char *name) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsNumber(x)) fail_msg("%s is not a number", name);
  return x->valuedouble;
}

static void test_success_fields(void **state) {
  (void)state;
  struct action_params p = params();
  struct action_result r;
  memset(&r, 0, sizeof r);
  r.succeeded = 4;
  r.found = 3;
  r.conns_reused = 2;
  r.connect_us = 12;
  r.elapsed_us = 2000;
  uint64_t lat[4] = {4000, 1000, 3000, 2000};
  rb_summary_compute(lat, 4, &r.latency_ns);
  r.start_ms = 1700000000000;
  r.end_ms = 1700000000003;
  snprintf(r.target_address, sizeof r.target_address, "127.0.0.1:6379");
  cJSON *o = action_result_to_json(&p, &r);
  assert_non_null(o);
  assert_null(cJSON_GetObjectItem(o, "error"));
  assert_string_equal(cJSON_GetObjectItem(o, "operation")->valuestring, "get");
  assert_int_equal(num(o, "num_ops"), 4);
  assert_int_equal(num(o, "parallel_calls"), 2);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "use_batching")));
  assert_string_equal(cJSON_GetObjectItem(o, "target")->valuestring, "redis");
  assert_string_equal(cJSON_GetObjectItem(o, "target_address")->valuestring, "127.0.0.1:6379");
  assert_int_equal(num(o, "succeeded"), 4);
  assert_int_equal(num(o, "failed"), 0);
  assert_int_equal(num(o, "found"), 3);
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "errors")));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "errors")), 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "warm")));
  assert_int_equal(num(o, "connect_us"), 12);
  assert_int_equal(num(o, "elapsed_us"), 2000);
  const cJSON *l = cJSON_GetObjectItem(o, "latency_us");
  assert_true(num(l, "p50") == 2.0);
  assert_true(num(l, "p90") == 4.0);
  assert_true(num(l, "p99") == 4.0);
  assert_true(num(l, "max") == 4.0);
  assert_true(num(l, "min") == 1.0);
  assert_true(num(l, "mean") == 2.5);
  assert_true(num(o, "ops_per_sec") == 2000.0); /* 4 ops in 2 ms */
  assert_true(num(o, "start_ms") == 1700000000000.0);
  assert_true(num(o, "end_ms") == 1700000000003.0);
  char *text = rb_json_print(o);
  assert_null(strstr(text, "hunter2"));
  assert_null(strstr(text, "agentpw"));
  free(text);
  cJSON_Delete(o);
}

static void test_failures_give_error_summary(void **state) {
  (void)state;
  struct action_params p = params();
  p.use_batching = true;
  struct action_result r;
  memset(&r, 0, sizeof r);
  snprintf(r.target_address, sizeof r.target_address, "10.0.0.1:6380");
  r.succeeded = 1;
  action_result_add_error(&r, "connection closed by server", 2);
  action_result_add_error(&r, "timed out after 5 ms waiting for the reply", 1);
  action_result_add_error(&r, "connection closed by server", 1);
  assert_int_equal(r.failed, 4);
  assert_int_equal(r.error_kinds, 2);
  cJSON *o = action_result_to_json(&p, &r);
  assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring,
                      "4 of 5 operations failed (10.0.0.1:6380): connection closed by server");
  assert_string_equal(cJSON_GetObjectItem(o, "target")->valuestring, "agent");
  const cJSON *e = cJSON_GetObjectItem(o, "errors");
  assert_int_equal(num(e, "connection closed by server"), 3);
  assert_int_equal(num(e, "timed out after 5 ms waiting for the reply"), 1);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(o, "warm")));
  cJSON_Delete(o);
}

/* A refused connection names the parameters that set the address it tried. */
static void test_connect_failure_names_address_parameters(void **state) {
  (void)state;
  struct action_params p = params();
  struct action_result r;
  for (int batching = 0; batching < 2; batching++) {
    p.use_batching = batching;
    memset(&r, 0, sizeof r);
    snprintf(r.target_address, sizeof r.target_address,
             batching ? "127.0.0.1:6380" : "127.0.0.1:6379");
    action_result_add_error(&r, "connect to 127.0.0.1:6380 failed: Connection refused", 10);
    cJSON *o = action_result_to_json(&p, &r);
    const char *e = cJSON_GetObjectItem(o, "error")->valuestring;
    assert_non_null(strstr(e, "10 of 10 operations failed (127.0.0.1:63"));
    assert_non_null(
        strstr(e, batching ? "agent_host and agent_port" : "redis_host and redis_port"));
    assert_non_null(strstr(e, batching ? "BATCHING_AGENT_HOST" : "REDIS_HOST"));
    cJSON_Delete(o);
  }
}

static void test_error_table_overflow(void **state) {
  (void)state;
  struct action_result r;
  memset(&r, 0, sizeof r);
  char msg[32];
  for (int i = 0; i < ACTION_ERROR_KINDS + 3; i++) {
    snprintf(msg, sizeof msg, "error %d", i);
    action_result_add_error(&r, msg, 1);
  }
  assert_int_equal(r.error_kinds, ACTION_ERROR_KINDS);
  assert_int_equal(r.other_errors, 3);
  assert_int_equal(r.failed, ACTION_ERROR_KINDS + 3);
  action_result_add_error(&r, "error 0", 0); /* zero adds nothing */
  assert_int_equal(r.failed, ACTION_ERROR_KINDS + 3);
}

static void test_fill_value(void **state) {
  (void)state;
  char buf[30];
  action_exec_fill_value(buf, 28, 0);
  assert_memory_equal(buf, "abcdefghijklmnopqrstuvwxyzab", 28);
  action_exec_fill_value(buf, 3, 27);
  assert_memory_equal(buf, "bcd", 3);
}

/* rb_hist: the bucket arithmetic the runner's job_hist uses, and the sparse encoding. */
static void test_hist_index_and_encoding(void **state) {
  (void)state;
  uint64_t lo, hi;
  assert_int_equal(rb_hist_index(2047), 2047);
  assert_int_equal(rb_hist_index(2048), 2048);
  assert_int_equal(rb_hist_index(2049), 2048); /* width 2 from 2048 */
  assert_int_equal(rb_hist_index(3000), 2524);
  assert_int_equal(rb_hist_index(UINT64_MAX), RB_HIST_BUCKETS - 1);
  rb_hist_bucket_range(2524, &lo, &hi);
  assert_true(lo == 3000 && hi == 3001);
  for (uint64_t v = 1; v < (1ull << 53); v = v * 3 + 1) {
    assert_int_equal(rb_hist_index(v), job_hist_index(v));
    rb_hist_bucket_range(rb_hist_index(v), &lo, &hi);
    assert_true(lo <= v && v <= hi);
  }
  const uint64_t v[] = {1, 1, 5, 3000, 3001};
  cJSON *o = rb_hist_encode_sorted(v, 5);
  char *text = rb_json_print(o);
  assert_string_equal(
      text, "{\"count\":5,\"min\":1,\"max\":3001,\"sum\":6008,\"buckets\":[1,2,4,1,2519,2]}");
  free(text);
  cJSON_Delete(o);
  o = rb_hist_encode_sorted(NULL, 0);
  text = rb_json_print(o);
  assert_string_equal(text, "{\"count\":0,\"min\":0,\"max\":0,\"sum\":0,\"buckets\":[]}");
  free(text);
  cJSON_Delete(o);
}

/* The action's per-type histograms decode with the runner's decoder and give the percentiles
 * the runner would have recorded itself. */
static void test_hist_encoding_matches_runner(void **state) {
  (void)state;
  enum { N = 5000 };
  static uint64_t v[N];
  uint64_t x = 12345;
  struct job_hist *h = job_hist_create();
  for (int i = 0; i < N; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = (x >> 33) % 200000; /* 0 .. 0.2 s in µs */
    job_hist_record(h, v[i]);
  }
  for (int i = 1; i < N; i++) /* insertion sort: small and obviously right */
    for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
      uint64_t t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  cJSON *mine = rb_hist_encode_sorted(v, N);
  cJSON *theirs = job_hist_to_json(h);
  assert_true(cJSON_Compare(mine, theirs, true));
  char err[128];
  struct job_hist *back = job_hist_from_json(mine, err, sizeof err);
  if (!back) fail_msg("%s", err);
  assert_int_equal(job_hist_percentile(back, 99), job_hist_percentile(h, 99));
  assert_int_equal(job_hist_count(back), N);
  job_hist_destroy(back);
  job_hist_destroy(h);
  cJSON_Delete(mine);
  cJSON_Delete(theirs);
}

static struct action_params mix_params(const char *json) {
  struct action_params p;
  char err[512];
  cJSON *v = cJSON_Parse(json);
  if (action_params_parse(v, NULL, &p, err, sizeof err) != RB_OK) fail_msg("%s", err);
  cJSON_Delete(v);
  return p;
}

static void test_workload_and_op_stats_fields(void **state) {
  (void)state;
  struct action_params p = mix_params(
      "{\"num_ops\":6,\"mix\":\"get:3,zadd:1\",\"key_distribution\":\"zipfian\","
      "\"zipf_exponent\":1.1,\"key_space\":50,\"value_size_list\":\"8:1,64:3\",\"seed\":42,"
      "\"invocation\":7,\"script_work\":5}");
  struct action_result r;
  memset(&r, 0, sizeof r);
  r.succeeded = 5;
  r.found = 2;
  r.ops[RB_OP_GET] = (struct action_op_stats){.succeeded = 3, .found = 2};
  r.ops[RB_OP_ZADD] = (struct action_op_stats){.succeeded = 2};
  action_result_add_op_error(&r, RB_OP_ZADD, "WRONGTYPE Operation against a key", 1);
  assert_int_equal(r.failed, 1);
  assert_int_equal(r.ops[RB_OP_ZADD].failed, 1);
  r.op_lat_us = malloc(5 * sizeof *r.op_lat_us);
  const uint64_t lat[5] = {10, 20, 30, 7, 4000};
  memcpy(r.op_lat_us, lat, sizeof lat);
  for (int t = 0; t <= RB_OP_COUNT; t++)
    r.op_lat_off[t] = t <= RB_OP_GET ? 0 : t <= RB_OP_ZADD ? 3 : 5;
  r.draw_digest = 0x00ab00cd00ef0012ULL;
  r.has_draw_digest = true;
  cJSON *o = action_result_to_json(&p, &r);
  assert_string_equal(cJSON_GetObjectItem(o, "operation")->valuestring, "mix");
  assert_int_equal(num(o, "seed"), 42);
  assert_int_equal(num(o, "invocation"), 7);
  assert_string_equal(cJSON_GetObjectItem(o, "draw_digest")->valuestring, "00ab00cd00ef0012");
  const cJSON *w = cJSON_GetObjectItem(o, "workload");
  assert_string_equal(cJSON_GetObjectItem(w, "mix")->valuestring, "get:3,zadd:1");
  assert_string_equal(cJSON_GetObjectItem(w, "key_distribution")->valuestring, "zipfian");
  assert_true(num(w, "zipf_exponent") == 1.1);
  assert_null(cJSON_GetObjectItem(w, "hotspot_keys")); /* another distribution's parameter */
  assert_int_equal(num(w, "key_space"), 50);
  assert_string_equal(cJSON_GetObjectItem(w, "value_sizes")->valuestring, "8:1,64:3");
  assert_int_equal(num(w, "keys_per_command"), 10);
  assert_int_equal(num(w, "structure_size"), 100);
  assert_int_equal(num(w, "range_span"), 10);
  assert_int_equal(num(w, "script_work"), 5);
  const cJSON *s = cJSON_GetObjectItem(o, "op_stats");
  assert_int_equal(cJSON_GetArraySize(s), 2); /* only the types that ran */
  const cJSON *g = cJSON_GetObjectItem(s, "get");
  assert_int_equal(num(g, "succeeded"), 3);
  assert_int_equal(num(g, "failed"), 0);
  assert_int_equal(num(g, "found"), 2);
  char *text = rb_json_print(cJSON_GetObjectItem(g, "latency_us"));
  assert_string_equal(
      text, "{\"count\":3,\"min\":10,\"max\":30,\"sum\":60,\"buckets\":[10,1,10,1,10,1]}");
  free(text);
  const cJSON *z = cJSON_GetObjectItem(s, "zadd");
  assert_int_equal(num(z, "succeeded"), 2);
  assert_int_equal(num(z, "failed"), 1);
  assert_int_equal(num(cJSON_GetObjectItem(z, "latency_us"), "count"), 2);
  assert_int_equal(num(cJSON_GetObjectItem(z, "latency_us"), "max"), 4000);
  assert_null(cJSON_GetObjectItem(o, "prepared"));
  cJSON_Delete(o);
  r.has_draw_digest = false; /* not computed: null, never a made-up value */
  o = action_result_to_json(&p, &r);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "draw_digest")));
  cJSON_Delete(o);
  action_result_free(&r);
  assert_null(r.op_lat_us);
  action_result_free(&r); /* twice is harmless */
}

static void test_prepare_fields(void **state) {
  (void)state;
  struct action_params p = mix_params(
      "{\"prepare\":true,\"mix\":\"get:1,hgetall:1\",\"key_space\":20,"
      "\"prepare_first\":5,\"structure_size\":3}");
  struct action_result r;
  memset(&r, 0, sizeof r);
  snprintf(r.target_address, sizeof r.target_address, "127.0.0.1:6379");
  r.prepared_keys = 30;
  r.prepared_elements = 60;
  r.prepared_ns = 1u << RB_NS_STRING | 1u << RB_NS_HASH;
  cJSON *o = action_result_to_json(&p, &r);
  assert_null(cJSON_GetObjectItem(o, "error"));
  assert_null(cJSON_GetObjectItem(o, "op_stats"));
  assert_null(cJSON_GetObjectItem(o, "succeeded"));
  const cJSON *pr = cJSON_GetObjectItem(o, "prepared");
  assert_int_equal(num(pr, "keys"), 30);
  assert_int_equal(num(pr, "elements"), 60);
  char *text = rb_json_print(cJSON_GetObjectItem(pr, "namespaces"));
  assert_string_equal(text, "[\"string\",\"hash\"]");
  free(text);
  assert_int_equal(num(o, "prepare_first"), 5);
  assert_int_equal(num(o, "prepare_count"), 15);
  cJSON_Delete(o);
  action_result_add_error(&r, "preparing benchmark:h:3: OOM command not allowed", 1);
  o = action_result_to_json(&p, &r);
  assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring,
                      "prepare failed (127.0.0.1:6379): preparing benchmark:h:3: OOM command not "
                      "allowed");
  cJSON_Delete(o);
}

/* The action's cheap type-only draw is rb_workload_draw's op; the digest covers the draws. */
static void test_op_type_and_digest(void **state) {
  (void)state;
  struct action_params p = mix_params(
      "{\"num_ops\":5000,\"mix\":\"get:5,set:3,zadd:1,eval:1,mget:2\",\"key_space\":500,"
      "\"key_distribution\":\"zipfian\",\"seed\":11,\"invocation\":2}");
  unsigned seen = 0;
  for (uint64_t j = 0; j < 20000; j++) {
    struct rb_op_draw d;
    rb_workload_draw(&p.w, 2, j, &d);
    assert_int_equal(action_exec_op_type(&p.w, 2, j), d.op);
    seen |= 1u << d.op;
  }
  assert_int_equal(seen, 1u << RB_OP_GET | 1u << RB_OP_SET | 1u << RB_OP_ZADD | 1u << RB_OP_EVAL |
                             1u << RB_OP_MGET);
  uint64_t a = 0, b = 0;
  assert_true(action_exec_draw_digest(&p, 0, &a));
  assert_true(action_exec_draw_digest(&p, 0, &b));
  assert_true(a == b);
  struct action_params q = p;
  q.invocation = 3;
  assert_true(action_exec_draw_digest(&q, 0, &b));
  assert_true(a != b);
  q = p;
  q.w.keydist = RB_KEYS_UNIFORM; /* other keys */
  assert_true(action_exec_draw_digest(&q, 0, &b));
  assert_true(a != b);
  q = p;
  q.num_ops = 4999; /* one draw fewer */
  assert_true(action_exec_draw_digest(&q, 0, &b));
  assert_true(a != b);
  /* a deadline already past: no digest */
  assert_false(action_exec_draw_digest(&p, 1, &b));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_success_fields),
      cmocka_unit_test(test_failures_give_error_summary),
      cmocka_unit_test(test_connect_failure_names_address_parameters),
      cmocka_unit_test(test_error_table_overflow),
      cmocka_unit_test(test_fill_value),
      cmocka_unit_test(test_hist_index_and_encoding),
      cmocka_unit_test(test_hist_encoding_matches_runner),
      cmocka_unit_test(test_workload_and_op_stats_fields),
      cmocka_unit_test(test_prepare_fields),
      cmocka_unit_test(test_op_type_and_digest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
