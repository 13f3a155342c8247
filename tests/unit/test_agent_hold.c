/* test_agent_hold.c: the gathering hold, the upstream wait's limit and the nap as pure code,
 * with the clock passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_flush.h"
#include "agent_hold.h"

/* The nap: only after a pass that did something, only with enough commands outstanding,
 * never longer than the window, never when turned off. */
static void test_nap_rules(void **state) {
  (void)state;
  struct agent_flush_cfg fl = {AGENT_FLUSH_IDLE, 1000, 512};
  struct agent_hold_cfg nap = {100, 2, 32, 0};
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 3, 3, false, 10), 100);
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 1, 0, false, 2), 100); /* a pass of replies only */
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 0, 0, false, 10), 0);  /* woken by a timer only */
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 5, 1, false, 1), 0); /* a lone client never waits */
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 5, 0, false, 0), 0);
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 5, 31, false, 40), 100);
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 5, 32, false, 40), 0); /* a heavy pass: go on */
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 1, 0, true, 40), 0);   /* a full read: more waits */
  nap.min_outstanding = 0;
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 5, 0, false, 0), 100);
  nap.nap_us = 0;
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 5, 5, false, 10), 0); /* --nap-us 0: never */
  nap.nap_us = 5000;
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 5, 5, false, 10), 1000); /* capped by the window */
  fl.window_us = 0;
  assert_int_equal(agent_hold_nap_us(&nap, &fl, 5, 5, false, 10), 0); /* --window-us 0 */
}

/* Simulates the loop with naps against a steady stream of commands (one every gap us) and a
 * Redis that answers a batch rtt us after it is written: the nap makes the batches bigger
 * and the wake-ups fewer, and a command never waits in the agent much longer than
 * one nap plus the round trip (here: nap + rtt + one pass). */
static void test_nap_simulation(void **state) {
  (void)state;
  const uint64_t gap = 20, rtt = 40, pass = 5;
  size_t batch_nonap = 0, wakes_nonap = 0;
  for (int with_nap = 0; with_nap < 2; with_nap++) {
    struct agent_flush_cfg fl = {AGENT_FLUSH_IDLE, 1000, 512};
    struct agent_hold_cfg nap = {with_nap ? 100 : 0, 2, 32, 0};
    uint64_t t = 0, next_cmd = 0, reply_at = UINT64_MAX, oldest = 0, max_wait = 0;
    size_t pending = 0, inflight = 0, sent = 0, batches = 0, wakes = 0;
    while (t < 200000) {
      /* wake at the next event (no nap) or after the nap */
      uint64_t ev = next_cmd < reply_at ? next_cmd : reply_at;
      if (ev > t) t = ev;
      wakes++;
      unsigned events = 0;
      size_t cmds = 0;
      while (next_cmd <= t) {
        cmds++;
        if (pending++ == 0) oldest = next_cmd;
        next_cmd += gap;
        events++;
      }
      if (reply_at <= t) {
        inflight = 0;
        reply_at = UINT64_MAX;
        events++;
      }
      t += pass;
      struct agent_flush_state st = {pending, oldest, inflight, true};
      uint64_t d = 0;
      if (agent_flush_decide(&fl, &st, t, &d) == AGENT_FLUSH_NOW) {
        if (t - oldest > max_wait) max_wait = t - oldest;
        inflight = pending;
        sent += pending;
        pending = 0;
        batches++;
        reply_at = t + rtt;
      }
      t += agent_hold_nap_us(&nap, &fl, events, cmds, false, pending + inflight);
    }
    size_t per_batch = sent / batches;
    if (!with_nap) {
      batch_nonap = per_batch;
      wakes_nonap = wakes;
      continue;
    }
    assert_true(per_batch >= 2 * batch_nonap);
    assert_true(wakes * 2 <= wakes_nonap);
    assert_true(max_wait <= nap.nap_us + rtt + 2 * pass);
  }
}

/* The gathering hold: only at an idle upstream, only with many active clients, until nearly
 * all of them are back, never past nap_us from the first hold nor past the window. */
