/* action_batch.c: the runtime batcher (see the header).
 *
 * Threads: activation threads only touch the inbox (a list under b->lock, woken through an
 * eventfd) and the endpoints' counters (under the same lock); everything else (connections,
 * queues, the reader, callbacks) belongs to the batcher's thread. Its loop runs libevent one
 * pass at a time (EVLOOP_ONCE) and takes the flush decisions after each pass, when every
 * ready socket and the inbox have been read: "whatever is queued when the loop turns".
 *
 * A connection's commands move through three queues:
 *   pend  submitted, not written yet (the flush rule holds them)
 *   out   taken into a pipeline, being written (the head may be partly written)
 *   wait  written, replies expected in this order */
#define _GNU_SOURCE
#include "action_batch.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rb_clock.h"
#include "rb_log.h"

#define BATCH_HOST_MAX 256
#define BATCH_SECRET_MAX 512
#define BATCH_READ_CHUNK 65536
#define BATCH_IOV 256
#define BATCH_HOLD_SLACK_NS 20000 /* a hold timer may fire this early */
#define BATCH_STOPPING "the action is stopping"

enum bstate { BC_CLOSED, BC_CONNECTING, BC_AUTHING, BC_READY };

struct breq {
  struct breq *next;
  struct action_batch_ep *ep;
  char *buf;
  size_t len, woff;
  int conns;
  uint32_t wait_us, timeout_ms;
  bool coalesce;
  action_batch_cb cb;
  void *arg;
  uint64_t submit_ns;
  uint64_t deadline_ns; /* its reply is due (set when taken into a pipeline) */
  int conn;
  uint64_t pipeline;
  uint32_t pipeline_ops;
  /* coalescing: the commands answered from this one's reply, and for a SET its value */
  struct breq *followers;
  bool from_set; /* a follower answered with its leader's (a SET's) value */
  size_t val_off, val_len;
  bool answered; /* timed out alone: its callback was called, its reply will be dropped */
};

struct rq {
  struct breq *head, *tail;
  size_t n;
};

struct bconn {
  struct action_batch *b;
  struct action_batch_ep *ep;
  int index;
  int fd;
  enum bstate state;
  struct event *rev, *wev, *tev, *hev;
  redisReader *reader;
  struct rq pend, out, wait;
  size_t pend_coalesce;   /* pending commands that may be coalesced */
  uint64_t hold_until_ns; /* the earliest pending command's hold ends (0: none pending) */
  uint64_t tev_at_ns;     /* the reply timer's instant (0: not armed) */
  uint64_t progress_ns;   /* the last reply read, or the first write after none was due */
  uint32_t connect_timeout_ms;
  char *auth;
  size_t auth_len, auth_off;
};

struct action_batch_ep {
  struct action_batch_ep *next;      /* b->eps, under b->lock */
  struct action_batch_ep *loop_next; /* b->loop_eps: the batcher's thread only */
  bool in_loop;                      /* the batcher's thread only */
  char host[BATCH_HOST_MAX];
  int port;
  char password[BATCH_SECRET_MAX];
  char address[BATCH_HOST_MAX + 16];
  struct bconn *conns[ACTION_BATCH_CONNS_MAX]; /* the batcher's thread only */
  int nconns;
  /* under b->lock */
  int ready;
  uint64_t made, failed;
};

struct action_batch {
  pthread_mutex_t lock;
  struct action_batch_ep *eps;
  struct rq inbox;
  bool notified, started, start_failed, stopping, thread_running;
  int efd;
  pthread_t thread;
  /* the batcher's thread */
  struct event_base *base;
  struct event *inbox_ev;
  struct action_batch_ep *loop_eps; /* the endpoints the loop has had commands for */
  bool stopped;
  uint64_t pipeline_seq;
  char rbuf[BATCH_READ_CHUNK];
};

static void rq_push(struct rq *q, struct breq *r) {
  r->next = NULL;
  if (q->tail) q->tail->next = r;
  else q->head = r;
  q->tail = r;
  q->n++;
}

static struct breq *rq_pop(struct rq *q) {
  struct breq *r = q->head;
  if (!r) return NULL;
  q->head = r->next;
  if (!q->head) q->tail = NULL;
  q->n--;
  r->next = NULL;
  return r;
}

