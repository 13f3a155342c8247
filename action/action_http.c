/* action_http.c: civetweb glue between HTTP requests and action_protocol.
 *
 * civetweb (not libmicrohttpd) because Debian's libmicrohttpd pulls in GnuTLS and eight more
 * libraries whose loading and constructors cost 5-8 ms of every cold start on a 2-core VM;
 * civetweb links only libc (docs/benchmarks.md has the measurement). Every request, even one
 * civetweb itself rejects, is answered with a JSON body and a Content-Length. */
#define _GNU_SOURCE
#include "action_http.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_log.h"

#define SENTINEL "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"

struct action_http {
  struct mg_context *mg;
  struct action_ctx *ctx;
  int port;  /* the port actually bound */
  bool ipv6;
};

/* Sends status with a JSON body as one write (headers and body together: two writes cost
 * the client an extra wakeup per request). close_after: the request body was not (fully)
 * read, so the connection cannot be reused. */
static void send_json(struct mg_connection *conn, int status, const char *body, size_t len,
                      bool close_after) {
  char head[256];
  if (close_after) mg_disable_connection_keep_alive(conn);
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s%s\r\n",
                   status, mg_get_response_code_text(conn, status), len,
                   status == 405 ? "Allow: POST\r\n" : "", close_after ? "Connection: close\r\n" : "");
  char *msg = malloc((size_t)n + len);
  if (!msg) {
    mg_write(conn, head, (size_t)n);
    mg_write(conn, body, len);
    return;
  }
  memcpy(msg, head, (size_t)n);
  memcpy(msg + n, body, len);
  mg_write(conn, msg, (size_t)n + len);
  free(msg);
}

static void send_error(struct mg_connection *conn, int status, const char *msg, bool close_after) {
  struct action_response r = {0};
  action_response_error(&r, status, msg);
  if (r.body) send_json(conn, status, r.body, r.len, close_after);
  action_response_free(&r);
}

static void send_too_large(struct mg_connection *conn) {
  char msg[96];
  snprintf(msg, sizeof msg, "request body larger than %u bytes", ACTION_HTTP_BODY_MAX);
  send_error(conn, 413, msg, true);
}

/* Reads the whole body (Content-Length or chunked) into a malloc'd buffer. Returns 0 on
 * success, 413 when it passes the limit, 400 when it cannot be read. */
static int read_body(struct mg_connection *conn, char **out, size_t *outlen) {
  const struct mg_request_info *ri = mg_get_request_info(conn);
  if (ri->content_length > (long long)ACTION_HTTP_BODY_MAX) return 413;
  size_t cap = ri->content_length > 0 ? (size_t)ri->content_length + 1 : 4096;
  size_t len = 0;
  char *buf = malloc(cap);
  if (!buf) return 400;
  for (;;) {
    if (len == cap) {
      size_t ncap = cap * 2 > ACTION_HTTP_BODY_MAX + 1 ? ACTION_HTTP_BODY_MAX + 1 : cap * 2;
      char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
      if (!nb) {
        free(buf);
        return len > ACTION_HTTP_BODY_MAX ? 413 : 400;
      }
      buf = nb;
      cap = ncap;
    }
    int n = mg_read(conn, buf + len, cap - len);
    if (n < 0) {
      free(buf);
      return 400;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len > ACTION_HTTP_BODY_MAX) {
      free(buf);
      return 413;
    }
  }
  *out = buf;
  *outlen = len;
  return 0;
}

static void write_sentinels(void) {
  ssize_t w = write(STDOUT_FILENO, SENTINEL, sizeof SENTINEL - 1);
  w = write(STDERR_FILENO, SENTINEL, sizeof SENTINEL - 1);
  (void)w;
}

/* civetweb's begin_request: every request comes here; returning 1 means answered. */
static int on_request(struct mg_connection *conn) {
  struct action_http *srv = mg_get_user_data(mg_get_context(conn));
  const struct mg_request_info *ri = mg_get_request_info(conn);
  bool init = strcmp(ri->local_uri, "/init") == 0;
  bool run = strcmp(ri->local_uri, "/run") == 0;
  if (!init && !run) {
    send_error(conn, 404, "not found: use POST /init or POST /run", true);
    return 1;
  }
  if (strcmp(ri->request_method, "POST") != 0) {
    send_error(conn, 405, "method not allowed: use POST", true);
    return 1;
  }
  char *body = NULL;
  size_t len = 0;
  int rc = read_body(conn, &body, &len);
  if (rc == 413) {
    send_too_large(conn);
    return 1;
  }
  if (rc != 0) {
    send_error(conn, 400, "cannot read the request body", true);
    return 1;
  }
  struct action_response r = {0};
  if (init) {
    action_handle_init(srv->ctx, body, len, &r);
  } else {
    action_handle_run(srv->ctx, body, len, &r);
    write_sentinels();
  }
  free(body);
  if (r.body) send_json(conn, r.status, r.body, r.len, false);
  action_response_free(&r);
  return 1;
}

