/*
 * flow_report_stats.c: the core's counters in VPP's stats segment, one
 * gauge per exporter and counter under /ipfix/exporter/<index>/, so
 * vpp_get_stats and VPP's Prometheus exporter see them without the CLI.
 * The process node refreshes them every cycle.
 */

#include <vnet/ipfix-export/flow_report.h>
#include <vlib/stats/stats.h>

static const char *flow_report_stat_names[] = {
#define _(field, name) name,
  foreach_flow_report_stat
#undef _
};

void
flow_report_stats_init (flow_report_main_t *frm)
{
  u32 i, s;

  for (i = 0; i < IPFIX_EXPORTERS_MAX; i++)
    for (s = 0; s < FLOW_REPORT_N_STATS; s++)
      frm->stats_index[i][s] = vlib_stats_add_gauge ("/ipfix/exporter/%u/%s", i,
						     flow_report_stat_names[s]);
}

void
flow_report_stats_update (flow_report_main_t *frm)
{
  vpp_ipfix_counters_t c;
  u32 i;

  for (i = 0; i < IPFIX_EXPORTERS_MAX; i++)
    {
      /* A slot not in use reads as zero (its counters went with it). */
      clib_memset (&c, 0, sizeof (c));
      vpp_ipfix_exporter_counters (frm->core, i, &c);
#define _(field, name)                                                         \
  if (frm->stats_index[i][FLOW_REPORT_STAT_##field] != ~0)                     \
    vlib_stats_set_gauge (frm->stats_index[i][FLOW_REPORT_STAT_##field],       \
			  c.field);
      foreach_flow_report_stat
#undef _
    }
}
