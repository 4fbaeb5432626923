//! The control thread's operations: reports, streams and exporters added, deleted,
//! reset and changed, each checked against the counters, and calls that must be refused.

use std::collections::HashMap;

use vpp_ipfix::counters::vpp_ipfix_counters_t;
use vpp_ipfix::ffi::exporter::{
    vpp_ipfix_exporter_create, vpp_ipfix_exporter_delete, vpp_ipfix_exporter_set,
};
use vpp_ipfix::ffi::report::{
    vpp_ipfix_report_add, vpp_ipfix_report_add_del, vpp_ipfix_report_config_t,
    vpp_ipfix_report_delete, vpp_ipfix_reports_reset, vpp_ipfix_stream_change,
    vpp_ipfix_stream_reset,
};
use vpp_ipfix::types::{ipfix_report_element_t, opaque_t, vnet_flow_report_add_del_args_t};
use vpp_ipfix::wire::FieldSpec;

use crate::abi::{buffered, counters, finished, report, report_counters, report_index};
use crate::control::{Control, LiveReport, LiveStream};
use crate::ledger::ExporterEntry;
use crate::record::LAYOUTS;
use crate::{MAX_REPORTS, MAX_STREAMS};

impl Control {
    pub(crate) fn add_report(&mut self, slot: usize) {
        let e = self.exporter(slot);
        let on_slot: Vec<LiveStream> = self
            .streams
            .iter()
            .filter(|s| s.slot == slot)
            .cloned()
            .collect();
        if self.uids_of_slot(slot).len() >= MAX_REPORTS {
            return;
        }
        let new_stream =
            on_slot.is_empty() || (on_slot.len() < MAX_STREAMS && self.rng.chance(0.5));
        let (domain, port) = if new_stream {
            let Some(port) = self.free_port(slot) else {
                return;
            };
            self.next_domain += 1;
            (self.next_domain, port)
        } else {
            let s = &on_slot[self.rng.below(on_slot.len())];
            (s.domain, s.port)
        };
        let layout = self.rng.below(LAYOUTS.len());
        self.next_uid += 1;
        let uid = self.next_uid;
        let mut template_id = 0;
        let by_fields = self.rng.chance(0.5);
        // The ledger is locked across the call: with the timer on, a timer round may send
        // the new template before the call returns, and the collector must know whose it
        // is when it arrives.
        let shared = self.shared.clone();
        let mut ledger = shared.ledger();
        // Both ways in: field specifiers, and VPP's elements.
        let rc = if by_fields {
            let fields: Vec<FieldSpec> = LAYOUTS[layout]
                .iter()
                .map(|&(id, l)| FieldSpec::new(id, l))
                .collect();
            let config = vpp_ipfix_report_config_t {
                domain_id: domain,
                src_port: port,
                fields: fields.as_ptr(),
                n_fields: fields.len() as u32,
                opaque: opaque_t {
                    as_uword: uid as usize,
                },
            };
            vpp_ipfix_report_add(
                self.main().get(),
                e,
                &config,
                std::ptr::null_mut(),
                &mut template_id,
            )
        } else {
            let mut elements: Vec<ipfix_report_element_t> = LAYOUTS[layout]
                .iter()
                .map(|&(id, l)| ipfix_report_element_t {
                    info_element: u32::from(id),
                    size: u32::from(l),
                })
                .collect();
            let mut a = vnet_flow_report_add_del_args_t {
                flow_data_callback: None,
                rewrite_callback: None,
                report_elements: elements.as_mut_ptr(),
                n_report_elements: elements.len() as u32,
                opaque: opaque_t {
                    as_uword: uid as usize,
                },
                is_add: 1,
                domain_id: domain,
                src_port: port,
                stream_indexp: std::ptr::null_mut(),
                flow_report_index: 0,
            };
            vpp_ipfix_report_add_del(self.main().get(), e, &mut a, &mut template_id)
        };
        if rc != 0 {
            let name = self.slots[slot].name;
            return ledger.error(format!(
                "add report {uid} to {name} ({domain}, {port}): {rc}"
            ));
        }
        if new_stream {
            let s = &self.slots[slot];
            ledger.new_stream(domain, port, s.live.unwrap().1, s.collector, s.src);
        }
        ledger.add_report(uid, template_id, layout, domain);
        drop(ledger);
        if new_stream {
            self.streams.push(LiveStream { domain, port, slot });
        }
        self.reports.push(LiveReport {
            uid,
            slot,
            domain,
            layout,
        });
        self.done("report add");
    }

