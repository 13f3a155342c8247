/* job_started.h: the backend a run starts itself (backend: start, local target only):
 * redis-server and, for placement agent, the layer (rbench-agent or nutcracker), each on a free
 * loopback port, for this run alone (docs/runner.md, "Backend started by the runner").
 *
 *   job_started_start ─► redis-server --port R --bind 127.0.0.1 --save '' --appendonly no
 *        │                 (redis_cpu > 0: in a cgroup with a CPU quota, created first)
 *        ├─► rbench-agent --listen ... --redis 127.0.0.1:R --metrics ... LAYER_ARGS
 *        │   or nutcracker -c DIR/nutcracker.yml (one pool, 127.0.0.1:R:1, redis: true)
 *        └─► each waited for until it listens; the endpoints go into the run's job_config
 *   job_started_begin / job_started_end ─► the "started" section (CPU of each process over
 *        the measured window from /proc/PID/stat, the quota's throttling from cpu.stat)
 *   job_started_stop ─► SIGTERM (SIGKILL after 2 s), reaped; temp dir and cgroup removed
 *
 * What the environment already gives is not started: Redis when REDIS_HOST or REDIS_PORT is
 * set (env file or environment), the layer when BATCHING_AGENT_HOST or _PORT is. The started
 * Redis has no password; a password of the env's Redis reaches a started layer through its
 * environment or a 0600 file, never its command line. The processes run in process groups of
 * their own (a terminal's Ctrl-C is rbench's to handle) and die with rbench
 * (PR_SET_PDEATHSIG). */
#ifndef JOB_STARTED_H
#define JOB_STARTED_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "job_config.h"
#include "job_exit.h"
#include "job_params.h"
#include "job_scenario.h"
#include "job_shard.h"

struct job_started;

/* With params->backend "start": starts what the run needs and cfg does not give, and points
 * cfg at it (redis_host/port, agent_host/port, agent_metrics_url for a started rbench-agent).
 * *out is NULL when nothing was started (backend env, or everything given). Refused (CONFIG)
 * with the openwhisk target, with a shard of several, with redis_cpu and an env Redis, and when
 * redis_cpu cannot be applied (not root, no CPU controller). A program that is missing, exits
 * or does not listen within 10 s is CONFIG too, err naming it and its last stderr lines; what
 * was started before it is stopped. *stop set while waiting: INTERRUPTED. self_exe locates
 * rbench-agent (beside rbench, as rbench-action). */
enum job_exit job_started_start(const struct job_params *p, const struct job_target_conf *tc,
                                const struct job_shard *shard, struct job_config *cfg,
                                const char *self_exe, volatile sig_atomic_t *stop,
                                struct job_started **out, char *err, size_t errlen);

/* The started rbench-agent's /metrics URL, or NULL. */
const char *job_started_metrics_url(const struct job_started *s);

/* The samples before the measured window (CPU, throttling). s may be NULL. */
void job_started_begin(struct job_started *s);

/* After the window: adds "started" to side (the runner's server-side sections); for a layer
 * without metrics (nutcracker) says so in side's "agent" and sets backend_cpu_us_per_op to
 * Redis's plus the layer's /proc CPU per operation. ops: the actions' operations (< 0
 * unknown). s may be NULL (nothing added). */
void job_started_end(struct job_started *s, cJSON *side, double ops);

/* A TCP port free on 127.0.0.1 now (the kernel's pick; another process may take it before
 * the caller's program binds it), or -1. Also the local target's, for its action workers. */
int job_free_loopback_port(void);

/* In a child of rbench between fork and execve, for every program rbench starts (the started
 * backend, the local target's action workers, runc and the container tools): deathsig when
 * rbench dies, a process group of its own (a terminal's Ctrl-C is rbench's to handle; rbench
 * stops it), stdin /dev/null, stdout and stderr to out_fd (-1: /dev/null), no other descriptor
 * of rbench's, no blocked signal, SIGPIPE back to its default. _exit(127) when rbench is
 * already gone. */
void job_child_setup(pid_t parent, int deathsig, int out_fd);

/* User + system CPU seconds of a process so far (/proc/PID/stat, every thread; clock-tick
 * resolution), NAN when it cannot be read. */
double job_proc_cpu_s(pid_t pid);

/* Stops everything started, removes the temp dir and the cgroup, frees s (NULL: nothing). */
void job_started_stop(struct job_started *s);

#endif
