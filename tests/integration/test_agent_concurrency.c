/* test_agent_concurrency.c: many concurrent clients, some pipelining deeply and some not,
 * each using unique keys and values, every reply checked against its own request, through
 * rbench-agent in several configurations (plain, --coalesce, several workers and upstreams,
 * each flush mode). A misrouted, reordered, lost or duplicated reply cannot go unnoticed:
 * values name their client and sequence number, GET checks read-your-writes, INCR checks
 * exactly-once, ECHO checks local replies interleaved with forwarded ones. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbt.h"
#include "rbt_agent.h"

#define NCLIENTS 40
#define NCMDS 1500
#define NKEYS 12

static struct rbt_proc redis;

struct client_run {
  int port;
  int id;
  unsigned seed;
  unsigned run; /* key prefix: every test starts from empty keys */
  long checked;
  int errors;
  char first_error[256];
};

enum kind { K_SET, K_GET, K_INCR, K_ECHO, K_SETEX, K_MGET, K_PING };

struct expect {
  enum kind kind;
  int key, key2;
  char want[64];
  char want2[64];
  long long num;
};

static void record(struct client_run *cr, const char *fmt, ...) {
  if (cr->errors++ == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cr->first_error, sizeof cr->first_error, fmt, ap);
    va_end(ap);
  }
}

static bool str_is(const redisReply *r, const char *s) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
         strcmp(r->str, s) == 0;
}

static bool value_is(const redisReply *r, const char *want) {
  if (want[0] == '\0') return r && r->type == REDIS_REPLY_NIL;
  return r && r->type == REDIS_REPLY_STRING && strcmp(r->str, want) == 0;
}

static void check(struct client_run *cr, const struct expect *e, const redisReply *r, long seq) {
  bool ok = false;
  switch (e->kind) {
    case K_SET:
    case K_SETEX: ok = str_is(r, "OK"); break;
    case K_GET: ok = value_is(r, e->want); break;
    case K_INCR: ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == e->num; break;
    case K_ECHO: ok = value_is(r, e->want); break;
    case K_PING: ok = str_is(r, "PONG"); break;
    case K_MGET:
      ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
           value_is(r->element[0], e->want) && value_is(r->element[1], e->want2);
      break;
  }
  cr->checked++;
  if (!ok)
    record(cr, "client %d cmd %ld kind %d: reply type %d '%s' does not match '%s'", cr->id, seq,
           (int)e->kind, r ? r->type : -1, r && r->str ? r->str : "", e->want);
}

static void *client_main(void *arg) {
  struct client_run *cr = arg;
  redisContext *c = rbt_connect_timeout(cr->port);
  if (!c) {
    record(cr, "client %d cannot connect", cr->id);
    return NULL;
  }
  char vals[NKEYS][64] = {{0}};
  long long counter = 0;
  static __thread struct expect exp[64];
  unsigned seed = cr->seed;
  /* A third of the clients never pipeline (one request, one reply), the rest up to 64 deep. */
  int maxdepth = cr->id % 3 == 0 ? 1 : 64;
  for (long sent = 0; sent < NCMDS && cr->errors == 0;) {
    int depth = 1 + (int)(rand_r(&seed) % (unsigned)maxdepth);
    if (depth > NCMDS - sent) depth = (int)(NCMDS - sent);
    for (int i = 0; i < depth; i++, sent++) {
      struct expect *e = &exp[i];
      int r = (int)(rand_r(&seed) % 100);
      int k = (int)(rand_r(&seed) % NKEYS);
      memset(e, 0, sizeof *e);
      e->key = k;
      if (r < 35) {
        e->kind = K_SET;
        snprintf(vals[k], sizeof vals[k], "v:%d:%ld:%u", cr->id, sent, rand_r(&seed));
        redisAppendCommand(c, "SET conc:%u:%d:%d %s", cr->run, cr->id, k, vals[k]);
      } else if (r < 70) {
        e->kind = K_GET;
        snprintf(e->want, sizeof e->want, "%s", vals[k]);
        redisAppendCommand(c, "GET conc:%u:%d:%d", cr->run, cr->id, k);
      } else if (r < 80) {
        e->kind = K_INCR;
        e->num = ++counter;
        redisAppendCommand(c, "INCR conc:%u:%d:counter", cr->run, cr->id);
      } else if (r < 87) {
        e->kind = K_ECHO;
        snprintf(e->want, sizeof e->want, "echo:%d:%ld", cr->id, sent);
        redisAppendCommand(c, "ECHO %s", e->want);
      } else if (r < 92) {
        e->kind = K_SETEX;
        snprintf(vals[k], sizeof vals[k], "x:%d:%ld", cr->id, sent);
        redisAppendCommand(c, "SET conc:%u:%d:%d %s EX 300", cr->run, cr->id, k, vals[k]);
      } else if (r < 97) {
        e->kind = K_MGET;
        e->key2 = (k + 1) % NKEYS;
        snprintf(e->want, sizeof e->want, "%s", vals[k]);
        snprintf(e->want2, sizeof e->want2, "%s", vals[e->key2]);
        redisAppendCommand(c, "MGET conc:%u:%d:%d conc:%u:%d:%d", cr->run, cr->id, k, cr->run,
                           cr->id, e->key2);
      } else {
        e->kind = K_PING;
        redisAppendCommand(c, "PING");
      }
    }
    for (int i = 0; i < depth; i++) {
      void *reply = NULL;
      if (redisGetReply(c, &reply) != REDIS_OK) {
        record(cr, "client %d: no reply (%s)", cr->id, c->errstr);
        redisFree(c);
        return NULL;
      }
      check(cr, &exp[i], reply, sent - depth + i);
      freeReplyObject(reply);
    }
  }
  redisFree(c);
  return NULL;
}

