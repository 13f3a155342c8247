/* job_k8s.c: the ConfigMap writer (see job_k8s.h). */
#define _GNU_SOURCE
#include "job_k8s.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_config.h"
#include "job_curl_err.h"
#include "rb_env.h"
#include "rb_json.h"
#include "rb_log.h"

void job_k8s_sanitize_name(char *name) {
  for (char *p = name; *p; p++) {
    *p = (char)tolower((unsigned char)*p);
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.') *p = '-';
  }
}

bool job_k8s_label_value_ok(const char *v) {
  size_t n = strlen(v);
  if (n == 0 || n > 63) return false;
  if (!isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1])) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.') return false;
  return true;
}

char *job_k8s_configmap_body(const char *name, const char *job, const char *doc, size_t len,
                             size_t limit, bool *summarized) {
  *summarized = false;
  cJSON *cm = cJSON_CreateObject();
  cJSON_AddStringToObject(cm, "apiVersion", "v1");
  cJSON_AddStringToObject(cm, "kind", "ConfigMap");
  cJSON *meta = cJSON_AddObjectToObject(cm, "metadata");
  cJSON_AddStringToObject(meta, "name", name);
  cJSON *labels = cJSON_AddObjectToObject(meta, "labels");
  cJSON_AddStringToObject(labels, "app.kubernetes.io/name", "rbench");
  cJSON_AddStringToObject(labels, "app.kubernetes.io/component", "results");
  /* tools/fetch-results.sh finds a Job's documents by this label. */
  if (job && job_k8s_label_value_ok(job)) cJSON_AddStringToObject(labels, JOB_K8S_JOB_LABEL, job);
  cJSON *data = cJSON_AddObjectToObject(cm, "data");
  char *text = NULL;
  if (len <= limit) {
    text = strndup(doc, len);
  } else {
    cJSON *root = NULL;
    if (rb_json_parse(doc, len, &root, NULL, 0) == RB_OK && cJSON_IsObject(root)) {
      cJSON_DeleteItemFromObjectCaseSensitive(root, "raw_results");
      cJSON_AddBoolToObject(root, "raw_results_omitted", true);
      text = cJSON_PrintUnformatted(root);
      *summarized = true;
      char note[200];
      snprintf(note, sizeof note,
               "summary only: the full document (%zu bytes) exceeds the ConfigMap limit of 1 MiB; "
               "raw_results are in the results file",
               len);
      cJSON_AddStringToObject(data, "note", note);
      cJSON *ann = cJSON_AddObjectToObject(meta, "annotations");
      cJSON_AddStringToObject(ann, "rbench.io/summary-only", "true");
    }
    cJSON_Delete(root);
  }
  char *out = NULL;
  if (text && (!*summarized || strlen(text) <= limit)) {
    cJSON_AddStringToObject(data, "results.json", text);
    out = cJSON_PrintUnformatted(cm);
  }
  free(text);
  cJSON_Delete(cm);
  return out;
}

struct sink {
  char *buf;
  size_t len;
};

static size_t on_body(char *d, size_t s, size_t n, void *arg) {
  struct sink *k = arg;
  size_t add = s * n;
  char *b = realloc(k->buf, k->len + add + 1);
  if (!b) return 0;
  memcpy(b + k->len, d, add);
  k->buf = b;
  k->len += add;
  b[k->len] = '\0';
  return add;
}

/* One request to the API server; *status gets the HTTP status. */
static enum rb_err api_call(const char *method, const char *url, const char *body,
                            const char *token, const char *ca, long *status, char *msg,
                            size_t msglen) {
  CURL *c = curl_easy_init();
  if (!c) return RB_ERR_NOMEM;
  char auth[4200];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  struct curl_slist *h = curl_slist_append(NULL, auth);
  explicit_bzero(auth, sizeof auth);
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Accept: application/json");
  h = curl_slist_append(h, "Expect:");
  struct sink s = {0};
  char ebuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  }
  curl_easy_setopt(c, CURLOPT_CAINFO, ca);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    snprintf(msg, msglen, "%s: %s", job_outcome_name(job_curl_err_outcome(rc)),
             ebuf[0] ? ebuf : curl_easy_strerror(rc));
    free(s.buf);
    return RB_ERR_IO;
  }
  cJSON *root = NULL;
  msg[0] = '\0';
  if (s.buf && rb_json_parse(s.buf, s.len, &root, NULL, 0) == RB_OK) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
    if (cJSON_IsString(m)) snprintf(msg, msglen, "%s", m->valuestring);
  }
  cJSON_Delete(root);
  free(s.buf);
  return RB_OK;
}

static bool read_trimmed(const char *dir, const char *file, char *out, size_t len) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  size_t n = 0;
  char *t = job_read_file(path, &n);
  if (!t) return false;
  while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' ')) t[--n] = '\0';
  bool ok = n < len;
  if (ok) memcpy(out, t, n + 1);
  explicit_bzero(t, n);
  free(t);
  return ok;
}

bool job_k8s_api_server(char *url, size_t len, char *host, size_t hostlen) {
  char h[256], port[16] = "443";
  if (!rb_env_get("KUBERNETES_SERVICE_HOST", h, sizeof h) || !h[0]) return false;
  if (!rb_env_get("KUBERNETES_SERVICE_PORT_HTTPS", port, sizeof port))
    rb_env_get("KUBERNETES_SERVICE_PORT", port, sizeof port);
  bool v6 = strchr(h, ':') != NULL;
  snprintf(url, len, "https://%s%s%s:%s", v6 ? "[" : "", h, v6 ? "]" : "", port);
  if (host) snprintf(host, hostlen, "%s", h);
  return true;
}

