/* vlib/stats/stats.h (mock): gauges, kept by name for the tests to read. */

#ifndef included_mock_vlib_stats_h
#define included_mock_vlib_stats_h

#include <vlib/vlib.h>

/* A new gauge named by a printf format; its index, ~0 when full. */
u32 vlib_stats_add_gauge (char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
void vlib_stats_set_gauge (u32 index, u64 value);

#endif /* included_mock_vlib_stats_h */
