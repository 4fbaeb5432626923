//! `template_build`: any element list (ids with and without the enterprise bit's range,
//! lengths 0, 65535 and anything between, enterprise numbers), added as a report through
//! the C ABI, `vpp_ipfix_report_add` (native fields) or `vpp_ipfix_report_add_del`
//! (VPP's 32-bit elements), on an exporter of any MTU and family. Either the add is
//! refused with the code the header documents for that list (computed here, apart from
//! the library), or it succeeds and the template sent parses back to exactly those
//! fields, and a record appended decodes back to its values.

use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::datapath::vpp_ipfix_record_append;
use vpp_ipfix::ffi::exporter::vpp_ipfix_exporter_set;
use vpp_ipfix::ffi::instance::{vpp_ipfix_flush, vpp_ipfix_main_destroy, vpp_ipfix_main_t};
use vpp_ipfix::ffi::report::{
    vpp_ipfix_report_add, vpp_ipfix_report_add_del, vpp_ipfix_report_config_t,
    vpp_ipfix_template_send,
};
use vpp_ipfix::transport::Capture;
use vpp_ipfix::types::{
    ip_address_t, ipfix_report_element_t, opaque_t, vnet_flow_report_add_del_args_t,
};
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::{Error, Instance};

use crate::input::Input;
use crate::ipfix::{self, Decoder};
use crate::no_panic;
use crate::packet::parse_ip_udp;

/// One element as a caller may give it: 32-bit id and size for VPP's call.
#[derive(Clone, Copy, Debug)]
struct Element {
    id: u32,
    size: u32,
    enterprise: u32,
}

fn element(input: &mut Input, vpp: bool) -> Element {
    let id = match input.u8() % 8 {
        0 if vpp => input.u32(),
        0 | 1 => u32::from(input.u16()),
        2 => 0x7fff + u32::from(input.u8() % 3),
        k => u32::from(k) * 50,
    };
    let size = match input.u8() % 8 {
        0 if vpp => input.u32(),
        0 => 0,
        1 => 65535,
        2 => u32::from(input.u16()),
        3 => 0,
        k => u32::from(k) * 3 - 8,
    };
    let enterprise = if !vpp && input.bool() { input.u32() } else { 0 };
    Element {
        id,
        size,
        enterprise,
    }
}

/// What the header documents for this list on an enabled exporter of this framing.
fn expected(elements: &[Element], vpp: bool, ip_len: usize, mtu: usize) -> i32 {
    if elements.is_empty() {
        return Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT.code();
    }
    if elements.len() > 512 {
        return Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG.code();
    }
    let bad = |e: &Element| e.id > 0x7fff || e.size == 0 || (vpp && e.size > 65535);
    if elements.iter().any(bad) {
        return Error::VPP_IPFIX_ERROR_INVALID_VALUE.code();
    }
    // IP, UDP (8), message header (16), set header (4).
    let headers = ip_len + 8 + 16 + 4;
    let specifiers: usize = elements
        .iter()
        .map(|e| if e.enterprise != 0 { 8 } else { 4 })
        .sum();
    if headers + 4 + specifiers > mtu {
        return Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG.code();
    }
    let variable = elements.iter().any(|e| e.size == 65535);
    let fixed: usize = elements.iter().map(|e| e.size as usize).sum();
    if !variable && headers + fixed > mtu {
        return Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG.code();
    }
    0
}

