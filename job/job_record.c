/* job_record.c: activation records and action results into job_record (see job_record.h). */
#include "job_record.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rb_json.h"

static const char *const outcome_names[] = {
#define JOB_OUTCOME_NAME(name, text) text,
    JOB_OUTCOMES(JOB_OUTCOME_NAME)
#undef JOB_OUTCOME_NAME
};

const char *job_outcome_name(enum job_outcome o) {
  return (unsigned)o < JOB_OUTCOME_COUNT ? outcome_names[o] : "unknown";
}

void job_record_init(struct job_record *r, uint64_t index) {
  memset(r, 0, sizeof *r);
  r->index = index;
  r->wait_ms = r->init_ms = r->duration_ms = -1;
}

void job_record_deinit(struct job_record *r) {
  cJSON_Delete(r->action);
  r->action = NULL;
}

void job_record_set_error(struct job_record *r, enum job_outcome o, const char *msg) {
  r->outcome = o;
  snprintf(r->error, sizeof r->error, "%s", msg ? msg : "");
}

void job_record_take_action_fields(struct job_record *r, cJSON *result) {
  static const char *const keep[] = {"succeeded", "failed", "elapsed_us", "connect_us",
                                     "ops_per_sec", "latency_us", "cold", "warm",
                                     "start_ms", "end_ms"};
  if (!cJSON_IsObject(result)) return;
  cJSON *o = cJSON_CreateObject();
  if (!o) return;
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(result, keep[i]); /* moved, not copied */
    if (v) cJSON_AddItemToObject(o, keep[i], v);
  }
  cJSON_Delete(r->action);
  r->action = o;
}

static double number_or(const cJSON *v, double dflt) {
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* The action's error text: result.error as a string, or its JSON. */
static void result_error(struct job_record *r, const cJSON *result) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(result, "error");
  if (!e) return;
  if (cJSON_IsString(e)) {
    snprintf(r->error, sizeof r->error, "%s", e->valuestring);
  } else {
    char *t = rb_json_print(e);
    snprintf(r->error, sizeof r->error, "%s", t ? t : "error");
    cJSON_free(t);
  }
}

static enum job_outcome outcome_of_status(const char *status) {
  if (!strcmp(status, "success")) return JOB_OK;
  if (!strcmp(status, "application error")) return JOB_ERR_APPLICATION;
  if (!strcmp(status, "action developer error")) return JOB_ERR_DEVELOPER;
  return JOB_ERR_INTERNAL;
}

static void read_annotations(struct job_record *r, const cJSON *ann) {
  const cJSON *a;
  cJSON_ArrayForEach(a, ann) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(a, "key");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "value");
    if (!cJSON_IsString(k)) continue;
    if (!strcmp(k->valuestring, "waitTime")) r->wait_ms = number_or(v, -1);
    if (!strcmp(k->valuestring, "initTime")) {
      r->init_ms = number_or(v, -1);
      r->cold_start = r->init_ms >= 0;
    }
  }
}

bool job_record_from_activation(struct job_record *r, const char *body, size_t len) {
  cJSON *root = NULL;
  char err[128];
  if (rb_json_parse(body, len, &root, err, sizeof err) != RB_OK) {
    snprintf(r->error, sizeof r->error, "reply is not an activation record: %s", err);
    return false;
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "activationId");
  const cJSON *resp = cJSON_GetObjectItemCaseSensitive(root, "response");
  const cJSON *status = cJSON_GetObjectItemCaseSensitive(resp, "status");
  if (!cJSON_IsString(id) || !cJSON_IsString(status)) {
    snprintf(r->error, sizeof r->error,
             "reply is not an activation record (no activationId or response.status)");
    cJSON_Delete(root);
    return false;
  }
  snprintf(r->activation_id, sizeof r->activation_id, "%s", id->valuestring);
  snprintf(r->status, sizeof r->status, "%s", status->valuestring);
  r->duration_ms = number_or(cJSON_GetObjectItemCaseSensitive(root, "duration"), -1);
  read_annotations(r, cJSON_GetObjectItemCaseSensitive(root, "annotations"));
  cJSON *result = cJSON_GetObjectItemCaseSensitive(resp, "result");
  job_record_take_action_fields(r, result);
  r->outcome = outcome_of_status(status->valuestring);
  r->error[0] = '\0';
  if (r->outcome != JOB_OK) {
    result_error(r, result);
    if (!r->error[0]) snprintf(r->error, sizeof r->error, "%s", status->valuestring);
  }
  cJSON_Delete(root);
  return true;
}

