/* action_result.c: error accounting and the JSON form of an activation's result. */
#include "action_result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_hist.h"
#include "rb_version.h"

void action_result_add_error(struct action_result *r, const char *message, uint64_t count) {
  if (count == 0) return;
  r->failed += count;
  for (int i = 0; i < r->error_kinds; i++) {
    if (strncmp(r->errors[i].message, message, ACTION_ERROR_MSG_MAX - 1) == 0) {
      r->errors[i].count += count;
      return;
    }
  }
  if (r->error_kinds == ACTION_ERROR_KINDS) {
    r->other_errors += count;
    return;
  }
  struct action_error_count *e = &r->errors[r->error_kinds++];
  snprintf(e->message, sizeof e->message, "%s", message);
  e->count = count;
}

void action_result_add_op_error(struct action_result *r, enum rb_op op, const char *message,
                                uint64_t count) {
  if ((unsigned)op < RB_OP_COUNT) r->ops[op].failed += count;
  action_result_add_error(r, message, count);
}

void action_result_free(struct action_result *r) {
  free(r->op_lat_us);
  r->op_lat_us = NULL;
}

static double us(uint64_t ns) { return (double)ns / 1000.0; }

static cJSON *latency_json(const struct rb_summary *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "p50", us(s->p50));
  cJSON_AddNumberToObject(o, "p90", us(s->p90));
  cJSON_AddNumberToObject(o, "p99", us(s->p99));
  cJSON_AddNumberToObject(o, "min", us(s->min));
  cJSON_AddNumberToObject(o, "max", us(s->max));
  cJSON_AddNumberToObject(o, "mean", s->mean / 1000.0);
  return o;
}

static cJSON *errors_json(const struct action_result *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  for (int i = 0; i < r->error_kinds; i++)
    cJSON_AddNumberToObject(o, r->errors[i].message, (double)r->errors[i].count);
  if (r->other_errors) cJSON_AddNumberToObject(o, "other errors", (double)r->other_errors);
  return o;
}

/* A connection that could not be made is most often a wrong address: say which parameters set
 * it (a newcomer's batched invocation with only redis_host set reaches the default agent
 * address and fails here). */
static const char *address_hint(bool batching, const char *first) {
  if (!strstr(first, "connect to ")) return "";
  return batching ? "; the agent's address is set by the parameters agent_host and agent_port "
                    "(defaults: BATCHING_AGENT_HOST, BATCHING_AGENT_PORT, else 127.0.0.1:6380)"
                  : "; Redis's address is set by the parameters redis_host and redis_port "
                    "(defaults: REDIS_HOST, REDIS_PORT, else 127.0.0.1:6379)";
}

static void add_error_summary(cJSON *o, const struct action_result *r, bool batching,
                              bool prepare) {
  if (r->failed == 0) return;
  char msg[ACTION_ERROR_MSG_MAX + 600];
  uint64_t total = r->succeeded + r->failed;
  const char *first = r->error_kinds ? r->errors[0].message : "unknown error";
  if (prepare)
    snprintf(msg, sizeof msg, "prepare failed (%s): %s%s", r->target_address, first,
             address_hint(batching, first));
  else
    snprintf(msg, sizeof msg, "%llu of %llu operations failed (%s): %s%s",
             (unsigned long long)r->failed, (unsigned long long)total, r->target_address, first,
             address_hint(batching, first));
  cJSON_AddStringToObject(o, "error", msg);
}

/* "get" for one operation, "mix" for several. */
static const char *operation_label(const struct action_params *p) {
  int n = 0;
  for (int i = 0; i < RB_OP_COUNT; i++) n += p->w.weight[i] > 0;
  return n == 1 ? action_op_name(p->op) : "mix";
}

