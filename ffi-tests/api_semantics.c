/* api_semantics.c: checks that the C API of vpp-ipfix behaves as VPP's
   ipfix-export does (exporters, reports, streams, templates, data path),
   through the in-memory host with two threads. */

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_check.h"
#include "test_fixture.h"
#include "test_host.h"

#define N_THREADS  2
#define START_TIME 1700000000.0


/* A smaller record: 5 elements, 21 bytes. */
#define SMALL_N_ELTS 5
static ipfix_report_element_t small_elts[SMALL_N_ELTS] = {
  { 10, 4 }, { 14, 4 }, { 8, 4 }, { 1, 8 }, { 4, 1 },
};

/* A fresh host and instance (N_THREADS threads, VPP's five exporters). 0
   when ready. */
static int
fixture_init (fixture_t *f)
{
  return fixture_init_threads (f, N_THREADS);
}

static vpp_ipfix_exporter_config_t
ipv6_config (uint32_t path_mtu)
{
  vpp_ipfix_exporter_config_t c;

  vpp_ipfix_exporter_config_init (&c);
  c.collector = test_ip6 ("::1");
  c.src_address = test_ip6 ("fd00::2");
  c.path_mtu = path_mtu;
  return c;
}

/* VPP-style report add or delete on exporter `e`. */
static int
report_add_del (fixture_t *f, uint32_t e, int is_add, uint32_t domain,
		uint16_t port, uintptr_t opaque, ipfix_report_element_t *elts,
		uint32_t n_elts, uint16_t *template_id, uint32_t *index)
{
  vnet_flow_report_add_del_args_t a;
  int rv;

  memset (&a, 0, sizeof (a));
  a.report_elements = elts;
  a.n_report_elements = n_elts;
  a.opaque.as_uword = opaque;
  a.is_add = is_add;
  a.domain_id = domain;
  a.src_port = port;
  a.flow_report_index = 0xdeadbeef;
  rv = vpp_ipfix_report_add_del (f->main, e, &a, template_id);
  if (index)
    *index = a.flow_report_index;
  return rv;
}

static int
add_fp (fixture_t *f, uint32_t domain, uint16_t port, uintptr_t opaque,
	uint16_t *template_id)
{
  return report_add_del (f, 0, 1, domain, port, opaque, fp_elts, FP_N_ELTS,
			 template_id, NULL);
}

static int
del_report (fixture_t *f, uint32_t domain, uint16_t port, uintptr_t opaque,
	    uint16_t *template_id)
{
  return report_add_del (f, 0, 0, domain, port, opaque, NULL, 0, template_id,
			 NULL);
}

/* A recognisable record: its number first, then bytes derived from it. */
static void
fill_record (uint8_t *rec, uint32_t size, uint32_t n)
{
  uint32_t k;

  test_put_u32 (rec, n);
  for (k = 4; k < size; k++)
    rec[k] = (uint8_t) (n * 7 + k);
}

static int
record_matches (const uint8_t *rec, uint32_t size, uint32_t n)
{
  uint8_t expect[2048];

  fill_record (expect, size, n);
  return memcmp (rec, expect, size) == 0;
}

/* Appends records first..first+count-1 of `size` bytes to report `r` on
   thread `t`. Returns the first error. */
static int
append_records (fixture_t *f, uint32_t r, uint32_t t, uint32_t size,
		uint32_t first, uint32_t count)
{
  uint8_t rec[2048];
  uint32_t i;
  int rv;

  for (i = 0; i < count; i++)
    {
      fill_record (rec, size, first + i);
      rv = vpp_ipfix_record_append (f->main, 0, r, t, rec, size);
      if (rv)
	return rv;
    }
  return 0;
}

static uint32_t
stream_sequence (fixture_t *f, uint32_t s)
{
  const flow_report_stream_t *st = vpp_ipfix_stream_get (f->main, 0, s);
  return st ? st->sequence_number : 0xffffffffu;
}

/* The captured packets that are data (or template) packets, in order. */
static size_t
captured (fixture_t *f, int templates, const test_host_packet_t **out,
	  size_t max)
{
  size_t i, n = 0;

  for (i = 0; i < test_host_n_packets (f->host); i++)
    {
      const test_host_packet_t *p = test_host_packet (f->host, i);
      if (p->info.is_template == (templates != 0))
	{
	  if (n < max)
	    out[n] = p;
	  n++;
	}
    }
  return n;
}

static void
test_initial_state (void)
{
  fixture_t f;
  ipfix_exporter_t *exp;
  vpp_ipfix_counters_t c;
  uint32_t n_reports = 99, n_streams = 99, i, e = 0;
  uint8_t zero[17];
  uint32_t sent = 99;
  int32_t err = 0;
  ip_address_t lo = test_ip4 (127, 0, 0, 1);

  if (fixture_init (&f))
    return;
  memset (zero, 0, sizeof (zero));
  CHECK_UEQ (vpp_ipfix_main_n_threads (f.main), N_THREADS);
  exp = vpp_ipfix_exporter_get (f.main, 0);
  CHECK_NOT_NULL (exp);
  if (exp)
    {
      CHECK (memcmp (&exp->ipfix_collector, zero, 17) == 0);
      CHECK (memcmp (&exp->src_address, zero, 17) == 0);
      CHECK_UEQ (exp->collector_port, 4739);
      CHECK_UEQ (exp->path_mtu, 512);
      CHECK_UEQ (exp->template_interval, 20);
      CHECK_UEQ (exp->fib_index, TEST_U32_NONE);
      CHECK_UEQ (exp->udp_checksum, 0);
      CHECK_NULL (exp->reports);
      CHECK_NULL (exp->streams);
    }
  CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, 0, &n_reports, &n_streams), 0);
  CHECK_UEQ (n_reports, 0);
  CHECK_UEQ (n_streams, 0);
  for (i = 1; i < 5; i++)
    CHECK_NULL (vpp_ipfix_exporter_get (f.main, i));
  memset (&c, 0xff, sizeof (c));
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.packets + c.data_records + c.bytes + c.templates +
	       c.alloc_failures + c.dropped_packets + c.dropped_records,
	     0);
  CHECK_EQ (vpp_ipfix_exporter_lookup (f.main, &lo, &e), -6);

  /* Disabled: reports can be added, nothing can be sent. */
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 0);
  CHECK_EQ (vpp_ipfix_template_send (f.main, 0, 0), -30);
  CHECK_NULL (vpp_ipfix_buffer_get (f.main, 0, 0, 1, &err));
  CHECK_EQ (err, VPP_IPFIX_ERROR_EXPORTER_DISABLED);
  CHECK_UEQ (test_host_n_packets (f.host), 0);
  CHECK_UEQ (test_host_allocs (f.host), 0);
  fixture_fini (&f);
}

static void
test_config_defaults (void)
{
  vpp_ipfix_exporter_config_t c;
  uint8_t zero[17];

  memset (zero, 0, sizeof (zero));
  memset (&c, 0xab, sizeof (c));
  CHECK_EQ (vpp_ipfix_exporter_config_init (&c), 0);
  CHECK (memcmp (&c.collector, zero, 17) == 0);
  CHECK (memcmp (&c.src_address, zero, 17) == 0);
  CHECK_UEQ (c.collector_port, 4739);
  CHECK_UEQ (c.fib_index, TEST_U32_NONE);
  CHECK_UEQ (c.path_mtu, 512);
  CHECK_UEQ (c.template_interval, 20);
  CHECK_UEQ (c.udp_checksum, 0);
}

/* Snapshot of an exporter's C view, to prove a failed call changed nothing. */
static int
exporter_unchanged (fixture_t *f, uint32_t e, const ipfix_exporter_t *before)
{
  const ipfix_exporter_t *now = vpp_ipfix_exporter_get (f->main, e);
  return now && test_exporter_equal (now, before);
}

static void
test_exporter_set (void)
{
  fixture_t f;
  vpp_ipfix_exporter_config_t c;
  ipfix_exporter_t before;
  ipfix_exporter_t *exp;
  static const uint32_t bad_mtus[] = { 67, 1451 };
  size_t i;

  if (fixture_init (&f))
    return;
  exp = vpp_ipfix_exporter_get (f.main, 0);
  if (!exp)
    {
      CHECK_NOT_NULL (exp);
      fixture_fini (&f);
      return;
    }
  CHECK_EQ (enable_ipv4 (&f, 512), 0);
  CHECK_UEQ (exp->all_headers_size, 48);
  memcpy (&before, exp, sizeof (before));

  /* A collector needs a source... */
  c = ipv4_config (512);
  memset (&c.src_address, 0, sizeof (c.src_address));
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -7);
  CHECK (exporter_unchanged (&f, 0, &before));

  /* ... of the same family. */
  c = ipv4_config (512);
  c.src_address = test_ip6 ("fd00::2");
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -97);
  CHECK (exporter_unchanged (&f, 0, &before));

  /* Path MTU 68..1450. */
  for (i = 0; i < sizeof (bad_mtus) / sizeof (bad_mtus[0]); i++)
    {
      c = ipv4_config (bad_mtus[i]);
      CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -7);
      CHECK (exporter_unchanged (&f, 0, &before));
    }
  c = ipv4_config (512);
  c.template_interval = 0;
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), -7);
  CHECK (exporter_unchanged (&f, 0, &before));

  c = ipv4_config (68);
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (exp->path_mtu, 68);
  c = ipv4_config (1450);
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (exp->path_mtu, 1450);
  CHECK_UEQ (exp->all_headers_size, 48);
  CHECK (memcmp (&exp->ipfix_collector, &c.collector, 17) == 0);
  CHECK (memcmp (&exp->src_address, &c.src_address, 17) == 0);

  /* VPP's sentinels and normalisation. */
  c = ipv4_config (TEST_U32_NONE);
  c.collector_port = 0;
  c.template_interval = TEST_U32_NONE;
  c.udp_checksum = 7;
  c.fib_index = 3;
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (exp->path_mtu, 512);
  CHECK_UEQ (exp->collector_port, 4739);
  CHECK_UEQ (exp->template_interval, 20);
  CHECK_UEQ (exp->udp_checksum, 1);
  CHECK_UEQ (exp->fib_index, 3);
  c.collector_port = 0xffff;
  c.template_interval = 33;
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (exp->collector_port, 4739);
  CHECK_UEQ (exp->template_interval, 33);
  c.collector_port = 9995;
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (exp->collector_port, 9995);

  /* IPv6: 40-byte IP header. */
  c = ipv6_config (1450);
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (exp->all_headers_size, 68);
  CHECK_UEQ (exp->ipfix_collector.version, 1);
  CHECK (memcmp (&exp->ipfix_collector, &c.collector, 17) == 0);

  /* Back to disabled: no collector, no source. */
  vpp_ipfix_exporter_config_init (&c);
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (exp->ipfix_collector.ip.ip6.as_u64[0] |
	       exp->ipfix_collector.ip.ip6.as_u64[1],
	     0);
  CHECK_UEQ (exp->all_headers_size, 48);
  fixture_fini (&f);
}

static void
test_exporter_set_resets_streams (void)
{
  fixture_t f;
  vpp_ipfix_exporter_config_t c;
  const flow_report_t *fr;
  const test_host_packet_t *pkts[8];
  test_ipfix_msg_t m;
  uint32_t sent = 0;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 1);
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 3), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 3);

  /* Same collector, source and port: no reset, but the packet under
     construction goes out first. */
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 3, 2), 0);
  c = ipv4_config (1000);
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (captured (&f, 0, pkts, 8), 2);
  if (captured (&f, 0, pkts, 8) == 2)
    {
      CHECK_EQ (test_ipfix_parse (pkts[1]->data, pkts[1]->info.length, &m), 0);
      CHECK_UEQ (m.sequence_number, 3);
      CHECK_UEQ (m.set_data_len, 2 * FP_RECORD_SIZE);
    }
  CHECK_UEQ (stream_sequence (&f, 0), 5);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  CHECK (fr && fr->last_template_sent == START_TIME);
  CHECK (fr && fr->update_rewrite == 0);

  /* Another port: streams reset, templates due again. */
  c.collector_port = 4740;
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 0);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  CHECK (fr && fr->last_template_sent == 0);
  CHECK (fr && fr->update_rewrite == 1);

  /* Another source: reset too. */
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 1);
  CHECK_EQ (append_records (&f, 0, 0, FP_RECORD_SIZE, 0, 1), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 0), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 1);
  c.src_address = test_ip4 (127, 0, 0, 3);
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 0);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  CHECK (fr && fr->last_template_sent == 0);
  fixture_fini (&f);
}