static struct rq rq_take(struct rq *q) {
  struct rq all = *q;
  memset(q, 0, sizeof *q);
  return all;
}

static void req_free(struct breq *r) {
  redisFreeCommand(r->buf);
  free(r);
}

static void conn_enqueue(struct bconn *c, struct breq *r, bool front);

static bool reply_ok(const redisReply *rep) {
  return rep && rep->type == REDIS_REPLY_STATUS && rep->len == 2 && memcmp(rep->str, "OK", 2) == 0;
}

/* Answers r (reply or error), then its followers; r stays (answered). */
static void answer(struct breq *r, const redisReply *reply, const char *error, bool unconnected) {
  uint64_t now = rb_clock_mono_ns();
  struct action_batch_info info = {.conn = r->conn,
                                   .pipeline = r->pipeline,
                                   .pipeline_ops = r->pipeline_ops,
                                   .coalesced = false,
                                   .unconnected = unconnected,
                                   .latency_ns = now - r->submit_ns};
  r->cb(r->arg, reply, error, &info);
  struct breq *f = r->followers;
  char *val = NULL;
  while (f) {
    struct breq *next = f->next;
    info.latency_ns = now - f->submit_ns;
    info.coalesced = true;
    if (!f->from_set) {
      f->cb(f->arg, reply, error, &info);
      req_free(f);
    } else if (reply_ok(reply) && (val || (val = malloc(r->val_len + 1)))) {
      /* the SET's value as a string reply, NUL-terminated as hiredis's are */
      memcpy(val, r->buf + r->val_off, r->val_len);
      val[r->val_len] = '\0';
      redisReply v = {.type = REDIS_REPLY_STRING, .str = val, .len = r->val_len};
      f->cb(f->arg, &v, NULL, &info);
      req_free(f);
    } else if (error) {
      f->cb(f->arg, NULL, error, &info);
      req_free(f);
    } else { /* the SET did not succeed: the GET is sent after all, uncoalesced */
      f->from_set = false;
      f->coalesce = false;
      f->followers = NULL;
      struct action_batch_ep *ep = f->ep;
      conn_enqueue(ep->conns[r->conn], f, true);
    }
    f = next;
  }
  free(val);
  r->followers = NULL;
  r->answered = true;
}

/* Answers r unless it was answered already (timed out alone: its reply is dropped); frees r. */
static void complete(struct action_batch *b, struct breq *r, const redisReply *reply,
                     const char *error, bool unconnected) {
  (void)b;
  if (!r->answered) answer(r, reply, error, unconnected);
  req_free(r);
}

