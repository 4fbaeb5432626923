//! VPP's vector memory layout, for the arrays C callers reach through struct fields:
//! `exp->reports`, `exp->streams` and the exporters pool. VPP code reads their length
//! with `vec_len` (a `u32` just before the data) and may grow them with `vec_validate`
//! (flowprobe does, on `exp->streams`), so inside VPP their memory must come from VPP's
//! allocator. The memory is therefore the host's (`VecMemory`); the library's default
//! lays out the same header in memory of its own.
//!
//! Layout, as VPP's `_vec_alloc_internal` makes it: `[user header][padding]
//! [vec_header_t: u32 len, u8 hdr_size, u8 log2_align/default_heap, u8 grow_elts, u8 pad]
//! [elements]`, the data aligned to `max(align, 8)` and `hdr_size` the bytes before the
//! data divided by 8.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Bytes of VPP's `vec_header_t`.
pub const VEC_HEADER_LEN: usize = 8;
/// VPP's `VEC_MIN_ALIGN`.
const VEC_MIN_ALIGN: usize = 8;
/// Where every vector's data starts: a multiple of two cache lines (adjacent-line
/// prefetch pairs them).
pub const VECTOR_DATA_ALIGN: usize = 128;
/// Bytes of VPP's `pool_header_t` (free bitmap, free indices, max_elts, opaque): the user
/// header of a pool.
pub const POOL_HEADER_LEN: u32 = 24;

/// The shape of a vector's elements and header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VecShape {
    /// Bytes per element.
    pub elt_size: u32,
    /// Alignment of the data.
    pub align: u32,
    /// Bytes of user header before `vec_header_t` (0, or `POOL_HEADER_LEN` for a pool).
    pub header_bytes: u32,
}

impl VecShape {
    /// The shape of a vector of `T` with `header_bytes` of user header. The data starts
    /// on its own pair of cache lines, so two vectors never share one: each exporter's
    /// stream sequence numbers, written by every packet, stay apart from the others'.
    pub fn of<T>(header_bytes: u32) -> VecShape {
        VecShape {
            elt_size: size_of::<T>() as u32,
            align: align_of::<T>().max(VECTOR_DATA_ALIGN) as u32,
            header_bytes,
        }
    }

    /// Bytes from the start of the allocation to the data (VPP's `hdr_size * 8`).
    fn data_offset(&self) -> usize {
        let hdr = (self.header_bytes as usize).next_multiple_of(VEC_MIN_ALIGN) + VEC_HEADER_LEN;
        hdr.next_multiple_of(self.data_align())
    }

    fn data_align(&self) -> usize {
        (self.align as usize).max(VEC_MIN_ALIGN)
    }
}

/// Where vectors' memory comes from: VPP's heap inside VPP, the global allocator
/// otherwise.
pub trait VecMemory: Send + Sync {
    /// Resizes `vec` to `new_len` elements, zeroing new elements (and the header of a new
    /// vector); `vec` null allocates. Returns the data pointer, null on failure with `vec`
    /// untouched.
    ///
    /// # Safety
    /// `vec` is null or a data pointer this memory returned for the same `shape` and has
    /// not freed; nothing else uses the vector during the call.
    unsafe fn resize(&self, vec: *mut u8, new_len: u32, shape: VecShape) -> *mut u8;

    /// Frees a vector.
    ///
    /// # Safety
    /// As for `resize`; `vec` is not used afterwards.
    unsafe fn free(&self, vec: *mut u8, shape: VecShape);
}

/// The library's own vector memory, from the global allocator, exactly sized.
#[derive(Debug, Default)]
pub struct RustVecMemory;

fn alloc_layout(shape: VecShape, len: usize) -> Option<Layout> {
    let bytes = shape
        .data_offset()
        .checked_add(len.checked_mul(shape.elt_size as usize)?)?;
    Layout::from_size_align(bytes, shape.data_align()).ok()
}

/// The length a vector's header holds.
///
/// # Safety
/// `vec` is a live, non-null vector data pointer.
unsafe fn header_len(vec: *const u8) -> usize {
    // SAFETY: the caller's vector has its 8-byte header right before the data, its
    // length first; the data is 8-aligned, so the header is 4-aligned.
    unsafe { ptr::read(vec.sub(VEC_HEADER_LEN).cast::<u32>()) as usize }
}

