/* bad_input_matrix.c: the bad-input matrix at the C ABI (issue 9, item 1).
   One row per case: an exported function, the class of bad argument, a
   small function making the call, and the code include/vpp_ipfix.h
   documents for it. Each case gets a fresh instance in a known state and
   must return its code, leave everything read back through the API and the
   host unchanged, and leave exporter 0 exporting: records written next,
   VPP-style and appended, decode with their values intact and their
   sequence numbers going on exactly where they stopped.

   Each case runs in a child process, so a crash (or a sanitizer error)
   fails its own row and the others still run.

   Usage: bad_input_matrix [--no-fork] [TEXT]: only the rows whose label
   contains TEXT; --no-fork runs them all in this process.
   Prints every failure with its row, then "bad_input_matrix: N cases, P
   passed, F failed"; exits non-zero on any failure. */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_check.h"
#include "test_fixture.h"
#include "test_host.h"
#include "test_snapshot.h"

#define N_THREADS 2
#define PATH_MTU  512


/* Exporter 0's stream and report. */
#define DOMAIN	    1
#define SRC_PORT    30001
#define TEMPLATE_ID 256

/* IPv4 + UDP + IPFIX message header + set header. */
#define HEADERS_IP4 48
#define MAX_RECORD  (PATH_MTU - HEADERS_IP4)
#define PER_PACKET  (MAX_RECORD / FP_RECORD_SIZE)
/* The template packet: headers, template record header, 4 bytes a field. */
#define TEMPLATE_LEN(n) (HEADERS_IP4 + 4 + 4 * (n))
#define FP_TEMPLATE_LEN TEMPLATE_LEN (FP_N_ELTS)

/* Exporter 2 (no collector) has a report of one element this long. */
#define BIG_RECORD 400

/* Records written in the known state: thread 0 VPP-style, all sent; thread
   1 appended, leaving BASE_APPEND % PER_PACKET in its packet. Then after
   each case. */
#define BASE_VPP     10
#define BASE_APPEND  11
#define AFTER_VPP    10
#define AFTER_APPEND 10

/* The thread the index rows use when the thread is not the bad argument:
   the one with a packet under construction, which a wrong send would
   show. */
#define T_OK 1

/* VPP's default; the clock moves past it so the template is due again. */
#define TEMPLATE_INTERVAL 20

/* What a case returns besides the library's codes (0, 1 and negative). */
#define RV_NULL	       9001 /* returned NULL */
#define RV_NOT_NULL    9002 /* returned a pointer */
#define RV_OUT_WRITTEN 9003 /* wrote an out-pointer although it failed */
#define RV_ERR_UNSET   9004 /* returned NULL without writing *error_out */
#define RV_WRONG       9005 /* returned or wrote a wrong value */
#define RV_SETUP       9006 /* the case's own preparation failed */
#define RV_FILE_LEFT   9007 /* failed, yet created its file */

/* Out-pointers start with these; the library must leave them alone when it
   fails. */
#define OUT_U32 0x5a5a5a5au
#define OUT_U16 0x5a5au
#define OUT_ERR 0x5a5a5a5a

typedef enum
{
  C_NULL,
  C_EXPORTER_DELETED,
  C_EXPORTER_RANGE,
  C_REPORT_DELETED,
  C_REPORT_RANGE,
  C_STREAM_DELETED,
  C_STREAM_RANGE,
  C_THREAD,
  C_RECORD_TOO_BIG,
  C_ZERO,
  C_HUGE,
  C_TEMPLATE_TOO_BIG,
  C_MTU,
  C_FAMILY,
  C_UNKNOWN_KIND,
  C_WRONG_ORDER,
  C_DOUBLE_DELETE,
  C_TWICE,
  C_CONFLICT,
  C_SHORT,
  C_VALUE,
  N_CLASSES
} bad_class_t;

static const char *const class_names[N_CLASSES] = {
  [C_NULL] = "NULL pointer",
  [C_EXPORTER_DELETED] = "deleted exporter index",
  [C_EXPORTER_RANGE] = "out-of-range exporter index",
  [C_REPORT_DELETED] = "deleted report index",
  [C_REPORT_RANGE] = "out-of-range report index",
  [C_STREAM_DELETED] = "deleted stream index",
  [C_STREAM_RANGE] = "out-of-range stream index",
  [C_THREAD] = "thread index >= thread count",
  [C_RECORD_TOO_BIG] = "record larger than the path MTU allows",
  [C_ZERO] = "zero count or size",
  [C_HUGE] = "huge count or length",
  [C_TEMPLATE_TOO_BIG] = "template past the MTU or 65535 bytes",
  [C_MTU] = "path MTU out of range",
  [C_FAMILY] = "address families that differ",
  [C_UNKNOWN_KIND] = "unknown address family or transport",
  [C_WRONG_ORDER] = "call in the wrong order",
  [C_DOUBLE_DELETE] = "double delete",
  [C_TWICE] = "destroy or stop twice",
  [C_CONFLICT] = "stream key conflict or duplicate report",
  [C_SHORT] = "output buffer too short",
  [C_VALUE] = "other value out of range",
};

/* The instance in its known state. */
typedef struct
{
  fixture_t f;
  /* Exporter 1's pointer, kept from before it was deleted. */
  const ipfix_exporter_t *deleted_exp;
  /* Per thread: the next record number to write, and the first not yet in
     a sent packet. */
  uint32_t next_serial[N_THREADS];
  uint32_t unsent[N_THREADS];
} world_t;

typedef struct bad_case bad_case_t;
typedef int32_t (*bad_call_t) (world_t *w, const bad_case_t *c);

struct bad_case
{
  const char *function; /* without its vpp_ipfix_ prefix */
  bad_class_t cls;
  const char *arg; /* the bad argument */
  bad_call_t call;
  int null_main;       /* the call passes NULL for the instance */
  uint32_t e, r, s, t; /* exporter, report, stream, thread indices */
  uint64_t v;	       /* a value the call takes from its row */
  int32_t expected;    /* the documented result */
};

/* The instance the call passes: the world's, or NULL. */
#define MAIN(w, c) ((c)->null_main ? NULL : (w)->f.main)

/* Large inputs, filled once before the first case. */
#define MANY	16384 /* 4-byte fields: a template past 65535 bytes */
#define BIG_BUF 70000
static ipfix_report_element_t many_elts[MANY];
static vpp_ipfix_field_t many_fields[MANY];
static uint8_t big_buf[BIG_BUF];

/* Record `serial` of thread `t`: both numbers first, then bytes derived
   from them, so a record moved, cut or mixed up shows. */
static void
make_record (uint8_t *rec, uint32_t t, uint32_t serial)
{
  uint32_t k;

  test_put_u32 (rec, t);
  test_put_u32 (rec + 4, serial);
  for (k = 8; k < FP_RECORD_SIZE; k++)
    rec[k] = (uint8_t) (t * 101 + serial * 7 + k);
}

static int
record_is (const uint8_t *rec, uint32_t t, uint32_t serial)
{
  uint8_t want[FP_RECORD_SIZE];

  make_record (want, t, serial);
  return memcmp (rec, want, sizeof (want)) == 0;
}

static int
add_report (fixture_t *f, uint32_t e, uint32_t domain, uint16_t port,
	    uintptr_t opaque, ipfix_report_element_t *elts, uint32_t n)
{
  vnet_flow_report_add_del_args_t a;

  memset (&a, 0, sizeof (a));
  a.report_elements = elts;
  a.n_report_elements = n;
  a.opaque.as_uword = opaque;
  a.is_add = 1;
  a.domain_id = domain;
  a.src_port = port;
  return vpp_ipfix_report_add_del (f->main, e, &a, NULL);
}

/* Writes n records of thread t into report 0 as flowprobe does: into the
   buffer at next_data_offset, sending when the next would pass the MTU,
   and sends what is left. */
static void
write_vpp_style (world_t *w, uint32_t t, uint32_t n)
{
  vpp_ipfix_main_t *m = w->f.main;
  const flow_report_t *fr = vpp_ipfix_report_get (m, 0, 0);
  flow_report_per_thread_t *ptd;
  int32_t err;
  uint32_t i;

  if (!fr)
    {
      CHECK_NOT_NULL (fr);
      return;
    }
  ptd = &fr->per_thread_data[t];
  for (i = 0; i < n; i++)
    {
      err = OUT_ERR;
      if (!vpp_ipfix_buffer_get (m, 0, 0, t, &err))
	{
	  CHECK_EQ (err, 0);
	  return;
	}
      make_record (ptd->packet.data + ptd->next_data_offset, t,
		   w->next_serial[t]++);
      ptd->next_data_offset += FP_RECORD_SIZE;
      ptd->n_data_records++;
      if (ptd->next_data_offset + FP_RECORD_SIZE > PATH_MTU)
	CHECK_EQ (vpp_ipfix_buffer_send (m, 0, 0, t), 0);
    }
  CHECK_EQ (vpp_ipfix_buffer_send (m, 0, 0, t), 0);
}

/* Appends n records of thread t to report 0. */
static void
append_records (world_t *w, uint32_t t, uint32_t n)
{
  uint8_t rec[FP_RECORD_SIZE];
  uint32_t i;

  for (i = 0; i < n; i++)
    {
      make_record (rec, t, w->next_serial[t]++);
      CHECK_EQ (vpp_ipfix_record_append (w->f.main, 0, 0, t, rec, sizeof (rec)),
		0);
    }
}

/* Sends one record to report r of exporter e from thread t, so that the
   thread's last per-thread call is on that report (the library keeps a
   memo of it per thread). Its serial is outside the threads' count. */
static void
use_report (world_t *w, uint32_t e, uint32_t r, uint32_t t)
{
  uint8_t rec[FP_RECORD_SIZE];

  make_record (rec, t, 0xbeef);
  CHECK_EQ (vpp_ipfix_record_append (w->f.main, e, r, t, rec, sizeof (rec)), 0);
  CHECK_EQ (vpp_ipfix_buffer_send (w->f.main, e, r, t), 0);
}

/* The known state every case starts from:
   - exporter 0: 127.0.0.2 -> 127.0.0.1, MTU 512, flowprobe's report 0 on
     stream 0 (domain 1, port 30001), its template sent, BASE_VPP records of
     thread 0 sent VPP-style, BASE_APPEND of thread 1 appended (the last few
     still in thread 1's packet); report 1 on stream 1, used by thread 0 and
     deleted, which freed stream 1;
   - exporter 1: a report used by thread 1, then the exporter deleted;
   - exporter 2: no collector, two reports on two streams (the first with a
     BIG_RECORD-byte record).
   So each thread last used something deleted since. 0 when all went as
   planned. */
static int
build_known_state (world_t *w)
{
  fixture_t *f = &w->f;
  unsigned failed_before = test_n_failed;
  vpp_ipfix_exporter_config_t c;
  ipfix_report_element_t big_elt = { 2, BIG_RECORD };
  vnet_flow_report_add_del_args_t del;
  const flow_report_t *fr;
  uint32_t idx = OUT_U32, sent = OUT_U32, n_reports = 0, n_streams = 0;

  memset (w, 0, sizeof (*w));
  if (fixture_init_threads (f, N_THREADS))
    return -1;
  enable_ipv4 (f, PATH_MTU);
  CHECK_EQ (add_report (f, 0, DOMAIN, SRC_PORT, 1, fp_elts, FP_N_ELTS), 0);
  CHECK_EQ (add_report (f, 0, 2, 30002, 2, fp_elts, FP_N_ELTS), 0);

  c = ipv4_config (PATH_MTU);
  c.collector = test_ip4 (127, 0, 0, 9);
  CHECK_EQ (vpp_ipfix_exporter_create (f->main, &c, &idx), 0);
  CHECK_UEQ (idx, 1);
  w->deleted_exp = vpp_ipfix_exporter_get (f->main, 1);
  CHECK_NOT_NULL (w->deleted_exp);
  CHECK_EQ (add_report (f, 1, DOMAIN, SRC_PORT, 1, fp_elts, FP_N_ELTS), 0);

  vpp_ipfix_exporter_config_init (&c);
  CHECK_EQ (vpp_ipfix_exporter_create (f->main, &c, &idx), 0);
  CHECK_UEQ (idx, 2);
  CHECK_EQ (add_report (f, 2, 1, 30001, 1, &big_elt, 1), 0);
  CHECK_EQ (add_report (f, 2, 2, 30002, 2, fp_elts, FP_N_ELTS), 0);

  CHECK_EQ (vpp_ipfix_templates_send_due (f->main, &sent, NULL), 0);
  CHECK_UEQ (sent, 3);
  write_vpp_style (w, 0, BASE_VPP);
  append_records (w, 1, BASE_APPEND);
  w->unsent[0] = BASE_VPP;
  w->unsent[1] = BASE_APPEND - BASE_APPEND % PER_PACKET;
  use_report (w, 0, 1, 0);
  use_report (w, 1, 0, T_OK);

  memset (&del, 0, sizeof (del));
  del.opaque.as_uword = 2;
  del.domain_id = 2;
  del.src_port = 30002;
  CHECK_EQ (vpp_ipfix_report_add_del (f->main, 0, &del, NULL), 0);
  CHECK_EQ (vpp_ipfix_exporter_delete (f->main, 1), 0);

  /* The state is what the rows assume. */
  CHECK_NULL (vpp_ipfix_exporter_get (f->main, 1));
  CHECK_EQ (vpp_ipfix_exporter_sizes (f->main, 0, &n_reports, &n_streams), 0);
  CHECK_UEQ (n_reports, 1);
  CHECK_UEQ (n_streams, 2);
  CHECK_NULL (vpp_ipfix_stream_get (f->main, 0, 1));
  fr = vpp_ipfix_report_get (f->main, 0, 0);
  CHECK (fr && fr->template_id == TEMPLATE_ID &&
	 fr->per_thread_data[T_OK].n_data_records == BASE_APPEND % PER_PACKET &&
	 fr->per_thread_data[0].buffer == NULL);
  CHECK_EQ (vpp_ipfix_exporter_sizes (f->main, 2, &n_reports, &n_streams), 0);
  CHECK_UEQ (n_reports, 2);
  CHECK_UEQ (n_streams, 2);
  return test_n_failed != failed_before ? -1 : 0;
}

