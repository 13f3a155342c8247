/* job_local.c: the local target: a warm pool of rbench-action processes on loopback, driven
 * over the action protocol exactly as an OpenWhisk invoker drives a container.
 *
 *   invocation ─► idle warm worker? ── yes ─► POST /run
 *                      │ no
 *                      └─► fork+exec rbench-action --listen 127.0.0.1:PORT (cold start)
 *                          POST /init (retried every 5 ms until it listens; timed as initTime)
 *                          ─► POST /run
 *
 * Redis and agent addresses and passwords travel in /init's value.env (as OpenWhisk's init
 * parameters do), never on a command line. At most pool_size workers exist (an invoker's
 * memory holds a fixed number of containers); each serves up to action_concurrency (C)
 * activations at once (OpenWhisk's limits.concurrency, 1 by default). As OpenWhisk's container
 * pool does, an invocation goes to a warm worker with fewer than C in flight (the busiest such
 * one: a container is filled up to its limit), else to a worker still starting with room (it
 * waits for that worker's /init, as in the invoker's run buffer), else to a new worker (a cold
 * start) while the pool has room. When every worker is full an invocation waits in a FIFO queue
 * for the next free slot, and that wait is part of its waitTime, as in OpenWhisk.
 *
 * The CPU of the workers (user + system, /proc/PID/stat while they run, their rusage once
 * reaped) is summed for the results' action_cpu section (local_cpu).
 *
 * Workers run in process groups of their own: a terminal's Ctrl-C (SIGINT to the foreground
 * group) reaches rbench only, which drains them; they die with rbench (PR_SET_PDEATHSIG) and
 * are stopped and reaped by local_destroy on every way out of a run. After local_stop no
 * worker is started and no queued invocation sent.
 *
 * With action_runtime container each worker is a runc container of action_image instead
 * (job_container.h): the image is pulled and unpacked once, when the target is created; a
 * worker is its `runc run` child, stopped the same way (runc forwards SIGTERM), then its
 * container, cgroup and bundle are removed. Its CPU is the containers' cgroup's, and a worker
 * the OOM killer killed fails its activations saying so. Either way, how long each start took
 * (spawn to /init answered) and which runtime ran are the results' action_runtime. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job_container.h"
#include "job_doc_keys.h"
#include "job_prepare.h"
#include "job_started.h"
#include "job_target.h"
#include "rb_clock.h"
#include "rb_json.h"
#include "rb_log.h"
#include "rb_stats.h"

enum worker_state { W_STARTING, W_READY, W_DEAD };

struct worker {
  pid_t pid;
  int port;
  enum worker_state state;
  int inflight;                  /* invocations assigned: running or waiting for its /init */
  struct job_inv *whead, *wtail; /* waiting for this worker's /init (the invoker's run buffer) */
  char base_url[64];
  uint64_t spawn_ns;              /* when it was started (its start time ends at /init) */
  char cid[JOB_CONTAINER_ID_MAX]; /* container: its id, "" once removed */
};

struct local_target {
  struct job_target base;
  char bin[PATH_MAX];
  struct worker *workers;
  size_t count, cap;
  char *init_body; /* holds secrets */
  size_t init_len;
  char *run_params; /* the /run "value" object, printed (each /run adds its "invocation") */
  size_t run_params_len;
  char action_name[300];
  struct job_http_opts opts;
  uint64_t init_timeout_ns;
  struct job_inv *qhead, *qtail; /* invocations waiting for a worker */
  struct curl_slist *headers;    /* owned, shared by every request */
  bool stopping;                 /* local_stop: start nothing new */
  uint64_t ids;                  /* activation id counter */
  uint64_t id_seed;
  int conc;                   /* action_concurrency: activations per worker at once */
  double reaped_cpu_s;        /* CPU of the workers reaped so far (their rusage) */
  unsigned long long spawned; /* workers started so far */
  struct job_container *ctr;  /* action_runtime container: the image and its containers */
  uint64_t *starts;           /* start times (spawn to /init answered), ns, since settle */
  size_t nstarts, capstarts;
};

/* Child side of the spawn: a clean environment (no secrets), output discarded, and none of
 * rbench's descriptors (sockets, the spool file) inherited. */