/// Runs one case.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let vpp = input.bool();
    let v6 = input.bool();
    let mtu = 68 + u32::from(input.u16()) % (1450 - 68 + 1);
    let n = match input.u8() {
        0xff => usize::from(input.u16() % 700),
        n => usize::from(n % 12),
    };
    let elements: Vec<Element> = (0..n).map(|_| element(&mut input, vpp)).collect();

    let capture = Capture::new(1_700_000_000.0);
    let instance = Instance::new(Box::new(capture.clone()), 1, 0).expect("an instance");
    let main: *mut vpp_ipfix_main_t = vpp_ipfix_main_t::into_raw(instance);
    let (collector, source) = if v6 {
        let a = |k| ip_address_t::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, k]);
        (a(1), a(2))
    } else {
        (
            ip_address_t::v4([192, 0, 2, 1]),
            ip_address_t::v4([192, 0, 2, 2]),
        )
    };
    let config = vpp_ipfix_exporter_config_t {
        collector,
        src_address: source,
        path_mtu: mtu,
        ..Default::default()
    };
    assert_eq!(
        vpp_ipfix_exporter_set(main, 0, &config),
        0,
        "exporter_set {config:?}"
    );

    let mut template_id = 0u16;
    let mut report = 0u32;
    let rc = if vpp {
        let mut raw: Vec<ipfix_report_element_t> = elements
            .iter()
            .map(|e| ipfix_report_element_t {
                info_element: e.id,
                size: e.size,
            })
            .collect();
        let mut a = vnet_flow_report_add_del_args_t {
            flow_data_callback: None,
            rewrite_callback: None,
            report_elements: raw.as_mut_ptr(),
            n_report_elements: raw.len() as u32,
            opaque: opaque_t { as_uword: 1 },
            is_add: 1,
            domain_id: 1,
            src_port: 30001,
            stream_indexp: std::ptr::null_mut(),
            flow_report_index: 0,
        };
        let rc = vpp_ipfix_report_add_del(main, 0, &mut a, &mut template_id);
        report = a.flow_report_index;
        rc
    } else {
        // Ids and sizes past 16 bits cannot be said in this call: they are cut, as a C
        // caller's would be.
        let fields: Vec<FieldSpec> = elements
            .iter()
            .map(|e| FieldSpec::enterprise(e.id as u16, e.size as u16, e.enterprise))
            .collect();
        let c = vpp_ipfix_report_config_t {
            domain_id: 1,
            src_port: 30001,
            fields: fields.as_ptr(),
            n_fields: fields.len() as u32,
            opaque: opaque_t { as_uword: 1 },
        };
        vpp_ipfix_report_add(main, 0, &c, &mut report, &mut template_id)
    };
    no_panic(rc, "report add");
    let elements: Vec<Element> = if vpp {
        elements
    } else {
        elements
            .iter()
            .map(|e| Element {
                id: e.id & 0xffff,
                size: e.size & 0xffff,
                ..*e
            })
            .collect()
    };
    let ip_len = if v6 { 40 } else { 20 };
    let want = expected(&elements, vpp, ip_len, mtu as usize);
    assert_eq!(
        rc, want,
        "add of {elements:?} (vpp: {vpp}, MTU {mtu}, IPv6: {v6})"
    );
    if rc != 0 {
        vpp_ipfix_main_destroy(main);
        return;
    }
    assert!(template_id >= 256, "template id {template_id}");

    // The template, then one record of made-up values.
    assert_eq!(
        no_panic(vpp_ipfix_template_send(main, 0, report), "template_send"),
        0
    );
    let mut values = Vec::new();
    let mut rec = Vec::new();
    for e in &elements {
        let len = if e.size == 65535 {
            usize::from(input.u8())
        } else {
            e.size as usize
        };
        let v: Vec<u8> = (0..len).map(|i| input.u8() ^ i as u8).collect();
        if e.size == 65535 {
            if len < 255 {
                rec.push(len as u8);
            } else {
                rec.push(255);
                rec.extend_from_slice(&(len as u16).to_be_bytes());
            }
        }
        rec.extend_from_slice(&v);
        values.push(v);
    }
    let rc = vpp_ipfix_record_append(main, 0, report, 0, rec.as_ptr(), rec.len());
    no_panic(rc, "record_append");
    let headers = ip_len + 8 + 16 + 4;
    if headers + rec.len() <= mtu as usize {
        assert_eq!(rc, 0, "record of {} bytes at MTU {mtu}", rec.len());
    } else {
        assert_eq!(rc, Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG.code());
    }
    no_panic(vpp_ipfix_flush(main), "flush");

    let packets = capture.take_packets();
    assert_eq!(packets.len(), 1 + usize::from(rc == 0), "packets sent");
    let mut decoder = Decoder::new();
    let want_fields: Vec<ipfix::FieldSpec> = elements
        .iter()
        .map(|e| ipfix::FieldSpec {
            element_id: e.id as u16,
            length: e.size as u16,
            enterprise: (e.enterprise != 0).then_some(e.enterprise),
        })
        .collect();
    for (i, p) in packets.iter().enumerate() {
        let d = parse_ip_udp(&p.bytes).unwrap_or_else(|e| panic!("packet {i}: {e}"));
        let msg = decoder
            .decode(&d.session_key(), &d.payload)
            .unwrap_or_else(|e| panic!("packet {i}: {e}"));
        if i == 0 {
            assert_eq!(msg.templates.len(), 1, "one template");
            assert!(msg.options_templates.is_empty() && msg.data_records.is_empty());
            assert_eq!(msg.templates[0].id, template_id);
            assert_eq!(
                msg.templates[0].fields, want_fields,
                "the template's fields"
            );
        } else {
            assert_eq!(msg.data_records.len(), 1, "one record");
            assert_eq!(msg.data_records[0].template_id, template_id);
            assert_eq!(msg.data_records[0].values, values, "the record's values");
        }
    }
    vpp_ipfix_main_destroy(main);
}
