/* test_job_http.c: the runner's event loop against a minimal HTTP/1.1 server on loopback (a
 * thread of this test): connection reuse without epoll_ctl per request, an idle connection
 * the server closes (taken out of the epoll set, no busy loop), wake-up times with
 * epoll_pwait2 and with the timerfd fallback, the send hook bounding the sleep, the threaded
 * resolver's socket watched on every lookup, per-request headers on a recycled transfer, and
 * recycled transfers (their URL parsed once) reaching the URL of their own request. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "job_http.h"
#include "rb_clock.h"

struct server {
  int lfd, port;
  bool close_after_reply; /* close the connection after each reply (no Connection: close) */
  atomic_int connections, requests;
  atomic_int tagged; /* requests that carried the header "X-Rbench-Tag: 1" */
  atomic_int to_b;   /* requests for the path /b */
  atomic_bool stop;
  pthread_t th;
};

static void serve_connection(struct server *s, int fd) {
  char buf[4096];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
    if (n <= 0) return;
    got += (size_t)n;
    buf[got] = '\0';
    char *end;
    while ((end = strstr(buf, "\r\n\r\n")) != NULL) { /* GETs only: no body */
      static const char reply[] =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
      s->requests++;
      *end = '\0'; /* the request head only */
      if (strstr(buf, "\r\nX-Rbench-Tag: 1")) s->tagged++;
      if (strncmp(buf, "GET /b HTTP/1.1\r\n", 17) == 0) s->to_b++;
      *end = '\r';
      if (write(fd, reply, sizeof reply - 1) != (ssize_t)(sizeof reply - 1)) return;
      if (s->close_after_reply) return;
      size_t used = (size_t)(end + 4 - buf);
      memmove(buf, buf + used, got - used + 1);
      got -= used;
    }
  }
}

static void *server_main(void *arg) {
  struct server *s = arg;
  while (!s->stop) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) continue;
    s->connections++;
    serve_connection(s, fd);
    close(fd);
  }
  return NULL;
}

static void server_start(struct server *s, bool close_after_reply) {
  memset(s, 0, sizeof *s);
  s->close_after_reply = close_after_reply;
  s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->lfd, 16), 0);
  socklen_t len = sizeof a;
  getsockname(s->lfd, (struct sockaddr *)&a, &len);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void server_stop(struct server *s) {
  s->stop = true;
  shutdown(s->lfd, SHUT_RDWR);
  pthread_join(s->th, NULL);
  close(s->lfd);
}

struct result {
  bool done;
  CURLcode code;
  long status;
  char body[16];
  uint64_t finished_ns;
};

static void on_done(void *ctx, struct job_http_xfer *x) {
  struct result *r = ctx;
  r->done = true;
  r->code = x->code;
  r->status = x->status;
  r->finished_ns = x->finished_ns;
  snprintf(r->body, sizeof r->body, "%s", x->body);
  job_http_xfer_free(x);
}

static const struct job_http_opts opts = {.timeout_ms = 5000, .connect_timeout_ms = 5000};

/* One GET of url with these request headers (taken; NULL for none), waited for. */
static void get_url_ok(struct job_http *h, const char *url, struct curl_slist *headers) {
  struct result r = {0};
  struct job_http_xfer *x = job_http_xfer_new(h, "GET", url, NULL, 0, headers, &opts, on_done, &r);
  assert_non_null(x);
  assert_int_equal(job_http_start(h, x), RB_OK);
  uint64_t give_up = rb_clock_mono_ns() + 5000000000ull;
  while (!r.done && rb_clock_mono_ns() < give_up) job_http_wait(h, rb_clock_mono_ns() + 100000000u);
  assert_true(r.done);
  assert_int_equal(r.code, CURLE_OK);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok");
  assert_true(r.finished_ns > 0 && r.finished_ns <= rb_clock_mono_ns());
}

/* One GET of /x with these request headers (taken; NULL for none), waited for. */
static void get_ok_with(struct job_http *h, int port, struct curl_slist *headers) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
  get_url_ok(h, url, headers);
}

/* One GET, waited for. */
static void get_ok(struct job_http *h, int port) { get_ok_with(h, port, NULL); }

