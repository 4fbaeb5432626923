//! Tests of the decoder against hand-built bytes (literal arrays and a tiny builder written here, independent of the code under test).

/// Minimal IPFIX byte builder for tests: computes lengths, nothing else.
mod build {
    /// A message header (export time 1_600_000_000) followed by `sets`.
    pub fn message(seq: u32, domain: u32, sets: &[Vec<u8>]) -> Vec<u8> {
        let body = sets.concat();
        let mut m = Vec::new();
        m.extend_from_slice(&10u16.to_be_bytes());
        m.extend_from_slice(&((16 + body.len()) as u16).to_be_bytes());
        m.extend_from_slice(&1_600_000_000u32.to_be_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&domain.to_be_bytes());
        m.extend_from_slice(&body);
        m
    }

    /// A set header with the right length, then `body`.
    pub fn set(id: u16, body: &[u8]) -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(&id.to_be_bytes());
        s.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    }

    /// A template record with non-enterprise fields `(element id, length)`.
    pub fn template(id: u16, fields: &[(u16, u16)]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&id.to_be_bytes());
        t.extend_from_slice(&(fields.len() as u16).to_be_bytes());
        for (element, length) in fields {
            t.extend_from_slice(&element.to_be_bytes());
            t.extend_from_slice(&length.to_be_bytes());
        }
        t
    }

    /// An options template record with non-enterprise fields.
    pub fn options_template(id: u16, scope_count: u16, fields: &[(u16, u16)]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&id.to_be_bytes());
        t.extend_from_slice(&(fields.len() as u16).to_be_bytes());
        t.extend_from_slice(&scope_count.to_be_bytes());
        for (element, length) in fields {
            t.extend_from_slice(&element.to_be_bytes());
            t.extend_from_slice(&length.to_be_bytes());
        }
        t
    }

    /// Template 256 = one 4-byte packetDeltaCount (element 2).
    pub fn counter_template_set() -> Vec<u8> {
        set(2, &template(256, &[(2, 4)]))
    }

    /// A message carrying template 256 and `records` data records of it.
    pub fn data_message(seq: u32, domain: u32, records: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..records).flat_map(|r| r.to_be_bytes()).collect();
        message(seq, domain, &[counter_template_set(), set(256, &data)])
    }

    /// A message carrying only template 256.
    pub fn template_message(seq: u32, domain: u32) -> Vec<u8> {
        message(seq, domain, &[counter_template_set()])
    }
}

mod ipfix_tests {
    use super::build;
    use crate::common::ipfix::{be_uint, Decoder, FieldSpec, VARIABLE_LENGTH};

    const S: &str = "192.0.2.1:40000->192.0.2.2:4739";

    /// Template 256 {sourceIPv4Address/4, destinationTransportPort/2,
    /// octetDeltaCount/8} and two data records of it.
    #[rustfmt::skip]
    const TEMPLATE_AND_DATA: [u8; 68] = [
        // message header: version 10, length 68, export time, seq 7, domain 1
        0x00, 0x0a, 0x00, 0x44,
        0x5f, 0x5e, 0x10, 0x00,
        0x00, 0x00, 0x00, 0x07,
        0x00, 0x00, 0x00, 0x01,
        // template set: id 2, length 20
        0x00, 0x02, 0x00, 0x14,
        0x01, 0x00, 0x00, 0x03, // template 256, 3 fields
        0x00, 0x08, 0x00, 0x04, // sourceIPv4Address, 4
        0x00, 0x0b, 0x00, 0x02, // destinationTransportPort, 2
        0x00, 0x01, 0x00, 0x08, // octetDeltaCount, 8
        // data set: id 256, length 32
        0x01, 0x00, 0x00, 0x20,
        0xc0, 0x00, 0x02, 0x01, 0x12, 0x83,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc,
        0xc0, 0x00, 0x02, 0x02, 0x00, 0x35,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    ];

    fn decode_err(bytes: &[u8]) -> String {
        Decoder::new().decode(S, bytes).unwrap_err()
    }

    fn assert_err_contains(bytes: &[u8], needle: &str) {
        let e = decode_err(bytes);
        assert!(
            e.contains(needle),
            "error {e:?} does not contain {needle:?}"
        );
    }

    #[test]
    fn template_and_data_decode() {
        let mut d = Decoder::new();
        let m = d.decode(S, &TEMPLATE_AND_DATA).unwrap();
        assert_eq!(m.export_time, 1_600_000_000);
        assert_eq!(m.sequence_number, 7);
        assert_eq!(m.domain_id, 1);
        assert_eq!(m.length, 68);
        assert_eq!(m.templates.len(), 1);
        assert!(m.options_templates.is_empty());
        let t = &m.templates[0];
        assert_eq!(t.id, 256);
        assert_eq!(t.scope_count, 0);
        assert_eq!(
            t.fields,
            vec![
                FieldSpec {
                    element_id: 8,
                    length: 4,
                    enterprise: None
                },
                FieldSpec {
                    element_id: 11,
                    length: 2,
                    enterprise: None
                },
                FieldSpec {
                    element_id: 1,
                    length: 8,
                    enterprise: None
                },
            ]
        );
        assert_eq!(m.data_sets, vec![(256, 2)]);
        assert_eq!(m.data_records.len(), 2);
        let r0 = &m.data_records[0];
        assert_eq!(r0.template_id, 256);
        assert_eq!(r0.values[0], vec![192, 0, 2, 1]);
        assert_eq!(be_uint(&r0.values[1]), 4739);
        assert_eq!(be_uint(&r0.values[2]), 1500);
        let r1 = &m.data_records[1];
        assert_eq!(r1.values[0], vec![192, 0, 2, 2]);
        assert_eq!(be_uint(&r1.values[1]), 53);
        assert_eq!(be_uint(&r1.values[2]), 65536);
        assert!(m.unknown_data_sets.is_empty());
        assert!(m.redefined_templates.is_empty());
        assert!(d.template(S, 1, 256).is_some());
        assert!(d.template(S, 2, 256).is_none());
    }

