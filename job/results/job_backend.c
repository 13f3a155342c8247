/* job_backend.c: INFO and Prometheus parsing, deltas and the server-side sections (pure). */
#include "job_backend.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 1024

/* Calls fn for each line (without its CR LF) shorter than LINE_MAX_LEN, NUL-terminated. */
static void each_line(const char *text, size_t len, void (*fn)(char *line, void *arg), void *arg) {
  const char *p = text, *end = text + len;
  char line[LINE_MAX_LEN];
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    size_t n = (size_t)(eol - p);
    if (n > 0 && p[n - 1] == '\r') n--;
    if (n < sizeof line) {
      memcpy(line, p, n);
      line[n] = '\0';
      if (!memchr(line, '\0', n)) fn(line, arg);
    }
    p = nl ? nl + 1 : end;
  }
}

/* A whole decimal number (no trailing text); false otherwise. */
static bool number(const char *s, double *out) {
  char *e = NULL;
  if (!*s) return false;
  double v = strtod(s, &e);
  if (e == s || *e || !isfinite(v)) return false;
  *out = v;
  return true;
}

/* ---- Redis INFO ------------------------------------------------------------------------ */

static const char *const ri_names[JOB_RI_COUNT] = {"used_cpu_sys",
                                                   "used_cpu_user",
                                                   "total_commands_processed",
                                                   "total_reads_processed",
                                                   "total_writes_processed",
                                                   "total_net_input_bytes",
                                                   "total_net_output_bytes",
                                                   "total_connections_received",
                                                   "connected_clients"};

struct info_ctx {
  struct job_redis_info *out;
  size_t known;
};

/* "cmdstat_NAME:calls=N,usec=...": the calls. */
static void info_cmdstat(struct info_ctx *x, const char *name, const char *value) {
  const char *c = strstr(value, "calls=");
  if (!c || (c != value && c[-1] != ',')) return;
  char num[64];
  size_t n = strcspn(c + 6, ",");
  if (n == 0 || n >= sizeof num) return;
  memcpy(num, c + 6, n);
  num[n] = '\0';
  double calls = 0;
  if (!number(num, &calls) || calls < 0) return;
  struct job_redis_info *o = x->out;
  if (o->ncmd == JOB_REDIS_CMDS_MAX || strlen(name) >= sizeof o->cmd[0].name) return;
  for (size_t i = 0; i < o->ncmd; i++)
    if (!strcmp(o->cmd[i].name, name)) return; /* the first one stands */
  snprintf(o->cmd[o->ncmd].name, sizeof o->cmd[0].name, "%s", name);
  o->cmd[o->ncmd++].calls = calls;
  x->known++;
}

static void info_line(char *line, void *arg) {
  struct info_ctx *x = arg;
  if (line[0] == '#') {
    if (!strncmp(line, "# Commandstats", 14)) x->out->commandstats = true;
    return;
  }
  char *colon = strchr(line, ':');
  if (!colon) return;
  *colon = '\0';
  const char *key = line, *value = colon + 1;
  if (!strncmp(key, "cmdstat_", 8)) {
    info_cmdstat(x, key + 8, value);
    return;
  }
  if (!strcmp(key, "run_id")) {
    if (strlen(value) < sizeof x->out->run_id)
      snprintf(x->out->run_id, sizeof x->out->run_id, "%s", value);
    return;
  }
  for (int i = 0; i < JOB_RI_COUNT; i++) {
    double v = 0;
    if (strcmp(key, ri_names[i]) || (x->out->have & (1u << i)) || !number(value, &v) || v < 0)
      continue;
    x->out->v[i] = v;
    x->out->have |= 1u << i;
    x->known++;
  }
}

size_t job_redis_info_parse(const char *text, size_t len, struct job_redis_info *out) {
  memset(out, 0, sizeof *out);
  struct info_ctx x = {out, 0};
  if (text) each_line(text, len, info_line, &x);
  return x.known;
}

/* ---- Prometheus text --------------------------------------------------------------------- */

