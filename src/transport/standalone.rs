//! The host for exporting without VPP: pooled buffers, the system clock, and each IPFIX
//! message sent over UDP, written to a pcap file as it leaves the machine (IP and UDP
//! headers made here) and to an RFC 5655 IPFIX file, in any combination.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::ops::{BufferHandle, Embedder, EnqueueRefused, Lost, PacketInfo};
use crate::packet::TTL;
use crate::state::locked;
use crate::transport::ipfix_file::IpfixFileWriter;
use crate::transport::pcap::{write_file_header, write_record};
use crate::transport::pool::BufferPool;
use crate::transport::system_now;
use crate::transport::udp::{UdpSender, UdpStats};
use crate::wire::{ip, PacketBuf};

/// Size of the pool's buffers: room for any message under the largest path MTU (1450).
pub const BUFFER_SIZE: u32 = crate::transport::udp::BUFFER_SIZE;

/// Which outputs a [`StandaloneHost`] has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandaloneConfig {
    /// Threads that export (the instance's `n_threads`): one UDP batch each.
    pub n_threads: u32,
    /// Send each message to its exporter's collector over UDP.
    pub udp: bool,
    /// Write each packet, IP header first, to this pcap file (created or truncated).
    pub pcap: Option<PathBuf>,
    /// Write each message to this RFC 5655 IPFIX file (created or truncated).
    pub ipfix_file: Option<PathBuf>,
}

impl Default for StandaloneConfig {
    /// One thread, UDP only.
    fn default() -> Self {
        StandaloneConfig {
            n_threads: 1,
            udp: true,
            pcap: None,
            ipfix_file: None,
        }
    }
}

/// What a [`StandaloneHost`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StandaloneStats {
    /// The UDP output's counters, all exporters summed (`None` without UDP).
    pub udp: Option<UdpStats>,
    /// UDP sockets open.
    pub udp_sockets: usize,
    /// Packets written to the pcap file.
    pub pcap_packets: u64,
    /// Messages written to the IPFIX file, and their bytes.
    pub ipfix_file_messages: u64,
    pub ipfix_file_bytes: u64,
    /// Writes that failed, pcap and IPFIX file together.
    pub write_errors: u64,
    /// Packets the host refused: no output took them (the core counts them dropped).
    pub refused: u64,
}

/// The pcap output: one file for every thread.
#[derive(Debug)]
struct PcapOutput {
    file: Mutex<PcapFile>,
    packets: AtomicU64,
    write_errors: AtomicU64,
}

#[derive(Debug)]
struct PcapFile {
    out: BufWriter<File>,
    /// The packet being framed: reused, so writing allocates nothing once warm.
    frame: Vec<u8>,
}

impl PcapOutput {
    fn create(path: &std::path::Path) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        write_file_header(&mut out)?;
        Ok(PcapOutput {
            file: Mutex::new(PcapFile {
                out,
                frame: Vec::with_capacity(BUFFER_SIZE as usize + MAX_IP_UDP_LEN),
            }),
            packets: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        })
    }

    /// Writes `message` with the IP and UDP headers it leaves the machine with.
    fn write(&self, info: &PacketInfo, message: &[u8]) -> io::Result<()> {
        let result = self
            .file
            .lock()
            .map_err(|_| io::Error::other("pcap output poisoned"))
            .and_then(|mut f| {
                let PcapFile { out, frame } = &mut *f;
                frame_ip_udp(info, message, frame)?;
                write_record(out, system_now(), frame)
            });
        match result {
            Ok(()) => self.packets.fetch_add(1, Relaxed),
            Err(_) => self.write_errors.fetch_add(1, Relaxed),
        };
        result
    }

    fn flush_to_disk(&self) -> io::Result<()> {
        let mut f = locked(&self.file);
        io::Write::flush(&mut f.out)
    }
}

/// IPv6 + UDP headers, the most the framing adds.
const MAX_IP_UDP_LEN: usize = ip::IPV6_HEADER_LEN + ip::UDP_HEADER_LEN;

