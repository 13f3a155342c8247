/* fuzz_agent_req.c: libFuzzer target for the request parser and the command table.
 *
 * The first byte picks how the input is cut into reads and which limits apply; the rest is
 * fed read by read into a buffer sized exactly to the bytes received, as the agent does.
 * Every complete command is checked (argument slices inside the command) and passed to
 * agent_cmd_answer, so the local answers and refusals see hostile arguments too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_buf.h"
#include "agent_cmd.h"
#include "agent_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_command(const struct agent_req *r, const char *buf, size_t used, uint8_t mode) {
  for (size_t i = 0; i < r->argc; i++)
    if (r->argv[i].off > used || r->argv[i].len > used - r->argv[i].off) abort();
  if (r->argc == 0) return;
  struct agent_session s = {.authed = (mode & 4) != 0};
  struct agent_cmd_args a = {buf, r->argv, r->argc};
  const struct agent_cmd_info *info = NULL;
  struct agent_buf out;
  agent_buf_init(&out);
  bool local = agent_cmd_answer(&a, (mode & 8) ? "pw" : NULL, &s, &info, &out);
  if (!local && (!info || info->kind != AGENT_CMD_PASS)) abort();
  if (local && out.len == 0) abort();
  agent_buf_deinit(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  struct agent_req_limits lim = agent_req_default_limits();
  if (mode & 1) {
    lim.max_args = 4;
    lim.max_bulk = 16;
    lim.max_request = 64;
  }
  size_t chunk = (mode >> 4) + 1; /* 1..16 bytes per read */
  struct agent_req r;
  agent_req_init(&r, &lim);
  char *buf = NULL;
  size_t have = 0, fed = 0;
  bool failed = false;
  while (fed < size && !failed) {
    size_t add = (mode & 2) ? size - fed : (size - fed < chunk ? size - fed : chunk);
    char *b = malloc(have + add);
    if (!b) break;
    if (have) memcpy(b, buf, have);
    memcpy(b + have, data + fed, add);
    free(buf);
    buf = b;
    have += add;
    fed += add;
    for (;;) {
      size_t used = 0;
      enum agent_req_status st = agent_req_parse(&r, buf, have, &used);
      if (st == AGENT_REQ_AGAIN) break;
      if (st == AGENT_REQ_ERROR) {
        failed = true;
        break;
      }
      if (used == 0 || used > have) abort();
      check_command(&r, buf, used, mode);
      memmove(buf, buf + used, have - used);
      have -= used;
    }
    if (!failed && have > lim.max_request + 64) abort(); /* the buffered-bytes limit holds */
  }
  free(buf);
  agent_req_deinit(&r);
  return 0;
}
