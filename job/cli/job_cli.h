/* job_cli.h: what rbench's subcommands share: option errors, reading results files, expanding
 * file and directory arguments. The subcommands themselves are in job_cmd.h. */
#ifndef JOB_CLI_H
#define JOB_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Prints why getopt_long (optstring starting with ':') returned ch ('?' unknown option, ':'
 * missing value) as "rbench CMD: ...", naming the option. */
void job_cli_option_error(const char *cmd, int ch, char **argv);

/* Reads and parses one results file (owned by the caller, cJSON_Delete); NULL with err naming
 * the file and the reason. */
cJSON *job_cli_load_doc(const char *path, char *err, size_t errlen);

/* Says on stderr, as "rbench CMD: warning: PATH: agent: ...", what a document warns about
 * (its agent.warning: a batched run the agent saw none of), so compare and report do not
 * pass it by silently. */
void job_cli_doc_warnings(const char *cmd, const char *path, const cJSON *doc);

/* qsort comparator for an array of char * (byte order). */
int job_cli_cmp_str(const void *a, const void *b);
/* Frees n owned strings and the array. */
void job_cli_free_list(char **list, size_t n);

/* Expands arg (files, directories of *.json, comma-separated) onto *list (owned strings).
 * A part that gives no file is an error naming it, said on stderr as "rbench CMD: ...". */
bool job_cli_expand_arg(const char *cmd, const char *arg, char ***list, size_t *n);
/* Appends p (taken; freed on failure) to *list; false when out of memory. */
bool job_cli_push_path(char ***list, size_t *n, char *p);
/* Appends every *.json below dir (recursively, up to a fixed depth) to *list. */
void job_cli_collect_tree(const char *dir, char ***list, size_t *n, int depth);

/* ---- pooling a side (issue 18 item 2; docs/runner.md, "Which documents are pooled") -- */

struct job_cli_pool_opts {
  bool allow_mixed;        /* --allow-mixed: pool documents of different settings, with a note */
  bool include_incomplete; /* --include-incomplete: keep incomplete documents, flagged */
  bool by_settings;        /* report of one directory tree: documents are grouped by their
                              settings afterwards, so only completeness is checked here */
};

/* Decides which of one side's documents are pooled. An incomplete document ("complete":
 * false, an interrupted run) is left out with a note naming it, or kept and flagged with
 * include_incomplete. Documents whose settings (job_settings.h) differ from the first kept
 * one's refuse the side, said on stderr as "rbench CMD: SIDE: ..." naming both files and the
 * setting, unless allow_mixed pools them with a note; sweep_steps lets steps of one sweep
 * differ in their rate. Files are named by docs[i]->path. keep[i] says which stay; notes (len
 * bytes) gets one line per remark. JOB_EXIT_OK, or JOB_EXIT_CONFIG when refused or nothing is left.
 */
struct job_doc;
int job_cli_pool(const char *cmd, const char *side, const struct job_doc *const *docs, size_t n,
                 bool sweep_steps, const struct job_cli_pool_opts *o, bool *keep, char *notes,
                 size_t len);

/* The options compare and report share: --min-change, --allow-mixed, --include-incomplete
 * (getopt_long entries 'm', 'M', 'I'). */
#define JOB_CLI_ANALYSIS_OPTIONS                                                           \
  {"min-change", required_argument, NULL, 'm'}, {"allow-mixed", no_argument, NULL, 'M'}, { \
    "include-incomplete", no_argument, NULL, 'I'                                           \
  }
struct job_min_change;
/* Handles ch when it is one of those: true, with *rc JOB_EXIT_CONFIG (said on stderr as
 * "rbench CMD: ...") when its value is bad, else JOB_EXIT_OK. False for another option. */
bool job_cli_analysis_option(const char *cmd, int ch, const char *arg,
                             struct job_cli_pool_opts *pool, struct job_min_change *minc, int *rc);

/* Appends one line to notes (len bytes), printf-style. */
void job_cli_note(char *notes, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