static void test_gather_rules(void **state) {
  (void)state;
  struct agent_flush_cfg fl = {AGENT_FLUSH_IDLE, 1000, 512};
  struct agent_hold_cfg nap = {200, 8, 32, 0};
  /* 50 active clients, 5 back, a gap of 10 us: 44 - 5 = 39 more expected, 390 us -> nap */
  struct agent_hold_state st = {
      .pending = 5, .inflight = 0, .last_batch = 30, .active = 50, .gap_us = 10, .oldest_us = 1000};
  assert_int_equal(agent_hold_expected(50), 44);
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 200);
  st.gap_us = 2; /* 39 * 2 = 78 us */
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 78);
  st.gap_us = 10;
  /* not at an idle upstream, or nothing queued: no hold */
  st.inflight = 3;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 0);
  st.inflight = 0;
  st.pending = 0;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 0);
  st.pending = 5;
  /* few active clients: they never wait */
  st.active = 7;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 0);
  st.active = 50;
  /* no sign of concurrency in the last batch */
  st.last_batch = 1;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 0);
  st.last_batch = 30;
  /* nearly everyone back, or a batch big enough already */
  st.pending = 44;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 0);
  st.pending = 32;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 0);
  st.pending = 31; /* 13 more expected, 130 us */
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 130);
  st.pending = 5;
  /* the budget: nap_us from the first hold of this batch, then the holds' count */
  st.first_hold_us = 1000;
  st.holds = 1;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1150), 50);
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1197), 0); /* 3 us: not worth it */
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1250), 0);
  st.holds = AGENT_HOLD_MAX_HOLDS;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1010), 0);
  st.holds = 0;
  st.first_hold_us = 0;
  /* never past the oldest command's window */
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1900), 100);
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 2000), 0);
  /* --nap-us 0, --window-us 0, other flush modes: never */
  nap.nap_us = 0;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 0);
  nap.nap_us = 200;
  fl.mode = AGENT_FLUSH_PASS;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 0);
  fl.mode = AGENT_FLUSH_IDLE;
  fl.window_us = 0;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 0);
}

static void test_gather_learn(void **state) {
  (void)state;
  /* everyone came: the hold was long enough, perhaps too long -> shorter next time */
  assert_int_equal(agent_hold_learn(40, 10, 0, 100), 30);
  assert_int_equal(agent_hold_learn(1, 10, 0, 100), 1);
  /* some still missing: towards held / arrived (100 / 4 = 25) */
  assert_int_equal(agent_hold_learn(10, 4, 3, 100), 14);
  /* nobody came: towards the whole hold, capped */
  assert_int_equal(agent_hold_learn(10, 0, 3, 200), 58);
  assert_int_equal(agent_hold_learn(AGENT_HOLD_MAX_GAP_US, 0, 3, 100000), AGENT_HOLD_MAX_GAP_US);
}

/* A closed loop like redis-benchmark -P 1: n clients, each sending its next command after
 * its reply; the clients answered together come back one every `step` us (one client
 * process handles them in turn). Redis answers a batch rtt us after it is written. The agent
 * waits on Redis while a batch is there (the upstream wait) and decides at an idle upstream
 * with agent_hold_gather_us / agent_hold_learn. */
struct gsim {
  size_t batches, cmds, holds;
  uint64_t max_wait, total_wait;
};

static struct gsim gather_sim(size_t n, uint64_t nap_us, uint64_t per_client_us, uint64_t step,
                              uint64_t rtt) {
  enum { MAXC = 256 };
  const uint64_t pass = 5, end = 300000;
  struct agent_flush_cfg fl = {AGENT_FLUSH_IDLE, 1000, 512};
  struct agent_hold_cfg nap = {nap_us, 8, 32, per_client_us};
  uint64_t next[MAXC] = {0}, arrived[MAXC] = {0};
  bool queued[MAXC] = {false}, at_redis[MAXC] = {false};
  for (size_t i = 0; i < n; i++) next[i] = i * step;
  struct gsim r = {0};
  uint64_t t = 0, reply_at = UINT64_MAX, gap = AGENT_HOLD_GAP0_US, oldest = 0;
  size_t pending = 0, inflight = 0, last_batch = 0, holds = 0;
  uint64_t first_hold = 0;
  while (t < end) {
    if (inflight > 0) { /* the upstream wait: only Redis's replies wake the agent */
      t = reply_at + pass;
      size_t rank = 0;
      for (size_t i = 0; i < n; i++)
        if (at_redis[i]) {
          at_redis[i] = false;
          next[i] = t + ++rank * step;
        }
      inflight = 0;
    } else if (pending == 0) { /* idle: the first command wakes it */
      uint64_t first = UINT64_MAX;
      for (size_t i = 0; i < n; i++)
        if (!queued[i] && !at_redis[i] && next[i] < first) first = next[i];
      t = first + pass;
    }
    for (;;) {
      for (size_t i = 0; i < n; i++) /* read what has come in */
        if (!queued[i] && !at_redis[i] && next[i] <= t) {
          queued[i] = true;
          arrived[i] = next[i];
          if (pending++ == 0) oldest = next[i];
        }
      struct agent_hold_state st = {pending, inflight, last_batch, n,
                                    gap,     oldest,   first_hold, (unsigned)holds};
      uint64_t hold = agent_hold_gather_us(&nap, &fl, &st, t);
      if (hold == 0) break;
      if (holds++ == 0) first_hold = t;
      r.holds++;
      size_t before = pending;
      t += hold + pass;
      size_t after = before;
      for (size_t i = 0; i < n; i++)
        if (!queued[i] && !at_redis[i] && next[i] <= t) after++;
      size_t want = agent_hold_expected(n);
      gap = agent_hold_learn(gap, after - before, after >= want ? 0 : want - after, hold + pass);
    }
    for (size_t i = 0; i < n; i++) /* flush */
      if (queued[i]) {
        queued[i] = false;
        at_redis[i] = true;
        uint64_t w = t - arrived[i];
        r.total_wait += w;
        if (w > r.max_wait) r.max_wait = w;
      }
    r.batches++;
    r.cmds += pending;
    last_batch = inflight = pending;
    pending = holds = 0;
    first_hold = 0;
    reply_at = t + rtt;
  }
  return r;
}

