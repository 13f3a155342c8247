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

enum rb_err job_sweep_step_from_job_docs(double rate, const struct job_doc *docs, size_t n,
                                         struct job_sweep_step *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->rate = rate;
  out->documents = n;
  out->complete = true;
  uint64_t *v = NULL;
  size_t count = 0, cap = 0;
  for (size_t i = 0; i < n; i++) {
    const struct job_doc *d = &docs[i];
    enum rb_err rc = pool_raw(d, &v, &count, &cap);
    if (rc != RB_OK) {
      free(v);
      return rb_errorf(rc, err, errlen,
                       rc == RB_ERR_NOMEM ? "out of memory pooling the step at %g/s"
                                          : "a document of the step at %g/s has no raw_results",
                       rate);
    }
    /* aborted invocations (stopped by a signal) count in neither rate */
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
  free(v);
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

static void judge_runner(const struct job_sweep_step *st, struct job_sweep_verdict *v) {
  double sent = st->sent ? (double)st->sent : 1;
  if (st->lag_p99_ms > JOB_SWEEP_RUNNER_LAG_P99_MS)
    note_add(v->runner_note, sizeof v->runner_note, "schedule lag p99 %.3g ms > %g ms",
             st->lag_p99_ms, JOB_SWEEP_RUNNER_LAG_P99_MS);
  if ((double)st->late / sent > JOB_SWEEP_RUNNER_LATE_FRACTION)
    note_add(v->runner_note, sizeof v->runner_note, "%llu of %llu sends late",
             (unsigned long long)st->late, (unsigned long long)st->sent);
  if ((double)st->held / sent > JOB_SWEEP_RUNNER_HELD_FRACTION)
    note_add(v->runner_note, sizeof v->runner_note,
             "%llu of %llu sends held by max_in_flight (raise it to offer the full rate)",
             (unsigned long long)st->held, (unsigned long long)st->sent);
  v->runner_limited = v->runner_note[0] != '\0';
  if (v->runner_limited)
    note_add(
        v->runner_note, sizeof v->runner_note,
        "the runner could not keep the schedule: the verdict describes the runner, not the system");
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
  size_t i = 0;
  while (i < n && verdicts[i].met) i++;
  out->found = i > 0;
  if (out->found) out->rate = steps[i - 1].rate;
  if (!out->found && n > 0)
    note_add(out->note, sizeof out->note, "no step met the SLO: the lowest rate, %g/s, failed (%s)",
             steps[0].rate, verdicts[0].why);
  else if (out->found && i == n)
    note_add(out->note, sizeof out->note,
             "every step met the SLO: the limit is at or above the highest rate tried");
  else if (out->found && verdicts[i].runner_limited)
    note_add(
        out->note, sizeof out->note,
        "the first failed step (%g/s) was limited by the runner: the system's limit may be higher",
        steps[i].rate);
  out->at_least = out->found && (i == n || verdicts[i].runner_limited);
  for (size_t j = i + 1; j < n; j++)
    if (verdicts[j].met)
      note_add(out->note, sizeof out->note,
               "%g/s met the SLO above the failed step at %g/s (a gap: not counted)", steps[j].rate,
               steps[i].rate);
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
  for (size_t i = 0; i < JOB_SWEEP_MAX_STEPS; i++) {
    cJSON_Delete(s->documents[i]);
    s->documents[i] = NULL;
  }
}

void job_sweep_add_document(struct job_sweep_state *s, const char *rel) {
  if (s->count >= JOB_SWEEP_MAX_STEPS) return;
  if (!s->documents[s->count]) s->documents[s->count] = cJSON_CreateArray();
  cJSON_AddItemToArray(s->documents[s->count], cJSON_CreateString(rel));
}

enum rb_err job_sweep_finish_step(struct job_sweep_state *s, double rate, const char *dir,
                                  char *err, size_t errlen) {
  if (s->count >= JOB_SWEEP_MAX_STEPS)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "more than %d steps", JOB_SWEEP_MAX_STEPS);
  const cJSON *paths = s->documents[s->count];
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
  if (rc == RB_OK)
    rc = job_sweep_step_from_job_docs(rate, docs, got, &s->steps[s->count], err, errlen);
  if (rc == RB_OK) {
    job_sweep_judge(&s->run->sweep.slo, &s->steps[s->count], &s->verdicts[s->count]);
    s->count++;
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

static cJSON *step_json(const struct job_sweep_step *st, const struct job_sweep_verdict *v,
                        const cJSON *docs) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "rate", st->rate);
  cJSON_AddItemToObject(o, "documents", docs ? cJSON_Duplicate(docs, true) : cJSON_CreateArray());
  cJSON_AddNumberToObject(o, "repetitions", (double)st->documents);
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
  add_text_or_null(o, "why", v->why);
  cJSON_AddBoolToObject(o, "runner_limited", v->runner_limited);
  add_text_or_null(o, "runner_note", v->runner_note);
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
  cJSON_AddStringToObject(o, "policy", policy_text(&s->run->sweep));
  cJSON *steps = cJSON_AddArrayToObject(o, "steps");
  for (size_t i = 0; i < s->count; i++)
    cJSON_AddItemToArray(steps, step_json(&s->steps[i], &s->verdicts[i], s->documents[i]));
  struct job_sweep_max m;
  job_sweep_max_sustainable(s->steps, s->verdicts, s->count, &m);
  if (m.found) cJSON_AddNumberToObject(o, "max_sustainable_rate", m.rate);
  else cJSON_AddNullToObject(o, "max_sustainable_rate");
  cJSON_AddBoolToObject(o, "max_sustainable_rate_at_least",
                        m.at_least || (m.found && !s->complete));
  if (m.found && !s->complete && !m.at_least)
    note_add(m.note, sizeof m.note, "the sweep did not finish: higher steps were not tried");
  add_text_or_null(o, "note", m.note);
  return o;
}