static void test_reuse_without_epoll_ctl(void **state) {
  (void)state;
  struct server s;
  server_start(&s, false);
  for (int timerfd = 0; timerfd < 2; timerfd++) {
    struct job_http *h = job_http_create(16);
    assert_non_null(h);
    job_http_use_timerfd(h, timerfd);
    int before = s.connections;
    get_ok(h, s.port);
    struct job_http_stats st1;
    job_http_get_stats(h, &st1);
    for (int i = 0; i < 50; i++) get_ok(h, s.port);
    struct job_http_stats st2;
    job_http_get_stats(h, &st2);
    assert_int_equal(s.connections - before, 1);       /* one kept-alive connection */
    assert_true(st2.epoll_ctls - st1.epoll_ctls <= 2); /* not one per request */
    job_http_destroy(h);
  }
  server_stop(&s);
}

static void test_idle_connection_closed_by_server(void **state) {
  (void)state;
  struct server s;
  server_start(&s, true);
  struct job_http *h = job_http_create(16);
  assert_non_null(h);
  get_ok(h, s.port);
  /* The server has closed the idle connection: its socket reports EOF once, is taken out of
   * the epoll set, and the loop sleeps again instead of spinning on it. */
  struct job_http_stats st1, st2;
  job_http_get_stats(h, &st1);
  uint64_t until = rb_clock_mono_ns() + 60000000u;
  while (rb_clock_mono_ns() < until) job_http_wait(h, until);
  job_http_get_stats(h, &st2);
  assert_true(st2.waits - st1.waits < 10);
  get_ok(h, s.port); /* a new connection */
  assert_int_equal(s.connections, 2);
  job_http_destroy(h);
  server_stop(&s);
}

static void check_wake_up(struct job_http *h) {
  for (int i = 0; i < 5; i++) {
    uint64_t until = rb_clock_mono_ns() + 3000000u;
    job_http_wait(h, until);
    uint64_t now = rb_clock_mono_ns();
    assert_true(now >= until);             /* never early */
    assert_true(now - until < 200000000u); /* and not lost (lenient: shared machines) */
  }
}

static void test_wake_up_times(void **state) {
  (void)state;
  struct job_http *h = job_http_create(4);
  assert_non_null(h);
  check_wake_up(h);
  job_http_use_timerfd(h, true);
  check_wake_up(h);
  job_http_destroy(h);
}

struct pump_state {
  int calls;
  uint64_t next;
};

static uint64_t pump(void *ctx) {
  struct pump_state *p = ctx;
  p->calls++;
  p->next = rb_clock_mono_ns() + 1000000000ull;
  return p->next;
}

static void test_pump_bounds_the_sleep(void **state) {
  (void)state;
  struct job_http *h = job_http_create(4);
  assert_non_null(h);
  struct pump_state p = {0};
  job_http_set_pump(h, pump, &p);
  /* The runner asks to sleep until t0 + 5 ms (its next send): the loop wakes then and calls
   * the send hook once, whose answer (1 s away) is not slept through here. */
  uint64_t t0 = rb_clock_mono_ns();
  job_http_wait(h, t0 + 5000000u);
  uint64_t now = rb_clock_mono_ns();
  assert_true(now >= t0 + 5000000u);
  assert_int_equal(p.calls, 1);
  assert_true(p.next > now);
  job_http_destroy(h);
}

/* The threaded resolver, observed. libcurl looks names up with getaddrinfo on a thread of its
 * own and waits for the answer on a socketpair it opens, closes and reports through the socket
 * callback itself. This definition interposes on libc's for libcurl (the executable comes
 * first in symbol lookup) and answers the test's two names without asking any DNS server:
 * FOUND_HOST is 127.0.0.1, MISSING_HOST does not exist. Each of their lookups is held until the
 * test lets it go, so that the epoll set can be inspected while curl waits on that socket.
 * Other names go to libc. */