    pub(crate) fn delete_report(&mut self) {
        if self.reports.is_empty() {
            return;
        }
        let rep = self.reports[self.rng.below(self.reports.len())].clone();
        let port = self
            .streams
            .iter()
            .find(|s| s.domain == rep.domain)
            .unwrap()
            .port;
        let e = self.exporter(rep.slot);
        let use_add_del = self.rng.chance(0.5);
        self.timer_stopped(|c| {
            let main = c.main();
            let r = report_index(main, e, rep.uid).unwrap();
            let dropped = report_counters(main, e, r).dropped_records;
            let (held, _) = c.buffered_of(e, &[rep.uid]);
            let before = counters(main, e);
            let rc = if use_add_del {
                let mut a = vnet_flow_report_add_del_args_t {
                    flow_data_callback: None,
                    rewrite_callback: None,
                    report_elements: std::ptr::null_mut(),
                    n_report_elements: 0,
                    opaque: opaque_t {
                        as_uword: rep.uid as usize,
                    },
                    is_add: 0,
                    domain_id: rep.domain,
                    src_port: port,
                    stream_indexp: std::ptr::null_mut(),
                    flow_report_index: 0,
                };
                vpp_ipfix_report_add_del(main.get(), e, &mut a, std::ptr::null_mut())
            } else {
                let opaque = opaque_t {
                    as_uword: rep.uid as usize,
                };
                vpp_ipfix_report_delete(
                    main.get(),
                    e,
                    rep.domain,
                    port,
                    opaque,
                    std::ptr::null_mut(),
                )
            };
            if !c.check(&format!("delete report {}", rep.uid), rc) {
                return;
            }
            let after = counters(main, e);
            // The deletion sent what the workers' buffers held: each record sent or dropped.
            if finished(&after) - finished(&before) != held {
                c.error(format!(
                    "deleting report {} held {held} records; the exporter finished {}",
                    rep.uid,
                    finished(&after) - finished(&before)
                ));
            }
            let mut ledger = c.shared.ledger();
            ledger.drops(
                rep.uid,
                dropped,
                after.dropped_records - before.dropped_records,
            );
            ledger.close_report(rep.uid);
        });
        self.reports.retain(|r| r.uid != rep.uid);
        if !self.reports.iter().any(|r| r.domain == rep.domain) {
            self.streams.retain(|s| s.domain != rep.domain);
        }
        self.done("report delete");
    }

    /// Resets every stream of `slot` (`reports_reset`), or one (`stream_reset`).
    pub(crate) fn reset(&mut self, slot: usize, one: Option<u32>) {
        let e = self.exporter(slot);
        let domains: Vec<u32> = match one {
            Some(d) => vec![d],
            None => self
                .streams
                .iter()
                .filter(|s| s.slot == slot)
                .map(|s| s.domain)
                .collect(),
        };
        self.timer_stopped(|c| {
            let main = c.main();
            let uids: Vec<u32> = domains.iter().flat_map(|&d| c.uids_of_stream(d)).collect();
            let mut held = HashMap::new();
            for &uid in &uids {
                let r = report_index(main, e, uid).unwrap();
                for t in 0..c.shared.n_threads {
                    held.insert((uid, t), buffered(main, e, r, t));
                }
            }
            let before = counters(main, e);
            let rc = match one {
                Some(d) => {
                    let r = report_index(main, e, c.uids_of_stream(d)[0]).unwrap();
                    let stream_index = report(main, e, r).stream_index;
                    vpp_ipfix_stream_reset(main.get(), e, stream_index)
                }
                None => vpp_ipfix_reports_reset(main.get(), e),
            };
            if !c.check("reset", rc) {
                return;
            }
            // A reset sends nothing: the buffered records stay for the new epoch.
            if finished(&counters(main, e)) != finished(&before) {
                c.error(format!("a reset of exporter {e} sent records"));
            }
            for &uid in &uids {
                let r = report_index(main, e, uid).unwrap();
                for t in 0..c.shared.n_threads {
                    if buffered(main, e, r, t) != held[&(uid, t)] {
                        c.error(format!(
                            "a reset of exporter {e} changed report {uid}'s buffers"
                        ));
                    }
                }
            }
            let mut ledger = c.shared.ledger();
            for &d in &domains {
                ledger.reset_stream(d, &|uid, t| held[&(uid, t)]);
            }
        });
        self.done(if one.is_some() {
            "stream reset"
        } else {
            "reports reset"
        });
    }

