/* job_output.h: the one way rbench writes an output file (results documents, sweep summaries,
 * reports, merged documents), whatever the path names (docs/runner.md, "Output paths").
 *
 *   job_output_claim(path) ─► missing parent directories created (mkdir -p)
 *        │                   symlink: followed to its target
 *        ├─ new path or regular file ─► lock DIR/.NAME.rbench-lock (a second writer fails)
 *        │                              write: NAME.tmp-XXXXXX ─fsync─► rename(NAME)
 *        ├─ character device or FIFO ─► write: opened and written in place (never replaced)
 *        └─ directory, socket, block device, dangling symlink, one of the inputs ─► refused
 *
 * A refused path is RB_ERR_INVALID, a path another process is writing RB_ERR_STATE, any
 * other failure RB_ERR_IO; err names the path and what it is. */
#ifndef JOB_OUTPUT_H
#define JOB_OUTPUT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rb_error.h"

enum job_output_kind {
  JOB_OUTPUT_NEW,     /* nothing there yet */
  JOB_OUTPUT_REGULAR, /* a regular file (or a symlink to one): replaced atomically */
  JOB_OUTPUT_THROUGH  /* a character device or FIFO (or a symlink to one): written through */
};

/* A claimed output. Owns its lock file descriptor and, between begin and commit, the stream. */
struct job_output {
  char path[PATH_MAX];   /* as given (for messages) */
  char target[PATH_MAX]; /* where the bytes go: path, or a symlink's resolved target */
  enum job_output_kind kind;
  int lock_fd; /* -1: not locked (write-through kinds) */
  char lock_path[2 * PATH_MAX + 32];
  FILE *f;                 /* between begin and commit */
  char tmp[PATH_MAX + 32]; /* the temporary file of an atomic write, "" otherwise */
};

/* Claims path for writing (see the top of this file). inputs: NULL-terminated paths the
 * command reads (may be NULL; missing ones are skipped), compared with the output by device
 * and inode, so another name of the same file is caught too. On failure *o holds nothing to
 * release. */
enum rb_err job_output_claim(struct job_output *o, const char *path, const char *const *inputs,
                             char *err, size_t errlen);
/* Opens the stream to write the whole content to. NULL with err on failure (o stays claimed). */
FILE *job_output_begin(struct job_output *o, char *err, size_t errlen);
/* Ends the write: ok false (a write failed) discards a temporary file. Atomic kinds are
 * synced and renamed into place. */
enum rb_err job_output_commit(struct job_output *o, bool ok, char *err, size_t errlen);
/* Drops the lock (and the lock file). Safe on a released or failed claim. */
void job_output_release(struct job_output *o);

/* begin + write text + commit. */
enum rb_err job_output_put(struct job_output *o, const char *text, size_t len, char *err,
                           size_t errlen);
/* claim + put + release. */
enum rb_err job_output_write_file(const char *path, const char *text, size_t len,
                                  const char *const *inputs, char *err, size_t errlen);

/* mkdir -p dir (mode 0755); err names the component that could not be created and why
 * (e.g. an existing regular file of that name). */
enum rb_err job_output_mkdirs(const char *dir, char *err, size_t errlen);

/* What st_mode is, for messages: "a regular file", "a directory", "a character device", ... */
const char *job_output_type_name(unsigned mode);

/* A directory for scratch files of this output (the spool of raw records): beside the target
 * for the atomic kinds (the same disk), TMPDIR (else /tmp) for a device or FIFO. */
void job_output_scratch_dir(const struct job_output *o, char *out, size_t len);

#endif
