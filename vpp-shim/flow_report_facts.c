/*
 * flow_report_facts.c: compile-time proof that our flow_report.h offers what
 * VPP's callers use (VPP-IPFIX-FACTS.md): every type, field and function,
 * with VPP's types. No code: the real VPP build (VPP's -Wall -Werror)
 * compiles it with the shim, and a mismatch stops that build.
 */

#include <vnet/ipfix-export/flow_report.h>

#define FACT_TYPE(expr, type)                                                  \
  _Static_assert(__builtin_types_compatible_p (__typeof__ (expr), type),       \
		 #expr " is " #type)

#define FACT_FIELD(s, field, type) FACT_TYPE (((s *) 0)->field, type)

/* flow_report_stream_t: one Transport Session and Observation Domain. */
FACT_FIELD (flow_report_stream_t, domain_id, u32);
FACT_FIELD (flow_report_stream_t, sequence_number, u32);
FACT_FIELD (flow_report_stream_t, src_port, u16);
FACT_FIELD (flow_report_stream_t, n_reports, u16);
FACT_FIELD (flow_report_stream_t, next_template_no, u16);
_Static_assert(sizeof (flow_report_stream_t) == 16, "VPP's 16 bytes");

/* flow_report_per_thread_t: VPP's fields (n_data_records widened). */
FACT_TYPE (((flow_report_per_thread_t *) 0)->next_data_offset, u16);
_Static_assert(sizeof (((flow_report_per_thread_t *) 0)->n_data_records) >=
		 sizeof (u8),
	       "n_data_records holds at least VPP's u8");
FACT_TYPE (((flow_report_per_thread_t *) 0)->buffer, void *);
FACT_TYPE (((flow_report_per_thread_t *) 0)->frame, void *);

/* flow_report_t */
FACT_FIELD (flow_report_t, rewrite, u8 *);
FACT_FIELD (flow_report_t, template_id, u16);
FACT_FIELD (flow_report_t, data_record_size, int);
FACT_FIELD (flow_report_t, per_thread_data, flow_report_per_thread_t *);
FACT_FIELD (flow_report_t, stream_index, u32);
FACT_FIELD (flow_report_t, last_template_sent, f64);
FACT_FIELD (flow_report_t, update_rewrite, int);
FACT_FIELD (flow_report_t, fields_to_send, uword *);
FACT_FIELD (flow_report_t, opaque, opaque_t);
FACT_FIELD (flow_report_t, rewrite_callback, vnet_flow_rewrite_callback_t *);
FACT_FIELD (flow_report_t, report_elements, ipfix_report_element_t *);
FACT_FIELD (flow_report_t, n_report_elements, u32);
FACT_FIELD (flow_report_t, stream_indexp, u32 *);
FACT_FIELD (flow_report_t, flow_data_callback, vnet_flow_data_callback_t *);

/* ipfix_exporter_t: reports and streams are VPP vectors (vec_len works). */
FACT_FIELD (ipfix_exporter_t, reports, flow_report_t *);
FACT_FIELD (ipfix_exporter_t, streams, flow_report_stream_t *);
FACT_FIELD (ipfix_exporter_t, ipfix_collector, ip_address_t);
FACT_FIELD (ipfix_exporter_t, collector_port, u16);
FACT_FIELD (ipfix_exporter_t, src_address, ip_address_t);
FACT_FIELD (ipfix_exporter_t, fib_index, u32);
FACT_FIELD (ipfix_exporter_t, path_mtu, u32);
FACT_FIELD (ipfix_exporter_t, template_interval, u32);
FACT_FIELD (ipfix_exporter_t, udp_checksum, u8);
FACT_FIELD (ipfix_exporter_t, all_headers_size, u32);

/* flow_report_main_t: VPP's fields, in VPP's order, first. */
FACT_FIELD (flow_report_main_t, exporters, ipfix_exporter_t *);
FACT_FIELD (flow_report_main_t, unix_time_0, u32);
FACT_FIELD (flow_report_main_t, vlib_time_0, f64);
FACT_FIELD (flow_report_main_t, vlib_main, vlib_main_t *);
FACT_FIELD (flow_report_main_t, vnet_main, vnet_main_t *);
FACT_FIELD (flow_report_main_t, msg_id_base, u16);
_Static_assert(offsetof (flow_report_main_t, exporters) == 0 &&
		 offsetof (flow_report_main_t, unix_time_0) == 8 &&
		 offsetof (flow_report_main_t, vlib_time_0) == 16 &&
		 offsetof (flow_report_main_t, vlib_main) == 24 &&
		 offsetof (flow_report_main_t, vnet_main) == 32 &&
		 offsetof (flow_report_main_t, msg_id_base) == 40,
	       "flow_report_main_t starts with VPP's layout");
FACT_TYPE (flow_report_main, flow_report_main_t);
FACT_TYPE (flow_report_process_node, vlib_node_registration_t);

/* ipfix_report_element_t, opaque_t */
FACT_FIELD (ipfix_report_element_t, info_element, u32);
FACT_FIELD (ipfix_report_element_t, size, u32);
FACT_FIELD (opaque_t, as_ptr, void *);
FACT_FIELD (opaque_t, as_uword, uword);

/* vnet_flow_report_add_del_args_t */
FACT_FIELD (vnet_flow_report_add_del_args_t, flow_data_callback,
	    vnet_flow_data_callback_t *);
FACT_FIELD (vnet_flow_report_add_del_args_t, rewrite_callback,
	    vnet_flow_rewrite_callback_t *);
FACT_FIELD (vnet_flow_report_add_del_args_t, report_elements,
	    ipfix_report_element_t *);
FACT_FIELD (vnet_flow_report_add_del_args_t, n_report_elements, u32);
FACT_FIELD (vnet_flow_report_add_del_args_t, opaque, opaque_t);
FACT_FIELD (vnet_flow_report_add_del_args_t, is_add, int);
FACT_FIELD (vnet_flow_report_add_del_args_t, domain_id, u32);
FACT_FIELD (vnet_flow_report_add_del_args_t, src_port, u16);
FACT_FIELD (vnet_flow_report_add_del_args_t, stream_indexp, u32 *);
FACT_FIELD (vnet_flow_report_add_del_args_t, flow_report_index, u32);

/* The callback types: VPP's function types. */
FACT_TYPE (vnet_flow_data_callback_t *,
	   vlib_frame_t *(*) (flow_report_main_t *, ipfix_exporter_t *,
			      flow_report_t *, vlib_frame_t *, u32 *, u32));
FACT_TYPE (vnet_flow_rewrite_callback_t *,
	   u8 *(*) (ipfix_exporter_t *, flow_report_t *, u16,
		    ipfix_report_element_t *, u32, u32 *) );

/* The functions, with VPP's signatures. */
FACT_TYPE (&vnet_flow_report_add_del,
	   int (*) (ipfix_exporter_t *, vnet_flow_report_add_del_args_t *,
		    u16 *));
FACT_TYPE (&flow_report_add_del_error_to_clib_error, clib_error_t *(*) (int) );
FACT_TYPE (&vnet_flow_reports_reset, void (*) (ipfix_exporter_t *));
FACT_TYPE (&vnet_stream_reset, void (*) (ipfix_exporter_t *, u32));
FACT_TYPE (&vnet_stream_change,
	   int (*) (ipfix_exporter_t *, u32, u16, u32, u16));
FACT_TYPE (&vnet_ipfix_exporter_lookup,
	   ipfix_exporter_t *(*) (const ip_address_t *) );
FACT_TYPE (&vnet_flow_rewrite_generic_callback, vnet_flow_rewrite_callback_t *);
FACT_TYPE (&vnet_ipfix_exp_get_buffer,
	   vlib_buffer_t *(*) (vlib_main_t *, ipfix_exporter_t *,
			       flow_report_t *, clib_thread_index_t));
FACT_TYPE (&vnet_ipfix_exp_send_buffer,
	   void (*) (vlib_main_t *, ipfix_exporter_t *, flow_report_t *,
		     flow_report_stream_t *, clib_thread_index_t,
		     vlib_buffer_t *));
