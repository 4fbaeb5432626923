//! Collectors on real UDP sockets for the tests that export over the standalone host: a
//! socket read on a thread of its own, each datagram handed to the test as it arrives,
//! and the kernel's count of datagrams it dropped because the receive buffer was full
//! (`SO_RXQ_OVFL`), so a test can tell its own losses from the kernel's.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vpp_ipfix::types::ip_address_t;

/// The library's form of an IP address.
pub fn ip_address(a: IpAddr) -> ip_address_t {
    match a {
        IpAddr::V4(v4) => ip_address_t::v4(v4.octets()),
        IpAddr::V6(v6) => ip_address_t::v6(v6.octets()),
    }
}

/// What a collector thread hands back when it stops.
#[derive(Debug)]
pub struct Received<T> {
    /// The test's state, as the callback left it.
    pub state: T,
    /// Datagrams received.
    pub datagrams: u64,
    /// Datagrams the kernel dropped on this socket (receive buffer full), as the last
    /// datagram received said (`SO_RXQ_OVFL`).
    pub kernel_drops: u64,
    /// The receive buffer the kernel gave the socket, in bytes.
    pub rcvbuf: usize,
}

/// A UDP socket read by a thread of its own until told to stop and quiet (loopback
/// delivers during the send: once stopped, a quiet socket holds nothing more), or until
/// `deadline`.
pub struct UdpCollector<T> {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Received<T>>,
}

impl<T: Send + 'static> UdpCollector<T> {
    /// Binds `bind` (`None` when it cannot be bound, such as `::1` without IPv6), asks for
    /// a receive buffer of `rcvbuf` bytes when not 0 (`SO_RCVBUFFORCE` as root, past
    /// `net.core.rmem_max`; else `SO_RCVBUF`), and calls `on_datagram` with the state,
    /// the sender and the payload of each datagram.
    pub fn start(
        bind: SocketAddr,
        rcvbuf: usize,
        deadline: Duration,
        state: T,
        mut on_datagram: impl FnMut(&mut T, SocketAddr, &[u8]) + Send + 'static,
    ) -> Option<Self> {
        let socket = UdpSocket::bind(bind).ok()?;
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        if rcvbuf > 0 {
            let size = i32::try_from(rcvbuf).unwrap_or(i32::MAX);
            if set_int_option(&socket, libc::SO_RCVBUFFORCE, size).is_err() {
                set_int_option(&socket, libc::SO_RCVBUF, size).unwrap();
            }
        }
        set_int_option(&socket, libc::SO_RXQ_OVFL, 1).unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut state = state;
            let mut buf = vec![0u8; 65536];
            let (mut datagrams, mut kernel_drops) = (0, 0);
            while started.elapsed() < deadline {
                match recv_counting_drops(&socket, &mut buf) {
                    Ok((n, from, drops)) => {
                        datagrams += 1;
                        // The kernel attaches the socket's drop count only once it is
                        // not 0; it never goes down.
                        kernel_drops = kernel_drops.max(u64::from(drops.unwrap_or(0)));
                        on_datagram(&mut state, from, &buf[..n]);
                    }
                    Err(_) if stopping.load(SeqCst) => break,
                    Err(_) => {}
                }
            }
            Received {
                state,
                datagrams,
                kernel_drops,
                rcvbuf: get_int_option(&socket, libc::SO_RCVBUF).unwrap_or(0) as usize,
            }
        });
        Some(UdpCollector { addr, stop, thread })
    }

    /// Stops the thread once the socket is quiet; what it received.
    pub fn finish(self) -> Received<T> {
        self.stop.store(true, SeqCst);
        self.thread.join().unwrap()
    }
}

/// Every datagram a collector received: (sender, payload).
pub type Datagrams = Vec<(SocketAddr, Vec<u8>)>;

/// A collector that keeps every datagram.
pub fn keep_all(bind: SocketAddr, deadline: Duration) -> Option<UdpCollector<Datagrams>> {
    UdpCollector::start(bind, 0, deadline, Vec::new(), |got, from, payload| {
        got.push((from, payload.to_vec()))
    })
}

fn set_int_option(socket: &UdpSocket, name: libc::c_int, value: i32) -> io::Result<()> {
    // SAFETY: `value` is a live c_int and the length passed is its size; the kernel only
    // reads it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            std::ptr::from_ref(&value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn get_int_option(socket: &UdpSocket, name: libc::c_int) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live and writable, `len` is `value`'s size; the kernel
    // writes at most `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            std::ptr::from_mut(&mut value).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(value)
    }
}

/// One datagram into `buf`: its length, its sender and the socket's drop count when the
/// kernel attached one (`SO_RXQ_OVFL`). std's `recv_from` cannot read control messages.
fn recv_counting_drops(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<u32>)> {
    // SAFETY: plain C structs of integers and pointers; all zero is a valid value.
    let mut name: libc::sockaddr_storage = unsafe { zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64s: control messages must be aligned as `cmsghdr` is.
    let mut control = [0u64; 8];
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = std::ptr::from_mut(&mut name).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 8]>();
    // SAFETY: every pointer in `msg` points at live, writable memory of the length given
    // (`name`, `iov` over `buf`, `control`), all alive until the call returns.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if msg.msg_flags & libc::MSG_TRUNC != 0 {
        return Err(io::Error::other("datagram larger than the buffer"));
    }
    let mut drops = None;
    // SAFETY: `msg` was filled by recvmsg: its control pointer and length describe the
    // control messages the kernel wrote into `control`, which the CMSG macros walk
    // within those bounds.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SO_RXQ_OVFL {
                drops = Some(std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<u32>(),
                ));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    let from = socket_addr(&name).ok_or_else(|| io::Error::other("sender of unknown family"))?;
    Ok((n as usize, from, drops))
}

fn socket_addr(name: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large
            // and aligned enough for.
            let a = unsafe { &*std::ptr::from_ref(name).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*std::ptr::from_ref(name).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(
                SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )
                .into(),
            )
        }
        _ => None,
    }
}
