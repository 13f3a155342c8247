/* job_params.h: the knobs of one benchmark run (rate, invocations, the action's parameters),
 * their defaults (the seed's), validation, and layering (built-in < scenario defaults < run
 * < command line).
 *
 * A table (job_params_fields) describes every knob once: its scenario/JSON name, type and
 * bounds. The YAML parser, the command line and the results writer all use it. */
#ifndef JOB_PARAMS_H
#define JOB_PARAMS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rb_error.h"
#include "rb_name.h"
#include "rb_workload.h"

#define JOB_NAME_MAX 64
#define JOB_KEY_PREFIX_MAX RB_KEY_PREFIX_MAX /* rbench-action's limit (rb_name.h) */

/* ---- capacity sweeps (docs/scenarios.md, "Sweeps") ---------------------------------- */
#define JOB_SWEEP_MAX_STEPS 64
#define JOB_SWEEP_DEFAULT_STEPS 10  /* a ramp without max: from x factor^9 at most */
#define JOB_SWEEP_MIN_ACHIEVED 0.95 /* a step must send >= 95% of its intended rate */
#define JOB_SWEEP_MAX_SEARCH 32     /* search steps (down and bisect) at most */
#define JOB_SWEEP_DEFAULT_PRECISION 0.10
#define JOB_SWEEP_DEFAULT_SEARCH_STEPS 8
#define JOB_SWEEP_DEFAULT_FLOOR_DIVISOR 100 /* floor: the first rate / 100 */

enum job_rate_form { JOB_RATE_FIXED, JOB_RATE_LIST, JOB_RATE_RAMP };

/* What a step must meet. p99_ms <= 0: no latency bound. */
struct job_slo {
  double p99_ms;             /* execution_time_ms p99 pooled over the step's repetitions */
  double max_error_rate;     /* failed / measured invocations (0.01) */
  double min_achieved_ratio; /* achieved_rate / intended rate, always JOB_SWEEP_MIN_ACHIEVED */
};

/* The capacity search after the planned steps (docs/scenarios.md, "Sweeps"): down from a
 * failed first step, then bisecting between the highest passing and the lowest failing rate. */
struct job_sweep_search {
  int enabled;          /* -1: the default (on for a ramp, off for a list); 0 off; 1 on */
  double precision;     /* stop when (lowest failing - highest passing) / passing <= this */
  long long max_steps;  /* search steps (down and bisect) at most, 0..JOB_SWEEP_MAX_SEARCH */
  double floor;         /* the lowest rate the downward search tries (0: first rate / 100) */
  bool repeat_marginal; /* a marginal verdict is repeated once and judged pooled (true) */
};

/* A run's rate as a sweep: a list of rates (strictly increasing, rounded to 0.001/s) or a
 * ramp from x factor^k up to max. */
struct job_rate_sweep {
  enum job_rate_form form; /* JOB_RATE_FIXED: params.rate alone, no sweep */
  double list[JOB_SWEEP_MAX_STEPS];
  size_t list_count;
  double from, factor, max; /* ramp */
  bool until_slo;           /* ramp: stop at the first step that fails the SLO (true) */
  bool slo_set;             /* slo given explicitly (in this layer) */
  struct job_slo slo;
  bool search_set; /* search given explicitly (in this layer) */
  struct job_sweep_search search;
};

