/* job_report.c: SVG plots and the HTML report (see job_report.h). */
#define _GNU_SOURCE
#include "job_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "job_settings.h"
#include "job_stats.h"
#include "rb_version.h"

#define W 760.0
#define H 380.0
#define ML 70.0 /* margins */
#define MR 170.0
#define MT 40.0
#define MB 50.0
#define MAX_SECONDS 86400

/* Colours by mode, so a mode looks the same in every report: direct runs blue shades, batched
 * runs red shades, runs without a batching parameter green and grey. The k-th distinct group
 * of a mode (in order of first appearance) takes the mode's k-th shade. */
#define SHADES 4
static const char *const mode_palette[4][SHADES] = {
    {"#2ca02c", "#7f7f7f", "#bcbd22", "#393b79"}, /* unknown */
    {"#1f77b4", "#17becf", "#9467bd", "#08306b"}, /* direct */
    {"#d62728", "#ff7f0e", "#e377c2", "#8c564b"}, /* batched (placement agent) */
    {"#6a3d9a", "#b8860b", "#2e8b57", "#c51b7d"}, /* runtime batching */
};

static bool first_of_group(const struct job_report_run *runs, size_t j) {
  for (size_t k = 0; k < j; k++) {
    if (strcmp(runs[k].group, runs[j].group) == 0) return false;
  }
  return true;
}

static int mode_index(int batching) { return batching == 0 ? 1 : batching == 1 ? 2 : 0; }

const char *job_report_mode_color(int batching, size_t k) {
  return mode_palette[mode_index(batching)][k % SHADES];
}

/* A run's mode: runtime batching has its own palette (its batching parameter is false). */
static int run_mode(const struct job_report_run *r) {
  return r->placement == JOB_PLACE_RUNTIME ? 3 : mode_index(r->batching);
}

const char *job_report_run_color(const struct job_report_run *runs, size_t i) {
  size_t first = i; /* where run i's group first appears */
  for (size_t j = 0; j < i && first == i; j++) {
    if (strcmp(runs[j].group, runs[i].group) == 0) first = j;
  }
  size_t k = 0; /* distinct groups of the same mode before it */
  for (size_t j = 0; j < first; j++)
    k += first_of_group(runs, j) && run_mode(&runs[j]) == run_mode(&runs[first]);
  return mode_palette[run_mode(&runs[first])][k % SHADES];
}

double job_report_pct_x(double p) {
  if (p >= 100.0) return (double)INFINITY;
  return -log10(1.0 - p / 100.0);
}

int job_plot_parse(const char *name) {
  static const char *const names[] = {"percentiles", "latency", "throughput", "errors"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, names[i])) return i;
  return -1;
}

