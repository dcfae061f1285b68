//! What ranking reads: candidates with their fields, signal views through a
//! [`SignalSource`], and the requesting user through a [`UserView`].
//!
//! Ranking never touches storage or the log. The caller (the facade or the
//! query executor) hands it candidates and read views; tests hand it
//! in-memory ones.

use std::collections::HashMap;

use tidal_schema::{DiversityRule, EntityId, FieldValue, Fields, Measure, SignalId, Timestamp, UserState};
use tidal_signals::SignalLedger;

use crate::error::{RankError, Result};

/// One item to rank: its id and, when the caller has them, its fields.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// The item.
    pub id: EntityId,
    /// Its fields; `None` ranks as if every field were missing.
    pub fields: Option<&'a Fields>,
}

impl<'a> Candidate<'a> {
    /// A candidate with fields.
    pub const fn new(id: EntityId, fields: &'a Fields) -> Self {
        Self { id, fields: Some(fields) }
    }

    /// A candidate known only by id.
    pub const fn bare(id: EntityId) -> Self {
        Self { id, fields: None }
    }

    /// One field's value.
    pub fn field(&self, name: &str) -> Option<&'a FieldValue> {
        self.fields.and_then(|f| f.get(name))
    }

    /// A numeric field as f64: integer, float, timestamp (seconds) or bool.
    pub fn number(&self, name: &str) -> Option<f64> {
        match self.field(name)? {
            // Reason: ranking compares magnitudes; 2^53-sized integers lose
            // their lowest bits, which no ordering here depends on.
            #[allow(clippy::cast_precision_loss)]
            FieldValue::Integer(i) => Some(*i as f64),
            FieldValue::Float(x) => Some(*x),
            FieldValue::Timestamp(t) => Some(secs(*t)),
            FieldValue::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    /// A vector field.
    pub fn vector(&self, name: &str) -> Option<&'a [f32]> {
        match self.field(name)? {
            FieldValue::Vector(v) => Some(v),
            _ => None,
        }
    }

    /// A reference field.
    pub fn reference(&self, name: &str) -> Option<EntityId> {
        match self.field(name)? {
            FieldValue::Reference(id) => Some(*id),
            _ => None,
        }
    }

    /// A string field (text, keyword, or the first tag).
    pub fn text(&self, name: &str) -> Option<&'a str> {
        match self.field(name)? {
            FieldValue::Text(s) | FieldValue::Keyword(s) => Some(s),
            FieldValue::Tags(t) => t.first().map(String::as_str),
            _ => None,
        }
    }
}

/// A timestamp in (fractional) seconds.
pub fn secs(t: Timestamp) -> f64 {
    // Reason: nanoseconds since 1970 fit f64's 53-bit mantissa to within
    // a microsecond, finer than any ranking formula looks.
    #[allow(clippy::cast_precision_loss)]
    let nanos = t.as_nanos() as f64;
    nanos / 1e9
}

/// Signal views for a candidate set: what [`SignalLedger`] serves, or an
/// in-memory table in tests and benchmarks.
pub trait SignalSource {
    /// `measure` of `signal` for each of `items` at `now`, in order; items
    /// without events read as zero.
    ///
    /// # Errors
    /// [`RankError::Read`] when the view is not kept (e.g. a window the
    /// signal does not declare).
    fn read_bulk(&self, signal: SignalId, items: &[EntityId], measure: Measure, now: Timestamp) -> Result<Vec<f64>>;
}

impl SignalSource for SignalLedger {
    fn read_bulk(&self, signal: SignalId, items: &[EntityId], measure: Measure, now: Timestamp) -> Result<Vec<f64>> {
        Self::read_bulk(self, signal, items, measure, now).map_err(|source| RankError::read(signal, measure, source))
    }
}

/// [`SignalSource::read_bulk`] with non-finite values (which a source
/// should never return) read as zero, so every score stays finite. A read
/// error names the signal by `name`, its schema name, when given: sources
/// know signals only by id.
pub(crate) fn read_finite(
    source: &dyn SignalSource,
    signal: SignalId,
    name: Option<&str>,
    items: &[EntityId],
    measure: Measure,
    now: Timestamp,
) -> Result<Vec<f64>> {
    let mut v = source.read_bulk(signal, items, measure, now).map_err(|e| match name {
        Some(name) => e.named(name),
        None => e,
    })?;
    for x in &mut v {
        if !x.is_finite() {
            *x = 0.0;
        }
    }
    Ok(v)
}

/// An in-memory [`SignalSource`]: fixed values per (signal, measure,
/// item), zero otherwise. For tests, benchmarks and hand-computed examples.
#[derive(Clone, Debug, Default)]
pub struct StaticSource {
    values:
        HashMap<(SignalId, Measure), HashMap<EntityId, f64, foldhash::fast::RandomState>, foldhash::fast::RandomState>,
}

