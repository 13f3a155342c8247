/* action_prepare.c: prepare mode over one blocking, pipelined hiredis connection
 * (action_prepare.h). */
#include "action_prepare.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "rb_clock.h"
#include "rb_workload.h"

#define PREP_ELEMS_PER_CMD 1024
#define PREP_CMD_BYTES (1u << 20)
#define PREP_PIPE_CMDS 128
#define PREP_PIPE_BYTES (8u << 20)
#define PREP_ARGS_MAX (2 * PREP_ELEMS_PER_CMD + 2)
#define PREP_ARG_LEN 32
#define PREP_KEY_MAX (ACTION_KEY_PREFIX_MAX + 32)

struct prep {
  const struct action_params *p;
  struct action_result *r;
  redisContext *c;
  int64_t deadline_ms;
  const char *values; /* value of number I, size z: values + I % 26, z bytes */
  uint32_t size;
  /* the command being built: head (command, key) then elements */
  const char *argv[PREP_ARGS_MAX];
  size_t argvlen[PREP_ARGS_MAX];
  char args[PREP_ARGS_MAX][PREP_ARG_LEN];
  int argc, head;
  size_t bytes;
  char key[PREP_KEY_MAX];
  char skeys[PREP_ELEMS_PER_CMD][PREP_KEY_MAX]; /* the keys of an MSET */
  int reply_type;                               /* what the command in construction answers */
  /* the pipeline: commands sent, replies not read */
  int pending;
  size_t pending_bytes;
  char pending_key[PREP_PIPE_CMDS][PREP_KEY_MAX];
  int pending_type[PREP_PIPE_CMDS];
  bool failed;
  bool deadline_bound; /* the call timeout is the time to the deadline, not timeout_ms */
};

