/* bench.c: the C-ABI benchmark of vpp-ipfix and its baselines, in one process.

   Every case exports flowprobe's 56-byte IPv4 L3+L4 record (13 fields) from a
   table of 1024 pre-encoded records, one record at a time:

     ours-get      the library through its C ABI as VPP callers use it: for
		   every record vpp_ipfix_buffer_get, write the record at
		   packet.data + next_data_offset, advance the offset and the
		   count, and vpp_ipfix_buffer_send when the next record would
		   pass the MTU
     ours-get-inline  the same with vpp_ipfix_buffer_get_inline (the header's
		   inline form of the per-record case)
     ours-append   vpp_ipfix_record_append for every record
     ours-reserve  vpp_ipfix_record_reserve + memcpy for every record
     ours-batch    vpp_ipfix_records_append for 32 records at a time (a
		   worker's vector of flows)
     plainc-get    our plain-C rendering of VPP's get_buffer / send_buffer
		   path: per-thread buffer, memcpy of each record, header
		   fix-up, IPv4 header checksum (and UDP checksum when on), one
		   atomic add per packet, enqueue to a recycled ring
     plainc-append the same behind one record-append call per record
     floor         memcpy of each record into a buffer of the path MTU,
		   nothing else
     libfixbuf     libfixbuf 2.4 fBufAppend into a memory exporter
		   (fbExporterAllocBuffer), messages of the path MTU
     udp-ours      the library's standalone UDP transport (sendmmsg batches)
		   to a socket on 127.0.0.1, records by vpp_ipfix_record_append
     udp-ours-batch  the same, records by vpp_ipfix_records_append, 32 a call
     udp-bare      a bare sendmmsg loop on a connected socket sending
		   datagrams of the same size, 32 per call

   Our cases and plain C use the same in-memory host: per-thread buffer
   pools, and a ring of 256 buffers per thread ("a frame") whose buffers go
   back to the pool when it fills, as VPP's buffers come back after the frame
   was processed. Nothing is copied per packet.

   Modes:
     bench --time   [--runs R] [--records N] [--only SUBSTR]
       wall clock: R rounds over all cases, each case once a round over N
       records per thread (after a warm-up), one line per case: the median
       ns per record and packets per second
     bench --instr  [--records N] [--only SUBSTR]
       for valgrind --tool=callgrind --collect-atstart=no: each case once over
       N records per thread after a warm-up; each thread collects only while
       in the measured loop (CALLGRIND_TOGGLE_COLLECT), and the case ends with
       CALLGRIND_DUMP_STATS_AT (<case name>); one line per case with records
       and packets, so instructions per record come from the dumps
       (benches/run.sh does it)
     bench --list
   Output lines are tab-separated: kind name records packets value
   (value: ns per record for --time, 0 for --instr); --time ends with
   "pair <udp case> <udp-bare case> <ratio>": the median ratio of packets per
   second over 2R+1 runs of the two in turn. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <valgrind/callgrind.h>

#include "vpp_ipfix.h"

#ifndef HAVE_FIXBUF
#define HAVE_FIXBUF 1
#endif
#if HAVE_FIXBUF
#include <fixbuf/public.h>
#endif

#define REC_SIZE    56
#define N_SRC	    1024 /* distinct records, cycled */
#define MAX_THREADS 2
#define BUF_BYTES   2048
#define RING	    256 /* buffers per "frame" */
#define POOL_MAX    (2 * RING + 8)
#define UDP_BATCH   32
#define BENCH_PORT  47390 /* the loopback collector (+1, +2: see port_of) */
#define UNIX_TIME   1700000000.0

#define CACHE_ALIGNED __attribute__ ((aligned (128)))
#define NOINLINE      __attribute__ ((noinline))
#define LIKELY(x)     __builtin_expect (!!(x), 1)
#define UNLIKELY(x)   __builtin_expect (!!(x), 0)

static void
die (const char *what, int code)
{
  fprintf (stderr, "bench: %s failed (%d)\n", what, code);
  exit (1);
}

/* ---- the records ----------------------------------------------------------
 */

static uint8_t src_records[N_SRC * REC_SIZE] __attribute__ ((aligned (64)));

static void
put16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}

static void
put32 (uint8_t *p, uint32_t v)
{
  put16 (p, (uint16_t) (v >> 16));
  put16 (p + 2, (uint16_t) v);
}

static void
put64 (uint8_t *p, uint64_t v)
{
  put32 (p, (uint32_t) (v >> 32));
  put32 (p + 4, (uint32_t) v);
}

/* flowprobe's IPv4 L3+L4 record, network order (what a VPP caller writes). */
static void
encode_record (uint8_t *p, uint32_t i)
{
  uint64_t start = ((1700000000ull + 2208988800ull) << 32) + i;

  put32 (p + 0, 1);			   /* ingressInterface */
  put32 (p + 4, 2);			   /* egressInterface */
  p[8] = (uint8_t) (i & 1);		   /* flowDirection */
  put64 (p + 9, i + 1);			   /* packetDeltaCount */
  put64 (p + 17, start);		   /* flowStartNanoseconds */
  put64 (p + 25, start + (1ull << 32));	   /* flowEndNanoseconds */
  put32 (p + 33, 0x0a000000u | i);	   /* sourceIPv4Address */
  put32 (p + 37, 0xc0000200u | (i % 251)); /* destinationIPv4Address */
  p[41] = (i & 1) ? 17 : 6;		   /* protocolIdentifier */
  put64 (p + 42, 64ull * (i + 1));	   /* octetDeltaCount */
  put16 (p + 50, (uint16_t) (1024 + i));   /* sourceTransportPort */
  put16 (p + 52, 443);			   /* destinationTransportPort */
  put16 (p + 54, (uint16_t) (i & 0x3f));   /* tcpControlBits */
}

static ipfix_report_element_t record_elements[] = {
  { 10, 4 }, { 14, 4 }, { 61, 1 }, { 2, 8 }, { 156, 8 }, { 157, 8 }, { 8, 4 },
  { 12, 4 }, { 4, 1 },	{ 1, 8 },  { 7, 2 }, { 11, 2 },	 { 6, 2 },
};
#define N_ELEMENTS (sizeof (record_elements) / sizeof (record_elements[0]))

static inline const uint8_t *
record_at (uint64_t i)
{
  return src_records + (i & (N_SRC - 1)) * REC_SIZE;
}

/* ---- the in-memory host: pools and rings per thread -----------------------
 */

typedef struct
{
  uint8_t *free[POOL_MAX];
  uint32_t n_free;
  uint32_t n_ring;
  uint8_t *ring[RING];
  uint64_t packets;
  uint64_t records;
  uint64_t bytes;
  uint64_t check; /* a byte of every packet, so nothing is optimised away */
} CACHE_ALIGNED host_thread_t;

static host_thread_t host_threads[MAX_THREADS];
static double host_time = UNIX_TIME;

static inline uint8_t *
host_alloc (host_thread_t *h)
{
  if (LIKELY (h->n_free))
    return h->free[--h->n_free];
  uint8_t *b = aligned_alloc (64, BUF_BYTES);
  if (!b)
    die ("aligned_alloc", 0);
  return b;
}

static inline void
host_free (host_thread_t *h, uint8_t *b)
{
  if (h->n_free < POOL_MAX)
    h->free[h->n_free++] = b;
  else
    free (b);
}

