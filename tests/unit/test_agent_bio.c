/* test_agent_bio.c: rounds of non-blocking socket reads and writes, through io_uring and
 * through plain system calls: same results either way (data, -EAGAIN, end of stream,
 * partial writes), and one system call per round with io_uring. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent_bio.h"

static void pair(int sv[2]) {
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static void round_trip(bool uring) {
  struct agent_bio b;
  assert_true(agent_bio_init(&b, uring, 4)); /* depth 4: the round below runs in chunks */
  enum { N = 6 };
  int s[N][2];
  for (int i = 0; i < N; i++) pair(s[i]);
  /* Round 1: write "hello i" on side 0 of every pair, and read side 1 of pairs 0..2 (nothing
   * there yet: -EAGAIN, the caller waits for readiness as with read()). */
  char msg[N][16], in[N][64];
  for (int i = 0; i < N; i++) {
    snprintf(msg[i], sizeof msg[i], "hello %d", i);
    assert_int_equal(agent_bio_add(&b, s[i][0], true, msg[i], strlen(msg[i]), s[i], (unsigned)i),
                     i);
  }
  for (int i = 0; i < 3; i++)
    assert_true(agent_bio_add(&b, s[i][1], false, in[i], sizeof in[i], NULL, 0) >= 0);
  agent_bio_run(&b);
  for (int i = 0; i < N; i++) {
    assert_int_equal(b.ops[i].res, (ssize_t)strlen(msg[i]));
    assert_ptr_equal(b.ops[i].tag, s[i]);
    assert_int_equal(b.ops[i].aux, (unsigned)i);
  }
  /* The reads were queued after the writes of their pairs: they see the data. */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(b.ops[N + i].res, (ssize_t)strlen(msg[i]));
    assert_memory_equal(in[i], msg[i], strlen(msg[i]));
  }
  agent_bio_clear(&b);
  assert_int_equal(b.n, 0);

  /* Round 2: read the rest, an empty socket (-EAGAIN) and a closed peer (0). */
  close(s[5][0]);
  for (int i = 3; i < N; i++) agent_bio_add(&b, s[i][1], false, in[i], sizeof in[i], NULL, 0);
  agent_bio_add(&b, s[0][1], false, in[0], sizeof in[0], NULL, 0);
  unsigned long long before = b.syscalls;
  agent_bio_run(&b);
  if (agent_bio_uring(&b)) assert_true(b.syscalls - before <= 1);
  assert_int_equal(b.ops[0].res, (ssize_t)strlen(msg[3]));
  assert_int_equal(b.ops[1].res, (ssize_t)strlen(msg[4]));
  assert_int_equal(b.ops[2].res, (ssize_t)strlen(msg[5])); /* data before the end */
  assert_int_equal(b.ops[3].res, -EAGAIN);
  agent_bio_clear(&b);
  agent_bio_add(&b, s[5][1], false, in[5], sizeof in[5], NULL, 0);
  agent_bio_run(&b);
  assert_int_equal(b.ops[0].res, 0); /* end of stream */
  agent_bio_clear(&b);

  /* A write bigger than the socket takes: partial, then -EAGAIN, never blocking. */
  static char big[4 << 20];
  memset(big, 'x', sizeof big);
  agent_bio_add(&b, s[1][0], true, big, sizeof big, NULL, 0);
  agent_bio_run(&b);
  assert_true(b.ops[0].res > 0 && b.ops[0].res < (ssize_t)sizeof big);
  agent_bio_clear(&b);
  agent_bio_add(&b, s[1][0], true, big, sizeof big, NULL, 0);
  agent_bio_run(&b);
  assert_int_equal(b.ops[0].res, -EAGAIN);
  agent_bio_clear(&b);

  /* Writing to a closed peer fails (-EPIPE), without SIGPIPE. */
  close(s[2][1]);
  agent_bio_add(&b, s[2][0], true, msg[2], 3, NULL, 0);
  agent_bio_run(&b);
  assert_int_equal(b.ops[0].res, -EPIPE);
  /* A bad descriptor fails that operation only. */
  agent_bio_clear(&b);
  agent_bio_add(&b, 100000, false, in[0], 8, NULL, 0);
  agent_bio_add(&b, s[3][0], true, msg[3], 2, NULL, 0);
  agent_bio_run(&b);
  assert_int_equal(b.ops[0].res, -EBADF);
  assert_int_equal(b.ops[1].res, 2);

  for (int i = 0; i < N; i++) {
    if (i != 5) close(s[i][0]);
    if (i != 2) close(s[i][1]);
  }
  agent_bio_deinit(&b);
}

static void test_plain(void **state) {
  (void)state;
  round_trip(false);
}

static void test_uring(void **state) {
  (void)state;
  struct agent_bio b;
  assert_true(agent_bio_init(&b, true, 8));
  bool on = agent_bio_uring(&b);
  agent_bio_deinit(&b);
  if (!on) {
    print_message("io_uring unavailable here: only the plain system call path was tested\n");
    skip();
  }
  round_trip(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_uring),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
