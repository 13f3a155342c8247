/* agent_client.c: the worker's clients: accepting them, their I/O rounds, parsing and routing
 * their commands, and queueing their replies (see agent_worker_int.h for the picture). */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_worker_int.h"
#include "rb_log.h"

#define CLIENT_READ_CHUNK 16384
#define CLIENT_PAUSE_INFLIGHT 65536  /* stop reading a client with this many commands queued */
#define CLIENT_PAUSE_OUT (32u << 20) /* ... or this many reply bytes it has not read */

static const char ERR_DOWN[] = "-ERR rbench-agent: Redis is unreachable, reconnecting\r\n";
static const char ERR_MAXCLIENTS[] = "-ERR max number of clients reached\r\n";

/* ---- output ------------------------------------------------------------------------------- */

void agent_client_release(struct client *c) {
  if (c->state != CLIENT_DEAD || c->inflight > 0 || (c->flags & CLIENT_HELD)) return;
  agent_buf_deinit(&c->in);
  agent_buf_deinit(&c->out);
  agent_req_deinit(&c->req);
  free(c);
}

void agent_client_close(struct client *c) {
  if (c->state == CLIENT_DEAD) return;
  struct agent_worker *w = c->w;
  event_free(c->rev);
  event_free(c->wev);
  close(c->fd);
  c->state = CLIENT_DEAD;
  if (c->flags & CLIENT_WWAIT) w->nwwait--;
  c->flags &= ~CLIENT_WWAIT;
  if (c->prev) c->prev->next = c->next;
  else w->clients = c->next;
  if (c->next) c->next->prev = c->prev;
  w->nclients--;
  agent_metric_sub(&w->m.clients, 1);
  agent_client_release(c);
}

static void mark_dirty(struct client *c) {
  if (c->flags & CLIENT_ON_DIRTY) return;
  c->flags |= CLIENT_ON_DIRTY;
  c->next_dirty = c->w->dirty;
  c->w->dirty = c;
}

/* c closes once everything is answered and written (a dead client stays dead). */
static void client_set_closing(struct client *c) {
  if (c->state == CLIENT_OPEN) c->state = CLIENT_CLOSING;
}

/* Appends a reply for c (already in order). */
static void client_put(struct client *c, const char *p, size_t n) {
  if (c->state == CLIENT_DEAD || (c->flags & CLIENT_KILL)) return;
  agent_metric_add(&c->w->m.replies, 1);
  if (c->out.len + n > c->w->cfg->max_output) {
    /* Like Redis's client-output-buffer-limit: closed at the end of the pass (write_dirty),
     * never here, where callers still hold c. */
    rb_warn("client %llu left %zu bytes of replies unread; closing it", c->sess.id, c->out.len);
    c->flags |= CLIENT_KILL;
    mark_dirty(c);
    return;
  }
  if (!agent_buf_append(&c->out, p, n)) {
    /* Closed once what it has is written; never freed here (callers still hold c). */
    rb_warn("out of memory for a client's replies; closing it");
    client_set_closing(c);
    if (c->state != CLIENT_DEAD) event_del(c->rev);
  }
  mark_dirty(c);
}

/* A FIFO entry for c was answered with p[0..n). */
void agent_client_deliver(struct client *c, const char *p, size_t n) {
  c->inflight--;
  if (c->state == CLIENT_DEAD) agent_client_release(c);
  else client_put(c, p, n);
}

/* Queues a local reply behind c's commands in flight (or writes it now if there are none). */
static void client_local(struct client *c, const char *p, size_t n) {
  if (c->inflight == 0) {
    client_put(c, p, n);
    return;
  }
  if (!agent_upstream_queue_local(c->up, c, p, n)) {
    rb_warn("out of memory queueing a reply; closing the client");
    client_set_closing(c);
    event_del(c->rev);
  }
}

/* ---- input -------------------------------------------------------------------------------- */

static void client_stop_reading(struct client *c) {
  if (c->state != CLIENT_DEAD) event_del(c->rev);
}

