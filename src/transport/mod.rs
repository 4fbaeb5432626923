//! Rust embedders: where packets go when the core runs outside VPP. A buffer pool they
//! share, an in-memory capture (tests, fault injection) and a pcap file writer.

pub mod capture;
pub mod pcap;
pub mod pool;

pub use capture::Capture;
pub use pcap::PcapWriter;
pub use pool::BufferPool;

/// Seconds since the Unix epoch, from the system clock.
pub fn system_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
