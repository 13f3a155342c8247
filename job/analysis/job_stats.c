/* job_stats.c: Mann-Whitney U and bootstrap intervals (see job_stats.h). */
#include "job_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void job_sort_doubles(double *v, size_t n) {
  if (n > 1) qsort(v, n, sizeof *v, cmp_double);
}

double job_quantile_sorted(const double *sorted, size_t n, double p) {
  if (p <= 0.0) return sorted[0];
  if (p >= 100.0) return sorted[n - 1];
  double rank = ceil(p / 100.0 * (double)n - 1e-9);
  size_t idx = rank < 1.0 ? 0 : (size_t)rank - 1;
  return sorted[idx < n ? idx : n - 1];
}

struct tagged {
  double v;
  int group; /* 0 = x, 1 = y */
};

static int cmp_tagged(const void *a, const void *b) {
  return cmp_double(&((const struct tagged *)a)->v, &((const struct tagged *)b)->v);
}

/* Sums average ranks of group 0 into *r1 and the tie term sum(t^3 - t) into *ties. */
static void rank_sums(struct tagged *all, size_t n, double *r1, double *ties) {
  *r1 = 0;
  *ties = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && all[j + 1].v == all[i].v) j++;
    double avg = ((double)(i + 1) + (double)(j + 1)) / 2.0;
    double t = (double)(j - i + 1);
    if (t > 1) *ties += t * t * t - t;
    for (size_t k = i; k <= j; k++)
      if (all[k].group == 0) *r1 += avg;
    i = j + 1;
  }
}

void job_mwu_exact_counts(size_t n1, size_t n2, double *counts) {
  /* f(i, j, u): arrangements of i x's and j y's with U = u. Row-by-row DP over i with a
   * table for every j: f(i,j,u) = f(i-1,j,u-j) + f(i,j-1,u). */
  size_t umax = n1 * n2;
  double *prev = calloc((n2 + 1) * (umax + 1), sizeof *prev);
  double *cur = calloc((n2 + 1) * (umax + 1), sizeof *cur);
  if (!prev || !cur) {
    free(prev);
    free(cur);
    memset(counts, 0, (umax + 1) * sizeof *counts);
    return;
  }
  for (size_t j = 0; j <= n2; j++) prev[j * (umax + 1)] = 1; /* i = 0: only U = 0 */
  for (size_t i = 1; i <= n1; i++) {
    memset(cur, 0, (n2 + 1) * (umax + 1) * sizeof *cur);
    cur[0] = 1; /* j = 0 */
    for (size_t j = 1; j <= n2; j++) {
      for (size_t u = 0; u <= i * j; u++) {
        double a = u >= j ? prev[j * (umax + 1) + u - j] : 0;
        double b = cur[(j - 1) * (umax + 1) + u];
        cur[j * (umax + 1) + u] = a + b;
      }
    }
    double *t = prev;
    prev = cur;
    cur = t;
  }
  memcpy(counts, prev + n2 * (umax + 1), (umax + 1) * sizeof *counts);
  free(prev);
  free(cur);
}

static double exact_p(size_t n1, size_t n2, double u_min) {
  size_t umax = n1 * n2;
  double *counts = malloc((umax + 1) * sizeof *counts);
  if (!counts) return (double)NAN;
  job_mwu_exact_counts(n1, n2, counts);
  double total = 0, tail = 0;
  for (size_t u = 0; u <= umax; u++) {
    total += counts[u];
    if ((double)u <= u_min + 1e-9) tail += counts[u];
  }
  free(counts);
  double p = 2.0 * tail / total;
  return p > 1.0 ? 1.0 : p;
}

