/* job_compare_groups.c: N groups against one baseline (see job_compare_groups.h). */
#define _GNU_SOURCE
#include "job_compare_groups.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "job_compare_sweep.h"
#include "job_config.h"
#include "job_exit.h"
#include "job_stats.h"
#include "rb_json.h"

static const char *const objective_names[] = {"backend_cpu", "p50", "p99", "throughput",
                                              "max_rate"};

int job_objective_parse(const char *name) {
  for (int i = 0; i < (int)(sizeof objective_names / sizeof objective_names[0]); i++)
    if (!strcmp(name, objective_names[i])) return i;
  return -1;
}

const char *job_objective_name(enum job_objective o) { return objective_names[o]; }

/* The row an objective reads, how it reads in the sentence, and whether lower is better. */
static const char *objective_key(enum job_objective o) {
  static const char *const keys[] = {"backend_cpu_us_per_op", "execution_p50_ms",
                                     "execution_p99_ms", "throughput", NULL};
  return keys[o];
}

static const char *objective_text(enum job_objective o) {
  static const char *const t[] = {"backend CPU/op", "p50", "p99", "throughput",
                                  "max sustainable rate"};
  return t[o];
}

static bool lower_is_better(enum job_objective o) {
  return o != JOB_OBJ_THROUGHPUT && o != JOB_OBJ_MAX_RATE;
}

/* ---- Holm-Bonferroni -------------------------------------------------------------------- */

void job_holm(const double *p, size_t m, double *adjusted) {
  size_t *idx = malloc((m + 1) * sizeof *idx), k = 0;
  for (size_t i = 0; i < m; i++) {
    adjusted[i] = (double)NAN;
    if (idx && !isnan(p[i])) idx[k++] = i;
  }
  if (!idx) return;
  for (size_t i = 1; i < k; i++) /* insertion sort by p: families are small */
    for (size_t j = i; j > 0 && p[idx[j]] < p[idx[j - 1]]; j--) {
      size_t t = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = t;
    }
  double prev = 0;
  for (size_t j = 0; j < k; j++) {
    double a = fmin(1.0, (double)(k - j) * p[idx[j]]);
    prev = fmax(prev, a);
    adjusted[idx[j]] = prev;
  }
  free(idx);
}

/* ---- baseline --------------------------------------------------------------------------- */

static bool all_digits(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

static void list_groups(const struct job_side *sides, size_t n, char *buf, size_t len) {
  size_t k = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && k < len; i++) {
    int w = snprintf(buf + k, len - k, "%s[%zu] %s", i ? ", " : "", i + 1, sides[i].label);
    if (w < 0) return;
    k += (size_t)w;
    if (k < len && (sides[i].run[0] || sides[i].placement[0])) {
      w = snprintf(buf + k, len - k, " (%s%s%s%s)", sides[i].run[0] ? "run " : "", sides[i].run,
                   sides[i].run[0] && sides[i].placement[0] ? ", " : "", sides[i].placement);
      if (w < 0) return;
      k += (size_t)w;
    }
  }
}

enum rb_err job_groups_baseline(const struct job_side *sides, size_t n, const char *spec,
                                size_t *out, char *err, size_t errlen) {
  char groups[1200];
  list_groups(sides, n, groups, sizeof groups);
  if (all_digits(spec)) {
    long long i = strlen(spec) < 6 ? atoll(spec) : 0;
    if (i >= 1 && (size_t)i <= n) {
      *out = (size_t)i - 1;
      return RB_OK;
    }
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "--baseline %s: no such group (give an index from 1 to %zu, or a name: %s)",
                     spec, n, groups);
  }
  /* the label first (what the user typed), then the run name, then the placement */
  for (int pass = 0; pass < 3; pass++) {
    size_t found = n, hits = 0;
    for (size_t i = 0; i < n; i++) {
      const char *name = pass == 0 ? sides[i].label : pass == 1 ? sides[i].run : sides[i].placement;
      if (name[0] && !strcmp(name, spec)) {
        if (found == n) found = i;
        hits++;
      }
    }
    if (hits == 1) {
      *out = found;
      return RB_OK;
    }
    if (hits > 1)
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "--baseline '%s' names %zu groups: give its index instead (%s)", spec, hits,
                       groups);
  }
  return rb_errorf(RB_ERR_INVALID, err, errlen,
                   "--baseline '%s' names no group: give an index from 1 to %zu or a group's "
                   "argument, run name or placement (%s)",
                   spec, n, groups);
}

/* ---- computation ------------------------------------------------------------------------ */

void job_groups_free(struct job_groups *g) {
  free(g->pairs);
  free(g->names);
  g->pairs = NULL;
  g->names = NULL;
}

const struct job_cmp_row *job_groups_row(const struct job_groups *g, size_t i, const char *key) {
  if (i >= g->n || i == g->baseline) return NULL;
  return job_compare_row(&g->pairs[i], key);
}

