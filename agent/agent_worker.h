/* agent_worker.h: one event-loop thread of rbench-agent: its listening socket, its clients
 * and its upstream connections to Redis (the I/O edge; decisions live in the pure modules).
 *
 *   clients ──read──► agent_req ──► agent_cmd ──local──► client out (or the FIFO, see below)
 *                                      │pass
 *                                      ▼
 *   upstream u:  out bytes [ written | flushed, unwritten | pending (+ open coalescing run) ]
 *                FIFO      [ sent entries ......... | pending entries ........ ]
 *                          entry = one command (client), a run (clients[n]) or a local reply
 *   Redis ──read──► agent_reply frames one reply ──► head entry ──► its client(s)' out
 *   end of every loop pass: agent_flush decides per upstream; dirty clients are written.
 *
 * A client is pinned to one upstream, so Redis's per-connection order is the client's order;
 * a local reply for a client with commands in flight waits in the FIFO behind them. A client
 * is freed only when no FIFO entry refers to it, so one that disconnects mid-batch simply
 * loses its replies. */
#ifndef AGENT_WORKER_H
#define AGENT_WORKER_H

#include <stddef.h>

#include "agent_config.h"
#include "agent_metrics.h"

struct agent_worker;

/* Creates the worker and binds its listening socket (SO_REUSEPORT when the agent has several
 * workers). cfg is borrowed and must outlive the worker. NULL on error (err says why). */
struct agent_worker *agent_worker_create(const struct agent_config *cfg, int index, char *err,
                                         size_t errlen);
/* Starts the worker's thread. Returns 0 or an errno value. */
int agent_worker_start(struct agent_worker *w);
/* Asks the worker to drain: stop accepting and reading, answer everything already read,
 * write the replies, then end its loop (at the latest after cfg->timeout_ms). Thread-safe. */
void agent_worker_stop(struct agent_worker *w);
/* Waits for the thread to end. */
void agent_worker_join(struct agent_worker *w);
/* Closes everything. NULL-safe. The thread must have ended (or never started). */
void agent_worker_destroy(struct agent_worker *w);
/* The worker's metrics (read from any thread). */
struct agent_metrics *agent_worker_metrics(struct agent_worker *w);

#endif
