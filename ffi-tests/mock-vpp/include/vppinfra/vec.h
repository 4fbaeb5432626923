/* vppinfra/vec.h (mock): VPP vectors with VPP's memory layout. The element
   data is preceded by vec_header_t and, before that, an optional user header;
   hdr_size holds the bytes from the start of the allocation to the data,
   divided by VEC_MIN_ALIGN. Memory comes from the mock heap (mock_vpp.c),
   which knows each allocation's size (VPP's clib_mem_size) and counts what
   is live. Written from VPP's documented semantics; test-only. */

#ifndef included_mock_vec_h
#define included_mock_vec_h

#include <vppinfra/clib.h>

typedef struct
{
  u32 len;	       /* elements in use */
  u8 hdr_size;	       /* bytes before the data / VEC_MIN_ALIGN */
  u8 log2_align : 7;   /* data alignment */
  u8 default_heap : 1; /* from the default heap */
  u8 grow_elts;	       /* elements that fit without reallocating */
  u8 vpad[1];
  u8 vector_data[0];
} vec_header_t;

#define VEC_MIN_ALIGN 8

typedef struct
{
  void *heap;
  u32 elt_sz;
  u16 hdr_sz;
  u16 align;
} vec_attr_t;

/* The mock heap: every allocation is zeroed; sizes are remembered. */
void *mock_mem_alloc (uword size, uword align);
void mock_mem_free (void *p);
uword mock_mem_size (void *p);

void *_vec_alloc_internal (uword n_elts, const vec_attr_t *const attr);
void *_vec_realloc_internal (void *v, uword n_elts,
			     const vec_attr_t *const attr);
void *_vec_resize_internal (void *v, uword n_elts,
			    const vec_attr_t *const attr);

#define _vec_find(v) ((vec_header_t *) (v) -1)

always_inline uword
vec_get_header_size (void *v)
{
  return (uword) _vec_find (v)->hdr_size * VEC_MIN_ALIGN;
}

always_inline void *
vec_header (void *v)
{
  return v ? (u8 *) v - vec_get_header_size (v) : 0;
}

always_inline uword
vec_get_align (void *v)
{
  return (uword) 1 << _vec_find (v)->log2_align;
}

#define _vec_len(v)    (_vec_find (v)->len)
#define vec_len(v)     ((v) ? _vec_len (v) : 0)
#define _vec_elt_sz(v) sizeof ((v)[0])
#define _vec_align(v, a)                                                       \
  clib_max ((uword) VEC_MIN_ALIGN,                                             \
	    clib_max ((uword) __alignof__((v)[0]), (uword) (a)))

/* Elements the allocation has room for. */
always_inline uword
_vec_max_len (void *v, uword elt_sz)
{
  return v ?
	   (mock_mem_size (vec_header (v)) - vec_get_header_size (v)) / elt_sz :
	   0;
}

always_inline void
_vec_set_grow_elts (void *v, uword n_elts)
{
  _vec_find (v)->grow_elts = n_elts > 255 ? 255 : n_elts;
}

/* Old bytes past a shrunk length stay behind (as in VPP, which only poisons
   them): the mock scribbles over them so no one can rely on them. */
always_inline void
_vec_set_len (void *v, uword len, uword elt_sz)
{
  uword old_len, max;

  ASSERT (v);
  old_len = _vec_len (v);
  max = _vec_max_len (v, elt_sz);
  ASSERT (len <= max);
  if (len < old_len)
    memset ((u8 *) v + len * elt_sz, 0xa5, (old_len - len) * elt_sz);
  _vec_set_grow_elts (v, max - len);
  _vec_find (v)->len = (u32) len;
}

#define vec_set_len(v, l) _vec_set_len ((void *) (v), (l), _vec_elt_sz (v))
#define vec_reset_length(v)                                                    \
  do                                                                           \
    {                                                                          \
      if (v)                                                                   \
	vec_set_len (v, 0);                                                    \
    }                                                                          \
  while (0)

always_inline void
_vec_validate (void **vp, uword index, uword hdr_sz, uword align, uword elt_sz)
{
  void *v = *vp;
  uword len, n_elts = index + 1;
  const vec_attr_t va = { .elt_sz = (u32) elt_sz,
			  .hdr_sz = (u16) hdr_sz,
			  .align = (u16) align };

  if (!v)
    {
      *vp = _vec_alloc_internal (n_elts, &va);
      return;
    }
  len = _vec_len (v);
  if (index < len)
    return;
  if (index >= len + _vec_find (v)->grow_elts)
    *vp = v = _vec_resize_internal (v, n_elts, &va);
  else
    _vec_set_len (v, n_elts, elt_sz);
  memset ((u8 *) v + len * elt_sz, 0, (n_elts - len) * elt_sz);
}

#define vec_validate(V, I)                                                     \
  _vec_validate ((void **) &(V), (I), 0, _vec_align (V, 0), _vec_elt_sz (V))

#define vec_validate_init_empty(V, I, INIT)                                    \
  do                                                                           \
    {                                                                          \
      word _vvie_i = (I);                                                      \
      word _vvie_l = vec_len (V);                                              \
      if (_vvie_i >= _vvie_l)                                                  \
	{                                                                      \
	  vec_validate (V, _vvie_i);                                           \
	  for (; _vvie_l <= _vvie_i; _vvie_l++)                                \
	    (V)[_vvie_l] = (INIT);                                             \
	}                                                                      \
    }                                                                          \
  while (0)

always_inline void
_vec_free (void **vp)
{
  if (*vp)
    mock_mem_free (vec_header (*vp));
  *vp = 0;
}

#define vec_free(V) _vec_free ((void **) &(V))

#endif /* included_mock_vec_h */
