//! The C ABI: every `extern "C"` function, each inside `ffi_fn!`, which catches panics and
//! turns them into `VPP_IPFIX_ERROR_PANIC` (or NULL). Arguments are checked here; the core
//! never sees a raw pointer from C.

// Functions called from C cannot be `unsafe fn` in any way that helps C; each checks its
// pointers for NULL and documents what else it trusts in the header.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

#[macro_use]
mod boundary;
pub mod c_ops;
pub mod datapath;
pub mod exporter;
pub mod instance;
pub mod os;
pub mod report;
pub mod thread_cache;
mod threads;
pub mod timer;
mod zeroable;
