/* test_action_redis.c: rbench-action over HTTP against a real redis-server (and nutcracker
 * for the batched path): values in Redis, passwords, warm reuse, outages, timeouts,
 * deadlines and concurrent activations. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rb_clock.h"
#include "rb_json.h"
#include "rb_workload.h"
#include "rbt.h"

static cJSON *run(int port, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static cJSON *run(int port, const char *fmt, ...) {
  char body[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  struct rbt_http_reply r;
  assert_true(rbt_http(port, "POST", "/run", body, strlen(body), &r));
  assert_int_equal(r.status, 200);
  assert_true(r.has_length);
  cJSON *j = NULL;
  if (rb_json_parse(r.body, strlen(r.body), &j, NULL, 0) != RB_OK) fail_msg("bad JSON: %s", r.body);
  rbt_http_reply_free(&r);
  return j;
}

static double num(const cJSON *o, const char *name) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsNumber(x)) fail_msg("%s missing or not a number", name);
  return x->valuedouble;
}

static const char *str(const cJSON *o, const char *name) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(x) ? x->valuestring : NULL;
}

static void expected_value(char *buf, int size, unsigned key) {
  for (int j = 0; j < size; j++) buf[j] = (char)('a' + (int)((key + (unsigned)j) % 26));
  buf[size] = '\0';
}

struct fixture {
  struct rbt_proc redis;
  struct rbt_proc action;
  redisContext *rc;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!rbt_redis_start(&f->redis, NULL)) return -1;
  char env[64];
  snprintf(env, sizeof env, "REDIS_PORT=%d", f->redis.port);
  char *extra[] = {env, NULL};
  if (!rbt_action_start(&f->action, extra)) return -1;
  f->rc = rbt_redis_connect(f->redis.port, NULL);
  *state = f;
  return f->rc ? 0 : -1;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  if (f->rc) redisFree(f->rc);
  int rc = rbt_action_stop_checked(&f->action);
  rbt_proc_stop(&f->redis, SIGTERM);
  free(f);
  return rc;
}

static void test_every_operation_direct(void **state) {
  struct fixture *f = *state;
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"num_ops\":60,\"operation_type\":\"set\",\"parallel_calls\":4,"
                 "\"key_prefix\":\"ops\",\"value_size\":37}}");
  assert_null(str(j, "error"));
  assert_int_equal(num(j, "succeeded"), 60);
  assert_int_equal(num(j, "failed"), 0);
  assert_string_equal(str(j, "target"), "redis");
  cJSON_Delete(j);
  char want[64];
  for (unsigned i = 0; i < 60; i++) {
    redisReply *r = redisCommand(f->rc, "GET ops:%u", i);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    expected_value(want, 37, i);
    assert_string_equal(r->str, want);
    freeReplyObject(r);
  }
  j = run(f->action.port,
          "{\"value\":{\"num_ops\":60,\"operation_type\":\"get\",\"parallel_calls\":3,\"key_"
          "prefix\":\"ops\"}}");
  assert_int_equal(num(j, "succeeded"), 60);
  assert_int_equal(num(j, "found"), 60);
  cJSON_Delete(j);
  j = run(f->action.port,
          "{\"value\":{\"num_ops\":70,\"operation_type\":\"exists\",\"key_prefix\":\"ops\"}}");
  assert_int_equal(num(j, "succeeded"), 70);
  assert_int_equal(num(j, "found"), 60); /* ops:60..69 do not exist */
  cJSON_Delete(j);
  j = run(f->action.port,
          "{\"value\":{\"num_ops\":60,\"operation_type\":\"del\",\"parallel_calls\":2,\"key_"
          "prefix\":\"ops\"}}");
  assert_int_equal(num(j, "succeeded"), 60);
  assert_int_equal(num(j, "found"), 60);
  cJSON_Delete(j);
  redisReply *r = redisCommand(f->rc, "EXISTS ops:0 ops:30 ops:59");
  assert_int_equal(r->integer, 0);
  freeReplyObject(r);
  /* key_space: 10 ops over 3 keys. */
  j = run(f->action.port,
          "{\"value\":{\"num_ops\":10,\"key_space\":3,\"key_prefix\":\"ks\",\"value_size\":0}}");
  assert_int_equal(num(j, "succeeded"), 10);
  cJSON_Delete(j);
  r = redisCommand(f->rc, "KEYS ks:*");
  assert_int_equal(r->elements, 3);
  freeReplyObject(r);
  r = redisCommand(f->rc, "STRLEN ks:2");
  assert_int_equal(r->integer, 0);
  freeReplyObject(r);
}

