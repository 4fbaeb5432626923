//! The per-thread hot path for C: get the thread's buffer, reserve or append records,
//! send. Many threads at once, each with its own thread index.

use std::ffi::c_void;
use std::sync::atomic::Ordering;

use super::boundary::write_out;
use super::instance::vpp_ipfix_main_t;
use super::threads::InsideDatapath;
use crate::datapath::DataPath;
use crate::error::{Error, Result};
use crate::types::flow_report_per_thread_t;

/// Runs `f` with thread `thread_index`'s view of report `report_index` and its state.
///
/// # Safety
/// `main` is a live instance and the C threading rule holds: no configuration call runs,
/// and no other thread uses `thread_index`.
unsafe fn with_thread<T>(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    f: impl FnOnce(&DataPath<'_>, &mut flow_report_per_thread_t) -> Result<T>,
) -> Result<T> {
    // SAFETY: per the function's contract.
    let m = unsafe { main.as_ref() }.ok_or(Error::VPP_IPFIX_ERROR_NULL_POINTER)?;
    let _inside = InsideDatapath::enter(m, thread_index);
    let dp = m
        .instance
        .data_path(exporter_index, report_index, thread_index)?;
    // SAFETY: this thread is inside for `thread_index` (the contract, and the gate when a
    // timer runs).
    let ptd = unsafe { state_of(&dp) };
    f(&dp, ptd)
}

/// The per-thread state of `dp`'s report for `dp`'s thread.
///
/// # Safety
/// The caller is that thread inside a per-thread call, or the timer holding that
/// thread's gate, and no configuration runs: nothing else touches the entry.
unsafe fn state_of<'a>(dp: &DataPath<'a>) -> &'a mut flow_report_per_thread_t {
    // SAFETY: `per_thread_data` holds `n_threads` entries (a report's per-thread vector is
    // never resized) and `data_path` checked `thread_index < n_threads`; exclusive per
    // the function's contract, so this is the one live reference to the entry.
    unsafe {
        &mut *dp
            .report
            .per_thread_data
            .load(Ordering::Relaxed)
            .add(dp.thread_index as usize)
    }
}

/// Sends thread `thread_index`'s packets, of every report, that waited `max_age` or
/// more; then the host's batch for that thread. Returns (sent, last error code).
///
/// # Safety
/// As `state_of`, for `thread_index`.
pub(crate) unsafe fn flush_thread_idle(
    m: &vpp_ipfix_main_t,
    thread_index: u32,
    max_age: f64,
) -> (u32, i32) {
    let now = m.instance.embedder().now();
    let (mut sent, mut last_error) = (0u32, 0i32);
    for e in 0..m.instance.max_exporters() {
        let Ok(n_reports) = m.instance.n_reports(e) else {
            continue;
        };
        for r in 0..n_reports {
            let went = m.instance.data_path(e, r, thread_index).and_then(|dp| {
                // SAFETY: per the function's contract.
                let ptd = unsafe { state_of(&dp) };
                dp.flush_if_idle(ptd, now, max_age)
            });
            match went {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(err) => last_error = err.code(),
            }
        }
    }
    m.instance.embedder().flush(thread_index);
    (sent, last_error)
}

fn report_error<T>(r: Result<T>, error_out: *mut i32) -> Option<T> {
    let (value, code) = match r {
        Ok(v) => (Some(v), 0),
        Err(e) => (None, e.code()),
    };
    // SAFETY: NULL or writable (the caller's contract).
    unsafe { write_out(error_out, code) };
    value
}

/// VPP's `vnet_ipfix_exp_get_buffer`: the thread's current buffer for the report, or a
/// new one with `next_data_offset` = `all_headers_size` (room for the headers). NULL on
/// error, with the code in `*error_out` (may be NULL): -1002 when the host has no buffer
/// (counted), -30 when the exporter has no collector, -6/-89 for bad indices.
/// Callers that write records themselves use `per_thread_data[thread].packet.data`
/// + `next_data_offset`, then advance `next_data_offset` and `n_data_records`.
#[no_mangle]
pub extern "C" fn vpp_ipfix_buffer_get(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    error_out: *mut i32,
) -> *mut c_void {
    ffi_boundary! {
        // SAFETY: the threading rule (contract of this function).
        let r = unsafe { with_thread(main, exporter_index, report_index, thread_index, |dp, ptd| dp.get_buffer(ptd)) };
        report_error(r, error_out).map_or(std::ptr::null_mut(), |h| h.0 as *mut c_void)
    }
}

