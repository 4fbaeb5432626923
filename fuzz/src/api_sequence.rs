//! `api_sequence`: the input is a program of C-ABI calls on one instance with an
//! in-memory host (`transport::Capture`): exporters set, created and deleted with any
//! settings, reports added and deleted with any elements, resets, stream changes,
//! records appended (one, in batches, reserved) on 1..4 simulated threads, sends,
//! flushes, idle flushes, templates due under a clock that moves both ways, and
//! allocation failures. After every call, every packet the host received must decode
//! (see the crate documentation) and its sequence number must be the number of data
//! records its stream sent before it (templates: the current number). At the end, with
//! no allocation failure injected, the records decoded must be the records the calls
//! accepted.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;

use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::datapath::{
    vpp_ipfix_buffer_send, vpp_ipfix_record_append, vpp_ipfix_record_reserve,
    vpp_ipfix_records_append, vpp_ipfix_thread_flush_idle,
};
use vpp_ipfix::ffi::exporter::{
    vpp_ipfix_exporter_create, vpp_ipfix_exporter_delete, vpp_ipfix_exporter_get,
    vpp_ipfix_exporter_set, vpp_ipfix_exporter_sizes,
};
use vpp_ipfix::ffi::instance::{
    vpp_ipfix_flush, vpp_ipfix_main_destroy, vpp_ipfix_main_t, vpp_ipfix_templates_send_due,
};
use vpp_ipfix::ffi::report::{
    vpp_ipfix_report_add, vpp_ipfix_report_add_del, vpp_ipfix_report_config_t,
    vpp_ipfix_report_delete, vpp_ipfix_report_get, vpp_ipfix_reports_reset,
    vpp_ipfix_stream_change, vpp_ipfix_stream_get, vpp_ipfix_stream_reset, vpp_ipfix_template_send,
};
use vpp_ipfix::transport::Capture;
use vpp_ipfix::types::{
    ip_address_t, ipfix_report_element_t, opaque_t, vnet_flow_report_add_del_args_t,
};
use vpp_ipfix::wire::FieldSpec;
use vpp_ipfix::Instance;

use crate::input::Input;
use crate::ipfix::Decoder;
use crate::no_panic;
use crate::packet::parse_ip_udp;

/// Exporter indices tried: the default 5 slots and one past them.
const EXPORTER_INDICES: u8 = 6;
/// Calls per input at most, so one input cannot run for long.
const MAX_STEPS: usize = 400;
const T0: f64 = 1_700_000_000.0;

/// A sequence stream as the checks see it: exporter, observation domain, UDP source port.
type StreamKey = (u32, u32, u16);

struct Harness {
    main: *mut vpp_ipfix_main_t,
    capture: Capture,
    n_threads: u32,
    now: f64,
    decoder: Decoder,
    /// Data records each stream sent so far (absent: none since its last reset).
    sequence: HashMap<StreamKey, u32>,
    /// (session, domain, template id) of options templates: their records are the
    /// library's own statistics, not the calls'.
    options_templates: HashSet<(String, u32, u16)>,
    /// Records the calls handed over with success, and records decoded from packets.
    accepted: u64,
    decoded: u64,
    /// Allocation failures were injected: records may be lost (and counted), so the
    /// final totals are not compared.
    faults: bool,
    packets: u64,
    /// FUZZ_TRACE is set: each call and packet is printed (with `examples/replay.rs`).
    trace: bool,
}

fn address(input: &mut Input, v6: bool) -> ip_address_t {
    match input.u8() % 8 {
        0 => ip_address_t::default(),
        6 => {
            // Anything, family byte included.
            let mut a = ip_address_t::default();
            a.ip.copy_from_slice(&input.bytes(16));
            a.version = input.u8() % 3;
            a
        }
        k if v6 => ip_address_t::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, k]),
        k => ip_address_t::v4([192, 0, 2, k]),
    }
}

fn exporter_config(input: &mut Input) -> vpp_ipfix_exporter_config_t {
    let v6 = input.bool();
    let collector = address(input, v6);
    let source_v6 = v6 != (input.u8() == 7);
    let mut c = vpp_ipfix_exporter_config_t {
        collector,
        src_address: address(input, source_v6),
        ..Default::default()
    };
    c.collector_port = match input.u8() % 4 {
        0 => 0,
        1 => 4739,
        2 => 0xffff,
        _ => input.u16(),
    };
    c.path_mtu = match input.u8() % 8 {
        0 => u32::MAX,
        1 => 68,
        2 => 1450,
        3 => 100,
        4 => 1451,
        5 => 67,
        6 => 512,
        _ => u32::from(input.u16()),
    };
    c.template_interval = match input.u8() % 4 {
        0 => u32::MAX,
        1 => 0,
        _ => u32::from(input.u8()),
    };
    c.udp_checksum = input.u8() % 3;
    c.reliability_options = input.u8() % 3;
    if input.u8() == 0xff {
        c.fib_index = input.u32();
    }
    c
}

