/* The descriptor-relative calls exported to JavaScript (see src/fs/raw.ts for the contract). */
#ifndef FERRY_NATIVE_FSOPS_H
#define FERRY_NATIVE_FSOPS_H

#include <node_api.h>

napi_value fs_openat(napi_env env, napi_callback_info info);
napi_value fs_open_root(napi_env env, napi_callback_info info);
napi_value fs_statat(napi_env env, napi_callback_info info);
napi_value fs_statat_if_any(napi_env env, napi_callback_info info);
napi_value fs_fstat(napi_env env, napi_callback_info info);
napi_value fs_mkdirat(napi_env env, napi_callback_info info);
napi_value fs_unlinkat(napi_env env, napi_callback_info info);
napi_value fs_renameat(napi_env env, napi_callback_info info);
napi_value fs_linkat(napi_env env, napi_callback_info info);
napi_value fs_symlinkat(napi_env env, napi_callback_info info);
napi_value fs_readlinkat(napi_env env, napi_callback_info info);
napi_value fs_fchmod(napi_env env, napi_callback_info info);
napi_value fs_futimens(napi_env env, napi_callback_info info);
napi_value fs_syncfs(napi_env env, napi_callback_info info);
napi_value fs_close(napi_env env, napi_callback_info info);

#endif