/// VPP's `vnet_ipfix_exp_send_buffer`: finishes the thread's packet (headers, export
/// time, sequence number by one atomic add of its records, checksums) and hands it to the
/// host; nothing when no record was written. -1005 when the host refused it (its records
/// are counted as dropped and still advance the sequence). The thread's state is clear
/// afterwards either way.
#[no_mangle]
pub extern "C" fn vpp_ipfix_buffer_send(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
) -> i32 {
    ffi_boundary! {
        // SAFETY: the threading rule (contract of this function).
        let r = unsafe { with_thread(main, exporter_index, report_index, thread_index, |dp, ptd| dp.send_buffer(ptd)) };
        super::boundary::code(r)
    }
}

/// Room for one record of `size` bytes in the thread's packet: the packet is sent first
/// when the record would pass the path MTU, and a buffer is allocated when needed. The
/// record counts as written; fill all `size` bytes before the next call on this thread.
/// When the host refuses the full packet sent first, the call still succeeds (the record
/// goes in a new packet); the loss shows in the counters (`dropped_*`).
/// NULL on error with the code in `*error_out` (may be NULL): -1003 when a record of
/// this size can never fit, -73 for size 0, -1002 when no buffer could be had.
#[no_mangle]
pub extern "C" fn vpp_ipfix_record_reserve(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    size: u16,
    error_out: *mut i32,
) -> *mut u8 {
    ffi_boundary! {
        // SAFETY: the threading rule (contract of this function).
        let r = unsafe {
            with_thread(main, exporter_index, report_index, thread_index, |dp, ptd| {
                dp.reserve(ptd, size).map(|b| b.as_mut_ptr())
            })
        };
        report_error(r, error_out).unwrap_or(std::ptr::null_mut())
    }
}

/// Copies one record of `len` bytes into the thread's packet, as
/// `vpp_ipfix_record_reserve` places it.
#[no_mangle]
pub extern "C" fn vpp_ipfix_record_append(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    record: *const u8,
    len: usize,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, record);
        // SAFETY: `record` holds `len` readable bytes that do not overlap the packet
        // buffer (contract).
        let record = unsafe { std::slice::from_raw_parts(record, len) };
        // SAFETY: the threading rule (contract of this function).
        let r = unsafe { with_thread(main, exporter_index, report_index, thread_index, |dp, ptd| dp.append(ptd, record)) };
        super::boundary::code(r)
    }
}

/// Sends thread `thread_index`'s packets, of every report of every exporter, that hold
/// records and were started at least `max_age` seconds ago (0: all of them). A worker
/// calls it from its loop so records never wait forever in a quiet thread (VPP's core
/// never sent a buffer that stopped filling). Writes how many packets went out to
/// `*sent_out` (may be NULL). Returns 0, or the last send error (counted).
#[no_mangle]
pub extern "C" fn vpp_ipfix_thread_flush_idle(
    main: *const vpp_ipfix_main_t,
    thread_index: u32,
    max_age: f64,
    sent_out: *mut u32,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance (contract).
        let m = unsafe { &*main };
        if thread_index >= m.instance.n_threads() {
            return Error::VPP_IPFIX_ERROR_INVALID_WORKER.code();
        }
        if max_age.is_nan() {
            return Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code();
        }
        let _inside = InsideDatapath::enter(m, thread_index);
        // SAFETY: this thread is inside for `thread_index` (the threading rule).
        let (sent, last_error) = unsafe { flush_thread_idle(m, thread_index, max_age) };
        // SAFETY: NULL or writable (contract).
        unsafe { write_out(sent_out, sent) };
        last_error
    }
}