static void test_gather_simulation(void **state) {
  (void)state;
  /* 50 clients: batches grow at least 2x; a command waits at most the round trip (it came
   * while a batch was at Redis) plus the nap (with its passes) */
  struct gsim no = gather_sim(50, 0, 0, 12, 60), yes = gather_sim(50, 200, 0, 12, 60);
  assert_int_equal(no.holds, 0);
  assert_true(yes.holds > 0);
  assert_true(yes.cmds / yes.batches >= 2 * (no.cmds / no.batches));
  assert_true(yes.max_wait <= 60 + 200 + 4 * 5 * AGENT_HOLD_MAX_HOLDS);
  /* 4 clients (fewer than --nap-min-outstanding): exactly the same as without the nap */
  struct gsim few0 = gather_sim(4, 0, 0, 12, 60), few = gather_sim(4, 200, 2, 12, 60);
  assert_int_equal(few.holds, 0);
  assert_int_equal(few.batches, few0.batches);
  assert_int_equal(few.max_wait, few0.max_wait);
  /* 16 quick clients: the learnt gap keeps the holds short, far below the nap */
  struct gsim mid = gather_sim(16, 200, 0, 3, 60);
  assert_true(mid.holds > 0);
  assert_true(mid.total_wait / mid.cmds < 60);
  /* 50 clients, 2 us per client: the budget stays --nap-us (50 * 2 < 100), same batches */
  struct gsim c50 = gather_sim(50, 100, 0, 12, 60), c50pc = gather_sim(50, 100, 2, 12, 60);
  assert_int_equal(c50pc.batches, c50.batches);
  assert_int_equal(c50pc.max_wait, c50.max_wait);
  /* 200 clients: with a fixed 100 us budget the batches stay small; with 2 us per client
   * (400 us) they grow at least 1.5x (63 -> 101 commands here), and a command still waits at
   * most the round trip plus that budget (with its passes) */
  struct gsim fixed = gather_sim(200, 100, 0, 12, 60), grown = gather_sim(200, 100, 2, 12, 60);
  assert_true(2 * (grown.cmds / grown.batches) >= 3 * (fixed.cmds / fixed.batches));
  assert_true(fixed.max_wait <= 60 + 100 + 4 * 5 * AGENT_HOLD_MAX_HOLDS);
  assert_true(grown.max_wait <= 60 + 400 + 4 * 5 * AGENT_HOLD_MAX_HOLDS);
  assert_true(grown.max_wait > 60 + 100);
}

/* The budget: --nap-us, or --nap-us-per-client per active client when that is more. */
static void test_gather_budget(void **state) {
  (void)state;
  struct agent_hold_cfg nap = {100, 8, 32, 2};
  assert_int_equal(agent_hold_budget_us(&nap, 8), 100);
  assert_int_equal(agent_hold_budget_us(&nap, 50), 100);
  assert_int_equal(agent_hold_budget_us(&nap, 51), 102);
  assert_int_equal(agent_hold_budget_us(&nap, 200), 400);
  nap.per_client_us = 0;
  assert_int_equal(agent_hold_budget_us(&nap, 500), 100);
  nap.nap_us = 0; /* holds off, whatever the clients */
  nap.per_client_us = 2;
  assert_int_equal(agent_hold_budget_us(&nap, 500), 0);
  /* 200 active, 5 back, a gap of 10 us: 170 missing, 1700 us wanted, 400 allowed */
  struct agent_flush_cfg fl = {AGENT_FLUSH_IDLE, 1000, 512};
  struct agent_hold_state st = {
      .pending = 5, .last_batch = 30, .active = 200, .gap_us = 10, .oldest_us = 1000};
  nap.nap_us = 100;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 400);
  /* from the first hold, and never past the oldest command's window */
  st.first_hold_us = 1000;
  st.holds = 1;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1300), 100);
  st.oldest_us = 350; /* its window ends at 1350 */
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1300), 50);
  /* 1000 active: the window (1000 us) is the bound, not 2000 us */
  st.active = 1000;
  st.oldest_us = 1000;
  st.first_hold_us = 0;
  st.holds = 0;
  assert_int_equal(agent_hold_gather_us(&nap, &fl, &st, 1000), 1000);
}

