/* rb_error.c: names and messages for the project-wide error codes. */
#include "rb_error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const err_names[] = {
#define RB_ERR_NAME(name, desc) #name,
    RB_ERRORS(RB_ERR_NAME)
#undef RB_ERR_NAME
};

static const char *const err_descs[] = {
#define RB_ERR_DESC(name, desc) desc,
    RB_ERRORS(RB_ERR_DESC)
#undef RB_ERR_DESC
};

#define ERR_COUNT (sizeof(err_names) / sizeof(err_names[0]))

const char *rb_err_name(enum rb_err err) {
  if ((size_t)err >= ERR_COUNT) return "RB_ERR_UNKNOWN";
  return err_names[err];
}

const char *rb_err_desc(enum rb_err err) {
  if ((size_t)err >= ERR_COUNT) return "unknown error";
  return err_descs[err];
}

enum rb_err rb_errorf(enum rb_err err, char *buf, size_t len, const char *fmt, ...) {
  if (buf && len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
  }
  return err;
}