/* Holm over the family of one metric: the rows with this key in every comparison. */
static void holm_rows(struct job_groups *g, const char *key) {
  double p[JOB_GROUPS_MAX] = {0}, adj[JOB_GROUPS_MAX] = {0};
  struct job_cmp_row *rows[JOB_GROUPS_MAX];
  size_t m = 0;
  for (size_t i = 0; i < g->n; i++) {
    struct job_cmp_row *r = NULL;
    for (size_t k = 0; i != g->baseline && k < g->pairs[i].nrows && !r; k++)
      if (!strcmp(g->pairs[i].rows[k].key, key)) r = &g->pairs[i].rows[k];
    if (!r || (r->test != JOB_TEST_LATENCY_MWU && r->test != JOB_TEST_PER_DOC_MWU)) continue;
    rows[m] = r;
    p[m++] = r->p;
  }
  job_holm(p, m, adj);
  for (size_t k = 0; k < m; k++) {
    rows[k]->p_adjusted = adj[k];
    rows[k]->significant = !isnan(adj[k]) && adj[k] < g->alpha;
  }
}

/* The group's name for people: its placement when no other group has the same one. */
static void set_names(struct job_groups *g) {
  for (size_t i = 0; i < g->n; i++) {
    const char *pl = g->sides[i].placement;
    bool unique = pl[0] && strcmp(pl, "mixed");
    for (size_t k = 0; k < g->n && unique; k++)
      unique = k == i || strcmp(g->sides[k].placement, pl);
    snprintf(g->names[i], sizeof g->names[i], "%s", unique ? pl : g->sides[i].label);
  }
}

enum rb_err job_groups_compute(const struct job_side *sides, size_t n, size_t baseline,
                               double alpha, uint64_t seed, const struct job_min_change *min_change,
                               enum job_objective objective, struct job_groups *g) {
  memset(g, 0, sizeof *g);
  if (n < 2 || n > JOB_GROUPS_MAX || baseline >= n) return RB_ERR_INVALID;
  g->n = n;
  g->baseline = baseline;
  g->sides = sides;
  g->alpha = alpha;
  g->objective = objective;
  g->comparisons = n - 1;
  g->ci_level = 1 - 0.05 / (double)g->comparisons;
  g->pairs = calloc(n, sizeof *g->pairs);
  g->names = calloc(n, sizeof *g->names);
  if (!g->pairs || !g->names) return RB_ERR_NOMEM;
  set_names(g);
  const struct job_side *a = &sides[baseline];
  for (size_t i = 0; i < n; i++) {
    if (i == baseline) continue;
    enum rb_err rc = job_compare_compute(a, &sides[i], alpha, seed, &g->pairs[i]);
    if (rc != RB_OK) return rc;
    struct job_comparison *c = &g->pairs[i];
    if (g->comparisons > 1 && c->have_ci && a->n && sides[i].n) {
      /* Bonferroni: the p99 interval at 1 - 0.05/m, so the family keeps its 5% */
      c->have_ci = job_bootstrap_quantile_diff(a->exec, a->n, sides[i].exec, sides[i].n, 99, 1000,
                                               seed + 1, g->ci_level, &c->p99_diff) == RB_OK;
      for (size_t k = 0; k < c->nrows; k++)
        if (c->rows[k].test == JOB_TEST_P99_CI)
          c->rows[k].significant = c->have_ci && (c->p99_diff.lo > 0 || c->p99_diff.hi < 0);
    }
  }
  if (g->comparisons > 1)
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; i != baseline && k < g->pairs[i].nrows; k++) {
        const char *key = g->pairs[i].rows[k].key;
        bool seen = false; /* a key is one family: adjust it once */
        for (size_t j = 0; j < i && !seen; j++) seen = j != baseline && job_groups_row(g, j, key);
        if (!seen) holm_rows(g, key);
      }
  for (size_t i = 0; i < n; i++)
    if (i != baseline) job_compare_apply_min_change(&g->pairs[i], min_change);
  return RB_OK;
}

/* ---- the headline ----------------------------------------------------------------------- */

static double row_p(const struct job_cmp_row *r) {
  return isnan(r->p_adjusted) ? r->p : r->p_adjusted;
}

static void p_text(char *buf, size_t len, const struct job_cmp_row *r) {
  double p = row_p(r);
  if (r->test == JOB_TEST_P99_CI || isnan(p)) buf[0] = '\0';
  else if (p < 0.001) snprintf(buf, len, " (p<0.001)");
  else snprintf(buf, len, " (p=%.2g)", p);
}

static bool claimable(const struct job_cmp_row *r) {
  return r && r->test && r->significant && !r->negligible && !isnan(r->a) && !isnan(r->b) &&
         r->a > 0 && r->b > 0;
}

/* What the group's gain cost: "at +0.1 ms p50", "with no significant p50 change", "at 1.4x
 * backend CPU/op"; with the action processes' CPU when it moved significantly. */
