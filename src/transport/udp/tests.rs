//! The UDP output through `UdpSender`, on loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use crate::ffi::os;
use crate::ops::Lost;

use super::test_util::{
    closed_loopback_ports, closed_port, drain, flush_until, info, message, receiver,
};
use super::{UdpSender, BATCH};

#[test]
fn a_full_batch_goes_out_without_a_flush() {
    let (rx, dst) = receiver();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = UdpSender::new(2);
    for i in 0..BATCH + 3 {
        udp.push(1, &info(0, src, dst, 1), &[i as u8; 20]);
    }
    let got = drain(&rx);
    assert_eq!(got.len(), BATCH, "the full batch, not the 3 after it");
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, (_, m))| m == &vec![i as u8; 20]));
    udp.flush(1);
    assert_eq!(drain(&rx).len(), 3);
    let s = udp.stats(0);
    assert_eq!(
        (s.datagrams_sent, s.bytes_sent),
        (BATCH as u64 + 3, 20 * 35)
    );
    assert_eq!(udp.sockets_open(), 1);
}

#[test]
fn a_template_goes_out_at_once_after_what_the_thread_held() {
    let (rx, dst) = receiver();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = UdpSender::new(1);
    udp.push(0, &info(0, src, dst, 5), b"data");
    udp.push(0, &info(0, src, dst, 0), b"template");
    let got: Vec<Vec<u8>> = drain(&rx).into_iter().map(|(_, m)| m).collect();
    assert_eq!(got, vec![b"data".to_vec(), b"template".to_vec()]);
}

#[test]
fn datagrams_of_two_collectors_keep_their_order() {
    let (rx_a, a) = receiver();
    let (rx_b, b) = receiver();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = UdpSender::new(1);
    for i in 0..10u8 {
        let (dst, exporter) = if i % 3 == 0 { (a, 0) } else { (b, 1) };
        udp.push(0, &info(exporter, src, dst, 1), &[i]);
    }
    udp.flush(0);
    let got = |r: &UdpSocket| -> Vec<u8> { drain(r).into_iter().map(|(_, m)| m[0]).collect() };
    assert_eq!(got(&rx_a), vec![0, 3, 6, 9]);
    assert_eq!(got(&rx_b), vec![1, 2, 4, 5, 7, 8]);
    assert_eq!(udp.stats(0).datagrams_sent, 4);
    assert_eq!(udp.stats(1).datagrams_sent, 6);
    assert_eq!(udp.total_stats().datagrams_sent, 10);
    assert_eq!(udp.sockets_open(), 2);
}

#[test]
fn a_source_that_cannot_be_bound_loses_packets_and_is_retried_later() {
    let (_rx, dst) = receiver();
    let src: SocketAddr = "198.51.100.1:30001".parse().unwrap();
    assert!(
        os::connected_udp_socket(src, dst).is_err(),
        "198.51.100.1 is local here"
    );
    let udp = UdpSender::new(1);
    let started = Instant::now();
    for _ in 0..100 {
        udp.push(0, &info(3, src, dst, 7), b"data");
    }
    udp.push(0, &info(3, src, dst, 0), b"template");
    udp.flush(0);
    let s = udp.stats(3);
    assert_eq!((s.lost_packets, s.lost_records), (100, 700));
    assert_eq!((s.lost_templates, s.no_socket), (1, 101));
    assert_eq!(s.datagrams_sent, 0);
    assert_eq!(
        udp.lost(3),
        Lost {
            packets: 100,
            records: 700,
            bytes: 400,
            templates: 1,
        }
    );
    let attempts_allowed = 1 + started.elapsed().as_secs();
    assert!(udp.socket_failures() >= 1);
    assert!(udp.socket_failures() <= attempts_allowed);
    assert_eq!(udp.sockets_open(), 0);
}

