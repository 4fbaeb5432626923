/* test_host.c: the in-memory vpp_ipfix host the C test programs share:
   malloc'd buffers, captured packets, a settable clock and fault injection. */

#include "test_host.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_MAGIC_LIVE 0x49504658u /* "IPFX" */
#define BUFFER_MAGIC_DEAD 0xdeadbeefu

/* One packet buffer: a header the library never sees, then the data. */
typedef struct test_buffer
{
  uint32_t magic;
  uint32_t thread_index; /* given to buffer_alloc */
  struct test_buffer *prev;
  struct test_buffer *next;
  uint8_t data[TEST_HOST_BUFFER_BYTES];
} test_buffer_t;

struct test_host
{
  pthread_mutex_t lock; /* guards packets and the list of live buffers */
  test_host_packet_t *packets;
  size_t n_packets;
  size_t max_packets;
  test_buffer_t *live; /* every buffer not yet freed or enqueued */

  _Atomic uint64_t now_bits; /* the clock, a double's bits */
  _Atomic uint64_t allocs_left;
  _Atomic int refuse_enqueue;

  _Atomic uint64_t n_live;
  _Atomic uint64_t n_allocs;
  _Atomic uint64_t n_packet_allocs; /* of n_allocs, by buffer_alloc_packet */
  _Atomic uint64_t n_failed_allocs;
  _Atomic uint64_t n_refused;
  _Atomic uint64_t n_errors;
};

static uint64_t
double_bits (double d)
{
  uint64_t u;
  memcpy (&u, &d, sizeof (u));
  return u;
}

static double
bits_double (uint64_t u)
{
  double d;
  memcpy (&d, &u, sizeof (d));
  return d;
}

static void
host_error (test_host_t *host, const char *what, const void *buffer)
{
  atomic_fetch_add (&host->n_errors, 1);
  fprintf (stderr, "test_host: %s (buffer %p)\n", what, buffer);
}

/* Unlinks a buffer from the live list (lock held). */
static void
unlink_buffer (test_host_t *host, test_buffer_t *b)
{
  if (b->prev)
    b->prev->next = b->next;
  else
    host->live = b->next;
  if (b->next)
    b->next->prev = b->prev;
  b->prev = b->next = NULL;
}

/* Checks a buffer handed back by the library and takes it off the live list.
   0 when it is one of ours and live. */
static int
take_buffer (test_host_t *host, uint32_t thread_index, test_buffer_t *b,
	     const char *op)
{
  char what[96];

  if (!b)
    {
      snprintf (what, sizeof (what), "%s of a NULL buffer", op);
      host_error (host, what, b);
      return -1;
    }
  if (b->magic != BUFFER_MAGIC_LIVE)
    {
      snprintf (what, sizeof (what), "%s of a buffer not live", op);
      host_error (host, what, b);
      return -1;
    }
  if (b->thread_index != thread_index)
    {
      snprintf (what, sizeof (what),
		"%s with thread index %u of a buffer of thread %u", op,
		thread_index, b->thread_index);
      host_error (host, what, b);
    }
  pthread_mutex_lock (&host->lock);
  unlink_buffer (host, b);
  pthread_mutex_unlock (&host->lock);
  b->magic = BUFFER_MAGIC_DEAD;
  atomic_fetch_sub (&host->n_live, 1);
  return 0;
}

/* Takes one allocation from the budget; 0 when none is left. */
static int
take_alloc_budget (test_host_t *host)
{
  uint64_t left = atomic_load (&host->allocs_left);

  while (left != TEST_HOST_NEVER_FAIL)
    {
      if (left == 0)
	return 0;
      if (atomic_compare_exchange_weak (&host->allocs_left, &left, left - 1))
	return 1;
    }
  return 1;
}

static void *
host_buffer_alloc (void *ctx, uint32_t thread_index, uint32_t min_capacity)
{
  test_host_t *host = ctx;
  test_buffer_t *b;

  if (min_capacity > TEST_HOST_BUFFER_BYTES || !take_alloc_budget (host))
    {
      atomic_fetch_add (&host->n_failed_allocs, 1);
      return NULL;
    }
  b = malloc (sizeof (*b));
  if (!b)
    {
      atomic_fetch_add (&host->n_failed_allocs, 1);
      return NULL;
    }
  b->magic = BUFFER_MAGIC_LIVE;
  b->thread_index = thread_index;
  b->prev = NULL;
  /* Garbage, not zeros: the library must write every byte it sends. */
  memset (b->data, 0xa5, sizeof (b->data));

  pthread_mutex_lock (&host->lock);
  b->next = host->live;
  if (host->live)
    host->live->prev = b;
  host->live = b;
  pthread_mutex_unlock (&host->lock);

  atomic_fetch_add (&host->n_live, 1);
  atomic_fetch_add (&host->n_allocs, 1);
  return b;
}

