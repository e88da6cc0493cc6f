#define _GNU_SOURCE
#include "readdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"

/* Kind codes shared with src/fs/raw-native.ts. */
enum { KIND_UNKNOWN = 0, KIND_FILE = 1, KIND_DIR = 2, KIND_SYMLINK = 3, KIND_OTHER = 4 };

static int kind_of_mode(mode_t mode) {
  if (S_ISREG(mode)) return KIND_FILE;
  if (S_ISDIR(mode)) return KIND_DIR;
  if (S_ISLNK(mode)) return KIND_SYMLINK;
  return KIND_OTHER;
}

/* Where d_type is DT_UNKNOWN, look without following, as Node's readdir does for the twin;
 * an entry gone meanwhile stays unknown. */
static int kind_of_entry(int dfd, const struct dirent *e) {
  switch (e->d_type) {
    case DT_REG: return KIND_FILE;
    case DT_DIR: return KIND_DIR;
    case DT_LNK: return KIND_SYMLINK;
    case DT_UNKNOWN: {
      struct stat st;
      return fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? kind_of_mode(st.st_mode) : KIND_UNKNOWN;
    }
    default: return KIND_OTHER;
  }
}

/* Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), the rule
 * buffer.isUtf8 applies in the twin. */
static bool valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t extra;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xC2 && c <= 0xDF) extra = 1;
    else if (c == 0xE0) { extra = 2; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) extra = 2;
    else if (c == 0xED) { extra = 2; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) extra = 2;
    else if (c == 0xF0) { extra = 3; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) extra = 3;
    else if (c == 0xF4) { extra = 3; hi = 0x8F; }
    else return false;
    if (n - i <= extra) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (size_t k = 2; k <= extra; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
    i += extra + 1;
  }
  return true;
}

/* A valid name becomes a string; any other becomes a Buffer, decoded by the wrapper. */
static bool name_value(napi_env env, const char *name, napi_value *out) {
  size_t n = strlen(name);
  if (valid_utf8((const unsigned char *)name, n)) return napi_create_string_utf8(env, name, n, out) == napi_ok;
  return napi_create_buffer_copy(env, n, name, NULL, out) == napi_ok;
}

napi_value fs_readdir(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !arg_fd(env, argv[0], "readdir", &fd)) return NULL;
  /* A fresh open file description of the same directory (never a dup, whose offset would be
   * shared): the caller's fd is left exactly as it was, and two threads may list one
   * directory at once. "." is the held directory itself, not a name that can be swapped. */
  int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return throw_errno(env, errno, "readdir");
  DIR *dir = fdopendir(dfd);
  if (dir == NULL) {
    int err = errno;
    close(dfd);
    return throw_errno(env, err, "readdir");
  }
  /* A flat array, name then kind code, is far cheaper to build than one object per entry. */
  napi_value result;
  if (napi_create_array(env, &result) != napi_ok) {
    closedir(dir);
    return throw_errno(env, ENOMEM, "readdir");
  }
  uint32_t index = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(dir);
    if (e == NULL) {
      int err = errno;
      closedir(dir);
      if (err != 0) return throw_errno(env, err, "readdir");
      return result;
    }
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    napi_value name;
    if (!name_value(env, e->d_name, &name) || napi_set_element(env, result, index++, name) != napi_ok ||
        napi_set_element(env, result, index++, make_int(env, kind_of_entry(dfd, e))) != napi_ok) {
      closedir(dir);
      return throw_errno(env, ENOMEM, "readdir");
    }
  }
}
