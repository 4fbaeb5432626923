//! RFC 1071 internet checksum: the one's-complement sum that IPv4 and UDP headers carry.
#![forbid(unsafe_code)]

/// One's-complement partial sum of `data` taken as big-endian 16-bit words,
/// added to `initial`.
///
/// An odd trailing byte is the high byte of a word whose low byte is zero
/// (RFC 1071 §4.1). The result is not folded: it may exceed `0xffff`; it is
/// congruent to the true sum modulo `0xffff` and is zero only when the sum is
/// (all words and `initial` zero). Feed it to [`fold`] or [`finish`], or back
/// in as `initial` to continue the sum over the next piece.
///
/// Splitting: when `a` has even length,
/// `fold(partial_sum(a, 0) + partial_sum(b, 0))` and
/// `fold(partial_sum(b, partial_sum(a, 0)))` both equal the folded sum over
/// `a` followed by `b`. With an odd-length `a` they do not: its last byte
/// would be padded instead of pairing with the first byte of `b`.
#[must_use]
#[inline]
pub fn partial_sum(data: &[u8], initial: u32) -> u32 {
    // RFC 1071 §2(B, C): the one's-complement sum is byte-order independent and
    // may be taken in wider words, so sum native-endian 64-bit words (an add and
    // an add-with-carry per 8 bytes, no per-byte work, no vector set-up), fold to
    // 16 bits, and swap once at the end. Every piece starts at an even offset, so
    // each 16-bit word keeps its place.
    let (blocks, rest) = data.as_chunks::<64>();
    // Two 128-bit sums: each word goes into the low half and its carry into the
    // high half (an add and an add-with-carry no later add waits on, unlike folding
    // each carry back in at once), the words of a block taking turns, so two chains
    // run side by side; eight words a step, so the loop's own count and branch come
    // once per 64 bytes. A carry out of 64 bits is worth 1 (2^64 ≡ 1 mod 0xffff).
    let mut sums = [0u128; 2];
    for block in blocks {
        let (words, _) = block.as_chunks::<8>();
        for (i, word) in words.iter().enumerate() {
            sums[i % 2] += u128::from(u64::from_ne_bytes(*word));
        }
    }
    let wide = sums[0] + sums[1];
    let mut acc = add_carry(wide as u64, (wide >> 64) as u64);
    let (words, rest) = rest.as_chunks::<8>();
    for word in words {
        acc = add_carry(acc, u64::from_ne_bytes(*word));
    }
    let (quads, rest) = rest.as_chunks::<4>();
    for quad in quads {
        acc = add_carry(acc, u64::from(u32::from_ne_bytes(*quad)));
    }
    let (pairs, odd) = rest.as_chunks::<2>();
    for pair in pairs {
        acc = add_carry(acc, u64::from(u16::from_ne_bytes(*pair)));
    }
    // An odd last byte is the high byte of a zero-padded big-endian word.
    if let [last] = odd {
        acc = add_carry(acc, u64::from(u16::from_ne_bytes([*last, 0])));
    }

    let native = fold(fold64_to_32(acc));
    // The native-order sum is the byte swap of the big-endian sum on a
    // little-endian machine, and equal to it on a big-endian one.
    let be = u32::from(u16::from_be(native));

    // End-around carry out of bit 31: 2^32 ≡ 1 (mod 0xffff). If the add
    // overflowed, `sum` < 0xffff, so the `+ 1` cannot.
    let (sum, carry) = initial.overflowing_add(be);
    sum + u32::from(carry)
}

/// `partial_sum(header, 0)` for an IPv4 header without options: five 32-bit words
/// added in a `u64` (the same byte-order-independent sum, folded the same way), without
/// the general loop's vector set-up, which costs more than the sum over 20 bytes.
#[must_use]
#[inline]
pub fn partial_sum_20(header: &[u8; 20]) -> u32 {
    let acc: u64 = header
        .as_chunks::<4>()
        .0
        .iter()
        .map(|w| u64::from(u32::from_ne_bytes(*w)))
        .sum();
    u32::from(u16::from_be(fold(fold64_to_32(acc))))
}

