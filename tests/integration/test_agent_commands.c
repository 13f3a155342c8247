/* test_agent_commands.c: every command the workloads use (common/rb_workload.h: set get del
 * exists incr mget mset hset hget hgetall lpush lrange sadd smembers zadd zrangebyscore eval)
 * goes through rbench-agent exactly as it goes to Redis directly.
 *
 * Method. A generator writes, for each of 24 clients, a random but seeded stream of those
 * commands with realistic arguments: multi-key MGET/MSET/DEL/EXISTS of 1 to 12 keys, values
 * from 0 bytes to 100 KiB (binary, with CR LF inside), missing keys (nil elements in MGET,
 * empty LRANGE/SMEMBERS/HGETALL/ZRANGEBYSCORE), keys of the wrong type (-WRONGTYPE), wrong
 * arity, SET with options, the workload's EVAL script (RB_EVAL_SCRIPT, `EVAL script 1 key n`)
 * with little and much work, scripts that fail, ECHO and PING (answered by the agent itself,
 * so their replies must wait behind the client's commands in flight), inline commands. Each
 * client has keys of its own under a prefix and reads a set of shared prepared keys nobody
 * writes, so its replies do not depend on how the clients interleave.
 *
 * The same streams run once directly against redis-server (prefix dNN:) and once through the
 * agent (prefix aNN:, same length) on the same server, all 24 clients at once, written in
 * random pieces (1 byte to 64 KiB, commands split across writes): a third of the clients
 * pipeline everything at once, a third keep 3 commands in flight, a third wait for each
 * reply. Every client's raw reply bytes through the agent must equal its raw reply bytes
 * direct, byte for byte, which also checks that each client gets its own replies in its own
 * order. One server and prefixes of equal length (rather than two servers) because Redis
 * orders the members of a hash-table set by a hash seeded at random per process: on one
 * server the same operations on two keys give the same order (checked by a control run,
 * direct against direct).
 *
 * This runs in every flush mode (idle, pass, window), each with and without --coalesce, and
 * once with --coalesce, a tiny --max-batch, 3 upstreams, 2 workers, plain system calls and
 * the old event loop. Separately: client MGET/MSET are never split or merged (Redis's own
 * command counts), plain SET/GET runs are folded (and only they), the documented difference
 * of a coalesced GET of a non-string key, and the largest command a workload sends (an MSET of
 * 100 keys with 1 MiB values) with its MGET. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rb_workload.h"
#include "rbt.h"
#include "rbt_agent.h"

#define NCLIENTS 24
#define NCMDS 260
#define KEYS_PER_NS 6
#define BIG_VALUE (100 * 1024)

/* ---- agents under test -------------------------------------------------------------------- */

struct agent_cfg {
  const char *name;
  const char *args[16];
  bool coalesce;
};

static const struct agent_cfg CFGS[] = {
    {"idle", {"--flush", "idle", NULL}, false},
    {"idle+coalesce", {"--flush", "idle", "--coalesce", NULL}, true},
    {"pass", {"--flush", "pass", NULL}, false},
    {"pass+coalesce", {"--flush", "pass", "--coalesce", NULL}, true},
    {"window", {"--flush", "window", "--window-us", "3000", NULL}, false},
    {"window+coalesce", {"--flush", "window", "--window-us", "3000", "--coalesce", NULL}, true},
    {"idle+coalesce, max-batch 5, 3 upstreams, 2 workers, plain calls, no upstream wait",
     {"--flush", "idle", "--coalesce", "--max-batch", "5", "--upstreams", "3", "--workers", "2",
      "--no-io-uring", "--no-upstream-wait", NULL},
     true},
};
#define NCFGS (sizeof CFGS / sizeof CFGS[0])

static struct rbt_proc redis, agents[NCFGS];
static int metrics_ports[NCFGS];

/* ---- a growable byte buffer --------------------------------------------------------------- */

struct buf {
  char *p;
  size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more) {
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) cap *= 2;
  b->p = realloc(b->p, cap);
  assert_non_null(b->p);
  b->cap = cap;
}

static void buf_add(struct buf *b, const void *p, size_t n) {
  buf_reserve(b, n);
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void buf_printf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof tmp);
  buf_add(b, tmp, (size_t)n);
}

/* ---- deterministic randomness (the test's own; the workload's streams are not needed) ----- */

static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static unsigned below(uint64_t *s, unsigned n) { return (unsigned)(rnd(s) % n); }

/* ---- command streams ---------------------------------------------------------------------- */

/* One client's commands: req holds them back to back; cmd_end[i] is where command i ends;
 * what[i] names it for failure messages. */
struct stream {
  struct buf req;
  size_t n;
  size_t cmd_end[NCMDS + 64];
  char what[NCMDS + 64][64];
};

/* The command being built: arguments in arena, (offset, length) pairs in arg. */
struct cmd {
  struct buf arena;
  size_t off[256], len[256];
  size_t argc;
};

static void arg(struct cmd *c, const void *p, size_t n) {
  assert_true(c->argc < 256);
  c->off[c->argc] = c->arena.len;
  c->len[c->argc] = n;
  c->argc++;
  buf_add(&c->arena, p, n);
}

static void args(struct cmd *c, const char *s) { arg(c, s, strlen(s)); }

static void argf(struct cmd *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof tmp);
  arg(c, tmp, (size_t)n);
}