static long long total_connections(redisContext *rc) {
  redisReply *r = redisCommand(rc, "INFO stats");
  const char *p = strstr(r->str, "total_connections_received:");
  long long v = p ? atoll(p + 27) : -1;
  freeReplyObject(r);
  return v;
}

static void test_warm_reuse(void **state) {
  struct fixture *f = *state;
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"num_ops\":20,\"parallel_calls\":5,\"key_prefix\":\"warm\"}}");
  assert_int_equal(num(j, "succeeded"), 20);
  cJSON_Delete(j);
  long long before = total_connections(f->rc);
  j = run(f->action.port,
          "{\"value\":{\"num_ops\":20,\"parallel_calls\":5,\"key_prefix\":\"warm\"}}");
  assert_int_equal(num(j, "succeeded"), 20);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "warm")));
  assert_int_equal(num(j, "connections_reused"), 5);
  assert_int_equal(num(j, "connections_new"), 0);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "cold")));
  cJSON_Delete(j);
  assert_int_equal(total_connections(f->rc), before); /* no new connection reached Redis */
  /* More parallel calls than before: the pool grows, old connections are kept. */
  j = run(f->action.port,
          "{\"value\":{\"num_ops\":20,\"parallel_calls\":7,\"key_prefix\":\"warm\"}}");
  assert_int_equal(num(j, "connections_reused"), 5);
  assert_int_equal(num(j, "connections_new"), 2);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "warm")));
  cJSON_Delete(j);
}

static void test_redis_outage_and_recovery(void **state) {
  struct fixture *f = *state;
  cJSON *j = run(f->action.port, "{\"value\":{\"num_ops\":10,\"parallel_calls\":2}}");
  assert_int_equal(num(j, "succeeded"), 10);
  cJSON_Delete(j);
  rbt_proc_stop(&f->redis, SIGTERM);
  uint64_t t0 = rb_clock_mono_ns();
  j = run(f->action.port, "{\"value\":{\"num_ops\":10,\"parallel_calls\":2}}");
  uint64_t took_ms = (rb_clock_mono_ns() - t0) / 1000000;
  assert_true(took_ms < 1000);
  assert_int_equal(num(j, "succeeded"), 0);
  assert_int_equal(num(j, "failed"), 10);
  const char *err = str(j, "error");
  assert_non_null(err);
  assert_non_null(strstr(err, "Connection refused"));
  cJSON_Delete(j);
  assert_true(rbt_redis_restart(&f->redis, NULL));
  redisFree(f->rc);
  f->rc = rbt_redis_connect(f->redis.port, NULL);
  j = run(f->action.port, "{\"value\":{\"num_ops\":10,\"parallel_calls\":2}}");
  assert_null(str(j, "error"));
  assert_int_equal(num(j, "succeeded"), 10);
  cJSON_Delete(j);
}

struct bg_run {
  int port;
  cJSON *result;
};

static void *bg_run_thread(void *arg) {
  struct bg_run *b = arg;
  b->result = run(
      b->port,
      "{\"value\":{\"num_ops\":1000000,\"parallel_calls\":4,\"value_size\":8,\"key_space\":1000}}");
  return NULL;
}

static void test_redis_killed_mid_activation(void **state) {
  struct fixture *f = *state;
  struct bg_run b = {.port = f->action.port};
  pthread_t t;
  pthread_create(&t, NULL, bg_run_thread, &b);
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  uint64_t t0 = rb_clock_mono_ns();
  rbt_proc_stop(&f->redis, SIGKILL);
  pthread_join(t, NULL);
  assert_true((rb_clock_mono_ns() - t0) / 1000000 < 3000); /* no hang */
  cJSON *j = b.result;
  assert_true(num(j, "failed") > 0);
  assert_int_equal(num(j, "succeeded") + num(j, "failed"), 1000000);
  assert_non_null(str(j, "error"));
  cJSON_Delete(j);
  assert_true(rbt_redis_restart(&f->redis, NULL));
  redisFree(f->rc);
  f->rc = rbt_redis_connect(f->redis.port, NULL);
  j = run(f->action.port, "{\"value\":{\"num_ops\":8,\"parallel_calls\":4}}");
  assert_int_equal(num(j, "succeeded"), 8);
  cJSON_Delete(j);
}

/* A TCP listener that never accepts or answers: connects succeed (backlog), replies never come. */
static int blackhole(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 64), 0);
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  *port = ntohs(sa.sin_port);
  return fd;
}

