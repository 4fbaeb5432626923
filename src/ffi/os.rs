//! The FFI to the OS: the libc calls the Rust transports need and std lacks (`sendmmsg`,
//! socket options set before `bind`), behind safe functions. The transports' only unsafe
//! code lives here.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Most datagrams one `sendmmsg` call takes from `send_batch`; the message headers of a
/// chunk live on the stack (about 5 KiB), so sending allocates nothing.
pub const SENDMMSG_CHUNK: usize = 64;

/// Sends `datagrams` in order on a connected UDP socket, one `sendmmsg(2)` call per
/// chunk of at most [`SENDMMSG_CHUNK`]. Returns how many were sent before the first
/// error, and that error: `datagrams[sent]` is the one that failed, and those after it
/// were not tried (the caller decides what to do with them).
///
/// `sendmmsg` returns a short count, and drops the error, when a datagram other than the
/// first of a call fails; the rest is then sent by a new call, so a lasting error (no
/// buffer space, no route) shows up as the first datagram's error of that call. A
/// one-shot socket error (ECONNREFUSED from an earlier ICMP message) is consumed by the
/// kernel in the short call, and the datagram it stopped goes out in the next one.
pub fn send_batch(socket: &UdpSocket, datagrams: &[&[u8]]) -> (usize, Option<io::Error>) {
    let mut sent = 0;
    while sent < datagrams.len() {
        let end = datagrams.len().min(sent + SENDMMSG_CHUNK);
        match send_chunk(socket, &datagrams[sent..end]) {
            // `sendmmsg` sends at least one or fails; a 0 would loop forever.
            Ok(0) => return (sent, Some(io::Error::from(io::ErrorKind::WriteZero))),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (sent, Some(e)),
        }
    }
    (sent, None)
}

