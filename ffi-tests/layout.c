/* layout.c: proves at compile time that the C-visible structs of vpp_ipfix.h
   have VPP's sizes and offsets on x86-64 (and ours where they differ on
   purpose), and prints them. */

#include <stddef.h>
#include <stdio.h>

#include "test_host.h"

#define MEMBER_SIZE(type, member) sizeof (((type *) 0)->member)

#define ASSERT_SIZE(type, n)                                                   \
  _Static_assert(sizeof (type) == (n), "sizeof (" #type ") != " #n)
#define ASSERT_ALIGN(type, n)                                                  \
  _Static_assert(_Alignof(type) == (n), "_Alignof (" #type ") != " #n)
#define ASSERT_OFFSET(type, member, n)                                         \
  _Static_assert(offsetof (type, member) == (n),                               \
		 "offsetof (" #type ", " #member ") != " #n)
#define ASSERT_MEMBER_SIZE(type, member, n)                                    \
  _Static_assert(MEMBER_SIZE (type, member) == (n),                            \
		 "sizeof (" #type "." #member ") != " #n)

/* VPP's flow_report_stream_t. */
ASSERT_SIZE (flow_report_stream_t, 16);
ASSERT_OFFSET (flow_report_stream_t, domain_id, 0);
ASSERT_OFFSET (flow_report_stream_t, sequence_number, 4);
ASSERT_OFFSET (flow_report_stream_t, src_port, 8);
ASSERT_OFFSET (flow_report_stream_t, n_reports, 10);
ASSERT_OFFSET (flow_report_stream_t, next_template_no, 12);

/* VPP's flow_report_t. */
ASSERT_SIZE (flow_report_t, 104);
ASSERT_OFFSET (flow_report_t, rewrite, 0);
ASSERT_OFFSET (flow_report_t, template_id, 8);
ASSERT_OFFSET (flow_report_t, data_record_size, 12);
ASSERT_OFFSET (flow_report_t, per_thread_data, 16);
ASSERT_OFFSET (flow_report_t, stream_index, 24);
ASSERT_OFFSET (flow_report_t, last_template_sent, 32);
ASSERT_OFFSET (flow_report_t, update_rewrite, 40);
ASSERT_OFFSET (flow_report_t, fields_to_send, 48);
ASSERT_OFFSET (flow_report_t, opaque, 56);
ASSERT_OFFSET (flow_report_t, rewrite_callback, 64);
ASSERT_OFFSET (flow_report_t, report_elements, 72);
ASSERT_OFFSET (flow_report_t, n_report_elements, 80);
ASSERT_OFFSET (flow_report_t, stream_indexp, 88);
ASSERT_OFFSET (flow_report_t, flow_data_callback, 96);

/* VPP's ipfix_exporter_t. */
ASSERT_SIZE (ipfix_exporter_t, 80);
ASSERT_OFFSET (ipfix_exporter_t, reports, 0);
ASSERT_OFFSET (ipfix_exporter_t, streams, 8);
ASSERT_OFFSET (ipfix_exporter_t, ipfix_collector, 16);
ASSERT_OFFSET (ipfix_exporter_t, collector_port, 34);
ASSERT_OFFSET (ipfix_exporter_t, src_address, 36);
ASSERT_OFFSET (ipfix_exporter_t, fib_index, 56);
ASSERT_OFFSET (ipfix_exporter_t, path_mtu, 60);
ASSERT_OFFSET (ipfix_exporter_t, template_interval, 64);
ASSERT_OFFSET (ipfix_exporter_t, udp_checksum, 68);
ASSERT_OFFSET (ipfix_exporter_t, all_headers_size, 72);

/* VPP's ip_address_t: packed, 17 bytes. */
ASSERT_SIZE (ip_address_t, 17);
ASSERT_ALIGN (ip_address_t, 1);

/* VPP's vnet_flow_report_add_del_args_t. */
ASSERT_SIZE (vnet_flow_report_add_del_args_t, 72);
ASSERT_OFFSET (vnet_flow_report_add_del_args_t, opaque, 32);
ASSERT_OFFSET (vnet_flow_report_add_del_args_t, is_add, 40);
ASSERT_OFFSET (vnet_flow_report_add_del_args_t, domain_id, 44);
ASSERT_OFFSET (vnet_flow_report_add_del_args_t, src_port, 48);
ASSERT_OFFSET (vnet_flow_report_add_del_args_t, stream_indexp, 56);
ASSERT_OFFSET (vnet_flow_report_add_del_args_t, flow_report_index, 64);

/* VPP's opaque_t: a pointer-sized union. */
ASSERT_SIZE (opaque_t, 8);

/* Ours on purpose: flow_report_per_thread_t keeps VPP's prefix, widens
   n_data_records from u8 to u16 and fills its own 128 bytes. */
ASSERT_SIZE (flow_report_per_thread_t, 128);
ASSERT_ALIGN (flow_report_per_thread_t, 128);
ASSERT_OFFSET (flow_report_per_thread_t, buffer, 0);
ASSERT_OFFSET (flow_report_per_thread_t, frame, 8);
ASSERT_OFFSET (flow_report_per_thread_t, next_data_offset, 16);
ASSERT_OFFSET (flow_report_per_thread_t, n_data_records, 18);
ASSERT_MEMBER_SIZE (flow_report_per_thread_t, next_data_offset, 2);
ASSERT_MEMBER_SIZE (flow_report_per_thread_t, n_data_records, 2);

#define PRINT_SIZE(type)                                                       \
  printf ("%-40s size %3zu align %3zu\n", #type, sizeof (type), _Alignof(type))

int
main (void)
{
  PRINT_SIZE (flow_report_stream_t);
  PRINT_SIZE (flow_report_t);
  PRINT_SIZE (ipfix_exporter_t);
  PRINT_SIZE (ip_address_t);
  PRINT_SIZE (vnet_flow_report_add_del_args_t);
  PRINT_SIZE (opaque_t);
  PRINT_SIZE (flow_report_per_thread_t);
  printf ("%-40s size %3zu\n", "flow_report_per_thread_t.n_data_records",
	  MEMBER_SIZE (flow_report_per_thread_t, n_data_records));
  return 0;
}
