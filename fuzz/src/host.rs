//! The in-memory host of `api_sequence`: `transport::Capture`, with the background
//! timer's calls told apart from the program's by thread, so the timer acts only where
//! the program says and a run stays deterministic (AFL needs it, and the checks compare
//! packets in the order they were numbered).
//!
//! After `vpp_ipfix_timer_start` the program waits for one whole round of the new timer
//! thread, which goes through to the capture ("live"). Any later round of that thread
//! (the program starts it with a long period, so there are few) is inert: the clock
//! reads -inf (no packet is old enough to flush) and allocation fails (due templates
//! cannot go out), so it changes nothing the checks look at, only the template
//! allocation-failure counters.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use vpp_ipfix::ops::{BufferHandle, Embedder, EnqueueRefused, PacketInfo};
use vpp_ipfix::transport::Capture;
use vpp_ipfix::wire::PacketBuf;

#[derive(Debug, Default)]
struct Watch {
    /// The next thread other than the program's to call in is the new timer: live.
    armed: bool,
    live: Option<ThreadId>,
    /// `flush` calls of the live thread's round: one after the templates, one per
    /// exporting thread after its idle flush; all gates are free while the program
    /// waits, so a round makes `n_threads + 1` of them and they end it.
    flushes: u32,
    rounds: u64,
}

/// What the host shares with the program that waits for the timer.
#[derive(Debug, Default)]
pub struct TimerWatch {
    state: Mutex<Watch>,
    round_done: Condvar,
}

impl TimerWatch {
    fn lock(&self) -> MutexGuard<'_, Watch> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Before a `vpp_ipfix_timer_start` expected to start a thread: its first round is
    /// live. Returns the rounds so far, for `wait_round`.
    pub fn arm(&self) -> u64 {
        let mut w = self.lock();
        w.armed = true;
        w.rounds
    }

    /// The start failed: no thread will call.
    pub fn disarm(&self) {
        self.lock().armed = false;
    }

    /// Waits at most `wait` for the live round after `arm` (which returned `rounds`) to
    /// end; true when it has.
    pub fn wait_round(&self, rounds: u64, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut w = self.lock();
        while w.rounds == rounds {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            w = self
                .round_done
                .wait_timeout(w, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

pub struct Host {
    capture: Capture,
    program: ThreadId,
    n_threads: u32,
    watch: Arc<TimerWatch>,
}

impl Host {
    /// The host for an instance of `n_threads`, called by the current thread's program.
    pub fn new(capture: Capture, n_threads: u32, watch: Arc<TimerWatch>) -> Self {
        Host {
            capture,
            program: thread::current().id(),
            n_threads,
            watch,
        }
    }

    /// True for a timer thread outside its live round: the call must change nothing.
    fn inert(&self) -> bool {
        let me = thread::current().id();
        if me == self.program {
            return false;
        }
        let mut w = self.watch.lock();
        match w.live {
            Some(live) => live != me,
            None if w.armed => {
                w.armed = false;
                w.live = Some(me);
                w.flushes = 0;
                false
            }
            None => true,
        }
    }
}

// Capture implements only these; the other methods keep their defaults, as Capture's do.
impl Embedder for Host {
    fn buffer_alloc(
        &self,
        thread_index: u32,
        min_capacity: u32,
    ) -> Option<(BufferHandle, PacketBuf)> {
        if self.inert() {
            return None;
        }
        self.capture.buffer_alloc(thread_index, min_capacity)
    }

    fn buffer_free(&self, thread_index: u32, handle: BufferHandle, packet: PacketBuf) {
        self.capture.buffer_free(thread_index, handle, packet)
    }

    fn enqueue(
        &self,
        thread_index: u32,
        handle: BufferHandle,
        packet: PacketBuf,
        info: &PacketInfo,
    ) -> Result<(), EnqueueRefused> {
        self.capture.enqueue(thread_index, handle, packet, info)
    }

    fn now(&self) -> f64 {
        if self.inert() {
            // Nothing is ever `max_age` old at -inf.
            return f64::NEG_INFINITY;
        }
        self.capture.now()
    }

    fn flush(&self, thread_index: u32) {
        let me = thread::current().id();
        if me != self.program {
            let mut w = self.watch.lock();
            if w.live == Some(me) {
                w.flushes += 1;
                if w.flushes == self.n_threads + 1 {
                    w.live = None;
                    w.rounds += 1;
                    self.watch.round_done.notify_all();
                }
            }
        }
        self.capture.flush(thread_index)
    }
}
