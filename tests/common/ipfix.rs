//! Decodes IPFIX messages (RFC 7011) strictly, keeping templates per transport session and observation domain.
//!
//! Layout reminders (all integers big-endian):
//! - Message header (§3.1), 16 bytes: version (10), length, export time,
//!   sequence number, observation domain id.
//! - Set header (§3.3.2), 4 bytes: set id, length (header included).
//!   Set id 2 = Template Set, 3 = Options Template Set, >= 256 = Data Set;
//!   0 and 1 are not used (historic NetFlow v9 ids), 4..=255 are reserved.
//! - Template record (§3.4.1): template id, field count, field specifiers.
//! - Options template record (§3.4.2.2): template id, field count, scope
//!   field count, field specifiers (scope fields first).
//! - Field specifier (§3.2): element id (top bit = enterprise bit), field
//!   length, and a 4-byte enterprise number when the enterprise bit is set.
//!   Field length 65535 means variable length (§7): each value is then
//!   preceded by a 1-byte length, or by 255 and a 2-byte length.

use std::collections::HashMap;

/// Field length announcing a variable-length field (§7).
pub const VARIABLE_LENGTH: u16 = 65535;

const MESSAGE_HEADER_LEN: usize = 16;
const SET_HEADER_LEN: usize = 4;
const TEMPLATE_SET_ID: u16 = 2;
const OPTIONS_TEMPLATE_SET_ID: u16 = 3;
const MIN_DATA_SET_ID: u16 = 256;
/// Trailing bytes of a (options) template set shorter than this, all zero,
/// are padding: the shortest record such a set can hold is a 4-byte
/// withdrawal record (§3.3.1, §8.1).
const TEMPLATE_SET_PADDING_LIMIT: usize = 4;

/// One field specifier of a template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldSpec {
    /// Information element id, without the enterprise bit.
    pub element_id: u16,
    /// Field length; [`VARIABLE_LENGTH`] (65535) for variable-length fields.
    pub length: u16,
    /// Enterprise number when the enterprise bit was set.
    pub enterprise: Option<u32>,
}

/// A template or options template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Template {
    pub id: u16,
    /// Number of scope fields (the first `scope_count` of `fields`); 0 for
    /// plain templates, always > 0 for options templates.
    pub scope_count: u16,
    pub fields: Vec<FieldSpec>,
}

impl Template {
    /// The fewest bytes a data record of this template can take: fixed
    /// lengths plus one length byte per variable-length field.
    pub fn min_record_len(&self) -> usize {
        self.fields
            .iter()
            .map(|f| {
                if f.length == VARIABLE_LENGTH {
                    1
                } else {
                    f.length as usize
                }
            })
            .sum()
    }
}

/// One decoded data record: the raw bytes of each field, in template order
/// (variable-length values without their length prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub template_id: u16,
    pub values: Vec<Vec<u8>>,
}

/// One decoded IPFIX message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub export_time: u32,
    pub sequence_number: u32,
    pub domain_id: u32,
    /// The header's length field (equal to the datagram payload length).
    pub length: u16,
    /// Templates defined in this message, in order.
    pub templates: Vec<Template>,
    /// Options templates defined in this message, in order.
    pub options_templates: Vec<Template>,
    /// Data records of all data sets (plain and options data), in order.
    pub data_records: Vec<Record>,
    /// Each data set in order: (set id, number of records). Data sets of
    /// unknown templates in lenient mode are not listed here.
    pub data_sets: Vec<(u16, usize)>,
    /// Set ids of data sets whose template was unknown (lenient mode only;
    /// in strict mode such a set is an error). One entry per set.
    pub unknown_data_sets: Vec<u16>,
    /// Ids of templates whose definition changed from what was known before
    /// (from an earlier message or earlier in this one).
    pub redefined_templates: Vec<u16>,
}