static void cost_text(const struct job_groups *g, size_t i, char *buf, size_t len) {
  bool latency_cost = lower_is_better(g->objective) && g->objective != JOB_OBJ_BACKEND_CPU;
  const struct job_cmp_row *r =
      job_groups_row(g, i, latency_cost ? "backend_cpu_us_per_op" : "execution_p50_ms");
  const char *what = latency_cost ? "backend CPU/op" : "p50";
  if (!r || isnan(r->a) || isnan(r->b)) snprintf(buf, len, "with %s not compared", what);
  else if (!r->test || !r->significant) snprintf(buf, len, "with no significant %s change", what);
  else if (r->negligible) snprintf(buf, len, "with a negligible %s change", what);
  else if (latency_cost) snprintf(buf, len, "at %.2gx %s", r->b / r->a, what);
  else if (fabs(r->b - r->a) >= 10) snprintf(buf, len, "at %+.0f ms %s", r->b - r->a, what);
  else snprintf(buf, len, "at %+.2g ms %s", r->b - r->a, what);
  const struct job_cmp_row *act = job_groups_row(g, i, "action_cpu_us_per_op");
  size_t k = strlen(buf);
  if (claimable(act) && k < len)
    snprintf(buf + k, len - k, " and %.2gx action CPU/op", act->b / act->a);
}

struct cand {
  size_t i;
  double factor;
};

static int by_factor(const void *x, const void *y) {
  double a = ((const struct cand *)x)->factor, b = ((const struct cand *)y)->factor;
  return a > b ? -1 : a < b;
}

static void append(char *buf, size_t len, const char *a, const char *b) {
  size_t k = strlen(buf);
  if (k < len) snprintf(buf + k, len - k, "%s%s", a, b);
}

void job_groups_headline(const struct job_groups *g, char *buf, size_t len) {
  const char *key = objective_key(g->objective), *obj = objective_text(g->objective);
  bool lower = lower_is_better(g->objective);
  const char *base = g->names[g->baseline];
  struct cand c[JOB_GROUPS_MAX];
  size_t nc = 0;
  char same[600] = "", worse[600] = "", missing[600] = "", small[600] = "", untested[600] = "";
  for (size_t i = 0; key && i < g->n; i++) {
    if (i == g->baseline) continue;
    const struct job_cmp_row *r = job_groups_row(g, i, key);
    if (!r || isnan(r->a) || isnan(r->b)) {
      append(missing, sizeof missing, missing[0] ? ", " : "", g->names[i]);
      continue;
    }
    bool better = lower ? r->b < r->a : r->b > r->a;
    if (claimable(r) && better) {
      c[nc].i = i;
      c[nc++].factor = lower ? r->a / r->b : r->b / r->a;
    } else if (claimable(r)) {
      append(worse, sizeof worse, worse[0] ? ", " : "", g->names[i]);
    } else if (!r->test) {
      append(untested, sizeof untested, untested[0] ? ", " : "", g->names[i]);
    } else if (r->significant && r->negligible) {
      append(small, sizeof small, small[0] ? ", " : "", g->names[i]);
    } else {
      append(same, sizeof same, same[0] ? ", " : "", g->names[i]);
    }
  }
  qsort(c, nc, sizeof *c, by_factor);
  char corr[120] = "";
  if (g->comparisons > 1)
    snprintf(corr, sizeof corr, "; Holm-corrected over %zu comparisons", g->comparisons);
  buf[0] = '\0';
  if (!key) {
    snprintf(buf, len, "%s is compared for sweeps only (rbench compare on sweep.json)", obj);
    return;
  }
  if (!nc)
    snprintf(buf, len, "no group did significantly better than %s on %s (alpha %.2g%s)", base, obj,
             g->alpha, corr);
  for (size_t k = 0; k < nc; k++) {
    const struct job_cmp_row *r = job_groups_row(g, c[k].i, key);
    if (!r) continue; /* a candidate has its row: for the compiler's analysis */
    char p[40], cost[200], one[600];
    p_text(p, sizeof p, r);
    cost_text(g, c[k].i, cost, sizeof cost);
    if (k == 0)
      snprintf(one, sizeof one, "%s %s %s %.2gx%s %s", g->names[c[k].i], lower ? "cut" : "raised",
               obj, c[k].factor, p, cost);
    else snprintf(one, sizeof one, "; %s %.2gx%s %s", g->names[c[k].i], c[k].factor, p, cost);
    append(buf, len, one, "");
  }
  if (nc) {
    char tail[300];
    snprintf(tail, sizeof tail, " (against %.160s%s)", base, corr);
    append(buf, len, tail, "");
  }
  char part[800];
  if (worse[0]) {
    snprintf(part, sizeof part, "; significantly worse %s: %s", obj, worse);
    append(buf, len, part, "");
  }
  if (small[0]) {
    snprintf(part, sizeof part, "; a detectable but negligible %s difference: %s", obj, small);
    append(buf, len, part, "");
  }
  if (same[0]) {
    snprintf(part, sizeof part, "; no significant %s difference: %s", obj, same);
    append(buf, len, part, "");
  }
  if (untested[0]) {
    snprintf(part, sizeof part, "; %s could not be tested (too few samples or repetitions): %s",
             obj, untested);
    append(buf, len, part, "");
  }
  if (missing[0]) {
    snprintf(part, sizeof part, "; %s not measured: %s", obj, missing);
    append(buf, len, part, "");
  }
}

