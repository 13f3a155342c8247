/* job_sweep.c: capacity sweeps: SLO verdicts, max sustainable rate, the sweep summary and
 * the comparison of two sweeps (see job_sweep.h). */
#define _GNU_SOURCE
#include "job_sweep.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "job_config.h"
#include "job_exit.h"
#include "job_output.h"
#include "job_results.h"
#include "rb_stats.h"
#include "rb_version.h"

static double or_zero(double v) { return isfinite(v) ? v : 0; }

/* Appends to a note buffer, "; "-separated. */
static void note_add(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note_add(char *buf, size_t len, const char *fmt, ...) {
  size_t n = strlen(buf);
  if (n && n + 2 < len) buf[n++] = ';', buf[n++] = ' ', buf[n] = '\0';
  va_list ap;
  va_start(ap, fmt);
  if (n < len) vsnprintf(buf + n, len - n, fmt, ap);
  va_end(ap);
}

/* Execution times (µs) of one document's measured successes, appended to *v. */
static enum rb_err pool_raw(const struct job_doc *d, uint64_t **v, size_t *n, size_t *cap) {
  if (!d->has_raw) return RB_ERR_PARSE;
  for (size_t i = 0; i < d->nraw; i++) {
    const struct job_doc_record *r = &d->raw[i];
    if (r->warmup || !r->success) continue;
    double ms = r->execution_ms;
    if (!isfinite(ms) || ms < 0) continue;
    if (*n == *cap) {
      size_t c = *cap ? *cap * 2 : 1024;
      uint64_t *nv = realloc(*v, c * sizeof *nv);
      if (!nv) return RB_ERR_NOMEM;
      *v = nv, *cap = c;
    }
    (*v)[(*n)++] = (uint64_t)(ms * 1000.0 + 0.5);
  }
  return RB_OK;
}

/* Mean of a per-document figure (at offset in struct job_doc); NAN when any document lacks it. */
static double mean_of(const struct job_doc *docs, size_t n, size_t offset) {
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    double x = *(const double *)(const void *)((const char *)&docs[i] + offset);
    if (!isfinite(x)) return (double)NAN;
    sum += x;
  }
  return n ? sum / (double)n : (double)NAN;
}

static double jnum(const cJSON *o, const char *key) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(x) && isfinite(x->valuedouble) ? x->valuedouble : (double)NAN;
}

/* The runner's classification of its late and held sends (send_delays, job_runner.c). */
static void evidence_send_delays(const struct job_doc *d, struct job_sweep_step *out) {
  const cJSON *sd = cJSON_GetObjectItemCaseSensitive(d->json, "send_delays");
  if (!cJSON_IsObject(sd)) return;
  out->has_send_delays = true;
  out->late_pool += (uint64_t)or_zero(jnum(sd, "late_pool_full"));
  out->held_pool += (uint64_t)or_zero(jnum(sd, "held_pool_full"));
  out->late_runner += (uint64_t)or_zero(jnum(sd, "late_runner"));
  out->held_runner += (uint64_t)or_zero(jnum(sd, "held_runner"));
  double lag = or_zero(jnum(sd, "runner_lag_p99_ms"));
  if (lag > out->runner_lag_p99_ms) out->runner_lag_p99_ms = lag;
}

/* machine_cpu (job_runner.c, /proc/stat over the measured window): summed here, divided by
 * the documents that had it at the end. */
static void evidence_machine(const struct job_doc *d, size_t *with, struct job_sweep_step *out) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(d->json, "machine_cpu");
  double busy = jnum(m, "busy_fraction"), low = jnum(m, "min_core_busy_fraction");
  if (!isfinite(busy) || !isfinite(low)) return;
  out->has_machine = true;
  out->machine_busy += busy;
  out->machine_min_core_busy += low;
  (*with)++;
}

/* Redis: the started redis-server's cgroup and CPU (the `started` section), else INFO's CPU
 * over the backend samples' window; its quota from started or params.redis_cpu. */
static void evidence_redis(const struct job_doc *d, struct job_sweep_step *out) {
  const cJSON *procs = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(d->json, "started"), "processes");
  const cJSON *p, *redis = NULL;
  cJSON_ArrayForEach(p, procs) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(p, "role");
    if (cJSON_IsString(role) && !strcmp(role->valuestring, "redis")) redis = p;
  }
  double quota = jnum(redis, "cpu_quota");
  if (!(quota > 0)) quota = jnum(cJSON_GetObjectItemCaseSensitive(d->json, "params"), "redis_cpu");
  if (quota > 0) out->redis_quota = quota;
  double ts = jnum(redis, "throttled_s"), tp = jnum(redis, "throttled_periods");
  if (isfinite(ts)) {
    out->has_redis_throttle = true;
    out->redis_throttled_s += ts;
    out->redis_throttled_periods += or_zero(tp);
  }
  const cJSON *tl = cJSON_GetObjectItemCaseSensitive(d->json, "timeline");
  double window = (jnum(tl, "backend_after_ms") - jnum(tl, "backend_before_ms")) / 1e3;
  double cpu = jnum(redis, "cpu_s");
  if (!isfinite(cpu)) cpu = d->redis.cpu_total_s.v;
  if (isfinite(cpu) && isfinite(window) && window > 0) {
    out->has_redis_cpu = true;
    out->redis_cpu_s += cpu;
    out->redis_window_s += window;
  }
}

/* Waits of measured invocations (wait_ms: for a free worker, or OpenWhisk's waitTime). */
static enum rb_err pool_waits(const struct job_doc *d, uint64_t **v, size_t *n, size_t *cap,
                              uint64_t *waited) {
  for (size_t i = 0; d->has_raw && i < d->nraw; i++) {
    const struct job_doc_record *r = &d->raw[i];
    if (r->warmup || !isfinite(r->wait_ms) || r->wait_ms < 0) continue;
    if (r->wait_ms > JOB_SWEEP_WAIT_MS) (*waited)++;
    if (*n == *cap) {
      size_t c = *cap ? *cap * 2 : 1024;
      uint64_t *nv = realloc(*v, c * sizeof *nv);
      if (!nv) return RB_ERR_NOMEM;
      *v = nv, *cap = c;
    }
    (*v)[(*n)++] = (uint64_t)(r->wait_ms * 1000.0 + 0.5);
  }
  return RB_OK;
}

