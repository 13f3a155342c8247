/* test_agent_cmd.c: the command table, local answers, AUTH/NOAUTH, refusals; config parsing
 * and metrics rendering. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_buf.h"
#include "agent_cmd.h"
#include "agent_config.h"
#include "agent_metrics.h"
#include "agent_req.h"

/* Parses an inline command line and asks agent_cmd_answer about it. Returns the reply
 * (static buffer) or NULL when the command passes to Redis. */
static const char *answer(const char *line, const char *password, struct agent_session *s,
                          const struct agent_cmd_info **info) {
  static char reply[1024];
  char buf[512];
  size_t n = (size_t)snprintf(buf, sizeof buf, "%s\r\n", line), used;
  struct agent_req r;
  agent_req_init(&r, NULL);
  assert_int_equal(agent_req_parse(&r, buf, n, &used), AGENT_REQ_CMD);
  struct agent_cmd_args a = {buf, r.argv, r.argc};
  struct agent_buf out;
  agent_buf_init(&out);
  const struct agent_cmd_info *i = NULL;
  bool local = agent_cmd_answer(&a, password, s, &i, &out);
  if (info) *info = i;
  snprintf(reply, sizeof reply, "%.*s", (int)out.len, out.len ? agent_buf_head(&out) : "");
  agent_buf_deinit(&out);
  agent_req_deinit(&r);
  return local ? reply : NULL;
}

static void test_table_sorted_and_found(void **state) {
  (void)state;
  for (size_t i = 1; i < agent_cmd_count(); i++)
    if (strcmp(agent_cmd_at(i - 1)->name, agent_cmd_at(i)->name) >= 0)
      fail_msg("table not sorted at %s", agent_cmd_at(i)->name);
  for (size_t i = 0; i < agent_cmd_count(); i++) {
    const char *nm = agent_cmd_at(i)->name;
    assert_ptr_equal(agent_cmd_lookup(nm, strlen(nm)), agent_cmd_at(i));
  }
  assert_non_null(agent_cmd_lookup("get", 3));
  assert_non_null(agent_cmd_lookup("gEt", 3));
  assert_null(agent_cmd_lookup("GETX", 4));
  assert_null(agent_cmd_lookup("GE", 2));
  assert_null(agent_cmd_lookup("", 0));
}

static void test_pass_through(void **state) {
  (void)state;
  struct agent_session s = {.authed = true};
  const struct agent_cmd_info *info;
  const char *pass[] = {"SET k v",
                        "set k v EX 10",
                        "GET k",
                        "DEL a b",
                        "EXISTS a",
                        "MGET a b",
                        "MSET a 1 b 2",
                        "INCR n",
                        "INCRBY n 3",
                        "HSET h f v",
                        "EXPIRE k 5",
                        "XREAD COUNT 1 STREAMS s 0",
                        "EVAL \"return 1\" 0"};
  for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
    if (answer(pass[i], NULL, &s, &info) != NULL) fail_msg("%s did not pass", pass[i]);
    assert_int_equal(info->kind, AGENT_CMD_PASS);
  }
  assert_null(answer("get k", NULL, &s, &info));
  assert_int_equal(info->id, AGENT_CMD_GET);
  assert_null(answer("SET k v", NULL, &s, &info));
  assert_int_equal(info->id, AGENT_CMD_SET);
}

static void test_local_commands(void **state) {
  (void)state;
  struct agent_session s = {.authed = true, .id = 7};
  assert_string_equal(answer("PING", NULL, &s, NULL), "+PONG\r\n");
  assert_string_equal(answer("ping hello", NULL, &s, NULL), "$5\r\nhello\r\n");
  assert_non_null(
      strstr(answer("PING a b", NULL, &s, NULL), "wrong number of arguments for 'ping'"));
  assert_string_equal(answer("ECHO \"a b\"", NULL, &s, NULL), "$3\r\na b\r\n");
  assert_non_null(strstr(answer("ECHO", NULL, &s, NULL), "wrong number of arguments for 'echo'"));
  const char *h = answer("HELLO 2", NULL, &s, NULL);
  assert_true(strncmp(h, "*14\r\n$6\r\nserver\r\n", 17) == 0);
  assert_non_null(strstr(h, "$5\r\nproto\r\n:2\r\n"));
  assert_non_null(strstr(h, "$2\r\nid\r\n:7\r\n"));
  assert_non_null(strstr(answer("HELLO", NULL, &s, NULL), "proto"));
  assert_true(strncmp(answer("HELLO 3", NULL, &s, NULL), "-NOPROTO", 8) == 0);
  assert_non_null(strstr(answer("HELLO x", NULL, &s, NULL), "Protocol version"));
  assert_false(s.quit);
  assert_string_equal(answer("QUIT", NULL, &s, NULL), "+OK\r\n");
  assert_true(s.quit);
}

