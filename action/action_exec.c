/* action_exec.c: the Redis work of an activation over pooled, persistent connections.
 *
 * One libevent loop per session; each connection keeps exactly one request in flight (as
 * the seed's goroutines each did one call at a time), which is the load a batching agent
 * is meant to gather. Commands are encoded with hiredis's formatter and replies decoded
 * with its incremental reader, the same code path for Redis and for the agent.
 *
 * Phase 1 (connect):  reused connections are checked with a non-blocking peek; the others
 *                     connect (and AUTH) concurrently; connect_us measures this phase.
 * Phase 2 (operate):  every ready connection takes op next_op++ until all are done; a
 *                     failed connection is closed (re-made by the next activation) and
 *                     its in-flight op fails; when none is left, the remaining ops fail.
 * Both phases stop at the activation deadline. */
#define _GNU_SOURCE
#include "action_exec.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rb_clock.h"
#include "rb_log.h"
#include "rb_stats.h"

#define EXEC_IDLE_SESSIONS_MAX 64
#define EXEC_READ_CHUNK 16384
#define EXEC_DEADLINE_MARGIN_MS 100

enum conn_state { CONN_CLOSED, CONN_CONNECTING, CONN_AUTHING, CONN_READY };

struct exec_session;

struct exec_conn {
  struct exec_session *sess;
  int index; /* position in the session; only the first parallel_calls take part */
  int fd;
  enum conn_state state;
  struct event *rev; /* persistent read readiness */
  struct event *wev; /* connect completion or a write that would have blocked */
  struct event *tev; /* deadline of the connect, AUTH or request in flight */
  redisReader *reader;
  char *wbuf; /* owned by hiredis's formatter (redisFreeCommand) */
  size_t wlen, woff;
  bool in_flight;
  uint64_t op;
  uint64_t sent_ns;
};

struct exec_activation {
  const struct action_params *p;
  struct action_result *r;
  uint64_t num_ops;
  uint64_t next_op;  /* next op index to start */
  uint64_t finished; /* ops succeeded or failed */
  uint64_t *lat;     /* latencies (ns) of succeeded ops */
  size_t nlat;
  char *value; /* scratch for SET values */
  const struct timeval *op_timeout;
  int pending;    /* connections still connecting in phase 1 */
  int live;       /* ready connections in phase 2 */
  bool operating; /* phase 2 */
  bool stopping;  /* the deadline came */
  uint64_t last_done_ns;
  char last_conn_error[ACTION_ERROR_MSG_MAX];
};

struct exec_session {
  char host[ACTION_HOST_MAX];
  int port;
  char password[ACTION_SECRET_MAX];
  struct event_base *base;
  struct exec_conn **conns;
  int nconns;
  struct exec_activation *act;
  struct exec_session *next;
  char rbuf[EXEC_READ_CHUNK]; /* not on the stack: HTTP worker threads have small stacks */
};

struct action_exec {
  pthread_mutex_t lock;
  struct exec_session *idle;
  int nidle;
};

static void conn_next_op(struct exec_conn *c);
static void conn_fail(struct exec_conn *c, const char *msg);

void action_exec_fill_value(char *buf, long long value_size, uint64_t key_index) {
  for (long long j = 0; j < value_size; j++)
    buf[j] = (char)('a' + (int)((key_index + (uint64_t)j) % 26));
}

/* ---- sessions and the pool ------------------------------------------------------------ */

static void conn_close(struct exec_conn *c) {
  if (c->rev) event_free(c->rev);
  if (c->wev) event_free(c->wev);
  c->rev = c->wev = NULL;
  if (c->tev) evtimer_del(c->tev);
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (c->reader) redisReaderFree(c->reader);
  c->reader = NULL;
  if (c->wbuf) redisFreeCommand(c->wbuf);
  c->wbuf = NULL;
  c->wlen = c->woff = 0;
  c->in_flight = false;
  c->state = CONN_CLOSED;
}

static void session_destroy(struct exec_session *s) {
  if (!s) return;
  for (int i = 0; i < s->nconns; i++) {
    conn_close(s->conns[i]);
    if (s->conns[i]->tev) event_free(s->conns[i]->tev);
    free(s->conns[i]);
  }
  free(s->conns);
  if (s->base) event_base_free(s->base);
  explicit_bzero(s->password, sizeof s->password);
  free(s);
}