enum rb_err job_sweep_step_from_job_docs(double rate, const struct job_doc *docs, size_t n,
                                         struct job_sweep_step *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->rate = rate;
  out->documents = n;
  out->complete = true;
  out->rounds = 1;
  uint64_t *v = NULL, *w = NULL;
  size_t count = 0, cap = 0, wcount = 0, wcap = 0, machines = 0;
  for (size_t i = 0; i < n; i++) {
    const struct job_doc *d = &docs[i];
    enum rb_err rc = pool_raw(d, &v, &count, &cap);
    if (rc != RB_OK) {
      free(v);
      free(w);
      return rb_errorf(rc, err, errlen,
                       rc == RB_ERR_NOMEM ? "out of memory pooling the step at %g/s"
                                          : "a document of the step at %g/s has no raw_results",
                       rate);
    }
    /* aborted invocations (stopped by a signal) count in neither rate */
    if (pool_waits(d, &w, &wcount, &wcap, &out->waited) != RB_OK) {
      free(v);
      free(w);
      return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory pooling the step at %g/s", rate);
    }
    evidence_send_delays(d, out);
    evidence_machine(d, &machines, out);
    evidence_redis(d, out);
    out->measured += (uint64_t)(or_zero(d->measured) - or_zero(d->aborted));
    out->failed += (uint64_t)or_zero(d->failed);
    out->sent += (uint64_t)or_zero(d->sent);
    out->late += (uint64_t)or_zero(d->late_starts);
    out->held += (uint64_t)or_zero(d->held_by_max_in_flight);
    double lag = or_zero(d->schedule_lag.p99);
    if (lag > out->lag_p99_ms) out->lag_p99_ms = lag;
    if (!d->complete) out->complete = false;
  }
  out->achieved_rate = or_zero(mean_of(docs, n, offsetof(struct job_doc, achieved_rate)));
  out->throughput = or_zero(mean_of(docs, n, offsetof(struct job_doc, throughput)));
  out->redis_cpu_us_per_op = mean_of(docs, n, offsetof(struct job_doc, redis.cpu_us_per_op.v));
  out->backend_cpu_us_per_op = mean_of(docs, n, offsetof(struct job_doc, backend_cpu_us_per_op.v));
  out->error_rate = out->measured ? (double)out->failed / (double)out->measured : 1.0;
  out->p50_ms = out->p99_ms = -1;
  if (count) {
    rb_sort_u64(v, count);
    out->p50_ms = (double)rb_percentile_sorted(v, count, 50) / 1000.0;
    out->p99_ms = (double)rb_percentile_sorted(v, count, 99) / 1000.0;
  }
  if (machines)
    out->machine_busy /= (double)machines, out->machine_min_core_busy /= (double)machines;
  out->wait_p99_ms = -1;
  if (wcount) {
    rb_sort_u64(w, wcount);
    out->wait_p99_ms = (double)rb_percentile_sorted(w, wcount, 99) / 1000.0;
  }
  if (!out->has_send_delays) { /* older documents: every late or held send was the runner's */
    out->late_runner = out->late, out->held_runner = out->held;
    out->runner_lag_p99_ms = out->lag_p99_ms;
  }
  free(v);
  free(w);
  return RB_OK;
}

enum rb_err job_sweep_step_from_docs(double rate, cJSON *const *docs, size_t n,
                                     struct job_sweep_step *out, char *err, size_t errlen) {
  struct job_doc *d = calloc(n ? n : 1, sizeof *d);
  if (!d) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  size_t got = 0;
  enum rb_err rc = RB_OK;
  for (; got < n && rc == RB_OK; got++) rc = job_doc_read(docs[got], NULL, &d[got], err, errlen);
  if (rc == RB_OK) rc = job_sweep_step_from_job_docs(rate, d, n, out, err, errlen);
  for (size_t i = 0; i < got; i++) job_doc_free(&d[i]);
  free(d);
  return rc;
}

/* The runner's own lateness: sends late or held with a local worker free (send_delays), or,
 * without that classification (older documents, openwhisk), every late or held send. */
static void judge_runner(const struct job_sweep_step *st, struct job_sweep_verdict *v) {
  double sent = st->sent ? (double)st->sent : 1;
  uint64_t late = st->has_send_delays ? st->late_runner : st->late;
  uint64_t held = st->has_send_delays ? st->held_runner : st->held;
  double lag = st->has_send_delays ? st->runner_lag_p99_ms : st->lag_p99_ms;
  if (lag > JOB_SWEEP_RUNNER_LAG_P99_MS)
    note_add(v->runner_note, sizeof v->runner_note, "schedule lag p99 %.3g ms > %g ms", lag,
             JOB_SWEEP_RUNNER_LAG_P99_MS);
  if ((double)late / sent > JOB_SWEEP_RUNNER_LATE_FRACTION)
    note_add(v->runner_note, sizeof v->runner_note, "%llu of %llu sends late%s",
             (unsigned long long)late, (unsigned long long)st->sent,
             st->has_send_delays ? " with a local worker free" : "");
  if ((double)held / sent > JOB_SWEEP_RUNNER_HELD_FRACTION)
    note_add(v->runner_note, sizeof v->runner_note,
             "%llu of %llu sends held by max_in_flight (raise it to offer the full rate)",
             (unsigned long long)held, (unsigned long long)st->sent);
  v->runner_limited = v->runner_note[0] != '\0';
  if (v->runner_limited)
    note_add(
        v->runner_note, sizeof v->runner_note,
        "the runner could not keep the schedule: the verdict describes the runner, not the system");
}

/* Marginal: met with some figure within its margin of the bound, or failed with every failed
 * bound within its margin (a clear failure of any bound is not marginal). */
