/* bad_input.c: feeds every function of the vpp-ipfix C API bad arguments
   (NULL pointers, out-of-range indices and sizes, failing hosts) and checks
   each gets its error code, changes nothing it should not, and leaks
   nothing. */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_check.h"
#include "test_fixture.h"
#include "test_host.h"
#include "test_snapshot.h"

#define N_THREADS  2
#define START_TIME 1700000000.0


/* A fresh host and instance (N_THREADS threads, VPP's five exporters). 0
   when ready. */
static int
fixture_init (fixture_t *f)
{
  return fixture_init_threads (f, N_THREADS);
}

static vnet_flow_report_add_del_args_t
fp_args (uintptr_t opaque)
{
  vnet_flow_report_add_del_args_t a;

  memset (&a, 0, sizeof (a));
  a.report_elements = fp_elts;
  a.n_report_elements = FP_N_ELTS;
  a.opaque.as_uword = opaque;
  a.is_add = 1;
  a.domain_id = 1;
  a.src_port = 30001;
  return a;
}

/* Adds flowprobe's record as report 0 of exporter 0, stream (1, 30001). */
static int
add_fp (fixture_t *f)
{
  vnet_flow_report_add_del_args_t a = fp_args (1);
  int rv = vpp_ipfix_report_add_del (f->main, 0, &a, NULL);
  CHECK_EQ (rv, 0);
  return rv;
}

