/* test_agent_coalesce.c: the SET->MSET / GET->MGET planner and the reply splitter.
 *
 * Besides byte-exact encodings, a model check: random streams of SET/GET/INCR from several
 * clients are planned with the agent's rule, the planned bytes are executed by a small
 * in-memory Redis model, the replies are split back, and every caller's reply must equal
 * what the same commands sent one by one would have answered (read-your-writes included). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_buf.h"
#include "agent_coalesce.h"
#include "agent_reply.h"
#include "agent_req.h"

static void expect_buf(struct agent_buf *b, const char *want) {
  assert_int_equal(b->len, strlen(want));
  assert_memory_equal(agent_buf_head(b), want, b->len);
}

static void test_encodings(void **state) {
  (void)state;
  struct agent_run r;
  struct agent_buf out;
  agent_run_init(&r);
  agent_buf_init(&out);
  assert_true(agent_run_seal(&r, &out)); /* empty run: nothing */
  assert_int_equal(out.len, 0);
  assert_true(agent_run_add(&r, "k1", 2, "v1", 2));
  assert_true(agent_run_seal(&r, &out)); /* a run of one goes out as it came */
  expect_buf(&out, "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$2\r\nv1\r\n");
  agent_buf_consume(&out, out.len);
  assert_true(agent_run_add(&r, "a", 1, "1", 1));
  assert_true(agent_run_add(&r, "b", 1, "", 0));
  assert_true(agent_run_add(&r, "a", 1, "3", 1));
  assert_int_equal(r.n, 3);
  assert_true(agent_run_seal(&r, &out));
  expect_buf(
      &out,
      "*7\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$0\r\n\r\n$1\r\na\r\n$1\r\n3\r\n");
  assert_int_equal(r.n, 0);
  agent_buf_consume(&out, out.len);
  assert_true(agent_run_add(&r, "x", 1, NULL, 0));
  assert_true(agent_run_add(&r, "y\r\n", 3, NULL, 0));
  assert_true(agent_run_seal(&r, &out));
  expect_buf(&out, "*3\r\n$4\r\nMGET\r\n$1\r\nx\r\n$3\r\ny\r\n\r\n");
  agent_buf_deinit(&out);
  agent_run_deinit(&r);
}

static void test_needs_seal(void **state) {
  (void)state;
  struct agent_run r;
  agent_run_init(&r);
  assert_false(agent_run_needs_seal(&r, AGENT_RUN_NONE, 10));
  assert_false(agent_run_needs_seal(&r, AGENT_RUN_SET, 10));
  assert_true(agent_run_add(&r, "k", 1, "v", 1));
  assert_false(agent_run_needs_seal(&r, AGENT_RUN_SET, 10));
  assert_true(agent_run_needs_seal(&r, AGENT_RUN_GET, 10));
  assert_true(agent_run_needs_seal(&r, AGENT_RUN_NONE, 10));
  assert_true(agent_run_needs_seal(&r, AGENT_RUN_SET, 1)); /* cut at max_run */
  agent_run_deinit(&r);
}

static void collect(struct agent_split *s, const char **parts, size_t *lens, size_t max,
                    size_t *n) {
  *n = 0;
  while (*n < max && agent_split_next(s, &parts[*n], &lens[*n])) (*n)++;
}

