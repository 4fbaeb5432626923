//! The workers: they write records to the reports the last barrier left.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vpp_ipfix::ffi::datapath::{
    vpp_ipfix_buffer_get, vpp_ipfix_buffer_send, vpp_ipfix_record_append, vpp_ipfix_record_reserve,
    vpp_ipfix_records_append, vpp_ipfix_thread_flush_idle,
};
use vpp_ipfix::ffi::instance::vpp_ipfix_main_t;
use vpp_ipfix::types::flow_report_t;

use crate::abi::{per_thread, TIMER_RUNNING};
use crate::record::{encode, record_len, Rng};
use crate::shared::{Shared, Target};
use crate::{FLUSH_EVERY, IDLE_AGE, IN_FLIGHT_LIMIT};

#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    pub(crate) written: u64,
    pub(crate) by_path: [u64; 4],
    /// Calls the API refused on purpose (invalid indices) and buffer_get/reserve calls
    /// refused while the timer ran (the record was appended instead).
    pub(crate) refused: u64,
    pub(crate) timer_fallbacks: u64,
    /// Anything else: each is a failure.
    pub(crate) unexpected: Vec<String>,
}

pub(crate) struct Worker {
    pub(crate) t: u32,
    pub(crate) shared: Arc<Shared>,
    pub(crate) rng: Rng,
    pub(crate) stats: WorkerStats,
    pub(crate) record: Vec<u8>,
    pub(crate) last_flush: Instant,
}

impl Worker {
    fn main(&self) -> *const vpp_ipfix_main_t {
        self.shared.main.get()
    }

    fn fail(&mut self, what: String) {
        if self.stats.unexpected.len() < 10 {
            self.stats.unexpected.push(what);
        }
    }

    fn flush_idle(&mut self) {
        let mut sent = 0;
        let rc = vpp_ipfix_thread_flush_idle(self.main(), self.t, IDLE_AGE, &mut sent);
        if rc != 0 {
            self.fail(format!("flush_idle: {rc}"));
        }
        self.last_flush = Instant::now();
    }

    pub(crate) fn run(mut self) -> WorkerStats {
        let started = Instant::now();
        let per_worker = self.shared.rate / f64::from(self.shared.n_threads - 1);
        let mut snap = self.shared.snapshot();
        loop {
            if self.shared.barrier.requested.load(SeqCst) {
                // Going idle: what waited long enough goes out, and the UDP batch.
                self.flush_idle();
                if self.shared.barrier.park() {
                    break;
                }
                snap = self.shared.snapshot();
                continue;
            }
            if self.last_flush.elapsed() >= FLUSH_EVERY {
                self.flush_idle();
            }
            let in_flight = self
                .shared
                .written
                .load(Relaxed)
                .saturating_sub(self.shared.decoded.load(Relaxed));
            let ahead = self.stats.written as f64 > per_worker * started.elapsed().as_secs_f64();
            if in_flight > IN_FLIGHT_LIMIT || ahead || snap.targets.is_empty() {
                std::thread::sleep(Duration::from_micros(500));
                continue;
            }
            if self.rng.chance(0.002) && !snap.invalid.is_empty() {
                let (e, r) = snap.invalid[self.rng.below(snap.invalid.len())];
                self.must_refuse(e, r);
            }
            let target = snap.targets[self.rng.below(snap.targets.len())].clone();
            let burst = 1 + self.rng.below(32);
            let before = self.stats.written;
            match self.rng.below(4) {
                0 => self.vpp_style(&target, burst, snap.timer_on),
                1 => self.reserve(&target, burst, snap.timer_on),
                2 => self.append(&target, burst),
                _ => self.append_many(&target, burst),
            }
            self.shared
                .written
                .fetch_add(self.stats.written - before, Relaxed);
        }
        self.stats
    }

    /// The next record for `target`: its number, encoded into `self.record`.
    fn next_record(&mut self, target: &Target) -> u64 {
        let n = target.written[self.t as usize].load(Relaxed);
        self.record.resize(record_len(target.layout), 0);
        encode(target.layout, self.t, target.uid, n, &mut self.record);
        n
    }

    fn wrote(&mut self, target: &Target, n: u64, path: usize) {
        target.written[self.t as usize].store(n + 1, SeqCst);
        self.stats.written += 1;
        self.stats.by_path[path] += 1;
    }

    fn must_refuse(&mut self, e: u32, r: u32) {
        let record = [0u8; 16];
        let rc = vpp_ipfix_record_append(self.main(), e, r, self.t, record.as_ptr(), 16);
        if rc == 0 {
            self.fail(format!("append to invalid report ({e}, {r}) accepted"));
        }
        self.stats.refused += 1;
    }

