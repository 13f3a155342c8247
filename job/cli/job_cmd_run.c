/* job_cmd_run.c: `rbench run`: options, the scenario and its plan, output paths, signals, the
 * shard and clock checks, then one execution after another (sweeps: job_cmd_sweep.c). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_arrival.h"
#include "job_cli.h"
#include "job_cmd.h"
#include "job_clock.h"
#include "job_config.h"
#include "job_k8s.h"
#include "job_output.h"
#include "job_runner.h"
#include "job_scenario.h"
#include "job_shard.h"
#include "job_sweep.h"
#include "job_target.h"
#include "rb_log.h"
#include "rb_name.h"
#include "rb_str.h"
#include "rb_version.h"

volatile sig_atomic_t job_cmd_stop_signal;

static void on_signal(int sig) { job_cmd_stop_signal = sig; }

static void usage_run(FILE *out) {
  fprintf(
      out,
      "Usage: rbench run [options]            (also: rbench [options])\n"
      "\n"
      "Invokes the action at a fixed rate (open loop) and writes one results document per run.\n"
      "\n"
      "  -f, --scenario FILE.yaml  runs, defaults and target from a scenario (docs/scenarios.md)\n"
      "      --runs NAME[,NAME]    only these runs of the scenario\n"
      "      --target KIND         local (rbench-action processes here) or openwhisk (default "
      "local)\n"
      "      --action NAME         OpenWhisk action [pkg/]name (redis_benchmark/redis_benchmark)\n"
      "      --rate N              invocations per second (10)\n"
      "      --invocations N       how many (100)\n"
      "      --duration SECONDS    run for this long instead (invocations = rate x duration)\n"
      "      --warmup SECONDS      invocations in the first SECONDS are kept out of the "
      "statistics\n"
      "      --ops N               Redis operations per invocation (10)\n"
      "      --operation OP        one operation for every call (set); docs/workloads.md\n"
      "      --mix OP:W[,OP:W]     a weighted mix instead, e.g. get:80,set:20: set get del\n"
      "                            exists incr mget mset hset hget hgetall lpush lrange sadd\n"
      "                            smembers zadd zrangebyscore eval\n"
      "      --key-distribution D  sequential (the seed's), uniform, zipfian, hotspot, gaussian\n"
      "      --zipf-exponent S     zipfian skew (0.99); --hotspot-keys F, --hotspot-ops F (0.2,\n"
      "                            0.8); --gaussian-stddev F (1/6 of the key space)\n"
      "      --value-size-range MIN-MAX, --value-size-list SIZE:W[,SIZE:W]  value sizes\n"
      "      --keys-per-command N  mget/mset width (10); --structure-size N (100),\n"
      "                            --range-span N (10), --script-work N (eval loop, 1000)\n"
      "      --prepare BOOL        write what reads need before measuring (true)\n"
      "      --arrival P           constant (default), poisson, bursts or trace\n"
      "      --burst-rate N, --burst-seconds S, --base-seconds S  bursts: N/s for S, then\n"
      "                            --rate for the base seconds\n"
      "      --trace-file F, --trace-format azure|timestamps, --trace-rows R,\n"
      "      --trace-minutes A-B, --trace-spread poisson|constant, --trace-speedup X\n"
      "      --batching            go through the batching agent (= --placement agent)\n"
      "      --placement P         direct, runtime (the action process batches) or agent\n"
      "      --action-concurrency C  activations one action process serves at once (1)\n"
      "      --batch-connections N, --batch-wait-us US, --batch-coalesce BOOL  runtime\n"
      "                            batching: shared connections (1), bounded wait (0), coalescing\n"
      "      --backend env|start   local: start redis-server and the layer for the run (env)\n"
      "      --layer rbench-agent|nutcracker, --layer-args \"FLAGS\", --redis-cpu F  what\n"
      "                            --backend start runs (docs/placements.md)\n"
      "      --action-runtime process|container  local: each action instance a process\n"
      "                            (default) or a runc container of --action-image\n"
      "      --action-image REF    HOST:PORT/NAME:TAG (pulled with skopeo) or oci:DIR:TAG\n"
      "      --action-memory MB, --action-cpu CORES  the container's cgroup memory limit\n"
      "                            (256, swap included) and CPU quota (0: none)\n"
      "      --parallel N          parallel calls inside the action (5)\n"
      "      --key-prefix P        Redis key prefix (benchmark)\n"
      "      --value-size N        bytes per value (64)\n"
      "      --key-space N         distinct keys (the action's default)\n");
  fprintf(
      out,
      "      --timeout-ms N        the action's Redis call timeout (5000)\n"
      "      --max-in-flight N     invocations outstanding at once (100)\n"
      "      --connections N       openwhisk: keep-alive connections opened before the\n"
      "                            schedule starts, and the most open at once (wrk's -c);\n"
      "                            unset: rate x 10 ms ahead, more when all are busy\n"
      "      --concurrency N       closed loop instead: exactly N invocations in flight, the next\n"
      "                            sent when one finishes (wrk's -c), for --invocations or\n"
      "                            --duration; rate and max-in-flight unused (0: open loop)\n"
      "      --repetitions N       run each run N times (1)\n"
      "      --seed N              every random choice: the workload's operations, keys, sizes\n"
      "                            and arrivals, and order: random's shuffle (1)\n"
      "      --output PATH         results file, or directory for several runs\n"
      "                            (redis_benchmark_results.json; missing directories are\n"
      "                            created; a device or FIFO is written through, never replaced)\n"
      "      --env FILE            env file with OPENWHISK_*, REDIS_*, BATCHING_AGENT_* "
      "(local.env)\n"
      "      --strict              an unknown OPENWHISK_*, REDIS_*, BATCHING_AGENT_*, RBENCH_* "
      "key\n"
      "                            in the env file or the environment is an error, not a warning\n"
      "      --insecure            accept a self-signed OpenWhisk certificate (like wsk -i)\n"
      "      --action-bin PATH     rbench-action for the local target (default: beside rbench)\n"
      "      --pool-size N         local: rbench-action processes at most, like an invoker's\n"
      "                            container pool; busy -> invocations queue (8)\n"
      "      --request-timeout S   seconds per HTTP request (65)\n"
      "      --poll-timeout S      seconds to poll an activation after 202 (120)\n"
      "      --drain-timeout S     seconds to wait for in-flight work on SIGINT/SIGTERM (10)\n"
      "      --wait-for-action S   openwhisk: while the action does not exist yet (404) or the\n"
      "                            controller does not answer, check again every 2 s for up to\n"
      "                            S seconds before anything runs (0, the default: no waiting)\n"
      "      --agent-metrics URL   the batching agent's /metrics, sampled before and after each\n"
      "                            batched run (default: BATCHING_AGENT_METRICS_URL)\n"
      "      --results-configmap NAME  also publish results to this ConfigMap (in a pod)\n");
  fprintf(
      out,
      "      --shard I/N           send only shard I of N of the schedule: invocations k with\n"
      "                            k mod N == I, at their unsharded times (also RBENCH_SHARD=I/N,\n"
      "                            or JOB_COMPLETION_INDEX=I with RBENCH_SHARDS=N); outputs get\n"
      "                            .shard-I-of-N / -shard-I; combine with rbench merge\n"
      "      --start-at T          invocation 0 is due at T: epoch seconds or RFC 3339 (also\n"
      "                            RBENCH_START_AT, the scenario's start_at); needed with N > 1\n"
      "      --start-gap S         with a start instant and several runs or repetitions: each\n"
      "                            starts S seconds after the previous one's schedule ends (5)\n"
      "      --clock-tolerance-ms MS  with --start-at: refuse when this machine's clock is off by\n"
      "                            more than MS from the OpenWhisk host's (or the Kubernetes API\n"
      "                            server's) Date header (500)\n"
      "      --progress MODE       auto, tty, plain or off (auto)\n"
      "      --realtime            run rbench itself as a real-time process (SCHED_FIFO; needs\n"
      "                            CAP_SYS_NICE): keeps the schedule on a busy machine\n"
      "      --log-level LEVEL     debug, info, warn, error, off (info)\n"
      "\n"
      "Exit status: 0 completed, 1 results could not be written, 2 configuration error,\n"
      "3 target unreachable, 4 interrupted (partial results written, \"complete\": false).\n");
}

enum {
  O_TARGET = 256,
  O_ACTION,
  O_INSECURE,
  O_ACTION_BIN,
  O_OUTPUT,
  O_ENV,
  O_REPS,
  O_SEED,
  O_REQ_TIMEOUT,
  O_POLL_TIMEOUT,
  O_DRAIN_TIMEOUT,
  O_CONFIGMAP,
  O_PROGRESS,
  O_LOG,
  O_HELP,
  O_BATCHING,
  O_PARAM,
  O_POOL,
  O_RUNS,
  O_REALTIME,
  O_STRICT,
  O_AGENT_METRICS,
  O_WAIT_ACTION,
  O_SHARD,
  O_START_AT,
  O_START_GAP,
  O_CLOCK_TOL
};

/* Long options that map to a job_params field: name in the table with '-' for '_'. */
static const struct option run_opts[] = {
    {"scenario", required_argument, NULL, 'f'},
    {"target", required_argument, NULL, O_TARGET},
    {"action", required_argument, NULL, O_ACTION},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"action-bin", required_argument, NULL, O_ACTION_BIN},
    {"output", required_argument, NULL, O_OUTPUT},
    {"env", required_argument, NULL, O_ENV},
    {"repetitions", required_argument, NULL, O_REPS},
    {"seed", required_argument, NULL, O_SEED},
    {"request-timeout", required_argument, NULL, O_REQ_TIMEOUT},
    {"poll-timeout", required_argument, NULL, O_POLL_TIMEOUT},
    {"drain-timeout", required_argument, NULL, O_DRAIN_TIMEOUT},
    {"wait-for-action", required_argument, NULL, O_WAIT_ACTION},
    {"results-configmap", required_argument, NULL, O_CONFIGMAP},
    {"progress", required_argument, NULL, O_PROGRESS},
    {"log-level", required_argument, NULL, O_LOG},
    {"help", no_argument, NULL, O_HELP},
    {"batching", no_argument, NULL, O_BATCHING},
    {"pool-size", required_argument, NULL, O_POOL},
    {"runs", required_argument, NULL, O_RUNS},
    {"realtime", no_argument, NULL, O_REALTIME},
    {"strict", no_argument, NULL, O_STRICT},
    {"agent-metrics", required_argument, NULL, O_AGENT_METRICS},
    {"shard", required_argument, NULL, O_SHARD},
    {"start-at", required_argument, NULL, O_START_AT},
    {"start-gap", required_argument, NULL, O_START_GAP},
    {"clock-tolerance-ms", required_argument, NULL, O_CLOCK_TOL},
    {"rate", required_argument, NULL, O_PARAM},
    {"invocations", required_argument, NULL, O_PARAM},
    {"duration", required_argument, NULL, O_PARAM},
    {"warmup", required_argument, NULL, O_PARAM},
    {"ops", required_argument, NULL, O_PARAM},
    {"operation", required_argument, NULL, O_PARAM},
    {"parallel", required_argument, NULL, O_PARAM},
    {"key-prefix", required_argument, NULL, O_PARAM},
    {"value-size", required_argument, NULL, O_PARAM},
    {"key-space", required_argument, NULL, O_PARAM},
    {"timeout-ms", required_argument, NULL, O_PARAM},
    {"max-in-flight", required_argument, NULL, O_PARAM},
    {"connections", required_argument, NULL, O_PARAM},
    {"concurrency", required_argument, NULL, O_PARAM},
    {"mix", required_argument, NULL, O_PARAM},
    {"keys-per-command", required_argument, NULL, O_PARAM},
    {"structure-size", required_argument, NULL, O_PARAM},
    {"range-span", required_argument, NULL, O_PARAM},
    {"script-work", required_argument, NULL, O_PARAM},
    {"key-distribution", required_argument, NULL, O_PARAM},
    {"zipf-exponent", required_argument, NULL, O_PARAM},
    {"hotspot-keys", required_argument, NULL, O_PARAM},
    {"hotspot-ops", required_argument, NULL, O_PARAM},
    {"gaussian-stddev", required_argument, NULL, O_PARAM},
    {"value-size-range", required_argument, NULL, O_PARAM},
    {"value-size-list", required_argument, NULL, O_PARAM},
    {"prepare", required_argument, NULL, O_PARAM},
    {"arrival", required_argument, NULL, O_PARAM},
    {"burst-rate", required_argument, NULL, O_PARAM},
    {"burst-seconds", required_argument, NULL, O_PARAM},
    {"base-seconds", required_argument, NULL, O_PARAM},
    {"trace-file", required_argument, NULL, O_PARAM},
    {"trace-format", required_argument, NULL, O_PARAM},
    {"trace-rows", required_argument, NULL, O_PARAM},
    {"trace-minutes", required_argument, NULL, O_PARAM},
    {"trace-spread", required_argument, NULL, O_PARAM},
    {"trace-speedup", required_argument, NULL, O_PARAM},
    {"placement", required_argument, NULL, O_PARAM},
    {"action-concurrency", required_argument, NULL, O_PARAM},
    {"batch-connections", required_argument, NULL, O_PARAM},
    {"batch-wait-us", required_argument, NULL, O_PARAM},
    {"batch-coalesce", required_argument, NULL, O_PARAM},
    {"backend", required_argument, NULL, O_PARAM},
    {"layer", required_argument, NULL, O_PARAM},
    {"layer-args", required_argument, NULL, O_PARAM},
    {"redis-cpu", required_argument, NULL, O_PARAM},
    {"action-runtime", required_argument, NULL, O_PARAM},
    {"action-image", required_argument, NULL, O_PARAM},
    {"action-memory", required_argument, NULL, O_PARAM},
    {"action-cpu", required_argument, NULL, O_PARAM},
    {NULL, 0, NULL, 0}};

