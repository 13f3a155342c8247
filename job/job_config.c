/* job_config.c: configuration layers (see job_config.h). */
#define _GNU_SOURCE
#include "job_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_backend.h"
#include "rb_env.h"
#include "rb_envfile.h"
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
  if (strstr(v, "://"))
    snprintf(c->apihost, sizeof c->apihost, "%s", v);
  else if (*v)
    snprintf(c->apihost, sizeof c->apihost, "https://%s", v);
  else
    c->apihost[0] = '\0';
  size_t n = strlen(c->apihost);
  while (n > 0 && c->apihost[n - 1] == '/') c->apihost[--n] = '\0';
  snprintf(c->apihost_from, sizeof c->apihost_from, "%s", source);
}

static enum rb_err set_port(int *port, const char *key, const char *v, const char *source,
                            char *err, size_t errlen) {
  long long p = 0;
  if (!rb_parse_ll(v, 1, 65535, &p))
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: %s must be a port from 1 to 65535",
                     source, key);
  *port = (int)p;
  return RB_OK;
}

static enum rb_err set_secret_file(char *dst, size_t dstlen, const char *key, const char *path,
                                   const char *source, job_file_reader read, char *err,
                                   size_t errlen) {
  if (!read) return RB_OK;
  size_t len = 0;
  char *text = read(path, &len);
  if (!text)
    return rb_errorf(RB_ERR_IO, err, errlen, "%s: %s names a file that cannot be read", source,
                     key);
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = '\0';
  enum rb_err rc = RB_OK;
  if (len >= dstlen)
    rc = rb_errorf(RB_ERR_RANGE, err, errlen, "%s: the secret in %s's file is too long", source,
                   key);
  else
    memcpy(dst, text, len + 1);
  explicit_bzero(text, len);
  free(text);
  return rc;
}

/* One KEY=VALUE from any layer; unknown keys are ignored (env files are often shared). */
static enum rb_err apply_key(struct job_config *c, const char *key, const char *v,
                             const char *source, job_file_reader read, char *err,
                             size_t errlen) {
  if (!strcmp(key, "OPENWHISK_APIHOST") || !strcmp(key, "WHISK_APIHOST")) {
    set_apihost(c, v, source);
  } else if (!strcmp(key, "OPENWHISK_AUTH") || !strcmp(key, "WHISK_AUTH")) {
    snprintf(c->auth, sizeof c->auth, "%s", v);
    snprintf(c->auth_from, sizeof c->auth_from, "%s", source);
  } else if (!strcmp(key, "OPENWHISK_AUTH_FILE")) {
    snprintf(c->auth_from, sizeof c->auth_from, "%s (OPENWHISK_AUTH_FILE)", source);
    return set_secret_file(c->auth, sizeof c->auth, key, v, source, read, err, errlen);
  } else if (!strcmp(key, "OPENWHISK_NAMESPACE") || !strcmp(key, "WHISK_NAMESPACE")) {
    snprintf(c->namespace_, sizeof c->namespace_, "%s", *v ? v : "_");
  } else if (!strcmp(key, "REDIS_HOST")) {
    snprintf(c->redis_host, sizeof c->redis_host, "%s", v);
  } else if (!strcmp(key, "REDIS_PORT")) {
    return set_port(&c->redis_port, key, v, source, err, errlen);
  } else if (!strcmp(key, "REDIS_PASSWORD")) {
    snprintf(c->redis_password, sizeof c->redis_password, "%s", v);
  } else if (!strcmp(key, "REDIS_PASSWORD_FILE")) {
    return set_secret_file(c->redis_password, sizeof c->redis_password, key, v, source, read,
                           err, errlen);
  } else if (!strcmp(key, "BATCHING_AGENT_HOST")) {
    snprintf(c->agent_host, sizeof c->agent_host, "%s", v);
  } else if (!strcmp(key, "BATCHING_AGENT_PORT")) {
    return set_port(&c->agent_port, key, v, source, err, errlen);
  } else if (!strcmp(key, "BATCHING_AGENT_METRICS_URL")) {
    snprintf(c->agent_metrics_url, sizeof c->agent_metrics_url, "%s", v);
  } else if (!strcmp(key, "BATCHING_AGENT_PASSWORD")) {
    snprintf(c->agent_password, sizeof c->agent_password, "%s", v);
  } else if (!strcmp(key, "BATCHING_AGENT_PASSWORD_FILE")) {
    return set_secret_file(c->agent_password, sizeof c->agent_password, key, v, source, read,
                           err, errlen);
  }
  return RB_OK;
}

