//! One thread's batch of datagrams, and how it is sent: grouped by socket, one
//! `sendmmsg` per group, each datagram counted sent or lost.

use std::io::IoSlice;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Mutex, MutexGuard};

use crate::ffi::os;
use crate::instance::MAX_EXPORTERS;
use crate::ops::PacketInfo;
use crate::state::locked;
use crate::transport::pool::BufferPool;
use crate::wire::PacketBuf;

use super::socket::{ThreadSocket, ThreadSockets};
use super::stats::{Counted, ExporterCounters, LossKind};
use super::BATCH;

/// A datagram waiting in a thread's batch: the message is `buf[start..start + len]`, in
/// the buffer the core wrote it into, kept until `sendmmsg` has returned.
#[derive(Debug)]
pub(super) struct Pending {
    buf: PacketBuf,
    start: u32,
    /// Index into the thread's sockets.
    socket: u32,
    exporter_index: u32,
    /// Its length, records and kind, as a loss counts it.
    what: Counted,
}

impl Pending {
    fn message(&self) -> &[u8] {
        let start = self.start as usize;
        // Checked when pushed (`UdpSender::push_packet`): never empty in use.
        self.buf
            .bytes()
            .get(start..start + self.what.len)
            .unwrap_or(&[])
    }
}

/// What a loss of the datagram `info` describes, `len` bytes, counts.
pub(super) fn counted(info: &PacketInfo, len: usize) -> Counted {
    Counted {
        len,
        records: info.records,
        is_template: info.is_template,
    }
}

/// One thread's datagrams waiting to be sent, in the buffers they were written in: no
/// copy of a message is made. Once `pending` has grown to one full batch, nothing is
/// allocated per packet; the buffers go back to the pool once sent, so the pool holds
/// about a batch of them per thread.
#[derive(Debug, Default)]
pub(super) struct ThreadBatch {
    pending: Vec<Pending>,
    pub(super) sockets: ThreadSockets,
}

impl ThreadBatch {
    /// Adds the message `buf[start..start + len]` for socket `socket`; whether the batch
    /// is now to be sent (full, or a template: see `UdpSender::push`).
    #[inline]
    pub(super) fn add(
        &mut self,
        info: &PacketInfo,
        buf: PacketBuf,
        start: usize,
        len: usize,
        socket: usize,
    ) -> bool {
        self.pending.push(Pending {
            buf,
            start: start as u32,
            socket: socket as u32,
            exporter_index: info.exporter_index,
            what: counted(info, len),
        });
        info.is_template || self.pending.len() >= BATCH
    }
}

/// A thread's batch and counters, on cache lines of their own so threads never share one.
#[repr(align(128))]
#[derive(Debug)]
pub(super) struct ThreadSlot {
    /// Uncontended in practice: only its worker uses it, and readers of the counters
    /// do not take it.
    batch: Mutex<ThreadBatch>,
    /// Which slot this is: the pool shard its sent buffers go back to.
    index: u32,
    /// Per exporter.
    counters: Box<[ExporterCounters]>,
}

impl ThreadSlot {
    pub(super) fn new(index: u32) -> Self {
        ThreadSlot {
            batch: Mutex::new(ThreadBatch {
                pending: Vec::with_capacity(BATCH),
                ..Default::default()
            }),
            index,
            counters: (0..MAX_EXPORTERS)
                .map(|_| ExporterCounters::default())
                .collect(),
        }
    }

    /// The batch; a panic while it was held leaves counters and offsets consistent
    /// enough to go on (at worst a datagram is sent or lost twice in the counts).
    pub(super) fn lock(&self) -> MutexGuard<'_, ThreadBatch> {
        locked(&self.batch)
    }

    pub(super) fn counters(&self, exporter_index: u32) -> Option<&ExporterCounters> {
        self.counters.get(exporter_index as usize)
    }

    pub(super) fn all_counters(&self) -> &[ExporterCounters] {
        &self.counters
    }

    /// Sends the batch (see [`send`]) and gives its buffers back to `pool`.
    pub(super) fn send(&self, batch: &mut ThreadBatch, pool: &BufferPool) {
        send(batch, &self.counters);
        pool.give_back_all_on(self.index, batch.pending.drain(..).map(|p| p.buf));
    }

    /// Sends what the thread holds, then reads the ICMP errors of every socket it uses:
    /// those of what it just sent when they came back at once (loopback), and any that
    /// came back since on a socket it has sent nothing more on.
    pub(super) fn flush(&self, pool: &BufferPool) {
        let mut batch = self.lock();
        self.send(&mut batch, pool);
        for s in batch.sockets.iter() {
            s.conn.read_icmp_errors(&self.counters);
        }
    }
}

