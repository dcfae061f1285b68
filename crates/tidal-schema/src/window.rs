//! [`Window`]: the time spans signal views are counted over.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::duration::{format_duration, parse_duration};
use crate::error::SchemaError;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The shortest custom window.
pub const MIN_WINDOW: Duration = Duration::from_secs(MINUTE);
/// The longest custom window (one leap year); longer spans use all-time.
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * DAY);

/// Bucket widths a window may be counted at, coarsest first.
const BUCKET_WIDTHS: [u64; 9] =
    [DAY, 12 * HOUR, 6 * HOUR, 3 * HOUR, HOUR, 30 * MINUTE, 15 * MINUTE, 5 * MINUTE, MINUTE];

/// A time window for counts, sums and velocity: the span `(t − W, t]`, or all time.
///
/// The standard windows are constants; custom spans go through
/// [`Window::custom`], which accepts whole minutes from [`MIN_WINDOW`] to
/// [`MAX_WINDOW`]. Windows order by length, with all-time last.
///
/// # Granularity
///
/// A window's count is exact at the granularity of [`Window::bucket_width`]:
/// the largest of 1 d, 12 h, 6 h, 3 h, 1 h, 30 m, 15 m, 5 m and 1 m that
/// divides the window and is finer than 1/48 of it, or 1 minute when none
/// is. So `1h` counts in 1-minute buckets, `24h` in 15-minute buckets, `7d`
/// in 3-hour buckets and `30d` in 12-hour buckets. The window's start edge moves
/// in whole buckets, so an event up to one bucket older than `t − W` may still
/// be counted; events inside a bucket are never lost or double counted.
///
/// ```
/// use std::time::Duration;
/// use tidal_schema::Window;
///
/// let w: Window = "24h".parse().unwrap();
/// assert_eq!(w, Window::DAY);
/// assert_eq!(w.bucket_width(), Some(Duration::from_secs(15 * 60)));
/// assert!(Window::custom(Duration::from_secs(90)).is_err()); // not whole minutes
/// assert!(Window::HOUR < Window::ALL_TIME);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Whole seconds, or `None` for all time.
    secs: Option<u64>,
}

impl Window {
    /// The last hour.
    pub const HOUR: Self = Self { secs: Some(HOUR) };
    /// The last 24 hours.
    pub const DAY: Self = Self { secs: Some(DAY) };
    /// The last 7 days.
    pub const WEEK: Self = Self { secs: Some(7 * DAY) };
    /// The last 30 days.
    pub const MONTH: Self = Self { secs: Some(30 * DAY) };
    /// The last 365 days.
    pub const YEAR: Self = Self { secs: Some(365 * DAY) };
    /// Every event ever recorded.
    pub const ALL_TIME: Self = Self { secs: None };

    /// A custom window of `span`: whole minutes, from [`MIN_WINDOW`] to [`MAX_WINDOW`].
    pub fn custom(span: Duration) -> Result<Self, SchemaError> {
        let fail = |reason: &str| SchemaError::InvalidWindow { reason: format!("{}: {reason}", format_duration(span)) };
        if span < MIN_WINDOW {
            return Err(fail("shorter than one minute"));
        }
        if span > MAX_WINDOW {
            return Err(fail("longer than 366 days; use all-time"));
        }
        if span.subsec_nanos() != 0 || !span.as_secs().is_multiple_of(MINUTE) {
            return Err(fail("not a whole number of minutes"));
        }
        Ok(Self { secs: Some(span.as_secs()) })
    }

    /// The span, or `None` for all time.
    pub fn duration(self) -> Option<Duration> {
        self.secs.map(Duration::from_secs)
    }

    /// Whether this is the all-time window.
    pub const fn is_all_time(self) -> bool {
        self.secs.is_none()
    }

    /// The bucket width this window is counted at (see the type docs), or
    /// `None` for all time, which needs no buckets.
    pub fn bucket_width(self) -> Option<Duration> {
        let secs = self.secs?;
        let width = BUCKET_WIDTHS.iter().copied().find(|w| secs.is_multiple_of(*w) && w * 48 < secs).unwrap_or(MINUTE);
        Some(Duration::from_secs(width))
    }
}

impl Ord for Window {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.secs, other.secs) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
}

impl PartialOrd for Window {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Window {
    /// `all` for all time, otherwise the canonical duration (`1h`, `1d`, `1w`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.duration() {
            None => f.write_str("all"),
            Some(d) => f.write_str(&format_duration(d)),
        }
    }
}

impl FromStr for Window {
    type Err = SchemaError;

    /// Accepts `all` (or `all_time`, `all-time`) and any duration [`Window::custom`] accepts.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" | "all_time" | "all-time" => Ok(Self::ALL_TIME),
            other => Self::custom(parse_duration(other)?),
        }
    }
}

impl Serialize for Window {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_windows_parse_and_print() {
        for (text, window) in [
            ("1h", Window::HOUR),
            ("24h", Window::DAY),
            ("7d", Window::WEEK),
            ("30d", Window::MONTH),
            ("all", Window::ALL_TIME),
        ] {
            let parsed: Window = text.parse().unwrap();
            assert_eq!(parsed, window);
            assert_eq!(window.to_string().parse::<Window>().unwrap(), window);
        }
        assert_eq!(Window::DAY.to_string(), "1d");
    }

    #[test]
    fn documented_bucket_widths() {
        let minutes = |w: Window| w.bucket_width().unwrap().as_secs() / 60;
        assert_eq!(minutes(Window::HOUR), 1);
        assert_eq!(minutes(Window::DAY), 15);
        assert_eq!(minutes(Window::WEEK), 180);
        assert_eq!(minutes(Window::MONTH), 720);
        assert_eq!(minutes(Window::YEAR), 1440);
        assert_eq!(Window::ALL_TIME.bucket_width(), None);
        assert_eq!(minutes(Window::custom(Duration::from_secs(5 * 60)).unwrap()), 1);
    }

    #[test]
    fn rejects_bad_custom_windows() {
        for bad in [
            Duration::ZERO,
            Duration::from_secs(59),
            Duration::from_secs(61),
            Duration::from_millis(60_500),
            MAX_WINDOW + Duration::from_secs(60),
        ] {
            assert!(matches!(Window::custom(bad), Err(SchemaError::InvalidWindow { .. })), "{bad:?}");
        }
        assert!("1w1x".parse::<Window>().is_err());
    }

    proptest! {
        #[test]
        fn bucket_width_divides_and_is_fine_enough(minutes in 1u64..=366 * 24 * 60) {
            let w = Window::custom(Duration::from_secs(minutes * 60)).unwrap();
            let width = w.bucket_width().unwrap().as_secs();
            prop_assert_eq!((minutes * 60) % width, 0);
            prop_assert!(width == 60 || width * 48 < minutes * 60);
        }

        #[test]
        fn order_matches_length(a in 1u64..10_000, b in 1u64..10_000) {
            let (x, y) = (Window::custom(Duration::from_secs(a * 60)).unwrap(), Window::custom(Duration::from_secs(b * 60)).unwrap());
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            prop_assert!(x < Window::ALL_TIME);
        }
    }
}
