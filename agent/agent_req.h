/* agent_req.h: incremental, zero-copy parser for RESP2 client requests (pure, no I/O).
 *
 * Accepts multibulk commands (*N\r\n$L\r\n...\r\n) and inline commands (words separated by
 * blanks, ended by \n or \r\n, with "double" and 'single' quotes as redis-cli and Redis
 * understand them). Hard limits bound every allocation and every buffered byte, so an
 * untrusted client can neither exhaust memory nor make the parser rescan its input.
 *
 * Contract (the picohttpparser shape):
 *   buf always starts at the first byte of the current command; after AGENT_REQ_CMD the caller
 *   drops *out_used bytes and calls again with the rest. Between calls the caller may move
 *   the bytes (realloc, compaction) and append more; the parser keeps only offsets.
 *   AGENT_REQ_CMD    a command is complete: argc/argv describe it, offsets into buf (valid
 *                    until buf changes). argc == 0 means an empty command (blank inline
 *                    line, *0): skip it.
 *   AGENT_REQ_AGAIN  need more bytes; nothing to drop.
 *   AGENT_REQ_ERROR  protocol error or limit broken; errstr says which (never quotes the
 *                    input). The parser stays in error until agent_req_reset.
 * Inline commands are unescaped in place, which is why buf is not const. */
#ifndef AGENT_REQ_H
#define AGENT_REQ_H

#include <stdbool.h>
#include <stddef.h>

struct agent_req_limits {
  size_t max_args;    /* elements in one command (Redis: 1024*1024) */
  size_t max_bulk;    /* bytes in one argument */
  size_t max_request; /* bytes one command may occupy while buffered (also inline lines) */
};

/* One argument: argv[i] is buf[off .. off+len). */
struct agent_req_arg {
  size_t off;
  size_t len;
};

enum agent_req_status { AGENT_REQ_CMD, AGENT_REQ_AGAIN, AGENT_REQ_ERROR };

struct agent_req {
  struct agent_req_limits lim;
  /* The parsed command (valid after AGENT_REQ_CMD). argv is owned by the parser. */
  size_t argc;
  struct agent_req_arg *argv;
  bool is_inline;
  char errstr[96];
  /* private parser state */
  int _state;
  size_t _pos;   /* bytes of the current command already parsed */
  size_t _nargs; /* multibulk: expected element count */
  size_t _bulk;  /* multibulk: length of the argument being read */
  size_t _cap;   /* capacity of argv */
};

/* Default limits: 1M args, 512 MiB bulk, 128 MiB per request: the largest command a workload
 * sends, an MSET of 100 keys (RB_KEYS_PER_COMMAND_MAX) with 1 MiB values (RB_VALUE_SIZE_MAX),
 * is about 100 MiB and must pass as it passes to Redis directly. */
struct agent_req_limits agent_req_default_limits(void);

void agent_req_init(struct agent_req *r, const struct agent_req_limits *lim);
/* Frees argv. NULL-safe. */
void agent_req_deinit(struct agent_req *r);
/* Forgets a partial command and a sticky error. */
void agent_req_reset(struct agent_req *r);

/* Parses the command at the start of buf (len bytes); see the contract above. */
enum agent_req_status agent_req_parse(struct agent_req *r, char *buf, size_t len, size_t *out_used);

#endif
