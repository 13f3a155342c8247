/* job_cli.c: what the subcommands share: option errors, reading results files, expanding
 * file and directory arguments. */
#define _GNU_SOURCE
#include "job_cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_compare.h"
#include "job_exit.h"
#include "job_results.h"
#include "job_settings.h"
#include "rb_json.h"

/* ---- options ------------------------------------------------------------------------ */

void job_cli_option_error(const char *cmd, int ch, char **argv) {
  const char *opt = optind > 0 ? argv[optind - 1] : "";
  char shortopt[3] = {'-', (char)optopt, '\0'};
  /* An unknown letter inside a group (-xq) is not argv[optind - 1] itself. */
  if (optopt > 0 && optopt < 128 && strncmp(opt, "--", 2) != 0) opt = shortopt;
  if (ch == ':')
    fprintf(stderr, "rbench %s: option '%s' needs a value (see rbench %s --help)\n", cmd, opt, cmd);
  else fprintf(stderr, "rbench %s: unknown option '%s' (see rbench %s --help)\n", cmd, opt, cmd);
}

/* ---- loading results ---------------------------------------------------------------- */

/* Reads and parses one results file; on failure err names the file and the reason. */
cJSON *job_cli_load_doc(const char *path, char *err, size_t errlen) {
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

int job_cli_cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expands one argument (a file, a directory of *.json, or a comma-separated list) into
 * paths appended to *list. */
static bool expand(const char *arg, char ***list, size_t *n) {
  char *copy = strdup(arg), *save = NULL;
  bool ok = copy != NULL;
  for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ok;
       tok = strtok_r(NULL, ",", &save)) {
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

void job_cli_free_list(char **list, size_t n) {
  for (size_t i = 0; i < n; i++) free(list[i]);
  free(list);
}

/* Expands each comma-separated part of arg on its own, so that a part that gives no file (an
 * empty directory, one without *.json, one that cannot be listed) is an error naming it
 * rather than a silently smaller side. */
bool job_cli_expand_arg(const char *cmd, const char *arg, char ***list, size_t *n) {
  char *copy = strdup(arg), *save = NULL;
  bool ok = copy != NULL;
  for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ok;
       tok = strtok_r(NULL, ",", &save)) {
    size_t before = *n;
    if (expand(tok, list, n) && *n > before) continue;
    DIR *d = opendir(tok);
    if (!d)
      fprintf(stderr, "rbench %s: cannot read directory %s: %s\n", cmd, tok,
              job_file_reason(errno));
    else fprintf(stderr, "rbench %s: %s: a directory without results files (*.json)\n", cmd, tok);
    if (d) closedir(d);
    ok = false;
  }
  if (!copy) fprintf(stderr, "rbench %s: out of memory\n", cmd);
  free(copy);
  return ok;
}

bool job_cli_push_path(char ***list, size_t *n, char *p) {
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
void job_cli_collect_tree(const char *dir, char ***list, size_t *n, int depth) {
  struct dirent **ents = NULL;
  int m = depth < 8 ? scandir(dir, &ents, NULL, alphasort) : 0;
  for (int i = 0; i < m; i++) {
    const char *name = ents[i]->d_name;
    size_t l = strlen(name);
    char *p = NULL;
    struct stat st;
    if (name[0] != '.' && asprintf(&p, "%s/%s", dir, name) > 0 && stat(p, &st) == 0) {
      if (S_ISDIR(st.st_mode)) job_cli_collect_tree(p, list, n, depth + 1);
      else if (l > 5 && !strcmp(name + l - 5, ".json") && job_cli_push_path(list, n, p)) p = NULL;
    }
    free(p);
    free(ents[i]);
  }
  free(ents);
}

void job_cli_doc_warnings(const char *cmd, const char *path, const cJSON *doc) {
  const cJSON *w =
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "agent"), "warning");
  if (cJSON_IsString(w))
    fprintf(stderr, "rbench %s: warning: %s: agent: %s\n", cmd, path, w->valuestring);
}

