/* job_compare_sweep.h: `rbench compare` of two capacity sweeps (OUT/RUN/sweep.json, docs/results.md
 * "Sweep summary"; docs/scenarios.md "Sweeps"): the curves side by side, the max sustainable
 * rates and their ratio. The comparison is pure; job_compare_sweep_find and
 * job_compare_sweep_main read files. */
#ifndef JOB_COMPARE_SWEEP_H
#define JOB_COMPARE_SWEEP_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* True when path is a sweep summary (a file with "kind": "sweep") or a directory holding
 * sweep.json; *summary gets that file's path. */
bool job_compare_sweep_find(const char *path, char *summary, size_t len);

/* A sweep summary read and parsed (owned by the caller), or NULL with the reason on stderr
 * ("rbench compare: FILE: ..."). */
cJSON *job_compare_sweep_load(const char *path);

/* The comparison of two sweep summaries (borrowed) as JSON (owned by the caller). */
cJSON *job_compare_sweep_json(const cJSON *a, const char *a_label, const cJSON *b,
                              const char *b_label);
/* The same as a table: the curves side by side, the max sustainable rates and their ratio. */
void job_compare_sweep_print(FILE *out, const cJSON *cmp);

/* rbench compare's hook: when either argument is a sweep (job_compare_sweep_find), reads
 * both, prints the comparison (JSON when json) and returns a job_exit code (an error when
 * only one side is a sweep); -1 when neither is, for the ordinary comparison. */
int job_compare_sweep_main(const char *a, const char *b, bool json);

#endif
