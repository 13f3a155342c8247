/* agent_cmd.c: command table and local answers. */
#include "agent_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rb_version.h"

#define P(n) \
  { n, AGENT_CMD_PASS, AGENT_CMD_OTHER, NULL }
#define L(n, id) \
  { n, AGENT_CMD_LOCAL, id, NULL }
#define R(n, why) \
  { n, AGENT_CMD_REJECT, AGENT_CMD_OTHER, why }

static const char TXN[] = "transactions need a connection of their own";
static const char BLOCK[] = "blocking commands would stall the shared Redis connection";
static const char PUBSUB[] = "pub/sub needs a connection of its own";
static const char CONN[] = "it changes the shared Redis connection";
static const char ADMIN[] = "server administration is not available through the agent";

/* Sorted by name (binary search). */
static const struct agent_cmd_info TABLE[] = {
    R("ACL", ADMIN),
    P("APPEND"),
    R("ASKING", CONN),
    L("AUTH", AGENT_CMD_AUTH),
    R("BGREWRITEAOF", ADMIN),
    R("BGSAVE", ADMIN),
    P("BITCOUNT"),
    P("BITFIELD"),
    P("BITFIELD_RO"),
    P("BITOP"),
    P("BITPOS"),
    R("BLMOVE", BLOCK),
    R("BLMPOP", BLOCK),
    R("BLPOP", BLOCK),
    R("BRPOP", BLOCK),
    R("BRPOPLPUSH", BLOCK),
    R("BZMPOP", BLOCK),
    R("BZPOPMAX", BLOCK),
    R("BZPOPMIN", BLOCK),
    R("CLIENT", CONN),
    R("CLUSTER", ADMIN),
    P("COMMAND"),
    R("CONFIG", ADMIN),
    P("COPY"),
    P("DBSIZE"),
    R("DEBUG", ADMIN),
    P("DECR"),
    P("DECRBY"),
    P("DEL"),
    R("DISCARD", TXN),
    P("DUMP"),
    L("ECHO", AGENT_CMD_ECHO),
    P("EVAL"),
    P("EVALSHA"),
    P("EVALSHA_RO"),
    P("EVAL_RO"),
    R("EXEC", TXN),
    P("EXISTS"),
    P("EXPIRE"),
    P("EXPIREAT"),
    P("EXPIRETIME"),
    R("FAILOVER", ADMIN),
    P("FCALL"),
    P("FCALL_RO"),
    R("FLUSHALL", ADMIN),
    R("FLUSHDB", ADMIN),
    R("FUNCTION", ADMIN),
    P("GEOADD"),
    P("GEODIST"),
    P("GEOHASH"),
    P("GEOPOS"),
    P("GEORADIUSBYMEMBER_RO"),
    P("GEORADIUS_RO"),
    P("GEOSEARCH"),
    P("GEOSEARCHSTORE"),
    {"GET", AGENT_CMD_PASS, AGENT_CMD_GET, NULL},
    P("GETBIT"),
    P("GETDEL"),
    P("GETEX"),
    P("GETRANGE"),
    P("GETSET"),
    P("HDEL"),
    L("HELLO", AGENT_CMD_HELLO),
    P("HEXISTS"),
    P("HGET"),
    P("HGETALL"),
    P("HINCRBY"),
    P("HINCRBYFLOAT"),
    P("HKEYS"),
    P("HLEN"),
    P("HMGET"),
    P("HMSET"),
    P("HRANDFIELD"),
    P("HSCAN"),
    P("HSET"),
    P("HSETNX"),
    P("HSTRLEN"),
    P("HVALS"),
    P("INCR"),
    P("INCRBY"),
    P("INCRBYFLOAT"),
    P("INFO"),
    P("KEYS"),
    R("LASTSAVE", ADMIN),
    R("LATENCY", ADMIN),
    P("LCS"),
    P("LINDEX"),
    P("LINSERT"),
    P("LLEN"),
    P("LMOVE"),
    P("LMPOP"),
    P("LPOP"),
    P("LPOS"),
    P("LPUSH"),
    P("LPUSHX"),
    P("LRANGE"),
    P("LREM"),
    P("LSET"),
    P("LTRIM"),
    R("MEMORY", ADMIN),
    P("MGET"),
    R("MIGRATE", ADMIN),
    R("MODULE", ADMIN),
    R("MONITOR", CONN),
    P("MSET"),
    P("MSETNX"),
    R("MULTI", TXN),
    P("OBJECT"),
    P("PERSIST"),
    P("PEXPIRE"),
    P("PEXPIREAT"),
    P("PEXPIRETIME"),
    P("PFADD"),
    P("PFCOUNT"),
    P("PFMERGE"),
    L("PING", AGENT_CMD_PING),
    P("PSETEX"),
    R("PSUBSCRIBE", PUBSUB),
    R("PSYNC", ADMIN),
    P("PTTL"),
    P("PUBLISH"),
    R("PUNSUBSCRIBE", PUBSUB),
    L("QUIT", AGENT_CMD_QUIT),
    P("RANDOMKEY"),
    R("READONLY", CONN),
    R("READWRITE", CONN),
    P("RENAME"),
    P("RENAMENX"),
    R("REPLCONF", ADMIN),
    R("REPLICAOF", ADMIN),
    R("RESET", CONN),
    P("RESTORE"),
    P("RPOP"),
    P("RPOPLPUSH"),
    P("RPUSH"),
    P("RPUSHX"),
    P("SADD"),
    R("SAVE", ADMIN),
    P("SCAN"),
    P("SCARD"),
    R("SCRIPT", ADMIN),
    P("SDIFF"),
    P("SDIFFSTORE"),
    R("SELECT", CONN),
    {"SET", AGENT_CMD_PASS, AGENT_CMD_SET, NULL},
    P("SETBIT"),
    P("SETEX"),
    P("SETNX"),
    P("SETRANGE"),
    R("SHUTDOWN", ADMIN),
    P("SINTER"),
    P("SINTERCARD"),
    P("SINTERSTORE"),
    P("SISMEMBER"),
    R("SLAVEOF", ADMIN),
    R("SLOWLOG", ADMIN),
    P("SMEMBERS"),
    P("SMISMEMBER"),
    P("SMOVE"),
    P("SORT"),
    P("SORT_RO"),
    P("SPOP"),
    P("SPUBLISH"),
    P("SRANDMEMBER"),
    P("SREM"),
    P("SSCAN"),
    R("SSUBSCRIBE", PUBSUB),
    P("STRLEN"),
    R("SUBSCRIBE", PUBSUB),
    P("SUBSTR"),
    P("SUNION"),
    P("SUNIONSTORE"),
    R("SUNSUBSCRIBE", PUBSUB),
    R("SWAPDB", ADMIN),
    R("SYNC", ADMIN),
    P("TIME"),
    P("TOUCH"),
    P("TTL"),
    P("TYPE"),
    P("UNLINK"),
    R("UNSUBSCRIBE", PUBSUB),
    R("UNWATCH", TXN),
    R("WAIT", BLOCK),
    R("WAITAOF", BLOCK),
    R("WATCH", TXN),
    P("XACK"),
    P("XADD"),
    P("XAUTOCLAIM"),
    P("XCLAIM"),
    P("XDEL"),
    P("XGROUP"),
    P("XINFO"),
    P("XLEN"),
    P("XPENDING"),
    P("XRANGE"),
    {"XREAD", AGENT_CMD_PASS, AGENT_CMD_XREAD, NULL},
    {"XREADGROUP", AGENT_CMD_PASS, AGENT_CMD_XREAD, NULL},
    P("XREVRANGE"),
    P("XSETID"),
    P("XTRIM"),
    P("ZADD"),
    P("ZCARD"),
    P("ZCOUNT"),
    P("ZDIFF"),
    P("ZDIFFSTORE"),
    P("ZINCRBY"),
    P("ZINTER"),
    P("ZINTERCARD"),
    P("ZINTERSTORE"),
    P("ZLEXCOUNT"),
    P("ZMPOP"),
    P("ZMSCORE"),
    P("ZPOPMAX"),
    P("ZPOPMIN"),
    P("ZRANDMEMBER"),
    P("ZRANGE"),
    P("ZRANGEBYLEX"),
    P("ZRANGEBYSCORE"),
    P("ZRANGESTORE"),
    P("ZRANK"),
    P("ZREM"),
    P("ZREMRANGEBYLEX"),
    P("ZREMRANGEBYRANK"),
    P("ZREMRANGEBYSCORE"),
    P("ZREVRANGE"),
    P("ZREVRANGEBYLEX"),
    P("ZREVRANGEBYSCORE"),
    P("ZREVRANK"),
    P("ZSCAN"),
    P("ZSCORE"),
    P("ZUNION"),
    P("ZUNIONSTORE"),
};