/* ---- The calls. call_<function> makes a call that would succeed but for
   the row's indices (or its NULL instance); the others say what they pass
   instead. ---- */

/* The result of a function returning a pointer and an error code. */
static int32_t
pointer_rv (const void *p, int32_t err)
{
  if (p)
    return RV_NOT_NULL;
  return err == OUT_ERR ? RV_ERR_UNSET : err;
}

/* rv, or RV_OUT_WRITTEN when the call failed and yet wrote its out-pointer
   (the header: out-pointers are written only on success). */
static int32_t
out_kept (int32_t rv, int kept)
{
  return rv != 0 && !kept ? RV_OUT_WRITTEN : rv;
}

static int32_t
call_buffer_get (world_t *w, const bad_case_t *c)
{
  int32_t err = OUT_ERR;
  void *b = vpp_ipfix_buffer_get (MAIN (w, c), c->e, c->r, c->t, &err);
  return pointer_rv (b, err);
}

/* error_out is optional: NULL must not be written through. */
static int32_t
buffer_get_no_error_out (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_buffer_get (MAIN (w, c), c->e, c->r, c->t, NULL) ?
	   RV_NOT_NULL :
	   RV_NULL;
}

static int32_t
call_buffer_send (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_buffer_send (MAIN (w, c), c->e, c->r, c->t);
}

static int32_t
reserve_size (world_t *w, const bad_case_t *c, uint16_t size)
{
  int32_t err = OUT_ERR;
  uint8_t *p =
    vpp_ipfix_record_reserve (MAIN (w, c), c->e, c->r, c->t, size, &err);
  return pointer_rv (p, err);
}

static int32_t
call_record_reserve (world_t *w, const bad_case_t *c)
{
  return reserve_size (w, c, FP_RECORD_SIZE);
}

/* Room for a record of v bytes. */
static int32_t
reserve_v (world_t *w, const bad_case_t *c)
{
  return reserve_size (w, c, (uint16_t) c->v);
}

static int32_t
reserve_no_error_out (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_record_reserve (MAIN (w, c), c->e, c->r, c->t,
				   FP_RECORD_SIZE, NULL) ?
	   RV_NOT_NULL :
	   RV_NULL;
}

static int32_t
call_record_append (world_t *w, const bad_case_t *c)
{
  uint8_t rec[FP_RECORD_SIZE];

  /* Never written by the rows' successful calls: a record let in by
     mistake shows in the decoded packets. */
  make_record (rec, c->t, 0xdead);
  return vpp_ipfix_record_append (MAIN (w, c), c->e, c->r, c->t, rec,
				  sizeof (rec));
}

/* record NULL, v bytes long. */
static int32_t
append_null_record (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_record_append (w->f.main, 0, 0, T_OK, NULL, c->v);
}

/* A record of v bytes (from a buffer that holds them, up to BIG_BUF; a
   longer v is a length no memory can hold, which the library must refuse
   without reading, as records_append does). */
static int32_t
append_len_v (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_record_append (w->f.main, 0, 0, T_OK, big_buf, c->v);
}

/* Records of `size` bytes, n of them, from `records`; *appended_out must
   say 0 went in. */
static int32_t
records_append (world_t *w, const bad_case_t *c, const uint8_t *records,
		uint16_t size, size_t n)
{
  size_t appended = OUT_U32;
  int32_t rv = vpp_ipfix_records_append (MAIN (w, c), c->e, c->r, c->t, records,
					 size, n, &appended);
  return appended == 0 ? rv : RV_WRONG;
}

static int32_t
call_records_append (world_t *w, const bad_case_t *c)
{
  uint8_t rec[FP_RECORD_SIZE];

  make_record (rec, c->t, 0xdead);
  return records_append (w, c, rec, FP_RECORD_SIZE, 1);
}

/* appended_out is optional: NULL must not be written through. */
static int32_t
records_append_no_out (world_t *w, const bad_case_t *c)
{
  uint8_t rec[FP_RECORD_SIZE];

  make_record (rec, c->t, 0xdead);
  return vpp_ipfix_records_append (MAIN (w, c), c->e, c->r, c->t, rec,
				   FP_RECORD_SIZE, 1, NULL);
}

/* records NULL, v of them. */
static int32_t
records_null (world_t *w, const bad_case_t *c)
{
  return records_append (w, c, NULL, FP_RECORD_SIZE, c->v);
}

/* One record of v bytes. */
static int32_t
records_size_v (world_t *w, const bad_case_t *c)
{
  return records_append (w, c, big_buf, (uint16_t) c->v, 1);
}

/* v records of 56 bytes: counts whose total passes the address space, so
   the library must refuse them without reading. */
static int32_t
records_count_v (world_t *w, const bad_case_t *c)
{
  return records_append (w, c, big_buf, FP_RECORD_SIZE, (size_t) c->v);
}

static int32_t
call_thread_flush_idle (world_t *w, const bad_case_t *c)
{
  uint32_t sent = OUT_U32;
  int32_t rv = vpp_ipfix_thread_flush_idle (MAIN (w, c), c->t, 0, &sent);
  return out_kept (rv, sent == OUT_U32);
}

static int32_t
flush_idle_no_out (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_thread_flush_idle (MAIN (w, c), c->t, 0, NULL);
}

static int32_t
flush_idle_nan (world_t *w, const bad_case_t *c)
{
  uint32_t sent = OUT_U32;
  int32_t rv = vpp_ipfix_thread_flush_idle (w->f.main, c->t, NAN, &sent);
  return out_kept (rv, sent == OUT_U32);
}

static int32_t
config_init_null (world_t *w, const bad_case_t *c)
{
  (void) w;
  (void) c;
  return vpp_ipfix_exporter_config_init (NULL);
}

/* Exporter settings that are wrong in the way v says. */
enum
{
  CFG_IP4_TO_IP6,
  CFG_IP6_TO_IP4,
  CFG_NO_SOURCE,
  CFG_FAMILY_2,
  CFG_FAMILY_255,
  CFG_INTERVAL_0,
  CFG_IP6_MTU_110, /* fits report 0's IPv4 template, not its IPv6 one */
};

static vpp_ipfix_exporter_config_t
bad_config (uint64_t v)
{
  vpp_ipfix_exporter_config_t c = ipv4_config (PATH_MTU);

  /* A collector no exporter has: a create taken by mistake shows. */
  c.collector = test_ip4 (127, 0, 0, 20);
  switch (v)
    {
    case CFG_IP4_TO_IP6:
      c.src_address = test_ip6 ("fd00::2");
      break;
    case CFG_IP6_TO_IP4:
      c.collector = test_ip6 ("fd00::20");
      break;
    case CFG_NO_SOURCE:
      memset (&c.src_address, 0, sizeof (c.src_address));
      break;
    case CFG_FAMILY_2:
      c.collector.version = 2;
      c.src_address.version = 2;
      break;
    case CFG_FAMILY_255:
      c.collector.version = 255;
      c.src_address.version = 255;
      break;
    case CFG_INTERVAL_0:
      c.template_interval = 0;
      break;
    case CFG_IP6_MTU_110:
      c.collector = test_ip6 ("fd00::20");
      c.src_address = test_ip6 ("fd00::2");
      c.path_mtu = 110;
      break;
    }
  return c;
}

static int32_t
call_exporter_set (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = ipv4_config (PATH_MTU);
  return vpp_ipfix_exporter_set (MAIN (w, c), c->e, &cfg);
}

static int32_t
set_null_config (world_t *w, const bad_case_t *c)
{
  (void) c;
  return vpp_ipfix_exporter_set (w->f.main, 0, NULL);
}

/* Exporter e with MTU v, its collector and source otherwise. */
static int32_t
set_mtu_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = ipv4_config ((uint32_t) c->v);

  /* Another exporter gets its own collector: exporter 0's session is taken. */
  if (c->e != 0)
    cfg.collector = test_ip4 (127, 0, 0, (uint8_t) (10 + c->e));
  return vpp_ipfix_exporter_set (w->f.main, c->e, &cfg);
}

/* Exporter 2 set to exporter 0's collector, port and source. */
static int32_t
set_session_of_0 (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = ipv4_config ((uint32_t) c->v);
  return vpp_ipfix_exporter_set (w->f.main, 2, &cfg);
}

static int32_t
set_config_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = bad_config (c->v);
  return vpp_ipfix_exporter_set (w->f.main, 0, &cfg);
}

static int32_t
create_rv (world_t *w, const vpp_ipfix_exporter_config_t *cfg)
{
  uint32_t idx = OUT_U32;
  int32_t rv = vpp_ipfix_exporter_create (w->f.main, cfg, &idx);
  return out_kept (rv, idx == OUT_U32);
}

static int32_t
call_exporter_create (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = bad_config (~0ull);
  uint32_t idx = OUT_U32;
  int32_t rv = vpp_ipfix_exporter_create (MAIN (w, c), &cfg, &idx);
  return out_kept (rv, idx == OUT_U32);
}

static int32_t
create_null_config (world_t *w, const bad_case_t *c)
{
  (void) c;
  return create_rv (w, NULL);
}

static int32_t
create_null_out (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = bad_config (~0ull);
  (void) c;
  return vpp_ipfix_exporter_create (w->f.main, &cfg, NULL);
}

/* A new collector with MTU v. */
static int32_t
create_mtu_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = bad_config (~0ull);
  cfg.path_mtu = (uint32_t) c->v;
  return create_rv (w, &cfg);
}

/* Exporter 0's collector (VPP's create updates that exporter) with MTU v. */
static int32_t
create_existing_mtu_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = ipv4_config ((uint32_t) c->v);
  return create_rv (w, &cfg);
}

static int32_t
create_config_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = bad_config (c->v);
  return create_rv (w, &cfg);
}

/* Every slot taken (1, 3 and 4 filled here), then one more; the three are
   deleted again, which must give back the state from before. */
static int32_t
create_when_full (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_exporter_config_t cfg = ipv4_config (PATH_MTU);
  static const uint32_t fill[] = { 1, 3, 4 };
  uint32_t k, idx;
  int32_t rv;

  (void) c;
  for (k = 0; k < 3; k++)
    {
      cfg.collector = test_ip4 (127, 0, 1, (uint8_t) k);
      if (vpp_ipfix_exporter_create (w->f.main, &cfg, &idx) || idx != fill[k])
	return RV_SETUP;
    }
  cfg.collector = test_ip4 (127, 0, 1, 99);
  rv = create_rv (w, &cfg);
  for (k = 0; k < 3; k++)
    if (vpp_ipfix_exporter_delete (w->f.main, fill[k]))
      return RV_SETUP;
  return rv;
}

static int32_t
call_exporter_delete (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_exporter_delete (MAIN (w, c), c->e);
}

static int32_t
lookup_rv (world_t *w, const bad_case_t *c, const ip_address_t *a)
{
  uint32_t idx = OUT_U32;
  int32_t rv = vpp_ipfix_exporter_lookup (MAIN (w, c), a, &idx);
  return out_kept (rv, idx == OUT_U32);
}

static int32_t
call_exporter_lookup (world_t *w, const bad_case_t *c)
{
  ip_address_t a = test_ip4 (127, 0, 0, 1);
  return lookup_rv (w, c, &a);
}

static int32_t
lookup_null_collector (world_t *w, const bad_case_t *c)
{
  return lookup_rv (w, c, NULL);
}

static int32_t
lookup_null_out (world_t *w, const bad_case_t *c)
{
  ip_address_t a = test_ip4 (127, 0, 0, 1);
  (void) c;
  return vpp_ipfix_exporter_lookup (w->f.main, &a, NULL);
}

