/* job_record.c: activation records and action results into job_record (see job_record.h). */
#include "job_record.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
static const char *const kept_fields[] = {"succeeded", "failed", "elapsed_us", "connect_us",
                                          "ops_per_sec", "latency_us", "cold", "warm",
                                          "start_ms", "end_ms", "connections_new"};
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
 * A validating scanner over the reply bytes: it walks the structure (strings, numbers,
 * literals, nesting) and hands back spans; nothing is allocated. It takes plain records
 * only: anything unusual makes it give up, and the caller parses the tree instead. */

struct scan {
  const char *p, *e;
};

struct span {
  const char *p;
  size_t n;
};

#define SCAN_MAX_DEPTH (RB_JSON_MAX_DEPTH - 8) /* deeper: leave it to the tree parse */

static void scan_ws(struct scan *s) {
  while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Whether [p, e) holds a control character or a backslash (eight bytes at a time). */
static bool has_special(const char *p, const char *e) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  for (; e - p >= 8; p += 8) {
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t ctl = (x - ones * 0x20) & ~x & highs; /* a byte < 0x20 */
    uint64_t bs = x ^ (ones * 0x5c);
    bs = (bs - ones) & ~bs & highs; /* a byte == '\\' */
    if (ctl | bs) return true;
  }
  for (; p < e; p++)
    if ((unsigned char)*p < 0x20 || *p == '\\') return true;
  return false;
}

/* Skips the string at s->p; *escaped tells whether it holds escapes. */
static bool scan_string(struct scan *s, bool *escaped) {
  if (s->p >= s->e || *s->p != '"') return false;
  s->p++;
  /* Most strings are plain: find the closing quote, then check the bytes before it. */
  const char *q = memchr(s->p, '"', (size_t)(s->e - s->p));
  if (!q) return false;
  if (!has_special(s->p, q)) {
    s->p = q + 1;
    return true;
  }
  while (s->p < s->e) {
    unsigned char c = (unsigned char)*s->p;
    if (c == '"') {
      s->p++;
      return true;
    }
    if (c < 0x20) return false;
    if (c == '\\') {
      *escaped = true;
      if (++s->p >= s->e) return false;
      switch (*s->p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': break;
        case 'u':
          if (s->e - s->p < 5 || !is_hex(s->p[1]) || !is_hex(s->p[2]) || !is_hex(s->p[3]) ||
              !is_hex(s->p[4]))
            return false;
          s->p += 4;
          break;
        default: return false;
      }
    }
    s->p++;
  }
  return false;
}

static bool scan_digits(struct scan *s) {
  const char *start = s->p;
  while (s->p < s->e && *s->p >= '0' && *s->p <= '9') s->p++;
  return s->p > start;
}

/* JSON's number grammar. */
static bool scan_number(struct scan *s) {
  if (s->p < s->e && *s->p == '-') s->p++;
  if (s->p < s->e && *s->p == '0') s->p++;
  else if (!scan_digits(s)) return false;
  if (s->p < s->e && *s->p == '.') {
    s->p++;
    if (!scan_digits(s)) return false;
  }
  if (s->p < s->e && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->e && (*s->p == '+' || *s->p == '-')) s->p++;
    if (!scan_digits(s)) return false;
  }
  return true;
}

static bool scan_literal(struct scan *s, const char *lit, size_t n) {
  if ((size_t)(s->e - s->p) < n || memcmp(s->p, lit, n) != 0) return false;
  s->p += n;
  return true;
}

static int obj_next(struct scan *s, bool *first, struct span *key);
static int arr_next(struct scan *s, bool *first);

/* Skips one value (s->p at its first byte). */
static bool scan_value(struct scan *s, int depth) {
  if (s->p >= s->e || depth > SCAN_MAX_DEPTH) return false;
  bool esc = false, first = true;
  int more;
  switch (*s->p) {
    case '"': return scan_string(s, &esc);
    case 't': return scan_literal(s, "true", 4);
    case 'f': return scan_literal(s, "false", 5);
    case 'n': return scan_literal(s, "null", 4);
    case '{':
      s->p++;
      struct span k;
      while ((more = obj_next(s, &first, &k)) == 1)
        if (!scan_value(s, depth + 1)) return false;
      return more == 0;
    case '[':
      s->p++;
      while ((more = arr_next(s, &first)) == 1)
        if (!scan_value(s, depth + 1)) return false;
      return more == 0;
    default: return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && scan_number(s);
  }
}

