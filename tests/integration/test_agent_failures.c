/* test_agent_failures.c: what rbench-agent does when things go wrong. Redis killed under load
 * and restarted (no hang, every request answered, recovery), Redis frozen (timeout), requests
 * while Redis is down (fail fast), a client closing mid-batch, malformed and oversized input,
 * too many clients, and SIGTERM draining in-flight requests. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "rbt.h"
#include "rbt_agent.h"

static long long metric(int port, const char *name) {
  int st = 0;
  char *body = rbt_http_get(port, "/metrics", &st);
  if (!body) return -1;
  char key[128];
  snprintf(key, sizeof key, "\n%s ", name);
  const char *p = strstr(body, key);
  long long v = p ? atoll(p + strlen(key)) : -1;
  free(body);
  return v;
}

static bool start_pair(struct rbt_proc *redis, struct rbt_proc *agent, int *mport,
                       const char *const *extra) {
  if (!rbt_redis_start(redis, NULL)) return false;
  const char *args[16];
  static char m[64];
  int n = 0;
  *mport = rbt_free_port();
  snprintf(m, sizeof m, "127.0.0.1:%d", *mport);
  args[n++] = "--metrics";
  args[n++] = m;
  for (int i = 0; extra && extra[i]; i++) args[n++] = extra[i];
  args[n] = NULL;
  return rbt_agent_start(agent, redis->port, args, NULL) && rbt_wait_port(*mport, 5000);
}

/* ---- Redis killed under load --------------------------------------------------------------- */

struct loader {
  int port, id;
  atomic_bool stop;
  long ok, errors, bad;
  char bad_msg[200];
};

static void *load_main(void *arg) {
  struct loader *l = arg;
  redisContext *c = rbt_connect_timeout(l->port);
  if (!c) {
    l->bad++;
    return NULL;
  }
  for (long seq = 0; !atomic_load(&l->stop); seq += 20) {
    for (int i = 0; i < 20; i++) redisAppendCommand(c, "SET kill:%d:%d v%ld", l->id, i, seq + i);
    for (int i = 0; i < 20; i++) {
      redisReply *r = NULL;
      if (redisGetReply(c, (void **)&r) != REDIS_OK) { /* a hang or a lost reply */
        l->bad++;
        snprintf(l->bad_msg, sizeof l->bad_msg, "no reply: %s", c->errstr);
        redisFree(c);
        return NULL;
      }
      if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0) l->ok++;
      else if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "rbench-agent")) l->errors++;
      else {
        l->bad++;
        snprintf(l->bad_msg, sizeof l->bad_msg, "unexpected reply type %d %s", r->type,
                 r->str ? r->str : "");
      }
      freeReplyObject(r);
    }
  }
  redisFree(c);
  return NULL;
}