/* Takes a finished packet: into the thread's ring; a full ring is "processed"
   and its buffers go back to the pool. */
static inline void
host_enqueue (host_thread_t *h, uint8_t *b, uint32_t len, uint32_t records)
{
  h->packets++;
  h->records += records;
  h->bytes += len;
  h->check += b[len - 1];
  h->ring[h->n_ring++] = b;
  if (UNLIKELY (h->n_ring == RING))
    {
      for (uint32_t i = 0; i < RING; i++)
	host_free (h, h->ring[i]);
      h->n_ring = 0;
    }
}

static void
host_reset (void)
{
  for (int t = 0; t < MAX_THREADS; t++)
    {
      host_thread_t *h = &host_threads[t];
      for (uint32_t i = 0; i < h->n_ring; i++)
	host_free (h, h->ring[i]);
      h->n_ring = 0;
      h->packets = h->records = h->bytes = 0;
    }
}

static void *
op_buffer_alloc (void *ctx, uint32_t thread_index, uint32_t min_capacity)
{
  (void) ctx;
  if (min_capacity > BUF_BYTES || thread_index >= MAX_THREADS)
    return NULL;
  return host_alloc (&host_threads[thread_index]);
}

/* The three calls above in one, as VPP's shim provides it. */
static void *
op_buffer_alloc_packet (void *ctx, uint32_t thread_index,
			uint32_t min_capacity, uint8_t **data,
			uint32_t *capacity)
{
  uint8_t *b = op_buffer_alloc (ctx, thread_index, min_capacity);

  *data = b;
  *capacity = BUF_BYTES;
  return b;
}

static void
op_buffer_free (void *ctx, uint32_t thread_index, void *buffer)
{
  (void) ctx;
  host_free (&host_threads[thread_index], buffer);
}

static uint8_t *
op_buffer_data (void *ctx, void *buffer)
{
  (void) ctx;
  return buffer;
}

static uint32_t
op_buffer_capacity (void *ctx, void *buffer)
{
  (void) ctx;
  (void) buffer;
  return BUF_BYTES;
}

static int32_t
op_enqueue (void *ctx, uint32_t thread_index, void *buffer,
	    const vpp_ipfix_packet_info_t *info)
{
  (void) ctx;
  host_enqueue (&host_threads[thread_index], buffer, info->length,
		info->records);
  return 0;
}

static double
op_now (void *ctx)
{
  (void) ctx;
  return host_time;
}

/* ---- cases -----------------------------------------------------------------
 */

typedef enum
{
  K_OURS_GET,
  K_OURS_GET_INLINE,
  K_OURS_APPEND,
  K_OURS_RESERVE,
  K_OURS_BATCH,
  K_PLAINC_GET,
  K_PLAINC_APPEND,
  K_FLOOR,
  K_FIXBUF,
  K_UDP_OURS,
  K_UDP_OURS_BATCH,
  K_UDP_BARE,
} kind_t;

static const char *kind_names[] = {
  "ours-get",	"ours-get-inline", "ours-append",    "ours-reserve",
  "ours-batch", "plainc-get",	   "plainc-append",  "floor",
  "libfixbuf",	"udp-ours",	   "udp-ours-batch", "udp-bare",
};

typedef struct
{
  kind_t kind;
  uint32_t mtu;
  int csum;	 /* UDP checksum over IPv4 */
  int ip6;	 /* IPv6 collector (UDP checksum always) */
  int threads;	 /* 1 or 2 */
  int shared;	 /* 2 threads on one stream (else one stream each) */
  int adjacent;	 /* separate streams in neighbouring slots (one cache line) */
  uint32_t work; /* extra per-record work (a forwarding worker's), rounds */
  char name[96];
} bench_case_t;

/* The collector port of a case: the UDP cases each have their own, so they
   can be set up side by side (the paired UDP runs). */
static uint16_t
port_of (kind_t kind)
{
  return (uint16_t) (BENCH_PORT + (kind == K_UDP_OURS_BATCH ? 1 :
				   kind == K_UDP_BARE	    ? 2 :
							      0));
}

/* What a case's loop needs, set up once per case. */
typedef struct
{
  const bench_case_t *c;
  /* ours */
  vpp_ipfix_main_t *main;
  uint32_t report[MAX_THREADS]; /* the report thread t exports on */
  const flow_report_t *fr[MAX_THREADS];
  vpp_ipfix_fast_path_t fp; /* for ours-get-inline */
  uint32_t data_limit;	    /* where the last record of a packet must end */
  /* floor */
  uint8_t *floor_buf[MAX_THREADS];
  /* libfixbuf */
  void *fbuf;
  uint8_t *fix_out;
  /* udp-bare */
  int sock;
  uint8_t *dgrams;
  uint32_t dgram_len;
  uint32_t records_per_dgram;
  /* the collector socket for UDP cases */
  int sink;
} ctx_t;

/* A forwarding worker's own per-record work: `rounds` dependent steps. */
static inline uint64_t
other_work (uint64_t x, uint32_t rounds)
{
  for (uint32_t i = 0; i < rounds; i++)
    {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      __asm__ volatile("" : "+r"(x));
    }
  return x;
}

/* ---- ours through the C ABI -------------------------------------------------
 */

static void
ours_setup (ctx_t *x, int standalone)
{
  const bench_case_t *c = x->c;
  vpp_ipfix_exporter_config_t cfg;
  int rv;

  if (standalone)
    {
      vpp_ipfix_standalone_config_t sc = { .n_threads = (uint32_t) c->threads,
					   .udp = 1 };
      rv = vpp_ipfix_main_create_standalone (&sc, &x->main);
    }
  else
    {
      vpp_ipfix_ops_t ops = {
	.ctx = NULL,
	.buffer_alloc = op_buffer_alloc,
	.buffer_free = op_buffer_free,
	.buffer_data = op_buffer_data,
	.buffer_capacity = op_buffer_capacity,
	.enqueue = op_enqueue,
	.now = op_now,
	.buffer_alloc_packet = op_buffer_alloc_packet,
      };
      rv = vpp_ipfix_main_create (&ops, (uint32_t) c->threads, 0, &x->main);
    }
  if (rv)
    die ("vpp_ipfix_main_create", rv);

  vpp_ipfix_exporter_config_init (&cfg);
  memset (&cfg.collector, 0, sizeof (cfg.collector));
  memset (&cfg.src_address, 0, sizeof (cfg.src_address));
  if (c->ip6)
    {
      cfg.collector.ip.as_u8[15] = 1; /* ::1 */
      cfg.collector.version = 1;
      cfg.src_address.ip.as_u8[15] = 1;
      cfg.src_address.version = 1;
    }
  else
    {
      cfg.collector.ip.ip4.as_u32 = htonl (0x7f000001);
      cfg.src_address.ip.ip4.as_u32 = htonl (0x7f000001);
    }
  cfg.collector_port = port_of (c->kind);
  cfg.path_mtu = c->mtu;
  cfg.udp_checksum = (uint8_t) c->csum;
  cfg.template_interval = 3600;
  rv = vpp_ipfix_exporter_set (x->main, 0, &cfg);
  if (rv)
    die ("vpp_ipfix_exporter_set", rv);

  /* Threads on separate streams use streams 0 and 8 of the exporter, whose
     table packs 16-byte streams (VPP's layout): reports on seven more
     streams in between keep the two sequence numbers 128 bytes apart, as the
     plain-C baseline has them. `adjacent` uses streams 0 and 1. */
  int n_reports = c->threads > 1 && !c->shared ? c->threads : 1;
  int spacing = n_reports > 1 && !c->adjacent ? 8 : 1;
  for (int r = 0; r < (n_reports - 1) * spacing + 1; r++)
    {
      vnet_flow_report_add_del_args_t a;
      uint16_t template_id;
      memset (&a, 0, sizeof (a));
      a.report_elements = record_elements;
      a.n_report_elements = N_ELEMENTS;
      a.opaque.as_uword = (uintptr_t) r + 1;
      a.is_add = 1;
      /* One stream per report: a stream is one (domain, port) pair. */
      a.domain_id = (uint32_t) (1 + r);
      a.src_port = (uint16_t) (30001 + r);
      rv = vpp_ipfix_report_add_del (x->main, 0, &a, &template_id);
      if (rv)
	die ("vpp_ipfix_report_add_del", rv);
      for (int t = 0; t < c->threads; t++)
	if (n_reports == 1 || t * spacing == r)
	  x->report[t] = a.flow_report_index;
    }
  for (int t = 0; t < c->threads; t++)
    x->fr[t] = vpp_ipfix_report_get (x->main, 0, x->report[t]);
  x->fp = vpp_ipfix_fast_path_get (x->main);
  rv = vpp_ipfix_templates_send_due (x->main, NULL, NULL);
  if (rv)
    die ("vpp_ipfix_templates_send_due", rv);

  /* The library's buffer starts at the IP header with our host, at the IPFIX
     message with the standalone one (the kernel adds IP and UDP). */
  x->data_limit = standalone ? c->mtu - (c->ip6 ? 40 : 20) - 8 : c->mtu;
}