static void fail_queue(struct action_batch *b, struct rq *q, const char *msg, bool unconnected) {
  struct rq all = rq_take(q);
  struct breq *r;
  while ((r = rq_pop(&all))) complete(b, r, NULL, msg, unconnected);
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_set_ready(struct bconn *c, bool ready) {
  struct action_batch *b = c->b;
  pthread_mutex_lock(&b->lock);
  if (ready) {
    c->ep->ready++;
    c->ep->made++;
  } else {
    c->ep->ready--;
  }
  pthread_mutex_unlock(&b->lock);
}

static void conn_close(struct bconn *c) {
  if (c->rev) event_free(c->rev);
  if (c->wev) event_free(c->wev);
  c->rev = c->wev = NULL;
  evtimer_del(c->tev);
  c->tev_at_ns = 0;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (c->reader) redisReaderFree(c->reader);
  c->reader = NULL;
  if (c->auth) redisFreeCommand(c->auth);
  c->auth = NULL;
  if (c->state == BC_READY) conn_set_ready(c, false);
  c->state = BC_CLOSED;
}

/* Closes c after msg. What was written fails; what is pending goes out on a new connection,
 * unless this was the connection being made (then it fails too). */
static void conn_fail(struct bconn *c, const char *msg) {
  struct action_batch *b = c->b;
  bool making = c->state == BC_CONNECTING || c->state == BC_AUTHING;
  conn_close(c);
  if (making) {
    pthread_mutex_lock(&b->lock);
    c->ep->failed++;
    pthread_mutex_unlock(&b->lock);
  }
  fail_queue(b, &c->out, msg, false);
  fail_queue(b, &c->wait, msg, false);
  if (making) {
    c->pend_coalesce = 0;
    c->hold_until_ns = 0;
    fail_queue(b, &c->pend, msg, true);
  }
}

static void conn_arm_timer(struct bconn *c, uint64_t at_ns) {
  uint64_t now = rb_clock_mono_ns();
  uint64_t d = at_ns > now ? at_ns - now : 0;
  struct timeval tv = {.tv_sec = (time_t)(d / 1000000000ULL),
                       .tv_usec = (suseconds_t)(d % 1000000000ULL / 1000)};
  evtimer_add(c->tev, &tv);
  c->tev_at_ns = at_ns;
}

static void conn_ready(struct bconn *c) {
  c->state = BC_READY;
  evtimer_del(c->tev);
  c->tev_at_ns = 0;
  conn_set_ready(c, true);
}

static void conn_try_write(struct bconn *c);

/* Writes the AUTH command (or the rest of it). */
static void conn_write_auth(struct bconn *c) {
  while (c->auth && c->auth_off < c->auth_len) {
    ssize_t n = send(c->fd, c->auth + c->auth_off, c->auth_len - c->auth_off, MSG_NOSIGNAL);
    if (n > 0) {
      c->auth_off += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      event_add(c->wev, NULL);
      return;
    } else {
      char msg[160];
      snprintf(msg, sizeof msg, "write failed: %s", strerror(errno));
      conn_fail(c, msg);
      return;
    }
  }
}

static void write_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct bconn *c = arg;
  if (c->state == BC_CONNECTING) {
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
    if (soerr != 0) {
      char msg[160];
      snprintf(msg, sizeof msg, "connect to %.90s failed: %.40s", c->ep->address, strerror(soerr));
      conn_fail(c, msg);
      return;
    }
    event_add(c->rev, NULL);
    if (c->ep->password[0] == '\0') {
      conn_ready(c);
      return;
    }
    const char *argv[2] = {"AUTH", c->ep->password};
    size_t argvlen[2] = {4, strlen(c->ep->password)};
    int len = redisFormatCommandArgv(&c->auth, 2, argv, argvlen);
    if (len < 0) {
      c->auth = NULL;
      conn_fail(c, "out of memory formatting a command");
      return;
    }
    c->auth_len = (size_t)len;
    c->auth_off = 0;
    c->state = BC_AUTHING;
    conn_write_auth(c);
    return;
  }
  if (c->state == BC_AUTHING) conn_write_auth(c);
  else if (c->state == BC_READY) conn_try_write(c);
}

