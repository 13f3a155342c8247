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

struct action_result {
  uint64_t succeeded;
  uint64_t failed;
  uint64_t found; /* GET hits, keys removed by DEL, keys that EXISTS saw */
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
};

/* Adds count failures with message (truncated to fit) to the error table. */
void action_result_add_error(struct action_result *r, const char *message, uint64_t count);

/* Builds the result object. The caller owns it (cJSON_Delete). NULL on allocation failure.
 * When r->failed > 0 the object carries an "error" summary, so OpenWhisk records an
 * application error while the statistics stay available. Never contains a password. */
cJSON *action_result_to_json(const struct action_params *p, const struct action_result *r);

#endif
