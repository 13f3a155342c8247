/* fakewhisk.c: a test double of the OpenWhisk controller's REST API on loopback, answering
 * as OpenWhisk's REST API documents it (docs/runner.md, "Target openwhisk"; libmicrohttpd,
 * optional TLS).
 *
 * Behaviour is chosen by the action name (last path segment), so one server covers every
 * case:
 *   ok         200 + activation record (waitTime; initTime on the first call only: cold start);
 *              the result echoes the body's "invocation" (-1 when absent), and a prepare call
 *              ("prepare": true) is answered as rbench-action does, with "prepared"
 *   accepted   202 {"activationId"}; GET /activations/{id} is 404 twice, then 200 + record
 *   throttled  429 {"error":"Too many requests in the last minute (count: N, allowed: 60).","code"}
 *   apperror   502 + record with response.status "application error" and result {"error"}
 *   gateway    502 with an HTML body (a proxy in front of the controller)
 *   internal   500 {"error","code"}
 *   slow       200 after 3 seconds
 *   missing    404 for GET and POST (unknown action)
 *   appears-after-MS  404 for GET and POST until MS milliseconds after the first request
 *              naming it (an action tools/deploy.sh creates while a runner waits), then ok
 *   new-*      404 for GET and POST until created with PUT .../actions/{pkg}/new-* (what
 *              `wsk action create` sends: 200 with the action; 409 when it exists and
 *              overwrite=true is not given), then ok
 * GET of an existing action answers 200 with the action's metadata as the controller does
 * for ?code=false (namespace, name, version, exec without code, annotations, parameters,
 * limits, publish, updated). Every invoke answer carries x-openwhisk-activation-id. A wrong
 * Authorization is 401 {"error","code"}.
 *
 * Limits (Actions.scala create/update): a PUT's limits (timeout, memory, logs, concurrency),
 * each optional, replace the action's, the others are kept (a PUT without exec keeps exec,
 * parameters and annotations); what GET and PUT answer shows them (defaults 60000, 256, 10,
 * 1). limits.concurrency outside 1..--max-concurrency (default 1, OpenWhisk's default
 * concurrency-limit max) is refused before anything is stored, as checkActionLimits does:
 * 400 {"error":"Concurrency N exceeds allowed threshold of MAX.","code"} (or "below allowed
 * threshold of 1."). The log line of a PUT shows its query (?overwrite=true).
 *
 * It also plays the Kubernetes API server's ConfigMap endpoints (with --bearer TOKEN), keeping
 * what is written:
 *   POST /api/v1/namespaces/{ns}/configmaps         201, or 409 AlreadyExists when the
 *                                                    name was created before
 *   PUT  /api/v1/namespaces/{ns}/configmaps/{name}  200, or 404 NotFound
 *   GET  /api/v1/namespaces/{ns}/configmaps/{name}  200 + the object, or 404 NotFound
 *   GET  /api/v1/namespaces/{ns}/configmaps         200 ConfigMapList (?labelSelector=k=v,...)
 * All need "Authorization: Bearer TOKEN" (else 401 Status); writes need Content-Type
 * application/json (else 415 Status).
 *
 * With --rbac FILE --identity NS:NAME the token is service account NAME of namespace NS and
 * every ConfigMap request is authorized as the API server's RBAC authorizer does it: FILE is a
 * JSON array of Role and RoleBinding objects (a rendered chart); a request is allowed when a
 * RoleBinding in the request's namespace binds the service account to a Role of that
 * namespace with a rule matching apiGroup "", resource "configmaps", the verb (create, update,
 * get, list) and, when the rule has resourceNames, the object's name (never for create or
 * list, whose name is not known when they are authorized). Anything else is 403 Forbidden
 * with the API server's Status (reason Forbidden, details).
 *
 * Usage: fakewhisk --port N [--auth UUID:KEY] [--bearer TOKEN [--rbac FILE --identity NS:NAME]]
 *                  [--tls CERT KEY] [--log FILE] [--max-concurrency N]
 * --log appends one line per request: "METHOD URL[?code=X] auth=ok|bad ctype=TYPE BODY", and one
 * line "CONNECTION N" when the N-th connection is accepted (tests count the connections a client
 * opens, and when). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>

#include "rb_json.h"
#include "rb_str.h"

static char expected_auth[600];
static char expected_bearer[600];

struct stored_cm {
  char ns[128];
  char name[256];
  char *body;
};
static struct stored_cm stored[256];
static int stored_n;
static cJSON *rbac;           /* --rbac: Roles and RoleBindings, NULL: allow everything */
static char identity_ns[128]; /* --identity NS:NAME */
static char identity_name[256];
static FILE *logf_;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counter;
static unsigned long connections;
static int ok_calls;
static int poll_counts[4096];