/* Appends c to s as a multibulk command and starts a new one. */
static void emit(struct stream *s, struct cmd *c) {
  buf_printf(&s->req, "*%zu\r\n", c->argc);
  for (size_t i = 0; i < c->argc; i++) {
    buf_printf(&s->req, "$%zu\r\n", c->len[i]);
    buf_add(&s->req, c->arena.p + c->off[i], c->len[i]);
    buf_add(&s->req, "\r\n", 2);
  }
  size_t wn = c->len[0] < 20 ? c->len[0] : 20;
  snprintf(s->what[s->n], sizeof s->what[0], "%.*s (%zu args)", (int)wn, c->arena.p + c->off[0],
           c->argc);
  s->cmd_end[s->n++] = s->req.len;
  c->argc = 0;
  c->arena.len = 0;
}

/* An inline command (Redis and the agent both accept them). */
static void emit_inline(struct stream *s, const char *line) {
  buf_printf(&s->req, "%s\r\n", line);
  snprintf(s->what[s->n], sizeof s->what[0], "inline '%.40s'", line);
  s->cmd_end[s->n++] = s->req.len;
}

/* Value sizes: mostly small, some KB, a few 100 KiB; bytes are binary, CR LF included. */
static void value(struct cmd *c, uint64_t *r) {
  unsigned p = below(r, 100);
  size_t n = p < 70   ? below(r, 65)
             : p < 90 ? 65 + below(r, 2000)
             : p < 98 ? 2000 + below(r, 18000)
                      : BIG_VALUE;
  buf_reserve(&c->arena, n);
  char *v = c->arena.p + c->arena.len;
  for (size_t i = 0; i < n; i++) v[i] = (char)(rnd(r) >> 56);
  if (n >= 4) memcpy(v + n / 2, "\r\n$3", 4); /* looks like protocol: must not confuse anyone */
  c->off[c->argc] = c->arena.len;
  c->len[c->argc] = n;
  c->argc++;
  c->arena.len += n;
}

enum ns { NS_STR, NS_CTR, NS_HASH, NS_LIST, NS_SET, NS_ZSET, NS_N };
static const char *const TAG[NS_N] = {"", "n:", "h:", "l:", "s:", "z:"};

/* A key of namespace ns: the client's own (prefix) or, when shared, one of the prepared keys
 * (p:), which only reads touch. With wrong_ok, sometimes a key of another namespace (a
 * WRONGTYPE error, or a nil in MGET); never a string key for a command that creates another
 * type (HSET LPUSH SADD ZADD on a missing key), so a GET never meets a non-string key. */
static void key(struct cmd *c, uint64_t *r, const char *prefix, int client, enum ns ns, bool shared,
                bool wrong_ok) {
  if (wrong_ok && below(r, 100) < 8) {
    enum ns was = ns;
    ns = (enum ns)((ns + 1 + below(r, NS_N - 1)) % NS_N);
    if (ns == NS_STR && was >= NS_HASH && !shared) ns = NS_CTR;
  }
  if (shared) argf(c, "p:%s%u", TAG[ns], below(r, 4));
  else argf(c, "%sc%d:%s%u", prefix, client, TAG[ns], below(r, KEYS_PER_NS));
}

/* Generates client `client`'s stream with key prefix `prefix` (the same commands, replies and
 * randomness for every prefix of the same length). */
