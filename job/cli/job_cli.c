/* job_cli.c: the compare, report and doctor subcommands: argument parsing and file I/O
 * around the pure cores (job_compare, job_report, the probes). */
#define _GNU_SOURCE
#include "job_cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_compare.h"
#include "job_config.h"
#include "job_merge.h"
#include "job_report.h"
#include "job_results.h"
#include "job_runner.h"
#include "job_scenario.h"
#include "job_sweep.h"
#include "job_target.h"
#include "rb_json.h"
#include "rb_str.h"

/* ---- options ------------------------------------------------------------------------ */

void job_cli_option_error(const char *cmd, int ch, char **argv) {
  const char *opt = optind > 0 ? argv[optind - 1] : "";
  char shortopt[3] = {'-', (char)optopt, '\0'};
  /* An unknown letter inside a group (-xq) is not argv[optind - 1] itself. */
  if (optopt > 0 && optopt < 128 && strncmp(opt, "--", 2) != 0) opt = shortopt;
  if (ch == ':')
    fprintf(stderr, "rbench %s: option '%s' needs a value (see rbench %s --help)\n", cmd, opt, cmd);
  else
    fprintf(stderr, "rbench %s: unknown option '%s' (see rbench %s --help)\n", cmd, opt, cmd);
}

/* ---- loading results ---------------------------------------------------------------- */

/* Reads and parses one results file; on failure err names the file and the reason. */
static cJSON *load_doc(const char *path, char *err, size_t errlen) {
  size_t len = 0;
  char *text = job_read_named_file(path, "", &len, err, errlen);
  if (!text) return NULL;
  cJSON *doc = NULL;
  char perr[200];
  if (len == 0)
    rb_errorf(RB_ERR_PARSE, err, errlen, "%s: empty file, not a results document", path);
  else if (rb_json_parse(text, len, &doc, perr, sizeof perr) != RB_OK)
    rb_errorf(RB_ERR_PARSE, err, errlen, "%s: not a results document: %s", path, perr);
  free(text);
  return doc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expands one argument (a file, a directory of *.json, or a comma-separated list) into
 * paths appended to *list. */
static bool expand(const char *arg, char ***list, size_t *n) {
  char *copy = strdup(arg), *save = NULL;
  bool ok = copy != NULL;
  for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ok; tok = strtok_r(NULL, ",", &save)) {
    struct stat st;
    if (stat(tok, &st) == 0 && S_ISDIR(st.st_mode)) {
      struct dirent **ents = NULL;
      int m = scandir(tok, &ents, NULL, alphasort);
      for (int i = 0; i < m; i++) {
        size_t l = strlen(ents[i]->d_name);
        if (l > 5 && !strcmp(ents[i]->d_name + l - 5, ".json") && ents[i]->d_name[0] != '.') {
          char *p = NULL;
          if (asprintf(&p, "%s/%s", tok, ents[i]->d_name) > 0) {
            *list = realloc(*list, (*n + 1) * sizeof **list);
            (*list)[(*n)++] = p;
          }
        }
        free(ents[i]);
      }
      free(ents);
      if (m <= 0) ok = false;
    } else {
      *list = realloc(*list, (*n + 1) * sizeof **list);
      (*list)[(*n)++] = strdup(tok);
    }
  }
  free(copy);
  return ok;
}

static void free_list(char **list, size_t n) {
  for (size_t i = 0; i < n; i++) free(list[i]);
  free(list);
}

/* Expands each comma-separated part of arg on its own, so that a part that gives no file (an
 * empty directory, one without *.json, one that cannot be listed) is an error naming it
 * rather than a silently smaller side. */
static bool expand_arg(const char *cmd, const char *arg, char ***list, size_t *n) {
  char *copy = strdup(arg), *save = NULL;
  bool ok = copy != NULL;
  for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ok; tok = strtok_r(NULL, ",", &save)) {
    size_t before = *n;
    if (expand(tok, list, n) && *n > before) continue;
    DIR *d = opendir(tok);
    if (!d)
      fprintf(stderr, "rbench %s: cannot read directory %s: %s\n", cmd, tok, job_file_reason(errno));
    else
      fprintf(stderr, "rbench %s: %s: a directory without results files (*.json)\n", cmd, tok);
    if (d) closedir(d);
    ok = false;
  }
  if (!copy) fprintf(stderr, "rbench %s: out of memory\n", cmd);
  free(copy);
  return ok;
}

