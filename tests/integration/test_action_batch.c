/* test_action_batch.c: the runtime batcher's API (action_batch.h) against a real redis-server:
 * every reply reaches the command that asked for it (8 threads, each command's reply names
 * its thread and number, so a misrouted reply fails), coalescing answers what Redis would,
 * a connection cut mid-pipeline (by a proxy in this test) fails exactly the commands written
 * and not answered and the next ones go over a new connection, timeouts, refused connects,
 * AUTH, and the stop. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "action_batch.h"
#include "rb_clock.h"
#include "rbt.h"

/* ---- a command and its expected reply ------------------------------------------------- */

enum kind { K_ECHO, K_GET, K_SET, K_INCR, K_GET_OWN };

struct op {
  struct client *cl;
  int n;
  enum kind kind;
  char expect[64]; /* the string reply expected (ECHO, GET) */
};

struct client {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int outstanding;
  int done;
  int ok, failed, coalesced;
  long long incr_seen[2048]; /* INCR replies, to check they are exactly 1..n */
  int nincr;
  char bad[256]; /* the first wrong reply */
  char first_error[160];
  int conn_of[4096];
  bool ok_of[4096];
  uint64_t pipe_of[4096];
  uint32_t pipe_ops_of[4096];
  uint64_t lat_of[4096];
};

static void record_bad(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void record_bad(struct client *c, const char *fmt, ...) {
  if (c->bad[0]) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->bad, sizeof c->bad, fmt, ap);
  va_end(ap);
}

static void on_reply(void *arg, const redisReply *reply, const char *error,
                     const struct action_batch_info *info) {
  struct op *o = arg;
  struct client *c = o->cl;
  pthread_mutex_lock(&c->lock);
  c->outstanding--;
  c->done++;
  if (o->n < 4096) {
    c->conn_of[o->n] = info->conn;
    c->pipe_of[o->n] = info->pipeline;
    c->pipe_ops_of[o->n] = info->pipeline_ops;
    c->lat_of[o->n] = info->latency_ns;
  }
  if (info->coalesced) c->coalesced++;
  if (!reply) {
    c->failed++;
    if (!c->first_error[0]) snprintf(c->first_error, sizeof c->first_error, "%s", error);
  } else {
    bool good = false;
    switch (o->kind) {
      case K_ECHO:
      case K_GET:
      case K_GET_OWN:
        good = reply->type == REDIS_REPLY_STRING && strcmp(reply->str, o->expect) == 0;
        break;
      case K_SET: good = reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "OK") == 0; break;
      case K_INCR:
        good = reply->type == REDIS_REPLY_INTEGER;
        if (good && c->nincr < 2048) c->incr_seen[c->nincr++] = reply->integer;
        break;
    }
    if (!good)
      record_bad(c, "op %d (kind %d, expected \"%s\") got type %d \"%s\"", o->n, o->kind, o->expect,
                 reply->type, reply->str ? reply->str : "");
    c->ok++;
    if (o->n < 4096) c->ok_of[o->n] = true;
  }
  pthread_cond_signal(&c->cond);
  pthread_mutex_unlock(&c->lock);
}

static void client_init(struct client *c) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->cond, NULL);
}

static void client_wait(struct client *c, int max_outstanding) {
  pthread_mutex_lock(&c->lock);
  while (c->outstanding > max_outstanding) pthread_cond_wait(&c->cond, &c->lock);
  pthread_mutex_unlock(&c->lock);
}

static void submit(struct action_batch *b, struct action_batch_ep *ep, struct op *o,
                   const struct action_batch_cmd *tmpl, const char *fmt, ...) {
  struct action_batch_cmd cmd = *tmpl;
  va_list ap;
  va_start(ap, fmt);
  int len = redisvFormatCommand(&cmd.buf, fmt, ap);
  va_end(ap);
  assert_true(len > 0);
  cmd.len = (size_t)len;
  pthread_mutex_lock(&o->cl->lock);
  o->cl->outstanding++;
  pthread_mutex_unlock(&o->cl->lock);
  assert_true(action_batch_submit(b, ep, &cmd, on_reply, o));
}

/* a script that keeps Redis busy for ARGV[1] loop iterations (20,000,000: 0.2 s or more) */
#define SLOW_SCRIPT "local x=0 for i=1,tonumber(ARGV[1]) do x=x+i end return 1"

