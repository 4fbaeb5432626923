//! What fuzzing (fuzz/, AFL++) found, one regression test per finding, with its input
//! kept in fuzz/corpus/.

mod common;

use common::ipfix::Decoder;
use common::packet::parse_ip_udp;
use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::report::ReportSpec;
use vpp_ipfix::transport::Capture;
use vpp_ipfix::types::ip_address_t;
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::Instance;

/// fuzz/corpus/api_sequence/template_alloc_failure: the report's template was never
/// sent, the data packet's buffer is had, the template's is not. `ensure_template`
/// ignored the failure and the data went out first: a collector could not decode it,
/// yet the counters said it was delivered. Now the data packet is dropped and counted
/// (its records advance the sequence), and the template goes out on the next try.
#[test]
fn no_data_before_its_template_when_template_allocation_fails() {
    let capture = Capture::new(1_700_000_000.0);
    let mut inst = Instance::new(Box::new(capture.clone()), 1, 0).unwrap();
    let config = vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([192, 0, 2, 1]),
        src_address: ip_address_t::v4([192, 0, 2, 2]),
        ..Default::default()
    };
    inst.exporter_set(0, &config).unwrap();
    let spec = ReportSpec {
        domain_id: 1,
        src_port: 30001,
        fields: vec![FieldSpec::new(8, 4)],
        ..Default::default()
    };
    let report = inst.report_add(0, spec).map_err(|e| e.error).unwrap();
    capture.fail_allocs_after(1); // the data buffer, not the template's
    inst.with_worker(0, report.report_index, 0, |dp, ptd| {
        dp.append(ptd, &[10, 0, 0, 1])
    })
    .unwrap()
    .unwrap();
    inst.flush_all();
    capture.fail_allocs_after(u64::MAX);
    // Buffers again: the template goes first, then the next record, after the gap.
    inst.with_worker(0, report.report_index, 0, |dp, ptd| {
        dp.append(ptd, &[10, 0, 0, 2])
    })
    .unwrap()
    .unwrap();
    inst.flush_all();

    let counters = inst.exporter_counters(0).unwrap();
    let mut decoder = Decoder::new();
    let (mut decoded, mut sequences) = (0, Vec::new());
    for p in capture.take_packets() {
        let d = parse_ip_udp(&p.bytes).unwrap();
        let msg = decoder.decode(&d.session_key(), &d.payload);
        let msg = msg.unwrap_or_else(|e| {
            panic!(
                "{e} (counters say {} records delivered)",
                counters.data_records
            )
        });
        decoded += msg.data_records.len() as u64;
        sequences.push(msg.sequence_number);
    }
    assert_eq!(
        counters.data_records, decoded,
        "records counted as delivered"
    );
    assert_eq!((decoded, counters.dropped_records), (1, 1));
    assert_eq!(sequences, [1, 1], "the template and the data after the gap");
}
