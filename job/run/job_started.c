/* job_started.c: redis-server and the layer started for a run (see job_started.h). */
#define _GNU_SOURCE
#include "job_started.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "job_backend.h"
#include "job_config.h"
#include "job_doc_keys.h"
#include "rb_clock.h"
#include "rb_log.h"

#define START_TIMEOUT_MS 10000 /* a program that does not listen by then failed to start */
#define STOP_GRACE_MS 2000     /* SIGTERM, then SIGKILL */
/* The quota's period: short, so that a throttled Redis stalls for milliseconds (as a busy shared
 * Redis does), not for most of the kernel's default 100 ms; longer only when the quota would
 * fall under the kernel's 1 ms minimum (redis_cpu below 0.1). */
#define CPU_PERIOD_US 10000
#define START_ATTEMPTS 3 /* a free port taken by someone else before the program bound it */
#define CGROUP_V1 "/sys/fs/cgroup/cpu"
#define CGROUP_V2 "/sys/fs/cgroup"
#define SYS_DIRS "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SAFE_PATH "PATH=" SYS_DIRS

struct sproc {
  const char *role, *name; /* "redis" or "layer"; the program */
  pid_t pid;               /* 0 once reaped */
  int port;
  char args[700]; /* its flags, without secrets */
  char log[PATH_MAX];
  double quota;   /* fraction of a core; 0: none */
  double cpu_a;   /* CPU seconds at the window's start */
  double cpu_end; /* CPU seconds when reaped (rusage), NAN while it runs */
  bool thr_a_ok;  /* cpu.stat read at the start */
  double thr_ns_a, thr_n_a;
  bool begun;
};

struct job_started {
  char dir[512];         /* temp dir (logs, nutcracker.yml), "" none */
  char cgroup[PATH_MAX]; /* the quota's cgroup, "" none */
  bool cg_v2;
  struct sproc p[2];
  size_t n;
  char metrics_url[64];
  bool nutcracker;
  int layer_port;
};

/* ---- helpers ------------------------------------------------------------------------------ */

int job_free_loopback_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  if (fd < 0) return -1;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
    port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

static bool listening(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0) return false;
  bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return ok;
}

static bool exec_file(const char *path) {
  struct stat st;
  return access(path, X_OK) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* name in $PATH, then in the usual system directories (nutcracker is in /usr/sbin). */
static bool find_in_path(const char *name, char *out, size_t len) {
  const char *env = getenv("PATH");
  char dirs[4096];
  snprintf(dirs, sizeof dirs, "%s:%s", env ? env : "", SYS_DIRS);
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    if (!*d) continue;
    snprintf(out, len, "%s/%s", d, name);
    if (exec_file(out)) return true;
  }
  return false;
}

/* rbench-agent beside rbench (<build>/job/rbench -> <build>/agent/rbench-agent, PREFIX/bin),
 * else in $PATH. */
static bool find_agent(const char *self_exe, char *out, size_t len) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", self_exe ? self_exe : "");
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = '\0';
    snprintf(out, len, "%s/rbench-agent", dir);
    if (exec_file(out)) return true;
    snprintf(out, len, "%s/../agent/rbench-agent", dir);
    if (exec_file(out)) return true;
  }
  return find_in_path("rbench-agent", out, len);
}

static bool write_file(const char *path, const char *text, char *why, size_t wlen) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : write(fd, text, strlen(text));
  int e = errno;
  if (fd >= 0) close(fd);
  if (n == (ssize_t)strlen(text)) return true;
  snprintf(why, wlen, "cannot write %s: %s", path, strerror(e));
  return false;
}

static char *slurp(const char *path) {
  size_t len;
  return job_read_file(path, &len);
}

/* The last (up to 3) non-empty lines of a log, joined by " | ". */
static void log_tail(const char *path, char *out, size_t len) {
  out[0] = '\0';
  FILE *f = fopen(path, "re");
  if (!f) return;
  char buf[2048];
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *lines[3] = {NULL};
  int k = 0;
  for (char *save = NULL, *l = strtok_r(buf, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save))
    if (*l) {
      if (k == 3) memmove(lines, lines + 1, 2 * sizeof lines[0]), k = 2;
      lines[k++] = l;
    }
  size_t used = 0;
  for (int i = 0; i < k && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%.300s", i ? " | " : "", lines[i]);
}

double job_proc_cpu_s(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f) return (double)NAN;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  unsigned long long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return (double)NAN;
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? (double)(ut + st) / (double)hz : (double)NAN;
}