static void test_call_timeout_and_deadline(void **state) {
  struct fixture *f = *state;
  int port;
  int fd = blackhole(&port);
  uint64_t t0 = rb_clock_mono_ns();
  cJSON *j =
      run(f->action.port, "{\"value\":{\"num_ops\":5,\"redis_port\":%d,\"timeout_ms\":200}}", port);
  uint64_t took = (rb_clock_mono_ns() - t0) / 1000000;
  assert_true(took >= 200 && took < 1500);
  assert_int_equal(num(j, "failed"), 5);
  assert_non_null(strstr(str(j, "error"), "timed out after 200 ms waiting for the reply"));
  cJSON_Delete(j);
  /* The activation deadline (__OW_DEADLINE) stops it before the per-call timeout. */
  long long deadline = rb_clock_wall_ms() + 400;
  t0 = rb_clock_mono_ns();
  j = run(
      f->action.port,
      "{\"value\":{\"num_ops\":5,\"redis_port\":%d,\"timeout_ms\":10000},\"deadline\":\"%lld\"}",
      port, deadline);
  took = (rb_clock_mono_ns() - t0) / 1000000;
  assert_true(took < 400);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "deadline_reached")));
  assert_int_equal(num(j, "failed"), 5);
  assert_non_null(strstr(str(j, "error"), "activation deadline reached"));
  cJSON_Delete(j);
  j = run(f->action.port, "{\"value\":{\"num_ops\":5},\"deadline\":\"%lld\"}",
          (long long)rb_clock_wall_ms() - 10);
  assert_non_null(strstr(str(j, "error"), "activation deadline already passed"));
  cJSON_Delete(j);
  close(fd);
}

struct conc {
  int port;
  int idx;
  cJSON *result;
};

static void *conc_thread(void *arg) {
  struct conc *c = arg;
  c->result = run(c->port,
                  "{\"value\":{\"num_ops\":500,\"parallel_calls\":3,\"key_prefix\":\"conc%d\","
                  "\"value_size\":5}}",
                  c->idx);
  return NULL;
}

static void test_concurrent_activations(void **state) {
  struct fixture *f = *state;
  struct conc c[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    c[i] = (struct conc){.port = f->action.port, .idx = i};
    pthread_create(&t[i], NULL, conc_thread, &c[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_null(str(c[i].result, "error"));
    assert_int_equal(num(c[i].result, "succeeded"), 500);
    cJSON_Delete(c[i].result);
  }
  char want[8];
  for (int i = 0; i < 4; i++) {
    for (unsigned k = 0; k < 500; k += 7) {
      redisReply *r = redisCommand(f->rc, "GET conc%d:%u", i, k);
      expected_value(want, 5, k);
      assert_int_equal(r->type, REDIS_REPLY_STRING);
      assert_string_equal(r->str, want);
      freeReplyObject(r);
    }
  }
}

static void test_passwords(void **state) {
  (void)state;
  struct rbt_proc redis = {0}, action = {0};
  const char *pw = "Sup3r-Secret-PW";
  assert_true(rbt_redis_start(&redis, pw));
  char env_port[64], env_pw[96];
  snprintf(env_port, sizeof env_port, "REDIS_PORT=%d", redis.port);
  snprintf(env_pw, sizeof env_pw, "REDIS_PASSWORD=%s", pw);
  char *extra[] = {env_port, NULL};
  assert_true(rbt_action_start(&action, extra));
  /* No password: Redis says NOAUTH for every op. */
  cJSON *j = run(action.port, "{\"value\":{\"num_ops\":3}}");
  assert_int_equal(num(j, "failed"), 3);
  assert_non_null(strstr(str(j, "error"), "NOAUTH"));
  cJSON_Delete(j);
  /* Wrong password: AUTH fails, the error says so, and no password leaks. */
  j = run(action.port, "{\"value\":{\"num_ops\":3,\"redis_password\":\"wrong-pw-123\"}}");
  assert_int_equal(num(j, "failed"), 3);
  assert_non_null(strstr(str(j, "error"), "AUTH failed"));
  char *text = rb_json_print(j);
  assert_null(strstr(text, "wrong-pw-123"));
  free(text);
  cJSON_Delete(j);
  /* Right password from the parameters, then from /init's env; then warm with AUTH kept. */
  j = run(action.port, "{\"value\":{\"num_ops\":3,\"redis_password\":\"%s\"}}", pw);
  assert_null(str(j, "error"));
  assert_int_equal(num(j, "succeeded"), 3);
  text = rb_json_print(j);
  assert_null(strstr(text, pw));
  free(text);
  cJSON_Delete(j);
  char init[256];
  snprintf(init, sizeof init, "{\"value\":{\"env\":{\"REDIS_PASSWORD\":\"%s\"}}}", pw);
  struct rbt_http_reply r;
  assert_true(rbt_http(action.port, "POST", "/init", init, strlen(init), &r));
  assert_int_equal(r.status, 200);
  rbt_http_reply_free(&r);
  j = run(action.port, "{\"value\":{\"num_ops\":4,\"parallel_calls\":2}}");
  assert_int_equal(num(j, "succeeded"), 4);
  cJSON_Delete(j);
  j = run(action.port, "{\"value\":{\"num_ops\":4,\"parallel_calls\":2}}");
  assert_int_equal(num(j, "succeeded"), 4);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "warm")));
  cJSON_Delete(j);
  assert_int_equal(rbt_action_stop_checked(&action), 0);
  char *log = rbt_proc_log(&action);
  assert_null(strstr(log, pw));
  assert_null(strstr(log, "wrong-pw-123"));
  free(log);
  rbt_proc_stop(&redis, SIGTERM);
  (void)env_pw;
}

