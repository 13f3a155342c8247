/* job_report.h: `rbench report`: one self-contained HTML file with inline SVG plots drawn
 * here (no scripts, no external files), or one SVG with --svg.
 *
 *   percentiles  execution time against percentile on the log 1/(1-p) axis (HdrHistogram's
 *                way of showing tails: 90%, 99%, 99.9% equally spaced), one curve per run
 *   latency      p50 (solid) and p99 (dashed) execution time per second of the run
 *   throughput   successful completions per second
 *   errors       failed invocations per second
 *
 * A run is the raw_results of one results document. The renderer is pure: it takes series
 * and writes SVG text to a FILE (a file or a memory stream). */
#ifndef JOB_REPORT_H
#define JOB_REPORT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rb_error.h"

/* One run's samples, extracted from a results document. */
struct job_report_run {
  char label[160];     /* run name and repetition, e.g. "batched r3" */
  char group[160];     /* run name alone: repetitions of one run share a colour */
  double *exec_sorted; /* execution times (ms) of measured successful invocations, ascending */
  size_t n;
  double *sec_p50, *sec_p99; /* per second of intended start (NAN when empty) */
  double *sec_ok, *sec_err;  /* completions per second of end time */
  size_t seconds;
  cJSON *summary;            /* borrowed from the document: execution_time_ms etc. */
  double success_rate, achieved_rate, requested_rate;
};

/* Extracts a run from a results document (borrowed; the run keeps pointers into it). */
enum rb_err job_report_run_init(struct job_report_run *r, const cJSON *doc, char *err, size_t errlen);
void job_report_run_free(struct job_report_run *r);

/* The colour of runs[i]: one per distinct group, in order of first appearance, so every
 * repetition of "direct" has one colour and every repetition of "batched" another. */
const char *job_report_run_color(const struct job_report_run *runs, size_t i);

enum job_plot { JOB_PLOT_PERCENTILES, JOB_PLOT_LATENCY, JOB_PLOT_THROUGHPUT, JOB_PLOT_ERRORS };

/* Parses "percentiles", "latency", "throughput" or "errors"; -1 otherwise. */
int job_plot_parse(const char *name);

/* x coordinate of percentile p (0..100) on the 1/(1-p) axis: log10(1/(1-p/100)). */
double job_report_pct_x(double p);

/* Writes one <svg> element. */
void job_report_svg(FILE *out, enum job_plot plot, const struct job_report_run *runs, size_t count);

/* Writes the whole HTML document. */
void job_report_html(FILE *out, const struct job_report_run *runs, size_t count);

#endif
