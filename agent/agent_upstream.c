/* agent_upstream.c: the worker's connections to Redis: connecting and reconnecting, the FIFO of
 * queued and sent commands, batches written and replies routed back to their clients. */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent_worker_int.h"
#include "rb_log.h"

#define UP_READ_CHUNK 65536

static const char ERR_LOST[] =
    "-ERR rbench-agent: connection to Redis lost; the command may or may not have run\r\n";
static const char ERR_UNSENT[] =
    "-ERR rbench-agent: connection to Redis lost before the command was sent\r\n";

enum entry_kind { E_ONE, E_RUN, E_LOCAL, E_AUTH };

/* One FIFO entry: what the next reply from Redis (or a local reply) belongs to. */
struct entry {
  unsigned char kind;
  bool mget;          /* E_RUN: MGET (else MSET) */
  uint32_t n;         /* E_RUN: callers in the run */
  struct client *c;   /* E_ONE, E_LOCAL */
  struct client **cs; /* E_RUN: callers in order (owned) */
  char *text;         /* E_LOCAL: the reply (owned) */
  size_t text_len;
  uint64_t t_us; /* arrival of the (first) command, for the queueing-delay histogram */
};

/* ---- FIFO --------------------------------------------------------------------------------- */

static struct entry *fifo_at(struct upstream *u, size_t i) {
  return &u->ring[(u->head + i) % u->cap];
}

static struct entry *fifo_push(struct upstream *u) {
  if (u->count == u->cap) {
    size_t cap = u->cap ? u->cap * 2 : 64;
    struct entry *r = malloc(cap * sizeof *r);
    if (!r) return NULL;
    for (size_t i = 0; i < u->count; i++) r[i] = *fifo_at(u, i);
    free(u->ring);
    u->ring = r;
    u->cap = cap;
    u->head = 0;
  }
  struct entry *e = fifo_at(u, u->count++);
  memset(e, 0, sizeof *e);
  return e;
}

static void fifo_pop(struct upstream *u) {
  u->head = (u->head + 1) % u->cap;
  u->count--;
  if (u->nflushed > 0) u->nflushed--;
}

static void entry_free(struct entry *e) {
  free(e->cs);
  free(e->text);
  e->cs = NULL;
  e->text = NULL;
}

/* Local replies at the head of the FIFO are due now: everything before them is answered. */
static void deliver_head_locals(struct upstream *u) {
  while (u->count > 0 && fifo_at(u, 0)->kind == E_LOCAL) {
    struct entry *e = fifo_at(u, 0);
    agent_client_deliver(e->c, e->text, e->text_len);
    entry_free(e);
    fifo_pop(u);
  }
}

static void run_seal(struct upstream *u) {
  if (!u->run_open) return;
  struct entry *e = fifo_at(u, u->count - 1);
  if (!agent_run_seal(&u->run, &u->out)) {
    rb_error("out of memory sealing a coalesced run");
    abort(); /* the FIFO would no longer match the bytes sent */
  }
  if (e->n == 1) {
    e->kind = E_ONE;
    e->c = e->cs[0];
    free(e->cs);
    e->cs = NULL;
    agent_metric_add(&u->w->m.forwarded, 1);
  } else {
    agent_metric_add(&u->w->m.coalesced, e->n);
  }
  u->run_open = false;
}

/* ---- connection --------------------------------------------------------------------------- */

static void up_schedule_retry(struct upstream *u);
static void up_write(struct upstream *u);
static void on_up_readable(evutil_socket_t fd, short what, void *arg);
static void on_up_writable(evutil_socket_t fd, short what, void *arg);

/* Fails every entry in order, closes the socket and schedules a reconnect. */
static void up_fail(struct upstream *u, const char *why) {
  struct agent_worker *w = u->w;
  if (u->state == UP_READY) agent_metric_sub(&w->m.upstreams_up, 1);
  if (!u->logged_down) rb_warn("upstream %s:%d: %s", w->cfg->redis_host, w->cfg->redis_port, why);
  u->logged_down = true;
  agent_metric_add(&w->m.upstream_errors, 1);
  run_seal(u);
  size_t failed = 0;
  while (u->count > 0) {
    struct entry *e = fifo_at(u, 0);
    const char *msg = u->nflushed > 0 ? ERR_LOST : ERR_UNSENT;
    if (e->kind == E_LOCAL) {
      agent_client_deliver(e->c, e->text, e->text_len);
    } else if (e->kind == E_ONE) {
      agent_client_deliver(e->c, msg, strlen(msg));
      failed++;
    } else if (e->kind == E_RUN) {
      for (uint32_t k = 0; k < e->n; k++) agent_client_deliver(e->cs[k], msg, strlen(msg));
      failed += e->n;
    }
    entry_free(e);
    fifo_pop(u);
  }
  agent_metric_add(&w->m.inflight_failed, failed);
  if (u->fd >= 0) {
    event_del(u->rev);
    event_del(u->wev);
    close(u->fd);
    u->fd = -1;
  }
  event_del(u->window);
  u->window_deadline_us = 0;
  agent_buf_consume(&u->out, u->out.len);
  agent_buf_consume(&u->in, u->in.len);
  agent_reply_scan_init(&u->scan);
  u->wlen = u->pending_cmds = u->inflight_cmds = 0;
  u->state = UP_DOWN;
  up_schedule_retry(u);
}

