//! The structs C callers read and write, with VPP's names, field order and meanings: the
//! model's state itself, not a copy of it. Layouts are pinned here and in
//! `ffi-tests/layout.c`.
//!
//! Pointer fields are `AtomicPtr` (the same layout as a C pointer; the header shows them
//! as plain pointers) so the state can be shared between threads without `unsafe`:
//! workers read them while only configuration, under the barrier, writes them.

#![allow(non_camel_case_types)]

use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};

use static_assertions::{assert_eq_align, assert_eq_size, const_assert_eq};

use crate::wire::vpp_vec::VppVec;
use crate::wire::PacketBuf;

/// Address family of an `ip_address_t`: IPv4 (VPP's `AF_IP4`).
pub const AF_IP4: u8 = 0;
/// Address family of an `ip_address_t`: IPv6 (VPP's `AF_IP6`).
pub const AF_IP6: u8 = 1;

/// VPP's `ip_address_t`: 16 address bytes (IPv4 in the last four) and the family, packed
/// to 17 bytes. The C definition sits in the header's prologue so that a VPP build uses
/// VPP's own type instead.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ip_address_t {
    /// The address; an IPv4 address is in bytes 12..16 (VPP's `ip46_address_t`).
    pub ip: [u8; 16],
    /// `AF_IP4` or `AF_IP6`.
    pub version: u8,
}

/// VPP's `opaque_t`, a union of a pointer and a `uword`; Rust sees the `uword` side.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct opaque_t {
    /// The opaque value as an integer (`as_ptr` in C shares these bytes).
    pub as_uword: usize,
}

/// VPP's `ipfix_report_element_t`: one information element of a report's template.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ipfix_report_element_t {
    /// IANA information element id (VPP's generic templates carry no enterprise number;
    /// use `vpp_ipfix_report_add` for enterprise-specific elements).
    pub info_element: u32,
    /// Field length in bytes; 65535 declares a variable-length field (RFC 7011 §7).
    pub size: u32,
}

/// VPP's `vnet_flow_data_callback_t`: called by the VPP shim's periodic process to let
/// the report's owner send data. The core stores it and compares it, never calls it.
pub type vnet_flow_data_callback_t = Option<
    unsafe extern "C" fn(
        frm: *mut c_void,
        exp: *mut ipfix_exporter_t,
        fr: *mut flow_report_t,
        frame: *mut c_void,
        to_next: *mut u32,
        next_node: u32,
    ) -> *mut c_void,
>;

/// VPP's `vnet_flow_rewrite_callback_t`: builds a report's template packet. The core
/// stores it and compares it; it builds templates itself from the report's elements.
pub type vnet_flow_rewrite_callback_t = Option<
    unsafe extern "C" fn(
        exp: *mut ipfix_exporter_t,
        fr: *mut flow_report_t,
        collector_port: u16,
        elts: *mut ipfix_report_element_t,
        n_elts: u32,
        stream_index: *mut u32,
    ) -> *mut u8,
>;

/// VPP's `flow_report_stream_t`: one IPFIX Transport Session and Observation Domain,
/// keyed by (domain id, source port). A free slot has `domain_id == ~0`.
///
/// `sequence_number` is the count of data records sent in this stream (RFC 7011 §3.1),
/// advanced by one atomic add per packet from any worker.
#[repr(C)]
#[derive(Debug, Default)]
pub struct flow_report_stream_t {
    /// Observation domain id; `~0` marks a free slot.
    pub domain_id: u32,
    /// Data records sent so far, mod 2^32.
    pub sequence_number: AtomicU32,
    /// UDP source port of this transport session.
    pub src_port: u16,
    /// Reports exporting on this stream.
    pub n_reports: u16,
    /// Next template id to hand out, minus 256.
    pub next_template_no: u16,
}

/// An `f64` that threads share: C sees a `double`. The template sender (VPP's process
/// node) writes `last_template_sent` while workers read the report.
#[repr(transparent)]
#[derive(Debug, Default)]
pub struct AtomicF64(AtomicU64);

