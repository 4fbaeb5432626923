/*
 * flow_report_process.c: what runs by itself once an exporter is set.
 *
 * "flow-report-process" (main thread): VPP's periodic process. Waits for the
 * kickoff event, then every cycle has the core send the templates that are
 * due and calls each report's flow_data_callback with a frame, as VPP did;
 * it also has the counters published in the stats segment.
 *
 * "ipfix-idle-flush" (every worker, or main without workers): sends the
 * thread's packets that stopped filling (VPP never did). A scheduled node:
 * it runs every FLOW_REPORT_IDLE_FLUSH_PERIOD of its own thread's time and
 * costs nothing in between, so idle threads still sleep.
 */

#include <vnet/ipfix-export/flow_report.h>
#include <vnet/ip/ip.h>

/* VPP's process event: kickoff after a set, and "ipfix flush". */
#define FLOW_REPORT_EVENT_KICK 1

/* VPP's process wakes at least this often (seconds). */
#define FLOW_REPORT_MAX_WAIT 5.0

/* Floor on the process's wait, so a template that keeps failing to go out
 * is retried without spinning the main thread. */
#define FLOW_REPORT_MIN_WAIT 0.01

/* The idle-flush node runs at most this often on each thread (seconds). */
#define FLOW_REPORT_IDLE_FLUSH_PERIOD 0.1

extern vlib_node_registration_t ipfix_idle_flush_node;

void
flow_report_process_kick (vlib_main_t *vm)
{
  vlib_process_signal_event (vm, flow_report_process_node.index,
			     FLOW_REPORT_EVENT_KICK, 0);
}

void
flow_report_flush (vlib_main_t *vm)
{
  flow_report_main_t *frm = &flow_report_main;

  /* Templates first, so no collector sees data it cannot decode yet. */
  vpp_ipfix_templates_send_due (frm->core, 0, 0);
  vpp_ipfix_flush (frm->core);
  flow_report_process_kick (vm);
}

static_always_inline int
flow_report_exporter_is_enabled (const ipfix_exporter_t *exp)
{
  return !ip_address_is_zero (&exp->ipfix_collector) &&
	 !ip_address_is_zero (&exp->src_address);
}

/* VPP's flow_report_process_send, less the template the core now sends. */
static void
flow_report_process_send (vlib_main_t *vm, flow_report_main_t *frm,
			  ipfix_exporter_t *exp, flow_report_t *fr,
			  u32 next_node)
{
  vlib_frame_t *nf;
  u32 *to_next;

  nf = vlib_get_frame_to_node (vm, next_node);
  nf->n_vectors = 0;
  to_next = vlib_frame_vector_args (nf);

  nf = fr->flow_data_callback (frm, exp, fr, nf, to_next, next_node);
  if (!nf)
    return;
  if (nf->n_vectors)
    vlib_put_frame_to_node (vm, next_node, nf);
  else
    vlib_frame_free (vm, nf);
}

/*
 * Calls the data callbacks of exporter exp_index's reports: with
 * template_sent, those whose template has gone out before (their flag in
 * *sent is set), else the others. *sent is filled on the first pass.
 */
static void
flow_report_process_exporter (vlib_main_t *vm, flow_report_main_t *frm,
			      u32 exp_index, int template_sent, u8 **sent)
{
  ipfix_exporter_t *exp = flow_report_exporter_at (exp_index);
  u32 i, n_reports = 0, next_node;

  if (!exp || !flow_report_exporter_is_enabled (exp))
    return;

  next_node = ip_addr_version (&exp->ipfix_collector) == AF_IP4 ?
		ip4_lookup_node.index :
		ip6_lookup_node.index;

  /* A callback may add or delete reports: re-read them every time. */
  for (i = 0;; i++)
    {
      if (vpp_ipfix_exporter_sizes (frm->core, exp_index, &n_reports, 0) ||
	  i >= n_reports)
	break;
      flow_report_t *fr = &exp->reports[i];
      if (template_sent)
	vec_validate_init_empty (*sent, i, 0);
      if (template_sent && fr->last_template_sent != 0)
	(*sent)[i] = 1;
      if (fr->flow_data_callback &&
	  (template_sent ? (*sent)[i] : i >= vec_len (*sent) || !(*sent)[i]))
	flow_report_process_send (vm, frm, exp, fr, next_node);
    }
}

