/* The chunk CRC-32 of a whole buffer on libuv's thread pool. */
#ifndef FERRY_NATIVE_CRC32_ASYNC_H
#define FERRY_NATIVE_CRC32_ASYNC_H

#include <node_api.h>

/* crc32Async(data: Uint8Array) -> Promise<uint32> */
napi_value crc32_async(napi_env env, napi_callback_info info);

#endif
