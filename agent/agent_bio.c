/* agent_bio.c: a round of non-blocking socket operations, through io_uring or plain calls. */
#define _GNU_SOURCE
#include "agent_bio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rb_log.h"

#ifdef RBENCH_HAVE_URING
#include <liburing.h>
#endif

bool agent_bio_init(struct agent_bio *b, bool try_uring, unsigned depth) {
  memset(b, 0, sizeof *b);
  b->depth = depth ? depth : 256;
  (void)try_uring;
#ifdef RBENCH_HAVE_URING
  if (try_uring) {
    struct io_uring *r = calloc(1, sizeof *r);
    if (!r) return false;
    /* Newest flags first: SUBMIT_ALL (5.18) keeps submitting past a failed entry;
     * SINGLE_ISSUER + DEFER_TASKRUN (6.1) drop locking and interrupt-time completion work. */
    static const unsigned FLAGS[] = {IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                                         IORING_SETUP_DEFER_TASKRUN,
                                     IORING_SETUP_SUBMIT_ALL, 0};
    int rc = -1;
    for (size_t i = 0; i < sizeof FLAGS / sizeof FLAGS[0]; i++) {
      rc = io_uring_queue_init(b->depth, r, FLAGS[i]);
      if (rc == 0) break;
    }
    if (rc == 0) {
      b->ring = r;
    } else {
      free(r);
      rb_info("io_uring unavailable (%s); using plain system calls", strerror(-rc));
    }
  }
#endif
  return true;
}

void agent_bio_deinit(struct agent_bio *b) {
#ifdef RBENCH_HAVE_URING
  if (b->ring) {
    io_uring_queue_exit(b->ring);
    free(b->ring);
  }
#endif
  free(b->ops);
  memset(b, 0, sizeof *b);
}

bool agent_bio_uring(const struct agent_bio *b) { return b->ring != NULL; }

long agent_bio_add(struct agent_bio *b, int fd, bool send, char *buf, size_t len, void *tag,
                   unsigned aux) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    struct agent_bio_op *ops = realloc(b->ops, cap * sizeof *ops);
    if (!ops) return -1;
    b->ops = ops;
    b->cap = cap;
  }
  struct agent_bio_op *op = &b->ops[b->n];
  op->fd = fd;
  op->send = send;
  op->buf = buf;
  op->len = len;
  op->tag = tag;
  op->aux = aux;
  op->res = -EAGAIN;
  return (long)b->n++;
}

void agent_bio_clear(struct agent_bio *b) { b->n = 0; }

static void run_plain(struct agent_bio *b) {
  for (size_t i = 0; i < b->n; i++) {
    struct agent_bio_op *op = &b->ops[i];
    ssize_t r;
    do {
      b->syscalls++;
      r = op->send ? send(op->fd, op->buf, op->len, MSG_DONTWAIT | MSG_NOSIGNAL)
                   : recv(op->fd, op->buf, op->len, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    op->res = r < 0 ? -(ssize_t)errno : r;
  }
}

#ifdef RBENCH_HAVE_URING
/* Runs ops[from .. from+k), k <= depth. MSG_DONTWAIT makes io_uring complete each one
 * inline (data moved, or -EAGAIN) instead of parking it until the socket is ready, so one
 * io_uring_enter() normally submits and completes the whole chunk. */
static void run_uring_chunk(struct agent_bio *b, size_t from, unsigned k) {
  struct io_uring *r = b->ring;
  for (unsigned i = 0; i < k; i++) {
    struct agent_bio_op *op = &b->ops[from + i];
    struct io_uring_sqe *sqe = io_uring_get_sqe(r); /* never NULL: k <= depth, queue empty */
    if (op->send) io_uring_prep_send(sqe, op->fd, op->buf, op->len, MSG_DONTWAIT | MSG_NOSIGNAL);
    else io_uring_prep_recv(sqe, op->fd, op->buf, op->len, MSG_DONTWAIT);
    io_uring_sqe_set_data64(sqe, from + i);
  }
  unsigned done = 0, want = k;
  while (done < k) {
    b->syscalls++;
    int rc = io_uring_submit_and_wait(r, want);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      /* The kernel refused the ring itself: the operations' fate is unknown. */
      rb_error("io_uring_enter: %s", strerror(-rc));
      abort();
    }
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(r, head, cqe) {
      uint64_t idx = io_uring_cqe_get_data64(cqe);
      if (idx >= from && idx < from + k) b->ops[idx].res = cqe->res;
      seen++;
    }
    io_uring_cq_advance(r, seen);
    done += seen;
    want = 1;
  }
}
#endif

void agent_bio_run(struct agent_bio *b) {
  if (b->n == 0) return;
#ifdef RBENCH_HAVE_URING
  if (b->ring) {
    for (size_t from = 0; from < b->n; from += b->depth) {
      size_t k = b->n - from < b->depth ? b->n - from : b->depth;
      run_uring_chunk(b, from, (unsigned)k);
    }
    return;
  }
#endif
  run_plain(b);
}
