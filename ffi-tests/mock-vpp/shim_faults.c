/* shim_faults.c: faults real VPP cannot be made to produce, tested on the
   real vpp-shim sources (flow_report_shim.c, flow_report_ops.c,
   flow_report_process.c) built against the mock VPP of include/: buffer
   allocations failing at every call a scenario makes, a clock moved by hand
   (standing still, jumping forward, stepping back), packets the enqueue op
   refuses, VPP vectors grown by a caller, and templates from a rewrite
   callback. */

#include <stdlib.h>

#include <vnet/ipfix-export/flow_report.h>
#include <vnet/ip/ip.h>
#include <vnet/api_errno.h>

#include "mock_vpp.h"
#include "test_check.h"
#include "test_host.h"

/* vlib time at init: unix time is frm->unix_time_0 + (now - T0). */
#define T0 1000.0

#define COLLECTOR_PORT 4739

/* flowprobe's IPv4 L3+L4 record: 13 elements, 56 bytes. */
#define FP_N_ELTS 13
#define REC_SIZE  56
static ipfix_report_element_t fp_elts[FP_N_ELTS] = {
  { 10, 4 }, { 14, 4 }, { 61, 1 }, { 2, 8 }, { 156, 8 }, { 157, 8 }, { 8, 4 },
  { 12, 4 }, { 4, 1 },	{ 1, 8 },  { 7, 2 }, { 11, 2 },	 { 6, 2 },
};

static flow_report_main_t *const frm = &flow_report_main;
static vlib_node_registration_t *process_node;

/* ---- set up and tear down ---- */

/* A fresh mock VPP with n_threads threads and the shim's init run. */
static int
setup (u32 n_threads)
{
  clib_error_t *e;
  int found = 0;

  memset (&flow_report_main, 0, sizeof (flow_report_main));
  mock_reset (n_threads, T0);
  e = mock_vlib_call_init ("flow_report_init", &found);
  CHECK (found);
  CHECK_NULL (e);
  if (e)
    {
      printf ("init: %s\n", e->what);
      clib_error_free (e);
    }
  process_node = mock_node ("flow-report-process");
  CHECK_NOT_NULL (process_node);
  CHECK_NOT_NULL (frm->core);
  CHECK_UEQ (vpp_ipfix_main_n_threads (frm->core), n_threads);
  CHECK (frm->vlib_main == vlib_get_main_by_index (0));
  CHECK (frm->vlib_time_0 == T0);
  return !e && found && process_node && frm->core ? 0 : -1;
}

/* Destroys the core, then: every buffer left is one put to a node, no frame,
   no heap block (vectors, errors) left, no contract broken. */
static void
teardown (void)
{
  u32 i;

  mock_set_thread (0);
  vpp_ipfix_main_destroy (frm->core);
  frm->core = 0;
  frm->core_fast_path = vpp_ipfix_fast_path_get (0);
  for (i = 0; i < IPFIX_EXPORTERS_MAX; i++)
    vec_free (frm->template_sent[i]);
  CHECK_EQ (mock_live_buffers (), mock_n_puts ());
  mock_release_puts ();
  CHECK_EQ (mock_live_buffers (), 0);
  CHECK_EQ (mock_live_frames (), 0);
  CHECK_EQ (mock_live_mem_blocks (), 0);
  CHECK_EQ (mock_errors (), 0);
  CHECK_EQ (mock_n_warnings (), 0);
}

static vpp_ipfix_exporter_config_t
ip4_config (u32 path_mtu, u32 template_interval)
{
  vpp_ipfix_exporter_config_t c;

  vpp_ipfix_exporter_config_init (&c);
  c.collector = test_ip4 (192, 0, 2, 1);
  c.src_address = test_ip4 (192, 0, 2, 2);
  c.collector_port = COLLECTOR_PORT;
  c.path_mtu = path_mtu;
  c.template_interval = template_interval;
  return c;
}

/* Exporter 0 set as the API handler sets it (which kicks the process). */
static ipfix_exporter_t *
exporter_set (u32 path_mtu, u32 template_interval)
{
  vpp_ipfix_exporter_config_t c = ip4_config (path_mtu, template_interval);

  mock_set_thread (0);
  CHECK_EQ (vpp_ipfix_exporter_set (frm->core, 0, &c), 0);
  flow_report_process_kick (vlib_get_main ());
  return pool_elt_at_index (frm->exporters, 0);
}

static int
report_add_del (ipfix_exporter_t *exp, int is_add, u32 domain, u16 port,
		uword opaque, ipfix_report_element_t *elts, u32 n_elts,
		vnet_flow_rewrite_callback_t *rewrite,
		vnet_flow_data_callback_t *data, u32 *stream_indexp,
		u16 *template_id, u32 *index)
{
  vnet_flow_report_add_del_args_t a;
  int rv;

  memset (&a, 0, sizeof (a));
  a.rewrite_callback = rewrite;
  a.flow_data_callback = data;
  a.report_elements = elts;
  a.n_report_elements = n_elts;
  a.opaque.as_uword = opaque;
  a.is_add = is_add;
  a.domain_id = domain;
  a.src_port = port;
  a.stream_indexp = stream_indexp;
  a.flow_report_index = ~0u;
  rv = vnet_flow_report_add_del (exp, &a, template_id);
  if (index)
    *index = a.flow_report_index;
  return rv;
}

/* A flowprobe-like report, built from elements, as VPP's callers add them. */
static int
add_fp (ipfix_exporter_t *exp, u32 domain, u16 port, uword opaque,
	u16 *template_id)
{
  return report_add_del (exp, 1, domain, port, opaque, fp_elts, FP_N_ELTS,
			 vnet_flow_rewrite_generic_callback, 0, 0, template_id,
			 0);
}

static vpp_ipfix_counters_t
counters (void)
{
  vpp_ipfix_counters_t c;

  memset (&c, 0, sizeof (c));
  CHECK_EQ (vpp_ipfix_exporter_counters (frm->core, 0, &c), 0);
  return c;
}

/* One cycle of the real process node: templates due, data callbacks,
   stats. */
