/* job_params.c: the run knobs table, defaults, parsing from text and JSON forms. */
#include "job_params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_arrival.h"
#include "rb_name.h"

/* ---- string knobs' own checks ---------------------------------------------------------- */

static enum rb_err check_choice(const char *name, const char *const *choices, const char *text,
                                char *out, size_t outlen, size_t *at, char *err, size_t errlen) {
  for (size_t i = 0; choices[i]; i++)
    if (strcmp(text, choices[i]) == 0) {
      snprintf(out, outlen, "%s", text);
      return RB_OK;
    }
  char list[200] = "";
  size_t n = 0;
  for (size_t i = 0; choices[i] && n < sizeof list; i++)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", choices[i]);
  *at = 0;
  return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: expected one of %s, got '%.40s'", name, list,
                   text);
}

static enum rb_err check_mix(const char *text, char *out, size_t outlen, size_t *at, char *err,
                             size_t errlen) {
  if (!*text) {
    out[0] = '\0';
    return RB_OK;
  }
  uint32_t w[RB_OP_COUNT];
  char why[200];
  enum rb_err rc = rb_workload_parse_mix(text, w, at, why, sizeof why);
  if (rc != RB_OK) return rb_errorf(rc, err, errlen, "mix: %s", why);
  rb_workload_mix_text(w, out, outlen);
  return RB_OK;
}

static enum rb_err check_keydist(const char *text, char *out, size_t outlen, size_t *at, char *err,
                                 size_t errlen) {
  static const char *const c[] = {"sequential", "uniform", "zipfian", "hotspot", "gaussian", NULL};
  return check_choice("key_distribution", c, text, out, outlen, at, err, errlen);
}

/* value_size_range and value_size_list: "" (not given) or what the parser accepts,
 * normalised. */
static enum rb_err check_sizes(const char *name,
                               enum rb_err (*parse)(const char *, struct rb_sizes *, size_t *,
                                                    char *, size_t),
                               const char *text, char *out, size_t outlen, size_t *at, char *err,
                               size_t errlen) {
  struct rb_sizes sz;
  char why[200];
  if (!*text) {
    out[0] = '\0';
    return RB_OK;
  }
  enum rb_err rc = parse(text, &sz, at, why, sizeof why);
  if (rc != RB_OK) return rb_errorf(rc, err, errlen, "%s: %s", name, why);
  rb_workload_sizes_text(&sz, out, outlen);
  return RB_OK;
}

static enum rb_err check_size_range(const char *text, char *out, size_t outlen, size_t *at,
                                    char *err, size_t errlen) {
  return check_sizes("value_size_range", rb_workload_parse_size_range, text, out, outlen, at, err,
                     errlen);
}

static enum rb_err check_size_list(const char *text, char *out, size_t outlen, size_t *at,
                                   char *err, size_t errlen) {
  return check_sizes("value_size_list", rb_workload_parse_size_list, text, out, outlen, at, err,
                     errlen);
}

static enum rb_err check_arrival(const char *text, char *out, size_t outlen, size_t *at, char *err,
                                 size_t errlen) {
  static const char *const c[] = {"constant", "poisson", "bursts", "trace", NULL};
  return check_choice("arrival", c, text, out, outlen, at, err, errlen);
}

static enum rb_err check_trace_format(const char *text, char *out, size_t outlen, size_t *at,
                                      char *err, size_t errlen) {
  static const char *const c[] = {"azure", "timestamps", NULL};
  return check_choice("trace_format", c, text, out, outlen, at, err, errlen);
}

static enum rb_err check_trace_spread(const char *text, char *out, size_t outlen, size_t *at,
                                      char *err, size_t errlen) {
  static const char *const c[] = {"poisson", "constant", NULL};
  return check_choice("trace_spread", c, text, out, outlen, at, err, errlen);
}

static enum rb_err check_placement(const char *text, char *out, size_t outlen, size_t *at,
                                   char *err, size_t errlen) {
  static const char *const c[] = {"direct", "runtime", "agent", NULL};
  return check_choice("placement", c, text, out, outlen, at, err, errlen);
}

static enum rb_err check_backend(const char *text, char *out, size_t outlen, size_t *at, char *err,
                                 size_t errlen) {
  static const char *const c[] = {"env", "start", NULL};
  return check_choice("backend", c, text, out, outlen, at, err, errlen);
}

static enum rb_err check_layer(const char *text, char *out, size_t outlen, size_t *at, char *err,
                               size_t errlen) {
  static const char *const c[] = {"rbench-agent", "nutcracker", NULL};
  return check_choice("layer", c, text, out, outlen, at, err, errlen);
}

/* rbench-agent's flags for a started agent: printable, no quotes (split at spaces), and none
 * that the runner sets itself or that carries a secret. */