fn field(input: &mut Input) -> FieldSpec {
    let id = match input.u8() % 4 {
        0 => input.u16(),
        k => u16::from(k) * 37,
    };
    let length = match input.u8() % 8 {
        0 => 0,
        1 | 2 => 65535,
        7 => input.u16(),
        k => u16::from(k) * 2 - 3,
    };
    let enterprise = if input.u8().is_multiple_of(4) {
        input.u32()
    } else {
        0
    };
    FieldSpec::enterprise(id, length, enterprise)
}

fn n_fields(input: &mut Input) -> usize {
    match input.u8() {
        0xff => usize::from(input.u16() % 600),
        n => usize::from(n % 6),
    }
}

fn stream_key(input: &mut Input) -> (u32, u16) {
    let domain = match input.u8() % 8 {
        7 => input.u32(),
        d => u32::from(d % 4),
    };
    let port = match input.u8() % 8 {
        7 => input.u16(),
        p => 30000 + u16::from(p % 4),
    };
    (domain, port)
}

/// One record for a report whose element sizes are `sizes` (65535: variable length).
fn record(input: &mut Input, sizes: &[u32]) -> Vec<u8> {
    let mut r = Vec::new();
    for &size in sizes {
        if size == 65535 {
            let len = match input.u8() {
                0xff => usize::from(input.u16() % 2000),
                n => usize::from(n % 40),
            };
            if len < 255 && !input.u8().is_multiple_of(4) {
                r.push(len as u8);
            } else {
                r.push(255);
                r.extend_from_slice(&(len as u16).to_be_bytes());
            }
            r.extend(input.bytes(len));
        } else {
            let n = size as usize;
            let fill = input.u8();
            r.extend(std::iter::repeat_n(fill, n));
        }
    }
    r
}

impl Harness {
    /// The element sizes of report `r` of exporter `e`, when it exists.
    fn report_sizes(&self, e: u32, r: u32) -> Option<Vec<u32>> {
        let fr = vpp_ipfix_report_get(self.main, e, r);
        // SAFETY: the library's own report, read between calls.
        let fr = unsafe { fr.as_ref() }?;
        let elements = fr.report_elements.load(Relaxed);
        if elements.is_null() {
            return None;
        }
        // SAFETY: `n_report_elements` elements, kept by the library with the report.
        let elements =
            unsafe { std::slice::from_raw_parts(elements, fr.n_report_elements as usize) };
        Some(elements.iter().map(|e| e.size).collect())
    }

    /// (collector, source, port) of each exporter slot, `None` when not in use.
    fn exporters(&self) -> Vec<Option<(ip_address_t, ip_address_t, u16)>> {
        (0..u32::from(EXPORTER_INDICES))
            .map(|e| {
                // SAFETY: the library's own exporter, read between calls.
                unsafe { vpp_ipfix_exporter_get(self.main, e).as_ref() }
                    .map(|x| (x.ipfix_collector, x.src_address, x.collector_port))
            })
            .collect()
    }

    /// Forgets the sequence of every stream of exporter `e`: they start again at 0.
    fn reset_exporter(&mut self, e: u32) {
        self.sequence.retain(|k, _| k.0 != e);
    }

    /// Forgets streams that no longer exist (their last report went): one with the same
    /// key later starts again at 0.
    fn prune(&mut self) {
        let main = self.main;
        let live = |&(e, d, p): &StreamKey| {
            let (mut reports, mut streams) = (0, 0);
            if vpp_ipfix_exporter_sizes(main, e, &mut reports, &mut streams) != 0 {
                return false;
            }
            (0..streams).any(|s| {
                // SAFETY: the library's own stream, read between calls.
                unsafe { vpp_ipfix_stream_get(main, e, s).as_ref() }
                    .is_some_and(|st| st.domain_id == d && st.src_port == p)
            })
        };
        self.sequence.retain(|k, _| live(k));
    }

