/* job_machine.c: the machine's CPU from /proc/stat (see job_machine.h). */
#define _GNU_SOURCE
#include "job_machine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One "cpu" or "cpuN" line: its busy and total jiffies. */
static bool parse_line(const char *p, uint64_t *busy, uint64_t *total) {
  unsigned long long v[8] = {0};
  int n = sscanf(p, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                 &v[5], &v[6], &v[7]);
  if (n < 4) return false;
  /* user nice system idle iowait irq softirq steal (guest time is already in user) */
  *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  *total = *busy + v[3] + v[4];
  return true;
}

bool job_machine_parse(const char *text, struct job_machine_sample *out) {
  memset(out, 0, sizeof *out);
  bool whole = false;
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    if (!strncmp(line, "cpu", 3)) {
      const char *p = line + 3;
      if (*p == ' ') {
        whole = parse_line(p, &out->busy, &out->total);
      } else if (*p >= '0' && *p <= '9' && out->cores < JOB_MACHINE_MAX_CPUS) {
        while (*p >= '0' && *p <= '9') p++;
        if (parse_line(p, &out->core_busy[out->cores], &out->core_total[out->cores])) out->cores++;
      }
    }
    line = end ? end + 1 : NULL;
  }
  out->ok = whole;
  return whole;
}

void job_machine_sample(struct job_machine_sample *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen("/proc/stat", "re");
  if (!f) return;
  size_t cap = 1 << 16;
  char *buf = malloc(cap);
  if (buf) {
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    job_machine_parse(buf, out);
  }
  free(buf);
  fclose(f);
}

static double frac(uint64_t b0, uint64_t t0, uint64_t b1, uint64_t t1) {
  if (t1 <= t0 || b1 < b0) return -1;
  double f = (double)(b1 - b0) / (double)(t1 - t0);
  return f > 1 ? 1 : f;
}

cJSON *job_machine_json(const struct job_machine_sample *a, const struct job_machine_sample *b) {
  if (!a->ok || !b->ok) return NULL;
  double all = frac(a->busy, a->total, b->busy, b->total);
  if (all < 0) return NULL;
  cJSON *o = cJSON_CreateObject();
  size_t cores = a->cores < b->cores ? a->cores : b->cores;
  double lo = 1, hi = 0;
  cJSON *per = cJSON_CreateArray();
  size_t counted = 0;
  for (size_t i = 0; i < cores; i++) {
    double f = frac(a->core_busy[i], a->core_total[i], b->core_busy[i], b->core_total[i]);
    if (f < 0) continue; /* an offline core */
    cJSON_AddItemToArray(per, cJSON_CreateNumber(f));
    if (f < lo) lo = f;
    if (f > hi) hi = f;
    counted++;
  }
  if (!counted) lo = hi = all;
  cJSON_AddNumberToObject(o, "cores", (double)(counted ? counted : 1));
  cJSON_AddNumberToObject(o, "busy_fraction", all);
  cJSON_AddNumberToObject(o, "min_core_busy_fraction", lo);
  cJSON_AddNumberToObject(o, "max_core_busy_fraction", hi);
  cJSON_AddItemToObject(o, "per_core_busy_fraction", per);
  return o;
}
