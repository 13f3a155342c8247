/* agent_config.c: flags and environment variables for rbench-agent. */
#define _GNU_SOURCE
#include "agent_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_log.h"
#include "rb_name.h"
#include "rb_str.h"

const char *agent_config_usage(void) {
  return "Usage: rbench-agent [--listen HOST:PORT] [--redis HOST:PORT] [options]\n"
         "\n"
         "A RESP (Redis protocol) proxy that gathers the commands of many clients and writes\n"
         "them to Redis as pipelined batches over a few persistent connections. Every client\n"
         "gets exactly its own replies, in its own order, or an error reply.\n"
         "\n"
         "  --listen HOST:PORT          where clients connect (default 127.0.0.1:6380)\n"
         "  --redis HOST:PORT           the Redis server (default 127.0.0.1:6379)\n"
         "  --redis-password-file PATH  Redis password, first line of PATH (or env "
         "REDIS_PASSWORD)\n"
         "  --client-password-file PATH clients must AUTH with this password (or env\n"
         "                              BATCHING_AGENT_PASSWORD); default: no client password\n"
         "  --flush MODE                idle (default), pass or window; see docs/agent.md\n"
         "  --window-us N               longest a command waits in the agent (default 1000)\n"
         "  --nap-us N                  hold a batch back at most this long for more clients'\n"
         "                              commands (default 100; 0: never; see docs/agent.md)\n"
         "  --nap-us-per-client N       with many active clients, up to this many us per active\n"
         "                              client instead (default 2; 0: --nap-us only)\n"
         "  --nap-min-outstanding N     hold only with this many active clients (default 8)\n"
         "  --nap-max-commands N        never hold a batch of this many commands (default 32)\n"
         "  --max-batch N               commands per batch; reaching it flushes (default 512)\n"
         "  --coalesce                  fold runs of plain SET into MSET and GET into MGET\n"
         "  --no-io-uring               plain read()/write() per client instead of io_uring\n"
         "  --no-upstream-wait          wake for every client command even while a batch is at\n"
         "                              Redis, and nap blindly after a busy pass (the old loop)\n"
         "  --upstreams N               Redis connections per worker (default 1)\n"
         "  --workers N                 event-loop threads (default 1; SO_REUSEPORT above 1)\n"
         "  --metrics HOST:PORT         serve Prometheus metrics on /metrics (default off)\n"
         "  --max-clients N             client connections at most (default 10000)\n"
         "  --max-request-bytes N       bytes one command may take (default 134217728)\n"
         "  --max-args N                arguments one command may have (default 1048576)\n"
         "  --max-client-output-bytes N unread reply bytes before a client is closed\n"
         "                              (default 536870912)\n"
         "  --timeout-ms N              Redis connect/reply timeout and drain limit (default "
         "5000)\n"
         "  --log-level LEVEL           debug, info, warn, error or off (default info)\n"
         "  --help, --version\n"
         "\n"
         "Each flag can also be set by RBENCH_AGENT_<FLAG> (upper case, '-' as '_'), e.g.\n"
         "RBENCH_AGENT_WINDOW_US=500 or RBENCH_AGENT_COALESCE=1; a flag wins over its variable.\n";
}

enum opt_id {
  O_LISTEN = 256,
  O_REDIS,
  O_REDIS_PW_FILE,
  O_CLIENT_PW_FILE,
  O_FLUSH,
  O_WINDOW,
  O_MAX_BATCH,
  O_NAP,
  O_NAP_MIN,
  O_NAP_MAX,
  O_NAP_PER_CLIENT,
  O_COALESCE,
  O_NO_URING,
  O_NO_UPWAIT,
  O_UPSTREAMS,
  O_WORKERS,
  O_METRICS,
  O_MAX_CLIENTS,
  O_MAX_REQ,
  O_MAX_ARGS,
  O_MAX_OUT,
  O_TIMEOUT,
  O_LOG,
  O_HELP,
  O_VERSION
};

