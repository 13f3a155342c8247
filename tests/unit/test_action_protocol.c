/* test_action_protocol.c: /init and /run body handling with a fake executor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action_protocol.h"
#include "rb_env.h"
#include "rb_json.h"

struct fake_exec {
  int calls;
  struct action_params last;
  int64_t last_deadline;
  int fail; /* report this many failures */
};

static void fake_run(void *ctx, const struct action_params *p, int64_t deadline_ms,
                     struct action_result *r) {
  struct fake_exec *f = ctx;
  f->calls++;
  f->last = *p;
  f->last_deadline = deadline_ms;
  snprintf(r->target_address, sizeof r->target_address, "%s:%d", p->redis_host, p->redis_port);
  r->succeeded = (uint64_t)p->num_ops - (uint64_t)f->fail;
  if (f->fail) action_result_add_error(r, "connection closed by server", (uint64_t)f->fail);
}

static cJSON *body_json(const struct action_response *r) {
  cJSON *j = NULL;
  assert_int_equal(rb_json_parse(r->body, r->len, &j, NULL, 0), RB_OK);
  assert_int_equal(strlen(r->body), r->len);
  return j;
}

static void init_call(struct action_ctx *ctx, const char *body, int status, const char *expect) {
  struct action_response r = {0};
  action_handle_init(ctx, body, strlen(body), &r);
  assert_int_equal(r.status, status);
  if (expect) assert_string_equal(r.body, expect);
  action_response_free(&r);
}

static void test_init_once(void **state) {
  (void)state;
  struct fake_exec f = {0};
  struct action_ctx ctx;
  action_ctx_init(&ctx, fake_run, &f);
  /* An image-only docker action sends no code. */
  init_call(&ctx,
            "{\"value\":{\"name\":\"redis_benchmark\",\"main\":\"main\",\"binary\":false,"
            "\"env\":{\"REDIS_HOST\":\"10.9.8.7\",\"NUM\":5,\"__OW_NAMESPACE\":\"guest\"}}}",
            200, "{\"ok\":true}");
  char v[64];
  assert_true(rb_env_get("REDIS_HOST", v, sizeof v));
  assert_string_equal(v, "10.9.8.7");
  assert_true(rb_env_get("NUM", v, sizeof v));
  assert_string_equal(v, "5");
  assert_true(rb_env_get("__OW_NAMESPACE", v, sizeof v));
  assert_string_equal(v, "guest");
  init_call(&ctx, "{\"value\":{\"code\":\"ignored\",\"env\":{\"REDIS_HOST\":\"other\"}}}", 403,
            "{\"error\":\"Cannot initialize the action more than once.\"}");
  assert_true(rb_env_get("REDIS_HOST", v, sizeof v));
  assert_string_equal(v, "10.9.8.7"); /* the refused /init changed nothing */
  action_ctx_deinit(&ctx);
}

static void test_init_bad_bodies(void **state) {
  (void)state;
  struct fake_exec f = {0};
  struct action_ctx ctx;
  action_ctx_init(&ctx, fake_run, &f);
  init_call(&ctx, "{not json", 400, NULL);
  init_call(&ctx, "[1,2]", 400, NULL);
  init_call(&ctx, "{\"value\":{\"env\":[1]}}", 400, NULL);
  assert_false(ctx.initialized); /* failures do not count as the one /init */
  init_call(&ctx, "{\"value\":{}}", 200, "{\"ok\":true}");
  init_call(&ctx, "{}", 403, NULL);
  action_ctx_deinit(&ctx);
}

static cJSON *run_call(struct action_ctx *ctx, const char *body, int status) {
  struct action_response r = {0};
  action_handle_run(ctx, body, strlen(body), &r);
  assert_int_equal(r.status, status);
  cJSON *j = body_json(&r);
  action_response_free(&r);
  return j;
}