static enum rb_err check_layer_args(const char *text, char *out, size_t outlen, size_t *at,
                                    char *err, size_t errlen) {
  static const char *const owned[] = {
      "--listen", "--redis", "--metrics", "--redis-password-file", "--client-password-file", NULL};
  for (const char *c = text; *c; c++) {
    if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\'' || *c == '\\') {
      *at = (size_t)(c - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "layer_args: rbench-agent flags separated by spaces, without quotes or "
                       "control characters (byte %zu)",
                       *at + 1);
    }
  }
  bool value_may_follow = false; /* the previous token was a flag without "=VALUE" */
  for (const char *c = text; *c;) {
    while (*c == ' ') c++;
    if (!*c) break;
    size_t n = strcspn(c, " =");
    for (int i = 0; owned[i]; i++) {
      if (n == strlen(owned[i]) && strncmp(c, owned[i], n) == 0) {
        *at = (size_t)(c - text);
        return rb_errorf(RB_ERR_INVALID, err, errlen,
                         "layer_args: %s is set by the runner for the agent it starts", owned[i]);
      }
    }
    bool flag = strncmp(c, "--", 2) == 0;
    if (!flag && value_may_follow) {
      value_may_follow = false; /* "--workers 2": the flag's value */
      c += strcspn(c, " ");
      continue;
    }
    value_may_follow = flag && c[n] != '=';
    if (!flag) {
      *at = (size_t)(c - text);
      size_t w = strcspn(c, " ");
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "layer_args: expected rbench-agent flags (--flag, --flag VALUE or "
                       "--flag=VALUE), got "
                       "'%.*s'",
                       (int)(w > 60 ? 60 : w), c);
    }
    c += strcspn(c, " ");
  }
  snprintf(out, outlen, "%s", text);
  return RB_OK;
}

static enum rb_err check_action_runtime(const char *text, char *out, size_t outlen, size_t *at,
                                        char *err, size_t errlen) {
  static const char *const c[] = {"process", "container", NULL};
  return check_choice("action_runtime", c, text, out, outlen, at, err, errlen);
}

/* An image reference: oci:LAYOUT_DIR:TAG, or a registry's HOST[:PORT]/NAME[:TAG] (skopeo's
 * docker:// form, without the transport): printable, no spaces or quotes, a tag or digest. */
static enum rb_err check_action_image(const char *text, char *out, size_t outlen, size_t *at,
                                      char *err, size_t errlen) {
  for (const char *c = text; *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '"' || *c == '\\' || *c == '\'') {
      *at = (size_t)(c - text);
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "action_image: a space, quote or control character at byte %zu", *at + 1);
    }
  if (!*text) {
    out[0] = '\0';
    return RB_OK;
  }
  if (strncmp(text, "oci:", 4) == 0) {
    const char *colon = strrchr(text + 4, ':');
    if (!colon || colon == text + 4 || !colon[1]) {
      *at = 0;
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "action_image: expected oci:LAYOUT_DIR:TAG (an OCI layout directory and "
                       "the tag in it), got '%.200s'",
                       text);
    }
  } else {
    const char *slash = strchr(text, '/');
    const char *last = strrchr(text, '/');
    const char *tag = last ? strchr(last, ':') : NULL;
    if (strstr(text, "://") || !slash || slash == text || !last[1] ||
        (!tag && !strchr(text, '@')) || (tag && !tag[1])) {
      *at = 0;
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "action_image: expected a registry reference HOST:PORT/NAME:TAG (e.g. "
                       "127.0.0.1:5000/rbench-action:1, no transport) or oci:LAYOUT_DIR:TAG, got "
                       "'%.200s'",
                       text);
    }
  }
  snprintf(out, outlen, "%s", text);
  return RB_OK;
}

#define F(n, t, field, lo, hi, excl, ex)                                                       \
  {                                                                                            \
    n, t, offsetof(struct job_params, field), sizeof(((struct job_params *)0)->field), lo, hi, \
        excl, ex, NULL                                                                         \
  }
#define S(n, field, lo, ex, chk)                                                                  \
  {                                                                                               \
    n, JOB_P_STRING, offsetof(struct job_params, field), sizeof(((struct job_params *)0)->field), \
        lo, (double)sizeof(((struct job_params *)0)->field) - 1, false, ex, chk                   \
  }