static const struct option LONGOPTS[] = {
    {"listen", required_argument, NULL, O_LISTEN},
    {"redis", required_argument, NULL, O_REDIS},
    {"redis-password-file", required_argument, NULL, O_REDIS_PW_FILE},
    {"client-password-file", required_argument, NULL, O_CLIENT_PW_FILE},
    {"flush", required_argument, NULL, O_FLUSH},
    {"window-us", required_argument, NULL, O_WINDOW},
    {"max-batch", required_argument, NULL, O_MAX_BATCH},
    {"nap-us", required_argument, NULL, O_NAP},
    {"nap-min-outstanding", required_argument, NULL, O_NAP_MIN},
    {"nap-max-commands", required_argument, NULL, O_NAP_MAX},
    {"nap-us-per-client", required_argument, NULL, O_NAP_PER_CLIENT},
    {"coalesce", no_argument, NULL, O_COALESCE},
    {"no-io-uring", no_argument, NULL, O_NO_URING},
    {"no-upstream-wait", no_argument, NULL, O_NO_UPWAIT},
    {"upstreams", required_argument, NULL, O_UPSTREAMS},
    {"workers", required_argument, NULL, O_WORKERS},
    {"metrics", required_argument, NULL, O_METRICS},
    {"max-clients", required_argument, NULL, O_MAX_CLIENTS},
    {"max-request-bytes", required_argument, NULL, O_MAX_REQ},
    {"max-args", required_argument, NULL, O_MAX_ARGS},
    {"max-client-output-bytes", required_argument, NULL, O_MAX_OUT},
    {"timeout-ms", required_argument, NULL, O_TIMEOUT},
    {"log-level", required_argument, NULL, O_LOG},
    {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0}};

static void defaults(struct agent_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
  c->listen_port = 6380;
  snprintf(c->redis_host, sizeof c->redis_host, "127.0.0.1");
  c->redis_port = 6379;
  c->flush.mode = AGENT_FLUSH_IDLE;
  c->flush.window_us = 1000;
  c->flush.max_batch = 512;
  c->nap.nap_us = 100;
  c->nap.min_outstanding = 8;
  c->nap.max_cmds = 32;
  c->nap.per_client_us = 2;
  c->io_uring = true;
  c->upstream_wait = true;
  c->upstreams = 1;
  c->workers = 1;
  c->max_clients = 10000;
  c->limits = agent_req_default_limits();
  c->max_output = 512u << 20;
  c->timeout_ms = 5000;
  c->backoff_min_ms = 20;
  c->backoff_max_ms = 2000;
  c->log_level = RB_LOG_INFO;
}

static void wipe_free(char *s) {
  if (!s) return;
  volatile char *v = s;
  while (*v) *v++ = '\0';
  free(s);
}

void agent_config_deinit(struct agent_config *c) {
  if (!c) return;
  wipe_free(c->redis_password);
  wipe_free(c->client_password);
  c->redis_password = c->client_password = NULL;
}

/* Reads the first line of a password file (without its line end). */
static enum rb_err read_secret(const char *path, const char *flag, char **out, char *err,
                               size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f)
    return rb_errorf(RB_ERR_IO, err, errlen, "%s: cannot open %s: %s", flag, path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s is a directory, not a file", flag, path);
  }
  char *line = NULL;
  size_t cap = 0;
  errno = 0;
  ssize_t n = getline(&line, &cap, f);
  int read_errno = ferror(f) ? errno : 0;
  fclose(f);
  if (n <= 0) {
    free(line);
    if (read_errno)
      return rb_errorf(RB_ERR_IO, err, errlen, "%s: cannot read %s: %s", flag, path,
                       strerror(read_errno));
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s is empty", flag, path);
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  if (n == 0) {
    free(line);
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s holds an empty password", flag, path);
  }
  wipe_free(*out);
  *out = line;
  return RB_OK;
}

/* RBENCH_AGENT_<FLAG> of option o: upper case, '-' as '_'. Returns buf. */
static const char *env_name(const struct option *o, char *buf, size_t len) {
  size_t k = (size_t)snprintf(buf, len, "RBENCH_AGENT_");
  for (const char *p = o->name; *p && k + 1 < len; p++)
    buf[k++] = *p == '-' ? '_' : (char)(*p - 32 * (*p >= 'a' && *p <= 'z'));
  buf[k] = '\0';
  return buf;
}

static enum rb_err set_number(const char *flag, const char *v, long long min, long long max,
                              long long *out, char *err, size_t errlen) {
  if (!rb_parse_ll(v, min, max, out))
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s must be a whole number from %lld to %lld",
                     flag, min, max);
  return RB_OK;
}

static enum rb_err set_hostport(const char *flag, const char *v, char *host, size_t hl, int *port,
                                char *err, size_t errlen) {
  char why[160];
  if (rb_parse_hostport(v, host, hl, port, why, sizeof why) != RB_OK)
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s", flag, why);
  return RB_OK;
}

