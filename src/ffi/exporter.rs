//! Exporters for C: configure, create, delete, look up, read (VPP's `set ipfix exporter`,
//! the `ipfix_exporter_create_delete` API and `vnet_ipfix_exporter_lookup`).

use super::boundary::{code, write_out};
use super::instance::{instance, instance_mut, vpp_ipfix_main_t};
use crate::counters::vpp_ipfix_counters_t;
use crate::error::Error;
use crate::exporter::vpp_ipfix_exporter_config_t;
use crate::types::{ip_address_t, ipfix_exporter_t};

/// Fills `config` with VPP's defaults: no collector (disabled), port 4739, no FIB, path
/// MTU 512, template interval 20 s, no IPv4 UDP checksum.
#[no_mangle]
pub extern "C" fn vpp_ipfix_exporter_config_init(config: *mut vpp_ipfix_exporter_config_t) -> i32 {
    ffi_boundary! {
        check_not_null!(config);
        // SAFETY: non-null and writable (contract).
        unsafe { config.write(vpp_ipfix_exporter_config_t::default()) };
        0
    }
}

/// Configures exporter `exporter_index` (0 is VPP's legacy exporter, always there).
/// VPP's checks: a collector needs a source (-7), of the same family (-97); path MTU
/// 68..1450 (-7); template interval not 0 (-7); and ours: an address family other than
/// AF_IP4/AF_IP6 (-73); every existing report's template (-1004) and fixed-size record
/// (-1003) must fit the new MTU and family; another exporter must not already send on
/// the same session (collector, port, source and, in VPP, table: -81), which a collector
/// could not tell apart. Changing collector, source, port or (in VPP) table resets the
/// exporter's streams (sequence 0, templates re-sent); packets under construction are
/// sent first with the old settings. Workers quiesced. On error nothing changes.
#[no_mangle]
pub extern "C" fn vpp_ipfix_exporter_set(
    main: *mut vpp_ipfix_main_t,
    exporter_index: u32,
    config: *const vpp_ipfix_exporter_config_t,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, config);
        // SAFETY: a live instance, workers quiesced; a readable config (contract).
        let (mut inst, config) = (try_code!(unsafe { instance_mut(main) }), unsafe { *config });
        code(inst.exporter_set(exporter_index, &config))
    }
}

/// VPP's exporter create: updates the exporter already using this collector, or takes a
/// free slot (-7 when every slot is used); the checks of `vpp_ipfix_exporter_set`. Writes the index to `*exporter_index_out`.
/// Workers quiesced.
#[no_mangle]
pub extern "C" fn vpp_ipfix_exporter_create(
    main: *mut vpp_ipfix_main_t,
    config: *const vpp_ipfix_exporter_config_t,
    exporter_index_out: *mut u32,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, config, exporter_index_out);
        // SAFETY: a live instance, workers quiesced; a readable config (contract).
        let (mut inst, config) = (try_code!(unsafe { instance_mut(main) }), unsafe { *config });
        match inst.exporter_create(&config) {
            Ok(i) => {
                // SAFETY: non-null and writable (contract).
                unsafe { exporter_index_out.write(i) };
                0
            }
            Err(e) => e.code(),
        }
    }
}

/// Deletes an exporter with its reports and streams (packets under construction are sent
/// first). Exporter 0 cannot be deleted (-7); an unknown index gives -6. Workers quiesced.
#[no_mangle]
pub extern "C" fn vpp_ipfix_exporter_delete(
    main: *mut vpp_ipfix_main_t,
    exporter_index: u32,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance, workers quiesced (contract).
        let mut inst = try_code!(unsafe { instance_mut(main) });
        code(inst.exporter_delete(exporter_index))
    }
}

/// The exporter whose collector is `*collector` (VPP's `vnet_ipfix_exporter_lookup`),
/// lowest index first; -6 when none.
#[no_mangle]
pub extern "C" fn vpp_ipfix_exporter_lookup(
    main: *const vpp_ipfix_main_t,
    collector: *const ip_address_t,
    exporter_index_out: *mut u32,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, collector, exporter_index_out);
        // SAFETY: a live instance and a readable address (contract).
        let (inst, collector) = (try_code!(unsafe { instance(main) }), unsafe { *collector });
        match inst.lookup(&collector) {
            Some(i) => {
                // SAFETY: non-null and writable (contract).
                unsafe { exporter_index_out.write(i) };
                0
            }
            None => Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY.code(),
        }
    }
}

/// The C-visible exporter `exporter_index`, NULL when it is not in use. Any thread may
/// read it at any time; it is read-only for C: change the settings with
/// `vpp_ipfix_exporter_set`, which validates them and resets what must be reset. The pointer stays valid for the instance's
/// life; its `reports` and `streams` arrays move when reports are added or deleted
/// (re-read them after configuration).
#[no_mangle]
pub extern "C" fn vpp_ipfix_exporter_get(
    main: *mut vpp_ipfix_main_t,
    exporter_index: u32,
) -> *mut ipfix_exporter_t {
    ffi_boundary! {
        // SAFETY: NULL or a live instance (contract).
        match unsafe { instance(main) } {
            Ok(inst) => inst
                .exporter(exporter_index)
                .map_or(std::ptr::null_mut(), |e| e as *const ipfix_exporter_t as *mut _),
            Err(_) => std::ptr::null_mut(),
        }
    }
}

/// The index of an exporter given its pointer (as VPP callers hold it); -6 when `exp` is
/// not an exporter of this instance in use.
#[no_mangle]
pub extern "C" fn vpp_ipfix_exporter_index(
    main: *const vpp_ipfix_main_t,
    exp: *const ipfix_exporter_t,
    exporter_index_out: *mut u32,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, exp, exporter_index_out);
        // SAFETY: a live instance (contract); `exp` is only compared, never read.
        let inst = try_code!(unsafe { instance(main) });
        match inst.exporter_index_of(exp) {
            Ok(i) => {
                // SAFETY: non-null and writable (contract).
                unsafe { exporter_index_out.write(i) };
                0
            }
            Err(e) => e.code(),
        }
    }
}

/// Number of reports (`vec_len (exp->reports)` in VPP) and of stream slots, free ones
/// included (`vec_len (exp->streams)`). Either out-pointer may be NULL.
#[no_mangle]
pub extern "C" fn vpp_ipfix_exporter_sizes(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    n_reports_out: *mut u32,
    n_streams_out: *mut u32,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance (contract).
        let inst = try_code!(unsafe { instance(main) });
        match (inst.n_reports(exporter_index), inst.n_streams(exporter_index)) {
            (Ok(r), Ok(s)) => {
                // SAFETY: each NULL or writable (contract).
                unsafe {
                    write_out(n_reports_out, r);
                    write_out(n_streams_out, s);
                }
                0
            }
            (Err(e), _) | (_, Err(e)) => e.code(),
        }
    }
}

/// The exporter's counters: all its reports, deleted ones included, every thread.
/// Readable at any time (values from running workers may be a packet behind).
#[no_mangle]
pub extern "C" fn vpp_ipfix_exporter_counters(
    main: *const vpp_ipfix_main_t,
    exporter_index: u32,
    counters_out: *mut vpp_ipfix_counters_t,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main, counters_out);
        // SAFETY: a live instance (contract).
        let inst = try_code!(unsafe { instance(main) });
        match inst.exporter_counters(exporter_index) {
            Ok(c) => {
                // SAFETY: non-null and writable (contract).
                unsafe { counters_out.write(c) };
                0
            }
            Err(e) => e.code(),
        }
    }
}