struct req {
  char *body;
  size_t len;
  bool slow_done; /* "slow": its 3 seconds are over */
};

static int slow_pending; /* suspended "slow" connections (under lock) */

struct slow_wait {
  struct MHD_Connection *c;
  struct req *rq;
};

/* "slow" answers after 3 s without holding one of the server's threads: the connection is
 * suspended and resumed from a thread of its own. */
static void *slow_timer(void *arg) {
  struct slow_wait *w = arg;
  sleep(3);
  pthread_mutex_lock(&lock);
  w->rq->slow_done = true;
  slow_pending--;
  pthread_mutex_unlock(&lock);
  MHD_resume_connection(w->c);
  free(w);
  return NULL;
}

static bool slow_start(struct MHD_Connection *c, struct req *rq) {
  struct slow_wait *w = malloc(sizeof *w);
  pthread_t t;
  if (!w) return false;
  *w = (struct slow_wait){c, rq};
  pthread_mutex_lock(&lock);
  slow_pending++;
  pthread_mutex_unlock(&lock);
  MHD_suspend_connection(c);
  if (pthread_create(&t, NULL, slow_timer, w) != 0) {
    MHD_resume_connection(c);
    pthread_mutex_lock(&lock);
    slow_pending--;
    pthread_mutex_unlock(&lock);
    free(w);
    return false;
  }
  pthread_detach(t);
  return true;
}

static long long now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static long long date_skew_ms; /* --date-skew-ms: the Date header this far from the clock */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *aid, const char *ctype) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
  if (date_skew_ms) { /* a server whose clock is off (rbench run --start-at's clock check) */
    time_t t = (time_t)((now_ms() + date_skew_ms) / 1000);
    struct tm tm;
    char date[64];
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    MHD_add_response_header(r, "Date", date);
  }
  MHD_add_response_header(r, "Content-Type", ctype ? ctype : "application/json");
  if (aid) MHD_add_response_header(r, "x-openwhisk-activation-id", aid);
  enum MHD_Result rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

static void record_json(char *out, size_t len, const char *aid, const char *path,
                        const char *status, bool cold, const char *result) {
  long long end = now_ms();
  snprintf(out, len,
           "{\"namespace\":\"guest\",\"name\":\"%s\",\"version\":\"0.0.1\",\"subject\":\"guest\","
           "\"activationId\":\"%s\",\"start\":%lld,\"end\":%lld,\"duration\":%d,\"statusCode\":0,"
           "\"response\":{\"status\":\"%s\",\"statusCode\":0,\"success\":%s,\"result\":%s},"
           "\"logs\":[],\"annotations\":[{\"key\":\"path\",\"value\":\"guest/%s\"},"
           "{\"key\":\"waitTime\",\"value\":7},{\"key\":\"kind\",\"value\":\"blackbox\"},"
           "{\"key\":\"timeout\",\"value\":false},{\"key\":\"limits\",\"value\":{\"concurrency\":1,"
           "\"logs\":10,\"memory\":256,\"timeout\":60000}}%s],\"publish\":false}",
           strrchr(path, '/') ? strrchr(path, '/') + 1 : path, aid, end - (cold ? 45 : 3), end,
           cold ? 45 : 3, status, strcmp(status, "success") ? "false" : "true", result, path,
           cold ? ",{\"key\":\"initTime\",\"value\":31}" : "");
}

static const char *ok_result =
    "{\"succeeded\":10,\"failed\":0,\"elapsed_us\":2100,\"connect_us\":150,\"ops_per_sec\":4761.9,"
    "\"latency_us\":{\"p50\":200,\"p90\":300,\"p99\":400,\"min\":100,\"max\":400,\"mean\":210},"
    "\"cold\":false,\"warm\":true}";

/* Actions that exist only from some moment: appears-after-MS (timed from the first request
 * naming it) and new-* (from its PUT). Under lock. */
struct late_action {
  char name[128];
  long long since_ms; /* appears-after-MS: first seen; new-*: created (0 = not yet) */
};
static struct late_action late[64];
static int late_n;

static struct late_action *late_find(const char *name, bool add) {
  for (int i = 0; i < late_n; i++)
    if (!strcmp(late[i].name, name)) return &late[i];
  if (!add || late_n == (int)(sizeof late / sizeof late[0])) return NULL;
  struct late_action *a = &late[late_n++];
  snprintf(a->name, sizeof a->name, "%s", name);
  a->since_ms = 0;
  return a;
}

