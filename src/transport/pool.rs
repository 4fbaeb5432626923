//! Recycled packet buffers, so a warm exporter allocates nothing per packet.

use std::sync::Mutex;

use crate::ops::BufferHandle;
use crate::wire::PacketBuf;

/// Buffers of one size, handed out and taken back from any thread.
#[derive(Debug)]
pub struct BufferPool {
    size: u32,
    free: Mutex<Vec<Box<[u8]>>>,
}

impl BufferPool {
    /// A pool of `size`-byte buffers (at least 64 KiB is never needed: IPFIX over UDP
    /// stays under the path MTU).
    pub fn new(size: u32) -> Self {
        BufferPool {
            size,
            free: Mutex::new(Vec::new()),
        }
    }

    /// Size of every buffer.
    pub fn buffer_size(&self) -> u32 {
        self.size
    }

    /// A buffer of at least `min_capacity` bytes, or `None` when larger than the pool's.
    pub fn take(&self, min_capacity: u32) -> Option<(BufferHandle, PacketBuf)> {
        if min_capacity > self.size {
            return None;
        }
        let recycled = self.free.lock().ok().and_then(|mut f| f.pop());
        let bytes = recycled.unwrap_or_else(|| vec![0u8; self.size as usize].into_boxed_slice());
        let buf = PacketBuf::from_boxed(bytes);
        Some((BufferHandle(buf.as_ptr() as usize), buf))
    }

    /// Takes a buffer back for reuse.
    pub fn give_back(&self, buf: PacketBuf) {
        if let Some(bytes) = buf.into_boxed() {
            if bytes.len() == self.size as usize {
                if let Ok(mut f) = self.free.lock() {
                    f.push(bytes);
                }
            }
        }
    }

    /// Buffers waiting for reuse.
    pub fn idle(&self) -> usize {
        self.free.lock().map_or(0, |f| f.len())
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
}
