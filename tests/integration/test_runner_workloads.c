#define _GNU_SOURCE
/* test_runner_workloads.c: workloads on the local target against a real redis-server
 * (issue 20, the runner's side).
 *
 * One scenario of four runs (a get/set mix on uniform keys, the same on zipfian keys, another
 * mix, the first without its prepare step): operations rows and a realised mix near the
 * weights; the prepare step happens (every GET finds its key; without it some miss) and is not
 * in raw_results; key reuse higher for zipfian than uniform keys; compare refuses to pool
 * documents of different mixes, naming the setting, and shows rows per operation. Then the
 * draws: the same seed gives the same per-invocation draw_digest in two runs and in a 3-shard
 * run, another seed other ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include "runner_common.h"

static struct rbt_proc redis;
static char envfile[200];

static void path_of(char *out, size_t len, const char *rel) {
  snprintf(out, len, "%s/%s", tmpdir, rel);
}

static const char mixes_yaml[] =
    "name: mixes\n"
    "defaults: {rate: 100, invocations: 60, ops: 20, key_space: 300}\n"
    "runs:\n"
    "  - name: uni\n"
    "    mix: {get: 80, set: 20}\n"
    "    key_distribution: uniform\n"
    "    key_prefix: wl-uni\n"
    "  - name: zipf\n"
    "    mix: {get: 80, set: 20}\n"
    "    key_distribution: zipfian\n"
    "    key_prefix: wl-zipf\n"
    "  - name: half\n"
    "    mix: \"get:50,set:50\"\n"
    "    key_distribution: uniform\n"
    "    key_prefix: wl-half\n"
    "  - name: noprep\n"
    "    mix: {get: 80, set: 20}\n"
    "    key_distribution: uniform\n"
    "    key_prefix: wl-noprep\n"
    "    prepare: false\n";

static char *mixes_log;
static int mixes_rc;

static int setup(void **state) {
  (void)state;
  if (!fixture_start(&redis, envfile, sizeof envfile)) return -1;
  char scen[300], out[300];
  path_of(scen, sizeof scen, "mixes.yaml");
  path_of(out, sizeof out, "mixes");
  write_text(scen, mixes_yaml);
  char *argv[] = {NULL,    "run", "--scenario", scen,  "--env", envfile,
                  "--out", out,   "--progress", "off", NULL};
  mixes_rc = run_rbench(argv, NULL, 120000, &mixes_log);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(mixes_log);
  fixture_stop(&redis);
  return 0;
}

static cJSON *mixes_doc(const char *run) {
  char p[300], rel[100];
  snprintf(rel, sizeof rel, "mixes/%s.json", run);
  path_of(p, sizeof p, rel);
  return read_json(p);
}

static const cJSON *get(const cJSON *o, const char *path) {
  char buf[200];
  snprintf(buf, sizeof buf, "%s", path);
  const cJSON *cur = o;
  for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
    cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
  return cur;
}

static double reuse(const cJSON *d, int window) {
  const cJSON *x;
  cJSON_ArrayForEach(x, get(d, "workload.key_reuse")) {
    if (num(x, "window_ops") == window) return num(x, "repeated");
  }
  return (double)NAN;
}

/* A mix run: per-operation rows whose counts are every measured operation, a realised mix
 * near the weights, every GET finding its key (prepared), the prepare step outside
 * raw_results, and each record's invocation its index. */
static void test_mix_run(void **state) {
  (void)state;
  if (mixes_rc != 0) fprintf(stderr, "%s\n", mixes_log);
  assert_int_equal(mixes_rc, 0);
  assert_non_null(strstr(mixes_log, "run uni: preparing 300 keys (300 elements, 1 call"));
  assert_null(strstr(mixes_log, "run noprep: preparing"));
  cJSON *d = mixes_doc("uni");
  assert_non_null(d);
  double gets = num(d, "operations.get.succeeded"), sets = num(d, "operations.set.succeeded");
  assert_true(num(d, "operations.get.failed") == 0 && num(d, "operations.set.failed") == 0);
  assert_true(gets + sets == 60 * 20);
  assert_true(num(d, "operations.get.latency_ms.count") == gets);
  assert_true(num(d, "operations.get.latency_ms.p50") > 0);
  assert_true(num(d, "operations.get.latency_ms.p50") <= num(d, "operations.get.latency_ms.p99"));
  assert_non_null(get(d, "operations.get.histogram.buckets"));
  assert_null(get(d, "operations.del"));
  /* 1200 draws at 0.8: sd 0.012; 0.05 is four of them */
  assert_true(num(d, "workload.mix.get") == 0.8);
  assert_true(fabs(num(d, "workload.realised_mix.get") - 0.8) < 0.05);
  assert_true(fabs(num(d, "workload.realised_mix.set") - 0.2) < 0.05);
  assert_string_equal(get(d, "workload.key_distribution")->valuestring, "uniform");
  assert_string_equal(get(d, "workload.value_sizes")->valuestring, "64");
  assert_true(num(d, "workload.seed") == 1);
  assert_true(cJSON_IsTrue(get(d, "workload.prepare")));
  /* prepared: every read found its key */
  assert_true(num(d, "operations.get.found") == gets);
  const cJSON *raw = get(d, "raw_results"), *r;
  assert_int_equal(cJSON_GetArraySize(raw), 60);
  cJSON_ArrayForEach(r, raw) {
    assert_true(num(r, "action.invocation") == num(r, "index"));
    assert_null(get(r, "action.prepared"));
  }
  cJSON_Delete(d);
  /* the same without the prepare step, on keys nobody wrote: some reads miss */
  d = mixes_doc("noprep");
  assert_non_null(d);
  assert_true(cJSON_IsFalse(get(d, "workload.prepare")));
  assert_true(num(d, "operations.get.found") < num(d, "operations.get.succeeded"));
  cJSON_Delete(d);
}

