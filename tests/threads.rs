//! Sequence accounting with several workers exporting at once through the C ABI: every
//! message's sequence number is the count of data records sent before it in its stream
//! (RFC 7011 §3.1), whatever the interleaving, and no record is lost or duplicated.

mod common;

use std::collections::BTreeMap;

use common::accounting::{check_sequences, decode_datagrams, StreamKey};
use common::ipfix::{be_uint, Decoder};
use common::packet::parse_ip_udp;
use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::datapath::{
    vpp_ipfix_buffer_send, vpp_ipfix_record_append, vpp_ipfix_record_reserve,
};
use vpp_ipfix::ffi::instance::{vpp_ipfix_main_destroy, vpp_ipfix_main_t};
use vpp_ipfix::report::ReportSpec;
use vpp_ipfix::transport::Capture;
use vpp_ipfix::types::{ip_address_t, opaque_t};
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::Instance;

const RECORD: [FieldSpec; 3] = [
    FieldSpec::new(10, 4), // ingressInterface: the thread
    FieldSpec::new(14, 4), // egressInterface: the record number
    FieldSpec::new(1, 8),  // octetDeltaCount
];

struct Setup {
    capture: Capture,
    main: *mut vpp_ipfix_main_t,
}

/// Exporter 0 with three reports: 0 and 1 on stream (1, 30001), 2 on stream (2, 30002).
fn setup(n_workers: u32, ip6: bool, mtu: u32) -> Setup {
    let capture = Capture::new(1_700_000_000.0);
    let mut inst = Instance::new(Box::new(capture.clone()), n_workers + 1, 0).unwrap();
    let (collector, src) = if ip6 {
        let mut c = [0u8; 16];
        c[15] = 1;
        let mut s = [0xfd_u8; 16];
        s[15] = 2;
        (ip_address_t::v6(c), ip_address_t::v6(s))
    } else {
        (
            ip_address_t::v4([127, 0, 0, 1]),
            ip_address_t::v4([127, 0, 0, 2]),
        )
    };
    let config = vpp_ipfix_exporter_config_t {
        collector,
        src_address: src,
        path_mtu: mtu,
        ..Default::default()
    };
    inst.exporter_set(0, &config).unwrap();
    for (opaque, domain_id, src_port) in [(1, 1, 30001), (2, 1, 30001), (3, 2, 30002)] {
        let spec = ReportSpec {
            domain_id,
            src_port,
            fields: RECORD.to_vec(),
            opaque: opaque_t { as_uword: opaque },
            ..Default::default()
        };
        inst.report_add(0, spec).unwrap();
    }
    assert_eq!(inst.send_due_templates().sent, 3);
    Setup {
        capture,
        main: vpp_ipfix_main_t::into_raw(inst),
    }
}

/// A decoded record: (thread, record number, template id).
type Seen = (u32, u32, u16);

fn record(thread: u32, i: u32) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[0..4].copy_from_slice(&thread.to_be_bytes());
    r[4..8].copy_from_slice(&i.to_be_bytes());
    r[8..16].copy_from_slice(&(u64::from(i) * 64).to_be_bytes());
    r
}

