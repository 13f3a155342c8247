/* agent_buf.h: a growable byte buffer with a read offset (pure, no I/O).
 *
 *   data: [ consumed | unread (off .. off+len) | free space ... cap ]
 *
 * Ownership: the buffer owns data; agent_buf_deinit frees it. Pointers into data are valid
 * only until the next call that may grow or compact the buffer (reserve, append, compact). */
#ifndef AGENT_BUF_H
#define AGENT_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct agent_buf {
  char *data;
  size_t off; /* start of unread bytes */
  size_t len; /* number of unread bytes */
  size_t cap; /* allocated bytes */
};

void agent_buf_init(struct agent_buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. NULL-safe. */
void agent_buf_deinit(struct agent_buf *b);

/* Makes room for at least n more bytes after the unread ones (may move them to the front).
 * Returns false when memory ran out (the buffer is unchanged). */
bool agent_buf_reserve(struct agent_buf *b, size_t n);
/* Appends n bytes (copied). Returns false when memory ran out. */
bool agent_buf_append(struct agent_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
bool agent_buf_append_str(struct agent_buf *b, const char *s);
/* printf-style append (short texts such as RESP headers). */
bool agent_buf_printf(struct agent_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Unread bytes start here. */
static inline char *agent_buf_head(const struct agent_buf *b) { return b->data + b->off; }
/* Free space after the unread bytes starts here (agent_buf_reserve first). */
static inline char *agent_buf_tail(const struct agent_buf *b) { return b->data + b->off + b->len; }
static inline size_t agent_buf_space(const struct agent_buf *b) { return b->cap - b->off - b->len; }
/* Marks n bytes written at the tail as unread data. */
static inline void agent_buf_commit(struct agent_buf *b, size_t n) { b->len += n; }

/* Drops n unread bytes from the front (n <= len). Resets off when the buffer empties. */
void agent_buf_consume(struct agent_buf *b, size_t n);
/* Releases memory above keep bytes of capacity when the buffer is empty (idle clients). */
void agent_buf_shrink(struct agent_buf *b, size_t keep);

#endif
