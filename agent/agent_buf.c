/* agent_buf.c: growable byte buffer with a read offset. */
#include "agent_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void agent_buf_init(struct agent_buf *b) { memset(b, 0, sizeof *b); }

void agent_buf_deinit(struct agent_buf *b) {
  if (!b) return;
  free(b->data);
  memset(b, 0, sizeof *b);
}

bool agent_buf_reserve(struct agent_buf *b, size_t n) {
  if (b->cap - b->off - b->len >= n) return true;
  /* Moving the unread bytes to the front is cheaper than growing when it frees enough. */
  if (b->off > 0 && b->cap - b->len >= n && b->off >= b->len) {
    memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
    return true;
  }
  size_t need = b->len + n;
  if (need < n) return false; /* overflow */
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) {
    if (cap > ((size_t)-1) / 2) return false;
    cap *= 2;
  }
  char *p = malloc(cap);
  if (!p) return false;
  if (b->len) memcpy(p, b->data + b->off, b->len);
  free(b->data);
  b->data = p;
  b->off = 0;
  b->cap = cap;
  return true;
}

bool agent_buf_append(struct agent_buf *b, const void *p, size_t n) {
  if (n == 0) return true;
  if (!agent_buf_reserve(b, n)) return false;
  memcpy(agent_buf_tail(b), p, n);
  b->len += n;
  return true;
}

bool agent_buf_append_str(struct agent_buf *b, const char *s) {
  return agent_buf_append(b, s, strlen(s));
}

bool agent_buf_printf(struct agent_buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return false;
  if ((size_t)n < sizeof tmp) return agent_buf_append(b, tmp, (size_t)n);
  if (!agent_buf_reserve(b, (size_t)n + 1)) return false;
  va_start(ap, fmt);
  vsnprintf(agent_buf_tail(b), (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return true;
}

void agent_buf_consume(struct agent_buf *b, size_t n) {
  if (n >= b->len) {
    b->off = 0;
    b->len = 0;
    return;
  }
  b->off += n;
  b->len -= n;
}

void agent_buf_shrink(struct agent_buf *b, size_t keep) {
  if (b->len != 0 || b->cap <= keep) return;
  free(b->data);
  b->data = NULL;
  b->cap = 0;
  b->off = 0;
}