/// Runs `n_workers` threads, each exporting `per_thread` records spread over the three
/// reports, alternating append and reserve; returns what the capture decoded.
fn export(
    n_workers: u32,
    per_thread: u32,
    ip6: bool,
    mtu: u32,
) -> (BTreeMap<StreamKey, u64>, Vec<Seen>) {
    let s = setup(n_workers, ip6, mtu);
    let main = s.main as usize;
    std::thread::scope(|scope| {
        for t in 1..=n_workers {
            scope.spawn(move || {
                let main = main as *const vpp_ipfix_main_t;
                for i in 0..per_thread {
                    let r = record(t, i);
                    let report = i % 3;
                    if i % 2 == 0 {
                        assert_eq!(
                            vpp_ipfix_record_append(main, 0, report, t, r.as_ptr(), r.len()),
                            0
                        );
                    } else {
                        let mut err = 0;
                        let p = vpp_ipfix_record_reserve(main, 0, report, t, 16, &mut err);
                        assert_eq!(err, 0);
                        // SAFETY: the library reserved 16 writable bytes at `p` for this thread.
                        unsafe { std::ptr::copy_nonoverlapping(r.as_ptr(), p, 16) };
                    }
                }
                for report in 0..3 {
                    assert_eq!(vpp_ipfix_buffer_send(main, 0, report, t), 0);
                }
            });
        }
    });
    vpp_ipfix_main_destroy(s.main);
    let packets = s.capture.take_packets();
    assert_eq!(s.capture.outstanding_buffers(), 0, "every buffer came back");
    let datagrams: Vec<_> = packets
        .iter()
        .map(|p| parse_ip_udp(&p.bytes).unwrap())
        .collect();
    for p in &packets {
        assert!(
            p.bytes.len() <= mtu as usize,
            "packet of {} bytes past MTU {mtu}",
            p.bytes.len()
        );
    }
    let mut decoder = Decoder::new();
    let messages = decode_datagrams(&mut decoder, &datagrams).unwrap();
    let totals = check_sequences(&messages).unwrap();
    let mut seen = Vec::new();
    for (_, m) in &messages {
        for rec in &m.data_records {
            let thread = be_uint(&rec.values[0]) as u32;
            let i = be_uint(&rec.values[1]) as u32;
            assert_eq!(be_uint(&rec.values[2]), u64::from(i) * 64);
            seen.push((thread, i, rec.template_id));
        }
    }
    seen.sort_unstable();
    (totals, seen)
}

fn check(n_workers: u32, per_thread: u32, ip6: bool, mtu: u32) {
    let (totals, seen) = export(n_workers, per_thread, ip6, mtu);
    assert_eq!(totals.len(), 2, "two streams: {totals:?}");
    let mut by_domain: BTreeMap<u32, u64> = BTreeMap::new();
    for (k, n) in &totals {
        *by_domain.entry(k.domain_id).or_default() += n;
    }
    let expected_domain2 =
        u64::from(n_workers) * (0..per_thread).filter(|i| i % 3 == 2).count() as u64;
    assert_eq!(by_domain[&2], expected_domain2);
    assert_eq!(
        by_domain[&1] + by_domain[&2],
        u64::from(n_workers * per_thread)
    );
    let mut expected: Vec<(u32, u32, u16)> = (1..=n_workers)
        .flat_map(|t| (0..per_thread).map(move |i| (t, i, if i % 3 == 1 { 257 } else { 256 })))
        .collect();
    expected.sort_unstable();
    assert_eq!(
        seen, expected,
        "every record exactly once, with its template"
    );
}

#[test]
fn sequence_counts_records_across_one_thread() {
    check(1, 3000, false, 1450);
}

#[test]
fn sequence_counts_records_across_two_threads() {
    check(2, 5000, false, 512);
}

#[test]
fn sequence_counts_records_across_four_threads() {
    check(4, 5000, false, 1450);
}

#[test]
fn sequence_counts_records_across_four_threads_over_ipv6() {
    check(4, 3000, true, 1450);
}

#[test]
fn small_records_past_255_per_packet_are_counted_exactly() {
    // 16-byte records at MTU 1450 are 87 per packet; VPP's u8 counter would hold 255 at
    // most. Fill one packet with 1-field 4-byte records instead: 350 of them.
    let capture = Capture::new(1.0);
    let mut inst = Instance::new(Box::new(capture.clone()), 1, 0).unwrap();
    inst.exporter_set(
        0,
        &vpp_ipfix_exporter_config_t {
            collector: ip_address_t::v4([127, 0, 0, 1]),
            src_address: ip_address_t::v4([127, 0, 0, 2]),
            path_mtu: 1450,
            ..Default::default()
        },
    )
    .unwrap();
    let spec = ReportSpec {
        domain_id: 1,
        src_port: 1,
        fields: vec![FieldSpec::new(14, 4)],
        ..Default::default()
    };
    inst.report_add(0, spec).unwrap();
    inst.send_due_templates();
    for i in 0..700u32 {
        inst.with_worker(0, 0, 0, |dp, ptd| dp.append(ptd, &i.to_be_bytes()))
            .unwrap()
            .unwrap();
    }
    inst.flush_all();
    let packets = capture.take_packets();
    let datagrams: Vec<_> = packets
        .iter()
        .map(|p| parse_ip_udp(&p.bytes).unwrap())
        .collect();
    let messages = decode_datagrams(&mut Decoder::new(), &datagrams).unwrap();
    let per_message: Vec<usize> = messages.iter().map(|(_, m)| m.data_records.len()).collect();
    assert!(per_message.iter().any(|n| *n > 255), "{per_message:?}");
    let totals = check_sequences(&messages).unwrap();
    assert_eq!(totals.values().sum::<u64>(), 700);
    assert_eq!(inst.exporter_counters(0).unwrap().data_records, 700);
}

