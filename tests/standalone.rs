//! The standalone host end to end: workers export through the C ABI, the host sends over
//! UDP to a socket in the test and writes a pcap and an IPFIX file; the test decoder
//! (tests/common) checks what arrived, what the files hold and what the counters say.

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::accounting::{check_sequences, decode_datagrams, StreamKey};
use common::ipfix::{be_uint, Decoder, Message};
use common::packet::{datagrams_from_pcap, UdpDatagram};
use common::udp::{self, ip_address, Datagrams, UdpCollector};
use vpp_ipfix::counters::vpp_ipfix_counters_t;
use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::datapath::{vpp_ipfix_record_append, vpp_ipfix_thread_flush_idle};
use vpp_ipfix::ffi::exporter::vpp_ipfix_exporter_counters;
use vpp_ipfix::ffi::instance::{vpp_ipfix_flush, vpp_ipfix_main_destroy, vpp_ipfix_main_t};
use vpp_ipfix::report::ReportSpec;
use vpp_ipfix::transport::{StandaloneConfig, StandaloneHost};
use vpp_ipfix::types::opaque_t;
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::Instance;

const RECORD: [FieldSpec; 3] = [
    FieldSpec::new(10, 4), // ingressInterface: the thread
    FieldSpec::new(14, 4), // egressInterface: the record number
    FieldSpec::new(1, 8),  // octetDeltaCount
];

/// No test waits longer than this for anything.
const DEADLINE: Duration = Duration::from_secs(60);

fn record(thread: u32, i: u32) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[0..4].copy_from_slice(&thread.to_be_bytes());
    r[4..8].copy_from_slice(&i.to_be_bytes());
    r[8..16].copy_from_slice(&(u64::from(i) * 64).to_be_bytes());
    r
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("standalone-{name}"))
}

/// A collector that keeps every datagram; `None` when `bind` cannot be bound (no IPv6
/// here).
fn start_collector(bind: SocketAddr) -> Option<UdpCollector<Datagrams>> {
    udp::keep_all(bind, DEADLINE)
}

