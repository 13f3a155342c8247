/* agent_flush.c: the flush policy as a pure decision function. */
#include "agent_flush.h"

#include <string.h>

enum agent_flush_verdict agent_flush_decide(const struct agent_flush_cfg *cfg,
                                            const struct agent_flush_state *st, uint64_t now_us,
                                            uint64_t *out_deadline_us) {
  if (st->pending == 0) return AGENT_FLUSH_NONE;
  if (st->pending >= cfg->max_batch) return AGENT_FLUSH_NOW;
  uint64_t deadline = st->oldest_us + cfg->window_us;
  if (now_us >= deadline) return AGENT_FLUSH_NOW;
  if (st->pass_end && cfg->mode == AGENT_FLUSH_PASS) return AGENT_FLUSH_NOW;
  if (st->pass_end && cfg->mode == AGENT_FLUSH_IDLE && st->inflight == 0) return AGENT_FLUSH_NOW;
  *out_deadline_us = deadline;
  return AGENT_FLUSH_WAIT;
}

bool agent_flush_mode_parse(const char *s, enum agent_flush_mode *out) {
  if (strcmp(s, "idle") == 0) *out = AGENT_FLUSH_IDLE;
  else if (strcmp(s, "pass") == 0) *out = AGENT_FLUSH_PASS;
  else if (strcmp(s, "window") == 0) *out = AGENT_FLUSH_WINDOW;
  else return false;
  return true;
}

const char *agent_flush_mode_name(enum agent_flush_mode m) {
  switch (m) {
    case AGENT_FLUSH_IDLE: return "idle";
    case AGENT_FLUSH_PASS: return "pass";
    case AGENT_FLUSH_WINDOW: return "window";
  }
  return "?";
}
