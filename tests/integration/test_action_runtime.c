/* test_action_runtime.c: placement runtime (the action's own batcher) end to end over HTTP
 * against a real redis-server: 8 concurrent activations of a mix of all 17 operations give,
 * activation by activation and key by key, what the direct placement gives; the result's
 * placement and batch fields; an activation's deadline leaves the others (on the same shared
 * connection) untouched and its late replies are dropped, not misrouted; Redis killed and
 * restarted; the parameters that contradict each other. */
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
#include "rb_workload.h"
#include "rbt.h"

#define ACTS 8

static cJSON *run(int port, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static cJSON *run(int port, const char *fmt, ...) {
  char body[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  struct rbt_http_reply r;
  assert_true(rbt_http(port, "POST", "/run", body, strlen(body), &r));
  assert_int_equal(r.status, 200);
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

/* ---- Redis's content, canonical (independent of encodings and hash orders) --------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
  if (*len + n + 2 > *cap) {
    *cap = (*len + n + 2) * 2;
    *buf = realloc(*buf, *cap);
  }
  memcpy(*buf + *len, s, n);
  *len += n;
  (*buf)[(*len)++] = '|';
  (*buf)[*len] = '\0';
}

/* Every key of prefix with its type and content, sorted where Redis has no order. */
static char *snapshot(redisContext *rc, const char *prefix) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  redisReply *keys = redisCommand(rc, "KEYS %s:*", prefix);
  assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
  char **names = calloc(keys->elements + 1, sizeof *names);
  for (size_t i = 0; i < keys->elements; i++) names[i] = keys->element[i]->str;
  qsort(names, keys->elements, sizeof *names, cmp_str);
  append(&buf, &len, &cap, "", 0);
  for (size_t i = 0; i < keys->elements; i++) {
    const char *k = names[i];
    append(&buf, &len, &cap, k, strlen(k));
    redisReply *t = redisCommand(rc, "TYPE %s", k);
    append(&buf, &len, &cap, t->str, strlen(t->str));
    redisReply *v = NULL;
    bool sort = false;
    if (strcmp(t->str, "string") == 0) v = redisCommand(rc, "GET %s", k);
    else if (strcmp(t->str, "list") == 0) v = redisCommand(rc, "LRANGE %s 0 -1", k);
    else if (strcmp(t->str, "zset") == 0) v = redisCommand(rc, "ZRANGE %s 0 -1 WITHSCORES", k);
    else if (strcmp(t->str, "set") == 0) v = redisCommand(rc, "SMEMBERS %s", k), sort = true;
    else if (strcmp(t->str, "hash") == 0) v = redisCommand(rc, "HGETALL %s", k);
    else fail_msg("unexpected type %s of %s", t->str, k);
    if (v->type == REDIS_REPLY_STRING) {
      append(&buf, &len, &cap, v->str, v->len);
    } else {
      assert_int_equal(v->type, REDIS_REPLY_ARRAY);
      bool hash = strcmp(t->str, "hash") == 0;
      size_t n = hash ? v->elements / 2 : v->elements;
      char **items = calloc(n + 1, sizeof *items);
      for (size_t e = 0; e < n; e++) {
        if (hash) {
          items[e] = malloc(v->element[2 * e]->len + v->element[2 * e + 1]->len + 2);
          sprintf(items[e], "%s=%s", v->element[2 * e]->str, v->element[2 * e + 1]->str);
        } else {
          items[e] = strdup(v->element[e]->str);
        }
      }
      if (sort || hash) qsort(items, n, sizeof *items, cmp_str);
      for (size_t e = 0; e < n; e++) {
        append(&buf, &len, &cap, items[e], strlen(items[e]));
        free(items[e]);
      }
      free(items);
    }
    freeReplyObject(v);
    freeReplyObject(t);
  }
  free(names);
  freeReplyObject(keys);
  return buf;
}

/* ---- 8 concurrent activations of every operation ----------------------------------------- */

#define MIX                                                                                   \
  "set:1,get:1,del:1,exists:1,incr:1,mget:1,mset:1,hset:1,hget:1,hgetall:1,lpush:1,lrange:1," \
  "sadd:1,smembers:1,zadd:1,zrangebyscore:1,eval:1"
#define WORKLOAD                                                                         \
  "\"mix\":\"" MIX                                                                       \
  "\",\"key_space\":25,\"structure_size\":12,\"range_span\":4,"                          \
  "\"value_size_range\":\"3-40\",\"keys_per_command\":3,\"script_work\":20,\"seed\":11," \
  "\"key_distribution\":\"uniform\""

struct act {
  int port;
  int idx;
  const char *extra; /* placement and its parameters */
  int parallel;
  int num_ops;
  cJSON *result;
};

static void *act_thread(void *arg) {
  struct act *a = arg;
  a->result = run(a->port,
                  "{\"value\":{\"num_ops\":%d,\"parallel_calls\":%d,\"key_prefix\":\"act%d\","
                  "\"invocation\":%d,%s,%s}}",
                  a->num_ops, a->parallel, a->idx, a->idx, WORKLOAD, a->extra);
  return NULL;
}

static void run_concurrently(struct fixture *f, const char *extra, int parallel, int num_ops,
                             cJSON *out[ACTS]) {
  struct act a[ACTS];
  pthread_t t[ACTS];
  for (int i = 0; i < ACTS; i++) {
    a[i] = (struct act){
        .port = f->action.port, .idx = i, .extra = extra, .parallel = parallel, .num_ops = num_ops};
    pthread_create(&t[i], NULL, act_thread, &a[i]);
  }
  for (int i = 0; i < ACTS; i++) {
    pthread_join(t[i], NULL);
    out[i] = a[i].result;
  }
}

static void prepare_all(struct fixture *f) {
  redisReply *r = redisCommand(f->rc, "FLUSHALL");
  freeReplyObject(r);
  for (int i = 0; i < ACTS; i++) {
    cJSON *j = run(f->action.port, "{\"value\":{\"prepare\":true,\"key_prefix\":\"act%d\",%s}}", i,
                   WORKLOAD);
    assert_null(str(j, "error"));
    cJSON_Delete(j);
  }
}

static const cJSON *obj(const cJSON *o, const char *name) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsObject(x)) fail_msg("%s missing or not an object", name);
  return x;
}

