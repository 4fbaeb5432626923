//! Exporter settings: VPP's defaults and validation, and what they imply for the packet
//! layout (`all_headers_size`).

#![allow(non_camel_case_types)]

use crate::error::{Error, Result};
use crate::wire::vpp_vec::VppVec;

use crate::packet::Framing;
use crate::types::{ip_address_t, ipfix_exporter_t, AF_IP4, AF_IP6};

/// IPFIX's UDP port (RFC 7011 §10.1).
pub const DEFAULT_COLLECTOR_PORT: u16 = 4739;
/// RFC 7011 §10.3.3: 512 bytes when the path MTU is unknown.
pub const DEFAULT_PATH_MTU: u32 = 512;
/// VPP's default template refresh, in seconds (RFC 6728 would say 600).
pub const DEFAULT_TEMPLATE_INTERVAL: u32 = 20;
/// VPP does not fragment: no packet larger than this.
pub const MAX_PATH_MTU: u32 = 1450;
/// The smallest MTU VPP accepts (the IPv4 minimum, RFC 791).
pub const MIN_PATH_MTU: u32 = 68;
/// VPP's `IPFIX_EXPORTERS_MAX`.
pub const DEFAULT_MAX_EXPORTERS: u32 = 5;
/// "No FIB" (VPP's `~0`).
pub const FIB_INDEX_NONE: u32 = u32::MAX;

/// The settings of one exporter, as `set ipfix exporter` and the binary API give them.
///
/// Sentinels follow VPP's API: port 0 or `0xffff` means 4739, MTU and template interval
/// `~0` mean their defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct vpp_ipfix_exporter_config_t {
    /// Collector address; all zero disables the exporter.
    pub collector: ip_address_t,
    /// Collector UDP port; 0 or 0xffff = 4739.
    pub collector_port: u16,
    /// Source address; required with a collector, same family.
    pub src_address: ip_address_t,
    /// FIB index (`~0` = none).
    pub fib_index: u32,
    /// 68..1450; `~0` = 512.
    pub path_mtu: u32,
    /// Seconds between template sends; `~0` = 20; 0 is refused.
    pub template_interval: u32,
    /// Non-zero: UDP checksums over IPv4 too.
    pub udp_checksum: u8,
    /// Non-zero: send each stream's Exporting Process Reliability Statistics (RFC 7011
    /// §4.3) as an options template and record, every template interval. Off by default
    /// (VPP sends none); its template id is taken from the stream's ids when first sent.
    pub reliability_options: u8,
}

impl Default for vpp_ipfix_exporter_config_t {
    fn default() -> Self {
        vpp_ipfix_exporter_config_t {
            collector: ip_address_t::default(),
            collector_port: DEFAULT_COLLECTOR_PORT,
            src_address: ip_address_t::default(),
            fib_index: FIB_INDEX_NONE,
            path_mtu: DEFAULT_PATH_MTU,
            template_interval: DEFAULT_TEMPLATE_INTERVAL,
            udp_checksum: 0,
            reliability_options: 0,
        }
    }
}

/// VPP's exporter before configuration: no collector (disabled), default settings.
impl Default for ipfix_exporter_t {
    fn default() -> Self {
        ipfix_exporter_t {
            reports: VppVec::default(),
            streams: VppVec::default(),
            ipfix_collector: ip_address_t::default(),
            collector_port: DEFAULT_COLLECTOR_PORT,
            src_address: ip_address_t::default(),
            fib_index: u32::MAX,
            path_mtu: DEFAULT_PATH_MTU,
            template_interval: DEFAULT_TEMPLATE_INTERVAL,
            udp_checksum: 0,
            all_headers_size: 0,
        }
    }
}

/// Settings after defaults and validation: what goes into `ipfix_exporter_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidSettings {
    pub collector: ip_address_t,
    pub collector_port: u16,
    pub src_address: ip_address_t,
    pub fib_index: u32,
    pub path_mtu: u32,
    pub template_interval: u32,
    pub udp_checksum: u8,
    pub all_headers_size: u32,
    pub reliability_options: bool,
}

impl vpp_ipfix_exporter_config_t {
    /// VPP's checks, in VPP's order, with its error numbers. `host_writes_ip_udp`: the
    /// host adds IP and UDP itself (a socket), so records start right after the IPFIX
    /// headers.
    pub fn validate(&self, host_writes_ip_udp: bool) -> Result<ValidSettings> {
        for a in [&self.collector, &self.src_address] {
            if a.version != AF_IP4 && a.version != AF_IP6 {
                return Err(Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT);
            }
        }
        if !self.collector.is_zero() && self.src_address.is_zero() {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE);
        }
        if self.collector.version != self.src_address.version {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_ADDRESS_FAMILY);
        }
        let path_mtu = if self.path_mtu == u32::MAX {
            DEFAULT_PATH_MTU
        } else {
            self.path_mtu
        };
        if !(MIN_PATH_MTU..=MAX_PATH_MTU).contains(&path_mtu) {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE);
        }
        let template_interval = match self.template_interval {
            u32::MAX => DEFAULT_TEMPLATE_INTERVAL,
            // A zero interval would re-send templates on every poll.
            0 => return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE),
            t => t,
        };
        let collector_port = match self.collector_port {
            0 | u16::MAX => DEFAULT_COLLECTOR_PORT,
            p => p,
        };
        Ok(ValidSettings {
            collector: self.collector,
            collector_port,
            src_address: self.src_address,
            fib_index: self.fib_index,
            path_mtu,
            template_interval,
            udp_checksum: u8::from(self.udp_checksum != 0),
            reliability_options: self.reliability_options != 0,
            all_headers_size: Framing {
                is_ip6: self.collector.is_ip6(),
                host_writes_ip_udp,
            }
            .all_headers_size() as u32,
        })
    }
}