static void
test_exporter_create_delete (void)
{
  fixture_t f;
  vpp_ipfix_exporter_config_t c;
  ipfix_exporter_t foreign;
  ipfix_exporter_t *p4;
  const char *inside;
  ip_address_t a;
  uint32_t i, idx;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);

  /* Exporter 0 plus four more: VPP's limit of five. */
  for (i = 1; i <= 4; i++)
    {
      c = ipv4_config (512);
      c.collector = test_ip4 (127, 0, 0, (uint8_t) (10 + i));
      idx = 99;
      CHECK_EQ (vpp_ipfix_exporter_create (f.main, &c, &idx), 0);
      CHECK_UEQ (idx, i);
      CHECK_NOT_NULL (vpp_ipfix_exporter_get (f.main, i));
    }
  c = ipv4_config (512);
  c.collector = test_ip4 (127, 0, 0, 20);
  idx = 12345;
  CHECK_EQ (vpp_ipfix_exporter_create (f.main, &c, &idx), -7);
  CHECK_UEQ (idx, 12345);

  /* The collector of an existing exporter: that one is updated. */
  c = ipv4_config (900);
  c.collector = test_ip4 (127, 0, 0, 12);
  CHECK_EQ (vpp_ipfix_exporter_create (f.main, &c, &idx), 0);
  CHECK_UEQ (idx, 2);
  CHECK (vpp_ipfix_exporter_get (f.main, 2) &&
	 vpp_ipfix_exporter_get (f.main, 2)->path_mtu == 900);
  c = ipv4_config (700);
  CHECK_EQ (vpp_ipfix_exporter_create (f.main, &c, &idx), 0);
  CHECK_UEQ (idx, 0);
  CHECK_UEQ (vpp_ipfix_exporter_get (f.main, 0)->path_mtu, 700);

  /* Lookup by collector. */
  a = test_ip4 (127, 0, 0, 13);
  CHECK_EQ (vpp_ipfix_exporter_lookup (f.main, &a, &idx), 0);
  CHECK_UEQ (idx, 3);
  a = test_ip4 (127, 0, 0, 1);
  CHECK_EQ (vpp_ipfix_exporter_lookup (f.main, &a, &idx), 0);
  CHECK_UEQ (idx, 0);
  a = test_ip4 (10, 9, 9, 9);
  idx = 777;
  CHECK_EQ (vpp_ipfix_exporter_lookup (f.main, &a, &idx), -6);
  CHECK_UEQ (idx, 777);

  /* Pointer -> index. */
  for (i = 0; i <= 4; i++)
    {
      idx = 99;
      CHECK_EQ (vpp_ipfix_exporter_index (
		  f.main, vpp_ipfix_exporter_get (f.main, i), &idx),
		0);
      CHECK_UEQ (idx, i);
    }
  memset (&foreign, 0, sizeof (foreign));
  CHECK_EQ (vpp_ipfix_exporter_index (f.main, &foreign, &idx), -6);
  inside = (const char *) vpp_ipfix_exporter_get (f.main, 1) + 8;
  CHECK_EQ (vpp_ipfix_exporter_index (f.main, (const void *) inside, &idx), -6);

  /* Delete: never exporter 0; a deleted slot is unknown, then reused. */
  CHECK_EQ (vpp_ipfix_exporter_delete (f.main, 0), -7);
  CHECK_NOT_NULL (vpp_ipfix_exporter_get (f.main, 0));
  p4 = vpp_ipfix_exporter_get (f.main, 4);
  CHECK_EQ (vpp_ipfix_exporter_delete (f.main, 3), 0);
  CHECK_NULL (vpp_ipfix_exporter_get (f.main, 3));
  a = test_ip4 (127, 0, 0, 13);
  CHECK_EQ (vpp_ipfix_exporter_lookup (f.main, &a, &idx), -6);
  CHECK_EQ (vpp_ipfix_exporter_delete (f.main, 3), -6);
  CHECK_EQ (vpp_ipfix_exporter_delete (f.main, 5), -6);
  CHECK_EQ (vpp_ipfix_exporter_delete (f.main, 4), 0);
  CHECK_EQ (vpp_ipfix_exporter_index (f.main, p4, &idx), -6);

  /* An invalid create takes no slot. */
  c = ipv4_config (512);
  c.collector = test_ip4 (127, 0, 0, 30);
  memset (&c.src_address, 0, sizeof (c.src_address));
  CHECK_EQ (vpp_ipfix_exporter_create (f.main, &c, &idx), -7);
  CHECK_NULL (vpp_ipfix_exporter_get (f.main, 3));

  c = ipv4_config (512);
  c.collector = test_ip4 (127, 0, 0, 20);
  CHECK_EQ (vpp_ipfix_exporter_create (f.main, &c, &idx), 0);
  CHECK_UEQ (idx, 3);
  a = test_ip4 (127, 0, 0, 20);
  CHECK_EQ (vpp_ipfix_exporter_lookup (f.main, &a, &idx), 0);
  CHECK_UEQ (idx, 3);
  fixture_fini (&f);
}

static void
test_exporter_delete_flushes (void)
{
  fixture_t f;
  vpp_ipfix_exporter_config_t c;
  vpp_ipfix_counters_t ctr;
  const test_host_packet_t *pkts[4];
  test_ipfix_msg_t m;
  uint8_t rec[FP_RECORD_SIZE];
  uint32_t idx = 99, n_reports = 99, n_streams = 99;

  if (fixture_init (&f))
    return;
  c = ipv4_config (512);
  c.collector = test_ip4 (127, 0, 0, 11);
  CHECK_EQ (vpp_ipfix_exporter_create (f.main, &c, &idx), 0);
  CHECK_UEQ (idx, 1);
  CHECK_EQ (
    report_add_del (&f, 1, 1, 7, 30007, 1, fp_elts, FP_N_ELTS, NULL, NULL), 0);
  fill_record (rec, FP_RECORD_SIZE, 0);
  CHECK_EQ (vpp_ipfix_record_append (f.main, 1, 0, 1, rec, FP_RECORD_SIZE), 0);
  CHECK_EQ (vpp_ipfix_exporter_delete (f.main, 1), 0);
  CHECK_UEQ (captured (&f, 0, pkts, 4), 1);
  if (captured (&f, 0, pkts, 4) == 1)
    {
      CHECK_UEQ (pkts[0]->info.exporter_index, 1);
      CHECK_EQ (test_ipfix_parse (pkts[0]->data, pkts[0]->info.length, &m), 0);
      CHECK_UEQ (m.domain_id, 7);
      CHECK_UEQ (m.set_data_len, FP_RECORD_SIZE);
    }
  CHECK_UEQ (test_host_live_buffers (f.host), 0);

  /* A new exporter in the slot starts empty. */
  CHECK_EQ (vpp_ipfix_exporter_create (f.main, &c, &idx), 0);
  CHECK_UEQ (idx, 1);
  CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, 1, &n_reports, &n_streams), 0);
  CHECK_UEQ (n_reports, 0);
  CHECK_UEQ (n_streams, 0);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 1, &ctr), 0);
  CHECK_UEQ (ctr.packets + ctr.data_records, 0);
  fixture_fini (&f);
}

static void
test_report_add_del (void)
{
  fixture_t f;
  const flow_report_t *fr;
  const flow_report_stream_t *st;
  ipfix_exporter_t *exp;
  vnet_flow_report_add_del_args_t a;
  uint32_t stream_index_cell = 0;
  uint32_t idx, n_reports, n_streams, t;
  uint16_t tid;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  exp = vpp_ipfix_exporter_get (f.main, 0);

  /* First report: template 256, index 0, 56-byte records. */
  memset (&a, 0, sizeof (a));
  a.report_elements = fp_elts;
  a.n_report_elements = FP_N_ELTS;
  a.opaque.as_uword = 1;
  a.is_add = 1;
  a.domain_id = 1;
  a.src_port = 30001;
  a.stream_indexp = &stream_index_cell;
  a.flow_report_index = 99;
  tid = 0;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), 0);
  CHECK_UEQ (tid, 256);
  CHECK_UEQ (a.flow_report_index, 0);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  CHECK_NOT_NULL (fr);
  if (fr)
    {
      CHECK_UEQ (fr->template_id, 256);
      CHECK_EQ (fr->data_record_size, FP_RECORD_SIZE);
      CHECK_UEQ (fr->stream_index, 0);
      CHECK_UEQ (fr->n_report_elements, FP_N_ELTS);
      CHECK (fr->report_elements != fp_elts);
      CHECK (fr->report_elements &&
	     memcmp (fr->report_elements, fp_elts, sizeof (fp_elts)) == 0);
      CHECK_UEQ (fr->opaque.as_uword, 1);
      CHECK (fr->stream_indexp == &stream_index_cell);
      CHECK_EQ (fr->update_rewrite, 1);
      CHECK (fr->last_template_sent == 0);
      CHECK_NULL (fr->rewrite);
      CHECK (fr->rewrite_callback == NULL);
      CHECK (fr->flow_data_callback == NULL);
      CHECK_NOT_NULL (fr->per_thread_data);
      CHECK_UEQ ((uintptr_t) fr->per_thread_data % 128, 0);
      for (t = 0; fr->per_thread_data && t < N_THREADS; t++)
	{
	  CHECK_NULL (fr->per_thread_data[t].buffer);
	  CHECK_UEQ (fr->per_thread_data[t].next_data_offset, 0);
	  CHECK_UEQ (fr->per_thread_data[t].n_data_records, 0);
	}
      CHECK (exp && exp->reports == fr);
    }

  /* Second report in the same stream: the next template id. */
  CHECK_EQ (
    report_add_del (&f, 0, 1, 1, 30001, 2, fp_elts, FP_N_ELTS, &tid, &idx), 0);
  CHECK_UEQ (tid, 257);
  CHECK_UEQ (idx, 1);

  /* Template ids are per stream. */
  CHECK_EQ (report_add_del (&f, 0, 1, 2, 30002, 3, small_elts, SMALL_N_ELTS,
			    &tid, &idx),
	    0);
  CHECK_UEQ (tid, 256);
  CHECK_UEQ (idx, 2);
  fr = vpp_ipfix_report_get (f.main, 0, 2);
  CHECK (fr && fr->stream_index == 1);
  CHECK (fr && fr->data_record_size == 21);

  /* A domain with another port, a port with another domain. */
  CHECK_EQ (add_fp (&f, 1, 30003, 4, &tid), -7);
  CHECK_EQ (add_fp (&f, 3, 30001, 4, &tid), -7);
  CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, 0, &n_reports, &n_streams), 0);
  CHECK_UEQ (n_reports, 3);
  CHECK_UEQ (n_streams, 2);

  /* An existing report: -81 and its template id. The identity is (opaque,
     callbacks), not the stream, as in VPP. */
  tid = 0;
  CHECK_EQ (add_fp (&f, 1, 30001, 1, &tid), -81);
  CHECK_UEQ (tid, 256);
  tid = 0;
  CHECK_EQ (add_fp (&f, 1, 30001, 3, &tid), -81);
  CHECK_UEQ (tid, 256);
  CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, 0, &n_reports, NULL), 0);
  CHECK_UEQ (n_reports, 3);

  /* Streams. */
  st = vpp_ipfix_stream_get (f.main, 0, 0);
  CHECK_NOT_NULL (st);
  if (st)
    {
      CHECK_UEQ (st->domain_id, 1);
      CHECK_UEQ (st->src_port, 30001);
      CHECK_UEQ (st->n_reports, 2);
      CHECK_UEQ (st->next_template_no, 2);
      CHECK_UEQ (st->sequence_number, 0);
      CHECK (exp && exp->streams == st);
    }
  st = vpp_ipfix_stream_get (f.main, 0, 1);
  CHECK (st && st->n_reports == 1 && st->next_template_no == 1);
  CHECK (st && st->domain_id == 2 && st->src_port == 30002);
  CHECK_NULL (vpp_ipfix_stream_get (f.main, 0, 2));

  /* Delete: writes the template id; a second delete finds nothing. */
  tid = 0;
  CHECK_EQ (del_report (&f, 1, 30001, 1, &tid), 0);
  CHECK_UEQ (tid, 256);
  CHECK_EQ (del_report (&f, 1, 30001, 1, &tid), -6);
  CHECK_EQ (del_report (&f, 9, 39999, 2, &tid), -6);
  CHECK_EQ (del_report (&f, 1, 30002, 2, &tid), -7);

  /* VPP's vec_delete: later reports move down one index. */
  CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, 0, &n_reports, &n_streams), 0);
  CHECK_UEQ (n_reports, 2);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  CHECK (fr && fr->opaque.as_uword == 2 && fr->template_id == 257);
  fr = vpp_ipfix_report_get (f.main, 0, 1);
  CHECK (fr && fr->opaque.as_uword == 3 && fr->stream_index == 1);
  CHECK_NULL (vpp_ipfix_report_get (f.main, 0, 2));
  st = vpp_ipfix_stream_get (f.main, 0, 0);
  CHECK (st && st->n_reports == 1);

  /* The last report of a stream frees its slot. */
  CHECK_EQ (del_report (&f, 1, 30001, 2, &tid), 0);
  CHECK_UEQ (tid, 257);
  CHECK_NULL (vpp_ipfix_stream_get (f.main, 0, 0));
  CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, 0, &n_reports, &n_streams), 0);
  CHECK_UEQ (n_reports, 1);
  CHECK_UEQ (n_streams, 2);
  CHECK (exp && exp->streams && exp->streams[0].domain_id == TEST_U32_NONE);
  CHECK_NOT_NULL (vpp_ipfix_stream_get (f.main, 0, 1));
  fixture_fini (&f);
}