static void
process_cycle (void)
{
  CHECK_EQ (mock_run_process (process_node, 1), 1);
}

/* ---- records, written the way a VPP caller writes them ---- */

static void
record_fill (u8 *p, u32 t, u32 r, u32 seq)
{
  u32 k;

  test_put_u32 (p, t);
  test_put_u32 (p + 4, r);
  test_put_u32 (p + 8, seq);
  for (k = 12; k < REC_SIZE; k++)
    p[k] = (u8) (seq * 7 + k + t + r);
}

static int
record_ok (const u8 *p)
{
  u32 k, t = test_get_u32 (p), r = test_get_u32 (p + 4),
	 seq = test_get_u32 (p + 8);

  for (k = 12; k < REC_SIZE; k++)
    if (p[k] != (u8) (seq * 7 + k + t + r))
      return 0;
  return 1;
}

/* Report r's record `seq` on thread t: get the thread's buffer, write at
   next_data_offset, advance it with n_data_records and current_length, and
   send when the next record would pass the path MTU (flowprobe's rule).
   -1 when no buffer could be had (the record is not written). */
static int
write_record (ipfix_exporter_t *exp, u32 r, u32 t, u32 seq)
{
  flow_report_per_thread_t *ptd;
  flow_report_t *fr;
  vlib_buffer_t *b0;
  vlib_main_t *vm;

  mock_set_thread (t);
  vm = vlib_get_main ();
  fr = &exp->reports[r];
  b0 = vnet_ipfix_exp_get_buffer (vm, exp, fr, t);
  if (!b0)
    return -1;
  ptd = &fr->per_thread_data[t];
  CHECK ((void *) b0 == ptd->buffer);
  CHECK_EQ (b0->current_length, ptd->next_data_offset);
  record_fill ((u8 *) vlib_buffer_get_current (b0) + ptd->next_data_offset, t,
	       r, seq);
  ptd->next_data_offset += REC_SIZE;
  ptd->n_data_records++;
  b0->current_length += REC_SIZE;
  if ((u32) ptd->next_data_offset + REC_SIZE > exp->path_mtu)
    vnet_ipfix_exp_send_buffer (vm, exp, fr, &exp->streams[fr->stream_index], t,
				b0);
  return 0;
}

static void
send_now (ipfix_exporter_t *exp, u32 r, u32 t)
{
  flow_report_t *fr = &exp->reports[r];

  mock_set_thread (t);
  vnet_ipfix_exp_send_buffer (vlib_get_main (), exp, fr,
			      &exp->streams[fr->stream_index], t,
			      fr->per_thread_data[t].buffer);
}

/* ---- the packets put to ip4-lookup, decoded ---- */

#define MAX_REPORTS 4
#define MAX_THREADS 2
#define MAX_SEQ	    64

typedef struct
{
  u32 n_data_packets;
  u32 n_templates;
  u32 n_records;
  u32 n_bad;		      /* packets or records that do not parse */
  u32 n_dup;		      /* records seen twice */
  u32 n_seq_breaks;	      /* data packets whose sequence number is off */
  u32 templates[MAX_REPORTS]; /* template packets per report */
  u8 seen[MAX_REPORTS][MAX_THREADS][MAX_SEQ];
} decoded_t;

/* The report index of a template id, ~0 when none. */
static u32
report_of (ipfix_exporter_t *exp, u16 template_id, u32 domain)
{
  u32 r;

  for (r = 0; r < vec_len (exp->reports); r++)
    if (exp->reports[r].template_id == template_id &&
	exp->streams[exp->reports[r].stream_index].domain_id == domain)
      return r;
  return ~0u;
}

/* Decodes puts [from, mock_n_puts ()). Sequence numbers are checked
   against the records seen before in each domain (`next_seq`, by domain
   index 0..3, may be NULL to skip). */
static void
decode_puts (ipfix_exporter_t *exp, u32 from, decoded_t *d, u32 *next_seq)
{
  u32 i;

  for (i = from; i < mock_n_puts (); i++)
    {
      const mock_put_t *p = mock_put (i);
      test_ipfix_msg_t m;
      u32 r, k, n;

      if (p->node_index != ip4_lookup_node.index ||
	  test_ipfix_parse (vlib_buffer_get_current (p->b),
			    p->b->current_length, &m) ||
	  !m.ip_checksum_ok || m.dst_port != COLLECTOR_PORT ||
	  test_get_u32 (m.ip_src) != 0xc0000202)
	{
	  d->n_bad++;
	  continue;
	}
      if (m.set_id == 2)
	{
	  r = report_of (exp, test_get_u16 (m.set_data), m.domain_id);
	  if (r < MAX_REPORTS)
	    d->templates[r]++;
	  d->n_templates++;
	  continue;
	}
      d->n_data_packets++;
      r = report_of (exp, m.set_id, m.domain_id);
      if (r >= MAX_REPORTS || m.set_data_len % REC_SIZE)
	{
	  d->n_bad++;
	  continue;
	}
      n = m.set_data_len / REC_SIZE;
      if (next_seq && m.domain_id < 4)
	{
	  if (m.sequence_number != next_seq[m.domain_id])
	    d->n_seq_breaks++;
	  next_seq[m.domain_id] = m.sequence_number + n;
	}
      for (k = 0; k < n; k++)
	{
	  const u8 *rec = m.set_data + k * REC_SIZE;
	  u32 t = test_get_u32 (rec), rr = test_get_u32 (rec + 4),
	      seq = test_get_u32 (rec + 8);
	  if (rr != r || t >= MAX_THREADS || seq >= MAX_SEQ || !record_ok (rec))
	    {
	      d->n_bad++;
	      continue;
	    }
	  if (d->seen[r][t][seq])
	    d->n_dup++;
	  d->seen[r][t][seq] = 1;
	  d->n_records++;
	}
    }
}

/* ---- 1. a buffer allocation failing at call N ---- */

#define FA_REPORTS 2
#define FA_RECORDS 20 /* per thread and report: 8 + 8 sent full, 4 flushed */

typedef struct
{
  u64 alloc_calls;
  u32 checks_failed;
  u32 not_written; /* records whose get_buffer returned NULL */
} fa_result_t;

