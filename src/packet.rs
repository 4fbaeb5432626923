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

/// Writes every header of `pkt` (whose length is the packet's) that the library writes
/// under `framing`, and the UDP checksum when enabled or IPv6 (RFC 7011 §10.3.2;
/// RFC 8200 §8.1: a computed 0 goes out as 0xffff). `pkt` must hold at least the
/// headers: callers reserve `framing.all_headers_size()`.
pub fn finish(pkt: &mut [u8], exp: &ipfix_exporter_t, framing: Framing, m: &MessageFields) {
    if framing.host_writes_ip_udp {
        if let Some(message) = pkt.get_mut(framing.message_offset()..) {
            write_message(message, m);
        }
        return;
    }
    let is_ip6 = framing.is_ip6;
    let total = pkt.len();
    let ip_len = ip_header_len(is_ip6);
    let udp_len = total.saturating_sub(ip_len);
    let Some((ip_hdr, udp_part)) = pkt.split_at_mut_checked(ip_len) else {
        return;
    };
    if is_ip6 {
        if let Some(h) = ip_hdr.first_chunk_mut::<{ ip::IPV6_HEADER_LEN }>() {
            ip::write_ipv6_header(
                h,
                udp_len as u16,
                TTL,
                ip::IP_PROTOCOL_UDP,
                exp.src_address.ip,
                exp.ipfix_collector.ip,
            );
        }
    } else if let Some(h) = ip_hdr.first_chunk_mut::<{ ip::IPV4_HEADER_LEN }>() {
        ip::write_ipv4_header(
            h,
            total as u16,
            TTL,
            ip::IP_PROTOCOL_UDP,
            exp.src_address.v4_octets(),
            exp.ipfix_collector.v4_octets(),
        );
    }
    let Some((udp_hdr, message)) = udp_part.split_first_chunk_mut::<{ ip::UDP_HEADER_LEN }>()
    else {
        return;
    };
    ip::write_udp_header(udp_hdr, m.src_port, exp.collector_port, udp_len as u16, 0);
    write_message(message, m);
    if is_ip6 || exp.udp_checksum != 0 {
        // The checksum field was just written as zero: one sum over the whole
        // segment, seeded with the pseudo header.
        let seed = if is_ip6 {
            ip::ipv6_pseudo_header_sum(exp.src_address.ip, exp.ipfix_collector.ip, udp_len as u32)
        } else {
            ip::ipv4_pseudo_header_sum(
                exp.src_address.v4_octets(),
                exp.ipfix_collector.v4_octets(),
                udp_len as u16,
            )
        };
        let checksum = ip::udp_checksum_value(checksum::partial_sum(udp_part, seed));
        udp_part[6..8].copy_from_slice(&checksum.to_be_bytes());
    }
}

/// Writes the IPFIX message header over `message` (the whole message) and, for a data
/// packet, its one set header.
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

/// What the host learns of a finished packet.
pub fn info(
    exp: &ipfix_exporter_t,
    exporter_index: u32,
    m: &MessageFields,
    length: usize,
    records: u16,
) -> PacketInfo {
    PacketInfo {
        length: length as u32,
        message_offset: Framing::new(exp, false).message_offset() as u32,
        fib_index: exp.fib_index,
        exporter_index,
        records: u32::from(records),
        domain_id: m.domain_id,
        src_port: m.src_port,
        dst_port: exp.collector_port,
        src_address: exp.src_address,
        dst_address: exp.ipfix_collector,
        is_ip6: exp.ipfix_collector.is_ip6(),
        is_template: m.data_set_id.is_none(),
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
        finish(&mut pkt, &exporter(false, 0), V4, &fields());
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
        finish(&mut pkt, &exporter(true, 1), framing, &fields());
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
            finish(
                &mut pkt,
                &exp,
                Framing {
                    is_ip6: ip6,
                    host_writes_ip_udp: false,
                },
                &fields(),
            );
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
        finish(&mut pkt, &exporter(false, 0), V4, &fields());
        assert_eq!(
            &pkt[26..28],
            &[0, 0],
            "IPv4 without udp-checksum sends none"
        );
    }
}
