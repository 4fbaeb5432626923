//! The FFI to the OS: the libc calls the Rust transports need and std lacks (`sendmmsg`,
//! socket options set before `bind`, the error queue), behind safe functions. The
//! transports' only unsafe code lives here.

use std::io::{self, IoSlice};
use std::mem::{size_of, zeroed, MaybeUninit};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Most datagrams one `sendmmsg` call takes from `send_batch`; the message headers of a
/// chunk live on the stack (4 KiB), so sending allocates nothing.
pub const SENDMMSG_CHUNK: usize = 64;

/// What [`send_batch`] did.
#[derive(Debug)]
pub struct BatchSent {
    /// Datagrams sent, in order, before the first error.
    pub sent: usize,
    /// The error of `datagrams[sent]`, which was not sent; those after it were not tried.
    pub error: Option<io::Error>,
    /// A call sent fewer datagrams than it was given and reported no error: the kernel
    /// dropped the error of the datagram it stopped at (which the next call sent), maybe
    /// one an ICMP error had left pending on the socket.
    pub short: bool,
}

/// Sends `datagrams` in order on a connected UDP socket, one `sendmmsg(2)` call per
/// chunk of at most [`SENDMMSG_CHUNK`]. Returns how many were sent before the first
/// error, and that error: `datagrams[sent]` is the one that failed, and those after it
/// were not tried (the caller decides what to do with them).
///
/// `sendmmsg` returns a short count, and drops the error, when a datagram other than the
/// first of a call fails; the rest is then sent by a new call, so a lasting error (no
/// buffer space, no route) shows up as the first datagram's error of that call. A
/// one-shot socket error (ECONNREFUSED from an earlier ICMP message) is consumed by the
/// kernel in the short call (`short`), and the datagram it stopped goes out in the next
/// one; when it meets the first datagram of a call, that call fails with it and
/// `datagrams[sent]` was not sent either ([`is_icmp_error`]).
pub fn send_batch(socket: &UdpSocket, datagrams: &[IoSlice<'_>]) -> BatchSent {
    let mut done = BatchSent {
        sent: 0,
        error: None,
        short: false,
    };
    while done.sent < datagrams.len() {
        let end = datagrams.len().min(done.sent + SENDMMSG_CHUNK);
        let offered = end - done.sent;
        match send_chunk(socket, &datagrams[done.sent..end]) {
            // `sendmmsg` sends at least one or fails; a 0 would loop forever.
            Ok(0) => {
                done.error = Some(io::Error::from(io::ErrorKind::WriteZero));
                break;
            }
            Ok(n) => {
                done.short |= n < offered;
                done.sent += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                done.error = Some(e);
                break;
            }
        }
    }
    done
}

/// One `sendmmsg` call for at most `SENDMMSG_CHUNK` datagrams.
fn send_chunk(socket: &UdpSocket, chunk: &[IoSlice<'_>]) -> io::Result<usize> {
    let chunk = &chunk[..chunk.len().min(SENDMMSG_CHUNK)];
    // Only the headers given to the kernel are written: zeroing all 64 would cost more
    // than the rest of the call's preparation.
    let mut headers = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; SENDMMSG_CHUNK];
    for (h, datagram) in headers.iter_mut().zip(chunk) {
        // SAFETY: `mmsghdr` is a C struct of integers and raw pointers, for which all-zero
        // bytes are a valid value (no name, no control data, null pointers).
        let mut m: libc::mmsghdr = unsafe { zeroed() };
        // A connected socket: no destination address per message. `IoSlice` is an
        // `iovec` (std guarantees the layout on Unix); the kernel only reads through
        // it, the `*mut` is the C type's.
        m.msg_hdr.msg_iov = std::ptr::from_ref(datagram).cast_mut().cast();
        m.msg_hdr.msg_iovlen = 1;
        h.write(m);
    }
    // SAFETY: the first `chunk.len()` headers were initialised just above, each pointing
    // at one `IoSlice` of `chunk` (an `iovec`, borrowed for this call), which points at
    // readable bytes of a datagram; the kernel reads no header past `chunk.len()` and
    // writes only `msg_len` of those, which we own mutably. `chunk.len() <=
    // SENDMMSG_CHUNK` fits in `c_uint`.
    let rc = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr().cast::<libc::mmsghdr>(),
            chunk.len() as libc::c_uint,
            0,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// The wall clock (CLOCK_REALTIME) in seconds since the Unix epoch, 0 before it: what
/// `SystemTime::now().duration_since(UNIX_EPOCH)` gives as `as_secs_f64`, read with one
/// `clock_gettime` and none of the `Duration` arithmetic (the standalone host's `now`,
/// asked several times a packet).
pub fn wall_clock() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live `timespec` the call writes; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    if rc != 0 || ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return 0.0;
    }
    // As `Duration::as_secs_f64` computes it, so the value is the same to the bit.
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// A connected exporter socket.
#[derive(Debug)]
pub struct ConnectedSocket {
    pub socket: UdpSocket,
    /// IP_RECVERR (IPV6_RECVERR) is on: each ICMP error about one of its datagrams is
    /// also queued, with the start of that datagram, for [`recv_queued_error`]. Off when
    /// the kernel refused the option: ICMP errors are then only the pending error that
    /// fails the next send.
    pub recverr: bool,
}

/// A non-blocking UDP socket bound to `local` (port 0: an ephemeral port) and connected
/// to `remote`, so the kernel reports ICMP errors (ECONNREFUSED, unreachable) on later
/// sends, and with IP_RECVERR on its error queue too. SO_REUSEADDR lets several sockets
/// share one source address and port, each connected to its own collector (one stream
/// port, several exporters); IPv6 sockets are IPv6-only.
pub fn connected_udp_socket(local: SocketAddr, remote: SocketAddr) -> io::Result<ConnectedSocket> {
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
    let recverr = if local.is_ipv6() {
        set_int_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
        set_int_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)
    } else {
        set_int_option(&fd, libc::IPPROTO_IP, libc::IP_RECVERR, 1)
    }
    // Optional: without it the sender counts losses as it did before the error queue.
    .is_ok();
    bind(&fd, local)?;
    let socket = UdpSocket::from(fd);
    socket.connect(remote)?;
    Ok(ConnectedSocket { socket, recverr })
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

/// One error taken from a socket's error queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedError {
    /// What it says (`ee_errno`): ECONNREFUSED for a port unreachable.
    pub errno: i32,
    /// It came from an ICMP or ICMPv6 message, so the network dropped the datagram it
    /// quotes. Otherwise the kernel raised it itself (EMSGSIZE on a send too big, say),
    /// and the send that failed already said so.
    pub icmp: bool,
    /// Bytes of the datagram's UDP payload copied into the buffer given: fewer than
    /// asked when the ICMP message quoted less.
    pub payload_len: usize,
}

