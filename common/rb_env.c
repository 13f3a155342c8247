/* rb_env.c: a lock around the environment, and strings of our own for what we set.
 *
 * glibc's setenv never frees a value it replaces (a thread may still hold it), so an action
 * that sets __OW_ACTIVATION_ID, __OW_DEADLINE, ... on every /run grew by about 100 bytes per
 * activation (9.6 MB per 100,000). Here every name set gets one buffer of our own, handed to
 * putenv: a new value is written into it in place when it fits, and a bigger buffer (at
 * least double) replaces it when not. A replaced buffer is kept, not freed, for the same
 * reason as glibc's: libc reads the environment without our lock (getaddrinfo reads
 * RES_OPTIONS, for one). A name's buffers therefore add up to at most twice its largest
 * value, and the number of names is capped, so the environment stays bounded however many
 * activations come. (A value rewritten in place can be read half old, half new by someone
 * reading that same variable without the lock; rbench reads its variables through
 * rb_env_get, and libc reads only its own.) */
#define _GNU_SOURCE
#include "rb_env.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct env_entry {
  char *buf;  /* "NAME=value\0", in the environment through putenv */
  size_t cap; /* bytes allocated for buf */
  size_t namelen;
};

static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
static struct env_entry *entries;
static size_t nentries, capentries;
static char **retired; /* replaced buffers: kept, and reachable (for leak checkers) */
static size_t nretired, capretired;

static struct env_entry *find(const char *name, size_t nl) {
  for (size_t i = 0; i < nentries; i++)
    if (entries[i].namelen == nl && memcmp(entries[i].buf, name, nl) == 0) return &entries[i];
  return NULL;
}

static bool grow(void **arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return true;
  size_t c = *cap ? *cap * 2 : 16;
  void *p = realloc(*arr, c * elem);
  if (!p) return false;
  *arr = p;
  *cap = c;
  return true;
}

/* Puts value into e's buffer, or into a new, bigger one. Under env_lock. */
static bool store(struct env_entry *e, const char *name, size_t nl, const char *value, size_t vl) {
  size_t need = nl + 1 + vl + 1;
  if (e->buf && need <= e->cap) {
    memcpy(e->buf + nl + 1, value, vl + 1);
    /* if something else replaced the variable meanwhile, ours is not in the environment */
    if (getenv(name) != e->buf + nl + 1 && putenv(e->buf) != 0) return false;
    return true;
  }
  size_t cap = need < 64 ? 64 : need;
  if (e->buf && cap < 2 * e->cap) cap = 2 * e->cap;
  if (e->buf && !grow((void **)&retired, &capretired, nretired, sizeof *retired)) return false;
  char *b = malloc(cap);
  if (!b) return false;
  memcpy(b, name, nl);
  b[nl] = '=';
  memcpy(b + nl + 1, value, vl + 1);
  if (putenv(b) != 0) {
    free(b);
    return false;
  }
  if (e->buf) retired[nretired++] = e->buf;
  e->buf = b;
  e->cap = cap;
  return true;
}

bool rb_env_set(const char *name, const char *value) {
  if (!name || !*name || strchr(name, '=')) return false;
  if (!value) value = "";
  size_t nl = strlen(name), vl = strlen(value);
  bool ok = false;
  pthread_mutex_lock(&env_lock);
  struct env_entry *e = find(name, nl);
  if (e) {
    ok = store(e, name, nl, value, vl);
  } else if (nentries < RB_ENV_MAX_NAMES &&
             grow((void **)&entries, &capentries, nentries, sizeof *entries)) {
    struct env_entry fresh = {.buf = NULL, .cap = 0, .namelen = nl};
    if (store(&fresh, name, nl, value, vl)) {
      entries[nentries++] = fresh;
      ok = true;
    }
  }
  pthread_mutex_unlock(&env_lock);
  return ok;
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

extern char **environ;

size_t rb_env_names(const char *prefix, char names[][RB_ENV_NAME_MAX], size_t max) {
  size_t n = 0, pl = strlen(prefix);
  pthread_mutex_lock(&env_lock);
  for (char **e = environ; e && *e && n < max; e++) {
    const char *eq = strchr(*e, '=');
    size_t nl = eq ? (size_t)(eq - *e) : strlen(*e);
    if (nl < pl || nl >= RB_ENV_NAME_MAX || strncmp(*e, prefix, pl) != 0) continue;
    memcpy(names[n], *e, nl);
    names[n++][nl] = '\0';
  }
  pthread_mutex_unlock(&env_lock);
  return n;
}