static double get(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

static void run_label(struct job_report_run *r, const struct job_doc *d) {
  double rep = d->repetition, reps = d->repetitions;
  r->rep = rep >= 1 && rep < 1e6 ? (int)rep : 1;
  r->batching = job_doc_param_present(d, "batching") ? d->params.batching : -1;
  r->placement = job_doc_param_present(d, "placement") ? (int)job_params_placement(&d->params)
                 : r->batching >= 0 ? (r->batching ? JOB_PLACE_AGENT : JOB_PLACE_DIRECT)
                                    : -1;
  r->sweep_rate = d->sweep_rate;
  snprintf(r->group, sizeof r->group, "%s", d->run_name ? d->run_name : "run");
  if (!isnan(r->sweep_rate)) {
    size_t n = strlen(r->group);
    snprintf(r->group + n, sizeof r->group - n, " @%.4g/s", r->sweep_rate);
  }
  snprintf(r->label, sizeof r->label, "%s", r->group);
  if (reps > 1) {
    size_t n = strlen(r->label);
    snprintf(r->label + n, sizeof r->label - n, " r%d", r->rep);
  }
}

/* The label: the group, and " rK" when the run has repetitions. */
static void set_label(struct job_report_run *r) {
  double reps = r->doc.repetitions;
  snprintf(r->label, sizeof r->label, "%s", r->group);
  if (reps > 1) {
    size_t n = strlen(r->label);
    snprintf(r->label + n, sizeof r->label - n, " r%d", r->rep);
  }
}

/* group = name suffix, then " @RATE/s" for a sweep step. */
static void set_group(struct job_report_run *r, const char *name, const char *suffix) {
  snprintf(r->group, sizeof r->group, "%s%s", name, suffix);
  if (!isnan(r->sweep_rate)) {
    size_t n = strlen(r->group);
    snprintf(r->group + n, sizeof r->group - n, " @%.4g/s", r->sweep_rate);
  }
  set_label(r);
}

void job_report_group_by_side(struct job_report_run *runs, size_t count,
                              const char *const *labels) {
  for (size_t i = 0; i < count; i++)
    if (runs[i].side >= 0) set_group(&runs[i], labels[runs[i].side], "");
}

static const char *run_name(const struct job_report_run *r) {
  return r->doc.run_name ? r->doc.run_name : "run";
}

void job_report_group_by_settings(struct job_report_run *runs, size_t count, char *notes,
                                  size_t len) {
  size_t *leader = calloc(count + 1, sizeof *leader);
  if (!leader) return;
  char what[200];
  for (size_t i = 0; i < count; i++) { /* the first run of the same name and settings */
    leader[i] = i;
    for (size_t j = 0; j < i && leader[i] == i; j++)
      if (leader[j] == j && !strcmp(run_name(&runs[j]), run_name(&runs[i])) &&
          !job_settings_diff(&runs[j].doc, &runs[i].doc, false, what, sizeof what))
        leader[i] = j;
  }
  for (size_t i = 0; i < count; i++) {
    if (leader[i] != i) continue;
    char suffix[120] = "";
    for (size_t j = 0; j < count && !suffix[0]; j++) { /* another group of this name */
      if (leader[j] != j || j == i || strcmp(run_name(&runs[j]), run_name(&runs[i]))) continue;
      if (!job_settings_diff(&runs[i].doc, &runs[j].doc, true, what, sizeof what))
        continue; /* one sweep */
      char v[100];
      job_settings_label(what, v, sizeof v);
      snprintf(suffix, sizeof suffix, " (%s)", v);
      size_t n = strlen(notes);
      if (j > i && n < len)
        snprintf(notes + n, len - n,
                 "documents of run '%s' were run with different settings (%s): shown as "
                 "separate groups, not pooled\n",
                 run_name(&runs[i]), what);
    }
    set_group(&runs[i], run_name(&runs[i]), suffix);
  }
  for (size_t i = 0; i < count; i++) { /* the others take their first run's group */
    if (leader[i] == i) continue;
    memcpy(runs[i].group, runs[leader[i]].group, sizeof runs[i].group);
    set_label(&runs[i]);
  }
  free(leader);
}

bool job_report_is_sweep(const cJSON *doc) {
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
  return cJSON_IsString(kind) && !strcmp(kind->valuestring, "sweep") &&
         cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "steps"));
}

/* Per-second p50/p99 from (second, value) pairs. */
static void per_second_quantiles(struct job_report_run *r, const double *sec, const double *val,
                                 size_t n) {
  size_t *count = calloc(r->seconds, sizeof *count);
  double **bucket = calloc(r->seconds, sizeof *bucket);
  for (size_t i = 0; count && bucket && i < n; i++) count[(size_t)sec[i]]++;
  for (size_t s = 0; count && bucket && s < r->seconds; s++)
    bucket[s] = count[s] ? malloc(count[s] * sizeof(double)) : NULL;
  size_t *fill = calloc(r->seconds, sizeof *fill);
  for (size_t i = 0; fill && bucket && i < n; i++) {
    size_t s = (size_t)sec[i];
    if (bucket[s]) bucket[s][fill[s]++] = val[i];
  }
  for (size_t s = 0; s < r->seconds; s++) {
    r->sec_p50[s] = r->sec_p99[s] = (double)NAN;
    if (!fill || !bucket || !bucket[s] || !fill[s]) continue;
    job_sort_doubles(bucket[s], fill[s]);
    r->sec_p50[s] = job_quantile_sorted(bucket[s], fill[s], 50);
    r->sec_p99[s] = job_quantile_sorted(bucket[s], fill[s], 99);
  }
  for (size_t s = 0; bucket && s < r->seconds; s++) free(bucket[s]);
  free(bucket);
  free(count);
  free(fill);
}

