//! The barrier between the control thread and the workers (VPP's worker barrier).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use crate::DEADLINE;

#[derive(Debug, Default)]
struct BarrierState {
    parked: u32,
    generation: u64,
    stop: bool,
}

/// VPP's worker barrier: the control thread asks, every worker parks between two
/// records, the control thread configures and lets them go.
#[derive(Debug, Default)]
pub(crate) struct Barrier {
    pub(crate) requested: AtomicBool,
    state: Mutex<BarrierState>,
    cond: Condvar,
}

impl Barrier {
    /// A worker parks until released; true when told to stop.
    pub(crate) fn park(&self) -> bool {
        let mut s = self.state.lock().unwrap();
        s.parked += 1;
        let generation = s.generation;
        self.cond.notify_all();
        while s.generation == generation {
            s = self.cond.wait(s).unwrap();
        }
        s.stop
    }

    /// Waits until all `n` workers are parked.
    pub(crate) fn hold(&self, n: u32) -> Result<(), String> {
        self.requested.store(true, SeqCst);
        let started = Instant::now();
        let mut s = self.state.lock().unwrap();
        while s.parked < n {
            let left = DEADLINE.checked_sub(started.elapsed()).ok_or(format!(
                "{} of {n} workers parked after {DEADLINE:?}",
                s.parked
            ))?;
            s = self.cond.wait_timeout(s, left).unwrap().0;
        }
        Ok(())
    }

    pub(crate) fn release(&self, stop: bool) {
        let mut s = self.state.lock().unwrap();
        s.parked = 0;
        s.generation += 1;
        s.stop = stop;
        self.requested.store(false, SeqCst);
        self.cond.notify_all();
    }
}
