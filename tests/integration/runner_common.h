/* runner_common.h: helpers shared by the rbench integration tests (header-only, static):
 * a temporary directory removed at the end, running rbench to completion, reading results. */
#ifndef RUNNER_COMMON_H
#define RUNNER_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cjson/cJSON.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbt.h"

static char tmpdir[64];

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static inline void tmpdir_make(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/rbench-it-XXXXXX");
  if (!mkdtemp(tmpdir)) abort();
}

static inline void tmpdir_remove(void) {
  if (tmpdir[0]) nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
}

static inline char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  fclose(f);
  return buf;
}

static inline cJSON *read_json(const char *path) {
  char *t = read_text(path);
  cJSON *j = t ? cJSON_Parse(t) : NULL;
  free(t);
  return j;
}

static int rbench_serial = 50000;

/* Runs rbench with argv (argv[0] ignored) and env_extra, waits up to timeout_ms. *log gets
 * its stderr+stdout (caller frees). Returns the exit status. */
static inline int run_rbench(char *argv[], char *const env[], int timeout_ms, char **log) {
  struct rbt_proc p = {.port = rbench_serial++};
  argv[0] = (char *)rbt_bin("rbench");
  if (!rbt_proc_start(&p, argv, env)) return -999;
  int rc = rbt_proc_wait(&p, timeout_ms);
  char *l = rbt_proc_log(&p);
  unlink(p.log);
  if (log) *log = l;
  else free(l);
  return rc;
}

static inline double num(const cJSON *o, const char *path) {
  /* "a.b.c" lookup of a number; NAN when missing */
  char buf[128];
  snprintf(buf, sizeof buf, "%s", path);
  const cJSON *cur = o;
  for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
    cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
  return cJSON_IsNumber(cur) ? cur->valuedouble : (double)NAN;
}

/* The usual fixture: a temporary directory, a redis-server without a password, and
 * TMPDIR/local.env pointing at it (envfile). False when Redis does not start. */
static inline bool fixture_start(struct rbt_proc *redis, char *envfile, size_t len) {
  tmpdir_make();
  if (!rbt_redis_start(redis, NULL)) return false;
  snprintf(envfile, len, "%s/local.env", tmpdir);
  char text[200];
  snprintf(text, sizeof text, "REDIS_HOST=127.0.0.1\nREDIS_PORT=%d\n", redis->port);
  write_text(envfile, text);
  return true;
}

/* Stops what fixture_start started and removes the directory. */
static inline void fixture_stop(struct rbt_proc *redis) {
  rbt_proc_stop(redis, SIGTERM);
  unlink(redis->log);
  tmpdir_remove();
}

/* Whether /proc/PID/cmdline (arguments joined by spaces) contains needle. */
static inline bool cmdline_has(pid_t pid, const char *needle) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  for (size_t i = 0; i < n; i++)
    if (buf[i] == '\0') buf[i] = ' ';
  buf[n] = '\0';
  return strstr(buf, needle) != NULL;
}

/* The parent of pid, -1 when it is gone. */
static inline pid_t parent_of(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *close_paren = strrchr(buf, ')');
  int ppid = -1;
  if (close_paren) sscanf(close_paren + 2, "%*c %d", &ppid);
  return (pid_t)ppid;
}

#endif
