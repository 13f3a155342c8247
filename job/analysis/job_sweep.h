/* job_sweep.h: capacity sweeps: judging each step against the SLO, the max sustainable rate,
 * the sweep summary document (OUT/RUN/sweep.json); comparing two sweeps is job_compare_sweep.h.
 * Documented in docs/scenarios.md ("Sweeps") and docs/results.md ("Sweep summary").
 *
 *   step documents (cJSON) ─► job_sweep_step_from_docs ─► job_sweep_judge ─► verdict
 *                                                          (bounds, marginal, attribution)
 *   steps + verdicts ─► job_sweep_decide (the next planned rate, a search step down or
 *                       between the bracket, a repeat of a marginal step, or stop)
 *   steps + verdicts ─► job_sweep_max_sustainable
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

/* A verdict is marginal when a figure is this close to its bound (docs/scenarios.md). */
#define JOB_SWEEP_MARGIN_P99 0.05      /* p99 within +-5% of p99_ms */
#define JOB_SWEEP_MARGIN_ACHIEVED 0.01 /* achieved / rate within +-0.01 of min_achieved_ratio */
#define JOB_SWEEP_MARGIN_ERRORS 0.20   /* failures within +-20% (at least 1) of the allowed count */

/* What limited a failed step (docs/scenarios.md, "What limited a step"). */
#define JOB_SWEEP_REDIS_THROTTLED 0.05    /* Redis's cgroup throttled >= 5% of the window */
#define JOB_SWEEP_REDIS_CPU_NEAR 0.90     /* Redis's CPU >= 90% of its quota (or of one core) */
#define JOB_SWEEP_MACHINE_BUSY 0.90       /* every core >= 90% busy */
#define JOB_SWEEP_WAIT_MS 1.0             /* an invocation waited for a free worker longer */
#define JOB_SWEEP_POOL_WAIT_SHARE 0.50    /* wait p99 >= half the execution p99 */
#define JOB_SWEEP_POOL_SEND_FRACTION 0.10 /* sends late or held while the pool was full */

enum job_sweep_kind { JOB_STEP_PLANNED, JOB_STEP_DOWN, JOB_STEP_BISECT };
const char *job_sweep_kind_name(enum job_sweep_kind k);

enum {
  JOB_CAUSE_REDIS = 1,
  JOB_CAUSE_MACHINE = 2,
  JOB_CAUSE_POOL = 4,
  JOB_CAUSE_RUNNER = 8,
};

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
  /* how the step was chosen (set by the sweep state) */
  enum job_sweep_kind kind;
  size_t rounds; /* 1, or 2 when a marginal verdict was repeated (documents pooled) */
  /* the runner's classification of late and held sends (send_delays in the documents) */
  bool has_send_delays;
  uint64_t late_pool, held_pool;     /* while every local worker was busy: queueing */
  uint64_t late_runner, held_runner; /* with a worker free: the runner's own schedule */
  double runner_lag_p99_ms;          /* highest of the documents' */
  /* the action pool: measured warm invocations that waited for a free worker */
  uint64_t waited;    /* wait_ms > JOB_SWEEP_WAIT_MS */
  double wait_p99_ms; /* pooled wait_ms p99 of measured invocations; < 0: none */
  /* the machine (machine_cpu in the documents) */
  bool has_machine;
  double machine_busy, machine_min_core_busy; /* means over the documents */
  /* Redis: the started process's cgroup (started.processes[role=redis]) or INFO's CPU */
  bool has_redis_throttle;
  double redis_throttled_s, redis_throttled_periods; /* summed */
  bool has_redis_cpu;
  double redis_cpu_s, redis_window_s; /* summed over the documents */
  double redis_quota;                 /* cores (0: none known, one core assumed) */
};

enum { JOB_SLO_FAIL_P99 = 1, JOB_SLO_FAIL_ERRORS = 2, JOB_SLO_FAIL_ACHIEVED = 4 };

