/* job_compare_sweep.c: `rbench compare` of two capacity sweeps (sweep.json summaries, see
 * job_compare_sweep.h): the curves side by side, the max sustainable rates and their ratio. */
#define _GNU_SOURCE
#include "job_compare_sweep.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "job_config.h"
#include "job_exit.h"
#include "job_sweep.h"
#include "rb_json.h"

#define SUMMARY_MAX_BYTES (1u << 20) /* a file this big is a results document, not a summary */

/* "a.b" lookup of a number in a sweep summary; NAN when missing or not a number. */
static double num_at(const cJSON *o, const char *a, const char *b) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
  return cJSON_IsNumber(x) ? x->valuedouble : (double)NAN;
}

static double or_zero(double v) { return isfinite(v) ? v : 0; }

bool job_compare_sweep_find(const char *path, char *summary, size_t len) {
  struct stat st;
  if (stat(path, &st) != 0) return false;
  if (S_ISDIR(st.st_mode)) {
    snprintf(summary, len, "%s/sweep.json", path);
    return stat(summary, &st) == 0 && S_ISREG(st.st_mode);
  }
  if (!S_ISREG(st.st_mode) || st.st_size > (off_t)SUMMARY_MAX_BYTES) return false;
  size_t n = 0;
  char *text = job_read_file(path, &n);
  cJSON *doc = NULL;
  char err[200];
  bool is = text && rb_json_parse(text, n, &doc, err, sizeof err) == RB_OK &&
            cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "kind")) &&
            !strcmp(cJSON_GetObjectItemCaseSensitive(doc, "kind")->valuestring, "sweep");
  cJSON_Delete(doc);
  free(text);
  if (is) snprintf(summary, len, "%s", path);
  return is;
}

static const cJSON *step_at(const cJSON *summary, double rate) {
  const cJSON *st;
  cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(
                             summary, "steps")) if (fabs(num_at(st, "rate", NULL) - rate) <
                                                    0.0005) return st;
  return NULL;
}

static cJSON *curve_point(const cJSON *st) {
  if (!st) return cJSON_CreateNull();
  cJSON *o = cJSON_CreateObject();
  static const char *const keys[] = {"achieved_rate", "throughput", "p50_ms",        "p99_ms",
                                     "error_rate",    "met_slo",    "runner_limited"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(st, keys[i]);
    cJSON_AddItemToObject(o, keys[i], x ? cJSON_Duplicate(x, true) : cJSON_CreateNull());
  }
  return o;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static cJSON *curve_json(const cJSON *a, const cJSON *b) {
  double rates[2 * JOB_SWEEP_MAX_STEPS];
  size_t n = 0;
  const cJSON *sides[2] = {a, b}, *st;
  for (int s = 0; s < 2; s++)
    cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(sides[s], "steps")) {
      double r = num_at(st, "rate", NULL);
      bool seen = !isfinite(r);
      for (size_t i = 0; i < n && !seen; i++) seen = fabs(rates[i] - r) < 0.0005;
      if (!seen && n < sizeof rates / sizeof rates[0]) rates[n++] = r;
    }
  qsort(rates, n, sizeof *rates, cmp_double);
  cJSON *curve = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "rate", rates[i]);
    cJSON_AddItemToObject(p, "a", curve_point(step_at(a, rates[i])));
    cJSON_AddItemToObject(p, "b", curve_point(step_at(b, rates[i])));
    cJSON_AddItemToArray(curve, p);
  }
  return curve;
}

static cJSON *side_json(const cJSON *s, const char *label) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "path", label);
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(s, "run");
  cJSON_AddStringToObject(o, "run", cJSON_IsString(run) ? run->valuestring : "");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "max_sustainable_rate");
  cJSON_AddItemToObject(o, "max_sustainable_rate",
                        cJSON_IsNumber(m) ? cJSON_CreateNumber(m->valuedouble)
                                          : cJSON_CreateNull());
  cJSON_AddBoolToObject(
      o, "at_least",
      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "max_sustainable_rate_at_least")));
  const cJSON *slo = cJSON_GetObjectItemCaseSensitive(s, "slo");
  cJSON_AddItemToObject(o, "slo", slo ? cJSON_Duplicate(slo, true) : cJSON_CreateNull());
  cJSON_AddBoolToObject(o, "complete",
                        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "complete")));
  return o;
}

