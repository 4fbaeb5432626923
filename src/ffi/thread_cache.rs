//! Each exporting thread's memo of the last (exporter, report) its per-thread calls
//! checked: VPP callers export one report per worker loop, so most calls find their
//! indices already validated and skip the vector lookups. Any configuration call
//! invalidates every memo at once (a new generation), which is safe without atomics
//! because configuration and per-thread calls never overlap (the barrier rule).

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::counters::ThreadCounters;
use crate::instance::Instance;
use crate::types::{flow_report_per_thread_t, flow_report_t, ipfix_exporter_t};

/// What a thread's last successful lookup found, for the generation it was made in.
/// C reads it too: `vpp_ipfix_buffer_get_inline` in the header compares `key` and
/// `generation` and takes `ptd`, so the layout is part of the ABI (read only; the
/// library alone writes it).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct vpp_ipfix_thread_memo_t {
    /// The instance's generation when the memo was made (0: never).
    pub generation: u64,
    /// `(exporter_index << 32) | report_index`.
    pub key: u64,
    pub exp: *const ipfix_exporter_t,
    pub report: *const flow_report_t,
    /// The thread's counters of the report (opaque to C).
    pub counters: *const c_void,
    /// The thread's entry of the report's `per_thread_data`.
    pub ptd: *mut flow_report_per_thread_t,
}

type Memo = vpp_ipfix_thread_memo_t;

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
    /// The instance's current generation; a memo of another is stale.
    pub generation: *const u64,
    /// `n_threads` memos, `VPP_IPFIX_THREAD_MEMO_STRIDE` bytes apart.
    pub memos: *const u8,
    /// 0 for a NULL instance: every inline call then takes the function.
    pub n_threads: u32,
}

// SAFETY: entry `t` is read and written only by the thread calling with thread index
// `t` (the C threading rule: never two threads with one index), and configuration,
// which only changes `ThreadCaches::generation` through `&mut`, never runs meanwhile.
unsafe impl Sync for ThreadMemo {}

/// The memos of an instance's threads, and the generation they must match.
pub(crate) struct ThreadCaches {
    /// Starts at 1 so that the empty memos (generation 0) never match.
    generation: u64,
    memos: Box<[ThreadMemo]>,
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
            generation: std::ptr::null(),
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
        let empty = Memo {
            generation: 0,
            key: 0,
            exp: std::ptr::null(),
            report: std::ptr::null(),
            counters: std::ptr::null(),
            ptd: std::ptr::null_mut(),
        };
        ThreadCaches {
            generation: 1,
            memos: (0..n_threads)
                .map(|_| ThreadMemo(UnsafeCell::new(empty)))
                .collect(),
        }
    }

    /// Where C's inline fast path finds the memos and the generation.
    pub(crate) fn fast_path(&self) -> vpp_ipfix_fast_path_t {
        vpp_ipfix_fast_path_t {
            generation: &self.generation,
            memos: self.memos.as_ptr().cast(),
            n_threads: self.memos.len() as u32,
        }
    }

    /// Forgets every memo: configuration may have moved or freed what they point at.
    pub(crate) fn invalidate(&mut self) {
        self.generation += 1;
    }

    /// Thread `thread_index`'s view of report `r` of exporter `e` when its memo is for
    /// these indices and current; `None` otherwise (then `lookup_or_fill`). No call and
    /// no store: the per-record fast paths start here.
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
        if memo.key != (u64::from(e) << 32) | u64::from(r) || memo.generation != self.generation {
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
        if memo.key != key || memo.generation != self.generation {
            *memo = Self::fill(instance, timer_on, self.generation, key, thread_index)?;
        }
        // SAFETY: as in `hit`.
        Some(unsafe { Self::hit(memo) })
    }

    /// The view a current memo gives.
    ///
    /// # Safety
    /// `memo` was made in this generation, so no configuration ran since it was
    /// checked: the exporter, report and counters it points at are where they were, and
    /// live. Its `ptd` is the calling thread's entry of the report's per-thread vector
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
        generation: u64,
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
            generation,
            key,
            exp,
            report,
            counters: (counters as *const ThreadCounters).cast(),
            ptd,
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
