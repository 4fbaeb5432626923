//! The embedder ops table for C hosts (VPP's shim, the test harnesses) and its adapter to
//! the core's `Embedder` trait. Every length the host hands back is checked.

#![allow(non_camel_case_types)]

use std::ffi::c_void;

use crate::ops::{vpp_ipfix_packet_info_t, BufferHandle, Embedder, EnqueueRefused, PacketInfo};
use crate::types::{flow_report_t, ipfix_exporter_t};
use crate::wire::vpp_vec::{RustVecMemory, VecMemory, VecShape};
use crate::wire::PacketBuf;

/// What the library needs from a C host. Every function may be called from any exporting
/// thread at once, with that thread's index; `ctx` is passed back unchanged.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vpp_ipfix_ops_t {
    /// Passed to every function.
    pub ctx: *mut c_void,
    /// A new packet buffer for `thread_index`, or NULL when none can be had (counted as an
    /// allocation failure). Its data must hold at least `min_capacity` bytes. May be
    /// NULL, with `buffer_data` and `buffer_capacity`, when `buffer_alloc_packet` is set.
    pub buffer_alloc: Option<
        unsafe extern "C" fn(ctx: *mut c_void, thread_index: u32, min_capacity: u32) -> *mut c_void,
    >,
    /// Frees a buffer the library will not send.
    pub buffer_free:
        Option<unsafe extern "C" fn(ctx: *mut c_void, thread_index: u32, buffer: *mut c_void)>,
    /// Where the buffer's packet starts (the IP header goes here).
    pub buffer_data: Option<unsafe extern "C" fn(ctx: *mut c_void, buffer: *mut c_void) -> *mut u8>,
    /// Bytes available from `buffer_data`.
    pub buffer_capacity: Option<unsafe extern "C" fn(ctx: *mut c_void, buffer: *mut c_void) -> u32>,
    /// Takes a finished packet of `info->length` bytes (to ip4-lookup or ip6-lookup as
    /// `info->is_ip6` says). Returns 0 when taken; non-zero when refused, after freeing
    /// the buffer itself (the library counts the packet as dropped).
    pub enqueue: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            thread_index: u32,
            buffer: *mut c_void,
            info: *const vpp_ipfix_packet_info_t,
        ) -> i32,
    >,
    /// Seconds since the Unix epoch (export time, template refresh).
    pub now: Option<unsafe extern "C" fn(ctx: *mut c_void) -> f64>,
    /// Optional, with `vec_free`: resizes `vec`, a vector in VPP's memory layout (VPP's
    /// `vec_header_t` right before the data, and `header_bytes` of user header before
    /// that: 0 for a plain vector, 24 (`pool_header_t`) for the exporters pool), to
    /// `new_len` elements of `elt_size` bytes with the data aligned to `align`. New
    /// elements and a new vector's headers are zero; `vec` NULL allocates. Returns the
    /// (maybe moved) data pointer, NULL on failure with `vec` untouched. VPP's shim uses
    /// VPP's vector functions, so `vec_len` and `vec_validate` work on `exp->reports`,
    /// `exp->streams` and the exporters pool. NULL: the library makes the same layout in
    /// memory of its own.
    pub vec_resize: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            vec: *mut c_void,
            new_len: u32,
            elt_size: u32,
            align: u32,
            header_bytes: u32,
        ) -> *mut c_void,
    >,
    /// Frees a vector `vec_resize` returned.
    pub vec_free: Option<unsafe extern "C" fn(ctx: *mut c_void, vec: *mut c_void)>,
    /// Optional: writes the whole template packet of a report that has no elements (IP,
    /// UDP, IPFIX message header and template sets, as VPP's rewrite callbacks build it)
    /// to `packet` (`capacity` bytes) and its length to `*length`; returns 0, or non-zero
    /// when there is none (counted, retried when next due). Called when the template is
    /// (re)built, from the thread sending templates (VPP's main thread). It may set
    /// `fr->fields_to_send` (VPP's classifier reports do) and nothing else of `fr`.
    pub template_rewrite: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            exp: *mut ipfix_exporter_t,
            fr: *mut flow_report_t,
            packet: *mut u8,
            capacity: u32,
            length: *mut u32,
        ) -> i32,
    >,
    /// Optional: `buffer_alloc`, `buffer_data` and `buffer_capacity` in one call, so a
    /// packet costs one call to the host instead of three: a new buffer for
    /// `thread_index` (NULL when none can be had), with where its packet starts in
    /// `*data` and the bytes available there in `*capacity`. When set, the library calls
    /// it and never the other three, which may then be NULL.
    pub buffer_alloc_packet: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            thread_index: u32,
            min_capacity: u32,
            data: *mut *mut u8,
            capacity: *mut u32,
        ) -> *mut c_void,
    >,
    /// Optional: report `fr` of `exp` is going (its report or exporter deleted, or the
    /// instance destroyed); the host frees what it attached to it, such as the
    /// `fields_to_send` bitmap of VPP's classifier reports, and may clear that field.
    /// Called from the configuration thread while `fr` is still in `exp->reports`.
    pub report_removed: Option<
        unsafe extern "C" fn(ctx: *mut c_void, exp: *mut ipfix_exporter_t, fr: *mut flow_report_t),
    >,
}

