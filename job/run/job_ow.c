/* job_ow.c: the openwhisk target: blocking invokes over the REST API, 202 polling, and the
 * checks of the action before a run (the preflight; --wait-for-action). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "job_curl_err.h"
#include "job_prepare.h"
#include "job_target.h"
#include "rb_clock.h"
#include "rb_json.h"
#include "rb_log.h"

struct ow_target {
  struct job_target base; /* first: the runner sees a job_target */
  char invoke_url[1200];
  char activations_url[800];
  char *body; /* the parameters of every invocation, its index aside (holds secrets) */
  size_t body_len;
  char userpwd[600];          /* secret */
  struct curl_slist *headers; /* owned, shared by every request; holds the Authorization
                                 line (a secret) */
  struct job_http_opts opts;
  struct job_http_opts check_opts; /* the preflight GET: 10 s, body not kept */
  uint64_t poll_timeout_ns;
};

/* Whether the action's limits.concurrency was set before the run (--action-concurrency given):
 * the document's top-level field JOB_OW_CONCURRENCY_FIELD. */
#define JOB_OW_CONCURRENCY_FIELD "action_concurrency_limit"

/* Copies n bytes of src to out with each space as %20 (OpenWhisk names may hold spaces;
 * their other characters need no escaping in a URL path: rb_name_action_check). */
static void url_part(const char *src, size_t n, char *out, size_t outlen) {
  size_t k = 0;
  for (size_t i = 0; i < n && src[i] && k + 4 < outlen; i++) {
    if (src[i] == ' ') memcpy(out + k, "%20", 3), k += 3;
    else out[k++] = src[i];
  }
  if (outlen) out[k] = '\0';
}

/* Splits "pkg/action", "action" or "/ns/pkg/action" into namespace and path, ready for a
 * URL (spaces escaped). */
static void action_path(const char *action, const char *dflt_ns, char *ns, size_t nslen, char *path,
                        size_t pathlen) {
  if (action[0] == '/') {
    const char *slash = strchr(action + 1, '/');
    size_t n = slash ? (size_t)(slash - action - 1) : strlen(action + 1);
    url_part(action + 1, n, ns, nslen);
    url_part(slash ? slash + 1 : "", pathlen, path, pathlen);
  } else {
    url_part(dflt_ns, nslen, ns, nslen);
    url_part(action, pathlen, path, pathlen);
  }
}

static char *build_body(const struct job_params *p, const struct job_config *c, size_t *len) {
  cJSON *o = job_params_action_json(p);
  if (!o) return NULL;
  /* Only what was configured: an invocation parameter overrides the action's default one
   * (wsk action create -p redis_host ...), so a default of ours must not. */
  if (c->redis_host_given) cJSON_AddStringToObject(o, "redis_host", c->redis_host);
  if (c->redis_port_given) cJSON_AddNumberToObject(o, "redis_port", c->redis_port);
  if (c->redis_password[0]) cJSON_AddStringToObject(o, "redis_password", c->redis_password);
  if (c->agent_host_given) cJSON_AddStringToObject(o, "agent_host", c->agent_host);
  if (c->agent_port_given) cJSON_AddNumberToObject(o, "agent_port", c->agent_port);
  if (c->agent_password[0]) cJSON_AddStringToObject(o, "agent_password", c->agent_password);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (s) *len = strlen(s);
  return s;
}

/* The controller's {"error": "..."} message, or a short excerpt of the body. */
static void body_message(const char *body, size_t len, char *out, size_t outlen) {
  cJSON *root = NULL;
  if (rb_json_parse(body, len, &root, NULL, 0) == RB_OK) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsString(e)) {
      snprintf(out, outlen, "%s", e->valuestring);
      cJSON_Delete(root);
      return;
    }
  }
  cJSON_Delete(root);
  snprintf(out, outlen, "%.120s", len ? body : "(empty body)");
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
}

/* end_ns: when the reply was complete (the transfer's finished_ns), 0 for now. */
static void finish_inv_at(struct ow_target *t, struct job_inv *inv, uint64_t end_ns) {
  inv->end_ns = end_ns ? end_ns : rb_clock_mono_ns();
  t->base.on_done(t->base.runner, inv);
}