/// Control room for one IP_RECVERR message: `cmsghdr`, `sock_extended_err` (16 bytes)
/// and the offender's address (a `sockaddr_in6` at most, 28 bytes), with room to spare.
const CONTROL_LEN: usize = 128;

/// Takes the oldest error from `socket`'s error queue (IP_RECVERR), copying the start of
/// the datagram it is about (its UDP payload) into `payload`; `Ok(None)` when the queue
/// is empty. Never blocks, allocates nothing. Taking the last ICMP error also clears the
/// socket's pending error, so it fails no later send.
pub fn recv_queued_error(
    socket: &UdpSocket,
    payload: &mut [u8],
) -> io::Result<Option<QueuedError>> {
    #[repr(C, align(8))]
    struct Control([u8; CONTROL_LEN]);
    let mut control = Control([0; CONTROL_LEN]);
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: `msghdr` is a C struct of integers and raw pointers, for which all-zero
    // bytes are a valid value (no name, no buffers).
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = CONTROL_LEN as _;
    let copied = loop {
        // SAFETY: `msg` points at `iov` (`payload.len()` writable bytes of `payload`) and
        // at `CONTROL_LEN` writable bytes of `control`, all alive and borrowed mutably
        // for the call; the kernel writes within those lengths and into `msg` itself.
        let rc = unsafe {
            libc::recvmsg(
                socket.as_raw_fd(),
                &mut msg,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
            )
        };
        if rc >= 0 {
            break (rc as usize).min(payload.len());
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => return Ok(None),
            _ => return Err(e),
        }
    };
    let used = (msg.msg_controllen as usize).min(CONTROL_LEN);
    Ok(Some(extended_error(&control.0[..used]).map_or(
        // No description (it cannot be cut short in CONTROL_LEN): not known to be ICMP.
        QueuedError {
            errno: 0,
            icmp: false,
            payload_len: copied,
        },
        |(errno, origin)| QueuedError {
            errno,
            icmp: origin == libc::SO_EE_ORIGIN_ICMP || origin == libc::SO_EE_ORIGIN_ICMP6,
            payload_len: copied,
        },
    )))
}

