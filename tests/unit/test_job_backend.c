/* test_job_backend.c: Redis INFO and Prometheus parsing, the deltas between two samples, the
 * shared-server rule, and garbage in (truncated, malformed, random) never crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_backend.h"
#include "rb_str.h"

/* A Redis 7 INFO reply (CRLF, as the server sends it), trimmed to what matters and a few
 * look-alike fields (used_cpu_sys_children) that must not be taken. */
static const char *info_text(double sys, double user, long cmds, long reads, long writes, long in,
                             long out, long conns, long sets, long infos, const char *extra) {
  static char buf[4096];
  snprintf(
      buf, sizeof buf,
      "# Server\r\nredis_version:7.0.15\r\nrun_id:3d68443b214235ffbfed35ab806af0879c128e16\r\n"
      "\r\n# Clients\r\nconnected_clients:3\r\nmaxclients:10000\r\n"
      "\r\n# CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\nused_cpu_sys_children:9.0\r\n"
      "used_cpu_sys_main_thread:7.0\r\n"
      "\r\n# Stats\r\ntotal_connections_received:%ld\r\ntotal_commands_processed:%ld\r\n"
      "instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:%ld\r\ntotal_net_output_bytes:%ld\r\n"
      "total_reads_processed:%ld\r\ntotal_writes_processed:%ld\r\n"
      "\r\n# Commandstats\r\n"
      "cmdstat_set:calls=%ld,usec=900,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n"
      "cmdstat_info:calls=%ld,usec=10,usec_per_call=10.0,rejected_calls=0,failed_calls=0\r\n"
      "cmdstat_client|setname:calls=2,usec=1,usec_per_call=0.5,rejected_calls=0,failed_calls=0\r\n"
      "%s",
      sys, user, conns, cmds, in, out, reads, writes, sets, infos, extra ? extra : "");
  return buf;
}

static void parse_info(struct job_redis_info *r, const char *text) {
  assert_true(job_redis_info_parse(text, strlen(text), r) > 0);
}

static void test_info_parse(void **state) {
  (void)state;
  struct job_redis_info r;
  parse_info(&r, info_text(1.5, 0.25, 1000, 200, 190, 5000, 600, 7, 900, 3, NULL));
  assert_true(r.v[JOB_RI_CPU_SYS] == 1.5);
  assert_true(r.v[JOB_RI_CPU_USER] == 0.25);
  assert_true(r.v[JOB_RI_COMMANDS] == 1000);
  assert_true(r.v[JOB_RI_READS] == 200);
  assert_true(r.v[JOB_RI_WRITES] == 190);
  assert_true(r.v[JOB_RI_NET_IN] == 5000);
  assert_true(r.v[JOB_RI_NET_OUT] == 600);
  assert_true(r.v[JOB_RI_CONNECTIONS] == 7);
  assert_true(r.v[JOB_RI_CLIENTS] == 3);
  assert_int_equal(r.have, (1u << JOB_RI_COUNT) - 1);
  assert_string_equal(r.run_id, "3d68443b214235ffbfed35ab806af0879c128e16");
  assert_true(r.commandstats);
  assert_int_equal(r.ncmd, 3);
  assert_string_equal(r.cmd[0].name, "set");
  assert_true(r.cmd[0].calls == 900);
  assert_string_equal(r.cmd[2].name, "client|setname");
  /* LF only, and a field whose value is not a number is missing, not 0. */
  const char *lf = "used_cpu_sys:abc\nused_cpu_user:0.5\ntotal_commands_processed:-4\n";
  assert_int_equal(job_redis_info_parse(lf, strlen(lf), &r), 1);
  assert_false(r.have & (1u << JOB_RI_CPU_SYS));
  assert_false(r.have & (1u << JOB_RI_COMMANDS));
  assert_true(r.v[JOB_RI_CPU_USER] == 0.5);
  assert_false(r.commandstats);
  assert_int_equal(job_redis_info_parse("", 0, &r), 0);
  assert_int_equal(job_redis_info_parse("-ERR unknown command\r\n", 22, &r), 0);
}

