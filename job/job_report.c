/* job_report.c: SVG plots and the HTML report (see job_report.h). */
#define _GNU_SOURCE
#include "job_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "job_stats.h"
#include "rb_version.h"

#define W 760.0
#define H 380.0
#define ML 70.0 /* margins */
#define MR 170.0
#define MT 40.0
#define MB 50.0
#define MAX_SECONDS 86400

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

static bool first_of_group(const struct job_report_run *runs, size_t j) {
  for (size_t k = 0; k < j; k++) {
    if (strcmp(runs[k].group, runs[j].group) == 0) return false;
  }
  return true;
}

const char *job_report_run_color(const struct job_report_run *runs, size_t i) {
  size_t first = i; /* where run i's group first appears */
  for (size_t j = 0; j < i && first == i; j++) {
    if (strcmp(runs[j].group, runs[i].group) == 0) first = j;
  }
  size_t group = 0; /* distinct groups before it */
  for (size_t j = 0; j < first; j++) group += first_of_group(runs, j);
  return palette[group % (sizeof palette / sizeof palette[0])];
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

static void run_label(struct job_report_run *r, const cJSON *doc) {
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "scenario");
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(sc, "run");
  double rep = get(sc, "repetition"), reps = get(sc, "repetitions");
  snprintf(r->label, sizeof r->label, "%s", cJSON_IsString(run) ? run->valuestring : "run");
  snprintf(r->group, sizeof r->group, "%s", r->label);
  if (reps > 1) {
    size_t n = strlen(r->label);
    snprintf(r->label + n, sizeof r->label - n, " r%.0f", rep);
  }
}

/* Per-second p50/p99 from (second, value) pairs. */
static void per_second_quantiles(struct job_report_run *r, const double *sec, const double *val, size_t n) {
  size_t *count = calloc(r->seconds, sizeof *count);
  double **bucket = calloc(r->seconds, sizeof *bucket);
  for (size_t i = 0; count && bucket && i < n; i++) count[(size_t)sec[i]]++;
  for (size_t s = 0; count && bucket && s < r->seconds; s++) bucket[s] = count[s] ? malloc(count[s] * sizeof(double)) : NULL;
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

enum rb_err job_report_run_init(struct job_report_run *r, const cJSON *doc, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  const cJSON *raw = cJSON_GetObjectItemCaseSensitive(doc, "raw_results");
  if (!cJSON_IsArray(raw)) return rb_errorf(RB_ERR_INVALID, err, errlen, "not an rbench results document");
  run_label(r, doc);
  r->success_rate = get(doc, "success_rate");
  r->achieved_rate = get(doc, "achieved_rate");
  r->requested_rate = get(doc, "requested_rate");
  r->summary = cJSON_GetObjectItemCaseSensitive(doc, "execution_time_ms");
  size_t total = (size_t)cJSON_GetArraySize(raw);
  r->exec_sorted = malloc((total + 1) * sizeof(double));
  double *sec = malloc((total + 1) * sizeof(double));
  const cJSON *x;
  size_t maxsec = 0;
  cJSON_ArrayForEach(x, raw) {
    size_t s = clamp_sec(fmax(get(x, "end_ms"), get(x, "intended_ms")));
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
  cJSON_ArrayForEach(x, raw) {
    bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "success"));
    bool warm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "warmup"));
    (ok ? r->sec_ok : r->sec_err)[clamp_sec(get(x, "end_ms"))] += 1;
    if (ok && !warm) {
      sec[r->n] = (double)clamp_sec(get(x, "intended_ms"));
      r->exec_sorted[r->n++] = get(x, "execution_time_ms");
    }
  }
  per_second_quantiles(r, sec, r->exec_sorted, r->n);
  free(sec);
  job_sort_doubles(r->exec_sorted, r->n);
  return RB_OK;
}

void job_report_run_free(struct job_report_run *r) {
  free(r->exec_sorted);
  free(r->sec_p50);
  free(r->sec_p99);
  free(r->sec_ok);
  free(r->sec_err);
  memset(r, 0, sizeof *r);
}

static void xml_text(FILE *out, const char *s) {
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
  fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
  fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">", ML);
  xml_text(out, title);
  fprintf(out, "</text>\n<g stroke=\"#ccc\">\n");
  for (int i = 0; i <= 5; i++) {
    double y = f->ymax * i / 5;
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ML, py(f, y), W - MR, py(f, y));
  }
  int xt = pct_axis ? (int)f->xmax : 5;
  for (int i = 0; i <= xt; i++) {
    double x = pct_axis ? i : f->xmax * i / 5;
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(f, x), MT, px(f, x), H - MB);
  }
  fprintf(out, "</g>\n<g fill=\"#333\">\n");
  for (int i = 0; i <= 5; i++)
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", ML - 6, py(f, f->ymax * i / 5) + 4, f->ymax * i / 5);
  static const char *const pct_labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"};
  for (int i = 0; i <= xt; i++) {
    double x = pct_axis ? i : f->xmax * i / 5;
    char lab[32];
    if (pct_axis) snprintf(lab, sizeof lab, "%s", i < 7 ? pct_labels[i] : "");
    else snprintf(lab, sizeof lab, "%.4g", x);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", px(f, x), H - MB + 18, lab);
  }
  fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 10);
  xml_text(out, xlabel);
  fprintf(out, "</text>\n<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">", (MT + H - MB) / 2, (MT + H - MB) / 2);
  xml_text(out, ylabel);
  fprintf(out, "</text>\n</g>\n");
}