    #[test]
    fn template_from_earlier_message_is_used() {
        let mut d = Decoder::new();
        d.decode(S, &build::template_message(0, 5)).unwrap();
        let data = build::message(0, 5, &[build::set(256, &[0, 0, 0, 9])]);
        let m = d.decode(S, &data).unwrap();
        assert_eq!(m.data_sets, vec![(256, 1)]);
        assert_eq!(m.data_records[0].values, vec![vec![0, 0, 0, 9]]);
    }

    #[test]
    fn templates_are_scoped_by_session_and_domain() {
        let mut d = Decoder::new();
        d.decode(S, &build::template_message(0, 5)).unwrap();
        let other_domain = build::message(0, 6, &[build::set(256, &[0, 0, 0, 9])]);
        let e = d.decode(S, &other_domain).unwrap_err();
        assert!(e.contains("data set for unknown template 256"), "{e}");
        let same_domain = build::message(0, 5, &[build::set(256, &[0, 0, 0, 9])]);
        let e = d
            .decode("10.0.0.1:1->10.0.0.2:2", &same_domain)
            .unwrap_err();
        assert!(e.contains("data set for unknown template 256"), "{e}");
    }

    #[test]
    fn data_before_its_template_in_the_same_message_is_unknown() {
        let bytes = build::message(
            0,
            1,
            &[
                build::set(256, &[0, 0, 0, 1]),
                build::counter_template_set(),
            ],
        );
        let e = decode_err(&bytes);
        assert!(e.contains("data set for unknown template 256"), "{e}");
        assert!(e.contains("set 0 (id 256) at offset 16"), "{e}");
    }

    #[test]
    fn lenient_mode_counts_unknown_data_sets() {
        let mut d = Decoder::new();
        d.set_lenient_unknown(true);
        let bytes = build::message(
            0,
            1,
            &[
                build::set(300, &[1, 2, 3]),
                build::counter_template_set(),
                build::set(256, &[0, 0, 0, 4]),
            ],
        );
        let m = d.decode(S, &bytes).unwrap();
        assert_eq!(m.unknown_data_sets, vec![300]);
        assert_eq!(m.data_sets, vec![(256, 1)]);
        assert_eq!(m.data_records.len(), 1);
    }

    #[test]
    fn header_errors() {
        assert_err_contains(&TEMPLATE_AND_DATA[..15], "shorter than the 16-byte header");
        let mut v = TEMPLATE_AND_DATA;
        v[1] = 9;
        assert_err_contains(&v, "version 9 at offset 0, expected 10");
        let mut v = TEMPLATE_AND_DATA;
        v[3] = 0x45;
        assert_err_contains(
            &v,
            "header length 69 at offset 2 != datagram payload length 68",
        );
        // Two messages in one datagram.
        let two = [&TEMPLATE_AND_DATA[..], &TEMPLATE_AND_DATA[..]].concat();
        assert_err_contains(
            &two,
            "header length 68 at offset 2 != datagram payload length 136",
        );
    }

    #[test]
    fn set_header_errors() {
        // Two bytes after the header: not enough for a set header.
        let mut v = build::message(0, 1, &[vec![0, 2]]);
        assert_err_contains(&v, "set 0 at offset 16: only 2 bytes left");
        // Set length 3.
        v = build::message(0, 1, &[vec![0, 2, 0, 3]]);
        assert_err_contains(&v, "set 0 (id 2) at offset 16: set length 3 is less than");
        // Set length beyond the message.
        v = build::message(0, 1, &[vec![0, 2, 0, 9, 0, 0]]);
        assert_err_contains(
            &v,
            "set length 9 runs past the end of the message (6 bytes left)",
        );
        for id in [0u16, 1] {
            let v = build::message(0, 1, &[build::set(id, &[])]);
            assert_err_contains(&v, &format!("set id {id} is not used"));
        }
        for id in [4u16, 100, 255] {
            let v = build::message(0, 1, &[build::set(id, &[])]);
            assert_err_contains(&v, &format!("set id {id} is reserved"));
        }
        // The second set is named by index and offset.
        let v = build::message(0, 1, &[build::counter_template_set(), build::set(7, &[])]);
        assert_err_contains(&v, "set 1 (id 7) at offset 28: set id 7 is reserved");
    }