static void test_redis_killed_under_load_and_restarted(void **state) {
  (void)state;
  struct rbt_proc redis, agent;
  int mport = 0;
  assert_true(start_pair(&redis, &agent, &mport, NULL));
  enum { N = 8 };
  static struct loader ls[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    ls[i] = (struct loader){.port = agent.port, .id = i};
    assert_int_equal(pthread_create(&th[i], NULL, load_main, &ls[i]), 0);
  }
  usleep(300 * 1000);
  kill(redis.pid, SIGKILL); /* no goodbye: in-flight requests are lost at Redis */
  rbt_proc_stop(&redis, SIGKILL);
  usleep(300 * 1000);
  /* While Redis is down a new request fails fast with a clear error. */
  redisContext *c = rbt_connect_timeout(agent.port);
  assert_non_null(c);
  long long t0 = rbt_now_ms();
  redisReply *r = redisCommand(c, "GET kill:x");
  long long took = rbt_now_ms() - t0;
  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_ERROR);
  assert_non_null(strstr(r->str, "unreachable"));
  assert_true(took < 200);
  freeReplyObject(r);
  /* Local commands still work. */
  r = redisCommand(c, "PING");
  assert_string_equal(r->str, "PONG");
  freeReplyObject(r);
  assert_true(rbt_redis_restart(&redis, NULL));
  /* Recovery: the agent reconnects by itself (backoff starts at 20 ms, at most 2 s). */
  long long deadline = rbt_now_ms() + 8000;
  bool recovered = false;
  while (!recovered && rbt_now_ms() < deadline) {
    r = redisCommand(c, "SET kill:after ok");
    assert_non_null(r);
    recovered = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!recovered) usleep(50 * 1000);
  }
  assert_true(recovered);
  usleep(300 * 1000);
  for (int i = 0; i < N; i++) atomic_store(&ls[i].stop, true);
  long ok = 0, errors = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    if (ls[i].bad) fail_msg("loader %d: %s", i, ls[i].bad_msg);
    ok += ls[i].ok;
    errors += ls[i].errors;
  }
  assert_true(ok > 0);
  assert_true(errors > 0); /* the outage was seen, as errors, not hangs */
  assert_true(metric(mport, "rbench_agent_reconnects_total") >= 2);
  assert_true(metric(mport, "rbench_agent_upstream_errors_total") >= 1);
  assert_true(metric(mport, "rbench_agent_failed_fast_total") >= 1);
  assert_int_equal(metric(mport, "rbench_agent_upstreams_up"), 1);
  r = redisCommand(c, "GET kill:after");
  assert_string_equal(r->str, "ok");
  freeReplyObject(r);
  redisFree(c);
  assert_int_equal(rbt_proc_stop(&agent, SIGTERM), 0);
  rbt_proc_stop(&redis, SIGTERM);
}

static void test_redis_frozen_times_out(void **state) {
  (void)state;
  struct rbt_proc redis, agent;
  int mport;
  const char *extra[] = {"--timeout-ms", "300", NULL};
  assert_true(start_pair(&redis, &agent, &mport, extra));
  redisContext *c = rbt_connect_timeout(agent.port);
  assert_non_null(c);
  kill(redis.pid, SIGSTOP);
  long long t0 = rbt_now_ms();
  redisReply *r = redisCommand(c, "SET frozen 1");
  long long took = rbt_now_ms() - t0;
  kill(redis.pid, SIGCONT);
  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_ERROR);
  assert_non_null(strstr(r->str, "connection to Redis lost"));
  assert_true(took >= 250 && took < 3000);
  freeReplyObject(r);
  redisFree(c);
  rbt_proc_stop(&agent, SIGTERM);
  rbt_proc_stop(&redis, SIGTERM);
}

/* The window bounds a command's wait even while a batch is stuck at Redis: the agent, which
 * sleeps on Redis alone while a batch is there (the upstream wait), still reads a second
 * client's command and writes it at the window's end, not when Redis answers the first. */
static void test_window_bounds_wait_behind_stuck_batch(void **state) {
  (void)state;
  struct rbt_proc redis, agent;
  int mport;
  const char *extra[] = {"--timeout-ms", "5000", "--window-us", "2000", NULL};
  assert_true(start_pair(&redis, &agent, &mport, extra));
  int a = rbt_tcp_connect(agent.port, 5000), b = rbt_tcp_connect(agent.port, 5000);
  assert_true(a >= 0 && b >= 0);
  redisReader *ra = redisReaderCreate(), *rb = redisReaderCreate();
  const char set[] = "*3\r\n$3\r\nSET\r\n$5\r\nstuck\r\n$2\r\nv1\r\n";
  assert_true(rbt_send(a, set, sizeof set - 1));
  redisReply *r = rbt_read_reply(a, ra);
  assert_non_null(r);
  assert_string_equal(r->str, "OK");
  freeReplyObject(r);
  long long batches0 = metric(mport, "rbench_agent_batches_total");
  kill(redis.pid, SIGSTOP);
  const char get[] = "*2\r\n$3\r\nGET\r\n$5\r\nstuck\r\n";
  assert_true(rbt_send(a, get, sizeof get - 1)); /* batch 1: stuck at the frozen Redis */
  long long t0 = rbt_now_ms();
  while (metric(mport, "rbench_agent_batches_total") < batches0 + 1 && rbt_now_ms() - t0 < 2000)
    usleep(1000);
  assert_int_equal(metric(mport, "rbench_agent_batches_total"), batches0 + 1);
  usleep(20000);
  assert_true(rbt_send(b, get, sizeof get - 1)); /* must leave within the 2 ms window */
  t0 = rbt_now_ms();
  while (metric(mport, "rbench_agent_batches_total") < batches0 + 2 && rbt_now_ms() - t0 < 2000)
    usleep(1000);
  long long took = rbt_now_ms() - t0;
  assert_int_equal(metric(mport, "rbench_agent_batches_total"), batches0 + 2);
  assert_true(took < 500); /* Redis is still frozen: not its reply that let it go */
  kill(redis.pid, SIGCONT);
  redisReader *rds[] = {ra, rb};
  int fds[] = {a, b};
  for (int i = 0; i < 2; i++) {
    r = rbt_read_reply(fds[i], rds[i]);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "v1");
    freeReplyObject(r);
    redisReaderFree(rds[i]);
    close(fds[i]);
  }
  rbt_proc_stop(&agent, SIGTERM);
  rbt_proc_stop(&redis, SIGTERM);
}

