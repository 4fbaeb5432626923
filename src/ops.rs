//! What the core needs from its host: packet buffers, a way out for finished packets, and
//! the time. Rust embedders implement `Embedder`; C embedders fill `vpp_ipfix_ops_t`
//! (in `ffi::c_ops`), which is adapted to the same trait.

#![allow(non_camel_case_types)]

use crate::error::Error;
use crate::types::{flow_report_t, ip_address_t, ipfix_exporter_t};
use crate::wire::vpp_vec::{RustVecMemory, VecMemory};
use crate::wire::PacketBuf;

/// The embedder's name for a buffer (a `vlib_buffer_t *` in VPP), opaque to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferHandle(pub usize);

/// A finished packet on its way out (C: `vpp_ipfix_packet_info_t`): what a host needs to
/// route it, or to send it from a socket of its own.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct vpp_ipfix_packet_info_t {
    /// Bytes of the packet in the buffer, from its start (the IP header, or the room
    /// left for it when the host writes IP and UDP itself).
    pub length: u32,
    /// Where the IPFIX message starts in the buffer (after IP and UDP): what a host that
    /// writes its own IP and UDP headers sends.
    pub message_offset: u32,
    /// The exporter's FIB index (`~0` = none): VPP sends in this FIB.
    pub fib_index: u32,
    /// The exporter it belongs to.
    pub exporter_index: u32,
    /// Data records in the packet (0 for a template packet).
    pub records: u32,
    /// The stream's observation domain.
    pub domain_id: u32,
    /// UDP source port: the stream's.
    pub src_port: u16,
    /// UDP destination port: the collector's.
    pub dst_port: u16,
    /// The exporter's source address.
    pub src_address: ip_address_t,
    /// The collector's address.
    pub dst_address: ip_address_t,
    /// IPv6 (else IPv4): which lookup the packet goes to.
    pub is_ip6: bool,
    /// True for a template packet, false for data.
    pub is_template: bool,
}

pub use vpp_ipfix_packet_info_t as PacketInfo;

/// Why the embedder did not take a packet (it has already freed the buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnqueueRefused;

/// The host of the core. One embedder serves every thread at once: each method may be
/// called concurrently from any worker, with that worker's thread index.
pub trait Embedder: Send + Sync {
    /// A new buffer for `thread_index`, or `None` when none can be had (the core counts it).
    /// Its data must hold at least `min_capacity` bytes.
    fn buffer_alloc(
        &self,
        thread_index: u32,
        min_capacity: u32,
    ) -> Option<(BufferHandle, PacketBuf)>;

    /// Takes back a buffer that will not be sent.
    fn buffer_free(&self, thread_index: u32, handle: BufferHandle, packet: PacketBuf);

    /// Takes a finished packet: the first `info.length` bytes of `packet`. On refusal the
    /// embedder has freed the buffer and the core counts the packet as dropped.
    fn enqueue(
        &self,
        thread_index: u32,
        handle: BufferHandle,
        packet: PacketBuf,
        info: &PacketInfo,
    ) -> Result<(), EnqueueRefused>;

    /// The time, in seconds since the Unix epoch: the export time of messages, and the
    /// clock of template refresh.
    fn now(&self) -> f64;

    /// True when the host writes the IP and UDP headers itself (a UDP socket): the
    /// library's packets then start at the IPFIX message header. Asked once, at creation.
    fn writes_ip_udp_headers(&self) -> bool {
        false
    }

    /// Sends what the host has batched for `thread_index` (`sendmmsg`). The core calls it
    /// after its flush calls; hosts that send at once need not implement it.
    fn flush(&self, _thread_index: u32) {}

    /// Packets of `exporter_index` that the host took (enqueue returned Ok) and later
    /// failed to deliver, so the exporter's counters say them dropped, not sent.
    fn lost(&self, _exporter_index: u32) -> Lost {
        Lost::default()
    }

    /// Writes what the host buffers to stable storage (files); called on flush and
    /// shutdown.
    fn sync(&self) {}