static void test_batched_through_resp_proxy(void **state) {
  struct fixture *f = *state;
  struct rbt_proc proxy = {0};
  char conf[256];
  assert_true(rbt_nutcracker_start(&proxy, f->redis.port, conf, sizeof conf));
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"num_ops\":200,\"use_batching\":\"true\",\"parallel_calls\":8,"
                 "\"agent_port\":%d,\"key_prefix\":\"batched\",\"value_size\":12}}",
                 proxy.port);
  assert_null(str(j, "error"));
  assert_int_equal(num(j, "succeeded"), 200);
  assert_string_equal(str(j, "target"), "agent");
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", proxy.port);
  assert_string_equal(str(j, "target_address"), addr);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "use_batching")));
  cJSON_Delete(j);
  char want[16];
  for (unsigned k = 0; k < 200; k += 13) {
    redisReply *r = redisCommand(f->rc, "GET batched:%u", k);
    expected_value(want, 12, k);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, want);
    freeReplyObject(r);
  }
  j = run(f->action.port,
          "{\"value\":{\"num_ops\":200,\"operation_type\":\"get\",\"use_batching\":true,\"parallel_"
          "calls\":8,"
          "\"agent_port\":%d,\"key_prefix\":\"batched\"}}",
          proxy.port);
  assert_int_equal(num(j, "found"), 200);
  cJSON_Delete(j);
  /* Batched mode uses the agent address only: with the proxy gone, ops fail even though
   * Redis is up. */
  rbt_proc_stop(&proxy, SIGTERM);
  j = run(f->action.port, "{\"value\":{\"num_ops\":3,\"use_batching\":true,\"agent_port\":%d}}",
          proxy.port);
  assert_int_equal(num(j, "failed"), 3);
  cJSON_Delete(j);
  unlink(conf);
}

/* ---- workloads (issue 20) ------------------------------------------------------------ */

static const cJSON *obj(const cJSON *o, const char *name) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsObject(x)) fail_msg("%s missing or not an object", name);
  return x;
}

static long long redis_int(redisContext *rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(rc, fmt, ap);
  va_end(ap);
  if (!r || r->type != REDIS_REPLY_INTEGER) fail_msg("%s: not an integer reply", fmt);
  long long v = r->integer;
  freeReplyObject(r);
  return v;
}

/* Checks an activation's op_stats: every type's counts and histogram agree, and they add up
 * to the activation's totals. Returns the number of types. */
static int check_op_stats(const cJSON *j) {
  const cJSON *s = obj(j, "op_stats"), *e;
  double succeeded = 0, failed = 0, found = 0;
  int types = 0;
  cJSON_ArrayForEach(e, s) {
    enum rb_op op;
    assert_true(rb_op_from_name(e->string, strlen(e->string), &op));
    const cJSON *h = obj(e, "latency_us");
    assert_int_equal(num(h, "count"), num(e, "succeeded"));
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(h, "buckets")));
    succeeded += num(e, "succeeded");
    failed += num(e, "failed");
    found += num(e, "found");
    types++;
  }
  assert_int_equal(succeeded, num(j, "succeeded"));
  assert_int_equal(failed, num(j, "failed"));
  assert_int_equal(found, num(j, "found"));
  assert_int_equal(succeeded + failed, num(j, "num_ops"));
  return types;
}

