/* vppinfra/clib.h (mock): the basic types and helpers of VPP's vppinfra that
   the vpp-shim sources use, with VPP's names and meanings. Test-only. */

#ifndef included_mock_clib_h
#define included_mock_clib_h

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t i8;
typedef int16_t i16;
typedef int32_t i32;
typedef int64_t i64;
typedef uint64_t uword;
typedef int64_t word;
typedef double f64;
typedef float f32;
typedef u16 clib_thread_index_t;

#define always_inline	     static inline __attribute__ ((__always_inline__))
#define static_always_inline static inline __attribute__ ((__always_inline__))
#define __clib_packed	     __attribute__ ((packed))
#define __clib_unused	     __attribute__ ((unused))
#define PREDICT_TRUE(x)	     __builtin_expect (!!(x), 1)
#define PREDICT_FALSE(x)     __builtin_expect (!!(x), 0)

#define CLIB_CACHE_LINE_BYTES 64
#define CLIB_U16_MAX	      0xffff
#define BITS(x)		      (8 * sizeof (x))

#define clib_max(x, y)                                                         \
  ({                                                                           \
    __typeof__ (x) _x = (x);                                                   \
    __typeof__ (y) _y = (y);                                                   \
    _x > _y ? _x : _y;                                                         \
  })
#define clib_min(x, y)                                                         \
  ({                                                                           \
    __typeof__ (x) _x = (x);                                                   \
    __typeof__ (y) _y = (y);                                                   \
    _x < _y ? _x : _y;                                                         \
  })
#define clib_clamp(x, lo, hi) clib_min (clib_max ((x), (lo)), (hi))

/* VPP's ASSERT is live in debug builds: here always, and fatal. */
void mock_assert_fail (const char *expr, const char *file, int line)
  __attribute__ ((noreturn));
#define ASSERT(x)                                                              \
  do                                                                           \
    {                                                                          \
      if (!(x))                                                                \
	mock_assert_fail (#x, __FILE__, __LINE__);                             \
    }                                                                          \
  while (0)

/* Index of the lowest set bit count, floor and ceiling of log2. */
always_inline uword
min_log2 (uword x)
{
  return x ? 63 - __builtin_clzll (x) : 0;
}

always_inline uword
max_log2 (uword x)
{
  uword l = min_log2 (x);
  return x > ((uword) 1 << l) ? l + 1 : l;
}

always_inline uword
count_set_bits (uword x)
{
  return __builtin_popcountll (x);
}

always_inline uword
pow2_mask (uword n)
{
  return n >= 64 ? ~(uword) 0 : ((uword) 1 << n) - 1;
}

always_inline uword
round_pow2 (uword x, uword pow2)
{
  return (x + pow2 - 1) & ~(pow2 - 1);
}

#define clib_memset(p, v, n)	  memset ((p), (v), (n))
#define clib_memset_u8(p, v, n)	  memset ((p), (v), (n))
#define clib_memcpy_fast(d, s, n) memcpy ((d), (s), (n))
#define clib_memcpy(d, s, n)	  memcpy ((d), (s), (n))

#define clib_host_to_net_u16(x) __builtin_bswap16 (x)
#define clib_host_to_net_u32(x) __builtin_bswap32 (x)
#define clib_net_to_host_u16(x) __builtin_bswap16 (x)
#define clib_net_to_host_u32(x) __builtin_bswap32 (x)

#endif /* included_mock_clib_h */
