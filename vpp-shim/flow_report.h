/*
 * flow_report.h: VPP's IPFIX exporter API, served by the vpp-ipfix core.
 *
 * Replaces src/vnet/ipfix-export/flow_report.h. Every in-tree caller
 * (flowprobe, NAT logging, the classifier reports, iOAM) compiles unchanged
 * against it: same includes, same names and signatures. The structs callers
 * touch (ipfix_exporter_t, flow_report_t, flow_report_stream_t, ...) come from
 * the generated vpp_ipfix.h, so there is one definition of each, shared with
 * the Rust core that owns the memory behind them.
 */

#ifndef __included_vnet_flow_report_h__

/* VPP's header brings these in; callers rely on them transitively. */
#include <vlib/vlib.h>
#include <vnet/vnet.h>
#include <vnet/ethernet/ethernet.h>
#include <vnet/ethernet/packet.h>
#include <vnet/ip/ip_packet.h>
#include <vnet/ip/ip_types.h>
#include <vnet/ip/ip4_packet.h>
#include <vnet/ip/ip6_packet.h>
#include <vnet/udp/udp_packet.h>
#include <vlib/cli.h>
#include <vppinfra/error.h>
#include <vppinfra/hash.h>
#include <vppinfra/cache.h>

#include <vnet/ipfix-export/ipfix_packet.h>

/*
 * Included before the guard macro is defined: the generated header defines
 * opaque_t only while VPP's flow_report.h has not been seen, and here it is
 * the one definition.
 */
#include <vnet/ipfix-export/vpp-ipfix/vpp_ipfix.h>

#define __included_vnet_flow_report_h__

/* Used to build the rewrite */
typedef struct
{
  ip4_header_t ip4;
  udp_header_t udp;
  ipfix_template_packet_t ipfix;
} ip4_ipfix_template_packet_t;

/* Used to build the rewrite */
typedef struct
{
  ip6_header_t ip6;
  udp_header_t udp;
  ipfix_template_packet_t ipfix;
} ip6_ipfix_template_packet_t;

/*
 * The maximum number of ipfix exporters we can have at once
 */
#define IPFIX_EXPORTERS_MAX 5

/* Default seconds a per-thread packet may wait for more records. */
#define IPFIX_IDLE_FLUSH_DEFAULT 1.0

u8 *vnet_flow_rewrite_generic_callback (ipfix_exporter_t *exp,
					flow_report_t *fr, u16 collector_port,
					ipfix_report_element_t *elts,
					u32 n_elts, u32 *stream_index);

/* Counters the shim publishes in the stats segment, per exporter. */
#define foreach_flow_report_stat                                               \
  _ (packets, "packets")                                                       \
  _ (data_records, "records")                                                  \
  _ (bytes, "bytes")                                                           \
  _ (templates, "templates")                                                   \
  _ (alloc_failures, "alloc-failures")                                         \
  _ (dropped_packets, "dropped-packets")                                       \
  _ (dropped_records, "dropped-records")

typedef enum
{
#define _(field, name) FLOW_REPORT_STAT_##field,
  foreach_flow_report_stat
#undef _
    FLOW_REPORT_N_STATS,
} flow_report_stat_t;

typedef struct flow_report_main
{
  /*
   * A pool of the exporters, owned by the core (allocated through the
   * shim's vector ops, so pool and vector macros work on it). Entry 0 is
   * always there; unused slots are not marked free in the pool header:
   * use vnet_ipfix_exporter_lookup or vpp_ipfix_exporter_get to tell.
   */
  ipfix_exporter_t *exporters;

  /* time scale transform. Joy. */
  u32 unix_time_0;
  f64 vlib_time_0;

  /* convenience variables */
  vlib_main_t *vlib_main;
  vnet_main_t *vnet_main;

  u16 msg_id_base;

  /* ---- the shim's own state, after VPP's fields ---- */

  /* The exporting process all of the above is a view of. */
  struct vpp_ipfix_main_t *core;

  /* Where vnet_ipfix_exp_get_buffer finds each worker's memo of the report it
     last used, for the inline per-record case (vpp_ipfix_fast_path_get). */
  vpp_ipfix_fast_path_t core_fast_path;

  /* Seconds a per-thread packet may wait for records; 0 = no idle flush. */
  f64 idle_flush_max_age;

  /* Stats segment gauge indices, per exporter and counter. */
  u32 stats_index[IPFIX_EXPORTERS_MAX][FLOW_REPORT_N_STATS];

  /* The process's scratch: which reports had sent a template before this
     cycle's refresh (vectors, one per exporter). */
  u8 *template_sent[IPFIX_EXPORTERS_MAX];
} flow_report_main_t;

