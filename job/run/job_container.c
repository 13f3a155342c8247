/* job_container.c: OCI containers of the action for the local target (job_container.h). */
#define _GNU_SOURCE
#include "job_container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "job_config.h"
#include "job_started.h"
#include "rb_clock.h"
#include "rb_log.h"

#define CG "/sys/fs/cgroup"
#define TOOL_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CPU_PERIOD_US 100000 /* docker's --cpus period */

struct job_container {
  char work[256];         /* everything on disk: image, bundle, c/ID, state */
  char runc[PATH_MAX];    /* the runc executable */
  char version[64];       /* "runc 1.1.5" */
  char image[512];        /* action_image as given */
  char digest[80];        /* the manifest's, as pulled */
  char top[40];           /* the cgroup parent: rbench-PID-N */
  bool v2;                /* unified hierarchy */
  long long memory_mb;    /* action_memory */
  double cpu;             /* action_cpu: cores of quota, 0 none */
  long cpu_shares;        /* OpenWhisk's share of 1024 */
  cJSON *spec;            /* umoci's config.json, made into the containers' template */
  cJSON *entrypoint;      /* the image's Entrypoint (strings) */
  unsigned long long ids; /* containers started */
};

/* ---- small file helpers ----------------------------------------------------------------- */

/* A small file (a cgroup or /proc file, a tool's log) whole; NULL when unreadable. */
static char *slurp(const char *path) {
  size_t len;
  return job_read_file(path, &len);
}

static bool write_text(const char *path, const char *text, char *why, size_t wlen) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, wlen, "cannot open %s: %s", path, strerror(errno));
    return false;
  }
  size_t n = strlen(text);
  bool ok = write(fd, text, n) == (ssize_t)n;
  if (!ok) snprintf(why, wlen, "cannot write '%s' to %s: %s", text, path, strerror(errno));
  close(fd);
  return ok;
}

static bool create_file(const char *path, const char *text, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  size_t n = strlen(text);
  bool ok = write(fd, text, n) == (ssize_t)n;
  return close(fd) == 0 && ok;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)ftw;
  if (flag == FTW_DP) rmdir(path);
  else unlink(path);
  return 0;
}

/* Removes a tree without following links (FTW_PHYS), deepest first. */
static void rm_tree(const char *path) {
  if (path[0]) nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static bool find_in_path(const char *name, char *out, size_t len) {
  const char *path = getenv("PATH");
  if (!path || !*path) return false;
  for (const char *p = path; *p;) {
    size_t n = strcspn(p, ":");
    if (n > 0) {
      snprintf(out, len, "%.*s/%s", (int)n, p, name);
      struct stat st;
      if (access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode)) return true;
    }
    p += n;
    if (*p == ':') p++;
  }
  return false;
}

/* The last non-empty line of text (a tool's error), into out. */
static void last_line(const char *text, char *out, size_t len) {
  out[0] = '\0';
  if (!text) return;
  size_t end = strlen(text);
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ')) end--;
  size_t start = end;
  while (start > 0 && text[start - 1] != '\n') start--;
  snprintf(out, len, "%.*s", (int)(end - start), text + start);
}

/* ---- running the tools ------------------------------------------------------------------ */

/* In a child of rbench before its execve: job_child_setup with its output in log (created
 * 0600; open_flag O_TRUNC or O_APPEND). */
static void child_setup(pid_t parent, int deathsig, const char *log, int open_flag) {
  int out = open(log, O_WRONLY | O_CREAT | open_flag, 0600);
  if (out < 0) _exit(127);
  job_child_setup(parent, deathsig, out);
}

/* Runs argv (argv[0] a path) to its end with a clean environment, its output in WORK/tool.log
 * (its last line into tail). Returns its exit status, 128+signal, -1 when it could not start,
 * -2 when *stop became non-zero (it was then stopped). */
