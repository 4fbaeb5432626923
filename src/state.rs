//! What the library keeps beside the C-visible structs: per exporter, its vectors and
//! retired counters; per report, its fields, per-thread states and counters, and its
//! template packet. Plain data; the operations live with `Instance`.

use crate::counters::{vpp_ipfix_counters_t, TemplateCounters, ThreadCounters};
use crate::types::{
    flow_report_per_thread_t, flow_report_stream_t, flow_report_t, ipfix_report_element_t,
};
use crate::wire::FieldSpec;

/// The library's side of one exporter: what C does not see.
#[derive(Debug, Default)]
pub(crate) struct ExporterState {
    pub in_use: bool,
    pub streams: Vec<flow_report_stream_t>,
    pub reports: Vec<flow_report_t>,
    /// Parallel to `reports`, same index.
    pub report_state: Vec<ReportState>,
    /// Counters of deleted reports, so exporter totals never go backwards.
    pub retired: vpp_ipfix_counters_t,
}

/// The library's side of one report.
#[derive(Debug, Default)]
pub(crate) struct ReportState {
    /// The template's field specifiers.
    pub fields: Vec<FieldSpec>,
    /// VPP's view of the same elements (`fr->report_elements` points here).
    pub elements: Vec<ipfix_report_element_t>,
    /// `fr->per_thread_data` points here; never resized after the report is added.
    pub per_thread: Vec<flow_report_per_thread_t>,
    /// One block per thread, parallel to `per_thread`.
    pub thread_counters: Vec<ThreadCounters>,
    pub template_counters: TemplateCounters,
    /// The template packet (`fr->rewrite` points here).
    pub rewrite: Vec<u8>,
}

impl ReportState {
    /// This report's totals over all threads.
    pub fn counters(&self) -> vpp_ipfix_counters_t {
        let mut total = vpp_ipfix_counters_t::default();
        for c in &self.thread_counters {
            total.add(&c.read());
        }
        self.template_counters.read_into(&mut total);
        total
    }
}