/* ---- the table -------------------------------------------------------------------------- */

#define COLW 19

/* The keys of every comparison's rows, in order of first appearance. */
static size_t row_keys(const struct job_groups *g, const struct job_cmp_row **keys, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < g->n; i++)
    for (size_t k = 0; i != g->baseline && k < g->pairs[i].nrows; k++) {
      const struct job_cmp_row *r = &g->pairs[i].rows[k];
      bool seen = false;
      for (size_t j = 0; j < n && !seen; j++) seen = !strcmp(keys[j]->key, r->key);
      if (!seen && n < max) keys[n++] = r;
    }
  return n;
}

/* The mark after a group's ratio: "~" not significant, "!" significant, "=" detectable but
 * negligible, "" without a test. */
static const char *mark(const struct job_cmp_row *r) {
  if (!r->test) return "";
  if (!r->significant) return "~";
  return r->negligible ? "=" : "!";
}

static void value_text(char *buf, size_t len, double v, const char *why, bool reliable) {
  if (isnan(v)) snprintf(buf, len, "%s", why ? "n/a" : "-");
  else snprintf(buf, len, "%.4g%s", v, reliable ? "" : "*");
}

/* Why group i has no row with this key though another comparison has one: a figure only some
 * groups' documents carry (the action processes' CPU); NULL otherwise. */
const char *job_groups_absent_why(const struct job_groups *g, size_t i, const char *key) {
  if (i == g->baseline || job_groups_row(g, i, key) || strcmp(key, "action_cpu_us_per_op"))
    return NULL;
  const struct job_doc_series *x = &g->sides[i].per_doc[JOB_DM_ACTION_CPU];
  return x->n ? NULL : g->sides[i].docs ? x->why : "no documents";
}

static void group_cell(char *buf, size_t len, const struct job_cmp_row *r) {
  char v[32];
  if (!r) {
    snprintf(buf, len, "-");
    return;
  }
  value_text(v, sizeof v, r->b, r->why_b, r->reliable_b);
  if (isnan(r->b) || isnan(r->a) || !(r->a != 0)) snprintf(buf, len, "%s", v);
  else snprintf(buf, len, "%s %.3gx%s", v, r->b / r->a, mark(r));
}

static void mode_text(char *buf, size_t len, long long concurrency) {
  if (concurrency > 0) snprintf(buf, len, "; closed loop: %lld in flight", concurrency);
  else if (concurrency < 0) snprintf(buf, len, "; open and closed loops mixed");
  else buf[0] = '\0';
}

static bool same_workload(const struct job_groups *g) {
  for (size_t i = 1; i < g->n; i++)
    if (strcmp(g->sides[i].workload, g->sides[0].workload)) return false;
  return true;
}

static bool same_mode(const struct job_groups *g) {
  for (size_t i = 0; i < g->n; i++)
    if (g->sides[i].concurrency < 0 || g->sides[i].concurrency != g->sides[0].concurrency)
      return false;
  return true;
}

/* One line per distinct reason a group's figures are missing, naming the rows it empties. */
static void print_unavailable(FILE *f, const struct job_groups *g, const struct job_cmp_row **keys,
                              size_t nkeys) {
  for (size_t i = 0; i < g->n; i++) {
    for (size_t k = 0; k < nkeys; k++) {
      const struct job_cmp_row *r = i == g->baseline ? keys[k] : job_groups_row(g, i, keys[k]->key);
      /* the baseline's reasons are on every comparison's a side */
      const struct job_cmp_row *rb = r;
      if (i == g->baseline) {
        rb = NULL;
        for (size_t j = 0; j < g->n && !rb; j++) rb = job_groups_row(g, j, keys[k]->key);
      }
      const char *why = !rb ? NULL : i == g->baseline ? rb->why_a : rb->why_b;
      if (!why) continue;
      bool seen = false;
      for (size_t q = 0; q < k && !seen; q++) {
        const struct job_cmp_row *o = NULL;
        for (size_t j = 0; j < g->n && !o; j++)
          o = job_groups_row(g, i == g->baseline ? j : i, keys[q]->key);
        const char *w = !o ? NULL : i == g->baseline ? o->why_a : o->why_b;
        seen = w && !strcmp(w, why);
      }
      if (seen) continue;
      fprintf(f, "n/a in [%zu] (%s", i + 1, keys[k]->metric);
      for (size_t q = k + 1; q < nkeys; q++) {
        const struct job_cmp_row *o = NULL;
        for (size_t j = 0; j < g->n && !o; j++)
          o = job_groups_row(g, i == g->baseline ? j : i, keys[q]->key);
        const char *w = !o ? NULL : i == g->baseline ? o->why_a : o->why_b;
        if (w && !strcmp(w, why)) fprintf(f, ", %s", keys[q]->metric);
      }
      fprintf(f, "): %s\n", why);
    }
    for (size_t k = 0; k < nkeys; k++) {
      const char *why = job_groups_absent_why(g, i, keys[k]->key);
      if (why) fprintf(f, "n/a in [%zu] (%s): %s\n", i + 1, keys[k]->metric, why);
    }
  }
}

