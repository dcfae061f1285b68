//! Rebuilding derived views after a schema change: which views a change
//! invalidates ([`RebuildPlan`]), the signal ledger and user-state bitmaps
//! rebuilt from the event archive and the log ([`rebuild_signal_views`]),
//! stored entities rewritten without removed fields, and the
//! [`SchemaInForce`] view that records, in every checkpoint, the schema the
//! checkpointed views were derived under.

use std::sync::Arc;

use tidal_schema::{EntityKind, Rebuild, Schema};
use tidal_signals::{SignalLedger, fingerprint};
use tidal_storage::EntityStore;
use tidal_wal::{Record, Wal};

use crate::archive::EventArchive;
use crate::error::{MaterializeError, Result};
use crate::materializer::{Materializer, Scope};
use crate::user_state::UserStates;

/// The views a schema change invalidates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
// Reason: one independent yes/no per view, read by name.
#[allow(clippy::struct_excessive_bools)]
pub struct RebuildPlan {
    /// The signal ledger: a signal's decay, windows or velocity changed (its
    /// checkpoint no longer fits).
    pub ledger: bool,
    /// The user-state bitmaps: which signal sets which state changed.
    pub user_state: bool,
    /// Entity kinds whose stored records carry removed fields.
    pub entities: Vec<EntityKind>,
    /// The cold tier's rollups: a signal's decay changed (their decayed sums
    /// were anchored under the old one), or they are of an older format.
    pub rollups: bool,
    /// The items' in-memory columns: no checkpoint, or one holding other
    /// columns than the schema's ranking-relevant item fields. Rebuilt
    /// from the entity store, which needs no events.
    pub columns: bool,
}

impl RebuildPlan {
    /// What must be rebuilt for views derived under `old` to be as if
    /// derived under `new`. Rebuilds of views this version does not keep
    /// (cohorts, preferences, text and vector indexes) are nothing to do.
    pub fn between(old: &Schema, new: &Schema) -> Self {
        let ledger = old.signals().iter().any(|o| new.signal(&o.name).is_none_or(|n| fingerprint(o) != fingerprint(n)));
        // Rollups keep decayed sums anchored under each signal's decay.
        let rollups = old.signals().iter().any(|o| new.signal(&o.name).is_some_and(|n| n.decay != o.decay));
        let mut plan = Self { ledger, rollups, ..Self::default() };
        for r in Schema::diff(old, new).rebuilds() {
            match r {
                Rebuild::Signal(_) => plan.ledger = true,
                Rebuild::UserState => plan.user_state = true,
                Rebuild::Entities(kind) if !plan.entities.contains(&kind) => plan.entities.push(kind),
                _ => {}
            }
        }
        plan
    }

    /// Whether nothing needs rebuilding.
    pub fn is_empty(&self) -> bool {
        !self.ledger && !self.user_state && !self.rollups && !self.columns && self.entities.is_empty()
    }
}

/// A signal ledger and user-state bitmaps rebuilt from events.
#[derive(Debug)]
pub struct RebuiltViews {
    /// The ledger, if asked for.
    pub ledger: Option<SignalLedger>,
    /// The bitmaps, if asked for.
    pub user_state: Option<UserStates>,
    /// Signal events replayed.
    pub events: u64,
}

/// Rebuilds the signal ledger and/or the user-state bitmaps for `schema`
/// from every signal event `archive` and the log after it hold.
///
/// # Errors
/// The log no longer holds the records after the archive's last; a signal
/// the schema does not define; store or log failures.
pub fn rebuild_signal_views(
    schema: &Arc<Schema>,
    archive: &EventArchive,
    wal: &Wal,
    ledger: bool,
    user_state: bool,
) -> Result<RebuiltViews> {
    let fresh = ledger.then(|| SignalLedger::new(schema));
    let users = user_state.then(|| UserStates::new(Arc::clone(schema)));
    let mut events = 0u64;
    archive.replay_signals(wal, &mut |seq, e| {
        let def = schema.signal_by_id(e.signal).ok_or(MaterializeError::UnknownInSchema {
            seq,
            what: "signal",
            id: e.signal.to_string(),
        })?;
        if let Some(l) = &fresh {
            l.apply(e.signal, def.target, e.item, e.timestamp, e.weight)?;
        }
        if let Some(u) = &users {
            u.on_event(seq, &Record::signal(*e))?;
        }
        events += 1;
        Ok(())
    })?;
    Ok(RebuiltViews { ledger: fresh, user_state: users, events })
}

