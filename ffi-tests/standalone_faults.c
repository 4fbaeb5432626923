/* standalone_faults.c: faults the standalone UDP host meets in the field and
   loopback will not make on demand: ENOBUFS and EAGAIN from sendmmsg (on
   chosen calls, and after a short count), a collector that restarts, socket
   creation failing, and the clocks standing still, jumping forward and
   stepping back.

   The program defines sendmmsg, socket, recvmsg and clock_gettime itself.
   The executable comes first in the dynamic linker's search, so the calls
   libvpp_ipfix.so makes (Rust's std calls glibc's clock_gettime for
   SystemTime and Instant) bind to these: they inject the faults, keep a
   ledger of what the kernel took and refused, and of the ICMP errors the
   library reads from its sockets' error queues (recvmsg), and forward to
   the real ones.
   A collector in the same thread decodes what arrives. Every record written
   must be delivered or counted dropped by the C API's counters, exactly
   once, and the counters must say what the kernel said.

   Usage: standalone_faults [CASE...] (no CASE: every case). */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "test_check.h"
#include "test_host.h"

#define NS		  1000000000LL
#define T0		  1700000000LL /* the wall clock each case starts at */
#define N_REPORTS	  3
#define MAX_RECORDS	  16384 /* per report and case */
#define MAX_CALLS	  8192	/* sendmmsg calls logged per case */
#define MAX_FAULTS	  8
#define MAX_SETS	  4
#define MAX_DOWN	  1024 /* datagrams sent with no collector, per case */
#define COLLECTOR_PORT	  4739
#define PORT_1		  30101
#define PORT_2		  30102
#define TEMPLATE_INTERVAL 20
#define PATH_MTU	  1450

/* Three reports on two streams, so a batch goes out through two sockets.
   Records: report index + 1, record number, number * 64 (and number + 1 in
   report 1). */
typedef struct
{
  uint32_t domain_id;
  uint16_t src_port;
  uint16_t record_size;
  uint32_t n_fields;
  const vpp_ipfix_field_t *fields;
} report_def_t;

/* ingressInterface, egressInterface, octetDeltaCount (, packetDeltaCount) */
static const vpp_ipfix_field_t fields_16[] = { { 10, 4, 0 },
					       { 14, 4, 0 },
					       { 1, 8, 0 } };
static const vpp_ipfix_field_t fields_24[] = {
  { 10, 4, 0 }, { 14, 4, 0 }, { 1, 8, 0 }, { 2, 8, 0 }
};

static const report_def_t report_defs[N_REPORTS] = {
  { 1, PORT_1, 16, 3, fields_16 },
  { 1, PORT_1, 24, 4, fields_24 },
  { 2, PORT_2, 16, 3, fields_16 },
};

/* ---- the clocks ---- */

/* CLOCK_REALTIME (Rust's SystemTime: export time, template and idle-flush
   ages) is always the test's; CLOCK_MONOTONIC (Instant: the UDP host's
   socket retry) is the kernel's unless a case holds it. */
static struct
{
  int64_t realtime_ns;
  int mono_held;
  int64_t mono_ns;
  uint64_t n_realtime, n_monotonic;
} clk = { T0 * NS, 0, 0, 0, 0 };

int
clock_gettime (clockid_t id, struct timespec *ts)
{
  int64_t ns;

  if (id == CLOCK_MONOTONIC)
    clk.n_monotonic++;
  if (id == CLOCK_REALTIME)
    {
      clk.n_realtime++;
      ns = clk.realtime_ns;
    }
  else if (id == CLOCK_MONOTONIC && clk.mono_held)
    ns = clk.mono_ns;
  else
    /* By system call rather than dlsym: this may run before a sanitizer's
       runtime can look symbols up. */
    return (int) syscall (SYS_clock_gettime, id, ts);
  ts->tv_sec = ns / NS;
  ts->tv_nsec = ns % NS;
  return 0;
}

