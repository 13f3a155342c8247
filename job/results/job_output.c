/* job_output.c: claiming, locking and writing an output path safely (see job_output.h). */
#define _GNU_SOURCE
#include "job_output.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

const char *job_output_type_name(unsigned mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
  }
}

enum rb_err job_output_mkdirs(const char *dir, char *err, size_t errlen) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s: path too long", dir);
  size_t n = strlen(buf);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    if (buf[i - 1] == '/') continue; /* "a//b", or the root */
    char c = buf[i];
    buf[i] = '\0';
    struct stat st;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return rb_errorf(RB_ERR_IO, err, errlen, "cannot create directory %s: %s", buf,
                       strerror(errno));
    if (stat(buf, &st) != 0)
      return rb_errorf(RB_ERR_IO, err, errlen, "cannot create directory %s: %s", buf,
                       strerror(errno));
    if (!S_ISDIR(st.st_mode))
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "cannot create directory %s: it exists and is %s", buf,
                       job_output_type_name(st.st_mode));
    buf[i] = c;
  }
  return RB_OK;
}

static void dir_of(const char *path, char *out, size_t len) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  snprintf(out, len, "%s", dirname(buf));
}

/* Refuses an output that is one of the inputs (the same device and inode). */
static enum rb_err check_inputs(const struct job_output *o, const struct stat *ost,
                                const char *const *inputs, char *err, size_t errlen) {
  for (size_t i = 0; inputs && inputs[i]; i++) {
    struct stat ist;
    if (stat(inputs[i], &ist) != 0) continue;
    if (ist.st_dev == ost->st_dev && ist.st_ino == ost->st_ino)
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "the output %s is the input %s (the same file): writing it would destroy "
                       "the input; choose another output",
                       o->path, inputs[i]);
  }
  return RB_OK;
}

/* The pid written in a lock file, 0 when unknown. */
static long lock_owner(const char *lock_path) {
  char buf[32] = "";
  int fd = open(lock_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return strtol(buf, NULL, 10);
}

/* Takes DIR/.NAME.rbench-lock beside the target: flock, then checks that the file locked is
 * still the one at that name (another writer may have removed it between open and flock). */
static enum rb_err take_lock(struct job_output *o, char *err, size_t errlen) {
  char dir[PATH_MAX], base[PATH_MAX];
  dir_of(o->target, dir, sizeof dir);
  snprintf(base, sizeof base, "%s", o->target);
  snprintf(o->lock_path, sizeof o->lock_path, "%s/.%s.rbench-lock", dir, basename(base));
  for (int attempt = 0; attempt < 10; attempt++) {
    int fd = open(o->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
      return rb_errorf(RB_ERR_IO, err, errlen, "cannot create the lock file %s for %s: %s",
                       o->lock_path, o->path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      close(fd);
      if (e != EWOULDBLOCK)
        return rb_errorf(RB_ERR_IO, err, errlen, "cannot lock %s: %s", o->lock_path, strerror(e));
      long pid = lock_owner(o->lock_path);
      char who[40] = "";
      if (pid > 0) snprintf(who, sizeof who, " (pid %ld)", pid);
      return rb_errorf(RB_ERR_STATE, err, errlen,
                       "%s is being written by another rbench%s (lock %s): wait for it to finish "
                       "or choose another output",
                       o->path, who, o->lock_path);
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(o->lock_path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
      char pid[24];
      int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
      if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n) { /* informative only */
      }
      o->lock_fd = fd;
      return RB_OK;
    }
    close(fd); /* removed by its previous holder meanwhile: take the new one */
  }
  return rb_errorf(RB_ERR_STATE, err, errlen, "cannot lock %s: its lock file keeps changing",
                   o->path);
}

/* Decides what the (existing) path is and where writing it goes. */
static enum rb_err classify(struct job_output *o, const struct stat *lst, const char *const *inputs,
                            char *err, size_t errlen) {
  struct stat st = *lst;
  if (S_ISLNK(lst->st_mode)) {
    if (stat(o->path, &st) != 0)
      return rb_errorf(RB_ERR_INVALID, err, errlen,
                       "%s is a symbolic link to a file that does not exist (%s): give the path "
                       "to write itself",
                       o->path, strerror(errno));
    if (!realpath(o->path, o->target))
      return rb_errorf(RB_ERR_IO, err, errlen, "cannot resolve the symbolic link %s: %s", o->path,
                       strerror(errno));
  }
  const char *via = S_ISLNK(lst->st_mode) ? " (through a symbolic link)" : "";
  if (S_ISREG(st.st_mode)) o->kind = JOB_OUTPUT_REGULAR;
  else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) o->kind = JOB_OUTPUT_THROUGH;
  else
    return rb_errorf(RB_ERR_INVALID, err, errlen,
                     "%s is %s%s, not a file rbench can write: give a file path", o->path,
                     job_output_type_name(st.st_mode), via);
  return check_inputs(o, &st, inputs, err, errlen);
}

enum rb_err job_output_claim(struct job_output *o, const char *path, const char *const *inputs,
                             char *err, size_t errlen) {
  memset(o, 0, sizeof *o);
  o->lock_fd = -1;
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof o->path)
    return rb_errorf(RB_ERR_INVALID, err, errlen, "output path '%s': %s", path,
                     n ? "too long" : "empty");
  if (path[n - 1] == '/')
    return rb_errorf(RB_ERR_INVALID, err, errlen, "%s names a directory: give a file path", path);
  snprintf(o->path, sizeof o->path, "%s", path);
  snprintf(o->target, sizeof o->target, "%s", path);
  char dir[PATH_MAX];
  dir_of(path, dir, sizeof dir);
  enum rb_err rc = job_output_mkdirs(dir, err, errlen);
  if (rc != RB_OK) return rc;
  struct stat lst;
  if (lstat(path, &lst) == 0) rc = classify(o, &lst, inputs, err, errlen);
  else if (errno == ENOENT) o->kind = JOB_OUTPUT_NEW;
  else rc = rb_errorf(RB_ERR_IO, err, errlen, "cannot write %s: %s", path, strerror(errno));
  if (rc == RB_OK && o->kind != JOB_OUTPUT_THROUGH) rc = take_lock(o, err, errlen);
  return rc;
}

