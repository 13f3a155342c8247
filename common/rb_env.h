/* rb_env.h: process-environment access that is safe to use from several threads.
 *
 * setenv/getenv race with each other; every rbench read or write of the environment after
 * start-up goes through these functions, which hold one process-wide lock. */
#ifndef RB_ENV_H
#define RB_ENV_H

#include <stdbool.h>
#include <stddef.h>

/* At most this many distinct names are set through rb_env_set (a client inventing a new
 * __OW_ key on every /run must not grow the environment for ever). */
#define RB_ENV_MAX_NAMES 1024

/* Sets (overwrites) name=value. Setting the same name again and again does not grow memory
 * (glibc's setenv keeps every value it replaces). Returns false if the name is invalid, if
 * RB_ENV_MAX_NAMES other names were set already, or if memory ran out. */
bool rb_env_set(const char *name, const char *value);
/* Copies the value of name into buf (NUL-terminated). Returns false if unset or if the value
 * does not fit (buf is then empty). */
bool rb_env_get(const char *name, char *buf, size_t len);

/* Longest variable name rb_env_names reports (longer ones are skipped), with its NUL. */
#define RB_ENV_NAME_MAX 128
/* Copies the names (never the values) of at most max variables that start with prefix into
 * names (caller's array); returns how many. */
size_t rb_env_names(const char *prefix, char names[][RB_ENV_NAME_MAX], size_t max);

#endif