static void handle_reply(struct bconn *c, redisReply *reply) {
  if (c->state == BC_AUTHING) {
    if (reply_ok(reply)) {
      redisFreeCommand(c->auth);
      c->auth = NULL;
      conn_ready(c);
      return;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "AUTH failed: %.120s",
             reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    conn_fail(c, msg);
    return;
  }
  struct breq *r = rq_pop(&c->wait);
  if (!r) {
    conn_fail(c, "protocol error: reply with no request in flight");
    return;
  }
  c->progress_ns = rb_clock_mono_ns();
  complete(c->b, r, reply, NULL, false);
  if (!c->wait.n && !c->out.n) {
    evtimer_del(c->tev);
    c->tev_at_ns = 0;
  }
}

static void read_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct bconn *c = arg;
  struct action_batch *b = c->b;
  char msg[160];
  ssize_t n = recv(fd, b->rbuf, sizeof b->rbuf, 0);
  if (n == 0) {
    conn_fail(c, "connection closed by server");
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    snprintf(msg, sizeof msg, "read failed: %s", strerror(errno));
    conn_fail(c, msg);
    return;
  }
  if (redisReaderFeed(c->reader, b->rbuf, (size_t)n) != REDIS_OK) {
    conn_fail(c, "out of memory reading a reply");
    return;
  }
  while (c->state == BC_READY || c->state == BC_AUTHING) {
    void *reply = NULL;
    if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
      snprintf(msg, sizeof msg, "protocol error: %.120s", c->reader->errstr);
      conn_fail(c, msg);
      return;
    }
    if (!reply) return;
    handle_reply(c, reply);
    freeReplyObject(reply);
  }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct bconn *c = arg;
  char msg[160];
  c->tev_at_ns = 0;
  if (c->state == BC_CONNECTING || c->state == BC_AUTHING) {
    snprintf(msg, sizeof msg, "timed out after %u ms %s", c->connect_timeout_ms,
             c->state == BC_CONNECTING ? "connecting" : "waiting for the AUTH reply");
    conn_fail(c, msg);
    return;
  }
  /* Replies past their command's timeout. The oldest command not answered by Redis (the one
   * it works on) decides whether the connection is dead: when it has waited its timeout_ms
   * since the last reply (or since it was written to an idle connection), the connection
   * fails as a whole, every command written to it with that message. Any other late command
   * fails alone, and its reply, when it comes, is read and dropped: a command slow behind
   * others, or one activation's shorter timeout_ms, does not fail other commands. */
  uint64_t now = rb_clock_mono_ns(), min = UINT64_MAX;
  const struct breq *head = c->wait.head ? c->wait.head : c->out.head;
  if (head && now - c->progress_ns >= (uint64_t)head->timeout_ms * 1000000ULL) {
    snprintf(msg, sizeof msg, "timed out after %u ms waiting for the reply", head->timeout_ms);
    conn_fail(c, msg);
    return;
  }
  for (int q = 0; q < 2; q++) {
    for (struct breq *r = q ? c->wait.head : c->out.head; r; r = r->next) {
      if (r->answered) continue;
      if (r->deadline_ns <= now) {
        snprintf(msg, sizeof msg, "timed out after %u ms waiting for the reply", r->timeout_ms);
        answer(r, NULL, msg, false);
      } else if (r->deadline_ns < min) {
        min = r->deadline_ns;
      }
    }
  }
  if (head) { /* when the head's silence would run out */
    uint64_t dead = c->progress_ns + (uint64_t)head->timeout_ms * 1000000ULL;
    if (dead < min) min = dead;
  }
  if (min != UINT64_MAX) conn_arm_timer(c, min);
}

static void hold_cb(evutil_socket_t fd, short what, void *arg) {
  /* nothing: the loop's pass ends and flush_all decides */
  (void)fd;
  (void)what;
  (void)arg;
}

static struct bconn *conn_new(struct action_batch *b, struct action_batch_ep *ep, int index) {
  struct bconn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->b = b;
  c->ep = ep;
  c->index = index;
  c->fd = -1;
  c->tev = evtimer_new(b->base, timer_cb, c);
  c->hev = evtimer_new(b->base, hold_cb, c);
  if (!c->tev || !c->hev) {
    if (c->tev) event_free(c->tev);
    if (c->hev) event_free(c->hev);
    free(c);
    return NULL;
  }
  return c;
}

static void conn_destroy(struct bconn *c) {
  conn_close(c);
  event_free(c->tev);
  event_free(c->hev);
  free(c);
}

