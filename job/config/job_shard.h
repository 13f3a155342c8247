/* job_shard.h: scale-out runs (docs/runner.md, "Sharding"): which share of a schedule one
 * runner process sends (--shard I/N), the agreed start instant (--start-at), the clock check
 * that makes an agreed instant mean the same moment on every runner, and the names a shard
 * gives its outputs.
 *
 * Invocation k of the unsharded schedule belongs to shard k mod N and keeps its intended time
 * start + k / rate, so the N shards together send exactly the unsharded schedule.
 *
 * The parsers are pure (text in, fields out, env through a lookup function); the clock probe
 * does HTTP (libcurl, easy interface). */
#ifndef JOB_SHARD_H
#define JOB_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job_config.h"
#include "job_params.h"
#include "rb_error.h"

struct job_shard {
  unsigned index; /* 0 <= index < count */
  unsigned count; /* 0: not sharded */
};

#define JOB_SHARD_MAX 100000u

/* Parses "I/N" (0 <= I < N <= JOB_SHARD_MAX). what names the source in messages ("--shard",
 * "RBENCH_SHARD"). */
enum rb_err job_shard_parse(const char *text, const char *what, struct job_shard *out, char *err,
                            size_t errlen);

/* The shard from the command line (cli, NULL when not given), else RBENCH_SHARD, else
 * JOB_COMPLETION_INDEX with RBENCH_SHARDS (an Indexed Job's pod). out->count is 0 when none is
 * set. RBENCH_SHARDS without JOB_COMPLETION_INDEX, or the other way round, is an error; so is
 * an index outside 0..N-1. */
enum rb_err job_shard_resolve(const char *cli, job_env_lookup lookup, struct job_shard *out,
                              char *err, size_t errlen);

/* Parses an instant: epoch seconds (fractional allowed, "1796407200.25") or RFC 3339
 * ("2026-12-04T18:00:00Z", "2026-12-04T19:00:00.5+01:00"). Microseconds since the epoch. */
enum rb_err job_time_parse(const char *text, const char *what, int64_t *epoch_us, char *err,
                           size_t errlen);

/* The invocations of [0, total) that belong to the shard (all of them when not sharded). */
uint64_t job_shard_share(const struct job_shard *s, uint64_t total);

/* path with ".shard-I-of-N" inserted before a final ".json" (appended when there is none);
 * path itself when not sharded. */
void job_shard_file_name(const char *path, const struct job_shard *s, char *out, size_t len);

/* Appends "-shard-I" to a ConfigMap name (in place; nothing when not sharded). */
void job_shard_configmap_name(char *name, size_t len, const struct job_shard *s);

/* The run key (16 hex digits, NUL-terminated in out[17]): a hash of what makes shards one run
 * (scenario, run, repetition, start instant, shard count, the run's parameters). */
void job_shard_run_key(const char *scenario, const struct job_params *p, long long repetition,
                       int64_t start_ms, unsigned count, char out[17]);

/* The run id (docs/results.md, "run_id"; 16 hex digits in out[17]): one per `rbench run`
 * invocation and run name, shared by the run's repetitions. Sharded (s->count > 0): the run key
 * of repetition 0 at the agreed start instant start_ms, so that every shard process derives the
 * same id; otherwise a hash of invocation_token (job_shard_invocation_token: start time, pid,
 * random bytes) and the run's name. */
void job_shard_run_id(const struct job_shard *s, uint64_t invocation_token, const char *scenario,
                      const struct job_params *p, int64_t start_ms, char out[17]);
/* A token unique to this process's invocation: wall time, pid and random bytes. */
uint64_t job_shard_invocation_token(void);

/* What the clock probe found: the remote clock minus ours lies in [lo_ms, hi_ms]. */
struct job_clock_offset {
  double lo_ms, hi_ms;
  int probes;
};

/* Given the offset bounds: an error (naming the server and by how much) when the clock is
 * certainly off by more than tolerance_ms; RB_OK otherwise. */
enum rb_err job_clock_judge(const struct job_clock_offset *o, double tolerance_ms,
                            const char *server, char *err, size_t errlen);

#endif
