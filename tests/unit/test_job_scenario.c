/* test_job_scenario.c: YAML scenarios (good files, every kind of error with its location),
 * run layering, the execution plan, and the env-file / wskprops configuration layers. */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_config.h"
#include "job_scenario.h"

static const char good[] =
    "name: quickstart\n"
    "description: direct vs batched\n"
    "target:\n"
    "  kind: openwhisk\n"
    "  action: redis_benchmark/redis_benchmark\n"
    "  insecure: true\n"
    "  request_timeout: 30\n"
    "defaults:\n"
    "  rate: 20\n"
    "  invocations: 200\n"
    "  ops: 10\n"
    "  operation: get\n"
    "  warmup: 1.5\n"
    "repetitions: 3\n"
    "order: interleaved\n"
    "runs:\n"
    "  - name: direct\n"
    "    batching: false\n"
    "  - name: batched\n"
    "    batching: true\n"
    "    rate: 40\n";

static void test_good_scenario(void **state) {
  (void)state;
  struct job_scenario s;
  char err[400] = "";
  assert_int_equal(job_scenario_parse(good, strlen(good), "q.yaml", &s, err, sizeof err), RB_OK);
  assert_string_equal(s.name, "quickstart");
  assert_string_equal(s.description, "direct vs batched");
  assert_int_equal(s.target.kind, JOB_TARGET_OPENWHISK);
  assert_true(s.target.insecure);
  assert_true(s.target.request_timeout == 30);
  assert_true(s.target.poll_timeout == 120); /* default kept */
  assert_int_equal(s.run_count, 2);
  assert_int_equal(s.repetitions, 3);
  assert_string_equal(s.runs[0].name, "direct");
  assert_false(s.runs[0].batching);
  assert_true(s.runs[0].rate == 20); /* from defaults */
  assert_string_equal(s.runs[0].operation, "get");
  assert_int_equal(s.runs[0].invocations, 200);
  assert_int_equal(s.runs[0].parallel, 5); /* built-in default (the seed's) */
  assert_string_equal(s.runs[0].key_prefix, "benchmark");
  assert_true(s.runs[1].batching);
  assert_true(s.runs[1].rate == 40); /* run override */
  assert_int_equal(job_params_warmup_count(&s.runs[1]), 60);
  /* Interleaved plan: direct, batched, direct, batched, ... */
  size_t *plan, n;
  long long *rep;
  assert_int_equal(job_scenario_plan(&s, &plan, &rep, &n), RB_OK);
  assert_int_equal(n, 6);
  const size_t want[] = {0, 1, 0, 1, 0, 1};
  const long long want_rep[] = {1, 1, 2, 2, 3, 3};
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(plan[i], want[i]);
    assert_int_equal(rep[i], want_rep[i]);
  }
  free(plan);
  free(rep);
  s.order = JOB_ORDER_SEQUENTIAL;
  assert_int_equal(job_scenario_plan(&s, &plan, &rep, &n), RB_OK);
  assert_int_equal(plan[0], 0);
  assert_int_equal(plan[2], 0);
  assert_int_equal(plan[3], 1);
  assert_int_equal(rep[2], 3);
  free(plan);
  free(rep);
  job_scenario_free(&s);
}

struct bad {
  const char *yaml;
  const char *expect; /* substring of the error, including FILE:LINE:COLUMN */
};

