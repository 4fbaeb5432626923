/* vppinfra/pool.h (mock): VPP pools, vectors with pool_header_t as their
   user header. Only what reads a pool. Test-only. */

#ifndef included_mock_pool_h
#define included_mock_pool_h

#include <vppinfra/vec.h>

typedef struct
{
  uword *free_bitmap; /* a bitmap (vector of uwords) of free indices */
  u32 *free_indices;  /* vector of free indices */
  u32 max_elts;	      /* for fixed-size pools */
} pool_header_t;

#define pool_header(v) ((pool_header_t *) vec_header (v))

always_inline int
_pool_is_free_index (void *v, uword i)
{
  uword *bm;

  if (i >= vec_len (v))
    return 1;
  bm = pool_header (v)->free_bitmap;
  return i / 64 < vec_len (bm) && ((bm[i / 64] >> (i % 64)) & 1);
}

#define pool_is_free_index(P, I) _pool_is_free_index ((void *) (P), (I))

#define pool_elt_at_index(P, I)                                                \
  ({                                                                           \
    __typeof__ (P) _pe = (P) + (I);                                            \
    ASSERT (!pool_is_free_index (P, I));                                       \
    _pe;                                                                       \
  })

#endif /* included_mock_pool_h */
