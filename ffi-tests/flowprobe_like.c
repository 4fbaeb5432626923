/* flowprobe_like.c: exports flow records from several worker threads the way
   VPP's flowprobe plugin does, into a pcap file or over UDP to a collector
   (with a pcap and an IPFIX file of what was sent), and checks the library's
   counters against what the workers wrote. */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_host.h"

#define RECORD_A_SIZE 56
#define RECORD_B_SIZE 21
#define RECORD_C_SIZE 60
#define N_REPORTS     3

/* flowprobe's IPv4 L3+L4 record (report A, and the first 13 fields of C). */
static ipfix_report_element_t elts_a[] = {
  { 10, 4 },  /* ingressInterface */
  { 14, 4 },  /* egressInterface */
  { 61, 1 },  /* flowDirection */
  { 2, 8 },   /* packetDeltaCount */
  { 156, 8 }, /* flowStartNanoseconds */
  { 157, 8 }, /* flowEndNanoseconds */
  { 8, 4 },   /* sourceIPv4Address */
  { 12, 4 },  /* destinationIPv4Address */
  { 4, 1 },   /* protocolIdentifier */
  { 1, 8 },   /* octetDeltaCount */
  { 7, 2 },   /* sourceTransportPort */
  { 11, 2 },  /* destinationTransportPort */
  { 6, 2 },   /* tcpControlBits */
};
#define N_ELTS_A (sizeof (elts_a) / sizeof (elts_a[0]))

static ipfix_report_element_t elts_b[] = {
  { 10, 4 }, /* ingressInterface */
  { 14, 4 }, /* egressInterface */
  { 8, 4 },  /* sourceIPv4Address */
  { 1, 8 },  /* octetDeltaCount */
  { 4, 1 },  /* protocolIdentifier */
};
#define N_ELTS_B (sizeof (elts_b) / sizeof (elts_b[0]))

/* C's enterprise-specific field. */
#define C_ENTERPRISE_ELEMENT 1
#define C_ENTERPRISE_NUMBER  6871

/* Seconds mode: records a worker writes between two looks at the clock, the
   longest run (kept under the 20 s template interval: templates are sent once,
   before the workers start, since configuration calls need them quiesced), and
   how often and after how long records waiting in a packet are sent. */
#define BURST		    64
#define MAX_SECONDS	    10.0
#define DEFAULT_RATE	    50000
#define IDLE_CHECK_RECORDS  1024
#define IDLE_CHECK_INTERVAL 0.05
#define IDLE_MAX_AGE	    0.2

/* --timer: the background timer's max_age and period, short so that in a
   short run it flushes the workers' packets often, each time taking their
   gates (tests/harness.rs runs this under ThreadSanitizer). */
#define TIMER_MAX_AGE 0.002
#define TIMER_PERIOD  0.001

/* IPFIX message header and set header: what the library's buffer holds before
   the first record when the host writes IP and UDP itself (a UDP socket). */
#define IPFIX_HEADERS 20

typedef struct
{
  /* Settings. */
  uint32_t n_threads;
  uint32_t n_records;
  int ipv6;
  uint32_t mtu;
  int udp_checksum;
  const char *pcap;
  uint32_t udp_port; /* 0: no UDP, a pcap instance */
  const char *ipfix_file;
  int reliability_options;
  double seconds; /* 0: n_records per worker */
  uint32_t rate;  /* records per second per worker; 0: unpaced */
  int timer;	  /* the library's background timer runs meanwhile */

  /* The library and what the workers use. */
  vpp_ipfix_main_t *main;
  uint32_t report_index[N_REPORTS];
  uint16_t template_id[N_REPORTS];
  const flow_report_t *report_a;
  uint32_t path_mtu;
  uint32_t all_headers_size; /* where the first record goes in a buffer */
  uint32_t n_options;	     /* reliability statistics messages sent */
  int flush_idle;	     /* workers send idle packets from their loop */
  double start;
  atomic_uint workers_done;
} run_t;

typedef struct
{
  run_t *run;
  uint32_t thread_index;
  uint64_t records[N_REPORTS]; /* written */
  uint32_t n;		       /* records i = 0..n-1 written */
  uint64_t idle_sent;	       /* packets sent early by idle flushes */
  int error;		       /* the first non-zero return */
  const char *error_call;
  uint64_t n_errors;
} worker_t;

