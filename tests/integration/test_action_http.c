/* test_action_http.c: rbench-action's HTTP side of OpenWhisk's action protocol: /init once,
 * status codes, Content-Length on every response, body limits, hostile input, sentinels,
 * command-line handling. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rb_json.h"
#include "rbt.h"

struct fixture {
  struct rbt_proc redis;
  struct rbt_proc action;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!rbt_redis_start(&f->redis, NULL)) return -1;
  char env[64];
  snprintf(env, sizeof env, "REDIS_PORT=%d", f->redis.port);
  char *extra[] = {env, NULL};
  if (!rbt_action_start(&f->action, extra)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  int rc = rbt_action_stop_checked(&f->action);
  rbt_proc_stop(&f->redis, SIGTERM);
  free(f);
  return rc;
}

static void expect(int port, const char *method, const char *path, const char *body, long status,
                   const char *want_body) {
  struct rbt_http_reply r;
  assert_true(rbt_http(port, method, path, body, body ? strlen(body) : 0, &r));
  if (r.status != status)
    fail_msg("%s %s: status %ld, want %ld (%s)", method, path, r.status, status, r.body);
  assert_true(r.has_length);
  assert_string_equal(r.content_type, "application/json");
  cJSON *j = NULL;
  if (rb_json_parse(r.body, strlen(r.body), &j, NULL, 0) != RB_OK) fail_msg("not JSON: %s", r.body);
  assert_true(cJSON_IsObject(j));
  cJSON_Delete(j);
  if (want_body) assert_string_equal(r.body, want_body);
  rbt_http_reply_free(&r);
}

static void test_init_then_run(void **state) {
  struct fixture *f = *state;
  int p = f->action.port;
  expect(p, "POST", "/init",
         "{\"value\":{\"name\":\"redis_benchmark\",\"main\":\"main\",\"binary\":false}}", 200,
         "{\"ok\":true}");
  expect(p, "POST", "/init", "{\"value\":{\"code\":\"x\"}}", 403,
         "{\"error\":\"Cannot initialize the action more than once.\"}");
  struct rbt_http_reply r;
  const char *run =
      "{\"value\":{\"num_ops\":5},\"activation_id\":\"a1\",\"deadline\":\"99999999999999\"}";
  assert_true(rbt_http(p, "POST", "/run", run, strlen(run), &r));
  assert_int_equal(r.status, 200);
  assert_true(r.has_length);
  assert_non_null(strstr(r.body, "\"succeeded\":5"));
  rbt_http_reply_free(&r);
  /* Parameter errors are 200 with an error object (an application error in OpenWhisk). */
  expect(p, "POST", "/run", "{\"value\":{\"parallel_calls\":1000}}", 200,
         "{\"error\":\"parallel_calls must be an integer from 1 to 256, got 1000\"}");
}

static void test_status_codes(void **state) {
  struct fixture *f = *state;
  int p = f->action.port;
  expect(p, "GET", "/", NULL, 404, NULL);
  expect(p, "POST", "/invoke", "{}", 404, NULL);
  expect(p, "GET", "/run", NULL, 405, NULL);
  expect(p, "PUT", "/init", "{}", 405, NULL);
  expect(p, "POST", "/run", "{\"value\":", 400, NULL);
  expect(p, "POST", "/run", "", 400, "{\"error\":\"malformed JSON: empty body\"}");
  expect(p, "POST", "/init", "not json", 400, NULL);
  /* Exactly 1 MiB is accepted (and is malformed here), one byte more is 413. */
  size_t n = 1024 * 1024;
  char *big = malloc(n + 2);
  memset(big, ' ', n + 1);
  big[0] = '{';
  big[n - 1] = '}';
  big[n] = '\0';
  expect(p, "POST", "/run", big, 200, NULL); /* {   ...   } is an empty object: defaults */
  big[n] = ' ';
  big[n + 1] = '\0';
  expect(p, "POST", "/run", big, 413, "{\"error\":\"request body larger than 1048576 bytes\"}");
  free(big);
}

