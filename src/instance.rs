//! One exporting process: its exporters (VPP's `flow_report_main.exporters`), the host it
//! runs in, and its thread count. Configuration happens here, with `&mut self`: the Rust
//! form of VPP's rule that workers are stopped at a barrier while it runs.

use crate::counters::vpp_ipfix_counters_t;
use crate::error::{Error, Result};
use crate::exporter::{vpp_ipfix_exporter_config_t, DEFAULT_MAX_EXPORTERS};
use crate::ops::Embedder;
use crate::packet::{ExporterHeaders, Framing};
use crate::state::{lock, next_template_id, ExporterState};
use crate::types::{ip_address_t, ipfix_exporter_t, STREAM_FREE};
use crate::wire::vpp_vec::{VppVec, POOL_HEADER_LEN};

/// The largest thread count accepted (VPP's thread index is 16 bits).
pub const MAX_THREADS: u32 = 1024;
/// The most exporters one instance can hold.
pub const MAX_EXPORTERS: u32 = 64;

// Workers share an instance: the model is readable from any thread, and mutable only
// through `&mut` (configuration) or a worker's own per-thread state.
static_assertions::assert_impl_all!(Instance: Send, Sync);

/// An exporting process: up to `max_exporters` exporters, exporter 0 always present.
pub struct Instance {
    /// C-visible, allocated once as a VPP pool (`flow_report_main.exporters`): a pointer
    /// to an exporter stays valid for the instance's life.
    pub(crate) exporters: VppVec<ipfix_exporter_t>,
    pub(crate) state: Vec<ExporterState>,
    pub(crate) embedder: Box<dyn Embedder>,
    pub(crate) n_threads: u32,
    /// The host adds IP and UDP headers itself (asked once, at creation).
    pub(crate) host_writes_ip_udp: bool,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("n_threads", &self.n_threads)
            .field("exporters", &self.exporters.len())
            .finish()
    }
}

impl Instance {
    /// A new instance with exporter 0 in place and disabled (no collector), as VPP starts.
    /// `n_threads` counts every thread that will export, main thread included.
    pub fn new(embedder: Box<dyn Embedder>, n_threads: u32, max_exporters: u32) -> Result<Self> {
        let max_exporters = Self::check_sizes(n_threads, max_exporters)?;
        let mut exporters = VppVec::default();
        exporters
            .resize(
                max_exporters as usize,
                embedder.vec_memory(),
                POOL_HEADER_LEN,
            )
            .map_err(|_| Error::VPP_IPFIX_ERROR_NO_MEMORY)?;
        exporters.fill_with(ipfix_exporter_t::default);
        let mut state = Vec::new();
        if state.try_reserve_exact(max_exporters as usize).is_err() {
            exporters.free(embedder.vec_memory(), POOL_HEADER_LEN);
            return Err(Error::VPP_IPFIX_ERROR_NO_MEMORY);
        }
        state.resize_with(max_exporters as usize, ExporterState::default);
        state[0].in_use = true;
        let mut instance = Instance {
            exporters,
            state,
            host_writes_ip_udp: embedder.writes_ip_udp_headers(),
            embedder,
            n_threads,
        };
        for i in 0..max_exporters {
            instance.refresh_headers(i);
        }
        Ok(instance)
    }