#define FOUND_HOST "found.rbench.invalid"
#define MISSING_HOST "missing.rbench.invalid"

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *,
                              struct addrinfo **);

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int entered, released; /* lookups of the test's names begun; lookups let go */
} resolver = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static getaddrinfo_fn libc_getaddrinfo(void) {
  static _Atomic(getaddrinfo_fn) fn;
  if (!fn) {
    getaddrinfo_fn f;
    void *sym = dlsym(RTLD_NEXT, "getaddrinfo");
    memcpy(&f, &sym, sizeof f); /* POSIX: a data pointer that holds a function's address */
    fn = f;
  }
  return fn;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
  bool found = node && strcmp(node, FOUND_HOST) == 0;
  if (!found && !(node && strcmp(node, MISSING_HOST) == 0))
    return libc_getaddrinfo()(node, service, hints, res);
  pthread_mutex_lock(&resolver.mu);
  int me = ++resolver.entered;
  pthread_cond_broadcast(&resolver.cv);
  while (resolver.released < me) pthread_cond_wait(&resolver.cv, &resolver.mu);
  pthread_mutex_unlock(&resolver.mu);
  if (!found) return EAI_NONAME;
  struct addrinfo h = {0};
  if (hints) h = *hints;
  h.ai_family = AF_INET;
  h.ai_flags |= AI_NUMERICHOST; /* an address: libc answers it without a query */
  return libc_getaddrinfo()("127.0.0.1", service, &h, res);
}

static int resolver_count(const int *n) {
  pthread_mutex_lock(&resolver.mu);
  int v = *n;
  pthread_mutex_unlock(&resolver.mu);
  return v;
}

static void resolver_release(void) {
  pthread_mutex_lock(&resolver.mu);
  resolver.released++;
  pthread_cond_broadcast(&resolver.cv);
  pthread_mutex_unlock(&resolver.mu);
}

#define MAX_FD 1024

/* Marks the descriptors this process has open. Returns an epoll instance among them that is
 * not open in before (when given), else -1. */
static int open_fds(bool open[MAX_FD], const bool *before) {
  memset(open, 0, MAX_FD * sizeof *open);
  int epfd = -1;
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] == '.' || fd == dirfd(d) || fd >= MAX_FD) continue;
    open[fd] = true;
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0) continue;
    link[n] = '\0';
    if (before && !before[fd] && strcmp(link, "anon_inode:[eventpoll]") == 0) epfd = fd;
  }
  closedir(d);
  return epfd;
}

/* Whether the kernel's epoll instance epfd watches fd (its fdinfo lists one "tfd:" line per
 * descriptor in the set). */
static bool epoll_watches(int epfd, int fd) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  bool found = false;
  int tfd;
  while (!found && fgets(line, sizeof line, f))
    found = sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd;
  fclose(f);
  return found;
}

/* A GET to host whose lookup is held: while curl waits for the resolver, one of the sockets
 * that appeared with the lookup (its socketpair) must be in the epoll set, or the answer would
 * be noticed only when curl next polls the resolver on a timer (backing off to 250 ms). */
static void get_resolved(struct job_http *h, int epfd, const char *host, int port, CURLcode want) {
  char url[96];
  snprintf(url, sizeof url, "http://%s:%d/x", host, port);
  bool before[MAX_FD], during[MAX_FD];
  open_fds(before, NULL);
  int entered = resolver_count(&resolver.entered);
  struct result r = {0};
  struct job_http_xfer *x = job_http_xfer_new(h, "GET", url, NULL, 0, NULL, &opts, on_done, &r);
  assert_non_null(x);
  assert_int_equal(job_http_start(h, x), RB_OK);
  uint64_t give_up = rb_clock_mono_ns() + 5000000000ull;
  while (resolver_count(&resolver.entered) == entered && rb_clock_mono_ns() < give_up)
    job_http_wait(h, rb_clock_mono_ns() + 1000000u);
  assert_int_equal(resolver_count(&resolver.entered), entered + 1); /* curl is waiting */
  open_fds(during, before);
  int fresh = 0, watched = 0;
  for (int fd = 0; fd < MAX_FD; fd++) {
    if (!during[fd] || before[fd]) continue;
    fresh++;
    watched += epoll_watches(epfd, fd);
  }
  resolver_release();           /* first: a failed check leaves no lookup hanging */
  assert_int_equal(fresh, 2);   /* the resolver's socketpair */
  assert_int_equal(watched, 1); /* its reading end */
  while (!r.done && rb_clock_mono_ns() < give_up) job_http_wait(h, rb_clock_mono_ns() + 100000000u);
  assert_true(r.done);
  assert_int_equal(r.code, want);
  if (want == CURLE_OK) assert_string_equal(r.body, "ok");
}

