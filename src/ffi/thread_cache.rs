//! Each exporting thread's memo of the last (exporter, report) its per-thread calls
//! checked: VPP callers export one report per worker loop, so most calls find their
//! indices already validated and skip the vector lookups. Any configuration call
//! empties every memo, which is safe without atomics because configuration and
//! per-thread calls never overlap (the barrier rule).

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::counters::ThreadCounters;
use crate::instance::Instance;
use crate::types::{flow_report_per_thread_t, flow_report_t, ipfix_exporter_t};

/// What a thread's last successful lookup found, since the last configuration call.
/// C reads it too: `vpp_ipfix_buffer_get_inline` in the header compares `key` and
/// reads the packet of `ptd`, so the layout is part of the ABI (read only; the library
/// alone writes it).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct vpp_ipfix_thread_memo_t {
    /// `(exporter_index << 32) | report_index`; `NO_KEY` in an empty memo.
    pub key: u64,
    /// The thread's entry of the report's `per_thread_data`. An empty memo points at an
    /// entry that never has a packet, so a caller whose indices happen to equal
    /// `NO_KEY` reads "no buffer" there and takes the function, which says what is wrong.
    pub ptd: *mut flow_report_per_thread_t,
    pub exp: *const ipfix_exporter_t,
    pub report: *const flow_report_t,
    /// The thread's counters of the report (opaque to C).
    pub counters: *const c_void,
}

type Memo = vpp_ipfix_thread_memo_t;

/// The key of an empty memo (exporter and report `u32::MAX`, which no exporter has).
const NO_KEY: u64 = u64::MAX;

/// One thread's memo, on its own cache lines (written by that thread only);
/// `VPP_IPFIX_THREAD_MEMO_STRIDE` in the header.
#[repr(align(128))]
struct ThreadMemo(UnsafeCell<Memo>);

/// The header's `VPP_IPFIX_THREAD_MEMO_STRIDE`.
pub const THREAD_MEMO_STRIDE: usize = 128;
const _: () = assert!(std::mem::size_of::<ThreadMemo>() == THREAD_MEMO_STRIDE);

/// Where C finds the memos (`vpp_ipfix_fast_path_get`): valid while the instance lives,
/// read only by each thread for its own index, as the per-thread calls are.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct vpp_ipfix_fast_path_t {
    /// `n_threads` memos, `VPP_IPFIX_THREAD_MEMO_STRIDE` bytes apart.
    pub memos: *const u8,
    /// 0 for a NULL instance: every inline call then takes the function.
    pub n_threads: u32,
}

// SAFETY: entry `t` is read and written only by the thread calling with thread index
// `t` (the C threading rule: never two threads with one index), and configuration,
// which empties the memos through `&mut`, never runs meanwhile.
unsafe impl Sync for ThreadMemo {}

/// The memos of an instance's threads.
pub(crate) struct ThreadCaches {
    memos: Box<[ThreadMemo]>,
    /// What empty memos point at: an entry with no packet, never written.
    no_packet: Box<flow_report_per_thread_t>,
}

/// A memo that matched: the thread's exporter, report, counters and per-thread state.
pub(crate) struct Hit<'m> {
    pub(crate) exp: &'m ipfix_exporter_t,
    pub(crate) report: &'m flow_report_t,
    pub(crate) counters: &'m ThreadCounters,
    pub(crate) ptd: &'m mut flow_report_per_thread_t,
}

impl vpp_ipfix_fast_path_t {
    /// No threads: every inline call takes the function, which says what is wrong.
    pub(crate) fn empty() -> Self {
        vpp_ipfix_fast_path_t {
            memos: std::ptr::null(),
            n_threads: 0,
        }
    }
}

impl super::boundary::PanicDefault for vpp_ipfix_fast_path_t {
    fn panic_default() -> Self {
        Self::empty()
    }
}

impl ThreadCaches {
    pub(crate) fn new(n_threads: u32) -> Self {
        let mut caches = ThreadCaches {
            memos: (0..n_threads)
                .map(|_| ThreadMemo(UnsafeCell::new(Self::EMPTY)))
                .collect(),
            no_packet: Box::default(),
        };
        caches.invalidate();
        caches
    }

    const EMPTY: Memo = Memo {
        key: NO_KEY,
        ptd: std::ptr::null_mut(),
        exp: std::ptr::null(),
        report: std::ptr::null(),
        counters: std::ptr::null(),
    };

    /// Where C's inline fast path finds the memos.
    pub(crate) fn fast_path(&self) -> vpp_ipfix_fast_path_t {
        vpp_ipfix_fast_path_t {
            memos: self.memos.as_ptr().cast(),
            n_threads: self.memos.len() as u32,
        }
    }