/* Sends raw bytes, returns what came back before the server closed or 2 s passed. */
static char *raw_exchange(int port, const char *data, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t off = 0;
  while (off < len) {
    ssize_t w = send(fd, data + off, len - off, MSG_NOSIGNAL);
    if (w <= 0) break;
    off += (size_t)w;
  }
  shutdown(fd, SHUT_WR);
  size_t cap = 65536, got = 0;
  char *buf = calloc(1, cap + 1);
  ssize_t r;
  while (got < cap && (r = recv(fd, buf + got, cap - got, 0)) > 0) got += (size_t)r;
  close(fd);
  return buf;
}

static void test_chunked_too_large_and_garbage(void **state) {
  struct fixture *f = *state;
  int p = f->action.port;
  /* A chunked body with no Content-Length that grows past 1 MiB. */
  size_t chunk = 256 * 1024;
  size_t total = 5 * (chunk + 32) + 128;
  char *req = malloc(total);
  size_t off = (size_t)sprintf(req,
                               "POST /run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                               "Content-Type: application/json\r\n\r\n");
  for (int i = 0; i < 5; i++) {
    off += (size_t)sprintf(req + off, "%zx\r\n", chunk);
    memset(req + off, 'a', chunk);
    off += chunk;
    off += (size_t)sprintf(req + off, "\r\n");
  }
  off += (size_t)sprintf(req + off, "0\r\n\r\n");
  char *resp = raw_exchange(p, req, off);
  assert_non_null(strstr(resp, "HTTP/1.1 413"));
  assert_non_null(strstr(resp, "request body larger than 1048576 bytes"));
  free(resp);
  free(req);
  /* Garbage, a bad request line, a lying Content-Length: the server survives all of them. */
  const char *junk[] = {"GARBAGE\r\n\r\n", "\x01\x02\x03\xff\r\n\r\n",
                        "POST /run HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"value\":",
                        "POST /run HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                        "POST /run HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"};
  for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
    free(raw_exchange(p, junk[i], strlen(junk[i])));
  expect(p, "POST", "/run", "{\"value\":{\"num_ops\":2}}", 200, NULL);
  /* Deeply nested JSON is refused cleanly (cJSON's nesting limit), not a stack overflow. */
  size_t depth = 100000;
  char *deep = malloc(2 * depth + 1);
  memset(deep, '[', depth);
  memset(deep + depth, ']', depth);
  deep[2 * depth] = '\0';
  expect(p, "POST", "/run", deep, 400, NULL);
  free(deep);
  expect(p, "POST", "/run", "{\"value\":{\"num_ops\":2}}", 200, NULL);
}

static void test_keep_alive(void **state) {
  struct fixture *f = *state;
  /* OpenWhisk's invoker keeps its connection to the container open between activations. */
  const char *one =
      "POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 23\r\n\r\n{\"value\":{\"num_ops\":1}}";
  char two[512];
  snprintf(two, sizeof two, "%s%s", one, one);
  char *resp = raw_exchange(f->action.port, two, strlen(two));
  const char *first = strstr(resp, "HTTP/1.1 200");
  assert_non_null(first);
  const char *second = strstr(first + 1, "HTTP/1.1 200");
  assert_non_null(second);
  assert_null(strstr(resp, "Connection: close"));
  assert_non_null(strstr(second, "\"succeeded\":1"));
  free(resp);
}

/* A raw connection to 127.0.0.1:port (or [::1]:port) with a 3 s receive timeout. */
static int raw_connect(int port, bool v6) {
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  int rc;
  if (v6) {
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
                              .sin6_port = htons((uint16_t)port),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  } else {
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  }
  assert_int_equal(rc, 0);
  struct timeval tv = {3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void send_str(int fd, const char *s) {
  assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Reads into buf (cap bytes, NUL-terminated) until `count` occurrences of needle are there,
 * the peer closes, or the receive timeout passes. Returns the bytes read. */
static size_t recv_until(int fd, char *buf, size_t cap, const char *needle, int count) {
  size_t got = 0;
  buf[0] = '\0';
  for (;;) {
    int seen = 0;
    for (const char *s = buf; (s = strstr(s, needle)) != NULL; s += strlen(needle)) seen++;
    if (seen >= count || got >= cap - 1) break;
    ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
    if (r <= 0) break;
    got += (size_t)r;
    buf[got] = '\0';
  }
  return got;
}

static void test_http_details(void **state) {
  struct fixture *f = *state;
  int p = f->action.port;
  char buf[16384];
  /* Expect: 100-continue: the interim answer comes before the body is sent. */
  int fd = raw_connect(p, false);
  send_str(fd,
           "POST /run HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 23\r\n\r\n");
  recv_until(fd, buf, sizeof buf, "\r\n\r\n", 1);
  assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
  send_str(fd, "{\"value\":{\"num_ops\":3}}");
  recv_until(fd, buf, sizeof buf, "}", 1);
  assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
  assert_non_null(strstr(buf, "\"succeeded\":3"));
  /* Expect on an unknown path: the final answer at once, no 100. */
  close(fd);
  fd = raw_connect(p, false);
  send_str(fd, "POST /nope HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  recv_until(fd, buf, sizeof buf, "}", 1);
  assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found"));
  assert_null(strstr(buf, "100 Continue"));
  close(fd);
  /* A 404 with a body, a query string, then a 405, pipelined in one write: each gets its
   * answer, in order, on the same connection. */
  fd = raw_connect(p, false);
  send_str(
      fd,
      "POST /nope HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
      "POST /run?blocking=true HTTP/1.1\r\nContent-Length: 23\r\n\r\n{\"value\":{\"num_ops\":2}}"
      "GET /run HTTP/1.1\r\n\r\n");
  recv_until(fd, buf, sizeof buf, "HTTP/1.1 ", 3);
  recv_until(fd, buf + strlen(buf), sizeof buf - strlen(buf), "}", 1);
  const char *a = strstr(buf, "HTTP/1.1 404");
  const char *b = strstr(buf, "HTTP/1.1 200");
  const char *c = strstr(buf, "HTTP/1.1 405");
  assert_true(a && b && c && a < b && b < c);
  assert_non_null(strstr(b, "\"succeeded\":2"));
  assert_non_null(strstr(c, "Allow: POST"));
  close(fd);
  /* HTTP/1.0 without keep-alive: answered, then closed by the server. */
  fd = raw_connect(p, false);
  send_str(fd, "POST /run HTTP/1.0\r\nContent-Length: 23\r\n\r\n{\"value\":{\"num_ops\":1}}");
  size_t n = recv_until(fd, buf, sizeof buf, "no such thing", 1); /* reads until EOF */
  assert_true(n > 0);
  assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
  assert_non_null(strstr(buf, "Connection: close"));
  assert_int_equal(recv(fd, buf, 1, 0), 0); /* closed, not timed out */
  close(fd);
  /* Headers beyond http-parser's 80 KB: 431 with a JSON body. */
  size_t big = 100 * 1024;
  char *req = malloc(big + 128);
  int off = sprintf(req, "POST /run HTTP/1.1\r\nX-Big: ");
  memset(req + off, 'a', big);
  strcpy(req + off + big, "\r\n\r\n");
  char *resp = raw_exchange(p, req, strlen(req));
  assert_non_null(strstr(resp, "HTTP/1.1 431"));
  assert_non_null(strstr(resp, "{\"error\":\"request headers too large\"}"));
  free(resp);
  free(req);
  expect(p, "POST", "/run", "{\"value\":{\"num_ops\":1}}", 200, NULL);
}

/* IPv6, and connections beyond --threads waiting their turn. */
static void test_ipv6_and_threads(void **state) {
  struct fixture *f = *state;
  int port = rbt_free_port();
  char listen[64], redis[64];
  snprintf(listen, sizeof listen, "[::1]:%d", port);
  snprintf(redis, sizeof redis, "REDIS_PORT=%d", f->redis.port);
  char *argv[] = {(char *)rbt_bin("rbench-action"),
                  (char *)"--listen",
                  listen,
                  (char *)"--threads",
                  (char *)"1",
                  NULL};
  char *env[] = {redis, NULL};
  struct rbt_proc a;
  assert_true(rbt_proc_start(&a, argv, env));
  int fd1 = -1;
  for (int i = 0; i < 500 && fd1 < 0; i++) {
    fd1 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
                              .sin6_port = htons((uint16_t)port),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (connect(fd1, (struct sockaddr *)&sa, sizeof sa) != 0) {
      close(fd1);
      fd1 = -1;
      usleep(10000);
    }
  }
  assert_true(fd1 >= 0);
  struct timeval tv = {3, 0};
  setsockopt(fd1, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  const char *run = "POST /run HTTP/1.1\r\nContent-Length: 23\r\n\r\n{\"value\":{\"num_ops\":1}}";
  send_str(fd1, run);
  recv_until(fd1, buf, sizeof buf, "}", 1);
  assert_non_null(strstr(buf, "\"succeeded\":1"));
  /* The only connection thread is held by fd1 (idle, keep-alive): fd2 waits... */
  int fd2 = raw_connect(port, true);
  struct timeval shortt = {0, 300000};
  setsockopt(fd2, SOL_SOCKET, SO_RCVTIMEO, &shortt, sizeof shortt);
  send_str(fd2, run);
  assert_true(recv(fd2, buf, sizeof buf, 0) < 0);
  /* ...until fd1 closes. */
  close(fd1);
  setsockopt(fd2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  recv_until(fd2, buf, sizeof buf, "}", 1);
  if (!strstr(buf, "\"succeeded\":1")) fail_msg("after fd1 closed, fd2 got: %s", buf);
  /* SIGTERM with an idle keep-alive connection open: a prompt, clean exit. */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(rbt_action_stop_checked(&a), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec < 2);
  close(fd2);
}

/* rbench-action on a free 127.0.0.1 port with extra arguments (up to 4), Redis from f. */
static void start_action_with(struct rbt_proc *a, struct fixture *f, const char *x1, const char *x2,
                              const char *x3, const char *x4) {
  int port = rbt_free_port();
  char listen[64], redis[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
  snprintf(redis, sizeof redis, "REDIS_PORT=%d", f->redis.port);
  char *argv[] = {(char *)rbt_bin("rbench-action"),
                  (char *)"--listen",
                  listen,
                  (char *)x1,
                  (char *)x2,
                  (char *)x3,
                  (char *)x4,
                  NULL};
  char *env[] = {redis, NULL};
  assert_true(rbt_proc_start(a, argv, env));
  a->port = port;
  assert_true(rbt_wait_port(port, 5000));
}

static double since_ms(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A request trickling in a byte at a time gets 408 once --request-timeout-ms has passed
 * since its first byte (each byte does not restart the clock), and its connection thread
 * is free again for the next client. */
static void test_trickled_request_times_out(void **state) {
  struct fixture *f = *state;
  /* in the fixture's place, so teardown stops it whatever happens */
  assert_int_equal(rbt_action_stop_checked(&f->action), 0);
  struct rbt_proc *a = &f->action;
  start_action_with(a, f, "--threads", "1", "--request-timeout-ms", "500");
  const char *req =
      "POST /run HTTP/1.1\r\nHost: x\r\nX-Padding: "
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "\r\nContent-Length: 23\r\n\r\n{\"value\":{\"num_ops\":1}}";
  int fd = raw_connect(a->port, false);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char buf[4096];
  size_t got = 0;
  buf[0] = '\0';
  /* one byte every 50 ms: the whole request would take over 7 s */
  for (size_t i = 0; i < strlen(req) && !strstr(buf, "\r\n\r\n"); i++) {
    (void)send(fd, req + i, 1, MSG_NOSIGNAL);
    usleep(50000);
    ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, MSG_DONTWAIT);
    if (r > 0) {
      got += (size_t)r;
      buf[got] = '\0';
    }
  }
  double took = since_ms(&t0);
  if (!strstr(buf, "HTTP/1.1 408 ")) fail_msg("no 408 after %.0f ms: '%s'", took, buf);
  assert_true(took < 3000);
  close(fd);
  /* the only connection thread serves the next client */
  int fd2 = raw_connect(a->port, false);
  send_str(fd2, "POST /run HTTP/1.1\r\nContent-Length: 23\r\n\r\n{\"value\":{\"num_ops\":1}}");
  recv_until(fd2, buf, sizeof buf, "}", 1);
  if (!strstr(buf, "\"succeeded\":1")) fail_msg("the next client got: '%s'", buf);
  close(fd2);
  assert_int_equal(rbt_action_stop_checked(a), 0);
}

/* SIGTERM while a request is half received: the rest still arrives, the request is answered,
 * and the action exits 0. */
static void test_stop_mid_request_answers(void **state) {
  struct fixture *f = *state;
  int fd = raw_connect(f->action.port, false);
  const char *body = "{\"value\":{\"num_ops\":1}}";
  send_str(fd, "POST /run HTTP/1.1\r\nContent-Length: 23\r\n\r\n{\"value\":");
  usleep(200000);
  assert_int_equal(kill(f->action.pid, SIGTERM), 0);
  usleep(300000);
  send_str(fd, body + strlen("{\"value\":"));
  char buf[4096];
  recv_until(fd, buf, sizeof buf, "}", 1);
  if (!strstr(buf, "HTTP/1.1 200 ") || !strstr(buf, "\"succeeded\":1"))
    fail_msg("after SIGTERM mid-request: '%s'", buf);
  close(fd);
  assert_int_equal(rbt_proc_wait(&f->action, 5000), 0);
}

/* A client that pipelines requests and never reads the answers: once its socket buffers are
 * full the answers cannot be sent; SIGTERM still ends the action within the 2 s grace. */
static void test_stop_with_unread_answers(void **state) {
  struct fixture *f = *state;
  int fd = raw_connect(f->action.port, false);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  static const char req[] = "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n";
  char chunk[64 * (sizeof req - 1)];
  for (size_t i = 0; i < 64; i++) memcpy(chunk + i * (sizeof req - 1), req, sizeof req - 1);
  /* send until nothing more goes in for 300 ms (both directions full) or 64 MB */
  size_t sent = 0;
  struct timespec last;
  clock_gettime(CLOCK_MONOTONIC, &last);
  while (sent < (64u << 20) && since_ms(&last) < 300) {
    ssize_t w = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      sent += (size_t)w;
      clock_gettime(CLOCK_MONOTONIC, &last);
    } else {
      usleep(10000);
    }
  }
  assert_true(sent < (64u << 20)); /* the action stopped taking requests: it is stuck */
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(kill(f->action.pid, SIGTERM), 0);
  int rc = rbt_proc_wait(&f->action, 6000);
  double took = since_ms(&t0);
  close(fd);
  if (rc != 0) fail_msg("exit status %d after %.0f ms (sent %zu bytes)", rc, took, sent);
  assert_true(took < 5000);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *s = hay; (s = strstr(s, needle)) != NULL; s += strlen(needle)) n++;
  return n;
}

/* A /run with more new keys than the environment takes (RB_ENV_MAX_NAMES = 1024) is still
 * answered; the action says once, in its log, that it skipped some. */
static void test_run_keys_beyond_the_cap(void **state) {
  struct fixture *f = *state;
  for (int round = 0; round < 2; round++) {
    size_t cap = 64 * 1024, n = 0;
    char *body = malloc(cap);
    assert_non_null(body);
    n += (size_t)snprintf(body + n, cap - n, "{\"value\":{\"num_ops\":0}");
    for (int i = 0; i < 700; i++)
      n += (size_t)snprintf(body + n, cap - n, ",\"key_%d_%d\":\"v\"", round, i);
    n += (size_t)snprintf(body + n, cap - n, "}");
    assert_true(n < cap);
    struct rbt_http_reply r;
    assert_true(rbt_http(f->action.port, "POST", "/run", body, n, &r));
    assert_int_equal(r.status, 200);
    rbt_http_reply_free(&r);
    free(body);
  }
  assert_int_equal(rbt_action_stop_checked(&f->action), 0);
  char *log = rbt_proc_log(&f->action);
  assert_int_equal(count(log, "cannot set __OW_KEY_1_"), 1);
  assert_int_equal(count(log, "cannot set "), 1);
  free(log);
}

static void test_sentinels(void **state) {
  struct fixture *f = *state;
  int p = f->action.port;
  expect(p, "POST", "/init", "{\"value\":{}}", 200, NULL);
  expect(p, "POST", "/run", "{\"value\":{\"num_ops\":1}}", 200, NULL);
  expect(p, "POST", "/run", "{\"value\":{\"num_ops\":0}}", 200, NULL);
  assert_int_equal(rbt_action_stop_checked(&f->action), 0);
  char *log = rbt_proc_log(&f->action);
  /* stdout and stderr both go to the log: two sentinels per activation, none for /init. */
  assert_int_equal(count(log, "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"), 4);
  free(log);
}

static int run_cli(const char *arg1, const char *arg2, char *out, size_t outlen) {
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    execl(rbt_bin("rbench-action"), "rbench-action", arg1, arg2, (char *)NULL);
    _exit(127);
  }
  close(pipefd[1]);
  size_t got = 0;
  ssize_t r;
  while (got < outlen - 1 && (r = read(pipefd[0], out + got, outlen - 1 - got)) > 0)
    got += (size_t)r;
  out[got] = '\0';
  close(pipefd[0]);
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_command_line(void **state) {
  struct fixture *f = *state;
  char out[4096];
  assert_int_equal(run_cli("--help", NULL, out, sizeof out), 0);
  assert_non_null(strstr(out, "--listen HOST:PORT"));
  assert_int_equal(run_cli("--version", NULL, out, sizeof out), 0);
  assert_non_null(strstr(out, "rbench-action 0."));
  assert_int_equal(run_cli("--listen", "nohost", out, sizeof out), 2);
  assert_non_null(strstr(out, "--listen: bad address 'nohost', expected HOST:PORT"));
  assert_int_equal(run_cli("--listen", "no.such.host.invalid:8080", out, sizeof out), 1);
  assert_non_null(strstr(out, "cannot listen on no.such.host.invalid:8080: "));
  assert_int_equal(run_cli("--threads", "0", out, sizeof out), 2);
  assert_non_null(strstr(out, "--threads must be an integer from 1 to 1024, got '0'"));
  assert_int_equal(run_cli("--request-timeout-ms", "0", out, sizeof out), 2);
  assert_non_null(
      strstr(out, "--request-timeout-ms must be an integer from 1 to 3600000, got '0'"));
  assert_int_equal(run_cli("--help", NULL, out, sizeof out), 0);
  assert_non_null(strstr(out, "--request-timeout-ms N"));
  assert_int_equal(run_cli("--bogus", NULL, out, sizeof out), 2);
  assert_non_null(strstr(out, "unknown or incomplete option '--bogus'"));
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", f->action.port); /* already taken */
  assert_int_equal(run_cli("--listen", listen, out, sizeof out), 1);
  assert_non_null(strstr(out, "cannot listen on 127.0.0.1:"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_init_then_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_codes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chunked_too_large_and_garbage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sentinels, setup, teardown),
      cmocka_unit_test_setup_teardown(test_run_keys_beyond_the_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_command_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_details, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ipv6_and_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_trickled_request_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_mid_request_answers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_with_unread_answers, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
