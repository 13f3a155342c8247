/* agent_req.c: incremental RESP2 request parser; one small function per state. */
#include "agent_req.h"

#include "agent_crlf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_START, ST_COUNT, ST_BULK_HDR, ST_BULK_DATA, ST_INLINE, ST_ERROR };

#define HEADER_MAX 32          /* "*N\r\n" and "$N\r\n" lines (Redis refuses longer ones) */
#define INLINE_MAX (64 * 1024) /* like Redis's PROTO_INLINE_MAX_SIZE */

struct agent_req_limits agent_req_default_limits(void) {
  struct agent_req_limits l = {
      .max_args = 1024 * 1024, .max_bulk = 512u * 1024 * 1024, .max_request = 128u * 1024 * 1024};
  return l;
}

void agent_req_init(struct agent_req *r, const struct agent_req_limits *lim) {
  memset(r, 0, sizeof *r);
  r->lim = lim ? *lim : agent_req_default_limits();
}

void agent_req_deinit(struct agent_req *r) {
  if (!r) return;
  free(r->argv);
  r->argv = NULL;
  r->_cap = 0;
}

void agent_req_reset(struct agent_req *r) {
  r->_state = ST_START;
  r->_pos = 0;
  r->argc = 0;
  r->errstr[0] = '\0';
}

static enum agent_req_status fail(struct agent_req *r, const char *msg) {
  snprintf(r->errstr, sizeof r->errstr, "%s", msg);
  r->_state = ST_ERROR;
  return AGENT_REQ_ERROR;
}

static bool push_arg(struct agent_req *r, size_t off, size_t len) {
  if (r->argc == r->_cap) {
    size_t cap = r->_cap ? r->_cap * 2 : 8;
    struct agent_req_arg *a = realloc(r->argv, cap * sizeof *a);
    if (!a) return false;
    r->argv = a;
    r->_cap = cap;
  }
  r->argv[r->argc].off = off;
  r->argv[r->argc].len = len;
  r->argc++;
  return true;
}

/* Parses a decimal number in buf[from, to): digits only, optional leading '-'. */
static bool parse_num(const char *buf, size_t from, size_t to, long long *out) {
  bool neg = false;
  long long v = 0;
  if (from < to && buf[from] == '-') {
    neg = true;
    from++;
  }
  if (from == to || to - from > 18) return false;
  for (size_t i = from; i < to; i++) {
    if (buf[i] < '0' || buf[i] > '9') return false;
    v = v * 10 + (buf[i] - '0');
  }
  *out = neg ? -v : v;
  return true;
}

/* Reads a "<prefix>N\r\n" header starting at _pos. Returns 1 done, 0 need more, -1 error. */
static int read_header(struct agent_req *r, const char *buf, size_t len, long long *out) {
  size_t cr = agent_find_crlf(buf, len, r->_pos + 1);
  if (cr == SIZE_MAX) return len - r->_pos > HEADER_MAX ? -1 : 0;
  if (cr - r->_pos > HEADER_MAX || !parse_num(buf, r->_pos + 1, cr, out)) return -1;
  r->_pos = cr + 2;
  return 1;
}

static enum agent_req_status st_count(struct agent_req *r, const char *buf, size_t len,
                                      size_t *out_used) {
  long long n = 0;
  int rc = read_header(r, buf, len, &n);
  if (rc == 0) return AGENT_REQ_AGAIN;
  if (rc < 0 || n > (long long)r->lim.max_args)
    return fail(r, "Protocol error: invalid multibulk length");
  if (n <= 0) { /* *0 and *-1: an empty command, as Redis treats it */
    *out_used = r->_pos;
    r->_state = ST_START;
    r->_pos = 0;
    return AGENT_REQ_CMD;
  }
  r->_nargs = (size_t)n;
  r->_state = ST_BULK_HDR;
  return AGENT_REQ_AGAIN; /* the caller loop continues with the next state */
}

static enum agent_req_status st_bulk_hdr(struct agent_req *r, const char *buf, size_t len) {
  if (r->_pos >= len) return AGENT_REQ_AGAIN;
  if (buf[r->_pos] != '$') return fail(r, "Protocol error: expected '$' before each argument");
  long long n = 0;
  int rc = read_header(r, buf, len, &n);
  if (rc == 0) return AGENT_REQ_AGAIN;
  if (rc < 0 || n < 0 || (unsigned long long)n > r->lim.max_bulk)
    return fail(r, "Protocol error: invalid bulk length");
  if (r->_pos + (size_t)n + 2 > r->lim.max_request)
    return fail(r, "request too large (see --max-request-bytes)");
  r->_bulk = (size_t)n;
  r->_state = ST_BULK_DATA;
  return AGENT_REQ_AGAIN;
}