static int64_t
kernel_monotonic_ns (void)
{
  struct timespec ts;

  syscall (SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * NS + ts.tv_nsec;
}

/* ---- the ledger: what the kernel took and refused ---- */

typedef enum
{
  FATE_SENT_UP,	  /* the kernel took it, a collector listening */
  FATE_SENT_DOWN, /* the kernel took it, no collector: lost unseen */
  FATE_REFUSED,	  /* the library was told it failed, and did not retry it */
  FATE_ICMP,	  /* taken with no collector, and the library read the ICMP
		     error about it from the socket's error queue */
  N_FATES,
} fate_t;

typedef enum
{
  FAULT_ERROR, /* fail `n_calls` calls in a row with `error` */
  FAULT_SHORT, /* send `short_count` only, say so; the next call fails
		  with `then_error` unless 0 */
} fault_kind_t;

typedef struct
{
  fault_kind_t kind;
  uint32_t at_call;  /* the first call numbered at_call or later ... */
  uint32_t min_vlen; /* ... offering at least this many datagrams */
  int error;
  uint32_t n_calls;
  uint32_t short_count;
  int then_error;
  uint32_t fired_at; /* the call it first hit; 0 = none yet */
  uint32_t fired;
} fault_t;

typedef struct
{
  int fd;
  uint32_t vlen;
  int rv;
  int error;
} call_t;

typedef struct
{
  uint32_t report_index;
  uint16_t template_id;
  uint32_t written;
  uint8_t fate[N_FATES][MAX_RECORDS];
  uint8_t received[MAX_RECORDS];
  uint32_t templates[N_FATES];
  uint32_t templates_received;
  uint64_t decoded, undecoded; /* records the collector got, by template */
} report_ledger_t;

/* Plain globals: the cases start no timer, so the library calls sendmmsg,
   socket and clock_gettime from the main thread only. */
static struct
{
  report_ledger_t r[N_REPORTS];
  uint32_t n_calls;
  call_t calls[MAX_CALLS];
  fault_t faults[MAX_FAULTS];
  uint32_t n_faults;
  fault_t *active;
  int pending_error;
  uint64_t data_datagrams[N_FATES], data_records[N_FATES];
  uint64_t template_datagrams[N_FATES];
  uint64_t n_enobufs, n_eagain, n_refused, n_zero, n_other, n_eintr;
  uint64_t refused_listening; /* given up for ECONNREFUSED, collector up */
  uint64_t n_retried;	      /* failed datagrams the library sent again */
  uint64_t n_recvmsg, n_icmp; /* error queue reads, ICMP errors read */
  uint64_t icmp_unmatched;    /* ICMP errors about no datagram sent down */
  uint64_t sent_up;	      /* datagrams the collector must receive */
  uint64_t bad_datagrams, bad_export_time;
  uint32_t last_export_time;
  int collector_up;
  uint32_t n_socket_calls, fail_sockets;
} led;

/* Copies of the datagrams sent with no collector, to move to FATE_ICMP when
   the library reads the ICMP error about one. */
static struct
{
  uint32_t n;
  struct
  {
    int fd, reported;
    uint32_t len;
    uint8_t bytes[PATH_MTU];
  } d[MAX_DOWN];
} down;

/* The first datagram of the last call that failed: given up (FATE_REFUSED)
   unless the library's next call sends it again. */
static struct
{
  int held, fd, error, collector_up;
  uint32_t len;
  uint8_t bytes[PATH_MTU];
} failed;

static int (*real_sendmmsg) (int, struct mmsghdr *, unsigned int, int);
static int (*real_socket) (int, int, int);
static ssize_t (*real_recvmsg) (int, struct msghdr *, int);

/* Where the collector is and the exporter sends from: addresses of
   127.0.0.0/8 no other test uses, taken from the pid, so fixed ports are
   safe with other programs running. */
static uint8_t net_a, net_b;

static int
report_of (uint32_t domain_id, uint16_t template_id)
{
  int r;

  for (r = 0; r < N_REPORTS; r++)
    if (report_defs[r].domain_id == domain_id &&
	led.r[r].template_id == template_id)
      return r;
  return -1;
}

typedef struct
{
  uint32_t export_time, sequence, domain_id;
  uint32_t n_sets;
  uint16_t set_id[MAX_SETS];
  const uint8_t *set_data[MAX_SETS];
  uint32_t set_len[MAX_SETS]; /* without the set header */
} message_t;

/* An IPFIX message whose lengths agree with `len`; 0 when it is one. */
static int
parse_message (const uint8_t *p, uint32_t len, message_t *m)
{
  uint32_t at = 16;

  if (len < 16 || test_get_u16 (p) != 10 || test_get_u16 (p + 2) != len)
    return -1;
  m->export_time = test_get_u32 (p + 4);
  m->sequence = test_get_u32 (p + 8);
  m->domain_id = test_get_u32 (p + 12);
  m->n_sets = 0;
  while (at < len)
    {
      uint32_t sl;

      if (len - at < 4 || m->n_sets == MAX_SETS)
	return -1;
      sl = test_get_u16 (p + at + 2);
      if (sl < 4 || sl > len - at)
	return -1;
      m->set_id[m->n_sets] = test_get_u16 (p + at);
      m->set_data[m->n_sets] = p + at + 4;
      m->set_len[m->n_sets] = sl - 4;
      m->n_sets++;
      at += sl;
    }
  return m->n_sets ? 0 : -1;
}

/* The report the template record at p[*at] describes, its fields checked;
   -1 when it is none of ours. Moves *at past it. */
static int
template_report (uint32_t domain_id, const uint8_t *p, uint32_t len,
		 uint32_t *at)
{
  uint32_t k, n;
  int r;

  r = report_of (domain_id, test_get_u16 (p + *at));
  n = test_get_u16 (p + *at + 2);
  *at += 4;
  if (r < 0 || n != report_defs[r].n_fields || len - *at < 4 * n)
    return -1;
  for (k = 0; k < n; k++, *at += 4)
    if (test_get_u16 (p + *at) != report_defs[r].fields[k].element_id ||
	test_get_u16 (p + *at + 2) != report_defs[r].fields[k].length)
      return -1;
  return r;
}

/* The number of the record at `rec` of report r, its values checked; -1 when
   it is not one the test wrote. */
static int64_t
record_number (int r, const uint8_t *rec)
{
  uint32_t i = test_get_u32 (rec + 4);

  if (test_get_u32 (rec) != (uint32_t) r + 1 || i >= led.r[r].written ||
      test_get_u64 (rec + 8) != (uint64_t) i * 64)
    return -1;
  if (r == 1 && test_get_u64 (rec + 16) != (uint64_t) i + 1)
    return -1;
  return i;
}

/* The bytes of the datagram `h` describes, gathered into `buf` (65536
   bytes); their length, or -1 when they do not fit. */
static int64_t
gather (const struct msghdr *h, uint8_t *buf)
{
  uint32_t len = 0;
  size_t i;

  for (i = 0; i < h->msg_iovlen; i++)
    {
      if (h->msg_iov[i].iov_len > 65536 - len)
	return -1;
      memcpy (buf + len, h->msg_iov[i].iov_base, h->msg_iov[i].iov_len);
      len += h->msg_iov[i].iov_len;
    }
  return len;
}

/* Checks a datagram the library offered the kernel: a message of ours, its
   export time the clock's. 0 when it is one. */
static int
check_message (const uint8_t *buf, uint32_t len)
{
  message_t m;

  if (parse_message (buf, len, &m))
    {
      led.bad_datagrams++;
      return -1;
    }
  /* Export time follows the clock: the cases send what they finish before
     they move the clock. */
  if (m.export_time != (uint32_t) (clk.realtime_ns / NS))
    led.bad_export_time++;
  led.last_export_time = m.export_time;
  return 0;
}

/* Adds `delta` (1, or -1 to take back) to the counts of `fate` for the
   checked message buf[0..len]: its records, and its datagram as data or
   template. */
static void
count_fate (const uint8_t *buf, uint32_t len, fate_t fate, int delta)
{
  uint32_t s, at, n, k;
  int is_data = 0, is_template = 0;
  message_t m;

  if (parse_message (buf, len, &m))
    return;
  for (s = 0; s < m.n_sets; s++)
    {
      const uint8_t *p = m.set_data[s];
      int r = m.set_id[s] >= 256 ? report_of (m.domain_id, m.set_id[s]) : -1;

      if (m.set_id[s] == 2)
	{
	  is_template = 1;
	  for (at = 0; m.set_len[s] - at >= 4;)
	    {
	      int tr = template_report (m.domain_id, p, m.set_len[s], &at);
	      if (tr < 0)
		{
		  led.bad_datagrams += delta > 0;
		  break;
		}
	      led.r[tr].templates[fate] += delta;
	    }
	  continue;
	}
      if (r < 0 || m.set_len[s] % report_defs[r].record_size)
	{
	  led.bad_datagrams += delta > 0;
	  continue;
	}
      is_data = 1;
      n = m.set_len[s] / report_defs[r].record_size;
      for (k = 0; k < n; k++)
	{
	  int64_t rn = record_number (r, p + k * report_defs[r].record_size);
	  if (rn < 0)
	    led.bad_datagrams += delta > 0;
	  else
	    led.r[r].fate[fate][rn] += delta;
	}
      led.data_records[fate] += (int64_t) delta * n;
    }
  led.data_datagrams[fate] += delta * is_data;
  led.template_datagrams[fate] += delta * is_template;
}

/* Notes the fate of one datagram the library offered the kernel on fd. */
static void
note_datagram (int fd, const struct msghdr *h, fate_t fate)
{
  static uint8_t buf[65536];
  int64_t len = gather (h, buf);

  if (len < 0)
    {
      led.bad_datagrams++;
      return;
    }
  if (check_message (buf, (uint32_t) len))
    return;
  if (fate == FATE_SENT_UP)
    led.sent_up++;
  count_fate (buf, (uint32_t) len, fate, 1);
  if (fate == FATE_SENT_DOWN)
    {
      if (down.n == MAX_DOWN || len > PATH_MTU)
	{
	  led.bad_datagrams++;
	  return;
	}
      down.d[down.n].fd = fd;
      down.d[down.n].reported = 0;
      down.d[down.n].len = (uint32_t) len;
      memcpy (down.d[down.n].bytes, buf, len);
      down.n++;
    }
}

/* Holds the first datagram of a call that failed with `error`, until the
   library's next call shows whether it tries that datagram again. */
static void
hold_failed (int fd, const struct msghdr *h, int error)
{
  static uint8_t buf[65536];
  int64_t len = gather (h, buf);

  if (len < 0 || len > PATH_MTU)
    {
      led.bad_datagrams++;
      return;
    }
  if (check_message (buf, (uint32_t) len))
    return;
  failed.held = 1;
  failed.fd = fd;
  failed.error = error;
  failed.collector_up = led.collector_up;
  failed.len = (uint32_t) len;
  memcpy (failed.bytes, buf, len);
}

/* Settles the held datagram, the next call (on `fd`, its first datagram
   `next`, or none) known: sent again there, or given up. */
static void
settle_failed (int fd, const struct msghdr *next)
{
  static uint8_t buf[65536];

  if (!failed.held)
    return;
  failed.held = 0;
  if (next && fd == failed.fd && gather (next, buf) == (int64_t) failed.len &&
      !memcmp (buf, failed.bytes, failed.len))
    {
      led.n_retried++;
      return;
    }
  count_fate (failed.bytes, failed.len, FATE_REFUSED, 1);
  if (failed.error == ECONNREFUSED && failed.collector_up)
    led.refused_listening++;
}

/* The fault for call `call` offering `vlen` datagrams, if any. */
static fault_t *
fault_for (uint32_t call, uint32_t vlen)
{
  uint32_t i;

  if (led.active && led.active->fired < led.active->n_calls)
    return led.active;
  led.active = NULL;
  for (i = 0; i < led.n_faults; i++)
    {
      fault_t *f = &led.faults[i];
      if (!f->fired_at && call >= f->at_call && vlen >= f->min_vlen)
	return led.active = f;
    }
  return NULL;
}

int
sendmmsg (int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
  uint32_t call = ++led.n_calls;
  fault_t *f = NULL;
  int rv, error = 0;
  unsigned int i;

  settle_failed (fd, vlen ? &vec[0].msg_hdr : NULL);
  if (led.pending_error)
    {
      rv = -1;
      error = led.pending_error;
      led.pending_error = 0;
    }
  else if ((f = fault_for (call, vlen)))
    {
      if (!f->fired_at)
	f->fired_at = call;
      f->fired++;
      if (f->kind == FAULT_ERROR)
	{
	  rv = -1;
	  error = f->error;
	}
      else
	{
	  rv = f->short_count ?
		 real_sendmmsg (fd, vec,
				f->short_count < vlen ? f->short_count : vlen,
				flags) :
		 0;
	  error = rv < 0 ? errno : 0;
	  led.pending_error = f->then_error;
	}
    }
  else
    {
      rv = real_sendmmsg (fd, vec, vlen, flags);
      error = rv < 0 ? errno : 0;
    }

  if (call <= MAX_CALLS)
    led.calls[call - 1] = (call_t){ fd, vlen, rv, error };
  for (i = 0; rv > 0 && i < (unsigned int) rv; i++)
    note_datagram (fd, &vec[i].msg_hdr,
		   led.collector_up ? FATE_SENT_UP : FATE_SENT_DOWN);
  /* The library documents that it retries after EINTR and gives up the
     first datagram of a call that fails or sends nothing, unless the error
     is one an ICMP error about an earlier datagram left: then it sends that
     datagram again, once. Its next call tells. */
  if (rv < 0 && error == EINTR)
    led.n_eintr++;
  else if (rv <= 0 && vlen > 0)
    {
      hold_failed (fd, &vec[0].msg_hdr, error);
      if (rv == 0)
	led.n_zero++;
      else if (error == ENOBUFS)
	led.n_enobufs++;
      else if (error == EAGAIN)
	led.n_eagain++;
      else if (error == ECONNREFUSED)
	{
	  led.n_refused++;
	}
      else
	led.n_other++;
    }
  if (rv < 0)
    errno = error;
  return rv;
}

int
socket (int domain, int type, int protocol)
{
  if ((domain == AF_INET || domain == AF_INET6) && (type & 0xf) == SOCK_DGRAM)
    {
      led.n_socket_calls++;
      if (led.fail_sockets)
	{
	  led.fail_sockets--;
	  errno = EMFILE;
	  return -1;
	}
    }
  return real_socket (domain, type, protocol);
}

/* Notes an ICMP error the library read from fd's error queue: the datagram
   sent with no collector whose first bytes it quotes is lost, and the
   library knows it. */
static void
note_error_queue (int fd, struct msghdr *msg, size_t rv)
{
  const struct sock_extended_err *ee = NULL;
  struct sock_extended_err e;
  struct cmsghdr *c;
  const uint8_t *quoted;
  size_t n, k;
  uint32_t i;

  for (c = CMSG_FIRSTHDR (msg); c; c = CMSG_NXTHDR (msg, c))
    if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
	(c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))
      {
	memcpy (&e, CMSG_DATA (c), sizeof (e));
	ee = &e;
      }
  if (!ee || (ee->ee_origin != SO_EE_ORIGIN_ICMP &&
	      ee->ee_origin != SO_EE_ORIGIN_ICMP6))
    return;
  led.n_icmp++;
  if (msg->msg_iovlen < 1)
    {
      led.icmp_unmatched++;
      return;
    }
  quoted = msg->msg_iov[0].iov_base;
  n = rv < msg->msg_iov[0].iov_len ? rv : msg->msg_iov[0].iov_len;
  for (i = 0; i < down.n; i++)
    {
      k = n < down.d[i].len ? n : down.d[i].len;
      if (!down.d[i].reported && down.d[i].fd == fd && k >= 16 &&
	  !memcmp (down.d[i].bytes, quoted, k))
	{
	  down.d[i].reported = 1;
	  count_fate (down.d[i].bytes, down.d[i].len, FATE_SENT_DOWN, -1);
	  count_fate (down.d[i].bytes, down.d[i].len, FATE_ICMP, 1);
	  return;
	}
    }
  led.icmp_unmatched++;
}

