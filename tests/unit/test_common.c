/* test_common.c: unit tests for the common library (JSON getters, env files, statistics,
 * address parsing, errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_env.h"
#include "rb_envfile.h"
#include "rb_error.h"
#include "rb_json.h"
#include "rb_name.h"
#include "rb_stats.h"
#include "rb_str.h"

static cJSON *parse(const char *s) {
  cJSON *j = NULL;
  assert_int_equal(rb_json_parse(s, strlen(s), &j, NULL, 0), RB_OK);
  return j;
}

static void test_json_parse_errors(void **state) {
  (void)state;
  char err[128];
  cJSON *j = NULL;
  assert_int_equal(rb_json_parse("{\"a\":", 5, &j, err, sizeof err), RB_ERR_PARSE);
  assert_null(j);
  assert_non_null(strstr(err, "malformed JSON at byte"));
  assert_int_equal(rb_json_parse("", 0, &j, err, sizeof err), RB_ERR_PARSE);
  assert_string_equal(err, "malformed JSON: empty body");
  assert_int_equal(rb_json_parse("{} x", 4, &j, err, sizeof err), RB_ERR_PARSE);
  assert_non_null(strstr(err, "unexpected data after the value at byte 3"));
  /* The message never quotes the input (it may hold a password). */
  assert_int_equal(rb_json_parse("{\"redis_password\":\"hunter2\"", 27, &j, err, sizeof err),
                   RB_ERR_PARSE);
  assert_null(strstr(err, "hunter2"));
  /* Not NUL-terminated: only len bytes are read. */
  const char buf[] = {'{', '}', 'X'};
  assert_int_equal(rb_json_parse(buf, 2, &j, err, sizeof err), RB_OK);
  cJSON_Delete(j);
  assert_int_equal(rb_json_parse("{}\n ", 4, &j, err, sizeof err), RB_OK);
  cJSON_Delete(j);
  /* Nesting: 64 levels parse, 65 are refused before cJSON recurses; brackets in strings and
   * escaped quotes do not count. */
  char deep[200];
  memset(deep, '[', 64);
  memset(deep + 64, ']', 64);
  assert_int_equal(rb_json_parse(deep, 128, &j, err, sizeof err), RB_OK);
  cJSON_Delete(j);
  memset(deep, '[', 65);
  memset(deep + 65, ']', 65);
  assert_int_equal(rb_json_parse(deep, 130, &j, err, sizeof err), RB_ERR_PARSE);
  assert_string_equal(err, "malformed JSON: nested deeper than 64 levels at byte 64");
  const char *strs =
      "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"{{{{\"}";
  assert_int_equal(rb_json_parse(strs, strlen(strs), &j, err, sizeof err), RB_OK);
  cJSON_Delete(j);
}

struct int_case {
  const char *json;
  long long expect;
  enum rb_err rc;
  const char *msg;
};

static void test_json_get_int(void **state) {
  (void)state;
  static const struct int_case cases[] = {
      {"{\"n\":10}", 10, RB_OK, NULL},
      {"{\"n\":\"10\"}", 10, RB_OK, NULL},
      {"{\"n\":\" 7 \"}", 7, RB_OK, NULL},
      {"{\"n\":1e2}", 100, RB_OK, NULL},
      {"{\"n\":0}", 0, RB_ERR_RANGE, "n must be an integer from 1 to 100, got 0"},
      {"{\"n\":101}", 0, RB_ERR_RANGE, "n must be an integer from 1 to 100, got 101"},
      {"{\"n\":2.5}", 0, RB_ERR_INVALID, "n must be an integer from 1 to 100, got 2.5"},
      {"{\"n\":\"ten\"}", 0, RB_ERR_INVALID, "n must be an integer from 1 to 100, got \"ten\""},
      {"{\"n\":\"10x\"}", 0, RB_ERR_INVALID, NULL},
      {"{\"n\":\"\"}", 0, RB_ERR_INVALID, NULL},
      {"{\"n\":true}", 0, RB_ERR_INVALID, "n must be an integer from 1 to 100, got true"},
      {"{\"n\":null}", 0, RB_ERR_INVALID, NULL},
      {"{\"n\":[1]}", 0, RB_ERR_INVALID, "n must be an integer from 1 to 100, got an array"},
      {"{\"n\":\"99999999999999999999999\"}", 0, RB_ERR_INVALID, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *j = parse(cases[i].json);
    long long v = -1;
    char err[128] = "";
    enum rb_err rc = rb_json_get_int(cJSON_GetObjectItem(j, "n"), "n", 1, 100, &v, err, sizeof err);
    if (rc != cases[i].rc) fail_msg("case %zu (%s): rc %d", i, cases[i].json, rc);
    if (rc == RB_OK) assert_int_equal(v, cases[i].expect);
    else assert_int_equal(v, -1);
    if (cases[i].msg) assert_string_equal(err, cases[i].msg);
    cJSON_Delete(j);
  }
  long long untouched = 42;
  assert_int_equal(rb_json_get_int(NULL, "n", 1, 100, &untouched, NULL, 0), RB_OK);
  assert_int_equal(untouched, 42);
}

static void test_json_get_bool_and_text(void **state) {
  (void)state;
  const char *truthy[] = {"true", "\"true\"", "1", "\"1\""};
  const char *falsy[] = {"false", "\"false\"", "0", "\"0\""};
  char buf[64], err[128];
  for (int i = 0; i < 4; i++) {
    snprintf(buf, sizeof buf, "{\"b\":%s}", truthy[i]);
    cJSON *j = parse(buf);
    bool b = false;
    assert_int_equal(rb_json_get_bool(cJSON_GetObjectItem(j, "b"), "b", &b, err, sizeof err),
                     RB_OK);
    assert_true(b);
    cJSON_Delete(j);
    snprintf(buf, sizeof buf, "{\"b\":%s}", falsy[i]);
    j = parse(buf);
    b = true;
    assert_int_equal(rb_json_get_bool(cJSON_GetObjectItem(j, "b"), "b", &b, err, sizeof err),
                     RB_OK);
    assert_false(b);
    cJSON_Delete(j);
  }
  cJSON *j = parse("{\"b\":\"yes\",\"s\":1234,\"f\":true,\"o\":{},\"l\":\"abcdef\"}");
  bool b;
  assert_int_equal(
      rb_json_get_bool(cJSON_GetObjectItem(j, "b"), "use_batching", &b, err, sizeof err),
      RB_ERR_INVALID);
  assert_string_equal(err, "use_batching must be true or false, got \"yes\"");
  char text[5];
  assert_int_equal(
      rb_json_get_text(cJSON_GetObjectItem(j, "s"), "s", text, sizeof text, err, sizeof err),
      RB_OK);
  assert_string_equal(text, "1234");
  assert_int_equal(
      rb_json_get_text(cJSON_GetObjectItem(j, "f"), "f", text, sizeof text, err, sizeof err),
      RB_OK);
  assert_string_equal(text, "true");
  assert_int_equal(
      rb_json_get_text(cJSON_GetObjectItem(j, "o"), "o", text, sizeof text, err, sizeof err),
      RB_ERR_INVALID);
  assert_string_equal(err, "o must be a string, got an object");
  assert_int_equal(
      rb_json_get_text(cJSON_GetObjectItem(j, "l"), "l", text, sizeof text, err, sizeof err),
      RB_ERR_RANGE);
  assert_string_equal(err, "l must be at most 4 bytes, got 6");
  cJSON_Delete(j);
}

static void test_json_describe(void **state) {
  (void)state;
  char buf[64];
  cJSON *j = parse(
      "{\"long\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"ctl\":"
      "\"a\\nb\"}");
  rb_json_describe(cJSON_GetObjectItem(j, "long"), buf, sizeof buf);
  assert_int_equal(strlen(buf), 40 + 2 + 3);
  assert_non_null(strstr(buf, "...\""));
  rb_json_describe(cJSON_GetObjectItem(j, "ctl"), buf, sizeof buf);
  assert_string_equal(buf, "\"a?b\"");
  rb_json_describe(NULL, buf, sizeof buf);
  assert_string_equal(buf, "nothing");
  cJSON_Delete(j);
}

struct kv {
  char text[1024];
  int count;
};

static int collect(const char *key, const char *value, int line, void *ctx) {
  struct kv *kv = ctx;
  size_t n = strlen(kv->text);
  snprintf(kv->text + n, sizeof kv->text - n, "%d:%s=[%s];", line, key, value);
  kv->count++;
  return 0;
}

static void test_envfile_good(void **state) {
  (void)state;
  const char *text =
      "# Redis server configuration\n"
      "REDIS_HOST=10.0.0.5\n"
      "\n"
      "  REDIS_PORT = 6379  \n"
      "export REDIS_PASSWORD='p@ss #word'\n"
      "OPENWHISK_AUTH=\"uuid:key\\\"q\\\\\"  # comment\n"
      "EMPTY=\n"
      "INLINE=abc # trailing comment\n"
      "HASH=abc#def\r\n"
      "LAST=no-newline";
  struct kv kv = {{0}, 0};
  char err[128];
  assert_int_equal(rb_envfile_parse(text, strlen(text), collect, &kv, err, sizeof err), RB_OK);
  assert_int_equal(kv.count, 8);
  assert_string_equal(kv.text,
                      "2:REDIS_HOST=[10.0.0.5];4:REDIS_PORT=[6379];5:REDIS_PASSWORD=[p@ss #word];"
                      "6:OPENWHISK_AUTH=[uuid:key\"q\\];7:EMPTY=[];8:INLINE=[abc];9:HASH=[abc#def];"
                      "10:LAST=[no-newline];");
}

static void test_envfile_errors(void **state) {
  (void)state;
  static const struct {
    const char *text;
    const char *msg;
  } cases[] = {
      {"A=1\nnot a pair\n", "line 2: expected KEY=VALUE"},
      {"1ABC=2\n", "line 1: expected KEY=VALUE with KEY made of letters, digits and _"},
      {"A=\"open\n", "line 1: unterminated \" quote"},
      {"A='x' y\n", "line 1: unexpected text after quoted value"},
      {"=5\n", "line 1: expected KEY=VALUE with KEY made of letters, digits and _"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct kv kv = {{0}, 0};
    char err[128] = "";
    assert_int_equal(
        rb_envfile_parse(cases[i].text, strlen(cases[i].text), collect, &kv, err, sizeof err),
        RB_ERR_PARSE);
    assert_string_equal(err, cases[i].msg);
  }
  const char nul[] = "A=1\nB=x\0y\n";
  struct kv kv = {{0}, 0};
  char err[128];
  assert_int_equal(rb_envfile_parse(nul, sizeof nul - 1, collect, &kv, err, sizeof err),
                   RB_ERR_PARSE);
  assert_string_equal(err, "line 2: contains a NUL byte");
}

static void test_stats_nearest_rank(void **state) {
  (void)state;
  /* 1..100 shuffled: p50 = 50, p90 = 90, p99 = 99 by nearest rank. */
  uint64_t v[100];
  for (int i = 0; i < 100; i++) v[i] = (uint64_t)((i * 37) % 100 + 1);
  struct rb_summary s;
  rb_summary_compute(v, 100, &s);
  assert_int_equal(s.count, 100);
  assert_int_equal(s.min, 1);
  assert_int_equal(s.max, 100);
  assert_int_equal(s.p50, 50);
  assert_int_equal(s.p90, 90);
  assert_int_equal(s.p99, 99);
  assert_true(s.mean > 50.49 && s.mean < 50.51);
  /* Ten samples: p50 is rank 5, p90 rank 9, p99 rank 10. */
  uint64_t w[10] = {10, 1, 9, 2, 8, 3, 7, 4, 6, 5};
  rb_summary_compute(w, 10, &s);
  assert_int_equal(s.p50, 5);
  assert_int_equal(s.p90, 9);
  assert_int_equal(s.p99, 10);
  uint64_t one = 7;
  rb_summary_compute(&one, 1, &s);
  assert_int_equal(s.p50, 7);
  assert_int_equal(s.p99, 7);
  rb_summary_compute(NULL, 0, &s);
  assert_int_equal(s.count, 0);
  assert_int_equal(s.max, 0);
  uint64_t sorted[3] = {1, 2, 3};
  assert_int_equal(rb_percentile_sorted(sorted, 3, 0), 1);
  assert_int_equal(rb_percentile_sorted(sorted, 3, 100), 3);
  assert_int_equal(rb_percentile_sorted(sorted, 3, 33.3), 1);
  assert_int_equal(rb_percentile_sorted(sorted, 3, 34), 2);
}

static void test_hostport(void **state) {
  (void)state;
  char host[64], err[128];
  int port = 0;
  assert_int_equal(rb_parse_hostport("127.0.0.1:8080", host, sizeof host, &port, err, sizeof err),
                   RB_OK);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 8080);
  assert_int_equal(rb_parse_hostport("[::1]:9", host, sizeof host, &port, err, sizeof err), RB_OK);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 9);
  assert_int_equal(rb_parse_hostport(":7000", host, sizeof host, &port, err, sizeof err), RB_OK);
  assert_string_equal(host, "0.0.0.0");
  assert_int_equal(rb_parse_hostport("host", host, sizeof host, &port, err, sizeof err),
                   RB_ERR_INVALID);
  assert_string_equal(err, "bad address 'host', expected HOST:PORT");
  assert_int_equal(rb_parse_hostport("h:0", host, sizeof host, &port, err, sizeof err),
                   RB_ERR_RANGE);
  assert_int_equal(rb_parse_hostport("h:65536", host, sizeof host, &port, err, sizeof err),
                   RB_ERR_RANGE);
  assert_int_equal(rb_parse_hostport("h:12x", host, sizeof host, &port, err, sizeof err),
                   RB_ERR_RANGE);
  assert_int_equal(rb_parse_hostport("[::1]", host, sizeof host, &port, err, sizeof err),
                   RB_ERR_INVALID);
  long long v;
  assert_true(rb_parse_ll("-5", -10, 10, &v));
  assert_int_equal(v, -5);
  assert_false(rb_parse_ll("11", -10, 10, &v));
  assert_false(rb_parse_ll("", -10, 10, &v));
}

static void test_base64(void **state) {
  (void)state;
  /* RFC 4648 section 10's vectors, and bytes above 0x7f. */
  const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  char out[32];
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    assert_int_equal(rb_base64_encode(in[i], strlen(in[i]), out), strlen(want[i]));
    assert_int_equal(rb_base64_len(strlen(in[i])), strlen(want[i]));
    assert_string_equal(out, want[i]);
  }
  const unsigned char bin[] = {0xff, 0xfe, 0x00, 0x80};
  rb_base64_encode(bin, sizeof bin, out);
  assert_string_equal(out, "//4AgA==");
}

static void test_errors_and_env(void **state) {
  (void)state;
  assert_string_equal(rb_err_name(RB_OK), "RB_OK");
  assert_string_equal(rb_err_name(RB_ERR_PARSE), "RB_ERR_PARSE");
  assert_string_equal(rb_err_desc(RB_ERR_TIMEOUT), "timed out");
  assert_string_equal(rb_err_name((enum rb_err)999), "RB_ERR_UNKNOWN");
  char buf[8];
  assert_int_equal(rb_errorf(RB_ERR_RANGE, buf, sizeof buf, "%s", "truncated message"),
                   RB_ERR_RANGE);
  assert_string_equal(buf, "truncat");
  assert_true(rb_env_set("RBENCH_TEST_VAR", "value"));
  char v[16];
  assert_true(rb_env_get("RBENCH_TEST_VAR", v, sizeof v));
  assert_string_equal(v, "value");
  assert_false(rb_env_get("RBENCH_TEST_VAR", v, 3)); /* does not fit */
  assert_false(rb_env_set("BAD=NAME", "x"));
  assert_false(rb_env_get("RBENCH_UNSET_VAR_XYZ", v, sizeof v));
}

/* The naming rules shared by the binaries (rb_name.h). */
static void test_name_rules(void **state) {
  (void)state;
  char err[400];
  assert_int_equal(rb_name_key_prefix_check("bench:1", err, sizeof err), RB_OK);
  assert_int_equal(rb_name_key_prefix_check("a b", err, sizeof err), RB_ERR_INVALID);
  assert_string_equal(
      err, "key_prefix must not contain spaces or control characters (found one at byte 2)");
  char long_prefix[RB_KEY_PREFIX_MAX + 2];
  memset(long_prefix, 'k', sizeof long_prefix - 1);
  long_prefix[sizeof long_prefix - 1] = '\0';
  assert_int_equal(rb_name_key_prefix_check(long_prefix, err, sizeof err), RB_ERR_RANGE);
  assert_string_equal(err, "key_prefix must be 1 to 128 bytes, got 129");
  /* OpenWhisk: \A([\w]|[\w][\w@ .-]*[\w@.-]+)\z per part; spaces inside are valid. */
  const char *ok[] = {"a",
                      "_x",
                      "redis_benchmark/redis_benchmark",
                      "pkg/my action",
                      "/guest/pkg/a",
                      "/whisk.system/utils/echo",
                      "/ns/a",
                      "a@b.c-d",
                      NULL};
  for (int i = 0; ok[i]; i++)
    if (rb_name_action_check(ok[i], err, sizeof err) != RB_OK) fail_msg("%s: %s", ok[i], err);
  const char *bad[] = {"",     "a ",  " a",    "-a",        ".a",  "pkg/a#b", "a//b",
                       "pkg/", "/ns", "a/b/c", "/ns/p/a/b", "a?b", "a%20b",   NULL};
  for (int i = 0; bad[i]; i++)
    if (rb_name_action_check(bad[i], err, sizeof err) != RB_ERR_INVALID)
      fail_msg("'%s' accepted", bad[i]);
  assert_int_equal(rb_name_action_check("pkg/a ", err, sizeof err), RB_ERR_INVALID);
  assert_non_null(strstr(err, "action 'pkg/a ': 'a ' is not an OpenWhisk name"));
  /* closest names: a swap is one edit; nothing close gives NULL */
  const char *names[] = {"REDIS_PORT", "REDIS_HOST"};
  assert_string_equal(rb_name_closest("REDIS_PROT", names, 2), "REDIS_PORT");
  assert_null(rb_name_closest("ZZZZZZZZZZ", names, 2));
  assert_int_equal(rb_name_distance("abc", "acb"), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_parse_errors),
      cmocka_unit_test(test_json_get_int),
      cmocka_unit_test(test_json_get_bool_and_text),
      cmocka_unit_test(test_json_describe),
      cmocka_unit_test(test_envfile_good),
      cmocka_unit_test(test_envfile_errors),
      cmocka_unit_test(test_stats_nearest_rank),
      cmocka_unit_test(test_hostport),
      cmocka_unit_test(test_base64),
      cmocka_unit_test(test_name_rules),
      cmocka_unit_test(test_errors_and_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
