/* action_httpreq.h: one HTTP/1.x request of the action protocol, assembled from the bytes of
 * a connection by nodejs's http-parser (Debian's libhttp-parser), with the action's limits.
 * Transport-free: the server feeds it what recv() returned; tests and the fuzzer feed it
 * anything.
 *
 *   bytes ─► action_httpreq_feed ─► AHR_MORE (want more bytes)
 *                                 ─► AHR_CONTINUE (headers accepted, client expects 100)
 *                                 ─► AHR_COMPLETE (route, body, keep_alive)
 *                                 ─► AHR_ERROR (status and message to answer, then close)
 *
 * Routing is decided from the request line: a path other than /init or /run is 404, another
 * method than POST 405 (both after the body is read and discarded, so the connection stays
 * usable); a body over ACTION_HTTP_BODY_MAX is 413 as soon as it is known (Content-Length or
 * the chunk that passes it); malformed HTTP is 400. */
#ifndef ACTION_HTTPREQ_H
#define ACTION_HTTPREQ_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#define ACTION_HTTP_BODY_MAX (1024u * 1024u)

enum ahr_route {
  AHR_ROUTE_NONE,
  AHR_ROUTE_INIT,
  AHR_ROUTE_RUN,
  AHR_ROUTE_NOT_FOUND,
  AHR_ROUTE_BAD_METHOD
};

enum ahr_state { AHR_MORE, AHR_CONTINUE, AHR_COMPLETE, AHR_ERROR };

struct action_httpreq {
  http_parser parser;
  enum ahr_route route;
  char path[16]; /* enough for "/init" and "/run"; longer paths are simply not found */
  size_t path_len;
  bool path_done; /* '?' seen: the rest of the URL is the query */
  char field[16]; /* the header name being read (only Expect matters) */
  size_t field_len;
  bool field_is_expect;
  char expect[32];
  size_t expect_len;
  bool complete;
  bool keep_alive;
  char *body; /* malloc'd, NUL-terminated; NULL while empty */
  size_t body_len;
  size_t body_cap;
  int error_status; /* set with AHR_ERROR */
  char error[160];
};

/* Prepares r for a request (also after a complete one, for the next on the connection). */
void action_httpreq_init(struct action_httpreq *r);
/* Frees the body. r may be re-initialized afterwards. */
void action_httpreq_free(struct action_httpreq *r);
/* Feeds len bytes. Sets *used to the bytes consumed: after
 * AHR_COMPLETE the rest belongs to the next request; after AHR_CONTINUE the rest must be fed
 * again (it may complete the request without another byte). */
enum ahr_state action_httpreq_feed(struct action_httpreq *r, const char *data, size_t len,
                                   size_t *used);

#endif
