//! The UDP output: IPFIX messages sent from connected sockets, one per (source, collector)
//! pair, batched per thread and sent with `sendmmsg`; losses and why they happened
//! counted per exporter.
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
//! observation domain) and first set ID. A thread reads that queue before it sends a
//! socket's datagrams and when it flushes, and matches each ICMP error against the last
//! [`SENT_RING`] datagrams each thread sent on the socket: the one it names moves from
//! sent to lost, with its records. Reading the queue also clears the pending error. A send that still
//! fails with an error an ICMP message sets (it came between the read and the send) did
//! not send its datagram: that one is tried once more in the call, the datagram the ICMP
//! message was about being counted through the queue.
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

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::ffi::os::{self, SendErrorKind};
use crate::instance::MAX_EXPORTERS;
use crate::ops::{Lost, PacketInfo};
use crate::types::ip_address_t;

/// Datagrams a thread holds before it sends them all.
pub const BATCH: usize = 32;
// A batch's bookkeeping is a u64 bit set and fixed stack arrays.
const _: () = assert!(BATCH <= 64 && BATCH <= os::SENDMMSG_CHUNK);

/// How long a source/collector pair whose socket could not be created waits before the
/// next attempt: a misconfigured address costs one syscall a second, not one a packet.
pub const SOCKET_RETRY: Duration = Duration::from_secs(1);

/// Datagrams remembered per thread and socket once sent, for the ICMP errors that come
/// back about them: an error about an older one is unattributed.
pub const SENT_RING: usize = 256;

/// The IPFIX message header: version, length, export time, sequence number, domain.
const IPFIX_HEADER_LEN: usize = 16;
/// The bytes of a message an ICMP error is matched on: the header and the first set's
/// ID, which tells a template message from a data message of the same sequence number.
const MATCHED_LEN: usize = IPFIX_HEADER_LEN + 4;

/// ICMP errors one read of a socket's error queue takes at most, so a flood of them
/// cannot hold a thread; the rest wait for the next read.
const DRAIN_MAX: usize = SENT_RING;

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
    /// (its thread sent [`SENT_RING`] more on the socket before the error was read, the
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
enum LossKind {
    /// The error of the send that failed, or of the ICMP message about it.
    Error(SendErrorKind),
    NoSocket,
}

/// What the counters need of a lost datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counted {
    len: usize,
    records: u32,
    is_template: bool,
}

/// One thread's counters for one exporter. Only the thread holding the slot's batch lock
/// writes them (load + store, exact, no locked instruction); readers load without the
/// lock, so reading stats never waits on a sending worker.
#[derive(Debug, Default)]
struct ExporterCounters {
    /// Datagrams (and bytes) the kernel took, those later found lost included.
    datagrams_taken: AtomicU64,
    bytes_taken: AtomicU64,
    /// Of those, the ones an ICMP error was matched to (counted by whichever thread read
    /// it, so they are subtracted once every thread's counters are summed).
    datagrams_taken_back: AtomicU64,
    bytes_taken_back: AtomicU64,
    lost_packets: AtomicU64,
    lost_records: AtomicU64,
    lost_bytes: AtomicU64,
    lost_templates: AtomicU64,
    refused: AtomicU64,
    no_buffers: AtomicU64,
    unreachable: AtomicU64,
    no_socket: AtomicU64,
    other_errors: AtomicU64,
    unattributed_refusals: AtomicU64,
}

fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Relaxed).wrapping_add(by), Relaxed);
}

impl ExporterCounters {
    fn sent(&self, bytes: usize) {
        bump(&self.datagrams_taken, 1);
        bump(&self.bytes_taken, bytes as u64);
    }

