/* rb_str.c: strict number and address parsing. */
#include "rb_str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool rb_parse_ll(const char *s, long long min, long long max, long long *out) {
  if (!s || !*s) return false;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

enum rb_err rb_parse_hostport(const char *s, char *host, size_t hostlen, int *port, char *err,
                              size_t errlen) {
  const char *colon;
  const char *h = s;
  size_t hl;
  if (!s || !*s) return rb_errorf(RB_ERR_INVALID, err, errlen, "empty address, expected HOST:PORT");
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':')
      return rb_errorf(RB_ERR_INVALID, err, errlen, "bad address '%s', expected [IPV6]:PORT", s);
    h = s + 1;
    hl = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon)
      return rb_errorf(RB_ERR_INVALID, err, errlen, "bad address '%s', expected HOST:PORT", s);
    hl = (size_t)(colon - s);
  }
  long long p;
  if (!rb_parse_ll(colon + 1, 1, 65535, &p))
    return rb_errorf(RB_ERR_RANGE, err, errlen, "bad port in '%s', expected 1 to 65535", s);
  if (hl == 0) {
    h = "0.0.0.0";
    hl = 7;
  }
  if (hl >= hostlen) return rb_errorf(RB_ERR_RANGE, err, errlen, "host name too long in address");
  memcpy(host, h, hl);
  host[hl] = '\0';
  *port = (int)p;
  return RB_OK;
}

size_t rb_base64_len(size_t n) { return (n + 2) / 3 * 4; }

size_t rb_base64_encode(const void *in, size_t n, char *out) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *b = in;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)b[i] << 16;
    if (i + 1 < n) v |= (unsigned)b[i + 1] << 8;
    if (i + 2 < n) v |= b[i + 2];
    out[o++] = t[(v >> 18) & 63];
    out[o++] = t[(v >> 12) & 63];
    out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? t[v & 63] : '=';
  }
  out[o] = '\0';
  return o;
}

void rb_url_public(const char *url, char *out, size_t len) {
  const char *scheme = strstr(url, "://");
  const char *host = scheme ? scheme + 3 : url;
  const char *slash = strchr(host, '/');
  const char *at = strchr(host, '@');
  if (!at || (slash && at > slash)) {
    snprintf(out, len, "%s", url);
    return;
  }
  snprintf(out, len, "%.*s%s", (int)(host - url), url, at + 1);
}