static bool is_late(const char *name) {
  return !strncmp(name, "appears-after-", 14) || !strncmp(name, "new-", 4);
}

/* Whether a late action exists now (other names: true). */
static bool late_exists(const char *name) {
  if (!is_late(name)) return true;
  pthread_mutex_lock(&lock);
  bool timed = !strncmp(name, "appears-after-", 14);
  struct late_action *a = late_find(name, timed);
  if (a && timed && !a->since_ms) a->since_ms = now_ms();
  bool exists = a && a->since_ms && now_ms() >= a->since_ms + (timed ? atoll(name + 14) : 0);
  pthread_mutex_unlock(&lock);
  return exists;
}

static const char not_found[] =
    "{\"error\":\"The requested resource does not exist.\",\"code\":\"tid5\"}";

/* Each action's limits, by name (under lock); an action not listed has the defaults. */
struct action_limits {
  char name[128];
  long long timeout, memory, logs, concurrency;
};
static struct action_limits limits_of[64];
static int limits_n;
static long long max_concurrency =
    1; /* --max-concurrency: the controller's concurrency-limit max */

static struct action_limits action_limits_get(const char *name) {
  struct action_limits l = {.timeout = 60000, .memory = 256, .logs = 10, .concurrency = 1};
  snprintf(l.name, sizeof l.name, "%s", name);
  for (int i = 0; i < limits_n; i++)
    if (!strcmp(limits_of[i].name, name)) l = limits_of[i];
  return l;
}

static void action_limits_set(const struct action_limits *l) {
  for (int i = 0; i < limits_n; i++)
    if (!strcmp(limits_of[i].name, l->name)) {
      limits_of[i] = *l;
      return;
    }
  if (limits_n < (int)(sizeof limits_of / sizeof limits_of[0])) limits_of[limits_n++] = *l;
}

/* The action as GET .../actions/{pkg}/{name}?code=false and PUT answer it (WhiskAction's
 * JSON without exec.code). */
static enum MHD_Result action_json(struct MHD_Connection *c, const char *url, const char *name) {
  /* .../namespaces/{ns}/actions/[{pkg}/]{name}: "namespace" is "ns/pkg", "_" the guest's */
  char body[1200], ns[200] = "guest";
  const char *p = strstr(url, "/namespaces/"), *acts = strstr(url, "/actions/");
  if (p && acts) {
    int nslen = (int)(acts - p - 12);
    const char *pkg = acts + 9, *slash = strchr(pkg, '/');
    bool guest = nslen == 1 && p[12] == '_';
    snprintf(ns, sizeof ns, "%.*s%s%.*s", guest ? 5 : nslen, guest ? "guest" : p + 12,
             slash ? "/" : "", slash ? (int)(slash - pkg) : 0, pkg);
  }
  pthread_mutex_lock(&lock);
  struct action_limits l = action_limits_get(name);
  pthread_mutex_unlock(&lock);
  snprintf(
      body, sizeof body,
      "{\"namespace\":\"%s\",\"name\":\"%s\",\"version\":\"0.0.1\",\"exec\":{\"kind\":\"blackbox\","
      "\"image\":\"localhost:5000/rbench-action:1\",\"binary\":false},\"annotations\":[{\"key\":"
      "\"provide-api-key\",\"value\":false},{\"key\":\"exec\",\"value\":\"blackbox\"}],"
      "\"parameters\":[{\"key\":\"redis_host\",\"value\":\"redis\"}],\"limits\":{\"concurrency\":%"
      "lld,"
      "\"logs\":%lld,\"memory\":%lld,\"timeout\":%lld},\"publish\":false,\"updated\":%lld}",
      ns, name, l.concurrency, l.logs, l.memory, l.timeout, now_ms());
  return reply(c, 200, body, NULL, NULL);
}

/* The PUT body's limits over the action's: false with the controller's 400 message in err
 * when limits.concurrency is outside 1..max_concurrency (nothing changed then). */
