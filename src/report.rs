//! Reports and streams: VPP's `vnet_flow_report_add_del`, reports reset, stream reset and
//! stream change, with VPP's return codes and template id rules.

use std::sync::atomic::AtomicPtr;

use crate::counters::{vpp_ipfix_counters_t, TemplateCounters, ThreadCounters};
use crate::error::{Error, Result};
use crate::exporter::{self, MAX_PATH_MTU};
use crate::instance::Instance;
use crate::packet::Framing;
use std::sync::Mutex;

use crate::state::{lock, next_template_id, ReportState};
use crate::template;
use crate::types::{
    flow_report_per_thread_t, flow_report_stream_t, flow_report_t, ipfix_report_element_t,
    opaque_t, vnet_flow_data_callback_t, vnet_flow_report_add_del_args_t,
    vnet_flow_rewrite_callback_t, STREAM_FREE,
};
use crate::wire::ipfix::{self as wire_ipfix, FieldSpec};

pub use crate::state::FIRST_TEMPLATE_ID;
/// More fields than this cannot fit a 1450-byte template packet anyway.
pub const MAX_FIELDS: usize = 512;

/// A report as our native API describes it: any elements, enterprise-specific included.
#[derive(Clone, Debug, Default)]
pub struct ReportSpec {
    pub domain_id: u32,
    pub src_port: u16,
    pub fields: Vec<FieldSpec>,
    pub opaque: opaque_t,
    pub rewrite_callback: vnet_flow_rewrite_callback_t,
    pub flow_data_callback: vnet_flow_data_callback_t,
    pub stream_indexp: *mut u32,
}

/// What an add or delete did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportAdded {
    pub report_index: u32,
    pub template_id: u16,
}

/// VPP's elements as field specifiers; `None` when one cannot be encoded.
pub fn fields_from_elements(elements: &[ipfix_report_element_t]) -> Option<Vec<FieldSpec>> {
    elements
        .iter()
        .map(|e| {
            let id = u16::try_from(e.info_element)
                .ok()
                .filter(|id| *id <= 0x7fff)?;
            let len = u16::try_from(e.size).ok().filter(|l| *l > 0)?;
            Some(FieldSpec::new(id, len))
        })
        .collect()
}

fn elements_from_fields(fields: &[FieldSpec]) -> Vec<ipfix_report_element_t> {
    fields
        .iter()
        .map(|f| ipfix_report_element_t {
            info_element: u32::from(f.element_id),
            size: u32::from(f.length),
        })
        .collect()
}

/// Where a stream key stands among an exporter's streams.
enum StreamLookup {
    Found(usize),
    Absent,
    /// The domain is used with another port, or the port with another domain.
    Conflict,
}

fn find_stream(streams: &[flow_report_stream_t], domain_id: u32, src_port: u16) -> StreamLookup {
    for (i, s) in streams.iter().enumerate() {
        if s.domain_id == STREAM_FREE {
            continue;
        }
        if s.domain_id == domain_id {
            return if s.src_port == src_port {
                StreamLookup::Found(i)
            } else {
                StreamLookup::Conflict
            };
        }
        if s.src_port == src_port {
            return StreamLookup::Conflict;
        }
    }
    StreamLookup::Absent
}

impl Instance {
    /// VPP's `vnet_flow_report_add_del`. On add, writes `a.flow_report_index` and returns
    /// the template id; on delete returns the deleted report's template id.
    /// Errors: -7 stream key conflict, -6 unknown report, -81 report exists (VPP still
    /// reports its template id: see `ReportError`).
    pub fn report_add_del(
        &mut self,
        exporter_index: u32,
        a: &mut vnet_flow_report_add_del_args_t,
        elements: &[ipfix_report_element_t],
    ) -> std::result::Result<u16, ReportError> {
        self.check_exporter(exporter_index)?;
        let spec = ReportSpec {
            domain_id: a.domain_id,
            src_port: a.src_port,
            fields: Vec::new(),
            opaque: a.opaque,
            rewrite_callback: a.rewrite_callback,
            flow_data_callback: a.flow_data_callback,
            stream_indexp: a.stream_indexp,
        };
        if a.is_add == 0 {
            return self.report_delete(exporter_index, &spec);
        }
        let fields = fields_from_elements(elements).ok_or(Error::VPP_IPFIX_ERROR_INVALID_VALUE)?;
        let added = self.report_add(exporter_index, ReportSpec { fields, ..spec })?;
        a.flow_report_index = added.report_index;
        Ok(added.template_id)
    }

