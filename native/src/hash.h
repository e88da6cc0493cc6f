/* Fast hashes: XXH3-128, the `xxh128` whole-file checksum. */
#ifndef FERRY_NATIVE_HASH_H
#define FERRY_NATIVE_HASH_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* XXH3-128: xxh3Create() -> handle; xxh3Update(handle, bytes); xxh3Digest(handle) -> Buffer(16),
 * the canonical (big-endian) form, whose hex is what hash-wasm's xxhash128 prints. */
napi_value hash_xxh3_create(napi_env env, napi_callback_info info);
napi_value hash_xxh3_update(napi_env env, napi_callback_info info);
napi_value hash_xxh3_digest(napi_env env, napi_callback_info info);

/* For entry points that feed an XXH3-128 handle off the main thread (read-chunk.c): its state,
 * or NULL with EINVAL thrown for anything else; and an update of that state. */
void *xxh3_state_arg(napi_env env, napi_value handle, const char *what);
void xxh3_state_update(void *state, const uint8_t *data, size_t len);

#endif
