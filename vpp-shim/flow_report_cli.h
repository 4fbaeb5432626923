/*
 * flow_report_cli.h: the parsing and checks of the ipfix-export CLI, kept
 * apart from the commands (flow_report_cli.c) so they run without a
 * vlib_main_t: fuzz/cli/ links flow_report_cli_parse.c on its own.
 */

#ifndef __included_flow_report_cli_h__
#define __included_flow_report_cli_h__

#include <vnet/ipfix-export/flow_report.h>

/* RFC 7011 section 10.3.3; VPP does not fragment above 1450. */
#define FLOW_REPORT_MTU_MIN 68
#define FLOW_REPORT_MTU_MAX 1450

/* The longest idle-flush age, in seconds: far beyond any use, and "show
   ipfix exporter" prints the age in ms as a u32. */
#define FLOW_REPORT_IDLE_FLUSH_MAX 86400

/* fib_table_find's type: the FIB index of a table, ~0 when there is none. */
typedef u32 (flow_report_fib_find_fn_t) (fib_protocol_t proto, u32 table_id);

/* VPP's checks of an exporter's settings, in VPP's order and words. */
clib_error_t *
flow_report_check_exporter_config (const vpp_ipfix_exporter_config_t *c);

/* Refuses a negative, too long or infinite idle-flush age. */
clib_error_t *flow_report_check_idle_flush_age (f64 max_age);

/*
 * The arguments of "set ipfix exporter", with VPP's defaults and checks,
 * then the shim's: fills *c (its fib_index from fib_find), and *idle_flush
 * with *has_idle_flush set when "idle-flush" is given. Returns the error the
 * command reports, 0 when the settings can go to the core.
 */
clib_error_t *flow_report_exporter_cli_parse (
  unformat_input_t *input, flow_report_fib_find_fn_t *fib_find,
  vpp_ipfix_exporter_config_t *c, f64 *idle_flush, int *has_idle_flush);

/* The argument of "set ipfix idle-flush": "<seconds>" or "off" (0). */
clib_error_t *flow_report_idle_flush_cli_parse (unformat_input_t *input,
						f64 *max_age);

#endif /* __included_flow_report_cli_h__ */
