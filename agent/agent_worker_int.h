/* agent_worker_int.h: the state one worker thread shares between its files (private to
 * agent_worker.c, agent_client.c, agent_upstream.c and agent_loop.c; never included elsewhere).
 *
 * How a request moves between the client and upstream queues:
 *
 *          agent_client.c                               agent_upstream.c
 *   client ──read──► agent_req ──► agent_cmd ──pass──► queue_one / queue_run ──► u->out
 *     ▲       (I/O round)              │local             (+ a FIFO entry)          │
 *     │                                ▼                                            │
 *     │        c->out at once, or a local FIFO entry behind    flush at a pass end  │
 *     │        c's commands still in flight (queue_local)          (agent_loop.c)   ▼
 *     │                                                                           Redis
 *     │                                                                             │
 *     └──write── c->out ◄── agent_client_deliver ◄── head entry ◄── agent_reply ◄───┘
 *        (I/O round)
 *
 *   upstream u:  out bytes [ written | flushed, unwritten | pending (+ open coalescing run) ]
 *                FIFO      [ sent entries ......... | pending entries ........ ]
 *                          entry = one command (client), a run (clients[n]) or a local reply
 *
 *   agent_loop.c, at the end of every event-loop pass: one I/O round writes every dirty
 *   client and reads every readable one, then agent_flush (when) and agent_hold (how long
 *   to hold back) decide per upstream; between passes it waits on the upstreams only while
 *   every one has a batch at Redis. agent_worker.c creates, starts, stops and frees it all.
 *
 * A client is pinned to one upstream, so Redis's per-connection order is the client's order;
 * a local reply for a client with commands in flight waits in the FIFO behind them. A client
 * is freed only when no FIFO entry refers to it, so one that disconnects mid-batch simply
 * loses its replies.
 *
 * Ownership: the worker owns its upstreams (an array), its clients (the live list) and the
 * event loop; an upstream owns its buffers, its FIFO and its entries' texts and caller arrays;
 * a FIFO entry borrows its clients (each counted in the client's inflight). Every function
 * below borrows its arguments for the call unless it says otherwise. */
#ifndef AGENT_WORKER_INT_H
#define AGENT_WORKER_INT_H

#include <event2/event.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent_bio.h"
#include "agent_buf.h"
#include "agent_cmd.h"
#include "agent_coalesce.h"
#include "agent_config.h"
#include "agent_metrics.h"
#include "agent_reply.h"
#include "agent_req.h"
#include "agent_worker.h"
#include "rb_clock.h"

#define ROUND_MAX_READS 256 /* client reads in one I/O round (each gets a CLIENT_READ_CHUNK) */

struct client;
struct entry; /* one FIFO entry (agent_upstream.c) */

enum up_state { UP_DOWN, UP_CONNECTING, UP_READY };

struct upstream {
  struct agent_worker *w;
  int fd;
  enum up_state state;
  struct event *rev, *wev, *window, *retry;
  struct agent_buf out; /* [0, wlen) flushed but unwritten, then pending bytes */
  size_t wlen;
  struct agent_buf in;
  struct agent_reply_scan scan;
  struct entry *ring; /* FIFO: [head, head+nflushed) sent, then pending */
  size_t cap, head, count, nflushed;
  size_t pending_cmds; /* client commands queued, not flushed */
  uint64_t pending_oldest_us;
  size_t inflight_cmds;        /* commands flushed, replies outstanding */
  uint64_t progress_us;        /* last reply, or flush onto an idle connection */
  uint64_t window_deadline_us; /* window timer armed for this time (0: not armed) */
  struct agent_run run;        /* open coalescing run: the FIFO's last entry when run_open */
  bool run_open;
  size_t last_batch;      /* commands in the last batch written */
  uint64_t first_hold_us; /* the pending batch was first held back then (0: not) */
  unsigned holds;         /* times the pending batch was held back */
  uint64_t backoff_ms;
  uint64_t connect_us;
  bool logged_down;
};

/* A client's life: it only moves forwards. */
enum client_state {
  CLIENT_OPEN,    /* reading and answering */
  CLIENT_CLOSING, /* close once everything is answered and written (QUIT, protocol error, out
                   * of memory): no more reading */
  CLIENT_DEAD,    /* socket closed; freed once inflight == 0 and no CLIENT_HELD flag is set */
};

/* What else holds for a client, in any state (struct client's flags). */
enum client_flag {
  CLIENT_PAUSED = 1u << 0,      /* reading stopped for backpressure */
  CLIENT_KILL = 1u << 1,        /* close at the next write (reply limit broken); until then
                                 * it is still read, its replies dropped */
  CLIENT_WWAIT = 1u << 2,       /* waiting for EPOLLOUT (counted in the worker's nwwait) */
  CLIENT_ON_DIRTY = 1u << 3,    /* on the worker's dirty list */
  CLIENT_ON_RESUME = 1u << 4,   /* on the worker's resume list */
  CLIENT_ON_READABLE = 1u << 5, /* on the worker's readable list (read in the next I/O round) */
  CLIENT_BUSY = 1u << 6,        /* has an operation in the current I/O round */
};
/* A dead client is not freed while any of these holds (a list or an I/O round refers to it). */
#define CLIENT_HELD (CLIENT_ON_DIRTY | CLIENT_ON_RESUME | CLIENT_ON_READABLE | CLIENT_BUSY)