/* Every function, with NULL for each of its pointer arguments. */
static void
test_null_pointers (void)
{
  fixture_t f;
  snapshot_t s;
  vpp_ipfix_exporter_config_t cfg = ipv4_config (512), cfg2;
  vnet_flow_report_add_del_args_t args = fp_args (77);
  vpp_ipfix_field_t fields[2] = { { 2, 8, 0 }, { 1, 4, 6871 } };
  vpp_ipfix_report_config_t rc;
  vpp_ipfix_counters_t c;
  vpp_ipfix_ops_t ops;
  vpp_ipfix_main_t *m2;
  ipfix_exporter_t *exp;
  ip_address_t a = test_ip4 (127, 0, 0, 1);
  uint8_t rec[FP_RECORD_SIZE];
  uint8_t *p;
  char pcap[64];
  opaque_t op;
  int32_t err;
  uint32_t u = 99, u2 = 99;
  uint16_t tid = 99;
  uint8_t due = 99;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  add_fp (&f);
  exp = vpp_ipfix_exporter_get (f.main, 0);
  memset (rec, 0x11, sizeof (rec));
  memset (&rc, 0, sizeof (rc));
  rc.domain_id = 2;
  rc.src_port = 30002;
  rc.fields = fields;
  rc.n_fields = 2;
  rc.opaque.as_uword = 78;
  op.as_uword = 78;
  cfg2 = ipv4_config (512);
  cfg2.collector = test_ip4 (127, 0, 0, 9);
  ops = test_host_ops (f.host);
  snprintf (pcap, sizeof (pcap), "/tmp/bad_input-%d.pcap", (int) getpid ());
  take_snapshot (&f, &s);

  /* Per-thread calls. */
  err = 0;
  CHECK_NULL (vpp_ipfix_buffer_get (NULL, 0, 0, 1, &err));
  CHECK_EQ (err, VPP_IPFIX_ERROR_NULL_POINTER);
  CHECK_NULL (vpp_ipfix_buffer_get (NULL, 0, 0, 1, NULL));
  CHECK_EQ (vpp_ipfix_buffer_send (NULL, 0, 0, 1), -1001);
  err = 0;
  CHECK_NULL (vpp_ipfix_record_reserve (NULL, 0, 0, 1, 56, &err));
  CHECK_EQ (err, -1001);
  CHECK_NULL (vpp_ipfix_record_reserve (NULL, 0, 0, 1, 56, NULL));
  CHECK_EQ (vpp_ipfix_record_append (NULL, 0, 0, 1, rec, sizeof (rec)), -1001);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, NULL, sizeof (rec)),
	    -1001);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, NULL, 0), -1001);
  CHECK_EQ (vpp_ipfix_thread_flush_idle (NULL, 0, 0, &u), -1001);

  /* Exporters. */
  CHECK_EQ (vpp_ipfix_exporter_config_init (NULL), -1001);
  CHECK_EQ (vpp_ipfix_exporter_set (NULL, 0, &cfg), -1001);
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, NULL), -1001);
  CHECK_EQ (vpp_ipfix_exporter_create (NULL, &cfg2, &u), -1001);
  CHECK_EQ (vpp_ipfix_exporter_create (f.main, NULL, &u), -1001);
  CHECK_EQ (vpp_ipfix_exporter_create (f.main, &cfg2, NULL), -1001);
  CHECK_UEQ (u, 99);
  CHECK_NULL (vpp_ipfix_exporter_get (f.main, 1));
  CHECK_EQ (vpp_ipfix_exporter_delete (NULL, 0), -1001);
  CHECK_EQ (vpp_ipfix_exporter_lookup (NULL, &a, &u), -1001);
  CHECK_EQ (vpp_ipfix_exporter_lookup (f.main, NULL, &u), -1001);
  CHECK_EQ (vpp_ipfix_exporter_lookup (f.main, &a, NULL), -1001);
  CHECK_UEQ (u, 99);
  CHECK_NULL (vpp_ipfix_exporter_get (NULL, 0));
  CHECK_EQ (vpp_ipfix_exporter_index (NULL, exp, &u), -1001);
  CHECK_EQ (vpp_ipfix_exporter_index (f.main, NULL, &u), -1001);
  CHECK_EQ (vpp_ipfix_exporter_index (f.main, exp, NULL), -1001);
  CHECK_UEQ (u, 99);
  CHECK_EQ (vpp_ipfix_exporter_sizes (NULL, 0, &u, &u2), -1001);
  CHECK_UEQ (u, 99);
  CHECK_UEQ (u2, 99);
  CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, 0, NULL, NULL), 0);
  CHECK_EQ (vpp_ipfix_exporter_counters (NULL, 0, &c), -1001);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, NULL), -1001);

  /* The instance. */
  m2 = NULL;
  CHECK_EQ (vpp_ipfix_main_create (NULL, N_THREADS, 0, &m2), -1001);
  CHECK_NULL (m2);
  CHECK_EQ (vpp_ipfix_main_create (&ops, N_THREADS, 0, NULL), -1001);
  CHECK_EQ (vpp_ipfix_main_create_pcap (NULL, N_THREADS, 0, &m2), -1001);
  CHECK_NULL (m2);
  CHECK_EQ (vpp_ipfix_main_create_pcap (pcap, N_THREADS, 0, NULL), -1001);
  unlink (pcap);
  vpp_ipfix_main_destroy (NULL);
  CHECK_EQ (vpp_ipfix_flush (NULL), -1001);
  CHECK_EQ (vpp_ipfix_templates_send_due (NULL, &u, NULL), -1001);
  CHECK_UEQ (u, 99);
  CHECK_UEQ (vpp_ipfix_main_n_threads (NULL), 0);

  /* Reports and streams. */
  CHECK_EQ (vpp_ipfix_report_add_del (NULL, 0, &args, &tid), -1001);
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, NULL, &tid), -1001);
  args.report_elements = NULL;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &args, &tid), -1001);
  args.report_elements = fp_elts;
  CHECK_UEQ (tid, 99);
  CHECK_EQ (vpp_ipfix_report_add (NULL, 0, &rc, &u, &tid), -1001);
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, NULL, &u, &tid), -1001);
  rc.fields = NULL;
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, &rc, &u, &tid), -1001);
  rc.fields = fields;
  CHECK_UEQ (u, 99);
  CHECK_UEQ (tid, 99);
  CHECK_EQ (vpp_ipfix_report_delete (NULL, 0, 1, 30001, op, &tid), -1001);
  CHECK_EQ (vpp_ipfix_reports_reset (NULL, 0), -1001);
  CHECK_EQ (vpp_ipfix_stream_reset (NULL, 0, 0), -1001);
  CHECK_EQ (vpp_ipfix_stream_change (NULL, 0, 1, 30001, 5, 30005), -1001);
  CHECK_NULL (vpp_ipfix_report_get (NULL, 0, 0));
  CHECK_NULL (vpp_ipfix_stream_get (NULL, 0, 0));
  CHECK_EQ (vpp_ipfix_report_counters (NULL, 0, 0, &c), -1001);
  CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, 0, NULL), -1001);
  CHECK_EQ (vpp_ipfix_template_send (NULL, 0, 0), -1001);
  CHECK_EQ (vpp_ipfix_template_is_due (NULL, 0, 0, START_TIME, &due), -1001);
  CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, 0, START_TIME, NULL), -1001);
  CHECK_UEQ (due, 99);
  CHECK_UNCHANGED (&f, &s);

  /* Out-pointers documented as optional may be NULL in a call that works. */
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &args, NULL), 0);
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, &rc, NULL, NULL), 0);
  CHECK_EQ (vpp_ipfix_report_delete (f.main, 0, 2, 30002, op, NULL), 0);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, NULL, NULL), 0);
  CHECK_NOT_NULL (vpp_ipfix_buffer_get (f.main, 0, 0, 1, NULL));
  p = vpp_ipfix_record_reserve (f.main, 0, 0, 1, FP_RECORD_SIZE, NULL);
  CHECK_NOT_NULL (p);
  if (p)
    memset (p, 0x66, FP_RECORD_SIZE);
  CHECK_EQ (vpp_ipfix_thread_flush_idle (f.main, 1, 0, NULL), 0);
  CHECK_UEQ (test_host_n_packets (f.host), 3);
  fixture_fini (&f);
}