/* ---- clients misbehaving ------------------------------------------------------------------ */

static struct rbt_proc g_redis, g_agent;
static int g_mport;

static void check_healthy_client(int port) {
  redisContext *c = rbt_connect_timeout(port);
  assert_non_null(c);
  for (int i = 0; i < 200; i++) redisAppendCommand(c, "SET healthy:%d v%d", i, i);
  for (int i = 0; i < 200; i++) redisAppendCommand(c, "GET healthy:%d", i);
  for (int i = 0; i < 400; i++) {
    redisReply *r = NULL;
    assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
    if (i < 200) {
      assert_string_equal(r->str, "OK");
    } else {
      char want[16];
      snprintf(want, sizeof want, "v%d", i - 200);
      assert_string_equal(r->str, want);
    }
    freeReplyObject(r);
  }
  redisFree(c);
}

static void test_client_closes_mid_batch(void **state) {
  (void)state;
  for (int round = 0; round < 20; round++) {
    int fd = rbt_tcp_connect(g_agent.port, 5000);
    assert_true(fd >= 0);
    char buf[64 * 1024];
    size_t n = 0;
    while (n + 64 < sizeof buf)
      n += (size_t)snprintf(buf + n, sizeof buf - n, "*2\r\n$3\r\nGET\r\n$5\r\nmid:%d\r\n",
                            round % 10);
    assert_true(rbt_send(fd, buf, n));
    close(fd); /* gone before its replies arrive */
  }
  check_healthy_client(g_agent.port);
  assert_int_equal(metric(g_mport, "rbench_agent_upstreams_up"), 1);
}

static void expect_error_then_close(const char *input, size_t len, const char *err_part) {
  int fd = rbt_tcp_connect(g_agent.port, 5000);
  assert_true(fd >= 0);
  redisReader *rd = redisReaderCreate();
  assert_true(rbt_send(fd, input, len));
  redisReply *r = rbt_read_reply(fd, rd);
  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_ERROR);
  if (!strstr(r->str, err_part)) fail_msg("error '%s' lacks '%s'", r->str, err_part);
  freeReplyObject(r);
  assert_true(rbt_peer_closed(fd, rd));
  redisReaderFree(rd);
  close(fd);
}

