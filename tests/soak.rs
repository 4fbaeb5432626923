//! Soak (issue 9, item 5): 1, 2, 4 and 8 workers export through the C ABI with the
//! standalone UDP host to collectors on loopback (one IPv4 exporter that always exists,
//! and an IPv6 and a second IPv4 exporter that come and go), while a control thread, at
//! random times, stops every worker between two records (VPP's worker barrier) and adds,
//! deletes and reconfigures reports, streams and exporters. At the end every record
//! written is accounted for, stream by stream, and the process's memory must have stayed
//! flat over the second half of each run: RSS (/proc/self/statm, every second) and the
//! bytes allocated and not freed (a counting global allocator).
//!
//! ```sh
//! cargo test --test soak -- --nocapture                             # short: 4 × 9 s
//! SOAK_SECONDS=450 cargo test --release --test soak -- --nocapture  # long: 4 × 7.5 min
//! ```
//! The short one runs in `cargo test` (about 40 s in a debug build). Also
//! `SOAK_SEED=<n>` (replays the control thread's choices; the seed is printed),
//! `SOAK_THREADS=1,8` (worker counts), `SOAK_RATE=<records/s>` (all workers together;
//! 150 000 in release builds, 40 000 in debug builds) and `SOAK_TRACE=1` (the memory
//! samples). Each thread count prints one summary line: threads, seconds, records
//! written, decoded, and counted dropped by the library, lost (written - decoded -
//! dropped: must be 0), reconfigurations, RSS and heap at the start, at the end of
//! warm-up (half the run), at the end and at their highest after warm-up; and a line of
//! detail before it (records by path, refusals, operations, streams, epochs, kernel
//! drops).
//!
//! How the records are accounted for (read from `src/`):
//! - Every record carries (worker, report uid, n): n counts what that worker wrote to that
//!   report. Every stream gets an observation domain never used before, so a domain names
//!   one stream from its creation to its end (last report deleted, exporter deleted, or
//!   `stream_change`, which re-keys it under a new domain).
//! - Deleting a report, deleting an exporter, `exporter_set` and `stream_change` send the
//!   packets under construction first (`flush_report` / `flush_exporter`): checked here
//!   through the exporter's counters (records sent + dropped grow by exactly what the
//!   per-thread buffers held). Resets (`reports_reset`, `stream_reset`) send nothing: the
//!   buffered records stay and go out later, numbered from the reset's 0 on. So a stream's
//!   sequence numbers restart at each reset, and the records of an epoch (from a reset to
//!   the next) are known exactly: under the barrier the control thread reads each
//!   worker's count and its buffer's `n_data_records`, and records written before the
//!   reset but still buffered belong to the new epoch.
//! - Per stream: records written = decoded + counted dropped (report counters read before
//!   each delete and after each change, and exporter counters around each delete); per
//!   epoch, the (sequence number, records) of the data messages tile 0..total without
//!   overlap; each template message carries a sequence number the data passes through;
//!   each exporter's counters say exactly what the collector decoded.
//! - The C ABI shows the standalone host's UDP losses only inside the exporter's counters
//!   (`dropped_*`), not per stream: any (none is expected on loopback with collectors up)
//!   fails the run with the exporter's figures.
//! - Workers write through `vpp_ipfix_buffer_get` + `next_data_offset` (as flowprobe),
//!   `vpp_ipfix_record_reserve`, `vpp_ipfix_record_append` and
//!   `vpp_ipfix_records_append`, to the reports the last barrier left; now and then they
//!   call with a report one past the last or an exporter not in use, which must be
//!   refused (not counted as written).
//! - The kernel drops datagrams when a collector's receive buffer is full. The collectors
//!   have large buffers and their own threads, the workers pause while more than
//!   `IN_FLIGHT_LIMIT` records are on their way, and any drop the kernel reports
//!   (`SO_RXQ_OVFL`) fails the run with its count: the accounting cannot be exact then.
//!
//! The background timer is switched on and off at random too. While it runs,
//! `vpp_ipfix_buffer_get` is refused (the workers append instead) and it sends the
//! templates; otherwise the control thread sends them (`vpp_ipfix_templates_send_due`,
//! as VPP's process node does) and the workers' `vpp_ipfix_thread_flush_idle` is the
//! idle flush. Operations that read the workers' buffers stop it first, since it
//! flushes them from its own thread.

mod common;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::ipfix::{be_uint, Decoder, Message};
use common::udp::{ip_address, UdpCollector};
use counting_alloc::live_bytes;
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
    vpp_ipfix_flush, vpp_ipfix_main_create_standalone, vpp_ipfix_main_destroy, vpp_ipfix_main_t,
    vpp_ipfix_standalone_config_t, vpp_ipfix_templates_send_due,
};
use vpp_ipfix::ffi::report::{
    vpp_ipfix_report_add, vpp_ipfix_report_add_del, vpp_ipfix_report_config_t,
    vpp_ipfix_report_counters, vpp_ipfix_report_delete, vpp_ipfix_report_get,
    vpp_ipfix_reports_reset, vpp_ipfix_stream_change, vpp_ipfix_stream_get, vpp_ipfix_stream_reset,
};
use vpp_ipfix::ffi::timer::{vpp_ipfix_timer_start, vpp_ipfix_timer_stop};
use vpp_ipfix::types::{
    flow_report_per_thread_t, flow_report_t, ipfix_report_element_t, opaque_t,
    vnet_flow_report_add_del_args_t,
};
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::Error;

/// Packets older than this are sent by the workers' idle flush (and by the timer's).
const IDLE_AGE: f64 = 0.02;
/// How often a worker calls `vpp_ipfix_thread_flush_idle` (it also sends its UDP batch).
const FLUSH_EVERY: Duration = Duration::from_millis(2);
/// How often the control thread sends due templates while the timer is off.
const TEMPLATES_EVERY: Duration = Duration::from_millis(20);
/// Mean time between two barriers.
const MEAN_BARRIER_GAP: f64 = 0.15;
/// Records written and not yet decoded above which workers wait: what the collectors'
/// receive buffers hold many times over, at one record per datagram.
const IN_FLIGHT_LIMIT: u64 = 30_000;
/// Collector receive buffers.
const RCVBUF: usize = 64 << 20;
/// Growth of RSS allowed over the second half of a run: the heap's growth (below) plus
/// the pages the allocator keeps after frees (glibc gives memory back only from the top
/// of each per-thread arena). In two 30-minute runs the second halves grew by 36 to
/// 240 KiB. A leak of 64 bytes a packet (thousands of packets a second here) passes
/// 2 MiB within seconds, one of 1 KiB a reconfiguration within the second half of a long
/// run.
const RSS_TOLERANCE: i64 = 2 << 20;
/// Growth allowed over the second half of the bytes allocated and not freed (the heap
/// without the allocator's slack: the sharper leak check). What is live swings with the
/// random number of reports and streams alive, and grows until the host's high-water
/// marks are reached, which a short run may reach after its middle: its buffer pool
/// (a 2 KiB buffer per report and worker with a packet under construction, up to 15 × 9)
/// and each thread's UDP batch (up to 32 messages of up to 1450 bytes: 64 KiB of
/// capacity × 9). Peaks after warm-up were 122 to 327 KiB above the end of warm-up in
/// two 30-minute runs, up to 547 KiB in 9-second runs.
const HEAP_TOLERANCE: i64 = 1 << 20;
/// Exporter slots of the instance (0 and the two that come and go, and one never used).
const MAX_EXPORTERS: u32 = 4;
/// Live reports per exporter, streams per exporter, source ports per exporter.
const MAX_REPORTS: usize = 5;
const MAX_STREAMS: usize = 3;
const PORTS: usize = 5;
/// Recent packet boundaries kept per epoch, for the check of templates' sequence
/// numbers: far more than the messages the kernel can reorder.
const BOUNDARY_WINDOW: usize = 1024;
/// How long the bookkeeping of a finished epoch, report or stream is kept once every
/// record of it has arrived: the longest a template may come late (it was handed to the
/// kernel before the barrier that ended it).
const GRACE: Duration = Duration::from_secs(1);
/// Path MTUs the exporters take: all fit the largest template (108 bytes over IPv6) and
/// record (68 + 60 bytes).
const MTUS: [u32; 9] = [128, 160, 256, 400, 512, 576, 1000, 1280, 1450];
/// No phase of a run waits longer than this for the other threads.
const DEADLINE: Duration = Duration::from_secs(30);

/// Record layouts: (element id, length). Every record starts with the worker
/// (ingressInterface), the report's uid (egressInterface) and the worker's count of
/// records written to that report (octetDeltaCount); the rest is filler derived from
/// those three, checked when decoded.
const LAYOUTS: [&[(u16, u16)]; 4] = [
    &[(10, 4), (14, 4), (1, 8)],
    &[(10, 4), (14, 4), (1, 8), (2, 8)],
    &[(10, 4), (14, 4), (1, 8), (2, 8), (27, 16)],
    &[
        (10, 4),
        (14, 4),
        (1, 8),
        (2, 8),
        (27, 16),
        (28, 16),
        (4, 1),
        (6, 2),
        (5, 1),
    ],
];

fn record_len(layout: usize) -> usize {
    LAYOUTS[layout].iter().map(|&(_, l)| usize::from(l)).sum()
}

/// splitmix64: the seeded generator of every random choice, and the record filler.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// Writes record `n` of worker `t` for report `uid` in `layout` into `out`.
fn encode(layout: usize, t: u32, uid: u32, n: u64, out: &mut [u8]) {
    out[0..4].copy_from_slice(&t.to_be_bytes());
    out[4..8].copy_from_slice(&uid.to_be_bytes());
    out[8..16].copy_from_slice(&n.to_be_bytes());
    let mut filler = Rng(n ^ (u64::from(uid) << 32) ^ (u64::from(t) << 56));
    let mut x = 0;
    for (i, b) in out[16..record_len(layout)].iter_mut().enumerate() {
        if i % 8 == 0 {
            x = filler.next();
        }
        *b = (x >> (8 * (i % 8))) as u8;
    }
}

/// `vpp_ipfix_main_t` pointers and the report pointers workers write through, shareable
/// between threads (the C ABI's threading rules, kept by the barrier, make it sound).
#[derive(Clone, Copy, Debug)]
struct MainPtr(usize);

impl MainPtr {
    fn get(self) -> *mut vpp_ipfix_main_t {
        self.0 as *mut vpp_ipfix_main_t
    }
}

const TIMER_RUNNING: i32 = Error::VPP_IPFIX_ERROR_TIMER_RUNNING as i32;

fn counters(main: MainPtr, e: u32) -> vpp_ipfix_counters_t {
    let mut c = vpp_ipfix_counters_t::default();
    assert_eq!(vpp_ipfix_exporter_counters(main.get(), e, &mut c), 0);
    c
}

fn report_counters(main: MainPtr, e: u32, r: u32) -> vpp_ipfix_counters_t {
    let mut c = vpp_ipfix_counters_t::default();
    assert_eq!(vpp_ipfix_report_counters(main.get(), e, r, &mut c), 0);
    c
}

