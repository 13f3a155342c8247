/* job_arrival.c: arrival processes and trace readers (see job_arrival.h). */
#define _GNU_SOURCE
#include "job_arrival.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rb_rng.h"

static const char *const kind_names[] = {"constant", "poisson", "bursts", "trace"};

bool job_arrival_kind_from_name(const char *name, enum job_arrival_kind *out) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, kind_names[i]) == 0) {
      *out = (enum job_arrival_kind)i;
      return true;
    }
  return false;
}

const char *job_arrival_kind_name(enum job_arrival_kind k) {
  return (unsigned)k < 4 ? kind_names[k] : "?";
}

/* ---- selections ------------------------------------------------------------------------- */

/* A decimal number of at most 18 digits at *s; advances *s. */
static bool take_number(const char **s, uint64_t *out) {
  const char *p = *s;
  uint64_t v = 0;
  int digits = 0;
  while (*p >= '0' && *p <= '9') {
    if (++digits > 18) return false;
    v = v * 10 + (uint64_t)(*p++ - '0');
  }
  if (!digits) return false;
  *s = p;
  *out = v;
  return true;
}

static void skip_spaces(const char **s) {
  while (**s == ' ') (*s)++;
}

enum rb_err job_arrival_parse_rows(const char *text, struct job_trace_rows *out, char *err,
                                   size_t errlen) {
  memset(out, 0, sizeof *out);
  const char *s = text;
  skip_spaces(&s);
  if (strcmp(s, "all") == 0) {
    out->all = true;
    return RB_OK;
  }
  for (;;) {
    uint64_t a = 0, b = 0;
    skip_spaces(&s);
    if (!take_number(&s, &a) || a < 1)
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "trace_rows: expected \"all\" or data row numbers from 1 such as "
                       "\"1,4-6\", got '%.60s' (at byte %zu)",
                       text, (size_t)(s - text) + 1);
    b = a;
    skip_spaces(&s);
    if (*s == '-') {
      s++;
      skip_spaces(&s);
      if (!take_number(&s, &b) || b < a)
        return rb_errorf(RB_ERR_INVALID, err, errlen,
                         "trace_rows: a range FIRST-LAST needs LAST >= FIRST, got '%.60s' (at "
                         "byte %zu)",
                         text, (size_t)(s - text) + 1);
      skip_spaces(&s);
    }
    if (out->n == JOB_TRACE_ROW_RANGES)
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "trace_rows: more than %d rows or ranges; use ranges such as \"1-50\"",
                       JOB_TRACE_ROW_RANGES);
    out->first[out->n] = a;
    out->last[out->n++] = b;
    if (!*s) return RB_OK;
    if (*s++ != ',')
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "trace_rows: expected ',' between rows, got '%.60s' (at byte %zu)", text,
                       (size_t)(s - text));
  }
}

enum rb_err job_arrival_parse_minutes(const char *text, int *first, int *last, char *err,
                                      size_t errlen) {
  *first = 1, *last = JOB_AZURE_MINUTES;
  const char *s = text;
  skip_spaces(&s);
  if (!*s) return RB_OK;
  uint64_t a = 0, b = 0;
  bool ok = take_number(&s, &a);
  b = a;
  skip_spaces(&s);
  if (ok && *s == '-') {
    s++;
    skip_spaces(&s);
    ok = take_number(&s, &b);
    skip_spaces(&s);
  }
  if (!ok || *s)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "trace_minutes: expected FIRST-LAST minutes such as \"1-60\", got '%.40s'",
                     text);
  if (a < 1 || b > JOB_AZURE_MINUTES || b < a)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "trace_minutes: expected 1 <= FIRST <= LAST <= %d, got '%.40s'",
                     JOB_AZURE_MINUTES, text);
  *first = (int)a, *last = (int)b;
  return RB_OK;
}

static bool row_selected(const struct job_trace_rows *r, uint64_t row) {
  if (r->all) return true;
  for (size_t i = 0; i < r->n; i++)
    if (row >= r->first[i] && row <= r->last[i]) return true;
  return false;
}

/* ---- counts ------------------------------------------------------------------------------ */

/* Invocations of a process whose cumulative intended count at `duration` is mass:
 * invocations, or floor(mass) (>= 1) when duration is set, as job_params_planned. */
