/* job_redact.h: secrets (passwords, the OpenWhisk key) masked as "***" in text before it is
 * stored in results or logged: every error message the runner keeps passes through here. */
#ifndef JOB_REDACT_H
#define JOB_REDACT_H

#include <stddef.h>

/* Replaces every occurrence of each non-empty secret in s by "***" (in place, within size).
 * secrets is NULL-terminated. */
void job_redact(char *s, size_t size, const char *const *secrets);

#endif