static void test_run_context_and_params(void **state) {
  (void)state;
  struct fake_exec f = {0};
  struct action_ctx ctx;
  action_ctx_init(&ctx, fake_run, &f);
  cJSON *j = run_call(
      &ctx,
      "{\"value\":{\"num_ops\":\"3\",\"operation_type\":\"get\",\"redis_port\":7001},"
      "\"namespace\":\"guest\",\"action_name\":\"/guest/pkg/act\",\"action_version\":\"0.0.1\","
      "\"activation_id\":\"0123456789abcdef0123456789abcdef\",\"transaction_id\":\"tx\","
      "\"deadline\":\"1700000060000\"}",
      200);
  assert_int_equal(f.calls, 1);
  assert_int_equal(f.last.num_ops, 3);
  assert_int_equal(f.last.op, RB_OP_GET);
  assert_int_equal(f.last.redis_port, 7001);
  assert_int_equal(f.last_deadline, 1700000060000LL);
  char v[64];
  assert_true(rb_env_get("__OW_ACTION_NAME", v, sizeof v));
  assert_string_equal(v, "/guest/pkg/act");
  assert_true(rb_env_get("__OW_ACTIVATION_ID", v, sizeof v));
  assert_string_equal(v, "0123456789abcdef0123456789abcdef");
  assert_true(rb_env_get("__OW_DEADLINE", v, sizeof v));
  assert_string_equal(v, "1700000060000");
  assert_true(rb_env_get("__OW_TRANSACTION_ID", v, sizeof v));
  assert_string_equal(v, "tx");
  assert_string_equal(cJSON_GetObjectItem(j, "activation_id")->valuestring,
                      "0123456789abcdef0123456789abcdef");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "cold")));
  assert_null(cJSON_GetObjectItem(j, "error"));
  assert_int_equal(cJSON_GetObjectItem(j, "succeeded")->valueint, 3);
  cJSON_Delete(j);
  /* Second activation: not cold; numeric deadline accepted too. */
  j = run_call(&ctx, "{\"value\":{},\"deadline\":1700000070000}", 200);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "cold")));
  assert_int_equal(f.last_deadline, 1700000070000LL);
  cJSON_Delete(j);
  action_ctx_deinit(&ctx);
}

static void test_run_errors(void **state) {
  (void)state;
  struct fake_exec f = {0};
  struct action_ctx ctx;
  action_ctx_init(&ctx, fake_run, &f);
  /* Bad parameters: 200 with an error (an application error in OpenWhisk), no Redis work. */
  cJSON *j = run_call(&ctx, "{\"value\":{\"operation_type\":\"incr2\"}}", 200);
  assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring,
                      "operation_type must be one of set, get, del, exists, incr, mget, mset, "
                      "hset, hget, hgetall, lpush, lrange, sadd, smembers, zadd, zrangebyscore, "
                      "eval; got \"incr2\"");
  cJSON_Delete(j);
  j = run_call(&ctx, "{\"value\":[1,2]}", 200);
  assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring,
                      "parameters must be a JSON object, got an array");
  cJSON_Delete(j);
  assert_int_equal(f.calls, 0);
  /* Not JSON at all: 400 with a clear message. */
  j = run_call(&ctx, "{\"value\":", 400);
  assert_non_null(strstr(cJSON_GetObjectItem(j, "error")->valuestring, "malformed JSON"));
  cJSON_Delete(j);
  j = run_call(&ctx, "\"just a string\"", 400);
  cJSON_Delete(j);
  /* Redis failures: 200, an error summary and the statistics. */
  f.fail = 2;
  j = run_call(&ctx, "{\"value\":{\"num_ops\":5,\"redis_host\":\"127.0.0.1\"}}", 200);
  assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring,
                      "2 of 5 operations failed (127.0.0.1:6379): connection closed by server");
  assert_int_equal(cJSON_GetObjectItem(j, "failed")->valueint, 2);
  cJSON_Delete(j);
  /* No value at all means defaults. */
  f.fail = 0;
  j = run_call(&ctx, "{}", 200);
  assert_int_equal(f.last.num_ops, 1);
  cJSON_Delete(j);
  action_ctx_deinit(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_once),
      cmocka_unit_test(test_init_bad_bodies),
      cmocka_unit_test(test_run_context_and_params),
      cmocka_unit_test(test_run_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