    fn lost(&self, d: Counted, kind: LossKind) {
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
    fn lost_after_send(&self, d: Counted, kind: SendErrorKind) {
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
fn sum<'a>(counters: impl Iterator<Item = &'a ExporterCounters>) -> UdpStats {
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

/// Where a datagram goes: source address and port, collector address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SocketKey {
    local: SocketAddr,
    remote: SocketAddr,
}

impl SocketKey {
    fn of(info: &PacketInfo) -> Self {
        let addr = |a: &ip_address_t, port: u16| {
            let ip = if info.is_ip6 {
                IpAddr::V6(Ipv6Addr::from(a.ip))
            } else {
                IpAddr::V4(Ipv4Addr::from(a.v4_octets()))
            };
            SocketAddr::new(ip, port)
        };
        SocketKey {
            local: addr(&info.src_address, info.src_port),
            remote: addr(&info.dst_address, info.dst_port),
        }
    }
}

/// A datagram sent on a socket, as an ICMP error about it is matched.
#[derive(Clone, Copy, Debug, Default)]
struct SentDatagram {
    /// Its number on the socket, from 1; 0: a free slot (or matched, or never sent).
    ticket: u64,
    /// The message's first bytes (`MATCHED_LEN`, fewer for a shorter message).
    head: [u8; MATCHED_LEN],
    head_len: u8,
    exporter_index: u32,
    len: u32,
    records: u32,
    is_template: bool,
}

impl SentDatagram {
    fn counted(&self) -> Counted {
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
struct SentRing {
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

    /// Records a datagram about to be sent, numbered `ticket` on its socket.
    fn record(&mut self, ticket: u64, p: &Pending, message: &[u8]) {
        let head_len = message.len().min(MATCHED_LEN);
        let mut head = [0u8; MATCHED_LEN];
        head[..head_len].copy_from_slice(&message[..head_len]);
        self.slots[self.recorded % SENT_RING] = SentDatagram {
            ticket,
            head,
            head_len: head_len as u8,
            exporter_index: p.exporter_index,
            len: p.len as u32,
            records: p.records,
            is_template: p.is_template,
        };
        self.recorded += 1;
    }

    /// Forgets datagram `ticket`, one of the last `SENT_RING` recorded here (it was not
    /// sent), unless another thread took it.
    fn forget(&mut self, ticket: u64) {
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
struct SentRecords {
    /// Added to when a thread first sends on the socket.
    rings: Mutex<Vec<Arc<Mutex<SentRing>>>>,
    /// Numbers the datagrams sent on the socket, from 1 (0 marks a free slot), so the
    /// oldest of several alike is known across rings.
    next_ticket: AtomicU64,
    /// The exporter that last sent on the socket: unattributed errors are counted there.
    last_exporter: AtomicU32,
}

impl SentRecords {
    /// A new ring for a thread that starts sending on the socket.
    fn add_ring(&self) -> Arc<Mutex<SentRing>> {
        let ring = Arc::new(Mutex::new(SentRing::new()));
        lock(&self.rings).push(Arc::clone(&ring));
        ring
    }

    /// Takes the datagram whose first bytes an ICMP error quoted, from any thread's ring.
    /// `None` when it quoted less than the IPFIX header, when no datagram has those
    /// bytes, or when several that would count differently do (they could be told apart
    /// only by guessing). Several alike (the same message sent twice) count the same:
    /// the oldest is taken.
    fn take(&self, quoted: &[u8]) -> Option<SentDatagram> {
        if quoted.len() < IPFIX_HEADER_LEN {
            return None;
        }
        let quoted = &quoted[..quoted.len().min(MATCHED_LEN)];
        let rings = lock(&self.rings);
        // (ring, slot, the datagram) of the oldest match.
        let mut best: Option<(usize, usize, SentDatagram)> = None;
        for (r, ring) in rings.iter().enumerate() {
            let ring = lock(ring);
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
        let mut ring = lock(&rings[r]);
        // Its thread may have reused the slot since the search.
        let taken = &mut ring.slots[slot];
        if taken.ticket != d.ticket {
            return None;
        }
        taken.ticket = 0;
        Some(d)
    }
}

/// A lock on plain data, which a panic leaves consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A pair's open socket, shared by every thread that sends on it.
#[derive(Debug)]
struct Connection {
    socket: UdpSocket,
    /// With IP_RECVERR: what was sent, for the ICMP errors. `None` without it.
    sent: Option<SentRecords>,
}

impl Connection {
    fn new(c: os::ConnectedSocket) -> Self {
        Connection {
            socket: c.socket,
            sent: c.recverr.then(SentRecords::default),
        }
    }
}

/// A socket in a thread's cache, with the thread's ring for it (with IP_RECVERR).
#[derive(Debug)]
struct ThreadSocket {
    key: SocketKey,
    conn: Arc<Connection>,
    sent: Option<Arc<Mutex<SentRing>>>,
}

/// A pair's socket in the shared map: open, or failed and not to be retried before
/// `retry_at`.
#[derive(Debug)]
enum SocketState {
    Open(Arc<Connection>),
    Failed { retry_at: Instant },
}

/// A datagram waiting in a thread's batch: its bytes are `arena[start..start + len]`.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Index into the thread's `sockets`.
    socket: usize,
    start: usize,
    len: usize,
    exporter_index: u32,
    records: u32,
    is_template: bool,
}

/// One thread's datagrams waiting to be sent.
///
/// The messages are copied into `arena`, one buffer reused for every batch, rather than
/// kept in their pool buffers until the flush: the core's buffer goes back to the pool
/// at once (so the pool holds a few buffers, not 32 per thread), the file outputs see the
/// same short-lived buffer, and copying at most 1.5 KB is little beside the system call
/// the datagram shares with 31 others. Once the arena and `pending` have grown to one
/// full batch, nothing is allocated per packet.
#[derive(Debug, Default)]
struct ThreadBatch {
    arena: Vec<u8>,
    pending: Vec<Pending>,
    /// The sockets this thread has used: a private cache of the shared map, so the hot
    /// path takes no shared lock. Never shrinks, so `Pending::socket` stays valid.
    sockets: Vec<ThreadSocket>,
}

/// A thread's batch and counters, on cache lines of their own so threads never share one.
#[repr(align(128))]
#[derive(Debug)]
struct ThreadSlot {
    /// Uncontended in practice: only its worker uses it, and readers of the counters
    /// do not take it.
    batch: Mutex<ThreadBatch>,
    /// Per exporter.
    counters: Box<[ExporterCounters]>,
}

impl ThreadSlot {
    fn new() -> Self {
        ThreadSlot {
            batch: Mutex::new(ThreadBatch {
                pending: Vec::with_capacity(BATCH),
                ..Default::default()
            }),
            counters: (0..MAX_EXPORTERS)
                .map(|_| ExporterCounters::default())
                .collect(),
        }
    }

    /// The batch; a panic while it was held leaves counters and offsets consistent
    /// enough to go on (at worst a datagram is sent or lost twice in the counts).
    fn lock(&self) -> MutexGuard<'_, ThreadBatch> {
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn counters(&self, exporter_index: u32) -> Option<&ExporterCounters> {
        self.counters.get(exporter_index as usize)
    }

    /// Sends what the thread holds, then reads the ICMP errors of every socket it uses:
    /// those of what it just sent when they came back at once (loopback), and any that
    /// came back since its last send on a socket it has nothing more for.
    fn flush(&self) {
        let mut batch = self.lock();
        send(&mut batch, &self.counters);
        for s in &batch.sockets {
            read_icmp_errors(&s.conn, &self.counters);
        }
    }
}

/// Sends IPFIX messages over UDP from any number of threads.
#[derive(Debug)]
pub struct UdpSender {
    threads: Box<[ThreadSlot]>,
    /// Every pair's socket; locked only when a thread meets a pair for the first time,
    /// or while the pair's socket cannot be created.
    sockets: Mutex<HashMap<SocketKey, SocketState>>,
    socket_failures: AtomicU64,
}

impl UdpSender {
    /// A sender for threads `0..n_threads` (at least one).
    pub fn new(n_threads: u32) -> Self {
        UdpSender {
            threads: (0..n_threads.max(1)).map(|_| ThreadSlot::new()).collect(),
            sockets: Mutex::new(HashMap::new()),
            socket_failures: AtomicU64::new(0),
        }
    }

    /// Thread `thread_index`'s slot. An index past the threads given at creation shares
    /// a slot (the lock keeps that correct) rather than losing packets.
    fn slot(&self, thread_index: u32) -> &ThreadSlot {
        &self.threads[thread_index as usize % self.threads.len()]
    }

    /// Queues `message` (one IPFIX message, which `info` describes) on the thread's
    /// batch, and sends the batch when it is full. A template is sent at once, with what
    /// the thread holds before it: the core sends templates from thread 0 and flushes no
    /// thread afterwards, and the data of other threads must not reach the collector
    /// before the template that describes it.
    pub fn push(&self, thread_index: u32, info: &PacketInfo, message: &[u8]) {
        let slot = self.slot(thread_index);
        let mut batch = slot.lock();
        let Some(socket) = self.socket_index(&mut batch, SocketKey::of(info)) else {
            if let Some(c) = slot.counters(info.exporter_index) {
                c.lost(
                    Pending::of(info, 0, 0, message.len()).counted(),
                    LossKind::NoSocket,
                );
            }
            return;
        };
        let start = batch.arena.len();
        batch.arena.extend_from_slice(message);
        batch
            .pending
            .push(Pending::of(info, socket, start, message.len()));
        if info.is_template || batch.pending.len() >= BATCH {
            send(&mut batch, &slot.counters);
        }
    }

    /// Sends what thread `thread_index` holds, and counts the ICMP errors that came back
    /// on its sockets.
    pub fn flush(&self, thread_index: u32) {
        self.slot(thread_index).flush();
    }

    /// Sends what every thread holds, and counts the ICMP errors that came back
    /// (shutdown; workers stopped or not).
    pub fn flush_all(&self) {
        for slot in self.threads.iter() {
            slot.flush();
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
        sum(self.threads.iter().flat_map(|slot| slot.counters.iter()))
    }

    /// Sockets open.
    pub fn sockets_open(&self) -> usize {
        self.map()
            .values()
            .filter(|s| matches!(s, SocketState::Open(_)))
            .count()
    }

    /// Attempts to create a socket that failed (at most one per pair per
    /// [`SOCKET_RETRY`]).
    pub fn socket_failures(&self) -> u64 {
        self.socket_failures.load(Relaxed)
    }

    fn map(&self) -> MutexGuard<'_, HashMap<SocketKey, SocketState>> {
        // The map is only inserted into: a panic mid-insert leaves it usable.
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The index of `key`'s socket in the thread's cache: from the cache, else from the
    /// shared map, else created now (unless a recent attempt failed). `None` when there
    /// is no socket.
    fn socket_index(&self, batch: &mut ThreadBatch, key: SocketKey) -> Option<usize> {
        if let Some(i) = batch.sockets.iter().position(|s| s.key == key) {
            return Some(i);
        }
        let conn = {
            let mut map = self.map();
            let now = Instant::now();
            match map.get(&key) {
                Some(SocketState::Open(s)) => Arc::clone(s),
                Some(SocketState::Failed { retry_at }) if now < *retry_at => return None,
                _ => match os::connected_udp_socket(key.local, key.remote) {
                    Ok(s) => {
                        let s = Arc::new(Connection::new(s));
                        map.insert(key, SocketState::Open(Arc::clone(&s)));
                        s
                    }
                    Err(_) => {
                        self.socket_failures.fetch_add(1, Relaxed);
                        let retry_at = now + SOCKET_RETRY;
                        map.insert(key, SocketState::Failed { retry_at });
                        return None;
                    }
                },
            }
        };
        // Made once per thread and socket: sending allocates nothing afterwards.
        let sent = conn.sent.as_ref().map(SentRecords::add_ring);
        batch.sockets.push(ThreadSocket { key, conn, sent });
        Some(batch.sockets.len() - 1)
    }
}

impl Drop for UdpSender {
    fn drop(&mut self) {
        self.flush_all();
    }
}

impl Pending {
    fn of(info: &PacketInfo, socket: usize, start: usize, len: usize) -> Self {
        Pending {
            socket,
            start,
            len,
            exporter_index: info.exporter_index,
            records: info.records,
            is_template: info.is_template,
        }
    }

    fn counted(&self) -> Counted {
        Counted {
            len: self.len,
            records: self.records,
            is_template: self.is_template,
        }
    }
}

/// Sends a thread's batch: all datagrams of one socket together, in their order, after
/// reading the socket's ICMP errors. Leaves the batch empty.
fn send(batch: &mut ThreadBatch, counters: &[ExporterCounters]) {
    let ThreadBatch {
        arena,
        pending,
        sockets,
    } = batch;
    let n = pending.len().min(BATCH);
    let mut done: u64 = 0;
    for first in 0..n {
        if done & (1 << first) != 0 {
            continue;
        }
        let socket_index = pending[first].socket;
        // This socket's datagrams, from `first` on: their indices and bytes.
        let mut group = [0usize; BATCH];
        let mut bytes: [&[u8]; BATCH] = [&[]; BATCH];
        let mut len = 0;
        for (i, p) in pending.iter().enumerate().take(n).skip(first) {
            if done & (1 << i) == 0 && p.socket == socket_index {
                group[len] = i;
                bytes[len] = arena.get(p.start..p.start + p.len).unwrap_or(&[]);
                len += 1;
                done |= 1 << i;
            }
        }
        let Some(socket) = sockets.get(socket_index) else {
            continue;
        };
        // Errors that came back since the last read: counted, and the pending error they
        // left cleared, so it fails none of these datagrams.
        read_icmp_errors(&socket.conn, counters);
        send_group(socket, &group[..len], &bytes[..len], pending, counters);
    }
    arena.clear();
    pending.clear();
}

/// Sends one socket's datagrams; counts each as sent or lost. A send that fails with an
/// error an ICMP message left, about an earlier datagram, did not send its own: with
/// the error queue (which counts the earlier one) it is tried once more, once a call so
/// that a lasting error (no route) costs one call, not a loop. Other failed datagrams
/// are counted lost, and the rest still goes out (one more `send_batch` each).
fn send_group(
    socket: &ThreadSocket,
    group: &[usize],
    bytes: &[&[u8]],
    pending: &[Pending],
    counters: &[ExporterCounters],
) {
    let counters_of = |i: usize| counters.get(pending[i].exporter_index as usize);
    let conn = &*socket.conn;
    // Recorded before the send: another thread reading this socket's errors may meet
    // the ICMP error of one of these before `send_batch` returns.
    let recorded = conn.sent.as_ref().zip(socket.sent.as_ref());
    let first_ticket = recorded.map(|(records, ring)| {
        let first = records.next_ticket.fetch_add(group.len() as u64, Relaxed) + 1;
        let mut ring = lock(ring);
        for (k, (&i, message)) in group.iter().zip(bytes).enumerate() {
            ring.record(first + k as u64, &pending[i], message);
        }
        if let Some(&last) = group.last() {
            records
                .last_exporter
                .store(pending[last].exporter_index, Relaxed);
        }
        first
    });
    let mut not_sent: u64 = 0;
    let mut retried = false;
    let mut next = 0;
    while next < group.len() {
        let (sent, error) = os::send_batch(&conn.socket, &bytes[next..]);
        for &i in &group[next..next + sent] {
            if let Some(c) = counters_of(i) {
                c.sent(pending[i].len);
            }
        }
        next += sent;
        let Some(e) = error else { break };
        if first_ticket.is_some() && !retried && os::is_icmp_error(&e) {
            retried = true;
            read_icmp_errors(conn, counters);
            continue;
        }
        let i = group[next];
        if let Some(c) = counters_of(i) {
            c.lost(
                pending[i].counted(),
                LossKind::Error(os::send_error_kind(&e)),
            );
        }
        not_sent |= 1 << next;
        next += 1;
    }
    if let (Some(first), Some((_, ring))) = (first_ticket, recorded) {
        if not_sent != 0 {
            let mut ring = lock(ring);
            for k in (0..group.len()).filter(|k| not_sent & (1 << k) != 0) {
                ring.forget(first + k as u64);
            }
        }
    }
}

/// Reads `conn`'s error queue (IP_RECVERR): each ICMP error names, by the start of the
/// datagram it quotes, a datagram sent on the socket, counted lost in `counters` (the
/// reading thread's: all threads' counters are summed). Errors the kernel raised itself
/// were already reported by the send that failed.
fn read_icmp_errors(conn: &Connection, counters: &[ExporterCounters]) {
    let Some(records) = &conn.sent else {
        return;
    };
    let mut quoted = [0u8; MATCHED_LEN];
    for _ in 0..DRAIN_MAX {
        let error = match os::recv_queued_error(&conn.socket, &mut quoted) {
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

    fn info(exporter_index: u32, src: SocketAddr, dst: SocketAddr, records: u32) -> PacketInfo {
        let ip = |a: SocketAddr| match a.ip() {
            IpAddr::V4(v4) => ip_address_t::v4(v4.octets()),
            IpAddr::V6(v6) => ip_address_t::v6(v6.octets()),
        };
        PacketInfo {
            length: 0,
            message_offset: 0,
            fib_index: !0,
            exporter_index,
            records,
            domain_id: 1,
            src_port: src.port(),
            dst_port: dst.port(),
            src_address: ip(src),
            dst_address: ip(dst),
            is_ip6: dst.is_ipv6(),
            is_template: records == 0,
        }
    }

    fn receiver() -> (UdpSocket, SocketAddr) {
        let r = UdpSocket::bind("127.0.0.1:0").unwrap();
        r.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let a = r.local_addr().unwrap();
        (r, a)
    }

    fn drain(r: &UdpSocket) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        r.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        while let Ok((n, from)) = r.recv_from(&mut buf) {
            out.push((from, buf[..n].to_vec()));
        }
        out
    }

    #[test]
    fn a_full_batch_goes_out_without_a_flush() {
        let (rx, dst) = receiver();
        let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let udp = UdpSender::new(2);
        for i in 0..BATCH + 3 {
            udp.push(1, &info(0, src, dst, 1), &[i as u8; 20]);
        }
        let got = drain(&rx);
        assert_eq!(got.len(), BATCH, "the full batch, not the 3 after it");
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, (_, m))| m == &vec![i as u8; 20]));
        udp.flush(1);
        assert_eq!(drain(&rx).len(), 3);
        let s = udp.stats(0);
        assert_eq!(
            (s.datagrams_sent, s.bytes_sent),
            (BATCH as u64 + 3, 20 * 35)
        );
        assert_eq!(udp.sockets_open(), 1);
    }

    #[test]
    fn a_template_goes_out_at_once_after_what_the_thread_held() {
        let (rx, dst) = receiver();
        let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let udp = UdpSender::new(1);
        udp.push(0, &info(0, src, dst, 5), b"data");
        udp.push(0, &info(0, src, dst, 0), b"template");
        let got: Vec<Vec<u8>> = drain(&rx).into_iter().map(|(_, m)| m).collect();
        assert_eq!(got, vec![b"data".to_vec(), b"template".to_vec()]);
    }

    #[test]
    fn datagrams_of_two_collectors_keep_their_order() {
        let (rx_a, a) = receiver();
        let (rx_b, b) = receiver();
        let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let udp = UdpSender::new(1);
        for i in 0..10u8 {
            let (dst, exporter) = if i % 3 == 0 { (a, 0) } else { (b, 1) };
            udp.push(0, &info(exporter, src, dst, 1), &[i]);
        }
        udp.flush(0);
        let got = |r: &UdpSocket| -> Vec<u8> { drain(r).into_iter().map(|(_, m)| m[0]).collect() };
        assert_eq!(got(&rx_a), vec![0, 3, 6, 9]);
        assert_eq!(got(&rx_b), vec![1, 2, 4, 5, 7, 8]);
        assert_eq!(udp.stats(0).datagrams_sent, 4);
        assert_eq!(udp.stats(1).datagrams_sent, 6);
        assert_eq!(udp.total_stats().datagrams_sent, 10);
        assert_eq!(udp.sockets_open(), 2);
    }

    #[test]
    fn a_source_that_cannot_be_bound_loses_packets_and_is_retried_later() {
        let (_rx, dst) = receiver();
        let src: SocketAddr = "198.51.100.1:30001".parse().unwrap();
        assert!(
            os::connected_udp_socket(src, dst).is_err(),
            "198.51.100.1 is local here"
        );
        let udp = UdpSender::new(1);
        let started = Instant::now();
        for _ in 0..100 {
            udp.push(0, &info(3, src, dst, 7), b"data");
        }
        udp.push(0, &info(3, src, dst, 0), b"template");
        udp.flush(0);
        let s = udp.stats(3);
        assert_eq!((s.lost_packets, s.lost_records), (100, 700));
        assert_eq!((s.lost_templates, s.no_socket), (1, 101));
        assert_eq!(s.datagrams_sent, 0);
        assert_eq!(
            udp.lost(3),
            Lost {
                packets: 100,
                records: 700,
                bytes: 400,
                templates: 1,
            }
        );
        let attempts_allowed = 1 + started.elapsed().as_secs();
        assert!(udp.socket_failures() >= 1);
        assert!(udp.socket_failures() <= attempts_allowed);
        assert_eq!(udp.sockets_open(), 0);
    }

    /// An IPFIX message of `len` bytes (at least 20): header, then one set `set_id`.
    fn message(domain: u32, sequence: u32, set_id: u16, len: usize) -> Vec<u8> {
        let mut m = vec![0u8; len];
        m[0..2].copy_from_slice(&10u16.to_be_bytes());
        m[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        m[4..8].copy_from_slice(&1_700_000_000u32.to_be_bytes());
        m[8..12].copy_from_slice(&sequence.to_be_bytes());
        m[12..16].copy_from_slice(&domain.to_be_bytes());
        m[16..18].copy_from_slice(&set_id.to_be_bytes());
        m[18..20].copy_from_slice(&(len as u16 - 16).to_be_bytes());
        m
    }

    /// A port nobody listens on.
    fn closed_port(ip: IpAddr) -> Option<SocketAddr> {
        UdpSocket::bind((ip, 0)).ok()?.local_addr().ok()
    }

    /// Flushes every thread until `done` holds of the total (ICMP errors on loopback come
    /// back during the send, or soon after when the kernel defers them), for 2 s at most.
    fn flush_until(udp: &UdpSender, done: impl Fn(&UdpStats) -> bool) -> UdpStats {
        let started = Instant::now();
        loop {
            udp.flush_all();
            let s = udp.total_stats();
            if done(&s) || started.elapsed() > Duration::from_secs(2) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn every_datagram_to_a_closed_port_is_counted_lost_once() {
        for ip in [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ] {
            let Some(dst) = closed_port(ip) else {
                eprintln!("no {ip} here; skipped");
                continue;
            };
            let src = SocketAddr::new(ip, 0);
            let udp = UdpSender::new(2);
            let (mut records, mut bytes) = (0u64, 0u64);
            for seq in 0..100u32 {
                // A template and a data message with the same header but for the set ID.
                if seq % 25 == 0 {
                    udp.push(0, &info(2, src, dst, 0), &message(7, seq, 2, 60));
                }
                let m = message(7, seq, 256, 60 + seq as usize);
                udp.push(seq % 2, &info(2, src, dst, 1 + seq % 3), &m);
                records += u64::from(1 + seq % 3);
                bytes += m.len() as u64;
            }
            let s = flush_until(&udp, |s| s.lost_datagrams() == 104);
            assert_eq!(s.datagrams_sent + s.lost_datagrams(), 104, "{ip}: {s:?}");
            assert_eq!((s.datagrams_sent, s.bytes_sent), (0, 0), "{ip}: {s:?}");
            assert_eq!(
                (
                    s.lost_packets,
                    s.lost_records,
                    s.lost_bytes,
                    s.lost_templates
                ),
                (100, records, bytes, 4),
                "{ip}: {s:?}"
            );
            assert_eq!(
                (s.refused, s.unattributed_refusals),
                (104, 0),
                "{ip}: {s:?}"
            );
            assert_eq!(udp.stats(2), s);
            assert_eq!(
                udp.lost(2),
                Lost {
                    packets: 100,
                    records,
                    bytes,
                    templates: 4,
                }
            );
        }
    }

    #[test]
    fn an_open_and_a_closed_collector_in_one_batch_are_told_apart() {
        let (rx, open) = receiver();
        let closed = closed_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let udp = UdpSender::new(1);
        // The same messages to both: the sockets' rings keep them apart.
        for seq in 0..(3 * BATCH as u32) {
            let m = message(1, seq, 256, 40);
            udp.push(0, &info(0, src, open, 1), &m);
            udp.push(0, &info(1, src, closed, 1), &m);
        }
        flush_until(&udp, |s| s.lost_packets == 3 * BATCH as u64);
        let n = 3 * BATCH as u64;
        assert_eq!(drain(&rx).len() as u64, n);
        let (a, b) = (udp.stats(0), udp.stats(1));
        assert_eq!((a.datagrams_sent, a.lost_datagrams()), (n, 0), "{a:?}");
        assert_eq!((b.datagrams_sent, b.lost_datagrams()), (0, n), "{b:?}");
        assert_eq!((b.lost_records, b.refused), (n, n), "{b:?}");
        assert_eq!(a.unattributed_refusals + b.unattributed_refusals, 0);
    }

    #[test]
    fn threads_sharing_a_socket_count_each_others_refused_datagrams() {
        let dst = closed_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let udp = Arc::new(UdpSender::new(4));
        let workers: Vec<_> = (0..4u32)
            .map(|t| {
                let udp = Arc::clone(&udp);
                std::thread::spawn(move || {
                    for k in 0..200u32 {
                        udp.push(t, &info(0, src, dst, 2), &message(t, k, 256, 48));
                        if k % 50 == 49 {
                            udp.flush(t);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let s = flush_until(&udp, |s| s.lost_packets == 800);
        assert_eq!(udp.sockets_open(), 1);
        assert_eq!(
            (s.datagrams_sent, s.lost_packets, s.lost_records),
            (0, 800, 1600),
            "{s:?}"
        );
        assert_eq!((s.refused, s.unattributed_refusals), (800, 0), "{s:?}");
    }

    #[test]
    fn a_stale_icmp_error_does_not_lose_the_datagram_it_fails() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let dst = closed_port(ip).unwrap();
        let src = SocketAddr::new(ip, 0);
        let conn = Arc::new(Connection::new(os::connected_udp_socket(src, dst).unwrap()));
        let socket = ThreadSocket {
            key: SocketKey {
                local: src,
                remote: dst,
            },
            sent: Some(conn.sent.as_ref().expect("IP_RECVERR on").add_ring()),
            conn,
        };
        // A socket without the error queue, for comparison.
        let plain = os::connected_udp_socket(src, dst).unwrap().socket;
        let counters: Vec<ExporterCounters> = (0..2).map(|_| Default::default()).collect();
        let pending = |len: usize| Pending {
            socket: 0,
            start: 0,
            len,
            exporter_index: 1,
            records: 2,
            is_template: false,
        };
        // Sent to the closed port: its ICMP error waits, queued and pending.
        let early = message(1, 0, 256, 40);
        send_group(&socket, &[0], &[&early], &[pending(40)], &counters);
        assert_eq!(os::send_batch(&plain, &[&early]).0, 1);
        std::thread::sleep(Duration::from_millis(20));
        // The collector is back. No read of the queue before this send (as when the error
        // comes in between): the send fails for the early datagram, this one is retried.
        let Ok(rx) = UdpSocket::bind(dst) else {
            eprintln!("{dst} taken meanwhile; skipped");
            return;
        };
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let late = message(1, 2, 256, 44);
        let (sent, error) = os::send_batch(&plain, &[&late]);
        assert_eq!(sent, 0, "a stale error is pending on the plain socket");
        assert_eq!(
            error.map(|e| e.raw_os_error()),
            Some(Some(libc::ECONNREFUSED))
        );
        send_group(&socket, &[0], &[&late], &[pending(44)], &counters);
        let mut buf = [0u8; 64];
        let (n, _) = rx.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &late[..]);
        let s = sum(counters.iter());
        assert_eq!((s.datagrams_sent, s.bytes_sent), (1, 44), "{s:?}");
        assert_eq!(
            (s.lost_packets, s.lost_records, s.lost_bytes, s.refused),
            (1, 2, 40, 1),
            "the early one, through the queue: {s:?}"
        );
    }

    #[test]
    fn an_icmp_error_quoting_less_than_the_header_is_unattributed() {
        let dst = closed_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let udp = UdpSender::new(1);
        udp.push(0, &info(5, src, dst, 1), b"not IPFIX");
        let s = flush_until(&udp, |s| s.unattributed_refusals == 1);
        assert_eq!(
            (
                s.datagrams_sent,
                s.lost_datagrams(),
                s.unattributed_refusals
            ),
            (1, 0, 1),
            "{s:?}"
        );
        assert_eq!(udp.stats(5).unattributed_refusals, 1);
    }

    #[test]
    fn errors_are_matched_on_the_header_and_the_first_set_id_across_threads() {
        let records = SentRecords::default();
        let (ring_a, ring_b) = (records.add_ring(), records.add_ring());
        let p = |exporter_index, records, is_template| Pending {
            socket: 0,
            start: 0,
            len: 60,
            exporter_index,
            records,
            is_template,
        };
        let ticket = || records.next_ticket.fetch_add(1, Relaxed) + 1;
        // A template and a data message of the same domain, sequence, length and time,
        // sent by two threads.
        let template = message(1, 5, 2, 60);
        let data = message(1, 5, 256, 60);
        lock(&ring_a).record(ticket(), &p(0, 0, true), &template);
        lock(&ring_b).record(ticket(), &p(0, 3, false), &data);
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
        lock(&ring_b).record(t1, &p(1, 2, false), &data);
        lock(&ring_a).record(t2, &p(1, 2, false), &data);
        assert_eq!(records.take(&data).unwrap().ticket, t1);
        // A datagram not sent is forgotten.
        lock(&ring_a).forget(t2);
        assert!(records.take(&data).is_none());

        // A thread's datagrams are pushed out by its own only, SENT_RING later.
        let old = message(2, 0, 256, 40);
        lock(&ring_a).record(ticket(), &p(1, 1, false), &old);
        for k in 1..=SENT_RING as u32 {
            lock(&ring_b).record(ticket(), &p(1, 1, false), &message(2, k, 256, 40));
        }
        assert!(records.take(&old).is_some());
        lock(&ring_a).record(ticket(), &p(1, 1, false), &old);
        for k in 1..=SENT_RING as u32 {
            lock(&ring_a).record(ticket(), &p(1, 1, false), &message(3, k, 256, 40));
        }
        assert!(records.take(&old).is_none());
        assert!(records.take(&message(3, 1, 256, 40)).is_some());
    }

    #[test]
    fn thread_slots_have_their_own_cache_lines() {
        assert_eq!(std::mem::align_of::<ThreadSlot>(), 128);
        assert_eq!(std::mem::size_of::<ThreadSlot>(), 128);
    }
}
