//! Who is inside a per-thread call: the debug builds' check of the barrier rule, and the
//! gate each exporting thread shares with the background timer (taken only while the
//! timer runs), so the timer can flush a quiet worker's packets without racing it.

use std::hint::spin_loop;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

/// What an instance knows of its exporting threads: one gate each, whether a timer runs,
/// and (debug builds) how many are inside a per-thread call.
#[derive(Debug)]
pub(crate) struct ThreadRegistry {
    pub(crate) gates: Box<[ThreadGate]>,
    /// A background timer runs (changed by configuration calls only).
    pub(crate) timer_on: AtomicBool,
    #[cfg(debug_assertions)]
    pub(crate) inside: AtomicU32,
}

impl ThreadRegistry {
    pub(crate) fn new(n_threads: u32) -> Self {
        ThreadRegistry {
            gates: (0..n_threads).map(|_| ThreadGate::default()).collect(),
            timer_on: AtomicBool::new(false),
            #[cfg(debug_assertions)]
            inside: AtomicU32::new(0),
        }
    }

    /// True while a thread is inside a per-thread call (always false in release builds,
    /// which do not count).
    pub(crate) fn anyone_inside(&self) -> bool {
        #[cfg(debug_assertions)]
        return self.inside.load(Ordering::SeqCst) != 0;
        #[cfg(not(debug_assertions))]
        false
    }
}

/// A running timer: its thread and what it shares with configuration calls.
pub(crate) struct Timer {
    pub(crate) shared: Arc<TimerShared>,
    pub(crate) wake: Arc<(Mutex<bool>, Condvar)>,
    pub(crate) thread: JoinHandle<()>,
}

impl Timer {
    pub(crate) fn shared(&self) -> Arc<TimerShared> {
        self.shared.clone()
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let (lock, cond) = &*self.wake;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cond.notify_all();
        let _ = self.thread.join();
    }
}

const FREE: u32 = 0;
const WORKER: u32 = 1;
const TIMER: u32 = 2;

/// One thread's gate, on its own cache lines: its worker and the timer never hold it at
/// once.
#[repr(align(128))]
#[derive(Debug, Default)]
pub(crate) struct ThreadGate(AtomicU32);

impl ThreadGate {
    /// The worker's way in: waits while the timer flushes this thread (a few µs).
    fn enter_worker(&self) {
        while self
            .0
            .compare_exchange_weak(FREE, WORKER, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin_loop();
        }
    }

    /// The timer's way in: never waits for a worker, it tries again next round.
    pub(crate) fn try_enter_timer(&self) -> bool {
        self.0
            .compare_exchange(FREE, TIMER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    pub(crate) fn leave(&self) {
        self.0.store(FREE, Ordering::Release);
    }
}

/// What a running timer shares with configuration calls: configuration waits until the
/// timer is between rounds, and the timer skips rounds while configuration runs. Both
/// sides write their flag, then a SeqCst fence, then read the other's flag, so at least
/// one of them sees the other (they never overlap). The fences make the rule hold by
/// the fence rules alone, the form tests/loom_protocol.rs model-checks (loom does not
/// model SeqCst stores and loads as a total order).
#[derive(Debug, Default)]
pub(crate) struct TimerShared {
    pub(crate) in_round: AtomicBool,
    pub(crate) configuring: AtomicU32,
    pub(crate) stop: AtomicBool,
}

impl TimerShared {
    /// Starts a round unless configuration runs; `end_round` must follow a `true`.
    pub(crate) fn begin_round(&self) -> bool {
        self.in_round.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.configuring.load(Ordering::SeqCst) != 0 {
            self.in_round.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    pub(crate) fn end_round(&self) {
        self.in_round.store(false, Ordering::SeqCst);
    }
}

/// Held by a configuration call while a timer runs: the timer makes no round meanwhile.
pub(crate) struct TimerPause(Arc<TimerShared>);

impl TimerPause {
    pub(crate) fn new(shared: Arc<TimerShared>) -> Self {
        shared.configuring.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        while shared.in_round.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        TimerPause(shared)
    }
}

impl Drop for TimerPause {
    fn drop(&mut self) {
        self.0.configuring.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Marks a thread inside a per-thread call for as long as it lives: the debug builds'
/// count, and the thread's gate while a timer runs.
pub(crate) struct InsideDatapath<'a> {
    #[cfg(debug_assertions)]
    count: &'a AtomicU32,
    gate: Option<&'a ThreadGate>,
}

impl<'a> InsideDatapath<'a> {
    /// Enters for `thread_index` (checked against the gates here; the core checks it
    /// again against the thread count).
    pub(crate) fn enter(threads: &'a ThreadRegistry, thread_index: u32) -> Self {
        #[cfg(debug_assertions)]
        threads.inside.fetch_add(1, Ordering::SeqCst);
        // Only configuration turns the timer on or off, never during a per-thread call.
        let gate = if threads.timer_on.load(Ordering::Relaxed) {
            threads.gates.get(thread_index as usize)
        } else {
            None
        };
        if let Some(g) = gate {
            g.enter_worker();
        }
        InsideDatapath {
            #[cfg(debug_assertions)]
            count: &threads.inside,
            gate,
        }
    }
}

impl<'a> InsideDatapath<'a> {
    /// Enters a fast path, which runs only while no timer does (it checked): nothing to
    /// gate, only the debug builds' count (nothing at all in release builds).
    #[inline(always)]
    pub(crate) fn enter_untimed(threads: &'a ThreadRegistry) -> Self {
        #[cfg(debug_assertions)]
        threads.inside.fetch_add(1, Ordering::SeqCst);
        #[cfg(not(debug_assertions))]
        let _ = threads;
        InsideDatapath {
            #[cfg(debug_assertions)]
            count: &threads.inside,
            gate: None,
        }
    }
}

impl Drop for InsideDatapath<'_> {
    fn drop(&mut self) {
        if let Some(g) = self.gate {
            g.leave();
        }
        #[cfg(debug_assertions)]
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}