/// A host whose clock blocks until released, to hold a worker inside a per-thread call.
struct StallingClock {
    inner: Capture,
    stalled: std::sync::Mutex<bool>,
    cond: std::sync::Condvar,
    entered: std::sync::atomic::AtomicBool,
}

impl vpp_ipfix::ops::Embedder for StallingClock {
    fn buffer_alloc(
        &self,
        t: u32,
        min: u32,
    ) -> Option<(vpp_ipfix::ops::BufferHandle, vpp_ipfix::wire::PacketBuf)> {
        self.inner.buffer_alloc(t, min)
    }
    fn buffer_free(&self, t: u32, h: vpp_ipfix::ops::BufferHandle, p: vpp_ipfix::wire::PacketBuf) {
        self.inner.buffer_free(t, h, p)
    }
    fn enqueue(
        &self,
        t: u32,
        h: vpp_ipfix::ops::BufferHandle,
        p: vpp_ipfix::wire::PacketBuf,
        i: &vpp_ipfix::ops::PacketInfo,
    ) -> Result<(), vpp_ipfix::ops::EnqueueRefused> {
        self.inner.enqueue(t, h, p, i)
    }
    fn now(&self) -> f64 {
        self.entered
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // Bounded, so a broken test fails instead of hanging the run.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut stalled = self.stalled.lock().unwrap();
        while *stalled && std::time::Instant::now() < deadline {
            stalled = self
                .cond
                .wait_timeout(stalled, std::time::Duration::from_millis(50))
                .unwrap()
                .0;
        }
        1.0
    }
}

#[cfg(debug_assertions)]
#[test]
fn debug_builds_refuse_configuration_while_a_worker_exports() {
    use std::sync::atomic::Ordering::SeqCst;
    let host = std::sync::Arc::new(StallingClock {
        inner: Capture::new(1.0),
        stalled: std::sync::Mutex::new(false),
        cond: std::sync::Condvar::new(),
        entered: std::sync::atomic::AtomicBool::new(false),
    });
    let mut inst = Instance::new(Box::new(host.clone()), 2, 0).unwrap();
    let config = vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([127, 0, 0, 1]),
        src_address: ip_address_t::v4([127, 0, 0, 2]),
        ..Default::default()
    };
    inst.exporter_set(0, &config).unwrap();
    let spec = ReportSpec {
        domain_id: 1,
        src_port: 1,
        fields: RECORD.to_vec(),
        ..Default::default()
    };
    inst.report_add(0, spec).unwrap();
    let main = vpp_ipfix_main_t::into_raw(inst);
    let r = record(1, 1);
    assert_eq!(
        vpp_ipfix_record_append(main, 0, 0, 1, r.as_ptr(), r.len()),
        0
    );
    // The append above already read the clock: only a read from now on counts.
    *host.stalled.lock().unwrap() = true;
    host.entered.store(false, SeqCst);
    let addr = main as usize;
    let worker =
        std::thread::spawn(move || vpp_ipfix_buffer_send(addr as *const vpp_ipfix_main_t, 0, 0, 1));
    while !host.entered.load(SeqCst) {
        std::thread::yield_now();
    }
    let busy = vpp_ipfix::ffi::exporter::vpp_ipfix_exporter_set(main, 0, &config);
    *host.stalled.lock().unwrap() = false;
    host.cond.notify_all();
    assert_eq!(worker.join().unwrap(), 0);
    assert_eq!(busy, vpp_ipfix::Error::VPP_IPFIX_ERROR_BUSY.code());
    assert_eq!(
        vpp_ipfix::ffi::exporter::vpp_ipfix_exporter_set(main, 0, &config),
        0,
        "fine once the worker is out"
    );
    vpp_ipfix_main_destroy(main);
}
