/* job_http.c: curl multi + epoll + timerfd event loop (see job_http.h). */
#define _GNU_SOURCE
#include "job_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "rb_clock.h"
#include "rb_str.h"
#include "rb_version.h"

struct app_timer {
  uint64_t at_ns;
  job_timer_fn fn;
  void *ctx;
  struct app_timer *next; /* sorted by at_ns */
};

/* What the epoll set holds for one of curl's sockets. */
enum { FD_IN = 1, FD_OUT = 2, FD_IN_SET = 4 };
struct fd_state {
  uint8_t registered; /* FD_IN|FD_OUT as registered, FD_IN_SET when in the epoll set */
  uint8_t wanted;     /* FD_IN|FD_OUT curl asked for; 0 = curl no longer watches it */
  bool ours;          /* opened by on_open_socket (a connection): closing it passes through
                         on_close_socket, which forgets it. curl's own sockets (the threaded
                         resolver's socketpair) are opened and closed without us. */
};

struct job_http {
  CURLM *multi;
  int epfd, tfd;
  uint64_t curl_deadline; /* 0 = none */
  struct app_timer *timers;
  size_t active;
  struct job_http_xfer **live; /* transfers in flight, for abort_all */
  size_t live_n, live_cap;
  CURL **spare; /* reset easy handles kept for reuse (fewer allocations) */
  size_t spare_n, spare_cap;
  struct job_http_xfer *free_xfers; /* recycled transfers (reply buffers kept) */
  size_t free_n;
  struct job_http_xfer *done_head, *done_tail; /* finished, callbacks not yet run */
  struct fd_state *fds;                        /* indexed by socket */
  size_t fds_cap;
  uint64_t armed_ns; /* timerfd fallback: its current expiry (0 = disarmed) */
  bool use_timerfd;  /* no epoll_pwait2 (or forced by tests) */
  job_http_pump_fn pump;
  void *pump_ctx;
  uint64_t pump_at; /* call pump when the clock reaches this */
  struct job_http_stats stats;
};

static CURL *easy_get(struct job_http *h) {
  return h->spare_n ? h->spare[--h->spare_n] : curl_easy_init();
}

static void easy_put(struct job_http *h, CURL *e) {
  if (h->spare_n < h->spare_cap) {
    curl_easy_reset(e);
    h->spare[h->spare_n++] = e;
  } else {
    curl_easy_cleanup(e);
  }
}

static struct fd_state *fd_get(struct job_http *h, curl_socket_t s) {
  if (s < 0) return NULL;
  if ((size_t)s >= h->fds_cap) {
    size_t cap = h->fds_cap ? h->fds_cap : 64;
    while (cap <= (size_t)s) cap *= 2;
    struct fd_state *f = realloc(h->fds, cap * sizeof *f);
    if (!f) return NULL;
    memset(f + h->fds_cap, 0, (cap - h->fds_cap) * sizeof *f);
    h->fds = f;
    h->fds_cap = cap;
  }
  return &h->fds[s];
}

static void fd_forget(struct job_http *h, curl_socket_t s) {
  if (s >= 0 && (size_t)s < h->fds_cap) h->fds[s] = (struct fd_state){0};
}

static int epoll_set(struct job_http *h, int op, curl_socket_t s, uint8_t mask) {
  struct epoll_event ev = {.data.fd = s};
  if (mask & FD_IN) ev.events |= EPOLLIN;
  if (mask & FD_OUT) ev.events |= EPOLLOUT;
  h->stats.epoll_ctls++;
  return epoll_ctl(h->epfd, op, s, &ev);
}