/* Collectors no exporter in use has. */
static int32_t
lookup_v (world_t *w, const bad_case_t *c)
{
  ip_address_t a;

  switch (c->v)
    {
    case 0: /* the deleted exporter's */
      a = test_ip4 (127, 0, 0, 9);
      break;
    case 1:
      a = test_ip6 ("::1");
      break;
    default: /* exporter 0's bytes, marked IPv6 */
      a = test_ip4 (127, 0, 0, 1);
      a.version = 1;
      break;
    }
  return lookup_rv (w, c, &a);
}

static int32_t
call_exporter_get (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_exporter_get (MAIN (w, c), c->e) ? RV_NOT_NULL : RV_NULL;
}

static int32_t
index_rv (world_t *w, const bad_case_t *c, const ipfix_exporter_t *exp)
{
  uint32_t idx = OUT_U32;
  int32_t rv = vpp_ipfix_exporter_index (MAIN (w, c), exp, &idx);
  return out_kept (rv, idx == OUT_U32);
}

static int32_t
call_exporter_index (world_t *w, const bad_case_t *c)
{
  return index_rv (w, c, vpp_ipfix_exporter_get (w->f.main, 0));
}

static int32_t
index_null_exp (world_t *w, const bad_case_t *c)
{
  return index_rv (w, c, NULL);
}

static int32_t
index_null_out (world_t *w, const bad_case_t *c)
{
  (void) c;
  return vpp_ipfix_exporter_index (w->f.main,
				   vpp_ipfix_exporter_get (w->f.main, 0), NULL);
}

/* Pointers that are not an exporter in use (compared, never read). */
static int32_t
index_v (world_t *w, const bad_case_t *c)
{
  const ipfix_exporter_t *exp0 = vpp_ipfix_exporter_get (w->f.main, 0);
  ipfix_exporter_t local;

  memset (&local, 0, sizeof (local));
  switch (c->v)
    {
    case 0:
      return index_rv (w, c, w->deleted_exp);
    case 1: /* one byte into exporter 0 */
      return index_rv (w, c,
		       (const ipfix_exporter_t *) ((const char *) exp0 + 1));
    case 2: /* just past the five slots */
      return index_rv (w, c, exp0 + 5);
    default:
      return index_rv (w, c, &local);
    }
}

static int32_t
call_exporter_sizes (world_t *w, const bad_case_t *c)
{
  uint32_t nr = OUT_U32, ns = OUT_U32;
  int32_t rv = vpp_ipfix_exporter_sizes (MAIN (w, c), c->e, &nr, &ns);
  return out_kept (rv, nr == OUT_U32 && ns == OUT_U32);
}

static int32_t
sizes_no_out (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_exporter_sizes (MAIN (w, c), c->e, NULL, NULL);
}

static int
counters_kept (const vpp_ipfix_counters_t *k)
{
  vpp_ipfix_counters_t fresh;

  memset (&fresh, 0x5a, sizeof (fresh));
  return memcmp (k, &fresh, sizeof (fresh)) == 0;
}

static int32_t
call_exporter_counters (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_counters_t k;
  int32_t rv;

  memset (&k, 0x5a, sizeof (k));
  rv = vpp_ipfix_exporter_counters (MAIN (w, c), c->e, &k);
  return out_kept (rv, counters_kept (&k));
}

static int32_t
exporter_counters_null_out (world_t *w, const bad_case_t *c)
{
  (void) c;
  return vpp_ipfix_exporter_counters (w->f.main, 0, NULL);
}

/* The main_out's starting value: no instance can be there. */
static char no_main;
#define NO_MAIN ((vpp_ipfix_main_t *) &no_main)

/* rv, or RV_OUT_WRITTEN when a failed create wrote *main_out. An instance
   created by mistake is destroyed: the row fails on its code, not on a
   leak. */
static int32_t
created_rv (int32_t rv, vpp_ipfix_main_t *m)
{
  if (m != NO_MAIN)
    {
      vpp_ipfix_main_destroy (m);
      return rv ? RV_OUT_WRITTEN : rv;
    }
  return rv;
}

/* An ops function the library must never call. */
static void *
never_vec_resize (void *ctx, void *vec, uint32_t new_len, uint32_t elt_size,
		  uint32_t align, uint32_t header_bytes)
{
  (void) ctx;
  (void) vec;
  (void) new_len;
  (void) elt_size;
  (void) align;
  (void) header_bytes;
  abort ();
}

static int32_t
main_create_null_ops (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_main_t *m = NO_MAIN;
  int32_t rv = vpp_ipfix_main_create (NULL, N_THREADS, 0, &m);
  (void) w;
  (void) c;
  return created_rv (rv, m);
}

static int32_t
main_create_null_out (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_ops_t ops = test_host_ops (w->f.host);
  (void) c;
  return vpp_ipfix_main_create (&ops, N_THREADS, 0, NULL);
}

/* The host's ops without function v (6: vec_resize without vec_free; 7: none
   of the four allocation functions). Without buffer_alloc_packet, which
   replaces the three allocation functions when set. */
static int32_t
main_create_ops_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_ops_t ops = test_host_ops_separate (w->f.host);
  vpp_ipfix_main_t *m = NO_MAIN;
  int32_t rv;

  switch (c->v)
    {
    case 0:
      ops.buffer_alloc = NULL;
      break;
    case 1:
      ops.buffer_free = NULL;
      break;
    case 2:
      ops.buffer_data = NULL;
      break;
    case 3:
      ops.buffer_capacity = NULL;
      break;
    case 4:
      ops.enqueue = NULL;
      break;
    case 5:
      ops.now = NULL;
      break;
    case 6:
      ops.vec_resize = never_vec_resize;
      break;
    default:
      ops.buffer_alloc = NULL;
      ops.buffer_data = NULL;
      ops.buffer_capacity = NULL;
      break;
    }
  rv = vpp_ipfix_main_create (&ops, N_THREADS, 0, &m);
  return created_rv (rv, m);
}

/* v: threads in the high 32 bits, exporter slots in the low. */
static int32_t
main_create_sizes_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_ops_t ops = test_host_ops (w->f.host);
  vpp_ipfix_main_t *m = NO_MAIN;
  int32_t rv =
    vpp_ipfix_main_create (&ops, (uint32_t) (c->v >> 32), (uint32_t) c->v, &m);
  return created_rv (rv, m);
}

#define SIZES(threads, exporters) (((uint64_t) (threads) << 32) | (exporters))

/* A path in /tmp no other process uses. */
static void
tmp_path (char *path, size_t len, const char *ext)
{
  snprintf (path, len, "/tmp/bad_input_matrix-%d.%s", (int) getpid (), ext);
  unlink (path);
}

/* rv, or RV_FILE_LEFT when the failed call created `path` anyway. */
static int32_t
no_file_left (int32_t rv, const char *path)
{
  struct stat st;

  if (stat (path, &st) == 0)
    {
      unlink (path);
      return rv ? RV_FILE_LEFT : rv;
    }
  return rv;
}

static int32_t
pcap_null_path (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_main_t *m = NO_MAIN;
  int32_t rv = vpp_ipfix_main_create_pcap (NULL, N_THREADS, 0, &m);
  (void) w;
  (void) c;
  return created_rv (rv, m);
}

static int32_t
pcap_null_out (world_t *w, const bad_case_t *c)
{
  char path[96];
  (void) w;
  (void) c;
  tmp_path (path, sizeof (path), "pcap");
  return no_file_left (vpp_ipfix_main_create_pcap (path, N_THREADS, 0, NULL),
		       path);
}

/* A path that cannot be created (v 0) or is not UTF-8 (v 1). */
static int32_t
pcap_path_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_main_t *m = NO_MAIN;
  char path[96];
  int32_t rv;

  (void) w;
  if (c->v == 0)
    snprintf (path, sizeof (path), "/nonexistent-dir/x.pcap");
  else
    snprintf (path, sizeof (path), "/tmp/bad_input_matrix-%d-\xff.pcap",
	      (int) getpid ());
  unlink (path);
  rv = vpp_ipfix_main_create_pcap (path, N_THREADS, 0, &m);
  return no_file_left (created_rv (rv, m), path);
}

/* Sizes as main_create_sizes_v; the file must not be created (nor an old
   one truncated). */
static int32_t
pcap_sizes_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_main_t *m = NO_MAIN;
  char path[96];
  int32_t rv;

  (void) w;
  tmp_path (path, sizeof (path), "pcap");
  rv = vpp_ipfix_main_create_pcap (path, (uint32_t) (c->v >> 32),
				   (uint32_t) c->v, &m);
  return no_file_left (created_rv (rv, m), path);
}

static int32_t
standalone_null_config (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_main_t *m = NO_MAIN;
  int32_t rv = vpp_ipfix_main_create_standalone (NULL, &m);
  (void) w;
  (void) c;
  return created_rv (rv, m);
}

static int32_t
standalone_null_out (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_standalone_config_t sc;
  char path[96];

  (void) w;
  (void) c;
  tmp_path (path, sizeof (path), "pcap");
  memset (&sc, 0, sizeof (sc));
  sc.n_threads = N_THREADS;
  sc.pcap_path = path;
  return no_file_left (vpp_ipfix_main_create_standalone (&sc, NULL), path);
}

/* Standalone settings, wrong as v says. */
enum
{
  SA_NO_OUTPUT,
  SA_BAD_PCAP,
  SA_BAD_IPFIX_FILE,
  SA_THREADS_0,
  SA_THREADS_1025,
  SA_EXPORTERS_65,
};

static int32_t
standalone_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_standalone_config_t sc;
  vpp_ipfix_main_t *m = NO_MAIN;
  char path[96];
  int32_t rv;

  (void) w;
  tmp_path (path, sizeof (path), "ipfix");
  memset (&sc, 0, sizeof (sc));
  sc.n_threads = N_THREADS;
  sc.ipfix_file_path = path;
  switch (c->v)
    {
    case SA_NO_OUTPUT:
      sc.ipfix_file_path = NULL;
      break;
    case SA_BAD_PCAP:
      /* The only output: what a file left behind says is beside the
	 point. */
      sc.ipfix_file_path = NULL;
      sc.pcap_path = "/nonexistent-dir/x.pcap";
      break;
    case SA_BAD_IPFIX_FILE:
      sc.ipfix_file_path = "/nonexistent-dir/x.ipfix";
      break;
    case SA_THREADS_0:
      sc.n_threads = 0;
      sc.udp = 1;
      break;
    case SA_THREADS_1025:
      sc.n_threads = 1025;
      sc.udp = 1;
      break;
    case SA_EXPORTERS_65:
      sc.max_exporters = 65;
      sc.udp = 1;
      break;
    }
  rv = vpp_ipfix_main_create_standalone (&sc, &m);
  return no_file_left (created_rv (rv, m), path);
}

static int32_t
destroy_null (world_t *w, const bad_case_t *c)
{
  (void) w;
  (void) c;
  vpp_ipfix_main_destroy (NULL);
  return 0;
}

/* C cannot hand a freed pointer back without undefined behaviour: the
   second destroy it can write is of the pointer cleared after the first,
   which the header says is ignored. On an instance of its own. */
static int32_t
destroy_twice (world_t *w, const bad_case_t *c)
{
  test_host_t *host = test_host_create ();
  vpp_ipfix_main_t *m = NULL;
  vpp_ipfix_ops_t ops;
  int32_t rv = RV_SETUP;

  (void) w;
  (void) c;
  if (!host)
    return RV_SETUP;
  ops = test_host_ops (host);
  if (vpp_ipfix_main_create (&ops, 1, 0, &m) == 0)
    {
      vpp_ipfix_main_destroy (m);
      m = NULL;
      vpp_ipfix_main_destroy (m);
      rv =
	test_host_live_buffers (host) || test_host_errors (host) ? RV_WRONG : 0;
    }
  test_host_destroy (host);
  return rv;
}

static int32_t
call_flush (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_flush (MAIN (w, c));
}

static int32_t
call_templates_send_due (world_t *w, const bad_case_t *c)
{
  uint32_t sent = OUT_U32;
  double next = -1;
  int32_t rv = vpp_ipfix_templates_send_due (MAIN (w, c), &sent, &next);
  return out_kept (rv, sent == OUT_U32 && next == -1);
}

static int32_t
templates_send_due_no_out (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_templates_send_due (MAIN (w, c), NULL, NULL);
}

static int32_t
call_main_n_threads (world_t *w, const bad_case_t *c)
{
  return (int32_t) vpp_ipfix_main_n_threads (MAIN (w, c));
}

/* Error number v, which the library never returns. */
static int32_t
strerror_v (world_t *w, const bad_case_t *c)
{
  const char *s = vpp_ipfix_strerror ((int32_t) (int64_t) c->v);
  (void) w;
  return s && strcmp (s, "unknown error") == 0 ? 0 : RV_WRONG;
}

/* An add of a new report on a new stream, fine but for the row's indices;
   neither out-value may be written. */