/* Initialises *s first, whatever happens, so the caller can always job_side_free it. */
static int load_side(struct job_side *s, const char *arg) {
  char **files = NULL, err[600];
  size_t n = 0;
  job_side_init(s, arg);
  if (!expand_arg("compare", arg, &files, &n)) {
    free_list(files, n);
    return JOB_EXIT_FAILURE;
  }
  qsort(files, n, sizeof *files, cmp_str);
  for (size_t i = 0; i < n; i++) {
    cJSON *doc = load_doc(files[i], err, sizeof err);
    enum rb_err rc = doc ? job_side_add(s, doc, err, sizeof err) : RB_ERR_IO;
    cJSON_Delete(doc);
    if (rc != RB_OK) {
      if (doc) fprintf(stderr, "rbench compare: %s: %s\n", files[i], err);
      else fprintf(stderr, "rbench compare: %s\n", err);
      free_list(files, n);
      return JOB_EXIT_FAILURE;
    }
  }
  free_list(files, n);
  return JOB_EXIT_OK;
}

/* ---- compare ------------------------------------------------------------------------ */

static void usage_compare(FILE *out) {
  fprintf(out,
          "Usage: rbench compare A B [--json] [--alpha A] [--seed N]\n"
          "\n"
          "A and B are results files, directories of results (repetitions), or comma-separated\n"
          "lists. Prints p50/p90/p99/mean/min/max execution time (pooled, with sample counts; '*'\n"
          "marks a percentile that is only the maximum), success and error rates, achieved rate,\n"
          "throughput, server-side times and the backend's cost (Redis CPU, commands, reads and\n"
          "bytes per operation, agent and backend CPU per operation, commands per batch; 'n/a'\n"
          "with the reason when a side lacks them) with the change from A to B; '~' marks a\n"
          "change that is not significant (Mann-Whitney U at --alpha, default 0.05; p99 by a 95%%\n"
          "bootstrap interval). --json prints the same as JSON.\n"
          "\n"
          "When A and B are capacity sweeps (a sweep.json, or a directory holding one), prints\n"
          "the two latency-vs-load curves side by side, the max sustainable rate of each and\n"
          "their ratio B/A (docs/runner.md, \"Comparing sweeps\").\n");
}

int job_compare_main(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"alpha", required_argument, NULL, 'a'},
                                       {"seed", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool json = false;
  double alpha = 0.05;
  long long seed = 1;
  int ch;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    char *end = NULL;
    if (ch == 'h') {
      usage_compare(stdout);
      return 0;
    } else if (ch == 'j') {
      json = true;
    } else if (ch == 'a') {
      alpha = strtod(optarg, &end);
      if (!*optarg || *end || !(alpha > 0 && alpha < 1)) {
        fprintf(stderr, "rbench compare: --alpha expects a number above 0 and below 1, got '%s'\n", optarg);
        return JOB_EXIT_CONFIG;
      }
    } else if (ch == 's') {
      if (!rb_parse_ll(optarg, 0, (long long)1e18, &seed)) {
        fprintf(stderr, "rbench compare: --seed expects a non-negative integer, got '%s'\n", optarg);
        return JOB_EXIT_CONFIG;
      }
    } else {
      job_cli_option_error("compare", ch, argv);
      return JOB_EXIT_CONFIG;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "rbench compare: expected two results (A B), got %d\n\n", argc - optind);
    usage_compare(stderr);
    return JOB_EXIT_CONFIG;
  }
  int rc = job_sweep_compare_main(argv[optind], argv[optind + 1], json); /* two sweeps */
  if (rc >= 0) return rc;
  struct job_side a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  rc = load_side(&a, argv[optind]);
  if (rc == 0) rc = load_side(&b, argv[optind + 1]);
  struct job_comparison c;
  if (rc == 0 && job_compare_compute(&a, &b, alpha, (uint64_t)seed, &c) != RB_OK) rc = JOB_EXIT_FAILURE;
  if (rc == 0 && json) {
    cJSON *o = job_compare_json(&a, &b, &c);
    char *t = cJSON_Print(o);
    if (t) printf("%s\n", t);
    cJSON_free(t);
    cJSON_Delete(o);
  } else if (rc == 0) {
    job_compare_print(stdout, &a, &b, &c);
  }
  job_side_free(&a);
  job_side_free(&b);
  return rc;
}