/* Submits the slow script and lets the batcher write it alone (Redis then runs it for 0.2 s
 * or more per 20,000,000 iterations, long after the 20 ms this waits). */
static void submit_slow(struct action_batch *b, struct action_batch_ep *ep, struct op *o,
                        const struct action_batch_cmd *tmpl, int iterations) {
  submit(b, ep, o, tmpl, "EVAL %s 0 %d", SLOW_SCRIPT, iterations);
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* ---- fixture ---------------------------------------------------------------------------- */

struct fixture {
  struct rbt_proc redis;
  redisContext *rc;
  struct action_batch *b;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!rbt_redis_start(&f->redis, NULL)) return -1;
  f->rc = rbt_redis_connect(f->redis.port, NULL);
  f->b = action_batch_create();
  *state = f;
  return f->rc && f->b ? 0 : -1;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  action_batch_destroy(f->b);
  if (f->rc) redisFree(f->rc);
  rbt_proc_stop(&f->redis, SIGTERM);
  free(f);
  return 0;
}

/* ---- routing: 8 threads, every reply checked ------------------------------------------- */

#define THREADS 8
#define OPS 600

struct worker {
  struct action_batch *b;
  struct action_batch_ep *ep;
  struct action_batch_cmd tmpl;
  int id;
  int window; /* commands outstanding at most (an activation's parallel_calls) */
  struct client cl;
  struct op ops[OPS];
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  for (int n = 0; n < OPS; n++) {
    client_wait(&w->cl, w->window - 1);
    struct op *o = &w->ops[n];
    o->cl = &w->cl;
    o->n = n;
    switch (n % 5) {
      case 0:
        o->kind = K_ECHO;
        snprintf(o->expect, sizeof o->expect, "echo:%d:%d", w->id, n);
        submit(w->b, w->ep, o, &w->tmpl, "ECHO %s", o->expect);
        break;
      case 1: /* prepared: r:T:K = "val:T:K" */
        o->kind = K_GET;
        snprintf(o->expect, sizeof o->expect, "val:%d:%d", w->id, n % 50);
        submit(w->b, w->ep, o, &w->tmpl, "GET r:%d:%d", w->id, n % 50);
        break;
      case 2:
        o->kind = K_SET;
        submit(w->b, w->ep, o, &w->tmpl, "SET w:%d:%d set:%d:%d", w->id, n, w->id, n);
        break;
      case 3:
        o->kind = K_INCR;
        submit(w->b, w->ep, o, &w->tmpl, "INCR c:%d", w->id);
        break;
      default: /* a key every thread reads: shared:K = "shared:K" (coalescing's case) */
        o->kind = K_GET;
        snprintf(o->expect, sizeof o->expect, "shared:%d", n % 3);
        submit(w->b, w->ep, o, &w->tmpl, "GET shared:%d", n % 3);
        break;
    }
  }
  client_wait(&w->cl, 0);
  return NULL;
}

static int cmp_ll(const void *x, const void *y) {
  long long a = *(const long long *)x, b = *(const long long *)y;
  return a < b ? -1 : a > b;
}

