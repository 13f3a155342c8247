/* agent_loop.c: the worker's event loop: its passes, the flush decisions at a pass's end, the
 * gathering hold, the upstream wait, the nap, the tick and the drain. */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <sys/prctl.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent_flush.h"
#include "agent_hold.h"
#include "agent_worker_int.h"
#include "rb_log.h"

static size_t active_clients(const struct agent_worker *w) {
  return agent_hold_active(w->active[w->epoch & 1], w->active[(w->epoch + 1) & 1]);
}

/* How long to hold an idle upstream's next batch back (agent_hold.h); 0: write it now. */
static uint64_t gather_us(const struct agent_worker *w, const struct upstream *u, uint64_t now) {
  if (!w->cfg->upstream_wait || w->draining) return 0;
  struct agent_hold_state st = {.pending = u->pending_cmds,
                                .inflight = u->inflight_cmds,
                                .last_batch = u->last_batch,
                                /* clients are spread evenly over the upstreams */
                                .active = agent_hold_share(active_clients(w), (size_t)w->nups),
                                .gap_us = w->gap_us,
                                .oldest_us = u->pending_oldest_us,
                                .first_hold_us = u->first_hold_us,
                                .holds = u->holds};
  return agent_hold_gather_us(&w->cfg->nap, &w->cfg->flush, &st, now);
}

static void decide_flushes(struct agent_worker *w, uint64_t now) {
  for (int i = 0; i < w->nups; i++) {
    struct upstream *u = &w->ups[i];
    if (u->state != UP_READY) continue;
    struct agent_flush_state st = {.pending = u->pending_cmds,
                                   .oldest_us = u->pending_oldest_us,
                                   .inflight = u->inflight_cmds,
                                   .pass_end = true};
    uint64_t deadline = 0;
    enum agent_flush_verdict v = agent_flush_decide(&w->cfg->flush, &st, now, &deadline);
    uint64_t hold = v == AGENT_FLUSH_NOW ? gather_us(w, u, now) : 0;
    if (hold > 0) {
      if (u->holds++ == 0) u->first_hold_us = now;
      if (w->gather_us == 0 || hold < w->gather_us) w->gather_us = hold;
    } else if (v == AGENT_FLUSH_NOW || (v == AGENT_FLUSH_WAIT && w->draining))
      agent_upstream_flush(u, now);
    else if (v == AGENT_FLUSH_WAIT) agent_upstream_arm_window(u, deadline, now);
  }
}

static bool drained(const struct agent_worker *w) {
  for (int i = 0; i < w->nups; i++)
    if (w->ups[i].count > 0) return false;
  for (const struct client *c = w->clients; c; c = c->next)
    if (c->out.len > 0) return false;
  return true;
}

static size_t pending_total(const struct agent_worker *w) {
  size_t n = 0;
  for (int i = 0; i < w->nups; i++) n += w->ups[i].pending_cmds;
  return n;
}

/* The reading half of pass_end, without the flush decisions. */
static void pass_end_read(struct agent_worker *w) {
  uint64_t now = agent_worker_now_us();
  do {
    agent_client_resume(w, now);
    do agent_client_io_round(w, now);
    while (w->readable);
  } while (w->resume || w->readable);
}

/* Runs after every event-loop pass: the batching decision point. Replies routed in the pass
 * are written and readable clients read in one I/O round, then each upstream decides. since:
 * when the upstream wait before this pass began (0: there was none). */
static void pass_end(struct agent_worker *w, uint64_t since) {
  uint64_t now = agent_worker_now_us();
  /* Commands read after an upstream wait may have arrived any time since it began: they
   * count from then, so the window still bounds their wait. */
  uint64_t arrived = since != 0 && since < now ? since : now;
  do {
    agent_client_resume(w, now);
    do agent_client_io_round(w, arrived);
    while (w->readable);
    decide_flushes(w, now);
  } while (w->resume || w->dirty || w->readable);
  if (w->draining && (drained(w) || now >= w->drain_deadline_us)) w->done = true;
}

void agent_loop_on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct agent_worker *w = arg;
  uint64_t now = agent_worker_now_us(), limit = w->cfg->timeout_ms * 1000;
  w->epoch++;
  w->active[w->epoch & 1] = 0;
  for (int i = 0; i < w->nups; i++) agent_upstream_check_timeout(&w->ups[i], now, limit);
}

void agent_loop_on_stop(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  struct agent_worker *w = arg;
  char b[16];
  if (read(fd, b, sizeof b) <= 0 || w->draining) return;
  w->draining = true;
  w->drain_deadline_us = agent_worker_now_us() + w->cfg->timeout_ms * 1000;
  event_del(w->accept_ev);
  close(w->lfd);
  w->lfd = -1;
  /* Requests a client sent before the signal are answered: read what its socket already
   * holds, then stop reading. */
  agent_client_drain_all(w, agent_worker_now_us());
}

