//! Ranking profiles as data: [`ProfileDef`] and its stages.
//!
//! A profile is evaluated by `tidal-ranking`; here it is only declared and
//! checked against the rest of the schema (every signal, window, field and
//! relationship it names exists and has the right type).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::duration::serde_text;
use crate::error::SchemaError;
use crate::signal::UserState;
use crate::window::Window;

/// Where a profile's candidates come from; recorded for the query planner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "CandidateRepr")]
pub enum CandidateStrategy {
    /// Every item (filtered later).
    All,
    /// Items with the highest velocity of `signal` over `window`.
    Trending {
        /// An item signal that tracks velocity.
        signal: String,
        /// A finite window the signal keeps.
        window: Window,
    },
    /// Items with the highest acceleration of `signal` over `window`.
    Rising {
        /// An item signal that tracks velocity.
        signal: String,
        /// A finite window the signal keeps.
        window: Window,
    },
    /// The newest items by a timestamp field.
    Recent {
        /// An item timestamp field.
        field: String,
    },
    /// Items whose `via` reference points at an entity the user has a
    /// `relationship` edge to (e.g. items by creators the user follows).
    Following {
        /// A relationship type starting at users.
        relationship: String,
        /// An item reference field whose target is the relationship's target.
        via: String,
    },
    /// Items matching a text query (BM25).
    TextSearch,
    /// Items near a given item or vector in an embedding field.
    Similar {
        /// An item vector field.
        embedding: String,
    },
}

/// [`CandidateStrategy`] as read from files. Serde ignores unknown keys next
/// to the tag of a unit variant, so the field-less variants are empty
/// structs here, where `deny_unknown_fields` does apply.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum CandidateRepr {
    All {},
    Trending { signal: String, window: Window },
    Rising { signal: String, window: Window },
    Recent { field: String },
    Following { relationship: String, via: String },
    TextSearch {},
    Similar { embedding: String },
}

impl From<CandidateRepr> for CandidateStrategy {
    fn from(r: CandidateRepr) -> Self {
        match r {
            CandidateRepr::All {} => Self::All,
            CandidateRepr::Trending { signal, window } => Self::Trending { signal, window },
            CandidateRepr::Rising { signal, window } => Self::Rising { signal, window },
            CandidateRepr::Recent { field } => Self::Recent { field },
            CandidateRepr::Following { relationship, via } => Self::Following { relationship, via },
            CandidateRepr::TextSearch {} => Self::TextSearch,
            CandidateRepr::Similar { embedding } => Self::Similar { embedding },
        }
    }
}

/// A number read from a signal's state for one item.
///
/// Written in schemas as `decayed`, `all_time`, `count:24h`, `sum:7d`,
/// `velocity:1h` or `acceleration:1h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Measure {
    /// The decayed score now.
    Decayed,
    /// The all-time event count.
    AllTime,
    /// The event count in a window.
    Count(Window),
    /// The weight sum in a window.
    Sum(Window),
    /// Count per second over a finite window (needs velocity).
    Velocity(Window),
    /// Velocity of the current window minus the previous one (needs velocity).
    Acceleration(Window),
}

impl Measure {
    /// The window the measure reads, if it reads one.
    pub const fn window(self) -> Option<Window> {
        match self {
            Self::Decayed | Self::AllTime => None,
            Self::Count(w) | Self::Sum(w) | Self::Velocity(w) | Self::Acceleration(w) => Some(w),
        }
    }

    /// The event count over `window`: [`Count`](Self::Count), or
    /// [`AllTime`](Self::AllTime) for the all-time window.
    ///
    /// ```
    /// use tidal_schema::{Measure, Window};
    /// assert_eq!(Measure::count_over(Window::DAY), Measure::Count(Window::DAY));
    /// assert_eq!(Measure::count_over(Window::ALL_TIME), Measure::AllTime);
    /// ```
    pub const fn count_over(window: Window) -> Self {
        if window.is_all_time() { Self::AllTime } else { Self::Count(window) }
    }

    /// Whether the measure needs velocity tracking.
    pub const fn needs_velocity(self) -> bool {
        matches!(self, Self::Velocity(_) | Self::Acceleration(_))
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decayed => f.write_str("decayed"),
            Self::AllTime => f.write_str("all_time"),
            Self::Count(w) => write!(f, "count:{w}"),
            Self::Sum(w) => write!(f, "sum:{w}"),
            Self::Velocity(w) => write!(f, "velocity:{w}"),
            Self::Acceleration(w) => write!(f, "acceleration:{w}"),
        }
    }
}

