/* job_probe.c: one-connection checks of Redis and the batching agent (see job_probe.h). */
#define _GNU_SOURCE
#include "job_probe.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A connection with AUTH done, or NULL with *rc and msg set. */
static redisContext *probe_connect(const char *host, int port, const char *password,
                                   enum job_preflight *rc, char *msg, size_t msglen) {
  struct timeval tv = {3, 0};
  redisContext *c = redisConnectWithTimeout(host, port, tv);
  if (!c || c->err) {
    snprintf(msg, msglen, "cannot connect to %s:%d: %s", host, port,
             c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    *rc = JOB_PREFLIGHT_UNREACHABLE;
    return NULL;
  }
  redisSetTimeout(c, tv);
  if (!password || !*password) return c;
  redisReply *r = redisCommand(c, "AUTH %s", password);
  if (r && r->type != REDIS_REPLY_ERROR) {
    freeReplyObject(r);
    return c;
  }
  snprintf(msg, msglen, "%s:%d rejected the password (AUTH: %s)", host, port,
           r ? r->str : c->errstr);
  if (r) freeReplyObject(r);
  redisFree(c);
  *rc = JOB_PREFLIGHT_CONFIG;
  return NULL;
}

enum job_preflight job_probe_redis(const char *host, int port, const char *password, char *msg,
                                   size_t msglen) {
  return job_probe_command(host, port, password, "PING", msg, msglen);
}

enum job_preflight job_probe_command(const char *host, int port, const char *password,
                                     const char *command, char *msg, size_t msglen) {
  enum job_preflight rc = JOB_PREFLIGHT_OK;
  redisContext *c = probe_connect(host, port, password, &rc, msg, msglen);
  if (!c) return rc;
  redisReply *r = redisCommand(c, command);
  if (!r || r->type == REDIS_REPLY_ERROR) {
    snprintf(msg, msglen, "%s:%d did not answer %s (%s)", host, port, command,
             r ? r->str : c->errstr);
    rc = r ? JOB_PREFLIGHT_CONFIG : JOB_PREFLIGHT_UNREACHABLE;
  } else {
    snprintf(msg, msglen, "%s:%d answered %s", host, port, command);
  }
  if (r) freeReplyObject(r);
  redisFree(c);
  return rc;
}

enum job_preflight job_probe_proxy(const char *host, int port, const char *password,
                                   const char *redis_host, int redis_port, char *msg,
                                   size_t msglen) {
  enum job_preflight rc = JOB_PREFLIGHT_OK;
  redisContext *c = probe_connect(host, port, password, &rc, msg, msglen);
  if (!c) return rc;
  redisReply *r = redisCommand(c, "CLIENT ID");
  if (r && r->type == REDIS_REPLY_INTEGER) {
    bool same = port == redis_port && !strcmp(host, redis_host);
    snprintf(msg, msglen,
             "%s:%d answered CLIENT ID with this connection's id (%lld), as a Redis server does: "
             "it is %s, not a proxy in front of Redis, so batched runs would bypass the agent",
             host, port, r->integer, same ? "REDIS_HOST:REDIS_PORT itself" : "a Redis server");
    rc = JOB_PREFLIGHT_CONFIG;
  } else {
    snprintf(msg, msglen, "%s:%d refused CLIENT ID (%s): a proxy sharing its Redis connections",
             host, port, r && r->type == REDIS_REPLY_ERROR ? r->str : "closed the connection");
  }
  if (r) freeReplyObject(r);
  redisFree(c);
  return rc;
}
