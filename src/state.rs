//! What the library keeps beside the C-visible structs: per exporter, its vectors and
//! retired counters; per report, its fields, per-thread states and counters, and its
//! template packet. Plain data; the operations live with `Instance`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::counters::{vpp_ipfix_counters_t, TemplateCounters, ThreadCounters};
use crate::ops::Lost;
use crate::packet::ExporterHeaders;
use crate::types::{flow_report_per_thread_t, flow_report_stream_t, ipfix_report_element_t};
use crate::wire::FieldSpec;

/// The library's side of one exporter: what C does not see.
#[derive(Debug, Default)]
pub(crate) struct ExporterState {
    pub in_use: bool,
    /// Parallel to the exporter's `reports`, same index.
    pub report_state: Vec<ReportState>,
    /// Counters of deleted reports, so exporter totals never go backwards.
    pub retired: vpp_ipfix_counters_t,
    /// Send RFC 7011 §4.3 reliability statistics per stream (our setting, off for VPP).
    pub reliability_options: bool,
    /// Parallel to the exporter's `streams`, same index; shorter when C code grew
    /// `streams` itself (VPP's flowprobe may). Locked by the template sender, which runs
    /// beside the workers.
    pub stream_options: Vec<Mutex<StreamOptions>>,
    /// The host's count of this exporter's lost templates when the template sender
    /// last looked (`LossMark`): a rise means a collector may lack a template.
    pub templates_lost_seen: LossMark,
    /// The host's losses for this slot when this exporter was created: hosts count per
    /// exporter index for their whole life, and an earlier exporter's losses are not
    /// this one's.
    pub lost_before: Lost,
    /// What each of its packets starts with, from its settings (`Instance::exporter_set`
    /// rebuilds it).
    pub headers: ExporterHeaders,
}

/// A count last seen, or none yet (the first look only records it).
#[derive(Debug)]
pub(crate) struct LossMark(AtomicU64);

impl Default for LossMark {
    fn default() -> Self {
        LossMark(AtomicU64::new(u64::MAX))
    }
}

impl LossMark {
    /// Records `now`; true when it is above the count seen last time.
    pub fn rose(&self, now: u64) -> bool {
        let before = self.0.swap(now, Relaxed);
        before != u64::MAX && now > before
    }

    /// True when `now` is above the count seen last time, without recording it.
    pub fn is_below(&self, now: u64) -> bool {
        let before = self.0.load(Relaxed);
        before != u64::MAX && now > before
    }
}

/// A stream's reliability statistics (RFC 7011 §4.3): its options template and what its
/// deleted reports and its options messages contributed.
#[derive(Debug, Default, Clone)]
pub(crate) struct StreamOptions {
    /// Taken from the stream's template ids when the stream is created with reliability
    /// statistics on, or when they are turned on.
    pub template_id: Option<u16>,
    /// When the options template and record were last sent; 0 = never.
    pub last_sent: f64,
    /// Counters of the stream's deleted reports, and their templates' message bytes.
    pub retired: vpp_ipfix_counters_t,
    pub retired_template_octets: u64,
    /// Options messages sent, and their bytes.
    pub messages: u64,
    pub octets: u64,
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
    /// The template packet (`fr->rewrite` points here); locked by the template sender,
    /// which runs beside the workers.
    pub rewrite: Mutex<Vec<u8>>,
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

/// First template id (RFC 7011 §3.4.1: 0..255 are set ids).
pub const FIRST_TEMPLATE_ID: u16 = 256;
/// Template ids per stream before they wrap.
const TEMPLATE_ID_SPACE: u32 = 65536 - FIRST_TEMPLATE_ID as u32;

/// Takes the stream's next template id: 256 + its next number, wrapping within
/// 256..65535 (VPP's rule).
pub(crate) fn next_template_id(s: &mut flow_report_stream_t) -> u16 {
    let id = FIRST_TEMPLATE_ID + s.next_template_no;
    s.next_template_no = ((u32::from(s.next_template_no) + 1) % TEMPLATE_ID_SPACE) as u16;
    id
}

/// A mutex over plain data, locked; a panic while it was held leaves the data usable
/// (the template sender's and configuration's state, the hosts' pools and batches).
pub(crate) fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The value behind a mutex the library holds exclusively (`&mut`): no lock taken.
pub(crate) fn lock<T>(m: &mut Mutex<T>) -> &mut T {
    m.get_mut().unwrap_or_else(PoisonError::into_inner)
}
