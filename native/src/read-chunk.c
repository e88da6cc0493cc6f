/*
 * readChunk(fd, buffer, offset, length, position, xxh3Handle | null) -> Promise<{bytesRead, crc}>:
 * pread(2) of one chunk of a file into buffer[offset, offset + length) on libuv's thread pool,
 * then, on the same thread while the bytes are still in its cache, their CRC-32 (the chunk's
 * checksum on the wire) and, given a handle, the whole file's XXH3-128 fed with them. The
 * source's main thread, which also seals and writes every frame to the sockets, otherwise spent
 * ~0.33 s per 2 GiB on those two sums (src/transfer/checksum/summed-read.ts).
 *
 * Reads until `length` bytes or end of file (a short count then says the file shrank). The
 * descriptor is duplicated before the call returns, so a caller that closes its own meanwhile
 * cannot make the read land in whatever file reuses the number. The buffer and the handle are
 * held (references) until the promise settles; the caller must not touch either meanwhile
 * (the TypeScript side feeds one file's hash one chunk at a time) nor detach the buffer (its
 * memory is written from the pool thread: the source's chunk buffers are never transferred).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "args.h"
#include "crc32.h"
#include "hash.h"
#include "read-chunk.h"

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer_ref;
  napi_ref hash_ref;
  void *hash;
  uint8_t *data;
  size_t length;
  off_t position;
  int fd;
  int err;
  size_t done;
  uint32_t crc;
} read_job;

static void read_execute(napi_env env, void *data) {
  (void)env;
  read_job *job = data;
  while (job->done < job->length) {
    ssize_t n = pread(job->fd, job->data + job->done, job->length - job->done, job->position + (off_t)job->done);
    if (n < 0) {
      if (errno == EINTR) continue;
      job->err = errno;
      break;
    }
    if (n == 0) break;
    job->done += (size_t)n;
  }
  close(job->fd);
  if (job->err != 0) return;
  job->crc = crc32_of(0, job->data, job->done);
  if (job->hash != NULL) xxh3_state_update(job->hash, job->data, job->done);
}

static void free_job(napi_env env, read_job *job) {
  if (job->buffer_ref != NULL) napi_delete_reference(env, job->buffer_ref);
  if (job->hash_ref != NULL) napi_delete_reference(env, job->hash_ref);
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  free(job);
}

static void read_complete(napi_env env, napi_status status, void *data) {
  read_job *job = data;
  /* Cancelled before it ran: the copy of the descriptor was never closed by read_execute. */
  if (status == napi_cancelled) close(job->fd);
  napi_value result = NULL, bytes, crc;
  if (status == napi_ok && job->err == 0 &&
      napi_create_object(env, &result) == napi_ok &&
      napi_create_double(env, (double)job->done, &bytes) == napi_ok &&
      napi_create_uint32(env, job->crc, &crc) == napi_ok &&
      napi_set_named_property(env, result, "bytesRead", bytes) == napi_ok &&
      napi_set_named_property(env, result, "crc", crc) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    int err = status != napi_ok ? ECANCELED : job->err != 0 ? job->err : ENOMEM;
    napi_value error = errno_error(env, err, "read");
    if (error == NULL) napi_get_undefined(env, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  free_job(env, job);
}

napi_value fs_read_chunk(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int fd;
  uint32_t offset, length;
  double position;
  if (!get_args(env, info, 6, argv) || !arg_fd(env, argv[0], "read", &fd) ||
      !arg_uint(env, argv[2], "read", &offset) || !arg_uint(env, argv[3], "read", &length) ||
      !arg_double(env, argv[4], "read", &position))
    return NULL;
  /* Whole, non-negative and exactly representable: pread takes an off_t. */
  if (!(position >= 0 && position <= 9007199254740991.0) || position != floor(position))
    return throw_errno(env, EINVAL, "read");
  uint8_t *base;
  size_t size;
  if (!arg_bytes(env, argv[1], "read", &base, &size)) return NULL;
  if ((size_t)offset > size || (size_t)length > size - offset) return throw_errno(env, EINVAL, "read");
  napi_valuetype kind;
  if (napi_typeof(env, argv[5], &kind) != napi_ok) return NULL;
  void *hash = NULL;
  if (kind != napi_null && kind != napi_undefined) {
    hash = xxh3_state_arg(env, argv[5], "read");
    if (hash == NULL) return NULL;
  }
  read_job *job = calloc(1, sizeof *job);
  if (job == NULL) return throw_errno(env, ENOMEM, "read");
  job->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (job->fd < 0) {
    int err = errno;
    free(job);
    return throw_errno(env, err, "read");
  }
  job->data = base + offset;
  job->length = length;
  job->position = (off_t)position;
  job->hash = hash;
  napi_value promise;
  if (napi_create_reference(env, argv[1], 1, &job->buffer_ref) != napi_ok ||
      (hash != NULL && napi_create_reference(env, argv[5], 1, &job->hash_ref) != napi_ok)) {
    close(job->fd);
    free_job(env, job);
    return throw_errno(env, ENOMEM, "read");
  }
  if (!queue_promise_work(env, "read", read_execute, read_complete, job, &job->work, &job->deferred, &promise)) {
    close(job->fd);
    free_job(env, job);
    return NULL;
  }
  return promise;
}
