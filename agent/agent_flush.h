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
 * read it, so it pays no window at all. How long an idle upstream's batch may still be held
 * back, and the nap, are agent_hold.h. */
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

/* "idle", "pass" or "window" -> mode; returns false for anything else. */
bool agent_flush_mode_parse(const char *s, enum agent_flush_mode *out);
const char *agent_flush_mode_name(enum agent_flush_mode m);

#endif
