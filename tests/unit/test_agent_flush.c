/* test_agent_flush.c: the flush policy as pure code, with the clock passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_flush.h"

struct fcase {
  enum agent_flush_mode mode;
  size_t pending, inflight;
  uint64_t oldest, now;
  bool pass_end;
  enum agent_flush_verdict want;
  uint64_t want_deadline;
};

/* window 1000 us, max batch 8 */
static const struct fcase CASES[] = {
    /* nothing queued: nothing to do, whatever else holds */
    {AGENT_FLUSH_IDLE, 0, 0, 0, 5000, true, AGENT_FLUSH_NONE, 0},
    /* idle: the upstream is idle at a pass end -> go now, no window paid */
    {AGENT_FLUSH_IDLE, 1, 0, 100, 100, true, AGENT_FLUSH_NOW, 0},
    /* idle: in the middle of a pass -> wait for the pass to end */
    {AGENT_FLUSH_IDLE, 1, 0, 100, 100, false, AGENT_FLUSH_WAIT, 1100},
    /* idle: a batch is at Redis -> gather until its replies return or the window ends */
    {AGENT_FLUSH_IDLE, 3, 5, 100, 600, true, AGENT_FLUSH_WAIT, 1100},
    {AGENT_FLUSH_IDLE, 3, 5, 100, 1100, true, AGENT_FLUSH_NOW, 0},
    {AGENT_FLUSH_IDLE, 3, 5, 100, 1099, true, AGENT_FLUSH_WAIT, 1100},
    /* max batch reached -> now, in every mode, even mid-pass and with a batch in flight */
    {AGENT_FLUSH_IDLE, 8, 5, 100, 101, false, AGENT_FLUSH_NOW, 0},
    {AGENT_FLUSH_WINDOW, 8, 0, 100, 101, false, AGENT_FLUSH_NOW, 0},
    {AGENT_FLUSH_PASS, 9, 0, 100, 101, false, AGENT_FLUSH_NOW, 0},
    /* pass: every pass end, even with replies outstanding */
    {AGENT_FLUSH_PASS, 1, 5, 100, 100, true, AGENT_FLUSH_NOW, 0},
    {AGENT_FLUSH_PASS, 1, 5, 100, 100, false, AGENT_FLUSH_WAIT, 1100},
    /* window: only the window's end or the size */
    {AGENT_FLUSH_WINDOW, 1, 0, 100, 100, true, AGENT_FLUSH_WAIT, 1100},
    {AGENT_FLUSH_WINDOW, 7, 0, 100, 1100, false, AGENT_FLUSH_NOW, 0},
};

static void test_cases(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    const struct fcase *c = &CASES[i];
    struct agent_flush_cfg cfg = {c->mode, 1000, 8};
    struct agent_flush_state st = {c->pending, c->oldest, c->inflight, c->pass_end};
    uint64_t deadline = 0;
    enum agent_flush_verdict v = agent_flush_decide(&cfg, &st, c->now, &deadline);
    if (v != c->want) fail_msg("case %zu: verdict %d, want %d", i, (int)v, (int)c->want);
    if (v == AGENT_FLUSH_WAIT) assert_int_equal(deadline, c->want_deadline);
  }
}

static void test_window_zero_means_no_wait(void **state) {
  (void)state;
  struct agent_flush_cfg cfg = {AGENT_FLUSH_WINDOW, 0, 512};
  struct agent_flush_state st = {1, 50, 3, false};
  uint64_t d = 0;
  assert_int_equal(agent_flush_decide(&cfg, &st, 50, &d), AGENT_FLUSH_NOW);
}

/* Simulates idle mode against a Redis that answers a batch after rtt us while requests arrive
 * every gap us: batches grow with load, and no request ever waits longer than the window. */
static void test_idle_simulation_bounds_wait(void **state) {
  (void)state;
  struct agent_flush_cfg cfg = {AGENT_FLUSH_IDLE, 300, 512};
  const uint64_t gap = 10, rtt = 100;
  size_t pending = 0, inflight = 0, batches = 0, sent = 0;
  uint64_t oldest = 0, reply_at = 0, max_wait = 0;
  for (uint64_t t = 0; t < 100000; t += gap) {
    if (inflight && t >= reply_at) inflight = 0;
    if (pending++ == 0) oldest = t;
    struct agent_flush_state st = {pending, oldest, inflight, true};
    uint64_t d = 0;
    if (agent_flush_decide(&cfg, &st, t, &d) == AGENT_FLUSH_NOW) {
      if (t - oldest > max_wait) max_wait = t - oldest;
      inflight += pending;
      sent += pending;
      pending = 0;
      batches++;
      reply_at = t + rtt;
    }
  }
  assert_true(max_wait <= cfg.window_us);
  assert_true(sent / batches >= 8); /* about rtt / gap commands per batch */
}

static void test_mode_names(void **state) {
  (void)state;
  enum agent_flush_mode m;
  assert_true(agent_flush_mode_parse("idle", &m) && m == AGENT_FLUSH_IDLE);
  assert_true(agent_flush_mode_parse("pass", &m) && m == AGENT_FLUSH_PASS);
  assert_true(agent_flush_mode_parse("window", &m) && m == AGENT_FLUSH_WINDOW);
  assert_false(agent_flush_mode_parse("IDLE", &m));
  assert_string_equal(agent_flush_mode_name(AGENT_FLUSH_WINDOW), "window");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cases),
      cmocka_unit_test(test_window_zero_means_no_wait),
      cmocka_unit_test(test_idle_simulation_bounds_wait),
      cmocka_unit_test(test_mode_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
