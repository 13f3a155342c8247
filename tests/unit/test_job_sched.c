/* test_job_sched.c: the open-loop schedule with a fake clock: intended times, late starts,
 * the max-in-flight bound, stop and unsent counts; the closed loop: exactly N in flight, the
 * next sent at a completion, bounded by invocations or by time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "job_sched.h"

#define MS 1000000ull

static void test_due_times(void **state) {
  (void)state;
  struct job_sched s;
  job_sched_init(&s, 5 * MS, 10.0, 100, 10, MS);
  assert_int_equal(job_sched_due(&s, 0), 5 * MS);
  assert_int_equal(job_sched_due(&s, 1), 105 * MS);
  assert_int_equal(job_sched_due(&s, 99), 5 * MS + 9900 * MS);
  /* A rate that does not divide a second: 3/s -> 333.333 ms, rounded to the nanosecond. */
  job_sched_init(&s, 0, 3.0, 10, 1, MS);
  assert_int_equal(job_sched_due(&s, 1), 333333333ull);
  assert_int_equal(job_sched_due(&s, 3), 1000000000ull);
  /* Large k keeps nanosecond accuracy (no drift): invocation 1e9 at 5000/s is at 200000 s. */
  job_sched_init(&s, 0, 5000.0, 2000000000ull, 1, MS);
  assert_int_equal(job_sched_due(&s, 1000000000ull), 200000ull * 1000000000ull);
}

static void test_open_loop_ignores_slow_replies(void **state) {
  (void)state;
  struct job_sched s;
  uint64_t k = 99, due = 0, wait = 0;
  job_sched_init(&s, 0, 10.0, 3, 100, MS);
  assert_int_equal(job_sched_next(&s, 0, &k, &due, &wait), JOB_SCHED_SEND);
  assert_int_equal(k, 0);
  job_sched_sent(&s, 0);
  /* Nothing finished, yet k=1 is due at 100 ms: wait 60 ms at t=40 ms, send at 100 ms. */
  assert_int_equal(job_sched_next(&s, 40 * MS, &k, &due, &wait), JOB_SCHED_WAIT);
  assert_int_equal(wait, 60 * MS);
  assert_int_equal(job_sched_next(&s, 100 * MS, &k, &due, &wait), JOB_SCHED_SEND);
  assert_int_equal(k, 1);
  assert_int_equal(due, 100 * MS);
  job_sched_sent(&s, 100 * MS);
  assert_int_equal(s.in_flight, 2);
  assert_int_equal(s.late, 0);
  /* Sent 1.5 ms after its due time: a late start (threshold 1 ms). */
  assert_int_equal(job_sched_next(&s, 201500000ull, &k, &due, &wait), JOB_SCHED_SEND);
  job_sched_sent(&s, 201500000ull);
  assert_int_equal(s.late, 1);
  assert_int_equal(job_sched_next(&s, 300 * MS, &k, &due, &wait), JOB_SCHED_DONE);
  assert_int_equal(job_sched_unsent(&s), 0);
}

static void test_late_threshold_is_exclusive(void **state) {
  (void)state;
  struct job_sched s;
  job_sched_init(&s, 0, 1.0, 2, 10, MS);
  job_sched_sent(&s, MS); /* exactly 1 ms late: on time */
  assert_int_equal(s.late, 0);
  job_sched_sent(&s, 1000 * MS + MS + 1);
  assert_int_equal(s.late, 1);
}

static void test_max_in_flight_holds_and_counts(void **state) {
  (void)state;
  struct job_sched s;
  uint64_t k = 0, due = 0, wait = 0;
  job_sched_init(&s, 0, 10.0, 5, 2, MS);
  assert_int_equal(job_sched_next(&s, 0, &k, &due, &wait), JOB_SCHED_SEND);
  job_sched_sent(&s, 0);
  assert_int_equal(job_sched_next(&s, 100 * MS, &k, &due, &wait), JOB_SCHED_SEND);
  job_sched_sent(&s, 100 * MS);
  /* k=2 is due at 200 ms but two are in flight: held, counted once however often we ask. */
  assert_int_equal(job_sched_next(&s, 200 * MS, &k, &due, &wait), JOB_SCHED_FULL);
  assert_int_equal(job_sched_next(&s, 220 * MS, &k, &due, &wait), JOB_SCHED_FULL);
  assert_int_equal(s.held, 1);
  job_sched_done(&s);
  /* Sent when the slot frees, 50 ms late; its intended time stays 200 ms. */
  assert_int_equal(job_sched_next(&s, 250 * MS, &k, &due, &wait), JOB_SCHED_SEND);
  assert_int_equal(k, 2);
  assert_int_equal(due, 200 * MS);
  job_sched_sent(&s, 250 * MS);
  assert_int_equal(s.late, 1);
  /* k=3 due at 300 ms: full again (2 in flight) -> a second held invocation. */
  assert_int_equal(job_sched_next(&s, 300 * MS, &k, &due, &wait), JOB_SCHED_FULL);
  assert_int_equal(s.held, 2);
}

static void test_stop_reports_unsent(void **state) {
  (void)state;
  struct job_sched s;
  uint64_t k = 0, due = 0, wait = 0;
  job_sched_init(&s, 0, 100.0, 10, 10, MS);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(job_sched_next(&s, (uint64_t)i * 10 * MS, &k, &due, &wait), JOB_SCHED_SEND);
    job_sched_sent(&s, (uint64_t)i * 10 * MS);
  }
  job_sched_stop(&s);
  assert_int_equal(job_sched_next(&s, 40 * MS, &k, &due, &wait), JOB_SCHED_DONE);
  assert_int_equal(job_sched_unsent(&s), 6);
  assert_int_equal(s.in_flight, 4);
}