impl VecMemory for RustVecMemory {
    unsafe fn resize(&self, vec: *mut u8, new_len: u32, shape: VecShape) -> *mut u8 {
        let new_len = new_len as usize;
        let Some(new_layout) = alloc_layout(shape, new_len) else {
            return ptr::null_mut();
        };
        let offset = shape.data_offset();
        let (base, old_len) = if vec.is_null() {
            // SAFETY: the layout has a non-zero size (the header).
            let base = unsafe { alloc::alloc_zeroed(new_layout) };
            (base, 0)
        } else {
            // SAFETY: the caller passes one of our vectors: its allocation starts
            // `offset` bytes before the data and was made with the layout of its length.
            unsafe {
                let old_len = header_len(vec);
                let old_layout = alloc_layout(shape, old_len).expect("layout was valid");
                let base = alloc::realloc(vec.sub(offset), old_layout, new_layout.size());
                (base, old_len)
            }
        };
        if base.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: `base` holds `offset + new_len * elt_size` bytes: the header sits in the
        // first `offset`, new elements after the old ones.
        unsafe {
            let data = base.add(offset);
            if new_len > old_len {
                let elt = shape.elt_size as usize;
                ptr::write_bytes(data.add(old_len * elt), 0, (new_len - old_len) * elt);
            }
            let header = data.sub(VEC_HEADER_LEN);
            ptr::write(header.cast::<u32>(), new_len as u32);
            *header.add(4) = (offset / VEC_MIN_ALIGN) as u8;
            *header.add(5) = shape.data_align().trailing_zeros() as u8;
            data
        }
    }

    unsafe fn free(&self, vec: *mut u8, shape: VecShape) {
        // SAFETY: as in `resize`: the allocation starts `offset` bytes before the data,
        // with the layout of the header's length.
        unsafe {
            let layout = alloc_layout(shape, header_len(vec)).expect("layout was valid");
            alloc::dealloc(vec.sub(shape.data_offset()), layout);
        }
    }
}

/// Types whose all-zero bytes are a valid value and that need no drop: what a vector's
/// new elements are before the library writes them.
///
/// # Safety
/// Implement only for such types.
pub unsafe trait Zeroable {}

/// Allocation failed (the host's or ours).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VecAllocError;

/// A vector in VPP's layout, seen by C as a plain `T *` (NULL when never allocated).
/// The pointer is atomic so the structs holding it are shared between threads without
/// `unsafe`; it changes only through `&mut` (configuration), or by C code growing it.
#[repr(transparent)]
#[derive(Debug)]
pub struct VppVec<T> {
    data: AtomicPtr<T>,
    _owns: PhantomData<T>,
}

impl<T> Default for VppVec<T> {
    fn default() -> Self {
        VppVec {
            data: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }
}

impl<T: Zeroable> VppVec<T> {
    /// The data pointer C sees (null when never allocated).
    pub fn as_ptr(&self) -> *mut T {
        self.data.load(Ordering::Relaxed)
    }

    /// Elements in the vector (VPP's `vec_len`).
    pub fn len(&self) -> usize {
        let p = self.as_ptr();
        if p.is_null() {
            0
        } else {
            // SAFETY: a non-null pointer here is a live vector (the type's invariant).
            unsafe { header_len(p.cast()) }
        }
    }

    /// True when the vector holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        let p = self.as_ptr();
        if p.is_null() {
            return &[];
        }
        // SAFETY: a live vector holds `len` initialised elements (zeroed or written, and
        // `Zeroable` makes zero valid), aligned; they change only through `&mut self`.
        unsafe { std::slice::from_raw_parts(p, header_len(p.cast())) }
    }

    /// The elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        let p = self.as_ptr();
        if p.is_null() {
            return &mut [];
        }
        // SAFETY: as `as_slice`, and `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(p, header_len(p.cast())) }
    }

    /// Resizes to `new_len` elements; new ones are zero.
    pub fn resize(
        &mut self,
        new_len: usize,
        mem: &dyn VecMemory,
        header_bytes: u32,
    ) -> Result<(), VecAllocError> {
        let len = u32::try_from(new_len).map_err(|_| VecAllocError)?;
        // SAFETY: the pointer is null or a live vector of this shape from `mem` (every
        // vector of a struct is made and resized by the same host memory).
        let p = unsafe { mem.resize(self.as_ptr().cast(), len, VecShape::of::<T>(header_bytes)) };
        if p.is_null() {
            return Err(VecAllocError);
        }
        *self.data.get_mut() = p.cast();
        Ok(())
    }

    /// Appends `value`; returns its index.
    pub fn push(&mut self, value: T, mem: &dyn VecMemory) -> Result<usize, VecAllocError> {
        let i = self.len();
        self.resize(i + 1, mem, 0)?;
        self.as_mut_slice()[i] = value;
        Ok(i)
    }

    /// Removes element `i`, shifting the ones after it down (VPP's `vec_delete`).
    /// Shrinking never fails: when the host cannot reallocate, the memory stays as big.
    pub fn remove(&mut self, i: usize, mem: &dyn VecMemory) -> T {
        let len = self.len();
        assert!(i < len, "remove index {i} out of {len}");
        let p = self.as_ptr();
        // SAFETY: `i < len`: element `i` is read out (T needs no drop, so the shifted
        // copy over it is the only owner left), then the tail moves down by one.
        let value = unsafe {
            let value = ptr::read(p.add(i));
            ptr::copy(p.add(i + 1), p.add(i), len - i - 1);
            value
        };
        if self.resize(len - 1, mem, 0).is_err() {
            // SAFETY: the vector is live and holds at least `len - 1` elements.
            unsafe {
                ptr::write(
                    p.cast::<u8>().sub(VEC_HEADER_LEN).cast::<u32>(),
                    (len - 1) as u32,
                )
            };
        }
        value
    }

    /// Puts `new` in place of this vector through a shared reference, and returns the
    /// one it held (the caller frees it): for a vector C only reads, rebuilt beside
    /// readers of the struct holding it (a report's template packet).
    pub fn replace(&self, new: VppVec<T>) -> VppVec<T> {
        let old = self.data.swap(new.data.into_inner(), Ordering::AcqRel);
        VppVec {
            data: AtomicPtr::new(old),
            _owns: PhantomData,
        }
    }

    /// Frees the memory; the vector is null afterwards.
    pub fn free(&mut self, mem: &dyn VecMemory, header_bytes: u32) {
        let p = std::mem::replace(self.data.get_mut(), ptr::null_mut());
        if !p.is_null() {
            // SAFETY: a live vector of this shape from `mem`, not used again (now null).
            unsafe { mem.free(p.cast(), VecShape::of::<T>(header_bytes)) };
        }
    }
}

