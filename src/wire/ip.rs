//! IPv4, IPv6 and UDP header encoding, and the UDP checksum over their pseudo headers.
#![forbid(unsafe_code)]

use super::checksum::{finish, partial_sum, partial_sum_20};

/// IPv4 header without options (IHL 5).
pub const IPV4_HEADER_LEN: usize = 20;
/// IPv6 fixed header (RFC 8200 §3).
pub const IPV6_HEADER_LEN: usize = 40;
/// UDP header (RFC 768).
pub const UDP_HEADER_LEN: usize = 8;
/// IANA protocol number for UDP, the IPv4 protocol / IPv6 next header value.
pub const IP_PROTOCOL_UDP: u8 = 17;

/// Where the fields a sender fills per packet are: in a UDP header (source port, length,
/// checksum), in an IPv4 header (total length, header checksum) and in an IPv6 header
/// (payload length).
pub const UDP_SRC_PORT_OFFSET: usize = 0;
pub const UDP_LENGTH_OFFSET: usize = 4;
pub const UDP_CHECKSUM_OFFSET: usize = 6;
pub const IPV4_TOTAL_LENGTH_OFFSET: usize = 2;
pub const IPV4_CHECKSUM_OFFSET: usize = 10;
pub const IPV6_PAYLOAD_LENGTH_OFFSET: usize = 4;

/// Writes an option-less IPv4 header (RFC 791 §3.1) with its header
/// checksum: version 4, IHL 5, TOS 0, identification 0, flags and fragment
/// offset 0.
///
/// DF clear and identification 0 match the IPFIX packets VPP builds. Note
/// that RFC 6864 lets the identification be constant only for atomic
/// datagrams (DF set); with DF clear, two fragmented messages could be
/// mis-reassembled, so callers keep messages within the path MTU (as
/// RFC 7011 §10.3.3 asks of UDP exporters anyway).
pub fn write_ipv4_header(
    buf: &mut [u8; IPV4_HEADER_LEN],
    total_length: u16,
    ttl: u8,
    protocol: u8,
    src: [u8; 4],
    dst: [u8; 4],
) {
    let [len_hi, len_lo] = total_length.to_be_bytes();
    *buf = [
        0x45, // version 4, IHL 5 words
        0x00, // TOS / DSCP+ECN
        len_hi, len_lo, //
        0x00, 0x00, // identification
        0x00, 0x00, // flags, fragment offset
        ttl, protocol, //
        0x00, 0x00, // header checksum, computed below over this zero
        src[0], src[1], src[2], src[3], //
        dst[0], dst[1], dst[2], dst[3],
    ];
    let checksum = finish(partial_sum_20(buf));
    buf[10..12].copy_from_slice(&checksum.to_be_bytes());
}

/// Writes an IPv6 fixed header (RFC 8200 §3): version 6, traffic class 0,
/// flow label 0. IPv6 has no header checksum.
pub fn write_ipv6_header(
    buf: &mut [u8; IPV6_HEADER_LEN],
    payload_length: u16,
    hop_limit: u8,
    next_header: u8,
    src: [u8; 16],
    dst: [u8; 16],
) {
    buf[0..4].copy_from_slice(&[0x60, 0x00, 0x00, 0x00]);
    buf[4..6].copy_from_slice(&payload_length.to_be_bytes());
    buf[6] = next_header;
    buf[7] = hop_limit;
    buf[8..24].copy_from_slice(&src);
    buf[24..40].copy_from_slice(&dst);
}

/// Writes a UDP header (RFC 768). `length` covers header and payload;
/// `checksum` is written as given (see [`udp_checksum_ipv4`],
/// [`udp_checksum_ipv6`]).
pub fn write_udp_header(
    buf: &mut [u8; UDP_HEADER_LEN],
    src_port: u16,
    dst_port: u16,
    length: u16,
    checksum: u16,
) {
    buf[0..2].copy_from_slice(&src_port.to_be_bytes());
    buf[2..4].copy_from_slice(&dst_port.to_be_bytes());
    buf[4..6].copy_from_slice(&length.to_be_bytes());
    buf[6..8].copy_from_slice(&checksum.to_be_bytes());
}

/// Plain (unfolded) sum of big-endian 16-bit words; for the few fixed words
/// of a pseudo header, where the result stays far below `u32::MAX`.
fn word_sum(bytes: &[u8]) -> u32 {
    bytes
        .as_chunks::<2>()
        .0
        .iter()
        .map(|w| u32::from(u16::from_be_bytes(*w)))
        .sum()
}

/// Partial sum of the IPv4 pseudo header for UDP (RFC 768): source,
/// destination, zero, protocol 17, UDP length. Seed for [`partial_sum`]
/// over the UDP segment. Unfolded; at most 6 words, so no overflow.
#[must_use]
pub fn ipv4_pseudo_header_sum(src: [u8; 4], dst: [u8; 4], udp_length: u16) -> u32 {
    word_sum(&src) + word_sum(&dst) + u32::from(IP_PROTOCOL_UDP) + u32::from(udp_length)
}