/* Arms each exporting thread's idle-flush node; re-arming is harmless. */
static void
flow_report_idle_flush_arm (flow_report_main_t *frm)
{
  u32 n_threads =
    clib_min (vlib_get_n_threads (), vpp_ipfix_main_n_threads (frm->core));
  u32 i = n_threads > 1 ? 1 : 0;

  for (; i < n_threads; i++)
    {
      vlib_main_t *ovm = vlib_get_main_by_index (i);
      if (ovm)
	vlib_node_set_interrupt_pending (ovm, ipfix_idle_flush_node.index);
    }
}

void
flow_report_idle_flush_set (vlib_main_t *vm, f64 max_age)
{
  flow_report_main_t *frm = &flow_report_main;

  /* 0 disables: each node sees it on its next run and stops rescheduling. */
  frm->idle_flush_max_age = max_age;
  if (max_age > 0)
    flow_report_idle_flush_arm (frm);
}

/* One cycle: templates due, data callbacks, main thread's idle packets. */
static f64
flow_report_process_cycle (vlib_main_t *vm, flow_report_main_t *frm)
{
  f64 next_due = FLOW_REPORT_MAX_WAIT;
  u32 i;

  /*
   * VPP's order: a cycle's data goes out ahead of the cycle's template
   * refresh (VPP's tests expect it), but never ahead of a report's first
   * template: those reports' data waits for the templates.
   */
  for (i = 0; i < IPFIX_EXPORTERS_MAX; i++)
    {
      vec_reset_length (frm->template_sent[i]);
      flow_report_process_exporter (vm, frm, i, 1, &frm->template_sent[i]);
    }
  vpp_ipfix_templates_send_due (frm->core, 0, &next_due);
  for (i = 0; i < IPFIX_EXPORTERS_MAX; i++)
    flow_report_process_exporter (vm, frm, i, 0, &frm->template_sent[i]);

  if (frm->idle_flush_max_age > 0)
    {
      vpp_ipfix_thread_flush_idle (frm->core, vm->thread_index,
				   frm->idle_flush_max_age, 0);
      flow_report_idle_flush_arm (frm);
    }

  flow_report_stats_update (frm);
  /* The main thread's packets are flushed here: wake often enough for them. */
  if (frm->idle_flush_max_age > 0)
    next_due = clib_min (next_due, frm->idle_flush_max_age);
  return clib_clamp (next_due, FLOW_REPORT_MIN_WAIT, FLOW_REPORT_MAX_WAIT);
}

static uword
flow_report_process (vlib_main_t *vm, vlib_node_runtime_t *rt, vlib_frame_t *f)
{
  flow_report_main_t *frm = &flow_report_main;
  uword *event_data = 0;
  uword event_type;
  f64 wait_time = FLOW_REPORT_MAX_WAIT;

  /* Wait for Godot... (the first exporter set) */
  vlib_process_wait_for_event_or_clock (vm, 1e9);
  event_type = vlib_process_get_events (vm, &event_data);
  if (event_type != FLOW_REPORT_EVENT_KICK)
    clib_warning ("bogus kickoff event received, %d", event_type);
  vec_reset_length (event_data);

  /* Workers run by now (they start before any process). */
  if (frm->idle_flush_max_age > 0)
    flow_report_idle_flush_arm (frm);

  /*
   * As VPP: the first templates go out on the next flush or timeout, not
   * at the kickoff, which callers (and VPP's tests) rely on.
   */
  while (1)
    {
      vlib_process_wait_for_event_or_clock (vm, wait_time);
      vlib_process_get_events (vm, &event_data);
      vec_reset_length (event_data);
      wait_time = flow_report_process_cycle (vm, frm);
    }

  return 0; /* not so much */
}

VLIB_REGISTER_NODE (flow_report_process_node) = {
  .function = flow_report_process,
  .type = VLIB_NODE_TYPE_PROCESS,
  .name = "flow-report-process",
};

static uword
ipfix_idle_flush_fn (vlib_main_t *vm, vlib_node_runtime_t *node,
		     vlib_frame_t *frame)
{
  flow_report_main_t *frm = &flow_report_main;
  f64 max_age = frm->idle_flush_max_age;
  u32 sent = 0;

  if (max_age <= 0)
    return 0;

  vpp_ipfix_thread_flush_idle (frm->core, vm->thread_index, max_age, &sent);
  vlib_node_schedule (vm, node->node_index, FLOW_REPORT_IDLE_FLUSH_PERIOD);
  return sent;
}

VLIB_REGISTER_NODE (ipfix_idle_flush_node) = {
  .function = ipfix_idle_flush_fn,
  .type = VLIB_NODE_TYPE_SCHED,
  .state = VLIB_NODE_STATE_INTERRUPT,
  .name = "ipfix-idle-flush",
};
