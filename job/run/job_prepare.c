/* job_prepare.c: the prepare step (see job_prepare.h) and the per-invocation parameters. */
#define _GNU_SOURCE
#include "job_prepare.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_clock.h"
#include "rb_log.h"
#include "rb_workload.h"

size_t job_inv_params_tail(const struct job_inv *inv, char *out, size_t len) {
  int n = inv->prepare ? snprintf(out, len,
                                  "\"prepare\":true,\"prepare_first\":%lld,"
                                  "\"prepare_count\":%lld}",
                                  inv->prepare_first, inv->prepare_count)
                       : snprintf(out, len, "\"invocation\":%" PRIu64 "}", inv->rec.index);
  return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

void job_inv_free_body(struct job_inv *inv) {
  if (!inv->body) return;
  explicit_bzero(inv->body, inv->body_len);
  free(inv->body);
  inv->body = NULL;
  inv->body_len = 0;
}

long long job_prepare_keys_per_call(const struct rb_workload *w) {
  long long total = rb_workload_prepare_elements(w);
  long long per_key = w->key_space > 0 ? (total + w->key_space - 1) / w->key_space : 1;
  if (per_key < 1) per_key = 1;
  long long k = JOB_PREPARE_CHUNK_ELEMENTS / per_key;
  return k < 1 ? 1 : k;
}

struct prep {
  bool done;
  struct job_record rec; /* the answer of the call in flight */
};

static void on_prepared(void *arg, struct job_inv *inv) {
  struct prep *p = arg;
  job_record_deinit(&p->rec);
  p->rec = inv->rec; /* takes rec.action */
  inv->rec.action = NULL;
  job_inv_free_body(inv);
  free(inv);
  p->done = true;
}

static bool transport_failure(enum job_outcome o) {
  return o == JOB_ERR_TIMEOUT || o == JOB_ERR_CONNECT || o == JOB_ERR_TLS ||
         o == JOB_ERR_TRANSPORT || o == JOB_ERR_POLL_TIMEOUT || o == JOB_ERR_SERVER ||
         o == JOB_ERR_BAD_GATEWAY || o == JOB_ERR_THROTTLED;
}

/* One call for keys [first, first+count); waits for its answer. */
static enum job_exit prepare_call(struct job_target *t, struct job_http *http, struct prep *p,
                                  long long first, long long count, volatile sig_atomic_t *stop) {
  struct job_inv *inv = calloc(1, sizeof *inv);
  if (!inv) return JOB_EXIT_FAILURE;
  job_record_init(&inv->rec, 0);
  inv->prepare = true;
  inv->prepare_first = first;
  inv->prepare_count = count;
  inv->due_ns = inv->sent_ns = rb_clock_mono_ns();
  p->done = false;
  if (t->send(t, inv) != RB_OK) {
    job_record_set_error(&inv->rec, JOB_ERR_TRANSPORT, "cannot start the request");
    on_prepared(p, inv);
  }
  while (!p->done) {
    if (*stop) {
      if (t->abort) t->abort(t);
      job_http_abort_all(http);
      if (!p->done) { /* waiting on a timer (a 202 poll, an /init retry) */
        job_http_cancel_timers(http, inv);
        job_record_set_error(&inv->rec, JOB_ERR_ABORTED, "stopped while preparing");
        on_prepared(p, inv);
      }
      return JOB_EXIT_INTERRUPTED;
    }
    job_http_wait(http, rb_clock_mono_ns() + 100000000u);
  }
  return JOB_EXIT_OK;
}

enum job_exit job_prepare_run(struct job_target *t, struct job_http *http,
                              const struct job_params *params, const char *const *secrets,
                              volatile sig_atomic_t *stop, char *err, size_t errlen) {
  struct rb_workload w;
  char why[300];
  if (!params->prepare) return JOB_EXIT_OK;
  if (job_params_workload(params, &w, why, sizeof why) != RB_OK) {
    rb_errorf(RB_ERR_INVALID, err, errlen, "run %s: %s", params->name, why);
    return JOB_EXIT_CONFIG;
  }
  if (!rb_workload_prepare_needs(&w)) return JOB_EXIT_OK;
  long long per_call = job_prepare_keys_per_call(&w);
  long long calls = (w.key_space + per_call - 1) / per_call;
  rb_info("run %s: preparing %lld keys (%lld elements, %lld call%s of the action)", params->name,
          w.key_space, rb_workload_prepare_elements(&w), calls, calls == 1 ? "" : "s");
  job_inv_done_fn saved_done = t->on_done;
  void *saved_runner = t->runner;
  struct prep p = {0};
  job_record_init(&p.rec, 0);
  t->on_done = on_prepared;
  t->runner = &p;
  enum job_exit ex = JOB_EXIT_OK;
  uint64_t t0 = rb_clock_mono_ns(), said = t0;
  for (long long first = 0; first < w.key_space && ex == JOB_EXIT_OK; first += per_call) {
    long long count = w.key_space - first < per_call ? w.key_space - first : per_call;
    if (rb_clock_mono_ns() - said > 5000000000ull) { /* a long step says how far it is */
      said = rb_clock_mono_ns();
      rb_info("run %s: prepared %lld of %lld keys", params->name, first, w.key_space);
    }
    ex = prepare_call(t, http, &p, first, count, stop);
    if (ex == JOB_EXIT_INTERRUPTED) {
      rb_errorf(RB_ERR_STATE, err, errlen,
                "run %s: interrupted while preparing keys %lld to %lld: nothing measured, no "
                "results written",
                params->name, first, first + count - 1);
    } else if (ex != JOB_EXIT_OK) {
      rb_errorf(RB_ERR_NOMEM, err, errlen, "run %s: out of memory while preparing", params->name);
    } else if (p.rec.outcome != JOB_OK) {
      job_redact(p.rec.error, sizeof p.rec.error, secrets);
      ex = transport_failure(p.rec.outcome) ? JOB_EXIT_UNREACHABLE : JOB_EXIT_CONFIG;
      rb_errorf(RB_ERR_STATE, err, errlen,
                "run %s: preparing keys %lld to %lld (prepare: true) failed: %s: %s; nothing "
                "measured, no results written (prepare: false skips the step)",
                params->name, first, first + count - 1, job_outcome_name(p.rec.outcome),
                p.rec.error[0] ? p.rec.error : p.rec.status);
    } else if (!p.rec.action || !strstr(p.rec.action, "\"prepared\":")) {
      ex = JOB_EXIT_CONFIG;
      rb_errorf(RB_ERR_STATE, err, errlen,
                "run %s: the action answered the prepare call for keys %lld to %lld without "
                "\"prepared\": an rbench-action older than the prepare step? Deploy the current "
                "one, or set prepare: false",
                params->name, first, first + count - 1);
    }
  }
  job_record_deinit(&p.rec);
  t->on_done = saved_done;
  t->runner = saved_runner;
  if (ex == JOB_EXIT_OK) {
    rb_info("run %s: prepared %lld keys in %.1f s", params->name, w.key_space,
            (double)(rb_clock_mono_ns() - t0) / 1e9);
    if (t->settle) t->settle(t);
  }
  return ex;
}
