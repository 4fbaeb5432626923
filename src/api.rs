//! The Rust face of the library: an Exporting Process built with `Process::builder`,
//! configured through `&mut self`, fed by `Worker`s that borrow it (the borrow checker
//! plays VPP's worker barrier), flushed when dropped.
//!
//! ```
//! use vpp_ipfix::api::{ExporterConfig, Process};
//! use vpp_ipfix::transport::Capture;
//! use vpp_ipfix::wire::FieldSpec;
//!
//! let capture = Capture::new(1_700_000_000.0);
//! let mut process = Process::builder().threads(2).host(capture.clone()).build()?;
//! let collector = "192.0.2.1:4739".parse().unwrap();
//! process.set_exporter(0, &ExporterConfig::new(collector, "192.0.2.2".parse().unwrap()))?;
//! let fields = [FieldSpec::new(8, 4), FieldSpec::new(1, 8)]; // sourceIPv4Address, octets
//! let report = process.add_report(0, 1, 30001, &fields)?;
//! process.send_due_templates();
//! std::thread::scope(|s| {
//!     for t in 0..2 {
//!         let mut worker = process.worker(t).unwrap();
//!         s.spawn(move || {
//!             let mut record = [0u8; 12];
//!             record[..4].copy_from_slice(&[10, 0, 0, t as u8]);
//!             worker.append(report, &record).unwrap();
//!         }); // the worker sends its packet when dropped
//!     }
//! });
//! assert_eq!(process.counters(0)?.data_records, 2);
//! # Ok::<(), vpp_ipfix::Error>(())
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::counters::vpp_ipfix_counters_t;
use crate::datapath;
use crate::error::{Error, Result};
use crate::exporter::{vpp_ipfix_exporter_config_t, FIB_INDEX_NONE};
use crate::instance::Instance;
use crate::ops::Embedder;
use crate::report::ReportSpec;
use crate::template::TemplateRound;
use crate::types::{flow_report_per_thread_t, ip_address_t, opaque_t};
use crate::wire::FieldSpec;

/// One exporter's settings, in Rust terms (see `vpp_ipfix_exporter_config_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExporterConfig {
    /// Collector address and UDP port.
    pub collector: SocketAddr,
    /// Source address, the collector's family.
    pub source: IpAddr,
    /// 68..=1450.
    pub path_mtu: u32,
    /// Seconds between template sends.
    pub template_interval: u32,
    /// UDP checksums over IPv4 too.
    pub udp_checksum: bool,
    /// Send RFC 7011 §4.3 reliability statistics per stream.
    pub reliability_options: bool,
    /// VPP FIB index, `u32::MAX` for none.
    pub fib_index: u32,
}

impl ExporterConfig {
    /// VPP's defaults (MTU 512, templates every 20 s, no IPv4 checksum) for this
    /// collector and source.
    pub fn new(collector: SocketAddr, source: IpAddr) -> Self {
        let d = vpp_ipfix_exporter_config_t::default();
        ExporterConfig {
            collector,
            source,
            path_mtu: d.path_mtu,
            template_interval: d.template_interval,
            udp_checksum: false,
            reliability_options: false,
            fib_index: FIB_INDEX_NONE,
        }
    }

    /// The C form.
    pub fn to_c(&self) -> vpp_ipfix_exporter_config_t {
        vpp_ipfix_exporter_config_t {
            collector: ip_address_t::from(self.collector.ip()),
            collector_port: self.collector.port(),
            src_address: ip_address_t::from(self.source),
            fib_index: self.fib_index,
            path_mtu: self.path_mtu,
            template_interval: self.template_interval,
            udp_checksum: u8::from(self.udp_checksum),
            reliability_options: u8::from(self.reliability_options),
        }
    }
}

impl From<IpAddr> for ip_address_t {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(v4) => ip_address_t::v4(v4.octets()),
            IpAddr::V6(v6) => ip_address_t::v6(v6.octets()),
        }
    }
}

/// A report as the process knows it. Its index shifts when an earlier report of the same
/// exporter is removed (VPP's numbering): a handle checks it still names its report and
/// gives `VPP_IPFIX_ERROR_NO_SUCH_ENTRY` otherwise; `Process::report` refreshes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    pub exporter: u32,
    pub index: u32,
    pub template_id: u16,
    domain_id: u32,
    src_port: u16,
    key: usize,
}

/// Builds a `Process`.
pub struct ProcessBuilder {
    threads: u32,
    max_exporters: u32,
    host: Option<Box<dyn Embedder>>,
}

impl ProcessBuilder {
    /// Exporting threads (each gets a `Worker`); 1 by default.
    pub fn threads(mut self, n: u32) -> Self {
        self.threads = n;
        self
    }