static void handle_command(struct client *c, const char *base, size_t raw_len, uint64_t now) {
  struct agent_worker *w = c->w;
  const struct agent_req *r = &c->req;
  struct agent_cmd_args a = {base, r->argv, r->argc};
  const struct agent_cmd_info *info = NULL;
  agent_metric_add(&w->m.requests, 1);
  w->pass_cmds++;
  if (c->epoch != w->epoch + 1) {
    c->epoch = w->epoch + 1;
    w->active[w->epoch & 1]++;
  }
  agent_buf_consume(&w->scratch, w->scratch.len);
  if (agent_cmd_answer(&a, w->cfg->client_password, &c->sess, &info, &w->scratch)) {
    bool local = info && info->kind == AGENT_CMD_LOCAL && w->scratch.len > 0 &&
                 agent_buf_head(&w->scratch)[0] != '-';
    agent_metric_add(local ? &w->m.local : &w->m.rejected, 1);
    client_local(c, agent_buf_head(&w->scratch), w->scratch.len);
    if (c->sess.quit) {
      client_set_closing(c);
      client_stop_reading(c);
    }
    return;
  }
  struct upstream *u = c->up;
  if (u->state != UP_READY) {
    agent_metric_add(&w->m.failed_fast, 1);
    agent_metric_add(&w->m.rejected, 1);
    client_local(c, ERR_DOWN, sizeof ERR_DOWN - 1);
    return;
  }
  bool ok;
  bool get = info->id == AGENT_CMD_GET && r->argc == 2,
       set = info->id == AGENT_CMD_SET && r->argc == 3;
  if (w->cfg->coalesce && (get || set)) ok = agent_upstream_queue_run(u, c, r, base, set, now);
  else ok = agent_upstream_queue_one(u, c, r, base, raw_len, now);
  if (!ok) {
    client_local(c, "-ERR rbench-agent: out of memory\r\n", 34);
    return;
  }
  if (u->pending_cmds >= w->cfg->flush.max_batch) agent_upstream_flush(u, now);
}

static bool client_should_pause(const struct client *c) {
  return c->inflight >= CLIENT_PAUSE_INFLIGHT || c->out.len >= CLIENT_PAUSE_OUT;
}

static void client_protocol_error(struct client *c) {
  char msg[160];
  snprintf(msg, sizeof msg, "-ERR %s\r\n", c->req.errstr);
  agent_metric_add(&c->w->m.protocol_errors, 1);
  agent_metric_add(&c->w->m.rejected, 1);
  rb_info("closing client %llu: %s", c->sess.id, c->req.errstr);
  client_local(c, msg, strlen(msg));
  client_set_closing(c);
  client_stop_reading(c);
}

/* Parses and queues every complete command in buf (c->in, or the worker's read buffer). */
static void client_process_buf(struct client *c, struct agent_buf *buf, uint64_t now) {
  while (c->state == CLIENT_OPEN) {
    if (client_should_pause(c)) {
      c->flags |= CLIENT_PAUSED;
      client_stop_reading(c);
      return;
    }
    size_t used = 0;
    enum agent_req_status st = agent_req_parse(&c->req, agent_buf_head(buf), buf->len, &used);
    if (st == AGENT_REQ_AGAIN) break;
    if (st == AGENT_REQ_ERROR) {
      client_protocol_error(c);
      break;
    }
    if (c->req.argc > 0) handle_command(c, agent_buf_head(buf), used, now);
    agent_buf_consume(buf, used);
  }
}

static void client_process(struct client *c, uint64_t now) {
  client_process_buf(c, &c->in, now);
  if (c->in.len == 0) agent_buf_shrink(&c->in, 0);
}

/* Reads until the socket has nothing more (used when draining). */
static void client_drain_input(struct client *c, uint64_t now) {
  while (c->state == CLIENT_OPEN && !(c->flags & CLIENT_PAUSED) &&
         agent_buf_reserve(&c->in, CLIENT_READ_CHUNK)) {
    ssize_t n = read(c->fd, agent_buf_tail(&c->in), agent_buf_space(&c->in));
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) agent_client_close(c);
      return;
    }
    agent_buf_commit(&c->in, (size_t)n);
    client_process(c, now);
  }
}

void agent_client_drain_all(struct agent_worker *w, uint64_t now) {
  for (struct client *c = w->clients, *next; c; c = next) {
    next = c->next;
    client_drain_input(c, now);
  }
  for (struct client *c = w->clients; c; c = c->next) client_stop_reading(c);
}

/* A readable client is only noted here; it is read in the I/O round at the end of the
 * pass, together with every other readable client (see agent_client_io_round). */
static void on_client_readable(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct client *c = arg;
  c->w->pass_events++;
  if (c->flags & CLIENT_ON_READABLE) return;
  c->flags |= CLIENT_ON_READABLE;
  c->next_readable = c->w->readable;
  c->w->readable = c;
}

/* The read of an I/O round returned res (bytes or -errno) into p. A client with no partial
 * command is read into the worker's shared buffers (in_slab) and parsed there; only an
 * incomplete tail is copied into its own buffer, so an idle client holds no input memory. */
