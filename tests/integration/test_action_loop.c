/* test_action_loop.c: rbench-action under OpenWhisk's ActionLoop protocol: started with an
 * environment holding only __OW_* and /init's variables (no PATH, no HOME), one JSON line per
 * activation on stdin, one JSON line back on file descriptor 3, nothing else on fd 3 and no
 * sentinel (the proxy writes it). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_json.h"
#include "rbt.h"

struct child {
  pid_t pid;
  int in;        /* write end of the child's stdin */
  FILE *answers; /* read end of the child's fd 3 */
  int out;       /* read end of the child's stdout+stderr */
};

/* Starts rbench-action the way the ActionLoop proxy does: env replaced entirely. */
static void spawn(struct child *c, char *const envp[], const char *flag) {
  int in[2], ans[2], out[2];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(ans), 0);
  assert_int_equal(pipe(out), 0);
  c->pid = fork();
  assert_true(c->pid >= 0);
  if (c->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    dup2(ans[1], 3);
    for (int fd = 4; fd < 64; fd++) close(fd);
    char *argv[] = {(char *)"rbench-action", (char *)flag, NULL};
    execve(rbt_bin("rbench-action"), argv, envp);
    _exit(127);
  }
  close(in[0]);
  close(ans[1]);
  close(out[1]);
  c->in = in[1];
  c->answers = fdopen(ans[0], "r");
  /* unbuffered: a getline must not take the next answer into stdio's buffer, where the poll
   * in read_answer would not see it */
  setvbuf(c->answers, NULL, _IONBF, 0);
  c->out = out[0];
  fcntl(c->out, F_SETFL, O_NONBLOCK);
}

static char *read_answer(struct child *c) {
  struct pollfd pfd = {.fd = fileno(c->answers), .events = POLLIN};
  if (poll(&pfd, 1, 10000) != 1) fail_msg("no answer on fd 3 within 10 s");
  char *line = NULL;
  size_t cap = 0;
  if (getline(&line, &cap, c->answers) < 0) fail_msg("fd 3 closed");
  return line;
}

static cJSON *activate(struct child *c, const char *line) {
  size_t len = strlen(line);
  assert_int_equal(write(c->in, line, len), (ssize_t)len);
  assert_int_equal(write(c->in, "\n", 1), 1);
  char *ans = read_answer(c);
  size_t n = strlen(ans);
  assert_true(n > 1 && ans[n - 1] == '\n');
  assert_null(memchr(ans, '\n', n - 1)); /* exactly one line */
  cJSON *j = NULL;
  if (rb_json_parse(ans, n, &j, NULL, 0) != RB_OK) fail_msg("not JSON: %s", ans);
  free(ans);
  return j;
}

static int finish(struct child *c, char *out, size_t outlen) {
  close(c->in);
  int status = 0;
  waitpid(c->pid, &status, 0);
  char rest[16];
  assert_null(fgets(rest, sizeof rest, c->answers)); /* nothing more on fd 3 */
  fclose(c->answers);
  ssize_t n = read(c->out, out, outlen - 1);
  out[n > 0 ? n : 0] = '\0';
  close(c->out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_actionloop_activations(void **state) {
  (void)state;
  struct rbt_proc redis = {0};
  assert_true(rbt_redis_start(&redis, NULL));
  char port_env[64];
  snprintf(port_env, sizeof port_env, "REDIS_PORT=%d", redis.port);
  char *envp[] = {(char *)"__OW_PROXY_VERSION=1.17.1", (char *)"__OW_API_HOST=https://10.0.0.1",
                  port_env, NULL};
  struct child c;
  spawn(&c, envp, NULL);
  cJSON *j = activate(&c,
                      "{\"value\":{\"num_ops\":7,\"parallel_calls\":2,\"key_prefix\":\"loop\"},"
                      "\"namespace\":\"guest\",\"action_name\":\"/guest/redis_benchmark\","
                      "\"activation_id\":\"abc123\",\"deadline\":\"99999999999999\"}");
  assert_null(cJSON_GetObjectItem(j, "error"));
  assert_int_equal(cJSON_GetObjectItem(j, "succeeded")->valueint, 7);
  assert_string_equal(cJSON_GetObjectItem(j, "activation_id")->valuestring, "abc123");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "cold")));
  cJSON_Delete(j);
  j = activate(&c,
               "{\"value\":{\"num_ops\":7,\"parallel_calls\":2,\"operation_type\":\"get\",\"key_"
               "prefix\":\"loop\"}}");
  assert_int_equal(cJSON_GetObjectItem(j, "found")->valueint, 7);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "warm")));
  cJSON_Delete(j);
  j = activate(&c, "{\"value\":{\"operation_type\":\"flush\"}}");
  assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring,
                      "operation_type must be one of set, get, del, exists, incr, mget, mset, "
                      "hset, hget, hgetall, lpush, lrange, sadd, smembers, zadd, zrangebyscore, "
                      "eval; got \"flush\"");
  cJSON_Delete(j);
  j = activate(&c, "{broken");
  assert_non_null(strstr(cJSON_GetObjectItem(j, "error")->valuestring, "malformed JSON"));
  cJSON_Delete(j);
  char out[8192];
  assert_int_equal(finish(&c, out, sizeof out), 0);
  assert_null(strstr(out, "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"));
  redisContext *rc = rbt_redis_connect(redis.port, NULL);
  redisReply *r = redisCommand(rc, "EXISTS loop:0 loop:6");
  assert_int_equal(r->integer, 2);
  freeReplyObject(r);
  redisFree(rc);
  rbt_proc_stop(&redis, SIGTERM);
}