static int32_t
add_del_rv (world_t *w, const bad_case_t *c, vnet_flow_report_add_del_args_t *a)
{
  uint16_t tid = OUT_U16;
  int32_t rv;

  a->flow_report_index = OUT_U32;
  rv = vpp_ipfix_report_add_del (MAIN (w, c), c->e, a, &tid);
  return out_kept (rv, tid == OUT_U16 && a->flow_report_index == OUT_U32);
}

static vnet_flow_report_add_del_args_t
new_report_args (void)
{
  vnet_flow_report_add_del_args_t a;

  memset (&a, 0, sizeof (a));
  a.report_elements = fp_elts;
  a.n_report_elements = FP_N_ELTS;
  a.opaque.as_uword = 3;
  a.is_add = 1;
  a.domain_id = 3;
  a.src_port = 30003;
  return a;
}

static int32_t
call_report_add_del (world_t *w, const bad_case_t *c)
{
  vnet_flow_report_add_del_args_t a = new_report_args ();
  return add_del_rv (w, c, &a);
}

static int32_t
add_del_no_out (world_t *w, const bad_case_t *c)
{
  vnet_flow_report_add_del_args_t a = new_report_args ();
  return vpp_ipfix_report_add_del (MAIN (w, c), c->e, &a, NULL);
}

static int32_t
add_del_null_args (world_t *w, const bad_case_t *c)
{
  uint16_t tid = OUT_U16;
  int32_t rv = vpp_ipfix_report_add_del (w->f.main, c->e, NULL, &tid);
  return out_kept (rv, tid == OUT_U16);
}

static int32_t
add_del_null_elements (world_t *w, const bad_case_t *c)
{
  vnet_flow_report_add_del_args_t a = new_report_args ();
  a.report_elements = NULL;
  return add_del_rv (w, c, &a);
}

/* v elements, 4 bytes each (the count alone must be refused when huge: the
   array holds MANY). */
static int32_t
add_del_n_v (world_t *w, const bad_case_t *c)
{
  vnet_flow_report_add_del_args_t a = new_report_args ();
  a.report_elements = many_elts;
  a.n_report_elements = (uint32_t) c->v;
  return add_del_rv (w, c, &a);
}

/* One element, wrong as v says. */
enum
{
  ELT_SIZE_0,
  ELT_ID_0X8000,
  ELT_SIZE_65536,
  ELT_SIZE_465,	 /* exporter 0: one byte past MAX_RECORD */
  ELT_SIZE_1383, /* exporter 2, no collector: one byte past 1450 over IPv6 */
  ELT_PEN_58,	 /* 58 enterprise-specific fields, 8 bytes each in the
		    template: one past MTU 512 */
};

static int32_t
add_del_element_v (world_t *w, const bad_case_t *c)
{
  vnet_flow_report_add_del_args_t a = new_report_args ();
  ipfix_report_element_t elt = { 2, 8 };

  switch (c->v)
    {
    case ELT_SIZE_0:
      elt.size = 0;
      break;
    case ELT_ID_0X8000:
      elt.info_element = 0x8000;
      break;
    case ELT_SIZE_65536:
      elt.size = 65536;
      break;
    case ELT_SIZE_465:
      elt.size = MAX_RECORD + 1;
      break;
    default:
      elt.size = 1450 - 68 + 1;
      break;
    }
  a.report_elements = &elt;
  a.n_report_elements = 1;
  return add_del_rv (w, c, &a);
}

/* Stream keys and identities, wrong as v says. */
enum
{
  KEY_DOMAIN_OTHER_PORT, /* domain 1 with another port */
  KEY_PORT_OTHER_DOMAIN, /* port 30001 with another domain */
  KEY_DOMAIN_FREE,	 /* domain ~0, VPP's mark of a free stream slot */
  KEY_EXISTS,		 /* report 0 again */
  KEY_NEVER_ADDED,	 /* delete of a report never added */
  KEY_DELETED,		 /* delete of the report deleted in the known state */
};

static void
key_args (vnet_flow_report_add_del_args_t *a, uint64_t v)
{
  switch (v)
    {
    case KEY_DOMAIN_OTHER_PORT:
      a->domain_id = DOMAIN;
      a->src_port = 30009;
      break;
    case KEY_PORT_OTHER_DOMAIN:
      a->domain_id = 9;
      a->src_port = SRC_PORT;
      break;
    case KEY_DOMAIN_FREE:
      a->domain_id = UINT32_MAX;
      break;
    case KEY_EXISTS:
      a->domain_id = DOMAIN;
      a->src_port = SRC_PORT;
      a->opaque.as_uword = 1;
      break;
    case KEY_NEVER_ADDED:
      a->is_add = 0;
      a->domain_id = DOMAIN;
      a->src_port = SRC_PORT;
      a->opaque.as_uword = 99;
      break;
    case KEY_DELETED:
      a->is_add = 0;
      a->domain_id = 2;
      a->src_port = 30002;
      a->opaque.as_uword = 2;
      break;
    }
}

static int32_t
add_del_key_v (world_t *w, const bad_case_t *c)
{
  vnet_flow_report_add_del_args_t a = new_report_args ();
  uint16_t tid = OUT_U16;
  int32_t rv;

  key_args (&a, c->v);
  if (c->v != KEY_EXISTS)
    return add_del_rv (w, c, &a);
  /* The header: -81, and the existing report's template id is written. */
  a.flow_report_index = OUT_U32;
  rv = vpp_ipfix_report_add_del (w->f.main, 0, &a, &tid);
  return tid == TEMPLATE_ID ? rv : RV_WRONG;
}

static int32_t
report_add_rv (world_t *w, const bad_case_t *c, vpp_ipfix_report_config_t *rc)
{
  uint32_t idx = OUT_U32;
  uint16_t tid = OUT_U16;
  int32_t rv = vpp_ipfix_report_add (MAIN (w, c), c->e, rc, &idx, &tid);
  return out_kept (rv, idx == OUT_U32 && tid == OUT_U16);
}

static vpp_ipfix_field_t two_fields[2] = { { 8, 4, 0 }, { 1, 8, 0 } };

static vpp_ipfix_report_config_t
new_report_config (void)
{
  vpp_ipfix_report_config_t rc;

  memset (&rc, 0, sizeof (rc));
  rc.domain_id = 3;
  rc.src_port = 30003;
  rc.fields = two_fields;
  rc.n_fields = 2;
  rc.opaque.as_uword = 3;
  return rc;
}

static int32_t
call_report_add (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_report_config_t rc = new_report_config ();
  return report_add_rv (w, c, &rc);
}

static int32_t
report_add_no_out (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_report_config_t rc = new_report_config ();
  return vpp_ipfix_report_add (MAIN (w, c), c->e, &rc, NULL, NULL);
}

static int32_t
report_add_null_config (world_t *w, const bad_case_t *c)
{
  return report_add_rv (w, c, NULL);
}

static int32_t
report_add_null_fields (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_report_config_t rc = new_report_config ();
  rc.fields = NULL;
  return report_add_rv (w, c, &rc);
}

/* v fields of 4 bytes, as add_del_n_v. */
static int32_t
report_add_n_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_report_config_t rc = new_report_config ();
  rc.fields = many_fields;
  rc.n_fields = (uint32_t) c->v;
  return report_add_rv (w, c, &rc);
}

/* Fields wrong as v says (ELT_SIZE_0, ELT_ID_0X8000, ELT_SIZE_465,
   ELT_PEN_58). */
static int32_t
report_add_field_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_report_config_t rc = new_report_config ();
  static vpp_ipfix_field_t pen[58];
  vpp_ipfix_field_t f = { 2, 8, 0 };
  uint32_t k;

  rc.fields = &f;
  rc.n_fields = 1;
  switch (c->v)
    {
    case ELT_SIZE_0:
      f.length = 0;
      break;
    case ELT_ID_0X8000:
      f.element_id = 0x8000;
      break;
    case ELT_SIZE_465:
      f.length = MAX_RECORD + 1;
      break;
    default:
      for (k = 0; k < 58; k++)
	{
	  pen[k].element_id = (uint16_t) (1 + k);
	  pen[k].length = 4;
	  pen[k].enterprise_number = 6871;
	}
      rc.fields = pen;
      rc.n_fields = 58;
      break;
    }
  return report_add_rv (w, c, &rc);
}

/* KEY_DOMAIN_OTHER_PORT, KEY_PORT_OTHER_DOMAIN, KEY_DOMAIN_FREE and
   KEY_EXISTS, as add_del_key_v. */
static int32_t
report_add_key_v (world_t *w, const bad_case_t *c)
{
  vnet_flow_report_add_del_args_t a = new_report_args ();
  vpp_ipfix_report_config_t rc = new_report_config ();
  uint16_t tid = OUT_U16;
  int32_t rv;

  key_args (&a, c->v);
  rc.domain_id = a.domain_id;
  rc.src_port = a.src_port;
  rc.opaque = a.opaque;
  if (c->v != KEY_EXISTS)
    return report_add_rv (w, c, &rc);
  rv = vpp_ipfix_report_add (w->f.main, 0, &rc, NULL, &tid);
  return tid == TEMPLATE_ID ? rv : RV_WRONG;
}

static int32_t
report_delete_rv (world_t *w, const bad_case_t *c, uint32_t domain,
		  uint16_t port, uintptr_t opaque)
{
  opaque_t op;
  uint16_t tid = OUT_U16;
  int32_t rv;

  op.as_uword = opaque;
  rv = vpp_ipfix_report_delete (MAIN (w, c), c->e, domain, port, op, &tid);
  return out_kept (rv, tid == OUT_U16);
}

/* Report 0's key: deleted but for the row's indices. */
static int32_t
call_report_delete (world_t *w, const bad_case_t *c)
{
  return report_delete_rv (w, c, DOMAIN, SRC_PORT, 1);
}

static int32_t
report_delete_no_out (world_t *w, const bad_case_t *c)
{
  opaque_t op;

  op.as_uword = 1;
  return vpp_ipfix_report_delete (MAIN (w, c), c->e, DOMAIN, SRC_PORT, op,
				  NULL);
}

static int32_t
report_delete_key_v (world_t *w, const bad_case_t *c)
{
  vnet_flow_report_add_del_args_t a = new_report_args ();

  key_args (&a, c->v);
  return report_delete_rv (w, c, a.domain_id, a.src_port, a.opaque.as_uword);
}

static int32_t
call_reports_reset (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_reports_reset (MAIN (w, c), c->e);
}

static int32_t
call_stream_reset (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_stream_reset (MAIN (w, c), c->e, c->s);
}

/* Stream 0 re-keyed to (5, 30005): fine but for the row's indices. */
static int32_t
call_stream_change (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_stream_change (MAIN (w, c), c->e, DOMAIN, SRC_PORT, 5,
				  30005);
}

/* Keys wrong as v says, on exporter e. */
enum
{
  CHANGE_UNKNOWN_OLD, /* no stream has the old key */
  CHANGE_FREED_OLD,   /* the old key is the freed stream's */
  CHANGE_NEW_DOMAIN,  /* exporter 2: the new domain is the other stream's */
  CHANGE_NEW_PORT,    /* exporter 2: the new port is the other stream's */
  CHANGE_NEW_FREE,    /* new domain ~0 */
};

static int32_t
stream_change_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_main_t *m = w->f.main;

  switch (c->v)
    {
    case CHANGE_UNKNOWN_OLD:
      return vpp_ipfix_stream_change (m, c->e, 7, 30007, 5, 30005);
    case CHANGE_FREED_OLD:
      return vpp_ipfix_stream_change (m, c->e, 2, 30002, 5, 30005);
    case CHANGE_NEW_DOMAIN:
      return vpp_ipfix_stream_change (m, c->e, 1, 30001, 2, 30009);
    case CHANGE_NEW_PORT:
      return vpp_ipfix_stream_change (m, c->e, 1, 30001, 9, 30002);
    default:
      return vpp_ipfix_stream_change (m, c->e, DOMAIN, SRC_PORT, UINT32_MAX,
				      30005);
    }
}

static int32_t
call_report_get (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_report_get (MAIN (w, c), c->e, c->r) ? RV_NOT_NULL : RV_NULL;
}

static int32_t
call_stream_get (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_stream_get (MAIN (w, c), c->e, c->s) ? RV_NOT_NULL : RV_NULL;
}

static int32_t
call_report_counters (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_counters_t k;
  int32_t rv;

  memset (&k, 0x5a, sizeof (k));
  rv = vpp_ipfix_report_counters (MAIN (w, c), c->e, c->r, &k);
  return out_kept (rv, counters_kept (&k));
}

static int32_t
report_counters_null_out (world_t *w, const bad_case_t *c)
{
  (void) c;
  return vpp_ipfix_report_counters (w->f.main, 0, 0, NULL);
}

static int32_t
call_template_send (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_template_send (MAIN (w, c), c->e, c->r);
}