static void exec_worker(const char *bin, int port, pid_t parent, int conc) {
  job_child_setup(parent, SIGTERM, -1);
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
  char path[PATH_MAX], opt_listen[] = "--listen", opt_log[] = "--log-level", level[] = "warn";
  char env_path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
  snprintf(path, sizeof path, "%s", bin);
  char opt_threads[] = "--threads", threads[16];
  snprintf(threads, sizeof threads, "%d", conc);
  /* its default of 64 connection threads serves up to 64 activations at once */
  char *argv[] = {path,    opt_listen, listen, opt_log, level, conc > 64 ? opt_threads : NULL,
                  threads, NULL};
  char *envp[] = {env_path, NULL};
  execve(path, argv, envp);
  _exit(127);
}

/* Starts a worker in a dead worker's slot or a new one (slots never move: invocations hold
 * pointers to their worker). NULL when the pool is full or the spawn failed. */
static struct worker *spawn_worker(struct local_target *t) {
  struct worker *slot = NULL;
  for (size_t i = 0; i < t->count && !slot; i++) /* a dead worker's slot, once nothing holds it */
    if (t->workers[i].state == W_DEAD && t->workers[i].inflight == 0 && !t->workers[i].whead)
      slot = &t->workers[i];
  if (!slot && t->count == t->cap) return NULL;
  int port = job_free_loopback_port();
  if (port <= 0) return NULL;
  uint64_t spawn_ns = rb_clock_mono_ns();
  char cid[JOB_CONTAINER_ID_MAX] = "";
  pid_t pid;
  if (t->ctr) {
    char err[500];
    pid = job_container_start(t->ctr, port, t->conc > 64 ? t->conc : 0, cid, sizeof cid, err,
                              sizeof err);
    if (pid < 0) {
      rb_warn("cannot start a container: %s", err);
      return NULL;
    }
  } else {
    pid_t parent = getpid();
    pid = fork();
    if (pid < 0) return NULL;
    if (pid == 0) exec_worker(t->bin, port, parent, t->conc);
    setpgid(pid, pid); /* as the child does: whichever runs first (EACCES once it has exec'd) */
  }
  struct worker *w = slot ? slot : &t->workers[t->count++];
  *w = (struct worker){.pid = pid, .port = port, .state = W_STARTING, .spawn_ns = spawn_ns};
  snprintf(w->cid, sizeof w->cid, "%s", cid);
  t->spawned++;
  snprintf(w->base_url, sizeof w->base_url, "http://127.0.0.1:%d", port);
  return w;
}

/* wait4 on a worker: its CPU (user + system, all threads) joins the reaped total. */
static pid_t reap(struct local_target *t, pid_t pid, int *status, int flags) {
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  pid_t r = wait4(pid, status, flags, &ru);
  if (r == pid)
    t->reaped_cpu_s += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  return r;
}

/* A container worker whose runc was reaped: its container, cgroup and bundle go. */
static void remove_container(struct local_target *t, struct worker *w) {
  if (t->ctr && w->cid[0]) job_container_remove(t->ctr, w->cid);
  w->cid[0] = '\0';
}

static void stop_worker(struct local_target *t, struct worker *w) {
  if (w->pid > 0) {
    kill(w->pid, SIGTERM);
    int status;
    pid_t r = 0;
    for (int i = 0; i < 200 && (r = reap(t, w->pid, &status, WNOHANG)) == 0; i++) usleep(10000);
    if (r == 0) {
      kill(w->pid, SIGKILL); /* runc: its container is killed by remove_container */
      reap(t, w->pid, &status, 0);
    }
  }
  w->pid = 0;
  w->state = W_DEAD;
  remove_container(t, w);
}

/* Exit status text of a worker that died, or false while it runs. A container that hit its
 * memory limit gets up to a second for runc to see it die (the OOM killer's kill) and report
 * it, so its activations say why. */
