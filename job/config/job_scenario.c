/* job_scenario.c: the YAML scenario parser (libyaml document API, every error located). */
#include "job_scenario.h"

#include "job_shard.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "job_config.h"
#include "rb_name.h"
#include "rb_str.h"
#include "rb_workload.h"

void job_target_conf_defaults(struct job_target_conf *t) {
  memset(t, 0, sizeof *t);
  t->kind = JOB_TARGET_LOCAL;
  snprintf(t->action, sizeof t->action, "redis_benchmark/redis_benchmark");
  t->request_timeout = 65;
  t->poll_timeout = 120;
  t->drain_timeout = 10;
  t->pool_size = 8;
}

void job_target_conf_overlay(struct job_target_conf *dst, const struct job_target_conf *src) {
  if (src->set & JOB_TC_KIND) dst->kind = src->kind;
  if (src->set & JOB_TC_ACTION) memcpy(dst->action, src->action, sizeof dst->action);
  if (src->set & JOB_TC_INSECURE) dst->insecure = src->insecure;
  if (src->set & JOB_TC_ACTION_BIN)
    memcpy(dst->action_bin, src->action_bin, sizeof dst->action_bin);
  if (src->set & JOB_TC_ENV_FILE) {
    memcpy(dst->env_file, src->env_file, sizeof dst->env_file);
    memcpy(dst->env_file_at, src->env_file_at, sizeof dst->env_file_at);
  }
  if (src->set & JOB_TC_REQUEST_TIMEOUT) dst->request_timeout = src->request_timeout;
  if (src->set & JOB_TC_POLL_TIMEOUT) dst->poll_timeout = src->poll_timeout;
  if (src->set & JOB_TC_DRAIN_TIMEOUT) dst->drain_timeout = src->drain_timeout;
  if (src->set & JOB_TC_POOL_SIZE) dst->pool_size = src->pool_size;
  if (src->set & JOB_TC_AGENT_METRICS)
    memcpy(dst->agent_metrics, src->agent_metrics, sizeof dst->agent_metrics);
  if (src->set & JOB_TC_WAIT_FOR_ACTION) dst->wait_for_action = src->wait_for_action;
  dst->set |= src->set;
}

const char *job_target_kind_name(enum job_target_kind k) {
  return k == JOB_TARGET_OPENWHISK ? "openwhisk" : "local";
}

/* Parser state: the document, the file name, and the error buffer. */
struct sp {
  yaml_document_t *doc;
  const char *file;
  char *err;
  size_t errlen;
};