struct envfile_ctx {
  struct job_config *c;
  const char *source;
  job_file_reader read;
  char *err;
  size_t errlen;
  enum rb_err rc;
};

static int envfile_entry(const char *key, const char *value, int line, void *arg) {
  struct envfile_ctx *x = arg;
  char where[128];
  snprintf(where, sizeof where, "%s:%d", x->source, line);
  x->rc = apply_key(x->c, key, value, where, x->read, x->err, x->errlen);
  return x->rc != RB_OK;
}

enum rb_err job_config_apply_envfile(struct job_config *c, const char *text, size_t len,
                                     const char *source, job_file_reader read, char *err,
                                     size_t errlen) {
  struct envfile_ctx x = {c, source, read, err, errlen, RB_OK};
  char perr[200];
  enum rb_err rc = rb_envfile_parse(text, len, envfile_entry, &x, perr, sizeof perr);
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
        if (!strcmp(line, "NAMESPACE") && eq[1]) snprintf(c->namespace_, sizeof c->namespace_, "%s", eq + 1);
      }
      explicit_bzero(line, sizeof line);
    }
    p = nl ? nl + 1 : end;
  }
}

enum rb_err job_config_apply_environ(struct job_config *c, job_env_lookup lookup,
                                     job_file_reader read, char *err, size_t errlen) {
  static const char *const keys[] = {
      "WHISK_APIHOST", "OPENWHISK_APIHOST", "WHISK_AUTH", "OPENWHISK_AUTH",
      "OPENWHISK_AUTH_FILE", "WHISK_NAMESPACE", "OPENWHISK_NAMESPACE", "REDIS_HOST",
      "REDIS_PORT", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE", "BATCHING_AGENT_HOST",
      "BATCHING_AGENT_PORT", "BATCHING_AGENT_PASSWORD", "BATCHING_AGENT_PASSWORD_FILE",
      "BATCHING_AGENT_METRICS_URL"};
  char value[JOB_SECRET_MAX];
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    if (!lookup(keys[i], value, sizeof value)) continue;
    char source[64];
    snprintf(source, sizeof source, "environment %s", keys[i]);
    enum rb_err rc = apply_key(c, keys[i], value, source, read, err, errlen);
    explicit_bzero(value, sizeof value);
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
        return NULL;
      }
      buf = b;
      cap = ncap;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  bool bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
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

enum rb_err job_config_load(struct job_config *c, const char *env_path, bool env_required,
                            char *err, size_t errlen) {
  job_config_init(c);
  load_wskprops(c);
  if (env_path && *env_path) {
    size_t len = 0;
    char *text = job_read_file(env_path, &len);
    if (!text && env_required)
      return rb_errorf(RB_ERR_NOT_FOUND, err, errlen, "cannot read env file %s", env_path);
    if (text) {
      enum rb_err rc = job_config_apply_envfile(c, text, len, env_path, job_read_file, err, errlen);
      explicit_bzero(text, len);
      free(text);
      if (rc != RB_OK) return rc;
    }
  }
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
    job_backend_public_endpoint(c->agent_metrics_url, pub, sizeof pub);
    cJSON_AddStringToObject(o, "agent_metrics_url", pub);
  }
  return o;
}
