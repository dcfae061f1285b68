//! [`DecaySpec`]: how fast a signal's weight fades, with its rate precomputed.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::{format_duration, serde_text};
use crate::error::SchemaError;

/// The shortest half-life or lifetime a decay may have.
pub const MIN_DECAY_SPAN: Duration = Duration::from_secs(1);
/// The longest half-life or lifetime a decay may have (100 years of 365 days).
pub const MAX_DECAY_SPAN: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The shape of a decay, without its precomputed rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "DecayRepr")]
pub enum DecayModel {
    /// Weight `w` at age `a` counts `w · 2^(−a / half_life)`.
    Exponential {
        /// Age at which an event counts half.
        #[serde(with = "serde_text")]
        half_life: Duration,
    },
    /// Weight `w` at age `a` counts `w · max(0, 1 − a / lifetime)`.
    Linear {
        /// Age at which an event stops counting.
        #[serde(with = "serde_text")]
        lifetime: Duration,
    },
    /// Weight counts fully forever.
    None,
}

/// [`DecayModel`] as read from files; `None {}` is an empty struct so that
/// `deny_unknown_fields` rejects stray keys next to `kind = "none"`.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum DecayRepr {
    Exponential {
        #[serde(with = "serde_text")]
        half_life: Duration,
    },
    Linear {
        #[serde(with = "serde_text")]
        lifetime: Duration,
    },
    None {},
}

impl From<DecayRepr> for DecayModel {
    fn from(r: DecayRepr) -> Self {
        match r {
            DecayRepr::Exponential { half_life } => Self::Exponential { half_life },
            DecayRepr::Linear { lifetime } => Self::Linear { lifetime },
            DecayRepr::None {} => Self::None,
        }
    }
}

/// A validated decay model with its rate precomputed.
///
/// The rate is per second: `ln 2 / half_life` for exponential decay,
/// `1 / lifetime` for linear decay and `0` for none. Construct with
/// [`DecaySpec::exponential`], [`DecaySpec::linear`] or [`DecaySpec::NONE`];
/// spans must lie in [`MIN_DECAY_SPAN`]`..=`[`MAX_DECAY_SPAN`].
///
/// ```
/// use std::time::Duration;
/// use tidal_schema::DecaySpec;
///
/// let day = Duration::from_secs(86_400);
/// let decay = DecaySpec::exponential(day).unwrap();
/// assert!((decay.factor(day) - 0.5).abs() < 1e-12);
/// assert!((decay.factor(2 * day) - 0.25).abs() < 1e-12);
/// assert_eq!(DecaySpec::linear(day).unwrap().factor(2 * day), 0.0);
/// assert_eq!(DecaySpec::NONE.factor(day), 1.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DecayModel", into = "DecayModel")]
pub struct DecaySpec {
    model: DecayModel,
    rate_per_sec: f64,
}

impl DecaySpec {
    /// No decay: every event keeps its full weight.
    pub const NONE: Self = Self { model: DecayModel::None, rate_per_sec: 0.0 };

    /// Exponential decay with the given half-life.
    pub fn exponential(half_life: Duration) -> Result<Self, SchemaError> {
        Self::try_from(DecayModel::Exponential { half_life })
    }

    /// Linear decay to zero over `lifetime`.
    pub fn linear(lifetime: Duration) -> Result<Self, SchemaError> {
        Self::try_from(DecayModel::Linear { lifetime })
    }

    /// The model (shape and span).
    pub const fn model(&self) -> DecayModel {
        self.model
    }

    /// The precomputed rate per second (see the type docs).
    pub const fn rate_per_sec(&self) -> f64 {
        self.rate_per_sec
    }

    /// The half-life of an exponential decay.
    pub const fn half_life(&self) -> Option<Duration> {
        match self.model {
            DecayModel::Exponential { half_life } => Some(half_life),
            _ => None,
        }
    }

    /// Whether events keep their full weight forever.
    pub const fn is_none(&self) -> bool {
        matches!(self.model, DecayModel::None)
    }

    /// The multiplier applied to an event's weight at the given age, in `[0, 1]`.
    pub fn factor(&self, age: Duration) -> f64 {
        self.factor_secs(age.as_secs_f64())
    }