/// Puts in `frame` the packet that carries `message` as `info` describes it: an IPv4 or
/// IPv6 header (TTL / hop limit 254, as VPP sends), a UDP header with its checksum
/// (always computed, over IPv4 too: a pcap reader verifies it), then the message.
pub fn frame_ip_udp(info: &PacketInfo, message: &[u8], frame: &mut Vec<u8>) -> io::Result<()> {
    let too_long = || io::Error::new(io::ErrorKind::InvalidInput, "message too long for UDP");
    let udp_len = ip::UDP_HEADER_LEN + message.len();
    let udp_len16 = u16::try_from(udp_len).map_err(|_| too_long())?;
    frame.clear();
    if info.is_ip6 {
        let mut h = [0u8; ip::IPV6_HEADER_LEN];
        ip::write_ipv6_header(
            &mut h,
            udp_len16,
            TTL,
            ip::IP_PROTOCOL_UDP,
            info.src_address.ip,
            info.dst_address.ip,
        );
        frame.extend_from_slice(&h);
    } else {
        let total = u16::try_from(ip::IPV4_HEADER_LEN + udp_len).map_err(|_| too_long())?;
        let mut h = [0u8; ip::IPV4_HEADER_LEN];
        ip::write_ipv4_header(
            &mut h,
            total,
            TTL,
            ip::IP_PROTOCOL_UDP,
            info.src_address.v4_octets(),
            info.dst_address.v4_octets(),
        );
        frame.extend_from_slice(&h);
    }
    let ip_len = frame.len();
    let mut udp = [0u8; ip::UDP_HEADER_LEN];
    ip::write_udp_header(&mut udp, info.src_port, info.dst_port, udp_len16, 0);
    frame.extend_from_slice(&udp);
    frame.extend_from_slice(message);
    let segment = &frame[ip_len..];
    let checksum = if info.is_ip6 {
        ip::udp_checksum_ipv6(info.src_address.ip, info.dst_address.ip, segment)
    } else {
        ip::udp_checksum_ipv4(
            info.src_address.v4_octets(),
            info.dst_address.v4_octets(),
            segment,
        )
    };
    frame[ip_len + 6..ip_len + 8].copy_from_slice(&checksum.to_be_bytes());
    Ok(())
}

/// The host of an exporter running on its own: the library writes IPFIX messages only
/// (`writes_ip_udp_headers`), and each goes to every output configured.
///
/// Delivery, as the exporter's counters see it: with UDP, a packet counts as sent when
/// the kernel took it, and UDP losses move it to dropped (`lost`): a failed send, or an
/// ICMP error about it read later (see [`crate::transport::udp`]); the files are a record
/// of what was exported, their failures only counted here. Without UDP, a packet is
/// refused when no file took it. With no output at all, packets are counted and
/// discarded. Share it as `Arc<StandaloneHost>` to read its stats while the instance
/// runs.
#[derive(Debug)]
pub struct StandaloneHost {
    /// A shard per thread; the UDP output sends from the buffers the core filled and
    /// gives them back here once sent.
    pool: Arc<BufferPool>,
    udp: Option<UdpSender>,
    pcap: Option<PcapOutput>,
    ipfix_file: Option<IpfixFileWriter>,
    refused: AtomicU64,
}

