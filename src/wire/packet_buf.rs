//! The one place raw packet memory (an embedder's buffer, or a boxed slice) becomes a Rust slice.
#![deny(clippy::undocumented_unsafe_blocks)]

use core::ptr;
use core::{mem::ManuallyDrop, slice};

/// A unique handle to a packet buffer of `capacity` bytes: embedder memory
/// handed over as (pointer, capacity), such as a VPP vlib buffer's data
/// area, or a boxed slice a Rust transport allocated. `#[repr(C)]` because it
/// sits inside the C-visible per-thread state; a null `data` is the empty
/// handle ([`PacketBuf::empty`]), which owns nothing and has no bytes.
///
/// Invariant: unless empty, `data` is valid for reads and writes of
/// `capacity` bytes, and nothing else accesses that memory while this handle
/// exists (except through [`PacketBuf::as_ptr`] under the caller's own
/// `unsafe`). When `owned` is non-zero, `data`/`capacity` are exactly a
/// leaked `Box<[u8]>`.
///
/// Not `Copy` or `Clone`: a copy would be a second owner of the memory.
/// `Debug` shows the pointer and sizes, not the contents.
#[repr(C)]
#[derive(Debug)]
pub struct PacketBuf {
    data: *mut u8,
    capacity: u32,
    owned: u32,
}

// SAFETY: a PacketBuf is the unique handle to its memory (the `from_raw`
// contract, or ownership of the leaked box), holds no thread-affine state,
// and only hands out borrows tied to itself; moving it to another thread
// moves that exclusive access with it, as for a `Box<[u8]>`.
unsafe impl Send for PacketBuf {}

// SAFETY: a shared `&PacketBuf` only reads (`bytes`, `capacity`, `as_ptr`); writing
// needs `&mut`. So sharing it between threads is like sharing a `&[u8]`.
unsafe impl Sync for PacketBuf {}

impl Default for PacketBuf {
    fn default() -> Self {
        PacketBuf::empty()
    }
}

impl PacketBuf {
    /// The handle to no buffer.
    #[must_use]
    pub const fn empty() -> PacketBuf {
        PacketBuf {
            data: ptr::null_mut(),
            capacity: 0,
            owned: 0,
        }
    }