#[test]
fn every_datagram_to_a_closed_port_is_counted_lost_once() {
    for dst in closed_loopback_ports() {
        let ip = dst.ip();
        let src = SocketAddr::new(ip, 0);
        let udp = UdpSender::new(2);
        let (mut records, mut bytes) = (0u64, 0u64);
        for seq in 0..100u32 {
            // A template and a data message with the same header but for the set ID.
            if seq % 25 == 0 {
                udp.push(0, &info(2, src, dst, 0), &message(7, seq, 2, 60));
            }
            let m = message(7, seq, 256, 60 + seq as usize);
            udp.push(seq % 2, &info(2, src, dst, 1 + seq % 3), &m);
            records += u64::from(1 + seq % 3);
            bytes += m.len() as u64;
        }
        let s = flush_until(&udp, |s| s.lost_datagrams() == 104);
        assert_eq!(s.datagrams_sent + s.lost_datagrams(), 104, "{ip}: {s:?}");
        assert_eq!((s.datagrams_sent, s.bytes_sent), (0, 0), "{ip}: {s:?}");
        assert_eq!(
            (
                s.lost_packets,
                s.lost_records,
                s.lost_bytes,
                s.lost_templates
            ),
            (100, records, bytes, 4),
            "{ip}: {s:?}"
        );
        assert_eq!(
            (s.refused, s.unattributed_refusals),
            (104, 0),
            "{ip}: {s:?}"
        );
        assert_eq!(udp.stats(2), s);
        assert_eq!(
            udp.lost(2),
            Lost {
                packets: 100,
                records,
                bytes,
                templates: 4,
            }
        );
    }
}

#[test]
fn an_open_and_a_closed_collector_in_one_batch_are_told_apart() {
    let (rx, open) = receiver();
    let closed = closed_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = UdpSender::new(1);
    // The same messages to both: the sockets' rings keep them apart.
    for seq in 0..(3 * BATCH as u32) {
        let m = message(1, seq, 256, 40);
        udp.push(0, &info(0, src, open, 1), &m);
        udp.push(0, &info(1, src, closed, 1), &m);
    }
    flush_until(&udp, |s| s.lost_packets == 3 * BATCH as u64);
    let n = 3 * BATCH as u64;
    assert_eq!(drain(&rx).len() as u64, n);
    let (a, b) = (udp.stats(0), udp.stats(1));
    assert_eq!((a.datagrams_sent, a.lost_datagrams()), (n, 0), "{a:?}");
    assert_eq!((b.datagrams_sent, b.lost_datagrams()), (0, n), "{b:?}");
    assert_eq!((b.lost_records, b.refused), (n, n), "{b:?}");
    assert_eq!(a.unattributed_refusals + b.unattributed_refusals, 0);
}

#[test]
fn threads_sharing_a_socket_count_each_others_refused_datagrams() {
    let dst = closed_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = Arc::new(UdpSender::new(4));
    let workers: Vec<_> = (0..4u32)
        .map(|t| {
            let udp = Arc::clone(&udp);
            std::thread::spawn(move || {
                for k in 0..200u32 {
                    udp.push(t, &info(0, src, dst, 2), &message(t, k, 256, 48));
                    if k % 50 == 49 {
                        udp.flush(t);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let s = flush_until(&udp, |s| s.lost_packets == 800);
    assert_eq!(udp.sockets_open(), 1);
    assert_eq!(
        (s.datagrams_sent, s.lost_packets, s.lost_records),
        (0, 800, 1600),
        "{s:?}"
    );
    assert_eq!((s.refused, s.unattributed_refusals), (800, 0), "{s:?}");
}

#[test]
fn an_icmp_error_quoting_less_than_the_header_is_unattributed() {
    let dst = closed_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = UdpSender::new(1);
    udp.push(0, &info(5, src, dst, 1), b"not IPFIX");
    let s = flush_until(&udp, |s| s.unattributed_refusals == 1);
    assert_eq!(
        (
            s.datagrams_sent,
            s.lost_datagrams(),
            s.unattributed_refusals
        ),
        (1, 0, 1),
        "{s:?}"
    );
    assert_eq!(udp.stats(5).unattributed_refusals, 1);
}

#[test]
fn exporters_sharing_a_socket_are_counted_apart() {
    let (rx, dst) = receiver();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = UdpSender::new(1);
    // One socket, one batch: runs of each exporter's datagrams, counted per exporter.
    for (k, exporter) in [0, 0, 1, 0, 1, 1, 1, 2].into_iter().enumerate() {
        udp.push(0, &info(exporter, src, dst, 1), &vec![k as u8; 10 + k]);
    }
    udp.flush(0);
    assert_eq!(drain(&rx).len(), 8);
    assert_eq!(udp.sockets_open(), 1);
    let sent = |e| {
        let s = udp.stats(e);
        (s.datagrams_sent, s.bytes_sent)
    };
    assert_eq!(sent(0), (3, 10 + 11 + 13));
    assert_eq!(sent(1), (4, 12 + 14 + 15 + 16));
    assert_eq!(sent(2), (1, 17));
    assert_eq!(udp.total_stats().datagrams_sent, 8);
}
