/* job_exit.h: rbench's process exit codes, which every layer returns (docs/runner.md). */
#ifndef JOB_EXIT_H
#define JOB_EXIT_H

enum job_exit {
  JOB_EXIT_OK = 0,
  JOB_EXIT_FAILURE = 1,     /* I/O error, results not written */
  JOB_EXIT_CONFIG = 2,      /* bad flags, scenario or configuration */
  JOB_EXIT_UNREACHABLE = 3, /* the target (OpenWhisk, Redis, agent) cannot be reached */
  JOB_EXIT_INTERRUPTED = 4  /* stopped by a signal; partial results written */
};

#endif
