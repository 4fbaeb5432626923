//! `api_sequence`: the input is a program of C-ABI calls on one instance with an
//! in-memory host (`transport::Capture`, wrapped as `host.rs` says): exporters set,
//! created and deleted with any settings, reports added and deleted with any elements,
//! resets, stream changes, records appended (one, in batches, reserved, or written VPP's
//! way at `next_data_offset` after `vpp_ipfix_buffer_get`) on 1..4 simulated threads,
//! sends, flushes, idle flushes, templates due under a clock that moves both ways,
//! offsets handed back past the path MTU or the buffer, the host refusing packets,
//! allocation failures, and the background timer started and stopped.
//!
//! After every call, every packet the host received must decode (see the crate
//! documentation) and its sequence number must be the number of data records its stream
//! sent before it (templates: the current number); while the host refuses packets, the
//! sequence numbers must move on by the records counted as dropped. Per exporter, the
//! records delivered plus the records its counters show dropped never pass the records
//! the calls accepted; at the end they equal them exactly.

// Ordered maps, not hashed with a random seed: every run takes the same paths (AFL).
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use vpp_ipfix::counters::vpp_ipfix_counters_t;
use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::datapath::{
    vpp_ipfix_buffer_get, vpp_ipfix_buffer_send, vpp_ipfix_record_append, vpp_ipfix_record_reserve,
    vpp_ipfix_records_append, vpp_ipfix_thread_flush_idle,
};
use vpp_ipfix::ffi::exporter::{
    vpp_ipfix_exporter_counters, vpp_ipfix_exporter_create, vpp_ipfix_exporter_delete,
    vpp_ipfix_exporter_get, vpp_ipfix_exporter_set, vpp_ipfix_exporter_sizes,
};
use vpp_ipfix::ffi::instance::{
    vpp_ipfix_flush, vpp_ipfix_main_destroy, vpp_ipfix_main_t, vpp_ipfix_templates_send_due,
};
use vpp_ipfix::ffi::report::{
    vpp_ipfix_report_add, vpp_ipfix_report_add_del, vpp_ipfix_report_config_t,
    vpp_ipfix_report_delete, vpp_ipfix_report_get, vpp_ipfix_reports_reset,
    vpp_ipfix_stream_change, vpp_ipfix_stream_get, vpp_ipfix_stream_reset, vpp_ipfix_template_send,
};
use vpp_ipfix::ffi::timer::{vpp_ipfix_timer_start, vpp_ipfix_timer_stop};
use vpp_ipfix::transport::Capture;
use vpp_ipfix::types::{
    flow_report_per_thread_t, ip_address_t, ipfix_report_element_t, opaque_t,
    vnet_flow_report_add_del_args_t,
};
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::{Error, Instance};

use crate::host::{Host, TimerWatch};
use crate::input::Input;
use crate::ipfix::Decoder;
use crate::no_panic;
use crate::packet::parse_ip_udp;

/// Exporter indices tried: the default 5 slots and one past them.
const EXPORTER_INDICES: u8 = 6;
const SLOTS: usize = EXPORTER_INDICES as usize;
/// Calls per input at most, so one input cannot run for long.
const MAX_STEPS: usize = 400;
const T0: f64 = 1_700_000_000.0;
/// A new timer thread's first round normally comes within microseconds; when it has not
/// come after this (doubled at each try, for a loaded machine), it was skipped and the
/// timer is started again, this many times (about 8 s in all).
const TIMER_WAIT: Duration = Duration::from_millis(2);
const TIMER_TRIES: u32 = 12;
/// Opcode bytes from here on are the calls added after the first corpus (VPP-style path,
/// offsets handed back, refusals, timer); below it, `byte % 20` as before, so inputs
/// written before them read the same unless an opcode byte was 240 or more.
const NEW_OPS_FROM: u8 = 240;

/// A sequence stream as the checks see it: exporter, observation domain, UDP source port.
type StreamKey = (u32, u32, u16);

/// One exporter slot's records: accepted by calls, decoded from its packets, and counted
/// as dropped by its counters (the value last read).
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    accepted: u64,
    decoded: u64,
    dropped: u64,
}

// The codes the checks expect, as the header gives them.
const INVALID_VALUE: i32 = Error::VPP_IPFIX_ERROR_INVALID_VALUE as i32;
const INVALID_ARGUMENT: i32 = Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT as i32;
const NO_SUCH_ENTRY: i32 = Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY as i32;
const VALUE_EXIST: i32 = Error::VPP_IPFIX_ERROR_VALUE_EXIST as i32;
const INVALID_WORKER: i32 = Error::VPP_IPFIX_ERROR_INVALID_WORKER as i32;
const EXPORTER_DISABLED: i32 = Error::VPP_IPFIX_ERROR_EXPORTER_DISABLED as i32;
const NO_BUFFER: i32 = Error::VPP_IPFIX_ERROR_NO_BUFFER as i32;
const ENQUEUE_FAILED: i32 = Error::VPP_IPFIX_ERROR_ENQUEUE_FAILED as i32;
const TIMER_RUNNING: i32 = Error::VPP_IPFIX_ERROR_TIMER_RUNNING as i32;

struct Harness {
    main: *mut vpp_ipfix_main_t,
    capture: Capture,
    watch: Arc<TimerWatch>,
    n_threads: u32,
    now: f64,
    decoder: Decoder,
    /// Data records each stream sent so far (absent: none since its last reset).
    sequence: BTreeMap<StreamKey, u32>,
    /// (session, domain, template id) of options templates: their records are the
    /// library's own statistics, not the calls'.
    options_templates: BTreeSet<(String, u32, u16)>,
    /// Per exporter slot, `None` while it is not in use.
    tallies: [Option<Tally>; SLOTS],
    /// What deleted exporters had; and the records they held when deleted that were
    /// neither delivered nor still readable as dropped (their counters went with them).
    retired: Tally,
    lost_with_exporters: u64,
    /// Allocation failures were injected: a packet may be dropped for want of its
    /// template's buffer (counted), so sequence numbers may jump forward at any call.
    faults: bool,
    /// The host refuses every packet.
    refusing: bool,
    timer_on: bool,
    /// This call may reset or free streams: not all the sequence it spent stays visible.
    structural: bool,
    /// This call may send reliability statistics, whose records advance the sequence but
    /// are not in the exporter's counters.
    options_may_send: bool,
    /// Per exporter, records this call dropped without numbering them (a packet handed
    /// back past its end cannot be sent).
    unsequenced: [u64; SLOTS],
    packets: u64,
    /// FUZZ_TRACE is set: each call and packet is printed (with `examples/replay.rs`).
    trace: bool,
}

