/* job_progress.h: the progress line (pure formatting; the runner decides when to print).
 * On a terminal one line is rewritten a few times a second; in a pod's log a plain line is
 * printed every few seconds. */
#ifndef JOB_PROGRESS_H
#define JOB_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct job_progress {
  uint64_t planned, sent, done, errors;
  double elapsed_s; /* since the start */
  double rate;      /* requested invocations per second */
};

/* "sent 120/1000  done 118  errors 0  rate 10.0/s  elapsed 12s  ETA 88s"; planned 0 (a closed
 * loop for a duration): "sent 120  done 118  errors 0  rate 10.0/s  elapsed 12s" */
void job_progress_format(const struct job_progress *p, const char *label, char *buf, size_t len);

#endif