static int up_open_socket(struct upstream *u, char *why, size_t whylen) {
  const struct agent_config *cfg = u->w->cfg;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  char port[16];
  snprintf(port, sizeof port, "%d", cfg->redis_port);
  int rc = getaddrinfo(cfg->redis_host, port, &hints, &ai);
  if (rc != 0) {
    snprintf(why, whylen, "cannot resolve: %s", gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      snprintf(why, whylen, "connect: %s", strerror(errno));
      close(fd);
      fd = -1;
    }
  } else {
    snprintf(why, whylen, "socket: %s", strerror(errno));
  }
  freeaddrinfo(ai);
  return fd;
}

void agent_upstream_connect(struct upstream *u) {
  char why[160];
  u->fd = up_open_socket(u, why, sizeof why);
  if (u->fd < 0) {
    up_fail(u, why);
    return;
  }
  u->state = UP_CONNECTING;
  u->connect_us = agent_worker_now_us();
  event_assign(u->rev, u->w->base, u->fd, EV_READ | EV_PERSIST, on_up_readable, u);
  event_assign(u->wev, u->w->base, u->fd, EV_WRITE, on_up_writable, u);
  event_add(u->wev, NULL);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  agent_upstream_connect(arg);
}

static void up_schedule_retry(struct upstream *u) {
  uint64_t ms = u->backoff_ms;
  /* Jitter (up to a quarter) keeps many agents from reconnecting in step. */
  ms += (uint64_t)rand() % (ms / 4 + 1);
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
  evtimer_add(u->retry, &tv);
  u->backoff_ms *= 2;
  if (u->backoff_ms > u->w->cfg->backoff_max_ms) u->backoff_ms = u->w->cfg->backoff_max_ms;
}

static void up_send_auth(struct upstream *u) {
  const char *pw = u->w->cfg->redis_password;
  const char *argv[2] = {"AUTH", pw};
  size_t lens[2] = {4, strlen(pw)};
  struct entry *e = fifo_push(u);
  if (!e || !agent_put_command(&u->out, 2, argv, lens)) {
    up_fail(u, "out of memory");
    return;
  }
  e->kind = E_AUTH;
  e->t_us = agent_worker_now_us();
  u->nflushed = u->count;
  u->inflight_cmds++;
  u->wlen = u->out.len;
  up_write(u);
}

/* The connection serves commands (connected, and authenticated when a password is set): only
 * now does the backoff start again from its minimum and the next outage get logged, so a
 * Redis that accepts connections but refuses the password is retried with growing pauses and
 * one log line, not every 20 ms with a line each. */
static void up_usable(struct upstream *u) {
  struct agent_worker *w = u->w;
  u->backoff_ms = w->cfg->backoff_min_ms;
  u->logged_down = false;
  agent_metric_add(&w->m.reconnects, 1);
  rb_info("connected to Redis at %s:%d", w->cfg->redis_host, w->cfg->redis_port);
}

static void up_connected(struct upstream *u) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    char why[160];
    snprintf(why, sizeof why, "connect: %s", strerror(err));
    up_fail(u, why);
    return;
  }
  struct agent_worker *w = u->w;
  u->state = UP_READY;
  u->progress_us = agent_worker_now_us();
  agent_metric_add(&w->m.upstreams_up, 1);
  event_add(u->rev, NULL);
  if (w->cfg->redis_password) up_send_auth(u); /* usable once Redis accepts it (up_usable) */
  else up_usable(u);
}

static void up_write(struct upstream *u) {
  while (u->wlen > 0) {
    ssize_t n = write(u->fd, agent_buf_head(&u->out), u->wlen);
    if (n > 0) {
      agent_metric_add(&u->w->m.upstream_writes, 1);
      agent_buf_consume(&u->out, (size_t)n);
      u->wlen -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      event_add(u->wev, NULL);
      return;
    }
    char why[160];
    snprintf(why, sizeof why, "write: %s", n < 0 ? strerror(errno) : "closed");
    up_fail(u, why);
    return;
  }
}

