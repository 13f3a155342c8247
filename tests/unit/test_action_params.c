/* test_action_params.c: the action's parameter parsing and validation, as a table of good
 * and bad inputs with the exact messages a user sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "action_params.h"
#include "rb_json.h"

/* A fake environment: "NAME=value" pairs. */
static const char *fake_env[8];

static bool env_lookup(const char *name, char *buf, size_t len) {
  size_t n = strlen(name);
  for (int i = 0; fake_env[i]; i++) {
    if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=') {
      snprintf(buf, len, "%s", fake_env[i] + n + 1);
      return true;
    }
  }
  return false;
}

static enum rb_err parse(const char *json, struct action_params *p, char *err, size_t len) {
  cJSON *v = NULL;
  if (json) assert_int_equal(rb_json_parse(json, strlen(json), &v, NULL, 0), RB_OK);
  enum rb_err rc = action_params_parse(v, env_lookup, p, err, len);
  cJSON_Delete(v);
  return rc;
}

static void test_defaults(void **state) {
  (void)state;
  struct action_params p;
  char err[256];
  fake_env[0] = NULL;
  assert_int_equal(parse(NULL, &p, err, sizeof err), RB_OK);
  assert_int_equal(p.num_ops, 1);
  assert_int_equal(p.op, RB_OP_SET);
  assert_false(p.use_batching);
  assert_int_equal(p.parallel_calls, 1);
  assert_string_equal(p.key_prefix, "benchmark");
  assert_int_equal(p.value_size, 64);
  assert_int_equal(p.key_space, 1);
  assert_int_equal(p.timeout_ms, 5000);
  assert_string_equal(p.redis_host, "127.0.0.1");
  assert_int_equal(p.redis_port, 6379);
  assert_string_equal(p.redis_password, "");
  assert_int_equal(p.agent_port, 6380);
  assert_string_equal(p.ignored, "");
  assert_int_equal(parse("{}", &p, err, sizeof err), RB_OK);
  assert_int_equal(p.num_ops, 1);
}

struct good_case {
  const char *json;
  long long num_ops, parallel, value_size, key_space;
  enum rb_op op;
  bool batching;
  const char *prefix;
};

static void test_good_inputs(void **state) {
  (void)state;
  static const struct good_case cases[] = {
      {"{\"num_ops\":10,\"operation_type\":\"get\"}", 10, 1, 64, 10, RB_OP_GET, false, "benchmark"},
      {"{\"num_ops\":\"10\",\"parallel_calls\":\"5\",\"use_batching\":\"true\"}", 10, 5, 64, 10,
       RB_OP_SET, true, "benchmark"},
      {"{\"operation_type\":\"DEL\",\"use_batching\":false}", 1, 1, 64, 1, RB_OP_DEL, false,
       "benchmark"},
      {"{\"operation_type\":\"exists\",\"num_ops\":1000000,\"parallel_calls\":256}", 1000000, 256,
       64, 1000000, RB_OP_EXISTS, false, "benchmark"},
      {"{\"value_size\":0,\"key_space\":3,\"num_ops\":9}", 9, 1, 0, 3, RB_OP_SET, false,
       "benchmark"},
      {"{\"value_size\":1048576,\"key_prefix\":\"run-7/a:b\"}", 1, 1, 1048576, 1, RB_OP_SET, false,
       "run-7/a:b"},
      {"{\"use_batching\":1,\"num_ops\":2}", 2, 1, 64, 2, RB_OP_SET, true, "benchmark"},
  };
  fake_env[0] = NULL;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct action_params p;
    char err[256] = "";
    if (parse(cases[i].json, &p, err, sizeof err) != RB_OK) fail_msg("case %zu: %s", i, err);
    assert_int_equal(p.num_ops, cases[i].num_ops);
    assert_int_equal(p.parallel_calls, cases[i].parallel);
    assert_int_equal(p.value_size, cases[i].value_size);
    assert_int_equal(p.key_space, cases[i].key_space);
    assert_int_equal(p.op, cases[i].op);
    assert_int_equal(p.use_batching, cases[i].batching);
    assert_string_equal(p.key_prefix, cases[i].prefix);
  }
}

