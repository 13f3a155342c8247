/* agent_crlf.h: the one line-terminator search both RESP scanners (requests and replies) use. */
#ifndef AGENT_CRLF_H
#define AGENT_CRLF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Finds "\r\n" at or after from in buf[0, len); returns the offset of '\r' or SIZE_MAX when
 * there is none yet (a lone '\r' at the end may still be followed by '\n'). */
static inline size_t agent_find_crlf(const char *buf, size_t len, size_t from) {
  while (from < len) {
    const char *cr = memchr(buf + from, '\r', len - from);
    if (!cr) return SIZE_MAX;
    size_t at = (size_t)(cr - buf);
    if (at + 1 >= len) return SIZE_MAX;
    if (buf[at + 1] == '\n') return at;
    from = at + 1;
  }
  return SIZE_MAX;
}

#endif
