/* action_loop.h: OpenWhisk's ActionLoop protocol, for running under the ActionLoop proxy.
 *
 * The proxy starts this process once, writes each /run body as one line on stdin and reads
 * one JSON line back from file descriptor 3. The proxy writes the log sentinels itself, and
 * gives the child an environment holding only __OW_* variables and /init's env. */
#ifndef ACTION_LOOP_H
#define ACTION_LOOP_H

#include <stdio.h>

#include "action_protocol.h"

/* Serves activations from in until end of file, answering on out_fd (normally 3). When
 * ack is true, first writes {"ok":true} (OW_WAIT_FOR_ACK). Returns 0 at end of input, 1 when
 * out_fd cannot be written. */
int action_loop_serve(struct action_ctx *ctx, FILE *in, int out_fd, int ack);

#endif