static enum rb_err fail_at(struct sp *s, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum rb_err fail_at(struct sp *s, const yaml_node_t *n, const char *fmt, ...) {
  char msg[1400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return rb_errorf(RB_ERR_PARSE, s->err, s->errlen, "%s:%zu:%zu: %s", s->file,
                   n->start_mark.line + 1, n->start_mark.column + 1, msg);
}

static const char *node_kind(const yaml_node_t *n) {
  if (n->type == YAML_MAPPING_NODE) return "a mapping";
  if (n->type == YAML_SEQUENCE_NODE) return "a list";
  return "a scalar";
}

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static bool quoted(const yaml_node_t *n) {
  return n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
         n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

static bool looks_secret(const char *key) {
  static const char *const words[] = {"password", "passwd", "auth", "token", "secret", "key"};
  if (strcmp(key, "key_prefix") == 0 || strcmp(key, "key_space") == 0) return false;
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strstr(key, words[i])) return true;
  return false;
}

static enum rb_err expect_kind(struct sp *s, const yaml_node_t *n, yaml_node_type_t t,
                               const char *what) {
  if (n->type == t) return RB_OK;
  return fail_at(s, n, "%s: expected %s", what,
                 t == YAML_MAPPING_NODE    ? "a mapping"
                 : t == YAML_SEQUENCE_NODE ? "a list"
                                           : "a scalar");
}

/* Edit distance (insertions, deletions, substitutions) of two short strings, capped. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb) {
  size_t row[64];
  if (la >= 63 || lb >= 63) return 99;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The allowed key (in the ", "-separated list) within 2 edits of key, or NULL. Static
 * storage. */
static const char *nearest_key(const char *key, const char *allowed) {
  static char best[64];
  size_t best_d = 3;
  const char *p = allowed;
  while (*p) {
    size_t n = strcspn(p, ",");
    size_t d = edit_distance(key, strlen(key), p, n);
    if (d < best_d && n < sizeof best) {
      best_d = d;
      snprintf(best, sizeof best, "%.*s", (int)n, p);
    }
    p += n;
    while (*p == ',' || *p == ' ') p++;
  }
  return best_d <= 2 ? best : NULL;
}

static enum rb_err unknown_key(struct sp *s, const yaml_node_t *k, const char *where,
                               const char *allowed) {
  if (looks_secret(scalar(k)))
    return fail_at(s, k,
                   "'%s' looks like a secret: scenarios never hold secrets; set it in the env "
                   "file, the environment or a *_FILE path (see docs/scenarios.md)%s",
                   scalar(k), "");
  char msg[1400];
  const char *near = nearest_key(scalar(k), allowed);
  if (near)
    snprintf(msg, sizeof msg, "unknown key '%s' in %s; did you mean '%s'? (every key: %s)",
             scalar(k), where, near, allowed);
  else
    snprintf(msg, sizeof msg, "unknown key '%s' in %s; expected one of: %s", scalar(k), where,
             allowed);
  return fail_at(s, k, "%s%s", msg, "");
}

static char *params_allowed(char *buf, size_t len, bool with_name) {
  size_t n = (size_t)snprintf(buf, len, "%s", with_name ? "name" : "");
  for (size_t i = 0; i < job_params_field_count && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", job_params_fields[i].name);
  if (n < len) snprintf(buf + n, len - n, ", slo, search");
  return buf;
}

/* ---- sweeps: rate as a list or a ramp, and the SLO (docs/scenarios.md, "Sweeps") ------ */

/* A plain (unquoted) number in (lo, hi] (lo inclusive when lo_inclusive). */
static bool number_in(const yaml_node_t *v, double lo, bool lo_inclusive, double hi, double *out) {
  if (v->type != YAML_SCALAR_NODE || quoted(v) || !*scalar(v)) return false;
  char *end = NULL;
  double d = strtod(scalar(v), &end);
  if (*end || !(lo_inclusive ? d >= lo : d > lo) || !(d <= hi)) return false;
  *out = d;
  return true;
}

static enum rb_err rate_list(struct sp *s, struct job_rate_sweep *sw, const yaml_node_t *list) {
  size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
  if (n == 0) return fail_at(s, list, "rate: expected at least one rate in the list%s%s", "", "");
  if (n > JOB_SWEEP_MAX_STEPS)
    return fail_at(s, list, "rate: a list of %zu rates; at most %d", n, JOB_SWEEP_MAX_STEPS);
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(s->doc, list->data.sequence.items.start[i]);
    double r = 0;
    if (!number_in(item, 0, false, 1e6, &r) || job_rate_round(r) <= 0)
      return fail_at(s, item,
                     "rate[%zu]: expected a number of invocations per second above 0 "
                     "and at most 1000000",
                     i);
    r = job_rate_round(r);
    if (i > 0 && r <= sw->list[i - 1])
      return fail_at(s, item,
                     "rate[%zu]: the rates of a sweep must be strictly increasing, "
                     "got %g after %g",
                     i, r, sw->list[i - 1]);
    sw->list[i] = r;
  }
  sw->list_count = n;
  sw->form = JOB_RATE_LIST;
  return RB_OK;
}

/* Walks a small mapping (ramp, slo): scalar keys, each at most once; calls key_fn. */
typedef enum rb_err (*sweep_key_fn)(struct sp *s, void *dst, const yaml_node_t *k,
                                    const yaml_node_t *v);

static enum rb_err small_map(struct sp *s, const yaml_node_t *map, const char *what, void *dst,
                             sweep_key_fn fn) {
  enum rb_err rc = expect_kind(s, map, YAML_MAPPING_NODE, what);
  for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
       rc == RB_OK && pr < map->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = yaml_document_get_node(s->doc, pr->key);
    rc = expect_kind(s, k, YAML_SCALAR_NODE, "key");
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; rc == RB_OK && q < pr; q++)
      if (!strcmp(scalar(yaml_document_get_node(s->doc, q->key)), scalar(k)))
        rc = fail_at(s, k, "%s: key '%s' is given twice", what, scalar(k));
    if (rc == RB_OK) rc = fn(s, dst, k, yaml_document_get_node(s->doc, pr->value));
  }
  return rc;
}

static enum rb_err ramp_key(struct sp *s, void *dst, const yaml_node_t *k, const yaml_node_t *v) {
  struct job_rate_sweep *sw = dst;
  const char *key = scalar(k);
  if (!strcmp(key, "until_slo")) {
    const char *x = v->type == YAML_SCALAR_NODE && !quoted(v) ? scalar(v) : "";
    if (strcmp(x, "true") && strcmp(x, "false"))
      return fail_at(s, v, "rate: until_slo: expected true or false%s%s", "", "");
    sw->until_slo = !strcmp(x, "true");
    return RB_OK;
  }
  struct {
    const char *name;
    double *out;
    double lo, hi;
    const char *expect;
  } nums[] = {
      {"from", &sw->from, 0, 1e6, "a number of invocations per second above 0 and at most 1000000"},
      {"factor", &sw->factor, 1, 100, "a number above 1 and at most 100"},
      {"max", &sw->max, 0, 1e6, "a number of invocations per second above 0 and at most 1000000"}};
  for (size_t i = 0; i < 3; i++) {
    if (strcmp(key, nums[i].name)) continue;
    if (!number_in(v, nums[i].lo, false, nums[i].hi, nums[i].out))
      return fail_at(s, v, "rate: %s: expected %s", key, nums[i].expect);
    return RB_OK;
  }
  return unknown_key(s, k, "rate (a ramp)", "from, factor, until_slo, max");
}