static bool parse_seconds(const char *flag, const char *v, double *out) {
  char *end = NULL;
  double d = strtod(v, &end);
  if (!*v || *end || d <= 0 || d > 86400) {
    fprintf(stderr, "rbench: %s expects seconds above 0 and at most 86400, got '%s'\n", flag, v);
    return false;
  }
  *out = d;
  return true;
}

static bool set_param(struct run_cli *c, const char *longname, const char *v) {
  char name[64], err[300];
  snprintf(name, sizeof name, "%s", longname);
  for (char *p = name; *p; p++)
    if (*p == '-') *p = '_';
  const struct job_param_field *f = job_params_field(name);
  if (f && job_params_set_text(&c->over, f, v, false, err, sizeof err) == RB_OK) return true;
  fprintf(stderr, "rbench: --%s: %s\n", longname, f ? err : "unknown");
  return false;
}

static bool run_option(struct run_cli *c, int ch, int idx) {
  long long n = 0;
  switch (ch) {
    case 'f': c->scenario_path = optarg; return true;
    case O_TARGET:
      if (strcmp(optarg, "local") && strcmp(optarg, "openwhisk")) {
        fprintf(stderr, "rbench: --target must be local or openwhisk\n");
        return false;
      }
      c->tover.kind = strcmp(optarg, "local") ? JOB_TARGET_OPENWHISK : JOB_TARGET_LOCAL;
      c->tover.set |= JOB_TC_KIND;
      return true;
    case O_ACTION: {
      char err[600];
      if (strlen(optarg) >= sizeof c->tover.action) {
        fprintf(stderr, "rbench: --action: too long: %zu bytes, at most %zu\n", strlen(optarg),
                sizeof c->tover.action - 1);
        return false;
      }
      if (rb_name_action_check(optarg, err, sizeof err) != RB_OK) {
        fprintf(stderr, "rbench: --action: %s\n", err);
        return false;
      }
      snprintf(c->tover.action, sizeof c->tover.action, "%s", optarg);
      c->tover.set |= JOB_TC_ACTION;
      return true;
    }
    case O_INSECURE:
      c->tover.insecure = true;
      c->tover.set |= JOB_TC_INSECURE;
      return true;
    case O_ACTION_BIN:
      snprintf(c->tover.action_bin, sizeof c->tover.action_bin, "%s", optarg);
      c->tover.set |= JOB_TC_ACTION_BIN;
      return true;
    case O_OUTPUT:
      c->output = optarg;
      c->output_set = true;
      return true;
    case O_ENV:
      c->env = optarg;
      c->env_set = true;
      return true;
    case O_REPS:
    case O_SEED:
      if (!rb_parse_ll(optarg, ch == O_REPS ? 1 : 0, ch == O_REPS ? 1000 : RB_SEED_MAX, &n)) {
        fprintf(stderr, "rbench: --%s expects a%s integer, got '%s'\n", run_opts[idx].name,
                ch == O_REPS ? "n 1..1000" : " 0..9007199254740991", optarg);
        return false;
      }
      if (ch == O_REPS) c->repetitions = n;
      else c->seed = n, c->seed_set = true;
      /* --seed is also every run's workload seed */
      return ch == O_REPS || set_param(c, "seed", optarg);
    case O_REQ_TIMEOUT:
      c->tover.set |= JOB_TC_REQUEST_TIMEOUT;
      return parse_seconds("--request-timeout", optarg, &c->tover.request_timeout);
    case O_POLL_TIMEOUT:
      c->tover.set |= JOB_TC_POLL_TIMEOUT;
      return parse_seconds("--poll-timeout", optarg, &c->tover.poll_timeout);
    case O_DRAIN_TIMEOUT:
      c->tover.set |= JOB_TC_DRAIN_TIMEOUT;
      return parse_seconds("--drain-timeout", optarg, &c->tover.drain_timeout);
    case O_WAIT_ACTION: {
      char *end = NULL;
      double d = strtod(optarg, &end);
      if (!*optarg || *end || d < 0 || d > 86400) {
        fprintf(stderr, "rbench: --wait-for-action expects seconds from 0 to 86400, got '%s'\n",
                optarg);
        return false;
      }
      c->tover.wait_for_action = d;
      c->tover.set |= JOB_TC_WAIT_FOR_ACTION;
      return true;
    }
    case O_CONFIGMAP: c->configmap = optarg; return true;
    case O_AGENT_METRICS:
      if (strlen(optarg) >= sizeof c->tover.agent_metrics) {
        fprintf(stderr, "rbench: --agent-metrics: the URL is too long\n");
        return false;
      }
      snprintf(c->tover.agent_metrics, sizeof c->tover.agent_metrics, "%s", optarg);
      c->tover.set |= JOB_TC_AGENT_METRICS;
      return true;
    case O_RUNS: c->only_runs = optarg; return true;
    case O_PROGRESS:
      if (!strcmp(optarg, "auto")) c->progress = JOB_PROGRESS_AUTO;
      else if (!strcmp(optarg, "tty")) c->progress = JOB_PROGRESS_TTY;
      else if (!strcmp(optarg, "plain")) c->progress = JOB_PROGRESS_PLAIN;
      else if (!strcmp(optarg, "off")) c->progress = JOB_PROGRESS_OFF;
      else {
        fprintf(stderr, "rbench: --progress must be auto, tty, plain or off\n");
        return false;
      }
      return true;
    case O_LOG:
      if (rb_log_level_parse(optarg) < 0) {
        fprintf(stderr, "rbench: --log-level must be debug, info, warn, error or off\n");
        return false;
      }
      rb_log_set_level((enum rb_log_level)rb_log_level_parse(optarg));
      return true;
    case O_BATCHING: return set_param(c, "batching", "true");
    case O_REALTIME: c->realtime = true; return true;
    case O_STRICT: c->strict = true; return true;
    case O_POOL:
      if (!rb_parse_ll(optarg, 1, 10000, &n)) {
        fprintf(stderr, "rbench: --pool-size expects an integer from 1 to 10000, got '%s'\n",
                optarg);
        return false;
      }
      c->tover.pool_size = n;
      c->tover.set |= JOB_TC_POOL_SIZE;
      return true;
    case O_PARAM: return set_param(c, run_opts[idx].name, optarg);
    case O_SHARD: c->shard_text = optarg; return true;
    case O_START_AT: c->start_at_text = optarg; return true;
    case O_START_GAP: {
      char *end = NULL;
      c->start_gap_s = strtod(optarg, &end);
      if (!*optarg || *end || !(c->start_gap_s >= 0 && c->start_gap_s <= 86400)) {
        fprintf(stderr, "rbench: --start-gap expects seconds from 0 to 86400, got '%s'\n", optarg);
        return false;
      }
      return true;
    }
    case O_CLOCK_TOL:
      if (!rb_parse_ll(optarg, 1, 3600000, &n)) {
        fprintf(stderr,
                "rbench: --clock-tolerance-ms expects milliseconds from 1 to 3600000, got '%s'\n",
                optarg);
        return false;
      }
      c->clock_tolerance_ms = (double)n;
      return true;
    default: return false;
  }
}

