//! What the core needs from its host: packet buffers, a way out for finished packets, and
//! the time. Rust embedders implement `Embedder`; C embedders fill `vpp_ipfix_ops_t`
//! (in `ffi::c_ops`), which is adapted to the same trait.

#![allow(non_camel_case_types)]

use crate::wire::PacketBuf;

/// The embedder's name for a buffer (a `vlib_buffer_t *` in VPP), opaque to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferHandle(pub usize);

/// A finished packet on its way out (C: `vpp_ipfix_packet_info_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct vpp_ipfix_packet_info_t {
    /// Total length from the start of the IP header.
    pub length: u32,
    /// The exporter's FIB index (`~0` = none): VPP sends in this FIB.
    pub fib_index: u32,
    /// The exporter it belongs to.
    pub exporter_index: u32,
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
}
