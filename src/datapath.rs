//! The hot path: a worker's packet under construction for one report. Get a buffer,
//! reserve room for records, send: no lock, no allocation by the library, one atomic add
//! per packet (the stream's sequence number).

use std::ffi::c_void;
use std::sync::atomic::Ordering::Relaxed;

use crate::counters::ThreadCounters;
use crate::error::{Error, Result};
use crate::exporter;
use crate::instance::Instance;
use crate::ops::{BufferHandle, Embedder};
use crate::packet::{self, Framing, MessageFields};
use crate::types::{
    flow_report_per_thread_t, flow_report_stream_t, flow_report_t, ipfix_exporter_t,
};

/// Everything one worker needs to export one report's records, borrowed shared: any
/// number of workers hold one at once, each with its own `flow_report_per_thread_t`.
pub struct DataPath<'a> {
    pub instance: &'a Instance,
    pub exp: &'a ipfix_exporter_t,
    pub report: &'a flow_report_t,
    pub stream: &'a flow_report_stream_t,
    pub counters: &'a ThreadCounters,
    pub embedder: &'a dyn Embedder,
    pub framing: Framing,
    pub exporter_index: u32,
    pub report_index: u32,
    pub thread_index: u32,
}

impl Instance {
    /// Checks (exporter, report, thread) and gathers the worker's view.
    pub fn data_path(
        &self,
        exporter_index: u32,
        r: u32,
        thread_index: u32,
    ) -> Result<DataPath<'_>> {
        self.check_report(exporter_index, r)?;
        if thread_index >= self.n_threads {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_WORKER);
        }
        let st = &self.state[exporter_index as usize];
        let report = &st.reports[r as usize];
        Ok(DataPath {
            instance: self,
            exp: &self.exporters[exporter_index as usize],
            report,
            stream: stream_of(&st.streams, report)?,
            counters: &st.report_state[r as usize].thread_counters[thread_index as usize],
            embedder: self.embedder.as_ref(),
            framing: self.framing(exporter_index),
            exporter_index,
            report_index: r,
            thread_index,
        })
    }

    /// Runs `f` with the worker's view and its per-thread state: the safe, exclusive form
    /// for Rust callers (the C ABI hands each worker its own state instead).
    pub fn with_worker<T>(
        &mut self,
        exporter_index: u32,
        r: u32,
        thread_index: u32,
        f: impl FnOnce(&DataPath<'_>, &mut flow_report_per_thread_t) -> T,
    ) -> Result<T> {
        self.check_report(exporter_index, r)?;
        if thread_index >= self.n_threads {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_WORKER);
        }
        // The state leaves its slot for the call, so the view can borrow the whole
        // instance; nothing else looks at the slot meanwhile (`&mut self`).
        fn slot(inst: &mut Instance, (e, r, t): (u32, u32, u32)) -> &mut flow_report_per_thread_t {
            &mut inst.state[e as usize].report_state[r as usize].per_thread[t as usize]
        }
        let at = (exporter_index, r, thread_index);
        let mut ptd = std::mem::take(slot(self, at));
        let out = self
            .data_path(exporter_index, r, thread_index)
            .map(|dp| f(&dp, &mut ptd));
        *slot(self, at) = ptd;
        out
    }

    /// Sends every packet under construction of report `r` (all threads). Workers must be
    /// stopped. Errors are counted; the buffers are gone either way.
    pub(crate) fn flush_report(&mut self, exporter_index: u32, r: u32) {
        for t in 0..self.n_threads {
            let _ = self.with_worker(exporter_index, r, t, |dp, ptd| {
                let _ = dp.send_buffer(ptd);
                discard(dp.embedder, t, ptd);
                dp.embedder.flush(t);
            });
        }
    }

    /// Sends every packet under construction of every report of an exporter.
    pub(crate) fn flush_exporter(&mut self, exporter_index: u32) {
        let n = self.state[exporter_index as usize].reports.len() as u32;
        for r in 0..n {
            self.flush_report(exporter_index, r);
        }
    }

    /// Sends every packet of every thread that has waited `max_age` seconds or more
    /// (the Rust form; C workers call `vpp_ipfix_thread_flush_idle` for their own).
    /// Returns how many went out.
    pub fn flush_idle(&mut self, max_age: f64) -> u32 {
        let now = self.embedder.now();
        let mut sent = 0;
        for e in 0..self.exporters.len() as u32 {
            if !self.state[e as usize].in_use {
                continue;
            }
            for r in 0..self.state[e as usize].reports.len() as u32 {
                for t in 0..self.n_threads {
                    let went =
                        self.with_worker(e, r, t, |dp, ptd| dp.flush_if_idle(ptd, now, max_age));
                    sent += u32::from(matches!(went, Ok(Ok(true))));
                }
            }
        }
        for t in 0..self.n_threads {
            self.embedder.flush(t);
        }
        sent
    }

    /// Sends every packet under construction, everywhere (shutdown, `ipfix flush`).
    pub fn flush_all(&mut self) {
        for e in 0..self.exporters.len() as u32 {
            if self.state[e as usize].in_use {
                self.flush_exporter(e);
            }
        }
        for t in 0..self.n_threads {
            self.embedder.flush(t);
        }
        self.embedder.sync();
    }
}

