/* rb_envfile.c: line parser for KEY=VALUE environment files. */
#include "rb_envfile.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
static bool is_key_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static bool is_key_char(char c) { return is_key_start(c) || (c >= '0' && c <= '9'); }

/* Decodes the value in [p, end) into out (room for end-p+1 bytes). */
static enum rb_err parse_value(const char *p, const char *end, char *out, int line, char *err,
                               size_t errlen) {
  while (p < end && is_blank(*p)) p++;
  while (end > p && is_blank(end[-1])) end--;
  size_t n = 0;
  if (p < end && (*p == '"' || *p == '\'')) {
    char q = *p++;
    bool closed = false;
    while (p < end) {
      char c = *p++;
      if (c == q) {
        closed = true;
        break;
      }
      if (q == '"' && c == '\\' && p < end) {
        char e = *p++;
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
      }
      out[n++] = c;
    }
    if (!closed)
      return rb_errorf(RB_ERR_PARSE, err, errlen, "line %d: unterminated %c quote", line, q);
    while (p < end && is_blank(*p)) p++;
    if (p < end && *p != '#')
      return rb_errorf(RB_ERR_PARSE, err, errlen, "line %d: unexpected text after quoted value",
                       line);
  } else {
    const char *stop = end;
    for (const char *s = p; s < end; s++) {
      if (*s == '#' && (s == p || is_blank(s[-1]))) {
        stop = s;
        break;
      }
    }
    while (stop > p && is_blank(stop[-1])) stop--;
    memcpy(out, p, (size_t)(stop - p));
    n = (size_t)(stop - p);
  }
  out[n] = '\0';
  return RB_OK;
}

static enum rb_err parse_line(const char *p, const char *end, int line, rb_envfile_cb cb, void *ctx,
                              char *err, size_t errlen) {
  while (p < end && is_blank(*p)) p++;
  if (p == end || *p == '#') return RB_OK;
  if ((size_t)(end - p) > 7 && strncmp(p, "export", 6) == 0 && is_blank(p[6])) {
    p += 7;
    while (p < end && is_blank(*p)) p++;
  }
  const char *key = p;
  if (p == end || !is_key_start(*p))
    return rb_errorf(RB_ERR_PARSE, err, errlen,
                     "line %d: expected KEY=VALUE with KEY made of letters, digits and _", line);
  while (p < end && is_key_char(*p)) p++;
  size_t keylen = (size_t)(p - key);
  while (p < end && is_blank(*p)) p++;
  if (p == end || *p != '=')
    return rb_errorf(RB_ERR_PARSE, err, errlen, "line %d: expected KEY=VALUE", line);
  p++;
  char *buf = malloc(keylen + 1 + (size_t)(end - p) + 1);
  if (!buf) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  memcpy(buf, key, keylen);
  buf[keylen] = '\0';
  char *value = buf + keylen + 1;
  enum rb_err rc = parse_value(p, end, value, line, err, errlen);
  if (rc == RB_OK && cb(buf, value, line, ctx) != 0)
    rc = rb_errorf(RB_ERR_STATE, err, errlen, "line %d: rejected %s", line, buf);
  free(buf);
  return rc;
}

enum rb_err rb_envfile_parse(const char *text, size_t len, rb_envfile_cb cb, void *ctx, char *err,
                             size_t errlen) {
  const char *p = text, *end = text + len;
  int line = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    line++;
    if (memchr(p, '\0', (size_t)(eol - p)))
      return rb_errorf(RB_ERR_PARSE, err, errlen, "line %d: contains a NUL byte", line);
    enum rb_err rc = parse_line(p, eol, line, cb, ctx, err, errlen);
    if (rc != RB_OK) return rc;
    p = nl ? nl + 1 : end;
  }
  return RB_OK;
}