static void test_malformed_and_oversized_input(void **state) {
  (void)state;
  /* A healthy client pipelining through all of this sees nothing. */
  redisContext *c = rbt_connect_timeout(g_agent.port);
  assert_non_null(c);
  redisAppendCommand(c, "SET mal:k before");
  expect_error_then_close("*x\r\n", 4, "invalid multibulk length");
  expect_error_then_close("*1\r\n+PING\r\n", 11, "expected '$'");
  expect_error_then_close("*1\r\n$-3\r\n", 9, "invalid bulk length");
  expect_error_then_close("ECHO \"open\r\n", 12, "unbalanced quotes");
  /* Limits: --max-request-bytes 4096 and --max-args 100. */
  expect_error_then_close("*2\r\n$4\r\nECHO\r\n$5000\r\n", 22, "invalid bulk length");
  static char two[4200];
  size_t tn = (size_t)snprintf(two, sizeof two, "*3\r\n$3\r\nSET\r\n$3000\r\n");
  memset(two + tn, 'k', 3000);
  tn += 3000;
  tn += (size_t)snprintf(two + tn, sizeof two - tn, "\r\n$3000\r\n");
  expect_error_then_close(two, tn, "request too large");
  expect_error_then_close("*101\r\n", 6, "invalid multibulk length");
  char big[6000];
  memset(big, 'a', sizeof big);
  expect_error_then_close(big, sizeof big, "too big inline request");
  /* Commands before the bad bytes are still answered, in order, then the error. */
  int fd = rbt_tcp_connect(g_agent.port, 5000);
  redisReader *rd = redisReaderCreate();
  const char in[] = "SET mal:a 1\r\nGET mal:a\r\n*1\r\n$x\r\nGET mal:a\r\n";
  assert_true(rbt_send(fd, in, sizeof in - 1));
  redisReply *r = rbt_read_reply(fd, rd);
  assert_string_equal(r->str, "OK");
  freeReplyObject(r);
  r = rbt_read_reply(fd, rd);
  assert_string_equal(r->str, "1");
  freeReplyObject(r);
  r = rbt_read_reply(fd, rd);
  assert_int_equal(r->type, REDIS_REPLY_ERROR);
  freeReplyObject(r);
  assert_true(rbt_peer_closed(fd, rd));
  redisReaderFree(rd);
  close(fd);
  redisReply *rr = NULL;
  assert_int_equal(redisGetReply(c, (void **)&rr), REDIS_OK);
  assert_string_equal(rr->str, "OK");
  freeReplyObject(rr);
  redisFree(c);
  check_healthy_client(g_agent.port);
  assert_true(metric(g_mport, "rbench_agent_protocol_errors_total") >= 8);
}

static void test_max_clients(void **state) {
  (void)state;
  struct rbt_proc agent;
  const char *extra[] = {"--max-clients", "2", NULL};
  assert_true(rbt_agent_start(&agent, g_redis.port, extra, NULL));
  usleep(200 * 1000); /* the start-up probe connection has been closed and counted out */
  redisContext *a = rbt_connect_timeout(agent.port);
  assert_non_null(a);
  redisReply *r = redisCommand(a, "PING");
  assert_string_equal(r->str, "PONG");
  freeReplyObject(r);
  redisContext *b = rbt_connect_timeout(agent.port);
  assert_non_null(b);
  r = redisCommand(b, "PING");
  assert_string_equal(r->str, "PONG");
  freeReplyObject(r);
  int fd = rbt_tcp_connect(agent.port, 5000);
  assert_true(fd >= 0);
  redisReader *rd = redisReaderCreate();
  r = rbt_read_reply(fd, rd);
  if (!r) {
    char *log = rbt_proc_log(&agent);
    fail_msg("no reply: %s / %s", strerror(errno), log);
  }
  assert_string_equal(r->str, "ERR max number of clients reached");
  freeReplyObject(r);
  redisReaderFree(rd);
  close(fd);
  redisFree(a);
  usleep(100 * 1000);
  redisContext *d = rbt_connect_timeout(agent.port); /* a slot is free again */
  r = redisCommand(d, "PING");
  assert_string_equal(r->str, "PONG");
  freeReplyObject(r);
  redisFree(d);
  redisFree(b);
  rbt_proc_stop(&agent, SIGTERM);
}