FILE *job_output_begin(struct job_output *o, char *err, size_t errlen) {
  int fd;
  if (o->kind == JOB_OUTPUT_THROUGH) {
    o->tmp[0] = '\0';
    fd = open(o->target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
  } else {
    struct stat st;
    mode_t mode =
        o->kind == JOB_OUTPUT_REGULAR && stat(o->target, &st) == 0 ? st.st_mode & 07777 : 0644;
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp-XXXXXX", o->target);
    fd = mkostemp(o->tmp, O_CLOEXEC);
    if (fd >= 0) fchmod(fd, mode);
  }
  if (fd < 0) {
    rb_errorf(RB_ERR_IO, err, errlen, "cannot %s %s: %s",
              o->tmp[0] ? "create a file beside" : "open", o->path, strerror(errno));
    o->tmp[0] = '\0';
    return NULL;
  }
  o->f = fdopen(fd, "w");
  if (!o->f) {
    rb_errorf(RB_ERR_NOMEM, err, errlen, "cannot write %s: %s", o->path, strerror(errno));
    close(fd);
    if (o->tmp[0]) unlink(o->tmp);
    o->tmp[0] = '\0';
  }
  return o->f;
}

enum rb_err job_output_commit(struct job_output *o, bool ok, char *err, size_t errlen) {
  if (!o->f) return rb_errorf(RB_ERR_STATE, err, errlen, "%s: nothing being written", o->path);
  errno = EIO;
  ok = ok && fflush(o->f) == 0;
  if (ok && o->tmp[0]) ok = fsync(fileno(o->f)) == 0;
  int e = errno;
  if (fclose(o->f) != 0 && ok) ok = false, e = errno;
  o->f = NULL;
  if (ok && o->tmp[0] && rename(o->tmp, o->target) != 0) ok = false, e = errno;
  if (!ok && o->tmp[0]) unlink(o->tmp);
  o->tmp[0] = '\0';
  if (!ok) return rb_errorf(RB_ERR_IO, err, errlen, "cannot write %s: %s", o->path, strerror(e));
  return RB_OK;
}

void job_output_release(struct job_output *o) {
  if (o->f) job_output_commit(o, false, NULL, 0);
  if (o->lock_fd >= 0) {
    unlink(o->lock_path); /* while still holding it: a waiting writer re-checks the name */
    close(o->lock_fd);
  }
  o->lock_fd = -1;
}

enum rb_err job_output_put(struct job_output *o, const char *text, size_t len, char *err,
                           size_t errlen) {
  FILE *f = job_output_begin(o, err, errlen);
  if (!f) return RB_ERR_IO;
  return job_output_commit(o, fwrite(text, 1, len, f) == len, err, errlen);
}

enum rb_err job_output_write_file(const char *path, const char *text, size_t len,
                                  const char *const *inputs, char *err, size_t errlen) {
  struct job_output o;
  enum rb_err rc = job_output_claim(&o, path, inputs, err, errlen);
  if (rc != RB_OK) return rc;
  rc = job_output_put(&o, text, len, err, errlen);
  job_output_release(&o);
  return rc;
}

void job_output_scratch_dir(const struct job_output *o, char *out, size_t len) {
  const char *tmp = getenv("TMPDIR");
  if (o->kind == JOB_OUTPUT_THROUGH) snprintf(out, len, "%s", tmp && *tmp ? tmp : "/tmp");
  else dir_of(o->target, out, len);
}