/* ---- the CPU quota ------------------------------------------------------------------------ */

static bool has_word(const char *text, const char *word) {
  size_t n = strlen(word);
  for (const char *p = text; p && (p = strstr(p, word)) != NULL; p += n)
    if ((p == text || p[-1] == ' ' || p[-1] == '+') &&
        (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
      return true;
  return false;
}

/* Removes the cgroups of earlier runs killed before they could (SIGKILL): rbench-started-PID-N
 * whose PID is gone and which hold no process (rmdir refuses one that does). */
static void cgroup_sweep(const char *root) {
  DIR *d = opendir(root);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    int pid = 0;
    unsigned n = 0;
    char path[PATH_MAX];
    if (sscanf(e->d_name, "rbench-started-%d-%u", &pid, &n) != 2 || pid <= 0) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;
    snprintf(path, sizeof path, "%s/%s", root, e->d_name);
    if (rmdir(path) == 0) rb_info("backend start: removed %s, left by a run that was killed", path);
  }
  if (d) closedir(d);
}

/* Creates the cgroup with quota (a fraction of one core) of CPU per CPU_PERIOD_US: cgroup v1's
 * cpu controller when mounted, else v2's cpu controller at the unified root. */
static bool cgroup_make(struct job_started *s, double quota, char *why, size_t wlen) {
  static unsigned seq;
  long long period = CPU_PERIOD_US;
  if (quota * CPU_PERIOD_US < 1000) period = llround(ceil(1000.0 / quota)); /* 1 ms minimum */
  if (period > 1000000) period = 1000000; /* the kernel's maximum: 1 s */
  long long q = llround(quota * (double)period);
  if (q < 1000) q = 1000; /* the kernel's minimum: 1 ms */
  char path[PATH_MAX + 32], text[64];
  bool v1 = access(CGROUP_V1 "/cpu.cfs_quota_us", F_OK) == 0;
  if (!v1) {
    char *ctl = slurp(CGROUP_V2 "/cgroup.controllers");
    bool cpu = ctl && has_word(ctl, "cpu");
    free(ctl);
    if (!cpu) {
      snprintf(why, wlen,
               "no cgroup CPU controller: neither " CGROUP_V1 " (cgroup v1) nor cpu in " CGROUP_V2
               "/cgroup.controllers (cgroup v2)");
      return false;
    }
    char *sub = slurp(CGROUP_V2 "/cgroup.subtree_control");
    bool on = sub && has_word(sub, "cpu");
    free(sub);
    if (!on && !write_file(CGROUP_V2 "/cgroup.subtree_control", "+cpu", why, wlen)) return false;
    s->cg_v2 = true;
  }
  cgroup_sweep(v1 ? CGROUP_V1 : CGROUP_V2);
  snprintf(s->cgroup, sizeof s->cgroup, "%s/rbench-started-%d-%u", v1 ? CGROUP_V1 : CGROUP_V2,
           (int)getpid(), ++seq);
  if (mkdir(s->cgroup, 0755) != 0) {
    snprintf(why, wlen, "cannot create the cgroup %s: %s%s", s->cgroup, strerror(errno),
             errno == EACCES || errno == EROFS || errno == EPERM ? " (needs root)" : "");
    s->cgroup[0] = '\0';
    return false;
  }
  bool ok;
  if (v1) {
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", s->cgroup);
    snprintf(text, sizeof text, "%lld", period);
    ok = write_file(path, text, why, wlen);
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", s->cgroup);
    snprintf(text, sizeof text, "%lld", q);
    ok = ok && write_file(path, text, why, wlen);
  } else {
    snprintf(path, sizeof path, "%s/cpu.max", s->cgroup);
    snprintf(text, sizeof text, "%lld %lld", q, period);
    ok = write_file(path, text, why, wlen);
  }
  if (!ok) {
    rmdir(s->cgroup);
    s->cgroup[0] = '\0';
  }
  return ok;
}

/* cpu.stat's throttled periods and time (ns). */
static bool cgroup_throttled(const struct job_started *s, double *periods, double *ns) {
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/cpu.stat", s->cgroup);
  char *text = s->cgroup[0] ? slurp(path) : NULL;
  if (!text) return false;
  bool have_n = false, have_t = false;
  for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    unsigned long long v = 0;
    if (sscanf(l, "nr_throttled %llu", &v) == 1) *periods = (double)v, have_n = true;
    else if (sscanf(l, "throttled_time %llu", &v) == 1) *ns = (double)v, have_t = true;
    else if (sscanf(l, "throttled_usec %llu", &v) == 1) *ns = (double)v * 1e3, have_t = true;
  }
  free(text);
  return have_n && have_t;
}

