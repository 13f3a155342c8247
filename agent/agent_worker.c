/* agent_worker.c: the I/O edge of rbench-agent (libevent): clients, upstreams, batching.
 * See agent_worker.h for the picture of the queues. */
#define _GNU_SOURCE
#include "agent_worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_bio.h"
#include "agent_buf.h"
#include "agent_cmd.h"
#include "agent_coalesce.h"
#include "agent_flush.h"
#include "agent_hold.h"
#include "agent_reply.h"
#include "agent_req.h"
#include "rb_clock.h"
#include "rb_log.h"

#define CLIENT_READ_CHUNK 16384
#define UP_READ_CHUNK 65536
#define CLIENT_PAUSE_INFLIGHT 65536  /* stop reading a client with this many commands queued */
#define CLIENT_PAUSE_OUT (32u << 20) /* ... or this many reply bytes it has not read */
#define TICK_MS 50
#define ROUND_MAX_READS 256 /* client reads in one I/O round (each gets a CLIENT_READ_CHUNK) */

static const char ERR_DOWN[] = "-ERR rbench-agent: Redis is unreachable, reconnecting\r\n";
static const char ERR_LOST[] =
    "-ERR rbench-agent: connection to Redis lost; the command may or may not have run\r\n";
static const char ERR_UNSENT[] =
    "-ERR rbench-agent: connection to Redis lost before the command was sent\r\n";
static const char ERR_MAXCLIENTS[] = "-ERR max number of clients reached\r\n";

enum entry_kind { E_ONE, E_RUN, E_LOCAL, E_AUTH };

struct client;

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

enum up_state { UP_DOWN, UP_CONNECTING, UP_READY };

struct upstream {
  struct agent_worker *w;
  int fd;
  enum up_state state;
  struct event *rev, *wev, *window, *retry;
  struct agent_buf out; /* [0, wlen) flushed but unwritten, then pending bytes */
  size_t wlen;
  struct agent_buf in;
  struct agent_reply_scan scan;
  struct entry *ring; /* FIFO: [head, head+nflushed) sent, then pending */
  size_t cap, head, count, nflushed;
  size_t pending_cmds; /* client commands queued, not flushed */
  uint64_t pending_oldest_us;
  size_t inflight_cmds;        /* commands flushed, replies outstanding */
  uint64_t progress_us;        /* last reply, or flush onto an idle connection */
  uint64_t window_deadline_us; /* window timer armed for this time (0: not armed) */
  struct agent_run run;        /* open coalescing run: the FIFO's last entry when run_open */
  bool run_open;
  size_t last_batch;           /* commands in the last batch written */
  uint64_t first_hold_us;      /* the pending batch was first held back then (0: not) */
  unsigned holds;              /* times the pending batch was held back */
  uint64_t backoff_ms;
  uint64_t connect_us;
  bool logged_down;
};

struct client {
  struct agent_worker *w;
  struct upstream *up;
  int fd;
  struct event *rev, *wev;
  struct agent_buf in, out;
  struct agent_req req;
  struct agent_session sess;
  size_t inflight; /* FIFO entries that refer to this client */
  bool dead;       /* socket closed; freed once inflight == 0 */
  bool closing;    /* close once everything is answered and written (QUIT, protocol error) */
  bool paused;     /* reading stopped for backpressure */
  bool dirty;      /* on the worker's dirty list */
  bool resume;     /* on the worker's resume list */
  bool kill;       /* close at the next write (reply limit broken) */
  bool readable;   /* on the worker's readable list (read in the next I/O round) */
  bool busy;       /* has an operation in the current I/O round: not freed until it is done */
  bool wwait;      /* waiting for EPOLLOUT (counted in the worker's nwwait) */
  unsigned epoch;  /* the worker's tick when this client last sent a command, plus one */
  struct client *next_dirty, *next_resume, *next_readable;
  struct client *prev, *next; /* live clients */
};