fn address(input: &mut Input, v6: bool) -> ip_address_t {
    match input.u8() % 8 {
        0 => ip_address_t::default(),
        6 => {
            // Anything, family byte included.
            let mut a = ip_address_t::default();
            a.ip.copy_from_slice(&input.bytes(16));
            a.version = input.u8() % 3;
            a
        }
        k if v6 => ip_address_t::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, k]),
        k => ip_address_t::v4([192, 0, 2, k]),
    }
}

fn exporter_config(input: &mut Input) -> vpp_ipfix_exporter_config_t {
    let v6 = input.bool();
    let collector = address(input, v6);
    let source_v6 = v6 != (input.u8() == 7);
    let mut c = vpp_ipfix_exporter_config_t {
        collector,
        src_address: address(input, source_v6),
        ..Default::default()
    };
    c.collector_port = match input.u8() % 4 {
        0 => 0,
        1 => 4739,
        2 => 0xffff,
        _ => input.u16(),
    };
    c.path_mtu = match input.u8() % 8 {
        0 => u32::MAX,
        1 => 68,
        2 => 1450,
        3 => 100,
        4 => 1451,
        5 => 67,
        6 => 512,
        _ => u32::from(input.u16()),
    };
    c.template_interval = match input.u8() % 4 {
        0 => u32::MAX,
        1 => 0,
        _ => u32::from(input.u8()),
    };
    c.udp_checksum = input.u8() % 3;
    c.reliability_options = input.u8() % 3;
    if input.u8() == 0xff {
        c.fib_index = input.u32();
    }
    c
}

fn field(input: &mut Input) -> FieldSpec {
    let id = match input.u8() % 4 {
        0 => input.u16(),
        k => u16::from(k) * 37,
    };
    let length = match input.u8() % 8 {
        0 => 0,
        1 | 2 => 65535,
        7 => input.u16(),
        k => u16::from(k) * 2 - 3,
    };
    let enterprise = if input.u8().is_multiple_of(4) {
        input.u32()
    } else {
        0
    };
    FieldSpec::enterprise(id, length, enterprise)
}

fn n_fields(input: &mut Input) -> usize {
    match input.u8() {
        0xff => usize::from(input.u16() % 600),
        n => usize::from(n % 6),
    }
}

fn stream_key(input: &mut Input) -> (u32, u16) {
    let domain = match input.u8() % 8 {
        7 => input.u32(),
        d => u32::from(d % 4),
    };
    let port = match input.u8() % 8 {
        7 => input.u16(),
        p => 30000 + u16::from(p % 4),
    };
    (domain, port)
}

/// One record for a report whose element sizes are `sizes` (65535: variable length).
fn record(input: &mut Input, sizes: &[u32]) -> Vec<u8> {
    let mut r = Vec::new();
    for &size in sizes {
        if size == 65535 {
            let len = match input.u8() {
                0xff => usize::from(input.u16() % 2000),
                n => usize::from(n % 40),
            };
            if len < 255 && !input.u8().is_multiple_of(4) {
                r.push(len as u8);
            } else {
                r.push(255);
                r.extend_from_slice(&(len as u16).to_be_bytes());
            }
            r.extend(input.bytes(len));
        } else {
            let n = size as usize;
            let fill = input.u8();
            r.extend(std::iter::repeat_n(fill, n));
        }
    }
    r
}

impl Harness {
    /// The element sizes of report `r` of exporter `e`, when it exists.
    fn report_sizes(&self, e: u32, r: u32) -> Option<Vec<u32>> {
        let fr = vpp_ipfix_report_get(self.main, e, r);
        // SAFETY: the library's own report, read between calls.
        let fr = unsafe { fr.as_ref() }?;
        let elements = fr.report_elements.load(Relaxed);
        if elements.is_null() {
            return None;
        }
        // SAFETY: `n_report_elements` elements, kept by the library with the report.
        let elements =
            unsafe { std::slice::from_raw_parts(elements, fr.n_report_elements as usize) };
        Some(elements.iter().map(|e| e.size).collect())
    }

    /// (collector, source, port) of each exporter slot, `None` when not in use.
    /// Each exporter's session: collector, source, port and table (the in-memory host
    /// has tables, as VPP does: a new one resets the streams too).
    fn exporters(&self) -> Vec<Option<(ip_address_t, ip_address_t, u16, u32)>> {
        (0..u32::from(EXPORTER_INDICES))
            .map(|e| {
                // SAFETY: the library's own exporter, read between calls.
                unsafe { vpp_ipfix_exporter_get(self.main, e).as_ref() }.map(|x| {
                    (
                        x.ipfix_collector,
                        x.src_address,
                        x.collector_port,
                        x.fib_index,
                    )
                })
            })
            .collect()
    }

    /// (path MTU, `all_headers_size`) of exporter `e`, which is in use.
    fn exporter_bounds(&self, e: u32) -> (usize, usize) {
        // SAFETY: the library's own exporter, read between calls.
        let exp = unsafe { vpp_ipfix_exporter_get(self.main, e).as_ref() }
            .unwrap_or_else(|| panic!("exporter {e} gave a buffer but is not in use"));
        (exp.path_mtu as usize, exp.all_headers_size as usize)
    }

    /// Forgets the sequence of every stream of exporter `e`: they start again at 0.
    fn reset_exporter(&mut self, e: u32) {
        self.sequence.retain(|k, _| k.0 != e);
    }