static void finish_inv(struct ow_target *t, struct job_inv *inv) { finish_inv_at(t, inv, 0); }

static void http_error(struct job_inv *inv, enum job_outcome o, long status, const char *body,
                       size_t len) {
  char msg[240];
  body_message(body, len, msg, sizeof msg);
  char full[JOB_ERROR_MAX];
  snprintf(full, sizeof full, "HTTP %ld: %s", status, msg);
  job_record_set_error(&inv->rec, o, full);
}

static void poll_once(void *arg);

static void on_poll(void *ctx, struct job_http_xfer *x) {
  struct job_inv *inv = ctx;
  struct ow_target *t = (struct ow_target *)inv->target;
  inv->rec.polls++;
  bool done = false;
  if (x->code == CURLE_OK && x->status == 200) {
    if (!job_record_from_activation(&inv->rec, x->body, x->len))
      job_record_set_error(&inv->rec, JOB_ERR_PROTOCOL, inv->rec.error);
    done = true;
  } else if (x->code == CURLE_ABORTED_BY_CALLBACK) {
    job_record_set_error(&inv->rec, JOB_ERR_ABORTED, "stopped while polling the activation");
    done = true;
  }
  uint64_t end_ns = x->finished_ns;
  job_http_xfer_free(x);
  uint64_t now = rb_clock_mono_ns();
  if (!done && now >= inv->deadline_ns) {
    char msg[200];
    snprintf(msg, sizeof msg, "activation %s: no record within the poll timeout (202 accepted)",
             inv->rec.activation_id);
    job_record_set_error(&inv->rec, JOB_ERR_POLL_TIMEOUT, msg);
    done = true;
  }
  if (done) {
    finish_inv_at(t, inv, end_ns);
    return;
  }
  /* 404 until the record is stored, or a passing error: back off and ask again. */
  uint64_t step = 50000000ull << (inv->rec.polls < 4 ? inv->rec.polls : 4); /* 0.1 .. 0.8 s */
  job_http_after(t->base.http, now + step, poll_once, inv);
}

static void poll_once(void *arg) {
  struct job_inv *inv = arg;
  struct ow_target *t = (struct ow_target *)inv->target;
  char url[1000];
  snprintf(url, sizeof url, "%s/%s", t->activations_url, inv->rec.activation_id);
  struct job_http_xfer *x =
      job_http_xfer_new(t->base.http, "GET", url, NULL, 0, NULL, &t->opts, on_poll, inv);
  if (!x || job_http_start(t->base.http, x) != RB_OK) {
    job_http_xfer_free(x);
    job_record_set_error(&inv->rec, JOB_ERR_TRANSPORT, "cannot start the activation poll");
    finish_inv(t, inv);
  }
}

static void start_polling(struct ow_target *t, struct job_inv *inv, struct job_http_xfer *x) {
  cJSON *root = NULL;
  if (rb_json_parse(x->body, x->len, &root, NULL, 0) == RB_OK) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "activationId");
    if (cJSON_IsString(id))
      snprintf(inv->rec.activation_id, sizeof inv->rec.activation_id, "%s", id->valuestring);
  }
  cJSON_Delete(root);
  if (!inv->rec.activation_id[0]) {
    job_record_set_error(&inv->rec, JOB_ERR_PROTOCOL, "HTTP 202 without an activationId");
    finish_inv(t, inv);
    return;
  }
  inv->deadline_ns = rb_clock_mono_ns() + t->poll_timeout_ns;
  poll_once(inv);
}

static void on_invoke(void *ctx, struct job_http_xfer *x) {
  struct job_inv *inv = ctx;
  struct ow_target *t = (struct ow_target *)inv->target;
  inv->rec.http_status = (int)x->status;
  if (x->code != CURLE_OK) {
    inv->rec.http_status = 0;
    job_record_set_error(&inv->rec, job_curl_err_outcome(x->code), x->errbuf);
  } else if (x->status == 200) {
    if (!job_record_from_activation(&inv->rec, x->body, x->len))
      job_record_set_error(&inv->rec, JOB_ERR_PROTOCOL, inv->rec.error);
  } else if (x->status == 202) {
    start_polling(t, inv, x);
    job_http_xfer_free(x);
    return;
  } else if (x->status == 502) {
    if (!job_record_from_activation(&inv->rec, x->body, x->len))
      http_error(inv, JOB_ERR_BAD_GATEWAY, x->status, x->body, x->len);
  } else if (x->status == 429) {
    http_error(inv, JOB_ERR_THROTTLED, x->status, x->body, x->len);
  } else {
    http_error(inv, x->status >= 500 ? JOB_ERR_SERVER : JOB_ERR_CLIENT, x->status, x->body, x->len);
  }
  uint64_t end_ns = x->finished_ns;
  job_http_xfer_free(x);
  finish_inv_at(t, inv, end_ns);
}

