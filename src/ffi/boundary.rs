//! The panic boundary: one policy for every `extern "C"` function. A panic never unwinds
//! into C; the function returns `VPP_IPFIX_ERROR_PANIC`, NULL or zero instead.

/// What a function returns to C when its body panicked.
pub trait PanicDefault {
    fn panic_default() -> Self;
}

impl PanicDefault for i32 {
    fn panic_default() -> Self {
        crate::error::Error::VPP_IPFIX_ERROR_PANIC.code()
    }
}

impl PanicDefault for u32 {
    fn panic_default() -> Self {
        0
    }
}

impl PanicDefault for () {
    fn panic_default() -> Self {}
}

impl<T> PanicDefault for *mut T {
    fn panic_default() -> Self {
        std::ptr::null_mut()
    }
}

impl<T> PanicDefault for *const T {
    fn panic_default() -> Self {
        std::ptr::null()
    }
}

/// Runs the body with panics caught (used inside each `extern "C"` function, so that
/// cbindgen still sees the function).
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(v) => v,
            Err(_) => $crate::ffi::boundary::PanicDefault::panic_default(),
        }
    };
}

/// Turns a `Result<(), Error>` into the C return code.
pub fn code(r: crate::error::Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.code(),
    }
}

/// Writes `value` through an optional out-pointer.
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-null, and valid for writes by the caller's contract.
        unsafe { out.write(value) };
    }
}

/// Returns early from an `extern "C"` function with `VPP_IPFIX_ERROR_NULL_POINTER` when
/// any of the pointers is NULL.
macro_rules! check_not_null {
    ($($p:expr),+) => {
        if false $(|| $p.is_null())+ {
            return $crate::error::Error::VPP_IPFIX_ERROR_NULL_POINTER.code();
        }
    };
}

/// The value of a `Result`, or return its error's code from the enclosing function.
macro_rules! try_code {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $crate::error::Error::code(e),
        }
    };
}
