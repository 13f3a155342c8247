/* agent_cmd.h: the command table (which commands pass to Redis, which the agent answers
 * itself, which it refuses) and the local answers (pure, no I/O).
 *
 * Refused commands get "-ERR rbench-agent does not support 'NAME': reason" and the client's
 * connection stays open. Commands missing from the table get "-ERR unknown or unsupported
 * command 'NAME'"; a proxy that shares one Redis connection among many clients cannot pass
 * commands whose effect on the connection it does not know. */
#ifndef AGENT_CMD_H
#define AGENT_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "agent_buf.h"
#include "agent_req.h"

enum agent_cmd_kind {
  AGENT_CMD_PASS,   /* forwarded to Redis unchanged */
  AGENT_CMD_LOCAL,  /* answered by the agent */
  AGENT_CMD_REJECT, /* refused with -ERR naming the command; the connection stays open */
};

enum agent_cmd_id {
  AGENT_CMD_OTHER,
  AGENT_CMD_GET,
  AGENT_CMD_SET,
  AGENT_CMD_PING,
  AGENT_CMD_ECHO,
  AGENT_CMD_AUTH,
  AGENT_CMD_QUIT,
  AGENT_CMD_HELLO,
  AGENT_CMD_XREAD, /* passes unless it has a BLOCK option */
};

struct agent_cmd_info {
  const char *name; /* upper case */
  enum agent_cmd_kind kind;
  enum agent_cmd_id id;
  const char *why; /* for AGENT_CMD_REJECT */
};

/* Looks a command name up case-insensitively. Returns a static entry or NULL (unknown). */
const struct agent_cmd_info *agent_cmd_lookup(const char *name, size_t len);
/* Number of entries and entry i (for docs and tests). */
size_t agent_cmd_count(void);
const struct agent_cmd_info *agent_cmd_at(size_t i);

/* Per-client state the local commands read and change. */
struct agent_session {
  bool authed; /* true when no client password is configured */
  bool quit;   /* QUIT was answered: close after the reply is written */
  unsigned long long id;
};

/* The parsed command as the local handlers see it: argv[i] = base[off .. off+len). */
struct agent_cmd_args {
  const char *base;
  const struct agent_req_arg *argv;
  size_t argc;
};

/* Decides what happens to one command. Appends a complete reply to out and returns true
 * when the agent answers it itself (local command, refusal, unknown command, NOAUTH, wrong
 * password); returns false when the command must go to Redis (info tells which one).
 * password is the client password (NULL: none); it is compared in constant time and never
 * copied into a reply. Returns true with out unchanged only when memory ran out (the caller
 * then closes the client). */
bool agent_cmd_answer(const struct agent_cmd_args *a, const char *password, struct agent_session *s,
                      const struct agent_cmd_info **out_info, struct agent_buf *out);

/* Appends "-ERR <msg>\r\n" with CR/LF in msg replaced by blanks. */
bool agent_cmd_error(struct agent_buf *out, const char *msg);
/* Appends a bulk string reply. */
bool agent_cmd_bulk(struct agent_buf *out, const char *p, size_t n);

#endif