static void test_prom_parse(void **state) {
  (void)state;
  const char *t =
      "# HELP rbench_agent_requests_total commands read from clients\n"
      "# TYPE rbench_agent_requests_total counter\n"
      "rbench_agent_requests_total 500\n"
      "rbench_agent_batches_total{worker=\"0\"} 100 1700000000000\n"
      "rbench_agent_batch_size_bucket{le=\"1\"} 10\n"
      "rbench_agent_batch_size_bucket{path=\"a\\\"b\\\\\",le=\"2\"} 30\n"
      "rbench_agent_batch_size_bucket{le=\"+Inf\"} 100\n"
      "rbench_agent_batch_size_bucket{le=\"4\"} 100\n"
      "process_cpu_seconds_total 1.5e-1\r\n"
      "broken_line{le=\"1\" 3\n"
      "no_value\n"
      "nan_value NaN\n"
      "   \n";
  struct job_agent_sample s;
  assert_int_equal(job_agent_parse(t, strlen(t), &s), 7);
  assert_true(s.v[JOB_AM_COMMANDS] == 500);
  assert_true(s.v[JOB_AM_BATCHES] == 100);
  assert_true(fabs(s.v[JOB_AM_CPU] - 0.15) < 1e-12);
  assert_false(s.have & (1u << JOB_AM_RSS));
  /* Buckets sorted by bound whatever their order in the text; +Inf last. */
  assert_int_equal(s.nb, 4);
  assert_true(s.le[0] == 1 && s.le[1] == 2 && s.le[2] == 4 && isinf(s.le[3]));
  assert_true(s.cum[1] == 30 && s.cum[2] == 100);
}

static void sample_with_buckets(struct job_agent_sample *s, const double *cum, size_t n) {
  static const double bounds[] = {1, 2, 4, 8, 16, INFINITY};
  memset(s, 0, sizeof *s);
  for (size_t i = 0; i < n; i++) {
    s->le[i] = bounds[i];
    s->cum[i] = cum[i];
  }
  s->nb = n;
}

static void test_batch_percentiles(void **state) {
  (void)state;
  struct job_agent_sample a, b;
  const double ca[] = {5, 5, 5, 5, 5, 5};
  /* 100 batches in the window: 10 of 1, 40 of 2, 49 of 3..4, 1 of 9..16. */
  const double cb[] = {15, 55, 104, 104, 105, 105};
  sample_with_buckets(&a, ca, 6);
  sample_with_buckets(&b, cb, 6);
  double p = 0;
  assert_true(job_agent_batch_percentile(&a, &b, 50, &p));
  assert_true(p == 2);
  assert_true(job_agent_batch_percentile(&a, &b, 99, &p));
  assert_true(p == 4);
  assert_true(job_agent_batch_percentile(&a, &b, 100, &p));
  assert_true(p == 16);
  /* Nothing batched in the window, bounds that differ, counts that went backwards, and a
   * batch above the last finite bound: not known. */
  assert_false(job_agent_batch_percentile(&a, &a, 50, &p));
  struct job_agent_sample c = b;
  c.le[2] = 5;
  assert_false(job_agent_batch_percentile(&a, &c, 50, &p));
  assert_false(job_agent_batch_percentile(&b, &a, 50, &p));
  const double cinf[] = {5, 5, 5, 5, 5, 6};
  sample_with_buckets(&c, cinf, 6);
  assert_false(job_agent_batch_percentile(&a, &c, 50, &p));
  assert_false(job_agent_batch_percentile(&a, &b, 0, &p));
}

static double num(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  assert_true(cJSON_IsNumber(v));
  return v->valuedouble;
}

static bool is_null(const cJSON *o, const char *name) {
  return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, name));
}

static const char *note_of(const cJSON *o) {
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "note");
  return cJSON_IsString(n) ? n->valuestring : NULL;
}

