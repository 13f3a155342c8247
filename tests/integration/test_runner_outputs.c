#define _GNU_SOURCE
/* test_runner_outputs.c: what rbench does with the path it writes (docs/runner.md, "Output
 * paths"), for run, report and merge: a character device (made here with mknod, never the
 * machine's /dev/null) and a FIFO are written through and stay what they are, a symlink
 * stays a symlink and its target gets the document, an output that is an input (by device
 * and inode) is refused naming both, missing parent directories are created, and a second
 * rbench writing the same output while the first runs fails clearly. Real redis-server and
 * rbench-action processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "runner_common.h"

static struct rbt_proc redis;
static char envfile[160], doc1[160];

static void in_tmp(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", tmpdir, name);
}

/* rbench run with a few invocations to out; returns the exit status, *log its output. */
static int run_to(const char *out, char **log) {
  char *argv[] = {NULL, "run",      "--env",     envfile,      "--rate", "50", "--invocations",
                  "4",  "--output", (char *)out, "--progress", "off",    NULL};
  return run_rbench(argv, NULL, 60000, log);
}

static int setup(void **state) {
  (void)state;
  if (!fixture_start(&redis, envfile, sizeof envfile)) return -1;
  in_tmp(doc1, sizeof doc1, "doc1.json");
  return run_to(doc1, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  fixture_stop(&redis);
  return 0;
}

static bool is_results(const char *text) {
  cJSON *d = text ? cJSON_Parse(text) : NULL;
  bool ok = d && cJSON_IsNumber(cJSON_GetObjectItem(d, "schema_version"));
  cJSON_Delete(d);
  return ok;
}

/* A character device of our own (the same as /dev/null: 1,3): written through, still a
 * device afterwards. */
static void test_character_device_written_through(void **state) {
  (void)state;
  char dev[200];
  in_tmp(dev, sizeof dev, "null");
  if (mknod(dev, S_IFCHR | 0666, makedev(1, 3)) != 0) skip(); /* needs root (CAP_MKNOD) */
  char *log = NULL;
  assert_int_equal(run_to(dev, &log), 0);
  free(log);
  struct stat st;
  assert_int_equal(lstat(dev, &st), 0);
  assert_true(S_ISCHR(st.st_mode)); /* not replaced by a JSON file */
  assert_int_equal(major(st.st_rdev), 1);
  assert_int_equal(minor(st.st_rdev), 3);
  unlink(dev);
}

/* A FIFO: the reader gets the document, the FIFO stays a FIFO. */
static void test_fifo_written_through(void **state) {
  (void)state;
  char fifo[200];
  in_tmp(fifo, sizeof fifo, "pipe");
  assert_int_equal(mkfifo(fifo, 0644), 0);
  int rd = open(fifo, O_RDONLY | O_NONBLOCK); /* a reader, so the writer's open does not wait */
  assert_true(rd >= 0);
  fcntl(rd, F_SETPIPE_SZ, 1 << 20);
  char *log = NULL;
  int rc = run_to(fifo, &log);
  free(log);
  assert_int_equal(rc, 0);
  struct stat st;
  assert_int_equal(lstat(fifo, &st), 0);
  assert_true(S_ISFIFO(st.st_mode));
  size_t cap = 1 << 20, n = 0;
  char *buf = malloc(cap + 1);
  ssize_t got;
  while ((got = read(rd, buf + n, cap - n)) > 0) n += (size_t)got;
  buf[n] = '\0';
  close(rd);
  assert_true(is_results(buf));
  free(buf);
  unlink(fifo);
}

/* A symlink to a regular file stays a symlink; the file it points to gets the document. A
 * dangling symlink is refused and left alone. */
static void test_symlink_outputs(void **state) {
  (void)state;
  char target[200], link[200], dangling[200], rlink[200];
  in_tmp(target, sizeof target, "real.json");
  in_tmp(link, sizeof link, "link.json");
  write_text(target, "old\n");
  assert_int_equal(symlink("real.json", link), 0);
  char *log = NULL;
  assert_int_equal(run_to(link, &log), 0);
  free(log);
  struct stat st;
  assert_int_equal(lstat(link, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  char *text = read_text(target);
  assert_true(is_results(text));
  free(text);
  in_tmp(dangling, sizeof dangling, "dangling.json");
  assert_int_equal(symlink("nowhere/missing.json", dangling), 0);
  assert_int_equal(run_to(dangling, &log), 2);
  assert_non_null(strstr(log, dangling));
  assert_non_null(strstr(log, "symbolic link"));
  free(log);
  assert_int_equal(lstat(dangling, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  /* report -o: the same rules */
  in_tmp(rlink, sizeof rlink, "rlink.html");
  assert_int_equal(symlink("real.html", rlink), 0);
  in_tmp(target, sizeof target, "real.html");
  write_text(target, "old\n");
  char *argv[] = {NULL, "report", doc1, "-o", rlink, NULL};
  assert_int_equal(run_rbench(argv, NULL, 30000, NULL), 0);
  assert_int_equal(lstat(rlink, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  text = read_text(target);
  assert_non_null(strstr(text, "<html"));
  free(text);
}

/* Copies src to dst (a fresh file), for inputs the test destroys if the fix is missing. */
static void copy_file(const char *src, const char *dst) {
  char *t = read_text(src);
  assert_non_null(t);
  write_text(dst, t);
  free(t);
}

/* An output that is one of the inputs, by name, through a hard link or a symlink: refused
 * naming both, the input unchanged. */
static void test_output_that_is_an_input(void **state) {
  (void)state;
  char in[200], hard[200], *log = NULL;
  in_tmp(in, sizeof in, "input.json");
  copy_file(doc1, in);
  char *before = read_text(in);
  /* report X.json -o X.json */
  char *rargv[] = {NULL, "report", in, "-o", in, NULL};
  assert_int_equal(run_rbench(rargv, NULL, 30000, &log), 2);
  assert_non_null(strstr(log, "is the input"));
  free(log);
  /* ... through a hard link (another name of the same file) */
  in_tmp(hard, sizeof hard, "hardlink.json");
  assert_int_equal(link(in, hard), 0);
  char *hargv[] = {NULL, "report", in, "-o", hard, NULL};
  assert_int_equal(run_rbench(hargv, NULL, 30000, &log), 2);
  assert_non_null(strstr(log, hard));
  assert_non_null(strstr(log, in));
  free(log);
  char *after = read_text(in);
  assert_string_equal(before, after);
  free(after);
  /* run --output the env file it reads */
  char envcopy[200];
  in_tmp(envcopy, sizeof envcopy, "copy.env");
  copy_file(envfile, envcopy);
  char *env_before = read_text(envcopy);
  char *argv[] = {NULL,    "run",        "--env", envcopy, "--invocations", "2", "--output",
                  envcopy, "--progress", "off",   NULL};
  assert_int_equal(run_rbench(argv, NULL, 30000, &log), 2);
  assert_non_null(strstr(log, "is the input"));
  free(log);
  after = read_text(envcopy);
  assert_string_equal(env_before, after);
  free(after);
  free(env_before);
  free(before);
}

/* merge -o one of its inputs: refused, nothing written. */
static void test_merge_output_is_an_input(void **state) {
  (void)state;
  char s0[200], s1[200], at[32], *log = NULL;
  in_tmp(s0, sizeof s0, "sh.json");
  snprintf(at, sizeof at, "%lld", (long long)time(NULL) + 2);
  struct rbt_proc p[2];
  for (int i = 0; i < 2; i++) {
    char shard[8];
    snprintf(shard, sizeof shard, "%d/2", i);
    char *argv[] = {(char *)rbt_bin("rbench"),
                    "run",
                    "--env",
                    envfile,
                    "--rate",
                    "50",
                    "--invocations",
                    "6",
                    "--shard",
                    shard,
                    "--start-at",
                    at,
                    "--output",
                    s0,
                    "--progress",
                    "off",
                    NULL};
    p[i] = (struct rbt_proc){.port = rbench_serial++};
    assert_true(rbt_proc_start(&p[i], argv, NULL));
  }
  for (int i = 0; i < 2; i++) {
    assert_int_equal(rbt_proc_wait(&p[i], 60000), 0);
    unlink(p[i].log);
  }
  in_tmp(s0, sizeof s0, "sh.shard-0-of-2.json");
  in_tmp(s1, sizeof s1, "sh.shard-1-of-2.json");
  char *before = read_text(s1);
  assert_non_null(before);
  char *argv[] = {NULL, "merge", s0, s1, "-o", s1, NULL};
  assert_int_equal(run_rbench(argv, NULL, 30000, &log), 2);
  assert_non_null(strstr(log, "is the input"));
  free(log);
  char *after = read_text(s1);
  assert_string_equal(before, after);
  free(after);
  free(before);
  /* merge -o into directories that do not exist yet */
  char out[200];
  in_tmp(out, sizeof out, "m/n/merged.json");
  char *margv[] = {NULL, "merge", s0, s1, "-o", out, NULL};
  assert_int_equal(run_rbench(margv, NULL, 30000, &log), 0);
  free(log);
  char *text = read_text(out);
  assert_true(is_results(text));
  free(text);
}

/* Missing parent directories are created, for a file and a directory output of run and for
 * report -o. */
static void test_nested_outputs_created(void **state) {
  (void)state;
  char out[200], *log = NULL;
  in_tmp(out, sizeof out, "nested/a/b.json");
  assert_int_equal(run_to(out, &log), 0);
  free(log);
  char *text = read_text(out);
  assert_true(is_results(text));
  free(text);
  in_tmp(out, sizeof out, "nested2/a/");
  assert_int_equal(run_to(out, &log), 0);
  free(log);
  in_tmp(out, sizeof out, "nested2/a/run.json");
  text = read_text(out);
  assert_true(is_results(text));
  free(text);
  in_tmp(out, sizeof out, "nested3/r/report.html");
  char *argv[] = {NULL, "report", doc1, "-o", out, NULL};
  assert_int_equal(run_rbench(argv, NULL, 30000, &log), 0);
  free(log);
  struct stat st;
  assert_int_equal(stat(out, &st), 0);
  /* a component that is a file: a clear error naming it */
  char file[200];
  in_tmp(file, sizeof file, "plainfile");
  write_text(file, "x");
  in_tmp(out, sizeof out, "plainfile/sub/x.json");
  assert_int_equal(run_to(out, &log), 2);
  assert_non_null(strstr(log, file));
  assert_non_null(strstr(log, "a regular file"));
  free(log);
}

/* Two runs writing the same output at once: the second fails at once, naming the output; the
 * first writes it. */
static void test_second_writer_fails(void **state) {
  (void)state;
  char out[200];
  in_tmp(out, sizeof out, "shared.json");
  char *argv[] = {(char *)rbt_bin("rbench"),
                  "run",
                  "--env",
                  envfile,
                  "--rate",
                  "20",
                  "--invocations",
                  "100000",
                  "--output",
                  out,
                  "--progress",
                  "off",
                  NULL};
  struct rbt_proc first = {.port = rbench_serial++};
  assert_true(rbt_proc_start(&first, argv, NULL));
  sleep(1);
  char *log = NULL;
  int rc = run_to(out, &log);
  assert_int_equal(rc, 1);
  assert_non_null(strstr(log, "being written by another rbench"));
  assert_non_null(strstr(log, out));
  assert_null(strstr(log, "wrote"));
  free(log);
  assert_int_equal(rbt_proc_stop(&first, SIGTERM), 4);
  unlink(first.log);
  cJSON *d = read_json(out);
  assert_non_null(d);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "complete"))); /* the first run's document */
  cJSON_Delete(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_character_device_written_through),
      cmocka_unit_test(test_fifo_written_through),
      cmocka_unit_test(test_symlink_outputs),
      cmocka_unit_test(test_output_that_is_an_input),
      cmocka_unit_test(test_merge_output_is_an_input),
      cmocka_unit_test(test_nested_outputs_created),
      cmocka_unit_test(test_second_writer_fails),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