static void client_received(struct client *c, char *p, bool in_slab, ssize_t res, uint64_t now) {
  if (c->state != CLIENT_OPEN || (c->flags & CLIENT_PAUSED))
    return; /* what was read is dropped, like the client */
  if (res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR) return;
  if (res <= 0) {
    agent_client_close(c); /* replies still in flight are dropped on arrival */
    return;
  }
  if (res == CLIENT_READ_CHUNK) c->w->pass_full = true;
  if (!in_slab) {
    agent_buf_commit(&c->in, (size_t)res);
    client_process(c, now);
    return;
  }
  struct agent_buf view = {.data = p, .off = 0, .len = (size_t)res, .cap = CLIENT_READ_CHUNK};
  client_process_buf(c, &view, now);
  if (view.len > 0 && c->state != CLIENT_DEAD &&
      !agent_buf_append(&c->in, agent_buf_head(&view), view.len))
    agent_client_close(c);
}

/* After c->out was written as far as the socket took it. */
static void client_written(struct client *c) {
  agent_buf_shrink(&c->out, 4096);
  if (c->state == CLIENT_CLOSING && c->inflight == 0) {
    agent_client_close(c);
    return;
  }
  if ((c->flags & CLIENT_PAUSED) && !client_should_pause(c) && !(c->flags & CLIENT_ON_RESUME)) {
    c->flags |= CLIENT_ON_RESUME;
    c->next_resume = c->w->resume;
    c->w->resume = c;
  }
}

/* What the socket did not take waits for EPOLLOUT. */
static void client_want_write(struct client *c) {
  event_add(c->wev, NULL);
  if (!(c->flags & CLIENT_WWAIT)) c->w->nwwait++;
  c->flags |= CLIENT_WWAIT;
}

/* The write of an I/O round returned res (bytes or -errno). What the socket did not take
 * waits for EPOLLOUT (on_client_writable). */
static void client_sent(struct client *c, ssize_t res) {
  if (c->state == CLIENT_DEAD) return;
  if (res > 0) agent_buf_consume(&c->out, (size_t)res);
  if (res < 0 && res != -EAGAIN && res != -EWOULDBLOCK && res != -EINTR) {
    agent_client_close(c);
    return;
  }
  if (c->out.len > 0) {
    client_want_write(c);
    return;
  }
  client_written(c);
}

/* Writes c->out with plain write() calls (the socket became writable again). */
static void client_write(struct client *c) {
  if (c->flags & CLIENT_KILL) {
    agent_client_close(c);
    return;
  }
  while (c->out.len > 0) {
    ssize_t n = write(c->fd, agent_buf_head(&c->out), c->out.len);
    if (n > 0) {
      agent_buf_consume(&c->out, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      client_want_write(c);
      return;
    }
    agent_client_close(c);
    return;
  }
  client_written(c);
}

static void on_client_writable(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct client *c = arg;
  if (c->flags & CLIENT_WWAIT) c->w->nwwait--;
  c->flags &= ~CLIENT_WWAIT;
  client_write(c);
}

/* ---- accepting ---------------------------------------------------------------------------- */

static void client_new(struct agent_worker *w, int fd) {
  struct client *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->w = w;
  c->fd = fd;
  c->up = &w->ups[w->next_up];
  w->next_up = (w->next_up + 1) % w->nups;
  c->sess.authed = w->cfg->client_password == NULL;
  c->sess.id = ++w->next_id;
  agent_req_init(&c->req, &w->cfg->limits);
  c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_client_readable, c);
  c->wev = event_new(w->base, fd, EV_WRITE, on_client_writable, c);
  if (!c->rev || !c->wev) {
    if (c->rev) event_free(c->rev);
    if (c->wev) event_free(c->wev);
    close(fd);
    free(c);
    return;
  }
  event_add(c->rev, NULL);
  c->next = w->clients;
  if (w->clients) w->clients->prev = c;
  w->clients = c;
  w->nclients++;
  agent_metric_add(&w->m.clients, 1);
  agent_metric_add(&w->m.clients_accepted, 1);
}

void agent_client_on_accept(evutil_socket_t lfd, short what, void *arg) {
  (void)what;
  struct agent_worker *w = arg;
  for (int i = 0; i < 64; i++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        rb_warn("accept: %s", strerror(errno));
      return;
    }
    if (w->nclients >= w->max_clients) {
      agent_metric_add(&w->m.clients_refused, 1);
      if (write(fd, ERR_MAXCLIENTS, sizeof ERR_MAXCLIENTS - 1) < 0) { /* best effort */
      }
      close(fd);
      continue;
    }
    client_new(w, fd);
  }
}