extern flow_report_main_t flow_report_main;

extern vlib_node_registration_t flow_report_process_node;

int vnet_flow_report_add_del (ipfix_exporter_t *exp,
			      vnet_flow_report_add_del_args_t *a,
			      u16 *template_id);

clib_error_t *flow_report_add_del_error_to_clib_error (int error);

void vnet_flow_reports_reset (ipfix_exporter_t *exp);

void vnet_stream_reset (ipfix_exporter_t *exp, u32 stream_index);

int vnet_stream_change (ipfix_exporter_t *exp, u32 old_domain_id,
			u16 old_src_port, u32 new_domain_id, u16 new_src_port);

/*
 * Search all the exporters for one that has a matching destination address.
 */
ipfix_exporter_t *
vnet_ipfix_exporter_lookup (const ip_address_t *ipfix_collector);

/*
 * Get the currently in use buffer for the given stream on the given core.
 * If there is no current buffer then allocate a new one and return that.
 * This is the buffer that data records should be written into. The offset
 * currently in use is stored in the per-thread data for the stream and
 * should be updated as new records are written in.
 */
vlib_buffer_t *vnet_ipfix_exp_get_buffer (vlib_main_t *vm,
					  ipfix_exporter_t *exp,
					  flow_report_t *fr,
					  clib_thread_index_t thread_index);

/*
 * Send the provided buffer. At this stage the buffer should be populated
 * with data records, with the offset in use stored in the stream per thread
 * data. This func will fix up all the headers and then send the buffer.
 */
void vnet_ipfix_exp_send_buffer (vlib_main_t *vm, ipfix_exporter_t *exp,
				 flow_report_t *fr,
				 flow_report_stream_t *stream,
				 clib_thread_index_t thread_index,
				 vlib_buffer_t *b0);

/*
 * Shim internals, shared by the vpp-shim C files only (not VPP API).
 */

/* Fills the host ops the core calls back into: vlib buffers and frames. */
void flow_report_ops_init (vpp_ipfix_ops_t *ops);

/* Seconds since the epoch on the calling thread's clock. */
f64 flow_report_unix_time_now (void);

/* The exporter at `index`, NULL when that slot is not in use. */
ipfix_exporter_t *flow_report_exporter_at (u32 index);

/* The index of an exporter in use; VNET_API_ERROR_NO_SUCH_ENTRY if none. */
int flow_report_exporter_index (const ipfix_exporter_t *exp, u32 *index);

/* Starts or wakes the periodic process (VPP's kickoff event). */
void flow_report_process_kick (vlib_main_t *vm);

/* VPP's "ipfix flush": due templates, every thread's packets, then the
   process's data callbacks. Workers quiesced. */
void flow_report_flush (vlib_main_t *vm);

/* Sets the idle-flush age (0 disables) and (re)arms the per-thread nodes. */
void flow_report_idle_flush_set (vlib_main_t *vm, f64 max_age);

/* Publishes every exporter's counters in the stats segment. */
void flow_report_stats_update (flow_report_main_t *frm);

/* Creates the stats segment entries (at init). */
void flow_report_stats_init (flow_report_main_t *frm);

#endif /* __included_vnet_flow_report_h__ */