ssize_t
recvmsg (int fd, struct msghdr *msg, int flags)
{
  ssize_t rv = real_recvmsg (fd, msg, flags);
  int error = errno;

  if (flags & MSG_ERRQUEUE)
    {
      led.n_recvmsg++;
      if (rv >= 0)
	note_error_queue (fd, msg, (size_t) rv);
    }
  errno = error;
  return rv;
}

static void
add_error (uint32_t at_call, uint32_t min_vlen, int error, uint32_t n_calls)
{
  fault_t *f = &led.faults[led.n_faults++];

  memset (f, 0, sizeof (*f));
  f->kind = FAULT_ERROR;
  f->at_call = at_call;
  f->min_vlen = min_vlen;
  f->error = error;
  f->n_calls = n_calls;
}

static void
add_short (uint32_t at_call, uint32_t min_vlen, uint32_t short_count,
	   int then_error)
{
  fault_t *f = &led.faults[led.n_faults++];

  memset (f, 0, sizeof (*f));
  f->kind = FAULT_SHORT;
  f->at_call = at_call;
  f->min_vlen = min_vlen;
  f->short_count = short_count;
  f->then_error = then_error;
  f->n_calls = 1;
}

/* ---- the collector ---- */

static struct
{
  int fd;
  int known[N_REPORTS]; /* templates this collector has seen */
  uint64_t datagrams, templates, bad;
  uint32_t next_seq[3]; /* per domain: where the last message ended */
  uint64_t gap[3];	/* records missing in the sequence */
} col;