static void judge_marginal(const struct job_slo *slo, const struct job_sweep_step *st,
                           struct job_sweep_verdict *v) {
  unsigned near = 0;
  if (slo->p99_ms > 0 && st->p99_ms >= 0 &&
      fabs(st->p99_ms - slo->p99_ms) <= JOB_SWEEP_MARGIN_P99 * slo->p99_ms) {
    near |= JOB_SLO_FAIL_P99;
    note_add(v->marginal_note, sizeof v->marginal_note, "p99 %.4g ms within %g%% of %g ms",
             st->p99_ms, JOB_SWEEP_MARGIN_P99 * 100, slo->p99_ms);
  }
  double allowed = slo->max_error_rate * (double)st->measured;
  double band = allowed * JOB_SWEEP_MARGIN_ERRORS;
  if (band < 1) band = 1;
  if (st->failed > 0 && st->measured > 0 && fabs((double)st->failed - allowed) <= band) {
    near |= JOB_SLO_FAIL_ERRORS;
    note_add(v->marginal_note, sizeof v->marginal_note,
             "%llu failed, within %.3g of the %.4g allowed", (unsigned long long)st->failed, band,
             allowed);
  }
  double ratio = st->rate > 0 ? st->achieved_rate / st->rate : 0;
  if (fabs(ratio - slo->min_achieved_ratio) <= JOB_SWEEP_MARGIN_ACHIEVED) {
    near |= JOB_SLO_FAIL_ACHIEVED;
    note_add(v->marginal_note, sizeof v->marginal_note, "achieved ratio %.4g within %g of %g",
             ratio, JOB_SWEEP_MARGIN_ACHIEVED, slo->min_achieved_ratio);
  }
  v->marginal = v->met ? near != 0 : (v->failed & ~near) == 0;
  if (!v->marginal) v->marginal_note[0] = '\0';
}

void job_sweep_attribute(const struct job_slo *slo, const struct job_sweep_step *st,
                         struct job_sweep_verdict *v) {
  v->causes = 0;
  v->limited_by[0] = v->attribution[0] = '\0';
  char ev[4][300] = {"", "", "", ""};
  /* Redis: throttled by its cgroup, or its CPU near its quota (one core when none) */
  if (st->has_redis_throttle && st->redis_window_s > 0 &&
      st->redis_throttled_s / st->redis_window_s >= JOB_SWEEP_REDIS_THROTTLED) {
    v->causes |= JOB_CAUSE_REDIS;
    note_add(ev[0], sizeof ev[0], "throttled %.3g s of %.3g s (%llu periods)",
             st->redis_throttled_s, st->redis_window_s,
             (unsigned long long)st->redis_throttled_periods);
  }
  double quota = st->redis_quota > 0 ? st->redis_quota : 1;
  if (st->has_redis_cpu && st->redis_window_s > 0) {
    double used = st->redis_cpu_s / st->redis_window_s;
    if (used >= JOB_SWEEP_REDIS_CPU_NEAR * quota) {
      v->causes |= JOB_CAUSE_REDIS;
      note_add(ev[0], sizeof ev[0], "CPU %.3g of %s%.3g core", used,
               st->redis_quota > 0 ? "a quota of " : "", quota);
    }
  }
  if (st->has_machine && st->machine_min_core_busy >= JOB_SWEEP_MACHINE_BUSY) {
    v->causes |= JOB_CAUSE_MACHINE;
    note_add(ev[1], sizeof ev[1], "every core >= %.0f%% busy (least busy %.0f%%, all %.0f%%)",
             JOB_SWEEP_MACHINE_BUSY * 100, st->machine_min_core_busy * 100, st->machine_busy * 100);
  }
  double sent = st->sent ? (double)st->sent : 1;
  double pool_sends = (double)(st->late_pool + st->held_pool) / sent;
  bool waits = st->waited > 0 && st->wait_p99_ms > JOB_SWEEP_WAIT_MS && st->p99_ms > 0 &&
               st->wait_p99_ms >= JOB_SWEEP_POOL_WAIT_SHARE * st->p99_ms;
  if (waits || pool_sends >= JOB_SWEEP_POOL_SEND_FRACTION) {
    v->causes |= JOB_CAUSE_POOL;
    note_add(ev[2], sizeof ev[2],
             "%llu of %llu measured waited > %g ms for a free worker (wait p99 %.4g ms of "
             "p99 %.4g ms); %llu late and %llu held sends while every worker was busy",
             (unsigned long long)st->waited, (unsigned long long)st->measured, JOB_SWEEP_WAIT_MS,
             st->wait_p99_ms, st->p99_ms, (unsigned long long)st->late_pool,
             (unsigned long long)st->held_pool);
  }
  if (v->runner_limited) {
    v->causes |= JOB_CAUSE_RUNNER;
    note_add(ev[3], sizeof ev[3],
             "late or held with capacity available: %llu late, %llu held, "
             "lag p99 %.3g ms",
             (unsigned long long)(st->has_send_delays ? st->late_runner : st->late),
             (unsigned long long)(st->has_send_delays ? st->held_runner : st->held),
             st->has_send_delays ? st->runner_lag_p99_ms : st->lag_p99_ms);
  }
  if (v->met) return;
  static const char *names[] = {"redis", "machine", "action_pool", "runner"};
  for (int i = 0; i < 4; i++) {
    if (!(v->causes & (1u << i))) continue;
    if (!v->limited_by[0]) snprintf(v->limited_by, sizeof v->limited_by, "%s", names[i]);
    note_add(v->attribution, sizeof v->attribution, "%s: %s", names[i], ev[i]);
  }
  if (!v->limited_by[0]) {
    snprintf(v->limited_by, sizeof v->limited_by, "slo");
    note_add(v->attribution, sizeof v->attribution,
             "nothing else explains it: Redis not throttled, the machine not saturated, no "
             "worker wait, the runner on time");
  }
  (void)slo;
}

