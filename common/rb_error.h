/* rb_error.h: the project-wide error codes; functions return them and callers check. */
#ifndef RB_ERROR_H
#define RB_ERROR_H

#include <stddef.h>

/* X-macro: name, short description. */
#define RB_ERRORS(X)                           \
  X(RB_OK, "ok")                               \
  X(RB_ERR_NOMEM, "out of memory")             \
  X(RB_ERR_INVALID, "invalid value")           \
  X(RB_ERR_PARSE, "parse error")               \
  X(RB_ERR_RANGE, "value out of range")        \
  X(RB_ERR_IO, "I/O error")                    \
  X(RB_ERR_TIMEOUT, "timed out")               \
  X(RB_ERR_PROTOCOL, "protocol error")         \
  X(RB_ERR_NOT_FOUND, "not found")             \
  X(RB_ERR_STATE, "not allowed in this state") \
  X(RB_ERR_TOO_LARGE, "too large")

enum rb_err {
#define RB_ERR_ENUM(name, desc) name,
  RB_ERRORS(RB_ERR_ENUM)
#undef RB_ERR_ENUM
};

/* Returns the static name of an error code, e.g. "RB_ERR_PARSE". */
const char *rb_err_name(enum rb_err err);
/* Returns a static one-line description, e.g. "parse error". */
const char *rb_err_desc(enum rb_err err);

/* Writes a formatted message into buf (always NUL-terminated when len > 0)
 * and returns err, so callers can write `return rb_errorf(RB_ERR_X, ...)`. */
enum rb_err rb_errorf(enum rb_err err, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