static void prep_fail(struct prep *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keeps the first error (one failure in r's table). */
static void prep_fail(struct prep *x, const char *fmt, ...) {
  char msg[ACTION_ERROR_MSG_MAX];
  va_list ap;
  if (x->failed) return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  action_result_add_error(x->r, msg, 1);
  x->failed = true;
}

/* A broken connection: the activation's deadline, a reply later than timeout_ms, or hiredis's
 * message. errno is the failed call's. */
static void connection_failed(struct prep *x, int err) {
  bool timed_out = x->c->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK);
#ifdef REDIS_ERR_TIMEOUT /* hiredis 1.0 and later */
  timed_out = timed_out || x->c->err == REDIS_ERR_TIMEOUT;
#endif
  if (timed_out && x->deadline_bound) {
    x->r->deadline_reached = true;
    prep_fail(x, "activation deadline reached");
  } else if (timed_out) {
    prep_fail(x, "timed out after %lld ms waiting for the reply", x->p->timeout_ms);
  } else {
    prep_fail(x, "%s", x->c->errstr[0] ? x->c->errstr : "connection lost");
  }
}

/* Time to the activation's deadline less a margin for the answer to reach OpenWhisk (as
 * action_exec: 100 ms, a quarter when less than 400 ms remain); -1 without a deadline. */
static int64_t time_left_ms(int64_t deadline_ms) {
  if (deadline_ms <= 0) return -1;
  int64_t left = deadline_ms - rb_clock_wall_ms();
  return left - (left < 400 ? left / 4 : 100);
}

/* The time left for a call: timeout_ms, or less when the deadline is nearer. False when the
 * deadline has passed. */
static bool set_call_timeout(struct prep *x) {
  int64_t ms = x->p->timeout_ms;
  if (x->deadline_ms > 0) {
    int64_t left = time_left_ms(x->deadline_ms);
    if (left <= 0) {
      x->r->deadline_reached = true;
      prep_fail(x, "activation deadline reached");
      return false;
    }
    x->deadline_bound = left < ms;
    if (left < ms) ms = left;
  }
  struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
  redisSetTimeout(x->c, tv);
  return true;
}

/* Reads every pending reply; the first error is kept. */
static void drain(struct prep *x) {
  if (x->pending == 0) return;
  if (!x->failed && !set_call_timeout(x)) {
    x->pending = 0;
    return;
  }
  for (int i = 0; i < x->pending; i++) {
    redisReply *reply = NULL;
    errno = 0;
    if (redisGetReply(x->c, (void **)&reply) != REDIS_OK || !reply) {
      connection_failed(x, errno);
      break; /* the connection is unusable */
    }
    if (reply->type == REDIS_REPLY_ERROR)
      prep_fail(x, "preparing %s: %s", x->pending_key[i], reply->str);
    else if (reply->type != x->pending_type[i])
      prep_fail(x, "preparing %s: unexpected reply type %d", x->pending_key[i], reply->type);
    freeReplyObject(reply);
  }
  x->pending = 0;
  x->pending_bytes = 0;
}

static void cmd_arg(struct prep *x, const char *s, size_t len) {
  x->argv[x->argc] = s;
  x->argvlen[x->argc] = len;
  x->argc++;
  x->bytes += len;
}

/* A number, after the letter tag when tag is not 0 ("f12", "m12", "12"). */
static void cmd_num(struct prep *x, char tag, unsigned long long v) {
  char *buf = x->args[x->argc];
  int n =
      tag ? snprintf(buf, PREP_ARG_LEN, "%c%llu", tag, v) : snprintf(buf, PREP_ARG_LEN, "%llu", v);
  cmd_arg(x, buf, (size_t)n);
}

/* Starts a command: name, then key (NULL for MSET). reply_type is what it answers. */
static void cmd_begin(struct prep *x, const char *name, const char *key, int reply_type) {
  x->argc = 0;
  x->bytes = 0;
  x->reply_type = reply_type;
  cmd_arg(x, name, strlen(name));
  if (key) cmd_arg(x, key, strlen(key));
  x->head = x->argc;
}

/* Sends the command under construction (if it has elements) into the pipeline. */
static void cmd_send(struct prep *x) {
  if (x->failed || x->argc == x->head) return;
  if (redisAppendCommandArgv(x->c, x->argc, x->argv, x->argvlen) != REDIS_OK) {
    prep_fail(x, "%s", x->c->errstr[0] ? x->c->errstr : "out of memory");
    return;
  }
  snprintf(x->pending_key[x->pending], PREP_KEY_MAX, "%s", x->key);
  x->pending_type[x->pending] = x->reply_type;
  x->pending++;
  x->pending_bytes += x->bytes;
  if (x->pending == PREP_PIPE_CMDS || x->pending_bytes >= PREP_PIPE_BYTES) {
    drain(x);
  } else {
    /* send what is formatted, so Redis works while the next command is built */
    int done = 0;
    errno = 0;
    if (redisBufferWrite(x->c, &done) != REDIS_OK) connection_failed(x, errno);
  }
  x->argc = x->head;
  x->bytes = 0;
}

/* Makes room for an element of n arguments: a full command is sent and continued. */
static void cmd_room(struct prep *x, int n) {
  if (x->argc + n > PREP_ARGS_MAX || x->bytes >= PREP_CMD_BYTES) cmd_send(x);
}

static void format_key(struct prep *x, enum rb_ns ns, uint64_t n) {
  snprintf(x->key, sizeof x->key, "%s:%s%llu", x->p->key_prefix, rb_ns_tag(ns),
           (unsigned long long)n);
}

static void prepare_strings(struct prep *x, uint64_t first, uint64_t count) {
  int nk = 0;
  cmd_begin(x, "MSET", NULL, REDIS_REPLY_STATUS);
  for (uint64_t n = first; n < first + count && !x->failed; n++) {
    if (nk == PREP_ELEMS_PER_CMD || x->bytes >= PREP_CMD_BYTES) {
      cmd_send(x);
      nk = 0;
    }
    format_key(x, RB_NS_STRING, n); /* the last key names the command in errors */
    snprintf(x->skeys[nk], PREP_KEY_MAX, "%s", x->key);
    cmd_arg(x, x->skeys[nk], strlen(x->skeys[nk]));
    cmd_arg(x, x->values + n % 26, x->size);
    nk++;
  }
  cmd_send(x);
}

static void prepare_structure(struct prep *x, enum rb_ns ns, uint64_t n) {
  static const char *const build[RB_NS_COUNT] = {NULL, NULL, "HSET", "RPUSH", "SADD", "ZADD"};
  uint64_t size = (uint64_t)x->p->w.structure_size;
  format_key(x, ns, n);
  cmd_begin(x, "DEL", x->key, REDIS_REPLY_INTEGER);
  x->head = 0; /* DEL's key is its element: sent as it is */
  cmd_send(x);
  cmd_begin(x, build[ns], x->key, REDIS_REPLY_INTEGER);
  for (uint64_t i = 0; i < size && !x->failed; i++) {
    cmd_room(x, 2);
    switch (ns) {
      case RB_NS_HASH:
        cmd_num(x, 'f', i);
        cmd_arg(x, x->values + i % 26, x->size);
        break;
      case RB_NS_LIST: cmd_arg(x, x->values + i % 26, x->size); break;
      case RB_NS_SET: cmd_num(x, 'm', i); break;
      default:
        cmd_num(x, 0, i);
        cmd_num(x, 'm', i);
        break;
    }
  }
  cmd_send(x);
}

static bool connect_auth(struct prep *x, const char *host, int port, const char *password) {
  int64_t ms = x->p->timeout_ms;
  if (x->deadline_ms > 0 && time_left_ms(x->deadline_ms) < ms) ms = time_left_ms(x->deadline_ms);
  if (ms <= 0) {
    x->r->deadline_reached = true;
    prep_fail(x, "activation deadline already passed");
    return false;
  }
  struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
  x->c = redisConnectWithTimeout(host, port, tv);
  if (!x->c || x->c->err) {
    x->r->conn_failures++;
    prep_fail(x, "connect to %.90s failed: %.40s", x->r->target_address,
              x->c ? x->c->errstr : "out of memory");
    return false;
  }
  x->r->conns_new = 1;
  if (!password[0]) return true;
  if (!set_call_timeout(x)) return false;
  const char *argv[2] = {"AUTH", password};
  size_t argvlen[2] = {4, strlen(password)};
  redisReply *reply = redisCommandArgv(x->c, 2, argv, argvlen);
  bool ok = reply && reply->type == REDIS_REPLY_STATUS;
  if (!ok) {
    x->r->conn_failures++;
    prep_fail(x, "AUTH failed: %s",
              reply && reply->type == REDIS_REPLY_ERROR ? reply->str
              : reply                                   ? "unexpected reply"
                                                        : x->c->errstr);
  }
  if (reply) freeReplyObject(reply);
  return ok;
}

void action_prepare_run(const struct action_params *p, const char *host, int port,
                        const char *password, int64_t deadline_ms, struct action_result *r) {
  const struct rb_workload *w = &p->w;
  unsigned needs = rb_workload_prepare_needs(w);
  struct prep *x = calloc(1, sizeof *x);
  uint32_t size = w->sizes.kind == RB_SIZES_LIST ? w->sizes.size[0] : w->sizes.min;
  char *values = malloc((size_t)size + 26);
  if (!x || !values) {
    free(x);
    free(values);
    action_result_add_error(r, "out of memory", 1);
    return;
  }
  rb_workload_fill_value(values, (size_t)size + 26, 0);
  *x = (struct prep){.p = p, .r = r, .deadline_ms = deadline_ms, .values = values, .size = size};
  uint64_t first = (uint64_t)p->prepare_first, count = (uint64_t)p->prepare_count;
  uint64_t t0 = rb_clock_mono_ns();
  if (needs && count > 0 && connect_auth(x, host, port, password)) {
    uint64_t t1 = rb_clock_mono_ns();
    r->connect_us = (t1 - t0) / 1000;
    for (int ns = 0; ns < RB_NS_COUNT && !x->failed; ns++) {
      if (!(needs & (1u << ns))) continue;
      if (ns == RB_NS_STRING) {
        prepare_strings(x, first, count);
      } else {
        for (uint64_t n = first; n < first + count && !x->failed; n++)
          prepare_structure(x, (enum rb_ns)ns, n);
      }
      drain(x);
      if (x->failed) break;
      r->prepared_ns |= 1u << ns;
      r->prepared_keys += count;
      r->prepared_elements += ns == RB_NS_STRING ? count : count * (uint64_t)w->structure_size;
    }
    drain(x);
    r->elapsed_us = (rb_clock_mono_ns() - t1) / 1000;
  } else {
    r->connect_us = (rb_clock_mono_ns() - t0) / 1000;
  }
  if (x->c) redisFree(x->c);
  free(values);
  free(x);
}
