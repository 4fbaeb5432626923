//! Exporting Process Reliability Statistics (RFC 7011 §4.3): per stream, an options
//! template scoped by the observation domain and one options record with the messages,
//! data records and octets the stream exported and the records it could not send.

use std::sync::atomic::Ordering::Relaxed;

use crate::counters::vpp_ipfix_counters_t;
use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::ops::alloc_buffer;
use crate::packet::MessageFields;
use crate::state::{locked, StreamOptions};
use crate::types::STREAM_FREE;
use crate::wire::ipfix::{self, FieldSpec};

/// observationDomainId, the scope (§4.3).
const SCOPE: [FieldSpec; 1] = [FieldSpec::new(149, 4)];
/// exportedMessageTotalCount (data, template and options messages, this one included),
/// exportedFlowRecordTotalCount (flow records, not options records),
/// exportedOctetTotalCount (the IPFIX messages' bytes, without IP and UDP headers),
/// notSentFlowTotalCount (166), notSentPacketTotalCount (167).
const FIELDS: [FieldSpec; 5] = [
    FieldSpec::new(41, 8),
    FieldSpec::new(42, 8),
    FieldSpec::new(40, 8),
    FieldSpec::new(166, 8),
    FieldSpec::new(167, 8),
];

/// Bytes of the options template set and of the data set with its one record.
fn sets_len() -> (usize, usize) {
    let template = ipfix::SET_HEADER_LEN + ipfix::options_template_record_len(&SCOPE, &FIELDS);
    let record = 4 + 8 * FIELDS.len();
    (template, ipfix::SET_HEADER_LEN + record)
}

impl Instance {
    /// A stream's totals, its reports now plus its deleted reports, and the IPFIX
    /// message bytes of its data and template messages.
    fn stream_totals(&self, e: usize, s: usize, o: &StreamOptions) -> (vpp_ipfix_counters_t, u64) {
        let st = &self.state[e];
        let mut total = o.retired;
        let mut template_octets = o.retired_template_octets;
        for (fr, rs) in self.exporters[e].reports.iter().zip(&st.report_state) {
            if fr.stream_index as usize == s {
                total.add(&rs.counters());
                template_octets += rs.template_counters.octets();
            }
        }
        // Data packets' bytes include the IP and UDP headers when the library wrote them.
        let headers = self.framing(e as u32).message_offset() as u64;
        let data_octets = total.bytes.saturating_sub(total.packets * headers);
        (total, data_octets + template_octets)
    }

    /// Sends the reliability statistics of every stream of exporter `e` that has them on
    /// and due at `now` (never sent, or more than the template interval ago). Returns
    /// (sent, last error).
    pub(crate) fn send_due_options(&self, e: u32, now: f64) -> (u32, Option<Error>) {
        let ei = e as usize;
        if !self.state[ei].reliability_options {
            return (0, None);
        }
        let interval = f64::from(self.exporters[ei].template_interval);
        let (mut sent, mut last_error) = (0, None);
        for s in 0..self.exporters[ei].streams.len() {
            // A stream C code added itself has no statistics.
            let Some(o) = self.state[ei].stream_options.get(s) else {
                continue;
            };
            let mut o = locked(o);
            // A clock stepped back (NTP) would otherwise hold them for the whole step.
            let due = o.last_sent == 0.0 || now > o.last_sent + interval || now < o.last_sent;
            if self.exporters[ei].streams[s].domain_id == STREAM_FREE || !due {
                continue;
            }
            match self.send_options(e, s, &mut o, now) {
                Ok(()) => sent += 1,
                Err(err) => last_error = Some(err),
            }
        }
        (sent, last_error)
    }

    /// One message: the options template set, then the data set with the stream's
    /// totals. The record is a data record: it advances the sequence number by one.
    fn send_options(&self, e: u32, s: usize, o: &mut StreamOptions, now: f64) -> Result<()> {
        let ei = e as usize;
        let framing = self.framing(e);
        let (template_len, data_len) = sets_len();
        let len = framing.message_offset() + ipfix::MESSAGE_HEADER_LEN + template_len + data_len;
        if len > framing.max_len(self.exporters[ei].path_mtu) {
            return Err(Error::VPP_IPFIX_ERROR_TEMPLATE_TOO_BIG);
        }
        // Taken when the statistics were turned on or the stream created.
        let template_id = o.template_id.ok_or(Error::VPP_IPFIX_ERROR_INVALID_VALUE)?;
        let (totals, octets) = self.stream_totals(ei, s, o);
        let (handle, mut buf) = alloc_buffer(self.embedder.as_ref(), 0, len as u32)?;
        let stream = &self.exporters[ei].streams[s];
        let pkt = &mut buf.bytes_mut()[..len];
        let sets_at = framing.message_offset() + ipfix::MESSAGE_HEADER_LEN;
        let (template_set, data_set) = pkt[sets_at..].split_at_mut(template_len);
        ipfix::write_options_template_record(
            &mut template_set[ipfix::SET_HEADER_LEN..],
            template_id,
            &SCOPE,
            &FIELDS,
        )
        .map_err(|_| Error::VPP_IPFIX_ERROR_INVALID_VALUE)?;
        if let Some(h) = template_set.first_chunk_mut::<{ ipfix::SET_HEADER_LEN }>() {
            ipfix::write_set_header(h, ipfix::OPTIONS_TEMPLATE_SET_ID, template_len as u16);
        }
        if let Some(h) = data_set.first_chunk_mut::<{ ipfix::SET_HEADER_LEN }>() {
            ipfix::write_set_header(h, template_id, data_len as u16);
        }
        // This message counts itself: it is exported with the totals it carries.
        let values = [
            totals.packets + totals.templates + o.messages + 1,
            totals.data_records,
            octets + o.octets + (len - framing.message_offset()) as u64,
            totals.dropped_records,
            totals.dropped_packets,
        ];
        let record = &mut data_set[ipfix::SET_HEADER_LEN..];
        record[..4].copy_from_slice(&stream.domain_id.to_be_bytes());
        for (slot, v) in record[4..].chunks_exact_mut(8).zip(values) {
            slot.copy_from_slice(&v.to_be_bytes());
        }
        let fields = MessageFields {
            domain_id: stream.domain_id,
            src_port: stream.src_port,
            export_time: now as u32,
            sequence_number: stream.sequence_number.fetch_add(1, Relaxed),
            data_set_id: None,
        };
        let headers = &self.state[ei].headers;
        headers.finish(pkt, &fields);
        let mut info = headers.info(&fields, len, 1);
        info.is_template = true;
        o.last_sent = now;
        match self.embedder.enqueue(0, handle, buf, &info) {
            Ok(()) => {
                o.messages += 1;
                o.octets += (len - framing.message_offset()) as u64;
                Ok(())
            }
            Err(_) => {
                o.retired.dropped_packets += 1;
                o.retired.dropped_records += 1;
                Err(Error::VPP_IPFIX_ERROR_ENQUEUE_FAILED)
            }
        }
    }
}
