//! Idle flush: a packet that stopped filling goes out once it has waited long enough, so
//! records never sit forever in a quiet worker (VPP's core never sent such a buffer).

mod common;

use common::accounting::decode_datagrams;
use common::ipfix::Decoder;
use common::packet::parse_ip_udp;
use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::datapath::{vpp_ipfix_record_append, vpp_ipfix_thread_flush_idle};
use vpp_ipfix::ffi::instance::{vpp_ipfix_main_destroy, vpp_ipfix_main_t};
use vpp_ipfix::report::ReportSpec;
use vpp_ipfix::transport::Capture;
use vpp_ipfix::types::{ip_address_t, opaque_t};
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::Instance;

const T0: f64 = 1_700_000_000.0;

fn instance(capture: &Capture, n_threads: u32) -> Instance {
    let mut inst = Instance::new(Box::new(capture.clone()), n_threads, 0).unwrap();
    let config = vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([127, 0, 0, 1]),
        src_address: ip_address_t::v4([127, 0, 0, 2]),
        ..Default::default()
    };
    inst.exporter_set(0, &config).unwrap();
    for opaque in 1..=2 {
        let spec = ReportSpec {
            domain_id: 1,
            src_port: 1,
            fields: vec![FieldSpec::new(1, 8)],
            opaque: opaque_t { as_uword: opaque },
            ..Default::default()
        };
        inst.report_add(0, spec).unwrap();
    }
    inst.send_due_templates();
    capture.take_packets();
    inst
}

#[test]
fn a_packet_goes_out_once_it_has_waited_max_age() {
    let capture = Capture::new(T0);
    let mut inst = instance(&capture, 1);
    for i in 0..3u64 {
        inst.with_worker(0, 0, 0, |dp, ptd| dp.append(ptd, &i.to_be_bytes()))
            .unwrap()
            .unwrap();
    }
    capture.set_now(T0 + 0.1);
    assert_eq!(inst.flush_idle(0.5), 0, "not old enough");
    assert!(capture.take_packets().is_empty());
    capture.set_now(T0 + 0.5);
    assert_eq!(inst.flush_idle(0.5), 1);
    assert_eq!(inst.flush_idle(0.5), 0, "nothing left");
    assert_eq!(capture.take_packets().len(), 1);
    assert_eq!(inst.exporter_counters(0).unwrap().data_records, 3);
}

#[test]
fn each_worker_flushes_only_its_own_packets_through_the_c_abi() {
    let capture = Capture::new(T0);
    let main = vpp_ipfix_main_t::into_raw(instance(&capture, 3));
    let rec = 7u64.to_be_bytes();
    for t in 1..=2 {
        for report in 0..2 {
            assert_eq!(
                vpp_ipfix_record_append(main, 0, report, t, rec.as_ptr(), rec.len()),
                0
            );
        }
    }
    capture.set_now(T0 + 1.0);
    let mut sent = 0;
    assert_eq!(vpp_ipfix_thread_flush_idle(main, 1, 0.25, &mut sent), 0);
    assert_eq!(sent, 2, "worker 1's two reports");
    let packets = capture.take_packets();
    assert!(packets.iter().all(|p| p.thread_index == 1));
    assert_eq!(
        vpp_ipfix_thread_flush_idle(main, 3, 0.25, &mut sent),
        vpp_ipfix::Error::VPP_IPFIX_ERROR_INVALID_WORKER.code()
    );
    assert_eq!(vpp_ipfix_thread_flush_idle(main, 2, 0.0, &mut sent), 0);
    assert_eq!(sent, 2);
    let mut all = packets;
    all.extend(capture.take_packets());
    vpp_ipfix_main_destroy(main);
    let datagrams: Vec<_> = all
        .iter()
        .map(|p| parse_ip_udp(&p.bytes).unwrap())
        .collect();
    let mut decoder = Decoder::new();
    decoder.set_lenient_unknown(true); // templates were taken out of the capture above
    let messages = decode_datagrams(&mut decoder, &datagrams).unwrap();
    assert_eq!(messages.len(), 4);
    assert!(messages.iter().all(|(_, m)| m.unknown_data_sets.len() == 1));
    let mut seqs: Vec<u32> = messages.iter().map(|(_, m)| m.sequence_number).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        vec![0, 1, 2, 3],
        "one record each, counted in the stream they share"
    );
}

/// A clock stepped back (NTP in a standalone host) makes every waiting packet idle at
/// once, as it makes templates due: otherwise records would wait for the whole step.
/// Once flushed, the next packet's age runs on the new clock (no storm).
#[test]
fn a_clock_stepped_back_sends_waiting_packets_at_once() {
    let capture = Capture::new(T0);
    let mut inst = instance(&capture, 1);
    for r in 0..2 {
        inst.with_worker(0, r, 0, |dp, ptd| dp.append(ptd, &7u64.to_be_bytes()))
            .unwrap()
            .unwrap();
    }
    capture.set_now(T0 - 3600.0);
    assert_eq!(inst.flush_idle(0.5), 2);
    assert_eq!(capture.take_packets().len(), 2);
    inst.with_worker(0, 0, 0, |dp, ptd| dp.append(ptd, &8u64.to_be_bytes()))
        .unwrap()
        .unwrap();
    capture.set_now(T0 - 3600.0 + 0.1);
    assert_eq!(inst.flush_idle(0.5), 0, "the new packet is 0.1 s old");
    capture.set_now(T0 - 3600.0 + 0.5);
    assert_eq!(inst.flush_idle(0.5), 1);
    assert_eq!(inst.exporter_counters(0).unwrap().data_records, 3);
}
