#define _GNU_SOURCE
/* test_runner_configmap.c: --results-configmap against a test double of the Kubernetes API
 * server (fakewhisk --bearer, TLS with its own CA): method, path, headers and body of the
 * create, the 409 -> PUT replace, and the service-account token never in logs or results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "runner_common.h"

#define TOKEN "eyJhbGciOiJSUzI1NiJ9.sa-token-test-5f2c"
#define AUTH "uuid-1:key-1"

static struct rbt_proc api;
static char sadir[160], envfile[160];

static int setup(void **state) {
  (void)state;
  tmpdir_make();
  char cert[200], key[200], cmd[700], path[200], port[16];
  snprintf(sadir, sizeof sadir, "%s/sa", tmpdir);
  mkdir(sadir, 0700);
  snprintf(cert, sizeof cert, "%s/ca.crt", sadir);
  snprintf(key, sizeof key, "%s/key.pem", tmpdir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
           "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
           key, cert);
  if (system(cmd) != 0) return -1;
  snprintf(path, sizeof path, "%s/token", sadir);
  write_text(path, TOKEN "\n");
  snprintf(path, sizeof path, "%s/namespace", sadir);
  write_text(path, "bench");
  char log[200];
  snprintf(log, sizeof log, "%s/api.log", tmpdir);
  for (int attempt = 0; attempt < 5; attempt++) {
    api.port = rbt_free_port();
    snprintf(port, sizeof port, "%d", api.port);
    char *argv[] = {(char *)rbt_bin("fakewhisk"),
                    "--port",
                    port,
                    "--auth",
                    AUTH,
                    "--bearer",
                    TOKEN,
                    "--tls",
                    cert,
                    key,
                    "--log",
                    log,
                    NULL};
    if (!rbt_proc_start(&api, argv, NULL)) return -1;
    if (rbt_wait_port(api.port, 5000)) break;
    rbt_proc_stop(&api, SIGKILL);
  }
  snprintf(envfile, sizeof envfile, "%s/local.env", tmpdir);
  char text[300];
  /* The same double is the OpenWhisk controller (its certificate is trusted via --insecure) */
  snprintf(text, sizeof text, "OPENWHISK_APIHOST=https://127.0.0.1:%d\nOPENWHISK_AUTH=%s\n",
           api.port, AUTH);
  write_text(envfile, text);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rbt_proc_stop(&api, SIGTERM);
  unlink(api.log);
  tmpdir_remove();
  return 0;
}

/* job: RBENCH_JOB_NAME for the run, or NULL for none; api_port: where the API server is. */
static int run_with_configmap_at(const char *name, const char *job, int api_port, char **log) {
  char out[200], host[64], port[64], dir[220], jobenv[200];
  snprintf(out, sizeof out, "%s/r.json", tmpdir);
  unlink(out);
  snprintf(host, sizeof host, "KUBERNETES_SERVICE_HOST=127.0.0.1");
  snprintf(port, sizeof port, "KUBERNETES_SERVICE_PORT=%d", api_port);
  snprintf(dir, sizeof dir, "RBENCH_SERVICEACCOUNT_DIR=%s", sadir);
  snprintf(jobenv, sizeof jobenv, "RBENCH_JOB_NAME=%s", job ? job : "");
  char *env[] = {host, port, dir, job ? jobenv : NULL, NULL};
  char *argv[] = {
      NULL,         "run",      "--target", "openwhisk",  "--insecure", "--action",
      "pkg/ok",     "--env",    envfile,    "--rate",     "20",         "--invocations",
      "4",          "--output", out,        "--progress", "off",        "--results-configmap",
      (char *)name, NULL};
  return run_rbench(argv, env, 30000, log);
}

static int run_with_configmap_job(const char *name, const char *job, char **log) {
  return run_with_configmap_at(name, job, api.port, log);
}

/* Whether the run wrote its results file (r.json). */
static bool results_written(void) {
  char out[200];
  snprintf(out, sizeof out, "%s/r.json", tmpdir);
  return access(out, F_OK) == 0;
}

static int run_with_configmap(const char *name, char **log) {
  return run_with_configmap_job(name, NULL, log);
}

/* The metadata of the last POST or PUT of ConfigMap name in the API double's log. */
static cJSON *last_configmap_meta(const char *name, cJSON **owner) {
  char path[200];
  snprintf(path, sizeof path, "%s/api.log", tmpdir);
  char *req = read_text(path);
  cJSON *found = NULL;
  for (char *line = strtok(req, "\n"); line; line = strtok(NULL, "\n")) {
    const char *body = strchr(line, '{');
    if (!body || (strncmp(line, "POST ", 5) && strncmp(line, "PUT ", 4))) continue;
    cJSON *cm = cJSON_Parse(body);
    cJSON *meta = cJSON_GetObjectItem(cm, "metadata");
    const cJSON *n = cJSON_GetObjectItem(meta, "name");
    if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) {
      cJSON_Delete(found);
      found = cm;
    } else {
      cJSON_Delete(cm);
    }
  }
  free(req);
  *owner = found;
  return cJSON_GetObjectItem(found, "metadata");
}

