/* test_job_shard.c: --shard and --start-at parsing, the env fallbacks, shard names and run
 * keys, the clock verdict, the sharded schedule, and the histograms' encoding and merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_hist.h"
#include "job_params.h"
#include "job_sched.h"
#include "job_shard.h"

static void test_shard_parse(void **state) {
  (void)state;
  struct job_shard s;
  char err[300];
  assert_int_equal(job_shard_parse("0/1", "--shard", &s, err, sizeof err), RB_OK);
  assert_int_equal(s.index, 0);
  assert_int_equal(s.count, 1);
  assert_int_equal(job_shard_parse("6/7", "--shard", &s, err, sizeof err), RB_OK);
  assert_int_equal(s.index, 6);
  assert_int_equal(s.count, 7);
  assert_int_not_equal(job_shard_parse("3/3", "--shard", &s, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "shard index 3 is not below the count 3"));
  assert_int_not_equal(job_shard_parse("0/0", "--shard", &s, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "at least 1"));
  const char *bad[] = {"", "1", "/2", "1/", "a/2", "1/2/3", "-1/2", "1/x", " 1/2", "1/2 "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_not_equal(job_shard_parse(bad[i], "RBENCH_SHARD", &s, err, sizeof err), RB_OK);
    assert_non_null(strstr(err, "RBENCH_SHARD expects I/N"));
  }
}

/* A fake environment: "NAME=VALUE" entries. */
static const char *fake_env[8];

static bool fake_lookup(const char *name, char *buf, size_t len) {
  size_t n = strlen(name);
  for (size_t i = 0; fake_env[i]; i++) {
    if (!strncmp(fake_env[i], name, n) && fake_env[i][n] == '=') {
      snprintf(buf, len, "%s", fake_env[i] + n + 1);
      return true;
    }
  }
  return false;
}

static void set_env(const char *a, const char *b, const char *c) {
  fake_env[0] = a;
  fake_env[1] = a ? b : NULL;
  fake_env[2] = a && b ? c : NULL;
  fake_env[3] = NULL;
}

static void test_shard_resolve(void **state) {
  (void)state;
  struct job_shard s;
  char err[300];
  set_env(NULL, NULL, NULL);
  assert_int_equal(job_shard_resolve(NULL, fake_lookup, &s, err, sizeof err), RB_OK);
  assert_int_equal(s.count, 0);
  /* the command line wins over every variable */
  set_env("RBENCH_SHARD=1/4", "JOB_COMPLETION_INDEX=2", "RBENCH_SHARDS=3");
  assert_int_equal(job_shard_resolve("0/2", fake_lookup, &s, err, sizeof err), RB_OK);
  assert_true(s.index == 0 && s.count == 2);
  /* RBENCH_SHARD over the Indexed Job's pair */
  assert_int_equal(job_shard_resolve(NULL, fake_lookup, &s, err, sizeof err), RB_OK);
  assert_true(s.index == 1 && s.count == 4);
  set_env("JOB_COMPLETION_INDEX=2", "RBENCH_SHARDS=3", NULL);
  assert_int_equal(job_shard_resolve(NULL, fake_lookup, &s, err, sizeof err), RB_OK);
  assert_true(s.index == 2 && s.count == 3);
  /* an Indexed Job's index alone is not ours: unsharded */
  set_env("JOB_COMPLETION_INDEX=2", NULL, NULL);
  assert_int_equal(job_shard_resolve(NULL, fake_lookup, &s, err, sizeof err), RB_OK);
  assert_int_equal(s.count, 0);
  set_env("RBENCH_SHARDS=3", NULL, NULL);
  assert_int_not_equal(job_shard_resolve(NULL, fake_lookup, &s, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "JOB_COMPLETION_INDEX is not"));
  set_env("JOB_COMPLETION_INDEX=3", "RBENCH_SHARDS=3", NULL);
  assert_int_not_equal(job_shard_resolve(NULL, fake_lookup, &s, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "JOB_COMPLETION_INDEX=3 is not below RBENCH_SHARDS=3"));
  set_env("JOB_COMPLETION_INDEX=0", "RBENCH_SHARDS=0", NULL);
  assert_int_not_equal(job_shard_resolve(NULL, fake_lookup, &s, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "RBENCH_SHARDS expects"));
  set_env("RBENCH_SHARD=2/2", NULL, NULL);
  assert_int_not_equal(job_shard_resolve(NULL, fake_lookup, &s, err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "RBENCH_SHARD 2/2"));
}

