/* fuzz_job_trace.c: libFuzzer target for the arrival trace readers (job_arrival.h): an Azure
 * Functions invocation-count CSV or a timestamps file, with a fuzzed row and minute selection.
 * Whatever the input, the readers refuse (naming the file) or accept, never crash, leak or
 * read out of bounds; what they accept is a non-empty, non-decreasing schedule within the caps.
 *
 * Input: byte 0 chooses the format (bit 0: timestamps), the spread (bit 1: constant) and the
 * speedup (bits 2-3: 1, 60, 0.5, 1000); then trace_rows up to a newline, trace_minutes up to a
 * newline, and the rest is the file. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_arrival.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The text up to the next newline (at most len - 1 bytes) into out; advances. */
static void take_line(const uint8_t **p, const uint8_t *end, char *out, size_t len) {
  size_t n = 0;
  while (*p < end && **p != '\n') {
    if (n + 1 < len) out[n++] = (char)**p;
    (*p)++;
  }
  if (*p < end) (*p)++;
  out[n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const double speedups[] = {1, 60, 0.5, 1000};
  struct job_params p;
  job_params_defaults(&p);
  snprintf(p.arrival, sizeof p.arrival, "trace");
  snprintf(p.trace_file, sizeof p.trace_file, "fuzz.trace");
  snprintf(p.trace_format, sizeof p.trace_format, "%s", data[0] & 1 ? "timestamps" : "azure");
  snprintf(p.trace_spread, sizeof p.trace_spread, "%s", data[0] & 2 ? "constant" : "poisson");
  p.trace_speedup = speedups[(data[0] >> 2) & 3];
  const uint8_t *q = data + 1, *end = data + size;
  take_line(&q, end, p.trace_rows, sizeof p.trace_rows);
  take_line(&q, end, p.trace_minutes, sizeof p.trace_minutes);
  if (!p.trace_rows[0]) snprintf(p.trace_rows, sizeof p.trace_rows, "all");
  /* the selection parsers alone */
  struct job_trace_rows rows;
  int first = 0, last = 0;
  char err[1000];
  if (job_arrival_parse_minutes(p.trace_minutes, &first, &last, err, sizeof err) == RB_OK &&
      (first < 1 || last > JOB_AZURE_MINUTES || first > last))
    abort();
  (void)job_arrival_parse_rows(p.trace_rows, &rows, err, sizeof err);
  size_t body = (size_t)(end - q);
  char *copy = malloc(body ? body : 1);
  if (!copy) return 0;
  memcpy(copy, q, body);
  FILE *f = fmemopen(copy, body, "r");
  if (!f) { /* glibc refuses an empty buffer: an empty file */
    f = fopen("/dev/null", "r");
    if (!f) abort();
  }
  struct job_arrival a;
  enum rb_err rc = job_arrival_build_from(&p, f, "fuzz.trace", &a, err, sizeof err);
  fclose(f);
  free(copy);
  if (rc != RB_OK) {
    if (a.offsets || (!strstr(err, "fuzz.trace") && strncmp(err, "trace_", 6) != 0)) abort();
    return 0;
  }
  if (!a.offsets || a.count == 0 || a.count > JOB_ARRIVAL_MAX) abort();
  for (uint64_t k = 1; k < a.count; k++)
    if (a.offsets[k] < a.offsets[k - 1]) abort();
  if (a.offsets[a.count - 1] > (uint64_t)(JOB_ARRIVAL_MAX_SECONDS * 1e9)) abort();
  job_arrival_free(&a);
  return 0;
}
