/*
 * Page-aligned buffers for O_DIRECT, which needs the buffer's address (with the file offset
 * and the length) to be a multiple of the device's block size. Node cannot ask for aligned
 * memory; its twin (src/transfer/util/aligned-buffers.ts) borrows a WebAssembly.Memory, which
 * costs 10 GiB of reserved address space per buffer. Here it is posix_memalign, handed to V8
 * as an external ArrayBuffer whose finalizer frees it.
 */
#include "aligned.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

/* Every direct I/O address is a multiple of this (DIRECT_IO_ALIGN in TypeScript). */
#define ALIGN 4096
/* The largest buffer asked for: ArrayBuffers stay below 2^31 bytes on every Node we run on. */
#define MAX_SIZE 0x7ffff000u

static void free_aligned(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

napi_value mem_alloc_aligned(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint32_t size;
  if (!get_args(env, info, 1, argv) || !arg_uint(env, argv[0], "allocAligned", &size)) return NULL;
  if (size > MAX_SIZE) return throw_errno(env, EINVAL, "allocAligned");
  /* Whole pages, at least one: a direct read rounded up to a block never runs past the end. */
  size_t bytes = size == 0 ? ALIGN : ((size_t)size + ALIGN - 1) / ALIGN * ALIGN;
  void *mem = NULL;
  int err = posix_memalign(&mem, ALIGN, bytes);
  if (err != 0) return throw_errno(env, err, "allocAligned");
  /* Zeroed like the twin's WebAssembly memory, so both give the same contents. */
  memset(mem, 0, bytes);
  napi_value out;
  napi_status status = napi_create_external_arraybuffer(env, mem, size, free_aligned, NULL, &out);
  if (status != napi_ok) {
    free(mem);
    /* Runtimes that forbid external buffers (a V8 sandbox) say so; the twin takes over. */
    return throw_errno(env, status == napi_no_external_buffers_allowed ? ENOTSUP : ENOMEM, "allocAligned");
  }
  return out;
}
