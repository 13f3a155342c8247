/* rb_json.c: loosely-typed parameter getters and safe parse/print over cJSON. */
#include "rb_json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns the offset where nesting first exceeds max, or len when it never does. Brackets
 * inside strings do not count; malformed input is left for cJSON to report. */
static size_t depth_exceeded_at(const char *buf, size_t len, int max) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max) return i;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return len;
}

enum rb_err rb_json_parse(const char *buf, size_t len, cJSON **out, char *err, size_t errlen) {
  const char *end = NULL;
  *out = NULL;
  if (len == 0) return rb_errorf(RB_ERR_PARSE, err, errlen, "malformed JSON: empty body");
  size_t deep = depth_exceeded_at(buf, len, RB_JSON_MAX_DEPTH);
  if (deep < len)
    return rb_errorf(RB_ERR_PARSE, err, errlen,
                     "malformed JSON: nested deeper than %d levels at byte %zu", RB_JSON_MAX_DEPTH,
                     deep);
  cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
  if (!root) {
    size_t at = (end && end >= buf && end <= buf + len) ? (size_t)(end - buf) : 0;
    return rb_errorf(RB_ERR_PARSE, err, errlen, "malformed JSON at byte %zu of %zu", at, len);
  }
  /* Allow trailing whitespace only. */
  for (const char *p = end; p && p < buf + len; p++) {
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
      cJSON_Delete(root);
      return rb_errorf(RB_ERR_PARSE, err, errlen,
                       "malformed JSON: unexpected data after the value at byte %zu of %zu",
                       (size_t)(p - buf), len);
    }
  }
  *out = root;
  return RB_OK;
}

static void describe_string(const char *s, char *buf, size_t len) {
  char tmp[48];
  size_t j = 0;
  for (size_t i = 0; s[i] && j < 40; i++) {
    unsigned char c = (unsigned char)s[i];
    tmp[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  tmp[j] = '\0';
  snprintf(buf, len, "\"%s%s\"", tmp, strlen(s) > 40 ? "..." : "");
}

void rb_json_describe(const cJSON *item, char *buf, size_t len) {
  if (!buf || len == 0) return;
  if (!item) {
    snprintf(buf, len, "nothing");
  } else if (cJSON_IsString(item)) {
    describe_string(item->valuestring, buf, len);
  } else if (cJSON_IsNumber(item)) {
    snprintf(buf, len, "%.17g", item->valuedouble);
  } else if (cJSON_IsBool(item)) {
    snprintf(buf, len, "%s", cJSON_IsTrue(item) ? "true" : "false");
  } else if (cJSON_IsNull(item)) {
    snprintf(buf, len, "null");
  } else if (cJSON_IsArray(item)) {
    snprintf(buf, len, "an array");
  } else if (cJSON_IsObject(item)) {
    snprintf(buf, len, "an object");
  } else {
    snprintf(buf, len, "an invalid value");
  }
}

static bool parse_ll(const char *s, long long *out) {
  if (!s || !*s) return false;
  while (*s == ' ' || *s == '\t') s++;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s) return false;
  while (*end == ' ' || *end == '\t') end++;
  if (*end != '\0') return false;
  *out = v;
  return true;
}

enum rb_err rb_json_get_int(const cJSON *item, const char *name, long long min, long long max,
                            long long *out, char *err, size_t errlen) {
  if (!item) return RB_OK;
  long long v = 0;
  bool ok = false;
  if (cJSON_IsNumber(item)) {
    double d = item->valuedouble;
    if (isfinite(d) && d == floor(d) && d >= -9.0e15 && d <= 9.0e15) {
      v = (long long)d;
      ok = true;
    }
  } else if (cJSON_IsString(item)) {
    ok = parse_ll(item->valuestring, &v);
  }
  if (!ok || v < min || v > max) {
    char given[64];
    rb_json_describe(item, given, sizeof given);
    return rb_errorf(ok ? RB_ERR_RANGE : RB_ERR_INVALID, err, errlen,
                     "%s must be an integer from %lld to %lld, got %s", name, min, max, given);
  }
  *out = v;
  return RB_OK;
}

enum rb_err rb_json_get_bool(const cJSON *item, const char *name, bool *out, char *err,
                             size_t errlen) {
  if (!item) return RB_OK;
  if (cJSON_IsBool(item)) {
    *out = cJSON_IsTrue(item);
    return RB_OK;
  }
  if (cJSON_IsNumber(item) && (item->valuedouble == 0.0 || item->valuedouble == 1.0)) {
    *out = item->valuedouble == 1.0;
    return RB_OK;
  }
  if (cJSON_IsString(item)) {
    const char *s = item->valuestring;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
      *out = true;
      return RB_OK;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
      *out = false;
      return RB_OK;
    }
  }
  char given[64];
  rb_json_describe(item, given, sizeof given);
  return rb_errorf(RB_ERR_INVALID, err, errlen, "%s must be true or false, got %s", name, given);
}

enum rb_err rb_json_get_text(const cJSON *item, const char *name, char *out, size_t outlen,
                             char *err, size_t errlen) {
  if (!item) return RB_OK;
  char num[64];
  const char *s = NULL;
  if (cJSON_IsString(item)) {
    s = item->valuestring;
  } else if (cJSON_IsNumber(item)) {
    double d = item->valuedouble;
    if (d == floor(d) && fabs(d) < 9.0e15) snprintf(num, sizeof num, "%lld", (long long)d);
    else snprintf(num, sizeof num, "%.17g", d);
    s = num;
  } else if (cJSON_IsBool(item)) {
    s = cJSON_IsTrue(item) ? "true" : "false";
  } else {
    char given[64];
    rb_json_describe(item, given, sizeof given);
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s must be a string, got %s", name, given);
  }
  size_t n = strlen(s);
  if (n >= outlen) {
    return rb_errorf(RB_ERR_RANGE, err, errlen, "%s must be at most %zu bytes, got %zu", name,
                     outlen - 1, n);
  }
  memcpy(out, s, n + 1);
  return RB_OK;
}

char *rb_json_print(const cJSON *item) { return cJSON_PrintUnformatted(item); }
