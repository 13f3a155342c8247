/* job_backend_io.h: takes the server-side samples of a run (Redis INFO over hiredis, the
 * agent's /metrics over libcurl) and builds the results' sections from them (job_backend.h).
 *
 * Both requests have short timeouts (a dead endpoint costs at most about 2 s) and never stop
 * the run: what cannot be sampled becomes {"unavailable": "why"} in the document. Messages
 * never hold the Redis password. */
#ifndef JOB_BACKEND_IO_H
#define JOB_BACKEND_IO_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "job_backend.h"
#include "job_config.h"

struct job_backend_sampler {
  const struct job_config *cfg; /* borrowed: Redis host, port and password */
  bool batching;
  char redis_endpoint[JOB_HOST_MAX + 16];
  bool redis_ok;
  bool info_all; /* the server refused INFO with several sections */
  char redis_why[300];
  struct job_redis_info redis_a;
  char agent_url[600];      /* "" when none was configured */
  char agent_endpoint[600]; /* agent_url without user:password@ */
  bool agent_ok;
  char agent_why[300];
  struct job_agent_sample agent_a;
};

/* Takes the "before" samples: Redis (cfg's REDIS_HOST/PORT/PASSWORD) and, when batching,
 * the agent at agent_url (NULL or "": none configured). redis_unknown: the Redis the actions
 * use is not known (openwhisk target without REDIS_HOST or REDIS_PORT: the action's own
 * defaults apply), so it is not guessed at and the section says why. s is filled; nothing to
 * free. */
void job_backend_begin(struct job_backend_sampler *s, const struct job_config *cfg,
                       const char *agent_url, bool batching, bool redis_unknown);

/* Takes the "after" samples and returns {"redis": ..., "agent": ... (batching only),
 * "backend_cpu_us_per_op": ...} (owned by the caller). w's sampler_* fields are set here. */
cJSON *job_backend_end(struct job_backend_sampler *s, struct job_backend_window *w);

/* One INFO sample. False with why set when Redis cannot be reached or refuses. *info_all
 * is set when the server needed the old single-argument form. */
bool job_backend_sample_redis(const char *host, int port, const char *password, bool *info_all,
                              struct job_redis_info *out, char *why, size_t whylen);

/* One /metrics sample. False with why set when the endpoint does not answer 200 with the
 * agent's metrics. */
bool job_backend_sample_agent(const char *url, struct job_agent_sample *out, char *why,
                              size_t whylen);

#endif