    /// As flowprobe writes: take the thread's buffer, write at `next_data_offset`, send
    /// when the next record would pass the path MTU.
    fn vpp_style(&mut self, target: &Target, burst: usize, timer_on: bool) {
        let (main, e, r, t) = (self.main(), target.exporter, target.report, self.t);
        let size = record_len(target.layout);
        for _ in 0..burst {
            let mut err = 0;
            if vpp_ipfix_buffer_get(main, e, r, t, &mut err).is_null() {
                if err == TIMER_RUNNING && timer_on {
                    self.stats.timer_fallbacks += 1;
                    self.append(target, 1);
                } else {
                    self.fail(format!("buffer_get ({e}, {r}): {err}"));
                }
                continue;
            }
            // SAFETY: this thread, between its own calls; the snapshot's report is live
            // (no configuration since the barrier) and the timer does not run (it
            // refuses buffer_get).
            let ptd = unsafe { &mut *per_thread(target.fr as *const flow_report_t, t) };
            if usize::from(ptd.next_data_offset) + size > target.path_mtu as usize {
                let rc = vpp_ipfix_buffer_send(main, e, r, t);
                if rc != 0 {
                    self.fail(format!("buffer_send ({e}, {r}): {rc}"));
                }
                if vpp_ipfix_buffer_get(main, e, r, t, &mut err).is_null() {
                    self.fail(format!("buffer_get ({e}, {r}) after send: {err}"));
                    continue;
                }
            }
            let n = self.next_record(target);
            let at = usize::from(ptd.next_data_offset);
            // SAFETY: the buffer holds at least path_mtu bytes (the host's are 2048) and
            // at + size <= path_mtu; only this thread writes it until its next call.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.record.as_ptr(),
                    ptd.packet.as_ptr().add(at),
                    size,
                )
            };
            ptd.next_data_offset += size as u16;
            ptd.n_data_records += 1;
            self.wrote(target, n, 0);
        }
        if self.rng.chance(0.2) {
            let rc = vpp_ipfix_buffer_send(main, e, r, t);
            if rc != 0 {
                self.fail(format!("buffer_send ({e}, {r}): {rc}"));
            }
        }
    }

    fn reserve(&mut self, target: &Target, burst: usize, timer_on: bool) {
        let size = record_len(target.layout);
        for _ in 0..burst {
            let mut err = 0;
            let p = vpp_ipfix_record_reserve(
                self.main(),
                target.exporter,
                target.report,
                self.t,
                size as u16,
                &mut err,
            );
            if p.is_null() {
                if err == TIMER_RUNNING && timer_on {
                    self.stats.timer_fallbacks += 1;
                    self.append(target, 1);
                } else {
                    self.fail(format!(
                        "reserve ({}, {}): {err}",
                        target.exporter, target.report
                    ));
                }
                continue;
            }
            let n = self.next_record(target);
            // SAFETY: the library reserved `size` writable bytes at `p` for this thread.
            unsafe { std::ptr::copy_nonoverlapping(self.record.as_ptr(), p, size) };
            self.wrote(target, n, 1);
        }
    }

    fn append(&mut self, target: &Target, burst: usize) {
        for _ in 0..burst {
            let n = self.next_record(target);
            let rc = vpp_ipfix_record_append(
                self.main(),
                target.exporter,
                target.report,
                self.t,
                self.record.as_ptr(),
                self.record.len(),
            );
            if rc != 0 {
                self.fail(format!(
                    "append ({}, {}): {rc}",
                    target.exporter, target.report
                ));
                return;
            }
            self.wrote(target, n, 2);
        }
    }

    fn append_many(&mut self, target: &Target, burst: usize) {
        let size = record_len(target.layout);
        let first = target.written[self.t as usize].load(Relaxed);
        let mut records = vec![0u8; size * burst];
        for (i, r) in records.chunks_mut(size).enumerate() {
            encode(target.layout, self.t, target.uid, first + i as u64, r);
        }
        let mut done = 0;
        let rc = vpp_ipfix_records_append(
            self.main(),
            target.exporter,
            target.report,
            self.t,
            records.as_ptr(),
            size as u16,
            burst,
            &mut done,
        );
        if rc != 0 {
            self.fail(format!(
                "records_append ({}, {}): {rc}",
                target.exporter, target.report
            ));
        }
        for i in 0..done as u64 {
            self.wrote(target, first + i, 3);
        }
    }
}
