/*
 * ferry_native: the descriptor-relative file calls Node lacks (openat and friends), the TCP
 * socket options it lacks (TCP_CONGESTION, TCP_INFO), fast hashes (XXH3-128, CRC-32), page-aligned
 * memory for direct I/O, and the malloc heap's tuning and trimming.
 *
 * Registered with NAPI_MODULE_INIT, so the module is context-aware: each worker thread that
 * loads it gets its own exports. The only process-wide state is set once (pthread_once), by
 * whichever thread gets there first, to the same value for all: CRC-32's table and whether the
 * CPU can fold it (crc32.c), and the malloc heap's tuning (malloc-heap.c).
 */
#include <node_api.h>

#include "aligned.h"
#include "crc32.h"
#include "crc32-async.h"
#include "fsops.h"
#include "hash.h"
#include "malloc-heap.h"
#include "read-chunk.h"
#include "readdir.h"
#include "sockopt.h"
#include "syncfs-async.h"
#include "tcpinfo.h"

/* Bumped whenever an export's arguments or results change; src/fs/raw-native.ts refuses an
 * addon whose number differs from the one it was written for (a stale build). */
#define FERRY_NATIVE_ABI 11

typedef struct {
  const char *name;
  napi_callback fn;
} export_t;

static const export_t exports_table[] = {
  {"openat", fs_openat},     {"openRoot", fs_open_root},   {"statat", fs_statat},
  {"fstat", fs_fstat},       {"mkdirat", fs_mkdirat},      {"unlinkat", fs_unlinkat},
  {"renameat", fs_renameat}, {"linkat", fs_linkat},        {"symlinkat", fs_symlinkat},
  {"readlinkat", fs_readlinkat}, {"readdir", fs_readdir},  {"fchmod", fs_fchmod},
  {"futimens", fs_futimens}, {"syncfs", fs_syncfs},        {"close", fs_close},
  {"tcpCongestion", sock_get_congestion}, {"setTcpCongestion", sock_set_congestion},
  {"tcpInfo", sock_tcp_info},           {"statatIfAny", fs_statat_if_any},
  {"syncfsAsync", fs_syncfs_async},
  {"xxh3Create", hash_xxh3_create},     {"xxh3Update", hash_xxh3_update},
  {"xxh3Digest", hash_xxh3_digest},     {"allocAligned", mem_alloc_aligned},
  {"crc32", crc32_compute},             {"crc32Accelerated", crc32_accelerated},
  {"crc32Async", crc32_async},
  {"mallocTrim", malloc_heap_trim},    {"readChunk", fs_read_chunk},
};

NAPI_MODULE_INIT() {
  malloc_heap_tune_once();
  for (size_t i = 0; i < sizeof exports_table / sizeof exports_table[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, exports_table[i].name, NAPI_AUTO_LENGTH, exports_table[i].fn, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, exports_table[i].name, fn) != napi_ok)
      return NULL;
  }
  napi_value abi;
  if (napi_create_int32(env, FERRY_NATIVE_ABI, &abi) != napi_ok ||
      napi_set_named_property(env, exports, "abiVersion", abi) != napi_ok)
    return NULL;
  return exports;
}
