/* action_params.c: parsing and validation of the action's parameters. */
#include "action_params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_json.h"
#include "rb_name.h"
#include "rb_str.h"

const char *action_op_name(enum rb_op op) { return rb_op_name(op); }

static const char *const placement_names[] = {"direct", "runtime", "agent"};

const char *action_placement_name(enum action_placement pl) {
  return (unsigned)pl < 3 ? placement_names[pl] : "unknown";
}

/* placement (a name) against use_batching: agent is use_batching's meaning; the two may not
 * disagree when both are given. */
static enum rb_err parse_placement(const cJSON *value, struct action_params *p, char *err,
                                   size_t errlen) {
  const cJSON *pl = value ? cJSON_GetObjectItemCaseSensitive(value, "placement") : NULL;
  const cJSON *ub = value ? cJSON_GetObjectItemCaseSensitive(value, "use_batching") : NULL;
  p->placement = p->use_batching ? ACTION_PLACE_AGENT : ACTION_PLACE_DIRECT;
  if (!pl || cJSON_IsNull(pl)) return RB_OK;
  char name[16];
  enum rb_err rc = rb_json_get_text(pl, "placement", name, sizeof name, err, errlen);
  if (rc != RB_OK) return rc;
  int found = -1;
  for (int i = 0; i < 3; i++)
    if (strcmp(name, placement_names[i]) == 0) found = i;
  if (found < 0)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "placement must be one of direct, runtime, agent, got \"%s\"", name);
  if (ub && !cJSON_IsNull(ub) && p->use_batching != (found == ACTION_PLACE_AGENT))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "placement \"%s\" contradicts use_batching %s (use_batching true means "
                     "placement agent): give one of them",
                     name, p->use_batching ? "true" : "false");
  p->placement = (enum action_placement)found;
  p->use_batching = p->placement == ACTION_PLACE_AGENT;
  return RB_OK;
}

static const char *const known_params[] = {
    "num_ops",          "operation_type",   "use_batching",
    "parallel_calls",   "key_prefix",       "value_size",
    "key_space",        "timeout_ms",       "redis_host",
    "redis_port",       "redis_password",   "agent_host",
    "agent_port",       "agent_password",   "mix",
    "keys_per_command", "structure_size",   "range_span",
    "script_work",      "key_distribution", "zipf_exponent",
    "hotspot_keys",     "hotspot_ops",      "gaussian_stddev",
    "value_size_range", "value_size_list",  "seed",
    "invocation",       "prepare",          "prepare_first",
    "prepare_count",    "placement",        "batch_connections",
    "batch_wait_us",    "batch_coalesce",   NULL};

static void defaults(struct action_params *p) {
  memset(p, 0, sizeof *p);
  p->op = RB_OP_SET;
  rb_workload_defaults(&p->w);
  p->num_ops = 1;
  p->parallel_calls = 1;
  p->value_size = 64;
  p->key_space = 0; /* resolved to num_ops */
  p->timeout_ms = ACTION_DEFAULT_TIMEOUT_MS;
  p->placement = ACTION_PLACE_DIRECT;
  p->batch_connections = 1;
  snprintf(p->key_prefix, sizeof p->key_prefix, "benchmark");
  snprintf(p->redis_host, sizeof p->redis_host, "127.0.0.1");
  p->redis_port = ACTION_DEFAULT_REDIS_PORT;
  snprintf(p->agent_host, sizeof p->agent_host, "127.0.0.1");
  p->agent_port = ACTION_DEFAULT_AGENT_PORT;
}

static enum rb_err parse_op(const cJSON *item, enum rb_op *op, char *err, size_t errlen) {
  char given[64];
  if (!item) return RB_OK;
  rb_json_describe(item, given, sizeof given);
  if (!cJSON_IsString(item) || !rb_op_from_name(item->valuestring, strlen(item->valuestring), op))
    return rb_errorf(RB_ERR_INVALID, err, errlen, "operation_type must be one of %s; got %s",
                     rb_op_list(), given);
  return RB_OK;
}

/* ---- the workload ---------------------------------------------------------------------- */

/* A text parameter of the workload: a JSON string (numbers are not accepted: "64" as a size
 * list would mean something else). */
static enum rb_err workload_text(const cJSON *item, const char *name, const char *example,
                                 char *out, size_t outlen, char *err, size_t errlen) {
  if (!cJSON_IsString(item)) {
    char given[64];
    rb_json_describe(item, given, sizeof given);
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s must be a string such as \"%s\", got %s",
                     name, example, given);
  }
  if (strlen(item->valuestring) >= outlen)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "%s must be at most %zu bytes, got %zu", name,
                     outlen - 1, strlen(item->valuestring));
  snprintf(out, outlen, "%s", item->valuestring);
  return RB_OK;
}