    /// Forgets streams that no longer exist (their last report went): one with the same
    /// key later starts again at 0.
    fn prune(&mut self) {
        let main = self.main;
        let live = |&(e, d, p): &StreamKey| {
            let (mut reports, mut streams) = (0, 0);
            if vpp_ipfix_exporter_sizes(main, e, &mut reports, &mut streams) != 0 {
                return false;
            }
            (0..streams).any(|s| {
                // SAFETY: the library's own stream, read between calls.
                unsafe { vpp_ipfix_stream_get(main, e, s).as_ref() }
                    .is_some_and(|st| st.domain_id == d && st.src_port == p)
            })
        };
        self.sequence.retain(|k, _| live(k));
    }

    /// `n` records of exporter `e` were accepted by a call.
    fn accept(&mut self, e: u32, n: u64) {
        if n == 0 {
            return;
        }
        self.tallies
            .get_mut(e as usize)
            .and_then(Option::as_mut)
            .unwrap_or_else(|| panic!("{n} records accepted by exporter {e}, not in use"))
            .accepted += n;
    }

    /// Checks every packet the host received since the last call.
    fn check_packets(&mut self, step: &str) {
        for p in self.capture.take_packets() {
            self.packets += 1;
            let d = parse_ip_udp(&p.bytes)
                .unwrap_or_else(|err| panic!("{step}: packet {}: {err}", self.packets));
            assert_eq!(d.src_port, p.info.src_port, "{step}: UDP source port");
            assert_eq!(d.dst_port, p.info.dst_port, "{step}: UDP destination port");
            // A collector in another table (VPP's FIB) is another collector: the same
            // addresses there are a different transport session (the library lets two
            // exporters use them, as VPP can route them apart).
            let session = format!("fib {} {}", p.info.fib_index, d.session_key());
            if self.trace {
                eprintln!("   packet {}: {session} {:?}", self.packets, p.info);
            }
            let msg = self
                .decoder
                .decode(&session, &d.payload)
                .unwrap_or_else(|err| panic!("{step}: packet {} ({session}): {err}", self.packets));
            assert_eq!(msg.domain_id, p.info.domain_id, "{step}: domain");
            for t in &msg.templates {
                self.options_templates
                    .remove(&(session.clone(), msg.domain_id, t.id));
            }
            for t in &msg.options_templates {
                self.options_templates
                    .insert((session.clone(), msg.domain_id, t.id));
            }
            let n = msg.data_records.len() as u32;
            let key = (p.info.exporter_index, msg.domain_id, d.src_port);
            let mut sent = self.sequence.get(&key).copied().unwrap_or(0);
            if self.faults {
                // After an injected allocation failure a packet may have been dropped
                // (counted): its records advance the sequence, so the collector sees a
                // gap. Forward only, never back or overlapping.
                let gap = msg.sequence_number.wrapping_sub(sent);
                assert!(
                    gap < 1 << 31,
                    "{step}: packet {} of stream {key:?} ({session}) carries sequence \
                     number {} behind {sent} records already numbered",
                    self.packets,
                    msg.sequence_number
                );
                sent = msg.sequence_number;
            }
            assert_eq!(
                msg.sequence_number, sent,
                "{step}: packet {} of stream {key:?} ({session}) carries sequence number {} \
                 after {sent} data records (template: {}, {n} records)",
                self.packets, msg.sequence_number, p.info.is_template
            );
            self.sequence.insert(key, sent.wrapping_add(n));
            if !p.info.is_template {
                assert_eq!(n, p.info.records, "{step}: records decoded vs announced");
            }
            let records = msg
                .data_records
                .iter()
                .filter(|r| {
                    !self.options_templates.contains(&(
                        session.clone(),
                        msg.domain_id,
                        r.template_id,
                    ))
                })
                .count() as u64;
            let e = p.info.exporter_index;
            self.tallies
                .get_mut(e as usize)
                .and_then(Option::as_mut)
                .unwrap_or_else(|| panic!("{step}: a packet of exporter {e}, not in use"))
                .decoded += records;
        }
    }

    /// After each call: reads every exporter's dropped records and checks that no record
    /// is both delivered and dropped, that drops happen only where the host refused, an
    /// allocation failed or an offset was handed back past the packet, and (while the
    /// host refuses) that each drop moved its stream's sequence on.
    fn account(&mut self, step: &str, refusing: bool) {
        let mut dropped = [0u64; SLOTS];
        for (e, drop) in dropped.iter_mut().enumerate() {
            let mut c = vpp_ipfix_counters_t::default();
            let now = (vpp_ipfix_exporter_counters(self.main, e as u32, &mut c) == 0)
                .then_some(c.dropped_records);
            match (self.tallies[e], now) {
                (Some(t), Some(d)) => {
                    assert!(
                        d >= t.dropped,
                        "{step}: exporter {e}'s dropped records went back from {} to {d}",
                        t.dropped
                    );
                    *drop = d - t.dropped;
                    self.tallies[e] = Some(Tally { dropped: d, ..t });
                }
                (Some(t), None) => {
                    // Deleted: it sent its packets first; what it could not send was
                    // counted on counters that went with it.
                    let held = t
                        .accepted
                        .checked_sub(t.decoded + t.dropped)
                        .unwrap_or_else(|| {
                            panic!("{step}: deleted exporter {e} delivered more than accepted")
                        });
                    assert!(
                        held == 0 || refusing || self.faults,
                        "{step}: exporter {e} deleted with {held} records neither delivered \
                         nor dropped, with no refusal or allocation failure"
                    );
                    self.lost_with_exporters += held;
                    self.retired.accepted += t.accepted;
                    self.retired.decoded += t.decoded;
                    self.retired.dropped += t.dropped;
                    self.tallies[e] = None;
                }
                (None, Some(d)) => {
                    assert_eq!(d, 0, "{step}: new exporter {e} has dropped records");
                    self.tallies[e] = Some(Tally::default());
                }
                (None, None) => {}
            }
            if let Some(t) = self.tallies[e] {
                assert!(
                    t.decoded + t.dropped <= t.accepted,
                    "{step}: exporter {e}: {} records delivered and {} counted as dropped, of \
                     {} accepted",
                    t.decoded,
                    t.dropped,
                    t.accepted
                );
            }
            assert!(
                *drop >= self.unsequenced[e],
                "{step}: exporter {e}: {} records handed back past the packet, {} counted \
                 as dropped",
                self.unsequenced[e],
                *drop
            );
            *drop -= self.unsequenced[e];
        }
        if refusing || self.faults {
            self.resync(step, &dropped, refusing);
        } else {
            for (e, &d) in dropped.iter().enumerate() {
                assert_eq!(
                    d, 0,
                    "{step}: exporter {e} dropped {d} records with the host taking every \
                     packet and no allocation failing"
                );
            }
        }
    }

