//! Audits: the live signal views and user-state bitmaps compared with ones
//! rebuilt from scratch out of the event archive and the log after it —
//! what `tidal check` runs to show every view still equals the log — and
//! the entity and relationship stores compared with the log's last write
//! of each entity and edge.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tidal_schema::{EdgeTypeId, EntityId, EntityKind, Fields, Measure, Schema, Timestamp, UserState};
use tidal_signals::SignalLedger;
use tidal_storage::{EntityStore, RelationshipStore, decode_fields};
use tidal_wal::{RecordBody, Wal};

use crate::archive::EventArchive;
use crate::columns::ItemColumns;
use crate::error::Result;
use crate::rebuild::rebuild_signal_views;
use crate::user_state::{ALL_STATES, UserStates};

/// How many differences an audit describes in words; it counts them all.
const EXAMPLES: usize = 20;

/// What [`audit_signal_views`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewAudit {
    /// Signal events replayed into the rebuild.
    pub events: u64,
    /// (signal, entity) pairs compared.
    pub pairs: usize,
    /// Users whose bitmaps were compared.
    pub users: usize,
    /// Differences found.
    pub mismatches: u64,
    /// The first few differences, in words.
    pub examples: Vec<String>,
}

/// What [`audit_stores`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreAudit {
    /// Log records read (every one checksum-verified and decoded).
    pub records: u64,
    /// Entities whose stored version was compared with the log's last.
    pub entities: u64,
    /// Edges compared likewise.
    pub edges: u64,
    /// Entity keys the log names, compared with the store's.
    pub keys: u64,
    /// Items whose in-memory columns were compared with their stored
    /// fields (see [`audit_columns`]).
    pub columns: u64,
    /// Differences found.
    pub mismatches: u64,
    /// The first few differences, in words.
    pub examples: Vec<String>,
}

impl StoreAudit {
    fn mismatch(&mut self, what: impl FnOnce() -> String) {
        note(&mut self.mismatches, &mut self.examples, what);
    }
}

/// Counts a difference, describing it while fewer than [`EXAMPLES`] are.
fn note(count: &mut u64, examples: &mut Vec<String>, what: impl FnOnce() -> String) {
    *count += 1;
    if examples.len() < EXAMPLES {
        examples.push(what());
    }
}

/// Reads every record the log holds (verifying each batch's checksum and
/// decoding each record) and compares the entity and relationship stores
/// with the last write the log holds for each entity and edge: the stores
/// must hold that version, or nothing after a delete. Entities and edges
/// last written before the log's first record are not covered (the log
/// below the last checkpoint is truncated). A logged write is compared as
/// `schema` reads it: fields a later schema removed are not expected (see
/// [`drop_removed_fields`](crate::drop_removed_fields)). Run it on a
/// quiescent database.
///
/// # Errors
/// A damaged log, or store failures.
pub fn audit_stores(
    schema: &Schema,
    wal: &Wal,
    entities: &EntityStore,
    edges: &RelationshipStore,
) -> Result<StoreAudit> {
    let mut audit = StoreAudit::default();
    let mut last_entity: HashMap<(EntityKind, EntityId), Option<Vec<u8>>> = HashMap::new();
    let mut last_edge: HashMap<(EdgeTypeId, EntityId, EntityId), Option<f64>> = HashMap::new();
    let mut names: HashMap<EntityId, String> = HashMap::new();
    for item in wal.replay_from(wal.first_seq())? {
        let (_, record) = item?;
        audit.records += 1;
        match record.body {
            RecordBody::EntityWrite { kind, id, fields } => {
                last_entity.insert((kind, id), Some(fields));
            }
            RecordBody::EntityDelete { kind, id } => {
                last_entity.insert((kind, id), None);
            }
            RecordBody::EdgeWrite { edge, from, to, weight, .. } => {
                last_edge.insert((edge, from, to), Some(weight));
            }
            RecordBody::EdgeDelete { edge, from, to, .. } => {
                last_edge.insert((edge, from, to), None);
            }
            RecordBody::KeyName { id, name } => {
                names.insert(id, name);
            }
            RecordBody::Signal(_) | RecordBody::SchemaChange { .. } => {}
        }
    }
    for (id, name) in names {
        audit.keys += 1;
        let got = entities.name_of(id)?;
        if got.as_deref() != Some(name.as_str()) {
            audit.mismatch(|| format!("entity key of id {}: the store holds {got:?}, the log {name:?}", id.0));
        }
    }
    for ((kind, id), bytes) in last_entity {
        audit.entities += 1;
        let mut want = bytes.map(|b| decode_fields(&b, &id.0.to_be_bytes())).transpose()?;
        if let Some(fields) = &mut want {
            fields.retain(|name, _| schema.field(kind, name).is_some());
        }
        let got = entities.get(kind, id)?;
        if got != want {
            audit.mismatch(|| format!("{kind:?} {}: the store holds {got:?}, the log's last write {want:?}", id.0));
        }
    }
    for ((edge, from, to), weight) in last_edge {
        audit.edges += 1;
        let got = edges.get(edge, from, to)?.map(|e| e.weight);
        if got != weight {
            audit.mismatch(|| {
                format!("edge {} → {} of type {}: the store says {got:?}, the log {weight:?}", from.0, to.0, edge.0)
            });
        }
    }
    Ok(audit)
}