static void test_prepare_then_every_operation(void **state) {
  struct fixture *f = *state;
  const char *w =
      "\"key_prefix\":\"wl\",\"key_space\":50,\"structure_size\":30,\"range_span\":7,"
      "\"value_size\":20,\"keys_per_command\":5";
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"prepare\":true,\"mix\":\"get:1,exists:1,mget:1,hget:1,hgetall:1,"
                 "lrange:1,smembers:1,zrangebyscore:1\",%s}}",
                 w);
  assert_null(str(j, "error"));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "prepare")));
  assert_null(cJSON_GetObjectItem(j, "op_stats"));
  const cJSON *pr = obj(j, "prepared");
  assert_int_equal(num(pr, "keys"), 5 * 50);
  assert_int_equal(num(pr, "elements"), 50 + 4 * 50 * 30);
  char *ns = rb_json_print(cJSON_GetObjectItem(pr, "namespaces"));
  assert_string_equal(ns, "[\"string\",\"hash\",\"list\",\"set\",\"zset\"]");
  free(ns);
  cJSON_Delete(j);
  /* what is in Redis: sizes, members, scores and values */
  char want[32];
  for (unsigned k = 0; k < 50; k += 7) {
    redisReply *r = redisCommand(f->rc, "GET wl:%u", k);
    expected_value(want, 20, k);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, want);
    freeReplyObject(r);
    assert_int_equal(redis_int(f->rc, "HLEN wl:h:%u", k), 30);
    assert_int_equal(redis_int(f->rc, "LLEN wl:l:%u", k), 30);
    assert_int_equal(redis_int(f->rc, "SCARD wl:s:%u", k), 30);
    assert_int_equal(redis_int(f->rc, "ZCARD wl:z:%u", k), 30);
    assert_int_equal(redis_int(f->rc, "SISMEMBER wl:s:%u m29", k), 1);
    assert_int_equal(redis_int(f->rc, "EXISTS wl:n:%u wl:%u", k, k), 1); /* no counters */
  }
  redisReply *r = redisCommand(f->rc, "ZSCORE wl:z:3 m17");
  assert_string_equal(r->str, "17");
  freeReplyObject(r);
  r = redisCommand(f->rc, "HGET wl:h:9 f3");
  expected_value(want, 20, 3);
  assert_string_equal(r->str, want);
  freeReplyObject(r);
  r = redisCommand(f->rc, "LINDEX wl:l:9 29");
  expected_value(want, 20, 29);
  assert_string_equal(r->str, want);
  freeReplyObject(r);
  /* every operation alone, reads first: 40 operations each, found what reads must find */
  static const struct {
    const char *op;
    double found; /* -1: not checked */
  } ops[] = {
      {"get", 40},          {"exists", 40},     {"mget", 40 * 5},      {"hget", 40},
      {"hgetall", 40 * 30}, {"lrange", 40 * 7}, {"smembers", 40 * 30}, {"zrangebyscore", 40 * 7},
      {"eval", 0},          {"set", 0},         {"mset", 0},           {"incr", 0},
      {"hset", 0},          {"lpush", 0},       {"sadd", 0},           {"zadd", 0},
      {"del", 40}};
  assert_int_equal(sizeof ops / sizeof ops[0], RB_OP_COUNT);
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    j = run(f->action.port,
            "{\"value\":{\"num_ops\":40,\"parallel_calls\":3,\"operation_type\":\"%s\",%s}}",
            ops[i].op, w);
    if (str(j, "error")) fail_msg("%s: %s", ops[i].op, str(j, "error"));
    assert_string_equal(str(j, "operation"), ops[i].op);
    assert_int_equal(num(j, "succeeded"), 40);
    assert_int_equal(check_op_stats(j), 1);
    const cJSON *e = obj(obj(j, "op_stats"), ops[i].op);
    assert_int_equal(num(e, "succeeded"), 40);
    if (num(e, "found") != ops[i].found)
      fail_msg("%s found %g, want %g", ops[i].op, num(e, "found"), ops[i].found);
    cJSON_Delete(j);
  }
  /* the writes did what they say */
  assert_int_equal(redis_int(f->rc, "EXISTS wl:0 wl:39"), 0); /* del after set */
  assert_int_equal(redis_int(f->rc, "EXISTS wl:40 wl:49"), 2);
  r = redisCommand(f->rc, "GET wl:n:39");
  assert_string_equal(r->str, "1");
  freeReplyObject(r);
  long long pushed = 0;
  for (unsigned k = 0; k < 50; k++) pushed += redis_int(f->rc, "LLEN wl:l:%u", k);
  assert_int_equal(pushed, 50 * 30 + 40);
  assert_int_equal(redis_int(f->rc, "HLEN wl:h:0"), 30); /* hset writes fields f0..f29 */
  /* prepare again: the same data as the first time (lists back to 30 elements) */
  j = run(f->action.port, "{\"value\":{\"prepare\":true,\"mix\":\"lrange:1,get:1\",%s}}", w);
  assert_null(str(j, "error"));
  assert_int_equal(num(obj(j, "prepared"), "keys"), 100);
  cJSON_Delete(j);
  for (unsigned k = 0; k < 50; k++) assert_int_equal(redis_int(f->rc, "LLEN wl:l:%u", k), 30);
  assert_int_equal(redis_int(f->rc, "EXISTS wl:0 wl:39"), 2);
}

