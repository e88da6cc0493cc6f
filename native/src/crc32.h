/* CRC-32 (zlib's) of a byte array, folded with PCLMULQDQ where the CPU has it. */
#ifndef FERRY_NATIVE_CRC32_H
#define FERRY_NATIVE_CRC32_H

#include <node_api.h>

napi_value crc32_compute(napi_env env, napi_callback_info info);
napi_value crc32_accelerated(napi_env env, napi_callback_info info);

#endif
