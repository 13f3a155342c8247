/* rb_env.c: a lock around setenv/getenv. */
#define _POSIX_C_SOURCE 200809L
#include "rb_env.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;

bool rb_env_set(const char *name, const char *value) {
  if (!name || !*name || strchr(name, '=')) return false;
  pthread_mutex_lock(&env_lock);
  int rc = setenv(name, value ? value : "", 1);
  pthread_mutex_unlock(&env_lock);
  return rc == 0;
}

bool rb_env_get(const char *name, char *buf, size_t len) {
  bool ok = false;
  if (len == 0) return false;
  buf[0] = '\0';
  pthread_mutex_lock(&env_lock);
  const char *v = getenv(name);
  if (v) {
    size_t n = strlen(v);
    if (n < len) {
      memcpy(buf, v, n + 1);
      ok = true;
    }
  }
  pthread_mutex_unlock(&env_lock);
  return ok;
}