    /// True for the handle to no buffer.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.data.is_null()
    }

    /// Wraps embedder memory. Returns `None` for a null `data`. The memory
    /// is never freed through the returned handle.
    ///
    /// # Safety
    ///
    /// For as long as the returned `PacketBuf` exists:
    /// - `data` must be valid for reads and writes of `capacity` bytes
    ///   (one allocation, so `capacity` is at most `isize::MAX`);
    /// - the memory must not be read or written through any other pointer
    ///   or reference while the `PacketBuf`, or a slice borrowed from it,
    ///   is in use (the embedder hands it over exclusively);
    /// - the memory must stay allocated: the embedder frees it only after
    ///   the `PacketBuf` is gone.
    #[must_use]
    pub unsafe fn from_raw(data: *mut u8, capacity: u32) -> Option<PacketBuf> {
        (!data.is_null()).then_some(PacketBuf {
            data,
            capacity,
            owned: 0,
        })
    }

    /// Takes ownership of a boxed slice; it is freed when the `PacketBuf`
    /// is dropped, or handed back by [`into_boxed`](Self::into_boxed).
    /// A box longer than `u32::MAX` bytes is cut to that length (packets are
    /// at most 64 KiB, so this never happens in use).
    #[must_use]
    pub fn from_boxed(bytes: Box<[u8]>) -> PacketBuf {
        let bytes = if bytes.len() > u32::MAX as usize {
            let mut v = bytes.into_vec();
            v.truncate(u32::MAX as usize);
            v.into_boxed_slice()
        } else {
            bytes
        };
        let capacity = bytes.len() as u32;
        // Leaking hands the allocation to this handle; `Drop` or
        // `into_boxed` rebuild the box from pointer and capacity.
        let data = Box::leak(bytes).as_mut_ptr();
        PacketBuf {
            data,
            capacity,
            owned: 1,
        }
    }

    /// Returns the boxed slice this buffer was made from by
    /// [`from_boxed`](Self::from_boxed). `None` for embedder memory
    /// ([`from_raw`](Self::from_raw)), which was never ours to return, and
    /// for the empty handle; the handle is consumed either way.
    #[must_use]
    pub fn into_boxed(self) -> Option<Box<[u8]>> {
        // Not dropped: ownership of a boxed allocation moves to the result.
        let this = ManuallyDrop::new(self);
        if this.owned == 0 || this.data.is_null() {
            return None;
        }
        // SAFETY: `owned` is only set by `from_boxed`, from the pointer and
        // length of a leaked `Box<[u8]>`; the allocation has not been freed
        // (Drop never ran: `this` is ManuallyDrop and `self` was consumed),
        // so rebuilding the box once here is sound.
        Some(unsafe { rebuild_box(this.data, this.capacity as usize) })
    }

    /// Usable bytes.
    #[must_use]
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Start of the buffer, for handing back to the embedder. Accessing
    /// memory through it while a slice from [`bytes`](Self::bytes) or
    /// [`bytes_mut`](Self::bytes_mut) is alive is undefined behaviour.
    #[must_use]
    pub fn as_ptr(&self) -> *mut u8 {
        self.data
    }

    /// The whole capacity, for reading (empty for the empty handle).
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        if self.data.is_null() {
            return &[];
        }
        // SAFETY: the type invariant (from `from_raw`'s contract, or a live
        // boxed allocation of `capacity` bytes): `data` is non-null, valid
        // for reads of `capacity` bytes (<= isize::MAX as one allocation),
        // u8 needs no alignment, and the memory is not written elsewhere
        // while `&self` is borrowed.
        unsafe { slice::from_raw_parts(self.data, self.len()) }
    }

    /// The whole capacity, for writing (empty for the empty handle).
    #[must_use]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        if self.data.is_null() {
            return &mut [];
        }
        // SAFETY: as in `bytes`, plus validity for writes; `&mut self`
        // makes this the only live slice into the memory.
        unsafe { slice::from_raw_parts_mut(self.data, self.len()) }
    }

    fn len(&self) -> usize {
        // Lossless on the 32- and 64-bit targets packet I/O runs on.
        self.capacity as usize
    }
}

impl Drop for PacketBuf {
    /// One test for the embedder memory and empty handles of the hot path (nothing to
    /// free); the boxed buffers of tests and the UDP host are freed out of line.
    #[inline]
    fn drop(&mut self) {
        if self.owned != 0 {
            self.free_boxed();
        }
    }
}

impl PacketBuf {
    #[cold]
    #[inline(never)]
    fn free_boxed(&mut self) {
        if !self.data.is_null() {
            // SAFETY: as in `into_boxed`: pointer and length of a leaked
            // `Box<[u8]>` (`owned` is set only by `from_boxed`), not yet freed
            // (`into_boxed` skips this Drop), and rebuilt exactly once, here.
            drop(unsafe { rebuild_box(self.data, self.capacity as usize) });
        }
    }
}

