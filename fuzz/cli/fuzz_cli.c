/*
 * fuzz_cli.c: libFuzzer target for the shim's CLI parsing
 * (vpp-shim/flow_report_cli_parse.c), run on VPP's own unformat,
 * unformat_ip_address and unformat_udp_port from a built VPP's libvppinfra
 * and libvnet.
 *
 * An input is a command line. "set ipfix idle-flush <rest>" parses <rest> as
 * that command does; "set ipfix exporter <rest>", or anything else as a
 * whole, goes through "set ipfix exporter"'s parser. Beyond crashes and
 * sanitizer reports, every input is checked against what the command
 * promises:
 *   - a refusal is the one VPP's checks give for the values parsed, in VPP's
 *     order and words, then the shim's (port 65535, template-interval
 *     4294967295, an idle-flush age outside 0..86400 s); computed here apart
 *     from the shim's checks;
 *   - accepted settings are within what the checks allow: MTU 68..1450,
 *     collector and source of one family, a source with a collector, a
 *     table of the collector's family, an idle-flush age that "show ipfix
 *     exporter" can print (a u32 of ms);
 *   - accepted settings, written back as a canonical command, parse to the
 *     same settings (round trip);
 *   - the core (vpp_ipfix_exporter_set on an instance of its own) takes them
 *     and then holds exactly those values; only template-interval 0 is
 *     refused, by the core's documented rule.
 * A broken promise prints the input and the values, then aborts: libFuzzer
 * saves the input as a crash.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vnet/ipfix-export/flow_report.h>

#include "flow_report_cli.h"

/* The fake FIB: tables 0..15 and 0xfffffffe (next to the "none" value)
   exist in both families, at an index that differs from the table id. */
#define FAKE_FIB_N_TABLES   16
#define FAKE_FIB_LAST_TABLE 0xfffffffe
#define FAKE_FIB_INDEX_XOR  0x100

static struct
{
  u32 n_calls;
  fib_protocol_t proto;
  u32 table_id;
} fib_asked;

static int
fake_fib_has (u32 table_id)
{
  return table_id < FAKE_FIB_N_TABLES || table_id == FAKE_FIB_LAST_TABLE;
}

static u32
fake_fib_find (fib_protocol_t proto, u32 table_id)
{
  fib_asked.n_calls++;
  fib_asked.proto = proto;
  fib_asked.table_id = table_id;
  return fake_fib_has (table_id) ? table_id ^ FAKE_FIB_INDEX_XOR : ~0;
}

static vpp_ipfix_main_t *core;
static const u8 *cur_data;
static size_t cur_size;

/* Reports a broken promise (a VPP format string: %U and %v work) with the
   input that broke it, then aborts. */
static void
fail (const char *fmt, ...)
{
  va_list va;
  u8 *msg;
  size_t i;

  va_start (va, fmt);
  msg = va_format (0, fmt, &va);
  va_end (va);
  fprintf (stderr, "fuzz_cli: %.*s\nfuzz_cli: input (%zu bytes): \"",
	   (int) vec_len (msg), msg, cur_size);
  for (i = 0; i < cur_size; i++)
    {
      u8 b = cur_data[i];
      if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\')
	fputc (b, stderr);
      else
	fprintf (stderr, "\\x%02x", b);
    }
  fprintf (stderr, "\"\n");
  abort ();
}

/* Checks the refusal `e` (0: none) against `want` (a vector, 0: none), and
   frees both. */
static void
expect_error (clib_error_t *e, u8 *want, const char *what)
{
  u8 *got = e ? e->what : 0;

  if (!want != !got || (want && (vec_len (want) != vec_len (got) ||
				 memcmp (want, got, vec_len (want)))))
    fail ("%s: expected %s%v%s, got %s%v%s", what, want ? "\"" : "",
	  want ? want : (u8 *) 0, want ? "\"" : "acceptance", got ? "\"" : "",
	  got ? got : (u8 *) 0, got ? "\"" : "acceptance");
  vec_free (want);
  if (e)
    clib_error_free (e);
}

/* "%.17g" reads back as the same double with C's strtod; VPP's unformat
   computes with powers of ten and may be off in the last bits. */
static int
ages_equal (f64 a, f64 b)
{
  return a == b || fabs (a - b) <= 1e-12 * fmax (fabs (a), fabs (b));
}

