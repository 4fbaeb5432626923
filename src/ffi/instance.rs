//! The library instance for C: create it with a host (ops table, pcap file, or standalone
//! UDP and files), destroy it, flush it, send due templates; and `vpp_ipfix_strerror`.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, CStr};
use std::path::PathBuf;

use super::boundary::{code, write_out};
use super::c_ops::{vpp_ipfix_ops_t, CEmbedder};
use std::ops::{Deref, DerefMut};

use super::thread_cache::ThreadCaches;
use super::threads::{ThreadRegistry, Timer, TimerPause};
use crate::error::Error;
use crate::instance::Instance;
use crate::ops::Embedder;
use crate::transport::{PcapWriter, StandaloneConfig, StandaloneHost};

/// One exporting process: its exporters, reports, streams and per-thread buffers, and its
/// host. Opaque. Created by `vpp_ipfix_main_create*`, freed by `vpp_ipfix_main_destroy`.
///
/// Threads: configuration functions (exporters, reports, streams, templates, flush,
/// destroy) must not run while any thread is in a per-thread function of the same
/// instance (VPP's worker barrier gives this). Per-thread functions
/// (`vpp_ipfix_buffer_*`, `vpp_ipfix_record_*`) run on all threads at once, each with
/// its own thread index, never two threads with the same index.
pub struct vpp_ipfix_main_t {
    pub(crate) instance: Instance,
    /// Its exporting threads: gates shared with the timer, who is inside.
    pub(crate) threads: ThreadRegistry,
    pub(crate) timer: Option<Timer>,
    /// Each thread's last validated (exporter, report), for the per-thread calls.
    pub(crate) caches: ThreadCaches,
}

impl vpp_ipfix_main_t {
    fn new(instance: Instance) -> Self {
        vpp_ipfix_main_t {
            threads: ThreadRegistry::new(instance.n_threads()),
            caches: ThreadCaches::new(instance.n_threads()),
            instance,
            timer: None,
        }
    }

    /// Hands a Rust-built instance to C (Rust hosts, tests); free it with
    /// `vpp_ipfix_main_destroy`.
    pub fn into_raw(instance: Instance) -> *mut vpp_ipfix_main_t {
        Box::into_raw(Box::new(vpp_ipfix_main_t::new(instance)))
    }
}

/// The instance behind a C pointer, shared.
///
/// # Safety
/// `main` is NULL or a live pointer from `vpp_ipfix_main_create*`.
pub(crate) unsafe fn instance<'a>(main: *const vpp_ipfix_main_t) -> Result<&'a Instance, Error> {
    // SAFETY: per the function's contract.
    unsafe { main.as_ref() }
        .map(|m| &m.instance)
        .ok_or(Error::VPP_IPFIX_ERROR_NULL_POINTER)
}

/// Exclusive access for a configuration call; the background timer, if any, makes no
/// round while it lives.
pub(crate) struct Configuring<'a, T> {
    value: &'a mut T,
    _pause: Option<TimerPause>,
}

impl<T> Deref for Configuring<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
    }
}

impl<T> DerefMut for Configuring<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
    }
}

/// The main object behind a C pointer, for configuration. Debug builds refuse it while a
/// thread is inside a per-thread call (`VPP_IPFIX_ERROR_BUSY`): the barrier rule broken.
///
/// # Safety
/// As `instance`, and no worker is using the instance (the barrier rule).
pub(crate) unsafe fn main_mut<'a>(
    main: *mut vpp_ipfix_main_t,
) -> Result<Configuring<'a, vpp_ipfix_main_t>, Error> {
    if main.is_null() {
        return Err(Error::VPP_IPFIX_ERROR_NULL_POINTER);
    }
    // The timer may be reading the instance: pause it before taking `&mut`.
    // SAFETY: a live instance (contract); only the `timer` field is read, shared.
    let shared = unsafe { (*main).timer.as_ref().map(Timer::shared) };
    let pause = shared.map(TimerPause::new);
    // SAFETY: non-null and live (contract); workers are quiesced (contract) and the timer
    // is paused, so this is the only reference.
    let m = unsafe { &mut *main };
    if m.threads.anyone_inside() {
        return Err(Error::VPP_IPFIX_ERROR_BUSY);
    }
    // Whatever this call changes, no thread may go on trusting what it checked before.
    m.caches.invalidate();
    Ok(Configuring {
        value: m,
        _pause: pause,
    })
}

/// The instance behind a C pointer, for configuration (workers quiesced).
///
/// # Safety
/// As `main_mut`.
pub(crate) unsafe fn instance_mut<'a>(
    main: *mut vpp_ipfix_main_t,
) -> Result<Configuring<'a, Instance>, Error> {
    // SAFETY: per the function's contract.
    let Configuring { value, _pause } = unsafe { main_mut(main) }?;
    Ok(Configuring {
        value: &mut value.instance,
        _pause,
    })
}