static void run_routing(struct fixture *f, int conns, uint32_t wait_us, bool coalesce,
                        int *coalesced_total) {
  redisReply *r = redisCommand(f->rc, "FLUSHALL");
  freeReplyObject(r);
  for (int t = 0; t < THREADS; t++)
    for (int k = 0; k < 50; k++) {
      r = redisCommand(f->rc, "SET r:%d:%d val:%d:%d", t, k, t, k);
      freeReplyObject(r);
    }
  for (int k = 0; k < 3; k++) {
    r = redisCommand(f->rc, "SET shared:%d shared:%d", k, k);
    freeReplyObject(r);
  }
  struct action_batch_ep *ep = action_batch_endpoint(f->b, "127.0.0.1", f->redis.port, "");
  assert_non_null(ep);
  struct worker *w = calloc(THREADS, sizeof *w);
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++) {
    w[t].b = f->b;
    w[t].ep = ep;
    w[t].id = t;
    w[t].window = 1 + t % 8; /* 1..8 in flight */
    w[t].tmpl = (struct action_batch_cmd){
        .conns = conns, .wait_us = wait_us, .timeout_ms = 10000, .coalesce = coalesce};
    client_init(&w[t].cl);
    pthread_create(&th[t], NULL, worker_main, &w[t]);
  }
  *coalesced_total = 0;
  for (int t = 0; t < THREADS; t++) {
    pthread_join(th[t], NULL);
    struct client *c = &w[t].cl;
    if (c->bad[0]) fail_msg("thread %d: %s", t, c->bad);
    assert_int_equal(c->failed, 0);
    assert_int_equal(c->ok, OPS);
    /* INCR c:T is this thread's alone: its replies are exactly 1..n, whatever the order */
    qsort(c->incr_seen, (size_t)c->nincr, sizeof c->incr_seen[0], cmp_ll);
    assert_int_equal(c->nincr, OPS / 5);
    for (int i = 0; i < c->nincr; i++) assert_int_equal(c->incr_seen[i], i + 1);
    for (int n = 0; n < OPS; n++) assert_true(c->conn_of[n] >= 0 && c->conn_of[n] < conns);
    *coalesced_total += c->coalesced;
  }
  /* what the SETs left in Redis */
  for (int t = 0; t < THREADS; t++)
    for (int n = 2; n < OPS; n += 5 * 7) {
      r = redisCommand(f->rc, "GET w:%d:%d", t, n);
      char want[32];
      snprintf(want, sizeof want, "set:%d:%d", t, n);
      assert_int_equal(r->type, REDIS_REPLY_STRING);
      assert_string_equal(r->str, want);
      freeReplyObject(r);
    }
  free(w);
  struct action_batch_ep_stats st;
  action_batch_ep_stats(f->b, ep, &st);
  assert_true(st.ready >= 1 && st.ready <= 4);
}

static void test_routing(void **state) {
  struct fixture *f = *state;
  int coalesced;
  run_routing(f, 1, 0, false, &coalesced);
  assert_int_equal(coalesced, 0);
  run_routing(f, 4, 0, false, &coalesced);
  assert_int_equal(coalesced, 0);
  run_routing(f, 3, 300, true, &coalesced);
  run_routing(f, 1, 2000, true, &coalesced);
  struct action_batch_ep *ep = action_batch_endpoint(f->b, "127.0.0.1", f->redis.port, "");
  struct action_batch_ep_stats st;
  action_batch_ep_stats(f->b, ep, &st);
  assert_int_equal(st.made, 4); /* warm: the connections persist across runs */
  assert_int_equal(st.ready, 4);
}

/* SET then GETs of its key in one pipeline: the GETs answered from the SET (coalesced), and
 * identical GETs sent once; a SET that fails lets its GETs go to Redis after all. */
