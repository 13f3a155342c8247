/* job_progress.c: progress line text. */
#include "job_progress.h"

#include <stdio.h>

void job_progress_format(const struct job_progress *p, const char *label, char *buf, size_t len) {
  if (p->planned == 0) { /* a closed loop for a duration: nothing planned ahead, no ETA */
    snprintf(buf, len, "%s: sent %llu  done %llu  errors %llu  rate %.1f/s  elapsed %.0fs", label,
             (unsigned long long)p->sent, (unsigned long long)p->done,
             (unsigned long long)p->errors, p->elapsed_s > 0 ? (double)p->sent / p->elapsed_s : 0,
             p->elapsed_s);
    return;
  }
  double achieved = p->elapsed_s > 0 ? (double)p->sent / p->elapsed_s : 0;
  double remaining =
      p->rate > 0 && p->planned > p->sent ? (double)(p->planned - p->sent) / p->rate : 0;
  snprintf(buf, len,
           "%s: sent %llu/%llu  done %llu  errors %llu  rate %.1f/s  elapsed %.0fs  ETA %.0fs",
           label, (unsigned long long)p->sent, (unsigned long long)p->planned,
           (unsigned long long)p->done, (unsigned long long)p->errors, achieved, p->elapsed_s,
           remaining);
}
