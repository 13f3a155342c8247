/* agent_flush.h: when a batch of queued requests is written to Redis (pure; the clock is an
 * argument, never read here).
 *
 * The batch window is an upper bound on how long a request may wait in the agent, not a
 * delay added to every request. A decision is taken at the end of every event-loop pass
 * (after all readable clients were read) and whenever Redis's replies arrive:
 *
 *   pending == 0                         -> nothing to do
 *   pending >= max_batch                 -> flush now
 *   now >= oldest + window               -> flush now (the window's end)
 *   mode idle:   at a pass end, when nothing is in flight on the upstream -> flush now
 *   mode pass:   at every pass end                                         -> flush now
 *   mode window: only the two rules above (Envoy's buffer_flush_timeout)
 *   otherwise                            -> wait, with a timer at oldest + window
 *
 * idle (the default) lets batches grow by themselves under load: while one batch is at
 * Redis the next one gathers, and at low load a request leaves at the end of the pass that
 * read it, so it pays no window at all. */
#ifndef AGENT_FLUSH_H
#define AGENT_FLUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum agent_flush_mode { AGENT_FLUSH_IDLE, AGENT_FLUSH_PASS, AGENT_FLUSH_WINDOW };

struct agent_flush_cfg {
  enum agent_flush_mode mode;
  uint64_t window_us; /* upper bound on a request's wait in the agent */
  size_t max_batch;   /* commands per write; reaching it flushes at once */
};

struct agent_flush_state {
  size_t pending;     /* commands queued, not yet written */
  uint64_t oldest_us; /* when the oldest queued command arrived */
  size_t inflight;    /* commands written, replies not yet all received */
  bool pass_end;      /* the event loop finished a pass (all ready clients read) */
};

enum agent_flush_verdict { AGENT_FLUSH_NONE, AGENT_FLUSH_NOW, AGENT_FLUSH_WAIT };

/* Decides; on AGENT_FLUSH_WAIT *out_deadline_us is when to decide again at the latest. */
enum agent_flush_verdict agent_flush_decide(const struct agent_flush_cfg *cfg,
                                            const struct agent_flush_state *st, uint64_t now_us,
                                            uint64_t *out_deadline_us);

/* The nap: a short sleep at the end of an event-loop pass, so that the next pass finds many
 * events instead of one. On a machine where every wake-up and system call is expensive the
 * agent otherwise wakes for nearly every client command; napping lets client commands and
 * Redis replies accumulate, so one wake-up, one I/O round and one batch to Redis serve many
 * commands (bigger batches also cut Redis's CPU per command). The nap bounds the extra wait:
 * a command waits at most about nap_us more on its way in and its reply on its way out.
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
struct agent_nap_cfg {
  uint64_t nap_us;        /* 0: never nap */
  size_t min_outstanding; /* commands queued or at Redis (after the pass) needed to nap */
  size_t max_cmds;        /* a pass that read this many commands is heavy: no nap */
  uint64_t per_client_us; /* the hold's budget grows to active * this (agent_gather_budget) */
};

/* pass_events: sockets found readable in the pass; pass_cmds: client commands read in it;
 * pass_full: a read in it filled its whole buffer; outstanding: commands queued or at Redis
 * after it. Returns microseconds to sleep. */
uint64_t agent_nap_decide(const struct agent_nap_cfg *nap, const struct agent_flush_cfg *flush,
                          unsigned pass_events, size_t pass_cmds, bool pass_full,
                          size_t outstanding);

/* The upstream wait and the gathering nap (--flush idle, the default; --no-upstream-wait
 * turns both off and brings back the nap above). While every upstream has a batch at Redis,
 * commands cannot leave before its replies return, so the agent sleeps on the upstream
 * sockets only (plus the listener and the stop pipe), for at most the window: the replies
 * wake it at once, and the clients' commands that came in meanwhile are read in that same
 * pass. Once Redis has answered everything (the upstream is idle), the clients just answered
 * send their next commands one after another; with many active clients the next batch is
 * held back a little so more of them share it (agent_gather_decide):
 *
 *   nap_us == 0, window_us == 0 or mode != idle -> no hold
 *   inflight > 0 or pending == 0          -> no hold (not the idle upstream's decision)
 *   held AGENT_GATHER_MAX_HOLDS times     -> no more
 *   active < min_outstanding              -> no hold (few clients: they never wait)
 *   last_batch < 2                        -> no hold (no sign of concurrency)
 *   pending >= expected(active)           -> no hold (nearly every active client is back)
 *   pending >= max_cmds or >= max_batch   -> no hold (a batch big enough already)
 *   otherwise: hold gap_us * (expected - pending), the time the missing clients should
 *   take, but no longer than the budget (agent_gather_budget) after the first hold of this
 *   batch and never past the oldest queued command's window; a hold under
 *   AGENT_GATHER_MIN_US is not worth a wake-up.
 *
 * active: clients that sent a command in the current or the previous tick (50 ms);
 * expected(active) = active - active/8, for a straggler or a client gone quiet. gap_us is
 * learnt after every hold (agent_gather_learn): it shrinks when the hold was long enough for
 * everyone, and moves towards held_us / arrived when it was not. So a command waits at most
 * the budget on its way in and nothing on its way out, and few or idle clients never wait.
 *
 * The budget is max(nap_us, active * per_client_us). With A active clients every client's
 * round trip through any proxy takes at least A times the per-command cost of the path (a
 * single client process spends about 20 us per command on this kind of machine), so a budget
 * that grows with A keeps the hold's share of a round trip about the same at 50 clients and
 * at 500, where a fixed one would leave the batches of many clients as small as those of 50
 * (and the agent's CPU per command with them). */
#define AGENT_GATHER_MIN_US 5
#define AGENT_GATHER_MAX_HOLDS 3
#define AGENT_GATHER_MAX_GAP_US 1000
#define AGENT_GATHER_GAP0_US 10 /* the first guess of gap_us */

struct agent_gather_state {
  size_t pending;         /* commands queued for the upstream */
  size_t inflight;        /* commands at Redis */
  size_t last_batch;      /* commands in the last batch written */
  size_t active;          /* clients that sent commands lately */
  uint64_t gap_us;        /* learnt time for one more command to come in */
  uint64_t oldest_us;     /* arrival of the oldest queued command */
  uint64_t first_hold_us; /* when this batch was first held back (0: not yet) */
  unsigned holds;         /* times this batch was held back */
};

size_t agent_gather_expected(size_t active);

/* The most a batch is held, from its first hold: max(nap_us, active * per_client_us); 0 when
 * nap_us is 0 (holds off). */
uint64_t agent_gather_budget(const struct agent_nap_cfg *nap, size_t active);

/* Returns microseconds to hold the batch back; 0: write it now. */
uint64_t agent_gather_decide(const struct agent_nap_cfg *nap, const struct agent_flush_cfg *flush,
                             const struct agent_gather_state *st, uint64_t now_us);

/* After a hold of held_us in which `arrived` more commands came in and `missing` were still
 * expected at its end: the new gap_us. */
uint64_t agent_gather_learn(uint64_t gap_us, size_t arrived, size_t missing, uint64_t held_us);

/* "idle", "pass" or "window" -> mode; returns false for anything else. */
bool agent_flush_mode_parse(const char *s, enum agent_flush_mode *out);
const char *agent_flush_mode_name(enum agent_flush_mode m);

#endif
