/* job_backend_io.c: the server-side samples' I/O: hiredis for INFO, libcurl for /metrics. */
#define _GNU_SOURCE
#include "job_backend_io.h"

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_record.h"
#include "rb_log.h"
#include "rb_str.h"

#define SAMPLE_TIMEOUT_S 1 /* Redis connect, and each command */
#define METRICS_CONNECT_MS 1000L
#define METRICS_TOTAL_MS 2000L
#define METRICS_MAX_BYTES (4u << 20)

/* "what: detail" (a hiredis message), with the password (should a server echo it) masked. */
static void set_why(char *why, size_t whylen, const char *password, const char *what,
                    const char *detail) {
  snprintf(why, whylen, "%s: %s", what, detail);
  const char *secrets[] = {password, NULL};
  job_redact(why, whylen, secrets);
}

bool job_backend_sample_redis(const char *host, int port, const char *password, bool *info_all,
                              struct job_redis_info *out, char *why, size_t whylen) {
  struct timeval tv = {SAMPLE_TIMEOUT_S, 0};
  redisContext *c = redisConnectWithTimeout(host, port, tv);
  if (!c || c->err) {
    set_why(why, whylen, password, "cannot connect for INFO", c ? c->errstr : "out of memory");
    redisFree(c);
    return false;
  }
  redisSetTimeout(c, tv);
  redisReply *r = NULL;
  bool ok = true;
  if (password && *password) {
    r = redisCommand(c, "AUTH %s", password);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      set_why(why, whylen, password, "AUTH for INFO failed", r ? r->str : c->errstr);
      ok = false;
    }
    freeReplyObject(r);
    r = NULL;
  }
  /* Redis 7 takes several sections at once; older servers refuse that, and "all" has them. */
  if (ok && !*info_all) {
    r = redisCommand(c, "INFO server clients cpu stats commandstats");
    if (r && r->type == REDIS_REPLY_ERROR) {
      freeReplyObject(r);
      r = NULL;
      *info_all = true;
    }
  }
  if (ok && !r && *info_all) r = redisCommand(c, "INFO all");
  if (ok && (!r || (r->type != REDIS_REPLY_STRING))) {
    set_why(why, whylen, password, "INFO failed",
            !r                             ? c->errstr
            : r->type == REDIS_REPLY_ERROR ? r->str
                                           : "not a text reply");
    ok = false;
  }
  if (ok && job_redis_info_parse(r->str, r->len, out) == 0) {
    snprintf(why, whylen, "INFO's reply has none of the fields rbench reads");
    ok = false;
  }
  freeReplyObject(r);
  redisFree(c);
  return ok;
}

struct body {
  char *p;
  size_t n;
  bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
  struct body *b = arg;
  size_t n = size * nmemb;
  if (b->n + n > METRICS_MAX_BYTES) {
    b->too_big = true;
    return 0;
  }
  char *p = realloc(b->p, b->n + n + 1);
  if (!p) return 0;
  memcpy(p + b->n, data, n);
  b->p = p;
  b->n += n;
  p[b->n] = '\0';
  return n;
}

bool job_backend_sample_agent(const char *url, struct job_agent_sample *out, char *why,
                              size_t whylen) {
  CURL *e = curl_easy_init();
  if (!e) {
    snprintf(why, whylen, "cannot start libcurl");
    return false;
  }
  struct body b = {0};
  char cerr[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, METRICS_CONNECT_MS);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, METRICS_TOTAL_MS);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
  CURLcode rc = curl_easy_perform(e);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(e);
  bool ok = false;
  if (rc != CURLE_OK)
    snprintf(why, whylen, "cannot read the agent's metrics: %s",
             b.too_big ? "the answer is over 4 MiB"
             : cerr[0] ? cerr
                       : curl_easy_strerror(rc));
  else if (status != 200)
    snprintf(why, whylen, "the agent's metrics endpoint answered HTTP %ld", status);
  else if (job_agent_parse(b.p, b.n, out) == 0)
    snprintf(why, whylen,
             "the answer has none of rbench-agent's metrics (is it rbench-agent --metrics?)");
  else ok = true;
  free(b.p);
  return ok;
}