/// A report's stream. C may write `stream_index`; a bad one is an error, not a panic.
fn stream_of<'a>(
    streams: &'a [flow_report_stream_t],
    report: &flow_report_t,
) -> Result<&'a flow_report_stream_t> {
    streams
        .get(report.stream_index as usize)
        .ok_or(Error::VPP_IPFIX_ERROR_INVALID_VALUE)
}

/// Frees a per-thread buffer without sending it; returns the records it held.
pub fn discard(
    embedder: &dyn Embedder,
    thread_index: u32,
    ptd: &mut flow_report_per_thread_t,
) -> u16 {
    let records = ptd.n_data_records;
    if !ptd.packet.is_empty() {
        let handle = BufferHandle(*ptd.buffer.get_mut() as usize);
        let buf = std::mem::take(&mut ptd.packet);
        embedder.buffer_free(thread_index, handle, buf);
    }
    clear(ptd);
    records
}

fn clear(ptd: &mut flow_report_per_thread_t) {
    *ptd.buffer.get_mut() = std::ptr::null_mut();
    *ptd.frame.get_mut() = std::ptr::null_mut();
    ptd.next_data_offset = 0;
    ptd.n_data_records = 0;
    ptd.first_record_time = 0.0;
}

impl DataPath<'_> {
    /// The thread's current buffer, or a new one with room for the headers reserved
    /// (VPP's `vnet_ipfix_exp_get_buffer`). Allocation failure is counted.
    #[inline]
    pub fn get_buffer(&self, ptd: &mut flow_report_per_thread_t) -> Result<BufferHandle> {
        if !ptd.packet.is_empty() {
            return Ok(BufferHandle(*ptd.buffer.get_mut() as usize));
        }
        self.new_buffer(ptd)
    }

    #[cold]
    fn new_buffer(&self, ptd: &mut flow_report_per_thread_t) -> Result<BufferHandle> {
        if !exporter::is_enabled(self.exp) {
            return Err(Error::VPP_IPFIX_ERROR_EXPORTER_DISABLED);
        }
        let need = self.exp.path_mtu;
        let Some((handle, buf)) = self.embedder.buffer_alloc(self.thread_index, need) else {
            self.counters.alloc_failed();
            return Err(Error::VPP_IPFIX_ERROR_NO_BUFFER);
        };
        if buf.capacity() < need {
            self.embedder.buffer_free(self.thread_index, handle, buf);
            self.counters.alloc_failed();
            return Err(Error::VPP_IPFIX_ERROR_BUFFER_TOO_SMALL);
        }
        *ptd.buffer.get_mut() = handle.0 as *mut c_void;
        ptd.packet = buf;
        ptd.next_data_offset = self.framing.all_headers_size() as u16;
        ptd.n_data_records = 0;
        // A buffer is taken when the first record needs it: its age is the oldest
        // record's, whichever way the caller writes records.
        ptd.first_record_time = self.embedder.now();
        Ok(handle)
    }

    /// Room for one record of `size` bytes, in the current packet if it fits the path
    /// MTU, else in a new one after sending the full one. The caller writes the record
    /// into the returned bytes; it is counted as written.
    #[inline]
    pub fn reserve<'p>(
        &self,
        ptd: &'p mut flow_report_per_thread_t,
        size: u16,
    ) -> Result<&'p mut [u8]> {
        let limit = self.framing.max_len(self.exp.path_mtu);
        let size = usize::from(size);
        if size == 0 {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT);
        }
        if self.framing.all_headers_size() + size > limit {
            return Err(Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG);
        }
        if !ptd.packet.is_empty() && usize::from(ptd.next_data_offset) + size > limit {
            // A refused packet is counted as dropped; the record still goes in a new one.
            let _ = self.send_buffer(ptd);
        }
        self.get_buffer(ptd)?;
        let at = usize::from(ptd.next_data_offset);
        if at + size > limit || ptd.n_data_records == u16::MAX {
            // The caller moved the offset past the MTU by hand: not a packet we can send.
            self.drop_packet(ptd);
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE);
        }
        ptd.next_data_offset = (at + size) as u16;
        ptd.n_data_records += 1;
        ptd.packet
            .bytes_mut()
            .get_mut(at..at + size)
            .ok_or(Error::VPP_IPFIX_ERROR_BUFFER_TOO_SMALL)
    }

    /// Copies one record into the packet (sending the full packet first when needed).
    #[inline]
    pub fn append(&self, ptd: &mut flow_report_per_thread_t, record: &[u8]) -> Result<()> {
        let size =
            u16::try_from(record.len()).map_err(|_| Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG)?;
        self.reserve(ptd, size)?.copy_from_slice(record);
        Ok(())
    }

    /// Finishes and hands the packet to the embedder (VPP's `vnet_ipfix_exp_send_buffer`):
    /// nothing when no record was written; else every header, the export time, the
    /// sequence number (one atomic add of this packet's records), checksums; then the
    /// thread's state is cleared. A refused packet's records are counted as dropped and
    /// still advance the sequence number, so the collector sees the loss (RFC 7011 §3.1).
    pub fn send_buffer(&self, ptd: &mut flow_report_per_thread_t) -> Result<()> {
        let len = usize::from(ptd.next_data_offset);
        if ptd.packet.is_empty() || len <= self.framing.all_headers_size() {
            return Ok(());
        }
        if len > self.framing.max_len(self.exp.path_mtu) || len > ptd.packet.capacity() as usize {
            self.drop_packet(ptd);
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE);
        }
        self.ensure_template();
        let records = ptd.n_data_records;
        let sequence_number = self
            .stream
            .sequence_number
            .fetch_add(u32::from(records), Relaxed);
        let fields = MessageFields {
            domain_id: self.stream.domain_id,
            src_port: self.stream.src_port,
            export_time: self.embedder.now() as u32,
            sequence_number,
            data_set_id: Some(self.report.template_id),
        };
        packet::finish(
            &mut ptd.packet.bytes_mut()[..len],
            self.exp,
            self.framing,
            &fields,
        );
        let handle = BufferHandle(*ptd.buffer.get_mut() as usize);
        let buf = std::mem::take(&mut ptd.packet);
        clear(ptd);
        let info = packet::info(self.exp, self.exporter_index, &fields, len, records);
        match self.embedder.enqueue(self.thread_index, handle, buf, &info) {
            Ok(()) => {
                self.counters.sent(u64::from(records), len as u64);
                Ok(())
            }
            Err(_) => {
                self.counters.dropped(u64::from(records));
                Err(Error::VPP_IPFIX_ERROR_ENQUEUE_FAILED)
            }
        }
    }

    /// Sends the report's template first if it never went out, so no data reaches the
    /// collector before its template (RFC 7011 §8): one load per packet. Reports whose
    /// template comes from a rewrite callback are the VPP shim's to send.
    fn ensure_template(&self) {
        if self.report.last_template_sent.load() == 0.0 {
            let now = self.embedder.now();
            let _ = self.instance.send_template_from(
                self.exporter_index,
                self.report_index,
                now,
                self.thread_index,
            );
        }
    }

    /// Sends the thread's packet if it holds records and its buffer was taken at least
    /// `max_age` seconds before `now`, so records never wait forever in a quiet worker.
    /// Returns whether a packet went out.
    pub fn flush_if_idle(
        &self,
        ptd: &mut flow_report_per_thread_t,
        now: f64,
        max_age: f64,
    ) -> Result<bool> {
        if ptd.packet.is_empty()
            || usize::from(ptd.next_data_offset) <= self.framing.all_headers_size()
            || now - ptd.first_record_time < max_age
        {
            return Ok(false);
        }
        self.send_buffer(ptd).map(|()| true)
    }

    fn drop_packet(&self, ptd: &mut flow_report_per_thread_t) {
        let lost = discard(self.embedder, self.thread_index, ptd);
        self.counters.dropped(u64::from(lost));
    }
}