struct prom_ctx {
  job_prom_fn fn;
  void *arg;
  size_t n;
};

/* Reads {k="v",...} at *p (past the '{'); copies the le label's value. False: malformed. */
static bool prom_labels(char **p, char *le, size_t lelen, bool *has_le) {
  char *s = *p;
  for (;;) {
    while (*s == ' ' || *s == ',') s++;
    if (*s == '}') {
      *p = s + 1;
      return true;
    }
    char *k = s;
    while (*s && *s != '=' && *s != '}' && *s != ' ') s++;
    size_t klen = (size_t)(s - k);
    while (*s == ' ') s++;
    if (*s != '=') return false;
    s++;
    while (*s == ' ') s++;
    if (*s != '"') return false;
    s++;
    char val[128];
    size_t n = 0;
    while (*s && *s != '"') {
      char c = *s++;
      if (c == '\\') {
        if (!*s) return false;
        c = *s == 'n' ? '\n' : *s;
        s++;
      }
      if (n + 1 < sizeof val) val[n++] = c;
    }
    if (*s != '"') return false;
    s++;
    val[n] = '\0';
    if (klen == 2 && !strncmp(k, "le", 2)) {
      snprintf(le, lelen, "%s", val);
      *has_le = true;
    }
  }
}

static bool prom_value(const char *s, double *out) {
  if (!strcmp(s, "+Inf") || !strcmp(s, "Inf")) {
    *out = (double)INFINITY;
    return true;
  }
  if (!strcmp(s, "-Inf")) {
    *out = -(double)INFINITY;
    return true;
  }
  return number(s, out);
}

static void prom_line(char *line, void *arg) {
  struct prom_ctx *x = arg;
  char *s = line;
  while (*s == ' ' || *s == '\t') s++;
  if (!*s || *s == '#') return;
  char *name = s;
  while (*s && *s != '{' && *s != ' ' && *s != '\t') s++;
  char le[128] = "";
  bool has_le = false;
  char c = *s;
  *s = '\0';
  if (!*name) return;
  if (c == '{') {
    s++;
    if (!prom_labels(&s, le, sizeof le, &has_le)) return;
  } else if (c) {
    s++;
  }
  while (*s == ' ' || *s == '\t') s++;
  char *v = s;
  while (*s && *s != ' ' && *s != '\t') s++;
  *s = '\0'; /* a timestamp may follow: ignored */
  double value = 0;
  if (!prom_value(v, &value)) return;
  x->n++;
  x->fn(name, has_le ? le : NULL, value, x->arg);
}

size_t job_prom_parse(const char *text, size_t len, job_prom_fn fn, void *arg) {
  struct prom_ctx x = {fn, arg, 0};
  if (text) each_line(text, len, prom_line, &x);
  return x.n;
}

static const char *const am_names[JOB_AM_COUNT] = {
    "rbench_agent_requests_total",        "rbench_agent_batches_total",
    "rbench_agent_upstream_writes_total", "rbench_agent_coalesced_total",
    "rbench_agent_reconnects_total",      "rbench_agent_batch_size_sum",
    "rbench_agent_batch_size_count",      "process_cpu_seconds_total",
    "process_resident_memory_bytes",      "process_start_time_seconds"};

struct agent_ctx {
  struct job_agent_sample *out;
  size_t known;
};

static void agent_bucket(struct job_agent_sample *o, const char *le, double value) {
  double bound = 0;
  if (!prom_value(le, &bound) || value < 0 || o->nb == JOB_AGENT_BUCKETS_MAX) return;
  size_t i = 0;
  while (i < o->nb && o->le[i] < bound) i++;
  if (i < o->nb && o->le[i] == bound) return; /* a repeated bucket: the first stands */
  memmove(&o->le[i + 1], &o->le[i], (o->nb - i) * sizeof o->le[0]);
  memmove(&o->cum[i + 1], &o->cum[i], (o->nb - i) * sizeof o->cum[0]);
  o->le[i] = bound;
  o->cum[i] = value;
  o->nb++;
}