/// Records finished by the library so far: handed to the host (or lost by it) + dropped.
fn finished(c: &vpp_ipfix_counters_t) -> u64 {
    c.data_records + c.dropped_records
}

fn n_reports(main: MainPtr, e: u32) -> u32 {
    let mut n = 0;
    assert_eq!(
        vpp_ipfix_exporter_sizes(main.get(), e, &mut n, std::ptr::null_mut()),
        0
    );
    n
}

/// The C-visible report `r` of exporter `e` (valid until the next configuration call).
fn report(main: MainPtr, e: u32, r: u32) -> &'static flow_report_t {
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
unsafe fn per_thread(fr: *const flow_report_t, t: u32) -> *mut flow_report_per_thread_t {
    // SAFETY: per the function's contract; per_thread_data has n_threads entries.
    unsafe { (*fr).per_thread_data.load(Relaxed).add(t as usize) }
}

/// Records in thread `t`'s packet under construction for report `r`.
fn buffered(main: MainPtr, e: u32, r: u32, t: u32) -> u64 {
    // SAFETY: the barrier is held with the timer stopped (the only callers).
    u64::from(unsafe { (*per_thread(report(main, e, r), t)).n_data_records })
}

/// The index of the report whose opaque value is `uid`.
fn report_index(main: MainPtr, e: u32, uid: u32) -> Option<u32> {
    (0..n_reports(main, e)).find(|&r| report(main, e, r).opaque.as_uword == uid as usize)
}

/// Where a stream sends from, and what the collectors know of it.
#[derive(Clone, Copy, Debug)]
struct Collector {
    addr: SocketAddr,
    src: IpAddr,
}

// --- What was sent and what arrived -----------------------------------------------------

/// Disjoint half-open ranges of u64, merged when adjacent.
#[derive(Debug, Default)]
struct RangeSet(BTreeMap<u64, u64>);

impl RangeSet {
    /// Adds `start..end`; the range it overlaps, if any (nothing is added then).
    fn insert(&mut self, start: u64, end: u64) -> Result<(), (u64, u64)> {
        if let Some((&s, &e)) = self.0.range(..=start).next_back() {
            if e > start {
                return Err((s, e));
            }
        }
        if let Some((&s, &e)) = self.0.range(start..).next() {
            if s < end {
                return Err((s, e));
            }
        }
        let mut from = start;
        if let Some((&s, &e)) = self.0.range(..=start).next_back() {
            if e == start {
                from = s;
            }
        }
        let to = self.0.remove(&end).unwrap_or(end);
        self.0.insert(from, to);
        Ok(())
    }

    fn end(&self) -> u64 {
        self.0.last_key_value().map_or(0, |(_, &e)| e)
    }

    /// True when the set is exactly `0..total`.
    fn is_whole(&self, total: u64) -> bool {
        match total {
            0 => self.0.is_empty(),
            _ => self.0.len() == 1 && self.0.get(&0) == Some(&total),
        }
    }

    /// The gaps within 0..total, at most 5 of them.
    fn gaps(&self, total: u64) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut at = 0;
        for (&s, &e) in &self.0 {
            if s > at {
                gaps.push((at, s));
            }
            at = e;
        }
        if at < total {
            gaps.push((at, total));
        }
        gaps.truncate(5);
        gaps
    }
}

/// One stretch of a stream's sequence numbers: from the stream's creation or a reset to
/// the next reset or its end.
#[derive(Debug)]
struct Epoch {
    stream: u32,
    /// Sequence numbers of the data decoded.
    seqs: RangeSet,
    received: u64,
    /// Records numbered in it (complete once `closed`).
    total: u64,
    closed: Option<Instant>,
    /// Recent packet boundaries: where a template's sequence number may point.
    boundaries: BTreeSet<u64>,
    /// Closed, and its data tiled 0..total: `seqs` and `boundaries` are freed.
    done: bool,
}

impl Epoch {
    fn complete(&self) -> bool {
        self.done || (self.closed.is_some() && self.seqs.is_whole(self.total))
    }
}

/// One worker's records of one report.
#[derive(Debug, Default)]
struct ThreadRecords {
    /// (first record, epoch) of each stretch of them, in order: records `n` with
    /// `cuts[i].0 <= n < cuts[i + 1].0` are numbered in epoch `cuts[i].1`.
    cuts: Vec<(u64, usize)>,
    /// Records decoded (their `n`).
    received: RangeSet,
    /// Records written, once the report is gone (or the run is over).
    end: Option<u64>,
}

#[derive(Debug)]
struct ReportEntry {
    template_id: u16,
    layout: usize,
    /// The stream (its domain) the report exports in now.
    stream: u32,
    threads: Vec<ThreadRecords>,
    /// Records written, per thread: each worker bumps its own, the control thread reads
    /// them under the barrier.
    written: Arc<[AtomicU64]>,
    /// Its `dropped_records` when last read, and every drop counted for it.
    dropped_read: u64,
    dropped: u64,
    gone: bool,
}

#[derive(Debug)]
struct StreamEntry {
    port: u16,
    exporter: usize,
    collector: usize,
    src: IpAddr,
    epochs: Vec<usize>,
    /// None once the stream has ended, and when.
    current: Option<usize>,
    ended: Option<Instant>,
    reports: Vec<u32>,
    /// Template ids of every report that exported in it: whose, and its layout.
    template_ids: HashMap<u16, (u32, usize)>,
    decoded: u64,
    dropped: u64,
    data_messages: u64,
    template_messages: u64,
    /// Sequence numbers of template messages that no data boundary has matched yet.
    pending_templates: Vec<u64>,
}

/// One exporter from its creation to its deletion.
#[derive(Debug)]
struct ExporterEntry {
    name: &'static str,
    index: u32,
    /// Drops counted by its reports (read before deletes, after changes, at the end).
    report_drops: u64,
    /// Its counters before it was deleted (or at the end), and what the deletion
    /// flushed: records, and packets under construction that held some.
    last: Option<vpp_ipfix_counters_t>,
    deleted: bool,
    flushed_records: u64,
    flushed_packets: u64,
    reports_at_delete: u64,
    /// What its retired streams decoded: records, data and template messages.
    retired: (u64, u64, u64),
}

impl ExporterEntry {
    /// A new exporter in slot `name` at index `index`: nothing counted yet.
    fn new(name: &'static str, index: u32) -> Self {
        ExporterEntry {
            name,
            index,
            report_drops: 0,
            last: None,
            deleted: false,
            flushed_records: 0,
            flushed_packets: 0,
            reports_at_delete: 0,
            retired: (0, 0, 0),
        }
    }
}

/// What the ledger forgot once complete, to keep the test's own memory flat.
#[derive(Debug, Default)]
struct Retired {
    streams: u64,
    epochs: u64,
    reports: u64,
    /// Records written in the streams forgotten (all decoded, none dropped).
    written: u64,
}

/// The accounting: what the control thread set up and the workers wrote, and what the
/// collectors decoded.
#[derive(Debug, Default)]
struct Ledger {
    n_threads: u32,
    reports: HashMap<u32, ReportEntry>,
    streams: HashMap<u32, StreamEntry>,
    epochs: HashMap<usize, Epoch>,
    n_epochs: usize,
    exporters: Vec<ExporterEntry>,
    retired: Retired,
    errors: Vec<String>,
    n_errors: u64,
    data_before_template: u64,
}

impl Ledger {
    fn error(&mut self, e: String) {
        self.n_errors += 1;
        if self.errors.len() < 30 {
            self.errors.push(e);
        }
    }

    fn open_epoch(&mut self, stream: u32) -> usize {
        self.n_epochs += 1;
        let epoch = Epoch {
            stream,
            seqs: RangeSet::default(),
            received: 0,
            total: 0,
            closed: None,
            boundaries: BTreeSet::from([0]),
            done: false,
        };
        self.epochs.insert(self.n_epochs, epoch);
        self.n_epochs
    }

    fn close_epoch(&mut self, e: usize) {
        self.epochs.get_mut(&e).unwrap().closed = Some(Instant::now());
    }

