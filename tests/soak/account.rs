//! Each decoded message checked against the ledger and counted in it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::common::ipfix::{be_uint, Message};
use crate::ledger::Ledger;
use crate::record::{encode, LAYOUTS};
use crate::BOUNDARY_WINDOW;

impl Ledger {
    /// One decoded message from `from`, received by collector `collector`.
    pub(crate) fn account(
        &mut self,
        collector: usize,
        from: SocketAddr,
        m: &Message,
        decoded: &AtomicU64,
    ) {
        let domain = m.domain_id;
        let Some(s) = self.streams.get(&domain) else {
            return self.error(format!("a message of unknown domain {domain} from {from}"));
        };
        if (s.collector, s.src, s.port) != (collector, from.ip(), from.port()) {
            return self.error(format!(
                "domain {domain} came from {from} to collector {collector}, expected {}:{} to {}",
                s.src, s.port, s.collector
            ));
        }
        if !m.options_templates.is_empty() || !m.redefined_templates.is_empty() {
            return self.error(format!("domain {domain}: options or redefined templates"));
        }
        let seq = u64::from(m.sequence_number);
        if !m.templates.is_empty() {
            self.account_templates(domain, seq, m);
        }
        if !m.data_records.is_empty() {
            self.account_data(domain, seq, m, decoded);
        }
    }

    fn account_templates(&mut self, domain: u32, seq: u64, m: &Message) {
        for tpl in &m.templates {
            let s = &self.streams[&domain];
            let Some(&(_, layout)) = s.template_ids.get(&tpl.id) else {
                // Whose it could be: the streams that have a report with that id.
                let others: Vec<(u32, (u32, usize))> = self
                    .streams
                    .iter()
                    .filter_map(|(d, o)| o.template_ids.get(&tpl.id).map(|x| (*d, *x)))
                    .collect();
                let fields: Vec<(u16, u16)> = tpl
                    .fields
                    .iter()
                    .map(|f| (f.element_id, f.length))
                    .collect();
                return self.error(format!(
                    "domain {domain} seq {seq}: template {} {fields:?} is no report's of the \
                     stream (its (template, (report, layout)): {:?}); streams with a report of \
                     that template id: {others:?}",
                    tpl.id, self.streams[&domain].template_ids
                ));
            };
            let layout = LAYOUTS[layout];
            let fields: Vec<(u16, u16)> = tpl
                .fields
                .iter()
                .map(|f| (f.element_id, f.length))
                .collect();
            if fields != layout || tpl.fields.iter().any(|f| f.enterprise.is_some()) {
                return self.error(format!(
                    "domain {domain}: template {} is {fields:?}",
                    tpl.id
                ));
            }
        }
        let s = self.streams.get_mut(&domain).unwrap();
        s.template_messages += 1;
        // The stream's sequence number when it was sent: a point its data passes through.
        let known = s
            .epochs
            .iter()
            .any(|e| self.epochs[e].boundaries.contains(&seq));
        if !known {
            s.pending_templates.push(seq);
        }
    }

    fn account_data(&mut self, domain: u32, seq: u64, m: &Message, decoded: &AtomicU64) {
        let n = m.data_records.len() as u64;
        let first = &m.data_records[0];
        if first.values.len() < 3 {
            return self.error(format!(
                "domain {domain}: a record of {} fields",
                first.values.len()
            ));
        }
        let t = be_uint(&first.values[0]) as usize;
        let uid = be_uint(&first.values[1]) as u32;
        let n0 = be_uint(&first.values[2]);
        let Some(rep) = self.reports.get(&uid) else {
            return self.error(format!("domain {domain}: records of unknown report {uid}"));
        };
        if t == 0 || t >= rep.threads.len() || first.template_id != rep.template_id {
            return self.error(format!(
                "domain {domain}: records of report {uid} thread {t} in template {}",
                first.template_id
            ));
        }
        let layout = rep.layout;
        let mut expected = [0u8; 64];
        for (i, r) in m.data_records.iter().enumerate() {
            let n = n0 + i as u64;
            encode(layout, t as u32, uid, n, &mut expected);
            let mut at = 0;
            let same = r.template_id == first.template_id
                && r.values.len() == LAYOUTS[layout].len()
                && r.values.iter().all(|v| {
                    at += v.len();
                    expected.get(at - v.len()..at) == Some(v.as_slice())
                });
            if !same {
                return self.error(format!(
                    "domain {domain} seq {seq}: record {i} is not record {n} of report {uid} \
                     thread {t} (a packet holds consecutive records of one report and worker)"
                ));
            }
        }
        let th = &self.reports[&uid].threads[t];
        let epoch_of = |n: u64| th.cuts[th.cuts.partition_point(|&(at, _)| at <= n) - 1].1;
        let (e, e_last) = (epoch_of(n0), epoch_of(n0 + n - 1));
        let stream_of = |e| {
            self.epochs
                .get(&e)
                .filter(|ep| !ep.done)
                .map(|ep| ep.stream)
        };
        if e != e_last || stream_of(e) != Some(domain) {
            return self.error(format!(
                "domain {domain} seq {seq}: records {n0}..{} of report {uid} thread {t} belong \
                 to epochs {e} and {e_last} of domain {:?} (None: complete already)",
                n0 + n,
                stream_of(e)
            ));
        }
        let ep = self.epochs.get_mut(&e).unwrap();
        if let Err(o) = ep.seqs.insert(seq, seq + n) {
            return self.error(format!(
                "domain {domain} epoch {e}: sequence {seq}..{} overlaps {o:?}",
                seq + n
            ));
        }
        ep.received += n;
        for b in [seq, seq + n] {
            ep.boundaries.insert(b);
        }
        while ep.boundaries.len() > BOUNDARY_WINDOW {
            ep.boundaries.pop_first();
        }
        let th = &mut self.reports.get_mut(&uid).unwrap().threads[t];
        if let Err(o) = th.received.insert(n0, n0 + n) {
            return self.error(format!(
                "report {uid} thread {t}: records {n0}..{} received again ({o:?})",
                n0 + n
            ));
        }
        let s = self.streams.get_mut(&domain).unwrap();
        s.decoded += n;
        s.data_messages += 1;
        s.pending_templates.retain(|&p| p != seq && p != seq + n);
        decoded.fetch_add(n, Relaxed);
    }
}