    #[test]
    fn template_errors() {
        let v = build::message(0, 1, &[build::set(2, &build::template(255, &[(1, 8)]))]);
        assert_err_contains(
            &v,
            "template record 0 at offset 20: template id 255 is below 256",
        );
        let v = build::message(0, 1, &[build::set(2, &build::template(300, &[]))]);
        assert_err_contains(&v, "template withdrawal over UDP (template id 300");
        // All-templates withdrawal (template id = set id 2).
        let v = build::message(0, 1, &[build::set(2, &[0, 2, 0, 0])]);
        assert_err_contains(&v, "template withdrawal over UDP (template id 2");
        // Field count 2 but only one specifier present.
        let v = build::message(0, 1, &[build::set(2, &[1, 0, 0, 2, 0, 1, 0, 8])]);
        assert_err_contains(
            &v,
            "field specifier 1 of template 256 at offset 28 runs past",
        );
        // Enterprise bit set but no enterprise number.
        let v = build::message(0, 1, &[build::set(2, &[1, 0, 0, 1, 0x80, 1, 0, 4])]);
        assert_err_contains(&v, "enterprise number of field specifier 0 of template 256");
        // Only zero-length fixed fields.
        let v = build::message(0, 1, &[build::set(2, &build::template(256, &[(1, 0)]))]);
        assert_err_contains(&v, "only zero-length fixed fields");
        // Non-zero trailing bytes too short for a record.
        let mut body = build::template(256, &[(1, 8)]);
        body.extend_from_slice(&[0, 1]);
        let v = build::message(0, 1, &[build::set(2, &body)]);
        assert_err_contains(
            &v,
            "2 trailing bytes at offset 28 are neither a template record",
        );
    }

    #[test]
    fn options_template_errors() {
        let v = build::message(
            0,
            1,
            &[build::set(3, &build::options_template(400, 0, &[(149, 4)]))],
        );
        assert_err_contains(&v, "options template 400 has scope field count 0");
        let v = build::message(
            0,
            1,
            &[build::set(3, &build::options_template(400, 2, &[(149, 4)]))],
        );
        assert_err_contains(&v, "scope field count 2 > field count 1");
        let v = build::message(0, 1, &[build::set(3, &[1, 144, 0, 1])]);
        assert_err_contains(&v, "no room for the scope field count");
        let v = build::message(0, 1, &[build::set(3, &[1, 144, 0, 0])]);
        assert_err_contains(&v, "template withdrawal over UDP (template id 400");
    }

