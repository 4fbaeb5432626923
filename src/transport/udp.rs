//! The UDP output: IPFIX messages sent from connected sockets, one per (source, collector)
//! pair, batched per thread and sent with `sendmmsg`; losses and why they happened
//! counted per exporter.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
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

/// What the UDP output did for one exporter (or, summed, for all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Datagrams the kernel took, templates included.
    pub datagrams_sent: u64,
    /// Their bytes: IPFIX messages, without the IP and UDP headers the kernel adds.
    pub bytes_sent: u64,
    /// Data packets not sent, their data records and bytes, and template packets not
    /// sent (what `Embedder::lost` reports).
    pub lost_packets: u64,
    pub lost_records: u64,
    pub lost_bytes: u64,
    pub lost_templates: u64,
    /// Why datagrams were lost, one count per lost datagram: ECONNREFUSED (no collector
    /// listening), ENOBUFS or EAGAIN (queues full), EHOSTUNREACH or ENETUNREACH, no
    /// socket (bind or connect failed, or waiting to retry), anything else.
    pub refused: u64,
    pub no_buffers: u64,
    pub unreachable: u64,
    pub no_socket: u64,
    pub other_errors: u64,
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
    }

    /// Datagrams lost, whatever the reason.
    pub fn lost_datagrams(&self) -> u64 {
        self.lost_packets + self.lost_templates
    }
}

/// Why a datagram was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LossKind {
    Send(SendErrorKind),
    NoSocket,
}

/// One thread's counters for one exporter. Only the thread holding the slot's batch lock
/// writes them (load + store, exact, no locked instruction); readers load without the
/// lock, so reading stats never waits on a sending worker.
#[derive(Debug, Default)]
struct ExporterCounters {
    datagrams_sent: AtomicU64,
    bytes_sent: AtomicU64,
    lost_packets: AtomicU64,
    lost_records: AtomicU64,
    lost_bytes: AtomicU64,
    lost_templates: AtomicU64,
    refused: AtomicU64,
    no_buffers: AtomicU64,
    unreachable: AtomicU64,
    no_socket: AtomicU64,
    other_errors: AtomicU64,
}

fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Relaxed).wrapping_add(by), Relaxed);
}

impl ExporterCounters {
    fn sent(&self, bytes: usize) {
        bump(&self.datagrams_sent, 1);
        bump(&self.bytes_sent, bytes as u64);
    }

    fn lost(&self, p: &Pending, kind: LossKind) {
        if p.is_template {
            bump(&self.lost_templates, 1);
        } else {
            bump(&self.lost_packets, 1);
            bump(&self.lost_records, u64::from(p.records));
            bump(&self.lost_bytes, p.len as u64);
        }
        bump(
            match kind {
                LossKind::Send(SendErrorKind::Refused) => &self.refused,
                LossKind::Send(SendErrorKind::NoBuffers) => &self.no_buffers,
                LossKind::Send(SendErrorKind::Unreachable) => &self.unreachable,
                LossKind::Send(SendErrorKind::Other) => &self.other_errors,
                LossKind::NoSocket => &self.no_socket,
            },
            1,
        );
    }

    fn read(&self) -> UdpStats {
        UdpStats {
            datagrams_sent: self.datagrams_sent.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            lost_packets: self.lost_packets.load(Relaxed),
            lost_records: self.lost_records.load(Relaxed),
            lost_bytes: self.lost_bytes.load(Relaxed),
            lost_templates: self.lost_templates.load(Relaxed),
            refused: self.refused.load(Relaxed),
            no_buffers: self.no_buffers.load(Relaxed),
            unreachable: self.unreachable.load(Relaxed),
            no_socket: self.no_socket.load(Relaxed),
            other_errors: self.other_errors.load(Relaxed),
        }
    }
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

/// A pair's socket in the shared map: open, or failed and not to be retried before
/// `retry_at`.
#[derive(Debug)]
enum SocketState {
    Open(Arc<UdpSocket>),
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
    sockets: Vec<(SocketKey, Arc<UdpSocket>)>,
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
                c.lost(&Pending::of(info, 0, 0, message.len()), LossKind::NoSocket);
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

    /// Sends what thread `thread_index` holds.
    pub fn flush(&self, thread_index: u32) {
        let slot = self.slot(thread_index);
        send(&mut slot.lock(), &slot.counters);
    }

    /// Sends what every thread holds (shutdown; workers stopped or not).
    pub fn flush_all(&self) {
        for slot in self.threads.iter() {
            send(&mut slot.lock(), &slot.counters);
        }
    }

    /// Packets of `exporter_index` that were not sent.
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
        let mut total = UdpStats::default();
        for slot in self.threads.iter() {
            if let Some(c) = slot.counters(exporter_index) {
                total.add(&c.read());
            }
        }
        total
    }

    /// The counters of every exporter, summed.
    pub fn total_stats(&self) -> UdpStats {
        let mut total = UdpStats::default();
        for slot in self.threads.iter() {
            for c in slot.counters.iter() {
                total.add(&c.read());
            }
        }
        total
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
        if let Some(i) = batch.sockets.iter().position(|(k, _)| *k == key) {
            return Some(i);
        }
        let socket = {
            let mut map = self.map();
            let now = Instant::now();
            match map.get(&key) {
                Some(SocketState::Open(s)) => Arc::clone(s),
                Some(SocketState::Failed { retry_at }) if now < *retry_at => return None,
                _ => match os::connected_udp_socket(key.local, key.remote) {
                    Ok(s) => {
                        let s = Arc::new(s);
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
        batch.sockets.push((key, socket));
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
}

/// Sends a thread's batch: all datagrams of one socket together, in their order, one
/// `send_batch` per socket (and one more after each failed datagram, which is counted
/// lost while the rest still goes out). Leaves the batch empty.
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
        let Some((_, socket)) = sockets.get(socket_index) else {
            continue;
        };
        send_group(socket, &group[..len], &bytes[..len], pending, counters);
    }
    arena.clear();
    pending.clear();
}

/// Sends one socket's datagrams; counts each as sent or lost.
fn send_group(
    socket: &UdpSocket,
    group: &[usize],
    bytes: &[&[u8]],
    pending: &[Pending],
    counters: &[ExporterCounters],
) {
    let counters_of = |i: usize| counters.get(pending[i].exporter_index as usize);
    let mut next = 0;
    while next < group.len() {
        let (sent, error) = os::send_batch(socket, &bytes[next..]);
        for &i in &group[next..next + sent] {
            if let Some(c) = counters_of(i) {
                c.sent(pending[i].len);
            }
        }
        next += sent;
        match error {
            None => break,
            Some(e) => {
                let i = group[next];
                if let Some(c) = counters_of(i) {
                    c.lost(&pending[i], LossKind::Send(os::send_error_kind(&e)));
                }
                next += 1;
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

    #[test]
    fn thread_slots_have_their_own_cache_lines() {
        assert_eq!(std::mem::align_of::<ThreadSlot>(), 128);
        assert_eq!(std::mem::size_of::<ThreadSlot>(), 128);
    }
}
