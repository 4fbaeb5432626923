//! A run's summary and its memory measures.

use crate::counting_alloc::live_bytes;
use crate::os::rss_bytes;

#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) threads: u32,
    pub(crate) seconds: f64,
    pub(crate) written: u64,
    pub(crate) decoded: u64,
    pub(crate) dropped: u64,
    pub(crate) lost: i64,
    pub(crate) reconfigurations: u64,
    pub(crate) rss: Growth,
    pub(crate) heap: Growth,
}

/// One measure of memory over a run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) at: f64,
    pub(crate) rss: i64,
    pub(crate) heap: i64,
}

impl Sample {
    pub(crate) fn now(at: f64) -> Self {
        Sample {
            at,
            rss: rss_bytes() as i64,
            heap: live_bytes(),
        }
    }
}

/// A measure at the start, at the end of warm-up (half the run), at its highest after
/// warm-up, and at the end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Growth {
    pub(crate) start: i64,
    pub(crate) warm: i64,
    pub(crate) peak: i64,
    pub(crate) end: i64,
}

impl Growth {
    pub(crate) fn of(samples: &[Sample], run: f64, f: impl Fn(&Sample) -> i64) -> Self {
        let warm = samples.iter().position(|s| s.at >= run / 2.0).unwrap_or(0);
        Growth {
            start: f(&samples[0]),
            warm: f(&samples[warm]),
            peak: samples[warm..].iter().map(&f).max().unwrap(),
            end: f(samples.last().unwrap()),
        }
    }
}