static void test_coalescing(void **state) {
  struct fixture *f = *state;
  struct action_batch_ep *ep = action_batch_endpoint(f->b, "127.0.0.1", f->redis.port, "");
  struct client cl;
  client_init(&cl);
  struct op ops[40];
  /* a long hold and fewer than ACTION_BATCH_FLUSH_AT commands behind a slow one at Redis:
   * one pipeline */
  struct action_batch_cmd tmpl = {
      .conns = 1, .wait_us = 100000, .timeout_ms = 5000, .coalesce = true};
  redisReply *r = redisCommand(f->rc, "SET cg:a old");
  freeReplyObject(r);
  struct client slow;
  client_init(&slow);
  struct op slow_op = {.cl = &slow, .n = 0, .kind = K_INCR};
  submit_slow(f->b, ep, &slow_op, &tmpl, 20000000);
  int n = 0;
  ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_GET_OWN, .expect = "old"};
  submit(f->b, ep, &ops[n], &tmpl, "GET cg:a"), n++;
  ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_GET_OWN, .expect = "old"};
  submit(f->b, ep, &ops[n], &tmpl, "GET cg:a"), n++; /* the same GET: coalesced */
  ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_SET};
  submit(f->b, ep, &ops[n], &tmpl, "SET cg:a new"), n++;
  ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_GET_OWN, .expect = "new"};
  submit(f->b, ep, &ops[n], &tmpl, "GET cg:a"), n++; /* answered from the SET */
  ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_GET_OWN, .expect = "new"};
  submit(f->b, ep, &ops[n], &tmpl, "GET cg:a"), n++; /* from the SET too */
  ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_INCR};
  submit(f->b, ep, &ops[n], &tmpl, "INCR cg:n"), n++; /* ends coalescing */
  ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_GET_OWN, .expect = "new"};
  submit(f->b, ep, &ops[n], &tmpl, "GET cg:a"), n++; /* sent */
  client_wait(&cl, 0);
  client_wait(&slow, 0);
  if (cl.bad[0]) fail_msg("%s", cl.bad);
  assert_int_equal(cl.ok, n);
  assert_int_equal(cl.coalesced, 3);
  for (int i = 1; i < n; i++) assert_int_equal(cl.pipe_of[i], cl.pipe_of[0]);
  assert_int_equal(cl.pipe_ops_of[0], 4); /* GET, SET, INCR, GET sent */
  /* a SET that fails (refused by a full maxmemory with noeviction): its GET is sent */
  r = redisCommand(f->rc, "CONFIG SET maxmemory 1");
  freeReplyObject(r);
  r = redisCommand(f->rc, "CONFIG SET maxmemory-policy noeviction");
  freeReplyObject(r);
  client_init(&cl);
  client_init(&slow);
  submit_slow(f->b, ep, &slow_op, &tmpl, 20000000);
  n = 0;
  ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_SET};
  submit(f->b, ep, &ops[n], &tmpl, "SET cg:a newer"), n++; /* OOM error */
  ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_GET_OWN, .expect = "new"};
  submit(f->b, ep, &ops[n], &tmpl, "GET cg:a"), n++; /* not from the failed SET: from Redis */
  client_wait(&cl, 0);
  client_wait(&slow, 0);
  r = redisCommand(f->rc, "CONFIG SET maxmemory 0");
  freeReplyObject(r);
  assert_int_equal(cl.ok, 2);
  /* the SET's reply is an error (recorded as bad: not a status), the GET found "new" */
  assert_non_null(strstr(cl.bad, "op 0"));
  assert_int_equal(cl.coalesced, 0);
  assert_true(cl.pipe_of[1] > cl.pipe_of[0]); /* sent after the SET's reply */
}

/* The flush rule: a lone command on an idle connection is written at once, whatever wait_us;
 * commands that come while a pipeline is at Redis wait for it (up to wait_us) and go together;
 * 16 pending go at once; wait_us bounds the wait. */
static void test_flush_rule(void **state) {
  struct fixture *f = *state;
  struct action_batch_ep *ep = action_batch_endpoint(f->b, "127.0.0.1", f->redis.port, "");
  struct action_batch_cmd tmpl = {.conns = 1, .wait_us = 100000, .timeout_ms = 5000};
  struct client cl, slow;
  client_init(&cl);
  struct op ops[40], slow_op;
  ops[0] = (struct op){.cl = &cl, .n = 0, .kind = K_ECHO, .expect = "warm"};
  submit(f->b, ep, &ops[0], &tmpl, "ECHO warm"); /* the connection is made */
  client_wait(&cl, 0);
  client_init(&cl);
  ops[0] = (struct op){.cl = &cl, .n = 0, .kind = K_ECHO, .expect = "lone"};
  submit(f->b, ep, &ops[0], &tmpl, "ECHO lone");
  client_wait(&cl, 0);
  assert_int_equal(cl.ok, 1);
  assert_true(cl.lat_of[0] < 50 * 1000000ULL); /* not held for wait_us (100 ms) */
  assert_int_equal(cl.pipe_ops_of[0], 1);
  /* 5 behind a slow command: one pipeline of 5 once it is answered */
  client_init(&cl);
  client_init(&slow);
  slow_op = (struct op){.cl = &slow, .n = 0, .kind = K_INCR};
  submit_slow(f->b, ep, &slow_op, &tmpl, 20000000);
  for (int n = 0; n < 5; n++) {
    ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_ECHO};
    snprintf(ops[n].expect, sizeof ops[n].expect, "b%d", n);
    submit(f->b, ep, &ops[n], &tmpl, "ECHO b%d", n);
  }
  client_wait(&cl, 0);
  client_wait(&slow, 0);
  if (cl.bad[0]) fail_msg("%s", cl.bad);
  for (int n = 0; n < 5; n++) {
    assert_int_equal(cl.pipe_of[n], cl.pipe_of[0]);
    assert_int_equal(cl.pipe_ops_of[n], 5);
  }
  assert_true(cl.pipe_of[0] > slow.pipe_of[0]);
  /* 20 behind it, handed over at once: one pipeline of all that is pending (16 or more pending
   * are written at once, and whole) */
  client_init(&cl);
  client_init(&slow);
  submit_slow(f->b, ep, &slow_op, &tmpl, 20000000);
  for (int n = 0; n < 20; n++) {
    ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_ECHO};
    snprintf(ops[n].expect, sizeof ops[n].expect, "c%d", n);
    submit(f->b, ep, &ops[n], &tmpl, "ECHO c%d", n);
  }
  client_wait(&cl, 0);
  client_wait(&slow, 0);
  if (cl.bad[0]) fail_msg("%s", cl.bad);
  assert_int_equal(cl.ok, 20);
  uint32_t biggest = 0;
  for (int n = 0; n < 20; n++) {
    assert_true(cl.pipe_of[n] > slow.pipe_of[0]);
    if (cl.pipe_ops_of[n] > biggest) biggest = cl.pipe_ops_of[n];
  }
  assert_true(biggest >= ACTION_BATCH_FLUSH_AT);
  /* a short wait_us: one behind a slow command is written when it runs out, before the
   * slow one's reply (Redis then answers both in order) */
  tmpl.wait_us = 2000;
  client_init(&cl);
  client_init(&slow);
  submit_slow(f->b, ep, &slow_op, &tmpl, 20000000);
  ops[0] = (struct op){.cl = &cl, .n = 0, .kind = K_ECHO, .expect = "d"};
  submit(f->b, ep, &ops[0], &tmpl, "ECHO d");
  client_wait(&cl, 0);
  client_wait(&slow, 0);
  assert_int_equal(cl.ok, 1);
  assert_int_equal(cl.pipe_ops_of[0], 1);
  assert_int_equal(cl.pipe_of[0], slow.pipe_of[0] + 1);
  /* it waited for the EVAL at Redis, not for the EVAL's reply to be read first: its latency
   * is at most the EVAL's plus a little */
  assert_true(cl.lat_of[0] <= slow.lat_of[0] + 20 * 1000000ULL);
}

