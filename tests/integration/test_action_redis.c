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
#include <time.h>
#include <unistd.h>

#include "rb_clock.h"
#include "rb_json.h"
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