/// Partial sum of the IPv6 pseudo header for UDP (RFC 8200 §8.1): source,
/// destination, 32-bit upper-layer length, three zero bytes, next header
/// 17. Unfolded; at most 35 words, so no overflow.
#[must_use]
pub fn ipv6_pseudo_header_sum(src: [u8; 16], dst: [u8; 16], udp_length: u32) -> u32 {
    word_sum(&src)
        + word_sum(&dst)
        + word_sum(&udp_length.to_be_bytes())
        + u32::from(IP_PROTOCOL_UDP)
}

/// The UDP checksum field value for a sum over pseudo header and segment:
/// [`finish`], except that a computed 0 is sent as `0xffff`. Zero on the
/// wire means "no checksum" (RFC 768) and is not allowed at all over IPv6
/// (RFC 8200 §8.1); `0xffff` is the other one's-complement zero, so the
/// receiver's verification still passes.
#[must_use]
pub fn udp_checksum_value(sum: u32) -> u16 {
    match finish(sum) {
        0 => 0xffff,
        checksum => checksum,
    }
}

/// Sum over a UDP segment (header + payload) with its checksum field,
/// bytes 6..8, taken as zero whatever they hold: a sender can checksum a
/// segment whose field holds a stale value, or the value itself.
fn segment_sum(udp_segment: &[u8], seed: u32) -> u32 {
    let head = udp_segment
        .get(..UDP_CHECKSUM_OFFSET)
        .unwrap_or(udp_segment);
    let tail = udp_segment.get(UDP_CHECKSUM_OFFSET + 2..).unwrap_or(&[]);
    // `head` has even length whenever `tail` is non-empty, so the two sums
    // chain (see `partial_sum`).
    partial_sum(tail, partial_sum(head, seed))
}

/// UDP checksum over IPv4 (RFC 768): pseudo header + UDP header + payload,
/// with the segment's checksum field (bytes 6..8) taken as zero regardless
/// of its content. The UDP length is `udp_segment.len()`; a segment longer
/// than 65535 bytes cannot be sent over IPv4, and its length is taken
/// modulo 2^16 (the result is then meaningless). Ready to write big-endian.
#[must_use]
pub fn udp_checksum_ipv4(src: [u8; 4], dst: [u8; 4], udp_segment: &[u8]) -> u16 {
    let length = udp_segment.len() as u16;
    udp_checksum_value(segment_sum(
        udp_segment,
        ipv4_pseudo_header_sum(src, dst, length),
    ))
}