/* One operation at a time in each activation (parallel_calls 1), each activation its own
 * keys: what every operation found, and what Redis holds after, is determined; the runtime
 * placement (8 activations interleaved on 2 shared connections) must give exactly what the
 * direct placement gives, per activation, per operation type and per key. A reply routed to
 * another activation or another operation changes a count or a key (or fails the check of
 * its type). */
static void test_every_op_runtime_equals_direct(void **state) {
  struct fixture *f = *state;
  enum { OPS = 340 };
  cJSON *direct[ACTS], *runtime[ACTS];
  char *snap_direct[ACTS], *snap_runtime[ACTS];
  prepare_all(f);
  run_concurrently(f, "\"placement\":\"direct\"", 1, OPS, direct);
  for (int i = 0; i < ACTS; i++) {
    char prefix[16];
    snprintf(prefix, sizeof prefix, "act%d", i);
    snap_direct[i] = snapshot(f->rc, prefix);
  }
  prepare_all(f);
  run_concurrently(f,
                   "\"placement\":\"runtime\",\"batch_connections\":2,\"batch_wait_us\":200,"
                   "\"batch_coalesce\":true",
                   1, OPS, runtime);
  for (int i = 0; i < ACTS; i++) {
    char prefix[16];
    snprintf(prefix, sizeof prefix, "act%d", i);
    snap_runtime[i] = snapshot(f->rc, prefix);
  }
  uint64_t pipelines = 0, pipeline_ops = 0;
  for (int i = 0; i < ACTS; i++) {
    const cJSON *d = direct[i], *r = runtime[i];
    if (str(r, "error")) fail_msg("activation %d: %s", i, str(r, "error"));
    assert_null(str(d, "error"));
    assert_string_equal(str(d, "placement"), "direct");
    assert_string_equal(str(r, "placement"), "runtime");
    assert_null(cJSON_GetObjectItem(d, "batch"));
    assert_int_equal(num(r, "succeeded"), OPS);
    assert_int_equal(num(r, "found"), num(d, "found"));
    assert_string_equal(str(r, "draw_digest"), str(d, "draw_digest"));
    const cJSON *sd = obj(d, "op_stats"), *sr = obj(r, "op_stats");
    int types = 0;
    for (int t = 0; t < RB_OP_COUNT; t++) {
      const char *name = rb_op_name((enum rb_op)t);
      const cJSON *ed = cJSON_GetObjectItem(sd, name), *er = cJSON_GetObjectItem(sr, name);
      if (!ed) {
        assert_null(er);
        continue;
      }
      types++;
      assert_non_null(er);
      assert_int_equal(num(er, "succeeded"), num(ed, "succeeded"));
      assert_int_equal(num(er, "failed"), 0);
      if (num(er, "found") != num(ed, "found"))
        fail_msg("activation %d, %s: found %g at runtime, %g direct", i, name, num(er, "found"),
                 num(ed, "found"));
      assert_int_equal(num(obj(er, "latency_us"), "count"), num(er, "succeeded"));
    }
    assert_int_equal(types, RB_OP_COUNT); /* 340 draws of 17 equal weights: every type ran */
    if (strcmp(snap_runtime[i], snap_direct[i]) != 0)
      fail_msg("activation %d: Redis's keys differ between the placements", i);
    const cJSON *b = obj(r, "batch");
    assert_int_equal(num(b, "connections"), 2);
    assert_int_equal(num(b, "wait_us"), 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(b, "coalesce")));
    assert_true(num(b, "pipelines") >= 1 && num(b, "pipelines") <= OPS);
    assert_true(num(b, "ops_per_pipeline") >= 1);
    pipelines += (uint64_t)num(b, "pipelines");
    pipeline_ops += (uint64_t)(num(b, "pipelines") * num(b, "ops_per_pipeline") + 0.5);
    cJSON_Delete(direct[i]);
    cJSON_Delete(runtime[i]);
    free(snap_direct[i]);
    free(snap_runtime[i]);
  }
  /* 8 activations over 2 connections: pipelines carry more than one operation */
  assert_true(pipeline_ops > pipelines);
}

