//! The hot path: a worker's packet under construction for one report. Get a buffer,
//! reserve room for records, send: no lock, no allocation by the library, one atomic add
//! per packet (the stream's sequence number).

use std::ffi::c_void;
use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;

use crate::counters::ThreadCounters;
use crate::error::{Error, Result};
use crate::exporter;
use crate::instance::Instance;
use crate::ops::{alloc_buffer, BufferHandle, Embedder};
use crate::packet::{ExporterHeaders, Framing, MessageFields};
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
    /// The exporter's packet headers, worked out when it was configured.
    pub headers: &'a ExporterHeaders,
    pub framing: Framing,
    pub exporter_index: u32,
    pub report_index: u32,
    pub thread_index: u32,
}

impl Instance {
    /// Checks (exporter, report, thread) and gathers the worker's view.
    #[inline]
    pub fn data_path(
        &self,
        exporter_index: u32,
        r: u32,
        thread_index: u32,
    ) -> Result<DataPath<'_>> {
        match self.try_data_path(exporter_index, r, thread_index) {
            Some(dp) => Ok(dp),
            None => Err(self.data_path_error(exporter_index, r, thread_index)),
        }
    }

    /// `data_path`'s lookups, each index checked once.
    #[inline]
    fn try_data_path(
        &self,
        exporter_index: u32,
        r: u32,
        thread_index: u32,
    ) -> Option<DataPath<'_>> {
        let (exp, report) = self.hot_report(exporter_index, r, thread_index)?;
        let counters = self.thread_counters(exporter_index, r, thread_index)?;
        self.data_path_from(exp, report, counters, (exporter_index, r, thread_index))
    }

    /// The worker's view of an exporter and report `hot_report` found earlier, with no
    /// configuration since (the C ABI's per-thread memo), and the thread's counters from
    /// `thread_counters`; `None` when the report's stream index is out of range (the
    /// one check the view still makes: the host may resize `exp->streams`).
    #[inline(always)]
    pub fn data_path_from<'a>(
        &'a self,
        exp: &'a ipfix_exporter_t,
        report: &'a flow_report_t,
        counters: &'a ThreadCounters,
        (exporter_index, report_index, thread_index): (u32, u32, u32),
    ) -> Option<DataPath<'a>> {
        let headers = &self.state.get(exporter_index as usize)?.headers;
        debug_assert_eq!(headers.framing, Framing::new(exp, self.host_writes_ip_udp));
        Some(DataPath {
            instance: self,
            exp,
            report,
            stream: exp.streams.get(report.stream_index as usize)?,
            counters,
            embedder: self.embedder.as_ref(),
            headers,
            framing: headers.framing,
            exporter_index,
            report_index,
            thread_index,
        })
    }

    /// Thread `thread_index`'s counters of report `r` of exporter `exporter_index`.
    #[inline]
    pub fn thread_counters(
        &self,
        exporter_index: u32,
        r: u32,
        thread_index: u32,
    ) -> Option<&ThreadCounters> {
        self.state
            .get(exporter_index as usize)?
            .report_state
            .get(r as usize)?
            .thread_counters
            .get(thread_index as usize)
    }

    /// Why `try_data_path` found nothing, in the order the checks are documented: the
    /// exporter and report, the thread, the report's stream.
    #[cold]
    fn data_path_error(&self, exporter_index: u32, r: u32, thread_index: u32) -> Error {
        if let Err(e) = self.check_report(exporter_index, r) {
            return e;
        }
        if thread_index >= self.n_threads {
            return Error::VPP_IPFIX_ERROR_INVALID_WORKER;
        }
        Error::VPP_IPFIX_ERROR_INVALID_VALUE
    }

    /// The exporter and report that `data_path` would give for (exporter, report,
    /// thread), found with its checks and nothing else (no `DataPath` is built); `None`
    /// wherever `data_path` fails, which then says why. Loads and comparisons only,
    /// nothing that can panic: the per-record fast paths start here.
    #[inline(always)]
    pub fn hot_report(
        &self,
        exporter_index: u32,
        r: u32,
        thread_index: u32,
    ) -> Option<(&ipfix_exporter_t, &flow_report_t)> {
        if thread_index >= self.n_threads {
            return None;
        }
        let exp = self.exporters.get(exporter_index as usize)?;
        // An exporter slot not in use has no reports (deleting an exporter deletes
        // them), so the report lookup also checks `in_use`.
        let report = exp.reports.get(r as usize)?;
        if report.stream_index as usize >= exp.streams.len() {
            return None;
        }
        Some((exp, report))
    }

    /// True when the host writes IP and UDP headers (a UDP socket).
    #[inline(always)]
    pub fn host_writes_ip_udp(&self) -> bool {
        self.host_writes_ip_udp
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
        let n = self.exporters[exporter_index as usize].reports.len() as u32;
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
            for r in 0..self.exporters[e as usize].reports.len() as u32 {
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

/// The fast path of [`DataPath::reserve`]: where a record of `size` bytes goes in the
/// thread's current packet, counted as written, when the packet exists and the record
/// fits in it (path MTU and buffer) as `reserve` would place it. `None`, with nothing
/// changed, in every other case, which `reserve`'s full path handles: no packet yet, a
/// full one, size 0, offsets moved out of place by hand.
#[inline(always)]
pub fn room_in_current(
    exp: &ipfix_exporter_t,
    host_writes_ip_udp: bool,
    ptd: &mut flow_report_per_thread_t,
    size: u16,
) -> Option<Range<usize>> {
    if ptd.packet.is_empty() || size == 0 || ptd.n_data_records == u16::MAX {
        return None;
    }
    let (headers, limit) = Framing::new(exp, host_writes_ip_udp).record_bounds(exp.path_mtu);
    let at = usize::from(ptd.next_data_offset);
    let end = at + usize::from(size);
    if at < headers || end > limit || end > ptd.packet.capacity() as usize {
        return None;
    }
    ptd.next_data_offset = end as u16;
    ptd.n_data_records += 1;
    Some(at..end)
}

/// How many records of `size` bytes the thread's current packet still takes where
/// `reserve` would put them (from `headers`, ending by `limit` and the buffer): none
/// without a packet, or with the offset moved into the headers by hand.
#[inline(always)]
fn records_that_fit(
    ptd: &flow_report_per_thread_t,
    headers: usize,
    limit: usize,
    size: usize,
) -> usize {
    let at = usize::from(ptd.next_data_offset);
    if ptd.packet.is_empty() || at < headers {
        return 0;
    }
    let end = limit.min(ptd.packet.capacity() as usize);
    (end.saturating_sub(at) / size).min(usize::from(u16::MAX - ptd.n_data_records))
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
        self.new_buffer(ptd, self.embedder.now())
    }

    /// A new buffer for the thread, taken at `now` (the embedder's time).
    #[inline]
    fn new_buffer(&self, ptd: &mut flow_report_per_thread_t, now: f64) -> Result<BufferHandle> {
        if !exporter::is_enabled(self.exp) {
            return Err(Error::VPP_IPFIX_ERROR_EXPORTER_DISABLED);
        }
        let need = self.exp.path_mtu;
        let (handle, buf) = alloc_buffer(self.embedder, self.thread_index, need)
            .inspect_err(|_| self.counters.alloc_failed())?;
        *ptd.buffer.get_mut() = handle.0 as *mut c_void;
        ptd.packet = buf;
        ptd.next_data_offset = self.framing.all_headers_size() as u16;
        ptd.n_data_records = 0;
        // A buffer is taken when the first record needs it: its age is the oldest
        // record's, whichever way the caller writes records.
        ptd.first_record_time = now;
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
        if let Some(room) = room_in_current(self.exp, self.framing.host_writes_ip_udp, ptd, size) {
            return ptd
                .packet
                .bytes_mut()
                .get_mut(room)
                .ok_or(Error::VPP_IPFIX_ERROR_BUFFER_TOO_SMALL);
        }
        self.reserve_slow(ptd, size)
    }

    /// `reserve` when the record does not go straight into the current packet.
    #[inline(never)]
    fn reserve_slow<'p>(
        &self,
        ptd: &'p mut flow_report_per_thread_t,
        size: u16,
    ) -> Result<&'p mut [u8]> {
        let size = usize::from(size);
        if size == 0 {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT);
        }
        self.make_room(ptd, size)?;
        let (headers, limit) = self.framing.record_bounds(self.exp.path_mtu);
        let at = usize::from(ptd.next_data_offset);
        if at < headers || at + size > limit || ptd.n_data_records == u16::MAX {
            // Not a packet we can send (a count at its limit, set by hand).
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

    /// A packet for a record of `size` bytes (not 0): the thread's current one if the
    /// record fits it, else a new one after sending the current (or dropping it, when
    /// the caller moved its offset into the headers or past the MTU: `send_buffer`).
    /// Either way a loss is counted. `VPP_IPFIX_ERROR_RECORD_TOO_BIG` when no packet
    /// can hold the record, the allocation's error when there is no buffer.
    #[inline]
    fn make_room(&self, ptd: &mut flow_report_per_thread_t, size: usize) -> Result<()> {
        let (headers, limit) = self.framing.record_bounds(self.exp.path_mtu);
        if headers + size > limit {
            return Err(Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG);
        }
        let at = usize::from(ptd.next_data_offset);
        // One reading of the clock for the packet that goes and the one that starts.
        let now = self.embedder.now();
        if !ptd.packet.is_empty() && (at + size > limit || at < headers) {
            let _ = self.send_at(ptd, now);
        }
        if ptd.packet.is_empty() {
            self.new_buffer(ptd, now)?;
        }
        Ok(())
    }

    /// Copies one record into the packet (sending the full packet first when needed).
    #[inline]
    pub fn append(&self, ptd: &mut flow_report_per_thread_t, record: &[u8]) -> Result<()> {
        let size =
            u16::try_from(record.len()).map_err(|_| Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG)?;
        self.reserve(ptd, size)?.copy_from_slice(record);
        Ok(())
    }

    /// Copies `records`, consecutive records of `size` bytes each, into the thread's
    /// packets: as many as fit go into the current packet with one copy, then the full
    /// packet is sent and the next one started, as `append` does one record at a time.
    /// Returns how many records went in: all of them, unless an error stopped it (the
    /// records before it are in, and `Err` says why).
    /// `VPP_IPFIX_ERROR_INVALID_ARGUMENT` for size 0 or a length that is not a whole
    /// number of records (nothing is appended).
    #[inline]
    pub fn append_records(
        &self,
        ptd: &mut flow_report_per_thread_t,
        records: &[u8],
        size: u16,
    ) -> (usize, Result<()>) {
        let size_bytes = usize::from(size);
        if size == 0 || !records.len().is_multiple_of(size_bytes) {
            return (0, Err(Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT));
        }
        let total = records.len() / size_bytes;
        let (headers, limit) = self.framing.record_bounds(self.exp.path_mtu);
        let mut done = 0;
        // The current packet was started for the records still to go.
        let mut fresh = false;
        while done < total {
            // As many as the packet holds, placed as `reserve` places them, in one copy.
            let fit = records_that_fit(ptd, headers, limit, size_bytes).min(total - done);
            let at = usize::from(ptd.next_data_offset);
            let (from, bytes) = (done * size_bytes, fit * size_bytes);
            if let (true, Some(room), Some(these)) = (
                fit > 0,
                ptd.packet.bytes_mut().get_mut(at..at + bytes),
                records.get(from..from + bytes),
            ) {
                room.copy_from_slice(these);
                ptd.next_data_offset = (at + bytes) as u16;
                ptd.n_data_records += fit as u16;
                done += fit;
                if done == total {
                    break;
                }
                // The packet took what it could: on to the next one.
            } else if fresh {
                // A packet that takes no record even now (its count at the limit, set
                // by hand): one record the way `append` puts it, which says what is
                // wrong.
                let Some(first) = records.get(from..from + size_bytes) else {
                    break;
                };
                match self.reserve(ptd, size) {
                    Ok(room) => room.copy_from_slice(first),
                    Err(e) => return (done, Err(e)),
                }
                done += 1;
                fresh = false;
                continue;
            }
            // Full (or no packet): the next one, as `append` would start it.
            if let Err(e) = self.make_room(ptd, size_bytes) {
                return (done, Err(e));
            }
            fresh = true;
        }
        (done, Ok(()))
    }

    /// Finishes and hands the packet to the embedder (VPP's `vnet_ipfix_exp_send_buffer`):
    /// nothing when no record was written; else every header, the export time, the
    /// sequence number (one atomic add of this packet's records), checksums; then the
    /// thread's state is cleared. A refused packet's records are counted as dropped and
    /// still advance the sequence number, so the collector sees the loss (RFC 7011 §3.1).
    pub fn send_buffer(&self, ptd: &mut flow_report_per_thread_t) -> Result<()> {
        if self.nothing_to_send(ptd) {
            return Ok(());
        }
        self.send_at(ptd, self.embedder.now())
    }

    /// True when the thread has no packet, or one without records.
    fn nothing_to_send(&self, ptd: &flow_report_per_thread_t) -> bool {
        ptd.packet.is_empty()
            || (usize::from(ptd.next_data_offset) == self.framing.all_headers_size()
                && ptd.n_data_records == 0)
    }

    /// `send_buffer` with the export time `now` (the embedder's time, read by the
    /// caller), for a packet with something to send: every caller has checked
    /// `nothing_to_send` (`make_room` sends a packet only when a record does not fit
    /// it, which an empty one always does).
    #[inline]
    fn send_at(&self, ptd: &mut flow_report_per_thread_t, now: f64) -> Result<()> {
        debug_assert!(!self.nothing_to_send(ptd));
        let len = usize::from(ptd.next_data_offset);
        let headers = self.framing.all_headers_size();
        // An offset moved by hand into the headers (or records counted with no bytes)
        // would send headers overwritten by records, or a count that is not there.
        if len <= headers
            || len > self.framing.max_len(self.exp.path_mtu)
            || len > ptd.packet.capacity() as usize
        {
            self.drop_packet(ptd);
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE);
        }
        let records = ptd.n_data_records;
        if let Err(e) = self.ensure_template(now) {
            // Data ahead of its template is undecodable: the packet is dropped and
            // counted, and its records advance the sequence so the collector sees the
            // gap (as for a packet the host refused). The template is tried again.
            self.stream
                .sequence_number
                .fetch_add(u32::from(records), Relaxed);
            self.drop_packet(ptd);
            return Err(e);
        }
        let sequence_number = self
            .stream
            .sequence_number
            .fetch_add(u32::from(records), Relaxed);
        let fields = MessageFields {
            domain_id: self.stream.domain_id,
            src_port: self.stream.src_port,
            export_time: now as u32,
            sequence_number,
            data_set_id: Some(self.report.template_id),
        };
        self.headers
            .finish(&mut ptd.packet.bytes_mut()[..len], &fields);
        let handle = BufferHandle(*ptd.buffer.get_mut() as usize);
        let buf = std::mem::take(&mut ptd.packet);
        clear(ptd);
        let info = self.headers.info(&fields, len, records);
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
    /// collector before its template (RFC 7011 §8): one load per packet. An error when
    /// it could not go out (no buffer, refused): the data must not go either.
    fn ensure_template(&self, now: f64) -> Result<()> {
        if self.report.last_template_sent.load() != 0.0 {
            return Ok(());
        }
        self.instance.send_template_from(
            self.exporter_index,
            self.report_index,
            now,
            self.thread_index,
        )
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
        if self.nothing_to_send(ptd)
            // A clock stepped back (NTP) would otherwise hold the packet for the whole
            // step: it is due at once, as a template is.
            || (now >= ptd.first_record_time && now - ptd.first_record_time < max_age)
        {
            return Ok(false);
        }
        self.send_at(ptd, now).map(|()| true)
    }

    fn drop_packet(&self, ptd: &mut flow_report_per_thread_t) {
        let lost = discard(self.embedder, self.thread_index, ptd);
        self.counters.dropped(u64::from(lost));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::vpp_ipfix_exporter_config_t;
    use crate::report::ReportSpec;
    use crate::transport::capture::CapturedPacket;
    use crate::transport::Capture;
    use crate::types::ip_address_t;
    use crate::wire::FieldSpec;

    /// An instance with one report of 16-byte records at `mtu`, its template sent.
    fn instance(mtu: u32, host_records: &Capture) -> (Instance, u32) {
        let mut inst = Instance::new(Box::new(host_records.clone()), 1, 0).unwrap();
        let config = vpp_ipfix_exporter_config_t {
            collector: ip_address_t::v4([192, 0, 2, 1]),
            src_address: ip_address_t::v4([192, 0, 2, 2]),
            path_mtu: mtu,
            ..Default::default()
        };
        inst.exporter_set(0, &config).unwrap();
        let spec = ReportSpec {
            domain_id: 1,
            src_port: 30001,
            fields: vec![FieldSpec::new(1, 8), FieldSpec::new(2, 8)],
            ..Default::default()
        };
        let report = inst.report_add(0, spec).map_err(|e| e.error).unwrap();
        inst.send_due_templates();
        host_records.take_packets();
        (inst, report.report_index)
    }

    /// Every setting that shows in a packet's headers or its information takes effect
    /// with the next packet: the headers worked out per exporter follow `exporter_set`.
    #[test]
    fn packets_follow_the_exporters_settings() {
        let capture = Capture::new(1_700_000_000.0);
        let (mut inst, r) = instance(512, &capture);
        let export_one = |inst: &mut Instance| {
            inst.with_worker(0, r, 0, |dp, ptd| {
                dp.append(ptd, &records(1)).unwrap();
                dp.send_buffer(ptd).unwrap();
            })
            .unwrap();
            let mut packets = capture.take_packets();
            packets.retain(|p| p.info.records == 1);
            packets.pop().expect("the data packet")
        };
        let before = export_one(&mut inst);
        assert_eq!(&before.bytes[16..20], &[192, 0, 2, 1]);
        assert_eq!(before.info.dst_port, 4739);
        let changed = vpp_ipfix_exporter_config_t {
            collector: ip_address_t::v4([198, 51, 100, 7]),
            collector_port: 2055,
            src_address: ip_address_t::v4([198, 51, 100, 8]),
            fib_index: 0,
            path_mtu: 512,
            udp_checksum: 1,
            ..Default::default()
        };
        inst.exporter_set(0, &changed).unwrap();
        inst.send_due_templates();
        let after = export_one(&mut inst);
        let b = &after.bytes;
        assert_eq!(
            (&b[12..16], &b[16..20]),
            (&[198, 51, 100, 8][..], &[198, 51, 100, 7][..])
        );
        assert_eq!(crate::wire::checksum::internet_checksum(&b[..20]), 0);
        assert_eq!(
            u16::from_be_bytes([b[22], b[23]]),
            2055,
            "UDP destination port"
        );
        assert_ne!(&b[26..28], &[0, 0], "UDP checksum on");
        let seed = crate::wire::ip::ipv4_pseudo_header_sum(
            [198, 51, 100, 8],
            [198, 51, 100, 7],
            (b.len() - 20) as u16,
        );
        assert_eq!(
            crate::wire::checksum::fold(crate::wire::checksum::partial_sum(&b[20..], seed)),
            0xffff
        );
        let info = after.info;
        assert_eq!((info.dst_port, info.dst_address), (2055, changed.collector));
        assert_eq!(info.src_address, changed.src_address);
    }

    /// `fr->rewrite` holds the template packet as a VPP vector (its length in the header
    /// before the data, as `vec_len` reads it), rebuilt after a reset.
    #[test]
    fn the_reports_rewrite_is_its_template_packet_as_a_vpp_vector() {
        let capture = Capture::new(1_700_000_000.0);
        let (mut inst, r) = instance(512, &capture);
        let mut template = [0u8; 512];
        let len = inst.report_template(0, r, &mut template).unwrap();
        let rewrite = &inst.exporters[0].reports[r as usize].rewrite;
        assert_eq!(rewrite.len(), len);
        assert_eq!(rewrite.as_slice(), &template[..len]);
        let before = rewrite.as_ptr();
        inst.reports_reset(0).unwrap();
        assert_eq!(inst.send_due_templates().sent, 1);
        let rewrite = &inst.exporters[0].reports[r as usize].rewrite;
        assert_ne!(rewrite.as_ptr(), before, "rebuilt");
        assert_eq!(rewrite.as_slice(), &template[..len]);
    }

    fn records(n: u32) -> Vec<u8> {
        (0..n * 16).map(|i| (i * 7 + i / 16) as u8).collect()
    }

    /// Exports `records` one `append` at a time, or all with `append_records`.
    fn export(mtu: u32, records: &[u8], batch: bool) -> Vec<CapturedPacket> {
        let capture = Capture::new(1_700_000_000.0);
        let (mut inst, r) = instance(mtu, &capture);
        inst.with_worker(0, r, 0, |dp, ptd| {
            if batch {
                assert_eq!(
                    dp.append_records(ptd, records, 16),
                    (records.len() / 16, Ok(()))
                );
            } else {
                for record in records.chunks(16) {
                    dp.append(ptd, record).unwrap();
                }
            }
            dp.send_buffer(ptd).unwrap();
        })
        .unwrap();
        capture.take_packets()
    }

    #[test]
    fn append_records_packs_packets_as_append_does() {
        for (mtu, n) in [(512, 100), (1450, 300), (100, 7), (1450, 1)] {
            let records = records(n);
            let one_by_one = export(mtu, &records, false);
            let batch = export(mtu, &records, true);
            assert!(!one_by_one.is_empty());
            assert_eq!(one_by_one, batch, "MTU {mtu}, {n} records");
        }
    }

    #[test]
    fn append_records_takes_only_whole_records() {
        let capture = Capture::new(1_700_000_000.0);
        let (mut inst, r) = instance(512, &capture);
        let data = records(3);
        inst.with_worker(0, r, 0, |dp, ptd| {
            let invalid = Err(Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT);
            assert_eq!(dp.append_records(ptd, &data[..40], 16), (0, invalid));
            assert_eq!(dp.append_records(ptd, &data, 0), (0, invalid));
            assert_eq!(ptd.n_data_records, 0);
            assert_eq!(dp.append_records(ptd, &[], 16), (0, Ok(())));
            assert_eq!(dp.append_records(ptd, &data, 16), (3, Ok(())));
            assert_eq!(ptd.n_data_records, 3);
        })
        .unwrap();
    }

    #[test]
    fn append_records_stops_at_the_first_error() {
        let capture = Capture::new(1_700_000_000.0);
        let (mut inst, r) = instance(512, &capture);
        // 28 records fit in a 512-byte packet; the second packet gets no buffer.
        capture.fail_allocs_after(1);
        let data = records(40);
        let (done, result) = inst
            .with_worker(0, r, 0, |dp, ptd| dp.append_records(ptd, &data, 16))
            .unwrap();
        assert_eq!(result, Err(Error::VPP_IPFIX_ERROR_NO_BUFFER));
        assert_eq!(done, (512 - 48) / 16);
        assert_eq!(capture.take_packets().len(), 1, "the full packet went out");
    }

    /// A packet whose record count a caller set near the limit by hand: the batch stops
    /// where `append` stops, with the same error, and leaves the same state.
    #[test]
    fn append_records_stops_at_a_count_limit_as_append_does() {
        let outcome = |batch: bool| {
            let capture = Capture::new(1_700_000_000.0);
            let (mut inst, r) = instance(1450, &capture);
            let data = records(4);
            inst.with_worker(0, r, 0, |dp, ptd| {
                dp.append(ptd, &data[..16]).unwrap();
                ptd.n_data_records = u16::MAX - 2;
                let (done, result) = if batch {
                    dp.append_records(ptd, &data, 16)
                } else {
                    let mut done = 0;
                    let mut result = Ok(());
                    for record in data.chunks(16) {
                        result = dp.append(ptd, record);
                        if result.is_err() {
                            break;
                        }
                        done += 1;
                    }
                    (done, result)
                };
                (done, result, ptd.packet.is_empty(), ptd.n_data_records)
            })
            .unwrap()
        };
        let by_append = outcome(false);
        assert_eq!(
            by_append,
            (2, Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE), true, 0),
            "two fill the count, the third finds it full: dropped"
        );
        assert_eq!(outcome(true), by_append);
    }

    #[test]
    fn the_fast_path_takes_what_reserve_takes() {
        let capture = Capture::new(1_700_000_000.0);
        let (mut inst, r) = instance(512, &capture);
        inst.with_worker(0, r, 0, |dp, ptd| {
            let exp = dp.exp;
            // No packet yet: the full path.
            assert_eq!(room_in_current(exp, false, ptd, 16), None);
            dp.reserve(ptd, 16).unwrap();
            assert_eq!(room_in_current(exp, false, ptd, 0), None);
            assert_eq!(room_in_current(exp, false, ptd, 16), Some(64..80));
            assert_eq!((ptd.next_data_offset, ptd.n_data_records), (80, 2));
            // Past the MTU, or moved below the headers by hand: the full path.
            ptd.next_data_offset = 500;
            assert_eq!(room_in_current(exp, false, ptd, 16), None);
            ptd.next_data_offset = 40;
            assert_eq!(room_in_current(exp, false, ptd, 16), None);
            ptd.next_data_offset = 496;
            assert_eq!(room_in_current(exp, false, ptd, 16), Some(496..512));
            // A host that writes IP and UDP itself: the same layout, the same bounds.
            assert_eq!(room_in_current(exp, true, ptd, 16), None, "full");
            ptd.next_data_offset = 40;
            assert_eq!(room_in_current(exp, true, ptd, 16), None, "in the headers");
            ptd.next_data_offset = 496;
            assert_eq!(room_in_current(exp, true, ptd, 16), Some(496..512));
        })
        .unwrap();
    }

    #[test]
    fn hot_report_finds_what_data_path_finds() {
        let capture = Capture::new(1_700_000_000.0);
        let (inst, r) = instance(512, &capture);
        for (e, r, t) in [(0, r, 0), (0, r + 1, 0), (0, r, 1), (1, 0, 0), (99, 0, 0)] {
            let hot = inst
                .hot_report(e, r, t)
                .map(|(_, fr)| fr as *const flow_report_t);
            let full = inst
                .data_path(e, r, t)
                .map(|dp| dp.report as *const flow_report_t);
            assert_eq!(hot, full.ok(), "({e}, {r}, {t})");
        }
    }
}
