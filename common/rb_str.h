/* rb_str.h: strict parsing of numbers and network addresses from text; base64; URLs without their
 * credentials. */
#ifndef RB_STR_H
#define RB_STR_H

#include <stdbool.h>
#include <stddef.h>

#include "rb_error.h"

/* Parses a whole decimal integer in [min, max] (no trailing text). */
bool rb_parse_ll(const char *s, long long min, long long max, long long *out);

/* Parses "HOST:PORT", "[IPV6]:PORT" or ":PORT" (host then "0.0.0.0"). host gets at most
 * hostlen-1 bytes. Errors name what was wrong. */
enum rb_err rb_parse_hostport(const char *s, char *host, size_t hostlen, int *port, char *err,
                              size_t errlen);

/* Length of the base64 encoding of n bytes (no NUL). */
size_t rb_base64_len(size_t n);
/* Writes the standard base64 (RFC 4648, with '=' padding) of in[0, n) to out, which must hold
 * rb_base64_len(n) + 1 bytes, NUL-terminated. Returns the length written. */
size_t rb_base64_encode(const void *in, size_t n, char *out);

/* Copies an endpoint URL or address with any user:password@ removed (for results, logs and
 * errors: a secret never leaves in a URL). */
void rb_url_public(const char *url, char *out, size_t len);

#endif