    /// Forgets every memo: configuration may have moved or freed what they point at.
    pub(crate) fn invalidate(&mut self) {
        // C only reads the entry (its packet is empty); Rust never reaches it, as no
        // lookup matches `NO_KEY`.
        let no_packet = std::ptr::from_ref(&*self.no_packet).cast_mut();
        for memo in self.memos.iter_mut() {
            *memo.0.get_mut() = Memo {
                ptd: no_packet,
                ..Self::EMPTY
            };
        }
    }

    /// Thread `thread_index`'s view of report `r` of exporter `e` when its memo is for
    /// these indices; `None` otherwise (then `lookup_or_fill`). No call and no store:
    /// the per-record fast paths start here.
    ///
    /// # Safety
    /// The caller is the only thread using `thread_index` of the instance that owns
    /// `self`, inside a per-thread call (no configuration meanwhile), and holds no other
    /// reference to that thread's per-thread state.
    #[inline(always)]
    pub(crate) unsafe fn lookup(&self, e: u32, r: u32, thread_index: u32) -> Option<Hit<'_>> {
        let cell = self.memos.get(thread_index as usize)?;
        // SAFETY: this thread's memo, touched by no other thread (contract).
        let memo = unsafe { &*cell.0.get() };
        let key = (u64::from(e) << 32) | u64::from(r);
        if memo.key != key || key == NO_KEY {
            return None;
        }
        // SAFETY: as in `hit`.
        Some(unsafe { Self::hit(memo) })
    }

    /// `lookup`, and on a miss the lookup itself: checked (`hot_report`) and remembered.
    /// `None` when `thread_index` is out of range, the lookup fails, or a timer runs
    /// (`timer_on`; the full paths take the thread's gate then; no memo is made while a
    /// timer runs, and starting one is configuration, so a matching memo means none
    /// runs).
    ///
    /// # Safety
    /// As `lookup`, and `instance` is the instance that owns `self`.
    pub(crate) unsafe fn lookup_or_fill<'m>(
        &'m self,
        instance: &'m Instance,
        timer_on: &AtomicBool,
        e: u32,
        r: u32,
        thread_index: u32,
    ) -> Option<Hit<'m>> {
        let cell = self.memos.get(thread_index as usize)?;
        let key = (u64::from(e) << 32) | u64::from(r);
        // SAFETY: this thread's memo, touched by no other thread (contract).
        let memo = unsafe { &mut *cell.0.get() };
        if memo.key != key || key == NO_KEY {
            *memo = Self::fill(instance, timer_on, key, thread_index)?;
        }
        // SAFETY: as in `hit`.
        Some(unsafe { Self::hit(memo) })
    }

    /// The view a current memo gives.
    ///
    /// # Safety
    /// `memo` is not empty, so no configuration ran since it was checked: the exporter,
    /// report and counters it points at are where they were, and live. Its `ptd` is the calling thread's entry of the report's per-thread vector
    /// (never resized), which only that thread touches now (`lookup`'s contract).
    #[inline(always)]
    unsafe fn hit<'m>(memo: &Memo) -> Hit<'m> {
        // SAFETY: per the function's contract.
        unsafe {
            Hit {
                exp: &*memo.exp,
                report: &*memo.report,
                counters: &*memo.counters.cast::<ThreadCounters>(),
                ptd: &mut *memo.ptd,
            }
        }
    }

    /// `lookup_or_fill` when the memo does not match.
    #[cold]
    #[inline(never)]
    fn fill(
        instance: &Instance,
        timer_on: &AtomicBool,
        key: u64,
        thread_index: u32,
    ) -> Option<Memo> {
        // Only configuration turns the timer on or off, never during a per-thread call.
        if timer_on.load(Ordering::Relaxed) {
            return None;
        }
        let (e, r) = ((key >> 32) as u32, key as u32);
        let (exp, report) = instance.hot_report(e, r, thread_index)?;
        let counters = instance.thread_counters(e, r, thread_index)?;
        let ptd = report
            .per_thread_data
            .load(Ordering::Relaxed)
            .wrapping_add(thread_index as usize);
        Some(Memo {
            key,
            ptd,
            exp,
            report,
            counters: (counters as *const ThreadCounters).cast(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header's inline fast path steps through the memos by this literal.
    #[test]
    fn the_headers_stride_is_the_memos() {
        let header = include_str!("../../include/vpp_ipfix.h");
        let define = format!("#define VPP_IPFIX_THREAD_MEMO_STRIDE {THREAD_MEMO_STRIDE}\n");
        assert!(header.contains(&define), "{define}");
        assert_eq!(std::mem::align_of::<ThreadMemo>(), THREAD_MEMO_STRIDE);
    }
}
