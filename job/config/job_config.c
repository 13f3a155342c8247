/* job_config.c: configuration layers (see job_config.h). */
#define _GNU_SOURCE
#include "job_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_env.h"
#include "rb_envfile.h"
#include "rb_log.h"
#include "rb_name.h"
#include "rb_str.h"

void job_config_init(struct job_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->namespace_, sizeof c->namespace_, "_");
  snprintf(c->redis_host, sizeof c->redis_host, "127.0.0.1");
  c->redis_port = 6379;
  snprintf(c->agent_host, sizeof c->agent_host, "127.0.0.1");
  c->agent_port = 6380;
}

static void set_apihost(struct job_config *c, const char *v, const char *source) {
  if (strstr(v, "://")) snprintf(c->apihost, sizeof c->apihost, "%s", v);
  else if (*v) snprintf(c->apihost, sizeof c->apihost, "https://%s", v);
  else c->apihost[0] = '\0';
  size_t n = strlen(c->apihost);
  while (n > 0 && c->apihost[n - 1] == '/') c->apihost[--n] = '\0';
  snprintf(c->apihost_from, sizeof c->apihost_from, "%s", source);
}

static enum rb_err set_port(int *port, const char *key, const char *v, const char *source,
                            char *err, size_t errlen) {
  long long p = 0;
  if (!rb_parse_ll(v, 1, 65535, &p))
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s must be a port from 1 to 65535", source,
                     key);
  *port = (int)p;
  return RB_OK;
}

static enum rb_err set_secret_file(char *dst, size_t dstlen, const char *key, const char *path,
                                   const char *source, job_file_reader read, char *err,
                                   size_t errlen) {
  if (!read) return RB_OK;
  size_t len = 0;
  errno = 0;
  char *text = read(path, &len);
  if (!text)
    return rb_errorf(RB_ERR_IO, err, errlen, "%s: %s names a file that cannot be read: %s", source,
                     key, job_file_reason(errno ? errno : EIO));
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = '\0';
  enum rb_err rc = RB_OK;
  if (len >= dstlen)
    rc = rb_errorf(RB_ERR_RANGE, err, errlen, "%s: the secret in %s's file is too long", source,
                   key);
  else memcpy(dst, text, len + 1);
  explicit_bzero(text, len);
  free(text);
  return rc;
}

/* What a key sets. */
enum key_kind {
  KEY_APIHOST,     /* set_apihost */
  KEY_AUTH,        /* the key, and where it came from */
  KEY_AUTH_FILE,   /* the key from a file */
  KEY_NAMESPACE,   /* "" means "_" */
  KEY_TEXT,        /* a string field */
  KEY_PORT,        /* an int field, 1..65535 */
  KEY_SECRET_FILE, /* a string field from a file */
  KEY_ELSEWHERE    /* read by another part of rbench, or by rbench-action or a tool */
};

/* Every key rbench knows: the ones this file applies, in the order the environment layer
 * applies them (so OPENWHISK_* beats wsk's WHISK_*), then the ones read elsewhere, so that
 * they are not reported as unknown. A key read anywhere is added here, and only here. */
