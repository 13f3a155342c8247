/* test_action_httpreq.c: the action's HTTP request assembler (http-parser with the action's
 * routes and limits), fed whole, byte by byte and split at every point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action_httpreq.h"

struct outcome {
  enum ahr_state state;
  enum ahr_route route;
  int error_status;
  char error[160];
  char body[256];
  size_t body_len;
  bool keep_alive;
  int continues;   /* AHR_CONTINUE reports */
  size_t consumed; /* bytes used by this request */
};

/* Feeds msg in pieces of at most `step` bytes, the first piece `first` bytes long (0: step),
 * until the request completes or fails. */
static struct outcome feed(const char *msg, size_t len, size_t first, size_t step) {
  struct outcome o;
  memset(&o, 0, sizeof o);
  struct action_httpreq r;
  action_httpreq_init(&r);
  size_t off = 0;
  enum ahr_state st = AHR_MORE;
  size_t avail = 0; /* bytes delivered so far */
  while (st != AHR_COMPLETE && st != AHR_ERROR) {
    if (off == avail) {
      if (avail == len) break;
      size_t piece = avail == 0 && first ? first : step;
      avail = avail + piece > len ? len : avail + piece;
    }
    size_t used = 0;
    st = action_httpreq_feed(&r, msg + off, avail - off, &used);
    off += used;
    if (st == AHR_CONTINUE) o.continues++;
  }
  o.state = st;
  o.route = r.route;
  o.error_status = r.error_status;
  snprintf(o.error, sizeof o.error, "%s", r.error);
  if (r.body) {
    o.body_len = r.body_len;
    snprintf(o.body, sizeof o.body, "%s", r.body);
  }
  o.keep_alive = r.keep_alive;
  o.consumed = off;
  action_httpreq_free(&r);
  return o;
}

/* Every split of msg gives the same outcome as feeding it whole. */
static struct outcome feed_every_way(const char *msg) {
  size_t len = strlen(msg);
  struct outcome whole = feed(msg, len, 0, len);
  struct outcome bytewise = feed(msg, len, 0, 1);
  assert_int_equal(bytewise.state, whole.state);
  assert_int_equal(bytewise.route, whole.route);
  assert_int_equal(bytewise.error_status, whole.error_status);
  assert_string_equal(bytewise.body, whole.body);
  for (size_t cut = 1; cut < len; cut++) {
    struct outcome split = feed(msg, len, cut, len);
    assert_int_equal(split.state, whole.state);
    assert_int_equal(split.route, whole.route);
    assert_int_equal(split.error_status, whole.error_status);
    assert_string_equal(split.body, whole.body);
    assert_int_equal(split.keep_alive, whole.keep_alive);
    assert_int_equal(split.consumed, whole.consumed);
  }
  return whole;
}

