/* syncfs(2) off the calling thread. */
#ifndef FERRY_NATIVE_SYNCFS_ASYNC_H
#define FERRY_NATIVE_SYNCFS_ASYNC_H

#include <node_api.h>

napi_value fs_syncfs_async(napi_env env, napi_callback_info info);

#endif