const struct job_param_field job_params_fields[] = {
    F("rate", JOB_P_DOUBLE, rate, 0, 1e6, true,
      "a number of invocations per second above 0 and at most 1000000"),
    F("invocations", JOB_P_INT, invocations, 1, 1e9, false, "an integer from 1 to 1000000000"),
    F("duration", JOB_P_DOUBLE, duration, 0, 864000, true,
      "a number of seconds above 0 and at most 864000"),
    F("warmup", JOB_P_DOUBLE, warmup, 0, 86400, false, "a number of seconds from 0 to 86400"),
    F("ops", JOB_P_INT, ops, 1, 1000000, false, "an integer from 1 to 1000000"),
    F("operation", JOB_P_OPERATION, operation, 0, 0, false,
      "one of set, get, del, exists, incr, mget, mset, hset, hget, hgetall, lpush, lrange, sadd, "
      "smembers, zadd, zrangebyscore, eval"),
    F("batching", JOB_P_BOOL, batching, 0, 0, false, "true or false"),
    F("parallel", JOB_P_INT, parallel, 1, 256, false, "an integer from 1 to 256"),
    F("key_prefix", JOB_P_STRING, key_prefix, 1, JOB_KEY_PREFIX_MAX, false,
      "1 to 128 bytes without spaces or control characters (rbench-action's rule)"),
    F("value_size", JOB_P_INT, value_size, 0, 1048576, false, "an integer from 0 to 1048576"),
    F("key_space", JOB_P_INT, key_space, 0, 2147483647, false,
      "an integer from 0 (the action's default) to 2147483647"),
    F("timeout_ms", JOB_P_INT, timeout_ms, 1, 300000, false, "an integer from 1 to 300000"),
    F("max_in_flight", JOB_P_INT, max_in_flight, 1, 100000, false, "an integer from 1 to 100000"),
    F("connections", JOB_P_INT, connections, 0, 100000, false,
      "an integer from 0 (derived from the rate) to 100000"),
    F("concurrency", JOB_P_INT, concurrency, 0, 100000, false,
      "an integer from 0 (open loop) to 100000"),
    /* the workload */
    S("mix", mix, 0, "operation:weight pairs such as \"get:80,set:20\"", check_mix),
    F("keys_per_command", JOB_P_INT, keys_per_command, 1, RB_KEYS_PER_COMMAND_MAX, false,
      "an integer from 1 to 100"),
    F("structure_size", JOB_P_INT, structure_size, 1, RB_STRUCTURE_SIZE_MAX, false,
      "an integer from 1 to 100000"),
    F("range_span", JOB_P_INT, range_span, 1, RB_STRUCTURE_SIZE_MAX, false,
      "an integer from 1 to 100000"),
    F("script_work", JOB_P_INT, script_work, 0, (double)RB_SCRIPT_WORK_MAX, false,
      "an integer from 0 to 100000000"),
    S("key_distribution", key_distribution, 1,
      "one of sequential, uniform, zipfian, hotspot, gaussian", check_keydist),
    F("zipf_exponent", JOB_P_DOUBLE, zipf_exponent, 0, 5, true, "a number above 0 and at most 5"),
    F("hotspot_keys", JOB_P_DOUBLE, hotspot_keys, 0, 1, true,
      "a fraction of the keys above 0 and at most 1"),
    F("hotspot_ops", JOB_P_DOUBLE, hotspot_ops, 0, 1, false,
      "a fraction of the operations from 0 to 1"),
    F("gaussian_stddev", JOB_P_DOUBLE, gaussian_stddev, 0, 10, true,
      "a fraction of key_space above 0 and at most 10"),
    S("value_size_range", value_size_range, 0, "MIN-MAX in bytes, such as \"64-4096\"",
      check_size_range),
    S("value_size_list", value_size_list, 0,
      "SIZE:WEIGHT pairs in bytes, such as \"64:80,4096:20\"", check_size_list),
    F("seed", JOB_P_INT, seed, 0, (double)RB_SEED_MAX, false,
      "an integer from 0 to 9007199254740991"),
    F("prepare", JOB_P_BOOL, prepare, 0, 0, false, "true or false"),
    /* the arrival process */
    S("arrival", arrival, 1, "one of constant, poisson, bursts, trace", check_arrival),
    F("burst_rate", JOB_P_DOUBLE, burst_rate, 0, 1e6, true,
      "a number of invocations per second above 0 and at most 1000000"),
    F("burst_seconds", JOB_P_DOUBLE, burst_seconds, 0, 86400, true,
      "a number of seconds above 0 and at most 86400"),
    F("base_seconds", JOB_P_DOUBLE, base_seconds, 0, 86400, true,
      "a number of seconds above 0 and at most 86400"),
    S("trace_file", trace_file, 0, "a path of at most 511 bytes", NULL),
    S("trace_format", trace_format, 1, "one of azure, timestamps", check_trace_format),
    S("trace_rows", trace_rows, 1, "\"all\" or data row numbers such as \"1,4-6\"", NULL),
    S("trace_minutes", trace_minutes, 0, "FIRST-LAST minutes of 1 to 1440, such as \"1-60\"", NULL),
    S("trace_spread", trace_spread, 1, "one of poisson, constant", check_trace_spread),
    F("trace_speedup", JOB_P_DOUBLE, trace_speedup, 0, 1e6, true,
      "a factor above 0 and at most 1000000"),
    /* where batching lives */
    S("placement", placement, 1, "one of direct, runtime, agent", check_placement),
    F("action_concurrency", JOB_P_INT, action_concurrency, 1, 1000, false,
      "an integer from 1 to 1000"),
    F("batch_connections", JOB_P_INT, batch_connections, 1, 64, false, "an integer from 1 to 64"),
    F("batch_wait_us", JOB_P_INT, batch_wait_us, 0, 100000, false,
      "an integer number of microseconds from 0 to 100000"),
    F("batch_coalesce", JOB_P_BOOL, batch_coalesce, 0, 0, false, "true or false"),
    S("backend", backend, 1, "one of env, start", check_backend),
    S("layer", layer, 1, "one of rbench-agent, nutcracker", check_layer),
    S("layer_args", layer_args, 0, "rbench-agent flags such as \"--coalesce --workers 2\"",
      check_layer_args),
    F("redis_cpu", JOB_P_DOUBLE, redis_cpu, 0, 64, false,
      "a fraction of one core from 0 (no quota) to 64"),
    /* how the local target runs the action */
    S("action_runtime", action_runtime, 1, "one of process, container", check_action_runtime),
    S("action_image", action_image, 0,
      "an image reference HOST:PORT/NAME:TAG or oci:LAYOUT_DIR:TAG of at most 511 bytes",
      check_action_image),
    F("action_memory", JOB_P_INT, action_memory, 4, 1048576, false,
      "an integer number of MB from 4 to 1048576"),
    F("action_cpu", JOB_P_DOUBLE, action_cpu, 0, 1024, false,
      "a number of cores from 0 (no quota) to 1024"),
};
#undef F
#undef S

