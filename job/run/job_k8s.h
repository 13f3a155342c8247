/* job_k8s.h: publishes a results document to a ConfigMap through the Kubernetes API, with
 * the pod's service-account token and CA (what a Job runner uses to hand results back).
 *
 *   POST /api/v1/namespaces/{ns}/configmaps            create
 *   409 Conflict ─► PUT /api/v1/namespaces/{ns}/configmaps/{name}   replace
 *
 * The API server is https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; the token, CA
 * and namespace are read from $RBENCH_SERVICEACCOUNT_DIR (default
 * /var/run/secrets/kubernetes.io/serviceaccount). A ConfigMap holds at most 1 MiB, so a
 * larger document is replaced by its summary (raw_results left out) and says so. The token
 * never appears in messages. When $RBENCH_JOB_NAME is set (the chart passes the Job's name
 * through the downward API), every ConfigMap is labelled rbench.io/job=$RBENCH_JOB_NAME so
 * tools/fetch-results.sh finds a Job's documents with a label selector. */
#ifndef JOB_K8S_H
#define JOB_K8S_H

#include <stdbool.h>
#include <stddef.h>

#include "rb_error.h"

#define JOB_K8S_DATA_LIMIT 1000000u /* bytes of document we put in one ConfigMap (< 1 MiB) */
#define JOB_K8S_JOB_LABEL "rbench.io/job"
#define JOB_K8S_NAME_MAX 253 /* a ConfigMap name: a DNS-1123 subdomain */

/* The ConfigMap JSON for doc (pure). When doc is longer than limit, raw_results is dropped
 * and "rbench.io/summary-only" annotations and a "note" key explain it (*summarized = true).
 * job (may be NULL) becomes the rbench.io/job label when it is a valid label value.
 * Returns a malloc'd string or NULL (doc not a JSON object, or out of memory). */
char *job_k8s_configmap_body(const char *name, const char *job, const char *doc, size_t len,
                             size_t limit, bool *summarized);

/* Whether v is a valid Kubernetes label value: 1-63 of [A-Za-z0-9-_.], alphanumeric at both
 * ends (pure). */
bool job_k8s_label_value_ok(const char *v);

/* The API server's base URL, https://HOST:PORT, from KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT_HTTPS (else KUBERNETES_SERVICE_PORT, else 443); host (may be NULL)
 * gets HOST. False outside a pod (no KUBERNETES_SERVICE_HOST). The one place these are read. */
bool job_k8s_api_server(char *url, size_t len, char *host, size_t hostlen);

/* The service-account directory (token, namespace, ca.crt): $RBENCH_SERVICEACCOUNT_DIR, else
 * /var/run/secrets/kubernetes.io/serviceaccount. */
void job_k8s_account_dir(char *dir, size_t len);

/* Whether name is a valid ConfigMap name: a DNS-1123 subdomain, 1-253 of [a-z0-9-.],
 * alphanumeric at both ends (pure). */
bool job_k8s_name_ok(const char *name);

/* Before a run with --results-configmap: the name is valid (RB_ERR_INVALID otherwise), the
 * runner is in a pod with a readable service-account token and namespace (RB_ERR_INVALID),
 * and the API server answers a GET of the ConfigMap without rejecting the token
 * (RB_ERR_IO: no answer; RB_ERR_INVALID: HTTP 401). err names the option and the fix. */
enum rb_err job_k8s_check(const char *name, char *err, size_t errlen);

/* Reads the results file at path and publishes it as ConfigMap name. */
enum rb_err job_k8s_publish_file(const char *name, const char *path, char *err, size_t errlen);

/* A name usable as a ConfigMap name: lowercase letters, digits and '-' (others become '-'). */
void job_k8s_sanitize_name(char *name);

#endif