/// `a + b` with the carry out of bit 63 added back in (2^64 ≡ 1 mod 0xffff): never
/// zero unless both are, and it cannot overflow again (a carry leaves at most
/// `2^64 - 2`).
#[inline(always)]
fn add_carry(a: u64, b: u64) -> u64 {
    let (sum, carry) = a.overflowing_add(b);
    sum + u64::from(carry)
}

/// Folds a 64-bit one's-complement accumulator to 32 bits without changing
/// its value modulo `0xffff` or its zero-ness.
#[inline]
fn fold64_to_32(sum: u64) -> u32 {
    let s = (sum & 0xffff_ffff) + (sum >> 32); // < 2^33
    let s = (s & 0xffff_ffff) + (s >> 32); // <= 0xffff_ffff
    s as u32
}

/// Folds the carries of a partial sum into 16 bits (end-around carry).
/// Not complemented: see [`finish`] for the value that goes on the wire.
#[must_use]
#[inline]
pub fn fold(sum: u32) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16); // <= 0x1fffe
    let s = (s & 0xffff) + (s >> 16); // <= 0xffff
    s as u16
}

/// The checksum field value for a partial sum: the one's complement of the
/// folded sum (RFC 1071 §1). Host order; callers write it big-endian.
#[must_use]
#[inline]
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// Internet checksum of `data` (a header whose checksum field is zero, or
/// any byte string): `finish(partial_sum(data, 0))`.
#[must_use]
pub fn internet_checksum(data: &[u8]) -> u16 {
    finish(partial_sum(data, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_sum_20_is_partial_sum_of_a_header() {
        let mut h = [0u8; 20];
        let mut x: u32 = 0x1234_5678;
        for round in 0..20_000 {
            for b in h.iter_mut() {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (x >> 24) as u8;
            }
            if round % 7 == 0 {
                h = [0xff; 20];
            } else if round % 11 == 0 {
                h = [0; 20];
            }
            assert_eq!(fold(partial_sum_20(&h)), fold(partial_sum(&h, 0)), "{h:?}");
            assert_eq!(partial_sum_20(&h) == 0, partial_sum(&h, 0) == 0);
        }
    }

    /// Obviously-correct reference: big-endian u16 words, u32 sum, fold.
    fn reference_fold(data: &[u8], initial: u32) -> u16 {
        let mut sum = initial;
        let mut i = 0;
        while i + 1 < data.len() {
            sum += u32::from(u16::from_be_bytes([data[i], data[i + 1]]));
            i += 2;
        }
        if i < data.len() {
            sum += u32::from(data[i]) << 8;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    /// xorshift32: deterministic pseudo-random bytes without a crate.
    struct XorShift(u32);
    impl XorShift {
        fn next(&mut self) -> u32 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.0 = x;
            x
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn rfc1071_section3_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 2ddf0, which
        // folds to ddf2; the checksum is its complement, 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(partial_sum(&data, 0)), 0xddf2);
        assert_eq!(fold(0x2ddf0), 0xddf2);
        assert_eq!(internet_checksum(&data), 0x220d);
    }

    #[test]
    fn empty_and_zero_inputs() {
        assert_eq!(partial_sum(&[], 0), 0);
        assert_eq!(partial_sum(&[], 0x1234), 0x1234);
        assert_eq!(partial_sum(&[0; 37], 0), 0);
        assert_eq!(internet_checksum(&[]), 0xffff);
        // Odd trailing byte is the high byte of its word.
        assert_eq!(fold(partial_sum(&[0xab], 0)), 0xab00);
        assert_eq!(fold(partial_sum(&[0x01, 0x02, 0x03], 0)), 0x0402);
    }

    #[test]
    fn fold_edges() {
        assert_eq!(fold(0), 0);
        assert_eq!(fold(0xffff), 0xffff);
        assert_eq!(fold(0x1_0000), 1);
        assert_eq!(fold(0x1_fffe), 0xffff);
        assert_eq!(fold(u32::MAX), 0xffff);
        assert_eq!(finish(0xffff), 0);
        assert_eq!(finish(0), 0xffff);
    }

    #[test]
    fn fast_matches_reference_all_lengths_and_offsets() {
        let mut rng = XorShift(0x9e37_79b9);
        let buf = rng.bytes(300 + 8);
        for offset in [0usize, 1, 2, 3, 5, 7] {
            for len in 0..=300 {
                let data = &buf[offset..offset + len];
                let initial = rng.next() & 0xffff;
                assert_eq!(
                    fold(partial_sum(data, initial)),
                    reference_fold(data, initial),
                    "offset {offset} len {len} initial {initial:#x}"
                );
                assert_eq!(internet_checksum(data), !reference_fold(data, 0));
            }
        }
    }

    /// `reference_fold` with a u64 sum, for inputs of more than 65536 words.
    fn reference_fold_long(data: &[u8], initial: u32) -> u16 {
        let mut sum = u64::from(initial);
        for pair in data.chunks(2) {
            sum += u64::from(pair[0]) << 8 | u64::from(*pair.get(1).unwrap_or(&0));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn long_inputs_across_blocks_match_reference() {
        // Long enough for many end-around carries, with every tail shape after
        // the 8-byte words (4, 2 and 1 bytes): the worst case (all ones) and
        // random bytes.
        let mut rng = XorShift(0x2545_f491);
        for len in [65_535, 65_536, 65_543, 200_005, 200_006] {
            let ones = vec![0xff_u8; len];
            assert_eq!(
                fold(partial_sum(&ones, 0)),
                reference_fold_long(&ones, 0),
                "ones {len}"
            );
            let data = rng.bytes(len);
            let initial = rng.next();
            assert_eq!(
                fold(partial_sum(&data, initial)),
                reference_fold_long(&data, initial),
                "random {len}"
            );
        }
    }

    #[test]
    fn all_ones_words_do_not_overflow() {
        // Worst case for the accumulators: every word 0xffff. 750 such
        // words are ≡ 0 (mod 0xffff) but nonzero, so they fold to 0xffff;
        // u32::MAX = 0xffff * 0x10001 is also ≡ 0. An odd 0xff tail adds 0xff00.
        let data = vec![0xff; 1501];
        assert_eq!(fold(partial_sum(&data[..1500], u32::MAX)), 0xffff);
        assert_eq!(reference_fold(&data[..1500], 0), 0xffff);
        assert_eq!(fold(partial_sum(&data, u32::MAX)), 0xff00);
        assert_eq!(reference_fold(&data, 0), 0xff00);
    }

    #[test]
    fn large_initial_uses_end_around_carry() {
        let data = [0xff, 0xff];
        // 0xffff_ffff + 0xffff ≡ 0xffff + 0xffff ≡ 0xffff (mod 0xffff, nonzero)
        assert_eq!(fold(partial_sum(&data, u32::MAX)), 0xffff);
        assert_eq!(fold(partial_sum(&[0x00, 0x01], 0xffff_ffff)), 1);
    }

    #[test]
    fn sums_split_at_even_boundaries_add_up() {
        let mut rng = XorShift(12345);
        let data = rng.bytes(257);
        for split in (0..=data.len()).step_by(2) {
            let (a, b) = data.split_at(split);
            let whole = fold(partial_sum(&data, 0));
            assert_eq!(fold(partial_sum(a, 0) + partial_sum(b, 0)), whole);
            assert_eq!(fold(partial_sum(b, partial_sum(a, 0))), whole);
        }
    }

    #[test]
    fn header_with_checksum_inserted_sums_to_all_ones() {
        // The IPv4 header from ip.rs tests with its checksum field zeroed.
        let mut header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        let ck = internet_checksum(&header);
        assert_eq!(ck, 0xb861);
        header[10..12].copy_from_slice(&ck.to_be_bytes());
        assert_eq!(fold(partial_sum(&header, 0)), 0xffff);
        assert_eq!(internet_checksum(&header), 0);
    }
}