static uint64_t planned(const struct job_params *p, double mass) {
  if (p->duration > 0) {
    double n = floor(mass + 1e-9);
    return n < 1 ? 1 : n > 1e18 ? (uint64_t)1e18 : (uint64_t)n;
  }
  return (uint64_t)p->invocations;
}

/* bursts: the cumulative intended count Λ(t) (burst_rate inside a burst, rate after it). */
static long double bursts_lambda(const struct job_params *p, long double t) {
  long double rb = (long double)p->burst_rate, r = (long double)p->rate;
  long double bs = (long double)p->burst_seconds, ss = (long double)p->base_seconds;
  long double period = bs + ss, mass = rb * bs + r * ss;
  long double full = floorl(t / period), rest = t - full * period;
  return full * mass + (rest < bs ? rest * rb : rb * bs + (rest - bs) * r);
}

/* Invocations the poisson or bursts process plans. */
static uint64_t process_count(const struct job_params *p, enum job_arrival_kind k) {
  if (k == JOB_ARRIVAL_BURSTS)
    return planned(p, p->duration > 0 ? (double)bursts_lambda(p, (long double)p->duration) : 0);
  return planned(p, p->rate * p->duration);
}

static enum rb_err too_many(uint64_t n, const char *what, char *err, size_t errlen) {
  return rb_errorf(RB_ERR_RANGE, err, errlen,
                   "arrival %s plans %llu invocations; at most %llu for a non-constant process "
                   "(lower invocations, duration or the rate)",
                   what, (unsigned long long)n, (unsigned long long)JOB_ARRIVAL_MAX);
}

/* ---- checks ------------------------------------------------------------------------------ */

enum rb_err job_arrival_check(const struct job_params *p, char *err, size_t errlen) {
  enum job_arrival_kind k;
  if (!job_arrival_kind_from_name(p->arrival, &k))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "arrival: expected one of constant, poisson, bursts, trace, got '%.40s'",
                     p->arrival);
  if (k == JOB_ARRIVAL_CONSTANT) return RB_OK;
  if (p->concurrency > 0)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "arrival %s: concurrency %lld is a closed loop, which sends when invocations "
                     "finish and has no arrival process; drop concurrency or use arrival constant",
                     p->arrival, p->concurrency);
  if (p->sweep.form != JOB_RATE_FIXED)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "arrival %s: a rate sweep steps a constant rate; give a single rate or use "
                     "arrival constant",
                     p->arrival);
  if (k == JOB_ARRIVAL_BURSTS && !(p->burst_rate > 0))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "burst_rate: arrival bursts needs burst_rate (invocations per second during "
                     "a burst of burst_seconds; `rate` is the rate between bursts)");
  if (k != JOB_ARRIVAL_TRACE) {
    uint64_t n = process_count(p, k);
    return n > JOB_ARRIVAL_MAX ? too_many(n, p->arrival, err, errlen) : RB_OK;
  }
  if (!p->trace_file[0])
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "trace_file: arrival trace needs trace_file (an Azure Functions invocation "
                     "count CSV, or a list of timestamps with trace_format timestamps)");
  struct job_trace_rows rows;
  int a, b;
  enum rb_err rc = job_arrival_parse_rows(p->trace_rows, &rows, err, errlen);
  if (rc == RB_OK) rc = job_arrival_parse_minutes(p->trace_minutes, &a, &b, err, errlen);
  return rc;
}

/* ---- reading lines ------------------------------------------------------------------------ */

struct lines {
  FILE *f;
  char *buf;
  size_t cap;
  uint64_t no; /* line number of the line in buf */
};

/* The next line without its end of line ("\n" or "\r\n"); false at the end. *len its length. */
static bool next_line(struct lines *l, size_t *len, bool *read_error) {
  errno = 0;
  ssize_t n = getline(&l->buf, &l->cap, l->f);
  if (n < 0) {
    *read_error = ferror(l->f) != 0;
    return false;
  }
  l->no++;
  size_t m = (size_t)n;
  if (m && l->buf[m - 1] == '\n') m--;
  if (m && l->buf[m - 1] == '\r') m--;
  l->buf[m] = '\0';
  *len = m;
  return true;
}