/* ---- pooling a side ----------------------------------------------------------------- */

void job_cli_note(char *notes, size_t len, const char *fmt, ...) {
  size_t n = strlen(notes);
  if (n + 1 >= len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(notes + n, len - n, fmt, ap);
  va_end(ap);
  n = strlen(notes);
  if (n + 1 < len) snprintf(notes + n, len - n, "\n");
}

static const char *path_of(const struct job_doc *d) { return d->path ? d->path : "(document)"; }

/* Documents of several runs (run ids) pooled, allowed when their settings agree, are said. */
static void runs_note(const struct job_doc *const *docs, const bool *keep, size_t n,
                      const char *side, char *notes, size_t len) {
  size_t runs = 0;
  char ids[200] = "";
  for (size_t i = 0; i < n; i++) {
    if (!keep[i] || !docs[i]->run_id) continue;
    bool seen = false;
    for (size_t k = 0; k < i && !seen; k++)
      seen = keep[k] && docs[k]->run_id && !strcmp(docs[k]->run_id, docs[i]->run_id);
    if (seen) continue;
    size_t m = strlen(ids);
    if (m < sizeof ids)
      snprintf(ids + m, sizeof ids - m, "%s%s", runs ? ", " : "", docs[i]->run_id);
    runs++;
  }
  if (runs > 1)
    job_cli_note(notes, len, "%s pools documents of %zu runs (run ids %s)", side, runs, ids);
}

int job_cli_pool(const char *cmd, const char *side, const struct job_doc *const *docs, size_t n,
                 bool sweep_steps, const struct job_cli_pool_opts *o, bool *keep, char *notes,
                 size_t len) {
  size_t first = n, kept = 0;
  char why[200], what[200];
  for (size_t i = 0; i < n; i++) {
    keep[i] = true;
    if (job_settings_incomplete(docs[i], why, sizeof why)) {
      keep[i] = o->include_incomplete;
      if (keep[i])
        job_cli_note(notes, len, "INCOMPLETE document included (--include-incomplete): %s (%s)",
                     path_of(docs[i]), why);
      else
        job_cli_note(notes, len,
                     "left out %s: %s, not a whole run (--include-incomplete to use it)",
                     path_of(docs[i]), why);
    }
    if (!keep[i]) continue;
    kept++;
    if (o->by_settings) continue;
    if (first == n) {
      first = i;
      continue;
    }
    if (!job_settings_diff(docs[first], docs[i], sweep_steps, what, sizeof what)) continue;
    if (!o->allow_mixed) {
      fprintf(
          stderr,
          "rbench %s: %s: %s and %s were run with different settings: %s; they are not repetitions "
          "of one run. Name them as separate sides, or pass --allow-mixed to pool them anyway\n",
          cmd, side, path_of(docs[first]), path_of(docs[i]), what);
      return JOB_EXIT_CONFIG;
    }
    job_cli_note(notes, len, "MIXED settings pooled (--allow-mixed) in %s: %s and %s differ in %s",
                 side, path_of(docs[first]), path_of(docs[i]), what);
  }
  runs_note(docs, keep, n, side, notes, len);
  if (!kept) {
    fprintf(stderr,
            "rbench %s: %s: no complete results document (%zu incomplete); --include-incomplete "
            "uses them\n",
            cmd, side, n);
    return JOB_EXIT_CONFIG;
  }
  return JOB_EXIT_OK;
}

bool job_cli_analysis_option(const char *cmd, int ch, const char *arg,
                             struct job_cli_pool_opts *pool, struct job_min_change *minc, int *rc) {
  char err[600];
  *rc = JOB_EXIT_OK;
  if (ch == 'M') pool->allow_mixed = true;
  else if (ch == 'I') pool->include_incomplete = true;
  else if (ch != 'm') return false;
  else if (job_min_change_parse(minc, arg, err, sizeof err) != RB_OK) {
    fprintf(stderr, "rbench %s: %s\n", cmd, err);
    *rc = JOB_EXIT_CONFIG;
  }
  return true;
}