static void test_client_not_reading_is_closed(void **state) {
  (void)state;
  struct rbt_proc agent;
  const char *extra[] = {"--max-client-output-bytes", "1048576", NULL};
  assert_true(rbt_agent_start(&agent, g_redis.port, extra, NULL));
  redisContext *c = rbt_connect_timeout(agent.port);
  static char v[100000];
  memset(v, 'x', sizeof v);
  redisReply *r = redisCommand(c, "SET big %b", v, sizeof v);
  assert_string_equal(r->str, "OK");
  freeReplyObject(r);
  /* 400 GETs of 100 kB = 40 MB of replies, none read: more than the socket buffers and the
   * 1 MiB limit hold, so the agent closes this client... */
  int fd = rbt_tcp_connect(agent.port, 5000);
  assert_true(fd >= 0);
  for (int i = 0; i < 400; i++) assert_true(rbt_send(fd, "GET big\r\n", 9));
  /* Not reading until the agent gave up on it (a fixed pause raced with a slow agent: once
   * this client reads, the agent keeps up and never reaches the limit). */
  bool gave_up = false;
  for (long long t0 = rbt_now_ms(); !gave_up && rbt_now_ms() - t0 < 10000;) {
    char *log = rbt_proc_log(&agent);
    gave_up = log && strstr(log, "bytes of replies unread; closing it");
    free(log);
    if (!gave_up) usleep(20 * 1000);
  }
  assert_true(gave_up);
  redisReader *rd = redisReaderCreate();
  assert_true(rbt_peer_closed(fd, rd));
  redisReaderFree(rd);
  close(fd);
  /* ...and nobody else notices. */
  r = redisCommand(c, "GET big");
  assert_int_equal(r->len, sizeof v);
  freeReplyObject(r);
  redisFree(c);
  char *log = rbt_proc_log(&agent);
  assert_non_null(strstr(log, "bytes of replies unread; closing it"));
  free(log);
  assert_int_equal(rbt_proc_stop(&agent, SIGTERM), 0);
}

static void test_sigterm_drains(void **state) {
  (void)state;
  struct rbt_proc agent;
  assert_true(rbt_agent_start(&agent, g_redis.port, NULL, NULL));
  int fd = rbt_tcp_connect(agent.port, 10000);
  assert_true(fd >= 0);
  enum { N = 5000 };
  static char buf[N * 48];
  size_t n = 0;
  for (int i = 0; i < N; i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "*2\r\n$4\r\nINCR\r\n$5\r\ndrain\r\n");
  redisContext *rc = rbt_redis_connect(g_redis.port, NULL);
  assert_non_null(rc);
  redisReply *g = redisCommand(rc, "GET drain");
  long long start = g && g->type == REDIS_REPLY_STRING ? atoll(g->str) : 0;
  freeReplyObject(g);
  assert_true(rbt_send(fd, buf, n));
  /* SIGTERM once the agent has read and forwarded every command (Redis has counted them; a
   * fixed pause was too short under ASan on a loaded machine): their replies, which the
   * client has not read yet, must all still arrive. */
  for (int wait = 0; wait < 1000; wait++) {
    g = redisCommand(rc, "GET drain");
    long long now = g && g->type == REDIS_REPLY_STRING ? atoll(g->str) : 0;
    freeReplyObject(g);
    if (now >= start + N) break;
    usleep(10 * 1000);
  }
  redisFree(rc);
  kill(agent.pid, SIGTERM);
  redisReader *rd = redisReaderCreate();
  long long last = 0;
  for (int i = 0; i < N; i++) {
    redisReply *r = rbt_read_reply(fd, rd);
    if (!r) fail_msg("reply %d missing after SIGTERM", i);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    if (i > 0) assert_int_equal(r->integer, last + 1);
    last = r->integer;
    freeReplyObject(r);
  }
  assert_true(rbt_peer_closed(fd, rd));
  redisReaderFree(rd);
  close(fd);
  assert_int_equal(rbt_proc_stop(&agent, SIGTERM), 0); /* exited 0 by itself */
}

static int setup(void **state) {
  (void)state;
  const char *extra[] = {"--max-request-bytes", "4096", "--max-args", "100", NULL};
  return start_pair(&g_redis, &g_agent, &g_mport, extra) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  int rc_g_agent = rbt_proc_stop(&g_agent, SIGTERM); /* 0: drained, no sanitizer report */
  rbt_proc_stop(&g_redis, SIGTERM);
  return (rc_g_agent != 0) ? -1 : 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_redis_killed_under_load_and_restarted),
      cmocka_unit_test(test_redis_frozen_times_out),
      cmocka_unit_test(test_window_bounds_wait_behind_stuck_batch),
      cmocka_unit_test(test_client_closes_mid_batch),
      cmocka_unit_test(test_malformed_and_oversized_input),
      cmocka_unit_test(test_max_clients),
      cmocka_unit_test(test_client_not_reading_is_closed),
      cmocka_unit_test(test_sigterm_drains),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
