//! What the executor reads: [`Views`], the typed handles of the database's
//! views; [`Source`], signal views from the ledger falling back to the cold
//! tier (rollups) for windows the ledger does not keep; and
//! [`UserSnapshot`], the requesting user's state bitmaps and relationships.

use std::collections::{HashMap, HashSet};

use roaring::RoaringTreemap;
use tidal_materialize::{Rollups, UserStates};
use tidal_ranking::{Profile, RankError, Roles, SignalSource, UserView};
use tidal_schema::{EntityId, Measure, Schema, SignalId, Timestamp, UserState};
use tidal_signals::{SignalError, SignalLedger};
use tidal_storage::{EntityStore, RelationshipStore};

/// The views a query reads, borrowed from the database for one call.
#[derive(Clone, Copy)]
pub struct Views<'a> {
    /// The schema in force.
    pub schema: &'a Schema,
    /// Entities and their fields.
    pub entities: &'a EntityStore,
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
}

impl std::fmt::Debug for Views<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views").field("schema_version", &self.schema.version()).finish_non_exhaustive()
    }
}

/// The ledger, with the rollups behind it: a [`SignalSource`] for ranking.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// The ledger.
    pub ledger: &'a SignalLedger,
    /// The cold tier, for windows the ledger does not keep.
    pub rollups: Option<&'a Rollups>,
}

impl std::fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("pairs", &self.ledger.len()).finish_non_exhaustive()
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
        match self.ledger.read_bulk(signal, items, measure, now) {
            Ok(v) => Ok(v),
            Err(SignalError::WindowNotKept { .. })
                if self.rollups.is_some() && matches!(measure, Measure::Count(_) | Measure::Sum(_)) =>
            {
                let rollups = self.rollups.unwrap_or_else(|| unreachable!("checked above"));
                let span = measure.window().and_then(tidal_schema::Window::duration).unwrap_or_default();
                items
                    .iter()
                    .map(|&item| {
                        let tally = rollups
                            .window(item, signal, span, now)
                            .map_err(|e| RankError::InvalidArgument(e.to_string()))?;
                        // Reason: counts below 2^53.
                        #[allow(clippy::cast_precision_loss)]
                        let count = tally.count as f64;
                        Ok(if matches!(measure, Measure::Count(_)) { count } else { tally.sum })
                    })
                    .collect()
            }
            Err(source) => Err(RankError::Read { signal, measure, source }),
        }
    }
}

/// A snapshot of one user for ranking.
#[derive(Debug, Default)]
pub(crate) struct UserSnapshot {
    pub(crate) id: Option<EntityId>,
    pub(crate) states: HashMap<UserState, RoaringTreemap>,
    /// Weights of the user's edges of the affinity relationship, by target.
    pub(crate) affinities: HashMap<EntityId, f64>,
    /// Targets of the user's `follows`-like edges (for `FILTER following`).
    pub(crate) following: HashSet<EntityId>,
    /// Targets of the user's `blocks`-like edges (for `FILTER unblocked`).
    pub(crate) blocked: HashSet<EntityId>,
}

impl UserView for UserSnapshot {
    fn contains(&self, state: UserState, item: EntityId) -> bool {
        self.states.get(&state).is_some_and(|b| b.contains(item.0))
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