void job_backend_begin(struct job_backend_sampler *s, const struct job_config *cfg,
                       const char *agent_url, bool batching, bool redis_unknown) {
  memset(s, 0, sizeof *s);
  s->cfg = cfg;
  s->batching = batching;
  snprintf(s->redis_endpoint, sizeof s->redis_endpoint, "%s:%d", cfg->redis_host, cfg->redis_port);
  if (redis_unknown) {
    s->redis_endpoint[0] = '\0';
    snprintf(s->redis_why, sizeof s->redis_why,
             "REDIS_HOST and REDIS_PORT are not set, so the actions use their own default "
             "parameters and rbench does not know which Redis that is; set them (env file or "
             "environment) to the Redis the action uses to measure it");
    rb_warn("Redis: %s", s->redis_why);
  } else {
    s->redis_ok =
        job_backend_sample_redis(cfg->redis_host, cfg->redis_port, cfg->redis_password,
                                 &s->info_all, &s->redis_a, s->redis_why, sizeof s->redis_why);
  }
  if (!s->redis_ok && !redis_unknown)
    rb_warn("Redis %s: %s; the results will say so", s->redis_endpoint, s->redis_why);
  if (!batching) return;
  if (!agent_url || !*agent_url) {
    snprintf(s->agent_why, sizeof s->agent_why,
             "no agent metrics endpoint configured (BATCHING_AGENT_METRICS_URL, "
             "--agent-metrics or the scenario's target.agent_metrics)");
    return;
  }
  snprintf(s->agent_url, sizeof s->agent_url, "%s", agent_url);
  rb_url_public(agent_url, s->agent_endpoint, sizeof s->agent_endpoint);
  s->agent_ok = job_backend_sample_agent(agent_url, &s->agent_a, s->agent_why, sizeof s->agent_why);
  if (!s->agent_ok)
    rb_warn("agent metrics %s: %s; the results will say so", s->agent_endpoint, s->agent_why);
}

/* The "after" sample failed where the "before" one worked (the server went away mid-run, or
 * stopped answering): said at once, as docs/results.md promises, and in the section. */
static void warn_after_failed(const char *what, const char *endpoint, const char *why) {
  rb_warn("%s %s: the sample after the run failed: %s; the results will say so", what, endpoint,
          why);
}

cJSON *job_backend_end(struct job_backend_sampler *s, struct job_backend_window *w) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  struct job_agent_sample agent_b;
  bool agent_ok = s->agent_ok && job_backend_sample_agent(s->agent_url, &agent_b, s->agent_why,
                                                          sizeof s->agent_why);
  if (s->agent_ok && !agent_ok) warn_after_failed("agent metrics", s->agent_endpoint, s->agent_why);
  /* The sampler's own traffic inside the window: the first sample's INFO (counted after its
   * reply), and the second sample's connection and AUTH (counted before its INFO runs). */
  w->sampler_info = 1;
  w->sampler_auth = s->cfg->redis_password[0] ? 1 : 0;
  w->sampler_connections = 1;
  cJSON *redis;
  struct job_redis_info redis_b;
  if (s->redis_ok &&
      job_backend_sample_redis(s->cfg->redis_host, s->cfg->redis_port, s->cfg->redis_password,
                               &s->info_all, &redis_b, s->redis_why, sizeof s->redis_why))
    redis = job_backend_redis_json(s->redis_endpoint, &s->redis_a, &redis_b, w,
                                   agent_ok ? &s->agent_a : NULL, agent_ok ? &agent_b : NULL);
  else {
    if (s->redis_ok) warn_after_failed("Redis", s->redis_endpoint, s->redis_why);
    redis = job_backend_unavailable(s->redis_endpoint, s->redis_why);
  }
  cJSON_AddItemToObject(o, "redis", redis);
  cJSON *agent = NULL;
  if (s->batching) {
    agent = agent_ok ? job_backend_agent_json(s->agent_endpoint, &s->agent_a, &agent_b, w->ops)
                     : job_backend_unavailable(s->agent_endpoint, s->agent_why);
    cJSON_AddItemToObject(o, "agent", agent);
    const cJSON *warning = cJSON_GetObjectItemCaseSensitive(agent, "warning");
    if (cJSON_IsString(warning)) rb_warn("agent %s: %s", s->agent_endpoint, warning->valuestring);
  }
  double total = 0;
  if (job_backend_cpu_per_op(redis, agent, s->batching, &total) && total >= 0)
    cJSON_AddNumberToObject(o, "backend_cpu_us_per_op", total);
  else cJSON_AddNullToObject(o, "backend_cpu_us_per_op");
  return o;
}
