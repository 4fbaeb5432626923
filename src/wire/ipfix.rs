//! RFC 7011 encoding: message and set headers, (options) template records, variable-length fields.
#![forbid(unsafe_code)]

use core::fmt;

/// Version Number of IPFIX messages (RFC 7011 §3.1).
pub const IPFIX_VERSION: u16 = 10;
/// Message Header length (RFC 7011 §3.1).
pub const MESSAGE_HEADER_LEN: usize = 16;
/// Set Header length (RFC 7011 §3.3.2).
pub const SET_HEADER_LEN: usize = 4;
/// Set ID of a Template Set (RFC 7011 §3.3.2).
pub const TEMPLATE_SET_ID: u16 = 2;
/// Set ID of an Options Template Set (RFC 7011 §3.3.2).
pub const OPTIONS_TEMPLATE_SET_ID: u16 = 3;
/// Lowest Set ID of a Data Set, and lowest Template ID (RFC 7011 §3.3.2,
/// §3.4.1): 0-255 are reserved.
pub const MIN_DATA_SET_ID: u16 = 256;
/// Field Length announcing a variable-length field (RFC 7011 §3.2, §7).
pub const VARIABLE_LENGTH: u16 = 65535;
/// Enterprise bit of a Field Specifier's Information Element identifier
/// (RFC 7011 §3.2).
pub const ENTERPRISE_BIT: u16 = 0x8000;
/// Template ID + Field Count (RFC 7011 §3.4.1).
pub const TEMPLATE_RECORD_HEADER_LEN: usize = 4;
/// Template ID + Field Count + Scope Field Count (RFC 7011 §3.4.2.2).
pub const OPTIONS_TEMPLATE_RECORD_HEADER_LEN: usize = 6;

/// Largest Information Element identifier: the top bit is the E bit.
const MAX_ELEMENT_ID: u16 = !ENTERPRISE_BIT;
/// Variable-length values shorter than this take a one-byte length
/// (RFC 7011 §7); this byte value flags the three-byte form.
const LONG_LENGTH_FLAG: u8 = 255;

/// Writes an IPFIX Message Header (RFC 7011 §3.1). `length` covers the
/// whole message, header included; `export_time` is in seconds since the
/// UNIX epoch.
pub fn write_message_header(
    buf: &mut [u8; MESSAGE_HEADER_LEN],
    length: u16,
    export_time: u32,
    sequence_number: u32,
    observation_domain_id: u32,
) {
    buf[0..2].copy_from_slice(&IPFIX_VERSION.to_be_bytes());
    buf[2..4].copy_from_slice(&length.to_be_bytes());
    buf[4..8].copy_from_slice(&export_time.to_be_bytes());
    buf[8..12].copy_from_slice(&sequence_number.to_be_bytes());
    buf[12..16].copy_from_slice(&observation_domain_id.to_be_bytes());
}

/// Writes a Set Header (RFC 7011 §3.3.2). `length` covers the whole set,
/// header and any padding included.
pub fn write_set_header(buf: &mut [u8; SET_HEADER_LEN], set_id: u16, length: u16) {
    buf[0..2].copy_from_slice(&set_id.to_be_bytes());
    buf[2..4].copy_from_slice(&length.to_be_bytes());
}

/// One Field Specifier of a template (RFC 7011 §3.2).
/// `#[repr(C)]`: the C API takes arrays of it as `vpp_ipfix_field_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// Information Element identifier, without the E bit (0..=0x7fff).
    pub element_id: u16,
    /// Field length in bytes, or [`VARIABLE_LENGTH`].
    pub length: u16,
    /// Private Enterprise Number; 0 means an IANA element (E bit clear, no
    /// enterprise number on the wire).
    pub enterprise_number: u32,
}

impl FieldSpec {
    /// An IANA-registered Information Element.
    #[must_use]
    pub const fn new(element_id: u16, length: u16) -> Self {
        Self {
            element_id,
            length,
            enterprise_number: 0,
        }
    }

