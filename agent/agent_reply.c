/* agent_reply.c: incremental RESP2 reply framing. */
#include "agent_reply.h"

#include "agent_crlf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

void agent_reply_scan_init(struct agent_reply_scan *s) { memset(s, 0, sizeof *s); }

static int parse_num(const char *p, size_t n, long long *out) {
  bool neg = n > 0 && p[0] == '-';
  size_t i = neg ? 1 : 0;
  long long v = 0;
  if (i == n || n - i > 18) return -1;
  for (; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  *out = neg ? -v : v;
  return 0;
}

/* One element done. Returns true when the whole reply is done. */
static bool element_done(struct agent_reply_scan *s) {
  if (s->owed == 0) return true;
  s->owed--;
  return false;
}

/* Frames one element at s->pos. Returns 1 element done, 0 need more, 2 array opened (its
 * elements are owed), -1 error. */
static int scan_element(struct agent_reply_scan *s, const char *buf, size_t len) {
  size_t cr = agent_find_crlf(buf, len, s->pos + 1);
  if (cr == SIZE_MAX) return 0;
  char type = buf[s->pos];
  long long n = 0;
  if (type == '+' || type == '-' || type == ':') {
    s->pos = cr + 2;
    return 1;
  }
  if ((type != '$' && type != '*') || parse_num(buf + s->pos + 1, cr - s->pos - 1, &n) != 0)
    return -1;
  if (type == '$') {
    if (n < 0) {
      s->pos = cr + 2;
      return 1;
    }
    size_t end = cr + 2 + (size_t)n;
    if (end + 2 > len) return 0;
    if (buf[end] != '\r' || buf[end + 1] != '\n') return -1;
    s->pos = end + 2;
    return 1;
  }
  s->pos = cr + 2;
  if (n <= 0) return 1;
  /* The array itself was owed and its n elements are: owed grows by n - 1. */
  if ((unsigned long long)n - 1 > AGENT_REPLY_MAX_OWED - s->owed) return -1;
  s->owed += (unsigned long long)n - 1;
  return 2;
}

enum agent_reply_status agent_reply_scan(struct agent_reply_scan *s, const char *buf, size_t len,
                                         size_t *out_len) {
  for (;;) {
    if (s->pos >= len) return AGENT_REPLY_AGAIN;
    int rc = scan_element(s, buf, len);
    if (rc == 0) return AGENT_REPLY_AGAIN;
    if (rc < 0) return AGENT_REPLY_ERROR;
    if (rc == 1 && element_done(s)) {
      *out_len = s->pos;
      agent_reply_scan_init(s);
      return AGENT_REPLY_DONE;
    }
  }
}

size_t agent_reply_length(const char *buf, size_t len) {
  struct agent_reply_scan s;
  size_t n = 0;
  agent_reply_scan_init(&s);
  return agent_reply_scan(&s, buf, len, &n) == AGENT_REPLY_DONE ? n : 0;
}