void job_sweep_judge(const struct job_slo *slo, const struct job_sweep_step *st,
                     struct job_sweep_verdict *v) {
  memset(v, 0, sizeof *v);
  if (slo->p99_ms > 0 && st->p99_ms < 0) {
    v->failed |= JOB_SLO_FAIL_P99;
    note_add(v->why, sizeof v->why, "no successful invocation to take p99 from");
  } else if (slo->p99_ms > 0 && st->p99_ms > slo->p99_ms) {
    v->failed |= JOB_SLO_FAIL_P99;
    note_add(v->why, sizeof v->why, "p99 %.4g ms > %g ms", st->p99_ms, slo->p99_ms);
  }
  if (st->error_rate > slo->max_error_rate) {
    v->failed |= JOB_SLO_FAIL_ERRORS;
    note_add(v->why, sizeof v->why, "error rate %.4g > %g (%llu of %llu measured failed)",
             st->error_rate, slo->max_error_rate, (unsigned long long)st->failed,
             (unsigned long long)st->measured);
  }
  if (st->achieved_rate < slo->min_achieved_ratio * st->rate) {
    v->failed |= JOB_SLO_FAIL_ACHIEVED;
    note_add(v->why, sizeof v->why, "achieved %.4g/s < %g%% of %g/s", st->achieved_rate,
             slo->min_achieved_ratio * 100, st->rate);
  }
  v->met = v->failed == 0;
  judge_runner(st, v);
  judge_marginal(slo, st, v);
  job_sweep_attribute(slo, st, v);
}

bool job_sweep_next(const struct job_rate_sweep *sw, size_t k, const struct job_sweep_verdict *v,
                    double *next_rate) {
  if (sw->form == JOB_RATE_RAMP && sw->until_slo && !v->met) return false;
  return job_sweep_step_rate(sw, k + 1, next_rate);
}

void job_sweep_max_sustainable(const struct job_sweep_step *steps,
                               const struct job_sweep_verdict *verdicts, size_t n,
                               struct job_sweep_max *out) {
  memset(out, 0, sizeof *out);
  size_t lowfail = n, lowest = n, best = n;
  for (size_t i = 0; i < n; i++) {
    if (lowest == n || steps[i].rate < steps[lowest].rate) lowest = i;
    if (!verdicts[i].met && (lowfail == n || steps[i].rate < steps[lowfail].rate)) lowfail = i;
  }
  for (size_t i = 0; i < n; i++)
    if (verdicts[i].met && (lowfail == n || steps[i].rate < steps[lowfail].rate) &&
        (best == n || steps[i].rate > steps[best].rate))
      best = i;
  out->found = best < n;
  if (out->found) out->rate = steps[best].rate;
  if (lowfail < n) out->failed_at = steps[lowfail].rate;
  bool runner =
      lowfail < n && verdicts[lowfail].runner_limited &&
      (!verdicts[lowfail].limited_by[0] || !strcmp(verdicts[lowfail].limited_by, "runner"));
  if (!out->found && n > 0) {
    out->below = steps[lowest].rate;
    note_add(out->note, sizeof out->note, "no step met the SLO: the lowest rate, %g/s, failed (%s)",
             steps[lowest].rate, verdicts[lowest].why);
  } else if (out->found && lowfail == n)
    note_add(out->note, sizeof out->note,
             "every step met the SLO: the limit is at or above the highest rate tried");
  else if (out->found && runner)
    note_add(
        out->note, sizeof out->note,
        "the first failed step (%g/s) was limited by the runner: the system's limit may be higher",
        steps[lowfail].rate);
  out->at_least = out->found && (lowfail == n || runner);
  for (size_t j = 0; j < n && lowfail < n; j++)
    if (verdicts[j].met && steps[j].rate > steps[lowfail].rate)
      note_add(out->note, sizeof out->note,
               "%g/s met the SLO above the failed step at %g/s (a gap: not counted)", steps[j].rate,
               steps[lowfail].rate);
}

const char *job_sweep_kind_name(enum job_sweep_kind k) {
  return k == JOB_STEP_DOWN ? "down" : k == JOB_STEP_BISECT ? "bisect" : "planned";
}

void job_sweep_first(const struct job_rate_sweep *sw, struct job_sweep_decision *d) {
  memset(d, 0, sizeof *d);
  d->kind = JOB_STEP_PLANNED;
  d->move = job_sweep_step_rate(sw, 0, &d->rate) ? JOB_SWEEP_STEP : JOB_SWEEP_STOP;
  snprintf(d->why, sizeof d->why,
           d->move == JOB_SWEEP_STEP ? "the first planned step" : "no step to run");
}

static void decided(struct job_sweep_decision *d, enum job_sweep_move move, double rate,
                    enum job_sweep_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void decided(struct job_sweep_decision *d, enum job_sweep_move move, double rate,
                    enum job_sweep_kind kind, const char *fmt, ...) {
  d->move = move, d->rate = rate, d->kind = kind;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->why, sizeof d->why, fmt, ap);
  va_end(ap);
}

/* The search after the planned steps: down, bisect or stop. */
static void decide_search(const struct job_rate_sweep *sw, const struct job_sweep_step *steps,
                          const struct job_sweep_verdict *v, size_t n,
                          struct job_sweep_decision *d) {
  size_t searched = 0, lowfail = n, pass = n;
  for (size_t i = 0; i < n; i++) {
    if (steps[i].kind != JOB_STEP_PLANNED) searched++;
    if (!v[i].met && (lowfail == n || steps[i].rate < steps[lowfail].rate)) lowfail = i;
  }
  if (lowfail == n) {
    decided(d, JOB_SWEEP_STOP, 0, JOB_STEP_PLANNED,
            "every step met the SLO: the capacity is at or above the highest rate tried");
    return;
  }
  double hi = steps[lowfail].rate;
  for (size_t i = 0; i < n; i++)
    if (v[i].met && steps[i].rate < hi && (pass == n || steps[i].rate > steps[pass].rate)) pass = i;
  if (searched >= (size_t)sw->search.max_steps) {
    decided(d, JOB_SWEEP_STOP, 0, JOB_STEP_PLANNED,
            "the search's %lld steps (search.max_steps) are spent", sw->search.max_steps);
    return;
  }
  if (pass == n) { /* nothing passed below the lowest failure: go down */
    double floor = job_sweep_floor(sw);
    double factor = sw->form == JOB_RATE_RAMP ? sw->factor : 2;
    if (hi <= floor) {
      decided(d, JOB_SWEEP_STOP, 0, JOB_STEP_PLANNED,
              "every rate failed down to the floor: the capacity is below %g/s", floor);
      return;
    }
    double next = job_rate_round(hi / factor);
    if (next < floor) next = floor;
    decided(d, JOB_SWEEP_STEP, next, JOB_STEP_DOWN,
            "%g/s failed and no lower rate passed: down by %g", hi, factor);
    return;
  }
  double lo = steps[pass].rate;
  if ((hi - lo) / lo <= sw->search.precision) {
    decided(d, JOB_SWEEP_STOP, 0, JOB_STEP_PLANNED,
            "bracketed within the precision: %g/s passed, %g/s failed (%.3g%% <= %g%%)", lo, hi,
            (hi - lo) / lo * 100, sw->search.precision * 100);
    return;
  }
  double mid = job_rate_round(sqrt(lo * hi));
  if (mid <= lo || mid >= hi) {
    decided(d, JOB_SWEEP_STOP, 0, JOB_STEP_PLANNED,
            "bracketed at the rates' resolution: %g/s passed, %g/s failed", lo, hi);
    return;
  }
  decided(d, JOB_SWEEP_STEP, mid, JOB_STEP_BISECT,
          "bisecting between %g/s (passed) and %g/s (failed)", lo, hi);
}

