/* action_protocol.h: OpenWhisk's action protocol (/init and /run bodies) independent of the
 * transport. The HTTP server and the ActionLoop reader both call these; tests call them
 * directly with a fake executor.
 *
 *   body bytes ─► action_handle_init ─► env applied, 200 {"ok":true} | 403 | 400
 *   body bytes ─► action_handle_run  ─► __OW_* env, params ─► executor ─► 200 result | 200 {"error"}
 */
#ifndef ACTION_PROTOCOL_H
#define ACTION_PROTOCOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "action_params.h"
#include "action_result.h"

/* Runs one activation's Redis work. deadline_ms is epoch ms (0 = none). Fills r. */
typedef void (*action_run_fn)(void *ctx, const struct action_params *p, int64_t deadline_ms,
                              struct action_result *r);

struct action_ctx {
  pthread_mutex_t lock;
  bool initialized;  /* /init succeeded once */
  bool allow_reinit; /* tests and debugging only */
  bool served_run;   /* a /run was served already (later ones are not cold) */
  action_run_fn run;
  void *run_ctx;
};

struct action_response {
  int status; /* HTTP status */
  char *body; /* owned, malloc'd, NUL-terminated JSON */
  size_t len;
};

#define ACTION_INIT_TWICE_ERROR "Cannot initialize the action more than once."

void action_ctx_init(struct action_ctx *ctx, action_run_fn run, void *run_ctx);
void action_ctx_deinit(struct action_ctx *ctx);

/* Handles an /init body: {"value":{"name","main","binary","code"?,"env"?}}. code may be absent.
 * value.env entries are applied to the process environment. */
void action_handle_init(struct action_ctx *ctx, const char *body, size_t len,
                        struct action_response *out);

/* Handles a /run body: {"value":{params}, "activation_id", "deadline", ...}. Non-value keys
 * become __OW_<KEY> environment variables. Always answers 200 with a JSON object unless the
 * body is not JSON at all (400). */
void action_handle_run(struct action_ctx *ctx, const char *body, size_t len,
                       struct action_response *out);

/* Sets out to status with body {"error": message}. */
void action_response_error(struct action_response *out, int status, const char *message);

void action_response_free(struct action_response *r);

#endif