static void agent_sample(const char *name, const char *le, double value, void *arg) {
  struct agent_ctx *x = arg;
  struct job_agent_sample *o = x->out;
  if (!strcmp(name, "rbench_agent_batch_size_bucket")) {
    if (le) {
      agent_bucket(o, le, value);
      x->known++;
    }
    return;
  }
  for (int i = 0; i < JOB_AM_COUNT; i++) {
    if (strcmp(name, am_names[i]) || (o->have & (1u << i)) || !isfinite(value) || value < 0)
      continue;
    o->v[i] = value;
    o->have |= 1u << i;
    x->known++;
  }
}

size_t job_agent_parse(const char *text, size_t len, struct job_agent_sample *out) {
  memset(out, 0, sizeof *out);
  struct agent_ctx x = {out, 0};
  job_prom_parse(text, len, agent_sample, &x);
  return x.known;
}

/* Delta buckets of b over a; false unless both have the same bounds, ending at +Inf, and
 * the deltas are non-negative and cumulative. */
static bool bucket_deltas(const struct job_agent_sample *a, const struct job_agent_sample *b,
                          double *d) {
  if (a->nb != b->nb || a->nb == 0 || !isinf(a->le[a->nb - 1])) return false;
  for (size_t i = 0; i < a->nb; i++) {
    if (a->le[i] != b->le[i] || b->cum[i] < a->cum[i]) return false;
    d[i] = b->cum[i] - a->cum[i];
    if (i > 0 && d[i] < d[i - 1]) return false;
  }
  return true;
}

bool job_agent_batch_percentile(const struct job_agent_sample *a, const struct job_agent_sample *b,
                                double p, double *out) {
  double d[JOB_AGENT_BUCKETS_MAX];
  if (p <= 0 || p > 100 || !bucket_deltas(a, b, d)) return false;
  double total = d[a->nb - 1];
  if (total <= 0) return false;
  double rank = ceil(p / 100.0 * total);
  if (rank < 1) rank = 1;
  for (size_t i = 0; i < a->nb; i++) {
    if (d[i] >= rank) {
      if (!isfinite(a->le[i])) return false;
      *out = a->le[i];
      return true;
    }
  }
  return false;
}

/* ---- sections ---------------------------------------------------------------------------- */

/* Notes gathered while building a section, joined by "; ". */
struct notes {
  char text[1024];
};

static void note(struct notes *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct notes *n, const char *fmt, ...) {
  size_t used = strlen(n->text);
  if (used + 3 >= sizeof n->text) return;
  if (used) {
    memcpy(n->text + used, "; ", 3);
    used += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(n->text + used, sizeof n->text - used, fmt, ap);
  va_end(ap);
}

static void add_num(cJSON *o, const char *name, bool ok, double v) {
  /* Microsecond (or millionth) resolution is all these figures carry. */
  if (ok && isfinite(v) && v >= 0) cJSON_AddNumberToObject(o, name, round(v * 1e6) / 1e6);
  else cJSON_AddNullToObject(o, name);
}

static void add_note(cJSON *o, const struct notes *n) {
  if (n->text[0]) cJSON_AddStringToObject(o, "note", n->text);
  else cJSON_AddNullToObject(o, "note");
}

/* A counter's growth from a to b; false when either lacks it or it went backwards (noted). */
static bool counter_delta(unsigned have_a, unsigned have_b, int bit, double a, double b,
                          const char *name, struct notes *n, double *out) {
  if (!(have_a & (1u << bit)) || !(have_b & (1u << bit))) return false;
  if (b < a) {
    note(n,
         "%s went backwards (%.0f -> %.0f): the server restarted or its statistics were "
         "reset during the run",
         name, a, b);
    return false;
  }
  *out = b - a;
  return true;
}

/* name: v * scale per operation, or null when v or ops is not known. */
static void add_per_op(cJSON *o, const char *name, bool ok, double v, double ops, double scale) {
  add_num(o, name, ok && ops > 0, ok && ops > 0 ? v * scale / ops : 0);
}

static const struct job_redis_cmd *find_cmd(const struct job_redis_info *r, const char *name) {
  for (size_t i = 0; i < r->ncmd; i++)
    if (!strcmp(r->cmd[i].name, name)) return &r->cmd[i];
  return NULL;
}

static bool is_handshake(const char *name) {
  static const char *const hs[] = {"auth", "ping", "hello", "select", "quit", "client", "command"};
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
    size_t n = strlen(hs[i]);
    if (!strncmp(name, hs[i], n) && (name[n] == '\0' || name[n] == '|')) return true;
  }
  return false;
}