/// The errno and origin of the `sock_extended_err` among the control messages
/// `control` holds, read as bytes in the kernel's layout: `cmsg_len` (a `size_t`),
/// level and type (`int`s), then the data, each message aligned to a `size_t`.
fn extended_error(control: &[u8]) -> Option<(i32, u8)> {
    const WORD: usize = size_of::<usize>();
    let header = WORD + 8;
    let data_at = header.next_multiple_of(WORD);
    let int = |b: &[u8], at: usize| -> Option<i32> {
        Some(i32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let mut at = 0;
    while control.len().saturating_sub(at) >= header {
        let len = usize::from_ne_bytes(control.get(at..at + WORD)?.try_into().ok()?);
        if len < header || len > control.len() - at {
            return None;
        }
        let level = int(control, at + WORD)?;
        let kind = int(control, at + WORD + 4)?;
        let is_recverr = (level == libc::IPPROTO_IP && kind == libc::IP_RECVERR)
            || (level == libc::IPPROTO_IPV6 && kind == libc::IPV6_RECVERR);
        // sock_extended_err: ee_errno (u32), ee_origin (u8), type, code, pad, info, data.
        if is_recverr && len >= data_at + size_of::<libc::sock_extended_err>() {
            let errno = int(control, at + data_at)?;
            let origin = *control.get(at + data_at + 4)?;
            return Some((errno, origin));
        }
        at += len.next_multiple_of(WORD);
    }
    None
}

/// The errors a send on a connected UDP socket reports for an EARLIER datagram: those
/// an ICMP error leaves as the socket's pending error (with IP_RECVERR, soft ones such
/// as host unreachable too). The send that returns one never sent its own datagram.
/// Linux's `icmp_err_convert` and `icmpv6_err_convert`, and time exceeded, parameter
/// problem, packet too big. Some also come from the send itself (no route, too big).
pub fn is_icmp_error(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(
            libc::ECONNREFUSED
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::ENOPROTOOPT
                | libc::EMSGSIZE
                | libc::EOPNOTSUPP
                | libc::EPROTO
                | libc::EACCES
        )
    )
}

/// What a failed send says about the path, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendErrorKind {
    /// ECONNREFUSED: the collector's host answered port unreachable (no collector).
    Refused,
    /// ENOBUFS, EAGAIN: the socket's or the device's queue is full.
    NoBuffers,
    /// EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENONET: no route, or the network said so.
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
        Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN | libc::ENONET) => {
            SendErrorKind::Unreachable
        }
        _ => SendErrorKind::Other,
    }
}

/// A UDP port nobody listens on, on `ip` (bound, then closed): where the tests of
/// this module and of the UDP output send to get ICMP errors back. `None` when `ip`
/// cannot be bound here (no IPv6).
#[cfg(test)]
pub(crate) fn closed_port(ip: std::net::IpAddr) -> Option<SocketAddr> {
    UdpSocket::bind((ip, 0)).ok()?.local_addr().ok()
}