static void run_clients(int port, unsigned seed) {
  static struct client_run runs[NCLIENTS];
  pthread_t th[NCLIENTS];
  for (int i = 0; i < NCLIENTS; i++) {
    runs[i] =
        (struct client_run){.port = port, .id = i, .seed = seed * 1000 + (unsigned)i, .run = seed};
    assert_int_equal(pthread_create(&th[i], NULL, client_main, &runs[i]), 0);
  }
  long checked = 0;
  int errors = 0;
  for (int i = 0; i < NCLIENTS; i++) {
    pthread_join(th[i], NULL);
    checked += runs[i].checked;
    errors += runs[i].errors;
    if (runs[i].errors) print_error("%s\n", runs[i].first_error);
  }
  assert_int_equal(errors, 0);
  assert_int_equal(checked, (long)NCLIENTS * NCMDS);
}

static long long metric(const char *body, const char *name) {
  char key[128];
  snprintf(key, sizeof key, "\n%s ", name);
  const char *p = strstr(body, key);
  return p ? atoll(p + strlen(key)) : -1;
}

static void with_agent(const char *const *extra, unsigned seed) {
  struct rbt_proc agent;
  const char *args[16];
  char mport[64];
  int mp = rbt_free_port(), n = 0;
  bool coalesce = false;
  snprintf(mport, sizeof mport, "127.0.0.1:%d", mp);
  args[n++] = "--metrics";
  args[n++] = mport;
  for (int i = 0; extra && extra[i]; i++) {
    coalesce |= strcmp(extra[i], "--coalesce") == 0;
    args[n++] = extra[i];
  }
  args[n] = NULL;
  assert_true(rbt_agent_start(&agent, redis.port, args, NULL));
  run_clients(agent.port, seed);
  int st = 0;
  char *body = rbt_http_get(mp, "/metrics", &st);
  assert_non_null(body);
  long long co = metric(body, "rbench_agent_coalesced_total");
  /* Runs really formed across clients when coalescing (so the checks above covered them). */
  if (coalesce && co < 1000) fail_msg("only %lld commands coalesced", co);
  if (!coalesce) assert_int_equal(co, 0);
  assert_int_equal(metric(body, "rbench_agent_requests_total"), (long long)NCLIENTS * NCMDS + 0);
  free(body);
  /* The agent is still healthy afterwards. */
  redisContext *c = rbt_connect_timeout(agent.port);
  assert_non_null(c);
  redisReply *r = redisCommand(c, "PING");
  assert_non_null(r);
  assert_string_equal(r->str, "PONG");
  freeReplyObject(r);
  redisFree(c);
  assert_int_equal(rbt_proc_stop(&agent, SIGTERM), 0);
}

static int setup(void **state) {
  (void)state;
  return rbt_redis_start(&redis, NULL) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&redis, SIGTERM);
  return 0;
}

static void test_plain(void **state) {
  (void)state;
  with_agent(NULL, 1);
}

static void test_coalesce(void **state) {
  (void)state;
  const char *a[] = {"--coalesce", NULL};
  with_agent(a, 2);
}

static void test_coalesce_workers_upstreams(void **state) {
  (void)state;
  const char *a[] = {"--coalesce", "--workers", "2", "--upstreams", "3", NULL};
  with_agent(a, 3);
}

static void test_flush_pass_small_batches(void **state) {
  (void)state;
  const char *a[] = {"--coalesce", "--flush", "pass", "--max-batch", "7", NULL};
  with_agent(a, 4);
}

static void test_flush_window(void **state) {
  (void)state;
  const char *a[] = {"--flush", "window", "--window-us", "200", NULL};
  with_agent(a, 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_coalesce),
      cmocka_unit_test(test_coalesce_workers_upstreams),
      cmocka_unit_test(test_flush_pass_small_batches),
      cmocka_unit_test(test_flush_window),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