/* ---- report ------------------------------------------------------------------------- */

static void usage_report(FILE *out) {
  fprintf(out,
          "Usage: rbench report RESULTS... [-o report.html] [--svg PLOT]\n"
          "\n"
          "Writes one self-contained HTML file (inline SVG, no scripts): a headline comparing the\n"
          "direct and the batched run (latency, throughput, Redis and backend CPU per operation,\n"
          "commands per batch, with significance), the settings, the latency-vs-load curve of any\n"
          "sweep summaries (sweep.json), execution-time percentiles on a log 1/(1-p) axis, latency,\n"
          "throughput and errors over time, and the per-repetition table. RESULTS are files,\n"
          "directories (searched recursively for *.json) or comma-separated lists. Prints the\n"
          "headline as one 'headline: ...' line on standard output.\n"
          "--svg percentiles|latency|throughput|errors writes that single plot as SVG instead.\n"
          "-o - writes to standard output.\n");
}

/* The documents of a report: results documents become runs, sweep summaries are kept apart. */
struct report_docs {
  cJSON **docs;
  size_t ndocs;
  struct job_report_run *runs;
  size_t nruns;
  const cJSON **sweeps;
  size_t nsweeps;
};

static bool push_path(char ***list, size_t *n, char *p) {
  char **l = p ? realloc(*list, (*n + 1) * sizeof **list) : NULL;
  if (!l) {
    free(p);
    return false;
  }
  *list = l;
  (*list)[(*n)++] = p;
  return true;
}

/* Appends dir's *.json files and those of its subdirectories (DIR/RUN/rK.json, as `rbench
 * run` writes repetitions), in name order; hidden entries are skipped. */
static void collect_tree(const char *dir, char ***list, size_t *n, int depth) {
  struct dirent **ents = NULL;
  int m = depth < 8 ? scandir(dir, &ents, NULL, alphasort) : 0;
  for (int i = 0; i < m; i++) {
    const char *name = ents[i]->d_name;
    size_t l = strlen(name);
    char *p = NULL;
    struct stat st;
    if (name[0] != '.' && asprintf(&p, "%s/%s", dir, name) > 0 && stat(p, &st) == 0) {
      if (S_ISDIR(st.st_mode)) collect_tree(p, list, n, depth + 1);
      else if (l > 5 && !strcmp(name + l - 5, ".json") && push_path(list, n, p)) p = NULL;
    }
    free(p);
    free(ents[i]);
  }
  free(ents);
}

/* Loads one file. A file found by searching a directory that is neither a results document
 * nor a sweep summary is skipped with a note; one named on the command line is an error. */
static int report_load(struct report_docs *d, const char *path, bool named) {
  char err[600];
  cJSON *doc = load_doc(path, err, sizeof err);
  if (!doc) {
    fprintf(stderr, "rbench report: %s\n", err);
    return JOB_EXIT_FAILURE;
  }
  d->docs[d->ndocs++] = doc;
  if (job_report_is_sweep(doc)) {
    d->sweeps[d->nsweeps++] = doc;
    return JOB_EXIT_OK;
  }
  if (job_report_run_init(&d->runs[d->nruns], doc, err, sizeof err) == RB_OK) {
    d->nruns++;
    return JOB_EXIT_OK;
  }
  fprintf(stderr, "rbench report: %s: %s%s\n", path, err, named ? "" : " (skipped)");
  return named ? JOB_EXIT_FAILURE : JOB_EXIT_OK;
}