/* Starts connecting c; on an immediate failure fails what is pending on it. */
static void conn_start(struct bconn *c) {
  struct action_batch_ep *ep = c->ep;
  char msg[160];
  char port[16];
  snprintf(port, sizeof port, "%d", ep->port);
  c->connect_timeout_ms = c->pend.head ? c->pend.head->timeout_ms : 5000;
  c->state = BC_CONNECTING; /* so that a failure below counts as a connection being made */
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  int gai = getaddrinfo(ep->host, port, &hints, &ai);
  if (gai != 0) {
    snprintf(msg, sizeof msg, "cannot resolve %.80s: %.50s", ep->host, gai_strerror(gai));
    conn_fail(c, msg);
    return;
  }
  c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (c->fd < 0) {
    snprintf(msg, sizeof msg, "socket failed: %s", strerror(errno));
    freeaddrinfo(ai);
    conn_fail(c, msg);
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->reader = redisReaderCreate();
  c->rev = event_new(c->b->base, c->fd, EV_READ | EV_PERSIST, read_cb, c);
  c->wev = event_new(c->b->base, c->fd, EV_WRITE, write_cb, c);
  if (!c->reader || !c->rev || !c->wev) {
    freeaddrinfo(ai);
    conn_fail(c, "out of memory creating a connection");
    return;
  }
  int rc = connect(c->fd, ai->ai_addr, ai->ai_addrlen);
  int saved = errno;
  freeaddrinfo(ai);
  if (rc != 0 && saved != EINPROGRESS) {
    snprintf(msg, sizeof msg, "connect to %.90s failed: %.40s", ep->address, strerror(saved));
    conn_fail(c, msg);
    return;
  }
  event_add(c->wev, NULL);
  conn_arm_timer(c, rb_clock_mono_ns() + (uint64_t)c->connect_timeout_ms * 1000000ULL);
}

/* Writes as much of c->out as the socket takes, one writev per round. */
static void conn_try_write(struct bconn *c) {
  char msg[160];
  while (c->out.head) {
    struct iovec iov[BATCH_IOV];
    int n = 0;
    for (struct breq *r = c->out.head; r && n < BATCH_IOV; r = r->next, n++) {
      iov[n].iov_base = r->buf + r->woff;
      iov[n].iov_len = r->len - r->woff;
    }
    ssize_t w = writev(c->fd, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        event_add(c->wev, NULL);
        return;
      }
      snprintf(msg, sizeof msg, "write failed: %s", strerror(errno));
      conn_fail(c, msg);
      return;
    }
    size_t left = (size_t)w;
    while (left > 0 && c->out.head) {
      struct breq *r = c->out.head;
      size_t rest = r->len - r->woff;
      if (left < rest) {
        r->woff += left;
        break;
      }
      left -= rest;
      r->woff = r->len;
      rq_push(&c->wait, rq_pop(&c->out));
    }
  }
}

/* ---- pipelines and coalescing ------------------------------------------------------------ */

/* The arguments of one RESP multibulk command (as redisFormatCommandArgv writes it). Returns
 * argc (at most max are recorded), or -1 when it is not one. */
static int resp_args(const char *buf, size_t len, size_t *off, size_t *alen, int max) {
  size_t i = 0;
  if (len < 4 || buf[0] != '*') return -1;
  long argc = 0;
  for (i = 1; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) argc = argc * 10 + (buf[i] - '0');
  if (i + 1 >= len || buf[i] != '\r') return -1;
  i += 2;
  for (long a = 0; a < argc; a++) {
    if (i >= len || buf[i] != '$') return -1;
    size_t l = 0;
    for (i++; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) l = l * 10 + (size_t)(buf[i] - '0');
    if (i + 2 > len || buf[i] != '\r') return -1;
    i += 2;
    if (i + l + 2 > len) return -1;
    if (a < max) {
      off[a] = i;
      alen[a] = l;
    }
    i += l + 2;
  }
  return argc > 64 ? 64 : (int)argc;
}

struct centry {
  const char *key;
  size_t klen;
  struct breq *get; /* the GET sent for this key in this pipeline, no write of it since */
  struct breq *set; /* the plain SET of this key earlier in this pipeline */
};

struct ctable {
  struct centry *e;
  size_t cap, used;
};

static uint64_t hash_bytes(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
  return h;
}

static struct centry *ctable_find(struct ctable *t, const char *key, size_t klen, bool add) {
  size_t i = (size_t)hash_bytes(key, klen) & (t->cap - 1);
  for (;; i = (i + 1) & (t->cap - 1)) {
    struct centry *e = &t->e[i];
    if (!e->key) {
      if (!add) return NULL;
      e->key = key;
      e->klen = klen;
      t->used++;
      return e;
    }
    if (e->klen == klen && memcmp(e->key, key, klen) == 0) return e;
  }
}

static void attach(struct breq *leader, struct breq *f, bool from_set) {
  f->from_set = from_set;
  f->next = leader->followers;
  leader->followers = f;
}