    /// Exporter slots; VPP's 5 by default.
    pub fn max_exporters(mut self, n: u32) -> Self {
        self.max_exporters = n;
        self
    }

    /// Where packets go: `transport::Capture`, `transport::PcapWriter`, or your own.
    pub fn host(mut self, host: impl Embedder + 'static) -> Self {
        self.host = Some(Box::new(host));
        self
    }

    /// The process, with exporter 0 present and disabled.
    pub fn build(self) -> Result<Process> {
        let host = self.host.ok_or(Error::VPP_IPFIX_ERROR_INVALID_ARGUMENT)?;
        let instance = Instance::new(host, self.threads, self.max_exporters)?;
        let claimed = (0..self.threads).map(|_| AtomicBool::new(false)).collect();
        Ok(Process {
            instance,
            claimed,
            next_key: 1,
        })
    }
}

/// An Exporting Process: exporters, reports, and the threads that export through them.
pub struct Process {
    instance: Instance,
    /// Which thread indices have a live `Worker`.
    claimed: Box<[AtomicBool]>,
    /// Opaque values that identify the reports this API adds.
    next_key: usize,
}

impl Process {
    /// A builder: `.threads(n).host(h).build()`.
    pub fn builder() -> ProcessBuilder {
        ProcessBuilder {
            threads: 1,
            max_exporters: 0,
            host: None,
        }
    }

    /// Configures exporter `index` (0 always exists).
    pub fn set_exporter(&mut self, index: u32, config: &ExporterConfig) -> Result<()> {
        self.instance.exporter_set(index, &config.to_c())
    }

    /// Takes a free exporter slot (or the one already sending to this collector).
    pub fn add_exporter(&mut self, config: &ExporterConfig) -> Result<u32> {
        self.instance.exporter_create(&config.to_c())
    }

    /// Deletes an exporter with its reports (not exporter 0).
    pub fn remove_exporter(&mut self, index: u32) -> Result<()> {
        self.instance.exporter_delete(index)
    }

    /// Adds a report of `fields` to the stream (domain, source port) of `exporter`.
    pub fn add_report(
        &mut self,
        exporter: u32,
        domain_id: u32,
        src_port: u16,
        fields: &[FieldSpec],
    ) -> Result<Report> {
        let key = self.next_key;
        let spec = ReportSpec {
            domain_id,
            src_port,
            fields: fields.to_vec(),
            opaque: opaque_t { as_uword: key },
            ..Default::default()
        };
        let added = self
            .instance
            .report_add(exporter, spec)
            .map_err(|e| e.error)?;
        self.next_key += 1;
        Ok(Report {
            exporter,
            index: added.report_index,
            template_id: added.template_id,
            domain_id,
            src_port,
            key,
        })
    }

    /// Deletes a report (its pending records are sent first).
    pub fn remove_report(&mut self, report: Report) -> Result<()> {
        let spec = ReportSpec {
            domain_id: report.domain_id,
            src_port: report.src_port,
            opaque: opaque_t {
                as_uword: report.key,
            },
            ..Default::default()
        };
        self.instance
            .report_delete(report.exporter, &spec)
            .map(|_| ())
            .map_err(|e| e.error)
    }

    /// The same report with its current index (after other reports were removed).
    pub fn report(&self, report: Report) -> Result<Report> {
        let n = self.instance.n_reports(report.exporter)?;
        (0..n)
            .find(|&r| {
                self.instance
                    .report(report.exporter, r)
                    .is_ok_and(|fr| fr.opaque.as_uword == report.key)
            })
            .map(|index| Report { index, ..report })
            .ok_or(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY)
    }

    /// Sends the templates (and reliability statistics) that are due. Workers may be
    /// exporting meanwhile (VPP's process node does the same).
    pub fn send_due_templates(&self) -> TemplateRound {
        self.instance.send_due_templates()
    }

    /// Sends every packet under construction and the host's batches.
    pub fn flush(&mut self) {
        self.instance.flush_all();
    }

    /// An exporter's counters.
    pub fn counters(&self, exporter: u32) -> Result<vpp_ipfix_counters_t> {
        self.instance.exporter_counters(exporter)
    }

    /// The worker for `thread_index`; one at a time per index
    /// (`VPP_IPFIX_ERROR_VALUE_EXIST` while it lives, `VPP_IPFIX_ERROR_INVALID_WORKER`
    /// past the thread count).
    pub fn worker(&self, thread_index: u32) -> Result<Worker<'_>> {
        let flag = self
            .claimed
            .get(thread_index as usize)
            .ok_or(Error::VPP_IPFIX_ERROR_INVALID_WORKER)?;
        if flag.swap(true, Ordering::Acquire) {
            return Err(Error::VPP_IPFIX_ERROR_VALUE_EXIST);
        }
        let states = (0..self.instance.max_exporters())
            .map(|e| {
                let n = self.instance.n_reports(e).unwrap_or(0);
                (0..n).map(|_| ThreadState::default()).collect()
            })
            .collect();
        Ok(Worker {
            process: self,
            thread_index,
            states,
        })
    }

    /// The core, for what this API does not cover.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The core, mutable (no worker can exist meanwhile).
    pub fn instance_mut(&mut self) -> &mut Instance {
        &mut self.instance
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.instance.flush_all();
    }
}

