//! What the UDP output's tests share: packet descriptions, collectors, IPFIX messages.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::ops::PacketInfo;
use crate::types::ip_address_t;

use super::{UdpSender, UdpStats};

pub(super) fn info(
    exporter_index: u32,
    src: SocketAddr,
    dst: SocketAddr,
    records: u32,
) -> PacketInfo {
    let ip = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => ip_address_t::v4(v4.octets()),
        IpAddr::V6(v6) => ip_address_t::v6(v6.octets()),
    };
    PacketInfo {
        length: 0,
        message_offset: 0,
        fib_index: !0,
        exporter_index,
        records,
        domain_id: 1,
        src_port: src.port(),
        dst_port: dst.port(),
        src_address: ip(src),
        dst_address: ip(dst),
        is_ip6: dst.is_ipv6(),
        is_template: records == 0,
    }
}

pub(super) fn receiver() -> (UdpSocket, SocketAddr) {
    let r = UdpSocket::bind("127.0.0.1:0").unwrap();
    r.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let a = r.local_addr().unwrap();
    (r, a)
}

pub(super) fn drain(r: &UdpSocket) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    r.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while let Ok((n, from)) = r.recv_from(&mut buf) {
        out.push((from, buf[..n].to_vec()));
    }
    out
}

/// An IPFIX message of `len` bytes (at least 20): header, then one set `set_id`.
pub(super) fn message(domain: u32, sequence: u32, set_id: u16, len: usize) -> Vec<u8> {
    let mut m = vec![0u8; len];
    m[0..2].copy_from_slice(&10u16.to_be_bytes());
    m[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    m[4..8].copy_from_slice(&1_700_000_000u32.to_be_bytes());
    m[8..12].copy_from_slice(&sequence.to_be_bytes());
    m[12..16].copy_from_slice(&domain.to_be_bytes());
    m[16..18].copy_from_slice(&set_id.to_be_bytes());
    m[18..20].copy_from_slice(&(len as u16 - 16).to_be_bytes());
    m
}

pub(super) use crate::ffi::os::{closed_loopback_ports, closed_port};

/// Flushes every thread until `done` holds of the total (ICMP errors on loopback come
/// back during the send, or soon after when the kernel defers them), for 2 s at most.
pub(super) fn flush_until(udp: &UdpSender, done: impl Fn(&UdpStats) -> bool) -> UdpStats {
    let started = Instant::now();
    loop {
        udp.flush_all();
        let s = udp.total_stats();
        if done(&s) || started.elapsed() > Duration::from_secs(2) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
