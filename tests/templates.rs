//! Templates on the wire: built from a report's fields (enterprise-specific and
//! variable-length ones included), sent before data and again every template interval,
//! carrying the stream's sequence number without advancing it (RFC 7011 §3.1, §8).

mod common;

use common::accounting::decode_datagrams;
use common::ipfix::{Decoder, VARIABLE_LENGTH};
use common::packet::parse_ip_udp;
use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::report::ReportSpec;
use vpp_ipfix::transport::Capture;
use vpp_ipfix::types::ip_address_t;
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::{Error, Instance};

const T0: f64 = 1_700_000_000.0;

fn instance(ip6: bool) -> (Capture, Instance) {
    let capture = Capture::new(T0);
    let mut inst = Instance::new(Box::new(capture.clone()), 2, 0).unwrap();
    let (c, s) = if ip6 {
        (
            ip_address_t::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            ip_address_t::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
        )
    } else {
        (
            ip_address_t::v4([192, 0, 2, 1]),
            ip_address_t::v4([192, 0, 2, 2]),
        )
    };
    inst.exporter_set(
        0,
        &vpp_ipfix_exporter_config_t {
            collector: c,
            src_address: s,
            ..Default::default()
        },
    )
    .unwrap();
    (capture, inst)
}

fn fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec::new(8, 4),
        FieldSpec::enterprise(1, 4, 6871),
        FieldSpec::new(82, 65535), // interfaceName, variable length
        FieldSpec::new(1, 8),
    ]
}

fn decode(capture: &Capture, decoder: &mut Decoder) -> Vec<common::ipfix::Message> {
    let datagrams: Vec<_> = capture
        .take_packets()
        .iter()
        .map(|p| parse_ip_udp(&p.bytes).unwrap())
        .collect();
    decode_datagrams(decoder, &datagrams)
        .unwrap()
        .into_iter()
        .map(|(_, m)| m)
        .collect()
}