    /// After a call that may have dropped packets (the host refusing, or allocations
    /// failing), no packet showed the numbers their records took: takes each stream's
    /// number from the library, and compares how far each exporter's streams moved on
    /// with the records its counters show dropped (`dropped`: numbered drops only).
    fn resync(&mut self, step: &str, dropped: &[u64; SLOTS], refusing: bool) {
        for (e, &d) in dropped.iter().enumerate() {
            let e32 = e as u32;
            let (mut reports, mut streams) = (0, 0);
            if vpp_ipfix_exporter_sizes(self.main, e32, &mut reports, &mut streams) != 0 {
                continue;
            }
            let mut moved = 0u64;
            for s in 0..streams {
                // SAFETY: the library's own stream, read between calls.
                let Some(st) = (unsafe { vpp_ipfix_stream_get(self.main, e32, s).as_ref() }) else {
                    continue;
                };
                let key = (e32, st.domain_id, st.src_port);
                let now = st.sequence_number.load(Relaxed);
                let before = self.sequence.get(&key).copied().unwrap_or(0);
                let step_by = now.wrapping_sub(before);
                assert!(
                    step_by < 1 << 31,
                    "{step}: stream {key:?}'s sequence number went back from {before} to \
                     {now} (refusing: {refusing})"
                );
                moved += u64::from(step_by);
                self.sequence.insert(key, now);
            }
            // Less: a reset hid some, or (allocations failing, the host taking packets)
            // a packet delivered after a drop showed its gap already. More: refused
            // reliability statistics are numbered but not in the exporter's counters.
            let may_be_less = self.structural || !refusing;
            let may_be_more = self.options_may_send && refusing;
            let fits = moved == d || (moved < d && may_be_less) || (moved > d && may_be_more);
            assert!(
                fits,
                "{step}: exporter {e}'s sequence numbers moved on by {moved} while {d} \
                 records were counted as dropped"
            );
        }
    }

    /// `vpp_ipfix_buffer_get` as VPP's callers make it, its outcome checked: thread `t`'s
    /// state for report `r` (`fr->per_thread_data[t]`) when a buffer came back.
    fn vpp_get(&mut self, e: u32, r: u32, t: u32) -> Option<*mut flow_report_per_thread_t> {
        let mut err = 1;
        let buffer = vpp_ipfix_buffer_get(self.main, e, r, t, &mut err);
        no_panic(err, "buffer_get");
        if buffer.is_null() {
            let documented = [
                NO_BUFFER,
                EXPORTER_DISABLED,
                NO_SUCH_ENTRY,
                INVALID_WORKER,
                TIMER_RUNNING,
            ];
            assert!(
                documented.contains(&err),
                "buffer_get {e} {r} {t}: NULL with {err}, not a code the header gives"
            );
            if self.timer_on {
                assert_eq!(err, TIMER_RUNNING, "buffer_get with the timer running");
            }
            return None;
        }
        assert_eq!(err, 0, "buffer_get: a buffer and code {err}");
        assert!(
            !self.timer_on,
            "buffer_get gave a buffer while the timer runs"
        );
        // SAFETY: the library's own report (it gave a buffer for it), read between calls.
        let fr = unsafe { vpp_ipfix_report_get(self.main, e, r).as_ref() }
            .unwrap_or_else(|| panic!("buffer_get {e} {r}: a buffer for no report"));
        // SAFETY: `per_thread_data` holds one entry per thread and `t` is a thread (it
        // gave a buffer); VPP's callers index it the same way.
        let ptd = unsafe { fr.per_thread_data.load(Relaxed).add(t as usize) };
        let (mtu, headers) = self.exporter_bounds(e);
        // SAFETY: thread `t`'s entry, read between calls (no timer runs).
        let p = unsafe { &*ptd };
        assert_eq!(
            p.buffer.load(Relaxed),
            buffer,
            "buffer_get: not the thread's buffer"
        );
        let capacity = p.packet.capacity() as usize;
        assert!(
            !p.packet.is_empty() && capacity >= mtu,
            "buffer_get: a buffer of {capacity} bytes for a path MTU of {mtu}"
        );
        let at = usize::from(p.next_data_offset);
        assert!(
            (headers..=mtu).contains(&at),
            "buffer_get: next_data_offset {at} outside {headers}..={mtu}"
        );
        Some(ptd)
    }

    /// Writes `records` as VPP's flowprobe does: at `packet.data + next_data_offset`,
    /// then `next_data_offset` and `n_data_records` advanced; a record that would pass
    /// the path MTU sends the packet first and goes in a new buffer. Only ever within
    /// the reported space (asserted). Returns the records written and thread `t`'s state
    /// when it still has a buffer.
    fn vpp_write(
        &mut self,
        e: u32,
        r: u32,
        t: u32,
        records: &[Vec<u8>],
    ) -> (usize, Option<*mut flow_report_per_thread_t>) {
        let Some(mut ptd) = self.vpp_get(e, r, t) else {
            return (0, None);
        };
        let (mtu, headers) = self.exporter_bounds(e);
        let mut written = 0;
        for rec in records {
            let len = rec.len();
            if headers + len > mtu {
                // Never fits: a caller sizes its records for the path MTU.
                continue;
            }
            // SAFETY: thread `t`'s entry, between calls.
            let (at, n) = unsafe { (usize::from((*ptd).next_data_offset), (*ptd).n_data_records) };
            if at + len > mtu || n == u16::MAX {
                self.vpp_send(e, r, t, ptd);
                match self.vpp_get(e, r, t) {
                    Some(p) => ptd = p,
                    None => return (written, None),
                }
            }
            // SAFETY: as above; the bytes written are checked to lie in the buffer.
            unsafe {
                let (at, n) = (usize::from((*ptd).next_data_offset), (*ptd).n_data_records);
                let capacity = (*ptd).packet.capacity() as usize;
                assert!(
                    at + len <= mtu && at + len <= capacity,
                    "vpp_write: bytes {at}..{} past the reported space ({capacity} bytes, \
                     path MTU {mtu})",
                    at + len
                );
                std::ptr::copy_nonoverlapping(rec.as_ptr(), (*ptd).packet.as_ptr().add(at), len);
                (*ptd).next_data_offset = (at + len) as u16;
                (*ptd).n_data_records = n + 1;
            }
            self.accept(e, 1);
            written += 1;
        }
        (written, Some(ptd))
    }

