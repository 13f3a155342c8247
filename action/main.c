/* main.c: rbench-action, an OpenWhisk action that runs Redis operations directly, batched by
 * itself (placement runtime) or through the batching agent. Serves the action protocol over HTTP
 * (docker action) or ActionLoop. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "action_exec.h"
#include "action_http.h"
#include "action_loop.h"
#include "action_protocol.h"
#include "rb_env.h"
#include "rb_log.h"
#include "rb_str.h"
#include "rb_version.h"

#define EXIT_USAGE 2

static void usage(FILE *out) {
  fprintf(out,
          "Usage: rbench-action [--listen HOST:PORT] [--threads N] [--actionloop]\n"
          "                     [--request-timeout-ms N] [--log-level LEVEL]\n"
          "\n"
          "An OpenWhisk action that runs Redis operations (a mix of set, get, del, exists,\n"
          "incr, mget, mset, hset, hget, hgetall, lpush, lrange, sadd, smembers, zadd,\n"
          "zrangebyscore, eval) directly against Redis, batched by this process across the\n"
          "activations it serves at once, or through the rbench batching agent, and reports\n"
          "their timings per operation type.\n"
          "\n"
          "  --listen HOST:PORT  serve POST /init and POST /run here (default 0.0.0.0:8080)\n"
          "  --threads N         serve up to N connections at once, a thread each, started\n"
          "                      as they arrive (1-1024, default 64; raise it for actions\n"
          "                      created with --concurrency above 64)\n"
          "  --request-timeout-ms N\n"
          "                      a request must arrive whole within N ms of its first\n"
          "                      byte (else 408), and its answer be read within N ms (else\n"
          "                      the connection closes); 1-3600000, default 60000\n"
          "  --actionloop        ActionLoop mode: one JSON line per activation on stdin, the\n"
          "                      answer on file descriptor 3 (automatic when __OW_PROXY_VERSION\n"
          "                      is set by OpenWhisk's ActionLoop proxy). One activation at a\n"
          "                      time: a line that arrives while one runs waits for its answer;\n"
          "                      the proxy does not serialise calls, so give such an action\n"
          "                      concurrency 1 (the HTTP mode serves concurrent activations)\n"
          "  --log-level LEVEL   debug, info, warn, error or off (default info; env RBENCH_LOG)\n"
          "  --help              show this help\n"
          "  --version           show the version\n"
          "\n"
          "Parameters (in /run's value): num_ops, operation_type, parallel_calls, key_prefix,\n"
          "value_size, key_space, timeout_ms, redis_host, redis_port, redis_password; where the\n"
          "operations are batched: placement (direct, runtime: this process batches every\n"
          "concurrent activation's operations over shared connections, agent: through the\n"
          "layer at agent_host, agent_port, agent_password; use_batching true = agent),\n"
          "batch_connections, batch_wait_us, batch_coalesce (runtime); the workload: mix,\n"
          "keys_per_command, structure_size, range_span, script_work, key_distribution,\n"
          "zipf_exponent, hotspot_keys, hotspot_ops, gaussian_stddev, value_size_range,\n"
          "value_size_list, seed, invocation; prepare, prepare_first, prepare_count (write the\n"
          "data the workload reads instead of running it). Endpoints fall back to the\n"
          "environment: REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, BATCHING_AGENT_HOST,\n"
          "BATCHING_AGENT_PORT, BATCHING_AGENT_PASSWORD. See docs/action.md.\n");
}

struct options {
  char host[256];
  int port;
  int threads;
  int request_ms;
  int actionloop;
};

static int parse_options(int argc, char **argv, struct options *o) {
  static const struct option longopts[] = {{"listen", required_argument, NULL, 'l'},
                                           {"actionloop", no_argument, NULL, 'a'},
                                           {"threads", required_argument, NULL, 't'},
                                           {"request-timeout-ms", required_argument, NULL, 'r'},
                                           {"log-level", required_argument, NULL, 'L'},
                                           {"help", no_argument, NULL, 'h'},
                                           {"version", no_argument, NULL, 'V'},
                                           {NULL, 0, NULL, 0}};
  char err[256];
  int ch;
  snprintf(o->host, sizeof o->host, "0.0.0.0");
  o->port = 8080;
  o->threads = ACTION_HTTP_THREADS_DEFAULT;
  o->request_ms = ACTION_HTTP_REQUEST_MS;
  o->actionloop = getenv("__OW_PROXY_VERSION") != NULL;
  const char *lvl = getenv("RBENCH_LOG");
  if (lvl && rb_log_level_parse(lvl) >= 0)
    rb_log_set_level((enum rb_log_level)rb_log_level_parse(lvl));
  opterr = 0;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
      case 'l':
        if (rb_parse_hostport(optarg, o->host, sizeof o->host, &o->port, err, sizeof err) !=
            RB_OK) {
          fprintf(stderr, "rbench-action: --listen: %s\n", err);
          return EXIT_USAGE;
        }
        break;
      case 'a': o->actionloop = 1; break;
      case 't': {
        long long n;
        if (!rb_parse_ll(optarg, 1, ACTION_HTTP_THREADS_MAX, &n)) {
          fprintf(stderr, "rbench-action: --threads must be an integer from 1 to %d, got '%s'\n",
                  ACTION_HTTP_THREADS_MAX, optarg);
          return EXIT_USAGE;
        }
        o->threads = (int)n;
        break;
      }
      case 'r': {
        long long n;
        if (!rb_parse_ll(optarg, 1, 3600000, &n)) {
          fprintf(stderr,
                  "rbench-action: --request-timeout-ms must be an integer from 1 to 3600000, "
                  "got '%s'\n",
                  optarg);
          return EXIT_USAGE;
        }
        o->request_ms = (int)n;
        break;
      }
      case 'L':
        if (rb_log_level_parse(optarg) < 0) {
          fprintf(stderr, "rbench-action: --log-level must be debug, info, warn, error or off\n");
          return EXIT_USAGE;
        }
        rb_log_set_level((enum rb_log_level)rb_log_level_parse(optarg));
        break;
      case 'h': usage(stdout); return 0;
      case 'V': printf("rbench-action %s (%s)\n", RBENCH_VERSION, RBENCH_GIT_COMMIT); return 0;
      default:
        fprintf(stderr, "rbench-action: unknown or incomplete option '%s' (see --help)\n",
                argv[optind - 1]);
        return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "rbench-action: unexpected argument '%s' (see --help)\n", argv[optind]);
    return EXIT_USAGE;
  }
  return -1;
}

static int serve_actionloop(struct action_ctx *ctx) {
  if (fcntl(3, F_GETFD) < 0) {
    fprintf(stderr, "rbench-action: ActionLoop mode needs file descriptor 3 open for answers\n");
    return EXIT_USAGE;
  }
  ctx->initialized = true; /* the proxy handled /init */
  int ack = getenv("__OW_WAIT_FOR_ACK") != NULL;
  return action_loop_serve(ctx, stdin, 3, ack);
}

