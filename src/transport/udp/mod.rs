//! The UDP output: IPFIX messages sent from connected sockets, one per (source, collector)
//! pair, batched per thread and sent with `sendmmsg`; losses and why they happened
//! counted per exporter.
//!
//! The parts: `batch` holds a thread's datagrams, in the buffers the core wrote them
//! into (nothing is copied; a buffer goes back to the pool once `sendmmsg` returned),
//! and sends them, one call per socket and batch; `socket` opens the sockets and keeps
//! each thread's cache of them; `icmp` remembers what each thread sent on a socket and
//! matches the ICMP errors read back against it; `stats` holds the per-thread,
//! per-exporter counters.
//!
//! # What is counted lost
//!
//! A datagram is lost when there was no socket for it, when the kernel would not take it
//! (the send failed: no buffer space, no route...), or when an ICMP error came back for
//! it: no collector listening (port unreachable), host or network unreachable, time
//! exceeded, packet too big. Every datagram is counted once, sent or lost: a lost one's
//! records are the exporter's dropped records.
//!
//! ICMP errors are how a UDP sender learns that the network dropped a datagram, and a
//! connected socket alone says little: Linux keeps each ICMP error as one pending socket
//! error, which the NEXT send reports (and clears) whatever datagram it carries, several
//! errors merging into one. So every socket has IP_RECVERR (IPV6_RECVERR) on: each ICMP
//! error is also queued on the socket's error queue with the start of the datagram it is
//! about, its IPFIX message header (version, length, export time, sequence number,
//! observation domain) and first set ID. A thread reads that queue when it flushes, and
//! when a send on the socket shows an error is there: it failed with the pending error
//! an ICMP message leaves, or came back short (the kernel met that error inside the
//! call); it matches each ICMP error against the last [`SENT_RING`] datagrams each thread
//! sent on the socket: the one it names moves from sent to lost, with its records.
//! Reading the queue also clears the pending error. The send that failed with it did not
//! send its datagram: that one is tried once more in the call, the datagram the ICMP
//! message was about being counted through the queue. A send with nothing wrong costs
//! one `sendmmsg` per batch, no other system call.
//!
//! An ICMP error that names no datagram remembered (its thread sent `SENT_RING` more on
//! that socket before the error was read, or the ICMP message quoted less than the
//! 16-byte header, or it names two datagrams that count differently) is counted in
//! [`UdpStats::unattributed_refusals`]; its datagram stays counted sent, never guessed.
//!
//! What no UDP sender can know: a datagram lost with no ICMP error coming back. Filtered
//! on the way, lost in the network, dropped by a collector that is up but overloaded, or
//! refused by a host that rate-limits its ICMP errors (off loopback Linux sends a source
//! about one port unreachable a second after a burst of six): such datagrams are counted
//! sent. So are those whose ICMP error the kernel could not queue (the socket's receive
//! buffer full of unread errors). An ICMP error is counted when a thread reads it: after
//! the flush that sent its datagram when it comes back later than that. Without
//! IP_RECVERR (the kernel refused the option) the pending error fails the next send,
//! whose datagram, never sent, is counted lost instead of the one the ICMP was about.

mod batch;
mod icmp;
mod socket;
mod stats;
#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::ffi::os;
use crate::ops::{Lost, PacketInfo};
use crate::transport::pool::BufferPool;
use crate::wire::PacketBuf;

use batch::{counted, ThreadSlot};
pub use socket::SOCKET_RETRY;
use socket::{SocketKey, SocketTable, ThreadSocket};
pub use stats::UdpStats;
use stats::{sum, LossKind};

/// Datagrams a thread holds before it sends them all.
pub const BATCH: usize = 32;
// A batch's bookkeeping is a u64 bit set, u8 indices and fixed stack arrays.
const _: () = assert!(BATCH <= 64 && BATCH <= os::SENDMMSG_CHUNK);

/// Datagrams remembered per thread and socket once sent, for the ICMP errors that come
/// back about them: an error about an older one is unattributed.
pub const SENT_RING: usize = 256;

/// Size of the buffers of the pool [`UdpSender::new`] makes for [`UdpSender::push`]'s
/// copies: room for any message under the largest path MTU.
pub const BUFFER_SIZE: u32 = 2048;

/// Sends IPFIX messages over UDP from any number of threads.
#[derive(Debug)]
pub struct UdpSender {
    threads: Box<[ThreadSlot]>,
    sockets: SocketTable,
    /// Where a batch's buffers go once sent, and `push` takes its copies from.
    pool: Arc<BufferPool>,
}

impl UdpSender {
    /// A sender for threads `0..n_threads` (at least one), with a pool of its own.
    pub fn new(n_threads: u32) -> Self {
        Self::with_pool(
            n_threads,
            Arc::new(BufferPool::with_shards(BUFFER_SIZE, n_threads)),
        )
    }

    /// A sender for threads `0..n_threads` (at least one) whose sent buffers go back to
    /// `pool`, thread `t`'s to its shard `t`: the pool the host hands the core buffers
    /// from, so the buffers of [`push_packet`](Self::push_packet) go round.
    pub fn with_pool(n_threads: u32, pool: Arc<BufferPool>) -> Self {
        UdpSender {
            threads: (0..n_threads.max(1)).map(ThreadSlot::new).collect(),
            sockets: SocketTable::default(),
            pool,
        }
    }

