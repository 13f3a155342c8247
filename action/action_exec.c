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
#include <time.h>
#include <unistd.h>

#include "action_batch.h"
#include "action_prepare.h"
#include "rb_clock.h"
#include "rb_log.h"
#include "rb_rng.h"
#include "rb_stats.h"
#include "rb_workload.h"

#define EXEC_IDLE_SESSIONS_MAX 64
#define EXEC_READ_CHUNK 16384
#define EXEC_DEADLINE_MARGIN_MS 100
#define EXEC_KEY_MAX (ACTION_KEY_PREFIX_MAX + 32)
#define EXEC_ARGS_MAX (2 * RB_KEYS_PER_COMMAND_MAX + 1)

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
  enum rb_op op_type; /* the in-flight operation's command */
  int nkeys;          /* its keys (mget: the elements its reply must have) */
  uint64_t sent_ns;
};

/* A command's arguments while it is formatted (on the heap: small worker stacks). */
struct exec_scratch {
  char key[RB_KEYS_PER_COMMAND_MAX][EXEC_KEY_MAX];
  char arg[3][32];
  const char *argv[EXEC_ARGS_MAX];
  size_t argvlen[EXEC_ARGS_MAX];
};

struct exec_activation {
  const struct action_params *p;
  struct action_result *r;
  uint64_t num_ops;
  uint64_t next_op;  /* next op index to start */
  uint64_t finished; /* ops succeeded or failed */
  uint64_t *lat;     /* latencies (ns) of succeeded ops */
  uint8_t *lat_op;   /* the operation type of each latency */
  size_t nlat;
  char *value; /* the values of every key: key N's value of size z is value + N % 26, z bytes */
  struct exec_scratch *scratch;
  int single_op; /* the mix's one operation, or -1 for a mix of several */
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
  struct action_batch *batch; /* placement runtime: the process's batcher (no thread until used) */
};

static void conn_next_op(struct exec_conn *c);
static void conn_fail(struct exec_conn *c, const char *msg);

void action_exec_fill_value(char *buf, long long value_size, uint64_t key_index) {
  rb_workload_fill_value(buf, (size_t)value_size, key_index);
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
  ex->batch = action_batch_create();
  if (!ex->batch) {
    free(ex);
    return NULL;
  }
  pthread_mutex_init(&ex->lock, NULL);
  return ex;
}