static void gen_stream(struct stream *s, const char *prefix, int client) {
  uint64_t r = 0x5eed0000ULL + (uint64_t)client;
  struct cmd c = {0};
  memset(s, 0, sizeof *s);
  while (s->n < NCMDS) {
    unsigned op = below(&r, 100);
    bool shared = below(&r, 100) < 30;
    if (op < 12) { /* plain SET: own strings only, so GET never meets another type */
      args(&c, "SET");
      key(&c, &r, prefix, client, NS_STR, false, false);
      value(&c, &r);
    } else if (op < 14) { /* SET with options: never coalesced */
      static const char *const OPT[] = {"EX", "NX", "XX", "GET", "KEEPTTL", "PX"};
      const char *o = OPT[below(&r, 6)];
      args(&c, "SET");
      key(&c, &r, prefix, client, NS_STR, false, false);
      value(&c, &r);
      args(&c, o);
      if (o[0] == 'E' || o[0] == 'P') args(&c, "100000");
    } else if (op < 27) { /* plain GET: own or shared strings */
      args(&c, "GET");
      key(&c, &r, prefix, client, NS_STR, shared, false);
    } else if (op < 29) {
      args(&c, below(&r, 2) ? "DEL" : "UNLINK");
      for (unsigned i = 0, n = 1 + below(&r, 3); i < n; i++)
        key(&c, &r, prefix, client, (enum ns)below(&r, NS_N), false, false);
    } else if (op < 32) {
      args(&c, "EXISTS");
      for (unsigned i = 0, n = 1 + below(&r, 4); i < n; i++)
        key(&c, &r, prefix, client, (enum ns)below(&r, NS_N), below(&r, 2), false);
    } else if (op < 38) {
      args(&c, "INCR");
      key(&c, &r, prefix, client, below(&r, 6) ? NS_CTR : NS_STR, false, true);
    } else if (op < 43) { /* MGET: nil for missing and non-string keys */
      args(&c, "MGET");
      for (unsigned i = 0, n = 1 + below(&r, 12); i < n; i++)
        key(&c, &r, prefix, client, NS_STR, below(&r, 2), true);
    } else if (op < 47) {
      args(&c, "MSET");
      for (unsigned i = 0, n = 1 + below(&r, 6); i < n; i++) {
        key(&c, &r, prefix, client, NS_STR, false, false);
        value(&c, &r);
      }
    } else if (op < 51) {
      args(&c, "HSET");
      key(&c, &r, prefix, client, NS_HASH, false, true);
      for (unsigned i = 0, n = 1 + below(&r, 3); i < n; i++) {
        argf(&c, "f%u", below(&r, 20));
        value(&c, &r);
      }
    } else if (op < 55) {
      args(&c, "HGET");
      key(&c, &r, prefix, client, NS_HASH, shared, true);
      argf(&c, "f%u", below(&r, 60));
    } else if (op < 58) {
      args(&c, "HGETALL");
      key(&c, &r, prefix, client, NS_HASH, shared, true);
    } else if (op < 62) {
      args(&c, "LPUSH");
      key(&c, &r, prefix, client, NS_LIST, false, true);
      for (unsigned i = 0, n = 1 + below(&r, 4); i < n; i++) value(&c, &r);
    } else if (op < 66) {
      args(&c, "LRANGE");
      key(&c, &r, prefix, client, NS_LIST, shared, true);
      int a = (int)below(&r, 40) - 5, span = (int)below(&r, 30);
      argf(&c, "%d", a);
      if (below(&r, 5) == 0) args(&c, "-1");
      else argf(&c, "%d", a + span);
    } else if (op < 70) {
      args(&c, "SADD");
      key(&c, &r, prefix, client, NS_SET, false, true);
      for (unsigned i = 0, n = 1 + below(&r, 5); i < n; i++) {
        if (below(&r, 10) == 0) value(&c, &r);
        else argf(&c, "m%u", below(&r, 300));
      }
    } else if (op < 73) {
      args(&c, "SMEMBERS");
      key(&c, &r, prefix, client, NS_SET, shared, true);
    } else if (op < 77) {
      static const char *const SCORE[] = {"1.5", "-3", "+inf", "1e3", "0"};
      args(&c, "ZADD");
      key(&c, &r, prefix, client, NS_ZSET, false, true);
      for (unsigned i = 0, n = 1 + below(&r, 4); i < n; i++) {
        if (below(&r, 6) == 0) args(&c, SCORE[below(&r, 5)]);
        else argf(&c, "%u", below(&r, 200));
        argf(&c, "m%u", below(&r, 300));
      }
    } else if (op < 81) {
      args(&c, "ZRANGEBYSCORE");
      key(&c, &r, prefix, client, NS_ZSET, shared, true);
      unsigned lo = below(&r, 250);
      if (below(&r, 8) == 0) args(&c, "-inf");
      else argf(&c, "%s%u", below(&r, 3) ? "" : "(", lo);
      if (below(&r, 8) == 0) args(&c, "+inf");
      else argf(&c, "%u", lo + below(&r, 40));
      if (below(&r, 3) == 0) args(&c, "WITHSCORES");
      if (below(&r, 4) == 0) {
        args(&c, "LIMIT");
        argf(&c, "%u", below(&r, 3));
        argf(&c, "%u", below(&r, 8));
      }
    } else if (op < 85) { /* the workload's heavy query: EVAL script 1 key n */
      static const unsigned WORK[] = {0, 1, 100, 1000, 20000};
      args(&c, "EVAL");
      args(&c, RB_EVAL_SCRIPT);
      args(&c, "1");
      key(&c, &r, prefix, client, NS_STR, shared, true);
      argf(&c, "%u", WORK[below(&r, 5)]);
    } else if (op < 87) { /* scripts that fail (a WRONGTYPE inside, a bad key count), or that
                           * return arrays nested deep (Redis sends thousands of levels) */
      static const unsigned DEPTH[] = {2, 70, 3000};
      unsigned how = below(&r, 3);
      args(&c, "EVAL");
      if (how == 2) {
        args(&c,
             "local t={} local c=t for i=1,tonumber(ARGV[1]) do local n={} c[1]=n c[2]=i c=n end "
             "c[1]='leaf' return t");
        args(&c, "0");
        argf(&c, "%u", DEPTH[below(&r, 3)]);
      } else if (how == 1) {
        args(&c, "return redis.call('INCR', KEYS[1])");
        args(&c, "1");
        key(&c, &r, prefix, client, NS_HASH, false, false);
      } else {
        args(&c, RB_EVAL_SCRIPT);
        args(&c, "3");
        args(&c, "k");
      }
    } else if (op < 91) { /* wrong arity */
      static const char *const CMDS[] = {
          "GET",  "SET",  "INCR",          "MGET", "MSET",   "HSET", "HGET",    "LPUSH",   "LRANGE",
          "SADD", "ZADD", "ZRANGEBYSCORE", "EVAL", "EXISTS", "DEL",  "HGETALL", "SMEMBERS"};
      const char *name = CMDS[below(&r, sizeof CMDS / sizeof CMDS[0])];
      args(&c, name);
      if (strcmp(name, "GET") == 0 || strcmp(name, "INCR") == 0 || strcmp(name, "HGETALL") == 0 ||
          strcmp(name, "SMEMBERS") == 0) {
        if (below(&r, 2)) {
          key(&c, &r, prefix, client, NS_STR, false, false);
          args(&c, "extra");
        }
      } else if (strcmp(name, "MSET") == 0 || strcmp(name, "HSET") == 0) {
        key(&c, &r, prefix, client, NS_STR, false, false);
        if (name[0] == 'H') args(&c, "f");
      } else if (strcmp(name, "SET") == 0 || strcmp(name, "HGET") == 0 ||
                 strcmp(name, "LPUSH") == 0 || strcmp(name, "SADD") == 0) {
        key(&c, &r, prefix, client, NS_STR, false, false);
      } else if (strcmp(name, "ZADD") == 0 || strcmp(name, "LRANGE") == 0 ||
                 strcmp(name, "ZRANGEBYSCORE") == 0) {
        key(&c, &r, prefix, client, NS_ZSET, false, false);
        args(&c, "1");
      }
    } else if (op < 95) { /* answered by the agent itself, in order behind commands in flight */
      if (below(&r, 3)) {
        args(&c, "ECHO");
        argf(&c, "client %d command %zu", client, s->n);
      } else {
        args(&c, "PING");
      }
    } else if (op < 97) { /* inline commands */
      char line[128];
      unsigned k = below(&r, KEYS_PER_NS);
      if (below(&r, 2)) snprintf(line, sizeof line, "INCR %sc%d:n:%u", prefix, client, k);
      else snprintf(line, sizeof line, "GET %sc%d:%u", prefix, client, k);
      emit_inline(s, line);
      continue;
    } else { /* a shared hot key read many times: coalesced GETs of one key */
      args(&c, "GET");
      args(&c, "p:0");
    }
    emit(s, &c);
  }
  free(c.arena.p);
}