static void test_job_label(void **state) {
  (void)state;
  char *log = NULL;
  /* In the chart's Job, RBENCH_JOB_NAME comes from the downward API: the label
   * tools/fetch-results.sh selects on. */
  assert_int_equal(run_with_configmap_job("rbench-results-labelled", "rbench-run-x1", &log), 0);
  free(log);
  cJSON *cm = NULL;
  cJSON *labels =
      cJSON_GetObjectItem(last_configmap_meta("rbench-results-labelled", &cm), "labels");
  assert_non_null(labels);
  assert_string_equal(cJSON_GetObjectItem(labels, "rbench.io/job")->valuestring, "rbench-run-x1");
  cJSON_Delete(cm);
  /* Without the variable there is no label (a run outside a Job). */
  assert_int_equal(run_with_configmap("rbench-results-plain", NULL), 0);
  labels = cJSON_GetObjectItem(last_configmap_meta("rbench-results-plain", &cm), "labels");
  assert_non_null(labels);
  assert_null(cJSON_GetObjectItem(labels, "rbench.io/job"));
  cJSON_Delete(cm);
  /* An invalid value: the results are still published, without the label, and the log says why. */
  assert_int_equal(run_with_configmap_job("rbench-results-badjob", "not a label!", &log), 0);
  assert_non_null(strstr(log, "RBENCH_JOB_NAME is not a valid label value"));
  free(log);
  labels = cJSON_GetObjectItem(last_configmap_meta("rbench-results-badjob", &cm), "labels");
  assert_non_null(labels);
  assert_null(cJSON_GetObjectItem(labels, "rbench.io/job"));
  cJSON_Delete(cm);
}

static void test_create_then_replace(void **state) {
  (void)state;
  char *log = NULL;
  assert_int_equal(run_with_configmap("rbench-results", &log), 0);
  assert_null(strstr(log, "sa-token-test"));
  assert_non_null(strstr(log, "results published to ConfigMap bench/rbench-results"));
  free(log);
  char path[200];
  snprintf(path, sizeof path, "%s/api.log", tmpdir);
  char *req = read_text(path);
  /* Create: POST to the namespace's collection, Bearer token, JSON. */
  const char *post =
      strstr(req, "POST /api/v1/namespaces/bench/configmaps auth=ok ctype=application/json {");
  assert_non_null(post);
  const char *body = strchr(post, '{');
  char *line = strndup(body, strcspn(body, "\n"));
  cJSON *cm = cJSON_Parse(line);
  assert_non_null(cm);
  assert_string_equal(cJSON_GetObjectItem(cm, "apiVersion")->valuestring, "v1");
  assert_string_equal(cJSON_GetObjectItem(cm, "kind")->valuestring, "ConfigMap");
  cJSON *meta = cJSON_GetObjectItem(cm, "metadata");
  assert_string_equal(cJSON_GetObjectItem(meta, "name")->valuestring, "rbench-results");
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "labels"), "app.kubernetes.io/name")
          ->valuestring,
      "rbench");
  const char *doc =
      cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "data"), "results.json")->valuestring;
  cJSON *d = cJSON_Parse(doc);
  assert_non_null(d);
  assert_int_equal(cJSON_GetObjectItem(d, "schema_version")->valueint, 1);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "raw_results")), 4);
  cJSON_Delete(d);
  cJSON_Delete(cm);
  free(line);
  assert_null(strstr(req, "PUT "));
  free(req);
  /* Second run, same name: POST answers 409 AlreadyExists, rbench replaces it with PUT. */
  assert_int_equal(run_with_configmap("rbench-results", NULL), 0);
  req = read_text(path);
  assert_non_null(strstr(
      req,
      "PUT /api/v1/namespaces/bench/configmaps/rbench-results auth=ok ctype=application/json {"));
  free(req);
  /* Nothing the runner wrote holds the token. */
  snprintf(path, sizeof path, "%s/r.json", tmpdir);
  char *results = read_text(path);
  assert_null(strstr(results, "sa-token-test"));
  free(results);
}