/* Parses `run` options; returns -1 to continue or an exit code. */
static int parse_run(int argc, char **argv, struct run_cli *c) {
  memset(c, 0, sizeof *c);
  c->output = "redis_benchmark_results.json";
  c->env = "local.env";
  c->progress = JOB_PROGRESS_AUTO;
  c->start_gap_s = 5;
  c->clock_tolerance_ms = 500;
  int ch, idx = 0;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":f:", run_opts, &idx)) != -1) {
    if (ch == O_HELP) {
      usage_run(stdout);
      return 0;
    }
    if (ch == '?' || ch == ':') {
      job_cli_option_error("run", ch, argv);
      return JOB_EXIT_CONFIG;
    }
    if (!run_option(c, ch, idx)) return JOB_EXIT_CONFIG;
  }
  if (optind < argc) {
    fprintf(stderr, "rbench run: unexpected argument '%s'\n", argv[optind]);
    return JOB_EXIT_CONFIG;
  }
  return -1;
}

/* Keeps only the runs named in the comma-separated list. */
static int select_runs(struct job_scenario *sc, const char *names) {
  size_t kept = 0;
  for (size_t i = 0; i < sc->run_count; i++) {
    char list[512];
    snprintf(list, sizeof list, ",%s,", names);
    char needle[JOB_NAME_MAX + 2];
    snprintf(needle, sizeof needle, ",%s,", sc->runs[i].name);
    if (strstr(list, needle)) sc->runs[kept++] = sc->runs[i];
  }
  if (kept == 0) {
    fprintf(stderr, "rbench: --runs %s matches no run of scenario %s\n", names, sc->name);
    return JOB_EXIT_CONFIG;
  }
  sc->run_count = kept;
  return -1;
}

