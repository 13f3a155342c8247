/* job_settings.c: which documents may be pooled (see job_settings.h). */
#define _GNU_SOURCE
#include "job_settings.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void shard_text(const struct job_doc *d, char *buf, size_t len) {
  if (d->sharded) snprintf(buf, len, "%.0f/%.0f", d->shard_index, d->shard_count);
  else snprintf(buf, len, "whole");
}

bool job_settings_diff(const struct job_doc *a, const struct job_doc *b, bool same_sweep,
                       char *what, size_t len) {
  struct job_doc bb = *b; /* shallow: only compared */
  bool steps = same_sweep && a->sweep_step && b->sweep_step;
  if (steps) { /* a step's rate, and its count of invocations, are the step's */
    bb.params.rate = a->params.rate;
    bb.params.invocations = a->params.invocations;
    bb.params.duration = a->params.duration;
  }
  if (job_doc_settings_diff(a, &bb, what, len)) return true;
  char sa[48], sb[48];
  shard_text(a, sa, sizeof sa);
  shard_text(b, sb, sizeof sb);
  if (strcmp(sa, sb)) {
    snprintf(what, len, "shard: %s vs %s", sa, sb);
    return true;
  }
  bool rate_differs =
      a->sweep_step != b->sweep_step || (a->sweep_step && !(a->sweep_rate == b->sweep_rate));
  if (!steps && rate_differs) {
    snprintf(what, len, "sweep_rate: %.6g vs %.6g", a->sweep_rate, b->sweep_rate);
    return true;
  }
  return false;
}

void job_settings_label(const char *what, char *buf, size_t len) {
  const char *colon = strstr(what, ": "), *vs = colon ? strstr(colon, " vs ") : NULL;
  if (!colon || !vs) {
    snprintf(buf, len, "%s", what);
    return;
  }
  snprintf(buf, len, "%.*s=%.*s", (int)(colon - what), what, (int)(vs - colon - 2), colon + 2);
}

bool job_settings_incomplete(const struct job_doc *d, char *why, size_t len) {
  /* a document that does not say (written before the flag) is taken as whole */
  if (d->complete || !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d->json, JOB_K_COMPLETE)))
    return false;
  if (d->interrupted_by) snprintf(why, len, "interrupted by %s", d->interrupted_by);
  else snprintf(why, len, "incomplete");
  return true;
}