static struct vlib_frame_t *
dummy_data_callback (struct flow_report_main *frm, struct ipfix_exporter_t *exp,
		     struct flow_report_t *fr, struct vlib_frame_t *frame,
		     uint32_t *to_next, uint32_t next_node)
{
  (void) frm, (void) exp, (void) fr, (void) to_next, (void) next_node;
  return frame;
}

static uint8_t *
dummy_rewrite_callback (struct ipfix_exporter_t *exp, struct flow_report_t *fr,
			uint16_t collector_port,
			struct ipfix_report_element_t *elts, uint32_t n_elts,
			uint32_t *stream_index)
{
  (void) exp, (void) fr, (void) collector_port, (void) elts, (void) n_elts,
    (void) stream_index;
  return NULL;
}

static void
test_report_identity (void)
{
  fixture_t f;
  vnet_flow_report_add_del_args_t a;
  const flow_report_t *fr;
  uint32_t n_reports = 0;
  uint16_t tid;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, &tid), 0);
  CHECK_UEQ (tid, 256);

  /* Same opaque, other callbacks: other reports. */
  memset (&a, 0, sizeof (a));
  a.report_elements = fp_elts;
  a.n_report_elements = FP_N_ELTS;
  a.opaque.as_uword = 1;
  a.is_add = 1;
  a.domain_id = 1;
  a.src_port = 30001;
  a.flow_data_callback = dummy_data_callback;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), 0);
  CHECK_UEQ (tid, 257);
  CHECK_UEQ (a.flow_report_index, 1);
  fr = vpp_ipfix_report_get (f.main, 0, 1);
  CHECK (fr && fr->flow_data_callback == dummy_data_callback);

  /* A report without elements needs a rewrite callback (VPP's shim builds
     its template). */
  a.flow_data_callback = NULL;
  a.rewrite_callback = dummy_rewrite_callback;
  a.report_elements = NULL;
  a.n_report_elements = 0;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), 0);
  CHECK_UEQ (tid, 258);
  fr = vpp_ipfix_report_get (f.main, 0, 2);
  CHECK (fr && fr->rewrite_callback == dummy_rewrite_callback);
  CHECK (fr && fr->n_report_elements == 0 && fr->report_elements == NULL);

  /* Delete finds the one with the matching callbacks. */
  a.is_add = 0;
  a.rewrite_callback = NULL;
  a.flow_data_callback = dummy_data_callback;
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), 0);
  CHECK_UEQ (tid, 257);
  CHECK_EQ (vpp_ipfix_report_add_del (f.main, 0, &a, &tid), -6);
  CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, 0, &n_reports, NULL), 0);
  CHECK_UEQ (n_reports, 2);
  fr = vpp_ipfix_report_get (f.main, 0, 1);
  CHECK (fr && fr->rewrite_callback == dummy_rewrite_callback);
  fixture_fini (&f);
}

static void
test_stream_slots (void)
{
  fixture_t f;
  const flow_report_stream_t *st;
  const flow_report_t *fr;
  uint32_t idx, n_streams = 0;
  uint16_t tid;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, &tid), 0);
  CHECK_EQ (add_fp (&f, 1, 30001, 2, &tid), 0);
  CHECK_EQ (add_fp (&f, 1, 30001, 3, &tid), 0);
  CHECK_UEQ (tid, 258);
  CHECK_EQ (add_fp (&f, 2, 30002, 9, &tid), 0);
  CHECK_UEQ (tid, 256);

  /* Template ids of a live stream keep increasing across deletes. */
  CHECK_EQ (add_fp (&f, 2, 30002, 10, &tid), 0);
  CHECK_UEQ (tid, 257);
  CHECK_EQ (del_report (&f, 2, 30002, 10, NULL), 0);
  CHECK_EQ (add_fp (&f, 2, 30002, 11, &tid), 0);
  CHECK_UEQ (tid, 258);
  st = vpp_ipfix_stream_get (f.main, 0, 1);
  CHECK (st && st->next_template_no == 3 && st->n_reports == 2);

  /* Free stream 0, then a new stream takes its slot. */
  CHECK_EQ (del_report (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (del_report (&f, 1, 30001, 2, NULL), 0);
  st = vpp_ipfix_stream_get (f.main, 0, 0);
  CHECK (st && st->n_reports == 1);
  CHECK_EQ (del_report (&f, 1, 30001, 3, NULL), 0);
  CHECK_NULL (vpp_ipfix_stream_get (f.main, 0, 0));
  CHECK_EQ (
    report_add_del (&f, 0, 1, 5, 30005, 4, fp_elts, FP_N_ELTS, &tid, &idx), 0);
  fr = vpp_ipfix_report_get (f.main, 0, idx);
  CHECK (fr && fr->stream_index == 0);
  CHECK_EQ (vpp_ipfix_exporter_sizes (f.main, 0, NULL, &n_streams), 0);
  CHECK_UEQ (n_streams, 2);
  st = vpp_ipfix_stream_get (f.main, 0, 0);
  CHECK (st && st->domain_id == 5 && st->src_port == 30005);
  CHECK (st && st->n_reports == 1 && st->sequence_number == 0);
  /* VPP's add_stream () hands back the free slot as it is: domain, port,
     sequence number and report count are set, next_template_no is kept,
     so the new stream's first template id is 259 (ids 256..258 went to the
     slot's previous stream). */
  CHECK_UEQ (tid, 259);

  /* With no free slot, a new stream goes at the end and starts at 256. */
  CHECK_EQ (
    report_add_del (&f, 0, 1, 6, 30006, 5, fp_elts, FP_N_ELTS, &tid, &idx), 0);
  CHECK_UEQ (tid, 256);
  fr = vpp_ipfix_report_get (f.main, 0, idx);
  CHECK (fr && fr->stream_index == 2);
  fixture_fini (&f);
}

static void
test_template_id_wrap (void)
{
  static ipfix_report_element_t one[1] = { { 2, 8 } };
  fixture_t f;
  const flow_report_stream_t *st;
  uint32_t i, wrong = 0, first_wrong = 0;
  uint16_t tid = 0, prev = 0, expect;

  if (fixture_init (&f))
    return;
  /* A report that stays, so the stream (and its counter) stays. */
  CHECK_EQ (report_add_del (&f, 0, 1, 1, 30001, 1000, one, 1, &tid, NULL), 0);
  CHECK_UEQ (tid, 256);
  for (i = 0; i < 65280; i++)
    {
      prev = tid;
      if (report_add_del (&f, 0, 1, 1, 30001, 1, one, 1, &tid, NULL) ||
	  report_add_del (&f, 0, 0, 1, 30001, 1, NULL, 0, NULL, NULL))
	{
	  wrong++;
	  break;
	}
      expect = (uint16_t) (256 + (i + 1) % 65280);
      if (tid != expect && !wrong++)
	first_wrong = i;
    }
  CHECK_UEQ (wrong, 0);
  CHECK_UEQ (first_wrong, 0);
  /* 257, 258, ..., 65535, then back to 256 (VPP's modulo 65280). */
  CHECK_UEQ (prev, 65535);
  CHECK_UEQ (tid, 256);
  st = vpp_ipfix_stream_get (f.main, 0, 0);
  CHECK (st && st->next_template_no == 1);
  CHECK_EQ (report_add_del (&f, 0, 1, 1, 30001, 1, one, 1, &tid, NULL), 0);
  CHECK_UEQ (tid, 257);
  fixture_fini (&f);
}

static int
template_reset (const flow_report_t *fr)
{
  return fr && fr->last_template_sent == 0 && fr->update_rewrite == 1;
}

static int
template_untouched (const flow_report_t *fr, double sent_at)
{
  return fr && fr->last_template_sent == sent_at && fr->update_rewrite == 0;
}

static void
test_reports_reset (void)
{
  fixture_t f;
  ipfix_exporter_t *exp;
  uint32_t sent = 0, r;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  exp = vpp_ipfix_exporter_get (f.main, 0);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (add_fp (&f, 2, 30002, 2, NULL), 0);
  CHECK_EQ (add_fp (&f, 1, 30001, 3, NULL), 0);
  CHECK_EQ (add_fp (&f, 3, 30003, 4, NULL), 0);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 4);
  for (r = 0; r < 4; r++)
    {
      const flow_report_t *fr = vpp_ipfix_report_get (f.main, 0, r);
      CHECK (template_untouched (fr, START_TIME));
      CHECK (fr && fr->rewrite != NULL);
    }
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 2), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_EQ (append_records (&f, 1, 0, FP_RECORD_SIZE, 0, 3), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 1, 0), 0);
  CHECK_EQ (append_records (&f, 3, 0, FP_RECORD_SIZE, 0, 1), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 3, 0), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 2);
  CHECK_UEQ (stream_sequence (&f, 1), 3);
  CHECK_UEQ (stream_sequence (&f, 2), 1);

  /* Free stream 2; its slot keeps its old sequence number. */
  CHECK_EQ (del_report (&f, 3, 30003, 4, NULL), 0);
  CHECK_NULL (vpp_ipfix_stream_get (f.main, 0, 2));

  CHECK_EQ (vpp_ipfix_reports_reset (f.main, 0), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 0);
  CHECK_UEQ (stream_sequence (&f, 1), 0);
  for (r = 0; r < 3; r++)
    CHECK (template_reset (vpp_ipfix_report_get (f.main, 0, r)));
  /* VPP resets valid streams only. */
  CHECK (exp && exp->streams && exp->streams[2].sequence_number == 1);
  CHECK_EQ (vpp_ipfix_reports_reset (f.main, 3), -6);

  /* Everything is due again. */
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 3);
  fixture_fini (&f);
}

