/* agent_metrics.c: Prometheus text rendering of the agent's counters and histograms. */
#include "agent_metrics.h"

#include <inttypes.h>
#include <string.h>

const uint64_t agent_metrics_batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
const size_t agent_metrics_batch_nbounds = sizeof agent_metrics_batch_bounds / sizeof(uint64_t);
const uint64_t agent_metrics_delay_bounds[] = {5,   10,   25,   50,   100,   250,
                                               500, 1000, 2500, 5000, 10000, 50000};
const size_t agent_metrics_delay_nbounds = sizeof agent_metrics_delay_bounds / sizeof(uint64_t);

void agent_metrics_init(struct agent_metrics *m) { memset(m, 0, sizeof *m); }

void agent_hist_record(struct agent_hist *h, const uint64_t *bounds, size_t nbounds, uint64_t v,
                       uint64_t count) {
  size_t i = 0;
  while (i < nbounds && v > bounds[i]) i++;
  agent_metric_add(&h->bucket[i], count);
  agent_metric_add(&h->sum, v * count);
  agent_metric_add(&h->count, count);
}

static uint64_t ld(const _Atomic uint64_t *p) {
  return atomic_load_explicit(p, memory_order_relaxed);
}

static void render_hist(struct agent_metrics *const *m, size_t n, size_t offset, const char *name,
                        const char *help, const uint64_t *bounds, size_t nb,
                        struct agent_buf *out) {
  agent_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cum = 0, sum = 0, count = 0;
  for (size_t b = 0; b <= nb; b++) {
    for (size_t w = 0; w < n; w++) {
      const struct agent_hist *h = (const struct agent_hist *)((const char *)m[w] + offset);
      cum += ld(&h->bucket[b]);
      if (b == 0) {
        sum += ld(&h->sum);
        count += ld(&h->count);
      }
    }
    if (b < nb)
      agent_buf_printf(out, "%s_bucket{le=\"%" PRIu64 "\"} %" PRIu64 "\n", name, bounds[b], cum);
    else agent_buf_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
  }
  agent_buf_printf(out, "%s_sum %" PRIu64 "\n%s_count %" PRIu64 "\n", name, sum, name, count);
}

int agent_metrics_render(struct agent_metrics *const *m, size_t n, struct agent_buf *out) {
#define AGENT_METRIC_RENDER(f, name, type, help)                                                  \
  do {                                                                                            \
    uint64_t total = 0;                                                                           \
    for (size_t w = 0; w < n; w++) total += ld(&m[w]->f);                                         \
    agent_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, \
                     name, total);                                                                \
  } while (0);
  AGENT_COUNTERS(AGENT_METRIC_RENDER)
#undef AGENT_METRIC_RENDER
  render_hist(m, n, offsetof(struct agent_metrics, batch_size), "rbench_agent_batch_size",
              "commands per batch written to Redis", agent_metrics_batch_bounds,
              agent_metrics_batch_nbounds, out);
  render_hist(m, n, offsetof(struct agent_metrics, queue_delay_us),
              "rbench_agent_queue_delay_microseconds",
              "time a command waited in the agent before its batch was written",
              agent_metrics_delay_bounds, agent_metrics_delay_nbounds, out);
  return 0;
}

void agent_metrics_render_process(const struct agent_process *p, struct agent_buf *out) {
  if (p->cpu_seconds >= 0)
    agent_buf_printf(out,
                     "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                     "seconds.\n# TYPE process_cpu_seconds_total counter\n"
                     "process_cpu_seconds_total %.6f\n",
                     p->cpu_seconds);
  if (p->rss_bytes >= 0)
    agent_buf_printf(out,
                     "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                     "# TYPE process_resident_memory_bytes gauge\n"
                     "process_resident_memory_bytes %.0f\n",
                     p->rss_bytes);
  if (p->start_time_s >= 0)
    agent_buf_printf(out,
                     "# HELP process_start_time_seconds Start time of the process since unix "
                     "epoch in seconds.\n# TYPE process_start_time_seconds gauge\n"
                     "process_start_time_seconds %.3f\n",
                     p->start_time_s);
}
