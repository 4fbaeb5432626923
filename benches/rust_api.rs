//! Benchmarks of the Rust API: flowprobe's 56-byte IPv4 record exported through
//! `api::Worker::append` (one call per record), and through the core's `DataPath` inside
//! `Instance::with_worker`, one record at a time (`DataPath::append`) or 32 at once
//! (`DataPath::append_records`), into an in-memory host that recycles its buffers.
//!
//! `cargo bench --bench rust_api` runs them under criterion (time per record). The same
//! binary has two plain modes that `benches/run.sh` uses for the table of
//! docs/performance.md, with the C benchmark's output format:
//!
//! ```text
//! rust_api --table-time [--runs R] [--records N] [--case NAME]
//!                                                   median ns per record, packets/s
//! rust_api --table-instr --case NAME [--records N]  one case, for valgrind --tool=callgrind
//!                                                   --toggle-collect='*measured_loop*'
//! rust_api --table-list                             the case names
//! ```

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

use vpp_ipfix::api::{ExporterConfig, Process, Report};
use vpp_ipfix::ops::{BufferHandle, Embedder, EnqueueRefused, PacketInfo};
use vpp_ipfix::wire::{FieldSpec, PacketBuf};

const RECORD: usize = 56;
const N_SRC: usize = 1024;
const BATCH: usize = 32;
const BUFFER_BYTES: usize = 2048;

/// flowprobe's IPv4 L3+L4 record: ingress and egress interface, direction, packets,
/// start and end (ns), source and destination address, protocol, octets, ports, TCP
/// flags.
const FIELDS: [(u16, u16); 13] = [
    (10, 4),
    (14, 4),
    (61, 1),
    (2, 8),
    (156, 8),
    (157, 8),
    (8, 4),
    (12, 4),
    (4, 1),
    (1, 8),
    (7, 2),
    (11, 2),
    (6, 2),
];

/// 1024 records, encoded once; the loops cycle through them.
fn records() -> Vec<u8> {
    let mut out = Vec::with_capacity(N_SRC * RECORD);
    for i in 0..N_SRC as u64 {
        let start = ((1_700_000_000u64 + 2_208_988_800) << 32) + i;
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&2u32.to_be_bytes());
        out.push((i & 1) as u8);
        out.extend_from_slice(&(i + 1).to_be_bytes());
        out.extend_from_slice(&start.to_be_bytes());
        out.extend_from_slice(&(start + (1 << 32)).to_be_bytes());
        out.extend_from_slice(&(0x0a00_0000u32 | i as u32).to_be_bytes());
        out.extend_from_slice(&(0xc000_0200u32 | (i % 251) as u32).to_be_bytes());
        out.push(if i & 1 == 1 { 17 } else { 6 });
        out.extend_from_slice(&(64 * (i + 1)).to_be_bytes());
        out.extend_from_slice(&(1024 + i as u16).to_be_bytes());
        out.extend_from_slice(&443u16.to_be_bytes());
        out.extend_from_slice(&((i & 0x3f) as u16).to_be_bytes());
    }
    assert_eq!(out.len(), N_SRC * RECORD);
    out
}

/// One thread's recycled buffers and what it sent, on its own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct SinkThread {
    free: Mutex<Vec<Box<[u8]>>>,
    packets: AtomicU64,
    records: AtomicU64,
}

/// The host: buffers come from and go back to the thread's pool; packets are counted,
/// not kept (a VPP frame or a socket takes them).
struct Sink {
    threads: Box<[SinkThread]>,
}

impl Sink {
    fn new(threads: usize) -> Arc<Self> {
        Arc::new(Sink {
            threads: (0..threads).map(|_| SinkThread::default()).collect(),
        })
    }

    fn give_back(&self, thread_index: u32, packet: PacketBuf) {
        if let (Some(t), Some(bytes)) =
            (self.threads.get(thread_index as usize), packet.into_boxed())
        {
            t.free
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(bytes);
        }
    }

    fn totals(&self) -> (u64, u64) {
        self.threads.iter().fold((0, 0), |(p, r), t| {
            (p + t.packets.load(Relaxed), r + t.records.load(Relaxed))
        })
    }
}