static void
host_buffer_free (void *ctx, uint32_t thread_index, void *buffer)
{
  test_host_t *host = ctx;

  if (take_buffer (host, thread_index, buffer, "buffer_free") == 0)
    free (buffer);
}

static uint8_t *
host_buffer_data (void *ctx, void *buffer)
{
  test_buffer_t *b = buffer;

  if (!b || b->magic != BUFFER_MAGIC_LIVE)
    {
      host_error (ctx, "buffer_data of a buffer not live", buffer);
      return NULL;
    }
  return b->data;
}

static uint32_t
host_buffer_capacity (void *ctx, void *buffer)
{
  test_buffer_t *b = buffer;

  if (!b || b->magic != BUFFER_MAGIC_LIVE)
    {
      host_error (ctx, "buffer_capacity of a buffer not live", buffer);
      return 0;
    }
  return TEST_HOST_BUFFER_BYTES;
}

/* Appends a copy of the packet to the captured ones. 0 when done. */
static int
capture (test_host_t *host, uint32_t thread_index, const test_buffer_t *b,
	 const vpp_ipfix_packet_info_t *info)
{
  test_host_packet_t *p;
  uint8_t *copy = malloc (info->length ? info->length : 1);
  int rv = 0;

  if (!copy)
    return -1;
  memcpy (copy, b->data, info->length);
  pthread_mutex_lock (&host->lock);
  if (host->n_packets == host->max_packets)
    {
      size_t n = host->max_packets ? 2 * host->max_packets : 64;
      test_host_packet_t *grown =
	realloc (host->packets, n * sizeof (*host->packets));
      if (grown)
	{
	  host->packets = grown;
	  host->max_packets = n;
	}
    }
  if (host->n_packets < host->max_packets)
    {
      p = &host->packets[host->n_packets++];
      p->thread_index = thread_index;
      p->info = *info;
      p->data = copy;
    }
  else
    rv = -1;
  pthread_mutex_unlock (&host->lock);
  if (rv)
    free (copy);
  return rv;
}

static int32_t
host_enqueue (void *ctx, uint32_t thread_index, void *buffer,
	      const vpp_ipfix_packet_info_t *info)
{
  test_host_t *host = ctx;
  test_buffer_t *b = buffer;
  int rv = 0;

  if (take_buffer (host, thread_index, b, "enqueue"))
    return -1;
  if (!info)
    {
      host_error (host, "enqueue without packet info", b);
      rv = -1;
    }
  else if (info->length > TEST_HOST_BUFFER_BYTES || info->length < 28)
    {
      host_error (host, "enqueue of a packet length out of range", b);
      rv = -1;
    }
  else if (atomic_load (&host->refuse_enqueue))
    {
      atomic_fetch_add (&host->n_refused, 1);
      rv = 1;
    }
  else if (capture (host, thread_index, b, info))
    {
      host_error (host, "out of memory capturing a packet", b);
      rv = -1;
    }
  free (b);
  return rv;
}

static double
host_now (void *ctx)
{
  test_host_t *host = ctx;
  return bits_double (atomic_load (&host->now_bits));
}

test_host_t *
test_host_create (void)
{
  test_host_t *host = calloc (1, sizeof (*host));

  if (!host)
    return NULL;
  if (pthread_mutex_init (&host->lock, NULL))
    {
      free (host);
      return NULL;
    }
  atomic_init (&host->now_bits, double_bits (1700000000.0));
  atomic_init (&host->allocs_left, TEST_HOST_NEVER_FAIL);
  atomic_init (&host->refuse_enqueue, 0);
  atomic_init (&host->n_live, 0);
  atomic_init (&host->n_allocs, 0);
  atomic_init (&host->n_packet_allocs, 0);
  atomic_init (&host->n_failed_allocs, 0);
  atomic_init (&host->n_refused, 0);
  atomic_init (&host->n_errors, 0);
  return host;
}

void
test_host_destroy (test_host_t *host)
{
  test_buffer_t *b, *next;

  if (!host)
    return;
  test_host_clear_packets (host);
  free (host->packets);
  for (b = host->live; b; b = next)
    {
      next = b->next;
      free (b);
    }
  pthread_mutex_destroy (&host->lock);
  free (host);
}

static void *
host_buffer_alloc_packet (void *ctx, uint32_t thread_index,
			  uint32_t min_capacity, uint8_t **data,
			  uint32_t *capacity)
{
  test_host_t *host = ctx;
  test_buffer_t *b = host_buffer_alloc (ctx, thread_index, min_capacity);

  if (!b)
    return NULL;
  atomic_fetch_add (&host->n_packet_allocs, 1);
  *data = host_buffer_data (ctx, b);
  *capacity = host_buffer_capacity (ctx, b);
  return b;
}

