//! The datagrams each thread sent on a socket, and the ICMP errors read from the socket's
//! error queue matched against them.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::ffi::os;
use crate::state::locked;

use super::stats::{bump, Counted, ExporterCounters};
use super::SENT_RING;

/// The IPFIX message header: version, length, export time, sequence number, domain.
const IPFIX_HEADER_LEN: usize = 16;
/// The bytes of a message an ICMP error is matched on: the header and the first set's
/// ID, which tells a template message from a data message of the same sequence number.
const MATCHED_LEN: usize = IPFIX_HEADER_LEN + 4;

/// ICMP errors one read of a socket's error queue takes at most, so a flood of them
/// cannot hold a thread; the rest wait for the next read.
const DRAIN_MAX: usize = SENT_RING;

/// A datagram sent on a socket, as an ICMP error about it is matched.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SentDatagram {
    /// Its number on the socket, from 1; 0: a free slot (or matched, or never sent).
    pub(super) ticket: u64,
    /// The message's first bytes (`MATCHED_LEN`, fewer for a shorter message).
    pub(super) head: [u8; MATCHED_LEN],
    pub(super) head_len: u8,
    pub(super) exporter_index: u32,
    pub(super) len: u32,
    pub(super) records: u32,
    pub(super) is_template: bool,
}

impl SentDatagram {
    pub(super) fn counted(&self) -> Counted {
        Counted {
            len: self.len as usize,
            records: self.records,
            is_template: self.is_template,
        }
    }

    /// Whether losing `self` or `o` counts the same.
    fn counts_as(&self, o: &SentDatagram) -> bool {
        (self.counted(), self.exporter_index) == (o.counted(), o.exporter_index)
    }
}

/// The last [`SENT_RING`] datagrams one thread sent on a socket. Each thread has its own,
/// so a thread that stalls between recording its datagrams and sending them cannot see
/// them pushed out by other threads' datagrams before their errors come back; only the
/// thread records into it, any thread takes from it.
#[derive(Debug)]
pub(super) struct SentRing {
    /// Datagram `k` recorded is in slot `k % SENT_RING`.
    slots: Box<[SentDatagram]>,
    recorded: usize,
}

impl SentRing {
    fn new() -> Self {
        SentRing {
            slots: vec![SentDatagram::default(); SENT_RING].into_boxed_slice(),
            recorded: 0,
        }
    }

    /// Records a datagram about to be sent, numbered `ticket` on its socket: `message`,
    /// of `exporter_index`, which counts as `what` if lost.
    pub(super) fn record(
        &mut self,
        ticket: u64,
        exporter_index: u32,
        what: Counted,
        message: &[u8],
    ) {
        let head_len = message.len().min(MATCHED_LEN);
        let mut head = [0u8; MATCHED_LEN];
        head[..head_len].copy_from_slice(&message[..head_len]);
        self.slots[self.recorded % SENT_RING] = SentDatagram {
            ticket,
            head,
            head_len: head_len as u8,
            exporter_index,
            len: what.len as u32,
            records: what.records,
            is_template: what.is_template,
        };
        self.recorded += 1;
    }

    /// Forgets datagram `ticket`, one of the last `SENT_RING` recorded here (it was not
    /// sent), unless another thread took it.
    pub(super) fn forget(&mut self, ticket: u64) {
        if let Some(slot) = self.slots.iter_mut().find(|d| d.ticket == ticket) {
            slot.ticket = 0;
        }
    }

    /// The slot of the oldest datagram whose first bytes are `quoted` (at least the
    /// IPFIX header), and whether another one here would count differently.
    fn find(&self, quoted: &[u8]) -> Option<(usize, bool)> {
        let mut found: Option<(usize, bool)> = None;
        for (i, d) in self.slots.iter().enumerate() {
            let n = quoted.len().min(usize::from(d.head_len));
            if d.ticket == 0 || n < IPFIX_HEADER_LEN || d.head[..n] != quoted[..n] {
                continue;
            }
            found = Some(match found {
                None => (i, false),
                Some((f, differ)) => {
                    let other = &self.slots[f];
                    let differ = differ || !other.counts_as(d);
                    (if d.ticket < other.ticket { i } else { f }, differ)
                }
            });
        }
        found
    }
}

/// Every thread's [`SentRing`] for one socket.
#[derive(Debug, Default)]
pub(super) struct SentRecords {
    /// Added to when a thread first sends on the socket.
    pub(super) rings: Mutex<Vec<Arc<Mutex<SentRing>>>>,
    /// Numbers the datagrams sent on the socket, from 1 (0 marks a free slot), so the
    /// oldest of several alike is known across rings.
    pub(super) next_ticket: AtomicU64,
    /// The exporter that last sent on the socket: unattributed errors are counted there.
    pub(super) last_exporter: AtomicU32,
}

impl SentRecords {
    /// A new ring for a thread that starts sending on the socket.
    pub(super) fn add_ring(&self) -> Arc<Mutex<SentRing>> {
        let ring = Arc::new(Mutex::new(SentRing::new()));
        locked(&self.rings).push(Arc::clone(&ring));
        ring
    }

