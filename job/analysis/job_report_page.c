/* job_report_page.c: the HTML page of `rbench report`: headline, settings, load curve,
 * distributions per mode, per-repetition table (see job_report.h). */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job_report.h"
#include "job_stats.h"
#include "job_compare_sweep.h"
#include "job_sweep.h"
#include "rb_version.h"

static const cJSON *item(const cJSON *o, const char *k) {
  return cJSON_GetObjectItemCaseSensitive(o, k);
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = item(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = item(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

#define text job_report_xml_text

/* ---- headline ----------------------------------------------------------------------------- */

/* Which side a run is on: its argument when the user named the sides, else its mode. */
static int side_of(const struct job_report_run *r, bool by_arg) {
  return by_arg ? r->side : r->batching;
}

static const struct job_report_run *first_plain(const struct job_report_run *runs, size_t count,
                                                bool by_arg, int side) {
  for (size_t i = 0; i < count; i++)
    if (side_of(&runs[i], by_arg) == side && isnan(runs[i].sweep_rate)) return &runs[i];
  return NULL;
}

/* With only sweep steps: the highest rate at which both sides ran. */
static void pick_sweep_pair(const struct job_report_run *runs, size_t count, bool by_arg,
                            const struct job_report_run **d, const struct job_report_run **b) {
  for (size_t i = 0; i < count; i++) {
    if (side_of(&runs[i], by_arg) != 0 || isnan(runs[i].sweep_rate)) continue;
    for (size_t k = 0; k < count; k++) {
      if (side_of(&runs[k], by_arg) != 1 || runs[k].sweep_rate != runs[i].sweep_rate) continue;
      if (!*d || runs[i].sweep_rate > (*d)->sweep_rate) {
        *d = &runs[i];
        *b = &runs[k];
      }
    }
  }
}

static enum rb_err add_group(struct job_side *s, const struct job_report_run *runs, size_t count,
                             const char *group) {
  char err[200];
  for (size_t i = 0; i < count; i++) {
    if (strcmp(runs[i].group, group)) continue;
    enum rb_err rc = job_side_add_doc(s, &runs[i].doc, err, sizeof err);
    if (rc != RB_OK) return rc;
  }
  return RB_OK;
}

static void no_pair(struct job_report_headline *h, const struct job_report_run *runs, size_t count,
                    bool by_arg) {
  if (by_arg) {
    snprintf(h->sentence, sizeof h->sentence,
             "one side only: name two results (files or directories) to compare");
    return;
  }
  size_t modes[3] = {0, 0, 0};
  for (size_t i = 0; i < count; i++) modes[runs[i].batching + 1]++;
  snprintf(h->sentence, sizeof h->sentence,
           "no direct and batched runs to compare (%zu direct, %zu batched, %zu without a batching "
           "parameter)",
           modes[1], modes[2], modes[0]);
}

/* The groups of plain runs (not sweep steps) in order of first appearance: by argument when
 * the user named the sides (every side must have one), else by group. 0 when they cannot be
 * grouped so. */
static size_t plain_groups(const struct job_report_run *runs, size_t count, bool by_arg,
                           const struct job_report_run **first, size_t max) {
  size_t n = 0;
  int sides = 0;
  for (size_t i = 0; i < count; i++) sides = runs[i].side + 1 > sides ? runs[i].side + 1 : sides;
  if (by_arg) {
    for (int s = 0; s < sides && n < max; s++) {
      const struct job_report_run *r = first_plain(runs, count, true, s);
      if (!r) return 0; /* a side of sweep steps only: the sweep section compares those */
      first[n++] = r;
    }
    return n;
  }
  for (size_t i = 0; i < count && n < max; i++) {
    if (!isnan(runs[i].sweep_rate)) continue;
    bool seen = false;
    for (size_t k = 0; k < n && !seen; k++) seen = !strcmp(first[k]->group, runs[i].group);
    if (!seen) first[n++] = &runs[i];
  }
  return n;
}

/* Groups that ran three placements or more (by their description): a directory of the
 * placements matrix, compared N ways. */
static bool many_placements(const struct job_report_run *const *first, size_t n) {
  char d[JOB_GROUPS_MAX][160];
  size_t distinct = 0;
  for (size_t i = 0; i < n && i < JOB_GROUPS_MAX; i++) {
    char x[160];
    job_compare_describe(&first[i]->doc, x, sizeof x);
    bool seen = !x[0];
    for (size_t k = 0; k < distinct && !seen; k++) seen = !strcmp(d[k], x);
    if (!seen) snprintf(d[distinct++], sizeof d[0], "%s", x);
  }
  return distinct >= 3;
}

/* Every group against the baseline (job_compare_groups.h). */
static enum rb_err nway_compute(const struct job_report_run *runs, size_t count, bool by_arg,
                                const struct job_report_run *const *first, size_t n,
                                const struct job_report_opts *o, struct job_report_headline *h,
                                char *err, size_t errlen) {
  h->sides = calloc(n, sizeof *h->sides);
  if (!h->sides) return RB_ERR_NOMEM;
  h->nway = true;
  h->g.n = n; /* job_report_headline_free frees this many sides */
  enum rb_err rc = RB_OK;
  for (size_t i = 0; i < n && rc == RB_OK; i++) {
    job_side_init(&h->sides[i], first[i]->group);
    rc = add_group(&h->sides[i], runs, count, first[i]->group);
  }
  size_t base = 0;
  if (rc == RB_OK && o->baseline)
    rc = job_groups_baseline(h->sides, n, o->baseline, &base, err, errlen);
  else if (rc == RB_OK && !by_arg) /* a directory: the first direct group, else the first */
    for (size_t i = n; i-- > 0;)
      if (!strcmp(h->sides[i].placement, "direct")) base = i;
  if (rc != RB_OK) return rc;
  rc = job_groups_compute(h->sides, n, base, 0.05, 1, o->min_change,
                          o->objective >= 0 && o->objective != JOB_OBJ_MAX_RATE
                              ? (enum job_objective)o->objective
                              : JOB_OBJ_BACKEND_CPU,
                          &h->g);
  if (rc != RB_OK) return rc;
  h->have = true;
  snprintf(h->direct, sizeof h->direct, "%s", h->sides[base].label);
  job_groups_headline(&h->g, h->sentence, sizeof h->sentence);
  return RB_OK;
}

enum rb_err job_report_headline_compute(const struct job_report_run *runs, size_t count,
                                        const struct job_min_change *min_change,
                                        struct job_report_headline *h) {
  struct job_report_opts o = {min_change, NULL, -1};
  char err[200];
  return job_report_headline_compute_opts(runs, count, &o, h, err, sizeof err);
}

enum rb_err job_report_headline_compute_opts(const struct job_report_run *runs, size_t count,
                                             const struct job_report_opts *o,
                                             struct job_report_headline *h, char *err,
                                             size_t errlen) {
  memset(h, 0, sizeof *h);
  const struct job_min_change *min_change = o->min_change;
  bool by_arg = false;
  for (size_t i = 0; i < count; i++) by_arg |= runs[i].side >= 0;
  const struct job_report_run *groups[JOB_GROUPS_MAX];
  size_t ng = plain_groups(runs, count, by_arg, groups, JOB_GROUPS_MAX);
  bool asked = o->baseline || o->objective >= 0;
  if (ng >= 2 && (by_arg ? ng >= 3 || asked : (ng >= 3 && many_placements(groups, ng)) || asked)) {
    enum rb_err rc = nway_compute(runs, count, by_arg, groups, ng, o, h, err, errlen);
    if (rc != RB_OK) job_report_headline_free(h);
    return rc;
  }
  const struct job_report_run *d = first_plain(runs, count, by_arg, 0),
                              *b = first_plain(runs, count, by_arg, 1);
  if (!d || !b) {
    d = b = NULL;
    pick_sweep_pair(runs, count, by_arg, &d, &b);
  }
  if (!d || !b || !strcmp(d->group, b->group)) { /* never a group against itself */
    no_pair(h, runs, count, by_arg);
    return RB_OK;
  }
  snprintf(h->direct, sizeof h->direct, "%s", d->group);
  snprintf(h->batched, sizeof h->batched, "%s", b->group);
  job_side_init(&h->a, h->direct);
  job_side_init(&h->b, h->batched);
  enum rb_err rc = add_group(&h->a, runs, count, h->direct);
  if (rc == RB_OK) rc = add_group(&h->b, runs, count, h->batched);
  if (rc == RB_OK) rc = job_compare_compute(&h->a, &h->b, 0.05, 1, &h->c);
  if (rc != RB_OK) {
    job_report_headline_free(h);
    return rc;
  }
  if (min_change) job_compare_apply_min_change(&h->c, min_change);
  h->have = true;
  if (h->a.batching == 0 && h->b.batching == 1) {
    job_compare_headline(&h->c, h->sentence, sizeof h->sentence);
  } else {
    char subject[400];
    snprintf(subject, sizeof subject, "compared with A (%s), B (%s)", h->direct, h->batched);
    job_compare_sentence(&h->c, subject, h->sentence, sizeof h->sentence);
  }
  return RB_OK;
}

void job_report_headline_free(struct job_report_headline *h) {
  job_side_free(&h->a);
  job_side_free(&h->b);
  for (size_t i = 0; h->sides && i < h->g.n; i++) job_side_free(&h->sides[i]);
  free(h->sides);
  h->sides = NULL;
  job_groups_free(&h->g);
  h->have = h->nway = false;
}

static void value_cell(FILE *out, double v, const char *why, bool reliable) {
  if (isnan(v)) {
    fprintf(out, "<td class=\"na\">n/a</td>");
    (void)why;
  } else {
    fprintf(out, "<td>%.4g%s</td>", v, reliable ? "" : "*");
  }
}

static void significance_cell(FILE *out, const struct job_comparison *c,
                              const struct job_cmp_row *r) {
  char p[32], basis[160];
  snprintf(p, sizeof p, r->p < 0.001 ? "p&lt;0.001" : "p=%.2g", r->p);
  fprintf(out, "<td class=\"l\">");
  if (r->why_a || r->why_b) {
    fprintf(out, "n/a: ");
    text(out, r->why_a ? r->why_a : r->why_b);
    if (r->why_a && r->why_b && strcmp(r->why_a, r->why_b)) {
      fprintf(out, "; ");
      text(out, r->why_b);
    }
  } else if (r->negligible) {
    fprintf(out, "<b>detectable but negligible</b> (%+.2g%%, under the %.3g%% that matters)",
            r->change * 100, r->min_change * 100);
    if (r->test != JOB_TEST_P99_CI) fprintf(out, ", %s", p);
  } else if (r->test == JOB_TEST_P99_CI) {
    fprintf(out, r->significant ? "<b>significant</b> (95%% CI of the difference excludes 0)"
                                : "~ not significant (95%% CI includes 0)");
  } else if (r->test && !isnan(r->p)) {
    if (r->significant) fprintf(out, "<b>significant</b>, %s", p);
    else fprintf(out, "~ not significant, %s", p);
  } else if (r->quantile > 0 && !(r->reliable_a && r->reliable_b)) {
    fprintf(out, "no test: under %zu invocations, the value is the maximum",
            job_quantile_min_samples(r->quantile));
  } else {
    fprintf(out, "no test");
  }
  job_compare_test_basis(c, r, basis, sizeof basis);
  if (basis[0] && !(r->why_a || r->why_b)) {
    fprintf(out, " <small>(");
    text(out, basis);
    fprintf(out, ")</small>");
  }
  fprintf(out, "</td>");
}

/* The run's name under the mode's, unless it is the same word. */
static void mode_name(FILE *out, const char *group, const char *mode) {
  if (!strcmp(group, mode)) return;
  fprintf(out, "<br><small>");
  text(out, group);
  fprintf(out, "</small>");
}

/* The caller's notes about the inputs (documents left out or flagged, groups split), one a line. */
static void input_notes(FILE *out, const char *notes) {
  if (!notes[0]) return;
  fprintf(out, "<ul class=\"warn\">\n");
  for (const char *p = notes; *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char line[600];
    snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
    fprintf(out, "<li>");
    text(out, line);
    fprintf(out, "</li>\n");
    p += n + (nl ? 1 : 0);
  }
  fprintf(out, "</ul>\n");
}

/* The workload both sides ran (mix, key distribution, value sizes, arrival process), beside
 * the headline. */
static void workload_line(FILE *out, const struct job_side *a, const struct job_side *b) {
  if (!a->workload[0] && !b->workload[0]) return;
  fprintf(out, "<p class=\"note\">Workload: ");
  if (!strcmp(a->workload, b->workload)) {
    text(out, a->workload);
  } else {
    fprintf(out, "A: ");
    text(out, a->workload);
    fprintf(out, "; B: ");
    text(out, b->workload);
  }
  fprintf(out, "</p>\n");
}

/* The colour of the runs of group `group` (the first of them). */
static const char *group_color(const struct job_report_run *runs, size_t count, const char *group) {
  for (size_t i = 0; i < count; i++)
    if (!strcmp(runs[i].group, group)) return job_report_run_color(runs, i);
  return "#555";
}

/* A value cell of the N-way table: the value, and for a group other than the baseline its
 * ratio to the baseline with the significance mark (the test on hover). */
static void nway_cell(FILE *out, const struct job_cmp_row *r, bool baseline) {
  double v = !r ? (double)NAN : baseline ? r->a : r->b;
  const char *why = !r ? NULL : baseline ? r->why_a : r->why_b;
  bool reliable = !r || (baseline ? r->reliable_a : r->reliable_b);
  if (isnan(v)) {
    fprintf(out, "<td class=\"na\" title=\"");
    text(out, why ? why : "not compared");
    fprintf(out, "\">n/a</td>");
    return;
  }
  if (baseline || !(r->a > 0)) {
    fprintf(out, "<td>%.4g%s</td>", v, reliable ? "" : "*");
    return;
  }
  const char *mark = !r->test ? "" : !r->significant ? "~" : r->negligible ? "=" : "!";
  double p = isnan(r->p_adjusted) ? r->p : r->p_adjusted;
  fprintf(out, "<td title=\"");
  if (!r->test) fprintf(out, "no test");
  else if (r->test == JOB_TEST_P99_CI)
    fprintf(out, "%s (bootstrap interval)", r->significant ? "significant" : "not significant");
  else
    fprintf(out, "%s, %sp=%.2g",
            r->significant ? (r->negligible ? "detectable but negligible" : "significant")
                           : "not significant",
            isnan(r->p_adjusted) ? "" : "Holm-adjusted ", p);
  fprintf(out, "\">%.4g%s <small>%.3gx%s</small></td>", v, reliable ? "" : "*", r->b / r->a, mark);
}

/* The N-way headline and table: a column per group (its colour), each value with its ratio
 * to the baseline and its mark. */
static void nway_section(FILE *out, const struct job_report_headline *h,
                         const struct job_report_run *runs, size_t count) {
  const struct job_groups *g = &h->g;
  fprintf(out, "<p class=\"note\">Workload: ");
  text(out, g->sides[g->baseline].workload[0] ? g->sides[g->baseline].workload : "unknown");
  fprintf(out, "</p>\n<div class=\"wide\"><table><tr><th>metric</th>");
  for (size_t i = 0; i < g->n; i++) {
    fprintf(out, "<th><span style=\"color:%s\">&#9632;</span> ",
            group_color(runs, count, g->sides[i].label));
    text(out, g->names[i]);
    if (strcmp(g->names[i], g->sides[i].label)) {
      fprintf(out, "<br><small>");
      text(out, g->sides[i].label);
      fprintf(out, "</small>");
    }
    if (i == g->baseline) fprintf(out, "<br><small>baseline</small>");
    fprintf(out, "</th>");
  }
  fprintf(out, "</tr>\n");
  static const char *const keys[] = {
      "execution_p50_ms",    "execution_p99_ms",      "throughput",
      "redis_cpu_us_per_op", "backend_cpu_us_per_op", "action_cpu_us_per_op",
      "redis_reads_per_op",  "redis_commands_per_op", "commands_per_batch"};
  /* the rows above, then the per-operation ones (op_<name>_p50_ms, ...) any comparison has */
  const char *list[sizeof keys / sizeof keys[0] + 2 * RB_OP_COUNT];
  size_t nlist = 0;
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) list[nlist++] = keys[k];
  for (size_t i = 0; i < g->n; i++)
    for (size_t k = 0; i != g->baseline && k < g->pairs[i].nrows; k++) {
      const char *key = g->pairs[i].rows[k].key;
      bool seen = strncmp(key, "op_", 3) != 0;
      for (size_t j = 0; j < nlist && !seen; j++) seen = !strcmp(list[j], key);
      if (!seen && nlist < sizeof list / sizeof list[0]) list[nlist++] = key;
    }
  for (size_t k = 0; k < nlist; k++) {
    const struct job_cmp_row *any = NULL;
    for (size_t i = 0; i < g->n && !any; i++) any = job_groups_row(g, i, list[k]);
    if (!any) continue;
    fprintf(out, "<tr><td>");
    text(out, any->metric);
    fprintf(out, "</td>");
    for (size_t i = 0; i < g->n; i++) {
      const struct job_cmp_row *r = i == g->baseline ? any : job_groups_row(g, i, list[k]);
      const char *why = job_groups_absent_why(g, i, list[k]);
      if (!r && why) {
        fprintf(out, "<td class=\"na\" title=\"");
        text(out, why);
        fprintf(out, "\">n/a</td>");
      } else {
        nway_cell(out, r, i == g->baseline);
      }
    }
    fprintf(out, "</tr>\n");
  }
  fprintf(out,
          "</table></div>\n<p class=\"note\">Each value is followed by its ratio to the baseline "
          "(");
  text(out, g->names[g->baseline]);
  fprintf(out,
          ") and its significance at alpha %.2g: ! significant, ~ not significant, = detectable "
          "but negligible (under the change that matters for the metric); the test on hover. "
          "Each group is compared with the baseline as rbench compare does",
          g->alpha);
  if (g->comparisons > 1)
    fprintf(out,
            ", the %zu comparisons of each metric corrected with Holm-Bonferroni (p99: a %.3g%% "
            "bootstrap interval)",
            g->comparisons, g->ci_level * 100);
  fprintf(out, ". n/a: the reason on hover.</p>\n");
}

static void headline_section(FILE *out, const struct job_report_headline *h,
                             const struct job_report_run *runs, size_t count) {
  fprintf(out, "<p class=\"headline\">");
  if (h->have) {
    char s[sizeof h->sentence];
    snprintf(s, sizeof s, "%s", h->sentence);
    s[0] = (char)(s[0] >= 'a' && s[0] <= 'z' ? s[0] - 32 : s[0]);
    text(out, s);
    fprintf(out, ".</p>\n");
  } else {
    text(out, h->sentence);
    fprintf(out, "</p>\n");
    input_notes(out, h->notes);
    return;
  }
  input_notes(out, h->notes);
  if (h->nway) {
    nway_section(out, h, runs, count);
    return;
  }
  workload_line(out, &h->a, &h->b);
  bool modes = h->a.batching == 0 && h->b.batching == 1; /* else the sides are A and B */
  static const char *const keys[] = {
      "execution_p50_ms",      "execution_p99_ms",      "throughput",
      "redis_cpu_us_per_op",   "backend_cpu_us_per_op", "redis_reads_per_op",
      "redis_commands_per_op", "commands_per_batch"};
  fprintf(out, "<div class=\"wide\"><table><tr><th>metric</th><th>%s", modes ? "direct" : "A");
  mode_name(out, h->direct, modes ? "direct" : "");
  fprintf(out, "</th><th>%s", modes ? "batched" : "B");
  mode_name(out, h->batched, modes ? "batched" : "");
  fprintf(out, "</th><th>%s</th><th class=\"l\">significance (alpha 0.05)</th></tr>\n",
          modes ? "batched / direct" : "B / A");
  bool starred = false, tilde = false;
  size_t nkeys = sizeof keys / sizeof keys[0];
  for (size_t i = 0; i < nkeys + h->c.nrows; i++) {
    /* the rows above, then the per-operation ones (op_<name>_p50_ms, ...) */
    const struct job_cmp_row *r =
        i < nkeys ? job_compare_row(&h->c, keys[i]) : &h->c.rows[i - nkeys];
    if (!r || (i >= nkeys && strncmp(r->key, "op_", 3))) continue;
    fprintf(out, "<tr><td>");
    text(out, r->metric);
    fprintf(out, "</td>");
    value_cell(out, r->a, r->why_a, r->reliable_a);
    value_cell(out, r->b, r->why_b, r->reliable_b);
    if (r->a > 0 && !isnan(r->b)) fprintf(out, "<td>%.3gx</td>", r->b / r->a);
    else fprintf(out, "<td>-</td>");
    significance_cell(out, &h->c, r);
    fprintf(out, "</tr>\n");
    starred |= (!r->reliable_a && !isnan(r->a)) || (!r->reliable_b && !isnan(r->b));
    tilde |= r->test && !r->significant && !(r->why_a || r->why_b);
  }
  fprintf(
      out,
      "</table></div>\n<p class=\"note\">Latency p50: Mann-Whitney U on %s; the other rows: the "
      "median of the "
      "repetitions' values, Mann-Whitney U on those values. A significant change smaller than the "
      "change "
      "that matters for its metric (%.3g%%, execution p99 %.3g%%, unless set with --min-change) is "
      "detectable but negligible.%s%s</p>\n",
      h->c.mwu_on_medians ? "the per-repetition medians" : "the invocations' execution times",
      JOB_MIN_CHANGE_DEFAULT * 100, JOB_MIN_CHANGE_P99 * 100,
      tilde ? " ~ marks a difference that is not significant." : "",
      starred ? " * fewer invocations than the percentile needs (p99: 100): the value is the "
                "sample maximum."
              : "");
  if (h->c.op_rows)
    fprintf(out,
            "<p class=\"note\">Per-operation rows (get p50, ...): the actions' own timings of each "
            "command, pooled over the repetitions' histograms; %s</p>\n",
            h->c.op_descriptive ? "descriptive only where a side has a single repetition (the "
                                  "actions report histograms, not samples)."
                                : "Mann-Whitney U on the per-repetition values.");
}

/* ---- settings ----------------------------------------------------------------------------- */

static bool first_of_group(const struct job_report_run *runs, size_t j) {
  for (size_t k = 0; k < j; k++)
    if (strcmp(runs[k].group, runs[j].group) == 0) return false;
  return true;
}

static size_t group_docs(const struct job_report_run *runs, size_t count, const char *group) {
  size_t n = 0;
  for (size_t i = 0; i < count; i++) n += strcmp(runs[i].group, group) == 0;
  return n;
}

/* Parameters whose 0 means "not set" (the runner then uses invocations, no warm-up, the
 * action's default key space, connections derived from the rate), with what applies then. */
static const char *unset_meaning(const char *k) {
  static const char *const zero_unset[][2] = {{"duration", "not set (invocations)"},
                                              {"warmup", "none"},
                                              {"key_space", "not set (= ops)"},
                                              {"connections", "not set (from the rate)"},
                                              {"concurrency", "not set (open loop)"}};
  for (size_t i = 0; i < sizeof zero_unset / sizeof zero_unset[0]; i++)
    if (!strcmp(zero_unset[i][0], k)) return zero_unset[i][1];
  return NULL;
}

static void param_cell(FILE *out, const struct job_doc *d, const char *k) {
  const struct job_param_field *f = job_params_field(k);
  const char *base = f ? (const char *)&d->params + f->offset : NULL;
  bool number = f && (f->type == JOB_P_DOUBLE || f->type == JOB_P_INT);
  double v = !number                   ? (double)NAN
             : f->type == JOB_P_DOUBLE ? *(const double *)(const void *)base
                                       : (double)*(const long long *)(const void *)base;
  if (!f || !job_doc_param_present(d, k)) fprintf(out, "<td class=\"na\">&mdash;</td>");
  else if (number && v == 0 && unset_meaning(k))
    fprintf(out, "<td class=\"na\">%s</td>", unset_meaning(k));
  else if (number) fprintf(out, "<td>%.6g</td>", v);
  else if (f->type == JOB_P_BOOL)
    fprintf(out, "<td>%s</td>", *(const bool *)(const void *)base ? "yes" : "no");
  else {
    fprintf(out, "<td>");
    text(out, base);
    fprintf(out, "</td>");
  }
}

/* Invocations as run: "600: 200 warm-up + 400 measured" from the document's counts, so the
 * settings agree with the tables, which count measured invocations only. */
static void invocations_cell(FILE *out, const struct job_doc *d) {
  double planned = isnan(d->planned) ? d->planned_invocations : d->planned;
  if (!d->has_invocations || isnan(planned) || isnan(d->warmup_count) || isnan(d->measured)) {
    param_cell(out, d, "invocations");
    return;
  }
  fprintf(out, "<td>%.0f: %.0f warm-up + %.0f measured</td>", planned, d->warmup_count,
          d->measured);
}

/* The load: "closed loop, N in flight" for a closed loop (rate and max_in_flight unused), else the
 * rate and max_in_flight cells. */
static void load_cells(FILE *out, const struct job_doc *d) {
  long long n = job_doc_param_present(d, "concurrency") ? d->params.concurrency : 0;
  if (n > 0) fprintf(out, "<td colspan=\"2\">closed loop, %lld in flight</td>", n);
  else {
    param_cell(out, d, "rate");
    param_cell(out, d, "max_in_flight");
  }
}

static void runs_table(FILE *out, const struct job_report_run *runs, size_t count) {
  static const char *const keys[] = {"duration", "warmup",     "ops",      "operation",
                                     "parallel", "value_size", "key_space"};
  static const char *const heads[] = {"batching (placement)",
                                      "rate /s",
                                      "max in flight",
                                      "invocations (first document)",
                                      "duration s",
                                      "warm-up s",
                                      "ops",
                                      "operation",
                                      "parallel",
                                      "value size",
                                      "key space"};
  fprintf(out, "<div class=\"wide\"><table><tr><th>run</th>");
  for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) fprintf(out, "<th>%s</th>", heads[k]);
  fprintf(out, "<th>documents</th></tr>\n");
  for (size_t i = 0; i < count; i++) {
    if (!first_of_group(runs, i)) continue;
    const struct job_doc *d = &runs[i].doc;
    fprintf(out, "<tr><td>");
    text(out, runs[i].group);
    fprintf(out, "</td>");
    char where[160]; /* where batching lived: the placement, else the batching parameter */
    job_compare_describe(d, where, sizeof where);
    if (job_doc_param_present(d, "placement")) {
      fprintf(out, "<td class=\"l\">");
      text(out, where);
      fprintf(out, "</td>");
    } else {
      param_cell(out, d, "batching");
    }
    load_cells(out, d);
    invocations_cell(out, d);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) param_cell(out, d, keys[k]);
    fprintf(out, "<td>%zu</td></tr>\n", group_docs(runs, count, runs[i].group));
  }
  fprintf(out, "</table></div>\n");
}

