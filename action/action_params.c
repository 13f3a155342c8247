/* action_params.c: parsing and validation of the action's parameters. */
#include "action_params.h"

#include <stdio.h>
#include <string.h>

#include "rb_json.h"
#include "rb_name.h"
#include "rb_str.h"

static const char *const op_names[] = {"set", "get", "del", "exists"};

const char *action_op_name(enum action_op op) {
  return (unsigned)op < 4 ? op_names[op] : "unknown";
}

static const char *const known_params[] = {
    "num_ops",        "operation_type", "use_batching", "parallel_calls", "key_prefix",
    "value_size",     "key_space",      "timeout_ms",   "redis_host",     "redis_port",
    "redis_password", "agent_host",     "agent_port",   "agent_password", NULL};

static void defaults(struct action_params *p) {
  memset(p, 0, sizeof *p);
  p->op = ACTION_OP_SET;
  p->num_ops = 1;
  p->parallel_calls = 1;
  p->value_size = 64;
  p->key_space = 0; /* resolved to num_ops */
  p->timeout_ms = ACTION_DEFAULT_TIMEOUT_MS;
  snprintf(p->key_prefix, sizeof p->key_prefix, "benchmark");
  snprintf(p->redis_host, sizeof p->redis_host, "127.0.0.1");
  p->redis_port = ACTION_DEFAULT_REDIS_PORT;
  snprintf(p->agent_host, sizeof p->agent_host, "127.0.0.1");
  p->agent_port = ACTION_DEFAULT_AGENT_PORT;
}

static enum rb_err parse_op(const cJSON *item, enum action_op *op, char *err, size_t errlen) {
  char name[32];
  char given[64];
  if (!item) return RB_OK;
  rb_json_describe(item, given, sizeof given);
  if (!cJSON_IsString(item) || strlen(item->valuestring) >= sizeof name)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "operation_type must be one of set, get, del, exists; got %s", given);
  snprintf(name, sizeof name, "%s", item->valuestring);
  for (char *c = name; *c; c++) {
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  }
  for (int i = 0; i < 4; i++) {
    if (strcmp(name, op_names[i]) == 0) {
      *op = (enum action_op)i;
      return RB_OK;
    }
  }
  return rb_errorf(RB_ERR_INVALID, err, errlen,
                   "operation_type must be one of set, get, del, exists; got %s", given);
}

static enum rb_err check_host(const char *name, const char *s, char *err, size_t errlen) {
  if (!*s) return rb_errorf(RB_ERR_INVALID, err, errlen, "%s must not be empty", name);
  for (const char *c = s; *c; c++) {
    if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '/')
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "%s must be a host name or IP address without spaces", name);
  }
  return RB_OK;
}

/* An endpoint setting: parameter first, else environment variable, else the default. */
struct endpoint_source {
  const char *param;
  const char *env;
};

static enum rb_err endpoint_text(const cJSON *value, action_env_lookup env,
                                 struct endpoint_source src, char *out, size_t outlen, char *err,
                                 size_t errlen) {
  const cJSON *item = value ? cJSON_GetObjectItemCaseSensitive(value, src.param) : NULL;
  if (item) return rb_json_get_text(item, src.param, out, outlen, err, errlen);
  char buf[ACTION_SECRET_MAX];
  if (env && env(src.env, buf, sizeof buf)) {
    if (strlen(buf) >= outlen)
      return rb_errorf(RB_ERR_RANGE, err, errlen, "%s (environment) is too long", src.env);
    snprintf(out, outlen, "%s", buf);
  }
  return RB_OK;
}

static enum rb_err endpoint_port(const cJSON *value, action_env_lookup env,
                                 struct endpoint_source src, int *port, char *err, size_t errlen) {
  const cJSON *item = value ? cJSON_GetObjectItemCaseSensitive(value, src.param) : NULL;
  long long v = *port;
  if (item) {
    enum rb_err rc = rb_json_get_int(item, src.param, 1, 65535, &v, err, errlen);
    if (rc != RB_OK) return rc;
  } else {
    char buf[64];
    if (env && env(src.env, buf, sizeof buf) && buf[0]) {
      if (!rb_parse_ll(buf, 1, 65535, &v))
        return rb_errorf(RB_ERR_RANGE, err, errlen,
                         "%s (environment) must be a port from 1 to 65535, got \"%.20s\"", src.env,
                         buf);
    }
  }
  *port = (int)v;
  return RB_OK;
}

