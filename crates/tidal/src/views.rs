//! Read views for ranking: signal views from the ledger, falling back to the
//! cold tier (rollups) for windows the ledger does not keep, and the
//! requesting user's state, relationships and priors.

use std::collections::HashMap;

use roaring::RoaringTreemap;
use tidal_materialize::Rollups;
use tidal_ranking::{RankError, SignalSource, UserView};
use tidal_schema::{EntityId, Measure, SignalId, Timestamp, UserState};
use tidal_signals::{SignalError, SignalLedger};

/// The ledger, with the rollups behind it.
pub(crate) struct Source<'a> {
    pub(crate) ledger: &'a SignalLedger,
    pub(crate) rollups: Option<&'a Rollups>,
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
    pub(crate) affinities: HashMap<EntityId, f64>,
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