impl ValidSettings {
    /// True when applying these settings must reset the exporter's streams (VPP resets
    /// when the collector, source or port change; we also when the table does, where
    /// the host has tables: the new path may reach another collector, which needs the
    /// templates).
    pub fn resets(&self, exp: &ipfix_exporter_t, host_writes_ip_udp: bool) -> bool {
        exp.ipfix_collector != self.collector
            || exp.src_address != self.src_address
            || exp.collector_port != self.collector_port
            // Another table reaches another collector (VPP's FIBs; a socket host has one).
            || (!host_writes_ip_udp && exp.fib_index != self.fib_index)
    }

    /// Writes the settings into the C-visible exporter.
    /// True when `exp`, enabled, would send on the transport session these settings
    /// make: same collector, port and source, in the same table where the host has
    /// tables (VPP's FIBs; a socket host has one). A collector cannot tell two
    /// exporters on one session apart: their templates and sequence numbers would mix.
    pub fn same_session(&self, exp: &ipfix_exporter_t, host_writes_ip_udp: bool) -> bool {
        is_enabled(exp)
            && !self.collector.is_zero()
            && exp.ipfix_collector == self.collector
            && exp.collector_port == self.collector_port
            && exp.src_address == self.src_address
            && (host_writes_ip_udp || exp.fib_index == self.fib_index)
    }

    pub fn apply(&self, exp: &mut ipfix_exporter_t) {
        exp.ipfix_collector = self.collector;
        exp.collector_port = self.collector_port;
        exp.src_address = self.src_address;
        exp.fib_index = self.fib_index;
        exp.path_mtu = self.path_mtu;
        exp.template_interval = self.template_interval;
        exp.udp_checksum = self.udp_checksum;
        exp.all_headers_size = self.all_headers_size;
    }
}

/// True when the exporter has somewhere to send (VPP: collector 0 disables it).
pub fn is_enabled(exp: &ipfix_exporter_t) -> bool {
    !exp.ipfix_collector.is_zero() && !exp.src_address.is_zero()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(last: u8) -> ip_address_t {
        ip_address_t::v4([127, 0, 0, last])
    }

    fn config() -> vpp_ipfix_exporter_config_t {
        vpp_ipfix_exporter_config_t {
            collector: v4(1),
            src_address: v4(2),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_vpps() {
        let s = vpp_ipfix_exporter_config_t {
            collector_port: u16::MAX,
            path_mtu: u32::MAX,
            template_interval: u32::MAX,
            ..config()
        }
        .validate(false)
        .unwrap();
        assert_eq!(s.collector_port, 4739);
        assert_eq!(s.path_mtu, 512);
        assert_eq!(s.template_interval, 20);
        assert_eq!(s.all_headers_size, 20 + 8 + 16 + 4);
    }

    #[test]
    fn ipv6_headers_are_larger() {
        let c = vpp_ipfix_exporter_config_t {
            collector: ip_address_t::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            src_address: ip_address_t::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
            ..config()
        };
        assert_eq!(c.validate(false).unwrap().all_headers_size, 40 + 8 + 16 + 4);
    }

    #[test]
    fn path_mtu_bounds_are_68_and_1450() {
        for (mtu, ok) in [
            (67, false),
            (68, true),
            (1450, true),
            (1451, false),
            (0, false),
        ] {
            let c = vpp_ipfix_exporter_config_t {
                path_mtu: mtu,
                ..config()
            };
            assert_eq!(c.validate(false).is_ok(), ok, "mtu {mtu}");
        }
    }

    #[test]
    fn collector_needs_a_source_of_its_family() {
        let no_src = vpp_ipfix_exporter_config_t {
            src_address: ip_address_t::default(),
            ..config()
        };
        assert_eq!(
            no_src.validate(false),
            Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE)
        );
        let mixed = vpp_ipfix_exporter_config_t {
            src_address: ip_address_t::v6([1; 16]),
            ..config()
        };
        assert_eq!(
            mixed.validate(false),
            Err(Error::VPP_IPFIX_ERROR_INVALID_ADDRESS_FAMILY)
        );
        let bad_family = vpp_ipfix_exporter_config_t {
            collector: ip_address_t {
                ip: [0; 16],
                version: 7,
            },
            ..config()
        };
        assert_eq!(
            bad_family.validate(false),
            Err(Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT)
        );
    }

    #[test]
    fn zero_collector_disables_without_a_source() {
        let off = vpp_ipfix_exporter_config_t {
            collector: ip_address_t::default(),
            src_address: ip_address_t::default(),
            ..config()
        };
        let s = off.validate(false).unwrap();
        let mut exp = ipfix_exporter_t::default();
        s.apply(&mut exp);
        assert!(!is_enabled(&exp));
    }
}
