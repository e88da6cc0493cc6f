/* TCP socket options Node offers no call for. */
#ifndef FERRY_NATIVE_SOCKOPT_H
#define FERRY_NATIVE_SOCKOPT_H

#include <node_api.h>

napi_value sock_get_congestion(napi_env env, napi_callback_info info);
napi_value sock_set_congestion(napi_env env, napi_callback_info info);

#endif