void job_sweep_decide(const struct job_rate_sweep *sw, const struct job_sweep_step *steps,
                      const struct job_sweep_verdict *v, size_t n, struct job_sweep_decision *d) {
  memset(d, 0, sizeof *d);
  if (n == 0) {
    job_sweep_first(sw, d);
    return;
  }
  bool search = job_sweep_searches(sw);
  const struct job_sweep_step *last = &steps[n - 1];
  if (search && sw->search.repeat_marginal && v[n - 1].marginal && last->rounds < 2) {
    decided(d, JOB_SWEEP_REPEAT, last->rate, last->kind, "marginal verdict at %g/s (%s): repeated",
            last->rate, v[n - 1].marginal_note);
    d->repeat = n - 1;
    return;
  }
  size_t planned = 0;
  bool in_plan = true;
  for (size_t i = 0; i < n; i++) {
    if (steps[i].kind == JOB_STEP_PLANNED) planned++;
    else in_plan = false;
  }
  if (in_plan) {
    double rate = 0;
    if (job_sweep_next(sw, planned - 1, &v[n - 1], &rate)) {
      decided(d, JOB_SWEEP_STEP, rate, JOB_STEP_PLANNED, "the next planned step");
      return;
    }
  }
  if (!search) {
    decided(d, JOB_SWEEP_STOP, 0, JOB_STEP_PLANNED, "%s",
            sw->form == JOB_RATE_RAMP && !v[n - 1].met && sw->until_slo
                ? "the ramp stopped at its first failed step (search off)"
                : "every planned step ran (search off)");
    return;
  }
  if (n >= JOB_SWEEP_STATE_STEPS) {
    decided(d, JOB_SWEEP_STOP, 0, JOB_STEP_PLANNED, "%d steps, the most a sweep has",
            JOB_SWEEP_STATE_STEPS);
    return;
  }
  decide_search(sw, steps, v, n, d);
}

void job_sweep_rate_name(double rate, char *buf, size_t len) {
  snprintf(buf, len, "%.3f", job_rate_round(rate));
  char *dot = strchr(buf, '.');
  if (!dot) return;
  char *end = buf + strlen(buf) - 1;
  while (end > dot && *end == '0') *end-- = '\0';
  if (end == dot) *end = '\0';
}

cJSON *job_sweep_doc_field(size_t step, size_t steps, double rate, const char *summary_rel) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "step", (double)step);
  if (steps) cJSON_AddNumberToObject(o, "steps", (double)steps);
  else cJSON_AddNullToObject(o, "steps");
  cJSON_AddNumberToObject(o, "rate", rate);
  cJSON_AddStringToObject(o, "summary", summary_rel);
  return o;
}

void job_sweep_state_free(struct job_sweep_state *s) {
  for (size_t i = 0; i < JOB_SWEEP_STATE_STEPS; i++) {
    cJSON_Delete(s->documents[i]);
    s->documents[i] = NULL;
  }
}

size_t job_sweep_next_index(const struct job_sweep_state *s) {
  return s->next.move == JOB_SWEEP_REPEAT ? s->next.repeat : s->count;
}

void job_sweep_add_document(struct job_sweep_state *s, const char *rel) {
  size_t i = job_sweep_next_index(s);
  if (i >= JOB_SWEEP_STATE_STEPS) return;
  if (!s->documents[i]) s->documents[i] = cJSON_CreateArray();
  cJSON_AddItemToArray(s->documents[i], cJSON_CreateString(rel));
}

enum rb_err job_sweep_finish_step(struct job_sweep_state *s, double rate, const char *dir,
                                  char *err, size_t errlen) {
  bool repeat = s->next.move == JOB_SWEEP_REPEAT;
  size_t idx = job_sweep_next_index(s);
  if (idx >= JOB_SWEEP_STATE_STEPS)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "more than %d steps", JOB_SWEEP_STATE_STEPS);
  const cJSON *paths = s->documents[idx];
  size_t n = (size_t)cJSON_GetArraySize(paths), got = 0;
  struct job_doc *docs = calloc(n ? n : 1, sizeof *docs);
  char(*names)[PATH_MAX + 200] = calloc(n ? n : 1, sizeof *names);
  enum rb_err rc = docs && names ? RB_OK : RB_ERR_NOMEM;
  const cJSON *p;
  cJSON_ArrayForEach(p, paths) {
    if (rc != RB_OK) break;
    snprintf(names[got], sizeof names[got], "%s/%s", dir, p->valuestring);
    size_t len = 0;
    char *text = job_read_file(names[got], &len);
    if (!text)
      rc = rb_errorf(RB_ERR_IO, err, errlen, "cannot read the step document %s", names[got]);
    else rc = job_doc_read_text(text, len, names[got], &docs[got], err, errlen);
    free(text);
    if (rc == RB_OK) got++;
  }
  struct job_sweep_step st;
  if (rc == RB_OK) rc = job_sweep_step_from_job_docs(rate, docs, got, &st, err, errlen);
  if (rc == RB_OK) {
    if (repeat) {
      s->first[idx] = s->verdicts[idx];
      st.kind = s->steps[idx].kind;
      st.rounds = s->steps[idx].rounds + 1;
    } else {
      st.kind = s->next.kind;
      st.rounds = 1;
    }
    s->steps[idx] = st;
    job_sweep_judge(&s->run->sweep.slo, &s->steps[idx], &s->verdicts[idx]);
    if (!repeat) s->count++;
    job_sweep_decide(&s->run->sweep, s->steps, s->verdicts, s->count, &s->next);
    if (s->next.move == JOB_SWEEP_STOP) {
      s->complete = true;
      snprintf(s->stopped_because, sizeof s->stopped_because, "%s", s->next.why);
    }
  }
  for (size_t i = 0; i < got; i++) job_doc_free(&docs[i]);
  free(docs);
  free(names);
  return rc;
}

