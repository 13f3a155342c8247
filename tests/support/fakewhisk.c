/* fakewhisk.c: a test double of the OpenWhisk controller's REST API on loopback, answering
 * as reference/openwhisk.md section 3 documents (libmicrohttpd, optional TLS).
 *
 * Behaviour is chosen by the action name (last path segment), so one server covers every
 * case:
 *   ok         200 + activation record (waitTime; initTime on the first call only: cold start)
 *   accepted   202 {"activationId"}; GET /activations/{id} is 404 twice, then 200 + record
 *   throttled  429 {"error":"Too many requests in the last minute (count: N, allowed: 60).","code"}
 *   apperror   502 + record with response.status "application error" and result {"error"}
 *   gateway    502 with an HTML body (a proxy in front of the controller)
 *   internal   500 {"error","code"}
 *   slow       200 after 3 seconds
 *   missing    404 for GET and POST (unknown action)
 * Every invoke answer carries x-openwhisk-activation-id. A wrong Authorization is 401.
 *
 * It also plays the Kubernetes API server's ConfigMap endpoints (with --bearer TOKEN):
 *   POST /api/v1/namespaces/{ns}/configmaps         201, or 409 AlreadyExists when the
 *                                                    name was created before
 *   PUT  /api/v1/namespaces/{ns}/configmaps/{name}  200
 * Both need "Authorization: Bearer TOKEN" (else 401 Status) and Content-Type
 * application/json (else 415 Status).
 *
 * Usage: fakewhisk --port N [--auth UUID:KEY] [--bearer TOKEN] [--tls CERT KEY] [--log FILE]
 * --log appends one line per request: "METHOD URL auth=ok|bad ctype=TYPE BODY", and one line
 * "CONNECTION N" when the N-th connection is accepted (tests count the connections a client
 * opens, and when). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "rb_str.h"

static char expected_auth[600];
static char expected_bearer[600];
static char created[32][256];
static int created_n;
static FILE *logf_;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counter;
static unsigned long connections;
static int ok_calls;
static int poll_counts[4096];

struct req {
  char *body;
  size_t len;
  bool slow_done; /* "slow": its 3 seconds are over */
};

static int slow_pending; /* suspended "slow" connections (under lock) */

struct slow_wait {
  struct MHD_Connection *c;
  struct req *rq;
};

/* "slow" answers after 3 s without holding one of the server's threads: the connection is
 * suspended and resumed from a thread of its own. */
static void *slow_timer(void *arg) {
  struct slow_wait *w = arg;
  sleep(3);
  pthread_mutex_lock(&lock);
  w->rq->slow_done = true;
  slow_pending--;
  pthread_mutex_unlock(&lock);
  MHD_resume_connection(w->c);
  free(w);
  return NULL;
}

static bool slow_start(struct MHD_Connection *c, struct req *rq) {
  struct slow_wait *w = malloc(sizeof *w);
  pthread_t t;
  if (!w) return false;
  *w = (struct slow_wait){c, rq};
  pthread_mutex_lock(&lock);
  slow_pending++;
  pthread_mutex_unlock(&lock);
  MHD_suspend_connection(c);
  if (pthread_create(&t, NULL, slow_timer, w) != 0) {
    MHD_resume_connection(c);
    pthread_mutex_lock(&lock);
    slow_pending--;
    pthread_mutex_unlock(&lock);
    free(w);
    return false;
  }
  pthread_detach(t);
  return true;
}


static long long now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *aid, const char *ctype) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(r, "Content-Type", ctype ? ctype : "application/json");
  if (aid) MHD_add_response_header(r, "x-openwhisk-activation-id", aid);
  enum MHD_Result rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