static struct sockaddr_in
address (uint8_t host, uint16_t port)
{
  struct sockaddr_in a;

  memset (&a, 0, sizeof (a));
  a.sin_family = AF_INET;
  a.sin_port = htons (port);
  a.sin_addr.s_addr =
    htonl ((127u << 24) | (net_a << 16) | (net_b << 8) | host);
  return a;
}

/* A new collector on the same address, knowing no template. */
static int
collector_open (void)
{
  struct sockaddr_in a = address (1, COLLECTOR_PORT);
  int size = 4 << 20;

  col.fd = real_socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK (col.fd >= 0);
  if (col.fd < 0)
    return -1;
  /* Room for every batch between two reads. */
  if (setsockopt (col.fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof (size)))
    setsockopt (col.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof (size));
  CHECK_EQ (bind (col.fd, (struct sockaddr *) &a, sizeof (a)), 0);
  memset (col.known, 0, sizeof (col.known));
  led.collector_up = 1;
  return 0;
}

static void
collector_close (void)
{
  if (col.fd >= 0)
    close (col.fd);
  col.fd = -1;
  led.collector_up = 0;
}

static void
collector_receive (const uint8_t *p, uint32_t len,
		   const struct sockaddr_in *from)
{
  struct sockaddr_in src;
  uint32_t s, at, n, k, d;
  message_t m;

  col.datagrams++;
  if (parse_message (p, len, &m) || m.domain_id < 1 || m.domain_id > 2)
    {
      col.bad++;
      return;
    }
  d = m.domain_id;
  src = address (2, report_defs[d == 1 ? 0 : 2].src_port);
  if (from->sin_addr.s_addr != src.sin_addr.s_addr ||
      from->sin_port != src.sin_port)
    col.bad++;
  for (s = 0; s < m.n_sets; s++)
    {
      const uint8_t *sp = m.set_data[s];
      int r = m.set_id[s] >= 256 ? report_of (d, m.set_id[s]) : -1;

      if (m.set_id[s] == 2)
	{
	  for (at = 0; m.set_len[s] - at >= 4;)
	    {
	      int tr = template_report (d, sp, m.set_len[s], &at);
	      if (tr < 0)
		{
		  col.bad++;
		  break;
		}
	      col.known[tr] = 1;
	      led.r[tr].templates_received++;
	      col.templates++;
	    }
	  continue;
	}
      if (r < 0 || m.set_len[s] % report_defs[r].record_size)
	{
	  col.bad++;
	  continue;
	}
      /* Without its template a collector can still count the records:
	 the set's length over the record size it will learn. */
      n = m.set_len[s] / report_defs[r].record_size;
      if (m.sequence < col.next_seq[d])
	col.bad++;
      else
	col.gap[d] += m.sequence - col.next_seq[d];
      col.next_seq[d] = m.sequence + n;
      for (k = 0; k < n; k++)
	{
	  int64_t rn = record_number (r, sp + k * report_defs[r].record_size);
	  if (rn < 0)
	    {
	      col.bad++;
	      continue;
	    }
	  led.r[r].received[rn]++;
	  if (col.known[r])
	    led.r[r].decoded++;
	  else
	    led.r[r].undecoded++;
	}
    }
}

/* Reads what arrived until the collector has every datagram the kernel
   took while it listened (loopback delivers during the send, or soon after
   when the kernel defers it), then whatever else is there. */
static void
collector_sync (void)
{
  static uint8_t buf[65536];
  struct pollfd pfd;
  int waited = 0;

  /* The library has returned: a datagram it did not send again, it gave
     up. */
  settle_failed (-1, NULL);
  while (col.fd >= 0)
    {
      struct sockaddr_in from;
      socklen_t fl = sizeof (from);
      ssize_t n = recvfrom (col.fd, buf, sizeof (buf), MSG_DONTWAIT,
			    (struct sockaddr *) &from, &fl);
      if (n >= 0)
	{
	  collector_receive (buf, (uint32_t) n, &from);
	  continue;
	}
      if (errno == EINTR)
	continue;
      if (col.datagrams >= led.sent_up || waited >= 2000)
	break;
      pfd.fd = col.fd;
      pfd.events = POLLIN;
      poll (&pfd, 1, 1);
      waited++;
    }
}

/* ---- a case's instance ---- */

typedef struct
{
  vpp_ipfix_main_t *main;
  int fds;
} ctx_t;

static int
count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  if (!d)
    return -1;
  while ((e = readdir (d)))
    n += e->d_name[0] != '.';
  closedir (d);
  return n - 1; /* the directory's own */
}

/* A fresh ledger, collector and standalone instance (one thread, UDP) with
   the three reports; no template sent yet. 0 when ready. */
static int
setup (ctx_t *x)
{
  vpp_ipfix_standalone_config_t sc;
  vpp_ipfix_exporter_config_t c;
  struct sockaddr_in ca = address (1, 0), sa = address (2, 0);
  uint32_t r;
  int rv;

  memset (&led, 0, sizeof (led));
  memset (&col, 0, sizeof (col));
  down.n = 0;
  failed.held = 0;
  col.fd = -1;
  clk.realtime_ns = T0 * NS;
  clk.mono_held = 0;
  x->main = NULL;
  x->fds = count_fds ();
  if (collector_open ())
    return -1;

  memset (&sc, 0, sizeof (sc));
  sc.n_threads = 1;
  sc.udp = 1;
  rv = vpp_ipfix_main_create_standalone (&sc, &x->main);
  CHECK_EQ (rv, 0);
  if (rv)
    return -1;
  vpp_ipfix_exporter_config_init (&c);
  memcpy (c.collector.ip.ip4.as_u8, &ca.sin_addr, 4);
  memcpy (c.src_address.ip.ip4.as_u8, &sa.sin_addr, 4);
  c.collector_port = COLLECTOR_PORT;
  c.path_mtu = PATH_MTU;
  c.template_interval = TEMPLATE_INTERVAL;
  CHECK_EQ (vpp_ipfix_exporter_set (x->main, 0, &c), 0);
  for (r = 0; r < N_REPORTS; r++)
    {
      vpp_ipfix_report_config_t rc;

      memset (&rc, 0, sizeof (rc));
      rc.domain_id = report_defs[r].domain_id;
      rc.src_port = report_defs[r].src_port;
      rc.fields = report_defs[r].fields;
      rc.n_fields = report_defs[r].n_fields;
      rc.opaque.as_uword = r + 1;
      rv = vpp_ipfix_report_add (x->main, 0, &rc, &led.r[r].report_index,
				 &led.r[r].template_id);
      CHECK_EQ (rv, 0);
      if (rv)
	return -1;
    }
  return 0;
}