static bool is_data(const char *name, const struct job_backend_window *w) {
  const char *op = w->operation ? w->operation : "";
  if (!strcmp(name, op)) return true;
  if (!w->batching) return false;
  return (!strcmp(op, "set") && !strcmp(name, "mset")) ||
         (!strcmp(op, "get") && !strcmp(name, "mget"));
}

struct traffic {
  double data, handshakes, info, other;
  char other_name[48];
};

/* calls: per command deltas (commands seen first in b started at 0). False when a count
 * went backwards. */
static bool calls_json(const struct job_redis_info *a, const struct job_redis_info *b,
                       const struct job_backend_window *w, cJSON *calls, struct traffic *t,
                       struct notes *n) {
  memset(t, 0, sizeof *t);
  for (size_t i = 0; i < a->ncmd; i++) {
    if (!find_cmd(b, a->cmd[i].name)) {
      note(n, "commandstats lost %s between the samples (CONFIG RESETSTAT or a restart)",
           a->cmd[i].name);
      return false;
    }
  }
  for (size_t i = 0; i < b->ncmd; i++) {
    const struct job_redis_cmd *c = &b->cmd[i], *before = find_cmd(a, c->name);
    double d = c->calls - (before ? before->calls : 0);
    if (d < 0) {
      note(n, "calls of %s went backwards (CONFIG RESETSTAT or a restart)", c->name);
      return false;
    }
    bool shown = d > 0 || is_data(c->name, w) || !strcmp(c->name, "auth") ||
                 !strcmp(c->name, "ping") || !strcmp(c->name, "info");
    if (shown) cJSON_AddNumberToObject(calls, c->name, d);
    if (is_data(c->name, w)) t->data += d;
    else if (!strcmp(c->name, "info")) t->info += d;
    else if (is_handshake(c->name)) t->handshakes += d;
    else if (d > 0) {
      if (!t->other_name[0]) snprintf(t->other_name, sizeof t->other_name, "%s", c->name);
      t->other += d;
    }
  }
  const char *always[] = {w->operation, "info"};
  for (size_t i = 0; i < 2; i++)
    if (always[i] && *always[i] && !cJSON_GetObjectItemCaseSensitive(calls, always[i]))
      cJSON_AddNumberToObject(calls, always[i], 0);
  return true;
}

/* The shared rule (docs/results.md): traffic rbench cannot account for means other clients. */
static bool judge_shared(const struct traffic *t, const struct job_backend_window *w, bool conn_ok,
                         double connections, double accounted_conns, struct notes *n) {
  bool shared = false;
  if (t->other > 0) {
    note(n, "%.0f calls of commands rbench never sends (e.g. %s): other clients used this Redis",
         t->other, t->other_name);
    shared = true;
  }
  if (w->ops >= 0 && t->data > w->ops) {
    note(n,
         "%.0f %s commands, more than the %.0f operations the actions performed: other clients "
         "used this Redis",
         t->data, w->operation ? w->operation : "data", w->ops);
    shared = true;
  }
  if (t->info > w->sampler_info) {
    note(n, "%.0f INFO calls besides rbench's own: another client is watching this Redis",
         t->info - w->sampler_info);
    shared = true;
  }
  if (accounted_conns >= 0) {
    if (conn_ok && connections > accounted_conns) {
      note(n, "%.0f connections received, %.0f of them rbench's: other clients connected",
           connections, accounted_conns);
      shared = true;
    }
    /* At most AUTH plus a couple of setup commands per connection rbench opened. */
    double bound = 3 * accounted_conns + w->sampler_auth;
    if (t->handshakes > bound) {
      note(n, "%.0f AUTH/PING/HELLO/CLIENT/SELECT calls, more than rbench's connections explain",
           t->handshakes);
      shared = true;
    }
  }
  return shared;
}

