//! Counters per report and per exporter. Workers bump their own per-thread block (plain
//! loads and stores of relaxed atomics, no read-modify-write, no shared line); readers sum.

#![allow(non_camel_case_types)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What was exported, as read through the C API and shown by the CLI.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vpp_ipfix_counters_t {
    /// Data packets handed to the embedder.
    pub packets: u64,
    /// Data records in those packets.
    pub data_records: u64,
    /// Bytes of those packets as the library built them, from the IP header (or the room
    /// kept for it when the host writes IP and UDP, as a UDP socket does).
    pub bytes: u64,
    /// Template packets handed to the embedder.
    pub templates: u64,
    /// Buffers the embedder could not allocate.
    pub alloc_failures: u64,
    /// Data and template packets the host refused or failed to deliver, or that were
    /// discarded (their records are lost).
    pub dropped_packets: u64,
    /// Data records in dropped packets.
    pub dropped_records: u64,
}

impl vpp_ipfix_counters_t {
    /// Adds another set of counters to this one.
    pub fn add(&mut self, o: &vpp_ipfix_counters_t) {
        self.packets += o.packets;
        self.data_records += o.data_records;
        self.bytes += o.bytes;
        self.templates += o.templates;
        self.alloc_failures += o.alloc_failures;
        self.dropped_packets += o.dropped_packets;
        self.dropped_records += o.dropped_records;
    }
}

/// One thread's counters for one report, on its own cache lines.
#[repr(C, align(128))]
#[derive(Debug, Default)]
pub struct ThreadCounters {
    packets: AtomicU64,
    data_records: AtomicU64,
    bytes: AtomicU64,
    alloc_failures: AtomicU64,
    dropped_packets: AtomicU64,
    dropped_records: AtomicU64,
}

/// Only the owning thread writes, so load + store is exact and costs no locked op.
fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Relaxed).wrapping_add(by), Relaxed);
}

impl ThreadCounters {
    /// A data packet went out.
    pub fn sent(&self, records: u64, bytes: u64) {
        bump(&self.packets, 1);
        bump(&self.data_records, records);
        bump(&self.bytes, bytes);
    }

    /// A data packet was lost.
    pub fn dropped(&self, records: u64) {
        bump(&self.dropped_packets, 1);
        bump(&self.dropped_records, records);
    }

    /// A buffer could not be allocated.
    pub fn alloc_failed(&self) {
        bump(&self.alloc_failures, 1);
    }

    /// This block's values.
    pub fn read(&self) -> vpp_ipfix_counters_t {
        vpp_ipfix_counters_t {
            packets: self.packets.load(Relaxed),
            data_records: self.data_records.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            templates: 0,
            alloc_failures: self.alloc_failures.load(Relaxed),
            dropped_packets: self.dropped_packets.load(Relaxed),
            dropped_records: self.dropped_records.load(Relaxed),
        }
    }
}

/// Template sends of one report (main thread only, but read from anywhere).
#[derive(Debug, Default)]
pub struct TemplateCounters {
    sent: AtomicU64,
    /// IPFIX message bytes of the templates sent (RFC 7011 §4.3 counts these).
    octets: AtomicU64,
    alloc_failures: AtomicU64,
    dropped: AtomicU64,
}

impl TemplateCounters {
    /// A template packet went out, its IPFIX message `message_octets` long.
    pub fn sent(&self, message_octets: u64) {
        self.sent.fetch_add(1, Relaxed);
        self.octets.fetch_add(message_octets, Relaxed);
    }

    /// IPFIX message bytes of the templates sent.
    pub fn octets(&self) -> u64 {
        self.octets.load(Relaxed)
    }
    /// A template packet could not get a buffer.
    pub fn alloc_failed(&self) {
        self.alloc_failures.fetch_add(1, Relaxed);
    }
    /// A template packet was refused.
    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Relaxed);
    }
    /// Adds these to `to`.
    pub fn read_into(&self, to: &mut vpp_ipfix_counters_t) {
        to.templates += self.sent.load(Relaxed);
        to.alloc_failures += self.alloc_failures.load(Relaxed);
        to.dropped_packets += self.dropped.load(Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_thread_blocks_do_not_share_a_line() {
        assert_eq!(std::mem::size_of::<ThreadCounters>(), 128);
        let c = ThreadCounters::default();
        c.sent(3, 100);
        c.sent(2, 50);
        c.dropped(4);
        c.alloc_failed();
        let r = c.read();
        assert_eq!((r.packets, r.data_records, r.bytes), (2, 5, 150));
        assert_eq!(
            (r.dropped_packets, r.dropped_records, r.alloc_failures),
            (1, 4, 1)
        );
    }
}