/* Takes everything pending on c into one pipeline (coalescing what may be) and writes it. */
static void conn_flush(struct action_batch *b, struct bconn *c) {
  struct rq pend = rq_take(&c->pend);
  bool coalesce = c->pend_coalesce > 0;
  c->pend_coalesce = 0;
  c->hold_until_ns = 0;
  evtimer_del(c->hev);
  struct ctable t = {0};
  if (coalesce) {
    t.cap = 16;
    while (t.cap < 2 * pend.n) t.cap *= 2;
    t.e = calloc(t.cap, sizeof *t.e);
    if (!t.e) coalesce = false; /* out of memory: send everything */
  }
  uint64_t seq = ++b->pipeline_seq;
  uint64_t due = rb_clock_mono_ns();
  struct rq batch = {0};
  struct breq *r;
  while ((r = rq_pop(&pend))) {
    r->conn = c->index;
    r->pipeline = seq;
    if (coalesce) {
      size_t off[3], alen[3];
      int argc = resp_args(r->buf, r->len, off, alen, 3);
      bool get = argc == 2 && alen[0] == 3 && strncasecmp(r->buf + off[0], "GET", 3) == 0;
      bool set = argc == 3 && alen[0] == 3 && strncasecmp(r->buf + off[0], "SET", 3) == 0;
      if (get) {
        struct centry *e = ctable_find(&t, r->buf + off[1], alen[1], true);
        if (r->coalesce && e->set) {
          attach(e->set, r, true);
          continue;
        }
        if (r->coalesce && e->get) {
          attach(e->get, r, false);
          continue;
        }
        if (!e->set) e->get = r;
      } else if (set) {
        struct centry *e = ctable_find(&t, r->buf + off[1], alen[1], true);
        e->set = r;
        e->get = NULL;
        r->val_off = off[2];
        r->val_len = alen[2];
      } else if (t.used) { /* its keys are not parsed: it may write any of them */
        memset(t.e, 0, t.cap * sizeof *t.e);
        t.used = 0;
      }
    }
    r->deadline_ns = due + (uint64_t)r->timeout_ms * 1000000ULL;
    rq_push(&batch, r);
  }
  free(t.e);
  for (r = batch.head; r; r = r->next) {
    r->pipeline_ops = (uint32_t)batch.n;
    for (struct breq *f = r->followers; f; f = f->next) {
      f->conn = c->index;
      f->pipeline_ops = (uint32_t)batch.n;
    }
  }
  bool was_idle = !c->out.head && !c->wait.head;
  if (was_idle) c->progress_ns = due; /* nothing was due: the silence counts from now */
  uint64_t min = UINT64_MAX;
  for (r = batch.head; r; r = r->next)
    if (r->deadline_ns < min) min = r->deadline_ns;
  if (batch.n) {
    if (c->out.tail) c->out.tail->next = batch.head;
    else c->out.head = batch.head;
    c->out.tail = batch.tail;
    c->out.n += batch.n;
  }
  if (min != UINT64_MAX && (was_idle || c->tev_at_ns == 0 || min < c->tev_at_ns))
    conn_arm_timer(c, min);
  conn_try_write(c);
}

static void conn_enqueue(struct bconn *c, struct breq *r, bool front) {
  if (front) {
    r->next = c->pend.head;
    c->pend.head = r;
    if (!c->pend.tail) c->pend.tail = r;
    c->pend.n++;
  } else {
    rq_push(&c->pend, r);
  }
  if (r->coalesce) c->pend_coalesce++;
  uint64_t until = r->submit_ns + (uint64_t)r->wait_us * 1000ULL;
  if (c->hold_until_ns == 0 || until < c->hold_until_ns) c->hold_until_ns = until;
}