static const char *show(const char *s, size_t n, char *buf, size_t len) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 5 < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f) buf[k++] = (char)c;
    else k += (size_t)snprintf(buf + k, len - k, "\\x%02x", c);
  }
  buf[k < len ? k : len - 1] = '\0';
  if (n > 24 && k + 4 < len) strcat(buf, "...");
  return buf;
}

/* ---- Azure Functions 2019 invocation counts ----------------------------------------------- */

static enum rb_err azure_header(const char *line, size_t len, const char *path, char *err,
                                size_t errlen) {
  static const char *const names[] = {"HashOwner", "HashApp", "HashFunction", "Trigger"};
  size_t cols = 1;
  for (size_t i = 0; i < len; i++) cols += line[i] == ',';
  if (cols != JOB_AZURE_COLUMNS)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s:1: the header has %zu columns; expected %d (HashOwner, HashApp, "
                     "HashFunction, Trigger, minutes 1 to 1440)",
                     path, cols, JOB_AZURE_COLUMNS);
  const char *p = line, *end = line + len;
  for (size_t col = 0; col < JOB_AZURE_COLUMNS; col++) {
    const char *c = memchr(p, ',', (size_t)(end - p));
    if (!c) c = end;
    size_t n = (size_t)(c - p);
    char want[16], got[64];
    if (col < 4) snprintf(want, sizeof want, "%s", names[col]);
    else snprintf(want, sizeof want, "%zu", col - 3);
    if (strlen(want) != n || memcmp(want, p, n) != 0)
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "%s:1: expected the Azure Functions 2019 header HashOwner,HashApp,"
                       "HashFunction,Trigger,1,...,1440; column %zu is '%s', expected '%s'",
                       path, col + 1, show(p, n, got, sizeof got), want);
    p = c + 1;
  }
  return RB_OK;
}

/* One data row: checks it and, when selected, adds its counts of minutes first..last. */
static enum rb_err azure_row(const char *line, size_t len, const char *path, uint64_t lineno,
                             bool selected, int first, int last, uint64_t counts[JOB_AZURE_MINUTES],
                             char *err, size_t errlen) {
  if (len == 0)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s:%llu: empty row; expected %d comma-separated columns", path,
                     (unsigned long long)lineno, JOB_AZURE_COLUMNS);
  size_t cols = 1;
  for (size_t i = 0; i < len; i++) cols += line[i] == ',';
  if (cols != JOB_AZURE_COLUMNS)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s:%llu: %zu columns; expected %d (HashOwner, HashApp, HashFunction, "
                     "Trigger, then the counts of minutes 1 to 1440)",
                     path, (unsigned long long)lineno, cols, JOB_AZURE_COLUMNS);
  const char *p = line, *end = line + len;
  for (size_t col = 0; col < JOB_AZURE_COLUMNS; col++) {
    const char *c = memchr(p, ',', (size_t)(end - p));
    if (!c) c = end;
    if (col >= 4) {
      uint64_t v = 0;
      const char *q = p;
      bool ok = take_number(&q, &v) && q == c;
      if (!ok) {
        char got[64];
        return rb_errorf(RB_ERR_INVALID, err, errlen,
                         "%s:%llu: minute %zu (column %zu): expected a non-negative integer "
                         "count, got '%s'",
                         path, (unsigned long long)lineno, col - 3, col + 1,
                         show(p, (size_t)(c - p), got, sizeof got));
      }
      int minute = (int)(col - 3);
      if (selected && minute >= first && minute <= last) {
        uint64_t *slot = &counts[minute - 1];
        *slot = *slot + v < *slot ? UINT64_MAX : *slot + v; /* saturates; refused later */
      }
    }
    p = c + 1;
  }
  return RB_OK;
}

