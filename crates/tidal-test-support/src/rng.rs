//! [`SplitMix64`]: the seeded generator tests, benches and the memfs share,
//! so random inputs and crash points reproduce from a seed without a
//! dependency on `rand`.

/// Sebastiano Vigna's `SplitMix64`: a 64-bit state stepped by the golden
/// ratio and mixed, good enough for test data and fast enough for benches.
/// Every seed works, zero included. The sequence for a seed is fixed: tests
/// and recorded benchmark inputs depend on it.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose sequence is determined by `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0). The modulo bias is below
    /// `n / 2^64`, invisible at test sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// An index into a slice of `len` items (0 when `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        // Lossless both ways: `usize` is at most 64 bits and the result is below `len`.
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    /// A uniform float in `[0, 1)`, from the top 53 bits.
    #[allow(clippy::cast_precision_loss)] // Reason: 53-bit integers are exact in `f64`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A fair coin.
    pub fn chance(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// A uniformly chosen element of a non-empty slice.
    ///
    /// # Panics
    ///
    /// If `items` is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// A number in `0..n` with Zipf(1)-like popularity: `n^u - 1` for a
    /// uniform `u`, so a few small values take most draws, as items do in a
    /// feed. `n` must be at least 1.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // Reason: `n^u` lies in `[1, n)`, so the cast back to `u64` is in range; `n` far below 2^52 in practice.
    pub fn zipf(&mut self, n: u64) -> u64 {
        ((n as f64).powf(self.unit()) as u64).saturating_sub(1).min(n.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn matches_the_reference_sequence() {
        // The first outputs of the reference implementation for seed 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn draws_stay_in_range_and_repeat_for_a_seed() {
        let mut first = SplitMix64::new(42);
        let mut again = SplitMix64::new(42);
        for n in [1u64, 2, 3, 7, 1000, u64::MAX] {
            for _ in 0..100 {
                let below = first.below(n);
                assert!(below < n);
                assert_eq!(below, again.below(n));
                let unit = first.unit();
                assert!((0.0..1.0).contains(&unit));
                assert_eq!(unit.to_bits(), again.unit().to_bits());
                let zipf = first.zipf(n.min(1 << 40));
                assert!(zipf < n);
                assert_eq!(zipf, again.zipf(n.min(1 << 40)));
            }
        }
        assert_eq!(first.below(0), 0);
        assert_eq!(first.index(0), 0);
        assert_eq!(*first.pick(&["only"]), "only");
    }

    #[test]
    fn zipf_favours_small_values() {
        let mut rng = SplitMix64::new(7);
        let draws: Vec<u64> = (0..10_000).map(|_| rng.zipf(1_000_000)).collect();
        let small = draws.iter().filter(|&&x| x < 1000).count();
        // `P(n^u - 1 < 1000) = log(1001) / log(10^6)`, about a half.
        assert!((4000..6000).contains(&small), "{small} of 10,000 draws below 1,000");
    }
}