/* Scalar members of o as "k=v, k=v"; with unset_empty, "" and a 0 port are "not set". */
static void scalars(FILE *out, const cJSON *o, bool unset_empty) {
  const cJSON *v;
  bool first = true;
  cJSON_ArrayForEach(v, o) {
    if (cJSON_IsObject(v) || cJSON_IsArray(v) || !v->string) continue;
    fprintf(out, "%s", first ? "" : ", ");
    text(out, v->string);
    size_t kl = strlen(v->string);
    bool port = kl > 5 && !strcmp(v->string + kl - 5, "_port");
    if (unset_empty && ((cJSON_IsString(v) && !v->valuestring[0]) ||
                        (cJSON_IsNumber(v) && port && v->valuedouble == 0)))
      fprintf(out, " not set");
    else if (cJSON_IsNumber(v)) fprintf(out, "=%.6g", v->valuedouble);
    else if (cJSON_IsString(v)) {
      fputc('=', out);
      text(out, v->valuestring);
    } else fprintf(out, "=%s", cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : "null");
    first = false;
  }
}

static const struct job_doc_backend *first_section(const struct job_report_run *runs, size_t count,
                                                   bool agent) {
  for (size_t i = 0; i < count; i++) {
    const struct job_doc_backend *b = agent ? &runs[i].doc.agent : &runs[i].doc.redis;
    if (b->present) return b;
  }
  return NULL;
}