static const struct config_key {
  const char *name;
  enum key_kind kind;
  size_t field; /* offsetof(struct job_config, ...) for KEY_TEXT, KEY_PORT, KEY_SECRET_FILE */
  size_t size;  /* of that field (strings) */
} config_keys[] = {
#define FIELD(f) offsetof(struct job_config, f), sizeof(((struct job_config *)0)->f)
    {"WHISK_APIHOST", KEY_APIHOST, 0, 0},
    {"OPENWHISK_APIHOST", KEY_APIHOST, 0, 0},
    {"WHISK_AUTH", KEY_AUTH, 0, 0},
    {"OPENWHISK_AUTH", KEY_AUTH, 0, 0},
    {"OPENWHISK_AUTH_FILE", KEY_AUTH_FILE, 0, 0},
    {"WHISK_NAMESPACE", KEY_NAMESPACE, 0, 0},
    {"OPENWHISK_NAMESPACE", KEY_NAMESPACE, 0, 0},
    {"REDIS_HOST", KEY_TEXT, FIELD(redis_host)},
    {"REDIS_PORT", KEY_PORT, FIELD(redis_port)},
    {"REDIS_PASSWORD", KEY_TEXT, FIELD(redis_password)},
    {"REDIS_PASSWORD_FILE", KEY_SECRET_FILE, FIELD(redis_password)},
    {"BATCHING_AGENT_HOST", KEY_TEXT, FIELD(agent_host)},
    {"BATCHING_AGENT_PORT", KEY_PORT, FIELD(agent_port)},
    {"BATCHING_AGENT_PASSWORD", KEY_TEXT, FIELD(agent_password)},
    {"BATCHING_AGENT_PASSWORD_FILE", KEY_SECRET_FILE, FIELD(agent_password)},
    {"BATCHING_AGENT_METRICS_URL", KEY_TEXT, FIELD(agent_metrics_url)},
    {"RBENCH_SERVICEACCOUNT_DIR", KEY_ELSEWHERE, 0, 0}, /* job_k8s.c */
    {"RBENCH_LOG", KEY_ELSEWHERE, 0, 0},                /* rbench-action's log level */
    {"RBENCH_ARGS", KEY_ELSEWHERE, 0, 0},               /* tools/bench/bench-runner.sh */
    {"RBENCH_SHARD", KEY_ELSEWHERE, 0, 0},              /* main.c: --shard */
    {"RBENCH_SHARDS", KEY_ELSEWHERE, 0, 0},             /* main.c: with JOB_COMPLETION_INDEX */
    {"RBENCH_START_AT", KEY_ELSEWHERE, 0, 0},           /* main.c: --start-at */
    {"RBENCH_JOB_NAME", KEY_ELSEWHERE, 0, 0},           /* job_k8s.c: the ConfigMaps' label */
#undef FIELD
};
#define CONFIG_KEY_COUNT (sizeof config_keys / sizeof config_keys[0])

/* Prefixes whose keys are ours: one nothing reads is a typo until shown otherwise. Other keys
 * are left alone (env files are often shared with other tools). */
static const char *const watched_prefixes[] = {"REDIS_", "BATCHING_AGENT_", "OPENWHISK_",
                                               "RBENCH_"};
/* rbench-agent reads RBENCH_AGENT_* (one per option, agent/agent_config.c) and owns them. */
static const char agent_prefix[] = "RBENCH_AGENT_";

static const struct config_key *find_key(const char *name) {
  for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
    if (!strcmp(config_keys[i].name, name)) return &config_keys[i];
  return NULL;
}

/* Marks an endpoint key as given (struct job_config's *_given). */
static void mark_given(struct job_config *c, const struct config_key *k) {
  if (k->field == offsetof(struct job_config, redis_host)) c->redis_host_given = true;
  if (k->field == offsetof(struct job_config, redis_port)) c->redis_port_given = true;
  if (k->field == offsetof(struct job_config, agent_host)) c->agent_host_given = true;
  if (k->field == offsetof(struct job_config, agent_port)) c->agent_port_given = true;
}

static enum rb_err set_key(struct job_config *c, const struct config_key *k, const char *v,
                           const char *source, job_file_reader read, char *err, size_t errlen) {
  char *field = (char *)c + k->field;
  if (k->kind == KEY_TEXT || k->kind == KEY_PORT) mark_given(c, k);
  switch (k->kind) {
    case KEY_APIHOST: set_apihost(c, v, source); break;
    case KEY_AUTH:
      snprintf(c->auth, sizeof c->auth, "%s", v);
      snprintf(c->auth_from, sizeof c->auth_from, "%s", source);
      break;
    case KEY_AUTH_FILE:
      snprintf(c->auth_from, sizeof c->auth_from, "%s (OPENWHISK_AUTH_FILE)", source);
      return set_secret_file(c->auth, sizeof c->auth, k->name, v, source, read, err, errlen);
    case KEY_NAMESPACE: snprintf(c->namespace_, sizeof c->namespace_, "%s", *v ? v : "_"); break;
    case KEY_TEXT: snprintf(field, k->size, "%s", v); break;
    case KEY_PORT: return set_port((int *)(void *)field, k->name, v, source, err, errlen);
    case KEY_SECRET_FILE:
      return set_secret_file(field, k->size, k->name, v, source, read, err, errlen);
    case KEY_ELSEWHERE: break;
  }
  return RB_OK;
}

