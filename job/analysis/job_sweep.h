/* job_sweep.h: capacity sweeps: judging each step against the SLO, the max sustainable rate,
 * the sweep summary document (OUT/RUN/sweep.json); comparing two sweeps is job_compare_sweep.h.
 * Documented in docs/scenarios.md ("Sweeps") and docs/results.md ("Sweep summary").
 *
 *   step documents (cJSON) ─► job_sweep_step_from_docs ─► job_sweep_judge ─► verdict
 *   verdicts ─► job_sweep_next (a ramp's next rate, or stop) and job_sweep_max_sustainable
 *   job_sweep_state ─► job_sweep_summary_json ─► sweep.json (written by the caller)
 *
 * Everything here is pure but job_sweep_finish_step and job_sweep_write_summary (files). */
#ifndef JOB_SWEEP_H
#define JOB_SWEEP_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "job_doc.h"
#include "job_params.h"
#include "job_scenario.h"
#include "rb_error.h"

/* When the runner, not the system, is the bottleneck of a step (docs/scenarios.md). */
#define JOB_SWEEP_RUNNER_LAG_P99_MS 10.0    /* schedule lag p99 above this */
#define JOB_SWEEP_RUNNER_LATE_FRACTION 0.10 /* late starts above this fraction of sends */
#define JOB_SWEEP_RUNNER_HELD_FRACTION 0.01 /* held by max_in_flight above this fraction */

/* One step's figures, pooled over its documents (its repetitions). */
struct job_sweep_step {
  double rate; /* intended invocations per second */
  size_t documents;
  double achieved_rate;       /* mean over the documents */
  double throughput;          /* mean over the documents */
  double p50_ms, p99_ms;      /* pooled execution_time_ms of measured successes; < 0: none */
  uint64_t measured, failed;  /* summed over the documents */
  double error_rate;          /* failed / measured (1 when nothing was measured) */
  double redis_cpu_us_per_op; /* mean over the documents; NAN when any lacks it */
  double backend_cpu_us_per_op;
  double lag_p99_ms;         /* the highest schedule_lag_ms.p99 of the documents */
  uint64_t sent, late, held; /* summed */
  bool complete;             /* every document ran its whole schedule */
};

enum { JOB_SLO_FAIL_P99 = 1, JOB_SLO_FAIL_ERRORS = 2, JOB_SLO_FAIL_ACHIEVED = 4 };

struct job_sweep_verdict {
  bool met;
  unsigned failed; /* JOB_SLO_FAIL_* */
  bool runner_limited;
  char why[400];         /* the bounds missed, with the measured figures ("" when met) */
  char runner_note[400]; /* why the runner was the bottleneck ("" when it was not) */
};

/* Pools documents (results documents with raw_results, read by job_doc_read) of one step at
 * rate. */
enum rb_err job_sweep_step_from_job_docs(double rate, const struct job_doc *docs, size_t n,
                                         struct job_sweep_step *out, char *err, size_t errlen);
/* The same from JSON trees (borrowed), read and validated through job_doc_read. */
enum rb_err job_sweep_step_from_docs(double rate, cJSON *const *docs, size_t n,
                                     struct job_sweep_step *out, char *err, size_t errlen);

/* Judges a step against slo (achieved >= slo->min_achieved_ratio x rate always). */
void job_sweep_judge(const struct job_slo *slo, const struct job_sweep_step *st,
                     struct job_sweep_verdict *v);

/* After step k (0-based) was judged v: true with *next_rate when the sweep goes on. A list
 * runs every step; a ramp with until_slo stops at the first failed step; every sweep stops
 * after its last rate. */
bool job_sweep_next(const struct job_rate_sweep *sw, size_t k, const struct job_sweep_verdict *v,
                    double *next_rate);

struct job_sweep_max {
  bool found;     /* some step met the SLO with every lower step too */
  double rate;    /* the highest such rate */
  bool at_least;  /* the true limit may be higher: no higher step failed on the
                     system (none ran, or the runner was the bottleneck) */
  char note[400]; /* gaps and lower bounds explained; "" when none */
};

/* The highest rate that met the SLO with every lower step meeting it too (steps in rate
 * order). A step that meets it above a failed one is a gap: not counted, named in note. */
void job_sweep_max_sustainable(const struct job_sweep_step *steps,
                               const struct job_sweep_verdict *verdicts, size_t n,
                               struct job_sweep_max *out);

/* A rate as step directories name it: "50", "168.75". */
void job_sweep_rate_name(double rate, char *buf, size_t len);

/* The `sweep` field of a step's document (owned by the caller). steps = 0 when not known
 * in advance (a ramp that stops at the SLO). */
cJSON *job_sweep_doc_field(size_t step, size_t steps, double rate, const char *summary_rel);

/* One run's sweep as it goes (steps judged so far, their documents). */
struct job_sweep_state {
  const struct job_scenario *scenario;
  const struct job_params *run; /* the run with its sweep */
  size_t count;                 /* steps judged */
  struct job_sweep_step steps[JOB_SWEEP_MAX_STEPS];
  struct job_sweep_verdict verdicts[JOB_SWEEP_MAX_STEPS];
  cJSON *documents[JOB_SWEEP_MAX_STEPS]; /* owned: arrays of paths relative to sweep.json */
  bool complete;                         /* false while going on or when interrupted */
  const char *interrupted_by;            /* "SIGINT", "SIGTERM" or NULL */
};

/* Frees the documents arrays. */
void job_sweep_state_free(struct job_sweep_state *s);

/* Records a document (path relative to the summary's directory) of step s->count. */
void job_sweep_add_document(struct job_sweep_state *s, const char *rel);

/* Reads the documents of step s->count (relative to dir), pools and judges them, and makes
 * it a judged step (s->count + 1). File I/O. */
enum rb_err job_sweep_finish_step(struct job_sweep_state *s, double rate, const char *dir,
                                  char *err, size_t errlen);

/* Writes the summary to path (job_output_write_file: atomically, parents created). */
enum rb_err job_sweep_write_summary(const struct job_sweep_state *s, const char *path, char *err,
                                    size_t errlen);

/* The sweep summary document (owned by the caller). */
cJSON *job_sweep_summary_json(const struct job_sweep_state *s);

#endif