/* Errors civetweb detects itself (malformed request, header too large, timeouts). */
static int on_http_error(struct mg_connection *conn, int status, const char *errmsg) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s", errmsg && *errmsg ? errmsg : mg_get_response_code_text(conn, status));
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
  send_error(conn, status == 503 ? 500 : status, msg, true); /* 503 means "shutting down" to OpenWhisk */
  return 0;
}

static int on_log(const struct mg_connection *conn, const char *message) {
  (void)conn;
  rb_warn("http: %s", message);
  return 1;
}

struct action_http *action_http_start(struct action_ctx *ctx, const char *host, int port,
                                      int threads, char *err, size_t errlen) {
  static bool lib_ready;
  if (!lib_ready) {
    mg_init_library(0);
    lib_ready = true;
  }
  if (strchr(host, ':') && !mg_check_feature(MG_FEATURES_IPV6)) {
    snprintf(err, errlen,
             "cannot listen on [%s]:%d: this build's HTTP library (Debian's civetweb) has no "
             "IPv6 support; use an IPv4 address such as 0.0.0.0",
             host, port);
    return NULL;
  }
  struct action_http *srv = calloc(1, sizeof *srv);
  if (!srv) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  srv->ctx = ctx;
  char ports[300];
  if (strchr(host, ':'))
    snprintf(ports, sizeof ports, "[%s]:%d", host, port);
  else
    snprintf(ports, sizeof ports, "%s:%d", host, port);
  char nthreads[16];
  snprintf(nthreads, sizeof nthreads, "%d", threads);
  /* Every worker thread is created at start, which costs cold-start time: keep few. Headers
   * and body are separate writes, so Nagle would hold the body for a delayed ACK (40 ms). */
  const char *options[] = {"listening_ports", ports, "num_threads", nthreads, "tcp_nodelay", "1",
                           "enable_keep_alive", "yes", "keep_alive_timeout_ms", "60000",
                           "request_timeout_ms", "600000", "max_request_size", "16384",
                           "decode_url", "no", NULL};
  struct mg_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.begin_request = on_request;
  cb.http_error = on_http_error;
  cb.log_message = on_log;
  struct mg_init_data init = {.callbacks = &cb, .user_data = srv, .configuration_options = options};
  struct mg_error_data errdata;
  char mgerr[256] = "";
  memset(&errdata, 0, sizeof errdata);
  errdata.text = mgerr;
  errdata.text_buffer_size = sizeof mgerr;
  srv->mg = mg_start2(&init, &errdata);
  if (!srv->mg) {
    snprintf(err, errlen, "cannot listen on %s: %s", ports, mgerr[0] ? mgerr : "address in use or not available");
    free(srv);
    return NULL;
  }
  struct mg_server_port bound[4];
  int n = mg_get_server_ports(srv->mg, 4, bound);
  srv->port = n > 0 ? bound[0].port : port;
  srv->ipv6 = n > 0 && bound[0].protocol == 3;
  return srv;
}

/* civetweb's listener thread notices mg_stop only when its poll wakes up, which can take two
 * seconds; connecting to our own listener wakes it at once. */
struct poker {
  int port;
  bool ipv6;
  atomic_bool done;
};

static void *poke_listener(void *arg) {
  struct poker *p = arg;
  while (!atomic_load(&p->done)) {
    int fd = socket(p->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
      if (p->ipv6) {
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)p->port),
                                  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        (void)connect(fd, (struct sockaddr *)&sa, sizeof sa);
      } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        (void)connect(fd, (struct sockaddr *)&sa, sizeof sa);
      }
      close(fd);
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

void action_http_stop(struct action_http *srv) {
  if (!srv) return;
  struct poker p = {.port = srv->port, .ipv6 = srv->ipv6};
  atomic_init(&p.done, false);
  pthread_t t;
  bool poking = pthread_create(&t, NULL, poke_listener, &p) == 0;
  mg_stop(srv->mg);
  atomic_store(&p.done, true);
  if (poking) pthread_join(t, NULL);
  free(srv);
}