/* parallel_calls 4 in each of 8 activations: everything succeeds, the counts add up, the
 * connections are warm for the next activation. */
static void test_parallel_calls_and_warm(void **state) {
  struct fixture *f = *state;
  cJSON *res[ACTS];
  prepare_all(f);
  run_concurrently(f, "\"placement\":\"runtime\",\"batch_connections\":3", 4, 500, res);
  for (int i = 0; i < ACTS; i++) {
    if (str(res[i], "error")) fail_msg("activation %d: %s", i, str(res[i], "error"));
    assert_int_equal(num(res[i], "succeeded"), 500);
    assert_int_equal(num(res[i], "parallel_calls"), 4);
    double sum = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, obj(res[i], "op_stats")) sum += num(e, "succeeded");
    assert_int_equal(sum, 500);
    assert_int_equal(num(obj(res[i], "batch"), "coalesced"), 0);
    cJSON_Delete(res[i]);
  }
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"num_ops\":50,\"placement\":\"runtime\",\"batch_connections\":3,"
                 "\"key_prefix\":\"w\"}}");
  assert_null(str(j, "error"));
  assert_int_equal(num(j, "connections_reused"), 3);
  assert_int_equal(num(j, "connections_new"), 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "warm")));
  assert_string_equal(str(j, "target"), "redis");
  cJSON_Delete(j);
}

/* ---- deadlines and failures ------------------------------------------------------------- */

struct bg {
  int port;
  const char *body;
  cJSON *result;
  uint64_t took_ms;
};

static void *bg_thread(void *arg) {
  struct bg *b = arg;
  uint64_t t0 = rb_clock_mono_ns();
  b->result = run(b->port, "%s", b->body);
  b->took_ms = (rb_clock_mono_ns() - t0) / 1000000;
  return NULL;
}

/* A: slow evals (on the one shared connection with runtime), stopped by its deadline while
 * some are at Redis; B: GETs at the same time (on the same connection with runtime). B gets every
 * reply right (A's late replies are dropped, not handed to B) and A fails only its own operations.
 */