static int report_collect(struct report_docs *d, char **args, int nargs) {
  char **files = NULL;
  bool *named = NULL;
  size_t nf = 0;
  for (int i = 0; i < nargs; i++) {
    char *copy = strdup(args[i]), *save = NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
      struct stat st;
      size_t before = nf;
      bool is_dir = stat(tok, &st) == 0 && S_ISDIR(st.st_mode);
      if (is_dir) collect_tree(tok, &files, &nf, 0);
      else push_path(&files, &nf, strdup(tok));
      if (is_dir && nf == before) { /* as compare: a directory given must hold results */
        fprintf(stderr, "rbench report: %s: a directory without results files (*.json)\n", tok);
        free(copy);
        free(named);
        free_list(files, nf);
        return JOB_EXIT_FAILURE;
      }
      bool *nm = realloc(named, (nf + 1) * sizeof *nm);
      if (nm) named = nm;
      for (size_t k = before; nm && k < nf; k++) named[k] = !(stat(tok, &st) == 0 && S_ISDIR(st.st_mode));
    }
    free(copy);
  }
  int rc = JOB_EXIT_OK;
  d->docs = calloc(nf + 1, sizeof *d->docs);
  d->runs = calloc(nf + 1, sizeof *d->runs);
  d->sweeps = calloc(nf + 1, sizeof *d->sweeps);
  if (!d->docs || !d->runs || !d->sweeps || (nf && !named)) rc = JOB_EXIT_FAILURE;
  for (size_t i = 0; i < nf && rc == 0; i++) rc = report_load(d, files[i], named[i]);
  if (rc == 0 && d->nruns == 0 && d->nsweeps == 0) {
    fprintf(stderr, "rbench report: no results documents in");
    for (int i = 0; i < nargs; i++) fprintf(stderr, " %s", args[i]);
    fprintf(stderr, "\n");
    rc = JOB_EXIT_FAILURE;
  }
  free(named);
  free_list(files, nf);
  return rc;
}

static void report_docs_free(struct report_docs *d) {
  for (size_t i = 0; i < d->nruns; i++) job_report_run_free(&d->runs[i]);
  for (size_t i = 0; i < d->ndocs; i++) cJSON_Delete(d->docs[i]);
  free(d->runs);
  free(d->docs);
  free(d->sweeps);
}

static int write_report(const char *out_path, int plot, const struct report_docs *d,
                        const struct job_report_headline *h) {
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (!m) return JOB_EXIT_FAILURE;
  if (plot >= 0) job_report_svg(m, (enum job_plot)plot, d->runs, d->nruns);
  else job_report_html(m, d->runs, d->nruns, d->sweeps, d->nsweeps, h);
  fclose(m);
  int rc = JOB_EXIT_OK;
  char err[400];
  if (!strcmp(out_path, "-")) fwrite(buf, 1, len, stdout);
  else if (job_write_atomic(out_path, buf, len, err, sizeof err) != RB_OK) {
    fprintf(stderr, "rbench report: %s\n", err);
    rc = JOB_EXIT_FAILURE;
  }
  free(buf);
  return rc;
}

int job_report_main(int argc, char **argv) {
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'}, {"svg", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *out = NULL;
  int plot = -1, ch;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
    if (ch == 'h') {
      usage_report(stdout);
      return 0;
    } else if (ch == 'o') {
      out = optarg;
    } else if (ch == 's') {
      if ((plot = job_plot_parse(optarg)) < 0) {
        fprintf(stderr, "rbench report: --svg expects percentiles, latency, throughput or errors, got '%s'\n", optarg);
        return JOB_EXIT_CONFIG;
      }
    } else {
      job_cli_option_error("report", ch, argv);
      return JOB_EXIT_CONFIG;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "rbench report: expected at least one results file or directory\n\n");
    usage_report(stderr);
    return JOB_EXIT_CONFIG;
  }
  if (!out) out = plot >= 0 ? "report.svg" : "report.html";
  struct report_docs d;
  memset(&d, 0, sizeof d);
  struct job_report_headline h;
  memset(&h, 0, sizeof h);
  int rc = report_collect(&d, argv + optind, argc - optind);
  if (rc == 0 && job_report_headline_compute(d.runs, d.nruns, &h) != RB_OK) rc = JOB_EXIT_FAILURE;
  if (rc == 0) rc = write_report(out, plot, &d, &h);
  if (rc == 0 && strcmp(out, "-")) {
    fprintf(stderr, "rbench report: wrote %s\n", out);
    printf("headline: %s\n", h.sentence);
  }
  job_report_headline_free(&h);
  report_docs_free(&d);
  return rc;
}