static void
test_stream_reset (void)
{
  fixture_t f;
  uint32_t sent = 0;
  double t1;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  /* exp->reports[0] is in stream 0; streams 0 and 1 each have two reports,
     so VPP's test of the first report's stream (not each report's) would
     reset nothing for stream 1 and everything for stream 0. */
  CHECK_EQ (add_fp (&f, 2, 30002, 1, NULL), 0); /* report 0, stream 0 */
  CHECK_EQ (add_fp (&f, 1, 30001, 2, NULL), 0); /* report 1, stream 1 */
  CHECK_EQ (add_fp (&f, 1, 30001, 3, NULL), 0); /* report 2, stream 1 */
  CHECK_EQ (add_fp (&f, 2, 30002, 4, NULL), 0); /* report 3, stream 0 */
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 4);
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 2), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_EQ (append_records (&f, 1, 1, FP_RECORD_SIZE, 0, 3), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 1, 1), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 2);
  CHECK_UEQ (stream_sequence (&f, 1), 3);

  CHECK_EQ (vpp_ipfix_stream_reset (f.main, 0, 1), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 2);
  CHECK_UEQ (stream_sequence (&f, 1), 0);
  CHECK (template_untouched (vpp_ipfix_report_get (f.main, 0, 0), START_TIME));
  CHECK (template_reset (vpp_ipfix_report_get (f.main, 0, 1)));
  CHECK (template_reset (vpp_ipfix_report_get (f.main, 0, 2)));
  CHECK (template_untouched (vpp_ipfix_report_get (f.main, 0, 3), START_TIME));

  /* Only stream 1's templates are due. */
  test_host_advance (f.host, 1);
  t1 = test_host_now (f.host);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 2);

  CHECK_EQ (vpp_ipfix_stream_reset (f.main, 0, 0), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 0);
  CHECK (template_reset (vpp_ipfix_report_get (f.main, 0, 0)));
  CHECK (template_untouched (vpp_ipfix_report_get (f.main, 0, 1), t1));
  CHECK (template_untouched (vpp_ipfix_report_get (f.main, 0, 2), t1));
  CHECK (template_reset (vpp_ipfix_report_get (f.main, 0, 3)));

  /* Unknown and free slots. */
  CHECK_EQ (vpp_ipfix_stream_reset (f.main, 0, 2), -6);
  CHECK_EQ (vpp_ipfix_stream_reset (f.main, 0, 1000), -6);
  CHECK_EQ (del_report (&f, 1, 30001, 2, NULL), 0);
  CHECK_EQ (del_report (&f, 1, 30001, 3, NULL), 0);
  CHECK_EQ (vpp_ipfix_stream_reset (f.main, 0, 1), -6);
  fixture_fini (&f);
}

static void
test_stream_change (void)
{
  fixture_t f;
  const flow_report_stream_t *st;
  const test_host_packet_t *pkts[8];
  test_ipfix_msg_t m;
  uint32_t sent = 0;
  size_t n;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0); /* stream 0 */
  CHECK_EQ (add_fp (&f, 2, 30002, 2, NULL), 0); /* stream 1 */
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 2), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 2);

  /* No stream with the old key: VPP's 1. */
  CHECK_EQ (vpp_ipfix_stream_change (f.main, 0, 9, 39999, 3, 30003), 1);

  /* A key another stream uses (its domain, or its port). */
  CHECK_EQ (vpp_ipfix_stream_change (f.main, 0, 1, 30001, 2, 30005), -7);
  CHECK_EQ (vpp_ipfix_stream_change (f.main, 0, 1, 30001, 7, 30002), -7);
  st = vpp_ipfix_stream_get (f.main, 0, 0);
  CHECK (st && st->domain_id == 1 && st->src_port == 30001);
  CHECK_UEQ (stream_sequence (&f, 0), 2);

  /* The same key: nothing to reset. */
  CHECK_EQ (vpp_ipfix_stream_change (f.main, 0, 1, 30001, 1, 30001), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 2);
  CHECK (template_untouched (vpp_ipfix_report_get (f.main, 0, 0), START_TIME));

  /* A new key: the packet under construction leaves under the old key, then
     the stream is re-keyed and reset. */
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 2, 1), 0);
  test_host_clear_packets (f.host);
  CHECK_EQ (vpp_ipfix_stream_change (f.main, 0, 1, 30001, 5, 30005), 0);
  n = captured (&f, 0, pkts, 8);
  CHECK_UEQ (n, 1);
  if (n == 1)
    {
      CHECK_EQ (test_ipfix_parse (pkts[0]->data, pkts[0]->info.length, &m), 0);
      CHECK_UEQ (m.domain_id, 1);
      CHECK_UEQ (m.src_port, 30001);
      CHECK_UEQ (m.sequence_number, 2);
    }
  st = vpp_ipfix_stream_get (f.main, 0, 0);
  CHECK (st && st->domain_id == 5 && st->src_port == 30005);
  CHECK_UEQ (stream_sequence (&f, 0), 0);
  CHECK (template_reset (vpp_ipfix_report_get (f.main, 0, 0)));
  CHECK (template_untouched (vpp_ipfix_report_get (f.main, 0, 1), START_TIME));

  /* The rebuilt template carries the new key. */
  test_host_clear_packets (f.host);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 1);
  n = captured (&f, 1, pkts, 8);
  CHECK_UEQ (n, 1);
  if (n == 1)
    {
      CHECK_EQ (test_ipfix_parse (pkts[0]->data, pkts[0]->info.length, &m), 0);
      CHECK_UEQ (m.domain_id, 5);
      CHECK_UEQ (m.src_port, 30005);
    }

  /* The old key is gone; the port alone can change. */
  CHECK_EQ (vpp_ipfix_stream_change (f.main, 0, 1, 30001, 6, 30006), 1);
  CHECK_EQ (vpp_ipfix_stream_change (f.main, 0, 5, 30005, 5, 30009), 0);
  st = vpp_ipfix_stream_get (f.main, 0, 0);
  CHECK (st && st->domain_id == 5 && st->src_port == 30009);
  fixture_fini (&f);
}

/* Checks a captured template packet against report `r` of exporter 0. */
static void
check_template_packet (fixture_t *f, const test_host_packet_t *p, uint32_t r)
{
  const flow_report_t *fr = vpp_ipfix_report_get (f->main, 0, r);
  const flow_report_stream_t *st;
  test_ipfix_msg_t m;
  uint32_t k, n;

  CHECK_NOT_NULL (fr);
  if (!fr)
    return;
  st = vpp_ipfix_stream_get (f->main, 0, fr->stream_index);
  CHECK (p->info.is_template);
  CHECK (!p->info.is_ip6);
  CHECK_UEQ (p->info.exporter_index, 0);
  CHECK_UEQ (p->info.fib_index, TEST_U32_NONE);
  CHECK_UEQ (p->thread_index, 0);
  CHECK_EQ (test_ipfix_parse (p->data, p->info.length, &m), 0);
  CHECK (!m.is_ip6);
  CHECK (memcmp (m.ip_dst, "\x7f\x00\x00\x01", 4) == 0);
  CHECK (memcmp (m.ip_src, "\x7f\x00\x00\x02", 4) == 0);
  CHECK (m.ip_checksum_ok);
  CHECK_UEQ (m.ttl, 254);
  CHECK_UEQ (m.dst_port, 4739);
  CHECK (st && m.src_port == st->src_port && m.domain_id == st->domain_id);
  CHECK_UEQ (m.udp_checksum, 0);
  CHECK_UEQ (m.version, 10);
  CHECK_UEQ (m.export_time, (uint32_t) test_host_now (f->host));
  CHECK (st && m.sequence_number == st->sequence_number);
  CHECK_UEQ (m.set_id, 2);
  n = fr->n_report_elements;
  CHECK_UEQ (m.set_data_len, 4 + 4 * n);
  if (m.set_data_len != 4 + 4 * n)
    return;
  CHECK_UEQ (test_get_u16 (m.set_data), fr->template_id);
  CHECK_UEQ (test_get_u16 (m.set_data + 2), n);
  for (k = 0; k < n; k++)
    {
      CHECK_UEQ (test_get_u16 (m.set_data + 4 + 4 * k),
		 fr->report_elements[k].info_element);
      CHECK_UEQ (test_get_u16 (m.set_data + 6 + 4 * k),
		 fr->report_elements[k].size);
    }
}

static void
test_templates_due (void)
{
  fixture_t f;
  const test_host_packet_t *pkts[8];
  vpp_ipfix_counters_t c;
  const flow_report_t *fr;
  uint32_t sent = 0, r;
  double next_due = -1;
  size_t n;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (report_add_del (&f, 0, 1, 1, 30001, 2, small_elts, SMALL_N_ELTS,
			    NULL, NULL),
	    0);
  CHECK_EQ (add_fp (&f, 2, 30002, 3, NULL), 0);

  /* Never sent: all due. One template packet per report. */
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, &next_due), 0);
  CHECK_UEQ (sent, 3);
  CHECK (next_due == 5.0);
  n = captured (&f, 1, pkts, 8);
  CHECK_UEQ (n, 3);
  CHECK_UEQ (captured (&f, 0, pkts, 8), 0);
  n = captured (&f, 1, pkts, 8);
  for (r = 0; r < 3 && r < n; r++)
    check_template_packet (&f, pkts[r], r);
  for (r = 0; r < 3; r++)
    {
      fr = vpp_ipfix_report_get (f.main, 0, r);
      CHECK (template_untouched (fr, START_TIME));
      CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, r, &c), 0);
      CHECK_UEQ (c.templates, 1);
    }
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.templates, 3);
  CHECK_UEQ (c.packets, 0);

  /* At once: none due. */
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 0);
  CHECK_UEQ (test_host_n_packets (f.host), 3);

  /* Due when more than the interval has passed (VPP: now > last + 20). */
  test_host_advance (f.host, 18);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, &next_due), 0);
  CHECK_UEQ (sent, 0);
  CHECK (next_due > 1.99 && next_due < 2.01);
  test_host_advance (f.host, 2);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 0);
  test_host_advance (f.host, 1);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 3);
  n = captured (&f, 1, pkts, 8);
  CHECK_UEQ (n, 6);
  for (r = 0; r < 3 && r + 3 < n; r++)
    check_template_packet (&f, pkts[r + 3], r);

  /* Sent on demand, due or not. */
  CHECK_EQ (vpp_ipfix_template_send (f.main, 0, 1), 0);
  CHECK_UEQ (captured (&f, 1, pkts, 8), 7);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.templates, 7);
  fixture_fini (&f);
}

static void
test_template_sequence (void)
{
  fixture_t f;
  const test_host_packet_t *pkts[8];
  test_ipfix_msg_t m;
  uint32_t sent = 0;
  size_t n;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 5), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 5);

  CHECK_EQ (vpp_ipfix_template_send (f.main, 0, 0), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 5);
  n = captured (&f, 1, pkts, 8);
  CHECK_UEQ (n, 2);
  if (n == 2)
    {
      CHECK_EQ (test_ipfix_parse (pkts[1]->data, pkts[1]->info.length, &m), 0);
      CHECK_UEQ (m.sequence_number, 5);
      CHECK_UEQ (m.set_id, 2);
    }
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 5, 1), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  n = captured (&f, 0, pkts, 8);
  CHECK_UEQ (n, 2);
  if (n == 2)
    {
      CHECK_EQ (test_ipfix_parse (pkts[1]->data, pkts[1]->info.length, &m), 0);
      CHECK_UEQ (m.sequence_number, 5);
    }
  CHECK_UEQ (stream_sequence (&f, 0), 6);
  fixture_fini (&f);
}

/* Checks the data packets captured so far hold records first..first+count-1
   of `size` bytes of report `r`, in order, in packets no larger than `mtu`,
   with sequence numbers counting the records before them from `seq0`.
   Returns the number of packets. */
