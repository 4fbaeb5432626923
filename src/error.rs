//! The one error type, with stable numbers: VPP's `VNET_API_ERROR_*` where VPP has one,
//! our own below -1000 where it has none.

#![allow(non_camel_case_types)]

use std::ffi::CStr;
use std::fmt;

/// Every error the library returns. The numbers cross the C ABI as `int` and never change.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum vpp_ipfix_error_t {
    /// Success.
    VPP_IPFIX_OK = 0,
    /// No such entry: unknown report, exporter or stream (VPP's `NO_SUCH_ENTRY`, -6).
    VPP_IPFIX_ERROR_NO_SUCH_ENTRY = -6,
    /// Invalid value: conflicting stream keys, out-of-range settings, no free exporter
    /// (VPP's `INVALID_VALUE`, -7).
    VPP_IPFIX_ERROR_INVALID_VALUE = -7,
    /// A required argument is missing or malformed (VPP's `INVALID_ARGUMENT`, -73).
    VPP_IPFIX_ERROR_INVALID_ARGUMENT = -73,
    /// The report already exists (VPP's `VALUE_EXIST`, -81).
    VPP_IPFIX_ERROR_VALUE_EXIST = -81,
    /// Thread index at or past the thread count (VPP's `INVALID_WORKER`, -89).
    VPP_IPFIX_ERROR_INVALID_WORKER = -89,
    /// Collector and source of different address families (VPP's
    /// `INVALID_ADDRESS_FAMILY`, -97).
    VPP_IPFIX_ERROR_INVALID_ADDRESS_FAMILY = -97,
    /// The exporter has no collector: nothing can be sent (VPP's `FEATURE_DISABLED`, -30).
    VPP_IPFIX_ERROR_EXPORTER_DISABLED = -30,
    /// A NULL pointer where one is required.
    VPP_IPFIX_ERROR_NULL_POINTER = -1001,
    /// The embedder could not allocate a packet buffer (counted per report and exporter).
    VPP_IPFIX_ERROR_NO_BUFFER = -1002,
    /// A record larger than the path MTU leaves room for.
    VPP_IPFIX_ERROR_RECORD_TOO_BIG = -1003,
    /// A template that does not fit the path MTU (or 65535 bytes).
    VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG = -1004,
    /// The embedder refused a finished packet (counted as dropped).
    VPP_IPFIX_ERROR_ENQUEUE_FAILED = -1005,
    /// The embedder handed back a buffer smaller than the packet needs.
    VPP_IPFIX_ERROR_BUFFER_TOO_SMALL = -1006,
    /// Memory for the library's own state could not be allocated.
    VPP_IPFIX_ERROR_NO_MEMORY = -1007,
    /// A configuration call while a thread is inside a per-thread call: the barrier rule
    /// broken (detected in debug builds only).
    VPP_IPFIX_ERROR_BUSY = -1008,
    /// The background timer runs: a call that leaves the thread's packet to the caller
    /// to write into (`vpp_ipfix_record_reserve`, `vpp_ipfix_buffer_get`) could race it;
    /// copy records in with `vpp_ipfix_record_append` instead.
    VPP_IPFIX_ERROR_TIMER_RUNNING = -1009,
    /// A panic inside the library was caught at the C boundary; the call had no effect
    /// that can be relied on. Please report it.
    VPP_IPFIX_ERROR_PANIC = -1099,
}

pub use vpp_ipfix_error_t as Error;

/// Result of the library's fallible operations.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A short English description, stable enough to show to operators.
    pub fn message(self) -> &'static str {
        self.c_message().to_str().unwrap_or("unknown error")
    }

    /// The same description, NUL-terminated for C.
    pub fn c_message(self) -> &'static CStr {
        use vpp_ipfix_error_t::*;
        match self {
            VPP_IPFIX_OK => c"success",
            VPP_IPFIX_ERROR_NO_SUCH_ENTRY => c"no such entry",
            VPP_IPFIX_ERROR_INVALID_VALUE => c"invalid value",
            VPP_IPFIX_ERROR_INVALID_ARGUMENT => c"invalid argument",
            VPP_IPFIX_ERROR_VALUE_EXIST => c"value already exists",
            VPP_IPFIX_ERROR_INVALID_WORKER => c"invalid worker thread",
            VPP_IPFIX_ERROR_INVALID_ADDRESS_FAMILY => {
                c"collector and source address families differ"
            }
            VPP_IPFIX_ERROR_EXPORTER_DISABLED => c"exporter has no collector",
            VPP_IPFIX_ERROR_NULL_POINTER => c"null pointer argument",
            VPP_IPFIX_ERROR_NO_BUFFER => c"packet buffer allocation failed",
            VPP_IPFIX_ERROR_RECORD_TOO_BIG => c"record does not fit the path MTU",
            VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG => c"template does not fit the path MTU",
            VPP_IPFIX_ERROR_ENQUEUE_FAILED => c"embedder refused the packet",
            VPP_IPFIX_ERROR_BUFFER_TOO_SMALL => c"embedder buffer smaller than the packet",
            VPP_IPFIX_ERROR_NO_MEMORY => c"out of memory",
            VPP_IPFIX_ERROR_BUSY => c"configuration while workers export (barrier not held)",
            VPP_IPFIX_ERROR_TIMER_RUNNING => {
                c"the background timer runs: append records instead of writing into the packet"
            }
            VPP_IPFIX_ERROR_PANIC => c"internal error (panic caught)",
        }
    }

    /// The number that crosses the C ABI.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The error with this number, if any: numbers from C are checked, never transmuted.
    pub fn from_code(code: i32) -> Option<Error> {
        ALL.iter().copied().find(|e| e.code() == code)
    }
}

/// Every variant, for `from_code` and tests.
pub const ALL: [Error; 18] = {
    use vpp_ipfix_error_t::*;
    [
        VPP_IPFIX_OK,
        VPP_IPFIX_ERROR_NO_SUCH_ENTRY,
        VPP_IPFIX_ERROR_INVALID_VALUE,
        VPP_IPFIX_ERROR_INVALID_ARGUMENT,
        VPP_IPFIX_ERROR_VALUE_EXIST,
        VPP_IPFIX_ERROR_INVALID_WORKER,
        VPP_IPFIX_ERROR_INVALID_ADDRESS_FAMILY,
        VPP_IPFIX_ERROR_EXPORTER_DISABLED,
        VPP_IPFIX_ERROR_NULL_POINTER,
        VPP_IPFIX_ERROR_NO_BUFFER,
        VPP_IPFIX_ERROR_RECORD_TOO_BIG,
        VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG,
        VPP_IPFIX_ERROR_ENQUEUE_FAILED,
        VPP_IPFIX_ERROR_BUFFER_TOO_SMALL,
        VPP_IPFIX_ERROR_NO_MEMORY,
        VPP_IPFIX_ERROR_BUSY,
        VPP_IPFIX_ERROR_TIMER_RUNNING,
        VPP_IPFIX_ERROR_PANIC,
    ]
};

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_refused() {
        for e in ALL {
            assert_eq!(Error::from_code(e.code()), Some(e));
            assert!(!e.message().is_empty());
        }
        assert_eq!(Error::from_code(-2), None);
        assert_eq!(Error::from_code(1), None);
    }

    #[test]
    fn vpp_numbers_are_vpps() {
        assert_eq!(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY.code(), -6);
        assert_eq!(Error::VPP_IPFIX_ERROR_INVALID_VALUE.code(), -7);
        assert_eq!(Error::VPP_IPFIX_ERROR_VALUE_EXIST.code(), -81);
    }
}