static const char *report_names[N_REPORTS] = { "A", "B", "C" };
static const uint32_t report_domains[N_REPORTS] = { 1, 1, 2 };
static const uint16_t report_ports[N_REPORTS] = { 30001, 30001, 30002 };
static const uint32_t report_sizes[N_REPORTS] = { RECORD_A_SIZE, RECORD_B_SIZE,
						  RECORD_C_SIZE };

static void
usage (void)
{
  fprintf (
    stderr,
    "usage: flowprobe_like [--threads N] [--records M | --seconds S] "
    "[--rate R]\n"
    "         [--collector ipv4|ipv6] [--mtu X] [--udp-checksum] "
    "[--reliability-options]\n"
    "         [--udp PORT [--ipfix-file PATH]] [--pcap PATH] [--timer]\n"
    "  --records M: M records per worker, as fast as they go or at R per "
    "second;\n"
    "  --seconds S (at most %.0f): each worker exports for S seconds at R "
    "records\n"
    "  per second (default %u; 0: unpaced). --udp PORT: export over UDP to\n"
    "  127.0.0.1:PORT or [::1]:PORT; without it, into the pcap (--pcap "
    "required).\n"
    "  --timer: the library's background timer runs (max_age %g s, period "
    "%g s)\n"
    "  while the workers export; they append every record (A and C too).\n",
    MAX_SECONDS, DEFAULT_RATE, TIMER_MAX_AGE, TIMER_PERIOD);
  exit (2);
}

static uint32_t
parse_u32 (const char *option, const char *text, uint32_t min, uint32_t max)
{
  char *end;
  unsigned long v;

  if (!text)
    usage ();
  errno = 0;
  v = strtoul (text, &end, 10);
  if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
    {
      fprintf (stderr, "flowprobe_like: %s wants a number in %u..%u, not %s\n",
	       option, min, max, text);
      exit (2);
    }
  return (uint32_t) v;
}

static double
parse_seconds (const char *option, const char *text)
{
  char *end;
  double v;

  if (!text)
    usage ();
  errno = 0;
  v = strtod (text, &end);
  if (errno || end == text || *end || !(v > 0 && v <= MAX_SECONDS))
    {
      fprintf (stderr,
	       "flowprobe_like: %s wants seconds above 0, at most %.0f "
	       "(under the template interval), not %s\n",
	       option, MAX_SECONDS, text);
      exit (2);
    }
  return v;
}

static void
parse_args (run_t *run, int argc, char **argv)
{
  int i;

  run->n_threads = 2;
  run->n_records = 100000;
  run->ipv6 = 0;
  run->mtu = 1450;
  run->udp_checksum = 0;
  run->pcap = NULL;
  run->rate = UINT32_MAX; /* not given */
  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      const char *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (strcmp (a, "--threads") == 0)
	run->n_threads = parse_u32 (a, v, 1, 1023), i++;
      else if (strcmp (a, "--records") == 0)
	run->n_records = parse_u32 (a, v, 0, UINT32_MAX), i++;
      else if (strcmp (a, "--mtu") == 0)
	run->mtu = parse_u32 (a, v, 0, UINT32_MAX), i++;
      else if (strcmp (a, "--udp-checksum") == 0)
	run->udp_checksum = 1;
      else if (strcmp (a, "--collector") == 0 && v)
	{
	  if (strcmp (v, "ipv4") == 0)
	    run->ipv6 = 0;
	  else if (strcmp (v, "ipv6") == 0)
	    run->ipv6 = 1;
	  else
	    usage ();
	  i++;
	}
      else if (strcmp (a, "--pcap") == 0 && v)
	run->pcap = argv[++i];
      else if (strcmp (a, "--udp") == 0)
	run->udp_port = parse_u32 (a, v, 1, 65535), i++;
      else if (strcmp (a, "--ipfix-file") == 0 && v)
	run->ipfix_file = argv[++i];
      else if (strcmp (a, "--reliability-options") == 0)
	run->reliability_options = 1;
      else if (strcmp (a, "--seconds") == 0)
	run->seconds = parse_seconds (a, v), i++;
      else if (strcmp (a, "--rate") == 0)
	run->rate = parse_u32 (a, v, 0, 100000000), i++;
      else if (strcmp (a, "--timer") == 0)
	run->timer = 1;
      else
	usage ();
    }
  if (!run->udp_port && !run->pcap)
    usage ();
  /* Seconds mode is paced unless told otherwise; --records only when told. */
  if (run->rate == UINT32_MAX)
    run->rate = run->seconds > 0 ? DEFAULT_RATE : 0;
  if (!run->udp_port && run->ipfix_file)
    {
      fprintf (stderr, "flowprobe_like: --ipfix-file needs --udp\n");
      exit (2);
    }
}

