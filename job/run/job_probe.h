/* job_probe.h: one-connection checks of Redis and of the batching agent, shared by the
 * runner's preflight (job_local.c) and `rbench doctor`.
 *
 * Each opens its own hiredis connection (3 s timeouts), sends AUTH first when a password is
 * given, and closes it. Messages name host:port and never contain the password. */
#ifndef JOB_PROBE_H
#define JOB_PROBE_H

#include <stddef.h>

/* Exit-code-relevant preflight failures. */
enum job_preflight {
  JOB_PREFLIGHT_OK,
  JOB_PREFLIGHT_CONFIG,
  JOB_PREFLIGHT_UNREACHABLE,
  JOB_PREFLIGHT_INTERRUPTED /* a signal while waiting for the action */
};

/* Connect, AUTH when password is non-empty, PING. Returns JOB_PREFLIGHT_OK, _UNREACHABLE
 * (connect failed) or _CONFIG (AUTH or PING refused). */
enum job_preflight job_probe_redis(const char *host, int port, const char *password, char *msg,
                                   size_t msglen);

/* The same with another command (no arguments from untrusted input: it is a format string).
 * doctor sends "EXISTS rbench:doctor" through the agent: the agent answers PING itself, an
 * EXISTS only once it reached Redis. */
enum job_preflight job_probe_command(const char *host, int port, const char *password,
                                     const char *command, char *msg, size_t msglen);

/* Whether host:port (the batching agent's address) is a proxy in front of Redis rather than
 * a Redis server. It sends CLIENT ID: a Redis server answers every connection with that
 * connection's own id (an integer); a proxy that shares its Redis connections among its
 * clients cannot, and refuses it (rbench-agent answers an error, nutcracker closes the
 * connection). OK: refused, a proxy. CONFIG: an integer came back, it is a Redis server
 * (msg says so, and whether it is redis_host:redis_port itself). UNREACHABLE: no connection.
 * A Redis server whose CLIENT command is renamed or denied by its ACL passes for a proxy. */
enum job_preflight job_probe_proxy(const char *host, int port, const char *password,
                                   const char *redis_host, int redis_port, char *msg,
                                   size_t msglen);

#endif
