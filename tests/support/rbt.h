/* rbt.h: helpers for integration tests: real servers on free loopback ports, HTTP calls.
 *
 * Every process started here gets PR_SET_PDEATHSIG(SIGKILL), so it dies with the test even
 * if the test crashes; the stop functions also kill and reap it on the normal path. */
#ifndef RBT_H
#define RBT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct rbt_proc {
  pid_t pid;
  int port;
  char log[256]; /* file receiving the process's stdout and stderr */
};

/* A free TCP port on 127.0.0.1 (bound then released; callers retry on collision). */
int rbt_free_port(void);

/* Starts argv[0] (searched in PATH) with stdout/stderr to a temp log; env_extra is a
 * NULL-terminated list of "K=V" added to the environment (may be NULL). */
bool rbt_proc_start(struct rbt_proc *p, char *const argv[], char *const env_extra[]);
/* Sends sig, waits up to 5 s, then SIGKILL. Returns the exit status (or -signal). */
int rbt_proc_stop(struct rbt_proc *p, int sig);
/* Waits up to timeout_ms for the process to exit by itself; returns its exit status (or
 * -signal), or -1000 on timeout (the process is then killed). */
int rbt_proc_wait(struct rbt_proc *p, int timeout_ms);
/* Waits up to timeout_ms for 127.0.0.1:port to accept connections. */
bool rbt_wait_port(int port, int timeout_ms);
/* Stops a server with SIGTERM and checks it exited 0 (so a sanitizer report, which makes the
 * exit status non-zero, fails the test); on failure prints its log and returns -1. */
int rbt_action_stop_checked(struct rbt_proc *p);
/* Reads f to its end into a malloc'd, NUL-terminated string (caller frees; f stays open). */
char *rbt_slurp(FILE *f);
/* Reads the process log into a malloc'd string (caller frees). */
char *rbt_proc_log(const struct rbt_proc *p);

/* redis-server on a free port, --save '' --appendonly no; password may be NULL. */
bool rbt_redis_start(struct rbt_proc *p, const char *password);
/* Starts nutcracker (twemproxy) on a free port in front of the Redis at redis_port (one
 * preconnected server connection); its configuration is written to conf (a path of up to
 * conflen bytes the caller unlinks after rbt_proc_stop). */
bool rbt_nutcracker_start(struct rbt_proc *p, int redis_port, char *conf, size_t conflen);

/* Restarts on the same port. */
bool rbt_redis_restart(struct rbt_proc *p, const char *password);
/* A synchronous hiredis connection (AUTH when password); NULL on failure. */
redisContext *rbt_redis_connect(int port, const char *password);

/* rbench-action on a free port (HTTP mode). env_extra as for rbt_proc_start. */
bool rbt_action_start(struct rbt_proc *p, char *const env_extra[]);

struct rbt_http_reply {
  long status;
  char *body;      /* malloc'd, NUL-terminated */
  bool has_length; /* Content-Length header present */
  char content_type[64];
};

/* Sends method path with body (may be NULL) to 127.0.0.1:port. Returns false on transport
 * failure. Free the reply with rbt_http_reply_free. */
bool rbt_http(int port, const char *method, const char *path, const char *body, size_t len,
              struct rbt_http_reply *out);
void rbt_http_reply_free(struct rbt_http_reply *r);

/* Path of a built binary, e.g. rbt_bin("rbench-action"). */
const char *rbt_bin(const char *name);

#endif