/* Loads the scenario (or builds one from the flags) and applies the command line on top. */
static int build_scenario(const struct run_cli *c, struct job_scenario *sc) {
  char err[1600];
  if (c->scenario_path) {
    if (job_scenario_load(c->scenario_path, sc, err, sizeof err) != RB_OK) {
      fprintf(stderr, "rbench: %s\n", err);
      return JOB_EXIT_CONFIG;
    }
  } else {
    struct job_params p;
    struct job_target_conf t;
    job_params_defaults(&p);
    job_target_conf_defaults(&t);
    snprintf(p.name, sizeof p.name, "%s", "run");
    if (job_scenario_single(&p, &t, sc) != RB_OK) return JOB_EXIT_FAILURE;
    snprintf(sc->name, sizeof sc->name, "command-line");
  }
  job_target_conf_overlay(&sc->target, &c->tover);
  for (size_t i = 0; i < sc->run_count; i++) {
    job_params_overlay(&sc->runs[i], &c->over);
    if (job_params_validate(&sc->runs[i], err, sizeof err) != RB_OK ||
        job_params_validate_target(&sc->runs[i], sc->target.kind == JOB_TARGET_OPENWHISK, err,
                                   sizeof err) != RB_OK) {
      fprintf(stderr, "rbench: run %s: %s\n", sc->runs[i].name, err);
      job_scenario_free(sc);
      return JOB_EXIT_CONFIG;
    }
  }
  /* A non-constant arrival process is built once now, so a bad trace file is refused before
   * anything runs (the runner builds it again for its run). */
  for (size_t i = 0; i < sc->run_count; i++) {
    struct job_arrival a;
    if (!strcmp(sc->runs[i].arrival, "constant") || sc->runs[i].concurrency > 0) continue;
    if (job_arrival_build(&sc->runs[i], NULL, &a, err, sizeof err) != RB_OK) {
      fprintf(stderr, "rbench: run %s: %s\n", sc->runs[i].name, err);
      job_scenario_free(sc);
      return JOB_EXIT_CONFIG;
    }
    job_arrival_free(&a);
  }
  if (c->only_runs && select_runs(sc, c->only_runs) >= 0) {
    job_scenario_free(sc);
    return JOB_EXIT_CONFIG;
  }
  if (c->repetitions) sc->repetitions = c->repetitions;
  if (c->seed_set) sc->seed = (unsigned long long)c->seed;
  return -1;
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool job_cmd_make_dir(const char *p) {
  char err[PATH_MAX + 200];
  if (job_output_mkdirs(p, err, sizeof err) == RB_OK) return true;
  fprintf(stderr, "rbench: %s\n", err);
  return false;
}

/* Results path for one execution: a file for a single run, else DIR/RUN.json or
 * DIR/RUN/rK.json (DIR = --output without a .json suffix). */
bool job_cmd_output_path(const char *output, const struct job_scenario *sc, size_t run,
                         long long rep, char *out, size_t len) {
  size_t total = sc->run_count * (size_t)sc->repetitions;
  size_t n = strlen(output);
  bool dir_like = is_dir(output) || (n && output[n - 1] == '/');
  if (total == 1 && !dir_like) {
    snprintf(out, len, "%s", output);
    return true;
  }
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", output);
  n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0';
  if (n > 5 && !strcmp(dir + n - 5, ".json")) dir[n - 5] = '\0';
  if (!job_cmd_make_dir(dir)) return false;
  if (sc->repetitions == 1) {
    snprintf(out, len, "%s/%s.json", dir, sc->runs[run].name);
    return true;
  }
  char sub[PATH_MAX + 80];
  snprintf(sub, sizeof sub, "%s/%s", dir, sc->runs[run].name);
  if (!job_cmd_make_dir(sub)) return false;
  snprintf(out, len, "%s/r%lld.json", sub, rep);
  return true;
}

static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* --realtime: SCHED_FIFO for rbench only (processes it starts, e.g. the local target's
 * rbench-action, get the normal policy back: SCHED_RESET_ON_FORK). The loop sleeps between
 * sends, and the kernel's real-time throttling still leaves others 5% of each CPU. */
static void go_realtime(void) {
  struct sched_param sp = {.sched_priority = 10};
  if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) != 0)
    rb_warn("--realtime: cannot switch to SCHED_FIFO (%s); running at normal priority",
            strerror(errno));
  else rb_info("running as a real-time process (SCHED_FIFO priority %d)", sp.sched_priority);
}