static void setting(FILE *out, const char *name) {
  fprintf(out, "<tr><th>%s</th><td class=\"l\">", name);
}

static void settings_section(FILE *out, const struct job_report_run *runs, size_t count) {
  const struct job_doc *d = &runs[0].doc;
  fprintf(out, "<h2>Settings</h2>\n<div class=\"wide\"><table class=\"kv\">\n");
  setting(out, "scenario");
  text(out, d->scenario_name && *d->scenario_name ? d->scenario_name : "(command line)");
  if (d->description) {
    fprintf(out, ": ");
    text(out, d->description);
  }
  fprintf(out, "</td></tr>\n");
  setting(out, "target");
  text(out, d->target ? d->target : "-");
  if (!isnan(d->target_pool_size))
    fprintf(out, ", pool of %.0f rbench-action processes", d->target_pool_size);
  if (d->action) {
    fprintf(out, ", action ");
    text(out, d->action);
  }
  fprintf(out, "</td></tr>\n");
  setting(out, "workload");
  char wl[400];
  job_doc_workload_text(d, wl, sizeof wl);
  text(out, wl);
  fprintf(out, "</td></tr>\n");
  const struct job_doc_backend *redis = first_section(runs, count, false),
                               *agent = first_section(runs, count, true);
  setting(out, "Redis");
  if (redis && redis->endpoint) text(out, redis->endpoint);
  else fprintf(out, "not sampled by this rbench");
  fprintf(out, "</td></tr>\n");
  setting(out, "agent");
  if (agent) {
    text(out, agent->endpoint ? agent->endpoint : "metrics endpoint not configured");
    if (agent->settings) {
      fprintf(out, "; ");
      scalars(out, agent->settings, false);
    }
    if (agent->warning) {
      fprintf(out, "; <strong>warning: ");
      text(out, agent->warning);
      fprintf(out, "</strong>");
    }
  } else {
    fprintf(out, "not sampled (no batched run measured it)");
  }
  fprintf(out, "</td></tr>\n");
  if (d->config) {
    setting(out, "configuration");
    scalars(out, d->config, true);
    fprintf(out, "</td></tr>\n");
  }
  setting(out, "machine");
  text(out, d->hostname ? d->hostname : "-");
  if (d->host_os) {
    fprintf(out, ", ");
    text(out, d->host_os);
  }
  if (!isnan(d->host_cpus)) fprintf(out, ", %.0f CPUs", d->host_cpus);
  if (d->rbench_version) {
    fprintf(out, "; rbench ");
    text(out, d->rbench_version);
    fprintf(out, " (");
    text(out, d->rbench_commit ? d->rbench_commit : "?");
    fprintf(out, ")");
  }
  fprintf(out, "</td></tr>\n");
  double start = d->start_time_ms;
  if (!isnan(start)) {
    time_t t = (time_t)(start / 1000);
    struct tm tm;
    char when[64];
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    setting(out, "first run");
    fprintf(out, "%s</td></tr>\n", when);
  }
  fprintf(out, "</table></div>\n");
  runs_table(out, runs, count);
}

