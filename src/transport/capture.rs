//! An in-memory embedder: keeps every packet, with a clock the test sets and faults the
//! test injects (allocations that fail, packets refused).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::ops::{BufferHandle, Embedder, EnqueueRefused, Lost, PacketInfo};
use crate::transport::pool::BufferPool;
use crate::wire::PacketBuf;

/// A packet the capture took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedPacket {
    pub thread_index: u32,
    pub info: PacketInfo,
    pub bytes: Vec<u8>,
}

/// State shared between the capture handed to the core and the test that reads it.
#[derive(Debug)]
pub struct CaptureState {
    pool: BufferPool,
    packets: Mutex<Vec<CapturedPacket>>,
    /// Time in seconds since the epoch, as f64 bits.
    now_bits: AtomicU64,
    /// Allocations left before they start failing (`u64::MAX` = never fail).
    allocs_left: AtomicU64,
    refuse_enqueue: AtomicBool,
    /// Templates taken and then reported lost, as a UDP host does when a send fails
    /// after `enqueue` (every exporter's together).
    lose_templates: AtomicBool,
    templates_lost: AtomicU64,
    outstanding: AtomicU64,
}

/// An embedder that captures packets in memory. Clone it to keep a handle for reading.
#[derive(Clone, Debug)]
pub struct Capture(Arc<CaptureState>);

impl Capture {
    /// Buffers of 2048 bytes; the clock starts at `now`.
    pub fn new(now: f64) -> Self {
        Capture(Arc::new(CaptureState {
            pool: BufferPool::new(2048),
            packets: Mutex::new(Vec::new()),
            now_bits: AtomicU64::new(now.to_bits()),
            allocs_left: AtomicU64::new(u64::MAX),
            refuse_enqueue: AtomicBool::new(false),
            lose_templates: AtomicBool::new(false),
            templates_lost: AtomicU64::new(0),
            outstanding: AtomicU64::new(0),
        }))
    }

    /// Sets the clock.
    pub fn set_now(&self, now: f64) {
        self.0.now_bits.store(now.to_bits(), Relaxed);
    }

    /// Lets `n` more allocations succeed, then fails every one (`u64::MAX`: never fail).
    pub fn fail_allocs_after(&self, n: u64) {
        self.0.allocs_left.store(n, Relaxed);
    }

    /// Refuses (and frees) every packet from now on, or stops refusing.
    pub fn refuse_packets(&self, refuse: bool) {
        self.0.refuse_enqueue.store(refuse, Relaxed);
    }

    /// Takes template packets but reports them lost (`Embedder::lost`) and keeps none,
    /// or stops: a UDP send that fails after `enqueue` returned.
    pub fn lose_templates(&self, lose: bool) {
        self.0.lose_templates.store(lose, Relaxed);
    }

    /// Takes the packets captured so far.
    pub fn take_packets(&self) -> Vec<CapturedPacket> {
        self.0
            .packets
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    /// Buffers handed out and not yet returned (enqueued or freed).
    pub fn outstanding_buffers(&self) -> u64 {
        self.0.outstanding.load(Relaxed)
    }
}

impl Embedder for Capture {
    fn buffer_alloc(
        &self,
        _thread_index: u32,
        min_capacity: u32,
    ) -> Option<(BufferHandle, PacketBuf)> {
        let left = self.0.allocs_left.load(Relaxed);
        if left == 0 {
            return None;
        }
        if left != u64::MAX {
            self.0.allocs_left.store(left - 1, Relaxed);
        }
        let got = self.0.pool.take(min_capacity)?;
        self.0.outstanding.fetch_add(1, Relaxed);
        Some(got)
    }

    fn buffer_free(&self, _thread_index: u32, _handle: BufferHandle, packet: PacketBuf) {
        self.0.outstanding.fetch_sub(1, Relaxed);
        self.0.pool.give_back(packet);
    }

    fn enqueue(
        &self,
        thread_index: u32,
        _handle: BufferHandle,
        packet: PacketBuf,
        info: &PacketInfo,
    ) -> Result<(), EnqueueRefused> {
        self.0.outstanding.fetch_sub(1, Relaxed);
        if self.0.refuse_enqueue.load(Relaxed) {
            self.0.pool.give_back(packet);
            return Err(EnqueueRefused);
        }
        if info.is_template && self.0.lose_templates.load(Relaxed) {
            self.0.pool.give_back(packet);
            self.0.templates_lost.fetch_add(1, Relaxed);
            return Ok(());
        }
        let bytes = packet.bytes()[..info.length as usize].to_vec();
        self.0.pool.give_back(packet);
        if let Ok(mut p) = self.0.packets.lock() {
            p.push(CapturedPacket {
                thread_index,
                info: *info,
                bytes,
            });
        }
        Ok(())
    }

    fn now(&self) -> f64 {
        f64::from_bits(self.0.now_bits.load(Relaxed))
    }

    fn lost(&self, _exporter_index: u32) -> Lost {
        Lost {
            templates: self.0.templates_lost.load(Relaxed),
            ..Lost::default()
        }
    }
}