static void
test_out_of_range_indices (void)
{
  static const uint32_t bad_exporters[] = { 1, 5, 64, UINT32_MAX };
  static const uint32_t bad_reports[] = { 1, 64, UINT32_MAX };
  static const uint32_t bad_streams[] = { 1, 64, UINT32_MAX };
  static const uint32_t bad_threads[] = { N_THREADS, 1024, UINT32_MAX };
  fixture_t f;
  snapshot_t s;
  vpp_ipfix_exporter_config_t cfg = ipv4_config (512);
  vnet_flow_report_add_del_args_t args = fp_args (2);
  vpp_ipfix_field_t field = { 2, 8, 0 };
  vpp_ipfix_report_config_t rc;
  vpp_ipfix_counters_t c;
  uint8_t rec[FP_RECORD_SIZE];
  opaque_t op;
  int32_t err;
  uint32_t u = 99;
  uint16_t tid = 99;
  uint8_t due = 99;
  size_t i;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  add_fp (&f);
  memset (rec, 0x22, sizeof (rec));
  memset (&rc, 0, sizeof (rc));
  rc.domain_id = 1;
  rc.src_port = 30001;
  rc.fields = &field;
  rc.n_fields = 1;
  rc.opaque.as_uword = 3;
  op.as_uword = 1;
  take_snapshot (&f, &s);

  for (i = 0; i < sizeof (bad_exporters) / sizeof (bad_exporters[0]); i++)
    {
      uint32_t e = bad_exporters[i];
      CHECK_EQ (vpp_ipfix_exporter_set (f.main, e, &cfg), -6);
      CHECK_EQ (vpp_ipfix_exporter_delete (f.main, e), -6);
      CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, e, &u, &u), -6);
      CHECK_EQ (vpp_ipfix_exporter_counters (f.main, e, &c), -6);
      CHECK_NULL (vpp_ipfix_exporter_get (f.main, e));
      CHECK_EQ (vpp_ipfix_report_add_del (f.main, e, &args, &tid), -6);
      CHECK_EQ (vpp_ipfix_report_add (f.main, e, &rc, &u, &tid), -6);
      CHECK_EQ (vpp_ipfix_report_delete (f.main, e, 1, 30001, op, &tid), -6);
      CHECK_EQ (vpp_ipfix_reports_reset (f.main, e), -6);
      CHECK_EQ (vpp_ipfix_stream_reset (f.main, e, 0), -6);
      CHECK_EQ (vpp_ipfix_stream_change (f.main, e, 1, 30001, 5, 30005), -6);
      CHECK_NULL (vpp_ipfix_report_get (f.main, e, 0));
      CHECK_NULL (vpp_ipfix_stream_get (f.main, e, 0));
      CHECK_EQ (vpp_ipfix_report_counters (f.main, e, 0, &c), -6);
      CHECK_EQ (vpp_ipfix_template_send (f.main, e, 0), -6);
      CHECK_EQ (vpp_ipfix_template_is_due (f.main, e, 0, START_TIME, &due), -6);
      err = 0;
      CHECK_NULL (vpp_ipfix_buffer_get (f.main, e, 0, 1, &err));
      CHECK_EQ (err, -6);
      CHECK_EQ (vpp_ipfix_buffer_send (f.main, e, 0, 1), -6);
      err = 0;
      CHECK_NULL (vpp_ipfix_record_reserve (f.main, e, 0, 1, 56, &err));
      CHECK_EQ (err, -6);
      CHECK_EQ (vpp_ipfix_record_append (f.main, e, 0, 1, rec, sizeof (rec)),
		-6);
    }
  for (i = 0; i < sizeof (bad_reports) / sizeof (bad_reports[0]); i++)
    {
      uint32_t r = bad_reports[i];
      CHECK_NULL (vpp_ipfix_report_get (f.main, 0, r));
      CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, r, &c), -6);
      CHECK_EQ (vpp_ipfix_template_send (f.main, 0, r), -6);
      CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, r, START_TIME, &due), -6);
      err = 0;
      CHECK_NULL (vpp_ipfix_buffer_get (f.main, 0, r, 1, &err));
      CHECK_EQ (err, -6);
      CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, r, 1), -6);
      err = 0;
      CHECK_NULL (vpp_ipfix_record_reserve (f.main, 0, r, 1, 56, &err));
      CHECK_EQ (err, -6);
      CHECK_EQ (vpp_ipfix_record_append (f.main, 0, r, 1, rec, sizeof (rec)),
		-6);
    }
  for (i = 0; i < sizeof (bad_streams) / sizeof (bad_streams[0]); i++)
    {
      CHECK_NULL (vpp_ipfix_stream_get (f.main, 0, bad_streams[i]));
      CHECK_EQ (vpp_ipfix_stream_reset (f.main, 0, bad_streams[i]), -6);
    }
  for (i = 0; i < sizeof (bad_threads) / sizeof (bad_threads[0]); i++)
    {
      uint32_t t = bad_threads[i];
      err = 0;
      CHECK_NULL (vpp_ipfix_buffer_get (f.main, 0, 0, t, &err));
      CHECK_EQ (err, VPP_IPFIX_ERROR_INVALID_WORKER);
      CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, t), -89);
      err = 0;
      CHECK_NULL (vpp_ipfix_record_reserve (f.main, 0, 0, t, 56, &err));
      CHECK_EQ (err, -89);
      CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, t, rec, sizeof (rec)),
		-89);
      CHECK_EQ (vpp_ipfix_thread_flush_idle (f.main, t, 0, &u), -89);
    }
  CHECK_UEQ (u, 99);
  CHECK_UEQ (tid, 99);
  CHECK_UEQ (due, 99);
  CHECK_UNCHANGED (&f, &s);
  fixture_fini (&f);
}

