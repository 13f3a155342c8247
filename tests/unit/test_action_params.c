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
      {"{\"placement\":\"central\"}",
       "placement must be one of direct, runtime, agent, got \"central\""},
      {"{\"placement\":\"runtime\",\"use_batching\":true}",
       "placement \"runtime\" contradicts use_batching true (use_batching true means placement "
       "agent): give one of them"},
      {"{\"placement\":\"agent\",\"use_batching\":false}",
       "placement \"agent\" contradicts use_batching false (use_batching true means placement "
       "agent): give one of them"},
      {"{\"batch_connections\":65}", "batch_connections must be an integer from 1 to 64, got 65"},
      {"{\"batch_wait_us\":-1}", "batch_wait_us must be an integer from 0 to 100000, got -1"},
      {"{\"batch_coalesce\":\"yes\"}", "batch_coalesce must be true or false, got \"yes\""},
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
  assert_int_equal(p.placement, ACTION_PLACE_AGENT);
  /* placement: runtime batches in this process, against Redis; agent is use_batching */
  assert_int_equal(parse("{\"placement\":\"runtime\",\"use_batching\":false,"
                         "\"batch_connections\":4,\"batch_wait_us\":200,\"batch_coalesce\":true}",
                         &p, err, sizeof err),
                   RB_OK);
  assert_int_equal(p.placement, ACTION_PLACE_RUNTIME);
  assert_false(p.use_batching);
  assert_int_equal(p.batch_connections, 4);
  assert_int_equal(p.batch_wait_us, 200);
  assert_true(p.batch_coalesce);
  assert_string_equal(action_placement_name(p.placement), "runtime");
  action_params_endpoint(&p, &host, &port, &pw);
  assert_string_equal(host, "redis.default.svc");
  assert_int_equal(parse("{\"placement\":\"agent\"}", &p, err, sizeof err), RB_OK);
  assert_true(p.use_batching);
  action_params_endpoint(&p, &host, &port, &pw);
  assert_string_equal(host, "agent.svc");
  assert_int_equal(parse("{}", &p, err, sizeof err), RB_OK);
  assert_int_equal(p.placement, ACTION_PLACE_DIRECT);
  assert_int_equal(p.batch_connections, 1);
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

/* The seed's parameters leave the workload at rb_workload's defaults: the one operation,
 * sequential keys over key_space (num_ops), one fixed value size. */
static void test_workload_defaults(void **state) {
  (void)state;
  struct action_params p;
  char err[512];
  fake_env[0] = NULL;
  assert_int_equal(
      parse("{\"num_ops\":7,\"operation_type\":\"get\",\"value_size\":33}", &p, err, sizeof err),
      RB_OK);
  assert_false(p.mixed);
  for (int i = 0; i < RB_OP_COUNT; i++) assert_int_equal(p.w.weight[i], i == RB_OP_GET);
  assert_int_equal(p.w.ops, 7);
  assert_int_equal(p.w.key_space, 7);
  assert_int_equal(p.w.keydist, RB_KEYS_SEQUENTIAL);
  assert_int_equal(p.w.sizes.kind, RB_SIZES_FIXED);
  assert_int_equal(p.w.sizes.min, 33);
  assert_int_equal(p.w.sizes.max, 33);
  assert_int_equal(p.w.keys_per_command, 10);
  assert_int_equal(p.w.structure_size, 100);
  assert_int_equal(p.w.range_span, 10);
  assert_int_equal(p.w.script_work, 1000);
  assert_int_equal(p.w.seed, 1);
  assert_int_equal(p.invocation, 0);
  assert_false(p.prepare);
  assert_int_equal(p.prepare_first, 0);
  assert_int_equal(p.prepare_count, 7);
  assert_string_equal(p.ignored, "");
}