/// Exporter 0 to `collector` from `src`, three reports: 0 and 1 on stream (1, `ports.0`),
/// 2 on stream (2, `ports.1`); templates sent.
fn instance(
    host: &Arc<StandaloneHost>,
    n_threads: u32,
    collector: SocketAddr,
    src: IpAddr,
    ports: (u16, u16),
) -> *mut vpp_ipfix_main_t {
    let mut inst = Instance::new(Box::new(host.clone()), n_threads, 0).unwrap();
    let config = vpp_ipfix_exporter_config_t {
        collector: ip_address(collector.ip()),
        collector_port: collector.port(),
        src_address: ip_address(src),
        path_mtu: 1450,
        ..Default::default()
    };
    inst.exporter_set(0, &config).unwrap();
    for (opaque, domain_id, src_port) in [(1, 1, ports.0), (2, 1, ports.0), (3, 2, ports.1)] {
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
    vpp_ipfix_main_t::into_raw(inst)
}

/// Workers 1..=n_workers each export `rounds` × `per_round` records over the three
/// reports through the C ABI, flushing their thread (which sends its UDP batch) after
/// each round and sleeping `pause` between rounds.
fn export(
    main: *mut vpp_ipfix_main_t,
    n_workers: u32,
    rounds: u32,
    per_round: u32,
    pause: Duration,
) {
    let main = main as usize;
    std::thread::scope(|scope| {
        for t in 1..=n_workers {
            scope.spawn(move || {
                let main = main as *const vpp_ipfix_main_t;
                for round in 0..rounds {
                    for j in 0..per_round {
                        let i = round * per_round + j;
                        let r = record(t, i);
                        assert_eq!(
                            vpp_ipfix_record_append(main, 0, i % 3, t, r.as_ptr(), r.len()),
                            0
                        );
                    }
                    let mut sent = 0;
                    assert_eq!(vpp_ipfix_thread_flush_idle(main, t, 0.0, &mut sent), 0);
                    std::thread::sleep(pause);
                }
            });
        }
    });
}

fn counters(main: *mut vpp_ipfix_main_t) -> vpp_ipfix_counters_t {
    let mut c = vpp_ipfix_counters_t::default();
    assert_eq!(vpp_ipfix_exporter_counters(main, 0, &mut c), 0);
    c
}

/// (thread, record number, template id) of every data record, sorted.
fn records_seen(messages: &[(StreamKey, Message)]) -> Vec<(u32, u32, u16)> {
    let mut seen: Vec<_> = messages
        .iter()
        .flat_map(|(_, m)| &m.data_records)
        .map(|rec| {
            let i = be_uint(&rec.values[1]) as u32;
            assert_eq!(be_uint(&rec.values[2]), u64::from(i) * 64);
            (be_uint(&rec.values[0]) as u32, i, rec.template_id)
        })
        .collect();
    seen.sort_unstable();
    seen
}

fn records_written(n_workers: u32, n: u32) -> Vec<(u32, u32, u16)> {
    let mut all: Vec<_> = (1..=n_workers)
        .flat_map(|t| (0..n).map(move |i| (t, i, 256 + (i % 3 == 1) as u16)))
        .collect();
    all.sort_unstable();
    all
}

/// Records per domain: domain 1 has reports 0 and 1, domain 2 report 2.
fn per_domain(totals: &BTreeMap<StreamKey, u64>) -> BTreeMap<u32, u64> {
    let mut by_domain = BTreeMap::new();
    for (k, n) in totals {
        *by_domain.entry(k.domain_id).or_default() += n;
    }
    by_domain
}

/// The IPFIX file cut into its messages by their length fields; the cuts must end
/// exactly at the end of the file.
fn file_messages(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        assert!(pos + 4 <= bytes.len(), "truncated message header at {pos}");
        assert_eq!(&bytes[pos..pos + 2], &[0, 10], "version 10 at {pos}");
        let len = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        assert!(
            len >= 16 && pos + len <= bytes.len(),
            "bad length {len} at {pos}"
        );
        out.push(bytes[pos..pos + len].to_vec());
        pos += len;
    }
    out
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort_unstable();
    v
}