static void cgroup_remove(struct job_started *s) {
  if (!s->cgroup[0]) return;
  for (int i = 0; i < 50; i++) {
    if (rmdir(s->cgroup) == 0 || errno == ENOENT) {
      s->cgroup[0] = '\0';
      return;
    }
    usleep(10000);
  }
  rb_warn("backend start: could not remove the cgroup %s: %s", s->cgroup, strerror(errno));
}

/* ---- processes ---------------------------------------------------------------------------- */

void job_child_setup(pid_t parent, int deathsig, int out_fd) {
  prctl(PR_SET_PDEATHSIG, deathsig);
  if (getppid() != parent) _exit(127);
  setpgid(0, 0);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) dup2(null, 0);
  int out = out_fd >= 0 ? out_fd : null;
  if (out >= 0) {
    dup2(out, 1);
    dup2(out, 2);
  }
  close_range(3, ~0u, 0);
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Child side (job_child_setup, output to its log, SIGTERM when rbench dies), a clean
 * environment (envp); in the cgroup (procs) first when given. */
static void child(const char *path, char *const argv[], char *const envp[], int logfd,
                  const char *procs, pid_t parent) {
  job_child_setup(parent, SIGTERM, logfd);
  if (procs) {
    int fd = open(procs, O_WRONLY);
    if (fd < 0 || write(fd, "0", 1) != 1) {
      dprintf(2, "cannot join the cgroup (%s): %s\n", procs, strerror(errno));
      _exit(126);
    }
    close(fd);
  }
  execve(path, argv, envp);
  dprintf(2, "cannot execute %s: %s\n", path, strerror(errno));
  _exit(127);
}

static bool spawn(struct job_started *s, struct sproc *sp, const char *path, char *const argv[],
                  char *const envp[], char *why, size_t wlen) {
  snprintf(sp->log, sizeof sp->log, "%s/%s-%d.log", s->dir, sp->name, sp->port);
  int logfd = open(sp->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (logfd < 0) {
    snprintf(why, wlen, "cannot create %s: %s", sp->log, strerror(errno));
    return false;
  }
  char procs[PATH_MAX + 16];
  snprintf(procs, sizeof procs, "%s/cgroup.procs", s->cgroup);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) child(path, argv, envp, logfd, sp->quota > 0 ? procs : NULL, parent);
  close(logfd);
  if (pid < 0) {
    snprintf(why, wlen, "cannot fork: %s", strerror(errno));
    return false;
  }
  setpgid(pid, pid);
  sp->pid = pid;
  sp->cpu_end = (double)NAN;
  return true;
}

static void reap(struct sproc *sp, int flags_block) {
  struct rusage ru;
  int status;
  memset(&ru, 0, sizeof ru);
  if (sp->pid > 0 && wait4(sp->pid, &status, flags_block, &ru) == sp->pid) {
    sp->cpu_end = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    sp->pid = 0;
  }
}

static void stop_proc(struct sproc *sp) {
  if (sp->pid <= 0) return;
  kill(sp->pid, SIGTERM);
  for (int i = 0; i < STOP_GRACE_MS / 10 && sp->pid > 0; i++) {
    reap(sp, WNOHANG);
    if (sp->pid > 0) usleep(10000);
  }
  if (sp->pid > 0) {
    kill(sp->pid, SIGKILL);
    reap(sp, 0);
  }
}

