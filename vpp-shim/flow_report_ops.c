/*
 * flow_report_ops.c: the host ops the vpp-ipfix core calls back into.
 *
 * Packet buffers are vlib buffers, finished packets go one frame each to
 * ip4-lookup or ip6-lookup (as VPP's exporter sends them), vectors the core
 * allocates are real VPP vectors (so callers' vec_len / vec_validate / pool
 * macros work on exp->streams, exp->reports and frm->exporters), and
 * templates of reports without elements come from their rewrite callbacks.
 *
 * Every op acts on the vlib_main_t of the thread running it: the core calls
 * an op from the thread whose index it passes, except when the main thread
 * flushes every thread's packets under the worker barrier, where the main
 * thread's buffer cache and frames are the right ones to use.
 */

#include <vnet/ipfix-export/flow_report.h>
#include <vnet/ip/ip.h>

static void *
flow_report_op_buffer_alloc (void *ctx, u32 thread_index, u32 min_capacity)
{
  vlib_main_t *vm = vlib_get_main ();
  vlib_buffer_t *b0;
  u32 bi0;

  if (min_capacity > vlib_buffer_get_default_data_size (vm))
    return 0;
  if (vlib_buffer_alloc (vm, &bi0, 1) != 1)
    return 0;

  /* As VPP's get_buffer sets it up; the TX FIB comes with enqueue. */
  b0 = vlib_get_buffer (vm, bi0);
  b0->current_data = 0;
  b0->current_length = 0;
  b0->flags |= (VLIB_BUFFER_TOTAL_LENGTH_VALID | VNET_BUFFER_F_FLOW_REPORT);
  vnet_buffer (b0)->sw_if_index[VLIB_RX] = 0;
  return b0;
}

static void
flow_report_op_buffer_free (void *ctx, u32 thread_index, void *buffer)
{
  vlib_main_t *vm = vlib_get_main ();
  u32 bi0 = vlib_get_buffer_index (vm, buffer);

  vlib_buffer_free (vm, &bi0, 1);
}

static u8 *
flow_report_op_buffer_data (void *ctx, void *buffer)
{
  return vlib_buffer_get_current ((vlib_buffer_t *) buffer);
}

static u32
flow_report_op_buffer_capacity (void *ctx, void *buffer)
{
  return vlib_buffer_get_default_data_size (vlib_get_main ());
}

/* One call per packet instead of the three above. */
static void *
flow_report_op_buffer_alloc_packet (void *ctx, u32 thread_index,
				    u32 min_capacity, u8 **data, u32 *capacity)
{
  vlib_buffer_t *b0 =
    flow_report_op_buffer_alloc (ctx, thread_index, min_capacity);

  if (b0)
    {
      *data = vlib_buffer_get_current (b0);
      *capacity = vlib_buffer_get_default_data_size (vlib_get_main ());
    }
  return b0;
}

static i32
flow_report_op_enqueue (void *ctx, u32 thread_index, void *buffer,
			const vpp_ipfix_packet_info_t *info)
{
  vlib_main_t *vm = vlib_get_main ();
  vlib_buffer_t *b0 = buffer;
  u32 bi0 = vlib_get_buffer_index (vm, b0);
  u32 next_node, *to_next;
  vlib_frame_t *f;

  /* Never trust a length past the buffer (vlib would read beyond it). */
  if (info->length > vlib_buffer_get_default_data_size (vm))
    {
      vlib_buffer_free (vm, &bi0, 1);
      return -1;
    }

  b0->current_length = info->length;
  vnet_buffer (b0)->sw_if_index[VLIB_TX] = info->fib_index;

  next_node = info->is_ip6 ? ip6_lookup_node.index : ip4_lookup_node.index;
  f = vlib_get_frame_to_node (vm, next_node);
  to_next = vlib_frame_vector_args (f);
  to_next[0] = bi0;
  f->n_vectors = 1;
  vlib_put_frame_to_node (vm, next_node, f);
  return 0;
}

f64
flow_report_unix_time_now (void)
{
  flow_report_main_t *frm = &flow_report_main;

  /* VPP's exporters all stamp packets with this transform. */
  return (f64) frm->unix_time_0 +
	 (vlib_time_now (vlib_get_main ()) - frm->vlib_time_0);
}

static f64
flow_report_op_now (void *ctx)
{
  return flow_report_unix_time_now ();
}

/* A power of two no smaller than what the vector code requires. */
static u16
flow_report_vec_align (u32 align)
{
  if (align < VEC_MIN_ALIGN)
    return VEC_MIN_ALIGN;
  return 1 << max_log2 (align);
}

static void *
flow_report_op_vec_resize (void *ctx, void *vec, u32 new_len, u32 elt_size,
			   u32 align, u32 header_bytes)
{
  const vec_attr_t va = {
    .elt_sz = elt_size,
    .hdr_sz = header_bytes,
    .align = flow_report_vec_align (align),
  };
  u32 old_len = vec ? vec_len (vec) : 0;
  u8 *v;

  if (elt_size == 0 || header_bytes > CLIB_U16_MAX)
    return 0;

  /* Keeps the header and alignment an existing vector was made with. */
  v = _vec_realloc_internal (vec, new_len, &va);

  /* Growing within the allocation leaves old bytes behind: clear them. */
  if (new_len > old_len)
    clib_memset_u8 (v + (uword) old_len * elt_size, 0,
		    (uword) (new_len - old_len) * elt_size);
  return v;
}

static void
flow_report_op_vec_free (void *ctx, void *vec)
{
  vec_free (vec);
}

static i32
flow_report_op_template_rewrite (void *ctx, ipfix_exporter_t *exp,
				 flow_report_t *fr, u8 *packet, u32 capacity,
				 u32 *length)
{
  u8 *rewrite;
  i32 rv = 0;

  /* The generic callback asks the core, which would ask us again. */
  if (!fr->rewrite_callback ||
      fr->rewrite_callback == vnet_flow_rewrite_generic_callback)
    return -1;

  rewrite =
    fr->rewrite_callback (exp, fr, exp->collector_port, fr->report_elements,
			  fr->n_report_elements, fr->stream_indexp);
  if (!rewrite)
    return -1;

  if (vec_len (rewrite) > capacity)
    rv = -1;
  else
    {
      clib_memcpy_fast (packet, rewrite, vec_len (rewrite));
      *length = vec_len (rewrite);
    }
  vec_free (rewrite);
  return rv;
}

/* A classifier report's rewrite callback keeps a bitmap of the fields it
   sends in fr->fields_to_send; VPP's own delete leaves it behind. A bitmap is
   a vector (clib_bitmap_free is vec_free). */
static void
flow_report_op_report_removed (void *ctx, ipfix_exporter_t *exp,
			       flow_report_t *fr)
{
  vec_free (fr->fields_to_send);
}

void
flow_report_ops_init (vpp_ipfix_ops_t *ops)
{
  clib_memset (ops, 0, sizeof (*ops));
  ops->ctx = &flow_report_main;
  ops->buffer_alloc = flow_report_op_buffer_alloc;
  ops->buffer_free = flow_report_op_buffer_free;
  ops->buffer_data = flow_report_op_buffer_data;
  ops->buffer_capacity = flow_report_op_buffer_capacity;
  ops->buffer_alloc_packet = flow_report_op_buffer_alloc_packet;
  ops->enqueue = flow_report_op_enqueue;
  ops->now = flow_report_op_now;
  ops->vec_resize = flow_report_op_vec_resize;
  ops->vec_free = flow_report_op_vec_free;
  ops->template_rewrite = flow_report_op_template_rewrite;
  ops->report_removed = flow_report_op_report_removed;
}
