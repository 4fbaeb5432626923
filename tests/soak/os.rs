//! What the system says: the process's RSS, the kernel's drops, free UDP ports.

use std::net::{IpAddr, UdpSocket};

pub(crate) fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf reads a constant of the system.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

/// Datagrams the kernel dropped on the way in, machine-wide: loopback's backlog
/// (/proc/net/softnet_stat) and full UDP receive buffers (/proc/net/snmp). Other
/// processes count here too: only a hint when something is missing.
pub(crate) fn kernel_drop_hints() -> (u64, u64) {
    let backlog = std::fs::read_to_string("/proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|d| u64::from_str_radix(d, 16).ok())
        .sum();
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let udp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp: ")).collect();
    let rcvbuf = (udp.len() == 2)
        .then(|| {
            let at = udp[0]
                .split_whitespace()
                .position(|w| w == "RcvbufErrors")?;
            udp[1].split_whitespace().nth(at)?.parse().ok()
        })
        .flatten()
        .unwrap_or(0);
    (backlog, rcvbuf)
}

/// `n` ports nobody uses on `ip` now (the library binds them with SO_REUSEADDR).
pub(crate) fn free_ports(ip: IpAddr, n: usize) -> Vec<u16> {
    let sockets: Vec<UdpSocket> = (0..n).map(|_| UdpSocket::bind((ip, 0)).unwrap()).collect();
    sockets
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect()
}
