/* Argument decoding and errno errors shared by the ferry_native entry points. */
#ifndef FERRY_NATIVE_ARGS_H
#define FERRY_NATIVE_ARGS_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* NAME_MAX bytes plus the terminating NUL. */
#define FERRY_NAME_BUF 256

/* Every entry point takes at most this many arguments. */
#define FERRY_MAX_ARGS 6

/* Throw an Error carrying `errno` (negative, as Node reports it) and `syscall`; the
 * TypeScript wrapper turns it into a RawFsError. Returns NULL for `return throw_errno(...)`. */
napi_value throw_errno(napi_env env, int err, const char *syscall);

/* The same Error, built but not thrown (a promise rejects with it); NULL if it could not be built. */
napi_value errno_error(napi_env env, int err, const char *syscall);

/* Fetch exactly `n` arguments into argv; throws a TypeError and returns false otherwise. */
bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv);

/* Each decoder throws (EINVAL for bad values, naming `syscall`) and returns false on failure. */
bool arg_fd(napi_env env, napi_value v, const char *syscall, int *out);
bool arg_uint(napi_env env, napi_value v, const char *syscall, uint32_t *out);
bool arg_bool(napi_env env, napi_value v, const char *syscall, bool *out);
bool arg_double(napi_env env, napi_value v, const char *syscall, double *out);

/* The bytes of a Uint8Array (a Buffer is one), without copying. */
bool arg_bytes(napi_env env, napi_value v, const char *syscall, uint8_t **data, size_t *len);

/* A single path component: non-empty, at most 255 bytes, no '/', no NUL, not "." or "..".
 * The wrapper checks the same rule first; this is the addon refusing to be misused alone. */
bool arg_name(napi_env env, napi_value v, const char *syscall, char out[FERRY_NAME_BUF]);

/* A whole string without NUL bytes, malloc'd; the caller frees it. NULL after throwing. */
char *arg_string(napi_env env, napi_value v, const char *syscall);

/* Run `execute` on libuv's thread pool, then `complete` on the calling thread, for `job` (whose
 * own fields `work` and `deferred` receive the handles), and make the promise the entry point
 * returns (`complete` settles it). On failure: false with an exception pending, nothing queued,
 * `*work` NULL and the promise, if made, rejected; the caller frees its job. */
bool queue_promise_work(napi_env env, const char *syscall, napi_async_execute_callback execute,
                        napi_async_complete_callback complete, void *job, napi_async_work *work,
                        napi_deferred *deferred, napi_value *promise);

napi_value make_undefined(napi_env env);
napi_value make_int(napi_env env, int32_t value);

#endif