    /// [`factor`](Self::factor) for an age in (possibly fractional, never
    /// negative) seconds; a negative age counts as zero.
    pub fn factor_secs(&self, age_secs: f64) -> f64 {
        let age = age_secs.max(0.0);
        match self.model {
            DecayModel::Exponential { .. } => (-self.rate_per_sec * age).exp(),
            DecayModel::Linear { .. } => (1.0 - self.rate_per_sec * age).max(0.0),
            DecayModel::None => 1.0,
        }
    }
}

impl TryFrom<DecayModel> for DecaySpec {
    type Error = SchemaError;

    fn try_from(model: DecayModel) -> Result<Self, Self::Error> {
        let span = match model {
            DecayModel::Exponential { half_life } => half_life,
            DecayModel::Linear { lifetime } => lifetime,
            DecayModel::None => return Ok(Self::NONE),
        };
        if !(MIN_DECAY_SPAN..=MAX_DECAY_SPAN).contains(&span) {
            return Err(SchemaError::InvalidDecay {
                reason: format!("span {} is outside 1s..=100 years", format_duration(span)),
            });
        }
        let secs = span.as_secs_f64();
        let rate_per_sec = match model {
            DecayModel::Exponential { .. } => std::f64::consts::LN_2 / secs,
            _ => 1.0 / secs,
        };
        Ok(Self { model, rate_per_sec })
    }
}

impl From<DecaySpec> for DecayModel {
    fn from(spec: DecaySpec) -> Self {
        spec.model
    }
}

impl fmt::Display for DecaySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.model {
            DecayModel::Exponential { half_life } => write!(f, "exponential(half_life={})", format_duration(half_life)),
            DecayModel::Linear { lifetime } => write!(f, "linear(lifetime={})", format_duration(lifetime)),
            DecayModel::None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn exponential_halves_after_exactly_one_half_life(secs in 1u64..=MAX_DECAY_SPAN.as_secs(), nanos in 0u32..1_000_000_000) {
            let half_life = Duration::new(secs, nanos).min(MAX_DECAY_SPAN);
            let decay = DecaySpec::exponential(half_life).unwrap();
            let score = 1234.5678_f64;
            let after = score * decay.factor(half_life);
            prop_assert!(((after - score / 2.0) / (score / 2.0)).abs() <= 1e-12, "{after}");
            let twice = score * decay.factor(half_life * 2);
            prop_assert!(((twice - score / 4.0) / (score / 4.0)).abs() <= 1e-12, "{twice}");
        }

        #[test]
        fn factors_stay_in_unit_interval(age_secs in proptest::num::f64::ANY) {
            for decay in [DecaySpec::exponential(Duration::from_secs(60)).unwrap(), DecaySpec::linear(Duration::from_secs(60)).unwrap(), DecaySpec::NONE] {
                // NaN and negative ages count as zero, so the factor is never NaN.
                let f = decay.factor_secs(age_secs);
                prop_assert!((0.0..=1.0).contains(&f), "{decay} at {age_secs}: {f}");
            }
        }
    }

    #[test]
    #[allow(clippy::float_cmp)] // Reason: exactly zero past the lifetime is the contract.
    fn linear_falls_to_zero_at_its_lifetime() {
        let decay = DecaySpec::linear(Duration::from_secs(100)).unwrap();
        assert!((decay.factor(Duration::from_secs(25)) - 0.75).abs() < 1e-15);
        assert_eq!(decay.factor(Duration::from_secs(100)), 0.0);
        assert_eq!(decay.factor(Duration::from_secs(1000)), 0.0);
    }

    #[test]
    fn rejects_spans_out_of_range() {
        assert!(DecaySpec::exponential(Duration::ZERO).is_err());
        assert!(DecaySpec::exponential(Duration::from_millis(999)).is_err());
        assert!(DecaySpec::linear(MAX_DECAY_SPAN + Duration::from_secs(1)).is_err());
        assert!(DecaySpec::exponential(MIN_DECAY_SPAN).is_ok());
    }
}