    /// Where the vectors C reads (`exp->reports`, `exp->streams`, the exporters pool)
    /// get their memory: VPP's heap inside VPP, so VPP's vector macros work on them.
    fn vec_memory(&self) -> &dyn VecMemory {
        &RustVecMemory
    }

    /// The whole template packet (IP, UDP, IPFIX message header, template sets) of a
    /// report that has no elements, as its owner builds it (VPP's rewrite callback), into
    /// `packet`; its length, or `None` when there is none. Called from the thread that
    /// sends templates.
    fn template_rewrite(
        &self,
        _exp: &ipfix_exporter_t,
        _fr: &flow_report_t,
        _packet: &mut [u8],
    ) -> Option<usize> {
        None
    }

    /// Report `fr` of `exp` is going (deleted with its report or exporter, or the
    /// instance destroyed): the host frees what it attached to it, such as the
    /// `fields_to_send` bitmap VPP's classifier reports set. Called from the
    /// configuration thread, while `fr` is still in `exp->reports`.
    fn report_removed(&self, _exp: &ipfix_exporter_t, _fr: &flow_report_t) {}
}

/// A buffer of at least `need` bytes for `thread_index`: what the host handed back is
/// checked, and a short one goes back to it. `VPP_IPFIX_ERROR_NO_BUFFER` when the host
/// had none, `VPP_IPFIX_ERROR_BUFFER_TOO_SMALL` when it was short; callers count both.
pub fn alloc_buffer(
    embedder: &dyn Embedder,
    thread_index: u32,
    need: u32,
) -> Result<(BufferHandle, PacketBuf), Error> {
    let (handle, buf) = embedder
        .buffer_alloc(thread_index, need)
        .ok_or(Error::VPP_IPFIX_ERROR_NO_BUFFER)?;
    if buf.capacity() < need {
        embedder.buffer_free(thread_index, handle, buf);
        return Err(Error::VPP_IPFIX_ERROR_BUFFER_TOO_SMALL);
    }
    Ok((handle, buf))
}

/// Packets a host failed to deliver after taking them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lost {
    /// Data packets, their data records and bytes.
    pub packets: u64,
    pub records: u64,
    pub bytes: u64,
    /// Template (and options) packets.
    pub templates: u64,
}

impl Lost {
    /// What was lost after `before` (the same host's earlier count).
    pub fn since(&self, before: &Lost) -> Lost {
        Lost {
            packets: self.packets.saturating_sub(before.packets),
            records: self.records.saturating_sub(before.records),
            bytes: self.bytes.saturating_sub(before.bytes),
            templates: self.templates.saturating_sub(before.templates),
        }
    }
}

/// A shared embedder (the caller keeps a handle to read what it did).
impl<E: Embedder + ?Sized> Embedder for std::sync::Arc<E> {
    fn buffer_alloc(
        &self,
        thread_index: u32,
        min_capacity: u32,
    ) -> Option<(BufferHandle, PacketBuf)> {
        (**self).buffer_alloc(thread_index, min_capacity)
    }
    fn buffer_free(&self, thread_index: u32, handle: BufferHandle, packet: PacketBuf) {
        (**self).buffer_free(thread_index, handle, packet)
    }
    fn enqueue(
        &self,
        thread_index: u32,
        handle: BufferHandle,
        packet: PacketBuf,
        info: &PacketInfo,
    ) -> Result<(), EnqueueRefused> {
        (**self).enqueue(thread_index, handle, packet, info)
    }
    fn now(&self) -> f64 {
        (**self).now()
    }
    fn writes_ip_udp_headers(&self) -> bool {
        (**self).writes_ip_udp_headers()
    }
    fn flush(&self, thread_index: u32) {
        (**self).flush(thread_index)
    }
    fn lost(&self, exporter_index: u32) -> Lost {
        (**self).lost(exporter_index)
    }
    fn sync(&self) {
        (**self).sync()
    }
    fn report_removed(&self, exp: &ipfix_exporter_t, fr: &flow_report_t) {
        (**self).report_removed(exp, fr)
    }
}