enum rb_err job_sweep_write_summary(const struct job_sweep_state *s, const char *path, char *err,
                                    size_t errlen) {
  cJSON *o = job_sweep_summary_json(s);
  char *text = o ? cJSON_Print(o) : NULL;
  cJSON_Delete(o);
  if (!text) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory building %s", path);
  size_t n = strlen(text);
  char *withnl = malloc(n + 2);
  enum rb_err rc = RB_ERR_NOMEM;
  if (withnl) {
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    rc = job_output_write_file(path, withnl, n + 1, NULL, err, errlen);
  }
  free(withnl);
  cJSON_free(text);
  return rc;
}

/* ---- the summary document ----------------------------------------------------------- */

static void add_num_or_null(cJSON *o, const char *key, double v) {
  if (isfinite(v) && v >= 0) cJSON_AddNumberToObject(o, key, v);
  else cJSON_AddNullToObject(o, key);
}

static void add_text_or_null(cJSON *o, const char *key, const char *text) {
  if (text && *text) cJSON_AddStringToObject(o, key, text);
  else cJSON_AddNullToObject(o, key);
}

static cJSON *rates_json(const struct job_rate_sweep *sw) {
  cJSON *o = cJSON_CreateObject();
  if (sw->form == JOB_RATE_LIST) {
    cJSON_AddStringToObject(o, "form", "list");
    cJSON *l = cJSON_AddArrayToObject(o, "list");
    for (size_t i = 0; i < sw->list_count; i++)
      cJSON_AddItemToArray(l, cJSON_CreateNumber(sw->list[i]));
    return o;
  }
  double last = 0;
  job_sweep_step_rate(sw, job_sweep_step_count(sw) - 1, &last);
  cJSON_AddStringToObject(o, "form", "ramp");
  cJSON_AddNumberToObject(o, "from", sw->from);
  cJSON_AddNumberToObject(o, "factor", sw->factor);
  cJSON_AddNumberToObject(o, "max", sw->max > 0 ? sw->max : last);
  cJSON_AddNumberToObject(o, "highest_step", last);
  cJSON_AddBoolToObject(o, "until_slo", sw->until_slo);
  return o;
}

static cJSON *search_json(const struct job_rate_sweep *sw) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "enabled", job_sweep_searches(sw));
  cJSON_AddNumberToObject(o, "precision", sw->search.precision);
  cJSON_AddNumberToObject(o, "max_steps", (double)sw->search.max_steps);
  cJSON_AddNumberToObject(o, "floor", job_sweep_floor(sw));
  cJSON_AddNumberToObject(o, "down_factor", sw->form == JOB_RATE_RAMP ? sw->factor : 2);
  cJSON_AddBoolToObject(o, "repeat_marginal", sw->search.repeat_marginal);
  return o;
}

static cJSON *slo_json(const struct job_slo *slo) {
  cJSON *o = cJSON_CreateObject();
  if (slo->p99_ms > 0) cJSON_AddNumberToObject(o, "p99_ms", slo->p99_ms);
  else cJSON_AddNullToObject(o, "p99_ms");
  cJSON_AddNumberToObject(o, "max_error_rate", slo->max_error_rate);
  cJSON_AddNumberToObject(o, "min_achieved_ratio", slo->min_achieved_ratio);
  return o;
}

static cJSON *failed_json(unsigned failed) {
  cJSON *a = cJSON_CreateArray();
  if (failed & JOB_SLO_FAIL_P99) cJSON_AddItemToArray(a, cJSON_CreateString("p99_ms"));
  if (failed & JOB_SLO_FAIL_ERRORS) cJSON_AddItemToArray(a, cJSON_CreateString("max_error_rate"));
  if (failed & JOB_SLO_FAIL_ACHIEVED)
    cJSON_AddItemToArray(a, cJSON_CreateString("min_achieved_ratio"));
  return a;
}

