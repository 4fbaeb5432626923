//! Rust embedders: where packets go when the core runs outside VPP. A buffer pool they
//! share, an in-memory capture (tests, fault injection), a pcap file writer, and the
//! standalone host (UDP sockets, pcap and RFC 5655 IPFIX files) with its outputs.

pub mod capture;
pub mod ipfix_file;
pub mod pcap;
pub mod pool;
pub mod standalone;
pub mod udp;

pub use capture::Capture;
pub use ipfix_file::IpfixFileWriter;
pub use pcap::PcapWriter;
pub use pool::BufferPool;
pub use standalone::{StandaloneConfig, StandaloneHost, StandaloneStats};
pub use udp::{UdpSender, UdpStats};

/// Seconds since the Unix epoch, from the system clock.
pub fn system_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