    /// Forgets what is complete and was for `GRACE`: epochs whose data tiled 0..total,
    /// reports gone whose every record arrived, ended streams of such epochs (their
    /// counts kept for the end). What is missing stays, for the verdict.
    fn retire(&mut self) {
        let old = |t: Option<Instant>| t.is_some_and(|t| t.elapsed() > GRACE);
        for ep in self.epochs.values_mut() {
            if !ep.done && old(ep.closed) && ep.complete() {
                (ep.seqs, ep.boundaries, ep.done) = (RangeSet::default(), BTreeSet::new(), true);
            }
        }
        let before = self.reports.len();
        self.reports.retain(|_, r| {
            let complete = |th: &ThreadRecords| th.received.is_whole(th.end.unwrap_or(0));
            !(r.gone && r.dropped == 0 && r.threads.iter().all(complete))
        });
        self.retired.reports += (before - self.reports.len()) as u64;
        let done: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| {
                old(s.ended)
                    && s.dropped == 0
                    && s.pending_templates.is_empty()
                    && s.epochs.iter().all(|e| self.epochs[e].done)
            })
            .map(|(&d, _)| d)
            .collect();
        for d in done {
            let s = self.streams.remove(&d).unwrap();
            for e in &s.epochs {
                self.retired.written += self.epochs.remove(e).unwrap().total;
            }
            self.retired.streams += 1;
            self.retired.epochs += s.epochs.len() as u64;
            let x = &mut self.exporters[s.exporter];
            x.retired.0 += s.decoded;
            x.retired.1 += s.data_messages;
            x.retired.2 += s.template_messages;
        }
    }

    fn new_stream(
        &mut self,
        domain: u32,
        port: u16,
        exporter: usize,
        collector: usize,
        src: IpAddr,
    ) {
        let e = self.open_epoch(domain);
        let old = self.streams.insert(
            domain,
            StreamEntry {
                port,
                exporter,
                collector,
                src,
                epochs: vec![e],
                current: Some(e),
                ended: None,
                reports: Vec::new(),
                template_ids: HashMap::new(),
                decoded: 0,
                dropped: 0,
                data_messages: 0,
                template_messages: 0,
                pending_templates: Vec::new(),
            },
        );
        assert!(old.is_none(), "domain {domain} used twice");
    }

    fn add_report(
        &mut self,
        uid: u32,
        template_id: u16,
        layout: usize,
        domain: u32,
    ) -> Arc<[AtomicU64]> {
        let stream = self.streams.get_mut(&domain).unwrap();
        let e = stream.current.unwrap();
        stream.reports.push(uid);
        stream.template_ids.insert(template_id, (uid, layout));
        let written: Arc<[AtomicU64]> = (0..self.n_threads).map(|_| AtomicU64::new(0)).collect();
        let threads = (0..self.n_threads)
            .map(|_| ThreadRecords {
                cuts: vec![(0, e)],
                ..Default::default()
            })
            .collect();
        self.reports.insert(
            uid,
            ReportEntry {
                template_id,
                layout,
                stream: domain,
                threads,
                written: written.clone(),
                dropped_read: 0,
                dropped: 0,
                gone: false,
            },
        );
        written
    }

    /// Thread `t`'s records of `uid` from `at` on go to epoch `into` (none: there are no
    /// more); the epoch they leave counts those before.
    fn cut(&mut self, uid: u32, t: usize, at: u64, into: Option<usize>) {
        let th = &mut self.reports.get_mut(&uid).unwrap().threads[t];
        let (start, e) = *th.cuts.last().unwrap();
        match into {
            Some(next) => th.cuts.push((at, next)),
            None => th.end = Some(at),
        }
        if at < start {
            self.error(format!(
                "report {uid} thread {t}: cut at {at} before {start}"
            ));
        } else {
            self.epochs.get_mut(&e).unwrap().total += at - start;
        }
    }

    fn written(&self, uid: u32, t: usize) -> u64 {
        self.reports[&uid].written[t].load(SeqCst)
    }

    /// A reset of stream `domain`: a new epoch, into which go the records still in the
    /// workers' buffers (`buffered(uid, t)`) and all later ones.
    fn reset_stream(&mut self, domain: u32, buffered: &dyn Fn(u32, u32) -> u64) {
        let next = self.open_epoch(domain);
        let stream = self.streams.get_mut(&domain).unwrap();
        let old = stream.current.replace(next).unwrap();
        stream.epochs.push(next);
        let uids = stream.reports.clone();
        self.close_epoch(old);
        for uid in uids {
            for t in 0..self.n_threads {
                let at = self.written(uid, t as usize) - buffered(uid, t);
                self.cut(uid, t as usize, at, Some(next));
            }
        }
    }

    /// `stream_change` from `old` to a new stream `new` on the same exporter (the change
    /// sent every buffered record first).
    fn change_stream(&mut self, old: u32, new: u32, port: u16) {
        let s = &self.streams[&old];
        let (exporter, collector, src) = (s.exporter, s.collector, s.src);
        self.new_stream(new, port, exporter, collector, src);
        let next = self.streams[&new].current.unwrap();
        self.end_stream(old);
        let uids = std::mem::take(&mut self.streams.get_mut(&old).unwrap().reports);
        for &uid in &uids {
            for t in 0..self.n_threads as usize {
                let at = self.written(uid, t);
                self.cut(uid, t, at, Some(next));
            }
            let rep = self.reports.get_mut(&uid).unwrap();
            rep.stream = new;
            let template = (rep.template_id, (uid, rep.layout));
            let s = self.streams.get_mut(&new).unwrap();
            s.template_ids.insert(template.0, template.1);
        }
        self.streams.get_mut(&new).unwrap().reports = uids;
    }

    fn end_stream(&mut self, domain: u32) {
        let s = self.streams.get_mut(&domain).unwrap();
        if let Some(e) = s.current.take() {
            s.ended = Some(Instant::now());
            self.close_epoch(e);
        }
    }

    /// The report is gone (deleted, its exporter deleted, or the run over): all it wrote
    /// was numbered in the epochs it was in.
    fn close_report(&mut self, uid: u32) {
        for t in 0..self.n_threads as usize {
            let at = self.written(uid, t);
            self.cut(uid, t, at, None);
        }
        let rep = self.reports.get_mut(&uid).unwrap();
        rep.gone = true;
        let domain = rep.stream;
        let s = self.streams.get_mut(&domain).unwrap();
        s.reports.retain(|&u| u != uid);
        if s.reports.is_empty() {
            self.end_stream(domain);
        }
    }

    /// `uid`'s report counters now say `dropped` (cumulative); `extra` more drops were
    /// seen elsewhere (the exporter's counters across its deletion). Counted in the
    /// stream it exports in now.
    fn drops(&mut self, uid: u32, dropped: u64, extra: u64) {
        let rep = self.reports.get_mut(&uid).unwrap();
        let delta = dropped.saturating_sub(rep.dropped_read) + extra;
        rep.dropped_read = rep.dropped_read.max(dropped);
        rep.dropped += delta;
        let s = self.streams.get_mut(&rep.stream).unwrap();
        s.dropped += delta;
        self.exporters[s.exporter].report_drops += delta;
    }

    /// One decoded message from `from`, received by collector `collector`.
    fn account(&mut self, collector: usize, from: SocketAddr, m: &Message, decoded: &AtomicU64) {
        let domain = m.domain_id;
        let Some(s) = self.streams.get(&domain) else {
            return self.error(format!("a message of unknown domain {domain} from {from}"));
        };
        if (s.collector, s.src, s.port) != (collector, from.ip(), from.port()) {
            return self.error(format!(
                "domain {domain} came from {from} to collector {collector}, expected {}:{} to {}",
                s.src, s.port, s.collector
            ));
        }
        if !m.options_templates.is_empty() || !m.redefined_templates.is_empty() {
            return self.error(format!("domain {domain}: options or redefined templates"));
        }
        let seq = u64::from(m.sequence_number);
        if !m.templates.is_empty() {
            self.account_templates(domain, seq, m);
        }
        if !m.data_records.is_empty() {
            self.account_data(domain, seq, m, decoded);
        }
    }

    fn account_templates(&mut self, domain: u32, seq: u64, m: &Message) {
        for tpl in &m.templates {
            let s = &self.streams[&domain];
            let Some(&(_, layout)) = s.template_ids.get(&tpl.id) else {
                // Whose it could be: the streams that have a report with that id.
                let others: Vec<(u32, (u32, usize))> = self
                    .streams
                    .iter()
                    .filter_map(|(d, o)| o.template_ids.get(&tpl.id).map(|x| (*d, *x)))
                    .collect();
                let fields: Vec<(u16, u16)> = tpl
                    .fields
                    .iter()
                    .map(|f| (f.element_id, f.length))
                    .collect();
                return self.error(format!(
                    "domain {domain} seq {seq}: template {} {fields:?} is no report's of the \
                     stream (its (template, (report, layout)): {:?}); streams with a report of \
                     that template id: {others:?}",
                    tpl.id, self.streams[&domain].template_ids
                ));
            };
            let layout = LAYOUTS[layout];
            let fields: Vec<(u16, u16)> = tpl
                .fields
                .iter()
                .map(|f| (f.element_id, f.length))
                .collect();
            if fields != layout || tpl.fields.iter().any(|f| f.enterprise.is_some()) {
                return self.error(format!(
                    "domain {domain}: template {} is {fields:?}",
                    tpl.id
                ));
            }
        }
        let s = self.streams.get_mut(&domain).unwrap();
        s.template_messages += 1;
        // The stream's sequence number when it was sent: a point its data passes through.
        let known = s
            .epochs
            .iter()
            .any(|e| self.epochs[e].boundaries.contains(&seq));
        if !known {
            s.pending_templates.push(seq);
        }
    }

    fn account_data(&mut self, domain: u32, seq: u64, m: &Message, decoded: &AtomicU64) {
        let n = m.data_records.len() as u64;
        let first = &m.data_records[0];
        if first.values.len() < 3 {
            return self.error(format!(
                "domain {domain}: a record of {} fields",
                first.values.len()
            ));
        }
        let t = be_uint(&first.values[0]) as usize;
        let uid = be_uint(&first.values[1]) as u32;
        let n0 = be_uint(&first.values[2]);
        let Some(rep) = self.reports.get(&uid) else {
            return self.error(format!("domain {domain}: records of unknown report {uid}"));
        };
        if t == 0 || t >= rep.threads.len() || first.template_id != rep.template_id {
            return self.error(format!(
                "domain {domain}: records of report {uid} thread {t} in template {}",
                first.template_id
            ));
        }
        let layout = rep.layout;
        let mut expected = [0u8; 64];
        for (i, r) in m.data_records.iter().enumerate() {
            let n = n0 + i as u64;
            encode(layout, t as u32, uid, n, &mut expected);
            let mut at = 0;
            let same = r.template_id == first.template_id
                && r.values.len() == LAYOUTS[layout].len()
                && r.values.iter().all(|v| {
                    at += v.len();
                    expected.get(at - v.len()..at) == Some(v.as_slice())
                });
            if !same {
                return self.error(format!(
                    "domain {domain} seq {seq}: record {i} is not record {n} of report {uid} \
                     thread {t} (a packet holds consecutive records of one report and worker)"
                ));
            }
        }
        let th = &self.reports[&uid].threads[t];
        let epoch_of = |n: u64| th.cuts[th.cuts.partition_point(|&(at, _)| at <= n) - 1].1;
        let (e, e_last) = (epoch_of(n0), epoch_of(n0 + n - 1));
        let stream_of = |e| {
            self.epochs
                .get(&e)
                .filter(|ep| !ep.done)
                .map(|ep| ep.stream)
        };
        if e != e_last || stream_of(e) != Some(domain) {
            return self.error(format!(
                "domain {domain} seq {seq}: records {n0}..{} of report {uid} thread {t} belong \
                 to epochs {e} and {e_last} of domain {:?} (None: complete already)",
                n0 + n,
                stream_of(e)
            ));
        }
        let ep = self.epochs.get_mut(&e).unwrap();
        if let Err(o) = ep.seqs.insert(seq, seq + n) {
            return self.error(format!(
                "domain {domain} epoch {e}: sequence {seq}..{} overlaps {o:?}",
                seq + n
            ));
        }
        ep.received += n;
        for b in [seq, seq + n] {
            ep.boundaries.insert(b);
        }
        while ep.boundaries.len() > BOUNDARY_WINDOW {
            ep.boundaries.pop_first();
        }
        let th = &mut self.reports.get_mut(&uid).unwrap().threads[t];
        if let Err(o) = th.received.insert(n0, n0 + n) {
            return self.error(format!(
                "report {uid} thread {t}: records {n0}..{} received again ({o:?})",
                n0 + n
            ));
        }
        let s = self.streams.get_mut(&domain).unwrap();
        s.decoded += n;
        s.data_messages += 1;
        s.pending_templates.retain(|&p| p != seq && p != seq + n);
        decoded.fetch_add(n, Relaxed);
    }
}

// --- The collectors -------------------------------------------------------------------------

/// A collector thread's own state: one decoder per stream (every stream has a domain of
/// its own), and messages whose template has not arrived yet (the kernel may deliver a
/// worker's data before the template another thread sent just before it).
struct CollectorState {
    id: usize,
    shared: Arc<Shared>,
    decoders: HashMap<u32, Decoder>,
    waiting: Vec<(SocketAddr, Vec<u8>)>,
    /// When the decoders of streams the ledger retired were last dropped.
    swept: Instant,
}