static size_t clamp_sec(double ms) {
  double s = floor(ms / 1000.0);
  if (s < 0 || isnan(s)) return 0;
  return s > MAX_SECONDS ? MAX_SECONDS : (size_t)s;
}

/* The run ends inside its last reply's second: plotted as a count, that second would show a
 * drop the run never had. It becomes a rate over the part covered, or is left out when that
 * part is under a quarter of a second. */
static void last_second_rate(struct job_report_run *r, double last_end_ms) {
  size_t last = clamp_sec(last_end_ms);
  double covered = last_end_ms / 1000.0 - (double)last;
  r->rate_seconds = r->seconds;
  if (last >= r->seconds || last_end_ms / 1000.0 > MAX_SECONDS) return;
  if (covered >= 0.25) {
    r->sec_ok[last] /= covered;
    r->sec_err[last] /= covered;
    r->rate_seconds = last + 1;
  } else {
    r->rate_seconds = last;
  }
}

enum rb_err job_report_run_init_path(struct job_report_run *r, const cJSON *doc, const char *path,
                                     char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  enum rb_err rc = job_doc_read(doc, path, &r->doc, err, errlen);
  if (rc != RB_OK) return rc;
  const struct job_doc *d = &r->doc;
  if (!d->has_raw) {
    job_doc_free(&r->doc);
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s%sa summary without raw_results: the report needs the full "
                     "results file",
                     path ? path : "", path ? ": " : "");
  }
  run_label(r, d);
  r->side = -1;
  r->success_rate = d->success_rate;
  r->achieved_rate = d->achieved_rate;
  r->requested_rate = d->requested_rate;
  size_t total = d->nraw;
  r->exec_sorted = malloc((total + 1) * sizeof(double));
  double *sec = malloc((total + 1) * sizeof(double));
  size_t maxsec = 0;
  for (size_t i = 0; i < total; i++) {
    size_t s = clamp_sec(fmax(d->raw[i].end_ms, d->raw[i].intended_ms));
    if (s + 1 > maxsec) maxsec = s + 1;
  }
  r->seconds = maxsec;
  r->sec_p50 = calloc(maxsec + 1, sizeof(double));
  r->sec_p99 = calloc(maxsec + 1, sizeof(double));
  r->sec_ok = calloc(maxsec + 1, sizeof(double));
  r->sec_err = calloc(maxsec + 1, sizeof(double));
  if (!r->exec_sorted || !sec || !r->sec_p50 || !r->sec_p99 || !r->sec_ok || !r->sec_err) {
    free(sec);
    job_report_run_free(r);
    return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  }
  double last_end = 0;
  for (size_t i = 0; i < total; i++) {
    const struct job_doc_record *x = &d->raw[i];
    (x->success ? r->sec_ok : r->sec_err)[clamp_sec(x->end_ms)] += 1;
    if (x->end_ms > last_end) last_end = x->end_ms;
    if (x->success && !x->warmup) {
      sec[r->n] = (double)clamp_sec(x->intended_ms);
      r->exec_sorted[r->n++] = x->execution_ms;
    }
  }
  last_second_rate(r, last_end);
  per_second_quantiles(r, sec, r->exec_sorted, r->n);
  free(sec);
  job_sort_doubles(r->exec_sorted, r->n);
  return RB_OK;
}

