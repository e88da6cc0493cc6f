/* glibc's malloc heap: the tuning the agent runs with, and giving its free pages back. */
#ifndef FERRY_NATIVE_MALLOC_HEAP_H
#define FERRY_NATIVE_MALLOC_HEAP_H

#include <node_api.h>

/* Once per process, whichever thread loads the addon first. */
void malloc_heap_tune_once(void);

/* mallocTrim() -> boolean: malloc_trim(0), true if any memory went back to the system; false
 * (and nothing done) where the C library is not glibc. */
napi_value malloc_heap_trim(napi_env env, napi_callback_info info);

#endif