static cJSON *workload_json(const struct action_params *p) {
  const struct rb_workload *w = &p->w;
  char text[ACTION_MIX_MAX];
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  rb_workload_mix_text(w->weight, text, sizeof text);
  cJSON_AddStringToObject(o, "mix", text);
  cJSON_AddStringToObject(o, "key_distribution", rb_keydist_name(w->keydist));
  cJSON_AddNumberToObject(o, "key_space", (double)w->key_space);
  if (w->keydist == RB_KEYS_ZIPFIAN) cJSON_AddNumberToObject(o, "zipf_exponent", w->zipf_exponent);
  if (w->keydist == RB_KEYS_HOTSPOT) {
    cJSON_AddNumberToObject(o, "hotspot_keys", w->hotspot_keys);
    cJSON_AddNumberToObject(o, "hotspot_ops", w->hotspot_ops);
  }
  if (w->keydist == RB_KEYS_GAUSSIAN)
    cJSON_AddNumberToObject(o, "gaussian_stddev", w->gaussian_stddev);
  rb_workload_sizes_text(&w->sizes, text, sizeof text);
  cJSON_AddStringToObject(o, "value_sizes", text);
  cJSON_AddNumberToObject(o, "keys_per_command", w->keys_per_command);
  cJSON_AddNumberToObject(o, "structure_size", w->structure_size);
  cJSON_AddNumberToObject(o, "range_span", w->range_span);
  cJSON_AddNumberToObject(o, "script_work", (double)w->script_work);
  return o;
}

static cJSON *op_stats_json(const struct action_result *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  for (int t = 0; t < RB_OP_COUNT; t++) {
    const struct action_op_stats *s = &r->ops[t];
    if (s->succeeded + s->failed == 0) continue;
    cJSON *e = cJSON_AddObjectToObject(o, rb_op_name((enum rb_op)t));
    if (!e) break;
    cJSON_AddNumberToObject(e, "succeeded", (double)s->succeeded);
    cJSON_AddNumberToObject(e, "failed", (double)s->failed);
    cJSON_AddNumberToObject(e, "found", (double)s->found);
    const uint64_t *v = r->op_lat_us ? r->op_lat_us + r->op_lat_off[t] : NULL;
    size_t n = v ? r->op_lat_off[t + 1] - r->op_lat_off[t] : 0;
    cJSON_AddItemToObject(e, "latency_us", rb_hist_encode_sorted(v, n));
  }
  return o;
}

/* placement runtime: the batcher's settings and what it did for this activation. */
static cJSON *batch_json(const struct action_params *p, const struct action_result *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "connections", (double)p->batch_connections);
  cJSON_AddNumberToObject(o, "wait_us", (double)p->batch_wait_us);
  cJSON_AddBoolToObject(o, "coalesce", p->batch_coalesce);
  cJSON_AddNumberToObject(o, "pipelines", (double)r->batch_pipelines);
  cJSON_AddNumberToObject(
      o, "ops_per_pipeline",
      r->batch_pipelines ? (double)r->batch_pipeline_ops / (double)r->batch_pipelines : 0.0);
  cJSON_AddNumberToObject(o, "coalesced", (double)r->batch_coalesced);
  return o;
}

static cJSON *prepared_json(const struct action_result *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  static const char *const ns_names[RB_NS_COUNT] = {"string", "counter", "hash",
                                                    "list",   "set",     "zset"};
  cJSON_AddNumberToObject(o, "keys", (double)r->prepared_keys);
  cJSON_AddNumberToObject(o, "elements", (double)r->prepared_elements);
  cJSON *a = cJSON_AddArrayToObject(o, "namespaces");
  for (int i = 0; a && i < RB_NS_COUNT; i++) {
    if (r->prepared_ns & (1u << i)) cJSON_AddItemToArray(a, cJSON_CreateString(ns_names[i]));
  }
  return o;
}

/* The answer of prepare mode: what was written, no operation statistics. */
static cJSON *prepare_to_json(const struct action_params *p, const struct action_result *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  add_error_summary(o, r, p->use_batching, true);
  cJSON_AddBoolToObject(o, "prepare", true);
  cJSON_AddItemToObject(o, "prepared", prepared_json(r));
  cJSON_AddNumberToObject(o, "prepare_first", (double)p->prepare_first);
  cJSON_AddNumberToObject(o, "prepare_count", (double)p->prepare_count);
  cJSON_AddBoolToObject(o, "use_batching", p->use_batching);
  cJSON_AddStringToObject(o, "placement", action_placement_name(p->placement));
  cJSON_AddStringToObject(o, "target", p->use_batching ? "agent" : "redis");
  cJSON_AddStringToObject(o, "target_address", r->target_address);
  cJSON_AddStringToObject(o, "key_prefix", p->key_prefix);
  cJSON_AddNumberToObject(o, "seed", (double)p->w.seed);
  cJSON_AddItemToObject(o, "workload", workload_json(p));
  cJSON_AddItemToObject(o, "errors", errors_json(r));
  cJSON_AddNumberToObject(o, "connect_us", (double)r->connect_us);
  cJSON_AddNumberToObject(o, "elapsed_us", (double)r->elapsed_us);
  cJSON_AddNumberToObject(o, "start_ms", (double)r->start_ms);
  cJSON_AddNumberToObject(o, "end_ms", (double)r->end_ms);
  cJSON_AddBoolToObject(o, "deadline_reached", r->deadline_reached);
  if (p->ignored[0]) cJSON_AddStringToObject(o, "ignored_params", p->ignored);
  cJSON_AddStringToObject(o, "version", RBENCH_VERSION);
  return o;
}