enum rb_err job_report_run_init(struct job_report_run *r, const cJSON *doc, char *err,
                                size_t errlen) {
  return job_report_run_init_path(r, doc, NULL, err, errlen);
}

void job_report_run_free(struct job_report_run *r) {
  job_doc_free(&r->doc);
  free(r->exec_sorted);
  free(r->sec_p50);
  free(r->sec_p99);
  free(r->sec_ok);
  free(r->sec_err);
  memset(r, 0, sizeof *r);
}

void job_report_xml_text(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '<') fputs("&lt;", out);
    else if (*s == '>') fputs("&gt;", out);
    else if (*s == '&') fputs("&amp;", out);
    else if (*s == '"') fputs("&quot;", out);
    else fputc(*s, out);
  }
}

/* A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
static double nice_max(double v) {
  if (!(v > 0) || isinf(v)) return 1;
  double p = pow(10, floor(log10(v)));
  double m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

struct frame {
  double xmax, ymax;
};

static double px(const struct frame *f, double x) { return ML + x / f->xmax * (W - ML - MR); }
static double py(const struct frame *f, double y) { return H - MB - y / f->ymax * (H - MT - MB); }

static void axes(FILE *out, const struct frame *f, const char *title, const char *xlabel,
                 const char *ylabel, bool pct_axis) {
  fprintf(out,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 "
          "%.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
          W, H, W, H);
  fprintf(out,
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"%.0f\" y=\"22\" "
          "font-size=\"15\" font-weight=\"bold\">",
          ML);
  job_report_xml_text(out, title);
  fprintf(out, "</text>\n<g stroke=\"#ccc\">\n");
  for (int i = 0; i <= 5; i++) {
    double y = f->ymax * i / 5;
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ML, py(f, y), W - MR,
            py(f, y));
  }
  int xt = pct_axis ? (int)f->xmax : 5;
  for (int i = 0; i <= xt; i++) {
    double x = pct_axis ? i : f->xmax * i / 5;
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(f, x), MT,
            px(f, x), H - MB);
  }
  fprintf(out, "</g>\n<g fill=\"#333\">\n");
  for (int i = 0; i <= 5; i++)
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", ML - 6,
            py(f, f->ymax * i / 5) + 4, f->ymax * i / 5);
  static const char *const pct_labels[] = {"0%",     "90%",     "99%",     "99.9%",
                                           "99.99%", "99.999%", "99.9999%"};
  for (int i = 0; i <= xt; i++) {
    double x = pct_axis ? i : f->xmax * i / 5;
    char lab[32];
    if (pct_axis) snprintf(lab, sizeof lab, "%s", i < 7 ? pct_labels[i] : "");
    else snprintf(lab, sizeof lab, "%.4g", x);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", px(f, x),
            H - MB + 18, lab);
  }
  fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 10);
  job_report_xml_text(out, xlabel);
  fprintf(out,
          "</text>\n<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 "
          "%.1f)\">",
          (MT + H - MB) / 2, (MT + H - MB) / 2);
  job_report_xml_text(out, ylabel);
  fprintf(out, "</text>\n</g>\n");
}

/* Repetition k of a group gets marker shape (k - 1) % SHAPES. */
enum { SHAPES = 6 };

static int max_rep(const struct job_report_run *runs, size_t count) {
  int m = 1;
  for (size_t i = 0; i < count; i++) m = runs[i].rep > m ? runs[i].rep : m;
  return m;
}