static cJSON *bounds_json(const struct job_slo *slo, const struct job_sweep_step *st,
                          unsigned failed) {
  cJSON *a = cJSON_CreateArray();
  struct {
    unsigned bit;
    const char *name;
    double limit, value;
  } b[] = {{JOB_SLO_FAIL_P99, "p99_ms", slo->p99_ms, st->p99_ms},
           {JOB_SLO_FAIL_ERRORS, "max_error_rate", slo->max_error_rate, st->error_rate},
           {JOB_SLO_FAIL_ACHIEVED, "min_achieved_ratio", slo->min_achieved_ratio,
            st->rate > 0 ? st->achieved_rate / st->rate : 0}};
  for (size_t i = 0; i < 3; i++) {
    if (!(failed & b[i].bit)) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bound", b[i].name);
    cJSON_AddNumberToObject(o, "limit", b[i].limit);
    add_num_or_null(o, "value", b[i].value);
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

static cJSON *evidence_json(const struct job_sweep_step *st, const struct job_sweep_verdict *v) {
  cJSON *o = cJSON_CreateObject();
  cJSON *r = cJSON_AddObjectToObject(o, "redis");
  cJSON_AddBoolToObject(r, "limited", (v->causes & JOB_CAUSE_REDIS) != 0);
  if (st->has_redis_throttle) {
    cJSON_AddNumberToObject(r, "throttled_s", st->redis_throttled_s);
    cJSON_AddNumberToObject(r, "throttled_periods", st->redis_throttled_periods);
  } else {
    cJSON_AddNullToObject(r, "throttled_s");
    cJSON_AddNullToObject(r, "throttled_periods");
  }
  if (st->has_redis_cpu && st->redis_window_s > 0) {
    cJSON_AddNumberToObject(r, "cpu_s", st->redis_cpu_s);
    cJSON_AddNumberToObject(r, "window_s", st->redis_window_s);
    cJSON_AddNumberToObject(r, "cpu_cores", st->redis_cpu_s / st->redis_window_s);
  } else {
    cJSON_AddNullToObject(r, "cpu_s");
    cJSON_AddNullToObject(r, "window_s");
    cJSON_AddNullToObject(r, "cpu_cores");
  }
  if (st->redis_quota > 0) cJSON_AddNumberToObject(r, "cpu_quota", st->redis_quota);
  else cJSON_AddNullToObject(r, "cpu_quota");
  cJSON *m = cJSON_AddObjectToObject(o, "machine");
  cJSON_AddBoolToObject(m, "limited", (v->causes & JOB_CAUSE_MACHINE) != 0);
  if (st->has_machine) {
    cJSON_AddNumberToObject(m, "busy_fraction", st->machine_busy);
    cJSON_AddNumberToObject(m, "min_core_busy_fraction", st->machine_min_core_busy);
  } else {
    cJSON_AddNullToObject(m, "busy_fraction");
    cJSON_AddNullToObject(m, "min_core_busy_fraction");
  }
  cJSON *p = cJSON_AddObjectToObject(o, "action_pool");
  cJSON_AddBoolToObject(p, "limited", (v->causes & JOB_CAUSE_POOL) != 0);
  cJSON_AddNumberToObject(p, "waited", (double)st->waited);
  add_num_or_null(p, "wait_p99_ms", st->wait_p99_ms);
  cJSON_AddNumberToObject(p, "late_pool_full", (double)st->late_pool);
  cJSON_AddNumberToObject(p, "held_pool_full", (double)st->held_pool);
  cJSON *u = cJSON_AddObjectToObject(o, "runner");
  cJSON_AddBoolToObject(u, "limited", (v->causes & JOB_CAUSE_RUNNER) != 0);
  cJSON_AddBoolToObject(u, "classified", st->has_send_delays);
  cJSON_AddNumberToObject(u, "late", (double)(st->has_send_delays ? st->late_runner : st->late));
  cJSON_AddNumberToObject(u, "held", (double)(st->has_send_delays ? st->held_runner : st->held));
  cJSON_AddNumberToObject(u, "lag_p99_ms",
                          st->has_send_delays ? st->runner_lag_p99_ms : st->lag_p99_ms);
  return o;
}

static cJSON *step_json(const struct job_slo *slo, const struct job_sweep_step *st,
                        const struct job_sweep_verdict *v, const struct job_sweep_verdict *first,
                        const cJSON *docs, size_t order) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "rate", st->rate);
  cJSON_AddNumberToObject(o, "order", (double)order);
  cJSON_AddStringToObject(o, "kind", job_sweep_kind_name(st->kind));
  cJSON_AddItemToObject(o, "documents", docs ? cJSON_Duplicate(docs, true) : cJSON_CreateArray());
  cJSON_AddNumberToObject(o, "repetitions", (double)st->documents);
  cJSON_AddNumberToObject(o, "rounds", (double)(st->rounds ? st->rounds : 1));
  cJSON_AddNumberToObject(o, "achieved_rate", st->achieved_rate);
  cJSON_AddNumberToObject(o, "throughput", st->throughput);
  add_num_or_null(o, "p50_ms", st->p50_ms);
  add_num_or_null(o, "p99_ms", st->p99_ms);
  cJSON_AddNumberToObject(o, "error_rate", st->error_rate);
  cJSON_AddNumberToObject(o, "measured", (double)st->measured);
  add_num_or_null(o, "redis_cpu_us_per_op", st->redis_cpu_us_per_op);
  add_num_or_null(o, "backend_cpu_us_per_op", st->backend_cpu_us_per_op);
  cJSON_AddNumberToObject(o, "schedule_lag_p99_ms", st->lag_p99_ms);
  cJSON_AddNumberToObject(o, "late_starts", (double)st->late);
  cJSON_AddNumberToObject(o, "held_by_max_in_flight", (double)st->held);
  cJSON_AddBoolToObject(o, "met_slo", v->met);
  cJSON_AddItemToObject(o, "failed", failed_json(v->failed));
  cJSON_AddItemToObject(o, "failed_bounds", bounds_json(slo, st, v->failed));
  add_text_or_null(o, "why", v->why);
  cJSON_AddBoolToObject(o, "marginal", v->marginal);
  add_text_or_null(o, "marginal_note", v->marginal_note);
  if (first) {
    cJSON *f = cJSON_AddObjectToObject(o, "first_round");
    cJSON_AddBoolToObject(f, "met_slo", first->met);
    add_text_or_null(f, "why", first->why);
    add_text_or_null(f, "marginal_note", first->marginal_note);
  } else {
    cJSON_AddNullToObject(o, "first_round");
  }
  cJSON_AddBoolToObject(o, "runner_limited", v->runner_limited);
  add_text_or_null(o, "runner_note", v->runner_note);
  add_text_or_null(o, "limited_by", v->limited_by);
  add_text_or_null(o, "attribution", v->attribution);
  cJSON_AddItemToObject(o, "evidence", evidence_json(st, v));
  return o;
}

