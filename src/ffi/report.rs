//! Reports and streams for C: VPP's `vnet_flow_report_add_del`, our native report add
//! (enterprise-specific and variable-length fields), resets, stream change, and reading
//! reports, streams and their counters.

#![allow(non_camel_case_types)]

use super::boundary::{code, write_out};
use super::instance::{instance, instance_mut, vpp_ipfix_main_t};
use crate::counters::vpp_ipfix_counters_t;
use crate::error::Error;
use crate::report::{ReportSpec, MAX_FIELDS};
use crate::types::{
    flow_report_stream_t, flow_report_t, ipfix_report_element_t, opaque_t,
    vnet_flow_report_add_del_args_t,
};
use crate::wire::FieldSpec;

/// A report for `vpp_ipfix_report_add`: its stream and its template's fields.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vpp_ipfix_report_config_t {
    /// Observation domain of the report's stream.
    pub domain_id: u32,
    /// UDP source port of the report's stream.
    pub src_port: u16,
    /// The template's fields, in record order (copied).
    pub fields: *const FieldSpec,
    /// Number of `fields`, 1..512.
    pub n_fields: u32,
    /// The owner's value; with the stream it identifies the report for deletion.
    pub opaque: opaque_t,
}

/// The most elements one report takes.
const MAX_ELEMENTS: u32 = MAX_FIELDS as u32;

/// VPP's `vnet_flow_report_add_del` on exporter `exporter_index`, same semantics and
/// codes: -7 when the domain is used with another port or the port with another domain;
/// -6 to delete an unknown report; -81 to add an existing one (its template id is still
/// written). On add, writes `a->flow_report_index` and `*template_id` (may be NULL).
/// Checks VPP does not make, on add: an element id above 0x7fff or a size of 0 or above
/// 65535 (-7); no elements and no `rewrite_callback` (-73: the VPP shim builds templates
/// of reports without elements); a template that cannot fit the path MTU (-1004, against
/// 1450 over IPv6 while the exporter is disabled); a fixed-size record that cannot (-1003);
/// out of memory (-1007). Elements are copied. Workers quiesced.
#[no_mangle]
pub extern "C" fn vpp_ipfix_report_add_del(
    main: *mut vpp_ipfix_main_t,
    exporter_index: u32,
    a: *mut vnet_flow_report_add_del_args_t,
    template_id: *mut u16,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, a);
        // SAFETY: a live instance, workers quiesced; `a` readable and writable (contract).
        let (mut inst, a) = (try_code!(unsafe { instance_mut(main) }), unsafe { &mut *a });
        let elements: &[ipfix_report_element_t] = if a.is_add == 0 || a.n_report_elements == 0 {
            &[]
        } else if a.report_elements.is_null() {
            return Error::VPP_IPFIX_ERROR_NULL_POINTER.code();
        } else if a.n_report_elements > MAX_ELEMENTS {
            return Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG.code();
        } else {
            // SAFETY: non-null, with `n_report_elements` readable elements (contract).
            unsafe { std::slice::from_raw_parts(a.report_elements, a.n_report_elements as usize) }
        };
        match inst.report_add_del(exporter_index, a, elements) {
            Ok(id) => {
                // SAFETY: NULL or writable (contract).
                unsafe { write_out(template_id, id) };
                0
            }
            Err(err) => {
                if let Some(id) = err.template_id {
                    // SAFETY: NULL or writable (contract).
                    unsafe { write_out(template_id, id) };
                }
                err.error.code()
            }
        }
    }
}