impl StaticSource {
    /// An empty source: every view reads zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one value.
    pub fn set(&mut self, signal: &str, measure: Measure, item: EntityId, value: f64) -> &mut Self {
        self.values.entry((SignalId::for_name(signal), measure)).or_default().insert(item, value);
        self
    }
}

impl SignalSource for StaticSource {
    fn read_bulk(&self, signal: SignalId, items: &[EntityId], measure: Measure, _now: Timestamp) -> Result<Vec<f64>> {
        let column = self.values.get(&(signal, measure));
        Ok(items.iter().map(|id| column.and_then(|c| c.get(id)).copied().unwrap_or(0.0)).collect())
    }
}

/// The requesting user, as ranking sees them.
pub trait UserView {
    /// Whether `item` is in the user's `state` set (seen, liked, ...).
    fn contains(&self, state: UserState, item: EntityId) -> bool;
    /// The user's preference vector, if any.
    fn preference(&self) -> Option<&[f32]>;
    /// The weight of the user's relationship with `target` (for example a
    /// follow edge to a creator), zero if none.
    fn affinity(&self, target: EntityId) -> f64;
    /// A prior score for items of `creator`, used to order cold-start items
    /// (zero when unknown).
    fn creator_prior(&self, creator: EntityId) -> f64;
    /// The user id, for seeding; `None` for anonymous requests.
    fn id(&self) -> Option<EntityId>;
}

/// An anonymous user: no state, no preferences, no relationships.
#[derive(Clone, Copy, Debug, Default)]
pub struct Anonymous;

impl UserView for Anonymous {
    fn contains(&self, _: UserState, _: EntityId) -> bool {
        false
    }
    fn preference(&self) -> Option<&[f32]> {
        None
    }
    fn affinity(&self, _: EntityId) -> f64 {
        0.0
    }
    fn creator_prior(&self, _: EntityId) -> f64 {
        0.0
    }
    fn id(&self) -> Option<EntityId> {
        None
    }
}

/// A [`UserView`] held in memory: what tests build, and what the facade
/// fills from the user-state, relationship and preference views.
#[derive(Clone, Debug, Default)]
pub struct UserContext {
    /// The user.
    pub user: Option<EntityId>,
    /// Item sets by state.
    pub states: HashMap<UserState, std::collections::HashSet<EntityId>>,
    /// Preference vector.
    pub preference: Option<Vec<f32>>,
    /// Relationship weights by target.
    pub affinities: HashMap<EntityId, f64>,
    /// Creator priors.
    pub priors: HashMap<EntityId, f64>,
}

impl UserView for UserContext {
    fn contains(&self, state: UserState, item: EntityId) -> bool {
        self.states.get(&state).is_some_and(|s| s.contains(&item))
    }
    fn preference(&self) -> Option<&[f32]> {
        self.preference.as_deref()
    }
    fn affinity(&self, target: EntityId) -> f64 {
        self.affinities.get(&target).copied().unwrap_or(0.0)
    }
    fn creator_prior(&self, creator: EntityId) -> f64 {
        self.priors.get(&creator).copied().unwrap_or(0.0)
    }
    fn id(&self) -> Option<EntityId> {
        self.user
    }
}

/// One ranking request's settings.
#[derive(Clone, Debug)]
pub struct Request {
    /// The query time every view is read at.
    pub now: Timestamp,
    /// How many results to return.
    pub limit: usize,
    /// Seed for shuffle and exploration (with the user id).
    pub seed: u64,
    /// Whether to build per-result explanations.
    pub explain: bool,
    /// Items in any of these user states are left out (`FILTER unseen` →
    /// `Seen`), on top of a profile's own excludes.
    pub exclude: Vec<UserState>,
    /// Diversity rules on top of a profile's own.
    pub diversity: Vec<DiversityRule>,
}

impl Request {
    /// A request for `limit` results at `now`, seed 0, no explanations.
    pub const fn new(now: Timestamp, limit: usize) -> Self {
        Self { now, limit, seed: 0, explain: false, exclude: Vec::new(), diversity: Vec::new() }
    }

    /// With explanations.
    #[must_use]
    pub const fn explained(mut self) -> Self {
        self.explain = true;
        self
    }

    /// With a seed.
    #[must_use]
    pub const fn seeded(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Leaves out items in `state`.
    #[must_use]
    pub fn excluding(mut self, state: UserState) -> Self {
        self.exclude.push(state);
        self
    }

    /// Adds a diversity rule.
    #[must_use]
    pub fn diversify(mut self, rule: DiversityRule) -> Self {
        self.diversity.push(rule);
        self
    }
}