bool job_config_key_unknown(const char *key, char *msg, size_t msglen) {
  const char *prefix = NULL;
  for (size_t i = 0; i < sizeof watched_prefixes / sizeof watched_prefixes[0]; i++)
    if (!strncmp(key, watched_prefixes[i], strlen(watched_prefixes[i])))
      prefix = watched_prefixes[i];
  if (!prefix || find_key(key) || !strncmp(key, agent_prefix, sizeof agent_prefix - 1))
    return false;
  const char *names[CONFIG_KEY_COUNT];
  for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) names[i] = config_keys[i].name;
  const char *best = rb_name_closest(key, names, CONFIG_KEY_COUNT);
  if (best) {
    snprintf(msg, msglen, "unknown key %.64s (did you mean %s?)", key, best);
    return true;
  }
  /* Nothing close: say which keys of that family rbench reads. */
  size_t n = (size_t)snprintf(msg, msglen, "unknown key %.64s (the %s* keys rbench reads are", key,
                              prefix);
  const char *sep = " ";
  for (size_t i = 0; i < CONFIG_KEY_COUNT && n < msglen; i++) {
    if (strncmp(config_keys[i].name, prefix, strlen(prefix))) continue;
    n += (size_t)snprintf(msg + n, msglen - n, "%s%s", sep, config_keys[i].name);
    sep = ", ";
  }
  if (n < msglen) snprintf(msg + n, msglen - n, ")");
  return true;
}

/* An unknown key: a warning, or with strict an error. source is "FILE:LINE" or
 * "environment". Only the name is ever printed, never the value (it may be a secret). */
static enum rb_err unknown_key(struct job_config *c, const char *key, const char *source,
                               bool strict, char *err, size_t errlen) {
  char msg[400];
  if (!job_config_key_unknown(key, msg, sizeof msg)) return RB_OK;
  c->unknown_keys++;
  if (strict) return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s", source, msg);
  rb_warn("%s: %s; ignored (--strict makes this an error)", source, msg);
  return RB_OK;
}

/* A key seen in the env file, and on which line. */
struct seen_key {
  char *key;
  int line;
};

struct envfile_ctx {
  struct job_config *c;
  const char *source;
  job_file_reader read;
  bool strict;
  char *err;
  size_t errlen;
  enum rb_err rc;
  struct seen_key *seen;
  size_t nseen;
};

static bool watched(const char *key) {
  for (size_t i = 0; i < sizeof watched_prefixes / sizeof watched_prefixes[0]; i++)
    if (!strncmp(key, watched_prefixes[i], strlen(watched_prefixes[i]))) return true;
  return false;
}

/* A key of ours given twice is refused (a shell would take the last one silently, and which
 * of the two was meant cannot be told); other tools' keys are left alone. */
static enum rb_err remember_key(struct envfile_ctx *x, const char *key, int line) {
  if (!find_key(key) && !watched(key)) return RB_OK;
  for (size_t i = 0; i < x->nseen; i++)
    if (!strcmp(x->seen[i].key, key))
      return rb_errorf(RB_ERR_INVALID, x->err, x->errlen,
                       "%s:%d: %s is set twice (first at %s:%d); keep one", x->source, line, key,
                       x->source, x->seen[i].line);
  struct seen_key *n = realloc(x->seen, (x->nseen + 1) * sizeof *n);
  if (!n || !(n[x->nseen].key = strdup(key))) {
    if (n) x->seen = n;
    return rb_errorf(RB_ERR_NOMEM, x->err, x->errlen, "out of memory");
  }
  x->seen = n;
  x->seen[x->nseen++].line = line;
  return RB_OK;
}

static int envfile_entry(const char *key, const char *value, int line, void *arg) {
  struct envfile_ctx *x = arg;
  char where[128];
  snprintf(where, sizeof where, "%s:%d", x->source, line);
  const struct config_key *k = find_key(key);
  x->rc = remember_key(x, key, line);
  if (x->rc == RB_OK)
    x->rc = k ? set_key(x->c, k, value, where, x->read, x->err, x->errlen)
              : unknown_key(x->c, key, where, x->strict, x->err, x->errlen);
  return x->rc != RB_OK;
}