const size_t job_params_field_count = sizeof job_params_fields / sizeof job_params_fields[0];
_Static_assert(sizeof job_params_fields / sizeof job_params_fields[0] <= 64,
               "job_params.set has one bit per field");

void job_params_defaults(struct job_params *p) {
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "run");
  p->rate = 10;
  p->invocations = 100;
  p->ops = 10;
  snprintf(p->operation, sizeof p->operation, "set");
  p->parallel = 5;
  snprintf(p->key_prefix, sizeof p->key_prefix, "benchmark");
  p->value_size = 64;
  p->timeout_ms = 5000;
  p->max_in_flight = 100;
  p->keys_per_command = 10;
  p->structure_size = 100;
  p->range_span = 10;
  p->script_work = 1000;
  snprintf(p->key_distribution, sizeof p->key_distribution, "sequential");
  p->zipf_exponent = 0.99;
  p->hotspot_keys = 0.2;
  p->hotspot_ops = 0.8;
  p->gaussian_stddev = 1.0 / 6.0;
  p->seed = 1;
  p->prepare = true;
  snprintf(p->arrival, sizeof p->arrival, "constant");
  p->burst_seconds = 1;
  p->base_seconds = 4;
  snprintf(p->trace_format, sizeof p->trace_format, "azure");
  snprintf(p->trace_rows, sizeof p->trace_rows, "all");
  snprintf(p->trace_spread, sizeof p->trace_spread, "poisson");
  p->trace_speedup = 1;
  snprintf(p->placement, sizeof p->placement, "direct");
  p->action_concurrency = 1;
  p->batch_connections = 1;
  snprintf(p->backend, sizeof p->backend, "env");
  snprintf(p->layer, sizeof p->layer, "rbench-agent");
  snprintf(p->action_runtime, sizeof p->action_runtime, "process");
  p->action_memory = 256;
  job_slo_defaults(&p->sweep.slo);
  job_sweep_search_defaults(&p->sweep.search);
  p->sweep.until_slo = true;
}

void job_sweep_search_defaults(struct job_sweep_search *s) {
  s->enabled = -1;
  s->precision = JOB_SWEEP_DEFAULT_PRECISION;
  s->max_steps = JOB_SWEEP_DEFAULT_SEARCH_STEPS;
  s->floor = 0;
  s->repeat_marginal = true;
}

bool job_sweep_searches(const struct job_rate_sweep *sw) {
  if (sw->form == JOB_RATE_FIXED) return false;
  if (sw->search.enabled >= 0) return sw->search.enabled == 1;
  return sw->form == JOB_RATE_RAMP;
}

double job_sweep_floor(const struct job_rate_sweep *sw) {
  if (sw->search.floor > 0) return job_rate_round(sw->search.floor);
  double first = sw->form == JOB_RATE_LIST ? (sw->list_count ? sw->list[0] : 0) : sw->from;
  double f = job_rate_round(first / JOB_SWEEP_DEFAULT_FLOOR_DIVISOR);
  return f >= 0.001 ? f : 0.001;
}

void job_slo_defaults(struct job_slo *slo) {
  slo->p99_ms = 0;
  slo->max_error_rate = 0.01;
  slo->min_achieved_ratio = JOB_SWEEP_MIN_ACHIEVED;
}

double job_rate_round(double rate) { return round(rate * 1000.0) / 1000.0; }

static double ramp_max(const struct job_rate_sweep *s) {
  return s->max > 0 ? s->max : s->from * pow(s->factor, JOB_SWEEP_DEFAULT_STEPS - 1);
}

static size_t ramp_count(const struct job_rate_sweep *s, size_t cap) {
  double max = ramp_max(s) * (1 + 1e-9);
  size_t n = 0;
  while (n < cap && job_rate_round(s->from * pow(s->factor, (double)n)) <= max) n++;
  return n;
}

size_t job_sweep_step_count(const struct job_rate_sweep *s) {
  if (s->form == JOB_RATE_LIST) return s->list_count;
  if (s->form == JOB_RATE_RAMP && s->factor > 1) return ramp_count(s, JOB_SWEEP_MAX_STEPS);
  return 0;
}

bool job_sweep_step_rate(const struct job_rate_sweep *s, size_t k, double *rate) {
  if (k >= job_sweep_step_count(s)) return false;
  *rate =
      s->form == JOB_RATE_LIST ? s->list[k] : job_rate_round(s->from * pow(s->factor, (double)k));
  return true;
}