/* The run's parameters with this invocation's index (or the prepare fields) at the end:
 * t->body without its closing brace, then job_inv_params_tail. */
static bool inv_body(struct ow_target *t, struct job_inv *inv) {
  char tail[JOB_INV_TAIL_MAX];
  size_t head = t->body_len - 1, n = job_inv_params_tail(inv, tail, sizeof tail);
  bool comma = head > 1; /* "{" alone: no parameter before */
  inv->body = malloc(head + comma + n + 1);
  if (!inv->body) return false;
  memcpy(inv->body, t->body, head);
  if (comma) inv->body[head] = ',';
  memcpy(inv->body + head + comma, tail, n + 1);
  inv->body_len = head + comma + n;
  return true;
}

static enum rb_err ow_send(struct job_target *base, struct job_inv *inv) {
  struct ow_target *t = (struct ow_target *)base;
  inv->target = base;
  if (!inv->body && !inv_body(t, inv)) return RB_ERR_NOMEM;
  struct job_http_xfer *x = job_http_xfer_new(base->http, "POST", t->invoke_url, inv->body,
                                              inv->body_len, NULL, &t->opts, on_invoke, inv);
  if (!x) return RB_ERR_NOMEM;
  enum rb_err rc = job_http_start(base->http, x);
  if (rc != RB_OK) job_http_xfer_free(x);
  return rc;
}

static void ow_destroy(struct job_target *base) {
  struct ow_target *t = (struct ow_target *)base;
  if (!t) return;
  if (t->body) {
    explicit_bzero(t->body, t->body_len);
    free(t->body);
  }
  explicit_bzero(t->userpwd, sizeof t->userpwd);
  job_http_free_secret_headers(t->headers); /* holds the Authorization line */
  cJSON_Delete(t->base.doc_fields);
  free(t);
}

static enum job_preflight classify_check(const char *apihost, const char *action_url, CURLcode rc,
                                         long status, const char *ebuf, char *err, size_t errlen);

/* One GET of the action (Basic auth, --insecure as for the invokes, the body discarded):
 * curl's result and the HTTP status. stop (may be NULL) aborts it when it becomes non-zero. */
struct action_answer {
  CURLcode code;
  long status;
  char ebuf[CURL_ERROR_SIZE];
};

struct stop_ref {
  volatile sig_atomic_t *stop;
};

static int stop_progress(void *clientp, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                         curl_off_t un) {
  (void)dt, (void)dn, (void)ut, (void)un;
  const struct stop_ref *r = clientp;
  return *r->stop != 0; /* non-zero: curl aborts the transfer */
}

static size_t discard_body(char *p, size_t size, size_t n, void *ctx) {
  (void)p, (void)ctx;
  return size * n;
}

static void get_action(const char *url, const char *userpwd, bool insecure, long timeout_ms,
                       volatile sig_atomic_t *stop, struct action_answer *a) {
  *a = (struct action_answer){.code = CURLE_FAILED_INIT};
  CURL *c = curl_easy_init();
  if (!c) return;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->ebuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
  if (insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
  curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
  struct stop_ref ref = {stop};
  if (stop) {
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &ref);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }
  a->code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
  curl_easy_cleanup(c);
}

/* GET the action once: classifies what is wrong before the schedule starts. */
static enum job_preflight check_action(const char *apihost, const char *action_url,
                                       const char *userpwd, bool insecure, char *err,
                                       size_t errlen) {
  struct action_answer a;
  get_action(action_url, userpwd, insecure, 10000, NULL, &a);
  return classify_check(apihost, action_url, a.code, a.status, a.ebuf, err, errlen);
}