    /// `vpp_ipfix_buffer_send` of a packet the program wrote, its outcome checked against
    /// the header: 0, or -1005 when refused, or -1002 when the template had no buffer;
    /// the thread's state clear afterwards (kept when nothing was written).
    fn vpp_send(&mut self, e: u32, r: u32, t: u32, ptd: *mut flow_report_per_thread_t) -> i32 {
        let (_, headers) = self.exporter_bounds(e);
        // SAFETY: thread `t`'s entry, between calls.
        let (at, held) = unsafe { (usize::from((*ptd).next_data_offset), (*ptd).n_data_records) };
        let rc = no_panic(vpp_ipfix_buffer_send(self.main, e, r, t), "buffer_send");
        // SAFETY: as above; the report is still there.
        let p = unsafe { &*ptd };
        if at <= headers {
            assert_eq!(rc, 0, "buffer_send of an empty packet");
            assert!(
                !p.packet.is_empty(),
                "buffer_send freed an empty packet's buffer"
            );
            return rc;
        }
        let expected: &[i32] = match (self.refusing, self.faults) {
            (false, false) => &[0],
            (true, false) => &[ENQUEUE_FAILED],
            (false, true) => &[0, NO_BUFFER],
            (true, true) => &[ENQUEUE_FAILED, NO_BUFFER],
        };
        assert!(
            expected.contains(&rc),
            "buffer_send {e} {r} {t} of {held} records: {rc}, expected one of {expected:?}"
        );
        assert!(
            p.packet.is_empty()
                && p.buffer.load(Relaxed).is_null()
                && p.next_data_offset == 0
                && p.n_data_records == 0,
            "buffer_send {e} {r} {t}: the thread's state is not clear: {p:?}"
        );
        rc
    }

    /// Hands back thread `t`'s packet with `next_data_offset` past the path MTU (or past
    /// the buffer), by the call `how` picks, and checks what the library does with it:
    /// the packet is dropped and counted (its records are not numbered), the call that
    /// met it says so (-7 from a send) or puts its own record in a new packet, and the
    /// thread is left with no bad offset.
    #[allow(clippy::too_many_arguments)]
    fn bad_offset(
        &mut self,
        e: u32,
        r: u32,
        t: u32,
        records: &[Vec<u8>],
        past_buffer: bool,
        beyond: u16,
        how: u8,
        extra: &[u8],
        n_extra: usize,
    ) -> String {
        let (written, Some(ptd)) = self.vpp_write(e, r, t, records) else {
            return "no buffer".into();
        };
        let (mtu, _) = self.exporter_bounds(e);
        // SAFETY: thread `t`'s entry, between calls.
        let (capacity, held) =
            unsafe { ((*ptd).packet.capacity() as usize, (*ptd).n_data_records) };
        let bad = if past_buffer {
            capacity + 1 + usize::from(beyond)
        } else {
            mtu + 1 + usize::from(beyond % 64)
        }
        .min(usize::from(u16::MAX));
        assert!(bad > mtu);
        // SAFETY: as above: the program's field to write, as C writes it.
        unsafe { (*ptd).next_data_offset = bad as u16 };
        self.unsequenced[e as usize] += u64::from(held);
        let mut what = format!("{written} written, {held} held, next_data_offset {bad}: ");
        match how {
            0 => {
                let rc = no_panic(vpp_ipfix_buffer_send(self.main, e, r, t), "buffer_send");
                assert_eq!(rc, INVALID_VALUE, "buffer_send of a packet past its end");
                what += &format!("buffer_send {rc}");
            }
            1 => {
                let rc = vpp_ipfix_record_append(self.main, e, r, t, extra.as_ptr(), extra.len());
                if no_panic(rc, "record_append") == 0 {
                    self.accept(e, 1);
                }
                what += &format!("record_append {} bytes: {rc}", extra.len());
            }
            2 => {
                let mut err = 0;
                let size = extra.len().min(0xffff) as u16;
                let p = vpp_ipfix_record_reserve(self.main, e, r, t, size, &mut err);
                no_panic(err, "record_reserve");
                if !p.is_null() {
                    // SAFETY: the library gave room for `size` bytes.
                    unsafe { std::ptr::copy_nonoverlapping(extra.as_ptr(), p, usize::from(size)) };
                    self.accept(e, 1);
                }
                what += &format!("record_reserve {size}: {err}");
            }
            3 => {
                let all = extra.repeat(n_extra);
                let mut done = 0;
                let rc = vpp_ipfix_records_append(
                    self.main,
                    e,
                    r,
                    t,
                    all.as_ptr(),
                    extra.len().min(0xffff) as u16,
                    if extra.len() > 0xffff { 0 } else { n_extra },
                    &mut done,
                );
                no_panic(rc, "records_append");
                self.accept(e, done as u64);
                what += &format!(
                    "records_append {n_extra} x {}: {rc}, {done} in",
                    extra.len()
                );
            }
            4 => {
                let mut sent = 0;
                let rc = vpp_ipfix_thread_flush_idle(self.main, t, 0.0, &mut sent);
                no_panic(rc, "thread_flush_idle");
                what += &format!("thread_flush_idle {t} 0: {rc}, {sent} sent");
            }
            _ => {
                let rc = no_panic(vpp_ipfix_flush(self.main), "flush");
                what += &format!("flush {rc}");
            }
        }
        // A call that never reached the packet (its own record can never fit, a clock
        // stepped back for the idle flush) leaves it for a send.
        // SAFETY: thread `t`'s entry, between calls (the report is still there).
        if usize::from(unsafe { (*ptd).next_data_offset }) > mtu {
            let rc = no_panic(vpp_ipfix_buffer_send(self.main, e, r, t), "buffer_send");
            assert_eq!(rc, INVALID_VALUE, "buffer_send of a packet past its end");
            what += &format!(", then buffer_send {rc}");
        }
        // SAFETY: as above.
        let p = unsafe { &*ptd };
        assert!(
            usize::from(p.next_data_offset) <= mtu,
            "a packet past its end stays after its send: {p:?}"
        );
        what
    }