static enum rb_err rate_ramp(struct sp *s, struct job_rate_sweep *sw, const yaml_node_t *map) {
  struct job_rate_sweep r = *sw;
  r.from = 0, r.factor = 2, r.max = 0, r.until_slo = true;
  enum rb_err rc = small_map(s, map, "rate", &r, ramp_key);
  if (rc != RB_OK) return rc;
  if (r.from <= 0)
    return fail_at(
        s, map,
        "rate: a ramp needs 'from' (the first rate), e.g. {from: 50, factor: 2, max: 800}%s", "");
  r.from = job_rate_round(r.from);
  if (r.from <= 0)
    return fail_at(s, map, "rate: from: expected at least 0.001 invocations per second%s%s", "",
                   "");
  r.form = JOB_RATE_RAMP;
  char msg[300];
  if (job_sweep_check(&r, msg, sizeof msg) != RB_OK) return fail_at(s, map, "%s%s", msg, "");
  *sw = r;
  return RB_OK;
}

static enum rb_err slo_key(struct sp *s, void *dst, const yaml_node_t *k, const yaml_node_t *v) {
  struct job_slo *slo = dst;
  const char *key = scalar(k);
  if (!strcmp(key, "p99_ms")) {
    if (!number_in(v, 0, false, 86400000, &slo->p99_ms))
      return fail_at(s, v, "slo: p99_ms: expected a number of milliseconds above 0%s%s", "", "");
    return RB_OK;
  }
  if (!strcmp(key, "max_error_rate")) {
    if (!number_in(v, 0, true, 1, &slo->max_error_rate))
      return fail_at(s, v, "slo: max_error_rate: expected a fraction from 0 to 1 (0.01 = 1%%)%s%s",
                     "", "");
    return RB_OK;
  }
  return unknown_key(s, k, "slo", "p99_ms, max_error_rate");
}

static enum rb_err search_key(struct sp *s, void *dst, const yaml_node_t *k, const yaml_node_t *v) {
  struct job_sweep_search *se = dst;
  const char *key = scalar(k);
  bool is_bool = !strcmp(key, "enabled") || !strcmp(key, "repeat_marginal");
  if (is_bool) {
    const char *x = v->type == YAML_SCALAR_NODE && !quoted(v) ? scalar(v) : "";
    if (strcmp(x, "true") && strcmp(x, "false"))
      return fail_at(s, v, "search: %s: expected true or false%s", key, "");
    if (!strcmp(key, "enabled")) se->enabled = !strcmp(x, "true");
    else se->repeat_marginal = !strcmp(x, "true");
    return RB_OK;
  }
  if (!strcmp(key, "precision")) {
    if (!number_in(v, 0.001, true, 1, &se->precision))
      return fail_at(
          s, v, "search: precision: expected a fraction from 0.001 to 1 (0.1 = 10%%)%s%s", "", "");
    return RB_OK;
  }
  if (!strcmp(key, "floor")) {
    if (!number_in(v, 0, false, 1e6, &se->floor) || job_rate_round(se->floor) <= 0)
      return fail_at(s, v,
                     "search: floor: expected a number of invocations per second from 0.001 to "
                     "1000000%s%s",
                     "", "");
    return RB_OK;
  }
  if (!strcmp(key, "max_steps")) {
    long long n = 0;
    if (v->type != YAML_SCALAR_NODE || quoted(v) ||
        !rb_parse_ll(scalar(v), 0, JOB_SWEEP_MAX_SEARCH, &n))
      return fail_at(s, v, "search: max_steps: expected an integer from 0 to %d%s",
                     JOB_SWEEP_MAX_SEARCH, "");
    se->max_steps = n;
    return RB_OK;
  }
  return unknown_key(s, k, "search", "enabled, precision, max_steps, floor, repeat_marginal");
}

/* rate: [..] / rate: {..} / slo: {..} / search: {..}; *handled false when the key is none of
 * these. */
static enum rb_err sweep_key(struct sp *s, struct job_params *p, const yaml_node_t *k,
                             const yaml_node_t *v, bool *handled) {
  const char *key = scalar(k);
  *handled = true;
  if (!strcmp(key, "slo")) {
    struct job_slo slo;
    job_slo_defaults(&slo);
    enum rb_err rc = small_map(s, v, "slo", &slo, slo_key);
    if (rc == RB_OK) p->sweep.slo = slo, p->sweep.slo_set = true;
    return rc;
  }
  if (!strcmp(key, "search")) {
    struct job_sweep_search se;
    job_sweep_search_defaults(&se);
    enum rb_err rc = small_map(s, v, "search", &se, search_key);
    if (rc == RB_OK) p->sweep.search = se, p->sweep.search_set = true;
    return rc;
  }
  if (!strcmp(key, "rate") && v->type == YAML_SEQUENCE_NODE) return rate_list(s, &p->sweep, v);
  if (!strcmp(key, "rate") && v->type == YAML_MAPPING_NODE) return rate_ramp(s, &p->sweep, v);
  *handled = false;
  return RB_OK;
}

/* An error at byte offset at of a scalar's text: its own line and column when the scalar is
 * written on one line (plain or quoted; an escape before the offset may shift it), else the
 * scalar's start. */