static void test_split(void **state) {
  (void)state;
  const char *p[4];
  size_t l[4], n;
  struct agent_split s;
  const char mget[] = "*3\r\n$1\r\na\r\n$-1\r\n$2\r\nbc\r\n";
  agent_split_init(&s, mget, sizeof mget - 1, 3, true);
  collect(&s, p, l, 4, &n);
  assert_int_equal(n, 3);
  assert_int_equal(l[0], 7);
  assert_memory_equal(p[0], "$1\r\na\r\n", 7);
  assert_memory_equal(p[1], "$-1\r\n", 5);
  assert_memory_equal(p[2], "$2\r\nbc\r\n", 8);
  /* MSET +OK -> +OK each; an error -> the error each. */
  agent_split_init(&s, "+OK\r\n", 5, 2, false);
  collect(&s, p, l, 4, &n);
  assert_int_equal(n, 2);
  assert_memory_equal(p[1], "+OK\r\n", 5);
  agent_split_init(&s, "-OOM no memory\r\n", 16, 3, true);
  collect(&s, p, l, 4, &n);
  assert_int_equal(n, 3);
  assert_int_equal(l[2], 16);
  assert_memory_equal(p[2], "-OOM no memory\r\n", 16);
  /* Replies that do not fit the request become errors, never someone else's data. */
  agent_split_init(&s, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", 18, 3, true);
  collect(&s, p, l, 4, &n);
  assert_int_equal(n, 3);
  for (size_t i = 0; i < 3; i++) assert_non_null(memmem(p[i], l[i], "unexpected reply", 16));
  agent_split_init(&s, ":1\r\n", 4, 2, false);
  collect(&s, p, l, 4, &n);
  assert_non_null(memmem(p[0], l[0], "-ERR", 4));
}

/* ---- model check ------------------------------------------------------------------------ */

#define NKEYS 6
#define NOPS 400

struct kv {
  char val[NKEYS][32];
  bool set[NKEYS];
};

enum op_kind { OP_SET, OP_GET, OP_INCR };

struct op {
  int client;
  enum op_kind kind;
  int key;
  char val[16];
};

static int key_index(const char *p, size_t n) {
  assert_true(n == 2 && p[0] == 'k');
  return p[1] - '0';
}

static void reply_get(struct kv *kv, int k, struct agent_buf *out) {
  if (!kv->set[k]) agent_buf_append_str(out, "$-1\r\n");
  else agent_buf_printf(out, "$%zu\r\n%s\r\n", strlen(kv->val[k]), kv->val[k]);
}

static void reply_incr(struct kv *kv, int k, struct agent_buf *out) {
  char *end = NULL;
  long v = kv->set[k] ? strtol(kv->val[k], &end, 10) : 0;
  if (kv->set[k] && (*end != '\0' || end == kv->val[k])) {
    agent_buf_append_str(out, "-ERR value is not an integer or out of range\r\n");
    return;
  }
  snprintf(kv->val[k], sizeof kv->val[k], "%ld", v + 1);
  kv->set[k] = true;
  agent_buf_printf(out, ":%ld\r\n", v + 1);
}

/* Executes one parsed command on the model, appending its reply. */
static void model_exec(struct kv *kv, const char *b, const struct agent_req *r,
                       struct agent_buf *out) {
  const char *name = b + r->argv[0].off;
#define ARG(i) (b + r->argv[i].off), r->argv[i].len
  if (r->argv[0].len == 3 && memcmp(name, "SET", 3) == 0) {
    int k = key_index(ARG(1));
    snprintf(kv->val[k], sizeof kv->val[k], "%.*s", (int)r->argv[2].len, b + r->argv[2].off);
    kv->set[k] = true;
    agent_buf_append_str(out, "+OK\r\n");
  } else if (r->argv[0].len == 4 && memcmp(name, "MSET", 4) == 0) {
    for (size_t i = 1; i + 1 < r->argc; i += 2) {
      int k = key_index(ARG(i));
      snprintf(kv->val[k], sizeof kv->val[k], "%.*s", (int)r->argv[i + 1].len,
               b + r->argv[i + 1].off);
      kv->set[k] = true;
    }
    agent_buf_append_str(out, "+OK\r\n");
  } else if (r->argv[0].len == 3 && memcmp(name, "GET", 3) == 0) {
    reply_get(kv, key_index(ARG(1)), out);
  } else if (r->argv[0].len == 4 && memcmp(name, "MGET", 4) == 0) {
    agent_buf_printf(out, "*%zu\r\n", r->argc - 1);
    for (size_t i = 1; i < r->argc; i++) reply_get(kv, key_index(ARG(i)), out);
  } else {
    reply_incr(kv, key_index(ARG(1)), out);
  }
#undef ARG
}

/* Encodes op as the client would send it. */
static void encode_op(const struct op *o, struct agent_buf *out) {
  char key[3] = {'k', (char)('0' + o->key), 0};
  if (o->kind == OP_SET)
    agent_buf_printf(out, "*3\r\n$3\r\nSET\r\n$2\r\n%s\r\n$%zu\r\n%s\r\n", key, strlen(o->val),
                     o->val);
  else if (o->kind == OP_GET) agent_buf_printf(out, "*2\r\n$3\r\nGET\r\n$2\r\n%s\r\n", key);
  else agent_buf_printf(out, "*2\r\n$4\r\nINCR\r\n$2\r\n%s\r\n", key);
}

/* Runs every command in stream on kv; replies go to out. */
static void run_stream(struct kv *kv, struct agent_buf *stream, struct agent_buf *out) {
  struct agent_req r;
  agent_req_init(&r, NULL);
  size_t used = 0;
  while (stream->len > 0) {
    assert_int_equal(agent_req_parse(&r, agent_buf_head(stream), stream->len, &used),
                     AGENT_REQ_CMD);
    model_exec(kv, agent_buf_head(stream), &r, out);
    agent_buf_consume(stream, used);
  }
  agent_req_deinit(&r);
}

/* A sealed unit of the plan: n ops starting at ops index first (consecutive in the queue). */
struct unit {
  size_t first, n;
  bool run;
  bool mget;
};

static void plan(const struct op *ops, size_t nops, size_t max_run, struct agent_buf *stream,
                 struct unit *units, size_t *nunits) {
  struct agent_run run;
  agent_run_init(&run);
  *nunits = 0;
  for (size_t i = 0; i < nops; i++) {
    enum agent_run_kind k = ops[i].kind == OP_SET   ? AGENT_RUN_SET
                            : ops[i].kind == OP_GET ? AGENT_RUN_GET
                                                    : AGENT_RUN_NONE;
    if (agent_run_needs_seal(&run, k, max_run)) assert_true(agent_run_seal(&run, stream));
    if (k == AGENT_RUN_NONE) {
      encode_op(&ops[i], stream);
      units[(*nunits)++] = (struct unit){i, 1, false, false};
      continue;
    }
    if (run.n == 0) units[(*nunits)++] = (struct unit){i, 0, true, k == AGENT_RUN_GET};
    char key[3] = {'k', (char)('0' + ops[i].key), 0};
    assert_true(
        agent_run_add(&run, key, 2, k == AGENT_RUN_SET ? ops[i].val : NULL, strlen(ops[i].val)));
    units[*nunits - 1].n++;
  }
  assert_true(agent_run_seal(&run, stream));
  agent_run_deinit(&run);
}

static void model_round(unsigned seed, size_t max_run) {
  struct op ops[NOPS];
  srand(seed);
  for (size_t i = 0; i < NOPS; i++) {
    ops[i].client = rand() % 5;
    int r = rand() % 10;
    ops[i].kind = r < 5 ? OP_SET : r < 9 ? OP_GET : OP_INCR;
    ops[i].key = rand() % NKEYS;
    snprintf(ops[i].val, sizeof ops[i].val, "c%dv%zu", ops[i].client, i);
    if (rand() % 4 == 0) snprintf(ops[i].val, sizeof ops[i].val, "%d", rand() % 100);
  }
  /* One by one. */
  struct kv kv1 = {0}, kv2 = {0};
  struct agent_buf s1, r1, s2, r2;
  agent_buf_init(&s1);
  agent_buf_init(&r1);
  agent_buf_init(&s2);
  agent_buf_init(&r2);
  for (size_t i = 0; i < NOPS; i++) encode_op(&ops[i], &s1);
  run_stream(&kv1, &s1, &r1);
  /* Planned. */
  static struct unit units[NOPS];
  size_t nunits = 0;
  plan(ops, NOPS, max_run, &s2, units, &nunits);
  assert_true(nunits < NOPS); /* something was coalesced */
  run_stream(&kv2, &s2, &r2);
  /* Split the planned replies and compare with the one-by-one replies, op by op. */
  size_t off1 = 0, off2 = 0;
  for (size_t u = 0; u < nunits; u++) {
    size_t len2 = agent_reply_length(agent_buf_head(&r2) + off2, r2.len - off2);
    assert_true(len2 > 0);
    struct agent_split sp;
    if (units[u].n > 1)
      agent_split_init(&sp, agent_buf_head(&r2) + off2, len2, units[u].n, units[u].mget);
    for (size_t k = 0; k < units[u].n; k++) {
      const char *p = agent_buf_head(&r2) + off2;
      size_t n = len2;
      if (units[u].n > 1) assert_true(agent_split_next(&sp, &p, &n));
      size_t len1 = agent_reply_length(agent_buf_head(&r1) + off1, r1.len - off1);
      if (n != len1 || memcmp(p, agent_buf_head(&r1) + off1, n) != 0)
        fail_msg("seed %u op %zu: planned reply differs from one-by-one", seed, units[u].first + k);
      off1 += len1;
    }
    off2 += len2;
  }
  assert_int_equal(off1, r1.len);
  assert_int_equal(off2, r2.len);
  assert_memory_equal(&kv1, &kv2, sizeof kv1);
  agent_buf_deinit(&s1);
  agent_buf_deinit(&r1);
  agent_buf_deinit(&s2);
  agent_buf_deinit(&r2);
}

static void test_model_planned_equals_one_by_one(void **state) {
  (void)state;
  for (unsigned seed = 1; seed <= 200; seed++) model_round(seed, seed % 2 ? 512 : 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encodings),
      cmocka_unit_test(test_needs_seal),
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_model_planned_equals_one_by_one),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
