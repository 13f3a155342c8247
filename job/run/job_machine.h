/* job_machine.h: the machine's CPU over a run's measured window, from /proc/stat (the
 * `machine_cpu` section of the results document; docs/runner.md, "Sweeps"). A sweep step
 * failed by a saturated machine (every core >= 90% busy) is attributed to the machine.
 *
 *   job_machine_sample (before) ... job_machine_sample (after) ─► job_machine_json */
#ifndef JOB_MACHINE_H
#define JOB_MACHINE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOB_MACHINE_MAX_CPUS 256

/* Busy and total jiffies: the whole machine, then each core. */
struct job_machine_sample {
  bool ok;
  size_t cores;
  uint64_t busy, total;
  uint64_t core_busy[JOB_MACHINE_MAX_CPUS], core_total[JOB_MACHINE_MAX_CPUS];
};

/* Parses /proc/stat's text (pure): busy = user + nice + system + irq + softirq + steal;
 * total adds idle and iowait. False when no "cpu" line is there. */
bool job_machine_parse(const char *text, struct job_machine_sample *out);

/* Reads /proc/stat; out->ok false when it cannot. */
void job_machine_sample(struct job_machine_sample *out);

/* {"cores", "busy_fraction", "min_core_busy_fraction", "max_core_busy_fraction",
 *  "per_core_busy_fraction": [...]} between two samples; NULL when either failed or no time
 * passed. Owned by the caller. */
cJSON *job_machine_json(const struct job_machine_sample *before,
                        const struct job_machine_sample *after);

#endif