impl FromStr for Measure {
    type Err = SchemaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SchemaError::Parse {
            format: "measure",
            message: format!(
                "{s:?}: expected decayed, all_time, count:<window>, sum:<window>, velocity:<window> or acceleration:<window>"
            ),
        };
        let (head, window) = match s.split_once(':') {
            None => {
                return match s {
                    "decayed" => Ok(Self::Decayed),
                    "all_time" => Ok(Self::AllTime),
                    _ => Err(bad()),
                };
            }
            Some((head, window)) => (head, window.parse::<Window>()?),
        };
        match head {
            "count" => Ok(Self::Count(window)),
            "sum" => Ok(Self::Sum(window)),
            "velocity" => Ok(Self::Velocity(window)),
            "acceleration" => Ok(Self::Acceleration(window)),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Measure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Measure {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(D::Error::custom)
    }
}

/// A monotone transform applied to a measure before weighting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// The value as is.
    #[default]
    Identity,
    /// `ln(1 + max(x, 0))`: tames heavy-tailed counts.
    Log1p,
    /// `sqrt(max(x, 0))`.
    Sqrt,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // Reason: serde's `skip_serializing_if` passes a reference.
fn is_identity(t: &Transform) -> bool {
    *t == Transform::Identity
}

/// One term of a profile's score: `weight · transform(measure(signal))`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalTerm {
    /// An item signal.
    pub signal: String,
    /// What to read from it.
    pub measure: Measure,
    /// How to shape it.
    #[serde(default, skip_serializing_if = "is_identity")]
    pub transform: Transform,
    /// Its weight, finite, `|w| ≤ 1e9`.
    pub weight: f64,
}

impl SignalTerm {
    /// `weight · measure(signal)` with no transform.
    pub fn new(signal: impl Into<String>, measure: Measure, weight: f64) -> Self {
        Self { signal: signal.into(), measure, transform: Transform::Identity, weight }
    }

    /// Sets the transform.
    #[must_use]
    pub fn with_transform(mut self, transform: Transform) -> Self {
        self.transform = transform;
        self
    }
}

/// Cosine of the user's preference vector and the item's embedding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personalization {
    /// An item vector field.
    pub embedding: String,
    /// Weight of the cosine in the final score.
    pub weight: f64,
}

/// The user's affinity to the entity an item references (e.g. its creator).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationshipBoost {
    /// An item reference field.
    pub via: String,
    /// Weight of the affinity in the final score.
    pub weight: f64,
}

/// Exponential freshness: `weight · 2^(−age / half_life)` by an item timestamp.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recency {
    /// An item timestamp field.
    pub field: String,
    /// Age at which freshness counts half.
    #[serde(with = "serde_text")]
    pub half_life: Duration,
    /// Weight of freshness in the final score.
    pub weight: f64,
}

/// Something that lowers an item's score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Penalty {
    /// Subtracts `weight · transform(measure(signal))`, e.g. decayed skips.
    Signal {
        /// An item signal.
        signal: String,
        /// What to read.
        measure: Measure,
        /// How to shape it.
        #[serde(default, skip_serializing_if = "is_identity")]
        transform: Transform,
        /// Amount subtracted per unit.
        weight: f64,
    },
    /// Multiplies the score by `factor` when `count(signal) / count(per)` over
    /// `window` is below `threshold`, once `per` has at least `after` events.
    RateBelow {
        /// The numerator signal (e.g. completion).
        signal: String,
        /// The denominator signal (e.g. view).
        per: String,
        /// A window both signals keep.
        window: Window,
        /// The rate below which the penalty applies.
        threshold: f64,
        /// Score multiplier in `[0, 1)`.
        factor: f64,
        /// Minimum denominator count before the rate is trusted.
        #[serde(default)]
        after: u64,
    },
    /// As [`Penalty::RateBelow`], when the rate is above `threshold` (e.g. skips per view).
    RateAbove {
        /// The numerator signal.
        signal: String,
        /// The denominator signal.
        per: String,
        /// A window both signals keep.
        window: Window,
        /// The rate above which the penalty applies.
        threshold: f64,
        /// Score multiplier in `[0, 1)`.
        factor: f64,
        /// Minimum denominator count before the rate is trusted.
        #[serde(default)]
        after: u64,
    },
}

/// A condition an item must meet to be ranked at all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum QualityGate {
    /// At least `min` events of `signal` in `window`.
    MinCount {
        /// An item signal.
        signal: String,
        /// A window it keeps.
        window: Window,
        /// Minimum count.
        min: u64,
    },
    /// `count(signal) / count(per)` over `window` at most `max`, once `per`
    /// has at least `after` events.
    MaxRate {
        /// The numerator signal.
        signal: String,
        /// The denominator signal.
        per: String,
        /// A window both keep.
        window: Window,
        /// Maximum rate, finite and non-negative.
        max: f64,
        /// Minimum denominator count before the gate applies.
        #[serde(default)]
        after: u64,
    },
}

/// A share of result slots reserved for items with little history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exploration {
    /// Fraction of slots, in `[0, 1)`.
    pub share: f64,
    /// Items with fewer than this many signal events qualify (at least 1).
    pub max_events: u64,
}

/// A rule that spreads results out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DiversityRule {
    /// At most `max` results share a value of `field` (e.g. `max_per_creator`).
    MaxPer {
        /// An item keyword or reference field.
        field: String,
        /// At least 1.
        max: u32,
    },
    /// Interleave the values of a keyword field (e.g. `format_mix`).
    Mix {
        /// An item keyword field.
        field: String,
    },
    /// Maximal marginal relevance over an embedding: `λ·score − (1−λ)·max sim`.
    Mmr {
        /// An item vector field.
        embedding: String,
        /// In `[0, 1]`.
        lambda: f64,
    },
}