/* ---- a proxy that cuts the first connection mid-pipeline -------------------------------- */

struct proxy {
  int lfd, port, redis_port;
  size_t hold_until_up;  /* first connection: hold replies until this many command bytes came */
  size_t cut_after_down; /* then pass this many reply bytes and close */
  atomic_int accepted;
  atomic_bool stop;
  pthread_t th;
};

static bool pump(int from, int to, size_t *count, size_t limit) {
  char buf[4096];
  size_t want = limit && limit - *count < sizeof buf ? limit - *count : sizeof buf;
  ssize_t n = recv(from, buf, want, 0);
  if (n <= 0) return false;
  *count += (size_t)n;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
    if (w <= 0) return false;
    off += w;
  }
  return true;
}

static void *proxy_main(void *arg) {
  struct proxy *p = arg;
  int cfd[8], sfd[8], ncon = 0;
  size_t up[8] = {0}, down[8] = {0};
  while (!atomic_load(&p->stop)) {
    struct pollfd pf[1 + 16];
    int np = 0;
    pf[np++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
    for (int i = 0; i < ncon; i++) {
      bool first = i == 0;
      pf[np++] = (struct pollfd){.fd = cfd[i], .events = cfd[i] >= 0 ? POLLIN : 0};
      bool hold = first && up[i] < p->hold_until_up;
      pf[np++] = (struct pollfd){.fd = sfd[i], .events = sfd[i] >= 0 && !hold ? POLLIN : 0};
    }
    if (poll(pf, (nfds_t)np, 50) <= 0) continue;
    if (pf[0].revents && ncon < 8) {
      int c = accept(p->lfd, NULL, NULL);
      if (c >= 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)p->redis_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
          close(c);
          close(s);
        } else {
          cfd[ncon] = c;
          sfd[ncon] = s;
          ncon++;
          atomic_fetch_add(&p->accepted, 1);
        }
      }
    }
    for (int i = 0; i < ncon; i++) {
      struct pollfd *pc = &pf[1 + 2 * i], *ps = &pf[2 + 2 * i];
      if (cfd[i] < 0) continue;
      bool alive = true;
      if (pc->revents) alive = pump(cfd[i], sfd[i], &up[i], 0);
      if (alive && ps->revents) {
        size_t limit = i == 0 ? p->cut_after_down : 0;
        alive = pump(sfd[i], cfd[i], &down[i], limit);
        if (limit && down[i] >= limit) alive = false; /* the cut */
      }
      if (!alive) {
        close(cfd[i]);
        close(sfd[i]);
        cfd[i] = sfd[i] = -1;
      }
    }
  }
  for (int i = 0; i < ncon; i++)
    if (cfd[i] >= 0) {
      close(cfd[i]);
      close(sfd[i]);
    }
  return NULL;
}