enum rb_err job_arrival_read_azure(FILE *f, const char *path, const struct job_trace_rows *rows,
                                   int first, int last, uint64_t counts[JOB_AZURE_MINUTES],
                                   uint64_t *rows_read, uint64_t *rows_used, char *err,
                                   size_t errlen) {
  memset(counts, 0, JOB_AZURE_MINUTES * sizeof *counts);
  *rows_read = *rows_used = 0;
  struct lines l = {.f = f};
  size_t len = 0;
  bool rerr = false;
  enum rb_err rc = RB_OK;
  if (!next_line(&l, &len, &rerr)) {
    rc = rerr ? rb_errorf(RB_ERR_IO, err, errlen, "%s: cannot read: %s", path, strerror(errno))
              : rb_errorf(RB_ERR_INVALID, err, errlen,
                          "%s:1: empty file; expected the Azure Functions 2019 header "
                          "HashOwner,HashApp,HashFunction,Trigger,1,...,1440",
                          path);
    free(l.buf);
    return rc;
  }
  /* a UTF-8 byte order mark before the header is tolerated */
  const char *h = l.buf;
  if (len >= 3 && memcmp(h, "\xef\xbb\xbf", 3) == 0) h += 3, len -= 3;
  rc = azure_header(h, len, path, err, errlen);
  while (rc == RB_OK && next_line(&l, &len, &rerr)) {
    uint64_t row = ++*rows_read;
    bool sel = row_selected(rows, row);
    if (sel) ++*rows_used;
    rc = azure_row(l.buf, len, path, l.no, sel, first, last, counts, err, errlen);
  }
  if (rc == RB_OK && rerr)
    rc = rb_errorf(RB_ERR_IO, err, errlen, "%s:%llu: cannot read: %s", path,
                   (unsigned long long)l.no + 1, strerror(errno));
  free(l.buf);
  if (rc != RB_OK) return rc;
  if (*rows_read == 0)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s:2: no data rows after the header (one row per function expected)", path);
  if (!rows->all)
    for (size_t i = 0; i < rows->n; i++)
      if (rows->last[i] > *rows_read)
        return rb_errorf(RB_ERR_RANGE, err, errlen,
                         "%s: trace_rows: row %llu is beyond the file's %llu data rows", path,
                         (unsigned long long)rows->last[i], (unsigned long long)*rows_read);
  return RB_OK;
}

/* ---- timestamps ------------------------------------------------------------------------- */

static bool push(uint64_t **v, uint64_t *n, uint64_t *cap, uint64_t x) {
  if (*n == *cap) {
    uint64_t c = *cap ? *cap * 2 : 1024;
    uint64_t *w = realloc(*v, c * sizeof *w);
    if (!w) return false;
    *v = w, *cap = c;
  }
  (*v)[(*n)++] = x;
  return true;
}

enum rb_err job_arrival_read_timestamps(FILE *f, const char *path, double speedup,
                                        uint64_t **offsets, uint64_t *count, char *err,
                                        size_t errlen) {
  struct lines l = {.f = f};
  size_t len = 0;
  bool rerr = false;
  uint64_t *v = NULL, n = 0, cap = 0, prev_line = 0;
  double prev = 0;
  enum rb_err rc = RB_OK;
  *offsets = NULL, *count = 0;
  if (!(speedup > 0)) speedup = 1;
  while (rc == RB_OK && next_line(&l, &len, &rerr)) {
    char *hash = memchr(l.buf, '#', len);
    if (hash) *hash = '\0', len = (size_t)(hash - l.buf);
    char *s = l.buf, *e = l.buf + len;
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    if (s == e) continue;
    char *end = NULL, got[64];
    errno = 0;
    double t = strtod(s, &end);
    bool plain = strspn(s, "0123456789.eE+-") == (size_t)(e - s); /* no "inf", "nan", hex */
    if (!plain || end != e || errno || !isfinite(t) || t < 0) {
      rc = rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s:%llu: expected a timestamp in seconds from 0 (a number such as 1.25), "
                     "got '%s'",
                     path, (unsigned long long)l.no, show(s, (size_t)(e - s), got, sizeof got));
      break;
    }
    if (n && t < prev) {
      rc = rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s:%llu: %.9g is before the previous timestamp %.9g (line %llu): "
                     "timestamps must not decrease",
                     path, (unsigned long long)l.no, t, prev, (unsigned long long)prev_line);
      break;
    }
    double sec = t / speedup;
    if (sec > JOB_ARRIVAL_MAX_SECONDS) {
      rc = rb_errorf(RB_ERR_RANGE, err, errlen,
                     "%s:%llu: %.9g s (after trace_speedup %g) is beyond %.0f s", path,
                     (unsigned long long)l.no, sec, speedup, JOB_ARRIVAL_MAX_SECONDS);
      break;
    }
    if (n == JOB_ARRIVAL_MAX) {
      rc = rb_errorf(RB_ERR_RANGE, err, errlen,
                     "%s:%llu: more than %llu timestamps: the most invocations a run may plan",
                     path, (unsigned long long)l.no, (unsigned long long)JOB_ARRIVAL_MAX);
      break;
    }
    if (!push(&v, &n, &cap, (uint64_t)floorl((long double)t * 1e9L / (long double)speedup))) {
      rc = rb_errorf(RB_ERR_NOMEM, err, errlen, "%s: out of memory", path);
      break;
    }
    prev = t, prev_line = l.no;
  }
  if (rc == RB_OK && rerr)
    rc = rb_errorf(RB_ERR_IO, err, errlen, "%s:%llu: cannot read: %s", path,
                   (unsigned long long)l.no + 1, strerror(errno));
  if (rc == RB_OK && n == 0)
    rc = rb_errorf(RB_ERR_INVALID, err, errlen,
                   "%s: no timestamps (one relative time in seconds per line expected)", path);
  free(l.buf);
  if (rc != RB_OK) {
    free(v);
    return rc;
  }
  *offsets = v, *count = n;
  return RB_OK;
}