/* curl says which sockets to watch. A connection's socket curl stops watching (the connection
 * went back to the cache) stays in the epoll set, so that reusing the connection costs no
 * system call; it is removed if it reports an event while unwatched (e.g. the server closed
 * it). Any other socket is removed and forgotten at once: curl closes it itself, not through
 * on_close_socket, and the next socket with its number (the next lookup's socketpair often gets
 * the same) must not look registered already, or nothing would watch it. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)e;
  (void)socketp;
  struct job_http *h = userp;
  struct fd_state *f = fd_get(h, s);
  if (what == CURL_POLL_REMOVE) {
    if (f && f->ours) {
      f->wanted = 0;
    } else {
      if (!f || (f->registered & FD_IN_SET)) {
        h->stats.epoll_ctls++;
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);
      }
      fd_forget(h, s);
    }
    return 0;
  }
  uint8_t mask =
      (uint8_t)(((what & CURL_POLL_IN) ? FD_IN : 0) | ((what & CURL_POLL_OUT) ? FD_OUT : 0));
  if (!f) { /* no memory for the table: plain add-or-modify every time */
    if (epoll_set(h, EPOLL_CTL_ADD, s, mask) != 0 && errno == EEXIST)
      epoll_set(h, EPOLL_CTL_MOD, s, mask);
    return 0;
  }
  f->wanted = mask;
  if (f->registered & FD_IN_SET) {
    if ((f->registered & (FD_IN | FD_OUT)) != mask && epoll_set(h, EPOLL_CTL_MOD, s, mask) != 0 &&
        errno == ENOENT)
      epoll_set(h, EPOLL_CTL_ADD, s, mask);
  } else if (epoll_set(h, EPOLL_CTL_ADD, s, mask) != 0 && errno == EEXIST) {
    epoll_set(h, EPOLL_CTL_MOD, s, mask);
  }
  f->registered = (uint8_t)(mask | FD_IN_SET);
  return 0;
}

/* Every socket curl opens passes here: a new socket is not in the epoll set, whatever an
 * earlier socket with the same number was. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
  (void)purpose;
  struct job_http *h = clientp;
  curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (s != CURL_SOCKET_BAD) {
    fd_forget(h, s);
    struct fd_state *f = fd_get(h, s);
    if (f) f->ours = true; /* no memory: treated as curl's own, removed when unwatched */
    h->stats.sockets++;
  }
  return s;
}

static int on_close_socket(void *clientp, curl_socket_t s) {
  struct job_http *h = clientp;
  fd_forget(h, s); /* closing removes it from the epoll set */
  return close(s);
}

static int on_timer(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  struct job_http *h = userp;
  h->curl_deadline = timeout_ms < 0 ? 0 : rb_clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;
  if (timeout_ms == 0) h->curl_deadline = 1; /* as soon as possible */
  return 0;
}

struct curl_slist *job_http_json_headers(void) {
  static const char *const lines[] = {"Content-Type: application/json", "Accept: application/json",
                                      "Expect:", ("User-Agent: rbench/" RBENCH_VERSION)};
  struct curl_slist *h = NULL;
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    struct curl_slist *n = curl_slist_append(h, lines[i]);
    if (!n) {
      curl_slist_free_all(h);
      return NULL;
    }
    h = n;
  }
  return h;
}

struct curl_slist *job_http_add_basic_auth(struct curl_slist *list, const char *userpwd) {
  static const char prefix[] = "Authorization: Basic ";
  size_t n = strlen(userpwd), len = sizeof prefix - 1 + rb_base64_len(n);
  char *line = malloc(len + 1);
  if (!line) {
    job_http_free_secret_headers(list);
    return NULL;
  }
  memcpy(line, prefix, sizeof prefix - 1);
  rb_base64_encode(userpwd, n, line + sizeof prefix - 1);
  struct curl_slist *l = curl_slist_append(list, line); /* copies */
  explicit_bzero(line, len + 1);
  free(line);
  if (!l) job_http_free_secret_headers(list);
  return l;
}

void job_http_free_secret_headers(struct curl_slist *list) {
  for (struct curl_slist *l = list; l; l = l->next)
    if (l->data) explicit_bzero(l->data, strlen(l->data));
  curl_slist_free_all(list);
}

struct job_http *job_http_create(long max_connections) {
  struct job_http *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->tfd = -1;
  h->epfd = epoll_create1(EPOLL_CLOEXEC);
  h->multi = curl_multi_init();
  if (h->epfd < 0 || !h->multi) {
    job_http_destroy(h);
    return NULL;
  }
  /* Sleeps end on time: the kernel may otherwise extend them by the thread's timer slack
   * (50 µs by default), which would show as schedule lag. */
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, max_connections);
  h->spare_cap = (size_t)max_connections;
  h->spare = calloc(h->spare_cap, sizeof *h->spare);
  if (!h->spare) {
    job_http_destroy(h);
    return NULL;
  }
  return h;
}