static size_t
check_data_packets (fixture_t *f, uint32_t r, uint32_t size, uint32_t first,
		    uint32_t count, uint32_t mtu, uint32_t seq0)
{
  const test_host_packet_t *pkts[256];
  const flow_report_t *fr = vpp_ipfix_report_get (f->main, 0, r);
  test_ipfix_msg_t m;
  uint32_t next = first, seq = seq0, k, bad = 0;
  size_t n = captured (f, 0, pkts, 256), i;

  CHECK (n <= 256);
  if (!fr || n > 256)
    return n;
  for (i = 0; i < n; i++)
    {
      const test_host_packet_t *p = pkts[i];
      CHECK (p->info.length <= mtu);
      if (test_ipfix_parse (p->data, p->info.length, &m))
	{
	  CHECK_EQ (test_ipfix_parse (p->data, p->info.length, &m), 0);
	  continue;
	}
      CHECK (!p->info.is_template);
      CHECK_UEQ (m.set_id, fr->template_id);
      CHECK_UEQ (m.sequence_number, seq);
      CHECK (m.set_data_len > 0 && m.set_data_len % size == 0);
      CHECK (m.ip_checksum_ok && m.udp_checksum_ok);
      CHECK_UEQ (m.export_time, (uint32_t) test_host_now (f->host));
      for (k = 0; k + size <= m.set_data_len; k += size)
	if (!record_matches (m.set_data + k, size, next++))
	  bad++;
      seq += m.set_data_len / size;
    }
  CHECK_UEQ (bad, 0);
  CHECK_UEQ (next, first + count);
  return n;
}

static void
test_data_path_append (void)
{
  static const uint32_t mtus[] = { 124, 200, 1450 };
  fixture_t f;
  vpp_ipfix_exporter_config_t c;
  vpp_ipfix_counters_t rc, ec;
  const test_host_packet_t *pkts[8];
  size_t n, i;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);

  /* 512 bytes: 48 of headers and 8 records of 56 (496 bytes) a packet. */
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 20), 0);
  CHECK_UEQ (captured (&f, 0, pkts, 8), 2);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  n = captured (&f, 0, pkts, 8);
  CHECK_UEQ (n, 3);
  CHECK_UEQ (check_data_packets (&f, 0, FP_RECORD_SIZE, 0, 20, 512, 0), 3);
  if (n == 3)
    {
      CHECK_UEQ (pkts[0]->info.length, 496);
      CHECK_UEQ (pkts[1]->info.length, 496);
      CHECK_UEQ (pkts[2]->info.length, 48 + 4 * FP_RECORD_SIZE);
      for (i = 0; i < n; i++)
	{
	  test_ipfix_msg_t m;
	  CHECK_UEQ (pkts[i]->thread_index, 1);
	  CHECK_UEQ (pkts[i]->info.exporter_index, 0);
	  CHECK (!pkts[i]->info.is_ip6);
	  test_ipfix_parse (pkts[i]->data, pkts[i]->info.length, &m);
	  CHECK_UEQ (m.domain_id, 1);
	  CHECK_UEQ (m.src_port, 30001);
	  CHECK_UEQ (m.dst_port, 4739);
	  CHECK_UEQ (m.udp_checksum, 0);
	}
      /* The second packet's sequence number counts the first's records. */
    }
  CHECK_UEQ (stream_sequence (&f, 0), 20);
  CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, 0, &rc), 0);
  CHECK_UEQ (rc.packets, 3);
  CHECK_UEQ (rc.data_records, 20);
  CHECK_UEQ (rc.bytes, 496 + 496 + 48 + 4 * FP_RECORD_SIZE);
  /* The template went out ahead of the first data (RFC 7011 section 8). */
  CHECK_UEQ (rc.templates, 1);
  CHECK_UEQ (rc.alloc_failures + rc.dropped_packets + rc.dropped_records, 0);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &ec), 0);
  CHECK (memcmp (&rc, &ec, sizeof (rc)) == 0);

  /* Other MTUs: never a packet larger. */
  for (i = 0; i < sizeof (mtus) / sizeof (mtus[0]); i++)
    {
      uint32_t seq = stream_sequence (&f, 0);
      test_host_clear_packets (f.host);
      c = ipv4_config (mtus[i]);
      CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
      CHECK_EQ (append_records (&f, 0, 0, FP_RECORD_SIZE, 100, 77), 0);
      CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 0), 0);
      n = check_data_packets (&f, 0, FP_RECORD_SIZE, 100, 77, mtus[i], seq);
      CHECK_UEQ (n, (77 + (mtus[i] - 48) / 56 - 1) / ((mtus[i] - 48) / 56));
    }
  fixture_fini (&f);
}

/* Writes records first..first+count-1 to report 0 on thread `t` as VPP's
   callers do: get the buffer, write at next_data_offset, send when the next
   record would pass `path_mtu`. Returns the first error. */
static int
get_write_send (fixture_t *f, uint32_t t, uint32_t path_mtu, uint32_t first,
		uint32_t count)
{
  const flow_report_t *fr = vpp_ipfix_report_get (f->main, 0, 0);
  flow_report_per_thread_t *ptd;
  int32_t err = 0;
  uint32_t i;

  if (!fr)
    return -1;
  ptd = &fr->per_thread_data[t];
  for (i = 0; i < count; i++)
    {
      if (!vpp_ipfix_buffer_get (f->main, 0, 0, t, &err))
	return err;
      fill_record (ptd->packet.data + ptd->next_data_offset, FP_RECORD_SIZE,
		   first + i);
      ptd->next_data_offset += FP_RECORD_SIZE;
      ptd->n_data_records++;
      if ((uint32_t) ptd->next_data_offset + FP_RECORD_SIZE > path_mtu &&
	  (err = vpp_ipfix_buffer_send (f->main, 0, 0, t)) != 0)
	return err;
    }
  return 0;
}

/* buffer_alloc_packet of a host that gets its answer wrong: data NULL, or
   less room than asked; the buffer is taken back either way. */
static int short_alloc_mode; /* 1: data NULL, 2: capacity 100 */
static test_host_t *short_alloc_host;

static void *
short_alloc_packet (void *ctx, uint32_t thread_index, uint32_t min_capacity,
		    uint8_t **data, uint32_t *capacity)
{
  vpp_ipfix_ops_t ops = test_host_ops (short_alloc_host);
  void *b = ops.buffer_alloc_packet (ctx, thread_index, min_capacity, data,
				     capacity);

  if (b && short_alloc_mode == 1)
    *data = NULL;
  if (b && short_alloc_mode == 2)
    *capacity = 100;
  return b;
}

static void
test_alloc_packet_wrong_answers (void)
{
  int mode;

  for (mode = 1; mode <= 2; mode++)
    {
      fixture_t f;
      vpp_ipfix_ops_t ops;
      vpp_ipfix_counters_t rc;
      int32_t err = 0;

      f.main = NULL;
      f.host = short_alloc_host = test_host_create ();
      CHECK_NOT_NULL (f.host);
      if (!f.host)
	return;
      ops = test_host_ops (f.host);
      ops.buffer_alloc_packet = short_alloc_packet;
      short_alloc_mode = 0;
      CHECK_EQ (vpp_ipfix_main_create (&ops, 1, 0, &f.main), 0);
      if (!f.main)
	{
	  test_host_destroy (f.host);
	  return;
	}
      enable_ipv4 (&f, 512);
      CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
      /* The template goes out with a good buffer; then the host answers wrong. */
      CHECK_EQ (append_records (&f, 0, 0, FP_RECORD_SIZE, 0, 1), 0);
      CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 0), 0);
      short_alloc_mode = mode;
      CHECK_NULL (vpp_ipfix_buffer_get (f.main, 0, 0, 0, &err));
      CHECK_EQ (err, mode == 1 ? -1002 : -1006);
      CHECK_EQ (append_records (&f, 0, 0, FP_RECORD_SIZE, 1, 1),
		mode == 1 ? -1002 : -1006);
      CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, 0, &rc), 0);
      CHECK_UEQ (rc.alloc_failures, 2);
      /* Every buffer it handed out came back. */
      CHECK_UEQ (test_host_live_buffers (f.host), 0);
      short_alloc_mode = 0;
      CHECK_EQ (append_records (&f, 0, 0, FP_RECORD_SIZE, 1, 1), 0);
      CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 0), 0);
      CHECK_UEQ (check_data_packets (&f, 0, FP_RECORD_SIZE, 0, 2, 512, 0), 2);
      fixture_fini (&f);
    }
}

/* A host may allocate in one call (buffer_alloc_packet) or three; both give
   the same packets, and with the one call the other three are never called
   (they may be NULL). */
static void
test_alloc_forms (void)
{
  int form;

  for (form = 0; form < 3; form++)
    {
      fixture_t f;
      vpp_ipfix_ops_t ops;
      int rv;

      f.main = NULL;
      f.host = test_host_create ();
      CHECK_NOT_NULL (f.host);
      if (!f.host)
	return;
      ops = form == 0 ? test_host_ops_separate (f.host) :
			test_host_ops (f.host);
      if (form == 2)
	{
	  ops.buffer_alloc = NULL;
	  ops.buffer_data = NULL;
	  ops.buffer_capacity = NULL;
	}
      rv = vpp_ipfix_main_create (&ops, 2, 0, &f.main);
      CHECK_EQ (rv, 0);
      if (rv)
	{
	  test_host_destroy (f.host);
	  return;
	}
      enable_ipv4 (&f, 512);
      CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
      /* Both ways in: record by record, and VPP's get + write + send. */
      CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 20), 0);
      CHECK_EQ (get_write_send (&f, 1, 512, 20, 20), 0);
      CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
      CHECK_UEQ (check_data_packets (&f, 0, FP_RECORD_SIZE, 0, 40, 512, 0), 5);
      CHECK_UEQ (test_host_packet_allocs (f.host),
		 form == 0 ? 0 : test_host_allocs (f.host));
      /* The template's buffer and five packets' (8 + 8 + 8 + 8 + 8). */
      CHECK_UEQ (test_host_allocs (f.host), 1 + 5);
      /* A failed allocation is counted either way. */
      test_host_fail_allocs_after (f.host, 0);
      CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 20, 1), -1002);
      test_host_fail_allocs_after (f.host, TEST_HOST_NEVER_FAIL);
      {
	vpp_ipfix_counters_t rc;
	CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, 0, &rc), 0);
	CHECK_UEQ (rc.alloc_failures, 1);
      }
      fixture_fini (&f);
    }
}

static void
test_data_path_vpp_style (void)
{
  fixture_t f;
  const flow_report_t *fr;
  flow_report_per_thread_t *ptd;
  void *b, *b0;
  int32_t err = 99;
  uint32_t i;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  if (!fr)
    {
      CHECK_NOT_NULL (fr);
      fixture_fini (&f);
      return;
    }
  ptd = &fr->per_thread_data[1];
  b = vpp_ipfix_buffer_get (f.main, 0, 0, 1, &err);
  CHECK_NOT_NULL (b);
  CHECK_EQ (err, 0);
  CHECK (ptd->buffer == b);
  CHECK_UEQ (ptd->next_data_offset, 48);
  CHECK_UEQ (ptd->n_data_records, 0);
  CHECK_NOT_NULL (ptd->packet.data);
  CHECK_UEQ (ptd->packet.capacity, TEST_HOST_BUFFER_BYTES);
  CHECK (vpp_ipfix_buffer_get (f.main, 0, 0, 1, NULL) == b);
  CHECK_UEQ (test_host_allocs (f.host), 1);

  /* Another thread: its own buffer. */
  b0 = vpp_ipfix_buffer_get (f.main, 0, 0, 0, &err);
  CHECK (b0 != NULL && b0 != b);
  CHECK (fr->per_thread_data[0].buffer == b0);

  for (i = 0; i < 3 && ptd->packet.data; i++)
    {
      fill_record (ptd->packet.data + ptd->next_data_offset, FP_RECORD_SIZE, i);
      ptd->next_data_offset += FP_RECORD_SIZE;
      ptd->n_data_records++;
    }
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_NULL (ptd->buffer);
  CHECK_UEQ (ptd->next_data_offset, 0);
  CHECK_UEQ (ptd->n_data_records, 0);
  CHECK_NULL (ptd->packet.data);
  CHECK_UEQ (check_data_packets (&f, 0, FP_RECORD_SIZE, 0, 3, 512, 0), 1);
  CHECK_UEQ (stream_sequence (&f, 0), 3);
  CHECK (fr->per_thread_data[0].buffer == b0);
  fixture_fini (&f);
}

