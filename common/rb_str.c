/* rb_str.c: strict number and address parsing. */
#include "rb_str.h"

#include <errno.h>
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
