/* rb_log.h: leveled logging to stderr, one line per call. Never log secrets. */
#ifndef RB_LOG_H
#define RB_LOG_H

enum rb_log_level { RB_LOG_DEBUG, RB_LOG_INFO, RB_LOG_WARN, RB_LOG_ERROR, RB_LOG_OFF };

/* Sets the threshold; messages below it are dropped. Default RB_LOG_INFO. */
void rb_log_set_level(enum rb_log_level level);
/* Parses "debug", "info", "warn", "error" or "off"; returns -1 for anything else. */
int rb_log_level_parse(const char *name);
/* Sets the program name printed on every line (borrowed; must outlive logging). */
void rb_log_set_program(const char *name);

void rb_log(enum rb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rb_debug(...) rb_log(RB_LOG_DEBUG, __VA_ARGS__)
#define rb_info(...) rb_log(RB_LOG_INFO, __VA_ARGS__)
#define rb_warn(...) rb_log(RB_LOG_WARN, __VA_ARGS__)
#define rb_error(...) rb_log(RB_LOG_ERROR, __VA_ARGS__)

#endif
