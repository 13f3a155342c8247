/* rbt_agent.c: helpers for rbench-agent integration tests. */
#define _GNU_SOURCE
#include "rbt_agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long rbt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rbt_agent_start(struct rbt_proc *p, int redis_port, const char *const *extra,
                     char *const env[]) {
  for (int attempt = 0; attempt < 5; attempt++) {
    p->port = rbt_free_port();
    char listen[64], redis[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", p->port);
    snprintf(redis, sizeof redis, "127.0.0.1:%d", redis_port);
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)rbt_bin("rbench-agent");
    argv[n++] = (char *)"--listen";
    argv[n++] = listen;
    argv[n++] = (char *)"--redis";
    argv[n++] = redis;
    for (int i = 0; extra && extra[i] && n < 38; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    if (!rbt_proc_start(p, argv, env)) return false;
    if (rbt_wait_port(p->port, 5000)) return true;
    rbt_proc_stop(p, SIGKILL);
  }
  return false;
}

int rbt_tcp_connect(int port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool rbt_send(int fd, const void *p, size_t n) {
  const char *b = p;
  while (n > 0) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    b += w;
    n -= (size_t)w;
  }
  return true;
}

redisReply *rbt_read_reply(int fd, redisReader *r) {
  for (;;) {
    void *reply = NULL;
    if (redisReaderGetReply(r, &reply) != REDIS_OK) return NULL;
    if (reply) return reply;
    char buf[16384];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return NULL;
    if (redisReaderFeed(r, buf, (size_t)n) != REDIS_OK) return NULL;
  }
}

bool rbt_peer_closed(int fd, redisReader *r) {
  (void)r;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ECONNRESET) return true;
    if (n < 0) return false; /* timeout */
  }
}

redisContext *rbt_connect_timeout(int port) {
  struct timeval tv = {10, 0};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (!c || c->err) {
    if (c) redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, tv);
  return c;
}

int rbt_run(const char *cmdline, char **out) {
  FILE *f = popen(cmdline, "r");
  if (!f) return -1;
  char *buf = rbt_slurp(f);
  int st = pclose(f);
  if (out) *out = buf;
  else free(buf);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *rbt_http_get(int port, const char *path, int *status) {
  int fd = rbt_tcp_connect(port, 5000);
  if (fd < 0) return NULL;
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
  if (!rbt_send(fd, req, (size_t)n)) {
    close(fd);
    return NULL;
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  char chunk[4096];
  ssize_t r;
  while ((r = recv(fd, chunk, sizeof chunk, 0)) > 0) fwrite(chunk, 1, (size_t)r, m);
  fclose(m);
  close(fd);
  *status = 0;
  sscanf(buf, "HTTP/1.%*d %d", status);
  char *body = strstr(buf, "\r\n\r\n");
  char *res = strdup(body ? body + 4 : "");
  free(buf);
  return res;
}