/* ---- the RESP framer (independent of the agent's) ---------------------------------------- */

/* Length of the complete RESP2 reply at p[0..n): > 0 complete, 0 incomplete, -1 malformed. */
static long long resp_len(const char *p, size_t n) {
  const char *cr = n > 0 ? memmem(p, n, "\r\n", 2) : NULL;
  if (!cr) return 0;
  size_t line = (size_t)(cr - p) + 2;
  long long v = 0;
  switch (p[0]) {
    case '+':
    case '-':
    case ':': return (long long)line;
    case '$':
      v = atoll(p + 1);
      if (v < 0) return (long long)line;
      return n < line + (size_t)v + 2 ? 0 : (long long)(line + (size_t)v + 2);
    case '*': {
      v = atoll(p + 1);
      size_t off = line;
      for (long long i = 0; i < v; i++) {
        long long e = resp_len(p + off, n - off);
        if (e <= 0) return e;
        off += (size_t)e;
      }
      return (long long)off;
    }
    default: return -1;
  }
}

/* ---- running streams over many connections at once --------------------------------------- */

struct conn {
  int fd;
  const struct stream *s;
  size_t window; /* commands in flight at most (SIZE_MAX: everything at once) */
  size_t sent;   /* bytes of s->req written */
  struct buf resp;
  size_t framed; /* bytes of resp split into complete replies */
  size_t nreplies;
  size_t reply_end[NCMDS + 64];
  uint64_t rng;
};

/* Bytes c may write now: up to the end of command (replies + window). */
static size_t send_limit(const struct conn *c) {
  if (c->window == SIZE_MAX || c->nreplies + c->window >= c->s->n) return c->s->req.len;
  return c->s->cmd_end[c->nreplies + c->window - 1];
}

/* Runs every stream on its own connection to port, all at once, writing random pieces. */
static void run_streams(int port, struct stream *ss, struct conn *cs, int n) {
  static const size_t PIECE[] = {1, 7, 100, 1500, 16384, 65536, 65536, 65536};
  for (int i = 0; i < n; i++) {
    memset(&cs[i], 0, sizeof cs[i]);
    cs[i].fd = rbt_tcp_connect(port, 10000);
    assert_true(cs[i].fd >= 0);
    cs[i].s = &ss[i];
    cs[i].window = i % 3 == 0 ? SIZE_MAX : i % 3 == 1 ? 3 : 1;
    cs[i].rng = 77 + (uint64_t)i;
  }
  long long deadline = rbt_now_ms() + 120000;
  for (;;) {
    struct pollfd pf[NCLIENTS];
    int open = 0;
    for (int i = 0; i < n; i++) {
      struct conn *c = &cs[i];
      pf[i].fd = c->nreplies < c->s->n ? c->fd : -1;
      pf[i].events = (short)(POLLIN | (c->sent < send_limit(c) ? POLLOUT : 0));
      pf[i].revents = 0;
      open += pf[i].fd >= 0;
    }
    if (open == 0) break;
    if (rbt_now_ms() > deadline) fail_msg("streams on port %d did not finish in 120 s", port);
    int rc = poll(pf, (nfds_t)n, 1000);
    assert_true(rc >= 0 || errno == EINTR);
    for (int i = 0; i < n; i++) {
      struct conn *c = &cs[i];
      if (pf[i].revents & POLLOUT) {
        size_t want = PIECE[below(&c->rng, sizeof PIECE / sizeof PIECE[0])];
        size_t lim = send_limit(c) - c->sent;
        ssize_t w = send(c->fd, c->s->req.p + c->sent, want < lim ? want : lim,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
          fail_msg("client %d: send: %s", i, strerror(errno));
        if (w > 0) c->sent += (size_t)w;
      }
      if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        buf_reserve(&c->resp, 65536);
        ssize_t got = recv(c->fd, c->resp.p + c->resp.len, 65536, MSG_DONTWAIT);
        if (got == 0) fail_msg("client %d: connection closed after %zu replies", i, c->nreplies);
        if (got < 0 && errno != EAGAIN && errno != EINTR)
          fail_msg("client %d: recv: %s", i, strerror(errno));
        if (got > 0) c->resp.len += (size_t)got;
        long long e;
        while ((e = resp_len(c->resp.p + c->framed, c->resp.len - c->framed)) > 0) {
          c->framed += (size_t)e;
          if (c->nreplies >= c->s->n) fail_msg("client %d: more replies than commands", i);
          c->reply_end[c->nreplies++] = c->framed;
        }
        if (e < 0) fail_msg("client %d: malformed reply after %zu replies", i, c->nreplies);
      }
    }
  }
  for (int i = 0; i < n; i++) {
    close(cs[i].fd);
    if (cs[i].framed != cs[i].resp.len) fail_msg("client %d: bytes after the last reply", i);
  }
}

