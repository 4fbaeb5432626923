//! The control thread: its exporters, streams and reports, and what it does under each
//! barrier (the operations themselves are in `control_ops`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use vpp_ipfix::exporter::vpp_ipfix_exporter_config_t;
use vpp_ipfix::ffi::exporter::vpp_ipfix_exporter_get;
use vpp_ipfix::ffi::report::vpp_ipfix_stream_get;
use vpp_ipfix::ffi::timer::{vpp_ipfix_timer_start, vpp_ipfix_timer_stop};

use crate::abi::{buffered, n_reports, report, report_counters, report_index, MainPtr};
use crate::common::udp::ip_address;
use crate::record::Rng;
use crate::shared::{Shared, Snapshot, Target};
use crate::{IDLE_AGE, MAX_EXPORTERS, MTUS};

/// The exporters the control thread keeps: 0 (IPv4, never deleted), and an IPv6 and a
/// second IPv4 one that are deleted and created again.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) name: &'static str,
    pub(crate) collector: usize,
    pub(crate) addr: SocketAddr,
    pub(crate) src: IpAddr,
    pub(crate) ports: Vec<u16>,
    /// (exporter index, ledger entry) while it exists.
    pub(crate) live: Option<(u32, usize)>,
}

#[derive(Clone, Debug)]
pub(crate) struct LiveStream {
    pub(crate) domain: u32,
    pub(crate) port: u16,
    pub(crate) slot: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct LiveReport {
    pub(crate) uid: u32,
    pub(crate) slot: usize,
    pub(crate) domain: u32,
    pub(crate) layout: usize,
}

#[derive(Debug, Default)]
pub(crate) struct OpCounts {
    pub(crate) done: BTreeMap<&'static str, u64>,
    pub(crate) refused_on_purpose: u64,
}

pub(crate) struct Control {
    pub(crate) shared: Arc<Shared>,
    pub(crate) rng: Rng,
    pub(crate) slots: Vec<Slot>,
    pub(crate) streams: Vec<LiveStream>,
    pub(crate) reports: Vec<LiveReport>,
    pub(crate) next_domain: u32,
    pub(crate) next_uid: u32,
    pub(crate) timer_on: bool,
    pub(crate) ops: OpCounts,
}

impl Control {
    pub(crate) fn main(&self) -> MainPtr {
        self.shared.main
    }

    pub(crate) fn exporter(&self, slot: usize) -> u32 {
        self.slots[slot].live.unwrap().0
    }

    pub(crate) fn error(&self, e: String) {
        self.shared.ledger().error(e);
    }

    pub(crate) fn check(&self, what: &str, rc: i32) -> bool {
        if rc != 0 {
            self.error(format!("{what}: {rc}"));
        }
        rc == 0
    }

    pub(crate) fn done(&mut self, op: &'static str) {
        *self.ops.done.entry(op).or_default() += 1;
    }

    pub(crate) fn config(&mut self, slot: usize) -> vpp_ipfix_exporter_config_t {
        let s = &self.slots[slot];
        vpp_ipfix_exporter_config_t {
            collector: ip_address(s.addr.ip()),
            collector_port: s.addr.port(),
            src_address: ip_address(s.src),
            path_mtu: MTUS[self.rng.below(MTUS.len())],
            template_interval: 1 + self.rng.below(30) as u32,
            udp_checksum: self.rng.below(2) as u8,
            ..Default::default()
        }
    }

    /// Runs `f` with the timer stopped (it flushes workers' buffers from its own thread,
    /// which reads of those buffers and exact counter deltas cannot have).
    pub(crate) fn timer_stopped(&mut self, f: impl FnOnce(&mut Self)) {
        let was_on = self.timer_on;
        if was_on {
            self.check("timer_stop", vpp_ipfix_timer_stop(self.main().get()));
            self.timer_on = false;
        }
        f(self);
        if was_on {
            self.check(
                "timer_start",
                vpp_ipfix_timer_start(self.main().get(), IDLE_AGE, 0.0),
            );
            self.timer_on = true;
        }
    }

    pub(crate) fn live_slots(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&s| self.slots[s].live.is_some())
            .collect()
    }

    pub(crate) fn free_port(&mut self, slot: usize) -> Option<u16> {
        let used: Vec<u16> = self
            .streams
            .iter()
            .filter(|s| s.slot == slot)
            .map(|s| s.port)
            .collect();
        let free: Vec<u16> = self.slots[slot]
            .ports
            .iter()
            .copied()
            .filter(|p| !used.contains(p))
            .collect();
        (!free.is_empty()).then(|| free[self.rng.below(free.len())])
    }

    /// Sums `buffered` over every thread of the reports of `uids` (exporter `e`).
    pub(crate) fn buffered_of(&self, e: u32, uids: &[u32]) -> (u64, u64) {
        let (mut records, mut packets) = (0, 0);
        for &uid in uids {
            let r = report_index(self.main(), e, uid).unwrap();
            for t in 0..self.shared.n_threads {
                let n = buffered(self.main(), e, r, t);
                records += n;
                packets += u64::from(n > 0);
            }
        }
        (records, packets)
    }

    pub(crate) fn uids_of_slot(&self, slot: usize) -> Vec<u32> {
        self.reports
            .iter()
            .filter(|r| r.slot == slot)
            .map(|r| r.uid)
            .collect()
    }