/* Active clients: the larger count of the two ticks; each upstream expects its share,
 * rounded up, so a hold never waits for fewer clients than it has. */
static void test_active_and_share(void **state) {
  (void)state;
  assert_int_equal(agent_hold_active(3, 7), 7);
  assert_int_equal(agent_hold_active(7, 3), 7);
  assert_int_equal(agent_hold_active(0, 0), 0);
  assert_int_equal(agent_hold_share(50, 1), 50);
  assert_int_equal(agent_hold_share(50, 2), 25);
  assert_int_equal(agent_hold_share(51, 2), 26);
  assert_int_equal(agent_hold_share(1, 4), 1);
  assert_int_equal(agent_hold_share(0, 3), 0);
  assert_int_equal(agent_hold_expected(8), 7);
  assert_int_equal(agent_hold_expected(7), 7);
  assert_int_equal(agent_hold_expected(0), 0);
}

/* Learning from the queue before and after a hold: the same as agent_hold_learn with the
 * commands that came and the ones still expected; a queue that shrank (a full batch left
 * during the hold) counts as nobody came. */
static void test_learn_queued(void **state) {
  (void)state;
  /* 50 active: 44 expected; 50 queued after the hold: everyone came -> shorter */
  assert_int_equal(agent_hold_learn_queued(40, 5, 50, 50, 100), 30);
  assert_int_equal(agent_hold_learn_queued(40, 5, 44, 50, 100), 30);
  /* 4 came, 35 missing: towards 100 / 4 */
  assert_int_equal(agent_hold_learn_queued(10, 5, 9, 50, 100), agent_hold_learn(10, 4, 35, 100));
  assert_int_equal(agent_hold_learn_queued(10, 5, 9, 50, 100), 14);
  /* the queue shrank: nobody came, towards the whole hold */
  assert_int_equal(agent_hold_learn_queued(10, 9, 5, 50, 200), 58);
  /* capped */
  assert_int_equal(agent_hold_learn_queued(AGENT_HOLD_MAX_GAP_US, 0, 0, 500, 100000),
                   AGENT_HOLD_MAX_GAP_US);
}

/* The upstream wait's limit: never past a queued command's window, unchanged by an upstream
 * with nothing queued, 0 once a window has ended. */
static void test_wait_limit(void **state) {
  (void)state;
  struct agent_flush_cfg fl = {AGENT_FLUSH_IDLE, 1000, 512};
  assert_int_equal(agent_hold_wait_us(&fl, 1000, 0, 0, 5000), 1000); /* nothing queued */
  assert_int_equal(agent_hold_wait_us(&fl, 1000, 3, 100, 600), 500);
  assert_int_equal(agent_hold_wait_us(&fl, 300, 3, 100, 600), 300); /* an earlier bound */
  assert_int_equal(agent_hold_wait_us(&fl, 1000, 3, 100, 1099), 1);
  assert_int_equal(agent_hold_wait_us(&fl, 1000, 3, 100, 1100), 0); /* the window has ended */
  assert_int_equal(agent_hold_wait_us(&fl, 1000, 3, 100, 5000), 0);
  /* several upstreams, as the loop chains them: the earliest window wins */
  const size_t pending[3] = {0, 2, 7};
  const uint64_t oldest[3] = {0, 700, 400};
  uint64_t limit = fl.window_us;
  for (int i = 0; i < 3 && limit > 0; i++)
    limit = agent_hold_wait_us(&fl, limit, pending[i], oldest[i], 1000);
  assert_int_equal(limit, 400);
  /* every start inside a window: the wait ends by the window's end */
  for (uint64_t now = 100; now < 1100; now += 7) {
    uint64_t w = agent_hold_wait_us(&fl, fl.window_us, 1, 100, now);
    assert_true(w > 0);
    assert_true(now + w <= 1100);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nap_rules),        cmocka_unit_test(test_nap_simulation),
      cmocka_unit_test(test_gather_rules),     cmocka_unit_test(test_gather_learn),
      cmocka_unit_test(test_gather_budget),    cmocka_unit_test(test_gather_simulation),
      cmocka_unit_test(test_active_and_share), cmocka_unit_test(test_learn_queued),
      cmocka_unit_test(test_wait_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