/* Connections rbench opened to Redis in the window; < 0 when unknown. */
static double rbench_connections(const struct job_backend_window *w,
                                 const struct job_agent_sample *aa,
                                 const struct job_agent_sample *ab) {
  double own = w->sampler_connections;
  if (!w->batching) return w->action_connections >= 0 ? own + w->action_connections : -1;
  unsigned bit = 1u << JOB_AM_RECONNECTS;
  if (!aa || !ab || !(aa->have & bit) || !(ab->have & bit) ||
      ab->v[JOB_AM_RECONNECTS] < aa->v[JOB_AM_RECONNECTS])
    return -1;
  return own + ab->v[JOB_AM_RECONNECTS] - aa->v[JOB_AM_RECONNECTS];
}

cJSON *job_backend_redis_json(const char *endpoint, const struct job_redis_info *a,
                              const struct job_redis_info *b, const struct job_backend_window *w,
                              const struct job_agent_sample *agent_a,
                              const struct job_agent_sample *agent_b) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "endpoint", endpoint ? endpoint : "");
  struct notes n = {""};
  struct job_redis_info none;
  if (a->run_id[0] && b->run_id[0] && strcmp(a->run_id, b->run_id)) {
    note(&n, "Redis restarted during the run (its run_id changed): no figure can be a delta");
    memset(&none, 0, sizeof none);
    a = b = &none;
  }
  double d[JOB_RI_COUNT] = {0};
  bool ok[JOB_RI_COUNT] = {false};
  for (int i = 0; i < JOB_RI_CLIENTS; i++)
    ok[i] = counter_delta(a->have, b->have, i, a->v[i], b->v[i], ri_names[i], &n, &d[i]);
  cJSON *cpu = cJSON_AddObjectToObject(o, "cpu_s");
  add_num(cpu, "sys", ok[JOB_RI_CPU_SYS], d[JOB_RI_CPU_SYS]);
  add_num(cpu, "user", ok[JOB_RI_CPU_USER], d[JOB_RI_CPU_USER]);
  bool cpu_ok = ok[JOB_RI_CPU_SYS] && ok[JOB_RI_CPU_USER];
  double cpu_total = cpu_ok ? d[JOB_RI_CPU_SYS] + d[JOB_RI_CPU_USER] : 0;
  add_num(cpu, "total", cpu_ok, cpu_total);
  add_num(o, "commands", ok[JOB_RI_COMMANDS], d[JOB_RI_COMMANDS]);
  struct traffic t;
  bool calls_ok = false;
  if (a->commandstats && b->commandstats) {
    cJSON *calls = cJSON_CreateObject();
    calls_ok = calls_json(a, b, w, calls, &t, &n);
    if (calls_ok) cJSON_AddItemToObject(o, "calls", calls);
    else cJSON_Delete(calls), cJSON_AddNullToObject(o, "calls");
  } else {
    cJSON_AddNullToObject(o, "calls");
  }
  add_num(o, "reads", ok[JOB_RI_READS], d[JOB_RI_READS]);
  add_num(o, "writes", ok[JOB_RI_WRITES], d[JOB_RI_WRITES]);
  add_num(o, "net_input_bytes", ok[JOB_RI_NET_IN], d[JOB_RI_NET_IN]);
  add_num(o, "net_output_bytes", ok[JOB_RI_NET_OUT], d[JOB_RI_NET_OUT]);
  add_num(o, "connections_received", ok[JOB_RI_CONNECTIONS], d[JOB_RI_CONNECTIONS]);
  add_num(o, "ops", w->ops >= 0, w->ops);
  if (w->ops_missing)
    note(&n,
         "%llu invocations reported no operation counts: their Redis work is in the figures "
         "but not in ops, so the per-op figures are too high",
         w->ops_missing);
  add_per_op(o, "cpu_us_per_op", cpu_ok, cpu_total, w->ops, 1e6);
  add_per_op(o, "commands_per_op", ok[JOB_RI_COMMANDS], d[JOB_RI_COMMANDS], w->ops, 1);
  add_per_op(o, "reads_per_op", ok[JOB_RI_READS], d[JOB_RI_READS], w->ops, 1);
  add_per_op(o, "writes_per_op", ok[JOB_RI_WRITES], d[JOB_RI_WRITES], w->ops, 1);
  bool bytes_ok = ok[JOB_RI_NET_IN] && ok[JOB_RI_NET_OUT];
  add_per_op(o, "bytes_per_op", bytes_ok, bytes_ok ? d[JOB_RI_NET_IN] + d[JOB_RI_NET_OUT] : 0,
             w->ops, 1);
  bool shared = false;
  if (calls_ok)
    shared = judge_shared(&t, w, ok[JOB_RI_CONNECTIONS], d[JOB_RI_CONNECTIONS],
                          rbench_connections(w, agent_a, agent_b), &n);
  else if (!(a->commandstats && b->commandstats) && a != &none)
    note(&n, "INFO gave no commandstats: other clients' use of this Redis could not be checked");
  cJSON_AddBoolToObject(o, "shared", shared);
  add_note(o, &n);
  return o;
}

