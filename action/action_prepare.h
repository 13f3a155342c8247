/* action_prepare.h: prepare mode (`prepare: true`): writes the data the workload's reads need
 * (rb_workload_prepare_needs) for the key numbers [prepare_first, prepare_first +
 * prepare_count), over one connection, pipelined in chunks:
 *
 *   strings  PREFIX:N    MSET of up to 1024 keys: key N's value (rb_workload_fill_value, the
 *                        first size of the value sizes: the fixed size, a range's minimum or
 *                        the list's first entry)
 *   hashes   PREFIX:h:N  DEL, then HSET of fields f0 .. f{structure_size-1} (field fI holds
 *                        the value of number I)
 *   lists    PREFIX:l:N  DEL, then RPUSH of structure_size elements (element I: value I)
 *   sets     PREFIX:s:N  DEL, then SADD of m0 .. m{structure_size-1}
 *   zsets    PREFIX:z:N  DEL, then ZADD of member mI with score I, I < structure_size
 *
 * Long structures are split into commands of at most 1024 elements or about 1 MiB of values;
 * replies are read every 128 commands or 8 MiB. Running it twice leaves the same data. */
#ifndef ACTION_PREPARE_H
#define ACTION_PREPARE_H

#include <stdint.h>

#include "action_params.h"
#include "action_result.h"

/* Prepares on host:port (AUTH with password when not empty), stopping at deadline_ms (epoch
 * ms, 0 = none). Fills r's prepared_* fields, connect_us, elapsed_us and, on failure, its
 * error table (one failure with the first error: a refused connection, WRONGTYPE, ...). */
void action_prepare_run(const struct action_params *p, const char *host, int port,
                        const char *password, int64_t deadline_ms, struct action_result *r);

#endif
