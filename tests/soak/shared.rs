//! What the workers see: the reports they may write to, and what every thread shares.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::abi::MainPtr;
use crate::barrier::Barrier;
use crate::ledger::Ledger;

/// A report the workers may write to, as the last barrier left it.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) exporter: u32,
    pub(crate) report: u32,
    pub(crate) uid: u32,
    pub(crate) layout: usize,
    /// The C-visible report (valid until the next configuration call) and its exporter's
    /// path MTU, for the VPP-style path.
    pub(crate) fr: usize,
    pub(crate) path_mtu: u32,
    pub(crate) written: Arc<[AtomicU64]>,
}

#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) targets: Vec<Target>,
    /// (exporter, report) pairs the API must refuse: one past each exporter's last
    /// report, and exporters not in use.
    pub(crate) invalid: Vec<(u32, u32)>,
    pub(crate) timer_on: bool,
}

pub(crate) struct Shared {
    pub(crate) main: MainPtr,
    pub(crate) n_threads: u32,
    pub(crate) barrier: Barrier,
    pub(crate) snapshot: Mutex<Arc<Snapshot>>,
    pub(crate) ledger: Mutex<Ledger>,
    pub(crate) written: AtomicU64,
    pub(crate) decoded: AtomicU64,
    /// Records a second, all workers together.
    pub(crate) rate: f64,
}

impl Shared {
    pub(crate) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.lock().unwrap().clone()
    }
}