/* The ratio B/A of the max sustainable rates and what kind of bound it is. */
static void add_ratio(cJSON *o, const cJSON *sa, const cJSON *sb) {
  double a = num_at(sa, "max_sustainable_rate", NULL), b = num_at(sb, "max_sustainable_rate", NULL);
  bool la = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sa, "at_least"));
  bool lb = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sb, "at_least"));
  if (!isfinite(a) || !isfinite(b) || a <= 0) {
    cJSON_AddNullToObject(o, "ratio");
    cJSON_AddStringToObject(o, "ratio_bound", "none");
    return;
  }
  cJSON_AddNumberToObject(o, "ratio", b / a);
  cJSON_AddStringToObject(o, "ratio_bound",
                          la && lb ? "unknown"
                          : lb     ? "at_least"
                          : la     ? "at_most"
                                   : "exact");
}

cJSON *job_compare_sweep_json(const cJSON *a, const char *a_label, const cJSON *b,
                              const char *b_label) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "kind", "sweep_comparison");
  cJSON *sa = side_json(a, a_label), *sb = side_json(b, b_label);
  cJSON_AddItemToObject(o, "a", sa);
  cJSON_AddItemToObject(o, "b", sb);
  add_ratio(o, sa, sb);
  char *ta = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, "slo"));
  char *tb = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(b, "slo"));
  cJSON_AddBoolToObject(o, "same_slo", ta && tb && !strcmp(ta, tb));
  cJSON_free(ta);
  cJSON_free(tb);
  cJSON_AddItemToObject(o, "curve", curve_json(a, b));
  return o;
}

static void print_point(FILE *out, const cJSON *p) {
  if (!cJSON_IsObject(p)) {
    fprintf(out, " %9s %8s %8s %7s %-9s", "-", "-", "-", "-", "not run");
    return;
  }
  double p50 = num_at(p, "p50_ms", NULL), p99 = num_at(p, "p99_ms", NULL);
  char s50[32] = "-", s99[32] = "-";
  if (isfinite(p50)) snprintf(s50, sizeof s50, "%.2f", p50);
  if (isfinite(p99)) snprintf(s99, sizeof s99, "%.2f", p99);
  bool met = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "met_slo"));
  bool lim = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "runner_limited"));
  char verdict[16];
  snprintf(verdict, sizeof verdict, "%s%s", met ? "met" : "FAILED", lim ? "*" : "");
  fprintf(out, " %9.1f %8s %8s %6.2f%% %-9s", or_zero(num_at(p, "achieved_rate", NULL)), s50, s99,
          or_zero(num_at(p, "error_rate", NULL)) * 100, verdict);
}

static void rate_text(const cJSON *side, char *buf, size_t len) {
  double m = num_at(side, "max_sustainable_rate", NULL);
  if (!isfinite(m)) snprintf(buf, len, "none (no step met the SLO)");
  else
    snprintf(buf, len, "%s%g/s",
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(side, "at_least")) ? "at least " : "",
             m);
}

