/* job_compare.h: `rbench compare A B` (the seed's compare_results.py): a table of latency
 * percentiles, success and error rates, achieved rate, throughput, server-side times and the
 * backend's cost (Redis and agent CPU, commands, reads and bytes per operation, commands per
 * batch), with the change from A to B and whether it is significant.
 *
 * Each side is one or more results documents (repetitions). Percentile rows pool the
 * invocations of every repetition and carry their sample count: a percentile q resting on
 * fewer than 1/(1-q) samples is the sample maximum, so it is marked unreliable rather than
 * presented as that percentile. With one document per side the latency test is Mann-Whitney
 * U on the invocations' execution times; with several it is Mann-Whitney U on the
 * per-repetition medians (repetitions, not invocations, are the independent units). Rows
 * taken from per-document figures (throughput, the backend rows) are tested with Mann-Whitney
 * U on their per-repetition values and show the median of those values. Confidence intervals
 * for the median and p99 differences come from a seeded bootstrap over the pooled
 * invocations. "~" marks a difference that is not significant at alpha. */
#ifndef JOB_COMPARE_H
#define JOB_COMPARE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "job_doc.h"
#include "job_hist.h"
#include "rb_workload.h"
#include "job_stats.h"
#include "rb_error.h"

/* Figures every results document gives once (one value per repetition). */
enum job_doc_metric {
  JOB_DM_THROUGHPUT,
  JOB_DM_REDIS_CPU,      /* redis.cpu_us_per_op */
  JOB_DM_REDIS_COMMANDS, /* redis.commands_per_op */
  JOB_DM_REDIS_READS,    /* redis.reads_per_op */
  JOB_DM_REDIS_BYTES,    /* redis.bytes_per_op */
  JOB_DM_AGENT_CPU,      /* agent.cpu_us_per_op */
  JOB_DM_BACKEND_CPU,    /* backend_cpu_us_per_op */
  JOB_DM_PER_BATCH,      /* agent.commands_per_batch.mean */
  JOB_DM_ACTION_CPU,     /* action_cpu.cpu_us_per_op: the action processes' CPU (local target) */
  JOB_DM_COUNT
};

struct job_doc_series {
  double *v; /* the documents' values, where they had one */
  size_t n;
  char why[200]; /* why the first document without a value had none ("" when all had one) */
};

struct job_side {
  char label[128];
  size_t docs;
  double *exec; /* pooled execution times (ms) of measured, successful invocations */
  size_t n, cap;
  double *medians; /* per-document median execution time */
  double measured, succeeded, cold_starts;
  double achieved_rate_sum, requested_rate_sum, throughput_sum;
  double arrival_cv_intended_sum, arrival_cv_realised_sum; /* arrival.*_cv over the documents */
  size_t arrival_cv_intended_n, arrival_cv_realised_n;     /* that have one */
  double srv_duration_sum, srv_wait_sum, srv_init_sum;     /* per-document p50s, summed */
  size_t srv_duration_n, srv_wait_n, srv_init_n;
  struct job_doc_series per_doc[JOB_DM_COUNT];
  int batching; /* scenario.parameters.batching of the documents: 0, 1, -1 unknown or mixed */
  long long concurrency; /* the documents' closed-loop concurrency ("mode": "closed"): N, 0 open
                            loop (or no "mode": older documents), -1 mixed */
  char notes[2048];      /* what the reader must know about the side's documents (left out,
                            incomplete, mixed settings), one a line; set by the caller */
  char workload[400];    /* the first document's workload (job_doc_workload_text) */
  char run[128];         /* the first document's run name ("" when none) */
  char placement[160];   /* where batching lived, for people (job_compare_describe), e.g.
                            "runtime batching (C=8)"; "" unknown, "mixed" when documents differ */
  /* per operation type (the documents' "operations" sections): the histograms pooled, and
     each document's p50 and p99 (ms) */
  struct job_hist *op_hist[RB_OP_COUNT];
  struct job_doc_series op_p50[RB_OP_COUNT], op_p99[RB_OP_COUNT];
};

void job_side_init(struct job_side *s, const char *label);
void job_side_free(struct job_side *s);
/* Adds a results document read by job_doc_read (its raw_results are copied). RB_ERR_INVALID
 * when it is summary only (no raw_results). */
enum rb_err job_side_add_doc(struct job_side *s, const struct job_doc *d, char *err, size_t errlen);
/* The same from the JSON tree (read and validated through job_doc_read). */
enum rb_err job_side_add(struct job_side *s, const cJSON *doc, char *err, size_t errlen);

/* Where batching lived in d's run, for people: "direct", "runtime batching (C=8, coalescing)",
 * "the agent (--coalesce)", "nutcracker"; from its params (placement, action_concurrency,
 * batch_*, backend, layer, layer_args; batching true without a placement is the agent); ""
 * when the document says neither placement nor batching (pure). */
void job_compare_describe(const struct job_doc *d, char *buf, size_t len);
/* The same from a params object (a sweep summary's scenario.parameters; may be NULL). */
void job_compare_describe_json(const cJSON *params, char *buf, size_t len);

/* Value of one per-document figure of d, or NAN with the reason in why (pure). */
double job_doc_metric(const struct job_doc *d, enum job_doc_metric m, char *why, size_t whylen);
/* The same from the JSON tree (NAN with the validation error when it is not a valid document). */
double job_doc_metric_value(const cJSON *doc, enum job_doc_metric m, char *why, size_t whylen);

#define JOB_CMP_ROWS (25 + 2 * RB_OP_COUNT) /* with a p50 and a p99 row per operation */

