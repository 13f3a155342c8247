/* job_arrival.h: the open loop's arrival processes (docs/workloads.md, "Arrival processes").
 *
 * From a run's knobs (arrival, rate, burst_*, trace_*, seed) this module computes the intended
 * time of every invocation, as nanoseconds from the start (invocation 0's reference instant):
 *
 *   constant    k / rate (no array: job_sched keeps the formula, for any number of invocations)
 *   poisson     a Poisson process at `rate`: exponential gaps of mean 1/rate (the first one from
 *               the start too); invocations, or floor(rate x duration), of them
 *   bursts      burst_rate for burst_seconds, then `rate` for base_seconds, repeated; inside a
 *               phase the invocations are evenly spaced (invocation k at the time the cumulative
 *               intended count reaches k), so a period holds burst_rate x burst_seconds +
 *               rate x base_seconds of them; invocations, or those due before duration
 *   trace       azure: the per-minute counts of an Azure Functions 2019 invocation-count CSV
 *               (selected rows summed, selected minutes), each minute's count spread inside its
 *               minute (poisson: sorted uniform times, which is a Poisson process given the
 *               count; constant: evenly from the minute's start); timestamps: a file of relative
 *               times in seconds. Time divided by trace_speedup. invocations and duration are
 *               ignored: the trace says how many and when.
 *
 * Every random draw comes from the run's seed (rb_rng.h, stream RB_RNG_ARRIVAL: poisson's gaps
 * from segment 0; a trace minute m's times from segment m), so the same seed gives the same
 * offsets, and a shard (k mod N) takes the unsharded run's times.
 *
 * The readers are pure apart from reading the FILE they are given; bad input is refused with
 * "FILE:LINE: what is wrong" (wrong column count, a count that is not a non-negative integer, an
 * empty row, a decreasing timestamp) or "FILE: ..." for the selection (rows or minutes out of
 * range, nothing selected). Non-constant processes hold at most JOB_ARRIVAL_MAX invocations. */
#ifndef JOB_ARRIVAL_H
#define JOB_ARRIVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "job_params.h"
#include "rb_error.h"

/* The most invocations a non-constant process may plan (8 bytes each in memory). */
#define JOB_ARRIVAL_MAX 20000000ULL
/* The latest intended time, in seconds (the results document's bound on times, 1e10 ms). */
#define JOB_ARRIVAL_MAX_SECONDS 1e7
/* Azure Functions 2019 invocation counts: HashOwner,HashApp,HashFunction,Trigger,1..1440. */
#define JOB_AZURE_MINUTES 1440
#define JOB_AZURE_COLUMNS (4 + JOB_AZURE_MINUTES)
/* Ranges a trace_rows selection may list. */
#define JOB_TRACE_ROW_RANGES 64

enum job_arrival_kind {
  JOB_ARRIVAL_CONSTANT,
  JOB_ARRIVAL_POISSON,
  JOB_ARRIVAL_BURSTS,
  JOB_ARRIVAL_TRACE
};

/* trace_rows: "all", or 1-based data row numbers and ranges ("1,4-6"). */
struct job_trace_rows {
  bool all;
  size_t n;
  uint64_t first[JOB_TRACE_ROW_RANGES], last[JOB_TRACE_ROW_RANGES];
};

struct job_arrival {
  enum job_arrival_kind kind;
  uint64_t count;    /* invocations planned by the process */
  uint64_t *offsets; /* count intended times, ns from the start, non-decreasing; NULL: constant */
  double rate;       /* constant: invocations per second */
  /* trace: what was read */
  uint64_t trace_rows_read;      /* azure: data rows in the file */
  uint64_t trace_rows_used;      /* azure: rows selected */
  int minute_first, minute_last; /* azure: the minutes used (1-based, inclusive) */
};

bool job_arrival_kind_from_name(const char *name, enum job_arrival_kind *out);
const char *job_arrival_kind_name(enum job_arrival_kind k);

/* The knobs' combinations, without reading anything (job_params_validate calls it): bursts need
 * burst_rate, a trace needs trace_file, trace_rows and trace_minutes must parse, a closed loop
 * (concurrency > 0) or a rate sweep takes only the constant process. err names the knob. */
enum rb_err job_arrival_check(const struct job_params *p, char *err, size_t errlen);

/* Parses trace_rows / trace_minutes ("" = every minute: 1-1440). err names the knob. */
enum rb_err job_arrival_parse_rows(const char *text, struct job_trace_rows *out, char *err,
                                   size_t errlen);
enum rb_err job_arrival_parse_minutes(const char *text, int *first, int *last, char *err,
                                      size_t errlen);

/* Builds a's intended times from p. A relative trace_file is taken from base_dir when base_dir
 * is neither NULL nor "" (the scenario loader already resolves it against the scenario's
 * directory). job_arrival_free releases a. */
enum rb_err job_arrival_build(const struct job_params *p, const char *base_dir,
                              struct job_arrival *a, char *err, size_t errlen);
/* The same for a trace read from f (path names it in messages); other processes ignore f. */
enum rb_err job_arrival_build_from(const struct job_params *p, FILE *f, const char *path,
                                   struct job_arrival *a, char *err, size_t errlen);
void job_arrival_free(struct job_arrival *a);

/* Reads an Azure invocation-count CSV: counts[m] (m = 0..1439 for minutes 1..1440) becomes the
 * sum over the selected rows; the whole file is checked. *rows_read: data rows in the file,
 * *rows_used: rows selected. Minutes outside first..last are left 0. */
enum rb_err job_arrival_read_azure(FILE *f, const char *path, const struct job_trace_rows *rows,
                                   int first, int last, uint64_t counts[JOB_AZURE_MINUTES],
                                   uint64_t *rows_read, uint64_t *rows_used, char *err,
                                   size_t errlen);
/* Reads relative timestamps (seconds, one per line, non-decreasing; blank lines and # comments
 * skipped) divided by speedup, into *offsets (ns; the caller frees) and *count. */
enum rb_err job_arrival_read_timestamps(FILE *f, const char *path, double speedup,
                                        uint64_t **offsets, uint64_t *count, char *err,
                                        size_t errlen);

/* Intended time of invocation k (k < count for a non-constant process). */
uint64_t job_arrival_offset(const struct job_arrival *a, uint64_t k);
/* Invocations due before `seconds` (the warm-up count). */
uint64_t job_arrival_due_before(const struct job_arrival *a, double seconds);
/* The intended mean rate between invocations k0 < k1: (k1 - k0) / (t(k1) - t(k0)); 0 when the
 * two are due at once. */
double job_arrival_rate_between(const struct job_arrival *a, uint64_t k0, uint64_t k1);

/* Statistics of the gaps between successive times (fed in non-decreasing order). */
struct job_gaps {
  uint64_t n; /* times seen */
  uint64_t first_ns, last_ns;
  double mean, m2; /* Welford over the gaps (seconds) */
};
void job_gaps_add(struct job_gaps *g, uint64_t t_ns);
/* (n - 1) / (last - first) per second; 0 with fewer than 2 times or no span. */
double job_gaps_rate(const struct job_gaps *g);
/* Coefficient of variation of the gaps (population standard deviation / mean); 0 with fewer
 * than 3 times or a zero mean. A Poisson process has 1, a constant one 0. */
double job_gaps_cv(const struct job_gaps *g);

#endif