static bool put_limits(const char *name, const char *body, struct action_limits *out, char *err,
                       size_t errlen) {
  cJSON *root = NULL;
  if (body && rb_json_parse(body, strlen(body), &root, NULL, 0) != RB_OK) root = NULL;
  const cJSON *lim = cJSON_GetObjectItemCaseSensitive(root, "limits");
  pthread_mutex_lock(&lock);
  *out = action_limits_get(name);
  pthread_mutex_unlock(&lock);
  const char *keys[] = {"timeout", "memory", "logs", "concurrency"};
  long long *vals[] = {&out->timeout, &out->memory, &out->logs, &out->concurrency};
  for (int i = 0; i < 4; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(lim, keys[i]);
    if (cJSON_IsNumber(v)) *vals[i] = (long long)v->valuedouble;
  }
  cJSON_Delete(root);
  if (out->concurrency > max_concurrency)
    snprintf(err, errlen, "Concurrency %lld exceeds allowed threshold of %lld.", out->concurrency,
             max_concurrency);
  else if (out->concurrency < 1)
    snprintf(err, errlen, "Concurrency %lld below allowed threshold of 1.", out->concurrency);
  else return true;
  return false;
}

/* PUT .../actions/{pkg}/{name}[?overwrite=true]: creates (or updates) the action. */
static enum MHD_Result action_put(struct MHD_Connection *c, const char *url, const char *name,
                                  const char *body) {
  const char *ow = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "overwrite");
  bool overwrite = ow && !strcmp(ow, "true");
  struct action_limits l;
  char err[200], answer[400];
  if (!put_limits(name, body, &l, err, sizeof err)) { /* checked before the store, as the
                                                         controller's checkActionLimits is */
    snprintf(answer, sizeof answer, "{\"error\":\"%s\",\"code\":\"tid7\"}", err);
    return reply(c, 400, answer, NULL, NULL);
  }
  pthread_mutex_lock(&lock);
  struct late_action *a = is_late(name) ? late_find(name, true) : NULL;
  bool existed = !is_late(name) || (a && a->since_ms);
  bool conflict = existed && !overwrite;
  if (a && !existed) a->since_ms = now_ms();
  if (!conflict) action_limits_set(&l);
  pthread_mutex_unlock(&lock);
  if (conflict)
    return reply(c, 409, "{\"error\":\"resource already exists\",\"code\":\"tid6\"}", NULL, NULL);
  return action_json(c, url, name);
}