/* Waits until sp listens on every port. *retry: it exited saying its port was in use. */
static enum job_exit wait_listen(struct sproc *sp, const int *ports, int nports,
                                 volatile sig_atomic_t *stop, bool *retry, char *err,
                                 size_t errlen) {
  uint64_t deadline = rb_clock_mono_ns() + (uint64_t)START_TIMEOUT_MS * 1000000u;
  *retry = false;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(sp->pid, &status, WNOHANG);
    if (r == sp->pid) {
      sp->pid = 0;
      char tail[1000], how[64];
      log_tail(sp->log, tail, sizeof tail);
      if (WIFEXITED(status))
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
      else snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
      *retry = strstr(tail, "in use") != NULL;
      rb_errorf(0, err, errlen, "backend start: %s %s at start: %s", sp->name, how,
                tail[0] ? tail : "(it wrote nothing)");
      return JOB_EXIT_CONFIG;
    }
    bool all = true;
    for (int i = 0; i < nports && all; i++) all = listening(ports[i]);
    if (all) {
      usleep(20000); /* one that lost its port to another listener exits at once */
      if (waitpid(sp->pid, &status, WNOHANG) == 0) return JOB_EXIT_OK;
      *retry = true;
      sp->pid = 0;
      rb_errorf(0, err, errlen, "backend start: %s exited at start", sp->name);
      return JOB_EXIT_CONFIG;
    }
    if (stop && *stop) {
      rb_errorf(0, err, errlen, "backend start: stopped by a signal while %s was starting",
                sp->name);
      return JOB_EXIT_INTERRUPTED;
    }
    if (rb_clock_mono_ns() > deadline) {
      char tail[1000];
      log_tail(sp->log, tail, sizeof tail);
      rb_errorf(0, err, errlen, "backend start: %s did not listen on 127.0.0.1:%d within %d s%s%s",
                sp->name, ports[0], START_TIMEOUT_MS / 1000, tail[0] ? "; its output: " : "", tail);
      return JOB_EXIT_CONFIG;
    }
    usleep(10000);
  }
}

/* Starts argv with fresh ports (argv's port texts are rewritten by fill) until it listens on
 * the first nports of them. */
typedef void (*fill_fn)(struct job_started *s, struct sproc *sp, int *ports, void *arg);

static enum job_exit start_proc(struct job_started *s, struct sproc *sp, const char *path,
                                char **argv, char *const envp[], int nports, fill_fn fill,
                                void *arg, volatile sig_atomic_t *stop, char *err, size_t errlen) {
  enum job_exit ex = JOB_EXIT_CONFIG;
  for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    int ports[2]; /* [1]: the agent's metrics, nutcracker's stats (not waited for) */
    for (int i = 0; i < 2; i++)
      if ((ports[i] = job_free_loopback_port()) <= 0) {
        rb_errorf(0, err, errlen, "backend start: no free port on 127.0.0.1 for %s", sp->name);
        return JOB_EXIT_FAILURE;
      }
    sp->port = ports[0];
    fill(s, sp, ports, arg);
    char why[400];
    if (!spawn(s, sp, path, argv, envp, why, sizeof why)) {
      rb_errorf(0, err, errlen, "backend start: %s: %s", sp->name, why);
      return JOB_EXIT_FAILURE;
    }
    bool retry = false;
    ex = wait_listen(sp, ports, nports, stop, &retry, err, errlen);
    if (ex == JOB_EXIT_OK || !retry) return ex;
    stop_proc(sp);
  }
  return ex;
}

/* ---- redis-server ------------------------------------------------------------------------- */

struct redis_argv {
  char port[16];
};

static void redis_fill(struct job_started *s, struct sproc *sp, int *ports, void *arg) {
  (void)s;
  struct redis_argv *a = arg;
  snprintf(a->port, sizeof a->port, "%d", ports[0]);
  snprintf(sp->args, sizeof sp->args, "--port %d --bind 127.0.0.1 --save '' --appendonly no",
           ports[0]);
}