/// `vpp_ipfix_ops_t::buffer_alloc_packet`. The field spells the type out: cbindgen
/// does not see through an alias inside `Option`.
type AllocPacketFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    thread_index: u32,
    min_capacity: u32,
    data: *mut *mut u8,
    capacity: *mut u32,
) -> *mut c_void;

/// A validated ops table: every function the library calls is present.
#[derive(Debug)]
pub struct CEmbedder {
    ops: vpp_ipfix_ops_t,
}

// SAFETY: the ops table's contract (documented on `vpp_ipfix_ops_t`) is that every
// function may be called from any thread at once; `ctx` is only passed back to them.
unsafe impl Send for CEmbedder {}
// SAFETY: as above; the adapter holds no state of its own.
unsafe impl Sync for CEmbedder {}

impl CEmbedder {
    /// `None` unless every function the library calls is set.
    pub fn new(ops: &vpp_ipfix_ops_t) -> Option<Self> {
        let alloc = ops.buffer_alloc_packet.is_some()
            || (ops.buffer_alloc.is_some()
                && ops.buffer_data.is_some()
                && ops.buffer_capacity.is_some());
        let complete = alloc
            && ops.buffer_free.is_some()
            && ops.enqueue.is_some()
            && ops.now.is_some()
            && ops.vec_resize.is_some() == ops.vec_free.is_some();
        complete.then_some(CEmbedder { ops: *ops })
    }

    /// A buffer with its data and capacity from `buffer_alloc_packet`.
    #[inline]
    fn alloc_packet(
        &self,
        alloc_packet: AllocPacketFn,
        thread_index: u32,
        min_capacity: u32,
    ) -> Option<(*mut c_void, *mut u8, u32)> {
        let (mut data, mut capacity) = (std::ptr::null_mut(), 0u32);
        // SAFETY: the host's function, called as its contract says, with places for
        // the data pointer and capacity that live across the call.
        let buffer = unsafe {
            alloc_packet(
                self.ops.ctx,
                thread_index,
                min_capacity,
                &mut data,
                &mut capacity,
            )
        };
        (!buffer.is_null()).then_some((buffer, data, capacity))
    }

    /// A buffer with its data and capacity from `buffer_alloc`, `buffer_data` and
    /// `buffer_capacity`.
    #[cold]
    #[inline(never)]
    fn alloc_in_three_calls(
        &self,
        thread_index: u32,
        min_capacity: u32,
    ) -> Option<(*mut c_void, *mut u8, u32)> {
        let (alloc, data, capacity) = (
            self.ops.buffer_alloc?,
            self.ops.buffer_data?,
            self.ops.buffer_capacity?,
        );
        // SAFETY: the host's functions, called as its contract says.
        let buffer = unsafe { alloc(self.ops.ctx, thread_index, min_capacity) };
        if buffer.is_null() {
            return None;
        }
        // SAFETY: as above, with a buffer the host just returned.
        let (ptr, cap) = unsafe { (data(self.ops.ctx, buffer), capacity(self.ops.ctx, buffer)) };
        Some((buffer, ptr, cap))
    }

    fn free(&self, thread_index: u32, buffer: *mut c_void) {
        if let Some(f) = self.ops.buffer_free {
            // SAFETY: `buffer` came from this host's `buffer_alloc` and is freed once.
            unsafe { f(self.ops.ctx, thread_index, buffer) }
        }
    }
}

