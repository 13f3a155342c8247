/* bench_action.c: precise client-side measurements of rbench-action for
 * tools/bench/bench-action.sh.
 *
 *   bench_action cold ACTION_BIN N            process start -> POST /init answered, N times
 *   bench_action spawn BIN N [ARGS...]        process start -> exit of BIN ARGS (the VM's floor)
 *   bench_action warm ACTION_BIN REDIS_PORT N  POST /run num_ops=1 round trips vs one direct
 *                                              Redis SET round trip, N of each, interleaved
 * Prints one line of "name=value" pairs (microseconds) per command. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rb_clock.h"
#include "rb_stats.h"

extern char **environ;

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  close(fd);
  return ntohs(sa.sin_port);
}

static int try_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* Sends one POST and reads the whole response (headers + Content-Length body). */
static int http_post(int fd, const char *path, const char *body, char *resp, size_t cap) {
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   path, strlen(body), body);
  if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) return -1;
  size_t got = 0;
  for (;;) {
    ssize_t r = recv(fd, resp + got, cap - 1 - got, 0);
    if (r <= 0) return -1;
    got += (size_t)r;
    resp[got] = '\0';
    char *eoh = strstr(resp, "\r\n\r\n");
    if (!eoh) continue;
    char *cl = strcasestr(resp, "Content-Length:");
    if (!cl) return -1;
    size_t want = (size_t)(eoh + 4 - resp) + strtoul(cl + 15, NULL, 10);
    if (got >= want) return atoi(resp + 9);
  }
}

static pid_t spawn_action(const char *bin, int port) {
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
  char *argv[] = {(char *)bin,           (char *)"--listen", listen,
                  (char *)"--log-level", (char *)"warn",     NULL};
  pid_t pid;
  posix_spawn_file_actions_t fa; /* the action's logs (sentinels) go to /dev/null */
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

static void stop(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

static void report(const char *name, uint64_t *ns, size_t n) {
  struct rb_summary s;
  rb_summary_compute(ns, n, &s);
  printf("%s_p50_us=%.1f %s_p90_us=%.1f %s_min_us=%.1f ", name, (double)s.p50 / 1e3, name,
         (double)s.p90 / 1e3, name, (double)s.min / 1e3);
}

static int cold(const char *bin, int n) {
  uint64_t *ns = calloc((size_t)n, sizeof *ns);
  char resp[4096];
  for (int i = 0; i < n; i++) {
    int port = free_port();
    uint64_t t0 = rb_clock_mono_ns();
    pid_t pid = spawn_action(bin, port);
    int fd;
    while ((fd = try_connect(port)) < 0) {
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
    }
    int status = http_post(fd, "/init", "{\"value\":{}}", resp, sizeof resp);
    ns[i] = rb_clock_mono_ns() - t0;
    close(fd);
    stop(pid);
    if (status != 200) {
      fprintf(stderr, "bench_action: /init answered %d\n", status);
      return 1;
    }
  }
  report("cold_start", ns, (size_t)n);
  printf("\n");
  free(ns);
  return 0;
}

static int warm(const char *bin, int redis_port, int n) {
  int port = free_port();
  char env[32];
  snprintf(env, sizeof env, "%d", redis_port);
  setenv("REDIS_PORT", env, 1);
  pid_t pid = spawn_action(bin, port);
  int fd;
  while ((fd = try_connect(port)) < 0) usleep(100);
  char resp[8192];
  http_post(fd, "/init", "{\"value\":{}}", resp, sizeof resp);
  redisContext *rc = redisConnect("127.0.0.1", redis_port);
  if (!rc || rc->err) return 1;
  int one = 1;
  setsockopt(rc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint64_t *run_ns = calloc((size_t)n, sizeof *run_ns), *set_ns = calloc((size_t)n, sizeof *set_ns);
  char value[65];
  memset(value, 'v', 64);
  value[64] = '\0';
  for (int i = -100; i < n; i++) { /* the first 100 of each warm things up */
    uint64_t t0 = rb_clock_mono_ns();
    if (http_post(fd, "/run", "{\"value\":{\"num_ops\":1}}", resp, sizeof resp) != 200 ||
        !strstr(resp, "\"succeeded\":1")) {
      fprintf(stderr, "bench_action: /run failed: %s\n", resp);
      return 1;
    }
    uint64_t t1 = rb_clock_mono_ns();
    redisReply *r = redisCommand(rc, "SET benchmark:0 %s", value);
    uint64_t t2 = rb_clock_mono_ns();
    freeReplyObject(r);
    if (i >= 0) {
      run_ns[i] = t1 - t0;
      set_ns[i] = t2 - t1;
    }
  }
  report("run", run_ns, (size_t)n);
  report("redis_set", set_ns, (size_t)n);
  printf("overhead_p50_us=%.1f\n", ((double)run_ns[n / 2] - (double)set_ns[n / 2]) / 1e3);
  free(run_ns);
  free(set_ns);
  redisFree(rc);
  close(fd);
  stop(pid);
  return 0;
}

static int spawn_floor(char **argv, int n) {
  uint64_t *ns = calloc((size_t)n, sizeof *ns);
  posix_spawn_file_actions_t fa; /* what the program prints is not measured */
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  for (int i = 0; i < n; i++) {
    uint64_t t0 = rb_clock_mono_ns();
    pid_t pid;
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) return 1;
    waitpid(pid, NULL, 0);
    ns[i] = rb_clock_mono_ns() - t0;
  }
  posix_spawn_file_actions_destroy(&fa);
  report("spawn", ns, (size_t)n);
  printf("\n");
  free(ns);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 4 && strcmp(argv[1], "spawn") == 0) {
    int n = atoi(argv[3]);
    argv[3] = argv[2]; /* argv[3..] becomes BIN ARGS... */
    return spawn_floor(argv + 3, n);
  }
  if (argc == 4 && strcmp(argv[1], "cold") == 0) return cold(argv[2], atoi(argv[3]));
  if (argc == 5 && strcmp(argv[1], "warm") == 0) return warm(argv[2], atoi(argv[3]), atoi(argv[4]));
  fprintf(stderr,
          "usage: bench_action spawn BIN N [ARGS...] | cold ACTION_BIN N | warm ACTION_BIN "
          "REDIS_PORT N\n");
  return 2;
}
