/* job_backend.h: the server side of a run: Redis INFO and the agent's Prometheus /metrics,
 * sampled right before and right after the run, turned into the results' "redis" and "agent"
 * sections and backend_cpu_us_per_op (docs/results.md, "Server-side cost").
 *
 *   INFO text ─► job_redis_info_parse ─┐
 *   /metrics  ─► job_agent_parse ──────┼─► two samples ─► job_backend_*_json (deltas, per op)
 *
 * Everything here is pure (text in, structs out; two samples in, cJSON out) and never fails on
 * garbage: what cannot be read is missing, and a missing or backwards figure is null, never a
 * made-up or negative number. The sampling I/O is job_backend_io.c. */
#ifndef JOB_BACKEND_H
#define JOB_BACKEND_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- Redis INFO ------------------------------------------------------------------------ */

enum job_ri {
  JOB_RI_CPU_SYS,     /* used_cpu_sys */
  JOB_RI_CPU_USER,    /* used_cpu_user */
  JOB_RI_COMMANDS,    /* total_commands_processed */
  JOB_RI_READS,       /* total_reads_processed */
  JOB_RI_WRITES,      /* total_writes_processed */
  JOB_RI_NET_IN,      /* total_net_input_bytes */
  JOB_RI_NET_OUT,     /* total_net_output_bytes */
  JOB_RI_CONNECTIONS, /* total_connections_received */
  JOB_RI_CLIENTS,     /* connected_clients */
  JOB_RI_COUNT
};

#define JOB_REDIS_CMDS_MAX 96

struct job_redis_cmd {
  char name[48]; /* as INFO commandstats names it, e.g. "set", "client|setname" */
  double calls;
};

struct job_redis_info {
  double v[JOB_RI_COUNT];
  unsigned have;     /* bit (1u << field) per field read */
  char run_id[48];   /* "" when absent; a new one means Redis restarted */
  bool commandstats; /* the commandstats section was there */
  struct job_redis_cmd cmd[JOB_REDIS_CMDS_MAX];
  size_t ncmd;
};

/* Parses the text of INFO (any sections, CRLF or LF). Returns how many known fields were
 * read (0: not INFO output). Lines it does not know, and values that are not numbers, are
 * skipped. */
size_t job_redis_info_parse(const char *text, size_t len, struct job_redis_info *out);

/* ---- Prometheus text exposition ---------------------------------------------------------- */

/* One sample: metric name, its "le" label or NULL, value (may be +Inf). */
typedef void (*job_prom_fn)(const char *name, const char *le, double value, void *arg);

/* Calls fn for every sample line of the text exposition format 0.0.4 (comments skipped,
 * other labels ignored, a timestamp after the value ignored). Returns the samples read. */
size_t job_prom_parse(const char *text, size_t len, job_prom_fn fn, void *arg);

enum job_am {
  JOB_AM_COMMANDS,        /* rbench_agent_requests_total */
  JOB_AM_BATCHES,         /* rbench_agent_batches_total */
  JOB_AM_UPSTREAM_WRITES, /* rbench_agent_upstream_writes_total */
  JOB_AM_COALESCED,       /* rbench_agent_coalesced_total */
  JOB_AM_RECONNECTS,      /* rbench_agent_reconnects_total */
  JOB_AM_BATCH_SUM,       /* rbench_agent_batch_size_sum */
  JOB_AM_BATCH_COUNT,     /* rbench_agent_batch_size_count */
  JOB_AM_CPU,             /* process_cpu_seconds_total */
  JOB_AM_RSS,             /* process_resident_memory_bytes */
  JOB_AM_START,           /* process_start_time_seconds */
  JOB_AM_COUNT
};

#define JOB_AGENT_BUCKETS_MAX 40

struct job_agent_sample {
  double v[JOB_AM_COUNT];
  unsigned have;                     /* bit per field read */
  double le[JOB_AGENT_BUCKETS_MAX];  /* batch-size bucket bounds, ascending (+Inf last) */
  double cum[JOB_AGENT_BUCKETS_MAX]; /* cumulative counts */
  size_t nb;
};

/* Reads rbench-agent's /metrics text. Returns the known samples read (0: not the agent's). */
size_t job_agent_parse(const char *text, size_t len, struct job_agent_sample *out);

/* p-th percentile (0 < p <= 100) of commands per batch over the batches between a and b,
 * from the delta of the cumulative buckets: the upper bound of the bucket holding the
 * nearest-rank batch. False when it cannot be told (no batches, buckets differ or went
 * backwards, or the batch fell above the last finite bound). */
bool job_agent_batch_percentile(const struct job_agent_sample *a, const struct job_agent_sample *b,
                                double p, double *out);

/* ---- sections of the results document ----------------------------------------------------- */

/* What rbench itself did in the window, to tell its own traffic from other clients'. */
struct job_backend_window {
  double ops; /* the actions' succeeded + failed, every invocation; < 0 unknown */
  unsigned long long ops_missing; /* invocations that reported no counts (not in ops) */
  const char *operation;          /* set, get, del, exists */
  bool batching;
  double action_connections;    /* direct: Redis connections the actions opened; < 0 unknown */
  unsigned sampler_info;        /* INFO commands of the sampler counted in the window */
  unsigned sampler_auth;        /* its AUTH commands in the window */
  unsigned sampler_connections; /* its connections in the window */
};

/* The "redis" section from two INFO samples. agent_a/agent_b (batched runs, may be NULL)
 * account for the agent's upstream reconnections. Owned by the caller. */
cJSON *job_backend_redis_json(const char *endpoint, const struct job_redis_info *a,
                              const struct job_redis_info *b, const struct job_backend_window *w,
                              const struct job_agent_sample *agent_a,
                              const struct job_agent_sample *agent_b);

/* A batched run the agent saw none of: commands (the agent's requests growth; < 0 unknown)
 * is 0 while the actions reported ops > 0. Then true with the warning in out (the document's
 * agent.warning, also logged). */
#define JOB_AGENT_WARNING_MAX 400
bool job_backend_agent_warning(double commands, double ops, char *out, size_t len);

/* The "agent" section from two /metrics samples, with "warning" when
 * job_backend_agent_warning says so. Owned by the caller. */
cJSON *job_backend_agent_json(const char *endpoint, const struct job_agent_sample *a,
                              const struct job_agent_sample *b, double ops);

/* The "action_cpu" section: {"cpu_s", "cpu_us_per_op" (null when ops <= 0 or cpu_s < 0),
 * "processes"}: the action processes' CPU over the window and how many ran in it. */
cJSON *job_backend_action_cpu_json(double cpu_s, double processes, double ops);

/* {"endpoint": endpoint or null, "unavailable": why}. Owned by the caller. */
cJSON *job_backend_unavailable(const char *endpoint, const char *why);

/* backend_cpu_us_per_op: Redis's cpu_us_per_op plus (batching) the agent's; false when a
 * needed part is missing or null. */
bool job_backend_cpu_per_op(const cJSON *redis, const cJSON *agent, bool batching, double *out);

/* The shared rule again, over a "redis" section's calls (what a merge of shards can judge):
 * true when a command rbench never sends grew, when the data commands exceed ops (>= 0; < 0:
 * unknown) or when INFO calls exceed info_allowed; why says which (joined by "; "). The
 * connection counts are not judged here. */
bool job_backend_shared_from_calls(const cJSON *calls, const char *operation, bool batching,
                                   double ops, double info_allowed, char *why, size_t len);

#endif
