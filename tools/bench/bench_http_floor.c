/* bench_http_floor: what one open-loop invocation costs this machine at the least, as a
 * reference for rbench's CPU per invocation (tools/bench/bench-runner.sh).
 *
 * It does what rbench does for an invocation with nothing else: sleep until the invocation
 * is due (epoll_pwait2), send the same HTTP/1.1 POST on one kept-alive loopback connection,
 * sleep until the reply is complete, read it (Content-Length only, no parsing, no record).
 * One invocation in flight at a time (fine against fakewhisk, whose replies take well under
 * the interval). It is a measuring stick, not a client: rbench itself uses libcurl.
 *
 * --blocking is the leanest client there can be: clock_nanosleep to the due time, a blocking
 * send, blocking recvs until the reply is complete; no epoll at all. What it costs per
 * invocation is what the kernel and the machine charge for the two wake-ups and the loopback
 * exchange, whatever the client.
 *
 *   bench_http_floor [--blocking] PORT RATE INVOCATIONS USER:KEY
 * prints: user_us_per_inv sys_us_per_inv total_us_per_inv */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rb_str.h"

static unsigned long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

static double us(struct timeval a, struct timeval b) {
  return (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_usec - a.tv_usec);
}

/* Reads one reply (headers + Content-Length bytes) with blocking recvs. */
static bool read_reply(int s, char *buf, size_t cap) {
  size_t got = 0;
  for (;;) {
    ssize_t m = recv(s, buf + got, cap - 1 - got, 0);
    if (m <= 0) return false;
    got += (size_t)m;
    buf[got] = '\0';
    const char *h = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "Content-Length:");
    if (h && cl && got >= (size_t)(h + 4 - buf) + (size_t)atol(cl + 15)) return true;
  }
}

/* The leanest loop: sleep to the due time, send, block until the reply is in. */
static int run_blocking(int s, const char *req, int rl, double rate, long n,
                        unsigned long long t0) {
  char buf[16384];
  for (long k = 0; k < n; k++) {
    unsigned long long due = t0 + (unsigned long long)((double)k * 1e9 / rate);
    struct timespec ts = {(time_t)(due / 1000000000ull), (long)(due % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
    if (send(s, req, (size_t)rl, MSG_NOSIGNAL) != rl || !read_reply(s, buf, sizeof buf)) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  bool blocking = argc > 1 && strcmp(argv[1], "--blocking") == 0;
  if (blocking) argc--, argv++;
  if (argc != 5) {
    fprintf(stderr, "usage: bench_http_floor [--blocking] PORT RATE INVOCATIONS USER:KEY\n");
    return 2;
  }
  int port = atoi(argv[1]);
  double rate = atof(argv[2]);
  long n = atol(argv[3]);
  char auth[512];
  if (strlen(argv[4]) > 300 || rate <= 0 || n <= 0) return 2;
  rb_base64_encode(argv[4], strlen(argv[4]), auth);
  /* The body rbench sends with its default parameters. */
  static const char body[] =
      "{\"num_ops\":10,\"operation_type\":\"set\",\"use_batching\":false,\"parallel_calls\":5,"
      "\"key_prefix\":\"benchmark\",\"value_size\":64,\"timeout_ms\":5000,\"redis_host\":"
      "\"127.0.0.1\",\"redis_port\":6379,\"agent_host\":\"127.0.0.1\",\"agent_port\":6380}";
  char req[2048];
  int rl = snprintf(req, sizeof req,
                    "POST /api/v1/namespaces/_/actions/pkg/ok?blocking=true HTTP/1.1\r\n"
                    "Host: 127.0.0.1:%d\r\nAuthorization: Basic %s\r\n"
                    "Content-Type: application/json\r\nAccept: application/json\r\n"
                    "User-Agent: rbench\r\nContent-Length: %zu\r\n\r\n%s",
                    port, auth, sizeof body - 1, body);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("connect");
    return 1;
  }
  struct rusage r0, r1;
  if (blocking) {
    getrusage(RUSAGE_SELF, &r0);
    if (run_blocking(s, req, rl, rate, n, now_ns() + 2000000u) != 0) return 1;
    getrusage(RUSAGE_SELF, &r1);
    double u = us(r0.ru_utime, r1.ru_utime), sy = us(r0.ru_stime, r1.ru_stime);
    printf("%.1f %.1f %.1f\n", u / (double)n, sy / (double)n, (u + sy) / (double)n);
    return 0;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
  epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  getrusage(RUSAGE_SELF, &r0);
  unsigned long long t0 = now_ns() + 2000000u;
  char buf[16384];
  size_t got = 0;
  long sent = 0, done = 0;
  bool waiting = false;
  while (done < n) {
    unsigned long long due = t0 + (unsigned long long)((double)sent * 1e9 / rate), t = now_ns();
    if (!waiting && sent < n && t >= due) {
      if (send(s, req, (size_t)rl, MSG_NOSIGNAL) != rl) return 1;
      sent++;
      waiting = true;
      got = 0;
      continue;
    }
    unsigned long long d = waiting ? 1000000000ull : due > t ? due - t : 0;
    struct timespec ts = {(time_t)(d / 1000000000ull), (long)(d % 1000000000ull)};
    struct epoll_event e;
    if (epoll_pwait2(ep, &e, 1, &ts, NULL) <= 0) continue;
    ssize_t m = recv(s, buf + got, sizeof buf - 1 - got, 0);
    if (m <= 0) return 1;
    got += (size_t)m;
    buf[got] = '\0';
    const char *h = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "Content-Length:");
    if (h && cl && got >= (size_t)(h + 4 - buf) + (size_t)atol(cl + 15)) {
      waiting = false;
      done++;
    }
  }
  getrusage(RUSAGE_SELF, &r1);
  double u = us(r0.ru_utime, r1.ru_utime), sy = us(r0.ru_stime, r1.ru_stime);
  printf("%.1f %.1f %.1f\n", u / (double)n, sy / (double)n, (u + sy) / (double)n);
  return 0;
}
