//! The UDP output's counters: per thread and exporter, written by one thread without
//! locked instructions, summed when read.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::ffi::os::SendErrorKind;

/// What the UDP output did for one exporter (or, summed, for all). Every datagram offered
/// is counted once: `datagrams_sent + lost_datagrams()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Datagrams the kernel took, templates included, that no ICMP error was matched to
    /// (see the module documentation for what that leaves out).
    pub datagrams_sent: u64,
    /// Their bytes: IPFIX messages, without the IP and UDP headers the kernel adds.
    pub bytes_sent: u64,
    /// Data packets lost, their data records and bytes, and template packets lost (what
    /// `Embedder::lost` reports): not sent, or sent and an ICMP error matched to them.
    pub lost_packets: u64,
    pub lost_records: u64,
    pub lost_bytes: u64,
    pub lost_templates: u64,
    /// Why datagrams were lost, one count per lost datagram, from the failed send's error
    /// or the matched ICMP error's: ECONNREFUSED (port unreachable: no collector
    /// listening), ENOBUFS or EAGAIN (queues full), EHOSTUNREACH, ENETUNREACH, EHOSTDOWN
    /// or ENONET (no route, or the network said so), no socket (bind or connect failed,
    /// or waiting to retry), anything else (packet too big, parameter problem...).
    pub refused: u64,
    pub no_buffers: u64,
    pub unreachable: u64,
    pub no_socket: u64,
    pub other_errors: u64,
    /// ICMP errors read from a socket's error queue that matched no datagram remembered
    /// (its thread sent [`SENT_RING`](super::SENT_RING) more on the socket before the error was read, the
    /// ICMP message quoted less than the IPFIX header, or it matches two that count
    /// differently): a loss known to have happened, its datagram left counted sent.
    /// Counted for the exporter that last sent on the socket.
    pub unattributed_refusals: u64,
}

impl UdpStats {
    /// Adds `o` to these counters.
    pub fn add(&mut self, o: &UdpStats) {
        self.datagrams_sent += o.datagrams_sent;
        self.bytes_sent += o.bytes_sent;
        self.lost_packets += o.lost_packets;
        self.lost_records += o.lost_records;
        self.lost_bytes += o.lost_bytes;
        self.lost_templates += o.lost_templates;
        self.refused += o.refused;
        self.no_buffers += o.no_buffers;
        self.unreachable += o.unreachable;
        self.no_socket += o.no_socket;
        self.other_errors += o.other_errors;
        self.unattributed_refusals += o.unattributed_refusals;
    }

    /// Datagrams lost, whatever the reason.
    pub fn lost_datagrams(&self) -> u64 {
        self.lost_packets + self.lost_templates
    }
}

/// Why a datagram was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LossKind {
    /// The error of the send that failed, or of the ICMP message about it.
    Error(SendErrorKind),
    NoSocket,
}

/// What the counters need of a lost datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Counted {
    pub(super) len: usize,
    pub(super) records: u32,
    pub(super) is_template: bool,
}

/// One thread's counters for one exporter. Only the thread holding the slot's batch lock
/// writes them (load + store, exact, no locked instruction); readers load without the
/// lock, so reading stats never waits on a sending worker.
#[derive(Debug, Default)]
pub(super) struct ExporterCounters {
    /// Datagrams (and bytes) the kernel took, those later found lost included.
    pub(super) datagrams_taken: AtomicU64,
    pub(super) bytes_taken: AtomicU64,
    /// Of those, the ones an ICMP error was matched to (counted by whichever thread read
    /// it, so they are subtracted once every thread's counters are summed).
    pub(super) datagrams_taken_back: AtomicU64,
    pub(super) bytes_taken_back: AtomicU64,
    pub(super) lost_packets: AtomicU64,
    pub(super) lost_records: AtomicU64,
    pub(super) lost_bytes: AtomicU64,
    pub(super) lost_templates: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) no_buffers: AtomicU64,
    pub(super) unreachable: AtomicU64,
    pub(super) no_socket: AtomicU64,
    pub(super) other_errors: AtomicU64,
    pub(super) unattributed_refusals: AtomicU64,
}

pub(super) fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Relaxed).wrapping_add(by), Relaxed);
}

impl ExporterCounters {
    /// `datagrams` taken by the kernel, `bytes` in all.
    pub(super) fn sent(&self, datagrams: u64, bytes: u64) {
        bump(&self.datagrams_taken, datagrams);
        bump(&self.bytes_taken, bytes);
    }

    pub(super) fn lost(&self, d: Counted, kind: LossKind) {
        if d.is_template {
            bump(&self.lost_templates, 1);
        } else {
            bump(&self.lost_packets, 1);
            bump(&self.lost_records, u64::from(d.records));
            bump(&self.lost_bytes, d.len as u64);
        }
        bump(
            match kind {
                LossKind::Error(SendErrorKind::Refused) => &self.refused,
                LossKind::Error(SendErrorKind::NoBuffers) => &self.no_buffers,
                LossKind::Error(SendErrorKind::Unreachable) => &self.unreachable,
                LossKind::Error(SendErrorKind::Other) => &self.other_errors,
                LossKind::NoSocket => &self.no_socket,
            },
            1,
        );
    }

    /// A datagram counted sent (by any thread) that an ICMP error showed lost.
    pub(super) fn lost_after_send(&self, d: Counted, kind: SendErrorKind) {
        bump(&self.datagrams_taken_back, 1);
        bump(&self.bytes_taken_back, d.len as u64);
        self.lost(d, LossKind::Error(kind));
    }

    /// These counters, `datagrams_sent` and `bytes_sent` as taken (before the ICMP
    /// errors), and what the ICMP errors took back.
    fn read(&self) -> (UdpStats, [u64; 2]) {
        let stats = UdpStats {
            datagrams_sent: self.datagrams_taken.load(Relaxed),
            bytes_sent: self.bytes_taken.load(Relaxed),
            lost_packets: self.lost_packets.load(Relaxed),
            lost_records: self.lost_records.load(Relaxed),
            lost_bytes: self.lost_bytes.load(Relaxed),
            lost_templates: self.lost_templates.load(Relaxed),
            refused: self.refused.load(Relaxed),
            no_buffers: self.no_buffers.load(Relaxed),
            unreachable: self.unreachable.load(Relaxed),
            no_socket: self.no_socket.load(Relaxed),
            other_errors: self.other_errors.load(Relaxed),
            unattributed_refusals: self.unattributed_refusals.load(Relaxed),
        };
        let back = [
            self.datagrams_taken_back.load(Relaxed),
            self.bytes_taken_back.load(Relaxed),
        ];
        (stats, back)
    }
}

/// The sum of `counters` (threads' counters of one exporter, or of several).
pub(super) fn sum<'a>(counters: impl Iterator<Item = &'a ExporterCounters>) -> UdpStats {
    let mut total = UdpStats::default();
    let mut back = [0u64; 2];
    for c in counters {
        let (stats, b) = c.read();
        total.add(&stats);
        back[0] += b[0];
        back[1] += b[1];
    }
    // Saturating: read without locks, a loss may be seen before the send it takes back.
    total.datagrams_sent = total.datagrams_sent.saturating_sub(back[0]);
    total.bytes_sent = total.bytes_sent.saturating_sub(back[1]);
    total
}