static void test_time_parse(void **state) {
  (void)state;
  int64_t us = 0;
  char err[400];
  assert_int_equal(job_time_parse("1796407200", "--start-at", &us, err, sizeof err), RB_OK);
  assert_true(us == 1796407200000000LL);
  assert_int_equal(job_time_parse("1796407200.25", "--start-at", &us, err, sizeof err), RB_OK);
  assert_true(us == 1796407200250000LL);
  assert_int_equal(job_time_parse("1796407200.0000019", "--start-at", &us, err, sizeof err), RB_OK);
  assert_true(us == 1796407200000001LL);
  /* 2026-12-04T18:00:00Z is 1796407200 */
  assert_int_equal(job_time_parse("2026-12-04T18:00:00Z", "--start-at", &us, err, sizeof err),
                   RB_OK);
  assert_true(us == 1796407200000000LL);
  assert_int_equal(job_time_parse("2026-12-04t18:00:00.5z", "--start-at", &us, err, sizeof err),
                   RB_OK);
  assert_true(us == 1796407200500000LL);
  assert_int_equal(job_time_parse("2026-12-04T19:30:00+01:30", "--start-at", &us, err, sizeof err),
                   RB_OK);
  assert_true(us == 1796407200000000LL);
  assert_int_equal(
      job_time_parse("2026-12-04T17:00:00.125-01:00", "--start-at", &us, err, sizeof err), RB_OK);
  assert_true(us == 1796407200125000LL);
  const char *bad[] = {"",
                       "now",
                       "1.",
                       ".5",
                       "-5",
                       "2026-12-04T18:00:00",
                       "2026-12-04 18:00",
                       "2026-12-04T18:00:00+1:00",
                       "2026-12-04T18:00:00Zjunk",
                       "2026-13-04T18:00:00Z",
                       "2026-12-04T24:00:00Z",
                       "1e9"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_not_equal(job_time_parse(bad[i], "RBENCH_START_AT", &us, err, sizeof err), RB_OK);
    assert_non_null(strstr(err, "RBENCH_START_AT expects an instant"));
  }
}

static void test_names_and_share(void **state) {
  (void)state;
  struct job_shard s = {.index = 0, .count = 3};
  char out[300];
  job_shard_file_name("DIR/RUN/r1.json", &s, out, sizeof out);
  assert_string_equal(out, "DIR/RUN/r1.shard-0-of-3.json");
  job_shard_file_name("x.json", &s, out, sizeof out);
  assert_string_equal(out, "x.shard-0-of-3.json");
  job_shard_file_name("results", &s, out, sizeof out);
  assert_string_equal(out, "results.shard-0-of-3.json");
  job_shard_file_name("x.json", NULL, out, sizeof out);
  assert_string_equal(out, "x.json");
  char cm[64] = "rbench-run";
  s.index = 2;
  job_shard_configmap_name(cm, sizeof cm, &s);
  assert_string_equal(cm, "rbench-run-shard-2");
  struct job_shard none = {0, 0};
  job_shard_configmap_name(cm, sizeof cm, &none);
  assert_string_equal(cm, "rbench-run-shard-2");
  /* the shares add up to the total, whatever N */
  for (unsigned n = 1; n <= 9; n++) {
    for (uint64_t total = 0; total < 30; total++) {
      uint64_t sum = 0;
      for (unsigned i = 0; i < n; i++) sum += job_shard_share(&(struct job_shard){i, n}, total);
      assert_true(sum == total);
    }
  }
}

static void test_run_key(void **state) {
  (void)state;
  struct job_params p;
  job_params_defaults(&p);
  snprintf(p.name, sizeof p.name, "direct");
  char a[17], b[17];
  job_shard_run_key("sc", &p, 1, 1000, 3, a);
  job_shard_run_key("sc", &p, 1, 1000, 3, b);
  assert_string_equal(a, b);
  assert_int_equal(strlen(a), 16);
  job_shard_run_key("sc", &p, 2, 1000, 3, b);
  assert_string_not_equal(a, b);
  job_shard_run_key("sc", &p, 1, 1001, 3, b);
  assert_string_not_equal(a, b);
  job_shard_run_key("sc", &p, 1, 1000, 4, b);
  assert_string_not_equal(a, b);
  job_shard_run_key("sd", &p, 1, 1000, 3, b);
  assert_string_not_equal(a, b);
  p.rate = 11;
  job_shard_run_key("sc", &p, 1, 1000, 3, b);
  assert_string_not_equal(a, b);
}

