/* test_agent_req.c: the RESP2 request parser fed whole, byte by byte and split at every
 * point, every limit, and malformed input. Buffers are allocated to their exact length so
 * AddressSanitizer catches any read past the bytes received. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_req.h"
#include "rb_workload.h"

#define MAXCMDS 16
#define MAXARGS 8

struct parsed {
  int ncmds;
  int argc[MAXCMDS];
  char *argv[MAXCMDS][MAXARGS];
  size_t alen[MAXCMDS][MAXARGS];
  bool error;
  char errstr[96];
};

static void parsed_free(struct parsed *p) {
  for (int i = 0; i < p->ncmds; i++)
    for (int j = 0; j < p->argc[i]; j++) free(p->argv[i][j]);
  memset(p, 0, sizeof *p);
}

/* Holds the bytes received so far in an allocation of exactly that size. */
struct feed {
  char *buf;
  size_t len;
};

static void feed_add(struct feed *f, const char *p, size_t n) {
  char *b = malloc(f->len + n ? f->len + n : 1);
  assert_non_null(b);
  if (f->len) memcpy(b, f->buf, f->len);
  memcpy(b + f->len, p, n);
  free(f->buf);
  f->buf = b;
  f->len += n;
}

static void feed_drop(struct feed *f, size_t n) {
  assert_true(n <= f->len);
  char *b = malloc(f->len - n ? f->len - n : 1);
  assert_non_null(b);
  memcpy(b, f->buf + n, f->len - n);
  free(f->buf);
  f->buf = b;
  f->len -= n;
}

/* Parses everything available; records commands (argc 0 skipped). Returns false on error. */
static bool drain(struct agent_req *r, struct feed *f, struct parsed *out) {
  for (;;) {
    size_t used = 0;
    enum agent_req_status st = agent_req_parse(r, f->buf, f->len, &used);
    if (st == AGENT_REQ_AGAIN) return true;
    if (st == AGENT_REQ_ERROR) {
      out->error = true;
      snprintf(out->errstr, sizeof out->errstr, "%s", r->errstr);
      return false;
    }
    assert_true(used > 0 && used <= f->len);
    if (r->argc > 0) {
      assert_true(out->ncmds < MAXCMDS);
      int c = out->ncmds++;
      out->argc[c] = (int)r->argc;
      for (size_t i = 0; i < r->argc && i < MAXARGS; i++) {
        assert_true(r->argv[i].off + r->argv[i].len <= used);
        out->argv[c][i] = malloc(r->argv[i].len + 1);
        memcpy(out->argv[c][i], f->buf + r->argv[i].off, r->argv[i].len);
        out->argv[c][i][r->argv[i].len] = '\0';
        out->alen[c][i] = r->argv[i].len;
      }
    }
    feed_drop(f, used);
  }
}

/* Feeds input in pieces: split == 0 whole, split == SIZE_MAX byte by byte, else two parts. */
static void parse_input(const char *in, size_t n, size_t split, const struct agent_req_limits *lim,
                        struct parsed *out) {
  struct agent_req r;
  struct feed f = {0};
  agent_req_init(&r, lim);
  memset(out, 0, sizeof *out);
  if (split == SIZE_MAX) {
    for (size_t i = 0; i < n; i++) {
      feed_add(&f, in + i, 1);
      if (!drain(&r, &f, out)) break;
    }
  } else if (split == 0 || split >= n) {
    feed_add(&f, in, n);
    drain(&r, &f, out);
  } else {
    feed_add(&f, in, split);
    if (drain(&r, &f, out)) {
      feed_add(&f, in + split, n - split);
      drain(&r, &f, out);
    }
  }
  free(f.buf);
  agent_req_deinit(&r);
}

/* Checks out against expected: commands separated by "|", arguments by ",". */
static void expect_cmds(const struct parsed *p, const char *spec) {
  char *copy = strdup(spec), *save1 = NULL;
  int c = 0;
  for (char *cmd = strtok_r(copy, "|", &save1); cmd; cmd = strtok_r(NULL, "|", &save1), c++) {
    assert_true(c < p->ncmds);
    char *save2 = NULL;
    int a = 0;
    for (char *arg = strtok_r(cmd, ",", &save2); arg; arg = strtok_r(NULL, ",", &save2), a++) {
      assert_true(a < p->argc[c]);
      const char *want = strcmp(arg, "<empty>") == 0 ? "" : arg;
      assert_string_equal(p->argv[c][a], want);
    }
    assert_int_equal(a, p->argc[c]);
  }
  assert_int_equal(c, p->ncmds);
  free(copy);
}

struct good_case {
  const char *in;
  size_t len; /* 0: strlen */
  const char *want;
};

