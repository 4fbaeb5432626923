/*
 * flow_report_shim.c: VPP's ipfix-export entry points over the vpp-ipfix
 * core.
 *
 * Creates the core at init and exposes its exporters as flow_report_main's
 * pool; every vnet_* function maps its ipfix_exporter_t to an index and
 * forwards. Return codes are VPP's: the core speaks VNET_API_ERROR numbers.
 */

#include <vnet/ipfix-export/flow_report.h>
#include <vnet/api_errno.h>
#include <vlib/threads.h>

flow_report_main_t flow_report_main;

/* Templates never exceed an IPv4/UDP datagram. */
#define FLOW_REPORT_TEMPLATE_MAX 65535

ipfix_exporter_t *
flow_report_exporter_at (u32 index)
{
  return vpp_ipfix_exporter_get (flow_report_main.core, index);
}

int
flow_report_exporter_index (const ipfix_exporter_t *exp, u32 *index)
{
  if (!exp || vpp_ipfix_exporter_index (flow_report_main.core, exp, index))
    return VNET_API_ERROR_NO_SUCH_ENTRY;
  return 0;
}

/* The index of `fr` in its exporter's reports, ~0 when it is not one. */
static u32
flow_report_index_of (ipfix_exporter_t *exp, u32 exp_index,
		      const flow_report_t *fr)
{
  u32 n_reports = 0;

  if (vpp_ipfix_exporter_sizes (flow_report_main.core, exp_index, &n_reports,
				0))
    return ~0;
  if (fr < exp->reports || fr >= exp->reports + n_reports)
    return ~0;
  return fr - exp->reports;
}

int
vnet_flow_report_add_del (ipfix_exporter_t *exp,
			  vnet_flow_report_add_del_args_t *a, u16 *template_id)
{
  u32 exp_index;
  int rv;

  if ((rv = flow_report_exporter_index (exp, &exp_index)))
    return rv;
  return vpp_ipfix_report_add_del (flow_report_main.core, exp_index, a,
				   template_id);
}

clib_error_t *
flow_report_add_del_error_to_clib_error (int error)
{
  switch (error)
    {
    case 0:
      return 0;
    case VNET_API_ERROR_NO_SUCH_ENTRY:
      return clib_error_return (0, "Flow report not found");
    case VNET_API_ERROR_VALUE_EXIST:
      return clib_error_return (0, "Flow report already exists");
    case VNET_API_ERROR_INVALID_VALUE:
      return clib_error_return (0, "Expecting either still unused values "
				   "for both domain_id and src_port "
				   "or already used values for both fields");
    default:
      return clib_error_return (0, "vnet_flow_report_add_del returned %d",
				error);
    }
}

void
vnet_flow_reports_reset (ipfix_exporter_t *exp)
{
  u32 exp_index;

  if (flow_report_exporter_index (exp, &exp_index) == 0)
    vpp_ipfix_reports_reset (flow_report_main.core, exp_index);
}

void
vnet_stream_reset (ipfix_exporter_t *exp, u32 stream_index)
{
  u32 exp_index;

  if (flow_report_exporter_index (exp, &exp_index) == 0)
    vpp_ipfix_stream_reset (flow_report_main.core, exp_index, stream_index);
}

int
vnet_stream_change (ipfix_exporter_t *exp, u32 old_domain_id, u16 old_src_port,
		    u32 new_domain_id, u16 new_src_port)
{
  u32 exp_index;

  /* VPP answers 1 for "no such stream"; an unknown exporter has none. */
  if (flow_report_exporter_index (exp, &exp_index))
    return 1;
  return vpp_ipfix_stream_change (flow_report_main.core, exp_index,
				  old_domain_id, old_src_port, new_domain_id,
				  new_src_port);
}

ipfix_exporter_t *
vnet_ipfix_exporter_lookup (const ip_address_t *ipfix_collector)
{
  u32 index;

  if (vpp_ipfix_exporter_lookup (flow_report_main.core, ipfix_collector,
				 &index))
    return 0;
  return flow_report_exporter_at (index);
}

/*
 * The template the core built from the report's elements. A report without
 * elements gets its template from its rewrite callback (the template_rewrite
 * op), which may be this one: answering "none" then ends what would be an
 * endless core -> op -> callback -> core loop.
 */