static struct exec_session *session_create(const char *host, int port, const char *password) {
  struct exec_session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  snprintf(s->host, sizeof s->host, "%s", host);
  s->port = port;
  snprintf(s->password, sizeof s->password, "%s", password);
  s->base = event_base_new();
  if (!s->base) {
    free(s);
    return NULL;
  }
  return s;
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg);

static bool session_grow(struct exec_session *s, int n) {
  if (n <= s->nconns) return true;
  struct exec_conn **conns = realloc(s->conns, (size_t)n * sizeof *conns);
  if (!conns) return false;
  s->conns = conns;
  while (s->nconns < n) {
    struct exec_conn *c = calloc(1, sizeof *c);
    if (!c) return false;
    c->sess = s;
    c->index = s->nconns;
    c->fd = -1;
    c->tev = evtimer_new(s->base, timeout_cb, c);
    if (!c->tev) {
      free(c);
      return false;
    }
    s->conns[s->nconns++] = c;
  }
  return true;
}

struct action_exec *action_exec_create(void) {
  struct action_exec *ex = calloc(1, sizeof *ex);
  if (!ex) return NULL;
  pthread_mutex_init(&ex->lock, NULL);
  return ex;
}

void action_exec_destroy(struct action_exec *ex) {
  if (!ex) return;
  while (ex->idle) {
    struct exec_session *s = ex->idle;
    ex->idle = s->next;
    session_destroy(s);
  }
  pthread_mutex_destroy(&ex->lock);
  free(ex);
}

static struct exec_session *pool_checkout(struct action_exec *ex, const char *host, int port,
                                          const char *password) {
  pthread_mutex_lock(&ex->lock);
  struct exec_session **pp = &ex->idle;
  struct exec_session *found = NULL;
  for (; *pp; pp = &(*pp)->next) {
    struct exec_session *s = *pp;
    if (s->port == port && strcmp(s->host, host) == 0 && strcmp(s->password, password) == 0) {
      *pp = s->next;
      ex->nidle--;
      found = s;
      break;
    }
  }
  pthread_mutex_unlock(&ex->lock);
  if (found) {
    found->next = NULL;
    return found;
  }
  return session_create(host, port, password);
}

static void pool_checkin(struct action_exec *ex, struct exec_session *s) {
  s->act = NULL;
  pthread_mutex_lock(&ex->lock);
  if (ex->nidle < EXEC_IDLE_SESSIONS_MAX) {
    s->next = ex->idle;
    ex->idle = s;
    ex->nidle++;
    s = NULL;
  }
  pthread_mutex_unlock(&ex->lock);
  session_destroy(s);
}

/* ---- connection I/O ------------------------------------------------------------------- */

static void check_phase_done(struct exec_activation *a, struct event_base *base) {
  if (!a->operating && a->pending == 0) event_base_loopbreak(base);
  if (a->operating && a->finished >= a->num_ops) event_base_loopbreak(base);
}

static void fail_ops(struct exec_activation *a, uint64_t n, const char *msg) {
  if (n == 0) return;
  action_result_add_error(a->r, msg, n);
  a->finished += n;
}

/* Writes what is left of wbuf; waits for writability if the socket is full. */
static void conn_flush(struct exec_conn *c) {
  while (c->woff < c->wlen) {
    ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
    if (n > 0) {
      c->woff += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      event_add(c->wev, NULL);
      return;
    } else {
      char msg[ACTION_ERROR_MSG_MAX];
      snprintf(msg, sizeof msg, "write failed: %s", strerror(errno));
      conn_fail(c, msg);
      return;
    }
  }
  redisFreeCommand(c->wbuf);
  c->wbuf = NULL;
  c->wlen = c->woff = 0;
}

static void conn_send(struct exec_conn *c, int argc, const char **argv, const size_t *argvlen) {
  char *cmd = NULL;
  int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
  if (len < 0) {
    conn_fail(c, "out of memory formatting a command");
    return;
  }
  c->wbuf = cmd;
  c->wlen = (size_t)len;
  c->woff = 0;
  event_add(c->tev, c->sess->act->op_timeout);
  conn_flush(c);
}

