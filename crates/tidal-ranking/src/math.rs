//! The formulas behind the sort modes and profile stages, each a pure
//! function of numbers (docs/ranking.md gives each one with its source).

use tidal_schema::Transform;

/// The z value of a 95% confidence interval, used by [`wilson_lower_bound`].
pub const WILSON_Z: f64 = 1.96;

/// Reddit's "hot" epoch offset (seconds since the Unix epoch of
/// 2005-12-08 07:46:43 UTC), kept so scores match Reddit's published ones.
pub const HOT_EPOCH_SECS: f64 = 1_134_028_003.0;

/// Seconds per unit of `log10(votes)` in Reddit's "hot" formula.
pub const HOT_SECONDS_PER_ORDER: f64 = 45_000.0;

/// Hacker News's gravity exponent.
pub const HN_GRAVITY: f64 = 1.8;

/// Lower bound of the Wilson score interval for `positive` successes out of
/// `positive + negative` trials: the "best" ranking. Zero with no trials.
pub fn wilson_lower_bound(positive: f64, negative: f64) -> f64 {
    let n = positive + negative;
    if n <= 0.0 || !n.is_finite() {
        return 0.0;
    }
    let p = (positive / n).clamp(0.0, 1.0);
    let z2 = WILSON_Z * WILSON_Z;
    let centre = p + z2 / (2.0 * n);
    let spread = WILSON_Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).max(0.0)
}

/// Reddit's hot score: `sign(s)·log10(max(|s|, 1)) + (t − epoch)/45000`
/// with `s = ups − downs` and `t` the publication time in seconds.
pub fn reddit_hot(ups: f64, downs: f64, published_secs: f64) -> f64 {
    let s = ups - downs;
    let order = s.abs().max(1.0).log10();
    let sign = if s > 0.0 {
        1.0
    } else if s < 0.0 {
        -1.0
    } else {
        0.0
    };
    sign * order + (published_secs - HOT_EPOCH_SECS) / HOT_SECONDS_PER_ORDER
}

/// Reddit's controversy score: `(ups + downs)^(min/max)`, zero unless an
/// item has both.
pub fn controversy(ups: f64, downs: f64) -> f64 {
    if ups <= 0.0 || downs <= 0.0 {
        return 0.0;
    }
    let balance = if ups > downs { downs / ups } else { ups / downs };
    (ups + downs).powf(balance)
}

/// Hacker News's ranking: `(points − 1) / (age_hours + 2)^gravity`.
pub fn gravity(points: f64, age_hours: f64) -> f64 {
    (points - 1.0) / (age_hours.max(0.0) + 2.0).powf(HN_GRAVITY)
}

/// `numerator / denominator`, zero when the denominator is not positive.
pub fn rate(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 { numerator / denominator } else { 0.0 }
}

/// Applies a profile term's transform. Negative inputs (which views never
/// produce, but a caller's source might) are clamped to zero for `log1p`
/// and `sqrt` so the result stays finite.
pub fn transform(t: Transform, x: f64) -> f64 {
    match t {
        Transform::Identity => x,
        Transform::Log1p => x.max(0.0).ln_1p(),
        Transform::Sqrt => x.max(0.0).sqrt(),
    }
}

/// `2^(−age/half_life)`, one for items from the future.
pub fn recency(age_secs: f64, half_life_secs: f64) -> f64 {
    if age_secs <= 0.0 || half_life_secs <= 0.0 {
        return 1.0;
    }
    (-age_secs / half_life_secs).exp2()
}

/// Dot product in sixteen independent lanes (so the compiler can vectorize
/// it), summed in f64 at the end.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in ca.by_ref().zip(cb.by_ref()) {
        for ((l, &x), &y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    lanes.iter().map(|&l| f64::from(l)).sum::<f64>() + f64::from(tail)
}

/// Euclidean norm.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// Cosine similarity; zero if either vector is zero or the lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let d = norm(a) * norm(b);
    if d > 0.0 && d.is_finite() { (dot(a, b) / d).clamp(-1.0, 1.0) } else { 0.0 }
}