static bool shared(const cJSON *o) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "shared"));
}

static struct job_backend_window direct_window(double ops) {
  return (struct job_backend_window){.ops = ops,
                                     .operation = "set",
                                     .batching = false,
                                     .action_connections = 5,
                                     .sampler_info = 1,
                                     .sampler_auth = 0,
                                     .sampler_connections = 1};
}

static void test_redis_section(void **state) {
  (void)state;
  struct job_redis_info a, b;
  parse_info(&a, info_text(1.0, 0.5, 1000, 200, 190, 5000, 600, 7, 900, 3, NULL));
  parse_info(&b, info_text(1.3, 0.6, 1401, 602, 591, 45000, 4600, 13, 1300, 4, NULL));
  struct job_backend_window w = direct_window(400);
  cJSON *o = job_backend_redis_json("127.0.0.1:6379", &a, &b, &w, NULL, NULL);
  const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(o, "cpu_s");
  assert_true(fabs(num(cpu, "sys") - 0.3) < 1e-9);
  assert_true(fabs(num(cpu, "total") - 0.4) < 1e-9);
  assert_true(num(o, "commands") == 401);
  const cJSON *calls = cJSON_GetObjectItemCaseSensitive(o, "calls");
  assert_true(num(calls, "set") == 400);
  assert_true(num(calls, "info") == 1);
  assert_true(num(o, "reads") == 402);
  assert_true(num(o, "connections_received") == 6);
  assert_true(num(o, "ops") == 400);
  assert_true(fabs(num(o, "cpu_us_per_op") - 1000.0) < 1e-6);
  assert_true(fabs(num(o, "commands_per_op") - 1.0025) < 1e-9);
  assert_true(fabs(num(o, "reads_per_op") - 1.005) < 1e-9);
  assert_true(fabs(num(o, "bytes_per_op") - 110.0) < 1e-9);
  assert_false(shared(o));
  assert_null(note_of(o));
  cJSON_Delete(o);
  /* Nothing known about the operations: every per-op figure is null, the deltas stay. */
  w.ops = -1;
  o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_true(is_null(o, "cpu_us_per_op") && is_null(o, "reads_per_op") && is_null(o, "ops"));
  assert_true(num(o, "reads") == 402);
  cJSON_Delete(o);
}

static void test_redis_backwards_and_restart(void **state) {
  (void)state;
  struct job_redis_info a, b;
  parse_info(&a, info_text(1.0, 0.5, 1000, 200, 190, 5000, 600, 7, 900, 3, NULL));
  /* CONFIG RESETSTAT mid-run: the stats counters restart from 0, CPU does not. */
  parse_info(&b, info_text(1.3, 0.6, 50, 20, 19, 500, 60, 1, 40, 1, NULL));
  struct job_backend_window w = direct_window(400);
  cJSON *o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_true(is_null(o, "commands") && is_null(o, "commands_per_op"));
  assert_true(is_null(o, "reads") && is_null(o, "reads_per_op") && is_null(o, "calls"));
  assert_true(num(o, "cpu_us_per_op") > 0);
  assert_non_null(strstr(note_of(o), "total_commands_processed went backwards"));
  cJSON_Delete(o);
  /* A restart (new run_id): no figure at all, and the note says why. */
  parse_info(&b, info_text(2.0, 1.0, 5000, 2000, 1900, 50000, 6000, 9, 4000, 4, NULL));
  memcpy(b.run_id, "ffff", 5);
  o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_true(is_null(cJSON_GetObjectItemCaseSensitive(o, "cpu_s"), "total"));
  assert_true(is_null(o, "commands") && is_null(o, "cpu_us_per_op") && is_null(o, "reads"));
  assert_non_null(strstr(note_of(o), "restarted"));
  char *text = cJSON_PrintUnformatted(o);
  assert_null(strstr(text, ":-")); /* never a negative figure */
  cJSON_free(text);
  cJSON_Delete(o);
  /* A field missing from one sample: null for it alone. */
  parse_info(&b, info_text(1.3, 0.6, 1401, 602, 591, 45000, 4600, 13, 1300, 4, NULL));
  b.have &= ~(1u << JOB_RI_WRITES);
  o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_true(is_null(o, "writes") && is_null(o, "writes_per_op"));
  assert_true(num(o, "reads") == 402);
  cJSON_Delete(o);
}