static void proxy_start(struct proxy *p, int redis_port) {
  p->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(p->lfd, 16), 0);
  getsockname(p->lfd, (struct sockaddr *)&sa, &sl);
  p->port = ntohs(sa.sin_port);
  p->redis_port = redis_port;
  pthread_create(&p->th, NULL, proxy_main, p);
}

static void proxy_stop(struct proxy *p) {
  atomic_store(&p->stop, true);
  pthread_join(p->th, NULL);
  close(p->lfd);
}

static void test_connection_cut_mid_pipeline(void **state) {
  struct fixture *f = *state;
  enum { N = 60, K = 23 };
  /* ECHO e:NNNNN: the command is 27 bytes, its reply 13 ("$7\r\ne:00000\r\n") */
  char *probe = NULL;
  int cmdlen = redisFormatCommand(&probe, "ECHO e:%05d", 0);
  redisFreeCommand(probe);
  assert_int_equal(cmdlen, 27);
  struct proxy p = {0};
  p.hold_until_up = (size_t)N * (size_t)cmdlen;
  p.cut_after_down = (size_t)K * 13 + 6; /* K replies and half of the next */
  proxy_start(&p, f->redis.port);
  struct action_batch_ep *ep = action_batch_endpoint(f->b, "127.0.0.1", p.port, "");
  struct action_batch_ep *direct = action_batch_endpoint(f->b, "127.0.0.1", f->redis.port, "");
  struct action_batch_cmd tmpl = {.conns = 1, .wait_us = 0, .timeout_ms = 10000};
  struct client cl, other;
  client_init(&cl);
  client_init(&other);
  struct op *ops = calloc(N + 20, sizeof *ops);
  struct op *oops = calloc(N, sizeof *oops);
  for (int n = 0; n < N; n++) {
    ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_ECHO};
    snprintf(ops[n].expect, sizeof ops[n].expect, "e:%05d", n);
    submit(f->b, ep, &ops[n], &tmpl, "ECHO e:%05d", n);
    /* another endpoint's commands at the same time: untouched by the cut */
    oops[n] = (struct op){.cl = &other, .n = n, .kind = K_ECHO};
    snprintf(oops[n].expect, sizeof oops[n].expect, "o:%05d", n);
    submit(f->b, direct, &oops[n], &tmpl, "ECHO o:%05d", n);
  }
  client_wait(&cl, 0);
  client_wait(&other, 0);
  if (cl.bad[0]) fail_msg("%s", cl.bad);
  if (other.bad[0]) fail_msg("%s", other.bad);
  /* exactly the K answered before the cut succeeded, in order; the others failed */
  assert_int_equal(cl.ok, K);
  assert_int_equal(cl.failed, N - K);
  for (int n = 0; n < N; n++) assert_int_equal(cl.ok_of[n], n < K);
  assert_string_equal(cl.first_error, "connection closed by server");
  assert_int_equal(other.ok, N);
  assert_int_equal(other.failed, 0);
  /* later commands go over a new connection */
  client_init(&cl);
  for (int n = 0; n < 20; n++) {
    ops[N + n] = (struct op){.cl = &cl, .n = n, .kind = K_ECHO};
    snprintf(ops[N + n].expect, sizeof ops[N + n].expect, "e:%05d", n);
    submit(f->b, ep, &ops[N + n], &tmpl, "ECHO e:%05d", n);
  }
  client_wait(&cl, 0);
  if (cl.bad[0]) fail_msg("%s", cl.bad);
  assert_int_equal(cl.ok, 20);
  assert_int_equal(atomic_load(&p.accepted), 2);
  struct action_batch_ep_stats st;
  action_batch_ep_stats(f->b, ep, &st);
  assert_int_equal(st.made, 2);
  assert_int_equal(st.ready, 1);
  free(ops);
  free(oops);
  proxy_stop(&p);
}

