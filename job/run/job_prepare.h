/* job_prepare.h: the prepare step of a run (docs/workloads.md): before the schedule (and its
 * warm-up) the action writes what the mix's reads need, so that a read never measures a miss
 * it did not ask for.
 *
 *   rb_workload_prepare_needs(w) != 0 and prepare: true
 *     ─► calls of the action, one after the other, each with the run's parameters and
 *        "prepare": true, "prepare_first": F, "prepare_count": C (key numbers [F, F+C)),
 *        at most JOB_PREPARE_CHUNK_ELEMENTS elements per call
 *     ─► each answer must hold "prepared" (rbench-action writes it); any failure stops the run
 *
 * Not timed, not in raw_results, before the server-side samples are taken. */
#ifndef JOB_PREPARE_H
#define JOB_PREPARE_H

#include <signal.h>

#include "job_exit.h"
#include "job_target.h"

#define JOB_PREPARE_CHUNK_ELEMENTS 200000LL

/* Keys per call so that a call writes at most JOB_PREPARE_CHUNK_ELEMENTS elements (at least
 * one key). */
long long job_prepare_keys_per_call(const struct rb_workload *w);

/* Runs the prepare step of params on target t (whose on_done it borrows meanwhile). Nothing
 * to do (prepare false, or a mix without reads): OK at once. Failures: err names the run, the
 * keys and the action's error; UNREACHABLE when the action could not be reached (connect,
 * TLS, timeout, HTTP 5xx or 429), CONFIG when it answered with an error or without
 * "prepared" (an rbench-action older than the prepare step), INTERRUPTED when *stop became
 * non-zero. The action's error is redacted against secrets (NULL-terminated). */
enum job_exit job_prepare_run(struct job_target *t, struct job_http *http,
                              const struct job_params *params, const char *const *secrets,
                              volatile sig_atomic_t *stop, char *err, size_t errlen);

#endif