static void print_notes(FILE *f, size_t i, const char *notes) {
  for (const char *p = notes; *p;) {
    const char *nl = strchr(p, '\n');
    int n = nl ? (int)(nl - p) : (int)strlen(p);
    fprintf(f, "note [%zu]: %.*s\n", i + 1, n, p);
    p += n + (nl ? 1 : 0);
  }
}

void job_groups_print(FILE *f, const struct job_groups *g) {
  fprintf(f, "groups: %zu, baseline [%zu]; alpha %.2g", g->n, g->baseline + 1, g->alpha);
  if (g->comparisons > 1)
    fprintf(f, ", Holm-Bonferroni over the %zu comparisons of each metric", g->comparisons);
  fputc('\n', f);
  for (size_t i = 0; i < g->n; i++) {
    const struct job_side *s = &g->sides[i];
    char mode[64];
    mode_text(mode, sizeof mode, s->concurrency);
    fprintf(f, "[%zu] %s: %s (%zu document%s, %zu successful invocations%s)%s\n", i + 1, s->label,
            s->placement[0] ? s->placement : "placement unknown", s->docs, s->docs == 1 ? "" : "s",
            s->n, mode, i == g->baseline ? " (baseline)" : "");
  }
  for (size_t i = 0; i < g->n; i++) print_notes(f, i, g->sides[i].notes);
  if (same_workload(g) && g->sides[0].workload[0])
    fprintf(f, "workload: %s\n", g->sides[0].workload);
  else
    for (size_t i = 0; i < g->n; i++)
      fprintf(f, "workload [%zu]: %s\n", i + 1,
              g->sides[i].workload[0] ? g->sides[i].workload : "unknown");
  if (!same_mode(g))
    fprintf(f,
            "note: the groups were not all run the same way (open loop, or a different "
            "concurrency): their\n      latency and throughput answer different questions\n");
  fputc('\n', f);
  const struct job_cmp_row *keys[JOB_CMP_ROWS * 2];
  size_t nkeys = row_keys(g, keys, sizeof keys / sizeof keys[0]);
  fprintf(f, "%-26s", "metric");
  for (size_t i = 0; i < g->n; i++) {
    char h[32];
    snprintf(h, sizeof h, "[%zu]%s", i + 1, i == g->baseline ? " baseline" : "");
    fprintf(f, " %*s", COLW, h);
  }
  fputc('\n', f);
  bool unreliable = false, any_mark[3] = {false, false, false};
  for (size_t k = 0; k < nkeys; k++) {
    fprintf(f, "%-26s", keys[k]->metric);
    for (size_t i = 0; i < g->n; i++) {
      char cell[64];
      if (i == g->baseline) {
        const struct job_cmp_row *r = NULL;
        for (size_t j = 0; j < g->n && !r; j++) r = job_groups_row(g, j, keys[k]->key);
        value_text(cell, sizeof cell, r ? r->a : (double)NAN, r ? r->why_a : NULL,
                   r ? r->reliable_a : true);
        unreliable |= r && !r->reliable_a && r->na;
      } else {
        const struct job_cmp_row *r = job_groups_row(g, i, keys[k]->key);
        group_cell(cell, sizeof cell, r);
        if (!r && job_groups_absent_why(g, i, keys[k]->key)) snprintf(cell, sizeof cell, "n/a");
        unreliable |= r && !r->reliable_b && r->nb;
        if (r && r->test && !isnan(r->a) && !isnan(r->b)) {
          const char *m = mark(r);
          any_mark[m[0] == '~' ? 0 : m[0] == '!' ? 1 : 2] = true;
        }
      }
      fprintf(f, " %*s", COLW, cell);
    }
    fputc('\n', f);
  }
  fputc('\n', f);
  fprintf(f, "each group's value is followed by its ratio to the baseline [%zu]", g->baseline + 1);
  if (any_mark[0] || any_mark[1] || any_mark[2]) fprintf(f, " and its significance:");
  fputc('\n', f);
  if (any_mark[1])
    fprintf(f, "  ! significant%s\n",
            g->comparisons > 1 ? " (Holm-adjusted p below alpha; p99: the Bonferroni interval "
                                 "excludes 0)"
                               : "");
  if (any_mark[0]) fprintf(f, "  ~ not significant\n");
  if (any_mark[2])
    fprintf(f,
            "  = detectable but negligible: significant, smaller than the change that matters "
            "(--min-change)\n");
  if (unreliable)
    fprintf(f,
            "* fewer samples than the percentile needs (p90: %zu, p99: %zu): the value is the "
            "sample maximum\n",
            job_quantile_min_samples(90), job_quantile_min_samples(99));
  print_unavailable(f, g, keys, nkeys);
  for (size_t i = 0; i < g->n; i++) {
    if (i == g->baseline) continue;
    const struct job_comparison *c = &g->pairs[i];
    if (c->have_test)
      fprintf(f, "[%zu] vs [%zu]: latency Mann-Whitney U on %s, n=%zu+%zu, p=%.4g%s\n", i + 1,
              g->baseline + 1, c->mwu_on_medians ? "per-repetition medians" : "invocations",
              c->mwu.n1, c->mwu.n2, c->mwu.p, g->comparisons > 1 ? " before Holm" : "");
    else
      fprintf(f, "[%zu] vs [%zu]: not enough successful invocations to test\n", i + 1,
              g->baseline + 1);
  }
  char h[2048];
  job_groups_headline(g, h, sizeof h);
  fprintf(f, "headline (%s): %s\n", job_objective_name(g->objective), h);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void add_num(cJSON *o, const char *k, double v) {
  if (isnan(v) || isinf(v)) cJSON_AddNullToObject(o, k);
  else cJSON_AddNumberToObject(o, k, v);
}

static cJSON *cell_json(const struct job_cmp_row *r) {
  if (!r) return cJSON_CreateNull();
  cJSON *x = cJSON_CreateObject();
  add_num(x, "value", r->b);
  add_num(x, "ratio", r->a != 0 && !isnan(r->a) && !isnan(r->b) ? r->b / r->a : (double)NAN);
  add_num(x, "change", r->change);
  if (r->test) {
    cJSON_AddBoolToObject(x, "significant", r->significant);
    add_num(x, "p", r->p);
    add_num(x, "p_adjusted", r->p_adjusted);
    add_num(x, "min_change", r->min_change);
    cJSON_AddBoolToObject(x, "negligible", r->negligible);
  }
  if (r->quantile > 0 || r->test == JOB_TEST_PER_DOC_MWU || r->why_b)
    cJSON_AddNumberToObject(x, "samples", (double)r->nb);
  if (r->quantile > 0) cJSON_AddBoolToObject(x, "reliable", r->reliable_b);
  if (r->why_b) cJSON_AddStringToObject(x, "unavailable", r->why_b);
  return x;
}

cJSON *job_groups_json(const struct job_groups *g) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", "group_comparison");
  cJSON_AddNumberToObject(o, "baseline", (double)g->baseline);
  cJSON_AddStringToObject(o, "objective", job_objective_name(g->objective));
  cJSON_AddNumberToObject(o, "alpha", g->alpha);
  cJSON_AddStringToObject(o, "correction", g->comparisons > 1 ? "holm" : "none");
  cJSON_AddNumberToObject(o, "comparisons", (double)g->comparisons);
  cJSON_AddNumberToObject(o, "p99_ci_level", g->ci_level);
  cJSON *groups = cJSON_AddArrayToObject(o, "groups");
  for (size_t i = 0; i < g->n; i++) {
    cJSON *s = job_side_json(&g->sides[i]);
    cJSON_AddStringToObject(s, "name", g->names[i]);
    cJSON_AddBoolToObject(s, "baseline", i == g->baseline);
    cJSON_AddItemToArray(groups, s);
  }
  const struct job_cmp_row *keys[JOB_CMP_ROWS * 2];
  size_t nkeys = row_keys(g, keys, sizeof keys / sizeof keys[0]);
  cJSON *rows = cJSON_AddArrayToObject(o, "rows");
  for (size_t k = 0; k < nkeys; k++) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "metric", keys[k]->metric);
    cJSON_AddStringToObject(x, "key", keys[k]->key);
    cJSON *cells = cJSON_AddArrayToObject(x, "groups");
    for (size_t i = 0; i < g->n; i++) {
      if (i != g->baseline) {
        const char *why = job_groups_absent_why(g, i, keys[k]->key);
        cJSON *cell = cell_json(job_groups_row(g, i, keys[k]->key));
        if (why) {
          cJSON_Delete(cell);
          cell = cJSON_CreateObject();
          cJSON_AddNullToObject(cell, "value");
          cJSON_AddStringToObject(cell, "unavailable", why);
        }
        cJSON_AddItemToArray(cells, cell);
        continue;
      }
      const struct job_cmp_row *r = NULL;
      for (size_t j = 0; j < g->n && !r; j++) r = job_groups_row(g, j, keys[k]->key);
      cJSON *b = cJSON_CreateObject();
      add_num(b, "value", r ? r->a : (double)NAN);
      if (r && r->why_a) cJSON_AddStringToObject(b, "unavailable", r->why_a);
      cJSON_AddItemToArray(cells, b);
    }
    cJSON_AddItemToArray(rows, x);
  }
  cJSON *pairs = cJSON_AddArrayToObject(o, "pairs");
  for (size_t i = 0; i < g->n; i++) {
    if (i == g->baseline) continue;
    cJSON *p = job_compare_json(&g->sides[g->baseline], &g->sides[i], &g->pairs[i]);
    cJSON_AddNumberToObject(p, "group", (double)i);
    cJSON_AddItemToArray(pairs, p);
  }
  char h[2048];
  job_groups_headline(g, h, sizeof h);
  cJSON_AddStringToObject(o, "headline", h);
  return o;
}