/* ---- processes ---------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Each selected minute's count spread inside its minute, time / speedup. */
static enum rb_err spread_minutes(const struct job_params *p, const char *path,
                                  const uint64_t counts[JOB_AZURE_MINUTES], int first, int last,
                                  struct job_arrival *a, char *err, size_t errlen) {
  uint64_t total = 0, most = 0;
  for (int m = first; m <= last; m++) {
    uint64_t c = counts[m - 1];
    if (c > JOB_ARRIVAL_MAX || total + c > JOB_ARRIVAL_MAX)
      return rb_errorf(RB_ERR_RANGE, err, errlen,
                       "%s: the selected rows (trace_rows \"%s\") and minutes hold more than "
                       "%llu invocations, the most a run may plan; select fewer rows or minutes",
                       path, p->trace_rows, (unsigned long long)JOB_ARRIVAL_MAX);
    total += c;
    if (c > most) most = c;
  }
  if (total == 0)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s: the selected rows (trace_rows \"%s\") and minutes %d-%d hold no "
                     "invocations: nothing to run",
                     path, p->trace_rows, first, last);
  double span = (double)(last - first + 1) * 60.0 / p->trace_speedup;
  if (span > JOB_ARRIVAL_MAX_SECONDS)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "trace_speedup: minutes %d-%d at speedup %g span %.0f s, beyond %.0f s", first,
                     last, p->trace_speedup, span, JOB_ARRIVAL_MAX_SECONDS);
  uint64_t *off = malloc(total * sizeof *off);
  double *u = malloc((most ? most : 1) * sizeof *u);
  if (!off || !u) {
    free(off);
    free(u);
    return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory for %llu invocations",
                     (unsigned long long)total);
  }
  bool poisson = strcmp(p->trace_spread, "constant") != 0;
  uint64_t k = 0;
  for (int m = first; m <= last; m++) {
    uint64_t c = counts[m - 1];
    if (!c) continue;
    struct rb_rng r;
    rb_rng_init(&r, (uint64_t)p->seed, RB_RNG_ARRIVAL, (uint64_t)m, 0);
    for (uint64_t j = 0; j < c; j++)
      u[j] = poisson ? rb_rng_double(&r) * 60.0 : (double)j * 60.0 / (double)c;
    if (poisson) qsort(u, c, sizeof *u, cmp_double);
    long double base = (long double)(m - first) * 60.0L;
    for (uint64_t j = 0; j < c; j++)
      off[k++] =
          (uint64_t)floorl((base + (long double)u[j]) * 1e9L / (long double)p->trace_speedup);
  }
  free(u);
  a->offsets = off;
  a->count = total;
  return RB_OK;
}