static void test_refused_commands_name_themselves(void **state) {
  (void)state;
  struct agent_session s = {.authed = true};
  const char *names[] = {"MULTI",  "EXEC",      "WATCH",      "BLPOP",  "BRPOP",
                         "BLMOVE", "SUBSCRIBE", "PSUBSCRIBE", "SELECT", "MONITOR",
                         "CONFIG", "FLUSHALL",  "CLIENT",     "WAIT"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char line[64], want[64];
    snprintf(line, sizeof line, "%s x y", names[i]);
    snprintf(want, sizeof want, "'%s'", names[i]);
    const char *r = answer(line, NULL, &s, NULL);
    assert_non_null(r);
    assert_true(strncmp(r, "-ERR ", 5) == 0);
    if (!strstr(r, want)) fail_msg("%s: reply %s does not name it", names[i], r);
  }
  const char *r = answer("multi", NULL, &s, NULL);
  assert_non_null(strstr(r, "'MULTI'"));
  r = answer("XREAD BLOCK 0 STREAMS s $", NULL, &s, NULL);
  assert_non_null(strstr(r, "'XREAD' with BLOCK"));
  r = answer("FOOBAR 1", NULL, &s, NULL);
  assert_string_equal(r, "-ERR unknown or unsupported command 'FOOBAR' (rbench-agent)\r\n");
  /* A hostile name cannot inject a line break or a quote into the reply. */
  r = answer("\"a'b\\r\\nc\"", NULL, &s, NULL);
  assert_string_equal(r, "-ERR unknown or unsupported command 'a?b??c' (rbench-agent)\r\n");
}

