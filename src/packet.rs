//! Finishing a packet for an exporter: IP, UDP and IPFIX message headers (and the data set
//! header), lengths and checksums, over bytes whose payload is already in place.

use crate::types::ipfix_exporter_t;
use crate::wire::{ip, ipfix};

/// TTL / hop limit of exported packets (VPP's value).
pub const TTL: u8 = 254;

/// IP header length for the exporter's collector family.
pub fn ip_header_len(is_ip6: bool) -> usize {
    if is_ip6 {
        ip::IPV6_HEADER_LEN
    } else {
        ip::IPV4_HEADER_LEN
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

/// Writes every header of `pkt` (whose length is the packet's) and the UDP checksum when
/// enabled or IPv6 (RFC 7011 §10.3.2; RFC 8200 §8.1: a computed 0 goes out as 0xffff).
/// `pkt` must hold at least the headers: callers reserve `all_headers_size`.
pub fn finish(pkt: &mut [u8], exp: &ipfix_exporter_t, m: &MessageFields) {
    let is_ip6 = exp.ipfix_collector.is_ip6();
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
    if is_ip6 || exp.udp_checksum != 0 {
        let checksum = if is_ip6 {
            ip::udp_checksum_ipv6(exp.src_address.ip, exp.ipfix_collector.ip, udp_part)
        } else {
            ip::udp_checksum_ipv4(
                exp.src_address.v4_octets(),
                exp.ipfix_collector.v4_octets(),
                udp_part,
            )
        };
        udp_part[6..8].copy_from_slice(&checksum.to_be_bytes());
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
        finish(&mut pkt, &exporter(false, 0), &fields());
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
    fn udp_checksum_verifies_when_enabled_and_always_over_ipv6() {
        for ip6 in [false, true] {
            let exp = exporter(ip6, 1);
            let ip_len = ip_header_len(ip6);
            let mut pkt = vec![0x11_u8; ip_len + 8 + 16 + 4 + 10];
            finish(&mut pkt, &exp, &fields());
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
        finish(&mut pkt, &exporter(false, 0), &fields());
        assert_eq!(
            &pkt[26..28],
            &[0, 0],
            "IPv4 without udp-checksum sends none"
        );
    }
}