    /// Checks the sizes `new` takes (1..=1024 threads, 0..=64 exporters) and returns the
    /// exporter count to use (0 = VPP's 5), so hosts can refuse bad sizes before they
    /// create anything.
    pub fn check_sizes(n_threads: u32, max_exporters: u32) -> Result<u32> {
        if n_threads == 0 || n_threads > MAX_THREADS {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_WORKER);
        }
        match max_exporters {
            0 => Ok(DEFAULT_MAX_EXPORTERS),
            n if n > MAX_EXPORTERS => Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE),
            n => Ok(n),
        }
    }

    /// Threads that may export (main thread included).
    pub fn n_threads(&self) -> u32 {
        self.n_threads
    }

    /// How many exporter slots there are.
    pub fn max_exporters(&self) -> u32 {
        self.exporters.len() as u32
    }

    /// The host.
    pub fn embedder(&self) -> &dyn Embedder {
        self.embedder.as_ref()
    }

    /// Checks an exporter index: in range and in use.
    pub fn check_exporter(&self, index: u32) -> Result<()> {
        match self.state.get(index as usize) {
            Some(s) if s.in_use => Ok(()),
            _ => Err(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY),
        }
    }

    /// The C-visible exporter.
    pub fn exporter(&self, index: u32) -> Result<&ipfix_exporter_t> {
        self.check_exporter(index)?;
        Ok(&self.exporters[index as usize])
    }

    /// The index of an exporter given its C pointer, if it is one of ours and in use.
    pub fn exporter_index_of(&self, exp: *const ipfix_exporter_t) -> Result<u32> {
        let base = self.exporters.as_ptr() as usize;
        let addr = exp as usize;
        let size = std::mem::size_of::<ipfix_exporter_t>();
        if addr < base || !(addr - base).is_multiple_of(size) {
            return Err(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY);
        }
        let index = ((addr - base) / size) as u32;
        self.check_exporter(index)?;
        Ok(index)
    }

    /// The in-use exporter whose collector is `collector` (VPP's
    /// `vnet_ipfix_exporter_lookup`), lowest index first.
    pub fn lookup(&self, collector: &ip_address_t) -> Option<u32> {
        (0..self.exporters.len())
            .find(|&i| self.state[i].in_use && self.exporters[i].ipfix_collector == *collector)
            .map(|i| i as u32)
    }

    /// Configures exporter `index` (VPP's `set ipfix exporter` for index 0). Changing the
    /// collector, source or port resets its streams. Packets under construction are sent
    /// first with the old settings, so no record is lost or sent with the wrong headers.
    pub fn exporter_set(&mut self, index: u32, config: &vpp_ipfix_exporter_config_t) -> Result<()> {
        self.check_exporter(index)?;
        let settings = config.validate(self.host_writes_ip_udp)?;
        let i = index as usize;
        let taken = (0..self.exporters.len()).any(|j| {
            j != i
                && self.state[j].in_use
                && settings.same_session(&self.exporters[j], self.host_writes_ip_udp)
        });
        if taken {
            return Err(Error::VPP_IPFIX_ERROR_VALUE_EXIST);
        }
        let framing = Framing {
            is_ip6: settings.collector.is_ip6(),
            host_writes_ip_udp: self.host_writes_ip_udp,
        };
        if self.largest_template_len(index, framing) > framing.max_len(settings.path_mtu) {
            return Err(Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG);
        }
        if settings.all_headers_size as usize + self.largest_record_len(index)
            > framing.max_len(settings.path_mtu)
        {
            return Err(Error::VPP_IPFIX_ERROR_RECORD_TOO_BIG);
        }
        self.flush_exporter(index);
        let resets = settings.resets(&self.exporters[i], self.host_writes_ip_udp);
        settings.apply(&mut self.exporters[i]);
        self.refresh_headers(index);
        let st = &mut self.state[i];
        st.reliability_options = settings.reliability_options;
        if st.reliability_options {
            // Streams that had no statistics yet take their options template id now.
            let streams = &mut self.exporters[i].streams;
            for (s, o) in streams.iter_mut().zip(st.stream_options.iter_mut()) {
                let o = lock(o);
                if s.domain_id != STREAM_FREE && o.template_id.is_none() {
                    o.template_id = Some(next_template_id(s));
                }
            }
        }
        if resets {
            self.reports_reset(index)?;
        }
        Ok(())
    }

    /// VPP's binary-API create: updates the exporter already sending to this collector,
    /// or takes a free slot. `VPP_IPFIX_ERROR_INVALID_VALUE` when all slots are used.
    pub fn exporter_create(&mut self, config: &vpp_ipfix_exporter_config_t) -> Result<u32> {
        config.validate(self.host_writes_ip_udp)?;
        let (index, fresh) = match self.lookup(&config.collector) {
            Some(i) => (i, false),
            None => {
                let free = self
                    .state
                    .iter()
                    .position(|s| !s.in_use)
                    .ok_or(Error::VPP_IPFIX_ERROR_INVALID_VALUE)?;
                self.free_vectors(free as u32);
                self.exporters[free] = ipfix_exporter_t::default();
                self.state[free] = ExporterState {
                    in_use: true,
                    lost_before: self.embedder.lost(free as u32),
                    ..Default::default()
                };
                self.refresh_headers(free as u32);
                (free as u32, true)
            }
        };
        if let Err(e) = self.exporter_set(index, config) {
            if fresh {
                self.state[index as usize].in_use = false;
            }
            return Err(e);
        }
        Ok(index)
    }

    /// Deletes an exporter with its reports and streams (VPP leaves the reports behind).
    /// Exporter 0 is never deleted: `VPP_IPFIX_ERROR_INVALID_VALUE`.
    pub fn exporter_delete(&mut self, index: u32) -> Result<()> {
        self.check_exporter(index)?;
        if index == 0 {
            return Err(Error::VPP_IPFIX_ERROR_INVALID_VALUE);
        }
        self.flush_exporter(index);
        while !self.exporters[index as usize].reports.is_empty() {
            self.report_remove(index, 0);
        }
        self.state[index as usize] = ExporterState::default();
        self.free_vectors(index);
        self.exporters[index as usize] = ipfix_exporter_t::default();
        self.refresh_headers(index);
        Ok(())
    }

    /// Exporter totals: its reports, and the reports it has deleted.
    pub fn exporter_counters(&self, index: u32) -> Result<vpp_ipfix_counters_t> {
        self.check_exporter(index)?;
        let s = &self.state[index as usize];
        let mut total = s.retired;
        for r in &s.report_state {
            total.add(&r.counters());
        }
        // Packets the host took but could not deliver were counted as sent.
        let lost = self.embedder.lost(index).since(&s.lost_before);
        total.packets = total.packets.saturating_sub(lost.packets);
        total.data_records = total.data_records.saturating_sub(lost.records);
        // The host counts a lost packet's message; the library counted its whole buffer.
        let room = self.framing(index).message_offset() as u64;
        total.bytes = total.bytes.saturating_sub(lost.bytes + lost.packets * room);
        total.templates = total.templates.saturating_sub(lost.templates);
        total.dropped_packets += lost.packets + lost.templates;
        total.dropped_records += lost.records;
        Ok(total)
    }

    /// Number of reports of an exporter (VPP's `vec_len (exp->reports)`).
    pub fn n_reports(&self, index: u32) -> Result<u32> {
        self.check_exporter(index)?;
        Ok(self.exporters[index as usize].reports.len() as u32)
    }

    /// Number of stream slots of an exporter, free ones included (VPP's
    /// `vec_len (exp->streams)`).
    pub fn n_streams(&self, index: u32) -> Result<u32> {
        self.check_exporter(index)?;
        Ok(self.exporters[index as usize].streams.len() as u32)
    }

    /// How exporter `index` frames its packets now.
    pub(crate) fn framing(&self, index: u32) -> Framing {
        Framing::new(&self.exporters[index as usize], self.host_writes_ip_udp)
    }

    /// Rebuilds exporter `index`'s packet headers from its settings: after every
    /// change of them.
    fn refresh_headers(&mut self, index: u32) {
        let framing = self.framing(index);
        let i = index as usize;
        self.state[i].headers = ExporterHeaders::new(&self.exporters[i], framing, index);
    }

    /// Frees an exporter's report and stream vectors.
    fn free_vectors(&mut self, index: u32) {
        let exp = &mut self.exporters[index as usize];
        exp.reports.free(self.embedder.vec_memory(), 0);
        exp.streams.free(self.embedder.vec_memory(), 0);
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        for e in 0..self.exporters.len() as u32 {
            let exp = &self.exporters[e as usize];
            for fr in exp.reports.iter() {
                self.embedder.report_removed(exp, fr);
            }
            let mem = self.embedder.vec_memory();
            for fr in self.exporters[e as usize].reports.iter_mut() {
                fr.rewrite.free(mem, 0);
            }
            self.free_vectors(e);
        }
        self.exporters
            .free(self.embedder.vec_memory(), POOL_HEADER_LEN);
    }
}