    fn report_find(&self, exporter_index: u32, spec: &ReportSpec) -> Option<usize> {
        self.exporters[exporter_index as usize]
            .reports
            .iter()
            .position(|fr| {
                fr.opaque == spec.opaque
                    && fr.rewrite_callback.map(|f| f as usize)
                        == spec.rewrite_callback.map(|f| f as usize)
                    && fr.flow_data_callback.map(|f| f as usize)
                        == spec.flow_data_callback.map(|f| f as usize)
            })
    }

    /// Deletes the report identified by (opaque, rewrite callback, data callback) in the
    /// stream (domain, port); its packets under construction are sent first.
    pub fn report_delete(
        &mut self,
        exporter_index: u32,
        spec: &ReportSpec,
    ) -> std::result::Result<u16, ReportError> {
        self.check_exporter(exporter_index)?;
        let e = exporter_index as usize;
        match find_stream(&self.exporters[e].streams, spec.domain_id, spec.src_port) {
            StreamLookup::Conflict => return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE.into()),
            StreamLookup::Absent => return Err(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY.into()),
            StreamLookup::Found(_) => {}
        }
        let r = self
            .report_find(exporter_index, spec)
            .ok_or(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY)?;
        let template_id = self.exporters[e].reports[r].template_id;
        self.flush_report(exporter_index, r as u32);
        self.report_remove(exporter_index, r as u32);
        Ok(template_id)
    }

    /// Adds a report. Its stream is created on first use (sequence 0); its template id is
    /// 256 + the stream's next template number, wrapping within 256..65535.
    pub fn report_add(
        &mut self,
        exporter_index: u32,
        spec: ReportSpec,
    ) -> std::result::Result<ReportAdded, ReportError> {
        self.check_exporter(exporter_index)?;
        let e = exporter_index as usize;
        if spec.domain_id == STREAM_FREE {
            // VPP's mark of a free stream slot cannot be a domain.
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE.into());
        }
        let stream = find_stream(&self.exporters[e].streams, spec.domain_id, spec.src_port);
        if let StreamLookup::Conflict = stream {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE.into());
        }
        if let StreamLookup::Found(si) = stream {
            if self.exporters[e].streams[si].n_reports == u16::MAX {
                return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE.into());
            }
        }
        if let Some(r) = self.report_find(exporter_index, &spec) {
            return Err(ReportError {
                error: Error::VPP_IPFIX_ERROR_VALUE_EXIST,
                template_id: Some(self.exporters[e].reports[r].template_id),
            });
        }
        self.check_fields(exporter_index, &spec)?;
        let mut state = self.new_report_state(&spec.fields)?;
        let mem = self.embedder.vec_memory();
        let exp = &mut self.exporters[e];
        let st = &mut self.state[e];
        st.report_state
            .try_reserve(1)
            .and_then(|_| st.stream_options.try_reserve(exp.streams.len() + 1))
            .map_err(|_| Error::VPP_IPFIX_ERROR_NO_MEMORY)?;
        // Streams C code added itself (flowprobe may) get their statistics slots here.
        st.stream_options
            .resize_with(exp.streams.len(), Mutex::default);
        let si = match stream {
            StreamLookup::Found(i) => i,
            _ => {
                let fresh = flow_report_stream_t {
                    domain_id: spec.domain_id,
                    src_port: spec.src_port,
                    ..Default::default()
                };
                match exp.streams.iter().position(|s| s.domain_id == STREAM_FREE) {
                    Some(i) => {
                        // VPP reuses a free slot as it is: its template numbering goes
                        // on where the slot's last stream left it.
                        let next_template_no = exp.streams[i].next_template_no;
                        exp.streams[i] = flow_report_stream_t {
                            next_template_no,
                            ..fresh
                        };
                        st.stream_options[i] = Mutex::default();
                        i
                    }
                    None => {
                        let i = exp
                            .streams
                            .push(fresh, mem)
                            .map_err(|_| Error::VPP_IPFIX_ERROR_NO_MEMORY)?;
                        st.stream_options.push(Mutex::default());
                        i
                    }
                }
            }
        };
        let report_index = exp
            .reports
            .push(flow_report_t::default(), mem)
            .map_err(|_| Error::VPP_IPFIX_ERROR_NO_MEMORY)?;
        let s = &mut exp.streams[si];
        s.n_reports += 1;
        let template_id = next_template_id(s);
        let options = lock(&mut st.stream_options[si]);
        if st.reliability_options && options.template_id.is_none() {
            options.template_id = Some(next_template_id(s));
        }
        exp.reports[report_index] = flow_report_t {
            template_id,
            data_record_size: wire_ipfix::record_len(&spec.fields).map_or(-1, |l| l as i32),
            per_thread_data: AtomicPtr::new(state.per_thread.as_mut_ptr()),
            stream_index: si as u32,
            opaque: spec.opaque,
            rewrite_callback: spec.rewrite_callback,
            report_elements: AtomicPtr::new(if state.elements.is_empty() {
                std::ptr::null_mut()
            } else {
                state.elements.as_mut_ptr()
            }),
            n_report_elements: state.elements.len() as u32,
            stream_indexp: AtomicPtr::new(spec.stream_indexp),
            flow_data_callback: spec.flow_data_callback,
            ..Default::default()
        };
        st.report_state.push(state);
        let report_index = report_index as u32;
        Ok(ReportAdded {
            report_index,
            template_id,
        })
    }

    /// Checks that a report can be exported: at least one field (or a rewrite callback
    /// that builds the template), and a template and a record that fit the MTU.
    fn check_fields(&self, exporter_index: u32, spec: &ReportSpec) -> Result<()> {
        if spec.fields.is_empty() {
            return if spec.rewrite_callback.is_some() {
                Ok(())
            } else {
                Err(Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT)
            };
        }
        if spec.fields.len() > MAX_FIELDS {
            return Err(Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG);
        }
        for f in &spec.fields {
            if f.element_id > 0x7fff || f.length == 0 {
                return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE);
            }
        }
        let exp = &self.exporters[exporter_index as usize];
        // A disabled exporter may later send over IPv6 at the largest MTU.
        let (framing, mtu) = if exporter::is_enabled(exp) {
            (self.framing(exporter_index), exp.path_mtu)
        } else {
            let framing = Framing {
                is_ip6: true,
                host_writes_ip_udp: self.host_writes_ip_udp,
            };
            (framing, MAX_PATH_MTU)
        };
        let limit = framing.max_len(mtu);
        if template::packet_len(framing, &spec.fields) > limit {
            return Err(Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG);
        }
        let record = wire_ipfix::record_len(&spec.fields).unwrap_or(0);
        if framing.all_headers_size() + record > limit {
            return Err(Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG);
        }
        Ok(())
    }

    fn new_report_state(&self, fields: &[FieldSpec]) -> Result<ReportState> {
        let n = self.n_threads as usize;
        let mut per_thread = Vec::new();
        let mut thread_counters = Vec::new();
        per_thread
            .try_reserve_exact(n)
            .and_then(|_| thread_counters.try_reserve_exact(n))
            .map_err(|_| Error::VPP_IPFIX_ERROR_NO_MEMORY)?;
        per_thread.resize_with(n, flow_report_per_thread_t::default);
        thread_counters.resize_with(n, ThreadCounters::default);
        Ok(ReportState {
            fields: fields.to_vec(),
            elements: elements_from_fields(fields),
            per_thread,
            thread_counters,
            template_counters: TemplateCounters::default(),
            rewrite: Mutex::default(),
        })
    }

    /// Removes report `r`, freeing its buffers; its stream goes with its last report.
    pub(crate) fn report_remove(&mut self, exporter_index: u32, r: u32) {
        let e = exporter_index as usize;
        let r = r as usize;
        for t in 0..self.n_threads {
            let ptd = &mut self.state[e].report_state[r].per_thread[t as usize];
            crate::datapath::discard(self.embedder.as_ref(), t, ptd);
        }
        if let Some(fr) = self.exporters[e].reports.get(r) {
            self.embedder.report_removed(&self.exporters[e], fr);
        }
        let st = &mut self.state[e];
        let exp = &mut self.exporters[e];
        let mut fr = exp.reports.remove(r, self.embedder.vec_memory());
        fr.rewrite.free(self.embedder.vec_memory(), 0);
        let rs = st.report_state.remove(r);
        st.retired.add(&rs.counters());
        if let Some(o) = st.stream_options.get_mut(fr.stream_index as usize) {
            let o = lock(o);
            o.retired.add(&rs.counters());
            o.retired_template_octets += rs.template_counters.octets();
        }
        if let Some(s) = exp.streams.get_mut(fr.stream_index as usize) {
            s.n_reports = s.n_reports.saturating_sub(1);
            if s.n_reports == 0 {
                s.domain_id = STREAM_FREE;
            }
        }
    }

    /// VPP's `vnet_flow_reports_reset`: every stream's sequence to 0, every template
    /// rebuilt and sent again at once.
    pub fn reports_reset(&mut self, exporter_index: u32) -> Result<()> {
        self.check_exporter(exporter_index)?;
        let st = &mut self.state[exporter_index as usize];
        let exp = &mut self.exporters[exporter_index as usize];
        for s in exp
            .streams
            .iter_mut()
            .filter(|s| s.domain_id != STREAM_FREE)
        {
            *s.sequence_number.get_mut() = 0;
        }
        for fr in exp.reports.iter() {
            fr.resend_template();
        }
        for o in st.stream_options.iter_mut() {
            lock(o).last_sent = 0.0;
        }
        Ok(())
    }

    /// VPP's `vnet_stream_reset`: the stream's sequence to 0 and its reports' templates
    /// re-sent (each report's own stream, not the first report's as upstream tests).
    pub fn stream_reset(&mut self, exporter_index: u32, stream_index: u32) -> Result<()> {
        self.check_exporter(exporter_index)?;
        let st = &mut self.state[exporter_index as usize];
        let exp = &mut self.exporters[exporter_index as usize];
        let s = exp
            .streams
            .get_mut(stream_index as usize)
            .filter(|s| s.domain_id != STREAM_FREE)
            .ok_or(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY)?;
        *s.sequence_number.get_mut() = 0;
        for fr in exp
            .reports
            .iter()
            .filter(|fr| fr.stream_index == stream_index)
        {
            fr.resend_template();
        }
        if let Some(o) = st.stream_options.get_mut(stream_index as usize) {
            lock(o).last_sent = 0.0;
        }
        Ok(())
    }

    /// VPP's `vnet_stream_change`: re-keys a stream, resetting it when the key changed.
    /// `Ok(false)` when no stream has the old key (VPP returns 1). A new key that another
    /// stream uses is refused with -7 (VPP would create two streams with one key).
    pub fn stream_change(
        &mut self,
        exporter_index: u32,
        old: (u32, u16),
        new: (u32, u16),
    ) -> Result<bool> {
        self.check_exporter(exporter_index)?;
        let e = exporter_index as usize;
        let si = match find_stream(&self.exporters[e].streams, old.0, old.1) {
            StreamLookup::Found(i) => i,
            _ => return Ok(false),
        };
        if new.0 == STREAM_FREE {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE);
        }
        let clash = self.exporters[e].streams.iter().enumerate().any(|(i, s)| {
            i != si && s.domain_id != STREAM_FREE && (s.domain_id == new.0 || s.src_port == new.1)
        });
        if clash {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE);
        }
        if old == new {
            return Ok(true);
        }
        // Packets under construction belong to the old key: send them under it.
        self.flush_exporter(exporter_index);
        let s = &mut self.exporters[e].streams[si];
        s.domain_id = new.0;
        s.src_port = new.1;
        self.stream_reset(exporter_index, si as u32)?;
        Ok(true)
    }

    /// A report's counters.
    pub fn report_counters(&self, exporter_index: u32, r: u32) -> Result<vpp_ipfix_counters_t> {
        self.check_report(exporter_index, r)?;
        Ok(self.state[exporter_index as usize].report_state[r as usize].counters())
    }

    /// Checks an (exporter, report) pair.
    pub fn check_report(&self, exporter_index: u32, r: u32) -> Result<()> {
        self.check_exporter(exporter_index)?;
        if (r as usize) < self.exporters[exporter_index as usize].reports.len() {
            Ok(())
        } else {
            Err(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY)
        }
    }

    /// The C-visible report.
    pub fn report(&self, exporter_index: u32, r: u32) -> Result<&flow_report_t> {
        self.check_report(exporter_index, r)?;
        Ok(&self.exporters[exporter_index as usize].reports[r as usize])
    }

    /// A stream, if the slot is in use.
    pub fn stream(&self, exporter_index: u32, s: u32) -> Result<&flow_report_stream_t> {
        self.check_exporter(exporter_index)?;
        self.exporters[exporter_index as usize]
            .streams
            .get(s as usize)
            .filter(|s| s.domain_id != STREAM_FREE)
            .ok_or(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY)
    }

    /// The largest fixed record size of an exporter's reports (0 when none).
    pub(crate) fn largest_record_len(&self, exporter_index: u32) -> usize {
        self.state[exporter_index as usize]
            .report_state
            .iter()
            .filter_map(|r| wire_ipfix::record_len(&r.fields))
            .max()
            .unwrap_or(0)
    }

    /// The largest template packet of an exporter's reports under `framing`.
    pub(crate) fn largest_template_len(&self, exporter_index: u32, framing: Framing) -> usize {
        self.state[exporter_index as usize]
            .report_state
            .iter()
            .filter(|r| !r.fields.is_empty())
            .map(|r| template::packet_len(framing, &r.fields))
            .max()
            .unwrap_or(0)
    }
}

/// A failed add or delete, with the template id VPP still reports for an existing report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportError {
    pub error: Error,
    pub template_id: Option<u16>,
}

impl From<Error> for ReportError {
    fn from(error: Error) -> Self {
        ReportError {
            error,
            template_id: None,
        }
    }
}