/* ---- sweeps ----------------------------------------------------------------------------- */

struct sweep_group {
  char path[PATH_MAX], label[256], name[200], run[128];
  cJSON *doc;
};

/* The baseline among sweeps: an index, else a label, run name or placement naming one. */
static int sweep_baseline(const struct sweep_group *s, size_t n, const char *spec, size_t *out) {
  struct job_side *sides = calloc(n, sizeof *sides);
  if (!sides) return JOB_EXIT_FAILURE;
  for (size_t i = 0; i < n; i++) {
    snprintf(sides[i].label, sizeof sides[i].label, "%.127s", s[i].label);
    snprintf(sides[i].run, sizeof sides[i].run, "%s", s[i].run);
    snprintf(sides[i].placement, sizeof sides[i].placement, "%.159s", s[i].name);
  }
  char err[1600];
  int rc = JOB_EXIT_OK;
  if (job_groups_baseline(sides, n, spec, out, err, sizeof err) != RB_OK) {
    fprintf(stderr, "rbench compare: %s\n", err);
    rc = JOB_EXIT_CONFIG;
  }
  free(sides);
  return rc;
}

static void sweep_rate_text(const cJSON *side, char *buf, size_t len) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(side, "max_sustainable_rate");
  if (!cJSON_IsNumber(m)) snprintf(buf, len, "none");
  else
    snprintf(buf, len, "%s%g/s",
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(side, "at_least")) ? "at least " : "",
             m->valuedouble);
}