    /// `vpp_ipfix_timer_start`, its code checked; a thread it starts makes one round
    /// before this returns (`host.rs`), and none that changes anything after.
    fn timer_start(&mut self, max_age: f64, period: f64) -> i32 {
        let valid = max_age.is_finite() && max_age >= 0.0 && period.is_finite() && period >= 0.0;
        let expected = if !valid {
            INVALID_ARGUMENT
        } else if self.timer_on {
            VALUE_EXIST
        } else {
            0
        };
        let start = |h: &Self| {
            let rc = no_panic(
                vpp_ipfix_timer_start(h.main, max_age, period),
                "timer_start",
            );
            assert_eq!(rc, expected, "timer_start({max_age}, {period})");
            rc
        };
        if expected != 0 {
            return start(self);
        }
        for tries in 0..TIMER_TRIES {
            let rounds = self.watch.arm();
            start(self);
            self.timer_on = true;
            let wait = TIMER_WAIT * (1 << tries);
            if self.watch.wait_round(rounds, wait) {
                return 0;
            }
            // The thread began before the start let go, so it skipped its first round
            // and sleeps a whole period: again with a new thread, unless the round came
            // meanwhile (stopping waits for a round under way).
            if self.trace {
                eprintln!("   timer: no round after {wait:?}, starting it again");
            }
            self.timer_stop();
            if self.watch.wait_round(rounds, Duration::ZERO) {
                self.watch.disarm();
                start(self);
                self.timer_on = true;
                return 0;
            }
        }
        panic!("timer_start: no round in {TIMER_TRIES} starts");
    }

    fn timer_stop(&mut self) -> i32 {
        let rc = no_panic(vpp_ipfix_timer_stop(self.main), "timer_stop");
        let expected = if self.timer_on { 0 } else { NO_SUCH_ENTRY };
        assert_eq!(rc, expected, "timer_stop");
        self.timer_on = false;
        rc
    }