/* Zipfian keys repeat within a window far more than uniform ones over the same key space; the
 * sample is the measured invocations' operations. */
static void test_key_reuse(void **state) {
  (void)state;
  cJSON *u = mixes_doc("uni"), *z = mixes_doc("zipf");
  assert_non_null(u);
  assert_non_null(z);
  assert_true(num(u, "workload.key_reuse_sample.operations") == 60 * 20);
  assert_true(num(u, "workload.key_reuse_sample.first_invocation") == 0);
  assert_true(num(z, "workload.zipf_exponent") == 0.99);
  for (int w = 16; w <= 1024; w *= 8) {
    assert_false(isnan(reuse(u, w)));
    assert_true(reuse(z, w) > reuse(u, w));
  }
  /* uniform over 300 keys: about 16/300 of the keys repeat within 16 operations */
  assert_true(reuse(u, 16) < 0.12);
  assert_true(reuse(z, 16) > 2 * reuse(u, 16));
  cJSON_Delete(u);
  cJSON_Delete(z);
}

/* compare: documents of different mixes are not pooled (the setting named); as two sides they
 * get rows per operation and the workloads beside the table. */
static void test_compare(void **state) {
  (void)state;
  char uni[300], half[300], zipf[300], pooled[700];
  path_of(uni, sizeof uni, "mixes/uni.json");
  path_of(half, sizeof half, "mixes/half.json");
  path_of(zipf, sizeof zipf, "mixes/zipf.json");
  snprintf(pooled, sizeof pooled, "%s,%s", uni, half);
  char *log = NULL;
  char *argv[] = {NULL, "compare", pooled, zipf, NULL};
  assert_int_equal(run_rbench(argv, NULL, 30000, &log), 2);
  assert_non_null(strstr(log, "different settings: mix: set:50,get:50 vs set:20,get:80"));
  free(log);
  char *argv2[] = {NULL, "compare", uni, zipf, NULL};
  assert_int_equal(run_rbench(argv2, NULL, 30000, &log), 0);
  assert_non_null(strstr(log, "workload A: mix set:20,get:80; keys uniform over 300"));
  assert_non_null(strstr(log, "workload B: mix set:20,get:80; keys zipfian (s 0.99) over 300"));
  assert_non_null(strstr(log, "get p50 (ms)"));
  assert_non_null(strstr(log, "set p99 (ms)"));
  assert_non_null(strstr(log, "descriptive only"));
  free(log);
}

/* ---- the draws: seeds, runs and shards ------------------------------------------------------ */

static const char det_yaml[] =
    "name: det\n"
    "defaults: {rate: 100, invocations: 30, ops: 8, key_space: 500, key_prefix: det}\n"
    "runs:\n"
    "  - name: d\n"
    "    mix: {get: 50, set: 30, mget: 20}\n"
    "    keys_per_command: 4\n"
    "    key_distribution: zipfian\n"
    "    seed: %s\n";

/* Runs the determinism scenario with seed; out is a file, shard "I/3" or NULL. */
static int run_det(const char *seed, const char *out, const char *shard, const char *start,
                   struct rbt_proc *bg) {
  char scen[300], text[600], rel[64];
  snprintf(rel, sizeof rel, "det-%s.yaml", seed);
  path_of(scen, sizeof scen, rel);
  snprintf(text, sizeof text, det_yaml, seed);
  write_text(scen, text);
  char *argv[20] = {NULL,       "run",       "--scenario", scen,  "--env", envfile,
                    "--output", (char *)out, "--progress", "off", NULL};
  int i = 10;
  if (shard) argv[i++] = "--shard", argv[i++] = (char *)shard;
  if (start) argv[i++] = "--start-at", argv[i++] = (char *)start;
  argv[i] = NULL;
  if (!bg) return run_rbench(argv, NULL, 60000, NULL);
  argv[0] = (char *)rbt_bin("rbench");
  bg->port = rbench_serial++;
  return rbt_proc_start(bg, argv, NULL) ? 0 : -1;
}

