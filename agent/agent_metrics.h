/* agent_metrics.h: counters and histograms, rendered in the Prometheus text format (pure).
 *
 * Each worker thread owns one struct agent_metrics and is its only writer; the metrics
 * endpoint reads them from another thread. Fields are C11 atomics written with relaxed
 * load+store (one writer, so no read-modify-write instruction is needed) and read relaxed:
 * a scrape sees each value whole, not a consistent cut across values. */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_buf.h"

#define AGENT_HIST_MAX 16

struct agent_hist {
  _Atomic uint64_t bucket[AGENT_HIST_MAX + 1]; /* non-cumulative; last = above every bound */
  _Atomic uint64_t sum;
  _Atomic uint64_t count;
};

#define AGENT_COUNTERS(X)                                                                          \
  X(clients_accepted, "rbench_agent_clients_accepted_total", "counter",                            \
    "client connections accepted")                                                                 \
  X(clients_refused, "rbench_agent_clients_refused_total", "counter",                              \
    "connections refused at --max-clients")                                                        \
  X(clients, "rbench_agent_clients", "gauge", "client connections open now")                       \
  X(requests, "rbench_agent_requests_total", "counter", "commands read from clients")              \
  X(replies, "rbench_agent_replies_total", "counter",                                              \
    "replies written back to clients (incl. errors and local)")                                    \
  X(forwarded, "rbench_agent_forwarded_total", "counter",                                          \
    "commands sent to Redis as the client sent them")                                              \
  X(coalesced, "rbench_agent_coalesced_total", "counter", "commands folded into MSET/MGET")        \
  X(local, "rbench_agent_local_total", "counter",                                                  \
    "commands answered by the agent (PING, ECHO, AUTH, HELLO, QUIT)")                              \
  X(rejected, "rbench_agent_rejected_total", "counter",                                            \
    "commands refused (unsupported, unknown, NOAUTH, Redis down)")                                 \
  X(protocol_errors, "rbench_agent_protocol_errors_total", "counter",                              \
    "clients closed for malformed or oversized input")                                             \
  X(failed_fast, "rbench_agent_failed_fast_total", "counter",                                      \
    "commands refused at once because Redis was unreachable")                                      \
  X(upstream_errors, "rbench_agent_upstream_errors_total", "counter",                              \
    "upstream connection failures (connect, I/O, timeout, AUTH)")                                  \
  X(inflight_failed, "rbench_agent_inflight_failed_total", "counter",                              \
    "commands answered with an error because their upstream failed")                               \
  X(reconnects, "rbench_agent_reconnects_total", "counter", "successful upstream (re)connections") \
  X(upstreams_up, "rbench_agent_upstreams_up", "gauge", "upstream connections ready now")          \
  X(batches, "rbench_agent_batches_total", "counter", "batches written to Redis")                  \
  X(upstream_writes, "rbench_agent_upstream_writes_total", "counter",                              \
    "write system calls on upstream connections that sent bytes to Redis")

struct agent_metrics {
#define AGENT_METRIC_FIELD(f, name, type, help) _Atomic uint64_t f;
  AGENT_COUNTERS(AGENT_METRIC_FIELD)
#undef AGENT_METRIC_FIELD
  struct agent_hist batch_size;     /* commands per batch */
  struct agent_hist queue_delay_us; /* time from a command's arrival to its batch's write */
};

/* Bucket upper bounds (inclusive), in use order. */
extern const uint64_t agent_metrics_batch_bounds[];
extern const size_t agent_metrics_batch_nbounds;
extern const uint64_t agent_metrics_delay_bounds[];
extern const size_t agent_metrics_delay_nbounds;

void agent_metrics_init(struct agent_metrics *m);

/* Single-writer add (see the header comment). */
static inline void agent_metric_add(_Atomic uint64_t *c, uint64_t n) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}
static inline void agent_metric_sub(_Atomic uint64_t *c, uint64_t n) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - n, memory_order_relaxed);
}

/* Records v (count times) in a histogram with the given bounds. */
void agent_hist_record(struct agent_hist *h, const uint64_t *bounds, size_t nbounds, uint64_t v,
                       uint64_t count);

/* Appends the Prometheus text exposition of the sum over n workers' metrics to out. */
int agent_metrics_render(struct agent_metrics *const *m, size_t n, struct agent_buf *out);

/* The process figures every Prometheus client library exports, read by the caller (I/O at
 * the edge: agent_http.c). A negative value is not known and is left out of the rendering. */
struct agent_process {
  double cpu_seconds;  /* user + system CPU time since the process started */
  double rss_bytes;    /* resident set size now */
  double start_time_s; /* when the process started, seconds since the Unix epoch */
};

/* Appends process_cpu_seconds_total, process_resident_memory_bytes and
 * process_start_time_seconds (with HELP and TYPE lines) to out. */
void agent_metrics_render_process(const struct agent_process *p, struct agent_buf *out);

#endif