static void test_redis_shared(void **state) {
  (void)state;
  struct job_redis_info a, b;
  struct job_backend_window w = direct_window(400);
  parse_info(&a, info_text(1.0, 0.5, 1000, 200, 190, 5000, 600, 7, 900, 3, NULL));
  /* Someone ran KEYS and GET. */
  parse_info(&b, info_text(1.3, 0.6, 1403, 604, 593, 45000, 4600, 13, 1300, 4,
                           "cmdstat_keys:calls=2,usec=5,usec_per_call=2.5\r\n"));
  cJSON *o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_true(shared(o));
  assert_non_null(strstr(note_of(o), "keys"));
  assert_true(num(cJSON_GetObjectItemCaseSensitive(o, "calls"), "keys") == 2);
  cJSON_Delete(o);
  /* More SETs than the actions performed. */
  parse_info(&b, info_text(1.3, 0.6, 1501, 602, 591, 45000, 4600, 13, 1400, 4, NULL));
  o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_true(shared(o));
  assert_non_null(strstr(note_of(o), "more than the 400 operations"));
  cJSON_Delete(o);
  /* Another INFO poller (a monitoring agent). */
  parse_info(&b, info_text(1.3, 0.6, 1402, 602, 591, 45000, 4600, 13, 1300, 5, NULL));
  o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_true(shared(o));
  cJSON_Delete(o);
  /* More connections than the actions' 5 and the sampler's 1. */
  parse_info(&b, info_text(1.3, 0.6, 1401, 602, 591, 45000, 4600, 20, 1300, 4, NULL));
  o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_true(shared(o));
  assert_non_null(strstr(note_of(o), "connections"));
  cJSON_Delete(o);
  /* Batched with coalescing: MSET counts as rbench's, and the agent's reconnections explain
   * its connections. */
  w = (struct job_backend_window){.ops = 400,
                                  .operation = "set",
                                  .batching = true,
                                  .action_connections = -1,
                                  .sampler_info = 1,
                                  .sampler_connections = 1};
  parse_info(&b, info_text(1.3, 0.6, 1101, 300, 290, 45000, 4600, 9, 950, 4,
                           "cmdstat_mset:calls=50,usec=5,usec_per_call=2.5\r\n"));
  struct job_agent_sample aa, ab;
  memset(&aa, 0, sizeof aa);
  aa.have = 1u << JOB_AM_RECONNECTS;
  aa.v[JOB_AM_RECONNECTS] = 1;
  ab = aa;
  ab.v[JOB_AM_RECONNECTS] = 2;
  o = job_backend_redis_json("x", &a, &b, &w, &aa, &ab);
  assert_false(shared(o));
  assert_true(num(cJSON_GetObjectItemCaseSensitive(o, "calls"), "mset") == 50);
  cJSON_Delete(o);
  /* ... without the agent's figures the connection check is skipped, not guessed. */
  o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_false(shared(o));
  cJSON_Delete(o);
  /* MSET on a direct run is not rbench's. */
  w.batching = false;
  w.action_connections = 1;
  o = job_backend_redis_json("x", &a, &b, &w, NULL, NULL);
  assert_true(shared(o));
  cJSON_Delete(o);
}