/* A server killed while a pipeline is at it: what was written fails, nothing hangs. */
static void test_redis_killed(void **state) {
  struct fixture *f = *state;
  struct action_batch_ep *ep = action_batch_endpoint(f->b, "127.0.0.1", f->redis.port, "");
  struct action_batch_cmd tmpl = {.conns = 2, .wait_us = 0, .timeout_ms = 10000};
  struct client cl;
  client_init(&cl);
  struct op ops[40];
  for (int n = 0; n < 40; n++) {
    ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_ECHO, .expect = "x"};
    /* each takes some 100 ms of Redis's time: most are still queued at Redis when it dies */
    submit(f->b, ep, &ops[n], &tmpl, "EVAL %s 0 %d",
           "local x=0 for i=1,tonumber(ARGV[1]) do x=x+i end return 'x'", 5000000);
  }
  /* Redis answers a pipeline's replies together once it has run what it read: kill it
   * while it runs them (seconds of work) */
  struct timespec ts = {0, 150 * 1000 * 1000};
  nanosleep(&ts, NULL);
  uint64_t t0 = rb_clock_mono_ns();
  rbt_proc_stop(&f->redis, SIGKILL);
  client_wait(&cl, 0);
  assert_true((rb_clock_mono_ns() - t0) / 1000000 < 2000);
  if (cl.bad[0]) fail_msg("%s", cl.bad);
  assert_true(cl.failed > 0);
  assert_int_equal(cl.ok + cl.failed, 40);
  /* the error is the direct path's: closed by the server (or reset) */
  assert_true(strcmp(cl.first_error, "connection closed by server") == 0 ||
              strstr(cl.first_error, "read failed") != NULL);
  /* Redis down: refused at once */
  client_init(&cl);
  ops[0] = (struct op){.cl = &cl, .n = 0, .kind = K_ECHO, .expect = "y"};
  submit(f->b, ep, &ops[0], &tmpl, "ECHO y");
  client_wait(&cl, 0);
  assert_int_equal(cl.failed, 1);
  assert_non_null(strstr(cl.first_error, "failed: Connection refused"));
  assert_non_null(strstr(cl.first_error, "connect to 127.0.0.1:"));
  /* and back */
  assert_true(rbt_redis_restart(&f->redis, NULL));
  redisFree(f->rc);
  f->rc = rbt_redis_connect(f->redis.port, NULL);
  client_init(&cl);
  for (int n = 0; n < 10; n++) {
    ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_ECHO, .expect = "z"};
    submit(f->b, ep, &ops[n], &tmpl, "ECHO z");
  }
  client_wait(&cl, 0);
  assert_int_equal(cl.ok, 10);
}

/* A server that never answers: the reply timeout; then the stop answers what is left. */
static void test_timeout_and_stop(void **state) {
  struct fixture *f = *state;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(lfd, 64), 0);
  getsockname(lfd, (struct sockaddr *)&sa, &sl);
  struct action_batch_ep *ep = action_batch_endpoint(f->b, "127.0.0.1", ntohs(sa.sin_port), "");
  struct action_batch_cmd tmpl = {.conns = 1, .wait_us = 0, .timeout_ms = 200};
  struct client cl;
  client_init(&cl);
  struct op ops[10];
  uint64_t t0 = rb_clock_mono_ns();
  for (int n = 0; n < 10; n++) {
    ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_ECHO, .expect = "x"};
    submit(f->b, ep, &ops[n], &tmpl, "ECHO x");
  }
  client_wait(&cl, 0);
  uint64_t took = (rb_clock_mono_ns() - t0) / 1000000;
  assert_true(took >= 190 && took < 1500);
  assert_int_equal(cl.failed, 10);
  assert_string_equal(cl.first_error, "timed out after 200 ms waiting for the reply");
  /* outstanding at the stop: answered "the action is stopping" */
  client_init(&cl);
  tmpl.timeout_ms = 60000;
  for (int n = 0; n < 10; n++) {
    ops[n] = (struct op){.cl = &cl, .n = n, .kind = K_ECHO, .expect = "x"};
    submit(f->b, ep, &ops[n], &tmpl, "ECHO x");
  }
  action_batch_destroy(f->b);
  f->b = NULL;
  assert_int_equal(cl.done, 10);
  assert_int_equal(cl.failed, 10);
  assert_string_equal(cl.first_error, "the action is stopping");
  close(lfd);
}