enum rb_err job_sweep_check(const struct job_rate_sweep *s, char *err, size_t errlen) {
  if (s->form != JOB_RATE_RAMP) return RB_OK;
  if (!(s->factor > 1) || s->factor > 100)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "rate: factor: expected a number above 1 and at most 100, got %g", s->factor);
  if (s->max > 0 && s->max < s->from)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "rate: max (%g) is below from (%g)", s->max,
                     s->from);
  size_t n = ramp_count(s, JOB_SWEEP_MAX_STEPS + 1);
  if (n > JOB_SWEEP_MAX_STEPS)
    return rb_errorf(
        RB_ERR_RANGE, err, errlen,
        "rate: a ramp from %g by %g up to %g has more than %d steps; raise factor or lower max",
        s->from, s->factor, ramp_max(s), JOB_SWEEP_MAX_STEPS);
  for (size_t k = 1; k < n; k++)
    if (job_rate_round(s->from * pow(s->factor, (double)k)) <=
        job_rate_round(s->from * pow(s->factor, (double)(k - 1))))
      return rb_errorf(RB_ERR_RANGE, err, errlen,
                       "rate: from %g by %g repeats a rate at 0.001/s resolution; raise factor",
                       s->from, s->factor);
  return RB_OK;
}

const struct job_param_field *job_params_field(const char *name) {
  for (size_t i = 0; i < job_params_field_count; i++)
    if (strcmp(job_params_fields[i].name, name) == 0) return &job_params_fields[i];
  return NULL;
}

size_t job_params_field_index(const struct job_param_field *f) {
  return (size_t)(f - job_params_fields);
}

static void describe(const char *text, bool quoted, char *buf, size_t len) {
  size_t n = strlen(text);
  snprintf(buf, len, "%s%.40s%s%s", quoted ? "\"" : "'", text, n > 40 ? "..." : "",
           quoted ? "\"" : "'");
}

static bool parse_double(const char *s, double *out) {
  if (!*s) return false;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v)) return false;
  *out = v;
  return true;
}

static bool in_range(const struct job_param_field *f, double v) {
  return (f->min_exclusive ? v > f->min : v >= f->min) && v <= f->max;
}

static enum rb_err set_number(struct job_params *p, const struct job_param_field *f,
                              const char *text, bool quoted, char *err, size_t errlen) {
  double v = 0;
  char given[64];
  describe(text, quoted, given, sizeof given);
  bool ok = !quoted && parse_double(text, &v) && in_range(f, v);
  if (ok && f->type == JOB_P_INT && v != floor(v)) ok = false;
  if (!ok)
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: expected %s, got %s", f->name, f->expect,
                     given);
  char *base = (char *)p + f->offset;
  if (f->type == JOB_P_INT) *(long long *)(void *)base = (long long)v;
  else *(double *)(void *)base = v;
  return RB_OK;
}

static int parse_bool(const char *s) {
  static const char *const yes[] = {"true", "True", "TRUE", "yes", "on", "1"};
  static const char *const no[] = {"false", "False", "FALSE", "no", "off", "0"};
  for (size_t i = 0; i < 6; i++) {
    if (strcmp(s, yes[i]) == 0) return 1;
    if (strcmp(s, no[i]) == 0) return 0;
  }
  return -1;
}

enum rb_err job_params_set_text(struct job_params *p, const struct job_param_field *f,
                                const char *text, bool is_quoted, char *err, size_t errlen) {
  size_t at = 0;
  return job_params_set_text_at(p, f, text, is_quoted, &at, err, errlen);
}

bool job_params_is_set(const struct job_params *p, const char *name) {
  const struct job_param_field *f = job_params_field(name);
  return f && (p->set & ((uint64_t)1 << job_params_field_index(f))) != 0;
}

static uint64_t field_bit(const char *name) {
  return (uint64_t)1 << job_params_field_index(job_params_field(name));
}

/* batching and placement say the same thing (batching true is placement agent): after one of
 * them was given in a layer, the other follows unless that layer gave it too (then validate
 * refuses a contradiction). */
static void sync_placement(struct job_params *p, const struct job_param_field *given) {
  bool gave_pl = (p->set & field_bit("placement")) != 0;
  bool gave_b = (p->set & field_bit("batching")) != 0;
  if (strcmp(given->name, "placement") == 0 && !gave_b) {
    p->batching = strcmp(p->placement, "agent") == 0;
  } else if (strcmp(given->name, "batching") == 0 && !gave_pl) {
    snprintf(p->placement, sizeof p->placement, "%s", p->batching ? "agent" : "direct");
  }
}

enum rb_err job_params_set_text_at(struct job_params *p, const struct job_param_field *f,
                                   const char *text, bool is_quoted, size_t *at, char *err,
                                   size_t errlen) {
  char given[64];
  *at = 0;
  describe(text, is_quoted, given, sizeof given);
  char *base = (char *)p + f->offset;
  enum rb_err rc = RB_OK;
  switch (f->type) {
    case JOB_P_DOUBLE:
    case JOB_P_INT: rc = set_number(p, f, text, is_quoted, err, errlen); break;
    case JOB_P_BOOL: {
      int b = is_quoted ? -1 : parse_bool(text);
      if (b < 0)
        return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: expected %s, got %s", f->name, f->expect,
                         given);
      *(bool *)(void *)base = b == 1;
      break;
    }
    case JOB_P_OPERATION: {
      enum rb_op op;
      if (!rb_op_from_name(text, strlen(text), &op))
        return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: expected %s, got %s", f->name, f->expect,
                         given);
      snprintf(base, f->size, "%s", rb_op_name(op));
      break;
    }
    case JOB_P_STRING: {
      size_t n = strlen(text);
      if (n < (size_t)f->min || n > (size_t)f->max)
        return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: expected %s, got %zu bytes", f->name,
                         f->expect, n);
      char why[200];
      /* key_prefix goes to rbench-action as is: refused here by the action's own rule, not by
       * every invocation. */
      if (f->offset == offsetof(struct job_params, key_prefix) &&
          rb_name_key_prefix_check(text, why, sizeof why) != RB_OK)
        return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: rbench-action would refuse it: %s",
                         f->name, why);
      if (f->check) {
        char norm[512];
        if ((rc = f->check(text, norm, sizeof norm, at, err, errlen)) != RB_OK) return rc;
        if (strlen(norm) >= f->size)
          return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: longer than %zu bytes", f->name,
                           f->size - 1);
        snprintf(base, f->size, "%s", norm);
      } else {
        snprintf(base, f->size, "%s", text);
      }
      break;
    }
  }
  if (rc == RB_OK) {
    p->set |= (uint64_t)1 << job_params_field_index(f);
    sync_placement(p, f);
  }
  return rc;
}