static void test_burst_catch_up_after_stall(void **state) {
  (void)state;
  /* The caller stalls for 1 s at 100/s: 100 invocations are due at once and all are sent
   * immediately (no dropping), each late, each with its own intended time. */
  struct job_sched s;
  uint64_t k = 0, due = 0, wait = 0, sent = 0;
  job_sched_init(&s, 0, 100.0, 1000, 1000, MS);
  while (job_sched_next(&s, 990 * MS, &k, &due, &wait) == JOB_SCHED_SEND) {
    assert_int_equal(due, k * 10 * MS);
    job_sched_sent(&s, 990 * MS);
    sent++;
  }
  assert_int_equal(sent, 100);
  assert_int_equal(s.late, 99); /* all but k=99, which is exactly on time */
  assert_int_equal(wait, 10 * MS);
}

static void test_closed_loop_keeps_n_in_flight(void **state) {
  (void)state;
  struct job_sched s;
  uint64_t k = 99, due = 0, wait = 0;
  job_sched_init_closed(&s, 10 * MS, 5, 2, 0);
  /* Nothing before the start. */
  assert_int_equal(job_sched_next(&s, 4 * MS, &k, &due, &wait), JOB_SCHED_WAIT);
  assert_int_equal(wait, 6 * MS);
  /* Two slots fill at once, each "due" at its send time. */
  for (uint64_t i = 0; i < 2; i++) {
    assert_int_equal(job_sched_next(&s, 10 * MS, &k, &due, &wait), JOB_SCHED_SEND);
    assert_int_equal(k, i);
    assert_int_equal(due, 10 * MS);
    job_sched_sent(&s, 10 * MS);
  }
  /* Full however long it waits: no hold, no late start, no time-based send. */
  assert_int_equal(job_sched_next(&s, 5000 * MS, &k, &due, &wait), JOB_SCHED_FULL);
  assert_int_equal(job_sched_next(&s, 9000 * MS, &k, &due, &wait), JOB_SCHED_FULL);
  assert_int_equal(s.held, 0);
  /* A completion frees one slot: the next goes out at that moment, due then. */
  job_sched_done(&s);
  assert_int_equal(job_sched_next(&s, 9001 * MS, &k, &due, &wait), JOB_SCHED_SEND);
  assert_int_equal(k, 2);
  assert_int_equal(due, 9001 * MS);
  job_sched_sent(&s, 9001 * MS);
  assert_int_equal(job_sched_next(&s, 9001 * MS, &k, &due, &wait), JOB_SCHED_FULL);
  assert_int_equal(s.late, 0);
  assert_int_equal(s.in_flight, 2);
  /* Bounded by total: after five sends, done (and none unsent). */
  job_sched_done(&s);
  job_sched_done(&s);
  while (job_sched_next(&s, 9002 * MS, &k, &due, &wait) == JOB_SCHED_SEND)
    job_sched_sent(&s, 9002 * MS);
  assert_int_equal(s.next, 5);
  assert_true(job_sched_finished(&s));
  assert_int_equal(job_sched_unsent(&s), 0);
}

static void test_closed_loop_ends_at_its_duration(void **state) {
  (void)state;
  struct job_sched s;
  uint64_t k = 0, due = 0, wait = 0;
  job_sched_init_closed(&s, 0, UINT64_MAX, 3, 1000 * MS);
  uint64_t t = 0;
  /* Completions every millisecond: three sent at t=0, then one per completion. */
  while (job_sched_next(&s, t, &k, &due, &wait) == JOB_SCHED_SEND) job_sched_sent(&s, t);
  assert_int_equal(s.next, 3);
  for (t = 1 * MS; t < 1000 * MS; t += MS) {
    job_sched_done(&s);
    assert_int_equal(job_sched_next(&s, t, &k, &due, &wait), JOB_SCHED_SEND);
    job_sched_sent(&s, t);
  }
  assert_false(job_sched_finished(&s));
  job_sched_done(&s);
  /* At the end time nothing more is sent, whatever slots are free. */
  assert_int_equal(job_sched_next(&s, 1000 * MS, &k, &due, &wait), JOB_SCHED_DONE);
  assert_true(job_sched_finished(&s));
  assert_int_equal(s.next, 3 + 999);
  assert_int_equal(job_sched_unsent(&s), 0);
  assert_int_equal(s.late + s.held, 0);
}

static void test_closed_loop_stop(void **state) {
  (void)state;
  struct job_sched s;
  uint64_t k = 0, due = 0, wait = 0;
  job_sched_init_closed(&s, 0, 10, 4, 0);
  while (job_sched_next(&s, 0, &k, &due, &wait) == JOB_SCHED_SEND) job_sched_sent(&s, 0);
  job_sched_stop(&s);
  job_sched_done(&s);
  assert_int_equal(job_sched_next(&s, MS, &k, &due, &wait), JOB_SCHED_DONE);
  assert_int_equal(job_sched_unsent(&s), 6);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_due_times),
      cmocka_unit_test(test_open_loop_ignores_slow_replies),
      cmocka_unit_test(test_late_threshold_is_exclusive),
      cmocka_unit_test(test_max_in_flight_holds_and_counts),
      cmocka_unit_test(test_stop_reports_unsent),
      cmocka_unit_test(test_burst_catch_up_after_stall),
      cmocka_unit_test(test_closed_loop_keeps_n_in_flight),
      cmocka_unit_test(test_closed_loop_ends_at_its_duration),
      cmocka_unit_test(test_closed_loop_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
