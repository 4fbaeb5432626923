//! Finishing a packet for an exporter: IP, UDP and IPFIX message headers (and the data set
//! header), lengths and checksums, over bytes whose payload is already in place; and how
//! a packet is framed, depending on who writes the IP and UDP headers.

use crate::ops::PacketInfo;
use crate::types::ipfix_exporter_t;
use crate::wire::{checksum, ip, ipfix};

/// TTL / hop limit of exported packets (VPP's value).
pub const TTL: u8 = 254;

/// IP header length for the exporter's collector family.
#[inline]
pub fn ip_header_len(is_ip6: bool) -> usize {
    if is_ip6 {
        ip::IPV6_HEADER_LEN
    } else {
        ip::IPV4_HEADER_LEN
    }
}

/// How the library lays out a packet for an exporter: the IP family, and whether the
/// library writes the IP and UDP headers (VPP, pcap) or the host does (a UDP socket,
/// where the kernel adds them). The layout is the same either way, room for IP and UDP
/// first, so a VPP-style caller's arithmetic (`next_data_offset + size > path_mtu`
/// against `all_headers_size`) holds whatever the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    pub is_ip6: bool,
    pub host_writes_ip_udp: bool,
}

impl Framing {
    /// The framing of `exp`'s packets.
    pub fn new(exp: &ipfix_exporter_t, host_writes_ip_udp: bool) -> Self {
        Framing {
            is_ip6: exp.ipfix_collector.is_ip6(),
            host_writes_ip_udp,
        }
    }

    /// IP + UDP header bytes on the wire, whoever writes them.
    pub fn ip_udp_len(self) -> usize {
        ip_header_len(self.is_ip6) + ip::UDP_HEADER_LEN
    }

    /// Where the IPFIX message starts in the library's buffer (after the IP and UDP
    /// headers, or the room for them when the host writes its own).
    pub fn message_offset(self) -> usize {
        self.ip_udp_len()
    }

    /// Where the first record of a data packet goes (VPP's `all_headers_size`).
    pub fn all_headers_size(self) -> usize {
        self.message_offset() + ipfix::MESSAGE_HEADER_LEN + ipfix::SET_HEADER_LEN
    }

    /// The most bytes the library's buffer may hold: the packet on the wire, headers
    /// included, stays within `path_mtu` (RFC 7011 §10.3.3).
    pub fn max_len(self, path_mtu: u32) -> usize {
        path_mtu as usize
    }

    /// `(all_headers_size(), max_len(path_mtu))` without branches, for the per-record
    /// fast path: where records start and where they must end.
    #[inline(always)]
    pub fn record_bounds(self, path_mtu: u32) -> (usize, usize) {
        // The buffer keeps room for IP and UDP whoever writes them: one layout.
        (self.all_headers_size(), self.max_len(path_mtu))
    }
}

/// The stream fields a message header carries.
#[derive(Clone, Copy, Debug)]
pub struct MessageFields {
    pub domain_id: u32,
    pub src_port: u16,
    pub export_time: u32,
    pub sequence_number: u32,
    /// For a data packet: the set id (the template id) of its one data set, whose header
    /// follows the message header. `None` when the payload carries its own sets.
    pub data_set_id: Option<u16>,
}

/// Room for the longest IP + UDP header the library writes (IPv6).
const MAX_IP_UDP_LEN: usize = ip::IPV6_HEADER_LEN + ip::UDP_HEADER_LEN;

/// What every packet of one exporter starts with, worked out once from its settings:
/// the IP and UDP headers with their lengths, source port and checksums left at zero,
/// the sums those checksums start from, and what the host is told about each packet.
/// A packet then costs a copy and a few patched fields. The instance rebuilds it
/// whenever the exporter's settings change (only `vpp_ipfix_exporter_set` changes
/// them).
#[derive(Clone, Debug)]
pub struct ExporterHeaders {
    pub framing: Framing,
    /// IP then UDP header, `framing.message_offset()` bytes of it used.
    ip_udp: [u8; MAX_IP_UDP_LEN],
    /// Sum of the IPv4 header words with total length and checksum zero.
    ip4_header_sum: u32,
    /// Sum of the UDP pseudo header words but the UDP length (addresses, protocol).
    pseudo_header_sum: u32,
    /// The UDP checksum is computed (IPv6, or IPv4 with `udp_checksum` set).
    udp_checksum: bool,
    /// The host's packet information, its exporter's fields filled in.
    info: PacketInfo,
}

impl Default for ExporterHeaders {
    /// The headers of an unconfigured exporter (VPP's zeroed one) at index 0.
    fn default() -> Self {
        let exp = ipfix_exporter_t::default();
        ExporterHeaders::new(&exp, Framing::new(&exp, false), 0)
    }
}

