/*
 * syncfsAsync(fd) -> Promise<void>: syncfs(2) on libuv's thread pool. The I/O worker asks for
 * one as a write-back hint before a group of fsyncs (src/transfer/workers/syncfs.ts), and a
 * syncfs can take as long as the file system's dirty data: run on the worker's own thread it
 * would stall every other job there. The descriptor is duplicated before the call returns, so
 * the caller may close its own at once (it stops waiting after a while); the copy is closed
 * when the syncfs ends.
 */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "args.h"
#include "syncfs-async.h"

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int err;
} syncfs_job;

static void syncfs_execute(napi_env env, void *data) {
  (void)env;
  syncfs_job *job = data;
  job->err = syncfs(job->fd) == 0 ? 0 : errno;
  close(job->fd);
}

static void syncfs_complete(napi_env env, napi_status status, void *data) {
  syncfs_job *job = data;
  if (status == napi_ok && job->err == 0) {
    napi_value undefined = make_undefined(env);
    napi_resolve_deferred(env, job->deferred, undefined);
  } else {
    napi_value error = errno_error(env, status == napi_ok ? job->err : ECANCELED, "syncfs");
    if (error == NULL) napi_get_undefined(env, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

napi_value fs_syncfs_async(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !arg_fd(env, argv[0], "syncfs", &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return throw_errno(env, errno, "syncfs");
  syncfs_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    close(copy);
    return throw_errno(env, ENOMEM, "syncfs");
  }
  job->fd = copy;
  napi_value promise;
  if (!queue_promise_work(env, "syncfs", syncfs_execute, syncfs_complete, job, &job->work, &job->deferred, &promise)) {
    close(copy);
    free(job);
    return NULL;
  }
  return promise;
}