/// One exporting thread's handle: its packets under construction, one per report.
/// Send it to its thread; dropping it sends what it holds.
pub struct Worker<'p> {
    process: &'p Process,
    thread_index: u32,
    /// Per exporter, per report: this thread's packet.
    states: Vec<Vec<ThreadState>>,
}

/// A worker's packet for one report, on cache lines of its own: the workers' states
/// are written for every record, and two threads' states must never share a line.
#[repr(align(128))]
#[derive(Default)]
struct ThreadState(flow_report_per_thread_t);

impl Worker<'_> {
    /// The thread index this worker exports as.
    pub fn thread_index(&self) -> u32 {
        self.thread_index
    }

    fn parts(
        &mut self,
        report: Report,
    ) -> Result<(datapath::DataPath<'_>, &mut flow_report_per_thread_t)> {
        let dp =
            self.process
                .instance
                .data_path(report.exporter, report.index, self.thread_index)?;
        if dp.report.opaque.as_uword != report.key {
            return Err(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY);
        }
        let state = self
            .states
            .get_mut(report.exporter as usize)
            .and_then(|r| r.get_mut(report.index as usize))
            .ok_or(Error::VPP_IPFIX_ERROR_NO_SUCH_ENTRY)?;
        Ok((dp, &mut state.0))
    }

    /// Copies one record into the report's packet (sending it first when full).
    #[inline]
    pub fn append(&mut self, report: Report, record: &[u8]) -> Result<()> {
        // The common case, as the C ABI's fast path: room in the current packet.
        if let Some(room) = self.room_in_current(report, record.len()) {
            room.copy_from_slice(record);
            return Ok(());
        }
        let (dp, state) = self.parts(report)?;
        dp.append(state, record)
    }

    /// The room `append` takes when the record fits the current packet; `None` for
    /// everything else (no packet, a full one, a stale handle), which the full path
    /// handles and reports.
    #[inline(always)]
    fn room_in_current(&mut self, report: Report, len: usize) -> Option<&mut [u8]> {
        let instance = &self.process.instance;
        let (exp, fr) = instance.hot_report(report.exporter, report.index, self.thread_index)?;
        if fr.opaque.as_uword != report.key {
            return None;
        }
        let state = &mut self
            .states
            .get_mut(report.exporter as usize)?
            .get_mut(report.index as usize)?
            .0;
        let size = u16::try_from(len).ok()?;
        let room = datapath::room_in_current(exp, instance.host_writes_ip_udp(), state, size)?;
        state.packet.bytes_mut().get_mut(room)
    }

    /// Room for one record of `size` bytes, to fill before the next call.
    pub fn reserve(&mut self, report: Report, size: u16) -> Result<&mut [u8]> {
        let (dp, state) = self.parts(report)?;
        dp.reserve(state, size)
    }

    /// Sends the report's packet now.
    pub fn send(&mut self, report: Report) -> Result<()> {
        let (dp, state) = self.parts(report)?;
        dp.send_buffer(state)
    }

    /// Sends this worker's packets that waited `max_age` seconds or more, and the host's
    /// batch for this thread; returns how many packets went out.
    pub fn flush_idle(&mut self, max_age: f64) -> u32 {
        let instance = &self.process.instance;
        let now = instance.embedder().now();
        let mut sent = 0;
        for (e, reports) in self.states.iter_mut().enumerate() {
            for (r, state) in reports.iter_mut().enumerate() {
                if let Ok(dp) = instance.data_path(e as u32, r as u32, self.thread_index) {
                    sent += u32::from(dp.flush_if_idle(&mut state.0, now, max_age) == Ok(true));
                }
            }
        }
        instance.embedder().flush(self.thread_index);
        sent
    }
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        let instance = &self.process.instance;
        for (e, reports) in self.states.iter_mut().enumerate() {
            for (r, state) in reports.iter_mut().enumerate() {
                if let Ok(dp) = instance.data_path(e as u32, r as u32, self.thread_index) {
                    let _ = dp.send_buffer(&mut state.0);
                }
                datapath::discard(instance.embedder(), self.thread_index, &mut state.0);
            }
        }
        instance.embedder().flush(self.thread_index);
        if let Some(flag) = self.process.claimed.get(self.thread_index as usize) {
            flag.store(false, Ordering::Release);
        }
    }
}