static enum rb_err fail_at_offset(struct sp *s, const yaml_node_t *n, size_t at, const char *fmt,
                                  ...) __attribute__((format(printf, 4, 5)));
static enum rb_err fail_at_offset(struct sp *s, const yaml_node_t *n, size_t at, const char *fmt,
                                  ...) {
  char msg[1400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t col = n->start_mark.column + 1;
  bool one_line = n->start_mark.line == n->end_mark.line && n->type == YAML_SCALAR_NODE &&
                  (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || quoted(n)) &&
                  at <= n->data.scalar.length;
  if (one_line && at > 0) col += at + (quoted(n) ? 1 : 0); /* 0: the whole value */
  return rb_errorf(RB_ERR_PARSE, s->err, s->errlen, "%s:%zu:%zu: %s", s->file,
                   n->start_mark.line + 1, col, msg);
}

/* mix: {get: 80, set: 20}: each item checked where it is written (an unknown operation at its
 * name, a bad weight at the weight), then the whole as the string form "get:80,set:20" (a sum
 * of 0 at the mapping). */
static enum rb_err mix_map(struct sp *s, struct job_params *p, const struct job_param_field *f,
                           const yaml_node_t *map) {
  char text[sizeof p->mix * 2] = "";
  size_t n = 0;
  if (map->data.mapping.pairs.start == map->data.mapping.pairs.top)
    return fail_at(s, map, "mix: expected at least one operation: weight, e.g. {get: 80, set: 20}");
  for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
       pr++) {
    const yaml_node_t *k = yaml_document_get_node(s->doc, pr->key);
    const yaml_node_t *v = yaml_document_get_node(s->doc, pr->value);
    enum rb_op op;
    if (k->type != YAML_SCALAR_NODE || !rb_op_from_name(scalar(k), strlen(scalar(k)), &op))
      return fail_at(s, k, "mix: unknown operation '%s'; expected one of %s",
                     k->type == YAML_SCALAR_NODE ? scalar(k) : "(not a scalar)", rb_op_list());
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr; q++) {
      const yaml_node_t *kq = yaml_document_get_node(s->doc, q->key);
      enum rb_op oq;
      if (kq->type == YAML_SCALAR_NODE && rb_op_from_name(scalar(kq), strlen(scalar(kq)), &oq) &&
          oq == op)
        return fail_at(s, k, "mix: operation '%s' is given twice (first at line %zu)", scalar(k),
                       kq->start_mark.line + 1);
    }
    long long w = 0;
    if (v->type != YAML_SCALAR_NODE || quoted(v) || !rb_parse_ll(scalar(v), 0, 1000000, &w))
      return fail_at(s, v, "mix: %s: expected a weight, an integer from 0 to 1000000",
                     rb_op_name(op));
    int m = snprintf(text + n, sizeof text - n, "%s%s:%lld", n ? "," : "", rb_op_name(op), w);
    if (m < 0 || (size_t)m >= sizeof text - n)
      return fail_at(s, map, "mix: too many operations%s", "");
    n += (size_t)m;
  }
  char msg[300];
  if (job_params_set_text(p, f, text, true, msg, sizeof msg) != RB_OK)
    return fail_at(s, map, "%s", msg);
  return RB_OK;
}

/* Sets a job_params field from a scalar node. */
static enum rb_err params_key(struct sp *s, struct job_params *p, const yaml_node_t *k,
                              const yaml_node_t *v, const char *where, bool with_name) {
  const char *key = scalar(k);
  char allowed[1000];
  if (with_name && strcmp(key, "name") == 0) {
    if (v->type != YAML_SCALAR_NODE || !*scalar(v) || strlen(scalar(v)) >= JOB_NAME_MAX ||
        strpbrk(scalar(v), "/\\ "))
      return fail_at(s, v,
                     "name: expected a run name of 1 to %d bytes without '/', '\\' "
                     "or spaces%s",
                     JOB_NAME_MAX - 1, "");
    snprintf(p->name, sizeof p->name, "%s", scalar(v));
    return RB_OK;
  }
  bool handled = false;
  enum rb_err rc = sweep_key(s, p, k, v, &handled);
  if (handled) return rc;
  const struct job_param_field *f = job_params_field(key);
  if (!f) return unknown_key(s, k, where, params_allowed(allowed, sizeof allowed, with_name));
  if (!strcmp(key, "mix") && v->type == YAML_MAPPING_NODE) return mix_map(s, p, f, v);
  if (v->type != YAML_SCALAR_NODE)
    return fail_at(s, v, "%s: expected a scalar, got %s", key, node_kind(v));
  char msg[300];
  size_t at = 0;
  if (job_params_set_text_at(p, f, scalar(v), quoted(v), &at, msg, sizeof msg) != RB_OK)
    return fail_at_offset(s, v, at, "%s", msg);
  if (!strcmp(key, "rate")) p->sweep.form = JOB_RATE_FIXED; /* a plain rate in this layer */
  /* trace_file: a relative path is the scenario file's neighbour, as env_file */
  const char *slash = strrchr(s->file, '/');
  if (!strcmp(key, "trace_file") && p->trace_file[0] != '/' && slash &&
      snprintf(p->trace_file, sizeof p->trace_file, "%.*s/%s", (int)(slash - s->file), s->file,
               scalar(v)) >= (int)sizeof p->trace_file)
    return fail_at(s, v,
                   "trace_file: too long with the scenario's directory in front: at most %zu bytes",
                   sizeof p->trace_file - 1);
  return RB_OK;
}