impl AtomicF64 {
    /// A new value.
    pub const fn new(v: f64) -> Self {
        AtomicF64(AtomicU64::new(v.to_bits()))
    }
    /// The value now.
    pub fn load(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    /// Sets the value.
    pub fn store(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
}

assert_eq_size!(AtomicF64, f64);
assert_eq_align!(AtomicF64, f64);

/// Marks a free stream slot (VPP's `~0`).
pub const STREAM_FREE: u32 = u32::MAX;

/// VPP's `flow_report_per_thread_t`: one worker's packet under construction for one
/// report. Only that worker touches it.
///
/// Differs from VPP on purpose: `n_data_records` is 16 bits (VPP's 8 bits overflow at 256
/// small records), and each entry fills its own 128 bytes so neighbouring workers never
/// share a cache line (VPP packs them 24 bytes apart). `packet` is the buffer's data.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct flow_report_per_thread_t {
    /// The embedder's buffer handle (a `vlib_buffer_t *` in VPP); NULL when none.
    pub buffer: AtomicPtr<c_void>,
    /// The embedder's frame, kept for VPP's shim; the core does not use it.
    pub frame: AtomicPtr<c_void>,
    /// Where the next record goes, from the start of the packet (IP header).
    pub next_data_offset: u16,
    /// Data records in the packet so far.
    pub n_data_records: u16,
    /// The buffer's memory: where the packet starts and how much room it has.
    pub packet: PacketBuf,
    /// When the first record went into this packet (for idle flush), in the embedder's time.
    pub first_record_time: f64,
}

/// VPP's `flow_report_t`: one template and the records exported with it.
#[repr(C)]
#[derive(Debug)]
pub struct flow_report_t {
    /// The template packet (IP + UDP + IPFIX header + template set), a vector in VPP's
    /// layout (`vec_len` gives its length, as VPP's ioam exporters read it); NULL until
    /// built. Read-only for C: the library rebuilds and frees it.
    pub rewrite: VppVec<u8>,
    /// Template id, 256..65535, unique in its stream until the stream's ids wrap around
    /// after 65280 adds (VPP's numbering, kept).
    pub template_id: u16,
    /// Bytes per data record (sum of element sizes); -1 with variable-length elements.
    pub data_record_size: i32,
    /// One entry per thread (`n_threads` of them, main thread included).
    pub per_thread_data: AtomicPtr<flow_report_per_thread_t>,
    /// Index of this report's stream in the exporter's `streams`.
    pub stream_index: u32,
    /// When the template was last sent (embedder time); 0 = never.
    pub last_template_sent: AtomicF64,
    /// Non-zero when the template must be rebuilt before it is next sent.
    pub update_rewrite: AtomicI32,
    /// VPP's bitmap of fields to send; kept for callers, unused by the core.
    pub fields_to_send: AtomicPtr<usize>,
    /// The owner's value; part of the report's identity.
    pub opaque: opaque_t,
    /// Part of the report's identity.
    pub rewrite_callback: vnet_flow_rewrite_callback_t,
    /// The report's elements (the library's own copy).
    pub report_elements: AtomicPtr<ipfix_report_element_t>,
    /// Number of `report_elements`.
    pub n_report_elements: u32,
    /// Caller's pointer handed to its rewrite callback (VPP keeps it; so do we).
    pub stream_indexp: AtomicPtr<u32>,
    /// Part of the report's identity.
    pub flow_data_callback: vnet_flow_data_callback_t,
}

/// VPP's `ipfix_exporter_t`: one collector and how to reach it.
///
/// `reports` and `streams` are vectors in VPP's memory layout (`vec_len` reads their
/// length; inside VPP they live in VPP's heap, so `vec_validate` works on them too).
#[repr(C)]
#[derive(Debug)]
pub struct ipfix_exporter_t {
    /// The exporter's reports.
    pub reports: VppVec<flow_report_t>,
    /// The exporter's streams (free slots have `domain_id == ~0`).
    pub streams: VppVec<flow_report_stream_t>,
    /// Collector address; all zero disables the exporter.
    pub ipfix_collector: ip_address_t,
    /// Collector UDP port (default 4739).
    pub collector_port: u16,
    /// Source address, same family as the collector.
    pub src_address: ip_address_t,
    /// FIB index to send in (`~0` = none).
    pub fib_index: u32,
    /// Largest packet sent, 68..1450 (default 512, RFC 7011 §10.3.3).
    pub path_mtu: u32,
    /// Seconds between template re-sends (default 20).
    pub template_interval: u32,
    /// Non-zero: compute UDP checksums over IPv4 (always done over IPv6).
    pub udp_checksum: u8,
    /// IP + UDP + IPFIX message header + set header: where the first record goes. 0 until
    /// the exporter is first configured (as in VPP).
    pub all_headers_size: u32,
}

/// VPP's `vnet_flow_report_add_del_args_t`: the arguments of a report add or delete.
#[repr(C)]
#[derive(Debug)]
pub struct vnet_flow_report_add_del_args_t {
    /// Part of the report's identity.
    pub flow_data_callback: vnet_flow_data_callback_t,
    /// Part of the report's identity.
    pub rewrite_callback: vnet_flow_rewrite_callback_t,
    /// Elements of the template (copied on add; the caller keeps its array).
    pub report_elements: *mut ipfix_report_element_t,
    /// Number of `report_elements`.
    pub n_report_elements: u32,
    /// Part of the report's identity.
    pub opaque: opaque_t,
    /// Non-zero to add, zero to delete.
    pub is_add: i32,
    /// Observation domain of the report's stream.
    pub domain_id: u32,
    /// UDP source port of the report's stream.
    pub src_port: u16,
    /// Kept in the report and handed to its rewrite callback.
    pub stream_indexp: *mut u32,
    /// Out: the index of the added report in the exporter's `reports`.
    pub flow_report_index: u32,
}

// Sizes and offsets of a real VPP build (VPP-IPFIX-FACTS.md), x86-64.
assert_eq_size!(ip_address_t, [u8; 17]);
assert_eq_align!(ip_address_t, u8);
assert_eq_size!(opaque_t, usize);
assert_eq_size!(flow_report_stream_t, [u8; 16]);
const_assert_eq!(
    std::mem::offset_of!(flow_report_stream_t, sequence_number),
    4
);
const_assert_eq!(std::mem::offset_of!(flow_report_stream_t, src_port), 8);
const_assert_eq!(std::mem::offset_of!(flow_report_stream_t, n_reports), 10);
const_assert_eq!(
    std::mem::offset_of!(flow_report_stream_t, next_template_no),
    12
);

// Ours: VPP's 24-byte prefix unchanged except n_data_records (u8 -> u16), then a whole
// 128-byte line pair per thread.
assert_eq_size!(flow_report_per_thread_t, [u8; 128]);
const_assert_eq!(std::mem::align_of::<flow_report_per_thread_t>(), 128);
const_assert_eq!(std::mem::offset_of!(flow_report_per_thread_t, frame), 8);
const_assert_eq!(
    std::mem::offset_of!(flow_report_per_thread_t, next_data_offset),
    16
);
const_assert_eq!(
    std::mem::offset_of!(flow_report_per_thread_t, n_data_records),
    18
);

assert_eq_size!(flow_report_t, [u8; 104]);
const_assert_eq!(std::mem::offset_of!(flow_report_t, template_id), 8);
const_assert_eq!(std::mem::offset_of!(flow_report_t, data_record_size), 12);
const_assert_eq!(std::mem::offset_of!(flow_report_t, per_thread_data), 16);
const_assert_eq!(std::mem::offset_of!(flow_report_t, stream_index), 24);
const_assert_eq!(std::mem::offset_of!(flow_report_t, last_template_sent), 32);
const_assert_eq!(std::mem::offset_of!(flow_report_t, update_rewrite), 40);
const_assert_eq!(std::mem::offset_of!(flow_report_t, fields_to_send), 48);
const_assert_eq!(std::mem::offset_of!(flow_report_t, opaque), 56);
const_assert_eq!(std::mem::offset_of!(flow_report_t, rewrite_callback), 64);
const_assert_eq!(std::mem::offset_of!(flow_report_t, report_elements), 72);
const_assert_eq!(std::mem::offset_of!(flow_report_t, n_report_elements), 80);
const_assert_eq!(std::mem::offset_of!(flow_report_t, stream_indexp), 88);
const_assert_eq!(std::mem::offset_of!(flow_report_t, flow_data_callback), 96);

assert_eq_size!(ipfix_exporter_t, [u8; 80]);
const_assert_eq!(std::mem::offset_of!(ipfix_exporter_t, streams), 8);
const_assert_eq!(std::mem::offset_of!(ipfix_exporter_t, ipfix_collector), 16);
const_assert_eq!(std::mem::offset_of!(ipfix_exporter_t, collector_port), 34);
const_assert_eq!(std::mem::offset_of!(ipfix_exporter_t, src_address), 36);
const_assert_eq!(std::mem::offset_of!(ipfix_exporter_t, fib_index), 56);
const_assert_eq!(std::mem::offset_of!(ipfix_exporter_t, path_mtu), 60);
const_assert_eq!(
    std::mem::offset_of!(ipfix_exporter_t, template_interval),
    64
);
const_assert_eq!(std::mem::offset_of!(ipfix_exporter_t, udp_checksum), 68);
const_assert_eq!(std::mem::offset_of!(ipfix_exporter_t, all_headers_size), 72);

assert_eq_size!(vnet_flow_report_add_del_args_t, [u8; 72]);
const_assert_eq!(
    std::mem::offset_of!(vnet_flow_report_add_del_args_t, opaque),
    32
);
const_assert_eq!(
    std::mem::offset_of!(vnet_flow_report_add_del_args_t, is_add),
    40
);
const_assert_eq!(
    std::mem::offset_of!(vnet_flow_report_add_del_args_t, domain_id),
    44
);
const_assert_eq!(
    std::mem::offset_of!(vnet_flow_report_add_del_args_t, src_port),
    48
);
const_assert_eq!(
    std::mem::offset_of!(vnet_flow_report_add_del_args_t, stream_indexp),
    56
);
const_assert_eq!(
    std::mem::offset_of!(vnet_flow_report_add_del_args_t, flow_report_index),
    64
);

impl ip_address_t {
    /// An IPv4 address.
    pub fn v4(octets: [u8; 4]) -> Self {
        let mut ip = [0; 16];
        ip[12..].copy_from_slice(&octets);
        ip_address_t {
            ip,
            version: AF_IP4,
        }
    }