static void test_clock_judge(void **state) {
  (void)state;
  char err[500];
  struct job_clock_offset o = {.lo_ms = -300, .hi_ms = 700, .probes = 3};
  assert_int_equal(job_clock_judge(&o, 500, "X", err, sizeof err), RB_OK);
  o = (struct job_clock_offset){.lo_ms = 4200, .hi_ms = 5300, .probes = 3};
  assert_int_not_equal(job_clock_judge(&o, 500, "the API host", err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "behind the API host's by at least 4200 ms"));
  o = (struct job_clock_offset){.lo_ms = -5300, .hi_ms = -4200, .probes = 3};
  assert_int_not_equal(job_clock_judge(&o, 500, "the API host", err, sizeof err), RB_OK);
  assert_non_null(strstr(err, "ahead of the API host's by at least 4200 ms"));
  /* only a certain offset is refused: an interval reaching into the tolerance passes */
  o = (struct job_clock_offset){.lo_ms = 400, .hi_ms = 1400, .probes = 1};
  assert_int_equal(job_clock_judge(&o, 500, "X", err, sizeof err), RB_OK);
}

/* Shard i of n sends exactly the k with k mod n == i, each at its unsharded due time. */
static void test_sched_shard(void **state) {
  (void)state;
  const uint64_t MS = 1000000;
  for (unsigned n = 1; n <= 7; n++) {
    bool seen[60] = {false};
    for (unsigned i = 0; i < n; i++) {
      struct job_sched s;
      job_sched_init(&s, 0, 200, 60, 1000, MS);
      job_sched_shard(&s, i, n);
      uint64_t k = 0, due = 0, wait = 0, sent = 0;
      for (uint64_t now = 0; job_sched_next(&s, now, &k, &due, &wait) != JOB_SCHED_DONE;) {
        enum job_sched_action a = job_sched_next(&s, now, &k, &due, &wait);
        if (a == JOB_SCHED_WAIT) {
          now += wait;
          continue;
        }
        assert_int_equal(a, JOB_SCHED_SEND);
        assert_int_equal(k % n, i);
        assert_false(seen[k]);
        seen[k] = true;
        assert_true(due == k * 5 * MS);
        job_sched_sent(&s, now);
        job_sched_done(&s);
        sent++;
      }
      assert_true(sent == job_shard_share(&(struct job_shard){i, n}, 60));
      assert_true(s.sent == sent);
      assert_true(job_sched_unsent(&s) == 0);
    }
    for (int k = 0; k < 60; k++) assert_true(seen[k]);
  }
  /* stopped early: unsent counts this shard's invocations only */
  struct job_sched s;
  job_sched_init(&s, 0, 200, 60, 1000, MS);
  job_sched_shard(&s, 1, 3);
  uint64_t k = 0, due = 0, wait = 0;
  assert_int_equal(job_sched_next(&s, 5 * MS, &k, &due, &wait), JOB_SCHED_SEND);
  assert_int_equal(k, 1);
  job_sched_sent(&s, 5 * MS);
  assert_true(job_sched_unsent(&s) == 19);
}

static struct job_hist *hist_of(const uint64_t *v, size_t n) {
  struct job_hist *h = job_hist_create();
  for (size_t i = 0; i < n; i++) job_hist_record(h, v[i]);
  return h;
}

static void assert_same_hist(const struct job_hist *a, const struct job_hist *b) {
  assert_true(job_hist_count(a) == job_hist_count(b));
  assert_true(job_hist_min(a) == job_hist_min(b));
  assert_true(job_hist_max(a) == job_hist_max(b));
  assert_true(fabs(job_hist_mean(a) - job_hist_mean(b)) < 1e-6);
  for (double p = 0; p <= 100; p += 0.5)
    assert_true(job_hist_percentile(a, p) == job_hist_percentile(b, p));
}

