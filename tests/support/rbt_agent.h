/* rbt_agent.h: helpers for rbench-agent integration tests (start the agent, talk RESP over
 * raw sockets, read replies with hiredis's reader, run a command line). */
#ifndef RBT_AGENT_H
#define RBT_AGENT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "rbt.h"

/* Starts rbench-agent on a free port in front of Redis at redis_port. extra is a
 * NULL-terminated list of more arguments (may be NULL); env as for rbt_proc_start. */
bool rbt_agent_start(struct rbt_proc *p, int redis_port, const char *const *extra,
                     char *const env[]);

/* A blocking TCP connection to 127.0.0.1:port with send/receive timeouts; -1 on failure. */
int rbt_tcp_connect(int port, int timeout_ms);
bool rbt_send(int fd, const void *p, size_t n);
/* Reads until one complete reply is available (reader keeps leftovers). NULL on timeout,
 * EOF or protocol error. Free with freeReplyObject. */
redisReply *rbt_read_reply(int fd, redisReader *r);
/* True when the peer closed the connection (read returns 0) within the socket timeout. */
bool rbt_peer_closed(int fd, redisReader *r);

/* A hiredis connection with a 10 s command timeout (so a test can never hang). */
redisContext *rbt_connect_timeout(int port);

/* Runs a shell command line; returns its exit status and its stdout in *out (malloc'd). */
int rbt_run(const char *cmdline, char **out);

/* GET http://127.0.0.1:port/path via a raw socket; returns the body (malloc'd) or NULL;
 * *status gets the HTTP status. */
char *rbt_http_get(int port, const char *path, int *status);

/* Monotonic milliseconds. */
long long rbt_now_ms(void);

#endif