/* Concurrency 1: a second line written while the first runs waits for the first's answer; the
 * answers come in the order of the lines and the two activations do not overlap. */
static void test_actionloop_one_at_a_time(void **state) {
  (void)state;
  struct rbt_proc redis = {0};
  assert_true(rbt_redis_start(&redis, NULL));
  char port_env[64];
  snprintf(port_env, sizeof port_env, "REDIS_PORT=%d", redis.port);
  char *envp[] = {(char *)"__OW_PROXY_VERSION=1.17.1", port_env, NULL};
  struct child c;
  spawn(&c, envp, NULL);
  /* the first: 20 evals of some 10 ms each; the second behind it in the same write */
  const char *two =
      "{\"value\":{\"num_ops\":20,\"operation_type\":\"eval\",\"script_work\":400000},"
      "\"activation_id\":\"first\"}\n"
      "{\"value\":{\"num_ops\":5},\"activation_id\":\"second\"}\n";
  assert_int_equal(write(c.in, two, strlen(two)), (ssize_t)strlen(two));
  cJSON *j[2];
  for (int i = 0; i < 2; i++) {
    char *ans = read_answer(&c);
    assert_int_equal(rb_json_parse(ans, strlen(ans), &j[i], NULL, 0), RB_OK);
    free(ans);
  }
  assert_string_equal(cJSON_GetObjectItem(j[0], "activation_id")->valuestring, "first");
  assert_string_equal(cJSON_GetObjectItem(j[1], "activation_id")->valuestring, "second");
  assert_int_equal(cJSON_GetObjectItem(j[0], "succeeded")->valueint, 20);
  assert_int_equal(cJSON_GetObjectItem(j[1], "succeeded")->valueint, 5);
  /* the second started when the first had ended */
  assert_true(cJSON_GetObjectItem(j[1], "start_ms")->valuedouble >=
              cJSON_GetObjectItem(j[0], "end_ms")->valuedouble);
  cJSON_Delete(j[0]);
  cJSON_Delete(j[1]);
  char out[8192];
  assert_int_equal(finish(&c, out, sizeof out), 0);
  rbt_proc_stop(&redis, SIGTERM);
}

static void test_actionloop_ack_and_flag(void **state) {
  (void)state;
  char *envp[] = {(char *)"__OW_PROXY_VERSION=1.17.1", (char *)"__OW_WAIT_FOR_ACK=1", NULL};
  struct child c;
  spawn(&c, envp, NULL);
  char *ack = read_answer(&c);
  assert_string_equal(ack, "{\"ok\":true}\n");
  free(ack);
  cJSON *j = activate(&c, "{\"value\":{\"num_ops\":\"0\"}}");
  assert_non_null(cJSON_GetObjectItem(j, "error"));
  cJSON_Delete(j);
  char out[4096];
  assert_int_equal(finish(&c, out, sizeof out), 0);
  /* --actionloop selects the mode without the proxy's variable. */
  char *envp2[] = {NULL};
  spawn(&c, envp2, "--actionloop");
  j = activate(&c, "{\"value\":{\"num_ops\":2,\"redis_port\":1}}");
  assert_int_equal(cJSON_GetObjectItem(j, "failed")->valueint, 2);
  cJSON_Delete(j);
  assert_int_equal(finish(&c, out, sizeof out), 0);
}

static void test_actionloop_without_fd3(void **state) {
  (void)state;
  int out[2];
  assert_int_equal(pipe(out), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 2);
    for (int fd = 3; fd < 64; fd++) close(fd);
    char *argv[] = {(char *)"rbench-action", (char *)"--actionloop", NULL};
    char *envp[] = {NULL};
    execve(rbt_bin("rbench-action"), argv, envp);
    _exit(127);
  }
  close(out[1]);
  char buf[512] = "";
  ssize_t n = read(out[0], buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = '\0';
  close(out[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_int_equal(WEXITSTATUS(status), 2);
  assert_non_null(strstr(buf, "needs file descriptor 3"));
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_actionloop_activations),
      cmocka_unit_test(test_actionloop_one_at_a_time),
      cmocka_unit_test(test_actionloop_ack_and_flag),
      cmocka_unit_test(test_actionloop_without_fd3),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