static int run_tool(const struct job_container *c, char *const argv[], volatile sig_atomic_t *stop,
                    char *tail, size_t taillen) {
  char log[PATH_MAX + 16], home[PATH_MAX + 8], tmp[PATH_MAX + 8];
  snprintf(log, sizeof log, "%s/tool.log", c->work);
  snprintf(home, sizeof home, "HOME=%s", c->work);
  snprintf(tmp, sizeof tmp, "TMPDIR=%s", c->work);
  tail[0] = '\0';
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    child_setup(parent, SIGKILL, log, O_TRUNC); /* rbench handles Ctrl-C, and stops it */
    char path_env[] = TOOL_PATH;
    char *envp[] = {path_env, home, tmp, NULL};
    execve(argv[0], argv, envp);
    dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  int status = 0;
  bool stopped = false;
  uint64_t kill_at = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -1;
    if (stop && *stop && !stopped) {
      stopped = true;
      kill(pid, SIGTERM);
      kill_at = rb_clock_mono_ns() + 2000000000u;
    } else if (stopped && rb_clock_mono_ns() > kill_at) {
      kill(pid, SIGKILL);
    }
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  char *text = slurp(log);
  last_line(text, tail, taillen);
  free(text);
  if (stopped) return -2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs argv quietly and waits (runc kill, runc delete, runc --version); its exit status. */
static int run_quiet(const struct job_container *c, char *const argv[], char *out, size_t len) {
  char tail[300];
  int rc = run_tool(c, argv, NULL, tail, sizeof tail);
  if (out) snprintf(out, len, "%s", tail);
  return rc;
}

/* ---- usability -------------------------------------------------------------------------- */

bool job_container_usable(char *err, size_t errlen) {
  char missing[200] = "", path[PATH_MAX];
  static const char *const tools[] = {"runc", "skopeo", "umoci", NULL};
  size_t n = 0;
  for (int i = 0; tools[i]; i++)
    if (!find_in_path(tools[i], path, sizeof path))
      n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "", tools[i]);
  char why[600] = "";
  size_t w = 0;
  if (geteuid() != 0)
    w += (size_t)snprintf(why, sizeof why,
                          "it needs root (runc creates namespaces and cgroups; rbench runs as uid "
                          "%u)",
                          (unsigned)geteuid());
  if (n)
    w += (size_t)snprintf(why + w, sizeof why - w,
                          "%s%s not found in PATH (tools/install-deps.sh installs runc, skopeo and "
                          "umoci)",
                          w ? "; " : "it needs runc, skopeo and umoci: ", missing);
  struct stat st;
  bool v1 = stat(CG "/memory/memory.limit_in_bytes", &st) == 0;
  bool v2 = stat(CG "/cgroup.controllers", &st) == 0;
  if (!v1 && !v2 && w < sizeof why)
    snprintf(why + w, sizeof why - w,
             "%sno cgroup memory controller (neither " CG "/memory nor a cgroup v2 " CG ")",
             w ? "; " : "");
  if (!why[0]) return true;
  rb_errorf(RB_ERR_INVALID, err, errlen, "action_runtime container: %s", why);
  return false;
}

/* ---- the image -------------------------------------------------------------------------- */

static bool loopback_host(const char *ref) {
  size_t n = strcspn(ref, "/");
  char host[256];
  snprintf(host, sizeof host, "%.*s", (int)(n < 255 ? n : 255), ref);
  if (host[0] == '[') return strncmp(host, "[::1]", 5) == 0;
  char *colon = strchr(host, ':');
  if (colon) *colon = '\0';
  return !strcmp(host, "localhost") || !strncmp(host, "127.", 4);
}

static cJSON *read_json(const char *path) {
  char *text = slurp(path);
  cJSON *j = text ? cJSON_Parse(text) : NULL;
  free(text);
  return j;
}

static cJSON *read_blob(const char *layout, const char *digest) {
  char path[PATH_MAX + 200];
  const char *colon = digest ? strchr(digest, ':') : NULL;
  if (!colon) return NULL;
  snprintf(path, sizeof path, "%s/blobs/%.*s/%s", layout, (int)(colon - digest), digest, colon + 1);
  return read_json(path);
}

/* The digest of the layout's one manifest and the image config's Entrypoint. */
static bool read_image(struct job_container *c, const char *layout, char *why, size_t wlen) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/index.json", layout);
  cJSON *index = read_json(path);
  cJSON *m = index ? cJSON_GetArrayItem(cJSON_GetObjectItem(index, "manifests"), 0) : NULL;
  const char *digest = cJSON_GetStringValue(cJSON_GetObjectItem(m, "digest"));
  cJSON *manifest = read_blob(layout, digest);
  cJSON *cfg = read_blob(layout, cJSON_GetStringValue(cJSON_GetObjectItem(
                                     cJSON_GetObjectItem(manifest, "config"), "digest")));
  cJSON *ep = cJSON_GetObjectItem(cJSON_GetObjectItem(cfg, "config"), "Entrypoint");
  bool ok = digest && cJSON_IsArray(ep) && cJSON_GetArraySize(ep) > 0;
  if (ok) {
    if (!c->digest[0]) snprintf(c->digest, sizeof c->digest, "%s", digest);
    c->entrypoint = cJSON_Duplicate(ep, true);
    ok = c->entrypoint != NULL;
  }
  if (!ok)
    snprintf(why, wlen, "%s",
             !digest ? "the pulled layout has no manifest"
             : !cfg  ? "cannot read the image's config"
                     : "the image has no Entrypoint (the action's server must be its "
                       "entrypoint, as in action/Dockerfile)");
  cJSON_Delete(index);
  cJSON_Delete(manifest);
  cJSON_Delete(cfg);
  return ok;
}

