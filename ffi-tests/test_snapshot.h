/* test_snapshot.h: everything a refused call must leave alone, read back
   through the C API and the host (every exporter slot, its settings,
   counters, reports with their per-thread packets, streams; the host's
   packets and buffers), and the comparison that names what changed. */

#ifndef TEST_SNAPSHOT_H
#define TEST_SNAPSHOT_H

#include <stdio.h>
#include <string.h>

#include "test_check.h"
#include "test_fixture.h"
#include "test_host.h"

/* Read in detail up to these; larger counts are still compared. */
#define SNAP_MAX_EXPORTERS 8
#define SNAP_MAX_REPORTS   8
#define SNAP_MAX_STREAMS   8
#define SNAP_MAX_THREADS   4

/* One thread's packet under construction for one report. */
typedef struct
{
  void *buffer;
  uint8_t *data;
  uint32_t capacity;
  uint16_t next_data_offset;
  uint16_t n_data_records;
  double first_record_time;
} snap_thread_t;

typedef struct
{
  flow_report_t report;
  vpp_ipfix_counters_t counters;
  uint8_t template_due; /* at the host's time */
  snap_thread_t threads[SNAP_MAX_THREADS];
} snap_report_t;

typedef struct
{
  int in_use;
  ipfix_exporter_t exp;
  vpp_ipfix_counters_t counters;
  uint32_t n_reports, n_streams;
  snap_report_t reports[SNAP_MAX_REPORTS];
  int has_stream[SNAP_MAX_STREAMS]; /* free slots read back as NULL */
  flow_report_stream_t streams[SNAP_MAX_STREAMS];
} snap_exporter_t;

typedef struct
{
  uint32_t n_threads;
  snap_exporter_t exporters[SNAP_MAX_EXPORTERS];
  size_t n_packets;
  uint64_t live, allocs, failed_allocs, refused, host_errors;
} snapshot_t;

static inline uint32_t
snap_min (uint32_t a, uint32_t b)
{
  return a < b ? a : b;
}

static inline void
take_snapshot (fixture_t *f, snapshot_t *s)
{
  double now = test_host_now (f->host);
  uint32_t e, r, i, t;

  /* Zeroed first: slots with no exporter, report or stream compare equal. */
  memset (s, 0, sizeof (*s));
  s->n_threads = vpp_ipfix_main_n_threads (f->main);
  for (e = 0; e < SNAP_MAX_EXPORTERS; e++)
    {
      snap_exporter_t *x = &s->exporters[e];
      const ipfix_exporter_t *exp = vpp_ipfix_exporter_get (f->main, e);

      if (!exp)
	continue;
      x->in_use = 1;
      memcpy (&x->exp, exp, sizeof (x->exp));
      vpp_ipfix_exporter_counters (f->main, e, &x->counters);
      vpp_ipfix_exporter_sizes (f->main, e, &x->n_reports, &x->n_streams);
      for (r = 0; r < snap_min (x->n_reports, SNAP_MAX_REPORTS); r++)
	{
	  snap_report_t *y = &x->reports[r];
	  const flow_report_t *fr = vpp_ipfix_report_get (f->main, e, r);

	  if (!fr)
	    continue;
	  memcpy (&y->report, fr, sizeof (y->report));
	  vpp_ipfix_report_counters (f->main, e, r, &y->counters);
	  vpp_ipfix_template_is_due (f->main, e, r, now, &y->template_due);
	  for (t = 0; t < snap_min (s->n_threads, SNAP_MAX_THREADS); t++)
	    {
	      const flow_report_per_thread_t *ptd = &fr->per_thread_data[t];
	      snap_thread_t *z = &y->threads[t];

	      z->buffer = ptd->buffer;
	      z->data = ptd->packet.data;
	      z->capacity = ptd->packet.capacity;
	      z->next_data_offset = ptd->next_data_offset;
	      z->n_data_records = ptd->n_data_records;
	      z->first_record_time = ptd->first_record_time;
	    }
	}
      for (i = 0; i < snap_min (x->n_streams, SNAP_MAX_STREAMS); i++)
	{
	  const flow_report_stream_t *st = vpp_ipfix_stream_get (f->main, e, i);

	  x->has_stream[i] = st != NULL;
	  if (st)
	    memcpy (&x->streams[i], st, sizeof (x->streams[i]));
	}
    }
  s->n_packets = test_host_n_packets (f->host);
  s->live = test_host_live_buffers (f->host);
  s->allocs = test_host_allocs (f->host);
  s->failed_allocs = test_host_failed_allocs (f->host);
  s->refused = test_host_refused (f->host);
  s->host_errors = test_host_errors (f->host);
}

