/* job_cmd_doctor.c: `rbench doctor`: checks Redis, the agent, the OpenWhisk host, key and action.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_backend_io.h"
#include "job_cli.h"
#include "job_cmd.h"
#include "job_config.h"
#include "job_target.h"
#include "rb_name.h"
#include "rb_str.h"

static int doctor_line(bool ok, const char *what, const char *msg, const char *fix) {
  printf("%-5s %-22s %s\n", ok ? "ok" : "FAIL", what, msg);
  if (!ok && fix) printf("      %-22s fix: %s\n", "", fix);
  return ok ? 0 : 1;
}

static int doctor_redis(const struct job_config *c) {
  char msg[400];
  enum job_preflight pf =
      job_probe_redis(c->redis_host, c->redis_port, c->redis_password, msg, sizeof msg);
  return doctor_line(
      pf == JOB_PREFLIGHT_OK, "Redis (PING, AUTH)", msg,
      pf == JOB_PREFLIGHT_CONFIG
          ? "set REDIS_PASSWORD (or REDIS_PASSWORD_FILE) to Redis's requirepass"
          : "start redis-server, check REDIS_HOST/REDIS_PORT in the env file and that "
            "the port is open from where the action runs");
}

static int doctor_agent(const struct job_config *c) {
  char msg[400];
  enum job_preflight pf =
      job_probe_redis(c->agent_host, c->agent_port, c->agent_password, msg, sizeof msg);
  int failed =
      doctor_line(pf == JOB_PREFLIGHT_OK, "batching agent (PING)", msg,
                  pf == JOB_PREFLIGHT_CONFIG
                      ? "set BATCHING_AGENT_PASSWORD (or _FILE) to the agent's --password"
                      : "batched runs (--batching) need rbench-agent running: start it and "
                        "check BATCHING_AGENT_HOST/BATCHING_AGENT_PORT; direct runs do not "
                        "need it");
  if (failed) return failed;
  /* PING is answered by Redis too: only a refused CLIENT ID shows a proxy is in between. */
  pf = job_probe_proxy(c->agent_host, c->agent_port, c->agent_password, c->redis_host,
                       c->redis_port, msg, sizeof msg);
  if (doctor_line(pf == JOB_PREFLIGHT_OK, "agent is a proxy", msg,
                  "BATCHING_AGENT_HOST/BATCHING_AGENT_PORT must be rbench-agent's --listen address "
                  "(or another proxy's in front of Redis), not a Redis server's"))
    return 1;
  /* The agent answers PING itself: only a forwarded command shows that it reaches Redis. */
  pf = job_probe_command(c->agent_host, c->agent_port, c->agent_password, "EXISTS rbench:doctor",
                         msg, sizeof msg);
  return doctor_line(pf == JOB_PREFLIGHT_OK, "agent -> Redis", msg,
                     "the agent runs but cannot use Redis: check its --redis address and that "
                     "it has Redis's password (REDIS_PASSWORD or --redis-password-file); its log "
                     "says which");
}

/* BATCHING_AGENT_METRICS_URL, when set: batched runs sample it before and after. */
static int doctor_agent_metrics(const struct job_config *c) {
  if (!c->agent_metrics_url[0])
    return doctor_line(true, "agent metrics",
                       "BATCHING_AGENT_METRICS_URL not set (batched runs' "
                       "agent section will say unavailable)",
                       NULL);
  char pub[sizeof c->agent_metrics_url], why[300], msg[1000];
  rb_url_public(c->agent_metrics_url, pub, sizeof pub);
  struct job_agent_sample s;
  bool ok = job_backend_sample_agent(c->agent_metrics_url, &s, why, sizeof why);
  snprintf(msg, sizeof msg, "%s: %s", pub, ok ? "rbench-agent's metrics" : why);
  return doctor_line(
      ok, "agent metrics", msg,
      "start rbench-agent with --metrics HOST:PORT and set BATCHING_AGENT_METRICS_URL "
      "to http://HOST:PORT/metrics (or unset it)");
}

