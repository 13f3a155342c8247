/* job_http.h: the runner's event loop: libcurl's multi interface driven by epoll, with
 * nanosecond wake-ups (epoll_pwait2; a timerfd on kernels without it) and one-shot
 * application timers.
 *
 *   job_http_wait(until) ─► curl kicked for transfers just started (no extra epoll call)
 *        epoll_pwait2(min(until, curl's timeout, next app timer))
 *        for each ready socket: pump (sends what is due) ─► curl_multi_socket_action
 *                               ─► finished transfers stamped (finished_ns) and queued
 *        queued transfers ─► xfer->done(ctx, xfer), pump between them
 *        due app timers   ─► fn(ctx)
 *
 * The pump (job_http_set_pump) is how the runner keeps its schedule while replies are being
 * handled: sends are never held behind more than one reply's processing.
 *
 * Costs kept per transfer: sockets stay in the epoll set while their connection is idle in
 * curl's cache (a connection's socket curl no longer watches is removed only if it reports an
 * event), so a reused connection costs no epoll_ctl; transfers, their reply buffers and easy
 * handles are recycled. Sockets curl opens itself (the threaded resolver's) leave the set as
 * soon as curl stops watching them.
 *
 * Connections are reused across transfers by the multi handle's connection cache. A
 * transfer's done callback owns the transfer and frees it with job_http_xfer_free (it may
 * start new transfers from inside the callback). Single-threaded. */
#ifndef JOB_HTTP_H
#define JOB_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rb_error.h"

struct job_http;
struct job_http_xfer;

typedef void (*job_http_done_fn)(void *ctx, struct job_http_xfer *x);
typedef void (*job_timer_fn)(void *ctx);

struct job_http_xfer {
  CURL *easy;
  struct curl_slist *headers; /* owned */
  const char *req_body;       /* the request body: req_copy, or the caller's (borrow_body) */
  char *req_copy;             /* owned copy of the request body */
  char *body;                 /* response body, NUL-terminated, owned */
  size_t len, cap;
  long status;                      /* HTTP status, 0 when none */
  CURLcode code;                    /* transfer result */
  char errbuf[CURL_ERROR_SIZE];     /* curl's message for code */
  uint64_t started_ns, finished_ns; /* finished_ns: when curl completed it (before done runs) */
  job_http_done_fn done;
  void *ctx;
  struct job_http *h;
  struct job_http_xfer *next; /* internal: done queue / free list */
  /* internal: what the easy handle is set up for, so that the same request again (every
   * invoke of a run) reuses it as is, without a single curl_easy_setopt */
  char *prof_url;
  CURLU *prof_uh; /* prof_url parsed once (CURLOPT_CURLU): curl would parse the
                     URL string again for every transfer; NULL: CURLOPT_URL */
  char prof_method[8];
  const char *prof_body;
  size_t prof_len;
  const struct job_http_opts *prof_opts;
};

struct job_http_opts {
  long timeout_ms; /* whole-transfer timeout */
  long connect_timeout_ms;
  bool insecure;                    /* skip TLS peer and host verification */
  const char *cainfo;               /* CA bundle path or NULL for the system's */
  const char *userpwd;              /* "user:password" for Basic auth, or NULL (copied by curl) */
  const struct curl_slist *headers; /* borrowed request headers shared by many transfers
                                       (used when job_http_xfer_new gets none); must outlive
                                       them */
  bool discard_body;                /* the reply body is not kept (x->body stays empty) */
  bool fresh_connect;               /* open a new connection for this transfer (it then stays in the
                                       cache for later ones): how connections are opened ahead */
  bool borrow_body;                 /* the request body outlives the transfer: not copied; with no
                                       per-request headers, its easy handle is then kept set up for the
                                       same request (same opts, method, URL and body pointer) */
  bool vary_body;                   /* with borrow_body: each request has a body of its own (the
                                       same parameters but for a few bytes); the set-up handle is
                                       kept all the same and only the body is set anew */
};
/* A job_http_opts must outlive the transfers made with it and not change after its first
 * use: transfers set up with it are recycled as they are. */

/* The headers of every rbench request: JSON in and out, no "Expect: 100-continue", and
 * User-Agent rbench/VERSION. Owned by the caller (curl_slist_free_all); NULL when out of
 * memory. */
struct curl_slist *job_http_json_headers(void);

/* Appends "Authorization: Basic base64(userpwd)" to list (a secret: free the list with
 * job_http_free_secret_headers). Built once, it saves curl the encoding on every request.
 * Returns the new list head, or NULL when out of memory (list is then freed). */
struct curl_slist *job_http_add_basic_auth(struct curl_slist *list, const char *userpwd);
/* Wipes every header line, then frees the list. NULL-safe. */
void job_http_free_secret_headers(struct curl_slist *list);

/* max_connections sizes the connection cache. NULL on failure. */
struct job_http *job_http_create(long max_connections);
/* At most n connections to one host (CURLMOPT_MAX_HOST_CONNECTIONS): a transfer started while
 * n are busy waits inside curl for one of them. */
void job_http_limit_connections(struct job_http *h, long n);
/* Aborts what is in flight (without callbacks) and frees. NULL-safe. */
void job_http_destroy(struct job_http *h);

/* Prepares a request. method "GET"/"POST"/"PUT"; body may be NULL (copied unless
 * opts->borrow_body); headers is taken (freed with the transfer). Returns NULL on allocation
 * failure. */
struct job_http_xfer *job_http_xfer_new(struct job_http *h, const char *method, const char *url,
                                        const char *body, size_t len, struct curl_slist *headers,
                                        const struct job_http_opts *opts, job_http_done_fn done,
                                        void *ctx);
/* Starts it; done is called from job_http_wait when it finishes. */
enum rb_err job_http_start(struct job_http *h, struct job_http_xfer *x);
/* Frees a transfer (finished, or never started). NULL-safe. */
void job_http_xfer_free(struct job_http_xfer *x);

/* Runs fn(ctx) once at monotonic time at_ns (from job_http_wait). */
enum rb_err job_http_after(struct job_http *h, uint64_t at_ns, job_timer_fn fn, void *ctx);
/* Cancels timers whose ctx matches. */
void job_http_cancel_timers(struct job_http *h, void *ctx);

/* The runner's send hook: sends every invocation that is due and returns the monotonic time
 * at which it next needs to be called. job_http_wait calls it whenever that time has come
 * while it handles events (before each ready socket and each finished transfer). */
typedef uint64_t (*job_http_pump_fn)(void *ctx);
void job_http_set_pump(struct job_http *h, job_http_pump_fn fn, void *ctx);

/* Waits for network events, curl timeouts and app timers until monotonic time until_ns (or
 * until a signal interrupts), handling whatever happens. */
void job_http_wait(struct job_http *h, uint64_t until_ns);

/* Uses the timerfd wake-up even where epoll_pwait2 exists (tests of the fallback path). */
void job_http_use_timerfd(struct job_http *h, bool on);

/* Counters for tests and tuning. */
struct job_http_stats {
  uint64_t waits;      /* epoll calls */
  uint64_t epoll_ctls; /* epoll_ctl calls for curl's sockets */
  uint64_t sockets;    /* sockets curl opened (connections, whether or not they connected) */
};
void job_http_get_stats(const struct job_http *h, struct job_http_stats *out);

/* Transfers started and not yet finished. */
size_t job_http_active(const struct job_http *h);

/* Stops every transfer in flight, calling done with code CURLE_ABORTED_BY_CALLBACK. */
void job_http_abort_all(struct job_http *h);

#endif