    /// An enterprise-specific Information Element.
    #[must_use]
    pub const fn enterprise(element_id: u16, length: u16, enterprise_number: u32) -> Self {
        Self {
            element_id,
            length,
            enterprise_number,
        }
    }

    /// Bytes this specifier takes in a template: 4, or 8 with the
    /// enterprise number.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        if self.is_enterprise() {
            8
        } else {
            4
        }
    }

    /// Whether data records carry this field with a length prefix (§7).
    #[must_use]
    pub fn is_variable_length(&self) -> bool {
        self.length == VARIABLE_LENGTH
    }

    fn is_enterprise(&self) -> bool {
        self.enterprise_number != 0
    }

    fn validate(&self) -> Result<(), WireError> {
        if self.element_id > MAX_ELEMENT_ID {
            return Err(WireError::ElementIdTooLarge(self.element_id));
        }
        if self.length == 0 {
            return Err(WireError::ZeroLengthField);
        }
        Ok(())
    }

    fn write(&self, out: &mut Out<'_>) -> Result<(), WireError> {
        let id = if self.is_enterprise() {
            self.element_id | ENTERPRISE_BIT
        } else {
            self.element_id
        };
        out.put(&id.to_be_bytes())?;
        out.put(&self.length.to_be_bytes())?;
        if self.is_enterprise() {
            out.put(&self.enterprise_number.to_be_bytes())?;
        }
        Ok(())
    }
}

/// Why a record could not be encoded. Nothing is written when one is
/// returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The output buffer is smaller than the encoding.
    BufferTooShort {
        /// Bytes the encoding needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// An element identifier above 0x7fff: its top bit would be read as
    /// the E bit (RFC 7011 §3.2).
    ElementIdTooLarge(u16),
    /// A field of length 0, which could carry no value.
    ZeroLengthField,
    /// A template with no fields: on the wire that is a Template Withdrawal
    /// (RFC 7011 §8.1), not a template.
    NoFields,
    /// An options template without scope fields (RFC 7011 §3.4.2.1: the
    /// Scope Field Count MUST NOT be zero).
    ZeroScopeCount,
    /// A count or length that does not fit its 16-bit wire field.
    TooLong,
    /// A Template ID below 256; 0-255 are reserved (RFC 7011 §3.4.1).
    TemplateIdReserved(u16),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooShort { needed, available } => {
                write!(f, "buffer too short: need {needed} bytes, have {available}")
            }
            Self::ElementIdTooLarge(id) => write!(
                f,
                "information element id {id:#06x} exceeds 0x7fff (top bit is the enterprise bit)"
            ),
            Self::ZeroLengthField => f.write_str("field length is zero"),
            Self::NoFields => f.write_str("template has no fields"),
            Self::ZeroScopeCount => f.write_str("options template has no scope fields"),
            Self::TooLong => f.write_str("length or count does not fit in 16 bits"),
            Self::TemplateIdReserved(id) => {
                write!(f, "template id {id} is reserved (must be at least 256)")
            }
        }
    }
}

impl core::error::Error for WireError {}

/// Bounds-checked sequential writer over a caller's buffer: writing past
/// the end is an error, never a panic.
struct Out<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Out<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        let end = self.pos.saturating_add(bytes.len());
        let available = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(WireError::BufferTooShort {
                needed: end,
                available,
            })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
}

/// Sum of the encoded lengths of `fields`. Saturates rather than
/// overflowing; anything near that is rejected as `TooLong` anyway.
fn fields_len(fields: &[FieldSpec]) -> usize {
    fields
        .iter()
        .fold(0, |len, field| len.saturating_add(field.encoded_len()))
}

/// A count as its 16-bit wire value.
fn count_u16(count: usize) -> Result<u16, WireError> {
    u16::try_from(count).map_err(|_| WireError::TooLong)
}