static enum rb_err apply(struct agent_config *c, int id, const char *flag, const char *v, char *err,
                         size_t errlen) {
  long long n = 0;
  enum rb_err rc = RB_OK;
  switch (id) {
    case O_LISTEN:
      return set_hostport(flag, v, c->listen_host, sizeof c->listen_host, &c->listen_port, err,
                          errlen);
    case O_REDIS:
      return set_hostport(flag, v, c->redis_host, sizeof c->redis_host, &c->redis_port, err,
                          errlen);
    case O_METRICS:
      return set_hostport(flag, v, c->metrics_host, sizeof c->metrics_host, &c->metrics_port, err,
                          errlen);
    case O_REDIS_PW_FILE: return read_secret(v, flag, &c->redis_password, err, errlen);
    case O_CLIENT_PW_FILE: return read_secret(v, flag, &c->client_password, err, errlen);
    case O_FLUSH:
      if (!agent_flush_mode_parse(v, &c->flush.mode))
        return rb_errorf(RB_ERR_INVALID, err, errlen, "%s must be idle, pass or window", flag);
      return RB_OK;
    case O_COALESCE:
    case O_NO_URING:
    case O_NO_UPWAIT: {
      if (v && strcmp(v, "1") != 0 && strcmp(v, "0") != 0 && strcmp(v, "true") != 0 &&
          strcmp(v, "false") != 0)
        return rb_errorf(RB_ERR_INVALID, err, errlen, "%s must be 1, 0, true or false", flag);
      bool on = !v || strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
      if (id == O_COALESCE) c->coalesce = on;
      else if (id == O_NO_URING) c->io_uring = !on;
      else c->upstream_wait = !on;
      return RB_OK;
    }
    case O_LOG:
      if (rb_log_level_parse(v) < 0)
        return rb_errorf(RB_ERR_INVALID, err, errlen, "%s must be debug, info, warn, error or off",
                         flag);
      c->log_level = rb_log_level_parse(v);
      return RB_OK;
    case O_WINDOW:
      rc = set_number(flag, v, 0, 10000000, &n, err, errlen);
      c->flush.window_us = (uint64_t)n;
      break;
    case O_NAP:
      rc = set_number(flag, v, 0, 100000, &n, err, errlen);
      c->nap.nap_us = (uint64_t)n;
      break;
    case O_NAP_MIN:
      rc = set_number(flag, v, 0, 1000000, &n, err, errlen);
      c->nap.min_outstanding = (size_t)n;
      break;
    case O_NAP_MAX:
      rc = set_number(flag, v, 1, 1000000, &n, err, errlen);
      c->nap.max_cmds = (size_t)n;
      break;
    case O_NAP_PER_CLIENT:
      rc = set_number(flag, v, 0, 1000, &n, err, errlen);
      c->nap.per_client_us = (uint64_t)n;
      break;
    case O_MAX_BATCH:
      rc = set_number(flag, v, 1, 1000000, &n, err, errlen);
      c->flush.max_batch = (size_t)n;
      break;
    case O_UPSTREAMS:
      rc = set_number(flag, v, 1, 64, &n, err, errlen);
      c->upstreams = (int)n;
      break;
    case O_WORKERS:
      rc = set_number(flag, v, 1, 64, &n, err, errlen);
      c->workers = (int)n;
      break;
    case O_MAX_CLIENTS:
      rc = set_number(flag, v, 1, 1000000, &n, err, errlen);
      c->max_clients = (size_t)n;
      break;
    case O_MAX_REQ:
      rc = set_number(flag, v, 64, 1LL << 32, &n, err, errlen);
      c->limits.max_request = (size_t)n;
      break;
    case O_MAX_ARGS:
      rc = set_number(flag, v, 1, 1 << 24, &n, err, errlen);
      c->limits.max_args = (size_t)n;
      break;
    case O_MAX_OUT:
      rc = set_number(flag, v, 4096, 1LL << 40, &n, err, errlen);
      c->max_output = (size_t)n;
      break;
    case O_TIMEOUT:
      rc = set_number(flag, v, 10, 3600000, &n, err, errlen);
      c->timeout_ms = (uint64_t)n;
      break;
    default: return rb_errorf(RB_ERR_INVALID, err, errlen, "unknown setting");
  }
  return rc;
}

/* Environment first (so flags override it). */
static enum rb_err apply_env(struct agent_config *c, agent_getenv_fn env, char *err,
                             size_t errlen) {
  for (const struct option *o = LONGOPTS; o->name; o++) {
    if (o->val == O_HELP || o->val == O_VERSION) continue;
    char name[64];
    env_name(o, name, sizeof name);
    const char *v = env(name);
    if (!v || !*v) continue;
    enum rb_err rc = apply(c, o->val, name, v, err, errlen);
    if (rc != RB_OK) return rc;
  }
  const char *pw = env("REDIS_PASSWORD");
  if (pw && *pw && !c->redis_password && !(c->redis_password = strdup(pw))) return RB_ERR_NOMEM;
  pw = env("BATCHING_AGENT_PASSWORD");
  if (pw && *pw && !c->client_password && !(c->client_password = strdup(pw))) return RB_ERR_NOMEM;
  return RB_OK;
}