/// UDP checksum over IPv6 (RFC 8200 §8.1): as [`udp_checksum_ipv4`] but
/// with the IPv6 pseudo header; never returns 0. The length is
/// `udp_segment.len()`, taken modulo 2^32.
#[must_use]
pub fn udp_checksum_ipv6(src: [u8; 16], dst: [u8; 16], udp_segment: &[u8]) -> u16 {
    let length = udp_segment.len() as u32;
    udp_checksum_value(segment_sum(
        udp_segment,
        ipv6_pseudo_header_sum(src, dst, length),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::checksum::{fold, internet_checksum};
    use super::*;

    /// Whether a segment's checksum verifies: the sum over pseudo header
    /// and segment, checksum included, folds to `0xffff`.
    fn verifies(pseudo_sum: u32, udp_segment: &[u8]) -> bool {
        fold(partial_sum(udp_segment, pseudo_sum)) == 0xffff
    }

    const SRC4: [u8; 4] = [192, 168, 0, 1];
    const DST4: [u8; 4] = [192, 168, 0, 199];

    #[test]
    fn classic_ipv4_header_verifies() {
        // The textbook header 4500 0073 0000 4000 4011 b861 c0a8 0001
        // c0a8 00c7 (DF set, TTL 64, UDP): its sum including the checksum
        // folds to ffff, so the internet checksum over it is 0.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&header), 0);
    }

    #[test]
    fn write_ipv4_header_bytes() {
        // Same header with DF clear, as we write it. By hand:
        // 4500 + 0073 + 0000 + 0000 + 4011 + c0a8 + 0001 + c0a8 + 00c7
        //   = 2079c; fold: 079c + 2 = 079e; complement: f861.
        // (With DF, 4000 more: 2479c -> 479e -> b861, the classic value.)
        let mut buf = [0xaa; IPV4_HEADER_LEN];
        write_ipv4_header(&mut buf, 0x0073, 64, IP_PROTOCOL_UDP, SRC4, DST4);
        assert_eq!(
            buf,
            [
                0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0xf8, 0x61, 0xc0, 0xa8,
                0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
            ]
        );
        assert_eq!(internet_checksum(&buf), 0);
    }

    #[test]
    fn write_ipv6_header_bytes() {
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut buf = [0xaa; IPV6_HEADER_LEN];
        write_ipv6_header(&mut buf, 0x05c8, 64, IP_PROTOCOL_UDP, src, dst);
        let mut expected = vec![0x60, 0x00, 0x00, 0x00, 0x05, 0xc8, 0x11, 0x40];
        expected.extend_from_slice(&src);
        expected.extend_from_slice(&dst);
        assert_eq!(buf.as_slice(), expected.as_slice());
    }

    #[test]
    fn write_udp_header_bytes() {
        let mut buf = [0xaa; UDP_HEADER_LEN];
        write_udp_header(&mut buf, 0x1234, 4739, 10, 0xf0a0);
        assert_eq!(buf, [0x12, 0x34, 0x12, 0x83, 0x00, 0x0a, 0xf0, 0xa0]);
    }

    #[test]
    fn pseudo_header_sums() {
        // c0a8 + 0001 + c0a8 + 00c7 + 0011 + 000a = 18233
        assert_eq!(ipv4_pseudo_header_sum(SRC4, DST4, 10), 0x1_8233);
        // 2001:db8::1, 2001:db8::2, length 0x0001_0002:
        // 2001 + 0db8 + 0001 + 2001 + 0db8 + 0002 + 0001 + 0002 + 0011
        //   = 4002 + 1b70 + 0003 + 0003 + 0011 = 5b89
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        assert_eq!(ipv6_pseudo_header_sum(src, dst, 0x0001_0002), 0x5b89);
    }

    #[test]
    fn udp_ipv4_checksum_by_hand() {
        // Ports 0x1234 -> 4739 (0x1283), length 10, payload "hi" (6869);
        // the checksum field holds junk (dead) that must be ignored.
        // pseudo: c0a8 + 0001 + c0a8 + 00c7 + 0011 + 000a        = 18233
        // UDP:    1234 + 1283 + 000a + (0000) + 6869             =  8d2a
        // total 20f5d; fold: 0f5d + 2 = 0f5f; complement: f0a0.
        let mut segment = [0x12, 0x34, 0x12, 0x83, 0x00, 0x0a, 0xde, 0xad, 0x68, 0x69];
        assert_eq!(udp_checksum_ipv4(SRC4, DST4, &segment), 0xf0a0);
        segment[6..8].copy_from_slice(&0xf0a0u16.to_be_bytes());
        assert_eq!(udp_checksum_ipv4(SRC4, DST4, &segment), 0xf0a0);
        assert!(verifies(ipv4_pseudo_header_sum(SRC4, DST4, 10), &segment));
    }

    #[test]
    fn udp_ipv6_checksum_verifies() {
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55,
        ];
        // Odd-length payload exercises the padded last byte.
        let mut segment = vec![0u8; UDP_HEADER_LEN];
        segment.extend((0u8..=200).map(|i| i.wrapping_mul(37)));
        let len = segment.len() as u16;
        let header: &mut [u8; UDP_HEADER_LEN] =
            (&mut segment[..UDP_HEADER_LEN]).try_into().unwrap();
        write_udp_header(header, 4739, 4739, len, 0x5555);
        let ck = udp_checksum_ipv6(src, dst, &segment);
        assert_ne!(ck, 0);
        segment[6..8].copy_from_slice(&ck.to_be_bytes());
        assert!(verifies(
            ipv6_pseudo_header_sum(src, dst, u32::from(len)),
            &segment
        ));
        // Recomputing over the finished segment ignores the field.
        assert_eq!(udp_checksum_ipv6(src, dst, &segment), ck);
    }

    #[test]
    fn computed_zero_is_sent_as_all_ones() {
        // Same addresses and header as the hand vector, field zero, payload
        // chosen to make the sum ffff: pseudo 18233 + 1234 + 1283 + 000a
        // = 1a6f4, folds to a6f5; ffff - a6f5 = 590a. With payload 59 0a the
        // sum is 1fffe, folding to ffff, whose complement is 0.
        let mut segment = [0x12, 0x34, 0x12, 0x83, 0x00, 0x0a, 0x00, 0x00, 0x59, 0x0a];
        let sum = partial_sum(&segment, ipv4_pseudo_header_sum(SRC4, DST4, 10));
        assert_eq!(fold(sum), 0xffff);
        assert_eq!(finish(sum), 0);
        assert_eq!(udp_checksum_value(sum), 0xffff);
        assert_eq!(udp_checksum_ipv4(SRC4, DST4, &segment), 0xffff);
        // 0xffff in the field still verifies.
        segment[6..8].copy_from_slice(&[0xff, 0xff]);
        assert!(verifies(ipv4_pseudo_header_sum(SRC4, DST4, 10), &segment));
        // Non-zero results pass through unchanged.
        assert_eq!(udp_checksum_value(0x0f5f), 0xf0a0);
    }

    #[test]
    fn short_segments_do_not_panic() {
        for len in 0..UDP_HEADER_LEN {
            let segment = vec![0xab; len];
            let _ = udp_checksum_ipv4(SRC4, DST4, &segment);
            let _ = udp_checksum_ipv6([0; 16], [0; 16], &segment);
        }
        // Bytes 6 and 7 are ignored even in a truncated header.
        assert_eq!(
            udp_checksum_ipv4(SRC4, DST4, &[1, 2, 3, 4, 5, 6, 7]),
            udp_checksum_ipv4(SRC4, DST4, &[1, 2, 3, 4, 5, 6, 0]),
        );
    }
}
