//! Templates: building a report's template packet from its fields, and sending the
//! templates that are due (before first use, then every template interval; RFC 7011 §8.4).

use std::sync::atomic::Ordering::Relaxed;

use crate::error::{Error, Result};
use crate::exporter;
use crate::instance::Instance;
use crate::ops::alloc_buffer;
use crate::packet::{ExporterHeaders, Framing, MessageFields};
use std::sync::MutexGuard;

use crate::state::{locked, ReportState};
use crate::types::{flow_report_stream_t, flow_report_t, ipfix_exporter_t};
use crate::wire::ipfix::{self, FieldSpec};
use crate::wire::template_packet;
use crate::wire::vpp_vec::VppVec;

/// The largest template packet a report's owner may build (an IP datagram).
const MAX_OWNER_TEMPLATE_LEN: usize = 65535;

/// Seconds the VPP process sleeps when no template is due sooner.
pub const DEFAULT_POLL_INTERVAL: f64 = 5.0;

/// Seconds until templates the host lost are sent again; at most one resend per round,
/// so a collector that stays down costs one template per report per second.
pub const LOST_TEMPLATE_RETRY: f64 = 1.0;

/// Bytes of the template packet for `fields` in the library's buffer.
pub fn packet_len(framing: Framing, fields: &[FieldSpec]) -> usize {
    framing.all_headers_size() + ipfix::template_record_len(fields)
}

/// The whole template packet (VPP's rewrite): headers for the exporter and stream, then
/// one template set. Export time and sequence number are filled when it is sent.
pub fn build(
    exp: &ipfix_exporter_t,
    framing: Framing,
    stream: &flow_report_stream_t,
    template_id: u16,
    fields: &[FieldSpec],
) -> Result<Vec<u8>> {
    let len = packet_len(framing, fields);
    if len > framing.max_len(exp.path_mtu) {
        return Err(Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG);
    }
    let mut pkt = zeroed(len)?;
    let set_at = framing.message_offset() + ipfix::MESSAGE_HEADER_LEN;
    let record_at = set_at + ipfix::SET_HEADER_LEN;
    ipfix::write_template_record(&mut pkt[record_at..], template_id, fields)
        .map_err(|_| Error::VPP_IPFIX_ERROR_INVALID_VALUE)?;
    if let Some(h) = pkt[set_at..].first_chunk_mut::<{ ipfix::SET_HEADER_LEN }>() {
        ipfix::write_set_header(h, ipfix::TEMPLATE_SET_ID, (len - set_at) as u16);
    }
    finish_template(&mut pkt, exp, framing, stream);
    Ok(pkt)
}

/// `len` zero bytes, or `VPP_IPFIX_ERROR_NO_MEMORY`.
fn zeroed(len: usize) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| Error::VPP_IPFIX_ERROR_NO_MEMORY)?;
    v.resize(len, 0);
    Ok(v)
}

/// The headers of a template packet whose sets are in place; export time and sequence
/// number are written when it is sent.
fn finish_template(
    pkt: &mut [u8],
    exp: &ipfix_exporter_t,
    framing: Framing,
    stream: &flow_report_stream_t,
) {
    ExporterHeaders::new(exp, framing, 0).finish(
        pkt,
        &MessageFields {
            domain_id: stream.domain_id,
            src_port: stream.src_port,
            export_time: 0,
            sequence_number: 0,
            data_set_id: None,
        },
    );
}

/// What one pass over the templates did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TemplateRound {
    /// Template packets handed to the embedder.
    pub sent: u32,
    /// Templates due that could not be sent (no buffer, refused, too big).
    pub failed: u32,
    /// Seconds until the next template is due (at most `DEFAULT_POLL_INTERVAL`).
    pub next_due_in: f64,
    /// Why the last failed template failed.
    pub last_error: Option<Error>,
}

impl Instance {
    /// True when report `r`'s template is due at `now`: never sent, or sent more than
    /// the template interval ago (VPP's rule), or "sent" after `now` (the clock went
    /// back).
    pub fn template_due(&self, exporter_index: u32, r: u32, now: f64) -> Result<bool> {
        self.check_report(exporter_index, r)?;
        let exp = &self.exporters[exporter_index as usize];
        let fr = &self.exporters[exporter_index as usize].reports[r as usize];
        let last = fr.last_template_sent.load();
        // A clock stepped back (NTP, in the standalone host) would otherwise hold the
        // template for the whole step: it is due at once instead.
        Ok(last == 0.0 || now > last + f64::from(exp.template_interval) || now < last)
    }

