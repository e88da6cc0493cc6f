/* Thin wrappers over the *at system calls. No global state: every call works only on its
 * arguments and errno (thread-local), so the addon is safe in any number of worker threads. */
#define _GNU_SOURCE
#include "fsops.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string.h>
#include <stdint.h>
#include "args.h"
#include "rename.h"

/* Number of 8-byte slots a stat fills in the caller's Float64Array, in this order:
 * dev, ino, mode, nlink, uid, gid, size, mtimeMs, atimeMs as doubles, then dev and ino again
 * as exact uint64 (read through a BigUint64Array view: a 64-bit inode does not fit a double). */
#define STAT_FIELDS 11

/* Node's own formula (msFromTimeSpec), so both implementations report identical doubles. */
static double ms_of(const struct timespec *ts) {
  return (double)ts->tv_sec * 1000.0 + (double)ts->tv_nsec / 1000000.0;
}

static bool fill_stat(napi_env env, napi_value out, const struct stat *st) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, out, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float64_array || length < STAT_FIELDS) {
    napi_throw_type_error(env, NULL, "ferry_native: stat needs a Float64Array(11)");
    return false;
  }
  double *d = data;
  d[0] = (double)st->st_dev;
  d[1] = (double)st->st_ino;
  d[2] = (double)st->st_mode;
  d[3] = (double)st->st_nlink;
  d[4] = (double)st->st_uid;
  d[5] = (double)st->st_gid;
  d[6] = (double)st->st_size;
  d[7] = ms_of(&st->st_mtim);
  d[8] = ms_of(&st->st_atim);
  uint64_t dev = (uint64_t)st->st_dev, ino = (uint64_t)st->st_ino;
  memcpy(&d[9], &dev, sizeof dev);
  memcpy(&d[10], &ino, sizeof ino);
  return true;
}

napi_value fs_openat(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int dirfd;
  char name[FERRY_NAME_BUF];
  uint32_t flags, mode;
  if (!get_args(env, info, 4, argv) || !arg_fd(env, argv[0], "openat", &dirfd) ||
      !arg_name(env, argv[1], "openat", name) || !arg_uint(env, argv[2], "openat", &flags) ||
      !arg_uint(env, argv[3], "openat", &mode))
    return NULL;
  int fd = openat(dirfd, name, (int)flags | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
  if (fd < 0) {
    int err = errno;
    /* With O_DIRECTORY Linux checks "is a directory" before "is a link" and says ENOTDIR
     * for a link; the contract is ELOOP for any link at name (the twin does the same). */
    struct stat st;
    if (err == ENOTDIR && (flags & O_DIRECTORY) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
      err = ELOOP;
    return throw_errno(env, err, "openat");
  }
  return make_int(env, fd);
}

napi_value fs_open_root(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  char *path = arg_string(env, argv[0], "open");
  if (path == NULL) return NULL;
  if (path[0] != '/') {
    free(path);
    return throw_errno(env, EINVAL, "open");
  }
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int err = errno;
  free(path);
  if (fd < 0) return throw_errno(env, err, "open");
  return make_int(env, fd);
}

napi_value fs_statat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int dirfd;
  char name[FERRY_NAME_BUF];
  struct stat st;
  if (!get_args(env, info, 3, argv) || !arg_fd(env, argv[0], "fstatat", &dirfd) ||
      !arg_name(env, argv[1], "fstatat", name))
    return NULL;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return throw_errno(env, errno, "fstatat");
  return fill_stat(env, argv[2], &st) ? make_undefined(env) : NULL;
}

/* statatIfAny(dirFd, name, out) -> boolean: false where nothing is at the name (ENOENT), no
 * exception built; a destination looks up the name of every file it is about to create. */
napi_value fs_statat_if_any(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int dirfd;
  char name[FERRY_NAME_BUF];
  struct stat st;
  napi_value result;
  if (!get_args(env, info, 3, argv) || !arg_fd(env, argv[0], "fstatat", &dirfd) ||
      !arg_name(env, argv[1], "fstatat", name))
    return NULL;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return throw_errno(env, errno, "fstatat");
    return napi_get_boolean(env, false, &result) == napi_ok ? result : NULL;
  }
  if (!fill_stat(env, argv[2], &st)) return NULL;
  return napi_get_boolean(env, true, &result) == napi_ok ? result : NULL;
}

napi_value fs_fstat(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  struct stat st;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], "fstat", &fd)) return NULL;
  if (fstat(fd, &st) != 0) return throw_errno(env, errno, "fstat");
  return fill_stat(env, argv[1], &st) ? make_undefined(env) : NULL;
}

napi_value fs_mkdirat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int dirfd;
  char name[FERRY_NAME_BUF];
  uint32_t mode;
  if (!get_args(env, info, 3, argv) || !arg_fd(env, argv[0], "mkdirat", &dirfd) ||
      !arg_name(env, argv[1], "mkdirat", name) || !arg_uint(env, argv[2], "mkdirat", &mode))
    return NULL;
  if (mkdirat(dirfd, name, (mode_t)mode) != 0) return throw_errno(env, errno, "mkdirat");
  return make_undefined(env);
}

napi_value fs_unlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int dirfd;
  char name[FERRY_NAME_BUF];
  bool dir;
  if (!get_args(env, info, 3, argv) || !arg_fd(env, argv[0], "unlinkat", &dirfd) ||
      !arg_name(env, argv[1], "unlinkat", name) || !arg_bool(env, argv[2], "unlinkat", &dir))
    return NULL;
  if (unlinkat(dirfd, name, dir ? AT_REMOVEDIR : 0) != 0) return throw_errno(env, errno, "unlinkat");
  return make_undefined(env);
}