static void on_up_writable(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct upstream *u = arg;
  if (u->state == UP_CONNECTING) up_connected(u);
  else if (u->state == UP_READY) up_write(u);
}

void agent_upstream_check_timeout(struct upstream *u, uint64_t now, uint64_t limit_us) {
  if (u->state == UP_CONNECTING && now - u->connect_us > limit_us) up_fail(u, "connect timed out");
  else if (u->state == UP_READY && u->inflight_cmds > 0 && now - u->progress_us > limit_us)
    up_fail(u, "no reply from Redis within --timeout-ms");
}

/* ---- replies ------------------------------------------------------------------------------ */

static void run_reply(struct upstream *u, struct entry *e, const char *p, size_t n) {
  struct agent_split sp;
  const char *part;
  size_t plen;
  agent_split_init(&sp, p, n, e->n, e->mget);
  for (uint32_t k = 0; agent_split_next(&sp, &part, &plen); k++)
    agent_client_deliver(e->cs[k], part, plen);
  u->inflight_cmds -= e->n;
}

/* Routes one complete reply to the head entry. Returns false if the upstream failed. */
static bool up_route(struct upstream *u, const char *p, size_t n) {
  deliver_head_locals(u);
  if (u->nflushed == 0) {
    up_fail(u, "reply from Redis that no request is waiting for");
    return false;
  }
  struct entry *e = fifo_at(u, 0);
  if (e->kind == E_ONE) {
    agent_client_deliver(e->c, p, n);
    u->inflight_cmds--;
  } else if (e->kind == E_RUN) {
    run_reply(u, e, p, n);
  } else if (e->kind == E_AUTH) {
    u->inflight_cmds--;
    if (n < 3 || memcmp(p, "+OK", 3) != 0) {
      entry_free(e);
      fifo_pop(u);
      up_fail(u, "Redis refused the agent's AUTH (check the Redis password)");
      return false;
    }
    up_usable(u);
  }
  entry_free(e);
  fifo_pop(u);
  return true;
}

static void on_up_readable(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct upstream *u = arg;
  if (!agent_buf_reserve(&u->in, UP_READ_CHUNK)) {
    up_fail(u, "out of memory");
    return;
  }
  size_t space = agent_buf_space(&u->in);
  ssize_t n = read(fd, agent_buf_tail(&u->in), space);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    up_fail(u, n == 0 ? "Redis closed the connection" : strerror(errno));
    return;
  }
  agent_buf_commit(&u->in, (size_t)n);
  u->w->pass_events++;
  if ((size_t)n == space) u->w->pass_full = true;
  u->progress_us = agent_worker_now_us();
  for (;;) {
    size_t len = 0;
    enum agent_reply_status st =
        agent_reply_scan(&u->scan, agent_buf_head(&u->in), u->in.len, &len);
    if (st == AGENT_REPLY_AGAIN) break;
    if (st == AGENT_REPLY_ERROR) {
      up_fail(u, "Redis sent something that is not RESP2");
      return;
    }
    if (!up_route(u, agent_buf_head(&u->in), len)) return;
    agent_buf_consume(&u->in, len);
  }
  deliver_head_locals(u);
}

/* ---- queueing commands -------------------------------------------------------------------- */

void agent_upstream_flush(struct upstream *u, uint64_t now) {
  run_seal(u);
  if (u->pending_cmds == 0) return;
  struct agent_worker *w = u->w;
  for (size_t i = u->nflushed; i < u->count; i++) {
    struct entry *e = fifo_at(u, i);
    if (e->kind == E_LOCAL) continue;
    agent_hist_record(&w->m.queue_delay_us, agent_metrics_delay_bounds, agent_metrics_delay_nbounds,
                      now - e->t_us, e->kind == E_RUN ? e->n : 1);
  }
  agent_hist_record(&w->m.batch_size, agent_metrics_batch_bounds, agent_metrics_batch_nbounds,
                    u->pending_cmds, 1);
  agent_metric_add(&w->m.batches, 1);
  if (u->inflight_cmds == 0) u->progress_us = now;
  u->inflight_cmds += u->pending_cmds;
  u->last_batch = u->pending_cmds;
  u->pending_cmds = 0;
  u->first_hold_us = 0;
  u->holds = 0;
  u->nflushed = u->count;
  u->wlen = u->out.len;
  up_write(u);
}

static void note_pending(struct upstream *u, uint64_t now) {
  if (u->pending_cmds++ == 0) u->pending_oldest_us = now;
}

bool agent_upstream_queue_local(struct upstream *u, struct client *c, const char *p, size_t n) {
  run_seal(u);
  struct entry *e = fifo_push(u);
  char *copy = malloc(n);
  if (!e || !copy) {
    free(copy);
    if (e) u->count--;
    return false;
  }
  memcpy(copy, p, n);
  e->kind = E_LOCAL;
  e->c = c;
  e->text = copy;
  e->text_len = n;
  c->inflight++;
  return true;
}

