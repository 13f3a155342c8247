/* main.c: rbench, the benchmark runner: dispatches to the subcommands (job_cmd.h). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "job_cmd.h"
#include "rb_log.h"
#include "rb_version.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: rbench COMMAND [options]\n"
          "\n"
          "  run       invoke the action at a fixed rate and record every invocation\n"
          "  compare   compare results: A B, or N groups against a baseline; significance, --json\n"
          "  report    one self-contained HTML report (or --svg) from results files\n"
          "  merge     combine the shards of a scale-out run (--shard) into one results document\n"
          "  doctor    check Redis, the agent, the OpenWhisk host, key and action\n"
          "\n"
          "  rbench COMMAND --help for its options; rbench --version.\n");
}

static void self_path(const char *argv0, char *out, size_t len) {
  ssize_t n = readlink("/proc/self/exe", out, len - 1);
  if (n > 0) {
    out[n] = '\0';
    return;
  }
  snprintf(out, len, "%s", argv0);
}

int main(int argc, char **argv) {
  rb_log_set_program("rbench");
  char self[PATH_MAX];
  self_path(argv[0], self, sizeof self);
  if (argc < 2) {
    usage(stderr);
    return JOB_EXIT_CONFIG;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version")) {
    printf("rbench %s (%s)\n", RBENCH_VERSION, RBENCH_GIT_COMMIT);
    return 0;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc;
  if (cmd[0] == '-') rc = job_cmd_run(argc, argv, self); /* the seed's runner had no subcommand */
  else if (!strcmp(cmd, "run")) rc = job_cmd_run(argc - 1, argv + 1, self);
  else if (!strcmp(cmd, "compare")) rc = job_cmd_compare(argc - 1, argv + 1);
  else if (!strcmp(cmd, "report")) rc = job_cmd_report(argc - 1, argv + 1);
  else if (!strcmp(cmd, "doctor")) rc = job_cmd_doctor(argc - 1, argv + 1);
  else if (!strcmp(cmd, "merge")) rc = job_cmd_merge(argc - 1, argv + 1);
  else {
    fprintf(stderr, "rbench: unknown command '%s'\n", cmd);
    usage(stderr);
    rc = JOB_EXIT_CONFIG;
  }
  curl_global_cleanup();
  return rc;
}