static void test_prepare_range_size_and_speed(void **state) {
  struct fixture *f = *state;
  /* a key range: only keys 10..14 of the strings, with the range's smallest size */
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"prepare\":true,\"operation_type\":\"get\",\"key_prefix\":\"pr\","
                 "\"key_space\":100,\"prepare_first\":10,\"prepare_count\":5,"
                 "\"value_size_range\":\"12-500\"}}");
  assert_null(str(j, "error"));
  assert_int_equal(num(obj(j, "prepared"), "keys"), 5);
  cJSON_Delete(j);
  redisReply *r = redisCommand(f->rc, "KEYS pr:*");
  assert_int_equal(r->elements, 5);
  freeReplyObject(r);
  assert_int_equal(redis_int(f->rc, "EXISTS pr:9 pr:10 pr:14 pr:15"), 2);
  assert_int_equal(redis_int(f->rc, "STRLEN pr:12"), 12);
  /* nothing to prepare for a write-only mix */
  j = run(f->action.port, "{\"value\":{\"prepare\":true,\"mix\":\"set:1,lpush:1\"}}");
  assert_null(str(j, "error"));
  assert_int_equal(num(obj(j, "prepared"), "keys"), 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(obj(j, "prepared"), "namespaces")), 0);
  cJSON_Delete(j);
  /* 100,000 elements over one connection, well under a second (each structure is split
   * into two commands) */
  uint64_t t0 = rb_clock_mono_ns();
  j = run(f->action.port,
          "{\"value\":{\"prepare\":true,\"mix\":\"hgetall:1,smembers:1\",\"key_prefix\":\"big\","
          "\"key_space\":40,\"structure_size\":1250,\"value_size\":8}}");
  uint64_t took_ms = (rb_clock_mono_ns() - t0) / 1000000;
  assert_null(str(j, "error"));
  assert_int_equal(num(obj(j, "prepared"), "elements"), 100000);
  print_message("prepared 100000 elements in %llu ms (elapsed_us %g)\n",
                (unsigned long long)took_ms, num(j, "elapsed_us"));
  assert_true(took_ms < 1000);
  cJSON_Delete(j);
  assert_int_equal(redis_int(f->rc, "HLEN big:h:39"), 1250);
  assert_int_equal(redis_int(f->rc, "SCARD big:s:0"), 1250);
  /* Redis down: an error like any other, naming the address parameters */
  rbt_proc_stop(&f->redis, SIGTERM);
  j = run(f->action.port, "{\"value\":{\"prepare\":true,\"operation_type\":\"get\"}}");
  const char *err = str(j, "error");
  assert_non_null(err);
  assert_non_null(strstr(err, "prepare failed (127.0.0.1:"));
  assert_non_null(strstr(err, "Connection refused"));
  assert_non_null(strstr(err, "redis_host and redis_port"));
  assert_null(cJSON_GetObjectItem(j, "op_stats"));
  cJSON_Delete(j);
  assert_true(rbt_redis_restart(&f->redis, NULL));
  redisFree(f->rc);
  f->rc = rbt_redis_connect(f->redis.port, NULL);
}

static void test_mix_shares_and_op_stats(void **state) {
  struct fixture *f = *state;
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"num_ops\":20000,\"parallel_calls\":4,\"mix\":\"get:60,set:30,"
                 "incr:10\",\"key_distribution\":\"uniform\",\"key_space\":1000,\"seed\":3,"
                 "\"key_prefix\":\"mix\"}}");
  assert_null(str(j, "error"));
  assert_string_equal(str(j, "operation"), "mix");
  assert_int_equal(num(j, "succeeded"), 20000);
  assert_int_equal(check_op_stats(j), 3);
  const cJSON *s = obj(j, "op_stats");
  double get = num(obj(s, "get"), "succeeded") / 20000;
  double set = num(obj(s, "set"), "succeeded") / 20000;
  double incr = num(obj(s, "incr"), "succeeded") / 20000;
  print_message("realised mix: get %.4f set %.4f incr %.4f\n", get, set, incr);
  /* binomial standard deviations are 0.0035, 0.0032 and 0.0021: 0.015 is over 4 of them */
  assert_true(get > 0.585 && get < 0.615);
  assert_true(set > 0.285 && set < 0.315);
  assert_true(incr > 0.085 && incr < 0.115);
  const cJSON *wl = obj(j, "workload");
  assert_string_equal(str(wl, "mix"), "set:30,get:60,incr:10");
  assert_string_equal(str(wl, "key_distribution"), "uniform");
  assert_int_equal(num(j, "seed"), 3);
  assert_int_equal(num(j, "invocation"), 0);
  cJSON_Delete(j);
  /* counters count: every incr of the run is in the counters */
  long long total = 0;
  redisReply *r = redisCommand(f->rc, "KEYS mix:n:*");
  for (size_t i = 0; i < r->elements; i++) {
    redisReply *v = redisCommand(f->rc, "GET %s", r->element[i]->str);
    total += atoll(v->str);
    freeReplyObject(v);
  }
  freeReplyObject(r);
  assert_int_equal(total, (long long)(incr * 20000 + 0.5));
}