/* An accepted age is one "show ipfix exporter" can print: a u32 of ms. */
static void
check_age (f64 age, const char *what)
{
  if (!(age >= 0 && age * 1e3 + 0.5 < 4294967296.0))
    fail ("%s: accepted an idle-flush age show cannot print: %.17g", what, age);
}

static int
ip_address_valid (const ip_address_t *a)
{
  static const u8 zero[12];

  if (a->version == AF_IP6)
    return 1;
  /* An IPv4 address keeps the 12 bytes before it zero: the core compares
     whole addresses. */
  return a->version == AF_IP4 && !memcmp (a->ip.as_u8, zero, sizeof (zero));
}

static int
configs_equal (const vpp_ipfix_exporter_config_t *a,
	       const vpp_ipfix_exporter_config_t *b)
{
  return !ip_address_cmp (&a->collector, &b->collector) &&
	 a->collector.version == b->collector.version &&
	 !ip_address_cmp (&a->src_address, &b->src_address) &&
	 a->src_address.version == b->src_address.version &&
	 a->collector_port == b->collector_port &&
	 a->fib_index == b->fib_index && a->path_mtu == b->path_mtu &&
	 a->template_interval == b->template_interval &&
	 a->udp_checksum == b->udp_checksum &&
	 a->reliability_options == b->reliability_options;
}

static u8 *
format_config (u8 *s, va_list *args)
{
  const vpp_ipfix_exporter_config_t *c =
    va_arg (*args, const vpp_ipfix_exporter_config_t *);

  return format (s,
		 "collector %U port %u src %U fib-index %d path-mtu %u "
		 "template-interval %u udp-checksum %u reliability %u",
		 format_ip_address, &c->collector, c->collector_port,
		 format_ip_address, &c->src_address, c->fib_index, c->path_mtu,
		 c->template_interval, c->udp_checksum, c->reliability_options);
}

/* Parses `s` (of `n` bytes) as "set ipfix exporter"'s arguments. */
static clib_error_t *
parse_exporter (const u8 *s, size_t n, vpp_ipfix_exporter_config_t *c,
		f64 *idle, int *has_idle)
{
  unformat_input_t input;
  clib_error_t *e;

  memset (&fib_asked, 0, sizeof (fib_asked));
  unformat_init_string (&input, (char *) s, n);
  e = flow_report_exporter_cli_parse (&input, fake_fib_find, c, idle, has_idle);
  unformat_free (&input);
  return e;
}

/* The refusal of an idle-flush age parsed, 0 for none. */
static u8 *
expected_age_error (f64 age)
{
  if (age < 0)
    return format (0, "idle-flush age must not be negative: %.3f", age);
  if (!(age <= FLOW_REPORT_IDLE_FLUSH_MAX))
    return format (0, "idle-flush age must be at most %u s: %.3f",
		   FLOW_REPORT_IDLE_FLUSH_MAX, age);
  return 0;
}

/* The refusal VPP's command gives for the values parsed, 0 for none (in
   VPP's format, as the shim's messages are). */
static u8 *
expected_exporter_error (const vpp_ipfix_exporter_config_t *c, f64 idle,
			 int has_idle)
{
  if (fib_asked.n_calls && !fake_fib_has (fib_asked.table_id))
    return format (0, "fib ID %d doesn't exist\n", fib_asked.table_id);
  if (!ip_address_is_zero (&c->collector) &&
      ip_address_is_zero (&c->src_address))
    return format (0, "src address required");
  if (c->collector.version != c->src_address.version)
    return format (0, "src address and dest address must use same IP version");
  if (c->path_mtu > 1450)
    return format (0, "too big path-mtu value, maximum is 1450");
  if (c->path_mtu < 68)
    return format (0, "too small path-mtu value, minimum is 68");
  /* The shim's: values the core would read as its defaults. */
  if (c->collector_port == 65535)
    return format (
      0, "port 65535 is not supported: the exporter reads it as 4739");
  if (c->template_interval == 0xffffffff)
    return format (0, "template-interval 4294967295 is not supported: the "
		      "exporter reads it as 20");
  if (has_idle)
    return expected_age_error (idle);
  return 0;
}