/* ---- capacity sweeps ---------------------------------------------------------------------- */

/* The batching parameter of the sweep: its summary's, else that of the results documents
 * whose run it summarises. */
static int sweep_batching(const struct job_report_run *runs, size_t count, const cJSON *sweep) {
  int b = job_report_sweep_batching(sweep);
  const char *run = str(sweep, "run");
  for (size_t i = 0; b < 0 && run && i < count; i++) {
    const char *r = runs[i].doc.run_name;
    if (r && !strcmp(r, run) && runs[i].batching >= 0) return runs[i].batching;
  }
  return b;
}

/* The batched/direct ratio of the max sustainable rates, with the bounds `rbench compare`
 * states (job_sweep_compare_json): "at least" when only the batched rate is a lower bound,
 * "at most" when only the direct one is, unknown when both are. */
static void sweep_ratio(FILE *out, const struct job_report_run *runs, size_t count,
                        const cJSON *const *sweeps, size_t n) {
  const cJSON *d = NULL, *b = NULL;
  for (size_t i = 0; i < n; i++) {
    int m = sweep_batching(runs, count, sweeps[i]);
    if (m == 0 && !d) d = sweeps[i];
    if (m == 1 && !b) b = sweeps[i];
  }
  double rd = num(d, "max_sustainable_rate"), rb = num(b, "max_sustainable_rate");
  if (!(rd > 0) || !(rb > 0)) return;
  cJSON *cmp = job_compare_sweep_json(d, str(d, "run") ? str(d, "run") : "direct", b,
                                      str(b, "run") ? str(b, "run") : "batched");
  const char *bound = str(cmp, "ratio_bound");
  bool la = cJSON_IsTrue(item(d, "max_sustainable_rate_at_least")),
       lb = cJSON_IsTrue(item(b, "max_sustainable_rate_at_least"));
  fprintf(out, "<p>Under the same SLO, the batched sweep (");
  text(out, str(b, "run") ? str(b, "run") : "?");
  fprintf(out, ") sustained %s%.4g/s and the direct sweep (", lb ? "at least " : "", rb);
  text(out, str(d, "run") ? str(d, "run") : "?");
  fprintf(out, ") %s%.4g/s: ", la ? "at least " : "", rd);
  if (bound && !strcmp(bound, "unknown"))
    fprintf(out,
            "%.3gx, but <b>both rates are lower bounds</b>: extend both sweeps to know the "
            "ratio.</p>\n",
            rb / rd);
  else
    fprintf(out, "<b>%s%.3gx</b>.</p>\n",
            bound && !strcmp(bound, "at_least")  ? "at least "
            : bound && !strcmp(bound, "at_most") ? "at most "
                                                 : "",
            rb / rd);
  if (!cJSON_IsTrue(item(cmp, "same_slo")))
    fprintf(out,
            "<p class=\"note\">Warning: the two sweeps were judged against different SLOs.</p>\n");
  cJSON_Delete(cmp);
}

