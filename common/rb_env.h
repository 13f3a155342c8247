/* rb_env.h: process-environment access that is safe to use from several threads.
 *
 * setenv/getenv race with each other; every rbench read or write of the environment after
 * start-up goes through these functions, which hold one process-wide lock. */
#ifndef RB_ENV_H
#define RB_ENV_H

#include <stdbool.h>
#include <stddef.h>

/* Sets (overwrites) name=value. Returns false if the name is invalid or memory ran out. */
bool rb_env_set(const char *name, const char *value);
/* Copies the value of name into buf (NUL-terminated). Returns false if unset or if the value
 * does not fit (buf is then empty). */
bool rb_env_get(const char *name, char *buf, size_t len);

#endif
