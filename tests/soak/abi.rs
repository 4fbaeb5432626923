//! Helpers over the C ABI: the shareable instance pointer, counters, and lookups of
//! reports and of the workers' packets under construction.

use std::sync::atomic::Ordering::Relaxed;

use vpp_ipfix::counters::vpp_ipfix_counters_t;
use vpp_ipfix::ffi::exporter::{vpp_ipfix_exporter_counters, vpp_ipfix_exporter_sizes};
use vpp_ipfix::ffi::instance::vpp_ipfix_main_t;
use vpp_ipfix::ffi::report::{vpp_ipfix_report_counters, vpp_ipfix_report_get};
use vpp_ipfix::types::{flow_report_per_thread_t, flow_report_t};
use vpp_ipfix::Error;

/// `vpp_ipfix_main_t` pointers and the report pointers workers write through, shareable
/// between threads (the C ABI's threading rules, kept by the barrier, make it sound).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MainPtr(pub(crate) usize);

impl MainPtr {
    pub(crate) fn get(self) -> *mut vpp_ipfix_main_t {
        self.0 as *mut vpp_ipfix_main_t
    }
}

pub(crate) const TIMER_RUNNING: i32 = Error::VPP_IPFIX_ERROR_TIMER_RUNNING as i32;

pub(crate) fn counters(main: MainPtr, e: u32) -> vpp_ipfix_counters_t {
    let mut c = vpp_ipfix_counters_t::default();
    assert_eq!(vpp_ipfix_exporter_counters(main.get(), e, &mut c), 0);
    c
}

pub(crate) fn report_counters(main: MainPtr, e: u32, r: u32) -> vpp_ipfix_counters_t {
    let mut c = vpp_ipfix_counters_t::default();
    assert_eq!(vpp_ipfix_report_counters(main.get(), e, r, &mut c), 0);
    c
}

/// Records finished by the library so far: handed to the host (or lost by it) + dropped.
pub(crate) fn finished(c: &vpp_ipfix_counters_t) -> u64 {
    c.data_records + c.dropped_records
}

pub(crate) fn n_reports(main: MainPtr, e: u32) -> u32 {
    let mut n = 0;
    assert_eq!(
        vpp_ipfix_exporter_sizes(main.get(), e, &mut n, std::ptr::null_mut()),
        0
    );
    n
}

/// The C-visible report `r` of exporter `e` (valid until the next configuration call).
pub(crate) fn report(main: MainPtr, e: u32, r: u32) -> &'static flow_report_t {
    let fr = vpp_ipfix_report_get(main.get(), e, r);
    assert!(!fr.is_null(), "report {r} of exporter {e}");
    // SAFETY: non-null, from the library; read only before the next configuration call.
    unsafe { &*fr }
}

/// Thread `t`'s packet under construction for a report.
///
/// # Safety
/// `fr` is live (no configuration call since it was fetched), and thread `t` is not inside
/// a per-thread call nor flushed by the timer: the caller is thread `t` between its calls,
/// or holds the barrier with the timer stopped.
pub(crate) unsafe fn per_thread(fr: *const flow_report_t, t: u32) -> *mut flow_report_per_thread_t {
    // SAFETY: per the function's contract; per_thread_data has n_threads entries.
    unsafe { (*fr).per_thread_data.load(Relaxed).add(t as usize) }
}

/// Records in thread `t`'s packet under construction for report `r`.
pub(crate) fn buffered(main: MainPtr, e: u32, r: u32, t: u32) -> u64 {
    // SAFETY: the barrier is held with the timer stopped (the only callers).
    u64::from(unsafe { (*per_thread(report(main, e, r), t)).n_data_records })
}

/// The index of the report whose opaque value is `uid`.
pub(crate) fn report_index(main: MainPtr, e: u32, uid: u32) -> Option<u32> {
    (0..n_reports(main, e)).find(|&r| report(main, e, r).opaque.as_uword == uid as usize)
}
