/* action_exec.h: runs an activation's Redis operations over persistent connections.
 *
 * A session is a set of connections to one endpoint (host, port, password) with its own
 * libevent loop. An activation checks a matching session out of the pool (or makes one),
 * grows it to parallel_calls connections, runs the operations and checks it back in, so
 * connections and AUTH survive across warm activations while concurrent activations each
 * use their own connections.
 *
 *   ops 0..n-1 ─► conn[0] ─ one request in flight ─► Redis/agent
 *              ─► conn[1] ─ one request in flight ─►
 *              ─► ...        (each conn takes the next op when its reply arrives)
 */
#ifndef ACTION_EXEC_H
#define ACTION_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "action_params.h"
#include "action_result.h"

struct action_exec;

/* Returns NULL on allocation failure. */
struct action_exec *action_exec_create(void);
/* Closes every pooled connection. NULL-safe. No activation may be running. */
void action_exec_destroy(struct action_exec *ex);

/* Runs p->num_ops operations, stopping at deadline_ms (epoch ms, 0 = none). Fills r's counts,
 * errors, timings and connection fields. Thread-safe: concurrent calls use separate sessions.
 * Matches action_run_fn. */
void action_exec_run(void *ex, const struct action_params *p, int64_t deadline_ms,
                     struct action_result *r);

/* The type of operation j of invocation k: rb_workload_draw's op, drawn alone (cheap). */
enum rb_op action_exec_op_type(const struct rb_workload *w, uint64_t k, uint64_t j);

/* The hash of every draw of p's activation (rb_workload_draw of j = 0 .. num_ops - 1 in
 * order: op, keys, value size, member). False (digest unset) when deadline_ms (epoch ms, 0 =
 * none) would pass first: at 1,000,000 draws of 100 keys it takes seconds. */
bool action_exec_draw_digest(const struct action_params *p, int64_t deadline_ms, uint64_t *digest);

/* The value written for key index i: value_size bytes, byte j = 'a' + (i + j) % 26. */
void action_exec_fill_value(char *buf, long long value_size, uint64_t key_index);

#endif