/// Checks the parts shared by both template kinds before anything is
/// written, so an error leaves `buf` untouched.
fn check_record(
    template_id: u16,
    field_lists: &[&[FieldSpec]],
    len: usize,
    available: usize,
) -> Result<(), WireError> {
    if template_id < MIN_DATA_SET_ID {
        return Err(WireError::TemplateIdReserved(template_id));
    }
    field_lists
        .iter()
        .flat_map(|fields| fields.iter())
        .try_for_each(FieldSpec::validate)?;
    // A record must fit in a set, whose length field is 16 bits.
    if len > usize::from(u16::MAX) {
        return Err(WireError::TooLong);
    }
    if available < len {
        return Err(WireError::BufferTooShort {
            needed: len,
            available,
        });
    }
    Ok(())
}

/// Encoded length of a Template Record (RFC 7011 §3.4.1) with `fields`.
#[must_use]
pub fn template_record_len(fields: &[FieldSpec]) -> usize {
    TEMPLATE_RECORD_HEADER_LEN.saturating_add(fields_len(fields))
}

/// Writes a Template Record (RFC 7011 §3.4.1) at the start of `buf` and
/// returns its length. The caller wraps it in a set with
/// [`TEMPLATE_SET_ID`].
pub fn write_template_record(
    buf: &mut [u8],
    template_id: u16,
    fields: &[FieldSpec],
) -> Result<usize, WireError> {
    if template_id >= MIN_DATA_SET_ID && fields.is_empty() {
        return Err(WireError::NoFields);
    }
    let field_count = count_u16(fields.len())?;
    let len = template_record_len(fields);
    check_record(template_id, &[fields], len, buf.len())?;

    let mut out = Out::new(buf);
    out.put(&template_id.to_be_bytes())?;
    out.put(&field_count.to_be_bytes())?;
    for field in fields {
        field.write(&mut out)?;
    }
    Ok(out.pos)
}

/// Encoded length of an Options Template Record (RFC 7011 §3.4.2.2).
#[must_use]
pub fn options_template_record_len(scope: &[FieldSpec], fields: &[FieldSpec]) -> usize {
    OPTIONS_TEMPLATE_RECORD_HEADER_LEN
        .saturating_add(fields_len(scope))
        .saturating_add(fields_len(fields))
}

/// Writes an Options Template Record (RFC 7011 §3.4.2.2) at the start of
/// `buf` and returns its length: the scope fields come first, and the
/// Field Count includes them. `fields` may be empty; `scope` may not. The
/// caller wraps it in a set with [`OPTIONS_TEMPLATE_SET_ID`].
pub fn write_options_template_record(
    buf: &mut [u8],
    template_id: u16,
    scope: &[FieldSpec],
    fields: &[FieldSpec],
) -> Result<usize, WireError> {
    if template_id >= MIN_DATA_SET_ID && scope.is_empty() {
        return Err(WireError::ZeroScopeCount);
    }
    let scope_count = count_u16(scope.len())?;
    let field_count = count_u16(scope.len().saturating_add(fields.len()))?;
    let len = options_template_record_len(scope, fields);
    check_record(template_id, &[scope, fields], len, buf.len())?;

    let mut out = Out::new(buf);
    out.put(&template_id.to_be_bytes())?;
    out.put(&field_count.to_be_bytes())?;
    out.put(&scope_count.to_be_bytes())?;
    for field in scope.iter().chain(fields) {
        field.write(&mut out)?;
    }
    Ok(out.pos)
}

/// Length of a Data Record for `fields` when all are fixed-length; `None`
/// when any is variable-length, since the record length then depends on
/// the values.
#[must_use]
pub fn record_len(fields: &[FieldSpec]) -> Option<usize> {
    fields.iter().try_fold(0usize, |len, field| {
        (!field.is_variable_length()).then(|| len.saturating_add(usize::from(field.length)))
    })
}

