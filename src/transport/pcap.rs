//! A pcap file embedder: every packet as it would leave VPP, IP header first (link type
//! LINKTYPE_RAW), so Wireshark and tshark open the file as is.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::ops::{BufferHandle, Embedder, EnqueueRefused, PacketInfo};
use crate::transport::pool::BufferPool;
use crate::transport::system_now;
use crate::wire::PacketBuf;

/// libpcap's classic magic, written in our byte order (readers detect the order).
const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// Raw IP: the packet starts at the IPv4 or IPv6 header.
pub const LINKTYPE_RAW: u32 = 101;
const SNAPLEN: u32 = 65535;

/// Writes the pcap file header.
pub fn write_file_header(out: &mut impl Write) -> io::Result<()> {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&PCAP_MAGIC.to_ne_bytes());
    h[4..6].copy_from_slice(&2u16.to_ne_bytes());
    h[6..8].copy_from_slice(&4u16.to_ne_bytes());
    h[16..20].copy_from_slice(&SNAPLEN.to_ne_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_RAW.to_ne_bytes());
    out.write_all(&h)
}

/// Writes one packet record stamped `time` (seconds since the epoch).
pub fn write_record(out: &mut impl Write, time: f64, packet: &[u8]) -> io::Result<()> {
    let secs = time.max(0.0).floor();
    let usecs = (((time.max(0.0) - secs) * 1e6) as u32).min(999_999);
    let len = packet.len() as u32;
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&(secs as u32).to_ne_bytes());
    h[4..8].copy_from_slice(&usecs.to_ne_bytes());
    h[8..12].copy_from_slice(&len.to_ne_bytes());
    h[12..16].copy_from_slice(&len.to_ne_bytes());
    out.write_all(&h)?;
    out.write_all(packet)
}

/// An embedder that writes every packet to a pcap file, with the system clock.
#[derive(Debug)]
pub struct PcapWriter {
    pool: BufferPool,
    out: Mutex<BufWriter<File>>,
    packets: AtomicU64,
    write_errors: AtomicU64,
}

impl PcapWriter {
    /// Creates (truncates) `path` and writes the file header.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        write_file_header(&mut out)?;
        Ok(PcapWriter {
            pool: BufferPool::new(2048),
            out: Mutex::new(out),
            packets: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        })
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets.load(Relaxed)
    }

    /// Packets that could not be written (disk full, ...).
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Relaxed)
    }

    /// Writes buffered packets to the file.
    pub fn flush_to_disk(&self) -> io::Result<()> {
        match self.out.lock() {
            Ok(mut o) => o.flush(),
            Err(_) => Err(io::Error::other("pcap writer poisoned")),
        }
    }
}

impl Drop for PcapWriter {
    fn drop(&mut self) {
        let _ = self.flush_to_disk();
    }
}

impl Embedder for PcapWriter {
    fn buffer_alloc(
        &self,
        _thread_index: u32,
        min_capacity: u32,
    ) -> Option<(BufferHandle, PacketBuf)> {
        self.pool.take(min_capacity)
    }

    fn buffer_free(&self, _thread_index: u32, _handle: BufferHandle, packet: PacketBuf) {
        self.pool.give_back(packet);
    }

    fn enqueue(
        &self,
        _thread_index: u32,
        _handle: BufferHandle,
        packet: PacketBuf,
        info: &PacketInfo,
    ) -> Result<(), EnqueueRefused> {
        let bytes = &packet.bytes()[..info.length as usize];
        let written = match self.out.lock() {
            Ok(mut o) => write_record(&mut *o, system_now(), bytes).is_ok(),
            Err(_) => false,
        };
        self.pool.give_back(packet);
        if written {
            self.packets.fetch_add(1, Relaxed);
            Ok(())
        } else {
            self.write_errors.fetch_add(1, Relaxed);
            Err(EnqueueRefused)
        }
    }

    fn now(&self) -> f64 {
        system_now()
    }

    fn sync(&self) {
        if self.flush_to_disk().is_err() {
            self.write_errors.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_record_headers() {
        let mut out = Vec::new();
        write_file_header(&mut out).unwrap();
        write_record(&mut out, 1.5, &[0x45, 0, 0, 4]).unwrap();
        assert_eq!(out.len(), 24 + 16 + 4);
        assert_eq!(
            u32::from_ne_bytes(out[0..4].try_into().unwrap()),
            PCAP_MAGIC
        );
        assert_eq!(u32::from_ne_bytes(out[20..24].try_into().unwrap()), 101);
        assert_eq!(u32::from_ne_bytes(out[24..28].try_into().unwrap()), 1);
        assert_eq!(u32::from_ne_bytes(out[28..32].try_into().unwrap()), 500_000);
        assert_eq!(u32::from_ne_bytes(out[32..36].try_into().unwrap()), 4);
    }
}