static enum MHD_Result invoke(struct MHD_Connection *c, struct req *rq, const char *url,
                              const char *name) {
  if (is_late(name)) name = "ok"; /* it exists (handle checked): it behaves as ok */
  char aid[40], body[4096];
  if (!strcmp(name, "slow") && !rq->slow_done && slow_start(c, rq)) return MHD_YES;
  unsigned long id;
  pthread_mutex_lock(&lock);
  id = ++counter;
  bool cold = strcmp(name, "ok") == 0 && ok_calls++ == 0;
  pthread_mutex_unlock(&lock);
  snprintf(aid, sizeof aid, "%032lx", id);
  const char *path = strstr(url, "/actions/") + 9;
  char p[300];
  snprintf(p, sizeof p, "%.*s", (int)strcspn(path, "?"), path);
  if (!strcmp(name, "ok")) {
    /* rbench-action's answers to a prepare call, and its "invocation" echoed back */
    const char *inv = rq->body ? strstr(rq->body, "\"invocation\":") : NULL;
    const char *cnt = rq->body ? strstr(rq->body, "\"prepare_count\":") : NULL;
    long long count = cnt ? atoll(cnt + 16) : 0;
    char result[600];
    if (rq->body && strstr(rq->body, "\"prepare\":true"))
      snprintf(result, sizeof result,
               "{\"succeeded\":0,\"failed\":0,\"elapsed_us\":900,\"prepared\":{\"keys\":%lld,"
               "\"elements\":%lld,\"namespaces\":[\"string\"]}}",
               count, count);
    else
      snprintf(result, sizeof result, "%.*s,\"invocation\":%lld}", (int)strlen(ok_result) - 1,
               ok_result, inv ? atoll(inv + 13) : -1);
    record_json(body, sizeof body, aid, p, "success", cold, result);
    return reply(c, 200, body, aid, NULL);
  }
  if (!strcmp(name, "slow")) {
    record_json(body, sizeof body, aid, p, "success", false, ok_result);
    return reply(c, 200, body, aid, NULL);
  }
  if (!strcmp(name, "accepted")) {
    snprintf(body, sizeof body, "{\"activationId\":\"%s\"}", aid);
    return reply(c, 202, body, aid, NULL);
  }
  if (!strcmp(name, "throttled")) {
    snprintf(body, sizeof body,
             "{\"error\":\"Too many requests in the last minute (count: %lu, "
             "allowed: 60).\",\"code\":\"tid%lu\"}",
             60 + id, id);
    return reply(c, 429, body, aid, NULL);
  }
  if (!strcmp(name, "apperror")) {
    record_json(body, sizeof body, aid, p, "application error", false,
                "{\"error\":\"3 of 10 operations failed (127.0.0.1:6379): connection refused\"}");
    return reply(c, 502, body, aid, NULL);
  }
  if (!strcmp(name, "gateway"))
    return reply(c, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", NULL, "text/html");
  if (!strcmp(name, "internal"))
    return reply(c, 500, "{\"error\":\"An internal error occurred.\",\"code\":\"tid1\"}", aid,
                 NULL);
  return reply(c, 404, "{\"error\":\"The requested resource does not exist.\",\"code\":\"tid2\"}",
               NULL, NULL);
}

static enum MHD_Result activation_get(struct MHD_Connection *c, const char *id) {
  unsigned long n = strtoul(id, NULL, 16);
  pthread_mutex_lock(&lock);
  int polls = n < 4096 ? ++poll_counts[n] : 3;
  pthread_mutex_unlock(&lock);
  if (polls <= 2)
    return reply(c, 404, "{\"error\":\"The requested resource does not exist.\",\"code\":\"tid3\"}",
                 NULL, NULL);
  char body[4096];
  record_json(body, sizeof body, id, "pkg/accepted", "success", false, ok_result);
  return reply(c, 200, body, NULL, NULL);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, cJSON *obj) {
  char *body = cJSON_PrintUnformatted(obj);
  cJSON_Delete(obj);
  enum MHD_Result rc = reply(c, code, body ? body : "{}", NULL, NULL);
  free(body);
  return rc;
}

/* A Status object as the API server sends with every error. */
static enum MHD_Result k8s_status_details(struct MHD_Connection *c, unsigned code,
                                          const char *reason, const char *message,
                                          const char *name) {
  cJSON *st = cJSON_CreateObject();
  cJSON_AddStringToObject(st, "kind", "Status");
  cJSON_AddStringToObject(st, "apiVersion", "v1");
  cJSON_AddObjectToObject(st, "metadata");
  cJSON_AddStringToObject(st, "status", "Failure");
  cJSON_AddStringToObject(st, "message", message);
  cJSON_AddStringToObject(st, "reason", reason);
  if (name) {
    cJSON *d = cJSON_AddObjectToObject(st, "details");
    if (*name) cJSON_AddStringToObject(d, "name", name);
    cJSON_AddStringToObject(d, "kind", "configmaps");
  }
  cJSON_AddNumberToObject(st, "code", code);
  return send_json(c, code, st);
}

static enum MHD_Result k8s_status(struct MHD_Connection *c, unsigned code, const char *reason,
                                  const char *message) {
  return k8s_status_details(c, code, reason, message, NULL);
}

static bool json_array_has(const cJSON *arr, const char *want) {
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    if (cJSON_IsString(e) && (!strcmp(e->valuestring, want) || !strcmp(e->valuestring, "*")))
      return true;
  }
  return false;
}

static const char *str_at(const cJSON *o, const char *a, const char *b) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
  return cJSON_IsString(x) ? x->valuestring : "";
}

static bool rule_allows(const cJSON *rule, const char *verb, const char *name) {
  if (!json_array_has(cJSON_GetObjectItemCaseSensitive(rule, "apiGroups"), "") ||
      !json_array_has(cJSON_GetObjectItemCaseSensitive(rule, "resources"), "configmaps") ||
      !json_array_has(cJSON_GetObjectItemCaseSensitive(rule, "verbs"), verb))
    return false;
  const cJSON *names = cJSON_GetObjectItemCaseSensitive(rule, "resourceNames");
  if (cJSON_GetArraySize(names) == 0) return true;
  return *name && json_array_has(names, name);
}

static bool role_allows(const char *ns, const char *role, const char *verb, const char *name) {
  const cJSON *o;
  cJSON_ArrayForEach(o, rbac) {
    if (strcmp(str_at(o, "kind", NULL), "Role") || strcmp(str_at(o, "metadata", "name"), role) ||
        strcmp(str_at(o, "metadata", "namespace"), ns))
      continue;
    const cJSON *rule;
    cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(o, "rules")) {
      if (rule_allows(rule, verb, name)) return true;
    }
  }
  return false;
}