/* operation_type takes every operation of rb_workload.h, in any case. */
static void test_every_operation_type(void **state) {
  (void)state;
  fake_env[0] = NULL;
  for (int i = 0; i < RB_OP_COUNT; i++) {
    char json[128], upper[32];
    const char *name = rb_op_name((enum rb_op)i);
    size_t n = strlen(name);
    for (size_t c = 0; c <= n; c++)
      upper[c] = (char)(c % 2 ? name[c] - 32 * (name[c] >= 'a') : name[c]);
    snprintf(json, sizeof json, "{\"operation_type\":\"%s\",\"key_space\":100}", upper);
    struct action_params p;
    char err[512] = "";
    if (parse(json, &p, err, sizeof err) != RB_OK) fail_msg("%s: %s", name, err);
    assert_int_equal(p.op, i);
    for (int t = 0; t < RB_OP_COUNT; t++) assert_int_equal(p.w.weight[t], t == i);
    assert_string_equal(action_op_name(p.op), name);
  }
}

static void test_workload_good_inputs(void **state) {
  (void)state;
  struct action_params p;
  char err[512] = "";
  fake_env[0] = NULL;
#define OK(json)                                                                  \
  do {                                                                            \
    if (parse(json, &p, err, sizeof err) != RB_OK) fail_msg("%s: %s", json, err); \
  } while (0)
  /* mix overrides operation_type; spaces and case are allowed */
  OK("{\"operation_type\":\"del\",\"mix\":\" GET:80 , set:20\",\"num_ops\":5}");
  assert_true(p.mixed);
  assert_int_equal(p.w.weight[RB_OP_GET], 80);
  assert_int_equal(p.w.weight[RB_OP_SET], 20);
  assert_int_equal(p.w.weight[RB_OP_DEL], 0);
  assert_int_equal(p.w.weight_total, 100);
  assert_int_equal(p.op, RB_OP_SET); /* the mix's first operation in table order */
  OK("{\"mix\":\"eval\"}");
  assert_int_equal(p.w.weight[RB_OP_EVAL], 1);
  assert_int_equal(p.w.weight_total, 1);
  /* the numbers of the workload, as numbers or as strings (wsk -p sends strings) */
  OK("{\"mix\":\"mget:1,lrange:1\",\"keys_per_command\":100,\"key_space\":100,"
     "\"structure_size\":\"100000\",\"range_span\":100000,\"script_work\":0,\"seed\":0,"
     "\"invocation\":\"12\"}");
  assert_int_equal(p.w.keys_per_command, 100);
  assert_int_equal(p.w.structure_size, 100000);
  assert_int_equal(p.w.range_span, 100000);
  assert_int_equal(p.w.script_work, 0);
  assert_int_equal(p.w.seed, 0);
  assert_int_equal(p.invocation, 12);
  OK("{\"script_work\":100000000,\"seed\":9007199254740991,\"invocation\":9007199254740991}");
  assert_int_equal(p.w.script_work, 100000000);
  assert_true(p.w.seed == 9007199254740991ULL);
  assert_int_equal(p.invocation, 9007199254740991LL);
  /* key distributions and their parameters */
  OK("{\"key_distribution\":\"zipfian\",\"zipf_exponent\":1.2,\"key_space\":1000}");
  assert_int_equal(p.w.keydist, RB_KEYS_ZIPFIAN);
  assert_true(p.w.zipf_exponent == 1.2);
  assert_int_equal(p.w.key_space, 1000);
  OK("{\"key_distribution\":\"hotspot\",\"hotspot_keys\":\"0.1\",\"hotspot_ops\":0.9}");
  assert_int_equal(p.w.keydist, RB_KEYS_HOTSPOT);
  assert_true(p.w.hotspot_keys == 0.1 && p.w.hotspot_ops == 0.9);
  OK("{\"key_distribution\":\"gaussian\",\"gaussian_stddev\":0.25}");
  assert_int_equal(p.w.keydist, RB_KEYS_GAUSSIAN);
  assert_true(p.w.gaussian_stddev == 0.25);
  OK("{\"key_distribution\":\"uniform\"}");
  assert_int_equal(p.w.keydist, RB_KEYS_UNIFORM);
  /* value sizes: a range or a weighted list replaces value_size */
  OK("{\"value_size\":10,\"value_size_range\":\"16-4096\"}");
  assert_int_equal(p.w.sizes.kind, RB_SIZES_RANGE);
  assert_int_equal(p.w.sizes.min, 16);
  assert_int_equal(p.w.sizes.max, 4096);
  OK("{\"value_size_list\":\"64:80, 1024:20\"}");
  assert_int_equal(p.w.sizes.kind, RB_SIZES_LIST);
  assert_int_equal(p.w.sizes.n, 2);
  assert_int_equal(p.w.sizes.size[1], 1024);
  assert_int_equal(p.w.sizes.weight[1], 20);
  assert_int_equal(p.w.sizes.max, 1024);
  /* prepare mode and its key range */
  OK("{\"prepare\":true,\"key_space\":100,\"prepare_first\":90}");
  assert_true(p.prepare);
  assert_int_equal(p.prepare_first, 90);
  assert_int_equal(p.prepare_count, 10);
  OK("{\"prepare\":\"true\",\"key_space\":100,\"prepare_first\":\"10\",\"prepare_count\":90}");
  assert_int_equal(p.prepare_first, 10);
  assert_int_equal(p.prepare_count, 90);
  OK("{\"key_space\":100,\"prepare_count\":0}");
  assert_int_equal(p.prepare_count, 0);
  assert_string_equal(p.ignored, "");
#undef OK
}

