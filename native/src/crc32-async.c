/*
 * crc32Async(data: Uint8Array) -> Promise<uint32>: the chunk CRC-32 (crc32.c) of a whole buffer,
 * computed on libuv's thread pool. The destination checks every received chunk before writing
 * it, on the main thread that also decrypts every TLS record of every data stream: the check
 * cost it ~0.2 s per 2 GiB there (src/transfer/checksum/chunk-crc.ts crc32Off). The buffer is
 * held (a reference) until the promise settles; the caller must neither change nor detach it
 * meanwhile (the receiver's frame buffers are neither).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "args.h"
#include "crc32.h"
#include "crc32-async.h"

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer_ref;
  const uint8_t *data;
  size_t length;
  uint32_t crc;
} crc_job;

static void crc_execute(napi_env env, void *data) {
  (void)env;
  crc_job *job = data;
  job->crc = crc32_of(0, job->data, job->length);
}

static void free_job(napi_env env, crc_job *job) {
  if (job->buffer_ref != NULL) napi_delete_reference(env, job->buffer_ref);
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  free(job);
}

static void crc_complete(napi_env env, napi_status status, void *data) {
  crc_job *job = data;
  napi_value result;
  if (status == napi_ok && napi_create_uint32(env, job->crc, &result) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value error = errno_error(env, status == napi_ok ? ENOMEM : ECANCELED, "crc32");
    if (error == NULL) napi_get_undefined(env, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  free_job(env, job);
}

napi_value crc32_async(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  uint8_t *base;
  size_t length;
  if (!arg_bytes(env, argv[0], "crc32", &base, &length)) return NULL;
  crc_job *job = calloc(1, sizeof *job);
  if (job == NULL) return throw_errno(env, ENOMEM, "crc32");
  job->data = base;
  job->length = length;
  napi_value promise;
  if (napi_create_reference(env, argv[0], 1, &job->buffer_ref) != napi_ok) {
    free_job(env, job);
    return throw_errno(env, ENOMEM, "crc32");
  }
  if (!queue_promise_work(env, "crc32", crc_execute, crc_complete, job, &job->work, &job->deferred, &promise)) {
    free_job(env, job);
    return NULL;
  }
  return promise;
}
