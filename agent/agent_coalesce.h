/* agent_coalesce.h: --coalesce, the planner that folds runs of plain SET into one MSET and
 * runs of GET into one MGET, and the splitter that hands each caller its part of the reply
 * (pure, no I/O).
 *
 * The exact rule. Commands are queued for an upstream connection in the order the agent read
 * them; every client's commands keep their own order in that queue. A run is a maximal
 * sequence of adjacent queued commands that are all `SET key value` (exactly three
 * arguments, no options) or all `GET key`, from any clients, cut at max_run commands and at
 * every flush. Any other command (including SET with options, a local reply, an error) ends
 * the run. A run of one is sent as it came; a longer run is sent as one MSET or MGET at the
 * run's position. Because nothing moves across anything else, each client's order holds and
 * a GET that follows the same client's SET of that key (in any later run or command) reads
 * the value written: MSET applies its pairs left to right, so the last SET of a key in a run
 * wins, as it would have one by one.
 *
 * Reply mapping. MSET +OK: every SET gets +OK. MGET array of n: caller i gets element i
 * ($len or $-1). An error reply goes to every caller. Known difference: GET on a key holding
 * a non-string value answers -WRONGTYPE, but inside an MGET it answers nil ($-1). */
#ifndef AGENT_COALESCE_H
#define AGENT_COALESCE_H

#include <stdbool.h>
#include <stddef.h>

#include "agent_buf.h"

enum agent_run_kind { AGENT_RUN_NONE, AGENT_RUN_SET, AGENT_RUN_GET };

/* An open run. args holds the encoded arguments ($len\r\nbytes\r\n...) of all its commands. */
struct agent_run {
  enum agent_run_kind kind;
  size_t n;
  struct agent_buf args;
};

void agent_run_init(struct agent_run *r);
void agent_run_deinit(struct agent_run *r);

/* The planner's rule: must the open run be sealed before a command of kind next is queued?
 * next is AGENT_RUN_NONE for any command that cannot join a run. True when the run is open
 * and next differs from its kind, or when the run already holds max_run commands. */
bool agent_run_needs_seal(const struct agent_run *r, enum agent_run_kind next, size_t max_run);

/* Adds one plain SET (val != NULL) or GET (val == NULL). The run must be empty or of the
 * same kind (the caller seals it first otherwise). Bytes are copied. False: out of memory. */
bool agent_run_add(struct agent_run *r, const char *key, size_t klen, const char *val, size_t vlen);

/* Writes the run as one command to out (SET/GET when n == 1, MSET/MGET otherwise) and
 * empties it. Returns false when memory ran out (the run is left intact). */
bool agent_run_seal(struct agent_run *r, struct agent_buf *out);

/* Appends a bulk string ($len\r\nbytes\r\n) to out. */
bool agent_put_bulk(struct agent_buf *out, const char *p, size_t n);
/* Appends a command's multibulk encoding (argc arguments) to out. */
bool agent_put_command(struct agent_buf *out, size_t argc, const char *const *argv,
                       const size_t *lens);

/* Splitting a coalesced reply. Initialise with the complete raw reply and the number of
 * callers n and whether it answers an MGET; then call next n times, each returning the
 * bytes caller i must receive (a slice of the reply, or a static text). */
struct agent_split {
  const char *reply;
  size_t len;
  size_t pos;
  size_t n;
  size_t i;
  bool mget;
  bool whole; /* every caller gets the whole reply (an error) */
  bool bad;   /* the reply does not fit the request */
};

void agent_split_init(struct agent_split *s, const char *reply, size_t len, size_t n, bool mget);
/* Sets *out_p and *out_n to caller i's reply (valid as long as the reply bytes are). Returns
 * false once all n were handed out. */
bool agent_split_next(struct agent_split *s, const char **out_p, size_t *out_n);

#endif
