/*
 * flow_report_cli.c: the ipfix-export debug CLI.
 *
 * "set ipfix exporter" and "ipfix flush" keep VPP's syntax, checks and
 * messages (IPv6 addresses are accepted too), and go through the core, which
 * validates the settings again and resets what must be reset.
 * "set ipfix idle-flush" and "show ipfix exporter" are ours.
 */

#include <vnet/ipfix-export/flow_report.h>
#include <vnet/fib/fib_table.h>

#include "flow_report_cli.h"

static void
flow_report_print_exporter_set (vlib_main_t *vm, const ipfix_exporter_t *exp)
{
  if (ip_address_is_zero (&exp->ipfix_collector))
    {
      vlib_cli_output (vm, "IPFIX Collector is disabled");
      return;
    }
  vlib_cli_output (vm,
		   "Collector %U, src address %U, "
		   "fib index %d, path MTU %u, "
		   "template resend interval %us, "
		   "udp checksum %s",
		   format_ip_address, &exp->ipfix_collector, format_ip_address,
		   &exp->src_address, exp->fib_index, exp->path_mtu,
		   exp->template_interval,
		   exp->udp_checksum ? "enabled" : "disabled");
}

static clib_error_t *
set_ipfix_exporter_command_fn (vlib_main_t *vm, unformat_input_t *input,
			       vlib_cli_command_t *cmd)
{
  flow_report_main_t *frm = &flow_report_main;
  vpp_ipfix_exporter_config_t c;
  clib_error_t *error;
  f64 idle_flush;
  int has_idle_flush;
  int rv;

  if ((error = flow_report_exporter_cli_parse (input, fib_table_find, &c,
					       &idle_flush, &has_idle_flush)))
    return error;

  rv = vpp_ipfix_exporter_set (frm->core, 0, &c);
  if (rv)
    return clib_error_return (0, "set ipfix exporter failed: %s (%d)",
			      vpp_ipfix_strerror (rv), rv);

  flow_report_print_exporter_set (vm, flow_report_exporter_at (0));

  if (has_idle_flush)
    flow_report_idle_flush_set (vm, idle_flush);

  /* Turn on the flow reporting process */
  flow_report_process_kick (vm);
  return 0;
}

VLIB_CLI_COMMAND (set_ipfix_exporter_command, static) = {
  .path = "set ipfix exporter",
  .short_help = "set ipfix exporter "
		"collector <ip-address> [port <port>] "
		"src <ip-address> [fib-id|vrf-id <fib-id>] "
		"[path-mtu <path-mtu>] "
		"[template-interval <template-interval>] "
		"[udp-checksum] [idle-flush <seconds>|off]",
  .function = set_ipfix_exporter_command_fn,
};

static clib_error_t *
set_ipfix_idle_flush_command_fn (vlib_main_t *vm, unformat_input_t *input,
				 vlib_cli_command_t *cmd)
{
  f64 max_age;
  clib_error_t *error;

  if ((error = flow_report_idle_flush_cli_parse (input, &max_age)))
    return error;
  flow_report_idle_flush_set (vm, max_age);
  return 0;
}

VLIB_CLI_COMMAND (set_ipfix_idle_flush_command, static) = {
  .path = "set ipfix idle-flush",
  .short_help = "set ipfix idle-flush <seconds>|off",
  .function = set_ipfix_idle_flush_command_fn,
};

static clib_error_t *
ipfix_flush_command_fn (vlib_main_t *vm, unformat_input_t *input,
			vlib_cli_command_t *cmd)
{
  flow_report_flush (vm);
  return 0;
}

VLIB_CLI_COMMAND (ipfix_flush_command, static) = {
  .path = "ipfix flush",
  .short_help = "flush the current ipfix data [for make test]",
  .function = ipfix_flush_command_fn,
};

static u32
flow_report_n_streams_in_use (const ipfix_exporter_t *exp, u32 n_slots)
{
  u32 i, n = 0;

  for (i = 0; i < n_slots; i++)
    n += exp->streams[i].domain_id != ~0;
  return n;
}

static u8 *
format_flow_report_fib (u8 *s, va_list *args)
{
  const ipfix_exporter_t *exp = va_arg (*args, const ipfix_exporter_t *);
  fib_protocol_t proto;

  if (exp->fib_index == ~0)
    return format (s, "none");
  proto = ip_address_family_to_fib_proto (exp->ipfix_collector.version);
  return format (s, "%u (table-id %u)", exp->fib_index,
		 fib_table_get_table_id (exp->fib_index, proto));
}

static void
flow_report_show_exporter (vlib_main_t *vm, flow_report_main_t *frm, u32 index,
			   const ipfix_exporter_t *exp)
{
  vpp_ipfix_counters_t c = {};
  u32 n_reports = 0, n_slots = 0;

  vpp_ipfix_exporter_sizes (frm->core, index, &n_reports, &n_slots);
  vpp_ipfix_exporter_counters (frm->core, index, &c);

  vlib_cli_output (vm, "exporter %u:", index);
  if (ip_address_is_zero (&exp->ipfix_collector))
    vlib_cli_output (vm, "  collector disabled");
  else
    vlib_cli_output (vm, "  collector %U port %u, src %U", format_ip_address,
		     &exp->ipfix_collector, exp->collector_port,
		     format_ip_address, &exp->src_address);
  vlib_cli_output (vm,
		   "  fib %U, path-mtu %u, template-interval %us, "
		   "udp-checksum %s",
		   format_flow_report_fib, exp, exp->path_mtu,
		   exp->template_interval,
		   exp->udp_checksum ? "enabled" : "disabled");
  vlib_cli_output (vm, "  reports %u, streams %u", n_reports,
		   flow_report_n_streams_in_use (exp, n_slots));
  vlib_cli_output (vm,
		   "  packets %llu, records %llu, bytes %llu, templates %llu",
		   c.packets, c.data_records, c.bytes, c.templates);
  vlib_cli_output (vm,
		   "  dropped packets %llu, dropped records %llu, "
		   "allocation failures %llu",
		   c.dropped_packets, c.dropped_records, c.alloc_failures);
}

static clib_error_t *
show_ipfix_exporter_command_fn (vlib_main_t *vm, unformat_input_t *input,
				vlib_cli_command_t *cmd)
{
  flow_report_main_t *frm = &flow_report_main;
  ipfix_exporter_t *exp;
  u32 i;

  for (i = 0; i < IPFIX_EXPORTERS_MAX; i++)
    if ((exp = flow_report_exporter_at (i)))
      flow_report_show_exporter (vm, frm, i, exp);

  if (frm->idle_flush_max_age > 0)
    /* In ms: VPP's format prints "%.3f" below 1 without its leading zero. */
    vlib_cli_output (vm, "idle flush after %u ms",
		     (u32) (frm->idle_flush_max_age * 1e3 + 0.5));
  else
    vlib_cli_output (vm, "idle flush off");
  return 0;
}

VLIB_CLI_COMMAND (show_ipfix_exporter_command, static) = {
  .path = "show ipfix exporter",
  .short_help = "show ipfix exporter",
  .function = show_ipfix_exporter_command_fn,
};
