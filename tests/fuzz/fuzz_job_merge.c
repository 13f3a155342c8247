/* fuzz_job_merge.c: libFuzzer target for what `rbench merge` reads from untrusted files.
 *
 * The input is a results document (JSON). Its histograms are decoded (job_hist_from_json must
 * refuse, never crash on, any malformed one, and what it accepts must encode back to a
 * histogram that decodes to the same counts), and the document is merged as a shard alone and
 * with itself (a duplicate shard: always refused). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "job_hist.h"
#include "job_merge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
  if (!doc) return 0;
  char err[1200];
  const cJSON *h;
  cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(doc, "histograms")) {
    struct job_hist *x = job_hist_from_json(h, err, sizeof err);
    if (!x) continue;
    cJSON *again = job_hist_to_json(x);
    struct job_hist *y = again ? job_hist_from_json(again, err, sizeof err) : NULL;
    if (again && (!y || job_hist_count(y) != job_hist_count(x) || job_hist_max(y) != job_hist_max(x) ||
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
