/* test_host.h: an in-memory vpp_ipfix host (vpp_ipfix_ops_t) for the C test
   programs, with fault injection, leak accounting, captured packets and a
   small IPFIX packet reader to check them. */

#ifndef TEST_HOST_H
#define TEST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "vpp_ipfix.h"

/* Bytes of data in every buffer the host hands out. */
#define TEST_HOST_BUFFER_BYTES 2048

/* test_host_fail_allocs_after (host, TEST_HOST_NEVER_FAIL): allocations never
   fail (the default). */
#define TEST_HOST_NEVER_FAIL UINT64_MAX

/* The first ~0 of VPP's API, as the header spells its sentinels. */
#define TEST_U32_NONE UINT32_MAX

/* A packet the library handed to the host, copied out of its buffer. */
typedef struct
{
  uint32_t thread_index;	/* thread index given to enqueue */
  vpp_ipfix_packet_info_t info; /* as given to enqueue */
  uint8_t *data;		/* info.length bytes, IP header first */
} test_host_packet_t;

typedef struct test_host test_host_t;

/* A new host: clock at 1700000000.0, allocations never fail, enqueue
   accepts. NULL when out of memory. */
test_host_t *test_host_create (void);

/* Frees the host, its captured packets and any buffer still allocated. */
void test_host_destroy (test_host_t *host);

/* The ops table that makes the library use this host (ctx = host), with
   buffer_alloc_packet as VPP's shim has it. */
vpp_ipfix_ops_t test_host_ops (test_host_t *host);

/* The same without buffer_alloc_packet: the library allocates with the three
   calls buffer_alloc, buffer_data and buffer_capacity. */
vpp_ipfix_ops_t test_host_ops_separate (test_host_t *host);

/* The host's clock, seconds since the epoch. */
void test_host_set_now (test_host_t *host, double now);
double test_host_now (test_host_t *host);
void test_host_advance (test_host_t *host, double seconds);

/* `n` more allocations succeed, then every one returns NULL;
   TEST_HOST_NEVER_FAIL lifts the limit. */
void test_host_fail_allocs_after (test_host_t *host, uint64_t n);

/* Non-zero: enqueue frees the buffer and returns non-zero (refused). */
void test_host_refuse_enqueue (test_host_t *host, int on);

/* Buffers allocated and not yet freed or enqueued. */
uint64_t test_host_live_buffers (test_host_t *host);

/* Buffers handed out, and allocations refused (budget or size). */
uint64_t test_host_allocs (test_host_t *host);
uint64_t test_host_failed_allocs (test_host_t *host);

/* Of test_host_allocs, those handed out by buffer_alloc_packet. */
uint64_t test_host_packet_allocs (test_host_t *host);

/* Packets refused by enqueue (test_host_refuse_enqueue). */
uint64_t test_host_refused (test_host_t *host);

/* Contract violations seen by the host (unknown or freed buffer, bad packet
   length, NULL info, a buffer freed or sent with another thread index than
   it was allocated with); each is also printed to stderr. */
uint64_t test_host_errors (test_host_t *host);

/* Captured packets, in enqueue order. The pointer is valid until the next
   enqueue or test_host_clear_packets. */
size_t test_host_n_packets (test_host_t *host);
const test_host_packet_t *test_host_packet (test_host_t *host, size_t i);

/* Forgets every captured packet. */
void test_host_clear_packets (test_host_t *host);

/* Big-endian readers. */
static inline uint16_t
test_get_u16 (const uint8_t *p)
{
  return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t
test_get_u32 (const uint8_t *p)
{
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
	 ((uint32_t) p[2] << 8) | p[3];
}

static inline uint64_t
test_get_u64 (const uint8_t *p)
{
  return ((uint64_t) test_get_u32 (p) << 32) | test_get_u32 (p + 4);
}

/* Big-endian writers. */
static inline void
test_put_u16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}

static inline void
test_put_u32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
}

static inline void
test_put_u64 (uint8_t *p, uint64_t v)
{
  test_put_u32 (p, (uint32_t) (v >> 32));
  test_put_u32 (p + 4, (uint32_t) v);
}

/* An IPv4 or IPv6 ip_address_t. */
ip_address_t test_ip4 (uint8_t a, uint8_t b, uint8_t c, uint8_t d);
ip_address_t test_ip6 (const char *text);

/* Member-by-member equality of the library's C views (memcmp would read their
   padding, which the library leaves uninitialised). */
int test_exporter_equal (const ipfix_exporter_t *a, const ipfix_exporter_t *b);
int test_report_equal (const flow_report_t *a, const flow_report_t *b);
int test_stream_equal (const flow_report_stream_t *a,
		       const flow_report_stream_t *b);

/* One exported packet read back: IP, UDP, IPFIX message header and its first
   set. */
typedef struct
{
  int is_ip6;
  uint32_t ip_header_len; /* 20 or 40 */
  uint8_t ip_src[16];	  /* IPv4: first 4 bytes */
  uint8_t ip_dst[16];
  uint8_t ttl;
  uint16_t src_port;
  uint16_t dst_port;
  uint16_t udp_length;
  uint16_t udp_checksum;   /* as sent; 0 = none */
  int ip_checksum_ok;	   /* IPv4 header checksum verifies (1 for IPv6) */
  int udp_checksum_ok;	   /* verifies, or is 0 over IPv4 */
  uint16_t version;	   /* IPFIX version (10) */
  uint16_t message_length; /* from the message header */
  uint32_t export_time;
  uint32_t sequence_number;
  uint32_t domain_id;
  uint16_t set_id;	   /* first set: 2 = template set, >= 256 data */
  uint16_t set_length;	   /* including its 4-byte header */
  const uint8_t *set_data; /* after the set header */
  uint32_t set_data_len;   /* set_length - 4 */
} test_ipfix_msg_t;

/* Reads `len` bytes of packet into `m`. 0 when every length field agrees with
   `len` and the message holds exactly one set; else a negative number saying
   which check failed (-1 IP version, -2 IP length, -3 protocol, -4 UDP
   length, -5 IPFIX version, -6 message length, -7 set length). */
int test_ipfix_parse (const uint8_t *pkt, uint32_t len, test_ipfix_msg_t *m);

#endif /* TEST_HOST_H */
