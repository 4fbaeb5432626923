/* vlib/vlib.h (mock): the parts of VPP's vlib the vpp-shim sources use:
   buffers (vlib_buffer_t with VPP's offsets), frames, nodes, the per-thread
   vlib_main_t, time, threads, processes and init functions. Buffers and
   frames live in mock_vpp.c, which records every packet put to a node and
   lets a test inject failures and move the clock. Test-only. */

#ifndef included_mock_vlib_h
#define included_mock_vlib_h

#include <vppinfra/clib.h>
#include <vppinfra/vec.h>
#include <vppinfra/pool.h>
#include <vppinfra/error.h>

/* ---- threads and vlib_main_t ---- */

typedef struct vlib_main_t
{
  clib_thread_index_t thread_index;
  u32 mock_magic; /* MOCK_VLIB_MAIN_MAGIC: a real one of the mock's */
} vlib_main_t;

typedef struct
{
  u32 n_vlib_mains; /* threads, main included */
} vlib_thread_main_t;

extern vlib_thread_main_t vlib_thread_main;

/* The calling (simulated) thread's main; see mock_set_thread. */
vlib_main_t *vlib_get_main (void);
vlib_main_t *vlib_get_main_by_index (u32 thread_index);
u32 vlib_get_n_threads (void);
u32 vlib_get_thread_index (void);

/* The clock the test moves by hand (mock_set_time). */
f64 vlib_time_now (vlib_main_t *vm);

/* ---- buffers ---- */

#define VLIB_BUFFER_PRE_DATA_SIZE      128
#define VLIB_BUFFER_DEFAULT_DATA_SIZE  2048
#define VLIB_BUFFER_FLAG_USER(n)       (1u << (32 - (n)))
#define VLIB_BUFFER_IS_TRACED	       (1u << 0)
#define VLIB_BUFFER_NEXT_PRESENT       (1u << 1)
#define VLIB_BUFFER_TOTAL_LENGTH_VALID (1u << 2)
#define VLIB_BUFFER_EXT_HDR_VALID      (1u << 3)

enum
{
  VLIB_RX = 0,
  VLIB_TX = 1,
  VLIB_N_RX_TX = 2,
};

typedef union
{
  struct
  {
    /* first cache line: VPP's template fields and the opaque area */
    i16 current_data;
    u16 current_length;
    u32 flags;
    u32 flow_id;
    u8 ref_count;
    u8 buffer_pool_index;
    u16 error;
    u32 next_buffer;
    u32 current_config_index;
    u32 opaque[10];
    /* second cache line */
    u32 trace_handle;
    u32 total_length_not_including_first_buffer;
    u32 opaque2[14];
    /* headroom, then the packet */
    u8 pre_data[VLIB_BUFFER_PRE_DATA_SIZE];
    u8 data[];
  };
  u8 cacheline0[CLIB_CACHE_LINE_BYTES];
} __attribute__ ((aligned (CLIB_CACHE_LINE_BYTES))) vlib_buffer_t;

_Static_assert(offsetof (vlib_buffer_t, current_data) == 0, "VPP offset");
_Static_assert(offsetof (vlib_buffer_t, current_length) == 2, "VPP offset");
_Static_assert(offsetof (vlib_buffer_t, flags) == 4, "VPP offset");
_Static_assert(offsetof (vlib_buffer_t, opaque) == 24, "VPP offset");
_Static_assert(offsetof (vlib_buffer_t, trace_handle) == 64, "VPP offset");
_Static_assert(offsetof (vlib_buffer_t, data) == 256, "VPP offset");

/* Buffers allocated (n of them) into `buffers`; how many (0 when the mock
   was told to fail this call). */
u32 vlib_buffer_alloc (vlib_main_t *vm, u32 *buffers, u32 n_buffers);
void vlib_buffer_free (vlib_main_t *vm, u32 *buffers, u32 n_buffers);
vlib_buffer_t *vlib_get_buffer (vlib_main_t *vm, u32 buffer_index);
u32 vlib_get_buffer_index (vlib_main_t *vm, void *p);
u32 vlib_buffer_get_default_data_size (vlib_main_t *vm);