static void deadline_isolated(struct fixture *f, const char *placement) {
  for (int k = 0; k < 300; k++) {
    redisReply *r = redisCommand(f->rc, "SET g:%d v%d", k, k);
    freeReplyObject(r);
  }
  char abody[512], bbody[512];
  snprintf(abody, sizeof abody,
           "{\"value\":{\"num_ops\":40,\"parallel_calls\":4,\"operation_type\":\"eval\","
           "\"script_work\":3000000,\"placement\":\"%s\",\"timeout_ms\":20000},"
           "\"deadline\":\"%lld\"}",
           placement, (long long)rb_clock_wall_ms() + 600);
  snprintf(bbody, sizeof bbody,
           "{\"value\":{\"num_ops\":300,\"parallel_calls\":4,\"operation_type\":\"get\","
           "\"key_prefix\":\"g\",\"placement\":\"%s\",\"timeout_ms\":20000}}",
           placement);
  struct bg a = {.port = f->action.port, .body = abody};
  struct bg b = {.port = f->action.port, .body = bbody};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, bg_thread, &a);
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  pthread_create(&tb, NULL, bg_thread, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  assert_true(a.took_ms < 1500);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a.result, "deadline_reached")));
  assert_int_equal(num(a.result, "succeeded") + num(a.result, "failed"), 40);
  assert_true(num(a.result, "failed") > 0);
  assert_non_null(strstr(str(a.result, "error"), "activation deadline reached"));
  if (str(b.result, "error")) fail_msg("B: %s", str(b.result, "error"));
  assert_int_equal(num(b.result, "succeeded"), 300);
  assert_int_equal(num(b.result, "found"), 300);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(b.result, "deadline_reached")));
  cJSON_Delete(a.result);
  cJSON_Delete(b.result);
  /* the connection carries on: A's replies were consumed */
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"num_ops\":30,\"operation_type\":\"get\",\"key_prefix\":\"g\","
                 "\"placement\":\"%s\"}}",
                 placement);
  assert_null(str(j, "error"));
  assert_int_equal(num(j, "found"), 30);
  cJSON_Delete(j);
}

static void test_deadline_isolated(void **state) {
  deadline_isolated(*state, "runtime");
  /* the HTTP server's isolation of concurrent activations, with their own connections */
  deadline_isolated(*state, "direct");
}

static void test_redis_killed_and_back(void **state) {
  struct fixture *f = *state;
  struct bg a = {.port = f->action.port,
                 .body =
                     "{\"value\":{\"num_ops\":1000000,\"parallel_calls\":8,\"value_size\":8,"
                     "\"key_space\":1000,\"placement\":\"runtime\",\"batch_connections\":2}}"};
  pthread_t t;
  pthread_create(&t, NULL, bg_thread, &a);
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  uint64_t t0 = rb_clock_mono_ns();
  rbt_proc_stop(&f->redis, SIGKILL);
  pthread_join(t, NULL);
  assert_true((rb_clock_mono_ns() - t0) / 1000000 < 3000); /* no hang */
  assert_true(num(a.result, "failed") > 0);
  assert_true(num(a.result, "succeeded") > 0);
  assert_int_equal(num(a.result, "succeeded") + num(a.result, "failed"), 1000000);
  const char *err = str(a.result, "error");
  assert_non_null(err);
  /* those at Redis: the connection's end as the direct path reports it (closed by the server,
   * or reset on a read or a write); the rest: the refused reconnect */
  const cJSON *e;
  bool broken = false, refused = false;
  cJSON_ArrayForEach(e, obj(a.result, "errors")) {
    const char *m = e->string;
    bool b = strcmp(m, "connection closed by server") == 0 ||
             strncmp(m, "read failed: ", 13) == 0 || strncmp(m, "write failed: ", 14) == 0;
    bool r = strstr(m, "failed: Connection refused") != NULL;
    if (!b && !r) fail_msg("unexpected error \"%s\"", m);
    broken |= b;
    refused |= r;
  }
  /* (none may have been at Redis at the instant it died: test_action_batch cuts a connection
   * at an exact point) */
  (void)broken;
  assert_true(refused);
  cJSON_Delete(a.result);
  assert_true(rbt_redis_restart(&f->redis, NULL));
  redisFree(f->rc);
  f->rc = rbt_redis_connect(f->redis.port, NULL);
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"num_ops\":40,\"parallel_calls\":4,\"placement\":\"runtime\","
                 "\"batch_connections\":2}}");
  assert_null(str(j, "error"));
  assert_int_equal(num(j, "succeeded"), 40);
  assert_int_equal(num(j, "connections_new"), 2);
  cJSON_Delete(j);
}