struct job_params {
  char name[JOB_NAME_MAX]; /* run name ("run" when none) */
  double rate;             /* invocations per second (10) */
  long long invocations;   /* how many (100); replaced by rate*duration when duration > 0 */
  double duration;         /* seconds (0 = use invocations) */
  double warmup;           /* seconds of invocations kept out of the statistics (0) */
  long long ops;           /* Redis operations per invocation (10) */
  char operation[16];      /* one operation of rb_workload.h (set); replaced by mix when set */
  bool batching;           /* through the batching agent (false) */
  long long parallel;      /* parallel calls inside the action (5) */
  char key_prefix[JOB_KEY_PREFIX_MAX + 1]; /* (benchmark) */
  long long value_size;                    /* bytes per value (64) */
  long long key_space;                     /* distinct keys (0 = the action's default: ops) */
  long long timeout_ms;                    /* the action's per-call Redis timeout (5000) */
  long long max_in_flight;                 /* invocations outstanding at once (100) */
  long long connections; /* openwhisk: keep-alive connections opened before the schedule
                            starts (0 = derived from the rate: job_params_connections) */
  long long concurrency; /* > 0: closed loop, exactly this many in flight, the next sent
                            when one finishes; rate and max_in_flight unused (0 = open) */
  /* the workload (rb_workload.h; docs/workloads.md) */
  char mix[256];              /* "get:80,set:20" ("" = operation alone) */
  long long keys_per_command; /* mget, mset (10) */
  long long structure_size;   /* elements of prepared hashes, lists, sets, zsets (100) */
  long long range_span;       /* lrange elements, zrangebyscore score span (10) */
  long long script_work;      /* eval: loop iterations per call (1000) */
  char key_distribution[16];  /* sequential uniform zipfian hotspot gaussian (sequential) */
  double zipf_exponent;       /* (0.99) */
  double hotspot_keys;        /* fraction of the keys that are hot (0.2) */
  double hotspot_ops;         /* fraction of the operations on them (0.8) */
  double gaussian_stddev;     /* a fraction of key_space (1/6) */
  char value_size_range[32];  /* "MIN-MAX" ("" = value_size) */
  char value_size_list[256];  /* "SIZE:WEIGHT,..." ("" = value_size) */
  long long seed;             /* every random choice of the run (1) */
  bool prepare;               /* write what reads need before the measured part (true) */
  /* the arrival process of the open loop (job_arrival.h; docs/workloads.md) */
  char arrival[16];       /* constant poisson bursts trace (constant) */
  double burst_rate;      /* bursts: invocations per second in a burst */
  double burst_seconds;   /* bursts: length of a burst (1) */
  double base_seconds;    /* bursts: time at `rate` between bursts (4) */
  char trace_file[512];   /* trace: the file (relative to the scenario's directory) */
  char trace_format[16];  /* azure or timestamps (azure) */
  char trace_rows[256];   /* azure: data rows to sum: "all", "3", "1,4-6" (all) */
  char trace_minutes[32]; /* azure: "FIRST-LAST" of 1..1440 ("" = every minute) */
  char trace_spread[16];  /* azure: a minute's count spread poisson or constant (poisson) */
  double trace_speedup;   /* trace time compressed by this factor (1) */
  /* where batching lives (docs/placements.md) */
  char placement[16];           /* direct runtime agent (direct; agent when batching is true);
                                   kept equal to batching's meaning: batching == (agent) */
  long long action_concurrency; /* activations one action process or container serves at once
                                   (OpenWhisk's limits.concurrency), 1..1000 (1) */
  long long batch_connections;  /* runtime: shared connections to Redis per process (1) */
  long long batch_wait_us;      /* runtime: bounded wait for more operations (0) */
  bool batch_coalesce;          /* runtime: SET/GET coalescing (false) */
  char backend[16];             /* local target: env (use the env's addresses) or start
                                   (start redis-server and the layer for this run) (env) */
  char layer[16];               /* backend start, placement agent: rbench-agent or nutcracker */
  char layer_args[256];         /* backend start: rbench-agent's flags, e.g. "--coalesce" ("") */
  double redis_cpu;             /* backend start: redis-server's CPU quota, a fraction of one
                                   core (0 = none; needs a writable cgroup CPU controller) */
  /* how the local target runs each action instance (docs/runner.md, "Containers") */
  char action_runtime[16];     /* process or container (process) */
  char action_image[512];      /* container: HOST:PORT/NAME:TAG (a registry, pulled with skopeo)
                                  or oci:LAYOUT_DIR:TAG ("": none; required with container) */
  long long action_memory;     /* container: MB, OpenWhisk's limits.memory: the cgroup memory
                                  limit, swap included (256) */
  double action_cpu;           /* container: cores of CPU quota (0 = none; shares always) */
  uint64_t set;                /* bit i: field i of job_params_fields was given explicitly */
  struct job_rate_sweep sweep; /* rate as a list or ramp, and the SLO (outside the table) */
};

enum job_param_type { JOB_P_DOUBLE, JOB_P_INT, JOB_P_BOOL, JOB_P_STRING, JOB_P_OPERATION };

/* A string knob's own check: may rewrite text into out (normalised, e.g. a mix "GET: 80"
 * becomes "get:80"); on error sets *at to the byte offset of the fault in text. */
typedef enum rb_err (*job_param_check)(const char *text, char *out, size_t outlen, size_t *at,
                                       char *err, size_t errlen);

struct job_param_field {
  const char *name; /* scenario and JSON key, e.g. "max_in_flight" */
  enum job_param_type type;
  size_t offset;
  size_t size;     /* strings: buffer size */
  double min, max; /* numbers: inclusive bounds (min exclusive when min_exclusive) */
  bool min_exclusive;
  const char *expect;    /* what a valid value looks like, for error messages */
  job_param_check check; /* strings: NULL, or the knob's own parser */
};

extern const struct job_param_field job_params_fields[];
extern const size_t job_params_field_count;

/* The seed's defaults. */
void job_params_defaults(struct job_params *p);

/* Finds a field by name; NULL when unknown. */
const struct job_param_field *job_params_field(const char *name);
/* Index of a field in job_params_fields. */
size_t job_params_field_index(const struct job_param_field *f);

/* Sets field f from text (YAML scalar or command-line value). is_quoted: the scalar was
 * quoted in YAML, so it cannot be a number or boolean. On error returns non-RB_OK with err
 * saying what was expected and what was given. Marks the field as set. */