/// One `sendmmsg` call for at most `SENDMMSG_CHUNK` datagrams.
fn send_chunk(socket: &UdpSocket, chunk: &[&[u8]]) -> io::Result<usize> {
    let n = chunk.len().min(SENDMMSG_CHUNK);
    let mut iovecs = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; SENDMMSG_CHUNK];
    for (iov, datagram) in iovecs.iter_mut().zip(chunk) {
        // The kernel only reads through `iov_base`; the `*mut` is the C type's.
        iov.iov_base = datagram.as_ptr().cast_mut().cast();
        iov.iov_len = datagram.len();
    }
    // SAFETY: `mmsghdr` is a C struct of integers and raw pointers, for which all-zero
    // bytes are a valid value (no name, no control data, null pointers).
    let mut headers: [libc::mmsghdr; SENDMMSG_CHUNK] = unsafe { zeroed() };
    let iov_base = iovecs.as_mut_ptr();
    for (i, h) in headers.iter_mut().enumerate().take(n) {
        // A connected socket: no destination address per message.
        h.msg_hdr.msg_iov = iov_base.wrapping_add(i);
        h.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `headers[..n]` are initialised message headers, each pointing at one iovec
    // of `iovecs` (alive until the call returns), which points at `len` readable bytes of
    // a datagram borrowed for this call; the kernel writes only `msg_len` of `headers`,
    // which we own mutably. `n <= SENDMMSG_CHUNK` fits in `c_uint`.
    let rc = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            n as libc::c_uint,
            0,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// A non-blocking UDP socket bound to `local` (port 0: an ephemeral port) and connected
/// to `remote`, so the kernel reports ICMP errors (ECONNREFUSED, unreachable) on later
/// sends. SO_REUSEADDR lets several sockets share one source address and port, each
/// connected to its own collector (one stream port, several exporters); IPv6 sockets are
/// IPv6-only.
pub fn connected_udp_socket(local: SocketAddr, remote: SocketAddr) -> io::Result<UdpSocket> {
    let domain = if local.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    // SAFETY: a plain system call with constant arguments; it touches no memory of ours.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a descriptor the kernel just created, owned by nothing else; the
    // `OwnedFd` closes it on every path from here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if local.is_ipv6() {
        set_int_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    bind(&fd, local)?;
    let socket = UdpSocket::from(fd);
    socket.connect(remote)?;
    Ok(socket)
}

/// `setsockopt` of one `int` option.
fn set_int_option(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: i32,
) -> io::Result<()> {
    let value: libc::c_int = value;
    // SAFETY: `value` is a live `c_int` and the length passed is its size; the kernel
    // only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
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

/// `bind(2)` to an IPv4 or IPv6 socket address.
fn bind(fd: &OwnedFd, addr: SocketAddr) -> io::Result<()> {
    let rc = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: `sockaddr_in` is plain integers; all-zero bytes are valid (and
            // zero the padding the kernel wants zero).
            let mut sa: libc::sockaddr_in = unsafe { zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_port = a.port().to_be();
            // `s_addr` is in network order: the octets as they are.
            sa.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            // SAFETY: `sa` is a live, initialised `sockaddr_in` and the length is its
            // size; the kernel only reads it.
            unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    std::ptr::from_ref(&sa).cast(),
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for `sockaddr_in6`.
            let mut sa: libc::sockaddr_in6 = unsafe { zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_port = a.port().to_be();
            sa.sin6_flowinfo = a.flowinfo();
            sa.sin6_addr.s6_addr = a.ip().octets();
            sa.sin6_scope_id = a.scope_id();
            // SAFETY: `sa` is a live, initialised `sockaddr_in6` and the length is its
            // size; the kernel only reads it.
            unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    std::ptr::from_ref(&sa).cast(),
                    size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// What a failed send says about the path, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendErrorKind {
    /// ECONNREFUSED: the collector's host answered port unreachable (no collector).
    Refused,
    /// ENOBUFS, EAGAIN: the socket's or the device's queue is full.
    NoBuffers,
    /// EHOSTUNREACH, ENETUNREACH: no route, or the network said so.
    Unreachable,
    /// Anything else.
    Other,
}

/// The kind of a send error, from its errno.
pub fn send_error_kind(error: &io::Error) -> SendErrorKind {
    match error.raw_os_error() {
        Some(libc::ECONNREFUSED) => SendErrorKind::Refused,
        Some(e) if e == libc::ENOBUFS || e == libc::EAGAIN || e == libc::EWOULDBLOCK => {
            SendErrorKind::NoBuffers
        }
        Some(libc::EHOSTUNREACH | libc::ENETUNREACH) => SendErrorKind::Unreachable,
        _ => SendErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    fn receiver() -> UdpSocket {
        let r = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        r.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        r
    }

    #[test]
    fn sends_more_than_one_chunk_in_order() {
        let rx = receiver();
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let payloads: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 1 + usize::from(i)]).collect();
        let slices: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let (sent, err) = send_batch(&tx, &slices);
        assert_eq!((sent, err.map(|e| e.to_string())), (100, None));
        let mut buf = [0u8; 512];
        for expected in &payloads {
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            assert_eq!(from, tx.local_addr().unwrap());
            assert_eq!(&buf[..n], expected.as_slice());
        }
    }

    #[test]
    fn empty_batch_sends_nothing() {
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let (sent, err) = send_batch(&tx, &[]);
        assert_eq!(sent, 0);
        assert!(err.is_none());
    }

    #[test]
    fn unconnected_socket_reports_the_first_error() {
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let (sent, err) = send_batch(&tx, &[b"a", b"b"]);
        assert_eq!(sent, 0);
        assert_eq!(err.unwrap().raw_os_error(), Some(libc::EDESTADDRREQ));
    }

    #[test]
    fn closed_port_is_refused_on_a_later_send() {
        let closed = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let dst = closed.local_addr().unwrap();
        drop(closed);
        let tx = connected_udp_socket((Ipv4Addr::LOCALHOST, 0).into(), dst).unwrap();
        let mut refused = false;
        // The ICMP error comes back within microseconds on loopback; bounded retries.
        for _ in 0..50 {
            let (sent, err) = send_batch(&tx, &[b"x"]);
            if let Some(e) = err {
                assert_eq!(sent, 0);
                assert_eq!(send_error_kind(&e), SendErrorKind::Refused);
                refused = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(refused, "no ECONNREFUSED after 50 sends to a closed port");
    }

    #[test]
    fn connected_socket_sends_from_its_bound_address() {
        let rx = receiver();
        let tx = connected_udp_socket((Ipv4Addr::LOCALHOST, 0).into(), rx.local_addr().unwrap())
            .unwrap();
        let local = tx.local_addr().unwrap();
        assert_ne!(local.port(), 0);
        assert_eq!(tx.peer_addr().unwrap(), rx.local_addr().unwrap());
        // A second socket on the same source address and port, to another collector.
        let rx2 = receiver();
        let tx2 = connected_udp_socket(local, rx2.local_addr().unwrap()).unwrap();
        assert_eq!(send_batch(&tx, &[b"one"]).0, 1);
        assert_eq!(send_batch(&tx2, &[b"two"]).0, 1);
        let mut buf = [0u8; 16];
        let (n, from) = rx.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"one"[..], local));
        let (n, from) = rx2.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"two"[..], local));
    }

    #[test]
    fn ipv6_socket_binds_and_connects() {
        let Ok(rx) = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)) else {
            eprintln!("no IPv6 loopback here; skipped");
            return;
        };
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let tx = connected_udp_socket((Ipv6Addr::LOCALHOST, 0).into(), rx.local_addr().unwrap())
            .unwrap();
        assert_eq!(send_batch(&tx, &[b"v6"]).0, 1);
        let mut buf = [0u8; 16];
        let (n, from) = rx.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"v6"[..], tx.local_addr().unwrap()));
    }

    #[test]
    fn bind_to_a_foreign_address_fails() {
        let err = connected_udp_socket(
            (Ipv4Addr::new(198, 51, 100, 1), 0).into(),
            (Ipv4Addr::LOCALHOST, 4739).into(),
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EADDRNOTAVAIL));
    }

    #[test]
    fn error_kinds() {
        let kind = |e| send_error_kind(&io::Error::from_raw_os_error(e));
        assert_eq!(kind(libc::ECONNREFUSED), SendErrorKind::Refused);
        assert_eq!(kind(libc::ENOBUFS), SendErrorKind::NoBuffers);
        assert_eq!(kind(libc::EAGAIN), SendErrorKind::NoBuffers);
        assert_eq!(kind(libc::EHOSTUNREACH), SendErrorKind::Unreachable);
        assert_eq!(kind(libc::ENETUNREACH), SendErrorKind::Unreachable);
        assert_eq!(kind(libc::EPERM), SendErrorKind::Other);
        assert_eq!(
            send_error_kind(&io::Error::other("not an errno")),
            SendErrorKind::Other
        );
    }
}
