/* job_settings.c: the settings that make documents repetitions of one thing (see job_settings.h). */
#define _GNU_SOURCE
#include "job_settings.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const cJSON *at(const cJSON *o, const char *a, const char *b) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
  return b ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

static const cJSON *param(const cJSON *doc, const char *k) {
  return cJSON_GetObjectItemCaseSensitive(at(doc, "scenario", "parameters"), k);
}

static bool closed(const cJSON *doc) {
  const cJSON *m = at(doc, "mode", NULL);
  return cJSON_IsString(m) && !strcmp(m->valuestring, "closed");
}

static void text_of(const cJSON *v, char *buf, size_t len) {
  if (cJSON_IsNumber(v)) snprintf(buf, len, "%.10g", v->valuedouble);
  else if (cJSON_IsString(v)) snprintf(buf, len, "%s", v->valuestring);
  else if (cJSON_IsBool(v)) snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
  else snprintf(buf, len, "-");
}

static const char *const names[] = {"target", "batching", "operation", "ops", "parallel", "value_size",
                                    "key_space", "mode", "rate", "concurrency", "sweep_rate", "shard"};
enum { TARGET, BATCHING, OPERATION, OPS, PARALLEL, VALUE_SIZE, KEY_SPACE, MODE, RATE, CONCURRENCY, SWEEP_RATE, SHARD, COUNT };

size_t job_settings_count(void) { return COUNT; }

const char *job_settings_name(size_t i) { return i < COUNT ? names[i] : "?"; }

void job_settings_value(const cJSON *doc, size_t i, char *buf, size_t len) {
  const cJSON *shard = at(doc, "shard", NULL);
  switch (i) {
    case TARGET:
      text_of(cJSON_IsString(at(doc, "target", NULL)) ? at(doc, "target", NULL) : at(at(doc, "scenario", "target"), "kind", NULL), buf, len);
      break;
    case MODE: snprintf(buf, len, "%s", closed(doc) ? "closed" : "open"); break;
    case RATE: /* the open loop's; the closed loop's is its concurrency */
      text_of(closed(doc) ? NULL : param(doc, "rate"), buf, len);
      break;
    case CONCURRENCY: text_of(closed(doc) ? param(doc, "concurrency") : NULL, buf, len); break;
    case SWEEP_RATE: text_of(at(doc, "sweep", "rate"), buf, len); break;
    case SHARD:
      if (cJSON_IsObject(shard))
        snprintf(buf, len, "%.0f/%.0f", cJSON_GetNumberValue(at(shard, "index", NULL)), cJSON_GetNumberValue(at(shard, "count", NULL)));
      else snprintf(buf, len, "whole");
      break;
    default: text_of(param(doc, names[i < COUNT ? i : 0]), buf, len); break;
  }
}

int job_settings_diff(const cJSON *a, const cJSON *b, bool skip_sweep_rate, char *what, size_t len) {
  what[0] = '\0';
  for (size_t i = 0; i < COUNT; i++) {
    if (i == SWEEP_RATE && skip_sweep_rate) continue;
    char va[64], vb[64];
    job_settings_value(a, i, va, sizeof va);
    job_settings_value(b, i, vb, sizeof vb);
    if (strcmp(va, vb)) {
      snprintf(what, len, "%s (%s vs %s)", names[i], va, vb);
      return (int)i;
    }
  }
  return -1;
}

const char *job_settings_run_id(const cJSON *doc) {
  const cJSON *v = at(doc, "run_id", NULL);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool job_settings_incomplete(const cJSON *doc, char *why, size_t len) {
  if (!cJSON_IsFalse(at(doc, "complete", NULL))) return false;
  const cJSON *by = at(doc, "interrupted_by", NULL);
  if (cJSON_IsString(by)) snprintf(why, len, "interrupted by %s", by->valuestring);
  else snprintf(why, len, "incomplete");
  return true;
}