    /// Checks every packet the host received since the last call.
    fn check_packets(&mut self, step: &str) {
        for p in self.capture.take_packets() {
            self.packets += 1;
            let d = parse_ip_udp(&p.bytes)
                .unwrap_or_else(|err| panic!("{step}: packet {}: {err}", self.packets));
            assert_eq!(d.src_port, p.info.src_port, "{step}: UDP source port");
            assert_eq!(d.dst_port, p.info.dst_port, "{step}: UDP destination port");
            let session = d.session_key();
            if self.trace {
                eprintln!("   packet {}: {session} {:?}", self.packets, p.info);
            }
            let msg = self
                .decoder
                .decode(&session, &d.payload)
                .unwrap_or_else(|err| panic!("{step}: packet {} ({session}): {err}", self.packets));
            assert_eq!(msg.domain_id, p.info.domain_id, "{step}: domain");
            for t in &msg.templates {
                self.options_templates
                    .remove(&(session.clone(), msg.domain_id, t.id));
            }
            for t in &msg.options_templates {
                self.options_templates
                    .insert((session.clone(), msg.domain_id, t.id));
            }
            let n = msg.data_records.len() as u32;
            let key = (p.info.exporter_index, msg.domain_id, d.src_port);
            let mut sent = self.sequence.get(&key).copied().unwrap_or(0);
            if self.faults {
                // After an injected allocation failure a packet may have been dropped
                // (counted): its records advance the sequence, so the collector sees a
                // gap. Forward only, never back or overlapping.
                let gap = msg.sequence_number.wrapping_sub(sent);
                assert!(
                    gap < 1 << 31,
                    "{step}: packet {} of stream {key:?} ({session}) carries sequence \
                     number {} behind {sent} records already numbered",
                    self.packets,
                    msg.sequence_number
                );
                sent = msg.sequence_number;
            }
            assert_eq!(
                msg.sequence_number, sent,
                "{step}: packet {} of stream {key:?} ({session}) carries sequence number {} \
                 after {sent} data records (template: {}, {n} records)",
                self.packets, msg.sequence_number, p.info.is_template
            );
            self.sequence.insert(key, sent.wrapping_add(n));
            if !p.info.is_template {
                assert_eq!(n, p.info.records, "{step}: records decoded vs announced");
            }
            self.decoded += msg
                .data_records
                .iter()
                .filter(|r| {
                    !self.options_templates.contains(&(
                        session.clone(),
                        msg.domain_id,
                        r.template_id,
                    ))
                })
                .count() as u64;
        }
    }