/* getopt_long accepts unambiguous prefixes, so "--redis-password x" would be taken for
 * --redis-password-file and the password would end up in an error message. Only exact
 * option names are accepted, and messages quote the name only, never a value. */
static enum rb_err check_exact_names(int argc, char **argv, char *err, size_t errlen) {
  char name_buf[64];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) break;
    if (strncmp(a, "--", 2) != 0) continue;
    size_t n = strcspn(a + 2, "=");
    const struct option *o = LONGOPTS;
    while (o->name && !(strlen(o->name) == n && strncmp(o->name, a + 2, n) == 0)) o++;
    if (!o->name)
      return rb_errorf(RB_ERR_INVALID, err, errlen, "unknown option '--%.*s' (see --help)",
                       (int)(n > 40 ? 40 : n), a + 2);
    if (o->has_arg == no_argument && a[2 + n] == '=')
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "option '--%s' takes no value (drop '=...'; its variable %s takes 1, 0, "
                       "true or false)",
                       o->name, env_name(o, name_buf, sizeof name_buf));
    if (o->has_arg == required_argument && !strchr(a, '=')) i++; /* skip its value */
  }
  return RB_OK;
}

static enum rb_err apply_flags(struct agent_config *c, int argc, char **argv,
                               enum agent_config_action *out_action, char *err, size_t errlen) {
  int ch, idx = 0;
  enum rb_err rc0 = check_exact_names(argc, argv, err, errlen);
  if (rc0 != RB_OK) return rc0;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":", LONGOPTS, &idx)) != -1) {
    if (ch == O_HELP || ch == O_VERSION) {
      *out_action = ch == O_HELP ? AGENT_CONFIG_HELP : AGENT_CONFIG_VERSION;
      return RB_OK;
    }
    if (ch == ':')
      return rb_errorf(RB_ERR_INVALID, err, errlen, "option '%.60s' needs a value (see --help)",
                       argv[optind - 1]);
    if (ch == '?')
      return rb_errorf(RB_ERR_INVALID, err, errlen, "unknown option '%.60s' (see --help)",
                       argv[optind - 1]);
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", LONGOPTS[idx].name);
    enum rb_err rc =
        apply(c, ch, flag, LONGOPTS[idx].has_arg == no_argument ? NULL : optarg, err, errlen);
    if (rc != RB_OK) return rc;
  }
  if (optind < argc)
    return rb_errorf(RB_ERR_INVALID, err, errlen, "unexpected argument '%s' (see --help)",
                     argv[optind]);
  return RB_OK;
}

static const char *process_env(const char *name) { return getenv(name); }

enum rb_err agent_config_check_env(const char *const *envp, char *err, size_t errlen) {
  enum { N = sizeof LONGOPTS / sizeof LONGOPTS[0] };
  static char names[N][64];
  const char *known[N];
  size_t nk = 0;
  for (const struct option *o = LONGOPTS; o->name; o++)
    if (o->val != O_HELP && o->val != O_VERSION)
      known[nk] = env_name(o, names[nk], sizeof names[nk]), nk++;
  for (size_t i = 0; envp && envp[i]; i++) {
    const char *e = envp[i];
    size_t n = strcspn(e, "=");
    if (strncmp(e, "RBENCH_AGENT_", 13) != 0) continue;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), e);
    bool found = false;
    for (size_t k = 0; k < nk && !found; k++) found = !strcmp(known[k], name);
    if (found) continue;
    const char *best = rb_name_closest(name, known, nk);
    if (best)
      return rb_errorf(RB_ERR_INVALID, err, errlen, "unknown variable %s (did you mean %s?)", name,
                       best);
    return rb_errorf(
        RB_ERR_INVALID, err, errlen,
        "unknown variable %s (each flag's variable is RBENCH_AGENT_<FLAG>, upper case, "
        "'-' as '_': see --help)",
        name);
  }
  return RB_OK;
}

enum rb_err agent_config_parse(struct agent_config *c, int argc, char **argv, agent_getenv_fn env,
                               enum agent_config_action *out_action, char *err, size_t errlen) {
  defaults(c);
  *out_action = AGENT_CONFIG_RUN;
  enum rb_err rc = env ? RB_OK : agent_config_check_env((const char *const *)environ, err, errlen);
  if (rc == RB_OK) rc = apply_env(c, env ? env : process_env, err, errlen);
  if (rc == RB_OK) rc = apply_flags(c, argc, argv, out_action, err, errlen);
  if (rc == RB_OK && c->limits.max_bulk > c->limits.max_request)
    c->limits.max_bulk = c->limits.max_request;
  if (rc == RB_OK && (size_t)c->workers > c->max_clients)
    rc = rb_errorf(RB_ERR_INVALID, err, errlen, "--max-clients must be at least --workers");
  return rc;
}