/// Adds a report from field specifiers (enterprise numbers and variable-length fields
/// allowed). Same stream rules and codes as `vpp_ipfix_report_add_del`; a template or
/// fixed-size record that cannot fit the exporter's MTU is refused (-1004, -1003).
/// Writes the report's index and template id (either out-pointer may be NULL).
/// Workers quiesced.
#[no_mangle]
pub extern "C" fn vpp_ipfix_report_add(
    main: *mut vpp_ipfix_main_t,
    exporter_index: u32,
    config: *const vpp_ipfix_report_config_t,
    report_index_out: *mut u32,
    template_id_out: *mut u16,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, config);
        // SAFETY: a live instance, workers quiesced; a readable config (contract).
        let (mut inst, c) = (try_code!(unsafe { instance_mut(main) }), unsafe { *config });
        if c.n_fields == 0 {
            return Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code();
        }
        if c.n_fields > MAX_ELEMENTS {
            return Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG.code();
        }
        check_not_null!(c.fields);
        // SAFETY: non-null with `n_fields` readable fields (contract).
        let fields = unsafe { std::slice::from_raw_parts(c.fields, c.n_fields as usize) };
        let spec = ReportSpec {
            domain_id: c.domain_id,
            src_port: c.src_port,
            fields: fields.to_vec(),
            opaque: c.opaque,
            rewrite_callback: None,
            flow_data_callback: None,
            stream_indexp: std::ptr::null_mut(),
        };
        match inst.report_add(exporter_index, spec) {
            Ok(added) => {
                // SAFETY: each NULL or writable (contract).
                unsafe {
                    write_out(report_index_out, added.report_index);
                    write_out(template_id_out, added.template_id);
                }
                0
            }
            Err(err) => {
                if let Some(id) = err.template_id {
                    // SAFETY: NULL or writable (contract).
                    unsafe { write_out(template_id_out, id) };
                }
                err.error.code()
            }
        }
    }
}

/// Deletes the report added by `vpp_ipfix_report_add` with this stream and opaque value
/// (its packets under construction are sent first). Writes its template id (may be NULL).
/// Workers quiesced.
#[no_mangle]
pub extern "C" fn vpp_ipfix_report_delete(
    main: *mut vpp_ipfix_main_t,
    exporter_index: u32,
    domain_id: u32,
    src_port: u16,
    opaque: opaque_t,
    template_id_out: *mut u16,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance, workers quiesced (contract).
        let mut inst = try_code!(unsafe { instance_mut(main) });
        let spec = ReportSpec { domain_id, src_port, opaque, ..Default::default() };
        match inst.report_delete(exporter_index, &spec) {
            Ok(id) => {
                // SAFETY: NULL or writable (contract).
                unsafe { write_out(template_id_out, id) };
                0
            }
            Err(err) => err.error.code(),
        }
    }
}

/// VPP's `vnet_flow_reports_reset`: every stream of the exporter back to sequence 0, every
/// template rebuilt and due at once. Workers quiesced.
#[no_mangle]
pub extern "C" fn vpp_ipfix_reports_reset(main: *mut vpp_ipfix_main_t, exporter_index: u32) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance, workers quiesced (contract).
        let mut inst = try_code!(unsafe { instance_mut(main) });
        code(inst.reports_reset(exporter_index))
    }
}

/// VPP's `vnet_stream_reset`: the stream back to sequence 0 and the templates of its own
/// reports due at once. -6 for a free or unknown stream slot. Workers quiesced.
#[no_mangle]
pub extern "C" fn vpp_ipfix_stream_reset(
    main: *mut vpp_ipfix_main_t,
    exporter_index: u32,
    stream_index: u32,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance, workers quiesced (contract).
        let mut inst = try_code!(unsafe { instance_mut(main) });
        code(inst.stream_reset(exporter_index, stream_index))
    }
}

/// VPP's `vnet_stream_change`: re-keys the stream (old domain, old port), resetting it when
/// the key changed. Returns 0 when done, 1 when no stream has the old key (VPP's value),
/// -7 when another stream already uses the new domain or port. Workers quiesced.
#[no_mangle]
pub extern "C" fn vpp_ipfix_stream_change(
    main: *mut vpp_ipfix_main_t,
    exporter_index: u32,
    old_domain_id: u32,
    old_src_port: u16,
    new_domain_id: u32,
    new_src_port: u16,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance, workers quiesced (contract).
        let mut inst = try_code!(unsafe { instance_mut(main) });
        match inst.stream_change(exporter_index, (old_domain_id, old_src_port), (new_domain_id, new_src_port)) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => e.code(),
        }
    }
}