    /// Sends every due template of every enabled exporter, at the embedder's time. Runs
    /// beside the workers, as VPP's process node does: it takes a shared borrow.
    pub fn send_due_templates(&self) -> TemplateRound {
        let now = self.embedder.now();
        let mut round = TemplateRound {
            next_due_in: DEFAULT_POLL_INTERVAL,
            ..Default::default()
        };
        for e in 0..self.exporters.len() as u32 {
            if !self.state[e as usize].in_use || !exporter::is_enabled(&self.exporters[e as usize])
            {
                continue;
            }
            // The host lost a template since the last round (a UDP send failed after
            // `enqueue` took it): the collector may be missing one, so all of the
            // exporter's go again now rather than a whole interval later.
            let resend = self.state[e as usize]
                .templates_lost_seen
                .rose(self.embedder.lost(e).templates);
            for r in 0..self.exporters[e as usize].reports.len() as u32 {
                if !self.has_template(e, r) {
                    continue;
                }
                if resend || self.template_due(e, r, now) == Ok(true) {
                    match self.send_template(e, r, now) {
                        Ok(()) => round.sent += 1,
                        Err(err) => {
                            round.failed += 1;
                            round.last_error = Some(err);
                        }
                    }
                }
                let fr = &self.exporters[e as usize].reports[r as usize];
                let interval = f64::from(self.exporters[e as usize].template_interval);
                let next = fr.last_template_sent.load() + interval - now;
                round.next_due_in = round.next_due_in.min(next.max(0.0));
            }
            let (sent, error) = self.send_due_options(e, now);
            round.sent += sent;
            if let Some(err) = error {
                round.failed += 1;
                round.last_error = Some(err);
            }
        }
        // A batching host would otherwise hold the templates until thread 0 next sends
        // data, letting other threads' data reach the collector first (RFC 7011 §8.2).
        self.embedder.flush(0);
        // Templates this flush lost go again in a second, not at the next interval.
        for e in 0..self.exporters.len() as u32 {
            let lost = self.embedder.lost(e).templates;
            if self.state[e as usize].in_use
                && self.state[e as usize].templates_lost_seen.is_below(lost)
            {
                round.next_due_in = round.next_due_in.min(LOST_TEMPLATE_RETRY);
            }
        }
        round
    }

    /// True when report `r` has a template to send: built from its elements, or by its
    /// owner (a report without elements, with a rewrite callback, in a host that calls
    /// it: VPP's shim).
    pub(crate) fn has_template(&self, e: u32, r: u32) -> bool {
        let rs = &self.state[e as usize].report_state[r as usize];
        !rs.fields.is_empty()
            || self.exporters[e as usize].reports[r as usize]
                .rewrite_callback
                .is_some()
    }

    /// A report's template packet from its owner's (VPP's rewrite callback, through the
    /// host): its template sets, in a message with this exporter's headers.
    fn build_from_owner(
        &self,
        exp: &ipfix_exporter_t,
        framing: Framing,
        stream: &flow_report_stream_t,
        fr: &flow_report_t,
    ) -> Result<Vec<u8>> {
        let mut scratch = zeroed(MAX_OWNER_TEMPLATE_LEN)?;
        let n = self
            .embedder
            .template_rewrite(exp, fr, &mut scratch)
            .ok_or(Error::VPP_IPFIX_ERROR_INVALID_VALUE)?;
        let sets = template_packet::template_sets(&scratch[..n])
            .ok_or(Error::VPP_IPFIX_ERROR_INVALID_VALUE)?;
        // Sent even when it passes the path MTU (VPP's tests export 104-byte templates
        // at MTU 100): the owner cannot make it smaller, and without it every record of
        // the report is undecodable; IP fragments it.
        let sets_at = framing.message_offset() + ipfix::MESSAGE_HEADER_LEN;
        let len = sets_at + sets.len();
        let mut pkt = zeroed(len)?;
        pkt[sets_at..].copy_from_slice(sets);
        finish_template(&mut pkt, exp, framing, stream);
        Ok(pkt)
    }

