//! The per-thread hot path for C: get the thread's buffer, reserve or append records,
//! send. Many threads at once, each with its own thread index.

use std::ffi::c_void;
use std::sync::atomic::Ordering;

use super::boundary::write_out;
use super::instance::vpp_ipfix_main_t;
use super::thread_cache::{vpp_ipfix_fast_path_t, Hit};
use super::threads::InsideDatapath;
use crate::datapath::{room_in_current, DataPath};
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
    // SAFETY: per the function's contract.
    let hit = unsafe {
        m.caches.lookup_or_fill(
            &m.instance,
            &m.threads.timer_on,
            exporter_index,
            report_index,
            thread_index,
        )
    };
    let at = (exporter_index, report_index, thread_index);
    if let Some((dp, ptd)) = hit.and_then(|hit| view_of(m, hit, at)) {
        let _inside = InsideDatapath::enter_untimed(&m.threads);
        return f(&dp, ptd);
    }
    let _inside = InsideDatapath::enter(&m.threads, thread_index);
    let dp = m
        .instance
        .data_path(exporter_index, report_index, thread_index)?;
    // SAFETY: this thread is inside for `thread_index` (the contract, and the gate when a
    // timer runs).
    let ptd = unsafe { state_of(&dp) };
    f(&dp, ptd)
}

/// The worker's view, and its per-thread state, of a memo that matched (exporter,
/// report, thread) `at`; `None` when the report's stream index is out of range (the
/// host may resize `exp->streams`), which the full paths then report.
#[inline(always)]
fn view_of<'m>(
    m: &'m vpp_ipfix_main_t,
    hit: Hit<'m>,
    at: (u32, u32, u32),
) -> Option<(DataPath<'m>, &'m mut flow_report_per_thread_t)> {
    let dp = m
        .instance
        .data_path_from(hit.exp, hit.report, hit.counters, at)?;
    Some((dp, hit.ptd))
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

/// Thread `thread_index`'s memo of (exporter, report) (`ThreadCaches::lookup`), from the
/// C pointer, which may be NULL: a match means every index is valid (the checks of
/// `with_thread`, which made the memo) and no background timer runs (the full paths take
/// the thread's gate then); `None` sends the caller to its full path, which makes the
/// memo or says what is wrong. Loads and comparisons only: nothing here can panic, so
/// the fast paths run before their function's panic boundary.
///
/// # Safety
/// As `with_thread`.
#[inline(always)]
unsafe fn hot_thread<'m>(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
) -> Option<(&'m vpp_ipfix_main_t, Hit<'m>)> {
    // SAFETY: NULL or a live instance (contract).
    let m = unsafe { main.as_ref() }?;
    // SAFETY: per this function's contract.
    let hit = unsafe { m.caches.lookup(exporter_index, report_index, thread_index) }?;
    Some((m, hit))
}

/// Where a record of `size` bytes goes in thread `thread_index`'s current packet, counted
/// as written, when it fits there (`room_in_current`); `None` otherwise. The guard marks
/// the thread inside while the caller fills the room.
///
/// # Safety
/// As `with_thread`.
#[inline(always)]
unsafe fn hot_room<'m>(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    size: u16,
) -> Option<(InsideDatapath<'m>, &'m mut [u8])> {
    // SAFETY: per this function's contract.
    let (m, hit) = unsafe { hot_thread(main, exporter_index, report_index, thread_index) }?;
    let inside = InsideDatapath::enter_untimed(&m.threads);
    let room = room_in_current(hit.exp, m.instance.host_writes_ip_udp(), hit.ptd, size)?;
    Some((inside, hit.ptd.packet.bytes_mut().get_mut(room)?))
}