/* vpp_ipfix_buffer_get_inline answers as vpp_ipfix_buffer_get does: the current
   buffer once the thread's memo is made, and the function's answer whenever the
   memo is stale (any configuration call), missing (another report or thread) or
   not to be used (a timer runs), or the view empty (NULL instance). */
static void
test_buffer_get_inline (void)
{
  fixture_t f;
  vpp_ipfix_fast_path_t fp, none;
  void *b;
  int32_t err = 99;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (add_fp (&f, 2, 30002, 2, NULL), 0);
  fp = vpp_ipfix_fast_path_get (f.main);
  CHECK_UEQ (fp.n_threads, N_THREADS);

  /* The first call makes the memo (through the function), the next uses it. */
  b = vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 0, 1, &err);
  CHECK_NOT_NULL (b);
  CHECK_EQ (err, 0);
  err = 99;
  CHECK (vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 0, 1, &err) == b);
  CHECK_EQ (err, 0);
  CHECK (vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 0, 1, NULL) == b);
  CHECK_UEQ (test_host_allocs (f.host), 1);
  /* Another report, another thread, a bad thread. */
  CHECK (vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 1, 1, &err) != b);
  CHECK (vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 0, 0, &err) != b);
  CHECK_NULL (vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 0, N_THREADS, &err));
  CHECK_EQ (err, VPP_IPFIX_ERROR_INVALID_WORKER);
  CHECK (vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 0, 1, &err) == b);

  /* Deleting report 0 moves report 1 to index 0: the memo must not serve the
     old one's buffer (its packet was sent by the delete). */
  CHECK_EQ (del_report (&f, 1, 30001, 1, NULL), 0);
  b = vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 0, 1, &err);
  CHECK (b != NULL &&
	 b == vpp_ipfix_report_get (f.main, 0, 0)->per_thread_data[1].buffer);
  CHECK_NULL (vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 1, 1, &err));
  CHECK_EQ (err, VPP_IPFIX_ERROR_NO_SUCH_ENTRY);

  /* A running timer: the function's refusal, though the memo matched. */
  CHECK (vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 0, 1, &err) == b);
  CHECK_EQ (vpp_ipfix_timer_start (f.main, 3600, 3600), 0);
  CHECK_NULL (vpp_ipfix_buffer_get_inline (&fp, f.main, 0, 0, 1, &err));
  CHECK_EQ (err, VPP_IPFIX_ERROR_TIMER_RUNNING);
  CHECK_EQ (vpp_ipfix_timer_stop (f.main), 0);

  none = vpp_ipfix_fast_path_get (NULL);
  CHECK_UEQ (none.n_threads, 0);
  CHECK_NULL (vpp_ipfix_buffer_get_inline (&none, NULL, 0, 0, 1, &err));
  CHECK_EQ (err, VPP_IPFIX_ERROR_NULL_POINTER);
  CHECK_EQ (vpp_ipfix_flush (f.main), 0);
  fixture_fini (&f);
}

static void
test_send_nothing (void)
{
  fixture_t f;
  vpp_ipfix_counters_t c;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);

  /* No buffer at all. */
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_UEQ (test_host_n_packets (f.host), 0);
  CHECK_UEQ (test_host_allocs (f.host), 0);

  /* A buffer with no record. */
  CHECK_NOT_NULL (vpp_ipfix_buffer_get (f.main, 0, 0, 1, NULL));
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_UEQ (test_host_n_packets (f.host), 0);
  CHECK_UEQ (stream_sequence (&f, 0), 0);
  CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, 0, &c), 0);
  CHECK_UEQ (c.packets + c.dropped_packets, 0);

  /* Flush has nothing to send either. */
  CHECK_EQ (vpp_ipfix_flush (f.main), 0);
  CHECK_UEQ (test_host_n_packets (f.host), 0);
  fixture_fini (&f);
}

static void
test_ipv6_and_checksums (void)
{
  fixture_t f;
  vpp_ipfix_exporter_config_t c;
  const test_host_packet_t *pkts[8];
  test_ipfix_msg_t m;
  uint32_t sent = 0;
  size_t n;

  if (fixture_init (&f))
    return;
  c = ipv6_config (512);
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 1);
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 3), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  n = test_host_n_packets (f.host);
  CHECK_UEQ (n, 2);
  if (n == 2)
    {
      const test_host_packet_t *t = test_host_packet (f.host, 0);
      const test_host_packet_t *d = test_host_packet (f.host, 1);
      CHECK (t->info.is_ip6 && t->info.is_template);
      CHECK_EQ (test_ipfix_parse (t->data, t->info.length, &m), 0);
      CHECK (m.is_ip6 && m.udp_checksum != 0 && m.udp_checksum_ok);
      CHECK_UEQ (m.ttl, 254);
      CHECK (memcmp (m.ip_dst, c.collector.ip.as_u8, 16) == 0);
      CHECK (memcmp (m.ip_src, c.src_address.ip.as_u8, 16) == 0);
      CHECK (d->info.is_ip6 && !d->info.is_template);
      CHECK_UEQ (d->info.length, 68 + 3 * FP_RECORD_SIZE);
      CHECK_EQ (test_ipfix_parse (d->data, d->info.length, &m), 0);
      CHECK (m.is_ip6 && m.udp_checksum != 0 && m.udp_checksum_ok);
      CHECK_UEQ (m.set_data_len, 3 * FP_RECORD_SIZE);
    }

  /* IPv4 with udp-checksum. */
  test_host_clear_packets (f.host);
  c = ipv4_config (512);
  c.udp_checksum = 1;
  CHECK_EQ (vpp_ipfix_exporter_set (f.main, 0, &c), 0);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 1);
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 2), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  n = captured (&f, 0, pkts, 8);
  CHECK_UEQ (n, 1);
  if (n == 1)
    {
      CHECK_EQ (test_ipfix_parse (pkts[0]->data, pkts[0]->info.length, &m), 0);
      CHECK (!m.is_ip6 && m.udp_checksum != 0 && m.udp_checksum_ok);
      CHECK (m.ip_checksum_ok);
    }
  n = captured (&f, 1, pkts, 8);
  CHECK_UEQ (n, 1);
  if (n == 1)
    {
      CHECK_EQ (test_ipfix_parse (pkts[0]->data, pkts[0]->info.length, &m), 0);
      CHECK (m.udp_checksum != 0 && m.udp_checksum_ok);
    }
  fixture_fini (&f);
}

static void
test_template_goes_ahead_of_first_data (void)
{
  fixture_t f;
  const test_host_packet_t *pkts[4];
  test_ipfix_msg_t m;
  uint32_t sent = 99;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  /* No template round has run: the first data send takes the template along. */
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 2), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_UEQ (test_host_n_packets (f.host), 2);
  if (test_host_n_packets (f.host) == 2)
    {
      pkts[0] = test_host_packet (f.host, 0);
      pkts[1] = test_host_packet (f.host, 1);
      CHECK (pkts[0]->info.is_template);
      CHECK_UEQ (pkts[0]->thread_index, 1);
      CHECK_EQ (test_ipfix_parse (pkts[0]->data, pkts[0]->info.length, &m), 0);
      CHECK_UEQ (m.set_id, 2);
      CHECK (!pkts[1]->info.is_template);
    }
  /* The template is sent, not due again until its interval passes. */
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 0);
  fixture_fini (&f);
}

static void
test_counters_keep_deleted_reports (void)
{
  fixture_t f;
  vpp_ipfix_counters_t c;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (add_fp (&f, 1, 30001, 2, NULL), 0);
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 3), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 0, 1), 0);
  CHECK_EQ (append_records (&f, 1, 0, FP_RECORD_SIZE, 0, 2), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (f.main, 0, 1, 0), 0);
  /* A packet under construction is sent when its report is deleted. */
  CHECK_EQ (append_records (&f, 0, 0, FP_RECORD_SIZE, 3, 1), 0);
  CHECK_EQ (del_report (&f, 1, 30001, 1, NULL), 0);
  /* Three data packets, each report's template ahead of its first. */
  CHECK_UEQ (captured (&f, 0, NULL, 0), 3);
  CHECK_UEQ (captured (&f, 1, NULL, 0), 2);
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.packets, 3);
  CHECK_UEQ (c.data_records, 6);
  CHECK_UEQ (c.bytes, 3 * 48 + 6 * FP_RECORD_SIZE);
  CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, 0, &c), 0);
  CHECK_UEQ (c.packets, 1);
  CHECK_UEQ (c.data_records, 2);
  CHECK_EQ (vpp_ipfix_report_counters (f.main, 0, 1, &c), -6);
  CHECK_UEQ (stream_sequence (&f, 0), 6);
  fixture_fini (&f);
}

static void
test_flush (void)
{
  fixture_t f;
  const flow_report_t *fr;
  uint32_t t;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (add_fp (&f, 2, 30002, 2, NULL), 0);
  CHECK_EQ (append_records (&f, 0, 0, FP_RECORD_SIZE, 0, 2), 0);
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 2, 2), 0);
  CHECK_EQ (append_records (&f, 1, 1, FP_RECORD_SIZE, 0, 1), 0);
  CHECK_UEQ (test_host_n_packets (f.host), 0);
  CHECK_EQ (vpp_ipfix_flush (f.main), 0);
  CHECK_UEQ (captured (&f, 0, NULL, 0), 3);
  CHECK_UEQ (captured (&f, 1, NULL, 0), 2);
  CHECK_UEQ (stream_sequence (&f, 0), 4);
  CHECK_UEQ (stream_sequence (&f, 1), 1);
  CHECK_UEQ (test_host_live_buffers (f.host), 0);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  for (t = 0; fr && t < N_THREADS; t++)
    {
      CHECK_NULL (fr->per_thread_data[t].buffer);
      CHECK_UEQ (fr->per_thread_data[t].n_data_records, 0);
    }
  fixture_fini (&f);
}

/* Two OS threads, thread indices 0 and 1, on two reports of one stream. */
#define THREAD_RECORDS 6000

typedef struct
{
  fixture_t *f;
  uint32_t thread_index;
  int error;
} worker_t;

static void *
worker_main (void *arg)
{
  worker_t *w = arg;
  uint8_t rec[FP_RECORD_SIZE];
  uint32_t i;
  int rv;

  for (i = 0; i < THREAD_RECORDS && !w->error; i++)
    {
      fill_record (rec, FP_RECORD_SIZE, i);
      rec[4] = (uint8_t) w->thread_index;
      rv = vpp_ipfix_record_append (w->f->main, 0, i & 1, w->thread_index, rec,
				    sizeof (rec));
      if (rv)
	w->error = rv;
    }
  for (i = 0; i < 2 && !w->error; i++)
    w->error = vpp_ipfix_buffer_send (w->f->main, 0, i, w->thread_index);
  return NULL;
}

static int
compare_by_sequence (const void *a, const void *b)
{
  const uint64_t *x = a, *y = b;
  return (*x >> 32) < (*y >> 32) ? -1 : (*x >> 32) > (*y >> 32);
}