static inline int
snap_thread_equal (const snap_thread_t *a, const snap_thread_t *b)
{
  return a->buffer == b->buffer && a->data == b->data &&
	 a->capacity == b->capacity &&
	 a->next_data_offset == b->next_data_offset &&
	 a->n_data_records == b->n_data_records &&
	 a->first_record_time == b->first_record_time;
}

/* Prints "  changed in <test>: <what>" (what is printf-style); counts. */
static inline void
snap_changed (int *n_changed, const char *fmt, uint32_t a, uint32_t b,
	      uint32_t c)
{
  char what[128];

  snprintf (what, sizeof (what), fmt, a, b, c);
  printf ("  changed in %s: %s\n", test_current, what);
  (*n_changed)++;
}

#define SNAP_EQ(field) (memcmp (&a->field, &b->field, sizeof (a->field)) == 0)

/* The number of differences between two snapshots, each printed. */
static inline int
snapshot_diff (const snapshot_t *a, const snapshot_t *b)
{
  int n = 0;
  uint32_t e, r, i, t;

  if (!SNAP_EQ (n_threads))
    snap_changed (&n, "number of threads", 0, 0, 0);
  for (e = 0; e < SNAP_MAX_EXPORTERS; e++)
    {
      const snap_exporter_t *x = &a->exporters[e], *y = &b->exporters[e];

      if (x->in_use != y->in_use)
	{
	  snap_changed (&n, "exporter %u in use", e, 0, 0);
	  continue;
	}
      if (!x->in_use)
	continue;
      if (!test_exporter_equal (&x->exp, &y->exp))
	snap_changed (&n, "exporter %u settings or vectors", e, 0, 0);
      if (memcmp (&x->counters, &y->counters, sizeof (x->counters)))
	snap_changed (&n, "exporter %u counters", e, 0, 0);
      if (x->n_reports != y->n_reports)
	snap_changed (&n, "exporter %u number of reports", e, 0, 0);
      if (x->n_streams != y->n_streams)
	snap_changed (&n, "exporter %u number of streams", e, 0, 0);
      for (r = 0; r < SNAP_MAX_REPORTS; r++)
	{
	  const snap_report_t *p = &x->reports[r], *q = &y->reports[r];

	  if (!test_report_equal (&p->report, &q->report))
	    snap_changed (&n, "exporter %u report %u", e, r, 0);
	  if (memcmp (&p->counters, &q->counters, sizeof (p->counters)))
	    snap_changed (&n, "exporter %u report %u counters", e, r, 0);
	  if (p->template_due != q->template_due)
	    snap_changed (&n, "exporter %u report %u template due", e, r, 0);
	  for (t = 0; t < SNAP_MAX_THREADS; t++)
	    if (!snap_thread_equal (&p->threads[t], &q->threads[t]))
	      snap_changed (&n, "exporter %u report %u thread %u packet", e, r,
			    t);
	}
      for (i = 0; i < SNAP_MAX_STREAMS; i++)
	if (x->has_stream[i] != y->has_stream[i] ||
	    !test_stream_equal (&x->streams[i], &y->streams[i]))
	  snap_changed (&n, "exporter %u stream %u", e, i, 0);
    }
  if (!SNAP_EQ (n_packets))
    snap_changed (&n, "packets sent", 0, 0, 0);
  if (!SNAP_EQ (live))
    snap_changed (&n, "live buffers", 0, 0, 0);
  if (!SNAP_EQ (allocs) || !SNAP_EQ (failed_allocs))
    snap_changed (&n, "buffer allocations", 0, 0, 0);
  if (!SNAP_EQ (refused))
    snap_changed (&n, "packets refused", 0, 0, 0);
  if (!SNAP_EQ (host_errors))
    snap_changed (&n, "host contract errors", 0, 0, 0);
  return n;
}

#undef SNAP_EQ

/* Prints what differs from `before`; 1 when nothing does. */
static inline int
unchanged (fixture_t *f, const snapshot_t *before)
{
  static snapshot_t now; /* large: off the stack */

  take_snapshot (f, &now);
  return snapshot_diff (before, &now) == 0;
}

#define CHECK_UNCHANGED(f, s) CHECK (unchanged ((f), (s)))

#endif /* TEST_SNAPSHOT_H */
