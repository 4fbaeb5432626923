/* mock_vpp.h: how a test drives the mock VPP (include/): threads, the clock,
   buffer allocation faults, the packets put to nodes, leaks, init functions,
   nodes and the periodic process. */

#ifndef MOCK_VPP_H
#define MOCK_VPP_H

#include <vlib/vlib.h>
#include <vnet/vnet.h>

/* Largest number of buffers alive at once. */
#define MOCK_MAX_BUFFERS 4096

/* A fresh VPP with n_threads vlib mains (main included) and the clock at
   `now`: forgets recorded puts, events and gauges. Buffers and mock heap
   memory still alive from before are reported by mock_errors. */
void mock_reset (u32 n_threads, f64 now);

/* The simulated thread the next calls run on (vlib_get_main's answer). */
void mock_set_thread (u32 thread_index);

void mock_set_time (f64 now);
void mock_advance (f64 seconds);

/* vlib_buffer_alloc call number n (counted from 1 since mock_reset) fails;
   0 = none fails. */
void mock_fail_alloc_call (u64 n);
u64 mock_alloc_calls (void);
u64 mock_failed_allocs (void);

/* vlib_buffer_get_default_data_size's answer (buffers always hold 2048). */
void mock_set_data_size (u32 bytes);

/* Buffers allocated and not freed (those put to a node included). */
u32 mock_live_buffers (void);

/* Bytes and blocks of mock heap (vectors, errors) alive. */
u64 mock_live_mem_blocks (void);

/* True when p is the start of a live mock heap block (VPP's heap). */
int mock_mem_owns (void *p);

/* Contract violations seen (bad buffer index, double free, a frame put from
   another thread's vlib_main_t, a put of a buffer not allocated, a packet
   past the buffer); each was printed. */
u64 mock_errors (void);

/* One buffer put to a node. */
typedef struct
{
  u32 node_index;   /* the node it was put to */
  u32 thread_index; /* vm->thread_index of the put */
  u32 buffer_index;
  vlib_buffer_t *b;
} mock_put_t;

u32 mock_n_puts (void);
const mock_put_t *mock_put (u32 i);

/* Frees the buffers put to nodes (the graph consumed them) and forgets the
   puts. */
void mock_release_puts (void);

/* Frames got and not yet put or freed. */
u32 mock_live_frames (void);

/* Calls the init function registered under `name`; NULL when none. */
clib_error_t *mock_vlib_call_init (const char *name, int *found);

/* The registered node called `name`, NULL when none. */
vlib_node_registration_t *mock_node (const char *name);

/* Runs the process node `r` on the main thread until it has waited
   `n_waits` times past its first wait (it is left at its next wait, as VPP
   would leave it suspended). Returns the waits it made. */
u32 mock_run_process (vlib_node_registration_t *r, u32 n_waits);

/* What the last process wait asked for (seconds), and how many events were
   signalled / interrupts set / nodes scheduled since mock_reset. */
f64 mock_last_wait (void);
u32 mock_n_signals (void);
u32 mock_n_interrupts (void);
u32 mock_n_schedules (void);

/* clib_warning calls since mock_reset. */
u32 mock_n_warnings (void);

/* The gauge called `name` (~0 when none): its value. */
u64 mock_gauge (const char *name);

#endif /* MOCK_VPP_H */
