/* test_agent_vs_nutcracker.c: the same client behaviour through nutcracker (Debian's
 * twemproxy, the comparison proxy of the benchmark) and through rbench-agent. Both forward
 * plain commands correctly; on commands a shared-connection proxy cannot pass, nutcracker
 * closes the client's connection while the agent answers -ERR naming the command and keeps
 * serving the same connection. */
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

static struct rbt_proc redis, agent, nut;
static char conf[128];

static int setup(void **state) {
  (void)state;
  if (!rbt_redis_start(&redis, NULL) || !rbt_agent_start(&agent, redis.port, NULL, NULL)) return -1;
  return rbt_nutcracker_start(&nut, redis.port, conf, sizeof conf) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&nut, SIGTERM);
  int rc_agent = rbt_proc_stop(&agent, SIGTERM); /* 0: drained, no sanitizer report */
  rbt_proc_stop(&redis, SIGTERM);
  unlink(conf);
  return (rc_agent != 0) ? -1 : 0;
}

static void test_both_forward_plain_commands(void **state) {
  (void)state;
  int ports[2] = {nut.port, agent.port};
  for (int i = 0; i < 2; i++) {
    redisContext *c = rbt_connect_timeout(ports[i]);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "SET cmp:%d v%d", i, i);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    r = redisCommand(c, "GET cmp:%d", i);
    char want[8];
    snprintf(want, sizeof want, "v%d", i);
    assert_string_equal(r->str, want);
    freeReplyObject(r);
    redisFree(c);
  }
}

/* Sends MULTI then PING on one connection; returns true if the connection survived. */
static bool multi_then_ping(int port, char *first, size_t cap) {
  int fd = rbt_tcp_connect(port, 3000);
  assert_true(fd >= 0);
  redisReader *rd = redisReaderCreate();
  assert_true(rbt_send(fd, "*1\r\n$5\r\nMULTI\r\n", 15));
  redisReply *r = rbt_read_reply(fd, rd);
  snprintf(first, cap, "%s", r && r->str ? r->str : "(closed)");
  if (r) freeReplyObject(r);
  bool alive = false;
  if (r && rbt_send(fd, "*1\r\n$4\r\nPING\r\n", 14)) {
    r = rbt_read_reply(fd, rd);
    alive = r && r->str && strcmp(r->str, "PONG") == 0;
    if (r) freeReplyObject(r);
  }
  redisReaderFree(rd);
  close(fd);
  return alive;
}

static void test_unsupported_command(void **state) {
  (void)state;
  char first[256];
  assert_false(multi_then_ping(nut.port, first, sizeof first)); /* nutcracker hangs up */
  assert_string_equal(first, "(closed)");
  assert_true(multi_then_ping(agent.port, first, sizeof first)); /* the agent answers */
  assert_non_null(strstr(first, "'MULTI'"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_both_forward_plain_commands),
      cmocka_unit_test(test_unsupported_command),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