cJSON *job_backend_agent_json(const char *endpoint, const struct job_agent_sample *a,
                              const struct job_agent_sample *b, double ops) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "endpoint", endpoint ? endpoint : "");
  struct notes n = {""};
  struct job_agent_sample none;
  unsigned st = 1u << JOB_AM_START;
  if ((a->have & st) && (b->have & st) && fabs(a->v[JOB_AM_START] - b->v[JOB_AM_START]) > 1.0) {
    note(&n,
         "the agent restarted during the run (process_start_time_seconds changed): no figure can "
         "be a delta");
    memset(&none, 0, sizeof none);
    a = b = &none;
  }
  double d[JOB_AM_COUNT] = {0};
  bool ok[JOB_AM_COUNT] = {false};
  for (int i = 0; i < JOB_AM_COUNT; i++)
    ok[i] = i != JOB_AM_RSS && i != JOB_AM_START &&
            counter_delta(a->have, b->have, i, a->v[i], b->v[i], am_names[i], &n, &d[i]);
  add_num(o, "commands", ok[JOB_AM_COMMANDS], d[JOB_AM_COMMANDS]);
  add_num(o, "batches", ok[JOB_AM_BATCHES], d[JOB_AM_BATCHES]);
  cJSON *cpb = cJSON_AddObjectToObject(o, "commands_per_batch");
  bool mean_ok = ok[JOB_AM_BATCH_SUM] && ok[JOB_AM_BATCH_COUNT] && d[JOB_AM_BATCH_COUNT] > 0;
  add_num(cpb, "mean", mean_ok, mean_ok ? d[JOB_AM_BATCH_SUM] / d[JOB_AM_BATCH_COUNT] : 0);
  double p50 = 0, p99 = 0;
  bool p50_ok = job_agent_batch_percentile(a, b, 50, &p50);
  bool p99_ok = job_agent_batch_percentile(a, b, 99, &p99);
  add_num(cpb, "p50", p50_ok, p50);
  add_num(cpb, "p99", p99_ok, p99);
  add_num(o, "upstream_writes", ok[JOB_AM_UPSTREAM_WRITES], d[JOB_AM_UPSTREAM_WRITES]);
  add_num(o, "coalesced", ok[JOB_AM_COALESCED], d[JOB_AM_COALESCED]);
  add_num(o, "cpu_s", ok[JOB_AM_CPU], d[JOB_AM_CPU]);
  add_per_op(o, "cpu_us_per_op", ok[JOB_AM_CPU], d[JOB_AM_CPU], ops, 1e6);
  add_num(o, "rss_bytes", (b->have & (1u << JOB_AM_RSS)) != 0, b->v[JOB_AM_RSS]);
  if (!(b->have & (1u << JOB_AM_CPU)) && a != &none)
    note(&n, "the agent's /metrics has no process_cpu_seconds_total (an older rbench-agent?)");
  add_note(o, &n);
  char warning[JOB_AGENT_WARNING_MAX];
  if (job_backend_agent_warning(ok[JOB_AM_COMMANDS] ? d[JOB_AM_COMMANDS] : -1, ops, warning,
                                sizeof warning))
    cJSON_AddStringToObject(o, "warning", warning);
  return o;
}