bool job_record_from_action_result(struct job_record *r, const char *body, size_t len) {
  cJSON *root = NULL;
  char err[128];
  if (rb_json_parse(body, len, &root, err, sizeof err) != RB_OK || !cJSON_IsObject(root)) {
    job_record_set_error(r, JOB_ERR_DEVELOPER,
                         "The action did not produce a valid JSON object response");
    snprintf(r->status, sizeof r->status, "action developer error");
    cJSON_Delete(root);
    return false;
  }
  job_record_take_action_fields(r, root);
  const cJSON *aid = cJSON_GetObjectItemCaseSensitive(root, "activation_id");
  if (cJSON_IsString(aid)) snprintf(r->activation_id, sizeof r->activation_id, "%s", aid->valuestring);
  if (cJSON_GetObjectItemCaseSensitive(root, "error")) {
    r->outcome = JOB_ERR_APPLICATION;
    snprintf(r->status, sizeof r->status, "application error");
    result_error(r, root);
  } else {
    r->outcome = JOB_OK;
    snprintf(r->status, sizeof r->status, "success");
  }
  cJSON_Delete(root);
  return true;
}

void job_json_write_string(FILE *f, const char *s) {
  putc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      putc('\\', f);
      putc(*p, f);
    } else if (*p < 0x20) {
      fprintf(f, "\\u%04x", *p);
    } else {
      putc(*p, f);
    }
  }
  putc('"', f);
}

static void write_ms_or_null(FILE *f, const char *name, double ms) {
  if (ms >= 0) fprintf(f, ",\"%s\":%.3f", name, ms);
  else fprintf(f, ",\"%s\":null", name);
}

/* Writes microseconds as milliseconds with three decimals, without floating point. */
static void write_us_as_ms(FILE *f, const char *name, int64_t us) {
  const char *sign = us < 0 ? "-" : "";
  int64_t a = us < 0 ? -us : us;
  fprintf(f, ",\"%s\":%s%lld.%03lld", name, sign, (long long)(a / 1000), (long long)(a % 1000));
}

void job_record_write(FILE *f, const struct job_record *r) {
  fprintf(f, "{\"index\":%llu", (unsigned long long)r->index);
  if (r->warmup) fputs(",\"warmup\":true", f);
  write_us_as_ms(f, "intended_ms", r->intended_us);
  write_us_as_ms(f, "sent_ms", r->sent_us);
  write_us_as_ms(f, "end_ms", r->end_us);
  write_us_as_ms(f, "execution_time_ms", r->end_us - r->intended_us);
  write_us_as_ms(f, "service_time_ms", r->end_us - r->sent_us);
  fprintf(f, ",\"success\":%s,\"outcome\":\"%s\"", r->outcome == JOB_OK ? "true" : "false",
          job_outcome_name(r->outcome));
  if (r->http_status) fprintf(f, ",\"http_status\":%d", r->http_status);
  else fputs(",\"http_status\":null", f);
  if (r->status[0]) {
    fputs(",\"status\":", f);
    job_json_write_string(f, r->status);
  }
  fputs(",\"activation_id\":", f);
  if (r->activation_id[0]) job_json_write_string(f, r->activation_id);
  else fputs("null", f);
  fprintf(f, ",\"cold_start\":%s", r->cold_start ? "true" : "false");
  write_ms_or_null(f, "wait_time_ms", r->wait_ms);
  write_ms_or_null(f, "init_time_ms", r->init_ms);
  write_ms_or_null(f, "duration_ms", r->duration_ms);
  if (r->polls) fprintf(f, ",\"polls\":%d", r->polls);
  if (r->action) {
    char *a = cJSON_PrintUnformatted(r->action);
    if (a) fprintf(f, ",\"action\":%s", a);
    cJSON_free(a);
  }
  if (r->outcome != JOB_OK) {
    fputs(",\"error\":", f);
    job_json_write_string(f, r->error);
  }
  putc('}', f);
}

void job_redact(char *s, size_t size, const char *const *secrets) {
  for (size_t i = 0; secrets && secrets[i]; i++) {
    const char *sec = secrets[i];
    size_t sl = strlen(sec);
    if (sl == 0) continue;
    char *from = s, *hit;
    while ((hit = strstr(from, sec)) != NULL) {
      size_t pos = (size_t)(hit - s);
      size_t tail = strlen(hit + sl);
      if (pos + 3 >= size) { /* no room even for the mask: cut here */
        *hit = '\0';
        break;
      }
      if (pos + 3 + tail + 1 > size) tail = size - pos - 4;
      memmove(hit + 3, hit + sl, tail);
      memcpy(hit, "***", 3);
      hit[3 + tail] = '\0';
      from = hit + 3;
    }
  }
}