static void test_auth(void **state) {
  (void)state;
  const char *pw = "s3cret";
  struct agent_session s = {.authed = false};
  assert_string_equal(answer("GET k", pw, &s, NULL), "-NOAUTH Authentication required.\r\n");
  assert_string_equal(answer("PING", pw, &s, NULL), "-NOAUTH Authentication required.\r\n");
  assert_string_equal(answer("MULTI", pw, &s, NULL), "-NOAUTH Authentication required.\r\n");
  assert_true(strncmp(answer("HELLO 2", pw, &s, NULL), "-NOAUTH HELLO must be called", 28) == 0);
  const char *r = answer("AUTH wrong", pw, &s, NULL);
  assert_string_equal(r, "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  assert_null(strstr(r, pw));
  assert_false(s.authed);
  assert_non_null(strstr(answer("AUTH s3cre", pw, &s, NULL), "WRONGPASS"));
  assert_non_null(strstr(answer("AUTH s3crett", pw, &s, NULL), "WRONGPASS"));
  assert_non_null(strstr(answer("AUTH other s3cret", pw, &s, NULL), "WRONGPASS"));
  assert_string_equal(answer("AUTH s3cret", pw, &s, NULL), "+OK\r\n");
  assert_true(s.authed);
  assert_null(answer("GET k", pw, &s, NULL));
  struct agent_session s2 = {.authed = false};
  assert_string_equal(answer("AUTH default s3cret", pw, &s2, NULL), "+OK\r\n");
  struct agent_session s3 = {.authed = false};
  assert_non_null(strstr(answer("HELLO 2 AUTH default s3cret", pw, &s3, NULL), "proto"));
  assert_true(s3.authed);
  struct agent_session s4 = {.authed = true};
  assert_non_null(strstr(answer("AUTH x", NULL, &s4, NULL), "without any password configured"));
  assert_non_null(strstr(answer("AUTH", pw, &s4, NULL), "wrong number of arguments for 'auth'"));
}

/* ---- config ------------------------------------------------------------------------------- */

static const char *fake_env_vals[16][2];

static const char *fake_env(const char *name) {
  for (int i = 0; i < 16 && fake_env_vals[i][0]; i++)
    if (strcmp(fake_env_vals[i][0], name) == 0) return fake_env_vals[i][1];
  return NULL;
}

static enum rb_err parse(struct agent_config *c, const char *const *args,
                         enum agent_config_action *act, char *err) {
  char *argv[32];
  int argc = 0;
  argv[argc++] = strdup("rbench-agent");
  for (int i = 0; args[i]; i++) argv[argc++] = strdup(args[i]);
  argv[argc] = NULL;
  enum rb_err rc = agent_config_parse(c, argc, argv, fake_env, act, err, 256);
  for (int i = 0; i < argc; i++) free(argv[i]);
  return rc;
}

static void test_config_defaults_flags_env(void **state) {
  (void)state;
  struct agent_config c;
  enum agent_config_action act;
  char err[256];
  memset(fake_env_vals, 0, sizeof fake_env_vals);
  const char *none[] = {NULL};
  assert_int_equal(parse(&c, none, &act, err), RB_OK);
  assert_int_equal(act, AGENT_CONFIG_RUN);
  assert_int_equal(c.listen_port, 6380);
  assert_int_equal(c.redis_port, 6379);
  assert_int_equal(c.flush.mode, AGENT_FLUSH_IDLE);
  assert_int_equal(c.flush.window_us, 1000);
  assert_false(c.coalesce);
  assert_true(c.io_uring);
  assert_true(c.upstream_wait);
  assert_int_equal(c.nap.nap_us, 100);
  assert_int_equal(c.nap.min_outstanding, 8);
  assert_int_equal(c.nap.max_cmds, 32);
  assert_int_equal(c.nap.per_client_us, 2);
  assert_null(c.redis_password);
  agent_config_deinit(&c);

  fake_env_vals[0][0] = "RBENCH_AGENT_WINDOW_US";
  fake_env_vals[0][1] = "250";
  fake_env_vals[1][0] = "RBENCH_AGENT_COALESCE";
  fake_env_vals[1][1] = "1";
  fake_env_vals[2][0] = "REDIS_PASSWORD";
  fake_env_vals[2][1] = "envpw";
  fake_env_vals[3][0] = "RBENCH_AGENT_MAX_BATCH";
  fake_env_vals[3][1] = "64";
  fake_env_vals[4][0] = "RBENCH_AGENT_NO_IO_URING";
  fake_env_vals[4][1] = "1";
  fake_env_vals[5][0] = "RBENCH_AGENT_NAP_US";
  fake_env_vals[5][1] = "40";
  const char *flags[] = {"--listen",
                         "127.0.0.1:7000",
                         "--redis",
                         "10.0.0.1:7001",
                         "--window-us",
                         "500",
                         "--flush",
                         "pass",
                         "--workers",
                         "2",
                         "--upstreams",
                         "3",
                         "--metrics",
                         ":9100",
                         "--max-request-bytes",
                         "4096",
                         "--max-client-output-bytes",
                         "65536",
                         "--nap-min-outstanding",
                         "12",
                         "--nap-us-per-client",
                         "0",
                         "--no-upstream-wait",
                         NULL};
  assert_int_equal(parse(&c, flags, &act, err), RB_OK);
  assert_int_equal(c.max_output, 65536);
  assert_int_equal(c.listen_port, 7000);
  assert_string_equal(c.redis_host, "10.0.0.1");
  assert_int_equal(c.flush.window_us, 500); /* the flag wins over the variable */
  assert_int_equal(c.flush.max_batch, 64);
  assert_int_equal(c.flush.mode, AGENT_FLUSH_PASS);
  assert_true(c.coalesce);
  assert_false(c.io_uring);
  assert_int_equal(c.nap.nap_us, 40);
  assert_int_equal(c.nap.min_outstanding, 12);
  assert_int_equal(c.nap.per_client_us, 0);
  assert_false(c.upstream_wait);
  assert_int_equal(c.workers, 2);
  assert_int_equal(c.upstreams, 3);
  assert_int_equal(c.metrics_port, 9100);
  assert_int_equal(c.limits.max_request, 4096);
  assert_true(c.limits.max_bulk <= 4096);
  assert_string_equal(c.redis_password, "envpw");
  agent_config_deinit(&c);
  memset(fake_env_vals, 0, sizeof fake_env_vals);
}

/* A misspelt RBENCH_AGENT_* variable is refused, naming it and the one meant; others' pass. */
static void test_config_env_names(void **state) {
  (void)state;
  char err[256];
  const char *good[] = {"RBENCH_AGENT_WINDOW_US=500", "RBENCH_AGENT_COALESCE=1", "PATH=/bin",
                        "REDIS_PASSWORD=x", NULL};
  assert_int_equal(agent_config_check_env(good, err, sizeof err), RB_OK);
  const char *typo[] = {"PATH=/bin", "RBENCH_AGENT_WINDOWS_US=500", NULL};
  assert_int_equal(agent_config_check_env(typo, err, sizeof err), RB_ERR_INVALID);
  assert_string_equal(
      err, "unknown variable RBENCH_AGENT_WINDOWS_US (did you mean RBENCH_AGENT_WINDOW_US?)");
  const char *swap[] = {"RBENCH_AGENT_COALSECE=1", NULL};
  assert_int_equal(agent_config_check_env(swap, err, sizeof err), RB_ERR_INVALID);
  assert_string_equal(
      err, "unknown variable RBENCH_AGENT_COALSECE (did you mean RBENCH_AGENT_COALESCE?)");
  const char *far[] = {"RBENCH_AGENT_SOMETHING_ELSE_ENTIRELY=secret", NULL};
  assert_int_equal(agent_config_check_env(far, err, sizeof err), RB_ERR_INVALID);
  assert_non_null(
      strstr(err, "unknown variable RBENCH_AGENT_SOMETHING_ELSE_ENTIRELY (each flag's variable"));
  assert_null(strstr(err, "secret"));
}

static void test_config_password_files_and_errors(void **state) {
  (void)state;
  struct agent_config c;
  enum agent_config_action act;
  char err[256];
  memset(fake_env_vals, 0, sizeof fake_env_vals);
  char path[] = "/tmp/rbench-agent-pw-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "filepw\n", 7), 7);
  close(fd);
  const char *f[] = {"--client-password-file", path, "--redis-password-file", path, NULL};
  assert_int_equal(parse(&c, f, &act, err), RB_OK);
  assert_string_equal(c.client_password, "filepw");
  assert_string_equal(c.redis_password, "filepw");
  agent_config_deinit(&c);
  unlink(path);
  assert_int_equal(parse(&c, f, &act, err), RB_ERR_IO);
  assert_non_null(strstr(err, "--client-password-file"));
  agent_config_deinit(&c);
  /* No flag takes a password as its value. */
  const char *bad[] = {"--redis-password", "hunter2", NULL};
  assert_int_equal(parse(&c, bad, &act, err), RB_ERR_INVALID);
  assert_null(strstr(err, "hunter2"));
  agent_config_deinit(&c);
  const char *bad2[] = {"--redis-password=hunter2", NULL};
  assert_int_equal(parse(&c, bad2, &act, err), RB_ERR_INVALID);
  assert_null(strstr(err, "hunter2"));
  assert_non_null(strstr(err, "--redis-password'"));
  agent_config_deinit(&c);
  /* A switch given a value names itself (it once said "incomplete or unknown option"). */
  const char *co[] = {"--coalesce=yes", NULL};
  assert_int_equal(parse(&c, co, &act, err), RB_ERR_INVALID);
  assert_string_equal(err,
                      "option '--coalesce' takes no value (drop '=...'; its variable "
                      "RBENCH_AGENT_COALESCE takes 1, 0, true or false)");
  agent_config_deinit(&c);
  const char *nov[] = {"--listen", NULL};
  assert_int_equal(parse(&c, nov, &act, err), RB_ERR_INVALID);
  assert_string_equal(err, "option '--listen' needs a value (see --help)");
  agent_config_deinit(&c);
  /* A directory is not "empty". */
  const char *dir[] = {"--redis-password-file", "/tmp", NULL};
  assert_int_equal(parse(&c, dir, &act, err), RB_ERR_INVALID);
  assert_string_equal(err, "--redis-password-file: /tmp is a directory, not a file");
  agent_config_deinit(&c);
  const char *b2[] = {"--window-us", "-1", NULL};
  assert_int_equal(parse(&c, b2, &act, err), RB_ERR_INVALID);
  assert_non_null(strstr(err, "--window-us"));
  agent_config_deinit(&c);
  const char *b5[] = {"--nap-us", "100001", NULL};
  assert_int_equal(parse(&c, b5, &act, err), RB_ERR_INVALID);
  assert_non_null(strstr(err, "--nap-us"));
  agent_config_deinit(&c);
  const char *b6[] = {"--nap-us-per-client", "1001", NULL};
  assert_int_equal(parse(&c, b6, &act, err), RB_ERR_INVALID);
  assert_non_null(strstr(err, "--nap-us-per-client"));
  agent_config_deinit(&c);
  const char *b3[] = {"--flush", "sometimes", NULL};
  assert_int_equal(parse(&c, b3, &act, err), RB_ERR_INVALID);
  agent_config_deinit(&c);
  const char *b4[] = {"--listen", "nope", NULL};
  assert_int_equal(parse(&c, b4, &act, err), RB_ERR_INVALID);
  agent_config_deinit(&c);
  const char *h[] = {"--help", NULL};
  assert_int_equal(parse(&c, h, &act, err), RB_OK);
  assert_int_equal(act, AGENT_CONFIG_HELP);
  agent_config_deinit(&c);
  const char *v[] = {"--version", NULL};
  assert_int_equal(parse(&c, v, &act, err), RB_OK);
  assert_int_equal(act, AGENT_CONFIG_VERSION);
  agent_config_deinit(&c);
  assert_non_null(strstr(agent_config_usage(), "--coalesce"));
}

/* ---- metrics ------------------------------------------------------------------------------ */

static void test_metrics_process(void **state) {
  (void)state;
  struct agent_buf b;
  agent_buf_init(&b);
  struct agent_process pr = {
      .cpu_seconds = 1.25, .rss_bytes = 4505600, .start_time_s = 1700000000.5};
  agent_metrics_render_process(&pr, &b);
  agent_buf_append(&b, "", 1);
  const char *t = agent_buf_head(&b);
  assert_non_null(
      strstr(t, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.250000\n"));
  assert_non_null(strstr(t, "# HELP process_cpu_seconds_total "));
  assert_non_null(strstr(
      t, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 4505600\n"));
  assert_non_null(strstr(
      t, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1700000000.500\n"));
  agent_buf_deinit(&b);
  /* A figure that could not be read is left out, not rendered as a made-up value. */
  agent_buf_init(&b);
  pr = (struct agent_process){.cpu_seconds = 0.5, .rss_bytes = -1, .start_time_s = -1};
  agent_metrics_render_process(&pr, &b);
  agent_buf_append(&b, "", 1);
  t = agent_buf_head(&b);
  assert_non_null(strstr(t, "process_cpu_seconds_total 0.500000\n"));
  assert_null(strstr(t, "process_resident_memory_bytes"));
  assert_null(strstr(t, "process_start_time_seconds"));
  agent_buf_deinit(&b);
}

static void test_metrics_render(void **state) {
  (void)state;
  static struct agent_metrics m1, m2;
  agent_metrics_init(&m1);
  agent_metrics_init(&m2);
  agent_metric_add(&m1.requests, 5);
  agent_metric_add(&m2.requests, 7);
  agent_hist_record(&m1.batch_size, agent_metrics_batch_bounds, agent_metrics_batch_nbounds, 3, 1);
  agent_hist_record(&m2.batch_size, agent_metrics_batch_bounds, agent_metrics_batch_nbounds, 2000,
                    2);
  struct agent_metrics *ms[2] = {&m1, &m2};
  struct agent_buf b;
  agent_buf_init(&b);
  agent_metrics_render(ms, 2, &b);
  agent_buf_append(&b, "", 1);
  const char *t = agent_buf_head(&b);
  assert_non_null(
      strstr(t, "# TYPE rbench_agent_requests_total counter\nrbench_agent_requests_total 12\n"));
  assert_non_null(strstr(t, "rbench_agent_batch_size_bucket{le=\"2\"} 0\n"));
  assert_non_null(strstr(t, "rbench_agent_batch_size_bucket{le=\"4\"} 1\n"));
  assert_non_null(strstr(t, "rbench_agent_batch_size_bucket{le=\"1024\"} 1\n"));
  assert_non_null(strstr(t, "rbench_agent_batch_size_bucket{le=\"+Inf\"} 3\n"));
  assert_non_null(strstr(t, "rbench_agent_batch_size_sum 4003\n"));
  assert_non_null(strstr(t, "rbench_agent_batch_size_count 3\n"));
  assert_non_null(strstr(t, "# TYPE rbench_agent_queue_delay_microseconds histogram\n"));
  assert_non_null(strstr(t, "rbench_agent_upstream_errors_total 0\n"));
  assert_non_null(strstr(t, "# TYPE rbench_agent_upstream_writes_total counter\n"));
  agent_buf_deinit(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_sorted_and_found),
      cmocka_unit_test(test_pass_through),
      cmocka_unit_test(test_local_commands),
      cmocka_unit_test(test_refused_commands_name_themselves),
      cmocka_unit_test(test_auth),
      cmocka_unit_test(test_config_defaults_flags_env),
      cmocka_unit_test(test_config_password_files_and_errors),
      cmocka_unit_test(test_config_env_names),
      cmocka_unit_test(test_metrics_render),
      cmocka_unit_test(test_metrics_process),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