impl CollectorState {
    fn on_datagram(&mut self, from: SocketAddr, payload: &[u8]) {
        if payload.len() < 16 {
            return self
                .shared
                .ledger()
                .error(format!("{} bytes from {from}", payload.len()));
        }
        if self.swept.elapsed() > GRACE {
            let ledger = self.shared.ledger();
            self.decoders.retain(|d, _| ledger.streams.contains_key(d));
            self.swept = Instant::now();
        }
        let domain = u32::from_be_bytes(payload[12..16].try_into().unwrap());
        let decoder = self.decoders.entry(domain).or_insert_with(|| {
            let mut d = Decoder::new();
            d.set_lenient_unknown(true);
            d
        });
        let m = match decoder.decode("stream", payload) {
            Ok(m) => m,
            Err(e) => return self.shared.ledger().error(format!("domain {domain}: {e}")),
        };
        if !m.unknown_data_sets.is_empty() {
            self.shared.ledger().data_before_template += 1;
            self.waiting.push((from, payload.to_vec()));
            return;
        }
        let mut ledger = self.shared.ledger();
        ledger.account(self.id, from, &m, &self.shared.decoded);
        if !m.templates.is_empty() && !self.waiting.is_empty() {
            // Data that waited for this template.
            for (from, payload) in std::mem::take(&mut self.waiting) {
                let d = u32::from_be_bytes(payload[12..16].try_into().unwrap());
                match self
                    .decoders
                    .get_mut(&d)
                    .map(|dec| dec.decode("stream", &payload))
                {
                    Some(Ok(m)) if m.unknown_data_sets.is_empty() => {
                        ledger.account(self.id, from, &m, &self.shared.decoded)
                    }
                    _ => self.waiting.push((from, payload)),
                }
            }
        }
    }
}

// --- The barrier --------------------------------------------------------------------------

#[derive(Debug, Default)]
struct BarrierState {
    parked: u32,
    generation: u64,
    stop: bool,
}

/// VPP's worker barrier: the control thread asks, every worker parks between two
/// records, the control thread configures and lets them go.
#[derive(Debug, Default)]
struct Barrier {
    requested: AtomicBool,
    state: Mutex<BarrierState>,
    cond: Condvar,
}

impl Barrier {
    /// A worker parks until released; true when told to stop.
    fn park(&self) -> bool {
        let mut s = self.state.lock().unwrap();
        s.parked += 1;
        let generation = s.generation;
        self.cond.notify_all();
        while s.generation == generation {
            s = self.cond.wait(s).unwrap();
        }
        s.stop
    }

    /// Waits until all `n` workers are parked.
    fn hold(&self, n: u32) -> Result<(), String> {
        self.requested.store(true, SeqCst);
        let started = Instant::now();
        let mut s = self.state.lock().unwrap();
        while s.parked < n {
            let left = DEADLINE.checked_sub(started.elapsed()).ok_or(format!(
                "{} of {n} workers parked after {DEADLINE:?}",
                s.parked
            ))?;
            s = self.cond.wait_timeout(s, left).unwrap().0;
        }
        Ok(())
    }

    fn release(&self, stop: bool) {
        let mut s = self.state.lock().unwrap();
        s.parked = 0;
        s.generation += 1;
        s.stop = stop;
        self.requested.store(false, SeqCst);
        self.cond.notify_all();
    }
}

// --- What the workers see -------------------------------------------------------------

/// A report the workers may write to, as the last barrier left it.
#[derive(Clone, Debug)]
struct Target {
    exporter: u32,
    report: u32,
    uid: u32,
    layout: usize,
    /// The C-visible report (valid until the next configuration call) and its exporter's
    /// path MTU, for the VPP-style path.
    fr: usize,
    path_mtu: u32,
    written: Arc<[AtomicU64]>,
}

#[derive(Debug, Default)]
struct Snapshot {
    targets: Vec<Target>,
    /// (exporter, report) pairs the API must refuse: one past each exporter's last
    /// report, and exporters not in use.
    invalid: Vec<(u32, u32)>,
    timer_on: bool,
}

struct Shared {
    main: MainPtr,
    n_threads: u32,
    barrier: Barrier,
    snapshot: Mutex<Arc<Snapshot>>,
    ledger: Mutex<Ledger>,
    written: AtomicU64,
    decoded: AtomicU64,
    /// Records a second, all workers together.
    rate: f64,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.lock().unwrap().clone()
    }
}

#[derive(Debug, Default)]
struct WorkerStats {
    written: u64,
    by_path: [u64; 4],
    /// Calls the API refused on purpose (invalid indices) and buffer_get/reserve calls
    /// refused while the timer ran (the record was appended instead).
    refused: u64,
    timer_fallbacks: u64,
    /// Anything else: each is a failure.
    unexpected: Vec<String>,
}

struct Worker {
    t: u32,
    shared: Arc<Shared>,
    rng: Rng,
    stats: WorkerStats,
    record: Vec<u8>,
    last_flush: Instant,
}

impl Worker {
    fn main(&self) -> *const vpp_ipfix_main_t {
        self.shared.main.get()
    }

    fn fail(&mut self, what: String) {
        if self.stats.unexpected.len() < 10 {
            self.stats.unexpected.push(what);
        }
    }

    fn flush_idle(&mut self) {
        let mut sent = 0;
        let rc = vpp_ipfix_thread_flush_idle(self.main(), self.t, IDLE_AGE, &mut sent);
        if rc != 0 {
            self.fail(format!("flush_idle: {rc}"));
        }
        self.last_flush = Instant::now();
    }

    fn run(mut self) -> WorkerStats {
        let started = Instant::now();
        let per_worker = self.shared.rate / f64::from(self.shared.n_threads - 1);
        let mut snap = self.shared.snapshot();
        loop {
            if self.shared.barrier.requested.load(SeqCst) {
                // Going idle: what waited long enough goes out, and the UDP batch.
                self.flush_idle();
                if self.shared.barrier.park() {
                    break;
                }
                snap = self.shared.snapshot();
                continue;
            }
            if self.last_flush.elapsed() >= FLUSH_EVERY {
                self.flush_idle();
            }
            let in_flight = self
                .shared
                .written
                .load(Relaxed)
                .saturating_sub(self.shared.decoded.load(Relaxed));
            let ahead = self.stats.written as f64 > per_worker * started.elapsed().as_secs_f64();
            if in_flight > IN_FLIGHT_LIMIT || ahead || snap.targets.is_empty() {
                std::thread::sleep(Duration::from_micros(500));
                continue;
            }
            if self.rng.chance(0.002) && !snap.invalid.is_empty() {
                let (e, r) = snap.invalid[self.rng.below(snap.invalid.len())];
                self.must_refuse(e, r);
            }
            let target = snap.targets[self.rng.below(snap.targets.len())].clone();
            let burst = 1 + self.rng.below(32);
            let before = self.stats.written;
            match self.rng.below(4) {
                0 => self.vpp_style(&target, burst, snap.timer_on),
                1 => self.reserve(&target, burst, snap.timer_on),
                2 => self.append(&target, burst),
                _ => self.append_many(&target, burst),
            }
            self.shared
                .written
                .fetch_add(self.stats.written - before, Relaxed);
        }
        self.stats
    }

    /// The next record for `target`: its number, encoded into `self.record`.
    fn next_record(&mut self, target: &Target) -> u64 {
        let n = target.written[self.t as usize].load(Relaxed);
        self.record.resize(record_len(target.layout), 0);
        encode(target.layout, self.t, target.uid, n, &mut self.record);
        n
    }

    fn wrote(&mut self, target: &Target, n: u64, path: usize) {
        target.written[self.t as usize].store(n + 1, SeqCst);
        self.stats.written += 1;
        self.stats.by_path[path] += 1;
    }

    fn must_refuse(&mut self, e: u32, r: u32) {
        let record = [0u8; 16];
        let rc = vpp_ipfix_record_append(self.main(), e, r, self.t, record.as_ptr(), 16);
        if rc == 0 {
            self.fail(format!("append to invalid report ({e}, {r}) accepted"));
        }
        self.stats.refused += 1;
    }

    /// As flowprobe writes: take the thread's buffer, write at `next_data_offset`, send
    /// when the next record would pass the path MTU.
    fn vpp_style(&mut self, target: &Target, burst: usize, timer_on: bool) {
        let (main, e, r, t) = (self.main(), target.exporter, target.report, self.t);
        let size = record_len(target.layout);
        for _ in 0..burst {
            let mut err = 0;
            if vpp_ipfix_buffer_get(main, e, r, t, &mut err).is_null() {
                if err == TIMER_RUNNING && timer_on {
                    self.stats.timer_fallbacks += 1;
                    self.append(target, 1);
                } else {
                    self.fail(format!("buffer_get ({e}, {r}): {err}"));
                }
                continue;
            }
            // SAFETY: this thread, between its own calls; the snapshot's report is live
            // (no configuration since the barrier) and the timer does not run (it
            // refuses buffer_get).
            let ptd = unsafe { &mut *per_thread(target.fr as *const flow_report_t, t) };
            if usize::from(ptd.next_data_offset) + size > target.path_mtu as usize {
                let rc = vpp_ipfix_buffer_send(main, e, r, t);
                if rc != 0 {
                    self.fail(format!("buffer_send ({e}, {r}): {rc}"));
                }
                if vpp_ipfix_buffer_get(main, e, r, t, &mut err).is_null() {
                    self.fail(format!("buffer_get ({e}, {r}) after send: {err}"));
                    continue;
                }
            }
            let n = self.next_record(target);
            let at = usize::from(ptd.next_data_offset);
            // SAFETY: the buffer holds at least path_mtu bytes (the host's are 2048) and
            // at + size <= path_mtu; only this thread writes it until its next call.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.record.as_ptr(),
                    ptd.packet.as_ptr().add(at),
                    size,
                )
            };
            ptd.next_data_offset += size as u16;
            ptd.n_data_records += 1;
            self.wrote(target, n, 0);
        }
        if self.rng.chance(0.2) {
            let rc = vpp_ipfix_buffer_send(main, e, r, t);
            if rc != 0 {
                self.fail(format!("buffer_send ({e}, {r}): {rc}"));
            }
        }
    }

    fn reserve(&mut self, target: &Target, burst: usize, timer_on: bool) {
        let size = record_len(target.layout);
        for _ in 0..burst {
            let mut err = 0;
            let p = vpp_ipfix_record_reserve(
                self.main(),
                target.exporter,
                target.report,
                self.t,
                size as u16,
                &mut err,
            );
            if p.is_null() {
                if err == TIMER_RUNNING && timer_on {
                    self.stats.timer_fallbacks += 1;
                    self.append(target, 1);
                } else {
                    self.fail(format!(
                        "reserve ({}, {}): {err}",
                        target.exporter, target.report
                    ));
                }
                continue;
            }
            let n = self.next_record(target);
            // SAFETY: the library reserved `size` writable bytes at `p` for this thread.
            unsafe { std::ptr::copy_nonoverlapping(self.record.as_ptr(), p, size) };
            self.wrote(target, n, 1);
        }
    }

    fn append(&mut self, target: &Target, burst: usize) {
        for _ in 0..burst {
            let n = self.next_record(target);
            let rc = vpp_ipfix_record_append(
                self.main(),
                target.exporter,
                target.report,
                self.t,
                self.record.as_ptr(),
                self.record.len(),
            );
            if rc != 0 {
                self.fail(format!(
                    "append ({}, {}): {rc}",
                    target.exporter, target.report
                ));
                return;
            }
            self.wrote(target, n, 2);
        }
    }

    fn append_many(&mut self, target: &Target, burst: usize) {
        let size = record_len(target.layout);
        let first = target.written[self.t as usize].load(Relaxed);
        let mut records = vec![0u8; size * burst];
        for (i, r) in records.chunks_mut(size).enumerate() {
            encode(target.layout, self.t, target.uid, first + i as u64, r);
        }
        let mut done = 0;
        let rc = vpp_ipfix_records_append(
            self.main(),
            target.exporter,
            target.report,
            self.t,
            records.as_ptr(),
            size as u16,
            burst,
            &mut done,
        );
        if rc != 0 {
            self.fail(format!(
                "records_append ({}, {}): {rc}",
                target.exporter, target.report
            ));
        }
        for i in 0..done as u64 {
            self.wrote(target, first + i, 3);
        }
    }
}

