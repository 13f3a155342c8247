/* agent_hold.c: the gathering hold, the upstream wait's limit and the nap as pure decisions. */
#include "agent_hold.h"

size_t agent_hold_active(size_t this_tick, size_t last_tick) {
  return this_tick > last_tick ? this_tick : last_tick;
}

size_t agent_hold_share(size_t active, size_t nups) { return (active + nups - 1) / nups; }

size_t agent_hold_expected(size_t active) { return active - active / 8; }

uint64_t agent_hold_budget_us(const struct agent_hold_cfg *cfg, size_t active) {
  if (cfg->nap_us == 0) return 0;
  uint64_t grown = cfg->per_client_us * (uint64_t)active;
  return grown > cfg->nap_us ? grown : cfg->nap_us;
}

uint64_t agent_hold_gather_us(const struct agent_hold_cfg *cfg, const struct agent_flush_cfg *flush,
                              const struct agent_hold_state *st, uint64_t now_us) {
  if (cfg->nap_us == 0 || flush->window_us == 0 || flush->mode != AGENT_FLUSH_IDLE) return 0;
  size_t p = st->pending, want = agent_hold_expected(st->active);
  if (st->inflight > 0 || p == 0 || st->holds >= AGENT_HOLD_MAX_HOLDS) return 0;
  if (st->active < cfg->min_outstanding || st->last_batch < 2 || p >= want) return 0;
  if (p >= cfg->max_cmds || p >= flush->max_batch) return 0;
  uint64_t end = st->oldest_us + flush->window_us;
  uint64_t budget_end =
      (st->first_hold_us ? st->first_hold_us : now_us) + agent_hold_budget_us(cfg, st->active);
  if (budget_end < end) end = budget_end;
  if (end <= now_us) return 0;
  uint64_t hold = st->gap_us * (uint64_t)(want - p);
  if (hold > end - now_us) hold = end - now_us;
  return hold < AGENT_HOLD_MIN_US ? 0 : hold;
}

uint64_t agent_hold_learn(uint64_t gap_us, size_t arrived, size_t missing, uint64_t held_us) {
  uint64_t g;
  if (missing == 0) {
    g = gap_us - gap_us / 4; /* everyone came in time: the hold may have been too long */
  } else {
    uint64_t sample = held_us / (arrived > 0 ? arrived : 1);
    g = (3 * gap_us + sample + 2) / 4;
  }
  if (g < 1) g = 1;
  return g > AGENT_HOLD_MAX_GAP_US ? AGENT_HOLD_MAX_GAP_US : g;
}

uint64_t agent_hold_learn_queued(uint64_t gap_us, size_t before, size_t after, size_t active,
                                 uint64_t held_us) {
  size_t want = agent_hold_expected(active);
  return agent_hold_learn(gap_us, after > before ? after - before : 0,
                          after >= want ? 0 : want - after, held_us);
}

uint64_t agent_hold_wait_us(const struct agent_flush_cfg *flush, uint64_t limit, size_t pending,
                            uint64_t oldest_us, uint64_t now_us) {
  if (pending == 0) return limit;
  uint64_t due = oldest_us + flush->window_us;
  if (due <= now_us) return 0;
  return due - now_us < limit ? due - now_us : limit;
}

uint64_t agent_hold_nap_us(const struct agent_hold_cfg *cfg, const struct agent_flush_cfg *flush,
                           unsigned pass_events, size_t pass_cmds, bool pass_full,
                           size_t outstanding) {
  if (cfg->nap_us == 0 || flush->window_us == 0 || pass_events == 0 || pass_full) return 0;
  if (outstanding < cfg->min_outstanding || pass_cmds >= cfg->max_cmds) return 0;
  return cfg->nap_us < flush->window_us ? cfg->nap_us : flush->window_us;
}