struct job_sweep_verdict {
  bool met;
  unsigned failed; /* JOB_SLO_FAIL_* */
  bool runner_limited;
  char why[400];         /* the bounds missed, with the measured figures ("" when met) */
  char runner_note[400]; /* why the runner was the bottleneck ("" when it was not) */
  bool marginal;         /* the verdict hinges on a figure within its margin of the bound */
  char marginal_note[200];
  unsigned causes;       /* JOB_CAUSE_*: every explanation the evidence supports */
  char limited_by[16];   /* failed steps: redis, machine, action_pool, runner or slo */
  char attribution[600]; /* the evidence in words ("" when met) */
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

/* Attributes a judged step (v->causes, limited_by, attribution; called by job_sweep_judge):
 * redis, then machine, then action_pool, then runner, else slo. */
void job_sweep_attribute(const struct job_slo *slo, const struct job_sweep_step *st,
                         struct job_sweep_verdict *v);

/* After step k (0-based) was judged v: true with *next_rate when the planned steps go on. A
 * list runs every step; a ramp with until_slo stops at the first failed step; every sweep
 * stops after its last rate. (The planned phase of job_sweep_decide.) */
bool job_sweep_next(const struct job_rate_sweep *sw, size_t k, const struct job_sweep_verdict *v,
                    double *next_rate);

enum job_sweep_move { JOB_SWEEP_STOP, JOB_SWEEP_STEP, JOB_SWEEP_REPEAT };

struct job_sweep_decision {
  enum job_sweep_move move;
  double rate;              /* STEP, REPEAT: the rate */
  enum job_sweep_kind kind; /* STEP: planned, down or bisect */
  size_t repeat;            /* REPEAT: the index of the step repeated */
  char why[300];            /* STOP: why the sweep ends; otherwise why this step */
};

/* The first step of sw. */
void job_sweep_first(const struct job_rate_sweep *sw, struct job_sweep_decision *d);

/* What comes after n judged steps (in the order run; steps[i].kind and .rounds set): a
 * marginal last step is repeated once (search on, repeat_marginal); the planned steps go on
 * (job_sweep_next); then, when the sweep searches: no failure: stop; no pass below the lowest
 * failing rate: down by the factor (a list: 2), to the floor at least, stopping below the
 * floor; else bisect geometrically between the highest passing rate below the lowest failing
 * one until (fail - pass) / pass <= precision or max_steps search steps ran. Pure. */
void job_sweep_decide(const struct job_rate_sweep *sw, const struct job_sweep_step *steps,
                      const struct job_sweep_verdict *v, size_t n, struct job_sweep_decision *d);

struct job_sweep_max {
  bool found;       /* some step met the SLO with every lower step too */
  double rate;      /* the highest such rate */
  double failed_at; /* the lowest failing rate (0: none): the capacity lies in [rate, failed_at) */
  double below;     /* not found: every rate tried failed, the lowest being this */
  bool at_least;    /* the true limit may be higher: no higher step failed on the
                       system (none ran, or the runner was the bottleneck) */
  char note[400];   /* gaps and lower bounds explained; "" when none */
};

/* The highest rate that met the SLO below the lowest failing rate (steps in any order). A
 * step that meets it above a failed one is a gap: not counted, named in note. */
void job_sweep_max_sustainable(const struct job_sweep_step *steps,
                               const struct job_sweep_verdict *verdicts, size_t n,
                               struct job_sweep_max *out);

/* A rate as step directories name it: "50", "168.75". */
void job_sweep_rate_name(double rate, char *buf, size_t len);

/* The `sweep` field of a step's document (owned by the caller). steps = 0 when not known
 * in advance (a ramp that stops at the SLO). */
cJSON *job_sweep_doc_field(size_t step, size_t steps, double rate, const char *summary_rel);

#define JOB_SWEEP_STATE_STEPS (JOB_SWEEP_MAX_STEPS + JOB_SWEEP_MAX_SEARCH)

/* One run's sweep as it goes (steps judged so far, their documents). */
struct job_sweep_state {
  const struct job_scenario *scenario;
  const struct job_params *run; /* the run with its sweep */
  size_t count;                 /* steps judged */
  struct job_sweep_step steps[JOB_SWEEP_STATE_STEPS];
  struct job_sweep_verdict verdicts[JOB_SWEEP_STATE_STEPS];
  struct job_sweep_verdict first[JOB_SWEEP_STATE_STEPS]; /* repeated steps: round 1's */
  cJSON *documents[JOB_SWEEP_STATE_STEPS]; /* owned: arrays of paths relative to sweep.json */
  struct job_sweep_decision next;          /* what runs next (job_sweep_first / _decide) */
  bool complete;                           /* false while going on or when interrupted */
  const char *interrupted_by;              /* "SIGINT", "SIGTERM" or NULL */
  char stopped_because[300];               /* the last decision's why, once complete */
};

/* Frees the documents arrays. */
void job_sweep_state_free(struct job_sweep_state *s);

/* The step index the next documents belong to: s->next.repeat for a repeat, else s->count. */
size_t job_sweep_next_index(const struct job_sweep_state *s);

/* Records a document (path relative to the summary's directory) of the next step
 * (job_sweep_next_index). */
void job_sweep_add_document(struct job_sweep_state *s, const char *rel);

/* Reads the documents of the next step (relative to dir), pools and judges them: a new
 * judged step (s->count + 1), or, for a repeat, the repeated step re-judged on all its
 * documents (round 1's verdict kept in first[]). Then decides what comes next (s->next;
 * s->complete and stopped_because when it stops). File I/O. */
enum rb_err job_sweep_finish_step(struct job_sweep_state *s, double rate, const char *dir,
                                  char *err, size_t errlen);

/* Writes the summary to path (job_output_write_file: atomically, parents created). */
enum rb_err job_sweep_write_summary(const struct job_sweep_state *s, const char *path, char *err,
                                    size_t errlen);

/* The sweep summary document (owned by the caller). */
cJSON *job_sweep_summary_json(const struct job_sweep_state *s);

#endif
