/* fuzz_job_merge.c: libFuzzer target for what rbench reads from untrusted results documents:
 * the typed reader (job_doc_read: validation must refuse, never crash on, leak or read out of
 * bounds on any input, and what it accepts must be self-consistent) and `rbench merge`.
 *
 * The input is a results document (JSON). It is read by job_doc_read (and the text by
 * job_doc_read_text); its histograms are decoded (job_hist_from_json must
 * refuse, never crash on, any malformed one, and what it accepts must encode back to a
 * histogram that decodes to the same counts), and the document is merged as a shard alone and
 * with itself (a duplicate shard: always refused). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "job_doc.h"
#include "job_hist.h"
#include "job_merge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[1200];
  struct job_doc d;
  if (job_doc_read_text((const char *)data, size, "fuzz.json", &d, err, sizeof err) == RB_OK) {
    /* accepted: the counts agree with the records, and a document has the settings it has */
    size_t measured = 0;
    for (size_t i = 0; i < d.nraw; i++) measured += !d.raw[i].warmup;
    char what[300];
    if ((d.measured == d.measured && d.has_raw && d.measured != (double)measured) ||
        job_doc_settings_diff(&d, &d, what, sizeof what))
      abort();
    job_doc_free(&d);
  } else if (strncmp(err, "fuzz.json: ", 11) != 0) {
    abort(); /* every refusal names the file */
  }
  cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
  if (!doc) return 0;
  const cJSON *h;
  cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(doc, "histograms")) {
    struct job_hist *x = job_hist_from_json(h, err, sizeof err);
    if (!x) continue;
    cJSON *again = job_hist_to_json(x);
    struct job_hist *y = again ? job_hist_from_json(again, err, sizeof err) : NULL;
    if (again &&
        (!y || job_hist_count(y) != job_hist_count(x) || job_hist_max(y) != job_hist_max(x) ||
         job_hist_percentile(y, 99) != job_hist_percentile(x, 99)))
      abort();
    job_hist_destroy(y);
    cJSON_Delete(again);
    job_hist_destroy(x);
  }
  const cJSON *one[1] = {doc}, *two[2] = {doc, doc};
  const char *paths[2] = {"a.json", "b.json"};
  cJSON *m = job_merge_shards(one, paths, 1, err, sizeof err);
  cJSON_Delete(m);
  if (job_merge_shards(two, paths, 2, err, sizeof err)) abort(); /* a duplicate: refused */
  cJSON_Delete(doc);
  return 0;
}
