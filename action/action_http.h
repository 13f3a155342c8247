/* action_http.h: the action's HTTP/1.1 server: POST /init and POST /run.
 *
 * The calling thread accepts; each connection is served by a thread of its own, created when
 * the connection arrives (nothing is started before the first request: that is the cold
 * start), which reads its requests with http-parser (action_httpreq.h), runs them and
 * answers, keep-alive, until the client closes or is idle for ACTION_HTTP_IDLE_MS.
 *
 * Every response is JSON with a Content-Length (OpenWhisk's invoker ignores bodies without
 * one), sent in one write. 503 is never sent: the invoker reads it as "container shutting
 * down". */
#ifndef ACTION_HTTP_H
#define ACTION_HTTP_H

#include <stddef.h>

#include "action_httpreq.h"
#include "action_protocol.h"

#define ACTION_HTTP_THREADS_DEFAULT 64
#define ACTION_HTTP_THREADS_MAX 1024
#define ACTION_HTTP_IDLE_MS 60000
/* Default of action_http_set_request_timeout: a request must arrive whole within this of its
 * first byte (else 408), and an answer must be taken by its client within this (else the
 * connection is closed). */
#define ACTION_HTTP_REQUEST_MS 60000

struct action_http;

/* Binds and listens on host:port (an IPv4 or IPv6 address or a name; "0.0.0.0" and "::" for
 * every interface, "::" accepting IPv4 too). At most max_conns connections are served at
 * once; more wait in the listen backlog. Returns NULL with err set when the address cannot
 * be bound. Starts no thread. */
struct action_http *action_http_start(struct action_ctx *ctx, const char *host, int port,
                                      int max_conns, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
int action_http_port(const struct action_http *srv);
/* Sets the request timeout (ACTION_HTTP_REQUEST_MS when ms <= 0). Call before serving. */
void action_http_set_request_timeout(struct action_http *srv, int ms);
/* Accepts and serves until stop_fd becomes readable (e.g. a signalfd for SIGTERM), then
 * stops accepting, lets requests in progress finish and answer (a request still arriving, or
 * an answer its client does not take, gets 2 s more at most), closes idle connections and
 * returns once every connection thread has ended. After each /run it writes the OpenWhisk
 * log sentinel to stdout and stderr. */
void action_http_serve(struct action_http *srv, int stop_fd);
/* Frees a server that is not serving. NULL-safe. */
void action_http_free(struct action_http *srv);

#endif