/// Stateful decoder: templates are remembered per (transport session,
/// observation domain, template id), as §8 scopes them.
#[derive(Debug, Default)]
pub struct Decoder {
    templates: HashMap<(String, u32, u16), Template>,
    lenient_unknown: bool,
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Big-endian unsigned integer of 1..=8 bytes (reduced-size encoding, §6.2,
/// is just a shorter big-endian integer). Panics on other lengths.
pub fn be_uint(bytes: &[u8]) -> u64 {
    assert!(
        (1..=8).contains(&bytes.len()),
        "be_uint: {} bytes, expected 1..=8",
        bytes.len()
    );
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64)
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// In lenient mode a data set for an unknown template is skipped and
    /// listed in [`Message::unknown_data_sets`] instead of being an error.
    pub fn set_lenient_unknown(&mut self, on: bool) {
        self.lenient_unknown = on;
    }

    /// The template currently known for (session, domain, id), if any.
    pub fn template(&self, session: &str, domain_id: u32, id: u16) -> Option<&Template> {
        self.templates.get(&(session.to_string(), domain_id, id))
    }

    /// Decodes one message. `bytes` must be exactly one IPFIX message (one
    /// per UDP datagram); `session` names the transport session, e.g.
    /// `"src_ip:src_port->dst_ip:dst_port"`. Error messages give byte offsets
    /// from the start of the message.
    pub fn decode(&mut self, session: &str, bytes: &[u8]) -> Result<Message, String> {
        if bytes.len() < MESSAGE_HEADER_LEN {
            return Err(format!(
                "ipfix: message is {} bytes, shorter than the {MESSAGE_HEADER_LEN}-byte header",
                bytes.len()
            ));
        }
        let version = be16(bytes, 0);
        if version != 10 {
            return Err(format!("ipfix: version {version} at offset 0, expected 10"));
        }
        let length = be16(bytes, 2);
        if length as usize != bytes.len() {
            return Err(format!(
                "ipfix: header length {length} at offset 2 != datagram payload length {} \
                 (exactly one message per datagram expected)",
                bytes.len()
            ));
        }
        let mut msg = Message {
            export_time: be32(bytes, 4),
            sequence_number: be32(bytes, 8),
            domain_id: be32(bytes, 12),
            length,
            templates: Vec::new(),
            options_templates: Vec::new(),
            data_records: Vec::new(),
            data_sets: Vec::new(),
            unknown_data_sets: Vec::new(),
            redefined_templates: Vec::new(),
        };

        let mut pos = MESSAGE_HEADER_LEN;
        let mut set_index = 0usize;
        while pos < bytes.len() {
            let left = bytes.len() - pos;
            if left < SET_HEADER_LEN {
                return Err(format!(
                    "ipfix: set {set_index} at offset {pos}: only {left} bytes left, \
                     not enough for a {SET_HEADER_LEN}-byte set header"
                ));
            }
            let set_id = be16(bytes, pos);
            let set_len = be16(bytes, pos + 2) as usize;
            let here = format!("ipfix: set {set_index} (id {set_id}) at offset {pos}");
            if set_len < SET_HEADER_LEN {
                return Err(format!(
                    "{here}: set length {set_len} is less than the {SET_HEADER_LEN}-byte set header"
                ));
            }
            if set_len > left {
                return Err(format!(
                    "{here}: set length {set_len} runs past the end of the message \
                     ({left} bytes left)"
                ));
            }
            let body_start = pos + SET_HEADER_LEN;
            let end = pos + set_len;
            match set_id {
                0 | 1 => {
                    return Err(format!(
                        "{here}: set id {set_id} is not used in IPFIX (RFC 7011 §3.3.2)"
                    ));
                }
                4..=255 => {
                    return Err(format!(
                        "{here}: set id {set_id} is reserved (RFC 7011 §3.3.2)"
                    ));
                }
                TEMPLATE_SET_ID | OPTIONS_TEMPLATE_SET_ID => {
                    self.template_set(session, &mut msg, bytes, set_id, body_start, end, &here)?;
                }
                _ => {
                    self.data_set(session, &mut msg, bytes, set_id, body_start, end, &here)?;
                }
            }
            pos = end;
            set_index += 1;
        }
        Ok(msg)
    }

    #[allow(clippy::too_many_arguments)]
    fn template_set(
        &mut self,
        session: &str,
        msg: &mut Message,
        bytes: &[u8],
        set_id: u16,
        start: usize,
        end: usize,
        here: &str,
    ) -> Result<(), String> {
        let options = set_id == OPTIONS_TEMPLATE_SET_ID;
        let kind = if options {
            "options template"
        } else {
            "template"
        };
        let mut pos = start;
        let mut record_index = 0usize;
        while pos < end {
            let left = end - pos;
            if left < TEMPLATE_SET_PADDING_LIMIT {
                if bytes[pos..end].iter().all(|&b| b == 0) {
                    break; // padding
                }
                return Err(format!(
                    "{here}: {left} trailing bytes at offset {pos} are neither a {kind} record \
                     nor zero padding"
                ));
            }
            let rec = format!("{here}: {kind} record {record_index} at offset {pos}");
            let template_id = be16(bytes, pos);
            let field_count = be16(bytes, pos + 2);
            if field_count == 0 {
                return Err(format!(
                    "{rec}: template withdrawal over UDP (template id {template_id}, field count 0; \
                     RFC 7011 §8)"
                ));
            }
            if template_id < MIN_DATA_SET_ID {
                return Err(format!("{rec}: template id {template_id} is below 256"));
            }
            pos += 4;
            let scope_count = if options {
                if end - pos < 2 {
                    return Err(format!(
                        "{rec}: options template record header runs past the end of the set \
                         (no room for the scope field count)"
                    ));
                }
                let scope_count = be16(bytes, pos);
                pos += 2;
                if scope_count == 0 {
                    return Err(format!(
                        "{rec}: options template {template_id} has scope field count 0"
                    ));
                }
                if scope_count > field_count {
                    return Err(format!(
                        "{rec}: options template {template_id} has scope field count {scope_count} \
                         > field count {field_count}"
                    ));
                }
                scope_count
            } else {
                0
            };
            let mut fields = Vec::with_capacity(field_count as usize);
            for field_index in 0..field_count {
                if end - pos < 4 {
                    return Err(format!(
                        "{rec}: field specifier {field_index} of template {template_id} at offset \
                         {pos} runs past the end of the set ({} bytes left, need 4)",
                        end - pos
                    ));
                }
                let raw_id = be16(bytes, pos);
                let length = be16(bytes, pos + 2);
                pos += 4;
                let enterprise = if raw_id & 0x8000 != 0 {
                    if end - pos < 4 {
                        return Err(format!(
                            "{rec}: enterprise number of field specifier {field_index} of template \
                             {template_id} at offset {pos} runs past the end of the set \
                             ({} bytes left, need 4)",
                            end - pos
                        ));
                    }
                    let number = be32(bytes, pos);
                    pos += 4;
                    Some(number)
                } else {
                    None
                };
                fields.push(FieldSpec {
                    element_id: raw_id & 0x7fff,
                    length,
                    enterprise,
                });
            }
            let template = Template {
                id: template_id,
                scope_count,
                fields,
            };
            if template.min_record_len() == 0 {
                return Err(format!(
                    "{rec}: {kind} {template_id} has only zero-length fixed fields, \
                     so its data records could not be delimited"
                ));
            }
            let key = (session.to_string(), msg.domain_id, template_id);
            if self.templates.get(&key).is_some_and(|old| *old != template) {
                msg.redefined_templates.push(template_id);
            }
            self.templates.insert(key, template.clone());
            if options {
                msg.options_templates.push(template);
            } else {
                msg.templates.push(template);
            }
            record_index += 1;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn data_set(
        &mut self,
        session: &str,
        msg: &mut Message,
        bytes: &[u8],
        set_id: u16,
        start: usize,
        end: usize,
        here: &str,
    ) -> Result<(), String> {
        let key = (session.to_string(), msg.domain_id, set_id);
        let Some(template) = self.templates.get(&key) else {
            if self.lenient_unknown {
                msg.unknown_data_sets.push(set_id);
                return Ok(());
            }
            return Err(format!(
                "{here}: data set for unknown template {set_id} (session {session}, domain {})",
                msg.domain_id
            ));
        };
        let min_len = template.min_record_len();
        let mut pos = start;
        let mut count = 0usize;
        while pos < end {
            let left = end - pos;
            if left < min_len {
                if bytes[pos..end].iter().all(|&b| b == 0) {
                    break; // padding
                }
                return Err(format!(
                    "{here}: {left} trailing bytes at offset {pos} after {count} records of \
                     template {set_id} are fewer than the minimum record length {min_len} \
                     but not all zero (not padding)"
                ));
            }
            let mut values = Vec::with_capacity(template.fields.len());
            for (field_index, field) in template.fields.iter().enumerate() {
                let field_at = pos;
                let len = if field.length == VARIABLE_LENGTH {
                    if pos >= end {
                        return Err(format!(
                            "{here}: record {count} field {field_index} (element {}) at offset \
                             {field_at}: variable-length prefix runs past the end of the set",
                            field.element_id
                        ));
                    }
                    let first = bytes[pos];
                    pos += 1;
                    if first < 255 {
                        first as usize
                    } else {
                        if end - pos < 2 {
                            return Err(format!(
                                "{here}: record {count} field {field_index} (element {}) at offset \
                                 {field_at}: 3-byte variable-length prefix runs past the end of the set",
                                field.element_id
                            ));
                        }
                        let long = be16(bytes, pos) as usize;
                        pos += 2;
                        long
                    }
                } else {
                    field.length as usize
                };
                if end - pos < len {
                    return Err(format!(
                        "{here}: record {count} field {field_index} (element {}) at offset \
                         {field_at}: value of {len} bytes runs past the end of the set \
                         ({} bytes left)",
                        field.element_id,
                        end - pos
                    ));
                }
                values.push(bytes[pos..pos + len].to_vec());
                pos += len;
            }
            msg.data_records.push(Record {
                template_id: set_id,
                values,
            });
            count += 1;
        }
        msg.data_sets.push((set_id, count));
        Ok(())
    }
}
