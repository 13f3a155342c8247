/* rb_log.c: leveled logging to stderr; each line is written with one write call. */
#define _POSIX_C_SOURCE 200809L
#include "rb_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum rb_log_level log_threshold = RB_LOG_INFO;
static const char *log_program = "rbench";

void rb_log_set_level(enum rb_log_level level) { log_threshold = level; }
void rb_log_set_program(const char *name) { log_program = name; }

int rb_log_level_parse(const char *name) {
  static const char *const names[] = {"debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 5; i++) {
    if (strcmp(name, names[i]) == 0) return i;
  }
  return -1;
}

void rb_log(enum rb_log_level level, const char *fmt, ...) {
  static const char *const tags[] = {"debug", "info", "warn", "error", "off"};
  if (level < log_threshold || level >= RB_LOG_OFF) return;
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n =
      snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
               log_program, tags[level]);
  if (n < 0) return;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