static cJSON *empty_caps(void) {
  cJSON *caps = cJSON_CreateObject();
  static const char *const sets[] = {"bounding",  "effective", "inheritable",
                                     "permitted", "ambient",   NULL};
  for (int i = 0; caps && sets[i]; i++) cJSON_AddItemToObject(caps, sets[i], cJSON_CreateArray());
  return caps;
}

/* umoci's config.json made into the containers' template: no terminal, no capabilities,
 * noNewPrivileges, no rlimits of umoci's, the shared rootfs read-only, the host's network
 * namespace, no resources of runc's own but the device rules (the limits are the container
 * cgroup's, above runc's). */
static bool make_template(struct job_container *c, char *why, size_t wlen) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/bundle/config.json", c->work);
  cJSON *spec = read_json(path);
  cJSON *proc = cJSON_GetObjectItem(spec, "process");
  cJSON *linux_ = cJSON_GetObjectItem(spec, "linux");
  if (!cJSON_IsObject(proc) || !cJSON_IsObject(linux_) ||
      !cJSON_IsObject(cJSON_GetObjectItem(proc, "user"))) {
    snprintf(why, wlen, "umoci's %.300s lacks process, user or linux", path);
    cJSON_Delete(spec);
    return false;
  }
  cJSON_ReplaceItemInObject(proc, "terminal", cJSON_CreateFalse());
  if (!cJSON_GetObjectItem(proc, "terminal")) cJSON_AddFalseToObject(proc, "terminal");
  cJSON_DeleteItemFromObject(proc, "rlimits");
  cJSON_DeleteItemFromObject(proc, "capabilities");
  cJSON_AddItemToObject(proc, "capabilities", empty_caps());
  cJSON_DeleteItemFromObject(proc, "noNewPrivileges");
  cJSON_AddTrueToObject(proc, "noNewPrivileges");
  cJSON_DeleteItemFromObject(spec, "root");
  cJSON *root = cJSON_AddObjectToObject(spec, "root");
  snprintf(path, sizeof path, "%s/bundle/rootfs", c->work);
  cJSON_AddStringToObject(root, "path", path);
  cJSON_AddTrueToObject(root, "readonly");
  cJSON_DeleteItemFromObject(spec, "hostname");
  cJSON_AddStringToObject(spec, "hostname", "rbench-action");
  cJSON *nss = cJSON_GetObjectItem(linux_, "namespaces");
  for (int i = cJSON_GetArraySize(nss) - 1; i >= 0; i--) {
    const char *type =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(nss, i), "type"));
    if (type && !strcmp(type, "network")) cJSON_DeleteItemFromArray(nss, i);
  }
  cJSON *res = cJSON_GetObjectItem(linux_, "resources");
  cJSON *devices = res ? cJSON_DetachItemFromObject(res, "devices") : NULL;
  cJSON_DeleteItemFromObject(linux_, "resources");
  res = cJSON_AddObjectToObject(linux_, "resources");
  if (devices) cJSON_AddItemToObject(res, "devices", devices);
  c->spec = spec;
  return true;
}

/* ---- cgroups ---------------------------------------------------------------------------- */

/* The controller directories holding the container cgroup's settings (v1: memory, cpu and
 * cpuacct when separate; v2: the one hierarchy). */
static size_t limit_dirs(const struct job_container *c, const char *dirs[3]) {
  if (c->v2) {
    dirs[0] = CG;
    return 1;
  }
  size_t n = 0;
  dirs[n++] = CG "/memory";
  dirs[n++] = CG "/cpu";
  char a[PATH_MAX], b[PATH_MAX];
  if (!realpath(CG "/cpu", a) || !realpath(CG "/cpuacct", b) || strcmp(a, b))
    dirs[n++] = CG "/cpuacct";
  return n;
}

static bool cg_mkdir(const char *path, char *why, size_t wlen) {
  if (mkdir(path, 0755) == 0 || errno == EEXIST) return true;
  snprintf(why, wlen, "cannot create the cgroup %.300s: %s", path, strerror(errno));
  return false;
}

/* v2: the memory and cpu controllers for the children of dir. */
static bool v2_delegate(const char *dir, char *why, size_t wlen) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
  char *on = slurp(path);
  bool have = on && strstr(on, "memory") && strstr(on, "cpu");
  free(on);
  return have || write_text(path, "+memory +cpu", why, wlen);
}

/* The pid in NAME = PREFIX<pid>-..., when that process is gone (a run killed with SIGKILL could
 * not remove what it made). */
static bool dead_owner(const char *name, const char *prefix) {
  size_t n = strlen(prefix);
  if (strncmp(name, prefix, n) != 0) return false;
  char *end = NULL;
  long pid = strtol(name + n, &end, 10);
  return pid > 0 && end && *end == '-' && pid != getpid() && kill((pid_t)pid, 0) != 0 &&
         errno == ESRCH;
}