static void note_ignored(const cJSON *value, struct action_params *p) {
  size_t used = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, value) {
    bool known = false;
    for (int i = 0; known_params[i]; i++)
      known = known || strcmp(item->string, known_params[i]) == 0;
    if (known) continue;
    int n = snprintf(p->ignored + used, sizeof p->ignored - used, "%s%.60s", used ? "," : "",
                     item->string);
    if (n < 0 || (size_t)n >= sizeof p->ignored - used) break;
    used += (size_t)n;
  }
}

static enum rb_err parse_endpoints(const cJSON *value, action_env_lookup env,
                                   struct action_params *p, char *err, size_t errlen) {
  enum rb_err rc;
  if ((rc = endpoint_text(value, env, (struct endpoint_source){"redis_host", "REDIS_HOST"},
                          p->redis_host, sizeof p->redis_host, err, errlen)) != RB_OK ||
      (rc = endpoint_port(value, env, (struct endpoint_source){"redis_port", "REDIS_PORT"},
                          &p->redis_port, err, errlen)) != RB_OK ||
      (rc = endpoint_text(value, env, (struct endpoint_source){"redis_password", "REDIS_PASSWORD"},
                          p->redis_password, sizeof p->redis_password, err, errlen)) != RB_OK ||
      (rc = endpoint_text(value, env, (struct endpoint_source){"agent_host", "BATCHING_AGENT_HOST"},
                          p->agent_host, sizeof p->agent_host, err, errlen)) != RB_OK ||
      (rc = endpoint_port(value, env, (struct endpoint_source){"agent_port", "BATCHING_AGENT_PORT"},
                          &p->agent_port, err, errlen)) != RB_OK ||
      (rc = endpoint_text(value, env,
                          (struct endpoint_source){"agent_password", "BATCHING_AGENT_PASSWORD"},
                          p->agent_password, sizeof p->agent_password, err, errlen)) != RB_OK)
    return rc;
  if ((rc = check_host("redis_host", p->redis_host, err, errlen)) != RB_OK) return rc;
  return check_host("agent_host", p->agent_host, err, errlen);
}

enum rb_err action_params_parse(const cJSON *value, action_env_lookup env,
                                struct action_params *out, char *err, size_t errlen) {
  struct action_params p;
  enum rb_err rc;
  defaults(&p);
  if (value && !cJSON_IsObject(value)) {
    char given[64];
    rb_json_describe(value, given, sizeof given);
    return rb_errorf(RB_ERR_INVALID, err, errlen, "parameters must be a JSON object, got %s",
                     given);
  }
#define GET(name) (value ? cJSON_GetObjectItemCaseSensitive(value, name) : NULL)
  if ((rc = rb_json_get_int(GET("num_ops"), "num_ops", 1, ACTION_NUM_OPS_MAX, &p.num_ops, err,
                            errlen)) != RB_OK ||
      (rc = parse_op(GET("operation_type"), &p.op, err, errlen)) != RB_OK ||
      (rc = rb_json_get_bool(GET("use_batching"), "use_batching", &p.use_batching, err, errlen)) !=
          RB_OK ||
      (rc = rb_json_get_int(GET("parallel_calls"), "parallel_calls", 1, ACTION_PARALLEL_MAX,
                            &p.parallel_calls, err, errlen)) != RB_OK ||
      (rc = rb_json_get_text(GET("key_prefix"), "key_prefix", p.key_prefix, sizeof p.key_prefix,
                             err, errlen)) != RB_OK ||
      (rc = rb_name_key_prefix_check(p.key_prefix, err, errlen)) != RB_OK ||
      (rc = rb_json_get_int(GET("value_size"), "value_size", 0, ACTION_VALUE_SIZE_MAX,
                            &p.value_size, err, errlen)) != RB_OK ||
      (rc = rb_json_get_int(GET("key_space"), "key_space", 1, ACTION_KEY_SPACE_MAX, &p.key_space,
                            err, errlen)) != RB_OK ||
      (rc = rb_json_get_int(GET("timeout_ms"), "timeout_ms", 1, ACTION_TIMEOUT_MS_MAX,
                            &p.timeout_ms, err, errlen)) != RB_OK)
    return rc;
#undef GET
  if ((rc = parse_endpoints(value, env, &p, err, errlen)) != RB_OK) return rc;
  if (p.key_space == 0) p.key_space = p.num_ops;
  if (value) note_ignored(value, &p);
  *out = p;
  return RB_OK;
}

void action_params_endpoint(const struct action_params *p, const char **host, int *port,
                            const char **password) {
  if (p->use_batching) {
    *host = p->agent_host;
    *port = p->agent_port;
    *password = p->agent_password;
  } else {
    *host = p->redis_host;
    *port = p->redis_port;
    *password = p->redis_password;
  }
}