static struct job_agent_sample agent_sample(double cmds, double batches, double cpu, double start,
                                            const double *cum) {
  struct job_agent_sample s;
  sample_with_buckets(&s, cum, 6);
  s.v[JOB_AM_COMMANDS] = cmds;
  s.v[JOB_AM_BATCHES] = batches;
  s.v[JOB_AM_UPSTREAM_WRITES] = batches;
  s.v[JOB_AM_COALESCED] = 0;
  s.v[JOB_AM_RECONNECTS] = 1;
  s.v[JOB_AM_BATCH_SUM] = cmds;
  s.v[JOB_AM_BATCH_COUNT] = batches;
  s.v[JOB_AM_CPU] = cpu;
  s.v[JOB_AM_RSS] = 4500000;
  s.v[JOB_AM_START] = start;
  s.have = (1u << JOB_AM_COUNT) - 1;
  return s;
}

static void test_agent_section(void **state) {
  (void)state;
  const double ca[] = {5, 5, 5, 5, 5, 5}, cb[] = {15, 55, 104, 104, 105, 105};
  struct job_agent_sample a = agent_sample(10, 5, 1.0, 1700000000.5, ca);
  struct job_agent_sample b = agent_sample(410, 105, 1.02, 1700000000.5, cb);
  cJSON *o = job_backend_agent_json("http://127.0.0.1:9121/metrics", &a, &b, 400);
  assert_true(num(o, "commands") == 400);
  assert_true(num(o, "batches") == 100);
  const cJSON *cpb = cJSON_GetObjectItemCaseSensitive(o, "commands_per_batch");
  assert_true(num(cpb, "mean") == 4);
  assert_true(num(cpb, "p50") == 2);
  assert_true(num(cpb, "p99") == 4);
  assert_true(fabs(num(o, "cpu_s") - 0.02) < 1e-9);
  assert_true(fabs(num(o, "cpu_us_per_op") - 50) < 1e-6);
  assert_true(num(o, "rss_bytes") == 4500000);
  assert_null(note_of(o));
  double total = 0;
  cJSON *redis = cJSON_CreateObject();
  cJSON_AddNumberToObject(redis, "cpu_us_per_op", 40);
  assert_true(job_backend_cpu_per_op(redis, o, true, &total));
  assert_true(fabs(total - 90) < 1e-6);
  assert_true(job_backend_cpu_per_op(redis, NULL, false, &total));
  assert_true(total == 40);
  cJSON_Delete(o);
  /* The agent restarted: counters start again, so nothing is a delta. */
  b.v[JOB_AM_START] = 1700000100;
  b.v[JOB_AM_COMMANDS] = 3;
  o = job_backend_agent_json("u", &a, &b, 400);
  assert_true(is_null(o, "commands") && is_null(o, "cpu_us_per_op"));
  assert_true(is_null(cJSON_GetObjectItemCaseSensitive(o, "commands_per_batch"), "p50"));
  assert_non_null(strstr(note_of(o), "restarted"));
  /* ... and backend CPU is then not known either. */
  assert_false(job_backend_cpu_per_op(redis, o, true, &total));
  cJSON_Delete(o);
  /* A counter that went backwards without a visible restart: null and a note. */
  b = agent_sample(410, 105, 0.5, 1700000000.5, cb);
  o = job_backend_agent_json("u", &a, &b, 400);
  assert_true(is_null(o, "cpu_s") && is_null(o, "cpu_us_per_op"));
  assert_true(num(o, "commands") == 400);
  assert_non_null(strstr(note_of(o), "process_cpu_seconds_total went backwards"));
  assert_null(cJSON_GetObjectItemCaseSensitive(o, "warning")); /* it saw the run's commands */
  cJSON_Delete(o);
  /* The agent saw none of a batched run's 400 operations: a warning, in the section. */
  o = job_backend_agent_json("u", &a, &a, 400);
  assert_true(num(o, "commands") == 0);
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "warning");
  assert_true(cJSON_IsString(w));
  assert_non_null(strstr(w->valuestring,
                         "the agent received none of this batched run's commands while the "
                         "actions performed 400 operations"));
  cJSON_Delete(o);
  /* No operations reported, or the agent's count unknown: nothing to warn about. */
  o = job_backend_agent_json("u", &a, &a, 0);
  assert_null(cJSON_GetObjectItemCaseSensitive(o, "warning"));
  cJSON_Delete(o);
  char msg[JOB_AGENT_WARNING_MAX];
  assert_false(job_backend_agent_warning(-1, 400, msg, sizeof msg));
  assert_false(job_backend_agent_warning(0, -1, msg, sizeof msg));
  assert_true(job_backend_agent_warning(0, 1, msg, sizeof msg));
  cJSON *un = job_backend_unavailable(NULL, "no agent metrics endpoint configured");
  assert_true(is_null(un, "endpoint"));
  assert_false(job_backend_cpu_per_op(redis, un, true, &total));
  assert_false(job_backend_cpu_per_op(un, NULL, false, &total));
  cJSON_Delete(un);
  cJSON_Delete(redis);
}