/* ---- doctor ------------------------------------------------------------------------- */

static int doctor_line(bool ok, const char *what, const char *msg, const char *fix) {
  printf("%-5s %-22s %s\n", ok ? "ok" : "FAIL", what, msg);
  if (!ok && fix) printf("      %-22s fix: %s\n", "", fix);
  return ok ? 0 : 1;
}

static int doctor_redis(const struct job_config *c) {
  char msg[400];
  enum job_preflight pf = job_probe_redis(c->redis_host, c->redis_port, c->redis_password, msg, sizeof msg);
  return doctor_line(pf == JOB_PREFLIGHT_OK, "Redis (PING, AUTH)", msg,
                     pf == JOB_PREFLIGHT_CONFIG
                         ? "set REDIS_PASSWORD (or REDIS_PASSWORD_FILE) to Redis's requirepass"
                         : "start redis-server, check REDIS_HOST/REDIS_PORT in the env file and that "
                           "the port is open from where the action runs");
}

static int doctor_agent(const struct job_config *c) {
  char msg[400];
  enum job_preflight pf = job_probe_redis(c->agent_host, c->agent_port, c->agent_password, msg, sizeof msg);
  int failed = doctor_line(pf == JOB_PREFLIGHT_OK, "batching agent (PING)", msg,
                           pf == JOB_PREFLIGHT_CONFIG
                               ? "set BATCHING_AGENT_PASSWORD (or _FILE) to the agent's --password"
                               : "batched runs (--batching) need rbench-agent running: start it and "
                                 "check BATCHING_AGENT_HOST/BATCHING_AGENT_PORT; direct runs do not "
                                 "need it");
  if (failed) return failed;
  /* The agent answers PING itself: only a forwarded command shows that it reaches Redis. */
  pf = job_probe_command(c->agent_host, c->agent_port, c->agent_password, "EXISTS rbench:doctor",
                         msg, sizeof msg);
  return doctor_line(pf == JOB_PREFLIGHT_OK, "agent -> Redis", msg,
                     "the agent runs but cannot use Redis: check its --redis address and that "
                     "it has Redis's password (REDIS_PASSWORD or --redis-password-file); its log "
                     "says which");
}

static int doctor_openwhisk(const struct job_config *c, const char *action, bool insecure) {
  if (!c->apihost[0])
    return doctor_line(true, "OpenWhisk", "not configured (only --target openwhisk needs it)", NULL), 0;
  char msg[600], where[300];
  snprintf(where, sizeof where, "API host from %s, key from %s", c->apihost_from[0] ? c->apihost_from : "-",
           c->auth_from[0] ? c->auth_from : "nowhere");
  doctor_line(true, "OpenWhisk config", where, NULL);
  if (!c->auth[0])
    return doctor_line(false, "OpenWhisk key", "no key", "set OPENWHISK_AUTH (uuid:key) or AUTH in ~/.wskprops");
  enum job_preflight pf = job_ow_check(c, action, insecure, msg, sizeof msg);
  return doctor_line(pf == JOB_PREFLIGHT_OK, "OpenWhisk action", msg,
                     pf == JOB_PREFLIGHT_UNREACHABLE
                         ? "check OPENWHISK_APIHOST (http:// for plain HTTP; --insecure for a self-signed certificate)"
                         : "deploy the action (tools/deploy.sh) or fix --action / OPENWHISK_AUTH");
}