void action_exec_destroy(struct action_exec *ex) {
  if (!ex) return;
  action_batch_destroy(ex->batch);
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

/* n failed operations that cannot be told apart (cannot happen: see operate_phase). */
static void fail_ops(struct exec_activation *a, uint64_t n, const char *msg) {
  if (n == 0) return;
  action_result_add_error(a->r, msg, n);
  a->finished += n;
}

static void fail_one(struct exec_activation *a, enum rb_op op, const char *msg) {
  action_result_add_op_error(a->r, op, msg, 1);
  a->finished++;
}

enum rb_op action_exec_op_type(const struct rb_workload *w, uint64_t k, uint64_t j) {
  /* rb_workload_draw's first choice, without its keys and sizes (test_action_result checks
   * that the two agree) */
  struct rb_rng r;
  rb_rng_init(&r, w->seed, RB_RNG_OPS, k, j);
  uint64_t x = rb_rng_below(&r, w->weight_total);
  for (int i = 0; i < RB_OP_COUNT; i++) {
    if (x < w->weight[i]) return (enum rb_op)i;
    x -= w->weight[i];
  }
  return RB_OP_SET;
}

/* Fails every operation not started yet, each counted against its drawn type (only the type
 * is drawn: cheap enough at the deadline). */
static void fail_rest(struct exec_activation *a, const char *msg) {
  uint64_t n = a->num_ops - a->next_op;
  if (n == 0) return;
  if (a->single_op >= 0) {
    action_result_add_op_error(a->r, (enum rb_op)a->single_op, msg, n);
  } else {
    uint64_t count[RB_OP_COUNT] = {0};
    for (uint64_t j = a->next_op; j < a->num_ops; j++)
      count[action_exec_op_type(&a->p->w, (uint64_t)a->p->invocation, j)]++;
    for (int t = 0; t < RB_OP_COUNT; t++)
      if (count[t]) action_result_add_op_error(a->r, (enum rb_op)t, msg, count[t]);
  }
  a->finished += n;
  a->next_op = a->num_ops;
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
    if (had_op) fail_one(a, c->op_type, msg);
    snprintf(a->last_conn_error, sizeof a->last_conn_error, "%s", msg);
    if (a->live == 0) fail_rest(a, msg);
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

static const char *reply_type_name(int type) {
  switch (type) {
    case REDIS_REPLY_STRING: return "a string";
    case REDIS_REPLY_ARRAY: return "an array";
    case REDIS_REPLY_INTEGER: return "an integer";
    case REDIS_REPLY_NIL: return "a nil";
    case REDIS_REPLY_STATUS: return "a status";
    case REDIS_REPLY_ERROR: return "an error";
    default: return "an unknown";
  }
}

/* Checks reply against what op's command answers. Returns NULL and adds to *found when it is
 * right, else what was expected. */
static const char *check_reply(enum rb_op op, int nkeys, const redisReply *reply, uint64_t *found) {
  int t = reply->type;
  switch (op) {
    case RB_OP_SET:
    case RB_OP_MSET: return t == REDIS_REPLY_STATUS ? NULL : "a status";
    case RB_OP_GET:
    case RB_OP_HGET:
      if (t == REDIS_REPLY_STRING) (*found)++;
      return t == REDIS_REPLY_STRING || t == REDIS_REPLY_NIL ? NULL : "a string or nil";
    case RB_OP_DEL:
    case RB_OP_EXISTS:
      if (t != REDIS_REPLY_INTEGER) return "an integer";
      *found += reply->integer > 0 ? (uint64_t)reply->integer : 0;
      return NULL;
    case RB_OP_INCR:
    case RB_OP_HSET:
    case RB_OP_LPUSH:
    case RB_OP_SADD:
    case RB_OP_ZADD:
    case RB_OP_EVAL: return t == REDIS_REPLY_INTEGER ? NULL : "an integer";
    case RB_OP_MGET:
      if (t != REDIS_REPLY_ARRAY || reply->elements != (size_t)nkeys)
        return "an array of one string or nil per key";
      for (size_t i = 0; i < reply->elements; i++) {
        int et = reply->element[i]->type;
        if (et != REDIS_REPLY_STRING && et != REDIS_REPLY_NIL)
          return "an array of one string or nil per key";
        *found += et == REDIS_REPLY_STRING;
      }
      return NULL;
    case RB_OP_HGETALL:
      if (t != REDIS_REPLY_ARRAY || reply->elements % 2) return "an array of field, value pairs";
      *found += reply->elements / 2;
      return NULL;
    case RB_OP_LRANGE:
    case RB_OP_SMEMBERS:
    case RB_OP_ZRANGEBYSCORE:
      if (t != REDIS_REPLY_ARRAY) return "an array";
      *found += reply->elements;
      return NULL;
    default: return "nothing (unknown operation)";
  }
}

/* Settles one operation by its reply (an error reply, a reply of the wrong shape, or a success
 * with its latency), on either path: direct (complete_op) and runtime (the batcher's callback). */
static void settle_reply(struct exec_activation *a, enum rb_op op, int nkeys,
                         const redisReply *reply, uint64_t latency_ns) {
  if (reply->type == REDIS_REPLY_ERROR) {
    fail_one(a, op, reply->str);
    return;
  }
  uint64_t found = 0;
  const char *want = check_reply(op, nkeys, reply, &found);
  if (want) {
    char msg[ACTION_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "unexpected reply to %s: %s (expected %s)", rb_op_name(op),
             reply_type_name(reply->type), want);
    fail_one(a, op, msg);
    return;
  }
  a->r->succeeded++;
  a->r->found += found;
  a->r->ops[op].succeeded++;
  a->r->ops[op].found += found;
  a->finished++;
  if (a->lat) {
    a->lat_op[a->nlat] = (uint8_t)op;
    a->lat[a->nlat++] = latency_ns;
  }
}

static void complete_op(struct exec_conn *c, const redisReply *reply) {
  struct exec_activation *a = c->sess->act;
  uint64_t now = rb_clock_mono_ns();
  c->in_flight = false;
  settle_reply(a, c->op_type, c->nkeys, reply, now - c->sent_ns);
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

/* Formats the key of number n in namespace ns: PREFIX:N, PREFIX:h:N, ... */
static size_t format_key(char *out, const char *prefix, enum rb_ns ns, uint64_t n) {
  int len = snprintf(out, EXEC_KEY_MAX, "%s:%s%llu", prefix, rb_ns_tag(ns), (unsigned long long)n);
  return len < 0 ? 0 : (size_t)len;
}

/* The arguments of draw d's command in a->scratch. Returns argc. */
static int build_command(struct exec_activation *a, const struct rb_op_draw *d) {
  struct exec_scratch *x = a->scratch;
  const struct action_params *p = a->p;
  const char **argv = x->argv;
  size_t *len = x->argvlen;
  int n = 0;
#define ARG(str, l) (argv[n] = (str), len[n] = (l), n++)
#define LIT(str) ARG(str, sizeof(str) - 1)
#define NUM(i, fmt, v) \
  ARG(x->arg[i], (size_t)snprintf(x->arg[i], sizeof x->arg[i], fmt, (unsigned long long)(v)))
  static const char *const cmds[RB_OP_COUNT] = {
      "SET",     "GET",   "DEL",    "EXISTS", "INCR",     "MGET", "MSET",          "HSET", "HGET",
      "HGETALL", "LPUSH", "LRANGE", "SADD",   "SMEMBERS", "ZADD", "ZRANGEBYSCORE", "EVAL"};
  enum rb_ns ns = rb_op_ns(d->op);
  for (int i = 0; i < d->nkeys; i++) format_key(x->key[i], p->key_prefix, ns, d->key[i]);
  const char *key = x->key[0];
  size_t klen = strlen(key);
  const char *value = a->value + d->key[0] % 26;
  ARG(cmds[d->op], strlen(cmds[d->op]));
  switch (d->op) {
    case RB_OP_SET:
      ARG(key, klen);
      ARG(value, d->value_size);
      break;
    case RB_OP_MGET:
      for (int i = 0; i < d->nkeys; i++) ARG(x->key[i], strlen(x->key[i]));
      break;
    case RB_OP_MSET:
      for (int i = 0; i < d->nkeys; i++) {
        ARG(x->key[i], strlen(x->key[i]));
        ARG(a->value + d->key[i] % 26, d->value_size);
      }
      break;
    case RB_OP_HSET:
      ARG(key, klen);
      NUM(0, "f%llu", d->member);
      ARG(value, d->value_size);
      break;
    case RB_OP_HGET:
      ARG(key, klen);
      NUM(0, "f%llu", d->member);
      break;
    case RB_OP_LPUSH:
      ARG(key, klen);
      ARG(value, d->value_size);
      break;
    case RB_OP_LRANGE:
    case RB_OP_ZRANGEBYSCORE:
      ARG(key, klen);
      NUM(0, "%llu", d->member);
      NUM(1, "%llu", d->member + (uint64_t)p->w.range_span - 1);
      break;
    case RB_OP_SADD:
      ARG(key, klen);
      NUM(0, "m%llu", d->member);
      break;
    case RB_OP_ZADD:
      ARG(key, klen);
      NUM(0, "%llu", d->member);
      NUM(1, "m%llu", d->member);
      break;
    case RB_OP_EVAL:
      LIT(RB_EVAL_SCRIPT);
      LIT("1");
      ARG(key, klen);
      NUM(0, "%llu", p->w.script_work);
      break;
    default: /* GET DEL EXISTS INCR HGETALL SMEMBERS: the key alone */ ARG(key, klen); break;
  }
#undef ARG
#undef LIT
#undef NUM
  return n;
}

static void conn_next_op(struct exec_conn *c) {
  struct exec_activation *a = c->sess->act;
  if (a->stopping || a->next_op >= a->num_ops) {
    evtimer_del(c->tev);
    return;
  }
  const struct action_params *p = a->p;
  uint64_t i = a->next_op++;
  struct rb_op_draw d;
  rb_workload_draw(&p->w, (uint64_t)p->invocation, i, &d);
  int argc = build_command(a, &d);
  c->op = i;
  c->op_type = d.op;
  c->nkeys = d.nkeys;
  c->in_flight = true;
  c->sent_ns = rb_clock_mono_ns();
  conn_send(c, argc, a->scratch->argv, a->scratch->argvlen);
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
  fail_rest(a, msg);
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
    fail_rest(a, "activation deadline already passed");
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
      fail_rest(a, a->last_conn_error[0] ? a->last_conn_error : "no connection");
    } else {
      operate_phase(s, a, ready);
    }
  }
  if (dl) event_free(dl);
}

/* ---- placement runtime: the activation's operations through the process's batcher ------- */

/* One of the activation's parallel_calls places for an operation in the batcher. */
struct rt_slot {
  struct rt_act *act;
  struct rt_slot *next_free;
  enum rb_op op;
  int nkeys;
  bool busy;
};

/* What the batcher's callbacks share with the activation's thread, under lock. Counted:
 * the activation holds one reference and every operation in the batcher one, so a reply
 * that arrives after the activation gave up (its deadline) finds it, and is dropped. */
struct rt_act {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int refs;
  bool abandoned;            /* the activation returned: results are no longer written */
  struct exec_activation *a; /* valid while !abandoned */
  struct rt_slot *free;
  uint64_t outstanding;
  uint64_t last_pipe[ACTION_BATCH_CONNS_MAX]; /* the last pipeline seen per connection */
  int nslots;
  struct rt_slot slots[];
};

static void rt_unref_locked(struct rt_act *rt) {
  bool last = --rt->refs == 0;
  pthread_mutex_unlock(&rt->lock);
  if (last) {
    pthread_mutex_destroy(&rt->lock);
    pthread_cond_destroy(&rt->cond);
    free(rt);
  }
}

static void rt_done(void *arg, const redisReply *reply, const char *error,
                    const struct action_batch_info *info) {
  struct rt_slot *slot = arg;
  struct rt_act *rt = slot->act;
  pthread_mutex_lock(&rt->lock);
  slot->busy = false;
  slot->next_free = rt->free;
  rt->free = slot;
  rt->outstanding--;
  struct exec_activation *a = rt->a;
  if (!rt->abandoned) {
    struct action_result *r = a->r;
    enum rb_op op = slot->op;
    if (info->pipeline && info->conn >= 0 && info->conn < ACTION_BATCH_CONNS_MAX &&
        rt->last_pipe[info->conn] != info->pipeline) {
      /* FIFO per connection: a new number on a connection is a new pipeline */
      rt->last_pipe[info->conn] = info->pipeline;
      r->batch_pipelines++;
      r->batch_pipeline_ops += info->pipeline_ops;
    }
    if (info->coalesced) r->batch_coalesced++;
    if (!reply) {
      fail_one(a, op, error ? error : "no reply");
      if (info->unconnected && !a->stopping) {
        /* as the direct path when no connection is left: the rest fail at once with the
         * connection's error (not one connect attempt per operation) */
        a->stopping = true;
        fail_rest(a, error ? error : "no connection");
      }
    } else {
      settle_reply(a, op, slot->nkeys, reply, info->latency_ns);
    }
    a->last_done_ns = rb_clock_mono_ns();
    pthread_cond_signal(&rt->cond);
  }
  rt_unref_locked(rt);
}

static struct timespec mono_after_ms(int64_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += (time_t)(ms / 1000);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

static void run_runtime(struct action_exec *ex, struct exec_activation *a, const char *host,
                        int port, const char *password, int64_t deadline_ms) {
  const struct action_params *p = a->p;
  struct action_result *r = a->r;
  int64_t left = remaining_ms(deadline_ms);
  if (deadline_ms > 0 && left <= 0) {
    r->deadline_reached = true;
    fail_rest(a, "activation deadline already passed");
    return;
  }
  struct action_batch_ep *ep = action_batch_endpoint(ex->batch, host, port, password);
  int n = (int)p->parallel_calls;
  struct rt_act *rt = calloc(1, sizeof *rt + (size_t)n * sizeof rt->slots[0]);
  if (!ep || !rt) {
    free(rt);
    fail_rest(a, "out of memory");
    return;
  }
  struct action_batch_ep_stats st0, st1;
  action_batch_ep_stats(ex->batch, ep, &st0);
  r->conns_reused = st0.ready < (int)p->batch_connections ? st0.ready : (int)p->batch_connections;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&rt->cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&rt->lock, NULL);
  rt->refs = 1;
  rt->a = a;
  rt->nslots = n;
  for (int i = n - 1; i >= 0; i--) {
    rt->slots[i].act = rt;
    rt->slots[i].next_free = rt->free;
    rt->free = &rt->slots[i];
  }
  struct timespec until = mono_after_ms(left > 0 ? left : 0);
  uint64_t t0 = rb_clock_mono_ns();
  a->last_done_ns = t0;
  a->operating = true;
  pthread_mutex_lock(&rt->lock);
  while (a->finished < a->num_ops) {
    while (!a->stopping && a->next_op < a->num_ops && rt->free) {
      struct rt_slot *slot = rt->free;
      rt->free = slot->next_free;
      slot->busy = true;
      uint64_t i = a->next_op++;
      rt->outstanding++;
      rt->refs++;
      pthread_mutex_unlock(&rt->lock);
      /* the command is drawn and formatted outside the lock; the slot is ours until
       * submitted */
      struct rb_op_draw d;
      rb_workload_draw(&p->w, (uint64_t)p->invocation, i, &d);
      int argc = build_command(a, &d);
      slot->op = d.op;
      slot->nkeys = d.nkeys;
      struct action_batch_cmd cmd = {.conns = (int)p->batch_connections,
                                     .wait_us = (uint32_t)p->batch_wait_us,
                                     .timeout_ms = (uint32_t)p->timeout_ms,
                                     .coalesce = p->batch_coalesce};
      int len = redisFormatCommandArgv(&cmd.buf, argc, a->scratch->argv, a->scratch->argvlen);
      bool ok = false;
      if (len >= 0) {
        cmd.len = (size_t)len;
        ok = action_batch_submit(ex->batch, ep, &cmd, rt_done, slot);
      }
      pthread_mutex_lock(&rt->lock);
      if (!ok) {
        slot->busy = false;
        slot->next_free = rt->free;
        rt->free = slot;
        rt->outstanding--;
        rt->refs--;
        fail_one(a, d.op,
                 len < 0 ? "out of memory formatting a command" : "the batcher cannot take it");
      }
    }
    if (a->finished >= a->num_ops) break; /* else wait: for replies, or the deadline */
    int rc = left > 0 ? pthread_cond_timedwait(&rt->cond, &rt->lock, &until)
                      : pthread_cond_wait(&rt->cond, &rt->lock);
    if (rc == ETIMEDOUT && a->finished < a->num_ops) {
      /* the deadline: this activation's operations in the batcher fail here and their
       * replies, when they come, are dropped (rt_done); nobody else is touched */
      const char *msg = "activation deadline reached";
      a->stopping = true;
      r->deadline_reached = true;
      for (int s = 0; s < n; s++)
        if (rt->slots[s].busy) fail_one(a, rt->slots[s].op, msg);
      fail_rest(a, msg);
    }
  }
  rt->abandoned = true;
  r->elapsed_us = (a->last_done_ns - t0) / 1000;
  rt_unref_locked(rt);
  action_batch_ep_stats(ex->batch, ep, &st1);
  r->conns_new = (int)(st1.made - st0.made);
  r->conn_failures = (int)(st1.failed - st0.failed);
}

bool action_exec_draw_digest(const struct action_params *p, int64_t deadline_ms, uint64_t *digest) {
  uint64_t h = 0x6a09e667f3bcc909ULL;
  struct rb_op_draw d;
#define ADD(x) (h = rb_rng_mix(h ^ ((uint64_t)(x) + 0x9e3779b97f4a7c15ULL)))
  for (uint64_t j = 0; j < (uint64_t)p->num_ops; j++) {
    if (deadline_ms > 0 && j % 4096 == 4095 && remaining_ms(deadline_ms) <= 0) return false;
    rb_workload_draw(&p->w, (uint64_t)p->invocation, j, &d);
    ADD(d.op);
    ADD(d.nkeys);
    for (int i = 0; i < d.nkeys; i++) ADD(d.key[i]);
    ADD(d.value_size);
    ADD(d.member);
  }
#undef ADD
  *digest = h;
  return true;
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

/* Groups the succeeded operations' latencies by type, in µs, sorted (r->op_lat_us). */
static void group_latencies(const struct exec_activation *a, struct action_result *r) {
  size_t count[RB_OP_COUNT] = {0};
  for (size_t i = 0; i < a->nlat; i++) count[a->lat_op[i]]++;
  r->op_lat_off[0] = 0;
  for (int t = 0; t < RB_OP_COUNT; t++) r->op_lat_off[t + 1] = r->op_lat_off[t] + count[t];
  r->op_lat_us = malloc((a->nlat ? a->nlat : 1) * sizeof *r->op_lat_us);
  if (!r->op_lat_us) return; /* op_stats then carry counts without latencies */
  size_t at[RB_OP_COUNT];
  memcpy(at, r->op_lat_off, sizeof at);
  for (size_t i = 0; i < a->nlat; i++) r->op_lat_us[at[a->lat_op[i]]++] = (a->lat[i] + 500) / 1000;
  for (int t = 0; t < RB_OP_COUNT; t++)
    qsort(r->op_lat_us + r->op_lat_off[t], count[t], sizeof *r->op_lat_us, cmp_u64);
}

static int single_op(const struct rb_workload *w) {
  int found = -1;
  for (int t = 0; t < RB_OP_COUNT; t++) {
    if (!w->weight[t]) continue;
    if (found >= 0) return -1;
    found = t;
  }
  return found;
}

void action_exec_run(void *exv, const struct action_params *p, int64_t deadline_ms,
                     struct action_result *r) {
  struct action_exec *ex = exv;
  const char *host, *password;
  int port;
  action_params_endpoint(p, &host, &port, &password);
  format_address(r->target_address, sizeof r->target_address, host, port);
  if (p->prepare) {
    action_prepare_run(p, host, port, password, deadline_ms, r);
    return;
  }
  struct exec_activation a = {
      .p = p, .r = r, .num_ops = (uint64_t)p->num_ops, .single_op = single_op(&p->w)};
  struct exec_session *s =
      p->placement == ACTION_PLACE_RUNTIME ? NULL : pool_checkout(ex, host, port, password);
  a.lat = malloc((size_t)p->num_ops * sizeof *a.lat);
  a.lat_op = malloc((size_t)p->num_ops);
  a.value = malloc((size_t)p->w.sizes.max + 26);
  a.scratch = malloc(sizeof *a.scratch);
  if (a.value) rb_workload_fill_value(a.value, (size_t)p->w.sizes.max + 26, 0);
  if (p->placement == ACTION_PLACE_RUNTIME) {
    if (!a.lat || !a.lat_op || !a.value || !a.scratch) fail_rest(&a, "out of memory");
    else run_runtime(ex, &a, host, port, password, deadline_ms);
  } else if (!s || !a.lat || !a.lat_op || !a.value || !a.scratch ||
             !session_grow(s, (int)p->parallel_calls)) {
    fail_rest(&a, "out of memory");
  } else {
    struct timeval tv = {.tv_sec = p->timeout_ms / 1000, .tv_usec = (p->timeout_ms % 1000) * 1000};
    a.op_timeout = event_base_init_common_timeout(s->base, &tv);
    if (!a.op_timeout) a.op_timeout = &tv;
    s->act = &a;
    run_activation(s, &a, deadline_ms);
  }
  rb_summary_compute(a.lat, a.nlat, &r->latency_ns);
  group_latencies(&a, r);
  r->has_draw_digest =
      !r->deadline_reached && action_exec_draw_digest(p, deadline_ms, &r->draw_digest);
  free(a.lat);
  free(a.lat_op);
  free(a.value);
  free(a.scratch);
  if (s) pool_checkin(ex, s);
}
