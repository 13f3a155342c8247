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

uint64_t agent_nap_decide(const struct agent_nap_cfg *nap, const struct agent_flush_cfg *flush,
                          unsigned pass_events, size_t pass_cmds, bool pass_full,
                          size_t outstanding) {
  if (nap->nap_us == 0 || flush->window_us == 0 || pass_events == 0 || pass_full) return 0;
  if (outstanding < nap->min_outstanding || pass_cmds >= nap->max_cmds) return 0;
  return nap->nap_us < flush->window_us ? nap->nap_us : flush->window_us;
}

bool agent_flush_mode_parse(const char *s, enum agent_flush_mode *out) {
  if (strcmp(s, "idle") == 0)
    *out = AGENT_FLUSH_IDLE;
  else if (strcmp(s, "pass") == 0)
    *out = AGENT_FLUSH_PASS;
  else if (strcmp(s, "window") == 0)
    *out = AGENT_FLUSH_WINDOW;
  else
    return false;
  return true;
}

const char *agent_flush_mode_name(enum agent_flush_mode m) {
  switch (m) {
    case AGENT_FLUSH_IDLE:
      return "idle";
    case AGENT_FLUSH_PASS:
      return "pass";
    case AGENT_FLUSH_WINDOW:
      return "window";
  }
  return "?";
}

size_t agent_gather_expected(size_t active) {
  return active - active / 8;
}

uint64_t agent_gather_budget(const struct agent_nap_cfg *nap, size_t active) {
  if (nap->nap_us == 0) return 0;
  uint64_t grown = nap->per_client_us * (uint64_t)active;
  return grown > nap->nap_us ? grown : nap->nap_us;
}

uint64_t agent_gather_decide(const struct agent_nap_cfg *nap, const struct agent_flush_cfg *flush,
                             const struct agent_gather_state *st, uint64_t now_us) {
  if (nap->nap_us == 0 || flush->window_us == 0 || flush->mode != AGENT_FLUSH_IDLE) return 0;
  size_t p = st->pending, want = agent_gather_expected(st->active);
  if (st->inflight > 0 || p == 0 || st->holds >= AGENT_GATHER_MAX_HOLDS) return 0;
  if (st->active < nap->min_outstanding || st->last_batch < 2 || p >= want) return 0;
  if (p >= nap->max_cmds || p >= flush->max_batch) return 0;
  uint64_t end = st->oldest_us + flush->window_us;
  uint64_t budget_end =
      (st->first_hold_us ? st->first_hold_us : now_us) + agent_gather_budget(nap, st->active);
  if (budget_end < end) end = budget_end;
  if (end <= now_us) return 0;
  uint64_t hold = st->gap_us * (uint64_t)(want - p);
  if (hold > end - now_us) hold = end - now_us;
  return hold < AGENT_GATHER_MIN_US ? 0 : hold;
}

uint64_t agent_gather_learn(uint64_t gap_us, size_t arrived, size_t missing, uint64_t held_us) {
  uint64_t g;
  if (missing == 0) {
    g = gap_us - gap_us / 4; /* everyone came in time: the hold may have been too long */
  } else {
    uint64_t sample = held_us / (arrived > 0 ? arrived : 1);
    g = (3 * gap_us + sample + 2) / 4;
  }
  if (g < 1) g = 1;
  return g > AGENT_GATHER_MAX_GAP_US ? AGENT_GATHER_MAX_GAP_US : g;
}
