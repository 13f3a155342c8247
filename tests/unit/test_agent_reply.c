/* test_agent_reply.c: framing of Redis replies, whole, byte by byte and split everywhere. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_reply.h"

/* Frames a stream fed in two parts split at s; returns the number of replies and writes
 * their lengths. Returns -1 on error. Buffers have exactly the bytes received. */
static int frame(const char *in, size_t n, size_t s, size_t *lens, int max) {
  struct agent_reply_scan sc;
  agent_reply_scan_init(&sc);
  char *buf = NULL;
  size_t have = 0, fed = 0, off = 0;
  int count = 0;
  while (fed < n) {
    size_t add = s == SIZE_MAX ? 1 : (fed == 0 && s > 0 && s < n ? s : n - fed);
    char *b = malloc(have + add);
    if (have) memcpy(b, buf + off, have);
    memcpy(b + have, in + fed, add);
    free(buf);
    buf = b;
    off = 0;
    have += add;
    fed += add;
    for (;;) {
      size_t len = 0;
      enum agent_reply_status st = agent_reply_scan(&sc, buf + off, have, &len);
      if (st == AGENT_REPLY_AGAIN) break;
      if (st == AGENT_REPLY_ERROR) {
        free(buf);
        return -1;
      }
      assert_true(count < max);
      lens[count++] = len;
      off += len;
      have -= len;
    }
  }
  free(buf);
  return count;
}

static const char STREAM[] =
    "+OK\r\n-ERR wrong\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n"
    "*3\r\n$1\r\na\r\n$-1\r\n:7\r\n"
    "*2\r\n*2\r\n+x\r\n$2\r\n\r\n\r\n*1\r\n*0\r\n"
    "$4\r\n\r\n\r\n\r\n";
static const size_t WANT[] = {5, 12, 5, 11, 5, 5, 4, 20, 28, 10};

static void test_stream_every_split(void **state) {
  (void)state;
  size_t n = sizeof STREAM - 1, lens[16];
  size_t nw = sizeof WANT / sizeof WANT[0];
  for (size_t s = 0; s <= n; s++) {
    int got = frame(STREAM, n, s == n ? SIZE_MAX : s, lens, 16);
    assert_int_equal(got, (int)nw);
    for (size_t i = 0; i < nw; i++) assert_int_equal(lens[i], WANT[i]);
  }
}

static void test_invalid_replies(void **state) {
  (void)state;
  const char *bad[] = {"?\r\n", "$abc\r\n", "*x\r\n", "$3\r\nabcXY", ":1\r\n*1\r\n!\r\n"};
  size_t lens[4];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(frame(bad[i], strlen(bad[i]), 0, lens, 4), -1);
}

/* A Lua script may return arrays nested thousands deep (Redis 7 sends 5000 levels): they are
 * framed like any reply, whole, byte by byte and split anywhere, followed by the next reply.
 * (The scanner once refused more than 64 levels, failing the shared connection and every
 * client's commands in flight.) */
static void test_deep_nesting(void **state) {
  (void)state;
  enum { DEPTH = 5000 };
  size_t cap = 10 * DEPTH + 64, n = 0;
  char *in = malloc(cap);
  assert_non_null(in);
  for (int i = 0; i < DEPTH; i++) n += (size_t)sprintf(in + n, i % 2 ? "*1\r\n" : "*2\r\n");
  n += (size_t)sprintf(in + n, ":1\r\n"); /* the innermost element */
  /* the second elements of the *2 levels, innermost first */
  for (int i = 0; i < DEPTH / 2; i++) n += (size_t)sprintf(in + n, "$0\r\n\r\n");
  size_t first = n;
  n += (size_t)sprintf(in + n, "+OK\r\n");
  assert_int_equal(agent_reply_length(in, n), first);
  size_t lens[2];
  size_t splits[] = {0, 1, 3, 4, 4 * DEPTH, first - 1, first, SIZE_MAX};
  for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
    assert_int_equal(frame(in, n, splits[i], lens, 2), 2);
    assert_int_equal(lens[0], first);
    assert_int_equal(lens[1], 5);
  }
  /* One element short: not complete. */
  assert_int_equal(agent_reply_length(in, first - 6), 0);
  free(in);
}

/* Element counts no Redis can hold are refused, never wrapped around. */
static void test_count_limit(void **state) {
  (void)state;
  char in[256];
  size_t n = (size_t)sprintf(in, "*999999999999999999\r\n*999999999999999999\r\n");
  size_t lens[2];
  assert_int_equal(frame(in, n, 0, lens, 2), -1);
  n = (size_t)sprintf(in, "*999999999999999999\r\n:1\r\n");
  assert_int_equal(agent_reply_length(in, n), 0); /* fine, only incomplete */
}

static void test_length_helper(void **state) {
  (void)state;
  assert_int_equal(agent_reply_length("$3\r\nab", 6), 0);
  assert_int_equal(agent_reply_length("$2\r\nab\r\n+OK\r\n", 13), 8);
  assert_int_equal(agent_reply_length("", 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream_every_split), cmocka_unit_test(test_invalid_replies),
      cmocka_unit_test(test_deep_nesting),       cmocka_unit_test(test_count_limit),
      cmocka_unit_test(test_length_helper),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