static void
ours_teardown (ctx_t *x)
{
  vpp_ipfix_main_destroy (x->main);
  x->main = NULL;
}

/* VPP's way: get the buffer for every record, write into it, send when the
   next record would not fit. */
/* The loop of ours-get and ours-get-inline, as flowprobe writes it: GET is the
   call that returns the thread's buffer (a macro, so that the inline form is
   inlined into its own loop). */
#define OURS_GET_LOOP(name, GET)                                               \
  static void NOINLINE name (ctx_t *x, uint32_t t, uint64_t n, uint64_t first) \
  {                                                                            \
    vpp_ipfix_main_t *main = x->main;                                          \
    const vpp_ipfix_fast_path_t *fp = &x->fp;                                  \
    uint32_t r = x->report[t];                                                 \
    flow_report_per_thread_t *ptd = &x->fr[t]->per_thread_data[t];             \
    uint32_t limit = x->data_limit;                                            \
    uint32_t work = x->c->work;                                                \
    uint64_t w = t;                                                            \
    int32_t err;                                                               \
                                                                               \
    (void) fp;                                                                 \
    for (uint64_t i = first; i < first + n; i++)                               \
      {                                                                        \
	if (UNLIKELY (!(GET)))                                                 \
	  die (#GET, err);                                                     \
	memcpy (ptd->packet.data + ptd->next_data_offset, record_at (i),       \
		REC_SIZE);                                                     \
	ptd->next_data_offset += REC_SIZE;                                     \
	ptd->n_data_records++;                                                 \
	if ((uint32_t) ptd->next_data_offset + REC_SIZE > limit)               \
	  vpp_ipfix_buffer_send (main, 0, r, t);                               \
	if (work)                                                              \
	  w = other_work (w, work);                                            \
      }                                                                        \
    vpp_ipfix_buffer_send (main, 0, r, t);                                     \
    host_threads[t].check += w;                                                \
  }

OURS_GET_LOOP (loop_ours_get, vpp_ipfix_buffer_get (main, 0, r, t, &err))
OURS_GET_LOOP (loop_ours_get_inline,
	       vpp_ipfix_buffer_get_inline (fp, main, 0, r, t, &err))

static void NOINLINE
loop_ours_append (ctx_t *x, uint32_t t, uint64_t n, uint64_t first)
{
  vpp_ipfix_main_t *main = x->main;
  uint32_t r = x->report[t];
  uint32_t work = x->c->work;
  uint64_t w = t;
  int rv;

  for (uint64_t i = first; i < first + n; i++)
    {
      rv = vpp_ipfix_record_append (main, 0, r, t, record_at (i), REC_SIZE);
      if (UNLIKELY (rv))
	die ("vpp_ipfix_record_append", rv);
      if (work)
	w = other_work (w, work);
    }
  vpp_ipfix_buffer_send (main, 0, r, t);
  host_threads[t].check += w;
}

static void NOINLINE
loop_ours_reserve (ctx_t *x, uint32_t t, uint64_t n, uint64_t first)
{
  vpp_ipfix_main_t *main = x->main;
  uint32_t r = x->report[t];
  int32_t err;

  for (uint64_t i = first; i < first + n; i++)
    {
      uint8_t *p = vpp_ipfix_record_reserve (main, 0, r, t, REC_SIZE, &err);
      if (UNLIKELY (!p))
	die ("vpp_ipfix_record_reserve", err);
      memcpy (p, record_at (i), REC_SIZE);
    }
  vpp_ipfix_buffer_send (main, 0, r, t);
}

#define BATCH 32

static void NOINLINE
loop_ours_batch (ctx_t *x, uint32_t t, uint64_t n, uint64_t first)
{
  vpp_ipfix_main_t *main = x->main;
  uint32_t r = x->report[t];
  int rv;
  (void) first;

  /* Batches of BATCH consecutive records of the table (it holds a whole
     number of batches). */
  for (uint64_t i = 0; i < n; i += BATCH)
    {
      size_t count = n - i < BATCH ? (size_t) (n - i) : BATCH;
      rv = vpp_ipfix_records_append (main, 0, r, t, record_at (i), REC_SIZE,
				     count, NULL);
      if (UNLIKELY (rv))
	die ("vpp_ipfix_records_append", rv);
    }
  vpp_ipfix_buffer_send (main, 0, r, t);
}

/* ---- plain C: VPP's get_buffer / send_buffer, written out ------------------
 */

typedef struct
{
  uint32_t domain_id;
  _Atomic uint32_t sequence_number;
  uint16_t src_port;
  uint16_t n_reports;
  uint16_t next_template_no;
} pc_stream_t; /* VPP's flow_report_stream_t, 16 bytes, packed in a vector */

typedef struct
{
  uint8_t *buffer;
  void *frame;
  uint16_t next_data_offset;
  uint16_t n_data_records;
} CACHE_ALIGNED pc_per_thread_t;

typedef struct
{
  uint16_t template_id;
  uint32_t stream_index;
  pc_per_thread_t *per_thread_data;
} pc_report_t;

typedef struct
{
  uint8_t src[16], dst[16];
  uint16_t collector_port;
  uint32_t path_mtu;
  int udp_checksum;
  int ip6;
  uint32_t all_headers_size;
  pc_stream_t *streams;
} pc_exporter_t;

static pc_exporter_t pc_exp;
/* Separate streams are entries 0 and 8 (128 bytes apart), in a table aligned
   to 128 bytes: no two threads' sequence numbers share a line, and no other
   data shares their lines. */
#define PC_STREAM_STRIDE 8
static pc_stream_t pc_streams[MAX_THREADS * PC_STREAM_STRIDE]
  __attribute__ ((aligned (128)));
static pc_report_t pc_reports[MAX_THREADS];
static pc_per_thread_t pc_ptd[MAX_THREADS][MAX_THREADS];

static inline uint64_t
csum_add_words (uint64_t sum, const uint8_t *p, uint32_t len)
{
  uint32_t w[4];
  /* Four 32-bit words a round into a 64-bit sum: carries are folded once at
     the end. */
  while (len >= 16)
    {
      memcpy (w, p, 16);
      sum += (uint64_t) w[0] + w[1] + w[2] + w[3];
      p += 16;
      len -= 16;
    }
  while (len >= 4)
    {
      memcpy (w, p, 4);
      sum += w[0];
      p += 4;
      len -= 4;
    }
  if (len >= 2)
    {
      uint16_t h;
      memcpy (&h, p, 2);
      sum += h;
      p += 2;
      len -= 2;
    }
  if (len)
    sum += *p; /* little-endian: the high byte of a big-endian word */
  return sum;
}

static inline uint16_t
csum_fold (uint64_t sum)
{
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t) sum;
}