static u32 fa_n_runs, fa_max_n;

/* The scenario: 2 threads, 2 reports in 2 streams, templates at start and
   again 21 s later (mid-way), records through get/send buffer, a final
   ipfix flush and process cycle. Allocation call `fail_at` fails (0: none). */
static fa_result_t
fa_scenario (u64 fail_at)
{
  u8 written[FA_REPORTS][MAX_THREADS][MAX_SEQ];
  u32 n_written = 0, n_not_written = 0, r, t, i, next_seq[4] = { 0 };
  unsigned failed_before = test_n_failed;
  ipfix_exporter_t *exp;
  vpp_ipfix_counters_t c;
  fa_result_t res;
  decoded_t *d;
  u16 tid;
  char gauge[64];

  memset (written, 0, sizeof (written));
  if (setup (2))
    return (fa_result_t){ 0, 1, 0 };
  exp = exporter_set (512, 20);
  CHECK_EQ (add_fp (exp, 1, 10001, 1, &tid), 0);
  CHECK_EQ (add_fp (exp, 2, 10002, 2, &tid), 0);
  mock_fail_alloc_call (fail_at);

  process_cycle ();
  for (i = 0; i < FA_RECORDS; i++)
    {
      if (i == FA_RECORDS / 2)
	{
	  mock_advance (21);
	  process_cycle ();
	}
      for (t = 0; t < 2; t++)
	for (r = 0; r < FA_REPORTS; r++)
	  if (write_record (exp, r, t, i) == 0)
	    {
	      written[r][t][i] = 1;
	      n_written++;
	    }
	  else
	    n_not_written++;
    }
  mock_set_thread (0);
  flow_report_flush (vlib_get_main ());
  process_cycle ();

  res.alloc_calls = mock_alloc_calls ();
  res.not_written = n_not_written;
  d = calloc (1, sizeof (*d));
  decode_puts (exp, 0, d, next_seq);
  c = counters ();

  /* The failure happened, once, and was counted. */
  CHECK_EQ (mock_failed_allocs (), fail_at && fail_at <= res.alloc_calls);
  CHECK_EQ (c.alloc_failures, mock_failed_allocs ());
  CHECK (n_not_written <= mock_failed_allocs ());
  snprintf (gauge, sizeof (gauge), "/ipfix/exporter/0/alloc-failures");
  CHECK_EQ (mock_gauge (gauge), c.alloc_failures);
  /* Every record written is delivered or counted dropped, never both. */
  CHECK_EQ (d->n_bad, 0);
  CHECK_EQ (d->n_dup, 0);
  CHECK_EQ (d->n_records + c.dropped_records, n_written);
  for (r = 0; r < FA_REPORTS; r++)
    for (t = 0; t < 2; t++)
      for (i = 0; i < FA_RECORDS; i++)
	if (d->seen[r][t][i] && !written[r][t][i])
	  CHECK (!"a record delivered that was never written");
  CHECK_EQ (c.data_records, d->n_records);
  CHECK_EQ (c.packets, d->n_data_packets);
  CHECK_EQ (c.templates, d->n_templates);
  CHECK_EQ (mock_gauge ("/ipfix/exporter/0/records"), c.data_records);
  /* Sequence numbers count the records before, in each stream. */
  if (c.dropped_records == 0)
    CHECK_EQ (d->n_seq_breaks, 0);
  /* Both reports' templates went out, a failed one retried. */
  for (r = 0; r < FA_REPORTS; r++)
    CHECK (d->templates[r] >= 1);
  CHECK_EQ (mock_n_puts (), d->n_data_packets + d->n_templates);
  free (d);
  teardown ();
  res.checks_failed = test_n_failed - failed_before;
  if (res.checks_failed)
    printf ("-- alloc call %lu failing: %u checks failed\n",
	    (unsigned long) fail_at, res.checks_failed);
  return res;
}

static void
test_alloc_failure_at_every_call (void)
{
  fa_result_t base = fa_scenario (0), res;
  u32 data_faults = 0, other_faults = 0;
  u64 n;

  /* 2 + 2 templates, 2 threads x 2 reports x 3 packets. */
  CHECK (base.alloc_calls >= 16);
  CHECK_EQ (base.not_written, 0);
  for (n = 1; n <= base.alloc_calls; n++)
    {
      res = fa_scenario (n);
      CHECK (res.not_written <= 1);
      res.not_written ? data_faults++ : other_faults++;
      fa_n_runs++;
    }
  /* Both kinds were hit: a record's buffer, and a template's. */
  CHECK (data_faults >= 1);
  CHECK (other_faults >= 1);
  fa_max_n = base.alloc_calls;
  printf ("alloc faults: failed call N=1..%lu of %lu, one run each: %u a "
	  "data buffer (its record not written), %u a template buffer\n",
	  (unsigned long) fa_max_n, (unsigned long) base.alloc_calls,
	  data_faults, other_faults);
}

/* ---- 2. the clock moved by hand ---- */

/* Template packets among puts [from, end); the last one's message. */
static u32
templates_since (u32 from, test_ipfix_msg_t *last)
{
  u32 i, n = 0;

  for (i = from; i < mock_n_puts (); i++)
    {
      const mock_put_t *p = mock_put (i);
      test_ipfix_msg_t m;

      if (test_ipfix_parse (vlib_buffer_get_current (p->b),
			    p->b->current_length, &m) == 0 &&
	  m.set_id == 2)
	{
	  n++;
	  if (last)
	    *last = m;
	}
    }
  return n;
}