void job_params_overlay(struct job_params *dst, const struct job_params *src) {
  for (size_t i = 0; i < job_params_field_count; i++) {
    if (!(src->set & ((uint64_t)1 << i))) continue;
    const struct job_param_field *f = &job_params_fields[i];
    memcpy((char *)dst + f->offset, (const char *)src + f->offset, f->size);
    dst->set |= (uint64_t)1 << i;
  }
  /* a higher layer's placement (or batching) replaces the lower layer's other one */
  uint64_t pl = field_bit("placement"), b = field_bit("batching");
  if ((src->set & pl) && !(src->set & b)) {
    dst->set &= ~b;
    dst->batching = strcmp(dst->placement, "agent") == 0;
  } else if ((src->set & b) && !(src->set & pl)) {
    dst->set &= ~pl;
    snprintf(dst->placement, sizeof dst->placement, "%s", dst->batching ? "agent" : "direct");
  }
  uint64_t rate_bit = (uint64_t)1 << job_params_field_index(job_params_field("rate"));
  if (src->sweep.form != JOB_RATE_FIXED) {
    bool slo_set = dst->sweep.slo_set, search_set = dst->sweep.search_set;
    struct job_slo slo = dst->sweep.slo;
    struct job_sweep_search search = dst->sweep.search;
    dst->sweep = src->sweep;
    dst->sweep.slo_set = slo_set, dst->sweep.slo = slo;
    dst->sweep.search_set = search_set, dst->sweep.search = search;
  } else if (src->set & rate_bit) {
    dst->sweep.form = JOB_RATE_FIXED;
  }
  if (src->sweep.slo_set) dst->sweep.slo = src->sweep.slo, dst->sweep.slo_set = true;
  if (src->sweep.search_set) dst->sweep.search = src->sweep.search, dst->sweep.search_set = true;
}

long long job_params_planned(const struct job_params *p) {
  if (p->concurrency > 0) return p->duration > 0 ? 0 : p->invocations;
  if (p->duration > 0) {
    double n = floor(p->rate * p->duration + 1e-9);
    return n < 1 ? 1 : (long long)n;
  }
  return p->invocations;
}

long long job_params_warmup_count(const struct job_params *p) {
  if (p->concurrency > 0) return 0; /* the closed loop's warm-up is by send time */
  return (long long)floor(p->rate * p->warmup + 1e-9);
}

long long job_params_connections(const struct job_params *p) {
  if (p->concurrency > 0) return job_params_connection_limit(p);
  long long n = p->connections;
  /* on/off bursts: enough for the burst's rate, the peak the schedule must keep */
  double peak = !strcmp(p->arrival, "bursts") && p->burst_rate > p->rate ? p->burst_rate : p->rate;
  if (n <= 0) n = (long long)ceil(peak * JOB_CONNECTION_BUSY_S - 1e-9);
  if (n < 1) n = 1;
  return n < p->max_in_flight ? n : p->max_in_flight;
}

long long job_params_connection_limit(const struct job_params *p) {
  if (p->concurrency > 0)
    return p->connections > 0 && p->connections < p->concurrency ? p->connections : p->concurrency;
  return p->connections > 0 && p->connections < p->max_in_flight ? p->connections
                                                                 : p->max_in_flight;
}

static enum rb_err validate_fixed(const struct job_params *p, char *err, size_t errlen) {
  /* another arrival process: its count and warm-up are checked against its times (job_arrival) */
  if (strcmp(p->arrival, "constant") != 0) return RB_OK;
  long long planned = job_params_planned(p);
  if (planned > 1000000000LL)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "rate x duration plans %lld invocations; at most 1000000000", planned);
  if (job_params_warmup_count(p) >= planned)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "warmup (%g s at %g/s) covers all %lld invocations: nothing would be measured",
                     p->warmup, p->rate, planned);
  return RB_OK;
}

/* The closed loop has no rate, so no sweep of rates, and its warm-up is a span of time. */
static enum rb_err validate_closed(const struct job_params *p, char *err, size_t errlen) {
  if (p->sweep.form != JOB_RATE_FIXED)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "concurrency %lld (a closed loop) has no rate to sweep: give a single rate or "
                     "drop concurrency",
                     p->concurrency);
  if (p->duration > 0 && p->warmup >= p->duration)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "warmup (%g s) covers the whole duration (%g s): nothing would be measured",
                     p->warmup, p->duration);
  return RB_OK;
}

