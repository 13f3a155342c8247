/* job_json_scan.c: a validating JSON scanner that reads in place (see job_json_scan.h). */
#include "job_json_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void job_json_scan_ws(struct job_json_scan *s) {
  while (s->p < s->e && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static bool job_json_is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Whether [p, e) holds a control character or a backslash (eight bytes at a time). */
static bool job_json_has_special(const char *p, const char *e) {
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

/* Reads 4 hex digits at p (before e) into *v. */
static bool job_json_scan_hex4(const char *p, const char *e, unsigned *v) {
  if (e - p < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    if (!job_json_is_hex(p[i])) return false;
    char c = p[i];
    *v = *v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return true;
}

/* Skips the string at s->p; *escaped tells whether it holds escapes. */
bool job_json_scan_string(struct job_json_scan *s, bool *escaped) {
  if (s->p >= s->e || *s->p != '"') return false;
  s->p++;
  /* Most strings are plain: find the closing quote, then check the bytes before it. */
  const char *q = memchr(s->p, '"', (size_t)(s->e - s->p));
  if (!q) return false;
  if (!job_json_has_special(s->p, q)) {
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
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't': break;
        case 'u': {
          /* as cJSON decodes it: a low surrogate alone, or a high one without a low one after
           * it, is an error (the two readers must agree on what is a valid document) */
          unsigned v = 0;
          if (!job_json_scan_hex4(s->p + 1, s->e, &v) || (v >= 0xDC00 && v <= 0xDFFF)) return false;
          s->p += 4;
          if (v >= 0xD800 && v <= 0xDBFF) {
            unsigned lo = 0;
            if (s->e - s->p < 3 || s->p[1] != '\\' || s->p[2] != 'u' ||
                !job_json_scan_hex4(s->p + 3, s->e, &lo) || lo < 0xDC00 || lo > 0xDFFF)
              return false;
            s->p += 6;
          }
          break;
        }
        default: return false;
      }
    }
    s->p++;
  }
  return false;
}

static bool job_json_scan_digits(struct job_json_scan *s) {
  const char *start = s->p;
  while (s->p < s->e && *s->p >= '0' && *s->p <= '9') s->p++;
  return s->p > start;
}

/* JSON's number grammar. */
static bool job_json_scan_number(struct job_json_scan *s) {
  if (s->p < s->e && *s->p == '-') s->p++;
  if (s->p < s->e && *s->p == '0') s->p++;
  else if (!job_json_scan_digits(s)) return false;
  if (s->p < s->e && *s->p == '.') {
    s->p++;
    if (!job_json_scan_digits(s)) return false;
  }
  if (s->p < s->e && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->e && (*s->p == '+' || *s->p == '-')) s->p++;
    if (!job_json_scan_digits(s)) return false;
  }
  return true;
}

static bool job_json_scan_literal(struct job_json_scan *s, const char *lit, size_t n) {
  if ((size_t)(s->e - s->p) < n || memcmp(s->p, lit, n) != 0) return false;
  s->p += n;
  return true;
}

int job_json_obj_next(struct job_json_scan *s, bool *first, struct job_json_span *key);
int job_json_arr_next(struct job_json_scan *s, bool *first);

/* Skips one value (s->p at its first byte). */
bool job_json_scan_value(struct job_json_scan *s, int depth) {
  if (s->p >= s->e || depth > JOB_JSON_SCAN_MAX_DEPTH) return false;
  bool esc = false, first = true;
  int more;
  switch (*s->p) {
    case '"': return job_json_scan_string(s, &esc);
    case 't': return job_json_scan_literal(s, "true", 4);
    case 'f': return job_json_scan_literal(s, "false", 5);
    case 'n': return job_json_scan_literal(s, "null", 4);
    case '{':
      s->p++;
      struct job_json_span k;
      while ((more = job_json_obj_next(s, &first, &k)) == 1)
        if (!job_json_scan_value(s, depth + 1)) return false;
      return more == 0;
    case '[':
      s->p++;
      while ((more = job_json_arr_next(s, &first)) == 1)
        if (!job_json_scan_value(s, depth + 1)) return false;
      return more == 0;
    default: return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && job_json_scan_number(s);
  }
}

/* Inside an object or array (after its opening bracket): 1 with s->p at the next member, 0
 * after the closing bracket `close`, -1 when malformed. */
static int job_json_list_next(struct job_json_scan *s, bool *first, char close) {
  job_json_scan_ws(s);
  if (s->p >= s->e) return -1;
  if (*s->p == close) {
    s->p++;
    return 0;
  }
  if (!*first) {
    if (*s->p != ',') return -1;
    s->p++;
    job_json_scan_ws(s);
    if (s->p >= s->e) return -1;
  }
  *first = false;
  return 1;
}

/* Inside an object (after '{'): 1 with the next key read and s->p at its value, 0 after the
 * closing '}', -1 when malformed or the key has escapes. */
int job_json_obj_next(struct job_json_scan *s, bool *first, struct job_json_span *key) {
  int more = job_json_list_next(s, first, '}');
  if (more != 1) return more;
  const char *k = s->p;
  bool esc = false;
  if (!job_json_scan_string(s, &esc) || esc) return -1;
  key->p = k + 1;
  key->n = (size_t)(s->p - k - 2);
  job_json_scan_ws(s);
  if (s->p >= s->e || *s->p != ':') return -1;
  s->p++;
  job_json_scan_ws(s);
  return 1;
}

/* Inside an array (after '['): 1 with s->p at the next element, 0 after ']', -1 malformed. */
int job_json_arr_next(struct job_json_scan *s, bool *first) {
  return job_json_list_next(s, first, ']');
}

bool job_json_key_is(const struct job_json_span *k, const char *name) {
  return strlen(name) == k->n && memcmp(k->p, name, k->n) == 0;
}

bool job_json_read_val(struct job_json_scan *s, struct job_json_val *v) {
  const char *start = s->p;
  bool esc = false;
  enum job_json_vkind k = s->p < s->e && *s->p == '"' ? JOB_JSON_V_PLAIN_STRING
                          : s->p < s->e && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
                              ? JOB_JSON_V_NUMBER
                              : JOB_JSON_V_OTHER;
  if (k == JOB_JSON_V_PLAIN_STRING ? !job_json_scan_string(s, &esc) : !job_json_scan_value(s, 1))
    return false;
  if (k == JOB_JSON_V_PLAIN_STRING && esc) k = JOB_JSON_V_STRING;
  *v = (struct job_json_val){k, {start, (size_t)(s->p - start)}};
  return true;
}

/* Reads only the first occurrence of a key, as cJSON's lookups do. */
bool job_json_read_first(struct job_json_scan *s, struct job_json_val *v) {
  if (v->kind != JOB_JSON_V_NONE) return job_json_scan_value(s, 1);
  return job_json_read_val(s, v);
}

double job_json_val_number(const struct job_json_val *v, double dflt) {
  if (v->kind != JOB_JSON_V_NUMBER) return dflt;
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
void job_json_val_string(const struct job_json_val *v, char *out, size_t outlen) {
  size_t n = v->text.n - 2;
  if (n > outlen - 1) n = outlen - 1;
  memcpy(out, v->text.p + 1, n);
  out[n] = '\0';
}