static void
test_clock_by_hand (void)
{
  ipfix_exporter_t *exp;
  test_ipfix_msg_t m;
  u32 i, mark, n;
  f64 back_at, resumed_at = -1;
  u16 tid;

  if (setup (1))
    return;
  exp = exporter_set (1450, 20);
  CHECK_EQ (add_fp (exp, 1, 10001, 1, &tid), 0);

  /* Never sent: due at once. Next due in 20 s: the process waits 5 (with
     no idle flush to do; with one, it wakes every idle-flush age, as the
     main thread's packets are flushed there). */
  flow_report_idle_flush_set (vlib_get_main (), 0);
  process_cycle ();
  CHECK_EQ (templates_since (0, &m), 1);
  CHECK_UEQ (m.export_time, frm->unix_time_0);
  CHECK (mock_last_wait () == 5.0);
  flow_report_idle_flush_set (vlib_get_main (), 0.25);
  process_cycle ();
  CHECK (mock_last_wait () == 0.25);
  flow_report_idle_flush_set (vlib_get_main (), 0);

  /* The clock standing still: nothing more, however often it runs. */
  for (i = 0; i < 10; i++)
    process_cycle ();
  CHECK_EQ (templates_since (0, 0), 1);

  /* Due when more than the interval has passed, not at it. */
  mock_set_time (T0 + 19.5);
  process_cycle ();
  CHECK_EQ (templates_since (0, 0), 1);
  CHECK (mock_last_wait () == 0.5);
  mock_set_time (T0 + 20);
  process_cycle ();
  CHECK_EQ (templates_since (0, 0), 1);
  CHECK (mock_last_wait () == 0.01);
  mock_set_time (T0 + 20 + 1.0 / 64);
  process_cycle ();
  CHECK_EQ (templates_since (0, &m), 2);
  CHECK_UEQ (m.export_time, frm->unix_time_0 + 20);

  /* Data advances the stream; a reset sends the template at once, at
     sequence 0. */
  for (i = 0; i < 3; i++)
    CHECK_EQ (write_record (exp, 0, 0, i), 0);
  send_now (exp, 0, 0);
  CHECK_UEQ (exp->streams[exp->reports[0].stream_index].sequence_number, 3);
  vnet_flow_reports_reset (exp);
  CHECK_UEQ (exp->streams[exp->reports[0].stream_index].sequence_number, 0);
  mark = mock_n_puts ();
  process_cycle ();
  CHECK_EQ (templates_since (mark, &m), 1);
  CHECK_UEQ (m.sequence_number, 0);

  /* Forward by three hours: one template, not one per missed interval. */
  mock_advance (3 * 3600);
  mark = mock_n_puts ();
  process_cycle ();
  CHECK_EQ (templates_since (mark, &m), 1);
  CHECK_UEQ (m.export_time, frm->unix_time_0 + 20 + 3 * 3600);
  for (i = 0; i < 5; i++)
    process_cycle ();
  CHECK_EQ (templates_since (mark, 0), 1);
  CHECK_EQ (write_record (exp, 0, 0, 3), 0);
  mark = mock_n_puts ();
  send_now (exp, 0, 0);
  CHECK_EQ (mock_n_puts (), mark + 1);
  if (mock_n_puts () == mark + 1)
    {
      const mock_put_t *p = mock_put (mark);
      CHECK_EQ (test_ipfix_parse (vlib_buffer_get_current (p->b),
				  p->b->current_length, &m),
		0);
      CHECK_UEQ (m.export_time, frm->unix_time_0 + 20 + 3 * 3600);
    }

  /* Back by one hour, then two hours of the process waking when it asked
     to: no storm (at most one template a cycle), waits within VPP's
     bounds, and templates resume. */
  mock_advance (-3600);
  back_at = vlib_time_now (vlib_get_main ());
  mark = mock_n_puts ();
  for (i = 0; i < 100000 && vlib_time_now (0) < back_at + 2 * 3600; i++)
    {
      u32 before = mock_n_puts ();
      process_cycle ();
      n = templates_since (before, 0);
      CHECK (n <= 1);
      CHECK (mock_last_wait () >= 0.01 && mock_last_wait () <= 5.0);
      if (n && resumed_at < 0)
	resumed_at = vlib_time_now (0) - back_at;
      mock_advance (mock_last_wait ());
    }
  n = templates_since (mark, 0);
  CHECK (resumed_at >= 0);
  /* A template "sent" in the future is due at once: no silence for the
     length of the step. */
  CHECK (resumed_at <= 5.0);
  /* After resuming, one every interval (and the 0.01 s the process waits
     for one that is due exactly). */
  if (resumed_at >= 0)
    {
      CHECK (n <= (2 * 3600 - resumed_at) / 20 + 1);
      CHECK (n >= (2 * 3600 - resumed_at) / 20.02);
    }
  printf ("clock: stepped back 3600 s: templates resumed after %.2f s "
	  "(interval 20 s), %u templates in the 2 h after, %u cycles\n",
	  resumed_at, n, i);
  teardown ();
}

/* ---- 3. enqueue and capacity refusals ---- */

