/* job_record.c: activation records and action results into job_record (see job_record.h). */
#include "job_record.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_json_scan.h"
#include "job_json_write.h"
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
  r->action_elapsed_us = -1;
  r->action_ops = r->action_conns_new = -1;
}

void job_record_deinit(struct job_record *r) {
  free(r->action);
  r->action = NULL;
}

void job_record_set_error(struct job_record *r, enum job_outcome o, const char *msg) {
  r->outcome = o;
  snprintf(r->error, sizeof r->error, "%s", msg ? msg : "");
}

/* The action's own timing fields, in the order they are written. */
static const char *const kept_fields[] = {
    "succeeded", "failed", "elapsed_us", "connect_us", "ops_per_sec", "latency_us", "cold", "warm",
    "start_ms", "end_ms", "connections_new",
    /* issue 20: the workload's per-operation figures, the invocation's draws, a prepare
       call's answer */
    "op_stats", "invocation", "seed", "draw_digest", "prepared"};
enum { KEPT_SUCCEEDED = 0, KEPT_FAILED = 1, KEPT_ELAPSED = 2, KEPT_CONNS_NEW = 10 };

/* The action's operation count and new connections, from its succeeded/failed fields. */
static void set_action_counts(struct job_record *r, double succeeded, double failed,
                              double conns_new) {
  r->action_ops = succeeded >= 0 && failed >= 0 ? succeeded + failed : -1;
  r->action_conns_new = conns_new >= 0 ? conns_new : -1;
}
#define KEPT_FIELDS (sizeof kept_fields / sizeof kept_fields[0])

/* A growing text buffer. */
struct tbuf {
  char *s;
  size_t n, cap;
  bool failed;
};

static void tb_put(struct tbuf *t, const char *s, size_t n) {
  if (t->failed) return;
  if (t->n + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->n + n + 1) cap *= 2;
    char *b = realloc(t->s, cap);
    if (!b) {
      t->failed = true;
      return;
    }
    t->s = b;
    t->cap = cap;
  }
  memcpy(t->s + t->n, s, n);
  t->n += n;
  t->s[t->n] = '\0';
}

static void set_action(struct job_record *r, struct tbuf *t) {
  free(r->action);
  r->action = NULL;
  if (t->failed || !t->n) {
    free(t->s);
    return;
  }
  tb_put(t, "}", 1);
  if (t->failed) {
    free(t->s);
    return;
  }
  r->action = t->s;
}

void job_record_take_action_fields(struct job_record *r, cJSON *result) {
  if (!cJSON_IsObject(result)) return;
  struct tbuf t = {0};
  for (size_t i = 0; i < KEPT_FIELDS; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, kept_fields[i]);
    if (!v) continue;
    char *text = cJSON_PrintUnformatted(v);
    if (!text) {
      t.failed = true;
      break;
    }
    tb_put(&t, t.n ? ",\"" : "{\"", 2);
    tb_put(&t, kept_fields[i], strlen(kept_fields[i]));
    tb_put(&t, "\":", 2);
    tb_put(&t, text, strlen(text));
    cJSON_free(text);
    if (i == KEPT_ELAPSED && cJSON_IsNumber(v)) r->action_elapsed_us = v->valuedouble;
  }
  const cJSON *su = cJSON_GetObjectItemCaseSensitive(result, kept_fields[KEPT_SUCCEEDED]);
  const cJSON *fa = cJSON_GetObjectItemCaseSensitive(result, kept_fields[KEPT_FAILED]);
  const cJSON *cn = cJSON_GetObjectItemCaseSensitive(result, kept_fields[KEPT_CONNS_NEW]);
  set_action_counts(r, cJSON_IsNumber(su) ? su->valuedouble : -1,
                    cJSON_IsNumber(fa) ? fa->valuedouble : -1,
                    cJSON_IsNumber(cn) ? cn->valuedouble : -1);
  set_action(r, &t);
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