/* Record A (and the first 56 bytes of C) of worker t's record i. */
static void
encode_a (uint8_t *p, uint32_t t, uint32_t i)
{
  /* dateTimeNanoseconds is NTP format (RFC 7011 section 6.1.10): seconds since
     1900 in the high 32 bits, a fraction of a second in the low 32. Start at
     Unix time 1700000000 plus i fraction units; end one second later. */
  uint64_t start = ((1700000000ull + 2208988800ull) << 32) + i;

  test_put_u32 (p + 0, t);
  test_put_u32 (p + 4, i);
  p[8] = (uint8_t) (i & 1);
  test_put_u64 (p + 9, (uint64_t) i + 1);
  test_put_u64 (p + 17, start);
  test_put_u64 (p + 25, start + (1ull << 32));
  test_put_u32 (p + 33,
		(10u << 24) | ((t & 255) << 16) | (i & 0xff00) | (i & 255));
  test_put_u32 (p + 37, (192u << 24) | (2u << 8) | (i % 251));
  p[41] = (i & 1) ? 17 : 6;
  test_put_u64 (p + 42, 64 * ((uint64_t) i + 1));
  test_put_u16 (p + 50, (uint16_t) (1024 + i % 50000));
  test_put_u16 (p + 52, 443);
  test_put_u16 (p + 54, (uint16_t) (i & 0x3f));
}

static void
encode_b (uint8_t *p, uint32_t t, uint32_t i)
{
  test_put_u32 (p + 0, t);
  test_put_u32 (p + 4, i);
  test_put_u32 (p + 8,
		(10u << 24) | ((t & 255) << 16) | (i & 0xff00) | (i & 255));
  test_put_u64 (p + 12, 64 * ((uint64_t) i + 1));
  p[20] = 17;
}

static void
encode_c (uint8_t *p, uint32_t t, uint32_t i)
{
  encode_a (p, t, i);
  test_put_u32 (p + 56, t * 1000000u + i);
}

static void
worker_fail (worker_t *w, const char *call, int rv)
{
  if (!w->error)
    {
      w->error = rv;
      w->error_call = call;
    }
  w->n_errors++;
}

/* Report A, as flowprobe writes: straight into the packet at
   next_data_offset, sending when the next record would pass the MTU. */
static void
export_a (worker_t *w, uint32_t i)
{
  run_t *run = w->run;
  uint32_t t = w->thread_index;
  flow_report_per_thread_t *ptd = &run->report_a->per_thread_data[t];
  int32_t err = 0;
  int rv;

  if (run->timer)
    {
      /* The timer may send the packet between calls: no writing into it. */
      uint8_t rec[RECORD_A_SIZE];
      encode_a (rec, t, i);
      rv = vpp_ipfix_record_append (run->main, 0, run->report_index[0], t, rec,
				    sizeof (rec));
      if (rv)
	worker_fail (w, "vpp_ipfix_record_append", rv);
      else
	w->records[0]++;
      return;
    }
  if (!vpp_ipfix_buffer_get (run->main, 0, run->report_index[0], t, &err))
    {
      worker_fail (w, "vpp_ipfix_buffer_get", err);
      return;
    }
  encode_a (ptd->packet.data + ptd->next_data_offset, t, i);
  ptd->next_data_offset += RECORD_A_SIZE;
  ptd->n_data_records++;
  w->records[0]++;
  if ((uint32_t) ptd->next_data_offset + RECORD_A_SIZE > run->path_mtu)
    {
      rv = vpp_ipfix_buffer_send (run->main, 0, run->report_index[0], t);
      if (rv)
	worker_fail (w, "vpp_ipfix_buffer_send", rv);
    }
}

static void
export_b (worker_t *w, uint32_t i)
{
  uint8_t rec[RECORD_B_SIZE];
  int rv;

  encode_b (rec, w->thread_index, i);
  rv = vpp_ipfix_record_append (w->run->main, 0, w->run->report_index[1],
				w->thread_index, rec, sizeof (rec));
  if (rv)
    worker_fail (w, "vpp_ipfix_record_append", rv);
  else
    w->records[1]++;
}

