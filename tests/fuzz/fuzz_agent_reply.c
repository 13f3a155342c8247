/* fuzz_agent_reply.c: libFuzzer target for reply framing and routing.
 *
 * The input is a stream "from Redis" fed in pieces to the reply scanner; every framed reply
 * is handed to the coalesced-reply splitter as if it answered an MGET or MSET of n callers,
 * and every piece a caller receives must lie inside that reply (or be a static text) and
 * must itself be one complete reply. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_coalesce.h"
#include "agent_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void route(const char *reply, size_t len, uint8_t mode) {
  if (agent_reply_length(reply, len) != len) abort(); /* one-shot framing agrees */
  size_t n = (size_t)(mode & 7) + 1;
  struct agent_split s;
  agent_split_init(&s, reply, len, n, (mode & 8) != 0);
  const char *p;
  size_t pl, count = 0;
  while (agent_split_next(&s, &p, &pl)) {
    count++;
    bool inside = p >= reply && p + pl <= reply + len;
    if (!inside && (pl < 3 || (p[0] != '-' && p[0] != '+'))) abort();
    if (agent_reply_length(p, pl) != pl) abort();
  }
  if (count != n) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  size_t chunk = (mode >> 4) + 1;
  struct agent_reply_scan sc;
  agent_reply_scan_init(&sc);
  char *buf = NULL;
  size_t have = 0, fed = 0;
  while (fed < size) {
    size_t add = size - fed < chunk ? size - fed : chunk;
    char *b = malloc(have + add);
    if (!b) break;
    if (have) memcpy(b, buf, have);
    memcpy(b + have, data + fed, add);
    free(buf);
    buf = b;
    have += add;
    fed += add;
    for (;;) {
      size_t len = 0;
      enum agent_reply_status st = agent_reply_scan(&sc, buf, have, &len);
      if (st == AGENT_REPLY_AGAIN) break;
      if (st == AGENT_REPLY_ERROR) {
        free(buf);
        return 0;
      }
      if (len == 0 || len > have) abort();
      route(buf, len, mode);
      memmove(buf, buf + len, have - len);
      have -= len;
    }
  }
  free(buf);
  return 0;
}
