/* job_doc.h: the results document (docs/results.md) as C structs, read and validated in one
 * place. This module owns the document's key names (job_doc_keys.h, shared with the writer in
 * job_results.c) and its schema version; compare, report, sweep and merge read documents only
 * through job_doc_read.
 *
 *   JSON text ─► cJSON ─► job_doc_read ─┬─► struct job_doc (typed; NAN / NULL when absent)
 *                                       └─► refused: "FILE: FIELD: what is wrong"
 *
 * Validation on read (docs/results.md, "Validation on read"): every field present must have
 * its type (a wrong one is named with the file and the field path, e.g. "r3.json:
 * raw_results[17].index: expected an integer, got a string"); durations and times are finite,
 * >= 0 (times since the start may be negative only for backend_before_ms) and at most
 * JOB_DOC_MAX_MS; rates at most JOB_DOC_MAX_RATE; counts whole numbers in [0, 2^53]; fractions
 * in [0, 1]; schema_version must be JOB_DOC_SCHEMA_VERSION (a newer one is named as such); the
 * invocation counts must agree with raw_results when both are there. Absent fields are
 * allowed (documents of older versions, summary-only documents without raw_results). */
#ifndef JOB_DOC_H
#define JOB_DOC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job_doc_keys.h"
#include "job_params.h"
#include "rb_error.h"

#define JOB_DOC_SCHEMA_VERSION 1

/* Bounds of validation (documented in docs/results.md). */
#define JOB_DOC_MAX_MS 1e10                  /* any duration or time in ms: ~115 days */
#define JOB_DOC_MAX_RATE 1e9                 /* invocations per second */
#define JOB_DOC_MAX_COUNT 9007199254740992.0 /* 2^53: counts are whole numbers below it */
#define JOB_DOC_MAX_FIGURE 1e15              /* per-operation and other server-side figures */

/* A figure that may be absent, null (the writer could not compute it) or set. */
enum job_doc_has { JOB_DOC_ABSENT, JOB_DOC_NULL, JOB_DOC_SET };
struct job_doc_figure {
  double v; /* NAN unless has == JOB_DOC_SET */
  enum job_doc_has has;
};

/* {p50 p90 p99 min max mean count} in ms; every field NAN when absent. */
struct job_doc_summary {
  bool present;
  double p50, p90, p99, min, max, mean, count;
};

/* One raw_results record (the fields the analysis needs); NAN / -1 when absent or null. */
struct job_doc_record {
  double index; /* NAN when absent */
  bool warmup, success, cold_start;
  double intended_ms, sent_ms, end_ms, execution_ms, service_ms;
  double wait_ms, init_ms, duration_ms;
  double action_elapsed_us; /* action.elapsed_us */
  const char *outcome;      /* borrowed; NULL when absent */
  const cJSON *json;        /* borrowed: the record itself (merge copies it as written) */
};

/* redis or agent section (docs/results.md, "Server-side cost"). */
struct job_doc_backend {
  bool present;
  const char *unavailable;     /* why it could not be sampled, or NULL */
  const char *endpoint, *note; /* NULL when absent or null */
  const char *warning;         /* agent.warning: the agent saw none of the run's operations */
  struct job_doc_figure cpu_us_per_op, commands_per_op, reads_per_op, writes_per_op, bytes_per_op;
  struct job_doc_figure ops, commands, reads, writes, net_input_bytes, net_output_bytes;
  struct job_doc_figure cpu_total_s; /* redis.cpu_s.total, agent.cpu_s */
  struct job_doc_figure per_batch_mean, per_batch_p50, per_batch_p99; /* agent */
  bool shared;
  const cJSON *calls;    /* borrowed: redis.calls ({command: calls}) or NULL */
  const cJSON *settings; /* borrowed: agent.settings (free-form, shown as is) or NULL */
  const cJSON *json;     /* borrowed: the whole section */
};

/* One process of the "started" section (docs/results.md, "Backend started by the runner"). */
struct job_doc_started_proc {
  const char *role;                          /* "redis" or "layer" */
  const char *name, *args, *endpoint, *note; /* NULL when absent or null */
  double pid;                                /* NAN when absent */
  struct job_doc_figure cpu_quota, cpu_s, cpu_us_per_op, throttled_s, throttled_periods;
};

#define JOB_DOC_STARTED_MAX 8

/* "started": what the runner started for the run (backend start, local target). */
struct job_doc_started {
  bool present;
  struct job_doc_started_proc procs[JOB_DOC_STARTED_MAX];
  size_t n;
};

/* "action_cpu": the action processes' CPU over the window (local target). */
struct job_doc_action_cpu {
  bool present;
  struct job_doc_figure cpu_s, cpu_us_per_op;
  double processes; /* NAN when absent or null */
};

/* The arrival section (docs/results.md, "Arrival process"); every figure NAN when absent or
 * null. */
struct job_doc_arrival {
  bool present;        /* an object (null in a closed loop; absent in older documents) */
  const char *process; /* constant, poisson, bursts or trace */
  double planned, span_s, measured_sends;
  double intended_rate, intended_cv, realised_rate, realised_cv;
};

struct job_doc_message {
  const char *message; /* borrowed */
  double count;
};

struct job_doc_error_kind {
  const char *kind;             /* borrowed */
  double count, other_messages; /* other_messages NAN when absent */
  struct job_doc_message *messages;
  size_t nmessages;
};

/* One operation type of the "operations" section. */
struct job_doc_op {
  const char *name; /* borrowed: an rb_op name */
  double succeeded, failed;
  double found;                   /* reads that found their key; NAN when absent */
  struct job_doc_summary latency; /* latency_ms */
  const cJSON *histogram;         /* borrowed (validated), or NULL */
};