static enum rb_err params_map(struct sp *s, struct job_params *p, const yaml_node_t *map,
                              const char *where, bool with_name) {
  enum rb_err rc = expect_kind(s, map, YAML_MAPPING_NODE, where);
  for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
       rc == RB_OK && pr < map->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = yaml_document_get_node(s->doc, pr->key);
    yaml_node_t *v = yaml_document_get_node(s->doc, pr->value);
    rc = expect_kind(s, k, YAML_SCALAR_NODE, "key");
    if (rc == RB_OK) rc = params_key(s, p, k, v, where, with_name);
  }
  return rc;
}

/* A number of seconds, at most a day; above 0, or from 0 when zero_ok. */
static enum rb_err seconds_in(struct sp *s, const yaml_node_t *v, const char *key, bool zero_ok,
                              double *out) {
  char *end = NULL;
  double d = v->type == YAML_SCALAR_NODE && !quoted(v) ? strtod(scalar(v), &end) : -1;
  if (!end || *end || d < 0 || (d == 0 && !zero_ok) || d > 86400)
    return fail_at(s, v, "%s: expected a number of seconds %s and at most 86400", key,
                   zero_ok ? "from 0" : "above 0");
  *out = d;
  return RB_OK;
}

static enum rb_err seconds(struct sp *s, const yaml_node_t *v, const char *key, double *out) {
  return seconds_in(s, v, key, false, out);
}

static enum rb_err text_field(struct sp *s, const yaml_node_t *v, const char *key, char *out,
                              size_t len) {
  if (v->type != YAML_SCALAR_NODE || !*scalar(v))
    return fail_at(s, v, "%s: expected a non-empty string%s", key, "");
  if (strlen(scalar(v)) >= len)
    return fail_at(s, v, "%s: too long: %zu bytes, at most %zu", key, strlen(scalar(v)), len - 1);
  snprintf(out, len, "%s", scalar(v));
  return RB_OK;
}

/* target.env_file: a relative path is the scenario file's neighbour (not the current
 * directory's), and where it was written is kept for the error should it not be readable. */
static enum rb_err env_file_field(struct sp *s, struct job_target_conf *t, const yaml_node_t *v) {
  char path[sizeof t->env_file];
  enum rb_err rc = text_field(s, v, "env_file", path, sizeof path);
  if (rc != RB_OK) return rc;
  const char *slash = strrchr(s->file, '/');
  int n = path[0] == '/' || !slash ? snprintf(t->env_file, sizeof t->env_file, "%s", path)
                                   : snprintf(t->env_file, sizeof t->env_file, "%.*s/%s",
                                              (int)(slash - s->file), s->file, path);
  if (n < 0 || (size_t)n >= sizeof t->env_file)
    return fail_at(s, v,
                   "env_file: too long with the scenario's directory in front: at most %zu bytes",
                   sizeof t->env_file - 1);
  snprintf(t->env_file_at, sizeof t->env_file_at, "%s:%zu:%zu", s->file, v->start_mark.line + 1,
           v->start_mark.column + 1);
  t->set |= JOB_TC_ENV_FILE;
  return RB_OK;
}

