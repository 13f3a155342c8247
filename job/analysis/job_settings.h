/* job_settings.h: which results documents may be pooled as repetitions of one side (issue 18
 * item 2), on top of the typed reader (job_doc.h): job_doc_settings_diff, plus what it leaves
 * to the pooling rule, a shard against a whole run (a merge written beside its own shards) and
 * the steps of one sweep, which differ only in their rate. Pure; documents are borrowed. */
#ifndef JOB_SETTINGS_H
#define JOB_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "job_doc.h"

/* True when a and b were not run with the same settings: job_doc_settings_diff, then the
 * shard ("shard: 0/2 vs whole") and the sweep step rate ("sweep_rate: 50 vs 100"); what gets
 * "NAME: A vs B". same_sweep: steps of one sweep (sweep_rate, and the rate, invocations and
 * duration that follow from it, set aside) pool. */
bool job_settings_diff(const struct job_doc *a, const struct job_doc *b, bool same_sweep,
                       char *what, size_t len);

/* From what ("NAME: A vs B"): "NAME=A" into buf, the setting as a's group name shows it. */
void job_settings_label(const char *what, char *buf, size_t len);

/* True when the document says it is not whole ("complete": false, an interrupted run; one
 * without the field is taken as whole); why gets "interrupted by SIGTERM" or "incomplete". */
bool job_settings_incomplete(const struct job_doc *d, char *why, size_t len);

#endif