#[test]
fn template_carries_enterprise_and_variable_length_fields() {
    for ip6 in [false, true] {
        let (capture, mut inst) = instance(ip6);
        let added = inst
            .report_add(
                0,
                ReportSpec {
                    domain_id: 9,
                    src_port: 40000,
                    fields: fields(),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(added.template_id, 256);
        assert_eq!(
            inst.report(0, 0).unwrap().data_record_size,
            -1,
            "variable-length record"
        );
        assert_eq!(inst.send_due_templates().sent, 1);
        let mut decoder = Decoder::new();
        let messages = decode(&capture, &mut decoder);
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!(
            (m.domain_id, m.sequence_number, m.export_time),
            (9, 0, T0 as u32)
        );
        let t = &m.templates[0];
        assert_eq!(t.id, 256);
        let got: Vec<(u16, u16, Option<u32>)> = t
            .fields
            .iter()
            .map(|f| (f.element_id, f.length, f.enterprise))
            .collect();
        assert_eq!(
            got,
            vec![
                (8, 4, None),
                (1, 4, Some(6871)),
                (82, VARIABLE_LENGTH, None),
                (1, 8, None)
            ]
        );
    }
}

#[test]
fn variable_length_records_decode_with_their_template() {
    let (capture, mut inst) = instance(false);
    inst.report_add(
        0,
        ReportSpec {
            domain_id: 1,
            src_port: 1,
            fields: fields(),
            ..Default::default()
        },
    )
    .unwrap();
    inst.send_due_templates();
    // sourceIPv4Address, enterprise value, "eth0" as a 1-byte-length string, octets.
    let mut record = vec![10, 0, 0, 1, 0, 0, 0, 42, 4];
    record.extend_from_slice(b"eth0");
    record.extend_from_slice(&1500u64.to_be_bytes());
    inst.with_worker(0, 0, 1, |dp, ptd| dp.append(ptd, &record))
        .unwrap()
        .unwrap();
    inst.flush_all();
    let messages = decode(&capture, &mut Decoder::new());
    let data = &messages[1].data_records[0];
    assert_eq!(data.values[2], b"eth0");
    assert_eq!(data.values[1], vec![0, 0, 0, 42]);
}

#[test]
fn templates_are_refreshed_every_interval_and_never_advance_the_sequence() {
    let (capture, mut inst) = instance(false);
    inst.report_add(
        0,
        ReportSpec {
            domain_id: 1,
            src_port: 1,
            fields: vec![FieldSpec::new(1, 8)],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(inst.send_due_templates().sent, 1);
    assert_eq!(inst.send_due_templates().sent, 0, "not due again at once");
    for i in 0..10u64 {
        inst.with_worker(0, 0, 1, |dp, ptd| dp.append(ptd, &i.to_be_bytes()))
            .unwrap()
            .unwrap();
    }
    inst.flush_all();
    capture.set_now(T0 + 20.0);
    let round = inst.send_due_templates();
    assert_eq!(round.sent, 0, "due only after more than the interval");
    assert!(round.next_due_in <= 1e-9, "{round:?}");
    capture.set_now(T0 + 20.5);
    assert_eq!(inst.send_due_templates().sent, 1);
    let messages = decode(&capture, &mut Decoder::new());
    let seqs: Vec<(usize, u32)> = messages
        .iter()
        .map(|m| (m.templates.len(), m.sequence_number))
        .collect();
    assert_eq!(
        seqs,
        vec![(1, 0), (0, 0), (1, 10)],
        "template, data, template carrying 10"
    );
    assert_eq!(
        inst.stream(0, 0)
            .unwrap()
            .sequence_number
            .load(std::sync::atomic::Ordering::Relaxed),
        10
    );
    assert_eq!(inst.exporter_counters(0).unwrap().templates, 2);
}

#[test]
fn templates_that_cannot_fit_the_mtu_are_refused() {
    let (_, mut inst) = instance(false);
    let many: Vec<FieldSpec> = (0..200).map(|i| FieldSpec::new(100 + i, 1)).collect();
    let err = inst
        .report_add(
            0,
            ReportSpec {
                domain_id: 1,
                src_port: 1,
                fields: many,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.error, Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG);
    // A smaller MTU that an existing template would not fit is refused too.
    let fields: Vec<FieldSpec> = (0..40).map(|i| FieldSpec::new(100 + i, 1)).collect();
    inst.report_add(
        0,
        ReportSpec {
            domain_id: 1,
            src_port: 1,
            fields,
            ..Default::default()
        },
    )
    .unwrap();
    let mut config = vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([192, 0, 2, 1]),
        src_address: ip_address_t::v4([192, 0, 2, 2]),
        path_mtu: 100,
        ..Default::default()
    };
    assert_eq!(
        inst.exporter_set(0, &config),
        Err(Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG)
    );
    assert_eq!(inst.exporter(0).unwrap().path_mtu, 512, "unchanged");
    config.path_mtu = 400;
    assert_eq!(inst.exporter_set(0, &config), Ok(()));
}

#[test]
fn reconfiguring_the_collector_sends_pending_records_then_resets_streams() {
    let (capture, mut inst) = instance(false);
    inst.report_add(
        0,
        ReportSpec {
            domain_id: 1,
            src_port: 1,
            fields: vec![FieldSpec::new(1, 8)],
            ..Default::default()
        },
    )
    .unwrap();
    inst.send_due_templates();
    for i in 0..5u64 {
        inst.with_worker(0, 0, 1, |dp, ptd| dp.append(ptd, &i.to_be_bytes()))
            .unwrap()
            .unwrap();
    }
    let config = vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([192, 0, 2, 9]),
        src_address: ip_address_t::v4([192, 0, 2, 2]),
        ..Default::default()
    };
    inst.exporter_set(0, &config).unwrap();
    assert_eq!(
        inst.stream(0, 0)
            .unwrap()
            .sequence_number
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(
        inst.send_due_templates().sent,
        1,
        "template due again after the reset"
    );
    let packets = capture.take_packets();
    let dsts: Vec<[u8; 4]> = packets
        .iter()
        .map(|p| [p.bytes[16], p.bytes[17], p.bytes[18], p.bytes[19]])
        .collect();
    assert_eq!(
        dsts,
        vec![[192, 0, 2, 1], [192, 0, 2, 1], [192, 0, 2, 9]],
        "old data to the old collector"
    );
}

#[test]
fn a_new_mtu_or_family_that_a_record_would_not_fit_is_refused() {
    let (_, mut inst) = instance(false);
    let big = vec![FieldSpec::new(82, 460)];
    inst.report_add(
        0,
        ReportSpec {
            domain_id: 1,
            src_port: 1,
            fields: big,
            ..Default::default()
        },
    )
    .unwrap();
    // 48 + 460 fits IPv4 at 512; 68 + 460 does not fit IPv6 at 512.
    let v6 = vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        src_address: ip_address_t::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
        ..Default::default()
    };
    assert_eq!(
        inst.exporter_set(0, &v6),
        Err(Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG)
    );
    assert!(
        !inst.exporter(0).unwrap().ipfix_collector.is_ip6(),
        "unchanged"
    );
    assert_eq!(
        inst.exporter_set(
            0,
            &vpp_ipfix_exporter_config_t {
                path_mtu: 600,
                ..v6
            }
        ),
        Ok(())
    );
}

#[test]
fn a_refused_pcap_instance_leaves_an_existing_file_alone() {
    use vpp_ipfix::ffi::instance::vpp_ipfix_main_create_pcap;
    let path = std::env::temp_dir().join(format!("vpp-ipfix-keep-{}.pcap", std::process::id()));
    std::fs::write(&path, b"precious").unwrap();
    let c_path = std::ffi::CString::new(path.display().to_string()).unwrap();
    let mut main = std::ptr::null_mut();
    let rc = vpp_ipfix_main_create_pcap(c_path.as_ptr(), 0, 0, &mut main);
    assert_eq!(rc, Error::VPP_IPFIX_ERROR_INVALID_WORKER.code());
    assert!(main.is_null());
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    let _ = std::fs::remove_file(path);
}

#[test]
fn the_free_slot_mark_is_no_domain() {
    let (_, mut inst) = instance(false);
    let spec = |domain_id: u32, opaque: usize| ReportSpec {
        domain_id,
        src_port: 1000,
        fields: vec![FieldSpec::new(1, 8)],
        opaque: vpp_ipfix::types::opaque_t { as_uword: opaque },
        ..Default::default()
    };
    let err = inst.report_add(0, spec(u32::MAX, 1)).unwrap_err();
    assert_eq!(err.error, Error::VPP_IPFIX_ERROR_INVALID_VALUE);
    inst.report_add(0, spec(7, 1)).unwrap();
    assert_eq!(
        inst.stream_change(0, (7, 1000), (u32::MAX, 1000)),
        Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE)
    );
    assert_eq!(inst.stream(0, 0).unwrap().domain_id, 7, "unchanged");
}

/// A template the host took and then lost (a UDP send that failed after `enqueue`) goes
/// again at the next round, within a second, not a whole interval later: until it does,
/// the collector cannot decode the report's data.
#[test]
fn a_template_the_host_lost_goes_again_at_the_next_round() {
    let (capture, mut inst) = instance(false);
    for (opaque, port) in [(1, 1), (2, 2)] {
        let spec = ReportSpec {
            domain_id: port.into(),
            src_port: port,
            fields: vec![FieldSpec::new(1, 8)],
            opaque: vpp_ipfix::types::opaque_t { as_uword: opaque },
            ..Default::default()
        };
        inst.report_add(0, spec).unwrap();
    }
    capture.lose_templates(true);
    let round = inst.send_due_templates();
    assert_eq!(round.sent, 2);
    assert_eq!(round.next_due_in, vpp_ipfix::template::LOST_TEMPLATE_RETRY);
    assert!(capture.take_packets().is_empty(), "both lost");
    let counters = inst.exporter_counters(0).unwrap();
    assert_eq!((counters.templates, counters.dropped_packets), (0, 2));

    capture.lose_templates(false);
    capture.set_now(T0 + 1.0);
    let round = inst.send_due_templates();
    assert_eq!(round.sent, 2, "both again, 19 s before the interval");
    assert!(
        round.next_due_in > vpp_ipfix::template::LOST_TEMPLATE_RETRY,
        "no retry pending: {round:?}"
    );
    let messages = decode(&capture, &mut Decoder::new());
    assert_eq!(messages.iter().map(|m| m.templates.len()).sum::<usize>(), 2);
    capture.set_now(T0 + 2.0);
    assert_eq!(inst.send_due_templates().sent, 0, "and only once");
}