/* After every pass of the loop: connect what needs it, write what the rule says. */
static void flush_all(struct action_batch *b) {
  uint64_t now = rb_clock_mono_ns();
  for (struct action_batch_ep *ep = b->loop_eps; ep; ep = ep->loop_next) {
    for (int i = 0; i < ep->nconns; i++) {
      struct bconn *c = ep->conns[i];
      if (!c->pend.n) continue;
      if (c->state == BC_CLOSED) conn_start(c);
      if (c->state != BC_READY) continue;
      bool idle = !c->out.head && !c->wait.head; /* nothing of this connection at Redis */
      if (idle || c->pend.n >= ACTION_BATCH_FLUSH_AT ||
          now + BATCH_HOLD_SLACK_NS >= c->hold_until_ns) {
        conn_flush(b, c);
      } else {
        uint64_t d = c->hold_until_ns - now;
        struct timeval tv = {.tv_sec = (time_t)(d / 1000000000ULL),
                             .tv_usec = (suseconds_t)(d % 1000000000ULL / 1000)};
        evtimer_add(c->hev, &tv);
      }
    }
  }
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* The least loaded of ep's first n connections (made as needed); NULL when out of memory. */
static struct bconn *pick_conn(struct action_batch *b, struct action_batch_ep *ep, int n) {
  if (n < 1) n = 1;
  if (n > ACTION_BATCH_CONNS_MAX) n = ACTION_BATCH_CONNS_MAX;
  while (ep->nconns < n) {
    struct bconn *c = conn_new(b, ep, ep->nconns);
    if (!c) break;
    ep->conns[ep->nconns++] = c;
  }
  if (n > ep->nconns) n = ep->nconns;
  struct bconn *best = NULL;
  size_t best_load = SIZE_MAX;
  for (int i = 0; i < n; i++) {
    struct bconn *c = ep->conns[i];
    size_t load = c->pend.n + c->out.n + c->wait.n;
    if (load < best_load) {
      best = c;
      best_load = load;
    }
  }
  return best;
}

static void stop_all(struct action_batch *b, struct rq *inbox) {
  fail_queue(b, inbox, BATCH_STOPPING, false);
  for (struct action_batch_ep *ep = b->loop_eps; ep; ep = ep->loop_next) {
    for (int i = 0; i < ep->nconns; i++) {
      struct bconn *c = ep->conns[i];
      conn_close(c);
      fail_queue(b, &c->out, BATCH_STOPPING, false);
      fail_queue(b, &c->wait, BATCH_STOPPING, false);
      fail_queue(b, &c->pend, BATCH_STOPPING, false);
    }
  }
  b->stopped = true;
}

static void inbox_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct action_batch *b = arg;
  uint64_t v;
  ssize_t n = read(fd, &v, sizeof v);
  (void)n;
  pthread_mutex_lock(&b->lock);
  struct rq in = rq_take(&b->inbox);
  b->notified = false;
  bool stopping = b->stopping;
  pthread_mutex_unlock(&b->lock);
  if (stopping) {
    stop_all(b, &in);
    return;
  }
  struct breq *r;
  while ((r = rq_pop(&in))) {
    struct action_batch_ep *ep = r->ep;
    if (!ep->in_loop) { /* b->eps is the submitters' (under the lock); this list is ours */
      ep->in_loop = true;
      ep->loop_next = b->loop_eps;
      b->loop_eps = ep;
    }
    struct bconn *c = pick_conn(b, ep, r->conns);
    if (!c) complete(b, r, NULL, "out of memory creating a connection", true);
    else conn_enqueue(c, r, false);
  }
}

static void *loop_thread(void *arg) {
  struct action_batch *b = arg;
  while (!b->stopped) {
    if (event_base_loop(b->base, EVLOOP_ONCE) < 0) {
      rb_error("batcher: the event loop failed");
      break;
    }
    if (!b->stopped) flush_all(b);
  }
  if (!b->stopped) { /* the loop failed: answer everything rather than hang */
    pthread_mutex_lock(&b->lock);
    struct rq in = rq_take(&b->inbox);
    b->start_failed = true;
    pthread_mutex_unlock(&b->lock);
    stop_all(b, &in);
  }
  return NULL;
}

/* Under b->lock. */
static bool start_locked(struct action_batch *b) {
  if (b->started) return !b->start_failed;
  b->started = true;
  /* precise timers (timerfd): a hold of batch_wait_us is micro-, not milliseconds */
  struct event_config *cfg = event_config_new();
  if (cfg) event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
  b->base = cfg ? event_base_new_with_config(cfg) : NULL;
  if (cfg) event_config_free(cfg);
  b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (b->base && b->efd >= 0)
    b->inbox_ev = event_new(b->base, b->efd, EV_READ | EV_PERSIST, inbox_cb, b);
  if (!b->inbox_ev || event_add(b->inbox_ev, NULL) != 0 ||
      pthread_create(&b->thread, NULL, loop_thread, b) != 0) {
    rb_error("batcher: cannot start its thread: %s", strerror(errno));
    b->start_failed = true;
    return false;
  }
  b->thread_running = true;
  return true;
}