impl StandaloneHost {
    /// The host `config` describes; creates (truncates) its files. Sockets are opened
    /// as packets first need them.
    pub fn new(config: &StandaloneConfig) -> io::Result<Self> {
        if config.n_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "n_threads must be at least 1",
            ));
        }
        let pool = Arc::new(BufferPool::with_shards(BUFFER_SIZE, config.n_threads));
        Ok(StandaloneHost {
            udp: config
                .udp
                .then(|| UdpSender::with_pool(config.n_threads, Arc::clone(&pool))),
            pool,
            pcap: config.pcap.as_deref().map(PcapOutput::create).transpose()?,
            ipfix_file: config
                .ipfix_file
                .as_deref()
                .map(IpfixFileWriter::create)
                .transpose()?,
            refused: AtomicU64::new(0),
        })
    }

    /// Sends every thread's UDP batch and writes the files to disk (shutdown, or before
    /// reading the files). Returns the first file error.
    pub fn flush_all(&self) -> io::Result<()> {
        if let Some(udp) = &self.udp {
            udp.flush_all();
        }
        let pcap = self.pcap.as_ref().map_or(Ok(()), PcapOutput::flush_to_disk);
        let file = self
            .ipfix_file
            .as_ref()
            .map_or(Ok(()), IpfixFileWriter::flush_to_disk);
        pcap.and(file)
    }

    /// The UDP output, for its per-exporter counters and sockets (`None` without UDP).
    pub fn udp(&self) -> Option<&UdpSender> {
        self.udp.as_ref()
    }

    /// The UDP counters of one exporter (`None` without UDP).
    pub fn udp_stats(&self, exporter_index: u32) -> Option<UdpStats> {
        self.udp.as_ref().map(|u| u.stats(exporter_index))
    }

    /// What the host did, every output.
    pub fn stats(&self) -> StandaloneStats {
        let pcap_errors = self
            .pcap
            .as_ref()
            .map_or(0, |p| p.write_errors.load(Relaxed));
        let file_errors = self
            .ipfix_file
            .as_ref()
            .map_or(0, IpfixFileWriter::write_errors);
        StandaloneStats {
            udp: self.udp.as_ref().map(UdpSender::total_stats),
            udp_sockets: self.udp.as_ref().map_or(0, UdpSender::sockets_open),
            pcap_packets: self.pcap.as_ref().map_or(0, |p| p.packets.load(Relaxed)),
            ipfix_file_messages: self
                .ipfix_file
                .as_ref()
                .map_or(0, IpfixFileWriter::messages),
            ipfix_file_bytes: self.ipfix_file.as_ref().map_or(0, IpfixFileWriter::bytes),
            write_errors: pcap_errors + file_errors,
            refused: self.refused.load(Relaxed),
        }
    }
}

impl Embedder for StandaloneHost {
    fn buffer_alloc(
        &self,
        thread_index: u32,
        min_capacity: u32,
    ) -> Option<(BufferHandle, PacketBuf)> {
        self.pool.take_on(thread_index, min_capacity)
    }

    fn buffer_free(&self, thread_index: u32, _handle: BufferHandle, packet: PacketBuf) {
        self.pool.give_back_on(thread_index, packet);
    }

    fn enqueue(
        &self,
        thread_index: u32,
        _handle: BufferHandle,
        packet: PacketBuf,
        info: &PacketInfo,
    ) -> Result<(), EnqueueRefused> {
        let (start, end) = (info.message_offset as usize, info.length as usize);
        let Some(message) = packet.bytes().get(start..end) else {
            self.pool.give_back_on(thread_index, packet);
            self.refused.fetch_add(1, Relaxed);
            return Err(EnqueueRefused);
        };
        // UDP reports its losses later, through `lost`; taking the packet is all it does
        // now.
        let mut taken = self.udp.is_some() || (self.pcap.is_none() && self.ipfix_file.is_none());
        // The files first: they are written from the buffer now, and UDP keeps it.
        if let Some(pcap) = &self.pcap {
            taken |= pcap.write(info, message).is_ok();
        }
        if let Some(file) = &self.ipfix_file {
            taken |= file.write_message(message).is_ok();
        }
        match &self.udp {
            Some(udp) => udp.push_packet(thread_index, info, packet, start, end - start),
            None => self.pool.give_back_on(thread_index, packet),
        }
        if taken {
            Ok(())
        } else {
            self.refused.fetch_add(1, Relaxed);
            Err(EnqueueRefused)
        }
    }

    fn now(&self) -> f64 {
        system_now()
    }

    fn writes_ip_udp_headers(&self) -> bool {
        true
    }

    fn flush(&self, thread_index: u32) {
        if let Some(udp) = &self.udp {
            udp.flush(thread_index);
        }
    }

    fn lost(&self, exporter_index: u32) -> Lost {
        self.udp
            .as_ref()
            .map_or(Lost::default(), |u| u.lost(exporter_index))
    }

