/* test_rb_env.c: the locked environment: values round-trip, setting a name again and again
 * does not grow memory (glibc's setenv does: it keeps every replaced value), and the number
 * of names is capped. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_env.h"

static void test_round_trip(void **state) {
  (void)state;
  char v[256];
  assert_true(rb_env_set("RB_ENV_TEST_A", "short"));
  assert_true(rb_env_get("RB_ENV_TEST_A", v, sizeof v));
  assert_string_equal(v, "short");
  assert_string_equal(getenv("RB_ENV_TEST_A"), "short");
  /* longer than the buffer (a new one), then shorter again (in place) */
  char longer[200];
  memset(longer, 'x', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  assert_true(rb_env_set("RB_ENV_TEST_A", longer));
  assert_string_equal(getenv("RB_ENV_TEST_A"), longer);
  assert_true(rb_env_set("RB_ENV_TEST_A", ""));
  assert_true(rb_env_get("RB_ENV_TEST_A", v, sizeof v));
  assert_string_equal(v, "");
  assert_true(rb_env_set("RB_ENV_TEST_A", "again"));
  assert_string_equal(getenv("RB_ENV_TEST_A"), "again");
  /* someone else's setenv replaced it: ours goes back in on the next set */
  setenv("RB_ENV_TEST_A", "from setenv", 1);
  assert_true(rb_env_set("RB_ENV_TEST_A", "ours"));
  assert_string_equal(getenv("RB_ENV_TEST_A"), "ours");
  /* a value that does not fit the caller's buffer */
  assert_false(rb_env_get("RB_ENV_TEST_A", v, 3));
  assert_string_equal(v, "");
  assert_false(rb_env_get("RB_ENV_TEST_UNSET", v, sizeof v));
  /* invalid names */
  assert_false(rb_env_set("", "x"));
  assert_false(rb_env_set("A=B", "x"));
  assert_false(rb_env_set(NULL, "x"));
}

/* 100,000 activations' worth of __OW_ACTIVATION_ID: glibc's setenv grew by 9.6 MB here. */
static void test_repeated_sets_do_not_grow(void **state) {
  (void)state;
  char v[64];
  assert_true(rb_env_set("__OW_ACTIVATION_ID", "warm-up-value-of-the-same-length-x"));
  struct mallinfo2 before = mallinfo2();
  for (int i = 0; i < 100000; i++) {
    snprintf(v, sizeof v, "%032x", (unsigned)i * 2654435761u);
    assert_true(rb_env_set("__OW_ACTIVATION_ID", v));
  }
  struct mallinfo2 after = mallinfo2();
  char got[64];
  assert_true(rb_env_get("__OW_ACTIVATION_ID", got, sizeof got));
  assert_string_equal(got, v);
  size_t grew = after.uordblks > before.uordblks ? after.uordblks - before.uordblks : 0;
  if (grew > 64 * 1024) fail_msg("100000 sets grew the heap by %zu bytes", grew);
}

/* A client inventing a new name on every /run: names beyond the cap are refused, the ones
 * already set still change. */
static void test_names_are_capped(void **state) {
  (void)state;
  char name[64], v[64];
  size_t accepted = 0;
  for (int i = 0; i < RB_ENV_MAX_NAMES + 100; i++) {
    snprintf(name, sizeof name, "RB_ENV_TEST_NAME_%d", i);
    if (rb_env_set(name, "1")) accepted++;
  }
  /* the other tests' names count too */
  assert_true(accepted <= RB_ENV_MAX_NAMES && accepted >= RB_ENV_MAX_NAMES - 10);
  snprintf(name, sizeof name, "RB_ENV_TEST_NAME_%d", RB_ENV_MAX_NAMES + 99);
  assert_false(rb_env_get(name, v, sizeof v));
  assert_true(rb_env_set("RB_ENV_TEST_NAME_0", "changed"));
  assert_true(rb_env_get("RB_ENV_TEST_NAME_0", v, sizeof v));
  assert_string_equal(v, "changed");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_repeated_sets_do_not_grow),
      cmocka_unit_test(test_names_are_capped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