static void test_errors_located(void **state) {
  (void)state;
  static const struct bad cases[] = {
      {"name: x\nruns:\n  - name: a\n    rat: 5\n",
       "s.yaml:4:5: unknown key 'rat' in runs[0]; did you mean 'rate'? (every key: name, rate, "
       "invocations"},
      {"name: x\nruns:\n  - name: a\n    rate: fast\n",
       "s.yaml:4:11: rate: expected a number of invocations per second above 0"},
      {"name: x\nruns:\n  - name: a\n    rate: 0\n", "s.yaml:4:11: rate: expected"},
      {"name: x\nruns:\n  - name: a\n    invocations: 2.5\n",
       "s.yaml:4:18: invocations: expected an integer"},
      {"name: x\nruns:\n  - name: a\n    batching: maybe\n",
       "s.yaml:4:15: batching: expected true or false, got 'maybe'"},
      {"name: x\nruns:\n  - name: a\n    batching: \"true\"\n",
       "s.yaml:4:15: batching: expected true or false"},
      {"name: x\nruns:\n  - name: a\n    operation: flushall\n",
       "s.yaml:4:16: operation: expected one of set, get, del, exists, incr, mget, mset, hset, "
       "hget, hgetall, lpush, lrange, sadd, smembers, zadd, zrangebyscore, eval, got 'flushall'"},
      {"name: x\nruns:\n  - name: a\n    ops: [1, 2]\n",
       "s.yaml:4:10: ops: expected a scalar, got a list"},
      {"name: x\ntarget:\n  kind: lambda\nruns:\n  - name: a\n",
       "s.yaml:3:9: kind: expected local or openwhisk"},
      {"name: x\ntarget:\n  redis_password: hunter2\nruns:\n  - name: a\n",
       "s.yaml:3:3: 'redis_password' looks like a secret: scenarios never hold secrets"},
      {"name: x\nauth: abc\nruns:\n  - name: a\n", "s.yaml:2:1: 'auth' looks like a secret"},
      {"name: x\nrepetitions: 0\nruns:\n  - name: a\n",
       "s.yaml:2:14: repetitions: expected an integer from 1 to 1000"},
      {"name: x\norder: shuffled\nruns:\n  - name: a\n",
       "s.yaml:2:8: order: expected interleaved, sequential or random"},
      {"name: x\nruns:\n  - name: a\n  - name: a\n",
       "s.yaml:4:5: runs[1]: run name 'a' is used twice"},
      {"name: x\nruns: []\n", "s.yaml:2:7: runs: expected at least one run"},
      {"runs:\n  - name: a\n", "s.yaml:1:1: missing required key 'name'"},
      {"name: x\n", "s.yaml:1:1: missing required key 'runs'"},
      {"name: x\nruns:\n  - name: a\n   rate: 1\n", "s.yaml:4:"}, /* bad indentation */
      {"name: [x\n", "s.yaml:"},                                  /* malformed */
      {"- a\n- b\n", "s.yaml:1:1: scenario: expected a mapping"},
      {"name: x\nruns:\n  - name: a\n    warmup: 100\n    invocations: 10\n",
       "s.yaml:3:5: runs[0]: warmup (100 s at 10/s) covers all 10 invocations"},
      {"name: x\ndefaults:\n  parallel: 300\nruns:\n  - name: a\n",
       "s.yaml:3:13: parallel: expected an integer from 1 to 256, got '300'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct job_scenario s;
    char err[1600] = "";
    enum rb_err rc =
        job_scenario_parse(cases[i].yaml, strlen(cases[i].yaml), "s.yaml", &s, err, sizeof err);
    if (rc == RB_OK || !strstr(err, cases[i].expect))
      fail_msg("case %zu: got rc %d and '%s', wanted '%s'", i, rc, err, cases[i].expect);
    /* The secret's value is never echoed. */
    assert_null(strstr(err, "hunter2"));
  }
}

/* YAML 1.2: keys are unique in a mapping; the second one is an error at its own position,
 * at every level, whatever the key (known, unknown, quoted). */
static void test_duplicate_keys(void **state) {
  (void)state;
  static const struct bad cases[] = {
      {"name: x\nrepetitions: 2\nruns:\n  - name: a\nname: y\n",
       "s.yaml:5:1: duplicate key 'name' (first given at line 1, column 1)"},
      {"name: x\ntarget:\n  kind: local\n  pool_size: 2\n  kind: openwhisk\nruns:\n  - name: a\n",
       "s.yaml:5:3: duplicate key 'kind' (first given at line 3, column 3)"},
      {"name: x\ndefaults:\n  rate: 20\n  rate: 40\nruns:\n  - name: a\n",
       "s.yaml:4:3: duplicate key 'rate' (first given at line 3, column 3)"},
      {"name: x\nruns:\n  - name: a\n    rate: 20\n    ops: 3\n    rate: 20\n",
       "s.yaml:6:5: duplicate key 'rate' (first given at line 4, column 5)"},
      {"name: x\nruns:\n  - {name: a, \"ops\": 2, ops: 3}\n",
       "s.yaml:3:25: duplicate key 'ops' (first given at line 3, column 15)"},
      {"name: x\nruns:\n  - name: a\n    rate: {from: 1, to: 2, from: 3}\n",
       "s.yaml:4:28: duplicate key 'from' (first given at line 4, column 12)"},
      {"name: x\nruns:\n  - name: a\n    rat: 1\n    rat: 2\n",
       "s.yaml:5:5: duplicate key 'rat'"}, /* before it is found unknown: the earlier fault */
      {"name: x\ndefaults:\n  ops: 1\n  ops: 2\nruns:\n  - name: a\n    rate: 1\n    rate: 2\n",
       "s.yaml:4:3: duplicate key 'ops'"}, /* the earliest in the file */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct job_scenario s;
    char err[500] = "";
    enum rb_err rc =
        job_scenario_parse(cases[i].yaml, strlen(cases[i].yaml), "s.yaml", &s, err, sizeof err);
    if (rc != RB_ERR_PARSE || !strstr(err, cases[i].expect))
      fail_msg("case %zu: got rc %d and '%s', wanted '%s'", i, rc, err, cases[i].expect);
  }
  /* The same key in different mappings is fine. */
  const char *ok =
      "name: x\ndefaults:\n  rate: 2\nruns:\n  - name: a\n    rate: 1\n  - name: b\n    rate: 3\n";
  struct job_scenario s;
  char err[500] = "";
  assert_int_equal(job_scenario_parse(ok, strlen(ok), "s.yaml", &s, err, sizeof err), RB_OK);
  job_scenario_free(&s);
}

static void test_overlay_and_planned(void **state) {
  (void)state;
  struct job_params base, cli;
  char err[200];
  job_params_defaults(&base);
  memset(&cli, 0, sizeof cli);
  assert_int_equal(
      job_params_set_text(&cli, job_params_field("rate"), "250", false, err, sizeof err), RB_OK);
  assert_int_equal(
      job_params_set_text(&cli, job_params_field("duration"), "4", false, err, sizeof err), RB_OK);
  job_params_overlay(&base, &cli);
  assert_true(base.rate == 250);
  assert_int_equal(job_params_planned(&base), 1000); /* rate x duration wins over invocations */
  assert_int_equal(base.ops, 10);                    /* untouched */
  assert_int_equal(
      job_params_set_text(&cli, job_params_field("max_in_flight"), "0", false, err, sizeof err),
      RB_ERR_INVALID);
  assert_non_null(strstr(err, "max_in_flight: expected an integer from 1 to 100000, got '0'"));
}

/* connections: a run key (0 = derived from the rate: rate x 10 ms, at least 1), never more
 * than max_in_flight. */
static void test_connections(void **state) {
  (void)state;
  static const char yaml[] =
      "name: c\ntarget:\n  kind: openwhisk\ndefaults:\n  connections: 4\nruns:\n"
      "  - name: a\n  - name: b\n    connections: 0\n    rate: 5000\n"
      "  - name: c\n    connections: 64\n    max_in_flight: 20\n";
  struct job_scenario s;
  char err[400] = "";
  assert_int_equal(job_scenario_parse(yaml, strlen(yaml), "c.yaml", &s, err, sizeof err), RB_OK);
  assert_int_equal(s.runs[0].connections, 4);
  assert_int_equal(job_params_connections(&s.runs[0]), 4);
  assert_int_equal(job_params_connections(&s.runs[1]), 50);       /* 5000/s x 10 ms */
  assert_int_equal(job_params_connections(&s.runs[2]), 20);       /* capped by max_in_flight */
  assert_int_equal(job_params_connection_limit(&s.runs[0]), 4);   /* set: a limit too */
  assert_int_equal(job_params_connection_limit(&s.runs[1]), 100); /* 0: max_in_flight */
  assert_int_equal(job_params_connection_limit(&s.runs[2]), 20);
  job_scenario_free(&s);
  struct job_params p;
  job_params_defaults(&p);
  assert_int_equal(p.connections, 0);
  assert_int_equal(job_params_connections(&p), 1); /* 10/s: one connection */
  p.rate = 1000;
  assert_int_equal(job_params_connections(&p), 10);
  p.rate = 1050;
  assert_int_equal(job_params_connections(&p), 11); /* rounded up */
  p.rate = 0.01;
  assert_int_equal(job_params_connections(&p), 1);
  p.rate = 100000;
  assert_int_equal(job_params_connections(&p), 100); /* max_in_flight's default */
  /* bursts: opened ahead for the burst's rate, the peak */
  p.rate = 100;
  snprintf(p.arrival, sizeof p.arrival, "bursts");
  p.burst_rate = 2500;
  assert_int_equal(job_params_connections(&p), 25);
  p.burst_rate = 50; /* a "burst" below the base rate: the base rate */
  assert_int_equal(job_params_connections(&p), 1);
  snprintf(p.arrival, sizeof p.arrival, "constant");
  p.rate = 100000;
  assert_int_equal(
      job_params_set_text(&p, job_params_field("connections"), "-1", false, err, sizeof err),
      RB_ERR_INVALID);
  assert_non_null(strstr(
      err, "connections: expected an integer from 0 (derived from the rate) to 100000, got '-1'"));
}

static int collected;
static char *fake_read(const char *path, size_t *len) {
  collected++;
  if (strcmp(path, "/secrets/redis") != 0) return NULL;
  char *s = strdup("s3cr3t-from-file\n");
  *len = strlen(s);
  return s;
}

static void test_envfile_layers(void **state) {
  (void)state;
  struct job_config c;
  char err[300];
  job_config_init(&c);
  const char *wsk =
      "# wsk\nAPIHOST=controller.example:31001\nAUTH=uuid:key\nBROKEN=a=b\nNAMESPACE=guest\n";
  job_config_apply_wskprops(&c, wsk, strlen(wsk), "/home/u/.wskprops");
  assert_string_equal(c.apihost, "https://controller.example:31001"); /* no scheme: https, as wsk */
  assert_string_equal(c.auth, "uuid:key");
  assert_string_equal(c.namespace_, "guest");
  const char *env =
      "# local.env\n"
      "REDIS_HOST=10.0.0.5\nREDIS_PORT=6390\nREDIS_PASSWORD_FILE=/secrets/redis\n"
      "BATCHING_AGENT_HOST=10.0.0.6\nBATCHING_AGENT_PORT=8080\n"
      "BATCHING_AGENT_METRICS_URL=http://mon:pw@10.0.0.6:9121/metrics\n"
      "OPENWHISK_APIHOST=http://127.0.0.1:3233/\nOPENWHISK_AUTH=\"u2:k2\"\nSOMETHING_ELSE=1\n";
  assert_int_equal(job_config_apply_envfile(&c, env, strlen(env), "local.env", fake_read, false,
                                            err, sizeof err),
                   RB_OK);
  assert_string_equal(c.redis_host, "10.0.0.5");
  assert_int_equal(c.redis_port, 6390);
  assert_string_equal(c.redis_password, "s3cr3t-from-file");
  assert_int_equal(c.agent_port, 8080);
  assert_string_equal(c.apihost, "http://127.0.0.1:3233"); /* env file beats wskprops */
  assert_string_equal(c.auth, "u2:k2");
  assert_string_equal(c.apihost_from, "local.env:8");
  assert_string_equal(c.agent_metrics_url, "http://mon:pw@10.0.0.6:9121/metrics");
  const char *bad = "REDIS_PORT=seventy\n";
  assert_int_equal(job_config_apply_envfile(&c, bad, strlen(bad), "local.env", fake_read, false,
                                            err, sizeof err),
                   RB_ERR_INVALID);
  assert_string_equal(err, "local.env:1: REDIS_PORT must be a port from 1 to 65535");
  const char *syntax = "REDIS_HOST=a\nthis is not an assignment\n";
  assert_int_equal(job_config_apply_envfile(&c, syntax, strlen(syntax), "local.env", fake_read,
                                            false, err, sizeof err),
                   RB_ERR_PARSE);
  assert_non_null(strstr(err, "local.env: line 2"));
  /* A key of ours twice: refused with both lines; another tool's key twice is its business. */
  const char *twice = "REDIS_HOST=a\nOTHER=1\nOTHER=2\n\nREDIS_HOST=b\n";
  assert_int_equal(job_config_apply_envfile(&c, twice, strlen(twice), "local.env", fake_read, false,
                                            err, sizeof err),
                   RB_ERR_INVALID);
  assert_string_equal(err, "local.env:5: REDIS_HOST is set twice (first at local.env:1); keep one");
  const char *missing = "OPENWHISK_AUTH_FILE=/nope\n";
  assert_int_equal(job_config_apply_envfile(&c, missing, strlen(missing), "local.env", fake_read,
                                            false, err, sizeof err),
                   RB_ERR_IO);
  /* Descriptions never carry secrets. */
  cJSON *d = job_config_describe(&c);
  char *text = cJSON_PrintUnformatted(d);
  assert_null(strstr(text, "s3cr3t"));
  assert_null(strstr(text, "u2:k2"));
  assert_non_null(strstr(text, "\"redis_password_set\":true"));
  /* The metrics URL is shown without its user:password@. */
  assert_non_null(strstr(text, "\"agent_metrics_url\":\"http://10.0.0.6:9121/metrics\""));
  assert_null(strstr(text, "mon:pw"));
  free(text);
  cJSON_Delete(d);
}

static bool fake_env(const char *name, char *buf, size_t len) {
  if (!strcmp(name, "WHISK_AUTH")) return snprintf(buf, len, "from-wsk-env") > 0;
  if (!strcmp(name, "OPENWHISK_AUTH")) return snprintf(buf, len, "u3:k3") > 0;
  if (!strcmp(name, "REDIS_PORT")) return snprintf(buf, len, "7000") > 0;
  return false;
}

static void test_agent_metrics_key(void **state) {
  (void)state;
  const char *y =
      "name: m\ntarget: {kind: local, agent_metrics: \"http://127.0.0.1:9121/metrics\"}\n"
      "runs: [{name: batched, batching: true}]\n";
  struct job_scenario s;
  char err[400] = "";
  assert_int_equal(job_scenario_parse(y, strlen(y), "m.yaml", &s, err, sizeof err), RB_OK);
  assert_string_equal(s.target.agent_metrics, "http://127.0.0.1:9121/metrics");
  /* The command line's --agent-metrics wins over the scenario's. */
  struct job_target_conf cli;
  memset(&cli, 0, sizeof cli);
  snprintf(cli.agent_metrics, sizeof cli.agent_metrics, "http://10.0.0.9:9121/metrics");
  cli.set = JOB_TC_AGENT_METRICS;
  job_target_conf_overlay(&s.target, &cli);
  assert_string_equal(s.target.agent_metrics, "http://10.0.0.9:9121/metrics");
  job_scenario_free(&s);
  const char *bad = "name: m\ntarget: {agent_metrics: [1]}\nruns: [{name: a}]\n";
  assert_int_not_equal(job_scenario_parse(bad, strlen(bad), "m.yaml", &s, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "m.yaml:2:"));
}

/* target.wait_for_action: seconds from 0 (the default: no waiting); --wait-for-action wins. */
/* The scenario's seed is every run's workload seed unless the run (or defaults) sets one; the
 * workload knobs are checked together before anything runs. */
static void test_workload_seed_and_checks(void **state) {
  (void)state;
  static const char yaml[] =
      "name: w\nseed: 7\nruns:\n  - name: a\n  - name: b\n    seed: 9\n"
      "  - name: c\n    mix: \"get:80, SET:20\"\n    key_distribution: zipfian\n";
  struct job_scenario s;
  char err[1600] = "";
  assert_int_equal(job_scenario_parse(yaml, strlen(yaml), "w.yaml", &s, err, sizeof err), RB_OK);
  assert_int_equal(s.runs[0].seed, 7);
  assert_int_equal(s.runs[1].seed, 9);
  assert_int_equal(s.runs[2].seed, 7);
  assert_string_equal(s.runs[2].mix, "set:20,get:80"); /* normalised: one text per mix */
  job_scenario_free(&s);
  static const char noseed[] = "name: w\nruns:\n  - name: a\n  - name: b\n";
  assert_int_equal(job_scenario_parse(noseed, strlen(noseed), "w.yaml", &s, err, sizeof err),
                   RB_OK);
  assert_int_equal(s.runs[0].seed, 1);
  job_scenario_free(&s);
  static const char narrow[] =
      "name: w\nruns:\n  - name: a\n    mix: \"mget:1\"\n    key_space: 5\n  - name: b\n";
  assert_int_not_equal(job_scenario_parse(narrow, strlen(narrow), "w.yaml", &s, err, sizeof err),
                       RB_OK);
  /* at the run's key_space, which it gives (else at the run) */
  assert_non_null(
      strstr(err, "w.yaml:5:16: runs[0]: key_space (5) is smaller than keys_per_command"));
}

static void test_wait_for_action_key(void **state) {
  (void)state;
  const char *y = "name: w\ntarget: {kind: openwhisk, wait_for_action: 600}\nruns: [{name: a}]\n";
  struct job_scenario s;
  char err[400] = "";
  assert_int_equal(job_scenario_parse(y, strlen(y), "w.yaml", &s, err, sizeof err), RB_OK);
  assert_true(s.target.wait_for_action == 600);
  struct job_target_conf cli;
  memset(&cli, 0, sizeof cli);
  cli.wait_for_action = 0;
  cli.set = JOB_TC_WAIT_FOR_ACTION;
  job_target_conf_overlay(&s.target, &cli);
  assert_true(s.target.wait_for_action == 0);
  job_scenario_free(&s);
  const char *dflt = "name: w\nruns: [{name: a}]\n";
  assert_int_equal(job_scenario_parse(dflt, strlen(dflt), "w.yaml", &s, err, sizeof err), RB_OK);
  assert_true(s.target.wait_for_action == 0);
  job_scenario_free(&s);
  const char *zero = "name: w\ntarget: {wait_for_action: 0}\nruns: [{name: a}]\n";
  assert_int_equal(job_scenario_parse(zero, strlen(zero), "w.yaml", &s, err, sizeof err), RB_OK);
  job_scenario_free(&s);
  const char *bad = "name: w\ntarget: {wait_for_action: -1}\nruns: [{name: a}]\n";
  assert_int_not_equal(job_scenario_parse(bad, strlen(bad), "w.yaml", &s, err, sizeof err), RB_OK);
  assert_string_equal(
      err, "w.yaml:2:27: wait_for_action: expected a number of seconds from 0 and at most 86400");
  const char *typo = "name: w\ntarget: {wait_for_actions: 5}\nruns: [{name: a}]\n";
  assert_int_not_equal(job_scenario_parse(typo, strlen(typo), "w.yaml", &s, err, sizeof err),
                       RB_OK);
  assert_non_null(strstr(err, "agent_metrics, wait_for_action"));
}

static void test_environment_overrides(void **state) {
  (void)state;
  struct job_config c;
  char err[200];
  job_config_init(&c);
  assert_int_equal(job_config_apply_environ(&c, fake_env, NULL, err, sizeof err), RB_OK);
  assert_string_equal(c.auth, "u3:k3"); /* OPENWHISK_AUTH applies after WHISK_AUTH */
  assert_int_equal(c.redis_port, 7000);
  assert_string_equal(c.redis_host, "127.0.0.1");
}

/* issue 20: mix as a mapping or a string, the same run either way; errors at the offending
 * item (its key, its weight, or the column inside the string); cross-knob errors at the run. */
static void test_mix_forms_and_errors(void **state) {
  (void)state;
  static const char *const same[] = {
      "name: x\nruns:\n  - name: a\n    mix: {get: 80, set: 20}\n",
      "name: x\nruns:\n  - name: a\n    mix:\n      GET: 80\n      set: 20\n",
      "name: x\nruns:\n  - name: a\n    mix: \"get:80,set:20\"\n",
      "name: x\nruns:\n  - name: a\n    mix: get:80, set:20\n"};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    struct job_scenario sc;
    char err[600] = "";
    if (job_scenario_parse(same[i], strlen(same[i]), "s.yaml", &sc, err, sizeof err) != RB_OK)
      fail_msg("form %zu: %s", i, err);
    assert_string_equal(sc.runs[0].mix, "set:20,get:80"); /* normalised, table order */
    assert_true(job_params_is_set(&sc.runs[0], "mix"));
    job_scenario_free(&sc);
  }
  static const struct {
    const char *yaml, *expect;
  } cases[] = {
      {"name: x\nruns:\n  - name: a\n    mix: {get: 80, sett: 20}\n",
       "s.yaml:4:20: mix: unknown operation 'sett'; expected one of set, get,"},
      {"name: x\nruns:\n  - name: a\n    mix:\n      get: 80\n      set: lots\n",
       "s.yaml:6:12: mix: set: expected a weight, an integer from 0 to 1000000"},
      {"name: x\nruns:\n  - name: a\n    mix: {get: 80, GET: 20}\n",
       "s.yaml:4:20: mix: operation 'GET' is given twice (first at line 4)"},
      {"name: x\nruns:\n  - name: a\n    mix: {get: 0, set: 0}\n", "s.yaml:4:10: mix: "},
      {"name: x\nruns:\n  - name: a\n    mix: {}\n",
       "s.yaml:4:10: mix: expected at least one operation: weight"},
      {"name: x\nruns:\n  - name: a\n    mix: [get, set]\n",
       "s.yaml:4:10: mix: expected a scalar, got a list"},
      /* inside the string: the column of the item */
      {"name: x\nruns:\n  - name: a\n    mix: \"get:80,sett:20\"\n",
       "s.yaml:4:18: mix: unknown operation 'sett'"},
      {"name: x\nruns:\n  - name: a\n    mix: get:80,set:x\n",
       "s.yaml:4:21: mix: the weight of 'set'"},
      /* cross-knob: at the run */
      {"name: x\ndefaults: {key_space: 5}\nruns:\n  - name: a\n    mix: {mget: 1}\n",
       "s.yaml:4:5: runs[0]: key_space (5) is smaller than keys_per_command (10)"},
      {"name: x\nruns:\n  - name: a\n    mix: {mget: 1}\n    key_space: 5\n",
       "s.yaml:5:16: runs[0]: key_space (5) is smaller than keys_per_command (10)"},
      {"name: x\nruns:\n  - name: a\n    mix: {lrange: 1}\n    range_span: 500\n",
       "s.yaml:5:17: runs[0]: range_span"},
      {"name: x\nruns:\n  - name: a\n    key_distribution: zipfian\n    zipf_exponent: 9\n",
       "s.yaml:5:20: zipf_exponent: "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct job_scenario sc;
    char err[1600] = "";
    enum rb_err rc =
        job_scenario_parse(cases[i].yaml, strlen(cases[i].yaml), "s.yaml", &sc, err, sizeof err);
    if (rc == RB_OK || !strstr(err, cases[i].expect))
      fail_msg("case %zu: got rc %d and '%s', wanted '%s'", i, rc, err, cases[i].expect);
  }
}

/* Every *.yaml of dir parses and compares at least two runs; returns how many there were. */
static size_t parse_all(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t found = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0) continue;
    char path[1024], err[1600] = "";
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct job_scenario s;
    if (job_scenario_load(path, &s, err, sizeof err) != RB_OK) fail_msg("%s", err);
    assert_true(s.run_count >= 2);
    job_scenario_free(&s);
    found++;
  }
  closedir(d);
  return found;
}