/* RBAC as the API server evaluates it for a namespaced request of the --identity account. */
static bool authorized(const char *ns, const char *verb, const char *name) {
  if (!rbac) return true;
  const cJSON *o;
  cJSON_ArrayForEach(o, rbac) {
    if (strcmp(str_at(o, "kind", NULL), "RoleBinding") ||
        strcmp(str_at(o, "metadata", "namespace"), ns) ||
        strcmp(str_at(o, "roleRef", "kind"), "Role"))
      continue;
    bool bound = false;
    const cJSON *sub;
    cJSON_ArrayForEach(sub, cJSON_GetObjectItemCaseSensitive(o, "subjects")) {
      bound |= !strcmp(str_at(sub, "kind", NULL), "ServiceAccount") &&
               !strcmp(str_at(sub, "name", NULL), identity_name) &&
               !strcmp(str_at(sub, "namespace", NULL), identity_ns);
    }
    if (bound && role_allows(ns, str_at(o, "roleRef", "name"), verb, name)) return true;
  }
  return false;
}

static enum MHD_Result forbidden(struct MHD_Connection *c, const char *ns, const char *verb,
                                 const char *name) {
  char msg[1200], who[500];
  snprintf(who, sizeof who,
           "User \"system:serviceaccount:%s:%s\" cannot %s resource \"configmaps\" "
           "in API group \"\" in the namespace \"%s\"",
           identity_ns, identity_name, verb, ns);
  if (*name) snprintf(msg, sizeof msg, "configmaps \"%s\" is forbidden: %s", name, who);
  else snprintf(msg, sizeof msg, "configmaps is forbidden: %s", who);
  return k8s_status_details(c, 403, "Forbidden", msg, name);
}

/* The name in a ConfigMap body's metadata. */
static void body_name(const char *body, char *out, size_t len) {
  cJSON *root = NULL;
  out[0] = '\0';
  if (body && rb_json_parse(body, strlen(body), &root, NULL, 0) == RB_OK)
    snprintf(out, len, "%s",
             str_at(cJSON_GetObjectItemCaseSensitive(root, "metadata"), "name", NULL));
  cJSON_Delete(root);
}

/* Under lock. */
static struct stored_cm *stored_find(const char *ns, const char *name) {
  for (int i = 0; i < stored_n; i++)
    if (!strcmp(stored[i].ns, ns) && !strcmp(stored[i].name, name)) return &stored[i];
  return NULL;
}

/* labelSelector of equality terms "k=v,k2=v2" (what kubectl -l KEY=VALUE sends). */
static bool labels_match(const cJSON *cm, const char *selector) {
  if (!selector || !*selector) return true;
  const cJSON *labels =
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cm, "metadata"), "labels");
  char sel[1024];
  snprintf(sel, sizeof sel, "%s", selector);
  char *save = NULL;
  for (char *term = strtok_r(sel, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(term, '=');
    if (!eq) return false;
    *eq = '\0';
    const char *want = eq[1] == '=' ? eq + 2 : eq + 1;
    if (strcmp(str_at(labels, term, NULL), want)) return false;
  }
  return true;
}

static enum MHD_Result configmap_list(struct MHD_Connection *c, const char *ns) {
  const char *sel = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "labelSelector");
  cJSON *list = cJSON_CreateObject();
  cJSON_AddStringToObject(list, "kind", "ConfigMapList");
  cJSON_AddStringToObject(list, "apiVersion", "v1");
  cJSON_AddObjectToObject(list, "metadata");
  cJSON *items = cJSON_AddArrayToObject(list, "items");
  pthread_mutex_lock(&lock);
  for (int i = 0; i < stored_n; i++) {
    cJSON *cm = NULL;
    if (strcmp(stored[i].ns, ns) ||
        rb_json_parse(stored[i].body, strlen(stored[i].body), &cm, NULL, 0) != RB_OK)
      continue;
    if (labels_match(cm, sel)) cJSON_AddItemToArray(items, cm);
    else cJSON_Delete(cm);
  }
  pthread_mutex_unlock(&lock);
  return send_json(c, 200, list);
}