static void
export_c (worker_t *w, uint32_t i)
{
  int32_t err = 0;
  uint8_t *p;

  if (w->run->timer)
    {
      uint8_t rec[RECORD_C_SIZE];
      int rv;
      encode_c (rec, w->thread_index, i);
      rv = vpp_ipfix_record_append (w->run->main, 0, w->run->report_index[2],
				    w->thread_index, rec, sizeof (rec));
      if (rv)
	worker_fail (w, "vpp_ipfix_record_append", rv);
      else
	w->records[2]++;
      return;
    }
  p = vpp_ipfix_record_reserve (w->run->main, 0, w->run->report_index[2],
				w->thread_index, RECORD_C_SIZE, &err);
  if (!p)
    {
      worker_fail (w, "vpp_ipfix_record_reserve", err);
      return;
    }
  encode_c (p, w->thread_index, i);
  w->records[2]++;
}

static double
seconds_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Sleeps until `when` on the monotonic clock. */
static void
sleep_until (double when)
{
  struct timespec ts;

  ts.tv_sec = (time_t) when;
  ts.tv_nsec = (long) ((when - (double) ts.tv_sec) * 1e9);
  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

/* Worker t's record i, into the report i % 3 picks. */
static void
export_one (worker_t *w, uint32_t i)
{
  switch (i % 3)
    {
    case 0:
      export_a (w, i);
      break;
    case 1:
      export_b (w, i);
      break;
    default:
      export_c (w, i);
      break;
    }
}

/* Sends the packets that have waited max_age seconds or more (and, over UDP,
   the datagrams the thread has batched). */
static void
flush_idle (worker_t *w, double max_age)
{
  uint32_t sent = 0;
  int rv;

  rv =
    vpp_ipfix_thread_flush_idle (w->run->main, w->thread_index, max_age, &sent);
  if (rv)
    worker_fail (w, "vpp_ipfix_thread_flush_idle", rv);
  if (max_age > 0)
    w->idle_sent += sent;
}

/* Records mode: n_records records, as fast as the library takes them. */
static void
export_records (worker_t *w)
{
  run_t *run = w->run;
  uint32_t i;

  for (i = 0; i < run->n_records; i++)
    {
      export_one (w, i);
      if (run->flush_idle && (i + 1) % IDLE_CHECK_RECORDS == 0)
	flush_idle (w, IDLE_MAX_AGE);
    }
  w->n = run->n_records;
}

/* Paced (seconds mode, or --records with --rate): bursts of up to BURST
   records, the burst starting at record i not before start + i / rate, until
   `seconds` have passed or n_records are written. A worker that falls behind
   catches up without sleeping. Records still count up from 0. */
static void
export_paced (worker_t *w)
{
  run_t *run = w->run;
  int timed = run->seconds > 0;
  double now = seconds_now (), end = run->start + run->seconds;
  double last_idle_check = now;
  uint32_t i = 0, k, burst, since_idle_check = 0;

  for (;;)
    {
      if (timed ? now >= end || i > UINT32_MAX - BURST : i >= run->n_records)
	break;
      if (run->rate)
	{
	  double due = run->start + (double) i / run->rate;
	  if (timed && due >= end)
	    break;
	  if (due > now)
	    sleep_until (due);
	}
      burst = timed || run->n_records - i > BURST ? BURST : run->n_records - i;
      for (k = 0; k < burst; k++)
	export_one (w, i++);
      since_idle_check += burst;
      now = seconds_now ();
      if (since_idle_check >= IDLE_CHECK_RECORDS ||
	  now - last_idle_check >= IDLE_CHECK_INTERVAL)
	{
	  flush_idle (w, IDLE_MAX_AGE);
	  since_idle_check = 0;
	  last_idle_check = now;
	}
    }
  w->n = i;
}

static void *
worker_main (void *arg)
{
  worker_t *w = arg;
  uint32_t r;
  int rv;

  if (w->run->seconds > 0 || w->run->rate)
    export_paced (w);
  else
    export_records (w);
  /* The partial packets leave from their own thread. */
  for (r = 0; r < N_REPORTS; r++)
    {
      rv = vpp_ipfix_buffer_send (w->run->main, 0, w->run->report_index[r],
				  w->thread_index);
      if (rv)
	worker_fail (w, "vpp_ipfix_buffer_send", rv);
    }
  /* Over UDP: the datagrams batched on this thread go now. */
  if (w->run->flush_idle)
    flush_idle (w, 0);
  atomic_fetch_add (&w->run->workers_done, 1);
  return NULL;
}

static int
fail (const char *call, int rv)
{
  fprintf (stderr, "flowprobe_like: %s: %s (%d)\n", call,
	   vpp_ipfix_strerror (rv), rv);
  return 1;
}

/* IP, UDP, IPFIX message and set headers of a data packet on the wire. */
static uint32_t
wire_headers (const run_t *run)
{
  return (run->ipv6 ? 40 : 20) + 8 + IPFIX_HEADERS;
}

/* Configures exporter 0 and adds reports A, B and C. 0 when done. */
static int
configure (run_t *run)
{
  vpp_ipfix_exporter_config_t c;
  vnet_flow_report_add_del_args_t a;
  vpp_ipfix_field_t fields_c[N_ELTS_A + 1];
  vpp_ipfix_report_config_t rc;
  const ipfix_exporter_t *exp;
  uint32_t k, sent = 0;
  int rv;

  vpp_ipfix_exporter_config_init (&c);
  if (run->ipv6)
    {
      c.collector = test_ip6 ("::1");
      /* A socket binds its source: over UDP it must be a local address. */
      c.src_address = test_ip6 (run->udp_port ? "::1" : "fd00::2");
    }
  else
    {
      c.collector = test_ip4 (127, 0, 0, 1);
      c.src_address = test_ip4 (127, 0, 0, 2);
    }
  if (run->udp_port)
    c.collector_port = (uint16_t) run->udp_port;
  c.path_mtu = run->mtu;
  c.udp_checksum = (uint8_t) run->udp_checksum;
  c.reliability_options = (uint8_t) run->reliability_options;
  rv = vpp_ipfix_exporter_set (run->main, 0, &c);
  if (rv)
    return fail ("vpp_ipfix_exporter_set", rv);

  memset (&a, 0, sizeof (a));
  a.is_add = 1;
  a.domain_id = report_domains[0];
  a.src_port = report_ports[0];
  a.opaque.as_uword = 1;
  a.report_elements = elts_a;
  a.n_report_elements = N_ELTS_A;
  rv = vpp_ipfix_report_add_del (run->main, 0, &a, &run->template_id[0]);
  if (rv)
    return fail ("vpp_ipfix_report_add_del (A)", rv);
  run->report_index[0] = a.flow_report_index;

  a.domain_id = report_domains[1];
  a.src_port = report_ports[1];
  a.opaque.as_uword = 2;
  a.report_elements = elts_b;
  a.n_report_elements = N_ELTS_B;
  rv = vpp_ipfix_report_add_del (run->main, 0, &a, &run->template_id[1]);
  if (rv)
    return fail ("vpp_ipfix_report_add_del (B)", rv);
  run->report_index[1] = a.flow_report_index;

  for (k = 0; k < N_ELTS_A; k++)
    {
      fields_c[k].element_id = (uint16_t) elts_a[k].info_element;
      fields_c[k].length = (uint16_t) elts_a[k].size;
      fields_c[k].enterprise_number = 0;
    }
  fields_c[N_ELTS_A].element_id = C_ENTERPRISE_ELEMENT;
  fields_c[N_ELTS_A].length = 4;
  fields_c[N_ELTS_A].enterprise_number = C_ENTERPRISE_NUMBER;
  memset (&rc, 0, sizeof (rc));
  rc.domain_id = report_domains[2];
  rc.src_port = report_ports[2];
  rc.fields = fields_c;
  rc.n_fields = N_ELTS_A + 1;
  rc.opaque.as_uword = 3;
  rv = vpp_ipfix_report_add (run->main, 0, &rc, &run->report_index[2],
			     &run->template_id[2]);
  if (rv)
    return fail ("vpp_ipfix_report_add (C)", rv);

  /* The templates, and with reliability options one statistics message per
     stream (A and B share domain 1, C has domain 2): once, before the workers
     start, as runs stay under the template interval. */
  rv = vpp_ipfix_templates_send_due (run->main, &sent, NULL);
  if (rv)
    return fail ("vpp_ipfix_templates_send_due", rv);
  run->n_options = run->reliability_options ? 2 : 0;
  if (sent != N_REPORTS + run->n_options)
    {
      fprintf (stderr, "flowprobe_like: %u templates sent, expected %u\n", sent,
	       N_REPORTS + run->n_options);
      return 1;
    }

  /* What the workers read, fetched while nothing runs. */
  run->report_a = vpp_ipfix_report_get (run->main, 0, run->report_index[0]);
  exp = vpp_ipfix_exporter_get (run->main, 0);
  if (!run->report_a || !exp)
    {
      fprintf (stderr, "flowprobe_like: report A or exporter 0 not found\n");
      return 1;
    }
  /* Buffers keep room for the IP and UDP headers whoever writes them (the
     kernel, over UDP), so flowprobe's own check against path_mtu holds. */
  run->path_mtu = exp->path_mtu;
  run->all_headers_size = exp->all_headers_size;
  return 0;
}

/* Records of report r one worker writes: i in 0..n-1 with i % 3 == r. */
static uint64_t
records_per_worker (uint32_t n, uint32_t r)
{
  return n > r ? (n - r + 2) / 3 : 0;
}

/* Packets one worker sends for `records` records of `size` bytes. */
static uint64_t
packets_per_worker (uint64_t records, uint32_t size, uint32_t headers,
		    uint32_t mtu)
{
  uint64_t per_packet = mtu > headers ? (mtu - headers) / size : 0;
  return per_packet ? (records + per_packet - 1) / per_packet : 0;
}

static int
check_equal (const char *what, uint64_t got, uint64_t expected)
{
  if (got == expected)
    return 0;
  fprintf (stderr, "flowprobe_like: %s is %llu, expected %llu\n", what,
	   (unsigned long long) got, (unsigned long long) expected);
  return 1;
}

static int
check_range (const char *what, uint64_t got, uint64_t min, uint64_t max)
{
  if (got >= min && got <= max)
    return 0;
  fprintf (stderr, "flowprobe_like: %s is %llu, expected %llu..%llu\n", what,
	   (unsigned long long) got, (unsigned long long) min,
	   (unsigned long long) max);
  return 1;
}

/* "127.0.0.1:PORT" or "[::1]:PORT". */
static void
collector_text (const run_t *run, char *buf, size_t size)
{
  snprintf (buf, size, run->ipv6 ? "[::1]:%u" : "127.0.0.1:%u", run->udp_port);
}

/* A pcap instance, or without VPP over UDP (and to the files asked for). */
static int
create_instance (run_t *run)
{
  vpp_ipfix_standalone_config_t sc;
  int rv;

  if (!run->udp_port)
    {
      rv = vpp_ipfix_main_create_pcap (run->pcap, run->n_threads + 1, 0,
				       &run->main);
      return rv ? fail ("vpp_ipfix_main_create_pcap", rv) : 0;
    }
  memset (&sc, 0, sizeof (sc));
  sc.n_threads = run->n_threads + 1;
  sc.udp = 1;
  sc.pcap_path = run->pcap;
  sc.ipfix_file_path = run->ipfix_file;
  rv = vpp_ipfix_main_create_standalone (&sc, &run->main);
  return rv ? fail ("vpp_ipfix_main_create_standalone", rv) : 0;
}

static void
read_counters (const run_t *run, vpp_ipfix_counters_t *ec)
{
  if (vpp_ipfix_exporter_counters (run->main, 0, ec))
    memset (ec, 0, sizeof (*ec));
}

/* Says once, while it runs, that datagrams are being lost. */
static void
warn_drops (const run_t *run, const vpp_ipfix_counters_t *ec)
{
  char where[64];

  collector_text (run, where, sizeof (where));
  fprintf (stderr,
	   "flowprobe_like: datagrams to %s are not getting through "
	   "(%llu dropped so far): is a collector listening there? Export "
	   "goes on; the losses are counted.\n",
	   where, (unsigned long long) ec->dropped_packets);
}

/* Until every worker is done: a progress line on stderr about once a second,
   from the exporter's counters (readable while the workers run). */
static void
watch_workers (run_t *run)
{
  vpp_ipfix_counters_t ec;
  double next = run->start + 1, last = run->start, now;
  uint64_t last_records = 0;
  int warned = 0;

  while (atomic_load (&run->workers_done) < run->n_threads)
    {
      now = seconds_now ();
      if (now < next)
	{
	  sleep_until (now + 0.02 < next ? now + 0.02 : next);
	  continue;
	}
      read_counters (run, &ec);
      fprintf (stderr,
	       "progress: seconds=%.1f records=%llu records_per_second=%.0f "
	       "packets=%llu dropped_packets=%llu\n",
	       now - run->start, (unsigned long long) ec.data_records,
	       now > last ? (ec.data_records - last_records) / (now - last) : 0,
	       (unsigned long long) ec.packets,
	       (unsigned long long) ec.dropped_packets);
      if (run->udp_port && ec.dropped_packets && !warned)
	{
	  warn_drops (run, &ec);
	  warned = 1;
	}
      last = now;
      last_records = ec.data_records;
      next += 1;
    }
}

/* Runs the workers; returns how long they took. */
static double
run_workers (run_t *run, worker_t *workers)
{
  pthread_t *threads;
  uint32_t t;
  int rv;

  threads = calloc (run->n_threads, sizeof (*threads));
  if (!threads)
    {
      fprintf (stderr, "flowprobe_like: out of memory\n");
      exit (1);
    }
  run->start = seconds_now ();
  for (t = 0; t < run->n_threads; t++)
    {
      workers[t].run = run;
      workers[t].thread_index = t + 1; /* 0 is the main thread */
      rv = pthread_create (&threads[t], NULL, worker_main, &workers[t]);
      if (rv)
	{
	  fprintf (stderr, "flowprobe_like: pthread_create: %s\n",
		   strerror (rv));
	  exit (1);
	}
    }
  watch_workers (run);
  for (t = 0; t < run->n_threads; t++)
    pthread_join (threads[t], NULL);
  free (threads);
  return seconds_now () - run->start;
}

int
main (int argc, char **argv)
{
  run_t run;
  worker_t *workers;
  vpp_ipfix_counters_t rc[N_REPORTS], ec;
  uint64_t written[N_REPORTS] = { 0 };
  uint64_t packets = 0, bytes = 0, records = 0, idle_sent = 0;
  uint32_t t, r;
  double seconds;
  char where[64];
  int rv, bad = 0;

  memset (&run, 0, sizeof (run));
  parse_args (&run, argc, argv);
  /* Over UDP the datagrams wait in batches, and a paced worker sleeps with
     records in its packets: both send idle packets from their loop. */
  run.flush_idle = run.udp_port || run.seconds > 0 || run.rate;
  printf ("flowprobe_like: threads=%u records_per_thread=%u collector=%s "
	  "mtu=%u udp_checksum=%d pcap=%s timer=%d\n",
	  run.n_threads, run.seconds > 0 ? 0 : run.n_records,
	  run.ipv6 ? "ipv6" : "ipv4", run.mtu, run.udp_checksum,
	  run.pcap ? run.pcap : "-", run.timer);
  collector_text (&run, where, sizeof (where));
  if (run.flush_idle)
    printf ("flowprobe_like: udp=%s ipfix_file=%s reliability_options=%d "
	    "seconds=%g rate=%u\n",
	    run.udp_port ? where : "-", run.ipfix_file ? run.ipfix_file : "-",
	    run.reliability_options, run.seconds, run.rate);
  fflush (stdout);

  if (create_instance (&run))
    return 1;
  if (configure (&run))
    {
      vpp_ipfix_main_destroy (run.main);
      return 1;
    }

  workers = calloc (run.n_threads, sizeof (*workers));
  if (!workers)
    {
      fprintf (stderr, "flowprobe_like: out of memory\n");
      vpp_ipfix_main_destroy (run.main);
      return 1;
    }
  if (run.timer)
    {
      rv = vpp_ipfix_timer_start (run.main, TIMER_MAX_AGE, TIMER_PERIOD);
      if (rv)
	{
	  fail ("vpp_ipfix_timer_start", rv);
	  vpp_ipfix_main_destroy (run.main);
	  free (workers);
	  return 1;
	}
    }
  seconds = run_workers (&run, workers);
  if (run.timer)
    {
      rv = vpp_ipfix_timer_stop (run.main);
      if (rv)
	bad |= fail ("vpp_ipfix_timer_stop", rv);
    }

  for (t = 0; t < run.n_threads; t++)
    {
      worker_t *w = &workers[t];
      for (r = 0; r < N_REPORTS; r++)
	written[r] += w->records[r];
      idle_sent += w->idle_sent;
      if (w->error)
	{
	  fprintf (
	    stderr, "flowprobe_like: thread %u: %s: %s (%d), %llu errors\n",
	    w->thread_index, w->error_call, vpp_ipfix_strerror (w->error),
	    w->error, (unsigned long long) w->n_errors);
	  bad = 1;
	}
    }

  rv = vpp_ipfix_flush (run.main);
  if (rv)
    bad |= fail ("vpp_ipfix_flush", rv);
  for (r = 0; r < N_REPORTS; r++)
    {
      rv = vpp_ipfix_report_counters (run.main, 0, run.report_index[r], &rc[r]);
      if (rv)
	{
	  bad |= fail ("vpp_ipfix_report_counters", rv);
	  memset (&rc[r], 0, sizeof (rc[r]));
	}
      printf ("report name=%s domain=%u src_port=%u template=%u records=%llu "
	      "packets=%llu bytes=%llu\n",
	      report_names[r], report_domains[r], report_ports[r],
	      run.template_id[r], (unsigned long long) rc[r].data_records,
	      (unsigned long long) rc[r].packets,
	      (unsigned long long) rc[r].bytes);
    }
  rv = vpp_ipfix_exporter_counters (run.main, 0, &ec);
  if (rv)
    {
      bad |= fail ("vpp_ipfix_exporter_counters", rv);
      memset (&ec, 0, sizeof (ec));
    }
  printf ("sent: records=%llu packets=%llu templates=%llu bytes=%llu "
	  "alloc_failures=%llu dropped_packets=%llu dropped_records=%llu "
	  "seconds=%.3f records_per_second=%.0f\n",
	  (unsigned long long) ec.data_records, (unsigned long long) ec.packets,
	  (unsigned long long) ec.templates, (unsigned long long) ec.bytes,
	  (unsigned long long) ec.alloc_failures,
	  (unsigned long long) ec.dropped_packets,
	  (unsigned long long) ec.dropped_records, seconds,
	  seconds > 0 ? ec.data_records / seconds : 0.0);
  /* Datagrams the kernel took: data, templates (less those lost) and the
     reliability statistics messages, which the counters do not count unless
     lost (then as lost templates). */
  if (run.udp_port)
    printf ("udp: collector=%s sent_datagrams=%llu dropped_packets=%llu "
	    "dropped_records=%llu\n",
	    where,
	    (unsigned long long) (ec.packets + ec.templates + run.n_options),
	    (unsigned long long) ec.dropped_packets,
	    (unsigned long long) ec.dropped_records);
  fflush (stdout);

  /* The counters must say what the workers wrote, packed to the MTU (a packet
     an idle flush sent early adds at most one packet; the timer's flushes,
     any number). */
  for (r = 0; r < N_REPORTS; r++)
    {
      char what[64];
      uint64_t expect = 0, expect_packets = 0;
      for (t = 0; t < run.n_threads; t++)
	{
	  uint64_t n = records_per_worker (workers[t].n, r);
	  expect += n;
	  expect_packets += packets_per_worker (
	    n, report_sizes[r], wire_headers (&run), run.path_mtu);
	}
      snprintf (what, sizeof (what), "report %s records", report_names[r]);
      bad |= check_equal (what, rc[r].data_records, expect);
      bad |= check_equal (what, written[r], expect);
      snprintf (what, sizeof (what), "report %s packets", report_names[r]);
      bad |= check_range (what, rc[r].packets, expect_packets,
			  run.timer ? UINT64_MAX : expect_packets + idle_sent);
      snprintf (what, sizeof (what), "report %s bytes", report_names[r]);
      bad |= check_equal (what, rc[r].bytes,
			  rc[r].packets * run.all_headers_size +
			    expect * report_sizes[r]);
      snprintf (what, sizeof (what), "report %s templates", report_names[r]);
      bad |= check_equal (what, rc[r].templates, 1);
      records += rc[r].data_records;
      packets += rc[r].packets;
      bytes += rc[r].bytes;
    }
  bad |= check_equal ("alloc_failures", ec.alloc_failures, 0);
  if (!run.udp_port)
    {
      bad |= check_equal ("exporter records", ec.data_records, records);
      bad |= check_equal ("exporter packets", ec.packets, packets);
      bad |= check_equal ("exporter bytes", ec.bytes, bytes);
      bad |= check_equal ("exporter templates", ec.templates, N_REPORTS);
      bad |= check_equal ("dropped_packets", ec.dropped_packets, 0);
      bad |= check_equal ("dropped_records", ec.dropped_records, 0);
    }
  else
    {
      /* Over UDP every packet was either taken by the kernel or lost (and
	 counted): losing some is not an error of ours. */
      bad |= check_equal ("exporter records + dropped records",
			  ec.data_records + ec.dropped_records, records);
      bad |= check_equal ("exporter packets + templates + dropped packets",
			  ec.packets + ec.templates + ec.dropped_packets,
			  packets + N_REPORTS);
      bad |= check_range ("exporter bytes", ec.bytes, 0, bytes);
      if (ec.dropped_packets)
	fprintf (stderr,
		 "flowprobe_like: %llu datagrams to %s were not delivered, "
		 "%llu of %llu records lost: is a collector listening there? "
		 "(not fatal: losses are counted and the sequence numbers "
		 "tell the collector)\n",
		 (unsigned long long) ec.dropped_packets, where,
		 (unsigned long long) ec.dropped_records,
		 (unsigned long long) records);
    }

  vpp_ipfix_main_destroy (run.main);
  free (workers);
  return bad ? 1 : 0;
}
