//! Recycled packet buffers, so a warm exporter allocates nothing per packet.

use std::sync::{Mutex, MutexGuard};

use crate::ops::BufferHandle;
use crate::state::locked;
use crate::wire::PacketBuf;

/// Buffers of one size, handed out and taken back from any thread.
///
/// Kept in shards, one per thread that asks with its index (`take_on`, `give_back_on`),
/// each on cache lines of its own: two workers taking and returning a buffer per packet
/// never meet on one lock. A shard that runs dry takes from the others before a new
/// buffer is allocated, so buffers freed by one thread and needed by another are reused.
#[derive(Debug)]
pub struct BufferPool {
    size: u32,
    shards: Box<[Shard]>,
}

#[repr(align(128))]
#[derive(Debug, Default)]
struct Shard {
    free: Mutex<Vec<Box<[u8]>>>,
}

impl Shard {
    /// Only pushed to and popped from: a panic cannot leave it inconsistent.
    fn lock(&self) -> MutexGuard<'_, Vec<Box<[u8]>>> {
        locked(&self.free)
    }
}

impl BufferPool {
    /// A pool of `size`-byte buffers (at least 64 KiB is never needed: IPFIX over UDP
    /// stays under the path MTU), one shard.
    pub fn new(size: u32) -> Self {
        Self::with_shards(size, 1)
    }

    /// A pool of `size`-byte buffers with a shard for each of `n_shards` threads (at
    /// least one).
    pub fn with_shards(size: u32, n_shards: u32) -> Self {
        BufferPool {
            size,
            shards: (0..n_shards.max(1)).map(|_| Shard::default()).collect(),
        }
    }

    /// Size of every buffer.
    pub fn buffer_size(&self) -> u32 {
        self.size
    }

    /// A buffer of at least `min_capacity` bytes, or `None` when larger than the pool's.
    pub fn take(&self, min_capacity: u32) -> Option<(BufferHandle, PacketBuf)> {
        self.take_on(0, min_capacity)
    }

    /// Takes a buffer back for reuse.
    pub fn give_back(&self, buf: PacketBuf) {
        self.give_back_on(0, buf);
    }

    /// [`take`](Self::take) for thread `thread_index`: from its shard first.
    pub fn take_on(
        &self,
        thread_index: u32,
        min_capacity: u32,
    ) -> Option<(BufferHandle, PacketBuf)> {
        if min_capacity > self.size {
            return None;
        }
        let home = self.shard_index(thread_index);
        let mut recycled = self.shards[home].lock().pop();
        if recycled.is_none() && self.shards.len() > 1 {
            recycled = self
                .shards
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != home)
                .find_map(|(_, s)| s.lock().pop());
        }
        let bytes = recycled.unwrap_or_else(|| vec![0u8; self.size as usize].into_boxed_slice());
        let buf = PacketBuf::from_boxed(bytes);
        Some((BufferHandle(buf.as_ptr() as usize), buf))
    }

    /// [`give_back`](Self::give_back) to thread `thread_index`'s shard.
    pub fn give_back_on(&self, thread_index: u32, buf: PacketBuf) {
        if let Some(bytes) = self.reusable(buf) {
            self.shards[self.shard_index(thread_index)]
                .lock()
                .push(bytes);
        }
    }

    /// Gives back every buffer of `bufs` to thread `thread_index`'s shard, under one
    /// lock (a sent batch).
    pub fn give_back_all_on(&self, thread_index: u32, bufs: impl Iterator<Item = PacketBuf>) {
        let mut shard = self.shards[self.shard_index(thread_index)].lock();
        shard.extend(bufs.filter_map(|b| self.reusable(b)));
    }

    /// Buffers waiting for reuse, every shard.
    pub fn idle(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// The shard of `thread_index`: an index past the shards shares one.
    fn shard_index(&self, thread_index: u32) -> usize {
        let i = thread_index as usize;
        // Workers' indices are below the count: no division on the way.
        if i < self.shards.len() {
            i
        } else {
            i % self.shards.len()
        }
    }

    /// The allocation of `buf` when it is one of this pool's size (not embedder memory,
    /// not a one-off of another size).
    fn reusable(&self, buf: PacketBuf) -> Option<Box<[u8]>> {
        buf.into_boxed()
            .filter(|bytes| bytes.len() == self.size as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_recycled() {
        let pool = BufferPool::new(2048);
        let (_, a) = pool.take(512).unwrap();
        let first = a.as_ptr();
        pool.give_back(a);
        assert_eq!(pool.idle(), 1);
        let (_, b) = pool.take(1450).unwrap();
        assert_eq!(b.as_ptr(), first);
        assert!(pool.take(4096).is_none());
    }

    #[test]
    fn a_thread_takes_its_own_first_then_the_others() {
        let pool = BufferPool::with_shards(1024, 2);
        let (_, a) = pool.take_on(0, 100).unwrap();
        let (_, b) = pool.take_on(1, 100).unwrap();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        pool.give_back_on(0, a);
        pool.give_back_all_on(
            1,
            [b, PacketBuf::from_boxed(vec![0; 10].into())].into_iter(),
        );
        assert_eq!(pool.idle(), 2, "the odd-sized one is not kept");
        assert_eq!(pool.take_on(1, 100).unwrap().1.as_ptr(), pb);
        // Thread 1's shard is empty: it takes thread 0's buffer, not a new one.
        assert_eq!(pool.take_on(1, 100).unwrap().1.as_ptr(), pa);
        assert_eq!(pool.idle(), 0);
        // Past the shards: shared, still recycled.
        let (_, c) = pool.take_on(7, 100).unwrap();
        let pc = c.as_ptr();
        pool.give_back_on(7, c);
        assert_eq!(pool.take_on(3, 100).unwrap().1.as_ptr(), pc);
    }
}