    fn step(&mut self, input: &mut Input) -> String {
        let op = input.u8() % 20;
        let e = u32::from(input.u8() % EXPORTER_INDICES);
        match op {
            0..=2 => {
                let before = self.exporters();
                let what = match op {
                    0 => {
                        let c = exporter_config(input);
                        no_panic(vpp_ipfix_exporter_set(self.main, e, &c), "exporter_set");
                        format!("exporter_set {e} {c:?}")
                    }
                    1 => {
                        let c = exporter_config(input);
                        let mut index = 0;
                        no_panic(
                            vpp_ipfix_exporter_create(self.main, &c, &mut index),
                            "exporter_create",
                        );
                        format!("exporter_create {c:?}")
                    }
                    _ => {
                        no_panic(vpp_ipfix_exporter_delete(self.main, e), "exporter_delete");
                        format!("exporter_delete {e}")
                    }
                };
                // Packets under construction left with the old settings and sequence.
                self.check_packets(&what);
                let after = self.exporters();
                for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                    if b != a {
                        self.reset_exporter(i as u32);
                    }
                }
                what
            }
            3 => {
                let (domain_id, src_port) = stream_key(input);
                let fields: Vec<FieldSpec> = (0..n_fields(input)).map(|_| field(input)).collect();
                let config = vpp_ipfix_report_config_t {
                    domain_id,
                    src_port,
                    fields: fields.as_ptr(),
                    n_fields: fields.len() as u32,
                    opaque: opaque_t {
                        as_uword: usize::from(input.u8() % 4),
                    },
                };
                let (mut index, mut template_id) = (0, 0);
                let rc = vpp_ipfix_report_add(self.main, e, &config, &mut index, &mut template_id);
                no_panic(rc, "report_add");
                format!("report_add {e} {domain_id} {src_port} {fields:?}")
            }
            4 | 5 => {
                let (domain_id, src_port) = stream_key(input);
                let mut elements: Vec<ipfix_report_element_t> = (0..n_fields(input))
                    .map(|_| {
                        let f = field(input);
                        ipfix_report_element_t {
                            info_element: if input.u8() == 0xff {
                                input.u32()
                            } else {
                                u32::from(f.element_id)
                            },
                            size: if input.u8() == 0xff {
                                input.u32()
                            } else {
                                u32::from(f.length)
                            },
                        }
                    })
                    .collect();
                let mut a = vnet_flow_report_add_del_args_t {
                    flow_data_callback: None,
                    rewrite_callback: None,
                    report_elements: elements.as_mut_ptr(),
                    n_report_elements: elements.len() as u32,
                    opaque: opaque_t {
                        as_uword: usize::from(input.u8() % 4),
                    },
                    is_add: i32::from(op == 4),
                    domain_id,
                    src_port,
                    stream_indexp: std::ptr::null_mut(),
                    flow_report_index: 0,
                };
                let mut template_id = 0;
                no_panic(
                    vpp_ipfix_report_add_del(self.main, e, &mut a, &mut template_id),
                    "report_add_del",
                );
                self.check_packets("report_add_del");
                format!(
                    "report_add_del {e} add={} {domain_id} {src_port} {elements:?}",
                    op == 4
                )
            }
            6 => {
                let (domain_id, src_port) = stream_key(input);
                let opaque = opaque_t {
                    as_uword: usize::from(input.u8() % 4),
                };
                let mut id = 0;
                no_panic(
                    vpp_ipfix_report_delete(self.main, e, domain_id, src_port, opaque, &mut id),
                    "report_delete",
                );
                format!("report_delete {e} {domain_id} {src_port} {opaque:?}")
            }
            7 => {
                if no_panic(vpp_ipfix_reports_reset(self.main, e), "reports_reset") == 0 {
                    self.reset_exporter(e);
                }
                format!("reports_reset {e}")
            }
            8 => {
                let s = u32::from(input.u8() % 5);
                // SAFETY: the library's own stream, read between calls.
                let key = unsafe { vpp_ipfix_stream_get(self.main, e, s).as_ref() }
                    .map(|st| (e, st.domain_id, st.src_port));
                if no_panic(vpp_ipfix_stream_reset(self.main, e, s), "stream_reset") == 0 {
                    if let Some(k) = key {
                        self.sequence.remove(&k);
                    }
                }
                format!("stream_reset {e} {s}")
            }
            9 => {
                let old = stream_key(input);
                let new = stream_key(input);
                let rc = no_panic(
                    vpp_ipfix_stream_change(self.main, e, old.0, old.1, new.0, new.1),
                    "stream_change",
                );
                let what = format!("stream_change {e} {old:?} -> {new:?}");
                // Packets under construction left with the old key and sequence.
                self.check_packets(&what);
                if rc == 0 && old != new {
                    self.sequence.remove(&(e, old.0, old.1));
                    self.sequence.remove(&(e, new.0, new.1));
                }
                what
            }
            10..=12 => {
                let r = u32::from(input.u8() % 6);
                let t = u32::from(input.u8()) % (self.n_threads + 1);
                let sizes = self.report_sizes(e, r).unwrap_or_else(|| vec![4]);
                match op {
                    10 => {
                        let rec = record(input, &sizes);
                        let rc =
                            vpp_ipfix_record_append(self.main, e, r, t, rec.as_ptr(), rec.len());
                        if no_panic(rc, "record_append") == 0 {
                            self.accepted += 1;
                        }
                        format!("record_append {e} {r} {t} {} bytes", rec.len())
                    }
                    11 => {
                        let n = usize::from(input.u8() % 64);
                        let mut all = Vec::new();
                        let mut size = 0;
                        for i in 0..n {
                            let rec = record(input, &sizes);
                            if i == 0 {
                                size = rec.len();
                            }
                            all.extend(rec);
                        }
                        // Batches hold records of one size: variable-length fields get the
                        // first record's layout again.
                        if sizes.contains(&65535) {
                            all = all[..size].repeat(n);
                        }
                        let mut done = 0;
                        let rc = vpp_ipfix_records_append(
                            self.main,
                            e,
                            r,
                            t,
                            all.as_ptr(),
                            size as u16,
                            if size > 0xffff { 0 } else { n },
                            &mut done,
                        );
                        no_panic(rc, "records_append");
                        self.accepted += done as u64;
                        format!("records_append {e} {r} {t} {n} x {size} bytes: {rc}, {done} in")
                    }
                    _ => {
                        let rec = record(input, &sizes);
                        let mut err = 0;
                        let p = vpp_ipfix_record_reserve(
                            self.main,
                            e,
                            r,
                            t,
                            rec.len().min(0xffff) as u16,
                            &mut err,
                        );
                        no_panic(err, "record_reserve");
                        if !p.is_null() {
                            assert!(rec.len() <= 0xffff, "record_reserve of a truncated size");
                            // SAFETY: the library gave room for `rec.len()` bytes.
                            unsafe { std::ptr::copy_nonoverlapping(rec.as_ptr(), p, rec.len()) };
                            self.accepted += 1;
                        }
                        format!("record_reserve {e} {r} {t} {} bytes", rec.len())
                    }
                }
            }
            13 => {
                let r = u32::from(input.u8() % 6);
                let t = u32::from(input.u8()) % (self.n_threads + 1);
                no_panic(vpp_ipfix_buffer_send(self.main, e, r, t), "buffer_send");
                format!("buffer_send {e} {r} {t}")
            }
            14 => {
                let t = u32::from(input.u8()) % (self.n_threads + 1);
                let age = match input.u8() {
                    0xff => f64::NAN,
                    0xfe => -1.0,
                    a => f64::from(a) / 16.0,
                };
                let mut sent = 0;
                no_panic(
                    vpp_ipfix_thread_flush_idle(self.main, t, age, &mut sent),
                    "thread_flush_idle",
                );
                format!("thread_flush_idle {t} {age}")
            }
            15 => {
                no_panic(vpp_ipfix_flush(self.main), "flush");
                "flush".into()
            }
            16 => {
                let (mut sent, mut next) = (0, 0.0);
                no_panic(
                    vpp_ipfix_templates_send_due(self.main, &mut sent, &mut next),
                    "templates_send_due",
                );
                "templates_send_due".into()
            }
            17 => {
                let r = u32::from(input.u8() % 6);
                no_panic(vpp_ipfix_template_send(self.main, e, r), "template_send");
                format!("template_send {e} {r}")
            }
            18 => {
                let by = match input.u8() {
                    0xff => -f64::from(input.u16()),
                    0xfe => f64::from(input.u32()),
                    s => f64::from(s) / 4.0,
                };
                self.now += by;
                self.capture.set_now(self.now);
                format!("clock {by:+}")
            }
            _ => {
                let n = input.u8();
                if n == 0xff {
                    self.capture.fail_allocs_after(u64::MAX);
                } else {
                    self.faults = true;
                    self.capture.fail_allocs_after(u64::from(n % 16));
                }
                format!("fail_allocs_after {n}")
            }
        }
    }
}

