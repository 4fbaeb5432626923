//! vpp-ipfix: the internals of FD.io VPP's IPFIX exporter (`src/vnet/ipfix-export`) in
//! Rust, behind a C ABI. Layers, each using only those listed after it:
//! `ffi` (every `extern "C"` function, argument checks, panic boundary) ->
//! the core (`report`: reports and streams; `template`; `datapath`: the per-thread hot
//! path; `instance`: exporters; `state`, `exporter`, `counters`) -> `packet` (headers of
//! one packet) ->
//! `wire` (pure RFC 7011 / IP / UDP encoding). `types` holds the C-visible structs the core
//! keeps its state in; `ops` is what the core needs from its host, and `transport` holds
//! the Rust hosts (memory capture, pcap file).

pub mod counters;
pub mod datapath;
pub mod error;
pub mod exporter;
pub mod ffi;
pub mod instance;
pub mod ops;
pub mod packet;
pub mod report;
pub mod state;
pub mod template;
pub mod transport;
pub mod types;
pub mod wire;

pub use error::{Error, Result};
pub use instance::Instance;