/* Removes the cgroups (rbench-PID-N/ID/ctr, ID, then rbench-PID-N) of runs whose rbench died. */
static void cgroup_sweep(void) {
  DIR *d = opendir(CG);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    char ctl[512];
    if (e->d_name[0] == '.') continue;
    snprintf(ctl, sizeof ctl, CG "/%s", e->d_name);
    DIR *cd = opendir(ctl);
    struct dirent *f;
    while (cd && (f = readdir(cd)) != NULL) {
      if (!dead_owner(f->d_name, "rbench-")) continue;
      char top[1024];
      snprintf(top, sizeof top, "%s/%s", ctl, f->d_name);
      DIR *td = opendir(top);
      struct dirent *g;
      while (td && (g = readdir(td)) != NULL) {
        char sub[PATH_MAX];
        if (g->d_name[0] == '.' || g->d_type != DT_DIR) continue;
        snprintf(sub, sizeof sub, "%s/%s/ctr", top, g->d_name);
        rmdir(sub);
        snprintf(sub, sizeof sub, "%s/%s", top, g->d_name);
        rmdir(sub);
      }
      if (td) closedir(td);
      rmdir(top);
    }
    if (cd) closedir(cd);
  }
  if (d) closedir(d);
}

/* Removes the work directories ($TMPDIR/rbench-ctr-PID-*) of runs whose rbench died. */
static void work_sweep(const char *tmp) {
  DIR *d = opendir(tmp);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (!dead_owner(e->d_name, "rbench-ctr-")) continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
    rm_tree(path);
  }
  if (d) closedir(d);
}

static bool cgroup_top(struct job_container *c, char *why, size_t wlen) {
  cgroup_sweep();
  const char *dirs[3];
  size_t n = limit_dirs(c, dirs);
  char path[PATH_MAX];
  if (c->v2 && !v2_delegate(CG, why, wlen)) return false;
  for (size_t i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dirs[i], c->top);
    if (!cg_mkdir(path, why, wlen)) return false;
  }
  if (c->v2) {
    snprintf(path, sizeof path, CG "/%s", c->top);
    return v2_delegate(path, why, wlen);
  }
  return true;
}

static bool cg_set(const char *dir, const char *file, const char *value, char *why, size_t wlen) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return write_text(path, value, why, wlen);
}

/* The container's cgroup with its limits. */
static bool cgroup_container(const struct job_container *c, const char *id, char *why,
                             size_t wlen) {
  const char *dirs[3];
  size_t n = limit_dirs(c, dirs);
  char dir[PATH_MAX], v[64];
  long long bytes = c->memory_mb * 1024 * 1024;
  long long quota = c->cpu > 0 ? (long long)llround(c->cpu * CPU_PERIOD_US) : -1;
  if (quota == 0) quota = 1000; /* the kernel's minimum (1 ms) */
  for (size_t i = 0; i < n; i++) {
    snprintf(dir, sizeof dir, "%s/%s/%s", dirs[i], c->top, id);
    if (!cg_mkdir(dir, why, wlen)) return false;
    bool ok = true;
    if (c->v2) {
      snprintf(v, sizeof v, "%lld", bytes);
      ok =
          cg_set(dir, "memory.max", v, why, wlen) && cg_set(dir, "memory.swap.max", "0", why, wlen);
      /* cgroup v2's weight for docker's shares (runc's conversion) */
      snprintf(v, sizeof v, "%ld", 1 + ((c->cpu_shares - 2) * 9999) / 262142);
      ok = ok && cg_set(dir, "cpu.weight", v, why, wlen);
      if (quota > 0) {
        snprintf(v, sizeof v, "%lld %d", quota, CPU_PERIOD_US);
        ok = ok && cg_set(dir, "cpu.max", v, why, wlen);
      }
      ok = ok && v2_delegate(dir, why, wlen);
    } else if (!strcmp(dirs[i], CG "/memory")) {
      snprintf(v, sizeof v, "%lld", bytes);
      /* the memory limit first: memsw may never be below it */
      ok = cg_set(dir, "memory.limit_in_bytes", v, why, wlen);
      struct stat st;
      char sw[PATH_MAX + 32];
      snprintf(sw, sizeof sw, "%s/memory.memsw.limit_in_bytes", dir);
      if (ok && stat(sw, &st) == 0) ok = cg_set(dir, "memory.memsw.limit_in_bytes", v, why, wlen);
    } else if (!strcmp(dirs[i], CG "/cpu")) {
      snprintf(v, sizeof v, "%ld", c->cpu_shares);
      ok = cg_set(dir, "cpu.shares", v, why, wlen);
      if (ok && quota > 0) {
        snprintf(v, sizeof v, "%d", CPU_PERIOD_US);
        ok = cg_set(dir, "cpu.cfs_period_us", v, why, wlen);
        snprintf(v, sizeof v, "%lld", quota);
        ok = ok && cg_set(dir, "cpu.cfs_quota_us", v, why, wlen);
      }
    }
    if (!ok) return false;
  }
  return true;
}

