//! Wire layer: pure encoding of IPFIX messages and their IPv4/IPv6/UDP carriers into caller-provided bytes; no state, no allocation.

pub mod checksum;
pub mod ip;
pub mod ipfix;
pub mod packet_buf;
pub mod template_packet;
pub mod vpp_vec;

pub use checksum::internet_checksum;
pub use ipfix::{FieldSpec, WireError};
pub use packet_buf::PacketBuf;
