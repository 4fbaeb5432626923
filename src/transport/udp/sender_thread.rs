//! The sender thread (opt-in): workers hand it their full batches, and templates at
//! once, and go back to encoding while it makes the `sendmmsg` calls and reads the ICMP
//! errors, so encoding and the kernel's work overlap on two cores.
//!
//! Order: one queue for every worker, one thread taking from it in order. A template
//! handed off by thread 0 goes out before anything handed off after it by any thread,
//! as in the synchronous mode (see `UdpSender::push_packet`).
//!
//! Accounting: the thread keeps its own copy of each worker's socket cache, with the
//! same indices (a worker announces the sockets it added with its next handoff) and rings
//! of its own, so the thread that sends is the one that records what it sent; it counts
//! in counters of its own, summed with the workers'. A flush queues a read of the ICMP
//! errors behind what was handed off and waits for it.
//!
//! Memory: at most [`QUEUE_JOBS`] jobs wait; a worker that finds the queue full waits for
//! room, nothing is dropped. Emptied batch `Vec`s go back to the workers through a spare
//! list: once warm, nothing is allocated per batch.
//!
//! A panic in the thread (a bug) must not hang the workers: it marks itself dead, counts
//! what was queued lost (with `other_errors`; the buffers go back to the pool) and wakes
//! every waiter; from then on workers send themselves, as in the synchronous mode. The
//! batch the thread was sending when it panicked is counted lost if its sending had not
//! begun, else as far as its counting got (its datagrams may go uncounted).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::ffi::os::SendErrorKind;
use crate::instance::MAX_EXPORTERS;
use crate::state::locked;
use crate::transport::pool::BufferPool;

use super::batch::{send, Pending, ThreadBatch};
use super::socket::{Connection, SocketKey, ThreadSocket, ThreadSockets};
use super::stats::{ExporterCounters, LossKind};
use super::BATCH;

/// Jobs (batches, reads of the ICMP errors) the queue holds: enough for the sender to
/// find the next batch ready when it finishes one, few enough to bound the buffers held.
pub const QUEUE_JOBS: usize = 8;

/// Workers waiting for room are woken when the queue is down to this many jobs, not at
/// every job done: a wake-up costs the sender a system call and the waking core an
/// interrupt: paid once per batch, it cost the sender a fifth of its throughput (VM,
/// loopback: 66 % of bare sendmmsg, 72 % batched, against 86 % and 80 % now);
/// the jobs left keep it busy while the worker wakes and fills the next batch.
const ROOM_AT: usize = 2;

/// A worker's batch, handed to the sender thread.
#[derive(Debug)]
struct Handoff {
    /// The worker's slot: the pool shard the buffers go back to, the socket cache.
    worker: u32,
    pending: Vec<Pending>,
    /// The sockets the worker added to its cache since its last handoff, in order.
    new_sockets: Vec<(SocketKey, Arc<Connection>)>,
}

#[derive(Debug)]
enum Job {
    Send(Handoff),
    /// Read the ICMP errors of one worker's sockets, or of all (a flush).
    ReadErrors(Option<u32>),
}

#[derive(Debug)]
struct Queue {
    /// With their numbers, from 1.
    jobs: VecDeque<(u64, Job)>,
    /// The number of the last job queued, and of the last done.
    queued: u64,
    done: u64,
    /// Emptied batches, for the workers' next ones.
    spare: Vec<Vec<Pending>>,
    /// The sender thread waits for a job: a new one must wake it.
    sender_idle: bool,
    /// Workers waiting for room, and for a job to be done (`sync`).
    waiting_for_room: u32,
    waiting_for_done: u32,
    stop: bool,
    /// The sender thread panicked: workers send themselves.
    dead: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// A job queued, or `stop`.
    work: Condvar,
    /// A job done, or the thread dead.
    progress: Condvar,
    /// The sender thread's, per exporter: written by it alone (by its panic path last).
    counters: Box<[ExporterCounters]>,
    pool: Arc<BufferPool>,
    /// The workers' slots.
    n_workers: usize,
    /// Tests: panic on the next batch, before sending it.
    #[cfg(test)]
    panic_next: std::sync::atomic::AtomicBool,
}