napi_value fs_renameat(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int oldfd, newfd;
  char oldname[FERRY_NAME_BUF], newname[FERRY_NAME_BUF];
  bool no_replace;
  if (!get_args(env, info, 5, argv) || !arg_fd(env, argv[0], "renameat", &oldfd) ||
      !arg_name(env, argv[1], "renameat", oldname) || !arg_fd(env, argv[2], "renameat", &newfd) ||
      !arg_name(env, argv[3], "renameat", newname) || !arg_bool(env, argv[4], "renameat", &no_replace))
    return NULL;
  int rc = no_replace ? rename_noreplace(oldfd, oldname, newfd, newname) : renameat(oldfd, oldname, newfd, newname);
  if (rc != 0) return throw_errno(env, errno, "renameat");
  return make_undefined(env);
}

napi_value fs_linkat(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int oldfd, newfd;
  char oldname[FERRY_NAME_BUF], newname[FERRY_NAME_BUF];
  if (!get_args(env, info, 4, argv) || !arg_fd(env, argv[0], "linkat", &oldfd) ||
      !arg_name(env, argv[1], "linkat", oldname) || !arg_fd(env, argv[2], "linkat", &newfd) ||
      !arg_name(env, argv[3], "linkat", newname))
    return NULL;
  /* Flags 0: no AT_SYMLINK_FOLLOW, so a link at oldname is itself linked. */
  if (linkat(oldfd, oldname, newfd, newname, 0) != 0) return throw_errno(env, errno, "linkat");
  return make_undefined(env);
}

napi_value fs_symlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int dirfd;
  char name[FERRY_NAME_BUF];
  if (!get_args(env, info, 3, argv)) return NULL;
  char *target = arg_string(env, argv[0], "symlinkat");
  if (target == NULL) return NULL;
  if (!arg_fd(env, argv[1], "symlinkat", &dirfd) || !arg_name(env, argv[2], "symlinkat", name)) {
    free(target);
    return NULL;
  }
  int rc = symlinkat(target, dirfd, name);
  int err = errno;
  free(target);
  if (rc != 0) return throw_errno(env, err, "symlinkat");
  return make_undefined(env);
}

napi_value fs_readlinkat(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int dirfd;
  char name[FERRY_NAME_BUF];
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], "readlinkat", &dirfd) ||
      !arg_name(env, argv[1], "readlinkat", name))
    return NULL;
  /* Link targets are below PATH_MAX on Linux, but some file systems store longer ones:
   * grow until the result is shorter than the buffer (then it was not cut). */
  for (size_t size = 4096; size <= (1u << 20); size *= 4) {
    char *buf = malloc(size);
    if (buf == NULL) return throw_errno(env, ENOMEM, "readlinkat");
    ssize_t n = readlinkat(dirfd, name, buf, size);
    if (n < 0) {
      int err = errno;
      free(buf);
      return throw_errno(env, err, "readlinkat");
    }
    if ((size_t)n < size) {
      napi_value result;
      napi_status status = napi_create_string_utf8(env, buf, (size_t)n, &result);
      free(buf);
      return status == napi_ok ? result : throw_errno(env, ENOMEM, "readlinkat");
    }
    free(buf);
  }
  return throw_errno(env, ENAMETOOLONG, "readlinkat");
}

napi_value fs_fchmod(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint32_t mode;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], "fchmod", &fd) || !arg_uint(env, argv[1], "fchmod", &mode))
    return NULL;
  if (fchmod(fd, (mode_t)mode) != 0) return throw_errno(env, errno, "fchmod");
  return make_undefined(env);
}

/* libuv's conversion (uv__fs_to_timespec), applied to what Node hands it, so a time set here
 * reads back exactly as one set through fs.futimesSync: seconds truncated toward zero,
 * nanoseconds cut to whole microseconds. A negative time goes through a Date in the twin,
 * which keeps only whole milliseconds; do the same. */
static struct timespec timespec_of_ms(double ms) {
  if (ms < 0) ms = trunc(ms);
  double t = ms / 1000;
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}

napi_value fs_futimens(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  double atime_ms, mtime_ms;
  if (!get_args(env, info, 3, argv) || !arg_fd(env, argv[0], "futimens", &fd) ||
      !arg_double(env, argv[1], "futimens", &atime_ms) || !arg_double(env, argv[2], "futimens", &mtime_ms))
    return NULL;
  struct timespec times[2] = {timespec_of_ms(atime_ms), timespec_of_ms(mtime_ms)};
  if (futimens(fd, times) != 0) return throw_errno(env, errno, "futimens");
  return make_undefined(env);
}

napi_value fs_syncfs(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !arg_fd(env, argv[0], "syncfs", &fd)) return NULL;
  if (syncfs(fd) != 0) return throw_errno(env, errno, "syncfs");
  return make_undefined(env);
}

napi_value fs_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !arg_fd(env, argv[0], "close", &fd)) return NULL;
  /* Linux frees the descriptor even when close reports EINTR; retrying could close a
   * number another thread has just been given. libuv (so the twin) reports success too. */
  if (close(fd) != 0 && errno != EINTR && errno != EINPROGRESS) return throw_errno(env, errno, "close");
  return make_undefined(env);
}
