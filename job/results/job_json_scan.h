/* job_json_scan.h: a validating JSON scanner over bytes in place (the runner's hot path reads
 * activation records with it, job_record.c): it walks the structure (strings, numbers,
 * literals, nesting) and hands back spans; nothing is allocated. It takes plain input only:
 * anything unusual (escaped keys, nesting deeper than JOB_JSON_SCAN_MAX_DEPTH, malformed
 * JSON) makes it give up, and the caller parses the tree with cJSON instead. This module owns
 * no data: spans point into the caller's bytes. */
#ifndef JOB_JSON_SCAN_H
#define JOB_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "rb_json.h"

/* The bytes left to scan: [p, e). */
struct job_json_scan {
  const char *p, *e;
};

struct job_json_span {
  const char *p;
  size_t n;
};

/* A value read in place: its kind and bytes. */
enum job_json_vkind {
  JOB_JSON_V_NONE,
  JOB_JSON_V_STRING,
  JOB_JSON_V_PLAIN_STRING,
  JOB_JSON_V_NUMBER,
  JOB_JSON_V_OTHER
};
struct job_json_val {
  enum job_json_vkind kind;  /* JOB_JSON_V_NONE: absent; JOB_JSON_V_STRING has escapes,
                                JOB_JSON_V_PLAIN_STRING none */
  struct job_json_span text; /* the whole value (strings with their quotes) */
};

#define JOB_JSON_SCAN_MAX_DEPTH (RB_JSON_MAX_DEPTH - 8) /* deeper: leave it to the tree parse */

/* Skips whitespace. */
void job_json_scan_ws(struct job_json_scan *s);
/* Skips the string at s->p; *escaped set when it holds escapes. false: malformed. */
bool job_json_scan_string(struct job_json_scan *s, bool *escaped);
/* Skips one value (s->p at its first byte) nested depth deep. */
bool job_json_scan_value(struct job_json_scan *s, int depth);
/* Inside an object (after '{'): 1 with the next key read and s->p at its value, 0 after the
 * closing '}', -1 when malformed or the key has escapes. */
int job_json_obj_next(struct job_json_scan *s, bool *first, struct job_json_span *key);
/* Inside an array (after '['): 1 with s->p at the next element, 0 after ']', -1 malformed. */
int job_json_arr_next(struct job_json_scan *s, bool *first);
/* Whether the key span is name. */
bool job_json_key_is(const struct job_json_span *k, const char *name);
/* Reads the value at s->p into v (its kind and bytes). */
bool job_json_read_val(struct job_json_scan *s, struct job_json_val *v);
/* Reads the value only when v has none yet (the first occurrence of a key, as cJSON's lookups
 * take), else skips it. */
bool job_json_read_first(struct job_json_scan *s, struct job_json_val *v);
/* A number value as cJSON would read it; dflt when v is not a number. */
double job_json_val_number(const struct job_json_val *v, double dflt);
/* Copies a plain string's characters (truncated) to out. */
void job_json_val_string(const struct job_json_val *v, char *out, size_t outlen);

#endif
