/* action_http.c: the action's HTTP server (see the header).
 *
 * Why not an HTTP server library: Debian's libmicrohttpd links GnuTLS and eight more libraries
 * (5 ms more per process start here), and civetweb (no static archive, a master and worker
 * threads started before the first request) kept the cold start at 8 ms against a 5 ms
 * target; docs/benchmarks.md has the measurements. This file is only the connection loop:
 * parsing is http-parser's, JSON is cJSON's, and the event loop of the Redis work is libevent's.
 */
#define _GNU_SOURCE
#include "action_http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "rb_log.h"

#define SENTINEL "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"
#define READ_CHUNK 16384
#define LINGER_MS 2000
/* After a stop, a request in progress gets this long to finish arriving, and an answer this
 * long to be taken by its client, so neither a slow nor a stuck client holds the stop up. */
#define STOP_GRACE_MS 2000

struct action_http {
  struct action_ctx *ctx;
  int lfd;
  int port;
  int max_conns;
  int stop_pipe[2]; /* written once on stop: every connection thread polls the read end */
  int slot_pipe[2]; /* a connection thread ended: wakes the acceptor when it waits for a slot */
  pthread_mutex_t lock;
  pthread_cond_t idle;
  int active;     /* connection threads running */
  int request_ms; /* a request must arrive, and its answer be taken, within this */
  atomic_bool stopping;
};

struct conn {
  struct action_http *srv;
  int fd;
  char buf[READ_CHUNK];
};

static const char *status_text(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
  }
}

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until fd has one of `events` or the deadline (now_ms() clock) passes. 1: ready (or an
 * error or hang-up the next call will report), 0: timed out, -1: stopping (only with
 * stop_ends) or poll failed. Without stop_ends a stop of the server does not end the wait; it
 * only brings the deadline to STOP_GRACE_MS from then. */
