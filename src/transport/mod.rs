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

/// Seconds since the Unix epoch, from the system clock (0 before it).
pub fn system_now() -> f64 {
    crate::ffi::os::wall_clock()
}