/* rmdir of SUB under every controller (runc makes its cgroup in each one it knows). */
static void cgroup_remove(const char *sub) {
  DIR *d = opendir(CG);
  if (!d) return;
  struct dirent *e;
  char path[PATH_MAX + 300];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, CG "/%s/%s", e->d_name, sub);
    rmdir(path);
  }
  closedir(d);
  snprintf(path, sizeof path, CG "/%s", sub); /* v2 */
  rmdir(path);
}

/* A counter's value in a cgroup file ("KEY N" lines, or the number alone when key is NULL). */
static long long cg_counter(const char *path, const char *key) {
  char *text = slurp(path);
  const char *k = text && key ? strstr(text, key) : text;
  long long v = k ? strtoll(k + (key ? strlen(key) : 0), NULL, 10) : 0;
  free(text);
  return v;
}

/* cgroup v1 counts an OOM kill in the victim's own cgroup (runc's, gone with the container),
 * not in the one whose limit was hit, and this kernel leaves that one's failcnt at 0: there
 * the usage's high-water mark at the limit says it was hit (with no swap, anonymous memory
 * beyond it is what the OOM killer answers; the caller asks only once the container died).
 * v2 counts oom_kill hierarchically. */
bool job_container_oom(const struct job_container *c, const char *id) {
  char path[PATH_MAX];
  if (c->v2) {
    snprintf(path, sizeof path, CG "/%s/%s/memory.events", c->top, id);
    return cg_counter(path, "oom_kill ") > 0;
  }
  snprintf(path, sizeof path, CG "/memory/%s/%s/ctr/memory.oom_control", c->top, id);
  if (cg_counter(path, "oom_kill ") > 0) return true;
  static const char *const pairs[][2] = {
      {"memory.failcnt", NULL},
      {"memory.memsw.failcnt", NULL},
      {"memory.max_usage_in_bytes", "memory.limit_in_bytes"},
      {"memory.memsw.max_usage_in_bytes", "memory.memsw.limit_in_bytes"}};
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    snprintf(path, sizeof path, CG "/memory/%s/%s/%s", c->top, id, pairs[i][0]);
    long long v = cg_counter(path, NULL);
    if (!pairs[i][1] && v > 0) return true;
    if (!pairs[i][1]) continue;
    snprintf(path, sizeof path, CG "/memory/%s/%s/%s", c->top, id, pairs[i][1]);
    long long limit = cg_counter(path, NULL);
    if (limit > 0 && v >= limit) return true;
  }
  return false;
}

void job_container_oom_text(const struct job_container *c, char *out, size_t len) {
  snprintf(out, len,
           "killed by the kernel's OOM killer at its memory limit of %lld MB (action_memory)",
           c->memory_mb);
}

double job_container_cpu_s(const struct job_container *c) {
  char path[PATH_MAX];
  if (c->v2) {
    snprintf(path, sizeof path, CG "/%s/cpu.stat", c->top);
    char *text = slurp(path);
    const char *k = text ? strstr(text, "usage_usec ") : NULL;
    double s = k ? strtod(k + 11, NULL) / 1e6 : (double)NAN;
    free(text);
    return s;
  }
  snprintf(path, sizeof path, CG "/cpuacct/%s/cpuacct.usage", c->top);
  char *text = slurp(path);
  char *end = NULL;
  double ns = text ? strtod(text, &end) : (double)NAN;
  bool ok = text && end != text;
  free(text);
  return ok ? ns / 1e9 : (double)NAN;
}

/* ---- prepare ---------------------------------------------------------------------------- */

static enum job_preflight tool_step(struct job_container *c, char *const argv[], const char *what,
                                    volatile sig_atomic_t *stop, char *err, size_t errlen) {
  char tail[400];
  int rc = run_tool(c, argv, stop, tail, sizeof tail);
  if (rc == 0) return JOB_PREFLIGHT_OK;
  if (rc == -2) {
    rb_errorf(0, err, errlen, "action_image %s: stopped by a signal during %s", c->image, what);
    return JOB_PREFLIGHT_INTERRUPTED;
  }
  rb_errorf(0, err, errlen, "action_image %s: %s failed (%s %d): %s", c->image, what,
            rc < 0     ? "could not start"
            : rc > 128 ? "signal"
                       : "exit status",
            rc > 128 ? rc - 128 : rc, tail[0] ? tail : "no output");
  return JOB_PREFLIGHT_CONFIG;
}