static void
test_main_create (void)
{
  test_host_t *host = test_host_create ();
  vpp_ipfix_ops_t ops, broken;
  vpp_ipfix_main_t *m = NULL;
  vpp_ipfix_exporter_config_t cfg = ipv4_config (512);
  char pcap[64];
  int k;

  if (!host)
    {
      CHECK_NOT_NULL (host);
      return;
    }
  ops = test_host_ops (host);
  CHECK_EQ (vpp_ipfix_main_create (&ops, 0, 0, &m), -89);
  CHECK_EQ (vpp_ipfix_main_create (&ops, 1025, 0, &m), -89);
  CHECK_EQ (vpp_ipfix_main_create (&ops, UINT32_MAX, 0, &m), -89);
  CHECK_EQ (vpp_ipfix_main_create (&ops, 1, 65, &m), -7);
  CHECK_EQ (vpp_ipfix_main_create (&ops, 1, UINT32_MAX, &m), -7);
  CHECK_NULL (m);

  /* Every function of the ops table is required (the three allocation
     functions only without buffer_alloc_packet, which replaces them). */
  for (k = 0; k < 6; k++)
    {
      broken = ops;
      broken.buffer_alloc_packet = NULL;
      switch (k)
	{
	case 0:
	  broken.buffer_alloc = NULL;
	  break;
	case 1:
	  broken.buffer_free = NULL;
	  break;
	case 2:
	  broken.buffer_data = NULL;
	  break;
	case 3:
	  broken.buffer_capacity = NULL;
	  break;
	case 4:
	  broken.enqueue = NULL;
	  break;
	default:
	  broken.now = NULL;
	  break;
	}
      CHECK_EQ (vpp_ipfix_main_create (&broken, 1, 0, &m), -73);
      CHECK_NULL (m);
    }

  /* The limits themselves work. */
  CHECK_EQ (vpp_ipfix_main_create (&ops, 1024, 64, &m), 0);
  CHECK_UEQ (vpp_ipfix_main_n_threads (m), 1024);
  CHECK_EQ (vpp_ipfix_exporter_set (m, 63, &cfg), -6);
  CHECK_EQ (vpp_ipfix_exporter_set (m, 64, &cfg), -6);
  vpp_ipfix_main_destroy (m);
  m = NULL;
  broken = ops;
  broken.ctx = NULL; /* ctx is the host's business */
  CHECK_EQ (vpp_ipfix_main_create (&broken, 1, 0, &m), 0);
  vpp_ipfix_main_destroy (m);
  m = NULL;

  /* A pcap file that cannot be created. */
  CHECK_EQ (vpp_ipfix_main_create_pcap ("/nonexistent-dir/x.pcap", 1, 0, &m),
	    -7);
  CHECK_NULL (m);
  snprintf (pcap, sizeof (pcap), "/tmp/bad_input-%d.pcap", (int) getpid ());
  CHECK_EQ (vpp_ipfix_main_create_pcap (pcap, 0, 0, &m), -89);
  CHECK_EQ (vpp_ipfix_main_create_pcap (pcap, 1, 65, &m), -7);
  CHECK_NULL (m);
  CHECK_EQ (vpp_ipfix_main_create_pcap (pcap, 1, 0, &m), 0);
  vpp_ipfix_main_destroy (m);
  unlink (pcap);

  CHECK_UEQ (test_host_live_buffers (host), 0);
  CHECK_UEQ (test_host_allocs (host), 0);
  test_host_destroy (host);
}