cJSON *action_result_to_json(const struct action_params *p, const struct action_result *r) {
  if (p->prepare) return prepare_to_json(p, r);
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  add_error_summary(o, r, p->use_batching, false);
  cJSON_AddStringToObject(o, "operation", operation_label(p));
  cJSON_AddNumberToObject(o, "num_ops", (double)p->num_ops);
  cJSON_AddNumberToObject(o, "parallel_calls", (double)p->parallel_calls);
  cJSON_AddBoolToObject(o, "use_batching", p->use_batching);
  cJSON_AddStringToObject(o, "placement", action_placement_name(p->placement));
  cJSON_AddStringToObject(o, "target", p->use_batching ? "agent" : "redis");
  cJSON_AddStringToObject(o, "target_address", r->target_address);
  if (p->placement == ACTION_PLACE_RUNTIME) cJSON_AddItemToObject(o, "batch", batch_json(p, r));
  cJSON_AddStringToObject(o, "key_prefix", p->key_prefix);
  cJSON_AddNumberToObject(o, "key_space", (double)p->key_space);
  cJSON_AddNumberToObject(o, "value_size", (double)p->value_size);
  cJSON_AddNumberToObject(o, "succeeded", (double)r->succeeded);
  cJSON_AddNumberToObject(o, "failed", (double)r->failed);
  cJSON_AddNumberToObject(o, "found", (double)r->found);
  cJSON_AddItemToObject(o, "errors", errors_json(r));
  cJSON_AddBoolToObject(o, "warm", r->conns_new == 0 && r->conns_reused > 0);
  cJSON_AddBoolToObject(o, "cold", r->cold);
  cJSON_AddNumberToObject(o, "connections_new", r->conns_new);
  cJSON_AddNumberToObject(o, "connections_reused", r->conns_reused);
  cJSON_AddNumberToObject(o, "connection_failures", r->conn_failures);
  cJSON_AddNumberToObject(o, "connect_us", (double)r->connect_us);
  cJSON_AddNumberToObject(o, "elapsed_us", (double)r->elapsed_us);
  cJSON_AddItemToObject(o, "latency_us", latency_json(&r->latency_ns));
  double secs = (double)r->elapsed_us / 1e6;
  cJSON_AddNumberToObject(o, "ops_per_sec", secs > 0 ? (double)r->succeeded / secs : 0.0);
  cJSON_AddNumberToObject(o, "start_ms", (double)r->start_ms);
  cJSON_AddNumberToObject(o, "end_ms", (double)r->end_ms);
  cJSON_AddBoolToObject(o, "deadline_reached", r->deadline_reached);
  cJSON_AddNumberToObject(o, "seed", (double)p->w.seed);
  cJSON_AddNumberToObject(o, "invocation", (double)p->invocation);
  cJSON_AddItemToObject(o, "workload", workload_json(p));
  cJSON_AddItemToObject(o, "op_stats", op_stats_json(r));
  char digest[17];
  snprintf(digest, sizeof digest, "%016llx", (unsigned long long)r->draw_digest);
  if (r->has_draw_digest) cJSON_AddStringToObject(o, "draw_digest", digest);
  else cJSON_AddNullToObject(o, "draw_digest");
  if (p->ignored[0]) cJSON_AddStringToObject(o, "ignored_params", p->ignored);
  cJSON_AddStringToObject(o, "version", RBENCH_VERSION);
  return o;
}
