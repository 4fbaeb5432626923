//! Parses raw IPv4/IPv6 packets (pcap LINKTYPE_RAW) carrying UDP, verifying every header field we rely on.
//!
//! References: RFC 791 (IPv4), RFC 8200 (IPv6), RFC 768 (UDP), RFC 1071
//! (Internet checksum). Packets begin at the IP header; the version nibble of
//! the first byte selects IPv4 or IPv6. Neither IPv4 options nor IPv6
//! extension headers are accepted: the exporter under test never sends them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// pcap link type for packets that start directly with an IP header.
pub const LINKTYPE_RAW: u32 = 101;

const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const UDP_HEADER_LEN: usize = 8;
const PROTO_UDP: u8 = 17;

/// A UDP datagram together with the IP fields the tests care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// The checksum field as transmitted (0 = absent, IPv4 only).
    pub udp_checksum: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl_or_hop_limit: u8,
    pub payload: Vec<u8>,
}

impl UdpDatagram {
    /// Transport session identifier: `src_ip:src_port->dst_ip:dst_port`
    /// (IPv6 addresses in brackets, as `SocketAddr` displays them).
    pub fn session_key(&self) -> String {
        format!(
            "{}->{}",
            std::net::SocketAddr::new(self.src, self.src_port),
            std::net::SocketAddr::new(self.dst, self.dst_port)
        )
    }
}

/// The 16-bit one's-complement sum of `bytes` (RFC 1071), taken as big-endian
/// 16-bit words; an odd final byte is padded with a zero byte on the right.
///
/// Deliberately the plainest form: add one word at a time and, whenever the
/// running sum exceeds 16 bits, fold the carry back in (end-around carry).
pub fn ones_complement_sum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let high = bytes[i] as u32;
        let low = if i + 1 < bytes.len() {
            bytes[i + 1] as u32
        } else {
            0
        };
        sum += (high << 8) | low;
        if sum > 0xffff {
            // sum is at most 0xffff + 0xffff: subtract 0x10000 and add the carry 1.
            sum -= 0xffff;
        }
        i += 2;
    }
    sum as u16
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// Parses one IP packet that must carry exactly one UDP datagram.
pub fn parse_ip_udp(packet: &[u8]) -> Result<UdpDatagram, String> {
    if packet.is_empty() {
        return Err("ip: empty packet".to_string());
    }
    match packet[0] >> 4 {
        4 => parse_ipv4(packet),
        6 => parse_ipv6(packet),
        v => Err(format!(
            "ip: version nibble {v} at offset 0 (first byte {:#04x}), expected 4 or 6",
            packet[0]
        )),
    }
}

fn parse_ipv4(packet: &[u8]) -> Result<UdpDatagram, String> {
    if packet.len() < IPV4_HEADER_LEN {
        return Err(format!(
            "ipv4: packet is {} bytes, shorter than the {IPV4_HEADER_LEN}-byte header",
            packet.len()
        ));
    }
    let ihl = packet[0] & 0x0f;
    if ihl != 5 {
        return Err(format!(
            "ipv4: IHL {ihl} at offset 0, expected 5 (no options are ever sent)"
        ));
    }
    let total_length = be16(packet, 2) as usize;
    if total_length != packet.len() {
        return Err(format!(
            "ipv4: total length field {total_length} at offset 2 != packet length {}",
            packet.len()
        ));
    }
    let flags_fragment = be16(packet, 6);
    let reserved = flags_fragment & 0x8000 != 0;
    let more_fragments = flags_fragment & 0x2000 != 0;
    let fragment_offset = flags_fragment & 0x1fff;
    if reserved {
        return Err(format!(
            "ipv4: reserved flag bit set at offset 6 (flags/fragment {flags_fragment:#06x})"
        ));
    }
    if more_fragments || fragment_offset != 0 {
        return Err(format!(
            "ipv4: packet is a fragment at offset 6 (MF={}, fragment offset {fragment_offset})",
            more_fragments as u8
        ));
    }
    let ttl = packet[8];
    let protocol = packet[9];
    if protocol != PROTO_UDP {
        return Err(format!(
            "ipv4: protocol {protocol} at offset 9, expected {PROTO_UDP} (UDP)"
        ));
    }
    let header_sum = ones_complement_sum(&packet[..IPV4_HEADER_LEN]);
    if header_sum != 0xffff {
        return Err(format!(
            "ipv4: header checksum {:#06x} at offset 10 is wrong (header sums to {header_sum:#06x}, expected 0xffff)",
            be16(packet, 10)
        ));
    }
    let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);

    let segment = &packet[IPV4_HEADER_LEN..];
    let mut pseudo = Vec::with_capacity(12 + segment.len());
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.push(0);
    pseudo.push(PROTO_UDP);
    // Only reached when the UDP length equals the segment length, so the
    // segment length is the UDP length field.
    pseudo.extend_from_slice(&(segment.len() as u16).to_be_bytes());

    parse_udp(
        segment,
        IPV4_HEADER_LEN,
        IpAddr::V4(src),
        IpAddr::V4(dst),
        ttl,
        pseudo,
        false,
    )
}