static bool worker_exited(struct local_target *t, struct worker *w, char *msg, size_t len) {
  int status = 0;
  if (w->pid <= 0) {
    snprintf(msg, len, "its rbench-action was stopped after another activation on it failed");
    return true;
  }
  pid_t r = reap(t, w->pid, &status, WNOHANG);
  bool ctr = t->ctr && w->cid[0];
  if (r != w->pid && ctr && job_container_oom(t->ctr, w->cid))
    for (int i = 0; i < 100 && (r = reap(t, w->pid, &status, WNOHANG)) == 0; i++) usleep(10000);
  if (r != w->pid) return false;
  w->pid = 0;
  char tail[200] = "";
  if (ctr && job_container_oom(t->ctr, w->cid)) {
    job_container_oom_text(t->ctr, tail, sizeof tail);
    snprintf(msg, len, "its container was %s", tail);
  } else {
    if (ctr) job_container_log_tail(t->ctr, w->cid, tail, sizeof tail);
    const char *who = ctr ? "its container (runc) " : "";
    if (WIFEXITED(status))
      snprintf(msg, len, "%sexited with status %d%s%.150s", who, WEXITSTATUS(status),
               tail[0] ? ": " : "", tail);
    else snprintf(msg, len, "%skilled by signal %d", who, WTERMSIG(status));
  }
  remove_container(t, w);
  return true;
}

/* OpenWhisk's choice of a container with room: a warm worker with fewer than C in flight (the
 * busiest one, so a container fills up to its limit before another is used), else one still
 * starting with room. NULL: none has room. */
static struct worker *find_free(struct local_target *t) {
  struct worker *best = NULL;
  for (int pass = 0; pass < 2 && !best; pass++) {
    enum worker_state want = pass == 0 ? W_READY : W_STARTING;
    for (size_t i = 0; i < t->count; i++) {
      struct worker *w = &t->workers[i];
      if (w->state == want && w->inflight < t->conc && (!best || w->inflight > best->inflight))
        best = w;
    }
  }
  return best;
}

static size_t live_workers(const struct local_target *t) {
  size_t n = 0;
  for (size_t i = 0; i < t->count; i++) n += t->workers[i].state != W_DEAD;
  return n;
}

static double ms_between(uint64_t a, uint64_t b) { return b > a ? (double)(b - a) / 1e6 : 0; }

/* inv is done: its worker's slot frees, and the runner gets it. */
static void finish(struct local_target *t, struct job_inv *inv) {
  struct worker *w = inv->worker;
  if (w) w->inflight--;
  inv->worker = NULL;
  inv->end_ns = rb_clock_mono_ns();
  t->base.on_done(t->base.runner, inv);
}

static void start_cold(struct local_target *t, struct job_inv *inv);
static void send_run(struct local_target *t, struct job_inv *inv);

static struct job_inv *queue_pop(struct local_target *t) {
  struct job_inv *inv = t->qhead;
  if (inv) {
    t->qhead = inv->queue_next;
    if (!t->qhead) t->qtail = NULL;
    inv->queue_next = NULL;
  }
  return inv;
}

static void queue_push(struct local_target *t, struct job_inv *inv) {
  inv->queue_next = NULL;
  if (t->qtail) t->qtail->queue_next = inv;
  else t->qhead = inv;
  t->qtail = inv;
}

/* inv goes to w: at once when w is warm, after w's /init when it is still starting. */
static void assign(struct local_target *t, struct job_inv *inv, struct worker *w) {
  inv->worker = w;
  w->inflight++;
  if (w->state == W_READY) {
    send_run(t, inv);
    return;
  }
  inv->queue_next = NULL;
  if (w->wtail) w->wtail->queue_next = inv;
  else w->whead = inv;
  w->wtail = inv;
}

/* A slot freed (an activation ended, a worker died or became warm): the oldest waiting
 * invocations go to a worker with room, or start one while the pool has room. */
static void dispatch(struct local_target *t) {
  while (t->qhead) {
    struct worker *w = find_free(t);
    if (!w && live_workers(t) >= t->cap) return;
    struct job_inv *inv = queue_pop(t);
    if (w) assign(t, inv, w);
    else start_cold(t, inv);
  }
}

/* Takes w's waiting invocations off it (they hold no transfer yet). */
static struct job_inv *take_waiters(struct worker *w) {
  struct job_inv *head = w->whead;
  for (struct job_inv *i = head; i; i = i->queue_next) w->inflight--;
  w->whead = w->wtail = NULL;
  return head;
}