static int wait_fd(struct action_http *srv, int fd, short events, long deadline, bool stop_ends) {
  bool stop_seen = false;
  for (;;) {
    long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p[2] = {{.fd = fd, .events = events},
                          {.fd = stop_seen ? -1 : srv->stop_pipe[0], .events = POLLIN}};
    int n = poll(p, 2, left > INT_MAX ? INT_MAX : (int)left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (p[1].revents && stop_ends) return -1;
    if (p[0].revents) return 1;
    if (p[1].revents) { /* the stop pipe stays readable: watch it no more */
      stop_seen = true;
      long grace = now_ms() + STOP_GRACE_MS;
      if (grace < deadline) deadline = grace;
    }
  }
}

/* Sends everything, waiting for room at most srv->request_ms in all: a client that stops
 * reading its answers cannot hold a connection thread, nor a stop, for ever. */
static bool send_all(struct action_http *srv, int fd, struct iovec *iov, int cnt) {
  long deadline = now_ms() + srv->request_ms;
  while (cnt > 0) {
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
    ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
          wait_fd(srv, fd, POLLOUT, deadline, false) == 1)
        continue;
      return false;
    }
    size_t left = (size_t)w;
    while (cnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = (char *)iov->iov_base + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

/* Headers and body in one system call: two writes cost the client an extra wake-up. */
static bool send_json(struct action_http *srv, int fd, int status, const char *body, size_t len,
                      bool close_after) {
  char head[256];
  int n = snprintf(
      head, sizeof head,
      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s%s\r\n", status,
      status_text(status), len, status == 405 ? "Allow: POST\r\n" : "",
      close_after ? "Connection: close\r\n" : "");
  struct iovec iov[2] = {{head, (size_t)n}, {(void *)(uintptr_t)body, len}};
  return send_all(srv, fd, iov, 2);
}

static bool send_error(struct action_http *srv, int fd, int status, const char *msg,
                       bool close_after) {
  struct action_response r = {0};
  action_response_error(&r, status, msg);
  bool ok = r.body && send_json(srv, fd, status, r.body, r.len, close_after);
  action_response_free(&r);
  return ok;
}

static void write_sentinels(void) {
  ssize_t w = write(STDOUT_FILENO, SENTINEL, sizeof SENTINEL - 1);
  w = write(STDERR_FILENO, SENTINEL, sizeof SENTINEL - 1);
  (void)w;
}

/* Waits until fd is readable. 1: readable, 0: timed out, -1: stopping. */
static int wait_readable(struct action_http *srv, int fd, int timeout_ms) {
  return wait_fd(srv, fd, POLLIN, now_ms() + timeout_ms, true);
}

/* After an error answer the client may still be sending: read and drop what comes for a
 * while, so closing does not reset the connection before the client has read the answer. */
static void linger_close(struct action_http *srv, int fd) {
  shutdown(fd, SHUT_WR);
  char sink[4096];
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
    if (spent >= LINGER_MS || wait_readable(srv, fd, (int)(LINGER_MS - spent)) <= 0) break;
    if (recv(fd, sink, sizeof sink, 0) <= 0) break;
  }
  close(fd);
}

/* Serves one complete request. Returns false when the connection must close. */
static bool answer(struct action_http *srv, int fd, struct action_httpreq *req) {
  struct action_response r = {0};
  switch (req->route) {
    case AHR_ROUTE_INIT: action_handle_init(srv->ctx, req->body, req->body_len, &r); break;
    case AHR_ROUTE_RUN:
      action_handle_run(srv->ctx, req->body, req->body_len, &r);
      write_sentinels();
      break;
    case AHR_ROUTE_BAD_METHOD:
      action_response_error(&r, 405, "method not allowed: use POST");
      break;
    default: action_response_error(&r, 404, "not found: use POST /init or POST /run"); break;
  }
  bool keep = req->keep_alive;
  bool ok = r.body && send_json(srv, fd, r.status, r.body, r.len, !keep);
  action_response_free(&r);
  return ok && keep;
}

static void serve_conn(struct conn *c) {
  struct action_http *srv = c->srv;
  int fd = c->fd;
  size_t off = 0, len = 0; /* buffered bytes not yet fed: c->buf[off, off + len) */
  for (;;) {
    struct action_httpreq req;
    action_httpreq_init(&req);
    /* A request must arrive whole within request_ms of its first byte (a client trickling
     * it byte by byte gets 408, not a thread for ever), and a stop lets it finish arriving
     * (STOP_GRACE_MS): only an idle connection is closed at once. */
    bool started = len > 0;
    long deadline = started ? now_ms() + srv->request_ms : 0;
    enum ahr_state st = AHR_MORE;
    for (;;) {
      if (len > 0) {
        size_t used = 0;
        st = action_httpreq_feed(&req, c->buf + off, len, &used);
        off += used;
        len -= used;
        if (st == AHR_COMPLETE || st == AHR_ERROR) break;
        if (st == AHR_CONTINUE) {
          static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
          struct iovec iov = {(void *)(uintptr_t)cont, sizeof cont - 1};
          if (!send_all(srv, fd, &iov, 1)) break;
          continue;
        }
        if (len > 0) break; /* http-parser stopped short without saying why: give up */
      }
      int w = started ? wait_fd(srv, fd, POLLIN, deadline, false)
                      : wait_readable(srv, fd, ACTION_HTTP_IDLE_MS);
      if (w <= 0) {
        if (w == 0 && started) {
          send_error(srv, fd, 408, "timed out reading the request", true);
          st = AHR_ERROR;
          req.error_status = 0; /* answered already */
        }
        break;
      }
      ssize_t r = recv(fd, c->buf, sizeof c->buf, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break; /* the client closed (mid-request: nothing to answer to) */
      off = 0;
      len = (size_t)r;
      if (!started) deadline = now_ms() + srv->request_ms;
      started = true;
    }
    bool keep = false;
    if (st == AHR_COMPLETE) {
      keep = answer(srv, fd, &req);
    } else if (st == AHR_ERROR && req.error_status) {
      send_error(srv, fd, req.error_status, req.error, true);
      action_httpreq_free(&req);
      linger_close(srv, fd);
      return;
    }
    action_httpreq_free(&req);
    if (!keep) break;
    /* Between requests, stop when the server stops (a request in progress was finished). */
    if (atomic_load_explicit(&srv->stopping, memory_order_relaxed)) break;
  }
  close(fd);
}

static void *conn_thread(void *arg) {
  struct conn *c = arg;
  struct action_http *srv = c->srv;
  serve_conn(c);
  free(c);
  /* The count and the acceptor's wake-up change together, under the lock, so the acceptor
   * cannot wake, still see no room and sleep again; this is also the last touch of srv,
   * which may be freed once active is 0. */
  pthread_mutex_lock(&srv->lock);
  srv->active--;
  char b = 1;
  ssize_t w = write(srv->slot_pipe[1], &b, 1); /* non-blocking; a full pipe is wake-up enough */
  (void)w;
  pthread_cond_broadcast(&srv->idle);
  pthread_mutex_unlock(&srv->lock);
  return NULL;
}

static void format_addr(const char *host, int port, char *out, size_t outlen) {
  if (strchr(host, ':')) snprintf(out, outlen, "[%s]:%d", host, port);
  else snprintf(out, outlen, "%s:%d", host, port);
}

struct action_http *action_http_start(struct action_ctx *ctx, const char *host, int port,
                                      int max_conns, char *err, size_t errlen) {
  char where[300];
  format_addr(host, port, where, sizeof where);
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  int gai = getaddrinfo(host, service, &hints, &res);
  if (gai != 0) {
    snprintf(err, errlen, "cannot listen on %s: %s", where, gai_strerror(gai));
    return NULL;
  }
  int lfd = -1, saved = 0;
  for (struct addrinfo *ai = res; ai && lfd < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      saved = errno;
      continue;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
      saved = errno;
      close(fd);
      continue;
    }
    lfd = fd;
  }
  freeaddrinfo(res);
  if (lfd < 0) {
    snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(saved));
    return NULL;
  }
  struct action_http *srv = calloc(1, sizeof *srv);
  if (!srv || pipe2(srv->stop_pipe, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "cannot start the server: %s", srv ? strerror(errno) : "out of memory");
    free(srv);
    close(lfd);
    return NULL;
  }
  if (pipe2(srv->slot_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    snprintf(err, errlen, "cannot start the server: %s", strerror(errno));
    close(srv->stop_pipe[0]);
    close(srv->stop_pipe[1]);
    free(srv);
    close(lfd);
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  srv->port = port;
  if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0)
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
  srv->ctx = ctx;
  srv->lfd = lfd;
  srv->max_conns = max_conns > 0 ? max_conns : 1;
  srv->request_ms = ACTION_HTTP_REQUEST_MS;
  atomic_init(&srv->stopping, false);
  pthread_mutex_init(&srv->lock, NULL);
  pthread_cond_init(&srv->idle, NULL);
  return srv;
}

int action_http_port(const struct action_http *srv) { return srv->port; }

void action_http_set_request_timeout(struct action_http *srv, int ms) {
  srv->request_ms = ms > 0 ? ms : ACTION_HTTP_REQUEST_MS;
}

static void start_conn(struct action_http *srv, int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct conn *c = malloc(sizeof *c);
  pthread_attr_t attr;
  pthread_t t;
  bool ok = c != NULL && pthread_attr_init(&attr) == 0;
  if (ok) {
    c->srv = srv;
    c->fd = fd;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&srv->lock);
    srv->active++;
    pthread_mutex_unlock(&srv->lock);
    int rc = pthread_create(&t, &attr, conn_thread, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      pthread_mutex_lock(&srv->lock);
      srv->active--;
      pthread_mutex_unlock(&srv->lock);
      rb_warn("http: cannot start a connection thread: %s", strerror(rc));
      ok = false;
    }
  }
  if (!ok) {
    free(c);
    send_error(srv, fd, 500, "the action cannot serve another connection now", true);
    close(fd);
  }
}