always_inline void *
vlib_buffer_get_current (vlib_buffer_t *b)
{
  return b->data + b->current_data;
}

/* ---- nodes and frames ---- */

#define VLIB_FRAME_SIZE 256

typedef struct vlib_frame_t
{
  u16 frame_flags;
  u16 flags;
  u16 scalar_offset, vector_offset, aux_offset;
  u16 n_vectors;
  u16 frame_size_index;
  u32 mock_to_node; /* the node it was got for */
  u32 mock_thread;  /* the thread it was got on */
  u32 mock_vectors[VLIB_FRAME_SIZE];
} vlib_frame_t;

typedef struct vlib_node_runtime_t
{
  u32 node_index;
  u16 thread_index;
} vlib_node_runtime_t;

typedef uword (vlib_node_function_t) (vlib_main_t *vm,
				      vlib_node_runtime_t *node,
				      vlib_frame_t *frame);

typedef enum
{
  VLIB_NODE_TYPE_INTERNAL,
  VLIB_NODE_TYPE_INPUT,
  VLIB_NODE_TYPE_PRE_INPUT,
  VLIB_NODE_TYPE_PROCESS,
  VLIB_NODE_TYPE_SCHED,
  VLIB_N_NODE_TYPE,
} vlib_node_type_t;

typedef enum
{
  VLIB_NODE_STATE_POLLING,
  VLIB_NODE_STATE_INTERRUPT,
  VLIB_NODE_STATE_DISABLED,
  VLIB_N_NODE_STATE,
} vlib_node_state_t;

typedef struct _vlib_node_registration
{
  vlib_node_function_t *function;
  char *name;
  u16 type;
  u8 state;
  u32 index; /* set at registration */
  struct _vlib_node_registration *next_registration;
} vlib_node_registration_t;

void mock_vlib_register_node (vlib_node_registration_t *r);

/* As VPP's: defines the registration and registers it before main. */
#define VLIB_REGISTER_NODE(x, ...)                                             \
  __VA_ARGS__ vlib_node_registration_t x;                                      \
  static void __mock_vlib_add_node_##x (void)                                  \
    __attribute__ ((__constructor__));                                         \
  static void __mock_vlib_add_node_##x (void)                                  \
  {                                                                            \
    mock_vlib_register_node (&x);                                              \
  }                                                                            \
  __VA_ARGS__ vlib_node_registration_t x

vlib_frame_t *vlib_get_frame_to_node (vlib_main_t *vm, u32 to_node_index);
void vlib_put_frame_to_node (vlib_main_t *vm, u32 to_node_index,
			     vlib_frame_t *f);
void vlib_frame_free (vlib_main_t *vm, vlib_frame_t *f);

always_inline void *
vlib_frame_vector_args (vlib_frame_t *f)
{
  return f->mock_vectors;
}

void vlib_node_set_interrupt_pending (vlib_main_t *vm, u32 node_index);
void vlib_node_schedule (vlib_main_t *vm, u32 node_index, f64 dt);

/* ---- processes: run by mock_run_process, events recorded ---- */

void vlib_process_signal_event (vlib_main_t *vm, uword node_index,
				uword type_opaque, uword data);
f64 vlib_process_wait_for_event_or_clock (vlib_main_t *vm, f64 dt);
uword vlib_process_get_events (vlib_main_t *vm, uword **data_vector);

/* ---- init functions: registered, called by mock_vlib_call_init ---- */

typedef clib_error_t *(vlib_init_function_t) (vlib_main_t *vm);

void mock_vlib_register_init (const char *name, vlib_init_function_t *f);

#define VLIB_INIT_FUNCTION(x)                                                  \
  static void __mock_vlib_add_init_##x (void)                                  \
    __attribute__ ((__constructor__));                                         \
  static void __mock_vlib_add_init_##x (void)                                  \
  {                                                                            \
    mock_vlib_register_init (#x, x);                                           \
  }

#endif /* included_mock_vlib_h */