/// How stage values are put on a common scale before composition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// Raw values.
    #[default]
    None,
    /// `(x − min) / (max − min)` over the candidates.
    MinMax,
    /// `(x − mean) / stddev` over the candidates.
    ZScore,
    /// `1 − rank / n`.
    Rank,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A ranking profile: how to pick and score candidates, declared as data.
///
/// ```
/// use tidal_schema::{CandidateStrategy, Measure, ProfileDef, SignalTerm, Transform, Window};
///
/// let trending = ProfileDef::new("trending", CandidateStrategy::Trending { signal: "view".into(), window: Window::DAY })
///     .boost(SignalTerm::new("like", Measure::Count(Window::DAY), 0.5).with_transform(Transform::Log1p));
/// assert_eq!(trending.boosts.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDef {
    /// The profile's name, an identifier.
    pub name: String,
    /// Where candidates come from.
    pub candidates: CandidateStrategy,
    /// Signal terms added to the score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boosts: Vec<SignalTerm>,
    /// Preference-vector personalization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personalization: Option<Personalization>,
    /// User → referenced-entity affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<RelationshipBoost>,
    /// Freshness curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recency: Option<Recency>,
    /// Score penalties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub penalties: Vec<Penalty>,
    /// Conditions to be ranked at all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<QualityGate>,
    /// User-state sets whose items are left out (e.g. hidden).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<UserState>,
    /// Cold-start exploration budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploration: Option<Exploration>,
    /// Diversity rules, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diversity: Vec<DiversityRule>,
    /// Stage normalization.
    #[serde(default, skip_serializing_if = "is_default")]
    pub normalization: Normalization,
}

impl DiversityRule {
    /// The item field the rule reads.
    pub fn field(&self) -> &str {
        match self {
            Self::MaxPer { field, .. } | Self::Mix { field } => field,
            Self::Mmr { embedding, .. } => embedding,
        }
    }
}

impl ProfileDef {
    /// A profile with only a candidate strategy.
    pub fn new(name: impl Into<String>, candidates: CandidateStrategy) -> Self {
        Self {
            name: name.into(),
            candidates,
            boosts: Vec::new(),
            personalization: None,
            relationship: None,
            recency: None,
            penalties: Vec::new(),
            gates: Vec::new(),
            excludes: Vec::new(),
            exploration: None,
            diversity: Vec::new(),
            normalization: Normalization::None,
        }
    }

    /// Adds a signal boost.
    #[must_use]
    pub fn boost(mut self, term: SignalTerm) -> Self {
        self.boosts.push(term);
        self
    }

    /// Sets personalization.
    #[must_use]
    pub fn personalize(mut self, embedding: impl Into<String>, weight: f64) -> Self {
        self.personalization = Some(Personalization { embedding: embedding.into(), weight });
        self
    }

    /// Sets the relationship boost.
    #[must_use]
    pub fn relationship_boost(mut self, via: impl Into<String>, weight: f64) -> Self {
        self.relationship = Some(RelationshipBoost { via: via.into(), weight });
        self
    }

    /// Sets the recency curve.
    #[must_use]
    pub fn recency(mut self, field: impl Into<String>, half_life: Duration, weight: f64) -> Self {
        self.recency = Some(Recency { field: field.into(), half_life, weight });
        self
    }

    /// Adds a penalty.
    #[must_use]
    pub fn penalty(mut self, penalty: Penalty) -> Self {
        self.penalties.push(penalty);
        self
    }

    /// Adds a quality gate.
    #[must_use]
    pub fn gate(mut self, gate: QualityGate) -> Self {
        self.gates.push(gate);
        self
    }

    /// Leaves out items in the user's `state` set.
    #[must_use]
    pub fn exclude(mut self, state: UserState) -> Self {
        self.excludes.push(state);
        self
    }

    /// Sets the exploration budget.
    #[must_use]
    pub fn explore(mut self, share: f64, max_events: u64) -> Self {
        self.exploration = Some(Exploration { share, max_events });
        self
    }

    /// Adds a diversity rule.
    #[must_use]
    pub fn diversify(mut self, rule: DiversityRule) -> Self {
        self.diversity.push(rule);
        self
    }

    /// Sets the normalization.
    #[must_use]
    pub fn normalize(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_print_and_parse() {
        for m in [
            Measure::Decayed,
            Measure::AllTime,
            Measure::Count(Window::DAY),
            Measure::Sum(Window::WEEK),
            Measure::Velocity(Window::HOUR),
            Measure::Acceleration(Window::ALL_TIME),
        ] {
            assert_eq!(m.to_string().parse::<Measure>().unwrap(), m);
        }
        assert_eq!("count:24h".parse::<Measure>().unwrap(), Measure::Count(Window::DAY));
        for bad in ["", "count", "count:", "count:1x", "speed:1h", "decayed:1h"] {
            assert!(bad.parse::<Measure>().is_err(), "{bad}");
        }
    }
}
