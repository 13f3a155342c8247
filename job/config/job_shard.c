/* job_shard.c: shards, start instants, the clock judgement, shard names (see job_shard.h). */
#define _GNU_SOURCE
#include "job_shard.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "rb_clock.h"
#include "rb_json.h"
#include "rb_str.h"

enum rb_err job_shard_parse(const char *text, const char *what, struct job_shard *out, char *err,
                            size_t errlen) {
  const char *slash = strchr(text, '/');
  char left[32];
  long long i = -1, n = -1;
  if (slash && (size_t)(slash - text) < sizeof left &&
      strspn(text, "0123456789/") == strlen(text)) {
    memcpy(left, text, (size_t)(slash - text));
    left[slash - text] = '\0';
    if (!rb_parse_ll(left, 0, (long long)JOB_SHARD_MAX, &i)) i = -1;
    if (!rb_parse_ll(slash + 1, 0, (long long)JOB_SHARD_MAX, &n)) n = -1;
  }
  if (i < 0 || n < 0)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s expects I/N (shard I of N, I counted from 0, N at most %u), got '%s'",
                     what, JOB_SHARD_MAX, text);
  if (n == 0)
    return rb_errorf(RB_ERR_RANGE, err, errlen, "%s %s: the shard count N must be at least 1", what,
                     text);
  if (i >= n)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "%s %s: shard index %lld is not below the count %lld (shards are 0..%lld)",
                     what, text, i, n, n - 1);
  out->index = (unsigned)i;
  out->count = (unsigned)n;
  return RB_OK;
}

enum rb_err job_shard_resolve(const char *cli, job_env_lookup lookup, struct job_shard *out,
                              char *err, size_t errlen) {
  out->index = out->count = 0;
  if (cli) return job_shard_parse(cli, "--shard", out, err, errlen);
  char v[64], idx[64], n[64];
  if (lookup("RBENCH_SHARD", v, sizeof v))
    return job_shard_parse(v, "RBENCH_SHARD", out, err, errlen);
  bool has_idx = lookup("JOB_COMPLETION_INDEX", idx, sizeof idx);
  bool has_n = lookup("RBENCH_SHARDS", n, sizeof n);
  if (!has_n) return RB_OK; /* a JOB_COMPLETION_INDEX alone is any Indexed Job's, not ours */
  if (!has_idx)
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "RBENCH_SHARDS=%s is set but JOB_COMPLETION_INDEX is not: the shard index "
                     "comes from an Indexed Job's pod, or give --shard I/N or RBENCH_SHARD=I/N",
                     n);
  long long i = 0, count = 0;
  if (!rb_parse_ll(n, 1, (long long)JOB_SHARD_MAX, &count))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "RBENCH_SHARDS expects the shard count, an integer from 1 to %u, got '%s'",
                     JOB_SHARD_MAX, n);
  if (!rb_parse_ll(idx, 0, (long long)JOB_SHARD_MAX, &i))
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "JOB_COMPLETION_INDEX expects a non-negative integer, got '%s'", idx);
  if (i >= count)
    return rb_errorf(
        RB_ERR_RANGE, err, errlen,
        "JOB_COMPLETION_INDEX=%lld is not below RBENCH_SHARDS=%lld (shards are 0..%lld)", i, count,
        count - 1);
  out->index = (unsigned)i;
  out->count = (unsigned)count;
  return RB_OK;
}

/* Digits [. digits] as microseconds; false when anything else is there. */
static bool parse_seconds_us(const char *s, int64_t *us) {
  int64_t whole = 0, frac = 0, scale = 1000000;
  const char *p = s;
  if (!isdigit((unsigned char)*p)) return false;
  for (; isdigit((unsigned char)*p); p++) {
    if (whole > (INT64_MAX / 1000000 - 9) / 10) return false;
    whole = whole * 10 + (*p - '0');
  }
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p)) return false;
    for (; isdigit((unsigned char)*p); p++)
      if (scale > 1) scale /= 10, frac += (*p - '0') * scale;
  }
  if (*p) return false;
  *us = whole * 1000000 + frac;
  return true;
}

