/* job_results.h: accumulates one run's records and writes its results document
 * (docs/results.md), atomically.
 *
 *   job_record ─► job_results_add ─┬─► per-metric sample arrays (exact percentiles)
 *                                  ├─► errors by kind, cold starts, lag histogram
 *                                  └─► spool file: one raw_results line per invocation
 *   job_results_write ─► summary (cJSON) + spool lines ─► the output claimed at creation
 *                        (job_output: OUT.tmp-XXXXXX ─fsync─► rename(OUT), or written through
 *                        a character device or FIFO)
 *
 * Raw records stream to the spool on disk, so memory per invocation is a few 4-byte samples
 * whatever the record holds. Every error message is redacted against the secrets given at
 * creation before it is stored. */
#ifndef JOB_RESULTS_H
#define JOB_RESULTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "job_arrival.h"
#include "job_doc.h"
#include "job_params.h"
#include "job_record.h"
#include "job_reuse.h"
#include "job_scenario.h"
#include "job_shard.h"
#include "rb_error.h"

#define JOB_SCHEMA_VERSION JOB_DOC_SCHEMA_VERSION /* job_doc.h owns it */

struct job_run_info {
  const char *scenario;            /* scenario name */
  const char *run_id;              /* one per rbench run invocation and run name (job_run_id), or
                                      NULL: written as "run_id" */
  const char *description;         /* may be NULL */
  const struct job_params *params; /* the run as executed */
  const struct job_target_conf *target;
  const char *action; /* the action invoked (or the local binary) */
  cJSON *config;      /* borrowed: job_config_describe() (no secrets) */
  long long repetition, repetitions;
  int64_t start_epoch_us; /* wall time of invocation 0's due time */
  uint64_t elapsed_us;    /* from start to the last reply (or the stop) */
  uint64_t planned, sent, late, held, unsent, warmup;
  uint64_t late_threshold_us;
  long long connections_ahead;      /* openwhisk: connections to open ahead (0 otherwise) */
  long long connections_limit;      /* the most in flight (hence connections) at once */
  uint64_t connections_before;      /* connections opened before the schedule started */
  uint64_t connections_during;      /* ... and while it ran */
  double first_sent_s, last_sent_s; /* send times of the first and last invocation */
  double last_end_s;                /* the last reply's end (0: none) */
  const struct job_shard *shard;    /* --shard I/N (count > 0), or NULL */
  double backend_before_ms, backend_after_ms; /* when Redis and the agent were sampled */
  bool closed; /* closed loop: no intended rate, late or held starts */
  /* open loop: the arrival process (job_arrival.h; NULL for the closed loop), the gaps of the
   * measured sends' intended and actual times, and the process's mean rate between the first
   * and the last invocation sent (what achieved_rate is judged against) */
  const struct job_arrival *arrival;
  struct job_gaps intended_gaps, realised_gaps;
  double intended_rate_sent;
  bool complete;
  const char *interrupted_by; /* "SIGTERM", "SIGINT" or NULL */
  const cJSON *server_side;   /* borrowed, may be NULL: redis, agent, backend_cpu_us_per_op
                                 (job_backend_end), copied into the document */
  const cJSON *sweep;         /* borrowed: a sweep step's "sweep" field, or NULL */
  const struct job_key_reuse *key_reuse; /* borrowed, may be NULL: the workload's key reuse
                                            (job_reuse.h), computed by the runner */
};

struct job_results;

/* out_path: the results file, claimed now (job_output_claim: parents created, locked until
 * destroy, refused when it is one of inputs or cannot be written safely: RB_ERR_INVALID,
 * RB_ERR_STATE when another rbench writes it). planned: invocations (to size the sample
 * arrays once). secrets: NULL-terminated, borrowed for the object's life. The spool file is
 * created beside the output (in TMPDIR for a device or FIFO). */
enum rb_err job_results_create(struct job_results **out, const char *out_path,
                               const char *const *inputs, uint64_t planned,
                               const char *const *secrets, char *err, size_t errlen);
/* Removes the spool, releases the output and frees. NULL-safe. */
void job_results_destroy(struct job_results *r);

/* Accounts for one finished invocation and spools its raw line. Redacts rec->error in place.
 * The record stays the caller's. */
enum rb_err job_results_add(struct job_results *r, struct job_record *rec);

/* Whether the output is a character device or FIFO, written through (nothing to read back). */
bool job_results_writes_through(const struct job_results *r);

/* Completed invocations so far, and how many of them failed. */
/* The runner has time (no send due for a while): writes the buffered raw records if there
 * are enough of them, so that writes seldom happen when a send is due. */
void job_results_idle(struct job_results *r);

uint64_t job_results_done(const struct job_results *r);
uint64_t job_results_failed(const struct job_results *r); /* not counting aborted ones */

/* The actions' own Redis operations (succeeded + failed) and new connections, summed over
 * every finished invocation (warm-up included), and how many invocations lacked each. */
void job_results_action_totals(const struct job_results *r, double *ops, uint64_t *ops_unknown,
                               double *conns, uint64_t *conns_unknown);

/* The document without raw_results (owned by the caller). */
cJSON *job_results_summary(struct job_results *r, const struct job_run_info *info);

/* Writes summary + raw_results to the claimed output (job_output_begin/commit). */
enum rb_err job_results_write(struct job_results *r, const struct job_run_info *info, char *err,
                              size_t errlen);

/* The summary object of a metric ({p50 p90 p99 min max mean count}, ms) from samples in µs
 * (exact, nearest rank; values is sorted in place), or from a histogram of µs. */
cJSON *job_results_samples_summary(uint64_t *values, size_t n);
struct job_hist;
cJSON *job_results_hist_summary(const struct job_hist *h);

/* The "workload" section (settings, realised_mix, key_reuse) and the "operations" section
 * (per operation type: succeeded, failed, latency_ms, histogram) of the document; NULL when
 * there is nothing to write (operations: no measured invocation reported op_stats). */
cJSON *job_results_workload_json(const struct job_results *r, const struct job_run_info *info);
cJSON *job_results_operations_json(const struct job_results *r);

/* Error messages kept per kind in errors_by_kind (more distinct ones: other_messages). */
#define JOB_RESULTS_MESSAGES_PER_KIND 8

#endif