/* What the answer to the GET of the action says about the configuration. */
static enum job_preflight classify_check(const char *apihost, const char *action_url, CURLcode rc,
                                         long status, const char *ebuf, char *err, size_t errlen) {
  if (rc != CURLE_OK) {
    enum job_outcome o = job_curl_err_outcome(rc);
    rb_errorf(0, err, errlen, "OpenWhisk API host %s is unreachable (%s: %s)%s", apihost,
              job_outcome_name(o), ebuf[0] ? ebuf : curl_easy_strerror(rc),
              o == JOB_ERR_TLS ? "; for a self-signed certificate pass --insecure" : "");
    return JOB_PREFLIGHT_UNREACHABLE;
  }
  if (status == 401 || status == 403) {
    rb_errorf(0, err, errlen, "the OpenWhisk key was rejected (HTTP %ld): check OPENWHISK_AUTH",
              status);
    return JOB_PREFLIGHT_CONFIG;
  }
  if (status == 404) {
    rb_errorf(0, err, errlen,
              "the action does not exist (HTTP 404 for %s): deploy it or fix --action", action_url);
    return JOB_PREFLIGHT_CONFIG;
  }
  if (status >= 500) {
    rb_errorf(0, err, errlen, "the OpenWhisk API host answered HTTP %ld", status);
    return JOB_PREFLIGHT_UNREACHABLE;
  }
  return JOB_PREFLIGHT_OK;
}

struct preflight {
  size_t pending; /* GETs not yet answered */
  bool answered;  /* code, status, errbuf hold an answer */
  bool failed;    /* ... and it is a failure: the one reported */
  CURLcode code;
  long status;
  char errbuf[CURL_ERROR_SIZE];
};

static void on_preflight(void *ctx, struct job_http_xfer *x) {
  struct preflight *p = ctx;
  p->pending--;
  bool bad = x->code != CURLE_OK || x->status >= 400;
  if (!p->answered || (bad && !p->failed)) { /* the first answer, or the first failure */
    p->answered = true;
    p->failed = bad;
    p->code = x->code;
    p->status = x->status;
    snprintf(p->errbuf, sizeof p->errbuf, "%s", x->errbuf);
  }
  job_http_xfer_free(x);
}

/* The check of the action, made `connections` times at once, each over a connection of its
 * own in the run's connection cache (wrk's -c): the connections stay open for the
 * invocations, which then do not open any on the schedule's clock while the first replies
 * are still on their way (each new connection costs the server an accept, and at a high rate
 * a connection that is slow to answer makes the next send open yet another). A GET of the
 * action is what `wsk action get` does: no invocation, nothing recorded. */
static enum job_preflight check_action_warm(struct ow_target *t, const char *apihost,
                                            const char *action_url, long long connections,
                                            char *err, size_t errlen) {
  struct preflight p = {0};
  for (long long i = 0; i < connections; i++) {
    struct job_http_xfer *x = job_http_xfer_new(t->base.http, "GET", action_url, NULL, 0, NULL,
                                                &t->check_opts, on_preflight, &p);
    if (!x || job_http_start(t->base.http, x) != RB_OK) {
      job_http_xfer_free(x);
      job_http_abort_all(t->base.http);
      rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
      return JOB_PREFLIGHT_CONFIG;
    }
    p.pending++;
  }
  while (p.pending) job_http_wait(t->base.http, rb_clock_mono_ns() + 100000000u);
  return classify_check(apihost, action_url, p.code, p.status, p.errbuf, err, errlen);
}

/* The API host and the key are configured; err says where to set them otherwise. */
static bool config_ok(const struct job_config *cfg, char *err, size_t errlen) {
  if (!cfg->apihost[0]) {
    rb_errorf(0, err, errlen,
              "no OpenWhisk API host: set OPENWHISK_APIHOST in the env file or "
              "environment, or APIHOST in ~/.wskprops");
    return false;
  }
  if (!cfg->auth[0] || !strchr(cfg->auth, ':')) {
    rb_errorf(0, err, errlen,
              "no OpenWhisk key (uuid:key): set OPENWHISK_AUTH or "
              "OPENWHISK_AUTH_FILE, or AUTH in ~/.wskprops");
    return false;
  }
  return true;
}

