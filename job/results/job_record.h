/* job_record.h: what rbench records for one invocation (the record model), how target replies
 * become records (pure parsers over the reply bytes, with the in-place scanner of
 * job_json_scan.h), and the record's JSON form (one raw_results entry, written with
 * job_json_write.h). Secrets are masked by job_redact.h.
 *
 * Times are microseconds from the run's start (the due time of invocation 0):
 *   intended = due time, sent = actual send, end = reply complete.
 * execution time = end - intended (coordinated omission corrected, the headline latency);
 * service time = end - sent; schedule lag = sent - intended. */
#ifndef JOB_RECORD_H
#define JOB_RECORD_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "job_json_write.h" /* job_json_write_string, for the record's users */
#include "job_redact.h"     /* job_redact: every kept error message passes through it */

#define JOB_OUTCOMES(X)                                                          \
  X(JOB_OK, "success")                                                           \
  X(JOB_ERR_APPLICATION, "application_error") /* the action answered {error} */  \
  X(JOB_ERR_DEVELOPER, "developer_error")     /* the action failed or crashed */ \
  X(JOB_ERR_INTERNAL, "whisk_internal_error")                                    \
  X(JOB_ERR_THROTTLED, "http_429")                                               \
  X(JOB_ERR_BAD_GATEWAY, "http_502") /* 502 without an activation record */      \
  X(JOB_ERR_SERVER, "http_5xx")                                                  \
  X(JOB_ERR_CLIENT, "http_4xx")                                                  \
  X(JOB_ERR_TIMEOUT, "timeout")                                                  \
  X(JOB_ERR_CONNECT, "connect")                                                  \
  X(JOB_ERR_TLS, "tls")                                                          \
  X(JOB_ERR_TRANSPORT, "transport")                                              \
  X(JOB_ERR_POLL_TIMEOUT, "poll_timeout") /* 202, then no record in time */      \
  X(JOB_ERR_PROTOCOL, "protocol")         /* a reply we could not read */        \
  X(JOB_ERR_ABORTED, "aborted")           /* in flight when the run stopped */

enum job_outcome {
#define JOB_OUTCOME_ENUM(name, text) name,
  JOB_OUTCOMES(JOB_OUTCOME_ENUM)
#undef JOB_OUTCOME_ENUM
      JOB_OUTCOME_COUNT
};

const char *job_outcome_name(enum job_outcome o);

#define JOB_ERROR_MAX 300

struct job_record {
  uint64_t index;
  bool warmup; /* sent during the warm-up: kept out of the statistics */
  int64_t intended_us, sent_us, end_us;
  int http_status; /* 0 when no HTTP answer */
  enum job_outcome outcome;
  char status[32]; /* the activation's response.status, e.g. "success" */
  char activation_id[48];
  bool cold_start;                      /* initTime present (openwhisk) or /init sent (local) */
  double wait_ms, init_ms, duration_ms; /* the platform's times; < 0 when unknown */
  int polls;                            /* GETs after a 202 */
  char *action;             /* owned: the action's own timings (succeeded, failed, elapsed_us,
                               connect_us, ops_per_sec, latency_us, cold, warm, start_ms,
                               end_ms, connections_new, op_stats, invocation, seed, draw_digest,
                               prepared) as one compact JSON object; may be NULL */
  double action_elapsed_us; /* the action's elapsed_us; < 0 when unknown */
  double action_ops;        /* the action's succeeded + failed; < 0 when unknown */
  double action_conns_new;  /* Redis (or agent) connections the action opened; < 0 unknown */
  char error[JOB_ERROR_MAX];
};

/* Zeroes r and marks the platform times unknown. */
void job_record_init(struct job_record *r, uint64_t index);
/* Frees r->action. */
void job_record_deinit(struct job_record *r);

/* Fills r from an OpenWhisk activation record (body of a 200/502, or of GET
 * /activations/{id}): activationId, duration, annotations waitTime/initTime, response.status
 * and response.result. Sets outcome from response.status. Returns false when the body is not
 * an activation record (r->error says why).
 *
 * It runs once per invocation, so it reads the record in place, without building a JSON tree
 * (the kept action fields are copied as text, whitespace removed); any record it does not
 * take in that way (escaped keys, a non-string error, malformed JSON, ...) goes through the
 * full cJSON parse, which has the last word. */
bool job_record_from_activation(struct job_record *r, const char *body, size_t len);

/* The same reading through a full cJSON parse (what job_record_from_activation falls back
 * to; tests compare the two). */
bool job_record_from_activation_tree(struct job_record *r, const char *body, size_t len);

/* Fills r from the JSON an action returns from /run (local target): success unless the
 * object has "error" (application error); not an object: developer error. */
bool job_record_from_action_result(struct job_record *r, const char *body, size_t len);

/* Copies the action's own timing fields of its result object into r->action (as text) and
 * r->action_elapsed_us. */
void job_record_take_action_fields(struct job_record *r, cJSON *result);

/* Sets r->error to msg (truncated). */
void job_record_set_error(struct job_record *r, enum job_outcome o, const char *msg);

/* Writes the raw_results entry as one line of compact JSON (no newline). Hand-formatted
 * (no cJSON, no printf but for unusual times) into one buffer: it runs once per invocation
 * on the runner's hot path. */
size_t job_record_write(FILE *f, const struct job_record *r); /* returns the bytes written */

#endif