static void
test_refusals (void)
{
  ipfix_exporter_t *exp;
  vpp_ipfix_counters_t c0, c;
  flow_report_per_thread_t *ptd;
  test_ipfix_msg_t m;
  u32 i, mark, live;
  u64 calls;
  u16 tid;

  if (setup (2))
    return;
  exp = exporter_set (1450, 20);
  CHECK_EQ (add_fp (exp, 1, 10001, 1, &tid), 0);
  process_cycle ();
  c0 = counters ();
  CHECK_EQ (c0.templates, 1);

  /* A packet longer than the buffer's data size by the time it goes:
     flow_report_op_enqueue's length check frees it and refuses. */
  for (i = 0; i < 3; i++)
    CHECK_EQ (write_record (exp, 0, 1, i), 0);
  mark = mock_n_puts ();
  live = mock_live_buffers ();
  mock_set_data_size (100);
  send_now (exp, 0, 1);
  mock_set_data_size (VLIB_BUFFER_DEFAULT_DATA_SIZE);
  c = counters ();
  CHECK_EQ (mock_n_puts (), mark);
  CHECK_EQ (mock_live_buffers (), live - 1);
  CHECK_EQ (c.dropped_packets, c0.dropped_packets + 1);
  CHECK_EQ (c.dropped_records, c0.dropped_records + 3);
  CHECK_EQ (c.packets, c0.packets);
  CHECK_EQ (mock_gauge ("/ipfix/exporter/0/dropped-records"), 0);
  ptd = &exp->reports[0].per_thread_data[1];
  CHECK_NULL (ptd->buffer);
  CHECK_EQ (ptd->n_data_records, 0);

  /* The next packet goes, its sequence number past the dropped records. */
  for (i = 3; i < 5; i++)
    CHECK_EQ (write_record (exp, 0, 1, i), 0);
  send_now (exp, 0, 1);
  CHECK_EQ (mock_n_puts (), mark + 1);
  if (mock_n_puts () == mark + 1)
    {
      const mock_put_t *p = mock_put (mark);
      CHECK_EQ (test_ipfix_parse (vlib_buffer_get_current (p->b),
				  p->b->current_length, &m),
		0);
      CHECK_UEQ (m.sequence_number, 3);
      CHECK_EQ (m.set_data_len, 2 * REC_SIZE);
      CHECK_EQ (p->thread_index, 1);
    }
  process_cycle ();
  CHECK_EQ (mock_gauge ("/ipfix/exporter/0/dropped-records"), 3);
  CHECK_EQ (mock_gauge ("/ipfix/exporter/0/dropped-packets"), 1);

  /* Buffers smaller than a packet needs: the alloc op refuses before vlib
     is asked; counted as allocation failures, for data and templates. */
  c0 = counters ();
  calls = mock_alloc_calls ();
  mock_set_data_size (64);
  CHECK_EQ (write_record (exp, 0, 0, 0), -1);
  vnet_flow_reports_reset (exp);
  mark = mock_n_puts ();
  process_cycle ();
  c = counters ();
  CHECK_EQ (mock_n_puts (), mark);
  CHECK_EQ (mock_alloc_calls (), calls);
  CHECK_EQ (c.alloc_failures, c0.alloc_failures + 2);
  /* Back to normal: the template goes at the next cycle. */
  mock_set_data_size (VLIB_BUFFER_DEFAULT_DATA_SIZE);
  process_cycle ();
  CHECK_EQ (templates_since (mark, 0), 1);
  teardown ();
}

/* ---- 4. the VPP vectors callers touch ---- */

/* flowprobe_export_send's stream lookup: domain `domain`'s stream, made by
   vec_validate when missing. Writes whether the vector moved. */
static u32
flowprobe_stream (ipfix_exporter_t *exp, u32 domain, int *moved)
{
  flow_report_stream_t *before = exp->streams;
  u32 i, index = vec_len (exp->streams);

  for (i = 0; i < index; i++)
    if (exp->streams[i].domain_id == domain)
      {
	index = i;
	break;
      }
  if (i == vec_len (exp->streams))
    {
      vec_validate (exp->streams, index);
      exp->streams[index].domain_id = domain;
    }
  *moved = exp->streams != before;
  return index;
}

static int
has_opaque (ipfix_exporter_t *exp, uword opaque)
{
  u32 r;

  for (r = 0; r < vec_len (exp->reports); r++)
    if (exp->reports[r].opaque.as_uword == opaque)
      return 1;
  return 0;
}

static void
check_sizes_agree (ipfix_exporter_t *exp)
{
  u32 n_reports = ~0u, n_streams = ~0u;

  CHECK_EQ (vpp_ipfix_exporter_sizes (frm->core, 0, &n_reports, &n_streams), 0);
  CHECK_EQ (vec_len (exp->reports), n_reports);
  CHECK_EQ (vec_len (exp->streams), n_streams);
}

static u32 vec_moved_cases, vec_in_place_cases;

