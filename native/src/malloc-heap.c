/*
 * glibc's malloc heap. Node allocates most of what is outside V8's heap through malloc: OpenSSL's
 * records, TLS and socket read buffers, Buffers below the mmap threshold, libuv's requests. glibc
 * gives a heap's free pages back only from its top (and only in the main arena); a freed hole in
 * the middle, or in a thread's arena, stays resident. After a transfer, the agents' arenas held
 * tens of MB of such free pages (bench case e, destination: arenas of 35, 20 and 12 MB), which
 * nothing but malloc_trim(0) returns: it walks every arena and hands back each free page.
 */
#include "malloc-heap.h"

#ifdef __GLIBC__
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

/* glibc raises its mmap threshold each time an mmapped block is freed (up to 32 MiB), so after
 * the first few 4 MiB chunk buffers are let go, later ones come from the heap, whose freed
 * middle is never given back: an agent's RSS climbed with every transfer (bench case d, the
 * source agent: 180, 201, 202 MB over three; 174, 176, 176 with the threshold fixed). A fixed
 * threshold keeps large buffers mmapped and returned on free. Left alone when the
 * administrator set MALLOC_MMAP_THRESHOLD_. */
static void tune(void) {
  if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL) mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}
static pthread_once_t tuned = PTHREAD_ONCE_INIT;

void malloc_heap_tune_once(void) { pthread_once(&tuned, tune); }
#else
void malloc_heap_tune_once(void) {}
#endif

napi_value malloc_heap_trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value result;
  if (napi_get_boolean(env, released != 0, &result) != napi_ok) return NULL;
  return result;
}
