/* job_curl_err.h: what a failed libcurl transfer means for rbench, for every module that
 * talks HTTP (the openwhisk target, the ConfigMap writer). */
#ifndef JOB_CURL_ERR_H
#define JOB_CURL_ERR_H

#include <curl/curl.h>

#include "job_record.h"

/* Classifies a curl failure into an outcome (timeout, connect, tls, transport, aborted). */
enum job_outcome job_curl_err_outcome(CURLcode code);

#endif
