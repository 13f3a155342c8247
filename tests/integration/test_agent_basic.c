/* test_agent_basic.c: rbench-agent in front of a real redis-server, driven by redis-cli,
 * redis-benchmark, hiredis and raw sockets: answers, local commands, refusals that keep the
 * connection open, inline commands, --help/--version and the metrics endpoint. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbt.h"
#include "rbt_agent.h"

static struct rbt_proc redis, agent, agent_co;
static int metrics_port;

static int setup(void **state) {
  (void)state;
  if (!rbt_redis_start(&redis, NULL)) return -1;
  metrics_port = rbt_free_port();
  char metrics[64];
  snprintf(metrics, sizeof metrics, "127.0.0.1:%d", metrics_port);
  const char *extra[] = {"--metrics", metrics, NULL};
  if (!rbt_agent_start(&agent, redis.port, extra, NULL)) return -1;
  const char *co[] = {"--coalesce", NULL};
  if (!rbt_agent_start(&agent_co, redis.port, co, NULL)) return -1;
  return rbt_wait_port(metrics_port, 5000) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  int rc_agent_co = rbt_proc_stop(&agent_co, SIGTERM); /* 0: drained, no sanitizer report */
  int rc_agent = rbt_proc_stop(&agent, SIGTERM);       /* 0: drained, no sanitizer report */
  rbt_proc_stop(&redis, SIGTERM);
  return (rc_agent_co != 0 || rc_agent != 0) ? -1 : 0;
}

static char *cli(int port, const char *args, int *rc) {
  char cmd[512];
  char *out = NULL;
  snprintf(cmd, sizeof cmd, "timeout 20 redis-cli -p %d %s 2>&1", port, args);
  *rc = rbt_run(cmd, &out);
  return out;
}

static void expect_cli(int port, const char *args, const char *want) {
  int rc;
  char *out = cli(port, args, &rc);
  if (rc != 0 || strcmp(out, want) != 0)
    fail_msg("redis-cli %s: rc %d, got [%s], want [%s]", args, rc, out, want);
  free(out);
}

static void test_help_and_version(void **state) {
  (void)state;
  char cmd[512], *out = NULL;
  snprintf(cmd, sizeof cmd, "%s --help", rbt_bin("rbench-agent"));
  assert_int_equal(rbt_run(cmd, &out), 0);
  assert_non_null(strstr(out, "--coalesce"));
  assert_non_null(strstr(out, "--redis-password-file"));
  free(out);
  snprintf(cmd, sizeof cmd, "%s --version", rbt_bin("rbench-agent"));
  assert_int_equal(rbt_run(cmd, &out), 0);
  assert_true(strncmp(out, "rbench-agent ", 13) == 0);
  free(out);
  snprintf(cmd, sizeof cmd, "%s --bogus 2>&1", rbt_bin("rbench-agent"));
  assert_int_equal(rbt_run(cmd, &out), 2);
  free(out);
}

static void test_redis_cli_answers(void **state) {
  (void)state;
  int ports[2] = {agent.port, agent_co.port};
  for (int i = 0; i < 2; i++) {
    int p = ports[i];
    expect_cli(p, "SET cli:a hello", "OK\n");
    expect_cli(p, "GET cli:a", "hello\n");
    expect_cli(p, "SET cli:n 10 EX 100", "OK\n");
    expect_cli(p, "INCRBY cli:n 5", "15\n");
    expect_cli(p, "MSET cli:x 1 cli:y 2", "OK\n");
    expect_cli(p, "MGET cli:x cli:y cli:none", "1\n2\n\n");
    expect_cli(p, "EXISTS cli:x cli:y cli:none", "2\n");
    expect_cli(p, "DEL cli:x cli:y", "2\n");
    expect_cli(p, "GET cli:x", "\n");
    expect_cli(p, "PING", "PONG\n");
    expect_cli(p, "ECHO 'a b'", "a b\n");
    expect_cli(p, "LPUSH cli:l a b", "2\n");
    expect_cli(p, "LRANGE cli:l 0 -1", "b\na\n");
    expect_cli(p, "DEL cli:l", "1\n");
  }
  /* What went through the agent is in Redis. */
  expect_cli(redis.port, "GET cli:a", "hello\n");
  int rc;
  char *out = cli(agent.port, "HELLO 2", &rc);
  assert_non_null(strstr(out, "proto\n2\n"));
  free(out);
  out = cli(agent.port, "MULTI", &rc);
  assert_non_null(strstr(out, "'MULTI'"));
  free(out);
}