static void
test_bad_exporter_settings (void)
{
  static const uint32_t bad_mtus[] = { 0, 67, 1451, 65535 };
  fixture_t f;
  snapshot_t s;
  vpp_ipfix_exporter_config_t c;
  uint32_t idx = 99;
  size_t i;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  add_fp (&f);
  take_snapshot (&f, &s);
  for (i = 0; i < sizeof (bad_mtus) / sizeof (bad_mtus[0]); i++)
    {
      c = ipv4_config (bad_mtus[i]);
      CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -7);
      CHECK_UNCHANGED (&f, &s);
      c.collector = test_ip4 (127, 0, 0, 9);
      CHECK_EQ (vpp_ipfix_exporter_create (f.main, &c, &idx), -7);
      CHECK_NULL (vpp_ipfix_exporter_get (f.main, 1));
    }
  CHECK_UEQ (idx, 99);
  c = ipv4_config (512);
  c.template_interval = 0;
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -7);
  CHECK_UNCHANGED (&f, &s);
  c = ipv4_config (512);
  memset (&c.src_address, 0, sizeof (c.src_address));
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -7);
  CHECK_UNCHANGED (&f, &s);
  c = ipv4_config (512);
  c.src_address = test_ip6 ("fd00::2");
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -97);
  CHECK_UNCHANGED (&f, &s);
  /* An address family that is neither IPv4 nor IPv6. */
  c = ipv4_config (512);
  c.collector.version = 7;
  c.src_address.version = 7;
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -73);
  CHECK_UNCHANGED (&f, &s);
  fixture_fini (&f);
}

static void
fill_elements (ipfix_report_element_t *e, uint32_t n, uint32_t size)
{
  uint32_t k;

  for (k = 0; k < n; k++)
    {
      e[k].info_element = 1 + k % 200;
      e[k].size = size;
    }
}

static void
test_report_too_big (void)
{
  static ipfix_report_element_t many[520];
  static vpp_ipfix_field_t many_fields[520];
  fixture_t f;
  snapshot_t s;
  vnet_flow_report_add_del_args_t a;
  vpp_ipfix_report_config_t rc;
  vpp_ipfix_exporter_config_t c;
  ipfix_report_element_t big = { 2, 600 };
  vpp_ipfix_field_t big_field = { 2, 600, 0 };
  uint32_t k, idx = 99;
  uint16_t tid = 99;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  fill_elements (many, 520, 4);
  for (k = 0; k < 520; k++)
    {
      many_fields[k].element_id = (uint16_t) many[k].info_element;
      many_fields[k].length = 4;
      many_fields[k].enterprise_number = 0;
    }
  take_snapshot (&f, &s);

  /* 400 fields: a 1652-byte template in a 512-byte MTU; 513: over the
     library's limit. */
  a = fp_args (1);
  a.report_elements = many;
  a.n_report_elements = 400;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), -1004);
  a.n_report_elements = 513;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), -1004);
  memset (&rc, 0, sizeof (rc));
  rc.domain_id = 1;
  rc.src_port = 30001;
  rc.fields = many_fields;
  rc.n_fields = 400;
  rc.opaque.as_uword = 2;
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, &rc, &idx, &tid), -1004);
  rc.n_fields = 513;
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, &rc, &idx, &tid), -1004);
  CHECK_UNCHANGED (&f, &s);

  /* One 600-byte field: the template fits, the record cannot. */
  a.report_elements = &big;
  a.n_report_elements = 1;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), -1003);
  rc.fields = &big_field;
  rc.n_fields = 1;
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, &rc, &idx, &tid), -1003);
  CHECK_UNCHANGED (&f, &s);
  CHECK_UEQ (idx, 99);
  CHECK_UEQ (tid, 99);

  /* Exactly the MTU: 48 bytes of headers and a 464-byte record. */
  big.size = 464;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), 0);
  a.opaque.as_uword = 3;
  big.size = 465;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), -1003);

  /* Lowering the MTU below an existing report's template is refused. */
  a.opaque.as_uword = 4;
  a.report_elements = many;
  a.n_report_elements = 100; /* 452-byte template */
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), 0);
  take_snapshot (&f, &s);
  c = ipv4_config (400);
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -1004);
  CHECK_UNCHANGED (&f, &s);
  fixture_fini (&f);
}