/* What `rbench compare` says under its sweep table: runner-limited steps (the runner, not the
 * system, could not keep the schedule: the verdict says little about the system), lower
 * bounds, gaps and an unfinished sweep. */
static void sweep_caveats(FILE *out, const cJSON *const *sweeps, size_t n) {
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    const char *run = str(sweeps[i], "run") ? str(sweeps[i], "run") : "sweep";
    const cJSON *st;
    cJSON_ArrayForEach(st, item(sweeps[i], "steps")) {
      if (!cJSON_IsTrue(item(st, "runner_limited"))) continue;
      fprintf(out, "%s<li>", any ? "" : "<ul class=\"note\">");
      any = true;
      text(out, run);
      fprintf(out, " at %.4g/s: <b>runner-limited</b>", num(st, "rate"));
      if (str(st, "runner_note")) {
        fprintf(out, ": ");
        text(out, str(st, "runner_note"));
      }
      fprintf(out, "</li>\n");
    }
    bool at_least = cJSON_IsTrue(item(sweeps[i], "max_sustainable_rate_at_least"));
    const char *note = str(sweeps[i], "note");
    bool incomplete = cJSON_IsFalse(item(sweeps[i], "complete"));
    if (!at_least && !note && !incomplete) continue;
    fprintf(out, "%s<li>", any ? "" : "<ul class=\"note\">");
    any = true;
    text(out, run);
    fprintf(out, ":");
    if (at_least)
      fprintf(out,
              " the max sustainable rate is a <b>lower bound</b> (no higher step failed on the "
              "system).");
    if (incomplete) fprintf(out, " the sweep did not finish.");
    if (note) {
      fprintf(out, " ");
      text(out, note);
    }
    fprintf(out, "</li>\n");
  }
  if (any) fprintf(out, "</ul>\n");
}