/// Where the header's `vpp_ipfix_buffer_get_inline` finds each thread's memo of the
/// (exporter, report) it last used: valid until the instance is destroyed (the memos it
/// points at change, the places do not). For NULL, a view with no threads (every inline
/// call then calls `vpp_ipfix_buffer_get`).
#[no_mangle]
pub extern "C" fn vpp_ipfix_fast_path_get(main: *const vpp_ipfix_main_t) -> vpp_ipfix_fast_path_t {
    ffi_boundary! {
        // SAFETY: NULL or a live instance (contract).
        match unsafe { main.as_ref() } {
            Some(m) => m.caches.fast_path(),
            None => vpp_ipfix_fast_path_t::empty(),
        }
    }
}

/// Calls that hand the thread's packet to the caller to write into after they return
/// (`vpp_ipfix_buffer_get`, `vpp_ipfix_record_reserve`) cannot share it with the
/// background timer, which could send it meanwhile.
///
/// # Safety
/// `main` is NULL or a live instance.
unsafe fn refuse_while_timer_runs(main: *const vpp_ipfix_main_t) -> Result<()> {
    // SAFETY: per the function's contract.
    match unsafe { main.as_ref() } {
        Some(m) if m.threads.timer_on.load(Ordering::Relaxed) => {
            Err(Error::VPP_IPFIX_ERROR_TIMER_RUNNING)
        }
        _ => Ok(()),
    }
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
/// (counted), -30 when the exporter has no collector, -6/-89 for bad indices, -1009
/// while the background timer runs.
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
    // The fast path, called for every record: the thread's current buffer.
    // SAFETY: the threading rule (contract of this function).
    if let Some((m, hit)) = unsafe { hot_thread(main, exporter_index, report_index, thread_index) }
    {
        let _inside = InsideDatapath::enter_untimed(&m.threads);
        if !hit.ptd.packet.is_empty() {
            // SAFETY: NULL or writable (contract).
            unsafe { write_out(error_out, 0) };
            return *hit.ptd.buffer.get_mut();
        }
        // Once a packet: a new buffer for indices the memo vouches for, with no timer.
        return buffer_get_new(m, exporter_index, report_index, thread_index, error_out);
    }
    buffer_get_full(main, exporter_index, report_index, thread_index, error_out)
}

/// `vpp_ipfix_buffer_get` when the thread's memo matched and it has no buffer: the
/// memo again (cheaper than carrying it here), then a new buffer.
#[inline(never)]
fn buffer_get_new(
    m: &vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    error_out: *mut i32,
) -> *mut c_void {
    let at = (exporter_index, report_index, thread_index);
    // SAFETY: the threading rule (contract of `vpp_ipfix_buffer_get`).
    let hit = unsafe { m.caches.lookup(exporter_index, report_index, thread_index) };
    let Some((dp, ptd)) = hit.and_then(|hit| view_of(m, hit, at)) else {
        return buffer_get_full(m, exporter_index, report_index, thread_index, error_out);
    };
    ffi_boundary! {
        report_error(dp.get_buffer(ptd), error_out).map_or(std::ptr::null_mut(), |h| h.0 as *mut c_void)
    }
}

/// `vpp_ipfix_buffer_get` when the thread has no buffer yet, or something is wrong.
#[cold]
#[inline(never)]
extern "C" fn buffer_get_full(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    error_out: *mut i32,
) -> *mut c_void {
    ffi_boundary! {
        // SAFETY: the threading rule (contract of `vpp_ipfix_buffer_get`).
        let r = unsafe {
            refuse_while_timer_runs(main).and_then(|()| {
                with_thread(main, exporter_index, report_index, thread_index, |dp, ptd| dp.get_buffer(ptd))
            })
        };
        report_error(r, error_out).map_or(std::ptr::null_mut(), |h| h.0 as *mut c_void)
    }
}