// --- The control thread ---------------------------------------------------------------

/// The exporters the control thread keeps: 0 (IPv4, never deleted), and an IPv6 and a
/// second IPv4 one that are deleted and created again.
#[derive(Debug)]
struct Slot {
    name: &'static str,
    collector: usize,
    addr: SocketAddr,
    src: IpAddr,
    ports: Vec<u16>,
    /// (exporter index, ledger entry) while it exists.
    live: Option<(u32, usize)>,
}

#[derive(Clone, Debug)]
struct LiveStream {
    domain: u32,
    port: u16,
    slot: usize,
}

#[derive(Clone, Debug)]
struct LiveReport {
    uid: u32,
    slot: usize,
    domain: u32,
    layout: usize,
}

#[derive(Debug, Default)]
struct OpCounts {
    done: BTreeMap<&'static str, u64>,
    refused_on_purpose: u64,
}

struct Control {
    shared: Arc<Shared>,
    rng: Rng,
    slots: Vec<Slot>,
    streams: Vec<LiveStream>,
    reports: Vec<LiveReport>,
    next_domain: u32,
    next_uid: u32,
    timer_on: bool,
    ops: OpCounts,
}

impl Control {
    fn main(&self) -> MainPtr {
        self.shared.main
    }

    fn exporter(&self, slot: usize) -> u32 {
        self.slots[slot].live.unwrap().0
    }

    fn error(&self, e: String) {
        self.shared.ledger().error(e);
    }

    fn check(&self, what: &str, rc: i32) -> bool {
        if rc != 0 {
            self.error(format!("{what}: {rc}"));
        }
        rc == 0
    }

    fn done(&mut self, op: &'static str) {
        *self.ops.done.entry(op).or_default() += 1;
    }

    fn config(&mut self, slot: usize) -> vpp_ipfix_exporter_config_t {
        let s = &self.slots[slot];
        vpp_ipfix_exporter_config_t {
            collector: ip_address(s.addr.ip()),
            collector_port: s.addr.port(),
            src_address: ip_address(s.src),
            path_mtu: MTUS[self.rng.below(MTUS.len())],
            template_interval: 1 + self.rng.below(30) as u32,
            udp_checksum: self.rng.below(2) as u8,
            ..Default::default()
        }
    }

    /// Runs `f` with the timer stopped (it flushes workers' buffers from its own thread,
    /// which reads of those buffers and exact counter deltas cannot have).
    fn timer_stopped(&mut self, f: impl FnOnce(&mut Self)) {
        let was_on = self.timer_on;
        if was_on {
            self.check("timer_stop", vpp_ipfix_timer_stop(self.main().get()));
            self.timer_on = false;
        }
        f(self);
        if was_on {
            self.check(
                "timer_start",
                vpp_ipfix_timer_start(self.main().get(), IDLE_AGE, 0.0),
            );
            self.timer_on = true;
        }
    }