static void
test_vectors (void)
{
  ip_address_t collector = test_ip4 (192, 0, 2, 1);
  ipfix_exporter_t *exp, *pool;
  flow_report_stream_t *s;
  clib_error_t *e;
  u32 fp1, fp5, n, si, idx;
  int moved;
  u16 tid;

  if (setup (2))
    return;

  /* The exporters pool: VPP's heap, a pool header, entry 0 in use. */
  pool = frm->exporters;
  CHECK_NOT_NULL (pool);
  CHECK (mock_mem_owns (vec_header (pool)));
  /* The core asks for its vectors' data on their own 128-byte lines. */
  CHECK_EQ (vec_get_header_size (pool),
	    round_pow2 (sizeof (pool_header_t) + sizeof (vec_header_t), 128));
  CHECK_EQ ((uword) pool % 128, 0);
  CHECK_EQ (vec_len (pool), IPFIX_EXPORTERS_MAX);
  CHECK_NULL (pool_header (pool)->free_bitmap);
  CHECK_NULL (pool_header (pool)->free_indices);
  CHECK (!pool_is_free_index (pool, 0));
  CHECK (pool_elt_at_index (pool, 0) == flow_report_exporter_at (0));
  exp = exporter_set (1450, 20);
  CHECK (exp == vnet_ipfix_exporter_lookup (&collector));
  CHECK (frm->exporters == pool);
  CHECK_EQ (vec_len (exp->reports), 0);
  CHECK_EQ (vec_len (exp->streams), 0);

  /* Adds and deletes: vec_len follows; memory from VPP's heap. */
  CHECK_EQ (add_fp (exp, 10, 1010, 1, &tid), 0);
  CHECK_EQ (tid, 256);
  CHECK_EQ (vec_len (exp->reports), 1);
  CHECK_EQ (vec_len (exp->streams), 1);
  CHECK_EQ (add_fp (exp, 10, 1010, 2, &tid), 0);
  CHECK_EQ (tid, 257);
  CHECK_EQ (add_fp (exp, 20, 1020, 3, &tid), 0);
  CHECK_EQ (tid, 256);
  CHECK_EQ (vec_len (exp->reports), 3);
  CHECK_EQ (vec_len (exp->streams), 2);
  CHECK (mock_mem_owns (vec_header (exp->reports)));
  CHECK (mock_mem_owns (vec_header (exp->streams)));
  check_sizes_agree (exp);
  CHECK_EQ (add_fp (exp, 10, 1010, 2, &tid), VNET_API_ERROR_VALUE_EXIST);
  CHECK_EQ (vec_len (exp->reports), 3);
  CHECK_EQ (report_add_del (exp, 0, 10, 1010, 2, 0, 0,
			    vnet_flow_rewrite_generic_callback, 0, 0, 0, 0),
	    0);
  CHECK_EQ (vec_len (exp->reports), 2);
  CHECK (has_opaque (exp, 1) && has_opaque (exp, 3) && !has_opaque (exp, 2));
  CHECK_EQ (report_add_del (exp, 0, 10, 1010, 2, 0, 0,
			    vnet_flow_rewrite_generic_callback, 0, 0, 0, 0),
	    VNET_API_ERROR_NO_SUCH_ENTRY);
  check_sizes_agree (exp);
  /* Domain 20 loses its last report: its slot is freed or gone. */
  CHECK_EQ (report_add_del (exp, 0, 20, 1020, 3, 0, 0,
			    vnet_flow_rewrite_generic_callback, 0, 0, 0, 0),
	    0);
  CHECK_EQ (vec_len (exp->reports), 1);
  n = vec_len (exp->streams);
  CHECK (n == 1 || (n == 2 && exp->streams[1].domain_id == ~0u));
  check_sizes_agree (exp);

  /* flowprobe_export_send makes its domain-1 stream with vec_validate and
     counts packets in it; another caller does the same for domain 5. The
     core sees both and keeps them. */
  fp1 = flowprobe_stream (exp, 1, &moved);
  moved ? vec_moved_cases++ : vec_in_place_cases++;
  exp->streams[fp1].sequence_number++;
  fp5 = flowprobe_stream (exp, 5, &moved);
  moved ? vec_moved_cases++ : vec_in_place_cases++;
  exp->streams[fp5].src_port = 5005;
  CHECK_EQ (fp5, fp1 + 1);
  CHECK_EQ (vec_len (exp->streams), fp5 + 1);
  check_sizes_agree (exp);
  CHECK_EQ (flowprobe_stream (exp, 1, &moved), fp1);
  CHECK (!moved);

  /* More adds: new streams leave the callers' alone; the same key finds
     them; a conflicting one is refused. */
  CHECK_EQ (add_fp (exp, 30, 1030, 4, &tid), 0);
  si = exp->reports[vec_len (exp->reports) - 1].stream_index;
  CHECK (si != fp1 && si != fp5);
  CHECK_EQ (report_add_del (exp, 1, 1, 0, 5, fp_elts, FP_N_ELTS,
			    vnet_flow_rewrite_generic_callback, 0, 0, &tid,
			    &idx),
	    0);
  CHECK_EQ (exp->reports[idx].stream_index, fp1);
  CHECK_EQ (report_add_del (exp, 1, 5, 5005, 6, fp_elts, FP_N_ELTS,
			    vnet_flow_rewrite_generic_callback, 0, 0, &tid, 0),
	    0);
  CHECK_EQ (exp->reports[vec_len (exp->reports) - 1].stream_index, fp5);
  CHECK_EQ (add_fp (exp, 1, 7, 7, &tid), VNET_API_ERROR_INVALID_VALUE);
  CHECK_EQ (add_fp (exp, 99, 5005, 8, &tid), VNET_API_ERROR_INVALID_VALUE);
  s = &exp->streams[fp1];
  CHECK_EQ (s->domain_id, 1);
  CHECK_EQ (s->src_port, 0);
  CHECK_EQ (s->sequence_number, 1);
  CHECK_EQ (exp->streams[fp5].domain_id, 5);
  check_sizes_agree (exp);

  /* Data in the domain-1 stream continues from flowprobe's count. */
  process_cycle ();
  CHECK_EQ (write_record (exp, idx, 0, 0), 0);
  CHECK_EQ (write_record (exp, idx, 0, 1), 0);
  n = mock_n_puts ();
  send_now (exp, idx, 0);
  CHECK_EQ (mock_n_puts (), n + 1);
  if (mock_n_puts () == n + 1)
    {
      const mock_put_t *p = mock_put (n);
      test_ipfix_msg_t m;
      CHECK_EQ (test_ipfix_parse (vlib_buffer_get_current (p->b),
				  p->b->current_length, &m),
		0);
      CHECK_UEQ (m.domain_id, 1);
      CHECK_UEQ (m.sequence_number, 1);
      CHECK_EQ (m.src_port, 0);
    }
  CHECK_EQ (exp->streams[fp1].sequence_number, 3);

  /* Everything deleted: the pool stays where it was. */
  while (vec_len (exp->reports))
    {
      flow_report_t *fr = &exp->reports[0];
      flow_report_stream_t *st = &exp->streams[fr->stream_index];
      CHECK_EQ (report_add_del (exp, 0, st->domain_id, st->src_port,
				fr->opaque.as_uword, 0, 0,
				vnet_flow_rewrite_generic_callback, 0, 0, 0, 0),
		0);
    }
  check_sizes_agree (exp);
  CHECK (frm->exporters == pool);

  e = flow_report_add_del_error_to_clib_error (VNET_API_ERROR_NO_SUCH_ENTRY);
  CHECK_STREQ (e ? e->what : 0, "Flow report not found");
  clib_error_free (e);
  e = flow_report_add_del_error_to_clib_error (-1234);
  CHECK_STREQ (e ? e->what : 0, "vnet_flow_report_add_del returned -1234");
  clib_error_free (e);
  CHECK_NULL (flow_report_add_del_error_to_clib_error (0));
  teardown ();
}

static void
test_vectors_both_ways (void)
{
  /* The mock grows vectors by half again, as VPP does: the first caller's
     vec_validate fits in what the core left, the second moves the vector.
     Both must happen for the test to cover both. */
  test_vectors ();
  CHECK (vec_moved_cases + vec_in_place_cases == 2);
  printf ("vectors: caller's vec_validate moved the streams %u times, grew "
	  "in place %u times\n",
	  vec_moved_cases, vec_in_place_cases);
  CHECK (vec_moved_cases >= 1);
  CHECK (vec_in_place_cases >= 1);
}

/* ---- 5. templates from a rewrite callback ---- */

#define CB_N_FIELDS 3
static const u16 cb_fields[CB_N_FIELDS][2] = { { 8, 4 }, { 12, 4 }, { 1, 8 } };

static struct
{
  u32 calls;
  u32 bad_args;
  u32 *stream_indexp;
  int return_null;
} rw;