/* ", shard I of N: M of them" for the log line, "" when not sharded. */
static const char *shard_note(const struct run_cli *c) {
  static char note[80];
  if (!c->shard.count) return "";
  snprintf(note, sizeof note, ", shard %u of %u (k mod %u == %u)", c->shard.index, c->shard.count,
           c->shard.count, c->shard.index);
  return note;
}

enum job_exit job_cmd_run_one(const struct run_cli *c, const struct job_scenario *sc,
                              const struct job_config *cfg, const char *self,
                              const struct one_exec *x) {
  const struct job_params *p = x->params;
  char err[800] = "";
  if (p->concurrency > 0) {
    char len[64];
    if (p->duration > 0) snprintf(len, sizeof len, "for %.10g s", p->duration);
    else snprintf(len, sizeof len, "%lld invocations", p->invocations);
    rb_info("run %s (%zu of %zu): %s target, closed loop, %lld in flight, %s -> %s", p->name,
            x->index + 1, x->count, job_target_kind_name(sc->target.kind), p->concurrency, len,
            x->out);
  } else if (strcmp(p->arrival, "constant") != 0)
    rb_info("run %s (%zu of %zu): %s target, arrival %s%s -> %s", p->name, x->index + 1, x->count,
            job_target_kind_name(sc->target.kind), p->arrival, shard_note(c), x->out);
  else
    rb_info("run %s (%zu of %zu): %s target, %.10g/s, %lld invocations%s -> %s", p->name,
            x->index + 1, x->count, job_target_kind_name(sc->target.kind), p->rate,
            job_params_planned(p), shard_note(c), x->out);
  /* one id per invocation of rbench run and run name: its repetitions (and shards) share it */
  static uint64_t token;
  if (!token) token = job_shard_invocation_token() | 1;
  char run_id[17];
  job_shard_run_id(&c->shard, token, sc->name, p, c->start_at_us / 1000, run_id);
  struct job_run_request rq = {.scenario = sc,
                               .params = p,
                               .target = &sc->target,
                               .config = cfg,
                               .repetition = x->rep,
                               .out_path = x->out,
                               .inputs = c->inputs,
                               .self_exe = self,
                               .progress = c->progress,
                               .stop = &job_cmd_stop_signal,
                               .configmap = x->cm,
                               .sweep = x->sweep,
                               .shard = &c->shard,
                               .start_at_us = x->start_at_us,
                               .run_id = run_id};
  enum job_exit ex = job_run_execute(&rq, err, sizeof err);
  if (ex == JOB_EXIT_OK || ex == JOB_EXIT_INTERRUPTED)
    rb_info("wrote %s%s", x->out, ex ? " (partial: interrupted)" : "");
  if (err[0]) fprintf(stderr, "rbench: %s\n", err);
  return ex;
}

