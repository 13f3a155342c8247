/* rb_name.h: naming rules shared by the binaries, so that one program refuses up front what
 * another would refuse later: the Redis key prefix rbench-action accepts, OpenWhisk entity
 * names, and the closest known name to a misspelt one. Pure code. */
#ifndef RB_NAME_H
#define RB_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "rb_error.h"

#define RB_KEY_PREFIX_MAX 128 /* bytes */
#define RB_OW_NAME_MAX 256    /* bytes of one OpenWhisk entity name (namespace, package, action) */

/* rbench-action's rule for key_prefix: 1 to RB_KEY_PREFIX_MAX bytes, none of them a space, a
 * control character or DEL (a key with one would need quoting everywhere it is printed).
 * RB_ERR_RANGE / RB_ERR_INVALID with "key_prefix must ..." in err. */
enum rb_err rb_name_key_prefix_check(const char *s, char *err, size_t errlen);

/* OpenWhisk's rule for an action reference: "name", "pkg/name" or "/namespace/[pkg/]name",
 * each part an entity name matching \A([\w]|[\w][\w@ .-]*[\w@.-]+)\z (a letter, digit or '_'
 * first; then those, spaces, '@', '.' or '-'; no space last; Java's \w is [A-Za-z0-9_]) of at
 * most RB_OW_NAME_MAX bytes. RB_ERR_INVALID with err naming the part and the rule. */
enum rb_err rb_name_action_check(const char *action, char *err, size_t errlen);

/* Optimal string alignment distance (a swap of two neighbours counts as one edit, so
 * REDIS_PROT is one away from REDIS_PORT). At most 63 bytes of each count. */
size_t rb_name_distance(const char *a, const char *b);

/* The candidate closest to name, when close enough to be a likely misspelling (at most a
 * quarter of name's length, and at least 2, edits); NULL otherwise. */
const char *rb_name_closest(const char *name, const char *const *candidates, size_t n);

#endif
