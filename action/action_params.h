/* action_params.h: the action's parameters, parsed and validated from a /run `value` object.
 *
 * Names follow the seed (num_ops, operation_type, use_batching, parallel_calls, key_prefix)
 * plus value_size, key_space, timeout_ms, the endpoints and the workload (rb_workload.h: mix,
 * key_distribution and its parameters, value_size_range / value_size_list, keys_per_command,
 * structure_size, range_span, script_work, seed), the invocation's index in its run, and the
 * prepare mode (prepare, prepare_first, prepare_count). Endpoints come from the
 * parameters first, else from the environment (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD,
 * BATCHING_AGENT_HOST, BATCHING_AGENT_PORT, BATCHING_AGENT_PASSWORD), else defaults. */
#ifndef ACTION_PARAMS_H
#define ACTION_PARAMS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "rb_error.h"
#include "rb_name.h"
#include "rb_workload.h"

#define ACTION_NUM_OPS_MAX 1000000LL
#define ACTION_PARALLEL_MAX 256LL
#define ACTION_VALUE_SIZE_MAX (1024LL * 1024LL)
#define ACTION_KEY_SPACE_MAX 2147483647LL
#define ACTION_TIMEOUT_MS_MAX 300000LL
#define ACTION_KEY_PREFIX_MAX RB_KEY_PREFIX_MAX
#define ACTION_HOST_MAX 256
#define ACTION_SECRET_MAX 512
#define ACTION_DEFAULT_REDIS_PORT 6379
#define ACTION_DEFAULT_AGENT_PORT 6380
#define ACTION_DEFAULT_TIMEOUT_MS 5000
#define ACTION_INVOCATION_MAX RB_SEED_MAX
#define ACTION_MIX_MAX 512
#define ACTION_BATCH_CONNECTIONS_MAX 64LL
#define ACTION_BATCH_WAIT_US_MAX 100000LL

/* Where this activation's operations are batched (docs/action.md, "Placements"). */
enum action_placement {
  ACTION_PLACE_DIRECT,  /* each operation on its own connection to Redis, one in flight each */
  ACTION_PLACE_RUNTIME, /* this process batches: every operation of every concurrent activation
                           goes over a few shared connections to Redis, as pipelines */
  ACTION_PLACE_AGENT    /* through the batching layer at agent_host:agent_port (use_batching) */
};

struct action_params {
  enum rb_op op;                   /* operation_type (default set); "mix" when a mix is given */
  bool mixed;                      /* a mix parameter was given (op is then its first operation) */
  struct rb_workload w;            /* the workload, checked (rb_workload_check) */
  long long invocation;            /* the invocation's index k in its run, 0..2^53-1, default 0 */
  bool prepare;                    /* write the data reads need instead of running operations */
  long long prepare_first;         /* prepare key numbers [prepare_first, +prepare_count) */
  long long prepare_count;         /* default: every key from prepare_first to key_space - 1 */
  long long num_ops;               /* 1..1,000,000, default 1 */
  long long parallel_calls;        /* 1..256, default 1 */
  long long value_size;            /* bytes, 0..1 MiB, default 64 */
  long long key_space;             /* keys cycle over this many; default num_ops */
  long long timeout_ms;            /* deadline of each Redis call (and connect), default 5000 */
  bool use_batching;               /* talk to the agent instead of Redis (placement agent) */
  enum action_placement placement; /* placement; default agent with use_batching, else direct */
  long long batch_connections;     /* runtime: shared connections to Redis, 1..64, default 1 */
  long long batch_wait_us;         /* runtime: hold operations up to this long for more while their
                                      connection has a pipeline at Redis and fewer than 16 are
                                      queued on it (action_batch.h); 0..100000, default 0 (write
                                      what is queued when the loop turns) */
  bool batch_coalesce;             /* runtime: one GET for identical GETs queued together, and a SET
                                      followed by GETs of its key answered from it (default false) */
  char key_prefix[ACTION_KEY_PREFIX_MAX + 1];
  char redis_host[ACTION_HOST_MAX];
  int redis_port;
  char redis_password[ACTION_SECRET_MAX]; /* secret: never log or return */
  char agent_host[ACTION_HOST_MAX];
  int agent_port;
  char agent_password[ACTION_SECRET_MAX]; /* secret: never log or return */
  char ignored[256]; /* comma-separated names of parameters this action does not know */
};

/* Looks up an environment variable; copies it into buf and returns true when set. */
typedef bool (*action_env_lookup)(const char *name, char *buf, size_t len);

/* Fills out from value (a JSON object, or NULL for "no parameters") and env. On a bad value
 * returns non-RB_OK with err naming the parameter, the allowed values and what was given. */
enum rb_err action_params_parse(const cJSON *value, action_env_lookup env,
                                struct action_params *out, char *err, size_t errlen);

/* The operation's name (rb_op_name). */
const char *action_op_name(enum rb_op op);

/* "direct", "runtime" or "agent". */
const char *action_placement_name(enum action_placement pl);

/* The endpoint this activation talks to: the agent with placement agent, else Redis. Borrowed. */
void action_params_endpoint(const struct action_params *p, const char **host, int *port,
                            const char **password);

#endif
