/* renameat with RENAME_NOREPLACE, and the fallback where the kernel or file system lacks it. */
#ifndef FERRY_NATIVE_RENAME_H
#define FERRY_NATIVE_RENAME_H

/* 0 on success; -1 with errno set (EEXIST when newname exists; both names are then untouched). */
int rename_noreplace(int oldfd, const char *oldname, int newfd, const char *newname);

#endif