bool job_cmd_fatal_exit(enum job_exit ex) {
  return ex == JOB_EXIT_CONFIG || ex == JOB_EXIT_UNREACHABLE || ex == JOB_EXIT_FAILURE;
}

/* How long a run's schedule lasts: planned / rate, or the arrival process's last intended time
 * (the same on every shard: the process comes from the knobs and the seed). */
static double run_span_s(const struct job_params *p) {
  struct job_arrival a;
  char err[600];
  if (!strcmp(p->arrival, "constant") || job_arrival_build(p, NULL, &a, err, sizeof err) != RB_OK)
    return (double)job_params_planned(p) / p->rate;
  double s = (double)job_arrival_offset(&a, a.count - 1) / 1e9;
  job_arrival_free(&a);
  return s;
}

static int execute_plan(const struct run_cli *c, struct job_scenario *sc,
                        const struct job_config *cfg, const char *self) {
  size_t *plan = NULL, count = 0;
  long long *reps = NULL;
  if (job_scenario_plan(sc, &plan, &reps, &count) != RB_OK) return JOB_EXIT_FAILURE;
  int worst = JOB_EXIT_OK;
  int64_t start = c->start_at_us;
  for (size_t i = 0; i < count && worst != JOB_EXIT_INTERRUPTED; i++) {
    const struct job_params *p = &sc->runs[plan[i]];
    char path[PATH_MAX + 200], out[PATH_MAX + 240], cm[300];
    if (!job_cmd_output_path(c->output, sc, plan[i], reps[i], path, sizeof path)) {
      worst = JOB_EXIT_FAILURE;
      break;
    }
    job_shard_file_name(path, &c->shard, out, sizeof out);
    if (c->configmap) {
      if (count == 1) snprintf(cm, sizeof cm, "%s", c->configmap);
      else snprintf(cm, sizeof cm, "%s-%s-r%lld", c->configmap, p->name, reps[i]);
      job_shard_configmap_name(cm, sizeof cm, &c->shard);
      job_k8s_sanitize_name(cm);
    }
    struct one_exec x = {.params = p,
                         .rep = reps[i],
                         .out = out,
                         .cm = c->configmap ? cm : NULL,
                         .index = i,
                         .count = count,
                         .start_at_us = start};
    /* The next execution's agreed start: every shard derives the same one from the plan. */
    if (start) start += (int64_t)(run_span_s(p) * 1e6) + (int64_t)(c->start_gap_s * 1e6);
    enum job_exit ex = job_cmd_run_one(c, sc, cfg, self, &x);
    if (ex != JOB_EXIT_OK) worst = ex;
    if (job_cmd_fatal_exit(ex)) break;
  }
  free(plan);
  free(reps);
  return worst;
}