/* The settings written back as a command the parser must read the same. */
static u8 *
canonical_exporter_command (const vpp_ipfix_exporter_config_t *c, u32 table_id,
			    f64 idle, int has_idle)
{
  u8 *s = 0;
  char age[64];

  s =
    format (s, "collector %U port %u src %U", format_ip_address, &c->collector,
	    c->collector_port, format_ip_address, &c->src_address);
  if (c->fib_index != ~0)
    /* Both spellings, by the table's parity. */
    s = format (s, " %s %u", table_id & 1 ? "vrf-id" : "fib-id", table_id);
  s = format (s, " path-mtu %u template-interval %u", c->path_mtu,
	      c->template_interval);
  if (c->udp_checksum)
    s = format (s, " udp-checksum");
  if (has_idle)
    {
      if (idle == 0)
	s = format (s, " idle-flush off");
      else
	{
	  snprintf (age, sizeof (age), "%.17g", idle);
	  s = format (s, " idle-flush %s", age);
	}
    }
  return s;
}

/* The core takes the settings and then holds exactly those values. */
static void
check_core (const vpp_ipfix_exporter_config_t *c)
{
  int want = c->template_interval == 0 ? VPP_IPFIX_ERROR_INVALID_VALUE : 0;
  int rv = vpp_ipfix_exporter_set (core, 0, c);
  ipfix_exporter_t *exp;

  if (rv != want)
    fail ("core: vpp_ipfix_exporter_set returned %d (%s), expected %d for "
	  "%U",
	  rv, vpp_ipfix_strerror (rv), want, format_config, c);
  if (rv)
    return;
  exp = vpp_ipfix_exporter_get (core, 0);
  if (!exp)
    fail ("core: exporter 0 is gone");
  if (ip_address_cmp (&exp->ipfix_collector, &c->collector) ||
      ip_address_cmp (&exp->src_address, &c->src_address) ||
      exp->collector_port != c->collector_port ||
      exp->fib_index != c->fib_index || exp->path_mtu != c->path_mtu ||
      exp->template_interval != c->template_interval ||
      exp->udp_checksum != c->udp_checksum)
    fail ("core: asked for %U; it holds collector %U port %u src %U "
	  "fib-index %d path-mtu %u template-interval %u udp-checksum %u",
	  format_config, c, format_ip_address, &exp->ipfix_collector,
	  exp->collector_port, format_ip_address, &exp->src_address,
	  exp->fib_index, exp->path_mtu, exp->template_interval,
	  exp->udp_checksum);
}

static void
fuzz_exporter (const u8 *data, size_t size)
{
  vpp_ipfix_exporter_config_t c, c2;
  f64 idle, idle2;
  int has_idle, has_idle2;
  clib_error_t *e;
  u8 *want, *cmd;
  u32 table_id;

  e = parse_exporter (data, size, &c, &idle, &has_idle);
  if (fib_asked.n_calls > 1)
    fail ("exporter: %u FIB lookups, expected at most one", fib_asked.n_calls);
  if (fib_asked.n_calls &&
      fib_asked.proto !=
	(c.collector.version == AF_IP6 ? FIB_PROTOCOL_IP6 : FIB_PROTOCOL_IP4))
    fail ("exporter: FIB looked up in protocol %d for a collector of family "
	  "%d",
	  fib_asked.proto, c.collector.version);
  if ((want = expected_exporter_error (&c, idle, has_idle)))
    {
      expect_error (e, want, "exporter");
      return;
    }
  expect_error (e, 0, "exporter");

  /* Accepted: within what the checks allow. */
  if (!ip_address_valid (&c.collector) || !ip_address_valid (&c.src_address))
    fail ("exporter: accepted an address of no family: %U", format_config, &c);
  if (c.path_mtu < 68 || c.path_mtu > 1450 || c.collector_port == 0 ||
      c.udp_checksum > 1 || c.reliability_options)
    fail ("exporter: accepted %U", format_config, &c);
  if (fib_asked.n_calls ?
	c.fib_index != (fib_asked.table_id ^ FAKE_FIB_INDEX_XOR) :
	c.fib_index != ~0)
    fail ("exporter: fib index %d after %u lookups (table %u)", c.fib_index,
	  fib_asked.n_calls, fib_asked.table_id);
  if (has_idle)
    check_age (idle, "exporter");

  /* Round trip. */
  table_id = fib_asked.table_id;
  cmd = canonical_exporter_command (&c, table_id, idle, has_idle);
  e = parse_exporter (cmd, vec_len (cmd), &c2, &idle2, &has_idle2);
  if (e)
    fail ("round trip: \"%v\" refused: %v", cmd, e->what);
  if (!configs_equal (&c, &c2) || has_idle != has_idle2 ||
      (has_idle && !ages_equal (idle, idle2)))
    fail ("round trip: \"%v\" read back as %U (idle %d %.17g), not %U "
	  "(idle %d %.17g)",
	  cmd, format_config, &c2, has_idle2, idle2, format_config, &c,
	  has_idle, idle);
  vec_free (cmd);

  check_core (&c);
}

