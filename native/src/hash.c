/*
 * Streaming XXH3-128 for the TypeScript side (src/transfer/checksum/fast-hash-native.ts).
 *
 * A handle is an external holding the hash state, freed by its finalizer when the handle is
 * collected; nothing is kept between calls but the handle, so any number of worker threads can
 * hash at once. A handle carries a type tag, so any other external (or any other value) given
 * where an XXH3 handle is expected is refused instead of misread.
 *
 * xxh3Update hashes on the calling thread: callers already choose where hashing runs (worker
 * threads for big files), and a chunk-sized update is shorter than a hop to libuv's pool. The
 * one exception is read-chunk.c, which feeds a handle's state on the pool thread that has just
 * read the bytes (xxh3_state_arg / xxh3_state_update below).
 */
#include "hash.h"

#include <errno.h>

#include "args.h"

/* Header-only build of XXH3: every function static in this file, no symbols exported. */
#define XXH_INLINE_ALL
#include "xxhash.h"

static const napi_type_tag XXH3_TAG = {0x3f6a2c9d1b7e4d82ULL, 0xa41c5e8b7d2f6093ULL};

static void free_xxh3(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  XXH3_freeState(data);
}

/* Wrap `state` in a tagged external; on failure the state is freed here. */
static napi_value make_handle(napi_env env, void *state, napi_finalize fin, const napi_type_tag *tag) {
  napi_value out;
  if (napi_create_external(env, state, fin, NULL, &out) != napi_ok) {
    fin(env, state, NULL);
    return NULL;
  }
  /* From here the finalizer owns the state, whatever happens next. */
  if (napi_type_tag_object(env, out, tag) != napi_ok) return NULL;
  return out;
}

static void *get_handle(napi_env env, napi_value v, const napi_type_tag *tag, const char *what) {
  napi_valuetype kind;
  bool tagged = false;
  void *state = NULL;
  /* The type first: checking a tag on null or a primitive would throw a TypeError of its own. */
  if (napi_typeof(env, v, &kind) != napi_ok || kind != napi_external ||
      napi_check_object_type_tag(env, v, tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &state) != napi_ok || state == NULL) {
    throw_errno(env, EINVAL, what);
    return NULL;
  }
  return state;
}

static napi_value make_bytes(napi_env env, const uint8_t *data, size_t len) {
  napi_value out;
  if (napi_create_buffer_copy(env, len, data, NULL, &out) != napi_ok) return NULL;
  return out;
}

/*
 * The arguments of every update(handle, bytes): the handle's state (of the kind `tag` names)
 * and the bytes; NULL, with the exception pending, when either is wrong.
 */
static void *update_args(napi_env env, napi_callback_info info, const napi_type_tag *tag, const char *what,
                         uint8_t **data, size_t *len) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  void *state = get_handle(env, argv[0], tag, what);
  if (state == NULL || !arg_bytes(env, argv[1], what, data, len)) return NULL;
  return state;
}

napi_value hash_xxh3_create(napi_env env, napi_callback_info info) {
  (void)info;
  XXH3_state_t *s = XXH3_createState();
  if (s == NULL) return throw_errno(env, ENOMEM, "xxh3");
  XXH3_128bits_reset(s);
  return make_handle(env, s, free_xxh3, &XXH3_TAG);
}

napi_value hash_xxh3_update(napi_env env, napi_callback_info info) {
  uint8_t *data;
  size_t len;
  XXH3_state_t *s = update_args(env, info, &XXH3_TAG, "xxh3", &data, &len);
  if (s == NULL) return NULL;
  if (XXH3_128bits_update(s, data, len) != XXH_OK) return throw_errno(env, EINVAL, "xxh3");
  return make_undefined(env);
}

napi_value hash_xxh3_digest(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  XXH3_state_t *s = get_handle(env, argv[0], &XXH3_TAG, "xxh3");
  if (s == NULL) return NULL;
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(s));
  return make_bytes(env, canon.digest, sizeof canon.digest);
}

void *xxh3_state_arg(napi_env env, napi_value handle, const char *what) {
  return get_handle(env, handle, &XXH3_TAG, what);
}

void xxh3_state_update(void *state, const uint8_t *data, size_t len) {
  /* XXH3_128bits_update fails only for a NULL state (never here). */
  (void)XXH3_128bits_update(state, data, len);
}