static enum agent_req_status st_bulk_data(struct agent_req *r, const char *buf, size_t len,
                                          size_t *out_used) {
  if (len - r->_pos < r->_bulk + 2) return AGENT_REQ_AGAIN;
  size_t end = r->_pos + r->_bulk;
  if (buf[end] != '\r' || buf[end + 1] != '\n')
    return fail(r, "Protocol error: expected CRLF after an argument");
  if (!push_arg(r, r->_pos, r->_bulk)) return fail(r, "out of memory");
  r->_pos = end + 2;
  if (r->argc < r->_nargs) {
    r->_state = ST_BULK_HDR;
    return AGENT_REQ_AGAIN;
  }
  *out_used = r->_pos;
  r->_state = ST_START;
  r->_pos = 0;
  return AGENT_REQ_CMD;
}

static int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Decodes one escape after a backslash in a double-quoted word; returns bytes read. */
static size_t unescape(const char *p, const char *end, char *out) {
  if (end - p >= 3 && p[0] == 'x' && hex_val(p[1]) >= 0 && hex_val(p[2]) >= 0) {
    *out = (char)(hex_val(p[1]) * 16 + hex_val(p[2]));
    return 3;
  }
  switch (*p) {
    case 'n': *out = '\n'; break;
    case 'r': *out = '\r'; break;
    case 't': *out = '\t'; break;
    case 'b': *out = '\b'; break;
    case 'a': *out = '\a'; break;
    default: *out = *p; break;
  }
  return 1;
}

/* Reads a quoted word at *pp (which points at the quote), writing it at *wp. */
static bool quoted_word(char **pp, char *end, char **wp) {
  char q = **pp;
  char *p = *pp + 1;
  char *w = *wp;
  for (;;) {
    if (p >= end) return false; /* unterminated */
    if (*p == '\\' && p + 1 < end && q == '"') {
      p += 1 + unescape(p + 1, end, w++);
      continue;
    }
    if (*p == '\\' && p + 1 < end && p[1] == '\'') { /* the only escape in 'single' quotes */
      *w++ = '\'';
      p += 2;
      continue;
    }
    if (*p == q) {
      p++;
      if (p < end && !is_blank(*p)) return false; /* closing quote must end the word */
      break;
    }
    *w++ = *p++;
  }
  *pp = p;
  *wp = w;
  return true;
}

/* Splits the inline line buf[0, end) into arguments, unescaping in place. */
static enum agent_req_status split_inline(struct agent_req *r, char *buf, size_t end) {
  char *p = buf, *stop = buf + end, *w = buf;
  for (;;) {
    while (p < stop && is_blank(*p)) p++;
    if (p >= stop) return AGENT_REQ_CMD;
    if (r->argc >= r->lim.max_args) return fail(r, "Protocol error: too many arguments");
    char *start = w;
    if (*p == '"' || *p == '\'') {
      if (!quoted_word(&p, stop, &w))
        return fail(r, "Protocol error: unbalanced quotes in request");
    } else {
      while (p < stop && !is_blank(*p)) *w++ = *p++;
    }
    if (!push_arg(r, (size_t)(start - buf), (size_t)(w - start))) return fail(r, "out of memory");
  }
}

static enum agent_req_status st_inline(struct agent_req *r, char *buf, size_t len,
                                       size_t *out_used) {
  const char *nl = memchr(buf + r->_pos, '\n', len - r->_pos);
  size_t max = r->lim.max_request < INLINE_MAX ? r->lim.max_request : INLINE_MAX;
  if (!nl) {
    r->_pos = len; /* never rescan what was already searched */
    return len > max ? fail(r, "Protocol error: too big inline request") : AGENT_REQ_AGAIN;
  }
  size_t end = (size_t)(nl - buf);
  if (end > max) return fail(r, "Protocol error: too big inline request");
  enum agent_req_status st = split_inline(r, buf, end);
  if (st != AGENT_REQ_CMD) return st;
  *out_used = end + 1;
  r->_state = ST_START;
  r->_pos = 0;
  return AGENT_REQ_CMD;
}

enum agent_req_status agent_req_parse(struct agent_req *r, char *buf, size_t len,
                                      size_t *out_used) {
  *out_used = 0;
  if (r->_state == ST_ERROR) return AGENT_REQ_ERROR;
  if (r->_state == ST_START) {
    if (len == 0) return AGENT_REQ_AGAIN;
    r->argc = 0;
    r->_pos = 0;
    r->is_inline = buf[0] != '*';
    r->_state = r->is_inline ? ST_INLINE : ST_COUNT;
  }
  for (;;) {
    enum agent_req_status st;
    int before = r->_state;
    switch (r->_state) {
      case ST_COUNT: st = st_count(r, buf, len, out_used); break;
      case ST_BULK_HDR: st = st_bulk_hdr(r, buf, len); break;
      case ST_BULK_DATA: st = st_bulk_data(r, buf, len, out_used); break;
      case ST_INLINE: return st_inline(r, buf, len, out_used);
      default: return fail(r, "internal parser state");
    }
    if (st != AGENT_REQ_AGAIN || r->_state == before) {
      if (st == AGENT_REQ_AGAIN && len > r->lim.max_request)
        return fail(r, "request too large (see --max-request-bytes)");
      return st;
    }
  }
}