enum rb_err job_mwu_test(const double *x, size_t n1, const double *y, size_t n2,
                         struct job_mwu *out) {
  memset(out, 0, sizeof *out);
  if (n1 == 0 || n2 == 0) return RB_ERR_INVALID;
  size_t n = n1 + n2;
  struct tagged *all = malloc(n * sizeof *all);
  if (!all) return RB_ERR_NOMEM;
  for (size_t i = 0; i < n1; i++) all[i] = (struct tagged){x[i], 0};
  for (size_t i = 0; i < n2; i++) all[n1 + i] = (struct tagged){y[i], 1};
  qsort(all, n, sizeof *all, cmp_tagged);
  double r1, ties;
  rank_sums(all, n, &r1, &ties);
  free(all);
  double nn = (double)n1 * (double)n2;
  out->n1 = n1;
  out->n2 = n2;
  out->u1 = r1 - (double)n1 * ((double)n1 + 1) / 2.0;
  out->u = fmin(out->u1, nn - out->u1);
  out->a12 = out->u1 / nn;
  if (ties == 0 && n1 * n2 <= JOB_MWU_EXACT_MAX) {
    out->exact = true;
    out->p = exact_p(n1, n2, out->u);
    return isnan(out->p) ? RB_ERR_NOMEM : RB_OK;
  }
  double dn = (double)n;
  double var = nn / 12.0 * ((dn + 1) - ties / (dn * (dn - 1)));
  double diff = fabs(out->u1 - nn / 2.0);
  if (var <= 0) {
    out->p = 1.0; /* every value equal */
    return RB_OK;
  }
  out->z = fmax(0.0, diff - 0.5) / sqrt(var);
  out->p = erfc(out->z / sqrt(2.0));
  if (out->p > 1.0) out->p = 1.0;
  return RB_OK;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static size_t draw(uint64_t *s, size_t n) { return (size_t)(xorshift(s) % n); }

/* Copies src into a new array of at most JOB_BOOTSTRAP_MAX_N values (random subsample). */
static double *bootstrap_base(const double *src, size_t n, uint64_t *rng, size_t *out_n) {
  size_t m = n > JOB_BOOTSTRAP_MAX_N ? JOB_BOOTSTRAP_MAX_N : n;
  double *v = malloc(m * sizeof *v);
  if (!v) return NULL;
  for (size_t i = 0; i < m; i++) v[i] = m == n ? src[i] : src[draw(rng, n)];
  *out_n = m;
  return v;
}

static double resample_quantile(const double *v, size_t n, double *tmp, uint64_t *rng, double p) {
  for (size_t i = 0; i < n; i++) tmp[i] = v[draw(rng, n)];
  job_sort_doubles(tmp, n);
  return job_quantile_sorted(tmp, n, p);
}

static double full_quantile(const double *v, size_t n, double p, bool *ok) {
  double *t = malloc(n * sizeof *t);
  if (!t) {
    *ok = false;
    return 0;
  }
  memcpy(t, v, n * sizeof *t);
  job_sort_doubles(t, n);
  double q = job_quantile_sorted(t, n, p);
  free(t);
  return q;
}

enum rb_err job_bootstrap_quantile_diff(const double *a, size_t na, const double *b, size_t nb,
                                        double p, unsigned resamples, uint64_t seed, double level,
                                        struct job_ci *out) {
  memset(out, 0, sizeof *out);
  if (na == 0 || nb == 0 || resamples == 0) return RB_ERR_INVALID;
  bool ok = true;
  out->estimate = full_quantile(b, nb, p, &ok) - full_quantile(a, na, p, &ok);
  uint64_t rng = seed ? seed : 0x9E3779B97F4A7C15ull;
  size_t ma = 0, mb = 0;
  double *va = bootstrap_base(a, na, &rng, &ma), *vb = bootstrap_base(b, nb, &rng, &mb);
  double *tmp = malloc((ma > mb ? ma : mb) * sizeof *tmp);
  double *diffs = malloc(resamples * sizeof *diffs);
  enum rb_err rc = RB_ERR_NOMEM;
  if (ok && va && vb && tmp && diffs) {
    for (unsigned r = 0; r < resamples; r++)
      diffs[r] = resample_quantile(vb, mb, tmp, &rng, p) - resample_quantile(va, ma, tmp, &rng, p);
    job_sort_doubles(diffs, resamples);
    double tail = (1.0 - level) / 2.0 * 100.0;
    out->lo = job_quantile_sorted(diffs, resamples, tail);
    out->hi = job_quantile_sorted(diffs, resamples, 100.0 - tail);
    rc = RB_OK;
  }
  free(va);
  free(vb);
  free(tmp);
  free(diffs);
  return rc;
}