    fn sync(&self) {
        // Errors are counted by the outputs (`write_errors`).
        let _ = self.flush_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ip_address_t;
    use crate::wire::checksum::{fold, partial_sum};

    fn info(is_ip6: bool) -> PacketInfo {
        let (src, dst) = if is_ip6 {
            let mut s = [0u8; 16];
            s[0] = 0xfd;
            s[15] = 2;
            let mut d = s;
            d[15] = 1;
            (ip_address_t::v6(s), ip_address_t::v6(d))
        } else {
            (
                ip_address_t::v4([192, 0, 2, 2]),
                ip_address_t::v4([192, 0, 2, 1]),
            )
        };
        PacketInfo {
            length: 0,
            message_offset: 0,
            fib_index: !0,
            exporter_index: 0,
            records: 1,
            domain_id: 1,
            src_port: 30001,
            dst_port: 4739,
            src_address: src,
            dst_address: dst,
            is_ip6,
            is_template: false,
        }
    }

    #[test]
    fn framed_packets_carry_valid_headers_and_checksums() {
        let message: Vec<u8> = (0..=36u8).collect(); // odd length: a padded last word
        for is_ip6 in [false, true] {
            let info = info(is_ip6);
            let mut frame = Vec::new();
            frame_ip_udp(&info, &message, &mut frame).unwrap();
            let ip_len = if is_ip6 { 40 } else { 20 };
            assert_eq!(frame.len(), ip_len + 8 + message.len());
            assert_eq!(&frame[ip_len + 8..], message.as_slice());
            let udp = &frame[ip_len..];
            assert_eq!(&udp[0..4], &[0x75, 0x31, 0x12, 0x83]);
            assert_eq!(u16::from_be_bytes([udp[4], udp[5]]) as usize, udp.len());
            assert_ne!(&udp[6..8], &[0, 0], "a checksum, over IPv4 too");
            let pseudo = if is_ip6 {
                assert_eq!(frame[0] >> 4, 6);
                assert_eq!(frame[7], TTL);
                ip::ipv6_pseudo_header_sum(
                    info.src_address.ip,
                    info.dst_address.ip,
                    udp.len() as u32,
                )
            } else {
                assert_eq!(frame[0], 0x45);
                assert_eq!(frame[8], TTL);
                assert_eq!(crate::wire::internet_checksum(&frame[..20]), 0);
                ip::ipv4_pseudo_header_sum(
                    info.src_address.v4_octets(),
                    info.dst_address.v4_octets(),
                    udp.len() as u16,
                )
            };
            assert_eq!(fold(partial_sum(udp, pseudo)), 0xffff);
        }
    }

    #[test]
    fn oversized_message_is_refused_not_truncated() {
        let mut frame = Vec::new();
        let big = vec![0u8; 65_520];
        assert!(frame_ip_udp(&info(false), &big, &mut frame).is_err());
        assert!(frame_ip_udp(&info(true), &big, &mut frame).is_ok());
    }

    #[test]
    fn no_outputs_takes_and_discards() {
        let host = StandaloneHost::new(&StandaloneConfig {
            udp: false,
            ..Default::default()
        })
        .unwrap();
        let (h, buf) = host.buffer_alloc(0, 100).unwrap();
        let mut i = info(false);
        i.length = 50;
        assert!(host.enqueue(0, h, buf, &i).is_ok());
        assert_eq!(host.stats(), StandaloneStats::default());
        assert!(host.writes_ip_udp_headers());
        assert!(StandaloneHost::new(&StandaloneConfig {
            n_threads: 0,
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn a_file_that_cannot_be_written_refuses_the_packet() {
        let Ok(host) = StandaloneHost::new(&StandaloneConfig {
            udp: false,
            ipfix_file: Some(PathBuf::from("/dev/full")),
            ..Default::default()
        }) else {
            return;
        };
        let mut i = info(false);
        i.length = BUFFER_SIZE;
        // Buffered: the errors show once 8 KiB have been written.
        let mut refused = 0;
        for _ in 0..8 {
            let (h, buf) = host.buffer_alloc(0, BUFFER_SIZE).unwrap();
            refused += u32::from(host.enqueue(0, h, buf, &i).is_err());
        }
        assert!(refused > 0);
        let s = host.stats();
        assert_eq!(s.refused, u64::from(refused));
        assert_eq!(s.write_errors, u64::from(refused));
    }
}