void job_http_limit_connections(struct job_http *h, long n) {
  curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
}

/* The timerfd wake-up, for kernels without epoll_pwait2 (Linux < 5.11) or when forced. */
static bool timerfd_start(struct job_http *h) {
  if (h->tfd >= 0) return true;
  h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (h->tfd < 0) return false;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = h->tfd};
  epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->tfd, &ev);
  h->armed_ns = 0;
  return true;
}

void job_http_use_timerfd(struct job_http *h, bool on) { h->use_timerfd = on && timerfd_start(h); }

void job_http_set_pump(struct job_http *h, job_http_pump_fn fn, void *ctx) {
  h->pump = fn;
  h->pump_ctx = ctx;
  h->pump_at = 0;
}

void job_http_get_stats(const struct job_http *h, struct job_http_stats *out) { *out = h->stats; }

static void live_remove(struct job_http *h, struct job_http_xfer *x) {
  for (size_t i = 0; i < h->live_n; i++) {
    if (h->live[i] == x) {
      h->live[i] = h->live[--h->live_n];
      return;
    }
  }
}

static void xfer_release(struct job_http_xfer *x) {
  if (x->easy) curl_easy_cleanup(x->easy);
  curl_url_cleanup(x->prof_uh); /* after the handle that points at it */
  free(x->prof_url);
  curl_slist_free_all(x->headers);
  free(x->req_copy);
  free(x->body);
  free(x);
}

void job_http_destroy(struct job_http *h) {
  if (!h) return;
  while (h->live_n) {
    struct job_http_xfer *x = h->live[h->live_n - 1];
    curl_multi_remove_handle(h->multi, x->easy);
    h->live_n--;
    job_http_xfer_free(x);
  }
  while (h->done_head) { /* finished, callback never run (destroyed from inside one) */
    struct job_http_xfer *x = h->done_head;
    h->done_head = x->next;
    job_http_xfer_free(x);
  }
  free(h->live);
  while (h->free_xfers) {
    struct job_http_xfer *x = h->free_xfers;
    h->free_xfers = x->next;
    xfer_release(x);
  }
  for (size_t i = 0; i < h->spare_n; i++) curl_easy_cleanup(h->spare[i]);
  free(h->spare);
  while (h->timers) {
    struct app_timer *t = h->timers;
    h->timers = t->next;
    free(t);
  }
  if (h->multi) curl_multi_cleanup(h->multi); /* may close sockets: uses h->fds */
  free(h->fds);
  if (h->tfd >= 0) close(h->tfd);
  if (h->epfd >= 0) close(h->epfd);
  free(h);
}

static size_t discard(char *data, size_t size, size_t n, void *arg) {
  (void)data;
  (void)arg;
  return size * n;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  struct job_http_xfer *x = arg;
  size_t add = size * n;
  if (x->len + add + 1 > x->cap) {
    size_t cap = x->cap ? x->cap : 2048;
    while (cap < x->len + add + 1) cap *= 2;
    if (cap > 64u * 1024 * 1024) return 0; /* refuse absurd replies */
    char *b = realloc(x->body, cap);
    if (!b) return 0;
    x->body = b;
    x->cap = cap;
  }
  memcpy(x->body + x->len, data, add);
  x->len += add;
  x->body[x->len] = '\0';
  return add;
}

static void apply_opts(struct job_http *h, CURL *c, const struct job_http_opts *o) {
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE,
                   4096L); /* replies are small; keeps memory per connection low */
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, h);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, h);
  if (o->fresh_connect) curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
  if (o->insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (o->cainfo) curl_easy_setopt(c, CURLOPT_CAINFO, o->cainfo);
  if (o->userpwd) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERPWD, o->userpwd);
  }
}

/* A handle set up for reuse gets its URL parsed once: given as a string, curl parses it anew
 * for every transfer (about a sixth of its instructions per invoke). A URL the parser refuses
 * stays with CURLOPT_URL, so that curl reports it as it always has. */
static void set_parsed_url(struct job_http_xfer *x, const char *url) {
  CURLU *u = curl_url();
  if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      curl_easy_setopt(x->easy, CURLOPT_CURLU, u) == CURLE_OK) {
    x->prof_uh = u;
    return;
  }
  curl_url_cleanup(u);
}

