#define _GNU_SOURCE
#include "rename.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* The raw system call: glibc only wraps renameat2 from 2.28 on, and musl later still. */
static int renameat2_raw(int oldfd, const char *oldname, int newfd, const char *newname, unsigned flags) {
#ifdef SYS_renameat2
  return (int)syscall(SYS_renameat2, oldfd, oldname, newfd, newname, flags);
#else
  (void)oldfd, (void)oldname, (void)newfd, (void)newname, (void)flags;
  errno = ENOSYS;
  return -1;
#endif
}

/*
 * Same fallback as the TypeScript twin (renameNoReplaceByPath in src/fs/raw-twin.ts): a
 * non-directory gets its new name with linkat, which refuses an existing target atomically,
 * then loses the old one (the new name is taken back if that fails). A directory cannot be
 * hard-linked: check that newname is absent, then rename. A target created between the
 * check and the rename is replaced if it is an empty directory: that window is the race
 * left on kernels or file systems without RENAME_NOREPLACE.
 */
static int rename_noreplace_fallback(int oldfd, const char *oldname, int newfd, const char *newname) {
  struct stat st;
  if (fstatat(oldfd, oldname, &st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    if (linkat(oldfd, oldname, newfd, newname, 0) != 0) return -1;
    if (unlinkat(oldfd, oldname, 0) != 0) {
      int err = errno;
      unlinkat(newfd, newname, 0);
      errno = err;
      return -1;
    }
    return 0;
  }
  if (fstatat(newfd, newname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    errno = EEXIST;
    return -1;
  }
  if (errno != ENOENT) return -1;
  return renameat(oldfd, oldname, newfd, newname);
}

int rename_noreplace(int oldfd, const char *oldname, int newfd, const char *newname) {
  if (renameat2_raw(oldfd, oldname, newfd, newname, RENAME_NOREPLACE) == 0) return 0;
  /* EINVAL also means "a directory into itself", which the fallback reports again. */
  if (errno != EINVAL && errno != ENOSYS) return -1;
  return rename_noreplace_fallback(oldfd, oldname, newfd, newname);
}