/* w failed: it stops; inv and the invocations waiting for w's /init fail with the message. */
static void fail_worker(struct local_target *t, struct job_inv *inv, enum job_outcome o,
                        const char *what, const char *detail) {
  struct worker *w = inv->worker;
  char msg[JOB_ERROR_MAX];
  snprintf(msg, sizeof msg, "%.90s: %.200s", what, detail);
  stop_worker(t, w);
  struct job_inv *next, *waiting = take_waiters(w);
  for (struct job_inv *i = waiting; i; i = next) {
    next = i->queue_next;
    i->queue_next = NULL;
    i->worker = NULL;
    job_record_set_error(&i->rec, o, msg);
    if (!i->rec.status[0]) snprintf(i->rec.status, sizeof i->rec.status, "action developer error");
    finish(t, i);
  }
  job_record_set_error(&inv->rec, o, msg);
  if (!inv->rec.status[0])
    snprintf(inv->rec.status, sizeof inv->rec.status, "action developer error");
  finish(t, inv);
  dispatch(t);
}

static void on_run(void *ctx, struct job_http_xfer *x) {
  struct job_inv *inv = ctx;
  struct local_target *t = (struct local_target *)inv->target;
  struct worker *w = inv->worker;
  inv->rec.http_status = (int)x->status;
  uint64_t start = inv->rec.cold_start ? inv->phase_ns : x->started_ns;
  inv->rec.duration_ms = ms_between(start, x->finished_ns);
  if (x->code == CURLE_ABORTED_BY_CALLBACK) {
    job_record_set_error(&inv->rec, JOB_ERR_ABORTED, "stopped while the action ran");
    stop_worker(t, w);
    job_http_xfer_free(x);
    finish(t, inv);
    return;
  }
  if (x->code != CURLE_OK) {
    char why[300] = "";
    inv->rec.http_status = 0;
    if (!worker_exited(t, w, why, sizeof why)) snprintf(why, sizeof why, "%.200s", x->errbuf);
    fail_worker(t, inv, x->code == CURLE_OPERATION_TIMEDOUT ? JOB_ERR_TIMEOUT : JOB_ERR_DEVELOPER,
                "The action did not produce a valid response and exited unexpectedly", why);
    job_http_xfer_free(x);
    return;
  }
  if (x->status == 200) {
    job_record_from_action_result(&inv->rec, x->body, x->len);
  } else {
    job_record_from_action_result(&inv->rec, x->body, x->len);
    inv->rec.outcome = JOB_ERR_DEVELOPER;
    snprintf(inv->rec.status, sizeof inv->rec.status, "action developer error");
    if (!inv->rec.error[0])
      snprintf(inv->rec.error, sizeof inv->rec.error, "/run answered HTTP %ld", x->status);
  }
  job_http_xfer_free(x);
  finish(t, inv);
  (void)w;
  dispatch(t);
}

static void send_run(struct local_target *t, struct job_inv *inv) {
  struct worker *w = inv->worker;
  uint64_t id = ++t->ids;
  snprintf(inv->rec.activation_id, sizeof inv->rec.activation_id, "%016llx%016llx",
           (unsigned long long)t->id_seed, (unsigned long long)id);
  if (!inv->rec.cold_start) inv->rec.wait_ms = ms_between(inv->sent_ns, rb_clock_mono_ns());
  char *body = NULL, tail[JOB_INV_TAIL_MAX];
  job_inv_params_tail(inv, tail, sizeof tail);
  int n = asprintf(&body,
                   "{\"value\":%.*s%s%s,\"activation_id\":\"%s\",\"deadline\":\"%lld\","
                   "\"namespace\":\"local\",\"action_name\":\"%s\",\"action_version\":\"0.0.1\","
                   "\"transaction_id\":\"%s\"}",
                   (int)t->run_params_len - 1, t->run_params, t->run_params_len > 2 ? "," : "",
                   tail, inv->rec.activation_id,
                   (long long)(rb_clock_wall_ms() + (int64_t)t->opts.timeout_ms), t->action_name,
                   inv->rec.activation_id);
  char url[96];
  snprintf(url, sizeof url, "%s/run", w->base_url);
  struct job_http_xfer *x = n < 0 ? NULL
                                  : job_http_xfer_new(t->base.http, "POST", url, body, (size_t)n,
                                                      NULL, &t->opts, on_run, inv);
  free(body);
  if (!x || job_http_start(t->base.http, x) != RB_OK) {
    job_http_xfer_free(x);
    fail_worker(t, inv, JOB_ERR_TRANSPORT, "cannot send /run", "out of memory");
  }
}

