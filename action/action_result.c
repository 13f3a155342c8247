/* action_result.c: error accounting and the JSON form of an activation's result. */
#include "action_result.h"

#include <stdio.h>
#include <string.h>

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

static void add_error_summary(cJSON *o, const struct action_result *r, bool batching) {
  if (r->failed == 0) return;
  char msg[ACTION_ERROR_MSG_MAX + 600];
  uint64_t total = r->succeeded + r->failed;
  const char *first = r->error_kinds ? r->errors[0].message : "unknown error";
  snprintf(msg, sizeof msg, "%llu of %llu operations failed (%s): %s%s",
           (unsigned long long)r->failed, (unsigned long long)total, r->target_address, first,
           address_hint(batching, first));
  cJSON_AddStringToObject(o, "error", msg);
}

cJSON *action_result_to_json(const struct action_params *p, const struct action_result *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  add_error_summary(o, r, p->use_batching);
  cJSON_AddStringToObject(o, "operation", action_op_name(p->op));
  cJSON_AddNumberToObject(o, "num_ops", (double)p->num_ops);
  cJSON_AddNumberToObject(o, "parallel_calls", (double)p->parallel_calls);
  cJSON_AddBoolToObject(o, "use_batching", p->use_batching);
  cJSON_AddStringToObject(o, "target", p->use_batching ? "agent" : "redis");
  cJSON_AddStringToObject(o, "target_address", r->target_address);
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
  if (p->ignored[0]) cJSON_AddStringToObject(o, "ignored_params", p->ignored);
  cJSON_AddStringToObject(o, "version", RBENCH_VERSION);
  return o;
}