/* placement and batching say the same thing: a layer's one replaces a lower layer's other,
 * a contradiction within one layer is refused, and the runtime and backend knobs are refused
 * where they do not apply. */
static void test_placement_knobs(void **state) {
  (void)state;
  static const char yaml[] =
      "name: placements\n"
      "defaults:\n"
      "  batching: true\n"
      "  invocations: 5\n"
      "runs:\n"
      "  - name: agent\n"
      "  - name: runtime\n"
      "    placement: runtime\n"
      "    action_concurrency: 8\n"
      "    batch_wait_us: 50\n"
      "  - name: nut\n"
      "    backend: start\n"
      "    layer: nutcracker\n"
      "    redis_cpu: 0.1\n"
      "  - name: agent-flags\n"
      "    backend: start\n"
      "    layer_args: \"--coalesce --workers 2 --flush=window --window-us 200\"\n";
  struct job_scenario s;
  char err[400] = "";
  if (job_scenario_parse(yaml, strlen(yaml), "p.yaml", &s, err, sizeof err) != RB_OK)
    fail_msg("%s", err);
  assert_int_equal(job_params_placement(&s.runs[0]), JOB_PLACE_AGENT);
  assert_int_equal(job_params_placement(&s.runs[1]), JOB_PLACE_RUNTIME);
  assert_false(s.runs[1].batching); /* the run's placement replaced the defaults' batching */
  assert_int_equal(s.runs[1].action_concurrency, 8);
  assert_int_equal(job_params_placement(&s.runs[2]), JOB_PLACE_AGENT);
  assert_string_equal(s.runs[2].layer, "nutcracker");
  for (size_t i = 0; i < s.run_count; i++)
    assert_int_equal(job_params_validate(&s.runs[i], err, sizeof err), RB_OK);
  /* what the action is sent: runtime's knobs only for runtime */
  cJSON *a = job_params_action_json(&s.runs[1]);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(a, "placement")), "runtime");
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(a, "use_batching")));
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(a, "batch_wait_us")) == 50);
  cJSON_Delete(a);
  a = job_params_action_json(&s.runs[0]);
  assert_null(cJSON_GetObjectItem(a, "placement"));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a, "use_batching")));
  cJSON_Delete(a);
  /* the command line's --batching over the runtime run: placement agent */
  struct job_params cli;
  memset(&cli, 0, sizeof cli);
  assert_int_equal(
      job_params_set_text(&cli, job_params_field("batching"), "true", false, err, sizeof err),
      RB_OK);
  struct job_params r = s.runs[1];
  job_params_overlay(&r, &cli);
  assert_int_equal(job_params_placement(&r), JOB_PLACE_AGENT);
  /* ... and now batch_wait_us (from the run) no longer applies */
  assert_int_equal(job_params_validate(&r, err, sizeof err), RB_ERR_INVALID);
  assert_non_null(strstr(err, "batch_wait_us applies to placement runtime only"));
  job_scenario_free(&s);

  struct bad bad[] = {
      {"name: b\nruns:\n  - name: x\n    batching: true\n    placement: direct\n",
       "placement direct contradicts batching true"},
      {"name: b\nruns:\n  - name: x\n    placement: central\n",
       "expected one of direct, runtime, agent, got 'central'"},
      {"name: b\nruns:\n  - name: x\n    batch_coalesce: true\n",
       "batch_coalesce applies to placement runtime only"},
      {"name: b\nruns:\n  - name: x\n    layer: nutcracker\n",
       "layer applies to backend start only"},
      {"name: b\nruns:\n  - name: x\n    backend: start\n    layer: nutcracker\n"
       "    layer_args: \"--coalesce\"\n",
       "layer_args are rbench-agent's flags, but layer is nutcracker"},
      {"name: b\nruns:\n  - name: x\n    backend: start\n    layer_args: \"--redis 1.2.3.4:5\"\n",
       "--redis is set by the runner"},
      {"name: b\nruns:\n  - name: x\n    action_concurrency: 0\n", "an integer from 1 to 1000"},
      {"name: b\nruns:\n  - name: x\n    backend: start\n    layer_args: \"coalesce\"\n",
       "expected rbench-agent flags (--flag, --flag VALUE or --flag=VALUE), got 'coalesce'"},
      {"name: b\nruns:\n  - name: x\n    backend: start\n    layer_args: \"--workers 2 3\"\n",
       "got '3'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    enum rb_err rc =
        job_scenario_parse(bad[i].yaml, strlen(bad[i].yaml), "b.yaml", &s, err, sizeof err);
    if (rc == RB_OK) {
      rc = job_params_validate(&s.runs[0], err, sizeof err);
      job_scenario_free(&s);
    }
    if (rc == RB_OK || !strstr(err, bad[i].expect))
      fail_msg("case %zu: expected an error with \"%s\", got \"%s\"", i, bad[i].expect, err);
  }
}