/* RFC 3339: date 'T' time [.fraction] ('Z' | +hh:mm | -hh:mm). */
static bool parse_rfc3339(const char *s, int64_t *us) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  char buf[64];
  if (strlen(s) >= sizeof buf) return false;
  snprintf(buf, sizeof buf, "%s", s);
  if (strlen(buf) > 10 && (buf[10] == 't' || buf[10] == ' ')) buf[10] = 'T';
  const char *p = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p || strlen(buf) < 19 || buf[4] != '-' || buf[13] != ':') return false;
  int64_t frac = 0;
  if (*p == '.') {
    int64_t scale = 1000000;
    p++;
    if (!isdigit((unsigned char)*p)) return false;
    for (; isdigit((unsigned char)*p); p++)
      if (scale > 1) scale /= 10, frac += (*p - '0') * scale;
  }
  int64_t off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
             isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
             isdigit((unsigned char)p[5])) {
    int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');
    if (h > 23 || m > 59) return false;
    off = (*p == '-' ? -1 : 1) * (int64_t)(h * 3600 + m * 60);
    p += 6;
  } else {
    return false; /* RFC 3339 requires the offset */
  }
  if (*p) return false;
  time_t t = timegm(&tm);
  if (t == (time_t)-1) return false;
  *us = ((int64_t)t - off) * 1000000 + frac;
  return true;
}

enum rb_err job_time_parse(const char *text, const char *what, int64_t *epoch_us, char *err,
                           size_t errlen) {
  if (parse_seconds_us(text, epoch_us) || parse_rfc3339(text, epoch_us)) return RB_OK;
  return rb_errorf(RB_ERR_INVALID, err, errlen,
                   "%s expects an instant: epoch seconds (1796407200 or 1796407200.5) or RFC 3339 "
                   "(2026-12-04T18:00:00Z, 2026-12-04T19:00:00+01:00), got '%s'",
                   what, text);
}

uint64_t job_shard_share(const struct job_shard *s, uint64_t total) {
  if (!s || s->count <= 1) return total;
  return total > s->index ? (total - s->index + s->count - 1) / s->count : 0;
}

void job_shard_file_name(const char *path, const struct job_shard *s, char *out, size_t len) {
  if (!s || s->count == 0) {
    snprintf(out, len, "%s", path);
    return;
  }
  size_t n = strlen(path);
  bool json = n >= 5 && !strcmp(path + n - 5, ".json");
  if (json) n -= 5;
  snprintf(out, len, "%.*s.shard-%u-of-%u.json", (int)n, path, s->index, s->count);
}

void job_shard_configmap_name(char *name, size_t len, const struct job_shard *s) {
  if (!s || s->count == 0) return;
  size_t n = strlen(name);
  snprintf(name + n, len - n, "-shard-%u", s->index);
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

void job_shard_run_key(const char *scenario, const struct job_params *p, long long repetition,
                       int64_t start_ms, unsigned count, char out[17]) {
  cJSON *params = job_params_to_json(p);
  char *ptext = params ? cJSON_PrintUnformatted(params) : NULL;
  cJSON_Delete(params);
  char head[600];
  int n = snprintf(head, sizeof head, "%s%c%s%c%lld%c%lld%c%u%c", scenario ? scenario : "", 0,
                   p->name, 0, repetition, 0, (long long)start_ms, 0, count, 0);
  uint64_t h = fnv1a(0xcbf29ce484222325ull, head, n > 0 ? (size_t)n : 0);
  if (ptext) h = fnv1a(h, ptext, strlen(ptext));
  cJSON_free(ptext);
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void job_shard_run_id(const struct job_shard *s, uint64_t invocation_token, const char *scenario,
                      const struct job_params *p, int64_t start_ms, char out[17]) {
  if (s && s->count) {
    job_shard_run_key(scenario, p, 0, start_ms, s->count, out);
    return;
  }
  char tok[8];
  memcpy(tok, &invocation_token, sizeof tok);
  uint64_t h = fnv1a(0xcbf29ce484222325ull, tok, sizeof tok);
  h = fnv1a(h, p->name, strlen(p->name));
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

uint64_t job_shard_invocation_token(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) r = 0;
  uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  return r ^ (t * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)getpid() << 32);
}

/* ---- the clock check ----------------------------------------------------------------- */

enum rb_err job_clock_judge(const struct job_clock_offset *o, double tolerance_ms,
                            const char *server, char *err, size_t errlen) {
  if (o->lo_ms > tolerance_ms)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "this machine's clock is behind %s's by at least %.0f ms (between %.0f and "
                     "%.0f ms, from its Date header), more than --clock-tolerance-ms %.0f: "
                     "synchronise the clock (NTP, chrony) before a sharded or --start-at run",
                     server, o->lo_ms, o->lo_ms, o->hi_ms, tolerance_ms);
  if (o->hi_ms < -tolerance_ms)
    return rb_errorf(RB_ERR_RANGE, err, errlen,
                     "this machine's clock is ahead of %s's by at least %.0f ms (between %.0f and "
                     "%.0f ms, from its Date header), more than --clock-tolerance-ms %.0f: "
                     "synchronise the clock (NTP, chrony) before a sharded or --start-at run",
                     server, -o->hi_ms, -o->hi_ms, -o->lo_ms, tolerance_ms);
  return RB_OK;
}
