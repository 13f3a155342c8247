/* main.c: rbench-agent, the RESP batching proxy between many Redis clients and one Redis. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_config.h"
#include "agent_http.h"
#include "agent_worker.h"
#include "rb_log.h"
#include "rb_version.h"

#define EXIT_USAGE 2

static void stop_all(struct agent_worker **ws, int n) {
  for (int i = 0; i < n; i++) agent_worker_stop(ws[i]);
  for (int i = 0; i < n; i++) agent_worker_join(ws[i]);
}

static int serve(const struct agent_config *cfg) {
  struct agent_worker *ws[64] = {0};
  struct agent_metrics *ms[64] = {0};
  char err[256];
  int rc = 1, started = 0;
  struct agent_http *http = NULL;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask; main waits below */
  for (int i = 0; i < cfg->workers; i++) {
    if (!(ws[i] = agent_worker_create(cfg, i, err, sizeof err))) {
      fprintf(stderr, "rbench-agent: %s\n", err);
      goto out;
    }
    ms[i] = agent_worker_metrics(ws[i]);
  }
  if (cfg->metrics_port > 0 &&
      !(http = agent_http_start(cfg->metrics_host, cfg->metrics_port, ms, (size_t)cfg->workers,
                                (unsigned long long)(cfg->workers * cfg->upstreams), err,
                                sizeof err))) {
    fprintf(stderr, "rbench-agent: %s\n", err);
    goto out;
  }
  for (; started < cfg->workers; started++) {
    if (agent_worker_start(ws[started]) != 0) {
      fprintf(stderr, "rbench-agent: cannot start worker thread\n");
      goto out;
    }
  }
  rb_info(
      "rbench-agent %s listening on %s:%d, Redis %s:%d, flush %s, window %lluus, nap %lluus "
      "(%lluus per active client), max batch %zu%s, %d worker(s) x %d upstream(s)",
      RBENCH_VERSION, cfg->listen_host, cfg->listen_port, cfg->redis_host, cfg->redis_port,
      agent_flush_mode_name(cfg->flush.mode), (unsigned long long)cfg->flush.window_us,
      (unsigned long long)cfg->nap.nap_us, (unsigned long long)cfg->nap.per_client_us,
      cfg->flush.max_batch, cfg->coalesce ? ", coalescing" : "", cfg->workers, cfg->upstreams);
  int sig = 0;
  sigwait(&set, &sig);
  rb_info("signal %d: draining in-flight requests", sig);
  rc = 0;
out:
  stop_all(ws, started);
  agent_http_stop(http);
  for (int i = 0; i < cfg->workers; i++) agent_worker_destroy(ws[i]);
  if (rc == 0) rb_info("stopped");
  return rc;
}

int main(int argc, char **argv) {
  rb_log_set_program("rbench-agent");
  signal(SIGPIPE, SIG_IGN);
  struct agent_config cfg;
  enum agent_config_action action;
  char err[256];
  enum rb_err e = agent_config_parse(&cfg, argc, argv, NULL, &action, err, sizeof err);
  int rc = 0;
  if (e != RB_OK) {
    fprintf(stderr, "rbench-agent: %s\n", err);
    rc = EXIT_USAGE;
  } else if (action == AGENT_CONFIG_HELP) {
    fputs(agent_config_usage(), stdout);
  } else if (action == AGENT_CONFIG_VERSION) {
    printf("rbench-agent %s (%s)\n", RBENCH_VERSION, RBENCH_GIT_COMMIT);
  } else {
    rb_log_set_level((enum rb_log_level)cfg.log_level);
    rc = serve(&cfg);
  }
  agent_config_deinit(&cfg);
  return rc;
}