impl ExporterHeaders {
    /// The headers of `exp`, exporter `exporter_index`, laid out as `framing` says.
    pub fn new(exp: &ipfix_exporter_t, framing: Framing, exporter_index: u32) -> Self {
        let mut ip_udp = [0u8; MAX_IP_UDP_LEN];
        let ip_len = ip_header_len(framing.is_ip6);
        let (ip_hdr, udp_hdr) = ip_udp.split_at_mut(ip_len);
        let (ip4_header_sum, pseudo_header_sum) = if framing.is_ip6 {
            if let Some(h) = ip_hdr.first_chunk_mut::<{ ip::IPV6_HEADER_LEN }>() {
                ip::write_ipv6_header(
                    h,
                    0,
                    TTL,
                    ip::IP_PROTOCOL_UDP,
                    exp.src_address.ip,
                    exp.ipfix_collector.ip,
                );
            }
            (
                0,
                ip::ipv6_pseudo_header_sum(exp.src_address.ip, exp.ipfix_collector.ip, 0),
            )
        } else {
            let (src, dst) = (exp.src_address.v4_octets(), exp.ipfix_collector.v4_octets());
            let mut sum = 0;
            if let Some(h) = ip_hdr.first_chunk_mut::<{ ip::IPV4_HEADER_LEN }>() {
                ip::write_ipv4_header(h, 0, TTL, ip::IP_PROTOCOL_UDP, src, dst);
                put_u16(h, ip::IPV4_CHECKSUM_OFFSET, 0);
                sum = checksum::partial_sum(h, 0);
            }
            (sum, ip::ipv4_pseudo_header_sum(src, dst, 0))
        };
        if let Some(h) = udp_hdr.first_chunk_mut::<{ ip::UDP_HEADER_LEN }>() {
            ip::write_udp_header(h, 0, exp.collector_port, 0, 0);
        }
        ExporterHeaders {
            framing,
            ip_udp,
            ip4_header_sum,
            pseudo_header_sum,
            udp_checksum: framing.is_ip6 || exp.udp_checksum != 0,
            info: PacketInfo {
                length: 0,
                message_offset: framing.message_offset() as u32,
                fib_index: exp.fib_index,
                exporter_index,
                records: 0,
                domain_id: 0,
                src_port: 0,
                dst_port: exp.collector_port,
                src_address: exp.src_address,
                dst_address: exp.ipfix_collector,
                is_ip6: framing.is_ip6,
                is_template: false,
            },
        }
    }

    /// Writes every header of `pkt` (whose length is the packet's) that the library
    /// writes under the framing, and the UDP checksum when enabled or IPv6
    /// (RFC 7011 §10.3.2; RFC 8200 §8.1: a computed 0 goes out as 0xffff). `pkt` must
    /// hold at least the IP, UDP and message headers (nothing is written otherwise).
    #[inline(always)]
    pub fn finish(&self, pkt: &mut [u8], m: &MessageFields) {
        let at = self.framing.message_offset();
        if pkt.len() < at + ipfix::MESSAGE_HEADER_LEN {
            return;
        }
        let total = pkt.len();
        let (ip_udp, message) = pkt.split_at_mut(at);
        write_message(message, m);
        if self.framing.host_writes_ip_udp {
            return;
        }
        // A copy of a fixed size is a few moves, not a call.
        let ip_len = ip_header_len(self.framing.is_ip6);
        let udp_len = (total - ip_len) as u16;
        if self.framing.is_ip6 {
            copy_prefix::<MAX_IP_UDP_LEN>(ip_udp, &self.ip_udp);
            put_u16(ip_udp, ip::IPV6_PAYLOAD_LENGTH_OFFSET, udp_len);
        } else {
            copy_prefix::<{ ip::IPV4_HEADER_LEN + ip::UDP_HEADER_LEN }>(ip_udp, &self.ip_udp);
            let total = total as u16;
            let sum = checksum::finish(self.ip4_header_sum + u32::from(total));
            put_u16(ip_udp, ip::IPV4_TOTAL_LENGTH_OFFSET, total);
            put_u16(ip_udp, ip::IPV4_CHECKSUM_OFFSET, sum);
        }
        put_u16(ip_udp, ip_len + ip::UDP_SRC_PORT_OFFSET, m.src_port);
        put_u16(ip_udp, ip_len + ip::UDP_LENGTH_OFFSET, udp_len);
        if self.udp_checksum {
            // The checksum field is zero: one sum over the whole segment, seeded with
            // the pseudo header.
            let seed = self.pseudo_header_sum + u32::from(udp_len);
            let value = ip::udp_checksum_value(checksum::partial_sum(&pkt[ip_len..], seed));
            put_u16(pkt, ip_len + ip::UDP_CHECKSUM_OFFSET, value);
        }
    }