static void marker(FILE *out, double x, double y, int shape, const char *color) {
  switch (shape % SHAPES) {
    case 0: fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\"/>", x, y); break;
    case 1:
      fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"6\" height=\"6\"/>", x - 3, y - 3);
      break;
    case 2: fprintf(out, "<path d=\"M%.1f %.1fl3.6 6.2h-7.2z\"/>", x, y - 4); break;
    case 3: fprintf(out, "<path d=\"M%.1f %.1fl4 4l-4 4l-4 -4z\"/>", x, y - 4); break;
    case 4:
      fprintf(out, "<path d=\"M%.1f %.1fh8M%.1f %.1fv8\" stroke=\"%s\" stroke-width=\"2\"/>", x - 4,
              y, x, y - 4, color);
      break;
    default:
      fprintf(out, "<path d=\"M%.1f %.1fl7 7M%.1f %.1fl-7 7\" stroke=\"%s\" stroke-width=\"2\"/>",
              x - 3.5, y - 3.5, x + 3.5, y - 3.5, color);
      break;
  }
}

/* One entry per group (its colour), then the repetitions' marker shapes. */
static void legend(FILE *out, const struct job_report_run *runs, size_t count) {
  enum { MAX_ENTRIES = 15 };
  double y = MT + 10;
  size_t shown = 0, groups = 0;
  for (size_t i = 0; i < count; i++) {
    if (!first_of_group(runs, i)) continue;
    groups++;
    if (shown++ >= MAX_ENTRIES - 1 && count > MAX_ENTRIES) continue;
    fprintf(
        out,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>",
        W - MR + 12, y, W - MR + 32, y, job_report_run_color(runs, i));
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", W - MR + 38, y + 4);
    job_report_xml_text(out, runs[i].group);
    fprintf(out, "</text>\n");
    y += 18;
  }
  if (groups > shown) {
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">… %zu more</text>\n", W - MR + 38, y + 4,
            groups - shown);
    y += 18;
  }
  int reps = max_rep(runs, count);
  for (int k = 1; k <= reps && k <= SHAPES; k++) {
    fprintf(out, "<g fill=\"#555\">");
    marker(out, W - MR + 22, y, k - 1, "#555");
    fprintf(out, "</g><text x=\"%.1f\" y=\"%.1f\">r%d%s</text>\n", W - MR + 38, y + 4, k,
            reps > SHAPES ? " (shapes repeat)" : "");
    y += 16;
  }
}

/* A line through the points, with the repetition's marker every `every` points (every
 * point of a short run, so a run of one or two seconds still shows). */
static void series(FILE *out, const struct frame *f, const double *x, const double *y, size_t n,
                   const char *color, bool dashed, int shape, size_t every) {
  fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s points=\"", color,
          dashed ? " stroke-dasharray=\"5,3\"" : "");
  for (size_t i = 0; i < n; i++)
    if (!isnan(y[i])) fprintf(out, "%.1f,%.1f ", px(f, x[i]), py(f, y[i]));
  fprintf(out, "\"/>\n<g fill=\"%s\">", dashed ? "white" : color);
  if (dashed) fprintf(out, "<g stroke=\"%s\">", color);
  for (size_t i = 0; every && i < n; i += every)
    if (!isnan(y[i])) marker(out, px(f, x[i]), py(f, y[i]), shape, color);
  fprintf(out, "%s</g>\n", dashed ? "</g>" : "");
}

static size_t marker_step(size_t n) { return n <= 30 ? 1 : (n + 29) / 30; }

static void plot_percentiles(FILE *out, const struct job_report_run *runs, size_t count) {
  struct frame f = {1, 1};
  double ymax = 0;
  for (size_t i = 0; i < count; i++) {
    if (runs[i].n) ymax = fmax(ymax, runs[i].exec_sorted[runs[i].n - 1]);
    if (runs[i].n > 1) f.xmax = fmax(f.xmax, ceil(log10((double)runs[i].n)));
  }
  f.xmax = fmin(f.xmax, 6);
  f.ymax = nice_max(ymax);
  axes(out, &f, "Execution time by percentile", "percentile (log 1/(1-p) scale)",
       "execution time (ms)", true);
  enum { PTS = 300 };
  double xs[PTS], ys[PTS];
  for (size_t i = 0; i < count; i++) {
    const struct job_report_run *r = &runs[i];
    if (!r->n) continue;
    double xend = log10((double)r->n); /* beyond this the percentile is the maximum */
    for (int k = 0; k < PTS; k++) {
      xs[k] = xend * k / (PTS - 1);
      double p = 100.0 * (1.0 - pow(10, -xs[k]));
      ys[k] = job_quantile_sorted(r->exec_sorted, r->n, p);
    }
    series(out, &f, xs, ys, PTS, job_report_run_color(runs, i), false, r->rep - 1,
           PTS / 6 + (size_t)(i % 7) * 3);
  }
  legend(out, runs, count);
  fprintf(out, "</svg>\n");
}