static void sweep_ratio_text(const cJSON *cmp, char *buf, size_t len) {
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(cmp, "ratio");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(cmp, "ratio_bound");
  const char *bound = cJSON_IsString(b) ? b->valuestring : "none";
  if (!cJSON_IsNumber(r)) snprintf(buf, len, "not defined");
  else if (!strcmp(bound, "unknown"))
    snprintf(buf, len, "%.2fx (both lower bounds)", r->valuedouble);
  else
    snprintf(buf, len, "%s%.2fx",
             !strcmp(bound, "at_least")  ? "at least "
             : !strcmp(bound, "at_most") ? "at most "
                                         : "",
             r->valuedouble);
}

/* The sweeps' sentence: the highest ratio above 1 that is exact or a lower bound. A sweep is
 * one measurement per step: no significance test, said so. */
static void sweeps_headline(const struct sweep_group *s, cJSON *const *cmp, size_t n, size_t base,
                            char *buf, size_t len) {
  size_t order[JOB_GROUPS_MAX], k = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == base) continue;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(cmp[i], "ratio");
    const char *b = cJSON_GetObjectItemCaseSensitive(cmp[i], "ratio_bound")->valuestring;
    if (!cJSON_IsNumber(r) || !(r->valuedouble > 1) ||
        !(strcmp(b, "exact") == 0 || strcmp(b, "at_least") == 0))
      continue;
    size_t j = k++;
    for (; j > 0 && cJSON_GetObjectItemCaseSensitive(cmp[order[j - 1]], "ratio")->valuedouble <
                        r->valuedouble;
         j--)
      order[j] = order[j - 1];
    order[j] = i;
  }
  buf[0] = '\0';
  if (!k) {
    snprintf(buf, len, "no group sustained a higher rate than %s under the same SLO", s[base].name);
    return;
  }
  for (size_t j = 0; j < k; j++) {
    char ratio[64], rate[64];
    sweep_ratio_text(cmp[order[j]], ratio, sizeof ratio);
    sweep_rate_text(cJSON_GetObjectItemCaseSensitive(cmp[order[j]], "b"), rate, sizeof rate);
    size_t at = strlen(buf);
    if (at >= len) break;
    if (j == 0)
      snprintf(buf + at, len - at, "%s sustained %s %s's max rate (%s)", s[order[j]].name, ratio,
               s[base].name, rate);
    else snprintf(buf + at, len - at, "; %s %s (%s)", s[order[j]].name, ratio, rate);
  }
  size_t at = strlen(buf);
  if (at < len) snprintf(buf + at, len - at, " (one sweep each: no significance test)");
}