/* ---- the action's concurrency limit (--action-concurrency) ------------------------------ */

struct ow_answer {
  CURLcode code;
  long status;
  char ebuf[CURL_ERROR_SIZE];
  char *body; /* malloc'd, NUL-terminated (may be NULL) */
  size_t len;
};

static size_t keep_body(char *p, size_t size, size_t n, void *ctx) {
  struct ow_answer *a = ctx;
  size_t k = size * n;
  if (a->len + k > (1u << 20)) return 0; /* an action's metadata is far smaller */
  char *b = realloc(a->body, a->len + k + 1);
  if (!b) return 0;
  memcpy(b + a->len, p, k);
  a->body = b;
  a->len += k;
  b[a->len] = '\0';
  return k;
}

/* One request to the controller (Basic auth; body: JSON or NULL), the answer kept. */
static void ow_request(const char *method, const char *url, const char *userpwd, bool insecure,
                       const char *body, struct ow_answer *a) {
  *a = (struct ow_answer){.code = CURLE_FAILED_INIT};
  CURL *c = curl_easy_init();
  struct curl_slist *h = body ? job_http_json_headers() : NULL;
  if (!c || (body && !h)) {
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return;
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->ebuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  if (insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
  curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
  if (body) {
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  }
  a->code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
  curl_easy_cleanup(c);
  curl_slist_free_all(h);
}

/* What a failed GET or PUT of the action says, for the error naming the action and value. */
static enum job_preflight limit_failed(const char *what, const char *label, long long want,
                                       const struct ow_answer *a, char *err, size_t errlen) {
  if (a->code != CURLE_OK) {
    rb_errorf(0, err, errlen,
              "cannot set the concurrency limit of OpenWhisk action %s to %lld: the %s got no "
              "answer (%s: %s)",
              label, want, what, job_outcome_name(job_curl_err_outcome(a->code)),
              a->ebuf[0] ? a->ebuf : curl_easy_strerror(a->code));
    return JOB_PREFLIGHT_UNREACHABLE;
  }
  char msg[300];
  body_message(a->body ? a->body : "", a->len, msg, sizeof msg);
  const char *fix = a->status == 400 && strstr(msg, "exceeds allowed threshold")
                        ? ": raise the platform's maximum (openwhisk-deploy-kube: "
                          "whisk.limits.actions.concurrency.max; OpenWhisk: "
                          "whisk.concurrency-limit.max, CONFIG_whisk_concurrencyLimit_max) or "
                          "lower --action-concurrency"
                    : a->status == 404 ? ": deploy it or fix --action"
                    : a->status == 401 || a->status == 403
                        ? ": the key may not update the action (check OPENWHISK_AUTH)"
                        : "";
  rb_errorf(0, err, errlen,
            "cannot set the concurrency limit of OpenWhisk action %s to %lld: the %s answered "
            "HTTP %ld: %s%s",
            label, want, what, a->status, msg, fix);
  return a->status >= 500 ? JOB_PREFLIGHT_UNREACHABLE : JOB_PREFLIGHT_CONFIG;
}

/* Makes the action's limits.concurrency `want` before the run: GET the action's metadata and,
 * when its limit differs, PUT ?overwrite=true with its limits, concurrency replaced (no exec,
 * parameters or annotations in the body: the controller keeps them, and the other limits are
 * sent as they were). The outcome becomes the document's JOB_OW_CONCURRENCY_FIELD:
 * {"value", "previous", "updated"}. */
static enum job_preflight set_concurrency(struct ow_target *t, const char *action_url,
                                          const char *label, long long want, bool insecure,
                                          char *err, size_t errlen) {
  char url[1300];
  snprintf(url, sizeof url, "%s?code=false", action_url);
  struct ow_answer a;
  ow_request("GET", url, t->userpwd, insecure, NULL, &a);
  if (a.code != CURLE_OK || a.status != 200) {
    enum job_preflight pf = limit_failed("GET of the action", label, want, &a, err, errlen);
    free(a.body);
    return pf;
  }
  cJSON *action = NULL;
  rb_json_parse(a.body ? a.body : "", a.len, &action, NULL, 0);
  free(a.body);
  cJSON *limits = cJSON_GetObjectItemCaseSensitive(action, "limits");
  if (!cJSON_IsObject(limits)) {
    cJSON_Delete(action);
    rb_errorf(0, err, errlen,
              "cannot set the concurrency limit of OpenWhisk action %s to %lld: the GET of the "
              "action answered no limits object",
              label, want);
    return JOB_PREFLIGHT_CONFIG;
  }
  const cJSON *cur = cJSON_GetObjectItemCaseSensitive(limits, "concurrency");
  long long previous = cJSON_IsNumber(cur) ? (long long)cur->valuedouble : 1; /* absent: 1 */
  enum job_preflight pf = JOB_PREFLIGHT_OK;
  if (previous != want) {
    cJSON *put = cJSON_CreateObject();
    cJSON *lim = cJSON_Duplicate(limits, true);
    if (lim) {
      cJSON_DeleteItemFromObjectCaseSensitive(lim, "concurrency");
      cJSON_AddNumberToObject(lim, "concurrency", (double)want);
    }
    char *body = NULL;
    if (put && lim && cJSON_AddItemToObject(put, "limits", lim)) body = cJSON_PrintUnformatted(put);
    else cJSON_Delete(lim); /* not in put */
    cJSON_Delete(put);
    if (!body) {
      cJSON_Delete(action);
      rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
      return JOB_PREFLIGHT_CONFIG;
    }
    snprintf(url, sizeof url, "%s?overwrite=true", action_url);
    ow_request("PUT", url, t->userpwd, insecure, body, &a);
    free(body);
    if (a.code != CURLE_OK || a.status != 200) {
      pf = limit_failed("update (PUT) of the action", label, want, &a, err, errlen);
    } else {
      cJSON *got = NULL;
      rb_json_parse(a.body ? a.body : "", a.len, &got, NULL, 0);
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(got, "limits"), "concurrency");
      if (!cJSON_IsNumber(c) || (long long)c->valuedouble != want) {
        rb_errorf(0, err, errlen,
                  "cannot set the concurrency limit of OpenWhisk action %s to %lld: the update "
                  "answered 200 but the action's limits.concurrency is %s",
                  label, want, cJSON_IsNumber(c) ? "another value" : "missing");
        pf = JOB_PREFLIGHT_CONFIG;
      }
      cJSON_Delete(got);
    }
    free(a.body);
    if (pf == JOB_PREFLIGHT_OK)
      rb_info("OpenWhisk action %s: concurrency limit set to %lld (was %lld)", label, want,
              previous);
  }
  cJSON_Delete(action);
  if (pf != JOB_PREFLIGHT_OK) return pf;
  cJSON *note = cJSON_CreateObject();
  cJSON *f = note ? cJSON_AddObjectToObject(note, JOB_OW_CONCURRENCY_FIELD) : NULL;
  if (!f) {
    cJSON_Delete(note);
    rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
    return JOB_PREFLIGHT_CONFIG;
  }
  cJSON_AddNumberToObject(f, "value", (double)want);
  cJSON_AddNumberToObject(f, "previous", (double)previous);
  cJSON_AddBoolToObject(f, "updated", previous != want);
  t->base.doc_fields = note;
  return JOB_PREFLIGHT_OK;
}

struct job_target *job_ow_create(struct job_http *http, const struct job_target_conf *tc,
                                 const struct job_config *cfg, const struct job_params *p,
                                 enum job_preflight *pf, char *err, size_t errlen) {
  *pf = JOB_PREFLIGHT_CONFIG;
  if (!config_ok(cfg, err, errlen)) return NULL;
  struct ow_target *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->base.kind = "openwhisk";
  t->base.send = ow_send;
  t->base.destroy = ow_destroy;
  t->base.http = http;
  char ns[128], path[300];
  action_path(tc->action, cfg->namespace_, ns, sizeof ns, path, sizeof path);
  if (tc->action[0] == '/')
    snprintf(t->base.action_label, sizeof t->base.action_label, "%s", tc->action);
  else
    snprintf(t->base.action_label, sizeof t->base.action_label, "/%s/%s", cfg->namespace_,
             tc->action);
  snprintf(t->invoke_url, sizeof t->invoke_url, "%s/api/v1/namespaces/%s/actions/%s?blocking=true",
           cfg->apihost, ns, path);
  snprintf(t->activations_url, sizeof t->activations_url, "%s/api/v1/namespaces/%s/activations",
           cfg->apihost, ns);
  snprintf(t->userpwd, sizeof t->userpwd, "%s", cfg->auth);
  t->opts = (struct job_http_opts){.timeout_ms = (long)(tc->request_timeout * 1000),
                                   .connect_timeout_ms = 10000,
                                   .insecure = tc->insecure,
                                   /* Basic auth: a prebuilt header (below) */
                                   /* inv->body outlives its requests */
                                   .borrow_body = true,
                                   .vary_body = true};
  t->headers = job_http_json_headers();
  if (t->headers) t->headers = job_http_add_basic_auth(t->headers, t->userpwd);
  t->opts.headers = t->headers;
  t->check_opts = t->opts;
  t->check_opts.timeout_ms = 10000;
  t->check_opts.discard_body = true;
  t->check_opts.fresh_connect = true;
  t->check_opts.vary_body = false;
  t->poll_timeout_ns = (uint64_t)(tc->poll_timeout * 1e9);
  t->body = build_body(p, cfg, &t->body_len);
  char action_url[1200];
  snprintf(action_url, sizeof action_url, "%s/api/v1/namespaces/%s/actions/%s", cfg->apihost, ns,
           path);
  *pf = JOB_PREFLIGHT_CONFIG;
  if (!t->body || !t->headers) rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  else *pf = check_action_warm(t, cfg->apihost, action_url, job_params_connections(p), err, errlen);
  if (*pf == JOB_PREFLIGHT_OK && job_params_is_set(p, "action_concurrency"))
    *pf = set_concurrency(t, action_url, t->base.action_label, p->action_concurrency, tc->insecure,
                          err, errlen);
  if (*pf != JOB_PREFLIGHT_OK) {
    ow_destroy(&t->base);
    return NULL;
  }
  return &t->base;
}

enum job_preflight job_ow_check(const struct job_config *cfg, const char *action, bool insecure,
                                char *msg, size_t msglen) {
  char ns[128], path[300], url[1200];
  action_path(action, cfg->namespace_, ns, sizeof ns, path, sizeof path);
  snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/actions/%s", cfg->apihost, ns, path);
  enum job_preflight pf = check_action(cfg->apihost, url, cfg->auth, insecure, msg, msglen);
  if (pf == JOB_PREFLIGHT_OK)
    snprintf(msg, msglen, "%s answers, the key is accepted and action /%s/%s exists", cfg->apihost,
             ns, path);
  return pf;
}

/* ---- waiting for the action (--wait-for-action) ---------------------------------------- */

#define WAIT_STEP_NS 2000000000ull /* one GET every 2 s */

/* Sleeps until at_ns, or less when *stop becomes non-zero (checked every 0.1 s). */
static void sleep_until(uint64_t at_ns, volatile sig_atomic_t *stop) {
  for (uint64_t now = rb_clock_mono_ns(); now < at_ns && !*stop; now = rb_clock_mono_ns()) {
    uint64_t ns = at_ns - now < 100000000u ? at_ns - now : 100000000u;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ns};
    nanosleep(&ts, NULL);
  }
}