    /// An IPv6 address.
    pub fn v6(octets: [u8; 16]) -> Self {
        ip_address_t {
            ip: octets,
            version: AF_IP6,
        }
    }

    /// True when every address byte is zero (VPP's `ip_address_is_zero`).
    pub fn is_zero(&self) -> bool {
        // One 128-bit compare, not sixteen: asked for every new packet.
        u128::from_ne_bytes(self.ip) == 0
    }

    /// The IPv4 bytes (meaningful for `AF_IP4`).
    pub fn v4_octets(&self) -> [u8; 4] {
        [self.ip[12], self.ip[13], self.ip[14], self.ip[15]]
    }

    /// True for an IPv6 address.
    pub fn is_ip6(&self) -> bool {
        self.version == AF_IP6
    }
}

impl flow_report_t {
    /// Makes the template due at once, rebuilt (after a reset or a change of stream).
    pub fn resend_template(&self) {
        self.update_rewrite.store(1, Ordering::Relaxed);
        self.last_template_sent.store(0.0);
    }
}

impl Default for flow_report_t {
    fn default() -> Self {
        flow_report_t {
            rewrite: VppVec::default(),
            template_id: 0,
            data_record_size: 0,
            per_thread_data: AtomicPtr::default(),
            stream_index: 0,
            last_template_sent: AtomicF64::new(0.0),
            update_rewrite: AtomicI32::new(1),
            fields_to_send: AtomicPtr::default(),
            opaque: opaque_t::default(),
            rewrite_callback: None,
            report_elements: AtomicPtr::default(),
            n_report_elements: 0,
            stream_indexp: AtomicPtr::default(),
            flow_data_callback: None,
        }
    }
}

impl Default for flow_report_per_thread_t {
    fn default() -> Self {
        flow_report_per_thread_t {
            buffer: AtomicPtr::default(),
            frame: AtomicPtr::default(),
            next_data_offset: 0,
            n_data_records: 0,
            packet: PacketBuf::empty(),
            first_record_time: 0.0,
        }
    }
}
