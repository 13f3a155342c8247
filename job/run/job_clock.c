/* job_clock.c: the clock probe over HTTP (libcurl), see job_clock.h. */
#define _GNU_SOURCE
#include "job_clock.h"

#include <curl/curl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rb_clock.h"

struct date_sink {
  time_t date;
  bool have;
};

static size_t on_header(char *b, size_t size, size_t n, void *arg) {
  struct date_sink *d = arg;
  size_t len = size * n;
  if (len > 5 && !strncasecmp(b, "Date:", 5)) {
    char v[100];
    size_t vl = len - 5 < sizeof v - 1 ? len - 5 : sizeof v - 1;
    memcpy(v, b + 5, vl);
    v[vl] = '\0';
    time_t t = curl_getdate(v, NULL);
    if (t != (time_t)-1) d->date = t, d->have = true;
  }
  return len;
}

static size_t discard(char *b, size_t size, size_t n, void *arg) {
  (void)b;
  (void)arg;
  return size * n;
}

enum rb_err job_clock_probe(const char *url, const char *cafile, bool insecure,
                            struct job_clock_offset *out, char *err, size_t errlen) {
  CURL *c = curl_easy_init();
  if (!c) return rb_errorf(RB_ERR_NOMEM, err, errlen, "cannot start libcurl");
  char ebuf[CURL_ERROR_SIZE] = "";
  struct date_sink d = {0};
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &d);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  if (cafile) curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
  if (insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  *out = (struct job_clock_offset){.lo_ms = -(double)INFINITY, .hi_ms = (double)INFINITY};
  enum rb_err rc = RB_OK;
  for (int i = 0; i < JOB_CLOCK_PROBES && rc == RB_OK; i++) {
    if (i) usleep(JOB_CLOCK_SPACING_MS * 1000);
    d.have = false;
    int64_t t0 = rb_clock_wall_us();
    CURLcode cr = curl_easy_perform(c);
    curl_off_t pre = 0, first = 0;
    curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &first);
    if (cr != CURLE_OK) {
      rc = rb_errorf(RB_ERR_IO, err, errlen, "cannot reach %s to check the clock: %s", url,
                     ebuf[0] ? ebuf : curl_easy_strerror(cr));
    } else if (!d.have) {
      rc = rb_errorf(RB_ERR_PROTOCOL, err, errlen,
                     "%s answered without a Date header: cannot check the clock against it", url);
    } else {
      /* The server stamped Date between our send and the answer's first byte; Date is that
       * moment truncated to the second. */
      double sent_ms = (double)(t0 + (int64_t)pre) / 1000.0;
      double first_ms = (double)(t0 + (int64_t)(first ? first : pre)) / 1000.0;
      double date_ms = (double)d.date * 1000.0;
      double lo = date_ms - first_ms, hi = date_ms + 1000.0 - sent_ms;
      if (lo > out->lo_ms) out->lo_ms = lo;
      if (hi < out->hi_ms) out->hi_ms = hi;
      out->probes++;
    }
  }
  curl_easy_cleanup(c);
  if (rc == RB_OK && out->lo_ms > out->hi_ms) {
    /* The probes disagree (a clock stepped meanwhile): no bound is trustworthy. */
    return rb_errorf(RB_ERR_PROTOCOL, err, errlen,
                     "the clock probes of %s disagree (did a clock step?): try again", url);
  }
  return rc;
}
