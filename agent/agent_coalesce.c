/* agent_coalesce.c: SET->MSET / GET->MGET planner and reply splitter. */
#include "agent_coalesce.h"

#include <stdio.h>
#include <string.h>

#include "agent_reply.h"

void agent_run_init(struct agent_run *r) {
  r->kind = AGENT_RUN_NONE;
  r->n = 0;
  agent_buf_init(&r->args);
}

void agent_run_deinit(struct agent_run *r) {
  if (!r) return;
  agent_buf_deinit(&r->args);
  r->n = 0;
  r->kind = AGENT_RUN_NONE;
}

/* Writes a decimal number; faster than printf on the hot path. */
static size_t put_u64(char *dst, size_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
  return n;
}

static bool put_header(struct agent_buf *out, char type, size_t v) {
  if (!agent_buf_reserve(out, 32)) return false;
  char *p = agent_buf_tail(out);
  size_t k = 0;
  p[k++] = type;
  k += put_u64(p + k, v);
  p[k++] = '\r';
  p[k++] = '\n';
  agent_buf_commit(out, k);
  return true;
}

bool agent_put_bulk(struct agent_buf *out, const char *p, size_t n) {
  if (!agent_buf_reserve(out, n + 32) || !put_header(out, '$', n)) return false;
  memcpy(agent_buf_tail(out), p, n);
  memcpy(agent_buf_tail(out) + n, "\r\n", 2);
  agent_buf_commit(out, n + 2);
  return true;
}

bool agent_put_command(struct agent_buf *out, size_t argc, const char *const *argv,
                       const size_t *lens) {
  size_t mark = out->len;
  bool ok = put_header(out, '*', argc);
  for (size_t i = 0; ok && i < argc; i++) ok = agent_put_bulk(out, argv[i], lens[i]);
  if (!ok) out->len = mark;
  return ok;
}

bool agent_run_needs_seal(const struct agent_run *r, enum agent_run_kind next, size_t max_run) {
  if (r->n == 0) return false;
  return next != r->kind || r->n >= max_run;
}

bool agent_run_add(struct agent_run *r, const char *key, size_t klen, const char *val,
                   size_t vlen) {
  size_t mark = r->args.len;
  bool ok = agent_put_bulk(&r->args, key, klen) && (!val || agent_put_bulk(&r->args, val, vlen));
  if (!ok) {
    r->args.len = mark;
    return false;
  }
  r->kind = val ? AGENT_RUN_SET : AGENT_RUN_GET;
  r->n++;
  return true;
}

bool agent_run_seal(struct agent_run *r, struct agent_buf *out) {
  if (r->n == 0) return true;
  bool set = r->kind == AGENT_RUN_SET;
  size_t per = set ? 2 : 1;
  const char *name = r->n == 1 ? (set ? "$3\r\nSET\r\n" : "$3\r\nGET\r\n")
                               : (set ? "$4\r\nMSET\r\n" : "$4\r\nMGET\r\n");
  size_t mark = out->len;
  if (!agent_buf_reserve(out, r->args.len + 48) || !put_header(out, '*', 1 + per * r->n) ||
      !agent_buf_append_str(out, name) ||
      !agent_buf_append(out, agent_buf_head(&r->args), r->args.len)) {
    out->len = mark;
    return false;
  }
  agent_buf_consume(&r->args, r->args.len);
  agent_buf_shrink(&r->args, 64 * 1024);
  r->n = 0;
  r->kind = AGENT_RUN_NONE;
  return true;
}

static const char BAD_REPLY[] = "-ERR rbench-agent: unexpected reply to a coalesced command\r\n";
static const char OK_REPLY[] = "+OK\r\n";

/* Reads "*n\r\n" at the start of an MGET reply; false if it is not an array of n. */
static bool array_header(struct agent_split *s) {
  const char *cr = memchr(s->reply, '\r', s->len);
  if (!cr || s->reply[0] != '*') return false;
  size_t count = 0;
  for (const char *p = s->reply + 1; p < cr; p++) {
    if (*p < '0' || *p > '9') return false;
    count = count * 10 + (size_t)(*p - '0');
  }
  s->pos = (size_t)(cr - s->reply) + 2;
  return count == s->n;
}

void agent_split_init(struct agent_split *s, const char *reply, size_t len, size_t n, bool mget) {
  memset(s, 0, sizeof *s);
  s->reply = reply;
  s->len = len;
  s->n = n;
  s->mget = mget;
  if (len > 0 && reply[0] == '-') s->whole = true;
  else if (mget) s->bad = !array_header(s);
  else s->bad = !(len == 5 && memcmp(reply, OK_REPLY, 5) == 0);
}

bool agent_split_next(struct agent_split *s, const char **out_p, size_t *out_n) {
  if (s->i >= s->n) return false;
  s->i++;
  if (s->whole) {
    *out_p = s->reply;
    *out_n = s->len;
  } else if (s->bad) {
    *out_p = BAD_REPLY;
    *out_n = sizeof BAD_REPLY - 1;
  } else if (!s->mget) {
    *out_p = OK_REPLY;
    *out_n = sizeof OK_REPLY - 1;
  } else {
    size_t n = agent_reply_length(s->reply + s->pos, s->len - s->pos);
    if (n == 0) { /* cannot happen for a reply the scanner framed; stay safe */
      s->bad = true;
      *out_p = BAD_REPLY;
      *out_n = sizeof BAD_REPLY - 1;
      return true;
    }
    *out_p = s->reply + s->pos;
    *out_n = n;
    s->pos += n;
  }
  return true;
}