/// The sender thread of one `UdpSender`; dropping it sends what is queued, then stops
/// and joins the thread.
#[derive(Debug)]
pub(super) struct SenderThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The batch being sent, kept outside the sending code so a panic can account for it.
#[derive(Default)]
struct InFlight {
    job: Option<Handoff>,
    /// Its sending began: some of it may be counted already.
    sending: bool,
}

fn wait<'a>(c: &Condvar, q: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
    c.wait(q).unwrap_or_else(PoisonError::into_inner)
}

impl SenderThread {
    /// Starts the thread for workers `0..n_workers`, whose buffers go back to `pool`;
    /// `None` when it cannot be created (the caller then sends itself).
    pub(super) fn start(n_workers: usize, pool: Arc<BufferPool>) -> Option<Self> {
        // Workers hold one batch each; a handoff takes a spare when the queue has room,
        // and queued and in-flight batches number at most QUEUE_JOBS: one spare more
        // than that never runs out.
        let spare = (0..=QUEUE_JOBS)
            .map(|_| Vec::with_capacity(BATCH))
            .collect();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::with_capacity(QUEUE_JOBS),
                queued: 0,
                done: 0,
                spare,
                sender_idle: false,
                waiting_for_room: 0,
                waiting_for_done: 0,
                stop: false,
                dead: false,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            counters: (0..MAX_EXPORTERS)
                .map(|_| ExporterCounters::default())
                .collect(),
            pool,
            n_workers,
            #[cfg(test)]
            panic_next: Default::default(),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("vpp-ipfix-udp".into())
            .spawn(move || for_thread.run())
            .ok()?;
        Some(SenderThread {
            shared,
            thread: Some(thread),
        })
    }

    /// The thread's counters, per exporter.
    pub(super) fn counters(&self) -> &[ExporterCounters] {
        &self.shared.counters
    }

    /// Whether the thread still sends (it has not panicked).
    pub(super) fn is_alive(&self) -> bool {
        !locked(&self.shared.queue).dead
    }

    /// Hands worker `worker`'s batch (and the sockets it added since its last handoff)
    /// to the thread, leaving an empty batch in its place; waits while the queue is full.
    /// False when the thread is dead: nothing was taken, the caller sends the batch.
    pub(super) fn hand_off(&self, worker: u32, batch: &mut ThreadBatch) -> bool {
        let new_sockets = batch.sockets.take_new();
        let Some(mut q) = self.shared.room() else {
            return false;
        };
        let empty = q.spare.pop().unwrap_or_else(|| Vec::with_capacity(BATCH));
        let pending = std::mem::replace(&mut batch.pending, empty);
        self.shared.queue_job(
            &mut q,
            Job::Send(Handoff {
                worker,
                pending,
                new_sockets,
            }),
        );
        true
    }

    /// Waits until what was handed off before has been sent, and the ICMP errors of
    /// `worker`'s sockets (`None`: all) read. False when the thread is dead (what it had
    /// not sent is counted lost): the caller reads the errors itself.
    pub(super) fn sync(&self, worker: Option<u32>) -> bool {
        let Some(mut q) = self.shared.room() else {
            return false;
        };
        let ticket = self.shared.queue_job(&mut q, Job::ReadErrors(worker));
        q.waiting_for_done += 1;
        while q.done < ticket && !q.dead {
            q = wait(&self.shared.progress, q);
        }
        q.waiting_for_done -= 1;
        !q.dead
    }

    /// Tests: whether the thread has ended (it and this handle both let go of their
    /// shared state).
    #[cfg(test)]
    pub(super) fn gone(&self) -> impl Fn() -> bool {
        let shared = Arc::downgrade(&self.shared);
        move || shared.strong_count() == 0
    }