static void plot_seconds(FILE *out, const struct job_report_run *runs, size_t count,
                         enum job_plot plot) {
  struct frame f = {1, 1};
  double ymax = 0;
  for (size_t i = 0; i < count; i++) {
    const struct job_report_run *r = &runs[i];
    f.xmax = fmax(f.xmax, (double)r->seconds);
    for (size_t s = 0; s < (plot == JOB_PLOT_LATENCY ? r->seconds : r->rate_seconds); s++) {
      double v = plot == JOB_PLOT_LATENCY      ? r->sec_p99[s]
                 : plot == JOB_PLOT_THROUGHPUT ? r->sec_ok[s]
                                               : r->sec_err[s];
      if (!isnan(v)) ymax = fmax(ymax, v);
    }
  }
  f.xmax = nice_max(f.xmax);
  f.ymax = nice_max(ymax);
  const char *title = plot == JOB_PLOT_LATENCY
                          ? "Execution time over the run (p50 solid, p99 dashed)"
                      : plot == JOB_PLOT_THROUGHPUT ? "Successful completions per second"
                                                    : "Errors per second";
  axes(out, &f, title, "seconds since start",
       plot == JOB_PLOT_LATENCY ? "execution time (ms)" : "per second", false);
  for (size_t i = 0; i < count; i++) {
    const struct job_report_run *r = &runs[i];
    double *xs = malloc((r->seconds + 1) * sizeof *xs);
    if (!xs) continue;
    for (size_t s = 0; s < r->seconds; s++) xs[s] = (double)s + 0.5;
    const char *color = job_report_run_color(runs, i);
    size_t every = marker_step(r->seconds);
    if (plot == JOB_PLOT_LATENCY) {
      series(out, &f, xs, r->sec_p50, r->seconds, color, false, r->rep - 1, every);
      series(out, &f, xs, r->sec_p99, r->seconds, color, true, r->rep - 1, every);
    } else {
      series(out, &f, xs, plot == JOB_PLOT_THROUGHPUT ? r->sec_ok : r->sec_err, r->rate_seconds,
             color, false, r->rep - 1, every);
    }
    free(xs);
  }
  legend(out, runs, count);
  fprintf(out, "</svg>\n");
}

void job_report_svg(FILE *out, enum job_plot plot, const struct job_report_run *runs,
                    size_t count) {
  if (plot == JOB_PLOT_PERCENTILES) plot_percentiles(out, runs, count);
  else plot_seconds(out, runs, count, plot);
}

/* ---- latency against load (sweep summaries) ----------------------------------------------- */

static double step_x(const cJSON *step) {
  double x = get(step, "achieved_rate");
  return isnan(x) ? get(step, "rate") : x;
}

int job_report_sweep_batching(const cJSON *sweep) {
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(sweep, "scenario");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(sc, "parameters"), "batching");
  return cJSON_IsBool(b) ? cJSON_IsTrue(b) : -1;
}

static const char *sweep_name(const cJSON *sweep) {
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(sweep, "run");
  return cJSON_IsString(run) ? run->valuestring : "sweep";
}