int job_doctor_main(int argc, char **argv) {
  static const struct option opts[] = {{"env", required_argument, NULL, 'e'}, {"action", required_argument, NULL, 'a'},
                                       {"insecure", no_argument, NULL, 'i'}, {"action-bin", required_argument, NULL, 'b'},
                                       {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *env = "local.env", *action = "redis_benchmark/redis_benchmark", *bin = NULL;
  bool env_set = false, insecure = false;
  int ch;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    if (ch == 'h') {
      printf("Usage: rbench doctor [--env FILE] [--action NAME] [--insecure] [--action-bin PATH]\n\n"
             "Checks Redis (PING, AUTH), the batching agent, the rbench-action binary, the OpenWhisk\n"
             "API host, key and action, and says what to fix. Exit 0 when every check passes.\n");
      return 0;
    }
    if (ch == 'e') env = optarg, env_set = true;
    else if (ch == 'a') action = optarg;
    else if (ch == 'i') insecure = true;
    else if (ch == 'b') bin = optarg;
    else {
      job_cli_option_error("doctor", ch, argv);
      return JOB_EXIT_CONFIG;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "rbench doctor: unexpected argument '%s' (see rbench doctor --help)\n", argv[optind]);
    return JOB_EXIT_CONFIG;
  }
  struct job_config c;
  char err[600], self[PATH_MAX], found[PATH_MAX + 64];
  int failed = 0;
  if (job_config_load(&c, env, env_set, false, err, sizeof err) != RB_OK) {
    doctor_line(false, "configuration", err, "fix the env file (KEY=VALUE lines, see docs/runner.md)");
    return 1;
  }
  doctor_line(true, "configuration", access(env, R_OK) == 0 ? env : "no env file: defaults and environment", NULL);
  if (c.unknown_keys) {
    snprintf(err, sizeof err, "%d unknown key%s (named in the warnings above)", c.unknown_keys,
             c.unknown_keys > 1 ? "s" : "");
    failed += doctor_line(false, "configuration keys", err,
                          "correct the name (the keys are listed in docs/runner.md) or remove it");
  }
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  self[n > 0 ? n : 0] = '\0';
  bool have = job_local_find_action(self, bin, found, sizeof found);
  char why[PATH_MAX + 200];
  snprintf(why, sizeof why, "not usable: %s: %s", found, errno == EACCES ? "not executable" : job_file_reason(errno));
  failed += doctor_line(have, "rbench-action", have ? found : why,
                        "build it (cmake --build) or pass --action-bin PATH (needed by --target local)");
  failed += doctor_redis(&c);
  failed += doctor_agent(&c);
  failed += doctor_openwhisk(&c, action, insecure);
  explicit_bzero(&c, sizeof c);
  printf("%s\n", failed ? "some checks failed" : "all checks passed");
  return failed ? 1 : 0;
}

/* ---- merge -------------------------------------------------------------------------- */

static void usage_merge(FILE *out) {
  fprintf(out,
          "Usage: rbench merge INPUTS... -o OUT\n"
          "\n"
          "Combines the shards of a scale-out run (rbench run --shard I/N) into one results\n"
          "document, as one runner sending the whole schedule would have written it: counts\n"
          "summed, percentiles over the union of the raw samples (from the merged histograms when\n"
          "a shard is summary only), rates over the union of sends, Redis and agent figures once\n"
          "per server. INPUTS are results files or directories (searched recursively). With\n"
          "shards of several runs or repetitions OUT is a directory: OUT/RUN.json, or\n"
          "OUT/RUN/rK.json with repetitions, as rbench run writes them.\n");
}

/* One group of shards (one run and repetition). */
struct merge_group {
  char key[600];
  const cJSON **docs;
  const char **paths;
  size_t n;
};

static bool group_add(struct merge_group **groups, size_t *ng, const cJSON *doc, const char *path) {
  char key[600];
  job_merge_group_key(doc, key, sizeof key);
  size_t g = 0;
  while (g < *ng && strcmp((*groups)[g].key, key)) g++;
  if (g == *ng) {
    struct merge_group *gs = realloc(*groups, (*ng + 1) * sizeof *gs);
    if (!gs) return false;
    *groups = gs;
    memset(&gs[g], 0, sizeof gs[g]);
    snprintf(gs[g].key, sizeof gs[g].key, "%s", key);
    (*ng)++;
  }
  struct merge_group *x = &(*groups)[g];
  const cJSON **d = realloc(x->docs, (x->n + 1) * sizeof *d);
  if (d) x->docs = d;
  const char **p = realloc(x->paths, (x->n + 1) * sizeof *p);
  if (p) x->paths = p;
  if (!d || !p) return false;
  x->docs[x->n] = doc;
  x->paths[x->n++] = path;
  return true;
}

/* The merged document's path: OUT itself for one group written to a file, else the runner's
 * layout below OUT. */
static bool merge_out_path(const char *out, bool dir, const cJSON *doc, char *path, size_t len) {
  if (!dir) {
    snprintf(path, len, "%s", out);
    return true;
  }
  char base[PATH_MAX];
  snprintf(base, sizeof base, "%s", out);
  size_t n = strlen(base);
  while (n > 1 && base[n - 1] == '/') base[--n] = '\0';
  if (mkdir(base, 0755) != 0 && errno != EEXIST) return false;
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "scenario");
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(sc, "run");
  const cJSON *rep = cJSON_GetObjectItemCaseSensitive(sc, "repetition");
  const cJSON *reps = cJSON_GetObjectItemCaseSensitive(sc, "repetitions");
  const char *name = cJSON_IsString(run) && run->valuestring[0] && !strchr(run->valuestring, '/') ? run->valuestring : "run";
  if (!cJSON_IsNumber(reps) || reps->valuedouble <= 1) {
    snprintf(path, len, "%s/%s.json", base, name);
    return true;
  }
  char sub[PATH_MAX + 100];
  snprintf(sub, sizeof sub, "%s/%s", base, name);
  if (mkdir(sub, 0755) != 0 && errno != EEXIST) return false;
  snprintf(path, len, "%s/r%.0f.json", sub, cJSON_IsNumber(rep) ? rep->valuedouble : 1);
  return true;
}