static enum job_exit start_redis(struct job_started *s, double quota, volatile sig_atomic_t *stop,
                                 char *err, size_t errlen) {
  struct sproc *sp = &s->p[s->n];
  *sp = (struct sproc){.role = "redis", .name = "redis-server", .quota = quota};
  char path[PATH_MAX];
  if (!find_in_path("redis-server", path, sizeof path)) {
    rb_errorf(0, err, errlen,
              "backend start: cannot find redis-server in PATH or the system directories "
              "(install it, e.g. apt-get install redis-server)");
    return JOB_EXIT_CONFIG;
  }
  if (quota > 0) {
    char why[500];
    if (!cgroup_make(s, quota, why, sizeof why)) {
      rb_errorf(0, err, errlen,
                "redis_cpu %g: cannot put the started redis-server under a CPU quota: %s; a run "
                "against an unconstrained Redis answers another question, so it is refused "
                "(run as root on a machine with the cgroup cpu controller, or set redis_cpu 0)",
                quota, why);
      return JOB_EXIT_CONFIG;
    }
  }
  struct redis_argv a;
  char o_port[] = "--port", o_bind[] = "--bind", lo[] = "127.0.0.1", o_save[] = "--save",
       empty[] = "", o_aof[] = "--appendonly", no[] = "no", o_dir[] = "--dir",
       o_daemon[] = "--daemonize", env_path[] = SAFE_PATH;
  char *argv[] = {path,  o_port, a.port, o_bind, lo,       o_save, empty,
                  o_aof, no,     o_dir,  s->dir, o_daemon, no,     NULL};
  char *envp[] = {env_path, NULL};
  s->n++;
  return start_proc(s, sp, path, argv, envp, 1, redis_fill, &a, stop, err, errlen);
}

/* ---- the layer ---------------------------------------------------------------------------- */

struct agent_argv {
  char listen[32], metrics[32];
  int mport;
};

static void agent_fill(struct job_started *s, struct sproc *sp, int *ports, void *arg) {
  struct agent_argv *a = arg;
  snprintf(a->listen, sizeof a->listen, "127.0.0.1:%d", ports[0]);
  snprintf(a->metrics, sizeof a->metrics, "127.0.0.1:%d", ports[1]);
  a->mport = ports[1];
  snprintf(s->metrics_url, sizeof s->metrics_url, "http://127.0.0.1:%d/metrics", ports[1]);
  (void)sp;
}

static enum job_exit start_agent(struct job_started *s, const struct job_params *p,
                                 const struct job_config *cfg, const char *self_exe,
                                 volatile sig_atomic_t *stop, char *err, size_t errlen) {
  struct sproc *sp = &s->p[s->n];
  *sp = (struct sproc){.role = "layer", .name = "rbench-agent"};
  char path[PATH_MAX];
  if (!find_agent(self_exe, path, sizeof path)) {
    rb_errorf(0, err, errlen,
              "backend start: cannot find rbench-agent beside rbench (%s) or in PATH; build it",
              self_exe ? self_exe : "?");
    return JOB_EXIT_CONFIG;
  }
  struct agent_argv a = {.mport = 0};
  char redis[JOB_HOST_MAX + 16], flags[sizeof p->layer_args];
  snprintf(redis, sizeof redis, "%s:%d", cfg->redis_host, cfg->redis_port);
  snprintf(flags, sizeof flags, "%s", p->layer_args);
  char o_listen[] = "--listen", o_redis[] = "--redis", o_metrics[] = "--metrics",
       o_log[] = "--log-level", warn[] = "warn";
  char *argv[64] = {path, o_listen, a.listen, o_redis, redis, o_metrics, a.metrics, o_log, warn};
  int n = 9;
  for (char *save = NULL, *f = strtok_r(flags, " ", &save); f && n < 63;
       f = strtok_r(NULL, " ", &save))
    argv[n++] = f;
  argv[n] = NULL;
  /* the env Redis's password reaches it as REDIS_PASSWORD, never on its command line */
  char env_path[] = SAFE_PATH, pw[JOB_SECRET_MAX + 32] = "";
  char *envp[] = {env_path, NULL, NULL};
  if (cfg->redis_password[0]) {
    snprintf(pw, sizeof pw, "REDIS_PASSWORD=%s", cfg->redis_password);
    envp[1] = pw;
  }
  s->n++;
  enum job_exit ex = start_proc(s, sp, path, argv, envp, 2, agent_fill, &a, stop, err, errlen);
  explicit_bzero(pw, sizeof pw);
  snprintf(sp->args, sizeof sp->args, "--listen %s --redis %s --metrics %s --log-level warn%s%s",
           a.listen, redis, a.metrics, p->layer_args[0] ? " " : "", p->layer_args);
  return ex;
}

struct nut_argv {
  char conf[PATH_MAX], stats[16];
  const struct job_config *cfg;
};