/* The "workload" section (docs/results.md, "Workload"); NAN / NULL when absent. */
struct job_doc_workload {
  bool present;
  double mix[RB_OP_COUNT];      /* configured shares (0 when not in the mix) */
  bool has_realised;            /* realised_mix is there (not null) */
  double realised[RB_OP_COUNT]; /* realised shares */
  const char *key_distribution, *value_sizes;
  double zipf_exponent, hotspot_keys, hotspot_ops, gaussian_stddev, key_space;
  double keys_per_command, structure_size, range_span, script_work, seed;
  bool prepare;
  bool has_key_reuse;
  double key_reuse[3];     /* repeated at window_ops 16, 128, 1024 (NAN when absent) */
  double reuse_operations; /* key_reuse_sample.operations */
};

struct job_doc {
  const char *path;  /* for messages (borrowed) */
  const cJSON *json; /* borrowed: the tree read (owned when read from text) */
  cJSON *owned;
  /* identity */
  int schema_version;
  const char *rbench_version, *rbench_commit; /* NULL when absent */
  const char *hostname, *host_os;
  double host_cpus;
  bool has_scenario;    /* the scenario object is there */
  const char *run_name; /* scenario.run; NULL when absent */
  const char *scenario_name, *description;
  const char *run_id;             /* NULL in documents written before run ids */
  double repetition, repetitions; /* NAN when absent */
  bool sharded;
  double shard_index, shard_count, shard_start_at_ms;
  const char *shard_run_key;
  bool merged;        /* has merged_from */
  const char *target; /* "local", "openwhisk" or NULL */
  const char *action;
  bool closed; /* mode "closed" */
  bool complete;
  const char *interrupted_by;
  /* settings */
  const char *target_kind, *target_action; /* scenario.target */
  double target_pool_size;                 /* NAN when absent */
  struct job_params params;                /* scenario.parameters (defaults where absent) */
  uint64_t params_present;                 /* bit i: job_params_fields[i] was in the document */
  bool params_present_any;
  double planned_invocations;
  const cJSON *config; /* borrowed: scenario.config (free-form, no secrets) or NULL */
  /* summary figures */
  double start_time_ms, duration_s;
  double requested_rate, achieved_rate, throughput;
  struct job_doc_figure throughput_fig;
  bool has_invocations; /* the invocations object is there */
  double planned, sent, completed, warmup_count, measured, succeeded, failed, unsent,
      polled_after_202;
  double aborted; /* invocations.aborted: stopped by rbench, neither success nor failure; NAN in
                    documents written before it existed (their aborted ones counted as failed) */
  double conn_ahead, conn_limit, conn_before, conn_during; /* connections.* */
  double late_starts, held_by_max_in_flight, cold_starts;
  double success_rate, error_rate;
  struct job_doc_summary execution, service, schedule_lag;
  struct job_doc_summary srv_duration, srv_wait, srv_init, srv_action;
  struct job_doc_backend redis, agent;
  struct job_doc_figure backend_cpu_us_per_op;
  struct job_doc_started started;
  struct job_doc_action_cpu action_cpu;
  struct job_doc_arrival arrival;
  struct job_doc_error_kind *errors;
  size_t error_kinds;
  /* timeline (ms from start_time_ms), NAN when absent or null */
  double first_send_ms, last_send_ms, last_end_ms, backend_before_ms, backend_after_ms;
  /* sweep step */
  bool sweep_step;
  double sweep_rate, sweep_index, sweep_steps;
  const char *sweep_summary;
  /* raw results */
  bool has_raw; /* raw_results is there (false: summary only) */
  bool raw_omitted;
  struct job_doc_record *raw;
  size_t nraw;
  const cJSON *histograms; /* borrowed: decoded by job_hist_from_json, or NULL */
  /* workload (issue 20) */
  struct job_doc_workload workload;
  struct job_doc_op *ops; /* the "operations" section, in document order */
  size_t nops;
};

/* Reads and validates doc (borrowed: the job_doc points into it and must not outlive it).
 * path names the file in messages. RB_ERR_INVALID with "PATH: FIELD: why" in err ("FIELD: why"
 * when path is NULL, for callers that name the file themselves). */
enum rb_err job_doc_read(const cJSON *doc, const char *path, struct job_doc *out, char *err,
                         size_t errlen);
/* The same from JSON text (the tree is kept in out->owned). */
enum rb_err job_doc_read_text(const char *text, size_t len, const char *path, struct job_doc *out,
                              char *err, size_t errlen);
void job_doc_free(struct job_doc *d);

/* False when a and b ran the same thing (ops, operation or mix, rate or concurrency (mode),
 * parallel, value size or sizes, key space, target, batching, duration or invocations, the
 * key distribution and its parameters, keys_per_command, structure_size, range_span and
 * script_work where the mix uses them, the arrival process and its parameters, the placement
 * (batching true without one is agent) and action_concurrency, batch_connections,
 * batch_wait_us, batch_coalesce, backend, layer, layer_args, redis_cpu and the action runtime
 * (action_runtime, action_image, action_memory, action_cpu) as run; not the seed);
 * else true with the first setting that differs and both values in what, e.g. "ops: 100 vs
 * 200", "mix: get:80,set:20 vs get:50,set:50". */
bool job_doc_settings_diff(const struct job_doc *a, const struct job_doc *b, char *what,
                           size_t len);

/* The workload a document ran, for people: "mix get:80,set:20; keys zipfian (s 0.99) over 1000;
 * values 64 B; arrival poisson" (pure). */
void job_doc_workload_text(const struct job_doc *d, char *buf, size_t len);

/* True when parameter name (a job_params_fields name) was in the document. */
bool job_doc_param_present(const struct job_doc *d, const char *name);

#endif