static enum rb_err target_key(struct sp *s, struct job_target_conf *t, const yaml_node_t *k,
                              const yaml_node_t *v) {
  const char *key = scalar(k);
  if (!strcmp(key, "kind")) {
    const char *x = v->type == YAML_SCALAR_NODE ? scalar(v) : "";
    if (strcmp(x, "local") && strcmp(x, "openwhisk"))
      return fail_at(s, v, "kind: expected local or openwhisk%s%s", "", "");
    t->kind = strcmp(x, "local") ? JOB_TARGET_OPENWHISK : JOB_TARGET_LOCAL;
    t->set |= JOB_TC_KIND;
    return RB_OK;
  }
  if (!strcmp(key, "insecure")) {
    const char *x = v->type == YAML_SCALAR_NODE && !quoted(v) ? scalar(v) : "";
    if (strcmp(x, "true") && strcmp(x, "false"))
      return fail_at(s, v, "insecure: expected true or false%s%s", "", "");
    t->insecure = !strcmp(x, "true");
    t->set |= JOB_TC_INSECURE;
    return RB_OK;
  }
  if (!strcmp(key, "env_file")) return env_file_field(s, t, v);
  if (!strcmp(key, "action")) {
    char msg[600];
    enum rb_err rc = text_field(s, v, key, t->action, sizeof t->action);
    if (rc == RB_OK && rb_name_action_check(t->action, msg, sizeof msg) != RB_OK)
      return fail_at(s, v, "%s", msg);
    t->set |= JOB_TC_ACTION;
    return rc;
  }
  struct {
    const char *name;
    char *buf;
    size_t len;
    unsigned bit;
  } texts[] = {{"action_bin", t->action_bin, sizeof t->action_bin, JOB_TC_ACTION_BIN},
               {"agent_metrics", t->agent_metrics, sizeof t->agent_metrics, JOB_TC_AGENT_METRICS}};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    if (strcmp(key, texts[i].name)) continue;
    t->set |= texts[i].bit;
    return text_field(s, v, key, texts[i].buf, texts[i].len);
  }
  if (!strcmp(key, "pool_size")) {
    long long n = 0;
    if (v->type != YAML_SCALAR_NODE || quoted(v) || !rb_parse_ll(scalar(v), 1, 10000, &n))
      return fail_at(s, v, "pool_size: expected an integer from 1 to 10000");
    t->pool_size = n;
    t->set |= JOB_TC_POOL_SIZE;
    return RB_OK;
  }
  struct {
    const char *name;
    double *out;
    unsigned bit;
  } secs[] = {{"request_timeout", &t->request_timeout, JOB_TC_REQUEST_TIMEOUT},
              {"poll_timeout", &t->poll_timeout, JOB_TC_POLL_TIMEOUT},
              {"drain_timeout", &t->drain_timeout, JOB_TC_DRAIN_TIMEOUT}};
  for (size_t i = 0; i < 3; i++) {
    if (strcmp(key, secs[i].name)) continue;
    t->set |= secs[i].bit;
    return seconds(s, v, key, secs[i].out);
  }
  if (!strcmp(key, "wait_for_action")) {
    t->set |= JOB_TC_WAIT_FOR_ACTION;
    return seconds_in(s, v, key, true, &t->wait_for_action);
  }
  return unknown_key(s, k, "target",
                     "kind, action, insecure, action_bin, env_file, request_timeout, "
                     "poll_timeout, drain_timeout, pool_size, agent_metrics, wait_for_action");
}

static enum rb_err target_map(struct sp *s, struct job_target_conf *t, const yaml_node_t *map) {
  enum rb_err rc = expect_kind(s, map, YAML_MAPPING_NODE, "target");
  for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
       rc == RB_OK && pr < map->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = yaml_document_get_node(s->doc, pr->key);
    rc = expect_kind(s, k, YAML_SCALAR_NODE, "key");
    if (rc == RB_OK) rc = target_key(s, t, k, yaml_document_get_node(s->doc, pr->value));
  }
  return rc;
}

/* Where a run's cross-knob error points: the value of the workload knob the message starts
 * with ("key_space (5) is smaller than ...") when the run gives it, else the run itself. */
static const yaml_node_t *knob_node(struct sp *s, const yaml_node_t *run, const char *msg) {
  static const char *const workload_knobs[] = {"mix",
                                               "key_space",
                                               "keys_per_command",
                                               "structure_size",
                                               "range_span",
                                               "script_work",
                                               "key_distribution",
                                               "zipf_exponent",
                                               "hotspot_keys",
                                               "hotspot_ops",
                                               "gaussian_stddev",
                                               "value_size_range",
                                               "value_size_list",
                                               "value_size",
                                               "seed"};
  size_t n = strspn(msg, "abcdefghijklmnopqrstuvwxyz_");
  bool workload = false;
  for (size_t i = 0; i < sizeof workload_knobs / sizeof workload_knobs[0]; i++)
    workload |= strlen(workload_knobs[i]) == n && !strncmp(workload_knobs[i], msg, n);
  if (!workload || run->type != YAML_MAPPING_NODE) return run;
  for (yaml_node_pair_t *pr = run->data.mapping.pairs.start; pr < run->data.mapping.pairs.top;
       pr++) {
    const yaml_node_t *k = yaml_document_get_node(s->doc, pr->key);
    if (k->type == YAML_SCALAR_NODE && strlen(scalar(k)) == n && !strncmp(scalar(k), msg, n))
      return yaml_document_get_node(s->doc, pr->value);
  }
  return run;
}

static enum rb_err runs_list(struct sp *s, struct job_scenario *sc, const yaml_node_t *list,
                             const struct job_params *defaults) {
  enum rb_err rc = expect_kind(s, list, YAML_SEQUENCE_NODE, "runs");
  if (rc != RB_OK) return rc;
  size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
  if (n == 0) return fail_at(s, list, "runs: expected at least one run%s%s", "", "");
  free(sc->runs);
  sc->runs = calloc(n, sizeof *sc->runs);
  if (!sc->runs) return rb_errorf(RB_ERR_NOMEM, s->err, s->errlen, "out of memory");
  sc->run_count = n;
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(s->doc, list->data.sequence.items.start[i]);
    char where[32];
    snprintf(where, sizeof where, "runs[%zu]", i);
    struct job_params over;
    memset(&over, 0, sizeof over);
    rc = params_map(s, &over, item, where, true);
    if (rc != RB_OK) return rc;
    if (!over.name[0])
      return fail_at(s, item, "%s: missing required key 'name' (it names the run's results file)",
                     where);
    sc->runs[i] = *defaults;
    snprintf(sc->runs[i].name, sizeof sc->runs[i].name, "%s", over.name);
    job_params_overlay(&sc->runs[i], &over);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(sc->runs[j].name, sc->runs[i].name))
        return fail_at(s, item, "%s: run name '%s' is used twice", where, sc->runs[i].name);
    char msg[300];
    if (job_params_validate(&sc->runs[i], msg, sizeof msg) != RB_OK)
      return fail_at(s, knob_node(s, item, msg), "%s: %s", where, msg);
  }
  return RB_OK;
}

