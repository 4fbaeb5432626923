/*
 * flow_report_cli_parse.c: what "set ipfix exporter" and "set ipfix
 * idle-flush" parse and check, with no vlib_main_t, FIB or core, so the
 * fuzzer (fuzz/cli/) runs exactly the code VPP runs. The commands that
 * apply the result are in flow_report_cli.c.
 */

#include <vnet/ipfix-export/flow_report.h>
#include <vnet/udp/udp.h>

#include "flow_report_cli.h"

/* The largest exponent given to VPP's "%f": past 1e308 a double is
   infinite, and unformat_float loops once per 8 of the exponent. */
#define FLOW_REPORT_FLOAT_EXPONENT_MAX 9999

/*
 * Sets *ok to whether VPP's "%f" (unformat_float) can read the number ahead
 * safely. It keeps two signs but takes any number right after an exponent's
 * 'e': "1e--5" writes past its array, corrupting its stack and its result.
 * And "1e2000000000" loops 250 million times (most of a second in a debug
 * VPP), with the workers stopped for the CLI (fuzz/cli/ found the first).
 * Follows unformat_float's states as far as it reads; always fails, so
 * unformat rewinds the input to where it was.
 */
static uword
unformat_float_check (unformat_input_t *input, va_list *args)
{
  int *ok = va_arg (*args, int *);
  uword c, n_input = 0, n_signs = 0, n_exponent_digits = 0, exponent = 0;
  int in_exponent = 0;

  *ok = 1;
  while (*ok && (c = unformat_get_input (input)) != UNFORMAT_END_OF_INPUT)
    {
      if (c == 'e' || c == 'E')
	{
	  if (!n_input)
	    break;
	  in_exponent = 1;
	  n_signs = 1;
	}
      else if (c == '+' || c == '-')
	{
	  if (in_exponent && !n_exponent_digits)
	    *ok = n_signs++ < 2;
	  else if (n_input)
	    break;
	  else
	    n_signs = 1;
	}
      else if (c >= '0' && c <= '9')
	{
	  if (in_exponent)
	    {
	      n_exponent_digits++;
	      exponent = exponent * 10 + c - '0';
	      *ok = exponent <= FLOW_REPORT_FLOAT_EXPONENT_MAX;
	    }
	}
      else if (c != '.')
	break;
      n_input++;
    }
  return 0;
}

/* Parses "<seconds>" or "off" (0); a negative age is parsed, for the caller
   to refuse with the value in its message. */
static uword
unformat_idle_flush_age (unformat_input_t *input, va_list *args)
{
  f64 *max_age = va_arg (*args, f64 *);
  int float_ok = 1;

  if (unformat (input, "off"))
    *max_age = 0;
  else
    {
      unformat (input, "%U", unformat_float_check, &float_ok);
      if (!float_ok || !unformat (input, "%f", max_age))
	return 0;
    }
  return 1;
}

clib_error_t *
flow_report_check_idle_flush_age (f64 max_age)
{
  if (max_age < 0)
    return clib_error_return (0, "idle-flush age must not be negative: %.3f",
			      max_age);
  /* "1e400" parses as infinity. */
  if (!(max_age <= FLOW_REPORT_IDLE_FLUSH_MAX))
    return clib_error_return (0, "idle-flush age must be at most %u s: %.3f",
			      FLOW_REPORT_IDLE_FLUSH_MAX, max_age);
  return 0;
}

clib_error_t *
flow_report_check_exporter_config (const vpp_ipfix_exporter_config_t *c)
{
  if (!ip_address_is_zero (&c->collector) &&
      ip_address_is_zero (&c->src_address))
    return clib_error_return (0, "src address required");
  if (c->collector.version != c->src_address.version)
    return clib_error_return (
      0, "src address and dest address must use same IP version");
  if (c->path_mtu > FLOW_REPORT_MTU_MAX)
    return clib_error_return (0, "too big path-mtu value, maximum is 1450");
  if (c->path_mtu < FLOW_REPORT_MTU_MIN)
    return clib_error_return (0, "too small path-mtu value, minimum is 68");
  return 0;
}

/*
 * VPP's CLI took these values literally; the core reads them as its API's
 * "default" (port 4739, 20 s), so they are refused rather than changed
 * (fuzz/cli/ found the difference).
 */
static clib_error_t *
flow_report_check_cli_sentinels (const vpp_ipfix_exporter_config_t *c)
{
  if (c->collector_port == 0xffff)
    return clib_error_return (
      0, "port 65535 is not supported: the exporter reads it as %u",
      UDP_DST_PORT_ipfix);
  if (c->template_interval == ~0)
    return clib_error_return (
      0, "template-interval %u is not supported: the exporter reads it as 20",
      c->template_interval);
  return 0;
}

clib_error_t *
flow_report_exporter_cli_parse (unformat_input_t *input,
				flow_report_fib_find_fn_t *fib_find,
				vpp_ipfix_exporter_config_t *c, f64 *idle_flush,
				int *has_idle_flush)
{
  ip_address_t zero = IP_ADDRESS_V4_ALL_0S;
  clib_error_t *error;
  u32 fib_id = ~0;

  vpp_ipfix_exporter_config_init (c);
  c->collector = zero;
  c->src_address = zero;
  c->collector_port = UDP_DST_PORT_ipfix;
  c->fib_index = ~0;
  c->path_mtu = 512;
  c->template_interval = 20;
  c->udp_checksum = 0;
  *idle_flush = 0;
  *has_idle_flush = 0;

  while (unformat_check_input (input) != UNFORMAT_END_OF_INPUT)
    {
      if (unformat (input, "collector %U", unformat_ip_address, &c->collector))
	;
      else if (unformat (input, "port %U", unformat_udp_port,
			 &c->collector_port))
	;
      else if (unformat (input, "src %U", unformat_ip_address, &c->src_address))
	;
      else if (unformat (input, "fib-id %u", &fib_id) ||
	       unformat (input, "vrf-id %u", &fib_id))
	;
      else if (unformat (input, "path-mtu %u", &c->path_mtu))
	;
      else if (unformat (input, "template-interval %u", &c->template_interval))
	;
      else if (unformat (input, "udp-checksum"))
	c->udp_checksum = 1;
      else if (unformat (input, "idle-flush %U", unformat_idle_flush_age,
			 idle_flush))
	*has_idle_flush = 1;
      else
	break;
    }

  /* The table of the collector's family (VPP looked in IPv4's only). */
  if (fib_id != ~0)
    {
      c->fib_index = fib_find (
	ip_address_family_to_fib_proto (c->collector.version), fib_id);
      if (c->fib_index == ~0)
	return clib_error_return (0, "fib ID %d doesn't exist\n", fib_id);
    }

  if ((error = flow_report_check_exporter_config (c)))
    return error;
  if ((error = flow_report_check_cli_sentinels (c)))
    return error;
  if (*has_idle_flush &&
      (error = flow_report_check_idle_flush_age (*idle_flush)))
    return error;
  return 0;
}

clib_error_t *
flow_report_idle_flush_cli_parse (unformat_input_t *input, f64 *max_age)
{
  if (!unformat_user (input, unformat_idle_flush_age, max_age))
    return clib_error_return (0, "expected <seconds> or off, got `%U'",
			      format_unformat_error, input);
  return flow_report_check_idle_flush_age (*max_age);
}