/* Loads the inputs: a file named must be a shard; in a directory, JSON files that are not
 * results documents (sweep summaries, merged documents) are skipped with a note. */
static int merge_load(char **args, int nargs, char ***files, size_t *nf, cJSON ***docs,
                      const char ***dpaths, size_t *nd) {
  for (int i = 0; i < nargs; i++) {
    struct stat st;
    size_t before = *nf;
    if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      collect_tree(args[i], files, nf, 0);
      if (*nf == before) {
        fprintf(stderr, "rbench merge: %s: a directory without results files (*.json)\n", args[i]);
        return JOB_EXIT_FAILURE;
      }
    } else if (!push_path(files, nf, strdup(args[i]))) {
      return JOB_EXIT_FAILURE;
    }
    for (size_t k = before; k < *nf; k++) {
      char err[600];
      bool named = !(stat(args[i], &st) == 0 && S_ISDIR(st.st_mode));
      cJSON *doc = load_doc((*files)[k], err, sizeof err);
      if (!doc) {
        fprintf(stderr, "rbench merge: %s\n", err);
        return JOB_EXIT_FAILURE;
      }
      const char *why = job_merge_not_a_shard(doc);
      bool skip = why && !named &&
                  (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(doc, "schema_version")) ||
                   !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "invocations")) ||
                   cJSON_GetObjectItemCaseSensitive(doc, "merged_from"));
      if (why && !skip) {
        fprintf(stderr, "rbench merge: %s: %s: only the shards of a run (rbench run --shard I/N) can be "
                        "merged\n", (*files)[k], why);
        cJSON_Delete(doc);
        return JOB_EXIT_FAILURE;
      }
      if (skip) {
        fprintf(stderr, "rbench merge: %s: %s (skipped)\n", (*files)[k], why);
        cJSON_Delete(doc);
        continue;
      }
      cJSON **d = realloc(*docs, (*nd + 1) * sizeof *d);
      if (d) *docs = d;
      const char **dp = d ? realloc(*dpaths, (*nd + 1) * sizeof *dp) : NULL;
      if (dp) *dpaths = dp;
      if (!d || !dp) {
        cJSON_Delete(doc);
        return JOB_EXIT_FAILURE;
      }
      (*dpaths)[*nd] = (*files)[k];
      (*docs)[(*nd)++] = doc;
    }
  }
  if (*nd == 0) {
    fprintf(stderr, "rbench merge: no shards among the inputs\n");
    return JOB_EXIT_FAILURE;
  }
  return JOB_EXIT_OK;
}