static enum rb_err top_scalar(struct sp *s, struct job_scenario *sc, const char *key,
                              const yaml_node_t *v) {
  if (!strcmp(key, "name")) return text_field(s, v, key, sc->name, sizeof sc->name);
  if (!strcmp(key, "description"))
    return text_field(s, v, key, sc->description, sizeof sc->description);
  long long n = 0;
  if (!strcmp(key, "repetitions")) {
    if (v->type != YAML_SCALAR_NODE || quoted(v) || !rb_parse_ll(scalar(v), 1, 1000, &n))
      return fail_at(s, v, "repetitions: expected an integer from 1 to 1000%s%s", "", "");
    sc->repetitions = n;
    return RB_OK;
  }
  if (!strcmp(key, "seed")) {
    if (v->type != YAML_SCALAR_NODE || quoted(v) || !rb_parse_ll(scalar(v), 0, RB_SEED_MAX, &n))
      return fail_at(s, v, "seed: expected an integer from 0 to %lld%s", RB_SEED_MAX, "");
    sc->seed = (unsigned long long)n;
    sc->seed_given = true;
    return RB_OK;
  }
  const char *x = v->type == YAML_SCALAR_NODE ? scalar(v) : "";
  if (!strcmp(key, "start_at")) {
    char msg[300];
    if (v->type != YAML_SCALAR_NODE ||
        job_time_parse(x, "start_at", &sc->start_at_us, msg, sizeof msg) != RB_OK)
      return fail_at(s, v, "%s%s",
                     v->type == YAML_SCALAR_NODE ? msg : "start_at: expected an instant", "");
    return RB_OK;
  }
  if (!strcmp(key, "strict")) {
    if (quoted(v) || (strcmp(x, "true") && strcmp(x, "false")))
      return fail_at(s, v, "strict: expected true or false%s%s", "", "");
    sc->strict = !strcmp(x, "true");
    return RB_OK;
  }
  /* order */
  if (!strcmp(x, "interleaved")) sc->order = JOB_ORDER_INTERLEAVED;
  else if (!strcmp(x, "sequential")) sc->order = JOB_ORDER_SEQUENTIAL;
  else if (!strcmp(x, "random")) sc->order = JOB_ORDER_RANDOM;
  else return fail_at(s, v, "order: expected interleaved, sequential or random%s%s", "", "");
  return RB_OK;
}

static enum rb_err top_level(struct sp *s, struct job_scenario *sc, const yaml_node_t *root) {
  if (!root) return rb_errorf(RB_ERR_PARSE, s->err, s->errlen, "%s: empty scenario", s->file);
  enum rb_err rc = expect_kind(s, root, YAML_MAPPING_NODE, "scenario");
  const yaml_node_t *runs = NULL;
  for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
       rc == RB_OK && pr < root->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = yaml_document_get_node(s->doc, pr->key);
    yaml_node_t *v = yaml_document_get_node(s->doc, pr->value);
    rc = expect_kind(s, k, YAML_SCALAR_NODE, "key");
    if (rc != RB_OK) break;
    const char *key = scalar(k);
    if (!strcmp(key, "target")) rc = target_map(s, &sc->target, v);
    else if (!strcmp(key, "defaults")) rc = params_map(s, &sc->defaults, v, "defaults", false);
    else if (!strcmp(key, "runs")) runs = v;
    else if (!strcmp(key, "name") || !strcmp(key, "description") || !strcmp(key, "repetitions") ||
             !strcmp(key, "seed") || !strcmp(key, "order") || !strcmp(key, "strict") ||
             !strcmp(key, "start_at"))
      rc = top_scalar(s, sc, key, v);
    else
      rc = unknown_key(s, k, "the scenario",
                       "name, description, target, defaults, runs, repetitions, order, seed, "
                       "strict, start_at");
  }
  if (rc != RB_OK) return rc;
  if (!sc->name[0]) return fail_at(s, root, "missing required key 'name'%s%s", "", "");
  if (!runs) return fail_at(s, root, "missing required key 'runs' (a list of runs)%s%s", "", "");
  return runs_list(s, sc, runs, &sc->defaults);
}

/* YAML 1.2 requires the keys of a mapping to be unique, libyaml does not check it, and the
 * walks below would let the last one win. One pass over every mapping of the document, at
 * any depth, before anything is interpreted; the error points at the earliest second one. */