/// What one program did: packets checked, records accepted and decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub steps: usize,
    pub packets: u64,
    pub accepted: u64,
    pub decoded: u64,
}

/// Runs one program.
pub fn run(data: &[u8]) {
    run_summary(data);
}

/// Runs one program and says what it did.
pub fn run_summary(data: &[u8]) -> Summary {
    let mut input = Input::new(data);
    let n_threads = 1 + u32::from(input.u8() % 4);
    let max_exporters = u32::from(input.u8() % 4);
    let capture = Capture::new(T0);
    let instance = Instance::new(Box::new(capture.clone()), n_threads, max_exporters)
        .expect("an instance of 1..4 threads");
    let mut h = Harness {
        main: vpp_ipfix_main_t::into_raw(instance),
        capture,
        n_threads,
        now: T0,
        decoder: Decoder::new(),
        sequence: HashMap::new(),
        options_templates: HashSet::new(),
        accepted: 0,
        decoded: 0,
        faults: false,
        packets: 0,
        trace: std::env::var_os("FUZZ_TRACE").is_some(),
    };
    let mut steps = 0;
    while !input.is_empty() && steps < MAX_STEPS {
        let what = h.step(&mut input);
        if h.trace {
            eprintln!("{steps}: {what}");
        }
        h.check_packets(&what);
        h.prune();
        steps += 1;
    }
    h.capture.fail_allocs_after(u64::MAX);
    no_panic(vpp_ipfix_flush(h.main), "final flush");
    h.check_packets("final flush");
    if !h.faults {
        assert_eq!(
            h.decoded, h.accepted,
            "records decoded vs records the calls accepted"
        );
    }
    vpp_ipfix_main_destroy(h.main);
    h.check_packets("destroy");
    assert_eq!(h.capture.outstanding_buffers(), 0, "buffers leaked");
    Summary {
        steps,
        packets: h.packets,
        accepted: h.accepted,
        decoded: h.decoded,
    }
}
