//! [`Entities`] and [`Relationships`]: the typed stores as views over the
//! log. Their state lives in a storage engine, so a checkpoint makes it
//! durable and returns no bytes; replay after a crash re-applies records in
//! order, which converges (last writer by sequence number wins).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tidal_storage::{EdgeOp, EntityOp, EntityStore, FlushMode, RelationshipStore};
use tidal_wal::{Record, RecordBody};

use crate::error::Result;
use crate::materializer::{Materializer, Scope};

/// What a store view's checkpoint bytes say: the store keeps an applied
/// mark. Checkpoints from before marks are empty; their stores are trusted
/// to be at the checkpoint, as they were then, until the next checkpoint
/// writes a mark.
const MARKED: &[u8] = &[1];

/// The watermark a store view starts from: its store's mark; with none,
/// record 0 (a store lost and recreated empty) — unless the checkpoint
/// predates marks (`marked` false), in which case the checkpoint's.
fn start_from(mark: Option<u64>, marked: bool) -> Option<u64> {
    match mark {
        Some(seq) => Some(seq),
        None if marked => Some(0),
        None => None,
    }
}

/// Entity writes and deletes, and entity keys, into an [`EntityStore`].
#[derive(Debug)]
pub struct Entities {
    store: Arc<EntityStore>,
    /// Whether the restored checkpoint says the store keeps a mark.
    marked: AtomicBool,
}

impl Entities {
    /// A view writing to `store` (its one writer: see `EntityStore`).
    pub fn new(store: Arc<EntityStore>) -> Self {
        Self { store, marked: AtomicBool::new(true) }
    }

    /// The store.
    pub fn store(&self) -> &Arc<EntityStore> {
        &self.store
    }
}

impl Materializer for Entities {
    fn name(&self) -> &'static str {
        "entities"
    }

    fn scope(&self) -> Scope {
        Scope::Entities
    }

    fn on_event(&self, seq: u64, record: &Record) -> Result<()> {
        match &record.body {
            RecordBody::EntityWrite { kind, id, fields } => self.store.apply_encoded(seq, *kind, *id, fields)?,
            RecordBody::EntityDelete { kind, id } => {
                self.store.apply_delete(seq, *kind, *id)?;
            }
            RecordBody::KeyName { id, name } => self.store.apply_name(seq, *id, name)?,
            _ => {}
        }
        Ok(())
    }

    fn on_batch(&self, records: &[(u64, &Record)]) -> Result<()> {
        let ops: Vec<EntityOp<'_>> = records
            .iter()
            .filter_map(|(_, r)| match &r.body {
                RecordBody::EntityWrite { kind, id, fields } => {
                    Some(EntityOp::Put { kind: *kind, id: *id, encoded: fields })
                }
                RecordBody::EntityDelete { kind, id } => Some(EntityOp::Delete { kind: *kind, id: *id }),
                RecordBody::KeyName { id, name } => Some(EntityOp::Name { id: *id, name }),
                _ => None,
            })
            .collect();
        let Some(&(last, _)) = records.last() else { return Ok(()) };
        Ok(self.store.apply_batch(last, &ops)?)
    }

    fn checkpoint(&self) -> Result<Vec<u8>> {
        self.store.engine().flush(FlushMode::Sync)?;
        Ok(MARKED.to_vec())
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        self.marked.store(bytes == MARKED, Ordering::Relaxed);
        Ok(())
    }

    fn applied(&self) -> Result<Option<u64>> {
        Ok(start_from(self.store.applied()?, self.marked.load(Ordering::Relaxed)))
    }

    fn mark_applied(&self, seq: u64) -> Result<()> {
        // An idle checkpoint writes nothing (no durable commit, no stamps).
        if self.store.applied()? == Some(seq) {
            return Ok(());
        }
        Ok(self.store.mark_applied(seq)?)
    }
}

/// Edge writes and deletes into a [`RelationshipStore`].
pub struct Relationships {
    store: Arc<RelationshipStore>,
    engine: Arc<dyn tidal_storage::StorageEngine>,
    /// Whether the restored checkpoint says the store keeps a mark.
    marked: AtomicBool,
}

impl std::fmt::Debug for Relationships {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relationships").finish_non_exhaustive()
    }
}

impl Relationships {
    /// A view writing to `store`, whose engine is `engine` (its one writer).
    pub fn new(store: Arc<RelationshipStore>, engine: Arc<dyn tidal_storage::StorageEngine>) -> Self {
        Self { store, engine, marked: AtomicBool::new(true) }
    }

    /// The store.
    pub fn store(&self) -> &Arc<RelationshipStore> {
        &self.store
    }
}

impl Materializer for Relationships {
    fn name(&self) -> &'static str {
        "relationships"
    }

    fn scope(&self) -> Scope {
        Scope::Relationships
    }

    fn on_event(&self, seq: u64, record: &Record) -> Result<()> {
        match &record.body {
            RecordBody::EdgeWrite { edge, from, to, weight, timestamp } => {
                self.store.apply_add(seq, *edge, *from, *to, *weight, *timestamp)?;
            }
            RecordBody::EdgeDelete { edge, from, to, .. } => {
                self.store.apply_remove(seq, *edge, *from, *to)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn on_batch(&self, records: &[(u64, &Record)]) -> Result<()> {
        let ops: Vec<EdgeOp> = records
            .iter()
            .filter_map(|(_, r)| match r.body {
                RecordBody::EdgeWrite { edge, from, to, weight, timestamp } => {
                    Some(EdgeOp::Add { edge, from, to, weight, timestamp })
                }
                RecordBody::EdgeDelete { edge, from, to, .. } => Some(EdgeOp::Remove { edge, from, to }),
                _ => None,
            })
            .collect();
        let Some(&(last, _)) = records.last() else { return Ok(()) };
        Ok(self.store.apply_batch(last, &ops)?)
    }

    fn checkpoint(&self) -> Result<Vec<u8>> {
        self.engine.flush(FlushMode::Sync)?;
        Ok(MARKED.to_vec())
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        self.marked.store(bytes == MARKED, Ordering::Relaxed);
        Ok(())
    }

    fn applied(&self) -> Result<Option<u64>> {
        Ok(start_from(self.store.applied()?, self.marked.load(Ordering::Relaxed)))
    }

    fn mark_applied(&self, seq: u64) -> Result<()> {
        // An idle checkpoint writes nothing (no durable commit, no stamps).
        if self.store.applied()? == Some(seq) {
            return Ok(());
        }
        Ok(self.store.mark_applied(seq)?)
    }
}
