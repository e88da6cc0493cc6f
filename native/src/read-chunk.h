/* One chunk of a file read on libuv's thread pool, with its CRC-32 and the file's XXH3-128. */
#ifndef FERRY_NATIVE_READ_CHUNK_H
#define FERRY_NATIVE_READ_CHUNK_H

#include <node_api.h>

/* readChunk(fd, buffer: Uint8Array, offset, length, position, xxh3Handle | null)
 *   -> Promise<{ bytesRead, crc }> */
napi_value fs_read_chunk(napi_env env, napi_callback_info info);

#endif
