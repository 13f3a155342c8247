/* agent_hold.h: how long the event loop holds a batch back or sleeps (the gathering hold, the
 * upstream wait's limit and the nap), as pure decisions: values and a clock value in,
 * microseconds out, no I/O and no clock read here. The flush rule itself is agent_flush.h.
 *
 * Ownership: every function only reads its arguments (borrowed for the call); nothing is
 * kept or allocated.
 *
 * The upstream wait and the gathering hold (--flush idle, the default; --no-upstream-wait
 * turns both off and brings back the nap below). While every upstream has a batch at Redis,
 * commands cannot leave before its replies return, so the agent sleeps on the upstream
 * sockets only (plus the listener and the stop pipe), for at most the window
 * (agent_hold_wait_us): the replies wake it at once, and the clients' commands that came in
 * meanwhile are read in that same pass. Once Redis has answered everything (the upstream is
 * idle), the clients just answered send their next commands one after another; with many
 * active clients the next batch is held back a little so more of them share it
 * (agent_hold_gather_us):
 *
 *   nap_us == 0, window_us == 0 or mode != idle -> no hold
 *   inflight > 0 or pending == 0          -> no hold (not the idle upstream's decision)
 *   held AGENT_HOLD_MAX_HOLDS times       -> no more
 *   active < min_outstanding              -> no hold (few clients: they never wait)
 *   last_batch < 2                        -> no hold (no sign of concurrency)
 *   pending >= expected(active)           -> no hold (nearly every active client is back)
 *   pending >= max_cmds or >= max_batch   -> no hold (a batch big enough already)
 *   otherwise: hold gap_us * (expected - pending), the time the missing clients should
 *   take, but no longer than the budget (agent_hold_budget_us) after the first hold of this
 *   batch and never past the oldest queued command's window; a hold under
 *   AGENT_HOLD_MIN_US is not worth a wake-up.
 *
 * active: clients that sent a command in the current or the previous tick (50 ms,
 * agent_hold_active), each upstream's share of them (agent_hold_share);
 * expected(active) = active - active/8, for a straggler or a client gone quiet. gap_us is
 * learnt after every hold (agent_hold_learn): it shrinks when the hold was long enough for
 * everyone, and moves towards held_us / arrived when it was not. So a command waits at most
 * the budget on its way in and nothing on its way out, and few or idle clients never wait.
 *
 * The budget is max(nap_us, active * per_client_us). With A active clients every client's
 * round trip through any proxy takes at least A times the per-command cost of the path (a
 * single client process spends about 20 us per command on this kind of machine), so a budget
 * that grows with A keeps the hold's share of a round trip about the same at 50 clients and
 * at 500, where a fixed one would leave the batches of many clients as small as those of 50
 * (and the agent's CPU per command with them).
 *
 * The nap (--no-upstream-wait only): a short sleep at the end of an event-loop pass, so that
 * the next pass finds many events instead of one. On a machine where every wake-up and system
 * call is expensive the agent otherwise wakes for nearly every client command; napping lets
 * client commands and Redis replies accumulate, so one wake-up, one I/O round and one batch
 * to Redis serve many commands (bigger batches also cut Redis's CPU per command). The nap
 * bounds the extra wait: a command waits at most about nap_us more on its way in and its
 * reply on its way out (agent_hold_nap_us):
 *
 *   nap_us == 0 or window_us == 0        -> no nap
 *   the pass handled no event             -> no nap (woken by a timer only)
 *   commands outstanding < min_outstanding -> no nap (little concurrency: the nap would only
 *                                            add latency; a lone client never waits)
 *   the pass read max_cmds commands or more -> no nap (a heavy pass already amortises its
 *                                            wake-up; napping would only idle the pipeline)
 *   a read in the pass filled its buffer    -> no nap (more is waiting in a socket: large
 *                                            replies or requests stream at full speed)
 *   otherwise                             -> nap min(nap_us, window_us) */
#ifndef AGENT_HOLD_H
#define AGENT_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_flush.h"

#define AGENT_HOLD_MIN_US 5
#define AGENT_HOLD_MAX_HOLDS 3
#define AGENT_HOLD_MAX_GAP_US 1000
#define AGENT_HOLD_GAP0_US 10 /* the first guess of gap_us */

struct agent_hold_cfg {
  uint64_t nap_us;        /* 0: never nap or hold; the hold's smallest budget */
  size_t min_outstanding; /* commands outstanding (nap) or active clients (hold) needed */
  size_t max_cmds;        /* a pass (nap) or batch (hold) this big needs no more waiting */
  uint64_t per_client_us; /* the hold's budget grows to active * this (agent_hold_budget_us) */
};

struct agent_hold_state {
  size_t pending;         /* commands queued for the upstream */
  size_t inflight;        /* commands at Redis */
  size_t last_batch;      /* commands in the last batch written */
  size_t active;          /* clients that sent commands lately (the upstream's share) */
  uint64_t gap_us;        /* learnt time for one more command to come in */
  uint64_t oldest_us;     /* arrival of the oldest queued command */
  uint64_t first_hold_us; /* when this batch was first held back (0: not yet) */
  unsigned holds;         /* times this batch was held back */
};

/* Active clients from the counts of the current and the previous tick: the larger one. */
size_t agent_hold_active(size_t this_tick, size_t last_tick);
/* One upstream's share of the active clients (they are spread evenly): active / nups,
 * rounded up. nups >= 1. */
size_t agent_hold_share(size_t active, size_t nups);
/* The commands a hold waits for: active - active/8. */
size_t agent_hold_expected(size_t active);

/* The most a batch is held, from its first hold: max(nap_us, active * per_client_us); 0 when
 * nap_us is 0 (holds off). */
uint64_t agent_hold_budget_us(const struct agent_hold_cfg *cfg, size_t active);

/* Returns microseconds to hold the idle upstream's batch back; 0: write it now. */
uint64_t agent_hold_gather_us(const struct agent_hold_cfg *cfg, const struct agent_flush_cfg *flush,
                              const struct agent_hold_state *st, uint64_t now_us);

/* After a hold of held_us in which `arrived` more commands came in and `missing` were still
 * expected at its end: the new gap_us (1 .. AGENT_HOLD_MAX_GAP_US). */
uint64_t agent_hold_learn(uint64_t gap_us, size_t arrived, size_t missing, uint64_t held_us);
/* The same from the commands queued before and after the hold and the active clients: arrived
 * = after - before (0 if fewer), missing = expected(active) - after (0 if more). */
uint64_t agent_hold_learn_queued(uint64_t gap_us, size_t before, size_t after, size_t active,
                                 uint64_t held_us);

/* The upstream wait's limit, one upstream at a time: starting from limit (the window for the
 * first upstream), returns the limit after an upstream with `pending` commands queued, the
 * oldest at oldest_us: unchanged when pending is 0, at most the time left in that command's
 * window, 0 (do not wait) when its window has ended at now_us. */
uint64_t agent_hold_wait_us(const struct agent_flush_cfg *flush, uint64_t limit, size_t pending,
                            uint64_t oldest_us, uint64_t now_us);

/* The nap. pass_events: sockets found readable in the pass; pass_cmds: client commands read in
 * it; pass_full: a read in it filled its whole buffer; outstanding: commands queued or at
 * Redis after it. Returns microseconds to sleep. */
uint64_t agent_hold_nap_us(const struct agent_hold_cfg *cfg, const struct agent_flush_cfg *flush,
                           unsigned pass_events, size_t pass_cmds, bool pass_full,
                           size_t outstanding);

#endif