static void
test_threads (void)
{
  fixture_t f;
  worker_t w[N_THREADS];
  pthread_t tid[N_THREADS];
  vpp_ipfix_counters_t c;
  uint8_t *seen;
  uint64_t *seqs;
  uint32_t t, k, dup = 0, expect;
  size_t i, n;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 1450);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (add_fp (&f, 1, 30001, 2, NULL), 0);
  /* Templates first, as a process node sends them: the test reads data only. */
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, NULL, NULL), 0);
  test_host_clear_packets (f.host);
  for (t = 0; t < N_THREADS; t++)
    {
      w[t].f = &f;
      w[t].thread_index = t;
      w[t].error = 0;
      CHECK_EQ (pthread_create (&tid[t], NULL, worker_main, &w[t]), 0);
    }
  for (t = 0; t < N_THREADS; t++)
    {
      pthread_join (tid[t], NULL);
      CHECK_EQ (w[t].error, 0);
    }
  CHECK_EQ (vpp_ipfix_exporter_counters (f.main, 0, &c), 0);
  CHECK_UEQ (c.data_records, N_THREADS * THREAD_RECORDS);
  CHECK_UEQ (stream_sequence (&f, 0), N_THREADS * THREAD_RECORDS);
  n = test_host_n_packets (f.host);
  CHECK_UEQ (c.packets, n);

  /* Every record once; the sequence numbers of the packets, in order, count
     the records before each. */
  seen = calloc (N_THREADS * THREAD_RECORDS, 1);
  seqs = calloc (n ? n : 1, sizeof (*seqs));
  if (!seen || !seqs)
    {
      CHECK (seen && seqs);
      free (seen);
      free (seqs);
      fixture_fini (&f);
      return;
    }
  for (i = 0; i < n; i++)
    {
      const test_host_packet_t *p = test_host_packet (f.host, i);
      test_ipfix_msg_t m;
      if (test_ipfix_parse (p->data, p->info.length, &m))
	{
	  dup++;
	  continue;
	}
      seqs[i] = ((uint64_t) m.sequence_number << 32) |
		(m.set_data_len / FP_RECORD_SIZE);
      for (k = 0; k + FP_RECORD_SIZE <= m.set_data_len; k += FP_RECORD_SIZE)
	{
	  uint32_t rec_no = test_get_u32 (m.set_data + k);
	  uint32_t thread = m.set_data[k + 4];
	  if (rec_no >= THREAD_RECORDS || thread >= N_THREADS ||
	      (rec_no & 1) != m.set_id - 256u ||
	      seen[thread * THREAD_RECORDS + rec_no]++)
	    dup++;
	}
    }
  CHECK_UEQ (dup, 0);
  for (k = 0; k < N_THREADS * THREAD_RECORDS; k++)
    if (!seen[k])
      dup++;
  CHECK_UEQ (dup, 0);
  qsort (seqs, n, sizeof (*seqs), compare_by_sequence);
  expect = 0;
  for (i = 0; i < n; i++)
    {
      if ((seqs[i] >> 32) != expect)
	break;
      expect += (uint32_t) seqs[i];
    }
  CHECK_UEQ (i, n);
  CHECK_UEQ (expect, N_THREADS * THREAD_RECORDS);
  free (seen);
  free (seqs);
  fixture_fini (&f);
}

/* A host that keeps the vectors C reads in memory of its own and builds
   templates the way VPP's rewrite callbacks do, as VPP's shim does. */
static struct
{
  int live_vectors;
  int resizes;
  int fail_rewrite;	 /* the rewrite says there is none */
  int malformed_rewrite; /* the rewrite is not a template packet */
  int live_bitmaps;	 /* fields_to_send the rewrite attached */
  int removed;		 /* report_removed calls */
} owner;

static uint32_t
vec_header_len (const void *v)
{
  return ((const uint32_t *) v)[-2];
}

static uint8_t
vec_header_size (const void *v)
{
  return ((const uint8_t *) v)[-4];
}

static void *
owner_vec_resize (void *ctx, void *vec, uint32_t new_len, uint32_t elt_size,
		  uint32_t align, uint32_t header_bytes)
{
  uint32_t data_align = align < 8 ? 8 : align;
  uint32_t offset = ((header_bytes + 7) / 8) * 8 + 8;
  uint32_t old_len = vec ? vec_header_len (vec) : 0;
  uint8_t *base, *data;

  (void) ctx;
  offset = (offset + data_align - 1) / data_align * data_align;
  base = aligned_alloc (
    data_align,
    ((offset + (size_t) new_len * elt_size + data_align - 1) / data_align) *
      data_align);
  if (!base)
    return NULL;
  memset (base, 0, offset + (size_t) new_len * elt_size);
  data = base + offset;
  if (vec)
    {
      memcpy (data, vec,
	      (size_t) (old_len < new_len ? old_len : new_len) * elt_size);
      memcpy (base, (uint8_t *) vec - vec_header_size (vec) * 8, header_bytes);
      free ((uint8_t *) vec - vec_header_size (vec) * 8);
    }
  else
    owner.live_vectors++;
  ((uint32_t *) data)[-2] = new_len;
  data[-4] = (uint8_t) (offset / 8);
  owner.resizes++;
  return data;
}

static void
owner_vec_free (void *ctx, void *vec)
{
  (void) ctx;
  free ((uint8_t *) vec - vec_header_size (vec) * 8);
  owner.live_vectors--;
}

/* IPv4 + UDP + message header + one template set: sourceIPv4Address and
   destinationIPv4Address, with the report's template id. */
static int32_t
owner_template_rewrite (void *ctx, struct ipfix_exporter_t *exp,
			struct flow_report_t *fr, uint8_t *packet,
			uint32_t capacity, uint32_t *length)
{
  const uint32_t len = 20 + 8 + 16 + 16;

  (void) ctx, (void) exp;
  /* Like VPP's classifier callback: a bitmap of the fields it sends, kept in
     the report, which the host frees when the report goes. */
  if (!fr->fields_to_send)
    {
      fr->fields_to_send = calloc (1, sizeof (*fr->fields_to_send));
      if (fr->fields_to_send)
	owner.live_bitmaps++;
    }
  if (owner.fail_rewrite || capacity < len)
    return -1;
  memset (packet, 0, len);
  packet[0] = 0x45;
  test_put_u16 (packet + 28, owner.malformed_rewrite ? 9 : 10);
  test_put_u16 (packet + 30, 16 + 16);
  test_put_u16 (packet + 44, 2);
  test_put_u16 (packet + 46, 16);
  test_put_u16 (packet + 48, fr->template_id);
  test_put_u16 (packet + 50, 2);
  test_put_u16 (packet + 52, 8);
  test_put_u16 (packet + 54, 4);
  test_put_u16 (packet + 56, 12);
  test_put_u16 (packet + 58, 4);
  *length = len;
  return 0;
}

static void
owner_report_removed (void *ctx, struct ipfix_exporter_t *exp,
		      struct flow_report_t *fr)
{
  (void) ctx, (void) exp;
  owner.removed++;
  if (fr->fields_to_send)
    {
      free (fr->fields_to_send);
      fr->fields_to_send = NULL;
      owner.live_bitmaps--;
    }
}

/* exp->reports, exp->streams and the exporters are vectors in VPP's layout, in
   the host's memory: vec_len reads them, and VPP code may grow exp->streams
   itself (flowprobe's vec_validate) without the library losing track. Reports
   without elements send the template their owner builds. */
static void
test_host_vectors_and_owner_templates (void)
{
  test_host_t *host = test_host_create ();
  vpp_ipfix_ops_t ops = test_host_ops (host);
  vpp_ipfix_main_t *main = NULL;
  vpp_ipfix_exporter_config_t c = ipv4_config (1450);
  vnet_flow_report_add_del_args_t a;
  ipfix_exporter_t *exp;
  const flow_report_t *fr;
  const test_host_packet_t *p;
  test_ipfix_msg_t m;
  uint32_t n_reports = 0, n_streams = 0, sent = 0;
  uint16_t template_id = 0;
  uint8_t copy[256];
  uint32_t copy_len = 0;
  flow_report_stream_t *grown;

  memset (&owner, 0, sizeof (owner));
  ops.vec_resize = owner_vec_resize;
  ops.vec_free = owner_vec_free;
  ops.template_rewrite = owner_template_rewrite;
  ops.report_removed = owner_report_removed;
  CHECK_EQ (vpp_ipfix_main_create (&ops, 1, 0, &main), 0);
  CHECK_EQ (owner.live_vectors, 1);
  exp = vpp_ipfix_exporter_get (main, 0);
  CHECK_NOT_NULL (exp);
  CHECK_UEQ (vec_header_len (exp), 5);
  /* pool_header_t, padding, vec_header_t: the data on its own cache lines. */
  CHECK_UEQ (vec_header_size (exp), 16);
  CHECK_UEQ ((uintptr_t) exp % 128, 0);
  CHECK_EQ (vpp_ipfix_exporter_set (main, 0, &c), 0);

  memset (&a, 0, sizeof (a));
  a.is_add = 1;
  a.domain_id = 7;
  a.src_port = 4739;
  a.rewrite_callback = dummy_rewrite_callback;
  CHECK_EQ (vpp_ipfix_report_add_del (main, 0, &a, &template_id), 0);
  CHECK_UEQ (template_id, 256);
  CHECK_UEQ (vec_header_len (exp->reports), 1);
  CHECK_UEQ (vec_header_len (exp->streams), 1);
  CHECK_EQ (owner.live_vectors, 3);

  /* The owner's template set goes out in the library's message. */
  CHECK_EQ (vpp_ipfix_templates_send_due (main, &sent, NULL), 0);
  CHECK_UEQ (sent, 1);
  CHECK_UEQ (test_host_n_packets (host), 1);
  p = test_host_packet (host, 0);
  CHECK_EQ (test_ipfix_parse (p->data, p->info.length, &m), 0);
  CHECK_UEQ (m.domain_id, 7);
  CHECK_UEQ (m.src_port, 4739);
  CHECK_UEQ (m.set_id, 2);
  CHECK_UEQ (m.set_length, 16);
  CHECK_UEQ (test_get_u16 (m.set_data), 256);
  CHECK_UEQ (test_get_u16 (m.set_data + 6), 4);
  fr = vpp_ipfix_report_get (main, 0, 0);
  CHECK (fr && fr->rewrite && fr->update_rewrite == 0);
  CHECK_EQ (
    vpp_ipfix_report_template (main, 0, 0, copy, sizeof (copy), &copy_len), 0);
  CHECK_UEQ (copy_len, p->info.length);
  CHECK_EQ (vpp_ipfix_report_template (main, 0, 0, copy, 8, &copy_len), -1006);
  /* fr->rewrite is a vector in the host's memory, as VPP's was (its ioam
     exporters read it with vec_len and copy it). */
  CHECK_UEQ (vec_header_len (fr->rewrite), p->info.length);
  CHECK (memcmp (fr->rewrite, copy, p->info.length) == 0);
  CHECK_EQ (owner.live_vectors, 4);

  /* VPP code grows exp->streams itself, as flowprobe's vec_validate does. */
  grown = owner_vec_resize (NULL, exp->streams, 2,
			    sizeof (flow_report_stream_t), 8, 0);
  CHECK_NOT_NULL (grown);
  exp->streams = grown;
  exp->streams[1].domain_id = 1;
  CHECK_EQ (vpp_ipfix_exporter_sizes (main, 0, &n_reports, &n_streams), 0);
  CHECK_UEQ (n_reports, 1);
  CHECK_UEQ (n_streams, 2);
  a.domain_id = 1;
  a.src_port = 0;
  a.opaque.as_uword = 2;
  CHECK_EQ (vpp_ipfix_report_add_del (main, 0, &a, &template_id), 0);
  fr = vpp_ipfix_report_get (main, 0, 1);
  CHECK (fr && fr->stream_index == 1);
  CHECK_UEQ (exp->streams[1].n_reports, 1);

  /* An owner without a template, or with a malformed one: counted, retried. */
  test_host_clear_packets (host);
  vpp_ipfix_reports_reset (main, 0);
  owner.fail_rewrite = 1;
  CHECK_EQ (vpp_ipfix_templates_send_due (main, &sent, NULL), -7);
  CHECK_UEQ (sent, 0);
  owner.fail_rewrite = 0;
  owner.malformed_rewrite = 1;
  CHECK_EQ (vpp_ipfix_templates_send_due (main, &sent, NULL), -7);
  CHECK_UEQ (test_host_n_packets (host), 0);
  owner.malformed_rewrite = 0;
  CHECK_EQ (vpp_ipfix_templates_send_due (main, &sent, NULL), 0);
  CHECK_UEQ (sent, 2);
  /* Rebuilt templates replace the vectors: one a report. */
  CHECK_EQ (owner.live_vectors, 5);
  fr = vpp_ipfix_report_get (main, 0, 1);
  CHECK (fr && fr->rewrite
	 && vec_header_len (fr->rewrite) == test_host_packet (host, 1)->info.length);

  /* Deleting a report shrinks exp->reports; destroying frees every vector. */
  CHECK_EQ (
    vpp_ipfix_report_add_del (main, 0,
			      &(vnet_flow_report_add_del_args_t){
				.is_add = 0,
				.domain_id = 1,
				.rewrite_callback = dummy_rewrite_callback,
				.opaque.as_uword = 2 },
			      NULL),
    0);
  CHECK_UEQ (vec_header_len (exp->reports), 1);
  CHECK_EQ (owner.live_vectors, 4);
  /* The host heard of the report going, and freed what it had attached; the
     report left is heard of at destroy. */
  CHECK_EQ (owner.removed, 1);
  CHECK_EQ (owner.live_bitmaps, 1);
  vpp_ipfix_main_destroy (main);
  CHECK_EQ (owner.removed, 2);
  CHECK_EQ (owner.live_bitmaps, 0);
  CHECK_EQ (owner.live_vectors, 0);
  CHECK_UEQ (test_host_live_buffers (host), 0);
  test_host_destroy (host);
}

