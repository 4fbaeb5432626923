//! Exporting Process Reliability Statistics (RFC 7011 §4.3): each stream sends an options
//! template scoped by its observation domain and a record of what it exported, and that
//! record counts in the stream's sequence numbers like any data record.

mod common;

use common::accounting::{check_sequences, decode_datagrams};
use common::ipfix::{be_uint, Decoder, Message};
use common::packet::parse_ip_udp;
use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::report::ReportSpec;
use vpp_ipfix::transport::Capture;
use vpp_ipfix::types::{ip_address_t, opaque_t};
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::Instance;

const T0: f64 = 1_700_000_000.0;

fn instance(options: bool) -> (Capture, Instance) {
    let capture = Capture::new(T0);
    let mut inst = Instance::new(Box::new(capture.clone()), 2, 0).unwrap();
    let config = vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([127, 0, 0, 1]),
        src_address: ip_address_t::v4([127, 0, 0, 2]),
        reliability_options: u8::from(options),
        ..Default::default()
    };
    inst.exporter_set(0, &config).unwrap();
    for (opaque, domain_id, src_port) in [(1, 7, 30001), (2, 8, 30002)] {
        let spec = ReportSpec {
            domain_id,
            src_port,
            fields: vec![FieldSpec::new(1, 8)],
            opaque: opaque_t { as_uword: opaque },
            ..Default::default()
        };
        inst.report_add(0, spec).unwrap();
    }
    (capture, inst)
}

fn decode(
    capture: &Capture,
    decoder: &mut Decoder,
) -> Vec<(common::accounting::StreamKey, Message)> {
    let datagrams: Vec<_> = capture
        .take_packets()
        .iter()
        .map(|p| parse_ip_udp(&p.bytes).unwrap())
        .collect();
    decode_datagrams(decoder, &datagrams).unwrap()
}

fn export(inst: &mut Instance, report: u32, n: u64) {
    for i in 0..n {
        inst.with_worker(0, report, 1, |dp, ptd| dp.append(ptd, &i.to_be_bytes()))
            .unwrap()
            .unwrap();
    }
    inst.flush_all();
}

#[test]
fn each_stream_reports_what_it_exported_and_counts_the_record_in_its_sequence() {
    let (capture, mut inst) = instance(true);
    assert_eq!(
        inst.send_due_templates().sent,
        4,
        "two templates, two options messages"
    );
    export(&mut inst, 0, 300);
    export(&mut inst, 1, 10);
    capture.set_now(T0 + 21.0);
    assert_eq!(inst.send_due_templates().sent, 4);
    let mut decoder = Decoder::new();
    let messages = decode(&capture, &mut decoder);
    let totals = check_sequences(&messages).unwrap();
    let by_domain: Vec<(u32, u64)> = totals.iter().map(|(k, n)| (k.domain_id, *n)).collect();
    assert_eq!(
        by_domain,
        vec![(7, 300 + 2), (8, 10 + 2)],
        "flow records plus two options records each"
    );
    let options: Vec<&Message> = messages
        .iter()
        .map(|(_, m)| m)
        .filter(|m| !m.options_templates.is_empty())
        .collect();
    assert_eq!(options.len(), 4);
    for m in &options {
        let t = &m.options_templates[0];
        assert_eq!(t.scope_count, 1);
        assert_eq!(t.fields[0].element_id, 149, "scoped by observationDomainId");
        let ids: Vec<u16> = t.fields[1..].iter().map(|f| f.element_id).collect();
        assert_eq!(ids, vec![41, 42, 40, 166, 167]);
        assert_eq!(t.id, 257, "taken after the stream's report template");
        let rec = &m.data_records[0];
        assert_eq!(be_uint(&rec.values[0]), u64::from(m.domain_id));
    }
    let second = options.iter().rev().find(|m| m.domain_id == 7).unwrap();
    let values: Vec<u64> = second.data_records[0]
        .values
        .iter()
        .map(|v| be_uint(v))
        .collect();
    let data_packets = messages
        .iter()
        .filter(|(_, m)| {
            m.domain_id == 7 && m.templates.is_empty() && m.options_templates.is_empty()
        })
        .count() as u64;
    assert_eq!(
        values[1],
        2 + 1 + data_packets + 1,
        "two templates, the first options message, the data, this one"
    );
    assert_eq!(values[2], 300, "flow records");
    let octets: u64 = messages
        .iter()
        .filter(|(_, m)| m.domain_id == 7)
        .map(|(_, m)| u64::from(m.length))
        .sum();
    assert_eq!(
        values[3], octets,
        "every domain-7 message's IPFIX bytes, this one's too"
    );
    assert_eq!(&values[4..], &[0, 0], "nothing lost");
}

#[test]
fn options_are_off_unless_asked_for_as_in_vpp() {
    let (capture, inst) = instance(false);
    assert_eq!(inst.send_due_templates().sent, 2);
    let messages = decode(&capture, &mut Decoder::new());
    assert!(messages.iter().all(|(_, m)| m.options_templates.is_empty()));
}

#[test]
fn lost_packets_are_reported_as_not_sent() {
    let (capture, mut inst) = instance(true);
    inst.send_due_templates();
    capture.refuse_packets(true);
    export(&mut inst, 0, 30);
    capture.refuse_packets(false);
    capture.set_now(T0 + 30.0);
    inst.send_due_templates();
    let messages = decode(&capture, &mut Decoder::new());
    let last = messages
        .iter()
        .rev()
        .map(|(_, m)| m)
        .find(|m| m.domain_id == 7 && !m.options_templates.is_empty())
        .unwrap();
    let values: Vec<u64> = last.data_records[0]
        .values
        .iter()
        .map(|v| be_uint(v))
        .collect();
    assert_eq!(values[5], 1, "one packet not sent");
    assert_eq!(values[4], 30, "its 30 records");
    assert_eq!(values[2], 0, "no flow record exported");
}