#define NTABLE (sizeof TABLE / sizeof TABLE[0])

size_t agent_cmd_count(void) { return NTABLE; }
const struct agent_cmd_info *agent_cmd_at(size_t i) { return i < NTABLE ? &TABLE[i] : NULL; }

/* Compares a table name with a client's bytes, case-insensitively, bytewise. */
static int name_cmp(const char *key, size_t len, const char *name) {
  size_t i = 0;
  for (; i < len && name[i]; i++) {
    unsigned char a = (unsigned char)key[i], b = (unsigned char)name[i];
    if (a >= 'a' && a <= 'z') a = (unsigned char)(a - 32);
    if (a != b) return a < b ? -1 : 1;
  }
  if (i == len) return name[i] ? -1 : 0;
  return 1;
}

const struct agent_cmd_info *agent_cmd_lookup(const char *name, size_t len) {
  size_t lo = 0, hi = NTABLE;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = name_cmp(name, len, TABLE[mid].name);
    if (c == 0) return &TABLE[mid];
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return NULL;
}

bool agent_cmd_error(struct agent_buf *out, const char *msg) {
  size_t start = out->len;
  if (!agent_buf_append(out, "-ERR ", 5) || !agent_buf_append_str(out, msg)) return false;
  for (size_t i = start; i < out->len; i++) {
    char *c = agent_buf_head(out) + i;
    if (*c == '\r' || *c == '\n') *c = ' ';
  }
  return agent_buf_append(out, "\r\n", 2);
}