static cJSON *scenario_json(const struct job_sweep_state *s) {
  const struct job_scenario *sc = s->scenario;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", sc->name);
  if (sc->description[0]) cJSON_AddStringToObject(o, "description", sc->description);
  cJSON_AddStringToObject(o, "run", s->run->name);
  cJSON_AddNumberToObject(o, "repetitions", (double)sc->repetitions);
  cJSON *t = cJSON_AddObjectToObject(o, "target");
  cJSON_AddStringToObject(t, "kind", job_target_kind_name(sc->target.kind));
  cJSON_AddStringToObject(t, "action", sc->target.action);
  if (sc->target.kind == JOB_TARGET_LOCAL)
    cJSON_AddNumberToObject(t, "pool_size", (double)sc->target.pool_size);
  cJSON *p = job_params_to_json(s->run);
  cJSON_DeleteItemFromObjectCaseSensitive(p, "rate"); /* each step has its own: "rates" */
  cJSON_DeleteItemFromObjectCaseSensitive(p, "planned_invocations");
  cJSON_AddItemToObject(o, "parameters", p);
  return o;
}

static const char *policy_text(const struct job_rate_sweep *sw) {
  if (job_sweep_searches(sw))
    return sw->form == JOB_RATE_RAMP
               ? "ramp until the SLO fails, then search: down from a failed first step, "
                 "bisect between the highest passing and the lowest failing rate"
               : "run every listed step, then search: down from a failed first step, "
                 "bisect between the highest passing and the lowest failing rate";
  if (sw->form == JOB_RATE_RAMP && sw->until_slo) return "stop at the first failed step (ramp)";
  if (sw->form == JOB_RATE_RAMP) return "run every step up to max (ramp with until_slo: false)";
  return "run every listed step (list)";
}

cJSON *job_sweep_summary_json(const struct job_sweep_state *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "schema_version", 1);
  cJSON_AddStringToObject(o, "kind", "sweep");
  cJSON_AddBoolToObject(o, "complete", s->complete);
  add_text_or_null(o, "interrupted_by", s->interrupted_by);
  cJSON *tool = cJSON_AddObjectToObject(o, "rbench");
  cJSON_AddStringToObject(tool, "version", RBENCH_VERSION);
  cJSON_AddStringToObject(tool, "git_commit", RBENCH_GIT_COMMIT);
  cJSON_AddItemToObject(o, "scenario", scenario_json(s));
  cJSON_AddStringToObject(o, "run", s->run->name);
  cJSON_AddItemToObject(o, "rates", rates_json(&s->run->sweep));
  cJSON_AddItemToObject(o, "slo", slo_json(&s->run->sweep.slo));
  cJSON *rl = cJSON_AddObjectToObject(o, "runner_limited_when");
  cJSON_AddNumberToObject(rl, "schedule_lag_p99_ms", JOB_SWEEP_RUNNER_LAG_P99_MS);
  cJSON_AddNumberToObject(rl, "late_fraction", JOB_SWEEP_RUNNER_LATE_FRACTION);
  cJSON_AddNumberToObject(rl, "held_fraction", JOB_SWEEP_RUNNER_HELD_FRACTION);
  cJSON *mw = cJSON_AddObjectToObject(o, "marginal_when");
  cJSON_AddNumberToObject(mw, "p99_relative", JOB_SWEEP_MARGIN_P99);
  cJSON_AddNumberToObject(mw, "achieved_ratio_absolute", JOB_SWEEP_MARGIN_ACHIEVED);
  cJSON_AddNumberToObject(mw, "errors_relative", JOB_SWEEP_MARGIN_ERRORS);
  cJSON *lw = cJSON_AddObjectToObject(o, "limited_when");
  cJSON_AddNumberToObject(lw, "redis_throttled_fraction", JOB_SWEEP_REDIS_THROTTLED);
  cJSON_AddNumberToObject(lw, "redis_cpu_of_quota", JOB_SWEEP_REDIS_CPU_NEAR);
  cJSON_AddNumberToObject(lw, "machine_min_core_busy", JOB_SWEEP_MACHINE_BUSY);
  cJSON_AddNumberToObject(lw, "worker_wait_ms", JOB_SWEEP_WAIT_MS);
  cJSON_AddNumberToObject(lw, "pool_wait_share_of_p99", JOB_SWEEP_POOL_WAIT_SHARE);
  cJSON_AddNumberToObject(lw, "pool_send_fraction", JOB_SWEEP_POOL_SEND_FRACTION);
  cJSON_AddStringToObject(o, "policy", policy_text(&s->run->sweep));
  cJSON_AddItemToObject(o, "search", search_json(&s->run->sweep));
  cJSON *steps = cJSON_AddArrayToObject(o, "steps");
  size_t order[JOB_SWEEP_STATE_STEPS];
  for (size_t i = 0; i < s->count; i++) order[i] = i;
  for (size_t i = 1; i < s->count; i++) /* by rate (insertion sort: a few dozen steps) */
    for (size_t j = i; j > 0 && s->steps[order[j]].rate < s->steps[order[j - 1]].rate; j--) {
      size_t t = order[j];
      order[j] = order[j - 1], order[j - 1] = t;
    }
  for (size_t k = 0; k < s->count; k++) {
    size_t i = order[k];
    cJSON_AddItemToArray(steps, step_json(&s->run->sweep.slo, &s->steps[i], &s->verdicts[i],
                                          s->steps[i].rounds > 1 ? &s->first[i] : NULL,
                                          s->documents[i], i));
  }
  struct job_sweep_max m;
  job_sweep_max_sustainable(s->steps, s->verdicts, s->count, &m);
  if (m.found) cJSON_AddNumberToObject(o, "max_sustainable_rate", m.rate);
  else cJSON_AddNullToObject(o, "max_sustainable_rate");
  if (!m.found && m.below > 0) cJSON_AddNumberToObject(o, "max_sustainable_rate_below", m.below);
  else cJSON_AddNullToObject(o, "max_sustainable_rate_below");
  if (m.failed_at > 0) cJSON_AddNumberToObject(o, "lowest_failing_rate", m.failed_at);
  else cJSON_AddNullToObject(o, "lowest_failing_rate");
  add_text_or_null(o, "stopped_because", s->complete ? s->stopped_because : NULL);
  cJSON_AddBoolToObject(o, "max_sustainable_rate_at_least",
                        m.at_least || (m.found && !s->complete));
  if (m.found && !s->complete && !m.at_least)
    note_add(m.note, sizeof m.note, "the sweep did not finish: higher steps were not tried");
  add_text_or_null(o, "note", m.note);
  return o;
}