static void expect_error_naming(redisContext *c, const char *cmd, const char *name) {
  redisReply *r = redisCommand(c, cmd);
  assert_non_null(r);
  if (r->type != REDIS_REPLY_ERROR || !strstr(r->str, name))
    fail_msg("%s: %s", cmd, r->str ? r->str : "?");
  freeReplyObject(r);
  /* The connection stays open and usable. */
  r = redisCommand(c, "PING");
  assert_non_null(r);
  assert_string_equal(r->str, "PONG");
  freeReplyObject(r);
}

static void test_refused_commands_keep_connection(void **state) {
  (void)state;
  redisContext *c = rbt_connect_timeout(agent.port);
  assert_non_null(c);
  expect_error_naming(c, "MULTI", "'MULTI'");
  expect_error_naming(c, "EXEC", "'EXEC'");
  expect_error_naming(c, "WATCH k", "'WATCH'");
  expect_error_naming(c, "BLPOP k 0", "'BLPOP'");
  expect_error_naming(c, "BRPOP k 0", "'BRPOP'");
  expect_error_naming(c, "SUBSCRIBE ch", "'SUBSCRIBE'");
  expect_error_naming(c, "PSUBSCRIBE ch*", "'PSUBSCRIBE'");
  expect_error_naming(c, "SELECT 1", "'SELECT'");
  expect_error_naming(c, "MONITOR", "'MONITOR'");
  expect_error_naming(c, "CONFIG GET save", "'CONFIG'");
  expect_error_naming(c, "FLUSHALL", "'FLUSHALL'");
  expect_error_naming(c, "NOSUCHCOMMAND 1 2", "'NOSUCHCOMMAND'");
  expect_error_naming(c, "XREAD BLOCK 0 STREAMS s $", "'XREAD'");
  /* Redis's own errors pass through unchanged. */
  redisReply *r = redisCommand(c, "GET");
  assert_int_equal(r->type, REDIS_REPLY_ERROR);
  assert_non_null(strstr(r->str, "wrong number of arguments"));
  freeReplyObject(r);
  redisFree(c);
}

static void test_inline_and_pipelined_local_order(void **state) {
  (void)state;
  int fd = rbt_tcp_connect(agent.port, 10000);
  assert_true(fd >= 0);
  redisReader *rd = redisReaderCreate();
  /* Inline commands, and local replies (PING, ECHO, refusals) interleaved with forwarded
   * commands in one pipeline: every reply must come back in the order sent. */
  const char *in =
      "SET inl:k \"v 1\"\r\nPING\r\nGET inl:k\r\nECHO e1\r\nMULTI\r\nINCR inl:c\r\n"
      "*2\r\n$4\r\nECHO\r\n$2\r\ne2\r\nINCR inl:c\r\n\r\nGET inl:k\n";
  assert_true(rbt_send(fd, in, strlen(in)));
  const char *want[] = {"OK", "PONG", "v 1", "e1", "ERR", "1", "e2", "2", "v 1"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    redisReply *r = rbt_read_reply(fd, rd);
    assert_non_null(r);
    char got[128];
    if (r->type == REDIS_REPLY_INTEGER) snprintf(got, sizeof got, "%lld", r->integer);
    else if (r->type == REDIS_REPLY_ERROR) snprintf(got, sizeof got, "ERR");
    else snprintf(got, sizeof got, "%s", r->str);
    if (strcmp(got, want[i]) != 0) fail_msg("reply %zu: got %s want %s", i, got, want[i]);
    freeReplyObject(r);
  }
  assert_true(rbt_send(fd, "QUIT\r\n", 6));
  redisReply *r = rbt_read_reply(fd, rd);
  assert_non_null(r);
  assert_string_equal(r->str, "OK");
  freeReplyObject(r);
  assert_true(rbt_peer_closed(fd, rd));
  redisReaderFree(rd);
  close(fd);
}