bool agent_cmd_bulk(struct agent_buf *out, const char *p, size_t n) {
  return agent_buf_printf(out, "$%zu\r\n", n) && agent_buf_append(out, p, n) &&
         agent_buf_append(out, "\r\n", 2);
}

/* A printable, bounded copy of a client's command name for error messages. */
static void safe_name(const struct agent_cmd_args *a, char *dst, size_t cap) {
  size_t n = a->argv[0].len < cap - 1 ? a->argv[0].len : cap - 1;
  for (size_t i = 0; i < n; i++) {
    char c = a->base[a->argv[0].off + i];
    dst[i] = (c >= 0x21 && c <= 0x7e && c != '\'') ? c : '?';
  }
  dst[n] = '\0';
}

static bool arg_is(const struct agent_cmd_args *a, size_t i, const char *s) {
  return i < a->argc && name_cmp(a->base + a->argv[i].off, a->argv[i].len, s) == 0;
}

static bool wrong_args(struct agent_buf *out, const char *lower) {
  char msg[96];
  snprintf(msg, sizeof msg, "wrong number of arguments for '%s' command", lower);
  return agent_cmd_error(out, msg);
}

/* Constant-time comparison: the time taken does not depend on where the bytes differ. */
static bool secret_equal(const char *secret, const char *p, size_t n) {
  size_t sl = strlen(secret);
  unsigned char diff = (unsigned char)(sl != n);
  for (size_t i = 0; i < n; i++) diff |= (unsigned char)(p[i] ^ secret[i < sl ? i : 0]);
  return diff == 0 && sl == n;
}

