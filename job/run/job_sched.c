/* job_sched.c: open-loop schedule arithmetic (see job_sched.h). */
#include "job_sched.h"

#include <math.h>

void job_sched_init(struct job_sched *s, uint64_t start_ns, double rate, uint64_t total,
                    uint32_t max_in_flight, uint64_t late_threshold_ns) {
  *s = (struct job_sched){.start_ns = start_ns,
                          .rate = rate,
                          .total = total,
                          .step = 1,
                          .max_in_flight = max_in_flight ? max_in_flight : 1,
                          .late_threshold_ns = late_threshold_ns};
}

void job_sched_set_offsets(struct job_sched *s, const uint64_t *offsets) { s->offsets = offsets; }

void job_sched_init_closed(struct job_sched *s, uint64_t start_ns, uint64_t total,
                           uint32_t concurrency, uint64_t end_ns) {
  *s = (struct job_sched){.start_ns = start_ns,
                          .total = total,
                          .step = 1,
                          .max_in_flight = concurrency ? concurrency : 1,
                          .closed = true,
                          .end_ns = end_ns};
}

void job_sched_shard(struct job_sched *s, uint64_t index, uint64_t count) {
  s->next = index;
  s->step = count ? count : 1;
}

bool job_sched_finished(const struct job_sched *s) { return s->stopped || s->next >= s->total; }

uint64_t job_sched_due(const struct job_sched *s, uint64_t k) {
  if (s->offsets && s->total) return s->start_ns + s->offsets[k < s->total ? k : s->total - 1];
  /* k * 1e9 / rate in long double keeps nanosecond accuracy for any realistic k. */
  long double off = (long double)k * 1e9L / (long double)s->rate;
  return s->start_ns + (uint64_t)llroundl(off);
}

/* The closed loop's answer: a free slot is filled now; a full loop waits for a completion,
 * which is not a hold (there is no schedule to fall behind). */
static enum job_sched_action next_closed(struct job_sched *s, uint64_t now_ns, uint64_t *k,
                                         uint64_t *due_ns, uint64_t *wait_ns) {
  if (s->end_ns && now_ns >= s->end_ns) {
    s->stopped = true; /* the duration is over: finished */
    return JOB_SCHED_DONE;
  }
  if (now_ns < s->start_ns) {
    if (wait_ns) *wait_ns = s->start_ns - now_ns;
    return JOB_SCHED_WAIT;
  }
  if (s->in_flight >= s->max_in_flight) return JOB_SCHED_FULL;
  if (k) *k = s->next;
  if (due_ns) *due_ns = now_ns;
  return JOB_SCHED_SEND;
}

enum job_sched_action job_sched_next(struct job_sched *s, uint64_t now_ns, uint64_t *k,
                                     uint64_t *due_ns, uint64_t *wait_ns) {
  if (s->stopped || s->next >= s->total) return JOB_SCHED_DONE;
  if (s->closed) return next_closed(s, now_ns, k, due_ns, wait_ns);
  uint64_t due = job_sched_due(s, s->next);
  if (now_ns < due) {
    if (wait_ns) *wait_ns = due - now_ns;
    return JOB_SCHED_WAIT;
  }
  if (s->in_flight >= s->max_in_flight) {
    if (!s->holding) {
      s->holding = true;
      s->held++;
    }
    return JOB_SCHED_FULL;
  }
  if (k) *k = s->next;
  if (due_ns) *due_ns = due;
  return JOB_SCHED_SEND;
}

void job_sched_sent(struct job_sched *s, uint64_t now_ns) {
  if (!s->closed) {
    uint64_t due = job_sched_due(s, s->next);
    if (now_ns > due && now_ns - due > s->late_threshold_ns) s->late++;
  }
  s->next += s->step;
  s->sent++;
  s->in_flight++;
  s->holding = false;
}

void job_sched_done(struct job_sched *s) {
  if (s->in_flight > 0) s->in_flight--;
}

void job_sched_stop(struct job_sched *s) { s->stopped = true; }

uint64_t job_sched_unsent(const struct job_sched *s) {
  if (s->closed && s->total == UINT64_MAX) return 0;
  if (s->next >= s->total) return 0;
  return (s->total - s->next + s->step - 1) / s->step; /* this shard's k still to send */
}
