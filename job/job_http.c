/* job_http.c: curl multi + epoll + timerfd event loop (see job_http.h). */
#define _GNU_SOURCE
#include "job_http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "rb_clock.h"
#include "rb_version.h"

struct app_timer {
  uint64_t at_ns;
  job_timer_fn fn;
  void *ctx;
  struct app_timer *next; /* sorted by at_ns */
};

struct job_http {
  CURLM *multi;
  int epfd, tfd;
  uint64_t curl_deadline; /* 0 = none */
  struct app_timer *timers;
  size_t active;
  struct job_http_xfer **live; /* transfers in flight, for abort_all */
  size_t live_n, live_cap;
  CURL **spare;                /* reset easy handles kept for reuse (fewer allocations) */
  size_t spare_n, spare_cap;
  uint64_t armed_ns;           /* the timerfd's current expiry (0 = disarmed) */
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

/* curl says which sockets to watch; socketp (set with curl_multi_assign) marks a socket
 * already in the epoll set, so each change is one epoll_ctl call. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)e;
  struct job_http *h = userp;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);
    return 0;
  }
  struct epoll_event ev = {.data.fd = s};
  if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
  if (socketp) {
    epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev);
  } else if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, &ev) == 0 || errno == EEXIST) {
    if (errno == EEXIST) epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev);
    curl_multi_assign(h->multi, s, h);
  }
  return 0;
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
                                      "Expect:", "User-Agent: rbench/" RBENCH_VERSION};
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

struct job_http *job_http_create(long max_connections) {
  struct job_http *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->epfd = epoll_create1(EPOLL_CLOEXEC);
  h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  h->multi = curl_multi_init();
  if (h->epfd < 0 || h->tfd < 0 || !h->multi) {
    job_http_destroy(h);
    return NULL;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = h->tfd};
  epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->tfd, &ev);
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

static void live_remove(struct job_http *h, struct job_http_xfer *x) {
  for (size_t i = 0; i < h->live_n; i++) {
    if (h->live[i] == x) {
      h->live[i] = h->live[--h->live_n];
      return;
    }
  }
}

void job_http_destroy(struct job_http *h) {
  if (!h) return;
  while (h->live_n) {
    struct job_http_xfer *x = h->live[h->live_n - 1];
    curl_multi_remove_handle(h->multi, x->easy);
    h->live_n--;
    job_http_xfer_free(x);
  }
  free(h->live);
  for (size_t i = 0; i < h->spare_n; i++) curl_easy_cleanup(h->spare[i]);
  free(h->spare);
  while (h->timers) {
    struct app_timer *t = h->timers;
    h->timers = t->next;
    free(t);
  }
  if (h->multi) curl_multi_cleanup(h->multi);
  if (h->tfd >= 0) close(h->tfd);
  if (h->epfd >= 0) close(h->epfd);
  free(h);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  struct job_http_xfer *x = arg;
  size_t add = size * n;
  if (x->len + add + 1 > x->cap) {
    size_t cap = x->cap ? x->cap : 1024;
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

static void apply_opts(CURL *c, const struct job_http_opts *o) {
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 4096L); /* replies are small; keeps memory per connection low */
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

struct job_http_xfer *job_http_xfer_new(struct job_http *h, const char *method, const char *url,
                                        const char *body, size_t len,
                                        struct curl_slist *headers,
                                        const struct job_http_opts *opts, job_http_done_fn done,
                                        void *ctx) {
  struct job_http_xfer *x = calloc(1, sizeof *x);
  if (!x) {
    curl_slist_free_all(headers);
    return NULL;
  }
  x->h = h;
  x->headers = headers;
  x->done = done;
  x->ctx = ctx;
  x->easy = easy_get(h);
  if (!x->easy || (body && !(x->req_body = malloc(len + 1)))) {
    job_http_xfer_free(x);
    return NULL;
  }
  CURL *c = x->easy;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PRIVATE, x);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  else if (opts->headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, opts->headers);
  if (body) {
    memcpy(x->req_body, body, len);
    x->req_body[len] = '\0';
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->req_body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  if (strcmp(method, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  apply_opts(c, opts);
  return x;
}

void job_http_xfer_free(struct job_http_xfer *x) {
  if (!x) return;
  if (x->easy) easy_put(x->h, x->easy);
  curl_slist_free_all(x->headers);
  free(x->req_body);
  free(x->body);
  free(x);
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

static void finish(struct job_http *h, CURL *easy, CURLcode code) {
  struct job_http_xfer *x = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
  curl_multi_remove_handle(h->multi, easy);
  live_remove(h, x);
  h->active--;
  x->code = code;
  x->finished_ns = rb_clock_mono_ns();
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
  if (!x->body) x->body = calloc(1, 1);
  if (code != CURLE_OK && !x->errbuf[0]) snprintf(x->errbuf, sizeof x->errbuf, "%s", curl_easy_strerror(code));
  x->done(x->ctx, x);
}

static void drain_finished(struct job_http *h) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(h->multi, &left)) != NULL)
    if (m->msg == CURLMSG_DONE) finish(h, m->easy_handle, m->data.result);
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

void job_http_wait(struct job_http *h, uint64_t until_ns) {
  uint64_t deadline = until_ns;
  if (h->curl_deadline && h->curl_deadline < deadline) deadline = h->curl_deadline;
  if (h->timers && h->timers->at_ns < deadline) deadline = h->timers->at_ns;
  uint64_t now = rb_clock_mono_ns();
  int timeout = -1;
  if (deadline <= now) timeout = 0;
  else arm(h, deadline);
  struct epoll_event evs[64];
  int n = epoll_wait(h->epfd, evs, 64, timeout);
  int running = 0;
  for (int i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    if (fd == h->tfd) {
      h->armed_ns = 0; /* it fired */
      uint64_t ticks;
      ssize_t r = read(h->tfd, &ticks, sizeof ticks);
      (void)r;
      continue;
    }
    int flags = 0;
    if (evs[i].events & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
    if (evs[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (evs[i].events & EPOLLERR) flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(h->multi, fd, flags, &running);
  }
  now = rb_clock_mono_ns();
  if (h->curl_deadline && h->curl_deadline <= now) {
    h->curl_deadline = 0;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  drain_finished(h);
  fire_timers(h, rb_clock_mono_ns());
}

size_t job_http_active(const struct job_http *h) { return h->active; }

void job_http_abort_all(struct job_http *h) {
  while (h->live_n) {
    struct job_http_xfer *x = h->live[h->live_n - 1];
    finish(h, x->easy, CURLE_ABORTED_BY_CALLBACK);
  }
}
