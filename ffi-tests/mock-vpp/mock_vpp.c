/* mock_vpp.c: the mock VPP behind include/ (see mock_vpp.h). One process,
   simulated threads: a test sets the thread each call runs on. Every check of
   a caller's contract counts an error and prints it. */

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <vlib/vlib.h>
#include <vlib/stats/stats.h>
#include <vnet/vnet.h>
#include <vnet/ip/ip.h>

#include "mock_vpp.h"

#define MOCK_BUFFER_BYTES                                                      \
  (sizeof (vlib_buffer_t) + VLIB_BUFFER_DEFAULT_DATA_SIZE)
#define MOCK_MAX_NODES	32
#define MOCK_MAX_INITS	16
#define MOCK_MAX_GAUGES 64

static u64 mock_n_errors;

static void mock_error (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

static void
mock_error (const char *fmt, ...)
{
  va_list ap;

  mock_n_errors++;
  fprintf (stderr, "mock-vpp: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n");
}

void
mock_assert_fail (const char *expr, const char *file, int line)
{
  fprintf (stderr, "%s:%d: ASSERT (%s) failed\n", file, line, expr);
  fflush (0);
  abort ();
}

u64
mock_errors (void)
{
  return mock_n_errors;
}

/* ---- the heap: zeroed blocks whose sizes are remembered ---- */

typedef struct
{
  void *p;
  uword size;
} mock_block_t;

static mock_block_t *mock_blocks;
static u64 mock_n_blocks, mock_max_blocks;

static mock_block_t *
mock_block_find (void *p)
{
  u64 i;

  for (i = 0; i < mock_n_blocks; i++)
    if (mock_blocks[i].p == p)
      return &mock_blocks[i];
  return 0;
}

void *
mock_mem_alloc (uword size, uword align)
{
  void *p = 0;

  if (align < sizeof (void *))
    align = sizeof (void *);
  if (posix_memalign (&p, align, size ? size : 1))
    {
      fprintf (stderr, "mock-vpp: out of memory\n");
      abort ();
    }
  memset (p, 0, size);
  if (mock_n_blocks == mock_max_blocks)
    {
      mock_max_blocks = mock_max_blocks ? 2 * mock_max_blocks : 64;
      mock_blocks =
	realloc (mock_blocks, mock_max_blocks * sizeof (mock_blocks[0]));
      if (!mock_blocks)
	abort ();
    }
  mock_blocks[mock_n_blocks].p = p;
  mock_blocks[mock_n_blocks].size = size;
  mock_n_blocks++;
  return p;
}

void
mock_mem_free (void *p)
{
  mock_block_t *b = mock_block_find (p);

  if (!b)
    {
      mock_error ("free of %p: not a live heap block", p);
      return;
    }
  *b = mock_blocks[--mock_n_blocks];
  free (p);
}

uword
mock_mem_size (void *p)
{
  mock_block_t *b = mock_block_find (p);

  if (!b)
    {
      mock_error ("size of %p: not a live heap block", p);
      return 0;
    }
  return b->size;
}

int
mock_mem_owns (void *p)
{
  return p && mock_block_find (p) != 0;
}

u64
mock_live_mem_blocks (void)
{
  return mock_n_blocks;
}

/* ---- vectors (VPP's _vec_*_internal semantics) ---- */

static void
mock_vec_update_len (void *v, uword n_elts, uword elt_sz)
{
  uword room = mock_mem_size (vec_header (v)) - vec_get_header_size (v);

  _vec_find (v)->len = (u32) n_elts;
  _vec_set_grow_elts (v, room / elt_sz - n_elts);
}

void *
_vec_alloc_internal (uword n_elts, const vec_attr_t *const attr)
{
  uword align = clib_max ((uword) attr->align, (uword) VEC_MIN_ALIGN);
  uword data_offset, size;
  u8 *p, *v;

  ASSERT (count_set_bits (align) == 1);
  ASSERT (attr->heap == 0 && attr->elt_sz > 0);
  data_offset = round_pow2 (attr->hdr_sz + sizeof (vec_header_t), align);
  ASSERT (data_offset / VEC_MIN_ALIGN <= 255);
  size = data_offset + n_elts * attr->elt_sz;
  p = mock_mem_alloc (size, align);
  v = p + data_offset;
  _vec_find (v)->hdr_size = data_offset / VEC_MIN_ALIGN;
  _vec_find (v)->log2_align = min_log2 (align);
  _vec_find (v)->default_heap = 1;
  mock_vec_update_len (v, n_elts, attr->elt_sz);
  return v;
}

void *
_vec_realloc_internal (void *v, uword n_elts, const vec_attr_t *const attr)
{
  uword data_offset, need, old_size, new_size;
  u8 *p, *np;

  if (!v)
    return _vec_alloc_internal (n_elts, attr);

  /* The header and alignment the vector was made with stay. */
  data_offset = vec_get_header_size (v);
  need = data_offset + n_elts * attr->elt_sz;
  p = vec_header (v);
  old_size = mock_mem_size (p);
  if (old_size < need)
    {
      /* Like VPP: half as much again, so vec_validate may grow in place. */
      new_size = need + n_elts * attr->elt_sz / 2;
      np = mock_mem_alloc (new_size, vec_get_align (v));
      memcpy (np, p, old_size);
      mock_mem_free (p);
      v = np + data_offset;
    }
  else if (n_elts < _vec_len (v))
    /* VPP leaves the old bytes behind (poisoned): so does the mock, with
       garbage in them. */
    memset ((u8 *) v + n_elts * attr->elt_sz, 0xa5,
	    (_vec_len (v) - n_elts) * attr->elt_sz);
  mock_vec_update_len (v, n_elts, attr->elt_sz);
  return v;
}

void *
_vec_resize_internal (void *v, uword n_elts, const vec_attr_t *const attr)
{
  return _vec_realloc_internal (v, n_elts, attr);
}

/* ---- errors and warnings ---- */

static u32 mock_warnings;

clib_error_t *
mock_clib_error_return (clib_error_t *e, const char *where, const char *fmt,
			...)
{
  va_list ap;
  int n;

  if (e)
    mock_clib_error_free (e);
  e = mock_mem_alloc (sizeof (*e), 8);
  va_start (ap, fmt);
  n = vsnprintf (0, 0, fmt, ap);
  va_end (ap);
  e->what = mock_mem_alloc (n + 1, 8);
  va_start (ap, fmt);
  vsnprintf (e->what, n + 1, fmt, ap);
  va_end (ap);
  e->where = where;
  return e;
}

void
mock_clib_error_free (clib_error_t *e)
{
  if (!e)
    return;
  mock_mem_free (e->what);
  mock_mem_free (e);
}

void
mock_clib_warning (const char *where, const char *fmt, ...)
{
  mock_warnings++;
  fprintf (stderr, "mock-vpp: clib_warning in %s: %s\n", where, fmt);
}

u32
mock_n_warnings (void)
{
  return mock_warnings;
}

/* ---- threads and time ---- */

vlib_thread_main_t vlib_thread_main;
static vlib_main_t *mock_vms;
static u32 mock_current_thread;
static f64 mock_now;
static vnet_main_t mock_vnet_main;

#define MOCK_VLIB_MAIN_MAGIC 0x766c6962

static int
mock_vm_ok (vlib_main_t *vm, const char *what)
{
  if (!vm || vm->mock_magic != MOCK_VLIB_MAIN_MAGIC)
    {
      mock_error ("%s: not a vlib_main_t", what);
      return 0;
    }
  if (vm != vlib_get_main ())
    {
      mock_error ("%s: thread %u's vlib_main_t used on thread %u", what,
		  vm->thread_index, mock_current_thread);
      return 0;
    }
  return 1;
}

vlib_main_t *
vlib_get_main (void)
{
  return &mock_vms[mock_current_thread];
}

vlib_main_t *
vlib_get_main_by_index (u32 thread_index)
{
  return thread_index < vlib_thread_main.n_vlib_mains ?
	   &mock_vms[thread_index] :
	   0;
}

u32
vlib_get_n_threads (void)
{
  return vlib_thread_main.n_vlib_mains;
}

u32
vlib_get_thread_index (void)
{
  return mock_current_thread;
}

void
mock_set_thread (u32 thread_index)
{
  ASSERT (thread_index < vlib_thread_main.n_vlib_mains);
  mock_current_thread = thread_index;
}

f64
vlib_time_now (vlib_main_t *vm)
{
  (void) vm;
  return mock_now;
}

void
mock_set_time (f64 now)
{
  mock_now = now;
}

void
mock_advance (f64 seconds)
{
  mock_now += seconds;
}

vnet_main_t *
vnet_get_main (void)
{
  return &mock_vnet_main;
}

/* ---- buffers ---- */

typedef enum
{
  MOCK_BUF_FREE,
  MOCK_BUF_ALLOCATED,
  MOCK_BUF_PUT,
} mock_buf_state_t;

typedef struct
{
  vlib_buffer_t *b;
  mock_buf_state_t state;
} mock_buf_t;

/* Buffer index i + 1 is slot i (so index 0 is never handed out). */
static mock_buf_t mock_bufs[MOCK_MAX_BUFFERS];
static u32 mock_n_live_buffers;
static u64 mock_n_alloc_calls, mock_fail_at, mock_n_failed;
static u32 mock_data_size = VLIB_BUFFER_DEFAULT_DATA_SIZE;

static mock_buf_t *
mock_buf_at (u32 bi)
{
  return bi >= 1 && bi <= MOCK_MAX_BUFFERS ? &mock_bufs[bi - 1] : 0;
}

u32
vlib_buffer_alloc (vlib_main_t *vm, u32 *buffers, u32 n_buffers)
{
  u32 i, slot = 0;

  mock_vm_ok (vm, "vlib_buffer_alloc");
  if (++mock_n_alloc_calls == mock_fail_at)
    {
      mock_n_failed++;
      return 0;
    }
  for (i = 0; i < n_buffers; i++)
    {
      vlib_buffer_t *b;

      while (slot < MOCK_MAX_BUFFERS && mock_bufs[slot].state != MOCK_BUF_FREE)
	slot++;
      if (slot == MOCK_MAX_BUFFERS)
	{
	  mock_error ("out of buffers");
	  vlib_buffer_free (vm, buffers, i);
	  return 0;
	}
      if (posix_memalign ((void **) &b, CLIB_CACHE_LINE_BYTES,
			  MOCK_BUFFER_BYTES))
	abort ();
      /* VPP's buffer template: clean metadata; the bytes are old. */
      memset (b, 0, sizeof (*b));
      memset (b->pre_data, 0x5a, sizeof (b->pre_data));
      memset (b->data, 0xa5, VLIB_BUFFER_DEFAULT_DATA_SIZE);
      b->ref_count = 1;
      mock_bufs[slot].b = b;
      mock_bufs[slot].state = MOCK_BUF_ALLOCATED;
      buffers[i] = slot + 1;
      mock_n_live_buffers++;
    }
  return n_buffers;
}

void
vlib_buffer_free (vlib_main_t *vm, u32 *buffers, u32 n_buffers)
{
  u32 i;

  mock_vm_ok (vm, "vlib_buffer_free");
  for (i = 0; i < n_buffers; i++)
    {
      mock_buf_t *m = mock_buf_at (buffers[i]);

      if (!m || m->state != MOCK_BUF_ALLOCATED)
	{
	  mock_error ("vlib_buffer_free of buffer %u: %s", buffers[i],
		      !m		       ? "no such index" :
		      m->state == MOCK_BUF_PUT ? "put to a node" :
						 "already free");
	  continue;
	}
      free (m->b);
      m->b = 0;
      m->state = MOCK_BUF_FREE;
      mock_n_live_buffers--;
    }
}

vlib_buffer_t *
vlib_get_buffer (vlib_main_t *vm, u32 buffer_index)
{
  mock_buf_t *m = mock_buf_at (buffer_index);

  (void) vm;
  if (!m || m->state != MOCK_BUF_ALLOCATED)
    {
      mock_error ("vlib_get_buffer (%u): not an allocated buffer",
		  buffer_index);
      return 0;
    }
  return m->b;
}

u32
vlib_get_buffer_index (vlib_main_t *vm, void *p)
{
  u32 i;

  (void) vm;
  for (i = 0; i < MOCK_MAX_BUFFERS; i++)
    if (mock_bufs[i].state == MOCK_BUF_ALLOCATED && mock_bufs[i].b == p)
      return i + 1;
  mock_error ("vlib_get_buffer_index (%p): not an allocated buffer", p);
  return ~0u;
}

u32
vlib_buffer_get_default_data_size (vlib_main_t *vm)
{
  (void) vm;
  return mock_data_size;
}

void
mock_set_data_size (u32 bytes)
{
  ASSERT (bytes <= VLIB_BUFFER_DEFAULT_DATA_SIZE);
  mock_data_size = bytes;
}

void
mock_fail_alloc_call (u64 n)
{
  mock_fail_at = n;
}

u64
mock_alloc_calls (void)
{
  return mock_n_alloc_calls;
}

u64
mock_failed_allocs (void)
{
  return mock_n_failed;
}

u32
mock_live_buffers (void)
{
  return mock_n_live_buffers;
}

/* ---- nodes, frames and the packets put ---- */

static vlib_node_registration_t *mock_nodes[MOCK_MAX_NODES];
static u32 mock_n_nodes;

static uword
mock_lookup_node_fn (vlib_main_t *vm, vlib_node_runtime_t *node,
		     vlib_frame_t *frame)
{
  (void) vm;
  (void) node;
  (void) frame;
  return 0;
}

VLIB_REGISTER_NODE (ip4_lookup_node) = {
  .function = mock_lookup_node_fn,
  .name = "ip4-lookup",
};

VLIB_REGISTER_NODE (ip6_lookup_node) = {
  .function = mock_lookup_node_fn,
  .name = "ip6-lookup",
};

void
mock_vlib_register_node (vlib_node_registration_t *r)
{
  if (mock_n_nodes == MOCK_MAX_NODES)
    abort ();
  /* Node 0 is VPP's null node: indices here start at 1. */
  r->index = mock_n_nodes + 1;
  mock_nodes[mock_n_nodes++] = r;
}

vlib_node_registration_t *
mock_node (const char *name)
{
  u32 i;

  for (i = 0; i < mock_n_nodes; i++)
    if (strcmp (mock_nodes[i]->name, name) == 0)
      return mock_nodes[i];
  return 0;
}

static int
mock_node_index_ok (u32 node_index)
{
  return node_index >= 1 && node_index <= mock_n_nodes;
}

static mock_put_t *mock_puts;
static u32 mock_n_puts_, mock_max_puts;
static u32 mock_n_live_frames;

vlib_frame_t *
vlib_get_frame_to_node (vlib_main_t *vm, u32 to_node_index)
{
  vlib_frame_t *f;

  mock_vm_ok (vm, "vlib_get_frame_to_node");
  if (!mock_node_index_ok (to_node_index))
    mock_error ("vlib_get_frame_to_node: no node %u", to_node_index);
  f = calloc (1, sizeof (*f));
  if (!f)
    abort ();
  f->mock_to_node = to_node_index;
  f->mock_thread = vm->thread_index;
  mock_n_live_frames++;
  return f;
}

void
vlib_put_frame_to_node (vlib_main_t *vm, u32 to_node_index, vlib_frame_t *f)
{
  u32 i;

  mock_vm_ok (vm, "vlib_put_frame_to_node");
  if (f->mock_to_node != to_node_index || f->mock_thread != vm->thread_index)
    mock_error ("frame for node %u on thread %u put to node %u on thread %u",
		f->mock_to_node, f->mock_thread, to_node_index,
		vm->thread_index);
  if (f->n_vectors > VLIB_FRAME_SIZE)
    mock_error ("frame of %u vectors", f->n_vectors);
  for (i = 0; i < f->n_vectors && i < VLIB_FRAME_SIZE; i++)
    {
      u32 bi = f->mock_vectors[i];
      mock_buf_t *m = mock_buf_at (bi);

      if (!m || m->state != MOCK_BUF_ALLOCATED)
	{
	  mock_error ("put of buffer %u: not an allocated buffer", bi);
	  continue;
	}
      if (m->b->current_data < 0 ||
	  m->b->current_data + m->b->current_length > (int) mock_data_size)
	mock_error ("put of buffer %u: %d + %u bytes past its %u", bi,
		    m->b->current_data, m->b->current_length, mock_data_size);
      if (mock_n_puts_ == mock_max_puts)
	{
	  mock_max_puts = mock_max_puts ? 2 * mock_max_puts : 256;
	  mock_puts =
	    realloc (mock_puts, mock_max_puts * sizeof (mock_puts[0]));
	  if (!mock_puts)
	    abort ();
	}
      mock_puts[mock_n_puts_++] = (mock_put_t){
	.node_index = to_node_index,
	.thread_index = vm->thread_index,
	.buffer_index = bi,
	.b = m->b,
      };
      m->state = MOCK_BUF_PUT;
    }
  free (f);
  mock_n_live_frames--;
}

void
vlib_frame_free (vlib_main_t *vm, vlib_frame_t *f)
{
  mock_vm_ok (vm, "vlib_frame_free");
  free (f);
  mock_n_live_frames--;
}

u32
mock_live_frames (void)
{
  return mock_n_live_frames;
}

u32
mock_n_puts (void)
{
  return mock_n_puts_;
}

const mock_put_t *
mock_put (u32 i)
{
  return i < mock_n_puts_ ? &mock_puts[i] : 0;
}

void
mock_release_puts (void)
{
  u32 i;

  for (i = 0; i < mock_n_puts_; i++)
    {
      mock_buf_t *m = mock_buf_at (mock_puts[i].buffer_index);
      if (m->state != MOCK_BUF_PUT)
	continue;
      free (m->b);
      m->b = 0;
      m->state = MOCK_BUF_FREE;
      mock_n_live_buffers--;
    }
  mock_n_puts_ = 0;
}

static u32 mock_interrupts, mock_schedules;

void
vlib_node_set_interrupt_pending (vlib_main_t *vm, u32 node_index)
{
  (void) vm;
  if (!mock_node_index_ok (node_index))
    mock_error ("interrupt for no node %u", node_index);
  mock_interrupts++;
}

void
vlib_node_schedule (vlib_main_t *vm, u32 node_index, f64 dt)
{
  mock_vm_ok (vm, "vlib_node_schedule");
  if (!mock_node_index_ok (node_index) || !(dt > 0))
    mock_error ("schedule of node %u in %g s", node_index, dt);
  mock_schedules++;
}

u32
mock_n_interrupts (void)
{
  return mock_interrupts;
}

u32
mock_n_schedules (void)
{
  return mock_schedules;
}

/* ---- processes ---- */

static u32 mock_signals;
static uword mock_pending_event = ~0ull;
static uword mock_kickoff_event = ~0ull;
static int mock_process_first_wait;
static jmp_buf mock_process_exit;
static u32 mock_waits_left, mock_waits_made;
static f64 mock_last_wait_dt;

void
vlib_process_signal_event (vlib_main_t *vm, uword node_index, uword type_opaque,
			   uword data)
{
  (void) data;
  mock_vm_ok (vm, "vlib_process_signal_event");
  if (!mock_node_index_ok (node_index))
    mock_error ("event for no node %lu", (unsigned long) node_index);
  mock_signals++;
  mock_pending_event = type_opaque;
}

f64
vlib_process_wait_for_event_or_clock (vlib_main_t *vm, f64 dt)
{
  mock_vm_ok (vm, "vlib_process_wait_for_event_or_clock");
  mock_last_wait_dt = dt;
  if (mock_waits_left == 0)
    longjmp (mock_process_exit, 1);
  mock_waits_left--;
  mock_waits_made++;
  return dt;
}

/* The event data (VPP appends it to *data_vector) is left out: the shim
   reads none, and a process the mock leaves by longjmp would leak it. */
uword
vlib_process_get_events (vlib_main_t *vm, uword **data_vector)
{
  uword t;

  (void) data_vector;
  mock_vm_ok (vm, "vlib_process_get_events");
  if (mock_process_first_wait)
    {
      /* A process VPP resumes is past its kickoff: on re-entry, the mock
	 gives it the kickoff event it had the first time. */
      mock_process_first_wait = 0;
      if (mock_kickoff_event != ~0ull)
	return mock_kickoff_event;
      mock_kickoff_event = t = mock_pending_event;
      mock_pending_event = ~0ull;
      return t;
    }
  t = mock_pending_event;
  mock_pending_event = ~0ull;
  return t;
}

u32
mock_run_process (vlib_node_registration_t *r, u32 n_waits)
{
  vlib_node_runtime_t rt = { .node_index = r->index };
  u32 saved_thread = mock_current_thread;

  ASSERT (r->type == VLIB_NODE_TYPE_PROCESS);
  mock_current_thread = 0;
  mock_waits_left = n_waits + 1;
  mock_waits_made = 0;
  mock_process_first_wait = 1;
  if (setjmp (mock_process_exit) == 0)
    {
      r->function (vlib_get_main (), &rt, 0);
      mock_error ("process %s returned", r->name);
    }
  mock_current_thread = saved_thread;
  return mock_waits_made ? mock_waits_made - 1 : 0;
}

f64
mock_last_wait (void)
{
  return mock_last_wait_dt;
}

u32
mock_n_signals (void)
{
  return mock_signals;
}

/* ---- init functions ---- */

static struct
{
  const char *name;
  vlib_init_function_t *f;
} mock_inits[MOCK_MAX_INITS];
static u32 mock_n_inits;

void
mock_vlib_register_init (const char *name, vlib_init_function_t *f)
{
  if (mock_n_inits == MOCK_MAX_INITS)
    abort ();
  mock_inits[mock_n_inits].name = name;
  mock_inits[mock_n_inits].f = f;
  mock_n_inits++;
}

clib_error_t *
mock_vlib_call_init (const char *name, int *found)
{
  u32 i;

  for (i = 0; i < mock_n_inits; i++)
    if (strcmp (mock_inits[i].name, name) == 0)
      {
	*found = 1;
	return mock_inits[i].f (vlib_get_main ());
      }
  *found = 0;
  return 0;
}

/* ---- stats ---- */

static struct
{
  char name[64];
  u64 value;
} mock_gauges[MOCK_MAX_GAUGES];
static u32 mock_n_gauges;

u32
vlib_stats_add_gauge (char *fmt, ...)
{
  va_list ap;

  if (mock_n_gauges == MOCK_MAX_GAUGES)
    return ~0u;
  va_start (ap, fmt);
  vsnprintf (mock_gauges[mock_n_gauges].name,
	     sizeof (mock_gauges[mock_n_gauges].name), fmt, ap);
  va_end (ap);
  mock_gauges[mock_n_gauges].value = 0;
  return mock_n_gauges++;
}

void
vlib_stats_set_gauge (u32 index, u64 value)
{
  if (index >= mock_n_gauges)
    {
      mock_error ("vlib_stats_set_gauge: no gauge %u", index);
      return;
    }
  mock_gauges[index].value = value;
}

u64
mock_gauge (const char *name)
{
  u32 i;

  for (i = 0; i < mock_n_gauges; i++)
    if (strcmp (mock_gauges[i].name, name) == 0)
      return mock_gauges[i].value;
  return ~0ull;
}

/* ---- reset ---- */

void
mock_reset (u32 n_threads, f64 now)
{
  u32 i, leaked = 0;
  u64 blocks = mock_n_blocks;

  mock_release_puts ();
  for (i = 0; i < MOCK_MAX_BUFFERS; i++)
    if (mock_bufs[i].state != MOCK_BUF_FREE)
      {
	free (mock_bufs[i].b);
	mock_bufs[i].b = 0;
	mock_bufs[i].state = MOCK_BUF_FREE;
	leaked++;
      }
  free (mock_vms);
  mock_vms = calloc (n_threads, sizeof (mock_vms[0]));
  if (!mock_vms)
    abort ();
  for (i = 0; i < n_threads; i++)
    {
      mock_vms[i].thread_index = i;
      mock_vms[i].mock_magic = MOCK_VLIB_MAIN_MAGIC;
    }
  vlib_thread_main.n_vlib_mains = n_threads;
  mock_current_thread = 0;
  mock_now = now;
  mock_n_live_buffers = 0;
  mock_n_alloc_calls = mock_fail_at = mock_n_failed = 0;
  mock_data_size = VLIB_BUFFER_DEFAULT_DATA_SIZE;
  mock_n_live_frames = 0;
  mock_interrupts = mock_schedules = mock_signals = mock_warnings = 0;
  mock_pending_event = mock_kickoff_event = ~0ull;
  mock_last_wait_dt = 0;
  mock_n_gauges = 0;
  mock_n_errors = 0;
  if (leaked)
    mock_error ("%u buffers still alive at reset", leaked);
  if (blocks)
    mock_error ("%lu heap blocks still alive at reset", (unsigned long) blocks);
}

/* Frees what the mock itself holds (for leak checkers). */
static void __attribute__ ((destructor)) mock_exit (void)
{
  free (mock_vms);
  free (mock_puts);
  free (mock_blocks);
}