static bool same_profile(const struct job_http_xfer *x, const char *method, const char *url,
                         const char *body, size_t len, const struct job_http_opts *opts) {
  return x->easy && x->prof_url && x->prof_opts == opts &&
         (opts->vary_body || (x->prof_body == body && x->prof_len == len)) &&
         strcmp(x->prof_method, method) == 0 && strcmp(x->prof_url, url) == 0;
}

/* A recycled transfer: one whose easy handle is set up for exactly this request when there is
 * one among the first few, else any (its handle is reset), else a new one. Only a reusable
 * request (no headers of its own, body borrowed) may take a set-up handle: the profile does not
 * record headers, and a handle set up with the opts' would send those instead of the request's. */
static struct job_http_xfer *xfer_alloc(struct job_http *h, const char *method, const char *url,
                                        const char *body, size_t len,
                                        const struct job_http_opts *opts, bool reusable,
                                        bool *ready) {
  *ready = false;
  struct job_http_xfer **pp = &h->free_xfers, **pick = NULL;
  for (int i = 0; reusable && *pp && i < 8; i++, pp = &(*pp)->next) {
    if (same_profile(*pp, method, url, body, len, opts)) {
      pick = pp;
      *ready = true;
      break;
    }
  }
  if (!pick && h->free_xfers) pick = &h->free_xfers;
  if (!pick) return calloc(1, sizeof(struct job_http_xfer));
  struct job_http_xfer *x = *pick;
  *pick = x->next;
  h->free_n--;
  if (!*ready) {
    if (x->easy) easy_put(h, x->easy);
    x->easy = NULL;
    curl_url_cleanup(x->prof_uh);
    x->prof_uh = NULL;
    free(x->prof_url);
    x->prof_url = NULL;
  }
  /* Clear the transfer's state, keeping the reply buffer, the easy handle and its profile. */
  struct job_http_xfer keep = *x;
  memset(x, 0, sizeof *x);
  x->body = keep.body;
  x->cap = keep.cap;
  if (x->body) x->body[0] = '\0';
  x->easy = keep.easy;
  x->prof_url = keep.prof_url;
  x->prof_uh = keep.prof_uh;
  memcpy(x->prof_method, keep.prof_method, sizeof x->prof_method);
  x->prof_body = keep.prof_body;
  x->prof_len = keep.prof_len;
  x->prof_opts = keep.prof_opts;
  return x;
}

struct job_http_xfer *job_http_xfer_new(struct job_http *h, const char *method, const char *url,
                                        const char *body, size_t len, struct curl_slist *headers,
                                        const struct job_http_opts *opts, job_http_done_fn done,
                                        void *ctx) {
  bool ready = false;
  bool reusable = !headers && (!body || opts->borrow_body); /* the same request can come again */
  struct job_http_xfer *x = xfer_alloc(h, method, url, body, len, opts, reusable, &ready);
  if (!x) {
    curl_slist_free_all(headers);
    return NULL;
  }
  x->h = h;
  x->headers = headers;
  x->done = done;
  x->ctx = ctx;
  if (ready) { /* PRIVATE, WRITEDATA and ERRORBUFFER already point at x */
    x->req_body = body;
    if (opts->vary_body && body && (x->prof_body != body || x->prof_len != len)) {
      curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
      x->prof_body = body;
      x->prof_len = len;
    }
    return x;
  }
  x->easy = easy_get(h);
  if (body && opts->borrow_body) {
    x->req_body = body;
  } else if (body && (x->req_copy = malloc(len + 1)) != NULL) {
    memcpy(x->req_copy, body, len);
    x->req_copy[len] = '\0';
    x->req_body = x->req_copy;
  }
  if (!x->easy || (body && !x->req_body)) {
    job_http_xfer_free(x);
    return NULL;
  }
  CURL *c = x->easy;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PRIVATE, x);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, opts->discard_body ? discard : on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  else if (opts->headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, opts->headers);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->req_body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  if (strcmp(method, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  apply_opts(h, c, opts);
  if (reusable && strlen(method) < sizeof x->prof_method && (x->prof_url = strdup(url)) != NULL) {
    snprintf(x->prof_method, sizeof x->prof_method, "%s", method);
    set_parsed_url(x, url);
    x->prof_body = body;
    x->prof_len = len;
    x->prof_opts = opts;
  }
  return x;
}

void job_http_xfer_free(struct job_http_xfer *x) {
  if (!x) return;
  struct job_http *h = x->h;
  if (x->easy && (!x->prof_url || !h)) {
    if (h) easy_put(h, x->easy);
    else curl_easy_cleanup(x->easy);
    x->easy = NULL;
  }
  curl_slist_free_all(x->headers);
  x->headers = NULL;
  free(x->req_copy);
  x->req_copy = NULL;
  x->req_body = NULL;
  if (x->cap > 64u * 1024) { /* keep only small reply buffers */
    free(x->body);
    x->body = NULL;
    x->cap = 0;
  }
  if (h && h->free_n < h->spare_cap) {
    x->next = h->free_xfers;
    h->free_xfers = x;
    h->free_n++;
  } else {
    xfer_release(x);
  }
}

enum rb_err job_http_start(struct job_http *h, struct job_http_xfer *x) {
  if (h->live_n == h->live_cap) {
    size_t cap = h->live_cap ? h->live_cap * 2 : 64;
    struct job_http_xfer **l = realloc(h->live, cap * sizeof *l);
    if (!l) return RB_ERR_NOMEM;
    h->live = l;
    h->live_cap = cap;
  }
  x->started_ns = rb_clock_mono_ns();
  if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) return RB_ERR_STATE;
  h->live[h->live_n++] = x;
  h->active++;
  return RB_OK;
}

