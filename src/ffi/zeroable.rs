//! The structs C holds in VPP vectors are valid when all zero: VPP's `vec_validate`
//! (flowprobe grows `exp->streams` with it) and the hosts' `vec_resize` hand the library
//! zeroed elements. Declared here, with the rest of what the library trusts of C.

use crate::types::{flow_report_stream_t, flow_report_t, ipfix_exporter_t};
use crate::wire::vpp_vec::Zeroable;

// SAFETY: integers, atomics, nullable pointers and `Option<fn>`: all-zero is a valid
// value (null, None, 0), and none of them needs a drop.
unsafe impl Zeroable for flow_report_stream_t {}
// SAFETY: as above.
unsafe impl Zeroable for flow_report_t {}
// SAFETY: as above; its vectors are null pointers when zero.
unsafe impl Zeroable for ipfix_exporter_t {}
// SAFETY: every byte value is a valid u8 (a report's template packet).
unsafe impl Zeroable for u8 {}