/* --wait-for-action (target.wait_for_action): before the first run, wait for the OpenWhisk
 * action to exist. Returns -1 to go on, or the exit code. */
static int wait_for_action(const struct job_target_conf *t, const struct job_config *cfg) {
  if (t->kind != JOB_TARGET_OPENWHISK || t->wait_for_action <= 0) return -1;
  char err[1200] = "";
  enum job_preflight pf = job_ow_wait_for_action(cfg, t->action, t->insecure, t->wait_for_action,
                                                 &job_cmd_stop_signal, err, sizeof err);
  if (pf == JOB_PREFLIGHT_OK) return -1;
  fprintf(stderr, "rbench: %s\n", err);
  return pf == JOB_PREFLIGHT_INTERRUPTED   ? JOB_EXIT_INTERRUPTED
         : pf == JOB_PREFLIGHT_UNREACHABLE ? JOB_EXIT_UNREACHABLE
                                           : JOB_EXIT_CONFIG;
}

/* --shard / RBENCH_SHARD / JOB_COMPLETION_INDEX and --start-at / RBENCH_START_AT / start_at,
 * and what sharding cannot do (docs/runner.md, "Sharding"). Returns -1 to go on. */
static int resolve_shard(struct run_cli *c, const struct job_scenario *sc) {
  char err[600], v[128];
  if (job_shard_resolve(c->shard_text, rb_env_get, &c->shard, err, sizeof err) != RB_OK) {
    fprintf(stderr, "rbench: %s\n", err);
    return JOB_EXIT_CONFIG;
  }
  const char *t = c->start_at_text, *what = "--start-at";
  if (!t && rb_env_get("RBENCH_START_AT", v, sizeof v)) t = v, what = "RBENCH_START_AT";
  c->start_at_us = sc->start_at_us;
  if (t && job_time_parse(t, what, &c->start_at_us, err, sizeof err) != RB_OK) {
    fprintf(stderr, "rbench: %s\n", err);
    return JOB_EXIT_CONFIG;
  }
  for (size_t i = 0; c->shard.count && i < sc->run_count; i++) {
    const struct job_params *p = &sc->runs[i];
    if (p->sweep.form != JOB_RATE_FIXED) {
      fprintf(stderr,
              "rbench: --shard: run %s is a capacity sweep: its steps are judged and chosen one "
              "at a time by one runner, so it cannot be divided; shard each rate as a run of "
              "its own\n",
              p->name);
      return JOB_EXIT_CONFIG;
    }
    if (p->concurrency > 0) {
      fprintf(stderr,
              "rbench: --shard: run %s is a closed loop (concurrency %lld): it has no schedule "
              "to divide; run it unsharded (several closed loops are not one closed loop)\n",
              p->name, p->concurrency);
      return JOB_EXIT_CONFIG;
    }
  }
  if (c->start_at_us && job_cmd_has_sweep(sc)) {
    fprintf(stderr,
            "rbench: a start instant (--start-at, RBENCH_START_AT or start_at) cannot be used "
            "with a capacity sweep: its steps start one after another as they are judged\n");
    return JOB_EXIT_CONFIG;
  }
  if (c->shard.count > 1 && !c->start_at_us) {
    fprintf(stderr,
            "rbench: --shard %u/%u: the shards of a run must agree on its start: give every "
            "shard the same --start-at T (or RBENCH_START_AT, or the scenario's start_at)\n",
            c->shard.index, c->shard.count);
    return JOB_EXIT_CONFIG;
  }
  return -1;
}