enum rb_err job_http_after(struct job_http *h, uint64_t at_ns, job_timer_fn fn, void *ctx) {
  struct app_timer *t = malloc(sizeof *t);
  if (!t) return RB_ERR_NOMEM;
  *t = (struct app_timer){at_ns, fn, ctx, NULL};
  struct app_timer **p = &h->timers;
  while (*p && (*p)->at_ns <= at_ns) p = &(*p)->next;
  t->next = *p;
  *p = t;
  return RB_OK;
}

void job_http_cancel_timers(struct job_http *h, void *ctx) {
  struct app_timer **p = &h->timers;
  while (*p) {
    if ((*p)->ctx == ctx) {
      struct app_timer *t = *p;
      *p = t->next;
      free(t);
    } else {
      p = &(*p)->next;
    }
  }
}

/* Takes a finished transfer out of the multi handle and stamps it; the callback runs later. */
static struct job_http_xfer *complete(struct job_http *h, CURL *easy, CURLcode code, uint64_t now) {
  struct job_http_xfer *x = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
  curl_multi_remove_handle(h->multi, easy);
  live_remove(h, x);
  h->active--;
  x->code = code;
  x->finished_ns = now;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
  if (!x->body) x->body = calloc(1, 1);
  if (code != CURLE_OK && !x->errbuf[0])
    snprintf(x->errbuf, sizeof x->errbuf, "%s", curl_easy_strerror(code));
  x->next = NULL;
  return x;
}

/* Queues every transfer curl reports finished, stamped with the time it is seen. */
static void collect_finished(struct job_http *h) {
  CURLMsg *m;
  int left;
  uint64_t now = 0;
  while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    if (!now) now = rb_clock_mono_ns();
    struct job_http_xfer *x = complete(h, m->easy_handle, m->data.result, now);
    if (h->done_tail) h->done_tail->next = x;
    else h->done_head = x;
    h->done_tail = x;
  }
}

/* Runs curl's due timeouts (e.g. the start of transfers just added). */
static void run_curl_timeout(struct job_http *h) {
  int running = 0;
  h->curl_deadline = 0;
  curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  collect_finished(h);
}

/* Sends what the schedule says is due (through the pump), and gets the new transfers going. */
static void keep_schedule(struct job_http *h, uint64_t now) {
  if (h->pump && now >= h->pump_at) h->pump_at = h->pump(h->pump_ctx);
  for (int i = 0; i < 4 && h->curl_deadline && h->curl_deadline <= now; i++) {
    run_curl_timeout(h);
    now = rb_clock_mono_ns();
  }
}

static void run_done(struct job_http *h) {
  while (h->done_head) {
    struct job_http_xfer *x = h->done_head;
    h->done_head = x->next;
    if (!h->done_head) h->done_tail = NULL;
    x->next = NULL;
    x->done(x->ctx, x);
    if (h->done_head) keep_schedule(h, rb_clock_mono_ns());
  }
}

