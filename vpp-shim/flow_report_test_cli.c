/*
 * flow_report_test_cli.c: "test ipfix records", a caller of
 * vnet_ipfix_exp_get_buffer / vnet_ipfix_exp_send_buffer inside VPP.
 *
 * No in-tree plugin exports through the core's data path (flowprobe and NAT
 * build their own packets), so this CLI is how an operator, or a test, sees
 * that path work in a running VPP: records written the way an out-of-tree
 * plugin writes them, on the main thread, with the last partly filled packet
 * left for the idle flush.
 */

#include <vnet/ipfix-export/flow_report.h>

/* The records: sourceIPv4Address and octetDeltaCount, 12 bytes. */
static ipfix_report_element_t flow_report_test_elements[] = {
  { .info_element = 8, .size = 4 },
  { .info_element = 1, .size = 8 },
};

#define FLOW_REPORT_TEST_RECORD_SIZE 12

/* Identifies the test report among the exporter's (VPP's report identity). */
#define FLOW_REPORT_TEST_OPAQUE 0x1f1f

static int
flow_report_test_report (ipfix_exporter_t *exp, u32 domain_id, u16 src_port,
			 int is_add, flow_report_t **fr)
{
  vnet_flow_report_add_del_args_t a = {
    .rewrite_callback = vnet_flow_rewrite_generic_callback,
    .report_elements = flow_report_test_elements,
    .n_report_elements = ARRAY_LEN (flow_report_test_elements),
    .opaque.as_uword = FLOW_REPORT_TEST_OPAQUE,
    .is_add = is_add,
    .domain_id = domain_id,
    .src_port = src_port,
  };
  u16 template_id;
  int rv;

  rv = vnet_flow_report_add_del (exp, &a, &template_id);
  if (is_add && (rv == 0 || rv == VNET_API_ERROR_VALUE_EXIST))
    {
      u32 i;
      /* An existing report is found by its identity, as VPP finds it. */
      for (i = 0; i < vec_len (exp->reports); i++)
	if (exp->reports[i].opaque.as_uword == FLOW_REPORT_TEST_OPAQUE &&
	    exp->reports[i].template_id == template_id)
	  *fr = &exp->reports[i];
      return *fr ? 0 : VNET_API_ERROR_NO_SUCH_ENTRY;
    }
  return rv;
}

/* Writes n records as a plugin does: into the thread's buffer, sending it
   first when the next record would pass the path MTU. */
static int
flow_report_test_write (vlib_main_t *vm, ipfix_exporter_t *exp,
			flow_report_t *fr, u32 n, u32 first_value)
{
  u32 thread_index = vm->thread_index, i;
  flow_report_per_thread_t *ptd = &fr->per_thread_data[thread_index];
  vlib_buffer_t *b0;
  u8 *record;

  for (i = 0; i < n; i++)
    {
      if (!(b0 = vnet_ipfix_exp_get_buffer (vm, exp, fr, thread_index)))
	return VNET_API_ERROR_NO_SUCH_ENTRY;
      if (ptd->next_data_offset + FLOW_REPORT_TEST_RECORD_SIZE > exp->path_mtu)
	{
	  vnet_ipfix_exp_send_buffer (
	    vm, exp, fr, &exp->streams[fr->stream_index], thread_index, b0);
	  if (!(b0 = vnet_ipfix_exp_get_buffer (vm, exp, fr, thread_index)))
	    return VNET_API_ERROR_NO_SUCH_ENTRY;
	}
      record = vlib_buffer_get_current (b0) + ptd->next_data_offset;
      clib_mem_unaligned (record, u32) = clib_host_to_net_u32 (first_value + i);
      clib_mem_unaligned (record + 4, u64) =
	clib_host_to_net_u64 (first_value + i);
      ptd->next_data_offset += FLOW_REPORT_TEST_RECORD_SIZE;
      b0->current_length += FLOW_REPORT_TEST_RECORD_SIZE;
      ptd->n_data_records++;
    }
  return 0;
}

static clib_error_t *
test_ipfix_records_command_fn (vlib_main_t *vm, unformat_input_t *input,
			       vlib_cli_command_t *cmd)
{
  ipfix_exporter_t *exp = flow_report_exporter_at (0);
  u32 n = 0, first_value = 0, domain_id = 42, src_port = 4740;
  int delete = 0, send = 0, rv;
  flow_report_t *fr = 0;

  while (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    {
      if (unformat (input, "delete"))
	delete = 1;
      else if (unformat (input, "send"))
	send = 1;
      else if (unformat (input, "domain %u", &domain_id))
	;
      else if (unformat (input, "src-port %u", &src_port))
	;
      else if (unformat (input, "first %u", &first_value))
	;
      else if (unformat (input, "%u", &n))
	;
      else
	return clib_error_return (0, "unknown input `%U'",
				  format_unformat_error, input);
    }
  if (!exp || src_port > 0xffff)
    return clib_error_return (0, "no exporter 0, or a bad src-port");

  if (delete)
    {
      rv = flow_report_test_report (exp, domain_id, src_port, 0, 0);
      return flow_report_add_del_error_to_clib_error (rv);
    }
  if ((rv = flow_report_test_report (exp, domain_id, src_port, 1, &fr)))
    return flow_report_add_del_error_to_clib_error (rv);
  if ((rv = flow_report_test_write (vm, exp, fr, n, first_value)))
    return clib_error_return (0, "no buffer (%d)", rv);
  if (send)
    vnet_ipfix_exp_send_buffer (vm, exp, fr, &exp->streams[fr->stream_index],
				vm->thread_index,
				fr->per_thread_data[vm->thread_index].buffer);
  return 0;
}

VLIB_CLI_COMMAND (test_ipfix_records_command, static) = {
  .path = "test ipfix records",
  .short_help = "test ipfix records [<n>] [first <value>] [domain <id>] "
		"[src-port <port>] [send] [delete]",
  .function = test_ipfix_records_command_fn,
};