static int32_t
report_template_rv (world_t *w, const bad_case_t *c, uint8_t *out,
		    uint32_t capacity, int with_length)
{
  uint32_t len = OUT_U32;
  int32_t rv = vpp_ipfix_report_template (MAIN (w, c), c->e, c->r, out,
					  capacity, with_length ? &len : NULL);
  return out_kept (rv, len == OUT_U32);
}

static int32_t
call_report_template (world_t *w, const bad_case_t *c)
{
  uint8_t out[2048];
  return report_template_rv (w, c, out, sizeof (out), 1);
}

static int32_t
report_template_null_out (world_t *w, const bad_case_t *c)
{
  return report_template_rv (w, c, NULL, 2048, 1);
}

static int32_t
report_template_null_length (world_t *w, const bad_case_t *c)
{
  uint8_t out[2048];
  return report_template_rv (w, c, out, sizeof (out), 0);
}

/* Room for v bytes only: a refused copy writes none of them. */
static int32_t
report_template_capacity_v (world_t *w, const bad_case_t *c)
{
  uint8_t out[2048], fresh[2048];
  int32_t rv;

  memset (out, 0x5a, sizeof (out));
  memset (fresh, 0x5a, sizeof (fresh));
  rv = report_template_rv (w, c, out, (uint32_t) c->v, 1);
  return memcmp (out, fresh, sizeof (out)) == 0 || rv == 0 ? rv : RV_WRONG;
}

static int32_t
call_template_is_due (world_t *w, const bad_case_t *c)
{
  uint8_t due = 0x5a;
  int32_t rv = vpp_ipfix_template_is_due (MAIN (w, c), c->e, c->r,
					  test_host_now (w->f.host), &due);
  return out_kept (rv, due == 0x5a);
}

static int32_t
template_is_due_null_out (world_t *w, const bad_case_t *c)
{
  (void) c;
  return vpp_ipfix_template_is_due (w->f.main, 0, 0, test_host_now (w->f.host),
				    NULL);
}

/* A timer that never fires within a case: an hour between rounds and for
   a packet to age. */
#define TIMER_QUIET 3600.0

static int32_t
call_timer_start (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_timer_start (MAIN (w, c), TIMER_QUIET, TIMER_QUIET);
}

/* max_age and period wrong as v says. */
static int32_t
timer_start_v (world_t *w, const bad_case_t *c)
{
  static const double bad[][2] = {
    { -1, TIMER_QUIET }, { NAN, TIMER_QUIET }, { INFINITY, TIMER_QUIET },
    { TIMER_QUIET, -1 }, { TIMER_QUIET, NAN }, { TIMER_QUIET, INFINITY },
  };
  int32_t rv = vpp_ipfix_timer_start (w->f.main, bad[c->v][0], bad[c->v][1]);

  /* Started by mistake: stopped, so the row fails on its code alone. */
  if (rv == 0)
    vpp_ipfix_timer_stop (w->f.main);
  return rv;
}

/* With the background timer running: calls the header says it refuses. */
enum
{
  TIMER_BUFFER_GET,
  TIMER_RECORD_RESERVE,
  TIMER_TEMPLATES_SEND_DUE,
  TIMER_START,
  TIMER_STOP_TWICE,
};

static int32_t
with_timer_v (world_t *w, const bad_case_t *c)
{
  vpp_ipfix_main_t *m = w->f.main;
  uint32_t sent = OUT_U32;
  int32_t rv, err = OUT_ERR;
  void *p;

  if (vpp_ipfix_timer_start (m, TIMER_QUIET, TIMER_QUIET))
    return RV_SETUP;
  switch (c->v)
    {
    case TIMER_BUFFER_GET:
      p = vpp_ipfix_buffer_get (m, 0, 0, T_OK, &err);
      rv = pointer_rv (p, err);
      break;
    case TIMER_RECORD_RESERVE:
      p = vpp_ipfix_record_reserve (m, 0, 0, T_OK, FP_RECORD_SIZE, &err);
      rv = pointer_rv (p, err);
      break;
    case TIMER_TEMPLATES_SEND_DUE:
      rv = vpp_ipfix_templates_send_due (m, &sent, NULL);
      rv = out_kept (rv, sent == OUT_U32);
      break;
    case TIMER_START:
      rv = vpp_ipfix_timer_start (m, TIMER_QUIET, TIMER_QUIET);
      break;
    default:
      if (vpp_ipfix_timer_stop (m))
	return RV_SETUP;
      return vpp_ipfix_timer_stop (m);
    }
  if (vpp_ipfix_timer_stop (m))
    return RV_SETUP;
  return rv;
}

static int32_t
call_timer_stop (world_t *w, const bad_case_t *c)
{
  return vpp_ipfix_timer_stop (MAIN (w, c));
}

/* ---- The table. ---- */

#define CASE(fn, cls, arg, call, null_main, e, r, s, t, v, rv)                 \
  {                                                                            \
#fn, cls, arg, call, null_main, e, r, s, t, v, rv                          \
  }

/* call with value v, every index valid. */
#define ROW(fn, cls, arg, call, v, rv)                                         \
  CASE (fn, cls, arg, call, 0, 0, 0, 0, T_OK, v, rv)

/* call with the instance NULL. */
#define ROW_NULL_MAIN(fn, call, rv)                                            \
  CASE (fn, C_NULL, "main NULL", call, 1, 0, 0, 0, T_OK, 0, rv)