void action_http_serve(struct action_http *srv, int stop_fd) {
  for (;;) {
    pthread_mutex_lock(&srv->lock);
    bool room = srv->active < srv->max_conns;
    pthread_mutex_unlock(&srv->lock);
    struct pollfd p[3] = {{.fd = stop_fd, .events = POLLIN},
                          {.fd = srv->slot_pipe[0], .events = POLLIN},
                          {.fd = room ? srv->lfd : -1, .events = POLLIN}};
    int n = poll(p, 3, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      rb_error("http: poll: %s", strerror(errno));
      break;
    }
    if (p[0].revents) break;
    if (p[1].revents) {
      char drain[64];
      while (read(srv->slot_pipe[0], drain, sizeof drain) > 0) {
      }
    }
    if (p[2].revents) {
      int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0) {
        start_conn(srv, fd);
      } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        rb_warn("http: accept: %s", strerror(errno));
        struct timespec ts = {0, 10 * 1000 * 1000}; /* let connections close */
        nanosleep(&ts, NULL);
      }
    }
  }
  /* Stop: refuse new connections, wake idle ones, wait for requests in progress. */
  close(srv->lfd);
  srv->lfd = -1;
  atomic_store(&srv->stopping, true);
  char b = 1;
  ssize_t w = write(srv->stop_pipe[1], &b, 1);
  (void)w;
  pthread_mutex_lock(&srv->lock);
  while (srv->active > 0) pthread_cond_wait(&srv->idle, &srv->lock);
  pthread_mutex_unlock(&srv->lock);
}

void action_http_free(struct action_http *srv) {
  if (!srv) return;
  if (srv->lfd >= 0) close(srv->lfd);
  close(srv->stop_pipe[0]);
  close(srv->stop_pipe[1]);
  close(srv->slot_pipe[0]);
  close(srv->slot_pipe[1]);
  pthread_mutex_destroy(&srv->lock);
  pthread_cond_destroy(&srv->idle);
  free(srv);
}
