/* fuzz_action_httpreq.c: libFuzzer target for the action's HTTP request assembler
 * (http-parser plus the action's routes, limits, 100-continue and pipelining). The input is
 * a connection's byte stream, delivered in pieces whose sizes come from its first byte; every
 * request on it is assembled in turn, as the server does. Invariants: consumption never
 * passes what was given, a complete request's body is NUL-terminated and within the limit,
 * an error always has a status and a message. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "action_httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t step = (size_t)(data[0] % 64) + 1;
  const char *s = (const char *)data + 1;
  size_t len = size - 1, off = 0, avail = 0;
  struct action_httpreq r;
  action_httpreq_init(&r);
  for (int guard = 0; guard < 100000; guard++) {
    if (off == avail) {
      if (avail == len) break;
      avail = avail + step > len ? len : avail + step;
    }
    size_t used = 0;
    enum ahr_state st = action_httpreq_feed(&r, s + off, avail - off, &used);
    if (used > avail - off) __builtin_trap();
    off += used;
    if (st == AHR_ERROR) {
      if (r.error_status < 400 || r.error[0] == '\0') __builtin_trap();
      break;
    }
    if (st == AHR_COMPLETE) {
      if (!r.body || r.body_len > ACTION_HTTP_BODY_MAX) __builtin_trap();
      if ((r.route == AHR_ROUTE_INIT || r.route == AHR_ROUTE_RUN) && strlen(r.body) > r.body_len)
        __builtin_trap();
      action_httpreq_free(&r);
      action_httpreq_init(&r); /* the next pipelined request */
    }
  }
  action_httpreq_free(&r);
  return 0;
}