impl ViewAudit {
    pub(crate) fn mismatch(&mut self, what: impl FnOnce() -> String) {
        note(&mut self.mismatches, &mut self.examples, what);
    }
}

/// Whether two readings of one measure agree: exactly for counts, to a
/// relative 1e-9 for float sums accumulated in another order.
fn agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Compares every measure of every (signal, entity) pair of `ledger`, and
/// every bitmap of `users`, at `now`, with a ledger and bitmaps rebuilt
/// from `archive` and `wal`. Run it on a quiescent database: writes applied
/// while it runs show up as differences.
///
/// A ledger pruned under a memory limit has dropped expired pairs the
/// rebuild still has; their differences are real and reported.
///
/// # Errors
/// The archive or log cannot be read (a truncated log without an archive
/// to cover it), or holds a signal the schema does not define.
pub fn audit_signal_views(
    schema: &Arc<Schema>,
    archive: &EventArchive,
    wal: &Wal,
    ledger: &SignalLedger,
    users: &UserStates,
    now: Timestamp,
) -> Result<ViewAudit> {
    let fresh = rebuild_signal_views(schema, archive, wal, true, true)?;
    // Both were asked for, so both are there.
    let rebuilt = fresh.ledger.unwrap_or_else(|| SignalLedger::new(schema));
    let rebuilt_users = fresh.user_state.unwrap_or_else(|| UserStates::new(Arc::clone(schema)));
    let mut audit = ViewAudit { events: fresh.events, ..ViewAudit::default() };
    let pairs: HashSet<_> = ledger.pairs().into_iter().chain(rebuilt.pairs()).collect();
    audit.pairs = pairs.len();
    for (signal, entity) in pairs {
        let Some(def) = schema.signal_by_id(signal) else { continue };
        let mut measures = vec![Measure::Decayed, Measure::AllTime];
        for &w in def.windows.iter().filter(|w| !w.is_all_time()) {
            measures.extend([Measure::Count(w), Measure::Sum(w)]);
            if def.velocity {
                measures.extend([Measure::Velocity(w), Measure::Acceleration(w)]);
            }
        }
        for m in measures {
            let live = ledger.read(signal, entity, m, now).map_err(|e| e.to_string());
            let fresh = rebuilt.read(signal, entity, m, now).map_err(|e| e.to_string());
            let same = match (&live, &fresh) {
                (Ok(a), Ok(b)) => agree(*a, *b),
                (a, b) => a == b,
            };
            if !same {
                audit.mismatch(|| {
                    format!("{} of entity {}: {m} is {live:?}, the rebuild says {fresh:?}", def.name, entity.0)
                });
            }
        }
    }
    let everyone: HashSet<_> = users.users().into_iter().chain(rebuilt_users.users()).collect();
    audit.users = everyone.len();
    for user in everyone {
        for state in ALL_STATES {
            let (live, fresh) = (users.bitmap(user, state), rebuilt_users.bitmap(user, state));
            if live != fresh {
                audit.mismatch(|| describe_bitmaps(user.0, state, live.len(), fresh.len()));
            }
        }
    }
    Ok(audit)
}

fn describe_bitmaps(user: u64, state: UserState, live: u64, fresh: u64) -> String {
    format!("user {user}: the {state:?} set holds {live} items, the rebuild's {fresh}")
}

/// Compares the items' in-memory columns with the entity store: every
/// stored item is held with exactly its stored ranking-relevant fields, and
/// no other item is held. Adds to `audit`.
///
/// # Errors
/// The store failed to read.
pub fn audit_columns(columns: &ItemColumns, entities: &EntityStore, audit: &mut StoreAudit) -> Result<()> {
    let read = columns.read();
    let mut stored = 0usize;
    for row in entities.scan(EntityKind::Item)? {
        let (id, fields) = row?;
        stored += 1;
        audit.columns += 1;
        let want: Fields = fields.into_iter().filter(|(n, _)| read.holds(n)).collect();
        let names: Vec<&str> = want.keys().map(String::as_str).collect();
        match read.fields(id, &names) {
            Some(got) if got == want => {}
            got => audit.mismatch(|| format!("item {}: the in-memory columns hold {got:?}, the store {want:?}", id.0)),
        }
    }
    drop(read);
    if columns.len() != stored {
        audit.mismatch(|| format!("the in-memory columns hold {} items, the store {stored}", columns.len()));
    }
    Ok(())
}