impl<T: Zeroable> std::ops::Deref for VppVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Zeroable> std::ops::DerefMut for VppVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Clone, Copy, PartialEq)]
    #[repr(C)]
    struct Pair {
        a: u32,
        b: u64,
    }
    // SAFETY: plain integers.
    unsafe impl Zeroable for Pair {}

    fn header(v: &VppVec<Pair>) -> [u8; 8] {
        let p = v.as_ptr().cast::<u8>();
        // SAFETY: a live vector has 8 header bytes before its data.
        unsafe { *p.sub(8).cast::<[u8; 8]>() }
    }

    #[test]
    fn push_remove_keep_the_vpp_header() {
        let mem = RustVecMemory;
        let mut v = VppVec::<Pair>::default();
        assert_eq!((v.len(), v.as_slice()), (0, &[][..]));
        for i in 0..5 {
            assert_eq!(
                v.push(
                    Pair {
                        a: i,
                        b: 10 + u64::from(i)
                    },
                    &mem
                ),
                Ok(i as usize)
            );
        }
        assert_eq!(v.len(), 5);
        let h = header(&v);
        assert_eq!(u32::from_ne_bytes([h[0], h[1], h[2], h[3]]), 5);
        assert_eq!((h[4], h[5]), (16, 7), "hdr_size 128/8, log2 align 7");
        assert_eq!(v.as_ptr() as usize % VECTOR_DATA_ALIGN, 0);
        assert_eq!(v.remove(1, &mem), Pair { a: 1, b: 11 });
        let a: Vec<u32> = v.as_slice().iter().map(|p| p.a).collect();
        assert_eq!(a, [0, 2, 3, 4]);
        assert_eq!(u32::from_ne_bytes(header(&v)[..4].try_into().unwrap()), 4);
        v.resize(6, &mem, 0).unwrap();
        assert_eq!(v.as_slice()[5], Pair::default(), "new elements are zero");
        v.free(&mem, 0);
        assert!(v.as_ptr().is_null());
    }

    #[test]
    fn pool_header_comes_before_the_vector_header() {
        let mem = RustVecMemory;
        let mut v = VppVec::<Pair>::default();
        v.resize(3, &mem, POOL_HEADER_LEN).unwrap();
        let p = v.as_ptr().cast::<u8>();
        // SAFETY: 128 header bytes (24 pool, padding, 8 vector) sit before the data.
        let pool = unsafe { *p.sub(128).cast::<[u8; 24]>() };
        assert_eq!(pool, [0; 24], "empty free bitmap and free indices");
        assert_eq!(
            header(&v)[4],
            16,
            "hdr_size counts the pool header and padding"
        );
        v.free(&mem, POOL_HEADER_LEN);
    }

    #[test]
    fn data_is_aligned_for_wide_elements() {
        #[repr(C, align(128))]
        struct Wide([u8; 128]);
        // SAFETY: bytes.
        unsafe impl Zeroable for Wide {}
        let mem = RustVecMemory;
        let mut v = VppVec::<Wide>::default();
        v.resize(2, &mem, 0).unwrap();
        assert_eq!(v.as_ptr() as usize % 128, 0);
        assert_eq!(v.len(), 2);
        v.free(&mem, 0);
    }
}
