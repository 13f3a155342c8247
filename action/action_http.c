/* action_http.c: libmicrohttpd glue between HTTP requests and action_protocol. */
#define _GNU_SOURCE
#include "action_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rb_log.h"

#define SENTINEL "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"

struct action_http {
  struct MHD_Daemon *daemon;
  struct action_ctx *ctx;
};

enum route { ROUTE_INIT, ROUTE_RUN, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

/* Per-request state, kept in MHD's con_cls between calls. */
struct request {
  enum route route;
  char *body;
  size_t len, cap;
  bool too_large;
};

static enum MHD_Result queue_json(struct MHD_Connection *conn, int status, char *body, size_t len,
                                  bool allow_post) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  if (allow_post) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
  enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return rc;
}

static enum MHD_Result queue_error(struct MHD_Connection *conn, int status, const char *msg) {
  struct action_response r = {0};
  action_response_error(&r, status, msg);
  if (!r.body) return MHD_NO;
  return queue_json(conn, r.status, r.body, r.len, status == 405);
}

static enum route route_of(const char *url, const char *method) {
  bool init = strcmp(url, "/init") == 0;
  bool run = strcmp(url, "/run") == 0;
  if (!init && !run) return ROUTE_NOT_FOUND;
  if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) return ROUTE_BAD_METHOD;
  return init ? ROUTE_INIT : ROUTE_RUN;
}

static bool append_body(struct request *rq, const char *data, size_t n) {
  if (rq->too_large) return true;
  if (rq->len + n > ACTION_HTTP_BODY_MAX) {
    rq->too_large = true;
    free(rq->body);
    rq->body = NULL;
    rq->len = rq->cap = 0;
    return true;
  }
  if (rq->len + n > rq->cap) {
    size_t cap = rq->cap ? rq->cap : 4096;
    while (cap < rq->len + n) cap *= 2;
    if (cap > ACTION_HTTP_BODY_MAX) cap = ACTION_HTTP_BODY_MAX;
    char *b = realloc(rq->body, cap);
    if (!b) return false;
    rq->body = b;
    rq->cap = cap;
  }
  memcpy(rq->body + rq->len, data, n);
  rq->len += n;
  return true;
}

static void write_sentinels(void) {
  ssize_t w = write(STDOUT_FILENO, SENTINEL, sizeof SENTINEL - 1);
  w = write(STDERR_FILENO, SENTINEL, sizeof SENTINEL - 1);
  (void)w;
}

static enum MHD_Result dispatch(struct action_http *srv, struct MHD_Connection *conn,
                                struct request *rq) {
  struct action_response r = {0};
  if (rq->too_large) {
    char msg[96];
    snprintf(msg, sizeof msg, "request body larger than %u bytes", ACTION_HTTP_BODY_MAX);
    return queue_error(conn, 413, msg);
  }
  if (rq->route == ROUTE_INIT) {
    action_handle_init(srv->ctx, rq->body ? rq->body : "", rq->len, &r);
  } else {
    action_handle_run(srv->ctx, rq->body ? rq->body : "", rq->len, &r);
    write_sentinels();
  }
  if (!r.body) return MHD_NO;
  return queue_json(conn, r.status, r.body, r.len, false);
}

static bool declared_too_large(struct MHD_Connection *conn) {
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (!cl) return false;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(cl, &end, 10);
  return errno == ERANGE || (end != cl && v > ACTION_HTTP_BODY_MAX);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  (void)version;
  struct action_http *srv = cls;
  struct request *rq = *con_cls;
  if (!rq) {
    enum route route = route_of(url, method);
    if (route == ROUTE_NOT_FOUND) return queue_error(conn, 404, "not found: use POST /init or POST /run");
    if (route == ROUTE_BAD_METHOD) return queue_error(conn, 405, "method not allowed: use POST");
    if (declared_too_large(conn)) {
      char msg[96];
      snprintf(msg, sizeof msg, "request body larger than %u bytes", ACTION_HTTP_BODY_MAX);
      return queue_error(conn, 413, msg);
    }
    rq = calloc(1, sizeof *rq);
    if (!rq) return MHD_NO;
    rq->route = route;
    *con_cls = rq;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    if (!append_body(rq, upload_data, *upload_data_size)) return MHD_NO;
    *upload_data_size = 0;
    return MHD_YES;
  }
  return dispatch(srv, conn, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)conn;
  (void)toe;
  struct request *rq = *con_cls;
  if (rq) {
    free(rq->body);
    free(rq);
  }
  *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  rb_warn("http: %s", line);
}

static bool resolve_listen(const char *host, int port, struct sockaddr_storage *ss, char *err,
                           size_t errlen) {
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  int gai = getaddrinfo(host, portstr, &hints, &ai);
  if (gai != 0) {
    snprintf(err, errlen, "cannot resolve listen address %s: %s", host, gai_strerror(gai));
    return false;
  }
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  return true;
}

struct action_http *action_http_start(struct action_ctx *ctx, const char *host, int port,
                                      char *err, size_t errlen) {
  struct sockaddr_storage ss;
  if (!resolve_listen(host, port, &ss, err, errlen)) return NULL;
  struct action_http *srv = calloc(1, sizeof *srv);
  if (!srv) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  srv->ctx = ctx;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                   MHD_USE_ERROR_LOG | MHD_USE_POLL;
  if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  srv->daemon = MHD_start_daemon(
      flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
      on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
  if (!srv->daemon) {
    snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available)", host, port);
    free(srv);
    return NULL;
  }
  return srv;
}

void action_http_stop(struct action_http *srv) {
  if (!srv) return;
  MHD_stop_daemon(srv->daemon);
  free(srv);
}