static void conns_free(struct conn *cs, int n) {
  for (int i = 0; i < n; i++) free(cs[i].resp.p);
}

/* Prints at most 160 bytes of p[0..n), escaped. */
static void show(const char *p, size_t n, char *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n && i < 160 && k + 8 < cap; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch >= 0x20 && ch < 0x7f && ch != '\\') out[k++] = (char)ch;
    else k += (size_t)snprintf(out + k, cap - k, "\\x%02x", ch);
  }
  snprintf(out + k, cap - k, "%s (%zu bytes)", n > 160 ? "..." : "", n);
}

/* Every client's replies through `got` equal its replies in `want`, byte for byte. */
static void compare(const char *label, const struct conn *want, const struct conn *got, int n) {
  for (int i = 0; i < n; i++) {
    const struct conn *a = &want[i], *b = &got[i];
    assert_int_equal(a->nreplies, a->s->n);
    assert_int_equal(b->nreplies, b->s->n);
    if (a->resp.len == b->resp.len && memcmp(a->resp.p, b->resp.p, a->resp.len) == 0) continue;
    for (size_t k = 0; k < a->nreplies; k++) {
      size_t as = k ? a->reply_end[k - 1] : 0, bs = k ? b->reply_end[k - 1] : 0;
      size_t al = a->reply_end[k] - as, bl = b->reply_end[k] - bs;
      if (al == bl && memcmp(a->resp.p + as, b->resp.p + bs, al) == 0) continue;
      char sa[1400], sb[1400];
      show(a->resp.p + as, al, sa, sizeof sa);
      show(b->resp.p + bs, bl, sb, sizeof sb);
      fail_msg("%s: client %d (window %zu), reply %zu to %s:\n  direct: %s\n  agent:  %s", label, i,
               b->window, k, a->s->what[k], sa, sb);
    }
  }
}

/* ---- setup: Redis with the shared prepared keys, one agent per configuration -------------- */

