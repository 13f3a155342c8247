/* job_sched.h: the open-loop schedule (pure: no clock, no I/O; callers pass the time).
 *
 * Invocation k is due at start + k/rate (the constant process), or at start + offsets[k] when
 * the schedule has an arrival process's times (job_sched_set_offsets; job_arrival.h), whatever
 * earlier invocations are doing. The caller
 * asks job_sched_next() at time `now` what to do; the answer never depends on how long
 * earlier invocations take, only on the in-flight bound:
 *
 *   now < due(k)                    -> WAIT  (sleep until due(k))
 *   now >= due(k), in_flight < max  -> SEND  k (late when now - due(k) > late_threshold)
 *   now >= due(k), in_flight == max -> FULL  (k is held back; it is sent, late, when a slot
 *                                             frees, and counted in held_by_max_in_flight)
 *   k == total                      -> DONE
 *
 * Latency is measured from due(k) (the intended start), so a held or late start still
 * counts against the system under test (no coordinated omission).
 *
 * Closed loop (job_sched_init_closed, as wrk or redis-benchmark -c): exactly `concurrency`
 * invocations in flight, the next sent as soon as one finishes, until `total` were sent or
 * the end time passed. There is no intended time: due(k) is the send time itself, so nothing
 * is ever late or held. */
#ifndef JOB_SCHED_H
#define JOB_SCHED_H

#include <stdbool.h>
#include <stdint.h>

struct job_sched {
  /* settings */
  uint64_t start_ns;          /* time of invocation 0 (caller's clock) */
  double rate;                /* invocations per second, > 0 (constant process) */
  const uint64_t *offsets;    /* NULL, or intended times (ns from start) of k < total */
  uint64_t total;             /* invocations to schedule */
  uint32_t max_in_flight;     /* >= 1 */
  uint64_t late_threshold_ns; /* a send later than this after its due time is a late start */
  /* state */
  uint64_t next;      /* index of the next invocation to send (k of the unsharded schedule) */
  uint64_t step;      /* 1, or N for shard k mod N (job_sched_shard) */
  uint64_t sent;      /* invocations sent */
  uint32_t in_flight; /* sent and not yet finished */
  uint64_t late;      /* sends later than late_threshold_ns after their due time */
  uint64_t held;      /* invocations that were due while max_in_flight were in flight */
  bool holding;       /* the current `next` is already counted in held */
  bool stopped;       /* job_sched_stop() was called */
  /* closed loop (job_sched_init_closed) */
  bool closed;     /* the next invocation is sent when one finishes; rate unused */
  uint64_t end_ns; /* closed: no send at or after this time (0: bounded by total) */
};

enum job_sched_action { JOB_SCHED_SEND, JOB_SCHED_WAIT, JOB_SCHED_FULL, JOB_SCHED_DONE };

/* Initialises s. rate > 0, max_in_flight >= 1. */
void job_sched_init(struct job_sched *s, uint64_t start_ns, double rate, uint64_t total,
                    uint32_t max_in_flight, uint64_t late_threshold_ns);

/* Takes invocation k's due time from offsets[k] (borrowed; at least total entries,
 * non-decreasing) instead of k/rate. Call right after job_sched_init; sharding still sends
 * k mod count == index at these unsharded times. */
void job_sched_set_offsets(struct job_sched *s, const uint64_t *offsets);

/* Initialises s as a closed loop: concurrency (>= 1) in flight at once, total invocations at
 * most (UINT64_MAX: unbounded), none sent at or after end_ns unless end_ns is 0. Nothing is
 * sent before start_ns. */
void job_sched_init_closed(struct job_sched *s, uint64_t start_ns, uint64_t total,
                           uint32_t concurrency, uint64_t end_ns);

/* Makes s send only shard `index` of `count`: invocations k with k mod count == index, each
 * at its unsharded due time. Call right after job_sched_init (open loop only). */
void job_sched_shard(struct job_sched *s, uint64_t index, uint64_t count);

/* True when nothing is left to send: all sent, stopped, or (closed) the end time passed at
 * the last job_sched_next. */
bool job_sched_finished(const struct job_sched *s);

/* Due time of invocation k: start + k/rate (rounded to the nanosecond), or start + offsets[k]. */
uint64_t job_sched_due(const struct job_sched *s, uint64_t k);

/* What to do at time now. SEND: *k is the invocation to send now and *due its due time (the
 * closed loop: now);
 * the caller sends it and calls job_sched_sent(). WAIT: *wait_ns is the time until the next
 * due time. FULL: wait for a completion. DONE: nothing left to send (or stopped). */
enum job_sched_action job_sched_next(struct job_sched *s, uint64_t now_ns, uint64_t *k,
                                     uint64_t *due_ns, uint64_t *wait_ns);

/* Records that invocation k (as returned by job_sched_next) was sent at now_ns. */
void job_sched_sent(struct job_sched *s, uint64_t now_ns);

/* Records that one in-flight invocation finished. */
void job_sched_done(struct job_sched *s);

/* Stops the schedule: job_sched_next answers DONE from now on. */
void job_sched_stop(struct job_sched *s);

/* Invocations that were planned but never sent (total - next; 0 for a closed loop bounded
 * by time only). */
uint64_t job_sched_unsent(const struct job_sched *s);

#endif