static void
fuzz_idle_flush (const u8 *data, size_t size)
{
  static const char unparsed[] = "expected <seconds> or off, got `";
  unformat_input_t input;
  clib_error_t *e;
  f64 age = -1, age2 = -1;
  char text[64];
  u8 *want;

  unformat_init_string (&input, (char *) data, size);
  e = flow_report_idle_flush_cli_parse (&input, &age);
  unformat_free (&input);
  if (e && vec_len (e->what) >= sizeof (unparsed) - 1 &&
      !memcmp (e->what, unparsed, sizeof (unparsed) - 1))
    {
      clib_error_free (e);
      return;
    }
  /* Parsed: refused exactly when out of range. */
  if ((want = expected_age_error (age)))
    {
      expect_error (e, want, "idle-flush");
      return;
    }
  expect_error (e, 0, "idle-flush");
  check_age (age, "idle-flush");

  /* Round trip. */
  if (age == 0)
    strcpy (text, "off");
  else
    snprintf (text, sizeof (text), "%.17g", age);
  unformat_init_string (&input, text, strlen (text));
  e = flow_report_idle_flush_cli_parse (&input, &age2);
  unformat_free (&input);
  if (e)
    fail ("idle-flush round trip: \"%s\" refused: %v", text, e->what);
  if (!ages_equal (age, age2))
    fail ("idle-flush round trip: \"%s\" read back as %.17g", text, age2);
}

/* The core's host: no packet is ever built (no report is added), so every
   op but the clock refuses. */
static void *
host_buffer_alloc (void *ctx, uint32_t thread_index, uint32_t min_capacity)
{
  return 0;
}

static void
host_buffer_free (void *ctx, uint32_t thread_index, void *buffer)
{
}

static uint8_t *
host_buffer_data (void *ctx, void *buffer)
{
  return 0;
}

static uint32_t
host_buffer_capacity (void *ctx, void *buffer)
{
  return 0;
}

static int32_t
host_enqueue (void *ctx, uint32_t thread_index, void *buffer,
	      const vpp_ipfix_packet_info_t *info)
{
  return -1;
}

static double
host_now (void *ctx)
{
  return 1e9;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vpp_ipfix_ops_t ops = {
    .buffer_alloc = host_buffer_alloc,
    .buffer_free = host_buffer_free,
    .buffer_data = host_buffer_data,
    .buffer_capacity = host_buffer_capacity,
    .enqueue = host_enqueue,
    .now = host_now,
  };
  int rv;

  /* VPP's vectors (unformat's input, formatted strings) live on its heap. */
  if (!clib_mem_init (0, 64ULL << 20))
    {
      fprintf (stderr, "fuzz_cli: clib_mem_init failed\n");
      exit (1);
    }
  if ((rv = vpp_ipfix_main_create (&ops, 1, 0, &core)))
    {
      fprintf (stderr, "fuzz_cli: vpp_ipfix_main_create: %d\n", rv);
      exit (1);
    }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char idle_cmd[] = "set ipfix idle-flush";
  static const char exporter_cmd[] = "set ipfix exporter";
  const size_t n_idle = sizeof (idle_cmd) - 1;
  const size_t n_exporter = sizeof (exporter_cmd) - 1;

  cur_data = data;
  cur_size = size;
  if (size >= n_idle && !memcmp (data, idle_cmd, n_idle))
    fuzz_idle_flush (data + n_idle, size - n_idle);
  else if (size >= n_exporter && !memcmp (data, exporter_cmd, n_exporter))
    fuzz_exporter (data + n_exporter, size - n_exporter);
  else
    fuzz_exporter (data, size);
  return 0;
}
