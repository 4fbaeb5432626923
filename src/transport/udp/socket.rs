//! The sockets: one per (source, collector) pair, shared by the threads that send on it,
//! found by each thread in a cache of its own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::ffi::os;
use crate::ops::PacketInfo;
use crate::state::locked;

use super::icmp::{read_icmp_errors, SentRecords, SentRing};
use super::stats::ExporterCounters;

/// How long a source/collector pair whose socket could not be created waits before the
/// next attempt: a misconfigured address costs one syscall a second, not one a packet.
pub const SOCKET_RETRY: Duration = Duration::from_secs(1);

/// Where a datagram goes: source address and port, collector address and port. The
/// addresses as the packet carries them (an IPv4 one in the last 4 bytes, the others
/// zero), so a key is made and compared without building socket addresses per packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct SocketKey {
    src: [u8; 16],
    dst: [u8; 16],
    src_port: u16,
    dst_port: u16,
    is_ip6: bool,
}

impl SocketKey {
    pub(super) fn of(info: &PacketInfo) -> Self {
        let (mut src, mut dst) = (info.src_address.ip, info.dst_address.ip);
        if !info.is_ip6 {
            // Only bytes 12..16 are the address (VPP's ip46_address_t).
            src[..12].fill(0);
            dst[..12].fill(0);
        }
        SocketKey {
            src,
            dst,
            src_port: info.src_port,
            dst_port: info.dst_port,
            is_ip6: info.is_ip6,
        }
    }

    /// Whether the packet `info` describes goes through this key's socket: `of(info)`
    /// compared, without building it (every packet asks).
    fn is_for(&self, info: &PacketInfo) -> bool {
        let same = |key: &[u8; 16], ip: &[u8; 16]| {
            if self.is_ip6 {
                key == ip
            } else {
                key[12..] == ip[12..]
            }
        };
        self.src_port == info.src_port
            && self.dst_port == info.dst_port
            && self.is_ip6 == info.is_ip6
            && same(&self.dst, &info.dst_address.ip)
            && same(&self.src, &info.src_address.ip)
    }

    fn addr(&self, ip: [u8; 16], port: u16) -> SocketAddr {
        let ip = if self.is_ip6 {
            IpAddr::V6(Ipv6Addr::from(ip))
        } else {
            IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]))
        };
        SocketAddr::new(ip, port)
    }

    /// The source address and port.
    pub(super) fn local(&self) -> SocketAddr {
        self.addr(self.src, self.src_port)
    }

    /// The collector's address and port.
    pub(super) fn remote(&self) -> SocketAddr {
        self.addr(self.dst, self.dst_port)
    }
}

/// A pair's open socket, shared by every thread that sends on it.
#[derive(Debug)]
pub(super) struct Connection {
    pub(super) socket: UdpSocket,
    /// With IP_RECVERR: what was sent, for the ICMP errors. `None` without it.
    pub(super) sent: Option<SentRecords>,
}

impl Connection {
    pub(super) fn new(c: os::ConnectedSocket) -> Self {
        Connection {
            socket: c.socket,
            sent: c.recverr.then(SentRecords::default),
        }
    }

    /// Reads the socket's ICMP errors into `counters` (`icmp::read_icmp_errors`);
    /// nothing without IP_RECVERR.
    pub(super) fn read_icmp_errors(&self, counters: &[ExporterCounters]) {
        if let Some(records) = &self.sent {
            read_icmp_errors(&self.socket, records, counters);
        }
    }
}

/// A socket in a thread's cache, with the thread's ring for it (with IP_RECVERR).
#[derive(Debug)]
pub(super) struct ThreadSocket {
    pub(super) key: SocketKey,
    pub(super) conn: Arc<Connection>,
    pub(super) sent: Option<Arc<Mutex<SentRing>>>,
}

impl ThreadSocket {
    /// The thread's entry for `conn`, with a ring of its own made now, once per thread
    /// and socket: sending allocates nothing afterwards.
    pub(super) fn new(key: SocketKey, conn: Arc<Connection>) -> Self {
        let sent = conn.sent.as_ref().map(SentRecords::add_ring);
        ThreadSocket { key, conn, sent }
    }
}

/// The sockets one thread has used: a private cache of the shared table, so the hot path
/// takes no shared lock. Never shrinks, so an index into it stays valid.
#[derive(Debug, Default)]
pub(super) struct ThreadSockets {
    list: Vec<ThreadSocket>,
    /// The last one found: a thread's packets mostly go to one collector in a row.
    last: usize,
}