static void
test_bad_elements (void)
{
  fixture_t f;
  snapshot_t s;
  vnet_flow_report_add_del_args_t a;
  vpp_ipfix_report_config_t rc;
  vpp_ipfix_field_t field = { 2, 8, 0 };
  ipfix_report_element_t bad[1];
  uint16_t tid = 99;
  int rv;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  take_snapshot (&f, &s);

  /* No elements and no rewrite callback to build the template. */
  a = fp_args (1);
  a.report_elements = NULL;
  a.n_report_elements = 0;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), -73);
  a.report_elements = fp_elts;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), -73);
  memset (&rc, 0, sizeof (rc));
  rc.domain_id = 1;
  rc.src_port = 30001;
  rc.fields = &field;
  rc.n_fields = 0;
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, &rc, NULL, &tid), -73);
  CHECK_UEQ (tid, 99);
  CHECK_UNCHANGED (&f, &s);

  /* Elements that cannot be encoded: length 0, an id past 15 bits, a
     length past 16 bits (codes not documented: any error will do). */
  a.report_elements = bad;
  a.n_report_elements = 1;
  bad[0].info_element = 2;
  bad[0].size = 0;
  rv = vpp_ipfix_report_add_del (f.main, 0, &a, &tid);
  CHECK (rv < 0);
  bad[0].info_element = 0x8000;
  bad[0].size = 4;
  rv = vpp_ipfix_report_add_del (f.main, 0, &a, &tid);
  CHECK (rv < 0);
  bad[0].info_element = 2;
  bad[0].size = 70000;
  rv = vpp_ipfix_report_add_del (f.main, 0, &a, &tid);
  CHECK (rv < 0);
  CHECK_UNCHANGED (&f, &s);
  fixture_fini (&f);
}

static void
test_record_sizes (void)
{
  fixture_t f;
  snapshot_t s;
  uint8_t *big;
  uint8_t *p;
  int32_t err;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  add_fp (&f);
  big = calloc (70000, 1);
  if (!big)
    {
      CHECK_NOT_NULL (big);
      fixture_fini (&f);
      return;
    }
  take_snapshot (&f, &s);
  err = 0;
  CHECK_NULL (vpp_ipfix_record_reserve (f.main, 0, 0, 1, 0, &err));
  CHECK_EQ (err, -73);
  err = 0;
  CHECK_NULL (vpp_ipfix_record_reserve (f.main, 0, 0, 1, 1500, &err));
  CHECK_EQ (err, -1003);
  err = 0;
  CHECK_NULL (vpp_ipfix_record_reserve (f.main, 0, 0, 1, 465, &err));
  CHECK_EQ (err, -1003);
  err = 0;
  CHECK_NULL (vpp_ipfix_record_reserve (f.main, 0, 0, 1, 65535, &err));
  CHECK_EQ (err, -1003);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, big, 0), -73);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, big, 1500), -1003);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, big, 65536), -1003);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, big, 70000), -1003);
  CHECK_UNCHANGED (&f, &s);

  /* The largest record that fits. */
  err = 99;
  p = vpp_ipfix_record_reserve (f.main, 0, 0, 1, 464, &err);
  CHECK_NOT_NULL (p);
  CHECK_EQ (err, 0);
  if (p)
    memset (p, 0x5a, 464);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  /* The report's template goes out ahead of its first data. */
  CHECK_UEQ (test_host_n_packets (f.host), 2);
  if (test_host_n_packets (f.host) == 2)
    {
      CHECK (test_host_packet (f.host, 0)->info.is_template);
      CHECK_UEQ (test_host_packet (f.host, 1)->info.length, 512);
    }
  free (big);
  fixture_fini (&f);
}