void job_compare_sweep_print(FILE *out, const cJSON *cmp) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(cmp, "a"),
              *b = cJSON_GetObjectItemCaseSensitive(cmp, "b");
  const char *la = cJSON_GetObjectItemCaseSensitive(a, "path")->valuestring;
  const char *lb = cJSON_GetObjectItemCaseSensitive(b, "path")->valuestring;
  fprintf(out, "A: %s (run %s)\nB: %s (run %s)\n\n", la,
          cJSON_GetObjectItemCaseSensitive(a, "run")->valuestring, lb,
          cJSON_GetObjectItemCaseSensitive(b, "run")->valuestring);
  fprintf(out, "%10s |%-46s |%-46s\n", "", " A", " B");
  fprintf(out, "%10s |", "rate (/s)");
  for (int i = 0; i < 2; i++)
    fprintf(out, " %9s %8s %8s %7s %-9s%s", "achieved", "p50 ms", "p99 ms", "errors", "SLO",
            i ? "\n" : " |");
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(cmp, "curve")) {
    fprintf(out, "%10g |", num_at(p, "rate", NULL));
    print_point(out, cJSON_GetObjectItemCaseSensitive(p, "a"));
    fprintf(out, " |");
    print_point(out, cJSON_GetObjectItemCaseSensitive(p, "b"));
    fprintf(out, "\n");
  }
  char ra[64], rb[64];
  rate_text(a, ra, sizeof ra);
  rate_text(b, rb, sizeof rb);
  bool limited = false; /* the footnote only when a step carries its mark */
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(cmp, "curve")) {
    for (int s = 0; s < 2; s++)
      limited |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(p, s ? "b" : "a"), "runner_limited"));
  }
  fprintf(out, "\n");
  if (limited)
    fprintf(out,
            "(* runner-limited: the runner could not keep the schedule; see the summary's "
            "runner_note)\n");
  fprintf(out, "max sustainable rate: A %s, B %s\n", ra, rb);
  double ratio = num_at(cmp, "ratio", NULL);
  const char *bound = cJSON_GetObjectItemCaseSensitive(cmp, "ratio_bound")->valuestring;
  if (!isfinite(ratio)) fprintf(out, "ratio B/A: not defined (a side has no sustainable rate)\n");
  else if (!strcmp(bound, "unknown"))
    fprintf(out,
            "ratio B/A: %.2fx, but both rates are lower bounds: extend both sweeps to know it\n",
            ratio);
  else
    fprintf(out, "ratio B/A: %s%.2fx\n",
            !strcmp(bound, "at_least")  ? "at least "
            : !strcmp(bound, "at_most") ? "at most "
                                        : "",
            ratio);
  if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cmp, "same_slo")))
    fprintf(out, "warning: the two sweeps were judged against different SLOs\n");
}

cJSON *job_compare_sweep_load(const char *path) {
  size_t n = 0;
  char *text = job_read_file(path, &n), err[200];
  cJSON *doc = NULL;
  if (!text) fprintf(stderr, "rbench compare: cannot read %s\n", path);
  else if (rb_json_parse(text, n, &doc, err, sizeof err) != RB_OK)
    fprintf(stderr, "rbench compare: %s: %s\n", path, err);
  free(text);
  return doc;
}

int job_compare_sweep_main(const char *a, const char *b, bool json) {
  char pa[PATH_MAX], pb[PATH_MAX];
  bool wa = job_compare_sweep_find(a, pa, sizeof pa), wb = job_compare_sweep_find(b, pb, sizeof pb);
  if (!wa && !wb) return -1;
  if (!wa || !wb) {
    fprintf(stderr,
            "rbench compare: %s is a sweep but %s is not: compare two sweeps (sweep.json "
            "or its directory) or two sets of results documents\n",
            wa ? a : b, wa ? b : a);
    return JOB_EXIT_CONFIG;
  }
  cJSON *da = job_compare_sweep_load(pa), *db = da ? job_compare_sweep_load(pb) : NULL;
  int rc = da && db ? JOB_EXIT_OK : JOB_EXIT_FAILURE;
  cJSON *cmp = rc == JOB_EXIT_OK ? job_compare_sweep_json(da, pa, db, pb) : NULL;
  if (cmp && json) {
    char *t = cJSON_Print(cmp);
    if (t) printf("%s\n", t);
    cJSON_free(t);
  } else if (cmp) {
    job_compare_sweep_print(stdout, cmp);
  }
  cJSON_Delete(cmp);
  cJSON_Delete(da);
  cJSON_Delete(db);
  return rc;
}