static void sweep_section(FILE *out, const struct job_report_run *runs, size_t count,
                          const cJSON *const *sweeps, size_t n) {
  fprintf(out, "<h2>Latency against load</h2>\n<figure>\n");
  job_report_load_svg(out, sweeps, n);
  fprintf(out,
          "</figure>\n<div class=\"wide\"><table><tr><th>sweep</th><th>SLO</th><th>steps</th>"
          "<th>max sustainable rate /s</th>%s</tr>\n",
          n >= 3 ? "<th>ratio to the first</th>" : "");
  for (size_t i = 0; i < n; i++) {
    const cJSON *slo = item(sweeps[i], "slo");
    fprintf(out, "<tr><td>");
    text(out, str(sweeps[i], "run") ? str(sweeps[i], "run") : "sweep");
    fprintf(out,
            "</td><td class=\"l\">p99 &le; %.4g ms, errors &le; %.4g, achieved &ge; %.4g of "
            "intended</td><td>%d</td>",
            num(slo, "p99_ms"), num(slo, "max_error_rate"), num(slo, "min_achieved_ratio"),
            cJSON_GetArraySize(item(sweeps[i], "steps")));
    double max = num(sweeps[i], "max_sustainable_rate");
    if (isnan(max)) fprintf(out, "<td>none met the SLO</td>");
    else
      fprintf(out, "<td>%s%.4g</td>",
              cJSON_IsTrue(item(sweeps[i], "max_sustainable_rate_at_least")) ? "at least " : "",
              max);
    if (n >= 3) { /* N sweeps: each one's max rate against the first's, bounds as compare */
      cJSON *cmp = job_compare_sweep_json(sweeps[0], "first", sweeps[i], "this");
      double ratio = num(cmp, "ratio");
      const char *bound = str(cmp, "ratio_bound");
      if (i == 0) fprintf(out, "<td>1</td>");
      else if (isnan(ratio)) fprintf(out, "<td class=\"na\">not defined</td>");
      else
        fprintf(out, "<td>%s%.3gx</td>",
                !bound                       ? ""
                : !strcmp(bound, "at_least") ? "at least "
                : !strcmp(bound, "at_most")  ? "at most "
                : !strcmp(bound, "unknown")  ? "both lower bounds: "
                                             : "",
                ratio);
      cJSON_Delete(cmp);
    }
    fprintf(out, "</tr>\n");
  }
  fprintf(out, "</table></div>\n");
  sweep_caveats(out, sweeps, n);
  sweep_ratio(out, runs, count, sweeps, n);
}