    /// Thread `thread_index`'s slot. An index past the threads given at creation shares
    /// a slot (the lock keeps that correct) rather than losing packets.
    fn slot(&self, thread_index: u32) -> &ThreadSlot {
        let i = thread_index as usize;
        // Workers' indices are below the count: no division on the way.
        if i < self.threads.len() {
            &self.threads[i]
        } else {
            &self.threads[i % self.threads.len()]
        }
    }

    /// Queues a copy of `message` (one IPFIX message, which `info` describes); see
    /// [`push_packet`](Self::push_packet), which sends from the caller's buffer itself.
    pub fn push(&self, thread_index: u32, info: &PacketInfo, message: &[u8]) {
        let len = message.len();
        let mut buf = u32::try_from(len)
            .ok()
            .and_then(|n| self.pool.take_on(thread_index, n))
            .map_or_else(|| PacketBuf::from_boxed(message.into()), |(_, b)| b);
        if let Some(to) = buf.bytes_mut().get_mut(..len) {
            to.copy_from_slice(message);
        }
        self.push_packet(thread_index, info, buf, 0, len);
    }

    /// Queues the IPFIX message `packet[start..start + len]` (which `info` describes) on
    /// the thread's batch, and sends the batch when it is full. The buffer is sent from
    /// as it is (no copy), and goes back to the pool once `sendmmsg` has returned.
    ///
    /// A template is sent at once, with what the thread holds before it: the core sends
    /// templates from thread 0 and flushes no thread afterwards, and the data of other
    /// threads must not reach the collector before the template that describes it.
    ///
    /// A range outside the buffer is a caller's bug: the datagram is counted lost (an
    /// error other than the ones named), not sent.
    #[inline]
    pub fn push_packet(
        &self,
        thread_index: u32,
        info: &PacketInfo,
        packet: PacketBuf,
        start: usize,
        len: usize,
    ) {
        let slot = self.slot(thread_index);
        let in_buffer = start
            .checked_add(len)
            .is_some_and(|end| end <= packet.capacity() as usize && end <= u32::MAX as usize);
        let mut batch = slot.lock();
        let socket = if in_buffer {
            self.socket_index(&mut batch.sockets, info)
        } else {
            Err(LossKind::Error(os::SendErrorKind::Other))
        };
        match socket {
            Ok(socket) => {
                if batch.add(info, packet, start, len, socket) {
                    slot.send(&mut batch, &self.pool);
                }
            }
            Err(why) => {
                drop(batch);
                if let Some(c) = slot.counters(info.exporter_index) {
                    c.lost(counted(info, len), why);
                }
                self.pool.give_back_on(thread_index, packet);
            }
        }
    }

    /// Sends what thread `thread_index` holds, and counts the ICMP errors that came back
    /// on its sockets.
    pub fn flush(&self, thread_index: u32) {
        self.slot(thread_index).flush(&self.pool);
    }

    /// Sends what every thread holds, and counts the ICMP errors that came back
    /// (shutdown; workers stopped or not).
    pub fn flush_all(&self) {
        for slot in self.threads.iter() {
            slot.flush(&self.pool);
        }
    }

    /// Packets of `exporter_index` that were not sent, or that an ICMP error showed lost.
    pub fn lost(&self, exporter_index: u32) -> Lost {
        let s = self.stats(exporter_index);
        Lost {
            packets: s.lost_packets,
            records: s.lost_records,
            bytes: s.lost_bytes,
            templates: s.lost_templates,
        }
    }

    /// The counters of one exporter, all threads.
    pub fn stats(&self, exporter_index: u32) -> UdpStats {
        sum(self
            .threads
            .iter()
            .filter_map(|slot| slot.counters(exporter_index)))
    }

    /// The counters of every exporter, summed.
    pub fn total_stats(&self) -> UdpStats {
        sum(self.threads.iter().flat_map(|slot| slot.all_counters()))
    }

    /// Sockets open.
    pub fn sockets_open(&self) -> usize {
        self.sockets.open()
    }

    /// Attempts to create a socket that failed (at most one per pair per
    /// [`SOCKET_RETRY`]).
    pub fn socket_failures(&self) -> u64 {
        self.sockets.failures()
    }

    /// The index in the thread's cache of the socket for the packet `info` describes:
    /// from the cache, else from the shared table, else created now (unless a recent
    /// attempt failed).
    #[inline]
    fn socket_index(
        &self,
        sockets: &mut socket::ThreadSockets,
        info: &PacketInfo,
    ) -> Result<usize, LossKind> {
        if let Some(i) = sockets.find(info) {
            return Ok(i);
        }
        let key = SocketKey::of(info);
        let conn = self.sockets.connect(key).ok_or(LossKind::NoSocket)?;
        Ok(sockets.add(ThreadSocket::new(key, conn)))
    }
}

impl Drop for UdpSender {
    fn drop(&mut self) {
        self.flush_all();
    }
}
