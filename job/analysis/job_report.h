/* job_report.h: `rbench report`: one self-contained HTML file with inline SVG plots drawn
 * here (no scripts, no external files), or one SVG with --svg.
 *
 * The page answers "what does batching buy?" first: a headline comparing two sides (the
 * arguments the user named, else the first direct and first batched group of one directory
 * tree, grouped by what was run), or N groups against a baseline (three sides or more, or a
 * tree of three placements or more: job_compare_groups.h), then the
 * settings that produced it, the latency-vs-load curve of any capacity sweeps, the
 * distributions per mode and the per-repetition table. The plots:
 *
 *   percentiles  execution time against percentile on the log 1/(1-p) axis (HdrHistogram's
 *                way of showing tails: 90%, 99%, 99.9% equally spaced), one curve per run
 *   latency      p50 (solid) and p99 (dashed) execution time per second of the run
 *   throughput   successful completions per second
 *   errors       failed invocations per second
 *   load         p50/p99 against achieved rate, one line per sweep summary (sweep.json)
 *
 * Colour tells groups apart (by mode, stable across reports; a group is a side, or a run name
 * and settings, and the rate for a sweep step), the marker shape tells the repetitions of a
 * group apart. A run is the raw_results of one results document.
 * The renderer is pure: it takes runs and writes text to a FILE (a file or a memory stream). */
#ifndef JOB_REPORT_H
#define JOB_REPORT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "job_compare.h"
#include "job_compare_groups.h"
#include "rb_error.h"

/* One run's samples, extracted from a results document. */
struct job_report_run {
  char label[160];     /* group and repetition, e.g. "batched r3" or "batched @200/s r3" */
  char group[160];     /* the side's name, or run name (and the setting that tells it apart),
                          and the sweep rate: repetitions of a group share a colour */
  struct job_doc doc;  /* the document as read (borrows the JSON tree given to init) */
  int rep;             /* scenario.repetition, 1 when absent */
  int batching;        /* scenario.parameters.batching: 1, 0, -1 unknown */
  int placement;       /* enum job_placement of the document's params (placement, else
                          batching), -1 when it says neither */
  int side;            /* the command-line argument (0-based) it came from when the user named
                          the sides (job_report_group_by_side), -1 when grouped by settings */
  double sweep_rate;   /* sweep.rate of a sweep step, NAN otherwise */
  double *exec_sorted; /* execution times (ms) of measured successful invocations, ascending */
  size_t n;
  double *sec_p50, *sec_p99; /* per second of intended start (NAN when empty) */
  double *sec_ok, *sec_err;  /* completions per second of end time; the last reply's second,
                                which the run covers only in part, as a rate over that part */
  size_t seconds;
  size_t rate_seconds; /* seconds of sec_ok/sec_err to plot: a last second covered for
                          less than a quarter is left out (too short to be a rate) */
  double success_rate, achieved_rate, requested_rate;
};

/* Extracts a run from a results document (borrowed; the run keeps pointers into it), read and
 * validated through job_doc_read (path names it in errors; may be NULL). */
enum rb_err job_report_run_init(struct job_report_run *r, const cJSON *doc, char *err,
                                size_t errlen);
enum rb_err job_report_run_init_path(struct job_report_run *r, const cJSON *doc, const char *path,
                                     char *err, size_t errlen);
void job_report_run_free(struct job_report_run *r);

/* How runs become groups (docs/runner.md, "rbench report"). The user named the sides: each
 * argument is one side, labels[runs[i].side] its name (a sweep step's rate added), the first
 * the baseline. */
void job_report_group_by_side(struct job_report_run *runs, size_t count, const char *const *labels);
/* One directory tree: groups by what was run (run name and the settings of job_settings.h),
 * never by name alone; groups that share a name get the setting that tells them apart, e.g.
 * "direct (ops=10)", and notes (len bytes) says so. */
void job_report_group_by_settings(struct job_report_run *runs, size_t count, char *notes,
                                  size_t len);

