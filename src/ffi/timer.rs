//! The background timer for standalone use: a thread that sends due templates and the
//! packets that stopped filling in quiet workers, so an exporter delivers on time even
//! when its workers do not call `vpp_ipfix_thread_flush_idle` (VPP has its process node
//! for this; a plain C or Rust program has this timer).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::datapath::flush_thread_idle;
use super::instance::{main_mut, vpp_ipfix_main_t};
use super::threads::{Timer, TimerShared};
use crate::error::Error;

/// How long a packet may wait in a quiet worker when the caller does not say: well under
/// a second, so collectors see records promptly, yet a busy worker fills its packets.
pub const DEFAULT_IDLE_AGE: f64 = 0.2;

/// A main pointer that may cross to the timer thread.
struct MainAddr(usize);

/// One round: due templates, then every thread's aged packets whose gate is free.
///
/// # Safety
/// `addr` is a live instance, the round is begun (`TimerShared::begin_round`), so no
/// configuration call holds `&mut` to it.
unsafe fn round(addr: &MainAddr, max_age: f64) {
    // SAFETY: per the function's contract: only shared references exist meanwhile.
    let m = unsafe { &*(addr.0 as *const vpp_ipfix_main_t) };
    // Templates use thread 0's host resources (VPP's main thread): only while thread 0's
    // worker is out, as a host may keep per-thread state; else next round.
    if let Some(gate) = m.threads.gates.first() {
        if gate.try_enter_timer() {
            m.instance.send_due_templates();
            gate.leave();
        }
    }
    for (t, gate) in m.threads.gates.iter().enumerate() {
        if gate.try_enter_timer() {
            // SAFETY: the gate of thread `t` is held: its worker is not inside.
            unsafe { flush_thread_idle(m, t as u32, max_age) };
            gate.leave();
        }
    }
}

/// Starts a background thread that, every `period` seconds, sends the templates that are
/// due and each thread's packets that waited `max_age` seconds or more (`max_age` 0 =
/// 0.2 s; `period` 0 = `max_age` / 2). Per-thread calls then take a per-thread gate
/// (two atomic operations per call, uncontended) so the timer never touches a packet its
/// worker is filling; `vpp_ipfix_record_reserve` and `vpp_ipfix_buffer_get` return
/// `VPP_IPFIX_ERROR_TIMER_RUNNING` meanwhile (records are appended, not written after
/// the call). A configuration call: workers quiesced. -81 when a timer already runs,
/// -73 for a negative or NaN `max_age` or `period`.
#[no_mangle]
pub extern "C" fn vpp_ipfix_timer_start(
    main: *mut vpp_ipfix_main_t,
    max_age: f64,
    period: f64,
) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        let valid = max_age.is_finite() && max_age >= 0.0 && period.is_finite() && period >= 0.0;
        if !valid {
            return Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code();
        }
        let max_age = if max_age == 0.0 { DEFAULT_IDLE_AGE } else { max_age };
        let period = if period == 0.0 { max_age / 2.0 } else { period };
        // SAFETY: a live instance, workers quiesced (contract).
        let mut m = try_code!(unsafe { main_mut(main) });
        if m.timer.is_some() {
            return Error::VPP_IPFIX_ERROR_VALUE_EXIST.code();
        }
        // Born paused: no round may run before this call has let go of `&mut`.
        let shared = Arc::new(TimerShared::default());
        shared.configuring.store(1, Ordering::SeqCst);
        let release = shared.clone();
        let wake = Arc::new((Mutex::new(false), Condvar::new()));
        let addr = MainAddr(main as usize);
        let (thread_shared, thread_wake) = (shared.clone(), wake.clone());
        let spawned = std::thread::Builder::new()
            .name("vpp-ipfix-timer".into())
            .spawn(move || {
                let sleep = Duration::from_secs_f64(period.clamp(0.001, 3600.0));
                while !thread_shared.stop.load(Ordering::SeqCst) {
                    if thread_shared.begin_round() {
                        // SAFETY: the round is begun; `vpp_ipfix_main_destroy` stops
                        // and joins this thread before it frees the instance.
                        unsafe { round(&addr, max_age) };
                        thread_shared.end_round();
                    }
                    let (lock, cond) = &*thread_wake;
                    let woken = lock.lock().unwrap_or_else(PoisonError::into_inner);
                    let _ = cond
                        .wait_timeout_while(woken, sleep, |w| !*w)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            });
        let Ok(thread) = spawned else {
            return Error::VPP_IPFIX_ERROR_NO_MEMORY.code();
        };
        m.timer = Some(Timer { shared, wake, thread });
        m.threads.timer_on.store(true, Ordering::Relaxed);
        drop(m);
        release.configuring.fetch_sub(1, Ordering::SeqCst);
        0
    }
}

/// Stops the background timer and waits for its thread (-6 when none runs). A
/// configuration call: workers quiesced. `vpp_ipfix_main_destroy` stops it too.
#[no_mangle]
pub extern "C" fn vpp_ipfix_timer_stop(main: *mut vpp_ipfix_main_t) -> i32 {
    ffi_boundary! {
        check_not_null!(main);
        // SAFETY: a live instance, workers quiesced (contract).
        let mut m = try_code!(unsafe { main_mut(main) });
        let Some(timer) = m.timer.take() else {
            return Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY.code();
        };
        m.threads.timer_on.store(false, Ordering::Relaxed);
        // Let go of `&mut` (and the pause): the timer may run one more round, reading
        // only, then sees `stop` and ends; `stop` joins it.
        drop(m);
        timer.stop();
        0
    }
}