struct agent_worker {
  const struct agent_config *cfg;
  int index;
  struct event_base *base;
  int lfd;
  struct event *accept_ev, *stop_ev, *tick;
  int stop_pipe[2];
  pthread_t thread;
  bool started;
  struct upstream *ups;
  int nups;
  int next_up;
  struct client *clients; /* live list */
  size_t nclients, max_clients;
  struct client *dirty, *resume, *readable;
  struct agent_buf scratch;
  struct agent_buf rbuf; /* shared read buffers of one I/O round (see io_round) */
  struct agent_bio bio;  /* the I/O round: client reads and writes in one go */
  unsigned pass_events;  /* readable sockets seen in the current pass (for the nap) */
  size_t pass_cmds;      /* client commands read in the current pass (for the nap) */
  bool pass_full;        /* a read in the current pass filled its buffer (for the nap) */
  bool bio_ready;
  size_t nwwait;         /* clients waiting for EPOLLOUT (no upstream wait while any is) */
  struct pollfd *upfds;  /* the upstream wait's poll set: upstreams, listener, stop pipe */
  unsigned long long next_id;
  bool draining, done;
  uint64_t gather_us;    /* a batch was held back for a gathering nap this long (gather_us) */
  uint64_t gap_us;       /* learnt time for one more command to come in (agent_hold_learn) */
  size_t active[2];      /* clients that sent commands in even / odd ticks */
  unsigned epoch;        /* ticks so far */
  uint64_t drain_deadline_us;
  struct agent_metrics m;
};

static uint64_t now_us(void) {
  return rb_clock_mono_ns() / 1000;
}

/* ---- clients: output ---------------------------------------------------------------- */

static void client_release(struct client *c) {
  if (!c->dead || c->inflight > 0 || c->dirty || c->resume || c->readable || c->busy) return;
  agent_buf_deinit(&c->in);
  agent_buf_deinit(&c->out);
  agent_req_deinit(&c->req);
  free(c);
}

static void client_close(struct client *c) {
  if (c->dead) return;
  struct agent_worker *w = c->w;
  event_free(c->rev);
  event_free(c->wev);
  close(c->fd);
  c->dead = true;
  if (c->wwait) w->nwwait--;
  c->wwait = false;
  if (c->prev)
    c->prev->next = c->next;
  else
    w->clients = c->next;
  if (c->next) c->next->prev = c->prev;
  w->nclients--;
  agent_metric_sub(&w->m.clients, 1);
  client_release(c);
}

static void mark_dirty(struct client *c) {
  if (c->dirty) return;
  c->dirty = true;
  c->next_dirty = c->w->dirty;
  c->w->dirty = c;
}

/* Appends a reply for c (already in order). */
static void client_put(struct client *c, const char *p, size_t n) {
  if (c->dead || c->kill) return;
  agent_metric_add(&c->w->m.replies, 1);
  if (c->out.len + n > c->w->cfg->max_output) {
    /* Like Redis's client-output-buffer-limit: closed at the end of the pass (write_dirty),
     * never here, where callers still hold c. */
    rb_warn("client %llu left %zu bytes of replies unread; closing it", c->sess.id, c->out.len);
    c->kill = true;
    mark_dirty(c);
    return;
  }
  if (!agent_buf_append(&c->out, p, n)) {
    /* Closed once what it has is written; never freed here (callers still hold c). */
    rb_warn("out of memory for a client's replies; closing it");
    c->closing = true;
    if (!c->dead) event_del(c->rev);
  }
  mark_dirty(c);
}

/* A FIFO entry for c was answered with p[0..n). */
static void client_deliver(struct client *c, const char *p, size_t n) {
  c->inflight--;
  if (c->dead)
    client_release(c);
  else
    client_put(c, p, n);
}

/* ---- upstream FIFO --------------------------------------------------------------------- */

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
    client_deliver(e->c, e->text, e->text_len);
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

/* ---- upstream connection ------------------------------------------------------------- */

static void up_schedule_retry(struct upstream *u);
static void up_write(struct upstream *u);
static void on_up_readable(evutil_socket_t fd, short what, void *arg);
static void on_up_writable(evutil_socket_t fd, short what, void *arg);

