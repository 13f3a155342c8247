/* job_runner.h: executes one run: open-loop schedule ─► target ─► results document.
 *
 * The loop sends every invocation that is due (job_sched), then sleeps in job_http_wait
 * until the next due time or a reply. With concurrency N (the closed loop) it keeps N in
 * flight and sends the next from the reply handler as each one finishes. When *stop becomes
 * non-zero (SIGINT/SIGTERM) the schedule stops, in-flight invocations get drain_timeout seconds,
 * what is still in flight is aborted and recorded as "aborted", and the partial document is written
 * with "complete": false. */
#ifndef JOB_RUNNER_H
#define JOB_RUNNER_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdbool.h>

#include "job_config.h"
#include "job_exit.h"
#include "job_params.h"
#include "job_scenario.h"
#include "job_shard.h"

enum job_progress_mode {
  JOB_PROGRESS_AUTO,
  JOB_PROGRESS_TTY,
  JOB_PROGRESS_PLAIN,
  JOB_PROGRESS_OFF
};

struct job_run_request {
  const struct job_scenario *scenario;
  const struct job_params *params; /* the run, all layers applied */
  const struct job_target_conf *target;
  const struct job_config *config;
  long long repetition;
  const char *out_path;      /* results file (job_output: claimed before anything runs) */
  const char *const *inputs; /* files the run read (scenario, env file), NULL-terminated
                                or NULL: out_path must be none of them */
  const char *self_exe;      /* to find rbench-action */
  enum job_progress_mode progress;
  volatile sig_atomic_t *stop;   /* signal number when asked to stop */
  const char *configmap;         /* --results-configmap NAME or NULL */
  const cJSON *sweep;            /* a sweep step's "sweep" field (borrowed) or NULL */
  const struct job_shard *shard; /* --shard I/N, or NULL / count 0: the whole schedule */
  int64_t start_at_us;           /* the agreed start instant (epoch µs), 0: now */
  const char *run_id;            /* written as the document's run_id (job_shard_run_id) */
};

/* How far in the past a --start-at may be before the run is refused (its invocations would
 * otherwise go out as a burst of late sends). */
#define JOB_START_LATE_TOLERANCE_US 1000000

/* Runs it; returns a job_exit code. err describes failures. */
enum job_exit job_run_execute(const struct job_run_request *rq, char *err, size_t errlen);

#endif