static int sweeps_report(struct sweep_group *s, size_t n, size_t base, bool json) {
  cJSON *cmp[JOB_GROUPS_MAX] = {NULL};
  for (size_t i = 0; i < n; i++)
    cmp[i] = job_compare_sweep_json(s[base].doc, s[base].label, s[i].doc, s[i].label);
  char h[2048];
  sweeps_headline(s, cmp, n, base, h, sizeof h);
  if (json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "sweep_group_comparison");
    cJSON_AddNumberToObject(o, "baseline", (double)base);
    cJSON *groups = cJSON_AddArrayToObject(o, "groups");
    for (size_t i = 0; i < n; i++) {
      cJSON *g = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cmp[i], "b"), true);
      cJSON_AddStringToObject(g, "name", s[i].name);
      cJSON_AddBoolToObject(g, "baseline", i == base);
      static const char *const keys[] = {"ratio", "ratio_bound", "same_slo"};
      for (size_t k = 0; k < 3; k++)
        cJSON_AddItemToObject(
            g, keys[k], cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cmp[i], keys[k]), true));
      cJSON_AddItemToArray(groups, g);
    }
    cJSON_AddStringToObject(o, "headline", h);
    char *t = cJSON_Print(o);
    if (t) printf("%s\n", t);
    cJSON_free(t);
    cJSON_Delete(o);
  } else {
    printf("sweeps: %zu, baseline [%zu]\n", n, base + 1);
    for (size_t i = 0; i < n; i++)
      printf("[%zu] %s: %s (run %s)%s\n", i + 1, s[i].label, s[i].name,
             s[i].run[0] ? s[i].run : "?", i == base ? " (baseline)" : "");
    printf("\n%-6s %-28s %22s %26s\n", "group", "", "max sustainable rate", "ratio to baseline");
    bool differ = false;
    for (size_t i = 0; i < n; i++) {
      char rate[64], ratio[64];
      sweep_rate_text(cJSON_GetObjectItemCaseSensitive(cmp[i], "b"), rate, sizeof rate);
      if (i == base) snprintf(ratio, sizeof ratio, "(baseline)");
      else sweep_ratio_text(cmp[i], ratio, sizeof ratio);
      char idx[32];
      snprintf(idx, sizeof idx, "[%zu]", i + 1);
      printf("%-6s %-28.28s %22s %26s\n", idx, s[i].name, rate, ratio);
      differ |= !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cmp[i], "same_slo"));
    }
    printf("\n");
    if (differ) printf("warning: the sweeps were not all judged against the same SLO\n");
    printf("headline (max_rate): %s\n", h);
  }
  for (size_t i = 0; i < n; i++) cJSON_Delete(cmp[i]);
  return JOB_EXIT_OK;
}

int job_compare_sweeps_main(char *const *paths, size_t n, const char *baseline, bool json) {
  if (n < 2 || n > JOB_GROUPS_MAX) return -1;
  struct sweep_group *s = calloc(n, sizeof *s);
  if (!s) return JOB_EXIT_FAILURE;
  size_t found = 0, a_sweep = 0;
  bool is[JOB_GROUPS_MAX];
  for (size_t i = 0; i < n; i++) {
    is[i] = job_compare_sweep_find(paths[i], s[i].path, PATH_MAX);
    if (is[i] && !found++) a_sweep = i;
  }
  int rc = found == 0 ? -1 : JOB_EXIT_OK;
  if (found && found < n) {
    for (size_t i = 0; i < n; i++)
      if (!is[i])
        fprintf(stderr,
                "rbench compare: %s is not a sweep but %s is: compare sweeps (sweep.json or its "
                "directory) or sets of results documents, not both\n",
                paths[i], paths[a_sweep]);
    rc = JOB_EXIT_CONFIG;
  }
  for (size_t i = 0; rc == JOB_EXIT_OK && i < n; i++) {
    s[i].doc = job_compare_sweep_load(s[i].path);
    if (!s[i].doc) {
      rc = JOB_EXIT_FAILURE;
      break;
    }
    snprintf(s[i].label, sizeof s[i].label, "%.255s", paths[i]);
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(s[i].doc, "run");
    snprintf(s[i].run, sizeof s[i].run, "%s", cJSON_IsString(run) ? run->valuestring : "");
    job_compare_describe_json(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s[i].doc, "scenario"),
                                         "parameters"),
        s[i].name, sizeof s[i].name);
  }
  for (size_t i = 0; rc == JOB_EXIT_OK && i < n; i++) { /* the name tells it apart, or the label */
    bool unique = s[i].name[0] != '\0';
    for (size_t k = 0; k < n && unique; k++) unique = k == i || strcmp(s[k].name, s[i].name);
    if (!unique) snprintf(s[i].name, sizeof s[i].name, "%.199s", s[i].label);
  }
  size_t base = 0;
  if (rc == JOB_EXIT_OK && baseline) rc = sweep_baseline(s, n, baseline, &base);
  if (rc == JOB_EXIT_OK) rc = sweeps_report(s, n, base, json);
  for (size_t i = 0; i < n; i++) cJSON_Delete(s[i].doc);
  free(s);
  return rc;
}
