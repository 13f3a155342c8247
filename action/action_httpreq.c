/* action_httpreq.c: assembles one action-protocol request with http-parser (see the header). */
#define _GNU_SOURCE
#include "action_httpreq.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct action_httpreq *req_of(http_parser *p) { return p->data; }

static int fail(struct action_httpreq *r, int status, const char *msg) {
  r->error_status = status;
  snprintf(r->error, sizeof r->error, "%s", msg);
  return -1; /* any other value than 0, 1 or 2 stops http-parser with an error */
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct action_httpreq *r = req_of(p);
  for (size_t i = 0; i < len && !r->path_done; i++) {
    if (at[i] == '?' || at[i] == '#') {
      r->path_done = true;
    } else if (r->path_len < sizeof r->path - 1) {
      r->path[r->path_len++] = at[i];
    } else {
      r->path_len = sizeof r->path; /* too long to be /init or /run */
    }
  }
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct action_httpreq *r = req_of(p);
  if (r->field_len == SIZE_MAX) { /* a value came before: a new field */
    r->field_len = 0;
    r->field_is_expect = false;
  }
  for (size_t i = 0; i < len && r->field_len < sizeof r->field; i++)
    r->field[r->field_len++] = at[i];
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct action_httpreq *r = req_of(p);
  if (r->field_len != SIZE_MAX) { /* first piece of this value */
    r->field_is_expect = r->field_len == 6 && strncasecmp(r->field, "expect", 6) == 0;
    if (r->field_is_expect) r->expect_len = 0;
    r->field_len = SIZE_MAX; /* marks "in a value" */
  }
  if (r->field_is_expect) {
    for (size_t i = 0; i < len && r->expect_len < sizeof r->expect - 1; i++)
      r->expect[r->expect_len++] = at[i];
    r->expect[r->expect_len] = '\0';
  }
  return 0;
}

static int on_headers_complete(http_parser *p) {
  struct action_httpreq *r = req_of(p);
  if (p->http_major != 1 || p->http_minor > 1)
    return fail(r, 505, "HTTP version not supported: use HTTP/1.1");
  r->path[r->path_len < sizeof r->path ? r->path_len : sizeof r->path - 1] = '\0';
  bool known = r->path_len < sizeof r->path &&
               (strcmp(r->path, "/init") == 0 || strcmp(r->path, "/run") == 0);
  if (!known) r->route = AHR_ROUTE_NOT_FOUND;
  else if (p->method != HTTP_POST) r->route = AHR_ROUTE_BAD_METHOD;
  else r->route = strcmp(r->path, "/init") == 0 ? AHR_ROUTE_INIT : AHR_ROUTE_RUN;
  bool chunked = (p->flags & F_CHUNKED) != 0;
  if (!chunked && p->content_length != ULLONG_MAX && p->content_length > ACTION_HTTP_BODY_MAX) {
    char msg[96];
    snprintf(msg, sizeof msg, "request body larger than %u bytes", ACTION_HTTP_BODY_MAX);
    return fail(r, 413, msg);
  }
  bool expects = r->expect_len > 0 && strcasecmp(r->expect, "100-continue") == 0;
  if (expects && (r->route == AHR_ROUTE_NOT_FOUND || r->route == AHR_ROUTE_BAD_METHOD)) {
    /* The client holds the body back for an answer: give it the final one now. */
    return fail(r, r->route == AHR_ROUTE_NOT_FOUND ? 404 : 405,
                r->route == AHR_ROUTE_NOT_FOUND ? "not found: use POST /init or POST /run"
                                                : "method not allowed: use POST");
  }
  if (expects) http_parser_pause(p, 1); /* the caller sends "100 Continue", then feeds on */
  if (!chunked && p->content_length != ULLONG_MAX && p->content_length > 0 &&
      (r->route == AHR_ROUTE_INIT || r->route == AHR_ROUTE_RUN)) {
    size_t cap = (size_t)p->content_length + 1;
    char *b = malloc(cap);
    if (!b) return fail(r, 500, "out of memory");
    r->body = b;
    r->body_cap = cap;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct action_httpreq *r = req_of(p);
  if (len > ACTION_HTTP_BODY_MAX - r->body_len) {
    char msg[96];
    snprintf(msg, sizeof msg, "request body larger than %u bytes", ACTION_HTTP_BODY_MAX);
    return fail(r, 413, msg);
  }
  if (r->route != AHR_ROUTE_INIT && r->route != AHR_ROUTE_RUN) { /* 404/405: discarded */
    r->body_len += len;
    return 0;
  }
  if (r->body_len + len + 1 > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap : 4096;
    while (cap < r->body_len + len + 1) cap *= 2;
    if (cap > ACTION_HTTP_BODY_MAX + 1) cap = ACTION_HTTP_BODY_MAX + 1;
    char *b = realloc(r->body, cap);
    if (!b) return fail(r, 500, "out of memory");
    r->body = b;
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, at, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct action_httpreq *r = req_of(p);
  r->complete = true;
  r->keep_alive = http_should_keep_alive(p) != 0;
  http_parser_pause(p, 1); /* one request at a time; pipelined bytes stay with the caller */
  return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void action_httpreq_init(struct action_httpreq *r) {
  memset(r, 0, sizeof *r);
  http_parser_init(&r->parser, HTTP_REQUEST);
  r->parser.data = r;
}

void action_httpreq_free(struct action_httpreq *r) {
  free(r->body);
  r->body = NULL;
  r->body_len = r->body_cap = 0;
}

enum ahr_state action_httpreq_feed(struct action_httpreq *r, const char *data, size_t len,
                                   size_t *used) {
  *used = 0;
  if (r->error_status) return AHR_ERROR;
  if (r->complete) return AHR_COMPLETE;
  size_t n = http_parser_execute(&r->parser, &settings, data, len);
  *used = n > len ? len : n;
  if (r->error_status) return AHR_ERROR;
  enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
  if (e == HPE_PAUSED) {
    http_parser_pause(&r->parser, 0);
    if (r->complete) {
      if (!r->body) { /* an empty body still reads as "" */
        r->body = calloc(1, 1);
        if (!r->body) {
          fail(r, 500, "out of memory");
          return AHR_ERROR;
        }
        r->body_cap = 1;
      }
      return AHR_COMPLETE;
    }
    return AHR_CONTINUE;
  }
  if (e != HPE_OK) {
    if (e == HPE_HEADER_OVERFLOW) {
      fail(r, 431, "request headers too large");
    } else {
      char msg[128];
      snprintf(msg, sizeof msg, "malformed HTTP request: %s", http_errno_description(e));
      fail(r, 400, msg);
    }
    return AHR_ERROR;
  }
  return AHR_MORE;
}
