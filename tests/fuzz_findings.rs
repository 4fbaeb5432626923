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

/// An instance with exporter 0 sending to 192.0.2.1 (the table `fib_index`) and one
/// report of 4-byte records; the report's index.
fn one_report(fib_index: u32) -> (Capture, Instance, u32) {
    let capture = Capture::new(1_700_000_000.0);
    let mut inst = Instance::new(Box::new(capture.clone()), 1, 0).unwrap();
    inst.exporter_set(0, &config(fib_index)).unwrap();
    let spec = ReportSpec {
        domain_id: 1,
        src_port: 30001,
        fields: vec![FieldSpec::new(8, 4)],
        ..Default::default()
    };
    let r = inst.report_add(0, spec).map_err(|e| e.error).unwrap();
    (capture, inst, r.report_index)
}

fn config(fib_index: u32) -> vpp_ipfix_exporter_config_t {
    vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([192, 0, 2, 1]),
        src_address: ip_address_t::v4([192, 0, 2, 2]),
        fib_index,
        ..Default::default()
    }
}

/// fuzz/corpus/api_sequence/template_alloc_failure: the report's template was never
/// sent, the data packet's buffer is had, the template's is not. `ensure_template`
/// ignored the failure and the data went out first: a collector could not decode it,
/// yet the counters said it was delivered. Now the data packet is dropped and counted
/// (its records advance the sequence), and the template goes out on the next try.
#[test]
fn no_data_before_its_template_when_template_allocation_fails() {
    let (capture, mut inst, report_index) = one_report(u32::MAX);
    capture.fail_allocs_after(1); // the data buffer, not the template's
    inst.with_worker(0, report_index, 0, |dp, ptd| dp.append(ptd, &[10, 0, 0, 1]))
        .unwrap()
        .unwrap();
    inst.flush_all();
    capture.fail_allocs_after(u64::MAX);
    // Buffers again: the template goes first, then the next record, after the gap.
    inst.with_worker(0, report_index, 0, |dp, ptd| dp.append(ptd, &[10, 0, 0, 2]))
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

/// Found by the api_sequence harness (its VPP-style path hands offsets back): a caller
/// that moved `next_data_offset` into the headers with records counted had them sent as
/// a packet announcing records it did not hold (and the next record written over the
/// headers), counted as delivered. Now, as for an offset past the MTU, the packet is
/// dropped and its records counted, whichever call meets it first (a record appended
/// then goes into a new packet); and a send of records counted with no bytes (offset at
/// the headers) is refused the same way.
#[test]
fn an_offset_handed_back_inside_the_headers_drops_the_packet() {
    let (capture, mut inst, r) = one_report(u32::MAX);
    inst.send_due_templates();
    let invalid = Err(vpp_ipfix::Error::VPP_IPFIX_ERROR_INVALID_VALUE);
    // (offset back from the headers, records counted), met by send, then by append.
    for (back, records, by_send) in [(4, 1, true), (4, 1, false), (0, 2, true)] {
        let got = inst
            .with_worker(0, r, 0, |dp, ptd| {
                dp.append(ptd, &[10, 0, 0, 1]).unwrap();
                ptd.next_data_offset -= 4 + back;
                ptd.n_data_records = records;
                if by_send {
                    dp.send_buffer(ptd)
                } else {
                    dp.append(ptd, &[10, 0, 0, 2])
                }
            })
            .unwrap();
        if by_send {
            assert_eq!(got, invalid, "back {back}, {records} records");
        } else {
            // The record goes into a new packet.
            assert_eq!(got, Ok(()), "back {back}, {records} records");
            inst.flush_all();
        }
    }
    let counters = inst.exporter_counters(0).unwrap();
    assert_eq!(counters.dropped_records, 4);
    let mut decoder = Decoder::new();
    let mut decoded = 0;
    for p in capture.take_packets() {
        let d = parse_ip_udp(&p.bytes).unwrap();
        let msg = decoder.decode(&d.session_key(), &d.payload).unwrap();
        assert!(msg
            .data_records
            .iter()
            .all(|rec| rec.values == [vec![10, 0, 0, 2]]));
        decoded += msg.data_records.len() as u64;
    }
    assert_eq!((decoded, counters.data_records), (1, 1));
}

/// fuzz/corpus/api_sequence/two_exporters_one_session (the 30-minute campaign): two
/// exporters set to the same collector, port and source sent on one transport session,
/// each with its own template 256 and sequence numbers, so a collector decoded one's
/// data with the other's template. Setting an exporter to a session another one uses is
/// now refused (-81), through set and create alike; a different source or port is fine.
#[test]
fn two_exporters_cannot_share_a_transport_session() {
    let capture = Capture::new(1_700_000_000.0);
    let mut inst = Instance::new(Box::new(capture.clone()), 1, 0).unwrap();
    let config = |src: u8, port: u16| vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([192, 0, 2, 1]),
        collector_port: port,
        src_address: ip_address_t::v4([192, 0, 2, src]),
        ..Default::default()
    };
    inst.exporter_set(0, &config(2, 4739)).unwrap();
    let other = inst
        .exporter_create(&vpp_ipfix_exporter_config_t {
            collector: ip_address_t::v4([192, 0, 2, 9]),
            ..config(2, 4739)
        })
        .unwrap();
    let exists = Err(vpp_ipfix::Error::VPP_IPFIX_ERROR_VALUE_EXIST);
    assert_eq!(inst.exporter_set(other, &config(2, 4739)), exists);
    assert_eq!(
        inst.exporter(other).unwrap().ipfix_collector,
        ip_address_t::v4([192, 0, 2, 9]),
        "nothing changed"
    );
    inst.exporter_set(other, &config(3, 4739)).unwrap();
    inst.exporter_set(other, &config(2, 4740)).unwrap();
    // Create finds exporter 0 by its collector and updates it: no second session.
    assert_eq!(inst.exporter_create(&config(2, 4739)), Ok(0));
    // A disabled exporter uses no session.
    inst.exporter_set(0, &vpp_ipfix_exporter_config_t::default())
        .unwrap();
    inst.exporter_set(other, &config(2, 4739)).unwrap();
}

/// fuzz/corpus/api_sequence/new_fib_resets: an exporter moved to another table (VPP's
/// FIB) kept its streams, so the collector that table reaches got data without a
/// template. A new table now resets the streams as a new collector does: the packets
/// under construction leave first, then templates again and sequence numbers from 0.
#[test]
fn a_new_table_resets_the_streams() {
    let (capture, mut inst, r) = one_report(u32::MAX);
    inst.send_due_templates();
    let append = |inst: &mut Instance, b: u8| {
        inst.with_worker(0, r, 0, |dp, ptd| dp.append(ptd, &[10, 0, 0, b]))
            .unwrap()
            .unwrap()
    };
    append(&mut inst, 1);
    inst.exporter_set(0, &config(7)).unwrap();
    append(&mut inst, 2);
    inst.send_due_templates();
    inst.flush_all();
    let seen: Vec<(u32, bool, u32, u32)> = capture
        .take_packets()
        .iter()
        .map(|p| {
            let d = parse_ip_udp(&p.bytes).unwrap();
            let seq = u32::from_be_bytes(d.payload[8..12].try_into().unwrap());
            (p.info.fib_index, p.info.is_template, p.info.records, seq)
        })
        .collect();
    assert_eq!(
        seen,
        [
            (u32::MAX, true, 0, 0),
            (u32::MAX, false, 1, 0),
            (7, true, 0, 0),
            (7, false, 1, 0)
        ]
    );
}
