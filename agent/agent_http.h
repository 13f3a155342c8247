/* agent_http.h: the --metrics endpoint (libmicrohttpd, its own thread).
 *
 *   GET /metrics  Prometheus text format, summed over all workers
 *   GET /healthz  200 "ok" when every upstream connection is ready, else 503
 * Anything else is 404 (405 for methods other than GET/HEAD). No secret is ever rendered. */
#ifndef AGENT_HTTP_H
#define AGENT_HTTP_H

#include <stddef.h>

#include "agent_metrics.h"

struct agent_http;

/* Starts serving. metrics (n pointers) are borrowed and must outlive the server;
 * upstreams_expected is the number of upstream connections when all are up. */
struct agent_http *agent_http_start(const char *host, int port,
                                    struct agent_metrics *const *metrics, size_t n,
                                    unsigned long long upstreams_expected, char *err,
                                    size_t errlen);
/* Stops and frees. NULL-safe. */
void agent_http_stop(struct agent_http *h);

#endif
