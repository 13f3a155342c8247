/* agent_worker.h: one event-loop thread of rbench-agent: its listening socket, its clients
 * and its upstream connections to Redis (the I/O edge; decisions live in the pure modules).
 *
 * The worker is split by the state it owns: agent_client.c (clients), agent_upstream.c (the
 * connections to Redis and their FIFOs), agent_loop.c (the event loop) and agent_worker.c
 * (this lifecycle); agent_worker_int.h holds their shared structs and the picture of the
 * queues.
 *
 * Ownership: agent_worker_create returns an owned worker (free it with agent_worker_destroy);
 * the worker owns its sockets, clients, upstreams and thread. */
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