    pub(crate) fn uids_of_stream(&self, domain: u32) -> Vec<u32> {
        self.reports
            .iter()
            .filter(|r| r.domain == domain)
            .map(|r| r.uid)
            .collect()
    }

    /// Reads the report counters of `uids` and counts their new drops in their streams.
    pub(crate) fn read_drops(&self, e: u32, uids: &[u32]) {
        for &uid in uids {
            let r = report_index(self.main(), e, uid).unwrap();
            let c = report_counters(self.main(), e, r);
            if c.alloc_failures != 0 {
                self.error(format!(
                    "report {uid}: {} allocation failures",
                    c.alloc_failures
                ));
            }
            self.shared.ledger().drops(uid, c.dropped_records, 0);
        }
    }

    /// One barrier: 1 to 3 operations at random.
    pub(crate) fn reconfigure(&mut self) {
        for _ in 0..1 + self.rng.below(3) {
            let live = self.live_slots();
            let slot = live[self.rng.below(live.len())];
            let dead: Vec<usize> = (1..self.slots.len())
                .filter(|s| self.slots[*s].live.is_none())
                .collect();
            let few = self.reports.len() < 4;
            match self.rng.below(20) {
                0..=3 => self.add_report(slot),
                _ if few => self.add_report(slot),
                4..=6 => self.delete_report(),
                7 => self.reset(slot, None),
                8 | 9 => {
                    let on_slot: Vec<u32> = self
                        .streams
                        .iter()
                        .filter(|s| s.slot == slot)
                        .map(|s| s.domain)
                        .collect();
                    if !on_slot.is_empty() {
                        let d = on_slot[self.rng.below(on_slot.len())];
                        self.reset(slot, Some(d));
                    }
                }
                10 | 11 => self.change_stream(),
                12..=14 => self.set_exporter(slot),
                15 if slot != 0 => self.delete_exporter(slot),
                16 if !dead.is_empty() => {
                    let s = dead[self.rng.below(dead.len())];
                    self.create_exporter(s);
                    for _ in 0..2 {
                        if self.slots[s].live.is_some() {
                            self.add_report(s);
                        }
                    }
                }
                17 => {
                    let rc = if self.timer_on {
                        vpp_ipfix_timer_stop(self.main().get())
                    } else {
                        vpp_ipfix_timer_start(self.main().get(), IDLE_AGE, 0.0)
                    };
                    if self.check("timer toggle", rc) {
                        self.timer_on = !self.timer_on;
                        self.done("timer on/off");
                    }
                }
                18 => self.refusals(),
                _ => self.add_report(slot),
            }
        }
    }

    /// What the workers may write to now, checked against the library's own view (on a
    /// mismatch they get nothing to write to: the run fails anyway).
    pub(crate) fn publish(&mut self) {
        let snap = self.snapshot().unwrap_or_else(|e| {
            self.error(e);
            Snapshot::default()
        });
        *self.shared.snapshot.lock().unwrap() = Arc::new(snap);
    }

    fn snapshot(&self) -> Result<Snapshot, String> {
        let main = self.main();
        let mut snap = Snapshot {
            timer_on: self.timer_on,
            ..Default::default()
        };
        let ledger = self.shared.ledger();
        // Exporters not in use, some just deleted.
        for e in 1..MAX_EXPORTERS {
            if !self
                .slots
                .iter()
                .any(|s| s.live.is_some_and(|(i, _)| i == e))
            {
                snap.invalid.push((e, 0));
            }
        }
        for (slot, s) in self.slots.iter().enumerate() {
            let Some((e, _)) = s.live else { continue };
            // SAFETY: a live exporter, read under the barrier.
            let path_mtu = unsafe { (*vpp_ipfix_exporter_get(main.get(), e)).path_mtu };
            let n = n_reports(main, e);
            // One past the last report.
            snap.invalid.push((e, n));
            let expected = self.reports.iter().filter(|r| r.slot == slot).count();
            if n as usize != expected {
                return Err(format!("exporter {e} has {n} reports, expected {expected}"));
            }
            for r in 0..n {
                let fr = report(main, e, r);
                let uid = fr.opaque.as_uword as u32;
                let live = self
                    .reports
                    .iter()
                    .find(|x| x.uid == uid && x.slot == slot)
                    .ok_or(format!("exporter {e} report {r} is {uid}, unknown"))?;
                // Its stream and template id, as the library has them.
                let stream = vpp_ipfix_stream_get(main.get(), e, fr.stream_index);
                // SAFETY: non-null from the library, read under the barrier.
                let key = (!stream.is_null())
                    .then(|| unsafe { ((*stream).domain_id, (*stream).src_port) });
                let port = self
                    .streams
                    .iter()
                    .find(|s| s.domain == live.domain)
                    .map(|s| s.port);
                let template_id = ledger.reports[&uid].template_id;
                if key != port.map(|p| (live.domain, p)) || fr.template_id != template_id {
                    return Err(format!(
                        "exporter {e} report {r} (uid {uid}) is in stream {key:?} with template {}; \
                         expected ({}, {port:?}) with template {template_id}",
                        fr.template_id, live.domain
                    ));
                }
                snap.targets.push(Target {
                    exporter: e,
                    report: r,
                    uid,
                    layout: live.layout,
                    fr: std::ptr::from_ref(fr) as usize,
                    path_mtu,
                    written: ledger.reports[&uid].written.clone(),
                });
            }
        }
        Ok(snap)
    }
}
