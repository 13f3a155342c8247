/* job_reuse.h: key reuse, the coalescing opportunity of a workload (pure: no I/O).
 *
 * The run's measured invocations are drawn again in order (rb_workload_draw: invocation k,
 * operation j, exactly what the actions drew), and every key reference (a key is its
 * namespace and number; each key of a multi-key command is a reference of its own) is
 * checked against the keys of the previous W operations: "repeated" for window W is the
 * fraction of references whose key was used by one of the W operations before (not counting
 * the operation's own other keys). Windows of 16, 128 and 1024 operations: about what a batch
 * of the agent could fold. At most JOB_REUSE_MAX_OPS operations and JOB_REUSE_MAX_KEYS key
 * references are drawn (the first ones); the sample size is reported. */
#ifndef JOB_REUSE_H
#define JOB_REUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "rb_error.h"
#include "rb_workload.h"

#define JOB_REUSE_WINDOWS 3
#define JOB_REUSE_MAX_OPS 2000000ull
#define JOB_REUSE_MAX_KEYS 2000000ull
extern const unsigned job_reuse_window_ops[JOB_REUSE_WINDOWS]; /* 16, 128, 1024 */

struct job_key_reuse {
  uint64_t first_invocation, invocations; /* the invocations drawn: [first, first + n) */
  uint64_t operations, keys;              /* operations and key references sampled */
  bool truncated;                         /* the limits cut the sample short */
  double repeated[JOB_REUSE_WINDOWS];     /* fractions of keys (0 when none) */
};

/* Draws invocations [first, first + count) of w (checked by rb_workload_check). RB_ERR_NOMEM
 * when the table of keys cannot be allocated. */
enum rb_err job_key_reuse_compute(const struct rb_workload *w, uint64_t first, uint64_t count,
                                  struct job_key_reuse *out);

#endif