/* Closes c after an error and settles what depended on it. */
static void conn_fail(struct exec_conn *c, const char *msg) {
  struct exec_activation *a = c->sess->act;
  enum conn_state was = c->state;
  bool had_op = c->in_flight;
  conn_close(c);
  if (!a || c->index >= a->p->parallel_calls) return;
  if (was == CONN_CONNECTING || was == CONN_AUTHING) {
    snprintf(a->last_conn_error, sizeof a->last_conn_error, "%s", msg);
    a->r->conn_failures++;
    if (!a->operating) a->pending--;
  } else if (a->operating && was == CONN_READY) {
    a->live--;
    if (had_op) fail_ops(a, 1, msg);
    snprintf(a->last_conn_error, sizeof a->last_conn_error, "%s", msg);
    if (a->live == 0) {
      fail_ops(a, a->num_ops - a->next_op, msg);
      a->next_op = a->num_ops;
    }
  }
  check_phase_done(a, c->sess->base);
}

static void conn_ready(struct exec_conn *c) {
  struct exec_activation *a = c->sess->act;
  c->state = CONN_READY;
  evtimer_del(c->tev);
  a->r->conns_new++;
  a->pending--;
  check_phase_done(a, c->sess->base);
}

static void complete_op(struct exec_conn *c, const redisReply *reply) {
  struct exec_activation *a = c->sess->act;
  uint64_t now = rb_clock_mono_ns();
  enum action_op op = a->p->op;
  bool ok = false;
  c->in_flight = false;
  if (reply->type == REDIS_REPLY_ERROR) {
    fail_ops(a, 1, reply->str);
  } else if (op == ACTION_OP_SET && reply->type == REDIS_REPLY_STATUS) {
    ok = true;
  } else if (op == ACTION_OP_GET &&
             (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_NIL)) {
    ok = true;
    if (reply->type == REDIS_REPLY_STRING) a->r->found++;
  } else if ((op == ACTION_OP_DEL || op == ACTION_OP_EXISTS) &&
             reply->type == REDIS_REPLY_INTEGER) {
    ok = true;
    a->r->found += reply->integer > 0 ? (uint64_t)reply->integer : 0;
  } else {
    char msg[96];
    snprintf(msg, sizeof msg, "unexpected reply type %d to %s", reply->type, action_op_name(op));
    fail_ops(a, 1, msg);
  }
  if (ok) {
    a->r->succeeded++;
    a->finished++;
    if (a->lat) a->lat[a->nlat++] = now - c->sent_ns;
  }
  a->last_done_ns = now;
  if (a->finished >= a->num_ops) {
    evtimer_del(c->tev);
    check_phase_done(a, c->sess->base);
    return;
  }
  conn_next_op(c);
}

static void handle_reply(struct exec_conn *c, redisReply *reply) {
  char msg[ACTION_ERROR_MSG_MAX];
  if (c->state == CONN_AUTHING) {
    if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "OK") == 0) {
      conn_ready(c);
      return;
    }
    snprintf(msg, sizeof msg, "AUTH failed: %s",
             reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    conn_fail(c, msg);
  } else if (c->state == CONN_READY && c->in_flight) {
    complete_op(c, reply);
  } else {
    conn_fail(c, "protocol error: reply with no request in flight");
  }
}

static void read_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct exec_conn *c = arg;
  char *buf = c->sess->rbuf;
  char msg[ACTION_ERROR_MSG_MAX];
  ssize_t n = recv(fd, buf, sizeof c->sess->rbuf, 0);
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
  if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
    conn_fail(c, "out of memory reading a reply");
    return;
  }
  while (c->state != CONN_CLOSED) {
    void *reply = NULL;
    if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
      snprintf(msg, sizeof msg, "protocol error: %s", c->reader->errstr);
      conn_fail(c, msg);
      return;
    }
    if (!reply) return;
    handle_reply(c, reply);
    freeReplyObject(reply);
  }
}

static void start_auth_or_ready(struct exec_conn *c) {
  if (c->sess->password[0] == '\0') {
    conn_ready(c);
    return;
  }
  const char *argv[2] = {"AUTH", c->sess->password};
  size_t argvlen[2] = {4, strlen(c->sess->password)};
  c->state = CONN_AUTHING;
  conn_send(c, 2, argv, argvlen);
}

static void write_cb(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct exec_conn *c = arg;
  if (c->state == CONN_CONNECTING) {
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
    if (soerr != 0) {
      char msg[ACTION_ERROR_MSG_MAX];
      snprintf(msg, sizeof msg, "connect to %.90s failed: %.40s", c->sess->act->r->target_address,
               strerror(soerr));
      conn_fail(c, msg);
      return;
    }
    event_add(c->rev, NULL);
    start_auth_or_ready(c);
    return;
  }
  if (c->wbuf) conn_flush(c);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct exec_conn *c = arg;
  const struct action_params *p = c->sess->act->p;
  char msg[ACTION_ERROR_MSG_MAX];
  const char *stage = c->state == CONN_CONNECTING ? "connecting"
                      : c->state == CONN_AUTHING  ? "waiting for the AUTH reply"
                                                  : "waiting for the reply";
  snprintf(msg, sizeof msg, "timed out after %lld ms %s", p->timeout_ms, stage);
  conn_fail(c, msg);
}

