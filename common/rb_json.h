/* rb_json.h: helpers over cJSON for reading loosely-typed parameters and writing results.
 *
 * OpenWhisk's `wsk -p KEY VALUE` sends VALUE as JSON when it parses and as a string
 * otherwise, so a parameter can arrive as 10 or "10", true or "true": the getters here
 * accept both forms and name the parameter, the allowed range and what was given when
 * a value is wrong. */
#ifndef RB_JSON_H
#define RB_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "rb_error.h"

/* Deepest nesting of arrays and objects rb_json_parse accepts. cJSON recurses once per level,
 * and rbench parses on threads with small stacks (civetweb workers have 100 KB), so input
 * nested deeper is refused before cJSON sees it. */
#define RB_JSON_MAX_DEPTH 64

/* Parses len bytes (need not be NUL-terminated). On success *out owns the tree (free with
 * cJSON_Delete). On failure writes "malformed JSON at byte N" to err. The message never
 * quotes the input, which may hold secrets. */
enum rb_err rb_json_parse(const char *buf, size_t len, cJSON **out, char *err, size_t errlen);

/* Writes a short, printable description of a JSON value into buf (e.g. `"abc"`, `12.5`,
 * `an object`), truncated with "..." past about 40 characters. */
void rb_json_describe(const cJSON *item, char *buf, size_t len);

/* Reads an integer in [min, max] from a JSON number (integral) or a string holding a decimal
 * integer. item NULL leaves *out untouched and returns RB_OK (the caller's default stands). */
enum rb_err rb_json_get_int(const cJSON *item, const char *name, long long min, long long max,
                            long long *out, char *err, size_t errlen);

/* Reads a boolean from true/false, "true"/"false", 1/0 or "1"/"0". item NULL: RB_OK, untouched. */
enum rb_err rb_json_get_bool(const cJSON *item, const char *name, bool *out, char *err,
                             size_t errlen);

/* Reads a string; numbers and booleans are converted to their text (wsk sends -p pw 1234
 * as a number). Writes at most outlen-1 bytes; a longer value is an error. item NULL: RB_OK,
 * untouched. Objects, arrays and null are errors. */
enum rb_err rb_json_get_text(const cJSON *item, const char *name, char *out, size_t outlen,
                             char *err, size_t errlen);

/* Prints compactly into a malloc'd string the caller frees; NULL on allocation failure. */
char *rb_json_print(const cJSON *item);

#endif