enum job_placement job_params_placement(const struct job_params *p) {
  if (strcmp(p->placement, "runtime") == 0) return JOB_PLACE_RUNTIME;
  if (strcmp(p->placement, "agent") == 0) return JOB_PLACE_AGENT;
  return JOB_PLACE_DIRECT;
}

const char *job_placement_name(enum job_placement pl) {
  return pl == JOB_PLACE_RUNTIME ? "runtime" : pl == JOB_PLACE_AGENT ? "agent" : "direct";
}

static enum rb_err validate_placement(const struct job_params *p, char *err, size_t errlen) {
  enum job_placement pl = job_params_placement(p);
  if (p->batching != (pl == JOB_PLACE_AGENT))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "placement %s contradicts batching %s (batching true means placement "
                     "agent): give one of them",
                     p->placement, p->batching ? "true" : "false");
  if (pl != JOB_PLACE_RUNTIME) {
    static const char *const knobs[] = {"batch_connections", "batch_wait_us", "batch_coalesce",
                                        NULL};
    for (int i = 0; knobs[i]; i++)
      if (job_params_is_set(p, knobs[i]))
        return rb_errorf(RB_ERR_INVALID, err, errlen,
                         "%s applies to placement runtime only (this run's placement is %s)",
                         knobs[i], p->placement);
  }
  if (strcmp(p->backend, "start") != 0) {
    static const char *const knobs[] = {"layer", "layer_args", "redis_cpu", NULL};
    for (int i = 0; knobs[i]; i++)
      if (job_params_is_set(p, knobs[i]))
        return rb_errorf(RB_ERR_INVALID, err, errlen,
                         "%s applies to backend start only (the runner starts the backend); "
                         "this run's backend is %s",
                         knobs[i], p->backend);
  }
  if (p->layer_args[0] && strcmp(p->layer, "rbench-agent") != 0)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "layer_args are rbench-agent's flags, but layer is %s", p->layer);
  return RB_OK;
}

bool job_params_container(const struct job_params *p) {
  return strcmp(p->action_runtime, "container") == 0;
}

static const char *const container_knobs[] = {"action_image", "action_memory", "action_cpu", NULL};

static enum rb_err validate_runtime(const struct job_params *p, char *err, size_t errlen) {
  if (!job_params_container(p)) {
    for (int i = 0; container_knobs[i]; i++)
      if (job_params_is_set(p, container_knobs[i]))
        return rb_errorf(RB_ERR_INVALID, err, errlen,
                         "%s applies to action_runtime container only (this run's action_runtime "
                         "is %s)",
                         container_knobs[i], p->action_runtime);
    return RB_OK;
  }
  if (!p->action_image[0])
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "action_runtime container needs action_image: the action's image, "
                     "HOST:PORT/NAME:TAG in a registry or oci:LAYOUT_DIR:TAG");
  return RB_OK;
}

enum rb_err job_params_validate_target(const struct job_params *p, bool openwhisk, char *err,
                                       size_t errlen) {
  if (!openwhisk) return RB_OK;
  if (job_params_container(p))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "action_runtime container needs the local target: with openwhisk the "
                     "invoker runs the action's containers; drop action_runtime");
  for (int i = 0; container_knobs[i]; i++)
    if (job_params_is_set(p, container_knobs[i]))
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "%s applies to the local target's containers only, not to openwhisk (the "
                       "action's own limits apply there)",
                       container_knobs[i]);
  return RB_OK;
}

enum rb_err job_params_validate(const struct job_params *p, char *err, size_t errlen) {
  struct rb_workload w;
  enum rb_err wrc = job_params_workload(p, &w, err, errlen);
  if (wrc != RB_OK) return wrc;
  if ((wrc = job_arrival_check(p, err, errlen)) != RB_OK) return wrc;
  if ((wrc = validate_placement(p, err, errlen)) != RB_OK) return wrc;
  if ((wrc = validate_runtime(p, err, errlen)) != RB_OK) return wrc;
  if (p->concurrency > 0) return validate_closed(p, err, errlen);
  if (p->sweep.form == JOB_RATE_FIXED) return validate_fixed(p, err, errlen);
  enum rb_err rc = job_sweep_check(&p->sweep, err, errlen);
  struct job_params step = *p;
  for (size_t k = 0; rc == RB_OK && job_sweep_step_rate(&p->sweep, k, &step.rate); k++) {
    char msg[300];
    if ((rc = validate_fixed(&step, msg, sizeof msg)) != RB_OK)
      rb_errorf(rc, err, errlen, "at the sweep's rate %g: %s", step.rate, msg);
  }
  return rc;
}