/// VPP's `vnet_ipfix_exp_send_buffer`: finishes the thread's packet (headers, export
/// time, sequence number by one atomic add of its records, checksums) and hands it to the
/// host; nothing when no record was written (the buffer stays for the next records).
/// -1005 when the host refused it (its records are counted as dropped and still advance
/// the sequence); -1002 when the report's first template could not be had a buffer (the
/// data, undecodable without it, is dropped the same way; the template is tried again);
/// -7 when the caller left `next_data_offset` past the path MTU or the buffer, inside
/// the headers, or at the headers with records counted (the packet is dropped and its
/// records counted as dropped; the sequence does not advance: they were never numbered).
/// Sent or dropped, the thread's state is clear afterwards.
#[no_mangle]
pub extern "C" fn vpp_ipfix_buffer_send(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
) -> i32 {
    // The thread's memo: no other lookup, no timer to wait for.
    // SAFETY: the threading rule (contract of this function).
    if let Some((m, hit)) = unsafe { hot_thread(main, exporter_index, report_index, thread_index) }
    {
        let at = (exporter_index, report_index, thread_index);
        if let Some((dp, ptd)) = view_of(m, hit, at) {
            let _inside = InsideDatapath::enter_untimed(&m.threads);
            return ffi_boundary! { super::boundary::code(dp.send_buffer(ptd)) };
        }
    }
    buffer_send_full(main, exporter_index, report_index, thread_index)
}