bool job_backend_agent_warning(double commands, double ops, char *out, size_t len) {
  if (!(commands == 0 && ops > 0)) return false;
  snprintf(out, len,
           "the agent received none of this batched run's commands while the actions performed "
           "%.0f operations: they did not go through the agent these metrics are from "
           "(BATCHING_AGENT_HOST/BATCHING_AGENT_PORT may be Redis itself or another server, or "
           "the metrics URL another agent's); rbench doctor checks both",
           ops);
  return true;
}

cJSON *job_backend_action_cpu_json(double cpu_s, double processes, double ops) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  bool ok = isfinite(cpu_s) && cpu_s >= 0;
  add_num(o, "cpu_s", ok, cpu_s);
  add_per_op(o, "cpu_us_per_op", ok, cpu_s, ops, 1e6);
  add_num(o, "processes", isfinite(processes) && processes >= 0, processes);
  return o;
}

cJSON *job_backend_unavailable(const char *endpoint, const char *why) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (endpoint && *endpoint) cJSON_AddStringToObject(o, "endpoint", endpoint);
  else cJSON_AddNullToObject(o, "endpoint");
  cJSON_AddStringToObject(o, "unavailable", why ? why : "unknown");
  return o;
}

static bool field_number(const cJSON *o, const char *name, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsNumber(v)) return false;
  *out = v->valuedouble;
  return true;
}

bool job_backend_shared_from_calls(const cJSON *calls, const char *operation, bool batching,
                                   double ops, double info_allowed, char *why, size_t len) {
  struct job_backend_window w = {.operation = operation, .batching = batching};
  struct traffic t;
  memset(&t, 0, sizeof t);
  const cJSON *c;
  cJSON_ArrayForEach(c, calls) {
    double d = cJSON_IsNumber(c) ? c->valuedouble : 0;
    if (is_data(c->string, &w)) t.data += d;
    else if (!strcmp(c->string, "info")) t.info += d;
    else if (!is_handshake(c->string) && d > 0) {
      if (!t.other_name[0]) snprintf(t.other_name, sizeof t.other_name, "%s", c->string);
      t.other += d;
    }
  }
  size_t n = 0;
  why[0] = '\0';
  if (t.other > 0)
    n += (size_t)snprintf(why + n, n < len ? len - n : 0,
                          "%.0f calls of commands rbench never sends (e.g. %s)", t.other,
                          t.other_name);
  if (ops >= 0 && t.data > ops && n < len)
    n += (size_t)snprintf(why + n, len - n,
                          "%s%.0f %s commands, more than the %.0f operations of every shard",
                          n ? "; " : "", t.data, operation ? operation : "data", ops);
  if (t.info > info_allowed && n < len)
    snprintf(why + n, len - n, "%s%.0f INFO calls, more than the shards' samplers explain",
             n ? "; " : "", t.info);
  return t.other > 0 || (ops >= 0 && t.data > ops) || t.info > info_allowed;
}

bool job_backend_cpu_per_op(const cJSON *redis, const cJSON *agent, bool batching, double *out) {
  double r = 0, a = 0;
  if (!field_number(redis, "cpu_us_per_op", &r)) return false;
  if (batching && !field_number(agent, "cpu_us_per_op", &a)) return false;
  *out = r + a;
  return true;
}