enum rb_err job_params_set_text(struct job_params *p, const struct job_param_field *f,
                                const char *text, bool is_quoted, char *err, size_t errlen);
/* The same, and on error *at is the byte offset in text of the fault (0 when the whole value
 * is wrong), so a scenario can point at FILE:LINE:COLUMN inside a mix or a size list. */
enum rb_err job_params_set_text_at(struct job_params *p, const struct job_param_field *f,
                                   const char *text, bool is_quoted, size_t *at, char *err,
                                   size_t errlen);
/* True when field f was given explicitly. */
bool job_params_is_set(const struct job_params *p, const char *name);

/* The workload of p (rb_workload.h), checked: mix or operation, key distribution, sizes,
 * seed. Refused with err naming the knob (a mix whose weights sum to 0, keys_per_command above
 * key_space with mget or mset, ...). */
struct rb_workload;
enum rb_err job_params_workload(const struct job_params *p, struct rb_workload *w, char *err,
                                size_t errlen);

/* Copies every field marked set in src onto dst (and marks it set in dst). A rate list or
 * ramp in src replaces dst's rate; a plain rate in src replaces dst's sweep (so --rate N on
 * the command line runs one rate); an explicit slo in src replaces dst's. */
void job_params_overlay(struct job_params *dst, const struct job_params *src);

/* The default SLO: no latency bound, error rate at most 1%, achieved >= 95%. */
void job_slo_defaults(struct job_slo *slo);
void job_sweep_search_defaults(struct job_sweep_search *s);
/* Whether sw searches after its planned steps (search.enabled, or its default). */
bool job_sweep_searches(const struct job_rate_sweep *sw);
/* The downward search's floor: search.floor, or the first planned rate / 100 (>= 0.001). */
double job_sweep_floor(const struct job_rate_sweep *sw);
/* A rate rounded to 0.001/s, as sweeps use it (names of step directories). */
double job_rate_round(double rate);
/* Steps the sweep can have: the list's length, or the ramp's rates up to max. 0 for a fixed
 * rate. */
size_t job_sweep_step_count(const struct job_rate_sweep *s);
/* The rate of step k (0-based); false past the last step. */
bool job_sweep_step_rate(const struct job_rate_sweep *s, size_t k, double *rate);
/* Checks a ramp (factor > 1, max >= from, every step a distinct rate, at most
 * JOB_SWEEP_MAX_STEPS steps). */
enum rb_err job_sweep_check(const struct job_rate_sweep *s, char *err, size_t errlen);

/* Whether the run's action instances are containers (action_runtime container). */
bool job_params_container(const struct job_params *p);
/* The container knobs against the target: refused with the openwhisk target (its invoker
 * runs the containers). Fills err. */
enum rb_err job_params_validate_target(const struct job_params *p, bool openwhisk, char *err,
                                       size_t errlen);

/* Checks combinations (for a sweep: at each step's rate); fills err. */
enum rb_err job_params_validate(const struct job_params *p, char *err, size_t errlen);

/* Invocations this run plans: rate * duration when duration > 0, else invocations; a closed
 * loop (concurrency > 0): invocations, or 0 (unbounded) when it runs for a duration. */
long long job_params_planned(const struct job_params *p);
/* How many of the first invocations are warm-up: rate * warmup (0 for a closed loop, whose
 * warm-up is the invocations sent in the first `warmup` seconds). */
long long job_params_warmup_count(const struct job_params *p);

/* How long the default number of connections assumes each one is busy per invocation. */
#define JOB_CONNECTION_BUSY_S 0.01
/* The keep-alive connections the openwhisk target opens before the schedule starts: the
 * connections field, or when 0, enough for invocations that take JOB_CONNECTION_BUSY_S each
 * at the run's rate (ceil(rate x 0.01 s), at least 1; with arrival bursts, at burst_rate when
 * that is higher); never more than max_in_flight (each
 * invocation in flight holds one connection, so more could not be used). */
long long job_params_connections(const struct job_params *p);
/* The most invocations in flight, hence connections open, at once: max_in_flight (a closed
 * loop: concurrency), or the connections field when it is set and smaller (wrk's -c: exactly
 * that many connections). A closed loop opens that many ahead (job_params_connections). */
long long job_params_connection_limit(const struct job_params *p);

/* The run's placement: placement's value (always consistent with batching once validated). */
enum job_placement { JOB_PLACE_DIRECT, JOB_PLACE_RUNTIME, JOB_PLACE_AGENT };
enum job_placement job_params_placement(const struct job_params *p);
const char *job_placement_name(enum job_placement pl);

/* Every field as a JSON object (owned by the caller). */
cJSON *job_params_to_json(const struct job_params *p);

/* The action's /run parameters (seed names num_ops, operation_type, use_batching,
 * parallel_calls, key_prefix, ...), without endpoints or secrets. Owned by the caller. */
cJSON *job_params_action_json(const struct job_params *p);

#endif