/* True when doc is a sweep summary (kind "sweep" with a steps array). */
bool job_report_is_sweep(const cJSON *doc);

/* The colour of runs[i], by mode so that it is the same in every report: direct runs blue,
 * batched runs (placement agent) red, runtime batching purple, runs without a batching
 * parameter green; a second group of a mode takes the mode's next shade (in order of first
 * appearance), so every group has its own colour. Every repetition of a group shares it. */
const char *job_report_run_color(const struct job_report_run *runs, size_t i);
/* The k-th colour of a mode (batching 0 direct, 1 batched, -1 unknown). */
const char *job_report_mode_color(int batching, size_t k);

enum job_plot { JOB_PLOT_PERCENTILES, JOB_PLOT_LATENCY, JOB_PLOT_THROUGHPUT, JOB_PLOT_ERRORS };

/* Parses "percentiles", "latency", "throughput" or "errors"; -1 otherwise. */
int job_plot_parse(const char *name);

/* x coordinate of percentile p (0..100) on the 1/(1-p) axis: log10(1/(1-p/100)). */
double job_report_pct_x(double p);

/* Writes s with the XML special characters escaped. */
void job_report_xml_text(FILE *out, const char *s);

/* Writes one <svg> element. */
void job_report_svg(FILE *out, enum job_plot plot, const struct job_report_run *runs, size_t count);

/* scenario.parameters.batching of a sweep summary: 1, 0, -1 when it does not say. */
int job_report_sweep_batching(const cJSON *sweep);

/* Writes the latency-vs-load <svg> of sweep summaries (borrowed). */
void job_report_load_svg(FILE *out, const cJSON *const *sweeps, size_t count);

/* The direct-vs-batched comparison the page opens with. */
struct job_report_headline {
  bool have;                      /* two groups to compare were found */
  char direct[160], batched[160]; /* their group names */
  struct job_side a, b;           /* a = direct, b = batched */
  struct job_comparison c;
  char sentence[1024]; /* the quotable sentence, or why there is none */
  char notes[2048];    /* what the page must say about its inputs (documents left out,
                          groups split by settings), one per line; set by the caller
                          after job_report_headline_compute */
  /* N groups (three sides named or more, --baseline or --objective, or a directory tree
     whose groups ran three placements or more): every group against the baseline */
  bool nway;
  struct job_side *sides; /* g.n of them, named by their group */
  struct job_groups g;
};

/* How the report picks and compares its groups (rbench report --baseline, --objective). */
struct job_report_opts {
  const struct job_min_change *min_change; /* NULL: the defaults */
  const char *baseline;                    /* --baseline SPEC, NULL: the first (or direct) */
  int objective;                           /* enum job_objective, -1: the default */
};

/* Picks the groups and compares them (pure): with sides named (runs[].side >= 0) side 1
 * against side 0 (the baseline); otherwise the first direct against the first batched group
 * (never a group against itself). Plain runs first; with only sweep steps, the highest rate
 * both ran. The sentence says "batching ..." when A is direct and B batched, "compared with
 * A (name), B (name) ..." otherwise. min_change: the practical thresholds (NULL: defaults).
 * h->notes is left empty for the caller. Free with job_report_headline_free. RB_ERR_NOMEM on
 * allocation failure. */
enum rb_err job_report_headline_compute(const struct job_report_run *runs, size_t count,
                                        const struct job_min_change *min_change,
                                        struct job_report_headline *h);
void job_report_headline_free(struct job_report_headline *h);
/* The same with the N-way comparison's options; RB_ERR_INVALID (said in err) when --baseline
 * names no group. */
enum rb_err job_report_headline_compute_opts(const struct job_report_run *runs, size_t count,
                                             const struct job_report_opts *o,
                                             struct job_report_headline *h, char *err,
                                             size_t errlen);

/* Writes the whole HTML document. sweeps may be NULL when count_sweeps is 0. */
void job_report_html(FILE *out, const struct job_report_run *runs, size_t count,
                     const cJSON *const *sweeps, size_t count_sweeps,
                     const struct job_report_headline *h);

#endif