    /// What the host learns of a finished packet of `length` bytes.
    #[inline]
    pub fn info(&self, m: &MessageFields, length: usize, records: u16) -> PacketInfo {
        PacketInfo {
            length: length as u32,
            records: u32::from(records),
            domain_id: m.domain_id,
            src_port: m.src_port,
            is_template: m.data_set_id.is_none(),
            ..self.info
        }
    }
}

/// Writes `value` big-endian at `bytes[at..at + 2]` (when they are there).
#[inline(always)]
fn put_u16(bytes: &mut [u8], at: usize, value: u16) {
    if let Some(field) = bytes.get_mut(at..at + 2) {
        field.copy_from_slice(&value.to_be_bytes());
    }
}

/// Copies the first `N` bytes of `from` over those of `to` (when both have them).
#[inline(always)]
fn copy_prefix<const N: usize>(to: &mut [u8], from: &[u8]) {
    if let (Some(to), Some(from)) = (to.first_chunk_mut::<N>(), from.first_chunk::<N>()) {
        *to = *from;
    }
}

/// Writes the IPFIX message header over `message` (the whole message) and, for a data
/// packet, its one set header.
#[inline]
fn write_message(message: &mut [u8], m: &MessageFields) {
    let message_len = message.len();
    let Some((msg_hdr, sets)) = message.split_first_chunk_mut::<{ ipfix::MESSAGE_HEADER_LEN }>()
    else {
        return;
    };
    ipfix::write_message_header(
        msg_hdr,
        message_len as u16,
        m.export_time,
        m.sequence_number,
        m.domain_id,
    );
    if let Some(set_id) = m.data_set_id {
        let set_len = sets.len() as u16;
        if let Some(set_hdr) = sets.first_chunk_mut::<{ ipfix::SET_HEADER_LEN }>() {
            ipfix::write_set_header(set_hdr, set_id, set_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ip_address_t;
    use crate::wire::checksum;

    fn exporter(ip6: bool, udp_checksum: u8) -> ipfix_exporter_t {
        let (c, s) = if ip6 {
            (
                ip_address_t::v6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                ip_address_t::v6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
            )
        } else {
            (
                ip_address_t::v4([10, 0, 0, 1]),
                ip_address_t::v4([10, 0, 0, 2]),
            )
        };
        ipfix_exporter_t {
            ipfix_collector: c,
            src_address: s,
            udp_checksum,
            ..Default::default()
        }
    }

    const V4: Framing = Framing {
        is_ip6: false,
        host_writes_ip_udp: false,
    };

    fn fields() -> MessageFields {
        MessageFields {
            domain_id: 7,
            src_port: 4000,
            export_time: 0x5f00_0000,
            sequence_number: 42,
            data_set_id: Some(256),
        }
    }

    #[test]
    fn ipv4_data_packet_headers() {
        let mut pkt = [0xaa_u8; 48 + 8];
        ExporterHeaders::new(&exporter(false, 0), V4, 0).finish(&mut pkt, &fields());
        assert_eq!(&pkt[0..4], &[0x45, 0, 0, 56]);
        assert_eq!(
            checksum::internet_checksum(&pkt[..20]),
            0,
            "IPv4 header checksum"
        );
        assert_eq!(&pkt[20..28], &[0x0f, 0xa0, 0x12, 0x83, 0, 36, 0, 0]);
        assert_eq!(&pkt[28..32], &[0, 10, 0, 28]);
        assert_eq!(&pkt[36..40], &[0, 0, 0, 42]);
        assert_eq!(&pkt[40..44], &[0, 0, 0, 7]);
        assert_eq!(&pkt[44..48], &[1, 0, 0, 12]);
    }

    #[test]
    fn host_framing_keeps_vpps_layout_and_writes_only_the_message() {
        let mut pkt = [0xaa_u8; 48 + 28];
        let framing = Framing {
            is_ip6: true,
            host_writes_ip_udp: true,
        };
        assert_eq!(
            framing.all_headers_size(),
            48 + 20,
            "VPP's all_headers_size"
        );
        assert_eq!(framing.max_len(512), 512);
        ExporterHeaders::new(&exporter(true, 1), framing, 0).finish(&mut pkt, &fields());
        assert_eq!(&pkt[..48], &[0xaa; 48], "the host writes IP and UDP");
        assert_eq!(&pkt[48..52], &[0, 10, 0, 28]);
        assert_eq!(&pkt[64..68], &[1, 0, 0, 12]);
        assert_eq!(&pkt[68..], &[0xaa; 8], "records untouched");
    }

    #[test]
    fn udp_checksum_verifies_when_enabled_and_always_over_ipv6() {
        for ip6 in [false, true] {
            let exp = exporter(ip6, 1);
            let ip_len = ip_header_len(ip6);
            let mut pkt = vec![0x11_u8; ip_len + 8 + 16 + 4 + 10];
            let framing = Framing {
                is_ip6: ip6,
                host_writes_ip_udp: false,
            };
            ExporterHeaders::new(&exp, framing, 0).finish(&mut pkt, &fields());
            let udp = &pkt[ip_len..];
            assert_ne!(&udp[6..8], &[0, 0]);
            let seed = if ip6 {
                ip::ipv6_pseudo_header_sum(
                    exp.src_address.ip,
                    exp.ipfix_collector.ip,
                    udp.len() as u32,
                )
            } else {
                ip::ipv4_pseudo_header_sum(
                    exp.src_address.v4_octets(),
                    exp.ipfix_collector.v4_octets(),
                    udp.len() as u16,
                )
            };
            assert_eq!(checksum::fold(checksum::partial_sum(udp, seed)), 0xffff);
        }
        let mut pkt = [0u8; 60];
        ExporterHeaders::new(&exporter(false, 0), V4, 0).finish(&mut pkt, &fields());
        assert_eq!(
            &pkt[26..28],
            &[0, 0],
            "IPv4 without udp-checksum sends none"
        );
    }

    /// The same packet written field by field with the wire writers, as the headers
    /// were written before they were worked out once per exporter.
    fn written_field_by_field(
        exp: &ipfix_exporter_t,
        is_ip6: bool,
        pkt: &mut [u8],
        m: &MessageFields,
    ) {
        let total = pkt.len();
        let ip_len = ip_header_len(is_ip6);
        let udp_len = total - ip_len;
        let (ip_hdr, udp) = pkt.split_at_mut(ip_len);
        if is_ip6 {
            let h = ip_hdr.first_chunk_mut().unwrap();
            ip::write_ipv6_header(
                h,
                udp_len as u16,
                TTL,
                17,
                exp.src_address.ip,
                exp.ipfix_collector.ip,
            );
        } else {
            let h = ip_hdr.first_chunk_mut().unwrap();
            let (src, dst) = (exp.src_address.v4_octets(), exp.ipfix_collector.v4_octets());
            ip::write_ipv4_header(h, total as u16, TTL, 17, src, dst);
        }
        let (udp_hdr, message) = udp.split_first_chunk_mut().unwrap();
        ip::write_udp_header(udp_hdr, m.src_port, exp.collector_port, udp_len as u16, 0);
        write_message(message, m);
        if is_ip6 || exp.udp_checksum != 0 {
            let seed = if is_ip6 {
                ip::ipv6_pseudo_header_sum(
                    exp.src_address.ip,
                    exp.ipfix_collector.ip,
                    udp_len as u32,
                )
            } else {
                ip::ipv4_pseudo_header_sum(
                    exp.src_address.v4_octets(),
                    exp.ipfix_collector.v4_octets(),
                    udp_len as u16,
                )
            };
            let value = ip::udp_checksum_value(checksum::partial_sum(udp, seed));
            udp[6..8].copy_from_slice(&value.to_be_bytes());
        }
    }

    #[test]
    fn worked_out_headers_match_headers_written_field_by_field() {
        let mut exp = exporter(false, 0);
        exp.collector_port = 4739;
        exp.fib_index = 3;
        for (ip6, udp_checksum) in [(false, 0), (false, 1), (true, 1)] {
            let mut e = exporter(ip6, udp_checksum);
            e.collector_port = 2055;
            let framing = Framing {
                is_ip6: ip6,
                host_writes_ip_udp: false,
            };
            let headers = ExporterHeaders::new(&e, framing, 2);
            // Odd and even lengths, up to a full 1500-byte packet; records of every byte.
            for len in [framing.all_headers_size(), 101, 512, 1450, 1500] {
                let records: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut m = fields();
                m.src_port = 40000 + len as u16;
                let (mut ours, mut theirs) = (records.clone(), records);
                headers.finish(&mut ours, &m);
                written_field_by_field(&e, ip6, &mut theirs, &m);
                assert_eq!(
                    ours, theirs,
                    "ip6 {ip6} udp_checksum {udp_checksum} len {len}"
                );
                let info = headers.info(&m, len, 9);
                assert_eq!(
                    (info.length, info.records, info.domain_id, info.src_port),
                    (len as u32, 9, 7, m.src_port)
                );
                assert_eq!(
                    (info.dst_port, info.exporter_index, info.is_ip6),
                    (2055, 2, ip6)
                );
                assert_eq!(
                    (info.src_address, info.dst_address),
                    (e.src_address, e.ipfix_collector)
                );
                assert!(!info.is_template);
            }
        }
        // Too short for the message header: nothing is written.
        let mut short = [0x5a_u8; 28 + 15];
        ExporterHeaders::new(&exp, V4, 0).finish(&mut short, &fields());
        assert_eq!(short, [0x5a; 28 + 15]);
    }
}