enum job_cmp_test {
  JOB_TEST_NONE,
  JOB_TEST_LATENCY_MWU, /* the latency Mann-Whitney test (invocations or per-repetition medians) */
  JOB_TEST_P99_CI,      /* the bootstrap interval of the p99 difference excludes 0 */
  JOB_TEST_PER_DOC_MWU  /* Mann-Whitney U on the per-repetition values of this row */
};

struct job_cmp_row {
  const char *metric; /* for people, e.g. "Redis CPU/op (us)" */
  const char *key;    /* for programs, e.g. "redis_cpu_us_per_op" */
  double a, b;        /* NAN when unknown */
  double change;      /* (b - a) / a, NAN when undefined */
  enum job_cmp_test test;
  bool significant;
  double p;        /* the row's p-value, NAN when it has none */
  double quantile; /* percentile rows: q in (0,100); 0 otherwise */
  size_t na, nb;   /* samples behind a and b: invocations (percentile rows) or repetitions */
  bool reliable_a, reliable_b; /* percentile rows: at least 1/(1-q) samples */
  const char *why_a, *why_b;   /* borrowed from the sides: why a or b is unknown, or NULL */
  double min_change; /* tested rows: the smallest relative change that matters (0.05 = 5%) */
  bool negligible;   /* significant, but |change| < min_change: detectable, not relevant */
  double p_adjusted; /* N-way compare (job_compare_groups.h): Holm-adjusted p, NAN otherwise */
};

struct job_comparison {
  struct job_cmp_row rows[JOB_CMP_ROWS];
  size_t nrows;
  struct job_mwu mwu;
  bool mwu_on_medians;
  bool have_test;
  struct job_ci median_diff, p99_diff;
  bool have_ci;
  double alpha;
  long long concurrency; /* both sides' closed-loop concurrency when equal, 0 open, -1 mixed */
  bool op_rows;          /* rows per operation type (from the documents' "operations") */
  bool op_descriptive;   /* ... without a test: a side has a single repetition */
};

/* The smallest relative change that matters, per tested row (docs/runner.md, "Practical
 * thresholds"): a significant change below it is "detectable but negligible". Defaults:
 * JOB_MIN_CHANGE_DEFAULT, execution p99 JOB_MIN_CHANGE_P99 (tails vary more). */
#define JOB_MIN_CHANGE_DEFAULT 0.05
#define JOB_MIN_CHANGE_P99 0.10

struct job_min_change {
  double all; /* every tested row (--min-change PCT); NAN: the defaults */
  struct {
    char key[40];
    double v;
  } one[JOB_CMP_ROWS]; /* one row each (--min-change KEY=PCT), over `all` */
  size_t n;
};

void job_min_change_init(struct job_min_change *m);
/* Parses "PCT" (every row) or "KEY=PCT" (one row key, e.g. throughput=2); PCT is a percentage
 * from 0 to 1000, "%" allowed. RB_ERR_INVALID naming the problem (pure). */
enum rb_err job_min_change_parse(struct job_min_change *m, const char *spec, char *err,
                                 size_t errlen);
/* The default smallest relevant change of a row key; NAN for a row without a test. */
double job_min_change_default(const char *key);
/* Sets min_change and negligible of every tested row of c (m NULL: the defaults). */
void job_compare_apply_min_change(struct job_comparison *c, const struct job_min_change *m);

/* Smallest sample on which the nearest-rank percentile q (0..100) is not the maximum. */
size_t job_quantile_min_samples(double q);

/* Computes the comparison (pure), with the default practical thresholds. The rows borrow
 * strings from a and b. */
enum rb_err job_compare_compute(const struct job_side *a, const struct job_side *b, double alpha,
                                uint64_t seed, struct job_comparison *out);
/* The row with this key, or NULL. */
const struct job_cmp_row *job_compare_row(const struct job_comparison *c, const char *key);
/* What row r's test ran on, e.g. "U test on 5+5 repetition medians; values over 2000+2000
 * invocations pooled" or "U test on 5+5 repetitions" ("" for a row without test or samples). */
void job_compare_test_basis(const struct job_comparison *c, const struct job_cmp_row *r, char *buf,
                            size_t len);
/* The human table. */
void job_compare_print(FILE *f, const struct job_side *a, const struct job_side *b,
                       const struct job_comparison *c);
/* A side as --json gives it ("a", "b"): label, workload, documents, ... (owned by the caller). */
cJSON *job_side_json(const struct job_side *s);
/* The --json form (owned by the caller). */
cJSON *job_compare_json(const struct job_side *a, const struct job_side *b,
                        const struct job_comparison *c);

/* One sentence a reader can quote about A = direct and B = batched, e.g. "batching cut Redis
 * CPU per operation 3.8x (p=0.008) and added 0.8 ms at p50 (p=0.008)"; it stays true when
 * batching is worse, the difference is not significant or a figure is missing. Both sides of
 * the trade: when backend CPU per operation (Redis + agent) moves the other way from Redis's,
 * the sentence says so ("... but raised backend CPU per operation (Redis + agent) 1.63x ...").
 * A significant change under the row's min_change is "detectable but negligible". Closed-loop
 * sides (the same concurrency) add what throughput did, since there the load is the result:
 * "...; with 32 invocations in flight (closed loop) throughput rose 1.3x (p=0.008)". Writes at
 * most len bytes into buf (pure). */
void job_compare_headline(const struct job_comparison *c, char *buf, size_t len);
/* The same sentence about B against A with another subject than "batching", e.g. "compared
 * with A (x.json), B (y.json)" when the two sides are not a direct and a batched run. */
void job_compare_sentence(const struct job_comparison *c, const char *subject, char *buf,
                          size_t len);

#endif
