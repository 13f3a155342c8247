/* rb_name.c: naming rules (see rb_name.h). */
#include "rb_name.h"

#include <stdio.h>
#include <string.h>

enum rb_err rb_name_key_prefix_check(const char *s, char *err, size_t errlen) {
  size_t n = strlen(s);
  if (n < 1 || n > RB_KEY_PREFIX_MAX)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "key_prefix must be 1 to %d bytes, got %zu",
                     RB_KEY_PREFIX_MAX, n);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c == 0x7f)
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "key_prefix must not contain spaces or control characters "
                       "(found one at byte %zu)",
                       i + 1);
  }
  return RB_OK;
}

static bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* One entity name of n bytes at p: \A([\w]|[\w][\w@ .-]*[\w@.-]+)\z. */
static bool entity_ok(const char *p, size_t n) {
  if (n == 0 || n > RB_OW_NAME_MAX || !word_char(p[0]) || p[n - 1] == ' ') return false;
  for (size_t i = 1; i < n; i++)
    if (!word_char(p[i]) && !strchr("@ .-", p[i])) return false;
  return true;
}

enum rb_err rb_name_action_check(const char *action, char *err, size_t errlen) {
  if (!*action)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "the action name is empty: expected [pkg/]name or "
                     "/namespace/[pkg/]name");
  bool qualified = action[0] == '/';
  const char *p = action + qualified;
  int parts = 0;
  for (;;) {
    size_t n = strcspn(p, "/");
    if (!entity_ok(p, n))
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "action '%.300s': '%.*s' is not an OpenWhisk name (1 to %d bytes: a letter, "
                       "digit or '_' first, then letters, digits, '_', '@', '.', '-' or spaces, "
                       "not a space last)",
                       action, (int)(n > 300 ? 300 : n), p, RB_OW_NAME_MAX);
    parts++;
    if (!p[n]) break;
    p += n + 1;
  }
  if (parts > (qualified ? 3 : 2) || (qualified && parts < 2))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "action '%.300s': expected [pkg/]name or "
                     "/namespace/[pkg/]name",
                     action);
  return RB_OK;
}

size_t rb_name_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 63) n = 63;
  if (m > 63) m = 63;
  size_t d[64][64];
  for (size_t i = 0; i <= n; i++) d[i][0] = i;
  for (size_t j = 0; j <= m; j++) d[0][j] = j;
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++) {
      size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[n][m];
}

const char *rb_name_closest(const char *name, const char *const *candidates, size_t n) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    size_t d = rb_name_distance(name, candidates[i]);
    if (d < best_d) best = candidates[i], best_d = d;
  }
  size_t len = strlen(name), limit = len / 4 > 2 ? len / 4 : 2;
  return best && best_d <= limit ? best : NULL;
}