/* Starts a non-blocking connect to ai. Returns false (with msg) if it failed at once. */
static bool conn_connect(struct exec_conn *c, const struct addrinfo *ai, char *msg, size_t len) {
  struct exec_session *s = c->sess;
  c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (c->fd < 0) {
    snprintf(msg, len, "socket failed: %s", strerror(errno));
    return false;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->reader = redisReaderCreate();
  c->rev = event_new(s->base, c->fd, EV_READ | EV_PERSIST, read_cb, c);
  c->wev = event_new(s->base, c->fd, EV_WRITE, write_cb, c);
  if (!c->reader || !c->rev || !c->wev) {
    conn_close(c);
    snprintf(msg, len, "out of memory creating a connection");
    return false;
  }
  c->state = CONN_CONNECTING;
  if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
    snprintf(msg, len, "connect to %.90s failed: %.40s", s->act->r->target_address,
             strerror(errno));
    conn_close(c);
    return false;
  }
  event_add(c->wev, NULL);
  event_add(c->tev, s->act->op_timeout);
  return true;
}

/* A pooled connection is usable if the server has not closed it and nothing is unread. */
static bool conn_alive(const struct exec_conn *c) {
  char b;
  ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void conn_next_op(struct exec_conn *c) {
  struct exec_activation *a = c->sess->act;
  if (a->stopping || a->next_op >= a->num_ops) {
    evtimer_del(c->tev);
    return;
  }
  const struct action_params *p = a->p;
  uint64_t i = a->next_op++;
  uint64_t k = i % (uint64_t)p->key_space;
  char key[ACTION_KEY_PREFIX_MAX + 32];
  int klen = snprintf(key, sizeof key, "%s:%llu", p->key_prefix, (unsigned long long)k);
  static const char *const cmds[] = {"SET", "GET", "DEL", "EXISTS"};
  const char *argv[3] = {cmds[p->op], key, a->value};
  size_t argvlen[3] = {strlen(cmds[p->op]), (size_t)klen, (size_t)p->value_size};
  int argc = 2;
  if (p->op == ACTION_OP_SET) {
    action_exec_fill_value(a->value, p->value_size, k);
    argc = 3;
  }
  c->op = i;
  c->in_flight = true;
  c->sent_ns = rb_clock_mono_ns();
  conn_send(c, argc, argv, argvlen);
}

/* ---- an activation -------------------------------------------------------------------- */

static void deadline_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct exec_session *s = arg;
  struct exec_activation *a = s->act;
  const char *msg = "activation deadline reached";
  a->stopping = true;
  a->r->deadline_reached = true;
  for (int i = 0; i < a->p->parallel_calls; i++) {
    struct exec_conn *c = s->conns[i];
    if (c->state == CONN_CONNECTING || c->state == CONN_AUTHING || c->in_flight) conn_fail(c, msg);
  }
  fail_ops(a, a->num_ops - a->next_op, msg);
  a->next_op = a->num_ops;
  event_base_loopbreak(s->base);
}

static void format_address(char *out, size_t len, const char *host, int port) {
  if (strchr(host, ':')) snprintf(out, len, "[%s]:%d", host, port);
  else snprintf(out, len, "%s:%d", host, port);
}