static void test_bad_inputs(void **state) {
  (void)state;
  static const struct {
    const char *json;
    const char *msg;
  } cases[] = {
      {"{\"num_ops\":0}", "num_ops must be an integer from 1 to 1000000, got 0"},
      {"{\"num_ops\":1000001}", "num_ops must be an integer from 1 to 1000000, got 1000001"},
      {"{\"num_ops\":\"many\"}", "num_ops must be an integer from 1 to 1000000, got \"many\""},
      {"{\"num_ops\":1.5}", "num_ops must be an integer from 1 to 1000000, got 1.5"},
      {"{\"parallel_calls\":0}", "parallel_calls must be an integer from 1 to 256, got 0"},
      {"{\"parallel_calls\":257}", "parallel_calls must be an integer from 1 to 256, got 257"},
      {"{\"value_size\":-1}", "value_size must be an integer from 0 to 1048576, got -1"},
      {"{\"value_size\":1048577}", "value_size must be an integer from 0 to 1048576, got 1048577"},
      {"{\"operation_type\":\"incr2\"}",
       "operation_type must be one of set, get, del, exists, incr, mget, mset, hset, hget, "
       "hgetall, lpush, lrange, sadd, smembers, zadd, zrangebyscore, eval; got \"incr2\""},
      {"{\"operation_type\":7}",
       "operation_type must be one of set, get, del, exists, incr, mget, mset, hset, hget, "
       "hgetall, lpush, lrange, sadd, smembers, zadd, zrangebyscore, eval; got 7"},
      {"{\"use_batching\":\"maybe\"}", "use_batching must be true or false, got \"maybe\""},
      {"{\"key_prefix\":\"\"}", "key_prefix must be 1 to 128 bytes, got 0"},
      {"{\"key_prefix\":\"has space\"}",
       "key_prefix must not contain spaces or control characters (found one at byte 4)"},
      {"{\"key_prefix\":\"tab\\there\"}",
       "key_prefix must not contain spaces or control characters (found one at byte 4)"},
      {"{\"key_prefix\":"
       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
       "key_prefix must be at most 128 bytes, got 129"},
      {"{\"key_space\":0}", "key_space must be an integer from 1 to 2147483647, got 0"},
      {"{\"timeout_ms\":0}", "timeout_ms must be an integer from 1 to 300000, got 0"},
      {"{\"redis_port\":70000}", "redis_port must be an integer from 1 to 65535, got 70000"},
      {"{\"redis_host\":\"\"}", "redis_host must not be empty"},
      {"{\"agent_host\":\"a b\"}", "agent_host must be a host name or IP address without spaces"},
      {"{\"redis_host\":{}}", "redis_host must be a string, got an object"},
  };
  fake_env[0] = NULL;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct action_params p;
    char err[256] = "";
    if (parse(cases[i].json, &p, err, sizeof err) == RB_OK) fail_msg("case %zu accepted", i);
    if (strcmp(err, cases[i].msg) != 0)
      fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].msg);
  }
  struct action_params p;
  char err[256];
  cJSON *arr = cJSON_CreateArray();
  assert_int_not_equal(action_params_parse(arr, env_lookup, &p, err, sizeof err), RB_OK);
  assert_string_equal(err, "parameters must be a JSON object, got an array");
  cJSON_Delete(arr);
}

static void test_endpoints_from_env_and_params(void **state) {
  (void)state;
  struct action_params p;
  char err[256];
  fake_env[0] = "REDIS_HOST=redis.default.svc";
  fake_env[1] = "REDIS_PORT=7000";
  fake_env[2] = "REDIS_PASSWORD=s3cret";
  fake_env[3] = "BATCHING_AGENT_HOST=agent.svc";
  fake_env[4] = "BATCHING_AGENT_PORT=8080";
  fake_env[5] = NULL;
  assert_int_equal(parse("{}", &p, err, sizeof err), RB_OK);
  assert_string_equal(p.redis_host, "redis.default.svc");
  assert_int_equal(p.redis_port, 7000);
  assert_string_equal(p.redis_password, "s3cret");
  assert_string_equal(p.agent_host, "agent.svc");
  assert_int_equal(p.agent_port, 8080);
  const char *host, *pw;
  int port;
  action_params_endpoint(&p, &host, &port, &pw);
  assert_string_equal(host, "redis.default.svc");
  /* Parameters win over the environment; wsk may send numbers for strings. */
  assert_int_equal(
      parse("{\"redis_host\":\"10.1.1.1\",\"redis_port\":\"6390\",\"redis_password\":1234,"
            "\"use_batching\":true,\"agent_port\":9000}",
            &p, err, sizeof err),
      RB_OK);
  assert_string_equal(p.redis_host, "10.1.1.1");
  assert_int_equal(p.redis_port, 6390);
  assert_string_equal(p.redis_password, "1234");
  action_params_endpoint(&p, &host, &port, &pw);
  assert_string_equal(host, "agent.svc");
  assert_int_equal(port, 9000);
  assert_string_equal(pw, "");
  fake_env[0] = "REDIS_PORT=notaport";
  fake_env[1] = NULL;
  assert_int_not_equal(parse("{}", &p, err, sizeof err), RB_OK);
  assert_string_equal(err,
                      "REDIS_PORT (environment) must be a port from 1 to 65535, got \"notaport\"");
  fake_env[0] = NULL;
}

static void test_ignored_params_listed(void **state) {
  (void)state;
  struct action_params p;
  char err[256];
  fake_env[0] = NULL;
  assert_int_equal(parse("{\"num_ops\":2,\"numops\":3,\"operation\":\"get\"}", &p, err, sizeof err),
                   RB_OK);
  assert_string_equal(p.ignored, "numops,operation");
  assert_string_equal(action_op_name(RB_OP_EXISTS), "exists");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_good_inputs),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_endpoints_from_env_and_params),
      cmocka_unit_test(test_ignored_params_listed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