/// Rebuilds a box leaked by `from_boxed`.
///
/// # Safety
///
/// `data` and `len` must be the pointer and length of a `Box<[u8]>` that
/// was leaked and not yet rebuilt; the result owns the allocation.
unsafe fn rebuild_box(data: *mut u8, len: usize) -> Box<[u8]> {
    let raw = ptr::slice_from_raw_parts_mut(data, len);
    // SAFETY: per this function's contract `raw` is exactly the pointer
    // `Box::leak` returned for a `Box<[u8]>` (same address and length,
    // global allocator, `[u8]` layout), and ownership passes back to the box
    // only once.
    unsafe { Box::from_raw(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts bytes allocated and not yet freed, per thread, so a test can
    /// see that dropping a buffer freed it without other tests' noise.
    struct CountingAlloc;

    thread_local! {
        static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    }

    fn track(delta: isize) {
        // `try_with`: the slot may be gone while a thread shuts down.
        let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + delta));
    }

    fn live_bytes() -> isize {
        LIVE_BYTES.with(Cell::get)
    }

    // SAFETY: defers every allocation to `System` unchanged; the
    // bookkeeping neither allocates nor touches the memory.
    unsafe impl GlobalAlloc for CountingAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: caller upholds `GlobalAlloc::alloc`'s contract, which
            // we forward as is.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                track(layout.size() as isize);
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            track(-(layout.size() as isize));
            // SAFETY: `ptr` came from `System` via `alloc` above, with
            // this `layout` (caller's contract).
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOC: CountingAlloc = CountingAlloc;

    #[test]
    fn boxed_round_trip() {
        let original: Box<[u8]> = (0u8..=99).collect();
        let mut buf = PacketBuf::from_boxed(original);
        assert_eq!(buf.capacity(), 100);
        assert_eq!(buf.bytes()[42], 42);
        buf.bytes_mut()[0] = 0xee;
        let back = buf.into_boxed().unwrap();
        assert_eq!(back.len(), 100);
        assert_eq!(back[0], 0xee);
        assert_eq!(back[99], 99);
    }

    #[test]
    fn empty_box_round_trip() {
        let buf = PacketBuf::from_boxed(Box::new([]));
        assert_eq!(buf.capacity(), 0);
        assert!(buf.bytes().is_empty());
        assert_eq!(buf.into_boxed().unwrap().len(), 0);
    }

    #[test]
    fn empty_handle_has_no_bytes_and_frees_nothing() {
        let mut buf = PacketBuf::empty();
        assert!(buf.is_empty());
        assert!(buf.bytes_mut().is_empty());
        assert!(buf.into_boxed().is_none());
    }

    #[test]
    fn from_raw_null_is_none() {
        // SAFETY: a null pointer is rejected before any access.
        assert!(unsafe { PacketBuf::from_raw(ptr::null_mut(), 2048) }.is_none());
    }

    #[test]
    fn raw_buffer_writes_visible_through_pointer() {
        let mut memory = [0u8; 64];
        let base = memory.as_mut_ptr();
        // SAFETY: `memory` outlives `buf` and is only touched through it
        // until the raw read below, after the last slice borrow ended.
        let mut buf = unsafe { PacketBuf::from_raw(base, 64) }.unwrap();
        assert_eq!(buf.as_ptr(), base);
        assert_eq!(buf.capacity(), 64);
        buf.bytes_mut()[..4].copy_from_slice(&[0x45, 0x00, 0x05, 0xdc]);
        buf.bytes_mut()[63] = 0x7f;
        let ptr = buf.as_ptr();
        // SAFETY: offsets 0..4 and 63 are within the 64 valid bytes, and no
        // slice from `buf` is alive.
        let (b0, b3, b63) = unsafe { (ptr.read(), ptr.add(3).read(), ptr.add(63).read()) };
        assert_eq!((b0, b3, b63), (0x45, 0xdc, 0x7f));
        assert_eq!(buf.bytes()[2], 0x05);
        // Raw buffers are not ours to return, and dropping them frees
        // nothing (the stack array is still usable afterwards).
        assert!(buf.into_boxed().is_none());
        assert_eq!(memory[0], 0x45);
    }

    #[test]
    fn drop_frees_owned_buffer() {
        let before = live_bytes();
        let buf = PacketBuf::from_boxed(vec![0u8; 4096].into_boxed_slice());
        assert!(live_bytes() >= before + 4096);
        drop(buf);
        assert_eq!(live_bytes(), before);
    }

    #[test]
    fn into_boxed_transfers_without_freeing() {
        let before = live_bytes();
        let buf = PacketBuf::from_boxed(vec![7u8; 1500].into_boxed_slice());
        let boxed = buf.into_boxed().unwrap();
        assert!(live_bytes() >= before + 1500, "still allocated");
        drop(boxed);
        assert_eq!(live_bytes(), before);
    }

    #[test]
    fn send_to_another_thread() {
        let mut buf = PacketBuf::from_boxed(vec![0u8; 16].into_boxed_slice());
        buf.bytes_mut()[0] = 1;
        let back = std::thread::spawn(move || {
            buf.bytes_mut()[1] = 2;
            buf
        })
        .join()
        .unwrap();
        assert_eq!(&back.bytes()[..3], &[1, 2, 0]);
    }

    #[test]
    fn debug_shows_metadata_only() {
        let buf = PacketBuf::from_boxed(vec![0u8; 8].into_boxed_slice());
        let text = format!("{buf:?}");
        assert!(text.contains("capacity: 8"));
        assert!(text.contains("owned: 1"));
    }
}
