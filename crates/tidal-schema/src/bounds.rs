//! [`InputBounds`]: the limits every written event and edge is checked
//! against before it reaches the log, so one hostile input cannot take over
//! a ranking or push a sum to infinity.
//!
//! Three rules, each refused with an [`InputError`] that names the limit:
//!
//! * an event time later than the writer's clock plus `max_future_skew`
//!   (historical times are always allowed: back-fills and imports need them);
//! * a weight that is not finite, or whose magnitude exceeds `max_weight`;
//! * a negative relationship weight (signal weights are non-negative too:
//!   negative feedback is a signal with negative polarity, not a negative
//!   weight).
//!
//! With weights at most `max_weight` (≤ [`MAX_WEIGHT_LIMIT`]) and counts at
//! most 2⁶⁴, every weight sum stays below 1e300: no sum reaches infinity.

use std::fmt;
use std::time::Duration;

use crate::duration::format_duration;
use crate::limits::MAX_WEIGHT;
use crate::time::Timestamp;

/// The largest `max_weight` a database accepts: 2⁶⁴ events of this weight
/// still sum to a finite `f64`.
pub const MAX_WEIGHT_LIMIT: f64 = 1e280;

/// The default `max_future_skew`: five minutes.
pub const DEFAULT_FUTURE_SKEW: Duration = Duration::from_secs(300);

/// The limits writes are checked against (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputBounds {
    /// How far past the writer's clock an event time may be.
    pub max_future_skew: Duration,
    /// The largest weight magnitude of an event or edge.
    pub max_weight: f64,
}

impl Default for InputBounds {
    /// Five minutes of clock skew; weights up to 1e9 (the schema's own
    /// largest weight).
    fn default() -> Self {
        Self { max_future_skew: DEFAULT_FUTURE_SKEW, max_weight: MAX_WEIGHT }
    }
}

/// An input outside the [`InputBounds`]; nothing was written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A NaN or infinite weight.
    #[error("weight {0} is not finite")]
    NotFinite(f64),
    /// A weight whose magnitude is over the limit.
    #[error("weight {weight} exceeds the maximum weight {max} (Config::max_weight)")]
    TooLarge {
        /// The weight given.
        weight: f64,
        /// The limit.
        max: f64,
    },
    /// A negative weight.
    #[error("weight {0} is negative; weights must be non-negative")]
    Negative(f64),
    /// An event time too far past the writer's clock.
    #[error(
        "event time {} is {ahead} after the clock ({}); the limit is {skew} (Config::max_future_skew)",
        at.rfc3339(),
        now.rfc3339(),
        ahead = Gap(at.as_nanos().saturating_sub(now.as_nanos())),
        skew = Gap(u64::try_from(max_skew.as_nanos()).unwrap_or(u64::MAX))
    )]
    InFuture {
        /// The event's time.
        at: Timestamp,
        /// The writer's clock.
        now: Timestamp,
        /// The allowed skew.
        max_skew: Duration,
    },
    /// Bounds that cannot be used: a `max_weight` that is not positive or
    /// over [`MAX_WEIGHT_LIMIT`].
    #[error("invalid bounds: {0}")]
    InvalidBounds(String),
}

/// A span in nanoseconds printed as a duration (whole seconds, or `0s`).
struct Gap(u64);

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        if secs == 0 {
            write!(f, "{}ms", self.0 / 1_000_000)
        } else {
            f.write_str(&format_duration(Duration::from_secs(secs)))
        }
    }
}

impl InputBounds {
    /// Checks the bounds themselves.
    ///
    /// # Errors
    /// [`InputError::InvalidBounds`].
    pub fn validate(&self) -> Result<(), InputError> {
        if !(self.max_weight > 0.0 && self.max_weight <= MAX_WEIGHT_LIMIT) {
            return Err(InputError::InvalidBounds(format!(
                "max_weight {} must be in (0, {MAX_WEIGHT_LIMIT:e}]",
                self.max_weight
            )));
        }
        Ok(())
    }

    /// Checks a signal event's or an edge's weight: finite, non-negative,
    /// at most `max_weight`.
    ///
    /// # Errors
    /// [`InputError::NotFinite`], [`InputError::Negative`], [`InputError::TooLarge`].
    pub fn check_weight(&self, weight: f64) -> Result<(), InputError> {
        if !weight.is_finite() {
            return Err(InputError::NotFinite(weight));
        }
        if weight < 0.0 {
            return Err(InputError::Negative(weight));
        }
        if weight > self.max_weight {
            return Err(InputError::TooLarge { weight, max: self.max_weight });
        }
        Ok(())
    }

    /// Checks an event time against the writer's clock `now`.
    ///
    /// # Errors
    /// [`InputError::InFuture`].
    pub fn check_time(&self, at: Timestamp, now: Timestamp) -> Result<(), InputError> {
        let limit = now.saturating_add(self.max_future_skew);
        if at > limit {
            return Err(InputError::InFuture { at, now, max_skew: self.max_future_skew });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_at_and_past_each_limit() {
        let b = InputBounds::default();
        assert_eq!(b.check_weight(0.0), Ok(()));
        assert_eq!(b.check_weight(1e9), Ok(()));
        assert_eq!(
            b.check_weight(1e9 * (1.0 + f64::EPSILON)),
            Err(InputError::TooLarge { weight: 1e9 * (1.0 + f64::EPSILON), max: 1e9 })
        );
        assert_eq!(b.check_weight(1e308), Err(InputError::TooLarge { weight: 1e308, max: 1e9 }));
        assert_eq!(b.check_weight(-1e308), Err(InputError::Negative(-1e308)));
        assert_eq!(b.check_weight(-0.5), Err(InputError::Negative(-0.5)));
        assert!(matches!(b.check_weight(f64::NAN), Err(InputError::NotFinite(_))));
        assert_eq!(b.check_weight(f64::INFINITY), Err(InputError::NotFinite(f64::INFINITY)));
    }

    #[test]
    fn times_at_and_past_the_skew() {
        let b = InputBounds::default();
        let now = Timestamp::from_secs(1_700_000_000);
        assert_eq!(b.check_time(Timestamp::EPOCH, now), Ok(()), "history is allowed");
        assert_eq!(b.check_time(now.saturating_add(DEFAULT_FUTURE_SKEW), now), Ok(()));
        let late = now.saturating_add(DEFAULT_FUTURE_SKEW + Duration::from_nanos(1));
        let err = b.check_time(late, now).unwrap_err();
        assert!(matches!(err, InputError::InFuture { .. }));
        let year_2200 = Timestamp::from_secs(7_258_118_400);
        let text = b.check_time(year_2200, now).unwrap_err().to_string();
        assert!(text.contains("the limit is 5m"), "{text}");
    }

    #[test]
    fn the_worst_sum_the_bounds_allow_is_finite() {
        assert!((MAX_WEIGHT_LIMIT * 2f64.powi(64)).is_finite());
        let b = InputBounds { max_weight: f64::INFINITY, ..InputBounds::default() };
        assert!(matches!(b.validate(), Err(InputError::InvalidBounds(_))));
        let b = InputBounds { max_weight: 0.0, ..InputBounds::default() };
        assert!(matches!(b.validate(), Err(InputError::InvalidBounds(_))));
        assert_eq!(InputBounds::default().validate(), Ok(()));
    }
}