bool agent_upstream_queue_one(struct upstream *u, struct client *c, const struct agent_req *r,
                              const char *base, size_t raw_len, uint64_t now) {
  run_seal(u);
  size_t mark = u->out.len;
  bool ok;
  if (!r->is_inline) {
    ok = agent_buf_append(&u->out, base, raw_len); /* forwarded byte for byte */
  } else {
    const char **argv = malloc(r->argc * sizeof *argv);
    size_t *lens = malloc(r->argc * sizeof *lens);
    for (size_t i = 0; argv && lens && i < r->argc; i++) {
      argv[i] = base + r->argv[i].off;
      lens[i] = r->argv[i].len;
    }
    ok = argv && lens && agent_put_command(&u->out, r->argc, argv, lens);
    free(argv);
    free(lens);
  }
  struct entry *e = ok ? fifo_push(u) : NULL;
  if (!e) {
    u->out.len = mark;
    return false;
  }
  e->kind = E_ONE;
  e->c = c;
  e->t_us = now;
  c->inflight++;
  note_pending(u, now);
  agent_metric_add(&u->w->m.forwarded, 1);
  return true;
}

bool agent_upstream_queue_run(struct upstream *u, struct client *c, const struct agent_req *r,
                              const char *base, bool set, uint64_t now) {
  enum agent_run_kind kind = set ? AGENT_RUN_SET : AGENT_RUN_GET;
  if (agent_run_needs_seal(&u->run, kind, u->w->cfg->flush.max_batch)) run_seal(u);
  struct entry *e;
  if (!u->run_open) {
    if (!(e = fifo_push(u))) return false;
    e->kind = E_RUN;
    e->mget = !set;
    e->t_us = now;
    u->run_open = true;
  }
  e = fifo_at(u, u->count - 1);
  if ((e->n & (e->n - 1)) == 0) { /* grow the callers array at powers of two */
    struct client **cs = realloc(e->cs, (e->n ? e->n * 2 : 4) * sizeof *cs);
    if (!cs) return false;
    e->cs = cs;
  }
  const struct agent_req_arg *k = &r->argv[1];
  if (!agent_run_add(&u->run, base + k->off, k->len, set ? base + r->argv[2].off : NULL,
                     set ? r->argv[2].len : 0))
    return false;
  e->cs[e->n++] = c;
  c->inflight++;
  note_pending(u, now);
  return true;
}

static void on_window(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ((struct upstream *)arg)->window_deadline_us = 0; /* pass_end decides */
}

void agent_upstream_arm_window(struct upstream *u, uint64_t deadline, uint64_t now) {
  if (u->window_deadline_us != 0 && u->window_deadline_us <= deadline) return;
  uint64_t d = deadline > now ? deadline - now : 0;
  struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
  evtimer_add(u->window, &tv);
  u->window_deadline_us = deadline;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

bool agent_upstream_init(struct agent_worker *w, struct upstream *u) {
  u->w = w;
  u->fd = -1;
  u->state = UP_DOWN;
  u->backoff_ms = w->cfg->backoff_min_ms;
  agent_run_init(&u->run);
  agent_reply_scan_init(&u->scan);
  u->rev = event_new(w->base, -1, EV_READ | EV_PERSIST, on_up_readable, u);
  u->wev = event_new(w->base, -1, EV_WRITE, on_up_writable, u);
  u->window = evtimer_new(w->base, on_window, u);
  u->retry = evtimer_new(w->base, on_retry, u);
  return u->rev && u->wev && u->window && u->retry;
}

void agent_upstream_deinit(struct upstream *u) {
  free(u->ring);
  if (u->fd >= 0) close(u->fd);
  if (u->rev) event_free(u->rev);
  if (u->wev) event_free(u->wev);
  if (u->window) event_free(u->window);
  if (u->retry) event_free(u->retry);
  agent_buf_deinit(&u->out);
  agent_buf_deinit(&u->in);
  agent_run_deinit(&u->run);
}

/* Drops the FIFO's references to clients without delivering anything. */
void agent_upstream_drop_refs(struct upstream *u) {
  while (u->count > 0) {
    struct entry *e = fifo_at(u, 0);
    if (e->kind == E_ONE || e->kind == E_LOCAL) {
      e->c->inflight--;
      agent_client_release(e->c);
    }
    for (uint32_t k = 0; e->kind == E_RUN && k < e->n; k++) {
      e->cs[k]->inflight--;
      agent_client_release(e->cs[k]);
    }
    entry_free(e);
    fifo_pop(u);
  }
}