/* Inside an object or array (after its opening bracket): 1 with s->p at the next member, 0
 * after the closing bracket `close`, -1 when malformed. */
static int list_next(struct scan *s, bool *first, char close) {
  scan_ws(s);
  if (s->p >= s->e) return -1;
  if (*s->p == close) {
    s->p++;
    return 0;
  }
  if (!*first) {
    if (*s->p != ',') return -1;
    s->p++;
    scan_ws(s);
    if (s->p >= s->e) return -1;
  }
  *first = false;
  return 1;
}

/* Inside an object (after '{'): 1 with the next key read and s->p at its value, 0 after the
 * closing '}', -1 when malformed or the key has escapes. */
static int obj_next(struct scan *s, bool *first, struct span *key) {
  int more = list_next(s, first, '}');
  if (more != 1) return more;
  const char *k = s->p;
  bool esc = false;
  if (!scan_string(s, &esc) || esc) return -1;
  key->p = k + 1;
  key->n = (size_t)(s->p - k - 2);
  scan_ws(s);
  if (s->p >= s->e || *s->p != ':') return -1;
  s->p++;
  scan_ws(s);
  return 1;
}

/* Inside an array (after '['): 1 with s->p at the next element, 0 after ']', -1 malformed. */
static int arr_next(struct scan *s, bool *first) {
  return list_next(s, first, ']');
}

static bool key_is(const struct span *k, const char *name) {
  return strlen(name) == k->n && memcmp(k->p, name, k->n) == 0;
}

/* A value read in place: its kind and bytes. */
enum vkind { V_NONE, V_STRING, V_PLAIN_STRING, V_NUMBER, V_OTHER };
struct val {
  enum vkind kind; /* V_NONE: absent; V_STRING has escapes, V_PLAIN_STRING none */
  struct span text; /* the whole value (strings with their quotes) */
};

static bool read_val(struct scan *s, struct val *v) {
  const char *start = s->p;
  bool esc = false;
  enum vkind k = s->p < s->e && *s->p == '"' ? V_PLAIN_STRING
               : s->p < s->e && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) ? V_NUMBER
                                                                                  : V_OTHER;
  if (k == V_PLAIN_STRING ? !scan_string(s, &esc) : !scan_value(s, 1)) return false;
  if (k == V_PLAIN_STRING && esc) k = V_STRING;
  *v = (struct val){k, {start, (size_t)(s->p - start)}};
  return true;
}

/* Reads only the first occurrence of a key, as cJSON's lookups do. */
static bool read_first(struct scan *s, struct val *v) {
  if (v->kind != V_NONE) return scan_value(s, 1);
  return read_val(s, v);
}

static double val_number(const struct val *v, double dflt) {
  if (v->kind != V_NUMBER) return dflt;
  /* Integers of up to 15 digits (most of them: times in ms and µs) are exact as doubles. */
  const char *p = v->text.p, *e = p + v->text.n;
  bool neg = *p == '-';
  if (neg) p++;
  if (e - p >= 1 && e - p <= 15) {
    int64_t i = 0;
    const char *d = p;
    while (d < e && *d >= '0' && *d <= '9') i = i * 10 + (*d++ - '0');
    if (d == e) return neg ? -(double)i : (double)i;
  }
  /* Anything else as cJSON reads it: strtod over the whole number, however long. */
  char small[64];
  char *buf = v->text.n < sizeof small ? small : malloc(v->text.n + 1);
  if (!buf) return dflt;
  memcpy(buf, v->text.p, v->text.n);
  buf[v->text.n] = '\0';
  double d = strtod(buf, NULL);
  if (buf != small) free(buf);
  return d;
}