fn parse_ipv6(packet: &[u8]) -> Result<UdpDatagram, String> {
    if packet.len() < IPV6_HEADER_LEN {
        return Err(format!(
            "ipv6: packet is {} bytes, shorter than the {IPV6_HEADER_LEN}-byte header",
            packet.len()
        ));
    }
    let payload_length = be16(packet, 4) as usize;
    if payload_length != packet.len() - IPV6_HEADER_LEN {
        return Err(format!(
            "ipv6: payload length field {payload_length} at offset 4 != packet length {} - 40",
            packet.len()
        ));
    }
    let next_header = packet[6];
    if next_header != PROTO_UDP {
        return Err(format!(
            "ipv6: next header {next_header} at offset 6, expected {PROTO_UDP} (UDP, no extension headers)"
        ));
    }
    let hop_limit = packet[7];
    let mut src_octets = [0u8; 16];
    src_octets.copy_from_slice(&packet[8..24]);
    let mut dst_octets = [0u8; 16];
    dst_octets.copy_from_slice(&packet[24..40]);

    let segment = &packet[IPV6_HEADER_LEN..];
    // RFC 8200 §8.1 pseudo-header: source, destination, 32-bit upper-layer
    // packet length, three zero bytes, next header.
    let mut pseudo = Vec::with_capacity(40 + segment.len());
    pseudo.extend_from_slice(&src_octets);
    pseudo.extend_from_slice(&dst_octets);
    pseudo.extend_from_slice(&(segment.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, PROTO_UDP]);

    parse_udp(
        segment,
        IPV6_HEADER_LEN,
        IpAddr::V6(Ipv6Addr::from(src_octets)),
        IpAddr::V6(Ipv6Addr::from(dst_octets)),
        hop_limit,
        pseudo,
        true,
    )
}

/// Parses the UDP header in `segment` (the whole IP payload, which starts at
/// `base` in the packet) and verifies the checksum over `pseudo` + segment.
fn parse_udp(
    segment: &[u8],
    base: usize,
    src: IpAddr,
    dst: IpAddr,
    ttl_or_hop_limit: u8,
    mut pseudo: Vec<u8>,
    ipv6: bool,
) -> Result<UdpDatagram, String> {
    if segment.len() < UDP_HEADER_LEN {
        return Err(format!(
            "udp: IP payload is {} bytes, shorter than the {UDP_HEADER_LEN}-byte UDP header (offset {base})",
            segment.len()
        ));
    }
    let src_port = be16(segment, 0);
    let dst_port = be16(segment, 2);
    let udp_length = be16(segment, 4) as usize;
    let udp_checksum = be16(segment, 6);
    if udp_length != segment.len() {
        return Err(format!(
            "udp: length field {udp_length} at offset {} != IP payload length {}",
            base + 4,
            segment.len()
        ));
    }
    if udp_checksum == 0 {
        if ipv6 {
            return Err(format!(
                "udp: checksum 0 at offset {} over IPv6 (RFC 8200 §8.1: it is mandatory)",
                base + 6
            ));
        }
    } else {
        pseudo.extend_from_slice(segment);
        let sum = ones_complement_sum(&pseudo);
        if sum != 0xffff {
            return Err(format!(
                "udp: checksum {udp_checksum:#06x} at offset {} is wrong (pseudo-header + datagram \
                 sums to {sum:#06x}, expected 0xffff)",
                base + 6
            ));
        }
    }
    Ok(UdpDatagram {
        src,
        dst,
        src_port,
        dst_port,
        udp_checksum,
        ttl_or_hop_limit,
        payload: segment[UDP_HEADER_LEN..].to_vec(),
    })
}

/// Reads a LINKTYPE_RAW pcap file and parses every packet as IP + UDP.
pub fn datagrams_from_pcap(path: &Path) -> Result<Vec<UdpDatagram>, String> {
    let (linktype, records) = super::pcap::read_pcap_file(path)?;
    if linktype != LINKTYPE_RAW {
        return Err(format!(
            "{}: linktype {linktype}, expected {LINKTYPE_RAW} (LINKTYPE_RAW)",
            path.display()
        ));
    }
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            parse_ip_udp(&r.data).map_err(|e| format!("{}: packet {i}: {e}", path.display()))
        })
        .collect()
}