/* ---- I/O rounds --------------------------------------------------------------------------- */

/* c was taken off the worker's list `on` (CLIENT_ON_*): clears that mark. Returns false when
 * c is dead, after freeing it if nothing else refers to it. */
static bool client_unlisted(struct client *c, unsigned on) {
  c->flags &= ~on;
  if (c->state != CLIENT_DEAD) return true;
  agent_client_release(c);
  return false;
}

/* One I/O round: a write for every client with replies and a read for (up to
 * ROUND_MAX_READS) readable clients, all run at once by agent_bio (one io_uring_enter when
 * io_uring is on), then their results are processed: writes first, then the commands read. */
void agent_client_io_round(struct agent_worker *w, uint64_t now) {
  struct agent_bio *b = &w->bio;
  agent_bio_clear(b);
  while (w->dirty) {
    struct client *c = w->dirty;
    w->dirty = c->next_dirty;
    if (!client_unlisted(c, CLIENT_ON_DIRTY)) continue;
    if ((c->flags & CLIENT_KILL) || c->out.len == 0)
      client_write(c); /* closes, or only does the bookkeeping of an empty buffer */
    else if (agent_bio_add(b, c->fd, true, agent_buf_head(&c->out), c->out.len, c, 0) < 0)
      client_write(c);
    else c->flags |= CLIENT_BUSY;
  }
  struct client *rd[ROUND_MAX_READS];
  size_t nrd = 0, nslab = 0;
  while (w->readable && nrd < ROUND_MAX_READS) {
    struct client *c = w->readable;
    w->readable = c->next_readable;
    if (!client_unlisted(c, CLIENT_ON_READABLE)) continue;
    if (c->state == CLIENT_CLOSING || (c->flags & CLIENT_PAUSED) || w->draining)
      continue; /* no longer read */
    rd[nrd++] = c;
    if (c->in.len == 0) nslab++;
  }
  agent_buf_consume(&w->rbuf, w->rbuf.len);
  if (nslab > 0 && !agent_buf_reserve(&w->rbuf, nslab * CLIENT_READ_CHUNK)) nslab = 0;
  char *slab = agent_buf_tail(&w->rbuf);
  for (size_t i = 0, k = 0; i < nrd; i++) {
    struct client *c = rd[i];
    char *p;
    bool in_slab = c->in.len == 0 && k < nslab;
    if (in_slab) {
      p = slab + CLIENT_READ_CHUNK * k++;
    } else if (agent_buf_reserve(&c->in, CLIENT_READ_CHUNK)) {
      p = agent_buf_tail(&c->in);
    } else {
      agent_client_close(c);
      continue;
    }
    if (agent_bio_add(b, c->fd, false, p, CLIENT_READ_CHUNK, c, in_slab) < 0) {
      /* out of memory for the round: read it in the next pass (epoll reports it again) */
      continue;
    }
    c->flags |= CLIENT_BUSY;
  }
  agent_bio_run(b);
  for (size_t i = 0; i < b->n; i++)
    if (b->ops[i].send) client_sent(b->ops[i].tag, b->ops[i].res);
  for (size_t i = 0; i < b->n; i++) {
    struct agent_bio_op *op = &b->ops[i];
    if (!op->send) client_received(op->tag, op->buf, op->aux != 0, op->res, now);
  }
  /* A client may have a write and a read in the round: clear its mark once (the first of
   * its operations keeps the pointer), then free the dead ones, each once. */
  for (size_t i = 0; i < b->n; i++) {
    struct client *c = b->ops[i].tag;
    if (c->flags & CLIENT_BUSY) c->flags &= ~CLIENT_BUSY;
    else b->ops[i].tag = NULL;
  }
  for (size_t i = 0; i < b->n; i++) {
    struct client *c = b->ops[i].tag;
    if (c && c->state == CLIENT_DEAD) agent_client_release(c);
  }
  agent_bio_clear(b);
}

void agent_client_resume(struct agent_worker *w, uint64_t now) {
  while (w->resume) {
    struct client *c = w->resume;
    w->resume = c->next_resume;
    if (!client_unlisted(c, CLIENT_ON_RESUME)) continue;
    c->flags &= ~CLIENT_PAUSED;
    if (!w->draining) event_add(c->rev, NULL);
    client_process(c, now);
  }
}
