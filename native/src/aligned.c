/*
 * Page-aligned buffers for O_DIRECT, which needs the buffer's address (with the file offset
 * and the length) to be a multiple of the device's block size. Node cannot ask for aligned
 * memory; its twin (src/transfer/util/aligned-buffers.ts) borrows a WebAssembly.Memory, which
 * costs 10 GiB of reserved address space per buffer. Here each buffer is an anonymous mmap,
 * handed to V8 as an external ArrayBuffer whose finalizer unmaps it.
 *
 * Why mmap and not posix_memalign + memset: the kernel hands out zero pages lazily, so a 4 MiB
 * frame buffer that receives a 1 MiB batch costs 1 MiB of RSS, not 4 (the memset touched every
 * page: 50 small-file tasks at once held about 240 MB of mostly empty frame buffers), and the
 * pages go back to the system the moment the buffer is collected instead of staying in
 * malloc's heap.
 */
#include "aligned.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "args.h"

/* Every direct I/O address is a multiple of this (DIRECT_IO_ALIGN in TypeScript); mmap gives whole pages. */
#define ALIGN 4096
/* The largest buffer asked for: ArrayBuffers stay below 2^31 bytes on every Node we run on. */
#define MAX_SIZE 0x7ffff000u

static void unmap_aligned(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

napi_value mem_alloc_aligned(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint32_t size;
  if (!get_args(env, info, 1, argv) || !arg_uint(env, argv[0], "allocAligned", &size)) return NULL;
  if (size > MAX_SIZE) return throw_errno(env, EINVAL, "allocAligned");
  /* Whole pages, at least one: a direct read rounded up to a block never runs past the end. */
  size_t bytes = size == 0 ? ALIGN : ((size_t)size + ALIGN - 1) / ALIGN * ALIGN;
  /* Zero-filled by the kernel, like the twin's WebAssembly memory: both give the same contents. */
  void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return throw_errno(env, errno, "allocAligned");
  napi_value out;
  napi_status status = napi_create_external_arraybuffer(env, mem, size, unmap_aligned, (void *)(uintptr_t)bytes, &out);
  if (status != napi_ok) {
    munmap(mem, bytes);
    /* Runtimes that forbid external buffers (a V8 sandbox) say so; the twin takes over. */
    return throw_errno(env, status == napi_no_external_buffers_allowed ? ENOTSUP : ENOMEM, "allocAligned");
  }
  return out;
}
