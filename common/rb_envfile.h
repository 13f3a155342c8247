/* rb_envfile.h: parser for `local.env` files (the seed's format: KEY=VALUE lines).
 *
 * Grammar, one entry per line:
 *   - blank lines and lines whose first non-blank character is '#' are ignored;
 *   - an optional leading `export ` is ignored (so the file can also be sourced by a shell);
 *   - KEY matches [A-Za-z_][A-Za-z0-9_]*; spaces around KEY and '=' are allowed;
 *   - VALUE is the rest of the line with surrounding blanks removed; an unquoted value ends
 *     at ` #` (a comment); 'single quotes' are literal; "double quotes" allow \" \\ \n \t;
 *   - an empty value (KEY=) is a valid empty string.
 * Anything else is an error that names the line. */
#ifndef RB_ENVFILE_H
#define RB_ENVFILE_H

#include <stddef.h>

#include "rb_error.h"

/* Called once per entry with NUL-terminated key and value (borrowed, valid during the call).
 * Returning non-zero stops parsing; rb_envfile_parse then returns RB_ERR_STATE. */
typedef int (*rb_envfile_cb)(const char *key, const char *value, int line, void *ctx);

/* Parses len bytes of text. On error err holds e.g. "line 3: expected KEY=VALUE". The message
 * never quotes a value (values may be secrets). */
enum rb_err rb_envfile_parse(const char *text, size_t len, rb_envfile_cb cb, void *ctx, char *err,
                             size_t errlen);

#endif