/// Rewrites every stored entity of `kind` without the fields `schema` no
/// longer declares; returns how many were rewritten.
///
/// # Errors
/// Store failures.
pub fn drop_removed_fields(store: &EntityStore, schema: &Schema, kind: EntityKind) -> Result<u64> {
    let mut stale = Vec::new();
    for row in store.scan(kind)? {
        let (id, mut fields) = row?;
        let before = fields.len();
        fields.retain(|name, _| schema.field(kind, name).is_some());
        if fields.len() != before {
            stale.push((id, fields));
        }
    }
    for (id, fields) in &stale {
        store.put(kind, *id, fields)?;
    }
    Ok(stale.len() as u64)
}

/// A view holding no state of its own: its checkpoint is the schema in
/// force, saved atomically with every other view's, so the next open knows
/// which schema the checkpointed views were derived under — even if a crash
/// fell between a schema change and its rebuild.
pub struct SchemaInForce {
    json: Vec<u8>,
}

impl std::fmt::Debug for SchemaInForce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaInForce").finish_non_exhaustive()
    }
}

impl SchemaInForce {
    /// The name its checkpoint is saved under.
    pub const NAME: &'static str = "schema";

    /// Records `schema` in every checkpoint.
    ///
    /// # Errors
    /// The schema does not serialize.
    pub fn new(schema: &Schema) -> Result<Self> {
        let json = schema.to_json()?;
        Ok(Self { json: json.into_bytes() })
    }

    /// The schema a checkpoint's views were derived under, from its bytes.
    ///
    /// # Errors
    /// The bytes are not a schema.
    pub fn decode(bytes: &[u8]) -> Result<Schema> {
        let text = std::str::from_utf8(bytes).map_err(|e| corrupt(&e.to_string()))?;
        Schema::from_json(text).map_err(|e| corrupt(&e.to_string()))
    }
}

fn corrupt(reason: &str) -> MaterializeError {
    MaterializeError::CorruptCheckpoint { view: SchemaInForce::NAME.into(), offset: 0, reason: reason.to_owned() }
}

impl Materializer for SchemaInForce {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn scope(&self) -> Scope {
        Scope::Nothing
    }

    fn on_event(&self, _seq: u64, _record: &Record) -> Result<()> {
        Ok(())
    }

    fn checkpoint(&self) -> Result<Vec<u8>> {
        Ok(self.json.clone())
    }

    /// Nothing to restore: the opener reads the checkpointed schema with
    /// [`decode`](Self::decode) before recovery, to plan rebuilds.
    fn restore(&self, _bytes: &[u8]) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Reason: test code fails loudly.
mod tests {
    use tidal_schema::{FieldDef, presets};

    use super::*;

    #[test]
    fn plans_follow_what_each_view_is_derived_from() {
        let old = presets::content_feed();
        assert!(RebuildPlan::between(&old, &old).is_empty());
        // Turning velocity off is compatible for the schema, but the
        // ledger's checkpoint layout changes: rebuild the ledger only.
        let mut like = old.signal("like").cloned().unwrap();
        like.velocity = false;
        let new = old.to_builder().version(2).without_signal("like").signal(like).build().unwrap();
        let plan = RebuildPlan::between(&old, &new);
        assert_eq!(
            plan,
            RebuildPlan { ledger: true, user_state: false, entities: vec![], rollups: false, columns: false }
        );
        // A new half-life also re-anchors the rollups' decayed sums.
        let mut view = old.signal("view").cloned().unwrap();
        view.decay = tidal_schema::DecaySpec::exponential(std::time::Duration::from_secs(600)).unwrap();
        let new = old.to_builder().version(2).without_signal("view").signal(view).build().unwrap();
        let plan = RebuildPlan::between(&old, &new);
        assert_eq!(
            plan,
            RebuildPlan { ledger: true, user_state: false, entities: vec![], rollups: true, columns: false }
        );
        // A new field changes nothing derived; removing it rewrites entities.
        let wider = old.to_builder().version(2).field(EntityKind::User, FieldDef::keyword("plan")).build().unwrap();
        assert!(RebuildPlan::between(&old, &wider).is_empty());
        let plan = RebuildPlan::between(&wider, &old);
        assert_eq!(
            plan,
            RebuildPlan {
                ledger: false,
                user_state: false,
                entities: vec![EntityKind::User],
                rollups: false,
                columns: false
            }
        );
    }
}