static void runc_version(struct job_container *c) {
  char version[] = "--version", line[300] = "";
  char *argv[] = {c->runc, version, NULL};
  snprintf(c->version, sizeof c->version, "runc");
  char log[PATH_MAX + 16];
  if (run_quiet(c, argv, NULL, 0) != 0) return;
  snprintf(log, sizeof log, "%s/tool.log", c->work);
  char *text = slurp(log); /* "runc version 1.1.5\ncommit: ...\n" */
  const char *v = text ? strstr(text, "version ") : NULL;
  if (v) {
    snprintf(line, sizeof line, "%.*s", (int)strcspn(v + 8, "\n"), v + 8);
    snprintf(c->version, sizeof c->version, "runc %.50s", line);
  }
  free(text);
}

static unsigned long long prepared_runs;

enum job_preflight job_container_prepare(const struct job_params *p, long long pool_size,
                                         volatile sig_atomic_t *stop, struct job_container **out,
                                         char *err, size_t errlen) {
  *out = NULL;
  if (!job_container_usable(err, errlen)) return JOB_PREFLIGHT_CONFIG;
  struct job_container *c = calloc(1, sizeof *c);
  if (!c) {
    rb_errorf(RB_ERR_NOMEM, err, errlen, "out of memory");
    return JOB_PREFLIGHT_CONFIG;
  }
  snprintf(c->image, sizeof c->image, "%s", p->action_image);
  c->memory_mb = p->action_memory;
  c->cpu = p->action_cpu;
  /* OpenWhisk's ContainerPoolConfig.cpuShare: 1024 / (user memory / the action's memory), at
   * least 2; the user memory here holds pool_size containers of the action's memory */
  c->cpu_shares = 1024 / (pool_size > 0 ? pool_size : 1);
  if (c->cpu_shares < 2) c->cpu_shares = 2;
  struct stat st;
  c->v2 = stat(CG "/memory/memory.limit_in_bytes", &st) != 0;
  find_in_path("runc", c->runc, sizeof c->runc);
  char skopeo[PATH_MAX], umoci[PATH_MAX];
  find_in_path("skopeo", skopeo, sizeof skopeo);
  find_in_path("umoci", umoci, sizeof umoci);
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp) tmp = "/tmp";
  if (strlen(tmp) > 200) {
    rb_errorf(0, err, errlen, "action_runtime container: TMPDIR is longer than 200 bytes");
    free(c);
    return JOB_PREFLIGHT_CONFIG;
  }
  work_sweep(tmp);
  snprintf(c->work, sizeof c->work, "%s/rbench-ctr-%d-XXXXXX", tmp, (int)getpid());
  if (!mkdtemp(c->work)) {
    rb_errorf(0, err, errlen, "action_runtime container: cannot create a work directory %s: %s",
              c->work, strerror(errno));
    c->work[0] = '\0';
    free(c);
    return JOB_PREFLIGHT_CONFIG;
  }
  chmod(c->work, 0755); /* the containers' user reaches the rootfs through it */
  snprintf(c->top, sizeof c->top, "rbench-%d-%llu", (int)getpid(), ++prepared_runs);
  enum job_preflight pf = JOB_PREFLIGHT_CONFIG;
  char policy[PATH_MAX + 16], layout[PATH_MAX + 24], bundle[PATH_MAX + 16], state[PATH_MAX + 16];
  char src[600], why[400] = "";
  snprintf(policy, sizeof policy, "%s/policy.json", c->work);
  snprintf(layout, sizeof layout, "oci:%s/image:img", c->work);
  snprintf(bundle, sizeof bundle, "%s/bundle", c->work);
  snprintf(state, sizeof state, "%s/state", c->work);
  bool oci = !strncmp(p->action_image, "oci:", 4);
  if (oci) snprintf(src, sizeof src, "%s", p->action_image);
  else snprintf(src, sizeof src, "docker://%s", p->action_image);
  char tls[] = "--src-tls-verify=false", quiet[] = "--quiet", copy[] = "copy",
       o_policy[] = "--policy";
  char *copy_argv[] = {skopeo, o_policy, policy, copy, quiet, src, layout, NULL};
  char *copy_plain[] = {skopeo, o_policy, policy, copy, quiet, tls, src, layout, NULL};
  char unpack[] = "unpack", o_image[] = "--image";
  char *unpack_argv[] = {umoci, unpack, o_image, layout + 4, bundle, NULL};
  /* skopeo's signature policy of this run: accept the image as it is (as docker pull does) */
  if (!create_file(policy, "{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}\n", 0600) ||
      mkdir(state, 0700) != 0) {
    rb_errorf(0, err, errlen, "action_runtime container: cannot write in %s: %s", c->work,
              strerror(errno));
    goto fail;
  }
  rb_info("action_runtime container: pulling %s", p->action_image);
  uint64_t t0 = rb_clock_mono_ns();
  pf = tool_step(c, !oci && loopback_host(p->action_image) ? copy_plain : copy_argv, "skopeo copy",
                 stop, err, errlen);
  /* the source's own manifest digest (the registry's: a Docker manifest copied into an OCI
   * layout gets another one) */
  char inspect[] = "inspect", o_format[] = "--format", fmt[] = "{{.Digest}}",
       tls_i[] = "--tls-verify=false";
  char *inspect_argv[] = {skopeo, o_policy, policy, inspect, o_format, fmt, src, NULL};
  char *inspect_plain[] = {skopeo, o_policy, policy, inspect, tls_i, o_format, fmt, src, NULL};
  if (pf == JOB_PREFLIGHT_OK)
    pf = tool_step(c, !oci && loopback_host(p->action_image) ? inspect_plain : inspect_argv,
                   "skopeo inspect", stop, err, errlen);
  if (pf == JOB_PREFLIGHT_OK) {
    char log[PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/tool.log", c->work);
    char *text = slurp(log);
    if (text && !strncmp(text, "sha256:", 7))
      snprintf(c->digest, sizeof c->digest, "%.*s", (int)strcspn(text, "\r\n"), text);
    free(text);
  }
  if (pf == JOB_PREFLIGHT_OK) pf = tool_step(c, unpack_argv, "umoci unpack", stop, err, errlen);
  if (pf != JOB_PREFLIGHT_OK) goto fail;
  pf = JOB_PREFLIGHT_CONFIG;
  chmod(bundle, 0755);
  snprintf(layout, sizeof layout, "%s/image", c->work);
  if (!read_image(c, layout, why, sizeof why) || !make_template(c, why, sizeof why)) {
    rb_errorf(0, err, errlen, "action_image %s: %s", c->image, why);
    goto fail;
  }
  if (!cgroup_top(c, why, sizeof why)) {
    rb_errorf(0, err, errlen, "action_runtime container: %s", why);
    goto fail;
  }
  runc_version(c);
  rb_info(
      "action_runtime container: %s (%s) unpacked in %.2f s; %s, memory %lld MB, cpu %s%g, "
      "shares %ld",
      p->action_image, c->digest, (double)(rb_clock_mono_ns() - t0) / 1e9, c->version, c->memory_mb,
      c->cpu > 0 ? "" : "no quota ", c->cpu, c->cpu_shares);
  *out = c;
  return JOB_PREFLIGHT_OK;
fail:
  job_container_destroy(c);
  return pf;
}