static void nut_fill(struct job_started *s, struct sproc *sp, int *ports, void *arg) {
  struct nut_argv *a = arg;
  snprintf(a->stats, sizeof a->stats, "%d", ports[1]);
  snprintf(a->conf, sizeof a->conf, "%s/nutcracker.yml", s->dir);
  int fd = open(a->conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600); /* may hold redis_auth */
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (f) {
    fprintf(f,
            "rbench:\n  listen: 127.0.0.1:%d\n  hash: fnv1a_64\n  distribution: ketama\n"
            "  redis: true\n  preconnect: true\n  auto_eject_hosts: false\n"
            "  server_connections: 1\n  timeout: 5000\n",
            ports[0]);
    if (a->cfg->redis_password[0]) fprintf(f, "  redis_auth: %s\n", a->cfg->redis_password);
    fprintf(f, "  servers:\n   - %s:%d:1\n", a->cfg->redis_host, a->cfg->redis_port);
    fclose(f);
  } else if (fd >= 0) {
    close(fd);
  }
  snprintf(sp->args, sizeof sp->args,
           "-c nutcracker.yml -s %d -a 127.0.0.1 -v 4 (pool: listen 127.0.0.1:%d, servers "
           "%s:%d:1, redis: true, preconnect, server_connections 1, no auto eject)",
           ports[1], ports[0], a->cfg->redis_host, a->cfg->redis_port);
}

static enum job_exit start_nutcracker(struct job_started *s, const struct job_config *cfg,
                                      volatile sig_atomic_t *stop, char *err, size_t errlen) {
  struct sproc *sp = &s->p[s->n];
  *sp = (struct sproc){.role = "layer", .name = "nutcracker"};
  char path[PATH_MAX];
  if (!find_in_path("nutcracker", path, sizeof path)) {
    rb_errorf(0, err, errlen,
              "backend start: cannot find nutcracker in PATH or the system directories "
              "(install it, e.g. apt-get install nutcracker)");
    return JOB_EXIT_CONFIG;
  }
  struct nut_argv a = {.cfg = cfg};
  char o_c[] = "-c", o_s[] = "-s", o_a[] = "-a", lo[] = "127.0.0.1", o_v[] = "-v", v4[] = "4",
       env_path[] = SAFE_PATH;
  char *argv[] = {path, o_c, a.conf, o_s, a.stats, o_a, lo, o_v, v4, NULL};
  char *envp[] = {env_path, NULL};
  s->n++;
  s->nutcracker = true;
  return start_proc(s, sp, path, argv, envp, 1, nut_fill, &a, stop, err, errlen);
}

/* ---- the interface ------------------------------------------------------------------------ */

static void started_info(const struct job_params *p, const struct sproc *sp) {
  rb_info("run %s: backend start: %s on 127.0.0.1:%d (pid %d)%s", p->name, sp->name, sp->port,
          (int)sp->pid, sp->quota > 0 ? ", under a CPU quota" : "");
}

