/* job_json_write.c: writing JSON text fast, by hand (see job_json_write.h). */
#include "job_json_write.h"

#include <math.h>
#include <string.h>

void job_json_write_string(FILE *f, const char *s) {
  putc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      putc('\\', f);
      putc(*p, f);
    } else if (*p < 0x20) {
      fprintf(f, "\\u%04x", *p);
    } else {
      putc(*p, f);
    }
  }
  putc('"', f);
}

void job_json_wb_flush(struct job_json_wbuf *w) {
  if (w->n) fwrite(w->b, 1, w->n, w->f);
  w->total += w->n;
  w->n = 0;
}

void job_json_wb_put(struct job_json_wbuf *w, const char *s, size_t n) {
  if (n > sizeof w->b - w->n) {
    job_json_wb_flush(w);
    if (n > sizeof w->b) {
      fwrite(s, 1, n, w->f);
      w->total += n;
      return;
    }
  }
  memcpy(w->b + w->n, s, n);
  w->n += n;
}

#define JOB_JSON_WB_LIT(w, lit) job_json_wb_put((w), (lit), sizeof(lit) - 1)

void job_json_wb_str(struct job_json_wbuf *w, const char *s) { job_json_wb_put(w, s, strlen(s)); }

void job_json_wb_u64(struct job_json_wbuf *w, uint64_t v) {
  char t[24];
  size_t i = sizeof t;
  do {
    t[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  job_json_wb_put(w, t + i, sizeof t - i);
}

/* Thousandths as a decimal with exactly three places: 12345 -> "12.345", -5 -> "-0.005". */
void job_json_wb_milli(struct job_json_wbuf *w, int64_t thousandths) {
  uint64_t a = thousandths < 0 ? (uint64_t)0 - (uint64_t)thousandths : (uint64_t)thousandths;
  if (thousandths < 0) JOB_JSON_WB_LIT(w, "-");
  job_json_wb_u64(w, a / 1000);
  char frac[4] = {'.', (char)('0' + a / 100 % 10), (char)('0' + a / 10 % 10), (char)('0' + a % 10)};
  job_json_wb_put(w, frac, 4);
}

/* ,"name":%.3f (null when negative); integer arithmetic for ordinary values. */
void job_json_wb_ms_or_null(struct job_json_wbuf *w, const char *name, double ms) {
  JOB_JSON_WB_LIT(w, ",\"");
  job_json_wb_str(w, name);
  JOB_JSON_WB_LIT(w, "\":");
  if (!(ms >= 0)) {
    JOB_JSON_WB_LIT(w, "null");
  } else if (ms < 1e12) {
    job_json_wb_milli(w, llround(ms * 1000.0));
  } else {
    char t[400];
    int n = snprintf(t, sizeof t, "%.3f", ms);
    if (n > 0) job_json_wb_put(w, t, (size_t)n < sizeof t ? (size_t)n : sizeof t - 1);
  }
}

/* ,"name":us/1000 with three decimals. */
void job_json_wb_us_as_ms(struct job_json_wbuf *w, const char *name, int64_t us) {
  JOB_JSON_WB_LIT(w, ",\"");
  job_json_wb_str(w, name);
  JOB_JSON_WB_LIT(w, "\":");
  job_json_wb_milli(w, us);
}

void job_json_wb_json_string(struct job_json_wbuf *w, const char *s) {
  static const char hex[] = "0123456789abcdef";
  JOB_JSON_WB_LIT(w, "\"");
  const char *run = s;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p != '"' && *p != '\\' && *p >= 0x20) continue;
    job_json_wb_put(w, run, (size_t)((const char *)p - run));
    if (*p == '"' || *p == '\\') {
      char esc[2] = {'\\', (char)*p};
      job_json_wb_put(w, esc, 2);
    } else {
      char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
      job_json_wb_put(w, esc, 6);
    }
    run = (const char *)p + 1;
  }
  job_json_wb_str(w, run);
  JOB_JSON_WB_LIT(w, "\"");
}
