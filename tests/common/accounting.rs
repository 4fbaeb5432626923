//! Groups decoded IPFIX messages into streams and checks their sequence numbers (RFC 7011 §3.1).
//!
//! §3.1: the sequence number is the number, modulo 2^32, of data records sent
//! in the stream before this message; template records do not count. Over
//! UDP a stream is one (transport session, observation domain) pair.
//!
//! Ordering choice: an exporter with several threads may put messages on the
//! wire out of sequence order, so the order of arrival is ignored. The data
//! messages of a stream are sorted by their distance from the expected start,
//! `sequence_number.wrapping_sub(start)`, which orders them correctly across
//! a 2^32 wrap as long as a stream carries fewer than 2^32 records in total
//! (ties keep arrival order). The sorted messages must then form one gapless,
//! non-overlapping chain beginning at `start`.

use std::collections::{BTreeMap, BTreeSet};

use super::ipfix::{Decoder, Message};
use super::packet::UdpDatagram;

/// Identifies one sequence-number stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    /// Transport session, as [`UdpDatagram::session_key`] formats it.
    pub session: String,
    pub domain_id: u32,
}

impl std::fmt::Display for StreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} domain {}", self.session, self.domain_id)
    }
}

/// Decodes each datagram's payload as one IPFIX message, keyed by stream.
/// Errors are prefixed with the packet index and transport session.
pub fn decode_datagrams(
    decoder: &mut Decoder,
    datagrams: &[UdpDatagram],
) -> Result<Vec<(StreamKey, Message)>, String> {
    datagrams
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let session = d.session_key();
            let message = decoder
                .decode(&session, &d.payload)
                .map_err(|e| format!("packet {i} ({session}): {e}"))?;
            let key = StreamKey {
                session,
                domain_id: message.domain_id,
            };
            Ok((key, message))
        })
        .collect()
}

/// [`check_sequences_from`] with every stream starting at sequence number 0.
pub fn check_sequences(
    messages: &[(StreamKey, Message)],
) -> Result<BTreeMap<StreamKey, u64>, String> {
    check_sequences_from(messages, 0)
}

/// Checks the sequence numbers of every stream and returns each stream's
/// total number of data records.
///
/// Per stream, the messages carrying data records, sorted as described in
/// the module documentation, must satisfy: the first has sequence number
/// `start`; each next one has the previous one's sequence number plus the
/// previous one's record count (mod 2^32); no sequence number repeats.
/// A message without data records must carry a sequence number the chain
/// passes through: some data message's sequence number, or the final total
/// `last_seq + last_count` (just `start` when there are no data messages).
/// A message with data sets skipped in lenient mode is an error: its records
/// cannot be counted. Error messages name message indices into `messages`.
pub fn check_sequences_from(
    messages: &[(StreamKey, Message)],
    start: u32,
) -> Result<BTreeMap<StreamKey, u64>, String> {
    let mut streams: BTreeMap<&StreamKey, Vec<usize>> = BTreeMap::new();
    for (i, (key, _)) in messages.iter().enumerate() {
        streams.entry(key).or_default().push(i);
    }
    let seq = |i: usize| messages[i].1.sequence_number;
    let count = |i: usize| messages[i].1.data_records.len();

    let mut totals = BTreeMap::new();
    for (key, indices) in streams {
        if let Some(&i) = indices
            .iter()
            .find(|&&i| !messages[i].1.unknown_data_sets.is_empty())
        {
            return Err(format!(
                "stream {key}: message {i} has data sets for unknown templates {:?}; \
                 its records cannot be counted",
                messages[i].1.unknown_data_sets
            ));
        }
        let mut data: Vec<usize> = indices.iter().copied().filter(|&i| count(i) > 0).collect();
        data.sort_by_key(|&i| seq(i).wrapping_sub(start));

        let mut expected = start;
        let mut total: u64 = 0;
        let mut chain = BTreeSet::new();
        let mut previous: Option<usize> = None;
        for &i in &data {
            let s = seq(i);
            if s != expected {
                let context = match previous {
                    None => format!("the stream must start at {start}"),
                    Some(p) => format!(
                        "previous data message {p} has sequence number {} and {} records",
                        seq(p),
                        count(p)
                    ),
                };
                let problem = match previous {
                    Some(p) if seq(p) == s => "duplicate sequence number".to_string(),
                    _ if s.wrapping_sub(start) < expected.wrapping_sub(start) => format!(
                        "overlaps the previous message by {} records",
                        expected.wrapping_sub(s)
                    ),
                    _ => format!("gap of {} records", s.wrapping_sub(expected)),
                };
                return Err(format!(
                    "stream {key}: message {i} has sequence number {s}, expected {expected}: \
                     {problem} ({context})"
                ));
            }
            chain.insert(s);
            expected = expected.wrapping_add(count(i) as u32);
            total += count(i) as u64;
            previous = Some(i);
        }
        chain.insert(expected);

        for &i in &indices {
            if count(i) == 0 && !chain.contains(&seq(i)) {
                let s = seq(i);
                let below = chain.range(..s).next_back();
                let above = chain.range(s..).next();
                return Err(format!(
                    "stream {key}: message {i} without data records has sequence number {s}, \
                     which is not a point of the data record chain (nearest points: \
                     {below:?} below, {above:?} above; chain ends at {expected})"
                ));
            }
        }
        totals.insert(key.clone(), total);
    }
    Ok(totals)
}
