/* job_curl_err.c: libcurl failures classified (see job_curl_err.h). */
#include "job_curl_err.h"

enum job_outcome job_curl_err_outcome(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: return JOB_ERR_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return JOB_ERR_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR: return JOB_ERR_TLS;
    case CURLE_ABORTED_BY_CALLBACK: return JOB_ERR_ABORTED;
    default: return JOB_ERR_TRANSPORT;
  }
}