impl ThreadSockets {
    /// The index of the socket for the packet `info` describes, when the thread has it.
    #[inline]
    pub(super) fn find(&mut self, info: &PacketInfo) -> Option<usize> {
        if self.list.get(self.last).is_some_and(|s| s.key.is_for(info)) {
            return Some(self.last);
        }
        let i = self.list.iter().position(|s| s.key.is_for(info))?;
        self.last = i;
        Some(i)
    }

    /// Adds `socket`; its index.
    pub(super) fn add(&mut self, socket: ThreadSocket) -> usize {
        self.list.push(socket);
        self.last = self.list.len() - 1;
        self.last
    }

    pub(super) fn get(&self, i: usize) -> Option<&ThreadSocket> {
        self.list.get(i)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &ThreadSocket> {
        self.list.iter()
    }
}

/// A pair's socket in the shared table: open, or failed and not to be retried before
/// `retry_at`.
#[derive(Debug)]
enum SocketState {
    Open(Arc<Connection>),
    Failed { retry_at: Instant },
}

/// Every pair's socket; locked only when a thread meets a pair for the first time, or
/// while the pair's socket cannot be created.
#[derive(Debug, Default)]
pub(super) struct SocketTable {
    map: Mutex<HashMap<SocketKey, SocketState>>,
    failures: AtomicU64,
}

impl SocketTable {
    fn map(&self) -> MutexGuard<'_, HashMap<SocketKey, SocketState>> {
        // Only inserted into: a panic mid-insert leaves it usable.
        locked(&self.map)
    }

    /// `key`'s socket: open already, or created now (unless an attempt failed less than
    /// [`SOCKET_RETRY`] ago). `None` when there is none.
    pub(super) fn connect(&self, key: SocketKey) -> Option<Arc<Connection>> {
        let mut map = self.map();
        let now = Instant::now();
        match map.get(&key) {
            Some(SocketState::Open(s)) => Some(Arc::clone(s)),
            Some(SocketState::Failed { retry_at }) if now < *retry_at => None,
            _ => match os::connected_udp_socket(key.local(), key.remote()) {
                Ok(s) => {
                    let s = Arc::new(Connection::new(s));
                    map.insert(key, SocketState::Open(Arc::clone(&s)));
                    Some(s)
                }
                Err(_) => {
                    self.failures.fetch_add(1, Relaxed);
                    let retry_at = now + SOCKET_RETRY;
                    map.insert(key, SocketState::Failed { retry_at });
                    None
                }
            },
        }
    }

    /// Sockets open.
    pub(super) fn open(&self) -> usize {
        self.map()
            .values()
            .filter(|s| matches!(s, SocketState::Open(_)))
            .count()
    }

    /// Attempts to create a socket that failed.
    pub(super) fn failures(&self) -> u64 {
        self.failures.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::udp::test_util::info;

    #[test]
    fn keys_are_the_addresses_the_packet_names() {
        let src: SocketAddr = "192.0.2.2:30001".parse().unwrap();
        let dst: SocketAddr = "192.0.2.1:4739".parse().unwrap();
        let mut i = info(0, src, dst, 1);
        let key = SocketKey::of(&i);
        assert_eq!((key.local(), key.remote()), (src, dst));
        assert!(key.is_for(&i));
        // Bytes of an IPv4 address's ip46 form that are not the address do not count.
        i.src_address.ip[0] = 0xff;
        assert_eq!(SocketKey::of(&i), key);
        assert!(key.is_for(&i));
        i.src_port += 1;
        assert_ne!(SocketKey::of(&i), key);
        assert!(!key.is_for(&i));
        i.src_port -= 1;
        i.dst_address.ip[15] ^= 1;
        assert!(!key.is_for(&i));
        let (src6, dst6): (SocketAddr, SocketAddr) = (
            "[fd00::2]:30001".parse().unwrap(),
            "[fd00::1]:4739".parse().unwrap(),
        );
        let mut i6 = info(0, src6, dst6, 1);
        let key6 = SocketKey::of(&i6);
        assert_eq!((key6.local(), key6.remote()), (src6, dst6));
        assert!(key6.is_for(&i6) && !key.is_for(&i6) && !key6.is_for(&i));
        i6.src_address.ip[0] ^= 1;
        assert!(!key6.is_for(&i6), "every byte of an IPv6 address counts");
    }
}