/* ---- distributions ------------------------------------------------------------------------ */

/* A percentile cell; true when it carries "*" (the value is the maximum). */
static bool pct_cell(FILE *out, const double *sorted, size_t n, double q) {
  bool star = n && n < job_quantile_min_samples(q);
  if (!n) fprintf(out, "<td>-</td>");
  else fprintf(out, "<td>%.4g%s</td>", job_quantile_sorted(sorted, n, q), star ? "*" : "");
  return star;
}

static void star_note(FILE *out, bool starred, const char *extra) {
  if (!starred && !extra[0]) return;
  fprintf(out, "<p class=\"note\">");
  if (starred)
    fprintf(out,
            "* fewer invocations than the percentile needs (p90: %zu, p99: %zu): the value is the "
            "maximum.%s",
            job_quantile_min_samples(90), job_quantile_min_samples(99), extra[0] ? " " : "");
  fprintf(out, "%s</p>\n", extra);
}

/* Every group's invocations pooled across its repetitions. */
static void pooled_table(FILE *out, const struct job_report_run *runs, size_t count) {
  fprintf(out,
          "<div class=\"wide\"><table><tr><th>group (repetitions pooled)</th><th>documents</th>"
          "<th>measured successful invocations</th><th>p50 ms</th><th>p90 ms</th><th>p99 "
          "ms</th><th>max ms</th></tr>\n");
  bool starred = false;
  for (size_t i = 0; i < count; i++) {
    if (!first_of_group(runs, i)) continue;
    size_t n = 0;
    for (size_t k = 0; k < count; k++)
      n += strcmp(runs[k].group, runs[i].group) == 0 ? runs[k].n : 0;
    double *v = malloc((n + 1) * sizeof *v);
    if (!v) continue;
    size_t m = 0;
    for (size_t k = 0; k < count; k++) {
      if (strcmp(runs[k].group, runs[i].group)) continue;
      memcpy(v + m, runs[k].exec_sorted, runs[k].n * sizeof *v);
      m += runs[k].n;
    }
    job_sort_doubles(v, n);
    fprintf(out, "<tr><td><span style=\"color:%s\">&#9632;</span> ", job_report_run_color(runs, i));
    text(out, runs[i].group);
    fprintf(out, "</td><td>%zu</td><td>%zu</td>", group_docs(runs, count, runs[i].group), n);
    starred |= pct_cell(out, v, n, 50);
    starred |= pct_cell(out, v, n, 90);
    starred |= pct_cell(out, v, n, 99);
    pct_cell(out, v, n, 100);
    fprintf(out, "</tr>\n");
    free(v);
  }
  fprintf(out, "</table></div>\n");
  star_note(out, starred, "");
}