static void test_wrong_token_fails_without_leaking(void **state) {
  (void)state;
  char path[200], *log = NULL;
  snprintf(path, sizeof path, "%s/token", sadir);
  write_text(path, "not-the-right-token-3c1d\n");
  int rc = run_with_configmap("other", &log);
  write_text(path, TOKEN "\n");
  /* checked before the run: nothing invoked, nothing written */
  if (rc != 2) fail_msg("exit %d: %s", rc, log);
  assert_non_null(
      strstr(log, "--results-configmap other: the Kubernetes API at https://127.0.0.1:"));
  assert_non_null(strstr(log, "rejected the service-account token (HTTP 401: Unauthorized)"));
  assert_false(results_written());
  assert_null(strstr(log, "not-the-right-token"));
  free(log);
}

/* An invalid ConfigMap name (DNS-1123) is refused before anything runs. */
static void test_invalid_name_refused_before_run(void **state) {
  (void)state;
  char *log = NULL;
  int rc = run_with_configmap("Results_1", &log);
  if (rc != 2) fail_msg("exit %d: %s", rc, log);
  assert_non_null(
      strstr(log,
             "--results-configmap 'Results_1': not a valid ConfigMap name (DNS-1123: 1 to "
             "253 lowercase letters, digits, '-' or '.', starting and ending with a "
             "letter or digit)"));
  assert_false(results_written());
  free(log);
}

/* No API server at KUBERNETES_SERVICE_HOST:PORT: exit 3 before the run, not after it. */
static void test_unreachable_api_refused_before_run(void **state) {
  (void)state;
  char *log = NULL;
  int rc = run_with_configmap_at("rbench-results", NULL, rbt_free_port(), &log);
  if (rc != 3) fail_msg("exit %d: %s", rc, log);
  assert_non_null(strstr(log,
                         "--results-configmap rbench-results: cannot reach the Kubernetes API at "
                         "https://127.0.0.1:"));
  assert_non_null(strstr(log, "before the run: connect:"));
  assert_false(results_written());
  free(log);
}

/* A shard's ConfigMap gets -shard-I and its file .shard-I-of-N; in a pod on the local target the
 * clock is checked against the Kubernetes API server's Date header. */
static void test_shard_names(void **state) {
  (void)state;
  char out[200], host[64], port[64], dir[220], start[40], *log = NULL;
  snprintf(out, sizeof out, "%s/s.json", tmpdir);
  snprintf(host, sizeof host, "KUBERNETES_SERVICE_HOST=127.0.0.1");
  snprintf(port, sizeof port, "KUBERNETES_SERVICE_PORT=%d", api.port);
  snprintf(dir, sizeof dir, "RBENCH_SERVICEACCOUNT_DIR=%s", sadir);
  snprintf(start, sizeof start, "%lld", (long long)time(NULL) + 4);
  char *env[] = {host, port, dir, NULL};
  char *argv[] = {NULL,
                  "run",
                  "--target",
                  "openwhisk",
                  "--insecure",
                  "--action",
                  "pkg/ok",
                  "--env",
                  envfile,
                  "--rate",
                  "20",
                  "--invocations",
                  "4",
                  "--output",
                  out,
                  "--progress",
                  "off",
                  "--results-configmap",
                  "rbench-sharded",
                  "--shard",
                  "1/2",
                  "--start-at",
                  start,
                  NULL};
  int rc = run_rbench(argv, env, 30000, &log);
  if (rc != 0) fail_msg("exit %d: %s", rc, log);
  assert_non_null(strstr(log, "results published to ConfigMap bench/rbench-sharded-shard-1"));
  free(log);
  cJSON *cm = NULL;
  assert_non_null(last_configmap_meta("rbench-sharded-shard-1", &cm));
  cJSON_Delete(cm);
  char path[220];
  snprintf(path, sizeof path, "%s/s.shard-1-of-2.json", tmpdir);
  cJSON *d = read_json(path);
  assert_non_null(d);
  assert_true(num(d, "shard.index") == 1);
  cJSON_Delete(d);
  /* local target in a pod: the API server's clock (in sync here), then the run itself (which
   * finds no Redis) */
  char *argv2[] = {NULL,         "run", "--target",      "local", "--env",    envfile,
                   "--rate",     "20",  "--invocations", "4",     "--output", out,
                   "--progress", "off", "--start-at",    start,   NULL};
  rc = run_rbench(argv2, env, 30000, &log);
  if (!strstr(log, "clock check against the Kubernetes API server 127.0.0.1"))
    fail_msg("exit %d: %s", rc, log);
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_then_replace),
      cmocka_unit_test(test_wrong_token_fails_without_leaking),
      cmocka_unit_test(test_invalid_name_refused_before_run),
      cmocka_unit_test(test_unreachable_api_refused_before_run),
      cmocka_unit_test(test_job_label),
      cmocka_unit_test(test_shard_names), /* last: test_create_then_replace reads the first POST */
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
