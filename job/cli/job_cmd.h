/* job_cmd.h: the subcommands of rbench (argv as after the command name) and what `run` shares
 * with its sweep executor. cli-internal: nothing outside job/cli/ includes it. */
#ifndef JOB_CMD_H
#define JOB_CMD_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job_config.h"
#include "job_exit.h"
#include "job_params.h"
#include "job_runner.h"
#include "job_scenario.h"
#include "job_shard.h"
#include "job_target.h"

/* The subcommands; each returns the process exit code (job_exit.h). self: rbench's own path,
 * to find rbench-action beside it. */
int job_cmd_run(int argc, char **argv, const char *self);
int job_cmd_compare(int argc, char **argv);
int job_cmd_report(int argc, char **argv);
int job_cmd_doctor(int argc, char **argv);
int job_cmd_merge(int argc, char **argv);

/* ---- what `run` and its sweep executor share ---------------------------------------- */

/* The signal that asked the run to stop (SIGINT, SIGTERM), 0 while none has. */
extern volatile sig_atomic_t job_cmd_stop_signal;

struct run_cli {
  const char *scenario_path;
  struct job_params over;       /* explicitly given run knobs */
  struct job_target_conf tover; /* explicitly given target settings */
  const char *output;
  bool output_set;
  const char *env;
  bool env_set;
  long long repetitions;
  long long seed;
  bool seed_set;
  const char *configmap;
  const char *only_runs; /* comma-separated run names, or NULL for all */
  enum job_progress_mode progress;
  bool realtime;
  bool strict; /* unknown REDIS_*, BATCHING_AGENT_*, OPENWHISK_*, RBENCH_* keys are errors */
  const char *shard_text;    /* --shard I/N as given */
  const char *start_at_text; /* --start-at T as given */
  double start_gap_s;        /* --start-gap */
  double clock_tolerance_ms; /* --clock-tolerance-ms */
  struct job_shard shard;    /* resolved: --shard, RBENCH_SHARD, JOB_COMPLETION_INDEX */
  int64_t start_at_us;       /* resolved: --start-at, RBENCH_START_AT, start_at; 0: none */
  const char *inputs[3];     /* the scenario and env files read (NULL-terminated): no output
                                may be one of them */
};

/* One execution of one run: what every plan entry and every sweep step shares. cm: the
 * ConfigMap name (NULL without --results-configmap); sweep: the step's "sweep" field. */
struct one_exec {
  const struct job_params *params;
  long long rep;
  const char *out;
  const char *cm;
  const cJSON *sweep;
  size_t index, count; /* for the log line */
  int64_t start_at_us; /* the agreed start instant, 0: now */
};

/* mkdir -p p; false (said on stderr, naming the component and why) when it cannot. */
bool job_cmd_make_dir(const char *p);
/* Results path for one execution: a file for a single run, else DIR/RUN.json or
 * DIR/RUN/rK.json (DIR = --output without a .json suffix). */
bool job_cmd_output_path(const char *output, const struct job_scenario *sc, size_t run,
                         long long rep, char *out, size_t len);
/* Runs one execution and logs it; returns its exit code. */
enum job_exit job_cmd_run_one(const struct run_cli *c, const struct job_scenario *sc,
                              const struct job_config *cfg, const char *self,
                              const struct one_exec *x);
/* An exit code after which no further execution is started. */
bool job_cmd_fatal_exit(enum job_exit ex);

/* Whether any run of sc is a capacity sweep. */
bool job_cmd_has_sweep(const struct job_scenario *sc);
/* Executes a scenario with sweeps (docs/scenarios.md, "Sweeps"); returns the exit code. */
int job_cmd_sweep_execute(const struct run_cli *c, struct job_scenario *sc,
                          const struct job_config *cfg, const char *self);

#endif