static void legend(FILE *out, const struct job_report_run *runs, size_t count) {
  for (size_t i = 0; i < count; i++) {
    double y = MT + 10 + (double)i * 18;
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>", W - MR + 12, y, W - MR + 32, y, job_report_run_color(runs, i));
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", W - MR + 38, y + 4);
    xml_text(out, runs[i].label);
    fprintf(out, "</text>\n");
  }
}

static void polyline(FILE *out, const struct frame *f, const double *x, const double *y, size_t n,
                     const char *color, bool dashed) {
  fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s points=\"", color,
          dashed ? " stroke-dasharray=\"5,3\"" : "");
  for (size_t i = 0; i < n; i++)
    if (!isnan(y[i])) fprintf(out, "%.1f,%.1f ", px(f, x[i]), py(f, y[i]));
  fprintf(out, "\"/>\n");
}

static void plot_percentiles(FILE *out, const struct job_report_run *runs, size_t count) {
  struct frame f = {1, 1};
  double ymax = 0;
  for (size_t i = 0; i < count; i++) {
    if (runs[i].n) ymax = fmax(ymax, runs[i].exec_sorted[runs[i].n - 1]);
    if (runs[i].n > 1) f.xmax = fmax(f.xmax, ceil(log10((double)runs[i].n)));
  }
  f.xmax = fmin(f.xmax, 6);
  f.ymax = nice_max(ymax);
  axes(out, &f, "Execution time by percentile", "percentile (log 1/(1-p) scale)", "execution time (ms)", true);
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
    polyline(out, &f, xs, ys, PTS, job_report_run_color(runs, i), false);
  }
  legend(out, runs, count);
  fprintf(out, "</svg>\n");
}

static void plot_seconds(FILE *out, const struct job_report_run *runs, size_t count, enum job_plot plot) {
  struct frame f = {1, 1};
  double ymax = 0;
  for (size_t i = 0; i < count; i++) {
    const struct job_report_run *r = &runs[i];
    f.xmax = fmax(f.xmax, (double)r->seconds);
    for (size_t s = 0; s < r->seconds; s++) {
      double v = plot == JOB_PLOT_LATENCY ? r->sec_p99[s] : plot == JOB_PLOT_THROUGHPUT ? r->sec_ok[s] : r->sec_err[s];
      if (!isnan(v)) ymax = fmax(ymax, v);
    }
  }
  f.xmax = nice_max(f.xmax);
  f.ymax = nice_max(ymax);
  const char *title = plot == JOB_PLOT_LATENCY ? "Execution time over the run (p50 solid, p99 dashed)"
                      : plot == JOB_PLOT_THROUGHPUT ? "Successful completions per second" : "Errors per second";
  axes(out, &f, title, "seconds since start", plot == JOB_PLOT_LATENCY ? "execution time (ms)" : "per second", false);
  for (size_t i = 0; i < count; i++) {
    const struct job_report_run *r = &runs[i];
    double *xs = malloc((r->seconds + 1) * sizeof *xs);
    if (!xs) continue;
    for (size_t s = 0; s < r->seconds; s++) xs[s] = (double)s + 0.5;
    if (plot == JOB_PLOT_LATENCY) {
      polyline(out, &f, xs, r->sec_p50, r->seconds, job_report_run_color(runs, i), false);
      polyline(out, &f, xs, r->sec_p99, r->seconds, job_report_run_color(runs, i), true);
    } else {
      polyline(out, &f, xs, plot == JOB_PLOT_THROUGHPUT ? r->sec_ok : r->sec_err, r->seconds, job_report_run_color(runs, i), false);
    }
    free(xs);
  }
  legend(out, runs, count);
  fprintf(out, "</svg>\n");
}

void job_report_svg(FILE *out, enum job_plot plot, const struct job_report_run *runs, size_t count) {
  if (plot == JOB_PLOT_PERCENTILES) plot_percentiles(out, runs, count);
  else plot_seconds(out, runs, count, plot);
}

static void summary_table(FILE *out, const struct job_report_run *runs, size_t count) {
  fprintf(out, "<table><tr><th>run</th><th>invocations</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th>"
               "<th>max ms</th><th>success</th><th>requested /s</th><th>achieved /s</th></tr>\n");
  for (size_t i = 0; i < count; i++) {
    const struct job_report_run *r = &runs[i];
    fprintf(out, "<tr><td><span style=\"color:%s\">&#9632;</span> ", job_report_run_color(runs, i));
    xml_text(out, r->label);
    fprintf(out, "</td><td>%zu</td><td>%.4g</td><td>%.4g</td><td>%.4g</td><td>%.4g</td><td>%.2f%%</td><td>%.4g</td><td>%.4g</td></tr>\n",
            r->n, get(r->summary, "p50"), get(r->summary, "p90"), get(r->summary, "p99"), get(r->summary, "max"),
            r->success_rate * 100, r->requested_rate, r->achieved_rate);
  }
  fprintf(out, "</table>\n");
}

void job_report_html(FILE *out, const struct job_report_run *runs, size_t count) {
  fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>rbench report</title>\n"
               "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
               "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
               "figure{margin:1.5em 0}</style></head><body>\n<h1>rbench report</h1>\n");
  fprintf(out, "<p>Execution time is measured from each invocation's intended start (open loop, "
               "coordinated omission corrected). rbench %s (%s).</p>\n", RBENCH_VERSION, RBENCH_GIT_COMMIT);
  summary_table(out, runs, count);
  for (int p = 0; p < 4; p++) {
    fprintf(out, "<figure>\n");
    job_report_svg(out, (enum job_plot)p, runs, count);
    fprintf(out, "</figure>\n");
  }
  fprintf(out, "</body></html>\n");
}