    fn step(&mut self, input: &mut Input) -> String {
        let op = match input.u8() {
            b if b >= NEW_OPS_FROM => 20 + (b - NEW_OPS_FROM) % 4,
            b => b % 20,
        };
        let e = u32::from(input.u8() % EXPORTER_INDICES);
        self.structural = matches!(op, 0..=2 | 5..=9);
        self.options_may_send = matches!(op, 16 | 23);
        self.unsequenced = [0; SLOTS];
        match op {
            0..=2 => {
                let before = self.exporters();
                let what = match op {
                    0 => {
                        let c = exporter_config(input);
                        no_panic(vpp_ipfix_exporter_set(self.main, e, &c), "exporter_set");
                        format!("exporter_set {e} {c:?}")
                    }
                    1 => {
                        let c = exporter_config(input);
                        let mut index = 0;
                        no_panic(
                            vpp_ipfix_exporter_create(self.main, &c, &mut index),
                            "exporter_create",
                        );
                        format!("exporter_create {c:?}")
                    }
                    _ => {
                        no_panic(vpp_ipfix_exporter_delete(self.main, e), "exporter_delete");
                        format!("exporter_delete {e}")
                    }
                };
                // Packets under construction left with the old settings and sequence.
                self.check_packets(&what);
                let after = self.exporters();
                for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                    if b != a {
                        self.reset_exporter(i as u32);
                    }
                }
                what
            }
            3 => {
                let (domain_id, src_port) = stream_key(input);
                let fields: Vec<FieldSpec> = (0..n_fields(input)).map(|_| field(input)).collect();
                let config = vpp_ipfix_report_config_t {
                    domain_id,
                    src_port,
                    fields: fields.as_ptr(),
                    n_fields: fields.len() as u32,
                    opaque: opaque_t {
                        as_uword: usize::from(input.u8() % 4),
                    },
                };
                let (mut index, mut template_id) = (0, 0);
                let rc = vpp_ipfix_report_add(self.main, e, &config, &mut index, &mut template_id);
                no_panic(rc, "report_add");
                format!("report_add {e} {domain_id} {src_port} {fields:?}")
            }
            4 | 5 => {
                let (domain_id, src_port) = stream_key(input);
                let mut elements: Vec<ipfix_report_element_t> = (0..n_fields(input))
                    .map(|_| {
                        let f = field(input);
                        ipfix_report_element_t {
                            info_element: if input.u8() == 0xff {
                                input.u32()
                            } else {
                                u32::from(f.element_id)
                            },
                            size: if input.u8() == 0xff {
                                input.u32()
                            } else {
                                u32::from(f.length)
                            },
                        }
                    })
                    .collect();
                let mut a = vnet_flow_report_add_del_args_t {
                    flow_data_callback: None,
                    rewrite_callback: None,
                    report_elements: elements.as_mut_ptr(),
                    n_report_elements: elements.len() as u32,
                    opaque: opaque_t {
                        as_uword: usize::from(input.u8() % 4),
                    },
                    is_add: i32::from(op == 4),
                    domain_id,
                    src_port,
                    stream_indexp: std::ptr::null_mut(),
                    flow_report_index: 0,
                };
                let mut template_id = 0;
                no_panic(
                    vpp_ipfix_report_add_del(self.main, e, &mut a, &mut template_id),
                    "report_add_del",
                );
                self.check_packets("report_add_del");
                format!(
                    "report_add_del {e} add={} {domain_id} {src_port} {elements:?}",
                    op == 4
                )
            }
            6 => {
                let (domain_id, src_port) = stream_key(input);
                let opaque = opaque_t {
                    as_uword: usize::from(input.u8() % 4),
                };
                let mut id = 0;
                no_panic(
                    vpp_ipfix_report_delete(self.main, e, domain_id, src_port, opaque, &mut id),
                    "report_delete",
                );
                format!("report_delete {e} {domain_id} {src_port} {opaque:?}")
            }
            7 => {
                if no_panic(vpp_ipfix_reports_reset(self.main, e), "reports_reset") == 0 {
                    self.reset_exporter(e);
                }
                format!("reports_reset {e}")
            }
            8 => {
                let s = u32::from(input.u8() % 5);
                // SAFETY: the library's own stream, read between calls.
                let key = unsafe { vpp_ipfix_stream_get(self.main, e, s).as_ref() }
                    .map(|st| (e, st.domain_id, st.src_port));
                if no_panic(vpp_ipfix_stream_reset(self.main, e, s), "stream_reset") == 0 {
                    if let Some(k) = key {
                        self.sequence.remove(&k);
                    }
                }
                format!("stream_reset {e} {s}")
            }
            9 => {
                let old = stream_key(input);
                let new = stream_key(input);
                let rc = no_panic(
                    vpp_ipfix_stream_change(self.main, e, old.0, old.1, new.0, new.1),
                    "stream_change",
                );
                let what = format!("stream_change {e} {old:?} -> {new:?}");
                // Packets under construction left with the old key and sequence.
                self.check_packets(&what);
                if rc == 0 && old != new {
                    self.sequence.remove(&(e, old.0, old.1));
                    self.sequence.remove(&(e, new.0, new.1));
                }
                what
            }
            10..=12 => {
                let r = u32::from(input.u8() % 6);
                let t = u32::from(input.u8()) % (self.n_threads + 1);
                let sizes = self.report_sizes(e, r).unwrap_or_else(|| vec![4]);
                match op {
                    10 => {
                        let rec = record(input, &sizes);
                        let rc =
                            vpp_ipfix_record_append(self.main, e, r, t, rec.as_ptr(), rec.len());
                        if no_panic(rc, "record_append") == 0 {
                            self.accept(e, 1);
                        }
                        format!("record_append {e} {r} {t} {} bytes", rec.len())
                    }
                    11 => {
                        let n = usize::from(input.u8() % 64);
                        let mut all = Vec::new();
                        let mut size = 0;
                        for i in 0..n {
                            let rec = record(input, &sizes);
                            if i == 0 {
                                size = rec.len();
                            }
                            all.extend(rec);
                        }
                        // Batches hold records of one size: variable-length fields get the
                        // first record's layout again.
                        if sizes.contains(&65535) {
                            all = all[..size].repeat(n);
                        }
                        let mut done = 0;
                        let rc = vpp_ipfix_records_append(
                            self.main,
                            e,
                            r,
                            t,
                            all.as_ptr(),
                            size as u16,
                            if size > 0xffff { 0 } else { n },
                            &mut done,
                        );
                        no_panic(rc, "records_append");
                        self.accept(e, done as u64);
                        format!("records_append {e} {r} {t} {n} x {size} bytes: {rc}, {done} in")
                    }
                    _ => {
                        let rec = record(input, &sizes);
                        let mut err = 0;
                        let p = vpp_ipfix_record_reserve(
                            self.main,
                            e,
                            r,
                            t,
                            rec.len().min(0xffff) as u16,
                            &mut err,
                        );
                        no_panic(err, "record_reserve");
                        if !p.is_null() {
                            assert!(rec.len() <= 0xffff, "record_reserve of a truncated size");
                            // SAFETY: the library gave room for `rec.len()` bytes.
                            unsafe { std::ptr::copy_nonoverlapping(rec.as_ptr(), p, rec.len()) };
                            self.accept(e, 1);
                        }
                        format!("record_reserve {e} {r} {t} {} bytes", rec.len())
                    }
                }
            }
            13 => {
                let r = u32::from(input.u8() % 6);
                let t = u32::from(input.u8()) % (self.n_threads + 1);
                no_panic(vpp_ipfix_buffer_send(self.main, e, r, t), "buffer_send");
                format!("buffer_send {e} {r} {t}")
            }
            14 => {
                let t = u32::from(input.u8()) % (self.n_threads + 1);
                let age = match input.u8() {
                    0xff => f64::NAN,
                    0xfe => -1.0,
                    a => f64::from(a) / 16.0,
                };
                let mut sent = 0;
                no_panic(
                    vpp_ipfix_thread_flush_idle(self.main, t, age, &mut sent),
                    "thread_flush_idle",
                );
                format!("thread_flush_idle {t} {age}")
            }
            15 => {
                no_panic(vpp_ipfix_flush(self.main), "flush");
                "flush".into()
            }
            16 => {
                let (mut sent, mut next) = (0, 0.0);
                no_panic(
                    vpp_ipfix_templates_send_due(self.main, &mut sent, &mut next),
                    "templates_send_due",
                );
                "templates_send_due".into()
            }
            17 => {
                let r = u32::from(input.u8() % 6);
                no_panic(vpp_ipfix_template_send(self.main, e, r), "template_send");
                format!("template_send {e} {r}")
            }
            18 => {
                let by = match input.u8() {
                    0xff => -f64::from(input.u16()),
                    0xfe => f64::from(input.u32()),
                    s => f64::from(s) / 4.0,
                };
                self.now += by;
                self.capture.set_now(self.now);
                format!("clock {by:+}")
            }
            19 => {
                let n = input.u8();
                if n == 0xff {
                    self.capture.fail_allocs_after(u64::MAX);
                } else {
                    self.faults = true;
                    self.capture.fail_allocs_after(u64::from(n % 16));
                }
                format!("fail_allocs_after {n}")
            }
            20 => {
                let r = u32::from(input.u8() % 6);
                let t = u32::from(input.u8()) % (self.n_threads + 1);
                let n = usize::from(input.u8() % 64);
                let send = input.bool();
                let sizes = self.report_sizes(e, r).unwrap_or_else(|| vec![4]);
                let records: Vec<Vec<u8>> = (0..n).map(|_| record(input, &sizes)).collect();
                let (written, ptd) = self.vpp_write(e, r, t, &records);
                let mut what = format!("vpp_write {e} {r} {t} {n} records: {written} written");
                if let (true, Some(ptd)) = (send, ptd) {
                    let rc = self.vpp_send(e, r, t, ptd);
                    what += &format!(", buffer_send {rc}");
                }
                what
            }
            21 => {
                let r = u32::from(input.u8() % 6);
                let t = u32::from(input.u8()) % (self.n_threads + 1);
                let k = usize::from(input.u8() % 4);
                let past_buffer = input.bool();
                let beyond = input.u16();
                let how = input.u8() % 6;
                let n_extra = 1 + usize::from(input.u8() % 3);
                let sizes = self.report_sizes(e, r).unwrap_or_else(|| vec![4]);
                let records: Vec<Vec<u8>> = (0..k).map(|_| record(input, &sizes)).collect();
                let extra = record(input, &sizes);
                let what =
                    self.bad_offset(e, r, t, &records, past_buffer, beyond, how, &extra, n_extra);
                format!("bad_offset {e} {r} {t} past_buffer={past_buffer} {beyond}: {what}")
            }
            22 => {
                let on = input.bool();
                self.capture.refuse_packets(on);
                self.refusing = on;
                format!("refuse_packets {on}")
            }
            _ => {
                let kind = input.u8() % 4;
                let max_age = match input.u8() {
                    0xff => f64::NAN,
                    0xfe => -1.0,
                    0xfd => f64::INFINITY,
                    0xfc => 1e9,
                    a => f64::from(a) / 16.0,
                };
                // Long periods (0: `max_age` / 2), so that rounds after the first, inert
                // (`host.rs`), are few: they run library code at times AFL cannot repeat.
                let period = match input.u8() {
                    0xff => -1.0,
                    0xfe => f64::NAN,
                    0xfd => 0.0,
                    p => 60.0 * f64::from(1 + p % 60),
                };
                match kind {
                    0 => format!("timer_stop: {}", self.timer_stop()),
                    1 if self.timer_on => {
                        let stop = self.timer_stop();
                        let start = self.timer_start(max_age, period);
                        format!("timer_stop: {stop}, timer_start {max_age} {period}: {start}")
                    }
                    _ => {
                        let rc = self.timer_start(max_age, period);
                        format!("timer_start {max_age} {period}: {rc}")
                    }
                }
            }
        }
    }
}