int job_merge_main(int argc, char **argv) {
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = NULL;
  int ch;
  optind = 1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
    if (ch == 'h') {
      usage_merge(stdout);
      return 0;
    } else if (ch == 'o') {
      out = optarg;
    } else {
      job_cli_option_error("merge", ch, argv);
      return JOB_EXIT_CONFIG;
    }
  }
  if (optind >= argc || !out) {
    fprintf(stderr, "rbench merge: %s\n\n", !out ? "-o OUT is required" : "expected at least one results file or directory");
    usage_merge(stderr);
    return JOB_EXIT_CONFIG;
  }
  char **files = NULL;
  const char **dpaths = NULL;
  cJSON **docs = NULL, **merged = NULL;
  size_t nf = 0, nd = 0, ng = 0;
  struct merge_group *groups = NULL;
  int rc = merge_load(argv + optind, argc - optind, &files, &nf, &docs, &dpaths, &nd);
  for (size_t i = 0; i < nd && rc == 0; i++)
    if (!group_add(&groups, &ng, docs[i], dpaths[i])) rc = JOB_EXIT_FAILURE;
  size_t n = strlen(out);
  struct stat st;
  bool dir = ng > 1 || (n && out[n - 1] == '/') || (stat(out, &st) == 0 && S_ISDIR(st.st_mode));
  if (rc == 0 && ng > 1 && ((n > 5 && !strcmp(out + n - 5, ".json")) || (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)))) {
    fprintf(stderr, "rbench merge: the inputs hold %zu runs or repetitions (e.g. %s and %s): -o %s must be a "
                    "directory\n", ng, groups[0].paths[0], groups[1].paths[0], out);
    rc = JOB_EXIT_CONFIG;
  }
  /* Every group is merged before anything is written: a refusal leaves no output. */
  merged = rc == 0 ? calloc(ng, sizeof *merged) : NULL;
  if (rc == 0 && !merged) rc = JOB_EXIT_FAILURE;
  for (size_t g = 0; g < ng && rc == 0; g++) {
    char err[1200];
    merged[g] = job_merge_shards(groups[g].docs, groups[g].paths, groups[g].n, err, sizeof err);
    if (!merged[g]) {
      fprintf(stderr, "rbench merge: %s\n", err);
      rc = JOB_EXIT_FAILURE;
    }
  }
  char (*opaths)[PATH_MAX + 200] = rc == 0 ? calloc(ng, sizeof *opaths) : NULL;
  if (rc == 0 && !opaths) rc = JOB_EXIT_FAILURE;
  for (size_t g = 0; g < ng && rc == 0; g++) {
    if (!merge_out_path(out, dir, merged[g], opaths[g], sizeof opaths[g])) {
      fprintf(stderr, "rbench merge: cannot create directory %s: %s\n", out, job_file_reason(errno));
      rc = JOB_EXIT_FAILURE;
    }
    for (size_t h = 0; h < g && rc == 0; h++) {
      if (strcmp(opaths[h], opaths[g])) continue;
      fprintf(stderr, "rbench merge: %s and %s (runs of different scenarios with one name) would both be "
                      "written to %s: merge them separately\n", groups[h].paths[0], groups[g].paths[0], opaths[g]);
      rc = JOB_EXIT_CONFIG;
    }
  }
  for (size_t g = 0; g < ng && rc == 0; g++) {
    char err[600];
    char *text = cJSON_Print(merged[g]);
    if (!text || job_write_atomic(opaths[g], text, strlen(text), err, sizeof err) != RB_OK) {
      fprintf(stderr, "rbench merge: %s\n", text ? err : "out of memory");
      rc = JOB_EXIT_FAILURE;
    } else {
      fprintf(stderr, "rbench merge: wrote %s (%zu shards)\n", opaths[g], groups[g].n);
    }
    cJSON_free(text);
  }
  free(opaths);
  for (size_t g = 0; g < ng; g++) {
    cJSON_Delete(merged ? merged[g] : NULL);
    free(groups[g].docs);
    free(groups[g].paths);
  }
  free(merged);
  free(groups);
  for (size_t i = 0; i < nd; i++) cJSON_Delete(docs[i]);
  free(docs);
  free(dpaths);
  free_list(files, nf);
  return rc;
}
