/* job_json_write.h: JSON text written by hand, for the runner's hot path (one raw_results line
 * per invocation, job_record_write): a string literal straight to a FILE, and a small buffer
 * that builds a line and writes it with one fwrite. Owns nothing but the buffer it is given. */
#ifndef JOB_JSON_WRITE_H
#define JOB_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes s as a JSON string literal (quotes included). */
void job_json_write_string(FILE *f, const char *s);

/* A line built in one buffer and written with one fwrite (more goes out as it fills). */
struct job_json_wbuf {
  FILE *f;
  size_t n, total; /* bytes buffered; bytes written in all */
  char b[2048];
};

void job_json_wb_flush(struct job_json_wbuf *w);
void job_json_wb_put(struct job_json_wbuf *w, const char *s, size_t n);
#define JOB_JSON_WB_LIT(w, lit) job_json_wb_put((w), (lit), sizeof(lit) - 1)
void job_json_wb_str(struct job_json_wbuf *w, const char *s);
void job_json_wb_u64(struct job_json_wbuf *w, uint64_t v);
/* Thousandths as a decimal with exactly three places: 12345 -> "12.345", -5 -> "-0.005". */
void job_json_wb_milli(struct job_json_wbuf *w, int64_t thousandths);
/* ,"name":ms with three decimals (null when negative or unknown). */
void job_json_wb_ms_or_null(struct job_json_wbuf *w, const char *name, double ms);
/* ,"name":us/1000 with three decimals. */
void job_json_wb_us_as_ms(struct job_json_wbuf *w, const char *name, int64_t us);
/* s as a JSON string literal. */
void job_json_wb_json_string(struct job_json_wbuf *w, const char *s);

#endif
