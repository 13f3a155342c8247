/* test_agent_auth.c: both passwords. Redis with requirepass, the agent given the Redis
 * password in a file and the client password in the environment: NOAUTH before AUTH,
 * WRONGPASS, then normal service; neither secret in the agent's arguments, log or metrics;
 * a wrong Redis password gives errors, not hangs. */
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

#define REDIS_PW "redis-Secret-4711"
#define CLIENT_PW "client-Secret-0815"

static char pwfile[64];

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 1 << 20);
  *len = fread(buf, 1, (1 << 20) - 1, f);
  fclose(f);
  return buf;
}

static bool contains(const char *buf, size_t len, const char *s) {
  return memmem(buf, len, s, strlen(s)) != NULL;
}

static void test_both_passwords(void **state) {
  (void)state;
  struct rbt_proc redis, agent;
  assert_true(rbt_redis_start(&redis, REDIS_PW));
  snprintf(pwfile, sizeof pwfile, "/tmp/rbench-agent-test-pw-%d", (int)getpid());
  FILE *f = fopen(pwfile, "w");
  assert_non_null(f);
  fprintf(f, "%s\n", REDIS_PW);
  fclose(f);
  int mport = rbt_free_port();
  char m[64];
  snprintf(m, sizeof m, "127.0.0.1:%d", mport);
  const char *extra[] = {"--redis-password-file", pwfile,  "--metrics", m,
                         "--log-level",           "debug", NULL};
  static char envpw[] = "BATCHING_AGENT_PASSWORD=" CLIENT_PW;
  char *env[] = {envpw, NULL};
  assert_true(rbt_agent_start(&agent, redis.port, extra, env));

  redisContext *c = rbt_connect_timeout(agent.port);
  assert_non_null(c);
  redisReply *r = redisCommand(c, "SET auth:k v");
  assert_int_equal(r->type, REDIS_REPLY_ERROR);
  assert_string_equal(r->str, "NOAUTH Authentication required.");
  freeReplyObject(r);
  r = redisCommand(c, "AUTH %s", "wrong");
  assert_int_equal(r->type, REDIS_REPLY_ERROR);
  assert_true(strncmp(r->str, "WRONGPASS", 9) == 0);
  freeReplyObject(r);
  r = redisCommand(c, "AUTH %s", REDIS_PW); /* the Redis password is not the client password */
  assert_int_equal(r->type, REDIS_REPLY_ERROR);
  freeReplyObject(r);
  r = redisCommand(c, "AUTH %s", CLIENT_PW);
  assert_string_equal(r->str, "OK");
  freeReplyObject(r);
  r = redisCommand(c, "SET auth:k v");
  assert_string_equal(r->str, "OK"); /* the agent authenticated itself to Redis */
  freeReplyObject(r);
  r = redisCommand(c, "GET auth:k");
  assert_string_equal(r->str, "v");
  freeReplyObject(r);
  redisFree(c);

  /* redis-cli with the client password. */
  char cmd[256], *out = NULL;
  snprintf(cmd, sizeof cmd, "REDISCLI_AUTH=%s timeout 10 redis-cli -p %d GET auth:k", CLIENT_PW,
           agent.port);
  assert_int_equal(rbt_run(cmd, &out), 0);
  assert_string_equal(out, "v\n");
  free(out);
  /* HELLO 2 AUTH default <pw> authenticates too. */
  c = rbt_connect_timeout(agent.port);
  r = redisCommand(c, "HELLO 2 AUTH default %s", CLIENT_PW);
  assert_int_equal(r->type, REDIS_REPLY_ARRAY);
  freeReplyObject(r);
  r = redisCommand(c, "GET auth:k");
  assert_string_equal(r->str, "v");
  freeReplyObject(r);
  redisFree(c);

  /* No secret in the process's arguments, its log, or its metrics. */
  char path[64];
  size_t len = 0;
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)agent.pid);
  char *cl = read_file(path, &len);
  assert_non_null(cl);
  assert_false(contains(cl, len, REDIS_PW));
  assert_false(contains(cl, len, CLIENT_PW));
  free(cl);
  int st = 0;
  char *body = rbt_http_get(mport, "/metrics", &st);
  assert_non_null(body);
  assert_null(strstr(body, REDIS_PW));
  assert_null(strstr(body, CLIENT_PW));
  free(body);
  assert_int_equal(rbt_proc_stop(&agent, SIGTERM), 0);
  char *log = rbt_proc_log(&agent);
  assert_null(strstr(log, REDIS_PW));
  assert_null(strstr(log, CLIENT_PW));
  free(log);
  unlink(pwfile);
  rbt_proc_stop(&redis, SIGTERM);
}

/* Redis's total_connections_received, this INFO connection included. */
static long long connections_received(int port) {
  redisContext *r = rbt_redis_connect(port, REDIS_PW);
  assert_non_null(r);
  redisReply *rep = redisCommand(r, "INFO stats");
  assert_non_null(rep);
  assert_int_equal(rep->type, REDIS_REPLY_STRING);
  const char *k = strstr(rep->str, "total_connections_received:");
  assert_non_null(k);
  long long n = atoll(k + strlen("total_connections_received:"));
  freeReplyObject(rep);
  redisFree(r);
  return n;
}

static void test_wrong_redis_password_gives_errors(void **state) {
  (void)state;
  struct rbt_proc redis, agent;
  assert_true(rbt_redis_start(&redis, REDIS_PW));
  static char envpw[] = "REDIS_PASSWORD=not-the-password";
  char *env[] = {envpw, NULL};
  assert_true(rbt_agent_start(&agent, redis.port, NULL, env));
  redisContext *c = rbt_connect_timeout(agent.port);
  assert_non_null(c);
  for (int i = 0; i < 5; i++) {
    redisReply *r = redisCommand(c, "GET k");
    assert_non_null(r); /* answered, never hung */
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    usleep(50 * 1000);
  }
  redisFree(c);
  /* The refused AUTH is retried with backoff (20 ms doubling to 2 s, docs/agent.md), not
   * every 20 ms: over 1.6 s that is at most 8 connections per upstream (20+40+...+640 ms
   * with jitter), where a backoff reset by every accepted TCP connection makes about 60. */
  long long before = connections_received(redis.port);
  usleep(1600 * 1000);
  long long during = connections_received(redis.port) - before - 1; /* less our 2nd INFO */
  rbt_proc_stop(&agent, SIGTERM);
  char *log = rbt_proc_log(&agent);
  assert_non_null(strstr(log, "refused the agent's AUTH"));
  assert_null(strstr(log, "not-the-password"));
  if (during > 10) fprintf(stderr, "agent reconnected %lld times in 1.6 s\n", during);
  assert_true(during >= 0 && during <= 10);
  /* One line for the outage, not one per attempt; and never "connected" while refused. */
  const char *first = strstr(log, "refused the agent's AUTH");
  assert_null(strstr(first + 1, "refused the agent's AUTH"));
  assert_null(strstr(log, "connected to Redis"));
  free(log);
  rbt_proc_stop(&redis, SIGTERM);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_both_passwords),
      cmocka_unit_test(test_wrong_redis_password_gives_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
