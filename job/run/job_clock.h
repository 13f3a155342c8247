/* job_clock.h: the clock check's probe: what this machine's clock is off by against a
 * server's Date header (the judgement, pure, is job_clock_judge in job_shard.h). */
#ifndef JOB_CLOCK_H
#define JOB_CLOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "job_shard.h"
#include "rb_error.h"

/* Bounds this machine's clock offset against the Date header of url's answers (any HTTP
 * status): JOB_CLOCK_PROBES requests JOB_CLOCK_SPACING_MS apart, each bounding the offset by
 * when its request was sent and its answer began, and by Date's 1-second resolution; the
 * bounds are intersected. cafile: a CA bundle to verify with (NULL: the system's); insecure:
 * no verification. */
#define JOB_CLOCK_PROBES 3
#define JOB_CLOCK_SPACING_MS 500
enum rb_err job_clock_probe(const char *url, const char *cafile, bool insecure,
                            struct job_clock_offset *out, char *err, size_t errlen);

#endif