/* call_<fn> with these indices. */
#define AT(fn, cls, arg, e, r, s, t, rv)                                       \
  CASE (fn, cls, arg, call_##fn, 0, e, r, s, t, 0, rv)

#define NULL_MAIN(fn, rv) ROW_NULL_MAIN (fn, call_##fn, rv)

/* The index classes, crossed with every function taking that index. */
#define BAD_EXPORTERS(fn, rv)                                                  \
  AT (fn, C_EXPORTER_DELETED, "exporter 1 (deleted), on its last user thread", \
      1, 0, 0, T_OK, rv),                                                      \
    AT (fn, C_EXPORTER_RANGE, "exporter 3 (slot never used)", 3, 0, 0, T_OK,   \
	rv),                                                                   \
    AT (fn, C_EXPORTER_RANGE, "exporter 5 (= slot count)", 5, 0, 0, T_OK, rv), \
    AT (fn, C_EXPORTER_RANGE, "exporter ~0", UINT32_MAX, 0, 0, T_OK, rv)

#define BAD_REPORTS(fn, rv)                                                    \
  AT (fn, C_REPORT_DELETED, "report 1 (deleted), on thread 0, its last user",  \
      0, 1, 0, 0, rv),                                                         \
    AT (fn, C_REPORT_RANGE, "report 7", 0, 7, 0, T_OK, rv),                    \
    AT (fn, C_REPORT_RANGE, "report ~0", 0, UINT32_MAX, 0, T_OK, rv)

#define BAD_STREAMS(fn, rv)                                                    \
  AT (fn, C_STREAM_DELETED, "stream 1 (freed slot)", 0, 0, 1, T_OK, rv),       \
    AT (fn, C_STREAM_RANGE, "stream 2 (= slot count)", 0, 0, 2, T_OK, rv),     \
    AT (fn, C_STREAM_RANGE, "stream ~0", 0, 0, UINT32_MAX, T_OK, rv)

#define BAD_THREADS(fn, rv)                                                    \
  AT (fn, C_THREAD, "thread 2 (= thread count)", 0, 0, 0, N_THREADS, rv),      \
    AT (fn, C_THREAD, "thread 1024", 0, 0, 0, 1024, rv),                       \
    AT (fn, C_THREAD, "thread ~0", 0, 0, 0, UINT32_MAX, rv)

/* Exporter 2 has no collector yet: data and templates come too early. */
#define NO_COLLECTOR(fn, rv)                                                   \
  AT (fn, C_WRONG_ORDER, "exporter 2 before it has a collector", 2, 0, 0,      \
      T_OK, rv)

/* The codes, by the header's names. */
#define NO_SUCH_ENTRY	 VPP_IPFIX_ERROR_NO_SUCH_ENTRY
#define INVALID_VALUE	 VPP_IPFIX_ERROR_INVALID_VALUE
#define INVALID_ARGUMENT VPP_IPFIX_ERROR_INVALID_ARGUMENT
#define VALUE_EXIST	 VPP_IPFIX_ERROR_VALUE_EXIST
#define INVALID_WORKER	 VPP_IPFIX_ERROR_INVALID_WORKER
#define ADDRESS_FAMILY	 VPP_IPFIX_ERROR_INVALID_ADDRESS_FAMILY
#define DISABLED	 VPP_IPFIX_ERROR_EXPORTER_DISABLED
#define NULL_POINTER	 VPP_IPFIX_ERROR_NULL_POINTER
#define RECORD_TOO_BIG	 VPP_IPFIX_ERROR_RECORD_TOO_BIG
#define TEMPLATE_TOO_BIG VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG
#define BUFFER_TOO_SMALL VPP_IPFIX_ERROR_BUFFER_TOO_SMALL
#define TIMER_RUNNING	 VPP_IPFIX_ERROR_TIMER_RUNNING

static const bad_case_t cases[] = {
  /* The per-thread data path. */
  NULL_MAIN (buffer_get, NULL_POINTER),
  ROW_NULL_MAIN (buffer_get, buffer_get_no_error_out, RV_NULL),
  BAD_EXPORTERS (buffer_get, NO_SUCH_ENTRY),
  BAD_REPORTS (buffer_get, NO_SUCH_ENTRY),
  BAD_THREADS (buffer_get, INVALID_WORKER),
  CASE (buffer_get, C_THREAD, "thread 2, error_out NULL",
	buffer_get_no_error_out, 0, 0, 0, 0, N_THREADS, 0, RV_NULL),
  NO_COLLECTOR (buffer_get, DISABLED),
  ROW (buffer_get, C_WRONG_ORDER, "while the background timer runs",
       with_timer_v, TIMER_BUFFER_GET, TIMER_RUNNING),

  NULL_MAIN (buffer_send, NULL_POINTER),
  BAD_EXPORTERS (buffer_send, NO_SUCH_ENTRY),
  BAD_REPORTS (buffer_send, NO_SUCH_ENTRY),
  BAD_THREADS (buffer_send, INVALID_WORKER),
  AT (buffer_send, C_WRONG_ORDER, "thread 0 before any buffer_get", 0, 0, 0, 0,
      0),
  NO_COLLECTOR (buffer_send, 0),

  NULL_MAIN (record_reserve, NULL_POINTER),
  ROW_NULL_MAIN (record_reserve, reserve_no_error_out, RV_NULL),
  BAD_EXPORTERS (record_reserve, NO_SUCH_ENTRY),
  BAD_REPORTS (record_reserve, NO_SUCH_ENTRY),
  BAD_THREADS (record_reserve, INVALID_WORKER),
  CASE (record_reserve, C_THREAD, "thread 2, error_out NULL",
	reserve_no_error_out, 0, 0, 0, 0, N_THREADS, 0, RV_NULL),
  ROW (record_reserve, C_ZERO, "size 0", reserve_v, 0, INVALID_ARGUMENT),
  ROW (record_reserve, C_RECORD_TOO_BIG, "size 465 (MTU 512 holds 464)",
       reserve_v, MAX_RECORD + 1, RECORD_TOO_BIG),
  ROW (record_reserve, C_RECORD_TOO_BIG, "size 65535", reserve_v, 65535,
       RECORD_TOO_BIG),
  NO_COLLECTOR (record_reserve, DISABLED),
  ROW (record_reserve, C_WRONG_ORDER, "while the background timer runs",
       with_timer_v, TIMER_RECORD_RESERVE, TIMER_RUNNING),

  NULL_MAIN (record_append, NULL_POINTER),
  ROW (record_append, C_NULL, "record NULL", append_null_record, FP_RECORD_SIZE,
       NULL_POINTER),
  ROW (record_append, C_NULL, "record NULL, len 0", append_null_record, 0,
       NULL_POINTER),
  BAD_EXPORTERS (record_append, NO_SUCH_ENTRY),
  BAD_REPORTS (record_append, NO_SUCH_ENTRY),
  BAD_THREADS (record_append, INVALID_WORKER),
  ROW (record_append, C_ZERO, "len 0", append_len_v, 0, INVALID_ARGUMENT),
  ROW (record_append, C_RECORD_TOO_BIG, "len 465 (MTU 512 holds 464)",
       append_len_v, MAX_RECORD + 1, RECORD_TOO_BIG),
  ROW (record_append, C_RECORD_TOO_BIG, "len 65536 (past 16 bits)",
       append_len_v, 65536, RECORD_TOO_BIG),
  ROW (record_append, C_HUGE, "len SIZE_MAX", append_len_v, SIZE_MAX,
       RECORD_TOO_BIG),
  NO_COLLECTOR (record_append, DISABLED),

  NULL_MAIN (records_append, NULL_POINTER),
  ROW (records_append, C_NULL, "records NULL, 1 record", records_null, 1,
       NULL_POINTER),
  CASE (records_append, C_THREAD, "thread 2, appended_out NULL",
	records_append_no_out, 0, 0, 0, 0, N_THREADS, 0, INVALID_WORKER),
  ROW (records_append, C_ZERO, "records NULL, n_records 0", records_null, 0, 0),
  BAD_EXPORTERS (records_append, NO_SUCH_ENTRY),
  BAD_REPORTS (records_append, NO_SUCH_ENTRY),
  BAD_THREADS (records_append, INVALID_WORKER),
  ROW (records_append, C_ZERO, "record_size 0", records_size_v, 0,
       INVALID_ARGUMENT),
  ROW (records_append, C_RECORD_TOO_BIG, "record_size 465", records_size_v,
       MAX_RECORD + 1, RECORD_TOO_BIG),
  ROW (records_append, C_RECORD_TOO_BIG, "record_size 65535", records_size_v,
       65535, RECORD_TOO_BIG),
  ROW (records_append, C_HUGE, "n_records SIZE_MAX", records_count_v, SIZE_MAX,
       INVALID_ARGUMENT),
  ROW (records_append, C_HUGE, "n_records * 56 past SIZE_MAX", records_count_v,
       SIZE_MAX / FP_RECORD_SIZE + 1, INVALID_ARGUMENT),
  ROW (records_append, C_HUGE, "n_records * 56 past PTRDIFF_MAX",
       records_count_v, PTRDIFF_MAX / FP_RECORD_SIZE + 1, INVALID_ARGUMENT),
  NO_COLLECTOR (records_append, DISABLED),

  NULL_MAIN (thread_flush_idle, NULL_POINTER),
  BAD_THREADS (thread_flush_idle, INVALID_WORKER),
  CASE (thread_flush_idle, C_THREAD, "thread 2, sent_out NULL",
	flush_idle_no_out, 0, 0, 0, 0, N_THREADS, 0, INVALID_WORKER),
  /* Not in the header; -73 is its "malformed argument". */
  ROW (thread_flush_idle, C_VALUE, "max_age NaN", flush_idle_nan, 0,
       INVALID_ARGUMENT),

  /* Exporters. */
  ROW (exporter_config_init, C_NULL, "config NULL", config_init_null, 0,
       NULL_POINTER),

  NULL_MAIN (exporter_set, NULL_POINTER),
  ROW (exporter_set, C_NULL, "config NULL", set_null_config, 0, NULL_POINTER),
  BAD_EXPORTERS (exporter_set, NO_SUCH_ENTRY),
  ROW (exporter_set, C_MTU, "path_mtu 0", set_mtu_v, 0, INVALID_VALUE),
  ROW (exporter_set, C_MTU, "path_mtu 67", set_mtu_v, 67, INVALID_VALUE),
  ROW (exporter_set, C_MTU, "path_mtu 1451", set_mtu_v, 1451, INVALID_VALUE),
  ROW (exporter_set, C_MTU, "path_mtu 65535", set_mtu_v, 65535, INVALID_VALUE),
  ROW (exporter_set, C_TEMPLATE_TOO_BIG,
       "path_mtu 103, below report 0's 104-byte template", set_mtu_v,
       FP_TEMPLATE_LEN - 1, TEMPLATE_TOO_BIG),
  CASE (exporter_set, C_RECORD_TOO_BIG,
	"exporter 2 given MTU 300, below its 400-byte record", set_mtu_v, 0, 2,
	0, 0, T_OK, 300, RECORD_TOO_BIG),
  ROW (exporter_set, C_CONFLICT, "exporter 2 given exporter 0's session",
       set_session_of_0, 512, VALUE_EXIST),
  ROW (exporter_set, C_FAMILY, "IPv4 collector, IPv6 source", set_config_v,
       CFG_IP4_TO_IP6, ADDRESS_FAMILY),
  ROW (exporter_set, C_FAMILY, "IPv6 collector, IPv4 source", set_config_v,
       CFG_IP6_TO_IP4, ADDRESS_FAMILY),
  ROW (exporter_set, C_TEMPLATE_TOO_BIG,
       "IPv6 at MTU 110: report 0's template grows to 124 bytes", set_config_v,
       CFG_IP6_MTU_110, TEMPLATE_TOO_BIG),
  ROW (exporter_set, C_VALUE, "collector without a source", set_config_v,
       CFG_NO_SOURCE, INVALID_VALUE),
  ROW (exporter_set, C_UNKNOWN_KIND, "address family 2", set_config_v,
       CFG_FAMILY_2, INVALID_ARGUMENT),
  ROW (exporter_set, C_UNKNOWN_KIND, "address family 255", set_config_v,
       CFG_FAMILY_255, INVALID_ARGUMENT),
  ROW (exporter_set, C_VALUE, "template_interval 0", set_config_v,
       CFG_INTERVAL_0, INVALID_VALUE),

  NULL_MAIN (exporter_create, NULL_POINTER),
  ROW (exporter_create, C_NULL, "config NULL", create_null_config, 0,
       NULL_POINTER),
  ROW (exporter_create, C_NULL, "exporter_index_out NULL", create_null_out, 0,
       NULL_POINTER),
  ROW (exporter_create, C_MTU, "path_mtu 0", create_mtu_v, 0, INVALID_VALUE),
  ROW (exporter_create, C_MTU, "path_mtu 67", create_mtu_v, 67, INVALID_VALUE),
  ROW (exporter_create, C_MTU, "path_mtu 1451", create_mtu_v, 1451,
       INVALID_VALUE),
  ROW (exporter_create, C_MTU, "path_mtu 65535", create_mtu_v, 65535,
       INVALID_VALUE),
  ROW (exporter_create, C_MTU, "exporter 0's collector, path_mtu 1451",
       create_existing_mtu_v, 1451, INVALID_VALUE),
  ROW (exporter_create, C_TEMPLATE_TOO_BIG,
       "exporter 0's collector, path_mtu 103 (below its template)",
       create_existing_mtu_v, FP_TEMPLATE_LEN - 1, TEMPLATE_TOO_BIG),
  ROW (exporter_create, C_FAMILY, "IPv4 collector, IPv6 source",
       create_config_v, CFG_IP4_TO_IP6, ADDRESS_FAMILY),
  ROW (exporter_create, C_FAMILY, "IPv6 collector, IPv4 source",
       create_config_v, CFG_IP6_TO_IP4, ADDRESS_FAMILY),
  ROW (exporter_create, C_VALUE, "collector without a source", create_config_v,
       CFG_NO_SOURCE, INVALID_VALUE),
  ROW (exporter_create, C_UNKNOWN_KIND, "address family 2", create_config_v,
       CFG_FAMILY_2, INVALID_ARGUMENT),
  ROW (exporter_create, C_UNKNOWN_KIND, "address family 255", create_config_v,
       CFG_FAMILY_255, INVALID_ARGUMENT),
  ROW (exporter_create, C_VALUE, "template_interval 0", create_config_v,
       CFG_INTERVAL_0, INVALID_VALUE),
  ROW (exporter_create, C_VALUE, "every exporter slot in use", create_when_full,
       0, INVALID_VALUE),

  NULL_MAIN (exporter_delete, NULL_POINTER),
  AT (exporter_delete, C_DOUBLE_DELETE, "exporter 1, deleted before", 1, 0, 0,
      T_OK, NO_SUCH_ENTRY),
  AT (exporter_delete, C_EXPORTER_RANGE, "exporter 3 (slot never used)", 3, 0,
      0, T_OK, NO_SUCH_ENTRY),
  AT (exporter_delete, C_EXPORTER_RANGE, "exporter 5 (= slot count)", 5, 0, 0,
      T_OK, NO_SUCH_ENTRY),
  AT (exporter_delete, C_EXPORTER_RANGE, "exporter ~0", UINT32_MAX, 0, 0, T_OK,
      NO_SUCH_ENTRY),
  AT (exporter_delete, C_VALUE, "exporter 0 (VPP's, never deleted)", 0, 0, 0,
      T_OK, INVALID_VALUE),

  NULL_MAIN (exporter_lookup, NULL_POINTER),
  ROW (exporter_lookup, C_NULL, "collector NULL", lookup_null_collector, 0,
       NULL_POINTER),
  ROW (exporter_lookup, C_NULL, "exporter_index_out NULL", lookup_null_out, 0,
       NULL_POINTER),
  ROW (exporter_lookup, C_EXPORTER_DELETED, "the deleted exporter's collector",
       lookup_v, 0, NO_SUCH_ENTRY),
  ROW (exporter_lookup, C_FAMILY, "an IPv6 collector", lookup_v, 1,
       NO_SUCH_ENTRY),
  ROW (exporter_lookup, C_FAMILY, "exporter 0's address bytes marked IPv6",
       lookup_v, 2, NO_SUCH_ENTRY),

  NULL_MAIN (exporter_get, RV_NULL),
  BAD_EXPORTERS (exporter_get, RV_NULL),

  NULL_MAIN (exporter_index, NULL_POINTER),
  ROW (exporter_index, C_NULL, "exp NULL", index_null_exp, 0, NULL_POINTER),
  ROW (exporter_index, C_NULL, "exporter_index_out NULL", index_null_out, 0,
       NULL_POINTER),
  ROW (exporter_index, C_EXPORTER_DELETED,
       "exporter 1's pointer, kept from before its deletion", index_v, 0,
       NO_SUCH_ENTRY),
  ROW (exporter_index, C_VALUE, "one byte into exporter 0", index_v, 1,
       NO_SUCH_ENTRY),
  ROW (exporter_index, C_EXPORTER_RANGE, "just past the last slot", index_v, 2,
       NO_SUCH_ENTRY),
  ROW (exporter_index, C_VALUE, "an exporter struct of the caller's", index_v,
       3, NO_SUCH_ENTRY),

  NULL_MAIN (exporter_sizes, NULL_POINTER),
  BAD_EXPORTERS (exporter_sizes, NO_SUCH_ENTRY),
  CASE (exporter_sizes, C_EXPORTER_RANGE, "exporter 5, both outs NULL",
	sizes_no_out, 0, 5, 0, 0, T_OK, 0, NO_SUCH_ENTRY),

  NULL_MAIN (exporter_counters, NULL_POINTER),
  ROW (exporter_counters, C_NULL, "counters_out NULL",
       exporter_counters_null_out, 0, NULL_POINTER),
  BAD_EXPORTERS (exporter_counters, NO_SUCH_ENTRY),

  /* Instances. The header gives the ranges of n_threads (1..1024) and
     max_exporters (0..64) but not the codes; these are the codes the
     library's other checks of the same numbers return (-89: a thread count,
     -7: a value out of range), and -73 ("missing argument") for an
     incomplete ops table. */
  ROW (main_create, C_NULL, "ops NULL", main_create_null_ops, 0, NULL_POINTER),
  ROW (main_create, C_NULL, "main_out NULL", main_create_null_out, 0,
       NULL_POINTER),
  ROW (main_create, C_NULL, "ops.buffer_alloc NULL", main_create_ops_v, 0,
       INVALID_ARGUMENT),
  ROW (main_create, C_NULL, "ops.buffer_free NULL", main_create_ops_v, 1,
       INVALID_ARGUMENT),
  ROW (main_create, C_NULL, "ops.buffer_data NULL", main_create_ops_v, 2,
       INVALID_ARGUMENT),
  ROW (main_create, C_NULL, "ops.buffer_capacity NULL", main_create_ops_v, 3,
       INVALID_ARGUMENT),
  ROW (main_create, C_NULL, "ops.enqueue NULL", main_create_ops_v, 4,
       INVALID_ARGUMENT),
  ROW (main_create, C_NULL, "ops.now NULL", main_create_ops_v, 5,
       INVALID_ARGUMENT),
  ROW (main_create, C_NULL, "ops.vec_resize without ops.vec_free",
       main_create_ops_v, 6, INVALID_ARGUMENT),
  ROW (main_create, C_NULL, "no allocation function", main_create_ops_v, 7,
       INVALID_ARGUMENT),
  ROW (main_create, C_ZERO, "n_threads 0", main_create_sizes_v, SIZES (0, 0),
       INVALID_WORKER),
  ROW (main_create, C_HUGE, "n_threads 1025", main_create_sizes_v,
       SIZES (1025, 0), INVALID_WORKER),
  ROW (main_create, C_HUGE, "n_threads ~0", main_create_sizes_v,
       SIZES (UINT32_MAX, 0), INVALID_WORKER),
  ROW (main_create, C_HUGE, "max_exporters 65", main_create_sizes_v,
       SIZES (1, 65), INVALID_VALUE),
  ROW (main_create, C_HUGE, "max_exporters ~0", main_create_sizes_v,
       SIZES (1, UINT32_MAX), INVALID_VALUE),

  ROW (main_create_pcap, C_NULL, "path NULL", pcap_null_path, 0, NULL_POINTER),
  ROW (main_create_pcap, C_NULL, "main_out NULL", pcap_null_out, 0,
       NULL_POINTER),
  ROW (main_create_pcap, C_VALUE, "a path that cannot be created", pcap_path_v,
       0, INVALID_VALUE),
  /* The header does not say; -73 is its "malformed argument". */
  ROW (main_create_pcap, C_VALUE, "a path that is not UTF-8", pcap_path_v, 1,
       INVALID_ARGUMENT),
  ROW (main_create_pcap, C_ZERO, "n_threads 0", pcap_sizes_v, SIZES (0, 0),
       INVALID_WORKER),
  ROW (main_create_pcap, C_HUGE, "n_threads 1025", pcap_sizes_v,
       SIZES (1025, 0), INVALID_WORKER),
  ROW (main_create_pcap, C_HUGE, "max_exporters 65", pcap_sizes_v,
       SIZES (1, 65), INVALID_VALUE),

  ROW (main_create_standalone, C_NULL, "config NULL", standalone_null_config, 0,
       NULL_POINTER),
  ROW (main_create_standalone, C_NULL, "main_out NULL", standalone_null_out, 0,
       NULL_POINTER),
  /* The standalone config names its transports by flag and path: with none
     set there is no known transport to send on. */
  ROW (main_create_standalone, C_UNKNOWN_KIND,
       "no transport (udp 0, no pcap, no IPFIX file)", standalone_v,
       SA_NO_OUTPUT, INVALID_ARGUMENT),
  ROW (main_create_standalone, C_VALUE, "a pcap path that cannot be created",
       standalone_v, SA_BAD_PCAP, INVALID_VALUE),
  ROW (main_create_standalone, C_VALUE,
       "an IPFIX file path that cannot be created", standalone_v,
       SA_BAD_IPFIX_FILE, INVALID_VALUE),
  ROW (main_create_standalone, C_ZERO, "n_threads 0", standalone_v,
       SA_THREADS_0, INVALID_WORKER),
  ROW (main_create_standalone, C_HUGE, "n_threads 1025", standalone_v,
       SA_THREADS_1025, INVALID_WORKER),
  ROW (main_create_standalone, C_HUGE, "max_exporters 65", standalone_v,
       SA_EXPORTERS_65, INVALID_VALUE),

  ROW (main_destroy, C_NULL, "main NULL (ignored)", destroy_null, 0, 0),
  ROW (main_destroy, C_TWICE, "destroy, clear the pointer, destroy again",
       destroy_twice, 0, 0),

  NULL_MAIN (flush, NULL_POINTER),

  NULL_MAIN (templates_send_due, NULL_POINTER),
  CASE (templates_send_due, C_NULL, "main NULL, both outs NULL",
	templates_send_due_no_out, 1, 0, 0, 0, T_OK, 0, NULL_POINTER),
  ROW (templates_send_due, C_WRONG_ORDER, "while the background timer runs",
       with_timer_v, TIMER_TEMPLATES_SEND_DUE, TIMER_RUNNING),

  NULL_MAIN (main_n_threads, 0),

  ROW (strerror, C_VALUE, "error 1", strerror_v, 1, 0),
  ROW (strerror, C_VALUE, "error -2", strerror_v, (uint64_t) -2, 0),
  ROW (strerror, C_VALUE, "error INT32_MIN", strerror_v, (uint64_t) INT32_MIN,
       0),

  /* Reports and streams. */
  NULL_MAIN (report_add_del, NULL_POINTER),
  ROW (report_add_del, C_NULL, "a NULL", add_del_null_args, 0, NULL_POINTER),
  ROW (report_add_del, C_NULL, "a->report_elements NULL, 13 of them",
       add_del_null_elements, 0, NULL_POINTER),
  BAD_EXPORTERS (report_add_del, NO_SUCH_ENTRY),
  CASE (report_add_del, C_EXPORTER_RANGE, "exporter 5, template_id NULL",
	add_del_no_out, 0, 5, 0, 0, T_OK, 0, NO_SUCH_ENTRY),
  ROW (report_add_del, C_ZERO, "no elements, no rewrite callback", add_del_n_v,
       0, INVALID_ARGUMENT),
  ROW (report_add_del, C_HUGE, "513 elements", add_del_n_v, 513,
       TEMPLATE_TOO_BIG),
  ROW (report_add_del, C_HUGE, "~0 elements", add_del_n_v, UINT32_MAX,
       TEMPLATE_TOO_BIG),
  ROW (report_add_del, C_TEMPLATE_TOO_BIG, "16384 elements (past 65535 bytes)",
       add_del_n_v, MANY, TEMPLATE_TOO_BIG),
  ROW (report_add_del, C_TEMPLATE_TOO_BIG,
       "116 elements: a 516-byte template, MTU 512", add_del_n_v, 116,
       TEMPLATE_TOO_BIG),
  CASE (report_add_del, C_TEMPLATE_TOO_BIG,
	"exporter 2, no collector: 345 elements pass 1450 over IPv6",
	add_del_n_v, 0, 2, 0, 0, T_OK, 345, TEMPLATE_TOO_BIG),
  ROW (report_add_del, C_RECORD_TOO_BIG, "one element of 465 bytes",
       add_del_element_v, ELT_SIZE_465, RECORD_TOO_BIG),
  CASE (report_add_del, C_RECORD_TOO_BIG,
	"exporter 2, no collector: a 1383-byte record passes 1450 over IPv6",
	add_del_element_v, 0, 2, 0, 0, T_OK, ELT_SIZE_1383, RECORD_TOO_BIG),
  ROW (report_add_del, C_ZERO, "an element of size 0", add_del_element_v,
       ELT_SIZE_0, INVALID_VALUE),
  ROW (report_add_del, C_VALUE, "element id 0x8000", add_del_element_v,
       ELT_ID_0X8000, INVALID_VALUE),
  ROW (report_add_del, C_VALUE, "an element of size 65536", add_del_element_v,
       ELT_SIZE_65536, INVALID_VALUE),
  ROW (report_add_del, C_CONFLICT, "domain 1 with another port", add_del_key_v,
       KEY_DOMAIN_OTHER_PORT, INVALID_VALUE),
  ROW (report_add_del, C_CONFLICT, "port 30001 with another domain",
       add_del_key_v, KEY_PORT_OTHER_DOMAIN, INVALID_VALUE),
  /* Not in the header: ~0 marks a free stream slot, so no stream has it. */
  ROW (report_add_del, C_VALUE, "domain ~0", add_del_key_v, KEY_DOMAIN_FREE,
       INVALID_VALUE),
  ROW (report_add_del, C_CONFLICT, "report 0 added again", add_del_key_v,
       KEY_EXISTS, VALUE_EXIST),
  ROW (report_add_del, C_WRONG_ORDER, "delete of a report never added",
       add_del_key_v, KEY_NEVER_ADDED, NO_SUCH_ENTRY),
  ROW (report_add_del, C_DOUBLE_DELETE, "delete of the report deleted before",
       add_del_key_v, KEY_DELETED, NO_SUCH_ENTRY),

  NULL_MAIN (report_add, NULL_POINTER),
  ROW (report_add, C_NULL, "config NULL", report_add_null_config, 0,
       NULL_POINTER),
  ROW (report_add, C_NULL, "config->fields NULL", report_add_null_fields, 0,
       NULL_POINTER),
  BAD_EXPORTERS (report_add, NO_SUCH_ENTRY),
  CASE (report_add, C_EXPORTER_RANGE, "exporter 5, both outs NULL",
	report_add_no_out, 0, 5, 0, 0, T_OK, 0, NO_SUCH_ENTRY),
  ROW (report_add, C_ZERO, "n_fields 0", report_add_n_v, 0, INVALID_ARGUMENT),
  ROW (report_add, C_HUGE, "n_fields 513", report_add_n_v, 513,
       TEMPLATE_TOO_BIG),
  ROW (report_add, C_HUGE, "n_fields ~0", report_add_n_v, UINT32_MAX,
       TEMPLATE_TOO_BIG),
  ROW (report_add, C_TEMPLATE_TOO_BIG, "16384 fields (past 65535 bytes)",
       report_add_n_v, MANY, TEMPLATE_TOO_BIG),
  ROW (report_add, C_TEMPLATE_TOO_BIG,
       "116 fields: a 516-byte template, MTU 512", report_add_n_v, 116,
       TEMPLATE_TOO_BIG),
  ROW (report_add, C_TEMPLATE_TOO_BIG,
       "58 enterprise fields: a 516-byte template, MTU 512", report_add_field_v,
       ELT_PEN_58, TEMPLATE_TOO_BIG),
  ROW (report_add, C_RECORD_TOO_BIG, "one field of 465 bytes",
       report_add_field_v, ELT_SIZE_465, RECORD_TOO_BIG),
  ROW (report_add, C_ZERO, "a field of length 0", report_add_field_v,
       ELT_SIZE_0, INVALID_VALUE),
  ROW (report_add, C_VALUE, "element id 0x8000", report_add_field_v,
       ELT_ID_0X8000, INVALID_VALUE),
  ROW (report_add, C_CONFLICT, "domain 1 with another port", report_add_key_v,
       KEY_DOMAIN_OTHER_PORT, INVALID_VALUE),
  ROW (report_add, C_CONFLICT, "port 30001 with another domain",
       report_add_key_v, KEY_PORT_OTHER_DOMAIN, INVALID_VALUE),
  ROW (report_add, C_VALUE, "domain ~0", report_add_key_v, KEY_DOMAIN_FREE,
       INVALID_VALUE),
  ROW (report_add, C_CONFLICT, "report 0's stream and opaque again",
       report_add_key_v, KEY_EXISTS, VALUE_EXIST),

  /* The header lists no codes for report_delete; these are
     report_add_del's for the same deletes. */
  NULL_MAIN (report_delete, NULL_POINTER),
  BAD_EXPORTERS (report_delete, NO_SUCH_ENTRY),
  CASE (report_delete, C_EXPORTER_RANGE, "exporter 5, template_id_out NULL",
	report_delete_no_out, 0, 5, 0, 0, T_OK, 0, NO_SUCH_ENTRY),
  ROW (report_delete, C_WRONG_ORDER, "a report never added",
       report_delete_key_v, KEY_NEVER_ADDED, NO_SUCH_ENTRY),
  ROW (report_delete, C_DOUBLE_DELETE, "the report deleted before",
       report_delete_key_v, KEY_DELETED, NO_SUCH_ENTRY),
  ROW (report_delete, C_CONFLICT, "domain 1 with another port",
       report_delete_key_v, KEY_DOMAIN_OTHER_PORT, INVALID_VALUE),

  NULL_MAIN (reports_reset, NULL_POINTER),
  BAD_EXPORTERS (reports_reset, NO_SUCH_ENTRY),

  NULL_MAIN (stream_reset, NULL_POINTER),
  BAD_EXPORTERS (stream_reset, NO_SUCH_ENTRY),
  BAD_STREAMS (stream_reset, NO_SUCH_ENTRY),

  NULL_MAIN (stream_change, NULL_POINTER),
  BAD_EXPORTERS (stream_change, NO_SUCH_ENTRY),
  ROW (stream_change, C_WRONG_ORDER, "an old key no stream has (VPP's 1)",
       stream_change_v, CHANGE_UNKNOWN_OLD, 1),
  ROW (stream_change, C_STREAM_DELETED, "the freed stream's old key",
       stream_change_v, CHANGE_FREED_OLD, 1),
  CASE (stream_change, C_CONFLICT,
	"exporter 2: the new domain is its other stream's", stream_change_v, 0,
	2, 0, 0, T_OK, CHANGE_NEW_DOMAIN, INVALID_VALUE),
  CASE (stream_change, C_CONFLICT,
	"exporter 2: the new port is its other stream's", stream_change_v, 0, 2,
	0, 0, T_OK, CHANGE_NEW_PORT, INVALID_VALUE),
  /* Not in the header: ~0 marks a free stream slot. */
  ROW (stream_change, C_VALUE, "new domain ~0", stream_change_v,
       CHANGE_NEW_FREE, INVALID_VALUE),

  NULL_MAIN (report_get, RV_NULL),
  BAD_EXPORTERS (report_get, RV_NULL),
  BAD_REPORTS (report_get, RV_NULL),

  NULL_MAIN (stream_get, RV_NULL),
  BAD_EXPORTERS (stream_get, RV_NULL),
  BAD_STREAMS (stream_get, RV_NULL),

  NULL_MAIN (report_counters, NULL_POINTER),
  ROW (report_counters, C_NULL, "counters_out NULL", report_counters_null_out,
       0, NULL_POINTER),
  BAD_EXPORTERS (report_counters, NO_SUCH_ENTRY),
  BAD_REPORTS (report_counters, NO_SUCH_ENTRY),

  NULL_MAIN (template_send, NULL_POINTER),
  BAD_EXPORTERS (template_send, NO_SUCH_ENTRY),
  BAD_REPORTS (template_send, NO_SUCH_ENTRY),
  NO_COLLECTOR (template_send, DISABLED),

  NULL_MAIN (report_template, NULL_POINTER),
  ROW (report_template, C_NULL, "out NULL", report_template_null_out, 0,
       NULL_POINTER),
  ROW (report_template, C_NULL, "length_out NULL", report_template_null_length,
       0, NULL_POINTER),
  BAD_EXPORTERS (report_template, NO_SUCH_ENTRY),
  BAD_REPORTS (report_template, NO_SUCH_ENTRY),
  ROW (report_template, C_SHORT, "capacity 0", report_template_capacity_v, 0,
       BUFFER_TOO_SMALL),
  ROW (report_template, C_SHORT, "capacity 103 for a 104-byte template",
       report_template_capacity_v, FP_TEMPLATE_LEN - 1, BUFFER_TOO_SMALL),
  NO_COLLECTOR (report_template, DISABLED),

  NULL_MAIN (template_is_due, NULL_POINTER),
  ROW (template_is_due, C_NULL, "due_out NULL", template_is_due_null_out, 0,
       NULL_POINTER),
  BAD_EXPORTERS (template_is_due, NO_SUCH_ENTRY),
  BAD_REPORTS (template_is_due, NO_SUCH_ENTRY),

  /* The background timer. The header names negative and NaN times; an
     infinite one is refused as well (-73). */
  NULL_MAIN (timer_start, NULL_POINTER),
  ROW (timer_start, C_VALUE, "max_age -1", timer_start_v, 0, INVALID_ARGUMENT),
  ROW (timer_start, C_VALUE, "max_age NaN", timer_start_v, 1, INVALID_ARGUMENT),
  ROW (timer_start, C_VALUE, "max_age infinite", timer_start_v, 2,
       INVALID_ARGUMENT),
  ROW (timer_start, C_VALUE, "period -1", timer_start_v, 3, INVALID_ARGUMENT),
  ROW (timer_start, C_VALUE, "period NaN", timer_start_v, 4, INVALID_ARGUMENT),
  ROW (timer_start, C_VALUE, "period infinite", timer_start_v, 5,
       INVALID_ARGUMENT),
  ROW (timer_start, C_WRONG_ORDER, "while a timer runs", with_timer_v,
       TIMER_START, VALUE_EXIST),

  NULL_MAIN (timer_stop, NULL_POINTER),
  ROW (timer_stop, C_WRONG_ORDER, "no timer started", call_timer_stop, 0,
       NO_SUCH_ENTRY),
  ROW (timer_stop, C_TWICE, "start, stop, stop again", with_timer_v,
       TIMER_STOP_TWICE, NO_SUCH_ENTRY),
};

#define N_CASES (sizeof (cases) / sizeof (cases[0]))

/* ---- After the call: exporter 0 still exports. ---- */

/* Advances the clock past the template interval, writes AFTER_VPP records
   of thread 0 VPP-style and AFTER_APPEND of thread 1 by append, flushes,
   and decodes what the host captured: the template again first, carrying
   the stream's sequence number, then data packets whose sequence numbers
   go on from where the known state left them, and every record written
   (the ones left in thread 1's packet included) exactly once, intact and in
   its thread's order. */
static void
check_exports_after (world_t *w, const snapshot_t *before)
{
  fixture_t *f = &w->f;
  const snap_exporter_t *x = &before->exporters[0];
  uint32_t seq = x->streams[0].sequence_number;
  uint32_t expect[N_THREADS], t, sent = OUT_U32, n_templates = 0, n_data = 0;
  uint64_t records = 0, bytes = 0;
  size_t first = test_host_n_packets (f->host), i, n;
  uint64_t templates_seen[16];
  size_t n_seen = 0, j;
  const flow_report_stream_t *st;
  vpp_ipfix_counters_t k;

  for (t = 0; t < N_THREADS; t++)
    expect[t] = w->unsent[t];
  test_host_advance (f->host, TEMPLATE_INTERVAL + 1);
  CHECK_EQ (vpp_ipfix_templates_send_due (f->main, &sent, NULL), 0);
  CHECK_UEQ (sent, 1);
  write_vpp_style (w, 0, AFTER_VPP);
  append_records (w, 1, AFTER_APPEND);
  CHECK_EQ (vpp_ipfix_flush (f->main), 0);

  n = test_host_n_packets (f->host);
  for (i = 0; i < n; i++)
    {
      const test_host_packet_t *p = test_host_packet (f->host, i);
      test_ipfix_msg_t m;
      uint32_t r, n_rec;

      if (test_ipfix_parse (p->data, p->info.length, &m))
	{
	  CHECK_EQ (test_ipfix_parse (p->data, p->info.length, &m), 0);
	  continue;
	}
      /* Every data packet, from the first, after its template: the same
	 collector, domain and template id. */
      {
	uint16_t id = p->info.is_template ?
			(m.set_data_len >= 2 ? test_get_u16 (m.set_data) : 0) :
			m.set_id;
	uint64_t key =
	  ((uint64_t) m.ip_dst[3] << 48) | ((uint64_t) m.domain_id << 16) | id;

	for (j = 0; j < n_seen && templates_seen[j] != key; j++)
	  ;
	if (p->info.is_template && j == n_seen && n_seen < 16)
	  templates_seen[n_seen++] = key;
	else if (!p->info.is_template)
	  CHECK (j < n_seen);
      }
      if (i < first)
	continue;
      CHECK (m.ip_checksum_ok && m.udp_checksum_ok);
      CHECK_UEQ (m.domain_id, DOMAIN);
      CHECK_UEQ (m.src_port, SRC_PORT);
      CHECK_UEQ (m.dst_port, 4739);
      CHECK (p->info.length <= PATH_MTU);
      CHECK_UEQ (m.sequence_number, seq);
      if (p->info.is_template)
	{
	  CHECK_UEQ (m.set_id, 2);
	  CHECK (m.set_data_len >= 4 &&
		 test_get_u16 (m.set_data) == TEMPLATE_ID &&
		 test_get_u16 (m.set_data + 2) == FP_N_ELTS);
	  CHECK_UEQ (n_data, 0);
	  n_templates++;
	  continue;
	}
      CHECK_UEQ (m.set_id, TEMPLATE_ID);
      CHECK_UEQ (m.set_data_len % FP_RECORD_SIZE, 0);
      n_rec = m.set_data_len / FP_RECORD_SIZE;
      CHECK_UEQ (p->info.records, n_rec);
      for (r = 0; r < n_rec; r++)
	{
	  const uint8_t *rec = m.set_data + r * FP_RECORD_SIZE;
	  uint32_t rt = test_get_u32 (rec), serial = test_get_u32 (rec + 4);

	  if (rt >= N_THREADS || rt != p->thread_index)
	    {
	      CHECK_UEQ (rt, p->thread_index);
	      continue;
	    }
	  CHECK_UEQ (serial, expect[rt]);
	  CHECK (record_is (rec, rt, serial));
	  expect[rt] = serial + 1;
	}
      seq += n_rec;
      records += n_rec;
      bytes += p->info.length;
      n_data++;
    }
  CHECK_UEQ (n_templates, 1);
  for (t = 0; t < N_THREADS; t++)
    CHECK_UEQ (expect[t], w->next_serial[t]);
  st = vpp_ipfix_stream_get (f->main, 0, 0);
  CHECK (st && st->sequence_number == seq);

  /* The counters moved by exactly what went out. */
  CHECK_EQ (vpp_ipfix_exporter_counters (f->main, 0, &k), 0);
  CHECK_UEQ (k.packets, x->counters.packets + n_data);
  CHECK_UEQ (k.data_records, x->counters.data_records + records);
  CHECK_UEQ (k.bytes, x->counters.bytes + bytes);
  CHECK_UEQ (k.templates, x->counters.templates + 1);
  CHECK_UEQ (k.alloc_failures, x->counters.alloc_failures);
  CHECK_UEQ (k.dropped_packets, x->counters.dropped_packets);
  CHECK_UEQ (k.dropped_records, x->counters.dropped_records);
  CHECK_UEQ (test_host_live_buffers (f->host), 0);
}

/* ---- The driver. ---- */

static const char *
rv_name (int32_t rv, char *buf, size_t len)
{
  switch (rv)
    {
    case RV_NULL:
      return "NULL";
    case RV_NOT_NULL:
      return "a pointer";
    case RV_OUT_WRITTEN:
      return "a failure that wrote its out-pointer";
    case RV_ERR_UNSET:
      return "NULL without *error_out";
    case RV_WRONG:
      return "a wrong value";
    case RV_SETUP:
      return "(the case's own preparation failed)";
    case RV_FILE_LEFT:
      return "a failure that left its file behind";
    }
  snprintf (buf, len, "%d (%s)", (int) rv, vpp_ipfix_strerror (rv));
  return buf;
}

static void
case_label (const bad_case_t *c, size_t i, char *buf, size_t len)
{
  snprintf (buf, len, "#%zu vpp_ipfix_%s / %s / %s", i, c->function,
	    class_names[c->cls], c->arg);
}

/* One case on a fresh instance; the number of its checks that failed. */
static unsigned
run_case (const bad_case_t *c, const char *label)
{
  static world_t w;
  static snapshot_t before;
  unsigned failed_before = test_n_failed;
  char got[96], want[96];
  int32_t rv;

  test_current = label;
  if (build_known_state (&w))
    {
      printf ("  %s: the known state could not be built\n", label);
      if (w.f.main)
	fixture_fini (&w.f);
      return test_n_failed - failed_before + 1;
    }
  take_snapshot (&w.f, &before);
  rv = c->call (&w, c);
  if (rv != c->expected)
    {
      test_n_failed++;
      printf ("  %s: returned %s, documented %s\n", label,
	      rv_name (rv, got, sizeof (got)),
	      rv_name (c->expected, want, sizeof (want)));
    }
  CHECK_UNCHANGED (&w.f, &before);
  check_exports_after (&w, &before);
  fixture_fini (&w.f);
  return test_n_failed - failed_before;
}

/* run_case in a child process, so a crash fails this case alone. 1 when
   it passed; else prints why not. */
static int
run_in_child (const bad_case_t *c, const char *label)
{
  int status = 0;
  pid_t pid;

  fflush (stdout);
  pid = fork ();
  if (pid == 0)
    {
      unsigned failed = run_case (c, label);
      fflush (stdout);
      exit (failed ? 1 : 0);
    }
  if (pid < 0 || waitpid (pid, &status, 0) != pid)
    {
      printf ("FAIL %s: cannot run it in a child process\n", label);
      return 0;
    }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 1;
  if (WIFSIGNALED (status))
    printf ("FAIL %s: crashed (signal %d, %s)\n", label, WTERMSIG (status),
	    strsignal (WTERMSIG (status)));
  else if (WEXITSTATUS (status) == 1)
    printf ("FAIL %s\n", label);
  else
    printf ("FAIL %s: exit status %d (a valgrind or sanitizer error?)\n", label,
	    WEXITSTATUS (status));
  return 0;
}

static void
fill_inputs (void)
{
  uint32_t k;

  for (k = 0; k < MANY; k++)
    {
      many_elts[k].info_element = 1 + k % 200;
      many_elts[k].size = 4;
      many_fields[k].element_id = (uint16_t) (1 + k % 200);
      many_fields[k].length = 4;
      many_fields[k].enterprise_number = 0;
    }
  memset (big_buf, 0x77, sizeof (big_buf));
}

int
main (int argc, char **argv)
{
  /* --no-fork: every case in this process (valgrind makes each fork cost
     half a second; a debugger follows one process). */
  int no_fork = argc > 1 && strcmp (argv[1], "--no-fork") == 0;
  const char *filter = argc > 1 + no_fork ? argv[1 + no_fork] : NULL;
  unsigned n_run = 0, n_passed = 0;
  unsigned per_class[N_CLASSES] = { 0 };
  const char *functions[64];
  size_t n_functions = 0, i, j;
  const char *sep;
  char label[256];

  fill_inputs ();
  for (i = 0; i < N_CASES; i++)
    {
      const bad_case_t *c = &cases[i];

      case_label (c, i, label, sizeof (label));
      if (filter && !strstr (label, filter))
	continue;
      n_run++;
      per_class[c->cls]++;
      for (j = 0; j < n_functions && strcmp (functions[j], c->function); j++)
	;
      if (j == n_functions && n_functions < 64)
	functions[n_functions++] = c->function;

      if (!no_fork)
	n_passed += run_in_child (c, label);
      else if (run_case (c, label) == 0)
	n_passed++;
      else
	printf ("FAIL %s\n", label);
    }

  printf ("bad_input_matrix: %zu functions; cases by class:", n_functions);
  for (i = 0, sep = ""; i < N_CLASSES; i++)
    if (per_class[i])
      {
	printf ("%s %s %u", sep, class_names[i], per_class[i]);
	sep = ",";
      }
  printf ("\n");
  printf ("bad_input_matrix: %u cases, %u passed, %u failed\n", n_run, n_passed,
	  n_run - n_passed);
  return n_run && n_passed == n_run ? 0 : 1;
}