/* VPP's ip4_header_checksum: the 20-byte header as five 32-bit words. */
static inline uint16_t
ip4_header_checksum (const uint8_t *ip)
{
  uint32_t w[5];
  uint64_t sum;
  memcpy (w, ip, 20);
  sum = (uint64_t) w[0] + w[1] + w[2] + w[3] + w[4];
  return (uint16_t) ~csum_fold (sum);
}

static inline uint16_t
udp_checksum (const pc_exporter_t *e, const uint8_t *udp, uint32_t udp_len)
{
  uint64_t sum = 0;
  if (e->ip6)
    {
      sum = csum_add_words (sum, e->src, 16);
      sum = csum_add_words (sum, e->dst, 16);
      sum += htonl (udp_len) + htonl (17);
    }
  else
    {
      sum = csum_add_words (sum, e->src + 12, 4);
      sum = csum_add_words (sum, e->dst + 12, 4);
      sum += htons ((uint16_t) udp_len) + htons (17);
    }
  sum = csum_add_words (sum, udp, udp_len);
  uint16_t c = (uint16_t) ~csum_fold (sum);
  return c ? c : 0xffff;
}

/* vnet_ipfix_exp_get_buffer */
static uint8_t *NOINLINE
pc_get_buffer (pc_exporter_t *exp, pc_report_t *fr, uint32_t thread_index)
{
  pc_per_thread_t *ptd = &fr->per_thread_data[thread_index];
  if (LIKELY (ptd->buffer != NULL))
    return ptd->buffer;
  ptd->buffer = host_alloc (&host_threads[thread_index]);
  ptd->next_data_offset = (uint16_t) exp->all_headers_size;
  ptd->n_data_records = 0;
  return ptd->buffer;
}

/* vnet_ipfix_exp_send_buffer */
static void NOINLINE
pc_send_buffer (pc_exporter_t *exp, pc_report_t *fr, uint32_t thread_index)
{
  pc_per_thread_t *ptd = &fr->per_thread_data[thread_index];
  pc_stream_t *stream = &exp->streams[fr->stream_index];
  uint8_t *b = ptd->buffer;
  uint32_t len = ptd->next_data_offset;
  uint32_t ip_len = exp->ip6 ? 40 : 20;
  uint8_t *udp = b + ip_len;
  uint8_t *h = udp + 8;
  uint8_t *s = h + 16;
  uint32_t seq;
  uint16_t v;

  if (len <= exp->all_headers_size)
    return;

  if (exp->ip6)
    {
      uint32_t vtf = htonl (6u << 28);
      memcpy (b, &vtf, 4);
      v = htons ((uint16_t) (len - 40));
      memcpy (b + 4, &v, 2);
      b[6] = 17;
      b[7] = 254;
      memcpy (b + 8, exp->src, 16);
      memcpy (b + 24, exp->dst, 16);
    }
  else
    {
      b[0] = 0x45;
      b[1] = 0;
      v = htons ((uint16_t) len);
      memcpy (b + 2, &v, 2);
      memset (b + 4, 0, 4);
      b[8] = 254;
      b[9] = 17;
      memset (b + 10, 0, 2);
      memcpy (b + 12, exp->src + 12, 4);
      memcpy (b + 16, exp->dst + 12, 4);
    }
  v = htons (stream->src_port);
  memcpy (udp, &v, 2);
  v = htons (exp->collector_port);
  memcpy (udp + 2, &v, 2);
  v = htons ((uint16_t) (len - ip_len));
  memcpy (udp + 4, &v, 2);
  memset (udp + 6, 0, 2);

  /* IPFIX message header: version, length, export time, sequence, domain */
  uint32_t msg_len = len - ip_len - 8;
  uint32_t vl = htonl ((10u << 16) | msg_len);
  memcpy (h, &vl, 4);
  uint32_t et = htonl ((uint32_t) host_time);
  memcpy (h + 4, &et, 4);
  seq = atomic_fetch_add_explicit (&stream->sequence_number,
				   ptd->n_data_records, memory_order_relaxed);
  seq = htonl (seq);
  memcpy (h + 8, &seq, 4);
  uint32_t dom = htonl (stream->domain_id);
  memcpy (h + 12, &dom, 4);
  uint32_t sl = htonl (((uint32_t) fr->template_id << 16) | (msg_len - 16));
  memcpy (s, &sl, 4);

  if (!exp->ip6)
    {
      v = ip4_header_checksum (b);
      memcpy (b + 10, &v, 2);
    }
  if (exp->ip6 || exp->udp_checksum)
    {
      v = udp_checksum (exp, udp, len - ip_len);
      memcpy (udp + 6, &v, 2);
    }
  host_enqueue (&host_threads[thread_index], b, len, ptd->n_data_records);
  ptd->buffer = NULL;
  ptd->next_data_offset = 0;
  ptd->n_data_records = 0;
}

/* One call per record: the plain-C record-append. */
static void NOINLINE
pc_record_append (pc_exporter_t *exp, pc_report_t *fr, uint32_t thread_index,
		  const uint8_t *rec, uint32_t len)
{
  pc_per_thread_t *ptd = &fr->per_thread_data[thread_index];
  uint32_t limit = exp->path_mtu;
  if (ptd->buffer && (uint32_t) ptd->next_data_offset + len > limit)
    pc_send_buffer (exp, fr, thread_index);
  uint8_t *b = pc_get_buffer (exp, fr, thread_index);
  memcpy (b + ptd->next_data_offset, rec, len);
  ptd->next_data_offset += (uint16_t) len;
  ptd->n_data_records++;
}