static void send_init(void *arg);

static void on_init(void *ctx, struct job_http_xfer *x) {
  struct job_inv *inv = ctx;
  struct local_target *t = (struct local_target *)inv->target;
  struct worker *w = inv->worker;
  uint64_t now = rb_clock_mono_ns();
  if (x->code == CURLE_COULDNT_CONNECT) {
    /* Not listening yet: retry like the invoker does, unless it died or time is up. */
    char why[300];
    job_http_xfer_free(x);
    if (worker_exited(t, w, why, sizeof why)) {
      w->state = W_DEAD;
      if (inv->attempts++ < 2 &&
          !strstr(why, "OOM")) { /* e.g. lost a race for its port: start another one */
        /* those waiting for it go back to the queue's head, in order, for the new one */
        struct job_inv *waiting = take_waiters(w), *last = waiting;
        w->inflight--;
        inv->worker = NULL;
        for (struct job_inv *i = waiting; i; i = i->queue_next) i->worker = NULL, last = i;
        if (waiting) {
          last->queue_next = t->qhead;
          if (!t->qhead) t->qtail = last;
          t->qhead = waiting;
        }
        start_cold(t, inv);
        dispatch(t);
        return;
      }
      fail_worker(t, inv, JOB_ERR_DEVELOPER,
                  "The action did not initialize and exited unexpectedly", why);
    } else if (now > inv->deadline_ns) {
      fail_worker(t, inv, JOB_ERR_DEVELOPER, "The action did not initialize",
                  "not listening within the timeout");
    } else {
      job_http_after(t->base.http, now + 5000000u, send_init, inv);
    }
    return;
  }
  if (x->code != CURLE_OK || x->status != 200) {
    char msg[300];
    CURLcode code = x->code;
    if (code != CURLE_OK && code != CURLE_ABORTED_BY_CALLBACK && t->ctr && w->cid[0] &&
        worker_exited(t, w, msg, sizeof msg)) {
      /* the container died during /init (its OOM kill, its exit) */
    } else if (code != CURLE_OK) {
      snprintf(msg, sizeof msg, "%.190s", x->errbuf);
    } else {
      snprintf(msg, sizeof msg, "HTTP %ld %.150s", x->status, x->body);
    }
    job_http_xfer_free(x);
    fail_worker(t, inv, code == CURLE_ABORTED_BY_CALLBACK ? JOB_ERR_ABORTED : JOB_ERR_DEVELOPER,
                "The action failed during initialization", msg);
    return;
  }
  inv->rec.init_ms = ms_between(x->started_ns, x->finished_ns);
  if (t->nstarts == t->capstarts) {
    size_t cap = t->capstarts ? t->capstarts * 2 : 64;
    uint64_t *n = realloc(t->starts, cap * sizeof *n);
    if (n) t->starts = n, t->capstarts = cap;
  }
  if (t->nstarts < t->capstarts)
    t->starts[t->nstarts++] = x->finished_ns > w->spawn_ns ? x->finished_ns - w->spawn_ns : 0;
  inv->rec.wait_ms = ms_between(inv->sent_ns, x->started_ns);
  inv->phase_ns = x->started_ns; /* duration counts from init start, as OpenWhisk's does */
  w->state = W_READY;
  job_http_xfer_free(x);
  send_run(t, inv);
  /* then the activations that waited for this /init (not cold starts: their wait is in
   * waitTime, as for an activation buffered by the invoker) */
  struct job_inv *next;
  for (struct job_inv *i = w->whead; i; i = next) {
    next = i->queue_next;
    i->queue_next = NULL;
    w->whead = next;
    if (!next) w->wtail = NULL;
    send_run(t, i);
  }
  dispatch(t);
}

static void send_init(void *arg) {
  struct job_inv *inv = arg;
  struct local_target *t = (struct local_target *)inv->target;
  struct worker *w = inv->worker;
  char url[96];
  snprintf(url, sizeof url, "%s/init", w->base_url);
  struct job_http_xfer *x = job_http_xfer_new(t->base.http, "POST", url, t->init_body, t->init_len,
                                              NULL, &t->opts, on_init, inv);
  if (!x || job_http_start(t->base.http, x) != RB_OK) {
    job_http_xfer_free(x);
    fail_worker(t, inv, JOB_ERR_TRANSPORT, "cannot send /init", "out of memory");
  }
}