/// Sends a thread's batch: all datagrams of one socket together, in their order. The
/// datagrams stay in the batch (their buffers are the caller's to recycle).
fn send(batch: &mut ThreadBatch, counters: &[ExporterCounters]) {
    let ThreadBatch { pending, sockets } = batch;
    // `push` sends at BATCH; in chunks all the same, so a longer batch is never cut.
    for chunk in pending.chunks(BATCH) {
        let n = chunk.len();
        let mut done: u64 = 0;
        for first in 0..n {
            if done & (1 << first) != 0 {
                continue;
            }
            let socket_index = chunk[first].socket;
            // This socket's datagrams, from `first` on: their indices and bytes.
            let mut group = [0u8; BATCH];
            let mut slices = [IoSlice::new(&[]); BATCH];
            let mut len = 0;
            for (i, p) in chunk.iter().enumerate().skip(first) {
                if p.socket == socket_index && done & (1 << i) == 0 {
                    group[len] = i as u8;
                    slices[len] = IoSlice::new(p.message());
                    len += 1;
                    done |= 1 << i;
                }
            }
            if let Some(socket) = sockets.get(socket_index as usize) {
                send_group(socket, &group[..len], &slices[..len], chunk, counters);
            }
        }
    }
}

/// Sends one socket's datagrams (`slices`, those of `pending[group[k]]`); counts each as
/// sent or lost. A send that fails with an error an ICMP message left, about an earlier
/// datagram, did not send its own: with the error queue (which counts the earlier one)
/// it is tried once more, once a call so that a lasting error (no route) costs one call,
/// not a loop. Other failed datagrams are counted lost, and the rest still goes out
/// (one more `send_batch` each).
///
/// The socket's error queue is read only when something went wrong: an error, or a call
/// that came back short (the kernel met an error inside it and dropped it, maybe a
/// pending ICMP error). A clean group costs one `sendmmsg` and nothing more: an ICMP
/// error that comes back later fails or cuts short the socket's next send, which reads
/// it then, or is read at the next flush.
pub(super) fn send_group(
    socket: &ThreadSocket,
    group: &[u8],
    slices: &[IoSlice<'_>],
    pending: &[Pending],
    counters: &[ExporterCounters],
) {
    let of = |k: usize| &pending[usize::from(group[k])];
    let conn = &*socket.conn;
    // Recorded before the send: another thread reading this socket's errors may meet
    // the ICMP error of one of these before `send_batch` returns.
    let recorded = conn.sent.as_ref().zip(socket.sent.as_ref());
    let first_ticket = recorded.map(|(records, ring)| {
        let first = records.next_ticket.fetch_add(group.len() as u64, Relaxed) + 1;
        let mut ring = locked(ring);
        for (k, message) in slices.iter().enumerate() {
            let p = of(k);
            ring.record(first + k as u64, p.exporter_index, p.what, message);
        }
        if let Some(k) = group.len().checked_sub(1) {
            records.last_exporter.store(of(k).exporter_index, Relaxed);
        }
        first
    });
    let mut not_sent: u64 = 0;
    let mut retried = false;
    let mut troubled = false;
    let mut next = 0;
    while next < group.len() {
        let done = os::send_batch(&conn.socket, &slices[next..]);
        count_sent(&group[next..next + done.sent], pending, counters);
        next += done.sent;
        troubled |= done.short;
        let Some(e) = done.error else { break };
        troubled = true;
        if first_ticket.is_some() && !retried && os::is_icmp_error(&e) {
            retried = true;
            conn.read_icmp_errors(counters);
            continue;
        }
        let p = of(next);
        if let Some(c) = counters.get(p.exporter_index as usize) {
            c.lost(p.what, LossKind::Error(os::send_error_kind(&e)));
        }
        not_sent |= 1 << next;
        next += 1;
    }
    if let (Some(first), Some((_, ring))) = (first_ticket, recorded) {
        if not_sent != 0 {
            let mut ring = locked(ring);
            for k in (0..group.len()).filter(|k| not_sent & (1 << k) != 0) {
                ring.forget(first + k as u64);
            }
        }
        if troubled {
            conn.read_icmp_errors(counters);
        }
    }
}

/// Counts the datagrams `pending[group[..]]` sent, a run of one exporter's in one update
/// of its counters.
fn count_sent(group: &[u8], pending: &[Pending], counters: &[ExporterCounters]) {
    let add = |run: Option<(u32, u64, u64)>| {
        if let Some((exporter, datagrams, bytes)) = run {
            if let Some(c) = counters.get(exporter as usize) {
                c.sent(datagrams, bytes);
            }
        }
    };
    // (exporter, datagrams, bytes) of the run so far.
    let mut run: Option<(u32, u64, u64)> = None;
    for &i in group {
        let p = &pending[usize::from(i)];
        let len = p.what.len as u64;
        match &mut run {
            Some((exporter, datagrams, bytes)) if *exporter == p.exporter_index => {
                *datagrams += 1;
                *bytes += len;
            }
            _ => {
                add(run);
                run = Some((p.exporter_index, 1, len));
            }
        }
    }
    add(run);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
    use std::sync::Arc;
    use std::time::Duration;

    use crate::transport::udp::socket::{Connection, SocketKey};
    use crate::transport::udp::stats::sum;
    use crate::transport::udp::test_util::{closed_port, info, message};

    /// `message` in a buffer of its own, pending for socket 0 of exporter 1, 2 records.
    fn pending(message: &[u8]) -> Pending {
        Pending {
            buf: PacketBuf::from_boxed(message.into()),
            start: 0,
            socket: 0,
            exporter_index: 1,
            what: Counted {
                len: message.len(),
                records: 2,
                is_template: false,
            },
        }
    }

    /// `send_group` of one datagram.
    fn send_one(socket: &ThreadSocket, p: &Pending, counters: &[ExporterCounters]) {
        send_group(
            socket,
            &[0],
            &[IoSlice::new(p.message())],
            std::slice::from_ref(p),
            counters,
        );
    }

    #[test]
    fn a_stale_icmp_error_does_not_lose_the_datagram_it_fails() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let dst = closed_port(ip).unwrap();
        let src = SocketAddr::new(ip, 0);
        let conn = Arc::new(Connection::new(os::connected_udp_socket(src, dst).unwrap()));
        assert!(conn.sent.is_some(), "IP_RECVERR on");
        let socket = ThreadSocket::new(SocketKey::of(&info(1, src, dst, 2)), conn);
        // A socket without the error queue, for comparison.
        let plain = os::connected_udp_socket(src, dst).unwrap().socket;
        let counters: Vec<ExporterCounters> = (0..2).map(|_| Default::default()).collect();
        // Sent to the closed port: its ICMP error waits, queued and pending. (On
        // loopback it comes back during the call, after the read a troubled send makes:
        // none here, the one datagram went out cleanly.)
        let early = message(1, 0, 256, 40);
        send_one(&socket, &pending(&early), &counters);
        assert_eq!(os::send_batch(&plain, &[IoSlice::new(&early)]).sent, 1);
        std::thread::sleep(Duration::from_millis(20));
        // The collector is back. No read of the queue before this send (none is made
        // before a send): it fails for the early datagram, this one is retried.
        let Ok(rx) = UdpSocket::bind(dst) else {
            eprintln!("{dst} taken meanwhile; skipped");
            return;
        };
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let late = message(1, 2, 256, 44);
        let done = os::send_batch(&plain, &[IoSlice::new(&late)]);
        assert_eq!(done.sent, 0, "a stale error is pending on the plain socket");
        assert_eq!(
            done.error.map(|e| e.raw_os_error()),
            Some(Some(libc::ECONNREFUSED))
        );
        send_one(&socket, &pending(&late), &counters);
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
    fn a_batch_sends_from_the_buffers_and_gives_them_back() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let dst = rx.local_addr().unwrap();
        let src: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let pool = BufferPool::with_shards(256, 2);
        let slot = ThreadSlot::new(1);
        let conn = Arc::new(Connection::new(os::connected_udp_socket(src, dst).unwrap()));
        let mut batch = slot.lock();
        let s = batch.sockets.add(ThreadSocket::new(
            SocketKey::of(&info(0, src, dst, 1)),
            conn,
        ));
        let mut sent = Vec::new();
        for k in 0..3u8 {
            let (_, mut buf) = pool.take_on(1, 64).unwrap();
            // The message at an offset, as the core leaves room for headers.
            buf.bytes_mut()[8..8 + 5].copy_from_slice(&[k; 5]);
            sent.push(buf.as_ptr());
            assert!(!batch.add(&info(0, src, dst, 1), buf, 8, 5, s));
        }
        slot.send(&mut batch, &pool);
        drop(batch);
        let mut got = [0u8; 16];
        for k in 0..3u8 {
            let (n, _) = rx.recv_from(&mut got).unwrap();
            assert_eq!(&got[..n], &[k; 5]);
        }
        assert_eq!(pool.idle(), 3, "the buffers back in the pool");
        let again = pool.take_on(1, 64).unwrap().1.as_ptr();
        assert!(sent.contains(&again));
        assert_eq!(
            slot.counters(0)
                .map(|c| sum(std::iter::once(c)).datagrams_sent),
            Some(3)
        );
    }

    #[test]
    fn thread_slots_have_their_own_cache_lines() {
        assert_eq!(std::mem::align_of::<ThreadSlot>(), 128);
        assert_eq!(std::mem::size_of::<ThreadSlot>(), 128);
    }
}