enum job_exit job_started_start(const struct job_params *p, const struct job_target_conf *tc,
                                const struct job_shard *shard, struct job_config *cfg,
                                const char *self_exe, volatile sig_atomic_t *stop,
                                struct job_started **out, char *err, size_t errlen) {
  *out = NULL;
  if (strcmp(p->backend, "start") != 0) return JOB_EXIT_OK;
  if (tc->kind == JOB_TARGET_OPENWHISK) {
    rb_errorf(0, err, errlen,
              "run %s: backend start needs the local target, but the target is openwhisk: the "
              "actions run in the cluster and use its Redis (REDIS_HOST/REDIS_PORT); use backend "
              "env",
              p->name);
    return JOB_EXIT_CONFIG;
  }
  if (shard && shard->count > 1) {
    rb_errorf(0, err, errlen,
              "run %s: backend start with --shard: every shard would start a Redis of its own "
              "and measure another backend; use backend env with a shared Redis",
              p->name);
    return JOB_EXIT_CONFIG;
  }
  bool agent = job_params_placement(p) == JOB_PLACE_AGENT;
  bool need_redis = !cfg->redis_host_given && !cfg->redis_port_given;
  bool need_layer = agent && !cfg->agent_host_given && !cfg->agent_port_given;
  if (p->redis_cpu > 0 && !need_redis) {
    rb_errorf(0, err, errlen,
              "run %s: redis_cpu %g puts a Redis the run starts under a CPU quota, but "
              "REDIS_HOST or REDIS_PORT is set, so the env's Redis is used and none is started; "
              "unset them or set redis_cpu 0",
              p->name, p->redis_cpu);
    return JOB_EXIT_CONFIG;
  }
  if (agent && !need_layer && (p->layer_args[0] || strcmp(p->layer, "rbench-agent") != 0)) {
    rb_errorf(0, err, errlen,
              "run %s: layer %s is to be started, but BATCHING_AGENT_HOST or BATCHING_AGENT_PORT "
              "is set, so the env's agent is used and no layer is started; unset them, or drop "
              "layer and layer_args",
              p->name, p->layer);
    return JOB_EXIT_CONFIG;
  }
  if (!need_redis && !need_layer) {
    rb_info("run %s: backend start: the env gives Redis%s; nothing started", p->name,
            agent ? " and the agent" : "");
    return JOB_EXIT_OK;
  }
  struct job_started *s = calloc(1, sizeof *s);
  if (!s) {
    rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
    return JOB_EXIT_FAILURE;
  }
  const char *tmp = getenv("TMPDIR");
  snprintf(s->dir, sizeof s->dir, "%s/rbench-started-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(s->dir)) {
    rb_errorf(0, err, errlen, "backend start: cannot create a directory like %s: %s", s->dir,
              strerror(errno));
    free(s);
    return JOB_EXIT_FAILURE;
  }
  enum job_exit ex = JOB_EXIT_OK;
  if (need_redis) {
    ex = start_redis(s, p->redis_cpu, stop, err, errlen);
    if (ex == JOB_EXIT_OK) {
      started_info(p, &s->p[0]);
      snprintf(cfg->redis_host, sizeof cfg->redis_host, "127.0.0.1");
      cfg->redis_port = s->p[0].port;
      explicit_bzero(cfg->redis_password, sizeof cfg->redis_password); /* it has none */
    }
  }
  if (ex == JOB_EXIT_OK && need_layer) {
    ex = !strcmp(p->layer, "nutcracker") ? start_nutcracker(s, cfg, stop, err, errlen)
                                         : start_agent(s, p, cfg, self_exe, stop, err, errlen);
    if (ex == JOB_EXIT_OK) {
      started_info(p, &s->p[s->n - 1]);
      snprintf(cfg->agent_host, sizeof cfg->agent_host, "127.0.0.1");
      cfg->agent_port = s->p[s->n - 1].port;
      explicit_bzero(cfg->agent_password, sizeof cfg->agent_password); /* it asks for none */
      snprintf(cfg->agent_metrics_url, sizeof cfg->agent_metrics_url, "%s", s->metrics_url);
    }
  }
  if (ex != JOB_EXIT_OK) {
    job_started_stop(s);
    return ex;
  }
  *out = s;
  return JOB_EXIT_OK;
}

const char *job_started_metrics_url(const struct job_started *s) {
  return s && s->metrics_url[0] ? s->metrics_url : NULL;
}

void job_started_begin(struct job_started *s) {
  for (size_t i = 0; s && i < s->n; i++) {
    struct sproc *sp = &s->p[i];
    sp->cpu_a = sp->pid > 0 ? job_proc_cpu_s(sp->pid) : (double)NAN;
    sp->thr_a_ok = sp->quota > 0 && cgroup_throttled(s, &sp->thr_n_a, &sp->thr_ns_a);
    sp->begun = true;
  }
}

static void add_fig(cJSON *o, const char *name, bool ok, double v) {
  if (ok && isfinite(v) && v >= 0) cJSON_AddNumberToObject(o, name, round(v * 1e6) / 1e6);
  else cJSON_AddNullToObject(o, name);
}