/* The action's operation j of invocation k is rb_workload_draw(w, k, j): the keys it wrote
 * are exactly the drawn ones, with the drawn sizes; draw_digest is a function of the draws. */
static void test_draws_and_digest(void **state) {
  struct fixture *f = *state;
  const char *params =
      "\"num_ops\":300,\"key_prefix\":\"dr\","
      "\"key_distribution\":\"zipfian\",\"zipf_exponent\":0.8,"
      "\"key_space\":100000,\"value_size_list\":\"3:1,40:2,777:1\"";
  cJSON *j = run(f->action.port,
                 "{\"value\":{%s,\"seed\":99,\"invocation\":4,\"parallel_calls\":5}}", params);
  assert_null(str(j, "error"));
  char digest[17];
  snprintf(digest, sizeof digest, "%s", str(j, "draw_digest"));
  assert_int_equal(strlen(digest), 16);
  assert_int_equal(strspn(digest, "0123456789abcdef"), 16);
  cJSON_Delete(j);
  struct rb_workload w;
  char err[256];
  size_t at;
  rb_workload_defaults(&w);
  w.ops = 300;
  w.key_space = 100000;
  w.keydist = RB_KEYS_ZIPFIAN;
  w.zipf_exponent = 0.8;
  w.seed = 99;
  assert_int_equal(rb_workload_parse_size_list("3:1,40:2,777:1", &w.sizes, &at, err, sizeof err),
                   RB_OK);
  assert_int_equal(rb_workload_check(&w, err, sizeof err), RB_OK);
  /* the last write of each drawn key decides its size */
  static uint32_t size_of[100000];
  static bool drawn[100000];
  size_t distinct = 0;
  for (uint64_t op = 0; op < 300; op++) {
    struct rb_op_draw d;
    rb_workload_draw(&w, 4, op, &d);
    assert_int_equal(d.op, RB_OP_SET);
    distinct += !drawn[d.key[0]];
    drawn[d.key[0]] = true;
    size_of[d.key[0]] = d.value_size;
  }
  redisReply *r = redisCommand(f->rc, "KEYS dr:*");
  assert_int_equal(r->elements, distinct);
  for (size_t i = 0; i < r->elements; i++) {
    unsigned long k = strtoul(r->element[i]->str + 3, NULL, 10);
    assert_true(k < 100000 && drawn[k]);
    assert_int_equal(redis_int(f->rc, "STRLEN %s", r->element[i]->str), size_of[k]);
  }
  freeReplyObject(r);
  /* same seed and invocation: the same digest (even with other connections); another
   * invocation or seed: another */
  j = run(f->action.port, "{\"value\":{%s,\"seed\":99,\"invocation\":4,\"parallel_calls\":1}}",
          params);
  assert_string_equal(str(j, "draw_digest"), digest);
  cJSON_Delete(j);
  j = run(f->action.port, "{\"value\":{%s,\"seed\":99,\"invocation\":5}}", params);
  assert_string_not_equal(str(j, "draw_digest"), digest);
  cJSON_Delete(j);
  j = run(f->action.port, "{\"value\":{%s,\"seed\":100,\"invocation\":4}}", params);
  assert_string_not_equal(str(j, "draw_digest"), digest);
  cJSON_Delete(j);
}

static double eval_p50(int port, long long work) {
  cJSON *j = run(port,
                 "{\"value\":{\"num_ops\":15,\"operation_type\":\"eval\",\"script_work\":%lld,"
                 "\"key_prefix\":\"ev\"}}",
                 work);
  assert_null(str(j, "error"));
  assert_int_equal(num(obj(obj(j, "op_stats"), "eval"), "succeeded"), 15);
  assert_int_equal(num(obj(j, "workload"), "script_work"), work);
  double p50 = num(obj(j, "latency_us"), "p50");
  cJSON_Delete(j);
  return p50;
}

static void test_eval_work_costs_redis_time(void **state) {
  struct fixture *f = *state;
  double light = eval_p50(f->action.port, 0);
  double heavy = eval_p50(f->action.port, 200000);
  print_message("eval p50: script_work 0: %.0f us, 200000: %.0f us\n", light, heavy);
  assert_true(heavy > 2 * light);
  /* the script ran: its result is deterministic, the loop left no key behind */
  redisReply *r = redisCommand(f->rc, "EVAL %s 1 ev:0 3", RB_EVAL_SCRIPT);
  assert_int_equal(r->type, REDIS_REPLY_INTEGER);
  freeReplyObject(r);
  assert_int_equal(redis_int(f->rc, "EXISTS ev:0"), 0);
}

