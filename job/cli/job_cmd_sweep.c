/* job_cmd_sweep.c: the capacity-sweep executor of `rbench run`: step after step, each judged
 * against the SLO before the next rate is chosen (docs/scenarios.md, "Sweeps"). */
#define _GNU_SOURCE
#include "job_cmd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_k8s.h"
#include "job_sweep.h"
#include "rb_log.h"

bool job_cmd_has_sweep(const struct job_scenario *sc) {
  for (size_t i = 0; i < sc->run_count; i++)
    if (sc->runs[i].sweep.form != JOB_RATE_FIXED) return true;
  return false;
}

/* A sweep in progress: per run, its state, the rate of the step it is on, whether it goes on. */
struct sweep_exec {
  const struct run_cli *c;
  const struct job_scenario *sc;
  const struct job_config *cfg;
  const char *self;
  char dir[PATH_MAX];             /* --output as a directory */
  struct job_sweep_state *states; /* run_count entries; unused for runs without a sweep */
  double *rate;
  bool *active;
};

static void sweep_run_dir(const struct sweep_exec *e, size_t run, char *out, size_t len) {
  snprintf(out, len, "%s/%s", e->dir, e->sc->runs[run].name);
}

static void sweep_write(const struct sweep_exec *e, size_t run) {
  char dir[PATH_MAX + 80], path[PATH_MAX + 100], err[600];
  sweep_run_dir(e, run, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/sweep.json", dir);
  if (job_sweep_write_summary(&e->states[run], path, err, sizeof err) != RB_OK)
    fprintf(stderr, "rbench: %s\n", err);
}

/* Runs one sweep step of run r (repetition rep): rate-R/rK.json, or rate-R.json alone. */
static enum job_exit sweep_one(struct sweep_exec *e, size_t r, long long rep, size_t step,
                               size_t index, size_t count) {
  struct job_params p = e->sc->runs[r];
  p.rate = e->rate[r];
  p.sweep.form = JOB_RATE_FIXED;
  const struct job_sweep_state *st = &e->states[r];
  bool again = st->next.move == JOB_SWEEP_REPEAT;
  step = job_sweep_next_index(st);
  char name[48], dir[PATH_MAX + 80], rel[120], out[PATH_MAX + 300], cm[300];
  job_sweep_rate_name(p.rate, name, sizeof name);
  if (again) /* a marginal step's second round: its own files, pooled with the first's */
    snprintf(name + strlen(name), sizeof name - strlen(name), "-round%zu",
             st->steps[step].rounds + 1);
  sweep_run_dir(e, r, dir, sizeof dir);
  bool one = e->sc->repetitions == 1;
  if (one) snprintf(rel, sizeof rel, "rate-%s.json", name);
  else snprintf(rel, sizeof rel, "rate-%s", name);
  snprintf(out, sizeof out, "%s/%s", dir, rel);
  if (!one && !job_cmd_make_dir(out)) return JOB_EXIT_FAILURE;
  if (!one) {
    snprintf(rel + strlen(rel), sizeof rel - strlen(rel), "/r%lld.json", rep);
    snprintf(out, sizeof out, "%s/%s", dir, rel);
  }
  const struct job_rate_sweep *sw = &e->sc->runs[r].sweep;
  size_t steps = (sw->form == JOB_RATE_RAMP && sw->until_slo) || job_sweep_searches(sw)
                     ? 0
                     : job_sweep_step_count(sw);
  cJSON *field = job_sweep_doc_field(step, steps, p.rate, one ? "sweep.json" : "../sweep.json");
  if (e->c->configmap) {
    snprintf(cm, sizeof cm, "%s-%s-rate-%s-r%lld", e->c->configmap, p.name, name, rep);
    job_k8s_sanitize_name(cm);
  }
  struct one_exec x = {.params = &p,
                       .rep = rep,
                       .out = out,
                       .cm = e->c->configmap ? cm : NULL,
                       .sweep = field,
                       .index = index,
                       .count = count};
  enum job_exit ex = job_cmd_run_one(e->c, e->sc, e->cfg, e->self, &x);
  cJSON_Delete(field);
  if (ex == JOB_EXIT_OK) job_sweep_add_document(&e->states[r], rel);
  return ex;
}

/* One line per step: rate, how it was chosen, the verdict and the bound that failed, what
 * limited it, and whether it was repeated. */
static void step_line(const struct job_sweep_step *st, const struct job_sweep_verdict *v, char *buf,
                      size_t len) {
  snprintf(buf, len, "%g/s (%s%s): %s%s%s%s%s%s%s%s", st->rate, job_sweep_kind_name(st->kind),
           st->rounds > 1 ? ", repeated: marginal" : "",
           v->met ? "met the SLO" : "FAILED the SLO: ", v->why, v->met ? "" : "; limited by ",
           v->met ? "" : v->limited_by, v->met ? "" : " (", v->met ? "" : v->attribution,
           v->met ? "" : ")", v->met && v->runner_limited ? " (runner-limited)" : "");
}

static void sweep_log_step(const struct sweep_exec *e, size_t r, size_t idx) {
  const struct job_sweep_state *s = &e->states[r];
  char line[1600];
  step_line(&s->steps[idx], &s->verdicts[idx], line, sizeof line);
  rb_info("sweep %s at %s", e->sc->runs[r].name, line);
  if (s->next.move != JOB_SWEEP_STOP)
    rb_info("sweep %s: next %g/s: %s", e->sc->runs[r].name, s->next.rate, s->next.why);
}

/* The summary of every sweep, on stderr at the end: one line per step (by rate), then the
 * max sustainable rate. */
static void sweep_print_summary(const struct sweep_exec *e) {
  for (size_t r = 0; r < e->sc->run_count; r++) {
    const struct job_sweep_state *s = &e->states[r];
    if (e->sc->runs[r].sweep.form == JOB_RATE_FIXED || !s->count) continue;
    fprintf(stderr, "sweep %s:\n", e->sc->runs[r].name);
    bool done[JOB_SWEEP_STATE_STEPS] = {false};
    for (size_t k = 0; k < s->count; k++) {
      size_t best = s->count;
      for (size_t i = 0; i < s->count; i++)
        if (!done[i] && (best == s->count || s->steps[i].rate < s->steps[best].rate)) best = i;
      done[best] = true;
      char line[1600];
      step_line(&s->steps[best], &s->verdicts[best], line, sizeof line);
      fprintf(stderr, "  %s\n", line);
    }
    struct job_sweep_max m;
    job_sweep_max_sustainable(s->steps, s->verdicts, s->count, &m);
    if (m.found)
      fprintf(stderr, "  max sustainable rate: %s%g/s%s%g/s)\n", m.at_least ? "at least " : "",
              m.rate, m.failed_at > 0 ? " (lowest failing " : " (highest tried ",
              m.failed_at > 0 ? m.failed_at : m.rate);
    else fprintf(stderr, "  max sustainable rate: below %g/s\n", m.below);
    if (s->stopped_because[0]) fprintf(stderr, "  stopped: %s\n", s->stopped_because);
  }
}

/* After a step: judges each run that took part, decides whether it goes on, writes its
 * summary. */
static int sweep_judge_round(struct sweep_exec *e, const bool *ran) {
  int rc = JOB_EXIT_OK;
  for (size_t r = 0; r < e->sc->run_count; r++) {
    if (!ran[r]) continue;
    struct job_sweep_state *s = &e->states[r];
    char dir[PATH_MAX + 80], err[600];
    sweep_run_dir(e, r, dir, sizeof dir);
    size_t idx = job_sweep_next_index(s);
    if (job_sweep_finish_step(s, e->rate[r], dir, err, sizeof err) != RB_OK) {
      fprintf(stderr, "rbench: sweep %s: %s\n", e->sc->runs[r].name, err);
      e->active[r] = false;
      rc = JOB_EXIT_FAILURE;
    } else {
      sweep_log_step(e, r, idx);
      e->active[r] = s->next.move != JOB_SWEEP_STOP;
      if (e->active[r]) e->rate[r] = s->next.rate;
    }
    sweep_write(e, r);
  }
  return rc;
}

/* Step k of every run still sweeping (and, at step 0, every run without a sweep), in the
 * scenario's order over runs and repetitions. */
static int sweep_round(struct sweep_exec *e, const size_t *plan, const long long *reps,
                       size_t count, size_t k, bool *any) {
  int worst = JOB_EXIT_OK;
  bool *ran = calloc(e->sc->run_count, sizeof *ran);
  if (!ran) return JOB_EXIT_FAILURE;
  *any = false;
  for (size_t i = 0; i < count && worst != JOB_EXIT_INTERRUPTED && !job_cmd_fatal_exit(worst);
       i++) {
    size_t r = plan[i];
    bool sweeping = e->sc->runs[r].sweep.form != JOB_RATE_FIXED;
    if (sweeping ? !e->active[r] : k > 0) continue;
    enum job_exit ex;
    if (sweeping) {
      ex = sweep_one(e, r, reps[i], k, i, count);
      ran[r] = true;
    } else {
      char out[PATH_MAX + 200];
      if (!job_cmd_output_path(e->c->output, e->sc, r, reps[i], out, sizeof out))
        ex = JOB_EXIT_FAILURE;
      else
        ex = job_cmd_run_one(
            e->c, e->sc, e->cfg, e->self,
            &(struct one_exec){
                .params = &e->sc->runs[r], .rep = reps[i], .out = out, .index = i, .count = count});
    }
    if (ex != JOB_EXIT_OK) worst = ex;
  }
  if (worst == JOB_EXIT_OK) {
    int rc = sweep_judge_round(e, ran);
    if (rc != JOB_EXIT_OK) worst = rc;
  }
  for (size_t r = 0; r < e->sc->run_count; r++) *any = *any || e->active[r];
  free(ran);
  return worst;
}

/* Marks every unfinished sweep as stopped and rewrites its summary. */
static void sweep_stop(struct sweep_exec *e, int why) {
  for (size_t r = 0; r < e->sc->run_count; r++) {
    if (e->sc->runs[r].sweep.form == JOB_RATE_FIXED || !e->active[r]) continue;
    e->states[r].complete = false;
    e->states[r].interrupted_by = why == JOB_EXIT_INTERRUPTED ? "signal" : "error";
    sweep_write(e, r);
  }
}

static bool sweep_setup(struct sweep_exec *e) {
  snprintf(e->dir, sizeof e->dir, "%s", e->c->output);
  size_t n = strlen(e->dir);
  while (n > 1 && e->dir[n - 1] == '/') e->dir[--n] = '\0';
  if (n > 5 && !strcmp(e->dir + n - 5, ".json")) e->dir[n - 5] = '\0';
  if (!job_cmd_make_dir(e->dir)) return false;
  for (size_t r = 0; r < e->sc->run_count; r++) {
    const struct job_params *p = &e->sc->runs[r];
    if (p->sweep.form == JOB_RATE_FIXED) continue;
    char dir[PATH_MAX + 80];
    sweep_run_dir(e, r, dir, sizeof dir);
    if (!job_cmd_make_dir(dir)) return false;
    e->states[r] = (struct job_sweep_state){.scenario = e->sc, .run = p};
    job_sweep_first(&p->sweep, &e->states[r].next);
    e->active[r] = e->states[r].next.move != JOB_SWEEP_STOP;
    e->rate[r] = e->states[r].next.rate;
    sweep_write(e, r); /* a valid (empty) summary from the start */
  }
  return true;
}

int job_cmd_sweep_execute(const struct run_cli *c, struct job_scenario *sc,
                          const struct job_config *cfg, const char *self) {
  size_t *plan = NULL, count = 0;
  long long *reps = NULL;
  if (job_scenario_plan(sc, &plan, &reps, &count) != RB_OK) return JOB_EXIT_FAILURE;
  struct sweep_exec e = {.c = c,
                         .sc = sc,
                         .cfg = cfg,
                         .self = self,
                         .states = calloc(sc->run_count, sizeof *e.states),
                         .rate = calloc(sc->run_count, sizeof *e.rate),
                         .active = calloc(sc->run_count, sizeof *e.active)};
  int worst = e.states && e.rate && e.active && sweep_setup(&e) ? JOB_EXIT_OK : JOB_EXIT_FAILURE;
  bool any = worst == JOB_EXIT_OK;
  for (size_t k = 0; any && worst == JOB_EXIT_OK; k++)
    worst = sweep_round(&e, plan, reps, count, k, &any);
  if (worst != JOB_EXIT_OK && e.active) sweep_stop(&e, worst);
  if (e.states && e.active) sweep_print_summary(&e);
  for (size_t r = 0; e.states && r < sc->run_count; r++) job_sweep_state_free(&e.states[r]);
  free(e.states);
  free(e.rate);
  free(e.active);
  free(plan);
  free(reps);
  return worst;
}
