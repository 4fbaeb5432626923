//! Reads classic libpcap capture files (not pcapng) into their records.
//!
//! Format: a 24-byte global header (magic, version 2.4, thiszone, sigfigs,
//! snaplen, linktype) followed by records, each a 16-byte header (ts_sec,
//! ts_usec, incl_len, orig_len) and `incl_len` bytes of packet data. The
//! magic number, read in the file's byte order, is 0xa1b2c3d4 (microsecond
//! timestamps) or 0xa1b23c4d (nanosecond timestamps); reading it in the other
//! byte order tells us the file was written with the opposite endianness.

use std::path::Path;

/// One captured packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapRecord {
    pub ts_sec: u32,
    /// Sub-second part of the timestamp, as stored: microseconds for the
    /// 0xa1b2c3d4 magic, nanoseconds for the 0xa1b23c4d magic.
    pub ts_usec: u32,
    pub data: Vec<u8>,
}

const GLOBAL_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// Byte order of the file, decided by the magic number.
#[derive(Clone, Copy)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u16_at(self, bytes: &[u8], at: usize) -> u16 {
        let b = [bytes[at], bytes[at + 1]];
        match self {
            Order::Little => u16::from_le_bytes(b),
            Order::Big => u16::from_be_bytes(b),
        }
    }

    fn u32_at(self, bytes: &[u8], at: usize) -> u32 {
        let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        match self {
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        }
    }
}

/// Parses a whole classic pcap file held in memory.
///
/// Returns the link type (the full 32-bit header field) and the records in
/// file order. Besides the structure itself this checks: version 2.4, every
/// record's `incl_len <= snaplen`, `incl_len == orig_len` (the files under
/// test never truncate packets), the sub-second timestamp is below one second,
/// and nothing follows the last complete record.
pub fn read_pcap(bytes: &[u8]) -> Result<(u32, Vec<PcapRecord>), String> {
    if bytes.len() < GLOBAL_HEADER_LEN {
        return Err(format!(
            "pcap: file is {} bytes, shorter than the {GLOBAL_HEADER_LEN}-byte global header",
            bytes.len()
        ));
    }
    let magic_le = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let magic_be = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let (order, nanos) = if magic_le == MAGIC_MICROS {
        (Order::Little, false)
    } else if magic_le == MAGIC_NANOS {
        (Order::Little, true)
    } else if magic_be == MAGIC_MICROS {
        (Order::Big, false)
    } else if magic_be == MAGIC_NANOS {
        (Order::Big, true)
    } else {
        return Err(format!(
            "pcap: bad magic bytes {:02x} {:02x} {:02x} {:02x} at offset 0 \
             (expected a1b2c3d4 or a1b23c4d in either byte order)",
            bytes[0], bytes[1], bytes[2], bytes[3]
        ));
    };
    let major = order.u16_at(bytes, 4);
    let minor = order.u16_at(bytes, 6);
    if (major, minor) != (2, 4) {
        return Err(format!(
            "pcap: version {major}.{minor} at offset 4, expected 2.4"
        ));
    }
    let snaplen = order.u32_at(bytes, 16);
    let linktype = order.u32_at(bytes, 20);
    let subsecond_limit: u32 = if nanos { 1_000_000_000 } else { 1_000_000 };

    let mut records = Vec::new();
    let mut pos = GLOBAL_HEADER_LEN;
    while pos < bytes.len() {
        let index = records.len();
        let left = bytes.len() - pos;
        if left < RECORD_HEADER_LEN {
            return Err(format!(
                "pcap record {index} at offset {pos}: only {left} bytes left, \
                 not enough for a {RECORD_HEADER_LEN}-byte record header (trailing garbage?)"
            ));
        }
        let ts_sec = order.u32_at(bytes, pos);
        let ts_usec = order.u32_at(bytes, pos + 4);
        let incl_len = order.u32_at(bytes, pos + 8);
        let orig_len = order.u32_at(bytes, pos + 12);
        if ts_usec >= subsecond_limit {
            return Err(format!(
                "pcap record {index} at offset {pos}: sub-second timestamp {ts_usec} \
                 is not below {subsecond_limit}"
            ));
        }
        if incl_len > snaplen {
            return Err(format!(
                "pcap record {index} at offset {pos}: incl_len {incl_len} exceeds snaplen {snaplen}"
            ));
        }
        if incl_len != orig_len {
            return Err(format!(
                "pcap record {index} at offset {pos}: incl_len {incl_len} != orig_len {orig_len} \
                 (packet truncated)"
            ));
        }
        let data_start = pos + RECORD_HEADER_LEN;
        let data_len = incl_len as usize;
        let available = bytes.len() - data_start;
        if data_len > available {
            return Err(format!(
                "pcap record {index} at offset {pos}: incl_len {incl_len} but only \
                 {available} bytes remain in the file"
            ));
        }
        records.push(PcapRecord {
            ts_sec,
            ts_usec,
            data: bytes[data_start..data_start + data_len].to_vec(),
        });
        pos = data_start + data_len;
    }
    Ok((linktype, records))
}

/// Reads and parses a classic pcap file from disk; see [`read_pcap`].
pub fn read_pcap_file(path: &Path) -> Result<(u32, Vec<PcapRecord>), String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("pcap: cannot read {}: {e}", path.display()))?;
    read_pcap(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