vpp_ipfix_ops_t
test_host_ops_separate (test_host_t *host)
{
  vpp_ipfix_ops_t ops = {
    .ctx = host,
    .buffer_alloc = host_buffer_alloc,
    .buffer_free = host_buffer_free,
    .buffer_data = host_buffer_data,
    .buffer_capacity = host_buffer_capacity,
    .enqueue = host_enqueue,
    .now = host_now,
  };
  return ops;
}

vpp_ipfix_ops_t
test_host_ops (test_host_t *host)
{
  vpp_ipfix_ops_t ops = test_host_ops_separate (host);

  ops.buffer_alloc_packet = host_buffer_alloc_packet;
  return ops;
}

void
test_host_set_now (test_host_t *host, double now)
{
  atomic_store (&host->now_bits, double_bits (now));
}

double
test_host_now (test_host_t *host)
{
  return host_now (host);
}

void
test_host_advance (test_host_t *host, double seconds)
{
  test_host_set_now (host, test_host_now (host) + seconds);
}

void
test_host_fail_allocs_after (test_host_t *host, uint64_t n)
{
  atomic_store (&host->allocs_left, n);
}

void
test_host_refuse_enqueue (test_host_t *host, int on)
{
  atomic_store (&host->refuse_enqueue, on != 0);
}

uint64_t
test_host_live_buffers (test_host_t *host)
{
  return atomic_load (&host->n_live);
}

uint64_t
test_host_allocs (test_host_t *host)
{
  return atomic_load (&host->n_allocs);
}

uint64_t
test_host_packet_allocs (test_host_t *host)
{
  return atomic_load (&host->n_packet_allocs);
}

uint64_t
test_host_failed_allocs (test_host_t *host)
{
  return atomic_load (&host->n_failed_allocs);
}

uint64_t
test_host_refused (test_host_t *host)
{
  return atomic_load (&host->n_refused);
}

uint64_t
test_host_errors (test_host_t *host)
{
  return atomic_load (&host->n_errors);
}

size_t
test_host_n_packets (test_host_t *host)
{
  size_t n;

  pthread_mutex_lock (&host->lock);
  n = host->n_packets;
  pthread_mutex_unlock (&host->lock);
  return n;
}

const test_host_packet_t *
test_host_packet (test_host_t *host, size_t i)
{
  const test_host_packet_t *p = NULL;

  pthread_mutex_lock (&host->lock);
  if (i < host->n_packets)
    p = &host->packets[i];
  pthread_mutex_unlock (&host->lock);
  return p;
}

void
test_host_clear_packets (test_host_t *host)
{
  size_t i;

  pthread_mutex_lock (&host->lock);
  for (i = 0; i < host->n_packets; i++)
    free (host->packets[i].data);
  host->n_packets = 0;
  pthread_mutex_unlock (&host->lock);
}

ip_address_t
test_ip4 (uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
  ip_address_t ip;

  memset (&ip, 0, sizeof (ip));
  ip.ip.ip4.as_u8[0] = a;
  ip.ip.ip4.as_u8[1] = b;
  ip.ip.ip4.as_u8[2] = c;
  ip.ip.ip4.as_u8[3] = d;
  ip.version = 0; /* AF_IP4 */
  return ip;
}

ip_address_t
test_ip6 (const char *text)
{
  ip_address_t ip;

  memset (&ip, 0, sizeof (ip));
  if (inet_pton (AF_INET6, text, ip.ip.as_u8) != 1)
    fprintf (stderr, "test_ip6: bad address %s\n", text);
  ip.version = 1; /* AF_IP6 */
  return ip;
}

int
test_exporter_equal (const ipfix_exporter_t *a, const ipfix_exporter_t *b)
{
  return a->reports == b->reports && a->streams == b->streams &&
	 memcmp (&a->ipfix_collector, &b->ipfix_collector,
		 sizeof (a->ipfix_collector)) == 0 &&
	 a->collector_port == b->collector_port &&
	 memcmp (&a->src_address, &b->src_address, sizeof (a->src_address)) ==
	   0 &&
	 a->fib_index == b->fib_index && a->path_mtu == b->path_mtu &&
	 a->template_interval == b->template_interval &&
	 a->udp_checksum == b->udp_checksum &&
	 a->all_headers_size == b->all_headers_size;
}