void job_started_end(struct job_started *s, cJSON *side, double ops) {
  if (!s || !side) return;
  cJSON *sec = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(sec, JOB_K_PROCESSES);
  double layer_per_op = (double)NAN;
  for (size_t i = 0; i < s->n; i++) {
    struct sproc *sp = &s->p[i];
    if (sp->pid > 0) reap(sp, WNOHANG); /* one that died during the run: its final CPU */
    double b = sp->pid > 0 ? job_proc_cpu_s(sp->pid) : sp->cpu_end;
    bool ok = sp->begun && isfinite(sp->cpu_a) && isfinite(b) && b >= sp->cpu_a;
    double cpu = ok ? b - sp->cpu_a : 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, JOB_K_ROLE, sp->role);
    cJSON_AddStringToObject(o, JOB_K_NAME, sp->name);
    cJSON_AddStringToObject(o, JOB_K_ARGS, sp->args);
    char ep[32];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", sp->port);
    cJSON_AddStringToObject(o, JOB_K_ENDPOINT, ep);
    cJSON_AddNumberToObject(o, JOB_K_PID, (double)(sp->pid > 0 ? sp->pid : 0));
    add_fig(o, JOB_K_CPU_QUOTA, sp->quota > 0, sp->quota);
    add_fig(o, JOB_K_CPU_S, ok, cpu);
    add_fig(o, JOB_K_CPU_US_PER_OP, ok && ops > 0, ops > 0 ? cpu * 1e6 / ops : 0);
    double n_b = 0, ns_b = 0;
    bool thr = sp->thr_a_ok && cgroup_throttled(s, &n_b, &ns_b) && n_b >= sp->thr_n_a &&
               ns_b >= sp->thr_ns_a;
    add_fig(o, JOB_K_THROTTLED_S, thr, (ns_b - sp->thr_ns_a) / 1e9);
    add_fig(o, JOB_K_THROTTLED_PERIODS, thr, n_b - sp->thr_n_a);
    if (sp->pid <= 0)
      cJSON_AddStringToObject(o, JOB_K_NOTE, "it exited during the run: the figures are partial");
    else cJSON_AddNullToObject(o, JOB_K_NOTE);
    cJSON_AddItemToArray(arr, o);
    if (!strcmp(sp->role, "layer") && ok && ops > 0) layer_per_op = cpu * 1e6 / ops;
  }
  cJSON_AddItemToObject(side, JOB_K_STARTED, sec);
  if (!s->nutcracker) return;
  /* nutcracker has no metrics endpoint: the agent section says so, and the backend's CPU per
   * operation takes the layer's from /proc */
  char ep[32];
  snprintf(ep, sizeof ep, "127.0.0.1:%d", s->p[s->n - 1].port);
  if (cJSON_GetObjectItemCaseSensitive(side, JOB_K_AGENT))
    cJSON_ReplaceItemInObjectCaseSensitive(
        side, JOB_K_AGENT,
        job_backend_unavailable(ep,
                                "the layer is nutcracker, which has no metrics endpoint: its "
                                "CPU is in started.processes (from /proc)"));
  const cJSON *redis = cJSON_GetObjectItemCaseSensitive(side, JOB_K_REDIS);
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(redis, JOB_K_CPU_US_PER_OP);
  cJSON *total = cJSON_IsNumber(r) && isfinite(layer_per_op)
                     ? cJSON_CreateNumber(round((r->valuedouble + layer_per_op) * 1e6) / 1e6)
                     : cJSON_CreateNull();
  if (cJSON_GetObjectItemCaseSensitive(side, JOB_K_BACKEND_CPU_US_PER_OP))
    cJSON_ReplaceItemInObjectCaseSensitive(side, JOB_K_BACKEND_CPU_US_PER_OP, total);
  else cJSON_AddItemToObject(side, JOB_K_BACKEND_CPU_US_PER_OP, total);
}

static int rm_entry(const char *dir, const char *name) {
  char path[PATH_MAX + 300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return unlink(path);
}

void job_started_stop(struct job_started *s) {
  if (!s) return;
  for (size_t i = s->n; i-- > 0;) /* the layer first, then Redis */
    if (s->p[i].pid > 0) kill(s->p[i].pid, SIGTERM);
  for (size_t i = s->n; i-- > 0;) stop_proc(&s->p[i]);
  cgroup_remove(s);
  if (s->dir[0]) {
    for (size_t i = 0; i < s->n; i++) {
      const char *slash = strrchr(s->p[i].log, '/');
      if (slash) rm_entry(s->dir, slash + 1);
    }
    rm_entry(s->dir, "nutcracker.yml");
    rm_entry(s->dir, "dump.rdb"); /* none is written (--save ''), unless asked by a client */
    if (rmdir(s->dir) != 0)
      rb_warn("backend start: could not remove %s: %s", s->dir, strerror(errno));
  }
  free(s);
}