/* ---- containers ------------------------------------------------------------------------- */

static bool write_config(const struct job_container *c, const char *id, const char *dir, int port,
                         int threads) {
  cJSON *spec = cJSON_Duplicate(c->spec, true);
  cJSON *proc = cJSON_GetObjectItem(spec, "process");
  cJSON *args = cJSON_Duplicate(c->entrypoint, true);
  char listen[64], nthreads[16], cgpath[200], path[PATH_MAX + 100];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
  cJSON_AddItemToArray(args, cJSON_CreateString("--listen"));
  cJSON_AddItemToArray(args, cJSON_CreateString(listen));
  cJSON_AddItemToArray(args, cJSON_CreateString("--log-level"));
  cJSON_AddItemToArray(args, cJSON_CreateString("warn"));
  if (threads > 0) {
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    cJSON_AddItemToArray(args, cJSON_CreateString("--threads"));
    cJSON_AddItemToArray(args, cJSON_CreateString(nthreads));
  }
  cJSON_DeleteItemFromObject(proc, "args");
  cJSON_AddItemToObject(proc, "args", args);
  snprintf(cgpath, sizeof cgpath, "/%s/%s/ctr", c->top, id);
  cJSON *linux_ = cJSON_GetObjectItem(spec, "linux");
  cJSON_DeleteItemFromObject(linux_, "cgroupsPath");
  cJSON_AddStringToObject(linux_, "cgroupsPath", cgpath);
  char *text = cJSON_PrintUnformatted(spec);
  cJSON_Delete(spec);
  snprintf(path, sizeof path, "%s/config.json", dir);
  bool ok = text && create_file(path, text, 0644);
  free(text);
  return ok;
}

