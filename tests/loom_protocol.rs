//! The thread protocol of the core, model-checked with loom: every interleaving of 2-3
//! threads is run. A model, not the library's code (whose atomics sit in `#[repr(C)]`
//! structs C reads), kept to the same operations and orderings:
//! - a worker's packet is its own (`flow_report_per_thread_t`); sending it takes the
//!   sequence number with one `fetch_add(records, Relaxed)` on the stream
//!   (`datapath.rs`);
//! - the template sender runs beside the workers and reads the sequence number with a
//!   `load(Relaxed)` (`template.rs`);
//! - the background timer flushes a quiet worker's packet through the worker's gate
//!   (`ffi/threads.rs`: CAS FREE -> WORKER or TIMER, Acquire; store FREE, Release);
//! - configuration (reset of the sequence numbers) runs with workers stopped (VPP's
//!   barrier) and pauses the timer (`TimerPause`: a flag each way, SeqCst fences).
//!
//! What must hold whatever the interleaving: the data messages of a stream carry
//! sequence numbers that are exactly the running count of data records (their
//! [first, first + records) ranges tile 0..total), every template carries a count some
//! data message started at (or the total), no record is sent twice or lost, and no two
//! threads touch a packet at once (loom's `UnsafeCell` reports such a race).
//!
//! Run: `cargo test --release --test loom_protocol` (also part of `cargo test`).

use loom::cell::UnsafeCell;
use loom::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// What left the exporter, in the order it was handed to the host.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Message {
    Data { first: u32, records: u32 },
    Template { sequence: u32 },
}

#[derive(Default)]
struct Stream {
    sequence: AtomicU32,
    out: Mutex<Vec<Message>>,
}

impl Stream {
    /// `send_buffer`: one atomic add of the packet's records.
    fn send(&self, records: u32) {
        let first = self.sequence.fetch_add(records, Ordering::Relaxed);
        self.out
            .lock()
            .unwrap()
            .push(Message::Data { first, records });
    }

    /// A template: the current count, not advanced.
    fn send_template(&self) {
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.out
            .lock()
            .unwrap()
            .push(Message::Template { sequence });
    }

    fn take(&self) -> Vec<Message> {
        std::mem::take(&mut *self.out.lock().unwrap())
    }
}

/// One worker's packet under construction: the records written so far.
struct Packet(UnsafeCell<u32>);

const FREE: u32 = 0;
const WORKER: u32 = 1;
const TIMER: u32 = 2;

/// One thread's gate, as `ffi::threads::ThreadGate`.
struct Gate(AtomicU32);

impl Gate {
    fn enter_worker(&self) {
        while self
            .0
            .compare_exchange(FREE, WORKER, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            thread::yield_now();
        }
    }