static const struct good_case GOOD[] = {
    {"*1\r\n$4\r\nPING\r\n", 0, "PING"},
    {"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", 0, "SET,key,value"},
    {"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", 0,
     "GET,k|PING|ECHO,hi"},
    {"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", 0, "ECHO,a\r\nb"},
    {"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", 0, "PING"},
    {"PING\r\n", 0, "PING"},
    {"SET k v\n", 0, "SET,k,v"},
    {"  GET   k  \r\n\r\n\n", 0, "GET,k"},
    {"SET \"a b\" 'c d'\r\n", 0, "SET,a b,c d"},
    {"ECHO \"x\\x41\\n\\\"q\"\r\n", 0, "ECHO,xA\n\"q"},
    {"ECHO 'it\\'s'\r\n", 0, "ECHO,it's"},
    {"ECHO \"\"\r\n", 0, "ECHO,<empty>"},
    {"PING\r\n*1\r\n$4\r\nPING\r\nECHO x\r\n", 0, "PING|PING|ECHO,x"},
};

static void check_all_splits(const char *in, size_t n, const char *want) {
  struct parsed p;
  parse_input(in, n, 0, NULL, &p);
  assert_false(p.error);
  expect_cmds(&p, want);
  parsed_free(&p);
  parse_input(in, n, SIZE_MAX, NULL, &p);
  assert_false(p.error);
  expect_cmds(&p, want);
  parsed_free(&p);
  for (size_t s = 1; s < n; s++) {
    parse_input(in, n, s, NULL, &p);
    assert_false(p.error);
    expect_cmds(&p, want);
    parsed_free(&p);
  }
}

static void test_good_inputs_every_split(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
    size_t n = GOOD[i].len ? GOOD[i].len : strlen(GOOD[i].in);
    check_all_splits(GOOD[i].in, n, GOOD[i].want);
  }
}

static void test_binary_bulk(void **state) {
  (void)state;
  const char in[] = "*2\r\n$4\r\nECHO\r\n$3\r\n\0\r\x01\r\n";
  struct parsed p;
  parse_input(in, sizeof in - 1, SIZE_MAX, NULL, &p);
  assert_false(p.error);
  assert_int_equal(p.ncmds, 1);
  assert_int_equal(p.alen[0][1], 3);
  assert_memory_equal(p.argv[0][1], "\0\r\x01", 3);
  parsed_free(&p);
}

struct bad_case {
  const char *in;
  const char *err; /* substring of errstr */
};

static const struct bad_case BAD[] = {
    {"*abc\r\n", "invalid multibulk length"},
    {"*1x\r\n", "invalid multibulk length"},
    {"*2\r\n+3\r\n", "expected '$'"},
    {"*1\r\n$-5\r\n", "invalid bulk length"},
    {"*1\r\n$3x\r\nabc\r\n", "invalid bulk length"},
    {"*1\r\n$3\r\nabcXY", "expected CRLF"},
    {"ECHO \"abc\r\n", "unbalanced quotes"},
    {"ECHO \"a\"b\r\n", "unbalanced quotes"},
    {"*1234567890123456789012345678901234567890\r\n", "invalid multibulk length"},
};

static void test_bad_inputs(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    size_t n = strlen(BAD[i].in);
    for (size_t s = 0; s <= n; s++) {
      struct parsed p;
      parse_input(BAD[i].in, n, s == n ? SIZE_MAX : s, NULL, &p);
      assert_true(p.error);
      if (!strstr(p.errstr, BAD[i].err))
        fail_msg("case %zu: '%s' lacks '%s'", i, p.errstr, BAD[i].err);
      parsed_free(&p);
    }
  }
}

static void test_error_is_sticky_until_reset(void **state) {
  (void)state;
  struct agent_req r;
  agent_req_init(&r, NULL);
  char bad[] = "*x\r\n", good[] = "PING\r\n";
  size_t used;
  assert_int_equal(agent_req_parse(&r, bad, 4, &used), AGENT_REQ_ERROR);
  assert_int_equal(agent_req_parse(&r, good, 6, &used), AGENT_REQ_ERROR);
  agent_req_reset(&r);
  assert_int_equal(agent_req_parse(&r, good, 6, &used), AGENT_REQ_CMD);
  assert_int_equal(used, 6);
  agent_req_deinit(&r);
}