static void test_split_writes_and_large_values(void **state) {
  (void)state;
  /* A pipeline written one byte at a time: every command arrives in pieces. */
  int fd = rbt_tcp_connect(agent_co.port, 10000);
  assert_true(fd >= 0);
  redisReader *rd = redisReaderCreate();
  const char in[] =
      "*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$3\r\nabc\r\nGET "
      "split\r\n*2\r\n$3\r\nGET\r\n$5\r\nsplit\r\n";
  for (size_t i = 0; i < sizeof in - 1; i++) {
    assert_true(rbt_send(fd, in + i, 1));
    if (i % 7 == 0) usleep(1000);
  }
  const char *want[] = {"OK", "abc", "abc"};
  for (int i = 0; i < 3; i++) {
    redisReply *r = rbt_read_reply(fd, rd);
    assert_non_null(r);
    assert_string_equal(r->str, want[i]);
    freeReplyObject(r);
  }
  redisReaderFree(rd);
  close(fd);
  /* A 3 MiB value through both agents, compared byte for byte. */
  size_t n = 3u << 20;
  char *v = malloc(n);
  for (size_t i = 0; i < n; i++) v[i] = (char)('a' + (i * 7) % 26);
  int ports[2] = {agent.port, agent_co.port};
  for (int k = 0; k < 2; k++) {
    redisContext *c = rbt_connect_timeout(ports[k]);
    redisReply *r = redisCommand(c, "SET big:%d %b", k, v, n);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    r = redisCommand(c, "GET big:%d", k);
    assert_int_equal(r->len, n);
    assert_memory_equal(r->str, v, n);
    freeReplyObject(r);
    redisFree(c);
  }
  free(v);
}

static void test_redis_benchmark(void **state) {
  (void)state;
  int ports[2] = {agent.port, agent_co.port};
  for (int i = 0; i < 2; i++) {
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "timeout 120 redis-benchmark -p %d -t set,get,incr,lpush,rpop,mset -n 20000 -c 20 -r "
             "1000 -q 2>&1",
             ports[i]);
    int rc = rbt_run(cmd, &out);
    if (rc != 0) fail_msg("redis-benchmark rc %d: %s", rc, out);
    for (const char *t = "SET:"; t; t = NULL) assert_non_null(strstr(out, t));
    assert_non_null(strstr(out, "GET:"));
    assert_non_null(strstr(out, "MSET (10 keys):"));
    assert_null(strstr(out, "rror"));
    free(out);
  }
  /* Coalescing really happened on the --coalesce agent (checked through Redis's stats). */
  char *out = NULL;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "redis-cli -p %d INFO commandstats", redis.port);
  assert_int_equal(rbt_run(cmd, &out), 0);
  assert_non_null(strstr(out, "cmdstat_mset:"));
  assert_non_null(strstr(out, "cmdstat_mget:"));
  free(out);
}

static long long metric(const char *body, const char *name) {
  char key[128];
  snprintf(key, sizeof key, "\n%s ", name);
  const char *p = strstr(body, key);
  return p ? atoll(p + strlen(key)) : -1;
}

static void test_metrics_endpoint(void **state) {
  (void)state;
  int st = 0;
  char *body = rbt_http_get(metrics_port, "/metrics", &st);
  assert_non_null(body);
  assert_int_equal(st, 200);
  assert_true(metric(body, "rbench_agent_requests_total") > 1000);
  assert_true(metric(body, "rbench_agent_replies_total") >=
              metric(body, "rbench_agent_requests_total") - 1);
  assert_true(metric(body, "rbench_agent_batches_total") > 0);
  assert_true(metric(body, "rbench_agent_rejected_total") >= 10);
  assert_int_equal(metric(body, "rbench_agent_upstreams_up"), 1);
  assert_non_null(strstr(body, "rbench_agent_batch_size_bucket{le=\"+Inf\"}"));
  assert_non_null(strstr(body, "rbench_agent_queue_delay_microseconds_count"));
  free(body);
  body = rbt_http_get(metrics_port, "/healthz", &st);
  assert_int_equal(st, 200);
  free(body);
  body = rbt_http_get(metrics_port, "/nope", &st);
  assert_int_equal(st, 404);
  free(body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help_and_version),
      cmocka_unit_test(test_redis_cli_answers),
      cmocka_unit_test(test_refused_commands_keep_connection),
      cmocka_unit_test(test_inline_and_pipelined_local_order),
      cmocka_unit_test(test_split_writes_and_large_values),
      cmocka_unit_test(test_redis_benchmark),
      cmocka_unit_test(test_metrics_endpoint),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