/* Fails every entry in order, closes the socket and schedules a reconnect. */
static void up_fail(struct upstream *u, const char *why) {
  struct agent_worker *w = u->w;
  if (u->state == UP_READY) agent_metric_sub(&w->m.upstreams_up, 1);
  if (!u->logged_down)
    rb_warn("upstream %s:%d: %s", w->cfg->redis_host, w->cfg->redis_port, why);
  u->logged_down = true;
  agent_metric_add(&w->m.upstream_errors, 1);
  run_seal(u);
  size_t failed = 0;
  while (u->count > 0) {
    struct entry *e = fifo_at(u, 0);
    const char *msg = u->nflushed > 0 ? ERR_LOST : ERR_UNSENT;
    if (e->kind == E_LOCAL) {
      client_deliver(e->c, e->text, e->text_len);
    } else if (e->kind == E_ONE) {
      client_deliver(e->c, msg, strlen(msg));
      failed++;
    } else if (e->kind == E_RUN) {
      for (uint32_t k = 0; k < e->n; k++) client_deliver(e->cs[k], msg, strlen(msg));
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

static void up_connect(struct upstream *u) {
  char why[160];
  u->fd = up_open_socket(u, why, sizeof why);
  if (u->fd < 0) {
    up_fail(u, why);
    return;
  }
  u->state = UP_CONNECTING;
  u->connect_us = now_us();
  event_assign(u->rev, u->w->base, u->fd, EV_READ | EV_PERSIST, on_up_readable, u);
  event_assign(u->wev, u->w->base, u->fd, EV_WRITE, on_up_writable, u);
  event_add(u->wev, NULL);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  up_connect(arg);
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
  e->t_us = now_us();
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
  u->progress_us = now_us();
  agent_metric_add(&w->m.upstreams_up, 1);
  event_add(u->rev, NULL);
  if (w->cfg->redis_password)
    up_send_auth(u); /* usable once Redis accepts it (up_usable) */
  else
    up_usable(u);
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
  if (u->state == UP_CONNECTING)
    up_connected(u);
  else if (u->state == UP_READY)
    up_write(u);
}

/* ---- upstream replies ---------------------------------------------------------------- */

static void run_reply(struct upstream *u, struct entry *e, const char *p, size_t n) {
  struct agent_split sp;
  const char *part;
  size_t plen;
  agent_split_init(&sp, p, n, e->n, e->mget);
  for (uint32_t k = 0; agent_split_next(&sp, &part, &plen); k++)
    client_deliver(e->cs[k], part, plen);
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
    client_deliver(e->c, p, n);
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
  u->progress_us = now_us();
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

/* ---- queueing commands ------------------------------------------------------------------ */

static void up_flush(struct upstream *u, uint64_t now) {
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

/* Queues a local reply behind c's commands in flight (or writes it now if there are none). */
static void client_local(struct client *c, const char *p, size_t n) {
  if (c->inflight == 0) {
    client_put(c, p, n);
    return;
  }
  struct upstream *u = c->up;
  run_seal(u);
  struct entry *e = fifo_push(u);
  char *copy = malloc(n);
  if (!e || !copy) {
    free(copy);
    if (e) u->count--;
    rb_warn("out of memory queueing a reply; closing the client");
    c->closing = true;
    event_del(c->rev);
    return;
  }
  memcpy(copy, p, n);
  e->kind = E_LOCAL;
  e->c = c;
  e->text = copy;
  e->text_len = n;
  c->inflight++;
}

static bool queue_one(struct upstream *u, struct client *c, const struct agent_req *r,
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

static bool queue_run(struct upstream *u, struct client *c, const struct agent_req *r,
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

/* ---- clients: input ----------------------------------------------------------------- */

static void client_stop_reading(struct client *c) {
  if (!c->dead) event_del(c->rev);
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
      c->closing = true;
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
  if (w->cfg->coalesce && (get || set))
    ok = queue_run(u, c, r, base, set, now);
  else
    ok = queue_one(u, c, r, base, raw_len, now);
  if (!ok) {
    client_local(c, "-ERR rbench-agent: out of memory\r\n", 34);
    return;
  }
  if (u->pending_cmds >= w->cfg->flush.max_batch) up_flush(u, now);
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
  c->closing = true;
  client_stop_reading(c);
}

/* Parses and queues every complete command in buf (c->in, or the worker's read buffer). */
static void client_process_buf(struct client *c, struct agent_buf *buf, uint64_t now) {
  while (!c->dead && !c->closing) {
    if (client_should_pause(c)) {
      c->paused = true;
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
  while (!c->dead && !c->closing && !c->paused && agent_buf_reserve(&c->in, CLIENT_READ_CHUNK)) {
    ssize_t n = read(c->fd, agent_buf_tail(&c->in), agent_buf_space(&c->in));
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) client_close(c);
      return;
    }
    agent_buf_commit(&c->in, (size_t)n);
    client_process(c, now);
  }
}

/* A readable client is only noted here; it is read in the I/O round at the end of the
 * pass, together with every other readable client (see io_round). */
static void on_client_readable(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct client *c = arg;
  c->w->pass_events++;
  if (c->readable) return;
  c->readable = true;
  c->next_readable = c->w->readable;
  c->w->readable = c;
}

/* The read of an I/O round returned res (bytes or -errno) into p. A client with no partial
 * command is read into the worker's shared buffers (in_slab) and parsed there; only an
 * incomplete tail is copied into its own buffer, so an idle client holds no input memory. */
static void client_received(struct client *c, char *p, bool in_slab, ssize_t res, uint64_t now) {
  if (c->dead || c->closing || c->paused) return; /* what was read is dropped, like the client */
  if (res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR) return;
  if (res <= 0) {
    client_close(c); /* replies still in flight are dropped on arrival */
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
  if (view.len > 0 && !c->dead && !agent_buf_append(&c->in, agent_buf_head(&view), view.len))
    client_close(c);
}

/* After c->out was written as far as the socket took it. */
static void client_written(struct client *c) {
  agent_buf_shrink(&c->out, 4096);
  if (c->closing && c->inflight == 0) {
    client_close(c);
    return;
  }
  if (c->paused && !client_should_pause(c) && !c->resume) {
    c->resume = true;
    c->next_resume = c->w->resume;
    c->w->resume = c;
  }
}

/* What the socket did not take waits for EPOLLOUT. */
static void client_want_write(struct client *c) {
  event_add(c->wev, NULL);
  if (!c->wwait) c->w->nwwait++;
  c->wwait = true;
}

/* The write of an I/O round returned res (bytes or -errno). What the socket did not take
 * waits for EPOLLOUT (on_client_writable). */
static void client_sent(struct client *c, ssize_t res) {
  if (c->dead) return;
  if (res > 0) agent_buf_consume(&c->out, (size_t)res);
  if (res < 0 && res != -EAGAIN && res != -EWOULDBLOCK && res != -EINTR) {
    client_close(c);
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
  if (c->kill) {
    client_close(c);
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
    client_close(c);
    return;
  }
  client_written(c);
}

static void on_client_writable(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct client *c = arg;
  if (c->wwait) c->w->nwwait--;
  c->wwait = false;
  client_write(c);
}

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

static void on_accept(evutil_socket_t lfd, short what, void *arg) {
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

/* ---- the loop ---------------------------------------------------------------------------- */

static void on_window(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ((struct upstream *)arg)->window_deadline_us = 0; /* pass_end decides */
}

static void arm_window(struct upstream *u, uint64_t deadline, uint64_t now) {
  if (u->window_deadline_us != 0 && u->window_deadline_us <= deadline) return;
  uint64_t d = deadline > now ? deadline - now : 0;
  struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
  evtimer_add(u->window, &tv);
  u->window_deadline_us = deadline;
}

static size_t active_clients(const struct agent_worker *w) {
  return agent_hold_active(w->active[w->epoch & 1], w->active[(w->epoch + 1) & 1]);
}

/* How long to hold an idle upstream's next batch back (agent_hold.h); 0: write it now. */
static uint64_t gather_us(const struct agent_worker *w, const struct upstream *u, uint64_t now) {
  if (!w->cfg->upstream_wait || w->draining) return 0;
  struct agent_hold_state st = {.pending = u->pending_cmds,
                                .inflight = u->inflight_cmds,
                                .last_batch = u->last_batch,
                                /* clients are spread evenly over the upstreams */
                                .active = agent_hold_share(active_clients(w), (size_t)w->nups),
                                .gap_us = w->gap_us,
                                .oldest_us = u->pending_oldest_us,
                                .first_hold_us = u->first_hold_us,
                                .holds = u->holds};
  return agent_hold_gather_us(&w->cfg->nap, &w->cfg->flush, &st, now);
}

static void decide_flushes(struct agent_worker *w, uint64_t now) {
  for (int i = 0; i < w->nups; i++) {
    struct upstream *u = &w->ups[i];
    if (u->state != UP_READY) continue;
    struct agent_flush_state st = {.pending = u->pending_cmds,
                                   .oldest_us = u->pending_oldest_us,
                                   .inflight = u->inflight_cmds,
                                   .pass_end = true};
    uint64_t deadline = 0;
    enum agent_flush_verdict v = agent_flush_decide(&w->cfg->flush, &st, now, &deadline);
    uint64_t hold = v == AGENT_FLUSH_NOW ? gather_us(w, u, now) : 0;
    if (hold > 0) {
      if (u->holds++ == 0) u->first_hold_us = now;
      if (w->gather_us == 0 || hold < w->gather_us) w->gather_us = hold;
    } else if (v == AGENT_FLUSH_NOW || (v == AGENT_FLUSH_WAIT && w->draining))
      up_flush(u, now);
    else if (v == AGENT_FLUSH_WAIT)
      arm_window(u, deadline, now);
  }
}

/* One I/O round: a write for every client with replies and a read for (up to
 * ROUND_MAX_READS) readable clients, all run at once by agent_bio (one io_uring_enter when
 * io_uring is on), then their results are processed: writes first, then the commands read. */
static void io_round(struct agent_worker *w, uint64_t now) {
  struct agent_bio *b = &w->bio;
  agent_bio_clear(b);
  while (w->dirty) {
    struct client *c = w->dirty;
    w->dirty = c->next_dirty;
    c->dirty = false;
    if (c->dead) {
      client_release(c);
    } else if (c->kill || c->out.len == 0) {
      client_write(c); /* closes, or only does the bookkeeping of an empty buffer */
    } else if (agent_bio_add(b, c->fd, true, agent_buf_head(&c->out), c->out.len, c, 0) < 0) {
      client_write(c);
    } else {
      c->busy = true;
    }
  }
  struct client *rd[ROUND_MAX_READS];
  size_t nrd = 0, nslab = 0;
  while (w->readable && nrd < ROUND_MAX_READS) {
    struct client *c = w->readable;
    w->readable = c->next_readable;
    c->readable = false;
    if (c->dead) {
      client_release(c);
      continue;
    }
    if (c->closing || c->paused || w->draining) continue; /* no longer read */
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
      client_close(c);
      continue;
    }
    if (agent_bio_add(b, c->fd, false, p, CLIENT_READ_CHUNK, c, in_slab) < 0) {
      /* out of memory for the round: read it in the next pass (epoll reports it again) */
      continue;
    }
    c->busy = true;
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
    if (c->busy)
      c->busy = false;
    else
      b->ops[i].tag = NULL;
  }
  for (size_t i = 0; i < b->n; i++) {
    struct client *c = b->ops[i].tag;
    if (c && c->dead) client_release(c);
  }
  agent_bio_clear(b);
}

static void resume_clients(struct agent_worker *w, uint64_t now) {
  while (w->resume) {
    struct client *c = w->resume;
    w->resume = c->next_resume;
    c->resume = false;
    if (c->dead) {
      client_release(c);
      continue;
    }
    c->paused = false;
    if (!w->draining) event_add(c->rev, NULL);
    client_process(c, now);
  }
}

static bool drained(const struct agent_worker *w) {
  for (int i = 0; i < w->nups; i++)
    if (w->ups[i].count > 0) return false;
  for (const struct client *c = w->clients; c; c = c->next)
    if (c->out.len > 0) return false;
  return true;
}

static size_t pending_total(const struct agent_worker *w) {
  size_t n = 0;
  for (int i = 0; i < w->nups; i++) n += w->ups[i].pending_cmds;
  return n;
}

/* The reading half of pass_end, without the flush decisions. */
static void pass_end_read(struct agent_worker *w) {
  uint64_t now = now_us();
  do {
    resume_clients(w, now);
    do io_round(w, now);
    while (w->readable);
  } while (w->resume || w->readable);
}

/* Runs after every event-loop pass: the batching decision point. Replies routed in the pass
 * are written and readable clients read in one I/O round, then each upstream decides. since:
 * when the upstream wait before this pass began (0: there was none). */
static void pass_end(struct agent_worker *w, uint64_t since) {
  uint64_t now = now_us();
  /* Commands read after an upstream wait may have arrived any time since it began: they
   * count from then, so the window still bounds their wait. */
  uint64_t arrived = since != 0 && since < now ? since : now;
  do {
    resume_clients(w, now);
    do io_round(w, arrived);
    while (w->readable);
    decide_flushes(w, now);
  } while (w->resume || w->dirty || w->readable);
  if (w->draining && (drained(w) || now >= w->drain_deadline_us)) w->done = true;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct agent_worker *w = arg;
  uint64_t now = now_us(), limit = w->cfg->timeout_ms * 1000;
  w->epoch++;
  w->active[w->epoch & 1] = 0;
  for (int i = 0; i < w->nups; i++) {
    struct upstream *u = &w->ups[i];
    if (u->state == UP_CONNECTING && now - u->connect_us > limit)
      up_fail(u, "connect timed out");
    else if (u->state == UP_READY && u->inflight_cmds > 0 && now - u->progress_us > limit)
      up_fail(u, "no reply from Redis within --timeout-ms");
  }
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct agent_worker *w = arg;
  char b[16];
  if (read(fd, b, sizeof b) <= 0 || w->draining) return;
  w->draining = true;
  w->drain_deadline_us = now_us() + w->cfg->timeout_ms * 1000;
  event_del(w->accept_ev);
  close(w->lfd);
  w->lfd = -1;
  /* Requests a client sent before the signal are answered: read what its socket already
   * holds, then stop reading. */
  uint64_t now = now_us();
  for (struct client *c = w->clients, *next; c; c = next) {
    next = c->next;
    client_drain_input(c, now);
  }
  for (struct client *c = w->clients; c; c = c->next) client_stop_reading(c);
}

/* Sleeps after a busy pass (agent_hold_nap_us) so the next pass gathers more events. */
static void nap(struct agent_worker *w) {
  size_t outstanding = 0;
  for (int i = 0; i < w->nups; i++) outstanding += w->ups[i].inflight_cmds + w->ups[i].pending_cmds;
  uint64_t us = agent_hold_nap_us(&w->cfg->nap, &w->cfg->flush, w->pass_events, w->pass_cmds,
                                  w->pass_full, outstanding);
  if (us == 0) return;
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* The upstream wait. With --flush idle, a command read while every upstream has a batch at
 * Redis cannot leave before that batch's replies come back, so waking for it only costs a
 * wake-up (the dearest thing on a busy or virtualised machine). While that holds, the agent
 * sleeps on the upstream sockets (and the listener and the stop pipe) only: the replies
 * wake it at once, and the clients' commands are read in the same pass and leave as the next
 * batch. The wait never lasts longer than the batch window (after which queued commands
 * leave even with a batch in flight). Returns when the wait began (0: no wait). */
static bool upstream_wait_applies(const struct agent_worker *w) {
  if (!w->cfg->upstream_wait || w->cfg->flush.mode != AGENT_FLUSH_IDLE ||
      w->cfg->flush.window_us == 0 || w->draining || w->nwwait > 0 || w->resume || w->dirty ||
      w->readable || !w->upfds)
    return false;
  for (int i = 0; i < w->nups; i++) {
    const struct upstream *u = &w->ups[i];
    if (u->state != UP_READY || u->inflight_cmds == 0 || u->wlen > 0) return false;
  }
  return true;
}

static uint64_t upstream_wait(struct agent_worker *w) {
  if (!upstream_wait_applies(w)) return 0;
  uint64_t start = now_us(), limit = w->cfg->flush.window_us;
  nfds_t n = 0;
  for (int i = 0; i < w->nups; i++) {
    const struct upstream *u = &w->ups[i];
    limit =
        agent_hold_wait_us(&w->cfg->flush, limit, u->pending_cmds, u->pending_oldest_us, start);
    if (limit == 0) return 0;
    w->upfds[n++] = (struct pollfd){.fd = u->fd, .events = POLLIN};
  }
  if (w->lfd >= 0) w->upfds[n++] = (struct pollfd){.fd = w->lfd, .events = POLLIN};
  w->upfds[n++] = (struct pollfd){.fd = w->stop_pipe[0], .events = POLLIN};
  struct timespec ts = {(time_t)(limit / 1000000), (long)(limit % 1000000) * 1000};
  if (ppoll(w->upfds, n, &ts, NULL) < 0 && errno != EINTR) return 0;
  return start;
}

static bool any_connecting(const struct agent_worker *w) {
  for (int i = 0; i < w->nups; i++)
    if (w->ups[i].state == UP_CONNECTING) return true;
  return false;
}

static void *worker_main(void *arg) {
  struct agent_worker *w = arg;
  /* The ring is single-issuer: set it up on the thread that uses it. */
  if (!agent_bio_init(&w->bio, w->cfg->io_uring, ROUND_MAX_READS * 2)) {
    rb_error("out of memory setting up the I/O rounds");
    abort();
  }
  w->bio_ready = true;
  if (w->index == 0)
    rb_info("client I/O: %s", agent_bio_uring(&w->bio) ? "io_uring" : "plain system calls");
  for (int i = 0; i < w->nups; i++) up_connect(&w->ups[i]);
  /* Accept clients once the first connection attempts have settled (ready or failed), so a
   * client that connects right after start-up does not see "unreachable" for nothing. */
  while (any_connecting(w)) event_base_loop(w->base, EVLOOP_ONCE);
  event_add(w->accept_ev, NULL);
  /* Naps are short: ask for the default 50 us timer slack to be 1 us. */
  prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  while (!w->done) {
    w->pass_events = 0;
    w->pass_cmds = 0;
    w->pass_full = false;
    uint64_t since = upstream_wait(w);
    event_base_loop(w->base, EVLOOP_ONCE);
    pass_end(w, since);
    /* A held batch: sleep, read what came in meanwhile, decide again (agent_hold_gather_us
     * stops holding once its time is up). */
    while (w->gather_us > 0 && !w->done) {
      size_t before = pending_total(w);
      uint64_t t0 = now_us();
      struct timespec ts = {(time_t)(w->gather_us / 1000000), (long)(w->gather_us % 1000000) * 1000};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
      w->gather_us = 0;
      event_base_loop(w->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
      /* read what came in meanwhile (counted before a batch is written), then decide */
      pass_end_read(w);
      size_t after = pending_total(w);
      w->gap_us =
          agent_hold_learn_queued(w->gap_us, before, after, active_clients(w), now_us() - t0);
      pass_end(w, 0);
    }
    /* The blind nap is the --no-upstream-wait loop's way to gather (the hold is this one's). */
    if (!w->draining && !w->cfg->upstream_wait) nap(w);
  }
  return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static int listen_socket(const struct agent_config *cfg, bool reuseport, char *err, size_t errlen) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE},
                  *ai;
  char port[16];
  snprintf(port, sizeof port, "%d", cfg->listen_port);
  int rc = getaddrinfo(cfg->listen_host, port, &hints, &ai);
  if (rc != 0) {
    snprintf(err, errlen, "--listen %s: %s", cfg->listen_host, gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
      snprintf(err, errlen, "--listen %s:%d: %s", cfg->listen_host, cfg->listen_port,
               strerror(errno));
      close(fd);
      fd = -1;
    }
  } else {
    snprintf(err, errlen, "socket: %s", strerror(errno));
  }
  freeaddrinfo(ai);
  return fd;
}

static bool upstream_init(struct agent_worker *w, struct upstream *u) {
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

struct agent_worker *agent_worker_create(const struct agent_config *cfg, int index, char *err,
                                         size_t errlen) {
  struct agent_worker *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->cfg = cfg;
  w->index = index;
  w->lfd = -1;
  w->stop_pipe[0] = w->stop_pipe[1] = -1;
  agent_metrics_init(&w->m);
  w->max_clients = (cfg->max_clients + (size_t)cfg->workers - 1) / (size_t)cfg->workers;
  struct event_config *ec = event_config_new();
  if (ec) event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
  w->base = ec ? event_base_new_with_config(ec) : NULL;
  if (ec) event_config_free(ec);
  w->gap_us = AGENT_HOLD_GAP0_US;
  w->nups = cfg->upstreams;
  w->ups = calloc((size_t)w->nups, sizeof *w->ups);
  w->upfds = calloc((size_t)w->nups + 2, sizeof *w->upfds);
  if (!w->base || !w->ups || !w->upfds || pipe2(w->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    snprintf(err, errlen, "cannot set up the event loop");
    agent_worker_destroy(w);
    return NULL;
  }
  for (int i = 0; i < w->nups; i++) {
    if (!upstream_init(w, &w->ups[i])) {
      snprintf(err, errlen, "out of memory");
      agent_worker_destroy(w);
      return NULL;
    }
  }
  w->lfd = listen_socket(cfg, cfg->workers > 1, err, errlen);
  if (w->lfd < 0) {
    agent_worker_destroy(w);
    return NULL;
  }
  struct timeval tick = {0, TICK_MS * 1000};
  w->accept_ev = event_new(w->base, w->lfd, EV_READ | EV_PERSIST, on_accept, w);
  w->stop_ev = event_new(w->base, w->stop_pipe[0], EV_READ | EV_PERSIST, on_stop, w);
  w->tick = event_new(w->base, -1, EV_PERSIST, on_tick, w);
  if (!w->accept_ev || !w->stop_ev || !w->tick) {
    snprintf(err, errlen, "out of memory");
    agent_worker_destroy(w);
    return NULL;
  }
  event_add(w->stop_ev, NULL);
  event_add(w->tick, &tick);
  return w;
}

int agent_worker_start(struct agent_worker *w) {
  int rc = pthread_create(&w->thread, NULL, worker_main, w);
  w->started = rc == 0;
  return rc;
}

void agent_worker_stop(struct agent_worker *w) {
  if (write(w->stop_pipe[1], "x", 1) < 0) { /* the pipe only wakes the loop */
  }
}

void agent_worker_join(struct agent_worker *w) {
  if (w->started) pthread_join(w->thread, NULL);
  w->started = false;
}

static void upstream_deinit(struct upstream *u) {
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
static void upstream_drop_refs(struct upstream *u) {
  while (u->count > 0) {
    struct entry *e = fifo_at(u, 0);
    if (e->kind == E_ONE || e->kind == E_LOCAL) {
      e->c->inflight--;
      client_release(e->c);
    }
    for (uint32_t k = 0; e->kind == E_RUN && k < e->n; k++) {
      e->cs[k]->inflight--;
      client_release(e->cs[k]);
    }
    entry_free(e);
    fifo_pop(u);
  }
}

void agent_worker_destroy(struct agent_worker *w) {
  if (!w) return;
  for (struct client *c = w->clients; c; c = c->next)
    c->dirty = c->resume = c->readable = c->busy = false;
  for (int i = 0; w->ups && i < w->nups; i++) upstream_drop_refs(&w->ups[i]);
  while (w->clients) client_close(w->clients);
  for (int i = 0; w->ups && i < w->nups; i++) upstream_deinit(&w->ups[i]);
  free(w->ups);
  free(w->upfds);
  if (w->accept_ev) event_free(w->accept_ev);
  if (w->stop_ev) event_free(w->stop_ev);
  if (w->tick) event_free(w->tick);
  if (w->lfd >= 0) close(w->lfd);
  if (w->stop_pipe[0] >= 0) close(w->stop_pipe[0]);
  if (w->stop_pipe[1] >= 0) close(w->stop_pipe[1]);
  if (w->base) event_base_free(w->base);
  agent_buf_deinit(&w->scratch);
  agent_buf_deinit(&w->rbuf);
  if (w->bio_ready) agent_bio_deinit(&w->bio);
  free(w);
}

struct agent_metrics *agent_worker_metrics(struct agent_worker *w) {
  return &w->m;
}
