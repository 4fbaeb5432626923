//! The Rust API: workers borrow the process (configuration cannot run meanwhile), each
//! thread index has one worker at a time, dropping a worker sends its packets, report
//! handles notice when removals moved their report.

mod common;

use common::accounting::{check_sequences, decode_datagrams};
use common::ipfix::Decoder;
use common::packet::parse_ip_udp;
use vpp_ipfix::api::{ExporterConfig, Process};
use vpp_ipfix::transport::Capture;
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::Error;

fn process(threads: u32) -> (Capture, Process) {
    let capture = Capture::new(1_700_000_000.0);
    let mut p = Process::builder()
        .threads(threads)
        .host(capture.clone())
        .build()
        .unwrap();
    let mut config = ExporterConfig::new(
        "127.0.0.1:4739".parse().unwrap(),
        "127.0.0.2".parse().unwrap(),
    );
    config.path_mtu = 1450;
    p.set_exporter(0, &config).unwrap();
    (capture, p)
}

#[test]
fn workers_on_four_threads_export_every_record_once() {
    let (capture, mut p) = process(4);
    let fields = [FieldSpec::new(10, 4), FieldSpec::new(14, 4)];
    let a = p.add_report(0, 1, 30001, &fields).unwrap();
    let b = p.add_report(0, 2, 30002, &fields).unwrap();
    assert_eq!((a.template_id, b.template_id), (256, 256));
    p.send_due_templates();
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let mut w = p.worker(t).unwrap();
            s.spawn(move || {
                for i in 0..5000u32 {
                    let mut rec = [0u8; 8];
                    rec[..4].copy_from_slice(&t.to_be_bytes());
                    rec[4..].copy_from_slice(&i.to_be_bytes());
                    let report = if i % 2 == 0 { a } else { b };
                    if i % 3 == 0 {
                        w.reserve(report, 8).unwrap().copy_from_slice(&rec);
                    } else {
                        w.append(report, &rec).unwrap();
                    }
                }
            });
        }
    });
    let c = p.counters(0).unwrap();
    assert_eq!(
        c.data_records, 20_000,
        "dropping the workers sent everything"
    );
    let datagrams: Vec<_> = capture
        .take_packets()
        .iter()
        .map(|p| parse_ip_udp(&p.bytes).unwrap())
        .collect();
    let messages = decode_datagrams(&mut Decoder::new(), &datagrams).unwrap();
    let totals = check_sequences(&messages).unwrap();
    assert_eq!(
        totals.values().copied().collect::<Vec<_>>(),
        vec![10_000, 10_000]
    );
    let mut seen: Vec<(u32, u32)> = messages
        .iter()
        .flat_map(|(_, m)| m.data_records.iter())
        .map(|r| {
            (
                common::ipfix::be_uint(&r.values[0]) as u32,
                common::ipfix::be_uint(&r.values[1]) as u32,
            )
        })
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 20_000);
}

#[test]
fn one_worker_per_thread_index_at_a_time() {
    let (_, p) = process(2);
    let w = p.worker(1).unwrap();
    assert_eq!(p.worker(1).err(), Some(Error::VPP_IPFIX_ERROR_VALUE_EXIST));
    assert_eq!(
        p.worker(2).err(),
        Some(Error::VPP_IPFIX_ERROR_INVALID_WORKER)
    );
    drop(w);
    assert!(p.worker(1).is_ok());
}

#[test]
fn report_handles_notice_removals_and_can_be_refreshed() {
    let (_, mut p) = process(1);
    let f = [FieldSpec::new(1, 8)];
    let first = p.add_report(0, 1, 1, &f).unwrap();
    let second = p.add_report(0, 1, 1, &f).unwrap();
    assert_eq!(second.index, 1);
    p.remove_report(first).unwrap();
    {
        let mut w = p.worker(0).unwrap();
        assert_eq!(
            w.append(second, &[0; 8]),
            Err(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY)
        );
    }
    let second = p.report(second).unwrap();
    assert_eq!(second.index, 0);
    p.send_due_templates();
    let mut w = p.worker(0).unwrap();
    w.append(second, &[0; 8]).unwrap();
    assert_eq!(w.flush_idle(0.0), 1);
    drop(w);
    assert_eq!(p.counters(0).unwrap().data_records, 1);
    assert_eq!(
        p.remove_report(first),
        Err(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY)
    );
}

#[test]
fn a_process_without_a_host_is_refused() {
    assert_eq!(
        Process::builder().build().err(),
        Some(Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT)
    );
}

#[test]
fn templates_go_out_while_workers_export() {
    let (capture, mut p) = process(3);
    let fields = [FieldSpec::new(10, 4), FieldSpec::new(14, 4)];
    let report = p.add_report(0, 1, 30001, &fields).unwrap();
    assert_eq!(p.send_due_templates().sent, 1);
    let rounds = std::thread::scope(|s| {
        for t in 1..3u32 {
            let mut w = p.worker(t).unwrap();
            s.spawn(move || {
                for i in 0..20_000u32 {
                    let mut rec = [0u8; 8];
                    rec[..4].copy_from_slice(&t.to_be_bytes());
                    rec[4..].copy_from_slice(&i.to_be_bytes());
                    w.append(report, &rec).unwrap();
                }
            });
        }
        // The main thread refreshes templates meanwhile, as VPP's process node does.
        let mut sent = 0;
        for k in 1..=50 {
            capture.set_now(1_700_000_000.0 + 21.0 * f64::from(k));
            sent += p.send_due_templates().sent;
        }
        sent
    });
    assert_eq!(rounds, 50, "one template per interval");
    let datagrams: Vec<_> = capture
        .take_packets()
        .iter()
        .map(|p| parse_ip_udp(&p.bytes).unwrap())
        .collect();
    let messages = decode_datagrams(&mut Decoder::new(), &datagrams).unwrap();
    let totals = check_sequences(&messages).unwrap();
    assert_eq!(totals.values().sum::<u64>(), 40_000);
    assert_eq!(
        messages
            .iter()
            .filter(|(_, m)| !m.templates.is_empty())
            .count(),
        51
    );
}