static void redis_do(redisContext *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(c, fmt, ap);
  va_end(ap);
  assert_non_null(r);
  if (r->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", fmt, r->str);
  freeReplyObject(r);
}

static void prepare_shared(void) {
  redisContext *c = rbt_redis_connect(redis.port, NULL);
  assert_non_null(c);
  char *big = malloc(BIG_VALUE);
  assert_non_null(big);
  rb_workload_fill_value(big, BIG_VALUE, 3);
  for (int i = 0; i < 4; i++) {
    redis_do(c, "SET p:%d %b", i, big, (size_t)(i == 3 ? BIG_VALUE : 10 * i)); /* p:0 is "" */
    for (int f = 0; f < 50; f++) redis_do(c, "HSET p:h:%d f%d v%d-%d", i, f, i, f);
    for (int e = 0; e < 300; e++) redis_do(c, "RPUSH p:l:%d e%d", i, e);
    for (int m = 0; m < 200; m++) redis_do(c, "SADD p:s:%d m%d", i, m);
    for (int m = 0; m < 300; m++) redis_do(c, "ZADD p:z:%d %d m%d", i, m, m);
  }
  /* Not the namespaces' types: a wrong-type read of a shared key. */
  redis_do(c, "SET p:n:0 41");
  free(big);
  redisFree(c);
}

static int setup(void **state) {
  (void)state;
  if (!rbt_redis_start(&redis, NULL)) return -1;
  for (size_t i = 0; i < NCFGS; i++) {
    const char *extra[24];
    char metrics[64];
    size_t n = 0;
    metrics_ports[i] = rbt_free_port();
    snprintf(metrics, sizeof metrics, "127.0.0.1:%d", metrics_ports[i]);
    extra[n++] = "--metrics";
    extra[n++] = metrics;
    for (size_t k = 0; CFGS[i].args[k]; k++) extra[n++] = CFGS[i].args[k];
    extra[n] = NULL;
    if (!rbt_agent_start(&agents[i], redis.port, extra, NULL)) return -1;
    if (!rbt_wait_port(metrics_ports[i], 5000)) return -1;
  }
  prepare_shared();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int bad = 0;
  for (size_t i = 0; i < NCFGS; i++) bad |= rbt_proc_stop(&agents[i], SIGTERM) != 0;
  rbt_proc_stop(&redis, SIGTERM);
  return bad ? -1 : 0;
}

/* A counter of the agent's /metrics (summed over workers), -1 if missing. */
static long long agent_metric(size_t cfg, const char *name) {
  int status = 0;
  char *body = rbt_http_get(metrics_ports[cfg], "/metrics", &status);
  assert_non_null(body);
  assert_int_equal(status, 200);
  long long v = -1;
  size_t nl = strlen(name);
  for (char *line = body; line; line = strchr(line, '\n')) {
    if (*line == '\n') line++;
    if (strncmp(line, name, nl) == 0 && line[nl] == ' ') v = atoll(line + nl + 1);
  }
  free(body);
  return v;
}

/* ---- tests -------------------------------------------------------------------------------- */

static struct stream streams_a[NCLIENTS], streams_b[NCLIENTS];
static struct conn conns_a[NCLIENTS], conns_b[NCLIENTS];

static void gen_all(struct stream *ss, const char *kind, size_t idx) {
  char prefix[16];
  snprintf(prefix, sizeof prefix, "%s%02zu:", kind, idx);
  for (int i = 0; i < NCLIENTS; i++) {
    gen_stream(&ss[i], prefix, i);
    assert_int_equal(ss[i].n, NCMDS);
  }
}

static void free_all(struct stream *ss) {
  for (int i = 0; i < NCLIENTS; i++) free(ss[i].req.p);
}

/* The premise: the same streams under two prefixes give the same bytes directly. */
static void test_direct_control(void **state) {
  (void)state;
  gen_all(streams_a, "d", 90);
  gen_all(streams_b, "e", 91);
  run_streams(redis.port, streams_a, conns_a, NCLIENTS);
  run_streams(redis.port, streams_b, conns_b, NCLIENTS);
  compare("direct vs direct", conns_a, conns_b, NCLIENTS);
  /* The streams do what they claim: big values, nil MGET elements, WRONGTYPE, arity errors,
   * empty arrays all occur in the replies. */
  size_t big = 0, wrongtype = 0, arity = 0, empty = 0, nil = 0;
  for (int i = 0; i < NCLIENTS; i++) {
    const struct buf *b = &conns_a[i].resp;
    for (size_t k = 0; k < conns_a[i].nreplies; k++) {
      size_t s = k ? conns_a[i].reply_end[k - 1] : 0, l = conns_a[i].reply_end[k] - s;
      const char *p = b->p + s;
      big += l > BIG_VALUE;
      wrongtype += l > 10 && memcmp(p, "-WRONGTYPE", 10) == 0;
      arity += memmem(p, l, "wrong number of arguments", 25) != NULL;
      empty += l == 4 && memcmp(p, "*0\r\n", 4) == 0;
      nil += p[0] == '*' && memmem(p, l, "$-1\r\n", 5) != NULL;
    }
  }
  if (big < 5 || wrongtype < 20 || arity < 20 || empty < 20 || nil < 20)
    fail_msg("streams too tame: %zu big, %zu WRONGTYPE, %zu arity, %zu empty, %zu MGET nil", big,
             wrongtype, arity, empty, nil);
  conns_free(conns_a, NCLIENTS);
  conns_free(conns_b, NCLIENTS);
  free_all(streams_a);
  free_all(streams_b);
}

static void run_config(size_t i) {
  gen_all(streams_a, "d", i);
  gen_all(streams_b, "a", i);
  long long co0 = agent_metric(i, "rbench_agent_coalesced_total");
  long long up0 = agent_metric(i, "rbench_agent_upstream_errors_total");
  run_streams(redis.port, streams_a, conns_a, NCLIENTS);
  run_streams(agents[i].port, streams_b, conns_b, NCLIENTS);
  compare(CFGS[i].name, conns_a, conns_b, NCLIENTS);
  long long co = agent_metric(i, "rbench_agent_coalesced_total") - co0;
  if (CFGS[i].coalesce && co <= 0) fail_msg("%s: nothing was coalesced", CFGS[i].name);
  if (!CFGS[i].coalesce && co != 0) fail_msg("%s: %lld coalesced", CFGS[i].name, co);
  print_message("%s: %lld commands coalesced\n", CFGS[i].name, co);
  /* Nothing above made the agent give up a connection to Redis. */
  assert_int_equal(agent_metric(i, "rbench_agent_upstream_errors_total"), up0);
  conns_free(conns_a, NCLIENTS);
  conns_free(conns_b, NCLIENTS);
  free_all(streams_a);
  free_all(streams_b);
}

static void test_idle(void **state) {
  (void)state;
  run_config(0);
}
static void test_idle_coalesce(void **state) {
  (void)state;
  run_config(1);
}
static void test_pass(void **state) {
  (void)state;
  run_config(2);
}
static void test_pass_coalesce(void **state) {
  (void)state;
  run_config(3);
}
static void test_window(void **state) {
  (void)state;
  run_config(4);
}
static void test_window_coalesce(void **state) {
  (void)state;
  run_config(5);
}
static void test_small_batches_many_upstreams(void **state) {
  (void)state;
  run_config(6);
}

/* Redis's calls of one command since the last CONFIG RESETSTAT (0 when never called). */
static long long redis_calls(const char *cmd) {
  redisContext *c = rbt_redis_connect(redis.port, NULL);
  assert_non_null(c);
  redisReply *r = redisCommand(c, "INFO commandstats");
  assert_non_null(r);
  char needle[64];
  snprintf(needle, sizeof needle, "cmdstat_%s:calls=", cmd);
  const char *p = strstr(r->str, needle);
  long long v = p ? atoll(p + strlen(needle)) : 0;
  freeReplyObject(r);
  redisFree(c);
  return v;
}

static void reset_stats(void) {
  redisContext *c = rbt_redis_connect(redis.port, NULL);
  assert_non_null(c);
  redis_do(c, "CONFIG RESETSTAT");
  redisFree(c);
}

/* A stream of only commands that are never coalesced (client MGET and MSET among them). */
static void gen_multikey(struct stream *s, const char *prefix, int client) {
  struct cmd c = {0};
  memset(s, 0, sizeof *s);
  for (int k = 0; k < 40; k++) {
    args(&c, "MGET");
    for (int i = 0; i < 1 + (k % 5); i++) argf(&c, "%sc%d:%d", prefix, client, (k + i) % 7);
    emit(s, &c);
    args(&c, "MSET");
    for (int i = 0; i < 1 + (k % 3); i++) {
      argf(&c, "%sc%d:%d", prefix, client, (k * 3 + i) % 7);
      argf(&c, "v%d-%d", k, i);
    }
    emit(s, &c);
    args(&c, "MSET"); /* one pair: still the client's MSET, never folded with others */
    argf(&c, "%sc%d:%d", prefix, client, k % 7);
    argf(&c, "w%d", k);
    emit(s, &c);
    args(&c, "MGET");
    argf(&c, "%sc%d:%d", prefix, client, k % 7);
    emit(s, &c);
    args(&c, "SET"); /* with an option: not plain, passes unchanged */
    argf(&c, "%sc%d:x", prefix, client);
    argf(&c, "%d", k);
    args(&c, "XX");
    emit(s, &c);
  }
  free(c.arena.p);
}

/* Client MGET and MSET pass unchanged through the coalescing agent: Redis counts exactly the
 * clients' MGET and MSET calls (none merged, none split) and no GET or SET. */
static void test_multikey_never_split_or_merged(void **state) {
  (void)state;
  for (size_t cfg = 1; cfg < NCFGS; cfg += 2) {
    char pa[16], pd[16];
    snprintf(pa, sizeof pa, "ma%zu:", cfg);
    snprintf(pd, sizeof pd, "md%zu:", cfg);
    for (int i = 0; i < NCLIENTS; i++) {
      gen_multikey(&streams_a[i], pd, i);
      gen_multikey(&streams_b[i], pa, i);
    }
    run_streams(redis.port, streams_a, conns_a, NCLIENTS);
    reset_stats();
    run_streams(agents[cfg].port, streams_b, conns_b, NCLIENTS);
    assert_int_equal(redis_calls("mget"), NCLIENTS * 80);
    assert_int_equal(redis_calls("mset"), NCLIENTS * 80);
    assert_int_equal(redis_calls("set"), NCLIENTS * 40);
    assert_int_equal(redis_calls("get"), 0);
    compare(CFGS[cfg].name, conns_a, conns_b, NCLIENTS);
    conns_free(conns_a, NCLIENTS);
    conns_free(conns_b, NCLIENTS);
    free_all(streams_a);
    free_all(streams_b);
  }
}

/* A stream of plain SETs and GETs of the client's own keys. */
static void gen_setget(struct stream *s, const char *prefix, int client) {
  struct cmd c = {0};
  memset(s, 0, sizeof *s);
  for (int k = 0; k < 60; k++) {
    args(&c, k % 3 == 2 ? "GET" : "SET");
    argf(&c, "%sc%d:%d", prefix, client, k % 4);
    if (k % 3 != 2) argf(&c, "v%d", k);
    emit(s, &c);
  }
  free(c.arena.p);
}

/* Plain SET/GET from many clients are folded into MSET/MGET by --coalesce (fewer calls at
 * Redis) and every client still reads its own writes. */
static void test_plain_set_get_folded(void **state) {
  (void)state;
  size_t cfg = 5; /* window + coalesce: every client's pipeline lands in one batch */
  for (int i = 0; i < NCLIENTS; i++) {
    gen_setget(&streams_a[i], "fd:", i);
    gen_setget(&streams_b[i], "fa:", i);
  }
  run_streams(redis.port, streams_a, conns_a, NCLIENTS);
  reset_stats();
  run_streams(agents[cfg].port, streams_b, conns_b, NCLIENTS);
  long long set = redis_calls("set"), mset = redis_calls("mset"), get = redis_calls("get"),
            mget = redis_calls("mget");
  print_message("%d SET and %d GET became %lld SET + %lld MSET, %lld GET + %lld MGET\n",
                NCLIENTS * 40, NCLIENTS * 20, set, mset, get, mget);
  assert_true(mset > 0 && mget > 0);
  assert_true(set + mset < NCLIENTS * 40);
  assert_true(get + mget < NCLIENTS * 20);
  compare(CFGS[cfg].name, conns_a, conns_b, NCLIENTS);
  conns_free(conns_a, NCLIENTS);
  conns_free(conns_b, NCLIENTS);
  free_all(streams_a);
  free_all(streams_b);
}

/* One raw exchange: writes req, returns the n replies' bytes (malloc'd). */
static char *exchange(int port, const char *req, int n) {
  int fd = rbt_tcp_connect(port, 10000);
  assert_true(fd >= 0);
  assert_true(rbt_send(fd, req, strlen(req)));
  struct buf b = {0};
  size_t framed = 0;
  for (int got = 0; got < n;) {
    long long e = resp_len(b.p ? b.p + framed : "", b.len - framed);
    if (e > 0) {
      framed += (size_t)e;
      got++;
      continue;
    }
    assert_true(e == 0);
    buf_reserve(&b, 4096);
    ssize_t r = recv(fd, b.p + b.len, 4096, 0);
    assert_true(r > 0);
    b.len += (size_t)r;
  }
  close(fd);
  buf_add(&b, "", 1);
  return b.p;
}

/* Writes req[0..len) to port and returns the n replies' bytes in *out (reads 1 MiB at once). */
static void exchange_buf(int port, const struct buf *req, int n, struct buf *out) {
  int fd = rbt_tcp_connect(port, 30000);
  assert_true(fd >= 0);
  size_t sent = 0, framed = 0;
  int got = 0;
  memset(out, 0, sizeof *out);
  long long deadline = rbt_now_ms() + 60000;
  while (got < n) {
    assert_true(rbt_now_ms() < deadline);
    struct pollfd pf = {fd, (short)(POLLIN | (sent < req->len ? POLLOUT : 0)), 0};
    assert_true(poll(&pf, 1, 1000) >= 0 || errno == EINTR);
    if (pf.revents & POLLOUT) {
      ssize_t w = send(fd, req->p + sent, req->len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) sent += (size_t)w;
    }
    if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
      buf_reserve(out, 1 << 20);
      ssize_t r = recv(fd, out->p + out->len, 1 << 20, MSG_DONTWAIT);
      if (r == 0) fail_msg("port %d closed the connection after %d replies", port, got);
      if (r > 0) out->len += (size_t)r;
      long long e;
      while (got < n && (e = resp_len(out->p + framed, out->len - framed)) > 0) {
        framed += (size_t)e;
        got++;
      }
    }
  }
  close(fd);
}

