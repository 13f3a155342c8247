/* job_scenario.h: benchmark scenarios in YAML (libyaml), documented in docs/scenarios.md.
 *
 *   name: quickstart                 # required
 *   description: direct vs batched   # optional
 *   target: {kind: local|openwhisk, action: pkg/name, insecure, action_bin, env_file,
 *            request_timeout, poll_timeout, drain_timeout, pool_size, agent_metrics,
 *            wait_for_action}
 *   defaults: {rate, invocations, duration, warmup, ops, operation, batching, parallel,
 *              key_prefix, value_size, key_space, timeout_ms, max_in_flight, connections}
 *   runs: [{name: direct, <any default overridden>}, ...]   # required, names unique
 *   repetitions: 3                   # each run this many times
 *   order: interleaved|sequential|random
 *   seed: 42                         # order: random, and every run's workload seed
 *   strict: true                     # unknown env-file/environment keys are errors
 *
 * Unknown keys, wrong types and bad values are errors "FILE:LINE:COLUMN: what, expected
 * what". Keys that look like secrets (password, auth, token, secret, key) are refused:
 * secrets come from the env file, the environment or a *_FILE path (job_config.h). */
#ifndef JOB_SCENARIO_H
#define JOB_SCENARIO_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "job_params.h"
#include "rb_error.h"

enum job_target_kind { JOB_TARGET_LOCAL, JOB_TARGET_OPENWHISK };
enum job_order { JOB_ORDER_INTERLEAVED, JOB_ORDER_SEQUENTIAL, JOB_ORDER_RANDOM };

struct job_target_conf {
  enum job_target_kind kind; /* local */
  char action[256];          /* redis_benchmark/redis_benchmark */
  bool insecure;             /* accept self-signed TLS certificates */
  char action_bin[512];      /* local: rbench-action path ("" = beside rbench) */
  char env_file[512];        /* "" = the command line's --env; relative to the scenario
                                file's directory */
  char env_file_at[600];     /* "FILE:LINE:COL" of env_file in the scenario, for errors */
  double request_timeout;    /* seconds per HTTP request (65) */
  double poll_timeout;       /* seconds to poll a 202'd activation (120) */
  double drain_timeout;      /* seconds to wait for in-flight work on stop (10) */
  long long pool_size;       /* local: rbench-action processes at most (8) */
  char agent_metrics[600];   /* the agent's /metrics URL ("" = BATCHING_AGENT_METRICS_URL) */
  double wait_for_action;    /* openwhisk: seconds to wait for the action to exist before
                                anything runs (0 = no waiting: a missing action is an error) */
  unsigned set;              /* bit per field given explicitly (JOB_TC_*) */
};

enum {
  JOB_TC_KIND = 1,
  JOB_TC_ACTION = 2,
  JOB_TC_INSECURE = 4,
  JOB_TC_ACTION_BIN = 8,
  JOB_TC_ENV_FILE = 16,
  JOB_TC_REQUEST_TIMEOUT = 32,
  JOB_TC_POLL_TIMEOUT = 64,
  JOB_TC_DRAIN_TIMEOUT = 128,
  JOB_TC_POOL_SIZE = 256,
  JOB_TC_AGENT_METRICS = 512,
  JOB_TC_WAIT_FOR_ACTION = 1024
};

struct job_scenario {
  char name[JOB_NAME_MAX];
  char description[256];
  struct job_target_conf target;
  struct job_params defaults;
  struct job_params *runs; /* owned, run_count entries, each already merged over defaults */
  size_t run_count;
  long long repetitions;   /* 1 */
  enum job_order order;    /* interleaved */
  unsigned long long seed; /* 1: order random's shuffle; the runs' workload seed by default */
  bool seed_given;         /* seed was in the file */
  bool strict;             /* strict: true, as --strict (unknown env keys are errors) */
  int64_t start_at_us;     /* start_at: the agreed start instant (epoch µs), 0: none */
};

void job_target_conf_defaults(struct job_target_conf *t);
/* Copies the explicitly set fields of src onto dst. */
void job_target_conf_overlay(struct job_target_conf *dst, const struct job_target_conf *src);
const char *job_target_kind_name(enum job_target_kind k);

/* Parses YAML text. filename is used in error messages only. On error *out is untouched and
 * err holds "FILE:LINE:COL: message". On success the caller owns out (job_scenario_free). */
enum rb_err job_scenario_parse(const char *text, size_t len, const char *filename,
                               struct job_scenario *out, char *err, size_t errlen);
/* Reads and parses a file. */
enum rb_err job_scenario_load(const char *path, struct job_scenario *out, char *err, size_t errlen);
void job_scenario_free(struct job_scenario *s);

/* A scenario with one run built from params (what plain command-line flags mean). */
enum rb_err job_scenario_single(const struct job_params *params,
                                const struct job_target_conf *target, struct job_scenario *out);

/* The execution plan: plan[i] is the index of the run to execute i-th, for
 * run_count * repetitions entries; rep[i] its 1-based repetition. Caller frees both. */
enum rb_err job_scenario_plan(const struct job_scenario *s, size_t **plan, long long **rep,
                              size_t *count);

#endif