static enum rb_err unique_keys(struct sp *s) {
  const yaml_node_t *dup = NULL, *first = NULL;
  for (const yaml_node_t *n = s->doc->nodes.start; n < s->doc->nodes.top; n++) {
    if (n->type != YAML_MAPPING_NODE) continue;
    for (const yaml_node_pair_t *b = n->data.mapping.pairs.start; b < n->data.mapping.pairs.top;
         b++) {
      const yaml_node_t *kb = yaml_document_get_node(s->doc, b->key);
      if (!kb || kb->type != YAML_SCALAR_NODE) continue;
      if (dup && kb->start_mark.index >= dup->start_mark.index) continue;
      for (const yaml_node_pair_t *a = n->data.mapping.pairs.start; a < b; a++) {
        const yaml_node_t *ka = yaml_document_get_node(s->doc, a->key);
        if (ka && ka->type == YAML_SCALAR_NODE && !strcmp(scalar(ka), scalar(kb))) {
          dup = kb, first = ka;
          break;
        }
      }
    }
  }
  if (!dup) return RB_OK;
  return fail_at(s, dup,
                 "duplicate key '%s' (first given at line %zu, column %zu): keys must be "
                 "unique in a mapping",
                 scalar(dup), first->start_mark.line + 1, first->start_mark.column + 1);
}

static void scenario_init(struct job_scenario *sc) {
  memset(sc, 0, sizeof *sc);
  job_target_conf_defaults(&sc->target);
  job_params_defaults(&sc->defaults);
  sc->repetitions = 1;
  sc->seed = 1;
}

enum rb_err job_scenario_parse(const char *text, size_t len, const char *filename,
                               struct job_scenario *out, char *err, size_t errlen) {
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser))
    return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    enum rb_err rc = rb_errorf(RB_ERR_PARSE, err, errlen, "%s:%zu:%zu: %s", filename,
                               parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                               parser.problem ? parser.problem : "malformed YAML");
    yaml_parser_delete(&parser);
    return rc;
  }
  struct job_scenario sc;
  scenario_init(&sc);
  struct sp s = {&doc, filename, err, errlen};
  enum rb_err rc = unique_keys(&s);
  if (rc == RB_OK) rc = top_level(&s, &sc, yaml_document_get_root_node(&doc));
  /* the scenario's seed is also the workload seed of every run that sets none */
  for (size_t i = 0; rc == RB_OK && sc.seed_given && i < sc.run_count; i++)
    if (!job_params_is_set(&sc.runs[i], "seed")) sc.runs[i].seed = (long long)sc.seed;
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (rc != RB_OK) {
    free(sc.runs);
    return rc;
  }
  *out = sc;
  return RB_OK;
}

enum rb_err job_scenario_load(const char *path, struct job_scenario *out, char *err,
                              size_t errlen) {
  size_t len = 0;
  char *text = job_read_named_file(path, "scenario", &len, err, errlen);
  if (!text) return RB_ERR_IO;
  enum rb_err rc = job_scenario_parse(text, len, path, out, err, errlen);
  free(text);
  return rc;
}

void job_scenario_free(struct job_scenario *s) {
  if (!s) return;
  free(s->runs);
  s->runs = NULL;
  s->run_count = 0;
}

enum rb_err job_scenario_single(const struct job_params *params,
                                const struct job_target_conf *target, struct job_scenario *out) {
  scenario_init(out);
  snprintf(out->name, sizeof out->name, "%s", params->name);
  out->target = *target;
  out->defaults = *params;
  out->runs = calloc(1, sizeof *out->runs);
  if (!out->runs) return RB_ERR_NOMEM;
  out->runs[0] = *params;
  out->run_count = 1;
  return RB_OK;
}

enum rb_err job_scenario_plan(const struct job_scenario *s, size_t **plan, long long **rep,
                              size_t *count) {
  size_t n = s->run_count * (size_t)s->repetitions;
  *plan = malloc(n * sizeof **plan);
  *rep = malloc(n * sizeof **rep);
  if (!*plan || !*rep) {
    free(*plan);
    free(*rep);
    return RB_ERR_NOMEM;
  }
  size_t i = 0;
  if (s->order == JOB_ORDER_SEQUENTIAL) {
    for (size_t r = 0; r < s->run_count; r++)
      for (long long k = 1; k <= s->repetitions; k++, i++) (*plan)[i] = r, (*rep)[i] = k;
  } else {
    for (long long k = 1; k <= s->repetitions; k++)
      for (size_t r = 0; r < s->run_count; r++, i++) (*plan)[i] = r, (*rep)[i] = k;
  }
  if (s->order == JOB_ORDER_RANDOM) {
    /* Shuffle within each repetition so every run still gets its k-th turn in block k. */
    uint64_t x = s->seed ? s->seed : 1;
    for (long long k = 0; k < s->repetitions; k++) {
      size_t *blk = *plan + (size_t)k * s->run_count;
      for (size_t j = s->run_count; j > 1; j--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t m = (size_t)(x % j);
        size_t t = blk[j - 1];
        blk[j - 1] = blk[m];
        blk[m] = t;
      }
    }
  }
  *count = n;
  return RB_OK;
}
