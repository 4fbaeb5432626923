//! The records the workers write: their layouts, their encoding, and the seeded
//! generator of every random choice.

/// Record layouts: (element id, length). Every record starts with the worker
/// (ingressInterface), the report's uid (egressInterface) and the worker's count of
/// records written to that report (octetDeltaCount); the rest is filler derived from
/// those three, checked when decoded.
pub(crate) const LAYOUTS: [&[(u16, u16)]; 4] = [
    &[(10, 4), (14, 4), (1, 8)],
    &[(10, 4), (14, 4), (1, 8), (2, 8)],
    &[(10, 4), (14, 4), (1, 8), (2, 8), (27, 16)],
    &[
        (10, 4),
        (14, 4),
        (1, 8),
        (2, 8),
        (27, 16),
        (28, 16),
        (4, 1),
        (6, 2),
        (5, 1),
    ],
];

pub(crate) fn record_len(layout: usize) -> usize {
    LAYOUTS[layout].iter().map(|&(_, l)| usize::from(l)).sum()
}

/// splitmix64: the seeded generator of every random choice, and the record filler.
#[derive(Clone, Debug)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// Writes record `n` of worker `t` for report `uid` in `layout` into `out`.
pub(crate) fn encode(layout: usize, t: u32, uid: u32, n: u64, out: &mut [u8]) {
    out[0..4].copy_from_slice(&t.to_be_bytes());
    out[4..8].copy_from_slice(&uid.to_be_bytes());
    out[8..16].copy_from_slice(&n.to_be_bytes());
    let mut filler = Rng(n ^ (u64::from(uid) << 32) ^ (u64::from(t) << 56));
    let mut x = 0;
    for (i, b) in out[16..record_len(layout)].iter_mut().enumerate() {
        if i % 8 == 0 {
            x = filler.next();
        }
        *b = (x >> (8 * (i % 8))) as u8;
    }
}
