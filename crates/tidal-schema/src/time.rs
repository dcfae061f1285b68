//! [`Timestamp`]: nanoseconds since the Unix epoch, with saturating arithmetic.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time: nanoseconds since the Unix epoch (UTC), as a `u64`.
///
/// That covers 1970 to 2554. Arithmetic with [`Duration`] saturates at both
/// ends instead of wrapping or panicking, so a hostile or buggy timestamp can
/// never crash a window or decay computation.
///
/// ```
/// use std::time::Duration;
/// use tidal_schema::Timestamp;
///
/// let t = Timestamp::from_secs(1_700_000_000);
/// assert_eq!(t.saturating_add(Duration::from_secs(60)).as_secs(), 1_700_000_060);
/// assert_eq!(Timestamp::EPOCH.saturating_sub(Duration::from_secs(1)), Timestamp::EPOCH);
/// assert_eq!(Timestamp::from_nanos(1_999_999_999).truncate_to(Duration::from_secs(1)).as_nanos(), 1_000_000_000);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: Self = Self(0);
    /// The latest representable instant.
    pub const MAX: Self = Self(u64::MAX);

    /// A timestamp from nanoseconds since the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// A timestamp from microseconds since the epoch (saturating).
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros.saturating_mul(1_000))
    }

    /// A timestamp from milliseconds since the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1_000_000))
    }

    /// A timestamp from whole seconds since the epoch (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1_000_000_000))
    }

    /// The current wall-clock time (the epoch if the clock is set before it).
    pub fn now() -> Self {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(Self::EPOCH, |d| Self(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Whole seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    /// `self + d`, saturating at [`Timestamp::MAX`].
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_nanos(d)))
    }

    /// `self - d`, saturating at [`Timestamp::EPOCH`].
    #[must_use]
    pub fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(duration_nanos(d)))
    }

    /// `self + d`, or `None` past [`Timestamp::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        u64::try_from(d.as_nanos()).ok().and_then(|n| self.0.checked_add(n)).map(Self)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Rounds down to a multiple of `granularity` (for example one second, the
    /// dedup granularity of signal events). A zero granularity returns `self`.
    #[must_use]
    pub fn truncate_to(self, granularity: Duration) -> Self {
        let g = duration_nanos(granularity);
        if g == 0 { self } else { Self(self.0 - self.0 % g) }
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl fmt::Display for Timestamp {
    /// Seconds and nanoseconds since the epoch, e.g. `1700000000.000000042`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.0 / 1_000_000_000, self.0 % 1_000_000_000)
    }
}

impl Timestamp {
    /// The time in RFC 3339, UTC, with a fraction only when it has one:
    /// `2023-11-14T22:13:20Z`, `2023-11-14T22:13:20.5Z`.
    ///
    /// ```
    /// use tidal_schema::Timestamp;
    ///
    /// assert_eq!(Timestamp::from_secs(1_700_000_000).rfc3339(), "2023-11-14T22:13:20Z");
    /// assert_eq!(Timestamp::from_nanos(1_500_000_000).rfc3339(), "1970-01-01T00:00:01.5Z");
    /// ```
    pub fn rfc3339(self) -> String {
        let secs = self.0 / 1_000_000_000;
        let nanos = self.0 % 1_000_000_000;
        let (days, rem) = (secs / 86_400, secs % 86_400);
        // Days since the epoch to a civil date (Howard Hinnant's algorithm,
        // for days ≥ 0).
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        let mut out = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
        if nanos != 0 {
            let fraction = format!("{nanos:09}");
            out.push('.');
            out.push_str(fraction.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3339_of_known_instants() {
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_718_000_000, "2024-06-10T06:13:20Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
            (7_258_118_400, "2200-01-01T00:00:00Z"),
        ] {
            assert_eq!(Timestamp::from_secs(secs).rfc3339(), text, "{secs}");
        }
        assert_eq!(Timestamp::MAX.rfc3339(), "2554-07-21T23:34:33.709551615Z");
    }

    #[test]
    fn saturates_at_both_ends() {
        assert_eq!(Timestamp::MAX.saturating_add(Duration::from_nanos(1)), Timestamp::MAX);
        assert_eq!(Timestamp::MAX.saturating_add(Duration::MAX), Timestamp::MAX);
        assert_eq!(Timestamp::from_nanos(5).saturating_sub(Duration::MAX), Timestamp::EPOCH);
        assert_eq!(Timestamp::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(Timestamp::from_secs(u64::MAX), Timestamp::MAX);
    }

    #[test]
    fn unit_constructors_agree() {
        assert_eq!(Timestamp::from_secs(2), Timestamp::from_millis(2_000));
        assert_eq!(Timestamp::from_millis(2), Timestamp::from_micros(2_000));
        assert_eq!(Timestamp::from_micros(2), Timestamp::from_nanos(2_000));
        assert_eq!(Timestamp::from_nanos(1_500_000_000).to_string(), "1.500000000");
    }

    #[test]
    fn now_is_after_2020() {
        assert!(Timestamp::now() > Timestamp::from_secs(1_577_836_800));
    }

    proptest! {
        #[test]
        fn add_then_sub_round_trips_when_in_range(t in 0u64..u64::MAX / 2, d in 0u64..u64::MAX / 2) {
            let ts = Timestamp::from_nanos(t);
            let dur = Duration::from_nanos(d);
            prop_assert_eq!(ts.saturating_add(dur).saturating_sub(dur), ts);
            prop_assert_eq!(ts.saturating_add(dur).saturating_duration_since(ts), dur);
        }

        #[test]
        fn truncation_is_a_floor(t: u64, g in 1u64..10_000_000_000) {
            let r = Timestamp::from_nanos(t).truncate_to(Duration::from_nanos(g));
            prop_assert!(r.as_nanos() <= t);
            prop_assert!(t - r.as_nanos() < g);
            prop_assert_eq!(r.as_nanos() % g, 0);
        }
    }
}