/* Appends the next n records of report r on thread 0. */
static void
write_records (ctx_t *x, uint32_t r, uint32_t n)
{
  uint32_t k, failed = 0;
  uint8_t rec[24];

  for (k = 0; k < n && led.r[r].written < MAX_RECORDS; k++)
    {
      uint32_t i = led.r[r].written++;

      test_put_u32 (rec, r + 1);
      test_put_u32 (rec + 4, i);
      test_put_u64 (rec + 8, (uint64_t) i * 64);
      test_put_u64 (rec + 16, (uint64_t) i + 1);
      failed += vpp_ipfix_record_append (x->main, 0, led.r[r].report_index, 0,
					 rec, report_defs[r].record_size) != 0;
    }
  CHECK_UEQ (k, n);
  CHECK_UEQ (failed, 0);
  collector_sync ();
}

static void
write_all (ctx_t *x, uint32_t n)
{
  uint32_t r;

  for (r = 0; r < N_REPORTS; r++)
    write_records (x, r, n);
}

/* vpp_ipfix_thread_flush_idle on thread 0: packets that waited max_age,
   then the host's batch. The packets it sent. */
static uint32_t
flush_idle (ctx_t *x, double max_age)
{
  uint32_t sent = UINT32_MAX;

  CHECK_EQ (vpp_ipfix_thread_flush_idle (x->main, 0, max_age, &sent), 0);
  collector_sync ();
  return sent;
}

static uint32_t
templates_due (ctx_t *x)
{
  uint32_t sent = UINT32_MAX;
  double next = -1;

  CHECK_EQ (vpp_ipfix_templates_send_due (x->main, &sent, &next), 0);
  CHECK (next >= 0 && next <= 5);
  collector_sync ();
  return sent;
}

/* Moves the wall clock, after sending what the host holds (so every
   datagram leaves at the time its export time says). */
static void
clock_move (ctx_t *x, int64_t ns)
{
  CHECK_UEQ (flush_idle (x, 1e9), 0);
  clk.realtime_ns += ns;
}

/* Records written that no datagram offered to the kernel held. */
static uint64_t
records_unsent (void)
{
  uint64_t n = 0;
  uint32_t r, i, f, any;

  for (r = 0; r < N_REPORTS; r++)
    for (i = 0; i < led.r[r].written; i++)
      {
	for (f = any = 0; f < N_FATES; f++)
	  any |= led.r[r].fate[f][i];
	n += !any;
      }
  return n;
}

/* Every record once: delivered (received iff the kernel took it while the
   collector listened), lost unseen (taken with no collector), reported by
   ICMP (taken with no collector, the ICMP error read by the library),
   refused, or never offered (no socket); the C API's counters as the
   kernel's answers say; sequence numbers with exactly the missing records as
   gaps. `unsent` is the packets (data and template) the host could not hand
   the kernel. `strict`: no record lost unseen (on loopback an ICMP error
   comes back for every datagram sent to a closed port). */
static void
check_accounting (ctx_t *x, uint64_t unsent, int strict)
{
  uint64_t written = 0, received = 0, twice = 0, mismatch = 0, not_offered;
  uint64_t written_d[3] = { 0 }, received_d[3] = { 0 };
  vpp_ipfix_counters_t c;
  uint32_t r, i, d;

  memset (&c, 0, sizeof (c));
  CHECK_EQ (vpp_ipfix_exporter_counters (x->main, 0, &c), 0);
  for (r = 0; r < N_REPORTS; r++)
    {
      report_ledger_t *l = &led.r[r];
      d = report_defs[r].domain_id;
      for (i = 0; i < l->written; i++)
	{
	  uint32_t fates = 0, f;
	  for (f = 0; f < N_FATES; f++)
	    fates += l->fate[f][i];
	  twice += fates > 1;
	  mismatch += l->received[i] != l->fate[FATE_SENT_UP][i];
	  received += l->received[i];
	  received_d[d] += l->received[i];
	}
      written += l->written;
      written_d[d] += l->written;
      CHECK_UEQ (l->templates_received, l->templates[FATE_SENT_UP]);
    }
  settle_failed (-1, NULL);
  not_offered = records_unsent ();
  CHECK_UEQ (twice, 0);
  CHECK_UEQ (mismatch, 0);
  CHECK_UEQ (led.bad_datagrams, 0);
  CHECK_UEQ (led.bad_export_time, 0);
  CHECK_UEQ (col.bad, 0);
  CHECK_UEQ (col.datagrams, led.sent_up);
  CHECK (led.n_calls <= MAX_CALLS);
  /* Each ICMP error the library read was about a datagram sent down. */
  CHECK_UEQ (led.icmp_unmatched, 0);

  CHECK_UEQ (c.data_records + c.dropped_records, written);
  CHECK_UEQ (c.alloc_failures, 0);
  CHECK_UEQ (c.packets, led.data_datagrams[FATE_SENT_UP] +
			  led.data_datagrams[FATE_SENT_DOWN]);
  CHECK_UEQ (c.data_records,
	     led.data_records[FATE_SENT_UP] + led.data_records[FATE_SENT_DOWN]);
  CHECK_UEQ (c.templates, led.template_datagrams[FATE_SENT_UP] +
			    led.template_datagrams[FATE_SENT_DOWN]);
  CHECK_UEQ (c.dropped_packets, led.data_datagrams[FATE_REFUSED] +
				  led.template_datagrams[FATE_REFUSED] +
				  led.data_datagrams[FATE_ICMP] +
				  led.template_datagrams[FATE_ICMP] + unsent);
  CHECK_UEQ (c.dropped_records, led.data_records[FATE_REFUSED] +
				  led.data_records[FATE_ICMP] + not_offered);
  if (strict)
    {
      /* What the C API says delivered is what the collector got. */
      CHECK_UEQ (c.data_records, received);
      CHECK_UEQ (c.dropped_records, written - received);
    }

  /* Every record advances its stream; a collector sees the missing ones as
     gaps. */
  for (d = 1; d <= 2; d++)
    {
      const flow_report_t *fr =
	vpp_ipfix_report_get (x->main, 0, led.r[d == 1 ? 0 : 2].report_index);
      const flow_report_stream_t *st =
	fr ? vpp_ipfix_stream_get (x->main, 0, fr->stream_index) : NULL;
      CHECK_NOT_NULL (st);
      if (!st)
	continue;
      CHECK_UEQ (st->sequence_number, written_d[d]);
      CHECK (st->sequence_number >= col.next_seq[d]);
      CHECK_UEQ (col.gap[d] + (st->sequence_number - col.next_seq[d]),
		 written_d[d] - received_d[d]);
    }

  printf ("%s: records written %lu: delivered %lu (%lu before their "
	  "template), refused %lu, reported by ICMP %lu, lost unseen %lu, "
	  "never sent %lu; counters: delivered %lu dropped %lu; sendmmsg calls "
	  "%u, datagrams refused %lu (ENOBUFS %lu EAGAIN %lu ECONNREFUSED %lu "
	  "zero %lu other %lu), EINTR %lu, failed datagrams retried %lu; "
	  "error queue reads %lu, ICMP errors %lu\n",
	  test_current, (unsigned long) written, (unsigned long) received,
	  (unsigned long) (led.r[0].undecoded + led.r[1].undecoded +
			   led.r[2].undecoded),
	  (unsigned long) led.data_records[FATE_REFUSED],
	  (unsigned long) led.data_records[FATE_ICMP],
	  (unsigned long) led.data_records[FATE_SENT_DOWN],
	  (unsigned long) not_offered, (unsigned long) c.data_records,
	  (unsigned long) c.dropped_records, led.n_calls,
	  (unsigned long) (led.data_datagrams[FATE_REFUSED] +
			   led.template_datagrams[FATE_REFUSED]),
	  (unsigned long) led.n_enobufs, (unsigned long) led.n_eagain,
	  (unsigned long) led.n_refused, (unsigned long) led.n_zero,
	  (unsigned long) led.n_other, (unsigned long) led.n_eintr,
	  (unsigned long) led.n_retried, (unsigned long) led.n_recvmsg,
	  (unsigned long) led.n_icmp);
}