static enum rb_err build_trace(const struct job_params *p, FILE *f, const char *path,
                               struct job_arrival *a, char *err, size_t errlen) {
  if (!f)
    return rb_errorf(RB_ERR_INVALID, err, errlen, "trace_file: no file to read (%s)",
                     p->trace_file);
  if (!path) path = p->trace_file;
  if (strcmp(p->trace_format, "timestamps") == 0)
    return job_arrival_read_timestamps(f, path, p->trace_speedup, &a->offsets, &a->count, err,
                                       errlen);
  struct job_trace_rows rows;
  int first, last;
  enum rb_err rc = job_arrival_parse_rows(p->trace_rows, &rows, err, errlen);
  if (rc == RB_OK) rc = job_arrival_parse_minutes(p->trace_minutes, &first, &last, err, errlen);
  if (rc != RB_OK) return rc;
  uint64_t *counts = calloc(JOB_AZURE_MINUTES, sizeof *counts);
  if (!counts) return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
  rc = job_arrival_read_azure(f, path, &rows, first, last, counts, &a->trace_rows_read,
                              &a->trace_rows_used, err, errlen);
  if (rc == RB_OK) rc = spread_minutes(p, path, counts, first, last, a, err, errlen);
  a->minute_first = first, a->minute_last = last;
  free(counts);
  return rc;
}

static enum rb_err too_long(double s, const char *what, char *err, size_t errlen) {
  return rb_errorf(RB_ERR_RANGE, err, errlen,
                   "arrival %s: the schedule would last %.4g s, beyond %.0f s (lower "
                   "invocations or raise the rate)",
                   what, s, JOB_ARRIVAL_MAX_SECONDS);
}

static enum rb_err build_poisson(const struct job_params *p, struct job_arrival *a, char *err,
                                 size_t errlen) {
  uint64_t n = process_count(p, JOB_ARRIVAL_POISSON);
  if (n > JOB_ARRIVAL_MAX) return too_many(n, "poisson", err, errlen);
  /* the expected span, with room for chance: refused before drawing */
  if ((double)n / p->rate > JOB_ARRIVAL_MAX_SECONDS / 2)
    return too_long((double)n / p->rate, "poisson", err, errlen);
  uint64_t *off = malloc(n * sizeof *off);
  if (!off)
    return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory for %llu invocations",
                     (unsigned long long)n);
  struct rb_rng r;
  rb_rng_init(&r, (uint64_t)p->seed, RB_RNG_ARRIVAL, 0, 0);
  long double t = 0, mean = 1.0L / (long double)p->rate;
  for (uint64_t k = 0; k < n; k++) {
    t += (long double)rb_rng_exponential(&r, (double)mean);
    off[k] = (uint64_t)llroundl(t * 1e9L);
  }
  a->offsets = off;
  a->count = n;
  return RB_OK;
}

/* bursts: the cumulative intended count is Λ(t) (burst_rate inside a burst, rate after it);
 * invocation k is due when Λ reaches k. */
static enum rb_err build_bursts(const struct job_params *p, struct job_arrival *a, char *err,
                                size_t errlen) {
  long double rb = (long double)p->burst_rate, r = (long double)p->rate;
  long double bs = (long double)p->burst_seconds, ss = (long double)p->base_seconds;
  long double period = bs + ss, in_burst = rb * bs, mass = in_burst + r * ss;
  uint64_t n = process_count(p, JOB_ARRIVAL_BURSTS);
  if (n > JOB_ARRIVAL_MAX) return too_many(n, "bursts", err, errlen);
  double span = (double)((long double)n / mass * period);
  if (span > JOB_ARRIVAL_MAX_SECONDS) return too_long(span, "bursts", err, errlen);
  uint64_t *off = malloc(n * sizeof *off);
  if (!off)
    return rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory for %llu invocations",
                     (unsigned long long)n);
  for (uint64_t k = 0; k < n; k++) {
    long double per = floorl((long double)k / mass);
    long double rem = (long double)k - per * mass;
    if (rem < 0) rem = 0;
    long double t = per * period + (rem < in_burst ? rem / rb : bs + (rem - in_burst) / r);
    off[k] = (uint64_t)llroundl(t * 1e9L);
    if (k && off[k] < off[k - 1]) off[k] = off[k - 1]; /* rounding at a phase edge */
  }
  a->offsets = off;
  a->count = n;
  return RB_OK;
}

