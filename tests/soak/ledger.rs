//! What was sent and what arrived: the ledger the control thread and the workers fill
//! and the collectors check against.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

use vpp_ipfix::counters::vpp_ipfix_counters_t;

use crate::GRACE;

/// Disjoint half-open ranges of u64, merged when adjacent.
#[derive(Debug, Default)]
pub(crate) struct RangeSet(BTreeMap<u64, u64>);

impl RangeSet {
    /// Adds `start..end`; the range it overlaps, if any (nothing is added then).
    pub(crate) fn insert(&mut self, start: u64, end: u64) -> Result<(), (u64, u64)> {
        if let Some((&s, &e)) = self.0.range(..=start).next_back() {
            if e > start {
                return Err((s, e));
            }
        }
        if let Some((&s, &e)) = self.0.range(start..).next() {
            if s < end {
                return Err((s, e));
            }
        }
        let mut from = start;
        if let Some((&s, &e)) = self.0.range(..=start).next_back() {
            if e == start {
                from = s;
            }
        }
        let to = self.0.remove(&end).unwrap_or(end);
        self.0.insert(from, to);
        Ok(())
    }

    pub(crate) fn end(&self) -> u64 {
        self.0.last_key_value().map_or(0, |(_, &e)| e)
    }

    /// True when the set is exactly `0..total`.
    pub(crate) fn is_whole(&self, total: u64) -> bool {
        match total {
            0 => self.0.is_empty(),
            _ => self.0.len() == 1 && self.0.get(&0) == Some(&total),
        }
    }

    /// The gaps within 0..total, at most 5 of them.
    pub(crate) fn gaps(&self, total: u64) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut at = 0;
        for (&s, &e) in &self.0 {
            if s > at {
                gaps.push((at, s));
            }
            at = e;
        }
        if at < total {
            gaps.push((at, total));
        }
        gaps.truncate(5);
        gaps
    }
}

/// One stretch of a stream's sequence numbers: from the stream's creation or a reset to
/// the next reset or its end.
#[derive(Debug)]
pub(crate) struct Epoch {
    pub(crate) stream: u32,
    /// Sequence numbers of the data decoded.
    pub(crate) seqs: RangeSet,
    pub(crate) received: u64,
    /// Records numbered in it (complete once `closed`).
    pub(crate) total: u64,
    pub(crate) closed: Option<Instant>,
    /// Recent packet boundaries: where a template's sequence number may point.
    pub(crate) boundaries: BTreeSet<u64>,
    /// Closed, and its data tiled 0..total: `seqs` and `boundaries` are freed.
    pub(crate) done: bool,
}

impl Epoch {
    pub(crate) fn complete(&self) -> bool {
        self.done || (self.closed.is_some() && self.seqs.is_whole(self.total))
    }
}

/// One worker's records of one report.
#[derive(Debug, Default)]
pub(crate) struct ThreadRecords {
    /// (first record, epoch) of each stretch of them, in order: records `n` with
    /// `cuts[i].0 <= n < cuts[i + 1].0` are numbered in epoch `cuts[i].1`.
    pub(crate) cuts: Vec<(u64, usize)>,
    /// Records decoded (their `n`).
    pub(crate) received: RangeSet,
    /// Records written, once the report is gone (or the run is over).
    pub(crate) end: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct ReportEntry {
    pub(crate) template_id: u16,
    pub(crate) layout: usize,
    /// The stream (its domain) the report exports in now.
    pub(crate) stream: u32,
    pub(crate) threads: Vec<ThreadRecords>,
    /// Records written, per thread: each worker bumps its own, the control thread reads
    /// them under the barrier.
    pub(crate) written: Arc<[AtomicU64]>,
    /// Its `dropped_records` when last read, and every drop counted for it.
    pub(crate) dropped_read: u64,
    pub(crate) dropped: u64,
    pub(crate) gone: bool,
}

#[derive(Debug)]
pub(crate) struct StreamEntry {
    pub(crate) port: u16,
    pub(crate) exporter: usize,
    pub(crate) collector: usize,
    pub(crate) src: IpAddr,
    pub(crate) epochs: Vec<usize>,
    /// None once the stream has ended, and when.
    pub(crate) current: Option<usize>,
    pub(crate) ended: Option<Instant>,
    pub(crate) reports: Vec<u32>,
    /// Template ids of every report that exported in it: whose, and its layout.
    pub(crate) template_ids: HashMap<u16, (u32, usize)>,
    pub(crate) decoded: u64,
    pub(crate) dropped: u64,
    pub(crate) data_messages: u64,
    pub(crate) template_messages: u64,
    /// Sequence numbers of template messages that no data boundary has matched yet.
    pub(crate) pending_templates: Vec<u64>,
}

/// One exporter from its creation to its deletion.
#[derive(Debug)]
pub(crate) struct ExporterEntry {
    pub(crate) name: &'static str,
    pub(crate) index: u32,
    /// Drops counted by its reports (read before deletes, after changes, at the end).
    pub(crate) report_drops: u64,
    /// Its counters before it was deleted (or at the end), and what the deletion
    /// flushed: records, and packets under construction that held some.
    pub(crate) last: Option<vpp_ipfix_counters_t>,
    pub(crate) deleted: bool,
    pub(crate) flushed_records: u64,
    pub(crate) flushed_packets: u64,
    pub(crate) reports_at_delete: u64,
    /// What its retired streams decoded: records, data and template messages.
    pub(crate) retired: (u64, u64, u64),
}

impl ExporterEntry {
    /// A new exporter in slot `name` at index `index`: nothing counted yet.
    pub(crate) fn new(name: &'static str, index: u32) -> Self {
        ExporterEntry {
            name,
            index,
            report_drops: 0,
            last: None,
            deleted: false,
            flushed_records: 0,
            flushed_packets: 0,
            reports_at_delete: 0,
            retired: (0, 0, 0),
        }
    }
}

/// What the ledger forgot once complete, to keep the test's own memory flat.
#[derive(Debug, Default)]
pub(crate) struct Retired {
    pub(crate) streams: u64,
    pub(crate) epochs: u64,
    pub(crate) reports: u64,
    /// Records written in the streams forgotten (all decoded, none dropped).
    pub(crate) written: u64,
}

/// The accounting: what the control thread set up and the workers wrote, and what the
/// collectors decoded.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) n_threads: u32,
    pub(crate) reports: HashMap<u32, ReportEntry>,
    pub(crate) streams: HashMap<u32, StreamEntry>,
    pub(crate) epochs: HashMap<usize, Epoch>,
    pub(crate) n_epochs: usize,
    pub(crate) exporters: Vec<ExporterEntry>,
    pub(crate) retired: Retired,
    pub(crate) errors: Vec<String>,
    pub(crate) n_errors: u64,
    pub(crate) data_before_template: u64,
}