enum rb_err job_config_apply_envfile(struct job_config *c, const char *text, size_t len,
                                     const char *source, job_file_reader read, bool strict,
                                     char *err, size_t errlen) {
  struct envfile_ctx x = {c, source, read, strict, err, errlen, RB_OK, NULL, 0};
  char perr[200];
  enum rb_err rc = rb_envfile_parse(text, len, envfile_entry, &x, perr, sizeof perr);
  for (size_t i = 0; i < x.nseen; i++) free(x.seen[i].key);
  free(x.seen);
  if (x.rc != RB_OK) return x.rc;
  if (rc != RB_OK) return rb_errorf(rc, err, errlen, "%s: %s", source, perr);
  return RB_OK;
}

void job_config_apply_wskprops(struct job_config *c, const char *text, size_t len,
                               const char *source) {
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    char line[1024];
    size_t n = (size_t)(eol - p);
    if (n < sizeof line) {
      memcpy(line, p, n);
      line[n] = '\0';
      if (n && line[n - 1] == '\r') line[n - 1] = '\0';
      char *eq = strchr(line, '=');
      if (line[0] != '#' && eq && !strchr(eq + 1, '=')) {
        *eq = '\0';
        if (!strcmp(line, "APIHOST")) set_apihost(c, eq + 1, source);
        if (!strcmp(line, "AUTH")) {
          snprintf(c->auth, sizeof c->auth, "%s", eq + 1);
          snprintf(c->auth_from, sizeof c->auth_from, "%s", source);
        }
        if (!strcmp(line, "NAMESPACE") && eq[1])
          snprintf(c->namespace_, sizeof c->namespace_, "%s", eq + 1);
      }
      explicit_bzero(line, sizeof line);
    }
    p = nl ? nl + 1 : end;
  }
}

enum rb_err job_config_apply_environ(struct job_config *c, job_env_lookup lookup,
                                     job_file_reader read, char *err, size_t errlen) {
  char value[JOB_SECRET_MAX];
  for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
    if (config_keys[i].kind == KEY_ELSEWHERE || !lookup(config_keys[i].name, value, sizeof value))
      continue;
    char source[64];
    snprintf(source, sizeof source, "environment %s", config_keys[i].name);
    enum rb_err rc = set_key(c, &config_keys[i], value, source, read, err, errlen);
    explicit_bzero(value, sizeof value);
    if (rc != RB_OK) return rc;
  }
  return RB_OK;
}

/* Kubernetes puts FOO_SERVICE_HOST, FOO_SERVICE_PORT[_NAME], FOO_PORT and
 * FOO_PORT_6379_TCP[_PROTO|_PORT|_ADDR] in every pod for each Service foo of its namespace
 * (a Service named redis gives REDIS_SERVICE_HOST, ...): those are not typos. */
static bool service_link(const char *name, char names[][RB_ENV_NAME_MAX], size_t n) {
  if (strstr(name, "_SERVICE_HOST") || strstr(name, "_SERVICE_PORT")) return true;
  const char *p = strstr(name, "_PORT_");
  if (p && p[6] >= '0' && p[6] <= '9') {
    p += 6;
    while (*p >= '0' && *p <= '9') p++;
    if (!strncmp(p, "_TCP", 4) || !strncmp(p, "_UDP", 4) || !strncmp(p, "_SCTP", 5)) return true;
  }
  size_t len = strlen(name);
  if (len > 5 && !strcmp(name + len - 5, "_PORT")) {
    char host[RB_ENV_NAME_MAX + 16];
    snprintf(host, sizeof host, "%.*s_SERVICE_HOST", (int)(len - 5), name);
    for (size_t i = 0; i < n; i++)
      if (!strcmp(names[i], host)) return true;
  }
  return false;
}

enum rb_err job_config_check_environ(struct job_config *c, char names[][RB_ENV_NAME_MAX], size_t n,
                                     bool strict, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    if (service_link(names[i], names, n)) continue;
    enum rb_err rc = unknown_key(c, names[i], "environment", strict, err, errlen);
    if (rc != RB_OK) return rc;
  }
  return RB_OK;
}

char *job_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      size_t ncap = cap ? cap * 2 : 8192;
      char *b = realloc(buf, ncap);
      if (!b) {
        free(buf);
        fclose(f);
        errno = ENOMEM;
        return NULL;
      }
      buf = b;
      cap = ncap;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  int saved = errno; /* fread's reason (EISDIR for a directory, EIO); fclose may change it */
  bool bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    errno = saved ? saved : EIO;
    return NULL;
  }
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