struct action_batch *action_batch_create(void) {
  struct action_batch *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  pthread_mutex_init(&b->lock, NULL);
  b->efd = -1;
  return b;
}

void action_batch_destroy(struct action_batch *b) {
  if (!b) return;
  pthread_mutex_lock(&b->lock);
  bool running = b->thread_running;
  b->stopping = true;
  pthread_mutex_unlock(&b->lock);
  if (running) { /* the loop answers everything left ("the action is stopping") and ends */
    uint64_t one = 1;
    ssize_t w = write(b->efd, &one, sizeof one);
    (void)w;
    pthread_join(b->thread, NULL);
  }
  while (b->eps) {
    struct action_batch_ep *ep = b->eps;
    b->eps = ep->next;
    for (int i = 0; i < ep->nconns; i++) conn_destroy(ep->conns[i]);
    explicit_bzero(ep->password, sizeof ep->password);
    free(ep);
  }
  if (b->inbox_ev) event_free(b->inbox_ev);
  if (b->base) event_base_free(b->base);
  if (b->efd >= 0) close(b->efd);
  pthread_mutex_destroy(&b->lock);
  free(b);
}

struct action_batch_ep *action_batch_endpoint(struct action_batch *b, const char *host, int port,
                                              const char *password) {
  pthread_mutex_lock(&b->lock);
  struct action_batch_ep *ep = b->eps;
  for (; ep; ep = ep->next)
    if (ep->port == port && strcmp(ep->host, host) == 0 && strcmp(ep->password, password) == 0)
      break;
  if (!ep) {
    ep = calloc(1, sizeof *ep);
    if (ep) {
      snprintf(ep->host, sizeof ep->host, "%s", host);
      ep->port = port;
      snprintf(ep->password, sizeof ep->password, "%s", password);
      if (strchr(host, ':')) snprintf(ep->address, sizeof ep->address, "[%s]:%d", host, port);
      else snprintf(ep->address, sizeof ep->address, "%s:%d", host, port);
      ep->next = b->eps;
      b->eps = ep;
    }
  }
  pthread_mutex_unlock(&b->lock);
  return ep;
}

bool action_batch_submit(struct action_batch *b, struct action_batch_ep *ep,
                         struct action_batch_cmd *cmd, action_batch_cb cb, void *arg) {
  struct breq *r = calloc(1, sizeof *r);
  if (!r) {
    redisFreeCommand(cmd->buf);
    cmd->buf = NULL;
    return false;
  }
  r->ep = ep;
  r->buf = cmd->buf;
  r->len = cmd->len;
  r->conns = cmd->conns;
  r->wait_us = cmd->wait_us;
  r->timeout_ms = cmd->timeout_ms ? cmd->timeout_ms : 1;
  r->coalesce = cmd->coalesce;
  r->cb = cb;
  r->arg = arg;
  r->conn = -1;
  cmd->buf = NULL;
  r->submit_ns = rb_clock_mono_ns();
  pthread_mutex_lock(&b->lock);
  bool ok = !b->stopping && start_locked(b);
  bool wake = false;
  if (ok) {
    rq_push(&b->inbox, r);
    wake = !b->notified;
    b->notified = true;
  }
  pthread_mutex_unlock(&b->lock);
  if (!ok) {
    req_free(r);
    return false;
  }
  if (wake) {
    uint64_t one = 1;
    ssize_t w = write(b->efd, &one, sizeof one);
    (void)w;
  }
  return true;
}

void action_batch_ep_stats(struct action_batch *b, struct action_batch_ep *ep,
                           struct action_batch_ep_stats *out) {
  pthread_mutex_lock(&b->lock);
  out->ready = ep->ready;
  out->made = ep->made;
  out->failed = ep->failed;
  pthread_mutex_unlock(&b->lock);
}