    pub(crate) fn change_stream(&mut self) {
        if self.streams.is_empty() {
            return;
        }
        let s = self.streams[self.rng.below(self.streams.len())].clone();
        let port = if self.rng.chance(0.5) {
            s.port
        } else {
            self.free_port(s.slot).unwrap_or(s.port)
        };
        self.next_domain += 1;
        let domain = self.next_domain;
        let e = self.exporter(s.slot);
        let all = self.uids_of_slot(s.slot);
        let on_stream = self.uids_of_stream(s.domain);
        self.timer_stopped(|c| {
            let main = c.main();
            let (held, _) = c.buffered_of(e, &all);
            let before = counters(main, e);
            let rc = vpp_ipfix_stream_change(main.get(), e, s.domain, s.port, domain, port);
            if !c.check("stream change", rc) {
                return;
            }
            // The change sent every packet under construction of the exporter first.
            let sent = finished(&counters(main, e)) - finished(&before);
            if sent != held || c.buffered_of(e, &all).0 != 0 {
                c.error(format!(
                    "stream change of exporter {e}: held {held}, finished {sent}"
                ));
            }
            // Drops so far belong to the old stream.
            c.read_drops(e, &on_stream);
            c.shared.ledger().change_stream(s.domain, domain, port);
        });
        for r in self.reports.iter_mut().filter(|r| r.domain == s.domain) {
            r.domain = domain;
        }
        let live = self
            .streams
            .iter_mut()
            .find(|x| x.domain == s.domain)
            .unwrap();
        (live.domain, live.port) = (domain, port);
        self.done("stream change");
    }

    pub(crate) fn set_exporter(&mut self, slot: usize) {
        let e = self.exporter(slot);
        let config = self.config(slot);
        let all = self.uids_of_slot(slot);
        let exact = !self.timer_on;
        let main = self.main();
        let (held, _) = if exact {
            self.buffered_of(e, &all)
        } else {
            (0, 0)
        };
        let before = counters(main, e);
        if !self.check(
            "exporter set",
            vpp_ipfix_exporter_set(main.get(), e, &config),
        ) {
            return;
        }
        // The new settings apply to new packets: the old ones were sent first.
        let sent = finished(&counters(main, e)) - finished(&before);
        if exact && (sent != held || self.buffered_of(e, &all).0 != 0) {
            self.error(format!("exporter set of {e}: held {held}, finished {sent}"));
        }
        self.done("exporter set");
    }

    pub(crate) fn delete_exporter(&mut self, slot: usize) {
        let (e, entry) = self.slots[slot].live.unwrap();
        let uids = self.uids_of_slot(slot);
        self.timer_stopped(|c| {
            let main = c.main();
            c.read_drops(e, &uids);
            let (records, packets) = c.buffered_of(e, &uids);
            let last = counters(main, e);
            if !c.check("exporter delete", vpp_ipfix_exporter_delete(main.get(), e)) {
                return;
            }
            let mut ledger = c.shared.ledger();
            let x = &mut ledger.exporters[entry];
            x.last = Some(last);
            x.deleted = true;
            x.flushed_records = records;
            x.flushed_packets = packets;
            x.reports_at_delete = uids.len() as u64;
            for &uid in &uids {
                ledger.close_report(uid);
            }
        });
        self.reports.retain(|r| r.slot != slot);
        self.streams.retain(|s| s.slot != slot);
        self.slots[slot].live = None;
        self.done("exporter delete");
    }

    pub(crate) fn create_exporter(&mut self, slot: usize) {
        let config = self.config(slot);
        let mut e = 0;
        if !self.check(
            &format!("exporter create {}", self.slots[slot].name),
            vpp_ipfix_exporter_create(self.main().get(), &config, &mut e),
        ) {
            return;
        }
        // A new exporter starts from nothing, whatever its slot's earlier exporter lost
        // (recreated_exporter_counters_start_from_zero).
        let c = counters(self.main(), e);
        if c != vpp_ipfix_counters_t::default() {
            self.error(format!("new exporter {e} starts with counters {c:?}"));
        }
        let mut ledger = self.shared.ledger();
        ledger
            .exporters
            .push(ExporterEntry::new(self.slots[slot].name, e));
        self.slots[slot].live = Some((e, ledger.exporters.len() - 1));
        drop(ledger);
        self.done("exporter create");
    }

    /// Configuration calls the API must refuse, with nothing changed.
    pub(crate) fn refusals(&mut self) {
        let main = self.main().get();
        let e = self.exporter(0);
        let cases = [
            ("delete exporter 0", vpp_ipfix_exporter_delete(main, 0)),
            (
                "delete an unknown report",
                vpp_ipfix_report_delete(
                    main,
                    e,
                    u32::MAX - 1,
                    1,
                    opaque_t { as_uword: 0 },
                    std::ptr::null_mut(),
                ),
            ),
            (
                "reset an unknown stream",
                vpp_ipfix_stream_reset(main, e, 999),
            ),
            (
                "change an unknown stream",
                vpp_ipfix_stream_change(main, e, u32::MAX - 1, 1, u32::MAX - 2, 2),
            ),
        ];
        for (what, rc) in cases {
            if rc == 0 {
                self.error(format!("{what} was accepted"));
            }
            self.ops.refused_on_purpose += 1;
        }
    }
}
