/* rbt.c: process, port and HTTP helpers for integration tests. */
#define _GNU_SOURCE
#include "rbt.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RBT_BIN_DIR
#error "RBT_BIN_DIR must be defined by the build"
#endif

extern char **environ;

const char *rbt_bin(const char *name) {
  static __thread char path[512];
  if (strcmp(name, "rbench-action") == 0)
    snprintf(path, sizeof path, "%s/action/rbench-action", RBT_BIN_DIR);
  else if (strcmp(name, "rbench-agent") == 0)
    snprintf(path, sizeof path, "%s/agent/rbench-agent", RBT_BIN_DIR);
  else if (strcmp(name, "rbench") == 0) snprintf(path, sizeof path, "%s/job/rbench", RBT_BIN_DIR);
  else if (strcmp(name, "fakewhisk") == 0)
    snprintf(path, sizeof path, "%s/tests/fakewhisk", RBT_BIN_DIR);
  else snprintf(path, sizeof path, "%s", name);
  return path;
}

int rbt_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  if (fd < 0) return -1;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(sa.sin_port);
}

bool rbt_wait_port(int port, int timeout_ms) {
  struct timespec ts = {0, 5 * 1000 * 1000};
  for (int waited = 0; waited <= timeout_ms; waited += 5) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    if (rc == 0) return true;
    nanosleep(&ts, NULL);
  }
  return false;
}

/* Log files made by this test process, removed when it exits. */
static char rbt_logs[64][256];
static int rbt_nlogs;

static void remove_logs(void) {
  for (int i = 0; i < rbt_nlogs; i++) unlink(rbt_logs[i]);
}

static void remember_log(const char *path) {
  if (rbt_nlogs == 0) atexit(remove_logs);
  for (int i = 0; i < rbt_nlogs; i++) {
    if (strcmp(rbt_logs[i], path) == 0) return;
  }
  if (rbt_nlogs < 64) snprintf(rbt_logs[rbt_nlogs++], sizeof rbt_logs[0], "%s", path);
}

