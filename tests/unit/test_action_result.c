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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_success_fields),
      cmocka_unit_test(test_failures_give_error_summary),
      cmocka_unit_test(test_connect_failure_names_address_parameters),
      cmocka_unit_test(test_error_table_overflow),
      cmocka_unit_test(test_fill_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
