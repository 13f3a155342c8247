/* agent_worker.c: one worker's lifecycle: its listening socket, event base and upstreams set up,
 * its thread started, stopped and joined, and everything freed (see agent_worker_int.h). */
#define _GNU_SOURCE
#include "agent_worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_hold.h"
#include "agent_worker_int.h"

#define TICK_MS 50

static int listen_socket(const struct agent_config *cfg, bool reuseport, char *err, size_t errlen) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE},
                  *ai;
  char port[16];
  snprintf(port, sizeof port, "%d", cfg->listen_port);
  int rc = getaddrinfo(cfg->listen_host, port, &hints, &ai);
  if (rc != 0) {
    snprintf(err, errlen, "--listen %s: %s", cfg->listen_host, gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
      snprintf(err, errlen, "--listen %s:%d: %s", cfg->listen_host, cfg->listen_port,
               strerror(errno));
      close(fd);
      fd = -1;
    }
  } else {
    snprintf(err, errlen, "socket: %s", strerror(errno));
  }
  freeaddrinfo(ai);
  return fd;
}

struct agent_worker *agent_worker_create(const struct agent_config *cfg, int index, char *err,
                                         size_t errlen) {
  struct agent_worker *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->cfg = cfg;
  w->index = index;
  w->lfd = -1;
  w->stop_pipe[0] = w->stop_pipe[1] = -1;
  agent_metrics_init(&w->m);
  w->max_clients = (cfg->max_clients + (size_t)cfg->workers - 1) / (size_t)cfg->workers;
  struct event_config *ec = event_config_new();
  if (ec) event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
  w->base = ec ? event_base_new_with_config(ec) : NULL;
  if (ec) event_config_free(ec);
  w->gap_us = AGENT_HOLD_GAP0_US;
  w->nups = cfg->upstreams;
  w->ups = calloc((size_t)w->nups, sizeof *w->ups);
  w->upfds = calloc((size_t)w->nups + 2, sizeof *w->upfds);
  if (!w->base || !w->ups || !w->upfds || pipe2(w->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    snprintf(err, errlen, "cannot set up the event loop");
    agent_worker_destroy(w);
    return NULL;
  }
  for (int i = 0; i < w->nups; i++) {
    if (!agent_upstream_init(w, &w->ups[i])) {
      snprintf(err, errlen, "out of memory");
      agent_worker_destroy(w);
      return NULL;
    }
  }
  w->lfd = listen_socket(cfg, cfg->workers > 1, err, errlen);
  if (w->lfd < 0) {
    agent_worker_destroy(w);
    return NULL;
  }
  struct timeval tick = {0, TICK_MS * 1000};
  w->accept_ev = event_new(w->base, w->lfd, EV_READ | EV_PERSIST, agent_client_on_accept, w);
  w->stop_ev = event_new(w->base, w->stop_pipe[0], EV_READ | EV_PERSIST, agent_loop_on_stop, w);
  w->tick = event_new(w->base, -1, EV_PERSIST, agent_loop_on_tick, w);
  if (!w->accept_ev || !w->stop_ev || !w->tick) {
    snprintf(err, errlen, "out of memory");
    agent_worker_destroy(w);
    return NULL;
  }
  event_add(w->stop_ev, NULL);
  event_add(w->tick, &tick);
  return w;
}

int agent_worker_start(struct agent_worker *w) {
  int rc = pthread_create(&w->thread, NULL, agent_loop_main, w);
  w->started = rc == 0;
  return rc;
}

void agent_worker_stop(struct agent_worker *w) {
  if (write(w->stop_pipe[1], "x", 1) < 0) { /* the pipe only wakes the loop */
  }
}

void agent_worker_join(struct agent_worker *w) {
  if (w->started) pthread_join(w->thread, NULL);
  w->started = false;
}

void agent_worker_destroy(struct agent_worker *w) {
  if (!w) return;
  for (struct client *c = w->clients; c; c = c->next) c->flags &= ~CLIENT_HELD;
  for (int i = 0; w->ups && i < w->nups; i++) agent_upstream_drop_refs(&w->ups[i]);
  while (w->clients) agent_client_close(w->clients);
  for (int i = 0; w->ups && i < w->nups; i++) agent_upstream_deinit(&w->ups[i]);
  free(w->ups);
  free(w->upfds);
  if (w->accept_ev) event_free(w->accept_ev);
  if (w->stop_ev) event_free(w->stop_ev);
  if (w->tick) event_free(w->tick);
  if (w->lfd >= 0) close(w->lfd);
  if (w->stop_pipe[0] >= 0) close(w->stop_pipe[0]);
  if (w->stop_pipe[1] >= 0) close(w->stop_pipe[1]);
  if (w->base) event_base_free(w->base);
  agent_buf_deinit(&w->scratch);
  agent_buf_deinit(&w->rbuf);
  if (w->bio_ready) agent_bio_deinit(&w->bio);
  free(w);
}

struct agent_metrics *agent_worker_metrics(struct agent_worker *w) {
  return &w->m;
}