enum rb_err job_arrival_build_from(const struct job_params *p, FILE *f, const char *path,
                                   struct job_arrival *a, char *err, size_t errlen) {
  memset(a, 0, sizeof *a);
  enum rb_err rc = job_arrival_check(p, err, errlen);
  if (rc != RB_OK) return rc;
  job_arrival_kind_from_name(p->arrival, &a->kind);
  switch (a->kind) {
    case JOB_ARRIVAL_CONSTANT:
      a->rate = p->rate;
      a->count = p->duration > 0 ? planned(p, p->rate * p->duration) : (uint64_t)p->invocations;
      return RB_OK;
    case JOB_ARRIVAL_POISSON: rc = build_poisson(p, a, err, errlen); break;
    case JOB_ARRIVAL_BURSTS: rc = build_bursts(p, a, err, errlen); break;
    case JOB_ARRIVAL_TRACE: rc = build_trace(p, f, path, a, err, errlen); break;
  }
  if (rc != RB_OK) job_arrival_free(a);
  return rc;
}

enum rb_err job_arrival_build(const struct job_params *p, const char *base_dir,
                              struct job_arrival *a, char *err, size_t errlen) {
  enum job_arrival_kind k = JOB_ARRIVAL_CONSTANT;
  if (!job_arrival_kind_from_name(p->arrival, &k) || k != JOB_ARRIVAL_TRACE || !p->trace_file[0])
    return job_arrival_build_from(p, NULL, NULL, a, err, errlen);
  char path[PATH_MAX + sizeof p->trace_file];
  if (p->trace_file[0] != '/' && base_dir && *base_dir)
    snprintf(path, sizeof path, "%s/%s", base_dir, p->trace_file);
  else snprintf(path, sizeof path, "%s", p->trace_file);
  FILE *f = fopen(path, "re");
  if (!f) {
    memset(a, 0, sizeof *a);
    return rb_errorf(RB_ERR_IO, err, errlen, "trace_file: cannot open %s: %s", path,
                     strerror(errno));
  }
  enum rb_err rc = job_arrival_build_from(p, f, path, a, err, errlen);
  fclose(f);
  return rc;
}

void job_arrival_free(struct job_arrival *a) {
  free(a->offsets);
  a->offsets = NULL;
  a->count = 0;
}

/* ---- times --------------------------------------------------------------------------------- */

uint64_t job_arrival_offset(const struct job_arrival *a, uint64_t k) {
  if (a->offsets) return k < a->count ? a->offsets[k] : a->offsets[a->count - 1];
  return (uint64_t)llroundl((long double)k * 1e9L / (long double)a->rate);
}

uint64_t job_arrival_due_before(const struct job_arrival *a, double seconds) {
  if (!(seconds > 0)) return 0;
  if (!a->offsets) { /* constant: as job_params_warmup_count */
    double n = floor(a->rate * seconds + 1e-9);
    return n >= (double)a->count ? a->count : (uint64_t)n;
  }
  long double lim = (long double)seconds * 1e9L;
  uint64_t lo = 0, hi = a->count; /* first k with offset >= lim */
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if ((long double)a->offsets[mid] < lim) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

double job_arrival_rate_between(const struct job_arrival *a, uint64_t k0, uint64_t k1) {
  if (k1 <= k0) return 0;
  uint64_t t0 = job_arrival_offset(a, k0), t1 = job_arrival_offset(a, k1);
  return t1 > t0 ? (double)(k1 - k0) / ((double)(t1 - t0) / 1e9) : 0;
}

void job_gaps_add(struct job_gaps *g, uint64_t t_ns) {
  if (g->n++ == 0) {
    g->first_ns = g->last_ns = t_ns;
    return;
  }
  double gap = t_ns > g->last_ns ? (double)(t_ns - g->last_ns) / 1e9 : 0;
  g->last_ns = t_ns > g->last_ns ? t_ns : g->last_ns;
  double m = (double)(g->n - 1); /* gaps so far, this one included */
  double d = gap - g->mean;
  g->mean += d / m;
  g->m2 += d * (gap - g->mean);
}

double job_gaps_rate(const struct job_gaps *g) {
  if (g->n < 2 || g->last_ns <= g->first_ns) return 0;
  return (double)(g->n - 1) / ((double)(g->last_ns - g->first_ns) / 1e9);
}

double job_gaps_cv(const struct job_gaps *g) {
  if (g->n < 3 || !(g->mean > 0)) return 0;
  return sqrt(g->m2 / (double)(g->n - 1)) / g->mean;
}