/* The largest command a workload sends, an MSET of RB_KEYS_PER_COMMAND_MAX keys with
 * RB_VALUE_SIZE_MAX-byte values (about 100 MiB), and the MGET of those keys, pass through every
 * agent as they pass to Redis directly (the agent's default --max-request-bytes was once
 * 64 MiB: such a run failed through the agent only). */
static void test_largest_workload_command(void **state) {
  (void)state;
  char *value = malloc(RB_VALUE_SIZE_MAX);
  assert_non_null(value);
  struct buf want = {0};
  size_t cfgs[] = {SIZE_MAX, 0, 1};
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
    struct cmd c = {0};
    struct stream *s = &streams_a[0];
    memset(s, 0, sizeof *s);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "big%zu:", i);
    args(&c, "MSET");
    for (int k = 0; k < RB_KEYS_PER_COMMAND_MAX; k++) {
      argf(&c, "%s%d", prefix, k);
      rb_workload_fill_value(value, RB_VALUE_SIZE_MAX, (uint64_t)k);
      arg(&c, value, RB_VALUE_SIZE_MAX);
    }
    emit(s, &c);
    args(&c, "MGET");
    for (int k = 0; k < RB_KEYS_PER_COMMAND_MAX; k++) argf(&c, "%s%d", prefix, k);
    emit(s, &c);
    free(c.arena.p);
    struct buf got;
    exchange_buf(cfgs[i] == SIZE_MAX ? redis.port : agents[cfgs[i]].port, &s->req, 2, &got);
    assert_true(got.len > (size_t)RB_KEYS_PER_COMMAND_MAX * RB_VALUE_SIZE_MAX);
    assert_true(memcmp(got.p, "+OK\r\n*100\r\n", 11) == 0);
    if (cfgs[i] == SIZE_MAX) want = got;
    else {
      assert_int_equal(got.len, want.len);
      assert_memory_equal(got.p, want.p, want.len);
      free(got.p);
    }
    free(s->req.p);
  }
  free(want.p);
  free(value);
}

