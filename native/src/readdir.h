/* Listing a directory held by a descriptor. */
#ifndef FERRY_NATIVE_READDIR_H
#define FERRY_NATIVE_READDIR_H

#include <node_api.h>

napi_value fs_readdir(napi_env env, napi_callback_info info);

#endif
