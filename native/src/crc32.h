/* CRC-32 (zlib's) of a byte array, folded with PCLMULQDQ where the CPU has it. */
#ifndef FERRY_NATIVE_CRC32_H
#define FERRY_NATIVE_CRC32_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

napi_value crc32_compute(napi_env env, napi_callback_info info);
napi_value crc32_accelerated(napi_env env, napi_callback_info info);

/* The same CRC for other entry points (any thread): zlib's crc32(previous, data). */
uint32_t crc32_of(uint32_t previous, const uint8_t *p, size_t len);

#endif