/// Everything arrives once, in sequence, from the stream's port; the pcap and the IPFIX
/// file hold the same messages.
fn every_record_arrives(name: &str, collector_bind: SocketAddr, src: IpAddr, n_workers: u32) {
    let Some(collector) = start_collector(collector_bind) else {
        eprintln!("cannot bind {collector_bind}; skipped");
        return;
    };
    let (pcap, ipfix) = (tmp(&format!("{name}.pcap")), tmp(&format!("{name}.ipfix")));
    let host = Arc::new(
        StandaloneHost::new(&StandaloneConfig {
            n_threads: n_workers + 1,
            udp: true,
            pcap: Some(pcap.clone()),
            ipfix_file: Some(ipfix.clone()),
        })
        .unwrap(),
    );
    let addr = collector.addr;
    let main = instance(&host, n_workers + 1, addr, src, (30001, 30002));
    let (rounds, per_round) = (4, 500);
    export(main, n_workers, rounds, per_round, Duration::ZERO);
    let c = counters(main);
    vpp_ipfix_main_destroy(main);
    host.flush_all().unwrap();
    let received = collector.finish().state;

    let stats = host.stats();
    let udp = stats.udp.unwrap();
    assert_eq!(udp.lost_datagrams(), 0, "{udp:?}");
    assert_eq!(received.len() as u64, udp.datagrams_sent, "{udp:?}");
    assert_eq!(stats.udp_sockets, 2, "one socket per stream port");
    let written = n_workers * rounds * per_round;
    assert_eq!(c.data_records, u64::from(written));
    assert_eq!((c.dropped_packets, c.dropped_records), (0, 0));
    assert_eq!(c.templates, 3);
    assert_eq!(udp.datagrams_sent, c.packets + c.templates);

    // What the collector saw: from `src`, from the stream's port. Decoding strictly in
    // arrival order fails on data before its template.
    let datagrams: Vec<UdpDatagram> = received
        .iter()
        .map(|(from, payload)| UdpDatagram {
            src: from.ip(),
            dst: addr.ip(),
            src_port: from.port(),
            dst_port: addr.port(),
            udp_checksum: 0,
            ttl_or_hop_limit: 0,
            payload: payload.clone(),
        })
        .collect();
    let messages = decode_datagrams(&mut Decoder::new(), &datagrams).unwrap();
    for (d, (key, m)) in datagrams.iter().zip(&messages) {
        assert_eq!(d.src, src);
        let port = if m.domain_id == 1 { 30001 } else { 30002 };
        assert_eq!(d.src_port, port, "{key}");
    }
    let templates: usize = messages.iter().map(|(_, m)| m.templates.len()).sum();
    assert_eq!(templates, 3);
    let totals = check_sequences(&messages).unwrap();
    assert_eq!(totals.len(), 2, "{totals:?}");
    let by_domain = per_domain(&totals);
    assert_eq!(by_domain[&1] + by_domain[&2], u64::from(written));
    assert_eq!(
        records_seen(&messages),
        records_written(n_workers, rounds * per_round),
        "every record exactly once, with its template"
    );

    // The pcap: the packets as they left, headers and checksums valid (the parser checks
    // them), the same messages, decodable in file order with the same sequences.
    let from_pcap = datagrams_from_pcap(&pcap).unwrap();
    assert_eq!(from_pcap.len(), received.len());
    assert_eq!(stats.pcap_packets, from_pcap.len() as u64);
    for d in &from_pcap {
        assert_eq!((d.src, d.dst, d.dst_port), (src, addr.ip(), addr.port()));
        assert!(d.src_port == 30001 || d.src_port == 30002);
        assert_eq!(d.ttl_or_hop_limit, 254);
        assert_ne!(d.udp_checksum, 0, "always a checksum");
    }
    let pcap_messages = decode_datagrams(&mut Decoder::new(), &from_pcap).unwrap();
    assert_eq!(
        check_sequences(&pcap_messages).unwrap(),
        totals,
        "same streams"
    );
    let payloads = || received.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>();
    assert_eq!(
        sorted(from_pcap.iter().map(|d| d.payload.clone()).collect()),
        sorted(payloads())
    );

    // The IPFIX file: the messages back to back, nothing else; decodable in file order.
    let bytes = std::fs::read(&ipfix).unwrap();
    assert_eq!(stats.ipfix_file_bytes, bytes.len() as u64);
    let in_file = file_messages(&bytes);
    assert_eq!(stats.ipfix_file_messages, in_file.len() as u64);
    assert_eq!(sorted(in_file.clone()), sorted(payloads()));
    let mut decoder = Decoder::new();
    let file_decoded: Vec<(StreamKey, Message)> = in_file
        .iter()
        .map(|m| {
            let m = decoder.decode("file", m).unwrap();
            let key = StreamKey {
                session: "file".into(),
                domain_id: m.domain_id,
            };
            (key, m)
        })
        .collect();
    assert_eq!(
        per_domain(&check_sequences(&file_decoded).unwrap()),
        by_domain
    );
    assert_eq!(stats.write_errors, 0);

    let _ = std::fs::remove_file(pcap);
    let _ = std::fs::remove_file(ipfix);
}

#[test]
fn udp_over_ipv4_delivers_every_record_once_in_sequence() {
    every_record_arrives(
        "v4",
        (Ipv4Addr::LOCALHOST, 0).into(),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        3,
    );
}

#[test]
fn udp_over_ipv6_delivers_every_record_once_in_sequence() {
    // ::1 as source too: it is the only IPv6 loopback address.
    every_record_arrives(
        "v6",
        (Ipv6Addr::LOCALHOST, 0).into(),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        2,
    );
}