u8 *
vnet_flow_rewrite_generic_callback (ipfix_exporter_t *exp, flow_report_t *fr,
				    u16 collector_port,
				    ipfix_report_element_t *report_elts,
				    u32 n_elts, u32 *stream_indexp)
{
  u32 exp_index, report_index, length = 0;
  u8 *rewrite = 0;

  if (flow_report_exporter_index (exp, &exp_index))
    return 0;
  report_index = flow_report_index_of (exp, exp_index, fr);
  if (report_index == ~0 || fr->n_report_elements == 0)
    return 0;
  if (stream_indexp)
    *stream_indexp = fr->stream_index;

  vec_validate (rewrite, FLOW_REPORT_TEMPLATE_MAX - 1);
  if (vpp_ipfix_report_template (flow_report_main.core, exp_index, report_index,
				 rewrite, vec_len (rewrite), &length) ||
      length > vec_len (rewrite))
    {
      vec_free (rewrite);
      return 0;
    }
  vec_set_len (rewrite, length);
  return rewrite;
}

vlib_buffer_t *
vnet_ipfix_exp_get_buffer (vlib_main_t *vm, ipfix_exporter_t *exp,
			   flow_report_t *fr, clib_thread_index_t thread_index)
{
  u32 exp_index, report_index;
  vlib_buffer_t *b0;

  if (flow_report_exporter_index (exp, &exp_index))
    return 0;
  report_index = flow_report_index_of (exp, exp_index, fr);
  if (report_index == ~0)
    return 0;

  b0 = vpp_ipfix_buffer_get_inline (&flow_report_main.core_fast_path,
				    flow_report_main.core, exp_index,
				    report_index, thread_index, 0);
  /* VPP callers grow current_length as they write, from the headers on. */
  if (b0)
    b0->current_length = fr->per_thread_data[thread_index].next_data_offset;
  return b0;
}

void
vnet_ipfix_exp_send_buffer (vlib_main_t *vm, ipfix_exporter_t *exp,
			    flow_report_t *fr, flow_report_stream_t *stream,
			    clib_thread_index_t thread_index, vlib_buffer_t *b0)
{
  flow_report_per_thread_t *ptd;
  u32 exp_index, report_index;

  if (flow_report_exporter_index (exp, &exp_index))
    return;
  report_index = flow_report_index_of (exp, exp_index, fr);
  if (report_index == ~0)
    return;

  /*
   * VPP sends b0->current_length bytes; callers that grew only that
   * (not next_data_offset) still get their records sent.
   */
  ptd = &fr->per_thread_data[thread_index];
  if (b0 && ptd->buffer == (void *) b0 &&
      b0->current_length > ptd->next_data_offset)
    ptd->next_data_offset = b0->current_length;

  vpp_ipfix_buffer_send (flow_report_main.core, exp_index, report_index,
			 thread_index);
}

static clib_error_t *
flow_report_init (vlib_main_t *vm)
{
  flow_report_main_t *frm = &flow_report_main;
  vpp_ipfix_ops_t ops;
  int rv;

  frm->vlib_main = vm;
  frm->vnet_main = vnet_get_main ();
  frm->unix_time_0 = time (0);
  frm->vlib_time_0 = vlib_time_now (frm->vlib_main);
  frm->idle_flush_max_age = IPFIX_IDLE_FLUSH_DEFAULT;

  /*
   * Workers are not started yet (vlib_get_n_threads () is still 1), but
   * vlib_thread_init has counted them: main thread included.
   */
  flow_report_ops_init (&ops);
  rv = vpp_ipfix_main_create (&ops, vlib_thread_main.n_vlib_mains,
			      IPFIX_EXPORTERS_MAX, &frm->core);
  if (rv)
    return clib_error_return (0, "vpp-ipfix: cannot create exporter: %s",
			      vpp_ipfix_strerror (rv));

  frm->core_fast_path = vpp_ipfix_fast_path_get (frm->core);

  /* Exporter 0 always exists, for backwards compatibility. */
  frm->exporters = vpp_ipfix_exporter_get (frm->core, 0);
  ASSERT (frm->exporters != 0);

  flow_report_stats_init (frm);
  return 0;
}

VLIB_INIT_FUNCTION (flow_report_init);
