/* agent_config.h: rbench-agent's settings from flags and environment variables.
 *
 * Every flag has an environment variable (RBENCH_AGENT_<FLAG>); a flag wins over its
 * variable. Passwords are never flag values (they would show in ps): they come from a file
 * (--redis-password-file, --client-password-file) or from the environment (REDIS_PASSWORD,
 * BATCHING_AGENT_PASSWORD, the names rbench-action uses for the same secrets). */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_flush.h"
#include "agent_hold.h"
#include "agent_req.h"
#include "rb_error.h"

struct agent_config {
  char listen_host[256];
  int listen_port;
  char redis_host[256];
  int redis_port;
  char metrics_host[256];
  int metrics_port;      /* 0: no metrics endpoint */
  char *redis_password;  /* owned, NULL when none; wiped by agent_config_deinit */
  char *client_password; /* owned, NULL when none */
  struct agent_flush_cfg flush;
  struct agent_hold_cfg nap; /* the gathering hold and the nap (--nap-*) */
  bool coalesce;
  bool io_uring;      /* batch client reads/writes through io_uring when available (default) */
  bool upstream_wait; /* --flush idle: sleep on Redis only while a batch is there (default) */
  int upstreams;      /* upstream connections per worker */
  int workers;        /* event-loop threads */
  size_t max_clients; /* per agent (divided evenly among workers) */
  struct agent_req_limits limits;
  size_t max_output;       /* unread reply bytes per client before it is closed */
  uint64_t timeout_ms;     /* upstream connect and reply timeout; also the drain limit */
  uint64_t backoff_min_ms; /* reconnect backoff, doubling up to backoff_max_ms */
  uint64_t backoff_max_ms;
  int log_level; /* enum rb_log_level */
};

enum agent_config_action { AGENT_CONFIG_RUN, AGENT_CONFIG_HELP, AGENT_CONFIG_VERSION };

/* Looks an environment variable up; returns a borrowed string or NULL. */
typedef const char *(*agent_getenv_fn)(const char *name);

/* Fills c from argv and env (getenv when env is NULL). Password files are read here. On
 * error returns RB_ERR_INVALID (or RB_ERR_IO for unreadable files) with a message naming the
 * flag; the message never contains a password. c must be deinitialised in every case. */
enum rb_err agent_config_parse(struct agent_config *c, int argc, char **argv, agent_getenv_fn env,
                               enum agent_config_action *out_action, char *err, size_t errlen);
/* Refuses an RBENCH_AGENT_* variable in envp (NAME=VALUE strings, NULL-terminated) that is
 * no flag's: a misspelt one would be ignored. err names it and, when one is close, the known
 * variable meant. agent_config_parse runs it on environ when env is NULL. Never quotes a
 * value. */
enum rb_err agent_config_check_env(const char *const *envp, char *err, size_t errlen);

/* Wipes and frees the passwords. NULL-safe. */
void agent_config_deinit(struct agent_config *c);

/* The --help text. */
const char *agent_config_usage(void);

#endif
