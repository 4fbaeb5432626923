//! Reading a template packet someone else built (VPP's rewrite callbacks): where its
//! template sets are, checked, so the library can send them in messages of its own.

use crate::wire::ip::{IPV4_HEADER_LEN, IPV6_HEADER_LEN, UDP_HEADER_LEN};
use crate::wire::ipfix::{
    IPFIX_VERSION, MESSAGE_HEADER_LEN, OPTIONS_TEMPLATE_SET_ID, SET_HEADER_LEN, TEMPLATE_SET_ID,
};

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The template and options template sets of a whole template packet (IPv4 or IPv6,
/// UDP, one IPFIX message), or `None` when the packet is not one: an unknown IP version,
/// a message that is not IPFIX or overruns the packet, a set that is not a template set
/// or overruns the message, or no set at all.
pub fn template_sets(packet: &[u8]) -> Option<&[u8]> {
    let ip_len = match packet.first()? >> 4 {
        4 => usize::from(packet[0] & 0x0f) * 4,
        6 => IPV6_HEADER_LEN,
        _ => return None,
    };
    if ip_len < IPV4_HEADER_LEN {
        return None;
    }
    let message_at = ip_len + UDP_HEADER_LEN;
    if be16(packet, message_at)? != IPFIX_VERSION {
        return None;
    }
    let message_len = usize::from(be16(packet, message_at + 2)?);
    let message = packet.get(message_at..message_at + message_len)?;
    let sets = message.get(MESSAGE_HEADER_LEN..)?;
    let mut at = 0;
    while at < sets.len() {
        let id = be16(sets, at)?;
        let len = usize::from(be16(sets, at + 2)?);
        if !(id == TEMPLATE_SET_ID || id == OPTIONS_TEMPLATE_SET_ID)
            || len <= SET_HEADER_LEN
            || at + len > sets.len()
        {
            return None;
        }
        at += len;
    }
    (!sets.is_empty()).then_some(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(ip_version: u8, sets: &[u8]) -> Vec<u8> {
        let ip_len = if ip_version == 4 { 20 } else { 40 };
        let mut p = vec![0u8; ip_len + 8 + 16];
        p[0] = if ip_version == 4 { 0x45 } else { 0x60 };
        let m = ip_len + 8;
        p[m..m + 2].copy_from_slice(&10u16.to_be_bytes());
        p[m + 2..m + 4].copy_from_slice(&((16 + sets.len()) as u16).to_be_bytes());
        p.extend_from_slice(sets);
        p
    }

    const SET: [u8; 12] = [0, 2, 0, 12, 1, 0, 0, 1, 0, 8, 0, 4];

    #[test]
    fn finds_the_sets_after_ipv4_or_ipv6_and_udp() {
        assert_eq!(template_sets(&packet(4, &SET)), Some(&SET[..]));
        assert_eq!(template_sets(&packet(6, &SET)), Some(&SET[..]));
        let two = [SET, SET].concat();
        assert_eq!(template_sets(&packet(4, &two)), Some(&two[..]));
    }

    #[test]
    fn refuses_what_is_not_a_template_packet() {
        assert_eq!(template_sets(&[]), None);
        assert_eq!(template_sets(&packet(4, &[])), None, "no set");
        let mut data = SET;
        data[1] = 0;
        data[0] = 1; // set id 256: data, not a template
        assert_eq!(template_sets(&packet(4, &data)), None);
        let mut long = SET;
        long[3] = 40; // set longer than the message
        assert_eq!(template_sets(&packet(4, &long)), None);
        let mut p = packet(4, &SET);
        p[29] = 9; // IPFIX version 9
        assert_eq!(template_sets(&p), None);
        let mut p = packet(4, &SET);
        p.truncate(p.len() - 1); // message length passes the packet
        assert_eq!(template_sets(&p), None);
        let mut p = packet(4, &SET);
        p[0] = 0x44; // IHL 4: shorter than an IPv4 header
        assert_eq!(template_sets(&p), None);
    }
}