    fn live_slots(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&s| self.slots[s].live.is_some())
            .collect()
    }

    fn free_port(&mut self, slot: usize) -> Option<u16> {
        let used: Vec<u16> = self
            .streams
            .iter()
            .filter(|s| s.slot == slot)
            .map(|s| s.port)
            .collect();
        let free: Vec<u16> = self.slots[slot]
            .ports
            .iter()
            .copied()
            .filter(|p| !used.contains(p))
            .collect();
        (!free.is_empty()).then(|| free[self.rng.below(free.len())])
    }

    /// Sums `buffered` over every thread of the reports of `uids` (exporter `e`).
    fn buffered_of(&self, e: u32, uids: &[u32]) -> (u64, u64) {
        let (mut records, mut packets) = (0, 0);
        for &uid in uids {
            let r = report_index(self.main(), e, uid).unwrap();
            for t in 0..self.shared.n_threads {
                let n = buffered(self.main(), e, r, t);
                records += n;
                packets += u64::from(n > 0);
            }
        }
        (records, packets)
    }

    fn uids_of_slot(&self, slot: usize) -> Vec<u32> {
        self.reports
            .iter()
            .filter(|r| r.slot == slot)
            .map(|r| r.uid)
            .collect()
    }

    fn uids_of_stream(&self, domain: u32) -> Vec<u32> {
        self.reports
            .iter()
            .filter(|r| r.domain == domain)
            .map(|r| r.uid)
            .collect()
    }

    /// Reads the report counters of `uids` and counts their new drops in their streams.
    fn read_drops(&self, e: u32, uids: &[u32]) {
        for &uid in uids {
            let r = report_index(self.main(), e, uid).unwrap();
            let c = report_counters(self.main(), e, r);
            if c.alloc_failures != 0 {
                self.error(format!(
                    "report {uid}: {} allocation failures",
                    c.alloc_failures
                ));
            }
            self.shared.ledger().drops(uid, c.dropped_records, 0);
        }
    }

    fn add_report(&mut self, slot: usize) {
        let e = self.exporter(slot);
        let on_slot: Vec<LiveStream> = self
            .streams
            .iter()
            .filter(|s| s.slot == slot)
            .cloned()
            .collect();
        if self.uids_of_slot(slot).len() >= MAX_REPORTS {
            return;
        }
        let new_stream =
            on_slot.is_empty() || (on_slot.len() < MAX_STREAMS && self.rng.chance(0.5));
        let (domain, port) = if new_stream {
            let Some(port) = self.free_port(slot) else {
                return;
            };
            self.next_domain += 1;
            (self.next_domain, port)
        } else {
            let s = &on_slot[self.rng.below(on_slot.len())];
            (s.domain, s.port)
        };
        let layout = self.rng.below(LAYOUTS.len());
        self.next_uid += 1;
        let uid = self.next_uid;
        let mut template_id = 0;
        let by_fields = self.rng.chance(0.5);
        // The ledger is locked across the call: with the timer on, a timer round may send
        // the new template before the call returns, and the collector must know whose it
        // is when it arrives.
        let shared = self.shared.clone();
        let mut ledger = shared.ledger();
        // Both ways in: field specifiers, and VPP's elements.
        let rc = if by_fields {
            let fields: Vec<FieldSpec> = LAYOUTS[layout]
                .iter()
                .map(|&(id, l)| FieldSpec::new(id, l))
                .collect();
            let config = vpp_ipfix_report_config_t {
                domain_id: domain,
                src_port: port,
                fields: fields.as_ptr(),
                n_fields: fields.len() as u32,
                opaque: opaque_t {
                    as_uword: uid as usize,
                },
            };
            vpp_ipfix_report_add(
                self.main().get(),
                e,
                &config,
                std::ptr::null_mut(),
                &mut template_id,
            )
        } else {
            let mut elements: Vec<ipfix_report_element_t> = LAYOUTS[layout]
                .iter()
                .map(|&(id, l)| ipfix_report_element_t {
                    info_element: u32::from(id),
                    size: u32::from(l),
                })
                .collect();
            let mut a = vnet_flow_report_add_del_args_t {
                flow_data_callback: None,
                rewrite_callback: None,
                report_elements: elements.as_mut_ptr(),
                n_report_elements: elements.len() as u32,
                opaque: opaque_t {
                    as_uword: uid as usize,
                },
                is_add: 1,
                domain_id: domain,
                src_port: port,
                stream_indexp: std::ptr::null_mut(),
                flow_report_index: 0,
            };
            vpp_ipfix_report_add_del(self.main().get(), e, &mut a, &mut template_id)
        };
        if rc != 0 {
            let name = self.slots[slot].name;
            return ledger.error(format!(
                "add report {uid} to {name} ({domain}, {port}): {rc}"
            ));
        }
        if new_stream {
            let s = &self.slots[slot];
            ledger.new_stream(domain, port, s.live.unwrap().1, s.collector, s.src);
        }
        ledger.add_report(uid, template_id, layout, domain);
        drop(ledger);
        if new_stream {
            self.streams.push(LiveStream { domain, port, slot });
        }
        self.reports.push(LiveReport {
            uid,
            slot,
            domain,
            layout,
        });
        self.done("report add");
    }

    fn delete_report(&mut self) {
        if self.reports.is_empty() {
            return;
        }
        let rep = self.reports[self.rng.below(self.reports.len())].clone();
        let port = self
            .streams
            .iter()
            .find(|s| s.domain == rep.domain)
            .unwrap()
            .port;
        let e = self.exporter(rep.slot);
        let use_add_del = self.rng.chance(0.5);
        self.timer_stopped(|c| {
            let main = c.main();
            let r = report_index(main, e, rep.uid).unwrap();
            let dropped = report_counters(main, e, r).dropped_records;
            let (held, _) = c.buffered_of(e, &[rep.uid]);
            let before = counters(main, e);
            let rc = if use_add_del {
                let mut a = vnet_flow_report_add_del_args_t {
                    flow_data_callback: None,
                    rewrite_callback: None,
                    report_elements: std::ptr::null_mut(),
                    n_report_elements: 0,
                    opaque: opaque_t {
                        as_uword: rep.uid as usize,
                    },
                    is_add: 0,
                    domain_id: rep.domain,
                    src_port: port,
                    stream_indexp: std::ptr::null_mut(),
                    flow_report_index: 0,
                };
                vpp_ipfix_report_add_del(main.get(), e, &mut a, std::ptr::null_mut())
            } else {
                let opaque = opaque_t {
                    as_uword: rep.uid as usize,
                };
                vpp_ipfix_report_delete(
                    main.get(),
                    e,
                    rep.domain,
                    port,
                    opaque,
                    std::ptr::null_mut(),
                )
            };
            if !c.check(&format!("delete report {}", rep.uid), rc) {
                return;
            }
            let after = counters(main, e);
            // The deletion sent what the workers' buffers held: each record sent or dropped.
            if finished(&after) - finished(&before) != held {
                c.error(format!(
                    "deleting report {} held {held} records; the exporter finished {}",
                    rep.uid,
                    finished(&after) - finished(&before)
                ));
            }
            let mut ledger = c.shared.ledger();
            ledger.drops(
                rep.uid,
                dropped,
                after.dropped_records - before.dropped_records,
            );
            ledger.close_report(rep.uid);
        });
        self.reports.retain(|r| r.uid != rep.uid);
        if !self.reports.iter().any(|r| r.domain == rep.domain) {
            self.streams.retain(|s| s.domain != rep.domain);
        }
        self.done("report delete");
    }

    /// Resets every stream of `slot` (`reports_reset`), or one (`stream_reset`).
    fn reset(&mut self, slot: usize, one: Option<u32>) {
        let e = self.exporter(slot);
        let domains: Vec<u32> = match one {
            Some(d) => vec![d],
            None => self
                .streams
                .iter()
                .filter(|s| s.slot == slot)
                .map(|s| s.domain)
                .collect(),
        };
        self.timer_stopped(|c| {
            let main = c.main();
            let uids: Vec<u32> = domains.iter().flat_map(|&d| c.uids_of_stream(d)).collect();
            let mut held = HashMap::new();
            for &uid in &uids {
                let r = report_index(main, e, uid).unwrap();
                for t in 0..c.shared.n_threads {
                    held.insert((uid, t), buffered(main, e, r, t));
                }
            }
            let before = counters(main, e);
            let rc = match one {
                Some(d) => {
                    let r = report_index(main, e, c.uids_of_stream(d)[0]).unwrap();
                    let stream_index = report(main, e, r).stream_index;
                    vpp_ipfix_stream_reset(main.get(), e, stream_index)
                }
                None => vpp_ipfix_reports_reset(main.get(), e),
            };
            if !c.check("reset", rc) {
                return;
            }
            // A reset sends nothing: the buffered records stay for the new epoch.
            if finished(&counters(main, e)) != finished(&before) {
                c.error(format!("a reset of exporter {e} sent records"));
            }
            for &uid in &uids {
                let r = report_index(main, e, uid).unwrap();
                for t in 0..c.shared.n_threads {
                    if buffered(main, e, r, t) != held[&(uid, t)] {
                        c.error(format!(
                            "a reset of exporter {e} changed report {uid}'s buffers"
                        ));
                    }
                }
            }
            let mut ledger = c.shared.ledger();
            for &d in &domains {
                ledger.reset_stream(d, &|uid, t| held[&(uid, t)]);
            }
        });
        self.done(if one.is_some() {
            "stream reset"
        } else {
            "reports reset"
        });
    }

    fn change_stream(&mut self) {
        if self.streams.is_empty() {
            return;
        }
        let s = self.streams[self.rng.below(self.streams.len())].clone();
        let port = if self.rng.chance(0.5) {
            s.port
        } else {
            self.free_port(s.slot).unwrap_or(s.port)
        };
        self.next_domain += 1;
        let domain = self.next_domain;
        let e = self.exporter(s.slot);
        let all = self.uids_of_slot(s.slot);
        let on_stream = self.uids_of_stream(s.domain);
        self.timer_stopped(|c| {
            let main = c.main();
            let (held, _) = c.buffered_of(e, &all);
            let before = counters(main, e);
            let rc = vpp_ipfix_stream_change(main.get(), e, s.domain, s.port, domain, port);
            if !c.check("stream change", rc) {
                return;
            }
            // The change sent every packet under construction of the exporter first.
            let sent = finished(&counters(main, e)) - finished(&before);
            if sent != held || c.buffered_of(e, &all).0 != 0 {
                c.error(format!(
                    "stream change of exporter {e}: held {held}, finished {sent}"
                ));
            }
            // Drops so far belong to the old stream.
            c.read_drops(e, &on_stream);
            c.shared.ledger().change_stream(s.domain, domain, port);
        });
        for r in self.reports.iter_mut().filter(|r| r.domain == s.domain) {
            r.domain = domain;
        }
        let live = self
            .streams
            .iter_mut()
            .find(|x| x.domain == s.domain)
            .unwrap();
        (live.domain, live.port) = (domain, port);
        self.done("stream change");
    }

    fn set_exporter(&mut self, slot: usize) {
        let e = self.exporter(slot);
        let config = self.config(slot);
        let all = self.uids_of_slot(slot);
        let exact = !self.timer_on;
        let main = self.main();
        let (held, _) = if exact {
            self.buffered_of(e, &all)
        } else {
            (0, 0)
        };
        let before = counters(main, e);
        if !self.check(
            "exporter set",
            vpp_ipfix_exporter_set(main.get(), e, &config),
        ) {
            return;
        }
        // The new settings apply to new packets: the old ones were sent first.
        let sent = finished(&counters(main, e)) - finished(&before);
        if exact && (sent != held || self.buffered_of(e, &all).0 != 0) {
            self.error(format!("exporter set of {e}: held {held}, finished {sent}"));
        }
        self.done("exporter set");
    }

    fn delete_exporter(&mut self, slot: usize) {
        let (e, entry) = self.slots[slot].live.unwrap();
        let uids = self.uids_of_slot(slot);
        self.timer_stopped(|c| {
            let main = c.main();
            c.read_drops(e, &uids);
            let (records, packets) = c.buffered_of(e, &uids);
            let last = counters(main, e);
            if !c.check("exporter delete", vpp_ipfix_exporter_delete(main.get(), e)) {
                return;
            }
            let mut ledger = c.shared.ledger();
            let x = &mut ledger.exporters[entry];
            x.last = Some(last);
            x.deleted = true;
            x.flushed_records = records;
            x.flushed_packets = packets;
            x.reports_at_delete = uids.len() as u64;
            for &uid in &uids {
                ledger.close_report(uid);
            }
        });
        self.reports.retain(|r| r.slot != slot);
        self.streams.retain(|s| s.slot != slot);
        self.slots[slot].live = None;
        self.done("exporter delete");
    }

    fn create_exporter(&mut self, slot: usize) {
        let config = self.config(slot);
        let mut e = 0;
        if !self.check(
            &format!("exporter create {}", self.slots[slot].name),
            vpp_ipfix_exporter_create(self.main().get(), &config, &mut e),
        ) {
            return;
        }
        // A new exporter starts from nothing, whatever its slot's earlier exporter lost
        // (recreated_exporter_counters_start_from_zero).
        let c = counters(self.main(), e);
        if c != vpp_ipfix_counters_t::default() {
            self.error(format!("new exporter {e} starts with counters {c:?}"));
        }
        let mut ledger = self.shared.ledger();
        ledger
            .exporters
            .push(ExporterEntry::new(self.slots[slot].name, e));
        self.slots[slot].live = Some((e, ledger.exporters.len() - 1));
        drop(ledger);
        self.done("exporter create");
    }

    /// Configuration calls the API must refuse, with nothing changed.
    fn refusals(&mut self) {
        let main = self.main().get();
        let e = self.exporter(0);
        let cases = [
            ("delete exporter 0", vpp_ipfix_exporter_delete(main, 0)),
            (
                "delete an unknown report",
                vpp_ipfix_report_delete(
                    main,
                    e,
                    u32::MAX - 1,
                    1,
                    opaque_t { as_uword: 0 },
                    std::ptr::null_mut(),
                ),
            ),
            (
                "reset an unknown stream",
                vpp_ipfix_stream_reset(main, e, 999),
            ),
            (
                "change an unknown stream",
                vpp_ipfix_stream_change(main, e, u32::MAX - 1, 1, u32::MAX - 2, 2),
            ),
        ];
        for (what, rc) in cases {
            if rc == 0 {
                self.error(format!("{what} was accepted"));
            }
            self.ops.refused_on_purpose += 1;
        }
    }

    /// One barrier: 1 to 3 operations at random.
    fn reconfigure(&mut self) {
        for _ in 0..1 + self.rng.below(3) {
            let live = self.live_slots();
            let slot = live[self.rng.below(live.len())];
            let dead: Vec<usize> = (1..self.slots.len())
                .filter(|s| self.slots[*s].live.is_none())
                .collect();
            let few = self.reports.len() < 4;
            match self.rng.below(20) {
                0..=3 => self.add_report(slot),
                _ if few => self.add_report(slot),
                4..=6 => self.delete_report(),
                7 => self.reset(slot, None),
                8 | 9 => {
                    let on_slot: Vec<u32> = self
                        .streams
                        .iter()
                        .filter(|s| s.slot == slot)
                        .map(|s| s.domain)
                        .collect();
                    if !on_slot.is_empty() {
                        let d = on_slot[self.rng.below(on_slot.len())];
                        self.reset(slot, Some(d));
                    }
                }
                10 | 11 => self.change_stream(),
                12..=14 => self.set_exporter(slot),
                15 if slot != 0 => self.delete_exporter(slot),
                16 if !dead.is_empty() => {
                    let s = dead[self.rng.below(dead.len())];
                    self.create_exporter(s);
                    for _ in 0..2 {
                        if self.slots[s].live.is_some() {
                            self.add_report(s);
                        }
                    }
                }
                17 => {
                    let rc = if self.timer_on {
                        vpp_ipfix_timer_stop(self.main().get())
                    } else {
                        vpp_ipfix_timer_start(self.main().get(), IDLE_AGE, 0.0)
                    };
                    if self.check("timer toggle", rc) {
                        self.timer_on = !self.timer_on;
                        self.done("timer on/off");
                    }
                }
                18 => self.refusals(),
                _ => self.add_report(slot),
            }
        }
    }

    /// What the workers may write to now, checked against the library's own view (on a
    /// mismatch they get nothing to write to: the run fails anyway).
    fn publish(&mut self) {
        let snap = self.snapshot().unwrap_or_else(|e| {
            self.error(e);
            Snapshot::default()
        });
        *self.shared.snapshot.lock().unwrap() = Arc::new(snap);
    }

    fn snapshot(&self) -> Result<Snapshot, String> {
        let main = self.main();
        let mut snap = Snapshot {
            timer_on: self.timer_on,
            ..Default::default()
        };
        let ledger = self.shared.ledger();
        // Exporters not in use, some just deleted.
        for e in 1..MAX_EXPORTERS {
            if !self
                .slots
                .iter()
                .any(|s| s.live.is_some_and(|(i, _)| i == e))
            {
                snap.invalid.push((e, 0));
            }
        }
        for (slot, s) in self.slots.iter().enumerate() {
            let Some((e, _)) = s.live else { continue };
            // SAFETY: a live exporter, read under the barrier.
            let path_mtu = unsafe { (*vpp_ipfix_exporter_get(main.get(), e)).path_mtu };
            let n = n_reports(main, e);
            // One past the last report.
            snap.invalid.push((e, n));
            let expected = self.reports.iter().filter(|r| r.slot == slot).count();
            if n as usize != expected {
                return Err(format!("exporter {e} has {n} reports, expected {expected}"));
            }
            for r in 0..n {
                let fr = report(main, e, r);
                let uid = fr.opaque.as_uword as u32;
                let live = self
                    .reports
                    .iter()
                    .find(|x| x.uid == uid && x.slot == slot)
                    .ok_or(format!("exporter {e} report {r} is {uid}, unknown"))?;
                // Its stream and template id, as the library has them.
                let stream = vpp_ipfix_stream_get(main.get(), e, fr.stream_index);
                // SAFETY: non-null from the library, read under the barrier.
                let key = (!stream.is_null())
                    .then(|| unsafe { ((*stream).domain_id, (*stream).src_port) });
                let port = self
                    .streams
                    .iter()
                    .find(|s| s.domain == live.domain)
                    .map(|s| s.port);
                let template_id = ledger.reports[&uid].template_id;
                if key != port.map(|p| (live.domain, p)) || fr.template_id != template_id {
                    return Err(format!(
                        "exporter {e} report {r} (uid {uid}) is in stream {key:?} with template {}; \
                         expected ({}, {port:?}) with template {template_id}",
                        fr.template_id, live.domain
                    ));
                }
                snap.targets.push(Target {
                    exporter: e,
                    report: r,
                    uid,
                    layout: live.layout,
                    fr: std::ptr::from_ref(fr) as usize,
                    path_mtu,
                    written: ledger.reports[&uid].written.clone(),
                });
            }
        }
        Ok(snap)
    }
}