pid_t job_container_start(struct job_container *c, int port, int threads, char *id, size_t idlen,
                          char *err, size_t errlen) {
  char cid[JOB_CONTAINER_ID_MAX], dir[PATH_MAX + 80], state[PATH_MAX + 16], log[PATH_MAX + 96];
  char why[400];
  snprintf(cid, sizeof cid, "%s-%llu", c->top, ++c->ids);
  snprintf(id, idlen, "%s", cid);
  snprintf(dir, sizeof dir, "%s/c", c->work);
  mkdir(dir, 0755);
  snprintf(dir, sizeof dir, "%s/c/%s", c->work, cid);
  snprintf(state, sizeof state, "%s/state", c->work);
  snprintf(log, sizeof log, "%s/c/%s.log", c->work, cid);
  if (mkdir(dir, 0755) != 0 || !write_config(c, cid, dir, port, threads)) {
    rb_errorf(0, err, errlen, "cannot write the bundle %s: %s", dir, strerror(errno));
    return -1;
  }
  if (!cgroup_container(c, cid, why, sizeof why)) {
    rb_errorf(0, err, errlen, "container %s: %s", cid, why);
    job_container_remove(c, cid);
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    rb_errorf(0, err, errlen, "cannot fork: %s", strerror(errno));
    job_container_remove(c, cid);
    return -1;
  }
  if (pid == 0) {
    /* rbench gone: runc forwards the SIGTERM to the action and removes the container */
    child_setup(parent, SIGTERM, log, O_APPEND);
    char o_root[] = "--root", run[] = "run", o_bundle[] = "--bundle", path_env[] = TOOL_PATH;
    char *argv[] = {c->runc, o_root, state, run, o_bundle, dir, cid, NULL};
    char *envp[] = {path_env, NULL};
    execve(c->runc, argv, envp);
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

void job_container_log_tail(const struct job_container *c, const char *id, char *out, size_t len) {
  char path[PATH_MAX + 96];
  snprintf(path, sizeof path, "%s/c/%s.log", c->work, id);
  char *text = slurp(path);
  last_line(text, out, len);
  free(text);
}

/* Whether runc still knows container id (its state directory). */
static bool runc_knows(const struct job_container *c, const char *id) {
  char path[PATH_MAX + 80];
  struct stat st;
  snprintf(path, sizeof path, "%s/state/%s", c->work, id);
  return stat(path, &st) == 0;
}

void job_container_remove(struct job_container *c, const char *id) {
  if (!c || !id[0]) return;
  char state[PATH_MAX + 16], path[PATH_MAX + 96], sub[PATH_MAX];
  snprintf(state, sizeof state, "%s/state", c->work);
  if (runc_knows(c, id)) {
    char o_root[] = "--root", kill_[] = "kill", all[] = "--all", sig[] = "KILL", del[] = "delete",
         force[] = "--force";
    char idb[JOB_CONTAINER_ID_MAX];
    snprintf(idb, sizeof idb, "%s", id);
    char *kargv[] = {c->runc, o_root, state, kill_, all, idb, sig, NULL};
    char *dargv[] = {c->runc, o_root, state, del, force, idb, NULL};
    run_quiet(c, kargv, NULL, 0);
    run_quiet(c, dargv, NULL, 0);
  }
  snprintf(sub, sizeof sub, "%s/%s/ctr", c->top, id);
  cgroup_remove(sub);
  snprintf(sub, sizeof sub, "%s/%s", c->top, id);
  cgroup_remove(sub);
  snprintf(path, sizeof path, "%s/c/%s", c->work, id);
  rm_tree(path);
  snprintf(path, sizeof path, "%s/c/%s.log", c->work, id);
  unlink(path);
}

cJSON *job_container_json(const struct job_container *c) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "kind", "container");
  cJSON_AddStringToObject(o, "runtime", c->version);
  cJSON_AddStringToObject(o, "image", c->image);
  cJSON_AddStringToObject(o, "digest", c->digest);
  cJSON_AddNumberToObject(o, "memory_mb", (double)c->memory_mb);
  cJSON_AddNumberToObject(o, "cpu", c->cpu);
  cJSON_AddNumberToObject(o, "cpu_shares", (double)c->cpu_shares);
  cJSON_AddStringToObject(o, "network", "host");
  char cg[120];
  snprintf(cg, sizeof cg, "/%s", c->top);
  cJSON_AddStringToObject(o, "cgroup", cg);
  return o;
}

void job_container_destroy(struct job_container *c) {
  if (!c) return;
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/state", c->work);
  DIR *d = c->work[0] ? opendir(path) : NULL;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) /* containers runc still knows */
    if (e->d_name[0] != '.') job_container_remove(c, e->d_name);
  if (d) closedir(d);
  if (c->work[0]) {
    snprintf(path, sizeof path, "%s/c", c->work);
    d = opendir(path);
    while (d && (e = readdir(d)) != NULL) { /* the cgroups of the others */
      char sub[PATH_MAX];
      if (e->d_name[0] == '.' || strstr(e->d_name, ".log")) continue;
      snprintf(sub, sizeof sub, "%s/%s/ctr", c->top, e->d_name);
      cgroup_remove(sub);
      snprintf(sub, sizeof sub, "%s/%s", c->top, e->d_name);
      cgroup_remove(sub);
    }
    if (d) closedir(d);
  }
  if (c->top[0]) cgroup_remove(c->top);
  rm_tree(c->work);
  cJSON_Delete(c->spec);
  cJSON_Delete(c->entrypoint);
  free(c);
}
