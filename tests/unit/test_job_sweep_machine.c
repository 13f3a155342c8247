/* test_job_sweep_machine.c: the machine's CPU from /proc/stat for sweep attribution: parsing
 * known text, busy fractions between two samples (the whole machine, each core, the least
 * busy), what is refused, and a real sample of this machine. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "job_machine.h"

static void test_parse_and_fractions(void **state) {
  (void)state;
  static struct job_machine_sample a, b;
  /* user nice system idle iowait irq softirq steal guest guest_nice */
  assert_true(
      job_machine_parse("cpu  100 0 100 800 0 0 0 0 0 0\n"
                        "cpu0 50 0 50 400 0 0 0 0 0 0\n"
                        "cpu1 50 0 50 400 0 0 0 0 0 0\n"
                        "intr 12345\nctxt 99\n",
                        &a));
  assert_int_equal(a.cores, 2);
  assert_true(a.busy == 200 && a.total == 1000);
  /* 1000 jiffies later: core 0 all busy (iowait counts idle), core 1 half busy */
  assert_true(
      job_machine_parse("cpu  850 0 100 1000 50 0 0 0 0 0\n"
                        "cpu0 550 0 50 400 0 0 0 0 0 0\n"
                        "cpu1 300 0 50 600 50 0 0 0 0 0\n",
                        &b));
  cJSON *o = job_machine_json(&a, &b);
  assert_non_null(o);
  assert_true(cJSON_GetObjectItem(o, "cores")->valuedouble == 2);
  assert_true(fabs(cJSON_GetObjectItem(o, "busy_fraction")->valuedouble - 0.75) < 1e-12);
  assert_true(cJSON_GetObjectItem(o, "min_core_busy_fraction")->valuedouble == 0.5);
  assert_true(cJSON_GetObjectItem(o, "max_core_busy_fraction")->valuedouble == 1);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "per_core_busy_fraction")), 2);
  cJSON_Delete(o);
  /* no time passed, or a failed sample: nothing */
  assert_null(job_machine_json(&a, &a));
  b.ok = false;
  assert_null(job_machine_json(&a, &b));
  /* irq, softirq and steal are busy time */
  assert_true(job_machine_parse("cpu  1 2 3 4 5 6 7 8\n", &a));
  assert_true(a.busy == 1 + 2 + 3 + 6 + 7 + 8 && a.total == a.busy + 4 + 5);
  assert_false(job_machine_parse("intr 1\n", &a));
  assert_false(job_machine_parse("cpu  1 2\n", &a));
}

static void test_real_sample(void **state) {
  (void)state;
  static struct job_machine_sample s;
  job_machine_sample(&s);
  assert_true(s.ok);
  assert_true(s.cores >= 1);
  assert_true(s.total >= s.busy && s.total > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_and_fractions),
      cmocka_unit_test(test_real_sample),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