// --- A run ------------------------------------------------------------------------------

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf reads a constant of the system.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

/// Datagrams the kernel dropped on the way in, machine-wide: loopback's backlog
/// (/proc/net/softnet_stat) and full UDP receive buffers (/proc/net/snmp). Other
/// processes count here too: only a hint when something is missing.
fn kernel_drop_hints() -> (u64, u64) {
    let backlog = std::fs::read_to_string("/proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|d| u64::from_str_radix(d, 16).ok())
        .sum();
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let udp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp: ")).collect();
    let rcvbuf = (udp.len() == 2)
        .then(|| {
            let at = udp[0]
                .split_whitespace()
                .position(|w| w == "RcvbufErrors")?;
            udp[1].split_whitespace().nth(at)?.parse().ok()
        })
        .flatten()
        .unwrap_or(0);
    (backlog, rcvbuf)
}

/// `n` ports nobody uses on `ip` now (the library binds them with SO_REUSEADDR).
fn free_ports(ip: IpAddr, n: usize) -> Vec<u16> {
    let sockets: Vec<UdpSocket> = (0..n).map(|_| UdpSocket::bind((ip, 0)).unwrap()).collect();
    sockets
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect()
}

#[derive(Debug)]
struct Summary {
    threads: u32,
    seconds: f64,
    written: u64,
    decoded: u64,
    dropped: u64,
    lost: i64,
    reconfigurations: u64,
    rss: Growth,
    heap: Growth,
}

/// One measure of memory over a run.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at: f64,
    rss: i64,
    heap: i64,
}

impl Sample {
    fn now(at: f64) -> Self {
        Sample {
            at,
            rss: rss_bytes() as i64,
            heap: live_bytes(),
        }
    }
}

/// A measure at the start, at the end of warm-up (half the run), at its highest after
/// warm-up, and at the end.
#[derive(Clone, Copy, Debug)]
struct Growth {
    start: i64,
    warm: i64,
    peak: i64,
    end: i64,
}

impl Growth {
    fn of(samples: &[Sample], run: f64, f: impl Fn(&Sample) -> i64) -> Self {
        let warm = samples.iter().position(|s| s.at >= run / 2.0).unwrap_or(0);
        Growth {
            start: f(&samples[0]),
            warm: f(&samples[warm]),
            peak: samples[warm..].iter().map(&f).max().unwrap(),
            end: f(samples.last().unwrap()),
        }
    }
}