/* Copies a plain string's characters (truncated) to out. */
static void val_string(const struct val *v, char *out, size_t outlen) {
  size_t n = v->text.n - 2;
  if (n > outlen - 1) n = outlen - 1;
  memcpy(out, v->text.p + 1, n);
  out[n] = '\0';
}

/* Copies a value as compact JSON: whitespace outside strings dropped. */
static void tb_put_compact(struct tbuf *t, const struct span *v) {
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
  struct val id, duration, status, result, error;
  struct val kept[KEPT_FIELDS];
  double wait_ms, init_ms;
  bool has_wait, has_init; /* the annotation was there */
};

/* response.result: the kept fields and error (the first of each). */
static bool scan_result(struct scan *s, struct activation *a) {
  if (a->result.kind != V_NONE) return scan_value(s, 1);
  const char *start = s->p;
  if (s->p >= s->e || *s->p != '{') {
    if (!read_val(s, &a->result)) return false;
    return true;
  }
  s->p++;
  bool first = true;
  struct span k;
  int more;
  while ((more = obj_next(s, &first, &k)) == 1) {
    struct val *slot = NULL;
    for (size_t i = 0; i < KEPT_FIELDS && !slot; i++)
      if (key_is(&k, kept_fields[i])) slot = &a->kept[i];
    if (!slot && key_is(&k, "error")) slot = &a->error;
    if (!(slot ? read_first(s, slot) : scan_value(s, 2))) return false;
  }
  a->result = (struct val){V_OTHER, {start, (size_t)(s->p - start)}};
  return more == 0;
}

static bool scan_response(struct scan *s, struct activation *a) {
  if (s->p >= s->e || *s->p != '{') return false; /* unusual: the tree parse decides */
  s->p++;
  bool first = true;
  struct span k;
  int more;
  while ((more = obj_next(s, &first, &k)) == 1) {
    bool ok = key_is(&k, "status")   ? read_first(s, &a->status)
              : key_is(&k, "result") ? scan_result(s, a)
                                     : scan_value(s, 2);
    if (!ok) return false;
  }
  return more == 0;
}

/* annotations: [{"key": ..., "value": ...}, ...]; later entries win, as in the tree walk. */
static bool scan_annotations(struct scan *s, struct activation *a) {
  if (s->p >= s->e || *s->p != '[') return false;
  s->p++;
  bool first = true;
  int more;
  while ((more = arr_next(s, &first)) == 1) {
    if (*s->p != '{') {
      if (!scan_value(s, 2)) return false;
      continue;
    }
    s->p++;
    bool f2 = true;
    struct span k;
    struct val key = {V_NONE, {NULL, 0}}, value = {V_NONE, {NULL, 0}};
    int m;
    while ((m = obj_next(s, &f2, &k)) == 1) {
      bool ok = key_is(&k, "key")     ? read_first(s, &key)
                : key_is(&k, "value") ? read_first(s, &value)
                                      : scan_value(s, 3);
      if (!ok) return false;
    }
    if (m != 0) return false;
    if (key.kind == V_STRING) return false; /* escaped key name: unusual */
    if (key.kind != V_PLAIN_STRING) continue;
    struct span name = {key.text.p + 1, key.text.n - 2};
    if (key_is(&name, "waitTime")) {
      a->wait_ms = val_number(&value, -1);
      a->has_wait = true;
    }
    if (key_is(&name, "initTime")) {
      a->init_ms = val_number(&value, -1);
      a->has_init = true;
    }
  }
  return more == 0;
}

