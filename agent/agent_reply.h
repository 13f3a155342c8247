/* agent_reply.h: incremental framing of RESP2 replies from Redis (pure, no I/O).
 *
 * The agent forwards each reply's bytes unchanged, so it only needs to know where a reply
 * ends; it never builds reply objects. Same contract as agent_req: buf starts at the first
 * byte of the current reply; after AGENT_REPLY_DONE the caller drops *out_len bytes. The
 * scanner keeps offsets only and never rescans a finished element.
 *
 * Nesting is not limited: a Lua script may return arrays nested thousands deep, and Redis
 * sends them. The scanner needs no stack for that: it counts the elements the reply still
 * owes (one at the start; an array of n pays one and owes n more) and the reply ends when
 * none is owed. A count that would pass AGENT_REPLY_MAX_OWED is not RESP2 from a real
 * Redis (no server holds 10^18 elements) and is an error. */
#ifndef AGENT_REPLY_H
#define AGENT_REPLY_H

#include <stddef.h>

#define AGENT_REPLY_MAX_OWED 1000000000000000000ULL

enum agent_reply_status { AGENT_REPLY_DONE, AGENT_REPLY_AGAIN, AGENT_REPLY_ERROR };

struct agent_reply_scan {
  size_t pos;              /* bytes of the current reply already framed */
  unsigned long long owed; /* elements of the current reply still to frame, minus one */
};

void agent_reply_scan_init(struct agent_reply_scan *s);
/* Frames the reply at the start of buf. ERROR: not RESP2 (the connection is unusable). */
enum agent_reply_status agent_reply_scan(struct agent_reply_scan *s, const char *buf, size_t len,
                                         size_t *out_len);

/* Length of the complete reply at buf, 0 if incomplete or invalid (one-shot helper). */
size_t agent_reply_length(const char *buf, size_t len);

#endif
