/* Page-aligned memory for direct I/O (O_DIRECT). */
#ifndef FERRY_NATIVE_ALIGNED_H
#define FERRY_NATIVE_ALIGNED_H

#include <node_api.h>

/* allocAligned(size) -> ArrayBuffer of `size` zero bytes starting on a 4096-byte boundary,
 * freed when the ArrayBuffer is collected. */
napi_value mem_alloc_aligned(napi_env env, napi_callback_info info);

#endif