/* What the attempts so far found besides 404: the final error says so. */
struct wait_state {
  const char *label; /* /ns/pkg/name */
  double secs;       /* the limit */
  uint64_t start_ns;
  unsigned attempts, unanswered; /* GETs, and those that got no answer or a 5xx */
  bool last_unanswered;
  char last_problem[300];
};

static double waited_s(const struct wait_state *w) {
  return (double)(rb_clock_mono_ns() - w->start_ns) / 1e9;
}

/* Classifies one answer: OK (the action exists), CONFIG/UNREACHABLE (stop at once: a wrong
 * key, a certificate problem), or -1 (not yet: 404, no answer, 5xx; the wait goes on). */
static int wait_answer(struct wait_state *w, const char *apihost, const char *url,
                       const struct action_answer *a, char *err, size_t errlen) {
  w->attempts++;
  w->last_unanswered = false;
  if (a->code == CURLE_OK && a->status == 404) return -1;
  bool tls = a->code != CURLE_OK && job_curl_err_outcome(a->code) == JOB_ERR_TLS;
  bool auth = a->code == CURLE_OK && (a->status == 401 || a->status == 403);
  if (tls || auth || (a->code == CURLE_OK && a->status < 500))
    return (int)classify_check(apihost, url, a->code, a->status, a->ebuf, err, errlen);
  w->unanswered++;
  w->last_unanswered = true;
  if (a->code != CURLE_OK)
    snprintf(w->last_problem, sizeof w->last_problem, "%s: %s",
             job_outcome_name(job_curl_err_outcome(a->code)),
             a->ebuf[0] ? a->ebuf : curl_easy_strerror(a->code));
  else snprintf(w->last_problem, sizeof w->last_problem, "HTTP %ld", a->status);
  return -1;
}