static void record_json(char *out, size_t len, const char *aid, const char *path,
                        const char *status, bool cold, const char *result) {
  long long end = now_ms();
  snprintf(out, len,
           "{\"namespace\":\"guest\",\"name\":\"%s\",\"version\":\"0.0.1\",\"subject\":\"guest\","
           "\"activationId\":\"%s\",\"start\":%lld,\"end\":%lld,\"duration\":%d,\"statusCode\":0,"
           "\"response\":{\"status\":\"%s\",\"statusCode\":0,\"success\":%s,\"result\":%s},"
           "\"logs\":[],\"annotations\":[{\"key\":\"path\",\"value\":\"guest/%s\"},"
           "{\"key\":\"waitTime\",\"value\":7},{\"key\":\"kind\",\"value\":\"blackbox\"},"
           "{\"key\":\"timeout\",\"value\":false},{\"key\":\"limits\",\"value\":{\"concurrency\":1,"
           "\"logs\":10,\"memory\":256,\"timeout\":60000}}%s],\"publish\":false}",
           strrchr(path, '/') + 1, aid, end - (cold ? 45 : 3), end, cold ? 45 : 3, status,
           strcmp(status, "success") ? "false" : "true", result, path,
           cold ? ",{\"key\":\"initTime\",\"value\":31}" : "");
}

static const char *ok_result =
    "{\"succeeded\":10,\"failed\":0,\"elapsed_us\":2100,\"connect_us\":150,\"ops_per_sec\":4761.9,"
    "\"latency_us\":{\"p50\":200,\"p90\":300,\"p99\":400,\"min\":100,\"max\":400,\"mean\":210},"
    "\"cold\":false,\"warm\":true}";