/* Starts a new worker for inv (a cold start); fails inv when none can be started. */
static void start_cold(struct local_target *t, struct job_inv *inv) {
  if (t->stopping) {
    job_record_set_error(&inv->rec, JOB_ERR_ABORTED, "stopped before an rbench-action was free");
    finish(t, inv);
    return;
  }
  struct worker *w = spawn_worker(t);
  if (!w) {
    job_record_set_error(&inv->rec, JOB_ERR_DEVELOPER, "cannot start an rbench-action process");
    finish(t, inv);
    return;
  }
  inv->worker = w;
  w->inflight++;
  inv->rec.cold_start = true;
  inv->deadline_ns = rb_clock_mono_ns() + t->init_timeout_ns;
  send_init(inv);
}

static enum rb_err local_send(struct job_target *base, struct job_inv *inv) {
  struct local_target *t = (struct local_target *)base;
  inv->target = base;
  inv->worker = NULL;
  struct worker *w = t->qhead ? NULL : find_free(t); /* none has room while some wait */
  if (w) assign(t, inv, w);
  else if (!t->qhead && live_workers(t) < t->cap) start_cold(t, inv);
  else queue_push(t, inv);
  return RB_OK;
}

static void abort_queue(struct local_target *t) {
  struct job_inv *inv;
  while ((inv = queue_pop(t)) != NULL) {
    job_record_set_error(&inv->rec, JOB_ERR_ABORTED,
                         "stopped while waiting for a free rbench-action");
    finish(t, inv);
  }
}

/* Everything the target holds outside transfers: the queue, and those waiting for an /init. */
static void local_abort(struct job_target *base) {
  struct local_target *t = (struct local_target *)base;
  abort_queue(t);
  for (size_t k = 0; k < t->count; k++) {
    struct job_inv *next, *waiting = take_waiters(&t->workers[k]);
    for (struct job_inv *i = waiting; i; i = next) {
      next = i->queue_next;
      i->queue_next = NULL;
      i->worker = NULL;
      job_record_set_error(&i->rec, JOB_ERR_ABORTED,
                           "stopped while waiting for its rbench-action to initialize");
      finish(t, i);
    }
  }
}

/* Those waiting for a starting worker's /init stay: they run once it is up, as the
 * activations in flight do. */
static void local_stop(struct job_target *base) {
  struct local_target *t = (struct local_target *)base;
  t->stopping = true;
  abort_queue(t);
}

static bool local_cpu(struct job_target *base, struct job_target_cpu *out) {
  struct local_target *t = (struct local_target *)base;
  out->cpu_s = t->reaped_cpu_s;
  out->started = t->spawned;
  out->live = 0;
  for (size_t i = 0; i < t->count; i++) {
    if (t->workers[i].pid <= 0) continue;
    if (!t->ctr) {
      double c = job_proc_cpu_s(t->workers[i].pid);
      if (isfinite(c)) out->cpu_s += c;
    }
    out->live++;
  }
  if (t->ctr) { /* the containers' cgroup: every container ever started (not runc's own CPU) */
    out->cpu_s = job_container_cpu_s(t->ctr);
    return isfinite(out->cpu_s);
  }
  return true;
}

/* After the prepare step: the workers it started stop, so the schedule meets the pool a run
 * without a prepare step meets (cold starts counted as ever). */
static void local_settle(struct job_target *base) {
  struct local_target *t = (struct local_target *)base;
  t->nstarts = 0; /* the prepare step's starts are not the run's */
  for (size_t i = 0; i < t->count; i++)
    if (t->workers[i].state == W_READY && t->workers[i].inflight == 0)
      stop_worker(t, &t->workers[i]);
}

static void local_destroy(struct job_target *base) {
  struct local_target *t = (struct local_target *)base;
  if (!t) return;
  for (size_t i = 0; i < t->count; i++)
    if (t->workers[i].pid > 0) kill(t->workers[i].pid, SIGTERM);
  for (size_t i = 0; i < t->count; i++) stop_worker(t, &t->workers[i]);
  job_container_destroy(t->ctr);
  cJSON_Delete(t->base.doc_fields);
  free(t->starts);
  free(t->workers);
  if (t->init_body) explicit_bzero(t->init_body, t->init_len);
  free(t->init_body);
  free(t->run_params);
  curl_slist_free_all(t->headers);
  free(t);
}