/// A closed port on the IPv4 loopback and one on the IPv6 loopback, leaving out (and
/// saying so) a family this machine cannot bind: the tests that run once per family.
#[cfg(test)]
pub(crate) fn closed_loopback_ports() -> Vec<SocketAddr> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ]
    .into_iter()
    .filter_map(|ip| {
        let port = closed_port(ip);
        if port.is_none() {
            eprintln!("no {ip} here; skipped");
        }
        port
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    /// `send_batch` of plain byte slices: (sent, error).
    fn send(socket: &UdpSocket, datagrams: &[&[u8]]) -> (usize, Option<io::Error>) {
        let slices: Vec<IoSlice<'_>> = datagrams.iter().map(|d| IoSlice::new(d)).collect();
        let done = send_batch(socket, &slices);
        (done.sent, done.error)
    }

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
        let (sent, err) = send(&tx, &slices);
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
        let (sent, err) = send(&tx, &[]);
        assert_eq!(sent, 0);
        assert!(err.is_none());
    }

    #[test]
    fn unconnected_socket_reports_the_first_error() {
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let (sent, err) = send(&tx, &[b"a", b"b"]);
        assert_eq!(sent, 0);
        assert_eq!(err.unwrap().raw_os_error(), Some(libc::EDESTADDRREQ));
    }

    #[test]
    fn closed_port_is_refused_on_a_later_send() {
        let dst = closed_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let tx = connected_udp_socket((Ipv4Addr::LOCALHOST, 0).into(), dst)
            .unwrap()
            .socket;
        let mut refused = false;
        // The ICMP error comes back within microseconds on loopback; bounded retries.
        for _ in 0..50 {
            let (sent, err) = send(&tx, &[b"x"]);
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
    fn a_pending_error_met_inside_a_call_shows_as_short() {
        let dst = closed_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let tx = connected_udp_socket((Ipv4Addr::LOCALHOST, 0).into(), dst)
            .unwrap()
            .socket;
        // The first datagram's ICMP error comes back during the call (loopback), or
        // after it; bounded retries until one stops a call after its first datagram.
        let mut short = false;
        for _ in 0..50 {
            let done = send_batch(&tx, &[IoSlice::new(b"a"), IoSlice::new(b"b")]);
            assert!(done.sent <= 2);
            if done.short {
                assert!(done.sent >= 1, "a short call sent at least one");
                short = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(short, "no short call in 50 batches to a closed port");
    }

    #[test]
    fn the_wall_clock_is_system_time() {
        let since_epoch = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        };
        let before = since_epoch(std::time::SystemTime::now());
        let now = wall_clock();
        let after = since_epoch(std::time::SystemTime::now());
        assert!(before <= now && now <= after, "{before} {now} {after}");
    }

    /// Waits (bounded) for the next queued error of `tx`.
    fn next_queued_error(tx: &UdpSocket, payload: &mut [u8]) -> Option<QueuedError> {
        for _ in 0..500 {
            if let Some(e) = recv_queued_error(tx, payload).unwrap() {
                return Some(e);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }

    #[test]
    fn an_icmp_error_is_queued_with_the_datagram_it_is_about() {
        for dst in closed_loopback_ports() {
            let ip = dst.ip();
            let tx = connected_udp_socket((ip, 0).into(), dst).unwrap();
            assert!(tx.recverr, "{ip}");
            let tx = tx.socket;
            let first: Vec<u8> = (0..40u8).collect();
            let second = [7u8; 30];
            assert_eq!(send(&tx, &[&first]).0, 1);
            let mut payload = [0u8; 20];
            let e = next_queued_error(&tx, &mut payload).expect("an ICMP error comes back");
            let want = QueuedError {
                errno: libc::ECONNREFUSED,
                icmp: true,
                payload_len: 20,
            };
            assert_eq!((e, &payload[..]), (want, &first[..20]), "{ip}");
            // Taking it cleared the pending error: the next send is not refused for it.
            assert_eq!(send(&tx, &[&second]).0, 1, "{ip}");
            let mut payload = [0u8; 64];
            let e = next_queued_error(&tx, &mut payload).expect("an ICMP error comes back");
            assert_eq!((e.payload_len, &payload[..30]), (30, &second[..]), "{ip}");
            assert_eq!(recv_queued_error(&tx, &mut payload).unwrap(), None);
        }
    }

    #[test]
    fn errors_from_icmp_and_from_the_send_itself() {
        let is = |e| is_icmp_error(&io::Error::from_raw_os_error(e));
        for e in [
            libc::ECONNREFUSED,
            libc::EHOSTUNREACH,
            libc::ENETUNREACH,
            libc::EPROTO,
        ] {
            assert!(is(e), "{e}");
        }
        for e in [
            libc::ENOBUFS,
            libc::EAGAIN,
            libc::EPERM,
            libc::EBADF,
            libc::EINTR,
        ] {
            assert!(!is(e), "{e}");
        }
    }

    #[test]
    fn control_messages_are_read_in_the_kernel_layout() {
        const W: usize = size_of::<usize>();
        let message = |level: i32, kind: i32, errno: u32, origin: u8| {
            let mut m = Vec::new();
            m.extend_from_slice(&(W + 8 + 16).to_ne_bytes());
            m.extend_from_slice(&level.to_ne_bytes());
            m.extend_from_slice(&kind.to_ne_bytes());
            m.resize((W + 8).next_multiple_of(W), 0);
            m.extend_from_slice(&errno.to_ne_bytes());
            m.extend_from_slice(&[origin, 3, 3, 0]);
            m.extend_from_slice(&[0; 8]);
            m.resize(m.len().next_multiple_of(W), 0);
            m
        };
        let refused = libc::ECONNREFUSED as u32;
        let v4 = message(libc::IPPROTO_IP, libc::IP_RECVERR, refused, 2);
        assert_eq!(extended_error(&v4), Some((libc::ECONNREFUSED, 2)));
        // Another control message first, then the IPv6 one.
        let mut two = message(libc::SOL_SOCKET, libc::SO_TIMESTAMP, 0, 0);
        two.extend(message(libc::IPPROTO_IPV6, libc::IPV6_RECVERR, refused, 3));
        assert_eq!(extended_error(&two), Some((libc::ECONNREFUSED, 3)));
        assert_eq!(extended_error(&v4[..v4.len() - 8]), None, "cut short");
        assert_eq!(extended_error(&[]), None);
        let mut bad = v4.clone();
        bad[..W].copy_from_slice(&1000usize.to_ne_bytes());
        assert_eq!(extended_error(&bad), None, "a length past the end");
    }

    #[test]
    fn connected_socket_sends_from_its_bound_address() {
        let rx = receiver();
        let tx = connected_udp_socket((Ipv4Addr::LOCALHOST, 0).into(), rx.local_addr().unwrap())
            .unwrap()
            .socket;
        let local = tx.local_addr().unwrap();
        assert_ne!(local.port(), 0);
        assert_eq!(tx.peer_addr().unwrap(), rx.local_addr().unwrap());
        // A second socket on the same source address and port, to another collector.
        let rx2 = receiver();
        let tx2 = connected_udp_socket(local, rx2.local_addr().unwrap())
            .unwrap()
            .socket;
        assert_eq!(send(&tx, &[b"one"]).0, 1);
        assert_eq!(send(&tx2, &[b"two"]).0, 1);
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
        assert!(tx.recverr);
        let tx = tx.socket;
        assert_eq!(send(&tx, &[b"v6"]).0, 1);
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
        assert_eq!(kind(libc::EHOSTDOWN), SendErrorKind::Unreachable);
        assert_eq!(kind(libc::EPERM), SendErrorKind::Other);
        assert_eq!(
            send_error_kind(&io::Error::other("not an errno")),
            SendErrorKind::Other
        );
    }
}