static void test_timeout_and_refused(void **state) {
  struct fixture *f = *state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 64), 0);
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"num_ops\":5,\"parallel_calls\":5,\"redis_port\":%d,"
                 "\"timeout_ms\":200,\"placement\":\"runtime\"}}",
                 ntohs(sa.sin_port));
  assert_int_equal(num(j, "failed"), 5);
  assert_non_null(strstr(str(j, "error"), "timed out after 200 ms waiting for the reply"));
  cJSON_Delete(j);
  close(fd);
  j = run(f->action.port, "{\"value\":{\"num_ops\":5,\"redis_port\":%d,\"placement\":\"runtime\"}}",
          ntohs(sa.sin_port));
  assert_int_equal(num(j, "failed"), 5);
  assert_non_null(strstr(str(j, "error"), "failed: Connection refused; Redis's address is set"));
  assert_int_equal(num(j, "connection_failures"), 1);
  cJSON_Delete(j);
}

static void test_password(void **state) {
  (void)state;
  struct rbt_proc redis = {0}, action = {0};
  const char *pw = "Runtime-Secret-9";
  assert_true(rbt_redis_start(&redis, pw));
  char env_port[64], env_pw[96];
  snprintf(env_port, sizeof env_port, "REDIS_PORT=%d", redis.port);
  snprintf(env_pw, sizeof env_pw, "REDIS_PASSWORD=%s", pw);
  char *extra[] = {env_port, env_pw, NULL};
  assert_true(rbt_action_start(&action, extra));
  cJSON *j = run(action.port, "{\"value\":{\"num_ops\":20,\"placement\":\"runtime\"}}");
  assert_null(str(j, "error"));
  assert_int_equal(num(j, "succeeded"), 20);
  cJSON_Delete(j);
  j = run(action.port,
          "{\"value\":{\"num_ops\":3,\"placement\":\"runtime\",\"redis_password\":\"nope\"}}");
  assert_int_equal(num(j, "failed"), 3);
  char *text = rb_json_print(j);
  assert_non_null(strstr(text, "AUTH failed: WRONGPASS"));
  assert_null(strstr(text, "nope"));
  assert_null(strstr(text, pw));
  free(text);
  cJSON_Delete(j);
  assert_int_equal(rbt_action_stop_checked(&action), 0);
  char *log = rbt_proc_log(&action);
  assert_null(strstr(log, pw));
  free(log);
  rbt_proc_stop(&redis, SIGTERM);
}

static void test_parameters(void **state) {
  struct fixture *f = *state;
  static const struct {
    const char *value;
    const char *error;
  } cases[] = {
      {"\"placement\":\"runtime\",\"use_batching\":true", "contradicts use_batching true"},
      {"\"placement\":\"agent\",\"use_batching\":false", "contradicts use_batching false"},
      {"\"placement\":\"nearby\"", "placement must be one of direct, runtime, agent"},
      {"\"placement\":\"runtime\",\"batch_connections\":0", "batch_connections"},
      {"\"placement\":\"runtime\",\"batch_connections\":65", "batch_connections"},
      {"\"placement\":\"runtime\",\"batch_wait_us\":100001", "batch_wait_us"},
      {"\"placement\":\"runtime\",\"batch_coalesce\":\"maybe\"", "batch_coalesce"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *j = run(f->action.port, "{\"value\":{%s}}", cases[i].value);
    const char *e = str(j, "error");
    if (!e || !strstr(e, cases[i].error))
      fail_msg("%s: expected an error with \"%s\", got %s", cases[i].value, cases[i].error,
               e ? e : "none");
    assert_null(cJSON_GetObjectItem(j, "succeeded"));
    cJSON_Delete(j);
  }
  /* agreeing ones run */
  cJSON *j = run(f->action.port,
                 "{\"value\":{\"placement\":\"runtime\",\"use_batching\":false,\"num_ops\":3}}");
  assert_null(str(j, "error"));
  assert_string_equal(str(j, "placement"), "runtime");
  cJSON_Delete(j);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_every_op_runtime_equals_direct, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parallel_calls_and_warm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deadline_isolated, setup, teardown),
      cmocka_unit_test_setup_teardown(test_redis_killed_and_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout_and_refused, setup, teardown),
      cmocka_unit_test(test_password),
      cmocka_unit_test_setup_teardown(test_parameters, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
