/* job_runner.c: the run loop, open or closed (see job_runner.h). */
#define _GNU_SOURCE
#include "job_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job_arrival.h"
#include "job_backend_io.h"
#include "job_k8s.h"
#include "job_machine.h"
#include "job_prepare.h"
#include "job_progress.h"
#include "job_results.h"
#include "job_sched.h"
#include "job_started.h"
#include "job_target.h"
#include "rb_clock.h"
#include "rb_log.h"
#include "rb_stats.h"

#define LATE_THRESHOLD_NS 1000000u /* a send more than 1 ms after its due time is late */
#define START_DELAY_NS 2000000u    /* invocation 0 is due 2 ms after setup */
#define IDLE_SLACK_NS 150000u      /* time to the next send that counts as idle (for writes) */

struct lag_buf {
  uint32_t *v;
  size_t n, cap;
};

struct runner {
  const struct job_run_request *rq;
  struct job_sched sched;
  struct job_arrival *arrival;         /* open loop: the intended times (job_arrival.h) */
  uint64_t first_k, last_k;            /* open loop: the first and last invocation sent */
  struct job_gaps due_gaps, sent_gaps; /* measured sends: intended and actual times */
  double process_rate; /* open loop: the process's mean rate over its schedule (progress ETA) */
  struct job_results *results;
  struct job_target *target;
  struct job_http *http;
  uint64_t start_ns;
  int64_t start_wall_us;
  uint64_t warmup_count;
  bool closed;              /* concurrency > 0: the closed loop */
  uint64_t warmup_until_ns; /* closed: sends before this are warm-up */
  uint64_t warmup_sent;     /* closed: how many were */
  uint64_t first_sent_ns, last_sent_ns, last_end_ns;
  enum rb_err io_error;
  bool tty;
  uint64_t next_progress_ns, progress_every_ns;
  struct job_inv *live;      /* invocations in flight (doubly linked) */
  uint64_t sockets_at_start; /* connections opened before the schedule (preflight, warm-up) */
  long long in_flight_limit; /* max_in_flight, or fewer connections (openwhisk) */
  int64_t backend_before_us, backend_after_us; /* wall times of the backend samples */
  const struct job_config *cfg; /* rq->config, or its copy pointing at a started backend */
  struct job_started *started;  /* backend start: what this run started, or NULL */
  bool action_cpu_ok;           /* the target's action CPU before the window */
  struct job_target_cpu action_cpu_a;
  /* Late and held sends, classified (send_delays in the document): a send delayed while every
   * local worker was busy would have waited in the target's queue anyway: the system
   * queueing, as an invoker's queue is; with a worker free, the runner's own schedule. */
  uint64_t pool_slots; /* local: pool_size x action_concurrency; 0: no such pool */
  uint64_t late_pool, held_pool, late_runner, held_runner;
  bool held_by_pool;    /* the invocation being held was held while the pool was full */
  struct lag_buf *lags; /* measured sends made with a worker free: lateness in µs (owned by
                           job_run_execute, so every way out of execute frees it) */
};

/* Classifies a hold the schedule just counted (FULL): the pool full or the runner's bound. */
static void classify_hold(struct runner *r) {
  r->held_by_pool = r->pool_slots && r->sched.in_flight >= r->pool_slots;
  if (r->held_by_pool) r->held_pool++;
  else r->held_runner++;
}

/* Classifies a send (before job_sched_sent): *pool when it went out while every local worker
 * was busy (or after a hold that was). */
static bool send_in_full_pool(const struct runner *r) {
  return r->pool_slots && (r->sched.in_flight >= r->pool_slots || r->held_by_pool);
}

