//! vpp-ipfix: the internals of FD.io VPP's IPFIX exporter (`src/vnet/ipfix-export`) in
//! Rust, behind a C ABI. Layers, each using only those listed after it:
//! `ffi` (every `extern "C"` function, argument checks, panic boundary) ->
//! the core (`report`: reports and streams; `template`; `datapath`: the per-thread hot
//! path; `instance`: exporters; `state`, `exporter`, `counters`) -> `packet` (headers of
//! one packet) ->
//! `wire` (pure RFC 7011 / IP / UDP encoding). `types` holds the C-visible structs the core
//! keeps its state in; `ops` is what the core needs from its host, and `transport` holds
//! the Rust hosts (memory capture, pcap file).
//!
//! From Rust, with an in-memory host:
//!
//! ```
//! use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
//! use vpp_ipfix::report::ReportSpec;
//! use vpp_ipfix::transport::Capture;
//! use vpp_ipfix::types::ip_address_t;
//! use vpp_ipfix::wire::FieldSpec;
//! use vpp_ipfix::Instance;
//!
//! let capture = Capture::new(1_700_000_000.0);
//! let mut ipfix = Instance::new(Box::new(capture.clone()), 1, 0)?;
//! let config = vpp_ipfix_exporter_config_t {
//!     collector: ip_address_t::v4([192, 0, 2, 1]),
//!     src_address: ip_address_t::v4([192, 0, 2, 2]),
//!     ..Default::default()
//! };
//! ipfix.exporter_set(0, &config)?;
//! let octets = FieldSpec::new(1, 8); // octetDeltaCount
//! let spec = ReportSpec { domain_id: 1, src_port: 30001, fields: vec![octets], ..Default::default() };
//! let report = ipfix.report_add(0, spec).map_err(|e| e.error)?;
//! assert_eq!(report.template_id, 256);
//! ipfix.send_due_templates();
//! ipfix.with_worker(0, report.report_index, 0, |dp, ptd| dp.append(ptd, &1500u64.to_be_bytes()))??;
//! ipfix.flush_all();
//! let packets = capture.take_packets();
//! assert_eq!(packets.len(), 2); // the template, then the data
//! assert_eq!(packets[1].bytes.len(), 20 + 8 + 16 + 4 + 8);
//! # Ok::<(), vpp_ipfix::Error>(())
//! ```

pub mod api;
pub mod counters;
pub mod datapath;
pub mod error;
pub mod exporter;
pub mod ffi;
pub mod instance;
pub mod ops;
pub mod options;
pub mod packet;
pub mod report;
pub mod state;
pub mod template;
pub mod transport;
pub mod types;
pub mod wire;

pub use error::{Error, Result};
pub use instance::Instance;