static void fire_timers(struct job_http *h, uint64_t now) {
  while (h->timers && h->timers->at_ns <= now) {
    struct app_timer *t = h->timers;
    h->timers = t->next;
    t->fn(t->ctx);
    free(t);
  }
}

static void arm(struct job_http *h, uint64_t at_ns) {
  if (at_ns == h->armed_ns) return; /* already set: save the system call */
  h->armed_ns = at_ns;
  struct itimerspec its = {0};
  its.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
  its.it_value.tv_nsec = (long)(at_ns % 1000000000u);
  timerfd_settime(h->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

#define MAX_EVENTS 64

/* Sleeps until deadline (monotonic ns) or an event; returns the number of events. */
static int sleep_until(struct job_http *h, uint64_t deadline, struct epoll_event *evs) {
  uint64_t now = rb_clock_mono_ns();
  h->stats.waits++;
  if (!h->use_timerfd) {
    uint64_t d = deadline > now ? deadline - now : 0;
    struct timespec ts = {.tv_sec = (time_t)(d / 1000000000u), .tv_nsec = (long)(d % 1000000000u)};
    int n = epoll_pwait2(h->epfd, evs, MAX_EVENTS, &ts, NULL);
    if (n >= 0 || errno != ENOSYS) return n;
    h->use_timerfd = timerfd_start(h); /* old kernel: fall back for good */
    if (!h->use_timerfd)
      return epoll_wait(h->epfd, evs, MAX_EVENTS, d ? (int)(d / 1000000u) + 1 : 0);
  }
  int timeout = -1;
  if (deadline <= now) timeout = 0;
  else arm(h, deadline);
  return epoll_wait(h->epfd, evs, MAX_EVENTS, timeout);
}

void job_http_wait(struct job_http *h, uint64_t until_ns) {
  /* Transfers started since the last wait are due in curl now: start them without first
   * asking epoll for nothing. */
  h->pump_at = until_ns;
  uint64_t now = rb_clock_mono_ns();
  keep_schedule(h, now);
  if (h->done_head) { /* e.g. a reply read right after its request went out: the caller */
    run_done(h);      /* may now have other plans than sleeping until until_ns */
    return;
  }
  uint64_t deadline = until_ns < h->pump_at ? until_ns : h->pump_at;
  if (h->curl_deadline && h->curl_deadline < deadline) deadline = h->curl_deadline;
  if (h->timers && h->timers->at_ns < deadline) deadline = h->timers->at_ns;
  struct epoll_event evs[MAX_EVENTS];
  int n = sleep_until(h, deadline, evs);
  for (int i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    if (fd == h->tfd) {
      h->armed_ns = 0; /* it fired */
      uint64_t ticks;
      ssize_t r = read(h->tfd, &ticks, sizeof ticks);
      (void)r;
      continue;
    }
    struct fd_state *f = fd < 0 || (size_t)fd >= h->fds_cap ? NULL : &h->fds[fd];
    if (f && !f->wanted) { /* an idle socket curl no longer watches: take it out now */
      if (f->registered & FD_IN_SET) {
        h->stats.epoll_ctls++;
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd, NULL);
      }
      f->registered = 0;
      continue;
    }
    keep_schedule(h, rb_clock_mono_ns()); /* sends first: they are due to the microsecond */
    int flags = 0, running = 0;
    if (evs[i].events & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
    if (evs[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (evs[i].events & EPOLLERR) flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    collect_finished(h);
  }
  now = rb_clock_mono_ns();
  if (h->curl_deadline && h->curl_deadline <= now) run_curl_timeout(h);
  keep_schedule(h, now);
  run_done(h);
  fire_timers(h, rb_clock_mono_ns());
}

size_t job_http_active(const struct job_http *h) { return h->active; }

void job_http_abort_all(struct job_http *h) {
  while (h->live_n) {
    struct job_http_xfer *x = h->live[h->live_n - 1];
    struct job_http_xfer *d = complete(h, x->easy, CURLE_ABORTED_BY_CALLBACK, rb_clock_mono_ns());
    d->done(d->ctx, d);
  }
  run_done(h);
}