static void add_runner_lag(struct runner *r, uint64_t lag_ns) {
  struct lag_buf *b = r->lags;
  if (b->n == b->cap) {
    size_t c = b->cap ? b->cap * 2 : 1024;
    uint32_t *n = realloc(b->v, c * sizeof *n);
    if (!n) return; /* the figure is then over fewer sends; nothing else depends on it */
    b->v = n, b->cap = c;
  }
  uint64_t us = lag_ns / 1000;
  b->v[b->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* The send_delays section (open loop only): the classification above. */
static cJSON *send_delays_json(struct runner *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (r->pool_slots) cJSON_AddNumberToObject(o, "pool_slots", (double)r->pool_slots);
  else cJSON_AddNullToObject(o, "pool_slots");
  cJSON_AddNumberToObject(o, "late_pool_full", (double)r->late_pool);
  cJSON_AddNumberToObject(o, "held_pool_full", (double)r->held_pool);
  cJSON_AddNumberToObject(o, "late_runner", (double)r->late_runner);
  cJSON_AddNumberToObject(o, "held_runner", (double)r->held_runner);
  size_t n = r->lags->n;
  uint64_t *v = n ? malloc(n * sizeof *v) : NULL;
  if (v) {
    for (size_t i = 0; i < n; i++) v[i] = r->lags->v[i];
    rb_sort_u64(v, n);
    cJSON_AddNumberToObject(o, "runner_lag_p99_ms",
                            (double)rb_percentile_sorted(v, n, 99) / 1000.0);
  } else {
    cJSON_AddNullToObject(o, "runner_lag_p99_ms");
  }
  free(v);
  return o;
}

static void live_add(struct runner *r, struct job_inv *inv) {
  inv->live_prev = NULL;
  inv->live_next = r->live;
  if (r->live) r->live->live_prev = inv;
  r->live = inv;
}

static void live_remove(struct runner *r, struct job_inv *inv) {
  if (inv->live_prev) inv->live_prev->live_next = inv->live_next;
  else r->live = inv->live_next;
  if (inv->live_next) inv->live_next->live_prev = inv->live_prev;
}

static int64_t rel_us(const struct runner *r, uint64_t t) {
  return (int64_t)(t / 1000) - (int64_t)(r->start_ns / 1000);
}

static void on_done(void *arg, struct job_inv *inv) {
  struct runner *r = arg;
  live_remove(r, inv);
  job_sched_done(&r->sched);
  inv->rec.intended_us = rel_us(r, inv->due_ns);
  inv->rec.sent_us = rel_us(r, inv->sent_ns);
  inv->rec.end_us = rel_us(r, inv->end_ns);
  if (inv->end_ns > r->last_end_ns) r->last_end_ns = inv->end_ns;
  enum rb_err rc = job_results_add(r->results, &inv->rec);
  if (rc != RB_OK) r->io_error = rc;
  job_record_deinit(&inv->rec);
  job_inv_free_body(inv);
  free(inv);
}

static void send_one(struct runner *r, uint64_t k, uint64_t due, uint64_t now) {
  struct job_inv *inv = calloc(1, sizeof *inv);
  bool pool = send_in_full_pool(r);
  uint64_t late_before = r->sched.late;
  job_sched_sent(&r->sched, now);
  if (r->sched.late > late_before) {
    if (pool) r->late_pool++;
    else r->late_runner++;
  }
  r->held_by_pool = false;
  if (!r->closed && !pool && k >= r->warmup_count) add_runner_lag(r, now > due ? now - due : 0);
  if (!r->first_sent_ns) r->first_sent_ns = now, r->first_k = k;
  r->last_sent_ns = now, r->last_k = k;
  if (!r->closed && k >= r->warmup_count) { /* sends go out in k order: times non-decreasing */
    job_gaps_add(&r->due_gaps, due);
    job_gaps_add(&r->sent_gaps, now);
  }
  if (!inv) {
    r->io_error = RB_ERR_NOMEM;
    job_sched_done(&r->sched);
    return;
  }
  job_record_init(&inv->rec, k);
  inv->rec.warmup = r->closed ? now < r->warmup_until_ns : k < r->warmup_count;
  if (r->closed && inv->rec.warmup) r->warmup_sent++;
  inv->due_ns = due;
  inv->sent_ns = now;
  live_add(r, inv);
  if (r->target->send(r->target, inv) != RB_OK) {
    job_record_set_error(&inv->rec, JOB_ERR_TRANSPORT, "cannot start the request");
    inv->end_ns = rb_clock_mono_ns();
    on_done(r, inv);
  }
}

static void progress(struct runner *r, uint64_t now, bool final) {
  if (r->rq->progress == JOB_PROGRESS_OFF || (!final && now < r->next_progress_ns)) return;
  r->next_progress_ns = now + r->progress_every_ns;
  struct job_progress p = {
      .planned = r->sched.total == UINT64_MAX ? 0 : job_shard_share(r->rq->shard, r->sched.total),
      .sent = r->sched.sent,
      .done = job_results_done(r->results),
      .errors = job_results_failed(r->results),
      .elapsed_s = now > r->start_ns ? (double)(now - r->start_ns) / 1e9 : 0,
      .rate = r->closed ? 0 : r->process_rate};
  char line[300];
  job_progress_format(&p, r->rq->params->name, line, sizeof line);
  if (r->tty) fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
  else fprintf(stderr, "%s\n", line);
}

/* Sends everything that is due; returns the monotonic time to wake up at. */
static uint64_t pump(struct runner *r) {
  for (;;) {
    uint64_t now = rb_clock_mono_ns(), k = 0, due = 0, wait = 0, held = r->sched.held;
    enum job_sched_action a = job_sched_next(&r->sched, now, &k, &due, &wait);
    if (r->sched.held > held) classify_hold(r);
    if (a == JOB_SCHED_SEND) {
      send_one(r, k, due, now);
      continue;
    }
    uint64_t until = a == JOB_SCHED_WAIT ? now + wait : now + 100000000u;
    if (r->rq->progress != JOB_PROGRESS_OFF && r->next_progress_ns < until)
      until = r->next_progress_ns;
    return until;
  }
}

/* job_http's send hook: keeps the schedule while replies are handled. */
static uint64_t pump_hook(void *arg) { return pump(arg); }

static const char *signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
}

/* Finishes everything still in flight as "aborted": the target's queues, HTTP transfers,
 * then invocations waiting on a timer (202 polling, /init retries). */
static void abort_in_flight(struct runner *r) {
  if (r->target->abort) r->target->abort(r->target);
  job_http_abort_all(r->http);
  while (r->live) {
    struct job_inv *inv = r->live;
    job_http_cancel_timers(r->http, inv);
    job_record_set_error(&inv->rec, JOB_ERR_ABORTED, "stopped while waiting to retry or poll");
    inv->end_ns = rb_clock_mono_ns();
    on_done(r, inv);
  }
}

/* Main loop; returns the signal that stopped it (0 when the schedule finished). */
static int loop(struct runner *r) {
  int stopped_by = 0;
  uint64_t drain_deadline = 0;
  for (;;) {
    if (*r->rq->stop && !stopped_by) {
      stopped_by = (int)*r->rq->stop;
      job_sched_stop(&r->sched);
      if (r->target->stop) r->target->stop(r->target);
      drain_deadline = rb_clock_mono_ns() + (uint64_t)(r->rq->target->drain_timeout * 1e9);
      rb_info("%s: stopping the schedule; waiting up to %.0f s for %u invocations in flight",
              signal_name(stopped_by), r->rq->target->drain_timeout, r->sched.in_flight);
      *r->rq->stop = 0;
    } else if (*r->rq->stop && stopped_by) {
      drain_deadline = 0; /* a second signal: stop waiting */
    }
    uint64_t until = pump(r);
    if (until > rb_clock_mono_ns() + IDLE_SLACK_NS) job_results_idle(r->results);
    if (job_sched_finished(&r->sched) && r->sched.in_flight == 0) break;
    if (stopped_by && rb_clock_mono_ns() >= drain_deadline) {
      abort_in_flight(r);
      break;
    }
    if (stopped_by && drain_deadline < until) until = drain_deadline;
    job_http_wait(r->http, until);
    progress(r, rb_clock_mono_ns(), false);
  }
  return stopped_by;
}

/* Open loop: the sent invocations of this shard due in the warm-up (k < warmup_count). */
static uint64_t warmup_sent(const struct runner *r) {
  uint64_t w = job_shard_share(r->rq->shard, r->warmup_count);
  return w < r->sched.sent ? w : r->sched.sent;
}

static void fill_info(struct runner *r, struct job_run_info *in, int stopped_by) {
  const struct job_run_request *rq = r->rq;
  uint64_t end = r->last_end_ns > r->last_sent_ns ? r->last_end_ns : rb_clock_mono_ns();
  struct job_http_stats hs;
  job_http_get_stats(r->http, &hs);
  *in = (struct job_run_info){
      .scenario = rq->scenario->name,
      .run_id = rq->run_id,
      .description = rq->scenario->description,
      .params = rq->params,
      .target = rq->target,
      .action = r->target->action_label,
      .repetition = rq->repetition,
      .repetitions = rq->scenario->repetitions,
      .start_epoch_us = r->start_wall_us,
      .elapsed_us = end > r->start_ns ? (end - r->start_ns) / 1000 : 0,
      /* a closed loop for a duration planned what it sent */
      .planned =
          r->sched.total == UINT64_MAX ? r->sched.sent : job_shard_share(rq->shard, r->sched.total),
      .sent = r->sched.sent,
      .late = r->sched.late,
      .held = r->sched.held,
      .unsent = job_sched_unsent(&r->sched),
      .warmup = r->closed ? r->warmup_sent : warmup_sent(r),
      .closed = r->closed,
      .late_threshold_us = LATE_THRESHOLD_NS / 1000,
      .first_sent_s = r->first_sent_ns ? (double)(r->first_sent_ns - r->start_ns) / 1e9 : 0,
      .last_sent_s = r->last_sent_ns ? (double)(r->last_sent_ns - r->start_ns) / 1e9 : 0,
      .connections_ahead =
          rq->target->kind == JOB_TARGET_OPENWHISK ? job_params_connections(rq->params) : 0,
      .connections_limit = r->in_flight_limit,
      .connections_before = r->sockets_at_start,
      .connections_during = hs.sockets - r->sockets_at_start,
      .sweep = rq->sweep,
      .last_end_s = r->last_end_ns > r->start_ns ? (double)(r->last_end_ns - r->start_ns) / 1e9 : 0,
      .shard = rq->shard && rq->shard->count ? rq->shard : NULL,
      .backend_before_ms = (double)(r->backend_before_us - r->start_wall_us) / 1e3,
      .backend_after_ms = (double)(r->backend_after_us - r->start_wall_us) / 1e3,
      .arrival = r->closed ? NULL : r->arrival,
      .intended_gaps = r->due_gaps,
      .realised_gaps = r->sent_gaps,
      .intended_rate_sent = r->closed || r->sched.sent < 2
                                ? 0
                                : job_arrival_rate_between(r->arrival, r->first_k, r->last_k),
      .complete = stopped_by == 0,
      .interrupted_by = stopped_by ? signal_name(stopped_by) : NULL};
}

/* Key reuse over the run's measured invocations (job_reuse.h), the whole run's (every shard
 * computes the same): after the warm-up, up to what was planned (or, stopped early or for a
 * duration in the closed loop, what was sent). */
static bool key_reuse(const struct runner *r, const struct job_run_info *in,
                      struct job_key_reuse *out) {
  struct rb_workload w;
  char why[300];
  if (job_params_workload(r->rq->params, &w, why, sizeof why) != RB_OK) return false;
  uint64_t first = r->closed ? r->warmup_sent : r->warmup_count;
  uint64_t end = in->complete && r->sched.total != UINT64_MAX ? r->sched.total : 0;
  if (!end) { /* this shard's sends, as global indices */
    uint64_t shards = in->shard ? (uint64_t)in->shard->count : 1;
    end = r->closed ? r->sched.sent : r->sched.sent * shards;
  }
  if (end <= first) return false;
  return job_key_reuse_compute(&w, first, end - first, out) == RB_OK;
}

static enum job_exit create_target(struct runner *r, char *err, size_t errlen) {
  const struct job_run_request *rq = r->rq;
  enum job_preflight pf = JOB_PREFLIGHT_OK;
  if (job_params_validate_target(rq->params, rq->target->kind == JOB_TARGET_OPENWHISK, err,
                                 errlen) != RB_OK)
    return JOB_EXIT_CONFIG;
  if (rq->target->kind == JOB_TARGET_OPENWHISK)
    r->target = job_ow_create(r->http, rq->target, r->cfg, rq->params, &pf, err, errlen);
  else
    r->target = job_local_create(r->http, rq->target, r->cfg, rq->params, rq->self_exe, rq->stop,
                                 &pf, err, errlen);
  if (r->target) {
    r->target->on_done = on_done;
    r->target->runner = r;
    return JOB_EXIT_OK;
  }
  return pf == JOB_PREFLIGHT_UNREACHABLE   ? JOB_EXIT_UNREACHABLE
         : pf == JOB_PREFLIGHT_INTERRUPTED ? JOB_EXIT_INTERRUPTED
                                           : JOB_EXIT_CONFIG;
}

/* The after samples and the sections, from the actions' own operation counts. */
static cJSON *server_side(struct runner *r, struct job_backend_sampler *bs) {
  double ops = 0, conns = 0;
  uint64_t ops_unknown = 0, conns_unknown = 0;
  job_results_action_totals(r->results, &ops, &ops_unknown, &conns, &conns_unknown);
  struct job_backend_window w = {.ops = job_results_done(r->results) > ops_unknown ? ops : -1,
                                 .ops_missing = ops_unknown,
                                 .operation = r->rq->params->operation,
                                 .batching = r->rq->params->batching,
                                 .action_connections = conns_unknown ? -1 : conns};
  cJSON *side = job_backend_end(bs, &w);
  struct job_target_cpu b;
  if (side && r->action_cpu_ok && r->target->cpu(r->target, &b))
    cJSON_AddItemToObject(side, JOB_K_ACTION_CPU,
                          job_backend_action_cpu_json(
                              b.cpu_s - r->action_cpu_a.cpu_s,
                              (double)(r->action_cpu_a.live + b.started - r->action_cpu_a.started),
                              w.ops));
  job_started_end(r->started, side, w.ops);
  return side;
}

static enum job_exit publish(struct runner *r, struct job_run_info *in, char *err, size_t errlen) {
  if (job_results_write(r->results, in, err, errlen) != RB_OK) return JOB_EXIT_FAILURE;
  if (r->rq->configmap &&
      job_k8s_publish_file(r->rq->configmap, r->rq->out_path, err, errlen) != RB_OK)
    return JOB_EXIT_FAILURE;
  return JOB_EXIT_OK;
}

/* Fixes the start: invocation 0 is due START_DELAY after setup, or at the agreed --start-at
 * instant (refused when that is more than JOB_START_LATE_TOLERANCE_US in the past). */
static bool start_instant(struct runner *r, char *err, size_t errlen) {
  uint64_t mono = rb_clock_mono_ns();
  int64_t wall = rb_clock_wall_us();
  if (!r->rq->start_at_us) {
    r->start_ns = mono + START_DELAY_NS;
    r->start_wall_us = wall + START_DELAY_NS / 1000;
    return true;
  }
  int64_t ahead_us = r->rq->start_at_us - wall;
  if (ahead_us < -JOB_START_LATE_TOLERANCE_US) {
    rb_errorf(
        RB_ERR_RANGE, err, errlen,
        "run %s: the start instant (--start-at) was %.3f s ago, more than the %.0f s allowed: "
        "its invocations would go out late in a burst; give a later --start-at",
        r->rq->params->name, (double)-ahead_us / 1e6, JOB_START_LATE_TOLERANCE_US / 1e6);
    return false;
  }
  if (ahead_us > 86400LL * 1000000) { /* likely a unit mistake (milliseconds for seconds) */
    rb_errorf(
        RB_ERR_RANGE, err, errlen,
        "run %s: the start instant (--start-at) is %.0f s away, more than a day: is it in seconds?",
        r->rq->params->name, (double)ahead_us / 1e6);
    return false;
  }
  if (ahead_us < 0 && (uint64_t)(-ahead_us) * 1000 > mono) ahead_us = -(int64_t)(mono / 1000);
  r->start_ns =
      ahead_us >= 0 ? mono + (uint64_t)ahead_us * 1000 : mono - (uint64_t)(-ahead_us) * 1000;
  r->start_wall_us = r->rq->start_at_us;
  if (ahead_us > 1000000)
    rb_info("run %s: waiting %.1f s for the start instant", r->rq->params->name,
            (double)ahead_us / 1e6);
  return true;
}

/* The open loop's intended times and warm-up (invocations due before `warmup` seconds). */
static enum job_exit build_arrival(struct runner *r, uint64_t *planned, char *err, size_t errlen) {
  const struct job_params *p = r->rq->params;
  if (job_arrival_build(p, NULL, r->arrival, err, errlen) != RB_OK) return JOB_EXIT_CONFIG;
  *planned = r->arrival->count;
  r->process_rate = r->arrival->offsets && r->arrival->count > 1
                        ? job_arrival_rate_between(r->arrival, 0, r->arrival->count - 1)
                        : p->rate;
  r->warmup_count = r->arrival->offsets ? job_arrival_due_before(r->arrival, p->warmup)
                                        : (uint64_t)job_params_warmup_count(p);
  if (r->arrival->offsets && r->warmup_count >= r->arrival->count) {
    rb_errorf(RB_ERR_RANGE, err, errlen,
              "run %s: warmup (%g s) covers all %llu invocations of arrival %s: nothing would be "
              "measured",
              p->name, p->warmup, (unsigned long long)r->arrival->count, p->arrival);
    return JOB_EXIT_CONFIG;
  }
  return JOB_EXIT_OK;
}

/* backend start (job_started.h): the run's own Redis and layer, cfg_run pointing at them. */
static enum job_exit start_backend(struct runner *r, struct job_config *cfg_run, char *err,
                                   size_t errlen) {
  const struct job_run_request *rq = r->rq;
  if (strcmp(rq->params->backend, "start") != 0) return JOB_EXIT_OK;
  *cfg_run = *rq->config;
  enum job_exit ex = job_started_start(rq->params, rq->target, rq->shard, cfg_run, rq->self_exe,
                                       rq->stop, &r->started, err, errlen);
  if (ex == JOB_EXIT_OK && r->started) r->cfg = cfg_run;
  return ex;
}

static enum job_exit execute(const struct job_run_request *rq, struct job_arrival *arrival,
                             struct job_config *cfg_run, struct lag_buf *lags, char *err,
                             size_t errlen) {
  struct runner r = {.rq = rq, .arrival = arrival, .cfg = rq->config, .lags = lags};
  const struct job_config *env = rq->config; /* its secrets are redacted from the results */
  const char *secrets[] = {env->auth, env->redis_password, env->agent_password, NULL};
  uint64_t planned = (uint64_t)job_params_planned(rq->params);
  r.closed = rq->params->concurrency > 0;
  if (rq->target->kind == JOB_TARGET_LOCAL && rq->target->pool_size > 0)
    r.pool_slots =
        (uint64_t)rq->target->pool_size *
        (uint64_t)(rq->params->action_concurrency > 0 ? rq->params->action_concurrency : 1);
  if (!r.closed) {
    enum job_exit aex = build_arrival(&r, &planned, err, errlen);
    if (aex != JOB_EXIT_OK) return aex;
  }
  r.in_flight_limit = r.closed ? rq->params->concurrency : rq->params->max_in_flight;
  r.http = job_http_create(r.in_flight_limit * 2 + 16);
  if (!r.http) {
    rb_errorf(RB_ERR_NOMEM, err, errlen, "cannot start libcurl");
    return JOB_EXIT_FAILURE;
  }
  if (rq->target->kind == JOB_TARGET_OPENWHISK) {
    /* HTTP/1.1: one invocation per connection. Held by the schedule (and so counted and
     * timed) rather than queued unseen inside curl; curl's own limit is only a backstop. */
    r.in_flight_limit = job_params_connection_limit(rq->params);
    if (rq->params->connections > 0 || r.closed)
      job_http_limit_connections(r.http, r.in_flight_limit);
  }
  /* The output first: a path that cannot be written (or is being written by another rbench)
   * is refused before anything runs. */
  enum rb_err orc =
      job_results_create(&r.results, rq->out_path, rq->inputs, planned, secrets, err, errlen);
  if (orc != RB_OK) {
    job_http_destroy(r.http);
    return orc == RB_ERR_INVALID ? JOB_EXIT_CONFIG : JOB_EXIT_FAILURE;
  }
  if (rq->configmap && job_results_writes_through(r.results)) { /* published by reading it back */
    rb_errorf(RB_ERR_INVALID, err, errlen,
              "--results-configmap needs a file output: %s is a character "
              "device or FIFO",
              rq->out_path);
    job_results_destroy(r.results);
    job_http_destroy(r.http);
    return JOB_EXIT_CONFIG;
  }
  enum job_exit ex = start_backend(&r, cfg_run, err, errlen);
  if (ex == JOB_EXIT_OK) ex = create_target(&r, err, errlen);
  if (ex != JOB_EXIT_OK) {
    job_started_stop(r.started);
    job_results_destroy(r.results);
    job_http_destroy(r.http);
    return ex;
  }
  const struct job_config *c = r.cfg;
  /* The prepare step: before the samples and the schedule, never timed. */
  ex = job_prepare_run(r.target, r.http, rq->params, secrets, rq->stop, err, errlen);
  if (ex != JOB_EXIT_OK) {
    job_results_destroy(r.results);
    r.target->destroy(r.target);
    job_started_stop(r.started);
    job_http_destroy(r.http);
    return ex;
  }
  struct job_http_stats hs;
  job_http_get_stats(r.http, &hs);
  r.sockets_at_start = hs.sockets;
  /* Before the start instant is fixed, so the samples' time does not count against the
   * schedule. */
  struct job_backend_sampler bs;
  struct job_machine_sample cpu_before, cpu_after;
  job_machine_sample(&cpu_before);
  r.backend_before_us = rb_clock_wall_us();
  const char *metrics = job_started_metrics_url(r.started);
  if (!metrics)
    metrics = rq->target->agent_metrics[0] ? rq->target->agent_metrics : c->agent_metrics_url;
  job_backend_begin(&bs, c, metrics, rq->params->batching,
                    rq->target->kind == JOB_TARGET_OPENWHISK && !c->redis_host_given &&
                        !c->redis_port_given);
  job_started_begin(r.started);
  r.action_cpu_ok = r.target->cpu && r.target->cpu(r.target, &r.action_cpu_a);
  r.tty = rq->progress == JOB_PROGRESS_TTY || (rq->progress == JOB_PROGRESS_AUTO && isatty(2));
  r.progress_every_ns = r.tty ? 250000000u : 5000000000u;
  if (!start_instant(&r, err, errlen)) {
    job_results_destroy(r.results);
    r.target->destroy(r.target);
    job_started_stop(r.started);
    job_http_destroy(r.http);
    return JOB_EXIT_CONFIG;
  }
  r.next_progress_ns = r.start_ns + r.progress_every_ns;
  if (r.closed) {
    const struct job_params *p = rq->params;
    r.warmup_until_ns = r.start_ns + (uint64_t)(p->warmup * 1e9);
    job_sched_init_closed(&r.sched, r.start_ns, planned ? planned : UINT64_MAX,
                          (uint32_t)r.in_flight_limit,
                          p->duration > 0 ? r.start_ns + (uint64_t)(p->duration * 1e9) : 0);
  } else {
    job_sched_init(&r.sched, r.start_ns, rq->params->rate, planned, (uint32_t)r.in_flight_limit,
                   LATE_THRESHOLD_NS);
    job_sched_set_offsets(&r.sched, r.arrival->offsets); /* NULL: the constant k/rate */
    if (rq->shard && rq->shard->count > 1)
      job_sched_shard(&r.sched, rq->shard->index, rq->shard->count);
  }
  job_http_set_pump(r.http, pump_hook, &r);
  int stopped_by = loop(&r);
  progress(&r, rb_clock_mono_ns(), true);
  r.backend_after_us = rb_clock_wall_us();
  job_machine_sample(&cpu_after);
  cJSON *side = server_side(&r, &bs);
  if (!side) side = cJSON_CreateObject();
  cJSON *machine = job_machine_json(&cpu_before, &cpu_after);
  if (side && machine) cJSON_AddItemToObject(side, "machine_cpu", machine);
  else cJSON_Delete(machine);
  if (side && !r.closed) {
    cJSON *sd = send_delays_json(&r);
    if (sd) cJSON_AddItemToObject(side, "send_delays", sd);
  }
  if (r.target->fields) r.target->fields(r.target);
  for (const cJSON *f = r.target->doc_fields ? r.target->doc_fields->child : NULL; side && f;
       f = f->next) /* the target's own fields (job_target.h), beside the server side's */
    cJSON_AddItemToObject(side, f->string, cJSON_Duplicate(f, true));
  struct job_run_info in;
  fill_info(&r, &in, stopped_by);
  in.server_side = side;
  struct job_key_reuse reuse;
  if (key_reuse(&r, &in, &reuse)) in.key_reuse = &reuse;
  ex = publish(&r, &in, err, errlen);
  cJSON_Delete(side); /* before destroy: in.action points into the target */
  r.target->destroy(r.target);
  job_started_stop(r.started);
  if (ex == JOB_EXIT_OK && r.io_error != RB_OK) {
    rb_errorf(0, err, errlen, "writing raw results failed (%s)", rb_err_desc(r.io_error));
    ex = JOB_EXIT_FAILURE;
  }
  job_results_destroy(r.results);
  job_http_destroy(r.http);
  if (ex == JOB_EXIT_OK && stopped_by) ex = JOB_EXIT_INTERRUPTED;
  return ex;
}

enum job_exit job_run_execute(const struct job_run_request *rq, char *err, size_t errlen) {
  struct job_arrival arrival = {0};
  struct job_config *cfg_run = calloc(1, sizeof *cfg_run); /* backend start's endpoints */
  if (!cfg_run) {
    rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
    return JOB_EXIT_FAILURE;
  }
  struct lag_buf lags = {0};
  enum job_exit ex = execute(rq, &arrival, cfg_run, &lags, err, errlen);
  explicit_bzero(cfg_run, sizeof *cfg_run); /* it holds the env's secrets */
  free(cfg_run);
  free(lags.v);
  job_arrival_free(&arrival);
  return ex;
}