/* The full parse: every record the scanner below does not take. */
bool job_record_from_activation_tree(struct job_record *r, const char *body, size_t len) {
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

/* ---- Reading activation records in place ----
 * With the scanner of job_json_scan.h: plain records only; anything unusual makes it give up,
 * and the caller parses the tree instead. */

/* Copies a value as compact JSON: whitespace outside strings dropped. */
static void tb_put_compact(struct tbuf *t, const struct job_json_span *v) {
  const char *p = v->p, *e = v->p + v->n, *run = p;
  bool in_str = false;
  for (; p < e; p++) {
    char c = *p;
    if (in_str) {
      if (c == '\\') p++;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      tb_put(t, run, (size_t)(p - run));
      run = p + 1;
    }
  }
  tb_put(t, run, (size_t)(e - run));
}

struct activation {
  struct job_json_val id, duration, status, result, error;
  struct job_json_val kept[KEPT_FIELDS];
  double wait_ms, init_ms;
  bool has_wait, has_init; /* the annotation was there */
};

/* response.result: the kept fields and error (the first of each). */
static bool scan_result(struct job_json_scan *s, struct activation *a) {
  if (a->result.kind != JOB_JSON_V_NONE) return job_json_scan_value(s, 1);
  const char *start = s->p;
  if (s->p >= s->e || *s->p != '{') {
    if (!job_json_read_val(s, &a->result)) return false;
    return true;
  }
  s->p++;
  bool first = true;
  struct job_json_span k;
  int more;
  while ((more = job_json_obj_next(s, &first, &k)) == 1) {
    struct job_json_val *slot = NULL;
    for (size_t i = 0; i < KEPT_FIELDS && !slot; i++)
      if (job_json_key_is(&k, kept_fields[i])) slot = &a->kept[i];
    if (!slot && job_json_key_is(&k, "error")) slot = &a->error;
    if (!(slot ? job_json_read_first(s, slot) : job_json_scan_value(s, 2))) return false;
  }
  a->result = (struct job_json_val){JOB_JSON_V_OTHER, {start, (size_t)(s->p - start)}};
  return more == 0;
}

static bool scan_response(struct job_json_scan *s, struct activation *a) {
  if (s->p >= s->e || *s->p != '{') return false; /* unusual: the tree parse decides */
  s->p++;
  bool first = true;
  struct job_json_span k;
  int more;
  while ((more = job_json_obj_next(s, &first, &k)) == 1) {
    bool ok = job_json_key_is(&k, "status")   ? job_json_read_first(s, &a->status)
              : job_json_key_is(&k, "result") ? scan_result(s, a)
                                              : job_json_scan_value(s, 2);
    if (!ok) return false;
  }
  return more == 0;
}

/* annotations: [{"key": ..., "value": ...}, ...]; later entries win, as in the tree walk. */
static bool scan_annotations(struct job_json_scan *s, struct activation *a) {
  if (s->p >= s->e || *s->p != '[') return false;
  s->p++;
  bool first = true;
  int more;
  while ((more = job_json_arr_next(s, &first)) == 1) {
    if (*s->p != '{') {
      if (!job_json_scan_value(s, 2)) return false;
      continue;
    }
    s->p++;
    bool f2 = true;
    struct job_json_span k;
    struct job_json_val key = {JOB_JSON_V_NONE, {NULL, 0}}, value = {JOB_JSON_V_NONE, {NULL, 0}};
    int m;
    while ((m = job_json_obj_next(s, &f2, &k)) == 1) {
      bool ok = job_json_key_is(&k, "key")     ? job_json_read_first(s, &key)
                : job_json_key_is(&k, "value") ? job_json_read_first(s, &value)
                                               : job_json_scan_value(s, 3);
      if (!ok) return false;
    }
    if (m != 0) return false;
    if (key.kind == JOB_JSON_V_STRING) return false; /* escaped key name: unusual */
    if (key.kind != JOB_JSON_V_PLAIN_STRING) continue;
    struct job_json_span name = {key.text.p + 1, key.text.n - 2};
    if (job_json_key_is(&name, "waitTime")) {
      a->wait_ms = job_json_val_number(&value, -1);
      a->has_wait = true;
    }
    if (job_json_key_is(&name, "initTime")) {
      a->init_ms = job_json_val_number(&value, -1);
      a->has_init = true;
    }
  }
  return more == 0;
}

/* The scanner's reading of an activation record; false: not taken (use the tree parse). */
static bool from_activation_scan(struct job_record *r, const char *body, size_t len) {
  struct activation a;
  memset(&a, 0, sizeof a);
  struct job_json_scan s = {body, body + len};
  job_json_scan_ws(&s);
  if (s.p >= s.e || *s.p != '{') return false;
  s.p++;
  bool first = true, seen_resp = false, seen_ann = false;
  struct job_json_span k;
  int more;
  while ((more = job_json_obj_next(&s, &first, &k)) == 1) {
    bool ok;
    if (job_json_key_is(&k, "activationId")) {
      ok = job_json_read_first(&s, &a.id);
    } else if (job_json_key_is(&k, "duration")) {
      ok = job_json_read_first(&s, &a.duration);
    } else if (job_json_key_is(&k, "response") && !seen_resp) {
      seen_resp = true;
      ok = scan_response(&s, &a);
    } else if (job_json_key_is(&k, "annotations") && !seen_ann) {
      seen_ann = true;
      ok = scan_annotations(&s, &a);
    } else {
      ok = job_json_scan_value(&s, 1);
    }
    if (!ok) return false;
  }
  if (more != 0) return false;
  job_json_scan_ws(&s);
  if (s.p != s.e) return false;
  /* Plain strings only; a missing id or status, an escaped one or a non-string error is left
   * to the tree parse (it writes the error message). */
  if (a.id.kind != JOB_JSON_V_PLAIN_STRING || a.status.kind != JOB_JSON_V_PLAIN_STRING)
    return false;
  if (a.error.kind != JOB_JSON_V_NONE && a.error.kind != JOB_JSON_V_PLAIN_STRING) return false;
  char status[sizeof r->status];
  job_json_val_string(&a.status, status, sizeof status);
  if (a.status.text.n - 2 >= sizeof status) return false; /* outcome needs the whole status */
  struct tbuf t = {0};
  for (size_t i = 0; i < KEPT_FIELDS; i++) {
    if (a.kept[i].kind == JOB_JSON_V_NONE) continue;
    tb_put(&t, t.n ? ",\"" : "{\"", 2);
    tb_put(&t, kept_fields[i], strlen(kept_fields[i]));
    tb_put(&t, "\":", 2);
    tb_put_compact(&t, &a.kept[i].text);
  }
  if (t.failed) {
    free(t.s);
    return false;
  }
  job_json_val_string(&a.id, r->activation_id, sizeof r->activation_id);
  snprintf(r->status, sizeof r->status, "%s", status);
  r->duration_ms = job_json_val_number(&a.duration, -1);
  if (a.has_wait) r->wait_ms = a.wait_ms;
  if (a.has_init) {
    r->init_ms = a.init_ms;
    r->cold_start = a.init_ms >= 0;
  }
  r->action_elapsed_us = job_json_val_number(&a.kept[KEPT_ELAPSED], -1);
  set_action_counts(r, job_json_val_number(&a.kept[KEPT_SUCCEEDED], -1),
                    job_json_val_number(&a.kept[KEPT_FAILED], -1),
                    job_json_val_number(&a.kept[KEPT_CONNS_NEW], -1));
  set_action(r, &t);
  r->outcome = outcome_of_status(status);
  r->error[0] = '\0';
  if (r->outcome != JOB_OK) {
    if (a.error.kind == JOB_JSON_V_PLAIN_STRING)
      job_json_val_string(&a.error, r->error, sizeof r->error);
    if (!r->error[0]) snprintf(r->error, sizeof r->error, "%s", status);
  }
  return true;
}

bool job_record_from_activation(struct job_record *r, const char *body, size_t len) {
  return from_activation_scan(r, body, len) || job_record_from_activation_tree(r, body, len);
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
  if (cJSON_IsString(aid))
    snprintf(r->activation_id, sizeof r->activation_id, "%s", aid->valuestring);
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

size_t job_record_write(FILE *f, const struct job_record *r) {
  struct job_json_wbuf w;
  w.f = f;
  w.n = w.total = 0;
  JOB_JSON_WB_LIT(&w, "{\"index\":");
  job_json_wb_u64(&w, r->index);
  if (r->warmup) JOB_JSON_WB_LIT(&w, ",\"warmup\":true");
  job_json_wb_us_as_ms(&w, "intended_ms", r->intended_us);
  job_json_wb_us_as_ms(&w, "sent_ms", r->sent_us);
  job_json_wb_us_as_ms(&w, "end_ms", r->end_us);
  job_json_wb_us_as_ms(&w, "execution_time_ms", r->end_us - r->intended_us);
  job_json_wb_us_as_ms(&w, "service_time_ms", r->end_us - r->sent_us);
  if (r->outcome == JOB_OK) JOB_JSON_WB_LIT(&w, ",\"success\":true,\"outcome\":\"");
  else JOB_JSON_WB_LIT(&w, ",\"success\":false,\"outcome\":\"");
  job_json_wb_str(&w, job_outcome_name(r->outcome));
  JOB_JSON_WB_LIT(&w, "\"");
  if (r->http_status > 0) {
    JOB_JSON_WB_LIT(&w, ",\"http_status\":");
    job_json_wb_u64(&w, (uint64_t)r->http_status);
  } else if (r->http_status) {
    char t[24];
    int n = snprintf(t, sizeof t, ",\"http_status\":%d", r->http_status);
    job_json_wb_put(&w, t, (size_t)n);
  } else {
    JOB_JSON_WB_LIT(&w, ",\"http_status\":null");
  }
  if (r->status[0]) {
    JOB_JSON_WB_LIT(&w, ",\"status\":");
    job_json_wb_json_string(&w, r->status);
  }
  JOB_JSON_WB_LIT(&w, ",\"activation_id\":");
  if (r->activation_id[0]) job_json_wb_json_string(&w, r->activation_id);
  else JOB_JSON_WB_LIT(&w, "null");
  if (r->cold_start) JOB_JSON_WB_LIT(&w, ",\"cold_start\":true");
  else JOB_JSON_WB_LIT(&w, ",\"cold_start\":false");
  job_json_wb_ms_or_null(&w, "wait_time_ms", r->wait_ms);
  job_json_wb_ms_or_null(&w, "init_time_ms", r->init_ms);
  job_json_wb_ms_or_null(&w, "duration_ms", r->duration_ms);
  if (r->polls) {
    JOB_JSON_WB_LIT(&w, ",\"polls\":");
    job_json_wb_u64(&w, (uint64_t)r->polls);
  }
  if (r->action) {
    JOB_JSON_WB_LIT(&w, ",\"action\":");
    job_json_wb_str(&w, r->action);
  }
  if (r->outcome != JOB_OK) {
    JOB_JSON_WB_LIT(&w, ",\"error\":");
    job_json_wb_json_string(&w, r->error);
  }
  JOB_JSON_WB_LIT(&w, "}");
  job_json_wb_flush(&w);
  return w.total;
}