/* A parse error of rb_workload.h's text parsers, naming the parameter and where. */
static enum rb_err text_error(enum rb_err rc, const char *name, const char *text, size_t at,
                              const char *why, char *err, size_t errlen) {
  return rb_errorf(rc, err, errlen, "%s: %s (at byte %zu of \"%.60s\")", name, why, at, text);
}

/* A number (JSON number, or a string holding one); range checks are rb_workload_check's. */
static enum rb_err get_number(const cJSON *item, const char *name, double *out, char *err,
                              size_t errlen) {
  if (!item) return RB_OK;
  double d = (double)NAN;
  if (cJSON_IsNumber(item)) {
    d = item->valuedouble;
  } else if (cJSON_IsString(item) && item->valuestring[0]) {
    char *end;
    d = strtod(item->valuestring, &end);
    if (*end) d = (double)NAN;
  }
  if (!isfinite(d)) {
    char given[64];
    rb_json_describe(item, given, sizeof given);
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s must be a number, got %s", name, given);
  }
  *out = d;
  return RB_OK;
}

/* An integer in [0, 2^53 - 1] (seed, invocation): exact in JSON. */
static enum rb_err get_uint53(const cJSON *item, const char *name, long long *out, char *err,
                              size_t errlen) {
  if (!item) return RB_OK;
  if (cJSON_IsNumber(item)) {
    double d = item->valuedouble;
    if (d >= 0 && d <= (double)RB_SEED_MAX && d == floor(d)) {
      *out = (long long)d;
      return RB_OK;
    }
  }
  return rb_json_get_int(item, name, 0, RB_SEED_MAX, out, err, errlen);
}

static enum rb_err parse_mix(const cJSON *item, struct action_params *p, char *err, size_t errlen) {
  char text[ACTION_MIX_MAX], why[256];
  size_t at = 0;
  enum rb_err rc;
  if (!item) return RB_OK;
  if ((rc = workload_text(item, "mix", "get:80,set:20", text, sizeof text, err, errlen)) != RB_OK)
    return rc;
  if ((rc = rb_workload_parse_mix(text, p->w.weight, &at, why, sizeof why)) != RB_OK)
    return text_error(rc, "mix", text, at, why, err, errlen);
  p->mixed = true;
  for (int i = 0; i < RB_OP_COUNT; i++) {
    if (p->w.weight[i]) {
      p->op = (enum rb_op)i;
      break;
    }
  }
  return RB_OK;
}

static enum rb_err parse_sizes(const cJSON *value, struct action_params *p, char *err,
                               size_t errlen) {
  const cJSON *range = cJSON_GetObjectItemCaseSensitive(value, "value_size_range");
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(value, "value_size_list");
  char text[ACTION_MIX_MAX], why[256];
  size_t at = 0;
  enum rb_err rc;
  p->w.sizes.kind = RB_SIZES_FIXED;
  p->w.sizes.min = p->w.sizes.max = (uint32_t)p->value_size;
  if (range && list)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "value_size_range and value_size_list are both given: give one");
  if (range) {
    if ((rc = workload_text(range, "value_size_range", "64-4096", text, sizeof text, err,
                            errlen)) != RB_OK)
      return rc;
    if ((rc = rb_workload_parse_size_range(text, &p->w.sizes, &at, why, sizeof why)) != RB_OK)
      return text_error(rc, "value_size_range", text, at, why, err, errlen);
  } else if (list) {
    if ((rc = workload_text(list, "value_size_list", "64:80,4096:20", text, sizeof text, err,
                            errlen)) != RB_OK)
      return rc;
    if ((rc = rb_workload_parse_size_list(text, &p->w.sizes, &at, why, sizeof why)) != RB_OK)
      return text_error(rc, "value_size_list", text, at, why, err, errlen);
  }
  return RB_OK;
}

static enum rb_err parse_keydist(const cJSON *item, struct rb_workload *w, char *err,
                                 size_t errlen) {
  if (!item) return RB_OK;
  if (!cJSON_IsString(item) || !rb_keydist_from_name(item->valuestring, &w->keydist)) {
    char given[64];
    rb_json_describe(item, given, sizeof given);
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "key_distribution must be one of sequential, uniform, zipfian, hotspot, "
                     "gaussian; got %s",
                     given);
  }
  return RB_OK;
}