static void test_limit_args(void **state) {
  (void)state;
  struct agent_req_limits lim = agent_req_default_limits();
  lim.max_args = 2;
  struct parsed p;
  parse_input("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 20, 0, &lim, &p);
  assert_false(p.error);
  parsed_free(&p);
  parse_input("*3\r\n", 4, 0, &lim, &p); /* refused at the header, before any argument */
  assert_true(p.error);
  assert_non_null(strstr(p.errstr, "invalid multibulk length"));
  parsed_free(&p);
  parse_input("a b c\r\n", 7, 0, &lim, &p);
  assert_true(p.error);
  assert_non_null(strstr(p.errstr, "too many arguments"));
  parsed_free(&p);
}

static void test_limit_bulk(void **state) {
  (void)state;
  struct agent_req_limits lim = agent_req_default_limits();
  lim.max_bulk = 4;
  struct parsed p;
  parse_input("*1\r\n$4\r\nabcd\r\n", 14, 0, &lim, &p);
  assert_false(p.error);
  parsed_free(&p);
  /* Refused as soon as the length is known; the 5 bytes never need to arrive. */
  parse_input("*1\r\n$5\r\n", 8, SIZE_MAX, &lim, &p);
  assert_true(p.error);
  assert_non_null(strstr(p.errstr, "invalid bulk length"));
  parsed_free(&p);
}

static void test_limit_request_bytes(void **state) {
  (void)state;
  struct agent_req_limits lim = agent_req_default_limits();
  lim.max_request = 64;
  struct parsed p;
  /* A bulk whose end would exceed the request limit is refused at its header. */
  parse_input("*2\r\n$4\r\nECHO\r\n$60\r\n", 20, 0, &lim, &p);
  assert_true(p.error);
  assert_non_null(strstr(p.errstr, "request too large"));
  parsed_free(&p);
  /* Many small arguments: refused once the buffered bytes pass the limit. */
  char big[400];
  size_t n = (size_t)snprintf(big, sizeof big, "*100\r\n");
  for (int i = 0; i < 20; i++) n += (size_t)snprintf(big + n, sizeof big - n, "$1\r\nx\r\n");
  parse_input(big, n, SIZE_MAX, &lim, &p);
  assert_true(p.error);
  assert_non_null(strstr(p.errstr, "request too large"));
  parsed_free(&p);
  /* An inline line without its newline. */
  char line[100];
  memset(line, 'a', sizeof line);
  parse_input(line, sizeof line, SIZE_MAX, &lim, &p);
  assert_true(p.error);
  assert_non_null(strstr(p.errstr, "too big inline request"));
  parsed_free(&p);
  /* Exactly at the limit is fine. */
  char ok[64];
  memset(ok, 'b', sizeof ok);
  memcpy(ok, "ECHO ", 5);
  ok[62] = '\r';
  ok[63] = '\n';
  parse_input(ok, sizeof ok, 0, &lim, &p);
  assert_false(p.error);
  assert_int_equal(p.ncmds, 1);
  parsed_free(&p);
}

static void test_limit_header_length(void **state) {
  (void)state;
  /* "*" followed by endless digits without a line end must not be buffered forever. */
  char in[80];
  memset(in, '1', sizeof in);
  in[0] = '*';
  struct parsed p;
  parse_input(in, sizeof in, SIZE_MAX, NULL, &p);
  assert_true(p.error);
  parsed_free(&p);
}

static void test_large_argument_count_allocates_lazily(void **state) {
  (void)state;
  /* A client announcing a million arguments must not make the parser allocate for them. */
  struct agent_req r;
  agent_req_init(&r, NULL);
  char in[] = "*1000000\r\n$1\r\na\r\n";
  size_t used;
  assert_int_equal(agent_req_parse(&r, in, sizeof in - 1, &used), AGENT_REQ_AGAIN);
  assert_true(r._cap <= 8);
  agent_req_deinit(&r);
}

/* The default limits pass the largest command a workload sends, as Redis does: an MSET of
 * RB_KEYS_PER_COMMAND_MAX keys with RB_VALUE_SIZE_MAX-byte values (about 100 MiB; the default
 * was once 64 MiB, so such a run failed through the agent only). */
static void test_default_limits_pass_the_largest_workload_command(void **state) {
  (void)state;
  size_t cap = (size_t)RB_KEYS_PER_COMMAND_MAX * (RB_VALUE_SIZE_MAX + 256) + 64, n = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  n += (size_t)sprintf(buf + n, "*%d\r\n$4\r\nMSET\r\n", 1 + 2 * RB_KEYS_PER_COMMAND_MAX);
  for (int k = 0; k < RB_KEYS_PER_COMMAND_MAX; k++) {
    char key[160];
    int kl = snprintf(key, sizeof key, "%0128d:%d", 0, k); /* a 128-byte prefix, the longest */
    n += (size_t)sprintf(buf + n, "$%d\r\n%s\r\n$%u\r\n", kl, key, RB_VALUE_SIZE_MAX);
    memset(buf + n, 'v', RB_VALUE_SIZE_MAX);
    n += RB_VALUE_SIZE_MAX;
    memcpy(buf + n, "\r\n", 2);
    n += 2;
  }
  struct agent_req_limits lim = agent_req_default_limits();
  struct agent_req r;
  agent_req_init(&r, &lim);
  size_t used = 0;
  assert_int_equal(agent_req_parse(&r, buf, n, &used), AGENT_REQ_CMD);
  assert_int_equal(used, n);
  assert_int_equal(r.argc, 1 + 2 * RB_KEYS_PER_COMMAND_MAX);
  agent_req_deinit(&r);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_inputs_every_split),
      cmocka_unit_test(test_binary_bulk),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_error_is_sticky_until_reset),
      cmocka_unit_test(test_limit_args),
      cmocka_unit_test(test_limit_bulk),
      cmocka_unit_test(test_limit_request_bytes),
      cmocka_unit_test(test_limit_header_length),
      cmocka_unit_test(test_large_argument_count_allocates_lazily),
      cmocka_unit_test(test_default_limits_pass_the_largest_workload_command),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