/* A whole template packet, as VPP's rewrite callbacks build one, with a
   wrong source address and ports: the core must use its own headers. */
static u8 *
cb_rewrite (ipfix_exporter_t *exp, flow_report_t *fr, u16 collector_port,
	    ipfix_report_element_t *elts, u32 n_elts, u32 *stream_indexp)
{
  u32 set_len = 4 + 4 + 4 * CB_N_FIELDS, len = 20 + 8 + 16 + set_len, k;
  u8 *v = 0, *ipfix, *set;

  rw.calls++;
  if (collector_port != exp->collector_port || elts || n_elts ||
      stream_indexp != rw.stream_indexp)
    rw.bad_args++;
  /* The fields it sends, as VPP's classifier callback keeps them (a bitmap,
     one vector per report, grown in place). */
  vec_validate (fr->fields_to_send, 1);
  fr->fields_to_send[0] |= 1;
  if (rw.return_null)
    return 0;
  vec_validate (v, len - 1);
  v[0] = 0x45;
  v[8] = 254;
  v[9] = IP_PROTOCOL_UDP;
  test_put_u16 (v + 2, len);
  test_put_u32 (v + 12, 0x01020304);
  test_put_u32 (v + 16, 0x05060708);
  test_put_u16 (v + 20, 1);
  test_put_u16 (v + 22, 2);
  test_put_u16 (v + 24, len - 20);
  ipfix = v + 28;
  test_put_u16 (ipfix, 10);
  test_put_u16 (ipfix + 2, 16 + set_len);
  test_put_u32 (ipfix + 12, 0xdddd);
  set = ipfix + 16;
  test_put_u16 (set, 2);
  test_put_u16 (set + 2, set_len);
  test_put_u16 (set + 4, fr->template_id);
  test_put_u16 (set + 6, CB_N_FIELDS);
  for (k = 0; k < CB_N_FIELDS; k++)
    {
      test_put_u16 (set + 8 + 4 * k, cb_fields[k][0]);
      test_put_u16 (set + 10 + 4 * k, cb_fields[k][1]);
    }
  return v;
}

static struct
{
  u32 calls;
  u32 puts_at_call;
  u32 bad_args;
  int send_one;
  u32 sent_bi;
} dcb;

/* VPP's data callback: fills the frame the process hands it. */
static vlib_frame_t *
cb_data (flow_report_main_t *m, ipfix_exporter_t *exp, flow_report_t *fr,
	 vlib_frame_t *f, u32 *to_next, u32 next_node)
{
  vlib_main_t *vm = vlib_get_main ();

  (void) exp;
  (void) fr;
  dcb.calls++;
  dcb.puts_at_call = mock_n_puts ();
  if (m != frm || next_node != ip4_lookup_node.index ||
      to_next != vlib_frame_vector_args (f) || f->n_vectors != 0)
    dcb.bad_args++;
  if (dcb.send_one && vlib_buffer_alloc (vm, to_next, 1) == 1)
    {
      vlib_buffer_t *b = vlib_get_buffer (vm, to_next[0]);
      b->current_length = 20;
      memset (vlib_buffer_get_current (b), 0, 20);
      dcb.sent_bi = to_next[0];
      f->n_vectors = 1;
    }
  return f;
}

