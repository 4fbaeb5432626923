//! An independent IPFIX decoder for the tests, written from RFC 7011 apart from the
//! library (shares no code with `src/wire`): pcap files, IP/UDP with checksums, IPFIX
//! messages, sets, templates and records, and per-stream sequence accounting; the
//! helpers that build and read the C programs the tests drive; and collectors on real
//! UDP sockets.
#![allow(dead_code)]

pub mod accounting;
pub mod ipfix;
pub mod packet;
pub mod pcap;
pub mod programs;
pub mod udp;
