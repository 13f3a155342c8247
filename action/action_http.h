/* action_http.h: the action's HTTP server (libmicrohttpd): POST /init and POST /run.
 *
 * Every response is JSON with a Content-Length (OpenWhisk's invoker ignores bodies without
 * one). 503 is never sent: the invoker reads it as "container shutting down". */
#ifndef ACTION_HTTP_H
#define ACTION_HTTP_H

#include <stddef.h>

#include "action_protocol.h"

#define ACTION_HTTP_BODY_MAX (1024u * 1024u)
#define ACTION_HTTP_THREADS_DEFAULT 4
#define ACTION_HTTP_THREADS_MAX 256

struct action_http;

/* Starts serving on host:port (host "0.0.0.0", "::" or an address) with `threads` worker
 * threads (the most requests served at once). After each /run it writes the OpenWhisk log
 * sentinel to stdout and stderr. Returns NULL with err set when the address cannot be bound. */
struct action_http *action_http_start(struct action_ctx *ctx, const char *host, int port,
                                      int threads, char *err, size_t errlen);
/* Stops accepting, waits for requests in progress, frees. NULL-safe. */
void action_http_stop(struct action_http *srv);

#endif