#[test]
fn a_closed_collector_port_loses_packets_counted_exactly() {
    let closed = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let collector = closed.local_addr().unwrap();
    drop(closed);
    let pcap = tmp("closed.pcap");
    let host = Arc::new(
        StandaloneHost::new(&StandaloneConfig {
            n_threads: 3,
            udp: true,
            pcap: Some(pcap.clone()),
            ipfix_file: None,
        })
        .unwrap(),
    );
    let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let main = instance(&host, 3, collector, src, (30011, 30012));
    // Several rounds with pauses, so the ICMP errors of one round are reported by the
    // sends of the next.
    let (rounds, per_round) = (10, 300);
    export(main, 2, rounds, per_round, Duration::from_millis(3));
    assert_eq!(vpp_ipfix_flush(main), 0);
    host.flush_all().unwrap();
    let c = counters(main);
    vpp_ipfix_main_destroy(main);

    let udp = host.stats().udp.unwrap();
    eprintln!("{udp:?}\n{c:?}");
    let errors = udp.refused + udp.no_buffers + udp.unreachable + udp.other_errors;
    // Linux says ECONNREFUSED; any error kind will do, as long as it is counted.
    assert!(errors > 0, "send errors counted: {udp:?}");
    assert_eq!(errors, udp.lost_datagrams(), "one error per lost datagram");
    assert!(c.dropped_packets > 0, "{c:?}");
    // Each datagram's ICMP error names it (IP_RECVERR): all of them were lost, none
    // counted as sent.
    assert_eq!(udp.datagrams_sent, 0, "{udp:?}");

    // The pcap holds everything written: the witness for the counters.
    let written = datagrams_from_pcap(&pcap).unwrap();
    let messages = decode_datagrams(&mut Decoder::new(), &written).unwrap();
    let data_packets = messages
        .iter()
        .filter(|(_, m)| !m.data_records.is_empty())
        .count() as u64;
    let records = u64::from(2 * rounds * per_round);
    assert_eq!(
        check_sequences(&messages).unwrap().values().sum::<u64>(),
        records
    );
    assert_eq!(c.packets + udp.lost_packets, data_packets);
    assert_eq!(c.data_records + c.dropped_records, records);
    // Dropped packets are data and template packets alike.
    assert_eq!(
        c.packets + c.templates + c.dropped_packets,
        written.len() as u64
    );
    assert_eq!(
        (c.dropped_packets, c.dropped_records),
        (udp.lost_packets + udp.lost_templates, udp.lost_records)
    );
    assert_eq!(
        udp.datagrams_sent + udp.lost_datagrams(),
        written.len() as u64
    );
    let _ = std::fs::remove_file(pcap);
}

#[test]
fn a_source_address_that_cannot_be_bound_drops_everything_and_retries_rarely() {
    let collector = start_collector((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
    let host = Arc::new(StandaloneHost::new(&StandaloneConfig::default()).unwrap());
    let started = Instant::now();
    // TEST-NET-2: not an address of this machine.
    let src = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    let main = instance(&host, 2, collector.addr, src, (30021, 30022));
    export(main, 1, 3, 300, Duration::ZERO);
    assert_eq!(vpp_ipfix_flush(main), 0);
    let c = counters(main);
    vpp_ipfix_main_destroy(main);
    assert!(collector.finish().state.is_empty());

    let udp = host.udp_stats(0).unwrap();
    assert_eq!((c.packets, c.data_records), (0, 0), "{c:?}");
    assert_eq!(c.dropped_records, 900);
    assert_eq!(
        (c.dropped_packets, c.dropped_records),
        (udp.lost_packets + udp.lost_templates, udp.lost_records)
    );
    assert_eq!((c.templates, udp.lost_templates), (0, 3));
    assert_eq!(udp.no_socket, udp.lost_datagrams());
    assert_eq!(udp.datagrams_sent, 0);
    let sender = host.udp().unwrap();
    assert_eq!(sender.sockets_open(), 0);
    // Two pairs (one per stream port), each tried at most once a second.
    let allowed = 2 * (1 + started.elapsed().as_secs());
    assert!(sender.socket_failures() >= 2);
    assert!(
        sender.socket_failures() <= allowed,
        "{}",
        sender.socket_failures()
    );
}