/* digests[index] from a document's raw_results; how many records. */
static int digests_of(const char *path, char digests[][20], int cap) {
  cJSON *d = read_json(path);
  assert_non_null(d);
  const cJSON *r;
  int n = 0;
  cJSON_ArrayForEach(r, get(d, "raw_results")) {
    int k = (int)num(r, "index");
    const cJSON *dg = get(r, "action.draw_digest");
    assert_true(k >= 0 && k < cap);
    assert_true(cJSON_IsString(dg));
    assert_true(num(r, "action.invocation") == k);
    snprintf(digests[k], 20, "%s", dg->valuestring);
    n++;
  }
  cJSON_Delete(d);
  return n;
}

static void test_same_seed_same_draws(void **state) {
  (void)state;
  char a[300], b[300], c[300];
  path_of(a, sizeof a, "det-a.json");
  path_of(b, sizeof b, "det-b.json");
  path_of(c, sizeof c, "det-c.json");
  assert_int_equal(run_det("7", a, NULL, NULL, NULL), 0);
  assert_int_equal(run_det("7", b, NULL, NULL, NULL), 0);
  assert_int_equal(run_det("8", c, NULL, NULL, NULL), 0);
  static char da[30][20], db[30][20], dc[30][20];
  assert_int_equal(digests_of(a, da, 30), 30);
  assert_int_equal(digests_of(b, db, 30), 30);
  assert_int_equal(digests_of(c, dc, 30), 30);
  for (int k = 0; k < 30; k++) {
    assert_string_equal(da[k], db[k]);
    assert_string_not_equal(da[k], dc[k]);
  }
  for (int k = 1; k < 30; k++) assert_string_not_equal(da[k], da[0]); /* k is in the draw */
  /* a 3-shard run draws exactly what the unsharded one did */
  struct timeval tv;
  gettimeofday(&tv, NULL);
  char start[40];
  snprintf(start, sizeof start, "%.3f", (double)tv.tv_sec + (double)tv.tv_usec / 1e6 + 4);
  struct rbt_proc procs[3];
  char outs[3][300], shard[3][8];
  for (int i = 0; i < 3; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "det-shard%d.json", i);
    path_of(outs[i], sizeof outs[i], rel);
    snprintf(shard[i], sizeof shard[i], "%d/3", i);
    assert_int_equal(run_det("7", outs[i], shard[i], start, &procs[i]), 0);
  }
  for (int i = 0; i < 3; i++) {
    assert_int_equal(rbt_proc_wait(&procs[i], 60000), 0);
    unlink(procs[i].log);
  }
  static char ds[30][20];
  memset(ds, 0, sizeof ds);
  int total = 0;
  cJSON *whole = read_json(a);
  for (int i = 0; i < 3; i++) {
    char rel[64], p[300];
    snprintf(rel, sizeof rel, "det-shard%d.shard-%d-of-3.json", i, i);
    path_of(p, sizeof p, rel);
    total += digests_of(p, ds, 30);
    cJSON *s = read_json(p);
    assert_non_null(s);
    /* key reuse is the whole run's, whichever shard reports it */
    assert_true(num(get(s, "workload.key_reuse")->child, "repeated") ==
                num(get(whole, "workload.key_reuse")->child, "repeated"));
    cJSON_Delete(s);
  }
  assert_int_equal(total, 30);
  for (int k = 0; k < 30; k++) assert_string_equal(ds[k], da[k]);
  /* merged, the shards' operations are the unsharded run's: the same draws, so the same count
     of each type, and the realised mix with them */
  char merged[300], in[3][300];
  path_of(merged, sizeof merged, "det-merged.json");
  for (int i = 0; i < 3; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "det-shard%d.shard-%d-of-3.json", i, i);
    path_of(in[i], sizeof in[i], rel);
  }
  char *margv[] = {NULL, "merge", in[0], in[1], in[2], "-o", merged, NULL};
  char *mlog = NULL;
  int mrc = run_rbench(margv, NULL, 30000, &mlog);
  if (mrc != 0) fprintf(stderr, "%s\n", mlog);
  free(mlog);
  assert_int_equal(mrc, 0);
  cJSON *m = read_json(merged);
  assert_non_null(m);
  static const char *const types[] = {"get", "set", "mget"};
  for (int t = 0; t < 3; t++) {
    char path[100];
    snprintf(path, sizeof path, "operations.%s.succeeded", types[t]);
    double want = num(whole, path);
    assert_true(want > 0);
    assert_true(num(m, path) == want);
    snprintf(path, sizeof path, "operations.%s.latency_ms.count", types[t]);
    assert_true(num(m, path) == num(whole, path));
    snprintf(path, sizeof path, "workload.realised_mix.%s", types[t]);
    assert_true(fabs(num(m, path) - num(whole, path)) < 1e-12);
  }
  cJSON_Delete(m);
  cJSON_Delete(whole);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mix_run),
      cmocka_unit_test(test_key_reuse),
      cmocka_unit_test(test_compare),
      cmocka_unit_test(test_same_seed_same_draws),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