/// `SplitMix64`: the seeded, reproducible hash behind shuffle and
/// exploration slot placement.
pub const fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A uniform number in `[0, 1)` from a seed and an id.
pub fn unit_hash(seed: u64, id: u64) -> f64 {
    // Reason: the top 53 bits of a u64 are exactly representable.
    #[allow(clippy::cast_precision_loss)]
    let x = (splitmix64(seed ^ splitmix64(id)) >> 11) as f64;
    x / 9_007_199_254_740_992.0 // 2^53
}

#[cfg(test)]
// Reason: exact zeros and ones are the documented edge values; small test integers are exact in f32.
#[allow(clippy::float_cmp, clippy::cast_precision_loss)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn wilson_matches_hand_computation() {
        // 1 up, 0 down: p = 1, n = 1 → (1 + 1.9208 − 1.96·√(0.9604)) / 4.8416
        let expected = (1.0 + 1.920_8 - 1.96 * 0.960_4f64.sqrt()) / 4.841_6;
        assert!(close(wilson_lower_bound(1.0, 0.0), expected));
        // More evidence at the same ratio ranks higher.
        assert!(wilson_lower_bound(100.0, 0.0) > wilson_lower_bound(10.0, 0.0));
        assert_eq!(wilson_lower_bound(0.0, 0.0), 0.0);
        // 60/40 over 100 trials: the textbook 0.5020.
        assert!((wilson_lower_bound(60.0, 40.0) - 0.502_0).abs() < 1e-4);
    }

    #[test]
    fn hot_matches_reddit() {
        // At the epoch a 10-vote post scores exactly 1; 45000 s later, 2.
        assert!(close(reddit_hot(10.0, 0.0, HOT_EPOCH_SECS), 1.0));
        assert!(close(reddit_hot(10.0, 0.0, HOT_EPOCH_SECS + 45_000.0), 2.0));
        assert!(close(reddit_hot(0.0, 10.0, HOT_EPOCH_SECS), -1.0));
        assert!(close(reddit_hot(3.0, 3.0, HOT_EPOCH_SECS), 0.0));
    }

    #[test]
    fn controversy_and_gravity_by_hand() {
        assert!(close(controversy(10.0, 10.0), 20.0));
        assert!(close(controversy(10.0, 5.0), 15f64.powf(0.5)));
        assert_eq!(controversy(10.0, 0.0), 0.0);
        // (11 − 1) / (2 + 2)^1.8
        assert!(close(gravity(11.0, 2.0), 10.0 / 4f64.powf(1.8)));
    }

    #[test]
    fn cosine_and_transforms() {
        assert!(close(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0));
        assert!(close(cosine(&[1.0, 1.0], &[2.0, 2.0]), 1.0));
        assert_eq!(cosine(&[0.0; 3], &[1.0; 3]), 0.0);
        assert_eq!(cosine(&[1.0; 3], &[1.0; 4]), 0.0);
        let long: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let expect: f64 = long.iter().map(|&x| f64::from(x * x)).sum();
        assert!(close(dot(&long, &long), expect));
        assert!(close(transform(Transform::Log1p, std::f64::consts::E - 1.0), 1.0));
        assert!(close(transform(Transform::Sqrt, 9.0), 3.0));
        assert_eq!(transform(Transform::Log1p, -5.0), 0.0);
        assert!(close(recency(3600.0, 3600.0), 0.5));
        assert_eq!(recency(-1.0, 10.0), 1.0);
    }

    #[test]
    fn unit_hash_is_uniform_enough_and_seeded() {
        let a: Vec<f64> = (0..1000).map(|i| unit_hash(7, i)).collect();
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = a.iter().sum::<f64>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
        assert_ne!(unit_hash(7, 1), unit_hash(8, 1));
        assert_eq!(unit_hash(7, 1), unit_hash(7, 1));
    }
}