/* A per-document figure; true when it is n/a (the reason on hover). */
static bool doc_metric_cell(FILE *out, const struct job_doc *doc, enum job_doc_metric m) {
  char why[200];
  double v = job_doc_metric(doc, m, why, sizeof why);
  if (isnan(v)) {
    fprintf(out, "<td class=\"na\" title=\"");
    text(out, why);
    fprintf(out, "\">n/a</td>");
  } else {
    fprintf(out, "<td>%.4g</td>", v);
  }
  return isnan(v);
}

static bool summary_cell(FILE *out, const struct job_report_run *r, double v, double q) {
  bool star = !isnan(v) && q > 0 && r->n < job_quantile_min_samples(q);
  if (isnan(v)) fprintf(out, "<td>-</td>");
  else fprintf(out, "<td>%.4g%s</td>", v, star ? "*" : "");
  return star;
}

static void repetition_table(FILE *out, const struct job_report_run *runs, size_t count) {
  fprintf(out,
          "<div class=\"wide\"><table><tr><th>run</th><th>measured successful "
          "invocations</th><th>p50 ms</th>"
          "<th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>success</th><th>requested "
          "/s</th><th>achieved /s</th>"
          "<th>Redis CPU/op us</th><th>Redis cmds/op</th><th>backend CPU/op "
          "us</th><th>cmds/batch</th></tr>\n");
  bool starred = false, na = false;
  for (size_t i = 0; i < count; i++) {
    const struct job_report_run *r = &runs[i];
    fprintf(out, "<tr><td><span style=\"color:%s\">&#9632;</span> ", job_report_run_color(runs, i));
    text(out, r->label);
    fprintf(out, "</td><td>%zu</td>", r->n);
    starred |= summary_cell(out, r, r->doc.execution.p50, 50);
    starred |= summary_cell(out, r, r->doc.execution.p90, 90);
    starred |= summary_cell(out, r, r->doc.execution.p99, 99);
    summary_cell(out, r, r->doc.execution.max, 0);
    fprintf(out, "<td>%.2f%%</td>", r->success_rate * 100);
    /* a closed loop requests no rate: it sends when invocations finish */
    if (isnan(r->requested_rate))
      fprintf(out, "<td title=\"closed loop: no requested rate\">closed loop</td>");
    else fprintf(out, "<td>%.4g</td>", r->requested_rate);
    fprintf(out, "<td>%.4g</td>", r->achieved_rate);
    na |= doc_metric_cell(out, &r->doc, JOB_DM_REDIS_CPU);
    na |= doc_metric_cell(out, &r->doc, JOB_DM_REDIS_COMMANDS);
    na |= doc_metric_cell(out, &r->doc, JOB_DM_BACKEND_CPU);
    na |= doc_metric_cell(out, &r->doc, JOB_DM_PER_BATCH);
    fprintf(out, "</tr>\n");
  }
  fprintf(out, "</table></div>\n");
  star_note(out, starred, na ? "n/a: hover for the reason." : "");
}

static const char style[] =
    "body{font-family:sans-serif;margin:1.5em auto;max-width:1180px;padding:0 "
    "1em;color:#222;line-height:1.35}"
    "table{border-collapse:collapse;margin:0.5em 0;font-size:14px}"
    "td,th{border:1px solid #ccc;padding:3px "
    "7px;text-align:right}td:first-child,th:first-child,.l{text-align:left}"
    "th{background:#f4f4f4}.kv th{text-align:left;white-space:nowrap}.na{color:#999}"
    ".wide{max-width:100%;overflow-x:auto}figure{margin:1em 0}svg{max-width:100%;height:auto}"
    ".headline{font-size:1.3em;font-weight:bold;margin:0.6em "
    "0}.warn{color:#a40000}.note{font-size:0.9em;color:#555}";

void job_report_html(FILE *out, const struct job_report_run *runs, size_t count,
                     const cJSON *const *sweeps, size_t count_sweeps,
                     const struct job_report_headline *h) {
  fprintf(out,
          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>rbench "
          "report</title>\n"
          "<style>%s</style></head><body>\n<h1>rbench report</h1>\n",
          style);
  headline_section(out, h, runs, count);
  if (count) settings_section(out, runs, count);
  if (count_sweeps) sweep_section(out, runs, count, sweeps, count_sweeps);
  if (count) {
    fprintf(out,
            "<h2>Distributions</h2>\n<p>Execution time is measured from each invocation's intended "
            "start (open "
            "loop, coordinated omission corrected). Colour: the run; marker shape: the "
            "repetition.</p>\n");
    pooled_table(out, runs, count);
    for (int p = 0; p < 4; p++) {
      fprintf(out, "<figure>\n");
      job_report_svg(out, (enum job_plot)p, runs, count);
      fprintf(out, "</figure>\n");
    }
    fprintf(out, "<h2>Repetitions</h2>\n");
    repetition_table(out, runs, count);
  }
  fprintf(out, "<p class=\"note\">rbench %s (%s)</p>\n</body></html>\n", RBENCH_VERSION,
          RBENCH_GIT_COMMIT);
}