    /// Tests: the thread panics on the next batch, before sending it.
    #[cfg(test)]
    pub(super) fn panic_on_next_batch(&self) {
        let panic_next = &self.shared.panic_next;
        panic_next.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for SenderThread {
    fn drop(&mut self) {
        {
            let mut q = locked(&self.shared.queue);
            q.stop = true;
            self.shared.work.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            // The thread catches its panics: it returns.
            let _ = thread.join();
        }
    }
}

impl Shared {
    /// The queue with room for a job, once there is; `None` when the thread is dead.
    fn room(&self) -> Option<MutexGuard<'_, Queue>> {
        let mut q = locked(&self.queue);
        while q.jobs.len() >= QUEUE_JOBS && !q.dead {
            q.waiting_for_room += 1;
            q = wait(&self.progress, q);
            q.waiting_for_room -= 1;
        }
        (!q.dead).then_some(q)
    }

    /// Queues `job` (room checked); its number.
    fn queue_job(&self, q: &mut Queue, job: Job) -> u64 {
        q.queued += 1;
        let ticket = q.queued;
        q.jobs.push_back((ticket, job));
        if q.sender_idle {
            self.work.notify_one();
        }
        ticket
    }

    /// The thread's body: serves jobs until stopped; after a panic, the dead state.
    fn run(&self) {
        let mut in_flight = InFlight::default();
        let served = catch_unwind(AssertUnwindSafe(|| self.serve(&mut in_flight)));
        if served.is_err() {
            self.die(in_flight);
        }
    }

    /// Takes jobs in order and does them, until stopped with nothing left to do.
    fn serve(&self, in_flight: &mut InFlight) {
        // Each worker's sockets, as its own cache numbers them, with this thread's
        // rings: the thread that sends records.
        let mut caches: Vec<ThreadSockets> = (0..self.n_workers)
            .map(|_| ThreadSockets::default())
            .collect();
        loop {
            let (ticket, job) = {
                let mut q = locked(&self.queue);
                loop {
                    if let Some(next) = q.jobs.pop_front() {
                        break next;
                    }
                    if q.stop {
                        return;
                    }
                    q.sender_idle = true;
                    q = wait(&self.work, q);
                    q.sender_idle = false;
                }
            };
            let emptied = match job {
                Job::Send(handoff) => {
                    let InFlight { job, sending } = &mut *in_flight;
                    let h = job.insert(handoff);
                    *sending = false;
                    #[cfg(test)]
                    if self
                        .panic_next
                        .swap(false, std::sync::atomic::Ordering::Relaxed)
                    {
                        panic!("vpp-ipfix-udp: the panic a test asked for");
                    }
                    // A worker's index is below the slot count (`UdpSender::slot`).
                    let cache = &mut caches[h.worker as usize % self.n_workers.max(1)];
                    for (key, conn) in h.new_sockets.drain(..) {
                        cache.add(ThreadSocket::new(key, conn));
                    }
                    *sending = true;
                    send(&h.pending, cache, &self.counters);
                    self.pool
                        .give_back_all_on(h.worker, h.pending.drain(..).map(Pending::into_buf));
                    in_flight.job.take().map(|h| h.pending)
                }
                Job::ReadErrors(worker) => {
                    let read = |cache: &ThreadSockets| {
                        for s in cache.iter() {
                            s.conn.read_icmp_errors(&self.counters);
                        }
                    };
                    match worker {
                        Some(w) => read(&caches[w as usize % self.n_workers.max(1)]),
                        None => caches.iter().for_each(read),
                    }
                    None
                }
            };
            let mut q = locked(&self.queue);
            q.spare.extend(emptied);
            q.done = ticket;
            let room = q.waiting_for_room > 0 && q.jobs.len() <= ROOM_AT;
            if room || q.waiting_for_done > 0 {
                self.progress.notify_all();
            }
        }
    }

    /// After a panic: dead from now on; what was queued (and the batch in flight, unless
    /// its sending began) counted lost, the buffers back in the pool; every waiter woken.
    fn die(&self, in_flight: InFlight) {
        let mut q = locked(&self.queue);
        q.dead = true;
        let lost = |h: Handoff, count: bool| {
            if count {
                for p in &h.pending {
                    p.count_lost(&self.counters, LossKind::Error(SendErrorKind::Other));
                }
            }
            self.pool
                .give_back_all_on(h.worker, h.pending.into_iter().map(Pending::into_buf));
        };
        if let Some(h) = in_flight.job {
            lost(h, !in_flight.sending);
        }
        while let Some((_, job)) = q.jobs.pop_front() {
            if let Job::Send(h) = job {
                lost(h, true);
            }
        }
        q.done = q.queued;
        self.progress.notify_all();
    }
}