/// One soak run with `n_workers` workers for `seconds`; the errors it found.
fn run(n_workers: u32, seconds: f64, seed: u64, rate: f64) -> (Summary, Vec<String>) {
    let hints_before = kernel_drop_hints();
    let n_threads = n_workers + 1;
    let v6 = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    let mut collectors: Vec<Collector> = vec![Collector {
        addr: (Ipv4Addr::LOCALHOST, 0).into(),
        src: Ipv4Addr::LOCALHOST.into(),
    }];
    if v6 {
        collectors.push(Collector {
            addr: (Ipv6Addr::LOCALHOST, 0).into(),
            src: Ipv6Addr::LOCALHOST.into(),
        });
    }
    collectors.push(Collector {
        addr: (Ipv4Addr::new(127, 0, 0, 2), 0).into(),
        src: Ipv4Addr::LOCALHOST.into(),
    });

    let config = vpp_ipfix_standalone_config_t {
        n_threads,
        max_exporters: MAX_EXPORTERS,
        udp: 1,
        pcap_path: std::ptr::null(),
        ipfix_file_path: std::ptr::null(),
    };
    let mut main = std::ptr::null_mut();
    assert_eq!(vpp_ipfix_main_create_standalone(&config, &mut main), 0);
    let shared = Arc::new(Shared {
        main: MainPtr(main as usize),
        n_threads,
        barrier: Barrier::default(),
        snapshot: Mutex::new(Arc::new(Snapshot::default())),
        ledger: Mutex::new(Ledger {
            n_threads,
            ..Default::default()
        }),
        written: AtomicU64::new(0),
        decoded: AtomicU64::new(0),
        rate,
    });
    let deadline = Duration::from_secs_f64(seconds) + DEADLINE * 2;
    let running: Vec<UdpCollector<CollectorState>> = collectors
        .iter_mut()
        .enumerate()
        .map(|(id, c)| {
            let state = CollectorState {
                id,
                shared: shared.clone(),
                decoders: HashMap::new(),
                waiting: Vec::new(),
                swept: Instant::now(),
            };
            let collector = UdpCollector::start(c.addr, RCVBUF, deadline, state, |st, from, p| {
                st.on_datagram(from, p)
            })
            .unwrap();
            c.addr = collector.addr;
            collector
        })
        .collect();
    let names: &[&str] = if v6 {
        &["e0/v4", "v6", "v4b"]
    } else {
        &["e0/v4", "v4b"]
    };
    let slots = collectors
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (c, name))| Slot {
            name,
            collector: i,
            addr: c.addr,
            src: c.src,
            ports: free_ports(c.src, PORTS),
            live: None,
        })
        .collect();
    let mut control = Control {
        shared: shared.clone(),
        rng: Rng(seed ^ u64::from(n_workers) << 40),
        slots,
        streams: Vec::new(),
        reports: Vec::new(),
        next_domain: 0,
        next_uid: 0,
        timer_on: false,
        ops: OpCounts::default(),
    };
    // Exporter 0 is there from the start; the others are created.
    let config0 = control.config(0);
    assert_eq!(vpp_ipfix_exporter_set(main, 0, &config0), 0);
    control
        .shared
        .ledger()
        .exporters
        .push(ExporterEntry::new(control.slots[0].name, 0));
    control.slots[0].live = Some((0, 0));
    for s in 1..control.slots.len() {
        control.create_exporter(s);
    }
    for s in 0..control.slots.len() {
        for _ in 0..2 {
            if control.slots[s].live.is_some() {
                control.add_report(s);
            }
        }
    }
    control.publish();

    let started = Instant::now();
    let workers: Vec<_> = (1..=n_workers)
        .map(|t| {
            let w = Worker {
                t,
                shared: shared.clone(),
                rng: Rng(seed ^ u64::from(n_workers) << 40 ^ u64::from(t) << 48),
                stats: WorkerStats::default(),
                record: Vec::new(),
                last_flush: Instant::now(),
            };
            std::thread::spawn(move || w.run())
        })
        .collect();

    let run_for = Duration::from_secs_f64(seconds);
    let mut samples = vec![Sample::now(0.0)];
    samples.reserve(4096);
    let (mut next_sample, mut next_templates) = (Duration::ZERO, Duration::ZERO);
    let mut next_barrier = Duration::from_secs_f64(MEAN_BARRIER_GAP);
    let mut barriers = 0u64;
    let mut failed_barrier = None;
    while started.elapsed() < run_for {
        let now = started.elapsed();
        if now >= next_sample {
            shared.ledger().retire();
            samples.push(Sample::now(now.as_secs_f64()));
            next_sample += Duration::from_secs(1);
        }
        if now >= next_templates {
            if !control.timer_on {
                let rc =
                    vpp_ipfix_templates_send_due(main, std::ptr::null_mut(), std::ptr::null_mut());
                control.check("templates_send_due", rc);
            }
            next_templates = now + TEMPLATES_EVERY;
        }
        if now >= next_barrier {
            if let Err(e) = shared.barrier.hold(n_workers) {
                failed_barrier = Some(e);
                break;
            }
            control.reconfigure();
            control.publish();
            shared.barrier.release(false);
            barriers += 1;
            // Exponential gaps: sometimes two barriers close together, sometimes long
            // stretches of plain export.
            let gap = -MEAN_BARRIER_GAP * (1.0 - control.rng.unit()).ln();
            next_barrier = now + Duration::from_secs_f64(gap.min(1.0));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    samples.push(Sample::now(started.elapsed().as_secs_f64()));
    let exported_for = started.elapsed().as_secs_f64();
    if let Some(e) = failed_barrier {
        panic!("{e}");
    }
    shared.barrier.hold(n_workers).unwrap();
    shared.barrier.release(true);
    let stats: Vec<WorkerStats> = workers.into_iter().map(|w| w.join().unwrap()).collect();

    // Everything still under construction goes out; the last counters are read.
    if control.timer_on {
        control.check("timer_stop", vpp_ipfix_timer_stop(main));
    }
    assert_eq!(vpp_ipfix_flush(main), 0);
    for slot in control.live_slots() {
        let (e, entry) = control.slots[slot].live.unwrap();
        let uids = control.uids_of_slot(slot);
        control.read_drops(e, &uids);
        let c = counters(shared.main, e);
        let mut ledger = shared.ledger();
        ledger.exporters[entry].last = Some(c);
        for uid in uids {
            ledger.close_report(uid);
        }
    }
    // Wait for the collectors to see all of it (or to stop making progress).
    let total: u64 = stats.iter().map(|s| s.written).sum();
    let mut last = (Instant::now(), 0);
    loop {
        let decoded = shared.decoded.load(Relaxed);
        let dropped: u64 = shared.ledger().streams.values().map(|s| s.dropped).sum();
        if decoded + dropped >= total || last.0.elapsed() > Duration::from_secs(2) {
            break;
        }
        if decoded != last.1 {
            last = (Instant::now(), decoded);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let received: Vec<_> = running.into_iter().map(UdpCollector::finish).collect();
    vpp_ipfix_main_destroy(main);
    let hints_after = kernel_drop_hints();

    // --- The verdict.
    let mut ledger = shared.ledger();
    let mut errors = std::mem::take(&mut ledger.errors);
    let n_errors = ledger.n_errors;
    if n_errors > errors.len() as u64 {
        errors.push(format!("... {} errors in all", n_errors));
    }
    for (t, s) in stats.iter().enumerate() {
        for u in &s.unexpected {
            errors.push(format!("worker {}: {u}", t + 1));
        }
    }
    let kernel_drops: u64 = received.iter().map(|r| r.kernel_drops).sum();
    if kernel_drops > 0 {
        errors.push(format!(
            "the kernel dropped {kernel_drops} datagrams at the collectors (receive buffers of \
             {:?} bytes full): the accounting cannot be exact",
            received.iter().map(|r| r.rcvbuf).collect::<Vec<_>>()
        ));
    }
    for r in &received {
        for (from, payload) in &r.state.waiting {
            errors.push(format!(
                "{} bytes from {from} never decodable: no template for domain {}",
                payload.len(),
                u32::from_be_bytes(payload[12..16].try_into().unwrap())
            ));
        }
    }
    // Streams retired during the run had every record decoded and none dropped.
    let written = ledger.retired.written + ledger.epochs.values().map(|e| e.total).sum::<u64>();
    if written != total {
        errors.push(format!(
            "the workers wrote {total} records, the epochs hold {written}"
        ));
    }
    let mut decoded = ledger.retired.written;
    let mut report_dropped = 0;
    for (domain, s) in &ledger.streams {
        let stream_written: u64 = s.epochs.iter().map(|e| ledger.epochs[e].total).sum();
        decoded += s.decoded;
        report_dropped += s.dropped;
        let name = ledger.exporters[s.exporter].name;
        if stream_written != s.decoded + s.dropped {
            errors.push(format!(
                "stream (domain {domain}, port {}, exporter {name} #{}): written {stream_written} \
                 != decoded {} + dropped {}",
                s.port, ledger.exporters[s.exporter].index, s.decoded, s.dropped
            ));
        }
        for e in &s.epochs {
            let ep = &ledger.epochs[e];
            if (s.dropped == 0 && !ep.complete()) || ep.seqs.end() > ep.total {
                errors.push(format!(
                    "domain {domain} epoch {e}: sequence numbers do not tile 0..{}: gaps {:?}, \
                     last {}",
                    ep.total,
                    ep.seqs.gaps(ep.total),
                    ep.seqs.end()
                ));
            }
        }
        if s.dropped == 0 && !s.pending_templates.is_empty() {
            errors.push(format!(
                "domain {domain}: templates with sequence numbers no data passes through: {:?}",
                &s.pending_templates[..s.pending_templates.len().min(5)]
            ));
        }
    }
    for (uid, rep) in &ledger.reports {
        for (t, th) in rep.threads.iter().enumerate() {
            let end = th.end.unwrap_or(0);
            if (rep.dropped == 0 && !th.received.is_whole(end)) || th.received.end() > end {
                errors.push(format!(
                    "report {uid} thread {t}: records decoded are not 0..{end}: gaps {:?}",
                    th.received.gaps(end)
                ));
            }
        }
    }
    // Each exporter's counters against what its collector decoded.
    let mut host_lost = 0;
    for (i, x) in ledger.exporters.iter().enumerate() {
        let Some(c) = x.last else { continue };
        let streams: Vec<&StreamEntry> = ledger
            .streams
            .values()
            .filter(|s| s.exporter == i)
            .collect();
        let got = x.retired.0 + streams.iter().map(|s| s.decoded).sum::<u64>();
        let data_messages = x.retired.1 + streams.iter().map(|s| s.data_messages).sum::<u64>();
        let templates = x.retired.2 + streams.iter().map(|s| s.template_messages).sum::<u64>();
        let lost_by_host = c.dropped_records.saturating_sub(x.report_drops);
        host_lost += lost_by_host;
        let (records_ok, packets_ok, templates_ok) = if x.deleted {
            (
                got == c.data_records + x.flushed_records,
                (c.packets..=c.packets + x.flushed_packets).contains(&data_messages),
                (c.templates..=c.templates + x.reports_at_delete).contains(&templates),
            )
        } else {
            (
                got == c.data_records,
                data_messages == c.packets,
                templates == c.templates,
            )
        };
        if !records_ok || !packets_ok || !templates_ok || lost_by_host > 0 || c.alloc_failures > 0 {
            errors.push(format!(
                "exporter {} #{} ({}): counters {c:?}, report drops {}, flushed by its deletion \
                 {} records in {} packets; the collector decoded {got} records in \
                 {data_messages} data messages and {templates} template messages",
                x.name,
                x.index,
                if x.deleted { "deleted" } else { "at the end" },
                x.report_drops,
                x.flushed_records,
                x.flushed_packets
            ));
        }
    }
    let dropped = report_dropped + host_lost;
    let lost = written as i64 - decoded as i64 - dropped as i64;
    if (kernel_drops > 0 || lost != 0) && hints_after != hints_before {
        errors.push(format!(
            "machine-wide, loopback backlog drops went from {} to {} and UDP receive buffer \
             errors from {} to {} during the run",
            hints_before.0, hints_after.0, hints_before.1, hints_after.1
        ));
    }

    // Memory: flat after warm-up (the first half).
    let rss = Growth::of(&samples, exported_for, |s| s.rss);
    let heap = Growth::of(&samples, exported_for, |s| s.heap);
    let trace = || {
        let every = samples.len().div_ceil(40);
        let kib = |b: i64| b >> 10;
        samples
            .iter()
            .step_by(every)
            .map(|s| (s.at as u32, kib(s.rss), kib(s.heap)))
            .collect::<Vec<_>>()
    };
    if std::env::var_os("SOAK_TRACE").is_some() {
        println!("  (seconds, RSS KiB, heap KiB): {:?}", trace());
    }
    for (what, g, allowed) in [
        ("RSS", &rss, RSS_TOLERANCE),
        ("heap", &heap, HEAP_TOLERANCE),
    ] {
        if g.peak > g.warm + allowed {
            errors.push(format!(
                "{what} grew by {} KiB over the second half (allowed {} KiB); (seconds, RSS KiB, \
                 heap KiB): {:?}",
                (g.peak - g.warm) >> 10,
                allowed >> 10,
                trace()
            ));
        }
    }

    let by_path = stats.iter().fold([0u64; 4], |mut a, s| {
        for (x, y) in a.iter_mut().zip(s.by_path) {
            *x += y;
        }
        a
    });
    let reconfigurations: u64 = control.ops.done.values().sum();
    println!(
        "  {n_workers} workers: paths get/write {} reserve {} append {} records_append {}; \
         refused on purpose {} (+{} configuration calls), appended while the timer ran {}; \
         {barriers} barriers: {:?}; {} streams, {} epochs ({} retired during the run); \
         data before its template {}; kernel drops {kernel_drops}",
        by_path[0],
        by_path[1],
        by_path[2],
        by_path[3],
        stats.iter().map(|s| s.refused).sum::<u64>(),
        control.ops.refused_on_purpose,
        stats.iter().map(|s| s.timer_fallbacks).sum::<u64>(),
        control.ops.done,
        ledger.streams.len() as u64 + ledger.retired.streams,
        ledger.n_epochs,
        ledger.retired.epochs,
        ledger.data_before_template,
    );
    let summary = Summary {
        threads: n_workers,
        seconds: exported_for,
        written,
        decoded,
        dropped,
        lost,
        reconfigurations,
        rss,
        heap,
    };
    (summary, errors)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn soak_1_2_4_8_workers_accounts_for_every_record() {
    let seconds: f64 = env_or("SOAK_SECONDS", 9.0);
    let seed: u64 = env_or(
        "SOAK_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    // Debug builds run the library and the decoder several times slower.
    let default_rate = if cfg!(debug_assertions) {
        40_000.0
    } else {
        150_000.0
    };
    let rate: f64 = env_or("SOAK_RATE", default_rate);
    let threads: Vec<u32> = std::env::var("SOAK_THREADS")
        .unwrap_or_else(|_| "1,2,4,8".into())
        .split(',')
        .map(|t| t.trim().parse().unwrap())
        .collect();
    println!("soak: seed {seed} (SOAK_SEED={seed} replays the control thread's choices)");
    let mut failures = Vec::new();
    for &n in &threads {
        let (s, errors) = run(n, seconds, seed, rate);
        println!(
            "soak threads={} seconds={:.1} written={} decoded={} dropped={} lost={} \
             reconfigurations={} rss_kib start={} warm={} end={} (peak after warm-up {}) \
             heap_kib start={} warm={} end={} (peak after warm-up {})",
            s.threads,
            s.seconds,
            s.written,
            s.decoded,
            s.dropped,
            s.lost,
            s.reconfigurations,
            s.rss.start >> 10,
            s.rss.warm >> 10,
            s.rss.end >> 10,
            s.rss.peak >> 10,
            s.heap.start >> 10,
            s.heap.warm >> 10,
            s.heap.end >> 10,
            s.heap.peak >> 10,
        );
        for e in &errors {
            println!("  FAIL: {e}");
        }
        if !errors.is_empty() || s.lost != 0 {
            failures.push(format!(
                "{n} workers: {} failures, lost {}",
                errors.len(),
                s.lost
            ));
        }
    }
    assert!(failures.is_empty(), "seed {seed}: {failures:?}");
}

/// Found while writing the soak's per-exporter check: the standalone host counts UDP
/// losses per exporter index for its whole life, and `vpp_ipfix_exporter_counters`
/// subtracted them all from the exporter in that slot now, so an exporter deleted after
/// losing datagrams passed its losses on to the next one created in its slot. A new
/// exporter's counters start from zero and count only its own packets.
#[test]
fn recreated_exporter_counters_start_from_zero() {
    let config = vpp_ipfix_standalone_config_t {
        n_threads: 2,
        max_exporters: 4,
        udp: 1,
        pcap_path: std::ptr::null(),
        ipfix_file_path: std::ptr::null(),
    };
    let mut main = std::ptr::null_mut();
    assert_eq!(vpp_ipfix_main_create_standalone(&config, &mut main), 0);
    let main = MainPtr(main as usize);
    let closed = UdpSocket::bind("127.0.0.3:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let open = common::udp::keep_all("127.0.0.4:0".parse().unwrap(), DEADLINE).unwrap();
    let fields = [FieldSpec::new(1, 8)];
    // One exporter to `collector`: 1000 records of one report, sent in 10 rounds so the
    // ICMP errors of one round show in the next; its index.
    let export = |collector: SocketAddr| {
        let exporter = vpp_ipfix_exporter_config_t {
            collector: ip_address(collector.ip()),
            collector_port: collector.port(),
            src_address: ip_address(Ipv4Addr::LOCALHOST.into()),
            ..Default::default()
        };
        let mut e = 0;
        assert_eq!(vpp_ipfix_exporter_create(main.get(), &exporter, &mut e), 0);
        let report = vpp_ipfix_report_config_t {
            domain_id: 1,
            src_port: 0,
            fields: fields.as_ptr(),
            n_fields: 1,
            opaque: opaque_t { as_uword: 1 },
        };
        let mut r = 0;
        let rc = vpp_ipfix_report_add(main.get(), e, &report, &mut r, std::ptr::null_mut());
        assert_eq!(rc, 0);
        for i in 0..1000u64 {
            let record = i.to_be_bytes();
            assert_eq!(
                vpp_ipfix_record_append(main.get(), e, r, 1, record.as_ptr(), 8),
                0
            );
            if i % 100 == 99 {
                let rc = vpp_ipfix_thread_flush_idle(main.get(), 1, 0.0, std::ptr::null_mut());
                assert_eq!(rc, 0);
                std::thread::sleep(Duration::from_millis(3));
            }
        }
        assert_eq!(vpp_ipfix_flush(main.get()), 0);
        e
    };
    let first = export(closed);
    let lost = counters(main, first);
    assert!(
        lost.dropped_records > 0,
        "the closed port lost records: {lost:?}"
    );
    assert_eq!(vpp_ipfix_exporter_delete(main.get(), first), 0);
    let second = export(open.addr);
    let c = counters(main, second);
    vpp_ipfix_main_destroy(main.get());
    let delivered = open.finish().datagrams;
    assert_eq!(second, first, "the same slot");
    assert!(delivered > 0);
    assert_eq!(
        (c.data_records, c.dropped_records),
        (1000, 0),
        "all 1000 records of the second exporter were delivered ({delivered} datagrams)"
    );
}
