/* agent_bio.h: many non-blocking socket reads and writes in one system call.
 *
 * The event loop collects, at the end of a pass, one write for every client with replies
 * and one read for every readable client, then runs them all at once. With io_uring (when
 * the kernel offers it) that is a single io_uring_enter() for the whole round instead of one
 * read() or write() per client; on this project's machines a system call costs about 1 us
 * and the agent used to make two per request. Without io_uring (or with --no-io-uring) the
 * same round is run as plain read()/write() calls, one per operation.
 *
 * Every operation is non-blocking (MSG_DONTWAIT): it transfers what it can at once and
 * otherwise fails with -EAGAIN, exactly like read()/write() on a non-blocking socket, so the
 * caller's readiness logic (epoll) is the same in both modes. A round never blocks and every
 * buffer is the caller's again when agent_bio_run returns. */
#ifndef AGENT_BIO_H
#define AGENT_BIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct agent_bio_op {
  int fd;
  bool send; /* write buf[0..len) (else read up to len bytes into buf) */
  char *buf;
  size_t len;
  void *tag;    /* the caller's */
  unsigned aux; /* the caller's */
  ssize_t res;  /* after agent_bio_run: bytes transferred (0 on read: end of stream), or -errno */
};

struct agent_bio {
  struct agent_bio_op *ops;
  size_t n, cap;
  void *ring;                  /* struct io_uring *, NULL when running plain system calls */
  unsigned depth;              /* submission queue entries */
  unsigned long long syscalls; /* system calls made by agent_bio_run (for tests and metrics) */
};

/* Prepares an empty round. With try_uring, sets up an io_uring (queue depth `depth`) if the
 * kernel and the build allow it; otherwise (or if that fails) rounds use plain system calls.
 * Call it from the thread that will run the rounds (the ring is single-issuer). Returns false
 * only when memory ran out. */
bool agent_bio_init(struct agent_bio *b, bool try_uring, unsigned depth);
void agent_bio_deinit(struct agent_bio *b);
/* True when rounds go through io_uring. */
bool agent_bio_uring(const struct agent_bio *b);

/* Queues one operation; returns its index, or -1 when memory ran out. Pointers into b->ops
 * are valid only until the next add. */
long agent_bio_add(struct agent_bio *b, int fd, bool send, char *buf, size_t len, void *tag,
                   unsigned aux);
/* Runs every queued operation; afterwards b->ops[0..n) hold their results. */
void agent_bio_run(struct agent_bio *b);
/* Forgets the queued operations (after their results were used). */
void agent_bio_clear(struct agent_bio *b);

#endif