/* Sleeps after a busy pass (agent_hold_nap_us) so the next pass gathers more events. */
static void nap(struct agent_worker *w) {
  size_t outstanding = 0;
  for (int i = 0; i < w->nups; i++) outstanding += w->ups[i].inflight_cmds + w->ups[i].pending_cmds;
  uint64_t us = agent_hold_nap_us(&w->cfg->nap, &w->cfg->flush, w->pass_events, w->pass_cmds,
                                  w->pass_full, outstanding);
  if (us == 0) return;
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* The upstream wait. With --flush idle, a command read while every upstream has a batch at
 * Redis cannot leave before that batch's replies come back, so waking for it only costs a
 * wake-up (the dearest thing on a busy or virtualised machine). While that holds, the agent
 * sleeps on the upstream sockets (and the listener and the stop pipe) only: the replies
 * wake it at once, and the clients' commands are read in the same pass and leave as the next
 * batch. The wait never lasts longer than the batch window (after which queued commands
 * leave even with a batch in flight). Returns when the wait began (0: no wait). */
static bool upstream_wait_applies(const struct agent_worker *w) {
  if (!w->cfg->upstream_wait || w->cfg->flush.mode != AGENT_FLUSH_IDLE ||
      w->cfg->flush.window_us == 0 || w->draining || w->nwwait > 0 || w->resume || w->dirty ||
      w->readable || !w->upfds)
    return false;
  for (int i = 0; i < w->nups; i++) {
    const struct upstream *u = &w->ups[i];
    if (u->state != UP_READY || u->inflight_cmds == 0 || u->wlen > 0) return false;
  }
  return true;
}

static uint64_t upstream_wait(struct agent_worker *w) {
  if (!upstream_wait_applies(w)) return 0;
  uint64_t start = agent_worker_now_us(), limit = w->cfg->flush.window_us;
  nfds_t n = 0;
  for (int i = 0; i < w->nups; i++) {
    const struct upstream *u = &w->ups[i];
    limit = agent_hold_wait_us(&w->cfg->flush, limit, u->pending_cmds, u->pending_oldest_us, start);
    if (limit == 0) return 0;
    w->upfds[n++] = (struct pollfd){.fd = u->fd, .events = POLLIN};
  }
  if (w->lfd >= 0) w->upfds[n++] = (struct pollfd){.fd = w->lfd, .events = POLLIN};
  w->upfds[n++] = (struct pollfd){.fd = w->stop_pipe[0], .events = POLLIN};
  struct timespec ts = {(time_t)(limit / 1000000), (long)(limit % 1000000) * 1000};
  if (ppoll(w->upfds, n, &ts, NULL) < 0 && errno != EINTR) return 0;
  return start;
}

static bool any_connecting(const struct agent_worker *w) {
  for (int i = 0; i < w->nups; i++)
    if (w->ups[i].state == UP_CONNECTING) return true;
  return false;
}

void *agent_loop_main(void *arg) {
  struct agent_worker *w = arg;
  /* The ring is single-issuer: set it up on the thread that uses it. */
  if (!agent_bio_init(&w->bio, w->cfg->io_uring, ROUND_MAX_READS * 2)) {
    rb_error("out of memory setting up the I/O rounds");
    abort();
  }
  w->bio_ready = true;
  if (w->index == 0)
    rb_info("client I/O: %s", agent_bio_uring(&w->bio) ? "io_uring" : "plain system calls");
  for (int i = 0; i < w->nups; i++) agent_upstream_connect(&w->ups[i]);
  /* Accept clients once the first connection attempts have settled (ready or failed), so a
   * client that connects right after start-up does not see "unreachable" for nothing. */
  while (any_connecting(w)) event_base_loop(w->base, EVLOOP_ONCE);
  event_add(w->accept_ev, NULL);
  /* Naps are short: ask for the default 50 us timer slack to be 1 us. */
  prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  while (!w->done) {
    w->pass_events = 0;
    w->pass_cmds = 0;
    w->pass_full = false;
    uint64_t since = upstream_wait(w);
    event_base_loop(w->base, EVLOOP_ONCE);
    pass_end(w, since);
    /* A held batch: sleep, read what came in meanwhile, decide again (agent_hold_gather_us
     * stops holding once its time is up). */
    while (w->gather_us > 0 && !w->done) {
      size_t before = pending_total(w);
      uint64_t t0 = agent_worker_now_us();
      struct timespec ts = {(time_t)(w->gather_us / 1000000),
                            (long)(w->gather_us % 1000000) * 1000};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
      w->gather_us = 0;
      event_base_loop(w->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
      /* read what came in meanwhile (counted before a batch is written), then decide */
      pass_end_read(w);
      size_t after = pending_total(w);
      w->gap_us = agent_hold_learn_queued(w->gap_us, before, after, active_clients(w),
                                          agent_worker_now_us() - t0);
      pass_end(w, 0);
    }
    /* The blind nap is the --no-upstream-wait loop's way to gather (the hold is this one's). */
    if (!w->draining && !w->cfg->upstream_wait) nap(w);
  }
  return NULL;
}
