//! Fuzz targets for vpp-ipfix, as plain functions of the fuzzer's input: the AFL
//! binaries in `src/bin/` call them, and `tests/corpus.rs` replays the checked-in corpus
//! through them without instrumentation.
//!
//! Every packet is checked with the tests' independent decoder (`tests/common`, shared
//! by path, not copied): IP and UDP headers and checksums, IPFIX version 10, message
//! length, sets tiling the message, template records, data records against their
//! template. A failed check or a panic anywhere (the C ABI's panic boundary included:
//! `-1099`) is a finding.

// The tests' decoder, used as it is: some of its helpers serve other tests only.
#[allow(dead_code, clippy::all)]
#[path = "../../tests/common/accounting.rs"]
pub mod accounting;
#[allow(dead_code, clippy::all)]
#[path = "../../tests/common/ipfix.rs"]
pub mod ipfix;
#[allow(dead_code, clippy::all)]
#[path = "../../tests/common/packet.rs"]
pub mod packet;
#[allow(dead_code, clippy::all)]
#[path = "../../tests/common/pcap.rs"]
pub mod pcap;

pub mod api_sequence;
pub mod host;
pub mod input;
pub mod template_build;

use vpp_ipfix::Error;

/// Fails on the C ABI's "panic caught" code: the panic itself is the finding.
pub fn no_panic(rc: i32, what: &str) -> i32 {
    assert_ne!(
        rc,
        Error::VPP_IPFIX_ERROR_PANIC.code(),
        "{what}: a panic was caught at the C ABI"
    );
    rc
}