/* Sends what is left, checks the accounting, destroys the instance and
   checks that it sent nothing more and closed every socket. */
static void
teardown (ctx_t *x, uint64_t unsent, int strict)
{
  uint32_t calls;

  CHECK_EQ (vpp_ipfix_flush (x->main), 0);
  collector_sync ();
  check_accounting (x, unsent, strict);
  calls = led.n_calls;
  vpp_ipfix_main_destroy (x->main);
  CHECK_UEQ (led.n_calls, calls);
  collector_close ();
  led.n_faults = 0;
  led.active = NULL;
  led.pending_error = 0;
  led.fail_sockets = 0;
  clk.mono_held = 0;
  CHECK_EQ (count_fds (), x->fds);
}

/* ---- the cases ---- */

/* The library's calls reach this program's definitions: without that every
   other case would test nothing. */
static void
test_interposition (void)
{
  uint64_t rt, mono;
  ctx_t x;

  if (setup (&x))
    return;
  rt = clk.n_realtime;
  mono = clk.n_monotonic;
  CHECK_UEQ (templates_due (&x), 3);
  /* One call per template (sent at once), one socket per stream. */
  CHECK_UEQ (led.n_calls, 3);
  CHECK_UEQ (led.n_socket_calls, 2);
  CHECK (clk.n_realtime > rt);
  /* Instant::now when each socket is first made. */
  CHECK (clk.n_monotonic > mono);
  /* SystemTime::now is ours: 2023, not the machine's date. */
  CHECK_UEQ (led.last_export_time, T0);
  CHECK_UEQ (led.template_datagrams[FATE_SENT_UP], 3);
  write_all (&x, 10);
  CHECK_UEQ (flush_idle (&x, 0), 3);
  CHECK_UEQ (led.data_datagrams[FATE_SENT_UP], 3);
  printf ("interposition: clock_gettime REALTIME %lu MONOTONIC %lu, "
	  "sendmmsg %u, socket %u, recvmsg %lu\n",
	  (unsigned long) (clk.n_realtime - rt),
	  (unsigned long) (clk.n_monotonic - mono), led.n_calls,
	  led.n_socket_calls, (unsigned long) led.n_recvmsg);
  teardown (&x, 0, 0);
}

/* Checks the calls a fault hit and the ones after it, as the library's
   sending loop must make them: after a failed or empty call it goes on
   with the next datagram, after a short count with the first one not
   sent, after EINTR with the same ones. */
static void
check_fault_calls (const fault_t *f)
{
  const call_t *c;
  uint32_t k = f->fired_at - 1, v, j;

  CHECK (f->fired_at > 0);
  CHECK_UEQ (f->fired, f->n_calls);
  if (!f->fired_at || k + f->n_calls + 2 > MAX_CALLS ||
      k + f->n_calls + 2 > led.n_calls)
    return;
  c = &led.calls[k];
  v = c->vlen;
  if (f->kind == FAULT_ERROR)
    {
      int eintr = f->error == EINTR;
      for (j = 0; j < f->n_calls; j++)
	{
	  CHECK_EQ (c[j].rv, -1);
	  CHECK_EQ (c[j].error, f->error);
	  CHECK_UEQ (c[j].vlen, eintr ? v : v - j);
	  CHECK_EQ (c[j].fd, c->fd);
	}
      if (v > f->n_calls)
	{
	  CHECK_UEQ (c[j].vlen, eintr ? v : v - j);
	  CHECK_EQ (c[j].fd, c->fd);
	}
      return;
    }
  CHECK_EQ (c[0].rv, (int) f->short_count);
  if (!f->short_count)
    {
      /* Nothing sent and no error: that datagram is given up. */
      CHECK_UEQ (c[1].vlen, v - 1);
      CHECK_EQ (c[1].fd, c->fd);
      return;
    }
  CHECK_UEQ (c[1].vlen, v - f->short_count);
  CHECK_EQ (c[1].rv, -1);
  CHECK_EQ (c[1].error, f->then_error);
  CHECK_EQ (c[1].fd, c->fd);
  CHECK_UEQ (c[2].vlen, v - f->short_count - 1);
  CHECK_EQ (c[2].fd, c->fd);
}

/* ENOBUFS and EAGAIN on chosen calls, lasting over several calls, after a
   short count (a partial batch), EINTR, and a call that sends nothing. */