static void
pc_setup (ctx_t *x)
{
  const bench_case_t *c = x->c;
  memset (&pc_exp, 0, sizeof (pc_exp));
  memset (pc_streams, 0, sizeof (pc_streams));
  memset (pc_ptd, 0, sizeof (pc_ptd));
  if (c->ip6)
    {
      pc_exp.src[15] = 1;
      pc_exp.dst[15] = 1;
    }
  else
    {
      pc_exp.src[12] = pc_exp.dst[12] = 127;
      pc_exp.src[15] = pc_exp.dst[15] = 1;
    }
  pc_exp.ip6 = c->ip6;
  pc_exp.udp_checksum = c->csum;
  pc_exp.collector_port = BENCH_PORT;
  pc_exp.path_mtu = c->mtu;
  pc_exp.all_headers_size = (c->ip6 ? 40 : 20) + 8 + 16 + 4;
  pc_exp.streams = pc_streams;
  for (int t = 0; t < MAX_THREADS; t++)
    {
      pc_stream_t *st = &pc_streams[t * PC_STREAM_STRIDE];
      st->domain_id = (uint32_t) (1 + t);
      st->src_port = (uint16_t) (30001 + t);
      pc_reports[t].template_id = (uint16_t) (256 + t);
      pc_reports[t].stream_index = (uint32_t) (t * PC_STREAM_STRIDE);
      pc_reports[t].per_thread_data = pc_ptd[t];
    }
  x->data_limit = c->mtu;
}

static void NOINLINE
loop_plainc_get (ctx_t *x, uint32_t t, uint64_t n, uint64_t first)
{
  pc_exporter_t *exp = &pc_exp;
  pc_report_t *fr = &pc_reports[x->c->shared ? 0 : t];
  pc_per_thread_t *ptd = &fr->per_thread_data[t];
  uint32_t limit = x->data_limit;
  uint32_t work = x->c->work;
  uint64_t w = t;

  for (uint64_t i = first; i < first + n; i++)
    {
      uint8_t *b = pc_get_buffer (exp, fr, t);
      memcpy (b + ptd->next_data_offset, record_at (i), REC_SIZE);
      ptd->next_data_offset += REC_SIZE;
      ptd->n_data_records++;
      if ((uint32_t) ptd->next_data_offset + REC_SIZE > limit)
	pc_send_buffer (exp, fr, t);
      if (work)
	w = other_work (w, work);
    }
  if (ptd->buffer)
    pc_send_buffer (exp, fr, t);
  host_threads[t].check += w;
}

static void NOINLINE
loop_plainc_append (ctx_t *x, uint32_t t, uint64_t n, uint64_t first)
{
  pc_exporter_t *exp = &pc_exp;
  pc_report_t *fr = &pc_reports[x->c->shared ? 0 : t];
  uint32_t work = x->c->work;
  uint64_t w = t;

  for (uint64_t i = first; i < first + n; i++)
    {
      pc_record_append (exp, fr, t, record_at (i), REC_SIZE);
      if (work)
	w = other_work (w, work);
    }
  if (fr->per_thread_data[t].buffer)
    pc_send_buffer (exp, fr, t);
  host_threads[t].check += w;
}

/* ---- the memcpy floor ------------------------------------------------------
 */

static void
floor_setup (ctx_t *x)
{
  for (int t = 0; t < MAX_THREADS; t++)
    if (!x->floor_buf[t])
      x->floor_buf[t] = aligned_alloc (64, BUF_BYTES);
}

/* Records go where they go in an IPv4 packet (after 48 bytes of headers), so
   packets hold as many as ours; nothing else is written. */
#define FLOOR_HEADERS 48

static void NOINLINE
loop_floor (ctx_t *x, uint32_t t, uint64_t n, uint64_t first)
{
  uint8_t *buf = x->floor_buf[t];
  uint32_t limit = x->c->mtu;
  uint32_t off = FLOOR_HEADERS;
  uint64_t packets = 0;

  for (uint64_t i = first; i < first + n; i++)
    {
      memcpy (buf + off, record_at (i), REC_SIZE);
      off += REC_SIZE;
      if (off + REC_SIZE > limit)
	{
	  off = FLOOR_HEADERS;
	  packets++;
	}
    }
  host_threads[t].packets += packets + (off != FLOOR_HEADERS);
  host_threads[t].records += n;
  host_threads[t].check += buf[0];
}

/* ---- libfixbuf -------------------------------------------------------------
 */

#if HAVE_FIXBUF
/* libfixbuf's internal records are host-order structs laid out as the
   template says, without padding. */
typedef struct __attribute__ ((packed))
{
  uint32_t ingressInterface;
  uint32_t egressInterface;
  uint8_t flowDirection;
  uint64_t packetDeltaCount;
  uint64_t flowStartNanoseconds;
  uint64_t flowEndNanoseconds;
  uint32_t sourceIPv4Address;
  uint32_t destinationIPv4Address;
  uint8_t protocolIdentifier;
  uint64_t octetDeltaCount;
  uint16_t sourceTransportPort;
  uint16_t destinationTransportPort;
  uint16_t tcpControlBits;
} fix_record_t;

_Static_assert(sizeof (fix_record_t) == REC_SIZE, "56-byte record");

static fix_record_t fix_records[N_SRC];

static fbInfoElementSpec_t fix_spec[] = {
  { "ingressInterface", 4, 0 },	    { "egressInterface", 4, 0 },
  { "flowDirection", 1, 0 },	    { "packetDeltaCount", 8, 0 },
  { "flowStartNanoseconds", 8, 0 }, { "flowEndNanoseconds", 8, 0 },
  { "sourceIPv4Address", 4, 0 },    { "destinationIPv4Address", 4, 0 },
  { "protocolIdentifier", 1, 0 },   { "octetDeltaCount", 8, 0 },
  { "sourceTransportPort", 2, 0 },  { "destinationTransportPort", 2, 0 },
  { "tcpControlBits", 2, 0 },	    FB_IESPEC_NULL,
};

static fbInfoModel_t *fix_model;

static void
fix_check (gboolean ok, GError *err, const char *what)
{
  if (!ok)
    {
      fprintf (stderr, "bench: %s: %s\n", what, err ? err->message : "?");
      exit (1);
    }
}

static void
fix_setup (ctx_t *x)
{
  GError *err = NULL;
  uint16_t tid;

  for (uint32_t i = 0; i < N_SRC; i++)
    {
      const uint8_t *p = record_at (i);
      fix_record_t *f = &fix_records[i];
      uint32_t w;
      uint64_t q;
      uint16_t h;
      memcpy (&w, p + 0, 4), f->ingressInterface = ntohl (w);
      memcpy (&w, p + 4, 4), f->egressInterface = ntohl (w);
      f->flowDirection = p[8];
      memcpy (&q, p + 9, 8), f->packetDeltaCount = be64toh (q);
      memcpy (&q, p + 17, 8), f->flowStartNanoseconds = be64toh (q);
      memcpy (&q, p + 25, 8), f->flowEndNanoseconds = be64toh (q);
      memcpy (&w, p + 33, 4), f->sourceIPv4Address = ntohl (w);
      memcpy (&w, p + 37, 4), f->destinationIPv4Address = ntohl (w);
      f->protocolIdentifier = p[41];
      memcpy (&q, p + 42, 8), f->octetDeltaCount = be64toh (q);
      memcpy (&h, p + 50, 2), f->sourceTransportPort = ntohs (h);
      memcpy (&h, p + 52, 2), f->destinationTransportPort = ntohs (h);
      memcpy (&h, p + 54, 2), f->tcpControlBits = ntohs (h);
    }
  if (!fix_model)
    fix_model = fbInfoModelAlloc ();
  fbSession_t *session = fbSessionAlloc (fix_model);
  fbSessionSetDomain (session, 1);
  /* The same 13 fields inside (host-order struct) and on the wire. */
  for (int external = 0; external < 2; external++)
    {
      fbTemplate_t *tmpl = fbTemplateAlloc (fix_model);
      fix_check (fbTemplateAppendSpecArray (tmpl, fix_spec, UINT32_MAX, &err),
		 err, "fbTemplateAppendSpecArray");
      tid = fbSessionAddTemplate (session, !external, 256, tmpl, &err);
      fix_check (tid != 0, err, "fbSessionAddTemplate");
    }
  /* One IPFIX message at a time into memory, as large as the path MTU leaves
     after IPv4 and UDP. */
  x->fix_out = malloc (BUF_BYTES);
  fbExporter_t *exporter =
    fbExporterAllocBuffer (x->fix_out, (uint16_t) (x->c->mtu - 28));
  fBuf_t *fbuf = fBufAllocForExport (session, exporter);
  fix_check (fbSessionExportTemplates (session, &err), err,
	     "fbSessionExportTemplates");
  fix_check (fBufEmit (fbuf, &err), err, "fBufEmit templates");
  fix_check (fBufSetInternalTemplate (fbuf, 256, &err), err,
	     "fBufSetInternalTemplate");
  fix_check (fBufSetExportTemplate (fbuf, 256, &err), err,
	     "fBufSetExportTemplate");
  x->fbuf = fbuf;
}