/// The C-visible report, NULL for an unknown one. Valid until the next configuration
/// call (VPP's `exp->reports` vector moves too).
#[no_mangle]
pub extern "C" fn vpp_ipfix_report_get(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
) -> *const flow_report_t {
    ffi_boundary! {
        // SAFETY: NULL or a live instance (contract).
        match unsafe { instance(main) } {
            Ok(inst) => inst.report(exporter_index, report_index).map_or(std::ptr::null(), |r| r as *const _),
            Err(_) => std::ptr::null(),
        }
    }
}

/// The C-visible stream, NULL for an unknown or free slot. Valid until the next
/// configuration call.
#[no_mangle]
pub extern "C" fn vpp_ipfix_stream_get(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    stream_index: u32,
) -> *const flow_report_stream_t {
    ffi_boundary! {
        // SAFETY: NULL or a live instance (contract).
        match unsafe { instance(main) } {
            Ok(inst) => inst.stream(exporter_index, stream_index).map_or(std::ptr::null(), |s| s as *const _),
            Err(_) => std::ptr::null(),
        }
    }
}

/// A report's counters over every thread. Readable at any time.
#[no_mangle]
pub extern "C" fn vpp_ipfix_report_counters(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    counters_out: *mut vpp_ipfix_counters_t,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, counters_out);
        // SAFETY: a live instance (contract).
        let inst = try_code!(unsafe { instance(main) });
        match inst.report_counters(exporter_index, report_index) {
            Ok(c) => {
                // SAFETY: non-null and writable (contract).
                unsafe { counters_out.write(c) };
                0
            }
            Err(e) => e.code(),
        }
    }
}

/// Sends report `report_index`'s template now (rebuilt first when needed), whether due or
/// not. It carries the stream's current sequence number. May run while workers export,
/// like `vpp_ipfix_templates_send_due`.
#[no_mangle]
pub extern "C" fn vpp_ipfix_template_send(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance (contract).
        let inst = try_code!(unsafe { instance(main) });
        let now = inst.embedder().now();
        let sent = inst.send_template(exporter_index, report_index, now);
        inst.embedder().flush(0);
        code(sent)
    }
}

/// Copies report `report_index`'s template packet (IP, UDP, IPFIX message header and
/// template set, as VPP's `vnet_flow_rewrite_generic_callback` returns it; built now when
/// a reset or change asked for it) into `out` (`capacity` bytes) and writes its length to
/// `*length_out`. -1006 when `capacity` is short, -30 when the exporter has no collector.
#[no_mangle]
pub extern "C" fn vpp_ipfix_report_template(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    out: *mut u8,
    capacity: u32,
    length_out: *mut u32,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, out, length_out);
        // SAFETY: a live instance (contract).
        let inst = try_code!(unsafe { instance(main) });
        // SAFETY: the caller's buffer of `capacity` bytes (contract), not aliased by the
        // library's own memory.
        let out = unsafe { std::slice::from_raw_parts_mut(out, capacity as usize) };
        let len = try_code!(inst.report_template(exporter_index, report_index, out));
        // SAFETY: checked non-null; the caller's u32.
        unsafe { *length_out = len as u32 };
        0
    }
}

/// Whether report `report_index`'s template is due at time `now` (seconds since the
/// epoch): never sent, or sent more than the exporter's template interval before `now`.
/// Writes 1 or 0 to `*due_out`.
#[no_mangle]
pub extern "C" fn vpp_ipfix_template_is_due(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    report_index: u32,
    now: f64,
    due_out: *mut u8,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, due_out);
        // SAFETY: a live instance (contract).
        let inst = try_code!(unsafe { instance(main) });
        match inst.template_due(exporter_index, report_index, now) {
            Ok(due) => {
                // SAFETY: non-null and writable (contract).
                unsafe { due_out.write(u8::from(due)) };
                0
            }
            Err(e) => e.code(),
        }
    }
}