static void test_public_endpoint(void **state) {
  (void)state;
  char out[200];
  rb_url_public("http://user:s3cret@agent:9121/metrics", out, sizeof out);
  assert_string_equal(out, "http://agent:9121/metrics");
  rb_url_public("http://agent:9121/a@b", out, sizeof out);
  assert_string_equal(out, "http://agent:9121/a@b");
  rb_url_public("127.0.0.1:9121", out, sizeof out);
  assert_string_equal(out, "127.0.0.1:9121");
}

/* Every prefix of valid input, and random bytes: no crash, no figure out of thin air. */
static void test_garbage(void **state) {
  (void)state;
  const char *info = info_text(1.0, 0.5, 1000, 200, 190, 5000, 600, 7, 900, 3, NULL);
  const char *prom =
      "rbench_agent_batch_size_bucket{le=\"1\"} 10\nprocess_cpu_seconds_total 1\n"
      "x{a=\"\\";
  struct job_redis_info r;
  struct job_agent_sample s;
  size_t n = strlen(info);
  for (size_t i = 0; i <= n; i++) {
    char *copy = malloc(i ? i : 1); /* exactly i bytes, no NUL: ASan sees any overread */
    memcpy(copy, info, i);
    job_redis_info_parse(copy, i, &r);
    free(copy);
  }
  for (size_t i = 0; i <= strlen(prom); i++) {
    char *copy = malloc(i ? i : 1);
    memcpy(copy, prom, i);
    job_agent_parse(copy, i, &s);
    free(copy);
  }
  unsigned seed = 12345;
  char buf[2048];
  for (int round = 0; round < 300; round++) {
    for (size_t i = 0; i < sizeof buf; i++) {
      seed = seed * 1103515245u + 12345u;
      const char alphabet[] = "ab_:{}=\",\\\n\r #0123456789.+-eInfcmdstat_le";
      buf[i] = (round & 1) ? (char)(seed >> 16) : alphabet[(seed >> 16) % (sizeof alphabet - 1)];
    }
    job_redis_info_parse(buf, sizeof buf, &r);
    job_agent_parse(buf, sizeof buf, &s);
    struct job_backend_window w = direct_window(10);
    struct job_redis_info r2;
    job_redis_info_parse(buf + 7, sizeof buf - 7, &r2);
    cJSON *o = job_backend_redis_json("x", &r, &r2, &w, NULL, NULL);
    char *text = cJSON_PrintUnformatted(o);
    assert_null(strstr(text, ":-"));
    assert_null(strstr(text, "nan"));
    cJSON_free(text);
    cJSON_Delete(o);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_info_parse),
      cmocka_unit_test(test_prom_parse),
      cmocka_unit_test(test_batch_percentiles),
      cmocka_unit_test(test_redis_section),
      cmocka_unit_test(test_redis_backwards_and_restart),
      cmocka_unit_test(test_redis_shared),
      cmocka_unit_test(test_agent_section),
      cmocka_unit_test(test_public_endpoint),
      cmocka_unit_test(test_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