static int doctor_openwhisk(const struct job_config *c, const char *action, bool insecure) {
  if (!c->apihost[0])
    return doctor_line(true, "OpenWhisk", "not configured (only --target openwhisk needs it)",
                       NULL),
           0;
  char msg[600], where[300];
  snprintf(where, sizeof where, "API host from %s, key from %s",
           c->apihost_from[0] ? c->apihost_from : "-", c->auth_from[0] ? c->auth_from : "nowhere");
  doctor_line(true, "OpenWhisk config", where, NULL);
  if (!c->auth[0])
    return doctor_line(false, "OpenWhisk key", "no key",
                       "set OPENWHISK_AUTH (uuid:key) or AUTH in ~/.wskprops");
  if (rb_name_action_check(action, msg, sizeof msg) != RB_OK)
    return doctor_line(false, "OpenWhisk action", msg, "fix --action (OpenWhisk's naming rules)");
  enum job_preflight pf = job_ow_check(c, action, insecure, msg, sizeof msg);
  return doctor_line(pf == JOB_PREFLIGHT_OK, "OpenWhisk action", msg,
                     pf == JOB_PREFLIGHT_UNREACHABLE
                         ? "check OPENWHISK_APIHOST (http:// for plain HTTP; --insecure for a "
                           "self-signed certificate)"
                         : "deploy the action (tools/deploy.sh) or fix --action / OPENWHISK_AUTH");
}

int job_cmd_doctor(int argc, char **argv) {
  static const struct option opts[] = {
      {"env", required_argument, NULL, 'e'}, {"action", required_argument, NULL, 'a'},
      {"insecure", no_argument, NULL, 'i'},  {"action-bin", required_argument, NULL, 'b'},
      {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
  const char *env = "local.env", *action = "redis_benchmark/redis_benchmark", *bin = NULL;
  bool env_set = false, insecure = false;
  int ch;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    if (ch == 'h') {
      printf(
          "Usage: rbench doctor [--env FILE] [--action NAME] [--insecure] [--action-bin PATH]\n\n"
          "Checks Redis (PING, AUTH), the batching agent (a proxy in front of Redis, its metrics "
          "URL),\n"
          "the rbench-action binary, the OpenWhisk\n"
          "API host, key and action, and says what to fix. Exit 0 when every check passes.\n");
      return 0;
    }
    if (ch == 'e') env = optarg, env_set = true;
    else if (ch == 'a') action = optarg;
    else if (ch == 'i') insecure = true;
    else if (ch == 'b') bin = optarg;
    else {
      job_cli_option_error("doctor", ch, argv);
      return JOB_EXIT_CONFIG;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "rbench doctor: unexpected argument '%s' (see rbench doctor --help)\n",
            argv[optind]);
    return JOB_EXIT_CONFIG;
  }
  struct job_config c;
  char err[600], self[PATH_MAX], found[PATH_MAX + 64];
  int failed = 0;
  if (job_config_load(&c, env, env_set, false, err, sizeof err) != RB_OK) {
    doctor_line(false, "configuration", err,
                "fix the env file (KEY=VALUE lines, see docs/runner.md)");
    return 1;
  }
  doctor_line(true, "configuration",
              access(env, R_OK) == 0 ? env : "no env file: defaults and environment", NULL);
  if (c.unknown_keys) {
    snprintf(err, sizeof err, "%d unknown key%s (named in the warnings above)", c.unknown_keys,
             c.unknown_keys > 1 ? "s" : "");
    failed += doctor_line(false, "configuration keys", err,
                          "correct the name (the keys are listed in docs/runner.md) or remove it");
  }
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  self[n > 0 ? n : 0] = '\0';
  bool have = job_local_find_action(self, bin, found, sizeof found);
  char why[PATH_MAX + 200];
  snprintf(why, sizeof why, "not usable: %s: %s", found,
           errno == EACCES ? "not executable" : job_file_reason(errno));
  failed +=
      doctor_line(have, "rbench-action", have ? found : why,
                  "build it (cmake --build) or pass --action-bin PATH (needed by --target local)");
  failed += doctor_redis(&c);
  failed += doctor_agent(&c);
  failed += doctor_agent_metrics(&c);
  failed += doctor_openwhisk(&c, action, insecure);
  explicit_bzero(&c, sizeof c);
  printf("%s\n", failed ? "some checks failed" : "all checks passed");
  return failed ? 1 : 0;
}
