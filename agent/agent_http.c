/* agent_http.c: Prometheus metrics and a health check over libmicrohttpd. */
#define _GNU_SOURCE
#include "agent_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_buf.h"
#include "rb_log.h"

struct agent_http {
  struct MHD_Daemon *daemon;
  struct agent_metrics *const *metrics;
  size_t n;
  unsigned long long expected;
  double start_time_s; /* read once: it does not change */
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  enum MHD_Result rc = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *s) {
  char *body = strdup(s);
  return body ? reply(conn, status, "text/plain", body, strlen(body)) : MHD_NO;
}

/* Reads a small /proc file whole into buf (NUL-terminated); false when it cannot. */
static bool read_proc(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  size_t n = fread(buf, 1, len - 1, f);
  fclose(f);
  buf[n] = '\0';
  return n > 0;
}

/* When the process started: /proc/self/stat's starttime (clock ticks after boot, field 22)
 * plus /proc/stat's btime, as the Prometheus client libraries compute it. */
static double process_start_time(void) {
  char stat[1024], sys[8192];
  if (!read_proc("/proc/self/stat", stat, sizeof stat) || !read_proc("/proc/stat", sys, sizeof sys))
    return -1;
  const char *p = strrchr(stat, ')'); /* the command name may hold spaces and parentheses */
  const char *bt = strstr(sys, "\nbtime ");
  long ticks = sysconf(_SC_CLK_TCK);
  if (!p || !bt || ticks <= 0) return -1;
  unsigned long long start = 0;
  /* After ')' come field 3 (state) onwards: starttime is the 20th of them. */
  if (sscanf(p + 1,
             " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
             &start) != 1)
    return -1;
  return strtod(bt + 7, NULL) + (double)start / (double)ticks;
}

static void process_figures(struct agent_process *pr) {
  struct rusage ru;
  pr->cpu_seconds = -1;
  pr->rss_bytes = -1;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    pr->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  char statm[256];
  unsigned long long size = 0, resident = 0;
  if (read_proc("/proc/self/statm", statm, sizeof statm) &&
      sscanf(statm, "%llu %llu", &size, &resident) == 2)
    pr->rss_bytes = (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  (void)upload;
  (void)upload_size;
  (void)con_cls;
  struct agent_http *h = cls;
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
  if (strcmp(url, "/metrics") == 0) {
    struct agent_buf b;
    agent_buf_init(&b);
    agent_metrics_render(h->metrics, h->n, &b);
    struct agent_process pr;
    process_figures(&pr);
    pr.start_time_s = h->start_time_s;
    agent_metrics_render_process(&pr, &b);
    char *body = malloc(b.len + 1);
    if (!body) {
      agent_buf_deinit(&b);
      return MHD_NO;
    }
    memcpy(body, agent_buf_head(&b), b.len);
    size_t len = b.len;
    agent_buf_deinit(&b);
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", body, len);
  }
  if (strcmp(url, "/healthz") == 0) {
    unsigned long long up = 0;
    for (size_t i = 0; i < h->n; i++)
      up += atomic_load_explicit(&h->metrics[i]->upstreams_up, memory_order_relaxed);
    return up >= h->expected ? text(conn, MHD_HTTP_OK, "ok\n")
                             : text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "redis unreachable\n");
  }
  return text(conn, MHD_HTTP_NOT_FOUND, "not found (try /metrics)\n");
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  rb_warn("metrics http: %s", line);
}

struct agent_http *agent_http_start(const char *host, int port,
                                    struct agent_metrics *const *metrics, size_t n,
                                    unsigned long long upstreams_expected, char *err,
                                    size_t errlen) {
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *ai = NULL;
  int gai = getaddrinfo(host, portstr, &hints, &ai);
  if (gai != 0) {
    snprintf(err, errlen, "--metrics %s: %s", host, gai_strerror(gai));
    return NULL;
  }
  struct sockaddr_storage ss;
  memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  struct agent_http *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->metrics = metrics;
  h->n = n;
  h->expected = upstreams_expected;
  h->start_time_s = process_start_time();
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_POLL;
  if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  h->daemon =
      MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                       on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                       MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
  if (!h->daemon) {
    snprintf(err, errlen, "--metrics: cannot listen on %s:%d", host, port);
    free(h);
    return NULL;
  }
  return h;
}

void agent_http_stop(struct agent_http *h) {
  if (!h) return;
  MHD_stop_daemon(h->daemon);
  free(h);
}