    #[test]
    fn options_template_and_data_decode() {
        let mut d = Decoder::new();
        let bytes = build::message(
            3,
            1,
            &[
                // scope observationDomainId/4, then exportedMessageTotalCount/8
                build::set(3, &build::options_template(400, 1, &[(149, 4), (41, 8)])),
                build::set(400, &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 42]),
            ],
        );
        let m = d.decode(S, &bytes).unwrap();
        assert!(m.templates.is_empty());
        assert_eq!(m.options_templates.len(), 1);
        assert_eq!(m.options_templates[0].scope_count, 1);
        assert_eq!(m.options_templates[0].fields.len(), 2);
        assert_eq!(m.data_sets, vec![(400, 1)]);
        assert_eq!(be_uint(&m.data_records[0].values[0]), 1);
        assert_eq!(be_uint(&m.data_records[0].values[1]), 42);
    }

    #[test]
    fn padding_is_accepted() {
        let mut tbody = build::template(256, &[(2, 4), (1, 8)]);
        tbody.extend_from_slice(&[0, 0, 0]); // 3 bytes of padding
                                             // 2 records of 12 bytes, then 11 zero bytes of padding.
        let mut dbody = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2];
        dbody.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4]);
        dbody.extend_from_slice(&[0; 11]);
        let v = build::message(0, 1, &[build::set(2, &tbody), build::set(256, &dbody)]);
        let m = Decoder::new().decode(S, &v).unwrap();
        assert_eq!(m.templates.len(), 1);
        assert_eq!(m.data_sets, vec![(256, 2)]);
        assert_eq!(be_uint(&m.data_records[1].values[1]), 4);
    }

    #[test]
    fn data_set_errors() {
        let v = build::message(0, 1, &[build::set(256, &[0, 0, 0, 1])]);
        assert_err_contains(
            &v,
            "set 0 (id 256) at offset 16: data set for unknown template 256",
        );
        // 1 record, then 3 non-zero bytes (short of the 4-byte minimum).
        let v = build::message(
            0,
            1,
            &[
                build::counter_template_set(),
                build::set(256, &[0, 0, 0, 1, 0, 0, 1]),
            ],
        );
        assert_err_contains(
            &v,
            "3 trailing bytes at offset 36 after 1 records of template 256 are fewer than the \
             minimum record length 4 but not all zero",
        );
    }

    /// Template 256 {packetDeltaCount/4, applicationName/variable}.
    fn variable_template() -> Vec<u8> {
        build::set(2, &build::template(256, &[(2, 4), (96, VARIABLE_LENGTH)]))
    }

    #[test]
    fn variable_length_short_and_long_forms() {
        let long_value: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8 + 1).collect();
        let mut dbody = Vec::new();
        // Record 0: short form, 3 bytes.
        dbody.extend_from_slice(&[0, 0, 0, 1, 3, b'a', b'b', b'c']);
        // Record 1: short form, empty.
        dbody.extend_from_slice(&[0, 0, 0, 2, 0]);
        // Record 2: long form, 300 bytes.
        dbody.extend_from_slice(&[0, 0, 0, 3, 255, 0x01, 0x2c]);
        dbody.extend_from_slice(&long_value);
        // Record 3: long form used for a short value (allowed, §7).
        dbody.extend_from_slice(&[0, 0, 0, 4, 255, 0, 2, b'x', b'y']);
        // Record 4: short form, 254 bytes (the largest short form).
        dbody.extend_from_slice(&[0, 0, 0, 5, 254]);
        dbody.extend_from_slice(&[7; 254]);
        let v = build::message(0, 1, &[variable_template(), build::set(256, &dbody)]);
        let m = Decoder::new().decode(S, &v).unwrap();
        assert_eq!(m.data_sets, vec![(256, 5)]);
        let vals: Vec<&Vec<u8>> = m.data_records.iter().map(|r| &r.values[1]).collect();
        assert_eq!(vals[0], &b"abc".to_vec());
        assert!(vals[1].is_empty());
        assert_eq!(vals[2], &long_value);
        assert_eq!(vals[3], &b"xy".to_vec());
        assert_eq!(vals[4], &vec![7u8; 254]);
        assert_eq!(be_uint(&m.data_records[4].values[0]), 5);
    }

    #[test]
    fn variable_length_errors() {
        // Value longer than the set.
        let v = build::message(
            0,
            1,
            &[variable_template(), build::set(256, &[0, 0, 0, 1, 9, b'a'])],
        );
        assert_err_contains(
            &v,
            "record 0 field 1 (element 96) at offset 40: value of 9 bytes runs past the end",
        );
        // Long-form prefix cut off.
        let v = build::message(
            0,
            1,
            &[variable_template(), build::set(256, &[0, 0, 0, 1, 255, 0])],
        );
        assert_err_contains(&v, "3-byte variable-length prefix runs past the end");
    }

    #[test]
    fn enterprise_field() {
        #[rustfmt::skip]
        let bytes: [u8; 48] = [
            0x00, 0x0a, 0x00, 0x30, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9,
            // template set, length 20: template 257, 2 fields
            0x00, 0x02, 0x00, 0x14, 0x01, 0x01, 0x00, 0x02,
            // enterprise bit + element 5, length 2, enterprise 29305
            0x80, 0x05, 0x00, 0x02, 0x00, 0x00, 0x72, 0x79,
            // octetDeltaCount (1), length 4
            0x00, 0x01, 0x00, 0x04,
            // data set 257, length 12: one record + 2 bytes padding
            0x01, 0x01, 0x00, 0x0c, 0xbe, 0xef, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        ];
        let m = Decoder::new().decode(S, &bytes).unwrap();
        assert_eq!(
            m.templates[0].fields,
            vec![
                FieldSpec {
                    element_id: 5,
                    length: 2,
                    enterprise: Some(29305)
                },
                FieldSpec {
                    element_id: 1,
                    length: 4,
                    enterprise: None
                },
            ]
        );
        assert_eq!(m.domain_id, 9);
        assert_eq!(m.data_sets, vec![(257, 1)]);
        assert_eq!(
            m.data_records[0].values,
            vec![vec![0xbe, 0xef], vec![0, 0, 1, 0]]
        );
    }

    #[test]
    fn template_resend_and_redefinition() {
        let mut d = Decoder::new();
        let m = d.decode(S, &build::template_message(0, 1)).unwrap();
        assert!(m.redefined_templates.is_empty());
        let m = d.decode(S, &build::template_message(0, 1)).unwrap();
        assert!(m.redefined_templates.is_empty(), "identical re-send");
        let changed = build::message(0, 1, &[build::set(2, &build::template(256, &[(1, 8)]))]);
        let m = d.decode(S, &changed).unwrap();
        assert_eq!(m.redefined_templates, vec![256]);
        // The new definition is in force: an 8-byte record.
        let data = build::message(0, 1, &[build::set(256, &[0, 0, 0, 0, 0, 0, 0, 8])]);
        let m = d.decode(S, &data).unwrap();
        assert_eq!(m.data_sets, vec![(256, 1)]);
        assert_eq!(be_uint(&m.data_records[0].values[0]), 8);
        // A plain template turned into an options template is a redefinition too.
        let opts = build::message(
            0,
            1,
            &[build::set(3, &build::options_template(256, 1, &[(1, 8)]))],
        );
        assert_eq!(d.decode(S, &opts).unwrap().redefined_templates, vec![256]);
    }

    #[test]
    fn be_uint_widths() {
        assert_eq!(be_uint(&[0xff]), 255);
        assert_eq!(be_uint(&[0x12, 0x34]), 0x1234);
        assert_eq!(be_uint(&[1, 2, 3]), 0x010203);
        assert_eq!(be_uint(&[0xff; 8]), u64::MAX);
    }

    #[test]
    #[should_panic(expected = "be_uint: 9 bytes")]
    fn be_uint_rejects_nine_bytes() {
        be_uint(&[0; 9]);
    }
}