int
test_report_equal (const flow_report_t *a, const flow_report_t *b)
{
  return a->rewrite == b->rewrite && a->template_id == b->template_id &&
	 a->data_record_size == b->data_record_size &&
	 a->per_thread_data == b->per_thread_data &&
	 a->stream_index == b->stream_index &&
	 a->last_template_sent == b->last_template_sent &&
	 a->update_rewrite == b->update_rewrite &&
	 a->fields_to_send == b->fields_to_send &&
	 a->opaque.as_uword == b->opaque.as_uword &&
	 a->rewrite_callback == b->rewrite_callback &&
	 a->report_elements == b->report_elements &&
	 a->n_report_elements == b->n_report_elements &&
	 a->stream_indexp == b->stream_indexp &&
	 a->flow_data_callback == b->flow_data_callback;
}

int
test_stream_equal (const flow_report_stream_t *a, const flow_report_stream_t *b)
{
  return a->domain_id == b->domain_id &&
	 a->sequence_number == b->sequence_number &&
	 a->src_port == b->src_port && a->n_reports == b->n_reports &&
	 a->next_template_no == b->next_template_no;
}

/* One's complement sum of `len` bytes, added to `sum`. */
static uint32_t
sum_bytes (uint32_t sum, const uint8_t *p, uint32_t len)
{
  uint32_t i;

  for (i = 0; i + 1 < len; i += 2)
    sum += test_get_u16 (p + i);
  if (len & 1)
    sum += (uint32_t) p[len - 1] << 8;
  return sum;
}

static uint16_t
fold (uint32_t sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t) sum;
}

/* True when the UDP checksum of the segment verifies (RFC 768, RFC 8200). */
static int
udp_checksum_verifies (const test_ipfix_msg_t *m, const uint8_t *udp,
		       uint32_t udp_len)
{
  uint32_t sum = 0;
  uint32_t addr_len = m->is_ip6 ? 16 : 4;

  sum = sum_bytes (sum, m->ip_src, addr_len);
  sum = sum_bytes (sum, m->ip_dst, addr_len);
  sum += 17; /* protocol */
  sum += udp_len;
  sum = sum_bytes (sum, udp, udp_len);
  return fold (sum) == 0xffff;
}

int
test_ipfix_parse (const uint8_t *pkt, uint32_t len, test_ipfix_msg_t *m)
{
  const uint8_t *udp, *msg;
  uint32_t udp_len;

  memset (m, 0, sizeof (*m));
  if (len < 1)
    return -1;
  if ((pkt[0] >> 4) == 4)
    {
      if (len < 20 || pkt[0] != 0x45)
	return -1;
      if (test_get_u16 (pkt + 2) != len)
	return -2;
      if (pkt[9] != 17)
	return -3;
      m->ip_header_len = 20;
      m->ttl = pkt[8];
      memcpy (m->ip_src, pkt + 12, 4);
      memcpy (m->ip_dst, pkt + 16, 4);
      m->ip_checksum_ok = fold (sum_bytes (0, pkt, 20)) == 0xffff;
    }
  else if ((pkt[0] >> 4) == 6)
    {
      m->is_ip6 = 1;
      if (len < 40)
	return -1;
      if (test_get_u16 (pkt + 4) != len - 40)
	return -2;
      if (pkt[6] != 17)
	return -3;
      m->ip_header_len = 40;
      m->ttl = pkt[7];
      memcpy (m->ip_src, pkt + 8, 16);
      memcpy (m->ip_dst, pkt + 24, 16);
      m->ip_checksum_ok = 1;
    }
  else
    return -1;

  udp = pkt + m->ip_header_len;
  udp_len = len - m->ip_header_len;
  if (udp_len < 8 + 16 + 4 || test_get_u16 (udp + 4) != udp_len)
    return -4;
  m->src_port = test_get_u16 (udp);
  m->dst_port = test_get_u16 (udp + 2);
  m->udp_length = (uint16_t) udp_len;
  m->udp_checksum = test_get_u16 (udp + 6);
  if (m->udp_checksum == 0)
    m->udp_checksum_ok = !m->is_ip6;
  else
    m->udp_checksum_ok = udp_checksum_verifies (m, udp, udp_len);

  msg = udp + 8;
  m->version = test_get_u16 (msg);
  m->message_length = test_get_u16 (msg + 2);
  m->export_time = test_get_u32 (msg + 4);
  m->sequence_number = test_get_u32 (msg + 8);
  m->domain_id = test_get_u32 (msg + 12);
  if (m->version != 10)
    return -5;
  if (m->message_length != udp_len - 8)
    return -6;
  m->set_id = test_get_u16 (msg + 16);
  m->set_length = test_get_u16 (msg + 18);
  if (m->set_length != m->message_length - 16)
    return -7;
  m->set_data = msg + 20;
  m->set_data_len = m->set_length - 4u;
  return 0;
}