static void load_frame(const cJSON *const *sweeps, size_t count, struct frame *f, double *slo) {
  double xmax = 0, ymax = 0;
  *slo = (double)NAN;
  for (size_t i = 0; i < count; i++) {
    const cJSON *st;
    cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(sweeps[i], "steps")) {
      double x = step_x(st), y = get(st, "p99_ms");
      if (isfinite(x)) xmax = fmax(xmax, x);
      if (isfinite(y)) ymax = fmax(ymax, y);
    }
    double s = get(cJSON_GetObjectItemCaseSensitive(sweeps[i], "slo"), "p99_ms");
    if (isfinite(s) && isnan(*slo)) *slo = s;
  }
  if (!isnan(*slo)) ymax = fmax(ymax, *slo);
  f->xmax = nice_max(xmax);
  f->ymax = nice_max(ymax);
}

static void load_line(FILE *out, const struct frame *f, const cJSON *sweep, const char *color,
                      bool p99) {
  const cJSON *steps = cJSON_GetObjectItemCaseSensitive(sweep, "steps"), *st;
  fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s points=\"", color,
          p99 ? "" : " stroke-dasharray=\"5,3\"");
  cJSON_ArrayForEach(st, steps) {
    double x = step_x(st), y = get(st, p99 ? "p99_ms" : "p50_ms");
    if (isfinite(x) && isfinite(y)) fprintf(out, "%.1f,%.1f ", px(f, x), py(f, y));
  }
  fprintf(out, "\"/>\n");
  if (!p99) return;
  cJSON_ArrayForEach(st, steps) { /* filled: met the SLO; hollow: failed it */
    double x = step_x(st), y = get(st, "p99_ms");
    bool met = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "met_slo"));
    if (isfinite(x) && isfinite(y))
      fprintf(out,
              "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"%s\" "
              "stroke-width=\"1.5\"/>\n",
              px(f, x), py(f, y), met ? color : "white", color);
  }
}

/* A sweep's palette, as its runs': runtime batching (its summary's placement) has its own. */
static int sweep_mode(const cJSON *sweep) {
  const cJSON *pl = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sweep, "scenario"),
                                       "parameters"),
      "placement");
  if (cJSON_IsString(pl) && !strcmp(pl->valuestring, "runtime")) return 3;
  return mode_index(job_report_sweep_batching(sweep));
}

void job_report_load_svg(FILE *out, const cJSON *const *sweeps, size_t count) {
  struct frame f;
  double slo;
  load_frame(sweeps, count, &f, &slo);
  axes(out, &f, "Latency against load (p99 solid, p50 dashed)", "achieved rate (invocations/s)",
       "execution time (ms)", false);
  if (!isnan(slo))
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
            "stroke-dasharray=\"2,3\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">SLO p99 %.4g ms</text>\n",
            ML, py(&f, slo), W - MR, py(&f, slo), ML + 4, py(&f, slo) - 4, slo);
  double y = MT + 10;
  for (size_t i = 0; i < count; i++) {
    size_t k = 0;
    for (size_t j = 0; j < i; j++) k += sweep_mode(sweeps[j]) == sweep_mode(sweeps[i]);
    const char *color = mode_palette[sweep_mode(sweeps[i])][k % SHADES];
    load_line(out, &f, sweeps[i], color, true);
    load_line(out, &f, sweeps[i], color, false);
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\">",
            W - MR + 12, y, W - MR + 32, y, color, W - MR + 38, y + 4);
    job_report_xml_text(out, sweep_name(sweeps[i]));
    fprintf(out, "</text>\n");
    y += 18;
  }
  fprintf(out,
          "<g fill=\"#555\"><circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\"/><text x=\"%.1f\" "
          "y=\"%.1f\">met the SLO</text>"
          "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"white\" stroke=\"#555\"/><text "
          "x=\"%.1f\" y=\"%.1f\">failed it</text></g>\n",
          W - MR + 22, y, W - MR + 38, y + 4, W - MR + 22, y + 18, W - MR + 38, y + 22);
  fprintf(out, "</svg>\n");
}