static void test_shipped_scenarios_parse(void **state) {
  (void)state;
  /* every scenario shipped in scenarios/, and the benchmarks' own */
  char dir[512];
  snprintf(dir, sizeof dir, "%s/scenarios", RBENCH_SOURCE_DIR);
  assert_true(parse_all(dir) >= 9);
  snprintf(dir, sizeof dir, "%s/tools/bench/workloads", RBENCH_SOURCE_DIR);
  assert_true(parse_all(dir) >= 3);
  struct job_scenario q;
  char err[400], path[512];
  snprintf(path, sizeof path, "%s/scenarios/quickstart.yaml", RBENCH_SOURCE_DIR);
  assert_int_equal(job_scenario_load(path, &q, err, sizeof err), RB_OK);
  assert_int_equal(q.target.kind, JOB_TARGET_LOCAL);
  assert_string_equal(q.runs[0].name, "direct");
  assert_false(q.runs[0].batching);
  assert_string_equal(q.runs[1].name, "batched");
  assert_true(q.runs[1].batching);
  job_scenario_free(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_scenario),
      cmocka_unit_test(test_errors_located),
      cmocka_unit_test(test_duplicate_keys),
      cmocka_unit_test(test_overlay_and_planned),
      cmocka_unit_test(test_connections),
      cmocka_unit_test(test_envfile_layers),
      cmocka_unit_test(test_agent_metrics_key),
      cmocka_unit_test(test_wait_for_action_key),
      cmocka_unit_test(test_environment_overrides),
      cmocka_unit_test(test_shipped_scenarios_parse),
      cmocka_unit_test(test_workload_seed_and_checks),
      cmocka_unit_test(test_mix_forms_and_errors),
      cmocka_unit_test(test_placement_knobs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