/* A command whose timeout runs out while Redis is busy with an earlier one (another
 * activation's slow command) fails alone; the connection carries on and its late reply is
 * dropped, not given to the next command. */
static void test_late_command_alone(void **state) {
  struct fixture *f = *state;
  struct action_batch_ep *ep = action_batch_endpoint(f->b, "127.0.0.1", f->redis.port, "");
  struct action_batch_cmd tmpl = {.conns = 1, .wait_us = 0, .timeout_ms = 10000};
  struct client slow, cl, next;
  client_init(&slow);
  client_init(&cl);
  client_init(&next);
  struct op slow_op = {.cl = &slow, .n = 0, .kind = K_INCR};
  struct op late = {.cl = &cl, .n = 0, .kind = K_ECHO, .expect = "late"};
  struct op after[5];
  submit_slow(f->b, ep, &slow_op, &tmpl, 30000000); /* 0.3 s or more */
  struct action_batch_cmd quick = tmpl;
  quick.timeout_ms = 30;
  submit(f->b, ep, &late, &quick, "ECHO late");
  client_wait(&cl, 0);
  assert_int_equal(cl.failed, 1);
  assert_string_equal(cl.first_error, "timed out after 30 ms waiting for the reply");
  for (int n = 0; n < 5; n++) {
    after[n] = (struct op){.cl = &next, .n = n, .kind = K_ECHO};
    snprintf(after[n].expect, sizeof after[n].expect, "after%d", n);
    submit(f->b, ep, &after[n], &tmpl, "ECHO after%d", n);
  }
  client_wait(&slow, 0);
  client_wait(&next, 0);
  assert_int_equal(slow.ok, 1);
  assert_int_equal(slow.failed, 0);
  if (next.bad[0]) fail_msg("%s", next.bad); /* "late"'s reply given to another: caught here */
  assert_int_equal(next.ok, 5);
  struct action_batch_ep_stats st;
  action_batch_ep_stats(f->b, ep, &st);
  assert_int_equal(st.made, 1); /* the same connection throughout */
}

static void test_auth(void **state) {
  (void)state;
  struct rbt_proc redis = {0};
  assert_true(rbt_redis_start(&redis, "Pw-Batch-1"));
  struct action_batch *b = action_batch_create();
  struct action_batch_ep *good = action_batch_endpoint(b, "127.0.0.1", redis.port, "Pw-Batch-1");
  struct action_batch_ep *bad = action_batch_endpoint(b, "127.0.0.1", redis.port, "wrong");
  struct action_batch_ep *none = action_batch_endpoint(b, "127.0.0.1", redis.port, "");
  assert_true(good != bad && good != none);
  struct action_batch_cmd tmpl = {.conns = 2, .wait_us = 0, .timeout_ms = 5000};
  struct client g, w, n;
  client_init(&g);
  client_init(&w);
  client_init(&n);
  struct op og[5], ow[5], on[5];
  for (int i = 0; i < 5; i++) {
    og[i] = (struct op){.cl = &g, .n = i, .kind = K_ECHO, .expect = "a"};
    submit(b, good, &og[i], &tmpl, "ECHO a");
    ow[i] = (struct op){.cl = &w, .n = i, .kind = K_ECHO, .expect = "a"};
    submit(b, bad, &ow[i], &tmpl, "ECHO a");
    on[i] = (struct op){.cl = &n, .n = i, .kind = K_ECHO, .expect = "a"};
    submit(b, none, &on[i], &tmpl, "ECHO a");
  }
  client_wait(&g, 0);
  client_wait(&w, 0);
  client_wait(&n, 0);
  assert_int_equal(g.ok, 5);
  assert_int_equal(w.failed, 5);
  assert_non_null(strstr(w.first_error, "AUTH failed: WRONGPASS"));
  assert_null(strstr(w.first_error, "wrong"));
  /* no password: Redis answers NOAUTH, an error reply (not a connection failure) */
  assert_int_equal(n.ok, 5);
  assert_non_null(strstr(n.bad, "NOAUTH"));
  action_batch_destroy(b);
  rbt_proc_stop(&redis, SIGTERM);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_coalescing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_rule, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connection_cut_mid_pipeline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_redis_killed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout_and_stop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_late_command_alone, setup, teardown),
      cmocka_unit_test(test_auth),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
