/* job_container.h: the local target's action instances as OCI containers (action_runtime
 * container; docs/runner.md, "Containers"), run with runc as an invoker node runs them.
 *
 *   prepare (once per run, before the schedule, never timed):
 *     skopeo copy docker://REF (plain HTTP for a loopback registry) or oci:DIR:TAG
 *       -> WORK/image, an OCI layout of the run's own
 *     umoci unpack -> WORK/bundle: rootfs (shared read-only by every container) + config.json
 *   start (each cold start):
 *     cgroup rbench-PID-N/ID in the memory and cpu controllers: the memory limit with swap equal
 *       (action_memory MB, as the invoker's docker --memory and --memory-swap), cpu shares
 *       (OpenWhisk's: 1024 / pool_size, at least 2), a CPU quota (action_cpu cores)
 *     WORK/c/ID/config.json: umoci's, with the image's entrypoint and
 *       --listen 127.0.0.1:PORT --log-level warn [--threads C], the image's user, read-only
 *       root, no capabilities, noNewPrivileges, the host's network namespace,
 *       cgroupsPath rbench-PID-N/ID/ctr
 *     runc --root WORK/state run --bundle WORK/c/ID ID: a child of rbench in a process group of
 *       its own, in the foreground (runc forwards SIGTERM to the action and removes the
 *       container when it exits)
 *
 * The limits live in the container's cgroup (rbench-PID-N/ID), runc's own cgroup inside it, so
 * that the kernel's OOM count there survives runc's removal of its cgroup when the container
 * dies. The CPU of every container ever started is the cpuacct usage of rbench-PID-N. */
#ifndef JOB_CONTAINER_H
#define JOB_CONTAINER_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "job_params.h"
#include "job_probe.h"

struct job_container;

#define JOB_CONTAINER_ID_MAX 64

/* What containers need here: root, runc, skopeo and umoci in PATH, a cgroup filesystem with
 * the memory and cpu controllers. False with err naming everything missing. */
bool job_container_usable(char *err, size_t errlen);

/* Pulls p->action_image into a work directory of its own and unpacks it. pool_size: the
 * invoker's number of containers (for the cpu shares). A failure of skopeo or umoci is
 * JOB_PREFLIGHT_CONFIG with err naming the image, the step and the tool's last words; *stop
 * becoming non-zero meanwhile is JOB_PREFLIGHT_INTERRUPTED. Everything made so far is removed
 * on failure. */
enum job_preflight job_container_prepare(const struct job_params *p, long long pool_size,
                                         volatile sig_atomic_t *stop, struct job_container **out,
                                         char *err, size_t errlen);

/* Starts a container whose action listens on 127.0.0.1:port (threads > 0: --threads); its id
 * goes to id. Returns the pid of its `runc run` (rbench's child), or -1 with err set. */
pid_t job_container_start(struct job_container *c, int port, int threads, char *id, size_t idlen,
                          char *err, size_t errlen);

/* True when container id's memory limit was hit (v2: the OOM killer's count; v1: its usage
 * reached the limit): ask once it died, to tell an OOM kill from another death. */
bool job_container_oom(const struct job_container *c, const char *id);

/* "killed by the kernel's OOM killer at its memory limit of N MB (action_memory)" */
void job_container_oom_text(const struct job_container *c, char *out, size_t len);

/* The last line container id's runc or action wrote (its log), "" when none. */
void job_container_log_tail(const struct job_container *c, const char *id, char *out, size_t len);

/* After its runc was reaped (or killed): force-deletes container id if runc still knows it,
 * removes its cgroup and its bundle directory. */
void job_container_remove(struct job_container *c, const char *id);

/* CPU seconds (user + system) of every container started so far, from the cgroup's cpuacct;
 * NAN when unreadable. */
double job_container_cpu_s(const struct job_container *c);

/* The action_runtime fields of a container run: kind, runtime ("runc 1.1.5"), image, digest,
 * memory_mb, cpu, cpu_shares, network, cgroup. Owned by the caller. */
cJSON *job_container_json(const struct job_container *c);

/* Removes what prepare and every start made: containers runc still knows (killed, deleted),
 * their cgroups, the work directory (image, rootfs, bundles, runc's state). Frees c (NULL:
 * nothing). Call once every runc child has been reaped. */
void job_container_destroy(struct job_container *c);

#endif
