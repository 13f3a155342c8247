/* fuzz_job_activation.c: libFuzzer target for the runner's in-place activation record reader.
 *
 * The input is a reply body. job_record_from_activation (the scanner, with the cJSON parse as
 * its fallback) and job_record_from_activation_tree (the cJSON parse alone) must give the
 * same answer and, when they accept it, the same record; the scanner must never read outside
 * the body (the copy below has no terminating NUL). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "job_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_double(double a, double b) { return a == b || (a != a && b != b); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *body = malloc(size ? size : 1);
  if (!body) return 0;
  memcpy(body, data, size);
  struct job_record a, b;
  job_record_init(&a, 1);
  job_record_init(&b, 1);
  bool fa = job_record_from_activation(&a, body, size);
  bool fb = job_record_from_activation_tree(&b, body, size);
  if (fa != fb) abort();
  if (fa) {
    if (a.outcome != b.outcome || strcmp(a.activation_id, b.activation_id) ||
        strcmp(a.status, b.status) || strcmp(a.error, b.error) || a.cold_start != b.cold_start ||
        !same_double(a.duration_ms, b.duration_ms) || !same_double(a.wait_ms, b.wait_ms) ||
        !same_double(a.init_ms, b.init_ms) ||
        !same_double(a.action_elapsed_us, b.action_elapsed_us) ||
        (a.action == NULL) != (b.action == NULL))
      abort();
    if (a.action) {
      /* Same JSON, compared as printed text: cJSON_Compare looks keys up by name, so an
       * object with a duplicate key ({"p90":1,"p90":2}) would not even equal itself. */
      cJSON *ja = cJSON_Parse(a.action), *jb = cJSON_Parse(b.action);
      char *pa = ja ? cJSON_PrintUnformatted(ja) : NULL,
           *pb = jb ? cJSON_PrintUnformatted(jb) : NULL;
      if (!pa || !pb || strcmp(pa, pb) != 0) abort();
      cJSON_free(pa);
      cJSON_free(pb);
      cJSON_Delete(ja);
      cJSON_Delete(jb);
    }
  }
  job_record_deinit(&a);
  job_record_deinit(&b);
  free(body);
  return 0;
}