/* A server that answers +OK to the first command of one connection, then closes it. */
static void *ok_server(void *arg) {
  int lfd = *(int *)arg;
  int fd = accept(lfd, NULL, NULL);
  char buf[4096];
  struct timeval tv = {.tv_sec = 5};
  if (fd < 0) return NULL;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (recv(fd, buf, sizeof buf, 0) > 0) (void)!send(fd, "+OK\r\n", 5, MSG_NOSIGNAL);
  close(fd);
  return NULL;
}

static int blackhole(int *port);

static void test_reply_types_checked(void **state) {
  struct fixture *f = *state;
  /* WRONGTYPE: a string where a hash is expected fails that operation, counted by type */
  redisReply *r = redisCommand(f->rc, "SET wt:h:0 x");
  freeReplyObject(r);
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"num_ops\":4,\"mix\":\"hgetall:1\",\"key_prefix\":\"wt\","
                 "\"key_space\":2}}");
  assert_int_equal(num(j, "failed"), 2);
  assert_int_equal(num(j, "succeeded"), 2);
  assert_non_null(strstr(str(j, "error"), "WRONGTYPE"));
  assert_int_equal(num(obj(obj(j, "op_stats"), "hgetall"), "failed"), 2);
  check_op_stats(j);
  cJSON_Delete(j);
  /* a reply of the wrong type is a failure that says what was expected */
  int port;
  int lfd = blackhole(&port);
  pthread_t t;
  pthread_create(&t, NULL, ok_server, &lfd);
  j = run(f->action.port,
          "{\"value\":{\"num_ops\":1,\"operation_type\":\"get\",\"redis_port\":%d,"
          "\"timeout_ms\":2000}}",
          port);
  assert_int_equal(num(j, "failed"), 1);
  assert_non_null(
      strstr(str(j, "error"), "unexpected reply to get: a status (expected a string or nil)"));
  assert_int_equal(num(obj(obj(j, "op_stats"), "get"), "failed"), 1);
  cJSON_Delete(j);
  shutdown(lfd, SHUT_RDWR);
  close(lfd);
  pthread_join(t, NULL);
}

/* Prepare mode keeps timeout_ms and the activation's deadline like the operations do. */
static void test_prepare_timeout_and_deadline(void **state) {
  struct fixture *f = *state;
  int port;
  int fd = blackhole(&port);
  uint64_t t0 = rb_clock_mono_ns();
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"prepare\":true,\"operation_type\":\"get\",\"redis_port\":%d,"
                 "\"timeout_ms\":200}}",
                 port);
  uint64_t took = (rb_clock_mono_ns() - t0) / 1000000;
  assert_true(took >= 200 && took < 1500);
  assert_non_null(strstr(str(j, "error"), "timed out after 200 ms waiting for the reply"));
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "deadline_reached")));
  cJSON_Delete(j);
  long long deadline = rb_clock_wall_ms() + 400;
  t0 = rb_clock_mono_ns();
  j = run(f->action.port,
          "{\"value\":{\"prepare\":true,\"operation_type\":\"get\",\"redis_port\":%d,"
          "\"timeout_ms\":10000},\"deadline\":\"%lld\"}",
          port, deadline);
  took = (rb_clock_mono_ns() - t0) / 1000000;
  assert_true(took < 400);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "deadline_reached")));
  assert_non_null(strstr(str(j, "error"), "prepare failed"));
  assert_non_null(strstr(str(j, "error"), "activation deadline reached"));
  cJSON_Delete(j);
  j = run(f->action.port,
          "{\"value\":{\"prepare\":true,\"operation_type\":\"get\"},\"deadline\":\"%lld\"}",
          (long long)rb_clock_wall_ms() - 10);
  assert_non_null(strstr(str(j, "error"), "activation deadline already passed"));
  cJSON_Delete(j);
  close(fd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_every_operation_direct, setup, teardown),
      cmocka_unit_test_setup_teardown(test_warm_reuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_redis_outage_and_recovery, setup, teardown),
      cmocka_unit_test_setup_teardown(test_redis_killed_mid_activation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_call_timeout_and_deadline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_activations, setup, teardown),
      cmocka_unit_test(test_passwords),
      cmocka_unit_test_setup_teardown(test_batched_through_resp_proxy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prepare_then_every_operation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prepare_range_size_and_speed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mix_shares_and_op_stats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_draws_and_digest, setup, teardown),
      cmocka_unit_test_setup_teardown(test_eval_work_costs_redis_time, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reply_types_checked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prepare_timeout_and_deadline, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