    fn try_enter_timer(&self) -> bool {
        self.0
            .compare_exchange(FREE, TIMER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    fn leave(&self) {
        self.0.store(FREE, Ordering::Release);
    }
}

/// A worker thread's state, shared with the timer through its gate.
struct Worker {
    gate: Gate,
    packet: Packet,
}

impl Worker {
    fn new() -> Self {
        Worker {
            gate: Gate(AtomicU32::new(FREE)),
            packet: Packet(UnsafeCell::new(0)),
        }
    }

    /// `record_append`: the record goes in; a full packet (`capacity` records) is sent.
    fn append(&self, stream: &Stream, capacity: u32) {
        self.gate.enter_worker();
        self.packet.0.with_mut(|n| {
            // SAFETY: the gate is held: only this thread touches the packet.
            let n = unsafe { &mut *n };
            *n += 1;
            if *n == capacity {
                stream.send(*n);
                *n = 0;
            }
        });
        self.gate.leave();
    }

    /// The timer's idle flush of this thread: only when the worker is not inside.
    fn timer_flush(&self, stream: &Stream) -> bool {
        if !self.gate.try_enter_timer() {
            return false;
        }
        self.flush_held(stream);
        self.gate.leave();
        true
    }

    /// Sends the packet if it has records. The caller holds the gate, or every worker
    /// is stopped (the barrier).
    fn flush_held(&self, stream: &Stream) {
        self.packet.0.with_mut(|n| {
            // SAFETY: the caller holds the gate or the barrier.
            let n = unsafe { &mut *n };
            if *n > 0 {
                stream.send(*n);
                *n = 0;
            }
        });
    }
}

/// Checks the messages of one stream from sequence 0: data ranges tile 0..total and
/// templates carry a count a data message started at, or the total. Returns the total.
fn check_accounting(messages: &[Message]) -> u32 {
    let mut ranges: Vec<(u32, u32)> = messages
        .iter()
        .filter_map(|m| match *m {
            Message::Data { first, records } => Some((first, records)),
            Message::Template { .. } => None,
        })
        .collect();
    ranges.sort_unstable();
    let mut next = 0;
    for &(first, records) in &ranges {
        assert_eq!(
            first, next,
            "data ranges overlap or leave a gap: {messages:?}"
        );
        assert!(records > 0, "an empty data message: {messages:?}");
        next = first + records;
    }
    for m in messages {
        if let Message::Template { sequence } = *m {
            assert!(
                sequence == next || ranges.iter().any(|&(first, _)| first == sequence),
                "template with sequence {sequence} matches no data boundary: {messages:?}"
            );
        }
    }
    next
}

/// Every interleaving with at most `PREEMPTIONS` forced thread switches (loom's usual
/// bound: bugs of this kind need few; unbounded runs take hours with three threads).
const PREEMPTIONS: usize = 3;

fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    // Each execution of the closure is one interleaving; the count goes into
    // docs/reliability.md (run with --nocapture).
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(PREEMPTIONS);
    builder.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    let name = std::thread::current().name().unwrap_or("model").to_string();
    eprintln!(
        "loom: {name}: {} interleavings",
        runs.load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[test]
fn two_workers_and_the_template_sender_keep_exact_sequence_numbers() {
    model(|| {
        let stream = Arc::new(Stream::default());
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let stream = stream.clone();
                thread::spawn(move || {
                    let w = Worker::new();
                    for _ in 0..2 {
                        w.append(&stream, 2);
                    }
                    w.append(&stream, 2);
                    w.flush_held(&stream);
                })
            })
            .collect();
        let templates = {
            let stream = stream.clone();
            thread::spawn(move || stream.send_template())
        };
        for w in workers {
            w.join().unwrap();
        }
        templates.join().unwrap();
        let messages = stream.take();
        assert_eq!(check_accounting(&messages), 6);
        assert_eq!(stream.sequence.load(Ordering::Relaxed), 6);
    });
}

#[test]
fn the_timer_flushes_a_quiet_worker_without_racing_it() {
    model(|| {
        let stream = Arc::new(Stream::default());
        let worker = Arc::new(Worker::new());
        let writer = {
            let (stream, worker) = (stream.clone(), worker.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    worker.append(&stream, 3);
                }
            })
        };
        let timer = {
            let (stream, worker) = (stream.clone(), worker.clone());
            thread::spawn(move || {
                worker.timer_flush(&stream);
            })
        };
        writer.join().unwrap();
        timer.join().unwrap();
        // Shutdown flush, with every thread stopped.
        worker.flush_held(&stream);
        let messages = stream.take();
        assert_eq!(check_accounting(&messages), 2, "each record sent once");
    });
}

/// `TimerShared` and `TimerPause`: a configuration call and a timer round never run at
/// once (both write their flag, then a SeqCst fence, then read the other's). Without the
/// fences loom finds the overlap: it models SeqCst loads and stores no stronger than
/// acquire/release, and the fences are what the rule rests on.
struct TimerShared {
    in_round: AtomicBool,
    configuring: AtomicU32,
}

impl TimerShared {
    fn begin_round(&self) -> bool {
        self.in_round.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.configuring.load(Ordering::SeqCst) != 0 {
            self.in_round.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn end_round(&self) {
        self.in_round.store(false, Ordering::SeqCst);
    }

    fn pause(&self) {
        self.configuring.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        while self.in_round.load(Ordering::SeqCst) {
            thread::yield_now();
        }
    }

    fn resume(&self) {
        self.configuring.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn reconfiguration_pauses_the_timer_and_restarts_the_count() {
    model(|| {
        let stream = Arc::new(Stream::default());
        let worker = Arc::new(Worker::new());
        let shared = Arc::new(TimerShared {
            in_round: AtomicBool::new(false),
            configuring: AtomicU32::new(0),
        });
        // Workers ran and stopped at the barrier with a partly filled packet.
        worker.append(&stream, 4);
        let timer = {
            let (stream, worker, shared) = (stream.clone(), worker.clone(), shared.clone());
            thread::spawn(move || {
                if shared.begin_round() {
                    worker.timer_flush(&stream);
                    shared.end_round();
                }
            })
        };
        // Configuration (VPP's `set ipfix exporter` to a new collector): packets under
        // construction go first with the old settings, then the count restarts at 0.
        shared.pause();
        worker.flush_held(&stream);
        let before = stream.take();
        stream.sequence.store(0, Ordering::Relaxed);
        shared.resume();
        timer.join().unwrap();
        assert_eq!(
            check_accounting(&before),
            1,
            "the record left before the reset"
        );
        // After the reset: the next packet starts the new count at 0.
        worker.append(&stream, 1);
        let after = stream.take();
        assert_eq!(
            after,
            [Message::Data {
                first: 0,
                records: 1
            }]
        );
    });
}
