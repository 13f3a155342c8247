/* action_result.h: what one activation did, and its JSON form (docs/action.md lists the fields). */
#ifndef ACTION_RESULT_H
#define ACTION_RESULT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "action_params.h"
#include "rb_stats.h"

#define ACTION_ERROR_KINDS 16
#define ACTION_ERROR_MSG_MAX 160

struct action_error_count {
  char message[ACTION_ERROR_MSG_MAX];
  uint64_t count;
};

/* One operation type's share of an activation. */
struct action_op_stats {
  uint64_t succeeded;
  uint64_t failed;
  uint64_t found; /* as action_result.found, for this type */
};

struct action_result {
  uint64_t succeeded;
  uint64_t failed;
  uint64_t found; /* GET and HGET hits, keys removed by DEL, keys that EXISTS saw, MGET hits,
                     elements returned by HGETALL (fields), LRANGE, SMEMBERS, ZRANGEBYSCORE */
  struct action_op_stats ops[RB_OP_COUNT];
  /* latencies (µs) of succeeded operations grouped by type, ascending within a type: type t
   * has op_lat_us[op_lat_off[t] .. op_lat_off[t+1]); NULL when not kept (action_result_free) */
  uint64_t *op_lat_us;
  size_t op_lat_off[RB_OP_COUNT + 1];
  uint64_t draw_digest; /* rb_workload's draws of the activation, hashed (action_exec) */
  bool has_draw_digest; /* false: not computed (the deadline came first) */
  /* prepare mode */
  uint64_t prepared_keys;
  uint64_t prepared_elements;
  unsigned prepared_ns; /* namespaces written (1 << RB_NS_*) */
  struct action_error_count errors[ACTION_ERROR_KINDS];
  int error_kinds;
  uint64_t other_errors; /* failures whose message did not fit in errors[] */
  int conns_new;
  int conns_reused;
  int conn_failures;            /* connection attempts (connect, AUTH) that failed */
  uint64_t connect_us;          /* time to connect (and AUTH) the connections not reused */
  uint64_t elapsed_us;          /* time from the first operation sent to the last answered */
  struct rb_summary latency_ns; /* per-operation latency of succeeded operations */
  int64_t start_ms;             /* epoch ms when the activation started */
  int64_t end_ms;               /* epoch ms when it ended */
  bool cold;                    /* first activation served by this process */
  bool deadline_reached;        /* stopped early because the activation deadline came */
  char target_address[300];
  /* placement runtime: the pipelines that carried this activation's operations, the commands
   * those pipelines held in all (every activation's), and its operations answered by
   * coalescing (not sent) */
  uint64_t batch_pipelines;
  uint64_t batch_pipeline_ops;
  uint64_t batch_coalesced;
};

/* Adds count failures with message (truncated to fit) to the error table. */
void action_result_add_error(struct action_result *r, const char *message, uint64_t count);
/* The same, counted against operation type op as well. */
void action_result_add_op_error(struct action_result *r, enum rb_op op, const char *message,
                                uint64_t count);

/* Frees what r owns (op_lat_us). */
void action_result_free(struct action_result *r);

/* Builds the result object. The caller owns it (cJSON_Delete). NULL on allocation failure.
 * With p->prepare the object reports what was prepared ("prepared") instead of operations.
 * When r->failed > 0 the object carries an "error" summary, so OpenWhisk records an
 * application error while the statistics stay available. Never contains a password. */
cJSON *action_result_to_json(const struct action_params *p, const struct action_result *r);

#endif