static int serve_http(struct action_ctx *ctx, const struct options *o) {
  char err[256];
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads inherit the mask; the signalfd below */
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0) {
    fprintf(stderr, "rbench-action: signalfd: %s\n", strerror(errno));
    return 1;
  }
  struct action_http *srv = action_http_start(ctx, o->host, o->port, o->threads, err, sizeof err);
  if (!srv) {
    fprintf(stderr, "rbench-action: %s\n", err);
    close(sfd);
    return 1;
  }
  action_http_set_request_timeout(srv, o->request_ms);
  rb_info("rbench-action %s listening on %s:%d", RBENCH_VERSION, o->host, action_http_port(srv));
  action_http_serve(srv, sfd);
  struct signalfd_siginfo si;
  if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
    rb_info("stopped on signal %u", si.ssi_signo);
  action_http_free(srv);
  close(sfd);
  return 0;
}

int main(int argc, char **argv) {
  rb_log_set_program("rbench-action");
  signal(SIGPIPE, SIG_IGN);
  struct options o;
  int rc = parse_options(argc, argv, &o);
  if (rc >= 0) return rc;
  struct action_exec *ex = action_exec_create();
  if (!ex) {
    fprintf(stderr, "rbench-action: out of memory\n");
    return 1;
  }
  struct action_ctx ctx;
  action_ctx_init(&ctx, action_exec_run, ex);
  rc = o.actionloop ? serve_actionloop(&ctx) : serve_http(&ctx, &o);
  action_ctx_deinit(&ctx);
  action_exec_destroy(ex);
  return rc;
}