    /// Report `r`'s template packet, rebuilt first when a reset or a change asked for it
    /// (locked: the template sender runs beside configuration's readers), and the
    /// framing it was built for.
    pub(crate) fn current_template(
        &self,
        exporter_index: u32,
        r: u32,
    ) -> Result<(MutexGuard<'_, Vec<u8>>, Framing)> {
        self.check_report(exporter_index, r)?;
        let e = exporter_index as usize;
        let exp = &self.exporters[e];
        if !exporter::is_enabled(exp) {
            return Err(Error::VPP_IPFIX_ERROR_EXPORTER_DISABLED);
        }
        let framing = self.framing(exporter_index);
        let fr = &exp.reports[r as usize];
        let rs = &self.state[e].report_state[r as usize];
        let stream = exp
            .streams
            .get(fr.stream_index as usize)
            .ok_or(Error::VPP_IPFIX_ERROR_INVALID_VALUE)?;
        let mut rewrite = locked(&rs.rewrite);
        if fr.update_rewrite.load(Relaxed) != 0 || rewrite.is_empty() {
            *rewrite = if rs.fields.is_empty() {
                self.build_from_owner(exp, framing, stream, fr)
                    .inspect_err(|_| rs.template_counters.dropped())?
            } else {
                build(exp, framing, stream, fr.template_id, &rs.fields)?
            };
            self.publish_rewrite(fr, rs, &rewrite);
            fr.update_rewrite.store(0, Relaxed);
        }
        Ok((rewrite, framing))
    }

    /// Shows `packet`, a report's new template packet, to C as `fr->rewrite` (a vector
    /// in the host's memory, as VPP's was) and frees the one it replaces. Without
    /// memory `fr->rewrite` is NULL and the failure counted; the library sends from its
    /// own copy either way.
    fn publish_rewrite(&self, fr: &flow_report_t, rs: &ReportState, packet: &[u8]) {
        let mem = self.embedder.vec_memory();
        let mut shown = VppVec::default();
        match shown.resize(packet.len(), mem, 0) {
            Ok(()) => shown.as_mut_slice().copy_from_slice(packet),
            Err(_) => rs.template_counters.alloc_failed(),
        }
        fr.rewrite.replace(shown).free(mem, 0);
    }

    /// Copies report `r`'s template packet (built now if needed) into `out`; its length.
    /// What VPP's `vnet_flow_rewrite_generic_callback` returns in the shim.
    pub fn report_template(&self, exporter_index: u32, r: u32, out: &mut [u8]) -> Result<usize> {
        let (rewrite, _) = self.current_template(exporter_index, r)?;
        out.get_mut(..rewrite.len())
            .ok_or(Error::VPP_IPFIX_ERROR_BUFFER_TOO_SMALL)?
            .copy_from_slice(&rewrite);
        Ok(rewrite.len())
    }

    /// Sends report `r`'s template now, rebuilding it first when needed. It carries the
    /// stream's current sequence number and does not advance it (RFC 7011 §3.1).
    pub fn send_template(&self, exporter_index: u32, r: u32, now: f64) -> Result<()> {
        self.send_template_from(exporter_index, r, now, 0)
    }

    /// `send_template` with the host resources of `thread_index` (a worker sending the
    /// template ahead of its first data).
    pub fn send_template_from(
        &self,
        exporter_index: u32,
        r: u32,
        now: f64,
        thread_index: u32,
    ) -> Result<()> {
        let (rewrite, framing) = self.current_template(exporter_index, r)?;
        let e = exporter_index as usize;
        let exp = &self.exporters[e];
        let fr = &exp.reports[r as usize];
        let rs = &self.state[e].report_state[r as usize];
        let stream = exp
            .streams
            .get(fr.stream_index as usize)
            .ok_or(Error::VPP_IPFIX_ERROR_INVALID_VALUE)?;
        let len = rewrite.len();
        let (handle, mut buf) = alloc_buffer(self.embedder.as_ref(), thread_index, len as u32)
            .inspect_err(|_| rs.template_counters.alloc_failed())?;
        let pkt = &mut buf.bytes_mut()[..len];
        pkt.copy_from_slice(&rewrite);
        drop(rewrite);
        let fields = MessageFields {
            domain_id: stream.domain_id,
            src_port: stream.src_port,
            export_time: now as u32,
            sequence_number: stream.sequence_number.load(Relaxed),
            data_set_id: None,
        };
        // Laid out as the template was built (a reset rebuilds it with the exporter).
        let headers = ExporterHeaders::new(exp, framing, exporter_index);
        headers.finish(pkt, &fields);
        let info = headers.info(&fields, len, 0);
        match self.embedder.enqueue(thread_index, handle, buf, &info) {
            Ok(()) => {
                fr.last_template_sent.store(now);
                rs.template_counters
                    .sent((len - framing.message_offset()) as u64);
                Ok(())
            }
            Err(_) => {
                rs.template_counters.dropped();
                Err(Error::VPP_IPFIX_ERROR_ENQUEUE_FAILED)
            }
        }
    }
}