static void
fix_teardown (ctx_t *x)
{
  fBufFree (x->fbuf);
  free (x->fix_out);
  x->fbuf = NULL;
  x->fix_out = NULL;
}

static void NOINLINE
loop_fixbuf (ctx_t *x, uint32_t t, uint64_t n, uint64_t first)
{
  fBuf_t *fbuf = x->fbuf;
  GError *err = NULL;

  for (uint64_t i = first; i < first + n; i++)
    if (UNLIKELY (!fBufAppend (fbuf, (uint8_t *) &fix_records[i & (N_SRC - 1)],
			       sizeof (fix_record_t), &err)))
      fix_check (FALSE, err, "fBufAppend");
  fix_check (fBufEmit (fbuf, &err), err, "fBufEmit");
  /* Messages hold (mtu - 28 - 16 - 4) / 56 records. */
  uint32_t per = (x->c->mtu - 28 - 20) / REC_SIZE;
  host_threads[t].packets += (n + per - 1) / per;
  host_threads[t].records += n;
  host_threads[t].check += x->fix_out[0];
}
#endif

/* ---- UDP over loopback -----------------------------------------------------
 */

static int
udp_sink (int ip6, uint16_t port)
{
  int s = socket (ip6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  if (s < 0)
    die ("socket", errno);
  if (ip6)
    {
      struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				.sin6_port = htons (port),
				.sin6_addr = IN6ADDR_LOOPBACK_INIT };
      if (bind (s, (struct sockaddr *) &a, sizeof (a)))
	die ("bind collector", errno);
    }
  else
    {
      struct sockaddr_in a = { .sin_family = AF_INET,
			       .sin_port = htons (port),
			       .sin_addr.s_addr = htonl (0x7f000001) };
      if (bind (s, (struct sockaddr *) &a, sizeof (a)))
	die ("bind collector", errno);
    }
  return s;
}

static void
udp_bare_setup (ctx_t *x)
{
  const bench_case_t *c = x->c;
  struct sockaddr_in a = { .sin_family = AF_INET,
			   .sin_port = htons (port_of (c->kind)),
			   .sin_addr.s_addr = htonl (0x7f000001) };
  x->sock = socket (AF_INET, SOCK_DGRAM, 0);
  if (x->sock < 0 || connect (x->sock, (struct sockaddr *) &a, sizeof (a)))
    die ("connect", errno);
  /* The datagrams the library sends: message and set headers, then as many
     records as fit. */
  x->records_per_dgram = (c->mtu - 28 - 20) / REC_SIZE;
  x->dgram_len = 20 + x->records_per_dgram * REC_SIZE;
  x->dgrams = calloc (UDP_BATCH, BUF_BYTES);
  for (int d = 0; d < UDP_BATCH; d++)
    for (uint32_t r = 0; r < x->records_per_dgram; r++)
      memcpy (x->dgrams + d * BUF_BYTES + 20 + r * REC_SIZE,
	      record_at ((uint64_t) d * 64 + r), REC_SIZE);
}

static void NOINLINE
loop_udp_bare (ctx_t *x, uint32_t t, uint64_t n, uint64_t first)
{
  struct mmsghdr msgs[UDP_BATCH];
  struct iovec iov[UDP_BATCH];
  uint64_t dgrams = (n + x->records_per_dgram - 1) / x->records_per_dgram;
  uint64_t sent = 0;
  (void) first;

  memset (msgs, 0, sizeof (msgs));
  for (int d = 0; d < UDP_BATCH; d++)
    {
      iov[d].iov_base = x->dgrams + d * BUF_BYTES;
      iov[d].iov_len = x->dgram_len;
      msgs[d].msg_hdr.msg_iov = &iov[d];
      msgs[d].msg_hdr.msg_iovlen = 1;
    }
  while (sent < dgrams)
    {
      unsigned int batch =
	dgrams - sent < UDP_BATCH ? (unsigned int) (dgrams - sent) : UDP_BATCH;
      int rv = sendmmsg (x->sock, msgs, batch, 0);
      if (rv < 0)
	{
	  if (errno == ECONNREFUSED || errno == ENOBUFS || errno == EAGAIN)
	    continue;
	  die ("sendmmsg", errno);
	}
      sent += (uint64_t) rv;
    }
  host_threads[t].packets += dgrams;
  host_threads[t].records += n;
}

static void NOINLINE
loop_udp_ours (ctx_t *x, uint32_t t, uint64_t n, uint64_t first)
{
  vpp_ipfix_counters_t before, after;

  vpp_ipfix_exporter_counters (x->main, 0, &before);
  if (x->c->kind == K_UDP_OURS_BATCH)
    loop_ours_batch (x, t, n, first);
  else
    loop_ours_append (x, t, n, first);
  vpp_ipfix_thread_flush_idle (x->main, t, 0.0, NULL);
  vpp_ipfix_exporter_counters (x->main, 0, &after);
  /* What the kernel took (the counters leave out what it refused). */
  host_threads[t].packets += after.packets - before.packets;
  host_threads[t].records += after.data_records - before.data_records;
}

/* ---- running a case --------------------------------------------------------
 */

typedef void (*loop_fn) (ctx_t *, uint32_t, uint64_t, uint64_t);

static loop_fn
loop_of (kind_t k)
{
  switch (k)
    {
    case K_OURS_GET:
      return loop_ours_get;
    case K_OURS_GET_INLINE:
      return loop_ours_get_inline;
    case K_OURS_APPEND:
      return loop_ours_append;
    case K_OURS_RESERVE:
      return loop_ours_reserve;
    case K_OURS_BATCH:
      return loop_ours_batch;
    case K_PLAINC_GET:
      return loop_plainc_get;
    case K_PLAINC_APPEND:
      return loop_plainc_append;
    case K_FLOOR:
      return loop_floor;
#if HAVE_FIXBUF
    case K_FIXBUF:
      return loop_fixbuf;
#endif
    case K_UDP_OURS:
    case K_UDP_OURS_BATCH:
      return loop_udp_ours;
    case K_UDP_BARE:
      return loop_udp_bare;
    default:
      die ("case kind", (int) k);
    }
  return NULL;
}