static enum job_preflight wait_failed(const struct wait_state *w, const char *apihost, char *err,
                                      size_t errlen) {
  if (w->last_unanswered) {
    rb_errorf(0, err, errlen,
              "OpenWhisk action %s could not be checked after waiting %.0f s (--wait-for-action "
              "%g): the API host %s did not answer %u of %u checks, the last one too (last: %s): "
              "check OPENWHISK_APIHOST and that the controller is up; tools/deploy.sh creates the "
              "action",
              w->label, waited_s(w), w->secs, apihost, w->unanswered, w->attempts, w->last_problem);
    return JOB_PREFLIGHT_UNREACHABLE;
  }
  char host[400] = "";
  if (w->unanswered)
    snprintf(host, sizeof host, "; the API host %s did not answer %u of %u checks (last: %s)",
             apihost, w->unanswered, w->attempts, w->last_problem);
  rb_errorf(0, err, errlen,
            "OpenWhisk action %s does not exist after waiting %.0f s (--wait-for-action %g)%s: "
            "create it with tools/deploy.sh (or fix --action), or wait longer",
            w->label, waited_s(w), w->secs, host);
  return JOB_PREFLIGHT_CONFIG;
}

enum job_preflight job_ow_wait_for_action(const struct job_config *cfg, const char *action,
                                          bool insecure, double secs, volatile sig_atomic_t *stop,
                                          char *err, size_t errlen) {
  if (!config_ok(cfg, err, errlen)) return JOB_PREFLIGHT_CONFIG;
  char ns[128], path[300], url[1300], label[500];
  action_path(action, cfg->namespace_, ns, sizeof ns, path, sizeof path);
  snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/actions/%s?code=false", cfg->apihost, ns,
           path);
  snprintf(label, sizeof label, "/%s/%s", ns, path);
  struct wait_state w = {.label = label, .secs = secs, .start_ns = rb_clock_mono_ns()};
  uint64_t deadline = w.start_ns + (uint64_t)(secs * 1e9);
  for (;;) {
    uint64_t now = rb_clock_mono_ns();
    long left_ms = deadline > now ? (long)((deadline - now) / 1000000u) : 0;
    struct action_answer a;
    get_action(url, cfg->auth, insecure,
               left_ms > 10000  ? 10000
               : left_ms < 1000 ? 1000
                                : left_ms,
               stop, &a);
    if (*stop) break;
    int rc = wait_answer(&w, cfg->apihost, url, &a, err, errlen);
    if (rc >= 0) {
      if (rc == JOB_PREFLIGHT_OK && w.attempts > 1)
        rb_info("OpenWhisk action %s exists (after %.1f s of waiting)", label, waited_s(&w));
      return (enum job_preflight)rc;
    }
    if (w.attempts == 1)
      rb_info(
          "waiting up to %g s for OpenWhisk action %s to exist (%s; tools/deploy.sh creates it)",
          secs, label, w.last_unanswered ? w.last_problem : "HTTP 404 for now");
    now = rb_clock_mono_ns();
    if (now >= deadline) return wait_failed(&w, cfg->apihost, err, errlen);
    sleep_until(now + WAIT_STEP_NS < deadline ? now + WAIT_STEP_NS : deadline, stop);
    if (*stop) break;
  }
  rb_errorf(0, err, errlen,
            "interrupted while waiting for OpenWhisk action %s (after %.1f s): "
            "nothing was run, no results written",
            label, waited_s(&w));
  return JOB_PREFLIGHT_INTERRUPTED;
}