/* The results' action_runtime: which runtime ran the action, and its starts' times. */
static void local_fields(struct job_target *base) {
  struct local_target *t = (struct local_target *)base;
  cJSON *o = t->ctr ? job_container_json(t->ctr) : cJSON_CreateObject();
  if (!o) return;
  if (!t->ctr) {
    cJSON_AddStringToObject(o, "kind", "process");
    cJSON_AddStringToObject(o, "runtime", "process");
    cJSON_AddNullToObject(o, "image");
    cJSON_AddNullToObject(o, "digest");
    cJSON_AddNullToObject(o, "memory_mb");
    cJSON_AddNullToObject(o, "cpu");
    cJSON_AddNullToObject(o, "cpu_shares");
    cJSON_AddStringToObject(o, "network", "host");
    cJSON_AddNullToObject(o, "cgroup");
  }
  cJSON *st = cJSON_AddObjectToObject(o, JOB_K_STARTS);
  cJSON_AddNumberToObject(st, JOB_K_COUNT, (double)t->nstarts);
  if (t->nstarts) {
    uint64_t *v = malloc(t->nstarts * sizeof *v);
    if (v) {
      memcpy(v, t->starts, t->nstarts * sizeof *v);
      rb_sort_u64(v, t->nstarts);
      double sum = 0;
      for (size_t i = 0; i < t->nstarts; i++) sum += (double)v[i];
      cJSON_AddNumberToObject(st, JOB_K_P50_MS,
                              (double)rb_percentile_sorted(v, t->nstarts, 50) / 1e6);
      cJSON_AddNumberToObject(st, JOB_K_P90_MS,
                              (double)rb_percentile_sorted(v, t->nstarts, 90) / 1e6);
      cJSON_AddNumberToObject(st, JOB_K_MIN_MS, (double)v[0] / 1e6);
      cJSON_AddNumberToObject(st, JOB_K_MAX_MS, (double)v[t->nstarts - 1] / 1e6);
      cJSON_AddNumberToObject(st, JOB_K_MEAN_MS, sum / (double)t->nstarts / 1e6);
      free(v);
    }
  }
  cJSON_Delete(t->base.doc_fields);
  t->base.doc_fields = cJSON_CreateObject();
  if (t->base.doc_fields) cJSON_AddItemToObject(t->base.doc_fields, JOB_K_ACTION_RUNTIME, o);
  else cJSON_Delete(o);
}

static char *build_init(const struct job_config *c, size_t *len) {
  cJSON *root = cJSON_CreateObject();
  cJSON *value = cJSON_AddObjectToObject(root, "value");
  cJSON_AddStringToObject(value, "name", "redis_benchmark");
  cJSON_AddStringToObject(value, "main", "main");
  cJSON_AddFalseToObject(value, "binary");
  cJSON *env = cJSON_AddObjectToObject(value, "env");
  char port[16];
  cJSON_AddStringToObject(env, "REDIS_HOST", c->redis_host);
  snprintf(port, sizeof port, "%d", c->redis_port);
  cJSON_AddStringToObject(env, "REDIS_PORT", port);
  if (c->redis_password[0]) cJSON_AddStringToObject(env, "REDIS_PASSWORD", c->redis_password);
  cJSON_AddStringToObject(env, "BATCHING_AGENT_HOST", c->agent_host);
  snprintf(port, sizeof port, "%d", c->agent_port);
  cJSON_AddStringToObject(env, "BATCHING_AGENT_PORT", port);
  if (c->agent_password[0])
    cJSON_AddStringToObject(env, "BATCHING_AGENT_PASSWORD", c->agent_password);
  char *s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (s) *len = strlen(s);
  return s;
}

/* rbench-action beside this executable: <build>/job/rbench -> <build>/action/rbench-action,
 * PREFIX/bin/rbench -> PREFIX/bin/rbench-action. */
/* A file we can execute; errno says why not (a directory passes access(X_OK)). */
static bool executable_file(const char *path) {
  struct stat st;
  if (access(path, X_OK) != 0 || stat(path, &st) != 0) return false;
  if (S_ISREG(st.st_mode)) return true;
  errno = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
  return false;
}