static void
test_send_faults (void)
{
  uint32_t base, i;
  ctx_t x;

  if (setup (&x))
    return;
  CHECK_UEQ (templates_due (&x), 3);
  base = led.n_calls;
  add_error (base + 1, 1, ENOBUFS, 1);
  add_error (base + 3, 1, EAGAIN, 1);
  add_error (base + 5, 4, ENOBUFS, 3);
  add_short (base + 9, 8, 3, ENOBUFS);
  add_error (base + 13, 2, EINTR, 1);
  add_short (base + 15, 2, 0, 0);
  add_short (base + 17, 6, 2, EAGAIN);
  /* Each round fills about 32 packets: a full batch of 32 goes out while
     the records are written, the flush sends the rest; each batch in two
     calls, one per socket. */
  for (i = 0; i < 8; i++)
    {
      write_all (&x, 800);
      flush_idle (&x, 0);
    }
  for (i = 0; i < led.n_faults; i++)
    check_fault_calls (&led.faults[i]);
  /* One datagram lost per failed call, none for EINTR; no template hit. */
  CHECK_UEQ (led.data_datagrams[FATE_REFUSED], 8);
  CHECK_UEQ (led.template_datagrams[FATE_REFUSED], 0);
  CHECK_UEQ (led.n_enobufs, 5);
  CHECK_UEQ (led.n_eagain, 2);
  CHECK_UEQ (led.n_zero, 1);
  CHECK_UEQ (led.n_eintr, 1);
  teardown (&x, 0, 0);
}

/* ENOBUFS on a template: counted dropped; its report's data reaches the
   collector undecodable (counted by set length) until the next refresh,
   then decodes again. */
static void
test_template_lost (void)
{
  uint64_t undecoded;
  uint32_t refreshed_after = 0;
  ctx_t x;

  if (setup (&x))
    return;
  add_error (1, 1, ENOBUFS, 1);
  /* Handed to the host: the loss shows in the counters. */
  CHECK_UEQ (templates_due (&x), 3);
  CHECK_UEQ (led.r[0].templates[FATE_REFUSED], 1);
  CHECK_UEQ (led.r[1].templates[FATE_SENT_UP], 1);
  CHECK_UEQ (led.r[2].templates[FATE_SENT_UP], 1);
  write_all (&x, 200);
  flush_idle (&x, 0);
  CHECK_UEQ (led.r[0].undecoded, 200);
  CHECK_UEQ (led.r[1].decoded, 200);
  CHECK_UEQ (led.r[2].decoded, 200);
  /* Resent at the next round, a second later (the core sees the host's loss),
     not a whole template interval later. */
  while (!col.known[0] && refreshed_after < 2 * TEMPLATE_INTERVAL)
    {
      clock_move (&x, NS);
      refreshed_after++;
      templates_due (&x);
      write_all (&x, 10);
      flush_idle (&x, 0);
    }
  CHECK (col.known[0]);
  CHECK_UEQ (refreshed_after, 1);
  undecoded = led.r[0].undecoded;
  write_all (&x, 200);
  flush_idle (&x, 0);
  CHECK_UEQ (led.r[0].undecoded, undecoded);
  CHECK_UEQ (led.r[0].decoded + led.r[0].undecoded, led.r[0].written);
  printf ("template_lost: the template lost to ENOBUFS went again after %u "
	  "s (interval %d s); %lu records of its report arrived before it\n",
	  refreshed_after, TEMPLATE_INTERVAL, (unsigned long) undecoded);
  teardown (&x, 0, 0);
}

/* The collector stops (ICMP port unreachable while it is down), a new one
   binds the same port: data arrives undecodable until the next template
   refresh, then decodes. No datagram is lost to an error left from while it
   was down. */
static void
collector_restart (int strict)
{
  uint64_t undecoded[N_REPORTS];
  struct timespec pause = { 0, 20 * 1000 * 1000 };
  uint32_t i, r;
  ctx_t x;

  if (setup (&x))
    return;
  CHECK_UEQ (templates_due (&x), 3);
  for (i = 0; i < 3; i++)
    {
      write_all (&x, 200);
      flush_idle (&x, 0);
    }
  collector_close ();
  for (i = 0; i < 6; i++)
    {
      write_all (&x, 200);
      flush_idle (&x, 0);
    }
  /* ICMP errors come back while the port is closed, and the library reads
     them. */
  CHECK (led.n_icmp > 0);
  /* Lets loopback deliver anything the kernel deferred to the closed
     port, so nothing sent before the restart reaches the new collector. */
  nanosleep (&pause, NULL);
  if (collector_open ())
    return;
  /* An ICMP error left from while it was down, which the library's read of
     the error queue just missed: the first send after the restart fails
     with it. */
  add_error (led.n_calls + 1, 1, ECONNREFUSED, 1);
  for (i = 0; i < 3; i++)
    {
      write_all (&x, 200);
      flush_idle (&x, 0);
    }
  for (r = 0; r < N_REPORTS; r++)
    {
      CHECK (led.r[r].undecoded > 0);
      CHECK_UEQ (led.r[r].decoded, 600);
      undecoded[r] = led.r[r].undecoded;
    }
  clock_move (&x, (TEMPLATE_INTERVAL + 1) * NS);
  CHECK_UEQ (templates_due (&x), 3);
  for (i = 0; i < 3; i++)
    {
      write_all (&x, 200);
      flush_idle (&x, 0);
    }
  for (r = 0; r < N_REPORTS; r++)
    {
      CHECK (col.known[r]);
      CHECK_UEQ (led.r[r].undecoded, undecoded[r]);
      CHECK_UEQ (led.r[r].decoded, 1200);
    }
  /* An ECONNREFUSED a send reports is the ICMP error of an earlier datagram
     (counted through the error queue): the library sends its own again. */
  CHECK (led.n_refused >= 1);
  CHECK (led.n_retried >= 1);
  CHECK_UEQ (led.refused_listening, 0);
  teardown (&x, 0, strict);
}

static void
test_collector_restart (void)
{
  collector_restart (0);
}

/* The same, asking that the records the kernel took while no collector
   listened be counted dropped: the kernel answers each with an ICMP error,
   which the library reads from the socket's error queue. */
static void
test_collector_down_counted (void)
{
  collector_restart (1);
}

/* The wall clock standing still, jumping forward three hours and stepping
   back one: templates as documented (due once the interval has passed, or
   at once when "sent" after now), idle flush by the packets' age on that
   clock, each open packet once, export times from it. */