static void test_workload_bad_inputs(void **state) {
  (void)state;
  static const struct {
    const char *json;
    const char *msg;
  } cases[] = {
      {"{\"mix\":\"get:80,fetch:20\"}",
       "mix: unknown operation 'fetch'; expected one of set, get, del, exists, incr, mget, mset, "
       "hset, hget, hgetall, lpush, lrange, sadd, smembers, zadd, zrangebyscore, eval (at byte 7 "
       "of \"get:80,fetch:20\")"},
      {"{\"mix\":\"get:0,set:0\"}",
       "mix: the weights sum to 0: nothing to run (at byte 0 of \"get:0,set:0\")"},
      {"{\"mix\":\"get:80,get:20\"}", "mix: 'get' is given twice (at byte 7 of \"get:80,get:20\")"},
      {"{\"mix\":\"get:eighty\"}",
       "mix: the weight of 'get' must be an integer from 0 to 1000000 (at byte 4 of "
       "\"get:eighty\")"},
      {"{\"mix\":\"\"}", "mix: empty: expected operation:weight pairs (at byte 0 of \"\")"},
      {"{\"mix\":{\"get\":1}}", "mix must be a string such as \"get:80,set:20\", got an object"},
      {"{\"mix\":80}", "mix must be a string such as \"get:80,set:20\", got 80"},
      {"{\"mix\":\"mget:1\",\"keys_per_command\":20,\"num_ops\":10}",
       "key_space (10) is smaller than keys_per_command (20), the width of mget and mset: raise "
       "key_space or lower keys_per_command"},
      {"{\"keys_per_command\":0}", "keys_per_command must be an integer from 1 to 100, got 0"},
      {"{\"keys_per_command\":101}", "keys_per_command must be an integer from 1 to 100, got 101"},
      {"{\"structure_size\":0}", "structure_size must be an integer from 1 to 100000, got 0"},
      {"{\"structure_size\":\"big\"}",
       "structure_size must be an integer from 1 to 100000, got \"big\""},
      {"{\"range_span\":100001}", "range_span must be an integer from 1 to 100000, got 100001"},
      {"{\"mix\":\"zrangebyscore\",\"structure_size\":5,\"range_span\":6}",
       "range_span (6) is larger than structure_size (5): lrange and zrangebyscore read within "
       "a prepared structure"},
      {"{\"script_work\":-1}", "script_work must be an integer from 0 to 100000000, got -1"},
      {"{\"script_work\":100000001}",
       "script_work must be an integer from 0 to 100000000, got 100000001"},
      {"{\"key_distribution\":\"zipf\"}",
       "key_distribution must be one of sequential, uniform, zipfian, hotspot, gaussian; got "
       "\"zipf\""},
      {"{\"key_distribution\":3}",
       "key_distribution must be one of sequential, uniform, zipfian, hotspot, gaussian; got 3"},
      {"{\"zipf_exponent\":0}", "zipf_exponent: expected a number above 0 and at most 5, got 0"},
      {"{\"zipf_exponent\":5.5}",
       "zipf_exponent: expected a number above 0 and at most 5, got 5.5"},
      {"{\"zipf_exponent\":\"steep\"}", "zipf_exponent must be a number, got \"steep\""},
      {"{\"zipf_exponent\":true}", "zipf_exponent must be a number, got true"},
      {"{\"hotspot_keys\":0}", "hotspot_keys: expected a fraction above 0 and at most 1, got 0"},
      {"{\"hotspot_ops\":1.5}", "hotspot_ops: expected a fraction from 0 to 1, got 1.5"},
      {"{\"gaussian_stddev\":\"\"}", "gaussian_stddev must be a number, got \"\""},
      {"{\"gaussian_stddev\":11}",
       "gaussian_stddev: expected a number above 0 and at most 10, got 11"},
      {"{\"value_size_range\":\"100-10\"}",
       "value_size_range: MIN (100) is above MAX (10) (at byte 0 of \"100-10\")"},
      {"{\"value_size_range\":\"64\"}",
       "value_size_range: expected '-' between MIN and MAX (MIN-MAX) (at byte 2 of \"64\")"},
      {"{\"value_size_range\":\"1-2000000\"}",
       "value_size_range: MAX must be a size in bytes from 0 to 1048576 (at byte 2 of "
       "\"1-2000000\")"},
      {"{\"value_size_range\":64}",
       "value_size_range must be a string such as \"64-4096\", got 64"},
      {"{\"value_size_list\":\"64:0,128:0\"}",
       "value_size_list: the weights sum to 0 (at byte 0 of \"64:0,128:0\")"},
      {"{\"value_size_list\":\"64;1\"}",
       "value_size_list: expected ':' and a weight after 64 (at byte 2 of \"64;1\")"},
      {"{\"value_size_list\":\"64:1\",\"value_size_range\":\"1-2\"}",
       "value_size_range and value_size_list are both given: give one"},
      {"{\"seed\":-1}", "seed must be an integer from 0 to 9007199254740991, got -1"},
      {"{\"seed\":1.5}", "seed must be an integer from 0 to 9007199254740991, got 1.5"},
      {"{\"seed\":\"9007199254740992\"}",
       "seed must be an integer from 0 to 9007199254740991, got \"9007199254740992\""},
      {"{\"invocation\":-3}", "invocation must be an integer from 0 to 9007199254740991, got -3"},
      {"{\"invocation\":\"first\"}",
       "invocation must be an integer from 0 to 9007199254740991, got \"first\""},
      {"{\"prepare\":\"yes please\"}", "prepare must be true or false, got \"yes please\""},
      {"{\"key_space\":100,\"prepare_first\":100}",
       "prepare_first must be an integer from 0 to 99, got 100"},
      {"{\"key_space\":100,\"prepare_first\":-1}",
       "prepare_first must be an integer from 0 to 99, got -1"},
      {"{\"key_space\":100,\"prepare_first\":60,\"prepare_count\":41}",
       "prepare_count must be at most 40 (key_space 100 from prepare_first 60), got 41"},
      {"{\"prepare_count\":-1}", "prepare_count must be an integer from 0 to 2147483647, got -1"},
      {"{\"mix\":\"hgetall\",\"key_space\":1000000,\"structure_size\":100}",
       "the preparation would write 100000000 elements (key_space 1000000 x structure_size 100 "
       "per prepared type); at most 50000000: lower key_space or structure_size"},
  };
  fake_env[0] = NULL;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct action_params p;
    char err[512] = "";
    if (parse(cases[i].json, &p, err, sizeof err) == RB_OK) fail_msg("case %zu accepted", i);
    if (strcmp(err, cases[i].msg) != 0)
      fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].msg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_good_inputs),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_endpoints_from_env_and_params),
      cmocka_unit_test(test_ignored_params_listed),
      cmocka_unit_test(test_workload_defaults),
      cmocka_unit_test(test_every_operation_type),
      cmocka_unit_test(test_workload_good_inputs),
      cmocka_unit_test(test_workload_bad_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