mod packet_tests {
    use crate::common::packet::{ones_complement_sum, parse_ip_udp, UdpDatagram};
    use std::net::IpAddr;

    /// 192.0.2.1:40000 -> 192.0.2.2:4739, TTL 64, DF, payload "IPFIX test!"
    /// (odd length), checksums computed independently.
    #[rustfmt::skip]
    pub const V4: [u8; 39] = [
        0x45, 0x00, 0x00, 0x27, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0xa4, 0x8e,
        0xc0, 0x00, 0x02, 0x01, 0xc0, 0x00, 0x02, 0x02,
        0x9c, 0x40, 0x12, 0x83, 0x00, 0x13, 0xdc, 0x6c,
        0x49, 0x50, 0x46, 0x49, 0x58, 0x20, 0x74, 0x65, 0x73, 0x74, 0x21,
    ];

    /// [2001:db8::1]:40000 -> [2001:db8::2]:4739, hop limit 64, same payload.
    #[rustfmt::skip]
    const V6: [u8; 59] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x13, 0x11, 0x40,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
        0x9c, 0x40, 0x12, 0x83, 0x00, 0x13, 0x04, 0xfc,
        0x49, 0x50, 0x46, 0x49, 0x58, 0x20, 0x74, 0x65, 0x73, 0x74, 0x21,
    ];

    fn err(packet: &[u8]) -> String {
        parse_ip_udp(packet).unwrap_err()
    }

    fn assert_err_contains(packet: &[u8], needle: &str) {
        let e = err(packet);
        assert!(
            e.contains(needle),
            "error {e:?} does not contain {needle:?}"
        );
    }

    /// Rewrites the IPv4 header checksum so only the intended defect remains.
    fn fix_ipv4_header_checksum(p: &mut [u8]) {
        p[10] = 0;
        p[11] = 0;
        let c = !ones_complement_sum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn ones_complement_known_vectors() {
        // RFC 1071 §3 example.
        assert_eq!(
            ones_complement_sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
        // A well-known valid IPv4 header (checksum b861) sums to 0xffff.
        #[rustfmt::skip]
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
            0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ones_complement_sum(&hdr), 0xffff);
        // Odd length: the last byte is the high half of a word.
        assert_eq!(ones_complement_sum(&[0x01]), 0x0100);
        assert_eq!(ones_complement_sum(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
    }

    #[test]
    fn ipv4_udp_parses() {
        let d = parse_ip_udp(&V4).unwrap();
        assert_eq!(
            d,
            UdpDatagram {
                src: "192.0.2.1".parse::<IpAddr>().unwrap(),
                dst: "192.0.2.2".parse::<IpAddr>().unwrap(),
                src_port: 40000,
                dst_port: 4739,
                udp_checksum: 0xdc6c,
                ttl_or_hop_limit: 64,
                payload: b"IPFIX test!".to_vec(),
            }
        );
        assert_eq!(d.session_key(), "192.0.2.1:40000->192.0.2.2:4739");
    }

    #[test]
    fn ipv4_flipped_bits_fail() {
        // A payload bit: UDP checksum fails.
        let mut p = V4;
        p[30] ^= 0x04;
        assert_err_contains(&p, "udp: checksum 0xdc6c at offset 26 is wrong");
        // A header bit (TTL): header checksum fails.
        let mut p = V4;
        p[8] ^= 0x01;
        assert_err_contains(&p, "ipv4: header checksum 0xa48e at offset 10 is wrong");
        // A source address bit with a fixed header checksum: the pseudo-header
        // makes the UDP checksum fail.
        let mut p = V4;
        p[15] ^= 0x80;
        fix_ipv4_header_checksum(&mut p);
        assert_err_contains(&p, "udp: checksum");
    }

    #[test]
    fn ipv4_zero_udp_checksum_is_accepted() {
        let mut p = V4;
        p[26] = 0;
        p[27] = 0;
        let d = parse_ip_udp(&p).unwrap();
        assert_eq!(d.udp_checksum, 0);
        assert_eq!(d.payload, b"IPFIX test!");
    }

    #[test]
    fn ipv4_header_errors() {
        let mut p = V4;
        p[0] = 0x46;
        assert_err_contains(&p, "IHL 6 at offset 0");
        assert_err_contains(
            &V4[..38],
            "total length field 39 at offset 2 != packet length 38",
        );
        assert_err_contains(&V4[..12], "shorter than the 20-byte header");
        let mut p = V4;
        p[6] = 0x20; // MF
        fix_ipv4_header_checksum(&mut p);
        assert_err_contains(&p, "fragment at offset 6 (MF=1, fragment offset 0)");
        let mut p = V4;
        p[6] = 0x00;
        p[7] = 0x10; // offset 16
        fix_ipv4_header_checksum(&mut p);
        assert_err_contains(&p, "fragment at offset 6 (MF=0, fragment offset 16)");
        let mut p = V4;
        p[9] = 6;
        fix_ipv4_header_checksum(&mut p);
        assert_err_contains(&p, "protocol 6 at offset 9, expected 17");
        let mut p = V4;
        p[25] = 0x14; // UDP length 20, IP payload 19
        assert_err_contains(
            &p,
            "udp: length field 20 at offset 24 != IP payload length 19",
        );
        assert_err_contains(&[0x55, 0, 0, 0], "version nibble 5");
        assert_err_contains(&[], "empty packet");
    }

    #[test]
    fn ipv6_udp_parses() {
        let d = parse_ip_udp(&V6).unwrap();
        assert_eq!(d.src, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(d.dst, "2001:db8::2".parse::<IpAddr>().unwrap());
        assert_eq!((d.src_port, d.dst_port), (40000, 4739));
        assert_eq!(d.udp_checksum, 0x04fc);
        assert_eq!(d.ttl_or_hop_limit, 64);
        assert_eq!(d.payload, b"IPFIX test!");
        assert_eq!(d.session_key(), "[2001:db8::1]:40000->[2001:db8::2]:4739");
    }

    #[test]
    fn ipv6_errors() {
        let mut p = V6;
        p[46] = 0;
        p[47] = 0;
        assert_err_contains(&p, "udp: checksum 0 at offset 46 over IPv6");
        let mut p = V6;
        p[55] ^= 0x01;
        assert_err_contains(&p, "udp: checksum 0x04fc at offset 46 is wrong");
        let mut p = V6;
        p[6] = 0; // hop-by-hop options header
        assert_err_contains(&p, "next header 0 at offset 6");
        assert_err_contains(
            &V6[..58],
            "payload length field 19 at offset 4 != packet length 58",
        );
        assert_err_contains(&V6[..30], "shorter than the 40-byte header");
    }
}

mod pcap_tests {
    use crate::common::packet::datagrams_from_pcap;
    use crate::common::pcap::{read_pcap, read_pcap_file, PcapRecord};

    /// Little-endian file, linktype 101, one 4-byte record at 1.000002 s.
    #[rustfmt::skip]
    const LITTLE: [u8; 44] = [
        0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xff, 0xff, 0x00, 0x00, 0x65, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
        0xde, 0xad, 0xbe, 0xef,
    ];

    /// Builds a pcap file; `big` selects the byte order.
    fn pcap(big: bool, magic: u32, linktype: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = Vec::new();
        f.extend_from_slice(&w32(magic));
        f.extend_from_slice(&w16(2));
        f.extend_from_slice(&w16(4));
        f.extend_from_slice(&w32(0));
        f.extend_from_slice(&w32(0));
        f.extend_from_slice(&w32(65535));
        f.extend_from_slice(&w32(linktype));
        for (sec, sub, data) in records {
            f.extend_from_slice(&w32(*sec));
            f.extend_from_slice(&w32(*sub));
            f.extend_from_slice(&w32(data.len() as u32));
            f.extend_from_slice(&w32(data.len() as u32));
            f.extend_from_slice(data);
        }
        f
    }

    fn assert_err_contains(bytes: &[u8], needle: &str) {
        let e = read_pcap(bytes).unwrap_err();
        assert!(
            e.contains(needle),
            "error {e:?} does not contain {needle:?}"
        );
    }

    #[test]
    fn little_endian_literal() {
        let (linktype, records) = read_pcap(&LITTLE).unwrap();
        assert_eq!(linktype, 101);
        assert_eq!(
            records,
            vec![PcapRecord {
                ts_sec: 1,
                ts_usec: 2,
                data: vec![0xde, 0xad, 0xbe, 0xef]
            }]
        );
    }

    #[test]
    fn both_byte_orders_and_nanosecond_magic() {
        let recs: [(u32, u32, &[u8]); 3] = [
            (1_700_000_000, 999_999, b"first"),
            (1_700_000_001, 0, b""),
            (1_700_000_002, 5, &[1, 2, 3]),
        ];
        for big in [false, true] {
            let file = pcap(big, 0xa1b2c3d4, 101, &recs);
            if big {
                assert_eq!(&file[..4], &[0xa1, 0xb2, 0xc3, 0xd4]);
            } else {
                assert_eq!(&file[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
            }
            let (linktype, records) = read_pcap(&file).unwrap();
            assert_eq!(linktype, 101);
            assert_eq!(records.len(), 3);
            for (r, (sec, sub, data)) in records.iter().zip(recs.iter()) {
                assert_eq!((r.ts_sec, r.ts_usec, &r.data[..]), (*sec, *sub, *data));
            }
            let nanos = pcap(big, 0xa1b23c4d, 1, &[(5, 999_999_999, b"x")]);
            let (linktype, records) = read_pcap(&nanos).unwrap();
            assert_eq!(linktype, 1);
            assert_eq!(records[0].ts_usec, 999_999_999);
        }
    }

    #[test]
    fn errors() {
        assert_err_contains(&LITTLE[..20], "shorter than the 24-byte global header");
        let mut v = LITTLE;
        v[0] = 0;
        assert_err_contains(&v, "bad magic bytes 00 c3 b2 a1");
        let mut v = LITTLE;
        v[6] = 3;
        assert_err_contains(&v, "version 2.3 at offset 4, expected 2.4");
        // Trailing garbage: 5 bytes after the last record.
        let mut v = LITTLE.to_vec();
        v.extend_from_slice(&[1, 2, 3, 4, 5]);
        assert_err_contains(&v, "pcap record 1 at offset 44: only 5 bytes left");
        // Truncated record data.
        assert_err_contains(&LITTLE[..43], "incl_len 4 but only 3 bytes remain");
        // orig_len != incl_len.
        let mut v = LITTLE;
        v[36] = 5;
        assert_err_contains(&v, "pcap record 0 at offset 24: incl_len 4 != orig_len 5");
        // incl_len > snaplen (snaplen 2).
        let mut v = LITTLE;
        v[16] = 2;
        v[17] = 0;
        assert_err_contains(&v, "incl_len 4 exceeds snaplen 2");
        // Microseconds out of range.
        let v = pcap(true, 0xa1b2c3d4, 101, &[(1, 1_000_000, b"")]);
        assert_err_contains(&v, "sub-second timestamp 1000000 is not below 1000000");
    }

    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("decode-test-{}-{name}.pcap", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn datagrams_from_raw_pcap_file() {
        let packet = super::packet_tests::V4.to_vec();
        let path = temp_file("raw", &pcap(false, 0xa1b2c3d4, 101, &[(1, 0, &packet)]));
        let result = datagrams_from_pcap(&path);
        let read_back = read_pcap_file(&path);
        std::fs::remove_file(&path).unwrap();
        let datagrams = result.unwrap();
        assert_eq!(datagrams.len(), 1);
        assert_eq!(datagrams[0].payload, b"IPFIX test!");
        assert_eq!(read_back.unwrap().1[0].data, packet);
    }

    #[test]
    fn datagrams_from_pcap_errors() {
        let packet = super::packet_tests::V4.to_vec();
        let path = temp_file("eth", &pcap(false, 0xa1b2c3d4, 1, &[(1, 0, &packet)]));
        let e = datagrams_from_pcap(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(e.contains("linktype 1, expected 101"), "{e}");

        let mut bad = packet.clone();
        bad[30] ^= 1;
        let path = temp_file(
            "bad",
            &pcap(false, 0xa1b2c3d4, 101, &[(1, 0, &packet), (2, 0, &bad)]),
        );
        let e = datagrams_from_pcap(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(e.contains("packet 1: udp: checksum"), "{e}");

        let missing = std::env::temp_dir().join("decode-test-does-not-exist.pcap");
        let e = datagrams_from_pcap(&missing).unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
    }
}

/// Builds valid IPv4/UDP packets around a payload for the accounting tests.
mod packet_tests_data {
    use crate::common::packet::ones_complement_sum;

    /// An IPv4/UDP packet from 192.0.2.1:`src_port` to 192.0.2.2:4739 with
    /// the UDP checksum absent (0), so only the IP header checksum is needed.
    pub fn v4_no_udp_checksum(src_port: u16, payload: &[u8]) -> Vec<u8> {
        let total = (28 + payload.len()) as u16;
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        let c = !ones_complement_sum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&src_port.to_be_bytes());
        p.extend_from_slice(&4739u16.to_be_bytes());
        p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }
}

mod accounting_tests {
    use super::build;
    use crate::common::accounting::{
        check_sequences, check_sequences_from, decode_datagrams, StreamKey,
    };
    use crate::common::ipfix::{Decoder, Message};
    use crate::common::packet::parse_ip_udp;

    fn key(session: &str, domain_id: u32) -> StreamKey {
        StreamKey {
            session: session.to_string(),
            domain_id,
        }
    }

    /// Decodes `(session, message bytes)` pairs in order with one decoder.
    fn decode_all(items: &[(&str, Vec<u8>)]) -> Vec<(StreamKey, Message)> {
        let mut d = Decoder::new();
        items
            .iter()
            .map(|(s, bytes)| {
                let m = d.decode(s, bytes).unwrap();
                (key(s, m.domain_id), m)
            })
            .collect()
    }

    /// Two exporter threads share one sequence counter: thread A sends
    /// messages of 3 records, thread B of 5. Allocation order
    /// A0 B3 A8 B11 A16 B19 (end 24); wire order differs.
    fn interleaved() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("s", build::template_message(0, 1)),
            ("s", build::data_message(3, 1, 5)),
            ("s", build::data_message(0, 1, 3)),
            ("s", build::data_message(11, 1, 5)),
            ("s", build::template_message(11, 1)),
            ("s", build::data_message(8, 1, 3)),
            ("s", build::data_message(19, 1, 5)),
            ("s", build::data_message(16, 1, 3)),
            ("s", build::template_message(24, 1)),
        ]
    }

    #[test]
    fn interleaved_threads_pass() {
        let msgs = decode_all(&interleaved());
        let totals = check_sequences(&msgs).unwrap();
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[&key("s", 1)], 24);
    }

    #[test]
    fn gap_fails() {
        let mut items = interleaved();
        items.remove(5); // A8
        let e = check_sequences(&decode_all(&items)).unwrap_err();
        assert!(
            e.contains(
                "stream s domain 1: message 3 has sequence number 11, expected 8: gap of 3 records"
            ),
            "{e}"
        );
    }

    #[test]
    fn duplicate_fails() {
        let mut items = interleaved();
        items.push(("s", build::data_message(3, 1, 5)));
        let e = check_sequences(&decode_all(&items)).unwrap_err();
        assert!(
            e.contains("message 9 has sequence number 3, expected 8: duplicate sequence number"),
            "{e}"
        );
    }

    #[test]
    fn overlap_and_wrong_start_fail() {
        let items = vec![
            ("s", build::data_message(0, 1, 3)),
            ("s", build::data_message(2, 1, 3)),
        ];
        let e = check_sequences(&decode_all(&items)).unwrap_err();
        assert!(
            e.contains("overlaps the previous message by 1 records"),
            "{e}"
        );
        let items = vec![("s", build::data_message(1, 1, 3))];
        let e = check_sequences(&decode_all(&items)).unwrap_err();
        assert!(
            e.contains("expected 0: gap of 1 records (the stream must start at 0)"),
            "{e}"
        );
    }

    #[test]
    fn template_only_message_off_the_chain_fails() {
        let mut items = interleaved();
        items.push(("s", build::template_message(5, 1)));
        let e = check_sequences(&decode_all(&items)).unwrap_err();
        assert!(
            e.contains("message 9 without data records has sequence number 5"),
            "{e}"
        );
        // Without any data messages only the start is allowed.
        let e = check_sequences(&decode_all(&[("s", build::template_message(1, 1))])).unwrap_err();
        assert!(e.contains("sequence number 1"), "{e}");
        let ok = check_sequences(&decode_all(&[("s", build::template_message(0, 1))])).unwrap();
        assert_eq!(ok[&key("s", 1)], 0);
    }

    #[test]
    fn streams_are_separate() {
        let items = vec![
            ("a", build::data_message(0, 1, 3)),
            ("b", build::data_message(0, 1, 5)),
            ("a", build::data_message(0, 2, 2)),
            ("a", build::data_message(3, 1, 1)),
            ("b", build::data_message(5, 1, 5)),
        ];
        let totals = check_sequences(&decode_all(&items)).unwrap();
        assert_eq!(totals[&key("a", 1)], 4);
        assert_eq!(totals[&key("a", 2)], 2);
        assert_eq!(totals[&key("b", 1)], 10);
    }

    #[test]
    fn wraps_modulo_2_pow_32() {
        let start = u32::MAX - 4;
        // start + 3 = u32::MAX - 1; start + 6 wraps to 1; start + 9 = 4.
        let items = vec![
            ("s", build::data_message(1, 1, 3)), // after the wrap, arrives first
            ("s", build::data_message(start, 1, 3)),
            ("s", build::data_message(start.wrapping_add(3), 1, 3)),
            ("s", build::template_message(4, 1)),
        ];
        let totals = check_sequences_from(&decode_all(&items), start).unwrap();
        assert_eq!(totals[&key("s", 1)], 9);
        let e = check_sequences(&decode_all(&items)).unwrap_err();
        assert!(e.contains("the stream must start at 0"), "{e}");
    }

    #[test]
    fn lenient_unknown_sets_cannot_be_counted() {
        let mut d = Decoder::new();
        d.set_lenient_unknown(true);
        let m = d
            .decode("s", &build::message(0, 1, &[build::set(300, &[1])]))
            .unwrap();
        let e = check_sequences(&[(key("s", 1), m)]).unwrap_err();
        assert!(
            e.contains("message 0 has data sets for unknown templates [300]"),
            "{e}"
        );
    }

    #[test]
    fn decode_datagrams_keys_by_session_and_prefixes_errors() {
        let datagrams: Vec<_> = [
            super::packet_tests_data::v4_no_udp_checksum(1000, &build::data_message(0, 1, 3)),
            super::packet_tests_data::v4_no_udp_checksum(1001, &build::data_message(0, 1, 5)),
            super::packet_tests_data::v4_no_udp_checksum(1000, &build::data_message(3, 1, 2)),
        ]
        .iter()
        .map(|p| parse_ip_udp(p).unwrap())
        .collect();
        let msgs = decode_datagrams(&mut Decoder::new(), &datagrams).unwrap();
        let totals = check_sequences(&msgs).unwrap();
        assert_eq!(totals[&key("192.0.2.1:1000->192.0.2.2:4739", 1)], 5);
        assert_eq!(totals[&key("192.0.2.1:1001->192.0.2.2:4739", 1)], 5);

        // A data set whose template went to the other session.
        let datagrams: Vec<_> = [
            super::packet_tests_data::v4_no_udp_checksum(1000, &build::template_message(0, 1)),
            super::packet_tests_data::v4_no_udp_checksum(
                1001,
                &build::message(0, 1, &[build::set(256, &[0, 0, 0, 1])]),
            ),
        ]
        .iter()
        .map(|p| parse_ip_udp(p).unwrap())
        .collect();
        let e = decode_datagrams(&mut Decoder::new(), &datagrams).unwrap_err();
        assert!(
            e.starts_with("packet 1 (192.0.2.1:1001->192.0.2.2:4739): ipfix: set 0 (id 256)"),
            "{e}"
        );
    }
}
