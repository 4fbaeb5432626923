//! Once warm, the standalone host allocates nothing per packet: a counting global
//! allocator watches 20,000 records go out over UDP (batched, `sendmmsg`) and into a
//! pcap and an IPFIX file.

use std::net::{Ipv4Addr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;

use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::datapath::{vpp_ipfix_record_append, vpp_ipfix_thread_flush_idle};
use vpp_ipfix::ffi::instance::{vpp_ipfix_main_destroy, vpp_ipfix_main_t};
use vpp_ipfix::report::ReportSpec;
use vpp_ipfix::transport::{StandaloneConfig, StandaloneHost};
use vpp_ipfix::types::ip_address_t;
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::Instance;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

#[test]
fn standalone_export_allocates_nothing_once_warm() {
    // A bound socket nobody reads: the kernel queues what fits and drops the rest,
    // which the sender never learns of.
    let collector = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (pcap, ipfix) = (tmp.join("alloc.pcap"), tmp.join("alloc.ipfix"));
    let host = Arc::new(
        StandaloneHost::new(&StandaloneConfig {
            n_threads: 1,
            udp: true,
            pcap: Some(pcap.clone()),
            ipfix_file: Some(ipfix.clone()),
        })
        .unwrap(),
    );
    let mut inst = Instance::new(Box::new(host.clone()), 1, 0).unwrap();
    let config = vpp_ipfix_exporter_config_t {
        collector: ip_address_t::v4([127, 0, 0, 1]),
        collector_port: collector.local_addr().unwrap().port(),
        src_address: ip_address_t::v4([127, 0, 0, 2]),
        path_mtu: 1450,
        ..Default::default()
    };
    inst.exporter_set(0, &config).unwrap();
    let spec = ReportSpec {
        domain_id: 1,
        src_port: 30031,
        fields: vec![
            FieldSpec::new(1, 8),
            FieldSpec::new(2, 8),
            FieldSpec::new(8, 4),
            FieldSpec::new(12, 4),
        ],
        ..Default::default()
    };
    inst.report_add(0, spec).unwrap();
    inst.send_due_templates();
    let main = vpp_ipfix_main_t::into_raw(inst);
    let record = [7u8; 24];
    let export = |n: u32| {
        for _ in 0..n {
            assert_eq!(
                vpp_ipfix_record_append(main, 0, 0, 0, record.as_ptr(), record.len()),
                0
            );
        }
        let mut sent = 0;
        assert_eq!(vpp_ipfix_thread_flush_idle(main, 0, 0.0, &mut sent), 0);
    };
    // Warm: the pool, a full UDP batch (arena and list), the socket, the pcap frame.
    export(3000);
    let before = allocations();
    let sent_before = host.stats().udp.unwrap().datagrams_sent;
    export(20_000);
    let allocations = allocations() - before;
    let stats = host.stats();
    let sent = stats.udp.unwrap().datagrams_sent - sent_before;
    vpp_ipfix_main_destroy(main);
    assert!(sent > 300, "{sent} datagrams sent");
    assert_eq!(stats.udp.unwrap().lost_datagrams(), 0, "{stats:?}");
    assert_eq!(stats.write_errors, 0);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {sent} datagrams"
    );
    drop(host);
    let _ = std::fs::remove_file(pcap);
    let _ = std::fs::remove_file(ipfix);
}