const char *job_file_reason(int errnum) {
  switch (errnum) {
    case ENOENT: return "no such file";
    case EACCES: return "permission denied";
    case EISDIR: return "is a directory, not a file";
    case ENOTDIR: return "a part of the path is not a directory";
    case ENOMEM: return "out of memory";
    default: return strerror(errnum);
  }
}

char *job_read_named_file(const char *path, const char *what, size_t *len, char *err,
                          size_t errlen) {
  errno = 0;
  char *text = job_read_file(path, len);
  if (text) return text;
  int saved = errno ? errno : EIO;
  rb_errorf(saved == ENOENT ? RB_ERR_NOT_FOUND : RB_ERR_IO, err, errlen, "cannot read %s%s%s: %s",
            what, *what ? " " : "", path, job_file_reason(saved));
  errno = saved;
  return NULL;
}

static void load_wskprops(struct job_config *c) {
  char path[1100];
  char v[1024];
  if (rb_env_get("WSK_CONFIG_FILE", v, sizeof v)) {
    if (!*v) return; /* set but empty: wsk ignores the home file too */
    snprintf(path, sizeof path, "%s", v);
  } else if (rb_env_get("HOME", v, sizeof v)) {
    snprintf(path, sizeof path, "%s/.wskprops", v);
  } else {
    return;
  }
  size_t len = 0;
  char *text = job_read_file(path, &len);
  if (!text) return;
  job_config_apply_wskprops(c, text, len, path);
  explicit_bzero(text, len);
  free(text);
}

/* The environment's names in our prefixes (REDIS_PORT from a Service named redis and a typo
 * look alike until their neighbours are seen, so all of them, at once). */
static enum rb_err check_process_environ(struct job_config *c, bool strict, char *err,
                                         size_t errlen) {
  enum { MAX_NAMES = 256 };
  char(*names)[RB_ENV_NAME_MAX] = calloc(MAX_NAMES, sizeof *names);
  if (!names) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  size_t n = 0;
  for (size_t i = 0; i < sizeof watched_prefixes / sizeof watched_prefixes[0]; i++)
    n += rb_env_names(watched_prefixes[i], names + n, MAX_NAMES - n);
  enum rb_err rc = job_config_check_environ(c, names, n, strict, err, errlen);
  free(names);
  return rc;
}

enum rb_err job_config_load(struct job_config *c, const char *env_path, bool env_required,
                            bool strict, char *err, size_t errlen) {
  job_config_init(c);
  load_wskprops(c);
  if (env_path && *env_path) {
    size_t len = 0;
    char *text = job_read_named_file(env_path, "env file", &len, err, errlen);
    /* The default local.env may be absent; any other reason it cannot be read is an error. */
    if (!text && (env_required || errno != ENOENT)) return RB_ERR_IO;
    if (text) {
      enum rb_err rc =
          job_config_apply_envfile(c, text, len, env_path, job_read_file, strict, err, errlen);
      explicit_bzero(text, len);
      free(text);
      if (rc != RB_OK) return rc;
    }
  }
  enum rb_err rc = check_process_environ(c, strict, err, errlen);
  if (rc != RB_OK) return rc;
  return job_config_apply_environ(c, rb_env_get, job_read_file, err, errlen);
}

cJSON *job_config_describe(const struct job_config *c) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "apihost", c->apihost);
  cJSON_AddStringToObject(o, "namespace", c->namespace_);
  cJSON_AddBoolToObject(o, "auth_set", c->auth[0] != '\0');
  cJSON_AddStringToObject(o, "redis_host", c->redis_host);
  cJSON_AddNumberToObject(o, "redis_port", c->redis_port);
  cJSON_AddBoolToObject(o, "redis_password_set", c->redis_password[0] != '\0');
  cJSON_AddStringToObject(o, "agent_host", c->agent_host);
  cJSON_AddNumberToObject(o, "agent_port", c->agent_port);
  cJSON_AddBoolToObject(o, "agent_password_set", c->agent_password[0] != '\0');
  if (c->agent_metrics_url[0]) {
    char pub[sizeof c->agent_metrics_url];
    rb_url_public(c->agent_metrics_url, pub, sizeof pub);
    cJSON_AddStringToObject(o, "agent_metrics_url", pub);
  }
  return o;
}
