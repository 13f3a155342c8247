/* job_config.h: where rbench finds the OpenWhisk host and key, and the Redis and agent
 * endpoints.
 *
 * Layers, lowest first: built-in defaults; ~/.wskprops or $WSK_CONFIG_FILE (APIHOST, AUTH,
 * NAMESPACE, as wsk reads them); the env file (--env, the seed's local.env: OPENWHISK_*,
 * REDIS_*, BATCHING_AGENT_*); the process environment (the same names, plus wsk's
 * WHISK_APIHOST, WHISK_AUTH, WHISK_NAMESPACE). A secret may also come from a file named by
 * OPENWHISK_AUTH_FILE, REDIS_PASSWORD_FILE or BATCHING_AGENT_PASSWORD_FILE (env file or
 * environment), e.g. a mounted Kubernetes Secret.
 *
 * The parsers here are pure (text in, fields out); job_config_load does the file and
 * environment reads. Secrets (auth, passwords) are never printed: job_config_describe shows
 * only whether they are set. */
#ifndef JOB_CONFIG_H
#define JOB_CONFIG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "rb_env.h"
#include "rb_error.h"

#define JOB_SECRET_MAX 512
#define JOB_HOST_MAX 256

struct job_config {
  char apihost[JOB_HOST_MAX + 16]; /* with scheme; "https://" added when none was given */
  char auth[JOB_SECRET_MAX];       /* secret: "uuid:key" */
  char namespace_[128];            /* "_" by default */
  char redis_host[JOB_HOST_MAX];
  int redis_port;
  char redis_password[JOB_SECRET_MAX]; /* secret */
  char agent_host[JOB_HOST_MAX];
  int agent_port;
  char agent_password[JOB_SECRET_MAX]; /* secret */
  char agent_metrics_url[600]; /* BATCHING_AGENT_METRICS_URL: the agent's /metrics, "" = none */
  char apihost_from[80];       /* where apihost came from, for messages ("local.env", ...) */
  char auth_from[80];
  int unknown_keys; /* REDIS_*, BATCHING_AGENT_*, OPENWHISK_*, RBENCH_* keys nothing reads */
  /* Which endpoint keys were given (env file or environment), not defaulted: the openwhisk
   * target sends only these, so the action's own default parameters apply to the others. */
  bool redis_host_given, redis_port_given, agent_host_given, agent_port_given;
};

/* Reads a file's content into a malloc'd, NUL-terminated buffer (caller frees). */
typedef char *(*job_file_reader)(const char *path, size_t *len);
/* Looks up an environment variable; true and buf filled when set. */
typedef bool (*job_env_lookup)(const char *name, char *buf, size_t len);

void job_config_init(struct job_config *c);

/* Applies KEY=VALUE text in the seed's local.env format (rb_envfile grammar). source names
 * the file in messages. read resolves *_FILE keys (may be NULL to ignore them). A key with
 * one of our prefixes that nothing reads (job_config_key_unknown) is counted in
 * c->unknown_keys and warned about as "FILE:LINE: unknown key ..." (rb_warn); with strict
 * it is that error instead. A key rbench reads, or with one of its prefixes, given twice is
 * RB_ERR_INVALID: "FILE:LINE2: KEY is set twice (first at FILE:LINE1); keep one". Values are
 * never quoted in messages. */
enum rb_err job_config_apply_envfile(struct job_config *c, const char *text, size_t len,
                                     const char *source, job_file_reader read, bool strict,
                                     char *err, size_t errlen);

/* True when key has a prefix rbench owns (REDIS_, BATCHING_AGENT_, OPENWHISK_, RBENCH_) but no
 * part of rbench reads it; msg then says "unknown key K (did you mean KNOWN?)", or lists the
 * keys of that prefix when none is close. RBENCH_AGENT_* belong to rbench-agent and are never
 * unknown here. */
bool job_config_key_unknown(const char *key, char *msg, size_t msglen);

/* The unknown-key check for the environment's variable names (names only: no value is
 * needed or printed). Kubernetes service links (FOO_SERVICE_HOST, FOO_PORT_6379_TCP, FOO_PORT
 * beside FOO_SERVICE_HOST) are skipped. Warns, or with strict fails, as for the env file. */
enum rb_err job_config_check_environ(struct job_config *c, char names[][RB_ENV_NAME_MAX], size_t n,
                                     bool strict, char *err, size_t errlen);

/* Applies a wskprops file: APIHOST, AUTH, NAMESPACE; lines that do not split into exactly
 * two parts on '=' are skipped, as wsk does. */
void job_config_apply_wskprops(struct job_config *c, const char *text, size_t len,
                               const char *source);

/* Applies environment overrides through lookup. */
enum rb_err job_config_apply_environ(struct job_config *c, job_env_lookup lookup,
                                     job_file_reader read, char *err, size_t errlen);

/* Loads every layer from the real files and environment. env_path: the --env file;
 * env_required: the user named it (a missing file is then an error; the default local.env
 * may be absent, but one that exists and cannot be read is an error). strict: unknown keys
 * in the env file or the environment are errors rather than warnings. */
enum rb_err job_config_load(struct job_config *c, const char *env_path, bool env_required,
                            bool strict, char *err, size_t errlen);

/* Reads a whole file (the default job_file_reader). NULL when unreadable, errno saying why
 * (EISDIR for a directory). */
char *job_read_file(const char *path, size_t *len);
/* job_read_file, and on failure err = "cannot read WHAT PATH: REASON" (what may be "").
 * errno is left as job_read_file set it. Caller frees the text. */
char *job_read_named_file(const char *path, const char *what, size_t *len, char *err,
                          size_t errlen);
/* A short reason for an errno from opening or reading a file ("no such file",
 * "permission denied", "is a directory, not a file", else strerror). Static string. */
const char *job_file_reason(int errnum);

/* A description without secrets: hosts, ports, and "set"/"not set" for each secret. */
cJSON *job_config_describe(const struct job_config *c);

#endif