/* Checks [user] pass (user must be "default"); replies on failure. Returns true on success. */
static bool check_password(const struct agent_cmd_args *a, size_t user_i, size_t pass_i,
                           const char *password, struct agent_session *s, struct agent_buf *out) {
  const struct agent_req_arg *pw = &a->argv[pass_i];
  bool user_ok = user_i == 0 || arg_is(a, user_i, "DEFAULT");
  if (user_ok && secret_equal(password, a->base + pw->off, pw->len)) {
    s->authed = true;
    return true;
  }
  agent_buf_append_str(out, "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  return false;
}

static void answer_auth(const struct agent_cmd_args *a, const char *password,
                        struct agent_session *s, struct agent_buf *out) {
  if (a->argc < 2 || a->argc > 3) {
    wrong_args(out, "auth");
    return;
  }
  if (!password) {
    agent_cmd_error(out,
                    "AUTH <password> called without any password configured for the default "
                    "user. Are you sure your configuration is correct?");
    return;
  }
  if (check_password(a, a->argc == 3 ? 1 : 0, a->argc - 1, password, s, out))
    agent_buf_append_str(out, "+OK\r\n");
}

static void hello_map(const struct agent_session *s, struct agent_buf *out) {
  agent_buf_append_str(out, "*14\r\n$6\r\nserver\r\n$12\r\nrbench-agent\r\n$7\r\nversion\r\n");
  agent_cmd_bulk(out, RBENCH_VERSION, strlen(RBENCH_VERSION));
  agent_buf_printf(out, "$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:%llu\r\n", s->id);
  agent_buf_append_str(out,
                       "$4\r\nmode\r\n$5\r\nproxy\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                       "$7\r\nmodules\r\n*0\r\n");
}

static void answer_hello(const struct agent_cmd_args *a, const char *password,
                         struct agent_session *s, struct agent_buf *out) {
  size_t i = 1;
  if (a->argc > 1) {
    const struct agent_req_arg *v = &a->argv[1];
    const char *p = a->base + v->off;
    if (v->len == 1 && p[0] == '3') {
      agent_buf_append_str(out,
                           "-NOPROTO unsupported protocol version (rbench-agent speaks RESP2)\r\n");
      return;
    }
    if (v->len != 1 || p[0] != '2') {
      agent_cmd_error(out, "Protocol version is not an integer or out of range");
      return;
    }
    i = 2;
  }
  for (; i < a->argc; i++) {
    if (arg_is(a, i, "AUTH") && i + 2 < a->argc) {
      if (!password) {
        agent_cmd_error(out,
                        "AUTH <password> called without any password configured for the "
                        "default user. Are you sure your configuration is correct?");
        return;
      }
      if (!check_password(a, i + 1, i + 2, password, s, out)) return;
      i += 2;
    } else if (arg_is(a, i, "SETNAME") && i + 1 < a->argc) {
      i += 1;
    } else {
      agent_cmd_error(out, "Syntax error in HELLO option");
      return;
    }
  }
  if (!s->authed) {
    agent_buf_append_str(out,
                         "-NOAUTH HELLO must be called with the client already authenticated, "
                         "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                         "authenticate the client and select the RESP protocol version at the "
                         "same time\r\n");
    return;
  }
  hello_map(s, out);
}

static void answer_local(const struct agent_cmd_info *info, const struct agent_cmd_args *a,
                         const char *password, struct agent_session *s, struct agent_buf *out) {
  switch (info->id) {
    case AGENT_CMD_PING:
      if (a->argc == 1) agent_buf_append_str(out, "+PONG\r\n");
      else if (a->argc == 2) agent_cmd_bulk(out, a->base + a->argv[1].off, a->argv[1].len);
      else wrong_args(out, "ping");
      break;
    case AGENT_CMD_ECHO:
      if (a->argc == 2) agent_cmd_bulk(out, a->base + a->argv[1].off, a->argv[1].len);
      else wrong_args(out, "echo");
      break;
    case AGENT_CMD_QUIT:
      agent_buf_append_str(out, "+OK\r\n");
      s->quit = true;
      break;
    case AGENT_CMD_AUTH: answer_auth(a, password, s, out); break;
    case AGENT_CMD_HELLO: answer_hello(a, password, s, out); break;
    default: agent_cmd_error(out, "internal: unhandled local command"); break;
  }
}

static bool has_block_option(const struct agent_cmd_args *a) {
  for (size_t i = 1; i < a->argc; i++)
    if (arg_is(a, i, "BLOCK")) return true;
  return false;
}

bool agent_cmd_answer(const struct agent_cmd_args *a, const char *password, struct agent_session *s,
                      const struct agent_cmd_info **out_info, struct agent_buf *out) {
  const struct agent_cmd_info *info = agent_cmd_lookup(a->base + a->argv[0].off, a->argv[0].len);
  char name[48], msg[200];
  *out_info = info;
  bool auth_cmd = info && (info->id == AGENT_CMD_AUTH || info->id == AGENT_CMD_HELLO ||
                           info->id == AGENT_CMD_QUIT);
  if (!s->authed && !auth_cmd) {
    agent_buf_append_str(out, "-NOAUTH Authentication required.\r\n");
    return true;
  }
  if (!info) {
    safe_name(a, name, sizeof name);
    snprintf(msg, sizeof msg, "unknown or unsupported command '%s' (rbench-agent)", name);
    agent_cmd_error(out, msg);
    return true;
  }
  if (info->kind == AGENT_CMD_PASS) {
    if (info->id != AGENT_CMD_XREAD || !has_block_option(a)) return false;
    snprintf(msg, sizeof msg, "rbench-agent does not support '%s' with BLOCK: %s", info->name,
             BLOCK);
    agent_cmd_error(out, msg);
    return true;
  }
  if (info->kind == AGENT_CMD_REJECT) {
    snprintf(msg, sizeof msg, "rbench-agent does not support '%s': %s", info->name, info->why);
    agent_cmd_error(out, msg);
    return true;
  }
  answer_local(info, a, password, s, out);
  return true;
}
