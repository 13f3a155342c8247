/* fuzz_action_protocol.c: libFuzzer target for the action's /init and /run body handling
 * (JSON parsing, parameter validation, environment updates, result formatting). The Redis
 * executor is replaced by one that fills a result from the parsed parameters, so the fuzzer
 * exercises everything a client's bytes can reach before the network. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "action_protocol.h"

static void fake_run(void *ctx, const struct action_params *p, int64_t deadline_ms,
                     struct action_result *r) {
  (void)ctx;
  (void)deadline_ms;
  snprintf(r->target_address, sizeof r->target_address, "%s:%d", p->redis_host, p->redis_port);
  r->succeeded = (uint64_t)p->num_ops / 2;
  action_result_add_error(r, p->key_prefix, (uint64_t)p->num_ops - r->succeeded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct action_ctx ctx;
  static int ready;
  if (!ready) {
    action_ctx_init(&ctx, fake_run, NULL);
    ctx.allow_reinit = true;
    ready = 1;
  }
  struct action_response r = {0};
  /* The first byte picks the endpoint, the rest is the body. */
  if (size == 0) return 0;
  if (data[0] & 1) action_handle_init(&ctx, (const char *)data + 1, size - 1, &r);
  else action_handle_run(&ctx, (const char *)data + 1, size - 1, &r);
  if (r.body && strlen(r.body) != r.len) __builtin_trap();
  action_response_free(&r);
  return 0;
}