fn create(
    embedder: Box<dyn Embedder>,
    n_threads: u32,
    max_exporters: u32,
    main_out: *mut *mut vpp_ipfix_main_t,
) -> i32 {
    match Instance::new(embedder, n_threads, max_exporters) {
        Ok(instance) => {
            let main = Box::into_raw(Box::new(vpp_ipfix_main_t::new(instance)));
            // SAFETY: checked non-null by the callers; valid for writes by contract.
            unsafe { main_out.write(main) };
            0
        }
        Err(e) => e.code(),
    }
}

/// Creates an instance whose packets go to a C host through `ops` (copied; every function
/// must be set). `n_threads` counts every exporting thread, main thread included
/// (1..1024); `max_exporters` is the number of exporter slots (0 = VPP's 5; at most 64).
/// Exporter 0 exists from the start, disabled. On success writes `*main_out`.
#[no_mangle]
pub extern "C" fn vpp_ipfix_main_create(
    ops: *const vpp_ipfix_ops_t,
    n_threads: u32,
    max_exporters: u32,
    main_out: *mut *mut vpp_ipfix_main_t,
) -> i32 {
    ffi_boundary! {
        check_not_null!(ops, main_out);
        // SAFETY: non-null; the caller passes a readable ops table.
        let Some(embedder) = CEmbedder::new(unsafe { &*ops }) else {
            return Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code();
        };
        create(Box::new(embedder), n_threads, max_exporters, main_out)
    }
}

/// Creates an instance that writes every packet, IP header first, to the pcap file at
/// `path` (created or truncated), with the system clock. Other arguments as
/// `vpp_ipfix_main_create`. `VPP_IPFIX_ERROR_INVALID_VALUE` when the file cannot be
/// created.
#[no_mangle]
pub extern "C" fn vpp_ipfix_main_create_pcap(
    path: *const c_char,
    n_threads: u32,
    max_exporters: u32,
    main_out: *mut *mut vpp_ipfix_main_t,
) -> i32 {
    ffi_boundary! {
        check_not_null!(path, main_out);
        // SAFETY: non-null; the caller passes a NUL-terminated string.
        let path = try_code!(unsafe { c_path(path) });
        // Refuse bad sizes before the file is created (or an old one truncated).
        try_code!(Instance::check_sizes(n_threads, max_exporters));
        let Ok(writer) = PcapWriter::create(&path) else {
            return Error::VPP_IPFIX_ERROR_INVALID_VALUE.code();
        };
        create(Box::new(writer), n_threads, max_exporters, main_out)
    }
}

/// Where a standalone instance sends its packets (`vpp_ipfix_main_create_standalone`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vpp_ipfix_standalone_config_t {
    /// Exporting threads (1..1024), each calling the per-thread functions with its index.
    pub n_threads: u32,
    /// Exporter slots; 0 = VPP's 5.
    pub max_exporters: u32,
    /// Non-zero: send over UDP sockets to each exporter's collector, from its source
    /// address and each stream's source port (the kernel writes IP and UDP).
    pub udp: u8,
    /// A pcap file to write every packet to, with the IP and UDP headers it leaves with;
    /// NULL for none.
    pub pcap_path: *const c_char,
    /// An RFC 5655 IPFIX file (the messages, one after another); NULL for none.
    pub ipfix_file_path: *const c_char,
}

/// Creates an instance that exports without VPP: over UDP and/or to files, as `config`
/// says (at least one output), with the system clock. Send errors never stop export:
/// they are counted, and packets the kernel refused show as dropped in the exporter's
/// counters. Workers call `vpp_ipfix_thread_flush_idle` from their loop: it also sends
/// their batched datagrams. -73 for no output, -7 when a file cannot be created.
#[no_mangle]
pub extern "C" fn vpp_ipfix_main_create_standalone(
    config: *const vpp_ipfix_standalone_config_t,
    main_out: *mut *mut vpp_ipfix_main_t,
) -> i32 {
    ffi_boundary! {
        check_not_null!(config, main_out);
        // SAFETY: non-null and readable (contract).
        let c = unsafe { *config };
        try_code!(Instance::check_sizes(c.n_threads, c.max_exporters));
        // SAFETY: each NULL or a NUL-terminated string (contract).
        let (pcap, ipfix_file) = unsafe { (c_path_opt(c.pcap_path), c_path_opt(c.ipfix_file_path)) };
        let host_config = StandaloneConfig {
            n_threads: c.n_threads,
            udp: c.udp != 0,
            pcap: try_code!(pcap),
            ipfix_file: try_code!(ipfix_file),
        };
        if !host_config.udp && host_config.pcap.is_none() && host_config.ipfix_file.is_none() {
            return Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code();
        }
        let Ok(host) = StandaloneHost::new(&host_config) else {
            return Error::VPP_IPFIX_ERROR_INVALID_VALUE.code();
        };
        create(Box::new(host), c.n_threads, c.max_exporters, main_out)
    }
}