impl Embedder for CEmbedder {
    fn buffer_alloc(
        &self,
        thread_index: u32,
        min_capacity: u32,
    ) -> Option<(BufferHandle, PacketBuf)> {
        let (buffer, ptr, cap) = match self.ops.buffer_alloc_packet {
            Some(alloc_packet) => self.alloc_packet(alloc_packet, thread_index, min_capacity)?,
            None => self.alloc_in_three_calls(thread_index, min_capacity)?,
        };
        // SAFETY: the host's contract: `ptr` is valid for `cap` bytes and belongs to this
        // buffer, which only the library touches until it is freed or enqueued.
        match unsafe { PacketBuf::from_raw(ptr, cap) } {
            Some(buf) => Some((BufferHandle(buffer as usize), buf)),
            None => {
                self.free(thread_index, buffer);
                None
            }
        }
    }

    fn buffer_free(&self, thread_index: u32, handle: BufferHandle, packet: PacketBuf) {
        drop(packet);
        self.free(thread_index, handle.0 as *mut c_void);
    }

    fn enqueue(
        &self,
        thread_index: u32,
        handle: BufferHandle,
        packet: PacketBuf,
        info: &PacketInfo,
    ) -> Result<(), EnqueueRefused> {
        drop(packet);
        let Some(enqueue) = self.ops.enqueue else {
            self.free(thread_index, handle.0 as *mut c_void);
            return Err(EnqueueRefused);
        };
        // SAFETY: a buffer from this host, handed over once; `info` outlives the call.
        match unsafe { enqueue(self.ops.ctx, thread_index, handle.0 as *mut c_void, info) } {
            0 => Ok(()),
            _ => Err(EnqueueRefused),
        }
    }

    fn now(&self) -> f64 {
        match self.ops.now {
            // SAFETY: the host's clock, called as its contract says.
            Some(now) => unsafe { now(self.ops.ctx) },
            None => 0.0,
        }
    }

    fn vec_memory(&self) -> &dyn VecMemory {
        if self.ops.vec_resize.is_some() {
            self
        } else {
            &RustVecMemory
        }
    }

    fn template_rewrite(
        &self,
        exp: &ipfix_exporter_t,
        fr: &flow_report_t,
        packet: &mut [u8],
    ) -> Option<usize> {
        let rewrite = self.ops.template_rewrite?;
        let capacity = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let mut length = 0u32;
        // SAFETY: the host's function as documented: it reads `exp` and `fr`, may set
        // `fr->fields_to_send` (an atomic pointer, so a shared borrow allows it), and
        // writes at most `capacity` bytes of `packet` and the length.
        let rc = unsafe {
            rewrite(
                self.ops.ctx,
                std::ptr::from_ref(exp).cast_mut(),
                std::ptr::from_ref(fr).cast_mut(),
                packet.as_mut_ptr(),
                capacity,
                &mut length,
            )
        };
        (rc == 0 && length as usize <= packet.len()).then_some(length as usize)
    }

    fn report_removed(&self, exp: &ipfix_exporter_t, fr: &flow_report_t) {
        if let Some(f) = self.ops.report_removed {
            // SAFETY: the host's function as documented: it may free and clear
            // `fr->fields_to_send` (an atomic pointer, so a shared borrow allows it) and
            // touches nothing else the library owns.
            unsafe {
                f(
                    self.ops.ctx,
                    std::ptr::from_ref(exp).cast_mut(),
                    std::ptr::from_ref(fr).cast_mut(),
                )
            }
        }
    }
}

impl VecMemory for CEmbedder {
    unsafe fn resize(&self, vec: *mut u8, new_len: u32, shape: VecShape) -> *mut u8 {
        match self.ops.vec_resize {
            // SAFETY: the caller's contract (a vector of this host, or NULL) is the
            // host function's.
            Some(f) => unsafe {
                f(
                    self.ops.ctx,
                    vec.cast(),
                    new_len,
                    shape.elt_size,
                    shape.align,
                    shape.header_bytes,
                )
                .cast()
            },
            None => std::ptr::null_mut(),
        }
    }

    unsafe fn free(&self, vec: *mut u8, _shape: VecShape) {
        if let Some(f) = self.ops.vec_free {
            // SAFETY: a vector this host's `vec_resize` returned, freed once.
            unsafe { f(self.ops.ctx, vec.cast()) }
        }
    }
}