void job_k8s_account_dir(char *dir, size_t len) {
  if (!rb_env_get("RBENCH_SERVICEACCOUNT_DIR", dir, len))
    snprintf(dir, len, "/var/run/secrets/kubernetes.io/serviceaccount");
}

bool job_k8s_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > JOB_K8S_NAME_MAX) return false;
  if (!isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1])) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return true;
}

/* Where the API server is and what to present to it: everything a request needs. */
struct api_access {
  char base[300], token[4096], ns[256], ca[1100];
};

static enum rb_err api_access_read(struct api_access *a, char *err, size_t errlen) {
  char dir[1024];
  job_k8s_account_dir(dir, sizeof dir);
  if (!job_k8s_api_server(a->base, sizeof a->base, NULL, 0))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "--results-configmap needs KUBERNETES_SERVICE_HOST (run inside a pod)");
  if (!read_trimmed(dir, "token", a->token, sizeof a->token) ||
      !read_trimmed(dir, "namespace", a->ns, sizeof a->ns))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "cannot read the service-account token or namespace in %s", dir);
  snprintf(a->ca, sizeof a->ca, "%s/ca.crt", dir);
  return RB_OK;
}

enum rb_err job_k8s_check(const char *name, char *err, size_t errlen) {
  if (!job_k8s_name_ok(name))
    return rb_errorf(
        RB_ERR_INVALID, err, errlen,
        "--results-configmap '%.80s%s': not a valid ConfigMap name (DNS-1123: 1 to %d "
        "lowercase letters, digits, '-' or '.', starting and ending with a letter or digit)",
        name, strlen(name) > 80 ? "..." : "", JOB_K8S_NAME_MAX);
  struct api_access a;
  enum rb_err rc = api_access_read(&a, err, errlen);
  if (rc == RB_OK) {
    /* Reading the ConfigMap: 200 or 404 (and 403 where the Role grants create only) say the
     * server is there and knows the token; only a failed transfer or 401 stop the run. */
    char url[1400], msg[300];
    long status = 0;
    snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/configmaps/%s", a.base, a.ns, name);
    rc = api_call("GET", url, NULL, a.token, a.ca, &status, msg, sizeof msg);
    if (rc != RB_OK)
      rb_errorf(rc, err, errlen,
                "--results-configmap %s: cannot reach the Kubernetes API at %s before the run: %s",
                name, a.base, msg);
    else if (status == 401)
      rc = rb_errorf(RB_ERR_INVALID, err, errlen,
                     "--results-configmap %s: the Kubernetes API at %s rejected the "
                     "service-account token (HTTP 401: %s)",
                     name, a.base, msg);
  }
  explicit_bzero(&a, sizeof a);
  return rc;
}

enum rb_err job_k8s_publish_file(const char *name, const char *path, char *err, size_t errlen) {
  char job[256] = "";
  if (rb_env_get("RBENCH_JOB_NAME", job, sizeof job) && !job_k8s_label_value_ok(job)) {
    /* Publishing the results matters more than the label: say so and go on without it. */
    rb_warn(
        "RBENCH_JOB_NAME is not a valid label value (at most 63 letters, digits, '-', '_' "
        "or '.', starting and ending with a letter or digit): ConfigMap %s gets no %s label",
        name, JOB_K8S_JOB_LABEL);
    job[0] = '\0';
  }
  struct api_access a;
  enum rb_err rc = api_access_read(&a, err, errlen);
  if (rc != RB_OK) return rc;
  size_t len = 0;
  char *doc = job_read_file(path, &len);
  bool summarized = false;
  char *body = doc ? job_k8s_configmap_body(name, job[0] ? job : NULL, doc, len, JOB_K8S_DATA_LIMIT,
                                            &summarized)
                   : NULL;
  free(doc);
  if (!body) {
    rc = rb_errorf(RB_ERR_IO, err, errlen, "cannot build ConfigMap %s from %s", name, path);
  } else {
    char url[1400], msg[300];
    snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/configmaps", a.base, a.ns);
    long status = 0;
    rc = api_call("POST", url, body, a.token, a.ca, &status, msg, sizeof msg);
    if (rc == RB_OK && status == 409) {
      size_t n = strlen(url);
      snprintf(url + n, sizeof url - n, "/%s", name);
      rc = api_call("PUT", url, body, a.token, a.ca, &status, msg, sizeof msg);
    }
    if (rc != RB_OK)
      rb_errorf(rc, err, errlen, "ConfigMap %s: cannot reach the Kubernetes API: %s", name, msg);
    else if (status < 200 || status > 299)
      rc = rb_errorf(RB_ERR_IO, err, errlen,
                     "ConfigMap %s: the Kubernetes API answered HTTP %ld: %s", name, status, msg);
    else
      rb_info("results published to ConfigMap %s/%s%s", a.ns, name,
              summarized ? " (summary only: the document exceeds 1 MiB)" : "");
  }
  free(body);
  explicit_bzero(&a, sizeof a);
  return rc;
}