static void
test_clock (void)
{
  uint32_t i, n;
  ctx_t x;

  if (setup (&x))
    return;
  CHECK_UEQ (templates_due (&x), 3);

  /* Standing still: nothing is due again, nothing ages. */
  for (i = n = 0; i < 50; i++)
    n += templates_due (&x);
  CHECK_UEQ (n, 0);
  write_all (&x, 10);
  for (i = n = 0; i < 50; i++)
    n += flush_idle (&x, 0.2);
  CHECK_UEQ (n, 0);
  CHECK_UEQ (led.data_datagrams[FATE_SENT_UP], 0);
  /* Full packets go whatever the clock. */
  write_records (&x, 0, 200);
  CHECK_UEQ (flush_idle (&x, 1e9), 0);
  CHECK_UEQ (led.data_datagrams[FATE_SENT_UP], 2);
  CHECK_UEQ (flush_idle (&x, 0), 3);

  /* A packet goes once it is max_age old, once. */
  clock_move (&x, NS / 4);
  write_all (&x, 5);
  clock_move (&x, NS / 10);
  CHECK_UEQ (flush_idle (&x, 0.2), 0);
  clock_move (&x, NS / 5);
  CHECK_UEQ (flush_idle (&x, 0.2), 3);
  CHECK_UEQ (flush_idle (&x, 0.2), 0);

  /* Forward three hours: each open packet once, one template per report
     (not one per missed interval). */
  write_all (&x, 5);
  clock_move (&x, 3 * 3600 * NS);
  CHECK_UEQ (flush_idle (&x, 0.2), 3);
  CHECK_UEQ (flush_idle (&x, 0.2), 0);
  CHECK_UEQ (templates_due (&x), 3);
  for (i = n = 0; i < 20; i++)
    n += templates_due (&x);
  CHECK_UEQ (n, 0);

  /* Back one hour: the templates, "sent" after now, are due at once, once;
     then when more than the interval has passed on the new time. */
  clock_move (&x, -3600 * NS);
  CHECK_UEQ (templates_due (&x), 3);
  for (i = n = 0; i < 20; i++)
    n += templates_due (&x);
  CHECK_UEQ (n, 0);
  clock_move (&x, TEMPLATE_INTERVAL * NS);
  CHECK_UEQ (templates_due (&x), 0);
  clock_move (&x, NS / 2);
  CHECK_UEQ (templates_due (&x), 3);
  /* Packets begun after the step age on the new time. */
  write_all (&x, 5);
  clock_move (&x, NS / 10);
  CHECK_UEQ (flush_idle (&x, 0.2), 0);
  clock_move (&x, NS / 5);
  CHECK_UEQ (flush_idle (&x, 0.2), 3);
  CHECK_UEQ (flush_idle (&x, 0.2), 0);
  CHECK_UEQ (led.template_datagrams[FATE_SENT_UP], 12);
  teardown (&x, 0, 0);
}

/* Packets open when the clock steps back an hour: they must go once they
   have waited max_age (0.3 s of clock after the step here), not an hour
   later. */
static void
test_idle_flush_after_step_back (void)
{
  uint32_t sent, stalled = 0;
  ctx_t x;

  if (setup (&x))
    return;
  CHECK_UEQ (templates_due (&x), 3);
  write_all (&x, 5);
  clock_move (&x, -3600 * NS);
  sent = flush_idle (&x, 0.2);
  clock_move (&x, 3 * NS / 10);
  sent += flush_idle (&x, 0.2);
  CHECK_UEQ (sent, 3);
  /* How long they wait, for the report. */
  while (!sent && stalled < 2 * 3600)
    {
      clock_move (&x, 60 * NS);
      stalled += 60;
      sent = flush_idle (&x, 0.2);
    }
  if (stalled)
    printf ("idle_flush_after_step_back: packets begun before a 3600 s step "
	    "back went after %u s of clock\n",
	    stalled);
  CHECK_UEQ (flush_idle (&x, 0.2), 0);
  teardown (&x, 0, 0);
}

/* Socket creation failing (EMFILE) for both streams: packets are dropped
   and counted, and the host tries again one second later on the monotonic
   clock (Instant), not before, however many packets come; jumping that
   clock hours ahead changes nothing once the sockets exist. */
static void
test_socket_retry (void)
{
  uint32_t i, s0;
  ctx_t x;

  if (setup (&x))
    return;
  clk.mono_ns = kernel_monotonic_ns ();
  clk.mono_held = 1;
  led.fail_sockets = 2;
  s0 = led.n_socket_calls;
  CHECK_UEQ (templates_due (&x), 3);
  CHECK_UEQ (led.n_socket_calls - s0, 2);
  CHECK_UEQ (led.fail_sockets, 0);
  /* Standing still: no new attempt. */
  for (i = 0; i < 5; i++)
    {
      write_all (&x, 20);
      CHECK_UEQ (flush_idle (&x, 0), 3);
    }
  clk.mono_ns += NS - 1;
  write_all (&x, 20);
  CHECK_UEQ (flush_idle (&x, 0), 3);
  CHECK_UEQ (led.n_socket_calls - s0, 2);
  CHECK_UEQ (led.n_calls, 0);
  /* One second after the failure: both made now; the templates went
     nowhere, so the data arrives undecodable. */
  clk.mono_ns += 1;
  write_all (&x, 20);
  CHECK_UEQ (flush_idle (&x, 0), 3);
  CHECK_UEQ (led.n_socket_calls - s0, 4);
  CHECK_UEQ (led.r[0].undecoded + led.r[1].undecoded + led.r[2].undecoded, 60);
  clk.mono_ns += 5 * 3600 * NS;
  clock_move (&x, (TEMPLATE_INTERVAL + 1) * NS);
  CHECK_UEQ (templates_due (&x), 3);
  write_all (&x, 20);
  CHECK_UEQ (flush_idle (&x, 0), 3);
  CHECK_UEQ (led.r[0].decoded + led.r[1].decoded + led.r[2].decoded, 60);
  CHECK_UEQ (led.n_socket_calls - s0, 4);
  /* 3 templates and 6 rounds of 3 packets never had a socket. */
  teardown (&x, 3 + 6 * 3, 0);
}

#define TEST(name)                                                             \
  {                                                                            \
#name, test_##name                                                         \
  }

int
main (int argc, char **argv)
{
  static const test_case_t all[] = {
    TEST (interposition),
    TEST (send_faults),
    TEST (template_lost),
    TEST (collector_restart),
    TEST (collector_down_counted),
    TEST (clock),
    TEST (idle_flush_after_step_back),
    TEST (socket_retry),
  };
  size_t n_all = sizeof (all) / sizeof (all[0]), n = 0, i;
  test_case_t chosen[sizeof (all) / sizeof (all[0])];
  pid_t pid = getpid ();
  int a, found;

  real_sendmmsg = dlsym (RTLD_NEXT, "sendmmsg");
  real_socket = dlsym (RTLD_NEXT, "socket");
  real_recvmsg = dlsym (RTLD_NEXT, "recvmsg");
  if (!real_sendmmsg || !real_socket || !real_recvmsg)
    {
      fprintf (
	stderr,
	"standalone_faults: no sendmmsg, socket or recvmsg after ours\n");
      return 2;
    }
  net_a = (uint8_t) (1 + (pid / 251) % 251);
  net_b = (uint8_t) (1 + pid % 251);

  for (a = 1; a < argc; a++)
    {
      for (i = found = 0; i < n_all && n < n_all; i++)
	if (!strcmp (argv[a], all[i].name))
	  {
	    chosen[n++] = all[i];
	    found = 1;
	  }
      if (!found)
	{
	  fprintf (stderr, "standalone_faults: unknown case %s\n", argv[a]);
	  return 2;
	}
    }
  if (argc == 1)
    return test_run_all ("standalone_faults", all, n_all);
  return test_run_all ("standalone_faults", chosen, n);
}