impl Embedder for Sink {
    fn buffer_alloc(&self, thread_index: u32, min: u32) -> Option<(BufferHandle, PacketBuf)> {
        let t = self.threads.get(thread_index as usize)?;
        if min as usize > BUFFER_BYTES {
            return None;
        }
        let recycled = t.free.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let bytes = recycled.unwrap_or_else(|| vec![0u8; BUFFER_BYTES].into_boxed_slice());
        let buf = PacketBuf::from_boxed(bytes);
        Some((BufferHandle(buf.as_ptr() as usize), buf))
    }

    fn buffer_free(&self, thread_index: u32, _handle: BufferHandle, packet: PacketBuf) {
        self.give_back(thread_index, packet);
    }

    fn enqueue(
        &self,
        thread_index: u32,
        _handle: BufferHandle,
        packet: PacketBuf,
        info: &PacketInfo,
    ) -> Result<(), EnqueueRefused> {
        if let Some(t) = self.threads.get(thread_index as usize) {
            t.packets.fetch_add(1, Relaxed);
            t.records.fetch_add(u64::from(info.records), Relaxed);
        }
        self.give_back(thread_index, packet);
        Ok(())
    }

    fn now(&self) -> f64 {
        1_700_000_000.0
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `Worker::append`, one call per record.
    WorkerAppend,
    /// `Instance::with_worker` per 32 records, `DataPath::append` per record.
    DataPathAppend,
    /// `Instance::with_worker` + `DataPath::append_records` per 32 records.
    DataPathBatch,
}

#[derive(Clone, Copy)]
struct Case {
    kind: Kind,
    mtu: u32,
    csum: bool,
    ip6: bool,
    threads: u32,
    shared: bool,
}

impl Case {
    fn name(&self) -> String {
        let kind = match self.kind {
            Kind::WorkerAppend => "rust-append",
            Kind::DataPathAppend => "rust-dp-append",
            Kind::DataPathBatch => "rust-dp-batch",
        };
        let ip = if self.ip6 {
            "ip6"
        } else if self.csum {
            "ip4csum"
        } else {
            "ip4"
        };
        let threads = match (self.threads, self.shared) {
            (1, _) => "1t".to_string(),
            (n, true) => format!("{n}t-shared"),
            (n, false) => format!("{n}t-sep"),
        };
        format!("{kind}/mtu{}/{ip}/{threads}", self.mtu)
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for mtu in [1450, 512] {
        for (csum, ip6) in [(false, false), (true, false), (false, true)] {
            for kind in [
                Kind::WorkerAppend,
                Kind::DataPathAppend,
                Kind::DataPathBatch,
            ] {
                out.push(Case {
                    kind,
                    mtu,
                    csum,
                    ip6,
                    threads: 1,
                    shared: false,
                });
            }
        }
        for shared in [false, true] {
            out.push(Case {
                kind: Kind::WorkerAppend,
                mtu,
                csum: false,
                ip6: false,
                threads: 2,
                shared,
            });
        }
    }
    out
}

/// A process exporting the record on `case`'s exporter, with the report each thread
/// uses. Threads on separate streams use streams 0 and 8 (reports on seven more streams
/// in between), so their sequence numbers do not share a cache line.
struct Setup {
    process: Process,
    sink: Arc<Sink>,
    reports: Vec<Report>,
}

fn setup(case: &Case) -> Setup {
    let sink = Sink::new(case.threads as usize);
    let mut process = Process::builder()
        .threads(case.threads)
        .host(Arc::clone(&sink))
        .build()
        .expect("process");
    let (collector, source) = if case.ip6 {
        (
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        )
    };
    let mut config = ExporterConfig::new(SocketAddr::new(collector, 4739), source);
    config.path_mtu = case.mtu;
    config.udp_checksum = case.csum;
    config.template_interval = 3600;
    process.set_exporter(0, &config).expect("exporter");
    let fields: Vec<FieldSpec> = FIELDS
        .iter()
        .map(|&(id, len)| FieldSpec::new(id, len))
        .collect();
    let separate = case.threads > 1 && !case.shared;
    let n_reports = if separate {
        8 * (case.threads - 1) + 1
    } else {
        1
    };
    let all: Vec<Report> = (0..n_reports)
        .map(|r| {
            process
                .add_report(0, 1 + r, 30001 + r as u16, &fields)
                .expect("report")
        })
        .collect();
    let reports = (0..case.threads as usize)
        .map(|t| if separate { all[8 * t] } else { all[0] })
        .collect();
    process.send_due_templates();
    Setup {
        process,
        sink,
        reports,
    }
}

/// What callgrind counts (`--toggle-collect='*measured_loop*'`, which counts per
/// thread): one thread's loop when `run` is asked to count it, not in the warm-up.
#[inline(never)]
fn measured_loop(setup: &Setup, case: &Case, t: u32, records: &[u8], n: usize) {
    worker_loop(setup, case, t, records, n);
}

/// `measured_loop` for the `DataPath` kinds.
#[inline(never)]
fn measured_loop_mut(setup: &mut Setup, case: &Case, records: &[u8], n: usize) {
    data_path_loop(setup, case, records, n);
}

/// The loop of one thread: `n` records from `records`.
#[inline(never)]
fn worker_loop(setup: &Setup, case: &Case, t: u32, records: &[u8], n: usize) {
    let report = setup.reports[t as usize];
    let record = |i: usize| &records[(i % N_SRC) * RECORD..][..RECORD];
    match case.kind {
        Kind::WorkerAppend => {
            let mut worker = setup.process.worker(t).expect("worker");
            for i in 0..n {
                worker.append(report, record(i)).expect("append");
            }
            worker.send(report).expect("send");
        }
        Kind::DataPathAppend | Kind::DataPathBatch => {
            unreachable!("needs &mut: see data_path_loop")
        }
    }
}

/// The loop of the `DataPath` kinds (one thread: `with_worker` takes the instance
/// exclusively).
#[inline(never)]
fn data_path_loop(setup: &mut Setup, case: &Case, records: &[u8], n: usize) {
    let report = setup.reports[0];
    let instance = setup.process.instance_mut();
    let mut i = 0;
    while i < n {
        let count = BATCH.min(n - i);
        let at = (i % N_SRC) * RECORD;
        let chunk = &records[at..at + count * RECORD];
        let done = instance
            .with_worker(report.exporter, report.index, 0, |dp, ptd| {
                match case.kind {
                    Kind::DataPathAppend => chunk
                        .chunks_exact(RECORD)
                        .try_for_each(|r| dp.append(ptd, r))
                        .map(|()| count),
                    _ => {
                        let (done, r) = dp.append_records(ptd, chunk, RECORD as u16);
                        r.map(|()| done)
                    }
                }
            })
            .expect("with_worker")
            .expect("append");
        assert_eq!(done, count);
        i += count;
    }
    instance
        .with_worker(report.exporter, report.index, 0, |dp, ptd| {
            dp.send_buffer(ptd)
        })
        .expect("with_worker")
        .expect("send");
}

/// Runs `case` over `n` records per thread; the seconds from start to the last thread's
/// end. `counted`: through `measured_loop`, for callgrind.
fn run(setup: &mut Setup, case: &Case, records: &[u8], n: usize, counted: bool) -> Duration {
    if case.kind != Kind::WorkerAppend {
        let start = Instant::now();
        if counted {
            measured_loop_mut(setup, case, records, n);
        } else {
            data_path_loop(setup, case, records, n);
        }
        return start.elapsed();
    }
    let one = |setup: &Setup, t: u32| {
        if counted {
            measured_loop(setup, case, t, records, n);
        } else {
            worker_loop(setup, case, t, records, n);
        }
    };
    if case.threads == 1 {
        let start = Instant::now();
        one(setup, 0);
        return start.elapsed();
    }
    let setup = &*setup;
    let barrier = std::sync::Barrier::new(case.threads as usize + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..case.threads)
            .map(|t| {
                let (barrier, one) = (&barrier, &one);
                s.spawn(move || {
                    pin(t);
                    barrier.wait();
                    let start = Instant::now();
                    one(setup, t);
                    (start, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        // From the first thread's start to the last one's end, as each saw them: the
        // main thread may get a CPU only after the workers began.
        let spans: Vec<(Instant, Instant)> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let start = spans.iter().map(|s| s.0).min();
        let end = spans.iter().map(|s| s.1).max();
        match (start, end) {
            (Some(start), Some(end)) => end.duration_since(start),
            _ => Duration::ZERO,
        }
    })
}

/// Keeps the calling thread on CPU `cpu` (modulo the CPUs online), as the C benchmark
/// pins its threads: left to the scheduler, two threads on a 2-CPU machine now and
/// then share one, and the two-thread figures move by half.
fn pin(cpu: u32) {
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SAFETY: `cpu_set_t` is a plain bit array, for which all-zero is the empty set;
    // CPU_SET sets one bit of it, the index below the set's size (at most 1024 CPUs
    // online here, far fewer). pid 0 is the calling thread, and `set` is a live set of
    // the size passed. A failure leaves the thread unpinned: noisier figures, no more.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(
            cpu as usize % online.min(libc::CPU_SETSIZE as usize),
            &mut set,
        );
        let _ = libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set);
    }
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The table modes (see the module documentation). Returns false when no table mode
/// was asked for.
fn table(args: &[String]) -> bool {
    let mode_time = args.iter().any(|a| a == "--table-time");
    let mode_instr = args.iter().any(|a| a == "--table-instr");
    if args.iter().any(|a| a == "--table-list") {
        for case in cases() {
            println!("{}", case.name());
        }
        return true;
    }
    if !mode_time && !mode_instr {
        return false;
    }
    let runs: usize = arg_value(args, "--runs").map_or(5, |v| v.parse().expect("--runs"));
    let default_records = if mode_instr { 100_000 } else { 2_000_000 };
    let n: usize =
        arg_value(args, "--records").map_or(default_records, |v| v.parse().expect("--records"));
    let only = arg_value(args, "--case");
    let records = records();
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| only.as_deref().is_none_or(|o| o == c.name()))
        .collect();
    if mode_instr {
        for case in &cases {
            let mut setup = setup(case);
            run(&mut setup, case, &records, n / 4 + 1000, false); // warm-up
            let before = setup.sink.totals();
            run(&mut setup, case, &records, n, true);
            let after = setup.sink.totals();
            let name = case.name();
            println!(
                "instr\t{name}\t{}\t{}\t0",
                after.1 - before.1,
                after.0 - before.0
            );
        }
        return true;
    }
    // `runs` rounds over every case, each set up, warmed up and run once a round (a
    // burst of other load lands on a few rounds of many cases); medians over rounds.
    let mut secs = vec![Vec::with_capacity(runs); cases.len()];
    let mut counts = vec![(0, 0); cases.len()];
    for _ in 0..runs {
        for (i, case) in cases.iter().enumerate() {
            let mut setup = setup(case);
            run(&mut setup, case, &records, n / 4 + 1000, false); // warm-up
            let before = setup.sink.totals();
            secs[i].push(run(&mut setup, case, &records, n, false).as_secs_f64());
            let after = setup.sink.totals();
            counts[i] = (after.0 - before.0, after.1 - before.1);
            assert_eq!(counts[i].1, n as u64 * u64::from(case.threads), "records");
        }
    }
    for (i, case) in cases.iter().enumerate() {
        secs[i].sort_by(f64::total_cmp);
        let median = secs[i][runs / 2];
        let (packets, recs) = counts[i];
        println!(
            "time\t{}\t{recs}\t{packets}\t{:.3}\t{:.0}",
            case.name(),
            median * 1e9 / recs as f64,
            packets as f64 / median
        );
    }
    true
}

fn criterion_benches(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group("rust_api");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for case in cases() {
        let mut setup = setup(&case);
        group.throughput(Throughput::Elements(u64::from(case.threads)));
        group.bench_function(case.name(), |b| {
            b.iter_custom(|iters| {
                run(
                    &mut setup,
                    &case,
                    black_box(&records),
                    iters as usize,
                    false,
                )
            })
        });
    }
    group.finish();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if table(&args) {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
}