static void test_resolver_socket_watched(void **state) {
  (void)state;
  getaddrinfo_fn global;
  void *sym = dlsym(RTLD_DEFAULT, "getaddrinfo");
  memcpy(&global, &sym, sizeof global);
  assert_true(global == getaddrinfo); /* libcurl's lookups come here, not to DNS */
  struct server s;
  server_start(&s, false);
  bool before[MAX_FD];
  open_fds(before, NULL);
  struct job_http *h = job_http_create(16);
  assert_non_null(h);
  bool now_open[MAX_FD];
  int epfd = open_fds(now_open, before);
  assert_true(epfd >= 0);
  /* The failed lookup's socketpair is closed with no connection opened after it: the next
   * lookup's socketpair gets the same numbers, which must be watched afresh. */
  get_resolved(h, epfd, MISSING_HOST, s.port, CURLE_COULDNT_RESOLVE_HOST);
  get_resolved(h, epfd, FOUND_HOST, s.port, CURLE_OK);
  job_http_destroy(h);
  server_stop(&s);
}

/* A request with headers of its own after a finished one of the same profile (method, URL,
 * opts): the recycled transfer is set up again, and the headers are sent. */
static void test_headers_on_recycled_transfer(void **state) {
  (void)state;
  struct server s;
  server_start(&s, false);
  struct job_http *h = job_http_create(16);
  assert_non_null(h);
  get_ok(h, s.port);
  struct curl_slist *tag = curl_slist_append(NULL, "X-Rbench-Tag: 1");
  assert_non_null(tag);
  get_ok_with(h, s.port, tag);
  assert_int_equal(s.tagged, 1);
  get_ok(h, s.port); /* and not on the next request without them */
  assert_int_equal(s.tagged, 1);
  assert_int_equal(s.requests, 3);
  job_http_destroy(h);
  server_stop(&s);
}

/* Transfers recycled set up for one URL (parsed once) and then asked for another each reach
 * their own request's URL; a URL without a scheme, which only curl's own parsing of a URL
 * string accepts (it guesses http), still works. */
static void test_recycled_transfer_urls(void **state) {
  (void)state;
  struct server s;
  server_start(&s, false);
  struct job_http *h = job_http_create(16);
  assert_non_null(h);
  char b[64], bare[64];
  snprintf(b, sizeof b, "http://127.0.0.1:%d/b", s.port);
  snprintf(bare, sizeof bare, "127.0.0.1:%d/b", s.port);
  get_ok(h, s.port);
  get_ok(h, s.port);
  get_url_ok(h, b, NULL);
  assert_int_equal(s.to_b, 1);
  get_ok(h, s.port);
  get_url_ok(h, b, NULL);
  get_url_ok(h, b, NULL);
  assert_int_equal(s.to_b, 3);
  get_url_ok(h, bare, NULL);
  get_url_ok(h, bare, NULL);
  assert_int_equal(s.to_b, 5);
  assert_int_equal(s.requests, 8);
  job_http_destroy(h);
  server_stop(&s);
}

static void test_basic_auth_header(void **state) {
  (void)state;
  static const char *const cases[][2] = {{"bench:key", "YmVuY2g6a2V5"},
                                         {"a", "YQ=="},
                                         {"ab", "YWI="},
                                         {"abc", "YWJj"},
                                         {"u:\xff\x01", "dTr/AQ=="}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct curl_slist *l = job_http_json_headers();
    l = job_http_add_basic_auth(l, cases[i][0]);
    assert_non_null(l);
    const struct curl_slist *last = l;
    while (last->next) last = last->next;
    char want[64];
    snprintf(want, sizeof want, "Authorization: Basic %s", cases[i][1]);
    assert_string_equal(last->data, want);
    job_http_free_secret_headers(l);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reuse_without_epoll_ctl),
      cmocka_unit_test(test_idle_connection_closed_by_server),
      cmocka_unit_test(test_wake_up_times),
      cmocka_unit_test(test_pump_bounds_the_sleep),
      cmocka_unit_test(test_basic_auth_header),
      cmocka_unit_test(test_resolver_socket_watched),
      cmocka_unit_test(test_headers_on_recycled_transfer),
      cmocka_unit_test(test_recycled_transfer_urls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