cJSON *job_params_to_json(const struct job_params *p) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "name", p->name);
  for (size_t i = 0; i < job_params_field_count; i++) {
    const struct job_param_field *f = &job_params_fields[i];
    const char *base = (const char *)p + f->offset;
    switch (f->type) {
      case JOB_P_DOUBLE:
        cJSON_AddNumberToObject(o, f->name, *(const double *)(const void *)base);
        break;
      case JOB_P_INT:
        cJSON_AddNumberToObject(o, f->name, (double)*(const long long *)(const void *)base);
        break;
      case JOB_P_BOOL: cJSON_AddBoolToObject(o, f->name, *(const bool *)(const void *)base); break;
      case JOB_P_STRING:
      case JOB_P_OPERATION: cJSON_AddStringToObject(o, f->name, base); break;
    }
  }
  long long planned = job_params_planned(p);
  if (planned > 0) cJSON_AddNumberToObject(o, "planned_invocations", (double)planned);
  else cJSON_AddNullToObject(o, "planned_invocations"); /* closed loop for a duration */
  return o;
}

cJSON *job_params_action_json(const struct job_params *p) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  struct job_params d;
  job_params_defaults(&d);
  cJSON_AddNumberToObject(o, "num_ops", (double)p->ops);
  cJSON_AddStringToObject(o, "operation_type", p->operation);
  cJSON_AddBoolToObject(o, "use_batching", p->batching);
  if (job_params_placement(p) == JOB_PLACE_RUNTIME) {
    /* only then: an action that predates placements refuses nothing it does not know */
    cJSON_AddStringToObject(o, "placement", "runtime");
    cJSON_AddNumberToObject(o, "batch_connections", (double)p->batch_connections);
    cJSON_AddNumberToObject(o, "batch_wait_us", (double)p->batch_wait_us);
    cJSON_AddBoolToObject(o, "batch_coalesce", p->batch_coalesce);
  }
  cJSON_AddNumberToObject(o, "parallel_calls", (double)p->parallel);
  cJSON_AddStringToObject(o, "key_prefix", p->key_prefix);
  cJSON_AddNumberToObject(o, "value_size", (double)p->value_size);
  if (p->key_space > 0) cJSON_AddNumberToObject(o, "key_space", (double)p->key_space);
  cJSON_AddNumberToObject(o, "timeout_ms", (double)p->timeout_ms);
  /* the workload: what differs from the action's defaults (the same as the runner's) */
  cJSON_AddNumberToObject(o, "seed", (double)p->seed);
  if (p->mix[0]) cJSON_AddStringToObject(o, "mix", p->mix);
  if (strcmp(p->key_distribution, d.key_distribution))
    cJSON_AddStringToObject(o, "key_distribution", p->key_distribution);
#define NUM(field) \
  if (p->field != d.field) cJSON_AddNumberToObject(o, #field, (double)p->field);
  NUM(keys_per_command)
  NUM(structure_size)
  NUM(range_span)
  NUM(script_work)
  NUM(zipf_exponent)
  NUM(hotspot_keys)
  NUM(hotspot_ops)
  NUM(gaussian_stddev)
#undef NUM
  if (p->value_size_range[0]) cJSON_AddStringToObject(o, "value_size_range", p->value_size_range);
  if (p->value_size_list[0]) cJSON_AddStringToObject(o, "value_size_list", p->value_size_list);
  return o;
}

enum rb_err job_params_workload(const struct job_params *p, struct rb_workload *w, char *err,
                                size_t errlen) {
  size_t at = 0;
  char why[240];
  enum rb_err rc = RB_OK;
  rb_workload_defaults(w);
  w->ops = p->ops;
  w->key_space = p->key_space > 0 ? p->key_space : p->ops;
  if (p->mix[0]) {
    rc = rb_workload_parse_mix(p->mix, w->weight, &at, why, sizeof why);
    if (rc != RB_OK) return rb_errorf(rc, err, errlen, "mix: %s", why);
  } else {
    enum rb_op op;
    if (!rb_op_from_name(p->operation, strlen(p->operation), &op))
      return rb_errorf(RB_ERR_INVALID, err, errlen, "operation: unknown '%s'", p->operation);
    memset(w->weight, 0, sizeof w->weight);
    w->weight[op] = 1;
  }
  if (!rb_keydist_from_name(p->key_distribution, &w->keydist))
    return rb_errorf(RB_ERR_INVALID, err, errlen, "key_distribution: unknown '%s'",
                     p->key_distribution);
  w->zipf_exponent = p->zipf_exponent;
  w->hotspot_keys = p->hotspot_keys;
  w->hotspot_ops = p->hotspot_ops;
  w->gaussian_stddev = p->gaussian_stddev;
  w->keys_per_command = (int)p->keys_per_command;
  w->structure_size = (int)p->structure_size;
  w->range_span = (int)p->range_span;
  w->script_work = p->script_work;
  w->seed = (uint64_t)p->seed;
  if (p->value_size_range[0] && p->value_size_list[0])
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "value_size_range and value_size_list are both given: give one");
  if (p->value_size_range[0]) {
    rc = rb_workload_parse_size_range(p->value_size_range, &w->sizes, &at, why, sizeof why);
    if (rc != RB_OK) return rb_errorf(rc, err, errlen, "value_size_range: %s", why);
  } else if (p->value_size_list[0]) {
    rc = rb_workload_parse_size_list(p->value_size_list, &w->sizes, &at, why, sizeof why);
    if (rc != RB_OK) return rb_errorf(rc, err, errlen, "value_size_list: %s", why);
  } else {
    w->sizes.kind = RB_SIZES_FIXED;
    w->sizes.min = w->sizes.max = (uint32_t)p->value_size;
  }
  return rb_workload_check(w, err, errlen);
}