bool job_local_find_action(const char *self_exe, const char *override, char *out, size_t len) {
  if (override && *override) {
    snprintf(out, len, "%s", override);
    return executable_file(out);
  }
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", self_exe);
  char *slash = strrchr(dir, '/');
  errno = ENOENT;
  if (!slash) return false;
  *slash = '\0';
  snprintf(out, len, "%s/rbench-action", dir);
  if (executable_file(out)) return true;
  snprintf(out, len, "%s/../action/rbench-action", dir);
  return executable_file(out);
}

struct job_target *job_local_create(struct job_http *http, const struct job_target_conf *tc,
                                    const struct job_config *cfg, const struct job_params *p,
                                    const char *self_exe, volatile sig_atomic_t *stop,
                                    enum job_preflight *pf, char *err, size_t errlen) {
  *pf = JOB_PREFLIGHT_CONFIG;
  bool container = job_params_container(p);
  if (container && !job_container_usable(err, errlen)) return NULL;
  struct local_target *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->base.kind = "local";
  t->base.send = local_send;
  t->base.destroy = local_destroy;
  t->base.abort = local_abort;
  t->base.stop = local_stop;
  t->base.settle = local_settle;
  t->base.cpu = local_cpu;
  t->base.fields = local_fields;
  t->base.http = http;
  t->conc = p->action_concurrency > 0 ? (int)p->action_concurrency : 1;
  if (!container && !job_local_find_action(self_exe, tc->action_bin, t->bin, sizeof t->bin)) {
    rb_errorf(0, err, errlen,
              "cannot find an executable rbench-action (looked at %s: %s); "
              "build it or pass --action-bin PATH",
              t->bin, errno == EACCES ? "not executable" : job_file_reason(errno));
    free(t);
    return NULL;
  }
  char msg[500];
  const char *host = p->batching ? cfg->agent_host : cfg->redis_host;
  int port = p->batching ? cfg->agent_port : cfg->redis_port;
  *pf = job_probe_redis(host, port, p->batching ? cfg->agent_password : cfg->redis_password, msg,
                        sizeof msg);
  if (*pf == JOB_PREFLIGHT_OK && p->batching)
    *pf = job_probe_proxy(host, port, cfg->agent_password, cfg->redis_host, cfg->redis_port, msg,
                          sizeof msg);
  if (*pf != JOB_PREFLIGHT_OK) {
    rb_errorf(0, err, errlen, "%s %s", p->batching ? "batching agent" : "Redis", msg);
    free(t);
    return NULL;
  }
  if (container) {
    /* the image once, before the schedule (never timed) */
    *pf = job_container_prepare(p, tc->pool_size, stop, &t->ctr, err, errlen);
    if (*pf != JOB_PREFLIGHT_OK) {
      free(t);
      return NULL;
    }
    snprintf(t->bin, sizeof t->bin, "%s", p->action_image);
  }
  snprintf(t->base.action_label, sizeof t->base.action_label, "%.590s", t->bin);
  snprintf(t->action_name, sizeof t->action_name, "/local/%s", tc->action);
  t->cap = (size_t)tc->pool_size;
  t->workers = calloc(t->cap, sizeof *t->workers);
  t->init_body = build_init(cfg, &t->init_len);
  cJSON *params = job_params_action_json(p);
  t->run_params = params ? cJSON_PrintUnformatted(params) : NULL;
  t->run_params_len = t->run_params ? strlen(t->run_params) : 0;
  cJSON_Delete(params);
  t->opts = (struct job_http_opts){.timeout_ms = (long)(tc->request_timeout * 1000),
                                   .connect_timeout_ms = 2000};
  t->headers = job_http_json_headers();
  t->opts.headers = t->headers;
  t->init_timeout_ns = (uint64_t)(tc->request_timeout * 1e9);
  t->id_seed = (uint64_t)rb_clock_wall_us() ^ ((uint64_t)getpid() << 32);
  if (!t->workers || !t->init_body || !t->run_params || !t->headers) {
    local_destroy(&t->base);
    *pf = JOB_PREFLIGHT_CONFIG;
    rb_errorf(0, err, errlen, "out of memory");
    return NULL;
  }
  return &t->base;
}
