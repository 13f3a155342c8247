/* action_loop.c: one JSON line in on stdin, one JSON line out on fd 3, per activation. */
#define _GNU_SOURCE
#include "action_loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "action_http.h"
#include "rb_log.h"

static bool write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf += n;
    len -= (size_t)n;
  }
  return true;
}

static bool answer(int fd, struct action_response *r) {
  bool ok = r->body && write_all(fd, r->body, r->len) && write_all(fd, "\n", 1);
  action_response_free(r);
  return ok;
}

int action_loop_serve(struct action_ctx *ctx, FILE *in, int out_fd, int ack) {
  if (ack && !write_all(out_fd, "{\"ok\":true}\n", 12)) {
    rb_error("actionloop: cannot write the ack to fd %d: %s", out_fd, strerror(errno));
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int rc = 0;
  while ((n = getline(&line, &cap, in)) >= 0) {
    size_t len = (size_t)n;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    if (len == 0) continue;
    struct action_response r = {0};
    if (len > ACTION_HTTP_BODY_MAX) {
      char msg[96];
      snprintf(msg, sizeof msg, "request larger than %u bytes", ACTION_HTTP_BODY_MAX);
      action_response_error(&r, 413, msg);
    } else {
      action_handle_run(ctx, line, len, &r);
    }
    if (!answer(out_fd, &r)) {
      rb_error("actionloop: cannot write the answer to fd %d: %s", out_fd, strerror(errno));
      rc = 1;
      break;
    }
    /* A long line must not keep its buffer for the life of the process. */
    if (cap > 65536) {
      free(line);
      line = NULL;
      cap = 0;
    }
  }
  free(line);
  return rc;
}
