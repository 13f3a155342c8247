/* job_merge.h: `rbench merge`'s core (pure: documents in, one document out): the shards of one
 * scale-out run (rbench run --shard I/N) combined into one results document of the same
 * schema, as one runner sending the whole schedule would have written it (docs/runner.md,
 * "rbench merge"; docs/results.md, "merged_from").
 *
 *   counts, late and held starts, connections, cold starts   summed
 *   percentiles        nearest rank over the union of raw samples; from the merged histograms
 *                      (within their stated relative error) when an input is summary only
 *   achieved rate, throughput   over the union of sends and replies (the documents' timeline)
 *   errors_by_kind     counts summed, messages merged by text (capped as the runner caps them)
 *   redis, agent       once per server: the shards sampled the same servers, so the section of
 *                      the shard whose sampling window covers the others' (else the widest)
 *                      is taken, with per-operation figures recomputed over every shard's ops
 *   raw_results        every shard's, in completion order */
#ifndef JOB_MERGE_H
#define JOB_MERGE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "job_doc.h"
#include "rb_error.h"

/* Why a document (read by job_doc_read) cannot be a shard: NULL when it is one (has "shard"
 * with index, count, start_at_ms and run_key, and is a results document), else a static
 * reason. */
const char *job_merge_doc_not_a_shard(const struct job_doc *d);
/* The same from the JSON tree ("not a valid rbench results document" when it fails
 * validation: job_merge_shards names the field). */
const char *job_merge_not_a_shard(const cJSON *doc);

/* The group a shard belongs to: "SCENARIO\x1fRUN\x1fREPETITION" in out. */
void job_merge_doc_group_key(const struct job_doc *d, char *out, size_t len);
void job_merge_group_key(const cJSON *doc, char *out, size_t len);

/* Merges the shards docs[0..n) of one run (any order; paths name them in errors and in
 * merged_from); each is read and validated by job_doc_read. Refuses, with err naming the files,
 * shards of different runs (run_key, scenario, run, repetition, start, count), a duplicate or
 * missing index, and a summary-only shard without histograms. The result is owned by the caller. */
cJSON *job_merge_shards(const cJSON *const *docs, const char *const *paths, size_t n, char *err,
                        size_t errlen);

#endif