static void test_hist_round_trip_and_merge(void **state) {
  (void)state;
  uint64_t v[2000];
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < 2000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v[i] = i % 3 == 0 ? x % 3000 : x % 50000000; /* the exact range and far above it */
  }
  struct job_hist *all = hist_of(v, 2000);
  char err[200];
  /* round trip */
  cJSON *j = job_hist_to_json(all);
  char *text = cJSON_PrintUnformatted(j);
  cJSON *back_json = cJSON_Parse(text);
  struct job_hist *back = job_hist_from_json(back_json, err, sizeof err);
  assert_non_null(back);
  assert_same_hist(all, back);
  /* merge of parts == the histogram of the union (any split) */
  struct job_hist *m = job_hist_create();
  for (size_t part = 0; part < 7; part++) {
    uint64_t sub[2000];
    size_t n = 0;
    for (size_t i = part; i < 2000; i += 7) sub[n++] = v[i];
    struct job_hist *h = hist_of(sub, n);
    cJSON *pj = job_hist_to_json(h);
    struct job_hist *ph = job_hist_from_json(pj, err, sizeof err);
    job_hist_merge(m, ph);
    job_hist_destroy(ph);
    cJSON_Delete(pj);
    job_hist_destroy(h);
  }
  assert_same_hist(all, m);
  /* the error bound: a percentile is at or above the exact one, within 1/1024 */
  uint64_t sorted[2000];
  memcpy(sorted, v, sizeof sorted);
  for (size_t i = 1; i < 2000; i++)
    for (size_t k = i; k > 0 && sorted[k - 1] > sorted[k]; k--) {
      uint64_t t = sorted[k];
      sorted[k] = sorted[k - 1];
      sorted[k - 1] = t;
    }
  double ps[] = {50, 90, 99, 99.9};
  for (size_t i = 0; i < 4; i++) {
    size_t rank = (size_t)ceil(ps[i] / 100 * 2000 - 1e-9);
    double exact = (double)sorted[rank - 1], got = (double)job_hist_percentile(m, ps[i]);
    assert_true(got >= exact && got <= exact * (1 + JOB_HIST_MAX_RELATIVE_ERROR));
  }
  /* an empty histogram encodes and decodes too */
  struct job_hist *e = job_hist_create();
  cJSON *ej = job_hist_to_json(e);
  struct job_hist *eb = job_hist_from_json(ej, err, sizeof err);
  assert_non_null(eb);
  assert_true(job_hist_count(eb) == 0);
  job_hist_destroy(e);
  job_hist_destroy(eb);
  cJSON_Delete(ej);
  job_hist_destroy(m);
  job_hist_destroy(back);
  cJSON_Delete(back_json);
  cJSON_free(text);
  cJSON_Delete(j);
  job_hist_destroy(all);
}

static void test_hist_from_json_refuses(void **state) {
  (void)state;
  const char *bad[] = {"[]",
                       "{}",
                       "{\"count\":1,\"min\":1,\"max\":1,\"sum\":1}",
                       "{\"count\":1,\"min\":1,\"max\":1,\"sum\":1,\"buckets\":[1]}",
                       "{\"count\":2,\"min\":1,\"max\":1,\"sum\":2,\"buckets\":[1,1]}",
                       "{\"count\":1,\"min\":1,\"max\":1,\"sum\":1,\"buckets\":[1,0]}",
                       "{\"count\":2,\"min\":1,\"max\":2,\"sum\":3,\"buckets\":[1,1,0,1]}",
                       "{\"count\":1,\"min\":1,\"max\":1,\"sum\":1,\"buckets\":[99999999,1]}",
                       "{\"count\":1,\"min\":5,\"max\":1,\"sum\":1,\"buckets\":[1,1]}",
                       "{\"count\":-1,\"min\":1,\"max\":1,\"sum\":1,\"buckets\":[]}",
                       "{\"count\":1.5,\"min\":1,\"max\":1,\"sum\":1,\"buckets\":[1,1]}",
                       "{\"count\":1,\"min\":1,\"max\":1,\"sum\":\"x\",\"buckets\":[1,1]}"};
  char err[200];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *j = cJSON_Parse(bad[i]);
    struct job_hist *h = job_hist_from_json(j, err, sizeof err);
    if (h) fail_msg("accepted %s", bad[i]);
    assert_non_null(strstr(err, "histogram: "));
    cJSON_Delete(j);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shard_parse),
      cmocka_unit_test(test_shard_resolve),
      cmocka_unit_test(test_time_parse),
      cmocka_unit_test(test_names_and_share),
      cmocka_unit_test(test_run_key),
      cmocka_unit_test(test_clock_judge),
      cmocka_unit_test(test_sched_shard),
      cmocka_unit_test(test_hist_round_trip_and_merge),
      cmocka_unit_test(test_hist_from_json_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