static void
setup (ctx_t *x)
{
  switch (x->c->kind)
    {
    case K_OURS_GET:
    case K_OURS_GET_INLINE:
    case K_OURS_APPEND:
    case K_OURS_RESERVE:
    case K_OURS_BATCH:
      ours_setup (x, 0);
      break;
    case K_UDP_OURS:
    case K_UDP_OURS_BATCH:
      x->sink = udp_sink (x->c->ip6, port_of (x->c->kind));
      ours_setup (x, 1);
      break;
    case K_UDP_BARE:
      x->sink = udp_sink (0, port_of (x->c->kind));
      udp_bare_setup (x);
      break;
    case K_PLAINC_GET:
    case K_PLAINC_APPEND:
      pc_setup (x);
      break;
    case K_FLOOR:
      floor_setup (x);
      break;
    case K_FIXBUF:
#if HAVE_FIXBUF
      fix_setup (x);
#endif
      break;
    }
}

static void
teardown (ctx_t *x)
{
  switch (x->c->kind)
    {
    case K_OURS_GET:
    case K_OURS_GET_INLINE:
    case K_OURS_APPEND:
    case K_OURS_RESERVE:
    case K_OURS_BATCH:
      ours_teardown (x);
      break;
    case K_UDP_OURS:
    case K_UDP_OURS_BATCH:
      ours_teardown (x);
      close (x->sink);
      break;
    case K_UDP_BARE:
      close (x->sock);
      close (x->sink);
      free (x->dgrams);
      break;
#if HAVE_FIXBUF
    case K_FIXBUF:
      fix_teardown (x);
      break;
#endif
    default:
      break;
    }
}

typedef struct
{
  ctx_t *x;
  uint32_t t;
  uint64_t n;
  uint64_t first;
  atomic_int *ready;
  atomic_int *go;
  int instr;
  double start, end; /* the thread's own, around its loop */
} thread_arg_t;

static void
pin (uint32_t cpu)
{
  cpu_set_t set;
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  if (n <= 0)
    return;
  CPU_ZERO (&set);
  CPU_SET (cpu % (uint32_t) n, &set);
  (void) pthread_setaffinity_np (pthread_self (), sizeof (set), &set);
}

static double
now_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void *
thread_main (void *p)
{
  thread_arg_t *a = p;
  pin (a->t);
  atomic_fetch_add (a->ready, 1);
  while (!atomic_load_explicit (a->go, memory_order_acquire))
    ;
  /* Under callgrind (--collect-atstart=no) only the loops are counted. */
  a->start = now_seconds ();
  if (a->instr)
    CALLGRIND_TOGGLE_COLLECT;
  loop_of (a->x->c->kind) (a->x, a->t, a->n, a->first);
  if (a->instr)
    CALLGRIND_TOGGLE_COLLECT;
  a->end = now_seconds ();
  return NULL;
}

/* Runs the case's loop on each of its threads over n records each; returns
   the seconds from the first thread's start to the last thread's end, as the
   threads saw them (the main thread, not pinned, may get a CPU only after
   the workers began or ended: a run lasts a few milliseconds, a time slice
   about as long). With `instr`, the run is what callgrind counts. */
static double
run_threads (ctx_t *x, uint64_t n, uint64_t first, int instr)
{
  int threads = x->c->threads;
  pthread_t tids[MAX_THREADS];
  thread_arg_t args[MAX_THREADS];
  atomic_int ready = 0, go = 0;
  double start = 0, end = 0;

  for (int t = 0; t < threads; t++)
    {
      args[t] =
	(thread_arg_t){ x, (uint32_t) t, n, first, &ready, &go, instr, 0, 0 };
      if (pthread_create (&tids[t], NULL, thread_main, &args[t]))
	die ("pthread_create", errno);
    }
  while (atomic_load (&ready) < threads)
    ;
  atomic_store_explicit (&go, 1, memory_order_release);
  for (int t = 0; t < threads; t++)
    {
      pthread_join (tids[t], NULL);
      if (t == 0 || args[t].start < start)
	start = args[t].start;
      if (t == 0 || args[t].end > end)
	end = args[t].end;
    }
  if (instr)
    CALLGRIND_DUMP_STATS_AT (x->c->name);
  return end - start;
}

/* ---- the case list ----------------------------------------------------------
 */

#define MAX_CASES 128
static bench_case_t cases[MAX_CASES];
static int n_cases;

static bench_case_t *
add_case (kind_t kind, uint32_t mtu, int csum, int ip6, int threads, int shared,
	  uint32_t work)
{
  bench_case_t *c = &cases[n_cases++];
  c->kind = kind;
  c->mtu = mtu;
  c->csum = csum;
  c->ip6 = ip6;
  c->threads = threads;
  c->shared = shared;
  c->work = work;
  snprintf (c->name, sizeof (c->name), "%s/mtu%u/%s/%dt%s%s", kind_names[kind],
	    mtu,
	    ip6	 ? "ip6" :
	    csum ? "ip4csum" :
		   "ip4",
	    threads, threads > 1 ? (shared ? "-shared" : "-sep") : "",
	    work ? "/work" : "");
  return c;
}

static void
build_cases (void)
{
  static const uint32_t mtus[] = { 1450, 512 };
  static const kind_t lib_kinds[] = { K_OURS_GET,      K_OURS_GET_INLINE,
				      K_PLAINC_GET,    K_OURS_APPEND,
				      K_PLAINC_APPEND, K_OURS_RESERVE,
				      K_OURS_BATCH };

  for (int m = 0; m < 2; m++)
    {
      uint32_t mtu = mtus[m];
      /* 1 thread: IPv4, IPv4 + UDP checksum, IPv6 */
      for (int v = 0; v < 3; v++)
	for (size_t k = 0; k < sizeof (lib_kinds) / sizeof (lib_kinds[0]); k++)
	  add_case (lib_kinds[k], mtu, v == 1, v == 2, 1, 0, 0);
      add_case (K_FLOOR, mtu, 0, 0, 1, 0, 0);
#if HAVE_FIXBUF
      add_case (K_FIXBUF, mtu, 0, 0, 1, 0, 0);
#endif
      /* 2 threads, IPv4: separate streams, one shared stream */
      for (int shared = 0; shared < 2; shared++)
	{
	  add_case (K_OURS_GET, mtu, 0, 0, 2, shared, 0);
	  add_case (K_OURS_GET_INLINE, mtu, 0, 0, 2, shared, 0);
	  add_case (K_PLAINC_GET, mtu, 0, 0, 2, shared, 0);
	  add_case (K_OURS_APPEND, mtu, 0, 0, 2, shared, 0);
	}
      add_case (K_FLOOR, mtu, 0, 0, 2, 0, 0);
    }
  /* Two streams side by side in one cache line. */
  bench_case_t *adj = add_case (K_OURS_GET, 1450, 0, 0, 2, 0, 0);
  adj->adjacent = 1;
  strcat (adj->name, "-adjacent");
  /* A forwarding worker's own work between records (~20 ns): threads on one
     stream as they would run inside VPP. */
  for (int threads = 1; threads <= 2; threads++)
    for (int shared = 0; shared < (threads > 1 ? 2 : 1); shared++)
      add_case (K_OURS_GET, 1450, 0, 0, threads, shared, 16);
  add_case (K_UDP_OURS, 1450, 0, 0, 1, 0, 0);
  add_case (K_UDP_OURS_BATCH, 1450, 0, 0, 1, 0, 0);
  add_case (K_UDP_BARE, 1450, 0, 0, 1, 0, 0);
}

