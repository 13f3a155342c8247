/* job_settings.h: what a results document was run with, as far as pooling goes: the settings
 * that must agree for documents to be repetitions of one thing (issue 18 item 2), the run id
 * and whether the document is whole. Pure; documents are borrowed.
 *
 * Stand-in, kept apart on purpose: the typed reader (job/results/job_doc.h, branch i18-reader)
 * brings job_doc_settings_diff and the complete flag; the lead reconciles the two. */
#ifndef JOB_SETTINGS_H
#define JOB_SETTINGS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* The settings compared, in this order: target, batching, operation, ops, parallel,
 * value_size, key_space, mode (open or closed loop), rate (open loop), concurrency (closed
 * loop), sweep_rate (a sweep step's), shard ("1/2" for a shard, "whole" otherwise). */
size_t job_settings_count(void);
const char *job_settings_name(size_t i);
/* Setting i of doc as text ("-" when the document does not say or it does not apply). */
void job_settings_value(const cJSON *doc, size_t i, char *buf, size_t len);

/* The first setting in which a and b differ: its index, with what = "ops (100 vs 10)"; -1
 * (what "") when they agree on all. skip_sweep_rate: sweep steps of one sweep agree. */
int job_settings_diff(const cJSON *a, const cJSON *b, bool skip_sweep_rate, char *what, size_t len);

/* run_id of the document (one per `rbench run` execution), NULL for documents written before. */
const char *job_settings_run_id(const cJSON *doc);

/* True when the document says it is not whole ("complete": false: interrupted, or a step of a
 * sweep that was stopped); why gets "interrupted by SIGTERM" or "incomplete". */
bool job_settings_incomplete(const cJSON *doc, char *why, size_t len);

#endif
