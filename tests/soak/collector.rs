//! The collectors: where the streams send to, and each collector thread's state.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use crate::common::ipfix::Decoder;
use crate::shared::Shared;
use crate::GRACE;

/// Where a stream sends from, and what the collectors know of it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Collector {
    pub(crate) addr: SocketAddr,
    pub(crate) src: IpAddr,
}

/// A collector thread's own state: one decoder per stream (every stream has a domain of
/// its own), and messages whose template has not arrived yet (the kernel may deliver a
/// worker's data before the template another thread sent just before it).
pub(crate) struct CollectorState {
    pub(crate) id: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) decoders: HashMap<u32, Decoder>,
    pub(crate) waiting: Vec<(SocketAddr, Vec<u8>)>,
    /// When the decoders of streams the ledger retired were last dropped.
    pub(crate) swept: Instant,
}

impl CollectorState {
    pub(crate) fn on_datagram(&mut self, from: SocketAddr, payload: &[u8]) {
        if payload.len() < 16 {
            return self
                .shared
                .ledger()
                .error(format!("{} bytes from {from}", payload.len()));
        }
        if self.swept.elapsed() > GRACE {
            let ledger = self.shared.ledger();
            self.decoders.retain(|d, _| ledger.streams.contains_key(d));
            self.swept = Instant::now();
        }
        let domain = u32::from_be_bytes(payload[12..16].try_into().unwrap());
        let decoder = self.decoders.entry(domain).or_insert_with(|| {
            let mut d = Decoder::new();
            d.set_lenient_unknown(true);
            d
        });
        let m = match decoder.decode("stream", payload) {
            Ok(m) => m,
            Err(e) => return self.shared.ledger().error(format!("domain {domain}: {e}")),
        };
        if !m.unknown_data_sets.is_empty() {
            self.shared.ledger().data_before_template += 1;
            self.waiting.push((from, payload.to_vec()));
            return;
        }
        let mut ledger = self.shared.ledger();
        ledger.account(self.id, from, &m, &self.shared.decoded);
        if !m.templates.is_empty() && !self.waiting.is_empty() {
            // Data that waited for this template.
            for (from, payload) in std::mem::take(&mut self.waiting) {
                let d = u32::from_be_bytes(payload[12..16].try_into().unwrap());
                match self
                    .decoders
                    .get_mut(&d)
                    .map(|dec| dec.decode("stream", &payload))
                {
                    Some(Ok(m)) if m.unknown_data_sets.is_empty() => {
                        ledger.account(self.id, from, &m, &self.shared.decoded)
                    }
                    _ => self.waiting.push((from, payload)),
                }
            }
        }
    }
}