static enum MHD_Result invoke(struct MHD_Connection *c, struct req *rq, const char *url,
                              const char *name) {
  char aid[40], body[4096];
  if (!strcmp(name, "slow") && !rq->slow_done && slow_start(c, rq)) return MHD_YES;
  unsigned long id;
  pthread_mutex_lock(&lock);
  id = ++counter;
  bool cold = strcmp(name, "ok") == 0 && ok_calls++ == 0;
  pthread_mutex_unlock(&lock);
  snprintf(aid, sizeof aid, "%032lx", id);
  const char *path = strstr(url, "/actions/") + 9;
  char p[300];
  snprintf(p, sizeof p, "%.*s", (int)strcspn(path, "?"), path);
  if (!strcmp(name, "ok")) {
    record_json(body, sizeof body, aid, p, "success", cold, ok_result);
    return reply(c, 200, body, aid, NULL);
  }
  if (!strcmp(name, "slow")) {
    record_json(body, sizeof body, aid, p, "success", false, ok_result);
    return reply(c, 200, body, aid, NULL);
  }
  if (!strcmp(name, "accepted")) {
    snprintf(body, sizeof body, "{\"activationId\":\"%s\"}", aid);
    return reply(c, 202, body, aid, NULL);
  }
  if (!strcmp(name, "throttled")) {
    snprintf(body, sizeof body, "{\"error\":\"Too many requests in the last minute (count: %lu, "
             "allowed: 60).\",\"code\":\"tid%lu\"}", 60 + id, id);
    return reply(c, 429, body, aid, NULL);
  }
  if (!strcmp(name, "apperror")) {
    record_json(body, sizeof body, aid, p, "application error", false,
                "{\"error\":\"3 of 10 operations failed (127.0.0.1:6379): connection refused\"}");
    return reply(c, 502, body, aid, NULL);
  }
  if (!strcmp(name, "gateway"))
    return reply(c, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", NULL, "text/html");
  if (!strcmp(name, "internal"))
    return reply(c, 500, "{\"error\":\"An internal error occurred.\",\"code\":\"tid1\"}", aid, NULL);
  return reply(c, 404, "{\"error\":\"The requested resource does not exist.\",\"code\":\"tid2\"}", NULL, NULL);
}

static enum MHD_Result activation_get(struct MHD_Connection *c, const char *id) {
  unsigned long n = strtoul(id, NULL, 16);
  pthread_mutex_lock(&lock);
  int polls = n < 4096 ? ++poll_counts[n] : 3;
  pthread_mutex_unlock(&lock);
  if (polls <= 2)
    return reply(c, 404, "{\"error\":\"The requested resource does not exist.\",\"code\":\"tid3\"}", NULL, NULL);
  char body[4096];
  record_json(body, sizeof body, id, "pkg/accepted", "success", false, ok_result);
  return reply(c, 200, body, NULL, NULL);
}

static enum MHD_Result k8s_status(struct MHD_Connection *c, unsigned code, const char *reason,
                                  const char *message) {
  char body[600];
  snprintf(body, sizeof body, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
           "\"message\":\"%s\",\"reason\":\"%s\",\"code\":%u}", message, reason, code);
  return reply(c, code, body, NULL, NULL);
}

/* The name in a ConfigMap body: "metadata":{"name":"X" (good enough for a test double). */
static void body_name(const char *body, char *out, size_t len) {
  const char *p = body ? strstr(body, "\"name\":\"") : NULL;
  out[0] = '\0';
  if (p) snprintf(out, len, "%.*s", (int)strcspn(p + 8, "\""), p + 8);
}

static enum MHD_Result configmaps(struct MHD_Connection *c, const char *url, const char *method,
                                  const char *body) {
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
  char want[700];
  snprintf(want, sizeof want, "Bearer %s", expected_bearer);
  if (!auth || strcmp(auth, want)) return k8s_status(c, 401, "Unauthorized", "Unauthorized");
  if (!ctype || strcmp(ctype, "application/json"))
    return k8s_status(c, 415, "UnsupportedMediaType", "the body must be application/json");
  char name[256];
  body_name(body, name, sizeof name);
  if (!strcmp(method, "POST") && strstr(url, "/configmaps") && !strchr(strstr(url, "/configmaps") + 1, '/')) {
    pthread_mutex_lock(&lock);
    bool exists = false;
    for (int i = 0; i < created_n; i++) exists |= !strcmp(created[i], name);
    if (!exists && created_n < 32) snprintf(created[created_n++], 256, "%s", name);
    pthread_mutex_unlock(&lock);
    if (exists) {
      char msg[400];
      snprintf(msg, sizeof msg, "configmaps \\\"%s\\\" already exists", name);
      return k8s_status(c, 409, "AlreadyExists", msg);
    }
    return reply(c, 201, body, NULL, NULL);
  }
  if (!strcmp(method, "PUT")) return reply(c, 200, body, NULL, NULL);
  return k8s_status(c, 405, "MethodNotAllowed", "method not allowed");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **con_cls) {
  (void)cls;
  (void)version;
  struct req *rq = *con_cls;
  if (!rq) {
    *con_cls = calloc(1, sizeof *rq);
    return MHD_YES;
  }
  if (*size) {
    rq->body = realloc(rq->body, rq->len + *size + 1);
    memcpy(rq->body + rq->len, data, *size);
    rq->len += *size;
    rq->body[rq->len] = '\0';
    *size = 0;
    return MHD_YES;
  }
  if (expected_bearer[0] && strstr(url, "/configmaps")) {
    if (logf_) {
      const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
      const char *au = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
      char want[700];
      snprintf(want, sizeof want, "Bearer %s", expected_bearer);
      pthread_mutex_lock(&lock);
      fprintf(logf_, "%s %s auth=%s ctype=%s %s\n", method, url, au && !strcmp(au, want) ? "ok" : "bad",
              ct ? ct : "-", rq->body ? rq->body : "");
      fflush(logf_);
      pthread_mutex_unlock(&lock);
    }
    return configmaps(c, url, method, rq->body);
  }
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  char want[900] = "Basic ";
  rb_base64_encode(expected_auth, strlen(expected_auth), want + 6);
  bool auth_ok = !expected_auth[0] || (auth && !strcmp(auth, want));
  if (logf_) {
    pthread_mutex_lock(&lock);
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    fprintf(logf_, "%s %s auth=%s ctype=%s %s\n", method, url, auth_ok ? "ok" : "bad",
            ct ? ct : "-", rq->body ? rq->body : "");
    fflush(logf_);
    pthread_mutex_unlock(&lock);
  }
  if (!auth_ok)
    return reply(c, 401, "{\"error\":\"The supplied authentication is invalid\",\"code\":\"tid4\"}", NULL, NULL);
  const char *name = strrchr(url, '/') + 1;
  if (strstr(url, "/activations/")) return activation_get(c, name);
  if (!strstr(url, "/actions/")) return reply(c, 404, "{\"error\":\"not found\",\"code\":\"x\"}", NULL, NULL);
  if (!strcmp(method, "GET")) {
    if (!strcmp(name, "missing"))
      return reply(c, 404, "{\"error\":\"The requested resource does not exist.\",\"code\":\"tid5\"}", NULL, NULL);
    return reply(c, 200, "{\"name\":\"x\",\"exec\":{\"kind\":\"blackbox\",\"image\":\"localhost:5000/rbench-action:1\"}}", NULL, NULL);
  }
  return invoke(c, rq, url, name);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  struct req *rq = *con_cls;
  if (rq) free(rq->body);
  free(rq);
  *con_cls = NULL;
}

static void connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe) {
  (void)cls;
  (void)c;
  (void)socket_context;
  if (toe != MHD_CONNECTION_NOTIFY_STARTED) return;
  pthread_mutex_lock(&lock);
  unsigned long n = ++connections;
  if (logf_) {
    fprintf(logf_, "CONNECTION %lu\n", n);
    fflush(logf_);
  }
  pthread_mutex_unlock(&lock);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 1 << 16);
  size_t n = fread(buf, 1, (1 << 16) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  int port = 0;
  const char *cert = NULL, *key = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--auth") && i + 1 < argc) snprintf(expected_auth, sizeof expected_auth, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--bearer") && i + 1 < argc) snprintf(expected_bearer, sizeof expected_bearer, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--log") && i + 1 < argc) logf_ = fopen(argv[++i], "a");
    else if (!strcmp(argv[i], "--tls") && i + 2 < argc) cert = argv[++i], key = argv[++i];
  }
  if (!port) {
    fprintf(stderr, "usage: fakewhisk --port N [--auth U:K] [--tls CERT KEY] [--log FILE]\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* MHD's threads inherit it; main sigwaits */
  /* Two epoll threads share the connections: a new connection costs an accept, not a thread
   * (with a thread per connection, a client opening hundreds of connections at once waited
   * ~0.5 ms per accept; see docs/benchmarks.md, "rbench runner"). */
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  char *certpem = NULL, *keypem = NULL;
  if (cert) {
    certpem = slurp(cert);
    keypem = slurp(key);
    if (!certpem || !keypem) return 2;
    flags |= MHD_USE_TLS;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct MHD_Daemon *d =
      cert ? MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                              MHD_OPTION_NOTIFY_CONNECTION, connection_event, NULL,
                              MHD_OPTION_THREAD_POOL_SIZE, 2u,
                              MHD_OPTION_HTTPS_MEM_CERT, certpem, MHD_OPTION_HTTPS_MEM_KEY, keypem,
                              MHD_OPTION_END)
           : MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                              MHD_OPTION_NOTIFY_CONNECTION, connection_event, NULL,
                              MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "fakewhisk: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  int sig;
  sigwait(&set, &sig);
  pthread_mutex_lock(&lock);
  bool suspended = slow_pending > 0;
  pthread_mutex_unlock(&lock);
  if (suspended) return 0; /* MHD must not be stopped with connections suspended */
  MHD_stop_daemon(d);
  free(certpem);
  free(keypem);
  if (logf_) fclose(logf_);
  return 0;
}
