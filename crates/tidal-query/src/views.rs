//! What the executor reads: [`Views`], the typed handles of the database's
//! views; [`Source`], signal views from the ledger falling back to the cold
//! tier (rollups) for windows the ledger does not keep; and
//! [`UserSnapshot`], the requesting user's state bitmaps and relationships.

use std::collections::{HashMap, HashSet};

use parking_lot::Mutex;
use tidal_materialize::{ItemColumns, ItemSet, MaterializeError, Rollups, SignalReader, TierUse, UserStates};
use tidal_ranking::{Profile, RankError, Roles, SignalSource, UserView};
use tidal_schema::{EntityId, Measure, Schema, SignalId, Timestamp, UserState};
use tidal_signals::{SignalError, SignalLedger};
use tidal_storage::{EntityStore, RelationshipStore};

use crate::cursor::CursorKey;

/// The views a query reads, borrowed from the database for one call.
#[derive(Clone, Copy)]
pub struct Views<'a> {
    /// The schema in force.
    pub schema: &'a Schema,
    /// Entities and their fields.
    pub entities: &'a EntityStore,
    /// The items' ranking-relevant fields in memory: what filters and
    /// ranking read, so the store is read only for a page's fields.
    pub columns: &'a ItemColumns,
    /// Explicit relationships (follows, blocks).
    pub edges: &'a RelationshipStore,
    /// Per-user state bitmaps.
    pub users: &'a UserStates,
    /// The signal ledger.
    pub ledger: &'a SignalLedger,
    /// The cold tier, if kept.
    pub rollups: Option<&'a Rollups>,
    /// Which signals and fields the sort modes read.
    pub roles: &'a Roles,
    /// The schema's compiled profiles, by name.
    pub profiles: &'a HashMap<String, Profile>,
    /// The database's secret that signs its cursors and checks them.
    pub cursor_key: &'a CursorKey,
}

impl std::fmt::Debug for Views<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views").field("schema_version", &self.schema.version()).finish_non_exhaustive()
    }
}

/// The ledger, with the rollups behind it: a [`SignalSource`] for ranking
/// that reads every view exactly as of the ranking's time, from the tier
/// that can ([`SignalReader`]), counting the reads each tier served.
pub struct Source<'a> {
    reader: SignalReader<'a>,
    used: Mutex<Vec<(SignalId, Measure, TierUse)>>,
}

impl<'a> Source<'a> {
    /// A source over `views`' ledger and rollups; `present` for a ranking
    /// at the database's present (see [`SignalReader::present_if`]).
    pub fn new(views: &Views<'a>, present: bool) -> Self {
        Self {
            reader: SignalReader::new(views.schema, views.ledger, views.rollups).present_if(present),
            used: Mutex::new(Vec::new()),
        }
    }

    /// The reads each tier served so far, per signal and measure.
    pub fn used(&self) -> Vec<(SignalId, Measure, TierUse)> {
        self.used.lock().clone()
    }
}

impl std::fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("used", &self.used()).finish_non_exhaustive()
    }
}

impl SignalSource for Source<'_> {
    fn read_bulk(
        &self,
        signal: SignalId,
        items: &[EntityId],
        measure: Measure,
        now: Timestamp,
    ) -> tidal_ranking::Result<Vec<f64>> {
        let (values, used) =
            self.reader.read_bulk(signal, items, measure, now).map_err(|e| rank_error(signal, measure, e))?;
        let mut all = self.used.lock();
        match all.iter_mut().find(|(s, m, _)| *s == signal && *m == measure) {
            Some((_, _, total)) => total.add(used),
            None => all.push((signal, measure, used)),
        }
        Ok(values)
    }
}

/// A tier read error as ranking reports it (ranking names the signal).
pub(crate) fn rank_error(signal: SignalId, measure: Measure, e: MaterializeError) -> RankError {
    match e {
        MaterializeError::Signal(source) => RankError::read(signal, measure, source),
        other => RankError::InvalidArgument(other.to_string()),
    }
}

/// A ledger read error of the signal `name`, named for the user.
pub(crate) fn read_error(id: SignalId, name: &str, measure: Measure, source: SignalError) -> crate::QueryError {
    RankError::read(id, measure, source).named(name).into()
}

/// A snapshot of one user for ranking.
#[derive(Debug, Default)]
pub(crate) struct UserSnapshot {
    pub(crate) id: Option<EntityId>,
    pub(crate) states: HashMap<UserState, ItemSet>,
    /// Weights of the user's edges of the affinity relationship, by target.
    pub(crate) affinities: HashMap<EntityId, f64>,
    /// Targets of the user's `follows`-like edges (for `FILTER following`).
    pub(crate) following: HashSet<EntityId>,
    /// Targets of the user's `blocks`-like edges (for `FILTER unblocked`).
    pub(crate) blocked: HashSet<EntityId>,
}

impl UserView for UserSnapshot {
    fn contains(&self, state: UserState, item: EntityId) -> bool {
        self.states.get(&state).is_some_and(|b| b.contains(item))
    }
    fn preference(&self) -> Option<&[f32]> {
        None
    }
    fn affinity(&self, target: EntityId) -> f64 {
        self.affinities.get(&target).copied().unwrap_or(0.0)
    }
    fn creator_prior(&self, _creator: EntityId) -> f64 {
        0.0
    }
    fn id(&self) -> Option<EntityId> {
        self.id
    }
}