/// What one program did: packets checked, records accepted, decoded and counted as
/// dropped (by exporters still there at the end, or retired with their exporter), and
/// records deleted exporters held that nothing can show any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub steps: usize,
    pub packets: u64,
    pub accepted: u64,
    pub decoded: u64,
    pub dropped: u64,
    pub lost_with_exporters: u64,
}

/// Runs one program.
pub fn run(data: &[u8]) {
    run_summary(data);
}

/// Runs one program and says what it did.
pub fn run_summary(data: &[u8]) -> Summary {
    let mut input = Input::new(data);
    let n_threads = 1 + u32::from(input.u8() % 4);
    let max_exporters = u32::from(input.u8() % 4);
    let capture = Capture::new(T0);
    let watch = Arc::new(TimerWatch::default());
    let host = Host::new(capture.clone(), n_threads, watch.clone());
    let instance = Instance::new(Box::new(host), n_threads, max_exporters)
        .expect("an instance of 1..4 threads");
    let mut h = Harness {
        main: vpp_ipfix_main_t::into_raw(instance),
        capture,
        watch,
        n_threads,
        now: T0,
        decoder: Decoder::new(),
        sequence: BTreeMap::new(),
        options_templates: BTreeSet::new(),
        tallies: [None; SLOTS],
        retired: Tally::default(),
        lost_with_exporters: 0,
        faults: false,
        refusing: false,
        timer_on: false,
        structural: false,
        options_may_send: false,
        unsequenced: [0; SLOTS],
        packets: 0,
        trace: std::env::var_os("FUZZ_TRACE").is_some(),
    };
    h.account("start", false);
    let mut steps = 0;
    while !input.is_empty() && steps < MAX_STEPS {
        let refusing = h.refusing;
        let what = h.step(&mut input);
        if h.trace {
            eprintln!("{steps}: {what}");
        }
        h.check_packets(&what);
        h.prune();
        h.account(&what, refusing || h.refusing);
        steps += 1;
    }
    h.capture.fail_allocs_after(u64::MAX);
    h.capture.refuse_packets(false);
    h.refusing = false;
    h.structural = false;
    h.options_may_send = false;
    h.unsequenced = [0; SLOTS];
    no_panic(vpp_ipfix_flush(h.main), "final flush");
    h.check_packets("final flush");
    h.account("final flush", false);
    let mut total = h.retired;
    for (e, t) in h.tallies.iter().enumerate() {
        let Some(t) = t else { continue };
        assert_eq!(
            t.accepted,
            t.decoded + t.dropped,
            "exporter {e}: records accepted vs records delivered ({}) + counted as dropped \
             ({})",
            t.decoded,
            t.dropped
        );
        total.accepted += t.accepted;
        total.decoded += t.decoded;
        total.dropped += t.dropped;
    }
    assert_eq!(
        total.accepted,
        total.decoded + total.dropped + h.lost_with_exporters,
        "records accepted vs delivered + dropped + held by deleted exporters"
    );
    vpp_ipfix_main_destroy(h.main);
    h.check_packets("destroy");
    assert_eq!(h.capture.outstanding_buffers(), 0, "buffers leaked");
    Summary {
        steps,
        packets: h.packets,
        accepted: total.accepted,
        decoded: total.decoded,
        dropped: total.dropped,
        lost_with_exporters: h.lost_with_exporters,
    }
}
