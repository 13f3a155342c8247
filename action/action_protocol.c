/* action_protocol.c: /init and /run semantics of an OpenWhisk action, transport-free. */
#define _DEFAULT_SOURCE
#include "action_protocol.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_clock.h"
#include "rb_env.h"
#include "rb_json.h"
#include "rb_log.h"

void action_ctx_init(struct action_ctx *ctx, action_run_fn run, void *run_ctx) {
  memset(ctx, 0, sizeof *ctx);
  pthread_mutex_init(&ctx->lock, NULL);
  ctx->run = run;
  ctx->run_ctx = run_ctx;
}

void action_ctx_deinit(struct action_ctx *ctx) { pthread_mutex_destroy(&ctx->lock); }

static void set_body(struct action_response *out, int status, cJSON *obj) {
  out->status = status;
  out->body = obj ? rb_json_print(obj) : NULL;
  if (!out->body) {
    /* Allocation failed: answer something valid without allocating. */
    static const char oom[] = "{\"error\":\"out of memory\"}";
    out->body = malloc(sizeof oom);
    if (out->body) memcpy(out->body, oom, sizeof oom);
    out->status = 500;
  }
  out->len = out->body ? strlen(out->body) : 0;
}

void action_response_error(struct action_response *out, int status, const char *message) {
  cJSON *o = cJSON_CreateObject();
  if (o) cJSON_AddStringToObject(o, "error", message);
  set_body(out, status, o);
  cJSON_Delete(o);
}

void action_response_free(struct action_response *r) {
  free(r->body);
  r->body = NULL;
  r->len = 0;
}

/* Applies a JSON value to name: strings as they are, anything else as compact JSON. */
static void set_env_value(const char *name, const cJSON *v) {
  bool ok;
  if (cJSON_IsString(v)) {
    ok = rb_env_set(name, v->valuestring);
  } else {
    char *text = rb_json_print(v);
    ok = text && rb_env_set(name, text);
    free(text);
  }
  /* Once: a client inventing keys would otherwise fill the log too. The name, not the value
   * (a value may be a key or a password). */
  static atomic_bool warned;
  if (!ok && !atomic_exchange(&warned, true))
    rb_warn(
        "cannot set %.64s in the environment (more than %d names, or out of memory); "
        "further such variables are skipped without a warning",
        name, RB_ENV_MAX_NAMES);
}

static void apply_init_env(const cJSON *env) {
  const cJSON *item;
  cJSON_ArrayForEach(item, env) {
    if (item->string && *item->string) set_env_value(item->string, item);
  }
}

/* Parses a request body; on failure answers 400 with the parser's message and returns NULL. */
static cJSON *parse_body(const char *body, size_t len, struct action_response *out) {
  char err[256];
  cJSON *root = NULL;
  if (rb_json_parse(body, len, &root, err, sizeof err) != RB_OK)
    action_response_error(out, 400, err);
  return root;
}

void action_handle_init(struct action_ctx *ctx, const char *body, size_t len,
                        struct action_response *out) {
  cJSON *root = parse_body(body, len, out);
  if (!root) return;
  const cJSON *value = cJSON_GetObjectItemCaseSensitive(root, "value");
  const cJSON *env = value ? cJSON_GetObjectItemCaseSensitive(value, "env") : NULL;
  if (!cJSON_IsObject(root) || (value && !cJSON_IsObject(value)) || (env && !cJSON_IsObject(env))) {
    cJSON_Delete(root);
    action_response_error(out, 400,
                          "/init body must be {\"value\":{...}} with value.env an object");
    return;
  }
  pthread_mutex_lock(&ctx->lock);
  bool again = ctx->initialized && !ctx->allow_reinit;
  if (!again) {
    if (env) apply_init_env(env);
    ctx->initialized = true;
  }
  pthread_mutex_unlock(&ctx->lock);
  cJSON_Delete(root);
  if (again) {
    action_response_error(out, 403, ACTION_INIT_TWICE_ERROR);
    return;
  }
  cJSON *ok = cJSON_CreateObject();
  if (ok) cJSON_AddTrueToObject(ok, "ok");
  set_body(out, 200, ok);
  cJSON_Delete(ok);
}

/* Sets __OW_<KEY> for every non-value key; returns the deadline (epoch ms) or 0. */
static int64_t apply_run_context(const cJSON *root) {
  int64_t deadline = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, root) {
    if (!item->string || strcmp(item->string, "value") == 0) continue;
    char name[96] = "__OW_";
    size_t n = 5;
    for (const char *c = item->string; *c && n < sizeof name - 1; c++) {
      char ch = *c;
      if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
      name[n++] = ch;
    }
    name[n] = '\0';
    set_env_value(name, item);
    if (strcmp(item->string, "deadline") == 0) {
      long long d = 0;
      if (rb_json_get_int(item, "deadline", 1, INT64_MAX / 2, &d, NULL, 0) == RB_OK) deadline = d;
    }
  }
  return deadline;
}

static bool env_lookup(const char *name, char *buf, size_t len) {
  return rb_env_get(name, buf, len);
}

void action_handle_run(struct action_ctx *ctx, const char *body, size_t len,
                       struct action_response *out) {
  char err[512];
  cJSON *root = parse_body(body, len, out);
  if (!root) return;
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    action_response_error(out, 400, "/run body must be a JSON object {\"value\":{...}}");
    return;
  }
  int64_t deadline = apply_run_context(root);
  const cJSON *value = cJSON_GetObjectItemCaseSensitive(root, "value");
  if (cJSON_IsNull(value)) value = NULL;
  struct action_params params;
  if (action_params_parse(value, env_lookup, &params, err, sizeof err) != RB_OK) {
    cJSON_Delete(root);
    rb_info("activation rejected: %s", err);
    action_response_error(out, 200, err);
    return;
  }
  struct action_result result;
  memset(&result, 0, sizeof result);
  pthread_mutex_lock(&ctx->lock);
  result.cold = !ctx->served_run;
  ctx->served_run = true;
  pthread_mutex_unlock(&ctx->lock);
  result.start_ms = rb_clock_wall_ms();
  ctx->run(ctx->run_ctx, &params, deadline, &result);
  result.end_ms = rb_clock_wall_ms();
  cJSON *obj = action_result_to_json(&params, &result);
  action_result_free(&result);
  const cJSON *aid = cJSON_GetObjectItemCaseSensitive(root, "activation_id");
  if (obj && cJSON_IsString(aid)) cJSON_AddStringToObject(obj, "activation_id", aid->valuestring);
  set_body(out, 200, obj);
  cJSON_Delete(obj);
  cJSON_Delete(root);
  explicit_bzero(&params, sizeof params); /* scrub passwords from the stack */
}
