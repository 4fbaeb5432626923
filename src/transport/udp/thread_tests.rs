//! The UDP output with its sender thread, on loopback.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use crate::transport::pool::BufferPool;

use super::test_util::{closed_port, drain, info, message, receiver};
use super::{UdpSender, BATCH, BUFFER_SIZE};

fn threaded(n_threads: u32) -> UdpSender {
    let pool = Arc::new(BufferPool::with_shards(BUFFER_SIZE, n_threads));
    let udp = UdpSender::with_sender_thread(n_threads, pool);
    assert!(udp.has_sender_thread());
    udp
}

/// A datagram naming its worker and number.
fn numbered(worker: u32, n: u32) -> [u8; 20] {
    message(worker, n, 256, 20).try_into().unwrap()
}

#[test]
fn threaded_every_datagram_of_two_workers_arrives_once_and_is_counted_sent() {
    let (rx, dst) = receiver();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = threaded(2);
    let mut seen = HashSet::new();
    // Rounds that fit the collector's receive buffer: the kernel drops what does not,
    // without a word to the sender.
    let per_round = 2 * BATCH as u32 + 7;
    for round in 0..6 {
        std::thread::scope(|s| {
            for worker in 0..2 {
                let udp = &udp;
                s.spawn(move || {
                    for k in 0..per_round {
                        let m = numbered(worker, round * per_round + k);
                        udp.push(worker, &info(0, src, dst, 3), &m);
                    }
                });
            }
        });
        udp.flush_all();
        for (_, m) in drain(&rx) {
            assert!(seen.insert(m), "a datagram arrived twice");
        }
    }
    let total = 6 * 2 * u64::from(per_round);
    assert_eq!(seen.len() as u64, total);
    let s = udp.total_stats();
    assert_eq!(
        (s.datagrams_sent, s.bytes_sent),
        (total, 20 * total),
        "{s:?}"
    );
    assert_eq!(s.lost_datagrams(), 0, "{s:?}");
}

#[test]
fn threaded_a_closed_collector_loses_each_datagram_once_counted_at_the_flush() {
    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let Some(dst) = closed_port(ip) else {
            eprintln!("no {ip} here; skipped");
            continue;
        };
        let src = SocketAddr::new(ip, 0);
        let udp = threaded(2);
        let (mut records, mut bytes) = (0u64, 0u64);
        for seq in 0..100u32 {
            if seq % 25 == 0 {
                udp.push(0, &info(2, src, dst, 0), &message(7, seq, 2, 60));
            }
            let m = message(7, seq, 256, 60 + seq as usize);
            udp.push(seq % 2, &info(2, src, dst, 1 + seq % 3), &m);
            records += u64::from(1 + seq % 3);
            bytes += m.len() as u64;
        }
        // One flush, no retry: the ICMP errors of loopback come back during the send,
        // and the flush waits for the sender thread to have read them.
        udp.flush_all();
        let s = udp.total_stats();
        assert_eq!(
            (
                s.datagrams_sent,
                s.lost_packets,
                s.lost_records,
                s.lost_bytes,
                s.lost_templates
            ),
            (0, 100, records, bytes, 4),
            "{ip}: {s:?}"
        );
        assert_eq!(
            (s.refused, s.unattributed_refusals),
            (104, 0),
            "{ip}: {s:?}"
        );
    }
}

#[test]
fn threaded_a_template_of_thread_0_goes_out_before_the_data_of_thread_1_after_it() {
    let (rx, dst) = receiver();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = threaded(2);
    let template = message(1, 0, 2, 40);
    for _ in 0..20 {
        let after_template = Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Data of its own first: the template goes out with it.
                udp.push(0, &info(0, src, dst, 1), &numbered(0, 1));
                udp.push(0, &info(0, src, dst, 0), &template);
                after_template.wait();
            });
            s.spawn(|| {
                after_template.wait();
                // A full batch: handed off at once, right behind the template.
                for k in 0..BATCH as u32 {
                    udp.push(1, &info(0, src, dst, 1), &numbered(1, k));
                }
            });
        });
        udp.flush_all();
        let got: Vec<Vec<u8>> = drain(&rx).into_iter().map(|(_, m)| m).collect();
        assert_eq!(got.len(), 2 + BATCH);
        assert_eq!(got[0], numbered(0, 1));
        assert_eq!(got[1], template, "the template before thread 1's data");
    }
}

#[test]
fn threaded_flush_returns_with_the_counters_exact() {
    let (rx, dst) = receiver();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = threaded(1);
    for round in 1..=20u64 {
        let n = 3 * BATCH as u32 + 5;
        for k in 0..n {
            udp.push(0, &info(4, src, dst, 2), &numbered(0, k));
        }
        udp.flush(0);
        let s = udp.stats(4);
        assert_eq!(s.datagrams_sent, round * u64::from(n), "{s:?}");
        assert_eq!(drain(&rx).len(), n as usize);
    }
}

#[test]
fn dropping_a_threaded_sender_sends_what_it_held_and_joins_its_thread() {
    let (rx, dst) = receiver();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let udp = threaded(1);
    let gone = udp.sender.as_ref().unwrap().gone();
    for k in 0..BATCH as u32 + 3 {
        udp.push(0, &info(0, src, dst, 1), &numbered(0, k));
    }
    assert!(!gone());
    drop(udp);
    assert!(gone(), "the thread ended before the drop returned");
    assert_eq!(drain(&rx).len(), BATCH + 3);
}

#[test]
fn a_panicking_sender_thread_leaves_its_workers_sending_themselves() {
    let (rx, dst) = receiver();
    let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (done, finished) = mpsc::channel();
    // On a thread of its own: a hang fails the test instead of holding it.
    std::thread::spawn(move || {
        let udp = threaded(1);
        for k in 0..5 {
            udp.push(0, &info(1, src, dst, 2), &numbered(0, k));
        }
        udp.sender.as_ref().unwrap().panic_on_next_batch();
        // Handed off at once, with the 5: the thread panics on them.
        udp.push(0, &info(1, src, dst, 0), &message(1, 9, 2, 40));
        udp.flush(0);
        assert!(!udp.has_sender_thread());
        let s = udp.stats(1);
        assert_eq!(
            (s.datagrams_sent, s.lost_packets, s.lost_records),
            (0, 5, 10),
            "{s:?}"
        );
        assert_eq!((s.lost_templates, s.other_errors), (1, 6), "{s:?}");
        // From now on the worker sends itself.
        for k in 0..BATCH as u32 + 4 {
            udp.push(0, &info(1, src, dst, 2), &numbered(0, 100 + k));
        }
        udp.flush(0);
        assert_eq!(udp.stats(1).datagrams_sent, BATCH as u64 + 4);
        drop(udp);
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker went on after the sender thread panicked (a failure above?)");
    assert_eq!(drain(&rx).len(), BATCH + 4);
}
