/* job_target.h: what a target (openwhisk, local) offers the runner.
 *
 * The runner creates a job_inv per invocation (index, due and send times set), hands it to
 * target->send, and the target calls target->on_done(runner, inv) exactly once when the
 * invocation finished (success or error), with inv->rec filled. on_done takes ownership. */
#ifndef JOB_TARGET_H
#define JOB_TARGET_H

#include <signal.h>
#include <stdint.h>

#include "job_config.h"
#include "job_http.h"
#include "job_params.h"
#include "job_probe.h"
#include "job_record.h"
#include "job_scenario.h"

struct job_target;

struct job_inv {
  struct job_record rec;
  uint64_t due_ns, sent_ns, end_ns; /* monotonic */
  uint64_t phase_ns;                /* target use: start of the current step */
  uint64_t deadline_ns;             /* target use: give up after this */
  void *worker;                     /* target use */
  int attempts;                     /* target use: retries of a failed start */
  struct job_inv *queue_next;       /* target use: waiting for a free worker */
  struct job_target *target;
  struct job_inv *live_prev, *live_next; /* runner use: invocations in flight */
  /* A prepare call (job_prepare.h), not an invocation of the schedule: the target sends the
   * run's parameters with "prepare": true, "prepare_first" and "prepare_count" instead of
   * "invocation" (rec.index otherwise). */
  bool prepare;
  long long prepare_first, prepare_count;
  char *body; /* target use: this invocation's request body (holds secrets); wiped and freed
                 by job_inv_free_body, which the runner calls with the invocation */
  size_t body_len;
};

/* The per-invocation end of the /run parameters, appended to the run's parameters (a printed
 * JSON object without its closing brace): `"invocation":K}` (K = rec.index, the invocation's
 * index in the unsharded run), or for a prepare call `"prepare":true,"prepare_first":F,
 * "prepare_count":C}`. Returns the length written (out holds at least 96 bytes). */
size_t job_inv_params_tail(const struct job_inv *inv, char *out, size_t len);
#define JOB_INV_TAIL_MAX 96

/* Wipes (it may hold secrets) and frees inv->body. */
void job_inv_free_body(struct job_inv *inv);

typedef void (*job_inv_done_fn)(void *runner, struct job_inv *inv);

/* The CPU of the action processes a target started (local: its rbench-action workers). */
struct job_target_cpu {
  double cpu_s;               /* user + system seconds of every one, ever (reaped ones too) */
  unsigned long long started; /* processes started so far */
  unsigned long long live;    /* running now */
};

struct job_target {
  const char *kind;
  char action_label[600]; /* what the results call the action */
  enum rb_err (*send)(struct job_target *t, struct job_inv *inv);
  void (*destroy)(struct job_target *t); /* stops what it started; frees t */
  /* Finishes (as aborted) invocations the target holds outside HTTP transfers and timers
   * (e.g. queued for a worker). May be NULL. */
  void (*abort)(struct job_target *t);
  /* The schedule stopped (SIGINT, SIGTERM): from now on start nothing new (no process, no
   * queued invocation); those waiting for a worker finish as aborted. What is in flight goes
   * on to the end of the drain. May be NULL. */
  void (*stop)(struct job_target *t);
  /* After the prepare step (job_prepare.h): puts the target back as it was before it (local:
   * stops the idle workers, so the schedule starts as a run without a prepare step). May be
   * NULL. */
  void (*settle)(struct job_target *t);
  /* The action processes' CPU so far (job_target_cpu); the runner takes it before and after
   * the measured window. NULL: not known (openwhisk: the containers are not ours). */
  bool (*cpu)(struct job_target *t, struct job_target_cpu *out);
  struct job_http *http; /* borrowed */
  /* Fields the target adds at the results document's top level (an object, or NULL; owned,
   * freed by destroy): openwhisk's "action_concurrency_limit" when it set the action's
   * limit. */
  cJSON *doc_fields;
  /* Brings doc_fields up to date; the runner calls it once, after the schedule, before it
   * reads them (local: action_runtime with its starts' times). May be NULL. */
  void (*fields)(struct job_target *t);
  job_inv_done_fn on_done;
  void *runner;
};

/* Creates the openwhisk target. Checks the action with one GET first: a refused connection,
 * DNS or TLS failure is UNREACHABLE; 401/403/404 or a missing key is CONFIG (err says what to
 * fix). With action_concurrency set explicitly (job_params_is_set), then makes the action's
 * limits.concurrency that value (GET, and PUT ?overwrite=true when it differs; the
 * controller's refusal, e.g. above its maximum, is CONFIG naming the action, the value and
 * the answer) and records it in doc_fields. Returns NULL with *pf and err set on failure. */
struct job_target *job_ow_create(struct job_http *http, const struct job_target_conf *tc,
                                 const struct job_config *cfg, const struct job_params *p,
                                 enum job_preflight *pf, char *err, size_t errlen);

/* Creates the local target: a pool of rbench-action processes (or, with action_runtime
 * container, containers of action_image: job_container.h) on loopback. Checks that the
 * binary exists (CONFIG) and that Redis (or the agent with batching) answers PING
 * (UNREACHABLE; a rejected password is CONFIG); with batching, that the agent's address is a
 * proxy and not a Redis server (job_probe_proxy; CONFIG). self_exe locates rbench-action.
 * Containers: refused (CONFIG) without root, runc, skopeo or umoci; the image is pulled and
 * unpacked here (its failure CONFIG, *stop set meanwhile INTERRUPTED). */
struct job_target *job_local_create(struct job_http *http, const struct job_target_conf *tc,
                                    const struct job_config *cfg, const struct job_params *p,
                                    const char *self_exe, volatile sig_atomic_t *stop,
                                    enum job_preflight *pf, char *err, size_t errlen);

/* doctor: the same check as job_ow_create's (host reachable, key accepted, action exists). */
enum job_preflight job_ow_check(const struct job_config *cfg, const char *action, bool insecure,
                                char *msg, size_t msglen);

/* --wait-for-action: GETs the action (?code=false: its metadata only) every 2 s while the
 * controller answers 404, gets no answer or answers 5xx (the action not created yet, the
 * controller still starting), for up to secs seconds. One log line when the wait starts, one
 * when the action appears. OK: it exists. CONFIG: a missing host or key, a rejected key
 * (401/403, at once), or still 404 at the end; UNREACHABLE: a certificate problem (at once),
 * or no answer at the end; INTERRUPTED: *stop became non-zero. err names the action, the
 * seconds waited and the fix; never the key. */
enum job_preflight job_ow_wait_for_action(const struct job_config *cfg, const char *action,
                                          bool insecure, double secs, volatile sig_atomic_t *stop,
                                          char *err, size_t errlen);

/* Finds rbench-action for the local target (override, else beside self_exe). */
bool job_local_find_action(const char *self_exe, const char *override, char *out, size_t len);

#endif