/// A path from C.
///
/// # Safety
/// `p` is a NUL-terminated string.
unsafe fn c_path(p: *const c_char) -> Result<PathBuf, Error> {
    // SAFETY: per the function's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(PathBuf::from)
        .map_err(|_| Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT)
}

/// An optional path from C (NULL = none).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn c_path_opt(p: *const c_char) -> Result<Option<PathBuf>, Error> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: per the function's contract.
    unsafe { c_path(p) }.map(Some)
}

/// Sends every packet under construction, then frees the instance and everything it
/// holds (files are written to disk). NULL is ignored. No thread may use the instance
/// during or after the call.
#[no_mangle]
pub extern "C" fn vpp_ipfix_main_destroy(main: *mut vpp_ipfix_main_t) {
    ffi_boundary! {
        if main.is_null() {
            return;
        }
        // The timer may be in a round, reading the instance: take it under the pause a
        // configuration call holds, then stop and join it before anything owns `main`.
        // SAFETY: non-null and live (contract); only the `timer` field is read, shared.
        let shared = unsafe { (*main).timer.as_ref().map(Timer::shared) };
        let pause = shared.map(TimerPause::new);
        // SAFETY: no worker uses the instance any more (contract) and the timer is
        // paused: this is the only reference.
        let timer = unsafe { (*main).timer.take() };
        drop(pause);
        if let Some(timer) = timer {
            timer.stop();
        }
        // SAFETY: non-null, from `vpp_ipfix_main_create*`, destroyed once (contract), and
        // no timer thread is left to read it.
        let mut main = unsafe { Box::from_raw(main) };
        main.instance.flush_all();
    }
}

/// Sends every packet under construction on every thread, of every exporter (VPP's
/// `ipfix flush`), the host's batches, and writes output files to disk. Workers
/// quiesced.
#[no_mangle]
pub extern "C" fn vpp_ipfix_flush(main: *mut vpp_ipfix_main_t) -> i32 {
    ffi_boundary! {
        // SAFETY: NULL or a live instance, workers quiesced (contract).
        let mut m = try_code!(unsafe { main_mut(main) });
        m.instance.flush_all();
        0
    }
}

/// Sends the templates that are due (never sent, or sent more than the exporter's
/// template interval ago), of every enabled exporter. Writes how many went out to
/// `*sent_out` and the seconds until the next one is due (at most 5) to `*next_due_out`;
/// both may be NULL. Returns 0, or the last error of a template that could not be sent
/// (it is retried next time and counted). May run while workers export, as VPP's
/// process node does, from one thread at a time; it uses thread index 0's host
/// resources (VPP's main thread). -1009 while the background timer runs (it sends them).
#[no_mangle]
pub extern "C" fn vpp_ipfix_templates_send_due(
    main: *const vpp_ipfix_main_t,
    sent_out: *mut u32,
    next_due_out: *mut f64,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance (contract).
        if unsafe { (*main).threads.timer_on.load(std::sync::atomic::Ordering::Relaxed) } {
            // The timer sends them, with thread 0's host resources.
            return Error::VPP_IPFIX_ERROR_TIMER_RUNNING.code();
        }
        // SAFETY: a live instance (contract).
        let inst = try_code!(unsafe { instance(main) });
        let round = inst.send_due_templates();
        // SAFETY: each NULL or writable (contract).
        unsafe {
            write_out(sent_out, round.sent);
            write_out(next_due_out, round.next_due_in);
        }
        code(match round.last_error {
            Some(e) => Err(e),
            None => Ok(()),
        })
    }
}

/// The number of exporting threads the instance was created with, 0 for NULL.
#[no_mangle]
pub extern "C" fn vpp_ipfix_main_n_threads(main: *const vpp_ipfix_main_t) -> u32 {
    ffi_boundary! {
        // SAFETY: NULL or a live instance (contract).
        unsafe { instance(main) }.map_or(0, |i| i.n_threads())
    }
}

/// A static, NUL-terminated English description of an error code ("unknown error" for a
/// number the library never returns). Never NULL; never free it.
#[no_mangle]
pub extern "C" fn vpp_ipfix_strerror(error: i32) -> *const c_char {
    ffi_boundary! {
        match Error::from_code(error) {
            Some(e) => e.c_message().as_ptr(),
            None => c"unknown error".as_ptr(),
        }
    }
}