    /// Takes the datagram whose first bytes an ICMP error quoted, from any thread's ring.
    /// `None` when it quoted less than the IPFIX header, when no datagram has those
    /// bytes, or when several that would count differently do (they could be told apart
    /// only by guessing). Several alike (the same message sent twice) count the same:
    /// the oldest is taken.
    pub(super) fn take(&self, quoted: &[u8]) -> Option<SentDatagram> {
        if quoted.len() < IPFIX_HEADER_LEN {
            return None;
        }
        let quoted = &quoted[..quoted.len().min(MATCHED_LEN)];
        let rings = locked(&self.rings);
        // (ring, slot, the datagram) of the oldest match.
        let mut best: Option<(usize, usize, SentDatagram)> = None;
        for (r, ring) in rings.iter().enumerate() {
            let ring = locked(ring);
            let Some((slot, differ)) = ring.find(quoted) else {
                continue;
            };
            let d = ring.slots[slot];
            if differ || best.is_some_and(|(_, _, b)| !b.counts_as(&d)) {
                return None;
            }
            if best.is_none_or(|(_, _, b)| d.ticket < b.ticket) {
                best = Some((r, slot, d));
            }
        }
        let (r, slot, d) = best?;
        let mut ring = locked(&rings[r]);
        // Its thread may have reused the slot since the search.
        let taken = &mut ring.slots[slot];
        if taken.ticket != d.ticket {
            return None;
        }
        taken.ticket = 0;
        Some(d)
    }
}

/// Reads `socket`'s error queue (IP_RECVERR): each ICMP error names, by the start of the
/// datagram it quotes, a datagram of `records` (what was sent on the socket), counted
/// lost in `counters` (the reading thread's: all threads' counters are summed). Errors
/// the kernel raised itself were already reported by the send that failed.
pub(super) fn read_icmp_errors(
    socket: &UdpSocket,
    records: &SentRecords,
    counters: &[ExporterCounters],
) {
    let mut quoted = [0u8; MATCHED_LEN];
    for _ in 0..DRAIN_MAX {
        let error = match os::recv_queued_error(socket, &mut quoted) {
            Ok(Some(e)) => e,
            // Empty, or unreadable (then the next read tries again).
            Ok(None) | Err(_) => return,
        };
        if !error.icmp {
            continue;
        }
        let kind = os::send_error_kind(&std::io::Error::from_raw_os_error(error.errno));
        match records.take(&quoted[..error.payload_len]) {
            Some(d) => {
                if let Some(c) = counters.get(d.exporter_index as usize) {
                    c.lost_after_send(d.counted(), kind);
                }
            }
            None => {
                let exporter = records.last_exporter.load(Relaxed);
                if let Some(c) = counters.get(exporter as usize) {
                    bump(&c.unattributed_refusals, 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::udp::test_util::message;

    #[test]
    fn errors_are_matched_on_the_header_and_the_first_set_id_across_threads() {
        let records = SentRecords::default();
        let (ring_a, ring_b) = (records.add_ring(), records.add_ring());
        let what = |records, is_template| Counted {
            len: 60,
            records,
            is_template,
        };
        let ticket = || records.next_ticket.fetch_add(1, Relaxed) + 1;
        // A template and a data message of the same domain, sequence, length and time,
        // sent by two threads.
        let template = message(1, 5, 2, 60);
        let data = message(1, 5, 256, 60);
        locked(&ring_a).record(ticket(), 0, what(0, true), &template);
        locked(&ring_b).record(ticket(), 0, what(3, false), &data);
        assert!(
            records.take(&data[..16]).is_none(),
            "the header alone: ambiguous"
        );
        assert!(records.take(&data[..15]).is_none(), "less than the header");
        let other = message(1, 6, 256, 60);
        assert!(records.take(&other[..20]).is_none(), "no such sequence");
        let d = records.take(&data[..20]).unwrap();
        assert_eq!((d.records, d.is_template), (3, false));
        assert!(records.take(&data[..20]).is_none(), "taken once");
        // Alone now: the header names it.
        assert!(records.take(&template[..16]).unwrap().is_template);

        // The same message twice counts the same: the older one goes first, whichever
        // thread sent it.
        let (t1, t2) = (ticket(), ticket());
        locked(&ring_b).record(t1, 1, what(2, false), &data);
        locked(&ring_a).record(t2, 1, what(2, false), &data);
        assert_eq!(records.take(&data).unwrap().ticket, t1);
        // A datagram not sent is forgotten.
        locked(&ring_a).forget(t2);
        assert!(records.take(&data).is_none());

        // A thread's datagrams are pushed out by its own only, SENT_RING later.
        let old = message(2, 0, 256, 40);
        locked(&ring_a).record(ticket(), 1, what(1, false), &old);
        for k in 1..=SENT_RING as u32 {
            locked(&ring_b).record(ticket(), 1, what(1, false), &message(2, k, 256, 40));
        }
        assert!(records.take(&old).is_some());
        locked(&ring_a).record(ticket(), 1, what(1, false), &old);
        for k in 1..=SENT_RING as u32 {
            locked(&ring_a).record(ticket(), 1, what(1, false), &message(3, k, 256, 40));
        }
        assert!(records.take(&old).is_none());
        assert!(records.take(&message(3, 1, 256, 40)).is_some());
    }
}