/// Writes a variable-length field value with its length prefix (RFC 7011
/// §7) at the start of `buf` and returns the bytes written: one length
/// byte below 255, otherwise 255 followed by a 16-bit length.
pub fn write_variable_length(buf: &mut [u8], value: &[u8]) -> Result<usize, WireError> {
    let len = u16::try_from(value.len()).map_err(|_| WireError::TooLong)?;
    let prefix_len = if value.len() < usize::from(LONG_LENGTH_FLAG) {
        1
    } else {
        3
    };
    let needed = prefix_len + value.len();
    if buf.len() < needed {
        return Err(WireError::BufferTooShort {
            needed,
            available: buf.len(),
        });
    }

    let mut out = Out::new(buf);
    match u8::try_from(len) {
        Ok(short) if short < LONG_LENGTH_FLAG => out.put(&[short])?,
        _ => {
            out.put(&[LONG_LENGTH_FLAG])?;
            out.put(&len.to_be_bytes())?;
        }
    }
    out.put(value)?;
    Ok(out.pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    // IANA element ids used below (IANA "IPFIX Information Elements").
    const OCTET_DELTA_COUNT: u16 = 1;
    const PACKET_DELTA_COUNT: u16 = 2;
    const SOURCE_IPV4_ADDRESS: u16 = 8;
    const DESTINATION_IPV4_ADDRESS: u16 = 12;
    const IP_NEXT_HOP_IPV4_ADDRESS: u16 = 15;
    const EXPORTED_MESSAGE_TOTAL_COUNT: u16 = 41;
    const EXPORTED_FLOW_RECORD_TOTAL_COUNT: u16 = 42;
    const INTERFACE_NAME: u16 = 82;
    const OBSERVATION_DOMAIN_ID: u16 = 149;

    /// The template of RFC 7011 Appendix A.2.1 (used by the A.3 Data Set).
    const APPENDIX_A_FIELDS: [FieldSpec; 5] = [
        FieldSpec::new(SOURCE_IPV4_ADDRESS, 4),
        FieldSpec::new(DESTINATION_IPV4_ADDRESS, 4),
        FieldSpec::new(IP_NEXT_HOP_IPV4_ADDRESS, 4),
        FieldSpec::new(PACKET_DELTA_COUNT, 4),
        FieldSpec::new(OCTET_DELTA_COUNT, 4),
    ];

    #[test]
    fn message_header_bytes() {
        // §3.1 layout: version, length, export time, sequence, domain.
        let mut buf = [0xaa; MESSAGE_HEADER_LEN];
        write_message_header(&mut buf, 0x05b4, 0x5f5e_1000, 7, 0x0102_0304);
        assert_eq!(
            buf,
            [
                0x00, 0x0a, 0x05, 0xb4, 0x5f, 0x5e, 0x10, 0x00, 0x00, 0x00, 0x00, 0x07, 0x01, 0x02,
                0x03, 0x04,
            ]
        );
    }

    #[test]
    fn set_header_bytes() {
        let mut buf = [0xaa; SET_HEADER_LEN];
        write_set_header(&mut buf, TEMPLATE_SET_ID, 28);
        assert_eq!(buf, [0x00, 0x02, 0x00, 0x1c]);
    }

    #[test]
    fn appendix_a_template_set() {
        // RFC 7011 Appendix A.2.1: Set ID 2, length 28; Template ID 256,
        // Field Count 5; sourceIPv4Address (8), destinationIPv4Address
        // (12), ipNextHopIPv4Address (15), packetDeltaCount (2),
        // octetDeltaCount (1), each 4 bytes, E bit clear.
        let expected = [
            0x00, 0x02, 0x00, 0x1c, // Set ID 2, Length 28
            0x01, 0x00, 0x00, 0x05, // Template ID 256, Field Count 5
            0x00, 0x08, 0x00, 0x04, // sourceIPv4Address, 4
            0x00, 0x0c, 0x00, 0x04, // destinationIPv4Address, 4
            0x00, 0x0f, 0x00, 0x04, // ipNextHopIPv4Address, 4
            0x00, 0x02, 0x00, 0x04, // packetDeltaCount, 4
            0x00, 0x01, 0x00, 0x04, // octetDeltaCount, 4
        ];
        let mut buf = [0xaa; 28];
        let (header, body) = buf.split_at_mut(SET_HEADER_LEN);
        let written = write_template_record(body, 256, &APPENDIX_A_FIELDS).unwrap();
        assert_eq!(written, template_record_len(&APPENDIX_A_FIELDS));
        assert_eq!(written, 24);
        let set_len = u16::try_from(SET_HEADER_LEN + written).unwrap();
        write_set_header(header.try_into().unwrap(), TEMPLATE_SET_ID, set_len);
        assert_eq!(buf, expected);
        // Appendix A.3: its data records are 5 x 4 = 20 bytes.
        assert_eq!(record_len(&APPENDIX_A_FIELDS), Some(20));
    }

    #[test]
    fn enterprise_field_spec() {
        // Element 1 of PEN 29305 (0x7279, RFC 5103 reverse elements):
        // id with E bit = 0x8001, length 4, then the 32-bit PEN.
        let field = FieldSpec::enterprise(OCTET_DELTA_COUNT, 4, 29305);
        assert_eq!(field.encoded_len(), 8);
        let mut buf = [0xaa; 12];
        assert_eq!(write_template_record(&mut buf, 300, &[field]), Ok(12));
        assert_eq!(
            buf,
            [
                0x01, 0x2c, 0x00, 0x01, // Template ID 300, Field Count 1
                0x80, 0x01, 0x00, 0x04, // E | 1, length 4
                0x00, 0x00, 0x72, 0x79, // enterprise number 29305
            ]
        );
        assert_eq!(FieldSpec::new(OCTET_DELTA_COUNT, 4).encoded_len(), 4);
    }

    #[test]
    fn variable_length_field_spec() {
        let field = FieldSpec::new(INTERFACE_NAME, VARIABLE_LENGTH);
        assert!(field.is_variable_length());
        assert!(!FieldSpec::new(INTERFACE_NAME, 32).is_variable_length());
        let mut buf = [0xaa; 8];
        assert_eq!(write_template_record(&mut buf, 256, &[field]), Ok(8));
        // interfaceName = 82 = 0x52, length 65535 = ffff.
        assert_eq!(buf, [0x01, 0x00, 0x00, 0x01, 0x00, 0x52, 0xff, 0xff]);
        assert_eq!(record_len(&[FieldSpec::new(1, 8), field]), None);
        assert_eq!(record_len(&[]), Some(0));
    }

    #[test]
    fn options_template_record_layout() {
        // Hand-derived from RFC 7011 §3.4.2.2: Template ID 257, Field Count
        // 3 (scope included), Scope Field Count 1; scope
        // observationDomainId (149 = 0x95, 4); options
        // exportedMessageTotalCount (41 = 0x29, 8) and
        // exportedFlowRecordTotalCount (42 = 0x2a, 8). 6 + 3 x 4 = 18
        // bytes; in a set, 22 (0x16).
        let scope = [FieldSpec::new(OBSERVATION_DOMAIN_ID, 4)];
        let fields = [
            FieldSpec::new(EXPORTED_MESSAGE_TOTAL_COUNT, 8),
            FieldSpec::new(EXPORTED_FLOW_RECORD_TOTAL_COUNT, 8),
        ];
        let expected = [
            0x00, 0x03, 0x00, 0x16, // Set ID 3, Length 22
            0x01, 0x01, 0x00, 0x03, // Template ID 257, Field Count 3
            0x00, 0x01, // Scope Field Count 1
            0x00, 0x95, 0x00, 0x04, // observationDomainId, 4
            0x00, 0x29, 0x00, 0x08, // exportedMessageTotalCount, 8
            0x00, 0x2a, 0x00, 0x08, // exportedFlowRecordTotalCount, 8
        ];
        let mut buf = [0xaa; 22];
        let (header, body) = buf.split_at_mut(SET_HEADER_LEN);
        let written = write_options_template_record(body, 257, &scope, &fields).unwrap();
        assert_eq!(written, 18);
        assert_eq!(written, options_template_record_len(&scope, &fields));
        write_set_header(header.try_into().unwrap(), OPTIONS_TEMPLATE_SET_ID, 22);
        assert_eq!(buf, expected);
        assert_eq!(record_len(&[scope[0], fields[0], fields[1]]), Some(20));
    }

    #[test]
    fn options_template_with_enterprise_scope_and_no_options() {
        let scope = [FieldSpec::enterprise(5, 2, 0x0102_0304)];
        let mut buf = [0xaa; 14];
        assert_eq!(
            write_options_template_record(&mut buf, 0xffff, &scope, &[]),
            Ok(14)
        );
        assert_eq!(
            buf,
            [
                0xff, 0xff, 0x00, 0x01, 0x00, 0x01, // id 65535, 1 field, 1 scope
                0x80, 0x05, 0x00, 0x02, 0x01, 0x02, 0x03, 0x04,
            ]
        );
    }

    #[test]
    fn variable_length_encoding() {
        let mut buf = [0xaa; 70_000];

        assert_eq!(write_variable_length(&mut buf, &[]), Ok(1));
        assert_eq!(buf[0], 0x00);

        assert_eq!(write_variable_length(&mut buf, b"eth0"), Ok(5));
        assert_eq!(&buf[..5], &[0x04, b'e', b't', b'h', b'0']);

        // 254 is the longest one-byte length (§7: "less than 255").
        let value = [0x11; 254];
        assert_eq!(write_variable_length(&mut buf, &value), Ok(255));
        assert_eq!(buf[0], 0xfe);
        assert_eq!(&buf[1..255], &value[..]);

        // 255 needs the three-byte form: ff 00 ff.
        let value = [0x22; 255];
        assert_eq!(write_variable_length(&mut buf, &value), Ok(258));
        assert_eq!(&buf[..3], &[0xff, 0x00, 0xff]);
        assert_eq!(&buf[3..258], &value[..]);

        // 65535 is the longest: ff ff ff.
        let value = vec![0x33; 65535];
        assert_eq!(write_variable_length(&mut buf, &value), Ok(65538));
        assert_eq!(&buf[..3], &[0xff, 0xff, 0xff]);
        assert_eq!(&buf[3..65538], &value[..]);
    }

    #[test]
    fn error_buffer_too_short() {
        let mut buf = [0xaa; 23];
        assert_eq!(
            write_template_record(&mut buf, 256, &APPENDIX_A_FIELDS),
            Err(WireError::BufferTooShort {
                needed: 24,
                available: 23
            })
        );
        assert_eq!(buf, [0xaa; 23], "nothing written on error");
        let scope = [FieldSpec::new(OBSERVATION_DOMAIN_ID, 4)];
        assert_eq!(
            write_options_template_record(&mut buf[..9], 256, &scope, &[]),
            Err(WireError::BufferTooShort {
                needed: 10,
                available: 9
            })
        );
        assert_eq!(
            write_variable_length(&mut buf[..4], b"eth0"),
            Err(WireError::BufferTooShort {
                needed: 5,
                available: 4
            })
        );
        assert_eq!(
            write_variable_length(&mut buf, &[0; 255]),
            Err(WireError::BufferTooShort {
                needed: 258,
                available: 23
            })
        );
        assert_eq!(buf, [0xaa; 23]);
    }

    #[test]
    fn error_element_id_too_large() {
        let mut buf = [0; 64];
        assert_eq!(
            write_template_record(&mut buf, 256, &[FieldSpec::new(0x8000, 4)]),
            Err(WireError::ElementIdTooLarge(0x8000))
        );
        assert_eq!(
            write_template_record(&mut buf, 256, &[FieldSpec::enterprise(0xffff, 4, 9)]),
            Err(WireError::ElementIdTooLarge(0xffff))
        );
        let scope = [FieldSpec::new(1, 4)];
        assert_eq!(
            write_options_template_record(&mut buf, 256, &scope, &[FieldSpec::new(0x8001, 4)]),
            Err(WireError::ElementIdTooLarge(0x8001))
        );
        // 0x7fff is the largest valid id.
        assert_eq!(
            write_template_record(&mut buf, 256, &[FieldSpec::new(0x7fff, 4)]),
            Ok(8)
        );
    }

    #[test]
    fn error_zero_length_field() {
        let mut buf = [0; 64];
        assert_eq!(
            write_template_record(&mut buf, 256, &[FieldSpec::new(1, 0)]),
            Err(WireError::ZeroLengthField)
        );
        assert_eq!(
            write_options_template_record(&mut buf, 256, &[FieldSpec::new(1, 0)], &[]),
            Err(WireError::ZeroLengthField)
        );
    }

    #[test]
    fn error_no_fields() {
        let mut buf = [0; 64];
        assert_eq!(
            write_template_record(&mut buf, 256, &[]),
            Err(WireError::NoFields)
        );
    }

    #[test]
    fn error_zero_scope_count() {
        let mut buf = [0; 64];
        assert_eq!(
            write_options_template_record(&mut buf, 256, &[], &[FieldSpec::new(1, 4)]),
            Err(WireError::ZeroScopeCount)
        );
    }

    #[test]
    fn error_template_id_reserved() {
        let mut buf = [0; 64];
        let fields = [FieldSpec::new(1, 4)];
        for id in [0, 2, 3, 255] {
            assert_eq!(
                write_template_record(&mut buf, id, &fields),
                Err(WireError::TemplateIdReserved(id))
            );
            assert_eq!(
                write_options_template_record(&mut buf, id, &fields, &[]),
                Err(WireError::TemplateIdReserved(id))
            );
        }
        // Reserved id wins over the empty field list: a withdrawal-shaped
        // record with id 2 is still a reserved id.
        assert_eq!(
            write_template_record(&mut buf, 2, &[]),
            Err(WireError::TemplateIdReserved(2))
        );
    }

    #[test]
    fn error_too_long() {
        let mut buf = vec![0; 600_000];
        // 65536 fields: the Field Count does not fit.
        let many = vec![FieldSpec::new(1, 4); 65536];
        assert_eq!(
            write_template_record(&mut buf, 256, &many),
            Err(WireError::TooLong)
        );
        assert_eq!(
            write_options_template_record(&mut buf, 256, &many[..1], &many[1..]),
            Err(WireError::TooLong)
        );
        // 16384 fields fit the count but not a set: 4 + 65536 bytes.
        assert_eq!(
            write_template_record(&mut buf, 256, &many[..16384]),
            Err(WireError::TooLong)
        );
        // A variable-length value over 65535 bytes.
        assert_eq!(
            write_variable_length(&mut buf, &vec![0; 65536]),
            Err(WireError::TooLong)
        );
    }

    #[test]
    fn errors_display() {
        let errors = [
            WireError::BufferTooShort {
                needed: 24,
                available: 23,
            },
            WireError::ElementIdTooLarge(0x8000),
            WireError::ZeroLengthField,
            WireError::NoFields,
            WireError::ZeroScopeCount,
            WireError::TooLong,
            WireError::TemplateIdReserved(2),
        ];
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(texts[0], "buffer too short: need 24 bytes, have 23");
        assert_eq!(
            texts[1],
            "information element id 0x8000 exceeds 0x7fff (top bit is the enterprise bit)"
        );
        for (i, a) in texts.iter().enumerate() {
            assert!(!a.is_empty());
            assert!(texts[i + 1..].iter().all(|b| a != b));
        }
    }
}