bool rbt_proc_start(struct rbt_proc *p, char *const argv[], char *const env_extra[]) {
  snprintf(p->log, sizeof p->log, "/tmp/rbt-%d-%d.log", (int)getpid(), p->port);
  remember_log(p->log);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    for (int i = 0; env_extra && env_extra[i]; i++) putenv(env_extra[i]);
    execvp(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  p->pid = pid;
  return true;
}

int rbt_proc_stop(struct rbt_proc *p, int sig) {
  if (p->pid <= 0) return 0;
  int status = 0;
  kill(p->pid, sig);
  for (int i = 0; i < 500; i++) {
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
      p->pid = 0;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill(p->pid, SIGKILL);
  waitpid(p->pid, &status, 0);
  p->pid = 0;
  return -SIGKILL;
}

int rbt_proc_wait(struct rbt_proc *p, int timeout_ms) {
  int status = 0;
  if (p->pid <= 0) return -1000;
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
      p->pid = 0;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  rbt_proc_stop(p, SIGKILL);
  return -1000;
}

char *rbt_slurp(FILE *f) {
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (!m) return strdup("");
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
  fclose(m);
  return buf;
}

char *rbt_proc_log(const struct rbt_proc *p) {
  FILE *f = fopen(p->log, "r");
  if (!f) return strdup("");
  char *buf = rbt_slurp(f);
  fclose(f);
  return buf;
}

int rbt_action_stop_checked(struct rbt_proc *p) {
  if (p->pid <= 0) return 0;
  int status = rbt_proc_stop(p, SIGTERM);
  if (status == 0) return 0;
  char *log = rbt_proc_log(p);
  fprintf(stderr, "server exited with status %d; its log:\n%s\n", status, log);
  free(log);
  return -1;
}

static bool redis_spawn(struct rbt_proc *p, const char *password) {
  char port[16];
  snprintf(port, sizeof port, "%d", p->port);
  char *argv[16];
  int i = 0;
  argv[i++] = (char *)"redis-server";
  argv[i++] = (char *)"--port";
  argv[i++] = port;
  argv[i++] = (char *)"--bind";
  argv[i++] = (char *)"127.0.0.1";
  argv[i++] = (char *)"--save";
  argv[i++] = (char *)"";
  argv[i++] = (char *)"--appendonly";
  argv[i++] = (char *)"no";
  argv[i++] = (char *)"--daemonize";
  argv[i++] = (char *)"no";
  if (password) {
    argv[i++] = (char *)"--requirepass";
    argv[i++] = (char *)password;
  }
  argv[i] = NULL;
  if (!rbt_proc_start(p, argv, NULL)) return false;
  if (rbt_wait_port(p->port, 5000)) return true;
  rbt_proc_stop(p, SIGKILL);
  return false;
}

bool rbt_nutcracker_start(struct rbt_proc *p, int redis_port, char *conf, size_t conflen) {
  p->port = rbt_free_port();
  snprintf(conf, conflen, "/tmp/rbench-nutcracker-%d-%d.yml", (int)getpid(), p->port);
  FILE *f = fopen(conf, "w");
  if (!f) return false;
  fprintf(
      f,
      "alpha:\n  listen: 127.0.0.1:%d\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n"
      "  preconnect: true\n  server_connections: 1\n  timeout: 5000\n  auto_eject_hosts: false\n"
      "  server_retry_timeout: 2000\n  servers:\n   - 127.0.0.1:%d:1\n",
      p->port, redis_port);
  fclose(f);
  char stats[16];
  snprintf(stats, sizeof stats, "%d", rbt_free_port());
  char *argv[] = {(char *)"nutcracker", (char *)"-c",        conf, (char *)"-s", stats,
                  (char *)"-a",         (char *)"127.0.0.1", NULL};
  return rbt_proc_start(p, argv, NULL) && rbt_wait_port(p->port, 5000);
}

bool rbt_redis_start(struct rbt_proc *p, const char *password) {
  for (int attempt = 0; attempt < 5; attempt++) {
    p->port = rbt_free_port();
    if (p->port > 0 && redis_spawn(p, password)) return true;
  }
  return false;
}

bool rbt_redis_restart(struct rbt_proc *p, const char *password) {
  rbt_proc_stop(p, SIGTERM);
  for (int attempt = 0; attempt < 50; attempt++) {
    if (redis_spawn(p, password)) return true;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return false;
}

redisContext *rbt_redis_connect(int port, const char *password) {
  struct timeval tv = {2, 0};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (!c || c->err) {
    if (c) redisFree(c);
    return NULL;
  }
  if (password) {
    redisReply *r = redisCommand(c, "AUTH %s", password);
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
    if (!ok) {
      redisFree(c);
      return NULL;
    }
  }
  return c;
}

bool rbt_action_start(struct rbt_proc *p, char *const env_extra[]) {
  for (int attempt = 0; attempt < 5; attempt++) {
    p->port = rbt_free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", p->port);
    char *argv[] = {(char *)rbt_bin("rbench-action"), (char *)"--listen", listen, NULL};
    if (!rbt_proc_start(p, argv, env_extra)) return false;
    if (rbt_wait_port(p->port, 5000)) return true;
    rbt_proc_stop(p, SIGKILL);
  }
  return false;
}

struct sink {
  char *buf;
  size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  struct sink *s = arg;
  size_t add = size * n;
  char *b = realloc(s->buf, s->len + add + 1);
  if (!b) return 0;
  memcpy(b + s->len, data, add);
  s->buf = b;
  s->len += add;
  s->buf[s->len] = '\0';
  return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg) {
  struct rbt_http_reply *r = arg;
  size_t len = size * n;
  if (len > 15 && strncasecmp(data, "Content-Length:", 15) == 0) r->has_length = true;
  if (len > 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
    size_t off = 13;
    while (off < len && data[off] == ' ') off++;
    size_t l = len - off;
    while (l && (data[off + l - 1] == '\r' || data[off + l - 1] == '\n')) l--;
    if (l >= sizeof r->content_type) l = sizeof r->content_type - 1;
    memcpy(r->content_type, data + off, l);
    r->content_type[l] = '\0';
  }
  return len;
}

bool rbt_http(int port, const char *method, const char *path, const char *body, size_t len,
              struct rbt_http_reply *out) {
  memset(out, 0, sizeof *out);
  CURL *c = curl_easy_init();
  if (!c) return false;
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  struct sink s = {0};
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  h = curl_slist_append(h, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  out->body = s.buf ? s.buf : strdup("");
  return rc == CURLE_OK;
}

void rbt_http_reply_free(struct rbt_http_reply *r) {
  free(r->body);
  r->body = NULL;
}
