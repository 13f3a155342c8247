/* rb_str.h: strict parsing of numbers and network addresses from text. */
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

#endif