/* ---- main ------------------------------------------------------------------
 */

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static uint64_t
total_packets (void)
{
  uint64_t p = 0;
  for (int t = 0; t < MAX_THREADS; t++)
    p += host_threads[t].packets;
  return p;
}

static uint64_t
total_records (void)
{
  uint64_t r = 0;
  for (int t = 0; t < MAX_THREADS; t++)
    r += host_threads[t].records;
  return r;
}

/* Packets per second of one timed run of an already set-up case. */
static double
timed_pps (ctx_t *x, uint64_t n, uint64_t first)
{
  host_reset ();
  double secs = run_threads (x, n, first, 0);
  return (double) total_packets () / secs;
}

/* The UDP cases against bare sendmmsg, paired: the two run in turn, `runs`
   times, and the median of the pairs' ratios of packets per second is
   printed (pairing keeps the ratio when the machine's speed drifts). */
static void
udp_pairs (uint64_t n, int runs, const char *only)
{
  bench_case_t *bare = NULL, *ours[2] = { NULL, NULL };
  for (int ci = 0; ci < n_cases; ci++)
    {
      bench_case_t *c = &cases[ci];
      if (only && !strstr (c->name, only))
	continue;
      if (c->kind == K_UDP_BARE)
	bare = c;
      else if (c->kind == K_UDP_OURS)
	ours[0] = c;
      else if (c->kind == K_UDP_OURS_BATCH)
	ours[1] = c;
    }
  if (!bare)
    return;
  ctx_t xb;
  memset (&xb, 0, sizeof (xb));
  xb.c = bare;
  setup (&xb);
  run_threads (&xb, n / 4 + 1000, 0, 0);
  for (int k = 0; k < 2; k++)
    {
      double ratios[101];
      ctx_t xo;
      if (!ours[k])
	continue;
      memset (&xo, 0, sizeof (xo));
      xo.c = ours[k];
      setup (&xo);
      run_threads (&xo, n / 4 + 1000, 0, 0);
      for (int r = 0; r < runs; r++)
	{
	  double po = timed_pps (&xo, n, (uint64_t) r * n);
	  double pb = timed_pps (&xb, n, (uint64_t) r * n);
	  ratios[r] = po / pb;
	}
      qsort (ratios, (size_t) runs, sizeof (double), cmp_double);
      printf ("pair\t%s\t%s\t%.4f\n", ours[k]->name, bare->name,
	      ratios[runs / 2]);
      fflush (stdout);
      teardown (&xo);
    }
  teardown (&xb);
}

int
main (int argc, char **argv)
{
  enum
  {
    M_NONE,
    M_TIME,
    M_INSTR,
    M_LIST
  } mode = M_NONE;
  int runs = 5;
  uint64_t records = 0;
  const char *only = NULL;

  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--time"))
	mode = M_TIME;
      else if (!strcmp (argv[i], "--instr"))
	mode = M_INSTR;
      else if (!strcmp (argv[i], "--list"))
	mode = M_LIST;
      else if (!strcmp (argv[i], "--runs") && i + 1 < argc)
	runs = atoi (argv[++i]);
      else if (!strcmp (argv[i], "--records") && i + 1 < argc)
	records = strtoull (argv[++i], NULL, 10);
      else if (!strcmp (argv[i], "--only") && i + 1 < argc)
	only = argv[++i];
      else
	{
	  fprintf (stderr, "usage: bench --time|--instr|--list [--runs R] "
			   "[--records N] [--only SUBSTRING]\n");
	  return 2;
	}
    }
  if (mode == M_NONE || runs < 1 || runs > 101)
    {
      fprintf (stderr, "bench: give --time, --instr or --list\n");
      return 2;
    }
  if (!records)
    records = mode == M_INSTR ? 100000 : 2000000;

  for (uint32_t i = 0; i < N_SRC; i++)
    encode_record (src_records + i * REC_SIZE, i);
  build_cases ();

  /* --time: `runs` rounds over every case, each case set up, warmed up, run
     once and torn down in each round, so a burst of other load on the
     machine lands on a few rounds of many cases rather than on every run of
     one; the medians are over the rounds. */
  static double secs[MAX_CASES][101];
  static uint64_t recs[MAX_CASES], pkts[MAX_CASES];
  int rounds = mode == M_TIME ? runs : 1;
  for (int r = 0; r < rounds; r++)
    for (int ci = 0; ci < n_cases; ci++)
      {
	bench_case_t *c = &cases[ci];
	ctx_t x;
	uint64_t n = records;

	if (only && !strstr (c->name, only))
	  continue;
	if (mode == M_LIST)
	  {
	    printf ("%s\n", c->name);
	    continue;
	  }
	/* libfixbuf and the socket cases are 20-50x slower per record: fewer
	   records keep the run short; the per-record figures do not depend on
	   it. */
	if (c->kind == K_FIXBUF || c->kind == K_UDP_OURS ||
	    c->kind == K_UDP_OURS_BATCH || c->kind == K_UDP_BARE)
	  n = n / 8 ? n / 8 : 1;

	memset (&x, 0, sizeof (x));
	x.c = c;
	setup (&x);
	/* Warm-up: pools filled, code and data in cache, lazy binding done. */
	host_reset ();
	run_threads (&x, n / 4 + 1000, 0, 0);

	host_reset ();
	if (mode == M_INSTR)
	  {
	    run_threads (&x, n, n, 1);
	    printf ("instr\t%s\t%llu\t%llu\t0\n", c->name,
		    (unsigned long long) total_records (),
		    (unsigned long long) total_packets ());
	  }
	else
	  {
	    secs[ci][r] = run_threads (&x, n, (uint64_t) r * n, 0);
	    recs[ci] = total_records ();
	    pkts[ci] = total_packets ();
	  }
	if (c->kind != K_FLOOR && c->kind != K_FIXBUF &&
	    c->kind != K_UDP_BARE && c->kind != K_UDP_OURS &&
	    c->kind != K_UDP_OURS_BATCH &&
	    total_records () != n * (uint64_t) c->threads)
	  {
	    fprintf (stderr, "bench: %s: %llu records arrived of %llu\n",
		     c->name, (unsigned long long) total_records (),
		     (unsigned long long) (n * c->threads));
	    return 1;
	  }
	fflush (stdout);
	teardown (&x);
      }
  if (mode == M_TIME)
    for (int ci = 0; ci < n_cases; ci++)
      {
	bench_case_t *c = &cases[ci];
	if ((only && !strstr (c->name, only)) || !recs[ci])
	  continue;
	qsort (secs[ci], (size_t) runs, sizeof (double), cmp_double);
	double med = secs[ci][runs / 2];
	printf ("time\t%s\t%llu\t%llu\t%.3f\t%.0f\n", c->name,
		(unsigned long long) recs[ci], (unsigned long long) pkts[ci],
		med * 1e9 / (double) recs[ci], (double) pkts[ci] / med);
      }
  /* The full record count per paired run (80,000 datagrams of 25 records at
     the default): the kernel's time per datagram varies, and short runs made
     the ratio noisy. */
  if (mode == M_TIME)
    udp_pairs (records, runs * 2 + 1 > 101 ? 101 : runs * 2 + 1, only);
  return 0;
}