impl Ledger {
    pub(crate) fn error(&mut self, e: String) {
        self.n_errors += 1;
        if self.errors.len() < 30 {
            self.errors.push(e);
        }
    }

    fn open_epoch(&mut self, stream: u32) -> usize {
        self.n_epochs += 1;
        let epoch = Epoch {
            stream,
            seqs: RangeSet::default(),
            received: 0,
            total: 0,
            closed: None,
            boundaries: BTreeSet::from([0]),
            done: false,
        };
        self.epochs.insert(self.n_epochs, epoch);
        self.n_epochs
    }

    fn close_epoch(&mut self, e: usize) {
        self.epochs.get_mut(&e).unwrap().closed = Some(Instant::now());
    }

    /// Forgets what is complete and was for `GRACE`: epochs whose data tiled 0..total,
    /// reports gone whose every record arrived, ended streams of such epochs (their
    /// counts kept for the end). What is missing stays, for the verdict.
    pub(crate) fn retire(&mut self) {
        let old = |t: Option<Instant>| t.is_some_and(|t| t.elapsed() > GRACE);
        for ep in self.epochs.values_mut() {
            if !ep.done && old(ep.closed) && ep.complete() {
                (ep.seqs, ep.boundaries, ep.done) = (RangeSet::default(), BTreeSet::new(), true);
            }
        }
        let before = self.reports.len();
        self.reports.retain(|_, r| {
            let complete = |th: &ThreadRecords| th.received.is_whole(th.end.unwrap_or(0));
            !(r.gone && r.dropped == 0 && r.threads.iter().all(complete))
        });
        self.retired.reports += (before - self.reports.len()) as u64;
        let done: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| {
                old(s.ended)
                    && s.dropped == 0
                    && s.pending_templates.is_empty()
                    && s.epochs.iter().all(|e| self.epochs[e].done)
            })
            .map(|(&d, _)| d)
            .collect();
        for d in done {
            let s = self.streams.remove(&d).unwrap();
            for e in &s.epochs {
                self.retired.written += self.epochs.remove(e).unwrap().total;
            }
            self.retired.streams += 1;
            self.retired.epochs += s.epochs.len() as u64;
            let x = &mut self.exporters[s.exporter];
            x.retired.0 += s.decoded;
            x.retired.1 += s.data_messages;
            x.retired.2 += s.template_messages;
        }
    }

    pub(crate) fn new_stream(
        &mut self,
        domain: u32,
        port: u16,
        exporter: usize,
        collector: usize,
        src: IpAddr,
    ) {
        let e = self.open_epoch(domain);
        let old = self.streams.insert(
            domain,
            StreamEntry {
                port,
                exporter,
                collector,
                src,
                epochs: vec![e],
                current: Some(e),
                ended: None,
                reports: Vec::new(),
                template_ids: HashMap::new(),
                decoded: 0,
                dropped: 0,
                data_messages: 0,
                template_messages: 0,
                pending_templates: Vec::new(),
            },
        );
        assert!(old.is_none(), "domain {domain} used twice");
    }

    pub(crate) fn add_report(
        &mut self,
        uid: u32,
        template_id: u16,
        layout: usize,
        domain: u32,
    ) -> Arc<[AtomicU64]> {
        let stream = self.streams.get_mut(&domain).unwrap();
        let e = stream.current.unwrap();
        stream.reports.push(uid);
        stream.template_ids.insert(template_id, (uid, layout));
        let written: Arc<[AtomicU64]> = (0..self.n_threads).map(|_| AtomicU64::new(0)).collect();
        let threads = (0..self.n_threads)
            .map(|_| ThreadRecords {
                cuts: vec![(0, e)],
                ..Default::default()
            })
            .collect();
        self.reports.insert(
            uid,
            ReportEntry {
                template_id,
                layout,
                stream: domain,
                threads,
                written: written.clone(),
                dropped_read: 0,
                dropped: 0,
                gone: false,
            },
        );
        written
    }

    /// Thread `t`'s records of `uid` from `at` on go to epoch `into` (none: there are no
    /// more); the epoch they leave counts those before.
    fn cut(&mut self, uid: u32, t: usize, at: u64, into: Option<usize>) {
        let th = &mut self.reports.get_mut(&uid).unwrap().threads[t];
        let (start, e) = *th.cuts.last().unwrap();
        match into {
            Some(next) => th.cuts.push((at, next)),
            None => th.end = Some(at),
        }
        if at < start {
            self.error(format!(
                "report {uid} thread {t}: cut at {at} before {start}"
            ));
        } else {
            self.epochs.get_mut(&e).unwrap().total += at - start;
        }
    }

    fn written(&self, uid: u32, t: usize) -> u64 {
        self.reports[&uid].written[t].load(SeqCst)
    }

    /// A reset of stream `domain`: a new epoch, into which go the records still in the
    /// workers' buffers (`buffered(uid, t)`) and all later ones.
    pub(crate) fn reset_stream(&mut self, domain: u32, buffered: &dyn Fn(u32, u32) -> u64) {
        let next = self.open_epoch(domain);
        let stream = self.streams.get_mut(&domain).unwrap();
        let old = stream.current.replace(next).unwrap();
        stream.epochs.push(next);
        let uids = stream.reports.clone();
        self.close_epoch(old);
        for uid in uids {
            for t in 0..self.n_threads {
                let at = self.written(uid, t as usize) - buffered(uid, t);
                self.cut(uid, t as usize, at, Some(next));
            }
        }
    }

    /// `stream_change` from `old` to a new stream `new` on the same exporter (the change
    /// sent every buffered record first).
    pub(crate) fn change_stream(&mut self, old: u32, new: u32, port: u16) {
        let s = &self.streams[&old];
        let (exporter, collector, src) = (s.exporter, s.collector, s.src);
        self.new_stream(new, port, exporter, collector, src);
        let next = self.streams[&new].current.unwrap();
        self.end_stream(old);
        let uids = std::mem::take(&mut self.streams.get_mut(&old).unwrap().reports);
        for &uid in &uids {
            for t in 0..self.n_threads as usize {
                let at = self.written(uid, t);
                self.cut(uid, t, at, Some(next));
            }
            let rep = self.reports.get_mut(&uid).unwrap();
            rep.stream = new;
            let template = (rep.template_id, (uid, rep.layout));
            let s = self.streams.get_mut(&new).unwrap();
            s.template_ids.insert(template.0, template.1);
        }
        self.streams.get_mut(&new).unwrap().reports = uids;
    }

    fn end_stream(&mut self, domain: u32) {
        let s = self.streams.get_mut(&domain).unwrap();
        if let Some(e) = s.current.take() {
            s.ended = Some(Instant::now());
            self.close_epoch(e);
        }
    }

    /// The report is gone (deleted, its exporter deleted, or the run over): all it wrote
    /// was numbered in the epochs it was in.
    pub(crate) fn close_report(&mut self, uid: u32) {
        for t in 0..self.n_threads as usize {
            let at = self.written(uid, t);
            self.cut(uid, t, at, None);
        }
        let rep = self.reports.get_mut(&uid).unwrap();
        rep.gone = true;
        let domain = rep.stream;
        let s = self.streams.get_mut(&domain).unwrap();
        s.reports.retain(|&u| u != uid);
        if s.reports.is_empty() {
            self.end_stream(domain);
        }
    }

    /// `uid`'s report counters now say `dropped` (cumulative); `extra` more drops were
    /// seen elsewhere (the exporter's counters across its deletion). Counted in the
    /// stream it exports in now.
    pub(crate) fn drops(&mut self, uid: u32, dropped: u64, extra: u64) {
        let rep = self.reports.get_mut(&uid).unwrap();
        let delta = dropped.saturating_sub(rep.dropped_read) + extra;
        rep.dropped_read = rep.dropped_read.max(dropped);
        rep.dropped += delta;
        let s = self.streams.get_mut(&rep.stream).unwrap();
        s.dropped += delta;
        self.exporters[s.exporter].report_drops += delta;
    }
}