static void
test_alloc_failure (void)
{
  fixture_t f;
  snapshot_t s;
  vpp_ipfix_counters_t c, rc;
  const test_host_packet_t *p;
  test_ipfix_msg_t m;
  uint8_t rec[FP_RECORD_SIZE];
  uint32_t sent = 99;
  uint8_t due = 0;
  int32_t err;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  add_fp (&f);
  memset (rec, 0x33, sizeof (rec));
  take_snapshot (&f, &s);

  test_host_fail_allocs_after (f.host, 0);
  err = 0;
  CHECK_NULL (vpp_ipfix_buffer_get (f.main, 0, 0, 1, &err));
  CHECK_EQ (err, VPP_IPFIX_ERROR_NO_BUFFER);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.alloc_failures, s.exporters[0].counters.alloc_failures + 1);
  err = 0;
  CHECK_NULL (vpp_ipfix_record_reserve (f.main, 0, 0, 1, 56, &err));
  CHECK_EQ (err, -1002);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 0, rec, sizeof (rec)),
	    -1002);
  CHECK_EQ (vpp_ipfix_template_send (f.main, 0, 0), -1002);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), -1002);
  CHECK_UEQ (sent, 0);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.alloc_failures, 5);
  CHECK_UEQ (c.packets + c.data_records + c.templates + c.dropped_packets, 0);
  CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, 0, &rc), 0);
  CHECK_UEQ (rc.alloc_failures, 5);
  CHECK_UEQ (test_host_failed_allocs (f.host), 5);
  CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, 0, START_TIME, &due), 0);
  CHECK_UEQ (due, 1);
  CHECK_UEQ (test_host_n_packets (f.host), 0);
  CHECK_UEQ (test_host_live_buffers (f.host), 0);
  CHECK (vpp_ipfix_stream_get (f.main, 0, 0) &&
	 vpp_ipfix_stream_get (f.main, 0, 0)->sequence_number == 0);

  /* One more allocation: the template goes, the data buffer does not. */
  test_host_fail_allocs_after (f.host, 1);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 1);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, rec, sizeof (rec)),
	    -1002);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.alloc_failures, 6);
  CHECK_UEQ (c.templates, 1);

  /* Allocations again: the exporter works. */
  test_host_fail_allocs_after (f.host, TEST_HOST_NEVER_FAIL);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, rec, sizeof (rec)), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_UEQ (test_host_n_packets (f.host), 2);
  p = test_host_packet (f.host, 1);
  if (p)
    {
      CHECK (!p->info.is_template);
      CHECK_EQ (test_ipfix_parse (p->data, p->info.length, &m), 0);
      CHECK_UEQ (m.message_length, p->info.length - 28);
      CHECK_UEQ (m.set_id, 256);
      CHECK_UEQ (m.set_data_len, FP_RECORD_SIZE);
      CHECK_UEQ (m.sequence_number, 0);
      CHECK (memcmp (m.set_data, rec, sizeof (rec)) == 0);
    }
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.packets, 1);
  CHECK_UEQ (c.data_records, 1);
  CHECK_UEQ (c.alloc_failures, 6);
  fixture_fini (&f);
}