/* With an agreed start instant, this machine's clock must agree with the others': checked
 * against the Date header of the OpenWhisk API host (openwhisk target) or of the Kubernetes
 * API server (in a pod). Returns -1 to go on. */
static int check_clock(const struct run_cli *c, const struct job_scenario *sc,
                       const struct job_config *cfg) {
  if (!c->start_at_us) return -1;
  char url[800], server[400], err[900], host[256], dir[700], ca[800];
  const char *cafile = NULL;
  bool insecure = false;
  if (sc->target.kind == JOB_TARGET_OPENWHISK && !cfg->apihost[0]) return -1; /* the run says why */
  if (sc->target.kind == JOB_TARGET_OPENWHISK) {
    snprintf(url, sizeof url, "%s/api/v1", cfg->apihost);
    snprintf(server, sizeof server, "the OpenWhisk API host %s", cfg->apihost);
    insecure = sc->target.insecure;
  } else if (job_k8s_api_server(url, sizeof url - 16, host, sizeof host)) {
    strcat(url, "/version");
    snprintf(server, sizeof server, "the Kubernetes API server %s", host);
    job_k8s_account_dir(dir, sizeof dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    if (access(ca, R_OK) == 0) cafile = ca;
    else insecure = true; /* only its Date header is read; nothing is sent */
  } else {
    rb_info(
        "clock check: the local target has no remote clock to check against (shards on one "
        "machine share its clock; on several machines keep them synchronised)");
    return -1;
  }
  struct job_clock_offset o;
  if (job_clock_probe(url, cafile, insecure, &o, err, sizeof err) != RB_OK) {
    fprintf(stderr, "rbench: clock check: %s\n", err);
    return JOB_EXIT_UNREACHABLE;
  }
  if (job_clock_judge(&o, c->clock_tolerance_ms, server, err, sizeof err) != RB_OK) {
    fprintf(stderr, "rbench: clock check: %s\n", err);
    return JOB_EXIT_CONFIG;
  }
  rb_info(
      "clock check against %s: its clock minus ours is between %.0f and %.0f ms (tolerance %.0f "
      "ms)",
      server, o.lo_ms, o.hi_ms, c->clock_tolerance_ms);
  return -1;
}

int job_cmd_run(int argc, char **argv, const char *self) {
  struct run_cli c;
  int rc = parse_run(argc, argv, &c);
  if (rc >= 0) return rc;
  struct job_scenario sc;
  rc = build_scenario(&c, &sc);
  if (rc >= 0) return rc;
  rc = resolve_shard(&c, &sc);
  if (rc >= 0) {
    job_scenario_free(&sc);
    return rc;
  }
  const char *env = c.env;
  bool env_required = c.env_set;
  if (!c.env_set && sc.target.env_file[0]) env = sc.target.env_file, env_required = true;
  struct job_config cfg;
  char err[600];
  if (job_config_load(&cfg, env, env_required, c.strict || sc.strict, err, sizeof err) != RB_OK) {
    if (env == sc.target.env_file)
      fprintf(stderr, "rbench: %s: target.env_file: %s\n", sc.target.env_file_at, err);
    else fprintf(stderr, "rbench: %s\n", err);
    job_scenario_free(&sc);
    return JOB_EXIT_CONFIG;
  }
  size_t ni = 0;
  if (c.scenario_path) c.inputs[ni++] = c.scenario_path;
  c.inputs[ni] = env;
  /* --results-configmap: a bad name or no API server is said now, not after the run. */
  enum rb_err krc = c.configmap ? job_k8s_check(c.configmap, err, sizeof err) : RB_OK;
  if (krc != RB_OK) {
    fprintf(stderr, "rbench: %s\n", err);
    explicit_bzero(&cfg, sizeof cfg);
    job_scenario_free(&sc);
    return krc == RB_ERR_IO ? JOB_EXIT_UNREACHABLE : JOB_EXIT_CONFIG;
  }
  install_signals();
  if (c.realtime) go_realtime();
  /* The action first (a Job may start before tools/deploy.sh has run), then the clock, so an
   * agreed start instant that the wait let pass is refused as late, not run late. */
  rc = wait_for_action(&sc.target, &cfg);
  if (rc < 0) rc = check_clock(&c, &sc, &cfg);
  if (rc < 0)
    rc = job_cmd_has_sweep(&sc) ? job_cmd_sweep_execute(&c, &sc, &cfg, self)
                                : execute_plan(&c, &sc, &cfg, self);
  explicit_bzero(&cfg, sizeof cfg);
  job_scenario_free(&sc);
  return rc;
}