struct client {
  struct agent_worker *w;
  struct upstream *up;
  int fd;
  struct event *rev, *wev;
  struct agent_buf in, out;
  struct agent_req req;
  struct agent_session sess;
  size_t inflight; /* FIFO entries that refer to this client */
  enum client_state state;
  unsigned flags; /* enum client_flag bits */
  unsigned epoch; /* the worker's tick when this client last sent a command, plus one */
  struct client *next_dirty, *next_resume, *next_readable;
  struct client *prev, *next; /* live clients */
};

struct agent_worker {
  const struct agent_config *cfg;
  int index;
  struct event_base *base;
  int lfd;
  struct event *accept_ev, *stop_ev, *tick;
  int stop_pipe[2];
  pthread_t thread;
  bool started;
  struct upstream *ups;
  int nups;
  int next_up;
  struct client *clients; /* live list */
  size_t nclients, max_clients;
  struct client *dirty, *resume, *readable;
  struct agent_buf scratch;
  struct agent_buf rbuf; /* shared read buffers of one I/O round (see io_round) */
  struct agent_bio bio;  /* the I/O round: client reads and writes in one go */
  unsigned pass_events;  /* readable sockets seen in the current pass (for the nap) */
  size_t pass_cmds;      /* client commands read in the current pass (for the nap) */
  bool pass_full;        /* a read in the current pass filled its buffer (for the nap) */
  bool bio_ready;
  size_t nwwait;        /* clients waiting for EPOLLOUT (no upstream wait while any is) */
  struct pollfd *upfds; /* the upstream wait's poll set: upstreams, listener, stop pipe */
  unsigned long long next_id;
  bool draining, done;
  uint64_t gather_us; /* a batch was held back for a gathering nap this long (gather_us) */
  uint64_t gap_us;    /* learnt time for one more command to come in (agent_hold_learn) */
  size_t active[2];   /* clients that sent commands in even / odd ticks */
  unsigned epoch;     /* ticks so far */
  uint64_t drain_deadline_us;
  struct agent_metrics m;
};

static inline uint64_t agent_worker_now_us(void) { return rb_clock_mono_ns() / 1000; }

/* ---- agent_client.c: the clients' sockets, their commands and replies ---------------- */

/* The listener's callback (arg: the worker): accepts up to 64 clients; each new client is
 * owned by the worker's live list. */
void agent_client_on_accept(evutil_socket_t lfd, short what, void *arg);
/* One I/O round at now: writes every dirty client, reads (up to ROUND_MAX_READS) readable
 * ones and processes their commands. */
void agent_client_io_round(struct agent_worker *w, uint64_t now);
/* Reads again from the clients whose backpressure ended. */
void agent_client_resume(struct agent_worker *w, uint64_t now);
/* The drain: reads what every client's socket already holds, then stops reading them all. */
void agent_client_drain_all(struct agent_worker *w, uint64_t now);
/* A FIFO entry for c was answered with p[0..n) (copied); drops the entry's reference to c,
 * which frees c if it is closed and nothing else refers to it. */
void agent_client_deliver(struct client *c, const char *p, size_t n);
/* Frees c once it is closed and nothing refers to it any more (else does nothing). */
void agent_client_release(struct client *c);
/* Closes c's socket and takes it off the live list; frees it when nothing refers to it. */
void agent_client_close(struct client *c);

/* ---- agent_upstream.c: the connections to Redis, their FIFOs and the reply routing ---- */

/* Sets u up for w (no connection yet); false when memory ran out (agent_upstream_deinit
 * frees what was made). */
bool agent_upstream_init(struct agent_worker *w, struct upstream *u);
/* Frees what u owns (not u itself: the worker's array). */
void agent_upstream_deinit(struct upstream *u);
/* Drops the FIFO's references to clients without delivering anything (worker teardown). */
void agent_upstream_drop_refs(struct upstream *u);
/* Starts connecting (a failure schedules the retry with backoff). */
void agent_upstream_connect(struct upstream *u);
/* The tick: fails u when its connect or a reply took longer than limit_us. */
void agent_upstream_check_timeout(struct upstream *u, uint64_t now, uint64_t limit_us);
/* Queues c's command (the request r parsed from base[0..raw_len)); its bytes are copied.
 * False when memory ran out (nothing queued). */
bool agent_upstream_queue_one(struct upstream *u, struct client *c, const struct agent_req *r,
                              const char *base, size_t raw_len, uint64_t now);
/* --coalesce: adds c's plain GET (or SET when set) to the open run; false when memory ran
 * out. */
bool agent_upstream_queue_run(struct upstream *u, struct client *c, const struct agent_req *r,
                              const char *base, bool set, uint64_t now);
/* Queues the local reply p[0..n) (copied) behind c's commands in flight; false when memory
 * ran out (nothing queued). */
bool agent_upstream_queue_local(struct upstream *u, struct client *c, const char *p, size_t n);
/* Writes every pending command as one batch. */
void agent_upstream_flush(struct upstream *u, uint64_t now);
/* Arms the window timer for deadline (unless it is armed for an earlier time). */
void agent_upstream_arm_window(struct upstream *u, uint64_t deadline, uint64_t now);

/* ---- agent_loop.c: the event loop, its passes, holds, nap and upstream wait ----------- */

/* The worker thread's body (arg: the worker, borrowed); returns NULL once drained. */
void *agent_loop_main(void *arg);
/* The 50 ms tick (arg: the worker): active-client counts and upstream timeouts. */
void agent_loop_on_tick(evutil_socket_t fd, short what, void *arg);
/* The stop pipe (arg: the worker): begins the drain. */
void agent_loop_on_stop(evutil_socket_t fd, short what, void *arg);

#endif