static void
test_native_report (void)
{
  fixture_t f;
  vpp_ipfix_field_t fields[FP_N_ELTS + 1];
  vpp_ipfix_report_config_t rc;
  const flow_report_t *fr;
  const test_host_packet_t *pkts[4];
  test_ipfix_msg_t m;
  opaque_t op;
  uint32_t idx = 99, k;
  uint16_t tid = 0;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  for (k = 0; k < FP_N_ELTS; k++)
    {
      fields[k].element_id = (uint16_t) fp_elts[k].info_element;
      fields[k].length = (uint16_t) fp_elts[k].size;
      fields[k].enterprise_number = 0;
    }
  fields[FP_N_ELTS].element_id = 1;
  fields[FP_N_ELTS].length = 4;
  fields[FP_N_ELTS].enterprise_number = 6871;
  memset (&rc, 0, sizeof (rc));
  rc.domain_id = 2;
  rc.src_port = 30002;
  rc.fields = fields;
  rc.n_fields = FP_N_ELTS + 1;
  rc.opaque.as_uword = 3;
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, &rc, &idx, &tid), 0);
  CHECK_UEQ (idx, 0);
  CHECK_UEQ (tid, 256);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  CHECK (fr && fr->data_record_size == 60);
  CHECK (fr && fr->n_report_elements == FP_N_ELTS + 1);
  CHECK (fr && fr->report_elements &&
	 fr->report_elements[FP_N_ELTS].info_element == 1 &&
	 fr->report_elements[FP_N_ELTS].size == 4);
  tid = 0;
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, &rc, &idx, &tid), -81);
  CHECK_UEQ (tid, 256);

  /* Its template: the enterprise bit and number on the last field. */
  CHECK_EQ (vpp_ipfix_template_send (f.main, 0, 0), 0);
  if (captured (&f, 1, pkts, 4) == 1)
    {
      CHECK_EQ (test_ipfix_parse (pkts[0]->data, pkts[0]->info.length, &m), 0);
      CHECK_UEQ (m.set_data_len, 4 + 4 * FP_N_ELTS + 8);
      if (m.set_data_len == 4 + 4 * FP_N_ELTS + 8)
	{
	  const uint8_t *e = m.set_data + 4 + 4 * FP_N_ELTS;
	  CHECK_UEQ (test_get_u16 (m.set_data + 2), FP_N_ELTS + 1);
	  CHECK_UEQ (test_get_u16 (e), 0x8001);
	  CHECK_UEQ (test_get_u16 (e + 2), 4);
	  CHECK_UEQ (test_get_u32 (e + 4), 6871);
	}
    }
  else
    CHECK_UEQ (captured (&f, 1, pkts, 4), 1);

  /* A variable-length field: no fixed record size. */
  fields[1].element_id = 82; /* interfaceName */
  fields[1].length = 65535;
  rc.n_fields = 2;
  rc.opaque.as_uword = 4;
  CHECK_EQ (vpp_ipfix_report_add (f.main, 0, &rc, &idx, &tid), 0);
  CHECK_UEQ (idx, 1);
  CHECK_UEQ (tid, 257);
  fr = vpp_ipfix_report_get (f.main, 0, 1);
  CHECK (fr && fr->data_record_size == -1);

  op.as_uword = 3;
  tid = 0;
  CHECK_EQ (vpp_ipfix_report_delete (f.main, 0, 2, 30002, op, &tid), 0);
  CHECK_UEQ (tid, 256);
  CHECK_EQ (vpp_ipfix_report_delete (f.main, 0, 2, 30002, op, &tid), -6);
  CHECK_EQ (vpp_ipfix_report_delete (f.main, 0, 2, 30009, op, &tid), -7);
  fixture_fini (&f);
}

static void
test_template_is_due (void)
{
  fixture_t f;
  uint32_t sent = 0;
  uint8_t due = 9;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, 0, START_TIME, &due), 0);
  CHECK_UEQ (due, 1);
  CHECK_EQ (vpp_ipfix_templates_send_due (f.main, &sent, NULL), 0);
  CHECK_UEQ (sent, 1);
  CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, 0, START_TIME, &due), 0);
  CHECK_UEQ (due, 0);
  CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, 0, START_TIME + 20, &due), 0);
  CHECK_UEQ (due, 0);
  CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, 0, START_TIME + 20.5, &due),
	    0);
  CHECK_UEQ (due, 1);
  due = 9;
  CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, 1, START_TIME, &due), -6);
  CHECK_UEQ (due, 9);
  /* A reset makes it due at once. */
  CHECK_EQ (vpp_ipfix_reports_reset (f.main, 0), 0);
  CHECK_EQ (vpp_ipfix_template_is_due (f.main, 0, 0, START_TIME, &due), 0);
  CHECK_UEQ (due, 1);
  fixture_fini (&f);
}

static void
test_thread_flush_idle (void)
{
  fixture_t f;
  const flow_report_t *fr;
  const test_host_packet_t *pkts[8];
  uint32_t sent = 99;
  size_t n;

  if (fixture_init (&f))
    return;
  enable_ipv4 (&f, 512);
  CHECK_EQ (add_fp (&f, 1, 30001, 1, NULL), 0);
  CHECK_EQ (add_fp (&f, 2, 30002, 2, NULL), 0);

  /* Thread 1: report 0 started at t, report 1 at t + 3; thread 0: report 0
     at t + 3. */
  CHECK_EQ (append_records (&f, 0, 1, FP_RECORD_SIZE, 0, 2), 0);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  CHECK (fr && fr->per_thread_data[1].first_record_time == START_TIME);
  test_host_advance (f.host, 3);
  CHECK_EQ (append_records (&f, 1, 1, FP_RECORD_SIZE, 0, 1), 0);
  CHECK_EQ (append_records (&f, 0, 0, FP_RECORD_SIZE, 2, 1), 0);

  CHECK_EQ (vpp_ipfix_thread_flush_idle (f.main, 1, 5.0, &sent), 0);
  CHECK_UEQ (sent, 0);
  test_host_advance (f.host, 2.5);
  CHECK_EQ (vpp_ipfix_thread_flush_idle (f.main, 1, 5.0, &sent), 0);
  CHECK_UEQ (sent, 1);
  n = captured (&f, 0, pkts, 8);
  CHECK_UEQ (n, 1);
  if (n == 1)
    {
      CHECK_UEQ (pkts[0]->thread_index, 1);
      CHECK_UEQ (pkts[0]->info.length, 48 + 2 * FP_RECORD_SIZE);
    }

  /* max_age 0: every packet of the thread, and only of that thread. */
  CHECK_EQ (vpp_ipfix_thread_flush_idle (f.main, 1, 0, &sent), 0);
  CHECK_UEQ (sent, 1);
  fr = vpp_ipfix_report_get (f.main, 0, 0);
  CHECK (fr && fr->per_thread_data[0].n_data_records == 1);
  CHECK_EQ (vpp_ipfix_thread_flush_idle (f.main, 0, 0, NULL), 0);
  CHECK_UEQ (captured (&f, 0, pkts, 8), 3);
  CHECK_EQ (vpp_ipfix_thread_flush_idle (f.main, 1, 0, &sent), 0);
  CHECK_UEQ (sent, 0);
  CHECK_UEQ (stream_sequence (&f, 0), 3);
  CHECK_UEQ (stream_sequence (&f, 1), 1);
  fixture_fini (&f);
}

static void
test_strerror (void)
{
  static const int32_t codes[] = {
    VPP_IPFIX_OK,
    VPP_IPFIX_ERROR_NO_SUCH_ENTRY,
    VPP_IPFIX_ERROR_INVALID_VALUE,
    VPP_IPFIX_ERROR_INVALID_ARGUMENT,
    VPP_IPFIX_ERROR_VALUE_EXIST,
    VPP_IPFIX_ERROR_INVALID_WORKER,
    VPP_IPFIX_ERROR_INVALID_ADDRESS_FAMILY,
    VPP_IPFIX_ERROR_EXPORTER_DISABLED,
    VPP_IPFIX_ERROR_NULL_POINTER,
    VPP_IPFIX_ERROR_NO_BUFFER,
    VPP_IPFIX_ERROR_RECORD_TOO_BIG,
    VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG,
    VPP_IPFIX_ERROR_ENQUEUE_FAILED,
    VPP_IPFIX_ERROR_BUFFER_TOO_SMALL,
    VPP_IPFIX_ERROR_NO_MEMORY,
    VPP_IPFIX_ERROR_BUSY,
    VPP_IPFIX_ERROR_PANIC,
  };
  size_t i, j;

  for (i = 0; i < sizeof (codes) / sizeof (codes[0]); i++)
    {
      const char *s = vpp_ipfix_strerror (codes[i]);
      CHECK (s && s[0] != 0);
      CHECK (s && strcmp (s, "unknown error") != 0);
      for (j = 0; j < i; j++)
	CHECK (s && strcmp (s, vpp_ipfix_strerror (codes[j])) != 0);
    }
  CHECK_STREQ (vpp_ipfix_strerror (12345), "unknown error");
  CHECK_STREQ (vpp_ipfix_strerror (-2), "unknown error");
  CHECK_STREQ (vpp_ipfix_strerror (1), "unknown error");
  CHECK_STREQ (vpp_ipfix_strerror (INT32_MIN), "unknown error");
}

#define TEST(name)                                                             \
  {                                                                            \
#name, name                                                                \
  }

int
main (void)
{
  static const test_case_t tests[] = {
    TEST (test_initial_state),
    TEST (test_config_defaults),
    TEST (test_exporter_set),
    TEST (test_exporter_set_resets_streams),
    TEST (test_exporter_create_delete),
    TEST (test_exporter_delete_flushes),
    TEST (test_report_add_del),
    TEST (test_report_identity),
    TEST (test_stream_slots),
    TEST (test_template_id_wrap),
    TEST (test_reports_reset),
    TEST (test_stream_reset),
    TEST (test_stream_change),
    TEST (test_templates_due),
    TEST (test_template_sequence),
    TEST (test_data_path_append),
    TEST (test_alloc_forms),
    TEST (test_alloc_packet_wrong_answers),
    TEST (test_data_path_vpp_style),
    TEST (test_buffer_get_inline),
    TEST (test_send_nothing),
    TEST (test_ipv6_and_checksums),
    TEST (test_template_goes_ahead_of_first_data),
    TEST (test_counters_keep_deleted_reports),
    TEST (test_flush),
    TEST (test_threads),
    TEST (test_native_report),
    TEST (test_host_vectors_and_owner_templates),
    TEST (test_template_is_due),
    TEST (test_thread_flush_idle),
    TEST (test_strerror),
  };

  return test_run_all ("api_semantics", tests,
		       sizeof (tests) / sizeof (tests[0]));
}