/// `vpp_ipfix_buffer_send` without a matching memo.
#[cold]
#[inline(never)]
extern "C" fn buffer_send_full(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
) -> i32 {
    ffi_boundary! {
        // SAFETY: the threading rule (contract of `vpp_ipfix_buffer_send`).
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
/// this size can never fit, -73 for size 0, -1002 when no buffer could be had, -1009
/// while the background timer runs (use `vpp_ipfix_record_append` then).
#[no_mangle]
pub extern "C" fn vpp_ipfix_record_reserve(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    size: u16,
    error_out: *mut i32,
) -> *mut u8 {
    // The fast path: room in the current packet.
    // SAFETY: the threading rule (contract of this function).
    if let Some((_inside, room)) =
        unsafe { hot_room(main, exporter_index, report_index, thread_index, size) }
    {
        // SAFETY: NULL or writable (contract).
        unsafe { write_out(error_out, 0) };
        return room.as_mut_ptr();
    }
    record_reserve_full(
        main,
        exporter_index,
        report_index,
        thread_index,
        size,
        error_out,
    )
}

/// `vpp_ipfix_record_reserve` when the record does not go into the current packet.
#[cold]
#[inline(never)]
extern "C" fn record_reserve_full(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    size: u16,
    error_out: *mut i32,
) -> *mut u8 {
    ffi_boundary! {
        // SAFETY: the threading rule (contract of `vpp_ipfix_record_reserve`).
        let r = unsafe {
            refuse_while_timer_runs(main).and_then(|()| {
                with_thread(main, exporter_index, report_index, thread_index, |dp, ptd| {
                    dp.reserve(ptd, size).map(|b| b.as_mut_ptr())
                })
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
    // The fast path: the record fits in the current packet.
    if let (false, Ok(size)) = (record.is_null(), u16::try_from(len)) {
        // SAFETY: the threading rule (contract of this function).
        if let Some((_inside, room)) =
            unsafe { hot_room(main, exporter_index, report_index, thread_index, size) }
        {
            // SAFETY: `record` is non-NULL and holds `len` readable bytes that do not
            // overlap the packet buffer (contract); `room` holds `size` == `len` bytes.
            unsafe { std::ptr::copy_nonoverlapping(record, room.as_mut_ptr(), room.len()) };
            return 0;
        }
    }
    record_append_full(
        main,
        exporter_index,
        report_index,
        thread_index,
        record,
        len,
    )
}

/// `vpp_ipfix_record_append` when the record does not go into the current packet.
#[cold]
#[inline(never)]
extern "C" fn record_append_full(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    record: *const u8,
    len: usize,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, record);
        // No record passes 65535 bytes (a set's length field); checked before the slice
        // is made, since a length past isize::MAX cannot describe memory at all.
        if len > usize::from(u16::MAX) {
            return Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG.code();
        }
        // SAFETY: `record` holds `len` readable bytes that do not overlap the packet
        // buffer (contract), and `len` <= 65535.
        let record = unsafe { std::slice::from_raw_parts(record, len) };
        // SAFETY: the threading rule (contract of `vpp_ipfix_record_append`).
        let r = unsafe { with_thread(main, exporter_index, report_index, thread_index, |dp, ptd| dp.append(ptd, record)) };
        super::boundary::code(r)
    }
}

/// Copies `n_records` records of `record_size` bytes each, one after another at
/// `records`, into the thread's packets: as `vpp_ipfix_record_append` for each in turn,
/// but with one copy for all the records that go into the same packet. Writes how many
/// went in to `*appended_out` (may be NULL): all of them, unless an error stopped it
/// (the records before it are in; the code says why, as for `vpp_ipfix_record_append`).
/// -73 for `record_size` 0 (or a total past the address space); nothing is done for
/// `n_records` 0, when `records` may be NULL.
#[no_mangle]
pub extern "C" fn vpp_ipfix_records_append(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    thread_index: u32,
    records: *const u8,
    record_size: u16,
    n_records: usize,
    appended_out: *mut usize,
) -> i32 {
    ffi_boundary! {
        // SAFETY: NULL or writable (contract).
        unsafe { write_out(appended_out, 0) };
        check_not_null!(main);
        if record_size == 0 {
            return Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code();
        }
        if n_records == 0 {
            return 0;
        }
        check_not_null!(records);
        // No memory holds more than isize::MAX bytes.
        let len = match n_records.checked_mul(usize::from(record_size)) {
            Some(len) if len <= isize::MAX as usize => len,
            _ => return Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code(),
        };
        // SAFETY: `records` holds `n_records * record_size` readable bytes that do not
        // overlap the packet buffers (contract).
        let records = unsafe { std::slice::from_raw_parts(records, len) };
        let mut done = 0;
        // SAFETY: the threading rule (contract of this function).
        let r = unsafe {
            with_thread(main, exporter_index, report_index, thread_index, |dp, ptd| {
                let (n, r) = dp.append_records(ptd, records, record_size);
                done = n;
                r
            })
        };
        // SAFETY: NULL or writable (contract).
        unsafe { write_out(appended_out, done) };
        super::boundary::code(r)
    }
}

/// Sends thread `thread_index`'s packets, of every report of every exporter, that hold
/// records and were started at least `max_age` seconds ago (0: all of them). A worker
/// calls it from its loop so records never wait forever in a quiet thread (VPP's core
/// never sent a buffer that stopped filling). Writes how many packets went out to
/// `*sent_out` (may be NULL). Returns 0, or the last send error (counted; the codes of
/// `vpp_ipfix_buffer_send`).
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
        let _inside = InsideDatapath::enter(&m.threads, thread_index);
        // SAFETY: this thread is inside for `thread_index` (the threading rule).
        let (sent, last_error) = unsafe { flush_thread_idle(m, thread_index, max_age) };
        // SAFETY: NULL or writable (contract).
        unsafe { write_out(sent_out, sent) };
        last_error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::vpp_ipfix_exporter_config_t;
    use crate::ffi::instance::vpp_ipfix_main_destroy;
    use crate::instance::Instance;
    use crate::report::ReportSpec;
    use crate::transport::Capture;
    use crate::types::ip_address_t;
    use crate::wire::FieldSpec;

    /// A C-side instance with one report of 16-byte records at MTU 512.
    fn main_with_report(capture: &Capture) -> *mut vpp_ipfix_main_t {
        let mut inst = Instance::new(Box::new(capture.clone()), 2, 0).unwrap();
        let config = vpp_ipfix_exporter_config_t {
            collector: ip_address_t::v4([192, 0, 2, 1]),
            src_address: ip_address_t::v4([192, 0, 2, 2]),
            path_mtu: 512,
            ..Default::default()
        };
        inst.exporter_set(0, &config).unwrap();
        let spec = ReportSpec {
            domain_id: 1,
            src_port: 30001,
            fields: vec![FieldSpec::new(1, 8), FieldSpec::new(2, 8)],
            ..Default::default()
        };
        inst.report_add(0, spec).map_err(|e| e.error).unwrap();
        inst.send_due_templates();
        capture.take_packets();
        vpp_ipfix_main_t::into_raw(inst)
    }

    #[test]
    fn records_append_checks_and_counts() {
        let capture = Capture::new(1_700_000_000.0);
        let main = main_with_report(&capture);
        let data = [9u8; 16 * 64];
        let mut done = usize::MAX;
        let append = |e, r, t, p: *const u8, size, n, out: *mut usize| {
            vpp_ipfix_records_append(main, e, r, t, p, size, n, out)
        };
        let null_pointer = Error::VPP_IPFIX_ERROR_NULL_POINTER.code();
        assert_eq!(append(0, 0, 0, std::ptr::null(), 16, 0, &mut done), 0);
        assert_eq!(done, 0);
        assert_eq!(
            append(0, 0, 0, std::ptr::null(), 16, 1, &mut done),
            null_pointer
        );
        let invalid = Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code();
        assert_eq!(append(0, 0, 0, data.as_ptr(), 0, 1, &mut done), invalid);
        assert_eq!(
            append(0, 0, 0, data.as_ptr(), 16, usize::MAX / 8, &mut done),
            invalid
        );
        assert_eq!(
            append(0, 0, 2, data.as_ptr(), 16, 1, &mut done),
            Error::VPP_IPFIX_ERROR_INVALID_WORKER.code()
        );
        assert_eq!(
            append(0, 1, 0, data.as_ptr(), 16, 1, &mut done),
            Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY.code()
        );
        assert_eq!(done, 0);
        assert_eq!(append(0, 0, 1, data.as_ptr(), 16, 64, &mut done), 0);
        assert_eq!(done, 64);
        assert_eq!(vpp_ipfix_buffer_send(main, 0, 0, 1), 0);
        let packets = capture.take_packets();
        // (512 - 48) / 16 = 29 records a packet.
        let records: Vec<u32> = packets.iter().map(|p| p.info.records).collect();
        assert_eq!(records, [29, 29, 6]);
        assert_eq!(
            vpp_ipfix_records_append(std::ptr::null(), 0, 0, 0, data.as_ptr(), 16, 1, &mut done),
            null_pointer
        );
        vpp_ipfix_main_destroy(main);
    }

    /// The per-thread memo of a checked (exporter, report) never outlives a configuration
    /// call: a deleted report's index is refused at once, a report added in its place
    /// (the reports vector may move) gets the records, and a started timer turns the
    /// fast paths off.
    #[test]
    fn configuration_invalidates_the_thread_memos() {
        use crate::ffi::report::{vpp_ipfix_report_add, vpp_ipfix_report_config_t};
        use crate::ffi::timer::{vpp_ipfix_timer_start, vpp_ipfix_timer_stop};
        use crate::types::opaque_t;

        let capture = Capture::new(1_700_000_000.0);
        let main = main_with_report(&capture);
        let record = [7u8; 16];
        let mut err = 0;
        // Fills thread 1's memo for (0, 0), then uses it.
        assert!(!vpp_ipfix_buffer_get(main, 0, 0, 1, &mut err).is_null());
        assert_eq!(
            vpp_ipfix_record_append(main, 0, 0, 1, record.as_ptr(), 16),
            0
        );
        let mut tid = 0u16;
        let opaque = opaque_t { as_uword: 0 };
        assert_eq!(
            crate::ffi::report::vpp_ipfix_report_delete(main, 0, 1, 30001, opaque, &mut tid),
            0
        );
        let no_such_entry = Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY.code();
        assert_eq!(
            vpp_ipfix_record_append(main, 0, 0, 1, record.as_ptr(), 16),
            no_such_entry
        );
        assert!(vpp_ipfix_buffer_get(main, 0, 0, 1, &mut err).is_null());
        assert_eq!(err, no_such_entry);
        assert!(vpp_ipfix_record_reserve(main, 0, 0, 1, 16, &mut err).is_null());
        assert_eq!(err, no_such_entry);

        // Three reports of another size, the first at index 0 again.
        let fields = [
            FieldSpec::new(1, 8),
            FieldSpec::new(2, 8),
            FieldSpec::new(3, 8),
        ];
        for port in 0..3u16 {
            let config = vpp_ipfix_report_config_t {
                domain_id: 2 + u32::from(port),
                src_port: 40000 + port,
                fields: fields.as_ptr(),
                n_fields: 3,
                // VPP identifies a report by its opaque value (and callbacks).
                opaque: opaque_t {
                    as_uword: 10 + usize::from(port),
                },
            };
            let mut index = u32::MAX;
            assert_eq!(
                vpp_ipfix_report_add(main, 0, &config, &mut index, std::ptr::null_mut()),
                0
            );
            assert_eq!(index, u32::from(port));
        }
        let wide = [8u8; 24];
        assert_eq!(vpp_ipfix_record_append(main, 0, 0, 1, wide.as_ptr(), 24), 0);
        assert_eq!(vpp_ipfix_record_append(main, 0, 2, 1, wide.as_ptr(), 24), 0);
        assert_eq!(vpp_ipfix_buffer_send(main, 0, 0, 1), 0);
        assert_eq!(vpp_ipfix_buffer_send(main, 0, 2, 1), 0);
        let data: Vec<(u32, u32)> = capture
            .take_packets()
            .iter()
            .filter(|p| p.info.records > 0)
            .map(|p| (p.info.domain_id, p.info.records))
            .collect();
        // The deleted report's record went out with the delete.
        assert_eq!(data, [(1, 1), (2, 1), (4, 1)]);

        // The memo of (0, 0) is current again; a timer must still turn it off.
        assert!(!vpp_ipfix_buffer_get(main, 0, 0, 1, &mut err).is_null());
        assert_eq!(vpp_ipfix_buffer_send(main, 0, 0, 1), 0);
        assert_eq!(vpp_ipfix_timer_start(main, 3600.0, 3600.0), 0);
        assert!(vpp_ipfix_buffer_get(main, 0, 0, 1, &mut err).is_null());
        assert_eq!(err, Error::VPP_IPFIX_ERROR_TIMER_RUNNING.code());
        assert_eq!(vpp_ipfix_record_append(main, 0, 0, 1, wide.as_ptr(), 24), 0);
        assert_eq!(vpp_ipfix_timer_stop(main), 0);
        vpp_ipfix_main_destroy(main);
    }

    #[test]
    fn fast_and_full_paths_agree_on_the_thread_state() {
        let capture = Capture::new(1_700_000_000.0);
        let main = main_with_report(&capture);
        let mut err = 1;
        // No buffer yet (full path), then the current one (fast path).
        let first = vpp_ipfix_buffer_get(main, 0, 0, 0, &mut err);
        assert!(!first.is_null() && err == 0);
        err = 1;
        assert_eq!(vpp_ipfix_buffer_get(main, 0, 0, 0, &mut err), first);
        assert_eq!(err, 0);
        assert!(vpp_ipfix_buffer_get(main, 0, 0, 5, &mut err).is_null());
        assert_eq!(err, Error::VPP_IPFIX_ERROR_INVALID_WORKER.code());
        let record = [1u8; 16];
        for _ in 0..30 {
            assert_eq!(
                vpp_ipfix_record_append(main, 0, 0, 0, record.as_ptr(), 16),
                0
            );
        }
        let room = vpp_ipfix_record_reserve(main, 0, 0, 0, 16, &mut err);
        assert!(!room.is_null() && err == 0);
        assert!(vpp_ipfix_record_reserve(main, 0, 0, 0, 0, &mut err).is_null());
        assert_eq!(err, Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code());
        assert_eq!(vpp_ipfix_buffer_send(main, 0, 0, 0), 0);
        let records: Vec<u32> = capture
            .take_packets()
            .iter()
            .map(|p| p.info.records)
            .collect();
        assert_eq!(records, [29, 2]);
        vpp_ipfix_main_destroy(main);
    }
}