static void
test_enqueue_refused (void)
{
  fixture_t f;
  vpp_ipfix_counters_t c, rc;
  const flow_report_stream_t *st;
  const test_host_packet_t *p;
  test_ipfix_msg_t m;
  uint8_t rec[FP_RECORD_SIZE];
  uint8_t due = 0;
  int i;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  add_fp (&f);
  memset (rec, 0x44, sizeof (rec));
  st = vpp_ipfix_stream_get (f.main, 0, 0);
  test_host_refuse_enqueue (f.host, 1);

  /* A refused template is counted, and still due. */
  CHECK_EQ (vpp_ipfix_template_send (f.main, 0, 0), -1005);
  CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, 0, START_TIME, &due), 0);
  CHECK_UEQ (due, 1);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.templates, 0);
  CHECK_UEQ (c.dropped_packets, 1);

  /* With its template delivered, data goes out alone from here. */
  test_host_refuse_enqueue (f.host, 0);
  CHECK_EQ (vpp_ipfix_template_send (f.main, 0, 0), 0);
  test_host_clear_packets (f.host);
  test_host_refuse_enqueue (f.host, 1);

  /* A refused data packet: dropped, and the sequence number still moves
     (RFC 7011: the collector sees the loss). */
  for (i = 0; i < 3; i++)
    CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, rec, sizeof (rec)), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), -1005);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.dropped_packets, 2);
  CHECK_UEQ (c.dropped_records, 3);
  CHECK_UEQ (c.packets, 0);
  CHECK_UEQ (c.data_records, 0);
  CHECK (st && st->sequence_number == 3);
  CHECK_UEQ (test_host_live_buffers (f.host), 0);
  CHECK_UEQ (test_host_refused (f.host), 2);

  /* A full packet refused on the way: the next record still goes in. */
  for (i = 0; i < 9; i++)
    CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, rec, sizeof (rec)), 0);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.dropped_packets, 3);
  CHECK_UEQ (c.dropped_records, 11);
  CHECK (st && st->sequence_number == 11);

  test_host_refuse_enqueue (f.host, 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_UEQ (test_host_n_packets (f.host), 1);
  p = test_host_packet (f.host, 0);
  if (p)
    {
      CHECK_EQ (test_ipfix_parse (p->data, p->info.length, &m), 0);
      CHECK_UEQ (m.sequence_number, 11);
      CHECK_UEQ (m.set_data_len, FP_RECORD_SIZE);
    }
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.packets, 1);
  CHECK_UEQ (c.data_records, 1);
  CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, 0, &rc), 0);
  CHECK (memcmp (&rc, &c, sizeof (c)) == 0);
  CHECK (st && st->sequence_number == 12);
  fixture_fini (&f);
}

static void
test_nothing_to_send (void)
{
  fixture_t f;
  snapshot_t s;
  uint32_t t, sent = 99;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  add_fp (&f);
  take_snapshot (&f, &s);
  for (t = 0; t < N_THREADS; t++)
    CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, t), 0);
  CHECK_EQ (vpp_ipfix_thread_flush_idle (f.main, 1, 0, &sent), 0);
  CHECK_UEQ (sent, 0);
  CHECK_EQ (vpp_ipfix_flush (f.main), 0);
  CHECK_UNCHANGED (&f, &s);
  fixture_fini (&f);
}

static void
test_disabled_exporter (void)
{
  fixture_t f;
  snapshot_t s;
  uint8_t rec[FP_RECORD_SIZE];
  uint32_t sent = 99;
  int32_t err;

  if (fixture_init (&f))
    return;
  add_fp (&f);
  memset (rec, 0x55, sizeof (rec));
  take_snapshot (&f, &s);
  err = 0;
  CHECK_NULL (vpp_ipfix_buffer_get (f.main, 0, 0, 1, &err));
  CHECK_EQ (err, VPP_IPFIX_ERROR_EXPORTER_DISABLED);
  err = 0;
  CHECK_NULL (vpp_ipfix_record_reserve (f.main, 0, 0, 1, 56, &err));
  CHECK_EQ (err, -30);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 0, 0, 1, rec, sizeof (rec)), -30);
  CHECK_EQ (vpp_ipfix_template_send (f.main, 0, 0), -30);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_UNCHANGED (&f, &s);
  fixture_fini (&f);
}

static void
test_nan_max_age (void)
{
  fixture_t f;
  uint32_t sent = 99;

  if (fixture_init (&f))
    return;
  CHECK_EQ (vpp_ipfix_thread_flush_idle (f.main, 0, NAN, &sent), -73);
  CHECK_UEQ (sent, 99);
  fixture_fini (&f);
}

#define TEST(name)                                                             \
  {                                                                            \
#name, name                                                                \
  }

int
main (void)
{
  static const test_case_t tests[] = {
    TEST (test_null_pointers),	   TEST (test_out_of_range_indices),
    TEST (test_main_create),	   TEST (test_bad_exporter_settings),
    TEST (test_report_too_big),	   TEST (test_bad_elements),
    TEST (test_record_sizes),	   TEST (test_alloc_failure),
    TEST (test_enqueue_refused),   TEST (test_nothing_to_send),
    TEST (test_disabled_exporter), TEST (test_nan_max_age),
  };

  return test_run_all ("bad_input", tests, sizeof (tests) / sizeof (tests[0]));
}