static enum MHD_Result configmaps(struct MHD_Connection *c, const char *url, const char *method,
                                  const char *body) {
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
  char want[700];
  snprintf(want, sizeof want, "Bearer %s", expected_bearer);
  if (!auth || strcmp(auth, want)) return k8s_status(c, 401, "Unauthorized", "Unauthorized");
  /* /api/v1/namespaces/{ns}/configmaps[/{name}] */
  char ns[128] = "", name[256] = "";
  const char *p = strncmp(url, "/api/v1/namespaces/", 19) ? NULL : url + 19;
  size_t nsl = p ? strcspn(p, "/") : 0;
  if (!p || nsl == 0 || nsl >= sizeof ns || strncmp(p + nsl, "/configmaps", 11) ||
      (p[nsl + 11] && p[nsl + 11] != '/'))
    return k8s_status(c, 404, "NotFound", "the server could not find the requested resource");
  memcpy(ns, p, nsl);
  if (p[nsl + 11] == '/') snprintf(name, sizeof name, "%s", p + nsl + 12);
  bool write = !strcmp(method, "POST") || !strcmp(method, "PUT");
  if (write && (!ctype || strcmp(ctype, "application/json")))
    return k8s_status(c, 415, "UnsupportedMediaType", "the body must be application/json");
  const char *verb = !strcmp(method, "POST")  ? "create"
                     : !strcmp(method, "PUT") ? "update"
                     : !strcmp(method, "GET") ? (*name ? "get" : "list")
                                              : NULL;
  if (!verb || (!strcmp(verb, "create") && *name) || (!strcmp(verb, "update") && !*name))
    return k8s_status(c, 405, "MethodNotAllowed", "method not allowed");
  if (!authorized(ns, verb, name)) return forbidden(c, ns, verb, name);
  if (!strcmp(verb, "list")) return configmap_list(c, ns);
  char msg[400];
  pthread_mutex_lock(&lock);
  if (!strcmp(verb, "get")) {
    struct stored_cm *s = stored_find(ns, name);
    char *copy = s ? strdup(s->body) : NULL;
    pthread_mutex_unlock(&lock);
    if (!copy) {
      snprintf(msg, sizeof msg, "configmaps \"%s\" not found", name);
      return k8s_status_details(c, 404, "NotFound", msg, name);
    }
    enum MHD_Result rc = reply(c, 200, copy, NULL, NULL);
    free(copy);
    return rc;
  }
  char bname[256];
  body_name(body, bname, sizeof bname);
  if (!strcmp(verb, "update")) {
    struct stored_cm *s = stored_find(ns, name);
    char *nb = s ? strdup(body ? body : "{}") : NULL;
    if (nb) free(s->body), s->body = nb;
    pthread_mutex_unlock(&lock);
    if (!nb) {
      snprintf(msg, sizeof msg, "configmaps \"%s\" not found", name);
      return k8s_status_details(c, 404, "NotFound", msg, name);
    }
    return reply(c, 200, body, NULL, NULL);
  }
  bool exists = stored_find(ns, bname) != NULL;
  if (!exists && stored_n < (int)(sizeof stored / sizeof stored[0])) {
    struct stored_cm *s = &stored[stored_n++];
    snprintf(s->ns, sizeof s->ns, "%s", ns);
    snprintf(s->name, sizeof s->name, "%s", bname);
    s->body = strdup(body ? body : "{}");
  }
  pthread_mutex_unlock(&lock);
  if (exists) {
    snprintf(msg, sizeof msg, "configmaps \"%s\" already exists", bname);
    return k8s_status_details(c, 409, "AlreadyExists", msg, bname);
  }
  return reply(c, 201, body, NULL, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **con_cls) {
  (void)cls;
  (void)version;
  struct req *rq = *con_cls;
  if (!rq) {
    *con_cls = calloc(1, sizeof *rq);
    return MHD_YES;
  }
  if (*size) {
    rq->body = realloc(rq->body, rq->len + *size + 1);
    memcpy(rq->body + rq->len, data, *size);
    rq->len += *size;
    rq->body[rq->len] = '\0';
    *size = 0;
    return MHD_YES;
  }
  if (expected_bearer[0] && strstr(url, "/configmaps")) {
    if (logf_) {
      const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
      const char *au = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
      char want[700];
      snprintf(want, sizeof want, "Bearer %s", expected_bearer);
      pthread_mutex_lock(&lock);
      fprintf(logf_, "%s %s auth=%s ctype=%s %s\n", method, url,
              au && !strcmp(au, want) ? "ok" : "bad", ct ? ct : "-", rq->body ? rq->body : "");
      fflush(logf_);
      pthread_mutex_unlock(&lock);
    }
    return configmaps(c, url, method, rq->body);
  }
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  char want[900] = "Basic ";
  rb_base64_encode(expected_auth, strlen(expected_auth), want + 6);
  bool auth_ok = !expected_auth[0] || (auth && !strcmp(auth, want));
  if (logf_) {
    pthread_mutex_lock(&lock);
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *code = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "code");
    const char *ow = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "overwrite");
    fprintf(logf_, "%s %s%s%s%s%s auth=%s ctype=%s %s\n", method, url, code ? "?code=" : "",
            code ? code : "", ow ? "?overwrite=" : "", ow ? ow : "", auth_ok ? "ok" : "bad",
            ct ? ct : "-", rq->body ? rq->body : "");
    fflush(logf_);
    pthread_mutex_unlock(&lock);
  }
  if (!auth_ok)
    return reply(c, 401, "{\"error\":\"The supplied authentication is invalid\",\"code\":\"tid4\"}",
                 NULL, NULL);
  const char *name = strrchr(url, '/') ? strrchr(url, '/') + 1 : url;
  if (strstr(url, "/activations/")) return activation_get(c, name);
  if (!strstr(url, "/actions/"))
    return reply(c, 404, "{\"error\":\"not found\",\"code\":\"x\"}", NULL, NULL);
  if (!strcmp(method, "PUT")) return action_put(c, url, name, rq->body);
  if (!strcmp(name, "missing") || !late_exists(name)) return reply(c, 404, not_found, NULL, NULL);
  if (!strcmp(method, "GET")) return action_json(c, url, name);
  return invoke(c, rq, url, name);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  struct req *rq = *con_cls;
  if (rq) free(rq->body);
  free(rq);
  *con_cls = NULL;
}