static void
test_rewrite_callback (void)
{
  ipfix_exporter_t *exp;
  vpp_ipfix_counters_t c0, c;
  test_ipfix_msg_t m;
  u32 si = 77, cb_index, el_index, i, k, mark, n;
  u16 cb_tid, el_tid, tid;
  u8 *v;

  memset (&rw, 0, sizeof (rw));
  memset (&dcb, 0, sizeof (dcb));
  if (setup (1))
    return;
  exp = exporter_set (1450, 20);
  rw.stream_indexp = &si;
  CHECK_EQ (report_add_del (exp, 1, 7, 7007, 1, 0, 0, cb_rewrite, cb_data, &si,
			    &cb_tid, &cb_index),
	    0);
  CHECK_EQ (exp->reports[cb_index].n_report_elements, 0);

  /* The first cycle: the callback's template set, in our message; the data
     callback after it (its first template goes first). */
  process_cycle ();
  CHECK (rw.calls >= 1);
  CHECK_EQ (rw.bad_args, 0);
  CHECK_EQ (templates_since (0, &m), 1);
  CHECK_UEQ (m.domain_id, 7);
  CHECK_EQ (m.src_port, 7007);
  CHECK_EQ (m.dst_port, COLLECTOR_PORT);
  CHECK_UEQ (test_get_u32 (m.ip_src), 0xc0000202);
  CHECK_UEQ (test_get_u32 (m.ip_dst), 0xc0000201);
  CHECK (m.ip_checksum_ok);
  CHECK_EQ (m.set_data_len, 4 + 4 * CB_N_FIELDS);
  CHECK_EQ (test_get_u16 (m.set_data), cb_tid);
  CHECK_EQ (test_get_u16 (m.set_data + 2), CB_N_FIELDS);
  for (k = 0; k < CB_N_FIELDS && m.set_data_len == 16; k++)
    {
      CHECK_EQ (test_get_u16 (m.set_data + 4 + 4 * k), cb_fields[k][0]);
      CHECK_EQ (test_get_u16 (m.set_data + 6 + 4 * k), cb_fields[k][1]);
    }
  CHECK_EQ (dcb.calls, 1);
  CHECK_EQ (dcb.bad_args, 0);
  CHECK_EQ (dcb.puts_at_call, 1);
  CHECK_EQ (mock_live_frames (), 0);
  /* No elements: the generic callback has nothing to build from. */
  CHECK_NULL (vnet_flow_rewrite_generic_callback (
    exp, &exp->reports[cb_index], exp->collector_port, 0, 0, 0));

  /* The data callback's frame goes to ip4-lookup. */
  dcb.send_one = 1;
  mark = mock_n_puts ();
  process_cycle ();
  CHECK_EQ (dcb.calls, 2);
  CHECK_EQ (mock_n_puts (), mark + 1);
  if (mock_n_puts () == mark + 1)
    {
      CHECK_EQ (mock_put (mark)->buffer_index, dcb.sent_bi);
      CHECK_EQ (mock_put (mark)->node_index, ip4_lookup_node.index);
    }
  dcb.send_one = 0;

  /* An element-built report: the generic callback returns a vector copy of
     the template it sent. */
  CHECK_EQ (report_add_del (exp, 1, 8, 8008, 2, fp_elts, FP_N_ELTS,
			    vnet_flow_rewrite_generic_callback, 0, 0, &el_tid,
			    &el_index),
	    0);
  mark = mock_n_puts ();
  process_cycle ();
  CHECK_EQ (templates_since (mark, &m), 1);
  si = 77;
  v = vnet_flow_rewrite_generic_callback (
    exp, &exp->reports[el_index], exp->collector_port,
    exp->reports[el_index].report_elements,
    exp->reports[el_index].n_report_elements, &si);
  CHECK_NOT_NULL (v);
  CHECK_EQ (si, exp->reports[el_index].stream_index);
  if (v)
    {
      const mock_put_t *p = mock_put (mock_n_puts () - 1);
      const u8 *sent = vlib_buffer_get_current (p->b);
      test_ipfix_msg_t mv;
      CHECK (mock_mem_owns (vec_header (v)));
      CHECK_EQ (vec_len (v), p->b->current_length);
      CHECK_EQ (test_ipfix_parse (v, vec_len (v), &mv), 0);
      CHECK_EQ (mv.set_id, 2);
      CHECK_EQ (test_get_u16 (mv.set_data), el_tid);
      CHECK_EQ (test_get_u16 (mv.set_data + 2), FP_N_ELTS);
      CHECK_UEQ (mv.domain_id, 8);
      /* Same bytes but for what the send fills in: export time, sequence
	 number, IPv4 checksum. */
      if (vec_len (v) == p->b->current_length)
	{
	  for (i = 0, n = 0; i < vec_len (v); i++)
	    if (v[i] != sent[i] && !(i >= 10 && i < 12) && !(i >= 32 && i < 40))
	      n++;
	  CHECK_EQ (n, 0);
	}
      vec_free (v);
    }

  /* A callback that returns nothing: no template, counted, no leak. */
  c0 = counters ();
  rw.return_null = 1;
  rw.stream_indexp = 0;
  CHECK_EQ (
    report_add_del (exp, 1, 9, 9009, 3, 0, 0, cb_rewrite, 0, 0, &tid, 0), 0);
  mark = mock_n_puts ();
  process_cycle ();
  c = counters ();
  CHECK_EQ (templates_since (mark, 0), 0);
  CHECK_EQ (c.dropped_packets, c0.dropped_packets + 1);
  CHECK_EQ (c.templates, c0.templates);

  /* Deleting a report frees the bitmap its callback kept (VPP leaks it) and
     its template packet, a VPP vector (VPP's ioam exporters vec_len it). */
  {
    uword *bitmap = exp->reports[cb_index].fields_to_send;
    u8 *rewrite = exp->reports[cb_index].rewrite;
    u64 blocks = mock_live_mem_blocks ();

    CHECK_NOT_NULL (bitmap);
    CHECK (bitmap && mock_mem_owns (vec_header (bitmap)));
    CHECK_NOT_NULL (rewrite);
    CHECK (rewrite && mock_mem_owns (vec_header (rewrite)));
    CHECK (rewrite && vec_len (rewrite) > 28 + 16 && rewrite[28 + 1] == 10);
    CHECK_EQ (report_add_del (exp, 0, 7, 7007, 1, 0, 0, cb_rewrite, cb_data,
			      &si, 0, 0),
	      0);
    CHECK_UEQ (mock_live_mem_blocks (), blocks - 2);
  }
  teardown ();
}

/* ---- the idle-flush node and the process's bookkeeping ---- */

static void
test_idle_flush_node (void)
{
  vlib_node_registration_t *idle = mock_node ("ipfix-idle-flush");
  vlib_node_runtime_t rt;
  ipfix_exporter_t *exp;
  u32 mark, sched;
  u16 tid;

  CHECK_NOT_NULL (idle);
  if (!idle || setup (2))
    return;
  CHECK_EQ (idle->type, VLIB_NODE_TYPE_SCHED);
  exp = exporter_set (1450, 20);
  CHECK_EQ (add_fp (exp, 1, 10001, 1, &tid), 0);
  process_cycle ();
  CHECK (mock_n_interrupts () >= 1);

  /* A worker's packet waits until it is idle_flush_max_age old. */
  CHECK_EQ (write_record (exp, 0, 1, 0), 0);
  rt.node_index = idle->index;
  rt.thread_index = 1;
  mark = mock_n_puts ();
  sched = mock_n_schedules ();
  mock_set_thread (1);
  mock_advance (frm->idle_flush_max_age / 2);
  CHECK_EQ (idle->function (vlib_get_main (), &rt, 0), 0);
  CHECK_EQ (mock_n_puts (), mark);
  CHECK_EQ (mock_n_schedules (), sched + 1);
  mock_advance (frm->idle_flush_max_age);
  CHECK_EQ (idle->function (vlib_get_main (), &rt, 0), 1);
  CHECK_EQ (mock_n_puts (), mark + 1);
  if (mock_n_puts () == mark + 1)
    CHECK_EQ (mock_put (mark)->thread_index, 1);
  /* Disabled: it stops rescheduling itself. */
  flow_report_idle_flush_set (vlib_get_main_by_index (0), 0);
  sched = mock_n_schedules ();
  CHECK_EQ (idle->function (vlib_get_main (), &rt, 0), 0);
  CHECK_EQ (mock_n_schedules (), sched);
  teardown ();
}

int
main (void)
{
  static const test_case_t tests[] = {
    { "alloc_failure_at_every_call", test_alloc_failure_at_every_call },
    { "clock_by_hand", test_clock_by_hand },
    { "refusals", test_refusals },
    { "vectors", test_vectors_both_ways },
    { "rewrite_callback", test_rewrite_callback },
    { "idle_flush_node", test_idle_flush_node },
  };

  return test_run_all ("shim_faults", tests,
		       sizeof (tests) / sizeof (tests[0]));
}