/* Everything of rb_workload.h, then rb_workload_check (its messages name the parameter). */
static enum rb_err parse_workload(const cJSON *value, struct action_params *p, char *err,
                                  size_t errlen) {
  struct rb_workload *w = &p->w;
  long long kpc = w->keys_per_command, ss = w->structure_size, span = w->range_span;
  long long seed = (long long)w->seed;
  enum rb_err rc;
  w->ops = p->num_ops;
  w->key_space = p->key_space;
  memset(w->weight, 0, sizeof w->weight);
  w->weight[p->op] = 1;
#define GET(name) (value ? cJSON_GetObjectItemCaseSensitive(value, name) : NULL)
  if ((rc = parse_mix(GET("mix"), p, err, errlen)) != RB_OK ||
      (rc = rb_json_get_int(GET("keys_per_command"), "keys_per_command", 1, RB_KEYS_PER_COMMAND_MAX,
                            &kpc, err, errlen)) != RB_OK ||
      (rc = rb_json_get_int(GET("structure_size"), "structure_size", 1, RB_STRUCTURE_SIZE_MAX, &ss,
                            err, errlen)) != RB_OK ||
      (rc = rb_json_get_int(GET("range_span"), "range_span", 1, RB_STRUCTURE_SIZE_MAX, &span, err,
                            errlen)) != RB_OK ||
      (rc = rb_json_get_int(GET("script_work"), "script_work", 0, RB_SCRIPT_WORK_MAX,
                            &w->script_work, err, errlen)) != RB_OK ||
      (rc = parse_keydist(GET("key_distribution"), w, err, errlen)) != RB_OK ||
      (rc = get_number(GET("zipf_exponent"), "zipf_exponent", &w->zipf_exponent, err, errlen)) !=
          RB_OK ||
      (rc = get_number(GET("hotspot_keys"), "hotspot_keys", &w->hotspot_keys, err, errlen)) !=
          RB_OK ||
      (rc = get_number(GET("hotspot_ops"), "hotspot_ops", &w->hotspot_ops, err, errlen)) != RB_OK ||
      (rc = get_number(GET("gaussian_stddev"), "gaussian_stddev", &w->gaussian_stddev, err,
                       errlen)) != RB_OK ||
      (rc = get_uint53(GET("seed"), "seed", &seed, err, errlen)) != RB_OK ||
      (rc = get_uint53(GET("invocation"), "invocation", &p->invocation, err, errlen)) != RB_OK ||
      (rc = rb_json_get_bool(GET("prepare"), "prepare", &p->prepare, err, errlen)) != RB_OK)
    return rc;
  if (value && (rc = parse_sizes(value, p, err, errlen)) != RB_OK) return rc;
  w->keys_per_command = (int)kpc;
  w->structure_size = (int)ss;
  w->range_span = (int)span;
  w->seed = (uint64_t)seed;
  if ((rc = rb_workload_check(w, err, errlen)) != RB_OK) return rc;
  /* the keys to prepare: [first, first + count) within the key space */
  const cJSON *first = GET("prepare_first"), *count = GET("prepare_count");
#undef GET
  if ((rc = rb_json_get_int(first, "prepare_first", 0, p->key_space - 1, &p->prepare_first, err,
                            errlen)) != RB_OK)
    return rc;
  p->prepare_count = p->key_space - p->prepare_first;
  if ((rc = rb_json_get_int(count, "prepare_count", 0, RB_KEY_SPACE_MAX, &p->prepare_count, err,
                            errlen)) != RB_OK)
    return rc;
  if (p->prepare_count > p->key_space - p->prepare_first)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "prepare_count must be at most %lld (key_space %lld from prepare_first "
                     "%lld), got %lld",
                     p->key_space - p->prepare_first, p->key_space, p->prepare_first,
                     p->prepare_count);
  return RB_OK;
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
                            &p.timeout_ms, err, errlen)) != RB_OK ||
      (rc = parse_placement(value, &p, err, errlen)) != RB_OK ||
      (rc = rb_json_get_int(GET("batch_connections"), "batch_connections", 1,
                            ACTION_BATCH_CONNECTIONS_MAX, &p.batch_connections, err, errlen)) !=
          RB_OK ||
      (rc = rb_json_get_int(GET("batch_wait_us"), "batch_wait_us", 0, ACTION_BATCH_WAIT_US_MAX,
                            &p.batch_wait_us, err, errlen)) != RB_OK ||
      (rc = rb_json_get_bool(GET("batch_coalesce"), "batch_coalesce", &p.batch_coalesce, err,
                             errlen)) != RB_OK)
    return rc;
#undef GET
  if ((rc = parse_endpoints(value, env, &p, err, errlen)) != RB_OK) return rc;
  if (p.key_space == 0) p.key_space = p.num_ops;
  if ((rc = parse_workload(value, &p, err, errlen)) != RB_OK) return rc;
  if (value) note_ignored(value, &p);
  *out = p;
  return RB_OK;
}

void action_params_endpoint(const struct action_params *p, const char **host, int *port,
                            const char **password) {
  if (p->placement == ACTION_PLACE_AGENT) {
    *host = p->agent_host;
    *port = p->agent_port;
    *password = p->agent_password;
  } else {
    *host = p->redis_host;
    *port = p->redis_port;
    *password = p->redis_password;
  }
}
