//! Cohorts: [`CohortDef`] dimensions over user attributes and behavioural
//! [`SegmentDef`]s over signals.

use serde::{Deserialize, Serialize};

use crate::window::Window;

/// An item-side condition of a segment: the item's `field` holds `value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemFilter {
    /// An item keyword or tags field.
    pub field: String,
    /// The value it must hold.
    pub value: String,
}

/// A behavioural segment: users with at least `min_count` events of `signal`
/// in `window`, optionally only on items matching `item`.
///
/// ```
/// use tidal_schema::{ItemFilter, SegmentDef, Window};
///
/// let jazz_fans = SegmentDef {
///     name: "jazz_fans".into(),
///     signal: "like".into(),
///     window: Window::MONTH,
///     min_count: 5,
///     item: Some(ItemFilter { field: "tags".into(), value: "jazz".into() }),
/// };
/// # let _ = jazz_fans;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    /// The segment's name, an identifier.
    pub name: String,
    /// An item signal that keeps `window`.
    pub signal: String,
    /// The window events are counted in.
    pub window: Window,
    /// Minimum number of events, at least 1.
    pub min_count: u64,
    /// Only events on items matching this count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<ItemFilter>,
}

/// A cohort definition: which user attributes (dimensions) and behavioural
/// segments scope trending counters, and which signals are counted.
///
/// Each event increments the counter of every dimension value and segment of
/// its user. A composite cohort (say `region:US ∧ age_group:18-24`) is
/// estimated from its dimensions by independence, unless the pair is listed
/// in `composites`, which materializes its counters exactly.
///
/// ```
/// use tidal_schema::CohortDef;
///
/// let audience = CohortDef::new("audience")
///     .dimensions(["region", "age_group"])
///     .composite("region", "age_group")
///     .signals(["view", "like"]);
/// assert_eq!(audience.composites.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortDef {
    /// The cohort's name, an identifier.
    pub name: String,
    /// User keyword fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<String>,
    /// Pairs of dimensions whose intersection is counted exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub composites: Vec<[String; 2]>,
    /// Behavioural segments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentDef>,
    /// Item signals counted per cohort; empty means every item signal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<String>,
}

impl CohortDef {
    /// An empty cohort; add at least one dimension or segment.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            dimensions: Vec::new(),
            composites: Vec::new(),
            segments: Vec::new(),
            signals: Vec::new(),
        }
    }

    /// Sets the dimensions.
    #[must_use]
    pub fn dimensions<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.dimensions = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a materialized composite pair.
    #[must_use]
    pub fn composite(mut self, a: impl Into<String>, b: impl Into<String>) -> Self {
        self.composites.push([a.into(), b.into()]);
        self
    }

    /// Adds a segment.
    #[must_use]
    pub fn segment(mut self, segment: SegmentDef) -> Self {
        self.segments.push(segment);
        self
    }

    /// Sets the counted signals.
    #[must_use]
    pub fn signals<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.signals = names.into_iter().map(Into::into).collect();
        self
    }
}
