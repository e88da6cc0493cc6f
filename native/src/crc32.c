/*
 * CRC-32 (the zlib/IEEE polynomial, reflected) of the data chunks, as zlib.crc32 computes it.
 *
 * Why not zlib.crc32: it runs at 2-4 GB/s here, and every chunk is summed twice (the source
 * before sending, the destination before writing): profiled, about 1 CPU-s of the mixed-tree
 * case's 6.4. With carry-less multiplication (PCLMULQDQ, every x86-64 CPU since 2010) 64 bytes
 * are folded per step at well over 10 GB/s. The method is the one Intel published ("Fast CRC
 * Computation for Generic Polynomials Using PCLMULQDQ Instruction", 2009): fold four 128-bit
 * lanes across the buffer, fold them into one, reduce 128 bits to 64, then to 32 by Barrett
 * reduction. Constants are x^n mod P(x) for that polynomial, bit-reflected.
 *
 * Elsewhere (no PCLMULQDQ, or another architecture) and for the bytes around the folded part, a
 * byte-wise table: correct everywhere, fast nowhere; the TypeScript side then keeps zlib.crc32
 * (crc32Accelerated tells it which).
 */
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>

#include "args.h"
#include "crc32.h"

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
}

/* Raw (not pre- or post-inverted) CRC of `len` bytes, one byte at a time. */
static uint32_t crc_bytes(uint32_t crc, const uint8_t *p, size_t len) {
  while (len--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FERRY_CRC_PCLMUL 1

__attribute__((target("pclmul,sse4.1")))
static __m128i fold(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* Raw CRC of `len` bytes, len >= 64 and a multiple of 16. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t crc_pclmul(uint32_t crc, const uint8_t *p, size_t len) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL);
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL);
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124LL);
  const __m128i poly_mu = _mm_set_epi64x(0x01f7011641LL, 0x01db710641LL);
  const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);

  __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)crc));
  __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
  p += 64;
  len -= 64;
  while (len >= 64) {
    x0 = _mm_xor_si128(fold(x0, k1k2), _mm_loadu_si128((const __m128i *)p));
    x1 = _mm_xor_si128(fold(x1, k1k2), _mm_loadu_si128((const __m128i *)(p + 16)));
    x2 = _mm_xor_si128(fold(x2, k1k2), _mm_loadu_si128((const __m128i *)(p + 32)));
    x3 = _mm_xor_si128(fold(x3, k1k2), _mm_loadu_si128((const __m128i *)(p + 48)));
    p += 64;
    len -= 64;
  }
  /* Four lanes into one. */
  x0 = _mm_xor_si128(fold(x0, k3k4), x1);
  x0 = _mm_xor_si128(fold(x0, k3k4), x2);
  x0 = _mm_xor_si128(fold(x0, k3k4), x3);
  while (len >= 16) {
    x0 = _mm_xor_si128(fold(x0, k3k4), _mm_loadu_si128((const __m128i *)p));
    p += 16;
    len -= 16;
  }
  /* 128 bits to 64. */
  __m128i t = _mm_xor_si128(_mm_clmulepi64_si128(x0, k3k4, 0x10), _mm_srli_si128(x0, 8));
  /* 64 to 32... */
  t = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(t, mask32), k5, 0x00), _mm_srli_si128(t, 4));
  /* ...and Barrett reduction to the remainder. */
  __m128i q = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), poly_mu, 0x10);
  q = _mm_clmulepi64_si128(_mm_and_si128(q, mask32), poly_mu, 0x00);
  return (uint32_t)_mm_extract_epi32(_mm_xor_si128(q, t), 1);
}

static bool have_pclmul(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#else
#define FERRY_CRC_PCLMUL 0
static bool have_pclmul(void) { return false; }
#endif

static bool accelerated;
static void init(void) {
  make_table();
  accelerated = have_pclmul();
}

/* zlib's crc32(previous, data): the running value is kept inverted between calls. */
static uint32_t crc32_update(uint32_t previous, const uint8_t *p, size_t len) {
  uint32_t crc = ~previous;
#if FERRY_CRC_PCLMUL
  if (accelerated && len >= 64) {
    size_t folded = len & ~(size_t)15;
    crc = crc_pclmul(crc, p, folded);
    p += folded;
    len -= folded;
  }
#endif
  return ~crc_bytes(crc, p, len);
}

uint32_t crc32_of(uint32_t previous, const uint8_t *p, size_t len) {
  pthread_once(&table_once, init);
  return crc32_update(previous, p, len);
}

/* crc32(data: Uint8Array, previous: uint32) -> uint32 */
napi_value crc32_compute(napi_env env, napi_callback_info info) {
  pthread_once(&table_once, init);
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  uint8_t *data;
  size_t length;
  if (!arg_bytes(env, argv[0], "crc32", &data, &length)) return NULL;
  uint32_t previous;
  if (!arg_uint(env, argv[1], "crc32", &previous)) return NULL;
  napi_value out;
  if (napi_create_uint32(env, crc32_update(previous, data, length), &out) != napi_ok) return NULL;
  return out;
}

/* crc32Accelerated() -> boolean: whether the folded (PCLMULQDQ) path runs on this CPU. */
napi_value crc32_accelerated(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_once(&table_once, init);
  napi_value out;
  if (napi_get_boolean(env, accelerated, &out) != napi_ok) return NULL;
  return out;
}