/* Phase 1: reuse live connections, connect the rest. Returns the number ready. */
static int connect_phase(struct exec_session *s, struct exec_activation *a) {
  int n = (int)a->p->parallel_calls;
  struct addrinfo *ai = NULL;
  bool resolved = false;
  char msg[ACTION_ERROR_MSG_MAX];
  uint64_t t0 = rb_clock_mono_ns();
  for (int i = n; i < s->nconns; i++) {
    if (s->conns[i]->rev) event_del(s->conns[i]->rev); /* idle this time */
  }
  for (int i = 0; i < n && !a->stopping; i++) {
    struct exec_conn *c = s->conns[i];
    if (c->state == CONN_READY && conn_alive(c)) {
      event_add(c->rev, NULL);
      a->r->conns_reused++;
      continue;
    }
    conn_close(c);
    if (!resolved) {
      resolved = true;
      char port[16];
      snprintf(port, sizeof port, "%d", s->port);
      struct addrinfo hints = {
          .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
      int gai = getaddrinfo(s->host, port, &hints, &ai);
      if (gai != 0) {
        snprintf(a->last_conn_error, sizeof a->last_conn_error, "cannot resolve %.80s: %.50s",
                 s->host, gai_strerror(gai));
        ai = NULL;
      }
    }
    if (!ai) {
      a->r->conn_failures++;
      continue;
    }
    if (conn_connect(c, ai, msg, sizeof msg)) {
      a->pending++;
    } else {
      snprintf(a->last_conn_error, sizeof a->last_conn_error, "%s", msg);
      a->r->conn_failures++;
    }
  }
  if (ai) freeaddrinfo(ai);
  if (a->pending > 0) event_base_dispatch(s->base);
  a->r->connect_us = (rb_clock_mono_ns() - t0) / 1000;
  int ready = 0;
  for (int i = 0; i < n; i++) ready += s->conns[i]->state == CONN_READY;
  return ready;
}

static void operate_phase(struct exec_session *s, struct exec_activation *a, int ready) {
  int n = (int)a->p->parallel_calls;
  a->operating = true;
  a->live = ready;
  uint64_t t0 = rb_clock_mono_ns();
  a->last_done_ns = t0;
  for (int i = 0; i < n && a->next_op < a->num_ops; i++) {
    if (s->conns[i]->state == CONN_READY) conn_next_op(s->conns[i]);
  }
  if (a->finished < a->num_ops) event_base_dispatch(s->base);
  if (a->finished < a->num_ops) /* cannot happen; never lose ops silently */
    fail_ops(a, a->num_ops - a->finished, "internal error: event loop ended early");
  a->r->elapsed_us = (a->last_done_ns - t0) / 1000;
}

static int64_t remaining_ms(int64_t deadline_ms) {
  if (deadline_ms <= 0) return -1;
  int64_t left = deadline_ms - rb_clock_wall_ms();
  int64_t margin = left < 4 * EXEC_DEADLINE_MARGIN_MS ? left / 4 : EXEC_DEADLINE_MARGIN_MS;
  return left - margin;
}

static void run_activation(struct exec_session *s, struct exec_activation *a, int64_t deadline_ms) {
  struct action_result *r = a->r;
  struct event *dl = NULL;
  int64_t left = remaining_ms(deadline_ms);
  if (deadline_ms > 0 && left <= 0) {
    r->deadline_reached = true;
    fail_ops(a, a->num_ops, "activation deadline already passed");
    return;
  }
  if (left > 0) {
    struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
    dl = evtimer_new(s->base, deadline_cb, s);
    if (dl) evtimer_add(dl, &tv);
  }
  int ready = connect_phase(s, a);
  if (!a->stopping) {
    if (ready == 0) {
      fail_ops(a, a->num_ops, a->last_conn_error[0] ? a->last_conn_error : "no connection");
      a->next_op = a->num_ops;
    } else {
      operate_phase(s, a, ready);
    }
  }
  if (dl) event_free(dl);
}

void action_exec_run(void *exv, const struct action_params *p, int64_t deadline_ms,
                     struct action_result *r) {
  struct action_exec *ex = exv;
  const char *host, *password;
  int port;
  action_params_endpoint(p, &host, &port, &password);
  format_address(r->target_address, sizeof r->target_address, host, port);
  struct exec_activation a = {.p = p, .r = r, .num_ops = (uint64_t)p->num_ops};
  struct exec_session *s = pool_checkout(ex, host, port, password);
  a.lat = malloc((size_t)p->num_ops * sizeof *a.lat);
  a.value = malloc((size_t)p->value_size + 1);
  if (!s || !a.lat || !a.value || !session_grow(s, (int)p->parallel_calls)) {
    fail_ops(&a, a.num_ops, "out of memory");
  } else {
    struct timeval tv = {.tv_sec = p->timeout_ms / 1000, .tv_usec = (p->timeout_ms % 1000) * 1000};
    a.op_timeout = event_base_init_common_timeout(s->base, &tv);
    if (!a.op_timeout) a.op_timeout = &tv;
    s->act = &a;
    run_activation(s, &a, deadline_ms);
  }
  rb_summary_compute(a.lat, a.nlat, &r->latency_ns);
  free(a.lat);
  free(a.value);
  if (s) pool_checkin(ex, s);
}
