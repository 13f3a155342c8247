/* action_batch.h: runtime-level batching (placement runtime): one batcher per process, shared
 * by every concurrent activation, writing all their commands to Redis as pipelines over a few
 * shared connections per endpoint (docs/action.md, "Placements").
 *
 *   activation threads                 the batcher's own thread (libevent loop)
 *   ──────────────────                 ────────────────────────────────────────
 *   action_batch_submit(cmd, cb) ─► inbox (mutex) ─eventfd─► each endpoint's connection
 *                                                            (the least loaded of the first n):
 *                                                            pending ─flush─► one writev ─► Redis
 *   cb(arg, reply | error, info)  ◄──── replies, FIFO per connection ◄───────────────┘
 *
 * Flush rule (rbench-agent's idle rule, bounded), per connection, decided once every pass of
 * the loop (after every ready socket and the inbox were read): write everything pending when
 *   nothing of this connection is at Redis (idle: a lone command never waits), or
 *   at least ACTION_BATCH_FLUSH_AT commands are pending, or
 *   the oldest pending command's hold (its wait_us after it was submitted) has run out;
 * else wait: for the replies of the pipeline at Redis (the pass that reads the last of them
 * finds the connection idle) or the timer at the hold's end. wait_us 0 writes what is pending
 * at the end of the pass that received it, whatever is at Redis.
 *
 * Coalescing (per command, when submitted with coalesce): within one pipeline of one
 * connection, a GET identical to an earlier GET with no other command but GETs and plain SETs
 * between them is not sent: it gets the earlier one's reply; a GET of a key a plain SET (SET
 * key value, no options) earlier in the same pipeline wrote is not sent: it is answered with
 * that value once the SET's reply is +OK, and sent after all (in a later pipeline) if not.
 * Any other command between them ends both (its keys are not parsed). Each answer is one Redis
 * could have given: the coalesced GET was in flight when the command it is answered from ran,
 * and nothing of this connection that could write the key ran between the two.
 *
 * Failures: a connection that breaks (closed by the server, a read or write error, a protocol
 * error, or the oldest command on it without its reply for its timeout_ms since the last
 * reply) fails every command written to it and not answered, each with that message
 * ("connection closed by server", "timed out after N ms waiting for the reply", ...);
 * commands still pending on it go out on a new connection, made at once; a connection that
 * cannot be made (connect, AUTH, or its timeout) fails the commands pending on it. Another
 * command past its timeout_ms while the connection is still answering older ones fails alone
 * ("timed out after N ms waiting for the reply"); its reply is read and dropped when it
 * comes. Nothing else is touched.
 *
 * Every submitted command gets exactly one callback, on the batcher's thread, never inside
 * action_batch_submit. A callback must not block; it may call action_batch_submit. */
#ifndef ACTION_BATCH_H
#define ACTION_BATCH_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pending commands on a connection that make it write at once, whatever wait_us says. */
#define ACTION_BATCH_FLUSH_AT 16
#define ACTION_BATCH_CONNS_MAX 64

struct action_batch;
struct action_batch_ep;

/* What the callback learns about its command. */
struct action_batch_info {
  int conn;              /* index of the connection it went over (-1: never written) */
  uint64_t pipeline;     /* the pipeline's number (process-wide, from 1; 0: never written) */
  uint32_t pipeline_ops; /* commands written in that pipeline (coalesced ones not counted) */
  bool coalesced;        /* answered from another command's reply, not sent itself */
  bool unconnected;      /* failed because its connection could not be made (connect, AUTH) */
  uint64_t latency_ns;   /* from action_batch_submit to the callback */
};

/* reply: the command's reply (any type, Redis errors included), borrowed for the call; NULL
 * when it failed, error then says why. */
typedef void (*action_batch_cb)(void *arg, const redisReply *reply, const char *error,
                                const struct action_batch_info *info);

/* A batcher. Starts no thread: the loop's thread starts with the first command. NULL when out
 * of memory. */
struct action_batch *action_batch_create(void);
/* Stops the loop: every command not answered yet gets its callback with the error "the action
 * is stopping"; closes the connections. NULL-safe. No thread may submit any more. */
void action_batch_destroy(struct action_batch *b);

/* The endpoint (host, port, password), made on first use and kept (its connections persist
 * across activations) until action_batch_destroy. NULL when out of memory. Thread-safe. */
struct action_batch_ep *action_batch_endpoint(struct action_batch *b, const char *host, int port,
                                              const char *password);

struct action_batch_cmd {
  char *buf;           /* one RESP command (redisFormatCommandArgv); the batcher takes it and
                          frees it with redisFreeCommand, whatever happens */
  size_t len;          /* its bytes */
  int conns;           /* spread over the endpoint's first conns connections (1..64) */
  uint32_t wait_us;    /* may be held this long for more commands (0..100000) */
  uint32_t timeout_ms; /* its reply (and the connect, AUTH before it) must come within this */
  bool coalesce;       /* may be coalesced (above) */
};

/* Queues cmd for ep; cb(arg, ...) is called once when it is answered or failed. Returns false
 * (cmd->buf freed, no callback) only when the batcher's thread cannot be started, or memory
 * ran out. Thread-safe. */
bool action_batch_submit(struct action_batch *b, struct action_batch_ep *ep,
                         struct action_batch_cmd *cmd, action_batch_cb cb, void *arg);

/* The endpoint's connections: ready now, made so far, attempts that failed so far. */
struct action_batch_ep_stats {
  int ready;
  uint64_t made;
  uint64_t failed;
};
void action_batch_ep_stats(struct action_batch *b, struct action_batch_ep *ep,
                           struct action_batch_ep_stats *out);

#endif