/* The scanner's reading of an activation record; false: not taken (use the tree parse). */
static bool from_activation_scan(struct job_record *r, const char *body, size_t len) {
  struct activation a;
  memset(&a, 0, sizeof a);
  struct scan s = {body, body + len};
  scan_ws(&s);
  if (s.p >= s.e || *s.p != '{') return false;
  s.p++;
  bool first = true, seen_resp = false, seen_ann = false;
  struct span k;
  int more;
  while ((more = obj_next(&s, &first, &k)) == 1) {
    bool ok;
    if (key_is(&k, "activationId")) {
      ok = read_first(&s, &a.id);
    } else if (key_is(&k, "duration")) {
      ok = read_first(&s, &a.duration);
    } else if (key_is(&k, "response") && !seen_resp) {
      seen_resp = true;
      ok = scan_response(&s, &a);
    } else if (key_is(&k, "annotations") && !seen_ann) {
      seen_ann = true;
      ok = scan_annotations(&s, &a);
    } else {
      ok = scan_value(&s, 1);
    }
    if (!ok) return false;
  }
  if (more != 0) return false;
  scan_ws(&s);
  if (s.p != s.e) return false;
  /* Plain strings only; a missing id or status, an escaped one or a non-string error is left
   * to the tree parse (it writes the error message). */
  if (a.id.kind != V_PLAIN_STRING || a.status.kind != V_PLAIN_STRING) return false;
  if (a.error.kind != V_NONE && a.error.kind != V_PLAIN_STRING) return false;
  char status[sizeof r->status];
  val_string(&a.status, status, sizeof status);
  if (a.status.text.n - 2 >= sizeof status) return false; /* outcome needs the whole status */
  struct tbuf t = {0};
  for (size_t i = 0; i < KEPT_FIELDS; i++) {
    if (a.kept[i].kind == V_NONE) continue;
    tb_put(&t, t.n ? ",\"" : "{\"", 2);
    tb_put(&t, kept_fields[i], strlen(kept_fields[i]));
    tb_put(&t, "\":", 2);
    tb_put_compact(&t, &a.kept[i].text);
  }
  if (t.failed) {
    free(t.s);
    return false;
  }
  val_string(&a.id, r->activation_id, sizeof r->activation_id);
  snprintf(r->status, sizeof r->status, "%s", status);
  r->duration_ms = val_number(&a.duration, -1);
  if (a.has_wait) r->wait_ms = a.wait_ms;
  if (a.has_init) {
    r->init_ms = a.init_ms;
    r->cold_start = a.init_ms >= 0;
  }
  r->action_elapsed_us = val_number(&a.kept[KEPT_ELAPSED], -1);
  set_action_counts(r, val_number(&a.kept[KEPT_SUCCEEDED], -1), val_number(&a.kept[KEPT_FAILED], -1),
                    val_number(&a.kept[KEPT_CONNS_NEW], -1));
  set_action(r, &t);
  r->outcome = outcome_of_status(status);
  r->error[0] = '\0';
  if (r->outcome != JOB_OK) {
    if (a.error.kind == V_PLAIN_STRING) val_string(&a.error, r->error, sizeof r->error);
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

/* The raw_results line is built in one buffer and written with one fwrite. */
struct wbuf {
  FILE *f;
  size_t n, total;
  char b[2048];
};

static void wb_flush(struct wbuf *w) {
  if (w->n) fwrite(w->b, 1, w->n, w->f);
  w->total += w->n;
  w->n = 0;
}

static void wb_put(struct wbuf *w, const char *s, size_t n) {
  if (n > sizeof w->b - w->n) {
    wb_flush(w);
    if (n > sizeof w->b) {
      fwrite(s, 1, n, w->f);
      w->total += n;
      return;
    }
  }
  memcpy(w->b + w->n, s, n);
  w->n += n;
}

#define WB_LIT(w, lit) wb_put((w), (lit), sizeof(lit) - 1)

static void wb_str(struct wbuf *w, const char *s) { wb_put(w, s, strlen(s)); }

static void wb_u64(struct wbuf *w, uint64_t v) {
  char t[24];
  size_t i = sizeof t;
  do {
    t[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  wb_put(w, t + i, sizeof t - i);
}

/* Thousandths as a decimal with exactly three places: 12345 -> "12.345", -5 -> "-0.005". */
static void wb_milli(struct wbuf *w, int64_t thousandths) {
  uint64_t a = thousandths < 0 ? (uint64_t)0 - (uint64_t)thousandths : (uint64_t)thousandths;
  if (thousandths < 0) WB_LIT(w, "-");
  wb_u64(w, a / 1000);
  char frac[4] = {'.', (char)('0' + a / 100 % 10), (char)('0' + a / 10 % 10), (char)('0' + a % 10)};
  wb_put(w, frac, 4);
}

/* ,"name":%.3f (null when negative); integer arithmetic for ordinary values. */
static void wb_ms_or_null(struct wbuf *w, const char *name, double ms) {
  WB_LIT(w, ",\"");
  wb_str(w, name);
  WB_LIT(w, "\":");
  if (!(ms >= 0)) {
    WB_LIT(w, "null");
  } else if (ms < 1e12) {
    wb_milli(w, llround(ms * 1000.0));
  } else {
    char t[400];
    int n = snprintf(t, sizeof t, "%.3f", ms);
    if (n > 0) wb_put(w, t, (size_t)n < sizeof t ? (size_t)n : sizeof t - 1);
  }
}

/* ,"name":us/1000 with three decimals. */
static void wb_us_as_ms(struct wbuf *w, const char *name, int64_t us) {
  WB_LIT(w, ",\"");
  wb_str(w, name);
  WB_LIT(w, "\":");
  wb_milli(w, us);
}

static void wb_json_string(struct wbuf *w, const char *s) {
  static const char hex[] = "0123456789abcdef";
  WB_LIT(w, "\"");
  const char *run = s;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p != '"' && *p != '\\' && *p >= 0x20) continue;
    wb_put(w, run, (size_t)((const char *)p - run));
    if (*p == '"' || *p == '\\') {
      char esc[2] = {'\\', (char)*p};
      wb_put(w, esc, 2);
    } else {
      char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
      wb_put(w, esc, 6);
    }
    run = (const char *)p + 1;
  }
  wb_str(w, run);
  WB_LIT(w, "\"");
}

size_t job_record_write(FILE *f, const struct job_record *r) {
  struct wbuf w;
  w.f = f;
  w.n = w.total = 0;
  WB_LIT(&w, "{\"index\":");
  wb_u64(&w, r->index);
  if (r->warmup) WB_LIT(&w, ",\"warmup\":true");
  wb_us_as_ms(&w, "intended_ms", r->intended_us);
  wb_us_as_ms(&w, "sent_ms", r->sent_us);
  wb_us_as_ms(&w, "end_ms", r->end_us);
  wb_us_as_ms(&w, "execution_time_ms", r->end_us - r->intended_us);
  wb_us_as_ms(&w, "service_time_ms", r->end_us - r->sent_us);
  if (r->outcome == JOB_OK) WB_LIT(&w, ",\"success\":true,\"outcome\":\"");
  else WB_LIT(&w, ",\"success\":false,\"outcome\":\"");
  wb_str(&w, job_outcome_name(r->outcome));
  WB_LIT(&w, "\"");
  if (r->http_status > 0) {
    WB_LIT(&w, ",\"http_status\":");
    wb_u64(&w, (uint64_t)r->http_status);
  } else if (r->http_status) {
    char t[24];
    int n = snprintf(t, sizeof t, ",\"http_status\":%d", r->http_status);
    wb_put(&w, t, (size_t)n);
  } else {
    WB_LIT(&w, ",\"http_status\":null");
  }
  if (r->status[0]) {
    WB_LIT(&w, ",\"status\":");
    wb_json_string(&w, r->status);
  }
  WB_LIT(&w, ",\"activation_id\":");
  if (r->activation_id[0]) wb_json_string(&w, r->activation_id);
  else WB_LIT(&w, "null");
  if (r->cold_start) WB_LIT(&w, ",\"cold_start\":true");
  else WB_LIT(&w, ",\"cold_start\":false");
  wb_ms_or_null(&w, "wait_time_ms", r->wait_ms);
  wb_ms_or_null(&w, "init_time_ms", r->init_ms);
  wb_ms_or_null(&w, "duration_ms", r->duration_ms);
  if (r->polls) {
    WB_LIT(&w, ",\"polls\":");
    wb_u64(&w, (uint64_t)r->polls);
  }
  if (r->action) {
    WB_LIT(&w, ",\"action\":");
    wb_str(&w, r->action);
  }
  if (r->outcome != JOB_OK) {
    WB_LIT(&w, ",\"error\":");
    wb_json_string(&w, r->error);
  }
  WB_LIT(&w, "}");
  wb_flush(&w);
  return w.total;
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