static void test_routes(void **state) {
  (void)state;
  struct outcome o =
      feed_every_way("POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{\"value\":1}");
  assert_int_equal(o.state, AHR_COMPLETE);
  assert_int_equal(o.route, AHR_ROUTE_RUN);
  assert_string_equal(o.body, "{\"value\":1}");
  assert_true(o.keep_alive);
  o = feed_every_way("POST /init?x=/run HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
  assert_int_equal(o.route, AHR_ROUTE_INIT);
  o = feed_every_way("POST /initx HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
  assert_int_equal(o.state, AHR_COMPLETE);
  assert_int_equal(o.route, AHR_ROUTE_NOT_FOUND);
  assert_string_equal(o.body, ""); /* a 404's body is read and dropped */
  o = feed_every_way("POST /a/very/long/path/that/is/not/run HTTP/1.1\r\n\r\n");
  assert_int_equal(o.route, AHR_ROUTE_NOT_FOUND);
  o = feed_every_way("GET /run HTTP/1.1\r\n\r\n");
  assert_int_equal(o.route, AHR_ROUTE_BAD_METHOD);
  o = feed_every_way("POST /run HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}");
  assert_false(o.keep_alive);
  o = feed_every_way("POST /run HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}");
  assert_false(o.keep_alive);
  /* No body at all reads as an empty one. */
  o = feed_every_way("POST /run HTTP/1.1\r\n\r\n");
  assert_int_equal(o.state, AHR_COMPLETE);
  assert_int_equal(o.body_len, 0);
}

static void test_chunked_and_pipelined(void **state) {
  (void)state;
  struct outcome o = feed_every_way(
      "POST /run HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\n{\"va\r\n7\r\nlue\":1}\r\n0\r\n\r\n");
  assert_int_equal(o.state, AHR_COMPLETE);
  assert_string_equal(o.body, "{\"value\":1}");
  /* Two requests in one buffer: the first consumes exactly its own bytes. */
  const char *first = "POST /run HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
  char two[256];
  snprintf(two, sizeof two, "%sPOST /init HTTP/1.1\r\nContent-Length: 3\r\n\r\n[1]", first);
  o = feed(two, strlen(two), 0, strlen(two));
  assert_int_equal(o.state, AHR_COMPLETE);
  assert_int_equal(o.consumed, strlen(first));
  o = feed(two + strlen(first), strlen(two) - strlen(first), 0, 64);
  assert_int_equal(o.route, AHR_ROUTE_INIT);
  assert_string_equal(o.body, "[1]");
}

static void test_expect_continue(void **state) {
  (void)state;
  struct outcome o =
      feed_every_way("POST /run HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n{}");
  assert_int_equal(o.state, AHR_COMPLETE);
  assert_int_equal(o.continues, 1);
  assert_string_equal(o.body, "{}");
  o = feed_every_way("POST /run HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
  assert_int_equal(o.state, AHR_COMPLETE);
  assert_int_equal(o.continues, 1);
  /* The final answer at once when the request is refused anyway. */
  o = feed_every_way("PUT /run HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
  assert_int_equal(o.state, AHR_ERROR);
  assert_int_equal(o.error_status, 405);
  assert_int_equal(o.continues, 0);
  o = feed_every_way(
      "POST /run HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9999999\r\n\r\n");
  assert_int_equal(o.error_status, 413);
  assert_int_equal(o.continues, 0);
  /* A header merely named like it does not count. */
  o = feed_every_way("POST /run HTTP/1.1\r\nExpected: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
  assert_int_equal(o.continues, 0);
}

static void test_limits_and_garbage(void **state) {
  (void)state;
  struct outcome o = feed_every_way("POST /run HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n");
  assert_int_equal(o.state, AHR_ERROR);
  assert_int_equal(o.error_status, 413);
  assert_string_equal(o.error, "request body larger than 1048576 bytes");
  /* Exactly the limit is accepted; a chunked body one byte over it is refused. */
  size_t max = ACTION_HTTP_BODY_MAX;
  char *msg = malloc(max + 256);
  int n = sprintf(msg, "POST /run HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", max);
  memset(msg + n, ' ', max);
  o = feed(msg, (size_t)n + max, 0, 65536);
  assert_int_equal(o.state, AHR_COMPLETE);
  n = sprintf(msg, "POST /run HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n", max + 1);
  memset(msg + n, 'a', max + 1);
  o = feed(msg, (size_t)n + max + 1, 0, 65536);
  assert_int_equal(o.state, AHR_ERROR);
  assert_int_equal(o.error_status, 413);
  free(msg);
  const char *bad[] = {"GARBAGE\r\n\r\n", "\x01\x02\x03\xff\r\n\r\n",
                       "POST /run HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                       "POST /run HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                       "POST /run HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o = feed_every_way(bad[i]);
    if (o.state != AHR_ERROR || o.error_status != 400)
      fail_msg("input %zu: state %d status %d", i, o.state, o.error_status);
    assert_non_null(strstr(o.error, "malformed HTTP request: "));
  }
  o = feed_every_way("POST /run HTTP/9.9\r\n\r\n");
  assert_int_equal(o.error_status, 505);
  /* Headers beyond http-parser's limit. */
  size_t big = 100 * 1024;
  msg = malloc(big + 64);
  n = sprintf(msg, "POST /run HTTP/1.1\r\nX: ");
  memset(msg + n, 'a', big);
  o = feed(msg, (size_t)n + big, 0, 4096);
  assert_int_equal(o.state, AHR_ERROR);
  assert_int_equal(o.error_status, 431);
  free(msg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_routes),
      cmocka_unit_test(test_chunked_and_pipelined),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_limits_and_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