/* GET of a key holding a hash: -WRONGTYPE directly and through every agent when the GET is
 * alone; folded into an MGET with another GET (--coalesce), Redis answers nil for it. This is
 * the one documented difference (docs/agent.md, "Known difference"); the workloads never GET
 * a non-string key (each data type has keys of its own, common/rb_workload.h). */
static void test_get_of_wrong_type(void **state) {
  (void)state;
  const char *lone = "*2\r\n$3\r\nGET\r\n$5\r\np:h:0\r\n";
  char *want = exchange(redis.port, lone, 1);
  assert_true(strncmp(want, "-WRONGTYPE", 10) == 0);
  for (size_t i = 0; i < NCFGS; i++) {
    char *got = exchange(agents[i].port, lone, 1);
    assert_string_equal(got, want);
    free(got);
  }
  free(want);
  const char *two = "*2\r\n$3\r\nGET\r\n$3\r\np:1\r\n*2\r\n$3\r\nGET\r\n$5\r\np:h:0\r\n";
  want = exchange(redis.port, two, 2);
  assert_true(strncmp(want, "$10\r\n", 5) == 0 && strstr(want, "-WRONGTYPE"));
  for (size_t i = 0; i < NCFGS; i++) {
    char *got = exchange(agents[i].port, two, 2);
    if (!CFGS[i].coalesce) assert_string_equal(got, want);
    else if (i == 5) /* window: both GETs are in one batch, so in one run */
      assert_true(strncmp(got, "$10\r\n", 5) == 0 && strstr(got, "\r\n$-1\r\n"));
    else /* folded or not, depending on how the bytes were read */
      assert_true(strcmp(got, want) == 0 || strstr(got, "\r\n$-1\r\n"));
    free(got);
  }
  free(want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_direct_control),
      cmocka_unit_test(test_idle),
      cmocka_unit_test(test_idle_coalesce),
      cmocka_unit_test(test_pass),
      cmocka_unit_test(test_pass_coalesce),
      cmocka_unit_test(test_window),
      cmocka_unit_test(test_window_coalesce),
      cmocka_unit_test(test_small_batches_many_upstreams),
      cmocka_unit_test(test_multikey_never_split_or_merged),
      cmocka_unit_test(test_plain_set_get_folded),
      cmocka_unit_test(test_get_of_wrong_type),
      cmocka_unit_test(test_largest_workload_command),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