static void connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe) {
  (void)cls;
  (void)c;
  (void)socket_context;
  if (toe != MHD_CONNECTION_NOTIFY_STARTED) return;
  pthread_mutex_lock(&lock);
  unsigned long n = ++connections;
  if (logf_) {
    fprintf(logf_, "CONNECTION %lu\n", n);
    fflush(logf_);
  }
  pthread_mutex_unlock(&lock);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 1 << 20);
  if (!buf) {
    fclose(f);
    return NULL;
  }
  size_t n = fread(buf, 1, (1 << 20) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  int port = 0;
  const char *cert = NULL, *key = NULL, *rbac_file = NULL, *identity = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--auth") && i + 1 < argc)
      snprintf(expected_auth, sizeof expected_auth, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--bearer") && i + 1 < argc)
      snprintf(expected_bearer, sizeof expected_bearer, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--log") && i + 1 < argc) logf_ = fopen(argv[++i], "a");
    else if (!strcmp(argv[i], "--tls") && i + 2 < argc) cert = argv[++i], key = argv[++i];
    else if (!strcmp(argv[i], "--rbac") && i + 1 < argc) rbac_file = argv[++i];
    else if (!strcmp(argv[i], "--identity") && i + 1 < argc) identity = argv[++i];
    else if (!strcmp(argv[i], "--date-skew-ms") && i + 1 < argc) date_skew_ms = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--max-concurrency") && i + 1 < argc)
      max_concurrency = atoll(argv[++i]);
  }
  if (rbac_file) {
    char *text = slurp(rbac_file);
    const char *colon = identity ? strchr(identity, ':') : NULL;
    if (!text || rb_json_parse(text, strlen(text), &rbac, NULL, 0) != RB_OK ||
        !cJSON_IsArray(rbac) || !colon) {
      fprintf(stderr,
              "fakewhisk: --rbac needs a JSON array of Roles and RoleBindings and "
              "--identity NAMESPACE:SERVICEACCOUNT\n");
      return 2;
    }
    snprintf(identity_ns, sizeof identity_ns, "%.*s", (int)(colon - identity), identity);
    snprintf(identity_name, sizeof identity_name, "%s", colon + 1);
    free(text);
  }
  if (!port) {
    fprintf(stderr, "usage: fakewhisk --port N [--auth U:K] [--tls CERT KEY] [--log FILE]\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* MHD's threads inherit it; main sigwaits */
  /* Two epoll threads share the connections: a new connection costs an accept, not a thread
   * (with a thread per connection, a client opening hundreds of connections at once waited
   * ~0.5 ms per accept; see docs/benchmarks.md, "rbench runner"). */
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  char *certpem = NULL, *keypem = NULL;
  if (cert) {
    certpem = slurp(cert);
    keypem = slurp(key);
    if (!certpem || !keypem) return 2;
    flags |= MHD_USE_TLS;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct MHD_Daemon *d =
      cert ? MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                              MHD_OPTION_NOTIFY_CONNECTION, connection_event, NULL,
                              MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_HTTPS_MEM_CERT, certpem,
                              MHD_OPTION_HTTPS_MEM_KEY, keypem, MHD_OPTION_END)
           : MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                              MHD_OPTION_NOTIFY_CONNECTION, connection_event, NULL,
                              MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "fakewhisk: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  int sig;
  sigwait(&set, &sig);
  pthread_mutex_lock(&lock);
  bool suspended = slow_pending > 0;
  pthread_mutex_unlock(&lock);
  if (suspended) return 0; /* MHD must not be stopped with connections suspended */
  MHD_stop_daemon(d);
  free(certpem);
  free(keypem);
  if (logf_) fclose(logf_);
  return 0;
}
